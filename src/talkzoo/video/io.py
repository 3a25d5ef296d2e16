"""Read talking-face videos: frames as uint8 tensors with random access, the audio track, frame folders.

Reading goes through **decord** (``decord.VideoReader`` for frames and frame timestamps,
``decord.AudioReader`` for the audio track), as the design card asks; container headers (frame size, whether
there is an audio stream) are read with **PyAV** without decoding. A folder of still images (the
layout FOMM's ``video-preprocessing`` writes for VoxCeleb: ``<video>.mp4/0000000.png``, and
CelebV's ``<Name>/Image/*.jpg``) is read with Pillow, one file per frame, in file-name order.

MPEG program streams (``.mpg``/``.mpeg``/``.vob``, GRID's release format) are read with PyAV
instead: decord 0.6 returns all-zero timestamps and black frames for them (measured here). PyAV
decodes such a (short) file sequentially up to the last frame asked for, and aligns its audio to
the first video frame from the streams' start times.

Writing is not here: :func:`talkzoo.render.video.write_video` (PyAV; H.264 yuv420p + AAC, atomic)
is the one writer, re-exported by :mod:`talkzoo.video`.

Conventions
-----------
* Frames are ``uint8`` RGB, ``(T, H, W, 3)`` (``channels_first=True``: ``(T, 3, H, W)``).
* Audio is decoded by decord at the stream's own rate, mixed to mono, and resampled with soxr
  (:func:`talkzoo.audio.io.resample`; decord's own resampler delays the signal by a few samples).
* Audio is ``float32`` mono in [-1, 1] at the requested rate, starting at the first video frame
  (decord honours the mp4 edit list that trims AAC priming; checked by the tests with clicks
  written at every frame start). Its length is the stream's declared duration × rate (decoders
  return whole AAC frames; the padding of the last one is cut off).
* Frame ``k`` of a stream at ``fps`` covers ``[k / fps, (k + 1) / fps)`` seconds; the audio of
  frames ``[t0, t1)`` is samples ``[round(t0 * sr / fps), round(t1 * sr / fps))``
  (:func:`audio_span`, exact rational arithmetic, halves rounded up).
* Frame-rate conversion (:func:`convert_frame_indices`) is sample-and-hold: target frame ``k``
  (time ``k / dst_fps``) shows the latest source frame that has started by then,
  ``floor(k * src_fps / dst_fps)``; for an integer ratio this is plain decimation (``[::r]``).
  The family's standard rate is :data:`DEFAULT_FPS` = 25 (FLOAT §5.1, following FOMM).

Errors are :class:`~talkzoo.errors.DataError` naming the file: missing/undecodable file, no video
stream, no audio track when audio is asked for, a variable frame rate, an index out of range.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from talkzoo.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_FPS",
    "IMAGE_SUFFIXES",
    "VideoInfo",
    "VideoSource",
    "audio_span",
    "check_constant_frame_rate",
    "convert_frame_indices",
    "open_video",
    "probe_video",
    "read_audio_track",
    "read_frames",
    "slice_audio_for_frames",
]

#: The frame rate of the 2D families (FLOAT §5.1: "convert each video to 25 FPS", after FOMM).
DEFAULT_FPS = 25.0
#: File suffixes read as frames of a frame folder (lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
#: Container suffixes read with PyAV rather than decord (MPEG program streams; see the module docstring).
PYAV_SUFFIXES = (".mpg", ".mpeg", ".vob")


def _import_decord() -> Any:
    try:
        import decord
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DataError(
            "reading video needs decord (pip install 'decord>=0.6' or pip install 'talkzoo[video]')"
        ) from exc
    return decord


def _fraction(value: float, name: str) -> Fraction:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a positive number, got {value!r}") from None
    if not math.isfinite(f) or f <= 0:
        raise ConfigError(f"{name}: expected a positive number, got {value!r}")
    # 25 -> 25, 29.97002997 -> 30000/1001: exact for the rates video uses.
    return Fraction(f).limit_denominator(1001)


# --------------------------------------------------------------------------------------------
# pure timing helpers
# --------------------------------------------------------------------------------------------
def audio_span(t0: int, t1: int, fps: float, sample_rate: int) -> tuple[int, int]:
    """Sample range of the audio that belongs to video frames ``[t0, t1)``.

    Args:
        t0: first frame index (>= 0).
        t1: one past the last frame index (>= t0).
        fps: video frame rate in frames per second.
        sample_rate: audio rate in Hz.

    Returns:
        ``(s0, s1)`` with ``s = round(t * sample_rate / fps)`` computed exactly (rational
        arithmetic, halves rounded up), so consecutive windows tile the audio without gaps or
        overlaps: at 25 fps and 16 kHz frame ``k`` owns samples ``[640 k, 640 (k + 1))``.

    Raises:
        ConfigError: ``t1 < t0``, a negative index, or a non-positive rate.
    """
    if t0 < 0 or t1 < t0:
        raise ConfigError(f"audio_span: expected 0 <= t0 <= t1, got t0={t0}, t1={t1}")
    if sample_rate <= 0 or int(sample_rate) != sample_rate:
        raise ConfigError(f"sample_rate: expected a positive integer of Hz, got {sample_rate!r}")
    per_frame = Fraction(int(sample_rate)) / _fraction(fps, "fps")
    return math.floor(t0 * per_frame + Fraction(1, 2)), math.floor(t1 * per_frame + Fraction(1, 2))


def slice_audio_for_frames(audio: Tensor, t0: int, t1: int, fps: float, sample_rate: int) -> tuple[Tensor, Tensor]:
    """Cut the audio of frames ``[t0, t1)`` out of a waveform that starts at frame 0.

    Args:
        audio: ``(S,)`` float32 mono waveform at ``sample_rate`` Hz, aligned to frame 0.
        t0: first frame; t1: one past the last frame (see :func:`audio_span`).
        fps: video frame rate (frames/s); sample_rate: audio rate (Hz).

    Returns:
        ``(segment, mask)``: ``(s1 - s0,)`` float32 samples (zero where the waveform ends early)
        and ``(s1 - s0,)`` bool, ``True`` on real samples.

    Raises:
        DataError: ``audio`` is not a 1-D ``(S,)`` waveform.
        ConfigError: see :func:`audio_span`.
    """
    if audio.ndim != 1:
        raise DataError(f"audio: expected a mono waveform of shape (S,), got {tuple(audio.shape)}")
    s0, s1 = audio_span(t0, t1, fps, sample_rate)
    out = audio.new_zeros(s1 - s0)
    mask = torch.zeros(s1 - s0, dtype=torch.bool)
    have = max(0, min(s1, audio.shape[0]) - s0)
    if have:
        out[:have] = audio[s0 : s0 + have]
        mask[:have] = True
    return out, mask


def convert_frame_indices(num_frames: int, src_fps: float, dst_fps: float = DEFAULT_FPS) -> np.ndarray:
    """Map the frames of a ``dst_fps`` stream onto the frames of a ``src_fps`` video.

    Target frame ``k`` starts at ``k / dst_fps`` s and shows the latest source frame started by
    then: ``floor(k * src_fps / dst_fps)`` (exact rational arithmetic). Target frames are those
    starting before the source ends, ``ceil(num_frames * dst_fps / src_fps)`` of them. Equal rates
    give ``arange(num_frames)``; 50 → 25 fps gives ``[0, 2, 4, ...]``; 30 → 25 fps drops every
    sixth frame; 20 → 25 fps repeats every fourth.

    Args:
        num_frames: frames in the source video (>= 0).
        src_fps: source frame rate (frames/s), e.g. 29.97 (stored as 30000/1001).
        dst_fps: wanted frame rate (frames/s), 25 by default.

    Returns:
        ``(M,)`` int64 source indices, non-decreasing, all in ``[0, num_frames)``.

    Raises:
        ConfigError: a non-positive rate or a negative frame count.
    """
    if num_frames < 0:
        raise ConfigError(f"num_frames: expected >= 0, got {num_frames}")
    src, dst = _fraction(src_fps, "src_fps"), _fraction(dst_fps, "dst_fps")
    count = math.ceil(Fraction(int(num_frames)) * dst / src)
    ratio = src / dst
    k = np.arange(count, dtype=np.int64)
    idx = (k * ratio.numerator) // ratio.denominator
    return np.minimum(idx, max(num_frames - 1, 0)).astype(np.int64)


def check_constant_frame_rate(
    timestamps: np.ndarray, path: str | os.PathLike[str], *, rel_tol: float = 0.1, abs_tol: float = 0.002
) -> float | None:
    """Check that frame start times are evenly spaced and return the frame rate they imply.

    Args:
        timestamps: ``(N,)`` frame start times in seconds, in presentation order (from
            ``decord.VideoReader.get_frame_timestamp``).
        path: the file, for the message.
        rel_tol: largest allowed deviation of one frame interval from the median interval, as a
            fraction of it (10 %: the 33/34 ms steps of 29.97 fps in a 1 ms time base pass).
        abs_tol: deviations below this many seconds always pass.

    Returns:
        ``1 / median interval`` in frames per second, or ``None`` with fewer than two frames.

    Raises:
        DataError: variable frame rate (an interval off by more than the tolerance) or
            non-increasing timestamps; the message names the file, the intervals found, and how
            to convert it (``talkzoo data prepare`` or ``ffmpeg -i IN -r 25 OUT``).
    """
    ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
    if ts.size < 2:
        return None
    d = np.diff(ts)
    median = float(np.median(d))
    if median <= 0 or np.any(d <= 0):
        raise DataError(f"{path}: frame timestamps are not increasing; the file is damaged or not a plain video")
    dev = np.abs(d - median)
    bad = dev > max(abs_tol, rel_tol * median)
    if np.any(bad):
        raise DataError(
            f"{path}: variable frame rate (frame intervals from {d.min() * 1000:.1f} to {d.max() * 1000:.1f} ms, "
            f"{int(bad.sum())} of {d.size} off the median {median * 1000:.1f} ms); expected a constant-frame-rate "
            "video. Convert it first, e.g. `talkzoo data prepare` or `ffmpeg -i IN -r 25 -ar 16000 OUT.mp4`"
        )
    return 1.0 / median


# --------------------------------------------------------------------------------------------
# probing and reading
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoInfo:
    """What a video file or frame folder holds (header values; frame count from the index).

    Attributes:
        path: the file or folder.
        num_frames: frames in the stream (decord's index, or images in the folder).
        fps: frame rate in frames per second (the folder's assumed rate for frame folders).
        height: frame height in pixels; width: frame width in pixels.
        has_audio: whether the container has an audio stream (always False for frame folders).
        audio_sample_rate: rate of that stream in Hz, or ``None``.
        audio_duration_s: declared duration of the audio stream in seconds, or ``None``.
        is_frame_folder: True for a folder of images.
    """

    path: Path
    num_frames: int
    fps: float
    height: int
    width: int
    has_audio: bool
    audio_sample_rate: int | None
    audio_duration_s: float | None
    is_frame_folder: bool = False

    @property
    def duration_s(self) -> float:
        """Video duration ``num_frames / fps`` in seconds."""
        return self.num_frames / self.fps if self.fps > 0 else 0.0


def _frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"{path}: cannot read the frame image ({exc}); expected a PNG or JPEG file") from exc


class VideoSource:
    """An opened video — a container file through decord, or a frame folder — with random access.

    Open one per item in a dataset (``with open_video(path) as v: ...``); nothing is decoded until
    :meth:`get_frames` / :meth:`get_audio` is called, and only the frames asked for are decoded
    (decord seeks to the key frame before each requested index), so long videos never sit in
    memory. Safe in DataLoader workers: no state is shared between processes.

    Args:
        path: a video file FFmpeg reads (mp4, mpg, avi, mov, ...) or a folder of images.
        folder_fps: frame rate of a frame folder (frames/s; images carry no timing). Ignored for files.
        check_cfr: raise on a variable-frame-rate file (see :func:`check_constant_frame_rate`).
        num_threads: decoder threads (1 keeps DataLoader workers from oversubscribing the CPU).
        audio_path: a sidecar audio file (wav/flac) used when the container has no audio track
            (GRID ships its 50 kHz audio separately).

    Raises:
        DataError: missing path, undecodable file, no video stream, empty folder, VFR.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        folder_fps: float = DEFAULT_FPS,
        check_cfr: bool = True,
        num_threads: int = 1,
        audio_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.audio_path = Path(audio_path) if audio_path is not None else None
        self._reader: Any = None
        self._pyav: _PyAVVideo | None = None
        self._files: list[Path] | None = None
        if not self.path.exists():
            raise DataError(f"{self.path}: no such video file or frame folder")
        if self.path.is_dir():
            files = _frame_files(self.path)
            if not files:
                raise DataError(
                    f"{self.path}: frame folder holds no images; expected files like 0000000.png "
                    f"(suffixes {', '.join(IMAGE_SUFFIXES)})"
                )
            self._files = files
            first = _read_image(files[0])
            self.info = VideoInfo(
                path=self.path,
                num_frames=len(files),
                fps=float(folder_fps),
                height=int(first.shape[0]),
                width=int(first.shape[1]),
                has_audio=False,
                audio_sample_rate=None,
                audio_duration_s=None,
                is_frame_folder=True,
            )
            return
        header = _probe_header(self.path)
        if self.path.suffix.lower() in PYAV_SUFFIXES:
            self._pyav = _PyAVVideo(self.path)
            n = len(self._pyav.pts)
            if n == 0:
                raise DataError(f"{self.path}: the video stream holds no frames")
            fps = header["fps"] or 0.0
            measured = check_constant_frame_rate(self._pyav.pts, self.path) if (check_cfr and n > 1) else None
            if measured is not None and fps <= 0:
                fps = measured
            self.info = VideoInfo(
                path=self.path, num_frames=n, fps=float(fps), height=header["height"], width=header["width"],
                has_audio=header["has_audio"], audio_sample_rate=header["audio_sample_rate"],
                audio_duration_s=header["audio_duration_s"],
            )
            return
        decord = _import_decord()
        try:
            self._reader = decord.VideoReader(str(self.path), ctx=decord.cpu(0), num_threads=int(num_threads))
        except Exception as exc:  # decord raises DECORDError / RuntimeError
            raise DataError(f"{self.path}: cannot decode the video file ({_short(exc)})") from exc
        n = len(self._reader)
        if n == 0:
            raise DataError(f"{self.path}: the video stream holds no frames")
        fps = float(self._reader.get_avg_fps())
        if check_cfr and n > 1:
            measured = check_constant_frame_rate(self._reader.get_frame_timestamp(range(n))[:, 0], self.path)
            if measured is not None and (not math.isfinite(fps) or fps <= 0):
                fps = measured
        self.info = VideoInfo(
            path=self.path,
            num_frames=n,
            fps=fps,
            height=header["height"],
            width=header["width"],
            has_audio=header["has_audio"],
            audio_sample_rate=header["audio_sample_rate"],
            audio_duration_s=header["audio_duration_s"],
        )

    # -------------------------------------------------------------------- context management
    def close(self) -> None:
        """Release the decoder (also done on garbage collection)."""
        self._reader = None
        self._pyav = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.info.num_frames

    # -------------------------------------------------------------------- frames
    def timestamps(self) -> np.ndarray:
        """``(N,)`` float64 frame start times in seconds (``k / folder_fps`` for a folder)."""
        if self._files is not None:
            return np.arange(len(self._files), dtype=np.float64) / self.info.fps
        if self._pyav is not None:
            return self._pyav.pts - self._pyav.pts[0]
        return np.asarray(self._reader.get_frame_timestamp(range(len(self)))[:, 0], dtype=np.float64)

    def get_frames(self, indices: Any, *, channels_first: bool = False) -> Tensor:
        """Decode the frames at ``indices`` (any order, repeats allowed).

        Args:
            indices: a sequence / array of frame indices in ``[0, num_frames)``.
            channels_first: return ``(T, 3, H, W)`` instead of ``(T, H, W, 3)``.

        Returns:
            ``uint8`` RGB tensor ``(T, H, W, 3)`` or ``(T, 3, H, W)`` (a copy, contiguous).

        Raises:
            DataError: an index out of range, a frame folder image of another size, or a decode
                failure; the message names the file.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise DataError(f"{self.path}: frame index out of range (asked {idx.min()}..{idx.max()}, the video has {n})")
        h, w = self.info.height, self.info.width
        if idx.size == 0:
            arr = np.zeros((0, h, w, 3), dtype=np.uint8)
        elif self._files is not None:
            frames = []
            for i in idx.tolist():
                img = _read_image(self._files[i])
                if img.shape[:2] != (h, w):
                    raise DataError(
                        f"{self._files[i]}: frame is {img.shape[1]}x{img.shape[0]} (WxH) but the folder's "
                        f"first frame is {w}x{h}; all frames of a video must have one size"
                    )
                frames.append(img)
            arr = np.stack(frames)
        elif self._pyav is not None:
            arr = self._pyav.frames(idx)
        else:
            if self._reader is None:
                raise DataError(f"{self.path}: the video was closed")
            try:
                arr = self._reader.get_batch(idx.tolist()).asnumpy()
            except Exception as exc:
                raise DataError(f"{self.path}: cannot decode frames {idx.min()}..{idx.max()} ({_short(exc)})") from exc
        t = torch.from_numpy(np.ascontiguousarray(arr))
        return t.permute(0, 3, 1, 2).contiguous() if channels_first else t

    # -------------------------------------------------------------------- audio
    def get_audio(self, sample_rate: int = 16000) -> Tensor:
        """The whole audio track as mono float32 at ``sample_rate`` Hz, aligned to frame 0.

        Reads the container's audio stream with ``decord.AudioReader`` at the stream's rate (mixed
        to mono), trims it to the stream's declared duration and resamples it with soxr
        (:func:`talkzoo.audio.io.resample`); MPEG program streams go through PyAV; without an audio stream it
        reads ``audio_path`` with :func:`talkzoo.audio.io.load_audio` (soxr resampling).
        Audio is small next to video (a minute at 16 kHz is 3.8 MB), so the track is read whole.

        Returns:
            ``(S,)`` float32 CPU tensor in [-1, 1].

        Raises:
            DataError: no audio stream and no sidecar (the message names the file and the two
                ways to supply audio), or an undecodable stream.
        """
        if sample_rate <= 0 or int(sample_rate) != sample_rate:
            raise ConfigError(f"sample_rate: expected a positive integer of Hz, got {sample_rate!r}")
        if self.info.has_audio and self._pyav is not None:
            return self._pyav.audio(int(sample_rate))
        if self.info.has_audio and not self.info.is_frame_folder:
            decord = _import_decord()
            try:
                native = int(self.info.audio_sample_rate or sample_rate)
                reader = decord.AudioReader(str(self.path), ctx=decord.cpu(0), sample_rate=native, mono=True)
                wave = reader[:].asnumpy().reshape(-1).astype(np.float32)
            except Exception as exc:
                raise DataError(f"{self.path}: cannot decode the audio track ({_short(exc)})") from exc
            # decord's AudioReader.duration() truncates to whole seconds: use the header's duration
            duration = self.info.audio_duration_s or 0.0
            keep = int(round(duration * native)) if duration > 0 else wave.size
            wave = np.clip(wave[: max(0, min(keep, wave.size))], -1.0, 1.0)
            if native == sample_rate:
                return torch.from_numpy(wave)
            from talkzoo.audio.io import resample

            # soxr (linear phase, delay compensated); decord's own resampler delays the signal
            # (17 samples at 16 -> 8 kHz, measured), which would break sample-exact alignment
            return resample(wave, native, int(sample_rate)).clamp_(-1.0, 1.0)
        if self.audio_path is not None:
            from talkzoo.audio.io import load_audio

            return load_audio(self.audio_path, sample_rate=int(sample_rate))
        raise DataError(
            f"{self.path}: has no audio track; expected a video with an audio stream (e.g. AAC in mp4) "
            "or a sidecar .wav with the same name. Talking-face training needs the speech"
        )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:200]


def audio_frame_mono(frame: Any) -> np.ndarray:
    """A PyAV audio frame as ``(S,)`` float32 mono in [-1, 1] at the stream's rate (channels averaged,
    integer formats scaled); shared by the readers here and by ``talkzoo data prepare``."""
    arr = frame.to_ndarray()
    channels = len(frame.layout.channels)
    arr = arr.reshape(channels, -1) if frame.format.is_planar else arr.reshape(-1, channels).T
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max + 1)
    return arr.astype(np.float32).mean(axis=0)


class _PyAVVideo:
    """Sequential PyAV decoding for containers decord mis-reads (MPEG program streams).

    ``pts``: ``(N,)`` float64 presentation times (s) of the video frames, from the demuxed packets
    (nothing decoded). :meth:`frames` decodes from the start up to the last index asked for.
    """

    def __init__(self, path: Path) -> None:
        import av

        self.path = path
        try:
            with av.open(str(path)) as c:
                v = c.streams.video[0]
                tb = float(v.time_base)
                pts = [p.pts for p in c.demux(v) if p.pts is not None and p.size > 0]
        except (av.error.FFmpegError, OSError) as exc:
            raise DataError(f"{path}: cannot read the video packets ({_short(exc)})") from exc
        self.pts = np.sort(np.asarray(pts, dtype=np.float64)) * tb

    def frames(self, idx: np.ndarray) -> np.ndarray:
        """Frames ``idx`` (``(K,)`` int) as ``(K, H, W, 3)`` uint8 RGB, decoded in stream order.

        Raises:
            DataError: the file cannot be decoded or holds fewer frames than asked.
        """
        import av

        want = set(int(i) for i in idx.tolist())
        last = max(want)
        got: dict[int, np.ndarray] = {}
        try:
            with av.open(str(self.path)) as c:
                for k, frame in enumerate(c.decode(video=0)):
                    if k in want:
                        got[k] = frame.to_ndarray(format="rgb24")
                    if k >= last:
                        break
        except (av.error.FFmpegError, OSError) as exc:
            raise DataError(f"{self.path}: cannot decode frames ({_short(exc)})") from exc
        missing = want - set(got)
        if missing:
            raise DataError(f"{self.path}: could decode only {len(got)} of the frames asked (missing {sorted(missing)[:5]})")
        return np.stack([got[int(i)] for i in idx.tolist()])

    def audio(self, sample_rate: int) -> Tensor:
        """The audio track as ``(S,)`` float32 mono at ``sample_rate`` Hz (aligned to the first video frame).

        Raises:
            DataError: no audio track or an undecodable stream.
        """
        import av

        from talkzoo.audio.io import resample

        try:
            with av.open(str(self.path)) as c:
                v, a = c.streams.video[0], c.streams.audio[0]
                v0 = float(v.start_time * v.time_base) if v.start_time is not None else 0.0
                a0 = float(a.start_time * a.time_base) if a.start_time is not None else 0.0
                rate = int(a.codec_context.sample_rate or a.rate)
                chunks = [audio_frame_mono(f) for f in c.decode(a)]
        except (av.error.FFmpegError, OSError) as exc:
            raise DataError(f"{self.path}: cannot decode the audio track ({_short(exc)})") from exc
        if not chunks:
            raise DataError(f"{self.path}: the audio track holds no samples")
        wave = np.concatenate(chunks)
        # align sample 0 with the first video frame: pad when the audio starts later, cut when earlier
        offset = int(round((a0 - v0) * rate))
        if offset > 0:
            wave = np.concatenate([np.zeros(offset, np.float32), wave])
        elif offset < 0:
            wave = wave[-offset:]
        out = resample(wave.astype(np.float32), rate, sample_rate) if rate != sample_rate else torch.from_numpy(wave)
        return out.float().clamp_(-1.0, 1.0).contiguous()


def _probe_header(path: Path) -> dict[str, Any]:
    """Frame size and audio stream facts from the container header (PyAV; nothing decoded)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path}: the file has no video stream")
            v = container.streams.video[0]
            width, height = int(v.codec_context.width), int(v.codec_context.height)
            rate_q = v.average_rate or v.guessed_rate or v.base_rate
            fps = float(rate_q) if rate_q else None
            has_audio = bool(container.streams.audio)
            rate = dur = None
            if has_audio:
                a = container.streams.audio[0]
                rate = int(a.codec_context.sample_rate or a.rate or 0) or None
                if a.duration and a.time_base:
                    dur = float(a.duration * a.time_base)
                elif container.duration:
                    dur = container.duration / 1_000_000
    except DataError:
        raise
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot open the video file ({_short(exc)})") from exc
    if width <= 0 or height <= 0:
        raise DataError(f"{path}: the video stream declares no frame size")
    return {"width": width, "height": height, "fps": fps, "has_audio": has_audio, "audio_sample_rate": rate, "audio_duration_s": dur}


