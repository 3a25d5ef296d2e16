"""talkzoo: a PyTorch Lightning model zoo for talking-face generation.

Importing ``talkzoo`` imports no torch: plugin discovery (``talkzoo.plugins``) and the light
command verbs stay instant. The heavy parts live in ``talkzoo.tasks``, ``talkzoo.data``,
``talkzoo.audio``, ``talkzoo.metrics``, ``talkzoo.render`` and ``talkzoo.testing``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("talkzoo")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
