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
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from talkzoo.data.batch import MeshBatch
from talkzoo.data.spec import MeshDataSpec
from talkzoo.errors import ConfigError, DataError
from talkzoo.metrics.mesh import FAMILY_MESH_METRICS, OTTALK_MESH_METRICS
from talkzoo.modules import build_module
from talkzoo.nn.optim import adamw
from talkzoo.nn.sequence import samples_per_sequence, sequence_frame_counts
from talkzoo.nn.state import accept_unprefixed_keys
from talkzoo.nn.windows import check_window_options, plan_audio_windows, window_samples
from talkzoo.tasks.mesh import AudioToMeshTask

from talkzoo_ottalk.losses import ot_loss, reconstruction_loss, sparsity_loss, velocity_loss
from talkzoo_ottalk.network import OTTalkNetwork, OTTalkOutput, load_faces, load_reference_template, pca_of_displacements

__all__ = ["OTTalk", "OTTalkOutput", "build_parameter_count_model"]

log = logging.getLogger(__name__)


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
        swd_root: use ``SW_p`` (the distance, "the SWD" of Eq. 10; the paper recipes) instead of
            ``SW_p^p`` (default, the demo: the squared unit of L_rec and a finite gradient where
            prediction and truth coincide). Not equivalent inside the total loss: squaring keeps
            the OT term's own minimiser but changes its weight against L_rec and L_vel.
        vertex_distance: vertex distance of Eqs. 8-9, whose norm the paper text lost:
            ``"squared"`` (``||v̂ - v||²``, default, every recipe; FaceFormer/VOCA's) or
            ``"euclidean"`` (``||v̂ - v||``).
        pca_input: input of the PCA coefficient head: ``"audio_identity"`` (``[a_t, z]``, default,
            the demo; ours) or ``"audio"`` (``a_t`` alone: "50 linear face motion components from
            the audio latent code", §3.3; the paper recipes).
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
        vertex_distance: Literal["squared", "euclidean"] = "squared",
        pca_input: Literal["audio_identity", "audio"] = "audio_identity",
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
        optimizer: OptimizerCallable = adamw,
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
            (vertex_distance in ("squared", "euclidean"), f"vertex_distance must be 'squared' or 'euclidean', got {vertex_distance!r}"),
            (pca_input in ("audio_identity", "audio"), f"pca_input must be 'audio_identity' or 'audio', got {pca_input!r}"),
        ]  # fmt: skip
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"OTTalk: {message}")
        check_window_options(
            inference_window_seconds, inference_window_overlap_seconds, "inference_window_seconds",
            "inference_window_overlap_seconds",
        )  # fmt: skip
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

        # The reference template is in the state dict, so its path is not needed again. (The
        # encoder is stored by the base class as the config that rebuilds it.)
        self.hparams["reference_template"] = None
        self.num_vertices = num_vertices
        self.use_ot = bool(use_ot)
        self.pca_init, self.pca_max_frames = bool(pca_init), pca_max_frames
        self.lambdas = {"rec": float(lambda_rec), "vel": float(lambda_vel), "ot": float(lambda_ot), "sparse": float(lambda_sparse)}
        self.sparsity_target = sparsity_target
        self.swd_projections, self.swd_p, self.swd_support = int(swd_projections), float(swd_p), swd_support
        self.swd_root, self.ot_max_frames, self.swd_chunk_frames = bool(swd_root), ot_max_frames, swd_chunk_frames
        self.loss_scale = float(loss_scale)
        self.squared_distance = vertex_distance == "squared"
        self.inference_window_seconds = None if inference_window_seconds is None else float(inference_window_seconds)
        self.inference_window_overlap_seconds = float(inference_window_overlap_seconds)
        self.faces_path = str(faces_path)

        # Every weight, buffer and the mesh hierarchy live in the network (network.py). The two
        # displacement heads output loss units (mm with loss_scale 1000; motion_unit = 1 / loss_scale
        # metres per unit), so that AdamW's per-parameter step (~lr) is a sub-millimetre change, not
        # lr metres (ours; see the plugin README).
        self.network = OTTalkNetwork(
            num_vertices, faces, audio_encoder, K=K, channels=channels, pool_factors=pool_factors, down_mode=down_mode,
            latent_dim=latent_dim, d_model=d_model, num_conv_layers=num_conv_layers, conv_kernel=conv_kernel,
            num_layers=num_layers, num_heads=num_heads, ff_dim=ff_dim, dropout=dropout, n_components=n_components,
            pca_input=pca_input, use_transformer=use_transformer, use_chebnet=use_chebnet, motion_unit=1.0 / self.loss_scale,
            swd_normal_weight=swd_normal_weight, cache_dir=cache_dir, use_cache=use_cache,
        )  # fmt: skip
        # checkpoints written before the network moved into self.network keep loading
        accept_unprefixed_keys(self, "network")
        if reference_template is not None:
            self.network.set_reference_template(
                load_reference_template(reference_template, spec_.speakers), source=str(reference_template)
            )

    # ------------------------------------------------------------------ hooks
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
                self.network.set_reference_template(mean, source="mean template of the training speakers")

    def setup(self, stage: str) -> None:  # noqa: D102 - Lightning hook
        super().setup(stage)
        if not bool(self.network.reference_ready.item()):
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
        mean, comps, std = pca_of_displacements(x, self.network.n_components)
        self.network.set_pca(mean, comps, std)
        log.info("OTTalk: PCA layer initialised from %d training frames", x.shape[0])

    def on_fit_start(self) -> None:  # noqa: D102 - Lightning hook: PCA from the train data when not done
        if not self.pca_init or bool(self.network.pca_ready.item()):
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
        """One non-autoregressive pass: :meth:`OTTalkNetwork.forward <talkzoo_ottalk.network.OTTalkNetwork.forward>`
        (same arguments, shapes and errors), returning an :class:`~talkzoo_ottalk.network.OTTalkOutput`."""
        return self.network(audio, audio_mask, template, num_frames, total_frames)

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
        spec = self.mesh_spec
        samples = samples_per_sequence(audio, audio_mask)
        # the longest audio spans the requested width (as a single, unpadded sequence does)
        counts, total = sequence_frame_counts(samples, spec.sample_rate, spec.fps, num_frames)
        longest = window_samples(self.inference_window_seconds, float(spec.sample_rate))
        if longest is not None and int(samples.max()) > longest:
            return self.generate_windowed(audio, template, counts, total, audio_mask)
        out = self(audio, audio_mask, template.float(), counts, total_frames=total)
        return out.vertices.float()

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
        windows of ``W = floor(window_samples / p)`` frames with overlap ``O = floor(overlap_samples / p)``
        frames (:func:`talkzoo.nn.windows.plan_audio_windows`, ``"crossfade"`` blend). Window ``[a, e)`` runs the whole per-frame
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
        samples = samples_per_sequence(audio, audio_mask)
        counts = num_frames.reshape(-1).expand(bsz).tolist() if num_frames.numel() == 1 else num_frames.tolist()
        rate = float(self.mesh_spec.sample_rate)
        longest = window_samples(self.inference_window_seconds, rate)
        out = template[:, None].repeat(1, total, 1, 1)
        for b in range(bsz):
            length, frames = int(samples[b]), min(int(counts[b]), total)
            if length < 1:
                raise DataError(f"generate: sequence {b} has no real audio samples")
            wave, tpl = audio[b : b + 1, :length], template[b : b + 1]
            if longest is None or length <= longest:
                out[b, :frames] = self(wave, None, tpl, frames, total_frames=frames).vertices[0].float()
                continue
            acc = out[b, :frames].zero_()  # a view: the windows are summed in place (no second (T, V, 3) copy)
            plan = plan_audio_windows(
                length, frames, rate, self.inference_window_seconds, self.inference_window_overlap_seconds, "crossfade"
            )
            for win in plan:
                n = win.stop - win.start
                verts = self(wave[:, win.sample_start : win.sample_stop], None, tpl, n, total_frames=n).vertices[0].float()
                acc[win.start : win.stop] += win.weight.to(acc)[:, None, None] * verts
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
        """Training losses of a batch (§3.4, Eqs. 8-11, in :mod:`talkzoo_ottalk.losses`), on positions × ``loss_scale``.

        * ``rec``: mean over real frames and vertices of ``||v̂ - v||²`` (or ``||v̂ - v||``, ``vertex_distance``);
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
        rec = reconstruction_loss(pred, gt, mask, self.squared_distance)
        vel = velocity_loss(pred, gt, mask, self.squared_distance)
        if self.sparsity_target == "coefficients" or out.refinement is None:
            sparsity = sparsity_loss(out.coefficients, mask)
        else:
            sparsity = sparsity_loss(out.refinement * s, mask)
        losses = {"rec": rec, "vel": vel, "sparsity": sparsity}
        total = self.lambdas["rec"] * rec + self.lambdas["vel"] * vel + self.lambdas["sparse"] * sparsity
        if self.use_ot:
            ot = ot_loss(
                pred, gt, mask, self.network.faces, support=self.swd_support,
                normal_weight=float(self.network.normal_weight) * s, num_projections=self.swd_projections, p=self.swd_p,
                root=self.swd_root, max_frames=self.ot_max_frames, chunk_size=self.swd_chunk_frames,
            )  # fmt: skip
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
