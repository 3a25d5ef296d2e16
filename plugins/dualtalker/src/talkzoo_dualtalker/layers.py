"""Building blocks of DualTalker's cross-modal fusion (Su, Yang, Li, "DualTalker", Sec. III-B/C).

Everything here is written for this plugin from the paper's equations and the appendix; nothing
is copied from FaceFormer's code (its biased mask is re-derived from its published definition, see
:func:`temporal_bias`; the periodic positional encoding is the core's
:func:`talkzoo.nn.positional.sinusoidal_encoding` with a period).

Shape letters: ``B`` batch, ``T``/``Tq``/``Tk`` frames (query/key), ``d`` model width, ``H``
heads, ``dh = d / H`` per-head width. All tensors are floating point (float32 in the tests).
Every attention here is written out by hand (``softmax(QK^T/sqrt(dh) + bias) V``) so that the
cached incremental step and the parallel pass run exactly the same arithmetic.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from talkzoo.errors import ConfigError

#: the two branches of the dual model: primal = facial animation, dual = lip reading.
BRANCHES = ("primal", "dual")
#: cross-attention masks: causal + periodic ALiBi bias, plain causal, or one-to-one alignment.
CROSS_MASKS = ("biased", "causal", "diagonal")


def alibi_slopes(num_heads: int) -> Tensor:
    """Per-head slopes of the linear attention bias (ALiBi, Press et al. 2022), as FaceFormer uses.

    For a power of two ``H`` the slopes are the geometric sequence ``2^(-8/H * i)``, ``i = 1..H``
    (``H = 4``: ``2^-2, 2^-4, 2^-6, 2^-8``). For other ``H`` the slopes of the closest lower power
    of two are completed with every other slope of the next power of two (the ALiBi rule).

    Args:
        num_heads: number of heads ``H >= 1``.

    Returns:
        ``(H,)`` float32 slopes in ``(0, 1)``.
    """
    if num_heads < 1:
        raise ConfigError(f"num_heads must be >= 1, got {num_heads}")

    def power_of_two(n: int) -> list[float]:
        return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]

    if math.log2(num_heads).is_integer():
        slopes = power_of_two(num_heads)
    else:
        lower = 2 ** int(math.floor(math.log2(num_heads)))
        slopes = power_of_two(lower) + power_of_two(2 * lower)[0::2][: num_heads - lower]
    return torch.tensor(slopes, dtype=torch.float32)


def temporal_bias(query_pos: Tensor, key_pos: Tensor, slopes: Tensor, period: int, mode: str) -> Tensor:
    """Additive attention bias/mask between frame positions (the "biased attention" of the appendix).

    ``mode``:

    * ``"biased"``: causal, plus FaceFormer's periodic linear bias
      ``-slope_h * floor((i - j) / period)`` for key ``j <= `` query ``i`` and ``-inf`` for ``j > i``.
    * ``"causal"``: ``0`` for ``j <= i``, ``-inf`` for ``j > i``.
    * ``"diagonal"``: ``0`` for ``j == i``, ``-inf`` elsewhere (FaceFormer's alignment mask when
      audio and motion have the same frame rate).

    Args:
        query_pos: ``(Tq,)`` int64 frame indices of the queries.
        key_pos: ``(Tk,)`` int64 frame indices of the keys.
        slopes: ``(H,)`` per-head slopes (see :func:`alibi_slopes`).
        period: bias period ``p`` in frames.
        mode: one of :data:`CROSS_MASKS`.

    Returns:
        ``(H, Tq, Tk)`` float32 bias, ``-inf`` on forbidden pairs.

    Raises:
        ConfigError: for an unknown ``mode``.
    """
    diff = query_pos[:, None] - key_pos[None, :]  # (Tq, Tk), >= 0 means the key is not in the future
    heads = slopes.shape[0]
    if mode == "diagonal":
        allowed = diff == 0
        bias = torch.zeros(heads, *diff.shape, device=diff.device)
    elif mode == "causal":
        allowed = diff >= 0
        bias = torch.zeros(heads, *diff.shape, device=diff.device)
    elif mode == "biased":
        allowed = diff >= 0
        steps = torch.div(diff.clamp(min=0), period, rounding_mode="floor").to(torch.float32)
        bias = -slopes.to(diff.device)[:, None, None] * steps[None]
    else:
        raise ConfigError(f"unknown attention mask mode {mode!r}; expected one of {CROSS_MASKS}")
    return bias.masked_fill(~allowed[None], float("-inf"))


def _split_heads(x: Tensor, heads: int) -> Tensor:
    """``(B, T, d)`` → ``(B, H, T, d/H)``."""
    batch, length, dim = x.shape
    return x.view(batch, length, heads, dim // heads).transpose(1, 2)


def _merge_heads(x: Tensor) -> Tensor:
    """``(B, H, T, dh)`` → ``(B, T, H*dh)``."""
    batch, heads, length, dh = x.shape
    return x.transpose(1, 2).reshape(batch, length, heads * dh)


def scaled_dot_product(q: Tensor, k: Tensor, v: Tensor, bias: Tensor, dropout: float, training: bool) -> Tensor:
    """Scaled dot-product attention with an additive bias (Eqs. 3, 6, 7).

    ``softmax(q k^T / sqrt(dh) + bias) v``, with dropout on the attention weights in training.

    Args:
        q: ``(B, H, Tq, dh)`` queries.
        k: ``(B, H, Tk, dh)`` keys.
        v: ``(B, H, Tk, dv)`` values.
        bias: ``(H, Tq, Tk)`` additive bias (``-inf`` masks a pair); every query row must allow
            at least one key.
        dropout: dropout probability on the weights.
        training: apply dropout.

    Returns:
        ``(B, H, Tq, dv)``.
    """
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1]) + bias[None].to(q.dtype)
    weights = torch.softmax(scores, dim=-1)
    weights = F.dropout(weights, p=dropout, training=training)
    return torch.matmul(weights, v)


def window_key_positions(t: int, window: int | None, ring: bool, device: torch.device | str | None = None) -> Tensor:
    """Absolute frame positions of the keys a :class:`KVWindow` holds after frame ``t`` was appended.

    The bias of a cached decoding step must be computed for exactly these positions, in this
    order, so that the windowed attention uses the same absolute-position bias values
    (``temporal_bias(t, positions)``) as an unbounded cache would for the same keys.

    * ``window=None`` (unbounded): ``0, 1, ..., t``.
    * ``ring=False`` (concatenate, then keep the last ``window``): ``max(0, t-W+1), ..., t``
      in chronological order.
    * ``ring=True`` (preallocated ring buffer, frame ``p`` stored in slot ``p mod W``): while
      ``t < W`` the same as above (``0..t``); afterwards slot ``s`` holds frame
      ``t - ((t - s) mod W)``, i.e. the window ``t-W+1..t`` rotated.

    Args:
        t: index (``>= 0``) of the frame just appended.
        window: ``W >= 1`` frames kept, or ``None``.
        ring: storage layout, see above.
        device: device of the result.

    Returns:
        ``(min(t+1, W),)`` int64 frame indices.

    Raises:
        ConfigError: ``t < 0`` or ``window < 1``.
    """
    if t < 0:
        raise ConfigError(f"frame index must be >= 0, got {t}")
    if window is None or t < window:
        return torch.arange(t + 1, device=device)
    if window < 1:
        raise ConfigError(f"window must be >= 1 frame, got {window}")
    if not ring:
        return torch.arange(t - window + 1, t + 1, device=device)
    slots = torch.arange(window, device=device)
    return t - torch.remainder(t - slots, window)


class KVWindow:
    """Key/value cache of one attention, bounded to the last ``window`` frames.

    Used by the incremental decoding of :meth:`FusionLayer.step` (and the self-attention's
    ``cache`` argument). Each :meth:`append` adds the keys/values of one new frame and returns
    the keys/values to attend over: all frames so far (``window=None``, exact, memory ``O(t)``)
    or only the last ``window`` ones (memory and per-step cost ``O(W)``, independent of ``t``).

    Two layouts (see :func:`window_key_positions` for the frame order each one produces):

    * ``ring=True``: a ``(B, H, W, dh)`` buffer is allocated on the first append and frame ``p``
      is written in place into slot ``p mod W``; no per-step allocation or copy of the past.
      In-place writes break autograd, so this layout is for inference (no gradient needed).
    * ``ring=False``: concatenate, then keep the last ``window`` frames (a view). Differentiable,
      used when gradients flow through the cache (autoregressive training).

    Why a window: DualTalker is trained on sequences of a few seconds; attention over more than
    ``W`` past frames (600 frames = 20 s at 30 fps, FaceFormer's cap) adds cost and memory that
    grow with the sequence but barely changes the output, since the periodic ALiBi bias already
    down-weights far frames. For ``t < W`` the window holds every past frame, so the result equals
    the unbounded cache.

    Args:
        window: frames kept (``>= 1``) or ``None`` for unbounded.
        ring: use the preallocated ring buffer (requires ``window``; ignored when ``None``).

    Raises:
        ConfigError: ``window < 1``.
    """

    def __init__(self, window: int | None = None, ring: bool = False) -> None:
        if window is not None and window < 1:
            raise ConfigError(f"window must be >= 1 frame or None, got {window}")
        self.window = window
        self.ring = bool(ring and window is not None)
        self.k: Tensor | None = None
        self.v: Tensor | None = None
        self.count = 0  # frames appended so far

    def __len__(self) -> int:
        """Number of frames currently held (``min(count, window)``)."""
        return self.count if self.window is None else min(self.count, self.window)

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add one frame's keys/values and return those to attend over.

        Args:
            k: ``(B, H, 1, dh)`` keys of the new frame.
            v: ``(B, H, 1, dv)`` values of the new frame.

        Returns:
            ``(keys, values)``: ``(B, H, n, dh)`` and ``(B, H, n, dv)``, ``n = len(self)`` after
            the append, frames ordered as :func:`window_key_positions` says.

        Raises:
            ConfigError: more than one frame at a time in ring mode.
        """
        if not self.ring:
            self.count += k.shape[2]
            if self.k is not None:
                k = torch.cat([self.k, k], dim=2)
                v = torch.cat([self.v, v], dim=2)
            if self.window is not None and k.shape[2] > self.window:
                k, v = k[:, :, -self.window :], v[:, :, -self.window :]
            self.k, self.v = k, v
            return k, v
        if k.shape[2] != 1:
            raise ConfigError(f"a ring-buffer KV cache takes one frame per step, got {k.shape[2]}")
        if self.k is None:
            self.k = k.new_empty(k.shape[0], k.shape[1], self.window, k.shape[3])
            self.v = v.new_empty(v.shape[0], v.shape[1], self.window, v.shape[3])
        slot = self.count % self.window
        self.k[:, :, slot] = k[:, :, 0]
        self.v[:, :, slot] = v[:, :, 0]
        self.count += 1
        held = len(self)
        return self.k[:, :, :held], self.v[:, :, :held]


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention with an additive temporal bias (Eqs. 3–4).

    The motion-attentive module of the primal branch and, with the same weights (the ``*``
    modules of Fig. 1), the audio-attentive module of the dual branch.

    Args:
        dim: model width ``d`` (divisible by ``num_heads``).
        num_heads: heads ``H`` (4 in the paper).
        dropout: dropout on the attention weights.

    Raises:
        ConfigError: if ``dim`` is not divisible by ``num_heads``.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"d_model ({dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)  # W^Y of Eq. 4

    def forward(self, x: Tensor, bias: Tensor, cache: KVWindow | dict[str, Tensor] | None = None) -> Tensor:
        """Attend.

        Args:
            x: ``(B, Tq, d)`` the new frames (all frames in a parallel pass, one in a cached step).
            bias: ``(H, Tq, Tk)`` with ``Tk`` = keys attended: cached frames + ``Tq`` (for a
                :class:`KVWindow`, ``len(cache)`` after the append, in its storage order).
            cache: ``None`` (parallel pass); a :class:`KVWindow` (bounded or not); or a dict holding
                ``"k"``/``"v"`` ``(B, H, t, dh)`` of the past frames, to which the new keys/values
                are appended in place of the dict (unbounded).

        Returns:
            ``(B, Tq, d)``.
        """
        q = _split_heads(self.q_proj(x), self.num_heads)
        k = _split_heads(self.k_proj(x), self.num_heads)
        v = _split_heads(self.v_proj(x), self.num_heads)
        if isinstance(cache, KVWindow):
            k, v = cache.append(k, v)
        elif cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        out = scaled_dot_product(q, k, v, bias, self.dropout, self.training)
        return self.out_proj(_merge_heads(out))


class SpeakerAwareGate(nn.Module):
    """Speaker-aware module, Squeeze-and-Excitation style (Eq. 5).

    ``Ȳ = Sigmoid(FC2(ReLU(FC1([S_n, Ŷ])))) ⊙ Ŷ`` per frame, with ``FC1: 2d → 2d/r`` and
    ``FC2: 2d/r → d`` (appendix: "FC layer (converting d to 2×d/16)", ``r = 16``; FC1's input is
    the 2d-wide concatenation and FC2 must output ``d`` to gate ``Ŷ`` elementwise).

    Args:
        dim: model width ``d``.
        reduction: channel compression ratio ``r`` (16 in the paper); hidden width
            ``max(1, 2d // r)``.
    """

    def __init__(self, dim: int, reduction: int = 16) -> None:
        super().__init__()
        if reduction < 1:
            raise ConfigError(f"se_reduction must be >= 1, got {reduction}")
        hidden = max(1, (2 * dim) // reduction)
        self.fc1 = nn.Linear(2 * dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, style: Tensor, x: Tensor) -> Tensor:
        """Gate ``x`` by its speaker.

        Args:
            style: ``(B, d)`` style embedding ``S_n``.
            x: ``(B, T, d)`` features ``Ŷ``.

        Returns:
            ``(B, T, d)`` gated features ``Ȳ`` (same dtype as ``x``).
        """
        cond = torch.cat([style[:, None, :].expand(-1, x.shape[1], -1), x], dim=-1)
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(cond)))) * x


