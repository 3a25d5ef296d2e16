"""Audio → video and video → video (reenactment) family bases (FLOAT, AMIE, DaGAN, third parties).

Contracts:

* :class:`AudioToVideoTask` — input :class:`~talkzoo.data.batch.VideoBatch` (16 kHz speech plus one
  source portrait); :meth:`AudioToVideoTask.generate` returns RGB frames ``(B, T, 3, H, W)`` in
  [0, 1] at ``spec.fps`` (25 fps in this family).
* :class:`ReenactmentTask` — input :class:`~talkzoo.data.batch.ReenactmentBatch` (a source image
  and driving frames); :meth:`ReenactmentTask.generate` returns ``(B, T, 3, H, W)`` in [0, 1].

Both evaluate PSNR and SSIM (torchmetrics) over all real frames, logged as ``val/PSNR``,
``test/SSIM``; the 2D-family issue adds LPIPS, FID, FVD, CSIM, LSE-C/D, LMD, AKD/AED on top.
The predict output is one :class:`VideoPrediction` per sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from talkzoo.data.batch import ReenactmentBatch, VideoBatch
from talkzoo.data.spec import FAMILY_REENACT, FAMILY_VIDEO, ReenactmentDataSpec, VideoDataSpec
from talkzoo.tasks.base import TalkingFaceTask, _adam


@dataclass
class VideoPrediction:
    """One generated clip.

    Attributes:
        name: sample name.
        frames: ``(T, H, W, 3)`` uint8 RGB numpy array.
        fps: frames per second.
    """

    name: str
    frames: np.ndarray
    fps: float


def _real_frames(video: Tensor, mask: Tensor) -> Tensor:
    """``(B, T, 3, H, W)`` and ``(B, T)`` mask → ``(N, 3, H, W)`` real frames only."""
    return video[mask]


class _FrameMetricsMixin:
    """PSNR/SSIM on real frames, shared by both 2D families."""

    def configure_metrics(self) -> MetricCollection:  # noqa: D102
        return MetricCollection(
            {"PSNR": PeakSignalNoiseRatio(data_range=1.0), "SSIM": StructuralSimilarityIndexMeasure(data_range=1.0)},
            compute_groups=False,
        )

    def update_metrics(self, collection: MetricCollection, prediction: Tensor, batch) -> None:  # noqa: D102
        target = batch.frames if isinstance(batch, VideoBatch) else batch.driving
        pred = _real_frames(prediction.clamp(0, 1), batch.frame_mask).float()
        collection.update(pred, _real_frames(target, batch.frame_mask).float())

    @staticmethod
    def _to_predictions(prediction: Tensor, mask: Tensor, names: list[str], fps: float) -> list[VideoPrediction]:
        out = []
        for b, name in enumerate(names):
            frames = prediction[b][mask[b]].clamp(0, 1).mul(255).round().to(torch.uint8)
            out.append(VideoPrediction(name=name, frames=frames.permute(0, 2, 3, 1).cpu().numpy(), fps=fps))
        return out


class AudioToVideoTask(_FrameMetricsMixin, TalkingFaceTask):
    """Abstract base of audio-driven talking-portrait models.

    Args:
        spec: :class:`~talkzoo.data.spec.VideoDataSpec` (linked from the datamodule).
        optimizer: callable ``params -> Optimizer`` (default Adam, lr 1e-4).
        lr_scheduler: optional callable ``optimizer -> LRScheduler``.

    Raises:
        FamilyMismatchError: for a spec of another family.
    """

    family: ClassVar[str] = FAMILY_VIDEO
    spec_class: ClassVar[type] = VideoDataSpec

    def __init__(
        self,
        spec: VideoDataSpec | dict | None = None,
        optimizer: OptimizerCallable = _adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        super().__init__(spec=spec, optimizer=optimizer, lr_scheduler=lr_scheduler)

    def generate(  # type: ignore[override]
        self, audio: Tensor, source: Tensor, num_frames: int | None = None, audio_mask: Tensor | None = None
    ) -> Tensor:
        """Animate a portrait from speech.

        Args:
            audio: ``(B, S)`` float32 waveform at ``spec.sample_rate`` Hz.
            source: ``(B, 3, H, W)`` float32 RGB in [0, 1].
            num_frames: output length; default ``round(S / sample_rate * fps)``.
            audio_mask: ``(B, S)`` bool, ``True`` on real samples.

        Returns:
            ``(B, T, 3, H, W)`` float32 RGB in [0, 1] at ``spec.fps``.
        """
        raise NotImplementedError

    def predict_for_metrics(self, batch: VideoBatch) -> Tensor:  # noqa: D102
        return self.generate(batch.audio, batch.source, num_frames=batch.frames.shape[1], audio_mask=batch.audio_mask)

    def predict_step(self, batch: VideoBatch, batch_idx: int, dataloader_idx: int = 0) -> list[VideoPrediction]:
        """Generate every clip of the batch (length = its real frames)."""
        prediction = self.predict_for_metrics(batch)
        return self._to_predictions(prediction, batch.frame_mask, batch.names, self.require_spec().fps)


class ReenactmentTask(_FrameMetricsMixin, TalkingFaceTask):
    """Abstract base of video-driven reenactment models (source image + driving video).

    Args:
        spec: :class:`~talkzoo.data.spec.ReenactmentDataSpec` (linked from the datamodule).
        optimizer: callable ``params -> Optimizer`` (default Adam, lr 1e-4).
        lr_scheduler: optional callable ``optimizer -> LRScheduler``.

    Raises:
        FamilyMismatchError: for a spec of another family.
    """

    family: ClassVar[str] = FAMILY_REENACT
    spec_class: ClassVar[type] = ReenactmentDataSpec

    def __init__(
        self,
        spec: ReenactmentDataSpec | dict | None = None,
        optimizer: OptimizerCallable = _adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        super().__init__(spec=spec, optimizer=optimizer, lr_scheduler=lr_scheduler)

    def generate(  # type: ignore[override]
        self, source: Tensor, driving: Tensor, frame_mask: Tensor | None = None
    ) -> Tensor:
        """Transfer the driving motion onto the source identity.

        Args:
            source: ``(B, 3, H, W)`` float32 RGB in [0, 1].
            driving: ``(B, T, 3, H, W)`` float32 RGB in [0, 1].
            frame_mask: ``(B, T)`` bool, ``True`` on real driving frames.

        Returns:
            ``(B, T, 3, H, W)`` float32 RGB in [0, 1].
        """
        raise NotImplementedError

    def predict_for_metrics(self, batch: ReenactmentBatch) -> Tensor:  # noqa: D102
        return self.generate(batch.source, batch.driving, frame_mask=batch.frame_mask)

    def predict_step(self, batch: ReenactmentBatch, batch_idx: int, dataloader_idx: int = 0) -> list[VideoPrediction]:
        """Reenact every sample of the batch."""
        prediction = self.predict_for_metrics(batch)
        return self._to_predictions(prediction, batch.frame_mask, batch.names, self.require_spec().fps)
