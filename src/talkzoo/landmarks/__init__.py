"""Face landmarks for the talking-video family: an offline FaceMesh landmarker and the iBUG-68 scheme.

* :class:`Landmarker` -- the interface (``(N, H, W, 3)`` uint8 RGB -> ``(N, 68, 2)`` float32
  iBUG-68 pixels, NaN rows where no face) taken by face preprocessing and the LMD metric;
* :class:`FaceMeshLandmarker` -- the default implementation: MediaPipe FaceMesh
  (``face_landmark.tflite``, bundled, Apache-2.0) run by LiteRT (``ai-edge-litert``, a talkzoo dependency);
* :class:`FaceDetector` -- MediaPipe BlazeFace short range (bundled), for uncropped frames;
* :data:`IBUG68_FROM_FACEMESH` -- the canonical FaceMesh-468 -> iBUG-68 correspondence.

* :func:`make_landmarker`, :func:`make_identity_embedder` -- build one by name (``facemesh68``,
  ``dlib68``, ``dlib-resnet``, ``module:Class``); :func:`default_landmarker_name` is ``dlib68``
  when the ``dlib`` extra is installed (the LMD protocol's landmarker), else ``facemesh68``;
* :mod:`talkzoo.landmarks.dlib` -- dlib's 68-point predictor and ResNet identity embedder (extra).

``ai_edge_litert`` is imported only when a :class:`FaceMeshLandmarker` or :class:`FaceDetector` is
built, dlib only when a dlib model is.
"""

import os

from .base import IdentityEmbedder, Landmarker, check_frames, face_mask
from .detector import FaceDetection, FaceDetector
from .facemesh import FaceMeshLandmarker, FaceMeshResult, default_model_path
from .ibug68 import IBUG68_FROM_FACEMESH, IBUG68_GROUPS, INNER_LIP_PAIRS, MOUTH, facemesh_to_ibug68, inner_lip_opening

__all__ = [
    "IdentityEmbedder",
    "default_identity_name",
    "default_landmarker_name",
    "make_identity_embedder",
    "make_landmarker",
    "IBUG68_FROM_FACEMESH",
    "IBUG68_GROUPS",
    "INNER_LIP_PAIRS",
    "MOUTH",
    "FaceDetection",
    "FaceDetector",
    "FaceMeshLandmarker",
    "FaceMeshResult",
    "Landmarker",
    "check_frames",
    "default_model_path",
    "face_mask",
    "facemesh_to_ibug68",
    "inner_lip_opening",
]


_LANDMARKER_ALIASES = {"facemesh": "facemesh68", "facemesh68": "facemesh68", "dlib": "dlib68", "dlib68": "dlib68"}


def _dlib_available() -> bool:
    from .dlib import dlib_available

    return dlib_available()


def default_landmarker_name() -> str:
    """``"dlib68"`` when the ``dlib`` extra is installed (the LMD protocol's landmarker), else ``"facemesh68"``."""
    return "dlib68" if _dlib_available() else "facemesh68"


def default_identity_name() -> str | None:
    """``"dlib-resnet"`` when the ``dlib`` extra is installed, else None (no identity network ships)."""
    return "dlib-resnet" if _dlib_available() else None


def _import_factory(name: str, what: str):
    import importlib

    from talkzoo.errors import ConfigError

    mod, _, cls = name.partition(":")
    try:
        return getattr(importlib.import_module(mod), cls)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{what} {name!r}: cannot import {cls} from {mod} ({exc})") from exc


def make_landmarker(name: str = "auto", weights: str | os.PathLike | None = None) -> Landmarker:
    """The :class:`Landmarker` called ``name``.

    Args:
        name: ``"facemesh68"`` (alias ``"facemesh"``; shipped weights), ``"dlib68"`` (alias
            ``"dlib"``; the ``dlib`` extra), ``"auto"`` (:func:`default_landmarker_name`) or
            ``"module:Class"``, any importable class whose instance (built with ``weights`` as its
            only argument, when given) follows :class:`Landmarker`.
        weights: optional local model file.

    Raises:
        ConfigError: unknown name, not importable, or the library is missing.
        MissingWeightsError: a model file is missing.
    """
    from talkzoo.errors import ConfigError

    key = default_landmarker_name() if name == "auto" else _LANDMARKER_ALIASES.get(name, name)
    if key == "facemesh68":
        return FaceMeshLandmarker(weights) if weights is not None else FaceMeshLandmarker()
    if key == "dlib68":
        from .dlib import Dlib68Landmarker

        return Dlib68Landmarker(weights)
    if ":" in key:
        factory = _import_factory(key, "landmarker")
        return factory(weights) if weights is not None else factory()
    raise ConfigError(f"unknown landmarker {name!r}; expected 'facemesh68', 'dlib68', 'auto' or 'module:Class'")


def make_identity_embedder(name: str, weights: str | os.PathLike | None = None) -> IdentityEmbedder:
    """The :class:`IdentityEmbedder` called ``name``: ``"dlib-resnet"`` (the ``dlib`` extra) or
    ``"module:Class"`` (built with ``weights`` when given).

    Raises:
        ConfigError: unknown name, not importable, or dlib missing. MissingWeightsError: file missing.
    """
    from talkzoo.errors import ConfigError

    if name in ("dlib-resnet", "dlib"):
        from .dlib import DlibFaceEmbedder

        return DlibFaceEmbedder(weights)
    if ":" in name:
        factory = _import_factory(name, "identity embedder")
        return factory(weights) if weights is not None else factory()
    raise ConfigError(f"unknown identity embedder {name!r}; expected 'dlib-resnet' or 'module:Class'")
