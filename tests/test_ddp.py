"""Distributed data parallel on CPU (issue #6, item 3): 2 processes, gloo, equal metrics.

The test starts this file as a script in a subprocess (``python tests/test_ddp.py OUT``); there
Lightning's ``ddp`` strategy launches the second rank as a further subprocess of the same script
(process group backend gloo on CPU), exactly as ``talkzoo fit --trainer.devices 2 --trainer.strategy
ddp`` does, so pytest itself is never forked and nothing is pickled between processes. Rank 0
writes the initial and trained weights and the logged metrics; the test then validates those
weights in its own single process. What is proven:

1. a model trains with ``devices=2`` (its validation loss falls, every logged value is finite);
2. the validation metrics that DDP run logged (torchmetrics states and ``sync_dist`` losses,
   reduced over both ranks) equal those of a single-process validation of the same weights on
   the same data;
3. validating the same weights with ``devices=2`` gives the single-process values too.

Why they are equal: every sequence has the same length (no padding), so a batch's frame-weighted
loss is the mean of its sequences' losses and the epoch mean does not depend on how sequences
are grouped into batches or ranks; the 4 validation sequences split evenly over 2 ranks (2 each,
1 batch of 2 per rank), so the distributed sampler repeats none; MVE is a torchmetrics ``Metric``
whose sum/count states are summed over ranks before ``compute``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import Tensor, nn

from talkzoo.audio.encoders import MelSpectrogramEncoder
from talkzoo.data.batch import MeshBatch
from talkzoo.data.spec import MeshDataSpec
from talkzoo.tasks.mesh import AudioToMeshTask
from talkzoo.testing.synthetic import SyntheticMeshDataModule


def _adam(params) -> torch.optim.Optimizer:
    """Adam, lr 1e-2 (a module-level function: ``ddp_spawn`` pickles the model)."""
    return torch.optim.Adam(params, lr=1e-2)


class TinyMesh(AudioToMeshTask):
    """Log-mel (16 bands) → Linear(16 → 3V) displacements (metres ×1e-2) added to the template.

    Args:
        spec: mesh data spec (``V`` vertices, 16 kHz audio).
    """

    def __init__(self, spec: MeshDataSpec | dict | None = None) -> None:
        super().__init__(spec=spec, optimizer=_adam)
        self.encoder = MelSpectrogramEncoder(n_mels=16, n_fft=256, hop_length=160, win_length=256)
        self.head = nn.Linear(self.encoder.output_dim, 3 * self.mesh_spec.num_vertices)

    def generate(self, audio: Tensor, template: Tensor, speaker: Tensor | None = None,
                 num_frames: int | None = None, audio_mask: Tensor | None = None) -> Tensor:  # fmt: skip
        """``(B, T, V, 3)`` float32 positions (metres) from ``(B, S)`` 16 kHz audio and ``(B, V, 3)`` templates."""
        frames = num_frames or int(self.frames_for_audio(audio.shape[1]))
        feats = self.encoder(audio, audio_mask, frames)
        return template[:, None] + 0.01 * self.head(feats).view(feats.shape[0], feats.shape[1], -1, 3)

    def compute_losses(self, batch: MeshBatch) -> dict[str, Tensor]:
        """``loss`` = frame-masked mean squared vertex error ×1e4 (m² → cm²)."""
        pred = self.generate(batch.audio, batch.template, num_frames=batch.vertices.shape[1], audio_mask=batch.audio_mask)
        mask = batch.frame_mask[:, :, None, None].to(pred.dtype)
        mse = ((pred - batch.vertices) ** 2 * mask).sum() / (mask.sum() * pred.shape[2] * 3)
        return {"loss": mse * 1e4}


def _data() -> SyntheticMeshDataModule:
    # 16 sequences of exactly 10 frames (25 fps): 12 train (3 steps/epoch/rank at 2 per batch), 4 val.
    return SyntheticMeshDataModule(num_vertices=12, num_sequences=16, min_frames=10, max_frames=10, batch_size=2, seed=3)


def _trainer(devices: int, **kwargs) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto", logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        **kwargs,
    )  # fmt: skip


def _val(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k.startswith("val/")}


def _run_ddp(out: Path) -> None:
    """Script body, run on each of the 2 ranks: DDP fit, then DDP validation; rank 0 saves the results."""
    torch.manual_seed(0)
    dm = _data()
    model = TinyMesh(spec=dm.spec)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    fit = _trainer(2, max_epochs=4, check_val_every_n_epoch=4)
    fit.fit(model, datamodule=dm)
    fit_logged = {k: float(v) for k, v in fit.callback_metrics.items()}
    validated = fit.validate(model, datamodule=dm, verbose=False)[0]
    if fit.global_rank == 0:
        torch.save({"initial": initial, "trained": model.state_dict()}, out / "weights.pt")
        info = {"world_size": fit.world_size, "backend": fit.strategy.process_group_backend,
                "fit_logged": fit_logged, "validate_devices2": _val(validated)}  # fmt: skip
        (out / "result.json").write_text(json.dumps(info))


def test_ddp_two_processes_match_single_process(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))}
    env.pop("LOCAL_RANK", None)
    done = subprocess.run([sys.executable, __file__, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((tmp_path / "result.json").read_text())
    assert info["world_size"] == 2 and info["backend"] == "gloo"
    assert all(math.isfinite(v) for v in info["fit_logged"].values()), info["fit_logged"]
    logged = _val(info["fit_logged"])  # reduced over both ranks
    assert {"val/loss", "val/MVE@all"} <= set(logged), logged

    weights = torch.load(tmp_path / "weights.pt")
    dm = _data()
    model = TinyMesh(spec=dm.spec)
    model.load_state_dict(weights["initial"])
    before = _val(_trainer(1).validate(model, datamodule=dm, verbose=False)[0])
    assert logged["val/loss"] < 0.5 * before["val/loss"], (before, logged)  # DDP training learned

    model.load_state_dict(weights["trained"])
    single = _val(_trainer(1).validate(model, datamodule=dm, verbose=False)[0])
    assert set(single) == set(logged) == set(info["validate_devices2"])
    for key in single:
        assert logged[key] == pytest.approx(single[key], rel=1e-5, abs=1e-12), key
        assert info["validate_devices2"][key] == pytest.approx(single[key], rel=1e-5, abs=1e-12), key


if __name__ == "__main__":
    _run_ddp(Path(sys.argv[1]))
