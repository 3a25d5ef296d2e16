"""Frame, identity, landmark and sharpness metrics for the 2D families (talking video, reenactment).

Every metric is a :class:`torchmetrics.Metric` with ``sum``-reduced float64/int64 states
(``full_state_update=False``), so values are exact across ``update`` calls, padding and DDP
processes. Inputs follow :class:`talkzoo.data.batch.VideoBatch`:

* videos ``(B, T, 3, H, W)`` float32 RGB in [0, 1] with a ``(B, T)`` bool ``mask`` (``True`` on
  real frames; ``(T, 3, H, W)`` is one clip); image metrics also take ``(N, 3, H, W)``;
* landmarks ``(B, T, K, 2)`` float32 (x, y) pixels, iBUG-68 order for LMD (mouth = 48..67).

Frame metrics pool over *all real frames of all clips* (frame-weighted mean), as ATVGnet's
``evaluation_matrix.py`` and FOMM's ``pose-evaluation`` do.

**What a metric reads.** Every 2D metric declares, in its class attribute ``reads``, the inputs
its ``update`` takes, in order, from a fixed vocabulary (:data:`READS`): ``generated`` and
``real`` frames, the ``source`` portrait, ``audio`` / ``audio_mask``, ``generated_landmarks`` /
``real_landmarks`` (detected by the metric's own ``landmarker``), the dataset's stored
``landmarks`` and the frame ``mask``. The family tasks fill one :class:`VideoMetricInputs` per
batch and :func:`update_video_metrics` updates every metric in one loop, with no type or name
dispatch; a plugin or a third party adds a metric (any ``Metric`` with ``reads``) without touching
core code. :func:`video_metrics` is the one builder of a family's collection (tasks, plugins,
leaderboard). Each metric's ``log_name`` says which landmarker or identity network produced it
(``LMD@dlib68``, ``LMD@facemesh68``, ``CSIM@dlib-resnet``), so no two protocols share a column.

Metrics here: :class:`FramePSNR`, :class:`FrameSSIM` (torchmetrics), :class:`LPIPS` (``lpips``
package), :class:`CSIM` (identity cosine), :class:`LandmarkDistance` (LMD),
:class:`AverageKeypointDistance` (AKD), :class:`AverageEuclideanDistance` (AED), :class:`CPBD`
(no-reference sharpness), and :func:`cpbd_score` for one grayscale image. FID/FVD are in
:mod:`talkzoo.metrics.frechet`, LSE-C/LSE-D in :mod:`talkzoo.metrics.syncnet`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.functional.image import peak_signal_noise_ratio
from torchmetrics.image import StructuralSimilarityIndexMeasure

from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo.metrics._frames import ExternalNet, as_frame_mask, as_images, as_video, load_network, resize_to, scale_range

__all__ = [
    "CPBD",
    "CSIM",
    "LPIPS",
    "AverageEuclideanDistance",
    "AverageKeypointDistance",
    "FrameL1",
    "FramePSNR",
    "FrameSSIM",
    "LandmarkDistance",
    "PyIQA",
    "READS",
    "VideoMetricInputs",
    "cpbd_score",
    "update_video_metrics",
    "video_metrics",
]

#: the inputs a 2D metric may declare in its ``reads`` (see the module docstring):
#: ``generated``/``real`` ``(B, T, 3, H, W)`` float [0, 1]; ``source`` ``(B, 3, H, W)``; ``mask``
#: ``(B, T)`` bool; ``audio`` ``(B, S)`` float at the data's rate with ``audio_mask`` ``(B, S)``;
#: ``generated_landmarks``/``real_landmarks`` ``(B, T, 68, 2)`` float32 pixels from the metric's
#: ``landmarker`` (NaN where no face); ``landmarks`` the dataset's stored ``(B, T, K, 2)``.
READS = ("generated", "real", "source", "mask", "audio", "audio_mask", "generated_landmarks", "real_landmarks", "landmarks")

from talkzoo.landmarks.ibug68 import MOUTH  # noqa: E402 - iBUG-68 outer + inner lip points 48..67
_DISTANCES = ("l2", "mean_abs", "sum_sq")


def to_uint8_images(frames: Tensor) -> np.ndarray:
    """``(N, 3, H, W)`` float [0, 1] RGB tensor → ``(N, H, W, 3)`` uint8 numpy (the landmarker /
    identity-embedder input, :mod:`talkzoo.landmarks.base`); values clamped and rounded."""
    from einops import rearrange

    return rearrange(frames.detach().clamp(0, 1).mul(255).round().to(torch.uint8), "n c h w -> n h w c").cpu().numpy()


def _frames_of(x: Tensor, mask: Tensor | None, name: str) -> tuple[Tensor, Tensor | None]:
    """Video + mask -> real frames ``(N, 3, H, W)``; images pass through. Returns the frames and the (B, T) mask used."""
    if x.ndim == 4 and mask is None:
        return as_images(x, name), None
    x = as_video(x, name)
    m = as_frame_mask(mask, x.shape[0], x.shape[1], x.device)
    return x[m], m


def _pair_frames(preds: Tensor, target: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    p, m = _frames_of(preds, mask, "preds")
    t, _ = _frames_of(target, m if m is not None else mask, "target")
    if p.shape != t.shape:
        raise DataError(f"preds and target frames differ in shape: {tuple(p.shape)} vs {tuple(t.shape)}")
    return p, t


def _distance(a: Tensor, b: Tensor, kind: str) -> Tensor:
    """Per-row distance of ``(N, ...)`` arrays over all trailing elements: see :class:`AverageKeypointDistance`."""
    d = (a - b).flatten(1) if a.ndim > 1 else (a - b).unsqueeze(1)
    if kind == "mean_abs":
        return d.abs().mean(1)
    if kind == "sum_sq":
        return d.square().sum(1)
    raise ConfigError(f"unknown distance {kind!r}; expected 'mean_abs', 'sum_sq' or 'l2'")


class _MeanMetric(Metric):
    """A frame-weighted mean: ``total`` (float64 sum) / ``count`` (int64), both ``sum``-reduced."""

    full_state_update = False
    is_differentiable = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def _add(self, values: Tensor) -> None:
        v = values.detach().to(device=self.total.device, dtype=torch.float64).reshape(-1)
        self.total += v.sum()
        self.count += v.numel()

    def compute(self) -> Tensor:
        """Mean over all accumulated frames (float32; NaN before any update)."""
        if int(self.count) == 0:
            return torch.tensor(float("nan"))
        return (self.total / self.count).float()


#: Frames per internal step of the per-frame metrics, so their memory does not grow with clip length.
CHUNK_FRAMES = 16


class FramePSNR(_MeanMetric):
    """PSNR in dB averaged over real frames (per-frame PSNR, then the mean).

    ``update(preds, target, mask)``: ``(B, T, 3, H, W)`` [0, 1] videos with a ``(B, T)`` mask, or
    ``(N, 3, H, W)`` images. Per frame ``10 log10(data_range^2 / MSE)`` over all its pixels and
    channels (torchmetrics ``peak_signal_noise_ratio``, ``dim=(1, 2, 3)``); a frame identical to
    its target gives +inf, so the mean is +inf.

    Unlike ``torchmetrics.image.PeakSignalNoiseRatio`` with its defaults (one PSNR of the MSE
    pooled over the whole set), this is the per-frame average that video papers report.

    Args:
        data_range: value range of the inputs (1.0 for [0, 1]).

    Raises:
        DataError: bad or mismatched shapes, a mask that is not ``(B, T)``.
    """

    higher_is_better = True
    reads = ("generated", "real", "mask")
    log_name = "PSNR"

    def __init__(self, data_range: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_range = float(data_range)

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Add the PSNR of every real frame."""
        p, t = _pair_frames(preds, target, mask)
        for i in range(0, p.shape[0], CHUNK_FRAMES):  # chunks: memory bounded by CHUNK_FRAMES, not the clip
            self._add(
                peak_signal_noise_ratio(
                    p[i : i + CHUNK_FRAMES].double(), t[i : i + CHUNK_FRAMES].double(),
                    data_range=self.data_range, reduction="none", dim=(1, 2, 3),
                )
            )


