"""The one landmarker (and identity-embedder) interface of talkzoo.

A *landmarker* is any callable that takes a batch of RGB frames (optionally with one face box
per frame) and returns 68 iBUG-300W landmarks per frame, in frame pixels, and carries a short
``name`` that metric names quote (``LMD@facemesh68``, ``LMD@dlib68``). The landmark metrics
(LMD, AKD), face preprocessing (``talkzoo data prepare``), ``talkzoo animate`` and the demo
builders all take this one interface, so a user with a better landmarker (e.g. a 2D-FAN
checkpoint) plugs it in without touching talkzoo. Implementations shipped: FaceMesh
(:class:`talkzoo.landmarks.FaceMeshLandmarker`, ``facemesh68``, weights in the package) and dlib
(:class:`talkzoo.landmarks.dlib.Dlib68Landmarker`, ``dlib68``, the ``dlib`` extra).

An *identity embedder* (:class:`IdentityEmbedder`) maps frames to one identity vector each, for
CSIM and AED (``CSIM@dlib-resnet``).

Conventions (the same as the prepared-video layout):

* frames: ``(N, H, W, 3)`` uint8 RGB; boxes: optional ``(N, 4)`` float ``x0, y0, x1, y1``
  pixels, NaN rows for "no face in this frame";
* landmarks: ``(N, 68, 2)`` float32 pixel coordinates, x right, y down, **pixel-centre
  convention** (the centre of the top-left pixel is ``(0, 0)``, so a frame spans
  ``[-0.5, W - 0.5]``), iBUG-68 point order (:mod:`talkzoo.landmarks.ibug68`);
* a frame without a (confidently) detected face gets a row of NaN: ``face_mask`` recovers the
  mask.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from talkzoo.errors import DataError

__all__ = ["IdentityEmbedder", "Landmarker", "check_frames", "face_mask"]


@runtime_checkable
class Landmarker(Protocol):
    """Callable ``(frames (N, H, W, 3) uint8 RGB, boxes (N, 4) | None) -> (N, 68, 2) float32``
    iBUG-68 pixel landmarks, with a ``name`` attribute (``"facemesh68"``, ``"dlib68"``).

    Without ``boxes`` the landmarker finds the face itself (its own detector, or the whole frame
    for face crops, as its documentation says). Rows of frames without a face are NaN (all 68
    points). Implementations raise :class:`talkzoo.errors.DataError` for frames of the wrong shape
    or dtype. They should pickle (metrics are copied per stage and sent to DDP workers): keep
    heavy runtime objects out of the pickled state and rebuild them on first use.
    """

    name: str

    def __call__(self, frames: np.ndarray, boxes: np.ndarray | None = None) -> np.ndarray:  # pragma: no cover
        """Landmarks of every frame: ``(N, 68, 2)`` float32 pixels, NaN where no face."""
        ...


@runtime_checkable
class IdentityEmbedder(Protocol):
    """Callable ``(N, H, W, 3) uint8 RGB -> (N, D) float32`` identity embeddings, with ``name``
    (e.g. ``"dlib-resnet"``) and ``dim`` (D) attributes; NaN rows where no face was found.

    Used by CSIM (cosine similarity) and AED (embedding distance); see
    :mod:`talkzoo.metrics.video`. Same pickling advice as :class:`Landmarker`.
    """

    name: str
    dim: int

    def __call__(self, frames: np.ndarray) -> np.ndarray:  # pragma: no cover - protocol
        """Identity embeddings ``(N, D)`` float32, NaN rows where no face."""
        ...


def check_frames(frames: np.ndarray, name: str = "frames") -> np.ndarray:
    """Validate a batch of RGB frames and return it as a C-contiguous uint8 array.

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB, N >= 0, H, W >= 1.
        name: what to call the argument in error messages.

    Returns:
        The same frames, ``(N, H, W, 3)`` uint8.

    Raises:
        DataError: not a numpy array, wrong number of dimensions, not 3 channels, or not uint8.
    """
    if not isinstance(frames, np.ndarray):
        raise DataError(f"{name}: expected a numpy array (N, H, W, 3) uint8, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or min(frames.shape[1:3], default=0) < 1:
        raise DataError(f"{name}: expected shape (N, H, W, 3) RGB, got {tuple(frames.shape)}")
    if frames.dtype != np.uint8:
        raise DataError(f"{name}: expected dtype uint8 (0..255 RGB), got {frames.dtype}")
    return np.ascontiguousarray(frames)


def face_mask(landmarks: np.ndarray) -> np.ndarray:
    """Which frames have a face: ``(N,)`` bool, False where a landmark row holds any NaN.

    Args:
        landmarks: ``(N, K, 2)`` float landmarks as returned by a :class:`Landmarker`.

    Raises:
        DataError: ``landmarks`` is not ``(N, K, 2)``.
    """
    landmarks = np.asarray(landmarks)
    if landmarks.ndim != 3 or landmarks.shape[-1] != 2:
        raise DataError(f"landmarks: expected shape (N, K, 2), got {tuple(landmarks.shape)}")
    return ~np.isnan(landmarks).any(axis=(1, 2))
