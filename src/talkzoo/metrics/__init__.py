"""Metrics for talkzoo's task families, as :class:`torchmetrics.Metric` subclasses (DDP-safe).

Audio -> 3D mesh family (:mod:`talkzoo.metrics.mesh`): :class:`LipVertexError` (LVE, CodeTalker),
:class:`MeanVertexError` (MVE, FaceDiffuser), :class:`UpperFaceDynamicsDeviation` (FDD, CodeTalker),
and OT-Talk's millimetre errors :class:`LipMaxError`, :class:`LipMeanError`, :class:`FaceMeanError`,
:class:`HeadMeanError`, all built on :class:`RegionVertexError`. Vertex sets (lips, upper face)
are read by :mod:`talkzoo.metrics.regions`, which also holds the project's one restricted
unpickler, :func:`safe_load_pickle`. Each metric's ``log_name`` says which set it used
(``LVE@lip-flame``).

2D families (talking video, reenactment), imported on first use so ``import talkzoo.metrics`` stays
light: :class:`FrameL1`, :class:`FramePSNR`, :class:`FrameSSIM`, :class:`LPIPS`, :class:`CSIM`,
:class:`LandmarkDistance` (LMD), :class:`AverageKeypointDistance` (AKD),
:class:`AverageEuclideanDistance` (AED), :class:`CPBD`, :class:`PyIQA` (any pyiqa metric, local
weights), the builder :func:`video_metrics` and the one update loop :func:`update_video_metrics`
over :class:`VideoMetricInputs` (every 2D metric declares what it ``reads``) (:mod:`talkzoo.metrics.video`);
:class:`FrechetInceptionDistance` (FID), :class:`FrechetVideoDistance` (FVD) and
:func:`frechet_distance` (:mod:`talkzoo.metrics.frechet`); :class:`SyncNetLSE` (LSE-D / LSE-C),
:class:`SyncNet`, :func:`sync_scores` (:mod:`talkzoo.metrics.syncnet`).
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

_LAZY = {
    "video": (
        "CPBD",
        "CSIM",
        "LPIPS",
        "AverageEuclideanDistance",
        "AverageKeypointDistance",
        "FrameL1",
        "FramePSNR",
        "FrameSSIM",
        "LandmarkDistance",
        "PyIQA",
        "VideoMetricInputs",
        "cpbd_score",
        "update_video_metrics",
        "video_metrics",
    ),
    "frechet": ("FrechetFeatureDistance", "FrechetInceptionDistance", "FrechetVideoDistance", "frechet_distance"),
    "syncnet": ("SyncNet", "SyncNetLSE", "SyncScores", "load_syncnet", "sync_scores", "syncnet_embeddings", "syncnet_mfcc"),
}
_LAZY_NAMES = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str):
    """Import the 2D-family metrics on first access (``talkzoo.metrics.FrechetVideoDistance``)."""
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'talkzoo.metrics' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"talkzoo.metrics.{module}"), name)
    globals()[name] = value
    return value


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
    *sorted(_LAZY_NAMES),
]
