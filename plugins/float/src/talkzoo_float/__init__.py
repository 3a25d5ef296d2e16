"""talkzoo plugin: FLOAT (Ki, Min, Chae; ICCV 2025) — motion auto-encoder + flow-matching transformer.

Importing this package imports no torch. The model classes are exposed lazily:
``talkzoo_float.FLOAT`` and ``talkzoo_float.FLOATMotionAutoEncoder`` import
:mod:`talkzoo_float.model` on first access.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FLOAT", "FLOATMotionAutoEncoder"]


def __getattr__(name: str) -> Any:
    """Lazily import the model classes so that the package stays torch-free."""
    if name in __all__:
        from talkzoo_float import model

        return getattr(model, name)
    raise AttributeError(f"module 'talkzoo_float' has no attribute {name!r}")
