"""Speech front-ends: waveforms at 16 kHz in, per-mesh-frame features out.

Every encoder here is a ``torch.nn.Module`` with one small interface (see :class:`AudioEncoder`)::

    features = encoder(audio, audio_mask, num_frames)   # (B, S) -> (B, T, encoder.output_dim)

and two attributes, ``output_dim`` (feature channels ``C``) and ``sample_rate`` (Hz the audio must
be at). Features are brought to the mesh/video frame rate by *linear interpolation over time*, to
exactly ``num_frames`` frames per sequence: ``torch.nn.functional.interpolate(mode="linear",
align_corners=True)``, the resampling FaceFormer (Fan et al., CVPR 2022, ``wav2vec.py``
``linear_interpolation``) and DualTalker (appendix: audio encoder) apply to the 50 Hz wav2vec 2.0
features. Models receive the encoder class through their config (jsonargparse ``class_path``),
so every constructor argument is typed.

Padding: batches are right-padded; ``audio_mask`` (``True`` on real samples) gives each
sequence's length. Each sequence is normalised, featurised and interpolated from its own real
samples only, and padded frames of the output (beyond a sequence's ``num_frames``) are zero.
"""

from __future__ import annotations

import importlib
import math
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from talkzoo.modules import RecordsConfig

from talkzoo.errors import ConfigError, DataError, MissingWeightsError

__all__ = [
    "AudioEncoder",
    "PretrainedSpeechEncoder",
    "Wav2Vec2Encoder",
    "HubertEncoder",
    "MelSpectrogramEncoder",
    "interpolate_to_frames",
    "mel_filterbank",
]


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------


def interpolate_to_frames(features: Tensor, lengths: Tensor | None, num_frames: int | Tensor) -> Tensor:
    """Resample feature sequences over time to exactly ``num_frames`` frames by linear interpolation.

    Sequence ``b`` uses only its first ``lengths[b]`` frames and is stretched/squeezed to
    ``num_frames[b]`` frames with ``F.interpolate(mode="linear", align_corners=True)`` (first and
    last frames kept, FaceFormer's ``linear_interpolation``). A one-frame input is repeated.

    Args:
        features: ``(B, F, C)`` float features at the source rate (e.g. 50 Hz for wav2vec 2.0).
        lengths: ``(B,)`` int number of real source frames per sequence, or ``None`` (all ``F``).
        num_frames: target frame count, an ``int`` for all sequences or a ``(B,)`` int tensor.

    Returns:
        ``(B, T, C)`` features with ``T = max(num_frames)``, same dtype/device as ``features``;
        frames ``t >= num_frames[b]`` are zero.

    Raises:
        DataError: a sequence has no source frames or a target frame count is below 1.
    """
    batch, src_len, channels = features.shape
    targets = _frame_counts(num_frames, batch, features.device)
    lengths = (
        torch.full((batch,), src_len, dtype=torch.long, device=features.device)
        if lengths is None
        else lengths.to(device=features.device, dtype=torch.long)
    )
    if bool((lengths < 1).any()):
        raise DataError(f"cannot interpolate a sequence with no feature frames (frame lengths {lengths.tolist()})")
    total = int(targets.max())
    if bool((lengths == src_len).all()) and bool((targets == total).all()):
        out = F.interpolate(features.transpose(1, 2), size=total, mode="linear", align_corners=True)
        return out.transpose(1, 2)
    out = features.new_zeros(batch, total, channels)
    for b in range(batch):
        n_src, n_dst = int(lengths[b]), int(targets[b])
        seq = features[b : b + 1, :n_src].transpose(1, 2)
        out[b, :n_dst] = F.interpolate(seq, size=n_dst, mode="linear", align_corners=True)[0].transpose(0, 1)
    return out


def _frame_counts(num_frames: int | Tensor, batch: int, device: torch.device) -> Tensor:
    """``num_frames`` (int or ``(B,)``) as a ``(B,)`` long tensor of counts >= 1 (DataError otherwise)."""
    if isinstance(num_frames, Tensor):
        counts = num_frames.to(device=device, dtype=torch.long).reshape(-1)
        if counts.numel() == 1:
            counts = counts.expand(batch)
        if counts.numel() != batch:
            raise DataError(f"num_frames has {counts.numel()} entries for a batch of {batch} sequences")
    else:
        counts = torch.full((batch,), int(num_frames), dtype=torch.long, device=device)
    if batch and bool((counts < 1).any()):
        raise DataError(f"num_frames must be >= 1 for every sequence, got {counts.tolist()}")
    return counts


