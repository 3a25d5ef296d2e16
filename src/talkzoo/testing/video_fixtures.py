"""Tiny fake 2D datasets in the exact published layouts, for talkzoo's tests, plugins and the lead's
integration tests.

Every writer produces real files with the real names (HDTF ``WDA_BarackObama_000.mp4``, RAVDESS
``Actor_01/01-01-03-02-01-01-01.mp4``, LRW ``lipread_mp4/ABOUT/train/ABOUT_00001.mp4``, GRID
``s1/bbaf2n.mpg`` + ``align/bbaf2n.align``, FOMM VoxCeleb ``test/id10280#NXjT3732Ekg#001093#001192.mp4``
as a PNG frame folder or an mp4, CelebV ``Donald_Trump/Image/*.jpg``, and the talkzoo prepared layout
``talkzoo-video/1`` of :mod:`talkzoo.data.video`), but a few seconds of synthetic frames (a flat
background, a face-like ellipse with a mouth that opens with the audio, and a frame-number code),
a sine-tone "voice" and synthetic iBUG-68 landmarks. Nothing here is real data.

Frame code: the top-left ``size/4`` square has grey level ``8 * (k % 32)`` and the square right of
it ``8 * (k // 32)``, so :func:`decode_frame_index` recovers frame ``k`` from a decoded frame
(H.264 at crf 18 keeps flat blocks within a few grey levels).

Every file is written atomically (mp4 through :func:`talkzoo.render.video.write_video`; text,
npy and images to a temporary name, then :func:`os.replace`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from talkzoo.errors import ConfigError
from talkzoo.render.video import write_video

__all__ = [
    "decode_frame_index",
    "write_frame_folder",
    "write_mpeg_ps",
    "write_synthetic_clip",
    "write_text",
    "synthetic_frames",
    "synthetic_landmarks",
    "tone",
    "write_prepared_video_layout",
    "write_vfr_video",
    "write_video_fixture",
]


# --------------------------------------------------------------------------------------------
# content
# --------------------------------------------------------------------------------------------
def tone(seconds: float, sample_rate: int, freq: float = 220.0, amplitude: float = 0.3) -> np.ndarray:
    """``(round(seconds * sample_rate),)`` float32 sine tone with a 3 Hz syllable-like envelope."""
    n = int(round(seconds * sample_rate))
    t = np.arange(n, dtype=np.float64) / sample_rate
    env = 0.5 * (1 - np.cos(2 * np.pi * 3.0 * t))
    return (amplitude * env * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def synthetic_frames(frames: int, size: int, identity: int = 0, fps: float = 25.0) -> np.ndarray:
    """``(frames, size, size, 3)`` uint8 RGB: background per identity, a face ellipse, a mouth
    opening at 3 Hz (the :func:`tone` envelope), and the frame-number code (module docstring)."""
    rng = np.random.default_rng(identity)
    bg = rng.integers(40, 200, size=3)
    skin = np.array([200, 160, 130]) - 10 * (identity % 4)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx, cy = size / 2, size * 0.55
    face = ((xx - cx) / (size * 0.3)) ** 2 + ((yy - cy) / (size * 0.38)) ** 2 <= 1
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    q = max(1, size // 4)
    for k in range(frames):
        img = np.broadcast_to(bg, (size, size, 3)).copy()
        img[face] = skin
        opening = 0.5 * (1 - np.cos(2 * np.pi * 3.0 * k / fps))
        mouth = ((xx - cx) / (size * 0.12)) ** 2 + ((yy - size * 0.75) / (size * (0.01 + 0.05 * opening))) ** 2 <= 1
        img[mouth] = (90, 20, 30)
        img[:q, :q] = 8 * (k % 32)
        img[:q, q : 2 * q] = 8 * (k // 32)
        out[k] = img
    return out


def decode_frame_index(frame: Any) -> int:
    """Frame number from a frame made by :func:`synthetic_frames` (``(H, W, 3)`` or ``(3, H, W)``, uint8)."""
    arr = np.asarray(frame.detach().cpu() if hasattr(frame, "detach") else frame, dtype=np.float64)
    if arr.shape[0] == 3 and arr.shape[-1] != 3:
        arr = arr.transpose(1, 2, 0)
    q = max(1, arr.shape[0] // 4)
    lo = arr[1 : q - 1, 1 : q - 1].mean() if q > 2 else arr[:q, :q].mean()
    hi = arr[1 : q - 1, q + 1 : 2 * q - 1].mean() if q > 2 else arr[:q, q : 2 * q].mean()
    return int(round(lo / 8)) + 32 * int(round(hi / 8))


def synthetic_landmarks(frames: int, size: int, fps: float = 25.0) -> np.ndarray:
    """``(frames, 68, 2)`` float32 iBUG-68-ordered points in pixels (x right, y down): jaw 0-16,
    brows 17-26, nose 27-35, eyes 36-47, mouth 48-67 opening with :func:`synthetic_frames`."""
    out = np.zeros((frames, 68, 2), dtype=np.float32)
    cx, cy = size / 2, size * 0.55
    a = np.linspace(np.pi * 0.95, np.pi * 0.05, 17)
    for k in range(frames):
        opening = 0.5 * (1 - np.cos(2 * np.pi * 3.0 * k / fps))
        pts = [np.stack([cx + 0.3 * size * np.cos(a), cy + 0.38 * size * np.sin(a) * 0.9], 1)]  # jaw
        pts.append(np.stack([np.linspace(cx - 0.25 * size, cx + 0.25 * size, 10), np.full(10, cy - 0.2 * size)], 1))
        pts.append(np.stack([np.full(9, cx), np.linspace(cy - 0.15 * size, cy + 0.05 * size, 9)], 1))
        e = np.linspace(0, 2 * np.pi, 6, endpoint=False)
        for ex in (cx - 0.12 * size, cx + 0.12 * size):
            pts.append(np.stack([ex + 0.05 * size * np.cos(e), cy - 0.1 * size + 0.02 * size * np.sin(e)], 1))
        m = np.linspace(0, 2 * np.pi, 20, endpoint=False)
        pts.append(np.stack([cx + 0.12 * size * np.cos(m),
                             0.75 * size + (0.01 + 0.05 * opening) * size * np.sin(m)], 1))
        out[k] = np.concatenate(pts).astype(np.float32)
    return out


# --------------------------------------------------------------------------------------------
# atomic writers
# --------------------------------------------------------------------------------------------
def _atomic(path: Path, write: Any, suffix: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _text(path: Path, text: str) -> None:
    _atomic(path, lambda t: Path(t).write_text(text, encoding="utf-8"))


def _npy(path: Path, arr: np.ndarray) -> None:
    def w(t: str) -> None:
        with open(t, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)

    _atomic(path, w)


def _image(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    _atomic(path, lambda t: Image.fromarray(arr).save(t, format=fmt, quality=95) if fmt == "JPEG"
            else Image.fromarray(arr).save(t, format=fmt))


def _clip(path: Path, frames: int, size: int, identity: int, fps: float = 25.0, sample_rate: int | None = 16000,
          audio_seconds: float | None = None) -> None:
    video = synthetic_frames(frames, size, identity, fps)
    audio = None
    if sample_rate:
        audio = tone(frames / fps if audio_seconds is None else audio_seconds, sample_rate, 180.0 + 20 * identity)
    write_video(path, video, fps, audio=audio, sample_rate=sample_rate if sample_rate else None)


def _mpeg_ps(path: Path, frames: int, size: int, identity: int, fps: float = 25.0, sample_rate: int = 16000) -> None:
    """An MPEG program stream (MPEG-1 video + MP2 audio), GRID's release format, written atomically."""
    import av

    video = synthetic_frames(frames, size, identity, fps)
    wave = tone(frames / fps, sample_rate, 200.0)

    def w(tmp: str) -> None:
        with av.open(tmp, "w", format="mpeg") as c:
            v = c.add_stream("mpeg1video", rate=Fraction(fps).limit_denominator(1001))
            v.width = v.height = size
            v.pix_fmt = "yuv420p"
            v.options = {"qscale": "2"}
            a = c.add_stream("mp2", rate=sample_rate, layout="mono")
            pos, step = 0, 1152
            per_frame = sample_rate / fps
            for k in range(frames):
                f = av.VideoFrame.from_ndarray(video[k], format="rgb24")
                f.pts = k
                for p in v.encode(f):
                    c.mux(p)
                while pos < (k + 1) * per_frame and pos < wave.size:
                    chunk = wave[pos : pos + step]
                    chunk = np.pad(chunk, (0, step - chunk.size))
                    af = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="fltp", layout="mono")
                    af.sample_rate = sample_rate
                    af.pts = pos
                    for p in a.encode(af):
                        c.mux(p)
                    pos += step
            for s in (a, v):
                for p in s.encode(None):
                    c.mux(p)

    _atomic(path, w, suffix=".mpg")


