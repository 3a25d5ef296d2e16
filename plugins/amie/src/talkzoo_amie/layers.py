"""Building blocks of AMIE: convolution blocks, the per-frame MFCC window front-end.

The paper (arXiv 1812.06589v2, IJCAI 2020) gives no layer sizes; every block here is our choice
and is listed with its reason in ``plugins/amie/README.md``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from talkzoo.audio.encoders import MelSpectrogramEncoder
from talkzoo.errors import ConfigError, DataError

__all__ = ["MFCCWindows", "down_block", "UpBlock", "num_downsamples"]


def down_block(in_channels: int, out_channels: int, norm: bool = True) -> nn.Sequential:
    """Conv 4x4 stride 2 (pad 1) → InstanceNorm (affine, optional) → LeakyReLU(0.2).

    ``(N, in, H, W)`` → ``(N, out, H/2, W/2)``. The pix2pix/Speech2Vid encoder block (our choice;
    the paper gives no encoder architecture).
    """
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.InstanceNorm2d(out_channels, affine=True))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


class UpBlock(nn.Module):
    """Nearest ×2 upsampling → conv 3x3 → InstanceNorm (affine) → ReLU.

    ``(N, in, H, W)`` → ``(N, out, 2H, 2W)``. Upsample-then-convolve rather than a transposed
    convolution (no checkerboard artefacts; our choice).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False)
        self.norm = nn.InstanceNorm2d(out_channels, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.norm(self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))))


def num_downsamples(size: int, bottleneck: int) -> int:
    """Number of stride-2 blocks taking ``size`` pixels to ``bottleneck`` pixels.

    Raises:
        ConfigError: ``size`` is not ``bottleneck * 2^k`` with ``k >= 1``.
    """
    n, s = 0, int(size)
    while s > bottleneck and s % 2 == 0:
        s //= 2
        n += 1
    if s != bottleneck or n < 1:
        raise ConfigError(f"AMIE resolution must be {bottleneck} x a power of two (>= {2 * bottleneck}), got {size}")
    return n


class MFCCWindows(nn.Module):
    """Speech → one ``n_mfcc x steps`` MFCC window per video frame (AMIE §4.1: "MFCC features at the
    sampling rate of 5000Hz ... each frame with an MFCC audio input with a size of 20 × 13").

    The MFCCs come from talkzoo's :class:`~talkzoo.audio.encoders.MelSpectrogramEncoder` (power STFT,
    Slaney mel bank, log, orthonormal DCT-II). "5000 Hz" is realised as a band limit instead of a
    resampling: the mel bank spans ``0..f_max = 2500`` Hz, the whole band of audio sampled at 5 kHz,
    so the features carry exactly the information 5 kHz audio carries while the waveform stays at
    the corpus rate (16 kHz) and no resampler runs per window (our reading; see the README). The
    STFT hop is ``sample_rate / (fps * steps)`` samples (2 ms at 25 fps and 20 steps), so video
    frame ``t`` gets MFCC steps ``t*steps .. t*steps + steps - 1``: the 40 ms of audio under that
    frame, each step a ``win_ms`` window centred on its hop position.

    Frames are computed over any frame range with a margin of audio on both sides, so a window of
    frames computed alone equals the same frames of the whole clip exactly (memory flat in length,
    :meth:`forward` with ``start``).

    Args:
        sample_rate: input sample rate in Hz (16000 in talkzoo).
        fps: video frame rate.
        steps: MFCC steps per video frame (20).
        n_mfcc: cepstral coefficients (13).
        n_mels: mel bands (26, the python_speech_features default).
        win_ms: analysis window in milliseconds (25).
        f_max: top of the mel bank in Hz (2500 = the Nyquist frequency of 5 kHz audio).

    Raises:
        ConfigError: a frame is not a whole number of hops, or the hop is below one sample.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        fps: float = 25.0,
        steps: int = 20,
        n_mfcc: int = 13,
        n_mels: int = 26,
        win_ms: float = 25.0,
        f_max: float = 2500.0,
    ) -> None:
        super().__init__()
        per_frame = sample_rate / fps
        hop = per_frame / steps
        if hop < 1 or abs(hop - round(hop)) > 1e-6 or abs(per_frame - round(per_frame)) > 1e-6:
            raise ConfigError(
                f"MFCC windows: {sample_rate} Hz at {fps} fps with {steps} steps per frame needs an integer hop "
                f"(got {hop:.3f} samples)"
            )
        self.sample_rate, self.fps, self.steps, self.n_mfcc = int(sample_rate), float(fps), int(steps), int(n_mfcc)
        self.hop = int(round(hop))
        self.per_frame = int(round(per_frame))
        win = int(round(win_ms * sample_rate / 1000.0))
        n_fft = 1 << max(win - 1, 1).bit_length()
        self.margin = ((win // 2) // self.hop + 1) * self.hop  # whole hops covering half a window
        self.mfcc = MelSpectrogramEncoder(
            sample_rate=sample_rate, n_mels=n_mels, n_fft=n_fft, hop_length=self.hop, win_length=win,
            f_max=min(float(f_max), sample_rate / 2.0), mfcc=n_mfcc, normalize="none",
        )

    def forward(self, audio: Tensor, audio_mask: Tensor | None, num_frames: int, start: int = 0) -> Tensor:
        """MFCC windows of video frames ``start .. start + num_frames - 1``.

        Args:
            audio: ``(B, S)`` float32 waveform at ``sample_rate`` Hz; sample 0 is the start of frame 0
                (the whole clip's audio, or any longer waveform).
            audio_mask: ``(B, S)`` bool, ``True`` on real samples (padding is treated as silence), or ``None``.
            num_frames: frames wanted (>= 1).
            start: first frame wanted.

        Returns:
            ``(B, num_frames, n_mfcc, steps)`` float32 MFCCs (natural-log mel energies, DCT-II ortho).

        Raises:
            DataError: ``audio`` is not ``(B, S)``, or ``num_frames < 1``.
        """
        if audio.dim() != 2:
            raise DataError(f"AMIE audio must be a (B, S) batch of mono waveforms, got shape {tuple(audio.shape)}")
        if num_frames < 1:
            raise DataError(f"AMIE: num_frames must be >= 1, got {num_frames}")
        if audio_mask is not None:
            audio = audio * audio_mask.to(audio.dtype)
        a0 = start * self.per_frame - self.margin
        a1 = (start + num_frames) * self.per_frame + self.margin
        lo, hi = max(a0, 0), min(a1, audio.shape[1])
        piece = audio[:, lo:hi] if hi > lo else audio.new_zeros(audio.shape[0], 0)
        piece = F.pad(piece, (lo - a0, a1 - max(hi, lo)))  # silence outside the waveform
        piece = piece[:, :-1]  # length m*hop - 1 -> exactly m STFT frames with center=True
        total = 1 + piece.shape[1] // self.hop
        with torch.autocast(device_type=audio.device.type, enabled=False):
            feats = self.mfcc(piece.float(), None, total)  # (B, total, n_mfcc), identity interpolation
        first = self.margin // self.hop
        feats = feats[:, first : first + num_frames * self.steps]
        return feats.reshape(audio.shape[0], num_frames, self.steps, self.n_mfcc).transpose(2, 3).contiguous()
