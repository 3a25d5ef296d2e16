"""The example model's loss terms (a paper's plugin keeps each equation's loss here)."""

from __future__ import annotations

from torch import Tensor

from talkzoo.nn.masked import masked_mean


def vertex_mse(prediction: Tensor, target: Tensor, frame_mask: Tensor) -> Tensor:
    """Mean squared vertex error over the real frames of a padded batch.

    Args:
        prediction, target: ``(B, T, V, 3)`` positions, metres.
        frame_mask: ``(B, T)`` bool, ``True`` on real frames.

    Returns:
        scalar, m².
    """
    return masked_mean((prediction - target) ** 2, frame_mask)
