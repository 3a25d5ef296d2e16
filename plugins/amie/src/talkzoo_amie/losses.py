"""AMIE's objectives (arXiv 1812.06589v2 §3.2-3.4, Eq. 6-13) and the attention-rate schedule (§3.3).

All functions are pure (no module state). Shapes: ``N`` pairs or images.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from talkzoo.errors import ConfigError

__all__ = [
    "js_mi",
    "dv_mi",
    "mi_lower_bound",
    "shuffle_indices",
    "d_loss",
    "g_adversarial_loss",
    "perceptual_loss",
    "lip_l1",
    "attention_rate_range",
    "sample_attention_rate",
    "attend_identity",
]


def js_mi(t_joint: Tensor, t_marginal: Tensor) -> Tensor:
    """Jensen-Shannon MI estimate (Eq. 7-8): ``E_joint[-ϕ(-T)] - E_marginal[ϕ(T)]``, ``ϕ = softplus``.

    Args:
        t_joint: ``(N,)`` statistics T_θ(f_i, a_i) on matched pairs.
        t_marginal: ``(M,)`` statistics T_θ(f_j, a_k) on pairs drawn from the product of marginals.

    Returns:
        Scalar (nats-like units of the JS bound; ``-2 log 2`` for an uninformative T = 0). The
        estimator step maximises it on real pairs (``L_T = -js_mi``); the generator's ``L_mi`` of
        Eq. 12 is ``-js_mi`` on generated pairs with θ fixed.
    """
    return (-F.softplus(-t_joint)).mean() - F.softplus(t_marginal).mean()


def dv_mi(t_joint: Tensor, t_marginal: Tensor) -> Tensor:
    """Donsker-Varadhan (MINE) MI estimate (Eq. 6): ``E_joint[T] - log E_marginal[e^T]``.

    ``log E[e^T]`` is computed as ``logsumexp(T) - log M`` (stable). Returns a scalar in nats (a lower
    bound of I(X; Y) when T_θ is at the supremum). The MINE ablation rows of Table 3 use it.
    """
    return t_joint.mean() - (torch.logsumexp(t_marginal, dim=0) - math.log(t_marginal.numel()))


def mi_lower_bound(kind: str, t_joint: Tensor, t_marginal: Tensor) -> Tensor:
    """``js_mi`` (``kind="js"``) or ``dv_mi`` (``"dv"``). Raises ConfigError for another kind."""
    if kind == "js":
        return js_mi(t_joint, t_marginal)
    if kind == "dv":
        return dv_mi(t_joint, t_marginal)
    raise ConfigError(f"mi estimator must be 'js' or 'dv', got {kind!r}")


def shuffle_indices(n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
    """A derangement of ``0..n-1`` (no index maps to itself): a cyclic shift by a random ``1..n-1``.

    Pairs ``(f_j, a_{π(j)})`` are the "marginal" samples of Eq. 7 ("j and k are random sampled from
    1 ∼ n"); ``j ≠ k`` is enforced (our choice; the text is silent), and the pool is every frame of
    the batch, so a shuffled pair may join two clips. ``n < 2`` raises ConfigError.
    """
    if n < 2:
        raise ConfigError(f"the MI estimator needs at least 2 (frame, audio) pairs per step to shuffle, got {n}")
    shift = int(torch.randint(1, n, (1,), generator=generator).item())
    return (torch.arange(n, device=device) + shift) % n


def d_loss(real: Tensor, fake: Tensor, mismatched: Tensor | None = None) -> Tensor:
    """Discriminator side of Eq. 9 with logits: ``-log D(f, a) - log(1 - D(f̂, a))`` (binary cross-entropy).

    Args:
        real: ``(N,)`` logits on real matched pairs (target 1).
        fake: ``(N,)`` logits on generated pairs (target 0).
        mismatched: optional ``(M,)`` logits on real frames with another frame's audio (target 0;
            D judges whether "the inputs (audio and frame) are matched", so a real but unmatched pair
            is a negative — our choice, the text does not say which negatives it used). Averaged with
            ``fake`` so the negative side keeps one unit of weight.
    """
    pos = F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
    neg = F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if mismatched is not None:
        neg = 0.5 * (neg + F.binary_cross_entropy_with_logits(mismatched, torch.zeros_like(mismatched)))
    return pos + neg


def g_adversarial_loss(fake: Tensor) -> Tensor:
    """Generator side of Eq. 9, non-saturating: ``-log D(f̂, a)`` (the standard practice; the text
    writes the minimax form and does not say which it used)."""
    return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


def perceptual_loss(features: nn.Module, fake: Tensor, real: Tensor, distance: str = "mse") -> Tensor:
    """Eq. 10, ``L_perc = ||φ(f) - φ(f̂)||²``: mean squared difference of each feature layer of ``φ``
    (:class:`talkzoo.nn.perceptual.VGG19Features`), summed over layers.

    Args:
        features: ``(N, 3, H, W) [0, 1] -> list of (N, C_l, H_l, W_l)``.
        fake, real: ``(N, 3, H, W)`` float in [0, 1]; the real side carries no gradient.
        distance: ``"mse"`` (Eq. 10, Johnson et al.) or ``"l1"``.

    Returns:
        Scalar; per-element mean per layer (independent of the resolution), summed over layers.
    """
    if distance not in ("mse", "l1"):
        raise ConfigError(f"perceptual distance must be 'mse' or 'l1', got {distance!r}")
    f_feats = features(fake)
    with torch.no_grad():
        r_feats = features(real)
    total = fake.new_zeros(())
    for a, b in zip(f_feats, r_feats):
        diff = a - b.detach()
        total = total + (diff.square().mean() if distance == "mse" else diff.abs().mean())
    return total


def lip_l1(fake: Tensor, real: Tensor, boxes: Tensor, size: Sequence[int] = (32, 48)) -> Tensor:
    """Eq. 11, ``L_lip = ||corp(f) - corp(f̂)||_1``: L1 between lip crops, each resized to ``size``.

    Args:
        fake, real: ``(N, 3, H, W)`` float.
        boxes: ``(N, 4)`` float ``x0, y0, x1, y1`` pixel boxes of the lips (one per image).
        size: crop ``(height, width)`` in pixels (ours: 32 x 48, the mouth's aspect).

    Returns:
        Scalar mean absolute difference over the crops (bilinear ``roi_align``, differentiable).
    """
    from torchvision.ops import roi_align

    rois = torch.cat([torch.arange(len(boxes), device=boxes.device, dtype=boxes.dtype)[:, None], boxes], dim=1)
    out_size = (int(size[0]), int(size[1]))
    a = roi_align(fake, rois.to(fake.dtype), out_size, aligned=True)
    b = roi_align(real, rois.to(real.dtype), out_size, aligned=True)
    return (a - b).abs().mean()


def attention_rate_range(epoch: int, phase_epochs: Sequence[int], high: Sequence[float], low: Sequence[float]) -> tuple[float, float]:
    """The attention rate's range at ``epoch`` (§3.3: "we start from relatively high attention (rate =
    0.7∼0.9), and progressively decrease it to relatively low attention (rate = 0.1∼0.3), then we fix
    the rate to 1 for the last few epochs").

    Args:
        epoch: 0-based training epoch.
        phase_epochs: ``(e1, e2)``: epochs ``< e1`` use ``high``; epochs ``e1 .. e1+e2-1`` move the
            range linearly from ``high`` to ``low`` (reaching ``low`` in the last of them); epochs
            ``>= e1 + e2`` use rate 1 (the phase lengths are ours; the text gives none).
        high, low: ``(min, max)`` ranges.

    Returns:
        ``(min, max)``; ``(1.0, 1.0)`` in the last phase.
    """
    e1, e2 = int(phase_epochs[0]), int(phase_epochs[1])
    if epoch < e1:
        return float(high[0]), float(high[1])
    if epoch < e1 + e2:
        w = (epoch - e1 + 1) / e2
        return (float(high[0] + w * (low[0] - high[0])), float(high[1] + w * (low[1] - high[1])))
    return 1.0, 1.0


def sample_attention_rate(rng: random.Random, epoch: int, phase_epochs: Sequence[int], high: Sequence[float],
                          low: Sequence[float]) -> float:
    """One rate drawn uniformly from :func:`attention_rate_range` (one per training step; ours)."""
    lo, hi = attention_rate_range(epoch, phase_epochs, high, low)
    return lo if hi <= lo else rng.uniform(lo, hi)


def attend_identity(identity: Tensor, mask: Tensor, rate: float | Tensor) -> Tensor:
    """Dynamic attention on the identity image: ``I_f' = I_f ⊙ (1 - M) + r · I_f ⊙ M``.

    Args:
        identity: ``(N, 3, H, W)``. mask: ``(N, 1, H, W)`` in [0, 1] (1 on the lips). rate: ``r`` in
            [0, 1] (a float or ``(N,)``); ``r = 1`` leaves the image unchanged, low ``r`` dims the lips
            so their shape must come from the previous frame and the audio (§3.3).
    """
    if isinstance(rate, Tensor):
        rate = rate.view(-1, 1, 1, 1)
    return identity * (1 - mask) + rate * identity * mask
