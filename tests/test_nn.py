"""talkzoo.nn: frame counts, window planner, positional encodings, masked reductions, default optimizers."""

from __future__ import annotations

import math

import pytest
import torch

from talkzoo.errors import ConfigError
from talkzoo.nn import (
    adam,
    adamw,
    check_window_options,
    frames_for_samples,
    masked_mean,
    masked_sum,
    plan_audio_windows,
    plan_windows,
    samples_per_sequence,
    sequence_frame_counts,
    sinusoidal_encoding,
)


# ---------------------------------------------------------------- frame counts
def test_frames_for_samples_rounds_and_is_at_least_one():
    assert frames_for_samples(16000, 16000, 30.0) == 30
    assert frames_for_samples(11466, 16000, 30.0) == 21  # 21.499 frames
    assert frames_for_samples(11468, 16000, 30.0) == 22  # 21.5025 frames
    assert frames_for_samples(0, 16000, 25.0) == 1
    counts = frames_for_samples(torch.tensor([16000, 11466, 0]), 16000, 30.0)
    assert counts.dtype == torch.int64 and counts.tolist() == [30, 21, 1]


def test_samples_per_sequence():
    audio = torch.zeros(2, 10)
    assert samples_per_sequence(audio).tolist() == [10, 10]
    mask = torch.arange(10)[None] < torch.tensor([[10], [4]])
    assert samples_per_sequence(audio, mask).tolist() == [10, 4]


def test_sequence_frame_counts_longest_spans_the_width_others_keep_their_own():
    samples = torch.tensor([16000, 8000, 16000])  # 30, 15, 30 frames at 30 fps
    counts, total = sequence_frame_counts(samples, 16000, 30.0)
    assert total == 30 and counts.tolist() == [30, 15, 30]
    counts, total = sequence_frame_counts(samples, 16000, 30.0, num_frames=40)  # stretched width
    assert total == 40 and counts.tolist() == [40, 15, 40]
    counts, total = sequence_frame_counts(samples, 16000, 30.0, num_frames=10)  # cropped width
    assert total == 10 and counts.tolist() == [10, 10, 10]


# ---------------------------------------------------------------- windows
def test_crossfade_plan_by_hand():
    # n=70, W=30, O=5: stride 20, K = ceil(40/20)+1 = 3 windows at 0, 20, 40; seams at 25 and 45.
    plan = plan_windows(70, 30, 5, "crossfade")
    assert [(w.start, w.stop) for w in plan] == [(0, 30), (20, 50), (40, 70)]
    first = plan[0].weight
    # fade of seam 25 over frames 22.5..27.5: frame 22 (centre 22.5) -> 1, 23 -> 0.8, 25 -> 0.4, 27 -> 0
    assert first[22] == 1.0 and first[23] == pytest.approx(0.8) and first[25] == pytest.approx(0.4) and first[27] == 0.0
    assert plan[1].weight[25 - 20] == pytest.approx(0.6)
    w0, w1, w2 = (w.weight for w in plan)
    assert w0[:23].eq(1).all() and w0[27:].eq(0).all()
    torch.testing.assert_close(w0[23:27], torch.tensor([0.8, 0.6, 0.4, 0.2], dtype=torch.float64))
    torch.testing.assert_close(w1[3:7], torch.tensor([0.2, 0.4, 0.6, 0.8], dtype=torch.float64))  # frames 23..26
    assert w1[:3].eq(0).all() and w1[7:23].eq(1).all()
    torch.testing.assert_close(w2[3:7], torch.tensor([0.2, 0.4, 0.6, 0.8], dtype=torch.float64))  # frames 43..46
    hard = plan_windows(70, 30, 0, "crossfade")  # no fade: a step at each seam, K = ceil(40 / 30) + 1
    assert [(w.start, w.stop) for w in hard] == [(0, 30), (20, 50), (40, 70)]
    assert hard[1].weight.tolist() == [0.0] * 5 + [1.0] * 20 + [0.0] * 5  # frames 25..44


def test_nearest_plan_by_hand():
    plan = plan_windows(70, 30, 5, "nearest")  # centres 15, 35, 55: owners switch at 25 and 45
    assert [(w.start, w.stop) for w in plan] == [(0, 30), (20, 50), (40, 70)]
    assert [w.support for w in plan] == [(0, 25), (25, 45), (45, 70)]
    assert all(set(w.weight.tolist()) <= {0.0, 1.0} for w in plan)


