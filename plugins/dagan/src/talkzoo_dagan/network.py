"""DaGAN's networks as plain ``nn.Module``s (no Lightning): face depth network F_d, pose/intrinsics
network F_p, RGB-D keypoint detector F_kp, dense motion (occlusion) network, cross-modal attention
(CAM), generator and discriminator.

Paper: Hong, Zhang, Shen, Xu, "Depth-Aware Generative Adversarial Network for Talking Head Video
Generation", CVPR 2022 (§3.2-3.4, App. A.2). Where the text is silent, sizes follow the published
FOMM/DaGAN/Monodepth2 designs as *facts* (widths, kernel sizes); no code was copied. Each choice
is a constructor argument and is listed in the plugin README with its source.

Conventions: images ``(B, 3, H, W)`` float RGB in [0, 1]; depth maps ``(B, 1, H, W)`` in [0, 1]
(the depth network's sigmoid *disparity*: larger = nearer, as the official code feeds it to
stage 2); keypoints ``(B, K, 2)`` normalised ``(x, y)`` in [-1, 1]; Jacobians ``(B, K, 2, 2)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from talkzoo.errors import ConfigError
from talkzoo.nn.detail import resize_square

from talkzoo_dagan.layers import (
    ConvELU,
    DownBlock2d,
    Hourglass,
    ResBlock2d,
    SameBlock2d,
    UpBlock2d,
    kp_to_gaussian,
    make_coordinate_grid,
)

__all__ = [
    "CrossModalAttention",
    "DaGANGenerator",
    "DenseMotionNetwork",
    "DepthDecoder",
    "Discriminator",
    "FaceDepthNet",
    "KeypointDetector",
    "PoseNet",
    "ResNetEncoder",
    "resize",
]


#: Anti-aliased bilinear resize of ``(B, C, H, W)`` to ``(B, C, size, size)`` (the core's one resize).
resize = resize_square


# ==================================================================================== stage 1
class ResNetEncoder(nn.Module):
    """ResNet encoder without the pooling and FC layers (DaGAN A.2: "a ResNet18 network without the
    final fully connected and pooling layers"), torchvision architecture, random initialisation.

    Args:
        num_layers: 18 (the paper) or 50 (the official code's released depth model).
        num_images: frames stacked on channels (1 for F_d, 2 for the pose network F_p); the first
            convolution takes ``3 * num_images`` channels.

    Forward: ``(B, 3*num_images, H, W)`` in [0, 1] (H, W divisible by 32) → five maps at strides 2,
    4, 8, 16, 32 with :attr:`channels` (64, 64, 128, 256, 512 for ResNet-18; 64, 256, 512, 1024,
    2048 for ResNet-50). Input normalised as ``(x - 0.45) / 0.225`` (Monodepth2's convention).

    Raises:
        ConfigError: ``num_layers`` not 18 or 50.
    """

    def __init__(self, num_layers: int = 18, num_images: int = 1) -> None:
        super().__init__()
        if num_layers not in (18, 50):
            raise ConfigError(f"depth encoder: num_layers must be 18 (paper) or 50 (official code), got {num_layers}")
        net = torchvision.models.resnet18(weights=None) if num_layers == 18 else torchvision.models.resnet50(weights=None)
        if num_images != 1:
            net.conv1 = nn.Conv2d(3 * num_images, 64, 7, stride=2, padding=3, bias=False)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu)
        self.pool = net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.channels = (64, 64, 128, 256, 512) if num_layers == 18 else (64, 256, 512, 1024, 2048)

    def forward(self, x: Tensor) -> list[Tensor]:
        h0 = self.stem((x - 0.45) / 0.225)
        h1 = self.layer1(self.pool(h0))
        h2 = self.layer2(h1)
        h3 = self.layer3(h2)
        return [h0, h1, h2, h3, self.layer4(h3)]


class DepthDecoder(nn.Module):
    """U-Net disparity decoder (Monodepth2 design; DaGAN Fig. 11a is not in the text).

    Five levels, widths ``channels`` (16, 32, 64, 128, 256) from fine to coarse; each level: ConvELU,
    nearest ×2 upsampling, concatenation with the encoder skip, ConvELU; a sigmoid 3×3 head at each
    of ``scales`` (0 = full resolution). Returns ``{s: (B, 1, H/2^s, W/2^s)}`` disparity in (0, 1).
    """

    def __init__(self, enc_channels: Sequence[int], channels: Sequence[int] = (16, 32, 64, 128, 256),
                 scales: Sequence[int] = (0, 1, 2, 3)) -> None:
        super().__init__()
        self.scales = tuple(int(s) for s in scales)
        if any(s not in range(4) for s in self.scales) or not self.scales:
            raise ConfigError(f"depth decoder scales must be a non-empty subset of 0..3, got {list(scales)}")
        self.conv_a = nn.ModuleList()
        self.conv_b = nn.ModuleList()
        for i in range(5):
            cin = enc_channels[-1] if i == 4 else channels[i + 1]
            self.conv_a.append(ConvELU(cin, channels[i]))
            skip = enc_channels[i - 1] if i > 0 else 0
            self.conv_b.append(ConvELU(channels[i] + skip, channels[i]))
        self.heads = nn.ModuleDict({str(s): ConvELU(channels[s], 1, activation=False) for s in self.scales})

    def forward(self, feats: list[Tensor]) -> dict[int, Tensor]:
        h = feats[-1]
        out: dict[int, Tensor] = {}
        for i in range(4, -1, -1):
            h = F.interpolate(self.conv_a[i](h), scale_factor=2, mode="nearest")
            if i > 0:
                h = torch.cat([h, feats[i - 1]], dim=1)
            h = self.conv_b[i](h)
            if i in self.scales:
                out[i] = torch.sigmoid(self.heads[str(i)](h))
        return out


class FaceDepthNet(nn.Module):
    """The face depth network F_d (DaGAN Eq. 1): image → disparity maps.

    Forward: ``(B, 3, H, W)`` in [0, 1], H and W divisible by 32 → ``{scale: (B, 1, H/2^s, W/2^s)}``
    sigmoid disparity. :meth:`depth_map` returns scale 0, the map stage 2 consumes.
    """

    def __init__(self, num_layers: int = 18, scales: Sequence[int] = (0, 1, 2, 3)) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(num_layers, 1)
        self.decoder = DepthDecoder(self.encoder.channels, scales=tuple(sorted(set(scales) | {0})))

    def forward(self, image: Tensor) -> dict[int, Tensor]:
        return self.decoder(self.encoder(image))

    def depth_map(self, image: Tensor) -> Tensor:
        """``(B, 1, H, W)`` disparity in (0, 1) at full resolution (larger = nearer)."""
        return self.decoder(self.encoder(image))[0]


class PoseNet(nn.Module):
    """The pose network F_p (DaGAN Eq. 2): two frames → relative pose and per-pair intrinsics.

    A ResNet encoder on the two frames stacked on channels, then a small conv decoder: 1×1 squeeze
    to 256, two 3×3 convs with ReLU, a 1×1 conv to 6 numbers averaged over positions (axis-angle
    and translation, scaled by 0.01 as Monodepth2 does), and two intrinsics heads.

    Intrinsics (ours: the paper only says K is learned per input clip): ``f = softplus(a) * W`` for
    the two focal lengths and ``c = (0.5 + 0.1 tanh(b)) * W`` for the principal point, in pixels
    of the frame size ``W`` (square frames).

    Forward: ``(B, 3, H, W)`` target and source frames → ``(axis_angle (B, 3), translation (B, 3),
    K (B, 3, 3))``.
    """

    def __init__(self, num_layers: int = 18) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(num_layers, 2)
        c = self.encoder.channels[-1]
        self.squeeze = nn.Conv2d(c, 256, 1)
        self.convs = nn.Sequential(nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU())
        self.pose = nn.Conv2d(256, 6, 1)
        self.focal = nn.Conv2d(256, 2, 3, padding=1)
        self.centre = nn.Conv2d(256, 2, 3, padding=1)

    def forward(self, target: Tensor, source: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        feat = self.convs(F.relu(self.squeeze(self.encoder(torch.cat([target, source], 1))[-1])))
        pose = 0.01 * self.pose(feat).mean((2, 3))
        size = float(target.shape[-1])
        focal = F.softplus(self.focal(feat).mean((2, 3))) * size
        centre = (0.5 + 0.1 * torch.tanh(self.centre(feat).mean((2, 3)))) * size
        k = torch.zeros(target.shape[0], 3, 3, device=target.device, dtype=target.dtype)
        k[:, 0, 0], k[:, 1, 1] = focal[:, 0], focal[:, 1]
        k[:, 0, 2], k[:, 1, 2], k[:, 2, 2] = centre[:, 0], centre[:, 1], 1.0
        return pose[:, :3], pose[:, 3:], k


# ==================================================================================== stage 2
class KeypointDetector(nn.Module):
    """Depth-guided keypoint detector F_kp (DaGAN Eq. 6, §3.3): RGB-D image → K keypoints.

    The input (``3 + use_depth`` channels) is downsampled by ``scale_factor`` (anti-aliased), passed
    through an :class:`~talkzoo_dagan.layers.Hourglass`, and a 7×7 conv gives K heatmaps; a spatial
    softmax with ``temperature`` turns each into a keypoint (its expected coordinate). With
    ``estimate_jacobian`` (official code, FOMM; the paper has none) a second 7×7 head gives a 2×2
    Jacobian per keypoint, initialised to the identity.

    Forward: ``(B, C, H, W)`` → ``{"value": (B, K, 2), "jacobian": (B, K, 2, 2)}`` (jacobian only
    when estimated). The heads use zero padding 3 so the heatmap grid is the image grid (ours; the
    official code crops 3 pixels on each side).
    """

    def __init__(self, num_kp: int = 15, in_channels: int = 4, block_expansion: int = 32, num_blocks: int = 5,
                 max_features: int = 1024, temperature: float = 0.1, scale_factor: float = 0.25,
                 estimate_jacobian: bool = False) -> None:
        super().__init__()
        self.num_kp, self.temperature, self.scale_factor = num_kp, temperature, scale_factor
        self.hourglass = Hourglass(in_channels, block_expansion, num_blocks, max_features)
        self.kp = nn.Conv2d(self.hourglass.out_channels, num_kp, 7, padding=3)
        self.jacobian = None
        if estimate_jacobian:
            self.jacobian = nn.Conv2d(self.hourglass.out_channels, 4 * num_kp, 7, padding=3)
            nn.init.zeros_(self.jacobian.weight)
            with torch.no_grad():
                self.jacobian.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(num_kp))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        if self.scale_factor != 1:
            x = F.interpolate(x, scale_factor=self.scale_factor, mode="bilinear", align_corners=False, antialias=True)
        feat = self.hourglass(x)
        logits = self.kp(feat)
        b, k, h, w = logits.shape
        heat = F.softmax(logits.flatten(2) / self.temperature, dim=-1).view(b, k, h, w)
        grid = make_coordinate_grid(h, w, x.device, x.dtype)
        out = {"value": (heat[..., None] * grid).sum((2, 3))}
        if self.jacobian is not None:
            jac = self.jacobian(feat).view(b, k, 4, h, w)
            out["jacobian"] = (jac * heat[:, :, None]).sum((3, 4)).view(b, k, 2, 2)
        return out


class DenseMotionNetwork(nn.Module):
    """Feature-warping motion estimator (DaGAN §3.3 Eq. 7-8, FOMM's design): keypoints → dense flow,
    motion masks M_m and occlusion map M_o.

    On the source downsampled by ``scale_factor``: K+1 sparse motions (identity for the background,
    ``z - x_d,k + x_s,k`` per keypoint — Eq. 7's offsets added to the coordinate map; with Jacobians
    ``x_s + J_s J_d^-1 (z - x_d)``), the source warped by each, and Gaussian heatmap differences
    ``G(x_d) - G(x_s)`` go into an hourglass; a 7×7 conv + softmax gives the K+1 masks M_m and the
    dense flow ``sum_k M_m,k T_k``; a 7×7 conv + sigmoid gives M_o ("two heads at the end").

    Forward(source (B, 3, H, W), kp_source, kp_driving dicts) → ``{"deformation": (B, h, w, 2)
    sampling grid, "mask": (B, K+1, h, w), "occlusion": (B, 1, h, w), "sparse_deformed":
    (B, K+1, 3, h, w)}`` with ``h = H * scale_factor``.
    """

    def __init__(self, num_kp: int = 15, block_expansion: int = 64, num_blocks: int = 5, max_features: int = 1024,
                 scale_factor: float = 0.25, kp_variance: float = 0.01, estimate_occlusion: bool = True) -> None:
        super().__init__()
        self.num_kp, self.scale_factor, self.kp_variance = num_kp, scale_factor, kp_variance
        self.hourglass = Hourglass((num_kp + 1) * 4, block_expansion, num_blocks, max_features)
        self.mask = nn.Conv2d(self.hourglass.out_channels, num_kp + 1, 7, padding=3)
        self.occlusion = nn.Conv2d(self.hourglass.out_channels, 1, 7, padding=3) if estimate_occlusion else None

    def sparse_motion(self, h: int, w: int, kp_source: dict, kp_driving: dict) -> Tensor:
        """``(B, K+1, h, w, 2)`` sampling grids: background identity, then one per keypoint."""
        src, drv = kp_source["value"], kp_driving["value"]
        grid = make_coordinate_grid(h, w, src.device, src.dtype)
        rel = grid[None, None] - drv[:, :, None, None, :]  # z - x_d
        if "jacobian" in kp_driving and "jacobian" in kp_source:
            jac = kp_source["jacobian"] @ torch.inverse(kp_driving["jacobian"])
            rel = torch.einsum("bkij,bkhwj->bkhwi", jac, rel)
        motions = rel + src[:, :, None, None, :]
        bg = grid[None, None].expand(src.shape[0], 1, h, w, 2)
        return torch.cat([bg, motions], dim=1)

    def forward(self, source: Tensor, kp_source: dict, kp_driving: dict) -> dict[str, Tensor]:
        if self.scale_factor != 1:
            source = F.interpolate(source, scale_factor=self.scale_factor, mode="bilinear", align_corners=False, antialias=True)
        b, c, h, w = source.shape
        k1 = self.num_kp + 1
        heat = kp_to_gaussian(kp_driving["value"], h, w, self.kp_variance) - kp_to_gaussian(kp_source["value"], h, w, self.kp_variance)
        heat = torch.cat([heat.new_zeros(b, 1, h, w), heat], dim=1)
        motion = self.sparse_motion(h, w, kp_source, kp_driving)
        rep = source[:, None].expand(b, k1, c, h, w).reshape(b * k1, c, h, w)
        deformed = F.grid_sample(rep, motion.reshape(b * k1, h, w, 2), align_corners=True).view(b, k1, c, h, w)
        feat = self.hourglass(torch.cat([heat[:, :, None], deformed], dim=2).view(b, k1 * (c + 1), h, w))
        mask = F.softmax(self.mask(feat), dim=1)
        deformation = (mask[..., None] * motion).sum(1)
        out = {"deformation": deformation, "mask": mask, "sparse_deformed": deformed}
        if self.occlusion is not None:
            out["occlusion"] = torch.sigmoid(self.occlusion(feat))
        return out


class CrossModalAttention(nn.Module):
    """Depth-guided cross-modal attention (CAM, DaGAN §3.4, Eq. 9).

    ``F_g = Softmax((W_q F_d)(W_k F_w)^T) (W_v F_w)`` over all ``N = h·w`` positions, with three
    separate 1×1 convolutions (query ``in_dim → qk_dim`` from the depth feature F_d, key
    ``in_dim → qk_dim`` and value ``in_dim → in_dim`` from the warped RGB feature F_w). No
    ``1/sqrt(d)`` scaling (none in Eq. 9). Computed with ``scaled_dot_product_attention`` (no
    N×N matrix is materialised by the memory-efficient kernels).

    Args:
        in_dim: channels of F_w and F_d. qk_dim: query/key channels (default ``in_dim // 8``,
            official code). query: ``"depth"`` (the paper) or ``"rgb"`` (Table 4 "Ours (SA)":
            self-attention, depth unused). residual: output ``gamma * attention + F_w`` with a
            learnable gamma initialised to 0 (official code; the paper has no residual).
            relu: ReLU on q, k, v (official code; not in the paper).

    Forward: ``warped (B, C, h, w)``, ``depth_feat (B, C, h, w)`` (ignored for ``query="rgb"``) →
    ``(B, C, h, w)``. ``return_attention=True`` also returns the ``(B, N, N)`` attention map
    (materialised; small inputs only).
    """

    def __init__(self, in_dim: int, qk_dim: int | None = None, query: str = "depth", residual: bool = False,
                 relu: bool = False) -> None:
        super().__init__()
        if query not in ("depth", "rgb"):
            raise ConfigError(f"cross-modal attention query must be 'depth' (paper) or 'rgb' (SA ablation), got {query!r}")
        qk = qk_dim or max(1, in_dim // 8)
        self.query_from = query
        self.w_q, self.w_k = nn.Conv2d(in_dim, qk, 1), nn.Conv2d(in_dim, qk, 1)
        self.w_v = nn.Conv2d(in_dim, in_dim, 1)
        self.relu = relu
        self.gamma = nn.Parameter(torch.zeros(1)) if residual else None

    def forward(self, warped: Tensor, depth_feat: Tensor | None = None, return_attention: bool = False):
        if self.query_from == "depth":
            if depth_feat is None:
                raise ConfigError("cross-modal attention with query='depth' needs the depth feature")
            q_in = depth_feat
        else:
            q_in = warped
        q, k, v = self.w_q(q_in), self.w_k(warped), self.w_v(warped)
        if self.relu:
            q, k, v = F.relu(q), F.relu(k), F.relu(v)
        b, c, h, w = v.shape
        qs, ks, vs = (t.flatten(2).transpose(1, 2)[:, None] for t in (q, k, v))  # (B, 1, N, C)
        out = F.scaled_dot_product_attention(qs, ks, vs, scale=1.0)[:, 0].transpose(1, 2).reshape(b, c, h, w)
        if self.gamma is not None:
            out = self.gamma * out + warped
        if return_attention:
            attn = torch.softmax(qs[:, 0] @ ks[:, 0].transpose(1, 2), dim=-1)
            return out, attn
        return out


class DaGANGenerator(nn.Module):
    """DaGAN's generator (§3.3-3.4): E_I, dense motion + occlusion, E_d, CAM, decoder.

    ``F_w = M_o * W(E_I(I_s), M_m w_m)`` (Eq. 8); ``F_g = CAM(F_w, E_d(D_s))`` (Eq. 9); decoder =
    ``num_bottleneck`` :class:`ResBlock2d`, ``num_down`` :class:`UpBlock2d`, 7×7 conv, sigmoid
    (FOMM's decoder, §4.2). E_I: 7×7 :class:`SameBlock2d` then ``num_down`` DownBlocks ("we only
    apply two DownBlocks"); E_d has the same structure on the 1-channel depth map.

    Args:
        num_kp, block_expansion (64), max_features (512), num_down (2), num_bottleneck (6),
        dense_*: :class:`DenseMotionNetwork` settings; kp_variance; use_cam; cam_query,
        cam_residual, cam_relu: :class:`CrossModalAttention`.

    Forward: see :meth:`encode_source` (once per source) and :meth:`decode` (per driving frame);
    ``forward(source, kp_source, kp_driving, depth_source)`` does both and returns
    ``{"prediction": (B, 3, H, W) in [0, 1], "mask", "occlusion", "deformed": (B, 3, H', W'),
    "deformation": (B, H', W', 2) sampling grid}``.
    """

    def __init__(self, num_kp: int = 15, block_expansion: int = 64, max_features: int = 512, num_down: int = 2,
                 num_bottleneck: int = 6, dense_block_expansion: int = 64, dense_num_blocks: int = 5,
                 dense_max_features: int = 1024, dense_scale_factor: float = 0.25, kp_variance: float = 0.01,
                 use_cam: bool = True, cam_query: str = "depth", cam_residual: bool = False, cam_relu: bool = False) -> None:
        super().__init__()
        self.dense_motion = DenseMotionNetwork(num_kp, dense_block_expansion, dense_num_blocks, dense_max_features,
                                               dense_scale_factor, kp_variance)
        widths = [min(max_features, block_expansion * 2**i) for i in range(num_down + 1)]
        self.first = SameBlock2d(3, widths[0], 7)
        self.down = nn.ModuleList(DownBlock2d(widths[i], widths[i + 1]) for i in range(num_down))
        self.use_cam = use_cam
        self.cam_query = cam_query
        if use_cam and cam_query == "depth":
            self.depth_first = SameBlock2d(1, widths[0], 7)
            self.depth_down = nn.ModuleList(DownBlock2d(widths[i], widths[i + 1]) for i in range(num_down))
        self.cam = CrossModalAttention(widths[-1], query=cam_query, residual=cam_residual, relu=cam_relu) if use_cam else None
        self.bottleneck = nn.Sequential(*[ResBlock2d(widths[-1]) for _ in range(num_bottleneck)])
        self.up = nn.ModuleList(UpBlock2d(widths[i + 1], widths[i]) for i in reversed(range(num_down)))
        self.final = nn.Conv2d(widths[0], 3, 7, padding=3)

    @property
    def needs_depth(self) -> bool:
        """Whether :meth:`encode_source` uses the source depth map (CAM with a depth query)."""
        return self.use_cam and self.cam_query == "depth"

    def encode_source(self, source: Tensor, depth_source: Tensor | None) -> dict[str, Tensor]:
        """Per-source state: ``{"source", "feature": E_I(I_s), "depth_feature": E_d(D_s) or absent}``."""
        h = self.first(source)
        for block in self.down:
            h = block(h)
        state = {"source": source, "feature": h}
        if self.needs_depth:
            if depth_source is None:
                raise ConfigError("DaGAN generator: the cross-modal attention needs the source depth map")
            d = self.depth_first(depth_source)
            for block in self.depth_down:
                d = block(d)
            state["depth_feature"] = d
        return state

    def decode(self, state: dict[str, Tensor], kp_source: dict, kp_driving: dict) -> dict[str, Tensor]:
        """Warp, attend and decode one driving pose per batch item (state from :meth:`encode_source`)."""
        motion = self.dense_motion(state["source"], kp_source, kp_driving)
        feat = state["feature"]
        h, w = feat.shape[-2:]
        deformation = motion["deformation"]
        if deformation.shape[1:3] != (h, w):
            deformation = F.interpolate(deformation.permute(0, 3, 1, 2), size=(h, w), mode="bilinear",
                                        align_corners=True).permute(0, 2, 3, 1)
        warped = F.grid_sample(feat, deformation, align_corners=True)
        occlusion = motion.get("occlusion")
        if occlusion is not None:
            if occlusion.shape[-2:] != (h, w):
                occlusion = F.interpolate(occlusion, size=(h, w), mode="bilinear", align_corners=False)
            warped = warped * occlusion
        out = self.cam(warped, state.get("depth_feature")) if self.cam is not None else warped
        out = self.bottleneck(out)
        for block in self.up:
            out = block(out)
        prediction = torch.sigmoid(self.final(out))
        deformed = F.grid_sample(state["source"], motion["deformation"], align_corners=True)
        return {"prediction": prediction, "mask": motion["mask"], "occlusion": occlusion, "deformed": deformed,
                "deformation": motion["deformation"]}

    def forward(self, source: Tensor, kp_source: dict, kp_driving: dict, depth_source: Tensor | None = None) -> dict[str, Tensor]:
        return self.decode(self.encode_source(source, depth_source), kp_source, kp_driving)


class Discriminator(nn.Module):
    """Single-scale patch discriminator (DaGAN A.1/A.2, "inspired by FOMM").

    ``num_blocks`` blocks of conv 4×4 (no padding) → InstanceNorm (affine; not on the first block)
    → LeakyReLU 0.2 → AvgPool 2 (not on the last), widths ``min(max_features, expansion·2^i)``,
    then a 1×1 conv to a 1-channel prediction map (26×26 at 256 px: "512 × 26 × 26" is the last
    feature map). With ``use_kp`` (official code, not the paper) Gaussian heatmaps of the
    detached driving keypoints are concatenated to the image.

    Forward: ``image (B, 3, H, W)``, optional ``kp (B, K, 2)`` → ``(features: list of
    (B, C_i, h_i, w_i), prediction (B, 1, h, w))``. No output activation (LSGAN).
    """

    def __init__(self, num_kp: int = 15, block_expansion: int = 64, num_blocks: int = 4, max_features: int = 512,
                 use_kp: bool = True, kp_variance: float = 0.01) -> None:
        super().__init__()
        self.use_kp, self.kp_variance = use_kp, kp_variance
        cin = 3 + (num_kp if use_kp else 0)
        blocks = []
        for i in range(num_blocks):
            cout = min(max_features, block_expansion * 2**i)
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4)]
            if i > 0:
                layers.append(nn.InstanceNorm2d(cout, affine=True))
            layers.append(nn.LeakyReLU(0.2))
            if i < num_blocks - 1:
                layers.append(nn.AvgPool2d(2))
            blocks.append(nn.Sequential(*layers))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(cin, 1, 1)

    def forward(self, image: Tensor, kp: Tensor | None = None) -> tuple[list[Tensor], Tensor]:
        h = image
        if self.use_kp:
            if kp is None:
                raise ConfigError("DaGAN discriminator with use_kp=True needs the driving keypoints")
            h = torch.cat([h, kp_to_gaussian(kp.detach(), h.shape[-2], h.shape[-1], self.kp_variance)], dim=1)
        feats = []
        for block in self.blocks:
            h = block(h)
            feats.append(h)
        return feats, self.head(h)
