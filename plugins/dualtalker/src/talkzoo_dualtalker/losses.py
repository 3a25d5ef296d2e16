"""DualTalker's loss terms with padding masks (Sec. III-D/E/F, Eqs. 8–11).

Every function returns one value *per sequence* (shape ``(B,)``), computed only over that
sequence's real frames, so that a padded batch gives exactly the per-sequence values a batch of
one would give; the model averages them over the batch.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from talkzoo.nn.masked import masked_mean


def masked_mse(prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Per-sequence mean squared error (``L_Primal``, ``L_Dual`` of Sec. III-F).

    Args:
        prediction: ``(B, T, C)``.
        target: ``(B, T, C)``.
        mask: ``(B, T)`` bool real-frame mask.

    Returns:
        ``(B,)`` MSE over real frames and channels.
    """
    return masked_mean((prediction - target).pow(2), mask, dim=(1, 2))


def masked_smooth_l1(prediction: Tensor, target: Tensor, mask: Tensor, beta: float = 1.0) -> Tensor:
    """Per-sequence Smooth-L1 (Huber with threshold ``beta``), the duality regulariser's distance (Eq. 8).

    Args:
        prediction: ``(B, T, C)``.
        target: ``(B, T, C)``.
        mask: ``(B, T)`` bool real-frame mask.
        beta: switch point between the quadratic and linear parts (PyTorch's default 1.0; the
            paper does not give it).

    Returns:
        ``(B,)`` mean Smooth-L1 over real frames and channels.
    """
    return masked_mean(F.smooth_l1_loss(prediction, target, reduction="none", beta=beta), mask, dim=(1, 2))


def rbf_bandwidth(motion: Tensor, mask: Tensor) -> Tensor:
    """Median-heuristic RBF bandwidth per sequence: the median distance between distinct real frames.

    Args:
        motion: ``(B, T, F)`` ground-truth motion (flattened displacements, metres).
        mask: ``(B, T)`` bool real-frame mask.

    Returns:
        ``(B,)`` bandwidths ``σ`` (no gradient); ``1`` for sequences with fewer than two frames,
        and at least ``1e-12`` otherwise.
    """
    out = torch.ones(motion.shape[0], dtype=motion.dtype, device=motion.device)
    with torch.no_grad():
        for b in range(motion.shape[0]):
            frames = motion[b][mask[b]]
            n = frames.shape[0]
            if n < 2:
                continue
            dist = torch.cdist(frames.double(), frames.double())
            off = dist[~torch.eye(n, dtype=torch.bool, device=dist.device)]
            out[b] = off.median().clamp(min=1e-12).to(motion.dtype)
    return out


