"""DaGAN's losses and the stage-1 reprojection geometry.

Stage 1 (DaGAN §3.2, Eq. 1-5): pinhole reprojection of the target pixels with the predicted
depth, relative pose and learned intrinsics, bilinear resampling of the source frame, and the
photometric error ``α (1 - SSIM) + (1 - α) |·|`` with α = 0.8, plus Monodepth2's edge-aware
smoothness (the paper says it follows Monodepth2 [4]).

Stage 2 (Eq. 10-13): LSGAN and feature matching (A.1), keypoint equivariance (Eq. 12), keypoint
distance (Eq. 13, faithful and a differentiable surrogate). The pyramid perceptual loss (Eq. 11)
is :class:`talkzoo.nn.perceptual.PerceptualPyramidLoss`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from talkzoo.errors import ConfigError

from talkzoo_dagan.layers import RandomTPS, make_coordinate_grid

__all__ = [
    "axis_angle_to_matrix",
    "discriminator_lsgan_loss",
    "disparity_to_depth",
    "equivariance_loss",
    "feature_matching_loss",
    "generator_lsgan_loss",
    "jacobian_equivariance_loss",
    "keypoint_distance_loss",
    "photometric_error",
    "reprojection_grid",
    "smoothness_loss",
    "ssim_map",
]


# ==================================================================================== stage 1
def ssim_map(x: Tensor, y: Tensor, c1: float = 0.01**2, c2: float = 0.03**2) -> Tensor:
    """Per-pixel SSIM over 3×3 windows (reflection padding), as in Monodepth2.

    Args: ``x``, ``y``: ``(B, C, H, W)`` in [0, 1]. Returns ``(B, C, H, W)`` SSIM in [-1, 1].
    """
    x = F.pad(x, (1, 1, 1, 1), mode="reflect")
    y = F.pad(y, (1, 1, 1, 1), mode="reflect")
    mu_x, mu_y = F.avg_pool2d(x, 3, 1), F.avg_pool2d(y, 3, 1)
    sigma_x = F.avg_pool2d(x * x, 3, 1) - mu_x**2
    sigma_y = F.avg_pool2d(y * y, 3, 1) - mu_y**2
    sigma_xy = F.avg_pool2d(x * y, 3, 1) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sigma_x + sigma_y + c2)
    return num / den


def photometric_error(target: Tensor, warped: Tensor, alpha: float = 0.8) -> Tensor:
    """DaGAN Eq. 5: ``P_e = α (1 - SSIM(I, Ĩ)) + (1 - α) |I - Ĩ|``, per pixel, channel-averaged.

    Args: ``target``, ``warped``: ``(B, 3, H, W)`` in [0, 1]; ``alpha`` (paper 0.8).
    Returns ``(B, 1, H, W)``. The paper's form (Monodepth2's code halves ``1 - SSIM``).
    """
    l1 = (target - warped).abs().mean(1, keepdim=True)
    dssim = (1 - ssim_map(target, warped)).mean(1, keepdim=True)
    return alpha * dssim + (1 - alpha) * l1


def disparity_to_depth(disp: Tensor, min_depth: float = 0.1, max_depth: float = 100.0) -> Tensor:
    """Sigmoid disparity in [0, 1] → depth ``1 / (1/max + (1/min - 1/max) disp)`` in [min, max] (Monodepth2)."""
    lo, hi = 1.0 / max_depth, 1.0 / min_depth
    return 1.0 / (lo + (hi - lo) * disp)


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """Rodrigues' formula: ``(B, 3)`` axis-angle (radians) → ``(B, 3, 3)`` rotation matrices."""
    angle = axis_angle.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    axis = axis_angle / angle
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).view(-1, 3, 3)
    s, c = torch.sin(angle)[..., None], torch.cos(angle)[..., None]
    eye = torch.eye(3, device=axis_angle.device, dtype=axis_angle.dtype).expand_as(k)
    return eye + s * k + (1 - c) * (k @ k)


def reprojection_grid(depth: Tensor, intrinsics: Tensor, rotation: Tensor, translation: Tensor) -> Tensor:
    """DaGAN Eq. 3: ``q ~ K [R | t] D(p) K^-1 p`` for every target pixel p, as a sampling grid.

    Args:
        depth: ``(B, 1, H, W)`` positive depth of the target frame.
        intrinsics: ``(B, 3, 3)`` K in pixels of this H×W frame.
        rotation: ``(B, 3, 3)``; translation: ``(B, 3)`` (target camera → source camera).

    Returns:
        ``(B, H, W, 2)`` normalised (x, y) in [-1, 1] (``align_corners=True``) for
        ``grid_sample`` of the source frame (Eq. 4).
    """
    b, _, h, w = depth.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=depth.device, dtype=depth.dtype),
                            torch.arange(w, device=depth.device, dtype=depth.dtype), indexing="ij")
    pix = torch.stack([xs, ys, torch.ones_like(xs)], 0).view(1, 3, -1)
    rays = torch.linalg.solve(intrinsics, pix.expand(b, 3, h * w))
    points = rays * depth.view(b, 1, -1)
    cam = intrinsics @ (rotation @ points + translation[..., None])
    xy = cam[:, :2] / cam[:, 2:].clamp_min(1e-6)
    grid_x = xy[:, 0] / max(w - 1, 1) * 2 - 1
    grid_y = xy[:, 1] / max(h - 1, 1) * 2 - 1
    return torch.stack([grid_x, grid_y], -1).view(b, h, w, 2)


