"""Reading, writing and resampling speech audio.

Every waveform in talkzoo is a mono ``float32`` tensor in ``[-1, 1]`` at a known sample rate
(16 kHz for the wav2vec 2.0 / HuBERT front-ends). Files are read with ``soundfile``
(libsndfile: WAV, FLAC, OGG/Vorbis, MP3 and the other libsndfile formats) and resampled with
``soxr`` (the SoX resampler, ``"HQ"`` quality: a linear-phase polyphase filter whose pass band
is flat to ~91 % of the lower Nyquist frequency and whose stop band is attenuated by > 140 dB).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch
from torch import Tensor

from talkzoo.errors import DataError

__all__ = ["TruncatedAudioWarning", "load_audio", "save_audio", "resample", "wav_shortfall"]


class TruncatedAudioWarning(UserWarning):
    """An audio file holds fewer bytes than its header declares (a cut or partly copied file)."""


def wav_shortfall(path: str | os.PathLike) -> tuple[int, int] | None:
    """For a RIFF/RIFX WAVE file whose ``data`` chunk is cut short: ``(bytes present, bytes declared)``.

    Reads only the chunk headers. Returns ``None`` for complete files, for non-WAV files, and for
    streamed WAVs whose header leaves the length open (``0`` or ``0xFFFFFFFF``, RF64).
    """
    path = Path(path)
    try:
        size_on_disk = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
                return None
            order = "little" if head[:4] == b"RIFF" else "big"
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                size = int.from_bytes(chunk[4:], order)
                if chunk[:4] == b"data":
                    present = size_on_disk - handle.tell()
                    if size in (0, 0xFFFFFFFF) or present >= size:
                        return None
                    return max(present, 0), size
                handle.seek(size + (size & 1), 1)
    except OSError:
        return None

#: soxr quality recipe used by :func:`resample` ("HQ": 20-bit precision, linear phase).
SOXR_QUALITY = "HQ"


def resample(waveform: Tensor | np.ndarray, orig_sr: int, new_sr: int) -> Tensor:
    """Resample audio from ``orig_sr`` Hz to ``new_sr`` Hz with the SoX resampler (``soxr``, HQ).

    Args:
        waveform: ``(S,)`` mono or ``(C, S)`` multi-channel audio (time on the last axis), any
            float dtype, as a torch tensor or numpy array.
        orig_sr: sample rate of ``waveform`` in Hz.
        new_sr: wanted sample rate in Hz.

    Returns:
        ``float32`` tensor of shape ``(S',)`` or ``(C, S')`` with
        ``S' = ceil(S * new_sr / orig_sr)`` (soxr's length convention), on the input's device
        (a numpy input gives a CPU tensor). Equal rates return a float32 copy unchanged.
        The operation is not differentiable (it runs in numpy on the CPU).

    Raises:
        DataError: a sample rate is not a positive integer, or ``waveform`` is not 1-D or 2-D.
    """
    for name, rate in (("orig_sr", orig_sr), ("new_sr", new_sr)):
        if int(rate) != rate or rate <= 0:
            raise DataError(f"resample: {name} must be a positive integer number of Hz, got {rate!r}")
    device = waveform.device if isinstance(waveform, Tensor) else torch.device("cpu")
    array = waveform.detach().cpu().numpy() if isinstance(waveform, Tensor) else np.asarray(waveform)
    if array.ndim not in (1, 2):
        raise DataError(f"resample: expected a (S,) or (C, S) waveform, got shape {tuple(array.shape)}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if int(orig_sr) != int(new_sr) and array.shape[-1] > 0:
        # soxr wants (frames, channels); our convention is (channels, frames).
        frames_first = array if array.ndim == 1 else array.T
        out = soxr.resample(frames_first, int(orig_sr), int(new_sr), quality=SOXR_QUALITY)
        array = out if array.ndim == 1 else out.T
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(device)


def load_audio(path: str | os.PathLike, sample_rate: int = 16000) -> Tensor:
    """Read an audio file as a mono waveform at ``sample_rate`` Hz.

    Multi-channel audio is mixed to mono by averaging the channels; a file whose rate differs
    from ``sample_rate`` is resampled with :func:`resample` (soxr HQ). Integer PCM is scaled to
    ``[-1, 1)`` by libsndfile; float files and the resampler's slight overshoot are clipped to
    ``[-1, 1]``.

    Args:
        path: a WAV, FLAC, OGG/Vorbis or MP3 file (anything libsndfile reads).
        sample_rate: wanted sample rate in Hz (16000 for wav2vec 2.0 / HuBERT).

    Returns:
        ``(S,)`` float32 CPU tensor in ``[-1, 1]``, ``S`` samples at ``sample_rate`` Hz.

    Raises:
        DataError: the file is missing or a folder, libsndfile cannot read it (corrupt or not
            audio), it holds no samples, or it holds NaN/inf samples. The message names the file.

    Warns:
        TruncatedAudioWarning: a WAV file is shorter than its header declares (see
            :func:`wav_shortfall`); the samples present are returned.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"audio file not found: {path}")
    if not path.is_file():
        raise DataError(f"audio path is not a file: {path}")
    short = wav_shortfall(path)
    if short is not None:
        warnings.warn(
            f"audio file {path} is shorter than its header says ({short[0]} of {short[1]} data bytes, "
            f"{100.0 * short[0] / short[1]:.0f} %); it looks truncated, only the samples present are used",
            TruncatedAudioWarning,
            stacklevel=2,
        )
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, EOFError, ValueError) as err:
        raise DataError(
            f"cannot read audio file {path}: {err}. Expected a WAV, FLAC, OGG or MP3 file "
            "that libsndfile (soundfile) can decode."
        ) from err
    if data.size == 0:
        raise DataError(f"audio file {path} holds no samples (zero-length audio); expected speech")
    if not np.isfinite(data).all():
        raise DataError(f"audio file {path} holds NaN or infinite samples; expected finite values in [-1, 1]")
    mono = data.mean(axis=1)
    wave = resample(mono, int(file_rate), int(sample_rate)) if file_rate != sample_rate else torch.from_numpy(mono)
    return wave.clamp_(-1.0, 1.0).contiguous()


def save_audio(path: str | os.PathLike, waveform: Tensor | np.ndarray, sample_rate: int) -> Path:
    """Write audio as a 16-bit PCM WAV file, atomically.

    The file is written to a temporary file in the destination folder and moved into place with
    ``os.replace``, so a reader never sees a half-written file. Missing parent folders are made.
    Samples outside ``[-1, 1]`` are clipped.

    Args:
        path: destination ``.wav`` path.
        waveform: ``(S,)`` mono or ``(C, S)`` multi-channel float audio in ``[-1, 1]``.
        sample_rate: sample rate of ``waveform`` in Hz.

    Returns:
        The destination path.

    Raises:
        DataError: ``waveform`` is empty, not 1-D/2-D, or holds NaN/inf; or the sample rate is not
            a positive integer.
    """
    path = Path(path)
    array = waveform.detach().float().cpu().numpy() if isinstance(waveform, Tensor) else np.asarray(waveform, np.float32)
    if array.ndim not in (1, 2) or array.shape[-1] == 0:
        raise DataError(f"save_audio {path}: expected a non-empty (S,) or (C, S) waveform, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise DataError(f"save_audio {path}: waveform holds NaN or infinite samples")
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise DataError(f"save_audio {path}: sample_rate must be a positive integer (Hz), got {sample_rate!r}")
    frames_first = np.clip(array if array.ndim == 1 else array.T, -1.0, 1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, frames_first, int(sample_rate), subtype="PCM_16", format="WAV")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
