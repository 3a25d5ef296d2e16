"""Audio → video and video → video (reenactment) family bases (FLOAT, AMIE, DaGAN, third parties).

Contracts:

* :class:`AudioToVideoTask` — input :class:`~talkzoo.data.batch.VideoBatch` (16 kHz speech plus one
  source portrait); :meth:`AudioToVideoTask.generate` returns RGB frames ``(B, T, 3, H, W)`` in
  [0, 1] at ``spec.fps`` (25 fps in this family).
* :class:`ReenactmentTask` — input :class:`~talkzoo.data.batch.ReenactmentBatch` (a source image
  and driving frames); :meth:`ReenactmentTask.generate` returns ``(B, T, 3, H, W)`` in [0, 1].

Both evaluate, over all real frames, the 2D metrics built by
:func:`talkzoo.metrics.video.video_metrics` (one builder for tasks, plugins and the leaderboard):
PSNR, SSIM and CPBD always; LMD (audio → video) or AKD (reenactment) detected with the same
landmarker on the generated *and* the ground-truth frames (dlib's 68-point predictor when the
``dlib`` extra is installed, else the shipped MediaPipe FaceMesh mapped to iBUG-68); CSIM (and AED
for reenactment) with dlib's ResNet identity network (the extra) or a local TorchScript network
named by ``metric_weights["identity"]`` (e.g. ArcFace). Each metric's name states its landmarker
or identity network (``test/LMD@dlib68``, ``test/CSIM@dlib-resnet``). Metrics whose network is not
shipped are added when ``metric_weights`` names a local file: ``lpips_backbone`` (LPIPS),
``inception`` (FID, a TorchScript feature network), ``i3d`` (FVD), ``syncnet`` (LSE-D / LSE-C,
audio → video only). Every metric declares what it reads and the tasks update them in one loop
(:func:`talkzoo.metrics.video.update_video_metrics`).
The predict output is one :class:`VideoPrediction` per sample.

Streaming inference (``talkzoo animate``, long clips): both bases have ``generate_stream``, which
yields the output in consecutive chunks of frames so that memory does not grow with the clip's
length (see :meth:`AudioToVideoTask.generate_stream` and :meth:`ReenactmentTask.generate_stream`
for the contract a plugin follows). ``generate`` stays the whole-clip entry used by training and
the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from einops import rearrange
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor
from torchmetrics import MetricCollection

from talkzoo.data.batch import ReenactmentBatch, VideoBatch
from talkzoo.data.spec import FAMILY_REENACT, FAMILY_VIDEO, ReenactmentDataSpec, VideoDataSpec
from talkzoo.nn.optim import adam
from talkzoo.tasks.base import TalkingFaceTask


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


#: ``metric_weights`` keys understood by the 2D family bases.
METRIC_WEIGHT_KEYS = ("lpips_backbone", "inception", "i3d", "identity", "syncnet")
#: smallest frame size (pixels) at which the landmark metrics run by default (FaceMesh needs a face
#: of at least ~100 px; CPBD needs 64 px).
LANDMARK_MIN_SIZE = 128


def _check_metric_weights(metric_weights: dict[str, str] | None) -> dict[str, str]:
    weights = dict(metric_weights or {})
    unknown = sorted(set(weights) - set(METRIC_WEIGHT_KEYS))
    if unknown:
        from talkzoo.errors import ConfigError

        raise ConfigError(f"metric_weights: unknown key(s) {unknown}; expected some of {list(METRIC_WEIGHT_KEYS)}")
    return weights


def scored_frame_mask(real: Tensor, frame_mask: Tensor, source: Tensor) -> Tensor:
    """The frames the 2D metrics score: real frames that are not the source portrait itself.

    With the usual evaluation protocol the source is a frame of the clip being reconstructed
    (its first frame, ``source_frame="first"``); that frame is the model's input, so scoring it
    would give any copy of the source +inf PSNR and an unearned 0 LMD. A real frame bit-identical
    to the source is therefore left out of every metric (ours; papers rarely state it, FOMM's
    reconstruction protocol likewise scores the frames it did not see). Cross-identity pairs
    lose nothing.

    Args:
        real: ``(B, T, 3, H, W)`` ground-truth frames.
        frame_mask: ``(B, T)`` bool, ``True`` on real frames.
        source: ``(B, 3, H, W)`` source portraits.

    Returns:
        ``(B, T)`` bool mask: ``frame_mask`` without the frames equal to ``source``.
    """
    same = (real == source[:, None]).flatten(2).all(-1)
    return frame_mask & ~same


def metric_inputs(prediction: Tensor, batch: VideoBatch | ReenactmentBatch) -> Any:
    """What the 2D metrics read for one batch (:class:`talkzoo.metrics.video.VideoMetricInputs`).

    The one place that maps a family's batch to metric inputs, used by the task bases and the
    leaderboard: the real frames (``frames`` or ``driving``), the source, the audio (audio →
    video), the stored landmarks, and the scored-frame mask of :func:`scored_frame_mask`.

    Args:
        prediction: ``(B, T, 3, H, W)`` generated frames in [0, 1].
        batch: a :class:`VideoBatch` or :class:`ReenactmentBatch`.
    """
    from talkzoo.metrics.video import VideoMetricInputs

    if isinstance(batch, VideoBatch):
        mask = scored_frame_mask(batch.frames, batch.frame_mask, batch.source)
        return VideoMetricInputs(prediction, mask, real=batch.frames, source=batch.source,
                                 audio=batch.audio, audio_mask=batch.audio_mask, landmarks=batch.landmarks)
    mask = scored_frame_mask(batch.driving, batch.frame_mask, batch.source)
    return VideoMetricInputs(prediction, mask, real=batch.driving, source=batch.source, landmarks=batch.driving_landmarks)


class _FrameMetricsMixin:
    """The 2D metric collection shared by both families (see the module docstring)."""

    metric_weights: dict[str, str]
    landmark_metrics: bool | None
    landmarker: str
    identity: str | None

    def configure_metrics(self) -> MetricCollection:
        """:func:`talkzoo.metrics.video.video_metrics` for this family, image size and options.

        A plugin adds a metric by extending the returned collection (any ``Metric`` with a
        ``reads`` declaration and a ``log_name``); :meth:`update_metrics` feeds it with no change.
        """
        from talkzoo.metrics.video import video_metrics

        return video_metrics(self.family, int(self.require_spec().image_size), self.metric_weights,  # type: ignore[attr-defined]
                             landmarks=self.landmark_metrics, landmarker=self.landmarker, identity=self.identity)

    def update_metrics(self, collection: MetricCollection, prediction: Tensor, batch) -> None:
        """Update every metric with what it ``reads`` (:func:`talkzoo.metrics.video.update_video_metrics`)."""
        from talkzoo.metrics.video import update_video_metrics

        update_video_metrics(collection, metric_inputs(prediction, batch))

    @staticmethod
    def _to_predictions(prediction: Tensor, mask: Tensor, names: list[str], fps: float) -> list[VideoPrediction]:
        out = []
        for b, name in enumerate(names):
            frames = prediction[b][mask[b]].clamp(0, 1).mul(255).round().to(torch.uint8)
            out.append(VideoPrediction(name=name, frames=rearrange(frames, "t c h w -> t h w c").cpu().numpy(), fps=fps))
        return out


class AudioToVideoTask(_FrameMetricsMixin, TalkingFaceTask):
    """Abstract base of audio-driven talking-portrait models.

    Args:
        spec: :class:`~talkzoo.data.spec.VideoDataSpec` (linked from the datamodule).
        optimizer: callable ``params -> Optimizer`` (default Adam, lr 1e-4).
        lr_scheduler: optional callable ``optimizer -> LRScheduler``.
        metric_weights: local weight files of the optional metrics, by key (``lpips_backbone``,
            ``inception``, ``i3d``, ``identity``, ``syncnet``); see the module docstring.
        landmark_metrics: run the landmark metric (LMD / AKD); default ``None`` = on for frames of
            at least 128 px.
        landmarker: the landmarker of LMD / AKD (:func:`talkzoo.landmarks.make_landmarker` name):
            ``"auto"`` = ``dlib68`` with the ``dlib`` extra, else ``facemesh68``; logged in the
            metric's name (``LMD@dlib68``).
        identity: the identity network of CSIM (and AED): ``"auto"`` = ``metric_weights["identity"]``
            when given, else ``dlib-resnet`` with the extra (frames of at least 128 px), else none;
            ``None`` turns them off.

    Raises:
        FamilyMismatchError: for a spec of another family.
        ConfigError: an unknown ``metric_weights`` key.
    """

    family: ClassVar[str] = FAMILY_VIDEO
    spec_class: ClassVar[type] = VideoDataSpec

    def __init__(
        self,
        spec: VideoDataSpec | dict | None = None,
        optimizer: OptimizerCallable = adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        metric_weights: dict[str, str] | None = None,
        landmark_metrics: bool | None = None,
        landmarker: str = "auto",
        identity: str | None = "auto",
    ) -> None:
        self.metric_weights = _check_metric_weights(metric_weights)
        self.landmark_metrics = landmark_metrics
        self.landmarker = landmarker
        self.identity = identity
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

    #: frames per window of the default :meth:`generate_stream` (10 s at 25 fps).
    stream_window_frames: ClassVar[int] = 250
    #: frames of audio context given to ``generate`` on each side of a window by the default
    #: :meth:`generate_stream` (the output frames of the context are dropped).
    stream_context_frames: ClassVar[int] = 0

    def num_frames_for(self, num_samples: int) -> int:
        """Output frames for ``num_samples`` audio samples: ``max(1, round(S / sample_rate * fps))``."""
        spec = self.require_spec()
        return max(1, round(int(num_samples) / spec.sample_rate * spec.fps))

    def generate_stream(
        self,
        audio: Tensor,
        source: Tensor,
        num_frames: int | None = None,
        audio_mask: Tensor | None = None,
        window_frames: int | None = None,
    ) -> Iterator[Tensor]:
        """Animate a portrait window by window: yield consecutive chunks of frames.

        The contract every audio → video model follows (``talkzoo animate`` consumes it, writing
        each chunk to the encoder before asking for the next, so peak memory is one window's, not
        the clip's):

        * yields ``(B, t_k, 3, H, W)`` float32 RGB in [0, 1] chunks, in time order, with
          ``sum(t_k) == num_frames`` (default :meth:`num_frames_for` of the audio length);
        * chunks are what :meth:`generate` would give for those frames, up to the model's own
          long-audio approximation (a model with a bounded attention window may differ from a
          whole-clip ``generate`` at window seams; its README says how);
        * work and memory per chunk are bounded by ``window_frames`` (default
          :attr:`stream_window_frames`), not by the clip's length; the whole waveform is an input
          (16 kHz mono: 38 MB for 10 minutes), the frames are not held.

        The default implementation cuts the frames into windows of ``window_frames`` and calls
        :meth:`generate` on the audio of each window widened by :attr:`stream_context_frames`
        frames on both sides (clipped at the ends), keeping the window's own frames. That is exact
        for models whose frame ``t`` depends only on the audio within that context of ``t`` and on
        the source (the tiny test model, frame-local decoders). A model that carries state across
        time (previous motion latents, autoregressive decoding, ODE sampling with a reference
        motion, as FLOAT and AMIE) overrides this method and carries the state from window to
        window itself; it must keep the same signature and yield contract. It may add
        keyword-only options of its own (FLOAT: ``emotion``, ``nfe``, ...): ``talkzoo animate``
        passes any ``--name value`` it does not know to them, and refuses names the method does
        not take.

        Args:
            audio: ``(B, S)`` float32 waveform at ``spec.sample_rate`` Hz.
            source: ``(B, 3, H, W)`` float32 RGB in [0, 1].
            num_frames: total output frames; default from the audio length.
            audio_mask: ``(B, S)`` bool, ``True`` on real samples.
            window_frames: frames per window (>= 1); default :attr:`stream_window_frames`.

        Yields:
            ``(B, t_k, 3, H, W)`` float32 chunks in [0, 1].

        Raises:
            ConfigError: ``window_frames`` < 1.
        """
        from talkzoo.errors import ConfigError

        spec = self.require_spec()
        total = int(num_frames) if num_frames is not None else self.num_frames_for(audio.shape[1])
        window = int(window_frames if window_frames is not None else self.stream_window_frames)
        if window < 1:
            raise ConfigError(f"{type(self).__name__}.generate_stream: window_frames must be >= 1, got {window}")
        context = max(0, int(self.stream_context_frames))
        per_frame = spec.sample_rate / spec.fps
        for start in range(0, total, window):
            stop = min(total, start + window)
            lo, hi = max(0, start - context), min(total, stop + context)
            a0, a1 = int(round(lo * per_frame)), int(round(hi * per_frame))
            piece = audio[:, a0:a1]
            if piece.shape[1] < a1 - a0:  # audio shorter than the frames asked for: pad with silence
                piece = torch.nn.functional.pad(piece, (0, a1 - a0 - piece.shape[1]))
            mask = None
            if audio_mask is not None:
                mask = audio_mask[:, a0:a1]
                if mask.shape[1] < a1 - a0:
                    mask = torch.nn.functional.pad(mask, (0, a1 - a0 - mask.shape[1]), value=False)
            frames = self.generate(piece, source, num_frames=hi - lo, audio_mask=mask)
            yield frames[:, start - lo : stop - lo]

    def predict_for_metrics(self, batch: VideoBatch) -> Tensor:
        """``(B, T, 3, H, W)`` float [0, 1] frames for the batch, ``T`` = its padded frame count."""
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
        metric_weights: local weight files of the optional metrics, by key (``lpips_backbone``,
            ``inception``, ``i3d``, ``identity``, ``syncnet``); see the module docstring.
        landmark_metrics: run the landmark metric (LMD / AKD); default ``None`` = on for frames of
            at least 128 px.
        landmarker: the landmarker of LMD / AKD (:func:`talkzoo.landmarks.make_landmarker` name):
            ``"auto"`` = ``dlib68`` with the ``dlib`` extra, else ``facemesh68``; logged in the
            metric's name (``LMD@dlib68``).
        identity: the identity network of CSIM (and AED): ``"auto"`` = ``metric_weights["identity"]``
            when given, else ``dlib-resnet`` with the extra (frames of at least 128 px), else none;
            ``None`` turns them off.

    Raises:
        FamilyMismatchError: for a spec of another family.
        ConfigError: an unknown ``metric_weights`` key.
    """

    family: ClassVar[str] = FAMILY_REENACT
    spec_class: ClassVar[type] = ReenactmentDataSpec

    def __init__(
        self,
        spec: ReenactmentDataSpec | dict | None = None,
        optimizer: OptimizerCallable = adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        metric_weights: dict[str, str] | None = None,
        landmark_metrics: bool | None = None,
        landmarker: str = "auto",
        identity: str | None = "auto",
    ) -> None:
        self.metric_weights = _check_metric_weights(metric_weights)
        self.landmark_metrics = landmark_metrics
        self.landmarker = landmarker
        self.identity = identity
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

    def generate_stream(self, source: Tensor, driving: Iterable[Tensor]) -> Iterator[Tensor]:
        """Reenact chunk by chunk: for each driving chunk, yield the output chunk of the same length.

        The contract every reenactment model follows (``talkzoo animate --source --driving``
        decodes the driving video chunk by chunk and consumes this, so peak memory is one chunk's):

        * ``driving`` is an iterable of ``(B, t_k, 3, H, W)`` float32 RGB [0, 1] chunks in time
          order (a tensor ``(B, T, 3, H, W)`` is one chunk);
        * for each chunk, yields ``(B, t_k, 3, H, W)`` float32 RGB [0, 1] before the next chunk is
          read; concatenated, the chunks equal :meth:`generate` on the whole driving video.

        The default implementation calls :meth:`generate` on each chunk, which is exact for models
        whose output frame ``t`` depends only on the source and driving frame ``t``. A model that
        uses other driving frames (FOMM/DaGAN "relative" motion against the *first* driving frame,
        temporal smoothing) overrides this method and keeps that state (e.g. the first frame's
        keypoints) across chunks; it must keep the same signature and yield contract.

        Args:
            source: ``(B, 3, H, W)`` float32 RGB in [0, 1].
            driving: iterable of ``(B, t_k, 3, H, W)`` chunks, or one ``(B, T, 3, H, W)`` tensor.

        Yields:
            ``(B, t_k, 3, H, W)`` float32 chunks in [0, 1].
        """
        if isinstance(driving, Tensor):
            driving = (driving,)
        for chunk in driving:
            yield self.generate(source, chunk)

    def predict_for_metrics(self, batch: ReenactmentBatch) -> Tensor:
        """``(B, T, 3, H, W)`` float [0, 1] frames, one per (padded) driving frame."""
        return self.generate(batch.source, batch.driving, frame_mask=batch.frame_mask)

    def predict_step(self, batch: ReenactmentBatch, batch_idx: int, dataloader_idx: int = 0) -> list[VideoPrediction]:
        """Reenact every sample of the batch."""
        prediction = self.predict_for_metrics(batch)
        return self._to_predictions(prediction, batch.frame_mask, batch.names, self.require_spec().fps)
