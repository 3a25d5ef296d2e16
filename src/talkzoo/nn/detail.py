"""Working-resolution outputs brought back to the data's resolution with the source's fine detail.

The CPU demo recipes of the 2D plugins run their networks at a reduced *working* size (64 or 128
px) and upsample the output to the corpus's 256 px for the metrics. Plain upsampling leaves a
blurred face (a face detector may no longer find it, and every sharp edge counts against L1, PSNR
and landmark metrics). Here the detail that the working-size round trip removes from the *source*
image, ``source - up(down(source))``, is added back to the upsampled output; for warping models
(FLOAT's flow-warping decoder, DaGAN's dense motion) it is first moved by the model's own sampling
grid and weighted by its occlusion mask, so the added detail follows the predicted motion.

This is a talkzoo choice for reduced-size runs (no paper in the zoo does it; it is off in every
paper recipe): with the working size equal to the data size the functions return the output
unchanged.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from talkzoo.errors import DataError

__all__ = ["resize_square", "detail_layer", "upsample_with_detail"]


def resize_square(images: Tensor, size: int) -> Tensor:
    """Bilinear resize of ``(N, C, H, W)`` to ``(N, C, size, size)``; anti-aliased when shrinking.

    Returns the input itself when it already has that size. Any float dtype; values unchanged in range.
    """
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    shrink = size < images.shape[-1]
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)


def detail_layer(source: Tensor, working_size: int) -> Tensor:
    """The fine detail a working-size round trip removes: ``source - up(down(source))``.

    Args:
        source: ``(N, C, H, W)`` float image (any value range; the result is in the same units).
        working_size: side in pixels of the networks' working resolution.

    Returns:
        ``(N, C, H, W)`` detail, zero when ``working_size`` equals the source size.
    """
    low = resize_square(source, working_size)
    return source - F.interpolate(low, size=source.shape[-2:], mode="bilinear", align_corners=False)


def upsample_with_detail(low: Tensor, source: Tensor, grid: Tensor | None = None, weight: Tensor | None = None) -> Tensor:
    """Upsample a working-size output to the source's size and add the source's fine detail.

    ``out = up(low) + up(weight) · warp(detail_layer(source), up(grid))`` where ``warp`` is
    ``grid_sample`` (bilinear, border padding, ``align_corners=True``, the convention of FLOAT's and
    DaGAN's warps). Without ``grid`` the detail is added where it is (a still source, as AMIE's
    generator); without ``weight`` it is added everywhere.

    Args:
        low: ``(N, C, r, r)`` network output at the working size ``r``.
        source: ``(N, C, H, W)`` source image at the output size, same value range as ``low``.
        grid: optional ``(N, h, w, 2)`` sampling grid in [-1, 1] (x, y) that maps output pixels to
            source positions, at any resolution (bilinearly resized to ``H x W``).
        weight: optional ``(N, 1, h', w')`` occlusion / visibility weight in [0, 1].

    Returns:
        ``(N, C, H, W)`` in the units of ``low``; not clamped (callers clamp to their range).

    Raises:
        DataError: ``low`` and ``source`` disagree in batch or channel size.
    """
    if low.shape[:2] != source.shape[:2]:
        raise DataError(f"upsample_with_detail: output {tuple(low.shape)} and source {tuple(source.shape)} "
                        "must agree in batch and channels")
    size = source.shape[-2:]
    up = F.interpolate(low, size=size, mode="bilinear", align_corners=False) if low.shape[-2:] != size else low
    if low.shape[-1] == source.shape[-1] and low.shape[-2] == source.shape[-2]:
        return up
    detail = detail_layer(source, low.shape[-1])
    if grid is not None:
        g = grid.permute(0, 3, 1, 2)
        if g.shape[-2:] != size:
            g = F.interpolate(g, size=size, mode="bilinear", align_corners=True)
        detail = F.grid_sample(detail, g.permute(0, 2, 3, 1), mode="bilinear", padding_mode="border", align_corners=True)
    if weight is not None:
        if weight.shape[-2:] != size:
            weight = F.interpolate(weight, size=size, mode="bilinear", align_corners=False)
        detail = detail * weight
    return up + detail