def consistency_loss(
    x: Tensor,
    y: Tensor,
    motion: Tensor,
    mask: Tensor,
    sigma: float | Tensor | None = None,
    temperature: float = 1.0,
    weighting: Literal["anchor", "kernel"] = "anchor",
    reduction: Literal["mean", "sum"] = "mean",
) -> Tensor:
    """Cross-modality consistency regularisation ``L_CCRL(X, Y)`` per sequence (Eqs. 9–10).

    For anchor frame ``k`` of a sequence, with cosine similarities ``s^inter_kt = cos(X_k, Y_t)``
    and ``s^intra_kt = cos(X_k, X_t)`` and RBF weights on the ground-truth motion
    ``w_kt = exp(-||M_k - M_t||² / (2σ²))``, the denominator is Eq. 10 as written (it excludes
    the anchor frame ``t = k``, so it holds no positive)::

        s'_k = Σ_{t≠k} exp(s^inter_kt (1 - w_kt) / τ) + exp(s^intra_kt (1 - w_kt) / τ)      (Eq. 10)

    Eq. 9, ``-(1/Σ_t w_t) Σ_k w_k log(exp(s^inter_k) / s')``, reuses ``k`` for the anchor and
    for the summed positive, so it has two readings (``weighting``):

    * ``"anchor"`` (literal): ``k`` is the anchor, ``w_k = w_kk = 1``; the only positive is the
      aligned pair ``(X_k, Y_k)`` and the kernel acts only through the repulsion ``(1 - w_kt)``
      and the normaliser::

          ℓ_k = -(1 / Σ_t w_kt) · log( exp(s^inter_kk / τ) / s'_k )

    * ``"kernel"`` (Barbano et al., ISBI 2023, the loss the paper builds on, and the prose "maps
      samples with a high degree of positiveness (w_t ∼ 1) close"): every frame ``j`` of the
      sequence is a positive of anchor ``k`` weighted by the kernel::

          ℓ_k = -(1 / Σ_t w_kt) · Σ_j w_kj · log( exp(s^inter_kj / τ) / s'_k )

      (the same ``s'_k`` for every ``j``: Eq. 10's ``t ≠ k`` read with ``k`` the anchor).

    The sequence value reduces the anchors' ``ℓ_k`` (``reduction``): ``"sum"`` is Eq. 9's
    ``Σ_k`` read literally (it grows with the number of frames ``T``, so a fixed ``λ4`` weighs
    longer sequences more); ``"mean"`` divides it by ``T`` (a per-frame value, independent of
    the sequence length). The paper gives no reduction over anchors beyond Eq. 9.

    Hand case (``tests/test_fidelity_ccrl.py``): ``T = 2``, ``X = Y = I₂``, ``M = (0, 1)``,
    ``σ = 1``, ``τ = 1`` gives ``s' = 2``, ``w_12 = e^{-1/2}`` and
    ``anchor``/``mean`` = ``-(1 - ln 2)/(1 + e^{-1/2})`` = −0.191, ``anchor``/``sum`` = −0.382,
    ``kernel``/``mean`` = ``-((1 - ln 2) - e^{-1/2} ln 2)/(1 + e^{-1/2})`` = +0.071.

    Only real frames take part (padded frames are neither anchors, positives nor negatives).
    ``τ`` is an optional global temperature, ``1`` in the paper. A sequence with fewer than two
    real frames has no negatives and contributes ``0``.

    Args:
        x: ``(B, T, d)`` audio-side features ``X`` (or ``X̂``).
        y: ``(B, T, d)`` motion-side features ``Y`` (or ``Ŷ``).
        motion: ``(B, T, F)`` ground-truth motion ``M`` defining the kernel (flattened
            displacements in metres).
        mask: ``(B, T)`` bool real-frame mask.
        sigma: RBF bandwidth ``σ`` in the units of ``motion`` (metres): a float, a ``(B,)``
            tensor, or ``None`` for the per-sequence median heuristic (:func:`rbf_bandwidth`).
        temperature: global temperature ``τ > 0``.
        weighting: ``"anchor"`` (literal ``w_k = 1``) or ``"kernel"`` (kernel-weighted positives).
        reduction: ``"mean"`` or ``"sum"`` over the real anchor frames of each sequence.

    Returns:
        ``(B,)`` loss per sequence (can be negative: the paper's denominator omits the positive).

    Raises:
        ValueError: unknown ``weighting`` or ``reduction``.
    """
    if weighting not in ("anchor", "kernel"):
        raise ValueError(f"consistency_loss: weighting must be 'anchor' or 'kernel', got {weighting!r}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"consistency_loss: reduction must be 'mean' or 'sum', got {reduction!r}")
    batch, length, _ = x.shape
    xn = F.normalize(x, dim=-1, eps=1e-8)
    yn = F.normalize(y, dim=-1, eps=1e-8)
    s_inter = torch.matmul(xn, yn.transpose(1, 2)) / temperature  # (B, T, T): [k, t]
    s_intra = torch.matmul(xn, xn.transpose(1, 2)) / temperature
    if sigma is None:
        sigma_t = rbf_bandwidth(motion, mask)
    else:
        sigma_t = torch.as_tensor(sigma, dtype=motion.dtype, device=motion.device).expand(batch)
    with torch.no_grad():
        m = motion.to(torch.float64)
        sq = torch.cdist(m, m).pow(2)
        w = torch.exp(-sq / (2.0 * sigma_t.to(torch.float64)[:, None, None] ** 2)).to(x.dtype)
    real = mask[:, :, None] & mask[:, None, :]
    eye = torch.eye(length, dtype=torch.bool, device=x.device)[None]
    negatives = real & ~eye
    neg_inf = torch.finfo(x.dtype).min
    terms = torch.cat(
        [
            (s_inter * (1 - w)).masked_fill(~negatives, neg_inf),
            (s_intra * (1 - w)).masked_fill(~negatives, neg_inf),
        ],
        dim=-1,
    )
    log_denominator = torch.logsumexp(terms, dim=-1)  # (B, T) = log s'_k
    w_real = w * real.to(w.dtype)
    normaliser = w_real.sum(-1).clamp(min=1e-12)  # Σ_t w_kt over real t
    if weighting == "anchor":
        positive = torch.diagonal(s_inter, dim1=1, dim2=2)  # s^inter_kk
        w_kk = torch.diagonal(w, dim1=1, dim2=2)
        per_anchor = -(w_kk / normaliser) * (positive - log_denominator)  # (B, T)
    else:  # every real frame j a positive of anchor k, weighted by w_kj
        log_ratio = s_inter - log_denominator[:, :, None]  # (B, T, T): [k, j]
        per_anchor = -(w_real * log_ratio).sum(-1) / normaliser
    valid = mask & (mask.sum(1, keepdim=True) >= 2)
    per_anchor = torch.where(valid, per_anchor, torch.zeros_like(per_anchor))
    if reduction == "sum":
        return per_anchor.sum(1)
    return per_anchor.sum(1) / valid.sum(1).clamp(min=1).to(x.dtype)
