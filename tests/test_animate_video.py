"""``talkzoo animate`` for the 2D families: a portrait not in any corpus (Grace Hopper, from
matplotlib's sample data) and speech not in any corpus (a 44.1 kHz stereo tone-burst voice) through
the tiny audio → video model of ``talkzoo.testing``; reenactment from a driving video; bad input as
a new user would try it, each one line, nothing written half-way."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import soundfile as sf
import torch

from talkzoo.cli import main
from talkzoo.data.spec import ReenactmentDataSpec, VideoDataSpec
from talkzoo.render import read_video_info
from talkzoo.tasks.base import CLASS_PATH_KEY
from talkzoo.testing.models import TinyAudioToVideo, TinyReenactment

HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def _checkpoint(model, path: Path) -> Path:
    """A talkzoo checkpoint as Lightning writes it (class path, hyper-parameters, weights)."""
    import lightning

    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                "pytorch-lightning_version": lightning.__version__,
                CLASS_PATH_KEY: f"{type(model).__module__}.{type(model).__qualname__}"}, path)
    return path


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("animate_video")
    torch.manual_seed(0)
    a2v = TinyAudioToVideo(spec=VideoDataSpec(image_size=64, fps=25.0, sample_rate=16000), scale=2)
    torch.nn.init.normal_(a2v.body.out.weight, std=0.05)
    reen = TinyReenactment(spec=ReenactmentDataSpec(image_size=64), scale=2)
    return _checkpoint(a2v, root / "a2v.ckpt"), _checkpoint(reen, root / "reen.ckpt")


def _speech(path: Path, seconds: float = 2.3, rate: int = 44100) -> float:
    t = np.arange(int(seconds * rate)) / rate
    voice = 0.3 * (0.5 - 0.5 * np.cos(2 * np.pi * 3 * t)) * np.sin(2 * np.pi * 210 * t)
    sf.write(path, np.stack([voice, 0.4 * voice], axis=1), rate)
    return seconds


def test_animate_image_writes_mp4_with_frames_and_audio_of_the_speech(ckpts, tmp_path, capsys):
    seconds = _speech(tmp_path / "hello.wav")
    out = tmp_path / "out"
    assert main(["animate", "--ckpt", str(ckpts[0]), "--image", str(HOPPER), "--audio", str(tmp_path / "hello.wav"),
                 "--out", str(out), "--no-progress", "--window-frames", "20"]) == 0
    info = read_video_info(out / "hello.mp4")
    assert abs(info["num_frames"] - seconds * 25) <= 1
    assert (info["width"], info["height"]) == (64, 64)
    assert abs(info["audio_duration_s"] - seconds) <= 0.1
    # refuses to overwrite, one line; --overwrite replaces
    assert main(["animate", "--ckpt", str(ckpts[0]), "--image", str(HOPPER), "--audio", str(tmp_path / "hello.wav"),
                 "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "already exists" in err[-1] and "--overwrite" in err[-1]


def test_reenactment_from_a_driving_video(ckpts, tmp_path):
    from PIL import Image

    from talkzoo.render.video import write_video

    portrait = np.asarray(Image.open(HOPPER).convert("RGB"))
    frames = [np.roll(portrait, 3 * k, axis=1) for k in range(12)]
    wave = 0.1 * np.sin(np.linspace(0, 200, 12 * 640)).astype(np.float32)
    write_video(tmp_path / "drive.mp4", frames, 25, audio=wave, sample_rate=16000)
    out = tmp_path / "out"
    assert main(["animate", "--ckpt", str(ckpts[1]), "--source", str(HOPPER), "--driving", str(tmp_path / "drive.mp4"),
                 "--out", str(out), "--no-progress"]) == 0
    info = read_video_info(out / "drive.mp4")
    assert info["num_frames"] == 12 and info["width"] == 64
    assert abs(info["audio_duration_s"] - 12 / 25) <= 0.1


@pytest.mark.parametrize("case", ["no_face", "text_as_jpg", "missing", "wrong_family"])
def test_bad_input_is_one_line_and_writes_nothing(ckpts, tmp_path, capsys, case):
    _speech(tmp_path / "s.wav", seconds=0.5)
    image, ckpt = str(HOPPER), str(ckpts[0])
    if case == "no_face":
        image = str(tmp_path / "wall.png")
        from PIL import Image

        Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(image)
    elif case == "text_as_jpg":
        image = str(tmp_path / "notes.jpg")
        Path(image).write_text("not an image\n")
    elif case == "missing":
        image = str(tmp_path / "nope.jpg")
    else:
        ckpt = str(ckpts[1])
    out = tmp_path / "out"
    assert main(["animate", "--ckpt", ckpt, "--image", image, "--audio", str(tmp_path / "s.wav"),
                 "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("talkzoo: error:"), err
    expected = {"no_face": "no face found", "text_as_jpg": "not a readable image", "missing": "not found",
                "wrong_family": "video-to-video model"}[case]
    assert expected in err[0]
    assert not list(out.glob("*")) if out.exists() else True


def test_driving_video_with_faceless_frames_keeps_the_crop(ckpts, tmp_path):
    """Documented behaviour: the driving crop is fixed from the frames where a face was found;
    frames without a face keep that crop (one output frame per driving frame, nothing dropped)."""
    from PIL import Image

    from talkzoo.render.video import write_video

    portrait = np.asarray(Image.open(HOPPER).convert("RGB"))
    blank = np.full_like(portrait, 40)
    frames = [portrait] * 6 + [blank] * 9  # faces on sampled frames 0 and 5, none on 10
    write_video(tmp_path / "partly.mp4", frames, 25)
    assert main(["animate", "--ckpt", str(ckpts[1]), "--source", str(HOPPER), "--driving", str(tmp_path / "partly.mp4"),
                 "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    assert read_video_info(tmp_path / "out" / "partly.mp4")["num_frames"] == 15
    # a driving video with no face at all is one line, nothing written
    write_video(tmp_path / "noface.mp4", [blank] * 6, 25)
    assert main(["animate", "--ckpt", str(ckpts[1]), "--source", str(HOPPER), "--driving", str(tmp_path / "noface.mp4"),
                 "--out", str(tmp_path / "out2"), "--no-progress"]) == 2
    assert not (tmp_path / "out2" / "noface.mp4").exists()


def test_portrait_smaller_than_the_model_is_upscaled_with_a_warning(ckpts, tmp_path, capsys):
    from PIL import Image

    small = Image.open(HOPPER).convert("RGB").resize((128, 150), Image.Resampling.LANCZOS)
    small.save(tmp_path / "small.png")
    model = TinyAudioToVideo(spec=VideoDataSpec(image_size=128, fps=25.0, sample_rate=16000))
    ckpt = _checkpoint(model, tmp_path / "big.ckpt")
    _speech(tmp_path / "s.wav", seconds=0.4)
    assert main(["animate", "--ckpt", str(ckpt), "--image", str(tmp_path / "small.png"), "--audio", str(tmp_path / "s.wav"),
                 "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    assert "smaller than the model's 128 px; it is upscaled" in capsys.readouterr().err
    assert read_video_info(tmp_path / "out" / "s.mp4")["width"] == 128
