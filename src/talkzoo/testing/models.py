"""Tiny 2D models for tests and smoke runs of the talking-video family (not papers' models).

:class:`TinyAudioToVideo` and :class:`TinyReenactment` train in seconds on CPU. They exist to prove
the 2D pipeline end to end (datamodule → ``talkzoo fit`` → checkpoint → ``talkzoo test`` with the
family's metrics) on the 2D demo corpus or on fixtures, e.g.::

    talkzoo fit --config recipes/tiny_audio2video_demo.yaml
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from talkzoo.data.batch import ReenactmentBatch, VideoBatch
from talkzoo.data.spec import ReenactmentDataSpec, VideoDataSpec
from talkzoo.nn.masked import masked_mean
from talkzoo.tasks.video import AudioToVideoTask, ReenactmentTask

__all__ = ["TinyAudioToVideo", "TinyReenactment"]


def _masked_l1(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean absolute error over real frames: ``(B, T, 3, H, W)`` tensors, ``(B, T)`` bool mask."""
    return masked_mean((pred - target).abs(), mask)


class _Residual(nn.Module):
    """``x + up(conv(relu(conv([down(x), c]))))``: a residual on ``(N, 3, H, W)`` images computed at
    ``1/scale`` resolution, conditioned on ``c``: an ``(N, C)`` vector (broadcast over the pixels) or an
    ``(N, C, H/scale, W/scale)`` map. The last conv is zero-initialised, so training starts at ``x``."""

    def __init__(self, cond_channels: int, channels: int, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.inp = nn.Conv2d(3 + cond_channels, channels, 3, padding=1)
        self.out = nn.Conv2d(channels, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def down(self, image: Tensor) -> Tensor:
        """``(N, C, H, W)`` → ``(N, C, H/scale, W/scale)`` by average pooling."""
        return F.avg_pool2d(image, self.scale) if self.scale > 1 else image

    def forward(self, image: Tensor, cond: Tensor) -> Tensor:
        n, _, h, w = image.shape
        small = self.down(image)
        if cond.ndim == 2:
            cond = cond[:, :, None, None].expand(n, cond.shape[1], *small.shape[-2:])
        delta = self.out(F.relu(self.inp(torch.cat([small, cond], dim=1))))
        if self.scale > 1:
            delta = F.interpolate(delta, size=(h, w), mode="bilinear", align_corners=False)
        return (image + delta).clamp(0, 1)


class TinyAudioToVideo(AudioToVideoTask):
    """Source portrait + per-frame audio energy bands → frames (a residual conv on the source).

    Audio: ``(B, S)`` float32 at ``spec.sample_rate`` Hz is cut into ``T`` equal windows (one per
    frame at ``spec.fps``); each window's log energy in ``bands`` equal frequency bands conditions a
    two-layer residual convolution applied to the source at ``1/scale`` resolution. Loss: masked L1.

    Args:
        spec: :class:`~talkzoo.data.spec.VideoDataSpec` (linked from the datamodule).
        channels: hidden channels. bands: audio energy bands. scale: working-resolution divisor.
        lr: Adam learning rate.
        metric_weights, landmark_metrics, landmarker, identity: see :class:`~talkzoo.tasks.video.AudioToVideoTask`.
    """

    def __init__(
        self,
        spec: VideoDataSpec | dict | None = None,
        channels: int = 16,
        bands: int = 8,
        scale: int = 4,
        lr: float = 3e-3,
        metric_weights: dict[str, str] | None = None,
        landmark_metrics: bool | None = None,
        landmarker: str = "auto",
        identity: str | None = "auto",
    ) -> None:
        super().__init__(spec=spec, optimizer=lambda p: torch.optim.Adam(p, lr=lr),
                         metric_weights=metric_weights, landmark_metrics=landmark_metrics,
                         landmarker=landmarker, identity=identity)
        self.bands = bands
        self.body = _Residual(bands, channels, scale)

    def _features(self, audio: Tensor, frames: int) -> Tensor:
        """``(B, S)`` → ``(B, T, bands)`` log band energies of ``T`` equal windows."""
        b, s = audio.shape
        win = max(2, s // frames)
        x = audio[:, : win * frames].reshape(b, frames, win) if s >= win * frames else F.pad(audio, (0, win * frames - s)).reshape(b, frames, win)
        spectrum = torch.fft.rfft(x, dim=-1).abs() ** 2
        energy = F.adaptive_avg_pool1d(spectrum.flatten(0, 1)[:, None], self.bands)[:, 0].view(b, frames, self.bands)
        return torch.log1p(energy * 100.0)

    def generate(self, audio: Tensor, source: Tensor, num_frames: int | None = None, audio_mask: Tensor | None = None) -> Tensor:
        """``(B, T, 3, H, W)`` float32 [0, 1] frames at ``spec.fps`` (see the class docstring)."""
        spec = self.require_spec()
        frames = num_frames or max(1, round(audio.shape[1] / spec.sample_rate * spec.fps))
        if audio_mask is not None:
            audio = audio * audio_mask
        cond = self._features(audio, frames)
        b, _, h, w = source.shape
        out = self.body(source[:, None].expand(b, frames, 3, h, w).flatten(0, 1), cond.flatten(0, 1))
        return out.view(b, frames, 3, h, w)

    def compute_losses(self, batch: VideoBatch) -> dict[str, Tensor]:
        """``{"loss"}``: masked L1 between generated and real frames."""
        pred = self.generate(batch.audio, batch.source, batch.frames.shape[1], batch.audio_mask)
        return {"loss": _masked_l1(pred, batch.frames, batch.frame_mask)}


class TinyReenactment(ReenactmentTask):
    """Source image + driving frame → frame: a residual conv on the source conditioned on the driving
    frame and its difference from the source, both average-pooled to ``1/scale`` resolution.

    Args:
        spec: :class:`~talkzoo.data.spec.ReenactmentDataSpec`.
        channels: hidden channels. scale: working-resolution divisor. lr: Adam learning rate.
        metric_weights, landmark_metrics, landmarker, identity: see :class:`~talkzoo.tasks.video.ReenactmentTask`.
    """

    def __init__(
        self,
        spec: ReenactmentDataSpec | dict | None = None,
        channels: int = 16,
        scale: int = 4,
        lr: float = 3e-3,
        metric_weights: dict[str, str] | None = None,
        landmark_metrics: bool | None = None,
        landmarker: str = "auto",
        identity: str | None = "auto",
    ) -> None:
        super().__init__(spec=spec, optimizer=lambda p: torch.optim.Adam(p, lr=lr),
                         metric_weights=metric_weights, landmark_metrics=landmark_metrics,
                         landmarker=landmarker, identity=identity)
        self.body = _Residual(6, channels, scale)

    def generate(self, source: Tensor, driving: Tensor, frame_mask: Tensor | None = None) -> Tensor:
        """``(B, T, 3, H, W)`` float32 [0, 1]: one output frame per driving frame."""
        b, t, _, h, w = driving.shape
        src = source[:, None].expand(b, t, 3, h, w).flatten(0, 1)
        drv = driving.flatten(0, 1)
        cond = self.body.down(torch.cat([drv, drv - src], dim=1))
        return self.body(src, cond).view(b, t, 3, h, w)

    def compute_losses(self, batch: ReenactmentBatch) -> dict[str, Tensor]:
        """``{"loss"}``: masked L1 between the output and the driving frames."""
        pred = self.generate(batch.source, batch.driving, batch.frame_mask)
        return {"loss": _masked_l1(pred, batch.driving, batch.frame_mask)}
