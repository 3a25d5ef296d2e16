"""Bad data never trains silently (issue #11): NaN in a training vertex file, a validation file,
a template (templates.pkl and `animate --template`) is one line naming the file, exit 2, and no
checkpoint is written (an earlier run is untouched); a non-finite loss stops training naming the
step and the batch's sequences; a WAV cut short of its header gives a warning."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from talkzoo.cli import main
from talkzoo.errors import DataError
from talkzoo.testing.fixtures import sine_tone, write_mesh_layout

RECIPE = """
seed_everything: 0
trainer:
  accelerator: cpu
  max_epochs: 1
  enable_progress_bar: false
  enable_model_summary: false
  logger:
    class_path: lightning.pytorch.loggers.TensorBoardLogger
    init_args: {{save_dir: {runs}, name: demo}}
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args: {{monitor: val/loss, mode: min, save_last: true}}
model:
  class_path: talkzoo_example_mesh.model.TinyMeshModel
data:
  class_path: talkzoo.data.mesh.MeshSequenceDataModule
  init_args: {{root: {root}, preset: demo, batch_size: 2}}
"""


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("talkzoo: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def corpus(tmp_path):
    data = write_mesh_layout(tmp_path / "data", preset="demo", num_vertices=32)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.format(runs=tmp_path / "runs", root=data))
    earlier = tmp_path / "runs" / "demo" / "version_0" / "checkpoints"
    earlier.mkdir(parents=True)
    (earlier / "last.ckpt").write_bytes(b"an earlier run")
    return data, recipe, tmp_path / "runs"


def _poison(path: Path) -> None:
    array = np.load(path)
    np.save(path, np.full_like(array, np.nan))


def _new_checkpoints(runs: Path) -> list[Path]:
    return [p for p in runs.rglob("*.ckpt") if "version_0" not in p.parts]


@pytest.mark.parametrize("split_subject", ["DemoVoice_f1", "DemoVoice_f2"], ids=["training-file", "validation-file"])
def test_nan_vertex_file_stops_fit_naming_it(corpus, capsys, split_subject):
    data, recipe, runs = corpus
    bad = data / "vertices_npy" / f"{split_subject}_sentence03.npy"
    _poison(bad)
    assert main(["fit", "--config", str(recipe)]) == 2
    line = _one_line(capsys)
    assert str(bad) in line and "NaN" in line, line
    assert _new_checkpoints(runs) == []  # no NaN weights kept as "best" or "last"
    assert (runs / "demo" / "version_0" / "checkpoints" / "last.ckpt").read_bytes() == b"an earlier run"


def test_nan_in_templates_pkl_is_named(corpus, capsys):
    data, recipe, runs = corpus
    with open(data / "templates.pkl", "rb") as fh:
        templates = pickle.load(fh)
    templates["DemoVoice_m1"][3, 1] = np.inf
    with open(data / "templates.pkl", "wb") as fh:
        pickle.dump(templates, fh, protocol=2)
    assert main(["fit", "--config", str(recipe)]) == 2
    line = _one_line(capsys)
    assert "templates.pkl[DemoVoice_m1]" in line and "infinite" in line, line
    assert _new_checkpoints(runs) == []


def test_non_finite_loss_names_step_and_sequences(tmp_path):
    from lightning.pytorch import Trainer

    from talkzoo.testing import SyntheticMeshDataModule
    from talkzoo_example_mesh.model import TinyMeshModel

    class Diverges(TinyMeshModel):
        def compute_losses(self, batch):
            losses = super().compute_losses(batch)
            if self.global_step == 1:
                losses["loss"] = losses["loss"] * float("nan")
            return losses

    dm = SyntheticMeshDataModule(batch_size=2)
    model = Diverges(spec=dm.spec)
    trainer = Trainer(accelerator="cpu", max_steps=4, logger=False, enable_progress_bar=False,
                      enable_model_summary=False, limit_val_batches=0, default_root_dir=tmp_path)
    with pytest.raises(DataError, match=r"non-finite training loss \(nan\) at step 1 .*batch sequences: \w+"):
        trainer.fit(model, datamodule=dm)
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the NaN step was never applied
    assert list(tmp_path.rglob("*.ckpt")) == []


def test_truncated_wav_warns(tmp_path):
    from talkzoo.audio.io import TruncatedAudioWarning, load_audio

    full = tmp_path / "full.wav"
    sf.write(full, sine_tone(1.0, 16000), 16000, subtype="PCM_16")
    raw = full.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(raw[: 44 + 16000 + 1])  # half the samples, cut at an odd byte
    with pytest.warns(TruncatedAudioWarning, match=r"cut\.wav is shorter than its header says \(16001 of 32000"):
        wave = load_audio(cut)
    assert wave.shape == (8000,)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_audio(full).shape == (16000,)  # a complete file: no warning


def test_error_from_a_dataloader_worker_is_one_line(capsys):
    """A DataError raised in a worker comes back with the worker's traceback in its message."""
    from talkzoo.cli import _err

    message = ("Caught DataError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
               '  File "x.py", line 1, in f\ntalkzoo.errors.DataError: /d/a.npy: vertex file holds 3 NaN')
    assert _err(message) == 2
    assert capsys.readouterr().err == "talkzoo: error: /d/a.npy: vertex file holds 3 NaN\n"
