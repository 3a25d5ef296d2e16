"""MediaPipe FaceMesh (468 3D landmarks) run offline through the LiteRT (TFLite) interpreter.

The model file ``face_landmark.tflite`` ships with talkzoo (``talkzoo/assets/facemesh``, Apache-2.0,
taken from the ``mediapipe==0.10.21`` wheel; see PROVENANCE.md there), so no download is needed.
The interpreter, ``ai-edge-litert``, is a talkzoo dependency imported only when needed.

Source: Kartynnik et al., "Real-time Facial Surface Geometry from Monocular Video on Mobile GPUs",
CVPR-W 2019 (arXiv:1907.06724), and MediaPipe's graphs ``face_landmark_cpu.pbtxt`` (input: the
region of interest resampled to 192 x 192 RGB, float range [0, 1]; outputs: 468 x (x, y, z) in
input-pixel units, and a face-presence logit passed through a sigmoid and thresholded at 0.5) and
``face_landmark_landmarks_to_roi.pbtxt`` (the next region of interest: the landmarks' bounding box,
rotated so that landmarks 33 -> 263 (the outer eye corners) are horizontal, made square on its
longer side and scaled by 1.5). The code here is our own re-implementation of that protocol.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from talkzoo.errors import ConfigError, DataError, MissingWeightsError

from ._sampling import crop_to_frame, sample_roi
from .base import check_frames
from .ibug68 import facemesh_to_ibug68

__all__ = ["FaceMeshLandmarker", "FaceMeshResult", "default_model_path", "load_litert_interpreter"]

INPUT_SIZE = 192  # model input, pixels (square)
NUM_VERTICES = 468
ROI_SCALE = 1.5  # MediaPipe: region of interest = 1.5 x the face box, square on the longer side
PRESENCE_THRESHOLD = 0.5  # MediaPipe: face_presence threshold on the sigmoid score
EYE_OUTER_RIGHT, EYE_OUTER_LEFT = 33, 263  # FaceMesh vertices that fix the ROI rotation

INSTALL_HINT = "pip install ai-edge-litert  (a talkzoo dependency: reinstalling talkzoo brings it)"


def default_model_path() -> Path:
    """Path of the bundled ``face_landmark.tflite`` (MediaPipe FaceMesh, 1.2 MB, Apache-2.0)."""
    return Path(str(resources.files("talkzoo") / "assets" / "facemesh" / "face_landmark.tflite"))


def load_litert_interpreter(model_path: str | Path, num_threads: int | None = None):
    """Load a TFLite model into ``ai_edge_litert.interpreter.Interpreter`` (imported lazily).

    Args:
        model_path: the ``.tflite`` file.
        num_threads: CPU threads of the interpreter (None: the runtime's default).

    Returns:
        An interpreter with its tensors allocated.

    Raises:
        ConfigError: ``ai-edge-litert`` is not installed (the message says how to install it).
        MissingWeightsError: ``model_path`` does not exist.
        DataError: the file is not a loadable TFLite model.
    """
    try:
        litert = importlib.import_module("ai_edge_litert.interpreter")
    except ImportError as exc:
        raise ConfigError(
            "The FaceMesh landmarker needs the LiteRT (TFLite) runtime, which is not installed: "
            f"{INSTALL_HINT}. ({exc})"
        ) from exc
    path = Path(model_path)
    if not path.is_file():
        raise MissingWeightsError(
            f"FaceMesh model not found: {path}. talkzoo ships it as talkzoo/assets/facemesh/face_landmark.tflite "
            "(from the mediapipe==0.10.21 wheel, mediapipe/modules/face_landmark/face_landmark.tflite); "
            "reinstall talkzoo or pass model_path= to that file."
        )
    try:
        interpreter = litert.Interpreter(model_path=str(path), num_threads=num_threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise DataError(f"{path}: not a loadable TFLite model ({exc})") from exc
    return interpreter


@dataclass(frozen=True)
class FaceMeshResult:
    """FaceMesh output for a batch of N frames.

    Attributes:
        mesh: ``(N, 468, 3)`` float32: x, y in frame pixels (pixel-centre convention, x right,
            y down) and z, the relative depth in the same pixel scale (MediaPipe's z: smaller is
            nearer the camera, centred near the face's mean depth). NaN where ``present`` is False.
        score: ``(N,)`` float32 face-presence probability in [0, 1] (sigmoid of the model's logit)
            of the final pass.
        present: ``(N,)`` bool, ``score >= threshold``.
        roi: ``(N, 4)`` float32 region of interest of the final pass: centre x, centre y
            (pixel-centre convention), side (pixels), rotation (radians, the angle of the crop's
            x axis in the image, y down).
    """

    mesh: np.ndarray
    score: np.ndarray
    present: np.ndarray
    roi: np.ndarray

    def ibug68(self) -> np.ndarray:
        """The 68 iBUG-300W landmarks: ``(N, 68, 2)`` float32 pixels, NaN rows where no face."""
        return facemesh_to_ibug68(self.mesh[..., :2]).astype(np.float32)


class FaceMeshLandmarker:
    """Face landmarker: MediaPipe FaceMesh on CPU through LiteRT, iBUG-68 output.

    Calling it on ``(N, H, W, 3)`` uint8 RGB frames returns ``(N, 68, 2)`` float32 iBUG-68
    landmarks in frame pixels (pixel-centre convention), NaN rows where no face was found: it
    satisfies :class:`talkzoo.landmarks.Landmarker`. :meth:`detect` gives the full 468-point mesh
    and the presence scores.

    Where the face is: either ``boxes`` (one face box per frame, e.g. from a face detector; the
    region of interest is the box's centre, ``roi_scale`` x its longer side, as MediaPipe crops
    around a detection), or, without boxes, the whole frame scaled by ``frame_margin`` about its
    centre -- meant for already face-cropped frames (the prepared layout: 256 x 256, face centred),
    or, with ``detect_faces=True``, the box of the bundled BlazeFace detector (uncropped video).
    Then up to ``refine`` times, the region of interest is recomputed from the landmarks (MediaPipe's
    tracking step: landmarks' box, rotated level with the outer eye corners, x1.5) and the model
    is run again; this makes the result nearly independent of the first crop.

    Args:
        model_path: the ``face_landmark.tflite`` file (default: the bundled asset).
        num_threads: LiteRT CPU threads (None: the runtime's default).
        threshold: face-presence probability below which a frame counts as "no face".
        frame_margin: without boxes, the first region of interest is a square of side
            ``frame_margin * max(H, W)`` centred on the frame (border pixels replicated).
        roi_scale: region of interest side / face-box longer side (MediaPipe: 1.5).
        refine: at most this many extra passes with the region of interest taken from the
            landmarks (MediaPipe's tracking step); stops early once the next region of interest
            would move by less than ``refine_tol`` x its side (and turn by less than
            ``refine_tol`` rad). From a whole 256 x 256 frame with the face at 1/3 of its width
            this takes about 3 passes to converge (checked on ``skimage.data.astronaut()``).
        refine_tol: relative change of the region of interest that counts as converged.
        rotate: whether refined regions of interest follow the in-plane head rotation.
        detect_faces: when no ``boxes`` are given, find the face with the bundled BlazeFace
            detector (:class:`talkzoo.landmarks.detector.FaceDetector`) instead of starting from
            the whole frame: for raw, uncropped video (the face may be anywhere, >= ~1/8 of the
            frame). Frames where it finds no face get NaN landmarks.
        track: treat the N frames as a video: start each frame from the previous frame's final
            region of interest (MediaPipe's video mode), falling back to the box / whole frame
            when that finds no face. Usually 1-2 model passes per frame instead of 2-4; the
            landmarks then depend on the previous frame within the ``refine_tol`` slack (on
            the astronaut test sequence: 0.2 px mean, 0.55 px max from fully converged fits).

    Raises:
        ConfigError: ``ai-edge-litert`` is not installed, or an argument is out of range.
        MissingWeightsError: the model file is missing.
    """

    #: name quoted by the landmark metrics (``LMD@facemesh68``).
    name = "facemesh68"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        num_threads: int | None = None,
        threshold: float = PRESENCE_THRESHOLD,
        frame_margin: float = 1.0,
        roi_scale: float = ROI_SCALE,
        refine: int = 3,
        refine_tol: float = 0.01,
        rotate: bool = True,
        detect_faces: bool = False,
        track: bool = True,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"FaceMeshLandmarker: threshold must lie in [0, 1], got {threshold}")
        if frame_margin <= 0 or roi_scale <= 0:
            raise ConfigError(
                f"FaceMeshLandmarker: frame_margin and roi_scale must be > 0, got {frame_margin}, {roi_scale}"
            )
        if refine < 0:
            raise ConfigError(f"FaceMeshLandmarker: refine must be >= 0, got {refine}")
        self.model_path = Path(model_path) if model_path is not None else default_model_path()
        self.threshold = float(threshold)
        self.frame_margin = float(frame_margin)
        self.roi_scale = float(roi_scale)
        self.refine = int(refine)
        self.refine_tol = float(refine_tol)
        self.rotate = bool(rotate)
        self.detect_faces = bool(detect_faces)
        self.track = bool(track)
        self._num_threads = num_threads
        self._detector = None
        self._interpreter = load_litert_interpreter(self.model_path, num_threads)
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or tuple(inputs[0]["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3) or len(outputs) != 2:
            raise DataError(
                f"{self.model_path}: expected MediaPipe face_landmark.tflite (one 1x192x192x3 input, "
                f"2 outputs), got inputs {[tuple(d['shape']) for d in inputs]}, {len(outputs)} outputs"
            )
        self._input_index = inputs[0]["index"]
        by_size = {int(np.prod(d["shape"])): d["index"] for d in outputs}
        if set(by_size) != {NUM_VERTICES * 3, 1}:
            raise DataError(f"{self.model_path}: expected outputs of 1404 and 1 values, got {sorted(by_size)}")
        self._mesh_index, self._flag_index = by_size[NUM_VERTICES * 3], by_size[1]

    def __getstate__(self) -> dict:
        """Pickle/copy without the LiteRT interpreter (rebuilt on unpickling)."""
        state = dict(self.__dict__)
        state["_interpreter"], state["_detector"] = None, None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._interpreter = load_litert_interpreter(self.model_path, self._num_threads)

    # ------------------------------------------------------------------ public API
    def __call__(self, frames: np.ndarray, boxes: np.ndarray | None = None) -> np.ndarray:
        """iBUG-68 landmarks: ``(N, 68, 2)`` float32 frame pixels, NaN rows where no face.

        Args:
            frames: ``(N, H, W, 3)`` uint8 RGB.
            boxes: optional ``(N, 4)`` face boxes ``x0, y0, x1, y1`` in pixels; rows of NaN mean
                "no face in this frame" (returned as NaN without running the model).

        Raises:
            DataError: frames or boxes of the wrong shape/dtype.
        """
        return self.detect(frames, boxes).ibug68()

    def detect(self, frames: np.ndarray, boxes: np.ndarray | None = None) -> FaceMeshResult:
        """Run FaceMesh on every frame; see :class:`FaceMeshResult` for the outputs.

        Args:
            frames: ``(N, H, W, 3)`` uint8 RGB.
            boxes: optional ``(N, 4)`` float face boxes ``x0, y0, x1, y1`` (pixels); NaN rows
                are frames without a face.

        Raises:
            DataError: frames or boxes of the wrong shape/dtype.
        """
        frames = check_frames(frames)
        n, h, w = frames.shape[:3]
        if boxes is not None:
            boxes = np.asarray(boxes, dtype=np.float64)
            if boxes.shape != (n, 4):
                raise DataError(f"boxes: expected shape ({n}, 4) (x0, y0, x1, y1 per frame), got {boxes.shape}")
        if boxes is None and self.detect_faces:
            if self._detector is None:
                from .detector import FaceDetector

                self._detector = FaceDetector(num_threads=self._num_threads)
            boxes = self._detector(frames).boxes.astype(np.float64)
        mesh = np.full((n, NUM_VERTICES, 3), np.nan, dtype=np.float32)
        score = np.zeros(n, dtype=np.float32)
        rois = np.full((n, 4), np.nan, dtype=np.float32)
        previous: tuple[float, float, float, float] | None = None  # last frame's final ROI (tracking)
        for i in range(n):
            if boxes is None:
                start = ((w - 1) / 2.0, (h - 1) / 2.0, self.frame_margin * max(h, w), 0.0)
            elif np.isnan(boxes[i]).any():
                previous = None
                continue
            else:
                x0, y0, x1, y1 = boxes[i]
                start = ((x0 + x1) / 2.0, (y0 + y1) / 2.0, self.roi_scale * max(x1 - x0, y1 - y0), 0.0)
                if not start[2] > 0:
                    raise DataError(f"boxes[{i}]: empty face box {boxes[i].tolist()}")
            fit = None
            if self.track and previous is not None:
                fit = self._fit(frames[i], previous)
                if fit[1] < self.threshold:
                    fit = None  # lost the face: start again from the box / whole frame
            if fit is None:
                fit = self._fit(frames[i], start)
            points, prob, roi = fit
            score[i] = prob
            rois[i] = roi
            if prob >= self.threshold:
                mesh[i] = points
                previous = roi
            else:
                previous = None
        return FaceMeshResult(mesh=mesh, score=score, present=score >= self.threshold, roi=rois)

    def roi_from_mesh(self, points: np.ndarray) -> tuple[float, float, float, float]:
        """MediaPipe's next region of interest from a ``(468, 2+)`` mesh in frame pixels.

        Centre: the centre of the landmarks' axis-aligned box; rotation: the angle of the vector
        from vertex 33 to vertex 263 (outer eye corners) if ``rotate``; side: ``roi_scale`` x the
        longer side of the landmarks' box measured in the rotated frame.

        Returns:
            ``(cx, cy, side, angle)``: pixels (pixel-centre convention) and radians.
        """
        xy = np.asarray(points, dtype=np.float64)[:, :2]
        angle = 0.0
        if self.rotate:
            d = xy[EYE_OUTER_LEFT] - xy[EYE_OUTER_RIGHT]
            angle = math.atan2(d[1], d[0])
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        centre = (lo + hi) / 2.0
        c, s = math.cos(angle), math.sin(angle)
        local = (xy - centre) @ np.array([[c, -s], [s, c]])  # coordinates along the rotated axes
        extent = local.max(axis=0) - local.min(axis=0)
        return float(centre[0]), float(centre[1]), float(self.roi_scale * extent.max()), angle

    # ------------------------------------------------------------------ internals
    def _fit(self, frame: np.ndarray, roi: tuple[float, float, float, float]):
        """Model pass from ``roi``, then up to ``refine`` passes from the landmarks' own ROI.

        Returns ``(points (468, 3) float32 frame pixels, presence probability, final roi)``.
        """
        points, prob = self._run(frame, roi)
        for _ in range(self.refine):
            if prob < self.threshold:
                break  # no face in this crop: its landmarks are meaningless, nothing to follow
            new = self.roi_from_mesh(points)
            settled = (
                math.hypot(new[0] - roi[0], new[1] - roi[1]) < self.refine_tol * roi[2]
                and abs(new[2] - roi[2]) < self.refine_tol * roi[2]
                and abs(new[3] - roi[3]) < self.refine_tol
            )
            if settled:
                break
            roi = new
            points, prob = self._run(frame, roi)
        return points, prob, roi

    def _run(self, frame: np.ndarray, roi: tuple[float, float, float, float]) -> tuple[np.ndarray, float]:
        """One model pass: ``(468, 3)`` float32 mesh in frame pixels and the presence probability."""
        crop = sample_roi(frame, roi, INPUT_SIZE, mode="nearest")  # MediaPipe: BORDER_REPLICATE
        crop *= 1.0 / 255.0  # model input range [0, 1]
        self._interpreter.set_tensor(self._input_index, crop[None])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._mesh_index).reshape(NUM_VERTICES, 3).astype(np.float64)
        logit = float(self._interpreter.get_tensor(self._flag_index).reshape(()))
        prob = 1.0 / (1.0 + math.exp(-max(min(logit, 60.0), -60.0)))
        # model output: x, y in crop pixels with the edge convention (0 = left edge of the crop)
        points = np.empty((NUM_VERTICES, 3), dtype=np.float32)
        points[:, :2] = crop_to_frame(raw[:, :2], roi, INPUT_SIZE)
        points[:, 2] = raw[:, 2] * (roi[2] / INPUT_SIZE)
        return points, prob
