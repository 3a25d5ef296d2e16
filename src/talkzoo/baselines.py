"""Reference baselines of every family, evaluated like any model.

Audio → 3D mesh (both ignore the audio; the rows every 3D result is compared against):

* :class:`StaticTemplate` — every frame is the subject's neutral template (zero motion).
* :class:`MeanTrainingMotion` — every frame is the template plus the mean displacement of all
  training frames, per vertex (the best constant offset in the least-squares sense).

    talkzoo test --config recipes/baseline_static_demo.yaml
    talkzoo test --config recipes/baseline_mean_demo.yaml

2D families (the rows every 2D result is compared against; no parameters to train):

* :class:`StaticSourceVideo` — audio → video: every frame is the source portrait (no motion).
* :class:`StaticSourceReenactment` — reenactment: every frame is the source image (ignores the
  driving video).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from talkzoo.data.batch import MeshBatch, ReenactmentBatch, VideoBatch
from talkzoo.data.spec import MeshDataSpec, ReenactmentDataSpec, VideoDataSpec
from talkzoo.nn.masked import masked_mean
from talkzoo.tasks.mesh import AudioToMeshTask
from talkzoo.tasks.video import AudioToVideoTask, ReenactmentTask

__all__ = ["MeanTrainingMotion", "StaticSourceReenactment", "StaticSourceVideo", "StaticTemplate"]


class StaticTemplate(AudioToMeshTask):
    """Zero-motion baseline: ``vertices[t] = template`` for every frame.

    Args:
        spec: mesh data spec (linked from the datamodule).
    """

    def __init__(self, spec: MeshDataSpec | dict | None = None) -> None:
        super().__init__(spec=spec)
        self._dummy = nn.Parameter(torch.zeros(()))  # Lightning needs a parameter to build an optimizer

    def generate(self, audio: Tensor, template: Tensor, speaker: Tensor | None = None, num_frames: int | None = None, audio_mask: Tensor | None = None) -> Tensor:
        """``(B, T, V, 3)`` copies of ``template`` (metres); ``T`` from ``num_frames`` or the audio."""
        frames = num_frames or int(self.frames_for_audio(audio.shape[1]))
        return template[:, None].expand(-1, frames, -1, -1).clone()

    def compute_losses(self, batch: MeshBatch) -> dict[str, Tensor]:
        """Masked MSE (m²) of the prediction; not trainable (the term carries no gradient)."""
        pred = self.generate(batch.audio, batch.template, num_frames=batch.vertices.shape[1])
        mse = masked_mean((pred - batch.vertices) ** 2, batch.frame_mask)
        return {"loss": mse + 0.0 * self._dummy}


class MeanTrainingMotion(StaticTemplate):
    """Mean-motion baseline: ``vertices[t] = template + mean training displacement`` (per vertex).

    The mean ``(V, 3)`` (metres) is computed over every real frame of the datamodule's training
    split the first time the model is fitted, validated or tested, and kept in the state dict.

    Args:
        spec: mesh data spec (linked from the datamodule).
    """

    def __init__(self, spec: MeshDataSpec | dict | None = None) -> None:
        super().__init__(spec=spec)
        self.register_buffer("mean_displacement", torch.zeros(self.mesh_spec.num_vertices, 3))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def fit_mean(self, batches) -> None:
        """Set the mean from an iterable of :class:`MeshBatch` (the training split)."""
        total = torch.zeros(self.mesh_spec.num_vertices, 3, dtype=torch.float64)
        count = 0
        for batch in batches:
            total += batch.displacements.double().sum(dim=(0, 1)).cpu()
            count += int(batch.frame_mask.sum())
        self.mean_displacement.copy_((total / max(count, 1)).to(self.mean_displacement))
        self.fitted.fill_(True)

    def _ensure_fitted(self) -> None:
        if bool(self.fitted):
            return
        datamodule = self.trainer.datamodule
        datamodule.setup("fit")
        self.fit_mean(datamodule.train_dataloader())

    def on_fit_start(self) -> None:  # noqa: D102
        self._ensure_fitted()

    def on_validation_start(self) -> None:  # noqa: D102
        self._ensure_fitted()

    def on_test_start(self) -> None:  # noqa: D102
        self._ensure_fitted()

    def generate(self, audio: Tensor, template: Tensor, speaker: Tensor | None = None, num_frames: int | None = None, audio_mask: Tensor | None = None) -> Tensor:
        """``(B, T, V, 3)``: template + mean training displacement, metres."""
        return super().generate(audio, template, speaker, num_frames, audio_mask) + self.mean_displacement


def _masked_l1(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean |pred - target| over real frames of ``(B, T, 3, H, W)`` tensors with a ``(B, T)`` mask."""
    w = mask[:, :, None, None, None].to(pred.dtype)
    return ((pred - target).abs() * w).sum() / (w.sum() * pred[0, 0].numel()).clamp(min=1)


