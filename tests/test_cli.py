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
    (ckpt,) = tmp_path.rglob("*.ckpt")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
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
