"""Checkpoint resolution: a run folder resolves to its newest last.ckpt (resume) or to the best
checkpoint its ModelCheckpoint recorded (evaluate); bad paths and non-talkzoo files are refused."""

import os

import pytest
import torch

from talkzoo.checkpoints import load_model, resolve_checkpoint
from talkzoo.errors import DataError


def _run(folder, best_name="epoch=1-step=10.ckpt", mtime=0):
    ckpts = folder / "checkpoints"
    ckpts.mkdir(parents=True)
    torch.save({"global_step": 10}, ckpts / best_name)
    state = {"ModelCheckpoint{'monitor': 'val/LVE'}": {"best_model_path": str(ckpts / best_name)}}
    torch.save({"global_step": 30, "callbacks": state}, ckpts / "last.ckpt")
    for f in ckpts.iterdir():
        os.utime(f, (mtime, mtime))
    return ckpts


def test_run_folder_resolves_last_or_best(tmp_path):
    old = _run(tmp_path / "run" / "version_0", mtime=1_000)
    new = _run(tmp_path / "run" / "version_1", best_name="epoch=4-step=40.ckpt", mtime=2_000)
    assert resolve_checkpoint(tmp_path / "run") == new / "last.ckpt"
    assert resolve_checkpoint(tmp_path / "run", prefer="best") == new / "epoch=4-step=40.ckpt"
    assert resolve_checkpoint(old / "last.ckpt", prefer="best") == old / "last.ckpt"  # a file is taken as given


def test_best_falls_back_to_last_when_the_recorded_best_is_gone(tmp_path):
    ckpts = _run(tmp_path / "run")
    (ckpts / "epoch=1-step=10.ckpt").unlink()
    assert resolve_checkpoint(tmp_path / "run", prefer="best") == ckpts / "last.ckpt"


def test_missing_and_empty_and_foreign(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        resolve_checkpoint(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no checkpoint"):
        resolve_checkpoint(tmp_path / "empty")
    torch.save({"state_dict": {}}, tmp_path / "foreign.ckpt")
    with pytest.raises(DataError, match="not a talkzoo checkpoint"):
        load_model(tmp_path / "foreign.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="not a readable checkpoint"):
        load_model(tmp_path / "junk.ckpt")


def test_run_folder_resolves_only_inside_itself(tmp_path, monkeypatch):
    """The recorded best (a path relative to where training ran) is looked up inside the run folder,
    never against the current directory, even when the current directory has a run of that name."""
    here = tmp_path / "here"
    local = here / "runs" / "demo" / "version_0" / "checkpoints"
    local.mkdir(parents=True)
    torch.save({"global_step": 1}, local / "epoch=1-step=10.ckpt")
    other = tmp_path / "other" / "runs" / "demo" / "version_0" / "checkpoints"
    other.mkdir(parents=True)
    torch.save({"global_step": 10}, other / "epoch=1-step=10.ckpt")
    state = {"ModelCheckpoint{'monitor': 'val/LVE'}": {"best_model_path": "runs/demo/version_0/checkpoints/epoch=1-step=10.ckpt"}}
    torch.save({"callbacks": state}, other / "last.ckpt")
    monkeypatch.chdir(here)
    assert resolve_checkpoint(tmp_path / "other" / "runs" / "demo", prefer="best") == other / "epoch=1-step=10.ckpt"
    (other / "epoch=1-step=10.ckpt").unlink()  # the run's best is gone: its own last.ckpt, not the local file
    assert resolve_checkpoint(tmp_path / "other" / "runs" / "demo", prefer="best") == other / "last.ckpt"


def test_refused_last_ckpt_is_named(tmp_path):
    import builtins

    class Payload:
        def __reduce__(self):
            return builtins.exec, (f"open({str(tmp_path / 'RAN')!r}, 'w').close()",)

    ckpts = tmp_path / "run" / "checkpoints"
    ckpts.mkdir(parents=True)
    torch.save({"callbacks": {}, "x": Payload()}, ckpts / "last.ckpt")
    with pytest.raises(DataError, match=r"refusing checkpoint '.*last\.ckpt'.*exec.*--trust-checkpoint"):
        resolve_checkpoint(tmp_path / "run", prefer="best")
    assert not (tmp_path / "RAN").exists()
