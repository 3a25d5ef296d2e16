"""The paper recipes (VOCASET, BIWI) run two steps on fixtures in the official layouts, with a
tiny random-weight wav2vec 2.0 (offline), and the real recipes stop at once without data."""

from pathlib import Path

import pytest

from talkzoo.cli import main
from talkzoo.testing.fixtures import write_mesh_layout
from talkzoo.testing.recipes import run_recipe_on_fixture

RECIPES = Path(__file__).resolve().parents[3] / "recipes"


@pytest.mark.parametrize("dataset, preset", [("voca", "vocaset"), ("biwi", "biwi")])
def test_paper_recipe_runs_on_layout_fixture(tmp_path, dataset, preset):
    root = write_mesh_layout(tmp_path / preset, preset=preset, num_vertices=24, regions=True)
    regions = ["--data.init_args.lip_region", str(root / "regions" / "lip.txt"),
               "--data.init_args.upper_face_region", str(root / "regions" / "upper_face.txt")]  # fmt: skip
    status = run_recipe_on_fixture(
        RECIPES / f"dualtalker_{dataset}.yaml", root, tmp_path / "runs", "--model.init_args.d_model", "16",
        "--model.init_args.feedforward_dim", "32", *(regions if dataset == "biwi" else []),
    )
    assert status == 0
    checkpoints = list((tmp_path / "runs").rglob("*.ckpt"))
    assert checkpoints, "no checkpoint written"


def test_real_recipe_without_data_says_where_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status = main(["fit", "--config", str(RECIPES / "dualtalker_voca.yaml")])
    err = capsys.readouterr().err
    assert status == 2
    assert "voca.is.tue.mpg.de" in err and "talkzoo data prepare vocaset" in err
