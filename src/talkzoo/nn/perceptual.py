"""VGG-19 feature extractor and the multi-scale (pyramid) perceptual loss.

One place for the perceptual loss the 2D plugins share (DaGAN, FLOAT, AMIE). The network is
torchvision's VGG-19 *architecture*; no weights are ever downloaded. Weights come from a local
state-dict file the recipe names (for instance the ImageNet ``vgg19-dcbb9e9d.pth`` that torchvision
publishes, copied onto this machine by the user). Without a file the extractor uses a stated
substitute: the same architecture with a fixed, seeded random initialisation. Random convolutional
features still compare local structure at several receptive-field sizes, but they are **not** a
perceptual (ImageNet-trained) metric; results trained with the substitute must say so.

Sources:
- pyramid perceptual loss: DaGAN (Hong et al., CVPR 2022) Eq. 11 and FOMM (Siarohin et al.,
  NeurIPS 2019) Sec. 3.4; the layer choice (relu1_1 ... relu5_1) and the four scales
  (1, 1/2, 1/4, 1/8) follow the public FOMM/DaGAN configurations (read for facts, not copied);
- VGG-19: Simonyan & Zisserman, ICLR 2015; ImageNet normalisation as torchvision documents it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from talkzoo.errors import ConfigError, DataError, MissingWeightsError

__all__ = ["VGG19_LAYERS", "VGG19Features", "PerceptualPyramidLoss", "pyramid_downsample"]

#: Index of each named ReLU in ``torchvision.models.vgg19().features``.
VGG19_LAYERS: dict[str, int] = {
    "relu1_1": 1, "relu1_2": 3,
    "relu2_1": 6, "relu2_2": 8,
    "relu3_1": 11, "relu3_2": 13, "relu3_3": 15, "relu3_4": 17,
    "relu4_1": 20, "relu4_2": 22, "relu4_3": 24, "relu4_4": 26,
    "relu5_1": 29, "relu5_2": 31, "relu5_3": 33, "relu5_4": 35,
}

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_DEFAULT_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def _vgg19_features(initialise: bool) -> nn.Sequential:
    """torchvision's VGG-19 ``features`` stack (configuration "E"), without the 100M-parameter
    classifier that ``torchvision.models.vgg19()`` would also build. ``initialise`` applies
    torchvision's VGG initialisation (Kaiming-normal fan-out, zero bias) from the current RNG."""
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["E"], batch_norm=False)
    if initialise:
        for m in features.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
    return features


class VGG19Features(nn.Module):
    """Frozen VGG-19 that returns the activations of named ReLU layers.

    Args:
        weights: path of a local state-dict file (``torch.save`` of ``vgg19().state_dict()`` — keys
            ``features.N.weight`` — or of ``vgg19().features.state_dict()`` — keys ``N.weight``);
            loaded with ``torch.load(weights_only=True)``; classifier keys are ignored. ``None``
            selects the substitute: the VGG-19 architecture with torchvision's initialisation
            drawn from a fixed seed (``seed``). The substitute is deterministic but **not
            perceptual**; :attr:`pretrained` tells which one is in use.
        layers: names from :data:`VGG19_LAYERS`, in network order (default relu1_1, relu2_1,
            relu3_1, relu4_1, relu5_1, the FOMM/DaGAN choice). The network is cut after the last.
        seed: the seed of the substitute's initialisation (ignored when ``weights`` is given).

    Forward:
        x: ``(B, 3, H, W)`` float RGB in ``[0, 1]``, any H, W >= 1.
        Returns a list of up to ``len(layers)`` tensors ``(B, C_l, H / 2^s, W / 2^s)`` (C = 64, 128,
        256, 512, 512 for the default layers). An input too small for a layer's pooling stages
        (e.g. 8 px cannot reach relu5_1, which needs 16 px) gets a shorter list: the deeper layers
        are omitted, so small pyramid levels at reduced (demo) sizes still work. Gradients flow to ``x``; the parameters are frozen
        (``requires_grad=False``) and the module always runs in eval mode.

    Raises:
        MissingWeightsError: ``weights`` names a file that does not exist (one line naming it).
        DataError: the file is not a VGG-19 state dict (missing or wrongly shaped tensors).
        ConfigError: an unknown layer name, or layers out of network order.
    """

    def __init__(
        self,
        weights: str | os.PathLike | None,
        layers: Sequence[str] = _DEFAULT_LAYERS,
        seed: int = 0,
    ) -> None:
        super().__init__()
        layers = tuple(layers)
        unknown = [name for name in layers if name not in VGG19_LAYERS]
        if unknown or not layers:
            raise ConfigError(f"VGG19Features layers: unknown {unknown or 'empty list'}; expected names from {sorted(VGG19_LAYERS)}")
        idx = [VGG19_LAYERS[name] for name in layers]
        if idx != sorted(idx) or len(set(idx)) != len(idx):
            raise ConfigError(f"VGG19Features layers must be distinct and in network order, got {list(layers)}")
        self.layers = layers
        self._indices = idx

        if weights is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                features = _vgg19_features(initialise=True)
            self.pretrained = False
            self.source = f"substitute: VGG-19 architecture, random init (seed {seed}), not perceptual"
        else:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise MissingWeightsError(
                    f"VGG-19 perceptual network: weights file {str(path)!r} not found "
                    "(copy torchvision's ImageNet vgg19 state dict there, or set the weights to null for the random substitute)"
                )
            try:
                state = torch.load(str(path), map_location="cpu", weights_only=True)
            except Exception as exc:  # torch raises several types for a non-checkpoint file
                raise DataError(f"VGG-19 perceptual network: {str(path)!r} is not a torch state dict ({exc.__class__.__name__}: {exc})") from exc
            if not isinstance(state, dict):
                raise DataError(f"VGG-19 perceptual network: {str(path)!r} holds a {type(state).__name__}, expected a state dict")
            features = _vgg19_features(initialise=False)
            feats = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
            if not feats:
                feats = {k: v for k, v in state.items() if not k.startswith("classifier.")}
            expected = features.state_dict()
            bad = [k for k, v in expected.items() if k not in feats or tuple(feats[k].shape) != tuple(v.shape)]
            if bad:
                raise DataError(f"VGG-19 perceptual network: {str(path)!r} is not a VGG-19 state dict (missing or mis-shaped: {bad[:3]})")
            features.load_state_dict({k: feats[k] for k in expected})
            self.pretrained = True
            self.source = f"VGG-19 weights from {str(path)!r}"

        self.features = features[: idx[-1] + 1]
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:
        """Always stays in eval mode (the network is a fixed feature extractor)."""
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise DataError(f"VGG19Features expects (B, 3, H, W) RGB in [0, 1], got shape {tuple(x.shape)}")
        h = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out: list[Tensor] = []
        want = iter(self._indices)
        nxt = next(want)
        for i, layer in enumerate(self.features):
            if isinstance(layer, nn.MaxPool2d) and min(h.shape[-2:]) < 2:
                break  # the input is too small to reach the deeper layers
            h = layer(h)
            if i == nxt:
                out.append(h)
                nxt = next(want, -1)
        return out


