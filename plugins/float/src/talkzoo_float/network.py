"""FLOAT's pure networks: the motion auto-encoder (stage 1), its discriminators, and the
flow-matching transformer (stage 2). Published weights (the official ``float.pth``) would load here.

Paper: Ki, Min, Chae, *FLOAT: Generative Motion Latent Flow Matching for Audio-driven Talking
Portrait*, ICCV 2025, arXiv 2412.01064. Equations cited as "Eq. N", tables as "Table N".
Shapes follow the implementation notes (``specs/float.md``), which read them off the official
inference code; every size is a constructor argument, so the same classes build the paper size
(``image_size=512``, ``latent_dim=512``, ``num_motions=20``; FMT ``hidden_dim=1024``, 8 blocks,
8 heads) and the reduced CPU demo sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from talkzoo.errors import ConfigError

from talkzoo_float.layers import ConvLayer, EqualConv2d, EqualLinear, ResBlock, StyledConv, ToFlow, ToRGB

__all__ = [
    "EncodedImage",
    "MotionEncoder",
    "MotionBasis",
    "FlowWarpDecoder",
    "MotionAutoEncoder",
    "ImageDiscriminator",
    "MultiScaleDiscriminator",
    "ComponentDiscriminator",
    "AudioProjection",
    "TimestepEmbedder",
    "FlowMatchingTransformer",
    "band_mask",
    "channels_for",
]


def channels_for(resolution: int, channel_base: int, max_channels: int) -> int:
    """Channels at a feature resolution: ``min(max_channels, channel_base // resolution)``, at least 1.

    With the paper's ``channel_base=16384, max_channels=512``: 512 px → 32, 256 → 64, 128 → 128,
    64 → 256, 32 and below → 512 (the LIA/FLOAT encoder and decoder widths, spec §2.2).
    """
    return max(1, min(int(max_channels), int(channel_base) // int(resolution)))


def _check_size(image_size: int) -> int:
    levels = int(round(math.log2(image_size))) if image_size > 0 else 0
    if image_size < 8 or 2**levels != image_size:
        raise ConfigError(f"FLOAT motion auto-encoder: image_size must be a power of two >= 8, got {image_size}")
    return levels


@dataclass
class EncodedImage:
    """Stage-1 encoding of images (Eq. 8-9).

    Attributes:
        identity: ``(B, d)`` identity latent ``w_{X→r}`` (the encoder's 4x4 output ``h``).
        coefficients: ``(B, M)`` motion coefficients ``λ(X)``.
        features: skip features, finest first: ``[(B, C, S, S), (B, C', S/2, S/2), ...]`` down to 8 px.
    """

    identity: Tensor
    coefficients: Tensor
    features: list[Tensor]


class MotionEncoder(nn.Module):
    """LIA-style image encoder: identity latent, motion coefficients and skip features.

    Layout (spec §2.2, from the official code's shapes; the paper's Fig. 17 is an image):
    1x1 ConvLayer 3 → C(S); ``log2(S) - 2`` down-sampling :class:`ResBlock` s to 4x4; a 4x4 valid
    equalised conv (no bias) to ``latent_dim`` → ``h = w_{X→r}``; the motion MLP
    (``mlp_layers`` x EqualLinear(d → d) without activations, then EqualLinear(d → M)) → ``λ(X)``.

    Args:
        image_size: input side ``S`` in pixels (power of two >= 8).
        latent_dim: ``d`` (512 in the paper).
        num_motions: ``M`` (20 in the paper).
        channel_base, max_channels: widths, see :func:`channels_for`.
        mlp_layers: hidden layers of the motion MLP (4 in the official code).

    Forward: ``x (B, 3, S, S)`` float RGB in ``[-1, 1]`` → :class:`EncodedImage`.
    """

    def __init__(self, image_size: int = 512, latent_dim: int = 512, num_motions: int = 20, channel_base: int = 16384, max_channels: int = 512, mlp_layers: int = 4) -> None:
        super().__init__()
        levels = _check_size(image_size)
        ch = lambda r: channels_for(r, channel_base, max_channels)  # noqa: E731
        self.image_size = image_size
        self.stem = ConvLayer(3, ch(image_size), 1)
        self.blocks = nn.ModuleList(ResBlock(ch(2**i), ch(2 ** (i - 1))) for i in range(levels, 2, -1))
        self.to_latent = EqualConv2d(ch(4), latent_dim, 4, bias=False)
        layers: list[nn.Module] = [EqualLinear(latent_dim, latent_dim) for _ in range(mlp_layers)]
        layers.append(EqualLinear(latent_dim, num_motions))
        self.motion_mlp = nn.Sequential(*layers)

    def forward(self, x: Tensor, with_features: bool = True) -> EncodedImage:
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            raise ConfigError(f"MotionEncoder: expected {self.image_size}x{self.image_size} images, got {tuple(x.shape[-2:])}")
        h = self.stem(x)
        feats = [h]
        for block in self.blocks:
            h = block(h)
            feats.append(h)
        identity = self.to_latent(h).flatten(1)
        coefficients = self.motion_mlp(identity)
        # skip features at S, S/2, ..., 8 (the 4x4 map feeds only the latent)
        return EncodedImage(identity, coefficients, feats[:-1] if with_features else [])


class MotionBasis(nn.Module):
    """The learned orthonormal motion basis ``V = {v_m}`` (Eq. 9): ``w_{r→X} = Σ_m λ_m v_m``.

    A free matrix ``W (d, M)`` (init N(0, 1)) is orthonormalised at every use by a QR
    decomposition, ``Q, R = QR(W + 1e-8)``, ``v_m = Q[:, m]`` (official code), so ``<v_m, v_k> =
    δ_mk`` holds exactly after any optimiser step and ``λ_k = <w, v_k>`` (Eq. 15) is a projection.

    Shapes: :meth:`basis` ``(d, M)``; :meth:`forward` ``λ (..., M) → w (..., d)``;
    :meth:`project` ``w (..., d) → λ (..., M)``.
    """

    def __init__(self, latent_dim: int = 512, num_motions: int = 20) -> None:
        super().__init__()
        if num_motions > latent_dim:
            raise ConfigError(f"MotionBasis: num_motions ({num_motions}) must be <= latent_dim ({latent_dim})")
        self.weight = nn.Parameter(torch.randn(latent_dim, num_motions))

    def basis(self) -> Tensor:
        """``(d, M)`` orthonormal columns ``v_1..v_M``."""
        q, _ = torch.linalg.qr(self.weight.float() + 1e-8)
        return q.to(self.weight.dtype)

    def forward(self, coefficients: Tensor) -> Tensor:
        return coefficients @ self.basis().t()

    def project(self, latent: Tensor) -> Tensor:
        """Eq. 15: ``λ_k = <w, v_k>``."""
        return latent @ self.basis()


class FlowWarpDecoder(nn.Module):
    """LIA's flow-warping StyleGAN2 decoder conditioned on the source's skip features.

    ``z = w_{S→r} + w_{r→D}`` is the style of every layer (no mapping network). From a learned
    constant 4x4 input and a StyledConv, each level at 8, 16, ..., S px runs an up-sampling and a
    plain StyledConv, then :class:`ToFlow` predicts a sampling grid and an occlusion mask ``m``;
    the source feature of that level is warped (``grid_sample``) and masked, ``f_w = warp(f_S) m``;
    the next features are ``f_w + out (1 - m)``; :class:`ToRGB` of ``f_w`` accumulates the image.

    Args: as :class:`MotionEncoder`, plus ``noise`` (noise injection in the StyledConvs).

    Forward: ``z (B, d)``, ``features`` (the source's skip features, finest first, as
    :class:`EncodedImage`) → ``(B, 3, S, S)`` RGB, nominally in ``[-1, 1]`` (not clamped).
    """

    def __init__(self, image_size: int = 512, latent_dim: int = 512, channel_base: int = 16384, max_channels: int = 512, noise: bool = True) -> None:
        super().__init__()
        levels = _check_size(image_size)
        ch = lambda r: channels_for(r, channel_base, max_channels)  # noqa: E731
        self.const = nn.Parameter(torch.randn(1, ch(4), 4, 4))
        self.conv1 = StyledConv(ch(4), ch(4), 3, latent_dim, noise=noise)
        self.up_convs, self.convs, self.to_flows, self.to_rgbs = nn.ModuleList(), nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        prev = ch(4)
        for i in range(3, levels + 1):
            out = ch(2**i)
            self.up_convs.append(StyledConv(prev, out, 3, latent_dim, upsample=True, noise=noise))
            self.convs.append(StyledConv(out, out, 3, latent_dim, noise=noise))
            self.to_flows.append(ToFlow(out, latent_dim))
            self.to_rgbs.append(ToRGB(out))
            prev = out

    def reset_flows_to_identity(self) -> None:
        """Zero every flow head's weights: each level starts as the identity warp with mask 0.5.

        Ours (the paper and LIA are silent on the initialisation): with the random modulated 1x1
        init the first flows move features by up to ~0.8 of the image and training starts from
        scrambled warps; from the identity it starts by copying the source (a far faster start).
        """
        for head in self.to_flows:
            nn.init.zeros_(head.conv.weight)

    def forward(self, z: Tensor, features: list[Tensor], return_flow: bool = False) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        """``return_flow``: also return the finest level's sampling grid ``(B, S, S, 2)`` and
        occlusion mask ``(B, 1, S, S)`` (used to move the source's fine detail, talkzoo.nn.detail)."""
        feats = list(reversed(features))  # coarsest (8 px) first
        if len(feats) != len(self.convs):
            raise ConfigError(f"FlowWarpDecoder: expected {len(self.convs)} skip features, got {len(feats)}")
        out = self.conv1(self.const.expand(z.shape[0], -1, -1, -1), z)
        flow_skip = rgb = None
        for up, conv, to_flow, to_rgb, feat in zip(self.up_convs, self.convs, self.to_flows, self.to_rgbs, feats):
            out = conv(up(out, z), z)
            flow_skip, grid, mask = to_flow(out, z, flow_skip)
            warped = F.grid_sample(feat, grid, mode="bilinear", padding_mode="border", align_corners=True) * mask
            out = warped + out * (1.0 - mask)
            rgb = to_rgb(warped, rgb)
        if return_flow:
            return rgb, grid, mask
        return rgb


class MotionAutoEncoder(nn.Module):
    """Stage 1 of FLOAT (§4.1): encoder, orthonormal motion basis and flow-warping decoder.

    ``D̂ = G(w_{S→r} + Σ_m λ_m(D) v_m, feats(S))`` (Eq. 8-9). Images are ``[-1, 1]`` RGB of side
    ``image_size``. See :class:`MotionEncoder`, :class:`MotionBasis`, :class:`FlowWarpDecoder`.

    Paper size (``image_size=512``, defaults): 45,239,560 parameters (spec §2.2: 21,665,312
    encoder trunk + 1,060,884 motion MLP + 22,513,364 decoder with the basis).
    """

    def __init__(self, image_size: int = 512, latent_dim: int = 512, num_motions: int = 20, channel_base: int = 16384, max_channels: int = 512, mlp_layers: int = 4, noise: bool = True) -> None:
        super().__init__()
        self.image_size, self.latent_dim, self.num_motions = image_size, latent_dim, num_motions
        self.encoder = MotionEncoder(image_size, latent_dim, num_motions, channel_base, max_channels, mlp_layers)
        self.basis = MotionBasis(latent_dim, num_motions)
        self.decoder = FlowWarpDecoder(image_size, latent_dim, channel_base, max_channels, noise)

    def encode(self, image: Tensor, with_features: bool = True) -> EncodedImage:
        """``(B, 3, S, S)`` in [-1, 1] → :class:`EncodedImage`."""
        return self.encoder(image, with_features)

    def motion_latent(self, image: Tensor) -> Tensor:
        """``(B, 3, S, S)`` → ``(B, d)`` motion latent ``w_{r→X} = Q λ(X)`` (no skip features kept)."""
        return self.basis(self.encoder(image, with_features=False).coefficients)

    def decode(self, latent: Tensor, features: list[Tensor], return_flow: bool = False) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        """``(B, d)`` full latent ``w_{S→r} + w_{r→D}`` and the source's features → ``(B, 3, S, S)``
        (with ``return_flow``, also the finest sampling grid and mask, :class:`FlowWarpDecoder`)."""
        return self.decoder(latent, features, return_flow)

    def forward(self, source: Tensor, driving: Tensor) -> Tensor:
        """Reconstruct ``driving`` from ``source``: ``(B, 3, S, S)`` x2 → ``(B, 3, S, S)``."""
        src = self.encode(source)
        drv = self.encode(driving, with_features=False)
        return self.decode(src.identity + self.basis(drv.coefficients), src.features)


# --------------------------------------------------------------------------------------------
# discriminators (stage-1 training only; the paper gives no architecture: App. A, ours)
# --------------------------------------------------------------------------------------------
class ImageDiscriminator(nn.Module):
    """StyleGAN2-style residual discriminator (ours: no minibatch-stddev layer).

    1x1 ConvLayer → ResBlocks down to 4x4 → 3x3 ConvLayer → EqualLinear(C·16 → C, leaky) →
    EqualLinear(C → 1). Forward ``(B, 3, S, S)`` → ``(B,)`` logits.
    """

    def __init__(self, image_size: int, channel_base: int = 16384, max_channels: int = 512) -> None:
        super().__init__()
        levels = _check_size(image_size)
        ch = lambda r: channels_for(r, channel_base, max_channels)  # noqa: E731
        layers: list[nn.Module] = [ConvLayer(3, ch(image_size), 1)]
        layers += [ResBlock(ch(2**i), ch(2 ** (i - 1))) for i in range(levels, 2, -1)]
        layers.append(ConvLayer(ch(4), ch(4), 3))
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(EqualLinear(ch(4) * 16, ch(4), activate=True), EqualLinear(ch(4), 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x).flatten(1)).squeeze(1)


class MultiScaleDiscriminator(nn.Module):
    """FLOAT's "2-scale discriminator" (App. A.3, Eq. 19): one :class:`ImageDiscriminator` per scale.

    Scale ``k`` sees the image average-pooled by ``2^k`` (pix2pixHD-style; the paper names the
    count only, the scales are ours). Forward ``(B, 3, S, S)`` → list of ``(B,)`` logits.
    """

    def __init__(self, image_size: int, num_scales: int = 2, channel_base: int = 16384, max_channels: int = 512) -> None:
        super().__init__()
        self.nets = nn.ModuleList(
            ImageDiscriminator(image_size // 2**k, channel_base, max_channels) for k in range(num_scales)
        )

    def forward(self, x: Tensor) -> list[Tensor]:
        out = []
        for k, net in enumerate(self.nets):
            out.append(net(F.avg_pool2d(x, 2**k) if k else x))
        return out


class ComponentDiscriminator(nn.Module):
    """Facial-component (eye / lip RoI) discriminator, GFPGAN-style (App. A.3, Eq. 20-21; layout ours).

    Three stride-2 ConvLayers (``channels``, 2x, 4x) then a 3x3 conv to one logit map. Forward
    ``(B, 3, R, R)`` → ``(logits (B,), features [(B, C_i, R/2^i, R/2^i) for the 2nd and 3rd
    stages])``; the features feed the Gram feature-style-matching loss (Eq. 21).
    """

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        c = channels
        self.stages = nn.ModuleList([ConvLayer(3, c, 3, downsample=True), ConvLayer(c, 2 * c, 3, downsample=True), ConvLayer(2 * c, 4 * c, 3, downsample=True)])
        self.final = EqualConv2d(4 * c, 1, 3, padding=1)

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        feats = []
        h = x
        for stage in self.stages:
            h = stage(h)
            feats.append(h)
        return self.final(h).mean(dim=(1, 2, 3)), feats[1:]


# --------------------------------------------------------------------------------------------
# stage 2: the flow-matching transformer (FMT)
# --------------------------------------------------------------------------------------------
class AudioProjection(nn.Module):
    """Trainable audio head (official code): Linear(C_audio → d_a) → LayerNorm → SiLU.

    With wav2vec 2.0 base, all 12 layers concatenated, ``C_audio = 9216`` and ``d_a = 512``
    (4,720,128 parameters). Shapes ``(B, T, C_audio) → (B, T, d_a)``.
    """

    def __init__(self, in_dim: int, out_dim: int = 512) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, out_dim), nn.LayerNorm(out_dim), nn.SiLU())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def sinusoidal_embedding(positions: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """``cos ‖ sin`` embedding of real ``positions (N,)`` → ``(N, dim)`` (frequencies ``max_period^{-i/(dim/2)}``)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    args = positions.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, dim % 2))


class TimestepEmbedder(nn.Module):
    """Flow-time embedding ``Emb(t)`` (§4.2: "sinusoidal position embedding"; the MLP is DiT's, as the code).

    ``t ∈ [0, 1]`` (not scaled by 1000) → 256-d sinusoid → Linear → SiLU → Linear → ``(B, h)``.
    """

    def __init__(self, hidden_dim: int, frequency_dim: int = 256) -> None:
        super().__init__()
        self.frequency_dim = frequency_dim
        self.mlp = nn.Sequential(nn.Linear(frequency_dim, hidden_dim), nn.SiLU(), nn.Linear(hidden_dim, hidden_dim))

    def forward(self, t: Tensor) -> Tensor:
        return self.mlp(sinusoidal_embedding(t, self.frequency_dim))


def band_mask(length: int, radius: int | None, device: torch.device | None = None) -> Tensor | None:
    """Banded self-attention mask (§4.2, §5.2): position ``i`` may attend to ``j`` iff ``|i - j| <= radius``.

    Returns ``(length, length)`` bool (``True`` = allowed), or ``None`` for full attention
    (``radius=None``, the Table 3 "no banded mask" switch).
    """
    if radius is None:
        return None
    idx = torch.arange(length, device=device)
    return (idx[:, None] - idx[None, :]).abs() <= int(radius)


def _modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return x * (1 + scale) + shift


class _Attention(nn.Module):
    """Multi-head attention with a qkv bias; query/key/value from ``x`` or keys/values from ``memory``."""

    def __init__(self, dim: int, heads: int, cross: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ConfigError(f"FMT: hidden_dim ({dim}) must be divisible by num_heads ({heads})")
        self.heads, self.cross = heads, cross
        if cross:
            self.q = nn.Linear(dim, dim)
            self.kv = nn.Linear(dim, 2 * dim)
        else:
            self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor | None, memory: Tensor | None = None) -> Tensor:
        b, n, d = x.shape
        if self.cross:
            q = self.q(x)
            k, v = self.kv(memory).chunk(2, dim=-1)
        else:
            q, k, v = self.qkv(x).chunk(3, dim=-1)
        split = lambda t: t.view(b, t.shape[1], self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(q), split(k), split(v), attn_mask=mask)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


def _mlp(dim: int, ratio: float) -> nn.Sequential:
    hidden = int(dim * ratio)
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))


class AdaLNBlock(nn.Module):
    """DiT block with **frame-wise** AdaLN-Zero (Eq. 10): each frame ``l`` has its own ``γ, β, α`` from ``c^l``.

    ``x ← x + α1 ⊙ MHSA(LN(x)(1 + γ1) + β1, band mask)``; ``x ← x + α2 ⊙ MLP(LN(x)(1 + γ2) + β2)``;
    the six vectors come from ``SiLU → Linear(h → 6h)`` of ``c (B, N, h)``, zero-initialised (the
    official code's ``1 + scale`` form; the paper writes ``γ LN(X) + β``). Shapes ``(B, N, h)``.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = _Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = _mlp(dim, mlp_ratio)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: Tensor, cond: Tensor, mask: Tensor | None) -> Tensor:
        s1, g1, a1, s2, g2, a2 = self.ada(cond).chunk(6, dim=-1)
        x = x + a1 * self.attn(_modulate(self.norm1(x), s1, g1), mask)
        return x + a2 * self.mlp(_modulate(self.norm2(x), s2, g2))


class CrossAttentionBlock(nn.Module):
    """Table 3 ablation "w. Cross-Attn." (§5.5): conditions enter by cross-attention, not AdaLN.

    Pre-LN: ``x ← x + SA(LN(x))``; ``x ← x + CA(LN(x), c)``; ``x ← x + MLP(LN(x))``; the same band
    mask on both attentions (App. B.3). Shapes ``(B, N, h)``.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = _Attention(dim, heads)
        self.cross = _Attention(dim, heads, cross=True)
        self.mlp = _mlp(dim, mlp_ratio)

    def forward(self, x: Tensor, cond: Tensor, mask: Tensor | None) -> Tensor:
        x = x + self.attn(self.norm1(x), mask)
        x = x + self.cross(self.norm2(x), mask, memory=cond)
        return x + self.mlp(self.norm3(x))


class FlowMatchingTransformer(nn.Module):
    """FLOAT's vector-field predictor ``v_t(x_t, c_t; θ)`` (§4.2, Eq. 10-11, Fig. 2).

    Input tokens ``x = [w_{r→D^{-L':0}} | x_t] (B, L'+L, d)`` (clean preceding latents, then the
    noisy current window) → Linear(d → h) + fixed sinusoidal frame positions. Per-frame condition
    ``c^l = ToCondition([w_{r→S}, a^l, w_e]) + Emb(t)`` (h-d; ``w_{r→S}`` and ``w_e`` shared by all
    frames). ``depth`` blocks (:class:`AdaLNBlock`, or :class:`CrossAttentionBlock` for the Table 3
    ablation) with the band mask; final frame-wise modulated LN → Linear(h → d).

    Args:
        latent_dim: ``d`` (512). hidden_dim: ``h`` (1024). depth: blocks (8, official code only).
        num_heads: 8. mlp_ratio: 4. audio_dim: ``d_a`` (512). emotion_dim: 7.
        max_frames: length of the positional table (``L' + L`` = 60).
        attention_radius: band half-width ``T`` (2); ``None`` = full attention.
        conditioning: ``"adaln"`` (paper) or ``"cross_attention"`` (Table 3 ablation).

    Forward: ``x (B, N, d)``, ``t (B,)`` in [0, 1], ``reference (B, d)``, ``audio (B, N, d_a)``,
    ``emotion (B, 7)`` → ``(B, N, d)``: the velocity on the current frames and the reconstructed
    latents on the preceding ones (Eq. 11). ``N <= max_frames``.

    Paper size: 156,636,672 trainable parameters (+ a 61,440-entry fixed positional table that the
    notes' 156.70 M counts; we keep it as a buffer).
    """

    def __init__(
        self,
        latent_dim: int = 512,
        hidden_dim: int = 1024,
        depth: int = 8,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        audio_dim: int = 512,
        emotion_dim: int = 7,
        max_frames: int = 60,
        attention_radius: int | None = 2,
        conditioning: str = "adaln",
    ) -> None:
        super().__init__()
        if conditioning not in ("adaln", "cross_attention"):
            raise ConfigError(f"FMT conditioning must be 'adaln' or 'cross_attention', got {conditioning!r}")
        self.latent_dim, self.hidden_dim, self.max_frames = latent_dim, hidden_dim, max_frames
        self.attention_radius, self.conditioning = attention_radius, conditioning
        self.audio_dim, self.emotion_dim = audio_dim, emotion_dim
        self.input_embed = nn.Linear(latent_dim, hidden_dim)
        pos = sinusoidal_embedding(torch.arange(max_frames), hidden_dim)
        self.register_buffer("positions", pos[None], persistent=False)
        self.time_embed = TimestepEmbedder(hidden_dim)
        self.to_condition = nn.Linear(latent_dim + audio_dim + emotion_dim, hidden_dim)
        block = AdaLNBlock if conditioning == "adaln" else CrossAttentionBlock
        self.blocks = nn.ModuleList(block(hidden_dim, num_heads, mlp_ratio) for _ in range(depth))
        self.final_norm = nn.LayerNorm(hidden_dim, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Sequential(nn.SiLU(), nn.Linear(hidden_dim, 2 * hidden_dim))
        self.final = nn.Linear(hidden_dim, latent_dim)
        self._init_weights()

    def _init_weights(self) -> None:
        """Official-code init: Xavier-uniform linears with zero bias; N(0, 0.02) t-MLP; zero AdaLN and output."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.time_embed.mlp:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
        for blk in self.blocks:
            if isinstance(blk, AdaLNBlock):
                nn.init.zeros_(blk.ada[-1].weight)
                nn.init.zeros_(blk.ada[-1].bias)
        for m in (self.final_ada[-1], self.final):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def condition(self, t: Tensor, reference: Tensor, audio: Tensor, emotion: Tensor) -> Tensor:
        """Per-frame conditions ``c_t (B, N, h)`` from ``t (B,)``, ``reference (B, d)``, ``audio (B, N, d_a)``, ``emotion (B, E)``."""
        n = audio.shape[1]
        frame = torch.cat([reference[:, None].expand(-1, n, -1), audio, emotion[:, None].expand(-1, n, -1)], dim=-1)
        return self.to_condition(frame) + self.time_embed(t)[:, None]

    def forward(self, x: Tensor, t: Tensor, reference: Tensor, audio: Tensor, emotion: Tensor) -> Tensor:
        n = x.shape[1]
        if n > self.max_frames:
            raise ConfigError(f"FMT: {n} frames exceed max_frames={self.max_frames} (prefix + window)")
        cond = self.condition(t, reference, audio, emotion)
        h = self.input_embed(x) + self.positions[:, :n].to(x.dtype)
        mask = band_mask(n, self.attention_radius, x.device)
        for blk in self.blocks:
            h = blk(h, cond, mask)
        shift, scale = self.final_ada(cond).chunk(2, dim=-1)
        return self.final(_modulate(self.final_norm(h), shift, scale))
