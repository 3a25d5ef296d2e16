"""OT-Talk's Multiface protocol (issue 19, items 7 and 8): the paper's 30 / 10 / 10 sentences in the
recipe, FaceDiffuser's 40 / 5 / 5 as the preset default, and millimetre files served in metres."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml

from talkzoo.data.mesh import MeshSequenceDataModule
from talkzoo.errors import DataError
from talkzoo.testing.fixtures import write_mesh_layout

RECIPE = Path(__file__).resolve().parents[3] / "recipes" / "ottalk_multiface.yaml"
SUBJECTS = {"train_subjects": ["2"], "val_subjects": ["3"], "test_subjects": ["4"]}


@pytest.fixture(scope="module")
def fifty_sentences(tmp_path_factory) -> Path:
    """Three subjects with all 50 Multiface sentences each (very short sequences)."""
    return write_mesh_layout(
        tmp_path_factory.mktemp("mf") / "multiface", preset="multiface", num_vertices=12,
        subjects=("2", "3", "4"), sentences=tuple(range(1, 51)), seconds=0.2, vary_lengths=False,
    )  # fmt: skip


def _split_sentences(dm: MeshSequenceDataModule) -> dict[str, list[int]]:
    return {split: sorted(r.sentence for r in dm.records(split)) for split in ("train", "val", "test")}


def test_recipe_split_is_the_papers_30_10_10(fifty_sentences):
    data = yaml.safe_load(RECIPE.read_text())["data"]["init_args"]
    keys = ("train_sentences", "val_sentences", "test_sentences")
    dm = MeshSequenceDataModule(str(fifty_sentences), preset="multiface", **SUBJECTS, **{k: data[k] for k in keys})
    got = _split_sentences(dm)
    assert [len(got[s]) for s in ("train", "val", "test")] == [30, 10, 10]
    assert got == {"train": list(range(1, 31)), "val": list(range(31, 41)), "test": list(range(41, 51))}


def test_preset_default_is_facediffusers_40_5_5(fifty_sentences):
    dm = MeshSequenceDataModule(str(fifty_sentences), preset="multiface", **SUBJECTS)
    assert [len(v) for v in _split_sentences(dm).values()] == [40, 5, 5]


def test_millimetre_files_are_served_in_metres(fifty_sentences):
    stored = pickle.loads((fifty_sentences / "templates.pkl").read_bytes())
    raw = np.load(fifty_sentences / "vertices_npy" / "2_01.npy")
    assert np.linalg.norm(np.ptp(stored["2"], axis=0)) > 20  # the fixture is written in mm
    dm = MeshSequenceDataModule(str(fifty_sentences), preset="multiface", batch_size=1, **SUBJECTS)
    assert dm.spec.templates_scale == 1e-3
    np.testing.assert_allclose(dm.templates()["2"], stored["2"] * 1e-3, rtol=1e-6)
    dm.setup("fit")
    sample = dm.datasets["train"][0]
    assert sample.name == "2_01"
    np.testing.assert_allclose(sample.vertices.numpy(), raw.reshape(-1, 12, 3)[: sample.vertices.shape[0]] * 1e-3, rtol=1e-5)
    np.testing.assert_allclose(sample.template.numpy(), stored["2"] * 1e-3, rtol=1e-6)


def test_normalised_copies_are_refused_unless_a_scale_is_given(tmp_path):
    root = write_mesh_layout(tmp_path / "mf", preset="multiface", num_vertices=12, subjects=("2", "3", "4"),
                             sentences=(1, 41, 46))  # fmt: skip
    templates = pickle.loads((root / "templates.pkl").read_bytes())
    lo = min(t.min() for t in templates.values())
    hi = max(t.max() for t in templates.values())
    normalised = {k: (2 * (t - lo) / (hi - lo) - 1).astype(np.float32) for k, t in templates.items()}  # FaceDiffuser
    (root / "templates.pkl").write_bytes(pickle.dumps(normalised))
    with pytest.raises(DataError, match=r"templates.pkl: template of '\w+' spans .* expects millimetres"):
        MeshSequenceDataModule(str(root), preset="multiface", **SUBJECTS).spec
    dm = MeshSequenceDataModule(str(root), preset="multiface", vertex_scale=1.0, **SUBJECTS)
    assert dm.spec.templates_scale == 1.0
    np.testing.assert_allclose(dm.templates()["2"], normalised["2"])
