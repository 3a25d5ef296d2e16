"""Write and inspect mp4 files: H.264 video (yuv420p) with an AAC audio track, through PyAV.

:func:`write_video` streams frames (an array or any iterator of frames) into the encoder, so a
long sequence never has to sit in memory, and writes atomically: the file is built under a
temporary name in the target folder and moved into place with :func:`os.replace` only once
it is complete. A failure part-way (a bad frame, an exception raised by the frame generator,
Ctrl-C) leaves no partial file behind; an existing file at the target path is left untouched
in that case.

:func:`read_video_info` decodes a file and reports exact frame count, frame rate, size and
audio duration; the tests and the ``talkzoo`` inference verb use it to check outputs.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from talkzoo.errors import ConfigError, DataError

__all__ = ["write_video", "read_video_info", "AAC_SAMPLE_RATES"]

#: Sampling rates (Hz) the AAC format defines; other rates are resampled to 48 kHz.
AAC_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)

_AAC_FRAME = 1024  # samples per AAC frame
_AUDIO_BITRATE = 128_000  # bits per second; plenty for mono speech


def _to_numpy(x: Any) -> np.ndarray:
    """Turn a numpy array, a torch tensor (any device) or a nested sequence into a numpy array."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _check_frame(frame: Any, index: int, expected_hw: tuple[int, int] | None) -> np.ndarray:
    arr = _to_numpy(frame)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise DataError(f"frames[{index}]: expected an (H, W, 3) RGB image, got shape {tuple(arr.shape)}")
    if arr.dtype != np.uint8:
        raise DataError(
            f"frames[{index}]: expected dtype uint8 (0..255), got {arr.dtype}; "
            "convert with (np.clip(x, 0, 1) * 255).round().astype(np.uint8)"
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise DataError(f"frames[{index}]: empty image of shape {tuple(arr.shape)}")
    if expected_hw is not None and arr.shape[:2] != expected_hw:
        raise DataError(
            f"frames[{index}]: size {arr.shape[0]}x{arr.shape[1]} (HxW) differs from the first "
            f"frame's {expected_hw[0]}x{expected_hw[1]}; all frames must have one size"
        )
    return arr


def _make_even(arr: np.ndarray) -> np.ndarray:
    """Pad an (H, W, 3) image by repeating its last row/column so both sides are even (yuv420p)."""
    pad_h = arr.shape[0] % 2
    pad_w = arr.shape[1] % 2
    if pad_h or pad_w:
        arr = np.pad(arr, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return np.ascontiguousarray(arr)


def _iter_frames(frames: Any) -> Iterator[Any]:
    if isinstance(frames, np.ndarray) or (hasattr(frames, "detach") and hasattr(frames, "cpu")):
        arr = _to_numpy(frames)
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise DataError(f"frames: expected a (T, H, W, 3) uint8 RGB array, got shape {tuple(arr.shape)}")
        return iter(arr)
    if isinstance(frames, (str, bytes)) or not isinstance(frames, Iterable):
        raise DataError(
            f"frames: expected a (T, H, W, 3) uint8 array or an iterable of (H, W, 3) frames, "
            f"got {type(frames).__name__}"
        )
    return iter(frames)


def _check_audio(audio: Any, sample_rate: int | None) -> tuple[np.ndarray, int] | None:
    if audio is None:
        return None
    arr = _to_numpy(audio)
    if arr.ndim == 2 and 1 in arr.shape:  # (1, N) or (N, 1): a single channel
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise DataError(f"audio: expected a 1-D mono waveform (N,), got shape {tuple(arr.shape)}")
    if arr.size == 0:
        raise DataError("audio: the waveform is empty (0 samples)")
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"audio: expected float samples in [-1, 1], got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise DataError("audio: the waveform contains NaN or infinite samples")
    if sample_rate is None:
        raise DataError("sample_rate: required (in Hz) when audio is given")
    if isinstance(sample_rate, bool) or not float(sample_rate).is_integer() or int(sample_rate) <= 0:
        raise DataError(f"sample_rate: expected a positive integer number of Hz, got {sample_rate!r}")
    return np.clip(arr.astype(np.float32), -1.0, 1.0), int(sample_rate)


def _fps_fraction(fps: float) -> Fraction:
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise ConfigError(f"fps: expected a positive number of frames per second, got {fps!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"fps: expected a positive number of frames per second, got {fps!r}")
    # 29.97... -> 30000/1001, 25.0 -> 25; exact for the rates video actually uses.
    return Fraction(value).limit_denominator(1001)


def _resample_linear(wave: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Linear-interpolation resampling; only used for rates AAC cannot store (rare)."""
    n_out = max(1, int(round(wave.size * dst_rate / src_rate)))
    t_out = np.arange(n_out, dtype=np.float64) * (src_rate / dst_rate)
    return np.interp(t_out, np.arange(wave.size, dtype=np.float64), wave).astype(np.float32)


def write_video(
    path: str | os.PathLike[str],
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    audio: Any = None,
    sample_rate: int | None = None,
    crf: int = 18,
    threads: int | None = None,
) -> Path:
    """Encode RGB frames (and optionally a mono waveform) into an mp4 file, atomically.

    Args:
        path: output file; written as mp4 whatever its suffix. Missing parent folders are
            created. An existing file there is replaced only once the new one is complete.
        frames: either a ``(T, H, W, 3)`` ``uint8`` RGB array (numpy or torch), or any iterable /
            generator of ``(H, W, 3)`` ``uint8`` RGB frames, all of one size. Frames are encoded
            as they arrive, so a generator streams without holding the sequence in memory.
            Odd ``H`` or ``W`` are padded by one repeated row/column (yuv420p needs even sizes).
        fps: frame rate in frames per second (> 0). Rates like 29.97 are stored as 30000/1001.
        audio: optional mono waveform, shape ``(N,)`` (``(1, N)`` / ``(N, 1)`` accepted), float
            samples in [-1, 1] (values outside are clipped), numpy array or torch tensor.
            Encoded as AAC; its duration ``N / sample_rate`` is kept whatever the video length.
        sample_rate: sampling rate of ``audio`` in Hz; required when ``audio`` is given. Rates AAC
            cannot store (anything not in :data:`AAC_SAMPLE_RATES`) are resampled to 48 kHz.
        crf: x264 constant rate factor, 0 (lossless) .. 51 (worst); 18 is visually lossless.
        threads: x264 encoder threads; ``None`` lets x264 choose (fastest). x264's output depends
            on its thread count, so pass a fixed number (1) for files that must be byte-identical
            across machines.

    Returns:
        The output path as a :class:`pathlib.Path`.

    Raises:
        DataError: a frame is not ``(H, W, 3)`` ``uint8`` or differs in size from the first, there
            are no frames, the audio is not a finite 1-D float waveform, or ``sample_rate`` is
            missing / not a positive integer. The message names the field (``frames[i]``,
            ``audio``, ``sample_rate``).
        ConfigError: ``fps`` is not a positive finite number or ``crf`` is out of 0..51.

    Any exception raised while frames are produced (including by the caller's generator) is
    re-raised after the temporary file is deleted; no partial output is ever left at ``path``.
    """
    import av  # imported here so that importing talkzoo.render stays cheap

    rate = _fps_fraction(fps)
    if isinstance(crf, bool) or not isinstance(crf, (int, np.integer)) or not 0 <= int(crf) <= 51:
        raise ConfigError(f"crf: expected an integer in 0..51, got {crf!r}")
    checked_audio = _check_audio(audio, sample_rate)
    if checked_audio is not None and checked_audio[1] not in AAC_SAMPLE_RATES:
        wave, sr = checked_audio
        checked_audio = (_resample_linear(wave, sr, 48000), 48000)

    frame_iter = _iter_frames(frames)
    try:
        first = next(frame_iter)
    except StopIteration:
        raise DataError("frames: no frames to write (T = 0)") from None
    first = _check_frame(first, 0, None)
    hw = (int(first.shape[0]), int(first.shape[1]))

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    container = None
    try:
        mux_options = {"movflags": "+faststart"}
        if checked_audio is not None:
            # Edit lists (which trim AAC priming/padding) are stored in the movie timescale;
            # the default 1/1000 s would round the audio duration to whole milliseconds.
            mux_options["movie_timescale"] = str(checked_audio[1])
        container = av.open(str(tmp), mode="w", format="mp4", options=mux_options)
        x264_options = {"crf": str(int(crf))}
        if threads is not None:
            x264_options["threads"] = str(int(threads))
        vstream = container.add_stream("libx264", rate=rate, options=x264_options)
        vstream.width = hw[1] + hw[1] % 2
        vstream.height = hw[0] + hw[0] % 2
        vstream.pix_fmt = "yuv420p"
        vstream.codec_context.time_base = 1 / rate

        astream = None
        if checked_audio is not None:
            wave, sr = checked_audio
            astream = container.add_stream("aac", rate=sr, layout="mono")
            astream.bit_rate = _AUDIO_BITRATE
            astream.codec_context.time_base = Fraction(1, sr)
        audio_pos = 0  # samples of audio already sent to the encoder

        def push_audio(until: int) -> None:
            """Encode whole AAC frames of audio up to sample ``until`` (the tail when until=N)."""
            nonlocal audio_pos
            if astream is None:
                return
            until = min(until, wave.size)
            while audio_pos < until:
                stop = min(audio_pos + _AAC_FRAME, wave.size)
                if stop > until and stop != wave.size:
                    break
                chunk = wave[audio_pos:stop].reshape(1, -1)
                aframe = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
                aframe.sample_rate = sr
                aframe.pts = audio_pos
                aframe.time_base = Fraction(1, sr)
                for packet in astream.encode(aframe):
                    container.mux(packet)
                audio_pos = stop

        def push_video(arr: np.ndarray, index: int) -> None:
            vframe = av.VideoFrame.from_ndarray(_make_even(arr), format="rgb24")
            vframe.pts = index
            vframe.time_base = 1 / rate
            for packet in vstream.encode(vframe):
                container.mux(packet)
            if astream is not None:  # keep audio interleaved with video as we go
                push_audio(int(math.floor((index + 1) / rate * sr)))

        push_video(first, 0)
        count = 1
        for frame in frame_iter:
            push_video(_check_frame(frame, count, hw), count)
            count += 1
        if astream is not None:
            push_audio(wave.size)
            for packet in astream.encode(None):
                container.mux(packet)
        for packet in vstream.encode(None):
            container.mux(packet)
        container.close()
        container = None
        os.replace(tmp, out)
    except BaseException:
        if container is not None:
            try:
                container.close()
            except Exception:  # the original error is the one worth reporting
                pass
        tmp.unlink(missing_ok=True)
        raise
    return out


def read_video_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Decode a video file completely and report what it holds.

    Args:
        path: a video file PyAV can read (mp4 from :func:`write_video`, or any other).

    Returns:
        ``dict`` with keys

        - ``num_frames`` (int): decoded video frames, counted exactly (not the header estimate);
        - ``fps`` (float): frame rate in frames per second (average rate of the stream);
        - ``width``, ``height`` (int): frame size in pixels;
        - ``audio_duration_s`` (float | None): audio duration in seconds: the stream's declared
          duration (which trims AAC padding through the mp4 edit list) when the container gives
          one, else decoded samples / sample rate (``None`` without an audio stream);
        - ``audio_sample_rate`` (int | None): audio sampling rate in Hz (``None`` without audio).

    Raises:
        DataError: the file does not exist, cannot be decoded, or has no video stream.
    """
    import av

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such video file")
    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise DataError(f"{p}: the file has no video stream")
            vstream = container.streams.video[0]
            rate = vstream.average_rate or vstream.guessed_rate or vstream.base_rate
            width = vstream.codec_context.width
            height = vstream.codec_context.height
            num_frames = 0
            for frame in container.decode(video=0):
                num_frames += 1
                width, height = frame.width, frame.height
        audio_duration = None
        audio_rate = None
        with av.open(str(p)) as container:
            if container.streams.audio:
                astream = container.streams.audio[0]
                audio_rate = int(astream.codec_context.sample_rate or astream.rate)
                samples = 0
                for aframe in container.decode(audio=0):
                    samples += aframe.samples
                audio_duration = samples / audio_rate
                if astream.duration and astream.time_base:
                    # The container's declared duration honours the mp4 edit list, which trims
                    # the encoder's padding of the last AAC frame; decoding returns whole frames.
                    audio_duration = min(audio_duration, float(astream.duration * astream.time_base))
    except DataError:
        raise
    except (av.error.FFmpegError, OSError) as exc:
        raise DataError(f"{p}: cannot decode the video file ({exc})") from exc
    return {
        "num_frames": num_frames,
        "fps": float(rate) if rate else float("nan"),
        "width": int(width),
        "height": int(height),
        "audio_duration_s": audio_duration,
        "audio_sample_rate": audio_rate,
    }
