r"""Fréchet distances between feature distributions: FID (images) and FVD (videos).

Both fit a Gaussian to the features of the generated set and of the real set and report

.. math::
    d^2 = \lVert \mu_1 - \mu_2 \rVert_2^2 + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
          - 2 \operatorname{tr}\big(\Sigma_1^{1/2} \Sigma_2 \Sigma_1^{1/2}\big)^{1/2}

(Heusel et al. 2017, "GANs trained by a two time-scale update rule...", Eq. 6; Unterthiner et
al. 2018, "Towards accurate generative models of video", §3 for FVD). The trace term is computed
as the sum of the square roots of the eigenvalues of the symmetric PSD matrix
:math:`\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}` (which has the same spectrum as :math:`\Sigma_1\Sigma_2`),
in float64 with ``torch.linalg.eigh``: real-valued, GPU-capable, and exactly symmetric in the
two sets, so FID(set, itself) is 0 to float64 round-off. The tests check it against
``scipy.linalg.sqrtm`` (the pytorch-fid formula) and against torchmetrics'
``FrechetInceptionDistance`` on the same features.

States are float64 feature sums, outer-product sums and counts, ``sum``-reduced across
processes (the same states torchmetrics' FID keeps), so the value is exact under DDP.

Why not torchmetrics' ``FrechetInceptionDistance`` directly? It works offline with a custom
feature module, but it takes one image set per call (``real=True/False``), no frame mask, no
videos, and it computes the trace term from the eigenvalues of the non-symmetric
:math:`\Sigma_1\Sigma_2` (complex round-off). FVD needs the same states with a video feature
network, so both share :class:`FrechetFeatureDistance`.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import Metric

from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo.metrics._frames import (
    ExternalNet,
    as_frame_mask,
    as_images,
    as_video,
    load_network,
    real_clips,
    resize_to,
    scale_range,
)

__all__ = [
    "FrechetFeatureDistance",
    "FrechetInceptionDistance",
    "FrechetVideoDistance",
    "frechet_distance",
    "gaussian_from_sums",
]


def _psd_sqrt(a: Tensor) -> Tensor:
    """Symmetric square root of a symmetric PSD matrix (negative round-off eigenvalues clamped to 0)."""
    w, v = torch.linalg.eigh(a)
    return (v * w.clamp_min(0).sqrt().unsqueeze(0)) @ v.T


def frechet_distance(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> Tensor:
    r"""Squared Fréchet (2-Wasserstein) distance between :math:`N(\mu_1,\Sigma_1)` and :math:`N(\mu_2,\Sigma_2)`.

    Args:
        mu1, mu2: ``(D,)`` means.
        sigma1, sigma2: ``(D, D)`` symmetric PSD covariances.

    Returns:
        Scalar float64 tensor >= 0, in squared feature units (the FID/FVD value).

    Raises:
        DataError: shapes that do not match ``(D,)`` / ``(D, D)``.

    Source: Heusel et al. 2017, Eq. 6 (Dowson & Landau 1982).
    """
    d = mu1.shape[-1]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise DataError(
            f"frechet_distance: expected mu (D,) and sigma (D, D), got {tuple(mu1.shape)}, "
            f"{tuple(sigma1.shape)}, {tuple(mu2.shape)}, {tuple(sigma2.shape)}"
        )
    mu1, mu2, s1, s2 = (t.to(torch.float64) for t in (mu1, mu2, sigma1, sigma2))
    s1 = (s1 + s1.T) / 2
    s2 = (s2 + s2.T) / 2
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    m = (m + m.T) / 2
    tr_sqrt = torch.linalg.eigvalsh(m).clamp_min(0).sqrt().sum()
    # Clamp: the distance is >= 0; round-off can leave -1e-12 for identical sets.
    return ((mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * tr_sqrt).clamp_min(0)


def gaussian_from_sums(total: Tensor, outer: Tensor, n: Tensor | int) -> tuple[Tensor, Tensor]:
    """Mean and unbiased covariance (``n - 1``) from a feature sum ``(D,)``, outer-product sum ``(D, D)`` and count."""
    n = float(n)
    mu = total / n
    cov = (outer - n * torch.outer(mu, mu)) / (n - 1)
    return mu, cov


class FrechetFeatureDistance(Metric):
    """Fréchet distance between the features of generated (``fake``) and real samples.

    Subclasses implement :meth:`features`, mapping a batch of inputs to ``(N, D)`` features;
    :meth:`add_fake` / :meth:`add_real` accumulate them. ``compute()`` returns the float32
    distance (squared feature units).

    Args:
        num_features: D, the feature size the network returns.
        **kwargs: passed to :class:`torchmetrics.Metric`.

    States: ``{fake,real}_sum`` ``(D,)`` float64, ``{fake,real}_outer`` ``(D, D)`` float64,
    ``{fake,real}_n`` int64; all ``sum``-reduced.

    Raises:
        DataError: in ``compute``, fewer than 2 samples on a side; in ``add_*``, features that
            are not ``(N, num_features)``.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = False
    reads = ("generated", "real", "mask")  # see talkzoo.metrics.video.READS

    def __init__(self, num_features: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(num_features) < 1:
            raise ConfigError(f"num_features must be >= 1, got {num_features}")
        self.num_features = int(num_features)
        d = self.num_features
        for side in ("fake", "real"):
            self.add_state(f"{side}_sum", torch.zeros(d, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_outer", torch.zeros(d, d, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_n", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def add_features(self, feats: Tensor, real: bool) -> None:
        """Accumulate ``(N, D)`` features of the real (``real=True``) or generated set."""
        if feats.ndim != 2 or feats.shape[1] != self.num_features:
            raise DataError(
                f"{type(self).__name__}: features must be (N, {self.num_features}), got {tuple(feats.shape)}"
            )
        f = feats.detach().to(device=self.fake_sum.device, dtype=torch.float64)
        side = "real" if real else "fake"
        setattr(self, f"{side}_sum", getattr(self, f"{side}_sum") + f.sum(0))
        setattr(self, f"{side}_outer", getattr(self, f"{side}_outer") + f.T @ f)
        setattr(self, f"{side}_n", getattr(self, f"{side}_n") + f.shape[0])

    def compute(self) -> Tensor:
        """The Fréchet distance between the two accumulated sets (float32 scalar)."""
        for side in ("fake", "real"):
            n = int(getattr(self, f"{side}_n"))
            if n < 2:
                raise DataError(f"{type(self).__name__}: needs at least 2 {side} samples, got {n}")
        mu_f, cov_f = gaussian_from_sums(self.fake_sum, self.fake_outer, self.fake_n)
        mu_r, cov_r = gaussian_from_sums(self.real_sum, self.real_outer, self.real_n)
        return frechet_distance(mu_f, cov_f, mu_r, cov_r).to(torch.float32)


class FrechetInceptionDistance(FrechetFeatureDistance):
    """FID over frames, with a supplied feature network (Inception-v3 pool3 for the standard FID).

    ``update(preds, target, mask)`` adds the real frames of generated ``preds`` and of ground
    truth ``target`` (each ``(B, T, 3, H, W)`` float RGB in [0, 1], or images ``(N, 3, H, W)``
    with ``mask=None``); :meth:`add_fake` / :meth:`add_real` add one side alone (e.g. a
    fixed real set). All frames of all clips are pooled, as Wav2Lip and FLOAT do with
    pytorch-fid on dumped frames.

    Args:
        feature: an :class:`torch.nn.Module` mapping ``(N, 3, h, w)`` to ``(N, D)``, or the path
            of a TorchScript file of one. Use :meth:`from_inception_weights` for the
            pytorch-fid/torch-fidelity Inception (``pt_inception-2015-12-05-6726825d.pth``).
        num_features: D; probed with one dummy image when None.
        input_size: ``(h, w)`` the frames are bilinearly resized to before the network (None:
            leave them; the network resizes, as torch-fidelity's Inception does to 299).
        input_range: ``"unit"`` ([0, 1], default), ``"symmetric"`` ([-1, 1]), ``"byte"`` ([0, 255]
            float) or ``"uint8"`` ([0, 255] uint8, torch-fidelity's convention).
        batch_size: frames per network call.
        **kwargs: passed to :class:`torchmetrics.Metric`.

    Raises:
        MissingWeightsError: ``feature`` is a path that does not exist.
        DataError: bad input shapes (see :func:`talkzoo.metrics._frames.as_video`).
    """

    log_name = "FID"

    def __init__(
        self,
        feature: nn.Module | str | os.PathLike,
        num_features: int | None = None,
        *,
        input_size: tuple[int, int] | None = None,
        input_range: str = "unit",
        batch_size: int = 64,
        **kwargs: Any,
    ) -> None:
        net = load_network(
            feature,
            "FID: feature network",
            "Give a TorchScript Inception file, or use FrechetInceptionDistance.from_inception_weights().",
        )
        if input_range not in ("unit", "symmetric", "byte", "uint8"):
            raise ConfigError(f"FID: input_range must be unit/symmetric/byte/uint8, got {input_range!r}")
        self.input_size = tuple(input_size) if input_size is not None else None
        self.input_range = input_range
        self.batch_size = int(batch_size)
        if num_features is None:
            probe = torch.rand(2, 3, *(self.input_size or (299, 299)))
            with torch.no_grad():
                num_features = int(net(self._prepare(probe)).reshape(2, -1).shape[1])
        super().__init__(num_features, **kwargs)
        self._net = ExternalNet(net)

    @classmethod
    def from_inception_weights(cls, path: str | os.PathLike, **kwargs: Any) -> "FrechetInceptionDistance":
        """FID with the pytorch-fid / torch-fidelity Inception-v3 (2048-d pool3) from a local file.

        Args:
            path: ``pt_inception-2015-12-05-6726825d.pth`` (torch-fidelity's weights of the TF
                FID Inception, as pytorch-fid v0.3.0 uses).
            **kwargs: passed to the constructor.

        Raises:
            MissingWeightsError: the file does not exist.
            ConfigError: torch-fidelity is not installed (``pip install torch-fidelity``).
        """
        from pathlib import Path

        p = Path(path).expanduser()
        if not p.is_file():
            raise MissingWeightsError(
                f"FID: Inception weights {str(p)!r} not found (pt_inception-2015-12-05-6726825d.pth from "
                "torch-fidelity / pytorch-fid releases)"
            )
        try:
            from torchmetrics.image.fid import NoTrainInceptionV3
        except ImportError as exc:  # pragma: no cover - depends on torch-fidelity
            raise ConfigError(f"FID with the standard Inception needs torch-fidelity: {exc}") from exc
        try:
            net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=str(p))
        except ModuleNotFoundError as exc:  # pragma: no cover - depends on torch-fidelity
            raise ConfigError("FID with the standard Inception needs torch-fidelity (pip install torch-fidelity)") from exc
        kwargs.setdefault("input_range", "uint8")
        return cls(net, num_features=2048, **kwargs)

    def _prepare(self, x: Tensor) -> Tensor:
        x = resize_to(x, self.input_size)
        if self.input_range == "uint8":
            return (x.clamp(0, 1) * 255).round().to(torch.uint8)
        return scale_range(x, self.input_range)

    def _frames(self, x: Tensor, mask: Tensor | None, name: str) -> Tensor:
        if x.ndim == 4 and mask is None:
            return as_images(x, name)
        x = as_video(x, name)
        m = as_frame_mask(mask, x.shape[0], x.shape[1], x.device)
        return x[m]

    def _features(self, frames: Tensor) -> Tensor:
        out = []
        for i in range(0, frames.shape[0], self.batch_size):
            f = self._net(self._prepare(frames[i : i + self.batch_size].float()))
            out.append(f.reshape(f.shape[0], -1))
        return torch.cat(out) if out else frames.new_zeros(0, self.num_features)

    def add_fake(self, x: Tensor, mask: Tensor | None = None) -> None:
        """Add generated frames (``(B, T, 3, H, W)`` + mask, or ``(N, 3, H, W)``)."""
        self.add_features(self._features(self._frames(x, mask, "preds")), real=False)

    def add_real(self, x: Tensor, mask: Tensor | None = None) -> None:
        """Add real frames (``(B, T, 3, H, W)`` + mask, or ``(N, 3, H, W)``)."""
        self.add_features(self._features(self._frames(x, mask, "target")), real=True)

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Add generated ``preds`` and real ``target`` frames (same layout; ``mask`` applies to both)."""
        self.add_fake(preds, mask)
        self.add_real(target, mask)


class FrechetVideoDistance(FrechetFeatureDistance):
    """FVD: Fréchet distance of I3D features of fixed-length clips (Unterthiner et al. 2018).

    Protocol (pinned; it changes values a lot, see specs/prior_art_talking_face.md §3.5):

    * every real clip is cut into consecutive, non-overlapping windows of ``clip_length = 16``
      frames (``clip_stride`` to change); a clip shorter than ``clip_length`` is an error
      (``on_short="raise"``) or is counted in ``num_short`` and left out (``"skip"``);
    * each frame is bilinearly resized so its shorter side is ``resize = 224`` and centre-cropped
      to 224 x 224, scaled to [-1, 1], and the window is laid out ``(N, 3, T, 224, 224)``;
    * the network is called as ``i3d(x, rescale=False, resize=False, return_features=True)``
      (the StyleGAN-V ``i3d_torchscript.pt`` interface, as LatentSync and
      common_metrics_on_video_quality use it), giving 400-d Kinetics-400 logits.

    Args:
        i3d: path of the TorchScript I3D (``i3d_torchscript.pt``), or any module mapping
            ``(N, 3, T, S, S)`` to ``(N, D)`` (tests use a tiny random stand-in).
        num_features: D (400 for the I3D); probed with a dummy clip when None.
        clip_length: frames per window (16).
        clip_stride: step between windows (default ``clip_length``: non-overlapping).
        resize: side of the square crop fed to the network (224).
        net_kwargs: keyword arguments of the network call; default the StyleGAN-V flags above for
            a file and ``{}`` for a module.
        on_short: ``"raise"`` or ``"skip"`` for clips shorter than ``clip_length``.
        batch_size: windows per network call.
        **kwargs: passed to :class:`torchmetrics.Metric`.

    Raises:
        MissingWeightsError: ``i3d`` is a path that does not exist.
        DataError: bad shapes, a short clip with ``on_short="raise"``.
    """

    log_name = "FVD"

    def __init__(
        self,
        i3d: nn.Module | str | os.PathLike,
        num_features: int | None = None,
        *,
        clip_length: int = 16,
        clip_stride: int | None = None,
        resize: int = 224,
        net_kwargs: dict | None = None,
        on_short: str = "raise",
        batch_size: int = 8,
        **kwargs: Any,
    ) -> None:
        from_file = not isinstance(i3d, nn.Module)
        net = load_network(
            i3d,
            "FVD: I3D",
            "Expected the StyleGAN-V TorchScript I3D 'i3d_torchscript.pt' (Kinetics-400).",
        )
        if on_short not in ("raise", "skip"):
            raise ConfigError(f"FVD: on_short must be 'raise' or 'skip', got {on_short!r}")
        if clip_length < 1 or resize < 1:
            raise ConfigError(f"FVD: clip_length and resize must be >= 1, got {clip_length}, {resize}")
        self.clip_length = int(clip_length)
        self.clip_stride = int(clip_stride) if clip_stride is not None else self.clip_length
        self.resize = int(resize)
        self.on_short = on_short
        self.batch_size = int(batch_size)
        if net_kwargs is None:
            net_kwargs = {"rescale": False, "resize": False, "return_features": True} if from_file else {}
        self.net_kwargs = dict(net_kwargs)
        if num_features is None:
            probe = torch.zeros(2, 3, self.clip_length, self.resize, self.resize)
            with torch.no_grad():
                num_features = int(net(probe, **self.net_kwargs).reshape(2, -1).shape[1])
        super().__init__(num_features, **kwargs)
        self.add_state("num_short", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self._net = ExternalNet(net)

    def _prepare(self, frames: Tensor) -> Tensor:
        """``(T, 3, H, W)`` [0, 1] -> ``(3, T, S, S)`` in [-1, 1] (shorter side to S, centre crop)."""
        h, w = frames.shape[-2:]
        s = self.resize
        if (h, w) != (s, s):
            scale = s / min(h, w)
            nh, nw = max(s, round(h * scale)), max(s, round(w * scale))
            frames = F.interpolate(frames, size=(nh, nw), mode="bilinear", align_corners=False)
            top, left = (nh - s) // 2, (nw - s) // 2
            frames = frames[..., top : top + s, left : left + s]
        return (frames * 2 - 1).permute(1, 0, 2, 3)

    def _windows(self, video: Tensor, mask: Tensor | None, name: str) -> list[Tensor]:
        video = as_video(video, name)
        m = as_frame_mask(mask, video.shape[0], video.shape[1], video.device)
        out = []
        for b, clip in enumerate(real_clips(video, m, name)):
            n = clip.shape[0]
            if n < self.clip_length:
                if self.on_short == "raise":
                    raise DataError(
                        f"FVD: {name} sample {b} has {n} real frames, fewer than clip_length="
                        f"{self.clip_length}; lower clip_length or pass on_short='skip'"
                    )
                self.num_short += 1
                continue
            for start in range(0, n - self.clip_length + 1, self.clip_stride):
                out.append(clip[start : start + self.clip_length])
        return out

    def _features(self, windows: list[Tensor]) -> Tensor:
        out = []
        for i in range(0, len(windows), self.batch_size):
            x = torch.stack([self._prepare(w.float()) for w in windows[i : i + self.batch_size]])
            f = self._net(x, **self.net_kwargs)
            out.append(f.reshape(f.shape[0], -1))
        if not out:
            return torch.zeros(0, self.num_features)
        return torch.cat(out)

    def add_fake(self, video: Tensor, mask: Tensor | None = None) -> None:
        """Add generated clips ``(B, T, 3, H, W)`` [0, 1] with a ``(B, T)`` mask."""
        self.add_features(self._features(self._windows(video, mask, "preds")), real=False)

    def add_real(self, video: Tensor, mask: Tensor | None = None) -> None:
        """Add real clips ``(B, T, 3, H, W)`` [0, 1] with a ``(B, T)`` mask."""
        self.add_features(self._features(self._windows(video, mask, "target")), real=True)

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Add generated ``preds`` and real ``target`` clips (``mask`` applies to both)."""
        self.add_fake(preds, mask)
        self.add_real(target, mask)