class DualCrossAttention(nn.Module):
    """Audio-visual integration module and its dual form, with tied projections (Eqs. 6–7, Fig. 3).

    Two projections are shared by both branches, one per modality: ``audio_proj`` is
    ``W_{Q_X} = W_{K_X̄}`` and ``motion_proj`` is ``W_{Q_Y} = W_{K_Ȳ}``: an audio-side input is
    projected by ``audio_proj`` whether it is the query (primal, paper direction) or the key
    (dual), and likewise for motion. Value and output projections belong to each branch
    (``share_value_output=False``, the paper does not say) or are shared.

    Args:
        dim: model width ``d``.
        num_heads: heads ``H`` (4 in the paper).
        dropout: dropout on the attention weights.
        share_value_output: one value/output projection for both branches.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0, share_value_output: bool = False) -> None:
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"d_model ({dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.dropout = dropout
        self.audio_proj = nn.Linear(dim, dim)
        self.motion_proj = nn.Linear(dim, dim)
        if share_value_output:
            value, out = nn.Linear(dim, dim), nn.Linear(dim, dim)
            self.value_proj = nn.ModuleDict({b: value for b in BRANCHES})
            self.out_proj = nn.ModuleDict({b: out for b in BRANCHES})
        else:
            self.value_proj = nn.ModuleDict({b: nn.Linear(dim, dim) for b in BRANCHES})
            self.out_proj = nn.ModuleDict({b: nn.Linear(dim, dim) for b in BRANCHES})

    def qk(self, x: Tensor, modality: str) -> Tensor:
        """Project ``(B, T, d)`` features of ``modality`` (``"audio"``/``"motion"``) with the tied matrix → ``(B, H, T, dh)``."""
        proj = self.audio_proj if modality == "audio" else self.motion_proj
        return _split_heads(proj(x), self.num_heads)

    def value(self, x: Tensor, branch: str) -> Tensor:
        """Value projection of ``branch`` on ``(B, T, d)`` → ``(B, H, T, dh)``."""
        return _split_heads(self.value_proj[branch](x), self.num_heads)

    def attend(self, q: Tensor, k: Tensor, v: Tensor, bias: Tensor, branch: str) -> Tensor:
        """``(B, H, Tq, dh)`` queries over keys/values → ``(B, Tq, d)`` after the branch's output projection."""
        out = scaled_dot_product(q, k, v, bias, self.dropout, self.training)
        return self.out_proj[branch](_merge_heads(out))


