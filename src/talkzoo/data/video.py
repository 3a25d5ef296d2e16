"""Talking-face video datamodules: audio → video clips and video-driven reenactment samples.

:class:`TalkingVideoDataModule` serves :class:`~talkzoo.data.batch.VideoBatch` (FLOAT, AMIE) and
:class:`ReenactmentVideoDataModule` serves :class:`~talkzoo.data.batch.ReenactmentBatch` (DaGAN).
Both read the same layouts through the same presets and share one base.

Presets (layouts, splits and their sources)
-------------------------------------------
Each dataset is one module under ``talkzoo/data/presets/video/`` (registry:
:mod:`talkzoo.data.presets`) that owns its layout check, clip listing, official split, pair
lists, fixture writer and documentation: ``prepared`` / ``demo`` (the talkzoo prepared layout,
:mod:`~talkzoo.data.presets.video.prepared`), ``hdtf``, ``ravdess``, ``lrw``, ``grid``
(audio → video and reenactment), ``voxceleb1``, ``celebv`` (reenactment only) and ``custom``.
Every preset also reads a root in the prepared layout (``ROOT/meta.json``; what
``talkzoo data prepare <dataset>`` writes), and ``spec.dataset`` is then the dataset recorded
there, so HDTF prepared by talkzoo reports ``hdtf``.

For every preset ``ROOT/splits/<split>.txt`` (when present) replaces the built-in split (any
extra split name works with ``test_split`` / ``predict_split``), ``ROOT/pairs/<split>_pairs.csv``
is the split's reenactment pair list, and ``ROOT/landmarks/<clip_id>.npy`` ((N, 68, 2) pixels,
one row per stored frame) is served when present.

Samples and windows
-------------------
Training items are random windows of ``clip_frames`` frames (at ``fps``) with the exactly
matching audio samples (:func:`talkzoo.video.io.audio_span`) and a source frame: a random frame of
the same video outside the window when there is one (``source_frame="random"``; FLOAT samples
source and driving from one clip) or frame 0 (``"first"``). Validation/test/predict items are
deterministic: whole clips (``eval_mode="whole"``, optionally cut to ``max_eval_frames``) or
consecutive non-overlapping windows (``"windows"``), with frame 0 as the source (FLOAT App. B.3:
"we use the first frame of each video clip as the source image"). Batches are right-padded with
masks. A clip shorter than a window is skipped with a log line naming the file
(``short_clips="skip"``), kept shorter and masked (``"pad"``), or refused (``"error"``).

Reading is lazy: ``setup`` reads headers and decord's frame index (no frame decoded); an item
opens its file, decodes only the frames of its window and the source frame, and closes it. Audio
is the file's own track (decord), read per item. Safe with ``num_workers > 0``.

Bad input
---------
A root that is missing or not in the preset's layout stops at once naming the path, the layout
expected and where to get the data. Per file (``setup`` with ``check_files=True``, else when the
item is read): no audio track (audio → video only), variable frame rate, frame size other than
``image_size``, an undecodable file, an audio track much shorter/longer than the video — each a
:class:`~talkzoo.errors.DataError` naming the file and what was expected, or, with
``skip_bad_files=True``, a logged skip naming the file and the reason.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from talkzoo.data.base import SPLITS, TalkzooDataModule
from talkzoo.data.batch import (
    ReenactmentBatch,
    ReenactmentSample,
    VideoBatch,
    VideoSample,
    collate_reenactment_batch,
    collate_video_batch,
)
from talkzoo.data.presets import get_preset, presets
from talkzoo.data.presets.video.base import (
    ClipRecord,
    NoSplit,
    PairRecord,
    VideoPreset,
    read_split_file,
)
from talkzoo.data.presets.video.ravdess import RAVDESS_ACTORS  # noqa: F401  (re-export)
from talkzoo.data.spec import FAMILY_REENACT, FAMILY_VIDEO, ReenactmentDataSpec, VideoDataSpec
from talkzoo.errors import ConfigError, DataError

__all__ = [
    "VIDEO_PRESETS",
    "ClipRecord",
    "PairRecord",
    "ReenactmentVideoDataModule",
    "TalkingVideoDataModule",
    "VideoClipDataset",
    "VideoPreset",
    "collate_reenactment_batch",
    "collate_video_batch",
    "read_split_file",
]

log = logging.getLogger(__name__)

#: Every 2D preset by name (compatibility view of the registry :mod:`talkzoo.data.presets`).
VIDEO_PRESETS: dict[str, VideoPreset] = {p.name: p for p in presets("video")}  # type: ignore[misc]
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class _Item:
    """What one dataset index reads."""

    clip: ClipRecord
    start: int | None  # first frame of a deterministic window; None: random (training)
    length: int | None  # frames to read; None: clip_frames (training) / whole clip
    source_frame: int | None  # None: random
    source_clip: ClipRecord | None = None  # reenactment pairs: source from another clip
    name: str = ""


def _src_index_map(rec: ClipRecord, fps: float) -> np.ndarray:
    from talkzoo.video.io import convert_frame_indices

    return convert_frame_indices(rec.src_frames, rec.src_fps, fps)


# --------------------------------------------------------------------------------------------
# dataset
# --------------------------------------------------------------------------------------------
class VideoClipDataset(Dataset):
    """Lazily read clip windows (audio → video) or reenactment samples of one split.

    Args:
        items: what each index reads (built by the datamodule).
        fps: served frame rate (frames/s).
        sample_rate: served audio rate (Hz).
        image_size: expected frame side in pixels.
        clip_frames: training window length in frames.
        with_audio: read the audio track (audio → video family).
        decode_threads: decord threads per reader.

    Each item is a :class:`~talkzoo.data.batch.VideoSample` (``with_audio``) or a
    :class:`~talkzoo.data.batch.ReenactmentSample`: ``frames`` ``(T, H, W, 3)`` uint8, ``source``
    ``(H, W, 3)`` uint8, ``audio`` ``(S,)`` float32 / ``audio_mask`` ``(S,)`` bool (audio only),
    ``landmarks`` ``(T, 68, 2)`` / ``source_landmarks`` ``(68, 2)`` float32 pixels or None,
    ``speaker`` int, ``name``, ``subject``. Random choices use torch's global RNG (seeded per
    worker by Lightning's ``seed_everything(workers=True)``).

    Raises (when an item is read):
        DataError: see :mod:`talkzoo.data.video` ("Bad input").
    """

    def __init__(
        self,
        items: Sequence[_Item],
        *,
        fps: float,
        sample_rate: int,
        image_size: int,
        clip_frames: int,
        with_audio: bool,
        decode_threads: int = 1,
    ) -> None:
        self.items = list(items)
        self.fps = float(fps)
        self.sample_rate = int(sample_rate)
        self.image_size = int(image_size)
        self.clip_frames = int(clip_frames)
        self.with_audio = with_audio
        self.decode_threads = int(decode_threads)

    def __len__(self) -> int:
        return len(self.items)

    def _open(self, rec: ClipRecord) -> Any:
        from talkzoo.video.io import VideoSource

        src = VideoSource(rec.path, folder_fps=rec.src_fps, num_threads=self.decode_threads, audio_path=rec.audio_path)
        _check_size(src.info, self.image_size)
        return src

    def _landmarks(self, rec: ClipRecord, src_idx: np.ndarray) -> Tensor | None:
        if rec.landmarks is None:
            return None
        arr = _open_landmarks(rec.landmarks)
        if arr.shape[0] <= int(src_idx.max(initial=0)):
            raise DataError(
                f"{rec.landmarks}: holds {arr.shape[0]} frames of landmarks but {rec.path} has {rec.src_frames}; "
                "expected one (68, 2) row per stored frame"
            )
        return torch.from_numpy(np.array(arr[src_idx], dtype=np.float32))

    def __getitem__(self, index: int) -> VideoSample | ReenactmentSample:
        item = self.items[index]
        rec = item.clip
        index_map = _src_index_map(rec, self.fps)
        total = len(index_map)
        if item.start is None:  # training: random window
            length = min(self.clip_frames, total)
            start = int(torch.randint(0, total - length + 1, ()).item())
        else:
            start = item.start
            length = total - start if item.length is None else min(item.length, total - start)
        window = index_map[start : start + length]
        src_rec = item.source_clip or rec
        if item.source_frame is not None:
            src_t = item.source_frame
        else:  # random frame of the same video, outside the window when possible
            outside = total - length
            if outside > 0:
                k = int(torch.randint(0, outside, ()).item())
                src_t = k if k < start else k + length
            else:
                src_t = int(torch.randint(0, total, ()).item())
        src_map = index_map if src_rec is rec else _src_index_map(src_rec, self.fps)
        src_idx = np.asarray([src_map[min(src_t, len(src_map) - 1)]])
        with self._open(rec) as video:
            if src_rec is rec:
                both = video.get_frames(np.concatenate([window, src_idx]))
                frames, source = both[:-1], both[-1]
            else:
                frames = video.get_frames(window)
                with self._open(src_rec) as other:
                    source = other.get_frames(src_idx)[0]
            out: dict[str, Any] = {"frames": frames, "source": source}
            if self.with_audio:
                from talkzoo.video.io import slice_audio_for_frames

                wave = video.get_audio(self.sample_rate)
                out["audio"], out["audio_mask"] = slice_audio_for_frames(
                    wave, start, start + length, self.fps, self.sample_rate
                )
        lms = self._landmarks(rec, window)
        src_lms = self._landmarks(src_rec, src_idx)
        common = dict(
            frames=out["frames"],
            source=out["source"],
            landmarks=lms,
            source_landmarks=src_lms[0] if src_lms is not None else None,
            speaker=rec.speaker_index,
            name=item.name or rec.clip_id,
            subject=src_rec.subject or src_rec.speaker,
        )
        if self.with_audio:
            return VideoSample(audio=out["audio"], audio_mask=out["audio_mask"], **common)
        return ReenactmentSample(**common)


def _open_landmarks(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npy landmark array ({exc})") from exc
    if arr.ndim != 3 or arr.shape[1:] != (68, 2):
        raise DataError(f"{path}: landmarks have shape {tuple(arr.shape)}; expected (frames, 68, 2) pixel coordinates")
    return arr


def _check_size(info: Any, image_size: int) -> None:
    if (info.height, info.width) != (image_size, image_size):
        raise DataError(
            f"{info.path}: frames are {info.width}x{info.height} (WxH) but this datamodule is configured for "
            f"{image_size}x{image_size}; face-crop and resize the data first (`talkzoo data prepare`) or set "
            "image_size to match"
        )


# --------------------------------------------------------------------------------------------
# datamodule
# --------------------------------------------------------------------------------------------
class _VideoDataModuleBase(TalkzooDataModule):
    """Shared discovery, probing and loaders of the two 2D datamodules (see the module docstring)."""

    _with_audio = True
    _default_clip_frames = 50

    def __init__(
        self,
        root: str,
        preset: str = "prepared",
        image_size: int | None = None,
        fps: float | None = None,
        sample_rate: int | None = None,
        clip_frames: int | None = None,
        batch_size: int = 4,
        num_workers: int = 0,
        source_frame: str = "random",
        eval_mode: str = "whole",
        max_eval_frames: int | None = None,
        short_clips: str = "skip",
        skip_bad_files: bool = False,
        check_files: bool = True,
        require_landmarks: bool = False,
        pairs_file: str | None = None,
        max_av_mismatch: float = 0.5,
        predict_split: str = "test",
        decode_threads: int = 1,
        pin_memory: bool = False,
        seed: int = 0,
        test_split: str = "test",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.preset: VideoPreset = get_preset("video", preset)  # type: ignore[assignment]
        if self.family not in self.preset.families:
            raise ConfigError(
                f"preset '{preset}' has no audio (FOMM's preprocessing drops it) and serves only "
                f"{list(self.preset.families)}; use ReenactmentVideoDataModule for it"
            )
        choices = {
            "source_frame": (source_frame, ("random", "first")),
            "eval_mode": (eval_mode, ("whole", "windows")),
            "short_clips": (short_clips, ("skip", "pad", "error")),
        }
        for label, (value, allowed) in choices.items():
            if value not in allowed:
                raise ConfigError(f"{label}={value!r} is unknown; expected one of {list(allowed)}")
        for label, value in (("predict_split", predict_split), ("test_split", test_split)):
            if not isinstance(value, str) or not _SPLIT_NAME.match(value):
                raise ConfigError(
                    f"{label}={value!r} is unknown; expected one of {list(SPLITS)} or the name of a split list "
                    "ROOT/splits/<name>.txt"
                )
        if clip_frames is None:
            clip_frames = self._default_clip_frames
        for label, value in (("clip_frames", clip_frames), ("batch_size", batch_size), ("decode_threads", decode_threads)):
            if isinstance(value, bool) or int(value) < 1:
                raise ConfigError(f"{label} must be a positive integer, got {value!r}")
        if num_workers < 0:
            raise ConfigError(f"num_workers must be >= 0, got {num_workers}")
        for label, value in (("fps", fps), ("image_size", image_size), ("sample_rate", sample_rate), ("max_eval_frames", max_eval_frames)):
            if value is not None and not float(value) > 0:
                raise ConfigError(f"{label} must be positive, got {value!r}")
        if preset == "custom" and image_size is None:
            raise ConfigError("preset 'custom' needs image_size (the side of your square face crops, in pixels)")
        self.test_split = test_split
        self.root = Path(root).expanduser()
        self.image_size_arg, self.fps_arg, self.sample_rate_arg = image_size, fps, sample_rate
        self.clip_frames = int(clip_frames)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.source_frame = source_frame
        self.eval_mode = eval_mode
        self.max_eval_frames = max_eval_frames
        self.short_clips = short_clips
        self.skip_bad_files = bool(skip_bad_files)
        self.check_files = bool(check_files)
        self.require_landmarks = bool(require_landmarks)
        self.pairs_file = pairs_file
        self.max_av_mismatch = float(max_av_mismatch)
        self.predict_split = predict_split
        self.decode_threads = int(decode_threads)
        self.pin_memory = pin_memory
        self.seed = int(seed)
        self._meta: dict[str, Any] | None = None
        self._listing: dict[str, list[ClipRecord]] = {}
        self._spec: Any = None
        self._prepared: bool | None = None

    # ------------------------------------------------------------------ root and meta
    @property
    def prepared(self) -> bool:
        """Whether the root is read in the prepared layout (the preset's own, or a meta.json there)."""
        if self._prepared is None:
            self._prepared = self.preset.is_prepared(self.root)
        return self._prepared

    def _check_root(self) -> None:
        self.preset.check(self.root, self.prepared)

    def meta(self) -> dict[str, Any]:
        """``ROOT/meta.json`` of a prepared root, read once; ``{}`` otherwise (or when absent for ``custom``).

        Raises:
            DataError: unreadable JSON, a wrong ``format``, or malformed ``clips``.
        """
        if self._meta is None:
            path = self.root / "meta.json"
            self._meta = {}
            if self.prepared:
                self._check_root()
                if path.is_file():
                    try:
                        data = json.loads(path.read_text(encoding="utf-8"))
                    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                        raise DataError(f"{path}: not readable JSON ({exc})") from exc
                    if not isinstance(data, dict) or not str(data.get("format", "")).startswith("talkzoo-video/"):
                        raise DataError(
                            f'{path}: expected a JSON object with "format": "talkzoo-video/1" (the prepared layout)'
                        )
                    if not isinstance(data.get("clips", {}), dict):
                        raise DataError(
                            f'{path}: "clips" must be an object {{clip_id: {{"speaker": ..., "frames": ...}}}}'
                        )
                    self._meta = data
        return self._meta

    @property
    def dataset_name(self) -> str:
        """``spec.dataset``: the preset's name, or the dataset a prepared root records (``hdtf``, ...)."""
        return self.preset.dataset_name(self.root, self.meta(), self.prepared)

    # ------------------------------------------------------------------ resolved values
    @property
    def image_size(self) -> int:
        """Frame side in pixels: the argument, else a prepared root's meta.json ``size``, else the preset's."""
        if self.image_size_arg is not None:
            return int(self.image_size_arg)
        if self.preset.image_size is not None and not (self.prepared and "size" in self.meta()):
            return self.preset.image_size
        size = self.meta().get("size")
        if not isinstance(size, int) or size <= 0:
            raise DataError(f"{self.root / 'meta.json'}: needs a positive integer \"size\" (frame side in pixels)")
        return size

    @property
    def fps(self) -> float:
        """Served frame rate: the argument, else meta.json ``fps``, else the preset's (25)."""
        if self.fps_arg is not None:
            return float(self.fps_arg)
        return float(self.meta().get("fps", self.preset.fps))

    @property
    def sample_rate(self) -> int:
        """Served audio rate in Hz: the argument, else meta.json ``sample_rate``, else 16000."""
        if self.sample_rate_arg is not None:
            return int(self.sample_rate_arg)
        return int(self.meta().get("sample_rate", self.preset.sample_rate))

    # ------------------------------------------------------------------ listing (no decoding)
    def _split_list(self, split: str) -> list[str] | None:
        path = self.root / "splits" / f"{split}.txt"
        return read_split_file(path) if path.is_file() else None

    def _landmark_path(self, clip_id: str) -> Path | None:
        p = self.root / "landmarks" / f"{clip_id}.npy"
        return p if p.is_file() else None

    def _all_clips(self) -> dict[str, ClipRecord]:
        """Every clip of the root by id (split ignored; listing only; landmarks attached)."""
        if self.prepared:
            clips = self.preset.list_prepared(self.root, self.meta())
        else:
            clips = self.preset.list_clips(self.root)
        return {
            c.clip_id: dataclasses.replace(c, landmarks=self._landmark_path(c.clip_id), src_fps=self.preset.fps)
            for c in clips
        }

    def _builtin_split(self, split: str, clips: dict[str, ClipRecord]) -> list[str]:
        if self.prepared:  # a prepared root lists every split in ROOT/splits
            raise self.preset.no_split(split, self.root, "the prepared layout lists its splits there")
        if split not in SPLITS:
            raise ConfigError(
                f"split '{split}' is unknown; expected one of {list(SPLITS)} or a split list "
                f"{self.root / 'splits' / (split + '.txt')}"
            )
        return self.preset.builtin_split(split, clips, self.root)

    def listing(self, split: str) -> list[ClipRecord]:
        """The clips of ``split`` from the folder listing and split lists (nothing decoded).

        Raises:
            ConfigError: unknown split. DataError: root missing, a listed clip missing, no clips.
        """
        if split in self._listing:
            return self._listing[split]
        self._check_root()
        clips = self._all_clips()
        ids = self._split_list(split)
        split_path = self.root / "splits" / f"{split}.txt"
        if ids is None:
            ids = self._builtin_split(split, clips)
        else:
            missing = [c for c in ids if c not in clips]
            if missing:
                raise DataError(
                    f"{split_path}: lists {len(missing)} clip(s) not found under {self.root} (first: '{missing[0]}'); "
                    f"expected {self.preset.layout}"
                )
        if not ids:
            raise DataError(
                f"no clips for the {split} split of preset '{self.preset.name}' under {self.root}; "
                f"expected {self.preset.layout}"
            )
        self._listing[split] = [clips[c] for c in ids]
        return self._listing[split]

    # ------------------------------------------------------------------ spec
    def _speakers(self) -> tuple[str, ...]:
        """Training identities in first-seen order of the train split ('' excluded); () if none."""
        self._check_root()
        try:
            train = self.listing("train")
        except NoSplit:  # a test-only dataset (CelebV, GRID) or lists still to be written
            return ()
        seen: dict[str, None] = {}
        for r in train:
            if r.speaker:
                seen.setdefault(r.speaker, None)
        return tuple(seen)

    # ------------------------------------------------------------------ probing
    def _probe(self, rec: ClipRecord, spec_speakers: tuple[str, ...]) -> ClipRecord | None:
        """Fill frame counts for ``rec``, checking it; None when it is skipped (logged)."""
        from talkzoo.video.io import VideoSource, convert_frame_indices

        idx = spec_speakers.index(rec.speaker) if rec.speaker in spec_speakers else -1
        try:
            if self.require_landmarks and rec.landmarks is None:
                raise DataError(
                    f"{self.root / 'landmarks' / (rec.clip_id + '.npy')}: landmarks missing for {rec.path} "
                    "(require_landmarks=True); expected (frames, 68, 2) pixels"
                )
            meta_frames = None
            entry = self.meta().get("clips", {}).get(rec.clip_id) if self.meta() else None
            if isinstance(entry, dict) and isinstance(entry.get("frames"), int):
                meta_frames = entry["frames"]
            if self.check_files or meta_frames is None:
                with VideoSource(rec.path, folder_fps=self.preset.fps, num_threads=self.decode_threads,
                                 audio_path=rec.audio_path, check_cfr=True) as v:
                    info = v.info
                _check_size(info, self.image_size)
                if self._with_audio:
                    self._check_audio(rec, info)
                src_frames, src_fps = info.num_frames, info.fps
            else:
                src_frames, src_fps = meta_frames, self.fps
            if rec.landmarks is not None and self.check_files:
                lm = _open_landmarks(rec.landmarks)
                if lm.shape[0] < src_frames:
                    raise DataError(
                        f"{rec.landmarks}: {lm.shape[0]} frames of landmarks but {rec.path} has {src_frames}; "
                        "expected one (68, 2) row per frame"
                    )
        except DataError as exc:
            if self.skip_bad_files:
                log.warning("skipped %s: %s", rec.path, exc)
                return None
            raise
        n = len(convert_frame_indices(src_frames, src_fps, self.fps))
        return ClipRecord(
            rec.clip_id, rec.path, rec.speaker, idx, rec.subject, rec.audio_path, rec.landmarks, n, float(src_fps), src_frames
        )

    def _check_audio(self, rec: ClipRecord, info: Any) -> None:
        if info.has_audio:
            dur = info.audio_duration_s
        elif rec.audio_path is not None:
            import soundfile as sf

            try:
                sfi = sf.info(str(rec.audio_path))
            except Exception as exc:
                raise DataError(f"{rec.audio_path}: cannot read the audio file ({exc})") from exc
            dur = sfi.frames / sfi.samplerate
        else:
            raise DataError(
                f"{rec.path}: has no audio track; the audio → video family needs the speech (an audio stream in "
                "the file, or a sidecar .wav of the same name). Use skip_bad_files=True to skip such files"
            )
        if dur is not None and abs(dur - info.duration_s) > self.max_av_mismatch:
            raise DataError(
                f"{rec.path}: audio lasts {dur:.3f} s but the video {info.duration_s:.3f} s "
                f"({info.num_frames} frames at {info.fps:g} fps); they differ by more than max_av_mismatch="
                f"{self.max_av_mismatch:g} s"
            )

    def records(self, split: str) -> list[ClipRecord]:
        """The split's clips, probed and checked (see "Bad input" in the module docstring)."""
        speakers = self.spec.speakers
        out = []
        for rec in self.listing(split):
            probed = self._probe(rec, speakers)
            if probed is not None:
                out.append(probed)
        if not out:
            raise DataError(f"every clip of the {split} split under {self.root} was skipped (see the log)")
        return out

    # ------------------------------------------------------------------ items
    def _short(self, rec: ClipRecord, need: int) -> bool:
        """True when ``rec`` is to be dropped for being shorter than ``need`` frames."""
        if rec.num_frames >= need:
            return False
        msg = f"{rec.path}: {rec.num_frames} frames at {self.fps:g} fps, shorter than the window of {need}"
        if self.short_clips == "error":
            raise DataError(msg + " (short_clips='error'; use 'skip' or 'pad')")
        if self.short_clips == "skip":
            log.warning("skipped %s", msg)
            return True
        return False

    def _items(self, split: str, records: list[ClipRecord]) -> list[_Item]:
        if split == "train":
            src = None if self.source_frame == "random" else 0
            return [_Item(r, None, None, src) for r in records if not self._short(r, self.clip_frames)]
        items = []
        for r in records:
            if self.eval_mode == "whole":
                items.append(_Item(r, 0, self.max_eval_frames, 0))
            elif not self._short(r, self.clip_frames):
                if r.num_frames < self.clip_frames:
                    items.append(_Item(r, 0, None, 0))
                for s in range(0, r.num_frames - self.clip_frames + 1, self.clip_frames):
                    items.append(_Item(r, s, self.clip_frames, 0, name=f"{r.clip_id}@{s}"))
        return items

    def _make_dataset(self, items: list[_Item]) -> VideoClipDataset:
        return VideoClipDataset(
            items, fps=self.fps, sample_rate=self.sample_rate, image_size=self.image_size,
            clip_frames=self.clip_frames, with_audio=self._with_audio, decode_threads=self.decode_threads,
        )

    def build_dataset(self, split: str) -> VideoClipDataset:
        """Probe and check the clips of ``split`` (headers and frame index only) and wrap its items."""
        return self._make_dataset(self._split_items(split))

    def _split_items(self, split: str) -> list[_Item]:
        return self._items(split, self.records(split))


_BASE_ARGS_DOC = """
    Args:
        root: dataset folder in the preset's layout.
        preset: ``prepared`` | ``demo`` | ``hdtf`` | ``ravdess`` | ``lrw`` | ``grid`` |
            ``voxceleb1`` | ``celebv`` | ``custom`` (see :mod:`talkzoo.data.video`).
        image_size: expected frame side in pixels (default: the preset's / meta.json ``size``);
            files of another size are refused.
        fps: served frame rate, frames/s (default 25 / meta.json); other stored rates are converted.
        sample_rate: served audio rate in Hz (default 16000 / meta.json).
        clip_frames: training window in frames; default 50 (2 s at 25 fps) for audio → video,
            1 for reenactment (DaGAN/FOMM train on a source frame and one driving frame).
        batch_size: items per batch; num_workers: DataLoader workers.
        source_frame: training source frame: ``"random"`` (another frame of the same video) or
            ``"first"``. Evaluation always uses frame 0.
        eval_mode: ``"whole"`` clips (masked) or consecutive ``"windows"`` of ``clip_frames``.
        max_eval_frames: cut whole evaluation clips to this many frames (memory bound), or None.
        short_clips: clips shorter than a window: ``"skip"`` (logged), ``"pad"`` (masked), ``"error"``.
        skip_bad_files: log and skip files that fail the checks instead of raising.
        check_files: probe every file at ``setup`` (frame index, size, audio, constant frame
            rate); False trusts meta.json frame counts and checks files only when read.
        require_landmarks: refuse clips without ``landmarks/<clip_id>.npy``.
        pairs_file: reenactment evaluation pair list of the test split (a path, or relative to ROOT,
            e.g. ``pairs/cross_identity.csv``); None = ``ROOT/pairs/<test_split>_pairs.csv``, else
            the preset's own list (VoxCeleb1 ``vox_evaluation.csv``, CelebV ``celeV_cross_id_evaluation.csv``).
        max_av_mismatch: largest audio/video duration difference in seconds.
        predict_split: split served by ``predict_dataloader`` (``train``/``val``/``test`` or any
            ``ROOT/splits/<name>.txt``).
        decode_threads: decoder threads per open file.
        pin_memory: DataLoader ``pin_memory``. seed: seed of the shuffle order.
        test_split: split served by ``test_dataloader`` (default ``test``; any ``ROOT/splits/<name>.txt``,
            e.g. a held-out-identity test list; its pairs default to ``ROOT/pairs/<name>_pairs.csv``).

    Raises:
        ConfigError: unknown preset/option, non-positive sizes, a preset without audio for the
            audio → video family, ``custom`` without ``image_size``.
        DataError: from :attr:`spec` / :meth:`setup`: see "Bad input" in :mod:`talkzoo.data.video`.
"""


class TalkingVideoDataModule(_VideoDataModuleBase):
    # a class docstring must be a literal; an expression only becomes __doc__ by assignment
    __doc__ = """Audio → talking-portrait video clips (:class:`~talkzoo.data.batch.VideoBatch`) for FLOAT and AMIE.
    """ + _BASE_ARGS_DOC

    family = FAMILY_VIDEO
    _with_audio = True

    @property
    def spec(self) -> VideoDataSpec:
        """Dataset name, fps, sample rate, training identities (first-seen order), image size.

        Reads only folder listings, split lists and meta.json. Raises DataError for a missing root.
        """
        if self._spec is None:
            self._spec = VideoDataSpec(
                dataset=self.dataset_name, sample_rate=self.sample_rate, fps=self.fps,
                speakers=self._speakers(), image_size=self.image_size,
            )
        return self._spec

    def collate(self, samples: list[VideoSample]) -> VideoBatch:  # type: ignore[override]
        """:func:`~talkzoo.data.batch.collate_video_batch`."""
        return collate_video_batch(samples)


class ReenactmentVideoDataModule(_VideoDataModuleBase):
    __doc__ = """Video-driven reenactment samples (:class:`~talkzoo.data.batch.ReenactmentBatch`) for DaGAN.

    Training: source = a random frame of a video, driving = a random window of ``clip_frames``
    frames of the same video (DaGAN/FOMM train on frame pairs: ``clip_frames=1``). Test: the
    evaluation pairs when a pair list exists (``pairs_file``; preset defaults
    ``ROOT/pairs/test_pairs.csv``, VoxCeleb1 ``ROOT/vox_evaluation.csv``, CelebV
    ``ROOT/celeV_cross_id_evaluation.csv``), else self-reenactment of each test clip from frame 0.
    Pair entries may be clip ids, video names (``<video>.mp4``) or frame paths ending in
    ``<video>/<frame file>`` (``<Celebrity>/Image/<file>`` for CelebV); absolute prefixes from the
    authors' machines are ignored. A frame pair drives with that single frame.
    """ + _BASE_ARGS_DOC

    family = FAMILY_REENACT
    _with_audio = False
    _default_clip_frames = 1

    @property
    def spec(self) -> ReenactmentDataSpec:
        """Dataset name, fps, image size, training identities; ``sample_rate`` 0 (no audio served)."""
        if self._spec is None:
            self._spec = ReenactmentDataSpec(
                dataset=self.dataset_name, sample_rate=0, fps=self.fps, speakers=self._speakers(),
                image_size=self.image_size,
            )
        return self._spec

    def collate(self, samples: list[ReenactmentSample]) -> ReenactmentBatch:  # type: ignore[override]
        """:func:`~talkzoo.data.batch.collate_reenactment_batch`."""
        return collate_reenactment_batch(samples)

    def _pairs_path(self) -> Path | None:
        if self.pairs_file is not None:
            p = Path(self.pairs_file).expanduser()
            if not p.is_absolute() and (self.root / p).is_file():
                return self.root / p
            if not p.is_file():
                raise DataError(f"{p}: pairs_file not found; expected a CSV with header 'source,driving'")
            return p
        for name in (f"pairs/{self.test_split}_pairs.csv", *self.preset.pair_files):
            if (self.root / name).is_file():
                return self.root / name
        return None

    def pairs(self) -> list[PairRecord] | None:
        """The evaluation pairs from the pair list, or None without one.

        Raises:
            DataError: a malformed CSV, or an entry naming no clip/frame of the dataset (the
                message names the CSV line).
        """
        path = self._pairs_path()
        if path is None:
            return None
        self._check_root()
        probed: dict[str, ClipRecord | None] = {}
        clips = self._all_clips()
        by_folder = {r.path.name: r for r in clips.values()}
        by_folder.update({r.path.stem: r for r in clips.values() if r.path.is_file()})
        listings: dict[Path, list[str]] = {}

        def clip(rec: ClipRecord) -> ClipRecord | None:
            if rec.clip_id not in probed:
                probed[rec.clip_id] = self._probe(rec, self.spec.speakers)
            return probed[rec.clip_id]

        def resolve(value: str, line: int) -> tuple[ClipRecord, int | None]:
            v = value.strip()
            if v in clips:
                return clips[v], None
            parts = PurePosixPath(v.replace("\\", "/")).parts
            base = parts[-1] if parts else ""
            if base in by_folder:
                return by_folder[base], None
            if base.endswith(".mp4") and base[:-4] in clips:
                return clips[base[:-4]], None
            if len(parts) >= 2 and PurePosixPath(base).suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"):
                folder_key = self.preset.pair_clip_key(parts)
                rec = clips.get(folder_key) or by_folder.get(parts[-2])
                if rec is not None and rec.path.is_dir():
                    if rec.path not in listings:
                        from talkzoo.video.io import _frame_files

                        listings[rec.path] = [p.name for p in _frame_files(rec.path)]
                    try:
                        return rec, listings[rec.path].index(base)
                    except ValueError:
                        pass
            raise DataError(
                f"{path}:{line}: '{value}' names no clip or frame under {self.root}; expected a clip id, a video "
                f"name or a frame path ending in <video>/<frame>.png ({self.preset.layout})"
            )

        out: list[PairRecord] = []
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                header = [h.strip() for h in next(reader, [])]
                if header[:2] != ["source", "driving"]:
                    raise DataError(f"{path}: expected the header 'source,driving' (optionally ',frame'), got {header}")
                for line, row in enumerate(reader, start=2):
                    if not row or not "".join(row).strip():
                        continue
                    if len(row) < 2:
                        raise DataError(f"{path}:{line}: expected two columns source,driving, got {row}")
                    s_rec, s_frame = resolve(row[0], line)
                    d_rec, d_frame = resolve(row[1], line)
                    s_ok, d_ok = clip(s_rec), clip(d_rec)
                    if s_ok is None or d_ok is None:
                        continue  # skipped file (logged by _probe)
                    name = f"{s_rec.clip_id}__{d_rec.clip_id}"
                    if s_frame is not None or d_frame is not None:
                        name += f"__{s_frame or 0}_{d_frame if d_frame is not None else 'all'}"
                    out.append(PairRecord(name, s_ok, s_frame or 0, d_ok, d_frame))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{path}: cannot read the pair list ({exc})") from exc
        if not out:
            raise DataError(f"{path}: holds no usable pairs")
        return out

    def _split_items(self, split: str) -> list[_Item]:
        pairs = self.pairs() if split == self.test_split else None
        if pairs is None:
            return self._items(split, self.records(split))
        items = []
        for p in pairs:
            if p.driving_frame is not None:
                items.append(_Item(p.driving, p.driving_frame, 1, p.source_frame, p.source, p.name))
            else:
                length = self.max_eval_frames if self.eval_mode == "whole" else self.clip_frames
                items.append(_Item(p.driving, 0, length, p.source_frame, p.source, p.name))
        return items


