"""Sinusoidal positional encodings, plain and periodic, for any sequence length.

Source: Vaswani et al., "Attention Is All You Need" (NeurIPS 2017), Sec. 3.5 (the sinusoidal
encoding); FaceFormer (Fan et al., CVPR 2022), Sec. 3.2 (the periodic variant, PPE, used by
DualTalker). Both are computed on the fly from the positions, so there is no maximum length.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from talkzoo.errors import ConfigError

__all__ = ["sinusoidal_encoding"]


def sinusoidal_encoding(positions: Tensor, dim: int, period: int | None = None) -> Tensor:
    """Sinusoidal positional encoding of integer positions, optionally periodic.

    With ``p = pos`` (or ``p = pos mod period`` when ``period`` is given: FaceFormer's PPE),
    channel ``2i`` is ``sin(p / 10000^(2i/dim))`` and channel ``2i+1`` is ``cos(p / 10000^(2i/dim))``
    (an odd ``dim`` ends on a sine channel).

    Args:
        positions: ``(T,)`` int64 positions ``>= 0`` (frame indices), on the device of the result.
        dim: encoding width ``d >= 1``.
        period: period in frames (DualTalker: the mesh frame rate); ``None`` = not periodic.

    Returns:
        ``(T, dim)`` float32 encoding on ``positions.device``.

    Raises:
        ConfigError: ``period < 1``.
    """
    if period is not None:
        if period < 1:
            raise ConfigError(f"positional-encoding period must be >= 1, got {period}")
        positions = torch.remainder(positions, period)
    pos = positions.to(torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) * (-math.log(10000.0) / dim))
    pe = torch.zeros(positions.shape[0], dim, dtype=torch.float32, device=positions.device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe
