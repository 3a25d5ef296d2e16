"""FLOAT's LightningModules: stage 1 (motion auto-encoder) and stage 2 (flow-matching transformer).

Paper: Ki, Min, Chae, *FLOAT: Generative Motion Latent Flow Matching for Audio-driven Talking
Portrait*, ICCV 2025 (arXiv 2412.01064). Implementation notes: ``specs/float.md``. The authors
released inference code only (non-commercial licence); it was read for facts, nothing is copied.

* :class:`FLOATMotionAutoEncoder` — stage 1 (§4.1, App. A), a
  :class:`~talkzoo.tasks.video.ReenactmentTask`: reconstructs a driving frame from a source
  frame of the same clip; manual optimisation of the generator and the discriminators.
* :class:`FLOAT` — stage 2 (§4.2), an :class:`~talkzoo.tasks.video.AudioToVideoTask`: OT
  conditional flow matching of motion latents in 50-frame windows with 10 preceding frames, the
  frozen stage-1 network loaded from a stage-1 checkpoint; Euler sampling with incremental
  classifier-free guidance (Eq. 14), window by window for audio of any length.
"""

from __future__ import annotations

import hashlib
import logging
import math
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from talkzoo.audio.encoders import AudioEncoder, Wav2Vec2Encoder
from talkzoo.data.batch import ReenactmentBatch, VideoBatch
from talkzoo.data.spec import ReenactmentDataSpec, VideoDataSpec
from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo.modules import build_module
from talkzoo.nn.detail import resize_square, upsample_with_detail
from talkzoo.tasks.video import AudioToVideoTask, ReenactmentTask

from talkzoo_float.losses import (
    component_boxes,
    component_masks,
    component_perceptual_loss,
    discriminator_adversarial,
    feature_style_loss,
    flow_matching_losses,
    generator_adversarial,
    incremental_cfg,
)
from talkzoo_float.network import (
    AudioProjection,
    ComponentDiscriminator,
    FlowMatchingTransformer,
    MotionAutoEncoder,
    MultiScaleDiscriminator,
)

log = logging.getLogger(__name__)

__all__ = [
    "EMOTIONS",
    "FLOAT",
    "FLOATMotionAutoEncoder",
    "Wav2Vec2AllLayers",
    "SpeechEmotionClassifier",
    "ravdess_emotion",
    "euler_time_grid",
]

#: FLOAT's 7 speech-emotion classes, in the order of the official code's classifier head.
EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
#: RAVDESS emotion code (3rd field of the file name) → FLOAT class index; "calm" (02) → neutral (ours).
RAVDESS_TO_FLOAT = {1: 4, 2: 4, 3: 3, 4: 5, 5: 0, 6: 2, 7: 1, 8: 6}
#: AE settings a stage-2 model copies from its stage-1 checkpoint.
AE_KEYS = ("image_size", "latent_dim", "num_motions", "channel_base", "max_channels", "mlp_layers", "noise")


def _lia_adam(params: Any) -> torch.optim.Optimizer:
    """Stage-1 default: Adam lr 2e-4 (App. A.4), betas (0, 0.99) (LIA's; the paper gives none)."""
    return torch.optim.Adam(params, lr=2e-4, betas=(0.0, 0.99))


def _fmt_adam(params: Any) -> torch.optim.Optimizer:
    """Stage-2 default: Adam lr 1e-5 (§5.2), torch's default betas (the paper gives none)."""
    return torch.optim.Adam(params, lr=1e-5)


def _to_signed(images: Tensor, size: int) -> Tensor:
    """``(N, 3, H, W)`` [0, 1] → ``(N, 3, size, size)`` [-1, 1] (bilinear, anti-aliased when shrinking)."""
    if images.shape[-1] != size or images.shape[-2] != size:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=images.shape[-1] > size)
    return images * 2.0 - 1.0


def _to_unit(images: Tensor, size: int) -> Tensor:
    """``(N, 3, s, s)`` [-1, 1] → ``(N, 3, size, size)`` [0, 1], clamped."""
    out = (images.clamp(-1, 1) + 1.0) / 2.0
    if out.shape[-1] != size:
        out = F.interpolate(out, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return out


def decode_to_unit(autoencoder: MotionAutoEncoder, latent: Tensor, features: list[Tensor], size: int,
                   source: Tensor | None = None) -> Tensor:
    """Decode ``(N, d)`` full latents to ``(N, 3, size, size)`` [0, 1] frames.

    With ``source`` (``(N, 3, size, size)`` [0, 1], the portrait at the output size) the upsampled
    output gets the source's fine detail moved by the decoder's finest flow and weighted by its mask
    (:func:`talkzoo.nn.detail.upsample_with_detail`); without, plain bilinear upsampling.
    """
    if source is None or autoencoder.image_size >= size:
        return _to_unit(autoencoder.decode(latent, features), size)
    rgb, grid, mask = autoencoder.decode(latent, features, return_flow=True)
    low = (rgb.clamp(-1, 1) + 1.0) / 2.0
    return upsample_with_detail(low, resize_square(source, size), grid, mask).clamp(0, 1)


def ravdess_emotion(name: str) -> int | None:
    """FLOAT emotion index from a RAVDESS clip name ``MM-VV-EE-II-SS-RR-AA`` (EE = emotion), else None."""
    parts = Path(str(name)).name.split("-")
    if len(parts) == 7 and all(p.isdigit() and len(p) == 2 for p in parts):
        return RAVDESS_TO_FLOAT.get(int(parts[2]))
    return None


def euler_time_grid(nfe: int, mode: str = "uniform") -> Tensor:
    """Time points of the Euler ODE solve from t = 0 (noise) to 1 (data).

    * ``"uniform"`` (ours, default): ``nfe`` steps on ``linspace(0, 1, nfe + 1)`` — NFE network
      evaluations, as Table 5 counts them;
    * ``"linspace"`` (official code): ``linspace(0, 1, nfe)`` given to ``odeint(method="euler")``,
      i.e. ``nfe − 1`` steps.

    Returns ``(K,)`` float32 times. Raises ConfigError for ``nfe < 1`` (``< 2`` for linspace).
    """
    if mode not in ("uniform", "linspace"):
        raise ConfigError(f"time_grid must be 'uniform' or 'linspace', got {mode!r}")
    if nfe < (2 if mode == "linspace" else 1):
        raise ConfigError(f"nfe must be >= {2 if mode == 'linspace' else 1} for time_grid={mode!r}, got {nfe}")
    return torch.linspace(0.0, 1.0, nfe + 1 if mode == "uniform" else nfe)


# --------------------------------------------------------------------------------------------
# audio / emotion front-ends
# --------------------------------------------------------------------------------------------
class Wav2Vec2AllLayers(Wav2Vec2Encoder):
    """wav2vec 2.0 with **all** transformer layers concatenated (FLOAT's audio features, official code).

    As :class:`talkzoo.audio.encoders.Wav2Vec2Encoder` (same arguments, loading, padding and
    interpolation: the 50 Hz CNN features are linearly interpolated to 25 fps before the
    transformer), but the output is the concatenation of the hidden states of every transformer
    layer (the embedding output excluded): ``(B, T, layers x hidden)`` = ``(B, T, 9216)`` for
    ``facebook/wav2vec2-base-960h``. FLOAT keeps it frozen (``freeze=True`` in the recipes).
    """

    def __init__(
        self,
        checkpoint: str = "facebook/wav2vec2-base-960h",
        freeze_feature_extractor: bool = True,
        freeze: bool = True,
        interpolate_before_transformer: bool = True,
        normalize_audio: bool = True,
        config_overrides: dict[str, Any] | None = None,
        random_init: bool | None = None,
        local_files_only: bool = False,
    ) -> None:
        super().__init__(checkpoint, freeze_feature_extractor, freeze, interpolate_before_transformer, normalize_audio, config_overrides, random_init, local_files_only)
        self.output_dim = int(self.model.config.hidden_size * self.model.config.num_hidden_layers)

    def _transformer(self, conv_features: Tensor, frame_lengths: Tensor) -> Tensor:
        mask = torch.arange(conv_features.shape[1], device=conv_features.device)[None] < frame_lengths[:, None]
        attention_mask = None if bool(mask.all()) else mask
        projected = self.model.feature_projection(conv_features)
        hidden = projected[0] if isinstance(projected, tuple) else projected
        captured: list[Tensor] = []  # each transformer layer's output, via forward hooks (any transformers version)
        hooks = [
            layer.register_forward_hook(lambda _m, _i, o: captured.append(o[0] if isinstance(o, tuple) else o))
            for layer in self.model.encoder.layers
        ]
        try:
            last = self.model.encoder(hidden, attention_mask=attention_mask)[0]
        finally:
            for h in hooks:
                h.remove()
        if len(captured) != len(self.model.encoder.layers):
            raise ConfigError(f"Wav2Vec2AllLayers: {len(captured)} of {len(self.model.encoder.layers)} layers ran (LayerDrop must be off)")
        out = torch.cat(captured[:-1] + [last], dim=-1)  # the last state as the model returns it (final LayerNorm)
        return out * mask[..., None].to(out.dtype) if attention_mask is not None else out


class SpeechEmotionClassifier(nn.Module):
    """Frozen speech-emotion recogniser: wav2vec 2.0 backbone, mean pooling, dense → tanh → linear(7).

    The head layout of ``r-f/wav2vec-english-speech-emotion-recognition`` (the checkpoint FLOAT's
    code uses; the paper cites Pepino et al.). Loaded only from a **local folder** holding
    ``config.json`` (with ``id2label`` naming the 7 classes) and ``model.safetensors`` or
    ``pytorch_model.bin`` with keys ``wav2vec2.*``, ``classifier.dense.*``, ``classifier.out_proj.*``
    (torch files are read weights-only). Classes are re-ordered to :data:`EMOTIONS` by name.

    Forward: ``audio (B, S)`` 16 kHz → ``(B, 7)`` softmax probabilities in :data:`EMOTIONS` order.

    Raises:
        MissingWeightsError: the folder or its weight file is missing.
        DataError: the file lacks the head, or the labels are not FLOAT's 7 emotions.
    """

    def __init__(self, folder: str) -> None:
        super().__init__()
        import transformers

        path = Path(folder).expanduser()
        weights = next((p for p in (path / "model.safetensors", path / "pytorch_model.bin") if p.is_file()), None)
        if not (path / "config.json").is_file() or weights is None:
            raise MissingWeightsError(
                f"speech-emotion classifier: {path} must hold config.json and model.safetensors (or pytorch_model.bin); "
                "save r-f/wav2vec-english-speech-emotion-recognition there on a machine with network, or set emotion: none"
            )
        if weights.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(weights))
        else:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        config = transformers.Wav2Vec2Config.from_pretrained(str(path))
        labels = [str(config.id2label[i]).lower()[:4] for i in range(len(config.id2label))]
        wanted = [e[:4] for e in EMOTIONS]
        if sorted(labels) != sorted(wanted) or "classifier.dense.weight" not in state:
            raise DataError(f"speech-emotion classifier {weights}: expected a 7-class head (classifier.dense/out_proj) over {EMOTIONS}, got labels {labels}")
        self.backbone = transformers.Wav2Vec2Model(config)
        self.backbone.load_state_dict({k[len("wav2vec2."):]: v for k, v in state.items() if k.startswith("wav2vec2.")}, strict=False)
        hidden = config.hidden_size
        self.dense, self.out = nn.Linear(hidden, hidden), nn.Linear(hidden, 7)
        self.dense.load_state_dict({"weight": state["classifier.dense.weight"], "bias": state["classifier.dense.bias"]})
        self.out.load_state_dict({"weight": state["classifier.out_proj.weight"], "bias": state["classifier.out_proj.bias"]})
        self.register_buffer("order", torch.tensor([labels.index(w) for w in wanted]), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "SpeechEmotionClassifier":
        """Always in eval mode (frozen)."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, audio: Tensor) -> Tensor:
        x = (audio - audio.mean(dim=1, keepdim=True)) / (audio.std(dim=1, keepdim=True) + 1e-7)
        hidden = self.backbone(x).last_hidden_state.mean(dim=1)
        return self.out(torch.tanh(self.dense(hidden))).softmax(dim=-1)[:, self.order]


# --------------------------------------------------------------------------------------------
# stage 1
# --------------------------------------------------------------------------------------------
class FLOATMotionAutoEncoder(ReenactmentTask):
    """FLOAT stage 1: the LIA-based motion auto-encoder with App. A's losses (Eq. 17-21).

    Training pairs are (source, driving) frames of one clip (the datamodule's random source frame
    and ``clip_frames`` driving frames); every real driving frame is reconstructed from its source,
    ``D̂ = G(w_{S→r} + Σ λ_m(D) v_m, feats(S))``. Generator objective (Eq. 18):
    ``L1 + λ_lp L_lp + λ_comp L_comp-lp + λ_full L_full-adv + λ_eye (L_eye-adv) + λ_eye-FSM L_eye-FSM
    + λ_lip L_lip-adv + λ_lip-FSM L_lip-FSM``, with App. A.4's weights (1, 10, 100, 1, 1, 100, 1, 100).
    The discriminators (2-scale image, eye, lip) are trained with the logistic loss. Manual
    optimisation: one generator step, then one discriminator step, per batch.

    Component losses need iBUG-68 landmarks of the driving frames (``batch.driving_landmarks``):
    the datamodule serves them from ``ROOT/landmarks/``. Without them those four terms are skipped
    (logged once).

    Args:
        spec: the reenactment data spec (linked by ``talkzoo fit``).
        network_size: network resolution (default ``spec.image_size``; frames are resized to it and
            outputs back to ``spec.image_size`` — the CPU demo trains at a reduced size this way).
        latent_dim, num_motions, channel_base, max_channels, mlp_layers, noise: the network, see
            :class:`talkzoo_float.network.MotionAutoEncoder` (paper: 512, 20, 16384, 512, 4, on).
        perceptual_weights: local VGG-19 state dict for the perceptual losses (None: the seeded
            random substitute of :mod:`talkzoo.nn.perceptual`, not perceptual — say so in results).
        perceptual_layers: VGG-19 ReLU layers (default relu1_1 ... relu5_1).
        perceptual_scales: image-pyramid scales of ``L_lp`` (default 1, 1/2, 1/4, 1/8: "N = 4 scales").
        lambda_l1 ... lambda_lip_fsm: loss weights of Eq. 18.
        discriminator_scales: scales of the full-image discriminator (2).
        discriminator_channel_base: width of the image discriminators (default ``channel_base``).
        component_channels: first-stage channels of the eye and lip discriminators.
        eye_roi, lip_roi: RoI sides in pixels at 512 px (GFPGAN's 80 and 120), scaled to ``image_size``.
        adversarial_start: generator steps before the adversarial and FSM terms switch on (0 = from
            the start; ours — the CPU demo warms up on L1 + perceptual first).
        flow_init: ``"identity"`` (default; ours: the decoder's flow heads start at the identity
            warp, :meth:`~talkzoo_float.network.FlowWarpDecoder.reset_flows_to_identity`) or
            ``"random"`` (the modulated conv's default random init).
        detail_transfer: when ``network_size`` is below the data's size, add the source's fine detail
            (moved by the decoder's finest flow, weighted by its mask) to the upsampled output
            (:func:`talkzoo.nn.detail.upsample_with_detail`; ours, for reduced-size runs; default off).
        discriminator_optimizer: callable ``params -> Optimizer`` for all discriminators.
        optimizer: generator optimiser (default Adam lr 2e-4, betas (0, 0.99)).
        lr_scheduler, metric_weights, landmark_metrics: see :class:`~talkzoo.tasks.video.ReenactmentTask`.

    Raises:
        ConfigError: a bad size (network_size not a power of two >= 8).
    """

    def __init__(
        self,
        spec: ReenactmentDataSpec | dict | None = None,
        network_size: int | None = None,
        latent_dim: int = 512,
        num_motions: int = 20,
        channel_base: int = 16384,
        max_channels: int = 512,
        mlp_layers: int = 4,
        noise: bool = True,
        perceptual_weights: str | None = None,
        perceptual_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        perceptual_scales: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125),
        lambda_l1: float = 1.0,
        lambda_perceptual: float = 10.0,
        lambda_component_perceptual: float = 100.0,
        lambda_full_adv: float = 1.0,
        lambda_eye_adv: float = 1.0,
        lambda_eye_fsm: float = 100.0,
        lambda_lip_adv: float = 1.0,
        lambda_lip_fsm: float = 100.0,
        discriminator_scales: int = 2,
        discriminator_channel_base: int | None = None,
        component_channels: int = 64,
        eye_roi: float = 80.0,
        lip_roi: float = 120.0,
        adversarial_start: int = 0,
        flow_init: Literal["identity", "random"] = "identity",
        detail_transfer: bool = False,
        discriminator_optimizer: OptimizerCallable = _lia_adam,
        optimizer: OptimizerCallable = _lia_adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        metric_weights: dict[str, str] | None = None,
        landmark_metrics: bool | None = None,
    ) -> None:
        super().__init__(spec=spec, optimizer=optimizer, lr_scheduler=lr_scheduler, metric_weights=metric_weights, landmark_metrics=landmark_metrics)
        self.automatic_optimization = False
        self.hparams.pop("discriminator_optimizer", None)  # a callable: not checkpoint material
        size = int(network_size or (self.spec.image_size if self.spec is not None else 512))
        self.net_size = size
        self.autoencoder = MotionAutoEncoder(size, latent_dim, num_motions, channel_base, max_channels, mlp_layers, noise)
        if flow_init not in ("identity", "random"):
            raise ConfigError(f"FLOAT stage 1: flow_init must be 'identity' or 'random', got {flow_init!r}")
        if flow_init == "identity":
            self.autoencoder.decoder.reset_flows_to_identity()
        self.hparams["network_size"] = size  # the resolved size (a stage-2 model reads it)
        self.weights = {
            "l1": lambda_l1, "perceptual": lambda_perceptual, "component_perceptual": lambda_component_perceptual,
            "full_adv": lambda_full_adv, "eye_adv": lambda_eye_adv, "eye_fsm": lambda_eye_fsm,
            "lip_adv": lambda_lip_adv, "lip_fsm": lambda_lip_fsm,
        }  # fmt: skip
        self.perceptual_layers, self.perceptual_scales = tuple(perceptual_layers), tuple(perceptual_scales)
        self.perceptual_weights = perceptual_weights
        self._vgg: nn.Module | None = None  # built on first use (frozen, not in the state dict)
        d_base = int(discriminator_channel_base or channel_base)
        self.use_full_adv = lambda_full_adv > 0
        self.use_components = any(self.weights[k] > 0 for k in ("eye_adv", "eye_fsm", "lip_adv", "lip_fsm"))
        self.full_discriminator = MultiScaleDiscriminator(size, discriminator_scales, d_base, max_channels) if self.use_full_adv else None
        self.eye_discriminator = ComponentDiscriminator(component_channels) if self.use_components else None
        self.lip_discriminator = ComponentDiscriminator(component_channels) if self.use_components else None
        self.eye_roi = max(8, int(round(eye_roi * size / 512)))
        self.lip_roi = max(8, int(round(lip_roi * size / 512)))
        self.adversarial_start = int(adversarial_start)
        self.detail_transfer = bool(detail_transfer)
        self.discriminator_optimizer_factory = discriminator_optimizer
        self._warned_landmarks = False

    # ------------------------------------------------------------------ helpers
    def discriminators(self) -> list[nn.Module]:
        """The discriminators in use (full 2-scale, eye, lip)."""
        return [d for d in (self.full_discriminator, self.eye_discriminator, self.lip_discriminator) if d is not None]

    def vgg(self) -> nn.Module:
        """The frozen VGG-19 feature network (:class:`talkzoo.nn.perceptual.VGG19Features`), built on first use."""
        if self._vgg is None:
            from talkzoo.nn.perceptual import VGG19Features

            self._vgg = VGG19Features(self.perceptual_weights, layers=self.perceptual_layers).to(self.device)
        return self._vgg

    def _pairs(self, batch: ReenactmentBatch) -> tuple[Tensor, Tensor, Tensor | None]:
        """Real (source, driving) pairs ``(N, 3, s, s)`` in [-1, 1] and driving landmarks in network pixels."""
        mask = batch.frame_mask
        counts = mask.sum(dim=1)
        src = _to_signed(batch.source.float(), self.net_size).repeat_interleave(counts, dim=0)
        drv = _to_signed(batch.driving[mask].float(), self.net_size)
        lm = None
        if batch.driving_landmarks is not None:
            lm = batch.driving_landmarks[mask].float() * (self.net_size / batch.driving.shape[-1])
            if not torch.isfinite(lm).all():
                lm = None
        return src, drv, lm

    def _rois(self, images: Tensor, landmarks: Tensor) -> tuple[Tensor, Tensor]:
        """Eye RoIs ``(2N, 3, r_e, r_e)`` (right then left eye of each image) and mouth RoIs ``(N, 3, r_l, r_l)``."""
        from torchvision.ops import roi_align

        boxes = component_boxes(landmarks, self.net_size, self.eye_roi, self.lip_roi)
        idx = torch.arange(images.shape[0], device=images.device, dtype=images.dtype)[:, None]
        eyes = torch.cat([torch.cat([idx, boxes["right_eye"]], 1), torch.cat([idx, boxes["left_eye"]], 1)])
        mouth = torch.cat([idx, boxes["mouth"]], 1)
        return (roi_align(images, eyes, self.eye_roi, aligned=True), roi_align(images, mouth, self.lip_roi, aligned=True))

    def _adversarial_on(self) -> bool:
        return self.global_step >= self.adversarial_start if self.training else True

    def generator_losses(self, recon: Tensor, real: Tensor, landmarks: Tensor | None, adversarial: bool) -> dict[str, Tensor]:
        """Eq. 18 terms for ``recon``/``real`` ``(N, 3, s, s)`` in [-1, 1]; ``loss`` is the weighted sum."""
        w = self.weights
        out: dict[str, Tensor] = {"l1": (recon - real).abs().mean()}
        fake01, real01 = (recon + 1) / 2, (real + 1) / 2
        need_vgg = w["perceptual"] > 0 or (w["component_perceptual"] > 0 and landmarks is not None)
        if need_vgg:
            from talkzoo.nn.perceptual import pyramid_downsample

            vgg = self.vgg()
            lp = recon.new_zeros(())
            comp = recon.new_zeros(())
            masks = component_masks(landmarks, self.net_size) if landmarks is not None else None
            for k, s in enumerate(self.perceptual_scales):
                f_feats = vgg(pyramid_downsample(fake01, s))
                with torch.no_grad():
                    r_feats = vgg(pyramid_downsample(real01, s))
                lp = lp + sum((a - b).abs().mean() for a, b in zip(f_feats, r_feats))
                if masks is not None and k == 0:  # Eq. 17 masks every VGG level of the full-size image
                    comp = comp + sum(component_perceptual_loss(f_feats, r_feats, m) for m in masks.values())
            out["perceptual"] = lp
            if masks is not None:
                out["component_perceptual"] = comp
        if adversarial and self.full_discriminator is not None:
            out["full_adv"] = generator_adversarial(self.full_discriminator(recon))
        if adversarial and self.use_components and landmarks is not None:
            fe, fl = self._rois(recon, landmarks)
            with torch.no_grad():
                re_, rl = self._rois(real, landmarks)
            le, fe_feats = self.eye_discriminator(fe)
            ll, fl_feats = self.lip_discriminator(fl)
            _, re_feats = self.eye_discriminator(re_)
            _, rl_feats = self.lip_discriminator(rl)
            out["eye_adv"], out["lip_adv"] = generator_adversarial(le), generator_adversarial(ll)
            out["eye_fsm"], out["lip_fsm"] = feature_style_loss(fe_feats, re_feats), feature_style_loss(fl_feats, rl_feats)
        out["loss"] = sum(w[k] * v for k, v in out.items())
        return out

    def discriminator_loss(self, recon: Tensor, real: Tensor, landmarks: Tensor | None) -> Tensor:
        """Logistic discriminator loss of every discriminator in use (``recon`` is detached)."""
        recon = recon.detach()
        loss = recon.new_zeros(())
        if self.full_discriminator is not None:
            loss = loss + discriminator_adversarial(self.full_discriminator(real), self.full_discriminator(recon))
        if self.use_components and landmarks is not None:
            fe, fl = self._rois(recon, landmarks)
            re_, rl = self._rois(real, landmarks)
            loss = loss + discriminator_adversarial(self.eye_discriminator(re_)[0], self.eye_discriminator(fe)[0])
            loss = loss + discriminator_adversarial(self.lip_discriminator(rl)[0], self.lip_discriminator(fl)[0])
        return loss

    def _check_landmarks(self, landmarks: Tensor | None) -> None:
        if landmarks is None and self.use_components and not self._warned_landmarks:
            log.warning("FLOAT stage 1: the batch has no driving landmarks; component losses (Eq. 17, 20, 21) are skipped")
            self._warned_landmarks = True

    # ------------------------------------------------------------------ task API
    def compute_losses(self, batch: ReenactmentBatch) -> dict[str, Tensor]:
        """Generator losses of Eq. 18 on every real driving frame (``loss`` = weighted total)."""
        src, drv, lm = self._pairs(batch)
        self._check_landmarks(lm)
        recon = self.autoencoder(src, drv)
        return self.generator_losses(recon, drv, lm, adversarial=self._adversarial_on())

    def training_step(self, batch: ReenactmentBatch, batch_idx: int) -> Tensor:
        """One generator step, then one discriminator step (manual optimisation).

        Only the generator step counts in ``trainer.global_step`` (the discriminator optimiser is
        stepped unwrapped), so ``max_steps`` counts generator steps, as the paper's 460k steps.
        """
        opt_g = self.optimizers()[0]
        opt_d = self.optimizers(use_pl_optimizer=False)[1]
        src, drv, lm = self._pairs(batch)
        self._check_landmarks(lm)
        adversarial = self._adversarial_on()
        for d in self.discriminators():
            d.requires_grad_(False)
        recon = self.autoencoder(src, drv)
        losses = self.generator_losses(recon, drv, lm, adversarial)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(losses["loss"])
        opt_g.step()
        if adversarial and self.discriminators():
            for d in self.discriminators():
                d.requires_grad_(True)
            d_loss = self.discriminator_loss(recon, drv, lm)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            opt_d.step()
            losses["discriminator"] = d_loss.detach()
        self._log_losses(losses, "train", len(batch))
        sched = self.lr_schedulers()
        if sched is not None and self.trainer.is_last_batch:
            for s in sched if isinstance(sched, list) else [sched]:
                s.step()
        return losses["loss"]

    def configure_optimizers(self) -> Any:
        """Generator (auto-encoder) optimiser and one optimiser over all discriminators."""
        opt_g = self.optimizer_factory(list(self.autoencoder.parameters()))
        d_params = [p for d in self.discriminators() for p in d.parameters()]
        opt_d = self.discriminator_optimizer_factory(d_params or [nn.Parameter(torch.zeros(1))])
        if self.lr_scheduler_factory is None:
            return [opt_g, opt_d]
        return [opt_g, opt_d], [self.lr_scheduler_factory(opt_g)]

    @torch.no_grad()
    def generate(self, source: Tensor, driving: Tensor, frame_mask: Tensor | None = None, chunk: int = 16) -> Tensor:
        """Reconstruct/reenact: ``source (B, 3, H, W)``, ``driving (B, T, 3, H, W)`` [0, 1] → ``(B, T, 3, H, W)`` [0, 1].

        The source is encoded once; driving frames go through the encoder and decoder ``chunk`` at a time.
        """
        b, t = driving.shape[:2]
        size = driving.shape[-1]
        enc = self.autoencoder.encode(_to_signed(source.float(), self.net_size))
        out = []
        flat = driving.reshape(b * t, *driving.shape[2:])
        bidx = torch.arange(b, device=driving.device).repeat_interleave(t)
        for i in range(0, b * t, chunk):
            sel = bidx[i : i + chunk]
            coeff = self.autoencoder.encode(_to_signed(flat[i : i + chunk].float(), self.net_size), with_features=False).coefficients
            latent = enc.identity[sel] + self.autoencoder.basis(coeff)
            out.append(decode_to_unit(self.autoencoder, latent, [f[sel] for f in enc.features], size,
                                      source[sel].float() if self.detail_transfer else None))
        return torch.cat(out).view(b, t, 3, size, size)


# --------------------------------------------------------------------------------------------
# stage 2
# --------------------------------------------------------------------------------------------
class LatentCache:
    """Stage-1 motion coefficients of frames, cached in one SQLite file (delete it at will).

    Key: blake2b of the frame's network-resolution pixels plus a fingerprint of the stage-1
    weights (a different stage-1 network never reuses entries). Value: ``M`` float32 coefficients.
    """

    def __init__(self, path: str, fingerprint: str) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fingerprint = fingerprint
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(str(self.path), timeout=30)
            self._db.execute("CREATE TABLE IF NOT EXISTS latents (key BLOB PRIMARY KEY, value BLOB)")
        return self._db

    def keys(self, frames: Tensor) -> list[bytes]:
        """One key per frame of ``(N, 3, s, s)``."""
        arr = frames.detach().to(torch.float16).cpu().numpy()
        return [hashlib.blake2b(self.fingerprint.encode() + a.tobytes(), digest_size=16).digest() for a in arr]

    def get(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        """Cached values for the keys present."""
        db = self._conn()
        out = {}
        for k in keys:
            row = db.execute("SELECT value FROM latents WHERE key = ?", (k,)).fetchone()
            if row is not None:
                out[k] = np.frombuffer(row[0], dtype=np.float32)
        return out

    def put(self, items: Mapping[bytes, np.ndarray]) -> None:
        """Store values (float32 arrays)."""
        db = self._conn()
        db.executemany("INSERT OR REPLACE INTO latents VALUES (?, ?)", [(k, np.asarray(v, np.float32).tobytes()) for k, v in items.items()])
        db.commit()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_db": None}


def _read_stage1(path: str) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """AE settings and ``autoencoder.*`` weights of a stage-1 checkpoint, loaded weights-only.

    Raises:
        ConfigError: missing file, not a checkpoint, or not a FLOAT stage-1 checkpoint.
    """
    file = Path(path).expanduser()
    if file.is_dir():
        from talkzoo.checkpoints import resolve_checkpoint

        file = resolve_checkpoint(file, prefer="best")
    if not file.is_file():
        raise ConfigError(
            f"FLOAT stage 2: stage-1 checkpoint {str(file)!r} does not exist; train stage 1 first "
            "(`talkzoo fit --config recipes/float_ae_<dataset>.yaml`) and point model.init_args.stage1_checkpoint at its .ckpt"
        )
    from talkzoo.checkpoints import read_checkpoint

    try:
        ckpt = read_checkpoint(file)  # weights-only
    except DataError as exc:
        raise ConfigError(f"FLOAT stage 2: stage-1 checkpoint: {exc}") from None
    state = ckpt.get("state_dict", {}) if isinstance(ckpt, dict) else {}
    hp = ckpt.get("hyper_parameters", {}) if isinstance(ckpt, dict) else {}
    ae_state = {k[len("autoencoder."):]: v for k, v in state.items() if k.startswith("autoencoder.")}
    cls = str(ckpt.get("_talkzoo_class_path", "")) if isinstance(ckpt, dict) else ""
    if not ae_state or "basis.weight" not in ae_state or (cls and not cls.endswith("FLOATMotionAutoEncoder")):
        raise ConfigError(
            f"FLOAT stage 2: {str(file)!r} is not a FLOAT stage-1 checkpoint (model {cls or 'unknown'}, no autoencoder.* weights); "
            "expected a checkpoint written by `talkzoo fit` with talkzoo_float.model.FLOATMotionAutoEncoder"
        )
    config = {k: hp[k] for k in AE_KEYS if k in hp}
    config["image_size"] = hp.get("network_size")
    missing = [k for k in AE_KEYS if config.get(k) is None]
    if missing:
        raise ConfigError(f"FLOAT stage 2: stage-1 checkpoint {str(file)!r} lacks the settings {missing}")
    return config, ae_state


class FLOAT(AudioToVideoTask):
    """FLOAT stage 2: motion-latent flow matching with the frame-wise AdaLN transformer (§4.2).

    Training (Eq. 11-13): a clip of ``prefix_frames + window_frames`` (10 + 50) frames and its
    audio; the frozen stage-1 encoder gives ``w_{r→D} = Q λ(D)`` for every frame and ``w_{r→S}``
    for the source; ``x_t = (1 − t) x_0 + t x_1`` with ``x_0 ~ N(0, I)``, ``t ~ U[0, 1]``, ``x_1`` the
    current window; the FMT sees ``[w_{prefix} | x_t]`` and per-frame conditions; losses
    ``λ_OT (‖v − (x_1 − x_0)‖ + ‖v_prefix − w_prefix‖) + λ_vel ‖Δv − Δ[w_prefix | u]‖`` (L1).
    Condition dropout: ``w_{r→S}``, ``w_e`` and the current audio each zeroed with p = 0.1, the
    preceding latents and audio each with p = 0.5, independently per sample (zeros = the null
    condition, as the official code).

    Sampling (:meth:`generate_stream`): window by window, each window conditioned on the previous
    window's last ``prefix_frames`` latents and audio features (zeros for the first), Euler ODE
    with ``nfe`` steps and incremental CFG (Eq. 14; the three branches are one batch), then the
    stage-1 decoder. Memory and time per window do not depend on the clip's length.

    Args:
        spec: the audio → video data spec (linked by ``talkzoo fit``).
        audio_encoder: speech front-end (paper: :class:`Wav2Vec2AllLayers`, frozen; demo:
            :class:`talkzoo.audio.encoders.MelSpectrogramEncoder`).
        stage1_checkpoint: a stage-1 (:class:`FLOATMotionAutoEncoder`) checkpoint file or run
            folder; its auto-encoder is loaded weights-only and frozen, and its settings replace
            ``autoencoder``. Required to train; a stage-2 checkpoint carries the AE itself.
        autoencoder: AE settings (``image_size``, ``latent_dim``, ...) used when no stage-1
            checkpoint is given (tests, or a stage-2 checkpoint being reloaded).
        audio_dim: ``d_a`` of the audio projection (512). hidden_dim, depth, num_heads, mlp_ratio:
            the FMT (1024, 8, 8, 4). window_frames: ``L`` (50). prefix_frames: ``L'`` (10).
        attention_radius: band half-width (2); ``None`` = full attention (Table 3 switch).
        conditioning: ``"adaln"`` (paper) or ``"cross_attention"`` (Table 3 "w. Cross-Attn.").
        emotion: ``"labels"`` (RAVDESS file-name labels as one-hot, zeros where a clip has none),
            ``"classifier"`` (``emotion_classifier`` folder, :class:`SpeechEmotionClassifier`), or
            ``"none"`` (the emotion input is always the null vector; the γ_e branch then adds nothing).
        emotion_classifier: local folder of the speech-emotion model (for ``"classifier"``).
        condition_dropout: p of dropping ``w_{r→S}``, ``w_e``, current audio (0.1).
        prefix_dropout: p of dropping the preceding latents and audio (0.5).
        lambda_ot, lambda_vel: Eq. 13 weights (1, 1); ``lambda_vel=0`` = "no velocity loss".
        prefix_loss: the prefix term of Eq. 11 (False = "no prefix" ablation together with
            ``prefix_frames=0``).
        nfe: Euler steps at sampling (10). time_grid: ``"uniform"`` or the official ``"linspace"``.
        cfg_audio, cfg_emotion: γ_a, γ_e of Eq. 14 (2, 1).
        audio_context_frames: audio context (frames) on each side of a window when its features are
            computed window by window (ours; 25 = 1 s).
        decode_batch: frames decoded per decoder call.
        detail_transfer: when the stage-1 network runs below the data's size, add the portrait's fine
            detail, moved by the decoder's finest flow, to the upsampled frames (:func:`decode_to_unit`;
            ours, for reduced-size runs; default off).
        latent_norm: ``"none"`` (default: the flow runs on the raw motion latents, as the paper and
            the official code describe) or ``"dataset"`` (ours): per-dimension mean and standard
            deviation of the training clips' motion latents, computed once at the start of the fit
            (stored in the checkpoint), standardise the flow's data, prefix and source condition;
            samples are mapped back before decoding. With a small motion auto-encoder the latents
            vary by ~1 % of the unit noise of Eq. 10 and the flow learns only their mean; the demo uses it.
        latent_cache: SQLite file caching stage-1 coefficients of training frames (None: off).
        optimizer: default Adam lr 1e-5. lr_scheduler, metric_weights, landmark_metrics: see the base.

    Raises:
        ConfigError: missing/mismatched stage-1 checkpoint, bad settings.
    """

    stream_window_frames = 50

    def __init__(
        self,
        spec: VideoDataSpec | dict | None = None,
        audio_encoder: AudioEncoder | dict | None = None,
        stage1_checkpoint: str | None = None,
        autoencoder: dict[str, Any] | None = None,
        audio_dim: int = 512,
        hidden_dim: int = 1024,
        depth: int = 8,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        window_frames: int = 50,
        prefix_frames: int = 10,
        attention_radius: int | None = 2,
        conditioning: Literal["adaln", "cross_attention"] = "adaln",
        emotion: Literal["none", "labels", "classifier"] = "none",
        emotion_classifier: str | None = None,
        condition_dropout: float = 0.1,
        prefix_dropout: float = 0.5,
        lambda_ot: float = 1.0,
        lambda_vel: float = 1.0,
        prefix_loss: bool = True,
        nfe: int = 10,
        time_grid: Literal["uniform", "linspace"] = "uniform",
        cfg_audio: float = 2.0,
        cfg_emotion: float = 1.0,
        audio_context_frames: int = 25,
        decode_batch: int = 16,
        detail_transfer: bool = False,
        latent_cache: str | None = None,
        latent_norm: Literal["none", "dataset"] = "none",
        optimizer: OptimizerCallable = _fmt_adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        metric_weights: dict[str, str] | None = None,
        landmark_metrics: bool | None = None,
    ) -> None:
        if audio_encoder is None:
            raise ConfigError("FLOAT: model.init_args.audio_encoder is required (Wav2Vec2AllLayers for the paper, MelSpectrogramEncoder for the demo)")
        audio_encoder = build_module(audio_encoder)
        super().__init__(spec=spec, optimizer=optimizer, lr_scheduler=lr_scheduler, metric_weights=metric_weights, landmark_metrics=landmark_metrics)
        if emotion not in ("none", "labels", "classifier"):
            raise ConfigError(f"FLOAT: emotion must be 'none', 'labels' or 'classifier', got {emotion!r}")
        if emotion == "classifier" and not emotion_classifier:
            raise ConfigError("FLOAT: emotion='classifier' needs emotion_classifier (a local folder with the speech-emotion model)")
        if emotion == "classifier" and not Path(str(emotion_classifier)).expanduser().is_dir():
            raise MissingWeightsError(
                f"FLOAT: speech-emotion classifier folder {emotion_classifier!r} does not exist; save "
                "r-f/wav2vec-english-speech-emotion-recognition there (config.json + model.safetensors) on a machine with "
                "network, or set --model.init_args.emotion none (labels for RAVDESS)"
            )
        if window_frames < 1 or prefix_frames < 0:
            raise ConfigError(f"FLOAT: window_frames must be >= 1 and prefix_frames >= 0, got {window_frames}, {prefix_frames}")
        euler_time_grid(nfe, time_grid)  # validates
        ae_state = None
        ae_config = dict(autoencoder or {})
        if stage1_checkpoint:
            ae_config, ae_state = _read_stage1(stage1_checkpoint)
        unknown = sorted(set(ae_config) - set(AE_KEYS))
        if unknown:
            raise ConfigError(f"FLOAT: unknown autoencoder setting(s) {unknown}; expected some of {list(AE_KEYS)}")
        ae_config.setdefault("image_size", self.spec.image_size if self.spec is not None else 512)
        self.autoencoder = MotionAutoEncoder(**ae_config)
        if ae_state is not None:
            try:
                self.autoencoder.load_state_dict(ae_state)
            except RuntimeError as exc:
                raise ConfigError(f"FLOAT stage 2: stage-1 checkpoint {stage1_checkpoint!r} does not match its own settings ({str(exc).splitlines()[0]})") from None
        self.autoencoder.requires_grad_(False)
        self.autoencoder.eval()
        # The stage-2 checkpoint carries the AE (its weights are in the state dict), so reloading it
        # needs no stage-1 file: the resolved settings replace the path in the hyper-parameters.
        self.hparams["autoencoder"] = dict(self.autoencoder_config(ae_config))
        self.hparams["stage1_checkpoint"] = None
        self.stage1_source = stage1_checkpoint
        self.audio_encoder = audio_encoder
        self.audio_projection = AudioProjection(audio_encoder.output_dim, audio_dim)
        latent_dim = self.autoencoder.latent_dim
        self.fmt = FlowMatchingTransformer(latent_dim, hidden_dim, depth, num_heads, mlp_ratio, audio_dim, len(EMOTIONS), prefix_frames + window_frames, attention_radius, conditioning)
        self.window_frames, self.prefix_frames = int(window_frames), int(prefix_frames)
        self.emotion_mode = emotion
        self.emotion_classifier_path = emotion_classifier
        self._emotion_net: SpeechEmotionClassifier | None = None
        self.condition_dropout, self.prefix_dropout = float(condition_dropout), float(prefix_dropout)
        self.lambda_ot, self.lambda_vel, self.prefix_loss = float(lambda_ot), float(lambda_vel), bool(prefix_loss)
        self.nfe, self.time_grid = int(nfe), time_grid
        self.cfg_audio, self.cfg_emotion = float(cfg_audio), float(cfg_emotion)
        self.audio_context_frames, self.decode_batch = int(audio_context_frames), int(decode_batch)
        self.detail_transfer = bool(detail_transfer)
        self.latent_cache_path = latent_cache
        self._cache: LatentCache | None = None
        if latent_norm not in ("none", "dataset"):
            raise ConfigError(f"FLOAT: latent_norm must be 'none' or 'dataset', got {latent_norm!r}")
        self.latent_norm = latent_norm
        d = self.autoencoder.latent_dim
        # per-dimension statistics of the training latents (latent_norm="dataset"); identity until computed
        self.register_buffer("latent_mean", torch.zeros(d))
        self.register_buffer("latent_std", torch.ones(d))
        self.register_buffer("latent_stats_ready", torch.tensor(False))
        self._register_load_state_dict_pre_hook(self._fill_latent_statistics)  # checkpoints from before latent_norm

    @staticmethod
    def autoencoder_config(config: Mapping[str, Any]) -> dict[str, Any]:
        """Plain-value AE settings (for the hyper-parameters)."""
        return {k: (int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else v) for k, v in config.items()}

    def _fill_latent_statistics(self, state_dict: dict, prefix: str, *args: Any) -> None:
        """A stage-2 checkpoint written before ``latent_norm`` existed has no statistics: use the identity."""
        for name in ("latent_mean", "latent_std", "latent_stats_ready"):
            state_dict.setdefault(prefix + name, getattr(self, name).detach().clone())

    def normalize_latents(self, w: Tensor) -> Tensor:
        """``(..., d)`` motion latents → the flow's space (identity unless ``latent_norm="dataset"``)."""
        if self.latent_norm == "none":
            return w
        return (w - self.latent_mean) / self.latent_std

    def denormalize_latents(self, x: Tensor) -> Tensor:
        """Inverse of :meth:`normalize_latents`."""
        if self.latent_norm == "none":
            return x
        return x * self.latent_std + self.latent_mean

    @torch.no_grad()
    def fit_latent_statistics(self, loader: Any) -> None:
        """Per-dimension mean and std (floored at 1e-6) of the motion latents of every real frame in
        ``loader`` (an iterable of :class:`VideoBatch`, the training dataloader at fit start); stored
        in the ``latent_mean`` / ``latent_std`` buffers, ``(d,)`` float32, latent units (ours, see
        ``latent_norm``).

        Raises:
            DataError: fewer than 2 real frames in ``loader``.
        """
        total, sq, count = None, None, 0
        for batch in loader:
            frames = batch.frames.to(self.device)
            w = self.motion_latents(frames)[batch.frame_mask.to(self.device)].double()
            total = w.sum(0) if total is None else total + w.sum(0)
            sq = (w * w).sum(0) if sq is None else sq + (w * w).sum(0)
            count += w.shape[0]
        if count < 2:
            raise DataError("FLOAT latent_norm='dataset': the training data has fewer than 2 frames")
        mean = total / count
        std = (sq / count - mean * mean).clamp(min=0).sqrt().clamp(min=1e-6)
        self.latent_mean.copy_(mean.float())
        self.latent_std.copy_(std.float())
        self.latent_stats_ready.fill_(True)
        log.info("FLOAT: latent statistics from %d training frames (mean |mu| %.4f, mean sigma %.4f)",
                 count, float(mean.abs().mean()), float(std.mean()))

    def on_fit_start(self) -> None:  # noqa: D102 - computes the latent statistics once (latent_norm="dataset")
        super().on_fit_start()
        if self.latent_norm == "dataset" and not bool(self.latent_stats_ready):
            dm = self.trainer.datamodule if self.trainer is not None else None
            if dm is None:
                raise ConfigError("FLOAT latent_norm='dataset' needs a datamodule to compute the latent statistics")
            self.fit_latent_statistics(dm.train_dataloader())

    def train(self, mode: bool = True) -> "FLOAT":
        """Training mode for the trainable parts; the frozen stage-1 network stays in eval mode."""
        super().train(mode)
        self.autoencoder.eval()
        return self

    # ------------------------------------------------------------------ conditions
    @property
    def net_size(self) -> int:
        """Resolution of the stage-1 network (pixels)."""
        return self.autoencoder.image_size

    def _coefficients(self, images: Tensor) -> Tensor:
        """Stage-1 motion coefficients ``(N, M)`` of ``(N, 3, s, s)`` [-1, 1] frames (cached when configured)."""
        if self.latent_cache_path is None or not self.training:
            return self.autoencoder.encode(images, with_features=False).coefficients
        if self._cache is None:
            fp = hashlib.blake2b(self.autoencoder.basis.weight.detach().cpu().numpy().tobytes(), digest_size=8).hexdigest()
            self._cache = LatentCache(self.latent_cache_path, fp)
        keys = self._cache.keys(images)
        found = self._cache.get(keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        out = torch.empty(images.shape[0], self.autoencoder.num_motions, device=images.device)
        if todo:
            coeff = self.autoencoder.encode(images[todo], with_features=False).coefficients
            out[todo] = coeff
            self._cache.put({keys[i]: coeff[j].cpu().numpy() for j, i in enumerate(todo)})
        done = [i for i in range(len(keys)) if keys[i] in found]
        if done:
            out[done] = torch.from_numpy(np.stack([found[keys[i]] for i in done])).to(images.device)
        return out

    def motion_latents(self, frames: Tensor) -> Tensor:
        """``(B, T, 3, H, W)`` [0, 1] → ``(B, T, d)`` motion latents ``w_{r→D}`` (frozen stage 1)."""
        b, t = frames.shape[:2]
        with torch.no_grad():
            imgs = _to_signed(frames.reshape(b * t, *frames.shape[2:]).float(), self.net_size)
            return self.autoencoder.basis(self._coefficients(imgs)).view(b, t, -1)

    def audio_features(self, audio: Tensor, audio_mask: Tensor | None, num_frames: int) -> Tensor:
        """``(B, S)`` audio → ``(B, num_frames, d_a)`` projected features (encoder + trainable projection)."""
        return self.audio_projection(self.audio_encoder(audio, audio_mask, num_frames))

    def emotion_net(self) -> SpeechEmotionClassifier:
        """The speech-emotion classifier (built on first use)."""
        if self._emotion_net is None:
            self._emotion_net = SpeechEmotionClassifier(str(self.emotion_classifier_path)).to(self.device)
        return self._emotion_net

    def batch_emotion(self, batch: VideoBatch) -> Tensor:
        """``(B, 7)`` emotion condition of a batch, per ``emotion`` (see the class docstring)."""
        b = len(batch)
        out = torch.zeros(b, len(EMOTIONS), device=batch.audio.device)
        if self.emotion_mode == "labels":
            for i, name in enumerate(batch.names):
                k = ravdess_emotion(name)
                if k is not None:
                    out[i, k] = 1.0
        elif self.emotion_mode == "classifier":
            audio = batch.audio * batch.audio_mask.to(batch.audio.dtype)
            out = self.emotion_net()(audio).to(out.device)
        return out

    def resolve_emotion(self, emotion: str | int | Tensor | None, audio: Tensor, audio_mask: Tensor | None) -> Tensor:
        """``(B, 7)`` emotion for generation: a class name / index (one-hot redirection, §5.4), a tensor,
        or ``None`` (the classifier on the first 30 s when configured, else the null vector).

        Raises:
            ConfigError: an unknown emotion name or index.
        """
        b = audio.shape[0]
        if isinstance(emotion, Tensor):
            return emotion.to(audio.device, torch.float32).expand(b, -1)
        out = torch.zeros(b, len(EMOTIONS), device=audio.device)
        if emotion is not None:
            if isinstance(emotion, str) and not emotion.isdigit():
                name = emotion.lower()
                match = [i for i, e in enumerate(EMOTIONS) if e.startswith(name[:4])]
                if not match:
                    raise ConfigError(f"FLOAT: unknown emotion {emotion!r}; expected one of {', '.join(EMOTIONS)}")
                k = match[0]
            else:
                k = int(emotion)
                if not 0 <= k < len(EMOTIONS):
                    raise ConfigError(f"FLOAT: emotion index {k} out of range 0..{len(EMOTIONS) - 1}")
            out[:, k] = 1.0
        elif self.emotion_mode == "classifier":
            head = audio[:, : 30 * self.require_spec().sample_rate]
            if audio_mask is not None:
                head = head * audio_mask[:, : head.shape[1]].to(head.dtype)
            out = self.emotion_net()(head).to(audio.device)
        return out

    # ------------------------------------------------------------------ training
    def _drop(self, x: Tensor, p: float) -> Tensor:
        """Zero whole samples of ``x (B, ...)`` with probability ``p`` (training only)."""
        if not self.training or p <= 0:
            return x
        keep = (torch.rand(x.shape[0], device=x.device) >= p).to(x.dtype)
        return x * keep.view(-1, *([1] * (x.dim() - 1)))

    def compute_losses(self, batch: VideoBatch) -> dict[str, Tensor]:
        """Eq. 11-13 on the first ``prefix_frames + window_frames`` frames of each clip.

        Clips shorter than that use all their frames (the current window shrinks); a clip needs
        more than ``prefix_frames`` frames.

        Raises:
            DataError: clips too short for the prefix.
        """
        lp = self.prefix_frames
        n = min(batch.frames.shape[1], lp + self.window_frames)
        if n <= lp:
            raise DataError(f"FLOAT: clips of {batch.frames.shape[1]} frames are too short for {lp} preceding frames + a window")
        frames, mask = batch.frames[:, :n], batch.frame_mask[:, :n]
        spec = self.require_spec()
        samples = int(round(n * spec.sample_rate / spec.fps))
        audio, audio_mask = batch.audio[:, :samples], batch.audio_mask[:, :samples]
        latents = self.normalize_latents(self.motion_latents(frames))  # (B, n, d)
        with torch.no_grad():
            reference = self.normalize_latents(self.autoencoder.basis(self._coefficients(_to_signed(batch.source.float(), self.net_size))))
        feats = self.audio_features(audio, audio_mask, n)
        emotion = self.batch_emotion(batch)
        prefix, x1 = latents[:, :lp], latents[:, lp:]
        x0 = torch.randn_like(x1)
        t = torch.rand(x1.shape[0], device=x1.device)
        xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * x1
        p = self.condition_dropout
        reference, emotion = self._drop(reference, p), self._drop(emotion, p)
        audio_cur = self._drop(feats[:, lp:], p)
        audio_prev = self._drop(feats[:, :lp], self.prefix_dropout)
        prefix_in = self._drop(prefix, self.prefix_dropout)
        v = self.fmt(torch.cat([prefix_in, xt], 1), t, reference, torch.cat([audio_prev, audio_cur], 1), emotion)
        terms = flow_matching_losses(v, prefix, x1 - x0, mask, prefix_weight=1.0 if self.prefix_loss else 0.0)
        terms["loss"] = self.lambda_ot * terms["ot"] + self.lambda_vel * terms["temporal"]
        return terms

    # ------------------------------------------------------------------ sampling
    def guided_velocity(self, x: Tensor, t: float, prev_latents: Tensor, prev_audio: Tensor, audio: Tensor, reference: Tensor, emotion: Tensor, cfg_audio: float, cfg_emotion: float) -> Tensor:
        """Eq. 14 vector field on the current window ``x (B, L, d)`` at time ``t``.

        The three branches — full ``c``, ``c|_{w_e}`` (emotion dropped), ``c|_{a, w_e}`` (current
        audio and emotion dropped) — run as one batch of ``3B``; ``w_{r→S}`` and the preceding
        latents/audio are kept in all three (official code). With ``γ_a = γ_e = 1`` Eq. 14 is
        the full branch alone, which is all that runs. Returns ``(B, L, d)``.
        """
        b = x.shape[0]
        tokens = torch.cat([prev_latents, x], dim=1)
        if cfg_audio == 1.0 and cfg_emotion == 1.0:
            v = self.fmt(tokens, torch.full((b,), t, device=x.device), reference, torch.cat([prev_audio, audio], 1), emotion)
            return v[:, self.prefix_frames :]
        zeros_a, zeros_e = torch.zeros_like(audio), torch.zeros_like(emotion)
        v = self.fmt(
            tokens.repeat(3, 1, 1),
            torch.full((3 * b,), t, device=x.device),
            reference.repeat(3, 1),
            torch.cat([prev_audio.repeat(3, 1, 1), torch.cat([audio, audio, zeros_a])], dim=1),
            torch.cat([emotion, zeros_e, zeros_e]),
        )[:, self.prefix_frames :]
        v_full, v_audio, v_uncond = v.chunk(3)
        return incremental_cfg(v_full, v_audio, v_uncond, cfg_audio, cfg_emotion)

    def sample_window(self, prev_latents: Tensor, prev_audio: Tensor, audio: Tensor, reference: Tensor, emotion: Tensor, nfe: int, time_grid: str, cfg_audio: float, cfg_emotion: float, generator: torch.Generator | None = None) -> Tensor:
        """Euler-integrate one window from noise: returns ``(B, L, d)`` motion latents."""
        b, length = audio.shape[:2]
        x = torch.randn(b, length, self.autoencoder.latent_dim, device=audio.device, generator=generator)
        grid = euler_time_grid(nfe, time_grid).tolist()
        for t0, t1 in zip(grid[:-1], grid[1:]):
            x = x + (t1 - t0) * self.guided_velocity(x, t0, prev_latents, prev_audio, audio, reference, emotion, cfg_audio, cfg_emotion)
        return x

    def _window_audio(self, audio: Tensor, start: int, stop: int, total: int) -> Tensor:
        """Projected audio features ``(B, stop − start, d_a)`` of frames ``[start, stop)``, computed with
        ``audio_context_frames`` of context on each side (clipped to the clip) so memory is per window."""
        spec = self.require_spec()
        per = spec.sample_rate / spec.fps
        ctx = self.audio_context_frames
        lo, hi = max(0, start - ctx), min(total, stop + ctx)
        a0, a1 = int(round(lo * per)), int(round(hi * per))
        piece = audio[:, a0:a1]
        if piece.shape[1] < a1 - a0:
            piece = F.pad(piece, (0, a1 - a0 - piece.shape[1]))
        return self.audio_features(piece, None, hi - lo)[:, start - lo : stop - lo]

    def _decode(self, latents: Tensor, identity: Tensor, features: list[Tensor], out_size: int, source: Tensor | None = None) -> Tensor:
        """``(B, n, d)`` motion latents → ``(B, n, 3, out, out)`` [0, 1] frames, ``decode_batch`` frames per call
        (``source``: the ``(B, 3, H, W)`` portrait for :attr:`detail_transfer`)."""
        b, n, d = latents.shape
        flat = (identity[:, None] + latents).reshape(b * n, d)
        bidx = torch.arange(b, device=latents.device).repeat_interleave(n)
        src = resize_square(source.float(), out_size) if (source is not None and self.detail_transfer) else None
        out = []
        for i in range(0, b * n, self.decode_batch):
            sel = bidx[i : i + self.decode_batch]
            out.append(decode_to_unit(self.autoencoder, flat[i : i + self.decode_batch], [f[sel] for f in features], out_size,
                                      None if src is None else src[sel]))
        return torch.cat(out).view(b, n, 3, out_size, out_size)

    @torch.no_grad()
    def generate_stream(  # type: ignore[override]
        self,
        audio: Tensor,
        source: Tensor,
        num_frames: int | None = None,
        audio_mask: Tensor | None = None,
        window_frames: int | None = None,
        emotion: str | int | Tensor | None = None,
        nfe: int | None = None,
        cfg_audio: float | None = None,
        cfg_emotion: float | None = None,
        time_grid: str | None = None,
        pose_edit: Mapping[int, float] | None = None,
        seed: int | None = None,
    ) -> Iterator[Tensor]:
        """Animate window by window (the family's streaming contract): yields ``(B, t_k, 3, H, W)`` [0, 1].

        Each chunk is one model window of ``window_frames`` (the model's ``L``; the argument of the
        same name is accepted for the contract, chunks are always the model's windows). The source is
        encoded once; each window's audio features are computed with ``audio_context_frames`` of
        context; the window's latents are sampled (Euler, Eq. 14 guidance) conditioned on the previous
        window's last ``prefix_frames`` latents/audio (zeros for the first window, official code);
        then decoded. The last window's audio features are replicate-padded to ``L`` (official
        code) and its output truncated.

        FLOAT's own options (``talkzoo animate`` passes them through):
            emotion: a class name (``happy``) or index 0..6 — one-hot emotion redirection (§5.4);
                default: the configured emotion source (classifier) or the null vector.
            nfe, cfg_audio, cfg_emotion, time_grid: override the sampling settings (Table 5/6).
            pose_edit: ``{k: Δ}`` — λ-control (Eq. 15, Fig. 6): adds ``Δ · v_k`` to every generated
                motion latent (k is 1-based as in the paper, ``λ_15 ± 10``).
            seed: seed of the sampling noise (default: torch's global generator).

        Raises:
            ConfigError: bad options (unknown emotion, pose-edit index out of 1..M, nfe < 1).
        """
        spec = self.require_spec()
        total = int(num_frames) if num_frames is not None else self.num_frames_for(audio.shape[1])
        nfe = int(self.nfe if nfe is None else nfe)
        grid = self.time_grid if time_grid is None else time_grid
        euler_time_grid(nfe, grid)
        g_a = self.cfg_audio if cfg_audio is None else float(cfg_audio)
        g_e = self.cfg_emotion if cfg_emotion is None else float(cfg_emotion)
        if audio_mask is not None:
            audio = audio * audio_mask.to(audio.dtype)
        audio = audio.float()
        edit = None
        if pose_edit:
            m = self.autoencoder.num_motions
            bad = [k for k in pose_edit if not 1 <= int(k) <= m]
            if bad:
                raise ConfigError(f"FLOAT pose_edit: motion index {bad} out of 1..{m} (Eq. 15 indexes λ_1..λ_{m})")
            delta = torch.zeros(m, device=audio.device)
            for k, v in pose_edit.items():
                delta[int(k) - 1] = float(v)
            edit = self.autoencoder.basis(delta)  # Σ Δ_k v_k, (d,)
        generator = None
        if seed is not None:
            generator = torch.Generator(device=audio.device).manual_seed(int(seed))
        enc = self.autoencoder.encode(_to_signed(source.float(), self.net_size))
        reference = self.normalize_latents(self.autoencoder.basis(enc.coefficients))
        emo = self.resolve_emotion(emotion, audio, audio_mask)
        b, lp, length = audio.shape[0], self.prefix_frames, self.window_frames
        d = self.autoencoder.latent_dim
        prev_x = torch.zeros(b, lp, d, device=audio.device)
        prev_a = torch.zeros(b, lp, self.audio_projection.net[0].out_features, device=audio.device)
        out_size = int(spec.image_size)
        for start in range(0, total, length):
            stop = min(total, start + length)
            feats = self._window_audio(audio, start, stop, total)
            if feats.shape[1] < length:
                feats = torch.cat([feats, feats[:, -1:].expand(-1, length - feats.shape[1], -1)], dim=1)
            x = self.sample_window(prev_x, prev_a, feats, reference, emo, nfe, grid, g_a, g_e, generator)
            if lp:
                prev_x, prev_a = x[:, -lp:], feats[:, -lp:]
            keep = self.denormalize_latents(x[:, : stop - start])
            if edit is not None:
                keep = keep + edit
            yield self._decode(keep, enc.identity, enc.features, out_size, source)

    @torch.no_grad()
    def generate(  # type: ignore[override]
        self, audio: Tensor, source: Tensor, num_frames: int | None = None, audio_mask: Tensor | None = None, **options: Any
    ) -> Tensor:
        """Animate ``source (B, 3, H, W)`` [0, 1] with ``audio (B, S)``: ``(B, T, 3, H, W)`` [0, 1].

        The concatenation of :meth:`generate_stream` (same options).
        """
        return torch.cat(list(self.generate_stream(audio, source, num_frames, audio_mask, **options)), dim=1)

    def predict_for_metrics(self, batch: VideoBatch) -> Tensor:
        """Frames for the metrics: the clip's own emotion per ``emotion`` (labels where the data has them)."""
        emotion = self.batch_emotion(batch) if self.emotion_mode != "none" else None
        return self.generate(batch.audio, batch.source, num_frames=batch.frames.shape[1], audio_mask=batch.audio_mask, emotion=emotion)
