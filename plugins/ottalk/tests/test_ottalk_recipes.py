"""The paper recipes (VOCASET, Multiface) run two steps on fixtures in the official layouts with
the demo face topology, a tiny random-weight HuBERT (offline) and a tiny ChebNet."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from talkzoo.data.presets import get_preset
from talkzoo.testing.fixtures import write_mesh_layout
from talkzoo.testing.recipes import run_recipe_on_fixture

REPO = Path(__file__).resolve().parents[3]
FACE = REPO / "src" / "talkzoo" / "assets" / "face"


def _with_face_topology(root: Path, preset: str) -> Path:
    """Give the fixture a real manifold topology: the 468-vertex demo face and its triangles,
    in the preset's stored units (Multiface: millimetres)."""
    unit = 1.0 / get_preset("mesh", preset).metres_per_unit
    template = (np.load(FACE / "template.npy") * unit).astype(np.float32)
    templates = pickle.loads((root / "templates.pkl").read_bytes())
    rng = np.random.default_rng(0)
    with open(root / "templates.pkl", "wb") as handle:
        pickle.dump({s: template + rng.normal(0, 1e-3 * unit, template.shape).astype(np.float32) for s in templates}, handle)
    np.save(root / "faces.npy", np.load(FACE / "faces.npy"))
    return root


@pytest.mark.parametrize(
    "dataset, preset, extra",
    [
        ("voca", "vocaset", []),
        (
            "multiface",
            "multiface",
            ["--data.init_args.train_subjects", '["2", "3", "6", "7", "9", "10", "11", "12"]',
             "--data.init_args.val_subjects", '["1", "4", "5"]', "--data.init_args.test_subjects", '["8", "13"]'],
        ),
    ],
)
def test_paper_recipe_runs_on_layout_fixture(tmp_path, dataset, preset, extra):
    sentences = {"sentences": (1, 31, 41)} if preset == "multiface" else {}  # the recipe's 30 / 10 / 10 split
    root = _with_face_topology(write_mesh_layout(tmp_path / preset, preset=preset, num_vertices=468, **sentences), preset)
    status = run_recipe_on_fixture(
        REPO / "recipes" / f"ottalk_{dataset}.yaml", root, tmp_path / "runs",
        "--data.init_args.faces_file", str(root / "faces.npy"),
        "--model.init_args.cache_dir", str(tmp_path / "cache"),
        "--model.init_args.channels", "[4, 4, 4]", "--model.init_args.d_model", "16",
        "--model.init_args.ff_dim", "32", "--model.init_args.swd_projections", "8",
        *extra,
    )
    assert status == 0
    assert list((tmp_path / "runs").rglob("*.ckpt")), "no checkpoint written"
