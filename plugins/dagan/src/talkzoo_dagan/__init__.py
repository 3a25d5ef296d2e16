"""talkzoo plugin: DaGAN (Hong, Zhang, Shen, Xu; depth-aware GAN for talking-head video generation).

Importing this package imports no torch. The model classes are exposed lazily:
``talkzoo_dagan.DaGAN`` and ``talkzoo_dagan.FaceDepth`` import :mod:`talkzoo_dagan.model` on first access.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DaGAN", "FaceDepth"]


def __getattr__(name: str) -> Any:
    """Lazily import the model classes so that the package stays torch-free."""
    if name in __all__:
        from talkzoo_dagan import model

        return getattr(model, name)
    raise AttributeError(f"module 'talkzoo_dagan' has no attribute {name!r}")
