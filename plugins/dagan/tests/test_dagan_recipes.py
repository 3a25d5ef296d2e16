"""The paper recipes (stage 1 and 2 on VoxCeleb1, the CelebV evaluation) run a few steps on
fixtures in the official layouts at tiny sizes; without data they stop at once saying where to
get it; a stage-2 recipe with a missing depth checkpoint stops with one line naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from talkzoo.cli import main
from talkzoo.testing.video_fixtures import write_video_fixture
from talkzoo_dagan.metadata import TINY_DAGAN_ARGS

RECIPES = Path(__file__).resolve().parents[3] / "recipes"


def _tiny_model_overrides() -> list[str]:
    out = []
    for key, value in TINY_DAGAN_ARGS.items():
        out += [f"--model.init_args.{key}", json.dumps(list(value)) if isinstance(value, tuple) else str(value)]
    return out + ["--model.init_args.perceptual_weights", "null", "--model.init_args.landmark_metrics", "false"]


def _common(root: Path, runs: Path, *, steps: int = 2) -> list[str]:
    return [
        "--data.init_args.root", str(root), "--data.init_args.image_size", "32", "--data.init_args.batch_size", "2",
        "--data.init_args.num_workers", "0", "--trainer.accelerator", "cpu", "--trainer.max_steps", str(steps),
        "--trainer.max_epochs", "1", "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0",
        "--trainer.logger.init_args.save_dir", str(runs), "--trainer.enable_progress_bar", "false",
    ]


@pytest.mark.slow
def test_paper_recipes_stage1_stage2_and_celebv_run_on_layout_fixtures(tmp_path):
    vox = write_video_fixture(tmp_path / "voxceleb1", "voxceleb1", size=32, frames=12)
    runs = tmp_path / "runs"
    status = main(["fit", "--config", str(RECIPES / "dagan_depth_voxceleb.yaml"), *_common(vox, runs),
                   "--model.init_args.scales", "[0]", "--model.init_args.lr_scheduler", "null"])
    assert status == 0
    depth_run = runs / "dagan_depth_voxceleb"
    assert list(depth_run.rglob("*.ckpt"))
    status = main(["fit", "--config", str(RECIPES / "dagan_voxceleb.yaml"), *_common(vox, runs),
                   "--model.init_args.depth_checkpoint", str(depth_run), *_tiny_model_overrides()])
    assert status == 0
    stage2 = sorted((runs / "dagan_voxceleb").rglob("last.ckpt"))
    assert stage2
    celebv = write_video_fixture(tmp_path / "celebv", "celebv", size=32, frames=12)
    status = main(["test", "--config", str(RECIPES / "dagan_celebv.yaml"), "--ckpt_path", str(stage2[0]),
                   "--data.init_args.root", str(celebv), "--data.init_args.image_size", "32",
                   "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false", *_tiny_model_overrides()])
    assert status == 0


@pytest.mark.parametrize("recipe", ["dagan_depth_voxceleb", "dagan_voxceleb", "dagan_celebv"])
def test_real_recipe_without_data_says_where_to_get_it(tmp_path, capsys, monkeypatch, recipe):
    monkeypatch.chdir(tmp_path)
    verb = "test" if recipe == "dagan_celebv" else "fit"
    status = main([verb, "--config", str(RECIPES / f"{recipe}.yaml")])
    err = capsys.readouterr().err
    assert status == 2
    assert "talkzoo data prepare" in err or "celebv" in err.lower()
    assert err.count("\n") <= 2, err
    assert not (tmp_path / "runs").exists()


def test_stage2_recipe_with_missing_depth_checkpoint_is_one_line(tmp_path, capsys, monkeypatch):
    root = write_video_fixture(tmp_path / "voxceleb1", "voxceleb1", size=32, frames=8)
    monkeypatch.chdir(tmp_path)
    status = main(["fit", "--config", str(RECIPES / "dagan_voxceleb.yaml"), *_common(root, tmp_path / "runs"),
                   "--model.init_args.depth_checkpoint", "runs/no_such_stage1", *_tiny_model_overrides()])
    err = capsys.readouterr().err
    assert status == 2
    assert "no_such_stage1" in err and "train stage 1" in err and err.count("\n") <= 2, err
    assert not list((tmp_path / "runs").rglob("*.ckpt"))
