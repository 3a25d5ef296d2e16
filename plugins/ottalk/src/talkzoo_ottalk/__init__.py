"""talkzoo plugin: OT-Talk (Wang et al., ICMR 2025; speech-driven 3D talking heads with optimal transport).

Importing this package imports no torch. The model class is exposed lazily:
``talkzoo_ottalk.OTTalk`` imports :mod:`talkzoo_ottalk.model` on first access.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OTTalk"]


def __getattr__(name: str) -> Any:
    """Lazily import the model class (``OTTalk``) so that the package stays torch-free."""
    if name == "OTTalk":
        from talkzoo_ottalk.model import OTTalk

        return OTTalk
    raise AttributeError(f"module 'talkzoo_ottalk' has no attribute {name!r}")