def open_video(path: str | os.PathLike[str], **kwargs: Any) -> VideoSource:
    """Open a video file or frame folder for random access (see :class:`VideoSource` for arguments).

    Raises:
        DataError: see :class:`VideoSource`.
    """
    return VideoSource(path, **kwargs)


def probe_video(path: str | os.PathLike[str], **kwargs: Any) -> VideoInfo:
    """Frame count, fps, size and audio facts of a video, checking the frame rate is constant.

    Reads the header and decord's frame index only (no frame is decoded; a frame folder's first
    image is read for its size). Keyword arguments go to :class:`VideoSource`.

    Returns:
        A :class:`VideoInfo`.

    Raises:
        DataError: see :class:`VideoSource`.
    """
    with VideoSource(path, **kwargs) as src:
        return src.info


def read_frames(
    path: str | os.PathLike[str], indices: Any = None, *, channels_first: bool = False, **kwargs: Any
) -> Tensor:
    """Decode frames of a video (all of them when ``indices`` is None; mind the memory for long ones).

    Returns:
        ``uint8`` ``(T, H, W, 3)`` (or ``(T, 3, H, W)``) RGB tensor.

    Raises:
        DataError: see :class:`VideoSource` and :meth:`VideoSource.get_frames`.
    """
    with VideoSource(path, **kwargs) as src:
        idx = np.arange(len(src)) if indices is None else indices
        return src.get_frames(idx, channels_first=channels_first)


def read_audio_track(path: str | os.PathLike[str], sample_rate: int = 16000, **kwargs: Any) -> Tensor:
    """The audio track of a video as ``(S,)`` float32 mono at ``sample_rate`` Hz, aligned to frame 0.

    Raises:
        DataError: no audio track (and no ``audio_path`` sidecar), or an undecodable stream.
    """
    with VideoSource(path, **kwargs) as src:
        return src.get_audio(sample_rate)
