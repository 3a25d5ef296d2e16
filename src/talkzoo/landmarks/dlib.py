"""dlib's 68-point landmarker and face-recognition identity embedder (the ``dlib`` extra).

``pip install 'talkzoo[dlib]'`` installs ``dlib-bin`` (a prebuilt dlib wheel) and
``face-recognition-models`` (dlib's model files). The model files are found through
``importlib.util.find_spec("face_recognition_models")`` *without importing* that package (its
``__init__`` imports ``pkg_resources``, which recent setuptools no longer ships); any of them can
also be given as a local path.

* :class:`Dlib68Landmarker` (``name = "dlib68"``): HOG frontal-face detector (Dalal & Triggs
  features, dlib's ``get_frontal_face_detector``) and the ensemble-of-regression-trees shape
  predictor (Kazemi & Sullivan, CVPR 2014) ``shape_predictor_68_face_landmarks.dat``, trained
  on iBUG 300-W. This is the landmarker of the LMD protocol (Chen et al. 2018, "Lip movements
  generation at a glance", which uses dlib). **Licence**: the 300-W images restrict the
  predictor to non-commercial use; keep it out of commercial products.
* :class:`DlibFaceEmbedder` (``name = "dlib-resnet"``): dlib's ResNet-29 face-recognition model
  ``dlib_face_recognition_resnet_model_v1.dat`` (128-d, 99.38 % on LFW; same-person threshold
  0.6 Euclidean) on the 150 x 150 chip aligned with ``shape_predictor_5_face_landmarks.dat``.

Both follow :mod:`talkzoo.landmarks.base` (NaN rows where no face) and pickle without their dlib
objects (rebuilt on first use).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from talkzoo.errors import ConfigError, DataError, MissingWeightsError

from .base import check_frames

__all__ = ["Dlib68Landmarker", "DlibFaceEmbedder", "dlib_available", "dlib_model_path"]

_EXTRA = "pip install 'talkzoo[dlib]' (dlib-bin and face-recognition-models)"
PREDICTOR_68 = "shape_predictor_68_face_landmarks.dat"
PREDICTOR_5 = "shape_predictor_5_face_landmarks.dat"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"


def _models_dir() -> Path | None:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        d = Path(loc) / "models"
        if d.is_dir():
            return d
    return None


def dlib_available() -> bool:
    """Whether the ``dlib`` extra is installed: dlib imports and the model files are present."""
    if importlib.util.find_spec("dlib") is None:
        return False
    d = _models_dir()
    return d is not None and all((d / f).is_file() for f in (PREDICTOR_68, PREDICTOR_5, RESNET))


def dlib_model_path(filename: str, path: str | os.PathLike | None = None) -> Path:
    """The local path of one of dlib's model files.

    Args:
        filename: e.g. ``"shape_predictor_68_face_landmarks.dat"``.
        path: an explicit file (used as is), or None for the copy in ``face-recognition-models``.

    Raises:
        MissingWeightsError: the file does not exist; the message names it and the extra.
    """
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise MissingWeightsError(f"dlib model file {str(p)!r} not found (expected {filename})")
        return p
    d = _models_dir()
    if d is None or not (d / filename).is_file():
        raise MissingWeightsError(f"dlib model file {filename} not found: {_EXTRA}, or pass its local path")
    return d / filename


def _import_dlib():
    try:
        import dlib
    except ImportError as exc:
        raise ConfigError(f"the dlib landmarker/identity network needs dlib: {_EXTRA}") from exc
    return dlib


def _detect(dlib, detector, frame: np.ndarray, upsample: int | None):
    """The largest HOG face box of ``frame`` as a dlib rectangle, or None."""
    n_up = upsample if upsample is not None else (1 if min(frame.shape[:2]) < 200 else 0)
    found = detector(frame, n_up)
    if len(found) == 0:
        return None
    return max(found, key=lambda r: r.width() * r.height())


def _rect(dlib, box: np.ndarray):
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    return dlib.rectangle(x0, y0, x1, y1)


class _Lazy:
    """Pickles its constructor arguments only; dlib objects are rebuilt on first use."""

    _state_keys: tuple[str, ...] = ()

    def __getstate__(self) -> dict:
        return {k: getattr(self, k) for k in self._state_keys}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._models = None

    def __deepcopy__(self, memo: dict):
        new = type(self).__new__(type(self))
        new.__setstate__(self.__getstate__())
        return new


class Dlib68Landmarker(_Lazy):
    """dlib's iBUG-68 landmarker (see the module docstring): a :class:`~talkzoo.landmarks.Landmarker`.

    ``landmarker(frames, boxes=None)``: ``(N, H, W, 3)`` uint8 RGB → ``(N, 68, 2)`` float32 pixel
    landmarks (pixel-centre convention: dlib's integer part coordinates are pixel indices), NaN
    rows where no face. Without ``boxes`` each frame's largest HOG detection is used (upsampled
    once for frames under 320 px, so faces from about 40 px are found); with boxes, the shape
    predictor runs on the given box (NaN box rows give NaN landmarks).

    Args:
        weights: local ``shape_predictor_68_face_landmarks.dat`` (default: the extra's copy).
        upsample: HOG pyramid upsamplings (None: automatic, see above).

    Raises:
        ConfigError: dlib is not installed. MissingWeightsError: the model file is missing.
        DataError: frames or boxes of the wrong shape/dtype.
    """

    name = "dlib68"
    _state_keys = ("weights", "upsample")

    def __init__(self, weights: str | os.PathLike | None = None, upsample: int | None = None) -> None:
        _import_dlib()
        self.weights = str(dlib_model_path(PREDICTOR_68, weights))
        self.upsample = upsample
        self._models = None

    def _load(self):
        if self._models is None:
            dlib = _import_dlib()
            self._models = (dlib, dlib.get_frontal_face_detector(), dlib.shape_predictor(self.weights))
        return self._models

    def __call__(self, frames: np.ndarray, boxes: np.ndarray | None = None) -> np.ndarray:
        """iBUG-68 landmarks ``(N, 68, 2)`` float32, NaN rows where no face (see the class docstring)."""
        frames = check_frames(frames)
        n = frames.shape[0]
        if boxes is not None:
            boxes = np.asarray(boxes, dtype=np.float64)
            if boxes.shape != (n, 4):
                raise DataError(f"boxes: expected shape ({n}, 4) (x0, y0, x1, y1 per frame), got {boxes.shape}")
        dlib, detector, predictor = self._load()
        out = np.full((n, 68, 2), np.nan, dtype=np.float32)
        for i in range(n):
            if boxes is None:
                rect = _detect(dlib, detector, frames[i], self.upsample)
            elif np.isnan(boxes[i]).any():
                rect = None
            else:
                rect = _rect(dlib, boxes[i])
            if rect is None:
                continue
            shape = predictor(frames[i], rect)
            out[i] = [(shape.part(k).x, shape.part(k).y) for k in range(68)]
        return out


class DlibFaceEmbedder(_Lazy):
    """dlib's ResNet face descriptor (see the module docstring): a :class:`~talkzoo.landmarks.IdentityEmbedder`.

    ``embedder(frames)``: ``(N, H, W, 3)`` uint8 RGB → ``(N, 128)`` float32. Per frame: the
    largest HOG face (upsampled once under 200 px), or, when none is found and
    ``full_frame_fallback`` is set, the whole frame as the face box (2D-family frames are face
    crops); 5-point alignment to a 150 x 150 chip; the 128-d descriptor (no jitter). NaN rows
    where no face box is available.

    Args:
        weights: local ``dlib_face_recognition_resnet_model_v1.dat`` (default: the extra's copy).
        predictor: local ``shape_predictor_5_face_landmarks.dat`` (default: the extra's copy).
        upsample: HOG upsamplings (None: automatic).
        full_frame_fallback: use the whole frame when the detector finds no face.

    Raises:
        ConfigError: dlib is not installed. MissingWeightsError: a model file is missing.
        DataError: frames of the wrong shape/dtype.
    """

    name = "dlib-resnet"
    dim = 128
    _state_keys = ("weights", "predictor", "upsample", "full_frame_fallback")

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        predictor: str | os.PathLike | None = None,
        upsample: int | None = None,
        full_frame_fallback: bool = True,
    ) -> None:
        _import_dlib()
        self.weights = str(dlib_model_path(RESNET, weights))
        self.predictor = str(dlib_model_path(PREDICTOR_5, predictor))
        self.upsample = upsample
        self.full_frame_fallback = bool(full_frame_fallback)
        self._models = None

    def _load(self):
        if self._models is None:
            dlib = _import_dlib()
            self._models = (dlib, dlib.get_frontal_face_detector(), dlib.shape_predictor(self.predictor),
                            dlib.face_recognition_model_v1(self.weights))
        return self._models

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Identity descriptors ``(N, 128)`` float32, NaN rows where no face (see the class docstring)."""
        frames = check_frames(frames)
        dlib, detector, sp, net = self._load()
        out = np.full((frames.shape[0], self.dim), np.nan, dtype=np.float32)
        for i, frame in enumerate(frames):
            rect = _detect(dlib, detector, frame, self.upsample)
            if rect is None and self.full_frame_fallback:
                h, w = frame.shape[:2]
                rect = dlib.rectangle(0, 0, w - 1, h - 1)
            if rect is None:
                continue
            out[i] = np.asarray(net.compute_face_descriptor(frame, sp(frame, rect)), dtype=np.float32)
        return out
