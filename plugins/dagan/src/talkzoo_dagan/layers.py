"""Building blocks of DaGAN (Hong et al., CVPR 2022): FOMM-style conv blocks, hourglass, coordinate
grids, Gaussian keypoint heatmaps, Monodepth2-style depth blocks and the random TPS transform.

All written for this plugin from the paper's description (DaGAN App. A.2: "DownBlock2d contains a
convolutional layer with 3×3 kernel, a batch normalization layer, a ReLU activation layer, and an
average pooling layer"; "UpBlock2d" upsamples by interpolation) and the published FOMM design
(Siarohin et al., NeurIPS 2019), which the paper says it follows. Widths and depths are
constructor arguments. Coordinates are normalised to ``[-1, 1]`` with ``align_corners=True``
semantics (pixel centres of the first/last column at -1/+1), x first then y, as in FOMM.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ConvELU",
    "DownBlock2d",
    "Hourglass",
    "RandomTPS",
    "ResBlock2d",
    "SameBlock2d",
    "UpBlock2d",
    "kp_to_gaussian",
    "make_coordinate_grid",
]


def make_coordinate_grid(height: int, width: int, device=None, dtype=torch.float32) -> Tensor:
    """``(H, W, 2)`` grid of normalised ``(x, y)`` coordinates in ``[-1, 1]`` (x right, y down).

    ``grid[i, j] = (2j/(W-1) - 1, 2i/(H-1) - 1)``; usable directly by ``grid_sample(...,
    align_corners=True)``. A side of 1 pixel maps to 0.
    """
    xs = torch.linspace(-1, 1, width, device=device, dtype=dtype) if width > 1 else torch.zeros(1, device=device, dtype=dtype)
    ys = torch.linspace(-1, 1, height, device=device, dtype=dtype) if height > 1 else torch.zeros(1, device=device, dtype=dtype)
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)


def kp_to_gaussian(kp: Tensor, height: int, width: int, variance: float) -> Tensor:
    """Gaussian heatmaps ``exp(-|z - x_k|^2 / (2 variance))`` of keypoints.

    Args:
        kp: ``(B, K, 2)`` keypoints, normalised ``(x, y)`` in ``[-1, 1]``.
        height, width: heatmap size in pixels. variance: in normalised units squared (FOMM 0.01).

    Returns:
        ``(B, K, H, W)`` float heatmaps, peak 1 at each keypoint.
    """
    grid = make_coordinate_grid(height, width, kp.device, kp.dtype)
    diff = grid[None, None] - kp[:, :, None, None, :]
    return torch.exp(-0.5 * diff.pow(2).sum(-1) / variance)


class SameBlock2d(nn.Module):
    """conv k×k (same size) → BatchNorm → ReLU. ``(B, Cin, H, W) → (B, Cout, H, W)``."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2)
        self.norm = nn.BatchNorm2d(out_ch)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.norm(self.conv(x)))


