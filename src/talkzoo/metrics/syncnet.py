r"""SyncNet lip-sync scores LSE-D and LSE-C (syncnet_python / Wav2Lip ``evaluation/scores_LSE``).

Three separable parts:

* :class:`SyncNet` — the syncnet_python ``SyncNetModel.S`` architecture (Chung & Zisserman
  2016, "Out of time: automated lip sync in the wild"; the released ``syncnet_v2.model``): an
  audio branch on a 13 x 20 MFCC window (0.2 s) and a video branch on 5 consecutive 224 x 224
  BGR face crops in [0, 255], each giving a 1024-d embedding. Layer names match the released
  state dict, so :func:`load_syncnet` loads ``syncnet_v2.model`` directly.
* :func:`syncnet_mfcc` — the MFCCs syncnet_python feeds it (``python_speech_features.mfcc``
  defaults on 16-bit PCM at 16 kHz: 25 ms rectangular windows every 10 ms, pre-emphasis 0.97,
  512-point FFT, 26 mel filters, 13 DCT-II coefficients, lifter 22, c0 replaced by the log
  frame energy), re-implemented in torch float64.
* :func:`sync_scores` — the scoring protocol on two embedding streams, independent of the
  network: per video frame i, the Euclidean distances to the audio embeddings i - vshift ..
  i + vshift (the audio stream zero-padded by vshift at both ends, as ``calc_pdist`` does);
  the mean over frames gives a curve of 2 vshift + 1 distances;
  ``LSE-D = min(curve)``, ``LSE-C = median(curve) - min(curve)``, ``offset = vshift - argmin``.

:class:`SyncNetLSE` runs all three per clip and averages LSE-D and LSE-C over clips (each clip
weighs the same, as Wav2Lip's ``calculate_scores_LRS.py`` averages per-video values).

Pitfall (specs/prior_art_talking_face.md §3.4): syncnet_python's ``run_pipeline.py`` drops face
tracks shorter than ``--min_track 100`` frames (4 s) without a word, which removes every LRW
(29 frames) and GRID (75 frames) clip. Here the threshold is ``min_frames`` and a short clip
raises (``on_short="raise"``) or is counted in ``num_skipped`` (``"skip"``); nothing is dropped
silently. Inputs must be 25 fps video and 16 kHz audio (4 MFCC steps per frame).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import Metric

from talkzoo.errors import ConfigError, DataError, MissingWeightsError
from talkzoo.metrics._frames import ExternalNet, as_frame_mask, as_video, real_clips

__all__ = [
    "SyncNet",
    "SyncNetLSE",
    "SyncScores",
    "load_syncnet",
    "sync_scores",
    "syncnet_embeddings",
    "syncnet_mfcc",
]

SYNCNET_URL_HINT = (
    "Get syncnet_v2.model with joonson/syncnet_python's download_model.sh "
    "(http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model)."
)


def _conv_bn(conv: nn.Module, channels: int, bn: type[nn.Module]) -> list[nn.Module]:
    return [conv, bn(channels), nn.ReLU(inplace=True)]


class SyncNet(nn.Module):
    """The SyncNet v2 two-stream network of syncnet_python (``SyncNetModel.S``).

    Args:
        embed_dim: embedding size (1024 in ``syncnet_v2.model``).

    Methods:
        forward_aud: ``(N, 1, 13, 20)`` float32 MFCC windows -> ``(N, embed_dim)``.
        forward_lip: ``(N, 3, 5, 224, 224)`` float32 BGR face crops in [0, 255] -> ``(N, embed_dim)``.

    Weights: :func:`load_syncnet` (``syncnet_v2.model``); random when built directly.
    """

    def __init__(self, embed_dim: int = 1024) -> None:
        super().__init__()
        c2, b2, p2 = nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d
        self.netcnnaud = nn.Sequential(
            *_conv_bn(c2(1, 64, 3, 1, 1), 64, b2),
            p2(kernel_size=1, stride=1),
            *_conv_bn(c2(64, 192, 3, 1, 1), 192, b2),
            p2(kernel_size=3, stride=(1, 2)),
            *_conv_bn(c2(192, 384, 3, padding=1), 384, b2),
            *_conv_bn(c2(384, 256, 3, padding=1), 256, b2),
            *_conv_bn(c2(256, 256, 3, padding=1), 256, b2),
            p2(kernel_size=3, stride=2),
            *_conv_bn(c2(256, 512, (5, 4)), 512, b2),
        )
        self.netfcaud = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embed_dim))
        self.netfclip = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embed_dim))
        c3, b3, p3 = nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d
        self.netcnnlip = nn.Sequential(
            *_conv_bn(c3(3, 96, (5, 7, 7), stride=(1, 2, 2)), 96, b3),
            p3(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv_bn(c3(96, 256, (1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)), 256, b3),
            p3(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            *_conv_bn(c3(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, b3),
            *_conv_bn(c3(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, b3),
            *_conv_bn(c3(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, b3),
            p3(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
            *_conv_bn(c3(256, 512, (1, 6, 6)), 512, b3),
        )

    def forward_aud(self, x: Tensor) -> Tensor:
        """``(N, 1, 13, 20)`` MFCC windows -> ``(N, embed_dim)`` audio embeddings."""
        return self.netfcaud(self.netcnnaud(x).flatten(1))

    def forward_lip(self, x: Tensor) -> Tensor:
        """``(N, 3, 5, 224, 224)`` BGR [0, 255] frame windows -> ``(N, embed_dim)`` video embeddings."""
        return self.netfclip(self.netcnnlip(x).flatten(1))


def load_syncnet(path: str | os.PathLike) -> SyncNet:
    """Build :class:`SyncNet` and load ``syncnet_v2.model`` (a state dict) from ``path``, in eval mode.

    Raises:
        MissingWeightsError: the file does not exist.
        DataError: the file is not a SyncNet state dict (missing or extra tensors).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise MissingWeightsError(f"SyncNet weights {str(p)!r} not found. {SYNCNET_URL_HINT}")
    try:
        state = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataError(f"SyncNet weights {str(p)!r} could not be read as a state dict: {exc}") from exc
    if not isinstance(state, dict):
        raise DataError(f"SyncNet weights {str(p)!r}: expected a state dict, got {type(state).__name__}")
    net = SyncNet()
    own = net.state_dict()
    # Files saved before BatchNorm kept num_batches_tracked lack those counters; nothing else may differ.
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    extra = [k for k in state if k not in own]
    if missing or extra:
        raise DataError(f"SyncNet weights {str(p)!r}: missing tensors {missing[:5]}, unexpected {extra[:5]}")
    net.load_state_dict(state, strict=False)
    net.eval()
    for q in net.parameters():
        q.requires_grad_(False)
    return net