def pyramid_downsample(x: Tensor, scale: float) -> Tensor:
    """Anti-aliased downsampling of ``(B, C, H, W)`` by ``scale`` in (0, 1] (identity at 1).

    Uses bilinear interpolation with torch's ``antialias=True`` (a low-pass before subsampling), as
    the FOMM/DaGAN pyramid blurs before subsampling. Output ``(B, C, floor(H*scale), floor(W*scale))``.
    """
    if scale == 1:
        return x
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False, antialias=True)


class PerceptualPyramidLoss(nn.Module):
    """Multi-scale perceptual loss: L1 between VGG features of two images at several scales.

    ``L_P = sum_s sum_l w_l * mean|phi_l(G_s) - phi_l(R_s)|``, where ``G_s``/``R_s`` are the generated
    and real images downsampled by scale ``s`` (DaGAN Eq. 11; FOMM Sec. 3.4). The mean runs over
    batch, channels and positions of each layer, so the value is per-element (unitless feature
    L1), summed over layers and scales. DaGAN's λ_P = 10 is applied by the caller.

    Args:
        features: a :class:`VGG19Features` (or any module mapping ``(B, 3, H, W)`` in [0, 1] to a
            list of feature maps).
        scales: pyramid scales in (0, 1] (default 1, 1/2, 1/4, 1/8: 256², 128², 64², 32² at 256 px).
        layer_weights: one weight per feature layer (default 1 each). At a scale too small for
            the deeper layers (see :class:`VGG19Features`) only the reachable layers count.

    Forward:
        fake, real: ``(B, 3, H, W)`` float in ``[0, 1]``, same shape. Returns a scalar tensor.
        The real image's features are computed without gradient.

    Raises:
        ConfigError: empty scales, a scale outside (0, 1], or a layer-weight count that differs
            from the number of feature layers (checked on first use).
        DataError: ``fake`` and ``real`` differ in shape.
    """

    def __init__(
        self,
        features: nn.Module,
        scales: Sequence[float] = (1.0, 0.5, 0.25, 0.125),
        layer_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        scales = tuple(float(s) for s in scales)
        if not scales or any(not 0 < s <= 1 for s in scales):
            raise ConfigError(f"PerceptualPyramidLoss scales must be in (0, 1], got {list(scales)}")
        self.features = features
        self.scales = scales
        self.layer_weights = None if layer_weights is None else tuple(float(w) for w in layer_weights)

    def forward(self, fake: Tensor, real: Tensor) -> Tensor:
        if fake.shape != real.shape:
            raise DataError(f"PerceptualPyramidLoss: fake {tuple(fake.shape)} and real {tuple(real.shape)} differ in shape")
        total = fake.new_zeros(())
        for s in self.scales:
            f_feats = self.features(pyramid_downsample(fake, s))
            with torch.no_grad():
                r_feats = self.features(pyramid_downsample(real, s))
            n_layers = len(getattr(self.features, "layers", f_feats))
            weights = self.layer_weights or (1.0,) * n_layers
            if len(weights) != n_layers:
                raise ConfigError(f"PerceptualPyramidLoss: {len(weights)} layer weights for {n_layers} feature layers")
            for w, a, b in zip(weights, f_feats, r_feats):
                total = total + w * (a - b.detach()).abs().mean()
        return total
