"""A tiny audio → mesh model: log-mel features → MLP → per-frame displacements."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from talkzoo.audio.encoders import MelSpectrogramEncoder
from talkzoo.data.batch import MeshBatch
from talkzoo.data.spec import MeshDataSpec
from talkzoo.tasks.mesh import AudioToMeshTask


class TinyMeshModel(AudioToMeshTask):
    """Log-mel (16 bands) → Linear → ReLU → Linear(3V) displacements added to the template.

    Args:
        spec: mesh data spec (linked from the datamodule).
        hidden: hidden width.
        lr: Adam learning rate.
    """

    def __init__(self, spec: MeshDataSpec | dict | None = None, hidden: int = 32, lr: float = 1e-2) -> None:
        super().__init__(spec=spec, optimizer=lambda p: torch.optim.Adam(p, lr=lr))
        self.encoder = MelSpectrogramEncoder(n_mels=16, n_fft=256, hop_length=160, win_length=256)
        v = self.mesh_spec.num_vertices
        self.head = nn.Sequential(nn.Linear(self.encoder.output_dim, hidden), nn.ReLU(), nn.Linear(hidden, 3 * v))

    def generate(self, audio: Tensor, template: Tensor, speaker: Tensor | None = None, num_frames: int | None = None, audio_mask: Tensor | None = None) -> Tensor:  # noqa: D102
        frames = num_frames or int(self.frames_for_audio(audio.shape[1]))
        features = self.encoder(audio, audio_mask, frames)
        b, t, _ = features.shape
        return template[:, None] + 0.01 * self.head(features).view(b, t, -1, 3)

    def compute_losses(self, batch: MeshBatch) -> dict[str, Tensor]:  # noqa: D102
        pred = self.generate(batch.audio, batch.template, num_frames=batch.vertices.shape[1], audio_mask=batch.audio_mask)
        mask = batch.frame_mask[:, :, None, None].float()
        mse = ((pred - batch.vertices) ** 2 * mask).sum() / (mask.sum() * pred.shape[2] * 3)
        return {"loss": mse * 1e4, "mse": mse}
