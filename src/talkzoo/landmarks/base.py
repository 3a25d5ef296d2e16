"""The landmarker interface shared by face preprocessing and the landmark metrics.

A *landmarker* is any callable that takes a batch of RGB frames and returns 68 iBUG-300W
landmarks per frame, in frame pixels. Face preprocessing (``talkzoo data prepare``) and the LMD
metric accept any object of this shape, so a user with a better landmarker (e.g. a 2D-FAN
checkpoint) can plug it in without touching talkzoo.

Conventions (the same as the prepared-video layout):

* frames: ``(N, H, W, 3)`` uint8 RGB;
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

__all__ = ["Landmarker", "check_frames", "face_mask"]


@runtime_checkable
class Landmarker(Protocol):
    """Callable ``(N, H, W, 3) uint8 RGB -> (N, 68, 2) float32`` iBUG-68 pixel landmarks.

    Rows of frames without a face are NaN (all 68 points). Implementations raise
    :class:`talkzoo.errors.DataError` for frames of the wrong shape or dtype.
    """

    def __call__(self, frames: np.ndarray) -> np.ndarray:  # pragma: no cover - protocol
        """Landmarks of every frame: ``(N, 68, 2)`` float32 pixels, NaN where no face."""
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
