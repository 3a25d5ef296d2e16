"""The 2D families' scoring rule: the source portrait, when it is a frame of the clip, is not scored."""

from __future__ import annotations

import math

import pytest
import torch

from talkzoo.metrics.video import CHUNK_FRAMES, FramePSNR, FrameSSIM
from talkzoo.tasks.video import scored_frame_mask


def test_the_source_frame_is_left_out_and_only_it() -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.rand(2, 5, 3, 8, 8, generator=g)
    source = torch.stack([real[0, 0], torch.rand(3, 8, 8, generator=g)])  # clip 0: frame 0; clip 1: another identity
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]], dtype=torch.bool)
    got = scored_frame_mask(real, mask, source)
    assert got.tolist() == [[False, True, True, True, False], [True, True, True, False, False]]
    # the static-source prediction: +inf PSNR with the source frame, finite without it
    static = source[:, None].expand_as(real)
    with_source, without = FramePSNR(), FramePSNR()
    with_source.update(static, real, mask)
    without.update(static, real, got)
    assert math.isinf(float(with_source.compute())) and math.isfinite(float(without.compute()))
    by_hand = [10 * math.log10(1 / float(((static[b, t] - real[b, t]) ** 2).mean())) for b, t in got.nonzero().tolist()]
    assert float(without.compute()) == pytest.approx(sum(by_hand) / len(by_hand), rel=1e-6)


def test_frame_metrics_are_chunked_with_the_same_mean() -> None:
    """More frames than one internal chunk: the same value as frame-by-frame updates."""
    g = torch.Generator().manual_seed(1)
    n = CHUNK_FRAMES * 2 + 3
    pred, real = torch.rand(1, n, 3, 16, 16, generator=g), torch.rand(1, n, 3, 16, 16, generator=g)
    mask = torch.ones(1, n, dtype=torch.bool)
    for cls in (FramePSNR, FrameSSIM):
        whole, single = cls(), cls()
        whole.update(pred, real, mask)
        for t in range(n):
            single.update(pred[:, t : t + 1], real[:, t : t + 1], mask[:, t : t + 1])
        assert float(whole.compute()) == pytest.approx(float(single.compute()), rel=1e-5), cls.__name__