class DownBlock2d(nn.Module):
    """conv 3×3 → BatchNorm → ReLU → AvgPool 2 (DaGAN A.2). ``(B, Cin, H, W) → (B, Cout, H/2, W/2)``."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.block = SameBlock2d(in_ch, out_ch, 3)

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(self.block(x), 2)


class UpBlock2d(nn.Module):
    """nearest ×2 upsampling → conv 3×3 → BatchNorm → ReLU. ``(B, Cin, H, W) → (B, Cout, 2H, 2W)``."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.block = SameBlock2d(in_ch, out_ch, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResBlock2d(nn.Module):
    """Pre-activation residual block: ``x + conv(relu(bn(conv(relu(bn(x))))))``, 3×3, same channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.BatchNorm2d(channels), nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.relu(self.norm1(x)))
        return x + self.conv2(F.relu(self.norm2(h)))


class Hourglass(nn.Module):
    """U-Net hourglass (FOMM, cited by DaGAN §3.3 "an hourglass network").

    Encoder: ``num_blocks`` DownBlocks with widths ``min(max_features, expansion * 2^(i+1))``;
    decoder: UpBlocks with skip concatenation. Output = the last decoder map concatenated with the
    input: ``(B, Cin, H, W) → (B, expansion + Cin, H, W)`` (:attr:`out_channels`). H and W must be
    divisible by ``2^num_blocks``.
    """

    def __init__(self, in_ch: int, expansion: int, num_blocks: int = 5, max_features: int = 1024) -> None:
        super().__init__()
        widths = [in_ch] + [min(max_features, expansion * 2 ** (i + 1)) for i in range(num_blocks)]
        self.down = nn.ModuleList(DownBlock2d(widths[i], widths[i + 1]) for i in range(num_blocks))
        ups = []
        for i in reversed(range(num_blocks)):
            cin = widths[i + 1] if i == num_blocks - 1 else 2 * widths[i + 1]
            cout = min(max_features, expansion * 2**i)
            ups.append(UpBlock2d(cin, cout))
        self.up = nn.ModuleList(ups)
        self.out_channels = expansion + in_ch
        self.factor = 2**num_blocks

    def forward(self, x: Tensor) -> Tensor:
        skips = [x]
        for block in self.down:
            skips.append(block(skips[-1]))
        h = skips.pop()
        for block in self.up:
            h = torch.cat([block(h), skips.pop()], dim=1)
        return h


class ConvELU(nn.Module):
    """Monodepth2-style block: reflection pad 1 → conv 3×3 → ELU. ``(B, Cin, H, W) → (B, Cout, H, W)``."""

    def __init__(self, in_ch: int, out_ch: int, activation: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        mode = "reflect" if min(x.shape[-2:]) > 1 else "replicate"  # reflection needs 2+ pixels
        h = self.conv(F.pad(x, (1, 1, 1, 1), mode=mode))
        return F.elu(h) if self.activation else h


class RandomTPS:
    """A random thin-plate-spline (plus affine) transform of the plane, for the equivariance loss.

    ``T(z) = A z + sum_p w_p U(|z - c_p|)``, ``U(r) = r^2 log r`` (``U(0) = 0``), with
    ``A = [I | 0] + N(0, sigma_affine)`` and ``w_p ~ N(0, sigma_tps)`` on a ``points × points`` grid
    of control points ``c_p`` in ``[-1, 1]^2`` (FOMM's transform; DaGAN Eq. 12 "a known random
    spatial transform"; sigmas 0.05 / 0.005 and 5 points as the official configuration).
    ``sigma_affine = sigma_tps = 0`` is the identity.

    Args:
        batch: number of independent transforms. sigma_affine, sigma_tps: standard deviations.
        points: control points per side. generator: optional ``torch.Generator``. device, dtype.
    """

    def __init__(self, batch: int, sigma_affine: float = 0.05, sigma_tps: float = 0.005, points: int = 5,
                 generator: torch.Generator | None = None, device=None, dtype=torch.float32) -> None:
        eye = torch.eye(2, 3, dtype=dtype).expand(batch, 2, 3)
        noise = torch.randn(batch, 2, 3, generator=generator, dtype=dtype) * sigma_affine
        self.theta = (eye + noise).to(device)
        self.control = make_coordinate_grid(points, points, device, dtype).reshape(-1, 2)
        self.weights = (torch.randn(batch, points * points, generator=generator, dtype=dtype) * sigma_tps).to(device)
        self.use_tps = sigma_tps > 0

    def warp_coordinates(self, coords: Tensor) -> Tensor:
        """Apply ``T`` to ``(B, N, 2)`` normalised points; returns ``(B, N, 2)`` (differentiable)."""
        theta = self.theta.to(coords.dtype)
        out = torch.einsum("bij,bnj->bni", theta[:, :, :2], coords) + theta[:, None, :, 2]
        if self.use_tps:
            r2 = (coords[:, :, None, :] - self.control.to(coords.dtype)[None, None]).pow(2).sum(-1)
            radial = 0.5 * r2 * torch.log(r2 + 1e-9)  # r^2 log r
            out = out + (radial * self.weights.to(coords.dtype)[:, None, :]).sum(-1, keepdim=True)
        return out

    def transform_frame(self, frame: Tensor) -> Tensor:
        """Resample ``(B, C, H, W)`` at ``T(z)``: output pixel z shows input point ``T(z)`` (zeros outside).

        A keypoint found at ``p`` in the output therefore sits at ``T(p)`` in the input.
        """
        b, _, h, w = frame.shape
        grid = make_coordinate_grid(h, w, frame.device, frame.dtype).reshape(1, -1, 2).expand(b, -1, -1)
        warped = self.warp_coordinates(grid).reshape(b, h, w, 2)
        return F.grid_sample(frame, warped, mode="bilinear", padding_mode="zeros", align_corners=True)

    def jacobian(self, coords: Tensor) -> Tensor:
        """``(B, N, 2, 2)`` Jacobian ``dT/dz`` at ``(B, N, 2)`` points (autograd)."""
        with torch.enable_grad():
            z = coords.detach().requires_grad_(True)
            out = self.warp_coordinates(z)
            gx = torch.autograd.grad(out[..., 0].sum(), z, create_graph=True)[0]
            gy = torch.autograd.grad(out[..., 1].sum(), z, create_graph=True)[0]
        return torch.stack([gx, gy], dim=-2)
