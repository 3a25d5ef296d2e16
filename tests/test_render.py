"""Tests of talkzoo.render: mp4 writing (video.py) and headless mesh rendering (mesh.py).

Everything is CPU-only and small: a ~640-vertex icosphere, 20 frames, 128-pixel panels.
"""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import pytest
import trimesh

from talkzoo.errors import ConfigError, DataError
from talkzoo.render import read_video_info, render_mesh_sequence, write_video
from talkzoo.render import mesh as mesh_module

T = 20
SIZE = 128


def _sine(seconds: float, sr: int) -> np.ndarray:
    n = int(round(seconds * sr))
    return (0.3 * np.sin(2 * np.pi * 220.0 * np.arange(n) / sr)).astype(np.float32)


def _decode_rgb(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def sphere() -> tuple[np.ndarray, np.ndarray]:
    """A head-sized icosphere (radius 0.1 m): 642 vertices, 1280 faces."""
    m = trimesh.creation.icosphere(subdivisions=3, radius=0.1)
    return np.asarray(m.vertices, dtype=np.float32), np.asarray(m.faces, dtype=np.int64)


def _talking(template: np.ndarray, frames: int = T) -> np.ndarray:
    """Open and close the 'jaw': vertices below the equator move down and back up (metres)."""
    t = np.arange(frames, dtype=np.float32)[:, None]
    offset = 0.02 * np.abs(np.sin(t * math.pi / 6))  # (T, 1); frame 0 is the template
    seq = np.repeat(template[None], frames, axis=0)
    lower = template[:, 1] < 0
    seq[:, lower, 1] -= offset
    return seq


# ----------------------------------------------------------------------------- write_video


@pytest.mark.parametrize(("fps", "sr"), [(25.0, 16000), (30.0, 22050), (29.97, 44100)])
def test_write_video_counts_rate_size_and_audio(tmp_path: Path, fps: float, sr: int) -> None:
    frames = np.random.default_rng(0).integers(0, 256, size=(T, 48, 64, 3), dtype=np.uint8)
    audio = _sine(T / fps + 0.37, sr)  # audio need not match the video length
    out = write_video(tmp_path / "clip.mp4", frames, fps, audio=audio, sample_rate=sr)
    assert out == tmp_path / "clip.mp4"
    info = read_video_info(out)
    assert info["num_frames"] == T
    assert info["fps"] == pytest.approx(fps, abs=1e-3)
    assert (info["width"], info["height"]) == (64, 48)
    assert info["audio_sample_rate"] == sr
    assert info["audio_duration_s"] == pytest.approx(audio.size / sr, abs=1024 / sr)
    assert _leftovers(tmp_path) == ["clip.mp4"]


def test_write_video_without_audio_and_odd_size_is_padded(tmp_path: Path) -> None:
    frames = np.full((5, 31, 45, 3), 200, dtype=np.uint8)
    info = read_video_info(write_video(tmp_path / "odd.mp4", frames, 30))
    assert (info["num_frames"], info["width"], info["height"]) == (5, 46, 32)
    assert info["audio_duration_s"] is None and info["audio_sample_rate"] is None


def test_write_video_streams_from_a_generator(tmp_path: Path) -> None:
    produced = []

    def frames():
        for i in range(T):
            produced.append(i)
            yield np.full((32, 32, 3), i * 10, dtype=np.uint8)

    audio = _sine(T / 25, 16000)
    info = read_video_info(write_video(tmp_path / "gen.mp4", frames(), 25, audio=audio, sample_rate=16000))
    assert produced == list(range(T))
    assert info["num_frames"] == T
    assert info["audio_duration_s"] == pytest.approx(T / 25, abs=1024 / 16000)
    decoded = _decode_rgb(tmp_path / "gen.mp4")
    assert np.abs(decoded[:, 16, 16, :].mean(axis=1) - np.arange(T) * 10).max() < 6  # frame order kept


def test_write_video_accepts_torch_audio(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    audio = torch.from_numpy(_sine(0.5, 16000))
    frames = np.zeros((3, 16, 16, 3), dtype=np.uint8)
    info = read_video_info(write_video(tmp_path / "t.mp4", frames, 25, audio=audio, sample_rate=16000))
    assert info["audio_duration_s"] == pytest.approx(0.5, abs=1024 / 16000)


def test_write_video_resamples_rates_aac_cannot_store(tmp_path: Path) -> None:
    audio = _sine(0.6, 11000)
    info = read_video_info(write_video(tmp_path / "r.mp4", np.zeros((2, 16, 16, 3), np.uint8), 25, audio, 11000))
    assert info["audio_sample_rate"] == 48000
    assert info["audio_duration_s"] == pytest.approx(0.6, abs=1024 / 48000)


def test_failing_generator_leaves_no_file(tmp_path: Path) -> None:
    def frames():
        for i in range(10):
            if i == 6:
                raise RuntimeError("model crashed mid-sequence")
            yield np.zeros((16, 16, 3), dtype=np.uint8)

    with pytest.raises(RuntimeError, match="mid-sequence"):
        write_video(tmp_path / "broken.mp4", frames(), 25, audio=_sine(1.0, 16000), sample_rate=16000)
    assert _leftovers(tmp_path) == []


def test_failure_keeps_an_existing_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "keep.mp4"
    target.write_bytes(b"previous result")
    bad = [np.zeros((16, 16, 3), np.uint8)] * 3 + [np.zeros((16, 17, 3), np.uint8)]
    with pytest.raises(DataError, match=r"frames\[3\]"):
        write_video(target, bad, 25)
    assert target.read_bytes() == b"previous result"
    assert _leftovers(tmp_path) == ["keep.mp4"]
    write_video(target, bad[:3], 25)  # a successful write replaces it
    assert read_video_info(target)["num_frames"] == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"frames": np.zeros((2, 8, 8), np.uint8)}, DataError, "frames"),
        ({"frames": np.zeros((2, 8, 8, 3), np.float32)}, DataError, r"frames\[0\]"),
        ({"frames": np.zeros((0, 8, 8, 3), np.uint8)}, DataError, "frames"),
        ({"frames": [np.zeros((8, 8, 4), np.uint8)]}, DataError, r"frames\[0\]"),
        ({"audio": np.zeros(100, np.float32)}, DataError, "sample_rate"),
        ({"audio": np.zeros((2, 100), np.float32), "sample_rate": 16000}, DataError, "audio"),
        ({"audio": np.full(100, np.nan, np.float32), "sample_rate": 16000}, DataError, "audio"),
        ({"audio": np.zeros(100, np.int16), "sample_rate": 16000}, DataError, "audio"),
        ({"fps": 0}, ConfigError, "fps"),
        ({"crf": 99}, ConfigError, "crf"),
    ],
)
def test_write_video_rejects_bad_input(tmp_path: Path, kwargs: dict, error: type, field: str) -> None:
    args = {"frames": np.zeros((2, 8, 8, 3), np.uint8), "fps": 25.0, **kwargs}
    with pytest.raises(error, match=field):
        write_video(tmp_path / "bad.mp4", **args)
    assert _leftovers(tmp_path) == []


