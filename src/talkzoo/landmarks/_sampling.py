"""Resampling a rotated square region of interest of a frame to a model's input (bilinear).

Our own code, following MediaPipe's ``ImageToTensorCalculator`` semantics: a region of interest
``(cx, cy, side, angle)`` (centre in pixel-centre coordinates, side in pixels, rotation in
radians, y down) is resampled to ``size x size`` pixels. For a reduction by 2x or more the frame
is first box-filtered by the integer factor (area averaging), so that downscaled inputs are not
aliased.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

Roi = tuple[float, float, float, float]


def roi_axes(roi: Roi, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre ``(2,)`` and the frame-pixel vectors ``ex``, ``ey`` ``(2,)`` of one crop pixel step."""
    cx, cy, side, angle = roi
    scale = side / size
    ex = scale * np.array([math.cos(angle), math.sin(angle)])
    ey = scale * np.array([-math.sin(angle), math.cos(angle)])
    return np.array([cx, cy], dtype=np.float64), ex, ey


def crop_to_frame(uv: np.ndarray, roi: Roi, size: int) -> np.ndarray:
    """Crop coordinates ``(K, 2)`` (edge convention: 0 = crop's left/top edge, ``size`` = right/bottom)
    -> frame pixels ``(K, 2)`` float64, pixel-centre convention."""
    centre, ex, ey = roi_axes(roi, size)
    u = np.asarray(uv, dtype=np.float64) - size / 2.0
    return centre + u[:, :1] * ex + u[:, 1:2] * ey


def sample_roi(frame: np.ndarray, roi: Roi, size: int, mode: str = "nearest") -> np.ndarray:
    """Resample the region of interest of one frame.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB.
        roi: ``(cx, cy, side, angle)``: centre (pixels, pixel-centre convention), side (pixels,
            > 0), rotation of the crop's x axis (radians, y down).
        size: output side, pixels.
        mode: outside the frame: ``"nearest"`` replicates the border, ``"constant"`` is black.

    Returns:
        ``(size, size, 3)`` float32 RGB in [0, 255].
    """
    cx, cy, side, angle = roi
    img = frame
    f = int(side // size)
    if f >= 2:  # area-average by the integer factor first (anti-aliasing)
        h, w = frame.shape[:2]
        ph, pw = (-h) % f, (-w) % f
        img = np.pad(frame, ((0, ph), (0, pw), (0, 0)), mode="edge").astype(np.float32)
        img = img.reshape((h + ph) // f, f, (w + pw) // f, f, 3).mean(axis=(1, 3))
        cx, cy, side = (cx - (f - 1) / 2.0) / f, (cy - (f - 1) / 2.0) / f, side / f
    centre, ex, ey = roi_axes((cx, cy, side, angle), size)
    u = np.arange(size, dtype=np.float64) + 0.5 - size / 2.0  # crop pixel centres about the crop centre
    gx = centre[0] + u[None, :] * ex[0] + u[:, None] * ey[0]  # (size, size) frame x per (row, col)
    gy = centre[1] + u[None, :] * ex[1] + u[:, None] * ey[1]
    out = np.empty((size, size, 3), dtype=np.float32)
    for ch in range(3):
        out[..., ch] = ndimage.map_coordinates(
            img[..., ch].astype(np.float32, copy=False), [gy, gx], order=1, mode=mode, cval=0.0
        )
    return out
