"""`talkzoo animate` end to end: a checkpoint trained on a small demo corpus animates speech that
is not in the corpus (another sample rate, stereo) into an .npy and an mp4 that decodes with the
right frame count and audio duration; bad input gets a short error; nothing is overwritten."""

from __future__ import annotations

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