def test_read_video_info_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such video file"):
        read_video_info(tmp_path / "absent.mp4")


# ----------------------------------------------------------------------------- render_mesh_sequence


def test_render_mesh_sequence_writes_video_with_audio(tmp_path: Path, sphere) -> None:
    verts, faces = sphere
    audio = _sine(T / 30, 16000)
    out = render_mesh_sequence(
        _talking(verts), faces, fps=30, audio=audio, sample_rate=16000,
        out_path=tmp_path / "pred.mp4", size=SIZE, progress=False, title="icosphere",
    )
    info = read_video_info(out)
    assert info["num_frames"] == T
    assert info["fps"] == pytest.approx(30.0)
    assert (info["width"], info["height"]) == (SIZE, SIZE)
    assert info["audio_duration_s"] == pytest.approx(T / 30, abs=1024 / 16000)
    first = _decode_rgb(out)[0].astype(np.float32)
    assert first.var() > 100.0  # a shaded sphere on white, not a blank frame


def test_side_by_side_doubles_width(tmp_path: Path, sphere) -> None:
    verts, faces = sphere
    seq = _talking(verts)
    out = render_mesh_sequence(
        seq, faces, fps=25, out_path=tmp_path / "pair.mp4", ground_truth=seq[::-1].copy(),
        size=SIZE, progress=False,
    )
    info = read_video_info(out)
    assert (info["num_frames"], info["width"], info["height"]) == (T, 2 * SIZE, SIZE)
    assert info["audio_duration_s"] is None


