"""Default optimizers of talkzoo models (callables ``params -> Optimizer``, as recipes' ``optimizer``).

A model's ``optimizer`` argument is a callable from parameters to a ``torch.optim.Optimizer``
(LightningCLI's ``OptimizerCallable``); a recipe replaces it with
``optimizer: {class_path: torch.optim.Adam, init_args: {lr: 2.0e-4}}``. These are the defaults
when a recipe names none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

__all__ = ["adam", "adamw"]


def adam(params: Iterable[Any], lr: float = 1e-4) -> torch.optim.Optimizer:
    """Adam with learning rate ``lr`` (default 1e-4: FaceFormer's and DualTalker's setting, Sec. IV-A).

    Args:
        params: parameters or parameter groups.
        lr: learning rate.

    Returns:
        ``torch.optim.Adam`` (betas 0.9/0.999, eps 1e-8, no weight decay).
    """
    return torch.optim.Adam(params, lr=lr)


def adamw(params: Iterable[Any], lr: float = 1e-4, weight_decay: float = 1e-2) -> torch.optim.Optimizer:
    """AdamW (Loshchilov & Hutter, ICLR 2019) with learning rate ``lr`` and decoupled ``weight_decay``.

    Default lr 1e-4 and weight decay 1e-2 (PyTorch's default decay); OT-Talk's default (its paper
    names AdamW but its values were lost in the text).

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        weight_decay: decoupled weight decay.

    Returns:
        ``torch.optim.AdamW``.
    """
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