def _sample_lengths(audio: Tensor, audio_mask: Tensor | None) -> Tensor:
    """Validate ``(B, S)`` audio and its right-padding mask; return ``(B,)`` real sample counts."""
    if audio.dim() != 2:
        raise DataError(f"audio must be a (B, S) batch of mono waveforms, got shape {tuple(audio.shape)}")
    if audio_mask is None:
        return torch.full((audio.shape[0],), audio.shape[1], dtype=torch.long, device=audio.device)
    if audio_mask.shape != audio.shape:
        raise DataError(f"audio_mask shape {tuple(audio_mask.shape)} differs from audio shape {tuple(audio.shape)}")
    return audio_mask.to(torch.bool).sum(dim=1).to(torch.long)


def _normalize_per_sequence(audio: Tensor, lengths: Tensor, eps: float = 1e-7) -> Tensor:
    """Zero-mean, unit-variance per sequence over its real samples; padding set to 0.

    Same formula as transformers' ``Wav2Vec2FeatureExtractor(do_normalize=True)``:
    ``(x - mean) / sqrt(var + 1e-7)`` with the population variance of the real samples.
    """
    positions = torch.arange(audio.shape[1], device=audio.device)
    real = (positions[None, :] < lengths[:, None]).to(audio.dtype)
    count = lengths.clamp(min=1).to(audio.dtype)[:, None]
    mean = (audio * real).sum(dim=1, keepdim=True) / count
    var = (((audio - mean) * real) ** 2).sum(dim=1, keepdim=True) / count
    return (audio - mean) / torch.sqrt(var + eps) * real


def _mask_from_lengths(lengths: Tensor, size: int) -> Tensor:
    """``(B, size)`` bool, ``True`` where position < length."""
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


