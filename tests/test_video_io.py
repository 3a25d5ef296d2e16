"""Video/audio reading (decord, PyAV for MPEG-PS, frame folders), timing helpers, bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("decord")

from talkzoo.errors import ConfigError, DataError  # noqa: E402
from talkzoo.render import video as render_video  # noqa: E402
from talkzoo.testing.video_fixtures import (  # noqa: E402
    _frame_folder,
    _mpeg_ps,
    decode_frame_index,
    synthetic_frames,
    write_vfr_video,
)
from talkzoo.video import (  # noqa: E402
    audio_span,
    check_constant_frame_rate,
    convert_frame_indices,
    open_video,
    probe_video,
    read_audio_track,
    read_frames,
    slice_audio_for_frames,
    write_video,
)


def _clicks(num_frames: int, fps: int, sr: int) -> np.ndarray:
    """Silence with an 8-sample click at the first sample of every frame."""
    wave = np.zeros(num_frames * sr // fps, np.float32)
    for k in range(num_frames):
        wave[k * sr // fps : k * sr // fps + 8] = 0.8
    return wave


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("io") / "clip.mp4"
    write_video(path, synthetic_frames(40, 32), 25, audio=_clicks(40, 25, 16000), sample_rate=16000)
    return path


def test_writer_is_the_render_writer():
    assert write_video is render_video.write_video


def test_probe_reports_header_facts(clip):
    info = probe_video(clip)
    assert (info.num_frames, info.fps, info.height, info.width) == (40, 25.0, 32, 32)
    assert info.has_audio and info.audio_sample_rate == 16000
    assert info.audio_duration_s == pytest.approx(1.6)
    assert info.duration_s == pytest.approx(1.6)


def test_random_access_returns_the_asked_frames(clip):
    with open_video(clip) as v:
        frames = v.get_frames([17, 3, 3, 39, 0])
        assert frames.dtype == torch.uint8 and frames.shape == (5, 32, 32, 3)
        assert [decode_frame_index(f) for f in frames] == [17, 3, 3, 39, 0]
        cf = v.get_frames([5], channels_first=True)
        assert cf.shape == (1, 3, 32, 32) and decode_frame_index(cf[0]) == 5
        with pytest.raises(DataError, match="out of range"):
            v.get_frames([40])
    assert read_frames(clip).shape == (40, 32, 32, 3)


def test_audio_track_is_sample_aligned_to_frames(clip):
    wave = read_audio_track(clip, sample_rate=16000)
    assert wave.dtype == torch.float32 and wave.shape == (40 * 640,)  # trimmed to the declared duration
    loud = np.flatnonzero(wave.numpy() > 0.4)
    onsets = loud[np.r_[True, np.diff(loud) > 1]]
    np.testing.assert_array_equal(onsets, np.arange(40) * 640)  # a click at each frame start, to the sample
    # the exact window slice of frames [10, 13) starts with that frame's click
    seg, mask = slice_audio_for_frames(wave, 10, 13, 25, 16000)
    assert seg.shape == (1920,) and bool(mask.all()) and seg[0] > 0.4 and seg[640] > 0.4
    # resampled on reading: 8 kHz keeps the alignment (onset of frame k at 320 k, +-1 sample)
    low = read_audio_track(clip, sample_rate=8000).numpy()
    assert abs(low.shape[0] - 40 * 320) <= 1
    assert abs(int(np.argmax(low[320 * 20 - 40 : 320 * 20 + 40])) - 40) <= 2


def test_audio_span_exact_values():
    assert audio_span(0, 1, 25, 16000) == (0, 640)
    assert audio_span(10, 60, 25, 16000) == (6400, 38400)
    # 29.97 fps is 30000/1001: frame 1 starts at 16000 * 1001 / 30000 = 533.87 -> 534; frame 3 at 1601.6 -> 1602
    assert audio_span(1, 3, 29.97, 16000) == (534, 1602)
    with pytest.raises(ConfigError):
        audio_span(3, 1, 25, 16000)
    for bad_rate in (0, -16000, 16000.5):
        with pytest.raises(ConfigError, match="sample_rate"):
            audio_span(0, 1, 25, bad_rate)


def test_slice_audio_pads_past_the_end():
    seg, mask = slice_audio_for_frames(torch.ones(1000), 1, 3, 25, 16000)  # wants [640, 1920)
    assert seg.shape == (1280,) and int(mask.sum()) == 360 and float(seg[360:].abs().sum()) == 0.0
    with pytest.raises(DataError, match=r"mono waveform of shape \(S,\), got \(1, 1000\)"):
        slice_audio_for_frames(torch.ones(1, 1000), 1, 3, 25, 16000)  # a channel axis would be cut as samples


def test_convert_frame_indices_hand_computed():
    np.testing.assert_array_equal(convert_frame_indices(10, 50, 25), [0, 2, 4, 6, 8])
    np.testing.assert_array_equal(convert_frame_indices(12, 30, 25), [0, 1, 2, 3, 4, 6, 7, 8, 9, 10])
    np.testing.assert_array_equal(convert_frame_indices(4, 20, 25), [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(convert_frame_indices(7, 25, 25), np.arange(7))
    # 29.97 -> 25: 36 frames last 1.2012 s -> ceil(30.03) = 31 target frames
    idx = convert_frame_indices(36, 29.97, 25)
    assert len(idx) == 31 and idx[-1] == 35 and np.all(np.diff(idx) >= 1)
    with pytest.raises(ConfigError):
        convert_frame_indices(5, 0, 25)


def test_constant_frame_rate_check():
    ts = np.round(np.arange(50) * 1001 / 30000, 3)  # 29.97 fps in a 1 ms time base: 33/34 ms steps
    assert check_constant_frame_rate(ts, "x.mp4") == pytest.approx(30.0, rel=0.02)
    bad = np.cumsum([0] + [0.04, 0.09] * 5)
    with pytest.raises(DataError, match=r"x\.mp4: variable frame rate"):
        check_constant_frame_rate(bad, "x.mp4")


def test_variable_frame_rate_file_is_refused(tmp_path):
    path = write_vfr_video(tmp_path / "vfr.mp4")
    with pytest.raises(DataError, match="vfr.mp4: variable frame rate.*talkzoo data prepare"):
        probe_video(path)
    assert probe_video(path, check_cfr=False).num_frames == 20


def test_video_without_audio(tmp_path):
    path = write_video(tmp_path / "mute.mp4", synthetic_frames(5, 32), 25)
    assert not probe_video(path).has_audio
    with pytest.raises(DataError, match="mute.mp4: has no audio track"):
        read_audio_track(path)
    # a sidecar wav is used when the container has none
    import soundfile as sf

    sf.write(tmp_path / "mute.wav", np.full(3200, 0.25, np.float32), 16000)
    wave = read_audio_track(path, audio_path=tmp_path / "mute.wav")
    assert wave.shape == (3200,) and float(wave.mean()) == pytest.approx(0.25, abs=1e-3)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(DataError, match="no such video"):
        probe_video(tmp_path / "nope.mp4")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 10)
    with pytest.raises(DataError, match="broken.mp4"):
        probe_video(broken)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no images"):
        probe_video(tmp_path / "empty")


def test_frame_folder(tmp_path):
    _frame_folder(tmp_path / "v.mp4", 12, 32, 0)
    with open_video(tmp_path / "v.mp4") as v:
        assert v.info.is_frame_folder and v.info.num_frames == 12 and v.info.fps == 25.0
        assert [decode_frame_index(f) for f in v.get_frames([11, 4])] == [11, 4]
        with pytest.raises(DataError, match="no audio track"):
            v.get_audio()


def test_mpeg_program_stream_read_with_pyav(tmp_path):
    path = tmp_path / "bbaf2n.mpg"
    _mpeg_ps(path, 30, 32, 0)
    with open_video(path) as v:
        assert (v.info.num_frames, v.info.fps) == (30, 25.0)
        assert [decode_frame_index(f) for f in v.get_frames([0, 7, 29])] == [0, 7, 29]
        wave = v.get_audio(16000)
        # the tone's envelope is 0 at t = 0 and peaks at 1/6 s: aligned audio is quiet first, loud later
        assert abs(wave.shape[0] - 19200) < 1200
        assert float(wave[:80].abs().max()) < 0.05 and float(wave[2400:2800].abs().max()) > 0.2
