"""A tiny reenactment model: a convolution of the (source, driving frame) pair."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from talkzoo.data.batch import ReenactmentBatch
from talkzoo.data.spec import ReenactmentDataSpec
from talkzoo.tasks.video import ReenactmentTask


class TinyReenactModel(ReenactmentTask):
    """``out_t = sigmoid(conv([source, driving_t]))``.

    Args:
        spec: reenactment data spec (linked from the datamodule).
        channels: hidden channels.
        lr: Adam learning rate.
    """

    def __init__(self, spec: ReenactmentDataSpec | dict | None = None, channels: int = 8, lr: float = 1e-2) -> None:
        super().__init__(spec=spec, optimizer=lambda p: torch.optim.Adam(p, lr=lr))
        self.net = nn.Sequential(nn.Conv2d(6, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, 3, 3, padding=1))

    def generate(self, source: Tensor, driving: Tensor, frame_mask: Tensor | None = None) -> Tensor:  # noqa: D102
        b, t, c, h, w = driving.shape
        x = torch.cat([source[:, None].expand(b, t, c, h, w), driving], dim=2).flatten(0, 1)
        return torch.sigmoid(self.net(x)).view(b, t, 3, h, w)

    def compute_losses(self, batch: ReenactmentBatch) -> dict[str, Tensor]:  # noqa: D102
        pred = self.generate(batch.source, batch.driving, batch.frame_mask)
        mask = batch.frame_mask[:, :, None, None, None].float()
        l1 = ((pred - batch.driving).abs() * mask).sum() / (mask.sum() * pred[0, 0].numel())
        return {"loss": l1}
