"""Runs resume exactly: a demo-sized `talkzoo fit` killed with SIGKILL in the middle of an epoch and
resumed with `--ckpt_path RUN` ends with the same weights, to the bit, as an uninterrupted run; it
continues in the same run folder with the same best-tracking, and `talkzoo test --ckpt_path RUN`
scores the same checkpoint. After any fit, last.ckpt holds the final epoch (issue #11)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from talkzoo.cli import main
from talkzoo.testing.fixtures import write_mesh_layout

# A tiny mesh model WITH dropout (so dropout's random stream matters), and a callback that,
# when $PAUSE_MARKER is set, writes the marker in the middle of epoch 1 and sleeps to be killed.
HELPERS = '''
import os
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from talkzoo.audio.encoders import MelSpectrogramEncoder
from talkzoo.tasks.mesh import AudioToMeshTask


class DropoutMeshModel(AudioToMeshTask):
    """Log-mel -> dropout -> MLP -> displacements added to the template; Adam."""

    def __init__(self, spec=None, hidden: int = 16, lr: float = 1e-2, dropout: float = 0.3) -> None:
        super().__init__(spec=spec, optimizer=lambda p: torch.optim.Adam(p, lr=lr))
        self.encoder = MelSpectrogramEncoder(n_mels=16, n_fft=256, hop_length=160, win_length=256)
        self.drop = nn.Dropout(dropout)
        v = self.mesh_spec.num_vertices
        self.head = nn.Sequential(nn.Linear(self.encoder.output_dim, hidden), nn.ReLU(), nn.Linear(hidden, 3 * v))

    def generate(self, audio, template, speaker=None, num_frames=None, audio_mask=None):
        frames = num_frames or int(self.frames_for_audio(audio.shape[1]))
        features = self.drop(self.encoder(audio, audio_mask, frames))
        b, t, _ = features.shape
        return template[:, None] + 0.01 * self.head(features).view(b, t, -1, 3)

    def compute_losses(self, batch):
        pred = self.generate(batch.audio, batch.template, num_frames=batch.vertices.shape[1], audio_mask=batch.audio_mask)
        mask = batch.frame_mask[:, :, None, None].float()
        mse = ((pred - batch.vertices) ** 2 * mask).sum() / (mask.sum() * pred.shape[2] * 3)
        return {"loss": mse * 1e4, "mse": mse}


class PauseAt(Callback):
    def __init__(self, epoch: int = 1, batch: int = 1) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        marker = os.environ.get("PAUSE_MARKER")
        if marker and trainer.current_epoch == self.epoch and batch_idx == self.batch:
            Path(marker).write_text("paused")
            time.sleep(600)
'''

# Demo recipe shape: TensorBoard logger under runs/<name>, ModelCheckpoint on a validation metric
# with save_last, random crops (max_seconds), seeded. 6 training sequences, 3 batches per epoch.
RECIPE = """
seed_everything: 0
trainer:
  accelerator: cpu
  devices: 1
  max_epochs: 3
  log_every_n_steps: 1
  enable_progress_bar: false
  enable_model_summary: false
  logger:
    class_path: lightning.pytorch.loggers.TensorBoardLogger
    init_args: {{save_dir: runs, name: resume_demo}}
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args: {{monitor: val/loss, mode: min, save_last: true}}
    - class_path: resume_helpers.PauseAt
model:
  class_path: resume_helpers.DropoutMeshModel
  init_args: {{hidden: 16, dropout: 0.3}}
data:
  class_path: talkzoo.data.mesh.MeshSequenceDataModule
  init_args: {{root: {root}, preset: demo, batch_size: 2, max_seconds: 0.4}}
"""


def _talkzoo(*args: str, cwd: Path, env: dict, **kwargs) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("talkzoo")
    return subprocess.Popen([str(exe), *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **kwargs)


def _finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def _test_scores(out: str) -> dict[str, str]:
    """The `test/...` rows of Lightning's result table, as printed."""
    rows = {}
    for line in out.splitlines():
        cells = [c for c in line.replace("│", " ").replace("|", " ").split() if c]
        if len(cells) == 2 and cells[0].startswith("test/"):
            rows[cells[0]] = cells[1]
    return rows


