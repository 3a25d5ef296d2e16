"""DualTalker's network: the pure ``nn.Module`` holding every weight (appendix A, "Network Architecture").

Su, Yang, Li, "DualTalker: A Cross-Modal Dual Learning Approach for Speech-Driven 3D Facial
Animation", Sec. III-A/B/C. Published weights (none exist: the paper's repository holds no code)
would be loaded and checked here; :class:`~talkzoo_dualtalker.model.DualTalker` (the
LightningModule) wires the losses (:mod:`talkzoo_dualtalker.losses`), the hooks and
``generate`` around it. Both branches share the audio encoder, the motion encoder, the style
embedding and the fusion modules:

* **primal** (facial animation, Eq. 1): audio ``X`` + past motion → motion ``M̂``
  (:meth:`DualTalkerNetwork.primal_teacher_forced`, :meth:`DualTalkerNetwork.primal_autoregressive`);
* **dual** (lip reading, Eq. 2): motion ``Y`` + past audio features → audio features ``Â``
  (:meth:`DualTalkerNetwork.dual_teacher_forced`).

Units: motion is vertex displacement from the template in metres, flattened to ``3V``; audio is
a 16 kHz waveform; frames run at the data's fps.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from talkzoo.errors import ConfigError
from talkzoo.nn.positional import sinusoidal_encoding

from talkzoo_dualtalker.layers import CROSS_MASKS, FusionLayer, alibi_slopes, temporal_bias, window_key_positions

#: ``primal_query`` -> the side of the fusion layers' cross-attention that queries.
QUERY_SIDES = {"audio": "memory", "motion": "stream"}
#: first input token of each branch.
START_TOKENS = ("style", "zero", "learned")

__all__ = ["QUERY_SIDES", "START_TOKENS", "DualTalkerNetwork"]


class _StepTables:
    """Per-frame tables of the ring-buffer decoding loop (:meth:`DualTalkerNetwork._step_tables`).

    ``pe``: ``(period, d)`` periodic positional encoding; ``grow_*``: ``(H, W, W)`` biases of
    frames ``t < W`` (row ``t``, keys ``0..t``); ``ring_*``: ``(W, H, 1, W)`` biases of frames
    ``t >= W`` (entry ``t mod W``, keys in ring-storage order).
    """

    def __init__(self, pe: Tensor, grow_self: Tensor, grow_cross: Tensor, ring_self: Tensor, ring_cross: Tensor, window: int):
        self.pe, self.window = pe, window
        self.grow_self, self.grow_cross = grow_self, grow_cross
        self.ring_self, self.ring_cross = ring_self, ring_cross

    def at(self, t: int) -> tuple[Tensor, Tensor, Tensor]:
        """``(pe (1, d), self_bias (H, 1, n), cross_bias (H, 1, n))`` of frame ``t``, ``n = min(t+1, W)``."""
        pe = self.pe[t % self.pe.shape[0]][None]
        if t < self.window:
            return pe, self.grow_self[:, t : t + 1, : t + 1], self.grow_cross[:, t : t + 1, : t + 1]
        r = t % self.window
        return pe, self.ring_self[r], self.ring_cross[r]


class DualTalkerNetwork(nn.Module):
    """DualTalker's layers (primal and dual branches), without losses or Lightning.

    ``audio_encoder`` gives ``A (B, T, C)``; ``audio_encoder_proj: Linear(C → d)`` gives ``X``;
    ``motion_encoder: Linear(3V → d)`` encodes displacements; ``style: Embedding(#speakers, d)``
    gives ``S_n``; ``num_layers`` :class:`~talkzoo_dualtalker.layers.FusionLayer` (causal
    self-attention with periodic positional encoding and periodic ALiBi bias (Eqs. 3–4),
    speaker-aware SE gate (Eq. 5), tied cross-attention (Eqs. 6–7), FF, residuals + LayerNorm);
    ``motion_decoder: Linear(d → 3V)`` and ``audio_decoder: Linear(d → C)``.

    Args:
        vertex_dim: ``3V``.
        num_speakers: rows of the style embedding (training speakers; at least 1).
        audio_encoder: speech front-end with ``forward(audio (B,S), audio_mask (B,S)|None,
            num_frames: int|Tensor) -> (B, T, output_dim)`` and an integer ``output_dim``.
        d_model, num_heads, num_layers, feedforward_dim, se_reduction, dropout, norm_first,
        cross_attention_mask, style_in_tokens, share_value_output, share_feedforward,
        zero_init_motion_decoder, max_context: as :class:`~talkzoo_dualtalker.model.DualTalker`.
        primal_query: ``"audio"`` (paper Eq. 6) or ``"motion"`` (FaceFormer).
        ppe_period: period (frames) of the periodic positional encoding (the mesh fps).
        bias_period: period (frames) of the ALiBi bias (the mesh fps).
        start_token: ``"style"``, ``"zero"`` or ``"learned"``.

    Raises:
        ConfigError: bad option values, or an encoder without an integer ``output_dim``.
    """

    #: largest size of the per-frame bias tables of the inference loop (``max_context`` up to ~1000 frames).
    STEP_TABLE_MAX_BYTES = 64 * 1024 * 1024

    def __init__(
        self,
        vertex_dim: int,
        num_speakers: int,
        audio_encoder: nn.Module,
        d_model: int = 128,
        num_heads: int = 4,
        num_layers: int = 1,
        feedforward_dim: int = 2048,
        se_reduction: int = 16,
        dropout: float = 0.1,
        norm_first: bool = False,
        primal_query: str = "audio",
        cross_attention_mask: str = "biased",
        ppe_period: int = 30,
        bias_period: int = 30,
        start_token: str = "style",
        style_in_tokens: bool = False,
        share_value_output: bool = False,
        share_feedforward: bool = False,
        zero_init_motion_decoder: bool = True,
        max_context: int | None = 600,
    ) -> None:
        super().__init__()
        self.check_options(primal_query, cross_attention_mask, start_token, max_context)
        if not isinstance(getattr(audio_encoder, "output_dim", None), int):
            raise ConfigError(f"audio_encoder {type(audio_encoder).__name__} has no integer 'output_dim'")
        self.d_model = d_model
        self.num_heads = num_heads
        self.vertex_dim = int(vertex_dim)
        self.ppe_period = int(ppe_period)
        self.bias_period = int(bias_period)
        self.query_side = QUERY_SIDES[primal_query]
        self.cross_attention_mask = cross_attention_mask
        self.start_token = start_token
        self.style_in_tokens = style_in_tokens
        self.max_context = None if max_context is None else int(max_context)

        # --- shared encoders (Sec. III-A/B; appendix) ---
        self.audio_encoder = audio_encoder
        self.audio_dim = int(audio_encoder.output_dim)
        self.audio_encoder_proj = nn.Linear(self.audio_dim, d_model)  # "linear projection-based audio encoder"
        self.motion_encoder = nn.Linear(self.vertex_dim, d_model)  # "a fully connected layer with d outputs"
        self.style = nn.Embedding(max(1, int(num_speakers)), d_model)  # style embedding S_n
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
        #: use precomputed per-frame tables in the ring-buffer loop (same output; ``False`` = per-frame ops).
        self.step_tables = True
        #: inference only, opt-in (``DualTalker(fused_decoder=True)``): feed back ``encode(decode(h))``
        #: as one ``d x d`` map ``(W_e W_d) h + (W_e b_d + b_e)`` (equal in exact arithmetic, not in
        #: float rounding) and decode the ``3V`` outputs in blocks with one matrix product each,
        #: instead of two ``3V x d`` matrix-vector products per frame.
        self.fused_feedback = False

    @staticmethod
    def check_options(primal_query: str, cross_attention_mask: str, start_token: str, max_context: int | None) -> None:
        """Check the options that select code paths (before any weights are built or loaded).

        Raises:
            ConfigError: an unknown ``primal_query``, ``cross_attention_mask`` or ``start_token``, or
                ``max_context < 1``.
        """
        if primal_query not in QUERY_SIDES:
            raise ConfigError(f"primal_query must be 'audio' or 'motion', got {primal_query!r}")
        if cross_attention_mask not in CROSS_MASKS:
            raise ConfigError(f"cross_attention_mask must be one of {CROSS_MASKS}, got {cross_attention_mask!r}")
        if start_token not in START_TOKENS:
            raise ConfigError(f"start_token must be one of {START_TOKENS}, got {start_token!r}")
        if max_context is not None and int(max_context) < 1:
            raise ConfigError(f"max_context must be >= 1 frame or None, got {max_context}")

    def encode_audio(
        self,
        audio: Tensor,
        audio_mask: Tensor | None,
        num_frames: int | Tensor,
        total: int,
        encoder: nn.Module | None = None,
    ) -> Tensor:
        """Audio front-end features ``A`` at the mesh frame rate.

        Args:
            audio: ``(B, S)`` float32 16 kHz waveform.
            audio_mask: ``(B, S)`` bool or ``None``.
            num_frames: frames per sequence (int or ``(B,)`` int64).
            total: padded frame count ``T`` of the output.
            encoder: module run instead of ``audio_encoder`` (e.g. its int8 / bf16 inference
                version, :mod:`talkzoo.nn.fast_inference`); ``None`` = ``audio_encoder``.

        Returns:
            ``(B, T, C)`` features, zero-padded or cropped to ``total`` frames.
        """
        feats = (self.audio_encoder if encoder is None else encoder)(audio, audio_mask, num_frames)
        if feats.shape[1] < total:
            feats = nn.functional.pad(feats, (0, 0, 0, total - feats.shape[1]))
        return feats[:, :total]


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
        pe = sinusoidal_encoding(positions, self.d_model, self.ppe_period).to(tokens.dtype)
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

    def primal_autoregressive(
        self, x: Tensor, style: Tensor, num_frames: int, sink=None, sink_frames: int = 300
    ) -> tuple[Tensor | None, Tensor]:
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

            sink: optional ``sink(start, block)`` receiving the displacements in blocks of
                ``sink_frames`` frames (``(B, n, 3V)`` views of one reused buffer, under
                ``torch.no_grad()`` with ``max_context`` only); ``pred`` is then ``None``.
            sink_frames: frames per block handed to ``sink``.

        Returns:
            ``(pred, hidden)``: ``(B, num_frames, 3V)`` displacements (metres) and ``(B, num_frames, d)``.

        Raises:
            ConfigError: a ``sink`` outside ring-buffer inference (gradients on or ``max_context=None``).
        """
        return self._autoregressive(x, style, num_frames, "primal", sink, sink_frames)

    def dual_autoregressive(self, y: Tensor, style: Tensor, num_frames: int) -> tuple[Tensor, Tensor]:
        """Dual (lip-reading) branch, autoregressive on its own predictions (Eq. 2).

        ``â_t = LipReading(â_<t, S_n, M_1:T)``: each predicted audio embedding ``â_t`` (audio
        decoder output) is re-encoded by the shared audio encoder (``audio_encoder_proj``) and
        fed back as the next stream token, through the same cached loop as
        :meth:`primal_autoregressive` (gradients flow through the fed-back frames when enabled).

        Args:
            y: ``(B, T, d)`` motion features ``Y`` of the ground-truth motion (``T >= num_frames``).
            style: ``(B, d)``.
            num_frames: frames to predict.

        Returns:
            ``(audio_pred, hidden)``: ``(B, num_frames, C)`` predicted audio embeddings ``Â`` and
            ``(B, num_frames, d)`` fused ``X̌``.
        """
        return self._autoregressive(y, style, num_frames, "dual")

    def _autoregressive(
        self, memory: Tensor, style: Tensor, num_frames: int, branch: str, sink=None, sink_frames: int = 300
    ) -> tuple[Tensor | None, Tensor]:
        """The cached frame-by-frame loop of either branch (see :meth:`primal_autoregressive`).

        ``branch="primal"``: memory ``X``, stream re-encoded by ``motion_encoder``, decoded by
        ``motion_decoder``; ``"dual"``: memory ``Y``, ``audio_encoder_proj``, ``audio_decoder``.
        ``sink(start, block)`` (ring-buffer inference only): predictions are handed over in blocks
        of ``sink_frames`` frames (``block`` ``(B, n, out)``, frames ``start .. start+n-1``, a view
        of one reused buffer) instead of being returned (``pred`` is then ``None``), so memory
        holds one block, not the sequence.
        """
        encode, decode = (
            (self.motion_encoder, self.motion_decoder) if branch == "primal"
            else (self.audio_encoder_proj, self.audio_decoder)
        )  # fmt: skip
        x = memory
        window = None if self.max_context is None else min(self.max_context, max(1, num_frames))
        ring = window is not None and not torch.is_grad_enabled()
        caches = [layer.init_cache(x, branch, self.query_side, window, ring) for layer in self.layers]
        device = x.device
        tables = self._step_tables(window, style) if ring and self.step_tables else None
        fused = self.fused_feedback and tables is not None
        if fused:  # encode(decode(h)) as one (d x d) map; the outputs are decoded in blocks (see __init__)
            feedback = nn.functional.linear(decode.bias, encode.weight, encode.bias)
            feedback_weight = encode.weight @ decode.weight
        if sink is not None and not ring:
            raise ConfigError("a frame sink needs max_context and torch.no_grad() (the ring-buffer inference loop)")
        block = num_frames if sink is None else max(1, min(int(sink_frames), num_frames))
        preds, hiddens = [], []
        previous = None
        for t in range(num_frames):
            if tables is not None:  # precomputed per-frame encodings and biases (same values, no per-frame ops)
                pe_t, self_bias, cross_bias = tables.at(t)
                if t == 0:
                    token = self._start_token(style, branch)[:, None]
                else:
                    token = nn.functional.linear(h, feedback_weight, feedback) if fused else encode(previous)
                    if self.style_in_tokens:
                        token = token + style[:, None]
                token = self.token_dropout(token + pe_t)
            else:
                if t == 0:
                    token = self._tokens(self._start_token(style, branch)[:, None], style, branch, 0)
                else:
                    token = self._tokens(encode(previous), style, branch, t)
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
                h = layer.step(h, x[:, t : t + 1], style, branch, self.query_side, self_bias, cross_bias, cache)
            if self.final_norm is not None:
                h = self.final_norm[branch](h)
            if fused:
                if t == 0:
                    hiddens = h.new_empty(h.shape[0], num_frames, h.shape[2])
                hiddens[:, t] = h[:, 0]
                if t % block == block - 1 or t == num_frames - 1:
                    first = t - t % block
                    decoded = decode(hiddens[:, first : t + 1])
                    if sink is not None:
                        sink(first, decoded)
                    elif first == 0 and t == num_frames - 1:
                        preds = decoded
                    else:
                        if first == 0:
                            preds = decoded.new_empty(decoded.shape[0], num_frames, decoded.shape[2])
                        preds[:, first : t + 1] = decoded
                continue
            previous = decode(h)
            if ring:  # inference: write into preallocated outputs (one copy of the result, no list)
                if t == 0:
                    preds = previous.new_empty(previous.shape[0], block, previous.shape[2])
                    hiddens = h.new_empty(h.shape[0], num_frames, h.shape[2])
                preds[:, t % block] = previous[:, 0]
                hiddens[:, t] = h[:, 0]
                if sink is not None and (t % block == block - 1 or t == num_frames - 1):
                    sink(t - t % block, preds[:, : t % block + 1])  # frames [t0, t]; the buffer is reused
            else:
                preds.append(previous)
                hiddens.append(h)
        if ring:
            return (preds if sink is None else None), hiddens
        return torch.cat(preds, dim=1), torch.cat(hiddens, dim=1)

    def _step_tables(self, window: int, style: Tensor) -> _StepTables | None:
        """Per-frame positional encodings and attention biases of the ring-buffer loop, computed once.

        Values are those :meth:`_tokens` / :meth:`_self_bias` / :meth:`_cross_bias` compute per
        frame (the same functions on the same positions), so the loop's output is unchanged; only
        the per-frame tensor operations go. ``None`` (per-frame computation) when the tables would
        exceed :attr:`STEP_TABLE_MAX_BYTES`.
        """
        heads = int(self.slopes.shape[0])
        if 4 * 4 * heads * window * window > self.STEP_TABLE_MAX_BYTES:
            return None
        device = style.device
        pe = sinusoidal_encoding(torch.arange(self.ppe_period, device=device), self.d_model, self.ppe_period)
        pe = pe.to(style.dtype)
        pos = torch.arange(window, device=device)
        # t < W: keys 0..t in order (both layouts), so the bias row t of the square matrix, cropped
        grow_self = self._self_bias(pos, pos)  # (H, W, W)
        grow_cross = self._cross_bias(pos, pos)
        # t >= W: the ring's storage order depends on t mod W only, and every mask mode on t - key only
        ring_self, ring_cross = [], []
        for r in range(window):
            q = torch.tensor([window + r], device=device)
            keys = window_key_positions(window + r, window, True, device)
            ring_self.append(self._self_bias(q, keys))
            if self.query_side == "memory":
                ring_cross.append(self._cross_bias(q, keys))
        if self.query_side == "stream":  # memory frames t-W+1..t in order: one row for every t >= W
            steady = self._cross_bias(torch.tensor([window], device=device), torch.arange(1, window + 1, device=device))
            ring_cross = [steady] * window
        return _StepTables(pe, grow_self, grow_cross, torch.stack(ring_self), torch.stack(ring_cross), window)

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


    def extra_repr(self) -> str:  # noqa: D102
        return (
            f"d_model={self.d_model}, vertices={self.vertex_dim // 3}, primal_query_side={self.query_side}, "
            f"cross_mask={self.cross_attention_mask}, max_context={self.max_context}"
        )
