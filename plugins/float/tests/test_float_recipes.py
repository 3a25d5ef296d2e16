"""The paper recipes of both stages run two steps on fixtures in the HDTF and RAVDESS layouts
(tiny sizes, random-weight wav2vec 2.0, offline); without data they stop at once and say where to
get it; a stage-2 recipe with a missing stage-1 checkpoint stops with one line naming the file."""

import json
from pathlib import Path

import pytest

from talkzoo.cli import main
from talkzoo.testing.recipes import TINY_SPEECH_ENCODER, run_recipe_on_fixture
from talkzoo.testing.video_fixtures import write_video_fixture

RECIPES = Path(__file__).resolve().parents[3] / "recipes"

TINY_AE = [
    "--model.init_args.network_size", "16", "--model.init_args.latent_dim", "16", "--model.init_args.num_motions", "4",
    "--model.init_args.channel_base", "128", "--model.init_args.max_channels", "16", "--model.init_args.mlp_layers", "1",
    "--model.init_args.component_channels", "4", "--model.init_args.perceptual_weights", "null",
    "--model.init_args.perceptual_scales", "[1.0]", "--model.init_args.perceptual_layers", "[relu1_1]",
]  # fmt: skip
TINY_FMT = [
    "--model.init_args.hidden_dim", "16", "--model.init_args.depth", "1", "--model.init_args.num_heads", "2",
    "--model.init_args.audio_dim", "8", "--model.init_args.nfe", "2", "--data.init_args.max_eval_frames", "12",
    "--model.init_args.latent_cache", "null",
]  # fmt: skip


def _common(root: Path, runs: Path) -> list[str]:
    return [
        "--data.init_args.root", str(root), "--data.init_args.image_size", "32", "--data.init_args.batch_size", "2",
        "--data.init_args.num_workers", "0", "--trainer.accelerator", "cpu", "--trainer.max_steps", "2",
        "--trainer.limit_val_batches", "1", "--trainer.val_check_interval", "2", "--trainer.num_sanity_val_steps", "0",
        "--trainer.logger.init_args.save_dir", str(runs), "--trainer.enable_progress_bar", "false",
    ]  # fmt: skip


@pytest.mark.parametrize("dataset", ["hdtf", pytest.param("ravdess", marks=pytest.mark.slow)])
def test_paper_recipes_run_both_stages_on_layout_fixture(tmp_path, dataset):
    root = write_video_fixture(tmp_path / dataset, preset=dataset, size=32, frames=70)
    runs = tmp_path / "runs"
    status = main(["fit", "--config", str(RECIPES / f"float_ae_{dataset}.yaml"), *_common(root, runs), *TINY_AE])
    assert status == 0
    stage1 = runs / f"float_ae_{dataset}"
    assert list(stage1.rglob("*.ckpt")), "no stage-1 checkpoint written"
    extra = ["--model.init_args.emotion", "none"] if dataset == "hdtf" else []
    status = run_recipe_on_fixture(
        RECIPES / f"float_{dataset}.yaml", root, runs, "--model.init_args.stage1_checkpoint", str(stage1),
        "--data.init_args.image_size", "32", "--data.init_args.num_workers", "0", *TINY_FMT, *extra,
    )  # fmt: skip
    assert status == 0
    assert list((runs / f"float_{dataset}").rglob("*.ckpt")), "no stage-2 checkpoint written"


def test_real_recipe_without_data_says_where_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status = main(["fit", "--config", str(RECIPES / "float_ae_hdtf.yaml"), "--model.init_args.perceptual_weights", "null"])
    err = capsys.readouterr().err
    assert status == 2
    assert "HDTF" in err and "talkzoo data prepare hdtf" in err


def test_stage2_recipe_without_stage1_checkpoint_names_it(tmp_path, capsys, monkeypatch):
    root = write_video_fixture(tmp_path / "data" / "ravdess", preset="ravdess", size=32, frames=20)
    monkeypatch.chdir(tmp_path)
    status = main([
        "fit", "--config", str(RECIPES / "float_ravdess.yaml"), "--data.init_args.root", str(root), "--data.init_args.image_size", "32",
        "--model.init_args.audio_encoder.init_args.random_init", "true",
        "--model.init_args.audio_encoder.init_args.config_overrides", json.dumps(TINY_SPEECH_ENCODER),
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2
    assert "runs/float_ae_ravdess" in err and "does not exist" in err
    assert not (tmp_path / "runs").exists(), "something was written before the error"
