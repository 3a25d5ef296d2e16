"""DualTalker: cross-modal dual learning for speech-driven 3D facial animation.

Su, Yang, Li, "DualTalker: A Cross-Modal Dual Learning Approach for Speech-Driven 3D Facial
Animation" (no official code exists; this is an independent implementation of the paper text,
``papers/dualtalker.md``, and the project's implementation notes ``specs/dualtalker_ottalk.md``).

The model is a :class:`~talkzoo.tasks.mesh.AudioToMeshTask` (the LightningModule: losses wired,
hooks, ``generate``); its weights live in :class:`~talkzoo_dualtalker.network.DualTalkerNetwork`
(``self.network``), its layers in :mod:`talkzoo_dualtalker.layers` and its loss terms in
:mod:`talkzoo_dualtalker.losses`. Training runs two branches that share the audio encoder, the
motion encoder, the style embedding and the fusion modules:

* **primal** (facial animation, Eq. 1): audio ``X`` + past motion → motion ``M̂`` (Sec. III-B);
* **dual** (lip reading, Eq. 2): motion ``Y`` + past audio features → audio features ``Â``
  (Sec. III-C),

with ``λ1·L_Primal + λ2·L_Dual + λ3·L_DR + λ4·L_CCRL`` (Sec. III-F). Only the primal branch runs
at inference (:meth:`DualTalker.generate`), autoregressively, with cached keys and values.

Every choice the paper leaves open is a constructor argument; the plugin README lists each with
its reason. Units: motion is vertex displacement from the template in metres; audio is a 16 kHz
waveform; frames run at ``spec.fps``.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from talkzoo.data.batch import MeshBatch
from talkzoo.data.spec import MeshDataSpec
from talkzoo.errors import ConfigError, DataError
from talkzoo.modules import build_module
from talkzoo.nn.optim import adam
from talkzoo.nn.sequence import samples_per_sequence, sequence_frame_counts
from talkzoo.nn.state import accept_unprefixed_keys
from talkzoo.nn.fast_inference import InferenceEncoderCache, check_encoder_precision, release_freed_memory
from talkzoo.nn.windows import LAYOUTS, check_window_options, plan_audio_windows, window_samples
from talkzoo.tasks.mesh import AudioToMeshTask

from talkzoo_dualtalker.losses import consistency_loss, masked_mse, masked_smooth_l1
from talkzoo_dualtalker.network import DualTalkerNetwork


class DualTalker(AudioToMeshTask):
    """DualTalker (primal facial animation + dual lip reading), an audio-to-mesh talkzoo model.

    Architecture (appendix A, "Network Architecture", in :class:`~talkzoo_dualtalker.network.DualTalkerNetwork`,
    ``self.network``): the injected ``audio_encoder`` (wav2vec
    2.0 with a frozen CNN and a fine-tuned 12-layer transformer, interpolated to the mesh frame
    rate) gives ``A (B, T, C)``; ``audio_encoder_proj: Linear(C → d)`` gives ``X``;
    ``motion_encoder: Linear(3V → d)`` encodes displacements; ``style: Embedding(#speakers, d)``
    gives ``S_n``; ``num_layers`` :class:`~talkzoo_dualtalker.layers.FusionLayer` (causal
    self-attention with periodic positional encoding and periodic ALiBi bias (Eqs. 3–4),
    speaker-aware SE gate (Eq. 5), tied cross-attention (Eqs. 6–7), FF, residuals + LayerNorm);
    ``motion_decoder: Linear(d → 3V)`` and ``audio_decoder: Linear(d → C)``.

    Args:
        spec: :class:`~talkzoo.data.spec.MeshDataSpec` (linked from the datamodule); gives
            ``V``, ``fps`` and the training speakers. Required.
        audio_encoder: speech front-end module with ``forward(audio (B,S), audio_mask (B,S)|None,
            num_frames: int|Tensor) -> (B, T, output_dim)`` and attribute ``output_dim`` (a
            :mod:`talkzoo.audio.encoders` class in a recipe). ``None`` builds the paper's
            ``Wav2Vec2Encoder("facebook/wav2vec2-base-960h")`` (pretrained weights needed).
        d_model: fusion width ``d`` (paper: 128 VOCASET, 256 BIWI).
        num_heads: heads of both attentions (paper: 4).
        num_layers: stacked fusion layers (not in the paper; default 1 as FaceFormer).
        feedforward_dim: FF width (paper: 2048).
        se_reduction: speaker-aware compression ratio ``r`` (paper: 16).
        dropout: dropout of attention weights, sub-blocks, FF and positional encoding (not in the
            paper; 0.1 as PyTorch's/FaceFormer's transformer decoder).
        norm_first: pre-LN (``True``) or post-LN (``False``, default as FaceFormer; not in the paper).
        primal_query: which modality queries the primal integration module: ``"audio"`` (paper
            Eq. 6: ``Q`` from ``X``, ``K``/``V`` from the gated motion ``Ȳ``; the dual branch then
            queries with motion, Eq. 7) or ``"motion"`` (FaceFormer: ``Q`` from motion, ``K``/``V``
            from audio; the dual branch queries with audio).
        cross_attention_mask: mask of the integration module, ``"biased"`` (causal + periodic
            ALiBi, default), ``"causal"`` or ``"diagonal"`` (FaceFormer's alignment, frame ``i`` sees
            only frame ``i``). With ``primal_query="audio"`` the keys are *past* motion tokens, so a
            diagonal mask makes the attention ignore its query (one key per row) and the tied
            ``W_Q``/``W_K`` receive no gradient; causal/biased lets audio frame ``t`` choose among
            motion tokens ``<= t`` (which depend on frames ``< t`` only). See the README.
        ppe_period: period (frames) of the periodic positional encoding; ``None`` = ``round(spec.fps)``.
        bias_period: period (frames) of the ALiBi bias; ``None`` = ``round(spec.fps)``.
        start_token: first token of each branch's shifted input: ``"style"`` (``S_n``, FaceFormer),
            ``"zero"`` or ``"learned"``.
        style_in_tokens: also add ``S_n`` to every stream token (FaceFormer) besides the gate.
        share_value_output: share the integration module's value/output projections across branches.
        share_feedforward: share the FF block across branches.
        zero_init_motion_decoder: zero-initialise the motion decoder (FaceFormer does).
        teacher_forcing: train the primal branch in one parallel pass on the shifted ground truth
            (``True``, cheap) or autoregressively on its own predictions, frame by frame with a
            key/value cache (``False``, the paper's Eq. 1 / FaceFormer setting).
        scheduled_sampling: with teacher forcing, probability of replacing each ground-truth
            previous frame by the model's own (detached, one-pass) prediction; ``0`` = off.
        dual_autoregressive: run the dual branch autoregressively on its own predictions, frame by
            frame with a key/value cache, each predicted ``â_t`` re-encoded by the shared audio
            encoder (``True``, Eq. 2: ``â_t = LipReading(â_<t, S_n, M)``; the paper recipes), or
            teacher-forced on the ground-truth audio history in one parallel pass (``False``,
            default and demo: cheap).
        use_dual: train the dual branch (``False`` = Table IV "w/o Dual Training": "only train the
            facial animator module", i.e. ``L_Primal`` alone: no ``L_Dual``, ``L_DR`` or ``L_CCRL``).
        use_consistency: use ``L_CCRL`` (``False`` = Table IV "w/o CCRL"); only with ``use_dual``.
        lambda_primal: ``λ1`` (paper 1).
        lambda_dual: ``λ2`` (paper 1e-8, both datasets).
        lambda_dr: ``λ3`` (paper 1e-6 VOCASET, 1e-9 BIWI).
        lambda_ccrl: ``λ4`` (paper 1e-6 BIWI; not given for VOCASET, 1e-6 assumed).
        ccrl_sigma: RBF bandwidth ``σ`` in metres on flattened displacements; ``None`` = median
            distance between the sequence's frames (not in the paper).
        ccrl_temperature: global temperature ``τ`` dividing the similarities (1 = paper-literal).
        ccrl_weighting: reading of Eq. 9's ``Σ_k w_k``: ``"anchor"`` (literal ``w_k = 1``, only the
            aligned pair is a positive; default, demo) or ``"kernel"`` (every frame a positive
            weighted by the kernel, Barbano et al.'s form; the paper recipes). See
            :func:`~talkzoo_dualtalker.losses.consistency_loss`.
        ccrl_reduction: ``"mean"`` (default, all recipes: per-frame value, ``Σ_k / T``) or
            ``"sum"`` (Eq. 9's ``Σ_k`` literally; grows with the sequence length) over anchors.
        smooth_l1_beta: ``β`` of the Smooth-L1 in ``L_DR`` (PyTorch default 1.0).
        detach_dual_target: stop gradients into the encoder through the dual target ``A``.
        optimizer: callable ``params -> Optimizer`` (default Adam lr 1e-4, the paper's setting).
        lr_scheduler: optional callable ``optimizer -> LRScheduler``.
        unseen_speaker: training speaker whose style conditions non-training subjects.
        max_context: attention context in frames of autoregressive generation (not in the
            paper): every self- and cross-attention cache keeps only the last ``max_context``
            frames (a preallocated ring buffer at inference), so memory and time per frame stop
            growing once ``t >= max_context``. Biases and positional encodings keep their
            absolute-position values, so sequences of at most ``max_context`` frames are generated
            exactly as with an unbounded cache; longer ones are an approximation (default 600
            frames, FaceFormer's length, i.e. 20 s at 30 fps / 24 s at 25 fps; the model is trained
            on a few seconds and the periodic ALiBi bias already down-weights far frames).
            ``None`` = unbounded (exact, ``O(t)`` per frame). Teacher-forced training is unaffected.
        encoder_chunk_seconds: longest audio, in seconds, the speech encoder sees at once in
            :meth:`generate` (not in training): longer audio is encoded in overlapping windows of
            this length (see :meth:`encode_audio_chunked`), so wav2vec 2.0's self-attention memory
            (quadratic in length) stays bounded. ``None`` = always encode the whole waveform.
        encoder_chunk_overlap_seconds: context, in seconds, each window keeps on either side of the
            frames it contributes (``2 * overlap < encoder_chunk_seconds``). The 1 s default (2 s
            before issue #17) is about the reach of wav2vec 2.0's positional convolution (kernel
            128 tokens: +-64 tokens, 1.3 s at 50 Hz); self-attention beyond it is global, so no
            overlap makes windows exact, and each seam costs ``2 * overlap`` of re-encoded audio
            (at 1 s: 7 % more audio encoded for 10 minutes instead of 15 %) (ours).
        encoder_chunk_layout: ``"once"`` (default: the audio is encoded once plus ``2 * overlap``
            per seam, windows of at most ``encoder_chunk_seconds``) or ``"spread"`` (every window
            ``encoder_chunk_seconds`` long, evenly spread; the layout before issue #17, which
            re-encodes up to a whole window at the end). See :func:`talkzoo.nn.windows.plan_windows`.
            Audio no longer than one window is encoded whole in both (bit for bit unchanged).
        encoder_precision: speech-encoder arithmetic in :meth:`generate` only: ``"fp32"`` (default,
            exact), ``"int8"`` (dynamic int8 quantisation of its linear layers, CPU) or ``"bf16"``
            (autocast). Ours, not the paper's; speed and vertex deviation measured in
            ``benchmarks/paper_size_inference.py`` (:mod:`talkzoo.nn.fast_inference`).
        fused_decoder: :meth:`generate` only (ours; on by default since issue #17, ``False`` gives the
            step-by-step loop of earlier versions bit for bit): feed the prediction back through one
            ``d x d`` map ``W_e W_d`` (motion encoder after motion decoder, equal in exact
            arithmetic) and decode the vertices in blocks of frames with one matrix product each,
            so a frame no longer reads the two ``3V x d`` matrices (2 x 7.7 MB at 5023 vertices).
            Still fp32; only the float rounding differs (1.5e-5 mm at paper size, 1.3e-6 of the
            motion: ``benchmarks/paper_size_inference.py``), for 1.12x at 19 s.

    Raises:
        ConfigError: missing spec, bad option values, or an encoder without ``output_dim``.
        FamilyMismatchError: a spec of another family.
    """

    def __init__(
        self,
        spec: MeshDataSpec | dict | None = None,
        audio_encoder: nn.Module | None = None,
        d_model: int = 128,
        num_heads: int = 4,
        num_layers: int = 1,
        feedforward_dim: int = 2048,
        se_reduction: int = 16,
        dropout: float = 0.1,
        norm_first: bool = False,
        primal_query: str = "audio",
        cross_attention_mask: str = "biased",
        ppe_period: int | None = None,
        bias_period: int | None = None,
        start_token: str = "style",
        style_in_tokens: bool = False,
        share_value_output: bool = False,
        share_feedforward: bool = False,
        zero_init_motion_decoder: bool = True,
        teacher_forcing: bool = True,
        scheduled_sampling: float = 0.0,
        dual_autoregressive: bool = False,
        use_dual: bool = True,
        use_consistency: bool = True,
        lambda_primal: float = 1.0,
        lambda_dual: float = 1e-8,
        lambda_dr: float = 1e-6,
        lambda_ccrl: float = 1e-6,
        ccrl_sigma: float | None = None,
        ccrl_temperature: float = 1.0,
        ccrl_weighting: str = "anchor",
        ccrl_reduction: str = "mean",
        smooth_l1_beta: float = 1.0,
        detach_dual_target: bool = True,
        optimizer: OptimizerCallable = adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        unseen_speaker: str | int = 0,
        max_context: int | None = 600,
        encoder_chunk_seconds: float | None = 30.0,
        encoder_chunk_overlap_seconds: float = 1.0,
        encoder_chunk_layout: str = "once",
        encoder_precision: str = "fp32",
        fused_decoder: bool = True,
    ) -> None:
        # From a checkpoint the encoder arrives as its recorded {"class_path", "init_args"} config.
        audio_encoder = build_module(audio_encoder)
        super().__init__(spec=spec, optimizer=optimizer, lr_scheduler=lr_scheduler, unseen_speaker=unseen_speaker)
        spec_ = self.mesh_spec
        if spec_.num_vertices < 1:
            raise ConfigError(f"DualTalker needs spec.num_vertices >= 1, got {spec_.num_vertices}")
        DualTalkerNetwork.check_options(primal_query, cross_attention_mask, start_token, max_context)
        if not 0.0 <= scheduled_sampling <= 1.0:
            raise ConfigError(f"scheduled_sampling must be in [0, 1], got {scheduled_sampling}")
        if ccrl_temperature <= 0 or (ccrl_sigma is not None and ccrl_sigma <= 0):
            raise ConfigError("ccrl_temperature and ccrl_sigma must be > 0")
        if ccrl_weighting not in ("anchor", "kernel"):
            raise ConfigError(f"ccrl_weighting must be 'anchor' or 'kernel', got {ccrl_weighting!r}")
        if ccrl_reduction not in ("mean", "sum"):
            raise ConfigError(f"ccrl_reduction must be 'mean' or 'sum', got {ccrl_reduction!r}")
        check_window_options(
            encoder_chunk_seconds, encoder_chunk_overlap_seconds, "encoder_chunk_seconds", "encoder_chunk_overlap_seconds"
        )
        if encoder_chunk_layout not in LAYOUTS:
            raise ConfigError(f"encoder_chunk_layout must be one of {LAYOUTS}, got {encoder_chunk_layout!r}")
        check_encoder_precision(encoder_precision)
        if audio_encoder is None:
            from talkzoo.audio.encoders import Wav2Vec2Encoder

            audio_encoder = Wav2Vec2Encoder()

        self.vertex_dim = 3 * spec_.num_vertices
        self.teacher_forcing = teacher_forcing
        self.scheduled_sampling = scheduled_sampling
        self.dual_autoregressive = dual_autoregressive
        self.use_dual = use_dual
        self.use_consistency = use_consistency
        self.lambdas = {"primal": lambda_primal, "dual": lambda_dual, "dr": lambda_dr, "ccrl": lambda_ccrl}
        self.ccrl_sigma = ccrl_sigma
        self.ccrl_temperature = ccrl_temperature
        self.ccrl_weighting = ccrl_weighting
        self.ccrl_reduction = ccrl_reduction
        self.smooth_l1_beta = smooth_l1_beta
        self.detach_dual_target = detach_dual_target
        self.encoder_chunk_seconds = None if encoder_chunk_seconds is None else float(encoder_chunk_seconds)
        self.encoder_chunk_overlap_seconds = float(encoder_chunk_overlap_seconds)
        self.encoder_chunk_layout = encoder_chunk_layout
        self.encoder_precision = encoder_precision
        self._fast_encoders = InferenceEncoderCache()  # not a module: never in the state dict

        period = max(1, int(round(spec_.fps)))
        self.network = DualTalkerNetwork(
            self.vertex_dim, spec_.num_speakers, audio_encoder, d_model=d_model, num_heads=num_heads,
            num_layers=num_layers, feedforward_dim=feedforward_dim, se_reduction=se_reduction, dropout=dropout,
            norm_first=norm_first, primal_query=primal_query, cross_attention_mask=cross_attention_mask,
            ppe_period=int(ppe_period or period), bias_period=int(bias_period or period), start_token=start_token,
            style_in_tokens=style_in_tokens, share_value_output=share_value_output, share_feedforward=share_feedforward,
            zero_init_motion_decoder=zero_init_motion_decoder, max_context=max_context,
        )  # fmt: skip
        # checkpoints written before the network moved into self.network keep loading
        accept_unprefixed_keys(self, "network")
        self.network.fused_feedback = bool(fused_decoder)

    # ================================================================== long audio
    def encode_audio_chunked(
        self,
        audio: Tensor,
        audio_mask: Tensor | None,
        num_frames: int | Tensor,
        total: int,
        encoder: nn.Module | None = None,
        project: nn.Module | None = None,
    ) -> Tensor:
        """Audio features ``A`` like :meth:`encode_audio`, with long audio encoded window by window.

        Why: wav2vec 2.0's self-attention costs memory quadratic in the audio length (10 minutes
        at 30 fps is 18,000 frames, a ``18000 x 18000`` attention matrix per head and layer) and
        the encoder was trained on utterances of a few seconds. Audio no longer than
        ``encoder_chunk_seconds`` (all sequences of the batch) goes through :meth:`encode_audio`
        unchanged, so the result is identical. A longer sequence ``b`` with ``S_b`` real samples
        and ``n_b`` frames is cut into windows of ``W = floor(chunk * sr * n_b / S_b)`` frames
        (``chunk`` seconds of audio), evenly spread from frame 0 to frame ``n_b`` so that
        neighbours share at least ``2 * overlap`` frames (:func:`talkzoo.nn.windows.plan_audio_windows`).
        Each window's audio (samples ``round(f * S_b / n_b)`` for its frame range) is encoded on
        its own with ``W`` output frames, and every output frame is taken from the window whose
        centre is nearest (the ``"nearest"`` blend), so it has at least ``overlap`` frames (about
        ``encoder_chunk_overlap_seconds``) of context on both sides unless it is near the
        start/end of the audio. Windows are encoded
        one at a time, so peak encoder memory is that of one window. This is an approximation for
        long audio: the encoder never sees context beyond its window, and the linear interpolation
        to the frame rate is done per window.

        Args:
            audio: ``(B, S)`` float32 16 kHz waveform.
            audio_mask: ``(B, S)`` bool, ``True`` on real samples, or ``None``.
            num_frames: frames per sequence (int or ``(B,)`` int64).
            total: padded frame count ``T`` of the output.
            encoder: module to run instead of the network's ``audio_encoder`` (same weights, e.g.
                :func:`talkzoo.nn.fast_inference.fast_encoder`); ``None`` = the network's.
            project: optional per-frame module (e.g. the network's ``audio_encoder_proj``) applied to
                each window's features before they are kept, so long audio holds ``(T, C')`` projected
                features instead of ``(T, C)`` encoder features (768 -> 128 channels at paper size).
                Equal to projecting the result afterwards (frames past ``num_frames`` get
                ``project(0)``, as they would).

        Returns:
            ``(B, T, C)`` features (dtype of the encoder output; ``C'`` with ``project``); frames past
            a sequence's ``num_frames`` are zero (``project(0)`` with ``project``).

        Raises:
            DataError: propagated from the encoder (e.g. a sequence without samples).
        """
        bsz = audio.shape[0]
        chunk_samples = window_samples(self.encoder_chunk_seconds, float(self.mesh_spec.sample_rate))
        samples = samples_per_sequence(audio, audio_mask)
        if chunk_samples is None or int(samples.max()) <= chunk_samples:
            feats = self.network.encode_audio(audio, audio_mask, num_frames, total, encoder)
            return feats if project is None else project(feats)
        counts = (
            num_frames.reshape(-1).expand(bsz).tolist() if isinstance(num_frames, Tensor) else [int(num_frames)] * bsz
        )
        out: Tensor | None = None
        for b in range(bsz):
            length, frames = int(samples[b]), int(counts[b])
            wave = audio[b : b + 1, :length]
            if length <= chunk_samples:
                feats = self.network.encode_audio(wave, None, frames, frames, encoder)  # (1, frames, C)
                feats = feats if project is None else project(feats)
            else:
                feats = self._encode_windows(wave, frames, encoder, project)
            if bsz == 1 and feats.shape[1] == total:  # one sequence filling the output: no second copy
                return feats
            if out is None:
                out = feats.new_zeros(bsz, total, feats.shape[2])
                if project is not None:  # padding frames: project(0), as when projecting afterwards
                    zeros = audio.new_zeros(bsz, total, int(self.network.audio_encoder.output_dim))
                    out = project(zeros).to(feats.dtype)
            keep = min(frames, total)
            out[b, :keep] = feats[0, :keep]
        return out

    def _encode_windows(self, wave: Tensor, frames: int, encoder: nn.Module | None = None, project: nn.Module | None = None) -> Tensor:
        """Encode one ``(1, S)`` waveform in overlapping windows → ``(1, frames, C)`` (see
        :meth:`encode_audio_chunked`; ``project`` applied per window)."""
        out = None
        plan = plan_audio_windows(
            wave.shape[1], frames, float(self.mesh_spec.sample_rate), self.encoder_chunk_seconds,
            self.encoder_chunk_overlap_seconds, blend="nearest", layout=self.encoder_chunk_layout,
        )  # fmt: skip
        for win in plan:
            first, stop = win.support
            n = win.stop - win.start
            feats = self.network.encode_audio(wave[:, win.sample_start : win.sample_stop], None, n, n, encoder)
            if project is not None:
                feats = project(feats[:, first - win.start : stop - win.start])
                first_local = 0
            else:
                first_local = first - win.start
            if out is None:  # written window by window: no list of pieces and no concatenated copy
                out = feats.new_empty(1, frames, feats.shape[2])
            out[:, first:stop] = feats[:, first_local : first_local + stop - first]
            del feats
            release_freed_memory()  # the window's activations go back to the OS, not into a growing heap
        return out

    # ================================================================== training
    def compute_losses(self, batch: MeshBatch) -> dict[str, Tensor]:
        """Training losses of a batch (Sec. III-F): ``λ1·L_Primal + λ2·L_Dual + λ3·L_DR + λ4·L_CCRL``.

        Each term is computed per sequence over its real frames and averaged over the batch
        (so a padded batch equals the mean of its sequences computed one by one).

        Args:
            batch: :class:`~talkzoo.data.batch.MeshBatch` (vertices/template in metres).

        Returns:
            dict with ``"loss"`` (total), ``"primal_mse"`` (m²), and, when enabled,
            ``"dual_mse"``, ``"duality_reg"`` (Eq. 8), ``"ccrl"`` (Eq. 11).

        Raises:
            DataError: if the vertex count differs from ``spec.num_vertices``.
        """
        bsz, total = batch.frame_mask.shape
        if batch.vertices.shape[2] * 3 != self.vertex_dim:
            raise DataError(
                f"DualTalker was built for {self.vertex_dim // 3} vertices, the batch has {batch.vertices.shape[2]}"
            )
        mask = batch.frame_mask
        lengths = mask.sum(1)
        motion = batch.displacements.reshape(bsz, total, self.vertex_dim)
        style = self.network.style(self.resolve_speaker(batch.speaker))
        audio_feats = self.network.encode_audio(batch.audio, batch.audio_mask, lengths, total)
        x = self.network.audio_encoder_proj(audio_feats)

        # primal branch
        if self.teacher_forcing:
            fed = motion
            if self.training and self.scheduled_sampling > 0:
                with torch.no_grad():
                    first, _ = self.network.primal_teacher_forced(x, style, motion)
                swap = torch.rand(bsz, total, 1, device=motion.device) < self.scheduled_sampling
                fed = torch.where(swap, first.detach(), motion)
            pred, y_check = self.network.primal_teacher_forced(x, style, fed)
        else:
            pred, y_check = self.network.primal_autoregressive(x, style, total)
        primal = masked_mse(pred, motion, mask)
        losses = {"primal_mse": primal}
        total_loss = self.lambdas["primal"] * primal

        y = self.network.motion_encoder(motion)
        x_hat = x
        if self.use_dual:
            if self.dual_autoregressive:
                audio_pred, x_check = self.network.dual_autoregressive(y, style, total)
            else:
                audio_pred, x_check = self.network.dual_teacher_forced(y, style, x)
            target = audio_feats.detach() if self.detach_dual_target else audio_feats
            dual = masked_mse(audio_pred, target, mask)
            dr = masked_smooth_l1(x_check, x, mask, self.smooth_l1_beta) + masked_smooth_l1(
                y_check, y, mask, self.smooth_l1_beta
            )
            losses["dual_mse"], losses["duality_reg"] = dual, dr
            total_loss = total_loss + self.lambdas["dual"] * dual + self.lambdas["dr"] * dr
            x_hat = self.network.audio_encoder_proj(audio_pred)
        if self.use_consistency and self.use_dual:  # "w/o Dual" trains the facial animator alone
            y_hat = self.network.motion_encoder(pred)
            options = dict(sigma=self.ccrl_sigma, temperature=self.ccrl_temperature,
                           weighting=self.ccrl_weighting, reduction=self.ccrl_reduction)  # fmt: skip
            ccrl = consistency_loss(x, y, motion, mask, **options) + consistency_loss(x_hat, y_hat, motion, mask, **options)
            losses["ccrl"] = ccrl
            total_loss = total_loss + self.lambdas["ccrl"] * ccrl
        losses["loss"] = total_loss
        return {name: value.mean() for name, value in losses.items()}

    # ================================================================== inference
    def generate(
        self,
        audio: Tensor,
        template: Tensor,
        speaker: Tensor | None = None,
        num_frames: int | None = None,
        audio_mask: Tensor | None = None,
        sink=None,
        sink_frames: int = 300,
    ) -> Tensor | None:
        """Animate templates from speech with the primal branch only (appendix: inference).

        Autoregressive with cached keys/values (:meth:`DualTalkerNetwork.primal_autoregressive
        <talkzoo_dualtalker.network.DualTalkerNetwork.primal_autoregressive>`); no maximum length.
        Memory and time per frame are bounded by ``max_context`` and the audio is encoded in
        windows of ``encoder_chunk_seconds`` (:meth:`encode_audio_chunked`), so long audio (10
        minutes and more) fits; call it under ``torch.no_grad()`` (as ``talkzoo animate`` does),
        otherwise autograd keeps every frame's activations.

        Args:
            audio: ``(B, S)`` float32 16 kHz waveform.
            template: ``(B, V, 3)`` float32 neutral templates, metres.
            speaker: ``(B,)`` int64 training-speaker ids, ``-1`` = unseen (uses ``unseen_speaker``);
                ``None`` = unseen for all.
            num_frames: output frames ``T``; default from the longest audio at ``spec.fps``.
            audio_mask: ``(B, S)`` bool, ``True`` on real samples; sequences shorter than ``T`` get
                their own frame counts in the encoder and are padded (frames past their end are
                still generated and should be ignored).
            sink: optional ``sink(start, vertices)`` called with blocks of ``sink_frames`` frames
                (``vertices (B, n, V, 3)`` float32 metres, frames ``start .. start+n-1``, valid only
                during the call) as they are generated; needs ``torch.no_grad()`` and
                ``max_context``. Nothing is returned then, and memory holds one block, not the
                sequence (``talkzoo animate`` writes the blocks to the .npy).
            sink_frames: frames per block handed to ``sink``.

        Returns:
            ``(B, T, V, 3)`` float32 vertex positions in metres at ``spec.fps`` (held once: the
            template is added in place under ``torch.no_grad()``); ``None`` with a ``sink``.

        Raises:
            DataError: for a template whose vertex count differs from ``spec.num_vertices``.
            ConfigError: a ``sink`` with gradients enabled or ``max_context=None``.
        """
        bsz = audio.shape[0]
        if template.shape[1] * 3 != self.vertex_dim:
            raise DataError(
                f"DualTalker was built for {self.vertex_dim // 3} vertices, the template has {template.shape[1]}"
            )
        if speaker is None:
            speaker = torch.full((bsz,), -1, dtype=torch.long, device=audio.device)
        spec = self.mesh_spec
        frames, total = sequence_frame_counts(samples_per_sequence(audio, audio_mask), spec.sample_rate, spec.fps, num_frames)
        style = self.network.style(self.resolve_speaker(speaker))
        encoder = self._fast_encoders.get(self.network.audio_encoder, self.encoder_precision)
        x = self.encode_audio_chunked(audio, audio_mask, frames, total, encoder, project=self.network.audio_encoder_proj)
        if sink is not None:

            def to_vertices(start: int, block: Tensor) -> None:
                sink(start, template[:, None] + block.view(bsz, block.shape[1], -1, 3).to(template.dtype))

            self.network.primal_autoregressive(x, style, total, to_vertices, sink_frames)
            return None
        pred, _ = self.network.primal_autoregressive(x, style, total)
        if not torch.is_grad_enabled() and pred.dtype == template.dtype:  # in place: the sequence is held once
            return pred.view(bsz, total, -1, 3).add_(template[:, None])
        return template[:, None] + pred.view(bsz, total, -1, 3).to(template.dtype)

    def extra_repr(self) -> str:  # noqa: D102
        return (
            f"teacher_forcing={self.teacher_forcing}, use_dual={self.use_dual}, use_consistency={self.use_consistency}"
        )


def build_parameter_count_model(dataset: str, audio_encoder: nn.Module, **kwargs: Any) -> DualTalker:
    """Build the paper-size model used for the parameter counts in the plugin metadata.

    Args:
        dataset: ``"vocaset"`` (5023 vertices, 8 training speakers, 30 fps, ``d = 128``) or
            ``"biwi"`` (23370 vertices, 6 training speakers, 25 fps, ``d = 256``).
        audio_encoder: the front-end (wav2vec2-base-sized for the metadata numbers).
        **kwargs: further :class:`DualTalker` arguments.

    Returns:
        the model (random weights).

    Raises:
        ConfigError: for an unknown dataset name.
    """
    if dataset == "vocaset":
        spec = MeshDataSpec(dataset="vocaset", fps=30.0, num_vertices=5023, speakers=tuple(f"s{i}" for i in range(8)))
        d = 128
    elif dataset == "biwi":
        spec = MeshDataSpec(dataset="biwi", fps=25.0, num_vertices=23370, speakers=tuple(f"s{i}" for i in range(6)))
        d = 256
    else:
        raise ConfigError(f"unknown dataset {dataset!r}; expected 'vocaset' or 'biwi'")
    kwargs.setdefault("d_model", d)
    return DualTalker(spec=spec, audio_encoder=audio_encoder, **kwargs)
