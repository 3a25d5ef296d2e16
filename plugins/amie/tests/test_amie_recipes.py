"""The paper recipes run on fixtures in the official layouts at tiny sizes (LRW: fit; GRID: the
cross-dataset test of the LRW checkpoint), the demo recipe parses, and the real recipes stop at once
without data or with a missing perceptual-network file."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkzoo.cli import main
from talkzoo.testing.video_fixtures import write_video_fixture

RECIPES = Path(__file__).resolve().parents[3] / "recipes"

#: tiny model overrides for the paper recipes (32 px fixtures, random-VGG substitute)
TINY = [
    "--model.init_args.resolution", "32", "--model.init_args.base_channels", "4", "--model.init_args.max_channels", "8",
    "--model.init_args.audio_dim", "8", "--model.init_args.audio_channels", "4", "--model.init_args.classifier_dim", "16",
    "--model.init_args.perceptual_weights", "null", "--model.init_args.perceptual_layers", "[relu1_1]",
]
DATA = ["--data.init_args.image_size", "32", "--data.init_args.num_workers", "0", "--data.init_args.batch_size", "2"]


def _fit_lrw(tmp_path: Path) -> Path:
    root = write_video_fixture(tmp_path / "lrw", "lrw", size=32)
    status = main([
        "fit", "--config", str(RECIPES / "amie_lrw.yaml"), "--data.init_args.root", str(root), *DATA, *TINY,
        "--data.init_args.clip_frames", "6", "--trainer.accelerator", "cpu", "--trainer.max_steps", "2",
        "--trainer.max_epochs", "1", "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0",
        "--trainer.logger.init_args.save_dir", str(tmp_path / "runs"), "--trainer.enable_progress_bar", "false",
    ])
    assert status == 0
    ckpts = sorted((tmp_path / "runs").rglob("last.ckpt"))
    assert ckpts, "no checkpoint written"
    return ckpts[0]


def test_lrw_recipe_fits_on_an_lrw_layout_fixture_and_grid_recipe_tests_it(tmp_path, capsys):
    ckpt = _fit_lrw(tmp_path)
    grid = write_video_fixture(tmp_path / "grid", "grid", size=32, frames=12)
    status = main([
        "test", "--config", str(RECIPES / "amie_grid.yaml"), "--ckpt_path", str(ckpt), "--data.init_args.root", str(grid),
        *DATA, *TINY, "--trainer.accelerator", "cpu", "--trainer.logger.init_args.save_dir", str(tmp_path / "runs_grid"),
        "--trainer.enable_progress_bar", "false",
    ])
    assert status == 0
    out = capsys.readouterr().out
    assert "test/PSNR" in out and "test/SSIM" in out


@pytest.mark.parametrize("recipe, hint", [("amie_lrw", "robots.ox.ac.uk"), ("amie_grid", "talkzoo data prepare grid")])
def test_paper_recipe_without_data_says_where_to_get_it(tmp_path, capsys, monkeypatch, recipe, hint):
    monkeypatch.chdir(tmp_path)
    status = main(["fit" if recipe == "amie_lrw" else "test", "--config", str(RECIPES / f"{recipe}.yaml")])
    err = capsys.readouterr().err
    assert status == 2
    assert hint in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_missing_perceptual_file_is_one_line_and_nothing_is_written(tmp_path, capsys, monkeypatch):
    root = write_video_fixture(tmp_path / "lrw", "lrw", size=32)
    monkeypatch.chdir(tmp_path)
    tiny = [a if a != "null" else "weights/no_such_vgg19.pth" for a in TINY]
    status = main(["fit", "--config", str(RECIPES / "amie_lrw.yaml"), "--data.init_args.root", str(root), *DATA, *tiny,
                   "--trainer.accelerator", "cpu", "--trainer.max_steps", "1"])
    err = capsys.readouterr().err
    assert status == 2
    assert "no_such_vgg19.pth" in err and len(err.strip().splitlines()) == 1, err
    assert not list((tmp_path / "runs").rglob("*.ckpt")) if (tmp_path / "runs").exists() else True
