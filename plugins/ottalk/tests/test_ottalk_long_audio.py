"""Long-audio inference of OT-Talk: bounded windows with cross-faded seams (``inference_window_seconds``).

CPU, tiny config (``ottalk_testutils``: 25 fps, 16 kHz, so one frame is exactly 640 samples); seconds.
"""

from __future__ import annotations

import pytest
import torch

from ottalk_testutils import FPS, RATE, ico_spec, make_batch, tiny_model
from talkzoo.errors import ConfigError
from talkzoo.nn.windows import plan_windows

PER_FRAME = int(RATE / FPS)  # 640 samples per frame


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _model(spec, **kwargs):
    """Tiny OT-Talk (seed 0) whose output depends on the audio (random coefficient head and last refinement conv)."""
    m = tiny_model(spec, **kwargs).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        m.network.coeff_head.weight.copy_(torch.randn(m.network.coeff_head.weight.shape, generator=g))
        w = m.network.refiner.out.lins[0].weight
        w.copy_(0.1 * torch.randn(w.shape, generator=g))
    return m


def _run_alone(m, audio, template, start, stop):
    """The model on frames ``[start, stop)`` of a one-sequence input alone: ``(stop - start, V, 3)``."""
    wave = audio[:, start * PER_FRAME : stop * PER_FRAME]
    return m(wave, None, template, stop - start, total_frames=stop - start).vertices[0].float()


# The window plan itself (cross-fade weights, partition of unity) is tested in the core: tests/test_nn.py.


# ------------------------------------------------------------------ (1) within the window: unchanged
def test_audio_within_the_window_is_bit_identical_to_whole_sequence_attention() -> None:
    spec, tpl = ico_spec()
    whole = _model(spec, inference_window_seconds=None)
    default = _model(spec)  # 30 s window
    exact_fit = _model(spec, inference_window_seconds=8 / FPS, inference_window_overlap_seconds=0.1)  # 8 frames
    b = make_batch(tpl, lengths=(8, 5))
    with torch.no_grad():
        ref = whole.generate(b.audio, b.template, audio_mask=b.audio_mask)
        ref7 = whole.generate(b.audio, b.template, num_frames=7, audio_mask=b.audio_mask)
        assert torch.equal(default.generate(b.audio, b.template, audio_mask=b.audio_mask), ref)
        assert torch.equal(exact_fit.generate(b.audio, b.template, audio_mask=b.audio_mask), ref)
        assert torch.equal(exact_fit.generate(b.audio, b.template, num_frames=7, audio_mask=b.audio_mask), ref7)
    assert ref.shape == (2, 8, 42, 3) and ref[0].std(dim=0).max() > 1e-4  # the motion is not constant


# ------------------------------------------------------------------ (2) longer: per-window runs, cross-faded seams
def test_long_audio_is_per_window_runs_cross_faded() -> None:
    spec, tpl = ico_spec()
    # window 1.2 s = 30 frames, overlap 0.2 s = 5 frames, 70 frames = 2.8 s: windows 0-30, 20-50, 40-70
    m = _model(spec, inference_window_seconds=1.2, inference_window_overlap_seconds=0.2)
    b = make_batch(tpl, lengths=(70,))
    audio, template = b.audio, b.template
    with torch.no_grad():
        out = m.generate(audio, template)[0]
        runs = [_run_alone(m, audio, template, a, a + 30) for a in (0, 20, 40)]
        whole = _model(spec, inference_window_seconds=None).generate(audio, template)[0]
    assert out.shape == (70, 42, 3) and torch.isfinite(out).all()
    assert not torch.equal(out, whole)  # windowing took place
    # frames owned by one window are that window's run alone, bit for bit
    assert torch.equal(out[:23], runs[0][:23])
    assert torch.equal(out[27:43], runs[1][7:23])
    assert torch.equal(out[47:], runs[2][7:])
    for seam, (prev, nxt, first) in enumerate([(runs[0], runs[1], 23), (runs[1], runs[2], 43)]):
        a_prev, a_next = first - 20 * seam, first - 20 * (seam + 1)  # frame offsets in the two windows
        vp, vn = prev[a_prev - 1 : a_prev + 5], nxt[a_next - 1 : a_next + 5]  # frames first-1 .. first+4
        alpha = torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])[:, None, None]
        seg = out[first - 1 : first + 5]
        # a linear cross-fade of the two windows' meshes ...
        torch.testing.assert_close(seg, (1 - alpha) * vp + alpha * vn, atol=1e-6, rtol=0)
        # ... so every coordinate lies between them
        assert (seg >= torch.minimum(vp, vn) - 1e-6).all() and (seg <= torch.maximum(vp, vn) + 1e-6).all()
        # continuity: out[t+1]-out[t] = (1-a')dv_prev + a' dv_next + (a'-a)(vn-vp)[t], so per vertex the
        # jump is at most the larger own jump of the two runs plus 1/O = 0.2 of their difference
        jump = (seg[1:] - seg[:-1]).norm(dim=-1)  # (5, V)
        own = torch.maximum((vp[1:] - vp[:-1]).norm(dim=-1), (vn[1:] - vn[:-1]).norm(dim=-1))
        gap = (vn[:-1] - vp[:-1]).norm(dim=-1)
        assert (jump <= own + 0.2 * gap + 1e-6).all()
        assert gap.max() > 1e-5  # the two windows really disagree at the seam (the fade matters)


