"""Face preprocessing: raw talking-head videos -> talkzoo's prepared-video layout.

``talkzoo data prepare video|hdtf|voxceleb --src RAW --out ROOT [--landmarker facemesh|dlib|module:Class]
--landmarker-weights shape_predictor_68_face_landmarks.dat`` runs :func:`prepare_videos`:

1. **Detect** a face box on every ``detect_every``-th frame with a pluggable :class:`Detector`
   (default: OpenCV's Haar frontal-face cascade, shipped in ``opencv-python-headless<5``; else
   scikit-image's LBP frontal-face cascade; both need no download). The largest box is kept.
2. **Stabilised crop** as in the First Order Motion Model's ``crop-video.py`` (Siarohin et al.,
   NeurIPS 2019; reimplemented from its documented behaviour): the union of the clip's face
   boxes, enlarged by ``increase_area`` on each side (more on the shorter side so the box becomes
   square), fixed for the whole clip. Two deliberate differences: the square is shifted inside
   the frame rather than clipped (clipping changes the aspect ratio), and one video gives one
   clip (no tube splitting; a video whose face moves over more than the crop is still kept, with
   a logged warning when the median box covers less than ``1/4`` of the union).
3. **Resize** the crop to ``size x size`` (Pillow, Lanczos) and **resample to 25 fps**: output
   frame ``i`` (time ``t0 + i / 25``) is the source frame on screen at that time (sample and
   hold), ``T = floor(duration * 25)`` frames.
4. **Landmarks**: a pluggable 68-point :class:`talkzoo.landmarks.Landmarker` (the one landmarker
   interface of talkzoo, given each frame and its face box) on every output frame (iBUG-68 order,
   output pixels); frames where it fails are filled by linear interpolation in time.
5. **Audio**: first track, mixed to mono, resampled to 16 kHz (FFmpeg's swresample through
   PyAV), aligned to the first video frame and cut / zero-padded to exactly ``T / 25`` s.
6. **Write** ``videos/<clip_id>.mp4`` (H.264 + AAC, :func:`talkzoo.render.video.write_video`) and
   ``landmarks/<clip_id>.npy`` atomically, then rewrite ``meta.json``, ``splits/`` and ``pairs/``
   atomically. A video without a face (or with a face in fewer than ``min_face_fraction`` of the
   sampled frames), without audio, or undecodable is skipped with a warning naming the file;
   nothing is left half-written. Running again on the same ``--out`` resumes: clips already in
   ``meta.json`` are kept.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo.landmarks.base import Landmarker
from talkzoo.landmarks.dlib import Dlib68Landmarker  # noqa: F401 - re-exported (dlib's 68-point predictor)
from talkzoo.landmarks.facemesh import FaceMeshLandmarker

__all__ = [
    "VIDEO_SUFFIXES",
    "Detector",
    "Dlib68Landmarker",
    "FaceMesh68Landmarker",
    "BoxLandmarker",
    "OpenCVHaarDetector",
    "SkimageLBPDetector",
    "make_detector",
    "make_landmarker",
    "prepare_videos",
    "stabilised_box",
]

log = logging.getLogger(__name__)

FPS = 25
SAMPLE_RATE = 16000
LAYOUT_FORMAT = "talkzoo-video/1"
#: File suffixes treated as videos (case-insensitive).
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".flv")
#: VoxCeleb1's official test identities (id10270 .. id10309; Nagrani et al., Interspeech 2017).
VOXCELEB1_TEST_IDS = frozenset(f"id{n}" for n in range(10270, 10310))


# ---------------------------------------------------------------------------- plug-in protocols
@runtime_checkable
class Detector(Protocol):
    """Face detector: ``detector(frame) -> boxes``.

    ``frame`` is an (H, W, 3) uint8 RGB image; the result is a (K, 4) float array of boxes
    ``x0, y0, x1, y1`` in that frame's pixels (K = 0 when there is no face).
    """

    def __call__(self, frame: np.ndarray) -> np.ndarray: ...


#: The landmarker interface prepare takes: :class:`talkzoo.landmarks.Landmarker`, called with one
#: output frame and its face box, ``landmarker(frames (1, S, S, 3), boxes (1, 4)) -> (1, 68, 2)``
#: (NaN rows when it fails). The old per-frame name is kept as an alias.
BoxLandmarker = Landmarker


def _downscale(frame: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = frame.shape[:2]
    f = min(1.0, max_side / max(h, w))
    if f >= 1.0:
        return frame, 1.0
    from PIL import Image

    small = Image.fromarray(frame).resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.BILINEAR)
    return np.asarray(small), f


class OpenCVHaarDetector:
    """OpenCV's Viola-Jones Haar cascade (``haarcascade_frontalface_default.xml``, shipped with
    ``opencv-python-headless`` 4.x; Viola & Jones, CVPR 2001).

    Args:
        cascade: path of a cascade XML file (default: the frontal-face cascade in ``cv2.data``).
        max_side: frames are downscaled so their longer side is at most this (pixels) first.
        min_face: smallest face side as a fraction of the shorter frame side.

    Raises:
        ConfigError: OpenCV is missing, or is a 5.x build without ``CascadeClassifier``/cascades
            (``pip install "opencv-python-headless<5"``).
        MissingWeightsError: ``cascade`` does not exist.
    """

    def __init__(self, cascade: str | os.PathLike | None = None, max_side: int = 640, min_face: float = 0.08) -> None:
        try:
            import cv2
        except ImportError as exc:
            raise ConfigError('the OpenCV face detector needs `pip install "opencv-python-headless<5"`') from exc
        if not hasattr(cv2, "CascadeClassifier"):
            raise ConfigError(f"OpenCV {cv2.__version__} has no CascadeClassifier (5.x dropped it): "
                              'pip install "opencv-python-headless<5", or use --detector skimage')
        if cascade is None:
            base = getattr(getattr(cv2, "data", None), "haarcascades", None)
            if not base:
                raise ConfigError(f"OpenCV {cv2.__version__} ships no Haar cascades: "
                                  'pip install "opencv-python-headless<5", or use --detector skimage')
            cascade = Path(base) / "haarcascade_frontalface_default.xml"
        if not Path(cascade).is_file():
            raise MissingWeightsError(f"Haar cascade file {cascade} not found (haarcascade_frontalface_default.xml "
                                      "ships in opencv-python-headless 4.x under cv2.data.haarcascades)")
        self._cv2 = cv2
        self._clf = cv2.CascadeClassifier(str(cascade))
        self.max_side, self.min_face = int(max_side), float(min_face)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (K, 4) float64 boxes x0, y0, x1, y1 in frame pixels."""
        small, f = _downscale(frame, self.max_side)
        gray = self._cv2.cvtColor(small, self._cv2.COLOR_RGB2GRAY)
        m = max(16, int(self.min_face * min(gray.shape)))
        found = self._clf.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(m, m))
        boxes = np.asarray(found, dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        return boxes / f


class SkimageLBPDetector:
    """scikit-image's multi-block LBP cascade (``lbpcascade_frontalface_opencv.xml``, shipped in
    scikit-image; Liao et al., ICB 2007), through ``skimage.feature.Cascade``.

    Args:
        max_side: frames are downscaled so their longer side is at most this (pixels) first.
        min_face: smallest face side as a fraction of the shorter frame side.

    Raises:
        ConfigError: scikit-image is not installed.
    """

    def __init__(self, max_side: int = 480, min_face: float = 0.1) -> None:
        try:
            from skimage.data import lbp_frontal_face_cascade_filename
            from skimage.feature import Cascade
        except ImportError as exc:
            raise ConfigError("the scikit-image face detector needs `pip install scikit-image`") from exc
        self._cascade = Cascade(lbp_frontal_face_cascade_filename())
        self.max_side, self.min_face = int(max_side), float(min_face)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (K, 4) float64 boxes x0, y0, x1, y1 in frame pixels."""
        small, f = _downscale(frame, self.max_side)
        m = max(20, int(self.min_face * min(small.shape[:2])))
        found = self._cascade.detect_multi_scale(img=small, scale_factor=1.2, step_ratio=1, min_size=(m, m),
                                                 max_size=(min(small.shape[:2]),) * 2)
        boxes = np.array([[d["c"], d["r"], d["c"] + d["width"], d["r"] + d["height"]] for d in found],
                         dtype=np.float64).reshape(-1, 4)
        return boxes / f


def make_detector(name: str = "auto") -> Detector:
    """The face detector called ``name``: ``"opencv"``, ``"skimage"`` or ``"auto"`` (OpenCV's
    Haar cascade when a 4.x OpenCV is installed, else scikit-image's LBP cascade).

    Raises:
        ConfigError: unknown name, or the library is missing (the message says what to install).
    """
    if name == "opencv":
        return OpenCVHaarDetector()
    if name == "skimage":
        return SkimageLBPDetector()
    if name == "auto":
        try:
            return OpenCVHaarDetector()
        except ConfigError:
            try:
                return SkimageLBPDetector()
            except ConfigError:
                raise ConfigError('face detection needs `pip install "opencv-python-headless<5"` '
                                  "or `pip install scikit-image`") from None
    raise ConfigError(f"unknown face detector {name!r}; expected 'auto', 'opencv' or 'skimage'")


#: The shipped MediaPipe FaceMesh landmarker (``facemesh68``; :class:`talkzoo.landmarks.FaceMeshLandmarker`).
FaceMesh68Landmarker = FaceMeshLandmarker


def make_landmarker(name: str, weights: str | os.PathLike | None = None) -> Landmarker:
    """The 68-point landmarker called ``name`` (``talkzoo data prepare --landmarker``):
    :func:`talkzoo.landmarks.make_landmarker` (``"facemesh"``, the default, shipped weights;
    ``"dlib"``, the ``dlib`` extra or a local ``shape_predictor_68_face_landmarks.dat`` given as
    ``weights`` (``--landmarker-weights``); ``"module:Class"``, any class following
    :class:`talkzoo.landmarks.Landmarker`).

    Raises:
        ConfigError: unknown name / not importable; MissingWeightsError: weights missing.
    """
    from talkzoo.landmarks import make_landmarker as _make

    return _make(name, weights)


# ---------------------------------------------------------------------------- geometry
def stabilised_box(boxes: np.ndarray, frame_hw: tuple[int, int],
                   increase_area: float = 0.1) -> tuple[float, float, float]:
    """The fixed square crop of a clip from its per-frame face boxes (FOMM ``crop-video.py``).

    The union box ``[min x0, min y0, max x1, max y1]`` of width ``w`` and height ``h`` grows by
    ``max(a, ((1 + 2a) h - w) / (2w)) * w`` on the left and on the right and by
    ``max(a, ((1 + 2a) w - h) / (2h)) * h`` at the top and at the bottom (``a = increase_area``),
    which makes it (nearly) square; it is then made exactly square (side = the larger side),
    shrunk to the shorter frame side if larger, and shifted (not clipped) inside the frame.

    Args:
        boxes: (K, 4) float ``x0, y0, x1, y1`` pixels, K >= 1.
        frame_hw: ``(height, width)`` of the frame in pixels.
        increase_area: FOMM's ``--increase`` (0.1 there).

    Returns:
        ``(x0, y0, side)``: the crop square ``[x0, x0 + side] x [y0, y0 + side]``, pixels.

    Raises:
        DataError: no box, or a box with non-positive size.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(b) == 0:
        raise DataError("stabilised_box: no face box")
    x0, y0 = b[:, 0].min(), b[:, 1].min()
    x1, y1 = b[:, 2].max(), b[:, 3].max()
    w, h = x1 - x0, y1 - y0
    if w <= 0 or h <= 0:
        raise DataError(f"stabilised_box: degenerate face box union {x0, y0, x1, y1}")
    a = float(increase_area)
    wi = max(a, ((1 + 2 * a) * h - w) / (2 * w))
    hi = max(a, ((1 + 2 * a) * w - h) / (2 * h))
    x0, x1 = x0 - wi * w, x1 + wi * w
    y0, y1 = y0 - hi * h, y1 + hi * h
    H, W = frame_hw
    side = min(max(x1 - x0, y1 - y0), float(min(H, W)))
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    nx = float(np.clip(cx - side / 2, 0.0, W - side))
    ny = float(np.clip(cy - side / 2, 0.0, H - side))
    return nx, ny, float(side)


# ---------------------------------------------------------------------------- decoding
def _frames_at_25(path: Path) -> Iterator[tuple[int, np.ndarray, float]]:
    """Yield ``(i, rgb, t)`` for output frames at 25 fps (sample and hold of the source frames).

    ``t`` is the time of frame 0 in the source stream (seconds); rgb is (H, W, 3) uint8.
    """
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise DataError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        prev, prev_t, t0, i = None, None, None, 0
        for frame in container.decode(video=0):
            t = frame.time
            if t is None:
                t = (prev_t + 1.0 / rate) if prev_t is not None else 0.0
            if prev is None:
                t0 = t
            else:
                rgb = None
                while t0 + i / FPS < t - 1e-6:
                    rgb = prev.to_ndarray(format="rgb24") if rgb is None else rgb
                    yield i, rgb, t0
                    i += 1
            prev, prev_t = frame, t
        if prev is None:
            raise DataError(f"{path}: the video stream holds no frame")
        end = prev_t + 1.0 / rate
        rgb = None
        while t0 + i / FPS < end - 1e-6:
            rgb = prev.to_ndarray(format="rgb24") if rgb is None else rgb
            yield i, rgb, t0
            i += 1


def _read_audio(path: Path) -> tuple[np.ndarray, float] | None:
    """First audio track as ``(S,)`` float32 mono at 16 kHz and its start time (s); None without audio.

    Decoded at the file's own rate (channels averaged), then resampled with the project's SoX
    resampler (:func:`talkzoo.audio.io.resample`), as every other talkzoo audio path does.
    """
    import av

    from talkzoo.audio.io import resample
    from talkzoo.video.io import audio_frame_mono

    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or stream.rate)
        chunks, start = [], None
        for frame in container.decode(stream):
            if start is None:
                start = float(frame.time or 0.0)
            chunks.append(audio_frame_mono(frame))
    if not chunks:
        return None
    return resample(np.concatenate(chunks), rate, SAMPLE_RATE).numpy(), start or 0.0


# ---------------------------------------------------------------------------- naming, splits
_ID_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


def _clip_name(rel: Path) -> str:
    return _ID_BAD.sub("-", "_".join(rel.with_suffix("").parts))


def _speaker_name(rel: Path) -> str:
    """Speaker of a video at ``rel`` (relative to the source folder): the first folder if nested
    (VoxCeleb ``id10001/<yt>/00001.mp4``), else the file stem without a trailing ``_<digits>``
    (HDTF ``WDA_BarackObama_000.mp4`` -> ``WDA_BarackObama``)."""
    if len(rel.parts) > 1:
        return _ID_BAD.sub("-", rel.parts[0])
    return _ID_BAD.sub("-", re.sub(r"_\d+$", "", rel.stem) or rel.stem)


def _bucket(key: str) -> float:
    return (zlib.crc32(key.encode()) % 10000) / 10000.0


def _splits(meta: dict, protocol: str, val_fraction: float, test_fraction: float) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for cid in sorted(meta["clips"]):
        spk = meta["clips"][cid]["speaker"]
        if protocol == "voxceleb1":
            part = "test" if spk in VOXCELEB1_TEST_IDS else ("val" if _bucket(spk) < val_fraction else "train")
        else:
            u = _bucket(spk if protocol == "speaker" else cid)
            part = "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"
        out[part].append(cid)
    return out


def _pairs(meta: dict, test: list[str]) -> list[tuple[str, str]]:
    """Each test clip driven once; source = the next test clip (cyclic) of another speaker, else itself."""
    pairs = []
    for i, drv in enumerate(test):
        src = drv
        for j in range(1, len(test)):
            cand = test[(i + j) % len(test)]
            if meta["clips"][cand]["speaker"] != meta["clips"][drv]["speaker"]:
                src = cand
                break
        pairs.append((src, drv))
    return pairs


def _write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_index(out: Path, meta: dict, protocol: str, val_fraction: float, test_fraction: float,
                 given: dict[str, list[str]] | None = None) -> None:
    if given is None:
        splits = _splits(meta, protocol, val_fraction, test_fraction)
        source = f"{protocol} protocol"
    else:  # the dataset's own split (a preset's official split or the user's lists), prepared clips only
        splits = {part: [c for c in ids if c in meta["clips"]] for part, ids in given.items()}
        splits.setdefault("test", [])
        source = "the dataset's split"
    meta = dict(meta, speakers=sorted({c["speaker"] for c in meta["clips"].values()}))
    for part, ids in splits.items():
        path = out / "splits" / f"{part}.txt"
        if given is not None and not ids and part != "test":
            path.unlink(missing_ok=True)  # no such split (a test-only dataset): no list, not an empty one
            continue
        head = f"# {part} split ({source})\n"
        _write_text(path, head + "".join(f"{c}\n" for c in ids))
    _write_text(out / "pairs" / "test_pairs.csv",
                "source,driving\n" + "".join(f"{s},{d}\n" for s, d in _pairs(meta, splits["test"])))
    _write_text(out / "meta.json", json.dumps(meta, indent=1, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------- one clip
class _Skip(Exception):
    """A video that cannot be prepared (no face, no audio, unreadable): skipped with a warning."""


def _interpolate_missing(points: np.ndarray) -> np.ndarray:
    """(T, 68, 2) with NaN rows -> filled by linear interpolation in time (edges held)."""
    good = ~np.isnan(points[:, 0, 0])
    if good.all():
        return points
    t = np.arange(len(points))
    flat = points.reshape(len(points), -1)
    for j in range(flat.shape[1]):
        flat[~good, j] = np.interp(t[~good], t[good], flat[good, j])
    return flat.reshape(points.shape)


def _prepare_one(path: Path, dst_video: Path, dst_lm: Path, detector: Detector, landmarker: Landmarker, *,
                 size: int, increase_area: float, detect_every: int, min_face_fraction: float,
                 audio_path: Path | None = None) -> int:
    """Prepare one video; returns its frame count. Raises _Skip (nothing written) when it cannot.
    ``audio_path``: a sidecar audio file read when the video has no audio track (GRID's ``.wav``)."""
    import av
    from PIL import Image

    from talkzoo.render.video import write_video

    try:
        audio = _read_audio(path)
        if audio is None and audio_path is not None:
            audio = _read_audio(audio_path)
        if audio is None:
            raise _Skip("has no audio track")
        # pass 1: face boxes on every detect_every-th output frame
        boxes: dict[int, np.ndarray] = {}
        n_frames, hw, t0 = 0, None, 0.0
        for i, rgb, t0 in _frames_at_25(path):
            n_frames, hw = i + 1, rgb.shape[:2]
            if i % detect_every == 0:
                found = np.asarray(detector(rgb), dtype=np.float64).reshape(-1, 4)
                if len(found):
                    area = (found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1])
                    boxes[i] = found[int(np.argmax(area))]
    except (av.error.FFmpegError, OSError) as exc:
        raise _Skip(f"cannot be decoded ({exc})") from exc
    except DataError as exc:  # no video stream / no frame: skipped like an undecodable file
        raise _Skip(str(exc).removeprefix(f"{path}: ")) from exc
    sampled = len(range(0, n_frames, detect_every))
    if not boxes:
        raise _Skip(f"no face found in any of {sampled} sampled frames")
    if len(boxes) < min_face_fraction * sampled:
        raise _Skip(f"a face was found in only {len(boxes)} of {sampled} sampled frames "
                    f"(min_face_fraction={min_face_fraction})")
    stack = np.stack(list(boxes.values()))
    x0, y0, side = stabilised_box(stack, hw, increase_area)
    med = np.median(stack, 0)
    union = np.concatenate([stack[:, :2].min(0), stack[:, 2:].max(0)])
    if (med[2] - med[0]) * (med[3] - med[1]) < 0.25 * (union[2] - union[0]) * (union[3] - union[1]):
        log.warning("%s: the face moves a lot (median box < 1/4 of the union); the fixed crop is loose", path)
    scale = size / side
    keys = np.array(sorted(boxes))

    def box_at(i: int) -> np.ndarray:
        k = keys[np.argmin(np.abs(keys - i))]
        b = boxes[int(k)]
        return (b - np.array([x0, y0, x0, y0])) * scale + 0.5 * (scale - 1.0)

    points = np.full((n_frames, 68, 2), np.nan, dtype=np.float64)

    def frames() -> Iterator[np.ndarray]:
        for i, rgb, _ in _frames_at_25(path):
            if i >= n_frames:
                break
            crop = np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.LANCZOS,
                                                          box=(x0, y0, x0 + side, y0 + side)))
            p = np.asarray(landmarker(crop[None], box_at(i)[None]), dtype=np.float64)
            if p.shape != (1, 68, 2):
                raise DataError(f"landmarker returned shape {p.shape} for {path} frame {i}; expected (1, 68, 2)")
            if np.isfinite(p).all():
                points[i] = p[0]
            yield crop

    wave, a_start = audio
    offset = int(round((t0 - a_start) * SAMPLE_RATE))
    wave = wave[offset:] if offset >= 0 else np.concatenate([np.zeros(-offset, np.float32), wave])
    n_samples = n_frames * SAMPLE_RATE // FPS
    wave = np.concatenate([wave[:n_samples], np.zeros(max(0, n_samples - len(wave)), np.float32)])
    staging = dst_video.with_name(f".{dst_video.stem}.staging.mp4")
    try:
        write_video(staging, frames(), FPS, audio=wave, sample_rate=SAMPLE_RATE)
        good = ~np.isnan(points[:, 0, 0])
        if good.sum() < min_face_fraction * n_frames:
            raise _Skip(f"the landmarker found the face in only {int(good.sum())} of {n_frames} frames")
        lm = _interpolate_missing(points).astype(np.float32)
        fd, tmp = tempfile.mkstemp(prefix=f".{dst_lm.stem}.", suffix=".npy", dir=dst_lm.parent)
        os.close(fd)
        try:
            np.save(tmp, lm)
            os.replace(tmp, dst_lm)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        os.replace(staging, dst_video)
    finally:
        staging.unlink(missing_ok=True)
    return n_frames


