"""Talking-face video datamodules: audio → video clips and video-driven reenactment samples.

:class:`TalkingVideoDataModule` serves :class:`~talkzoo.data.batch.VideoBatch` (FLOAT, AMIE) and
:class:`ReenactmentVideoDataModule` serves :class:`~talkzoo.data.batch.ReenactmentBatch` (DaGAN).
Both read the same layouts through the same presets and share one base.

Presets (layouts, splits and their sources)
-------------------------------------------
* ``prepared`` / ``demo`` — the talkzoo prepared layout (``talkzoo data prepare`` and
  ``talkzoo data demo --family video`` write it)::

      ROOT/meta.json                 {"format": "talkzoo-video/1", "fps": 25, "sample_rate": 16000,
                                      "size": 256, "speakers": [...], "clips": {id: {"speaker": ..,
                                      "frames": T, "source": ..}}}
      ROOT/videos/<clip_id>.mp4      H.264, constant 25 fps, size x size, AAC mono 16 kHz
      ROOT/landmarks/<clip_id>.npy   (T, 68, 2) float32 pixels, iBUG-68 order (optional)
      ROOT/splits/{train,val,test}.txt   one clip id per line, '#' comments
      ROOT/pairs/test_pairs.csv      "source,driving" clip ids (reenactment evaluation)

* ``hdtf`` — FLOAT (§5.1): 512x512, 25 fps, 16 kHz. HDTF clips named as the HDTF release names
  them, ``ROOT/{RD,WDA,WRA}_<Name>_<NNN>.mp4`` (identity = the name without the clip number),
  face-cropped to 512x512 (FLOAT crops with FAN; ``talkzoo data prepare`` does this). FLOAT did
  not publish its lists (train 240 videos / 230 identities, test 78 identities x 15 s, identities
  disjoint), so this preset reads ``ROOT/splits/{train,val,test}.txt`` and stops with a message
  saying so when they are missing.
* ``ravdess`` — FLOAT: 512x512, 25 fps, 16 kHz. The release layout
  ``ROOT/Actor_NN/MM-VV-EE-II-SS-RR-NN.mp4`` (modality-channel-emotion-intensity-statement-
  repetition-actor). Only modality ``01`` (audio-video) is used; ``02`` (video-only) files have no
  speech and are skipped (logged). FLOAT trains on 22 actors and tests on "the remaining 2"
  without naming them; talkzoo's choice: test = actors 23 and 24 (one male, one female: odd
  actor numbers are male in RAVDESS), val = the same two (FLOAT has no validation set).
  RAVDESS is 1280x720 at 29.97 fps: face-crop it to 512x512 first (``talkzoo data prepare``);
  a 29.97 fps clip is converted to 25 fps on reading (:func:`talkzoo.video.io.convert_frame_indices`).
* ``lrw`` — AMIE: 256x256, 25 fps. The release layout ``ROOT/lipread_mp4/<WORD>/{train,val,test}/
  <WORD>_<NNNNN>.mp4`` (ROOT may also be the ``lipread_mp4`` folder itself), the official splits
  (488,766 / 25,000 / 25,000 clips of 29 frames). File names repeat across splits, so clip ids
  are the relative paths ``<WORD>/<split>/<WORD>_<NNNNN>`` (as LRW file lists write them). LRW names no speakers: ``speaker`` is -1 and
  ``spec.speakers`` is empty; ``subjects`` holds the word.
* ``grid`` — AMIE evaluates on GRID cross-dataset (trained on LRW, Table 2): 256x256 face crops,
  25 fps. The release layout ``ROOT/s<N>/<utterance>.mpg`` (``.mp4`` accepted; a sidecar
  ``<utterance>.wav`` is used when the video has no audio track; ``ROOT/align/`` is ignored).
  Clip ids are ``s<N>_<utterance>``. The test split is every speaker found (AMIE's cross-dataset
  protocol); train/val need ``ROOT/splits/*.txt`` (AMIE publishes none).
* ``voxceleb1`` — DaGAN: 256x256 as FOMM's ``video-preprocessing`` writes VoxCeleb1:
  ``ROOT/{train,test}/<id>#<youtube>#<start>#<end>.mp4``, each either an mp4 file or a folder of
  ``0000000.png`` frames (frames at 25 fps). Identity = the part before the first ``#``; val =
  test (FOMM/DaGAN have no validation split). Evaluation pairs: ``ROOT/pairs/test_pairs.csv``,
  else DaGAN's ``ROOT/vox_evaluation.csv`` (header ``source,driving,frame``, rows of frame paths
  ``.../test/<video>/0000013.png``) when present, else self-reenactment of every test video.
  No audio (FOMM drops it): reenactment only.
* ``celebv`` — DaGAN's cross-identity test set: ``ROOT/<Celebrity>/Image/*.jpg`` (five
  celebrities; each ``Image`` folder is read as one frame sequence in file-name order) and the
  pair list ``ROOT/celeV_cross_id_evaluation.csv`` (frame paths ``.../<Celebrity>/Image/<file>``).
  Test only (DaGAN does not train on it).
* ``custom`` — your own videos: ``ROOT/videos/<clip_id>.<ext>`` (any container FFmpeg reads, or
  frame folders) and ``ROOT/splits/*.txt``; ``image_size`` is required; the speaker is taken
  from ``meta.json`` when there is one, else the clip id up to its last ``_``.

For every preset ``ROOT/splits/<split>.txt`` (when present) replaces the built-in split, and
``ROOT/landmarks/<clip_id>.npy`` ((N, 68, 2) pixels, one row per stored frame) is served when
present.

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
from torch.utils.data import DataLoader, Dataset

from talkzoo.data.base import TalkzooDataModule
from talkzoo.data.batch import ReenactmentBatch, VideoBatch, lengths_to_mask
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

SPLITS = ("train", "val", "test")
_VIDEO_SUFFIXES = (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm", ".flv")


# --------------------------------------------------------------------------------------------
# presets
# --------------------------------------------------------------------------------------------
class _NoSplit(DataError):
    """The preset has no built-in list for a split and no ``splits/<split>.txt`` was found."""


@dataclass(frozen=True)
class VideoPreset:
    """One dataset's layout and protocol.

    Attributes:
        name: preset id.
        image_size: frame side in pixels the paper uses (``None``: from meta.json or the user).
        fps: frame rate served, frames/s.
        sample_rate: audio rate served, Hz.
        families: task families the data supports (no audio → reenactment only).
        layout: the folder layout expected (for messages).
        split_source: where the split comes from.
        get_data: how to obtain and prepare the data (for "root missing" messages).
    """

    name: str
    image_size: int | None
    fps: float
    sample_rate: int
    families: tuple[str, ...]
    layout: str
    split_source: str
    get_data: str


_PREPARED_LAYOUT = (
    "ROOT/meta.json, ROOT/videos/<clip_id>.mp4, ROOT/splits/{train,val,test}.txt, optional "
    "ROOT/landmarks/<clip_id>.npy and ROOT/pairs/test_pairs.csv"
)
_BOTH = (FAMILY_VIDEO, FAMILY_REENACT)

VIDEO_PRESETS: dict[str, VideoPreset] = {
    "prepared": VideoPreset(
        "prepared", None, 25.0, 16000, _BOTH, _PREPARED_LAYOUT, "ROOT/splits/*.txt",
        "prepare a dataset with `talkzoo data prepare <dataset> --src DIR --out ROOT`",
    ),
    "demo": VideoPreset(
        "demo", None, 25.0, 16000, _BOTH, _PREPARED_LAYOUT, "ROOT/splits/*.txt",
        "generate the demo corpus with `talkzoo data demo --family video --out ROOT`",
    ),
    "hdtf": VideoPreset(
        "hdtf", 512, 25.0, 16000, _BOTH,
        "ROOT/{RD,WDA,WRA}_<Name>_<NNN>.mp4 (512x512 face crops, 25 fps, with audio) and "
        "ROOT/splits/{train,val,test}.txt",
        "FLOAT (Ki et al., 2024) §5.1; its HDTF lists are unpublished (train 240 videos / 230 identities, "
        "test 78 identities x 15 s, disjoint identities): supply ROOT/splits/*.txt",
        "download HDTF (https://github.com/MRzzm/HDTF: YouTube ids and crop/time annotations), cut the "
        "clips, then `talkzoo data prepare hdtf --src DIR --out ROOT` (face crop to 512x512, 25 fps, 16 kHz)",
    ),
    "ravdess": VideoPreset(
        "ravdess", 512, 25.0, 16000, _BOTH,
        "ROOT/Actor_NN/01-VV-EE-II-SS-RR-NN.mp4 (the Video_Speech/Video_Song release, face-cropped to 512x512)",
        "FLOAT §5.1: 22 training actors, 2 test actors (unnamed; talkzoo uses actors 23 and 24, val = test)",
        "download Video_Speech_Actor_NN.zip / Video_Song_Actor_NN.zip from https://zenodo.org/records/1188976 "
        "(CC BY-NC-SA 4.0), then `talkzoo data prepare ravdess --src DIR --out ROOT`",
    ),
    "lrw": VideoPreset(
        "lrw", 256, 25.0, 16000, _BOTH,
        "ROOT/lipread_mp4/<WORD>/{train,val,test}/<WORD>_<NNNNN>.mp4 (256x256, 25 fps, 29 frames)",
        "the official LRW split (Chung & Zisserman, ACCV 2016), as AMIE (IJCAI 2020) uses it",
        "request LRW from https://www.robots.ox.ac.uk/~vgg/data/lip_reading/lrw1.html (BBC licence) and unpack "
        "lrw-v1 so that ROOT/lipread_mp4/ABOUT/train/ABOUT_00001.mp4 exists",
    ),
    "grid": VideoPreset(
        "grid", 256, 25.0, 16000, _BOTH,
        "ROOT/s<N>/<utterance>.mpg (or .mp4; sidecar <utterance>.wav allowed), face-cropped to 256x256",
        "AMIE Table 2: cross-dataset test on GRID (every speaker); train/val need ROOT/splits/*.txt",
        "download the GRID corpus from https://spandh.dcs.shef.ac.uk/gridcorpus/ (CC BY 4.0; s<N>.mpg_vcd.zip), "
        "then `talkzoo data prepare grid --src DIR --out ROOT` (face crop to 256x256)",
    ),
    "voxceleb1": VideoPreset(
        "voxceleb1", 256, 25.0, 16000, (FAMILY_REENACT,),
        "ROOT/{train,test}/<id>#<youtube>#<start>#<end>.mp4 (an mp4 file or a folder of 0000000.png frames, "
        "256x256, as FOMM's video-preprocessing writes them); pairs ROOT/pairs/test_pairs.csv or ROOT/vox_evaluation.csv",
        "FOMM/DaGAN's VoxCeleb1 train/test split (val = test); DaGAN's evaluation pairs data/vox_evaluation.csv",
        "request VoxCeleb1 (https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html) and crop it with "
        "https://github.com/AliaksandrSiarohin/video-preprocessing (`python load_videos.py --format .png "
        "--image_shape 256,256`); copy DaGAN's data/vox_evaluation.csv into ROOT for its evaluation pairs",
    ),
    "celebv": VideoPreset(
        "celebv", 256, 25.0, 16000, (FAMILY_REENACT,),
        "ROOT/<Celebrity>/Image/*.jpg (five celebrities) and ROOT/celeV_cross_id_evaluation.csv",
        "DaGAN's CelebV cross-identity test pairs (data/celeV_cross_id_evaluation.csv); test only",
        "get CelebV (ReenactGAN, Wu et al. ECCV 2018: https://github.com/wywu/ReenactGAN) and copy DaGAN's "
        "data/celeV_cross_id_evaluation.csv into ROOT",
    ),
    "custom": VideoPreset(
        "custom", None, 25.0, 16000, _BOTH,
        "ROOT/videos/<clip_id>.<mp4|mpg|avi|mov|mkv> or frame folders, ROOT/splits/{train,val,test}.txt",
        "ROOT/splits/*.txt",
        "put your clips (face-cropped, square, constant frame rate) in ROOT/videos/ and list them in ROOT/splits/",
    ),
}

#: RAVDESS split by actor number (see the module docstring).
RAVDESS_ACTORS = {"train": tuple(range(1, 23)), "val": (23, 24), "test": (23, 24)}
_RAVDESS_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


def read_split_file(path: Path) -> list[str]:
    """Read a split list: one clip id per line; blank lines and comments are ignored.

    A comment is a line starting with ``#`` or the rest of a line after whitespace + ``#``
    (a ``#`` inside a name, as in VoxCeleb's ``id10001#7w0IBEWc9Qw#000993#001143``, is kept).

    Raises:
        DataError: unreadable file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the split list ({exc})") from exc
    out = []
    for line in text.splitlines():
        line = re.split(r"\s#", line, maxsplit=1)[0].strip()  # '#' inside a name (VoxCeleb ids) is kept
        if line and not line.startswith("#"):
            out.append(line)
    return out


# --------------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClipRecord:
    """One video of a split (found by listing; ``num_frames`` etc. filled by probing).

    Attributes:
        clip_id: the clip's id (file stem; GRID ``s<N>_<utt>``; VoxCeleb name without ``.mp4``).
        path: video file or frame folder.
        speaker: identity name ("" when the dataset names none, as LRW).
        speaker_index: index into ``spec.speakers`` or -1.
        subject: name reported in ``batch.subjects`` (the identity, or LRW's word).
        audio_path: sidecar audio file used when the video has no audio track, or None.
        landmarks: ``landmarks/<clip_id>.npy`` when present, else None.
        num_frames: frames at the served ``fps`` (after frame-rate conversion); 0 before probing.
        src_fps: the stored frame rate (frames/s).
        src_frames: frames stored in the file.
    """

    clip_id: str
    path: Path
    speaker: str
    speaker_index: int = -1
    subject: str = ""
    audio_path: Path | None = None
    landmarks: Path | None = None
    num_frames: int = 0
    src_fps: float = 25.0
    src_frames: int = 0


@dataclass(frozen=True)
class PairRecord:
    """One reenactment evaluation pair.

    Attributes:
        name: ``"<source>__<driving>"`` (with frame numbers for frame pairs).
        source: the source clip; source_frame: its frame used as the source (served-fps index).
        driving: the driving clip; driving_frame: a single driving frame (frame pairs, as DaGAN's
            ``vox_evaluation.csv``) or None for the whole driving clip.
    """

    name: str
    source: ClipRecord
    source_frame: int
    driving: ClipRecord
    driving_frame: int | None


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

    Each item is a dict with ``frames`` ``(T, H, W, 3)`` uint8, ``source`` ``(H, W, 3)`` uint8,
    ``audio`` ``(S,)`` float32 / ``audio_mask`` ``(S,)`` bool (when ``with_audio``),
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

    def __getitem__(self, index: int) -> dict[str, Any]:
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
        out.update(
            landmarks=lms,
            source_landmarks=src_lms[0] if src_lms is not None else None,
            speaker=rec.speaker_index,
            name=item.name or rec.clip_id,
            subject=src_rec.subject or src_rec.speaker,
        )
        return out


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


def _to_float(frames: Tensor) -> Tensor:
    """uint8 ``(..., H, W, 3)`` → float32 ``(..., 3, H, W)`` in [0, 1]."""
    return frames.movedim(-1, -3).float().div_(255.0)


def _pad_frames(items: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    lengths = torch.tensor([x.shape[0] for x in items], dtype=torch.long)
    width = int(lengths.max())
    h, w = items[0].shape[1:3]
    out = torch.zeros(len(items), width, 3, h, w, dtype=torch.float32)
    for b, x in enumerate(items):
        out[b, : x.shape[0]] = _to_float(x)
    return out, lengths_to_mask(lengths, width)


def _pad_landmarks(samples: Sequence[dict[str, Any]], width: int) -> tuple[Tensor | None, Tensor | None]:
    if any(s["landmarks"] is None for s in samples) or any(s["source_landmarks"] is None for s in samples):
        return None, None
    out = torch.zeros(len(samples), width, 68, 2, dtype=torch.float32)
    for b, s in enumerate(samples):
        out[b, : s["landmarks"].shape[0]] = s["landmarks"]
    return out, torch.stack([s["source_landmarks"] for s in samples])


def collate_video_batch(samples: Sequence[dict[str, Any]]) -> VideoBatch:
    """Right-pad audio → video samples into a :class:`~talkzoo.data.batch.VideoBatch`.

    Returns:
        ``audio (B, S)`` float32 / ``audio_mask (B, S)`` bool, ``frames (B, T, 3, H, W)`` float32
        in [0, 1] / ``frame_mask (B, T)``, ``source (B, 3, H, W)``, ``speaker (B,)`` int64,
        ``landmarks (B, T, 68, 2)`` and ``source_landmarks (B, 68, 2)`` float32 pixels when every
        sample has them (else None), ``names``, ``subjects``.

    Raises:
        DataError: an empty list.
    """
    if not samples:
        raise DataError("collate_video_batch: got an empty list of samples")
    frames, frame_mask = _pad_frames([s["frames"] for s in samples])
    a_len = torch.tensor([s["audio"].shape[0] for s in samples], dtype=torch.long)
    audio = torch.zeros(len(samples), int(a_len.max()), dtype=torch.float32)
    audio_mask = torch.zeros(len(samples), int(a_len.max()), dtype=torch.bool)
    for b, s in enumerate(samples):
        audio[b, : s["audio"].shape[0]] = s["audio"]
        audio_mask[b, : s["audio"].shape[0]] = s["audio_mask"]
    lms, src_lms = _pad_landmarks(samples, frames.shape[1])
    return VideoBatch(
        audio=audio,
        audio_mask=audio_mask,
        frames=frames,
        frame_mask=frame_mask,
        source=torch.stack([_to_float(s["source"]) for s in samples]),
        speaker=torch.tensor([s["speaker"] for s in samples], dtype=torch.long),
        names=[s["name"] for s in samples],
        subjects=[s["subject"] for s in samples],
        landmarks=lms,
        source_landmarks=src_lms,
    )


def collate_reenactment_batch(samples: Sequence[dict[str, Any]]) -> ReenactmentBatch:
    """Right-pad reenactment samples into a :class:`~talkzoo.data.batch.ReenactmentBatch`.

    Returns:
        ``source (B, 3, H, W)`` float32 in [0, 1], ``driving (B, T, 3, H, W)`` / ``frame_mask
        (B, T)``, ``driving_landmarks (B, T, 68, 2)`` / ``source_landmarks (B, 68, 2)`` when every
        sample has them (else None), ``names``, ``subjects`` (source identities).

    Raises:
        DataError: an empty list.
    """
    if not samples:
        raise DataError("collate_reenactment_batch: got an empty list of samples")
    driving, mask = _pad_frames([s["frames"] for s in samples])
    lms, src_lms = _pad_landmarks(samples, driving.shape[1])
    return ReenactmentBatch(
        source=torch.stack([_to_float(s["source"]) for s in samples]),
        driving=driving,
        frame_mask=mask,
        names=[s["name"] for s in samples],
        subjects=[s["subject"] for s in samples],
        driving_landmarks=lms,
        source_landmarks=src_lms,
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
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if preset not in VIDEO_PRESETS:
            raise ConfigError(f"preset '{preset}' is unknown; expected one of {sorted(VIDEO_PRESETS)}")
        self.preset = VIDEO_PRESETS[preset]
        if self.family not in self.preset.families:
            raise ConfigError(
                f"preset '{preset}' has no audio (FOMM's preprocessing drops it) and serves only "
                f"{list(self.preset.families)}; use ReenactmentVideoDataModule for it"
            )
        choices = {
            "source_frame": (source_frame, ("random", "first")),
            "eval_mode": (eval_mode, ("whole", "windows")),
            "short_clips": (short_clips, ("skip", "pad", "error")),
            "predict_split": (predict_split, SPLITS),
        }
        for label, (value, allowed) in choices.items():
            if value not in allowed:
                raise ConfigError(f"{label}={value!r} is unknown; expected one of {list(allowed)}")
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
        self.datasets: dict[str, VideoClipDataset] = {}

    # ------------------------------------------------------------------ root and meta
    def _missing(self, what: Path | str) -> DataError:
        return DataError(
            f"dataset root {self.root} is missing or not in the '{self.preset.name}' layout [missing: {what}]. "
            f"Expected {self.preset.layout}. To get it: {self.preset.get_data}"
        )

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise self._missing(self.root)
        name = self.preset.name
        if name in ("prepared", "demo"):
            for part in ("meta.json", "videos", "splits"):
                if not (self.root / part).exists():
                    raise self._missing(self.root / part)
        elif name == "custom":
            if not (self.root / "videos").is_dir():
                raise self._missing(self.root / "videos")
        elif name == "lrw":
            if self._lrw_root() is None:
                raise self._missing(self.root / "lipread_mp4" / "<WORD>" / "train")
        elif name == "ravdess":
            if not any(self.root.glob("Actor_[0-9][0-9]")):
                raise self._missing(self.root / "Actor_01")
        elif name == "grid":
            if not any(p.is_dir() for p in self.root.glob("s[0-9]*")):
                raise self._missing(self.root / "s1")
        elif name == "voxceleb1":
            if not any((self.root / s).is_dir() for s in ("train", "test")):
                raise self._missing(self.root / "test")
        elif name == "celebv":
            if not any(self.root.glob("*/Image")):
                raise self._missing(self.root / "<Celebrity>" / "Image")
        elif name == "hdtf":
            if not any(self.root.glob("*.mp4")):
                raise self._missing(self.root / "WDA_<Name>_000.mp4")

    def _lrw_root(self) -> Path | None:
        for cand in (self.root / "lipread_mp4", self.root):
            if cand.is_dir() and (any(cand.glob("*/train")) or any(cand.glob("*/test"))):
                return cand
        return None

    def meta(self) -> dict[str, Any]:
        """``ROOT/meta.json`` (prepared/demo; custom when present), read once; ``{}`` otherwise.

        Raises:
            DataError: unreadable JSON, a wrong ``format``, or malformed ``clips``.
        """
        if self._meta is None:
            path = self.root / "meta.json"
            if self.preset.name in ("prepared", "demo") or (self.preset.name == "custom" and path.is_file()):
                self._check_root()
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise DataError(f"{path}: not readable JSON ({exc})") from exc
                if not isinstance(data, dict) or not str(data.get("format", "")).startswith("talkzoo-video/"):
                    raise DataError(f'{path}: expected a JSON object with "format": "talkzoo-video/1" (the prepared layout)')
                if not isinstance(data.get("clips", {}), dict):
                    raise DataError(f'{path}: "clips" must be an object {{clip_id: {{"speaker": ..., "frames": ...}}}}')
                self._meta = data
            else:
                self._meta = {}
        return self._meta

    # ------------------------------------------------------------------ resolved values
    @property
    def image_size(self) -> int:
        """Frame side in pixels: the argument, else meta.json ``size``, else the preset's."""
        if self.image_size_arg is not None:
            return int(self.image_size_arg)
        if self.preset.image_size is not None:
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
        """Every clip of the layout by id (split ignored; listing only)."""
        name, root = self.preset.name, self.root
        fps0 = self.preset.fps
        out: dict[str, ClipRecord] = {}

        def add(clip_id: str, path: Path, speaker: str, subject: str = "", audio: Path | None = None) -> None:
            out[clip_id] = ClipRecord(clip_id, path, speaker, subject=subject or speaker, audio_path=audio,
                                      landmarks=self._landmark_path(clip_id), src_fps=fps0)

        if name in ("prepared", "demo", "custom"):
            clips = self.meta().get("clips", {})
            for p in sorted((root / "videos").iterdir()):
                if p.name.startswith("."):
                    continue
                if p.is_dir() or p.suffix.lower() in _VIDEO_SUFFIXES:
                    cid = p.stem if p.is_file() else p.name
                    entry = clips.get(cid, {})
                    speaker = str(entry.get("speaker", "")) if isinstance(entry, dict) else ""
                    if not speaker:
                        speaker = cid.rsplit("_", 1)[0] if name == "custom" else cid
                    add(cid, p, speaker)
        elif name == "hdtf":
            for p in sorted(root.glob("*.mp4")):
                add(p.stem, p, re.sub(r"_\d+$", "", p.stem))
        elif name == "ravdess":
            skipped = 0
            for p in sorted(root.glob("Actor_*/*.mp4")):
                m = _RAVDESS_NAME.match(p.stem)
                if m is None:
                    log.warning("%s: skipped, not a RAVDESS file name (MM-VV-EE-II-SS-RR-AA.mp4)", p)
                    continue
                if m.group(1) != "01":
                    skipped += 1
                    log.info("%s: skipped, modality %s is not audio-video (01)", p, m.group(1))
                    continue
                add(p.stem, p, f"Actor_{m.group(7)}")
            if skipped:
                log.info("RAVDESS: skipped %d video-only (modality 02) files without speech", skipped)
        elif name == "lrw":
            lrw = self._lrw_root()
            assert lrw is not None
            for p in sorted(lrw.glob("*/*/*.mp4")):  # names repeat across splits: id = WORD/split/stem
                add(f"{p.parent.parent.name}/{p.parent.name}/{p.stem}", p, "", subject=p.parent.parent.name)
        elif name == "grid":
            for spk in sorted(d for d in root.glob("s[0-9]*") if d.is_dir()):
                for p in sorted(spk.iterdir()):
                    if p.suffix.lower() in _VIDEO_SUFFIXES:
                        wav = p.with_suffix(".wav")
                        add(f"{spk.name}_{p.stem}", p, spk.name, audio=wav if wav.is_file() else None)
        elif name == "voxceleb1":
            for part in ("train", "test"):
                d = root / part
                if d.is_dir():
                    for p in sorted(d.iterdir()):
                        if p.is_dir() or p.suffix.lower() in _VIDEO_SUFFIXES:
                            cid = p.name[:-4] if p.name.endswith(".mp4") else p.stem
                            add(cid, p, cid.split("#", 1)[0])
        elif name == "celebv":
            for d in sorted(root.glob("*/Image")):
                if d.is_dir():
                    add(d.parent.name, d, d.parent.name)
        return out

    def _builtin_split(self, split: str, clips: dict[str, ClipRecord]) -> list[str]:
        name = self.preset.name
        if name == "ravdess":
            actors = {f"Actor_{a:02d}" for a in RAVDESS_ACTORS[split]}
            return [c for c, r in clips.items() if r.speaker in actors]
        if name == "lrw":
            return [c for c, r in clips.items() if r.path.parent.name == split]
        if name == "voxceleb1":
            part = "train" if split == "train" else "test"
            return [c for c, r in clips.items() if r.path.parent.name == part]
        if name == "grid" and split == "test":
            return list(clips)
        if name == "celebv":
            if split != "test":
                raise _NoSplit(
                    f"preset 'celebv' has no {split} split: DaGAN uses CelebV only for cross-identity testing; "
                    "train on VoxCeleb1 (preset 'voxceleb1')"
                )
            return list(clips)
        why = {
            "hdtf": self.preset.split_source,
            "grid": "AMIE evaluates GRID cross-dataset only and publishes no training split",
        }.get(name, "the prepared layout lists its splits there")
        raise _NoSplit(
            f"{self.root / 'splits' / (split + '.txt')}: not found; preset '{name}' needs it for the {split} split "
            f"({why}). Write one clip id (file stem) per line"
        )

    def listing(self, split: str) -> list[ClipRecord]:
        """The clips of ``split`` from the folder listing and split lists (nothing decoded).

        Raises:
            ConfigError: unknown split. DataError: root missing, a listed clip missing, no clips.
        """
        if split not in SPLITS:
            raise ConfigError(f"split '{split}' is unknown; expected one of {list(SPLITS)}")
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
        except _NoSplit:  # a test-only dataset (CelebV, GRID) or lists still to be written
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

    def setup(self, stage: str | None = None) -> None:
        """Probe and check the splits ``stage`` needs (headers and frame index only)."""
        needed = {
            "fit": ("train", "val"),
            "validate": ("val",),
            "test": ("test",),
            "predict": (self.predict_split,),
        }.get(stage, SPLITS) if stage is not None else SPLITS
        for split in needed:
            if split not in self.datasets:
                self.datasets[split] = self._make_dataset(self._split_items(split))

    def _split_items(self, split: str) -> list[_Item]:
        return self._items(split, self.records(split))

    def _loader(self, split: str, *, shuffle: bool) -> DataLoader:
        if split not in self.datasets:
            self.setup({"train": "fit", "val": "validate", "test": "test"}[split])
        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=self._collate,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            generator=generator,
        )

    def _collate(self, samples: Sequence[dict[str, Any]]) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def train_dataloader(self) -> DataLoader:
        """Shuffled random windows of ``clip_frames`` frames."""
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Deterministic validation items (whole clips or windows), source = frame 0."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Deterministic test items (reenactment: the evaluation pairs when a pair list exists)."""
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        """Deterministic items of ``predict_split``."""
        return self._loader(self.predict_split, shuffle=False)


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
        pairs_file: reenactment evaluation pair list (see the presets); None = the preset's default.
        max_av_mismatch: largest audio/video duration difference in seconds.
        predict_split: split served by ``predict_dataloader``.
        decode_threads: decoder threads per open file.
        pin_memory: DataLoader ``pin_memory``. seed: seed of the shuffle order.

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
                dataset=self.preset.name, sample_rate=self.sample_rate, fps=self.fps,
                speakers=self._speakers(), image_size=self.image_size,
            )
        return self._spec

    def _collate(self, samples: Sequence[dict[str, Any]]) -> VideoBatch:
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
                dataset=self.preset.name, sample_rate=0, fps=self.fps, speakers=self._speakers(),
                image_size=self.image_size,
            )
        return self._spec

    def _collate(self, samples: Sequence[dict[str, Any]]) -> ReenactmentBatch:
        return collate_reenactment_batch(samples)

    def _pairs_path(self) -> Path | None:
        if self.pairs_file is not None:
            p = Path(self.pairs_file).expanduser()
            if not p.is_file():
                raise DataError(f"{p}: pairs_file not found; expected a CSV with header 'source,driving'")
            return p
        for name in ("pairs/test_pairs.csv", "vox_evaluation.csv", "celeV_cross_id_evaluation.csv"):
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
                folder_key = parts[-3] if self.preset.name == "celebv" and len(parts) >= 3 else parts[-2]
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
        pairs = self.pairs() if split == "test" else None
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