def _hz_to_mel(hz: Tensor) -> Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: Tensor) -> Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def _mel_filterbank(nfilt: int, nfft: int, sample_rate: int) -> Tensor:
    """``(nfilt, nfft // 2 + 1)`` triangular filters on FFT bins (python_speech_features' layout)."""
    mel = torch.linspace(float(_hz_to_mel(torch.tensor(0.0, dtype=torch.float64))),
                         float(_hz_to_mel(torch.tensor(sample_rate / 2, dtype=torch.float64))),
                         nfilt + 2, dtype=torch.float64)
    edges = torch.floor((nfft + 1) * _mel_to_hz(mel) / sample_rate)
    i = torch.arange(nfft // 2 + 1, dtype=torch.float64).unsqueeze(0)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = ((i - lo) / (mid - lo).clamp_min(1e-12)) * ((i >= lo) & (i < mid))
    fall = ((hi - i) / (hi - mid).clamp_min(1e-12)) * ((i >= mid) & (i < hi))
    return rise + fall


def _dct2_ortho(n: int, k: int) -> Tensor:
    """``(k, n)`` orthonormal DCT-II matrix (first k rows)."""
    j = torch.arange(n, dtype=torch.float64)
    rows = torch.arange(k, dtype=torch.float64).unsqueeze(1)
    m = torch.cos(math.pi * rows * (2 * j + 1) / (2 * n)) * math.sqrt(2.0 / n)
    m[0] /= math.sqrt(2.0)
    return m


def syncnet_mfcc(audio: Tensor, sample_rate: int = 16000) -> Tensor:
    """MFCCs as syncnet_python computes them (``python_speech_features.mfcc`` defaults on int16 PCM).

    Args:
        audio: ``(S,)`` float waveform in [-1, 1] at 16 kHz (scaled by 32768 to 16-bit PCM units,
            what ``scipy.io.wavfile.read`` gives syncnet_python).
        sample_rate: must be 16000.

    Returns:
        ``(13, F)`` float32 MFCCs at 100 Hz, ``F = 1 + ceil((S - 400) / 160)`` (1 when S <= 400).

    Raises:
        ConfigError: another sample rate.
    """
    if sample_rate != 16000:
        raise ConfigError(f"SyncNet MFCCs need 16 kHz audio, got {sample_rate} Hz")
    x = audio.reshape(-1).to(torch.float64) * 32768.0
    if x.numel() == 0:
        raise DataError("syncnet_mfcc: empty audio")
    x = torch.cat([x[:1], x[1:] - 0.97 * x[:-1]])
    flen, step, nfft = 400, 160, 512
    n = x.numel()
    frames = 1 if n <= flen else 1 + math.ceil((n - flen) / step)
    x = F.pad(x, (0, (frames - 1) * step + flen - n))
    win = x.unfold(0, flen, step)
    pspec = torch.fft.rfft(win, n=nfft).abs().square() / nfft
    eps = torch.finfo(torch.float64).eps
    energy = pspec.sum(1)
    energy = torch.where(energy == 0, torch.full_like(energy, eps), energy)
    fb = _mel_filterbank(26, nfft, sample_rate).to(x.device)
    feat = pspec @ fb.T
    feat = torch.where(feat == 0, torch.full_like(feat, eps), feat).log()
    feat = feat @ _dct2_ortho(26, 13).to(x.device).T
    lift = 1 + 11.0 * torch.sin(math.pi * torch.arange(13, dtype=torch.float64, device=x.device) / 22)
    feat = feat * lift
    feat[:, 0] = energy.log()
    return feat.T.to(torch.float32)


@dataclass
class SyncScores:
    """Result of :func:`sync_scores` for one clip.

    Attributes:
        offset: audio-visual offset in frames, ``vshift - argmin``: ``k > 0`` means video frame i
            matches audio frame ``i - k`` (the video lags the audio by k frames).
        min_dist: LSE-D, the minimum of the mean-distance curve (embedding units).
        confidence: LSE-C, ``median(curve) - min(curve)``.
        mean_dists: ``(2 vshift + 1,)`` float32 curve, index j <-> audio shift ``j - vshift``.
    """

    offset: int
    min_dist: float
    confidence: float
    mean_dists: Tensor


def sync_scores(video_emb: Tensor, audio_emb: Tensor, vshift: int = 15) -> SyncScores:
    """The syncnet_python offset search and LSE-D / LSE-C on two embedding streams.

    Args:
        video_emb: ``(N, D)`` per-window video embeddings (window i = frames i..i+4).
        audio_emb: ``(N, D)`` audio embeddings of the same windows.
        vshift: largest shift searched, in frames (15: offsets -15..+15).

    Returns:
        :class:`SyncScores`. Distances use ``torch.nn.functional.pairwise_distance`` (eps 1e-6),
        the audio stream zero-padded by ``vshift`` at both ends (syncnet_python ``calc_pdist``).

    Raises:
        DataError: streams of different shapes, or empty.
    """
    if video_emb.ndim != 2 or video_emb.shape != audio_emb.shape or video_emb.shape[0] == 0:
        raise DataError(
            f"sync_scores: expected two non-empty (N, D) streams of equal shape, got "
            f"{tuple(video_emb.shape)} and {tuple(audio_emb.shape)}"
        )
    if vshift < 0:
        raise ConfigError(f"sync_scores: vshift must be >= 0, got {vshift}")
    v = video_emb.detach().float()
    a = F.pad(audio_emb.detach().float().to(v.device), (0, 0, vshift, vshift))
    windows = a.unfold(0, 2 * vshift + 1, 1).permute(0, 2, 1)  # (N, 2 vshift + 1, D)
    dists = F.pairwise_distance(v.unsqueeze(1), windows)  # (N, 2 vshift + 1)
    curve = dists.mean(0)
    min_dist, idx = curve.min(0)
    conf = curve.median() - min_dist
    return SyncScores(offset=vshift - int(idx), min_dist=float(min_dist), confidence=float(conf), mean_dists=curve.cpu())


@torch.no_grad()
def syncnet_embeddings(
    net: nn.Module, frames: Tensor, audio: Tensor, *, batch_size: int = 20
) -> tuple[Tensor, Tensor]:
    """Per-window SyncNet embeddings of one clip, as syncnet_python's ``evaluate`` builds them.

    Args:
        net: a :class:`SyncNet` (eval mode).
        frames: ``(T, 3, H, W)`` float RGB in [0, 1] face crops at 25 fps (resized here to
            224 x 224, bilinear, and turned into BGR [0, 255] as cv2 reads the JPEG frames).
        audio: ``(S,)`` float waveform in [-1, 1] at 16 kHz.
        batch_size: windows per network call (20 in syncnet_python).

    Returns:
        ``(video_emb, audio_emb)``, each ``(N, D)`` with ``N = min(T, floor(S / 640)) - 5``
        windows (the last possible window is left out, as in syncnet_python).

    Raises:
        DataError: fewer than 6 usable frames.
    """
    length = min(frames.shape[0], audio.numel() // 640)
    last = length - 5
    if last < 1:
        raise DataError(f"SyncNet needs at least 6 frames with audio, got {length}")
    dev = next(net.parameters()).device
    mfcc = syncnet_mfcc(audio.to(dev))
    x = frames[:length].to(dev).float()
    if tuple(x.shape[-2:]) != (224, 224):
        x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False)
    x = x.flip(1).clamp(0, 1) * 255.0  # RGB -> BGR, [0, 255]
    x = x.permute(1, 0, 2, 3)  # (3, T, 224, 224)
    v_out, a_out = [], []
    for i in range(0, last, batch_size):
        idx = range(i, min(last, i + batch_size))
        v_out.append(net.forward_lip(torch.stack([x[:, j : j + 5] for j in idx])))
        a_out.append(net.forward_aud(torch.stack([mfcc[:, 4 * j : 4 * j + 20] for j in idx]).unsqueeze(1)))
    return torch.cat(v_out), torch.cat(a_out)


class SyncNetLSE(Metric):
    """LSE-D and LSE-C (Prajwal et al. 2020, Wav2Lip §4.1; syncnet_python scoring), averaged over clips.

    ``update(frames, audio, frame_mask, audio_mask)`` scores every clip of the batch;
    ``compute()`` returns ``{"LSE-D": mean min-distance, "LSE-C": mean confidence}`` (float32;
    NaN when every clip was skipped).

    Args:
        syncnet: path of ``syncnet_v2.model``, or a :class:`SyncNet` module (tests use random weights).
        vshift: largest offset searched, frames (15, Wav2Lip / syncnet_python ``--vshift``).
        min_frames: clips with fewer usable frames (``min(T, S // 640)``) are short. Default 100
            is syncnet_python's ``--min_track``; use e.g. 25 for LRW (29 frames) or GRID.
            Must be >= 6 (one 5-frame window plus the dropped last one).
        on_short: ``"raise"`` (default) or ``"skip"`` (counted in the ``num_skipped`` state).
        fps: video frame rate; must be 25.
        sample_rate: audio rate; must be 16000.
        batch_size: windows per network call.
        **kwargs: passed to :class:`torchmetrics.Metric`.

    States: ``dist_sum``, ``conf_sum`` (float64), ``num_clips``, ``num_skipped`` (int64); ``sum``-reduced.

    Raises:
        MissingWeightsError: ``syncnet`` is a path that does not exist.
        ConfigError: fps other than 25, sample rate other than 16000, ``min_frames < 6``.
        DataError: bad shapes; a short clip with ``on_short="raise"``.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = None  # LSE-D lower, LSE-C higher
    reads = ("generated", "audio", "mask", "audio_mask")  # see talkzoo.metrics.video.READS
    log_name = "LSE"

    def __init__(
        self,
        syncnet: nn.Module | str | os.PathLike,
        *,
        vshift: int = 15,
        min_frames: int = 100,
        on_short: str = "raise",
        fps: float = 25.0,
        sample_rate: int = 16000,
        batch_size: int = 20,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if float(fps) != 25.0:
            raise ConfigError(f"SyncNet LSE needs 25 fps video (4 MFCC steps per frame), got fps={fps}")
        if int(sample_rate) != 16000:
            raise ConfigError(f"SyncNet LSE needs 16 kHz audio, got sample_rate={sample_rate}")
        if int(min_frames) < 6:
            raise ConfigError(f"SyncNet LSE: min_frames must be >= 6, got {min_frames}")
        if on_short not in ("raise", "skip"):
            raise ConfigError(f"SyncNet LSE: on_short must be 'raise' or 'skip', got {on_short!r}")
        net = syncnet if isinstance(syncnet, nn.Module) else load_syncnet(syncnet)
        net.eval()
        self._net = ExternalNet(net)
        self.vshift = int(vshift)
        self.min_frames = int(min_frames)
        self.on_short = on_short
        self.batch_size = int(batch_size)
        self.add_state("dist_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("conf_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("num_clips", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("num_skipped", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(
        self,
        frames: Tensor,
        audio: Tensor,
        frame_mask: Tensor | None = None,
        audio_mask: Tensor | None = None,
    ) -> None:
        """Score each clip.

        Args:
            frames: ``(B, T, 3, H, W)`` float RGB in [0, 1], face crops at 25 fps (generated video).
            audio: ``(B, S)`` float waveform in [-1, 1] at 16 kHz, aligned to frame 0.
            frame_mask: ``(B, T)`` bool, real frames first.
            audio_mask: ``(B, S)`` bool, real samples first.
        """
        frames = as_video(frames, "frames")
        if audio.ndim == 1:
            audio = audio.unsqueeze(0)
        if audio.ndim != 2 or audio.shape[0] != frames.shape[0]:
            raise DataError(f"audio: expected shape ({frames.shape[0]}, S), got {tuple(audio.shape)}")
        fmask = as_frame_mask(frame_mask, frames.shape[0], frames.shape[1], frames.device, "frame_mask")
        amask = as_frame_mask(audio_mask, audio.shape[0], audio.shape[1], audio.device, "audio_mask")
        clips = real_clips(frames, fmask, "frames")
        waves = real_clips(audio, amask, "audio")
        net = self._net.to(frames.device)
        for b, (clip, wave) in enumerate(zip(clips, waves)):
            usable = min(clip.shape[0], wave.numel() // 640)
            if usable < self.min_frames:
                if self.on_short == "raise":
                    raise DataError(
                        f"SyncNet LSE: clip {b} has {usable} usable frames (min of {clip.shape[0]} frames and "
                        f"{wave.numel()} samples / 640), fewer than min_frames={self.min_frames}; lower "
                        "min_frames (LRW: 25, GRID: 70) or pass on_short='skip'"
                    )
                self.num_skipped += 1
                continue
            v, a = syncnet_embeddings(net, clip, wave, batch_size=self.batch_size)
            s = sync_scores(v, a, self.vshift)
            self.dist_sum += s.min_dist
            self.conf_sum += s.confidence
            self.num_clips += 1

    def compute(self) -> dict[str, Tensor]:
        """``{"LSE-D": ..., "LSE-C": ...}`` averaged over scored clips (NaN when none)."""
        n = self.num_clips.to(torch.float64)
        if int(self.num_clips) == 0:
            nan = torch.tensor(float("nan"))
            return {"LSE-D": nan, "LSE-C": nan.clone()}
        return {"LSE-D": (self.dist_sum / n).float(), "LSE-C": (self.conf_sum / n).float()}