def test_sigkill_mid_epoch_and_resume_is_bit_identical(tmp_path, monkeypatch, capsys):
    data = write_mesh_layout(tmp_path / "data", preset="demo", num_vertices=32)
    (tmp_path / "resume_helpers.py").write_text(HELPERS)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.format(root=data))
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("PAUSE_MARKER", None)
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    straight.mkdir()
    killed.mkdir()
    marker = killed / "paused"

    # the uninterrupted run and the run to be killed, side by side
    a = _talkzoo("fit", "--config", str(recipe), cwd=straight, env=env)
    b = _talkzoo("fit", "--config", str(recipe), cwd=killed, env={**env, "PAUSE_MARKER": str(marker)})
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert b.poll() is None, b.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the run never reached epoch 1, batch 1"
        time.sleep(0.2)
    b.send_signal(signal.SIGKILL)
    b.communicate()
    run = killed / "runs" / "resume_demo" / "version_0"
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 0  # killed inside epoch 1
    _finish(a)

    resumed = _finish(_talkzoo("fit", "--config", str(recipe), "--ckpt_path", "runs/resume_demo", cwd=killed, env=env))
    assert "Restored all states" in resumed
    assert sorted(p.name for p in (killed / "runs" / "resume_demo").iterdir()) == ["version_0"]  # same run folder
    assert (run / "config.yaml").is_file() and (run / "config.resume-1.yaml").is_file()

    ref = torch.load(straight / "runs/resume_demo/version_0/checkpoints/last.ckpt", weights_only=True)
    got = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert (got["epoch"], got["global_step"]) == (ref["epoch"], ref["global_step"]) == (2, 9)
    assert ref["state_dict"].keys() == got["state_dict"].keys()
    for name, tensor in ref["state_dict"].items():
        assert torch.equal(tensor, got["state_dict"][name]), name  # bit for bit
    # same best-tracking: the same best file (by name) with the same score, and only it kept
    key = next(k for k in ref["callbacks"] if k.startswith("ModelCheckpoint"))
    for state in (ref["callbacks"][key], got["callbacks"][key]):
        assert Path(state["best_model_path"]).parent.name == "checkpoints"
    assert Path(ref["callbacks"][key]["best_model_path"]).name == Path(got["callbacks"][key]["best_model_path"]).name
    assert torch.equal(ref["callbacks"][key]["best_model_score"], got["callbacks"][key]["best_model_score"])
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == sorted(
        p.name for p in (straight / "runs/resume_demo/version_0/checkpoints").iterdir()
    )

    # `talkzoo test --ckpt_path RUN` scores the same (best) checkpoint in both runs (in-process: faster)
    monkeypatch.syspath_prepend(str(tmp_path))
    scores = []
    for cwd in (straight, killed):
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        assert main(["test", "--config", str(recipe), "--ckpt_path", "runs/resume_demo"]) == 0
        scores.append(_test_scores(capsys.readouterr().out))
    assert scores[0] and scores[0] == scores[1], scores


def test_last_ckpt_holds_the_final_epoch_whatever_the_monitor_does(tmp_path):
    """With a monitor that is best at epoch 0 only, plain Lightning would leave last.ckpt at epoch 0."""
    from lightning.pytorch import Trainer
    from lightning.pytorch.callbacks import Callback, ModelCheckpoint

    from talkzoo.checkpoints import prepare_trainer
    from talkzoo.testing import SyntheticMeshDataModule
    from talkzoo_example_mesh.model import TinyMeshModel

    class WorseEachEpoch(Callback):
        def on_validation_epoch_end(self, trainer, pl_module):
            pl_module.log("worse", float(trainer.current_epoch))

    dm = SyntheticMeshDataModule(batch_size=2)
    model = TinyMeshModel(spec=dm.spec)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, monitor="worse", mode="min", save_last=True)
    trainer = Trainer(accelerator="cpu", max_epochs=3, logger=False, enable_progress_bar=False,
                      enable_model_summary=False, callbacks=[WorseEachEpoch(), checkpoint], limit_train_batches=2,
                      limit_val_batches=1, num_sanity_val_steps=0)
    prepare_trainer(trainer)
    trainer.fit(model, datamodule=dm)
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert last["epoch"] == 2 and last["global_step"] == 6
    for name, tensor in model.state_dict().items():
        assert torch.equal(last["state_dict"][name], tensor), name  # the final weights
    assert Path(checkpoint.best_model_path).name == "epoch=0-step=2.ckpt"  # best still tracked
