"""DualTalker: cross-modal dual learning for speech-driven 3D facial animation.

Su, Yang, Li, "DualTalker: A Cross-Modal Dual Learning Approach for Speech-Driven 3D Facial
Animation" (no official code exists; this is an independent implementation of the paper text,
``papers/dualtalker.md``, and the project's implementation notes ``specs/dualtalker_ottalk.md``).

The model is a :class:`~talkzoo.tasks.mesh.AudioToMeshTask`. Training runs two branches that
share the audio encoder, the motion encoder, the style embedding and the fusion modules:

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
from talkzoo.modules import build_module
from talkzoo.errors import ConfigError, DataError
from talkzoo.tasks.base import _adam
from talkzoo.tasks.mesh import AudioToMeshTask

from talkzoo_dualtalker.layers import (
    CROSS_MASKS,
    FusionLayer,
    alibi_slopes,
    periodic_positional_encoding,
    temporal_bias,
    window_key_positions,
)
from talkzoo_dualtalker.losses import consistency_loss, masked_mse, masked_smooth_l1

_QUERY_SIDES = {"audio": "memory", "motion": "stream"}
_START_TOKENS = ("style", "zero", "learned")


class DualTalker(AudioToMeshTask):
    """DualTalker (primal facial animation + dual lip reading), an audio-to-mesh talkzoo model.

    Architecture (appendix A, "Network Architecture"): the injected ``audio_encoder`` (wav2vec
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
        use_dual: train the dual branch (``False`` = Table IV "w/o Dual Training": no ``L_Dual``, no
            ``L_DR``; ``L_CCRL``'s second pair then uses ``X`` in place of ``X̂``).
        use_consistency: use ``L_CCRL`` (``False`` = Table IV "w/o CCRL").
        lambda_primal: ``λ1`` (paper 1).
        lambda_dual: ``λ2`` (paper 1e-8, both datasets).
        lambda_dr: ``λ3`` (paper 1e-6 VOCASET, 1e-9 BIWI).
        lambda_ccrl: ``λ4`` (paper 1e-6 BIWI; not given for VOCASET, 1e-6 assumed).
        ccrl_sigma: RBF bandwidth ``σ`` in metres on flattened displacements; ``None`` = median
            distance between the sequence's frames (not in the paper).
        ccrl_temperature: global temperature ``τ`` dividing the similarities (1 = paper-literal).
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
            frames it contributes (``2 * overlap < encoder_chunk_seconds``).

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
        use_dual: bool = True,
        use_consistency: bool = True,
        lambda_primal: float = 1.0,
        lambda_dual: float = 1e-8,
        lambda_dr: float = 1e-6,
        lambda_ccrl: float = 1e-6,
        ccrl_sigma: float | None = None,
        ccrl_temperature: float = 1.0,
        smooth_l1_beta: float = 1.0,
        detach_dual_target: bool = True,
        optimizer: OptimizerCallable = _adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        unseen_speaker: str | int = 0,
        max_context: int | None = 600,
        encoder_chunk_seconds: float | None = 30.0,
        encoder_chunk_overlap_seconds: float = 2.0,
    ) -> None:
        # From a checkpoint the encoder arrives as its recorded {"class_path", "init_args"} config.
        audio_encoder = build_module(audio_encoder)
        super().__init__(spec=spec, optimizer=optimizer, lr_scheduler=lr_scheduler, unseen_speaker=unseen_speaker)
        spec_ = self.mesh_spec
        if spec_.num_vertices < 1:
            raise ConfigError(f"DualTalker needs spec.num_vertices >= 1, got {spec_.num_vertices}")
        if primal_query not in _QUERY_SIDES:
            raise ConfigError(f"primal_query must be 'audio' or 'motion', got {primal_query!r}")
        if cross_attention_mask not in CROSS_MASKS:
            raise ConfigError(f"cross_attention_mask must be one of {CROSS_MASKS}, got {cross_attention_mask!r}")
        if start_token not in _START_TOKENS:
            raise ConfigError(f"start_token must be one of {_START_TOKENS}, got {start_token!r}")
        if not 0.0 <= scheduled_sampling <= 1.0:
            raise ConfigError(f"scheduled_sampling must be in [0, 1], got {scheduled_sampling}")
        if ccrl_temperature <= 0 or (ccrl_sigma is not None and ccrl_sigma <= 0):
            raise ConfigError("ccrl_temperature and ccrl_sigma must be > 0")
        if max_context is not None and int(max_context) < 1:
            raise ConfigError(f"max_context must be >= 1 frame or None, got {max_context}")
        if encoder_chunk_overlap_seconds < 0:
            raise ConfigError(f"encoder_chunk_overlap_seconds must be >= 0, got {encoder_chunk_overlap_seconds}")
        if encoder_chunk_seconds is not None and encoder_chunk_seconds <= 2 * encoder_chunk_overlap_seconds:
            raise ConfigError(
                f"encoder_chunk_seconds ({encoder_chunk_seconds}) must exceed twice the overlap "
                f"({encoder_chunk_overlap_seconds} s on each side)"
            )
        if audio_encoder is None:
            from talkzoo.audio.encoders import Wav2Vec2Encoder

            audio_encoder = Wav2Vec2Encoder()
        if not isinstance(getattr(audio_encoder, "output_dim", None), int):
            raise ConfigError(f"audio_encoder {type(audio_encoder).__name__} has no integer 'output_dim'")

        self.d_model = d_model
        self.num_heads = num_heads
        self.vertex_dim = 3 * spec_.num_vertices
        period = max(1, int(round(spec_.fps)))
        self.ppe_period = int(ppe_period or period)
        self.bias_period = int(bias_period or period)
        self.query_side = _QUERY_SIDES[primal_query]
        self.cross_attention_mask = cross_attention_mask
        self.start_token = start_token
        self.style_in_tokens = style_in_tokens
        self.teacher_forcing = teacher_forcing
        self.scheduled_sampling = scheduled_sampling
        self.use_dual = use_dual
        self.use_consistency = use_consistency
        self.lambdas = {"primal": lambda_primal, "dual": lambda_dual, "dr": lambda_dr, "ccrl": lambda_ccrl}
        self.ccrl_sigma = ccrl_sigma
        self.ccrl_temperature = ccrl_temperature
        self.smooth_l1_beta = smooth_l1_beta
        self.detach_dual_target = detach_dual_target
        self.max_context = None if max_context is None else int(max_context)
        self.encoder_chunk_seconds = None if encoder_chunk_seconds is None else float(encoder_chunk_seconds)
        self.encoder_chunk_overlap_seconds = float(encoder_chunk_overlap_seconds)

        # --- shared encoders (Sec. III-A/B; appendix) ---
        self.audio_encoder = audio_encoder
        self.audio_dim = int(audio_encoder.output_dim)
        self.audio_encoder_proj = nn.Linear(self.audio_dim, d_model)  # "linear projection-based audio encoder"
        self.motion_encoder = nn.Linear(self.vertex_dim, d_model)  # "a fully connected layer with d outputs"
        self.style = nn.Embedding(max(1, spec_.num_speakers), d_model)  # style embedding S_n
        if start_token == "learned":
            self.start = nn.Parameter(torch.zeros(2, d_model))  # one per branch
        # --- cross-modal fusion, shared by both branches ---
        self.layers = nn.ModuleList(
            FusionLayer(
                d_model, num_heads, feedforward_dim, dropout, se_reduction, norm_first,
                share_value_output, share_feedforward,
            )  # fmt: skip
            for _ in range(num_layers)
        )
        self.final_norm = (
            nn.ModuleDict({"primal": nn.LayerNorm(d_model), "dual": nn.LayerNorm(d_model)}) if norm_first else None
        )
        self.token_dropout = nn.Dropout(dropout)
        # --- decoders ---
        self.motion_decoder = nn.Linear(d_model, self.vertex_dim)
        if zero_init_motion_decoder:
            nn.init.zeros_(self.motion_decoder.weight)
            nn.init.zeros_(self.motion_decoder.bias)
        self.audio_decoder = nn.Linear(d_model, self.audio_dim)
        self.register_buffer("slopes", alibi_slopes(num_heads), persistent=False)

    # ================================================================== building blocks
    def encode_audio(self, audio: Tensor, audio_mask: Tensor | None, num_frames: int | Tensor, total: int) -> Tensor:
        """Audio front-end features ``A`` at the mesh frame rate.

        Args:
            audio: ``(B, S)`` float32 16 kHz waveform.
            audio_mask: ``(B, S)`` bool or ``None``.
            num_frames: frames per sequence (int or ``(B,)`` int64).
            total: padded frame count ``T`` of the output.

        Returns:
            ``(B, T, C)`` features, zero-padded or cropped to ``total`` frames.
        """
        feats = self.audio_encoder(audio, audio_mask, num_frames)
        if feats.shape[1] < total:
            feats = nn.functional.pad(feats, (0, 0, 0, total - feats.shape[1]))
        return feats[:, :total]

    def encode_audio_chunked(
        self, audio: Tensor, audio_mask: Tensor | None, num_frames: int | Tensor, total: int
    ) -> Tensor:
        """Audio features ``A`` like :meth:`encode_audio`, with long audio encoded window by window.

        Why: wav2vec 2.0's self-attention costs memory quadratic in the audio length (10 minutes
        at 30 fps is 18,000 frames, a ``18000 x 18000`` attention matrix per head and layer) and
        the encoder was trained on utterances of a few seconds. Audio no longer than
        ``encoder_chunk_seconds`` (all sequences of the batch) goes through :meth:`encode_audio`
        unchanged, so the result is identical. A longer sequence ``b`` with ``S_b`` real samples
        and ``n_b`` frames is cut into windows of ``W = floor(chunk * sr * n_b / S_b)`` frames
        (``chunk`` seconds of audio) whose starts are ``0, s, 2s, ...`` with stride
        ``s = W - 2 * overlap`` frames, the last window ending at frame ``n_b``. Each window's
        audio (samples ``round(f * S_b / n_b)`` for its frame range) is encoded on its own with
        ``W`` output frames, and every output frame is taken from the window whose centre is
        nearest, so it has at least ``overlap`` frames (about ``encoder_chunk_overlap_seconds``)
        of context on both sides unless it is near the start/end of the audio. Windows are encoded
        one at a time, so peak encoder memory is that of one window. This is an approximation for
        long audio: the encoder never sees context beyond its window, and the linear interpolation
        to the frame rate is done per window.

        Args:
            audio: ``(B, S)`` float32 16 kHz waveform.
            audio_mask: ``(B, S)`` bool, ``True`` on real samples, or ``None``.
            num_frames: frames per sequence (int or ``(B,)`` int64).
            total: padded frame count ``T`` of the output.

        Returns:
            ``(B, T, C)`` features (dtype of the encoder output); frames past a sequence's
            ``num_frames`` are zero.

        Raises:
            DataError: propagated from the encoder (e.g. a sequence without samples).
        """
        bsz = audio.shape[0]
        rate = float(self.mesh_spec.sample_rate)
        chunk_samples = None if self.encoder_chunk_seconds is None else int(round(self.encoder_chunk_seconds * rate))
        samples = audio_mask.sum(1) if audio_mask is not None else torch.full((bsz,), audio.shape[1], device=audio.device)
        if chunk_samples is None or int(samples.max()) <= chunk_samples:
            return self.encode_audio(audio, audio_mask, num_frames, total)
        counts = (
            num_frames.reshape(-1).tolist() if isinstance(num_frames, Tensor) else [int(num_frames)] * bsz
        )
        overlap_samples = self.encoder_chunk_overlap_seconds * rate
        out: Tensor | None = None
        for b in range(bsz):
            length, frames = int(samples[b]), int(counts[b])
            wave = audio[b : b + 1, :length]
            if length <= chunk_samples:
                feats = self.encode_audio(wave, None, frames, frames)  # (1, frames, C)
            else:
                feats = self._encode_windows(wave, frames, chunk_samples, overlap_samples)
            if out is None:
                out = feats.new_zeros(bsz, total, feats.shape[2])
            keep = min(frames, total)
            out[b, :keep] = feats[0, :keep]
        return out

    def _encode_windows(self, wave: Tensor, frames: int, chunk_samples: int, overlap_samples: float) -> Tensor:
        """Encode one ``(1, S)`` waveform in overlapping windows → ``(1, frames, C)`` (see :meth:`encode_audio_chunked`)."""
        length = wave.shape[1]
        per_frame = length / frames  # samples per output frame
        window = max(1, min(frames, int(chunk_samples / per_frame)))
        overlap = int(overlap_samples / per_frame)
        stride = max(1, window - 2 * overlap)
        starts = list(range(0, max(frames - window, 0), stride)) + [max(frames - window, 0)]
        centres = torch.tensor([s + window / 2.0 for s in starts])
        nearest = torch.argmin((torch.arange(frames)[:, None] + 0.5 - centres[None]).abs(), dim=1)
        pieces = []
        for index, start in enumerate(starts):
            owned = (nearest == index).nonzero().flatten()
            if owned.numel() == 0:
                continue
            stop = min(start + window, frames)
            s0, s1 = int(round(start * per_frame)), min(length, int(round(stop * per_frame)))
            feats = self.encode_audio(wave[:, s0:s1], None, stop - start, stop - start)
            pieces.append(feats[:, int(owned[0]) - start : int(owned[-1]) + 1 - start])
        return torch.cat(pieces, dim=1)

    def _start_token(self, style: Tensor, branch: str) -> Tensor:
        """``(B, d)`` first input token of a branch."""
        if self.start_token == "style":
            return style
        if self.start_token == "zero":
            return torch.zeros_like(style)
        return self.start[0 if branch == "primal" else 1].expand_as(style)

    def _tokens(self, previous: Tensor, style: Tensor, branch: str, offset: int = 0) -> Tensor:
        """Stream tokens from already-encoded previous-frame features.

        Args:
            previous: ``(B, L, d)`` encoded features of frames ``offset-1 .. offset+L-2`` (row ``0`` is
                ignored when ``offset == 0``: the start token takes its place).
            style: ``(B, d)``.
            branch: ``"primal"`` or ``"dual"``.
            offset: frame index of the first token.

        Returns:
            ``(B, L, d)`` tokens ``+ PPE`` (with dropout).
        """
        tokens = previous + style[:, None] if self.style_in_tokens else previous
        if offset == 0:
            tokens = torch.cat([self._start_token(style, branch)[:, None], tokens[:, 1:]], dim=1)
        positions = torch.arange(offset, offset + tokens.shape[1], device=tokens.device)
        pe = periodic_positional_encoding(positions, self.d_model, self.ppe_period).to(tokens.dtype)
        return self.token_dropout(tokens + pe[None])

    def _self_bias(self, q_pos: Tensor, k_pos: Tensor) -> Tensor:
        return temporal_bias(q_pos, k_pos, self.slopes, self.bias_period, "biased")

    def _cross_bias(self, q_pos: Tensor, k_pos: Tensor) -> Tensor:
        return temporal_bias(q_pos, k_pos, self.slopes, self.bias_period, self.cross_attention_mask)

    def fuse(self, tokens: Tensor, memory: Tensor, style: Tensor, branch: str) -> Tensor:
        """Parallel pass of the fusion stack (teacher forcing).

        Args:
            tokens: ``(B, T, d)`` shifted, position-encoded stream tokens.
            memory: ``(B, T, d)`` conditioning features.
            style: ``(B, d)``.
            branch: ``"primal"`` or ``"dual"``.

        Returns:
            ``(B, T, d)`` fused features (``Y̌`` primal, ``X̌`` dual).
        """
        pos = torch.arange(tokens.shape[1], device=tokens.device)
        self_bias = self._self_bias(pos, pos)
        cross_bias = self._cross_bias(pos, pos)
        h = tokens
        for layer in self.layers:
            h = layer(h, memory, style, branch, self.query_side, self_bias, cross_bias)
        return self.final_norm[branch](h) if self.final_norm is not None else h

    def primal_teacher_forced(self, x: Tensor, style: Tensor, motion: Tensor) -> tuple[Tensor, Tensor]:
        """Primal branch in one parallel pass on ground-truth (or given) motion.

        Args:
            x: ``(B, T, d)`` audio features ``X``.
            style: ``(B, d)`` style ``S_n``.
            motion: ``(B, T, 3V)`` displacements (metres); frame ``t`` is predicted from frames ``< t``.

        Returns:
            ``(pred, hidden)``: ``(B, T, 3V)`` predicted displacements and ``(B, T, d)`` fused ``Y̌``.
        """
        tokens = self._tokens(self.motion_encoder(motion).roll(1, dims=1), style, "primal")
        hidden = self.fuse(tokens, x, style, "primal")
        return self.motion_decoder(hidden), hidden

    def primal_autoregressive(self, x: Tensor, style: Tensor, num_frames: int) -> tuple[Tensor, Tensor]:
        """Primal branch, autoregressive with cached keys/values (Eq. 1).

        Each new frame runs through the fusion stack once; its self-attention (and, with
        ``primal_query="audio"``, its cross-attention) attends over the cached keys/values of the
        past frames and no prefix is recomputed. With ``max_context = W`` every attention (self,
        and cross over stream or audio memory) sees only frames ``max(0, t-W+1)..t``, so frame
        ``t`` costs ``O(min(t+1, W))`` time and the caches hold at most ``W`` frames; with
        ``max_context=None`` it is ``O(t)``. The positional encoding and biases are computed per
        frame from absolute positions, so there is no length limit and the first ``W`` frames are
        exactly those of an unbounded cache. Under ``torch.no_grad()`` the caches are preallocated
        ring buffers (no per-step allocation); with gradients enabled they are concatenated and
        sliced, and gradients flow through the fed-back predictions (autoregressive training).

        Args:
            x: ``(B, T, d)`` audio features ``X`` (``T >= num_frames``).
            style: ``(B, d)``.
            num_frames: frames to generate.

        Returns:
            ``(pred, hidden)``: ``(B, num_frames, 3V)`` displacements (metres) and ``(B, num_frames, d)``.
        """
        window = None if self.max_context is None else min(self.max_context, max(1, num_frames))
        ring = window is not None and not torch.is_grad_enabled()
        caches = [layer.init_cache(x, "primal", self.query_side, window, ring) for layer in self.layers]
        device = x.device
        preds, hiddens = [], []
        previous = None
        for t in range(num_frames):
            if t == 0:
                token = self._tokens(self._start_token(style, "primal")[:, None], style, "primal", 0)
            else:
                token = self._tokens(self.motion_encoder(previous), style, "primal", t)
            q_pos = torch.tensor([t], device=device)
            keys = window_key_positions(t, window, ring, device)  # storage order of the stream caches
            self_bias = self._self_bias(q_pos, keys)
            if self.query_side == "memory":
                cross_bias = self._cross_bias(q_pos, keys)
            else:  # audio memory frames max(0, t-W+1)..t; later ones are masked by every mask mode
                lo = 0 if window is None else max(0, t - window + 1)
                cross_bias = self._cross_bias(q_pos, torch.arange(lo, t + 1, device=device))
            h = token
            for layer, cache in zip(self.layers, caches):
                h = layer.step(h, x[:, t : t + 1], style, "primal", self.query_side, self_bias, cross_bias, cache)
            if self.final_norm is not None:
                h = self.final_norm["primal"](h)
            previous = self.motion_decoder(h)
            if ring:  # inference: write into preallocated outputs (one copy of the result, no list)
                if t == 0:
                    preds = previous.new_empty(previous.shape[0], num_frames, previous.shape[2])
                    hiddens = h.new_empty(h.shape[0], num_frames, h.shape[2])
                preds[:, t : t + 1] = previous
                hiddens[:, t : t + 1] = h
            else:
                preds.append(previous)
                hiddens.append(h)
        if ring:
            return preds, hiddens
        return torch.cat(preds, dim=1), torch.cat(hiddens, dim=1)

    def dual_teacher_forced(self, y: Tensor, style: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        """Dual (lip-reading) branch in one parallel pass (Eq. 2 with teacher forcing).

        Args:
            y: ``(B, T, d)`` motion features ``Y`` of the ground-truth motion.
            style: ``(B, d)``.
            x: ``(B, T, d)`` audio features ``X``; frame ``t`` is predicted from ``X_{<t}``.

        Returns:
            ``(audio_pred, hidden)``: ``(B, T, C)`` predicted audio embeddings ``Â`` and ``(B, T, d)``
            fused ``X̌``.
        """
        tokens = self._tokens(x.roll(1, dims=1), style, "dual")
        hidden = self.fuse(tokens, y, style, "dual")
        return self.audio_decoder(hidden), hidden

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
        style = self.style(self.resolve_speaker(batch.speaker))
        audio_feats = self.encode_audio(batch.audio, batch.audio_mask, lengths, total)
        x = self.audio_encoder_proj(audio_feats)

        # primal branch
        if self.teacher_forcing:
            fed = motion
            if self.training and self.scheduled_sampling > 0:
                with torch.no_grad():
                    first, _ = self.primal_teacher_forced(x, style, motion)
                swap = torch.rand(bsz, total, 1, device=motion.device) < self.scheduled_sampling
                fed = torch.where(swap, first.detach(), motion)
            pred, y_check = self.primal_teacher_forced(x, style, fed)
        else:
            pred, y_check = self.primal_autoregressive(x, style, total)
        primal = masked_mse(pred, motion, mask)
        losses = {"primal_mse": primal}
        total_loss = self.lambdas["primal"] * primal

        y = self.motion_encoder(motion)
        x_hat = x
        if self.use_dual:
            audio_pred, x_check = self.dual_teacher_forced(y, style, x)
            target = audio_feats.detach() if self.detach_dual_target else audio_feats
            dual = masked_mse(audio_pred, target, mask)
            dr = masked_smooth_l1(x_check, x, mask, self.smooth_l1_beta) + masked_smooth_l1(
                y_check, y, mask, self.smooth_l1_beta
            )
            losses["dual_mse"], losses["duality_reg"] = dual, dr
            total_loss = total_loss + self.lambdas["dual"] * dual + self.lambdas["dr"] * dr
            x_hat = self.audio_encoder_proj(audio_pred)
        if self.use_consistency:
            y_hat = self.motion_encoder(pred)
            ccrl = consistency_loss(x, y, motion, mask, self.ccrl_sigma, self.ccrl_temperature) + consistency_loss(
                x_hat, y_hat, motion, mask, self.ccrl_sigma, self.ccrl_temperature
            )
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
    ) -> Tensor:
        """Animate templates from speech with the primal branch only (appendix: inference).

        Autoregressive with cached keys/values (:meth:`primal_autoregressive`); no maximum length.
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

        Returns:
            ``(B, T, V, 3)`` float32 vertex positions in metres at ``spec.fps``.

        Raises:
            DataError: for a template whose vertex count differs from ``spec.num_vertices``.
        """
        bsz = audio.shape[0]
        if template.shape[1] * 3 != self.vertex_dim:
            raise DataError(
                f"DualTalker was built for {self.vertex_dim // 3} vertices, the template has {template.shape[1]}"
            )
        if speaker is None:
            speaker = torch.full((bsz,), -1, dtype=torch.long, device=audio.device)
        samples = audio_mask.sum(1) if audio_mask is not None else torch.full((bsz,), audio.shape[1], device=audio.device)
        per_seq = self.frames_for_audio(samples)
        total = int(num_frames) if num_frames is not None else int(per_seq.max())
        if audio_mask is None or bool((samples == samples.max()).all()):
            frames: int | Tensor = total
        else:
            frames = torch.clamp(per_seq, max=total)
            frames = torch.where(samples == samples.max(), torch.full_like(frames, total), frames)
        style = self.style(self.resolve_speaker(speaker))
        x = self.audio_encoder_proj(self.encode_audio_chunked(audio, audio_mask, frames, total))
        pred, _ = self.primal_autoregressive(x, style, total)
        return template[:, None] + pred.view(bsz, total, -1, 3).to(template.dtype)

    def extra_repr(self) -> str:  # noqa: D102
        return (
            f"d_model={self.d_model}, vertices={self.vertex_dim // 3}, primal_query_side={self.query_side}, "
            f"cross_mask={self.cross_attention_mask}, teacher_forcing={self.teacher_forcing}, "
            f"use_dual={self.use_dual}, use_consistency={self.use_consistency}, max_context={self.max_context}"
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
