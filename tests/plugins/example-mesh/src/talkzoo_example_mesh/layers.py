"""The example model's building blocks (a paper's plugin keeps its custom layers here)."""

from __future__ import annotations

from torch import nn


class MLP(nn.Sequential):
    """``Linear(in → hidden) → ReLU → Linear(hidden → out)`` on the last dimension of ``(..., in)``."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
