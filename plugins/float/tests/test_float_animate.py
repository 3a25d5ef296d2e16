"""``talkzoo animate --image`` with a FLOAT checkpoint, as a new user would: a portrait not in any
corpus (Grace Hopper), speech at another rate in stereo; FLOAT's own options (--emotion, --nfe,
--cfg-audio, --pose-edit) change the output; an unknown option and silence are one clear line each."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import soundfile as sf
import torch

from talkzoo.audio.encoders import MelSpectrogramEncoder
from talkzoo.cli import main
from talkzoo.data.spec import VideoDataSpec
from talkzoo.tasks.base import CLASS_PATH_KEY
from talkzoo_float.metadata import TINY_FLOAT_ARGS
from talkzoo_float.model import FLOAT

HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    import lightning

    torch.manual_seed(0)
    model = FLOAT(spec=VideoDataSpec(image_size=32, fps=25.0, sample_rate=16000), audio_encoder=MelSpectrogramEncoder(n_mels=8, n_fft=256, win_length=256), **TINY_FLOAT_ARGS)
    torch.nn.init.normal_(model.fmt.final.weight, std=0.5)  # conditions matter (zero-init otherwise)
    for blk in model.fmt.blocks:
        torch.nn.init.normal_(blk.ada[-1].weight, std=0.5)
    path = tmp_path_factory.mktemp("float_animate") / "float.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams), "pytorch-lightning_version": lightning.__version__,
                CLASS_PATH_KEY: "talkzoo_float.model.FLOAT"}, path)  # fmt: skip
    return path


def _speech(path: Path, seconds: float = 1.0, rate: int = 44100) -> None:
    t = np.arange(int(seconds * rate)) / rate
    voice = 0.3 * (0.5 - 0.5 * np.cos(2 * np.pi * 3 * t)) * np.sin(2 * np.pi * 210 * t)
    sf.write(path, np.stack([voice, 0.4 * voice], axis=1), rate)


def _frames(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)]).astype(np.float32)


def _animate(ckpt, audio, out, *options):
    return main(["animate", "--ckpt", str(ckpt), "--image", str(HOPPER), "--audio", str(audio), "--out", str(out), "--no-progress", "--seed", "0", *options])


def test_float_animate_options_change_the_output(ckpt, tmp_path):
    _speech(tmp_path / "hello.wav")
    runs = {
        "base": [], "nfe": ["--nfe", "3"], "cfg": ["--cfg-audio", "4"], "emotion": ["--emotion", "happy"], "pose": ["--pose-edit", "{1: 5.0}"],
    }  # fmt: skip
    frames = {}
    for name, opts in runs.items():
        assert _animate(ckpt, tmp_path / "hello.wav", tmp_path / name, *opts) == 0
        frames[name] = _frames(tmp_path / name / "hello.mp4")
    assert frames["base"].shape == (25, 32, 32, 3)
    again = tmp_path / "again"
    assert _animate(ckpt, tmp_path / "hello.wav", again) == 0
    noise = np.abs(_frames(again / "hello.mp4") - frames["base"]).mean()  # same seed: same frames, up to H.264
    assert noise < 3.0
    for name in ("nfe", "cfg", "emotion", "pose"):  # measured: 10-22 grey levels of mean change, vs 1.7 of coding noise
        assert np.abs(frames[name] - frames["base"]).mean() > 2 * noise + 3.0, name


def test_unknown_option_and_silence_are_one_line(ckpt, tmp_path, capsys):
    _speech(tmp_path / "hello.wav")
    assert _animate(ckpt, tmp_path / "hello.wav", tmp_path / "o1", "--temperature", "2") == 2
    err = capsys.readouterr().err
    assert "--temperature" in err and "--nfe" in err and len(err.strip().splitlines()) == 1
    sf.write(tmp_path / "quiet.wav", np.zeros(16000, np.float32), 16000)
    assert _animate(ckpt, tmp_path / "quiet.wav", tmp_path / "o2") == 2
    err = capsys.readouterr().err
    assert "quiet.wav" in err and "silent" in err
    assert not (tmp_path / "o1").exists() or not any((tmp_path / "o1").iterdir())
    assert not (tmp_path / "o2").exists() or not any((tmp_path / "o2").iterdir())
