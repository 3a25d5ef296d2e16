"""The `talkzoo` command as a user meets it: listing, info, training a third-party plugin, and the
short errors for common mistakes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from talkzoo.plugins import PluginInfo, discover_plugins, get_model
from talkzoo.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "tests" / "plugins"


def _short_error(result: subprocess.CompletedProcess) -> str:
    """Assert the run failed with one short `talkzoo: error:` message and no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.startswith("talkzoo: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_list_shows_examples_and_broken_plugin(talkzoo_cli):
    result = talkzoo_cli("list")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:] if line.strip()}
    for name in ("example-mesh", "example-video", "example-reenact"):
        assert name in rows and " ok " in rows[name], result.stdout
    assert "BROKEN" in rows["example-broken"]
    assert "ModuleNotFoundError" in rows["example-broken"]
    assert "audio-to-mesh" in rows["example-mesh"] and "video-to-video" in rows["example-reenact"]


def test_list_imports_no_torch():
    code = "import sys; from talkzoo.cli import main; main(['list']); main(['info', 'example-mesh']); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_discovery_isolates_a_broken_plugin():
    records = {r.name: r for r in discover_plugins(refresh=True)}
    assert not records["example-broken"].ok and records["example-broken"].detail
    assert records["example-mesh"].ok and isinstance(records["example-mesh"].info, PluginInfo)
    assert get_model("example-mesh")[1].class_path == "talkzoo_example_mesh.model.TinyMeshModel"


def test_autoload_can_be_turned_off(talkzoo_cli):
    result = talkzoo_cli("list", env={"TALKZOO_NO_PLUGIN_AUTOLOAD": "1"})
    assert result.returncode == 0 and "discovery is off" in result.stdout
    assert "example-mesh" not in result.stdout


def test_get_model_suggests_close_names():
    with pytest.raises(ConfigError, match="Did you mean 'example-mesh'"):
        get_model("example-mesch")


def test_info_shows_paper_licence_and_typed_arguments(talkzoo_cli):
    result = talkzoo_cli("info", "example-mesh")
    assert result.returncode == 0, result.stderr
    assert "audio-to-mesh" in result.stdout and "Apache-2.0" in result.stdout
    assert "hidden: int = 32" in result.stdout


@pytest.mark.parametrize("family", ["mesh", "video", "reenact"])
def test_third_party_plugin_trains_through_talkzoo_fit(talkzoo_cli, tmp_path, family):
    import torch

    recipe = EXAMPLES / f"example-{family}" / "recipe.yaml"
    result = talkzoo_cli(
        "fit", "--config", str(recipe), "--trainer.default_root_dir", str(tmp_path),
        "--trainer.enable_checkpointing", "true", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "config.yaml").is_file()  # LightningCLI saved the resolved config
    ckpts = sorted(p.name for p in tmp_path.rglob("*.ckpt"))
    assert ckpts == ["epoch=0-step=2.ckpt", "last.ckpt"]  # Lightning's default checkpoint, plus the last state
    state = torch.load(next(tmp_path.rglob("last.ckpt")), map_location="cpu", weights_only=True)
    assert state["global_step"] == 2  # two optimiser steps of the plugin's model ran
    assert state["_talkzoo_class_path"].startswith(f"talkzoo_example_{family}.model.")


def test_unknown_command(talkzoo_cli):
    assert "Did you mean 'fit'" in _short_error(talkzoo_cli("fitt"))


def test_missing_config_file(talkzoo_cli, tmp_path):
    msg = _short_error(talkzoo_cli("fit", "--config", "recipes/nope.yaml", cwd=REPO))
    assert "'recipes/nope.yaml' not found" in msg


def _recipe(tmp_path: Path, text: str) -> str:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return str(path)


BASE = (EXAMPLES / "example-mesh" / "recipe.yaml").read_text()


def test_unknown_model_lists_installed_models(talkzoo_cli, tmp_path):
    path = _recipe(tmp_path, BASE.replace("TinyMeshModel", "TinyMeshModle"))
    msg = _short_error(talkzoo_cli("fit", "--config", path, cwd=tmp_path))
    assert "unknown model class 'talkzoo_example_mesh.model.TinyMeshModle'" in msg
    assert "example-mesh (talkzoo_example_mesh.model.TinyMeshModel)" in msg


def test_model_id_instead_of_class_path_is_explained(talkzoo_cli, tmp_path):
    path = _recipe(tmp_path, BASE.replace("talkzoo_example_mesh.model.TinyMeshModel", "example-mesh"))
    msg = _short_error(talkzoo_cli("fit", "--config", path, cwd=tmp_path))
    assert "class_path: talkzoo_example_mesh.model.TinyMeshModel" in msg


def test_mesh_model_with_video_data(talkzoo_cli, tmp_path):
    path = _recipe(tmp_path, BASE.replace("SyntheticMeshDataModule", "SyntheticVideoDataModule"))
    msg = _short_error(talkzoo_cli("fit", "--config", path, cwd=tmp_path))
    assert "'audio-to-mesh' model" in msg and "'audio-to-video' data" in msg


def test_typo_in_recipe_key(talkzoo_cli, tmp_path):
    path = _recipe(tmp_path, BASE.replace("lr: 0.01", "lerning_rate: 0.01"))
    msg = _short_error(talkzoo_cli("fit", "--config", path, cwd=tmp_path))
    assert "'model.init_args.lerning_rate' is not an argument of TinyMeshModel" in msg


