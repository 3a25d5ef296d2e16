"""The example model's LightningModule: the network, its losses wired, ``generate``."""

from __future__ import annotations

import torch
from torch import Tensor

from talkzoo.audio.encoders import MelSpectrogramEncoder
from talkzoo.data.batch import MeshBatch
from talkzoo.data.spec import MeshDataSpec
from talkzoo.tasks.mesh import AudioToMeshTask

from talkzoo_example_mesh.losses import vertex_mse
from talkzoo_example_mesh.network import TinyMeshNetwork


class TinyMeshModel(AudioToMeshTask):
    """Log-mel (16 bands) → MLP → displacements added to the template (:class:`TinyMeshNetwork`).

    Args:
        spec: mesh data spec (linked from the datamodule).
        hidden: hidden width.
        lr: Adam learning rate.
    """

    def __init__(self, spec: MeshDataSpec | dict | None = None, hidden: int = 32, lr: float = 1e-2) -> None:
        super().__init__(spec=spec, optimizer=lambda p: torch.optim.Adam(p, lr=lr))
        encoder = MelSpectrogramEncoder(n_mels=16, n_fft=256, hop_length=160, win_length=256)
        self.network = TinyMeshNetwork(encoder, self.mesh_spec.num_vertices, hidden)

    def generate(self, audio: Tensor, template: Tensor, speaker: Tensor | None = None, num_frames: int | None = None, audio_mask: Tensor | None = None) -> Tensor:  # noqa: D102
        frames = num_frames or int(self.frames_for_audio(audio.shape[1]))
        return template[:, None] + self.network(audio, audio_mask, frames)

    def compute_losses(self, batch: MeshBatch) -> dict[str, Tensor]:  # noqa: D102
        pred = self.generate(batch.audio, batch.template, num_frames=batch.vertices.shape[1], audio_mask=batch.audio_mask)
        mse = vertex_mse(pred, batch.vertices, batch.frame_mask)
        return {"loss": mse * 1e4, "mse": mse}