def test_zero_overlap_cuts_at_the_seams() -> None:
    spec, tpl = ico_spec()
    m = _model(spec, inference_window_seconds=1.2, inference_window_overlap_seconds=0.0)
    b = make_batch(tpl, lengths=(70,))
    with torch.no_grad():
        out = m.generate(b.audio, b.template)[0]
        runs = {a: _run_alone(m, b.audio, b.template, a, a + 30) for a in (0, 20, 40)}
    # windows 0-30, 20-50, 40-70; seams at 25 and 45: frame t < seam -> earlier window
    assert torch.equal(out[:25], runs[0][:25])
    assert torch.equal(out[25:45], runs[20][5:25])
    assert torch.equal(out[45:], runs[40][5:])


def test_windows_bound_what_the_network_sees() -> None:
    spec, tpl = ico_spec()
    m = _model(spec, inference_window_seconds=1.2, inference_window_overlap_seconds=0.2)
    frames_seen, samples_seen = [], []
    m.network.audio_temporal.register_forward_hook(lambda mod, args, out: frames_seen.append(args[0].shape[1]))
    m.network.audio_encoder.register_forward_hook(lambda mod, args, out: samples_seen.append(args[0].shape[1]))
    b = make_batch(tpl, lengths=(200,))  # 8 s
    with torch.no_grad():
        out = m.generate(b.audio, b.template)
    assert out.shape == (1, 200, 42, 3)
    assert max(frames_seen) == 30 and max(samples_seen) == 30 * PER_FRAME  # never the whole 200 frames
    assert len(frames_seen) == len(plan_windows(200, 30, 5, "crossfade")) == 10


# ------------------------------------------------------------------ (3) lengths and padded batches
def test_output_length_is_the_requested_number_of_frames() -> None:
    spec, tpl = ico_spec()
    m = _model(spec, inference_window_seconds=1.2, inference_window_overlap_seconds=0.2)
    b = make_batch(tpl, lengths=(70,))
    with torch.no_grad():
        for frames in (70, 90, 50, 3):
            out = m.generate(b.audio, b.template, num_frames=frames)
            assert out.shape == (1, frames, 42, 3) and torch.isfinite(out).all()


def test_padded_batch_sequences_keep_their_own_length_with_windows() -> None:
    spec, tpl = ico_spec()
    m = _model(spec, inference_window_seconds=1.2, inference_window_overlap_seconds=0.2)
    b = make_batch(tpl, lengths=(70, 20))
    n_short = int(b.audio_mask[1].sum())
    with torch.no_grad():
        both = m.generate(b.audio, b.template, audio_mask=b.audio_mask)
        long_alone = m.generate(b.audio[:1], b.template[:1])
        short_alone = m.generate(b.audio[1:2, :n_short], b.template[1:2])
        wider = m.generate(b.audio, b.template, num_frames=75, audio_mask=b.audio_mask)
    assert both.shape == (2, 70, 42, 3) and short_alone.shape == (1, 20, 42, 3)
    # Batch of 2 against batch of 1: float32 kernels are not batch-size invariant (issue #18), so
    # equal to ~100 float32 ulps rather than bit for bit; a wrong length or mask is off by >1e-3.
    torch.testing.assert_close(both[0], long_alone[0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(both[1, :20], short_alone[0], atol=1e-6, rtol=1e-5)
    assert torch.equal(both[1, 20:], b.template[1, None].expand(50, -1, -1))  # padding = template
    assert wider.shape == (2, 75, 42, 3)
    torch.testing.assert_close(wider[1, :20], short_alone[0], atol=1e-6, rtol=1e-5)


def test_bad_window_options_are_config_errors() -> None:
    spec, _ = ico_spec()
    with pytest.raises(ConfigError, match="inference_window_seconds"):
        tiny_model(spec, inference_window_seconds=4.0, inference_window_overlap_seconds=2.0)
    with pytest.raises(ConfigError, match="inference_window_overlap_seconds"):
        tiny_model(spec, inference_window_overlap_seconds=-1.0)