class StaticSourceVideo(AudioToVideoTask):
    """Static-source baseline of the audio → video family: ``frames[t] = source`` for every ``t``.

    Ignores the audio; the frame count follows the audio (or ``num_frames``). Evaluated with the
    family's metrics like any model (``talkzoo test --config recipes/baseline_static_video_demo.yaml``).

    Args:
        spec, metric_weights, landmark_metrics, landmarker, identity: see
            :class:`~talkzoo.tasks.video.AudioToVideoTask`.
    """

    def __init__(self, spec: VideoDataSpec | dict | None = None, metric_weights: dict[str, str] | None = None,
                 landmark_metrics: bool | None = None, landmarker: str = "auto", identity: str | None = "auto") -> None:
        super().__init__(spec=spec, metric_weights=metric_weights, landmark_metrics=landmark_metrics,
                         landmarker=landmarker, identity=identity)
        self._dummy = nn.Parameter(torch.zeros(()))  # Lightning needs a parameter to build an optimizer

    def generate(self, audio: Tensor, source: Tensor, num_frames: int | None = None, audio_mask: Tensor | None = None) -> Tensor:
        """``(B, T, 3, H, W)`` float32 copies of ``source`` ``(B, 3, H, W)``; ``T`` from ``num_frames`` or the audio."""
        frames = int(num_frames) if num_frames is not None else self.num_frames_for(audio.shape[1])
        return source[:, None].expand(-1, frames, -1, -1, -1).float().clone()

    def compute_losses(self, batch: VideoBatch) -> dict[str, Tensor]:
        """Masked L1 of the prediction (not trainable: the term carries no gradient)."""
        pred = self.generate(batch.audio, batch.source, num_frames=batch.frames.shape[1])
        return {"loss": _masked_l1(pred, batch.frames.float(), batch.frame_mask) + 0.0 * self._dummy}


class StaticSourceReenactment(ReenactmentTask):
    """Static-source baseline of the reenactment family: ``frames[t] = source`` (driving ignored).

    Args:
        spec, metric_weights, landmark_metrics, landmarker, identity: see
            :class:`~talkzoo.tasks.video.ReenactmentTask`.
    """

    def __init__(self, spec: ReenactmentDataSpec | dict | None = None, metric_weights: dict[str, str] | None = None,
                 landmark_metrics: bool | None = None, landmarker: str = "auto", identity: str | None = "auto") -> None:
        super().__init__(spec=spec, metric_weights=metric_weights, landmark_metrics=landmark_metrics,
                         landmarker=landmarker, identity=identity)
        self._dummy = nn.Parameter(torch.zeros(()))

    def generate(self, source: Tensor, driving: Tensor, frame_mask: Tensor | None = None) -> Tensor:
        """``(B, T, 3, H, W)`` float32 copies of ``source``, ``T`` = driving frames."""
        return source[:, None].expand(-1, driving.shape[1], -1, -1, -1).float().clone()

    def compute_losses(self, batch: ReenactmentBatch) -> dict[str, Tensor]:
        """Masked L1 against the driving frames (not trainable)."""
        pred = self.generate(batch.source, batch.driving)
        return {"loss": _masked_l1(pred, batch.driving.float(), batch.frame_mask) + 0.0 * self._dummy}
