"""The ``"once"`` window layout (issue #17): the audio is covered once, seams mid-overlap.

Pins :func:`talkzoo.nn.windows.plan_windows` with ``layout="once"`` on hand-computed plans and
DualTalker's use of it (``encoder_chunk_layout``); CPU, tiny configs, seconds.
"""

from __future__ import annotations

import pytest
import torch

from dualtalker_testutils import RATE, make_batch, tiny_model
from talkzoo.errors import ConfigError
from talkzoo.nn.windows import plan_audio_windows, plan_windows


def _owned(plan):
    return [w.support for w in plan]


def test_once_plan_hand_computed():
    # n=100, W=30, O=6: K = ceil(70 / 18) + 1 = 5, step = ceil(88 / 5) = 18
    plan = plan_windows(100, 30, 6, "nearest", "once")
    assert [(w.start, w.stop) for w in plan] == [(0, 30), (18, 48), (36, 66), (54, 84), (72, 100)]
    # seams at a_{k+1} + O: 24, 42, 60, 78; each window owns [a_k + O, a_{k+1} + O)
    assert _owned(plan) == [(0, 24), (24, 42), (42, 60), (60, 78), (78, 100)]
    # the spread layout encodes 5 full windows (150 frames); once: 100 + 2 * 6 * 4 frames
    spread = plan_windows(100, 30, 6, "nearest", "spread")
    assert sum(w.stop - w.start for w in spread) == 150
    assert sum(w.stop - w.start for w in plan) == 148 == 100 + 2 * 6 * 4
    # one frame past a window: step = ceil(19 / 2) = 10, two windows of 22 and 21 frames, not two of 30
    short = plan_windows(31, 30, 6, "nearest", "once")
    assert [(w.start, w.stop) for w in short] == [(0, 22), (10, 31)] and _owned(short) == [(0, 16), (16, 31)]
    assert [(w.start, w.stop) for w in plan_windows(31, 30, 6, "nearest", "spread")] == [(0, 30), (1, 31)]


@pytest.mark.parametrize("n,w,o", [(100, 30, 6), (31, 30, 6), (1000, 30, 5), (961, 30, 5), (18000, 900, 60), (77, 9, 0)])
@pytest.mark.parametrize("blend", ["nearest", "crossfade"])
def test_once_plan_covers_every_frame_once(n, w, o, blend):
    plan = plan_windows(n, w, o, blend, "once")
    total = torch.zeros(n, dtype=torch.float64)
    for win in plan:
        assert 0 <= win.start < win.stop <= n and win.stop - win.start <= w
        total[win.start : win.stop] += win.weight
    torch.testing.assert_close(total, torch.ones(n, dtype=torch.float64), rtol=0, atol=1e-12)
    if blend == "nearest":  # every frame from exactly one window, with O frames of context on each side
        owners = torch.zeros(n)
        for win in plan:
            owners[win.start : win.stop] += win.weight
            first, stop = win.support
            assert win.start == 0 or first - win.start >= o
            assert win.stop == n or win.stop - stop >= o
        assert torch.equal(owners, torch.ones(n))
        # neighbours share exactly 2 O frames (the context), never more
        for a, b in zip(plan, plan[1:]):
            assert a.stop - b.start == 2 * o
    encoded = sum(win.stop - win.start for win in plan)
    assert encoded <= n + 2 * o * (len(plan) - 1)
    assert len(plan) == len(plan_windows(n, w, o, blend, "spread"))


def test_once_plan_within_the_window_is_one_window():
    for layout in ("once", "spread"):
        (only,) = plan_windows(30, 30, 6, "nearest", layout)
        assert (only.start, only.stop) == (0, 30) and torch.equal(only.weight, torch.ones(30, dtype=torch.float64))
    with pytest.raises(ValueError, match="layout"):
        plan_windows(40, 30, 6, "nearest", "evenly")


def test_once_audio_plan_at_ten_minutes():
    """600 s at 30 fps, 30 s windows, 2 s overlap: 23 windows; once 686.5 s encoded, spread 689.2 s.

    (``plan_audio_windows`` floors ``30 s / (1/30 s)`` computed in floats: W = 899, O = 59 frames.)
    """
    samples, frames = 600 * RATE, 18000
    once = plan_audio_windows(samples, frames, RATE, 30.0, 2.0, "nearest", "once")
    spread = plan_audio_windows(samples, frames, RATE, 30.0, 2.0, "nearest", "spread")
    assert len(once) == len(spread) == 23
    assert sum(w.stop - w.start for w in spread) == 23 * 899
    assert sum(w.stop - w.start for w in once) == 18000 + 22 * 2 * 59
    assert max(w.stop - w.start for w in once) <= 899
    assert once[-1].sample_stop == samples and once[0].sample_start == 0 and once[-1].stop == frames


def test_dualtalker_encodes_each_window_of_the_once_plan(monkeypatch):
    model = tiny_model(encoder_chunk_seconds=1.0, encoder_chunk_overlap_seconds=0.2).eval()
    assert model.encoder_chunk_layout == "once"
    lengths: list[int] = []
    original = model.network.audio_encoder.forward

    def spy(audio, audio_mask, num_frames):
        lengths.append(int(num_frames))
        return original(audio, audio_mask, num_frames)

    monkeypatch.setattr(model.network.audio_encoder, "forward", spy)
    batch = make_batch([100])  # 3.33 s: W = 30 frames, O = 6 frames: the hand-computed plan above
    with torch.no_grad():
        feats = model.encode_audio_chunked(batch.audio, None, 100, 100)
    assert lengths == [30, 30, 30, 30, 28] and feats.shape[1] == 100
    with pytest.raises(ConfigError, match="encoder_chunk_layout"):
        tiny_model(encoder_chunk_layout="evenly")
