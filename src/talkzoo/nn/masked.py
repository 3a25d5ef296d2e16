"""Reductions over the real frames of right-padded batches.

talkzoo batches are right-padded: a ``(B, T)`` bool mask is ``True`` on real frames
(:mod:`talkzoo.data.batch`). Losses and statistics must ignore the padding exactly; these
helpers are the one implementation of that.
"""

from __future__ import annotations

import math

from torch import Tensor

__all__ = ["masked_mean", "masked_sum"]


def _broadcast_mask(values: Tensor, mask: Tensor) -> Tensor:
    """``mask`` (a prefix of ``values.shape``) as ``values.dtype`` with trailing singleton dims."""
    if tuple(values.shape[: mask.dim()]) != tuple(mask.shape):
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not lead values of shape {tuple(values.shape)}")
    return mask.to(values.dtype).reshape(*mask.shape, *([1] * (values.dim() - mask.dim())))


def _dims(values: Tensor, dim: int | tuple[int, ...] | None) -> tuple[int, ...] | None:
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(d % values.dim() for d in dims)


def masked_sum(values: Tensor, mask: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    """Sum of ``values`` over the entries whose mask is ``True``.

    Args:
        values: ``(*M, *E)`` floats, ``M`` the mask's shape (e.g. ``(B, T)``), ``E`` any trailing
            shape (channels, vertices, pixels).
        mask: ``M``-shaped bool (``True`` = real).
        dim: dimension(s) of ``values`` to reduce; ``None`` = all.

    Returns:
        the masked sum, ``values.dtype``; padded entries contribute exactly nothing (unless they
        hold ``inf``/``NaN``).

    Raises:
        ValueError: ``mask``'s shape is not a prefix of ``values``'s.
    """
    weighted = values * _broadcast_mask(values, mask)
    dims = _dims(values, dim)
    return weighted.sum() if dims is None else weighted.sum(dim=dims)


def masked_mean(values: Tensor, mask: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    """Mean of ``values`` over the entries whose mask is ``True``: ``Σ m·v / Σ m`` (count at least 1).

    The count is the number of real mask entries in the reduced dimensions times the size of the
    reduced trailing dimensions, so ``masked_mean(x (B, T, C), mask (B, T), dim=(1, 2))`` is each
    sequence's mean over its real frames and all channels (DualTalker's per-sequence losses), and
    ``masked_mean(x (B, T), mask)`` pools every real frame of the batch (OT-Talk's losses, the
    frame-weighted convention of CodeTalker's metrics).

    Args:
        values: ``(*M, *E)`` floats, ``M`` the mask's shape.
        mask: ``M``-shaped bool (``True`` = real).
        dim: dimension(s) of ``values`` to reduce; ``None`` = all.

    Returns:
        the masked mean over ``dim`` (``values.dtype``); ``0`` where no entry is real.

    Raises:
        ValueError: ``mask``'s shape is not a prefix of ``values``'s.
    """
    m = _broadcast_mask(values, mask)
    dims = _dims(values, dim)
    if dims is None:
        total, count = (values * m).sum(), m.sum()
        trailing = math.prod(values.shape[mask.dim():])
    else:
        total = (values * m).sum(dim=dims)
        count = m.sum(dim=dims)
        trailing = math.prod(values.shape[d] for d in dims if d >= mask.dim())
    if trailing != 1:
        count = count * trailing
    return total / count.clamp(min=1)
