"""Audio → 3D mesh family base (DualTalker, OT-Talk, and any third-party mesh model).

Contract of the family:

* input: a :class:`~talkzoo.data.batch.MeshBatch` — 16 kHz waveforms, templates ``(B, V, 3)`` in
  metres, training-speaker ids;
* output of :meth:`AudioToMeshTask.generate`: vertex positions ``(B, T, V, 3)`` in metres at
  ``spec.fps``;
* evaluation: LVE, MVE and FDD on the region files the spec names, built and updated by
  :mod:`talkzoo.metrics.mesh` (:func:`~talkzoo.metrics.mesh.build_mesh_metrics`,
  :func:`~talkzoo.metrics.mesh.update_mesh_metrics`), logged as ``val/<metric>@<region>`` and
  ``test/<metric>@<region>``;
* predict output: one :class:`MeshPrediction` per sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor
from torchmetrics import MetricCollection

from talkzoo.data.batch import MeshBatch
from talkzoo.data.spec import FAMILY_MESH, MeshDataSpec
from talkzoo.errors import ConfigError
from talkzoo.metrics.mesh import FAMILY_MESH_METRICS, build_mesh_metrics, update_mesh_metrics
from talkzoo.nn.optim import adam
from talkzoo.nn.sequence import frames_for_samples, samples_per_sequence
from talkzoo.tasks.base import TalkingFaceTask


@dataclass
class MeshPrediction:
    """One predicted sequence, as returned by ``predict_step`` and ``talkzoo predict``.

    Attributes:
        name: sequence name.
        subject: subject name.
        vertices: ``(T, V, 3)`` float32 numpy array, metres.
        fps: frame rate in frames per second.
    """

    name: str
    subject: str
    vertices: np.ndarray
    fps: float


class AudioToMeshTask(TalkingFaceTask):
    """Abstract base of speech-driven 3D face animation models.

    Args:
        spec: :class:`~talkzoo.data.spec.MeshDataSpec` (linked from the datamodule).
        optimizer: callable ``params -> Optimizer`` (default Adam, lr 1e-4).
        lr_scheduler: optional callable ``optimizer -> LRScheduler``.
        unseen_speaker: training speaker (name or index into ``spec.speakers``) whose style
            conditions subjects that are not training speakers (``speaker == -1``, e.g. VOCASET's
            validation and test subjects). The papers do not say which one they used; the
            FaceFormer/CodeTalker evaluation code conditions on one training speaker.

    Raises:
        FamilyMismatchError: for a spec of another family.
        ConfigError: if ``unseen_speaker`` is not a training speaker.

    Subclasses build their layers in ``__init__`` and implement :meth:`compute_losses` and
    :meth:`generate`.
    """

    family: ClassVar[str] = FAMILY_MESH
    spec_class: ClassVar[type] = MeshDataSpec

    def __init__(
        self,
        spec: MeshDataSpec | dict | None = None,
        optimizer: OptimizerCallable = adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        unseen_speaker: str | int = 0,
    ) -> None:
        super().__init__(spec=spec, optimizer=optimizer, lr_scheduler=lr_scheduler)
        self.unseen_speaker = unseen_speaker

    # ------------------------------------------------------------------ helpers
    @property
    def mesh_spec(self) -> MeshDataSpec:
        """The spec, typed (raises :class:`ConfigError` when the model was built without one)."""
        return self.require_spec()  # type: ignore[return-value]

    def unseen_speaker_index(self) -> int:
        """Index of the training speaker used for subjects outside the training set."""
        speakers = self.mesh_spec.speakers
        if not speakers:
            return 0
        if isinstance(self.unseen_speaker, str) and not self.unseen_speaker.lstrip("-").isdigit():
            if self.unseen_speaker not in speakers:
                raise ConfigError(
                    f"unseen_speaker '{self.unseen_speaker}' is not a training speaker; "
                    f"expected one of {list(speakers)}"
                )
            return speakers.index(self.unseen_speaker)
        idx = int(self.unseen_speaker)
        if not 0 <= idx < len(speakers):
            raise ConfigError(f"unseen_speaker index {idx} is out of range for {len(speakers)} training speakers")
        return idx

    def resolve_speaker(self, speaker: Tensor) -> Tensor:
        """Map ``-1`` (not a training speaker) to :meth:`unseen_speaker_index`.

        Args:
            speaker: ``(B,)`` int64 speaker ids.

        Returns:
            ``(B,)`` int64 ids, all in ``[0, len(spec.speakers))``.
        """
        return torch.where(speaker < 0, torch.full_like(speaker, self.unseen_speaker_index()), speaker)

    def frames_for_audio(self, num_samples: int | Tensor) -> int | Tensor:
        """Number of mesh frames that cover ``num_samples`` audio samples at ``spec.fps``.

        ``round(num_samples / sample_rate * fps)`` (at least 1), the convention of the
        FaceFormer-layout datasets, whose motion and audio have equal durations
        (:func:`talkzoo.nn.sequence.frames_for_samples`).
        """
        spec = self.mesh_spec
        return frames_for_samples(num_samples, spec.sample_rate, spec.fps)

    # ------------------------------------------------------------------ abstract API
    def generate(  # type: ignore[override]
        self,
        audio: Tensor,
        template: Tensor,
        speaker: Tensor | None = None,
        num_frames: int | None = None,
        audio_mask: Tensor | None = None,
    ) -> Tensor:
        """Animate a template from speech.

        Args:
            audio: ``(B, S)`` float32 waveform at ``spec.sample_rate`` Hz (16 kHz).
            template: ``(B, V, 3)`` float32 neutral template, metres.
            speaker: ``(B,)`` int64 training-speaker ids (``-1`` = unseen; see ``unseen_speaker``);
                ``None`` uses the unseen-speaker style for all.
            num_frames: number of output frames; default :meth:`frames_for_audio` of ``S``.
            audio_mask: ``(B, S)`` bool, ``True`` on real samples (``None``: all real).

        Returns:
            ``(B, T, V, 3)`` float32 vertex positions in metres at ``spec.fps``.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ evaluation
    #: the metrics :meth:`configure_metrics` builds (:func:`~talkzoo.metrics.mesh.build_mesh_metrics`
    #: names); a model that reports more sets e.g. ``FAMILY_MESH_METRICS + OTTALK_MESH_METRICS``.
    metric_names: ClassVar[tuple[str, ...]] = FAMILY_MESH_METRICS

    def configure_metrics(self) -> MetricCollection | None:
        """The family's metrics named by :attr:`metric_names` (default MVE on all vertices, LVE and FDD on
        the spec's lip/upper-face region files when given), from :func:`~talkzoo.metrics.mesh.build_mesh_metrics`."""
        if self.spec is None:
            return None
        return build_mesh_metrics(self.mesh_spec, self.metric_names)

    def predict_for_metrics(self, batch: MeshBatch) -> Tensor:
        """Autoregressive/free-running prediction of the whole batch, ``(B, T, V, 3)`` metres."""
        return self.generate(
            batch.audio,
            batch.template,
            speaker=batch.speaker,
            num_frames=batch.vertices.shape[1],
            audio_mask=batch.audio_mask,
        )

    def update_metrics(self, collection: MetricCollection, prediction: Tensor, batch: MeshBatch) -> None:
        """Update every metric with masked predictions (:func:`update_mesh_metrics`)."""
        update_mesh_metrics(collection, prediction, batch)

    def predict_step(self, batch: MeshBatch, batch_idx: int, dataloader_idx: int = 0) -> list[MeshPrediction]:
        """Generate every sequence of the batch; returns one :class:`MeshPrediction` per sequence."""
        num_frames = self.frames_for_audio(samples_per_sequence(batch.audio, batch.audio_mask))
        prediction = self.generate(
            batch.audio, batch.template, speaker=batch.speaker, num_frames=int(num_frames.max()), audio_mask=batch.audio_mask
        )
        out = []
        for b, name in enumerate(batch.names):
            length = int(num_frames[b])
            out.append(
                MeshPrediction(
                    name=name,
                    subject=batch.subjects[b],
                    vertices=prediction[b, :length].float().cpu().numpy(),
                    fps=self.mesh_spec.fps,
                )
            )
        return out