# ---------------------------------------------------------------------------- the command
def prepare_videos(
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    landmarker: Landmarker,
    detector: Detector | str = "auto",
    size: int = 256,
    increase_area: float = 0.1,
    detect_every: int = 5,
    min_face_fraction: float = 0.5,
    protocol: str = "clip",
    val_fraction: float = 0.05,
    test_fraction: float = 0.1,
    speaker_of: Callable[[Path], str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    clips: Sequence[Any] | None = None,
    splits: dict[str, list[str]] | None = None,
    dataset: str | None = None,
) -> Path:
    """Prepare every video under ``src`` into the prepared-video layout at ``out``.

    See the module docstring for the pipeline. Output (``talkzoo-video/1``)::

        out/meta.json                    fps 25, sample_rate 16000, size, "ibug68", speakers, clips
        out/videos/<clip_id>.mp4         H.264 yuv420p size x size, 25 fps, AAC mono 16 kHz (T/25 s)
        out/landmarks/<clip_id>.npy      (T, 68, 2) float32 output pixels, iBUG-68 order
        out/splits/{train,val,test}.txt  out/pairs/test_pairs.csv

    ``clip_id`` is the path relative to ``src`` without suffix, ``/`` -> ``_`` (VoxCeleb
    ``id10001/1zcIwhmdeo4/00001.mp4`` -> ``id10001_1zcIwhmdeo4_00001``; HDTF
    ``WDA_BarackObama_000.mp4`` -> ``WDA_BarackObama_000``).

    Args:
        src: folder searched recursively for videos (:data:`VIDEO_SUFFIXES`).
        out: dataset root; created, or resumed when it holds a ``talkzoo-video/1`` meta.json of
            the same size (clips already listed are kept unless ``overwrite``).
        landmarker: a :class:`talkzoo.landmarks.Landmarker` (e.g. ``make_landmarker("dlib")``).
        detector: a :class:`Detector` or a name for :func:`make_detector`.
        size: output side in pixels (even, >= 64). increase_area: FOMM's crop margin.
        detect_every: run the detector on every n-th output frame (25 fps).
        min_face_fraction: skip a video whose face is found in fewer of the sampled frames.
        protocol: split rule: ``"clip"`` (hash of the clip id), ``"speaker"`` (hash of the
            speaker: held-out identities) or ``"voxceleb1"`` (official VoxCeleb1 test ids).
        val_fraction, test_fraction: shares of the hash-based splits.
        speaker_of: ``rel_path -> speaker name`` (default: first folder, else the stem without a
            trailing ``_<digits>``).
        overwrite: re-prepare clips already in ``out``.
        progress: tqdm progress bar over files.
        clips: the videos to prepare as a dataset preset lists them (records with ``clip_id``,
            ``path``, ``speaker``, optional ``subject`` and sidecar ``audio_path``; see
            :meth:`talkzoo.data.presets.video.base.VideoPreset.raw_clips`); ``None``: every video
            under ``src``, named by path.
        splits: ``{split: [clip_id]}`` to write instead of the hash ``protocol`` (a preset's
            official split); clips that could not be prepared are left out, empty non-test
            splits are not written.
        dataset: dataset name recorded in ``meta.json`` (``"dataset"``), read back as
            ``spec.dataset`` (e.g. ``"hdtf"``); ``None`` records none.

    Returns:
        ``Path(out)``.

    Raises:
        DataError: ``src`` holds no video, ``out`` is a non-empty folder that is not a prepared
            root (or one of another size), or no video could be prepared (every file skipped).
        ConfigError: a bad option value.
    """
    from tqdm.auto import tqdm

    src, out = Path(src).expanduser(), Path(out).expanduser()
    if isinstance(size, bool) or int(size) != size or size < 64 or size % 2:
        raise ConfigError(f"size must be an even number of pixels >= 64, got {size!r}")
    if protocol not in ("clip", "speaker", "voxceleb1"):
        raise ConfigError(f"protocol must be 'clip', 'speaker' or 'voxceleb1', got {protocol!r}")
    if int(detect_every) < 1 or not 0 < min_face_fraction <= 1 or increase_area < 0:
        raise ConfigError("detect_every must be >= 1, min_face_fraction in (0, 1], increase_area >= 0")
    if not (0 <= val_fraction and 0 <= test_fraction and val_fraction + test_fraction < 1):
        raise ConfigError("val_fraction and test_fraction must be >= 0 with a sum below 1")
    if not src.is_dir():
        raise DataError(f"{src}: no such folder of videos")
    speaker_of = speaker_of or _speaker_name
    # (path, clip id, speaker, subject, sidecar audio)
    jobs: list[tuple[Path, str, str, str, Path | None]]
    if clips is None:
        files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        jobs = [(p, _clip_name(p.relative_to(src)), speaker_of(p.relative_to(src)), "", None) for p in files]
    else:
        jobs = [(Path(c.path), _ID_BAD.sub("-", str(c.clip_id)), str(c.speaker), str(getattr(c, "subject", "") or ""),
                 getattr(c, "audio_path", None)) for c in clips]
    if not jobs:
        raise DataError(f"{src}: found no video file ({', '.join(VIDEO_SUFFIXES)})")
    det = make_detector(detector) if isinstance(detector, str) else detector

    meta = {"format": LAYOUT_FORMAT, "fps": FPS, "sample_rate": SAMPLE_RATE, "size": int(size),
            "landmarks": "ibug68", "speakers": [], "clips": {}}
    if dataset:
        meta["dataset"] = str(dataset)
    if out.exists():
        if not out.is_dir():
            raise DataError(f"{out}: exists and is not a folder")
        if (out / "meta.json").is_file():
            try:
                old = json.loads((out / "meta.json").read_text())
            except ValueError as exc:
                raise DataError(f"{out / 'meta.json'}: not valid JSON ({exc})") from exc
            if old.get("format") != LAYOUT_FORMAT or old.get("size") != size:
                raise DataError(f"{out / 'meta.json'}: a {old.get('format')} root of size {old.get('size')}; cannot "
                                f"add {size}-pixel clips to it (choose another --out)")
            if old.get("dataset") != meta.get("dataset"):
                raise DataError(f"{out / 'meta.json'}: holds dataset {old.get('dataset')!r}; cannot add "
                                f"{meta.get('dataset')!r} clips to it (choose another --out)")
            meta["clips"] = dict(old.get("clips", {}))
        elif any(out.iterdir()):
            raise DataError(f"{out}: is a non-empty folder without meta.json; choose an empty or new --out")
    created = not out.exists()
    for sub in ("videos", "landmarks", "splits", "pairs"):
        (out / sub).mkdir(parents=True, exist_ok=True)

    done, skipped = 0, []
    for path, cid, speaker, subject, audio_path in tqdm(jobs, desc="prepare videos", unit="video", disable=not progress):
        dst_v, dst_l = out / "videos" / f"{cid}.mp4", out / "landmarks" / f"{cid}.npy"
        if not overwrite and cid in meta["clips"] and dst_v.is_file() and dst_l.is_file():
            done += 1
            continue
        try:
            n = _prepare_one(path, dst_v, dst_l, det, landmarker, size=int(size), increase_area=float(increase_area),
                             detect_every=int(detect_every), min_face_fraction=float(min_face_fraction),
                             audio_path=audio_path)
        except _Skip as why:
            log.warning("skipped %s: %s", path, why)
            skipped.append(f"{path}: {why}")
            continue
        rel = path.relative_to(src) if path.is_relative_to(src) else path
        entry = {"speaker": speaker, "frames": int(n), "source": str(rel)}
        if subject and subject != speaker:
            entry["subject"] = subject
        meta["clips"][cid] = entry
        _write_index(out, meta, protocol, val_fraction, test_fraction, splits)
        done += 1
    if skipped:
        log.warning("prepared %d of %d videos into %s; skipped %d", done, len(jobs), out, len(skipped))
    else:
        log.info("prepared %d videos into %s", done, out)
    if done == 0:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise DataError(f"{src}: no video could be prepared; {len(skipped)} skipped: " + "; ".join(skipped[:5]))
    _write_index(out, meta, protocol, val_fraction, test_fraction, splits)
    return out
