"""Dataset presets: one module per dataset (``mesh/`` 3D layouts, ``video/`` 2D layouts) and their
registry (see :mod:`talkzoo.data.presets.base`)."""

from talkzoo.data.presets.base import (
    KINDS,
    DatasetPreset,
    get_preset,
    prepare_help,
    prepare_presets,
    presets,
    register_preset,
    run_prepare,
)

__all__ = [
    "KINDS",
    "DatasetPreset",
    "get_preset",
    "prepare_help",
    "prepare_presets",
    "presets",
    "register_preset",
    "run_prepare",
]
