"""`talkzoo animate` end to end: a checkpoint trained on a small demo corpus animates speech that
is not in the corpus (another sample rate, stereo) into an .npy and an mp4 that decodes with the
right frame count and audio duration; bad input gets a short error; nothing is overwritten."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from talkzoo.cli import main
from talkzoo.data.demo3d import build_demo_corpus
from talkzoo.data.mesh import MeshSequenceDataModule
from talkzoo.render import read_video_info


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from lightning.pytorch import Trainer
    from talkzoo_example_mesh.model import TinyMeshModel

    root = tmp_path_factory.mktemp("animate")
    corpus = build_demo_corpus(root / "demo", num_speakers=3, sentences_per_speaker=2, progress=False)
    dm = MeshSequenceDataModule(root=str(corpus), preset="demo", batch_size=2)
    model = TinyMeshModel(spec=dm.spec)
    trainer = Trainer(accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, datamodule=dm)
    ckpt = root / "model.ckpt"
    trainer.save_checkpoint(ckpt)
    return ckpt, corpus, dm.spec


def _stereo_speech(path, seconds=1.3, rate=44100):
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 3 * t))
    left = 0.3 * envelope * np.sin(2 * np.pi * 180 * t)
    sf.write(path, np.stack([left, 0.5 * left], axis=1), rate)
    return seconds


def test_animate_writes_npy_and_decodable_mp4(trained, tmp_path, capsys):
    ckpt, corpus, spec = trained
    seconds = _stereo_speech(tmp_path / "speech.wav")
    subject = spec.speakers[0]
    status = main(["animate", "--ckpt", str(ckpt), "--audio", str(tmp_path / "speech.wav"),
                   "--subject", subject, "--out", str(tmp_path / "out"), "--size", "128"])
    assert status == 0, capsys.readouterr().err
    vertices = np.load(tmp_path / "out" / "speech.npy")
    assert vertices.shape == (round(seconds * spec.fps), spec.num_vertices, 3)
    assert vertices.dtype == np.float32 and np.isfinite(vertices).all()
    info = read_video_info(tmp_path / "out" / "speech.mp4")
    assert info["num_frames"] == vertices.shape[0]
    assert abs(info["fps"] - spec.fps) < 1e-6
    assert abs(info["audio_duration_s"] - seconds) < 1024 / 16000  # one AAC frame


def test_animate_refuses_to_overwrite_and_names_bad_input(trained, tmp_path, capsys):
    ckpt, corpus, spec = trained
    _stereo_speech(tmp_path / "speech.wav", seconds=0.5)
    args = ["animate", "--ckpt", str(ckpt), "--audio", str(tmp_path / "speech.wav"), "--out", str(tmp_path / "out"), "--no-render"]
    assert main([*args, "--subject", spec.speakers[0]]) == 0
    before = (tmp_path / "out" / "speech.npy").read_bytes()
    capsys.readouterr()
    assert main([*args, "--subject", spec.speakers[0]]) == 2
    assert "already exist" in capsys.readouterr().err
    assert (tmp_path / "out" / "speech.npy").read_bytes() == before
    assert main([*args, "--subject", "NoSuchSubject", "--overwrite"]) == 2
    assert "NoSuchSubject" in capsys.readouterr().err
    (tmp_path / "empty.wav").write_bytes(b"")
    assert main(["animate", "--ckpt", str(ckpt), "--audio", str(tmp_path / "empty.wav"), "--subject",
                 spec.speakers[0], "--out", str(tmp_path / "o2")]) == 2
    assert "empty.wav" in capsys.readouterr().err
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((10, 3), np.float32))
    assert main([*args, "--template", str(wrong), "--overwrite"]) == 2
    assert "has 10 vertices but the model was trained on" in capsys.readouterr().err


# ---------------------------------------------------------------------------- issue #11: all-or-nothing
def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("talkzoo: error:"), err
    return lines[0]


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if the model is loaded (the checks must come first)."""
    import talkzoo.checkpoints

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the inputs were checked")

    monkeypatch.setattr(talkzoo.checkpoints, "load_model", refuse)


