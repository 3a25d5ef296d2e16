"""Vertex-error metrics for the audio -> 3D mesh family (LVE, MVE, FDD, OT-Talk's errors).

The family's metric collection is assembled in one place, :func:`build_mesh_metrics` (used by the
task, OT-Talk and the leaderboard), named by :func:`region_log_name` and updated by
:func:`update_mesh_metrics`.

All metrics are :class:`torchmetrics.Metric` subclasses whose states are add-reduced sums
(a float64 sum of per-frame or per-sequence values and a count), so they are exact across
``update`` calls, across batches of any padding and across DDP processes: the value after
``compute()`` equals the single-process value on all data, up to float64 round-off.

Inputs (every metric)
---------------------
``preds`` and ``target``: ``(B, T, V, 3)`` (or ``(T, V, 3)`` for one sequence) float vertex
positions in the dataset's units (metres for VOCASET, BIWI's normalised units for BIWI).
``mask``: optional ``(B, T)`` (or ``(T,)``) bool, ``True`` on real frames as in
:class:`talkzoo.data.batch` (padding frames, whatever they hold, even NaN, are ignored exactly).
Predictions must already be cut to the ground-truth length (CodeTalker's ``pred[:T_gt]``).
Internally the region's coordinates are cast to float64 before differencing.

Pooling
-------
Frame metrics (LVE, MVE, the OT-Talk errors) pool over *all real frames of all sequences*:
``value = sum_frames e_f / n_frames``. This is what CodeTalker's ``main/cal_metric.py`` does (it
concatenates the frames of all test sequences, then takes the max over lips per frame and the
mean over frames), and what FaceDiffuser's ``evaluation/compute_objective_metrics.py`` does for MVE
(it also concatenates the frames, then ``np.mean(np.linalg.norm(gt - pred, axis=2))``). The prior-art
note's "MVE = mean over sequences" (specs/prior_art_talking_face.md §3.3) describes the result,
but the code is frame-weighted. FDD is different: it is computed per sequence and then averaged
over sequences (unweighted), as CodeTalker does.

Units
-----
``scale`` multiplies the result: 1.0 reports dataset units; 1e4 gives the "x1e-4" numbers of
BIWI LVE tables, 1e5 the "x1e-5" VOCASET LVE / FDD tables (CodeTalker, SelfTalk, DualTalker);
1000 turns metres into millimetres (OT-Talk, default for its metrics). Squared metrics
(CodeTalker LVE and FDD) are in squared units, so e.g. VOCASET LVE is in m^2; papers loosely
call them "mm". A scale of 1e3 on a squared metric is *not* mm^2 (that would be 1e6).

Why not ``torchmetrics.multimodal.LipVertexError``?
---------------------------------------------------
torchmetrics >= 1.8 has a ``LipVertexError`` with the same per-frame formula (max over lips of
the squared L2, mean over frames), but it takes one ``(T, V, 3)`` sequence per update with no
padding mask, keeps every update's full vertex tensors as list states (the whole test set in
memory, then all-gathered across GPUs), and has no Euclidean variant; talkzoo also supports
torchmetrics >= 1.4. So LVE is implemented here with sum states; the tests check it against
``torchmetrics.functional.multimodal.lip_vertex_error`` where that exists.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection

from talkzoo.errors import ConfigError
from talkzoo.metrics.regions import RegionLike, resolve_region

if TYPE_CHECKING:
    from talkzoo.data.batch import MeshBatch
    from talkzoo.data.spec import MeshDataSpec

__all__ = [
    "ALL_MESH_METRICS",
    "FAMILY_MESH_METRICS",
    "OTTALK_MESH_METRICS",
    "build_mesh_metrics",
    "region_log_name",
    "update_mesh_metrics",
    "FaceMeanError",
    "HeadMeanError",
    "LipMaxError",
    "LipMeanError",
    "LipVertexError",
    "MeanVertexError",
    "RegionVertexError",
    "UpperFaceDynamicsDeviation",
]

Reduction = Literal["max", "mean"]


def _default_region_name(region: RegionLike) -> str:
    """A readable set name when the caller gives none: ``all``, the file stem (+key), or ``custom``."""
    if region is None:
        return "all"
    if isinstance(region, (str, Path)):
        text = str(region)
        path, _, keys = text.rpartition("#") if "#" in text else (text, "", "")
        stem = Path(path).stem
        return f"{stem}-{keys}" if keys else stem
    return "custom"


def _as_batch(x: Tensor, name: str) -> Tensor:
    """``(T, V, 3)`` -> ``(1, T, V, 3)``; check the ``(B, T, V, 3)`` layout."""
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape (B, T, V, 3) or (T, V, 3), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a float tensor of vertex positions, got {x.dtype}")
    return x


def _as_mask(mask: Tensor | None, batch: int, frames: int, device: torch.device) -> Tensor:
    """Return a ``(B, T)`` bool mask (all True when None)."""
    if mask is None:
        return torch.ones(batch, frames, dtype=torch.bool, device=device)
    if mask.ndim == 1:
        mask = mask.unsqueeze(0)
    if tuple(mask.shape) != (batch, frames):
        raise ValueError(f"mask: expected shape ({batch}, {frames}), got {tuple(mask.shape)}")
    return mask.to(device=device, dtype=torch.bool)


class _RegionMetric(Metric):
    """Common part: holds the region index buffer and builds the logged name.

    Attributes:
        region_name: name of the vertex set (``lip-flame``, ``upper-biwi``, ``all``).
        log_name: ``<abbrev>@<region_name>``, the key to log the value under.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = False
    _abbrev = "VE"

    def __init__(
        self,
        region: RegionLike = None,
        region_name: str | None = None,
        *,
        num_vertices: int | None = None,
        scale: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        index = resolve_region(region, num_vertices=num_vertices)
        self.region_name = region_name if region_name is not None else _default_region_name(region)
        self.num_vertices = num_vertices
        self.scale = float(scale)
        # Not persistent: the index set is configuration, not state, and must not clash with
        # checkpoints written with another set.
        self.register_buffer("region_index", index, persistent=False)

    @property
    def log_name(self) -> str:
        """Name to log the value under, saying which vertex set was used (``LVE@lip-flame``)."""
        return f"{self._abbrev}@{self.region_name}"

    def _select(self, x: Tensor) -> Tensor:
        """Gather the region's vertices of ``(B, T, V, 3)`` positions, as float64."""
        v = x.shape[2]
        if self.num_vertices is not None and v != self.num_vertices:
            raise ValueError(f"{self.log_name}: expected {self.num_vertices} vertices, got {v}")
        idx = self.region_index
        if idx is not None:
            if int(idx.max()) >= v:
                raise ValueError(
                    f"{self.log_name}: region index {int(idx.max())} is out of range for a mesh "
                    f"of {v} vertices"
                )
            x = x.index_select(2, idx.to(x.device))
        return x.detach().to(torch.float64)


class RegionVertexError(_RegionMetric):
    r"""Frame-pooled vertex error over a region: the shared implementation of LVE/MVE/OT-Talk errors.

    Per real frame f, with :math:`d_{f,v} = \lVert \hat x_{f,v} - x_{f,v} \rVert_2` over the
    region's vertices v:

    .. math::
        e_f = \operatorname{red}_{v \in R} d_{f,v}^{\,p},\qquad
        \text{value} = \text{scale} \cdot \frac{\sum_f e_f}{N_{\text{frames}}}

    with ``red`` = max or mean (``reduction``) and p = 2 if ``squared`` else 1, pooled over all
    real frames of all sequences (see the module docstring).

    Args:
        region: vertex indices (tensor / list / ndarray), an index file or ``"<path>#<key>"``
            (see :mod:`talkzoo.metrics.regions`), or None for all vertices.
        region_name: name of the set for :attr:`log_name` (``lip-flame``, ``lip-demo``); defaults
            to ``all``, the file stem, or ``custom``.
        reduction: ``"max"`` or ``"mean"`` over the region's vertices per frame.
        squared: use the squared L2 distance (sum of squared xyz differences) instead of the
            Euclidean one.
        scale: factor applied by ``compute`` (1e4 for "x1e-4" tables, 1000 for m -> mm).
        num_vertices: expected V; checks the region and every update when given.
        abbrev: the metric's short name, the part of :attr:`log_name` before ``@``.
        **kwargs: passed to :class:`torchmetrics.Metric` (``sync_on_compute``, ...).

    States: ``total`` (float64, sum of per-frame errors) and ``frames`` (int64 count), both
    ``sum``-reduced across processes.

    Raises:
        ValueError: bad ``reduction``; in ``update``, shapes that are not ``(B, T, V, 3)`` /
            ``(T, V, 3)`` and equal, a mask that is not ``(B, T)``, or a region index ``>= V``.
        talkzoo.errors.DataError: a bad region (see :func:`~talkzoo.metrics.regions.resolve_region`).
    """

    def __init__(
        self,
        region: RegionLike = None,
        region_name: str | None = None,
        *,
        reduction: Reduction = "mean",
        squared: bool = False,
        scale: float = 1.0,
        num_vertices: int | None = None,
        abbrev: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(region, region_name, num_vertices=num_vertices, scale=scale, **kwargs)
        if reduction not in ("max", "mean"):
            raise ValueError(f"reduction: expected 'max' or 'mean', got {reduction!r}")
        self.reduction = reduction
        self.squared = bool(squared)
        if abbrev is not None:
            self._abbrev = abbrev
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("frames", default=torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def per_frame(self, preds: Tensor, target: Tensor) -> Tensor:
        """Per-frame errors ``e_f`` before pooling and scaling.

        Args:
            preds: ``(B, T, V, 3)`` or ``(T, V, 3)`` float predicted vertex positions.
            target: same shape, ground truth.

        Returns:
            ``(B, T)`` float64 tensor of per-frame errors in dataset units (squared if ``squared``).
        """
        preds, target = _as_batch(preds, "preds"), _as_batch(target, "target")
        if preds.shape != target.shape:
            raise ValueError(
                f"{self.log_name}: preds {tuple(preds.shape)} and target {tuple(target.shape)} "
                "must have the same shape (cut predictions to the ground-truth length first)"
            )
        dist = (self._select(preds) - self._select(target)).square().sum(dim=-1)  # (B, T, R)
        if not self.squared:
            dist = dist.sqrt()
        return dist.amax(dim=-1) if self.reduction == "max" else dist.mean(dim=-1)

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Add a batch of sequences.

        Args:
            preds: ``(B, T, V, 3)`` or ``(T, V, 3)`` float predicted vertex positions (dataset units).
            target: same shape, ground truth.
            mask: ``(B, T)`` or ``(T,)`` bool, True on real frames; None = all frames real.
        """
        err = self.per_frame(preds, target)
        valid = _as_mask(mask, err.shape[0], err.shape[1], err.device)
        self.total += torch.where(valid, err, torch.zeros((), dtype=err.dtype, device=err.device)).sum()
        self.frames += valid.sum()

    def compute(self) -> Tensor:
        """Return ``scale * total / frames`` as a float64 scalar (NaN when no frame was seen)."""
        if int(self.frames) == 0:
            return torch.tensor(float("nan"), dtype=torch.float64, device=self.total.device)
        return self.total / self.frames * self.scale


class LipVertexError(RegionVertexError):
    r"""Lip Vertex Error (LVE), CodeTalker's convention by default.

    Per frame, the max over lip vertices of the **squared** L2 error, averaged over all real
    frames of all sequences:
    :math:`\text{LVE} = \frac{1}{N}\sum_f \max_{v\in\text{lip}} \lVert \hat x_{f,v}-x_{f,v}\rVert_2^2`.

    Sources: FaceFormer (Fan et al., CVPR 2022) §4 and its issue #14 ("for each frame, the maximal
    L2 error of all lip vertices ... average over all frames"); CodeTalker (Xing et al., CVPR 2023)
    ``main/cal_metric.py`` squares the distance and pools frames of all sequences; DualTalker
    Table I uses the same code. Tables report x1e-4 (BIWI, ``scale=1e4``) or x1e-5 (VOCASET,
    ``scale=1e5``) in squared dataset units. ``squared=False`` gives the Euclidean max, OT-Talk's
    "maximal lip vertex error" (see :class:`LipMaxError`).

    Args:
        region: the lip vertex set (indices, file, ``"<path>#<key>"``); required.
        region_name: name for :attr:`log_name`, e.g. ``lip-flame`` -> ``LVE@lip-flame``.
        squared: True (default) = CodeTalker's squared L2; False = Euclidean.
        scale: factor on the result (default 1.0, dataset units).
        num_vertices: expected V (5023 VOCASET, 23370 BIWI), checked when given.
        **kwargs: see :class:`RegionVertexError`.

    ``update(preds, target, mask=None)`` and ``compute()`` as :class:`RegionVertexError`.

    Raises:
        ValueError: ``region`` is None; bad shapes in ``update``.
        talkzoo.errors.DataError: a bad region.
    """

    _abbrev = "LVE"

    def __init__(
        self,
        region: RegionLike,
        region_name: str | None = None,
        *,
        squared: bool = True,
        scale: float = 1.0,
        num_vertices: int | None = None,
        **kwargs: Any,
    ) -> None:
        if region is None:
            raise ValueError(f"{type(self).__name__}: a lip region is required (got None)")
        kwargs.setdefault("abbrev", self._abbrev)
        super().__init__(
            region, region_name, reduction="max", squared=squared, scale=scale,
            num_vertices=num_vertices, **kwargs,
        )


class MeanVertexError(RegionVertexError):
    r"""Mean Vertex Error (MVE): per frame, the mean over vertices of the Euclidean error.

    :math:`\text{MVE} = \frac{1}{N}\sum_f \frac{1}{|R|}\sum_{v\in R} \lVert \hat x_{f,v}-x_{f,v}\rVert_2`
    over all real frames of all sequences; R = all vertices by default.

    Convention source: FaceDiffuser (Stan et al., MIG 2023) ``evaluation/compute_objective_metrics.py``,
    the MVE reused by the "Wild West" benchmark (galib360/face-benchmark-project): Euclidean (not
    squared) distance, all vertices, frames of all sequences concatenated. ``squared=True`` gives
    the mean squared vertex distance some training losses use.

    Args:
        region: vertex set, or None (default) for the whole mesh.
        region_name: name for :attr:`log_name` (``MVE@all`` by default).
        squared: False (default) = Euclidean; True = squared L2.
        scale: factor on the result (default 1.0, dataset units; 1000 for mm on VOCASET).
        num_vertices: expected V, checked when given.
        **kwargs: see :class:`RegionVertexError`.
    """

    _abbrev = "MVE"

    def __init__(
        self,
        region: RegionLike = None,
        region_name: str | None = None,
        *,
        squared: bool = False,
        scale: float = 1.0,
        num_vertices: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("abbrev", self._abbrev)
        super().__init__(
            region, region_name, reduction="mean", squared=squared, scale=scale,
            num_vertices=num_vertices, **kwargs,
        )


class _OTTalkError(RegionVertexError):
    """OT-Talk's Euclidean errors in millimetres (VOCASET metres x 1000)."""

    _reduction: Reduction = "mean"
    _region_required = True

    def __init__(
        self,
        region: RegionLike = None,
        region_name: str | None = None,
        *,
        scale: float = 1000.0,
        num_vertices: int | None = None,
        **kwargs: Any,
    ) -> None:
        if region is None and self._region_required:
            raise ValueError(f"{type(self).__name__}: a vertex region is required (got None)")
        kwargs.setdefault("abbrev", self._abbrev)
        kwargs.setdefault("squared", False)
        super().__init__(
            region, region_name, reduction=self._reduction, scale=scale,
            num_vertices=num_vertices, **kwargs,
        )


class LipMaxError(_OTTalkError):
    r"""OT-Talk's maximal lip vertex error (LVE_max), in mm by default.

    Per frame, the max over lip vertices of the **Euclidean** distance, averaged over frames:
    :math:`\frac{1}{N}\sum_f \max_{v\in\text{lip}}\lVert\hat x_{f,v}-x_{f,v}\rVert_2`. Equal to
    ``LipVertexError(squared=False, scale=1000)``.

    Source: OT-Talk §4.1 ("maximum Euclidean distance between vertices in the lip region ...
    averages this error across frames"), Table 1 column 1, "VOCASET Dataset (mm)"; lips from
    FLAME_masks.pkl (see specs/dualtalker_ottalk.md B5).

    Args:
        region: lip vertex set (required); region_name: e.g. ``lip-flame``;
        scale: default 1000 (metres -> mm); num_vertices: expected V.
        **kwargs: see :class:`RegionVertexError` (``squared`` may be overridden).
    """

    _abbrev = "LipMax"
    _reduction = "max"


class LipMeanError(_OTTalkError):
    r"""OT-Talk's mean lip vertex error (LVE_mean), in mm by default.

    :math:`\frac{1}{N}\sum_f \frac{1}{|L|}\sum_{v\in L}\lVert\hat x_{f,v}-x_{f,v}\rVert_2`.
    Source: OT-Talk §4.1 ("average Euclidean distance over lip vertices"), Table 1 column 2.
    Arguments as :class:`LipMaxError`.
    """

    _abbrev = "LipMean"


class FaceMeanError(_OTTalkError):
    r"""OT-Talk's face error: mean Euclidean distance over the face-region vertices, in mm by default.

    Source: OT-Talk §4.1 ("average Euclidean distance over the inner face region", FLAME ``face``
    mask on VOCASET), Table 1 column 3. Arguments as :class:`LipMaxError` with the face set as
    ``region`` (e.g. ``"FLAME_masks.pkl#face"``, ``region_name="face-flame"``).
    """

    _abbrev = "FaceMean"


class HeadMeanError(_OTTalkError):
    r"""OT-Talk's head error: mean Euclidean distance over all head vertices, in mm by default.

    Source: OT-Talk §4.1 ("average Euclidean distance over all head vertices"), Table 1 column 4.
    Same formula as :class:`MeanVertexError` with ``scale=1000``. ``region`` defaults to None
    (all vertices, ``HeadMean@all``).
    """

    _abbrev = "HeadMean"
    _region_required = False


class UpperFaceDynamicsDeviation(_RegionMetric):
    r"""Upper-face Dynamics Deviation (FDD), CodeTalker's convention by default.

    For each sequence s with real frames f = 1..T_s and motion :math:`m_{f,v} = x_{f,v} - \bar x_v`
    (displacement from the subject's neutral template :math:`\bar x`), per upper-face vertex v:

    .. math::
        \text{dyn}_v(x) = \operatorname{std}_f \lVert m_{f,v} \rVert_2^{\,p},\qquad
        \text{dyn}(x) = \frac{1}{|U|}\sum_{v\in U} \text{dyn}_v(x),\qquad
        \text{FDD} = \frac{1}{S}\sum_s \big(\text{dyn}(x_s) - \text{dyn}(\hat x_s)\big)

    with the population std (ddof 0, NumPy's default), p = 2 when ``squared`` (default), and
    ``|dyn(x) - dyn(x̂)|`` per sequence when ``absolute``. **Pooling: per sequence, then the
    unweighted mean over sequences** (not frame-weighted), as CodeTalker does.

    Sources: CodeTalker (Xing et al., CVPR 2023) Eq. 12 defines dyn as the std of the element-wise
    L2 norm; its ``main/cal_metric.py`` squares the norm (``np.square`` summed over xyz) and signs
    the difference GT - pred; that code produces the published numbers (x1e-5), so
    ``squared=True`` is the default and ``squared=False`` is the paper's text. ``absolute=True`` is
    FaceDiffuser's "ABS FDD". Sets: BIWI ``regions/fdd.txt`` (7784), VOCASET
    ``forehead ∪ eye_region`` of FLAME_masks.pkl (DiffSpeaker) — see :mod:`talkzoo.metrics.regions`.
    Signed FDD > 0 means the prediction moves the upper face less than the ground truth.

    Args:
        region: the upper-face vertex set; required.
        region_name: name for :attr:`log_name` (``FDD@upper-biwi``; ``ABS-FDD@...`` if absolute).
        squared: True (default) = std of the squared norm of the motion (CodeTalker code).
        absolute: average ``|dyn_gt - dyn_pred|`` instead of the signed difference.
        scale: factor on the result (1e5 for the "x1e-5" tables); default 1.0.
        num_vertices: expected V, checked when given.
        **kwargs: passed to :class:`torchmetrics.Metric`.

    States: ``total`` (float64 sum of per-sequence deviations) and ``sequences`` (int64), both
    ``sum``-reduced. A sequence with no real frame is skipped; one real frame gives std 0.

    Raises:
        ValueError: ``region`` is None; in ``update``, mismatched shapes, a template that is
            not ``(B, V, 3)`` / ``(V, 3)``, a bad mask, or a region index ``>= V``.
        talkzoo.errors.DataError: a bad region.
    """

    _abbrev = "FDD"

    def __init__(
        self,
        region: RegionLike,
        region_name: str | None = None,
        *,
        squared: bool = True,
        absolute: bool = False,
        scale: float = 1.0,
        num_vertices: int | None = None,
        **kwargs: Any,
    ) -> None:
        if region is None:
            raise ValueError(f"{type(self).__name__}: an upper-face region is required (got None)")
        super().__init__(region, region_name, num_vertices=num_vertices, scale=scale, **kwargs)
        self.squared = bool(squared)
        self.absolute = bool(absolute)
        if self.absolute:
            self._abbrev = "ABS-FDD"
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("sequences", default=torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")

    def _dynamics(self, verts: Tensor, template: Tensor, valid: Tensor) -> Tensor:
        """``(B, T, V, 3)`` vertices -> ``(B,)`` float64 mean over region of the per-vertex std."""
        motion = self._select(verts) - template[:, None]  # (B, T, R, 3)
        e = motion.square().sum(dim=-1)  # (B, T, R)
        if not self.squared:
            e = e.sqrt()
        w = valid[:, :, None]
        zero = torch.zeros((), dtype=e.dtype, device=e.device)
        e = torch.where(w, e, zero)  # padding may hold NaN: replace, never multiply
        n = valid.sum(dim=1).clamp_min(1).to(e.dtype)[:, None]  # (B, 1)
        mean = e.sum(dim=1) / n  # (B, R)
        dev = torch.where(w, e - mean[:, None], zero)
        std = (dev.square().sum(dim=1) / n).sqrt()  # (B, R), population std
        return std.mean(dim=-1)

    def update(self, preds: Tensor, target: Tensor, template: Tensor, mask: Tensor | None = None) -> None:
        """Add a batch of sequences.

        Args:
            preds: ``(B, T, V, 3)`` or ``(T, V, 3)`` float predicted vertex positions.
            target: same shape, ground truth.
            template: ``(B, V, 3)`` or ``(V, 3)`` neutral template of each sequence's subject,
                same units.
            mask: ``(B, T)`` or ``(T,)`` bool, True on real frames; None = all real.
        """
        preds, target = _as_batch(preds, "preds"), _as_batch(target, "target")
        if preds.shape != target.shape:
            raise ValueError(
                f"{self.log_name}: preds {tuple(preds.shape)} and target {tuple(target.shape)} "
                "must have the same shape"
            )
        b, t, v, _ = preds.shape
        if template.ndim == 2:
            template = template.unsqueeze(0).expand(b, -1, -1)
        if template.ndim != 3 or template.shape[0] != b or template.shape[1:] != (v, 3):
            raise ValueError(
                f"{self.log_name}: template: expected shape ({b}, {v}, 3) or ({v}, 3), "
                f"got {tuple(template.shape)}"
            )
        valid = _as_mask(mask, b, t, preds.device)
        tmpl = self._select(template[:, None])[:, 0]  # (B, R, 3) float64
        diff = self._dynamics(target, tmpl, valid) - self._dynamics(preds, tmpl, valid)
        if self.absolute:
            diff = diff.abs()
        has_frames = valid.any(dim=1)
        self.total += torch.where(has_frames, diff, torch.zeros_like(diff)).sum()
        self.sequences += has_frames.sum()

    def compute(self) -> Tensor:
        """Return ``scale * total / sequences`` as a float64 scalar (NaN when no sequence was seen)."""
        if int(self.sequences) == 0:
            return torch.tensor(float("nan"), dtype=torch.float64, device=self.total.device)
        return self.total / self.sequences * self.scale


# ---------------------------------------------------------------------- the family's metric set
#: metrics every audio -> mesh task logs (:class:`~talkzoo.tasks.mesh.AudioToMeshTask`).
FAMILY_MESH_METRICS: tuple[str, ...] = ("MVE", "LVE", "FDD")
#: OT-Talk's millimetre errors (its Table 1).
OTTALK_MESH_METRICS: tuple[str, ...] = ("LipMax", "LipMean", "FaceMean", "HeadMean")
#: every mesh metric :func:`build_mesh_metrics` knows (the leaderboard scores them all).
ALL_MESH_METRICS: tuple[str, ...] = FAMILY_MESH_METRICS + OTTALK_MESH_METRICS

#: abbreviation -> (metric class, the spec field naming its vertex set; ``None`` = all vertices).
_MESH_METRICS: dict[str, tuple[type[_RegionMetric], str | None]] = {
    "MVE": (MeanVertexError, None),
    "LVE": (LipVertexError, "lip_region"),
    "FDD": (UpperFaceDynamicsDeviation, "upper_face_region"),
    "LipMax": (LipMaxError, "lip_region"),
    "LipMean": (LipMeanError, "lip_region"),
    "FaceMean": (FaceMeanError, "face_region"),
    "HeadMean": (HeadMeanError, None),
}


def region_log_name(spec: MeshDataSpec, path: str) -> str:
    """Name of a vertex-region file in metric log names: its stem, suffixed with the dataset when the
    stem does not already say it (``lip.txt`` on the demo corpus -> ``lip-demo``, as in ``LVE@lip-demo``).

    Args:
        spec: the dataset's spec (its ``dataset`` key).
        path: the region file (``.txt`` or ``pkl#key``).

    Returns:
        the region's name for :attr:`RegionVertexError.log_name`.
    """
    stem = Path(path).stem
    return f"{stem}-{spec.dataset}" if spec.dataset and spec.dataset not in stem else stem


def build_mesh_metrics(spec: MeshDataSpec, names: Sequence[str] = FAMILY_MESH_METRICS) -> MetricCollection:
    """The audio -> mesh family's metric collection for a dataset, keyed by each metric's ``log_name``.

    The one place the family's metrics are assembled: the task (:data:`FAMILY_MESH_METRICS`),
    OT-Talk (adds :data:`OTTALK_MESH_METRICS`) and the leaderboard (:data:`ALL_MESH_METRICS`) all
    call it. A metric that reads a vertex set (LVE, LipMax and LipMean: ``spec.lip_region``; FDD:
    ``spec.upper_face_region``; FaceMean: ``spec.face_region``) is left out when the spec names no
    such file; MVE and HeadMean use every vertex. Region names come from :func:`region_log_name`.

    Args:
        spec: the dataset's :class:`~talkzoo.data.spec.MeshDataSpec`.
        names: metric abbreviations, in logging order (see :data:`ALL_MESH_METRICS`).

    Returns:
        a :class:`torchmetrics.MetricCollection` (``compute_groups=False``), e.g. keys
        ``MVE@all``, ``LVE@lip-demo``, ``FDD@upper-demo``.

    Raises:
        ConfigError: an unknown metric name.
        DataError: a region file that cannot be read (from :func:`~talkzoo.metrics.regions.resolve_region`).
    """
    metrics: dict[str, Metric] = {}
    for name in names:
        if name not in _MESH_METRICS:
            raise ConfigError(f"unknown mesh metric {name!r}; expected one of {list(_MESH_METRICS)}")
        cls, field = _MESH_METRICS[name]
        if field is None:
            metric = cls()
        else:
            region = getattr(spec, field)
            if not region:
                continue
            metric = cls(region=region, region_name=region_log_name(spec, region))
        metrics[metric.log_name] = metric
    return MetricCollection(metrics, compute_groups=False)


def update_mesh_metrics(collection: MetricCollection, prediction: Tensor, batch: MeshBatch) -> None:
    """Update every metric of ``collection`` with one batch; the family's one update rule.

    Args:
        collection: mesh metrics (:func:`build_mesh_metrics`); those whose ``update`` takes a
            ``template`` (FDD) get ``batch.template`` too.
        prediction: ``(B, T, V, 3)`` float vertices in metres, ``T`` = ``batch.vertices.shape[1]``.
        batch: the :class:`~talkzoo.data.batch.MeshBatch` (ground truth, ``(B, T)`` frame mask).

    Raises:
        ValueError: from the metrics, on mismatched shapes.
    """
    for metric in collection.values():
        if "template" in inspect.signature(metric.update).parameters:
            metric.update(prediction, batch.vertices, batch.template, mask=batch.frame_mask)
        else:
            metric.update(prediction, batch.vertices, mask=batch.frame_mask)
