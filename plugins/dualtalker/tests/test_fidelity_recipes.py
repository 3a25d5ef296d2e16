"""DualTalker paper recipes against the paper (issue 19, items 3 and 4)."""

from __future__ import annotations

from pathlib import Path

import yaml

from talkzoo.cli import main
from talkzoo.testing.fixtures import write_mesh_layout

RECIPES = Path(__file__).resolve().parents[3] / "recipes"


def _recipe(name: str) -> dict:
    return yaml.safe_load((RECIPES / name).read_text())


def test_biwi_recipe_requires_the_table_i_regions():
    data = _recipe("dualtalker_biwi.yaml")["data"]["init_args"]
    assert data["lip_region"].endswith("regions/lve.txt")
    assert data["upper_face_region"].endswith("regions/fdd.txt")


def test_biwi_recipe_without_region_files_stops_with_one_line(tmp_path, capsys, monkeypatch):
    root = write_mesh_layout(tmp_path / "biwi", preset="biwi", num_vertices=24)
    monkeypatch.chdir(tmp_path)  # data/biwi/regions/lve.txt does not exist here
    status = main(["fit", "--config", str(RECIPES / "dualtalker_biwi.yaml"), "--data.init_args.root", str(root)])
    err = capsys.readouterr().err
    assert status == 2
    assert "lip_region" in err and "regions/lve.txt" in err and "CodeTalker" in err


def test_demo_recipe_does_not_claim_the_deepspeech_ablation():
    text = (RECIPES / "dualtalker_demo.yaml").read_text()
    assert "not the paper's Table IV" in text


def test_missing_region_error_says_where_the_files_come_from(tmp_path):
    import pytest

    from talkzoo.data.mesh import MeshSequenceDataModule
    from talkzoo.errors import DataError

    root = write_mesh_layout(tmp_path / "biwi", preset="biwi", num_vertices=24)
    dm = MeshSequenceDataModule(str(root), preset="biwi", lip_region=str(tmp_path / "regions" / "lve.txt"))
    with pytest.raises(DataError, match=r"lve.txt: lip_region file not found.*CodeTalker's BIWI/regions/lve.txt"):
        dm.spec


def test_paper_recipes_choose_the_paper_readings_and_the_demo_keeps_its_own():
    for name in ("dualtalker_biwi.yaml", "dualtalker_voca.yaml"):
        args = _recipe(name)["model"]["init_args"]
        assert args["teacher_forcing"] is False and args["dual_autoregressive"] is True  # Eqs. 1-2
        assert args["ccrl_weighting"] == "kernel" and args["ccrl_reduction"] == "mean"
    demo = _recipe("dualtalker_demo.yaml")["model"]["init_args"]
    for key in ("dual_autoregressive", "ccrl_weighting", "ccrl_reduction", "use_dual"):
        assert key not in demo  # the defaults: the state its numbers were measured in
