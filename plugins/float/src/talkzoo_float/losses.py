"""FLOAT's losses and the guidance rule.

Stage 1 (App. A, Eq. 17-21): L1, the VGG-19 pyramid perceptual loss (the shared
:class:`talkzoo.nn.perceptual.PerceptualPyramidLoss`), the facial-component perceptual loss
(:func:`component_perceptual_loss`, Eq. 17), non-saturating adversarial losses (Eq. 19-20) and
Gram feature-style matching (Eq. 21). Component masks and RoIs come from iBUG-68 landmarks
(:func:`component_masks`, :func:`component_boxes`): the paper uses BiSeNet mouth masks and FAN eye
boxes, neither shipped here (ours).

Stage 2 (§4.2, Eq. 11-13): :func:`flow_matching_losses`. Sampling (Eq. 14): :func:`incremental_cfg`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "component_masks",
    "component_boxes",
    "component_perceptual_loss",
    "gram_matrix",
    "feature_style_loss",
    "generator_adversarial",
    "discriminator_adversarial",
    "flow_matching_losses",
    "incremental_cfg",
]

#: iBUG-68 index ranges (0-based): right eye 36-41, left eye 42-47, outer lips 48-59.
RIGHT_EYE = tuple(range(36, 42))
LEFT_EYE = tuple(range(42, 48))
OUTER_LIPS = tuple(range(48, 60))


def _polygon_mask(points: Tensor, size: int) -> Tensor:
    """Fill polygons: ``points (N, P, 2)`` pixel coords (x, y) → ``(N, size, size)`` float {0, 1} (even-odd rule)."""
    coords = torch.arange(size, device=points.device, dtype=points.dtype) + 0.5
    px = coords[None, None, :].expand(1, size, size)  # x along columns
    py = coords[None, :, None].expand(1, size, size)
    inside = torch.zeros(points.shape[0], size, size, dtype=torch.bool, device=points.device)
    nxt = torch.roll(points, -1, dims=1)
    for k in range(points.shape[1]):
        x1, y1 = points[:, k, 0, None, None], points[:, k, 1, None, None]
        x2, y2 = nxt[:, k, 0, None, None], nxt[:, k, 1, None, None]
        crosses = (y1 > py) != (y2 > py)
        x_at = (x2 - x1) * (py - y1) / torch.where((y2 - y1).abs() < 1e-9, torch.full_like(y1, 1e-9), y2 - y1) + x1
        inside ^= crosses & (px < x_at)
    return inside.float()


def _box_mask(boxes: Tensor, size: int) -> Tensor:
    """``boxes (N, 4)`` (x0, y0, x1, y1) pixels → ``(N, size, size)`` float {0, 1}."""
    coords = torch.arange(size, device=boxes.device, dtype=boxes.dtype) + 0.5
    inx = (coords[None, :] >= boxes[:, 0:1]) & (coords[None, :] <= boxes[:, 2:3])  # (N, W)
    iny = (coords[None, :] >= boxes[:, 1:2]) & (coords[None, :] <= boxes[:, 3:4])  # (N, H)
    return (iny[:, :, None] & inx[:, None, :]).float()


def component_boxes(landmarks: Tensor, image_size: int, eye_size: float, lip_size: float) -> dict[str, Tensor]:
    """Square RoIs centred on each eye and the mouth (GFPGAN-style fixed sizes, scaled to the image).

    Args:
        landmarks: ``(N, 68, 2)`` iBUG-68 pixels of the image (x right, y down).
        image_size: image side in pixels (landmarks are in these pixels).
        eye_size, lip_size: RoI sides in pixels at this image size (GFPGAN: 80 and 120 at 512 px).

    Returns:
        ``{"right_eye", "left_eye", "mouth"}`` → ``(N, 4)`` boxes (x0, y0, x1, y1) in pixels.
    """
    out = {}
    for name, idx, side in (("right_eye", RIGHT_EYE, eye_size), ("left_eye", LEFT_EYE, eye_size), ("mouth", OUTER_LIPS, lip_size)):
        centre = landmarks[:, list(idx)].mean(dim=1)
        half = torch.full_like(centre[:, :1], side / 2)
        out[name] = torch.cat([centre - half, centre + half], dim=1)
    return out


def component_masks(landmarks: Tensor, image_size: int, eye_margin: float = 0.5) -> dict[str, Tensor]:
    """Binary component masks from landmarks (ours; the paper uses BiSeNet lips and FAN eye boxes).

    * ``eyes``: the bounding boxes of both eyes, widened by ``eye_margin`` of their size on each side;
    * ``mouth``: the filled outer-lip polygon (points 48-59).

    Args:
        landmarks: ``(N, 68, 2)`` pixels. image_size: mask side.

    Returns:
        ``{"eyes": (N, S, S), "mouth": (N, S, S)}`` float {0, 1}.
    """
    boxes = []
    for idx in (RIGHT_EYE, LEFT_EYE):
        pts = landmarks[:, list(idx)]
        lo, hi = pts.min(dim=1).values, pts.max(dim=1).values
        pad = (hi - lo).max(dim=1, keepdim=True).values * eye_margin
        boxes.append(torch.cat([lo - pad, hi + pad], dim=1))
    eyes = torch.maximum(_box_mask(boxes[0], image_size), _box_mask(boxes[1], image_size))
    mouth = _polygon_mask(landmarks[:, list(OUTER_LIPS)], image_size)
    return {"eyes": eyes, "mouth": mouth}


def component_perceptual_loss(fake_feats: list[Tensor], real_feats: list[Tensor], mask: Tensor) -> Tensor:
    """Eq. 17: ``Σ_i (1/|M_i|) ‖M_i ⊗ φ_i(D̂) − M_i ⊗ φ_i(D)‖_1`` over the feature maps given.

    The mask is resized (nearest) to each feature map; ``|M_i|`` counts its ones over the batch
    (times channels, so the term is a per-element mean inside the mask). Masks with no ones add 0.

    Args:
        fake_feats, real_feats: lists of ``(N, C_i, H_i, W_i)`` feature maps (real ones detached).
        mask: ``(N, H, W)`` float {0, 1}.

    Returns:
        Scalar tensor.
    """
    total = fake_feats[0].new_zeros(())
    for f, r in zip(fake_feats, real_feats):
        m = F.interpolate(mask[:, None], size=f.shape[-2:], mode="nearest")
        count = m.sum() * f.shape[1]
        if count > 0:
            total = total + ((f - r.detach()).abs() * m).sum() / count
    return total


def gram_matrix(x: Tensor) -> Tensor:
    """Gatys et al. Gram matrix ``(N, C, H, W) → (N, C, C)``, normalised by ``C·H·W``."""
    n, c, h, w = x.shape
    f = x.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def feature_style_loss(fake_feats: list[Tensor], real_feats: list[Tensor]) -> Tensor:
    """Eq. 21: ``Σ_k ‖Gram(ψ_k(D_x)) − Gram(ψ_k(D̂_x))‖_1`` (mean over entries) over discriminator features."""
    total = fake_feats[0].new_zeros(())
    for f, r in zip(fake_feats, real_feats):
        total = total + (gram_matrix(f) - gram_matrix(r.detach())).abs().mean()
    return total


def generator_adversarial(fake_logits: Tensor | list[Tensor]) -> Tensor:
    """Eq. 19-20, non-saturating: ``mean softplus(−D(D̂)) = −log σ(D(D̂))``, summed over scales."""
    logits = fake_logits if isinstance(fake_logits, list) else [fake_logits]
    return sum(F.softplus(-l).mean() for l in logits)


def discriminator_adversarial(real_logits: Tensor | list[Tensor], fake_logits: Tensor | list[Tensor]) -> Tensor:
    """Discriminator side (ours; StyleGAN2 logistic): ``softplus(−D(real)) + softplus(D(fake))``, summed over scales."""
    real = real_logits if isinstance(real_logits, list) else [real_logits]
    fake = fake_logits if isinstance(fake_logits, list) else [fake_logits]
    return sum(F.softplus(-r).mean() + F.softplus(f).mean() for r, f in zip(real, fake))


def _masked_l1(pred: Tensor, target: Tensor, mask: Tensor | None) -> Tensor:
    """Mean |pred − target| over ``(B, N, d)`` entries where ``mask (B, N)`` is True."""
    err = (pred - target).abs()
    if mask is None:
        return err.mean()
    m = mask[..., None].to(err.dtype)
    return (err * m).sum() / (m.sum() * err.shape[-1]).clamp(min=1)


def flow_matching_losses(
    prediction: Tensor,
    prefix_target: Tensor,
    velocity_target: Tensor,
    frame_mask: Tensor | None = None,
    prefix_weight: float = 1.0,
) -> dict[str, Tensor]:
    """Stage-2 objective (Eq. 11-12), L1 everywhere (§5.2), mean reduction (ours).

    Args:
        prediction: ``(B, L'+L, d)`` FMT output ``v_t``.
        prefix_target: ``(B, L', d)`` clean preceding latents ``w_{r→D^{-L':0}}``.
        velocity_target: ``(B, L, d)`` ``u_t = x_1 − x_0``.
        frame_mask: ``(B, L'+L)`` bool, True on real frames (None: all real).
        prefix_weight: weight of the prefix term inside ``L_OT`` (1 = Eq. 11; 0 = "no prefix" switch).

    Returns:
        ``{"velocity": ‖v^{1:L} − u‖, "prefix": ‖v^{-L':0} − w‖, "ot": velocity + prefix_weight·prefix,
        "temporal": ‖Δv − Δ[w | u]‖}`` (Eq. 12: the one-frame difference over the whole L'+L
        sequence, prefix/current boundary included, as written).
    """
    lp = prefix_target.shape[1]
    mask_prefix = None if frame_mask is None else frame_mask[:, :lp]
    mask_cur = None if frame_mask is None else frame_mask[:, lp:]
    velocity = _masked_l1(prediction[:, lp:], velocity_target, mask_cur)
    prefix = _masked_l1(prediction[:, :lp], prefix_target, mask_prefix) if lp else prediction.new_zeros(())
    target = torch.cat([prefix_target, velocity_target], dim=1)
    d_mask = None if frame_mask is None else frame_mask[:, 1:] & frame_mask[:, :-1]
    temporal = _masked_l1(prediction[:, 1:] - prediction[:, :-1], target[:, 1:] - target[:, :-1], d_mask) if target.shape[1] > 1 else prediction.new_zeros(())
    return {"velocity": velocity, "prefix": prefix, "ot": velocity + prefix_weight * prefix, "temporal": temporal}


def incremental_cfg(v_full: Tensor, v_audio: Tensor, v_uncond: Tensor, audio_scale: float, emotion_scale: float) -> Tensor:
    """Incremental classifier-free vector field (Eq. 14):

    ``ṽ = v(c|_{a,e}) + γ_a [v(c|_e) − v(c|_{a,e})] + γ_e [v(c) − v(c|_e)]`` where ``c|_x`` drops ``x``:
    ``v_uncond`` has audio and emotion dropped, ``v_audio`` only the emotion dropped, ``v_full`` none.
    Any matching shapes; returns the same shape. ``γ_a = γ_e = 1`` gives ``v_full``.
    """
    return v_uncond + audio_scale * (v_audio - v_uncond) + emotion_scale * (v_full - v_audio)
