"""StyleGAN2-style building blocks of FLOAT's motion auto-encoder (LIA base) and discriminators.

FLOAT (Ki et al., ICCV 2025, arXiv 2412.01064) §4.1 / App. A builds its stage-1 motion
auto-encoder on LIA (Wang et al., ICLR 2022), whose layers are StyleGAN2's (Karras et al., CVPR
2020): equalised-learning-rate convolutions and linears (weights stored N(0, 1) and scaled by
``1/sqrt(fan_in)`` at run time), leaky ReLU (slope 0.2) with a learned bias and gain ``sqrt(2)``,
``[1, 3, 3, 1]`` blur before strided convolutions, and modulated (style-scaled, demodulated)
convolutions in the decoder. The paper's Fig. 17 is an image only; the layer list follows the
implementation notes (``specs/float.md`` §2.2, taken from the official inference code's shapes).
Written from the papers; no code is copied.

One deliberate difference (ours, documented in the README): a 2x upsampling modulated
convolution is bilinear upsampling followed by a 3x3 modulated convolution, instead of
StyleGAN2's transposed convolution + blur. It has the same parameters (same parameter count).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "EqualLinear",
    "EqualConv2d",
    "FusedLeakyReLU",
    "Blur",
    "ConvLayer",
    "ResBlock",
    "ModulatedConv2d",
    "StyledConv",
    "ToFlow",
    "ToRGB",
]

_GAIN = math.sqrt(2.0)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate (StyleGAN2).

    ``y = x @ (W * lr_mul / sqrt(in))^T + b * lr_mul``; optional fused leaky-ReLU.

    Args:
        in_dim, out_dim: features in/out.
        bias: add a bias (initialised to ``bias_init``).
        bias_init: bias initial value (1 for style modulations, so styles start at identity).
        lr_mul: learning-rate multiplier.
        activate: apply leaky ReLU (0.2) times ``sqrt(2)`` after the bias.

    Shapes: ``(..., in_dim) -> (..., out_dim)``.
    """

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, bias_init: float = 0.0, lr_mul: float = 1.0, activate: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul
        out = F.linear(x, self.weight * self.scale, bias)
        return F.leaky_relu(out, 0.2) * _GAIN if self.activate else out


class EqualConv2d(nn.Module):
    """2D convolution with equalised learning rate: weight ``N(0, 1) / sqrt(in * k * k)`` at run time.

    Shapes: ``(B, in, H, W) -> (B, out, H', W')`` with the usual stride/padding arithmetic.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class FusedLeakyReLU(nn.Module):
    """Per-channel bias, leaky ReLU (slope 0.2), gain ``sqrt(2)``. ``(B, C, ...) -> same shape``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return F.leaky_relu(x + self.bias.view(shape), 0.2) * _GAIN