@pytest.mark.parametrize("blend", ["crossfade", "nearest"])
@pytest.mark.parametrize(
    "n, w, o", [(1, 30, 5), (30, 30, 5), (31, 30, 5), (200, 30, 5), (97, 13, 4), (50, 7, 0), (64, 10, 9), (18000, 900, 60)]
)
def test_plan_is_a_partition_of_unity_with_context(blend, n, w, o):
    plan = plan_windows(n, w, o, blend)
    total = torch.zeros(n, dtype=torch.float64)
    for win in plan:
        assert 0 <= win.start < win.stop <= n and win.weight.shape == (win.stop - win.start,)
        total[win.start : win.stop] += win.weight
    assert total.eq(1).all()  # exactly: every frame is fully covered
    assert plan[0].start == 0 and plan[-1].stop == n and all(win.stop - win.start == min(w, n) for win in plan)
    assert all(a.stop - b.start >= 2 * min(o, (min(w, n) - 1) // 2) for a, b in zip(plan, plan[1:]))
    o_eff = min(o, (min(w, n) - 1) // 2)
    need = o_eff if blend == "nearest" else o_eff / 2
    for win in plan:
        if win.support is None:
            continue
        first, stop = win.support
        if first > 0:
            assert first - win.start >= math.floor(need)
        if stop < n:
            assert win.stop - stop >= math.floor(need)


def test_plan_rejects_bad_arguments():
    for args in [(0, 30, 5), (10, 0, 5), (10, 5, -1)]:
        with pytest.raises(ValueError):
            plan_windows(*args)
    with pytest.raises(ValueError, match="blend"):
        plan_windows(10, 5, 1, "mean")


def test_audio_windows_map_frames_to_samples():
    # 100 frames over 53333 samples (30 fps at 16 kHz): 1 s windows = 30 frames, 0.2 s overlap = 6 frames
    plan = plan_audio_windows(53333, 100, 16000, 1.0, 0.2, "nearest")
    per_frame = 53333 / 100
    for win in plan:
        assert win.stop - win.start == 30
        assert win.sample_start == round(win.start * per_frame) and win.sample_stop == min(53333, round(win.stop * per_frame))
        assert win.sample_stop - win.sample_start <= 16000 + 1
    assert plan[-1].sample_stop == 53333


def test_window_options_are_checked():
    check_window_options(None, 2.0, "w", "o")
    check_window_options(5.0, 2.0, "w", "o")
    with pytest.raises(ConfigError, match="w .*twice the overlap"):
        check_window_options(4.0, 2.0, "w", "o")
    with pytest.raises(ConfigError, match="o must be >= 0"):
        check_window_options(4.0, -1.0, "w", "o")


# ---------------------------------------------------------------- positional encoding
def test_sinusoidal_encoding_by_hand():
    pe = sinusoidal_encoding(torch.arange(3), 4)
    assert pe.shape == (3, 4) and pe.dtype == torch.float32
    # channel pair i has frequency 10000^(-2i/4): 1 and 1/100
    expected = torch.tensor([[math.sin(p), math.cos(p), math.sin(p / 100), math.cos(p / 100)] for p in range(3)])
    torch.testing.assert_close(pe, expected)


def test_periodic_encoding_repeats_and_odd_width_works():
    pe = sinusoidal_encoding(torch.arange(75), 7, period=25)
    assert pe.shape == (75, 7)
    assert torch.equal(pe[:25], pe[25:50]) and torch.equal(pe[:25], pe[50:])
    torch.testing.assert_close(pe[:25], sinusoidal_encoding(torch.arange(25), 7))
    with pytest.raises(ConfigError, match="period"):
        sinusoidal_encoding(torch.arange(3), 4, period=0)


# ---------------------------------------------------------------- masked reductions
def test_masked_mean_per_sequence_and_pooled():
    values = torch.tensor([[[1.0, 3.0], [5.0, 7.0], [100.0, 100.0]], [[2.0, 2.0], [float("nan"), 9.0], [9.0, 9.0]]])
    values[1, 1:] = 1e9  # padding of sequence 1 (finite) must not count
    mask = torch.tensor([[True, True, False], [True, False, False]])
    torch.testing.assert_close(masked_mean(values, mask, dim=(1, 2)), torch.tensor([4.0, 2.0]))
    torch.testing.assert_close(masked_mean(values, mask), torch.tensor((1 + 3 + 5 + 7 + 2 + 2) / 6))
    per_frame = values.mean(-1)
    torch.testing.assert_close(masked_mean(per_frame, mask), torch.tensor((2 + 6 + 2) / 3))
    torch.testing.assert_close(masked_sum(per_frame, mask, dim=1), torch.tensor([8.0, 2.0]))


def test_masked_mean_of_an_empty_sequence_is_zero_and_shapes_are_checked():
    assert masked_mean(torch.ones(2, 3), torch.zeros(2, 3, dtype=torch.bool), dim=1).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="mask"):
        masked_mean(torch.ones(2, 3), torch.ones(3, 2, dtype=torch.bool))


# ---------------------------------------------------------------- optimizers
def test_default_optimizers():
    p = [torch.nn.Parameter(torch.zeros(2))]
    opt = adam(p)
    assert isinstance(opt, torch.optim.Adam) and opt.defaults["lr"] == 1e-4 and opt.defaults["weight_decay"] == 0
    opt = adamw(p)
    assert isinstance(opt, torch.optim.AdamW) and opt.defaults["lr"] == 1e-4 and opt.defaults["weight_decay"] == 1e-2


# ---------------------------------------------------------------- state-dict compatibility
def test_unprefixed_keys_of_a_moved_network_still_load():
    from torch import nn

    from talkzoo.nn.state import accept_unprefixed_keys

    class Old(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(2, 3)
            self.register_buffer("scale", torch.ones(()))

    class New(nn.Module):
        def __init__(self):
            super().__init__()
            self.network = Old()
            self.head = nn.Linear(3, 1)
            accept_unprefixed_keys(self, "network")

    torch.manual_seed(0)
    old = Old()
    old.scale.fill_(2.0)
    new = New()
    state = {**old.state_dict(), **{f"head.{k}": v for k, v in new.head.state_dict().items()}}
    new.load_state_dict(state)  # strict: every old key found its place
    assert torch.equal(new.network.proj.weight, old.proj.weight) and float(new.network.scale) == 2.0
    new.load_state_dict(new.state_dict())  # current keys load unchanged
    with pytest.raises(RuntimeError, match="Unexpected"):
        new.load_state_dict({**state, "other.weight": torch.zeros(1)})