class FeedForward(nn.Module):
    """Position-wise feed-forward block ``Linear(d, f) → ReLU → Dropout → Linear(f, d)`` (f = 2048 in the paper)."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T, d)`` → ``(B, T, d)``."""
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))


class FusionLayer(nn.Module):
    """One cross-modal fusion layer shared by the primal and the dual branch (Fig. 2, Sec. III-B/C).

    Data flow for a branch whose *stream* is the autoregressive modality (motion in the primal
    branch, audio in the dual branch) and whose *memory* is the conditioning modality (audio
    ``X`` in the primal branch, motion ``Y`` in the dual branch), post-LN (``norm_first=False``)::

        z1 = LN1(z + SelfAttn(z))                         # motion-/audio-attentive (Eqs. 3–4), shared
        zg = Gate(S_n, z1)                               # speaker-aware module (Eq. 5), shared
        query = memory, kv = zg  (query_side="memory")  # paper direction (Eqs. 6–7)
        query = zg, kv = memory  (query_side="stream")  # FaceFormer direction
        h  = LN2(query + CrossAttn(query, kv))           # integration module, tied Q/K projections
        out = LN3(h + FF(h))

    The residual of the cross-attention runs along the query, as in any transformer. With
    ``norm_first=True`` (pre-LN) the norms move in front of each sub-block (``LN_kv`` normalises
    the key/value input) and the model adds a final norm after the last layer.

    Shared between branches: self-attention, gate, the tied ``audio_proj``/``motion_proj``
    (and value/output projections if ``share_value_output``, the feed-forward if
    ``share_feedforward``). Per branch: layer norms, and otherwise value/output and feed-forward.

    Args:
        dim: model width ``d``.
        num_heads: heads of both attentions.
        feedforward_dim: FF hidden width.
        dropout: dropout on attention weights, sub-block outputs and inside the FF.
        se_reduction: ``r`` of the speaker-aware module.
        norm_first: pre-LN instead of post-LN.
        share_value_output: see :class:`DualCrossAttention`.
        share_feedforward: one FF block for both branches.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        feedforward_dim: int,
        dropout: float,
        se_reduction: int,
        norm_first: bool,
        share_value_output: bool,
        share_feedforward: bool,
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadSelfAttention(dim, num_heads, dropout)
        self.gate = SpeakerAwareGate(dim, se_reduction)
        self.cross = DualCrossAttention(dim, num_heads, dropout, share_value_output)
        if share_feedforward:
            ff = FeedForward(dim, feedforward_dim, dropout)
            self.ff = nn.ModuleDict({b: ff for b in BRANCHES})
        else:
            self.ff = nn.ModuleDict({b: FeedForward(dim, feedforward_dim, dropout) for b in BRANCHES})
        names = ["norm1", "norm2", "norm3"] + (["norm_kv"] if norm_first else [])
        self.norms = nn.ModuleDict({b: nn.ModuleDict({n: nn.LayerNorm(dim) for n in names}) for b in BRANCHES})
        self.dropout = nn.Dropout(dropout)

    def _self_block(self, z: Tensor, branch: str, bias: Tensor, cache: dict | None) -> Tensor:
        norms = self.norms[branch]
        if self.norm_first:
            return z + self.dropout(self.self_attn(norms["norm1"](z), bias, cache))
        return norms["norm1"](z + self.dropout(self.self_attn(z, bias, cache)))

    def _ff_block(self, h: Tensor, branch: str) -> Tensor:
        norms = self.norms[branch]
        if self.norm_first:
            return h + self.dropout(self.ff[branch](norms["norm3"](h)))
        return norms["norm3"](h + self.dropout(self.ff[branch](h)))

    def _kv_input(self, x: Tensor, branch: str) -> Tensor:
        return self.norms[branch]["norm_kv"](x) if self.norm_first else x

    def _query_input(self, x: Tensor, branch: str) -> Tensor:
        return self.norms[branch]["norm2"](x) if self.norm_first else x

    def _cross_residual(self, query: Tensor, attended: Tensor, branch: str) -> Tensor:
        if self.norm_first:
            return query + self.dropout(attended)
        return self.norms[branch]["norm2"](query + self.dropout(attended))

    def forward(
        self,
        z: Tensor,
        memory: Tensor,
        style: Tensor,
        branch: str,
        query_side: str,
        self_bias: Tensor,
        cross_bias: Tensor,
    ) -> Tensor:
        """Parallel (teacher-forced) pass over a whole sequence.

        Args:
            z: ``(B, T, d)`` stream tokens (already shifted by one frame and position-encoded).
            memory: ``(B, T, d)`` conditioning features (``X`` or ``Y``).
            style: ``(B, d)`` style embedding ``S_n``.
            branch: ``"primal"`` or ``"dual"``.
            query_side: ``"memory"`` (paper) or ``"stream"`` (FaceFormer).
            self_bias: ``(H, T, T)`` causal bias of the self-attention.
            cross_bias: ``(H, T, T)`` bias of the cross-attention, rows = queries.

        Returns:
            ``(B, T, d)`` fused features.
        """
        stream_mod, memory_mod = ("motion", "audio") if branch == "primal" else ("audio", "motion")
        z1 = self._self_block(z, branch, self_bias, None)
        zg = self.gate(style, z1)
        if query_side == "memory":
            query, q_mod, kv, kv_mod = memory, memory_mod, zg, stream_mod
        else:
            query, q_mod, kv, kv_mod = zg, stream_mod, memory, memory_mod
        kv_in = self._kv_input(kv, branch)
        q = self.cross.qk(self._query_input(query, branch), q_mod)
        attended = self.cross.attend(q, self.cross.qk(kv_in, kv_mod), self.cross.value(kv_in, branch), cross_bias, branch)
        return self._ff_block(self._cross_residual(query, attended, branch), branch)

    def init_cache(
        self, memory: Tensor, branch: str, query_side: str, window: int | None = None, ring: bool = False
    ) -> dict:
        """Start an incremental-decoding cache.

        With ``query_side="stream"`` the keys/values come from the (fully known) memory and are
        computed once here (``(B, H, T, dh)``, the size of the memory itself); each step attends
        only over memory frames ``max(0, t-W+1)..t`` of them (all masks are causal, so later
        memory frames never count). With ``query_side="memory"`` they come from the stream and
        are appended frame by frame to a :class:`KVWindow`, as are the self-attention's.

        Args:
            memory: ``(B, T, d)`` conditioning features.
            branch: ``"primal"`` or ``"dual"``.
            query_side: ``"memory"`` or ``"stream"``.
            window: attention context ``W`` in frames (``None`` = unbounded, exact).
            ring: store stream keys/values in preallocated ring buffers (inference only, see
                :class:`KVWindow`).

        Returns:
            the cache dict: ``"self"`` (:class:`KVWindow` of the self-attention), ``"cross"``
            (:class:`KVWindow`, ``query_side="memory"``) or ``"k"``/``"v"`` (memory keys/values,
            ``query_side="stream"``), ``"window"`` and the step counter ``"t"``.
        """
        cache: dict = {"self": KVWindow(window, ring), "window": window, "t": 0}
        if query_side == "stream":
            memory_mod = "audio" if branch == "primal" else "motion"
            kv_in = self._kv_input(memory, branch)
            cache["k"] = self.cross.qk(kv_in, memory_mod)
            cache["v"] = self.cross.value(kv_in, branch)
        else:
            cache["cross"] = KVWindow(window, ring)
        return cache

    def step(
        self,
        z_t: Tensor,
        memory_t: Tensor,
        style: Tensor,
        branch: str,
        query_side: str,
        self_bias: Tensor,
        cross_bias: Tensor,
        cache: dict,
    ) -> Tensor:
        """One incremental decoding step: the new frame attends over cached keys/values.

        Cost per step is ``O(min(t+1, W))`` with a window ``W``, so constant once ``t >= W``.

        Args:
            z_t: ``(B, 1, d)`` stream token of frame ``t``.
            memory_t: ``(B, 1, d)`` memory features of frame ``t``.
            style: ``(B, d)``.
            branch: ``"primal"`` or ``"dual"``.
            query_side: ``"memory"`` or ``"stream"``.
            self_bias: ``(H, 1, n)`` bias of frame ``t`` over the self-attention keys, ``n =
                min(t+1, W)``, for the positions :func:`window_key_positions` gives.
            cross_bias: ``(H, 1, n)`` bias of frame ``t`` over the cross-attention keys: the same
                positions as ``self_bias`` with ``query_side="memory"``; memory frames
                ``max(0, t-W+1)..t`` in order with ``query_side="stream"``.
            cache: from :meth:`init_cache`; updated in place.

        Returns:
            ``(B, 1, d)`` fused features of frame ``t``, equal to row ``t`` of :meth:`forward`
            while ``t < W`` (and always with ``W = None``).
        """
        stream_mod, memory_mod = ("motion", "audio") if branch == "primal" else ("audio", "motion")
        t = cache["t"]
        z1 = self._self_block(z_t, branch, self_bias, cache["self"])
        zg = self.gate(style, z1)
        if query_side == "memory":
            kv_in = self._kv_input(zg, branch)
            k, v = cache["cross"].append(self.cross.qk(kv_in, stream_mod), self.cross.value(kv_in, branch))
            query, q_mod = memory_t, memory_mod
        else:
            window = cache["window"]
            lo = 0 if window is None else max(0, t - window + 1)
            k, v = cache["k"][:, :, lo : t + 1], cache["v"][:, :, lo : t + 1]
            query, q_mod = zg, stream_mod
        cache["t"] = t + 1
        q = self.cross.qk(self._query_input(query, branch), q_mod)
        attended = self.cross.attend(q, k, v, cross_bias, branch)
        return self._ff_block(self._cross_residual(query, attended, branch), branch)