def _frame_folder(folder: Path, frames: int, size: int, identity: int, names: Sequence[str] | None = None) -> list[str]:
    video = synthetic_frames(frames, size, identity)
    names = list(names) if names is not None else [f"{k:07d}.png" for k in range(frames)]
    for k, name in enumerate(names):
        _image(folder / name, video[k])
    return names


#: Public names of the writers the dataset presets' fixture writers use (talkzoo/data/presets/video/*.py).
write_synthetic_clip = _clip
write_text = _text
write_frame_folder = _frame_folder
write_mpeg_ps = _mpeg_ps


def write_vfr_video(path: str | os.PathLike[str], frames: int = 20, size: int = 32) -> Path:
    """A variable-frame-rate H.264 mp4 (intervals alternate 40 and 90 ms) without audio, atomically."""
    import av

    out = Path(path)
    video = synthetic_frames(frames, size)

    def w(tmp: str) -> None:
        with av.open(tmp, "w", format="mp4") as c:
            s = c.add_stream("libx264", rate=25)
            s.width = s.height = size
            s.pix_fmt = "yuv420p"
            s.codec_context.time_base = Fraction(1, 100)
            pts = 0
            for k in range(frames):
                f = av.VideoFrame.from_ndarray(video[k], format="rgb24")
                f.pts, f.time_base = pts, Fraction(1, 100)
                pts += 9 if k % 3 == 0 else 4
                for p in s.encode(f):
                    c.mux(p)
            for p in s.encode(None):
                c.mux(p)

    _atomic(out, w, suffix=".mp4")
    return out