def _good_pair(trained, tmp_path, capsys):
    ckpt, corpus, spec = trained
    _stereo_speech(tmp_path / "speech.wav", seconds=0.4)
    args = ["animate", "--ckpt", str(ckpt), "--audio", str(tmp_path / "speech.wav"), "--out", str(tmp_path / "out"),
            "--size", "64"]
    assert main([*args, "--subject", spec.speakers[0]]) == 0, capsys.readouterr().err
    capsys.readouterr()
    pair = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert sorted(pair) == ["speech.mp4", "speech.npy"]
    return args, pair


def _unchanged(tmp_path, pair):
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == pair  # no temp files either


def test_out_is_a_file_or_unwritable_before_the_model_loads(trained, tmp_path, capsys, no_model_load):
    import os

    ckpt, corpus, spec = trained
    _stereo_speech(tmp_path / "speech.wav", seconds=0.4)
    base = ["animate", "--ckpt", str(ckpt), "--audio", str(tmp_path / "speech.wav"), "--subject", spec.speakers[0]]
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("keep me")
    assert main([*base, "--out", str(blocker)]) == 2
    assert "is a file; expected a folder" in _one_line(capsys)
    assert main([*base, "--out", str(blocker / "sub")]) == 2
    assert "is a file" in _one_line(capsys)
    assert blocker.read_text() == "keep me"
    if os.geteuid() == 0:  # root may write anywhere on disk: use a folder no one can create files in
        unwritable = Path("/proc/talkzoo-animate-test/out")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        unwritable = locked / "out"
    assert main([*base, "--out", str(unwritable)]) == 2
    assert "is not writable" in _one_line(capsys)
    assert not unwritable.exists()


def test_failing_template_with_overwrite_keeps_the_old_pair(trained, tmp_path, capsys):
    args, pair = _good_pair(trained, tmp_path, capsys)
    ckpt, corpus, spec = trained
    nan_template = tmp_path / "nan.npy"
    np.save(nan_template, np.full((spec.num_vertices, 3), np.nan, np.float32))
    assert main([*args, "--template", str(nan_template), "--overwrite"]) == 2
    line = _one_line(capsys)
    assert "nan.npy" in line and "NaN" in line
    _unchanged(tmp_path, pair)
    assert main([*args, "--template", str(nan_template), "--overwrite", "--no-render"]) == 2
    assert "nan.npy" in _one_line(capsys)
    _unchanged(tmp_path, pair)


def test_render_failure_mid_write_keeps_the_old_pair(trained, tmp_path, capsys, monkeypatch):
    args, pair = _good_pair(trained, tmp_path, capsys)
    import talkzoo.render
    from talkzoo.errors import DataError

    def broken(*a, out_path, **k):
        Path(out_path).write_bytes(b"half an mp4")
        raise DataError("encoder failed")

    monkeypatch.setattr(talkzoo.render, "render_mesh_sequence", broken)
    ckpt, corpus, spec = trained
    assert main([*args, "--subject", spec.speakers[0], "--overwrite"]) == 2
    assert "encoder failed" in _one_line(capsys)
    _unchanged(tmp_path, pair)  # the new .npy was written but not moved in; no temp files left


def test_errors_leave_no_empty_folder_and_nan_weights_write_nothing(trained, tmp_path, capsys):
    import torch

    ckpt, corpus, spec = trained
    _stereo_speech(tmp_path / "speech.wav", seconds=0.4)
    out = tmp_path / "new" / "nested"
    args = ["animate", "--ckpt", str(ckpt), "--audio", str(tmp_path / "speech.wav"), "--out", str(out), "--no-render"]
    assert main([*args, "--subject", "NoSuchSubject"]) == 2
    assert "NoSuchSubject" in _one_line(capsys)
    assert not (tmp_path / "new").exists()
    state = torch.load(ckpt, weights_only=True)
    state["state_dict"] = {k: torch.full_like(v, float("nan")) for k, v in state["state_dict"].items()}
    torch.save(state, tmp_path / "nan.ckpt")
    args[2] = str(tmp_path / "nan.ckpt")
    assert main([*args, "--subject", spec.speakers[0]]) == 2
    line = _one_line(capsys)
    assert "nan.ckpt" in line and "NaN" in line
    assert not (tmp_path / "new").exists()