def test_torch_inputs_render(tmp_path: Path, sphere) -> None:
    torch = pytest.importorskip("torch")
    verts, faces = sphere
    out = render_mesh_sequence(
        torch.from_numpy(_talking(verts, 4)), torch.from_numpy(faces), fps=30,
        out_path=tmp_path / "torch.mp4", size=64, progress=False,
    )
    assert read_video_info(out)["num_frames"] == 4


def _captured_frames(monkeypatch, sphere, pred: np.ndarray, gt: np.ndarray | None) -> np.ndarray:
    """Run the renderer with write_video replaced by a collector; return the raw RGB frames."""
    captured = []

    def collect(path, frames, fps, audio=None, sample_rate=None, crf=18):
        captured.extend(frames)
        return Path(path)

    monkeypatch.setattr(mesh_module, "write_video", collect)
    render_mesh_sequence(pred, sphere[1], fps=30, out_path="unused.mp4", ground_truth=gt, size=SIZE, progress=False)
    return np.stack(captured)


def test_moving_vertices_change_pixels_static_ones_do_not(monkeypatch, sphere) -> None:
    verts, _ = sphere
    moving = _talking(verts)
    static = np.repeat(verts[None], T, axis=0)
    frames = _captured_frames(monkeypatch, sphere, moving, static)
    assert frames.shape == (T, SIZE, 2 * SIZE, 3) and frames.dtype == np.uint8
    pred, gt = frames[:, :, :SIZE], frames[:, :, SIZE:]
    assert pred[0].astype(np.float32).var() > 100.0 and gt[0].astype(np.float32).var() > 100.0
    # Prediction panel: the jaw moves from frame 0 to frame 3 (2 cm), so pixels change.
    assert np.abs(pred[3].astype(int) - pred[0].astype(int)).mean() > 1.0
    # Ground-truth panel: a static mesh under a fixed camera renders identically.
    for t in range(1, T):
        np.testing.assert_array_equal(gt[t], gt[0])


def test_framing_is_fixed_from_the_first_frame(monkeypatch, sphere) -> None:
    verts, _ = sphere
    # Rigidly translate the whole mesh by 1 cm per frame: with a fixed camera the silhouette moves.
    seq = verts[None] + np.array([0.01, 0.0, 0.0], np.float32) * np.arange(4, dtype=np.float32)[:, None, None]
    frames = _captured_frames(monkeypatch, sphere, seq, None)
    mask = (frames.astype(int).sum(axis=-1) < 3 * 250)  # non-background pixels
    cols = [np.flatnonzero(m.any(axis=0)) for m in mask]
    assert cols[3][0] > cols[0][0] and cols[3][-1] > cols[0][-1]


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"vertices": np.zeros((T, 642 * 3), np.float32)}, DataError, "vertices"),
        ({"vertices": np.zeros((642, 3), np.float32)}, DataError, "vertices"),
        ({"faces": np.array([[0, 1, 642]])}, DataError, "faces"),
        ({"faces": np.array([[0, 1, -1]])}, DataError, "faces"),
        ({"faces": np.zeros((4, 4), np.int64)}, DataError, "faces"),
        ({"faces": np.full((2, 3), 0.5)}, DataError, "faces"),
        ({"ground_truth": np.zeros((T - 1, 642, 3), np.float32)}, DataError, "ground_truth"),
        ({"nan_vertices": True}, DataError, "vertices"),
        ({"nan_ground_truth": True}, DataError, "ground_truth"),
        ({"audio": np.zeros(1000, np.float32)}, DataError, "sample_rate"),
        ({"view": "top"}, ConfigError, "view"),
        ({"size": 4}, ConfigError, "size"),
        ({"fps": -1}, ConfigError, "fps"),
    ],
)
def test_render_rejects_bad_input(tmp_path: Path, sphere, change: dict, error: type, field: str) -> None:
    verts, faces = sphere
    seq = _talking(verts)
    args = {"vertices": seq, "faces": faces, "fps": 30, "out_path": tmp_path / "bad.mp4",
            "size": 32, "progress": False, **change}
    if args.pop("nan_vertices", False):
        args["vertices"] = seq.copy()
        args["vertices"][7, 3, 1] = np.nan
    if args.pop("nan_ground_truth", False):
        args["ground_truth"] = seq.copy()
        args["ground_truth"][2, 0, 0] = np.inf
    with pytest.raises(error, match=field):
        render_mesh_sequence(**args)
    assert _leftovers(tmp_path) == []
