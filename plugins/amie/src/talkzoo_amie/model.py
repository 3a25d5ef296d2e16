"""AMIE as a talkzoo audio → video model (LightningModule, manual optimisation).

Paper: Hao Zhu, Huaibo Huang, Yi Li, Aihua Zheng, Ran He, "Arbitrary Talking Face Generation via
Attentional Audio-Visual Coherence Learning", IJCAI 2020 (arXiv 1812.06589v2). No code was
published; every architecture detail is ours and listed in ``plugins/amie/README.md``.

Per training step (§3.2 and the asymmetric scheme; one optimizer with three parameter groups,
only the group whose loss is back-propagated has gradients when it steps):

1. free-running generation of the clip, frame by frame through the previous generated frame, with
   truncated back-propagation every ``tbptt_frames`` frames;
2. the MI estimator T_θ: maximise I(F, A) on real pairs (asymmetric, ``variant`` with ``amie``/
   ``asy``) or on the generated pairs (symmetric MINE rows of Table 3), JS (Eq. 7) or DV (Eq. 6);
3. the frame discriminator D (Eq. 9);
4. the generator (and mask predictor): ``L = L_GAN + λ1 L_perc + λ2 L_lip + λ3 L_mi`` (Eq. 13) with
   D and T_θ frozen (their parameters get no gradient).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from talkzoo.data.batch import VideoBatch
from talkzoo.data.spec import VideoDataSpec
from talkzoo.errors import ConfigError, DataError
from talkzoo.nn.detail import upsample_with_detail
from talkzoo.tasks.video import AudioToVideoTask

from talkzoo_amie.layers import MFCCWindows
from talkzoo_amie.losses import (
    attend_identity,
    d_loss,
    g_adversarial_loss,
    lip_l1,
    mi_lower_bound,
    perceptual_loss,
    sample_attention_rate,
    shuffle_indices,
)
from talkzoo_amie.network import FrameDiscriminator, Generator, MaskPredictor, StatisticsNetwork

__all__ = ["AMIE", "VARIANTS", "amie_adam", "build_parameter_count_model"]

#: Table 3 rows as switches: variant -> (MI estimator, asymmetric, dynamic attention).
#: "Ours = Baseline + AMIE + DA, and AMIE = MINE + Asy. + JS"; MINE alone = DV, trained and used on
#: generated pairs; JS replaces DV; Asy. trains T on real pairs and uses it on generated ones.
VARIANTS: dict[str, tuple[str, bool, bool]] = {
    "baseline": ("none", False, False),
    "mine": ("dv", False, False),
    "da": ("none", False, True),
    "mine+da": ("dv", False, True),
    "mine+js": ("js", False, False),
    "mine+js+da": ("js", False, True),
    "mine+asy+da": ("dv", True, True),
    "amie": ("js", True, False),
    "amie+da": ("js", True, True),
}

#: MediaPipe/iBUG-68 mouth points (48..67).
_MOUTH = slice(48, 68)


def amie_adam(params: Any) -> torch.optim.Optimizer:
    """Default optimizer: Adam, lr 2e-4, betas (0.5, 0.999) (the common GAN setting; the paper gives none)."""
    return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Turn ``requires_grad`` off for every parameter of ``modules`` inside the block, then restore it."""
    params = [p for m in modules if m is not None for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


class AMIE(AudioToVideoTask):
    """AMIE: one identity image + speech → talking-face frames, one frame at a time.

    Args:
        spec: :class:`~talkzoo.data.spec.VideoDataSpec` (linked from the datamodule).
        variant: Table 3 row (:data:`VARIANTS`): ``baseline``, ``mine``, ``da``, ``mine+da``,
            ``mine+js``, ``mine+js+da``, ``mine+asy+da``, ``amie``, ``amie+da`` (the paper's model).
        resolution: working resolution of the networks in pixels (``4 * 2^k``); ``None`` = the data's
            ``image_size`` (256 in the paper). Frames are downsampled (anti-aliased) for the networks
            and the output upsampled (bilinear) to ``image_size``; a reduced value is for CPU demos.
        base_channels, max_channels: encoder widths (first block, cap; doubled per block).
        audio_dim: audio feature size of the generator, D's Audio FC and T_θ.
        audio_channels: first conv width of the audio encoders.
        classifier_dim: hidden width of D's classifier and T_θ's 3-layer classifier.
        mask_channels: hidden width of the mask predictor.
        mfcc_steps, n_mfcc, mfcc_f_max, mfcc_win_ms: the per-frame MFCC window
            (:class:`~talkzoo_amie.layers.MFCCWindows`; paper: 20 x 13 at "5000Hz").
        lambda_gan, lambda_perc, lambda_lip, lambda_mi: weights of Eq. 13 (L_GAN has weight 1 in
            the paper; λ1-λ3 are not given: ours 1, 10, 0.1).
        lambda_pixel: weight of a full-frame L1 term (**not in the paper**; 0 in the paper recipes).
        perceptual_weights: local VGG-19 state dict for φ (Eq. 10); ``None`` = the seeded random
            substitute of :class:`talkzoo.nn.perceptual.VGG19Features` (not perceptual; say so).
        perceptual_layers: VGG-19 ReLU layers of φ. perceptual_distance: ``mse`` (Eq. 10) or ``l1``.
        lip_crop_size: ``(h, w)`` of the lip crop of Eq. 11 at the working resolution (default
            ``R/8 x 3R/16``).
        lip_box: fallback lip box ``x0, y0, x1, y1`` as fractions of the frame, used when the data has
            no landmarks. lip_box_margin: dilation of a landmark mouth box (fraction of its size).
        da_phase_epochs: ``(e1, e2)``: epochs at the high attention rate, then epochs decreasing to the
            low rate; after them the rate is 1 (§3.3).
        da_high, da_low: the rate ranges (paper: 0.7-0.9 and 0.1-0.3).
        tbptt_frames: truncated back-propagation: the previous frame is detached every this many
            frames (``None``: back-propagate through the whole clip).
        d_mismatched_negatives: D also sees real frames with another frame's audio as negatives.
        estimator_steps: updates of T_θ per batch, each with a fresh shuffle (1 = the paper's
            one-update-per-step reading; more lets T keep up with the generator, as MINE practice does).
        detail_skip: add the identity image's detail lost by the working-resolution round trip back
            to the upsampled output (``out + I_f - up(down(I_f))``; ours, for reduced resolutions).
        optimizer: ``params -> Optimizer`` given three parameter groups (generator, discriminator,
            estimator); default :func:`amie_adam`.
        lr_scheduler: optional ``optimizer -> LRScheduler``, stepped once per epoch.
        metric_weights, landmark_metrics, landmarker, identity: see
            :class:`~talkzoo.tasks.video.AudioToVideoTask`.

    Raises:
        ConfigError: an unknown variant, a resolution that is not ``4 * 2^k`` or exceeds the data's
            size, bad ranges.
        MissingWeightsError: at the start of ``fit`` (:meth:`setup`), when ``perceptual_weights``
            names a file that does not exist (inference never builds φ).

    Multi-GPU: each training step back-propagates three losses with different frozen parts; under
    DDP use ``--trainer.strategy ddp_find_unused_parameters_true``.
    """

    def __init__(
        self,
        spec: VideoDataSpec | dict | None = None,
        variant: Literal["baseline", "mine", "da", "mine+da", "mine+js", "mine+js+da", "mine+asy+da", "amie", "amie+da"] = "amie+da",
        resolution: int | None = None,
        base_channels: int = 64,
        max_channels: int = 512,
        audio_dim: int = 256,
        audio_channels: int = 32,
        classifier_dim: int = 512,
        mask_channels: int = 16,
        mfcc_steps: int = 20,
        n_mfcc: int = 13,
        mfcc_f_max: float = 2500.0,
        mfcc_win_ms: float = 25.0,
        lambda_gan: float = 1.0,
        lambda_perc: float = 1.0,
        lambda_lip: float = 10.0,
        lambda_mi: float = 0.1,
        lambda_pixel: float = 0.0,
        perceptual_weights: str | None = None,
        perceptual_layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_4", "relu4_4"),
        perceptual_distance: Literal["mse", "l1"] = "mse",
        lip_crop_size: Sequence[int] | None = None,
        lip_box: Sequence[float] = (0.25, 0.55, 0.75, 0.85),
        lip_box_margin: float = 0.15,
        da_phase_epochs: Sequence[int] = (8, 8),
        da_high: Sequence[float] = (0.7, 0.9),
        da_low: Sequence[float] = (0.1, 0.3),
        tbptt_frames: int | None = 4,
        d_mismatched_negatives: bool = True,
        estimator_steps: int = 1,
        detail_skip: bool = False,
        optimizer: OptimizerCallable = amie_adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        metric_weights: dict[str, str] | None = None,
        landmark_metrics: bool | None = None,
        landmarker: str = "auto",
        identity: str | None = "auto",
    ) -> None:
        super().__init__(spec=spec, optimizer=optimizer, lr_scheduler=lr_scheduler, metric_weights=metric_weights,
                         landmark_metrics=landmark_metrics, landmarker=landmarker, identity=identity)
        self.automatic_optimization = False
        if variant not in VARIANTS:
            raise ConfigError(f"AMIE variant {variant!r} is unknown; expected one of {list(VARIANTS)} (Table 3 rows)")
        self.variant = variant
        self.mi_estimator, self.asymmetric, self.dynamic_attention = VARIANTS[variant]
        spec_ = self.require_spec()
        size = int(spec_.image_size)
        self.resolution = int(resolution) if resolution is not None else size
        if self.resolution > size:
            raise ConfigError(f"AMIE resolution {self.resolution} exceeds the data's image_size {size}")
        for name, rng_ in (("da_high", da_high), ("da_low", da_low)):
            if len(rng_) != 2 or not 0.0 <= float(rng_[0]) <= float(rng_[1]) <= 1.0:
                raise ConfigError(f"AMIE {name} must be (min, max) with 0 <= min <= max <= 1, got {list(rng_)}")
        if len(da_phase_epochs) != 2 or min(int(e) for e in da_phase_epochs) < 0:
            raise ConfigError(f"AMIE da_phase_epochs must be two non-negative epoch counts, got {list(da_phase_epochs)}")
        if len(lip_box) != 4 or not (0 <= lip_box[0] < lip_box[2] <= 1 and 0 <= lip_box[1] < lip_box[3] <= 1):
            raise ConfigError(f"AMIE lip_box must be x0, y0, x1, y1 fractions with x0 < x1 and y0 < y1, got {list(lip_box)}")
        if int(estimator_steps) < 1:
            raise ConfigError(f"AMIE estimator_steps must be >= 1, got {estimator_steps}")
        self.estimator_steps = int(estimator_steps)
        if tbptt_frames is not None and int(tbptt_frames) < 1:
            raise ConfigError(f"AMIE tbptt_frames must be >= 1 or null, got {tbptt_frames}")
        r = self.resolution
        self.lip_crop_size = tuple(int(v) for v in lip_crop_size) if lip_crop_size is not None else (max(4, r // 8), max(6, 3 * r // 16))
        self.lip_box = tuple(float(v) for v in lip_box)
        self.lip_box_margin = float(lip_box_margin)
        self.da_phase_epochs = tuple(int(e) for e in da_phase_epochs)
        self.da_high, self.da_low = tuple(float(v) for v in da_high), tuple(float(v) for v in da_low)
        self.tbptt_frames = None if tbptt_frames is None else int(tbptt_frames)
        self.d_mismatched_negatives = bool(d_mismatched_negatives)
        self.detail_skip = bool(detail_skip)
        self.lambdas = {"gan": float(lambda_gan), "perc": float(lambda_perc), "lip": float(lambda_lip),
                        "mi": float(lambda_mi), "pixel": float(lambda_pixel)}
        self.perceptual_distance = perceptual_distance

        self.frontend = MFCCWindows(spec_.sample_rate, spec_.fps, mfcc_steps, n_mfcc, win_ms=mfcc_win_ms, f_max=mfcc_f_max)
        self.generator = Generator(r, base_channels, max_channels, audio_dim, audio_channels)
        self.mask_predictor = MaskPredictor(mask_channels) if self.dynamic_attention else None
        self.discriminator = FrameDiscriminator(r, base_channels, max_channels, audio_dim, classifier_dim, n_mfcc, mfcc_steps)
        self.estimator = (
            StatisticsNetwork(r, base_channels, max_channels, audio_dim, classifier_dim, audio_channels)
            if self.mi_estimator != "none" else None
        )
        self.perceptual_weights = perceptual_weights
        self.perceptual_layers = tuple(perceptual_layers)
        # φ is built on first use (or at the start of fit, so a missing file stops the run at once)
        # and kept outside the module tree: checkpoints do not carry VGG-19, and inference never needs it.
        object.__setattr__(self, "_perceptual_net", None)
        self._rate_rng = random.Random(0)

    @property
    def perceptual(self) -> nn.Module:
        """The frozen φ of Eq. 10 (:class:`talkzoo.nn.perceptual.VGG19Features`), on the model's device.

        Raises:
            MissingWeightsError: ``perceptual_weights`` names a file that does not exist.
        """
        if self._perceptual_net is None:
            from talkzoo.nn.perceptual import VGG19Features

            object.__setattr__(self, "_perceptual_net", VGG19Features(self.perceptual_weights, layers=self.perceptual_layers))
        net = self._perceptual_net
        try:
            device = next(self.generator.parameters()).device
        except StopIteration:  # pragma: no cover
            device = torch.device("cpu")
        if next(net.parameters()).device != device:
            net.to(device)
        return net

    def setup(self, stage: str) -> None:  # noqa: D102 - builds φ before fitting (fail fast on a missing file)
        super().setup(stage)
        if stage == "fit":
            precision = str(getattr(getattr(self, "_trainer", None), "precision", "32"))
            if precision.startswith("16"):
                raise ConfigError(
                    "AMIE: precision 16-mixed is not supported (its loss scaler needs every optimizer step to go through "
                    "Lightning; AMIE steps three parameter groups per batch): use bf16-mixed or 32"
                )
            _ = self.perceptual

    # ------------------------------------------------------------------ parameter groups
    def generator_parameters(self) -> list[nn.Parameter]:
        """Generator and mask predictor parameters (the group of the generator step)."""
        mods = [self.generator] + ([self.mask_predictor] if self.mask_predictor is not None else [])
        return [p for m in mods for p in m.parameters()]

    def configure_optimizers(self) -> Any:
        """One optimizer (``optimizer``) over three named parameter groups: generator, discriminator,
        estimator. Each step back-propagates one group's loss with the others frozen and their
        gradients ``None``, so the optimizer updates only that group (Adam skips parameters without
        gradient)."""
        groups = [{"params": self.generator_parameters(), "name": "generator"},
                  {"params": list(self.discriminator.parameters()), "name": "discriminator"}]
        if self.estimator is not None:
            groups.append({"params": list(self.estimator.parameters()), "name": "estimator"})
        optimizer = self.optimizer_factory(groups)
        if self.lr_scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.lr_scheduler_factory(optimizer)}

    # ------------------------------------------------------------------ data preparation
    def _to_work(self, images: Tensor) -> Tensor:
        """``(N, 3, H, W)`` → ``(N, 3, R, R)`` (anti-aliased bilinear; identity when ``R == H``)."""
        if images.shape[-1] == self.resolution and images.shape[-2] == self.resolution:
            return images
        return F.interpolate(images, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False, antialias=True)

    def _to_output(self, frames: Tensor, source: Tensor) -> Tensor:
        """``(N, 3, R, R)`` network frames → ``(N, 3, H, W)`` at the data's size (plus the detail skip)."""
        h, w = source.shape[-2:]
        if (h, w) == tuple(frames.shape[-2:]):
            return frames
        if self.detail_skip:
            return upsample_with_detail(frames, source).clamp(0, 1)
        return F.interpolate(frames, size=(h, w), mode="bilinear", align_corners=False)

    def _fixed_boxes(self, n: int, device: torch.device) -> Tensor:
        r = self.resolution
        return torch.tensor(self.lip_box, device=device).mul(r).expand(n, 4).clone()

    def _boxes_from_landmarks(self, landmarks: Tensor | None, n: int, scale: float, device: torch.device) -> Tensor:
        """``(n, 68, 2)`` pixel landmarks (or ``None``) → ``(n, 4)`` dilated mouth boxes at the working
        resolution; the fixed :attr:`lip_box` where landmarks are missing, non-finite or degenerate."""
        boxes = self._fixed_boxes(n, device)
        if landmarks is None:
            return boxes
        mouth = landmarks[:, _MOUTH].float() * scale
        lo, hi = mouth.amin(dim=1), mouth.amax(dim=1)
        size = (hi - lo).clamp(min=0)
        pad = self.lip_box_margin * size + 1.0
        cand = torch.cat([lo - pad, hi + pad], dim=1).clamp(0, self.resolution)
        ok = torch.isfinite(cand).all(dim=1) & (size.min(dim=1).values > 0.5)
        return torch.where(ok[:, None], cand, boxes)

    def _box_mask(self, boxes: Tensor) -> Tensor:
        """``(N, 4)`` pixel boxes → ``(N, 1, R, R)`` binary masks (the coarse lip mask)."""
        r = self.resolution
        pos = torch.arange(r, device=boxes.device, dtype=boxes.dtype) + 0.5
        inx = (pos[None, :] >= boxes[:, 0:1]) & (pos[None, :] <= boxes[:, 2:3])
        iny = (pos[None, :] >= boxes[:, 1:2]) & (pos[None, :] <= boxes[:, 3:4])
        return (iny[:, :, None] & inx[:, None, :]).to(boxes.dtype)[:, None]

    def _check_source(self, source: Tensor) -> None:
        size = int(self.require_spec().image_size)
        if source.dim() != 4 or source.shape[1] != 3 or tuple(source.shape[-2:]) != (size, size):
            raise DataError(
                f"AMIE: the source portrait must be a (B, 3, {size}, {size}) RGB batch (the model's image_size), "
                f"got shape {tuple(source.shape)}; crop and resize the face to {size}x{size} first"
            )

    # ------------------------------------------------------------------ generation
    def rollout(
        self,
        source: Tensor,
        mfcc: Tensor,
        rate: float = 1.0,
        coarse: Tensor | None = None,
        state: tuple[Tensor, Tensor | None] | None = None,
        tbptt: int | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor | None]]:
        """Free-running generation at the working resolution (§3.1).

        Args:
            source: ``(B, 3, R, R)`` identity image I_f in [0, 1].
            mfcc: ``(B, T, n_mfcc, steps)`` MFCC windows.
            rate: attention rate r of the dynamic attention (1 = identity image unchanged).
            coarse: ``(B, 1, R, R)`` coarse lip mask (needed when dynamic attention is on and r < 1).
            state: ``(previous frame (B, 3, R, R), previous mask (B, 1, R, R) or None)`` carried from an
                earlier call; ``None`` starts the clip with I_f as the "previous frame" (ours).
            tbptt: detach the recurrent state every ``tbptt`` frames (``None``: never).

        Returns:
            ``(B, T, 3, R, R)`` frames in [0, 1] and the state after the last frame.
        """
        b, t = mfcc.shape[:2]
        prev, mask = (source, None) if state is None else state
        attend = self.dynamic_attention and self.mask_predictor is not None and rate < 1.0
        if attend and coarse is None:
            raise ConfigError("AMIE.rollout: dynamic attention with rate < 1 needs the coarse lip mask")
        skips = None if attend else self.generator.encode_identity(source)
        out = []
        for i in range(t):
            if attend:
                mask = coarse if mask is None else self.mask_predictor(mask, prev, coarse)
                skips = self.generator.encode_identity(attend_identity(source, mask, rate))
            frame = self.generator(skips, mfcc[:, i], prev)
            out.append(frame)
            prev = frame
            if tbptt is not None and (i + 1) % tbptt == 0:
                prev = prev.detach()
                mask = None if mask is None else mask.detach()
        return torch.stack(out, dim=1), (prev, mask)

    def generate(self, audio: Tensor, source: Tensor, num_frames: int | None = None, audio_mask: Tensor | None = None) -> Tensor:
        """Animate ``source`` with ``audio`` (the family contract; no gradient).

        Args:
            audio: ``(B, S)`` float32 waveform at ``spec.sample_rate`` Hz.
            source: ``(B, 3, H, W)`` float32 RGB in [0, 1], ``H = W = spec.image_size``.
            num_frames: output length; default from the audio length at ``spec.fps``.
            audio_mask: ``(B, S)`` bool, ``True`` on real samples.

        Returns:
            ``(B, T, 3, H, W)`` float32 in [0, 1]: frame by frame, attention rate 1 (the last training
            phase), the first "previous frame" being the source.

        Raises:
            DataError: a source of another size or layout, or audio that is not ``(B, S)``.
        """
        total = int(num_frames) if num_frames is not None else self.num_frames_for(audio.shape[-1])
        if total < 1:
            raise DataError(f"AMIE: num_frames must be >= 1, got {total}")
        return torch.cat(list(self.generate_stream(audio, source, total, audio_mask, window_frames=max(1, total))), dim=1)

    def generate_stream(
        self,
        audio: Tensor,
        source: Tensor,
        num_frames: int | None = None,
        audio_mask: Tensor | None = None,
        window_frames: int | None = None,
    ) -> Iterator[Tensor]:
        """Window-by-window generation (see :meth:`AudioToVideoTask.generate_stream`), exact: the
        previous frame is carried across windows and each window's MFCCs are computed with an audio
        margin, so the chunks equal :meth:`generate` frame for frame. Memory per window is bounded by
        ``window_frames``; nothing grows with the clip's length."""
        if audio.dim() != 2:
            raise DataError(f"AMIE audio must be a (B, S) batch of mono waveforms, got shape {tuple(audio.shape)}")
        self._check_source(source)
        if audio.shape[1] == 0 or (audio_mask is not None and not bool(audio_mask.any(dim=1).all())):
            raise DataError("AMIE: a clip has no audio samples")
        total = int(num_frames) if num_frames is not None else self.num_frames_for(audio.shape[1])
        if total < 1:
            raise DataError(f"AMIE: num_frames must be >= 1, got {total}")
        window = int(window_frames if window_frames is not None else self.stream_window_frames)
        if window < 1:
            raise ConfigError(f"AMIE.generate_stream: window_frames must be >= 1, got {window}")
        source = source.float()
        with torch.no_grad():
            work = self._to_work(source)
            state = None
            for start in range(0, total, window):
                count = min(window, total - start)
                mfcc = self.frontend(audio.float(), audio_mask, count, start=start)
                frames, state = self.rollout(work, mfcc, 1.0, None, state)
                b, t = frames.shape[:2]
                yield self._to_output(frames.flatten(0, 1), source.repeat_interleave(t, dim=0)).view(b, t, 3, *source.shape[-2:])

    # ------------------------------------------------------------------ training
    def _prepare(self, batch: VideoBatch) -> dict[str, Tensor]:
        """Working-resolution tensors of a batch: frames, source, MFCC windows, lip boxes, coarse mask."""
        b, t, _, h, w = batch.frames.shape
        real = self._to_work(batch.frames.flatten(0, 1).float()).view(b, t, 3, self.resolution, self.resolution)
        source = self._to_work(batch.source.float())
        mfcc = self.frontend(batch.audio.float(), batch.audio_mask, t)
        scale = self.resolution / float(w)
        lm = None if batch.landmarks is None else batch.landmarks.flatten(0, 1)
        boxes = self._boxes_from_landmarks(lm, b * t, scale, real.device).view(b, t, 4)
        src_boxes = self._boxes_from_landmarks(batch.source_landmarks, b, scale, real.device)
        return {"real": real, "source": source, "mfcc": mfcc, "boxes": boxes, "coarse": self._box_mask(src_boxes)}

    def _rate(self) -> float:
        if not (self.dynamic_attention and self.training):
            return 1.0
        return sample_attention_rate(self._rate_rng, int(self.current_epoch) if self._trainer is not None else 0,
                                     self.da_phase_epochs, self.da_high, self.da_low)

    def generator_losses(self, fake: Tensor, real: Tensor, mfcc: Tensor, boxes: Tensor,
                         perm: Tensor | None = None) -> dict[str, Tensor]:
        """Eq. 13 on flattened real frames: ``L = λ_gan L_GAN + λ1 L_perc + λ2 L_lip + λ3 L_mi (+ λ_pixel L1)``.

        Args:
            fake, real: ``(N, 3, R, R)``; mfcc: ``(N, n_mfcc, steps)``; boxes: ``(N, 4)`` lip boxes.
            perm: ``(N,)`` derangement for the MI marginal pairs (default: a random one).

        Returns:
            ``{"loss", "gan", "perc", "lip", "mi_generated"?, "pixel"?}`` scalars; ``loss`` is the total.
            D and T_θ are called as they are: freeze them (:func:`frozen`) before back-propagating.
        """
        lam = self.lambdas
        out = {"gan": g_adversarial_loss(self.discriminator(fake, mfcc)),
               "perc": perceptual_loss(self.perceptual, fake, real, self.perceptual_distance),
               "lip": lip_l1(fake, real, boxes, self.lip_crop_size)}
        total = lam["gan"] * out["gan"] + lam["perc"] * out["perc"] + lam["lip"] * out["lip"]
        if self.estimator is not None and len(fake) >= 2:
            perm = shuffle_indices(len(fake), device=fake.device) if perm is None else perm
            mi = mi_lower_bound(self.mi_estimator, self.estimator(fake, mfcc), self.estimator(fake, mfcc[perm]))
            out["mi_generated"] = mi
            total = total - lam["mi"] * mi  # L_mi = -I(F̂, A) (Eq. 12)
        if lam["pixel"] > 0:
            out["pixel"] = (fake - real).abs().mean()
            total = total + lam["pixel"] * out["pixel"]
        out["loss"] = total
        return out

    def mi_estimates(self, frames: Tensor, mfcc: Tensor) -> dict[str, Tensor]:
        """The estimator's MI estimate on real matched pairs and, as a control, on shuffled pairs.

        Args:
            frames: ``(N, 3, R, R)`` real frames; mfcc: ``(N, n_mfcc, steps)`` their windows (N >= 3).

        Returns:
            ``{"mi_matched": I(joint = matched pairs), "mi_shuffled": I(joint = pairs with the audio
            shuffled)}`` with the model's estimator kind (JS or DV); marginals are another derangement.
            Empty for variants without an estimator.
        """
        if self.estimator is None or len(frames) < 3:
            return {}
        n = len(frames)
        s1, s2 = random.Random(n).sample(range(1, n), 2)  # two distinct non-zero cyclic shifts
        base = torch.arange(n, device=frames.device)
        p1, p2 = (base + s1) % n, (base + s2) % n
        t_match = self.estimator(frames, mfcc)
        t_shuf = self.estimator(frames, mfcc[p1])
        t_marg = self.estimator(frames, mfcc[p2])
        return {"mi_matched": mi_lower_bound(self.mi_estimator, t_match, t_marg),
                "mi_shuffled": mi_lower_bound(self.mi_estimator, t_shuf, t_marg)}

    def optimization_step(self, batch: VideoBatch, optimizer: torch.optim.Optimizer, backward: Any = None) -> dict[str, Tensor]:
        """One AMIE training step: generation, estimator, discriminator, generator (module docstring).

        Args:
            batch: a :class:`VideoBatch`.
            optimizer: the optimizer of :meth:`configure_optimizers` (or a LightningOptimizer). The
                estimator and discriminator updates step the wrapped torch optimizer directly and only
                the generator update goes through Lightning, so ``trainer.global_step`` counts batches
                (``max_steps``, ``val_check_interval`` and checkpoints keep their usual meaning).
            backward: ``loss -> None`` (Lightning's ``manual_backward``; default ``loss.backward()``).

        Returns:
            Detached scalars: ``loss`` (generator objective), its terms, ``loss_d``, ``loss_t``,
            ``mi_real``/``mi_generated`` when an estimator is used, ``attention_rate``.
        """
        backward = backward or (lambda loss: loss.backward())
        inner = getattr(optimizer, "optimizer", optimizer)  # the torch optimizer under a LightningOptimizer
        data = self._prepare(batch)
        rate = self._rate()
        mask = batch.frame_mask
        fake_seq, _ = self.rollout(data["source"], data["mfcc"], rate, data["coarse"], None, self.tbptt_frames)
        real, fake, mfcc, boxes = data["real"][mask], fake_seq[mask], data["mfcc"][mask], data["boxes"][mask]
        n = len(real)
        logs: dict[str, Tensor] = {"attention_rate": torch.tensor(rate)}
        optimizer.zero_grad(set_to_none=True)
        # 1. the MI estimator T_θ (real pairs: asymmetric; generated pairs: symmetric MINE rows)
        if self.estimator is not None and n >= 2:
            x = real if self.asymmetric else fake.detach()
            for _ in range(self.estimator_steps):
                perm = shuffle_indices(n, device=real.device)
                with frozen(self.generator, self.mask_predictor, self.discriminator):
                    mi = mi_lower_bound(self.mi_estimator, self.estimator(x, mfcc), self.estimator(x, mfcc[perm]))
                    backward(-mi)
                inner.step()
                optimizer.zero_grad(set_to_none=True)
            logs["loss_t"] = (-mi).detach()
            logs["mi_real" if self.asymmetric else "mi_train"] = mi.detach()
        # 2. the frame discriminator
        with frozen(self.generator, self.mask_predictor, self.estimator):
            mismatched = None
            if self.d_mismatched_negatives and n >= 2:
                mismatched = self.discriminator(real, mfcc[shuffle_indices(n, device=real.device)])
            loss_d = d_loss(self.discriminator(real, mfcc), self.discriminator(fake.detach(), mfcc), mismatched)
            backward(loss_d)
        inner.step()
        optimizer.zero_grad(set_to_none=True)
        logs["loss_d"] = loss_d.detach()
        # 3. the generator (and mask predictor), D and T frozen
        with frozen(self.discriminator, self.estimator):
            g = self.generator_losses(fake, real, mfcc, boxes)
            backward(g["loss"])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        logs.update({k: v.detach() for k, v in g.items()})
        return logs

    def training_step(self, batch: VideoBatch, batch_idx: int) -> Tensor:  # noqa: D102
        logs = self.optimization_step(batch, self.optimizers(), self.manual_backward)
        self._log_losses(logs, "train", len(batch))
        return logs["loss"]

    def on_train_epoch_end(self) -> None:  # noqa: D102 - steps the epoch scheduler (manual optimisation)
        sched = self.lr_schedulers()
        if sched is not None:
            sched.step()

    def compute_losses(self, batch: VideoBatch) -> dict[str, Tensor]:
        """The generator objective of Eq. 13 on a batch (free-running, as in training), plus the
        estimator's MI on real matched vs shuffled pairs and on generated pairs (validation logs)."""
        data = self._prepare(batch)
        mask = batch.frame_mask
        fake_seq, _ = self.rollout(data["source"], data["mfcc"], self._rate(), data["coarse"], None, self.tbptt_frames)
        real, fake, mfcc, boxes = data["real"][mask], fake_seq[mask], data["mfcc"][mask], data["boxes"][mask]
        out = self.generator_losses(fake, real, mfcc, boxes)
        if not self.training:
            out.update(self.mi_estimates(real, mfcc))
        return out


def build_parameter_count_model(config: str) -> AMIE:
    """The AMIE of a recipe configuration (``lrw`` or ``demo``) for parameter counting (random VGG)."""
    spec = VideoDataSpec(dataset=config, sample_rate=16000, fps=25.0, image_size=256)
    if config == "lrw":
        return AMIE(spec=spec)
    if config == "demo":
        return AMIE(spec=spec, resolution=64, base_channels=16, max_channels=128, audio_dim=64, audio_channels=16,
                    classifier_dim=128, mask_channels=8, perceptual_layers=("relu1_1", "relu2_1"))
    raise ConfigError(f"unknown AMIE configuration {config!r}; expected 'lrw' or 'demo'")


def count_trained_parameters(model: AMIE) -> int:
    """Trained parameters: generator, mask predictor, discriminator, estimator (VGG excluded)."""
    mods = [model.generator, model.mask_predictor, model.discriminator, model.estimator]
    return sum(p.numel() for m in mods if m is not None for p in m.parameters())