def smoothness_loss(disp: Tensor, image: Tensor) -> Tensor:
    """Edge-aware smoothness of mean-normalised disparity (Monodepth2): ``mean |∂d| e^{-|∂I|}``.

    Args: ``disp`` ``(B, 1, H, W)``; ``image`` ``(B, 3, H, W)`` of the same size. Returns a scalar.
    """
    d = disp / disp.mean((2, 3), keepdim=True).clamp_min(1e-7)
    dx, dy = (d[..., :, 1:] - d[..., :, :-1]).abs(), (d[..., 1:, :] - d[..., :-1, :]).abs()
    ix = (image[..., :, 1:] - image[..., :, :-1]).abs().mean(1, keepdim=True)
    iy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean(1, keepdim=True)
    return (dx * torch.exp(-ix)).mean() + (dy * torch.exp(-iy)).mean()


# ==================================================================================== stage 2
def generator_lsgan_loss(fake_prediction: Tensor) -> Tensor:
    """LSGAN generator term ``mean (1 - D(I_g))^2`` (Mao et al.; DaGAN A.1)."""
    return (1 - fake_prediction).pow(2).mean()


def discriminator_lsgan_loss(real_prediction: Tensor, fake_prediction: Tensor) -> Tensor:
    """LSGAN discriminator term ``mean (1 - D(I_d))^2 + mean D(I_g)^2`` (DaGAN A.1)."""
    return (1 - real_prediction).pow(2).mean() + fake_prediction.pow(2).mean()


def feature_matching_loss(real_feats: list[Tensor], fake_feats: list[Tensor], weights: tuple[float, ...]) -> Tensor:
    """pix2pixHD feature matching ``sum_l w_l mean |D_l(I_d) - D_l(I_g)|`` (real side detached).

    Raises: ConfigError when ``weights`` is not one per discriminator block.
    """
    if len(weights) != len(fake_feats):
        raise ConfigError(f"feature_matching_weights: {len(weights)} weights for {len(fake_feats)} discriminator blocks")
    total = fake_feats[0].new_zeros(())
    for w, r, f in zip(weights, real_feats, fake_feats):
        total = total + w * (r.detach() - f).abs().mean()
    return total


def equivariance_loss(kp: Tensor, kp_transformed: Tensor, transform: RandomTPS) -> Tensor:
    """DaGAN Eq. 12: ``|x - T(x_T)|`` — keypoints of ``T``-warped frame mapped back by ``T``.

    ``kp`` ``(B, K, 2)`` are the keypoints of the frame, ``kp_transformed`` those of
    ``transform.transform_frame(frame)``; with ``RandomTPS`` semantics a point ``p`` of the warped
    frame is ``T(p)`` of the original. Mean over batch, keypoints and coordinates (the official
    code's reduction; the paper prints a sum over keypoints). Zero for the identity transform.
    """
    return (kp - transform.warp_coordinates(kp_transformed)).abs().mean()


def jacobian_equivariance_loss(jac: Tensor, jac_transformed: Tensor, kp_transformed: Tensor, transform: RandomTPS) -> Tensor:
    """FOMM's Jacobian equivariance ``|I - J^-1 (∇T(x_T) J_T)|`` mean (official code only; not in the paper).

    Args: ``jac``, ``jac_transformed``: ``(B, K, 2, 2)``; ``kp_transformed`` ``(B, K, 2)``.
    """
    composed = transform.jacobian(kp_transformed) @ jac_transformed
    value = torch.inverse(jac) @ composed
    eye = torch.eye(2, device=jac.device, dtype=jac.dtype)
    return (eye - value).abs().mean()


def keypoint_distance_loss(kp: Tensor, alpha: float = 0.2, norm: str = "l1", mode: str = "faithful") -> Tensor:
    """DaGAN Eq. 13: keep keypoints apart.

    * ``mode="faithful"``: ``sum_{i≠j} (1 - sign(||x_i - x_j|| - α))`` as printed, averaged over the
      batch. ``sign`` has zero gradient almost everywhere, so this term trains nothing; it is
      logged (it counts close pairs, 2 per ordered pair closer than α).
    * ``mode="surrogate"`` (ours, a documented deviation): ``sum_{i≠j} relu(α - ||x_i - x_j||) / α``,
      which is 0 where the faithful term is 0 and pushes close pairs apart.

    Args:
        kp: ``(B, K, 2)`` normalised keypoints. alpha: distance threshold (paper 0.2).
        norm: ``"l1"`` (the paper's ``||·||_1``) or ``"l2"`` (the official code).

    Raises: ConfigError for an unknown ``norm`` or ``mode``.
    """
    diff = kp[:, :, None, :] - kp[:, None, :, :]
    if norm == "l1":
        dist = diff.abs().sum(-1)
    elif norm == "l2":
        dist = (diff.pow(2).sum(-1) + 1e-12).sqrt()
    else:
        raise ConfigError(f"kp_distance_norm must be 'l1' (paper) or 'l2' (official code), got {norm!r}")
    k = kp.shape[1]
    off_diag = ~torch.eye(k, dtype=torch.bool, device=kp.device)
    if mode == "faithful":
        value = 1 - torch.sign(dist - alpha)
    elif mode == "surrogate":
        value = F.relu(alpha - dist) / alpha
    else:
        raise ConfigError(f"kp_distance_mode must be 'faithful' (paper) or 'surrogate' (ours), got {mode!r}")
    return (value * off_diag).sum((1, 2)).mean()


def identity_grid_like(x: Tensor) -> Tensor:
    """``(B, H, W, 2)`` identity sampling grid for ``(B, C, H, W)``."""
    b, _, h, w = x.shape
    return make_coordinate_grid(h, w, x.device, x.dtype)[None].expand(b, h, w, 2)