class Blur(nn.Module):
    """Depthwise ``[1, 3, 3, 1]`` (outer product, normalised to sum 1) low-pass with zero padding.

    Args:
        pad: ``(before, after)`` zero padding on both spatial axes.

    Shapes: ``(B, C, H, W) -> (B, C, H + sum(pad) - 3, W + sum(pad) - 3)``.
    """

    def __init__(self, pad: tuple[int, int]) -> None:
        super().__init__()
        k = torch.tensor([1.0, 3.0, 3.0, 1.0])
        k = k[:, None] * k[None, :]
        self.register_buffer("kernel", (k / k.sum())[None, None], persistent=False)
        self.pad = pad

    def forward(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        x = F.pad(x, (self.pad[0], self.pad[1], self.pad[0], self.pad[1]))
        return F.conv2d(x, self.kernel.to(x.dtype).expand(c, 1, 4, 4), groups=c)


class ConvLayer(nn.Sequential):
    """StyleGAN2 ``ConvLayer``: [blur] → equalised conv → [fused leaky ReLU].

    Args:
        in_ch, out_ch: channels.
        kernel: kernel size (odd, or 4 for the final 4x4 valid conv of the encoder).
        downsample: blur then stride-2 convolution (halves H and W).
        bias: learned bias (in the activation when ``activate``).
        activate: leaky ReLU 0.2 with gain ``sqrt(2)``.

    Shapes: ``(B, in, H, W) -> (B, out, H, W)`` or ``(B, out, H/2, W/2)`` with ``downsample``.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, downsample: bool = False, bias: bool = True, activate: bool = True) -> None:
        layers: list[nn.Module] = []
        if downsample:
            p = (4 - 2) + (kernel - 1)
            layers.append(Blur(((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel // 2
        layers.append(EqualConv2d(in_ch, out_ch, kernel, stride=stride, padding=padding, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_ch) if bias else nn.LeakyReLU(0.2))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Down-sampling residual block: ``(conv3x3(in→in) → blur+conv3x3/2(in→out) + blur+conv1x1/2) / sqrt(2)``.

    Shapes: ``(B, in, H, W) -> (B, out, H/2, W/2)``. Source: StyleGAN2 discriminator / LIA encoder.
    """

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_ch, in_ch, 3)
        self.conv2 = ConvLayer(in_ch, out_ch, 3, downsample=True)
        self.skip = ConvLayer(in_ch, out_ch, 1, downsample=True, bias=False, activate=False)

    def forward(self, x: Tensor) -> Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution: per-sample weights ``W * s_in`` (style), optionally demodulated.

    Args:
        in_ch, out_ch, kernel: convolution shape.
        style_dim: size of the style (latent) vector.
        demodulate: divide each output filter by its norm (StyleGAN2 Eq. 3).
        upsample: bilinear 2x upsampling before the convolution (ours; see the module docstring).

    Forward: ``x (B, in, H, W)``, ``style (B, style_dim)`` → ``(B, out, H', W')`` (``H' = 2H`` with upsample).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, style_dim: int, demodulate: bool = True, upsample: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel, kernel))
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        self.demodulate, self.upsample = demodulate, upsample
        self.in_ch, self.out_ch, self.padding = in_ch, out_ch, kernel // 2

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        b, c, h, w = x.shape
        s = self.modulation(style).view(b, 1, c, 1, 1)
        weight = self.scale * self.weight * s  # (B, out, in, k, k)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            h, w = 2 * h, 2 * w
        weight = weight.reshape(b * self.out_ch, c, *weight.shape[-2:])
        out = F.conv2d(x.reshape(1, b * c, h, w), weight, padding=self.padding, groups=b)
        return out.view(b, self.out_ch, h, w)


class StyledConv(nn.Module):
    """Modulated conv → noise injection (one learned scalar weight, init 0) → fused leaky ReLU.

    Forward: ``x (B, in, H, W)``, ``style (B, style_dim)`` → ``(B, out, H', W')``. Noise is fresh
    ``N(0, 1)`` per call (StyleGAN2/LIA); ``noise=False`` turns it off (deterministic decoding).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, style_dim: int, upsample: bool = False, noise: bool = True) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel, style_dim, upsample=upsample)
        self.noise_weight = nn.Parameter(torch.zeros(1))
        self.use_noise = noise
        self.activate = FusedLeakyReLU(out_ch)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        out = self.conv(x, style)
        if self.use_noise:
            out = out + self.noise_weight * torch.randn(out.shape[0], 1, *out.shape[2:], device=out.device, dtype=out.dtype)
        return self.activate(out)


class ToFlow(nn.Module):
    """LIA flow head: modulated 1x1 conv (no demodulation) → 3 logits (+ upsampled previous logits).

    Forward: ``x (B, C, H, W)``, ``style (B, style_dim)``, ``skip`` ``(B, 3, H/2, W/2)`` or None →
    ``(logits (B, 3, H, W), flow (B, H, W, 2) sampling grid in [-1, 1] coordinates, mask (B, 1, H, W) in (0, 1))``.
    Channels 0-1: ``tanh`` offsets added to the identity grid; channel 2: ``sigmoid`` occlusion mask.
    """

    def __init__(self, in_ch: int, style_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: Tensor, style: Tensor, skip: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        logits = self.conv(x, style) + self.bias
        if skip is not None:
            logits = logits + F.interpolate(skip, size=logits.shape[-2:], mode="bilinear", align_corners=False)
        b, _, h, w = logits.shape
        ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None]  # (1, H, W, 2) as (x, y)
        flow = grid + torch.tanh(logits[:, :2]).permute(0, 2, 3, 1)
        return logits, flow, torch.sigmoid(logits[:, 2:3])


class ToRGB(nn.Module):
    """1x1 equalised conv to RGB (with bias) plus the upsampled RGB of the previous level.

    Forward: ``x (B, C, H, W)``, ``skip (B, 3, H/2, W/2)`` or None → ``(B, 3, H, W)``.
    """

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.conv = EqualConv2d(in_ch, 3, 1)

    def forward(self, x: Tensor, skip: Tensor | None = None) -> Tensor:
        out = self.conv(x)
        if skip is not None:
            out = out + F.interpolate(skip, size=out.shape[-2:], mode="bilinear", align_corners=False)
        return out
