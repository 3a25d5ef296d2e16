"""talkzoo.fileio: the one file-safety module (issue #11). Outputs are written as a set (all new
files appear together or none; existing files are replaced only when every new one was written
and are put back if a rename fails; created folders are removed on error); output folders are
checked before work; arrays enter only when finite; the restricted unpickler is re-exported."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from talkzoo.errors import ConfigError, DataError
from talkzoo.fileio import check_output_folder, load_npy, require_finite, safe_load_pickle, write_file_set


def test_set_appears_together_and_replaces_only_when_complete(tmp_path):
    out = tmp_path / "a" / "b"
    targets = {"x": out / "x.npy", "y": out / "y.txt"}
    with write_file_set(targets) as tmp:
        assert all(p.parent == out and p.name.startswith(".") for p in tmp.values())
        assert tmp["x"].suffix == ".npy"
        np.save(tmp["x"], np.arange(3))
        tmp["y"].write_text("new")
        assert not targets["x"].exists() and not targets["y"].exists()  # nothing visible until the end
    assert np.load(targets["x"]).tolist() == [0, 1, 2] and targets["y"].read_text() == "new"
    assert sorted(p.name for p in out.iterdir()) == ["x.npy", "y.txt"]

    with pytest.raises(DataError, match="already exist"):
        with write_file_set(targets):
            pass
    with pytest.raises(RuntimeError, match="boom"), write_file_set(targets, overwrite=True) as tmp:
        np.save(tmp["x"], np.arange(5))
        raise RuntimeError("boom")
    assert np.load(targets["x"]).tolist() == [0, 1, 2] and targets["y"].read_text() == "new"
    with pytest.raises(DataError, match="y were not written"), write_file_set(targets, overwrite=True) as tmp:
        np.save(tmp["x"], np.arange(5))
    assert np.load(targets["x"]).tolist() == [0, 1, 2]
    assert sorted(p.name for p in out.iterdir()) == ["x.npy", "y.txt"]  # no temporaries left


def test_failed_set_removes_the_folders_it_made(tmp_path):
    targets = {"x": tmp_path / "new" / "deeper" / "x.txt"}
    with pytest.raises(ValueError), write_file_set(targets) as tmp:
        tmp["x"].write_text("partial")
        raise ValueError("fails")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_puts_the_old_files_back(tmp_path, monkeypatch):
    targets = {"x": tmp_path / "x.txt", "y": tmp_path / "y.txt"}
    for p in targets.values():
        p.write_text("old")
    real_replace = os.replace

    def flaky(src, dst):
        if str(dst).endswith("y.txt") and ".part-" in str(src):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError, match="disk full"), write_file_set(targets, overwrite=True) as tmp:
        for p in tmp.values():
            p.write_text("new")
    monkeypatch.undo()
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {"x.txt": "old", "y.txt": "old"}


def test_output_folder_checks(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file; expected a folder"):
        check_output_folder(tmp_path / "file")
    with pytest.raises(ConfigError, match="cannot be created"):
        check_output_folder(tmp_path / "file" / "sub")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.npy").write_bytes(b"")
    with pytest.raises(DataError, match="a.npy already exist"):
        check_output_folder(tmp_path / "out", ["a.npy", "a.mp4"])
    assert check_output_folder(tmp_path / "out", ["a.npy"], overwrite=True) == tmp_path / "out"
    assert check_output_folder(tmp_path / "not" / "yet", ["a.npy"]) == tmp_path / "not" / "yet"
    assert not (tmp_path / "not").exists()  # checking creates nothing
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.npy"]


def test_finite_checks_name_the_source(tmp_path):
    good = np.ones((4, 3), np.float32)
    assert require_finite(good, "f.npy") is good
    assert require_finite(np.arange(3), "ints") is not None
    bad = good.copy()
    bad[2, 1] = np.nan
    bad[3, 0] = -np.inf
    with pytest.raises(DataError, match=r"f\.npy: template holds 1 NaN and 1 infinite value\(s\) \(first at index \(2, 1\)\)"):
        require_finite(bad, "f.npy", "template")
    with pytest.raises(DataError, match="t.pt"):
        require_finite(torch.tensor([0.0, float("inf")]), "t.pt")
    np.save(tmp_path / "v.npy", bad)
    with pytest.raises(DataError, match=r"v\.npy: vertex file holds 1 NaN"):
        load_npy(tmp_path / "v.npy", "vertex file", mmap=True)
    assert load_npy(tmp_path / "v.npy", check_finite=False).shape == (4, 3)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="not a readable .npy"):
        load_npy(tmp_path / "obj.npy")


def test_restricted_unpickler_is_one_function():
    from talkzoo.metrics import regions

    assert regions.safe_load_pickle is safe_load_pickle
