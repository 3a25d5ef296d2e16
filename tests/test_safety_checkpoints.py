"""Checkpoints cannot run code (issue #11): a real talkzoo checkpoint carrying a pickle payload, a
payload-only file, and a run folder whose last.ckpt is crafted are refused by `talkzoo animate`
and `talkzoo fit|validate|test|predict` with one line naming the file; the payload never runs
(its marker file is never created). The documented opt-in (--trust-checkpoint) loads a file the
user trusts. A checkpoint of another model class than the recipe's is refused naming both."""

from __future__ import annotations

import builtins
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from talkzoo.cli import main
from talkzoo.testing.fixtures import sine_tone, write_mesh_layout

REPO = Path(__file__).resolve().parents[1]
RECIPE = str(REPO / "tests" / "plugins" / "example-mesh" / "recipe.yaml")


class Payload:
    """Unpickling this creates ``marker`` (stands in for arbitrary code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.exec, (f"open({self.marker!r}, 'w').close()",)


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory):
    """A real TinyMeshModel checkpoint trained for 2 steps on a demo-layout fixture."""
    from lightning.pytorch import Trainer

    from talkzoo.data.mesh import MeshSequenceDataModule
    from talkzoo_example_mesh.model import TinyMeshModel

    root = tmp_path_factory.mktemp("ckpt")
    data = write_mesh_layout(root / "data", preset="demo", num_vertices=32)
    dm = MeshSequenceDataModule(root=str(data), preset="demo", batch_size=2)
    model = TinyMeshModel(spec=dm.spec)
    trainer = Trainer(accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, datamodule=dm)
    ckpt = root / "good.ckpt"
    trainer.save_checkpoint(ckpt)
    speech = root / "speech.wav"
    sf.write(speech, sine_tone(0.5, 16000), 16000)
    return ckpt, dm.spec, speech


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("talkzoo: error:"), err
    return lines[0]


def _trojans(real: Path, where: Path) -> dict[str, Path]:
    """{name: path to hand to --ckpt/--ckpt_path} and the marker file each payload would create."""
    marker = where / "PAYLOAD_RAN"
    state = torch.load(real, weights_only=True)
    state["hyper_parameters"]["extra"] = Payload(marker)
    torch.save(state, where / "trojan.ckpt")
    import pickle

    with open(where / "payload_only.ckpt", "wb") as fh:
        pickle.dump(Payload(marker), fh)
    run = where / "runs" / "demo" / "version_0" / "checkpoints"
    run.mkdir(parents=True)
    shutil.copy(real, run / "epoch=0-step=2.ckpt")
    shutil.copy(where / "trojan.ckpt", run / "last.ckpt")
    return {"trojan": where / "trojan.ckpt", "payload-only": where / "payload_only.ckpt",
            "run folder": where / "runs" / "demo", "marker": marker}


@pytest.mark.parametrize("target", ["trojan", "payload-only", "run folder"])
def test_payload_never_runs_and_each_command_prints_one_line(real_checkpoint, tmp_path, capsys, monkeypatch, target):
    real, spec, speech = real_checkpoint
    monkeypatch.delenv("TALKZOO_TRUST_CHECKPOINTS", raising=False)
    files = _trojans(real, tmp_path)
    path, marker = files[target], files["marker"]
    named = "last.ckpt" if target == "run folder" else path.name
    commands = [
        ["animate", "--ckpt", str(path), "--audio", str(speech), "--subject", spec.speakers[0],
         "--out", str(tmp_path / "out"), "--no-render"],
        *(["fit" if v == "fit" else v, "--config", RECIPE, "--ckpt_path", str(path)]
          for v in ("test", "validate", "predict", "fit")),
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        line = _one_line(capsys)
        assert named in line, (argv[0], line)
        assert "refusing checkpoint" in line and "exec" in line and "--trust-checkpoint" in line, line
        assert not marker.exists(), f"the payload ran during {argv[0]}"
    assert not (tmp_path / "out").exists()  # animate wrote nothing, made no folder


def test_trust_opt_in_loads_a_trusted_file(real_checkpoint, tmp_path, capsys, monkeypatch):
    """The opt-in is real: with --trust-checkpoint the same file loads (and its payload runs)."""
    real, spec, speech = real_checkpoint
    files = _trojans(real, tmp_path)
    argv = ["animate", "--ckpt", str(files["trojan"]), "--audio", str(speech), "--subject", spec.speakers[0],
            "--out", str(tmp_path / "out"), "--no-render"]
    monkeypatch.delenv("TALKZOO_TRUST_CHECKPOINTS", raising=False)
    assert main(argv) == 2 and not files["marker"].exists()
    capsys.readouterr()
    assert main([*argv, "--trust-checkpoint"]) == 0, capsys.readouterr().err
    assert files["marker"].exists() and (tmp_path / "out" / "speech.npy").is_file()


def test_own_checkpoints_load_weights_only(real_checkpoint):
    from talkzoo.checkpoints import load_model, read_checkpoint

    real, spec, _ = real_checkpoint
    assert isinstance(torch.load(real, weights_only=True), dict)
    state = read_checkpoint(real)
    model = load_model(real)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, state["state_dict"][name])


def test_checkpoint_of_another_model_class_is_refused(real_checkpoint, tmp_path, capsys):
    real, _, _ = real_checkpoint
    state = torch.load(real, weights_only=True)
    state["_talkzoo_class_path"] = "talkzoo.baselines.StaticTemplate"
    state["hyper_parameters"]["_class_path"] = "talkzoo.baselines.StaticTemplate"
    torch.save(state, tmp_path / "other.ckpt")
    assert main(["test", "--config", RECIPE, "--ckpt_path", str(tmp_path / "other.ckpt")]) == 2
    line = _one_line(capsys)
    assert "talkzoo.baselines.StaticTemplate" in line and "talkzoo_example_mesh.model.TinyMeshModel" in line
    assert "other.ckpt" in line


def test_env_opt_in_is_read(monkeypatch):
    from talkzoo.checkpoints import TRUST_ENV, trust_requested

    monkeypatch.delenv(TRUST_ENV, raising=False)
    assert not trust_requested() and trust_requested(True)
    monkeypatch.setenv(TRUST_ENV, "1")
    assert trust_requested()
    monkeypatch.setenv(TRUST_ENV, "0")
    assert not trust_requested()
