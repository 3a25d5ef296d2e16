"""talkzoo plugin: DualTalker (Su, Yang, Li; cross-modal dual learning for speech-driven 3D faces).

Importing this package imports no torch. The model class is exposed lazily:
``talkzoo_dualtalker.DualTalker`` imports :mod:`talkzoo_dualtalker.model` on first access.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DualTalker"]


def __getattr__(name: str) -> Any:
    """Lazily import the model class (``DualTalker``) so that the package stays torch-free."""
    if name == "DualTalker":
        from talkzoo_dualtalker.model import DualTalker

        return DualTalker
    raise AttributeError(f"module 'talkzoo_dualtalker' has no attribute {name!r}")