class AudioEncoder(RecordsConfig, nn.Module):
    """Interface of every talkzoo speech front-end.

    Attributes:
        output_dim: number of feature channels ``C`` of the output.
        sample_rate: sample rate in Hz the input audio must have (16000 for wav2vec 2.0 / HuBERT).

    ``forward(audio, audio_mask, num_frames)``:

    Args:
        audio: ``(B, S)`` float32 mono waveforms in ``[-1, 1]`` at ``sample_rate`` Hz,
            right-padded with zeros.
        audio_mask: ``(B, S)`` bool, ``True`` on real samples (a prefix of each row), or ``None``
            when no sequence is padded.
        num_frames: frames wanted at the mesh/video frame rate (e.g. 30 fps VOCASET, 25 fps BIWI):
            one ``int`` for all sequences or a ``(B,)`` int tensor (e.g. ``frame_mask.sum(1)``).

    Returns:
        ``(B, T, output_dim)`` float features, ``T = max(num_frames)``, zero past each
        sequence's ``num_frames``.

    Raises:
        DataError: wrong input shapes, a target frame count below 1, or audio too short to give
            one feature frame.
    """

    output_dim: int
    sample_rate: int = 16000

    def forward(self, audio: Tensor, audio_mask: Tensor | None, num_frames: int | Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
# wav2vec 2.0 / HuBERT
# --------------------------------------------------------------------------------------------


class PretrainedSpeechEncoder(AudioEncoder):
    """Shared machinery of the transformers wav2vec 2.0-style encoders (wav2vec 2.0, HuBERT).

    Subclasses name the transformers model and config classes (``_model_class``,
    ``_config_class``); everything else (loading, freezing, normalisation, mask handling, the two
    interpolation orders) lives here. The model is split into its three stages, all from
    transformers: the CNN ``feature_extractor`` (raw 16 kHz audio → 50 Hz frames, stride 320,
    receptive field 400 samples for the base/large configs), ``feature_projection`` (LayerNorm +
    linear to ``hidden_size``) and the transformer ``encoder`` (convolutional positional
    embedding + self-attention layers).

    Interpolation order (``interpolate_before_transformer``):

    * ``True`` (FaceFormer, DualTalker appendix): the 50 Hz CNN features are linearly
      interpolated to ``num_frames`` *before* projection and the transformer, so self-attention
      runs at the mesh frame rate.
    * ``False`` (OT-Talk §3.3 for HuBERT): the full model runs at 50 Hz and its last hidden
      state is interpolated.

    Padding: with ``audio_mask``, each sequence's CNN features come only from its real samples
    (models whose CNN uses GroupNorm over time — ``feat_extract_norm="group"``, e.g.
    wav2vec2-base — run the CNN per sequence, since GroupNorm statistics would otherwise see the
    padding), and the transformer gets a frame-level attention mask so real frames never attend
    to padded ones. SpecAugment masking (``mask_time_prob`` of the config) applies in training
    mode only, as in transformers' own forward.

    Weights: ``checkpoint`` is a Hugging Face hub id or a local folder with ``config.json`` and
    ``model.safetensors``/``pytorch_model.bin`` (e.g. written by
    ``Wav2Vec2Model.from_pretrained(id).save_pretrained(folder)`` on a machine with network).
    If the weights cannot be found (offline, no cache) a :class:`~talkzoo.errors.MissingWeightsError`
    names the checkpoint and how to supply it.

    Args:
        checkpoint: hub id or local folder of the pretrained model.
        freeze_feature_extractor: stop gradients into the CNN feature extractor (FaceFormer's
            ``feature_extractor._freeze_parameters()``); the CNN then runs under ``no_grad``.
        freeze: freeze the whole pretrained model (no parameter requires grad, the model stays in
            eval mode so dropout/SpecAugment are off, and it runs under ``no_grad``).
        interpolate_before_transformer: interpolate the CNN output to the mesh frame rate before
            the transformer (``True``, FaceFormer/DualTalker; the default of
            :class:`Wav2Vec2Encoder`) or the final output (``False``, OT-Talk's "linearly
            interpolate the output"; the default of :class:`HubertEncoder`).
        normalize_audio: normalise each sequence to zero mean and unit variance over its real
            samples before the CNN, as ``Wav2Vec2FeatureExtractor(do_normalize=True)`` does for
            wav2vec2-base-960h and hubert-large-ls960-ft. Turn off only for checkpoints trained on
            raw audio (their feature-extractor config says ``do_normalize: false``).
        config_overrides: config fields to change, e.g. tiny test sizes ``{"hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
            "conv_dim": [16]*7}`` or ``{"mask_time_prob": 0.0}``. Unknown field names raise
            :class:`~talkzoo.errors.ConfigError`.
        random_init: ``True``: build from the config alone with random weights (no download);
            the config comes from ``checkpoint`` when it is a local folder, otherwise from the
            transformers defaults of the config class (the *base* architecture), plus
            ``config_overrides``. ``False``: load pretrained weights (``config_overrides`` then
            change fields of the pretrained config). ``None`` (default): random init exactly when
            ``config_overrides`` are given.
        local_files_only: never contact the hub, use only local folders and the local HF cache
            (same effect as ``HF_HUB_OFFLINE=1`` for this model).

    Raises:
        MissingWeightsError: pretrained weights are needed but cannot be found or downloaded.
        ConfigError: an unknown config field in ``config_overrides``, or a config with an output
            adapter combined with ``interpolate_before_transformer=True``.
    """

    _model_class: str = ""
    _config_class: str = ""

    def __init__(
        self,
        checkpoint: str,
        freeze_feature_extractor: bool = True,
        freeze: bool = False,
        interpolate_before_transformer: bool = True,
        normalize_audio: bool = True,
        config_overrides: dict[str, Any] | None = None,
        random_init: bool | None = None,
        local_files_only: bool = False,
    ) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.freeze = freeze
        self.interpolate_before_transformer = interpolate_before_transformer
        self.normalize_audio = normalize_audio
        if random_init is None:
            random_init = bool(config_overrides)
        self.model = self._build_model(checkpoint, dict(config_overrides or {}), random_init, local_files_only)
        config = self.model.config
        self._adapter = getattr(self.model, "adapter", None)
        if self._adapter is not None and interpolate_before_transformer:
            raise ConfigError(
                f"{type(self).__name__}({checkpoint!r}): the config adds an output adapter (add_adapter=True), "
                "which changes the frame rate after the transformer; use interpolate_before_transformer=False"
            )
        self.output_dim = int(
            getattr(config, "output_hidden_size", config.hidden_size) if self._adapter is not None else config.hidden_size
        )
        self._group_norm_cnn = getattr(config, "feat_extract_norm", "group") == "group"
        if freeze_feature_extractor or freeze:
            self._freeze(self.model.feature_extractor)
        if freeze:
            self._freeze(self.model)
            self.model.eval()

    # ---- construction -------------------------------------------------------------------

    def _build_model(self, checkpoint: str, overrides: dict[str, Any], random_init: bool, local_files_only: bool) -> nn.Module:
        transformers = importlib.import_module("transformers")
        model_cls = getattr(transformers, self._model_class)
        config_cls = getattr(transformers, self._config_class)
        defaults = config_cls()
        unknown = sorted(k for k in overrides if not hasattr(defaults, k))
        if unknown:
            raise ConfigError(
                f"{type(self).__name__}: unknown {self._config_class} field(s) in config_overrides: {unknown}"
            )
        folder = Path(os.path.expanduser(checkpoint))
        if random_init:
            if (folder / "config.json").is_file():
                config = config_cls.from_pretrained(str(folder))
                for key, value in overrides.items():
                    setattr(config, key, value)
            else:
                config = config_cls(**overrides)
            return model_cls(config)
        looks_local = checkpoint.startswith(("/", "./", "../", "~")) or folder.is_dir()
        if looks_local and not folder.is_dir():
            raise MissingWeightsError(self._missing_message(checkpoint, f"folder {folder} does not exist"))
        try:
            return model_cls.from_pretrained(
                str(folder) if looks_local else checkpoint, local_files_only=local_files_only, **overrides
            )
        except OSError as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise MissingWeightsError(self._missing_message(checkpoint, reason)) from None

    def _missing_message(self, checkpoint: str, reason: str) -> str:
        return (
            f"{type(self).__name__}: pretrained weights for checkpoint {checkpoint!r} are not available ({reason}). "
            f"Supply them by either (a) setting checkpoint to a local folder containing config.json and "
            f"model.safetensors (or pytorch_model.bin), e.g. one written on a machine with network by "
            f"`transformers.{self._model_class}.from_pretrained({checkpoint!r}).save_pretrained(FOLDER)`; or "
            f"(b) unsetting HF_HUB_OFFLINE on a machine with network access so the hub download can run."
        )

    @staticmethod
    def _freeze(module: nn.Module) -> None:
        for param in module.parameters():
            param.requires_grad = False
        if hasattr(module, "_requires_grad"):  # transformers' feature encoder flag
            module._requires_grad = False

    def train(self, mode: bool = True) -> "PretrainedSpeechEncoder":
        """Set training mode; a fully frozen (``freeze=True``) pretrained model stays in eval mode."""
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self

    # ---- stages -------------------------------------------------------------------------

    def _feature_lengths(self, lengths: Tensor) -> Tensor:
        """Number of CNN output frames (50 Hz for the standard configs) for ``lengths`` samples."""
        config = self.model.config
        for kernel, stride in zip(config.conv_kernel, config.conv_stride):
            lengths = torch.div(lengths - kernel, stride, rounding_mode="floor") + 1
        return lengths

    def _cnn(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Raw audio ``(B, S)`` → CNN features ``(B, F, C_conv)`` and real frame counts ``(B,)``."""
        frame_lengths = self._feature_lengths(lengths)
        if bool((frame_lengths < 1).any()):
            shortest = int(lengths.min())
            raise DataError(
                f"{type(self).__name__}: an audio sequence of {shortest} samples is too short for the CNN "
                f"feature extractor (needs at least {self._min_samples()} samples at {self.sample_rate} Hz)"
            )
        extractor = self.model.feature_extractor
        trainable = any(p.requires_grad for p in extractor.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and trainable):
            padded = bool((lengths != audio.shape[1]).any())
            if self._group_norm_cnn and padded:
                total = int(frame_lengths.max())
                parts = []
                for b in range(audio.shape[0]):
                    one = audio[b : b + 1, : int(lengths[b])]
                    feats = self._lean_extract(extractor, one)
                    feats = extractor(one) if feats is None else feats  # (1, C, F_b)
                    parts.append(F.pad(feats, (0, total - feats.shape[-1])))
                feats = torch.cat(parts, dim=0)
            else:
                feats = self._lean_extract(extractor, audio)
                if feats is None:
                    feats = extractor(audio)
        return feats.transpose(1, 2), frame_lengths

    @staticmethod
    def _lean_extract(extractor: nn.Module, audio: Tensor, chunk: int = 64, time_chunk: int = 4096) -> Tensor | None:
        """The CNN feature extractor's output with a smaller peak memory, bit for bit the same.

        Run as modules, each convolution of wav2vec 2.0 / HuBERT base allocates a work buffer as
        large as its output (197 MB for the first layer's 512 x 96,000 float32 output at 30 s), and
        the first layer's GroupNorm (one group per channel, over the whole time axis) and every
        GELU make a further copy. Here every convolution runs ``time_chunk`` output frames at a time
        into one preallocated output, the GroupNorm and activation of the first layer run ``chunk``
        channels at a time written back in place, and later layers' exact GELU runs in place after
        their input is released: one layer's input and output are alive, nothing more (issue #17,
        ``talkzoo animate``'s memory: 597 -> about 340 MB at 30 s). Per-channel statistics and
        per-output dot products do not depend on the split, so the result is identical (tested).
        Returns None when the layout is not that one (LayerNorm CNNs, other encoders, autograd on):
        the caller then runs the extractor as it is.
        """
        layers = getattr(extractor, "conv_layers", None)
        if layers is None or torch.is_grad_enabled() or len(layers) == 0:
            return None
        first = layers[0]
        norm = getattr(first, "layer_norm", None)
        if not (isinstance(norm, nn.GroupNorm) and norm.num_groups == norm.num_channels and isinstance(getattr(first, "conv", None), nn.Conv1d)
                and hasattr(first, "activation")):
            return None
        rest_ok = all(getattr(layer, "layer_norm", None) is None and isinstance(getattr(layer, "conv", None), nn.Conv1d)
                      and _exact_gelu(getattr(layer, "activation", None)) for layer in layers[1:])
        if not rest_ok:
            return None
        hidden = _chunked_conv1d(first.conv, audio[:, None], time_chunk)
        for c in range(0, hidden.shape[1], chunk):
            part = hidden[:, c : c + chunk]
            weight = None if norm.weight is None else norm.weight[c : c + chunk]
            bias = None if norm.bias is None else norm.bias[c : c + chunk]
            part.copy_(first.activation(F.group_norm(part, part.shape[1], weight, bias, norm.eps)))
        for layer in layers[1:]:
            hidden = _chunked_conv1d(layer.conv, hidden, time_chunk)  # the input is released here
            torch.ops.aten.gelu_(hidden)  # in place: the exact GELU of the module, same values
        return hidden

    def _min_samples(self) -> int:
        """Fewest input samples giving one CNN frame (400 for the standard configs)."""
        length = 1
        for kernel, stride in reversed(list(zip(self.model.config.conv_kernel, self.model.config.conv_stride))):
            length = (length - 1) * stride + kernel
        return length

    def _transformer(self, conv_features: Tensor, frame_lengths: Tensor) -> Tensor:
        """CNN features ``(B, T, C_conv)`` → projection → transformer → ``(B, T, hidden)``."""
        mask = _mask_from_lengths(frame_lengths, conv_features.shape[1])
        attention_mask = None if bool(mask.all()) else mask
        projected = self.model.feature_projection(conv_features)
        hidden = projected[0] if isinstance(projected, tuple) else projected  # wav2vec2 returns a pair
        mask_hidden = getattr(self.model, "_mask_hidden_states", None)
        if mask_hidden is not None:  # SpecAugment (training mode and mask_time_prob > 0 only)
            hidden = mask_hidden(hidden, attention_mask=attention_mask)
        hidden = self.model.encoder(hidden, attention_mask=attention_mask)[0]
        if self._adapter is not None:
            hidden = self._adapter(hidden)
        return hidden * mask[:, : hidden.shape[1], None].to(hidden.dtype) if attention_mask is not None else hidden

    def forward(self, audio: Tensor, audio_mask: Tensor | None, num_frames: int | Tensor) -> Tensor:
        """Encode ``(B, S)`` 16 kHz audio to ``(B, T, output_dim)`` features at the mesh frame rate.

        See :class:`AudioEncoder` for shapes and errors. ``T = max(num_frames)``.
        """
        lengths = _sample_lengths(audio, audio_mask)
        targets = _frame_counts(num_frames, audio.shape[0], audio.device)
        audio = audio.float()
        if audio_mask is not None:
            audio = audio * audio_mask.to(audio.dtype)
        if self.normalize_audio:
            audio = _normalize_per_sequence(audio, lengths)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            conv, frame_lengths = self._cnn(audio, lengths)
            if self.interpolate_before_transformer:
                conv = interpolate_to_frames(conv, frame_lengths, targets)
                return self._transformer(conv, targets)
            hidden = self._transformer(conv, frame_lengths)
            if self._adapter is not None:
                frame_lengths = self._adapter_lengths(frame_lengths)
            return interpolate_to_frames(hidden, frame_lengths, targets)

    def _adapter_lengths(self, lengths: Tensor) -> Tensor:
        config = self.model.config
        for _ in range(config.num_adapter_layers):
            lengths = torch.div(lengths - 1, config.adapter_stride, rounding_mode="floor") + 1
        return lengths


def _chunked_conv1d(conv: nn.Conv1d, x: Tensor, time_chunk: int) -> Tensor:
    """``conv(x)`` for ``(B, C, S)`` computed ``time_chunk`` output frames at a time into one output
    (no padding, dilation 1: the layout of wav2vec 2.0's CNN; other convolutions run whole)."""
    k, stride = conv.kernel_size[0], conv.stride[0]
    length = (x.shape[-1] - k) // stride + 1
    if conv.padding not in ((0,), 0) or conv.dilation != (1,) or length <= time_chunk:
        return conv(x)
    out = x.new_empty(x.shape[0], conv.out_channels, length)
    for a in range(0, length, time_chunk):
        b = min(length, a + time_chunk)
        out[..., a:b] = conv(x[..., a * stride : (b - 1) * stride + k])
    return out


def _exact_gelu(activation: Any) -> bool:
    """Whether ``activation`` is the exact (erf) GELU, so ``aten.gelu_`` computes the same values in place."""
    if isinstance(activation, nn.GELU):
        return activation.approximate == "none"
    return getattr(activation, "act", None) is F.gelu  # transformers' GELUActivation


class Wav2Vec2Encoder(PretrainedSpeechEncoder):
    """wav2vec 2.0 speech encoder (transformers ``Wav2Vec2Model``), FaceFormer/DualTalker style.

    Default checkpoint ``facebook/wav2vec2-base-960h`` (768 channels, 12 layers, GroupNorm CNN,
    audio normalised per utterance). Input ``(B, S)`` float32 at 16 kHz; output ``(B, T, 768)``
    at the mesh frame rate, by linear interpolation of the 50 Hz CNN features before the
    transformer (FaceFormer ``wav2vec.py``; DualTalker appendix) or of the final features.
    All arguments and errors: see :class:`PretrainedSpeechEncoder`.
    """

    _model_class = "Wav2Vec2Model"
    _config_class = "Wav2Vec2Config"

    def __init__(
        self,
        checkpoint: str = "facebook/wav2vec2-base-960h",
        freeze_feature_extractor: bool = True,
        freeze: bool = False,
        interpolate_before_transformer: bool = True,
        normalize_audio: bool = True,
        config_overrides: dict[str, Any] | None = None,
        random_init: bool | None = None,
        local_files_only: bool = False,
    ) -> None:
        super().__init__(
            checkpoint, freeze_feature_extractor, freeze, interpolate_before_transformer,
            normalize_audio, config_overrides, random_init, local_files_only,
        )  # fmt: skip


class HubertEncoder(PretrainedSpeechEncoder):
    """HuBERT speech encoder (transformers ``HubertModel``), as OT-Talk uses (HuBERT Large).

    Default checkpoint ``facebook/hubert-large-ls960-ft`` (1024 channels, 24 layers, LayerNorm
    CNN, audio normalised per utterance). Input ``(B, S)`` float32 at 16 kHz; output
    ``(B, T, 1024)`` at the mesh frame rate by linear interpolation.

    Interpolation order: unlike :class:`Wav2Vec2Encoder` (FaceFormer/DualTalker interpolate the
    CNN features before the transformer), the default here is ``interpolate_before_transformer=
    False``: the whole model runs at 50 Hz and its *output* is interpolated, OT-Talk §3.3 "use
    the pre-trained Hubert model (Hubert Large), and linearly interpolate the output". The two
    orders give different features (38–47 % relative difference on a tiny random HuBERT, 3 seeds,
    ``plugins/ottalk/tests/test_fidelity_hubert.py``); ``True`` keeps the FaceFormer order.
    All arguments and errors: see :class:`PretrainedSpeechEncoder`.
    """

    _model_class = "HubertModel"
    _config_class = "HubertConfig"

    def __init__(
        self,
        checkpoint: str = "facebook/hubert-large-ls960-ft",
        freeze_feature_extractor: bool = True,
        freeze: bool = False,
        interpolate_before_transformer: bool = False,
        normalize_audio: bool = True,
        config_overrides: dict[str, Any] | None = None,
        random_init: bool | None = None,
        local_files_only: bool = False,
    ) -> None:
        super().__init__(
            checkpoint, freeze_feature_extractor, freeze, interpolate_before_transformer,
            normalize_audio, config_overrides, random_init, local_files_only,
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# log-mel / MFCC
# --------------------------------------------------------------------------------------------


def _hz_to_mel(freq: np.ndarray, scale: str) -> np.ndarray:
    freq = np.asarray(freq, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + freq / 700.0)
    # Slaney (Auditory Toolbox): linear below 1 kHz (200/3 Hz per mel), logarithmic above.
    f_sp, break_hz, break_mel, log_step = 200.0 / 3.0, 1000.0, 15.0, math.log(6.4) / 27.0
    linear = freq / f_sp
    logarithmic = break_mel + np.log(np.maximum(freq, break_hz) / break_hz) / log_step
    return np.where(freq >= break_hz, logarithmic, linear)


def _mel_to_hz(mel: np.ndarray, scale: str) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    f_sp, break_hz, break_mel, log_step = 200.0 / 3.0, 1000.0, 15.0, math.log(6.4) / 27.0
    return np.where(mel >= break_mel, break_hz * np.exp(log_step * (mel - break_mel)), f_sp * mel)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None,
    mel_scale: Literal["slaney", "htk"] = "slaney",
) -> Tensor:  # fmt: skip
    """Triangular mel filterbank with Slaney area normalisation.

    ``n_mels`` triangles with centres equally spaced on the mel scale between ``f_min`` and
    ``f_max``; each filter is scaled by ``2 / (upper_edge_hz - lower_edge_hz)`` so all have equal
    area (Slaney's Auditory Toolbox normalisation, librosa's default ``norm="slaney"``).
    ``mel_scale="slaney"`` is the Auditory Toolbox scale (linear below 1 kHz, log above; librosa's
    default), ``"htk"`` is ``2595 log10(1 + f/700)``.

    Args:
        sample_rate: audio sample rate in Hz.
        n_fft: FFT size; the bank covers ``n_fft // 2 + 1`` bins from 0 Hz to ``sample_rate / 2``.
        n_mels: number of mel bands.
        f_min: lowest band edge in Hz.
        f_max: highest band edge in Hz (``None``: ``sample_rate / 2``).
        mel_scale: ``"slaney"`` or ``"htk"``.

    Returns:
        ``(n_mels, n_fft // 2 + 1)`` float32 weights.

    Raises:
        ConfigError: bad frequency range or unknown scale.
    """
    f_max = sample_rate / 2.0 if f_max is None else float(f_max)
    if mel_scale not in ("slaney", "htk"):
        raise ConfigError(f"mel_scale must be 'slaney' or 'htk', got {mel_scale!r}")
    if not 0.0 <= f_min < f_max <= sample_rate / 2.0:
        raise ConfigError(f"need 0 <= f_min < f_max <= sample_rate/2 Hz, got f_min={f_min}, f_max={f_max}")
    fft_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges_hz = _mel_to_hz(np.linspace(_hz_to_mel(f_min, mel_scale), _hz_to_mel(f_max, mel_scale), n_mels + 2), mel_scale)
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (fft_hz[None, :] - lower) / (centre - lower)
    falling = (upper - fft_hz[None, :]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (upper - lower))
    return torch.from_numpy(weights.astype(np.float32))


def _dct_matrix(n_out: int, n_in: int) -> Tensor:
    """Orthonormal DCT-II matrix ``(n_out, n_in)`` (scipy ``dct(type=2, norm="ortho")`` rows)."""
    n = np.arange(n_in)[None, :] + 0.5
    k = np.arange(n_out)[:, None]
    basis = np.cos(np.pi / n_in * n * k) * math.sqrt(2.0 / n_in)
    basis[0] *= 1.0 / math.sqrt(2.0)
    return torch.from_numpy(basis.astype(np.float32))


class MelSpectrogramEncoder(AudioEncoder):
    """Light, parameter-free CPU front-end: log-mel spectrogram or MFCC, at the mesh frame rate.

    Per sequence (only its real samples, so padding never leaks): power spectrogram with
    ``torch.stft`` (periodic Hann window of ``win_length`` samples, hop ``hop_length``,
    ``center=True`` with zero padding), Slaney-normalised triangular mel filterbank
    (:func:`mel_filterbank`), natural log ``log(max(mel, log_eps))``, optionally the first
    ``mfcc`` coefficients of an orthonormal DCT-II over the log-mel bands. The frame sequence
    (``sample_rate / hop_length`` Hz, 100 Hz by default) is linearly interpolated to
    ``num_frames`` (FaceFormer's interpolation) and, with ``frame_context = k > 0``, each output
    frame is concatenated with its ``k`` neighbours on either side (edges repeat the first/last
    real frame), ordered ``t-k, ..., t, ..., t+k``.

    Args:
        sample_rate: input sample rate in Hz.
        n_mels: mel bands.
        n_fft: FFT size in samples (512 = 32 ms at 16 kHz).
        hop_length: hop in samples (160 = 10 ms at 16 kHz, i.e. 100 frames/s).
        win_length: window length in samples (400 = 25 ms at 16 kHz), ``<= n_fft``.
        f_min: lowest mel edge in Hz.
        f_max: highest mel edge in Hz (``None``: ``sample_rate / 2``).
        log: take the log of the mel energies (required for MFCC).
        mfcc: number of cepstral coefficients to keep (``None``: log-mel, no DCT).
        frame_context: ``k`` neighbouring frames stacked on each side.
        mel_scale: ``"slaney"`` (librosa default) or ``"htk"``.
        log_eps: floor on mel energies before the log.
        normalize: per-utterance normalisation of each feature over the utterance's real frames:
            ``"none"``, ``"mean"`` (cepstral mean normalisation, CMN) or ``"meanvar"`` (CMVN). It
            removes a speaker's and a channel's constant spectral colouring, which helps a small
            model generalise to unseen voices (a standard speech front-end step, not from the
            talking-face papers).

    ``output_dim = (mfcc or n_mels) * (2 * frame_context + 1)``. Forward: see :class:`AudioEncoder`.

    Raises:
        ConfigError: inconsistent settings (``win_length > n_fft``, ``mfcc > n_mels``, MFCC
            without ``log``, negative ``frame_context``, bad frequency range).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mels: int = 80,
        n_fft: int = 512,
        hop_length: int = 160,
        win_length: int = 400,
        f_min: float = 0.0,
        f_max: float | None = None,
        log: bool = True,
        mfcc: int | None = None,
        frame_context: int = 0,
        mel_scale: Literal["slaney", "htk"] = "slaney",
        log_eps: float = 1e-6,
        normalize: Literal["none", "mean", "meanvar"] = "none",
    ) -> None:
        super().__init__()
        if normalize not in ("none", "mean", "meanvar"):
            raise ConfigError(f"normalize must be 'none', 'mean' or 'meanvar', got {normalize!r}")
        self.normalize = normalize
        if win_length > n_fft:
            raise ConfigError(f"win_length ({win_length}) must be <= n_fft ({n_fft})")
        if hop_length < 1 or n_mels < 1:
            raise ConfigError(f"hop_length and n_mels must be >= 1, got {hop_length}, {n_mels}")
        if mfcc is not None and not log:
            raise ConfigError("MFCC needs log=True (it is the DCT of the log-mel spectrogram)")
        if mfcc is not None and not 1 <= mfcc <= n_mels:
            raise ConfigError(f"mfcc must be in [1, n_mels={n_mels}], got {mfcc}")
        if frame_context < 0:
            raise ConfigError(f"frame_context must be >= 0, got {frame_context}")
        self.sample_rate = sample_rate
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.log, self.mfcc, self.frame_context, self.log_eps = log, mfcc, frame_context, log_eps
        self.output_dim = (mfcc or n_mels) * (2 * frame_context + 1)
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        self.register_buffer(
            "filterbank", mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, mel_scale), persistent=False
        )
        dct = _dct_matrix(mfcc, n_mels) if mfcc is not None else torch.empty(0)
        self.register_buffer("dct", dct, persistent=False)

    def _features(self, wave: Tensor) -> Tensor:
        """``(S,)`` real samples → ``(F, n_mels or mfcc)`` frames at ``sample_rate / hop_length`` Hz."""
        spec = torch.stft(
            wave, self.n_fft, self.hop_length, self.win_length, self.window,
            center=True, pad_mode="constant", return_complex=True,
        ).abs().pow(2)  # fmt: skip
        feats = self.filterbank @ spec  # (n_mels, F)
        if self.log:
            feats = feats.clamp(min=self.log_eps).log()
        if self.mfcc is not None:
            feats = self.dct @ feats
        if self.normalize != "none":  # per-utterance cepstral mean (and variance) normalisation
            feats = feats - feats.mean(dim=1, keepdim=True)
            if self.normalize == "meanvar":
                feats = feats / (feats.std(dim=1, keepdim=True, unbiased=False) + 1e-5)
        return feats.transpose(0, 1)

    def forward(self, audio: Tensor, audio_mask: Tensor | None, num_frames: int | Tensor) -> Tensor:
        """Log-mel/MFCC features ``(B, T, output_dim)`` at the mesh frame rate; see :class:`AudioEncoder`."""
        lengths = _sample_lengths(audio, audio_mask)
        targets = _frame_counts(num_frames, audio.shape[0], audio.device)
        if bool((lengths < 1).any()):
            raise DataError("MelSpectrogramEncoder: a sequence has no real audio samples")
        with torch.autocast(device_type=audio.device.type, enabled=False):
            per_seq = [self._features(audio[b, : int(lengths[b])].float()) for b in range(audio.shape[0])]
        frame_lengths = torch.tensor([f.shape[0] for f in per_seq], device=audio.device)
        stacked = nn.utils.rnn.pad_sequence(per_seq, batch_first=True)
        feats = interpolate_to_frames(stacked, frame_lengths, targets)
        if self.frame_context == 0:
            return feats
        return self._stack_context(feats, targets)

    def _stack_context(self, feats: Tensor, targets: Tensor) -> Tensor:
        """Concatenate frames ``t-k..t+k`` (clamped to each sequence's real frames) on channels."""
        batch, total, _ = feats.shape
        k = self.frame_context
        time = torch.arange(total, device=feats.device)
        offsets = torch.arange(-k, k + 1, device=feats.device)
        index = (time[None, :, None] + offsets[None, None, :]).clamp(min=0)  # (1, T, 2k+1)
        index = torch.minimum(index, (targets - 1).clamp(min=0)[:, None, None])  # (B, T, 2k+1)
        gathered = feats[torch.arange(batch, device=feats.device)[:, None, None], index]  # (B, T, 2k+1, D)
        out = gathered.reshape(batch, total, -1)
        return out * _mask_from_lengths(targets, total)[..., None].to(out.dtype)