def test_typo_in_trainer_key_on_command_line(talkzoo_cli, tmp_path):
    recipe = str(EXAMPLES / "example-mesh" / "recipe.yaml")
    msg = _short_error(talkzoo_cli("fit", "--config", recipe, "--trainer.max_step", "3", cwd=tmp_path))
    assert "'trainer.max_step'" in msg and "max_steps" in msg


def test_unknown_top_level_key_and_bad_yaml(talkzoo_cli, tmp_path):
    path = _recipe(tmp_path, BASE.replace("seed_everything: 0", "seed_everythin: 0"))
    assert "Did you mean 'seed_everything'" in _short_error(talkzoo_cli("fit", "--config", path, cwd=tmp_path))
    path = _recipe(tmp_path, "model: [unclosed\n")
    assert "not valid YAML at line" in _short_error(talkzoo_cli("fit", "--config", path, cwd=tmp_path))


def test_all_recipes_parse():
    """Every YAML under recipes/ passes preflight and LightningCLI's parser."""
    import contextlib
    import io

    from talkzoo.lightning_cli import preflight, run_lightning

    recipes = sorted((REPO / "recipes").glob("*.yaml"))
    assert {"dualtalker_demo.yaml", "dualtalker_voca.yaml", "ottalk_voca.yaml"} <= {r.name for r in recipes}
    for recipe in recipes:
        preflight(["fit", "--config", str(recipe)])
        with contextlib.redirect_stdout(io.StringIO()) as out, pytest.raises(SystemExit) as exc:
            run_lightning(["fit", "--config", str(recipe), "--print_config"])
        assert exc.value.code in (0, None), recipe
        assert "class_path" in out.getvalue()


# ---------------------------------------------------------------------------- issue #11: preflight
DEMO = (REPO / "recipes" / "dualtalker_demo.yaml").read_text()
LOGGED = BASE.replace(
    "  logger: false\n",
    "  logger:\n    class_path: lightning.pytorch.loggers.TensorBoardLogger\n    init_args: {save_dir: runs, name: x}\n",
)


def _in_process_error(capsys, *argv: str) -> str:
    """Run `talkzoo ...` in this process; assert exit 2 and exactly one `talkzoo: error:` line."""
    from talkzoo.cli import main

    capsys.readouterr()
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("talkzoo: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("old", "new", "key", "closest"),
    [
        ("n_mels: 40", "n_mel: 40", "model.init_args.audio_encoder.init_args.n_mel", "'n_mels'"),
        ("lr: 2.0e-04", "learning_rate: 2.0e-04", "model.init_args.optimizer.init_args.learning_rate", "'lr'"),
        ("save_last: true", "save_lst: true", "trainer.callbacks[0].init_args.save_lst", "'save_last'"),
    ],
    ids=["encoder", "optimizer", "callback"],
)
def test_nested_typos_are_named_with_the_closest_key(tmp_path, capsys, monkeypatch, old, new, key, closest):
    monkeypatch.chdir(tmp_path)
    path = _recipe(tmp_path, DEMO.replace(old, new))
    msg = _in_process_error(capsys, "fit", "--config", path)
    assert f"'{key}' is not an argument" in msg and f"Did you mean {closest}" in msg, msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipe.yaml"]  # nothing written


def test_nested_typo_on_the_command_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    msg = _in_process_error(capsys, "fit", "--config", str(REPO / "recipes" / "dualtalker_demo.yaml"),
                            "--model.init_args.audio_encoder.init_args.n_mel", "40")
    assert msg.startswith("talkzoo: error: command line: 'model.init_args.audio_encoder.init_args.n_mel'"), msg


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model.init_args.lr", "-0.1"], "Invalid learning rate: -0.1"),
        (["--trainer.max_epochs", "-5"], "`max_epochs` must be a non-negative integer or -1. You passed in -5"),
    ],
    ids=["negative-lr", "negative-epochs"],
)
def test_value_errors_are_one_line_and_write_nothing(talkzoo_cli, tmp_path, args, expected):
    path = _recipe(tmp_path, LOGGED)
    assert expected in _short_error(talkzoo_cli("fit", "--config", path, *args, cwd=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipe.yaml"]  # no run folder, no config.yaml


def test_empty_yaml_is_one_line(tmp_path, capsys):
    path = _recipe(tmp_path, "# nothing but a comment\n")
    assert "is empty" in _in_process_error(capsys, "fit", "--config", path)
    (tmp_path / "recipe.yaml").write_text("")
    assert "is empty" in _in_process_error(capsys, "fit", "--config", path)


def test_default_root_dir_moves_the_recipe_logger(tmp_path):
    from talkzoo.lightning_cli import _route_default_root_dir

    config = {"trainer": {"logger": {"class_path": "x.Logger", "init_args": {"save_dir": "runs"}}}}
    argv = ["fit", "--config", "r.yaml", "--trainer.default_root_dir", str(tmp_path)]
    assert _route_default_root_dir(argv, config)[-2:] == ["--trainer.logger.init_args.save_dir", str(tmp_path)]
    explicit = [*argv, "--trainer.logger.init_args.save_dir", "elsewhere"]
    assert _route_default_root_dir(explicit, config) == explicit
