"""A tiny audio → video model: per-frame audio energy modulates a convolution of the source."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from talkzoo.data.batch import VideoBatch
from talkzoo.data.spec import VideoDataSpec
from talkzoo.tasks.video import AudioToVideoTask


class TinyVideoModel(AudioToVideoTask):
    """``frame_t = sigmoid(conv(source) + w * energy_t)``.

    Args:
        spec: video data spec (linked from the datamodule).
        channels: hidden channels.
        lr: Adam learning rate.
    """

    def __init__(self, spec: VideoDataSpec | dict | None = None, channels: int = 8, lr: float = 1e-2) -> None:
        super().__init__(spec=spec, optimizer=lambda p: torch.optim.Adam(p, lr=lr))
        self.net = nn.Sequential(nn.Conv2d(4, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, 3, 3, padding=1))

    def generate(self, audio: Tensor, source: Tensor, num_frames: int | None = None, audio_mask: Tensor | None = None) -> Tensor:  # noqa: D102
        spec = self.require_spec()
        frames = num_frames or max(1, round(audio.shape[1] / spec.sample_rate * spec.fps))
        chunks = torch.nn.functional.adaptive_avg_pool1d(audio.abs()[:, None], frames)[:, 0]  # (B, T)
        b, _, h, w = source.shape
        energy = chunks[:, :, None, None, None].expand(b, frames, 1, h, w)
        x = torch.cat([source[:, None].expand(b, frames, 3, h, w), energy], dim=2).flatten(0, 1)
        return torch.sigmoid(self.net(x)).view(b, frames, 3, h, w)

    def compute_losses(self, batch: VideoBatch) -> dict[str, Tensor]:  # noqa: D102
        pred = self.generate(batch.audio, batch.source, batch.frames.shape[1], batch.audio_mask)
        mask = batch.frame_mask[:, :, None, None, None].float()
        l1 = ((pred - batch.frames).abs() * mask).sum() / (mask.sum() * pred[0, 0].numel())
        return {"loss": l1}
