"""DualTalker Eq. 9 (L_CCRL): the readings of the paper's formula on a hand-computable case (issue 19, item 1).

Hand case: T = 2 frames, X = Y = I₂ (frame 1 = e₁, frame 2 = e₂), ground-truth motion M = (0, 1),
σ = 1, τ = 1. Then s^inter = s^intra = I, the RBF weight between the two frames is w = e^{-1/2},
every negative term of Eq. 10 is exp(0 · (1 - w)) = 1, so s' = 2 for both anchors.
"""

from __future__ import annotations

import math

import pytest
import torch

from talkzoo_dualtalker.losses import consistency_loss

W = math.exp(-0.5)
ANCHOR_MEAN = -(1.0 - math.log(2.0)) / (1.0 + W)  # per anchor; the code's reading before issue 19
ANCHOR_SUM = 2.0 * ANCHOR_MEAN  # Eq. 9's Σ_k over the two anchors, literally
KERNEL_MEAN = -((1.0 - math.log(2.0)) + W * (0.0 - math.log(2.0))) / (1.0 + W)  # Barbano-style positives


def hand_case(dtype=torch.float64):
    x = torch.eye(2, dtype=dtype)[None]  # (1, 2, 2)
    motion = torch.tensor([[[0.0], [1.0]]], dtype=dtype)  # (1, 2, 1)
    mask = torch.ones(1, 2, dtype=torch.bool)
    return x, x.clone(), motion, mask


def test_hand_values_are_the_issue_numbers():
    assert round(ANCHOR_MEAN, 3) == -0.191
    assert round(ANCHOR_SUM, 3) == -0.382
    assert round(KERNEL_MEAN, 3) == 0.071


@pytest.mark.parametrize(
    "weighting,reduction,expected",
    [
        ("anchor", "mean", ANCHOR_MEAN),
        ("anchor", "sum", ANCHOR_SUM),
        ("kernel", "mean", KERNEL_MEAN),
        ("kernel", "sum", 2.0 * KERNEL_MEAN),
    ],
)
def test_eq9_readings_on_the_hand_case(weighting, reduction, expected):
    x, y, motion, mask = hand_case()
    value = consistency_loss(x, y, motion, mask, sigma=1.0, weighting=weighting, reduction=reduction)
    assert value.shape == (1,)
    assert value.item() == pytest.approx(expected, abs=1e-12)


def test_default_is_the_previous_reading():
    x, y, motion, mask = hand_case()
    assert consistency_loss(x, y, motion, mask, sigma=1.0).item() == pytest.approx(ANCHOR_MEAN, abs=1e-12)


def test_kernel_weighting_pulls_kernel_close_frames_together():
    """Kernel reading: a pair of frames close in motion (w ~ 1) gains from similar features; the
    literal reading does not reward it (its only positive is the aligned pair)."""
    motion = torch.tensor([[[0.0], [1e-3]]], dtype=torch.float64)  # w_12 ≈ 1
    mask = torch.ones(1, 2, dtype=torch.bool)
    apart = torch.eye(2, dtype=torch.float64)[None]
    together = torch.tensor([[[1.0, 0.0], [0.8, 0.6]]], dtype=torch.float64)
    kernel = [consistency_loss(f, f, motion, mask, sigma=1.0, weighting="kernel").item() for f in (apart, together)]
    assert kernel[1] < kernel[0] - 0.1


@pytest.mark.parametrize("weighting", ["anchor", "kernel"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_padding_does_not_change_the_value(weighting, reduction):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(2, 5, 4, generator=gen, dtype=torch.float64)
    motion = torch.randn(2, 5, 6, generator=gen, dtype=torch.float64)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    batched = consistency_loss(x, y, motion, mask, sigma=0.7, weighting=weighting, reduction=reduction)
    alone = consistency_loss(
        x[1:, :3], y[1:, :3], motion[1:, :3], mask[1:, :3], sigma=0.7, weighting=weighting, reduction=reduction
    )
    torch.testing.assert_close(batched[1:], alone, atol=1e-12, rtol=0)


def test_bad_reading_names_raise():
    x, y, motion, mask = hand_case()
    with pytest.raises(ValueError, match="weighting"):
        consistency_loss(x, y, motion, mask, weighting="barbano")
    with pytest.raises(ValueError, match="reduction"):
        consistency_loss(x, y, motion, mask, reduction="max")
