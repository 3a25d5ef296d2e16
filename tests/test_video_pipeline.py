"""The talking-video family end to end, as a user runs it: the 2D demo corpus, the tiny audio → video
and reenactment models of ``talkzoo.testing`` trained through ``talkzoo fit`` from their recipes,
and ``talkzoo test`` reporting PSNR, SSIM, CPBD and the landmark metric (LMD / AKD, named after its landmarker)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from talkzoo.data.demo2d import build_video_demo_corpus

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder holding ``data/demo2d``: 2 voices x 4 sentences at 128 px (FaceMesh needs >= 128)."""
    work = tmp_path_factory.mktemp("video_pipeline")
    build_video_demo_corpus(work / "data" / "demo2d", num_speakers=2, sentences_per_speaker=4, size=128, progress=False)
    return work


def _metrics(stdout: str) -> dict[str, float]:
    """Parse Lightning's printed test table (``│ test/PSNR │ 27.1 │``)."""
    found = {}
    for name, value in re.findall(r"(test/[\w@.-]+)\s*[│|]\s*([-+0-9.eE]+|nan|inf)", stdout):
        found[name] = float(value)
    return found


@pytest.mark.parametrize(
    ("recipe", "landmark_metric"),
    [("tiny_audio2video_demo", "test/LMD"), ("tiny_reenact_demo", "test/AKD")],
)
def test_tiny_model_fits_and_tests_on_the_2d_demo_corpus(talkzoo_cli, workdir, recipe, landmark_metric):
    config = str(REPO / "recipes" / f"{recipe}.yaml")
    short = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--data.init_args.max_eval_frames", "12"]
    fit = talkzoo_cli("fit", "--config", config, *short, cwd=workdir)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert list((workdir / "runs" / recipe).rglob("last.ckpt"))

    test = talkzoo_cli("test", "--config", config, "--ckpt_path", f"runs/{recipe}",
                       "--data.init_args.max_eval_frames", "12", cwd=workdir)
    assert test.returncode == 0, test.stderr[-3000:]
    metrics = _metrics(test.stdout)
    # the landmark metric's name says which landmarker measured it: LMD@dlib68 with the dlib extra,
    # LMD@facemesh68 without
    from talkzoo.landmarks import default_landmarker_name

    landmark_metric = f"{landmark_metric}@{default_landmarker_name()}"
    for name in ("test/PSNR", "test/SSIM", "test/CPBD", landmark_metric):
        assert name in metrics, (name, test.stdout[-3000:])
        assert math.isfinite(metrics[name]), (name, metrics)
    # the tiny models start from the source frame and learn a residual: frames stay near the truth
    # (reenactment sources are another speaker's crop, hence the lower floor)
    assert metrics["test/PSNR"] > 10.0 and 0.2 < metrics["test/SSIM"] <= 1.0
    assert 0.0 <= metrics["test/CPBD"] <= 1.0
    # landmarks found on both generated and real frames, a few pixels apart at 128 px
    assert 0.0 <= metrics[landmark_metric] < 10.0
