"""OT-Talk: speech-driven 3D talking heads with ChebNet mesh features and a sliced-Wasserstein loss.

Wang, Gao, Song, Yu, Lin, Peng, Gu, "OT-Talk: Animating 3D Talking Head with Optimal
Transportation" (ICMR 2025, arXiv 2505.01932). No official code exists; this is an independent
implementation of the paper text (``papers/ottalk.txt``, whose equations and several numbers were
lost in extraction) and the project notes (``specs/dualtalker_ottalk.md`` parts B, C and the
appendix). Every lost value is a constructor argument with *our* default; the plugin README lists
each one with its reason.

Data flow (§3.3), per sequence of ``T`` frames at ``spec.fps``:

1. audio: the injected speech front-end (HuBERT Large in the paper) interpolated to ``T`` frames
   → temporal convolution → transformer encoder → ``a_t`` (``d_model``);
2. template: the neutral mesh (centred, scaled) → ChebNet encoder (3 × ChebConv + pool to 1/4,
   then FC) → identity code ``z`` (no one-hot speaker label: "learn identity condition from mesh
   geometry", §4.1);
3. ``h_t = [a_t, z]`` → (a) ``50`` motion coefficients ``c_t = Linear(h_t)`` → PCA layer
   ``FC(50 → 3V)`` initialised with the training displacements' principal components; (b) a
   ChebNet refinement decoder mirroring the encoder;
4. output ``template + d_lin + d_ref``.

The model is **non-autoregressive**: :meth:`OTTalk.generate` is one forward pass over the whole
sequence up to ``inference_window_seconds`` (longer audio: overlapping windows with cross-faded seams,
ours; see :meth:`OTTalk.generate_windowed`). The paper's introduction says "auto-regressive", but
§3.3 describes only a transformer *encoder* over audio, with no motion history (specs B2.2).

Losses (§3.4): reconstruction + velocity + per-frame sliced Wasserstein distance between the
predicted and true meshes as measures + sparsity (L1 on the 50 coefficients); AdamW, batch 32.
Units: vertex positions in metres; losses are computed on positions multiplied by
``loss_scale`` (1000: millimetres).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from talkzoo.data.batch import MeshBatch
from talkzoo.data.spec import MeshDataSpec
from talkzoo.modules import build_module
from talkzoo.errors import ConfigError, DataError
from talkzoo.metrics.mesh import FAMILY_MESH_METRICS, OTTALK_MESH_METRICS
from talkzoo.tasks.mesh import AudioToMeshTask

from talkzoo_ottalk.layers import AudioTemporalEncoder, ChebDecoder, ChebEncoder, MeshHierarchyBuffers
from talkzoo_ottalk.mesh_sampling import level_sizes, load_or_build_hierarchy, mesh_edges, validate_faces, validate_template
from talkzoo_ottalk.swd import mesh_sliced_wasserstein

__all__ = [
    "OTTalk",
    "OTTalkOutput",
    "build_parameter_count_model",
    "inference_windows",
    "load_faces",
    "load_reference_template",
    "pca_of_displacements",
]

log = logging.getLogger(__name__)


def _adamw(params: Any) -> torch.optim.Optimizer:
    """Default optimizer: AdamW (paper §3.4), lr 1e-4 and weight decay 1e-2 (both values lost; ours)."""
    return torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-2)


def load_faces(path: str | Path, num_vertices: int) -> np.ndarray:
    """Read and check a ``(F, 3)`` int ``.npy`` triangle file (the spec's ``faces_file``).

    Returns:
        ``(F, 3)`` int64 triangles.

    Raises:
        DataError: missing/unreadable file, or faces that are not a manifold triangle mesh over
            ``num_vertices`` vertices (the message names the file and the failed check).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{p}: faces file not found; expected a (F, 3) int .npy triangle array")
    try:
        arr = np.load(p, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{p}: cannot read the faces file as a .npy array ({exc})") from None
    return validate_faces(arr, num_vertices, source=str(p))


def load_reference_template(path: str | Path, speakers: tuple[str, ...] = ()) -> np.ndarray:
    """Read a reference template: a ``(V, 3)`` ``.npy``, or ``templates.pkl`` (``path#subject`` or the mean of ``speakers``).

    Args:
        path: ``file.npy``, ``templates.pkl`` or ``templates.pkl#<subject>``.
        speakers: training speakers whose mean template is used for a ``.pkl`` without a subject
            (all templates of the file when none of them is in it).

    Returns:
        ``(V, 3)`` float64 positions (metres).

    Raises:
        DataError: missing/unreadable file, unknown subject, or an array not of shape ``(V, 3)``.
    """
    text = str(path)
    file_part, _, key = text.partition("#")
    p = Path(file_part).expanduser()
    if not p.is_file():
        raise DataError(f"{p}: reference template file not found; expected a (V, 3) .npy or a templates.pkl")
    if p.suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"{p}: cannot read the reference template ({exc})") from None
    else:
        from talkzoo.data.mesh import read_templates

        temps = read_templates(p)
        if key:
            if key not in temps:
                raise DataError(f"{p}: has no template for subject '{key}'; it holds {sorted(temps)}")
            arr = temps[key]
        else:
            chosen = [temps[s] for s in speakers if s in temps] or list(temps.values())
            arr = np.mean(np.stack([np.asarray(t, dtype=np.float64) for t in chosen]), axis=0)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 1 and arr.size % 3 == 0:
        arr = arr.reshape(-1, 3)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise DataError(f"{text}: reference template has shape {arr.shape}; expected (V, 3)")
    return arr


def pca_of_displacements(displacements: Tensor, n_components: int, exact_limit: int = 4096, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """PCA of flattened displacements (rows = frames), as used to initialise the PCA layer.

    ``X (N, D)`` is centred by its mean; the principal axes are the right singular vectors of
    the centred matrix (exact ``torch.linalg.svd`` when ``min(N, D) <= exact_limit``, otherwise
    the randomised ``torch.svd_lowrank`` with ``q = k + 20``, 6 power iterations), each signed so
    that its largest-magnitude entry is positive; the standard deviations are
    ``s_k / sqrt(N - 1)`` (numpy/sklearn's ``explained_variance_`` square roots). Components
    beyond the rank of ``X`` are zero (with zero deviation).

    Args:
        displacements: ``(N, D)`` float rows (``D = 3V``, metres).
        n_components: ``k`` (OT-Talk: 50).
        exact_limit: largest ``min(N, D)`` solved exactly.
        seed: seed of the randomised solver.

    Returns:
        ``(mean (D,), components (k, D), std (k,))`` float64.
    """
    x = displacements.detach().to(torch.float64).cpu()
    n, d = x.shape
    mean = x.mean(dim=0)
    xc = x - mean
    k = n_components
    if min(n, d) <= exact_limit:
        _, s, vh = torch.linalg.svd(xc, full_matrices=False)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _, s, v = torch.svd_lowrank(xc, q=min(k + 20, n, d), niter=6)
        vh = v.t()
    r = min(k, vh.shape[0])
    comps = torch.zeros(k, d, dtype=torch.float64)
    std = torch.zeros(k, dtype=torch.float64)
    comps[:r] = vh[:r]
    std[:r] = s[:r] / math.sqrt(max(n - 1, 1))
    rank_tol = (s[0] if s.numel() else torch.tensor(0.0)) * max(n, d) * torch.finfo(torch.float64).eps
    for i in range(r):
        if s[i] <= rank_tol:
            comps[i] = 0.0
            std[i] = 0.0
            continue
        j = int(comps[i].abs().argmax())
        if comps[i, j] < 0:
            comps[i] = -comps[i]
    return mean, comps, std


def inference_windows(num_frames: int, window: int, overlap: int) -> list[tuple[int, int, Tensor]]:
    """Overlapping windows covering ``num_frames`` frames, with cross-fade weights (ours, for long audio).

    Windows of ``W = min(window, num_frames)`` frames start at ``a_k = round(k (n - W) / (K - 1))``,
    ``K = ceil((n - W) / (W - 2 O)) + 1`` (evenly spread, the first at 0, the last ending at ``n``), so
    consecutive windows share at least ``2 O`` frames (``O = min(overlap, (W - 1) // 2)``). Seam ``k``
    is the middle ``c_k = (a_{k+1} + a_k + W) / 2`` of the part windows ``k`` and ``k+1`` share; its
    fade ``r_k(t) = clip((t + 1/2 - c_k) / O + 1/2, 0, 1)`` rises linearly over the ``O`` frames
    centred on ``c_k`` (a step at ``c_k`` when ``O = 0``). With ``s(t) = sum_k r_k(t)``, window ``j``
    weighs ``max(0, 1 - |s(t) - j|)``: a partition of unity (the weights of a frame sum to 1), equal to
    exactly 1 wherever one window alone has weight (so those frames are that window's output, bit
    for bit), non-zero only inside the window, and a linear cross-fade of the two neighbours across
    each seam (also when fades of close seams overlap). A frame with non-zero weight in window ``j``
    has at least ``O / 2`` frames of window ``j`` on each side, unless it is near the ends of the file.

    Args:
        num_frames: ``n >= 1``, frames of the sequence.
        window: ``W >= 1``, frames per window.
        overlap: ``O >= 0``, frames (one-sided context; the fade width).

    Returns:
        ``[(start, stop, weight), ...]`` with ``weight`` a ``(stop - start,)`` float64 tensor; one
        window ``(0, n, ones)`` when ``n <= W``.

    Raises:
        ValueError: ``num_frames < 1``, ``window < 1`` or ``overlap < 0``.
    """
    n, w, o = int(num_frames), int(window), int(overlap)
    if n < 1 or w < 1 or o < 0:
        raise ValueError(f"inference_windows needs num_frames >= 1, window >= 1, overlap >= 0; got {n}, {w}, {o}")
    w = min(w, n)
    if w == n:
        return [(0, n, torch.ones(n, dtype=torch.float64))]
    o = min(o, (w - 1) // 2)
    stride = w - 2 * o
    count = -(-(n - w) // stride) + 1
    starts = [round(k * (n - w) / (count - 1)) for k in range(count)]
    t = torch.arange(n, dtype=torch.float64) + 0.5
    soft_index = torch.zeros(n, dtype=torch.float64)
    for k in range(count - 1):
        centre = (starts[k + 1] + starts[k] + w) / 2.0
        soft_index += ((t - centre) / o + 0.5).clamp(0.0, 1.0) if o > 0 else (t >= centre).double()
    windows = []
    for j, start in enumerate(starts):
        weight = (1.0 - (soft_index[start : start + w] - j).abs()).clamp_min(0.0)
        windows.append((start, start + w, weight))
    return windows


@dataclass
class OTTalkOutput:
    """Result of :meth:`OTTalk.forward`.

    Attributes:
        vertices: ``(B, T, V, 3)`` predicted positions, metres (template on padded frames).
        coefficients: ``(B, T, n_components)`` motion coefficients (whitened PCA units).
        linear: ``(B, T, V, 3)`` the PCA-layer displacements, metres.
        refinement: ``(B, T, V, 3)`` the ChebNet refinement, metres (``None`` without ChebNet).
        frame_mask: ``(B, T)`` bool, True on real frames.
    """

    vertices: Tensor
    coefficients: Tensor
    linear: Tensor
    refinement: Tensor | None
    frame_mask: Tensor


class OTTalk(AudioToMeshTask):
    """OT-Talk, an audio-to-mesh talkzoo model (non-autoregressive; one forward pass per sequence).

    Metrics: the family's LVE/MVE/FDD plus OT-Talk's §4.1 errors in mm, logged as ``LipMax@<lip>``,
    ``LipMean@<lip>``, ``FaceMean@<face>`` and ``HeadMean@all`` (:attr:`metric_names`).

    Args:
        spec: :class:`~talkzoo.data.spec.MeshDataSpec` (linked from the datamodule): ``V``,
            ``fps``, ``faces_file`` and the metric regions. Required.
        audio_encoder: speech front-end module, ``forward(audio (B, S), audio_mask (B, S)|None,
            num_frames) -> (B, T, output_dim)`` with an integer ``output_dim``; in a recipe a
            :mod:`talkzoo.audio.encoders` class (``class_path``). ``None`` builds the paper's
            ``HubertEncoder("facebook/hubert-large-ls960-ft")`` (weights needed; the checkpoint
            is not named in the paper).
        reference_template: template the mesh hierarchy is built from: a ``(V, 3)`` ``.npy``, a
            ``templates.pkl`` (mean of the training speakers) or ``templates.pkl#subject``.
            ``None``: the mean template of the training speakers, read from the datamodule at
            ``setup`` (or the mean template of the first batch the model sees). Stored in the
            checkpoint with the hierarchy.
        mesh_faces: ``(F, 3)`` int ``.npy`` triangles; default ``spec.faces_file`` (named apart
            from the datamodule's ``faces_file`` so Lightning can log both hyper-parameter sets). Required
            (the ChebNet graph and the OT loss need the surface).
        K: Chebyshev order of every ChebConv (paper: lost; default 6 = CoMA).
        channels: ChebConv output channels of the 3 encoder levels (lost; ``(16, 16, 32)``,
            CoMA-like); the decoder mirrors them.
        pool_factors: vertex reduction per pooling (paper: 1/4, three times).
        down_mode: ``"pick"`` (CoMA selection matrix) or ``"average"`` down-sampling.
        latent_dim: template (identity) code size (not given; 32).
        d_model: audio feature width after the temporal convolution (not given; 128).
        num_conv_layers: temporal-convolution layers (not given; 2).
        conv_kernel: their kernel size in frames (not given; 3).
        num_layers: transformer encoder layers (not given; 2).
        num_heads: attention heads (not given; 4).
        ff_dim: transformer feed-forward width (not given; 512).
        dropout: dropout in the audio branch (not given; 0.1).
        n_components: linear motion components (paper: 50).
        pca_init: initialise the PCA layer from the training displacements at ``on_fit_start``
            when it is not initialised yet (paper: yes).
        pca_max_frames: at most this many randomly chosen training frames enter the PCA (ours;
            bounds memory on full datasets; ``None`` = all).
        lambda_rec: weight of the reconstruction loss (Eq. 8; paper sums the terms: 1).
        lambda_vel: weight of the velocity loss (Eq. 9; 1).
        lambda_ot: weight of the sliced-Wasserstein loss (Eq. 10; 1).
        lambda_sparse: weight of the sparsity term (Eq. 11; value lost; 1e-3).
        sparsity_target: what the L1 term penalises: ``"coefficients"`` (the 50 PCA
            coefficients, default) or ``"refinement"`` (the refinement displacements, in loss units).
        swd_projections: number of random projections ``L`` per step (lost; 100).
        swd_p: order ``p`` (lost; 2).
        swd_support: ``"R6"`` (barycentre + scaled unit normal: the oriented varifold, default) or
            ``"R3"`` (area-weighted barycentres).
        swd_normal_weight: length in metres multiplying the unit normals in ``"R6"``; ``None`` =
            the mean edge length of the reference template (ours: a normal rotation caused by moving
            a vertex by ``d`` then weighs about as much as the displacement ``d``).
        swd_root: use ``SW_p`` (the distance) instead of ``SW_p^p`` (default; same minimiser,
            same unit as the squared reconstruction loss, finite gradient at 0).
        ot_max_frames: use a random subset of at most this many real frames per step for the OT
            loss (an unbiased estimate of the all-frame mean; ``None`` = every frame, the paper).
        swd_chunk_frames: frames per activation-checkpointed SWD chunk (memory bound; ``None``
            = one chunk).
        loss_scale: factor applied to positions before the losses (1000: metres → mm, so
            ``L_rec`` is in mm²; keeps the loss terms O(1) for AdamW's epsilon and the λ's). The
            two displacement heads output ``1 / loss_scale`` metres per unit (``motion_unit``), so
            an AdamW step of ~lr per weight is a sub-millimetre change of the mesh.
        use_ot: ``False`` = Table 2 "w/o OT" (only reconstruction and velocity, + sparsity).
        use_transformer: ``False`` = Table 2 "w/o Transformer" (temporal convolution only).
        use_chebnet: ``False`` = Table 2 "w/o ChebNet" (no template encoder, no refinement decoder:
            motion from the audio branch through the PCA layer only).
        cache_dir: folder of the mesh-hierarchy cache (default ``~/.cache/talkzoo/mesh_hierarchy``
            or ``$TALKZOO_CACHE/mesh_hierarchy``).
        use_cache: read/write that cache.
        inference_window_seconds: longest audio, in seconds, that :meth:`generate` animates in one
            pass (ours; the paper is silent on long audio). Longer audio is animated window by
            window, front-end included, and the windows' vertices are cross-faded (see
            :meth:`generate_windowed`), so memory and time are linear in the length instead of
            quadratic (full self-attention over ``T`` frames). Audio no longer than this takes the
            whole-sequence pass, so the output is unchanged (the paper's sentences are a few
            seconds). ``None`` = always one pass (whole-sequence attention). Training, validation
            and test (:meth:`predict_for_metrics`) are not windowed.
        inference_window_overlap_seconds: ``O``, in seconds: consecutive windows share at least
            ``2 O`` and the cross-fade between them spans ``O`` centred on the middle of the shared
            part, so every frame a window contributes to has at least ``O / 2`` of context inside
            that window on both sides (except at the ends of the file). ``2 O`` must be below
            ``inference_window_seconds``.
        optimizer: callable ``params -> Optimizer``; default AdamW lr 1e-4, weight decay 1e-2.
        lr_scheduler: optional callable ``optimizer -> LRScheduler``.
        unseen_speaker: accepted for the family interface; OT-Talk has no speaker label, so it
            has no effect.

    Raises:
        ConfigError: missing spec or faces file, bad option values, an encoder without ``output_dim``.
        DataError: a faces file or reference template that is unreadable, not a manifold triangle
            mesh, or whose vertex count differs from ``spec.num_vertices``.
        FamilyMismatchError: a spec of another family.
    """

    metric_names = FAMILY_MESH_METRICS + OTTALK_MESH_METRICS

    def __init__(
        self,
        spec: MeshDataSpec | dict | None = None,
        audio_encoder: nn.Module | None = None,
        reference_template: str | None = None,
        mesh_faces: str | None = None,
        K: int = 6,
        channels: tuple[int, ...] | list[int] = (16, 16, 32),
        pool_factors: tuple[int, ...] | list[int] = (4, 4, 4),
        down_mode: Literal["pick", "average"] = "pick",
        latent_dim: int = 32,
        d_model: int = 128,
        num_conv_layers: int = 2,
        conv_kernel: int = 3,
        num_layers: int = 2,
        num_heads: int = 4,
        ff_dim: int = 512,
        dropout: float = 0.1,
        n_components: int = 50,
        pca_init: bool = True,
        pca_max_frames: int | None = 20000,
        lambda_rec: float = 1.0,
        lambda_vel: float = 1.0,
        lambda_ot: float = 1.0,
        lambda_sparse: float = 1e-3,
        sparsity_target: Literal["coefficients", "refinement"] = "coefficients",
        swd_projections: int = 100,
        swd_p: float = 2.0,
        swd_support: Literal["R3", "R6"] = "R6",
        swd_normal_weight: float | None = None,
        swd_root: bool = False,
        ot_max_frames: int | None = None,
        swd_chunk_frames: int | None = 32,
        loss_scale: float = 1000.0,
        use_ot: bool = True,
        use_transformer: bool = True,
        use_chebnet: bool = True,
        cache_dir: str | None = None,
        use_cache: bool = True,
        inference_window_seconds: float | None = 30.0,
        inference_window_overlap_seconds: float = 2.0,
        optimizer: OptimizerCallable = _adamw,
        lr_scheduler: LRSchedulerCallable | None = None,
        unseen_speaker: str | int = 0,
    ) -> None:
        # From a checkpoint the encoder arrives as its recorded {"class_path", "init_args"} config.
        audio_encoder = build_module(audio_encoder)
        super().__init__(spec=spec, optimizer=optimizer, lr_scheduler=lr_scheduler, unseen_speaker=unseen_speaker)
        spec_ = self.mesh_spec
        num_vertices = int(spec_.num_vertices)
        if num_vertices < 3:
            raise ConfigError(f"OTTalk needs spec.num_vertices >= 3, got {num_vertices}")
        channels = tuple(int(c) for c in channels)
        pool_factors = tuple(int(f) for f in pool_factors)
        checks = [
            (K >= 1, f"K must be >= 1, got {K}"),
            (len(channels) == len(pool_factors) and len(channels) >= 1,
             f"channels {list(channels)} and pool_factors {list(pool_factors)} need one entry per level"),
            (all(c >= 1 for c in channels) and all(f >= 1 for f in pool_factors), "channels and pool_factors must be >= 1"),
            (down_mode in ("pick", "average"), f"down_mode must be 'pick' or 'average', got {down_mode!r}"),
            (n_components >= 1, f"n_components must be >= 1, got {n_components}"),
            (swd_support in ("R3", "R6"), f"swd_support must be 'R3' or 'R6', got {swd_support!r}"),
            (swd_p >= 1, f"swd_p must be >= 1, got {swd_p}"),
            (swd_projections >= 1, f"swd_projections must be >= 1, got {swd_projections}"),
            (sparsity_target in ("coefficients", "refinement"), f"sparsity_target must be 'coefficients' or 'refinement', got {sparsity_target!r}"),
            (d_model % num_heads == 0, f"d_model ({d_model}) must be divisible by num_heads ({num_heads})"),
            (loss_scale > 0, f"loss_scale must be > 0, got {loss_scale}"),
            (ot_max_frames is None or ot_max_frames >= 1, f"ot_max_frames must be >= 1 or None, got {ot_max_frames}"),
            (swd_normal_weight is None or swd_normal_weight >= 0, "swd_normal_weight must be >= 0"),
            (inference_window_overlap_seconds >= 0,
             f"inference_window_overlap_seconds must be >= 0, got {inference_window_overlap_seconds}"),
            (inference_window_seconds is None or inference_window_seconds > 2 * inference_window_overlap_seconds,
             f"inference_window_seconds ({inference_window_seconds}) must be None or exceed twice "
             f"inference_window_overlap_seconds ({inference_window_overlap_seconds})"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"OTTalk: {message}")
        faces_path = mesh_faces or spec_.faces_file
        if not faces_path:
            raise ConfigError(
                "OTTalk needs the triangles of the mesh topology (ChebNet graph and OT loss): set the datamodule's "
                "faces_file (spec.faces_file) or the model's mesh_faces argument to a (F, 3) int .npy file"
            )
        faces = load_faces(faces_path, num_vertices)
        if audio_encoder is None:
            from talkzoo.audio.encoders import HubertEncoder

            audio_encoder = HubertEncoder()
        if not isinstance(getattr(audio_encoder, "output_dim", None), int):
            raise ConfigError(f"audio_encoder {type(audio_encoder).__name__} has no integer 'output_dim'")

        # The reference template is in the state dict, so its path is not needed again. (The
        # encoder is stored by the base class as the config that rebuilds it.)
        self.hparams["reference_template"] = None
        self.num_vertices = num_vertices
        self.n_components = int(n_components)
        self.channels = channels
        self.pool_factors = pool_factors
        self.down_mode = down_mode
        self.use_ot, self.use_transformer, self.use_chebnet = bool(use_ot), bool(use_transformer), bool(use_chebnet)
        self.pca_init, self.pca_max_frames = bool(pca_init), pca_max_frames
        self.lambdas = {"rec": float(lambda_rec), "vel": float(lambda_vel), "ot": float(lambda_ot), "sparse": float(lambda_sparse)}
        self.sparsity_target = sparsity_target
        self.swd_projections, self.swd_p, self.swd_support = int(swd_projections), float(swd_p), swd_support
        self.swd_root, self.ot_max_frames, self.swd_chunk_frames = bool(swd_root), ot_max_frames, swd_chunk_frames
        self.swd_normal_weight_arg = swd_normal_weight
        self.loss_scale = float(loss_scale)
        # Metres per unit of the two displacement heads (PCA layer, refinement decoder): they
        # output loss units (mm with loss_scale 1000), so that AdamW's per-parameter step (~lr)
        # is a sub-millimetre change, not lr metres (ours; see the plugin README).
        self.motion_unit = 1.0 / self.loss_scale
        self.cache_dir, self.use_cache = cache_dir, bool(use_cache)
        self.inference_window_seconds = None if inference_window_seconds is None else float(inference_window_seconds)
        self.inference_window_overlap_seconds = float(inference_window_overlap_seconds)
        self.faces_path = str(faces_path)

        # ---- buffers kept by checkpoints ------------------------------------------------
        self.register_buffer("faces", torch.from_numpy(faces))
        self.register_buffer("reference_template", torch.zeros(num_vertices, 3))
        self.register_buffer("reference_ready", torch.zeros((), dtype=torch.long))
        self.register_buffer("coord_scale", torch.ones(()))
        self.register_buffer("normal_weight", torch.ones(()))
        dim = 3 * num_vertices
        self.register_buffer("pca_mean", torch.zeros(dim))
        self.register_buffer("pca_components", torch.zeros(self.n_components, dim))
        self.register_buffer("pca_std", torch.zeros(self.n_components))
        self.register_buffer("pca_ready", torch.zeros((), dtype=torch.long))

        # ---- audio branch (§3.3) ------------------------------------------------------------
        self.audio_encoder = audio_encoder
        self.audio_temporal = AudioTemporalEncoder(
            audio_encoder.output_dim, d_model, num_conv_layers, conv_kernel, self.use_transformer,
            num_layers, num_heads, ff_dim, dropout,
        )  # fmt: skip
        # ---- template branch and refinement decoder (ChebNet) ---------------------------
        code_dim = d_model
        self.sizes = level_sizes(num_vertices, pool_factors)
        if self.use_chebnet:
            self.hierarchy = MeshHierarchyBuffers(self.sizes)
            self.mesh_encoder = ChebEncoder(self.hierarchy, channels, latent_dim, K)
            code_dim = d_model + latent_dim
            self.refiner = ChebDecoder(self.hierarchy, channels, code_dim, K)
        # ---- linear (PCA) motion part ----------------------------------------------------
        # Zero-initialised coefficient head (ours): training starts exactly at template + mean
        # displacement (the mean-motion baseline) instead of a random PCA combination.
        self.coeff_head = nn.Linear(code_dim, self.n_components)
        self.pca_layer = nn.Linear(self.n_components, dim)
        with torch.no_grad():
            self.coeff_head.weight.zero_()
            self.coeff_head.bias.zero_()
            # small (0.1 mm) until the PCA initialisation replaces it; in motion units (see motion_unit)
            self.pca_layer.weight.normal_(0.0, 1e-4 / self.motion_unit)
            self.pca_layer.bias.zero_()

        if reference_template is not None:
            self.set_reference_template(load_reference_template(reference_template, spec_.speakers), source=str(reference_template))

    # ------------------------------------------------------------------ reference template
    def set_reference_template(self, vertices: np.ndarray | Tensor, source: str = "reference template") -> None:
        """Fix the template the mesh hierarchy, input scaling and OT normal weight derive from.

        Builds (or reads from the disk cache) the QEM hierarchy when ChebNet is on, and stores
        the template, its RMS radius (``coord_scale``, the encoder's input unit) and its mean
        edge length (``normal_weight`` when ``swd_normal_weight`` is ``None``) in buffers.

        Args:
            vertices: ``(V, 3)`` float positions, metres.
            source: name for error messages.

        Raises:
            DataError: wrong vertex count, non-finite values, or a non-manifold mesh.
        """
        if isinstance(vertices, Tensor):
            vertices = vertices.detach().cpu().double().numpy()
        v, f = validate_template(vertices, self.faces.cpu().numpy(), self.num_vertices, source=source)
        if self.use_chebnet:
            hier = load_or_build_hierarchy(v, f, self.pool_factors, self.down_mode, self.cache_dir, self.use_cache)
            self.hierarchy.set_hierarchy(hier)
        centred = v - v.mean(axis=0)
        scale = float(np.sqrt((centred**2).sum(axis=1).mean())) or 1.0
        e = mesh_edges(f)
        edge = float(np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1).mean()) if e.size else 1.0
        nw = edge if self.swd_normal_weight_arg is None else float(self.swd_normal_weight_arg)
        with torch.no_grad():
            self.reference_template.copy_(torch.from_numpy(v).to(self.reference_template))
            self.coord_scale.fill_(scale)
            self.normal_weight.fill_(nw)
            self.reference_ready.fill_(1)

    def _ensure_reference(self, template: Tensor | None = None) -> None:
        """Make sure the hierarchy exists: from the stored reference, else from ``template`` ``(B, V, 3)``."""
        ready = bool(self.reference_ready.item())
        if ready and (not self.use_chebnet or self.hierarchy.ready):
            return
        if ready:  # e.g. a state dict without the hierarchy's extra state: rebuild it
            self.set_reference_template(self.reference_template, source="stored reference template")
            return
        if template is None:
            raise ConfigError(
                "OTTalk has no reference template yet: pass reference_template=..., fit it with a datamodule, "
                "or call generate()/compute_losses() with a template"
            )
        log.info("OTTalk: building the mesh hierarchy from the mean template of the first batch")
        self.set_reference_template(template.detach().double().mean(dim=0), source="batch template")

    def _reference_from_trainer(self) -> None:
        trainer = getattr(self, "_trainer", None)
        dm = getattr(trainer, "datamodule", None) if trainer is not None else None
        templates = getattr(dm, "templates", None)
        if callable(templates):
            try:
                temps = templates()
            except Exception as exc:  # noqa: BLE001 - fall back to the first batch
                log.warning("OTTalk: could not read the datamodule's templates (%s)", exc)
                return
            names = [s for s in self.mesh_spec.speakers if s in temps] or list(temps)
            if names:
                mean = np.mean(np.stack([np.asarray(temps[s], dtype=np.float64) for s in names]), axis=0)
                self.set_reference_template(mean, source="mean template of the training speakers")

    def setup(self, stage: str) -> None:  # noqa: D102 - Lightning hook
        super().setup(stage)
        if not bool(self.reference_ready.item()):
            self._reference_from_trainer()

    # ------------------------------------------------------------------ PCA initialisation
    def initialize_pca(self, batches: Iterable[MeshBatch]) -> None:
        """Initialise the PCA layer from training displacements (paper §3.3, as VOCA).

        Collects ``vertices - template`` of every real frame of ``batches`` (at most
        ``pca_max_frames`` random frames, seed 0), runs :func:`pca_of_displacements` and sets
        ``pca_layer.weight = (components * std).T`` (so the coefficients are whitened, unit
        variance on the training data) and ``pca_layer.bias = mean``, both divided by
        :attr:`motion_unit` (the layer outputs loss units, mm by default). The basis is also stored in
        the buffers ``pca_mean``, ``pca_components``, ``pca_std`` (``pca_ready = 1``), so
        checkpoints keep it and a resumed run does not recompute it.

        Args:
            batches: iterable of :class:`~talkzoo.data.batch.MeshBatch` (e.g. the train dataloader).

        Raises:
            DataError: no frames, or a vertex count different from the model's.
        """
        rows = []
        for batch in batches:
            if not isinstance(batch, MeshBatch):
                batch = batch[0] if isinstance(batch, (tuple, list)) and isinstance(batch[0], MeshBatch) else batch
            disp = batch.displacements
            if disp.shape[2] != self.num_vertices:
                raise DataError(f"PCA initialisation: batch has {disp.shape[2]} vertices, the model {self.num_vertices}")
            rows.append(disp[batch.frame_mask.bool()].reshape(-1, 3 * self.num_vertices).float().cpu())
        if not rows or sum(r.shape[0] for r in rows) == 0:
            raise DataError("PCA initialisation: the training data has no frames")
        x = torch.cat(rows)
        if self.pca_max_frames is not None and x.shape[0] > self.pca_max_frames:
            g = torch.Generator().manual_seed(0)
            x = x[torch.randperm(x.shape[0], generator=g)[: self.pca_max_frames]]
        mean, comps, std = pca_of_displacements(x, self.n_components)
        self.set_pca(mean, comps, std)
        log.info("OTTalk: PCA layer initialised from %d training frames", x.shape[0])

    def set_pca(self, mean: Tensor, components: Tensor, std: Tensor) -> None:
        """Install a PCA basis: ``mean (3V,)``, ``components (k, 3V)``, ``std (k,)`` (metres)."""
        with torch.no_grad():
            self.pca_mean.copy_(mean.to(self.pca_mean))
            self.pca_components.copy_(components.to(self.pca_components))
            self.pca_std.copy_(std.to(self.pca_std))
            self.pca_layer.weight.copy_((self.pca_components * self.pca_std[:, None]).t() / self.motion_unit)
            self.pca_layer.bias.copy_(self.pca_mean / self.motion_unit)
            self.pca_ready.fill_(1)

    def on_fit_start(self) -> None:  # noqa: D102 - Lightning hook: PCA from the train data when not done
        if not self.pca_init or bool(self.pca_ready.item()):
            return
        trainer = self.trainer
        dm = getattr(trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "train_dataloader"):
            loader = dm.train_dataloader()
        else:
            loader = trainer.fit_loop._data_source.dataloader()
        self.initialize_pca(loader)

    # ------------------------------------------------------------------ network
    def forward(
        self, audio: Tensor, audio_mask: Tensor | None, template: Tensor, num_frames: int | Tensor, total_frames: int | None = None
    ) -> OTTalkOutput:
        """One non-autoregressive pass.

        Args:
            audio: ``(B, S)`` float32 16 kHz waveforms (zero-padded).
            audio_mask: ``(B, S)`` bool (True = real sample) or ``None``.
            template: ``(B, V, 3)`` neutral templates, metres.
            num_frames: frames per sequence, an ``int`` or a ``(B,)`` int tensor.
            total_frames: width ``T`` of the output (default ``max(num_frames)``).

        Returns:
            :class:`OTTalkOutput`.

        Raises:
            DataError: a template whose vertex count is not ``spec.num_vertices``.
        """
        batch = audio.shape[0]
        if template.dim() != 3 or template.shape[1:] != (self.num_vertices, 3) or template.shape[0] != batch:
            raise DataError(
                f"template must be (B={batch}, V={self.num_vertices}, 3) (the data's vertex count), got {tuple(template.shape)}"
            )
        self._ensure_reference(template)
        counts = (num_frames.to(audio.device).long().reshape(-1) if isinstance(num_frames, Tensor)
                  else torch.full((batch,), int(num_frames), device=audio.device, dtype=torch.long))  # fmt: skip
        if counts.numel() == 1:
            counts = counts.expand(batch)
        feats = self.audio_encoder(audio, audio_mask, counts)
        width = int(total_frames) if total_frames is not None else feats.shape[1]
        if feats.shape[1] < width:
            feats = torch.nn.functional.pad(feats, (0, 0, 0, width - feats.shape[1]))
        feats = feats[:, :width]
        mask = torch.arange(width, device=audio.device)[None] < counts[:, None]
        a = self.audio_temporal(feats, mask)  # (B, T, d)
        if self.use_chebnet:
            x = template - template.mean(dim=1, keepdim=True)
            z = self.mesh_encoder((x / self.coord_scale).to(a.dtype))  # (B, latent)
            code = torch.cat([a, z[:, None].expand(-1, width, -1)], dim=-1)
        else:
            code = a
        coeffs = self.coeff_head(code) * mask[..., None]
        linear = (self.pca_layer(coeffs) * self.motion_unit).reshape(batch, width, self.num_vertices, 3)
        refinement = None
        if self.use_chebnet:
            real = code[mask]  # (N, code_dim), only real frames
            ref = self.refiner(real) * self.motion_unit
            refinement = linear.new_zeros(linear.shape)
            refinement[mask] = ref.to(linear.dtype)
        disp = linear if refinement is None else linear + refinement
        disp = disp * mask[..., None, None].to(disp.dtype)
        return OTTalkOutput(
            vertices=template[:, None] + disp, coefficients=coeffs, linear=linear, refinement=refinement, frame_mask=mask
        )

    # ------------------------------------------------------------------ family API
    def generate(  # type: ignore[override]
        self,
        audio: Tensor,
        template: Tensor,
        speaker: Tensor | None = None,
        num_frames: int | None = None,
        audio_mask: Tensor | None = None,
    ) -> Tensor:
        """Animate templates from speech in one forward pass (non-autoregressive), long audio window by window.

        Args:
            audio: ``(B, S)`` float32 waveform at 16 kHz.
            template: ``(B, V, 3)`` float32 neutral templates, metres (their geometry is the
                identity condition; there is no speaker label).
            speaker: ignored (OT-Talk learns identity from the template mesh, §4.1).
            num_frames: output width ``T``; default: the longest sequence's
                :meth:`frames_for_audio`. Each sequence is animated over its own
                :meth:`frames_for_audio` of its real samples (at most ``T``; the longest ones
                fill ``T``), so a short sequence of a padded batch is never stretched; its
                frames past its own length repeat the template.
            audio_mask: ``(B, S)`` bool, True on real samples (``None``: all real); real samples
                come first.

        Audio longer than ``inference_window_seconds`` (any sequence of the batch) goes through
        :meth:`generate_windowed`; otherwise (or with ``inference_window_seconds=None``) the
        whole batch is one forward pass, as in the paper.

        Returns:
            ``(B, T, V, 3)`` float32 vertex positions in metres at ``spec.fps``.

        Raises:
            DataError: a template whose vertex count differs from ``spec.num_vertices``.
        """
        del speaker
        samples = (audio_mask.sum(dim=1) if audio_mask is not None
                   else torch.full((audio.shape[0],), audio.shape[1], device=audio.device))  # fmt: skip
        per_seq = self.frames_for_audio(samples)
        total = int(num_frames) if num_frames is not None else int(per_seq.max())
        counts = torch.clamp(per_seq, max=total)
        # the longest audio spans the requested width (as a single, unpadded sequence does)
        counts = torch.where(samples == samples.max(), torch.full_like(counts, total), counts)
        if self.inference_window_seconds is not None and int(samples.max()) > self._window_samples()[0]:
            return self.generate_windowed(audio, template, counts, total, audio_mask)
        out = self(audio, audio_mask, template.float(), counts, total_frames=total)
        return out.vertices.float()

    def _window_samples(self) -> tuple[int, float]:
        """``(window, overlap)`` of long-audio inference in audio samples (window ``inf`` when off)."""
        rate = float(self.mesh_spec.sample_rate)
        if self.inference_window_seconds is None:
            return 2**62, 0.0
        return int(round(self.inference_window_seconds * rate)), self.inference_window_overlap_seconds * rate

    def generate_windowed(
        self, audio: Tensor, template: Tensor, num_frames: Tensor, total: int, audio_mask: Tensor | None = None
    ) -> Tensor:
        """Bounded-memory inference for long audio (ours; the paper is silent on long audio).

        Why: the transformer encoder attends over all ``T`` frames (memory and time ``O(T^2)``:
        10 min at 30 fps is an ``18000 x 18000`` attention map per head and layer), and a
        pretrained front-end (HuBERT, wav2vec 2.0) is quadratic in the audio length too; the model
        is trained on crops of a few seconds. Each sequence ``b`` (``S_b`` real samples, ``n_b``
        frames, ``p = S_b / n_b`` samples per frame) is processed on its own: when ``S_b`` is at
        most ``inference_window_seconds`` it is one forward pass; otherwise it is cut into
        :func:`inference_windows` of ``W = floor(window_samples / p)`` frames with overlap
        ``O = floor(overlap_samples / p)`` frames. Window ``[a, e)`` runs the whole per-frame
        pipeline alone (front-end on samples ``[round(a p), round(e p))`` interpolated to
        ``e - a`` frames, temporal convolution, transformer with positions from 0 as in the
        training crops, both motion heads), one window at a time, and the output vertices are the
        windows' weighted sum: each frame owned by one window is that window's output exactly;
        across each seam the two neighbours are linearly cross-faded over ``O`` frames (positions
        are linear in the window outputs, so the blend is a mesh between the two). We blend instead
        of cutting at the seam because two windows' predictions of the same frame differ (their
        contexts differ), and a hard cut shows that difference as a one-frame jump; the fade
        spreads it over ``O`` frames (tested bound). Approximation: no frame sees context beyond its
        window, and the front-end's per-utterance normalisation and interpolation are per window.

        Args:
            audio: ``(B, S)`` float32 16 kHz waveforms (real samples first).
            template: ``(B, V, 3)`` neutral templates, metres.
            num_frames: ``(B,)`` int frames of each sequence (at most ``total``).
            total: output width ``T``.
            audio_mask: ``(B, S)`` bool (True = real sample) or ``None``.

        Returns:
            ``(B, T, V, 3)`` float32 positions in metres; frames past ``num_frames[b]`` are the template.

        Raises:
            DataError: a template of the wrong vertex count, or a sequence without samples.
        """
        bsz = audio.shape[0]
        template = template.float()
        samples = (audio_mask.sum(dim=1) if audio_mask is not None
                   else torch.full((bsz,), audio.shape[1], device=audio.device))  # fmt: skip
        counts = num_frames.reshape(-1).expand(bsz).tolist() if num_frames.numel() == 1 else num_frames.tolist()
        window_samples, overlap_samples = self._window_samples()
        out = template[:, None].repeat(1, total, 1, 1)
        for b in range(bsz):
            length, frames = int(samples[b]), min(int(counts[b]), total)
            if length < 1:
                raise DataError(f"generate: sequence {b} has no real audio samples")
            wave, tpl = audio[b : b + 1, :length], template[b : b + 1]
            if length <= window_samples:
                out[b, :frames] = self(wave, None, tpl, frames, total_frames=frames).vertices[0].float()
                continue
            per_frame = length / frames
            window = max(1, int(window_samples / per_frame))
            overlap = int(overlap_samples / per_frame)
            acc = out[b, :frames].zero_()  # a view: the windows are summed in place (no second (T, V, 3) copy)
            for start, stop, weight in inference_windows(frames, window, overlap):
                if not bool((weight > 0).any()):
                    continue
                s0 = min(length - 1, int(round(start * per_frame)))
                s1 = max(s0 + 1, min(length, int(round(stop * per_frame))))
                verts = self(wave[:, s0:s1], None, tpl, stop - start, total_frames=stop - start).vertices[0].float()
                acc[start:stop] += weight.to(acc)[:, None, None] * verts
        return out

    def predict_for_metrics(self, batch: MeshBatch) -> Tensor:
        """Prediction of a whole batch for the metrics, ``(B, T, V, 3)`` metres.

        Each sequence is animated over its ground-truth length (``batch.frame_mask``), exactly as
        in training, so the audio of a short sequence in a padded batch is not stretched to the
        batch width (the family default passes one frame count for all sequences).
        """
        out = self(batch.audio, batch.audio_mask, batch.template.float(), batch.frame_mask.sum(dim=1),
                   total_frames=batch.vertices.shape[1])  # fmt: skip
        return out.vertices.float()

    def compute_losses(self, batch: MeshBatch) -> dict[str, Tensor]:
        """Training losses of a batch (§3.4, Eqs. 8-11), on positions × ``loss_scale``.

        * ``rec``: mean over real frames and vertices of ``||v̂ - v||²``;
        * ``vel``: the same on consecutive-frame differences (pairs of real frames);
        * ``ot``: mean over real frames (or ``ot_max_frames`` random ones) of ``SW_p^p`` (or
          ``SW_p``) between the predicted and true meshes as measures (only with ``use_ot``);
        * ``sparsity``: mean absolute value of the 50 coefficients (or of the refinement);
        * ``loss = λ_rec rec + λ_vel vel + λ_ot ot + λ_sparse sparsity``.

        Returns:
            dict of scalar tensors with keys ``loss``, ``rec``, ``vel``, ``sparsity`` (+ ``ot``).
        """
        frames = batch.vertices.shape[1]
        mask = batch.frame_mask.bool()
        out = self(batch.audio, batch.audio_mask, batch.template, mask.sum(dim=1), total_frames=frames)
        s = self.loss_scale
        pred, gt = out.vertices * s, batch.vertices * s
        fm = mask.to(pred.dtype)
        n_real = fm.sum().clamp_min(1.0)
        rec = (((pred - gt) ** 2).sum(-1).mean(-1) * fm).sum() / n_real
        pair = (mask[:, 1:] & mask[:, :-1]).to(pred.dtype)
        dv = (pred[:, 1:] - pred[:, :-1]) - (gt[:, 1:] - gt[:, :-1])
        vel = ((dv**2).sum(-1).mean(-1) * pair).sum() / pair.sum().clamp_min(1.0)
        if self.sparsity_target == "coefficients" or out.refinement is None:
            sparsity = (out.coefficients.abs().mean(-1) * fm).sum() / n_real
        else:
            sparsity = ((out.refinement * s).abs().mean(dim=(-1, -2)) * fm).sum() / n_real
        losses = {"rec": rec, "vel": vel, "sparsity": sparsity}
        total = self.lambdas["rec"] * rec + self.lambdas["vel"] * vel + self.lambdas["sparse"] * sparsity
        if self.use_ot:
            p_real, g_real = pred[mask], gt[mask]
            if self.ot_max_frames is not None and p_real.shape[0] > self.ot_max_frames:
                pick = torch.randperm(p_real.shape[0], device=p_real.device)[: self.ot_max_frames]
                p_real, g_real = p_real[pick], g_real[pick]
            ot = mesh_sliced_wasserstein(
                p_real, g_real, self.faces, support=self.swd_support, normal_weight=float(self.normal_weight) * s,
                num_projections=self.swd_projections, p=self.swd_p, root=self.swd_root,
                chunk_size=self.swd_chunk_frames,
            ).mean()  # fmt: skip
            losses["ot"] = ot
            total = total + self.lambdas["ot"] * ot
        losses["loss"] = total
        return losses


def build_parameter_count_model(num_vertices: int, audio_encoder: nn.Module, **kwargs: Any) -> OTTalk:
    """Build an :class:`OTTalk` of ``num_vertices`` vertices for counting parameters (no data needed).

    Uses a synthetic triangle strip as topology (parameter shapes depend only on ``V`` and the
    level sizes, never on the triangles). Writes the strip to a temporary file.
    """
    import tempfile

    idx = np.arange(num_vertices - 2)
    strip = np.stack([idx, idx + 1, idx + 2], axis=1).astype(np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "faces.npy"
        np.save(path, strip)
        spec = MeshDataSpec(dataset="count", fps=30.0, num_vertices=num_vertices, faces_file=str(path))
        return OTTalk(spec=spec, audio_encoder=audio_encoder, **kwargs)
