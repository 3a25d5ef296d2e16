"""Metrics for talkzoo's task families, as :class:`torchmetrics.Metric` subclasses (DDP-safe).

Audio -> 3D mesh family (:mod:`talkzoo.metrics.mesh`): :class:`LipVertexError` (LVE, CodeTalker),
:class:`MeanVertexError` (MVE, FaceDiffuser), :class:`UpperFaceDynamicsDeviation` (FDD, CodeTalker),
and OT-Talk's millimetre errors :class:`LipMaxError`, :class:`LipMeanError`, :class:`FaceMeanError`,
:class:`HeadMeanError`, all built on :class:`RegionVertexError`. Vertex sets (lips, upper face)
are read by :mod:`talkzoo.metrics.regions`, which also holds the project's one restricted
unpickler, :func:`safe_load_pickle`. Each metric's ``log_name`` says which set it used
(``LVE@lip-flame``).
"""

from __future__ import annotations

from talkzoo.metrics.mesh import (
    FaceMeanError,
    HeadMeanError,
    LipMaxError,
    LipMeanError,
    LipVertexError,
    MeanVertexError,
    RegionVertexError,
    UpperFaceDynamicsDeviation,
)
from talkzoo.metrics.regions import load_vertex_indices, resolve_region, safe_load_pickle

__all__ = [
    "FaceMeanError",
    "HeadMeanError",
    "LipMaxError",
    "LipMeanError",
    "LipVertexError",
    "MeanVertexError",
    "RegionVertexError",
    "UpperFaceDynamicsDeviation",
    "load_vertex_indices",
    "resolve_region",
    "safe_load_pickle",
]
