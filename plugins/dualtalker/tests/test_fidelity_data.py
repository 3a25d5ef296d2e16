"""DualTalker §IV-A: BIWI "using only the emotional subset" (issue 19, item 5)."""

from __future__ import annotations

import shutil

import pytest

from talkzoo.data.mesh import MeshSequenceDataModule
from talkzoo.errors import DataError
from talkzoo.testing.fixtures import write_mesh_layout


def test_emotional_recordings_load(tmp_path):
    root = write_mesh_layout(tmp_path / "biwi", preset="biwi", num_vertices=12)
    dm = MeshSequenceDataModule(str(root), preset="biwi")
    assert {r.name for r in dm.records("train")} == {f"{s}_e01" for s in ("F2", "F3", "F4", "M3", "M4", "M5")}


def test_a_neutral_recording_is_refused_with_one_line(tmp_path):
    root = write_mesh_layout(tmp_path / "biwi", preset="biwi", num_vertices=12)
    for folder, ext in (("vertices_npy", "npy"), ("wav", "wav")):  # a neutral take of sentence 1
        shutil.copy(root / folder / f"F2_e01.{ext}", root / folder / f"F2_01.{ext}")
    dm = MeshSequenceDataModule(str(root), preset="biwi")
    with pytest.raises(DataError, match=r"F2_01\.npy: sequence '01' is not from BIWI's emotional subset") as err:
        dm.records("train")
    assert "\n" not in str(err.value)