# --------------------------------------------------------------------------------------------
# layouts
# --------------------------------------------------------------------------------------------
def write_prepared_video_layout(
    root: str | os.PathLike[str],
    speakers: Sequence[str] = ("spkA", "spkB", "spkC"),
    clips_per_speaker: int = 2,
    frames: int | Sequence[int] = 40,
    size: int = 32,
    fps: float = 25.0,
    sample_rate: int = 16000,
    landmarks: bool = True,
    pairs: bool = True,
) -> Path:
    """Write the talkzoo prepared-video layout (``talkzoo-video/1``, see :mod:`talkzoo.data.video`) with synthetic clips.

    Clip ids are ``<speaker>_<NNN>``. Split: the last speaker is held out — its first clip is
    ``val``, the rest ``test``; every other clip is ``train``. ``pairs/test_pairs.csv`` pairs each
    test clip with every other test clip and itself (``source,driving``).

    Args:
        root: output folder (created).
        speakers: identity names (>= 2).
        clips_per_speaker: clips per identity (>= 2).
        frames: frames per clip (one int, or one per clip in speaker-major order).
        size: frame side in pixels; fps: frames/s; sample_rate: audio Hz (AAC mono).
        landmarks: also write ``landmarks/<clip_id>.npy`` ``(T, 68, 2)``.
        pairs: also write ``pairs/test_pairs.csv``.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigError: fewer than 2 speakers or 2 clips per speaker, or a ``frames`` list of the
            wrong length.
    """
    root = Path(root)
    if len(speakers) < 2 or clips_per_speaker < 2:
        raise ConfigError("write_prepared_video_layout needs >= 2 speakers and >= 2 clips per speaker")
    ids = [f"{s}_{i:03d}" for s in speakers for i in range(clips_per_speaker)]
    lengths = [int(frames)] * len(ids) if isinstance(frames, int) else [int(f) for f in frames]
    if len(lengths) != len(ids):
        raise ConfigError(f"frames: expected one int or {len(ids)} values, got {len(lengths)}")
    clips = {}
    for n, (cid, t) in enumerate(zip(ids, lengths)):
        spk = cid.rsplit("_", 1)[0]
        _clip(root / "videos" / f"{cid}.mp4", t, size, speakers.index(spk), fps, sample_rate)
        if landmarks:
            _npy(root / "landmarks" / f"{cid}.npy", synthetic_landmarks(t, size, fps))
        clips[cid] = {"speaker": spk, "frames": t, "source": "talkzoo.testing.video_fixtures (synthetic)"}
    held = [c for c in ids if c.startswith(f"{speakers[-1]}_")]
    split = {"train": [c for c in ids if c not in held], "val": held[:1], "test": held[1:]}
    for name, members in split.items():
        _text(root / "splits" / f"{name}.txt", "# synthetic fixture\n" + "\n".join(members) + "\n")
    if pairs:
        rows = [f"{a},{b}" for a in split["test"] for b in split["test"]] + [f"{split['test'][0]},{split['val'][0]}"]
        _text(root / "pairs" / "test_pairs.csv", "source,driving\n" + "\n".join(rows) + "\n")
    meta = {
        "format": "talkzoo-video/1", "fps": fps, "sample_rate": sample_rate, "size": size, "landmarks": "ibug68",
        "speakers": list(speakers), "clips": clips,
    }
    _text(root / "meta.json", json.dumps(meta, indent=1))
    return root


def write_video_fixture(root: str | os.PathLike[str], preset: str, size: int = 32, frames: int = 30) -> Path:
    """Write a tiny fixture in the published layout of ``preset`` (any registered 2D preset).

    Each preset module owns its writer (:meth:`talkzoo.data.presets.video.base.VideoPreset.write_fixture`,
    in ``talkzoo/data/presets/video/<preset>.py``); for example ``hdtf`` writes
    ``WDA_BarackObama_000.mp4`` and split lists, ``ravdess`` actors 01, 02, 23, 24 at 29.97 fps
    with 48 kHz audio plus video-only files, ``lrw`` ``lipread_mp4/<WORD>/<split>/`` clips,
    ``grid`` MPEG-PS ``s<N>/<utt>.mpg`` with ``align/``, ``voxceleb1`` FOMM's frame folders and
    DaGAN's ``vox_evaluation.csv``, ``celebv`` ``<Celebrity>/Image/*.jpg`` with its pair list,
    ``prepared``/``demo`` :func:`write_prepared_video_layout`, ``custom`` ``videos/`` + ``splits/``.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigError: an unknown ``preset``.
    """
    from talkzoo.data.presets import get_preset

    try:
        preset_obj = get_preset("video", preset)
    except ConfigError:
        raise ConfigError(f"no fixture writer for preset '{preset}'") from None
    return preset_obj.write_fixture(Path(root), size=size, frames=frames)
