"""MediaPipe BlazeFace (short range) face detector run offline through LiteRT.

The model file ``face_detection_short_range.tflite`` ships with talkzoo
(``talkzoo/assets/facemesh``, Apache-2.0, from the ``mediapipe==0.10.21`` wheel; see PROVENANCE.md).
It finds faces that fill roughly 1/10 to all of the frame (MediaPipe: "within 2 m of the
camera"), which covers talking-head video.

Source: Bazarevsky et al., "BlazeFace: Sub-millisecond Neural Face Detection on Mobile GPUs",
CVPR-W 2019 (arXiv:1907.05047), and MediaPipe's ``face_detection.pbtxt`` /
``face_detection_short_range.pbtxt``: the frame letterboxed (aspect kept, centred, black borders)
to 128 x 128 RGB in [-1, 1]; 896 SSD anchors (strides 8, 16, 16, 16, two anchors per layer, unit
size, centred in their cells); box = (dx, dy, w, h) / 128 about the anchor centre, 6 keypoints;
score = sigmoid of the logit clipped to +-100, kept when >= 0.5; weighted non-maximum suppression
at IoU 0.3. The code is our own re-implementation of that protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from talkzoo.errors import ConfigError, DataError

from ._sampling import crop_to_frame, sample_roi
from .base import check_frames
from .facemesh import load_litert_interpreter

__all__ = ["FaceDetection", "FaceDetector", "default_detector_path"]

INPUT_SIZE = 128
NUM_ANCHORS = 896
MIN_SCORE = 0.5  # MediaPipe's min_score_thresh
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold (weighted NMS)


def default_detector_path() -> Path:
    """Path of the bundled ``face_detection_short_range.tflite`` (BlazeFace, 230 kB, Apache-2.0)."""
    return Path(str(resources.files("talkzoo") / "assets" / "facemesh" / "face_detection_short_range.tflite"))


def _anchor_centres() -> np.ndarray:
    """``(896, 2)`` anchor centres in [0, 1] input units, in the model's output order.

    Stride 8: a 16 x 16 grid, 2 anchors per cell; strides 16, 16, 16 (one group): an 8 x 8 grid,
    2 x 3 = 6 anchors per cell. Anchors of a cell share its centre (fixed unit size).
    """
    centres = []
    for grid, per_cell in ((INPUT_SIZE // 8, 2), (INPUT_SIZE // 16, 6)):
        c = (np.arange(grid) + 0.5) / grid
        yy, xx = np.meshgrid(c, c, indexing="ij")
        cell = np.stack([xx.ravel(), yy.ravel()], axis=1)
        centres.append(np.repeat(cell, per_cell, axis=0))
    out = np.concatenate(centres)
    assert out.shape == (NUM_ANCHORS, 2)
    return out


@dataclass(frozen=True)
class FaceDetection:
    """The most confident face per frame.

    Attributes:
        boxes: ``(N, 4)`` float32 ``x0, y0, x1, y1`` frame pixels (pixel-centre convention);
            NaN rows where no face scored >= the threshold.
        scores: ``(N,)`` float32 the best face's probability (0 where none).
        keypoints: ``(N, 6, 2)`` float32 frame pixels: subject's right eye, left eye, nose tip,
            mouth centre, right ear tragion, left ear tragion (BlazeFace order); NaN where no face.
    """

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray


class FaceDetector:
    """BlazeFace short-range face detector (bundled model, LiteRT), the best face per frame.

    Args:
        model_path: the ``.tflite`` file (default: the bundled asset).
        num_threads: LiteRT CPU threads (None: the runtime's default).
        min_score: detections below this probability are dropped (MediaPipe: 0.5).

    Raises:
        ConfigError: ``ai-edge-litert`` is not installed, or ``min_score`` is outside [0, 1].
        MissingWeightsError: the model file is missing.
        DataError: the file is not BlazeFace short range (input 1x128x128x3, 896 anchors).
    """

    def __init__(self, model_path: str | Path | None = None, *, num_threads: int | None = None,
                 min_score: float = MIN_SCORE) -> None:
        if not 0.0 <= min_score <= 1.0:
            raise ConfigError(f"FaceDetector: min_score must lie in [0, 1], got {min_score}")
        self.model_path = Path(model_path) if model_path is not None else default_detector_path()
        self.min_score = float(min_score)
        self._interpreter = load_litert_interpreter(self.model_path, num_threads)
        inputs = self._interpreter.get_input_details()
        outputs = {tuple(d["shape"]): d["index"] for d in self._interpreter.get_output_details()}
        if (len(inputs) != 1 or tuple(inputs[0]["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3)
                or set(outputs) != {(1, NUM_ANCHORS, 16), (1, NUM_ANCHORS, 1)}):
            raise DataError(f"{self.model_path}: expected BlazeFace short range (1x128x128x3 input, "
                            f"896x16 and 896x1 outputs), got {[tuple(d['shape']) for d in inputs]}, {sorted(outputs)}")
        self._input_index = inputs[0]["index"]
        self._reg_index, self._cls_index = outputs[(1, NUM_ANCHORS, 16)], outputs[(1, NUM_ANCHORS, 1)]
        self._anchors = _anchor_centres()

    def __call__(self, frames: np.ndarray) -> FaceDetection:
        """Detect the most confident face in each of ``(N, H, W, 3)`` uint8 RGB frames.

        Raises:
            DataError: frames of the wrong shape or dtype.
        """
        frames = check_frames(frames)
        n, h, w = frames.shape[:3]
        boxes = np.full((n, 4), np.nan, dtype=np.float32)
        scores = np.zeros(n, dtype=np.float32)
        keypoints = np.full((n, 6, 2), np.nan, dtype=np.float32)
        roi = ((w - 1) / 2.0, (h - 1) / 2.0, float(max(h, w)), 0.0)  # letterbox: whole frame, centred
        for i in range(n):
            x = sample_roi(frames[i], roi, INPUT_SIZE, mode="constant") * (2.0 / 255.0) - 1.0
            self._interpreter.set_tensor(self._input_index, x[None].astype(np.float32))
            self._interpreter.invoke()
            reg = self._interpreter.get_tensor(self._reg_index)[0].astype(np.float64)  # (896, 16)
            logit = np.clip(self._interpreter.get_tensor(self._cls_index)[0, :, 0].astype(np.float64), -100, 100)
            prob = 1.0 / (1.0 + np.exp(-logit))
            keep = prob >= self.min_score
            if not keep.any():
                continue
            a = self._anchors[keep] * INPUT_SIZE  # anchor centres, input pixels
            r, p = reg[keep], prob[keep]
            centre = a + r[:, :2]
            half = r[:, 2:4] / 2.0
            xyxy = np.concatenate([centre - half, centre + half], axis=1)  # input pixels (edge convention)
            kps = a[:, None, :] + r[:, 4:16].reshape(-1, 6, 2)
            # weighted NMS, first cluster only: the best detection and all overlapping it by IoU > 0.3
            best = int(np.argmax(p))
            lo, hi = np.maximum(xyxy[:, :2], xyxy[best, :2]), np.minimum(xyxy[:, 2:], xyxy[best, 2:])
            inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
            area = np.prod(xyxy[:, 2:] - xyxy[:, :2], axis=1)
            iou = inter / np.maximum(area + area[best] - inter, 1e-9)
            cluster = iou > NMS_IOU
            wts = p[cluster] / p[cluster].sum()
            box = (wts[:, None] * xyxy[cluster]).sum(axis=0)
            kp = (wts[:, None, None] * kps[cluster]).sum(axis=0)
            corners = crop_to_frame(box.reshape(2, 2), roi, INPUT_SIZE)
            boxes[i] = corners.ravel()
            keypoints[i] = crop_to_frame(kp, roi, INPUT_SIZE)
            scores[i] = p[best]
        return FaceDetection(boxes=boxes, scores=scores, keypoints=keypoints)