class FrameL1(_MeanMetric):
    """Mean absolute pixel error of [0, 1] frames, averaged over real frames (the reenactment "L1").

    ``update(preds, target, mask)``: ``(B, T, 3, H, W)`` [0, 1] videos with a ``(B, T)`` mask, or
    ``(N, 3, H, W)`` images. Per frame the mean of ``|pred - target|`` over pixels and channels,
    then the mean over frames (FOMM, Siarohin et al. NeurIPS 2019, Table 1 "L1", and DaGAN Table 1,
    which report it on [0, 1] images; lower is better).

    Raises:
        DataError: bad or mismatched shapes, a mask that is not ``(B, T)``.
    """

    higher_is_better = False
    reads = ("generated", "real", "mask")
    log_name = "L1"

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Add the L1 of every real frame."""
        p, t = _pair_frames(preds, target, mask)
        for i in range(0, p.shape[0], CHUNK_FRAMES):
            self._add((p[i : i + CHUNK_FRAMES].double() - t[i : i + CHUNK_FRAMES].double()).abs().mean(dim=(1, 2, 3)))


class FrameSSIM(StructuralSimilarityIndexMeasure):
    """SSIM averaged over real frames: torchmetrics' SSIM (Gaussian 11 x 11, sigma 1.5, K1 0.01, K2 0.03).

    ``update(preds, target, mask)`` takes ``(B, T, 3, H, W)`` [0, 1] videos with a ``(B, T)`` mask
    (or ``(N, 3, H, W)`` images); ``compute()`` is the mean per-frame SSIM (channels averaged).
    All constructor arguments are torchmetrics' (``data_range`` defaults to 1.0 here). Note that
    ATVGnet's MATLAB-style ``ssim_ff`` (grayscale, "valid" borders) and skimage give other values.

    Raises:
        DataError: bad or mismatched shapes.
    """

    reads = ("generated", "real", "mask")
    log_name = "SSIM"

    def __init__(self, data_range: float = 1.0, **kwargs: Any) -> None:
        super().__init__(data_range=data_range, **kwargs)

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:  # type: ignore[override]
        """Add the SSIM of every real frame."""
        p, t = _pair_frames(preds, target, mask)
        # Chunks: torchmetrics' SSIM keeps per-call Gaussian-filtered copies of the inputs (about
        # 50x the frames' size: 10 GB for 200 frames at 256 px); its states are sums, so chunked
        # updates give the same mean.
        for i in range(0, p.shape[0], CHUNK_FRAMES):
            super().update(p[i : i + CHUNK_FRAMES].float(), t[i : i + CHUNK_FRAMES].float())


_TV_BACKBONES = {
    "alex": "alexnet-owt-7be5be79.pth",
    "vgg": "vgg16-397923af.pth",
    "squeeze": "squeezenet1_1-b8a52dc0.pth",
}


class LPIPS(_MeanMetric):
    """LPIPS (Zhang et al. 2018, "The unreasonable effectiveness of deep features", Eq. 1), mean over real frames.

    Uses the ``lpips`` package (``pip install lpips``; the ``video`` extra). Its linear-layer
    weights (``lpips/weights/v0.1/<net>.pth``) ship inside the wheel; the ImageNet backbone
    (torchvision's ``alexnet-owt-7be5be79.pth``, ``vgg16-397923af.pth`` or
    ``squeezenet1_1-b8a52dc0.pth``) is not downloaded: it is read from ``backbone_weights`` or,
    when that is None, from the torch hub cache (``$TORCH_HOME/hub/checkpoints/``), where
    torchvision puts it on a machine with network access.

    ``update(preds, target, mask)``: ``(B, T, 3, H, W)`` [0, 1] videos with a mask or
    ``(N, 3, H, W)`` images (mapped to [-1, 1] for the network).

    Args:
        net: ``"alex"`` (default, as FLOAT Table 4), ``"vgg"`` or ``"squeeze"``.
        backbone_weights: path of the torchvision backbone state dict (its ``features.*`` tensors).
        random_backbone: use a randomly initialised backbone (tests only: not a perceptual metric).
        batch_size: frames per network call.

    Raises:
        MissingWeightsError: the backbone file is absent (the message names it and where to put it).
        ConfigError: unknown ``net``, or ``lpips`` not installed.
        DataError: bad shapes, or a backbone file without the expected tensors.
    """

    higher_is_better = False
    reads = ("generated", "real", "mask")
    log_name = "LPIPS"

    def __init__(
        self,
        net: str = "alex",
        backbone_weights: str | os.PathLike | None = None,
        *,
        random_backbone: bool = False,
        batch_size: int = 32,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if net not in _TV_BACKBONES:
            raise ConfigError(f"LPIPS: net must be one of {sorted(_TV_BACKBONES)}, got {net!r}")
        try:
            import lpips as lpips_pkg
        except ImportError as exc:
            raise ConfigError("LPIPS needs the lpips package: pip install 'talkzoo[video]' (or pip install lpips)") from exc
        path = None
        if not random_backbone:
            path = Path(backbone_weights).expanduser() if backbone_weights is not None else (
                Path(torch.hub.get_dir()) / "checkpoints" / _TV_BACKBONES[net]
            )
            if not path.is_file():
                raise MissingWeightsError(
                    f"LPIPS({net}): backbone weights {str(path)!r} not found; put torchvision's "
                    f"{_TV_BACKBONES[net]} there or pass backbone_weights="
                )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = lpips_pkg.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
        if path is not None:
            self._load_backbone(model, path, net)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self.net_name = net
        self.batch_size = int(batch_size)
        self._net = ExternalNet(model)

    @staticmethod
    def _load_backbone(model: nn.Module, path: Path, net: str) -> None:
        """Copy torchvision ``features.<i>.*`` tensors into lpips' ``slice<k>.<i>.*`` modules."""
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise DataError(f"LPIPS({net}): {str(path)!r} is not a readable state dict: {exc}") from exc
        target = model.net.state_dict()
        mapped = {}
        for key in target:
            src = "features." + key.split(".", 1)[1]
            if src not in state:
                raise DataError(f"LPIPS({net}): {str(path)!r} lacks {src!r}; expected torchvision's {_TV_BACKBONES[net]}")
            mapped[key] = state[src]
        model.net.load_state_dict(mapped)

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Add the LPIPS distance of every real frame."""
        p, t = _pair_frames(preds, target, mask)
        for i in range(0, p.shape[0], self.batch_size):
            a, b = p[i : i + self.batch_size].float(), t[i : i + self.batch_size].float()
            net = self._net.to(a.device)
            with torch.no_grad():
                self._add(net(a * 2 - 1, b * 2 - 1).reshape(-1))


class _EmbeddingMetric(_MeanMetric):
    """Shared set-up of identity-embedding metrics: network, resize, value range, channel order."""

    def __init__(
        self,
        embedder: nn.Module | str | os.PathLike,
        what: str,
        hint: str,
        input_size: tuple[int, int] | None,
        input_range: str,
        channel_order: str,
        batch_size: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if input_range not in ("unit", "symmetric", "byte"):
            raise ConfigError(f"{what}: input_range must be unit/symmetric/byte, got {input_range!r}")
        if channel_order not in ("rgb", "bgr"):
            raise ConfigError(f"{what}: channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
        from talkzoo.landmarks.base import IdentityEmbedder

        self._identity = None
        self._net = None
        if isinstance(embedder, IdentityEmbedder) and not isinstance(embedder, nn.Module):
            self._identity = embedder  # frames -> (N, D) numpy, NaN rows where no face; does its own alignment
            self.network_name = str(embedder.name)
        else:
            self._net = ExternalNet(load_network(embedder, what, hint))
            self.network_name = (Path(embedder).stem if isinstance(embedder, (str, os.PathLike))
                                 else type(embedder).__name__.lower())
        self.input_size = tuple(input_size) if input_size is not None else None
        self.input_range = input_range
        self.channel_order = channel_order
        self.batch_size = int(batch_size)

    @property
    def log_name(self) -> str:
        """``<metric>@<identity network>``, e.g. ``CSIM@dlib-resnet``, ``CSIM@arcface_r100`` (file stem)."""
        return f"{self.short_name}@{self.network_name}"

    def embed(self, frames: Tensor) -> Tensor:
        """``(N, 3, H, W)`` [0, 1] RGB -> ``(N, D)`` float32 embeddings (NaN rows: no face found)."""
        if self._identity is not None:
            images = to_uint8_images(frames)
            if images.shape[0] == 0:
                return frames.new_zeros(0, int(getattr(self._identity, "dim", 1)))
            return torch.from_numpy(np.asarray(self._identity(images), dtype=np.float32)).to(frames.device)
        out = []
        for i in range(0, frames.shape[0], self.batch_size):
            x = resize_to(frames[i : i + self.batch_size].float(), self.input_size)
            if self.channel_order == "bgr":
                x = x.flip(1)
            e = self._net(scale_range(x, self.input_range))
            out.append(e.reshape(e.shape[0], -1).float())
        return torch.cat(out) if out else frames.new_zeros(0, 1)


class CSIM(_EmbeddingMetric):
    """Identity cosine similarity between generated frames and a reference (FLOAT, SadTalker, Hallo).

    Per real frame, ``cos(e(generated), e(reference))`` with ``e`` an identity embedding network
    (ArcFace [Deng et al. 2019] from insightface is the usual one); mean over all real frames.
    The reference is the source portrait ``(B, 3, H, W)`` (one per clip) or the ground-truth
    frames ``(B, T, 3, H, W)``.

    Args:
        embedder: module mapping ``(N, 3, h, w)`` to ``(N, D)``, or a TorchScript file of one
            (e.g. an ArcFace-R100 export).
        input_size: ``(h, w)`` frames are resized to (112 x 112 for ArcFace; faces must already
            be aligned crops).
        input_range: ``"symmetric"`` ([-1, 1], ArcFace's (x - 127.5) / 127.5), ``"unit"`` or ``"byte"``.
        channel_order: ``"rgb"`` or ``"bgr"`` at the network input.
        batch_size: frames per network call.

    Raises:
        MissingWeightsError: ``embedder`` is a path that does not exist.
        DataError: bad shapes.
    """

    higher_is_better = True
    reads = ("generated", "source", "mask")
    short_name = "CSIM"

    def __init__(
        self,
        embedder: nn.Module | str | os.PathLike,
        *,
        input_size: tuple[int, int] | None = (112, 112),
        input_range: str = "symmetric",
        channel_order: str = "rgb",
        batch_size: int = 64,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            embedder, "CSIM: identity embedder", "Export an ArcFace model with torch.jit.save and pass its path.",
            input_size, input_range, channel_order, batch_size, **kwargs,
        )

    def update(self, preds: Tensor, reference: Tensor, mask: Tensor | None = None) -> None:
        """Add ``cos(e(preds_t), e(reference))`` for every real frame.

        Args:
            preds: ``(B, T, 3, H, W)`` generated frames in [0, 1].
            reference: ``(B, 3, H, W)`` source portraits or ``(B, T, 3, H, W)`` ground-truth frames.
            mask: ``(B, T)`` bool real-frame mask.
        """
        preds = as_video(preds, "preds")
        m = as_frame_mask(mask, preds.shape[0], preds.shape[1], preds.device)
        e_gen = self.embed(preds[m])
        if reference.ndim == 4:
            ref = as_images(reference, "reference")
            if ref.shape[0] != preds.shape[0]:
                raise DataError(f"reference: expected {preds.shape[0]} source images, got {ref.shape[0]}")
            e_ref = self.embed(ref)[torch.nonzero(m, as_tuple=True)[0]]
        else:
            ref = as_video(reference, "reference")
            if ref.shape[:2] != preds.shape[:2]:
                raise DataError(f"reference: expected (B, T) = {tuple(preds.shape[:2])}, got {tuple(ref.shape[:2])}")
            e_ref = self.embed(ref[m])
        ok = torch.isfinite(e_gen).all(1) & torch.isfinite(e_ref).all(1)
        if ok.any():
            self._add(torch.nn.functional.cosine_similarity(e_gen[ok], e_ref[ok], dim=1, eps=1e-8))


class AverageEuclideanDistance(_EmbeddingMetric):
    """AED: mean distance between identity embeddings of generated and driving/GT frames (FOMM protocol).

    FOMM (Siarohin et al. 2019, §4.1) and DaGAN use ``AliaksandrSiarohin/pose-evaluation``:
    OpenFace embeddings of 96 x 96 BGR frames in [0, 1] from 256 x 256 frames, a per-frame
    difference, then the mean over frames. ``distance``: ``"l2"`` (Euclidean, the paper's
    "average Euclidean distance", default), ``"sum_sq"`` (squared Euclidean, what one version of
    pose-evaluation ``cmp.py`` computes) or ``"mean_abs"`` (mean absolute difference over the
    embedding, what another version computes). Values of the three are not comparable; log the
    choice.

    Args:
        embedder: module or TorchScript file mapping ``(N, 3, h, w)`` to ``(N, D)`` (OpenFace nn4.small2).
        distance: see above.
        input_size: ``(96, 96)`` for OpenFace.
        input_range: ``"unit"`` for OpenFace.
        channel_order: ``"bgr"`` for OpenFace (pose-evaluation flips RGB to BGR).
        normalize: L2-normalise both embeddings first.
        batch_size: frames per network call.

    Raises:
        MissingWeightsError: ``embedder`` is a path that does not exist.
        ConfigError: unknown ``distance``.
        DataError: bad or mismatched shapes.
    """

    higher_is_better = False
    reads = ("generated", "real", "mask")
    short_name = "AED"

    def __init__(
        self,
        embedder: nn.Module | str | os.PathLike,
        *,
        distance: str = "l2",
        input_size: tuple[int, int] | None = (96, 96),
        input_range: str = "unit",
        channel_order: str = "bgr",
        normalize: bool = False,
        batch_size: int = 64,
        **kwargs: Any,
    ) -> None:
        if distance not in _DISTANCES:
            raise ConfigError(f"AED: distance must be one of {_DISTANCES}, got {distance!r}")
        super().__init__(
            embedder, "AED: identity embedder", "Export the OpenFace (or other identity) network with torch.jit.save.",
            input_size, input_range, channel_order, batch_size, **kwargs,
        )
        self.distance = distance
        self.normalize = bool(normalize)

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Add the embedding distance of every real frame (``preds``, ``target``: ``(B, T, 3, H, W)`` [0, 1])."""
        p, t = _pair_frames(preds, target, mask)
        if not p.shape[0]:
            return
        a, b = self.embed(p), self.embed(t)
        ok = torch.isfinite(a).all(1) & torch.isfinite(b).all(1)
        a, b = a[ok], b[ok]
        if not a.shape[0]:
            return
        if self.normalize:
            a, b = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
        self._add(_point_distance(a.unsqueeze(1), b.unsqueeze(1), self.distance))


def _point_distance(a: Tensor, b: Tensor, kind: str) -> Tensor:
    """``(N, K, C)`` point sets -> ``(N,)``: mean Euclidean over K (``l2``), mean |diff| over K*C, or sum of squares."""
    if kind == "l2":
        return (a - b).norm(dim=-1).mean(-1)
    return _distance(a, b, kind)


class AverageKeypointDistance(_MeanMetric):
    """AKD: mean distance between keypoints of generated and driving/GT frames, pixels (FOMM protocol).

    FOMM (§4.1) detects 68 face landmarks with ``face_alignment`` on 256 x 256 frames of both
    videos and averages their distance over frames, in absolute pixels (pose-evaluation #2).
    Frames where a detection failed (NaN keypoints in either set) are left out and counted in
    ``num_missing`` (pose-evaluation skips frames without a detection).

    ``update(preds, target, mask)`` takes keypoints ``(B, T, K, 2)`` directly, or frames
    ``(B, T, 3, H, W)`` when a ``detector`` was given.

    Args:
        detector: optional callable ``(N, 3, H, W)`` [0, 1] RGB -> ``(N, K, 2)`` pixels (NaN rows
            for frames without a face), e.g. a face_alignment wrapper, for frames passed directly.
        landmarker: the :class:`talkzoo.landmarks.Landmarker` whose points the family tasks feed
            in (``reads``: generated and real landmarks); its ``name`` is in :attr:`log_name`.
        distance: ``"l2"`` (mean over keypoints of the Euclidean distance; default, the paper's
            "average distance"), ``"mean_abs"`` (mean |dx|, |dy| over all coordinates, as
            pose-evaluation ``cmp.py`` computes) or ``"sum_sq"``.

    Raises:
        ConfigError: unknown ``distance``.
        DataError: bad or mismatched shapes; frames given without a detector.
    """

    higher_is_better = False
    reads = ("generated_landmarks", "real_landmarks", "mask")
    short_name = "AKD"

    def __init__(
        self,
        detector: Callable[[Tensor], Tensor] | None = None,
        *,
        distance: str = "l2",
        landmarker: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if distance not in _DISTANCES:
            raise ConfigError(f"AKD: distance must be one of {_DISTANCES}, got {distance!r}")
        self.detector = detector
        self.landmarker = landmarker
        self.distance = distance
        self.add_state("num_missing", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def _keypoints(self, x: Tensor, mask: Tensor | None, name: str) -> tuple[Tensor, Tensor]:
        if x.ndim == 5 and x.shape[2] == 3 and x.shape[-1] != 2:
            if self.detector is None:
                raise DataError(f"AKD: {name} looks like frames {tuple(x.shape)} but no detector was given")
            frames = as_video(x, name)
            m = as_frame_mask(mask, frames.shape[0], frames.shape[1], frames.device)
            with torch.no_grad():
                kp = self.detector(frames[m])
            return kp.float(), m
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if x.ndim != 4 or x.shape[-1] != 2:
            raise DataError(f"AKD: {name} must be keypoints (B, T, K, 2) or frames (B, T, 3, H, W), got {tuple(x.shape)}")
        m = as_frame_mask(mask, x.shape[0], x.shape[1], x.device)
        return x[m].float(), m

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Add the keypoint distance of every real frame with a detection in both."""
        kp_p, _ = self._keypoints(preds, mask, "preds")
        kp_t, _ = self._keypoints(target, mask, "target")
        if kp_p.shape != kp_t.shape:
            raise DataError(f"AKD: keypoints differ in shape: {tuple(kp_p.shape)} vs {tuple(kp_t.shape)}")
        ok = torch.isfinite(kp_p).flatten(1).all(1) & torch.isfinite(kp_t).flatten(1).all(1)
        self.num_missing += int((~ok).sum())
        if ok.any():
            self._add(_point_distance(kp_p[ok], kp_t[ok], self.distance))


def _landmark_log_name(metric: Any) -> str:
    lm = getattr(metric, "landmarker", None)
    return f"{metric.short_name}@{lm.name}" if lm is not None else metric.short_name


AverageKeypointDistance.log_name = property(_landmark_log_name, doc="``AKD@<landmarker name>`` (``AKD`` without one).")


class LandmarkDistance(_MeanMetric):
    """LMD: mean Euclidean distance of the 20 mouth landmarks (iBUG-68 points 48..67), pixels.

    Chen et al. 2018 ("Lip movements generation at a glance", §4) as in ATVGnet's
    ``evaluation_matrix.py``: per frame each mouth shape is centred on its own mean (``center=True``,
    removing head translation), then the mean over the 20 points of the L2 distance; mean over all
    real frames. ``normalize="interocular"`` divides each frame's value by the ground truth's
    outer-eye-corner distance (points 36 and 45), making it resolution-free (a talkzoo option, off
    by default; papers report pixels at their own resolution, so state the resolution with the number).
    Frames with NaN landmarks (failed detection) are left out and counted in ``num_missing``.

    ``update(preds, target, mask)``: ``(B, T, 68, 2)`` float landmarks (or ``(T, 68, 2)``).
    ``landmarker``: the :class:`talkzoo.landmarks.Landmarker` that the family tasks detect both
    sides with (dlib's 68-point predictor in Chen et al.'s protocol); its ``name`` is in
    :attr:`log_name` (``LMD@dlib68``).

    Raises:
        ConfigError: unknown ``normalize``.
        DataError: shapes other than ``(B, T, 68, 2)`` or mismatched.
    """

    higher_is_better = False
    reads = ("generated_landmarks", "real_landmarks", "mask")
    short_name = "LMD"
    log_name = property(_landmark_log_name, doc="``LMD@<landmarker name>`` (``LMD`` without one).")

    def __init__(self, *, center: bool = True, normalize: str | None = None, landmarker: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.landmarker = landmarker
        if normalize not in (None, "interocular"):
            raise ConfigError(f"LMD: normalize must be None or 'interocular', got {normalize!r}")
        self.center = bool(center)
        self.normalize = normalize
        self.add_state("num_missing", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Add the mouth-landmark distance of every real frame."""
        if preds.ndim == 3:
            preds, target = preds.unsqueeze(0), target.unsqueeze(0)
        if preds.ndim != 4 or preds.shape[-2:] != (68, 2) or preds.shape != target.shape:
            raise DataError(
                f"LMD: expected preds and target of shape (B, T, 68, 2), got {tuple(preds.shape)} and {tuple(target.shape)}"
            )
        m = as_frame_mask(mask, preds.shape[0], preds.shape[1], preds.device)
        p, t = preds[m].double(), target[m].double()
        ok = torch.isfinite(p).flatten(1).all(1) & torch.isfinite(t).flatten(1).all(1)
        self.num_missing += int((~ok).sum())
        p, t = p[ok], t[ok]
        pm, tm = p[:, MOUTH], t[:, MOUTH]
        if self.center:
            pm = pm - pm.mean(1, keepdim=True)
            tm = tm - tm.mean(1, keepdim=True)
        d = (pm - tm).norm(dim=-1).mean(-1)
        if self.normalize == "interocular":
            d = d / (t[:, 36] - t[:, 45]).norm(dim=-1).clamp_min(1e-8)
        if d.numel():
            self._add(d)


# ---------------------------------------------------------------------------------------------
# CPBD (Narvekar & Karam 2011)

_CPBD_BLOCK = 64
_CPBD_EDGE_FRACTION = 0.002
_CPBD_BETA = 3.6
_CPBD_MAX_WALK = 100


def _canny(img: np.ndarray, sigma: float = 1.0, low: float = 0.1, high: float = 0.2) -> np.ndarray:
    """Canny edges of a float image: Gaussian(sigma), Sobel, non-maximum suppression, hysteresis.

    Thresholds are absolute gradient magnitudes in the image's units; 0.1 / 0.2 on a [0, 255]
    image are what ``skimage.feature.canny(img)`` uses for float input (ATVGnet's call).
    """
    from scipy import ndimage

    s = ndimage.gaussian_filter(img, sigma, mode="nearest")
    gx = ndimage.sobel(s, axis=1)
    gy = ndimage.sobel(s, axis=0)
    mag = np.hypot(gx, gy)
    # Non-maximum suppression along the gradient direction (4 sectors).
    ang = (np.rad2deg(np.arctan2(gy, gx)) + 180.0) % 180.0
    pad = np.pad(mag, 1, mode="constant")
    h, w = mag.shape
    nb = {
        0: (pad[1:-1, 2:], pad[1:-1, :-2]),
        45: (pad[2:, 2:], pad[:-2, :-2]),
        90: (pad[2:, 1:-1], pad[:-2, 1:-1]),
        135: (pad[2:, :-2], pad[:-2, 2:]),
    }
    sector = (np.round(ang / 45.0).astype(int) % 4) * 45
    keep = np.zeros_like(mag, dtype=bool)
    for deg, (a, b) in nb.items():
        sel = sector == deg
        keep |= sel & (mag >= a) & (mag >= b)
    keep &= mag > 0
    strong = keep & (mag > high)
    weak = keep & (mag > low)
    labels, n = ndimage.label(weak, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return np.zeros((h, w), dtype=bool)
    has_strong = np.zeros(n + 1, dtype=bool)
    has_strong[np.unique(labels[strong])] = True
    has_strong[0] = False
    return has_strong[labels]


def _edge_widths(img: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Marziliano et al. (2002) edge widths along rows at vertical edge pixels (0 where not measured).

    At an edge pixel whose gradient direction, rounded to 45 degrees, is 0 (intensity rising to
    the right) or 180 (falling), the width is the distance in pixels between the local intensity
    extrema on either side along the row: walk right while the intensity keeps rising (falling),
    walk left while it keeps falling (rising); each side counts at least 1 and at most 101.
    A linear ramp between flat levels gives its length (tested).
    """
    gy, gx = np.gradient(img)
    ang = np.rad2deg(np.arctan2(gy, gx))
    q = 45.0 * np.round(ang / 45.0)
    h, w = img.shape
    inner = np.zeros_like(edges, dtype=bool)
    inner[1:-1, 1:-1] = True
    widths = np.zeros(img.shape, dtype=np.float64)
    for sign, sel in ((1.0, q == 0), (-1.0, np.abs(q) == 180)):
        rows, cols = np.nonzero(edges & inner & sel & ((gx != 0) | (gy != 0)))
        if rows.size == 0:
            continue
        total = np.zeros(rows.size)
        for direction in (1, -1):
            # Rising edge (sign +1): to the right intensity keeps increasing, to the left decreasing.
            extent = np.ones(rows.size)
            alive = np.ones(rows.size, dtype=bool)
            for j in range(1, _CPBD_MAX_WALK + 1):
                nxt = cols + direction * (j + 1)
                cur = cols + direction * j
                inside = (nxt >= 0) & (nxt < w)
                alive &= inside
                if not alive.any():
                    break
                idx = np.nonzero(alive)[0]
                step = img[rows[idx], nxt[idx]] - img[rows[idx], cur[idx]]
                cont = sign * direction * step > 0
                alive[idx] = cont
                extent[idx[cont]] += 1
            total += extent
        widths[rows, cols] = total
    return widths


def cpbd_score(gray: np.ndarray | Tensor) -> float:
    """CPBD sharpness of one grayscale image (Narvekar & Karam 2011, IEEE TIP 20(9), Eqs. 4-6).

    Steps: Canny edges decide which 64 x 64 blocks are edge blocks (more than 0.2 % edge pixels);
    widths of vertical edges (Sobel ``[[1,0,-1],[2,0,-2],[1,0,-1]]/8``, squared response > 4 as in
    ATVGnet's ``matlab_sobel_edge``) are measured with :func:`_edge_widths`; in each edge block
    every width w gives ``P_blur = 1 - exp(-(w / w_JNB)^3.6)`` with ``w_JNB = 5`` for block
    contrast (max - min, grey levels) <= 50 and 3 otherwise; CPBD is the fraction of edges with
    ``round(100 P_blur) <= 63`` (``P_JNB = 63 %``; ATVGnet sums buckets 0..62, one fewer).

    Args:
        gray: ``(H, W)`` grayscale in grey levels [0, 255], H and W >= 64.

    Returns:
        CPBD in [0, 1], higher = sharper; 0.0 for an image without edge blocks (e.g. constant),
        as ATVGnet and python-cpbd return.

    Raises:
        DataError: not 2-D, or smaller than one 64 x 64 block.
    """
    from scipy import ndimage

    img = gray.detach().cpu().double().numpy() if isinstance(gray, Tensor) else np.asarray(gray, dtype=np.float64)
    if img.ndim != 2 or min(img.shape) < _CPBD_BLOCK:
        raise DataError(f"CPBD: expected a 2-D grayscale image of at least 64 x 64, got shape {img.shape}")
    canny = _canny(img)
    kernel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float64) / 8.0
    sobel = ndimage.correlate(img, kernel) ** 2 > 4.0
    widths = _edge_widths(img, sobel)
    hist = np.zeros(101)
    b = _CPBD_BLOCK
    for r in range(0, img.shape[0] - b + 1, b):
        for c in range(0, img.shape[1] - b + 1, b):
            if canny[r : r + b, c : c + b].sum() <= b * b * _CPBD_EDGE_FRACTION:
                continue
            w = widths[r : r + b, c : c + b]
            w = w[w != 0]
            if w.size == 0:
                continue
            block = img[r : r + b, c : c + b]
            jnb = 5.0 if int(block.max() - block.min()) <= 50 else 3.0
            p = 1.0 - np.exp(-np.abs(w / jnb) ** _CPBD_BETA)
            hist += np.bincount(np.round(p * 100).astype(int), minlength=101)[:101]
    total = hist.sum()
    if total == 0:
        return 0.0
    return float(hist[:64].sum() / total)


class CPBD(_MeanMetric):
    """CPBD no-reference sharpness (Narvekar & Karam 2011), mean over real frames of the generated video.

    Each frame is turned into 8-bit grey levels (``round(255 (0.299 R + 0.587 G + 0.114 B))``,
    PIL's ``convert("L")`` as ATVGnet reads PNGs) and scored by :func:`cpbd_score` on the CPU.
    Higher is sharper. Used by ATVGnet and AMIE-era LRW/GRID papers.

    ``update(preds, mask=None)``: ``(B, T, 3, H, W)`` [0, 1] video (H, W >= 64) or ``(N, 3, H, W)``.

    Raises:
        DataError: bad shapes or frames smaller than 64 x 64.
    """

    higher_is_better = True
    reads = ("generated", "mask")
    log_name = "CPBD"

    def update(self, preds: Tensor, mask: Tensor | None = None) -> None:
        """Add the CPBD of every real frame."""
        frames, _ = _frames_of(preds, mask, "preds")
        if frames.shape[0] == 0:
            return
        w = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64, device=frames.device).view(1, 3, 1, 1)
        gray = ((frames.detach().double().clamp(0, 1) * w).sum(1) * 255).round().cpu().numpy()
        self._add(torch.tensor([cpbd_score(g) for g in gray], dtype=torch.float64))


class PyIQA(_MeanMetric):
    """Any image-quality metric of pyiqa (Chen et al., "TOPIQ"/IQA-PyTorch; ``pip install 'talkzoo[iqa]'``),
    averaged over real frames, with its weights read from a local file (never downloaded here).

    Full-reference metrics (pyiqa ``metric_mode == "FR"``, e.g. ``lpips``, ``dists``, ``ms_ssim``,
    ``fsim``) read the generated and the real frames; no-reference ones (``niqe``, ``brisque``,
    ``musiq``, ``clipiqa``) read the generated frames only (``reads`` is set per instance from the
    metric's mode). Logged as ``<NAME>@pyiqa`` (``NIQE@pyiqa``). A plugin adds one to its
    collection with ``collection.add_metrics({m.log_name: m})``; the family tasks then feed it.

    Args:
        name: a pyiqa metric name (``pyiqa.list_models()``).
        weights: local weights file, passed to pyiqa as ``pretrained_model_path``; None for
            metrics without weights (``psnr``, ``ssim``, ``ms_ssim``, ``fsim``, ``vsi``, ``gmsd``, ...)
            or already in pyiqa's cache.
        batch_size: frames per call.

    Raises:
        ConfigError: pyiqa is not installed (the message names the extra).
        MissingWeightsError: ``weights`` is given and absent, or pyiqa tried to download weights
            (offline): the message says to pass ``weights``.
    """

    def __init__(self, name: str, weights: str | os.PathLike | None = None, *, batch_size: int = 16, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            import pyiqa
        except ImportError as exc:
            raise ConfigError(f"PyIQA({name!r}) needs pyiqa: pip install 'talkzoo[iqa]'") from exc
        options: dict[str, Any] = {}
        if weights is not None:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise MissingWeightsError(f"PyIQA({name!r}): weights file {str(path)!r} not found")
            options["pretrained_model_path"] = str(path)
        try:
            net = pyiqa.create_metric(name, as_loss=False, device=torch.device("cpu"), **options)
        except (OSError, ConnectionError) as exc:  # a download attempt offline
            raise MissingWeightsError(f"PyIQA({name!r}): pyiqa could not load its weights ({type(exc).__name__}); "
                                      "download them on a machine with network access and pass weights=PATH") from exc
        net.eval()
        self.metric_name = str(name)
        self.full_reference = str(getattr(net, "metric_mode", "NR")).upper() == "FR"
        self._higher = not bool(getattr(net, "lower_better", False))
        self.reads = ("generated", "real", "mask") if self.full_reference else ("generated", "mask")
        self.log_name = f"{self.metric_name.upper()}@pyiqa"
        self.batch_size = int(batch_size)
        self._net = ExternalNet(net)

    @property
    def higher_is_better(self) -> bool:  # type: ignore[override]
        """From pyiqa's ``lower_better`` of the metric."""
        return self._higher

    def update(self, preds: Tensor, *args: Tensor | None) -> None:
        """``update(generated, real, mask)`` (full-reference) or ``update(generated, mask)``; videos
        ``(B, T, 3, H, W)`` in [0, 1] or images ``(N, 3, H, W)``."""
        if self.full_reference:
            target, mask = (args + (None, None))[:2]
            p, t = _pair_frames(preds, target, mask)
        else:
            p, _ = _frames_of(preds, args[0] if args else None, "preds")
            t = None
        for i in range(0, p.shape[0], self.batch_size):
            net = self._net.to(p.device)
            with torch.no_grad():
                a = p[i : i + self.batch_size].float()
                score = net(a, t[i : i + self.batch_size].float()) if t is not None else net(a)
            self._add(torch.as_tensor(score).reshape(-1))


# ---------------------------------------------------------------------------------------------
# One update loop and one builder for the 2D families


class VideoMetricInputs:
    """Everything a 2D metric may read for one batch (the vocabulary :data:`READS`), computed lazily.

    Args:
        generated: ``(B, T, 3, H, W)`` float generated frames (clamped to [0, 1] here).
        mask: ``(B, T)`` bool, ``True`` on real frames.
        real: ``(B, T, 3, H, W)`` float ground-truth / driving frames.
        source: ``(B, 3, H, W)`` float source portraits.
        audio: ``(B, S)`` float waveform; audio_mask: ``(B, S)`` bool.
        landmarks: the dataset's stored ``(B, T, K, 2)`` landmarks of the real frames (or None).

    ``get(key, metric)`` returns one input; ``generated_landmarks`` and ``real_landmarks`` are
    detected on the real frames (mask) with ``metric.landmarker`` once per landmarker ``name`` and
    batch, NaN elsewhere.

    Raises:
        ConfigError: a metric reads a key outside :data:`READS`, or landmarks without a ``landmarker``.
        DataError: a metric reads an input this batch does not have (e.g. ``audio`` in reenactment).
    """

    def __init__(self, generated: Tensor, mask: Tensor, real: Tensor | None = None, source: Tensor | None = None,
                 audio: Tensor | None = None, audio_mask: Tensor | None = None,
                 landmarks: Tensor | None = None) -> None:
        self._values: dict[str, Any] = {
            "generated": generated.clamp(0, 1).float(), "mask": mask,
            "real": None if real is None else real.float(), "source": None if source is None else source.float(),
            "audio": audio, "audio_mask": audio_mask, "landmarks": landmarks,
        }
        self._landmarks: dict[tuple[str, str], Tensor] = {}

    def _detect(self, which: str, landmarker: Any) -> Tensor:
        key = (which, str(landmarker.name))
        if key not in self._landmarks:
            frames = self._values[which]
            if frames is None:
                raise DataError(f"a metric reads {which}_landmarks but this batch has no {which} frames")
            mask = self._values["mask"]
            out = torch.full((*mask.shape, 68, 2), float("nan"), device=frames.device)
            real = frames[mask]
            if real.shape[0]:
                images = to_uint8_images(real)
                out[mask] = torch.from_numpy(np.asarray(landmarker(images), dtype=np.float32)).to(frames.device)
            self._landmarks[key] = out
        return self._landmarks[key]

    def get(self, key: str, metric: Any = None) -> Any:
        """The input ``key`` (one of :data:`READS`) for ``metric``."""
        if key in ("generated_landmarks", "real_landmarks"):
            landmarker = getattr(metric, "landmarker", None)
            if landmarker is None:
                raise ConfigError(f"{type(metric).__name__} reads {key} but has no 'landmarker'")
            return self._detect(key.split("_")[0], landmarker)
        if key not in self._values:
            raise ConfigError(f"{type(metric).__name__} reads {key!r}; a 2D metric reads some of {list(READS)}")
        value = self._values[key]
        if value is None and key not in ("audio_mask", "landmarks"):
            raise DataError(f"{type(metric).__name__} reads {key!r}, which this batch does not have")
        return value


def update_video_metrics(collection: Any, inputs: VideoMetricInputs) -> None:
    """Update every metric of ``collection`` (a ``MetricCollection`` or a mapping of metrics)
    with the inputs its ``reads`` declares, in that order.

    Raises:
        ConfigError: a metric without ``reads`` (say what its ``update`` takes, see :data:`READS`).
    """
    for name, metric in collection.items():
        reads = getattr(metric, "reads", None)
        if not reads:
            raise ConfigError(f"metric {name!r} ({type(metric).__name__}) declares no 'reads': set the class "
                              f"attribute reads = (...) to the inputs of its update(), from {list(READS)}")
        metric.update(*(inputs.get(key, metric) for key in reads))


def video_metrics(
    family: str,
    image_size: int,
    metric_weights: dict[str, str] | None = None,
    *,
    landmarks: bool | None = None,
    landmarker: Any = "auto",
    identity: Any = "auto",
) -> Any:
    """The metric collection of a 2D family, keyed by each metric's ``log_name``.

    PSNR and SSIM always (and L1 for reenactment); CPBD for frames of at least 64 px; LMD (audio → video) or AKD
    (reenactment) with ``landmarker`` when ``landmarks`` is on (default: frames of at least 128 px);
    CSIM (against the source portrait) and, for reenactment, AED with the identity network; LPIPS,
    FID, FVD, LSE (audio → video) when ``metric_weights`` names their local weight files
    (keys ``lpips_backbone``, ``inception``, ``i3d``, ``syncnet``, ``identity``).

    Args:
        family: ``"audio-to-video"`` or ``"video-to-video"`` (reenactment; :mod:`talkzoo.data.spec`).
        image_size: frame side, pixels.
        metric_weights: local weight files by key (above).
        landmarks: run the landmark metric (None: on from 128 px).
        landmarker: a :class:`talkzoo.landmarks.Landmarker` or a name for
            :func:`talkzoo.landmarks.make_landmarker` (``"auto"``: dlib68 with the ``dlib`` extra,
            else facemesh68).
        identity: a :class:`talkzoo.landmarks.IdentityEmbedder`, a name for
            :func:`talkzoo.landmarks.make_identity_embedder`, ``"auto"`` (``metric_weights["identity"]``
            when given, a TorchScript file; else dlib-resnet with the extra for frames of at least
            128 px; else none) or None (off).

    Returns:
        ``torchmetrics.MetricCollection`` (``compute_groups=False``).

    Raises:
        ConfigError: unknown family or names; MissingWeightsError: a named weight file is missing.
    """
    from torchmetrics import MetricCollection

    from talkzoo.data.spec import FAMILY_REENACT, FAMILY_VIDEO
    from talkzoo.landmarks import default_identity_name, make_identity_embedder, make_landmarker

    if family not in (FAMILY_VIDEO, FAMILY_REENACT):
        raise ConfigError(f"video_metrics: family must be {FAMILY_VIDEO!r} or {FAMILY_REENACT!r}, got {family!r}")
    reenact = family == FAMILY_REENACT
    weights = dict(metric_weights or {})
    size = int(image_size)
    metrics: list[Metric] = [FramePSNR(), FrameSSIM()]
    if reenact:
        metrics.insert(0, FrameL1())
    if size >= 64:
        metrics.append(CPBD())
    if landmarks if landmarks is not None else size >= 128:
        lm = make_landmarker(landmarker) if isinstance(landmarker, str) else landmarker
        metrics.append(AverageKeypointDistance(landmarker=lm) if reenact else LandmarkDistance(landmarker=lm))
    embedder = identity
    if isinstance(identity, str) and identity == "auto":
        # a user's network always; dlib's only on frames where a face can be found (>= 128 px)
        embedder = weights.get("identity") or (default_identity_name() if size >= 128 else None)
        if embedder is not None and embedder != weights.get("identity"):
            embedder = make_identity_embedder(embedder)
    elif isinstance(identity, str):
        embedder = make_identity_embedder(identity)
    if embedder is not None:
        metrics.append(CSIM(embedder))
        if reenact:
            metrics.append(AverageEuclideanDistance(embedder))
    if "lpips_backbone" in weights:
        metrics.append(LPIPS(backbone_weights=weights["lpips_backbone"]))
    if "inception" in weights:
        from talkzoo.metrics.frechet import FrechetInceptionDistance

        metrics.append(FrechetInceptionDistance(weights["inception"]))
    if "i3d" in weights:
        from talkzoo.metrics.frechet import FrechetVideoDistance

        metrics.append(FrechetVideoDistance(weights["i3d"]))
    if "syncnet" in weights and not reenact:
        from talkzoo.metrics.syncnet import SyncNetLSE

        metrics.append(SyncNetLSE(weights["syncnet"]))
    return MetricCollection({m.log_name: m for m in metrics}, compute_groups=False)
