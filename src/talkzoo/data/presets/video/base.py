"""Base class of the 2D presets read by :class:`talkzoo.data.video.TalkingVideoDataModule` and
:class:`talkzoo.data.video.ReenactmentVideoDataModule`.

A video preset knows its dataset's *release layout*: how to check it (:meth:`VideoPreset.check_root`),
list its clips (:meth:`VideoPreset.list_clips`), its official split
(:meth:`VideoPreset.builtin_split`) and its evaluation pair lists (:attr:`VideoPreset.pair_files`).
Every video preset also reads the *talkzoo prepared layout* (what ``talkzoo data prepare``
writes; see :mod:`talkzoo.data.video`)::

    ROOT/meta.json                 {"format": "talkzoo-video/1", "dataset": "<preset>", "fps": 25,
                                    "sample_rate": 16000, "size": 256, "speakers": [...],
                                    "clips": {id: {"speaker": .., "frames": T, "source": ..}}}
    ROOT/videos/<clip_id>.mp4      ROOT/landmarks/<clip_id>.npy (optional)
    ROOT/splits/<split>.txt        any split names (train/val/test and extra ones)
    ROOT/pairs/<split>_pairs.csv   "source,driving" clip ids of the split's evaluation pairs

A root holding ``meta.json`` is read in the prepared layout whatever the preset, and
``spec.dataset`` is the dataset recorded there, so data prepared from HDTF reports ``hdtf``.
A preset whose raw release users download and crop implements ``prepare`` through
:meth:`VideoPreset.raw_clips` and :meth:`VideoPreset.prepare_split` (the cropping itself is
:func:`talkzoo.data.prepare_video.prepare_videos`).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from talkzoo.data.presets.base import SPLITS, DatasetPreset
from talkzoo.data.spec import FAMILY_REENACT, FAMILY_VIDEO
from talkzoo.errors import DataError

__all__ = [
    "BOTH_FAMILIES",
    "PREPARED_LAYOUT",
    "VIDEO_SUFFIXES",
    "ClipRecord",
    "NoSplit",
    "PairRecord",
    "VideoPreset",
    "read_split_file",
]

#: File suffixes listed as videos (case-insensitive).
VIDEO_SUFFIXES = (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm", ".flv")
BOTH_FAMILIES = (FAMILY_VIDEO, FAMILY_REENACT)
PREPARED_LAYOUT = (
    "ROOT/meta.json, ROOT/videos/<clip_id>.mp4, ROOT/splits/{train,val,test}.txt, optional "
    "ROOT/landmarks/<clip_id>.npy and ROOT/pairs/test_pairs.csv"
)


class NoSplit(DataError):
    """The preset has no built-in list for a split and no ``splits/<split>.txt`` was found."""


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


def read_split_file(path: Path) -> list[str]:
    """Read a split list: one clip id per line; blank lines and comments are ignored.

    A comment is a line starting with ``#`` or the rest of a line after whitespace + ``#``
    (a ``#`` inside a name, as in VoxCeleb's ``id10001#7w0IBEWc9Qw#000993#001143``, is kept).

    Raises:
        DataError: unreadable file.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the split list ({exc})") from exc
    out = []
    for line in text.splitlines():
        line = re.split(r"\s#", line, maxsplit=1)[0].strip()  # '#' inside a name (VoxCeleb ids) is kept
        if line and not line.startswith("#"):
            out.append(line)
    return out


class VideoPreset(DatasetPreset):
    """One 2D dataset's layout and protocol (see the module docstring).

    Attributes:
        image_size: frame side in pixels the paper uses (``None``: from meta.json or the user).
        fps: frame rate served, frames/s.
        sample_rate: audio rate served, Hz.
        families: task families the data supports (no audio → reenactment only).
        split_source: where the split comes from.
        pair_files: evaluation pair lists of the test split, relative to ROOT, tried after
            ``pairs/<split>_pairs.csv``.
        prepared_layout: the preset's own layout *is* the prepared layout (prepared, demo, custom).
        generic: ``spec.dataset`` is the dataset recorded in meta.json (a preset that reads any
            prepared root); otherwise a root prepared from another dataset is refused.
    """

    kind: ClassVar[str] = "video"
    image_size: ClassVar[int | None] = None
    fps: ClassVar[float] = 25.0
    sample_rate: ClassVar[int] = 16000
    families: ClassVar[tuple[str, ...]] = BOTH_FAMILIES
    split_source: ClassVar[str] = ""
    pair_files: ClassVar[tuple[str, ...]] = ()
    prepared_layout: ClassVar[bool] = False
    generic: ClassVar[bool] = False

    # ------------------------------------------------------------------ messages
    def missing(self, root: Path, what: Path | str, layout: str | None = None) -> DataError:
        """The "root missing / not in the layout" error: names the path, the layout and where to get it."""
        return DataError(
            f"dataset root {root} is missing or not in the '{self.name}' layout [missing: {what}]. "
            f"Expected {layout or self.layout}. To get it: {self.get_data}"
        )

    # ------------------------------------------------------------------ which layout
    def is_prepared(self, root: Path) -> bool:
        """Whether ``root`` is read in the prepared layout (its own layout, or a ``meta.json`` there)."""
        return self.prepared_layout or (Path(root) / "meta.json").is_file()

    def check(self, root: Path, prepared: bool) -> None:
        """Check ``root`` exists in the layout read (release or prepared).

        Raises:
            DataError: see :meth:`missing`.
        """
        root = Path(root)
        if not root.is_dir():
            raise self.missing(root, root)
        if prepared:
            self.check_prepared(root)
        else:
            self.check_root(root)

    def check_prepared(self, root: Path) -> None:
        """The prepared layout needs ``meta.json``, ``videos/`` and ``splits/``."""
        for part in ("meta.json", "videos", "splits"):
            if not (root / part).exists():
                raise self.missing(root, root / part, PREPARED_LAYOUT)

    def check_root(self, root: Path) -> None:
        """Check the release layout (subclasses; ``root`` exists)."""

    # ------------------------------------------------------------------ listing
    def list_clips(self, root: Path) -> list[ClipRecord]:
        """Every clip of the release layout (split ignored; nothing decoded)."""
        raise NotImplementedError

    def speaker_fallback(self, clip_id: str) -> str:
        """Speaker of a prepared clip whose meta.json entry names none: the clip id."""
        return clip_id

    def list_prepared(self, root: Path, meta: dict[str, Any]) -> list[ClipRecord]:
        """Every clip of a prepared root: ``videos/<clip_id>.<ext>`` (or a frame folder), speaker and
        subject from meta.json's ``clips`` entry."""
        clips = meta.get("clips", {})
        out = []
        for p in sorted((root / "videos").iterdir()):
            if p.name.startswith("."):
                continue
            if p.is_dir() or p.suffix.lower() in VIDEO_SUFFIXES:
                cid = p.stem if p.is_file() else p.name
                entry = clips.get(cid, {})
                entry = entry if isinstance(entry, dict) else {}
                speaker = str(entry.get("speaker", "")) or self.speaker_fallback(cid)
                out.append(ClipRecord(cid, p, speaker, subject=str(entry.get("subject", "")) or speaker))
        return out

    # ------------------------------------------------------------------ splits and pairs
    def builtin_split(self, split: str, clips: dict[str, ClipRecord], root: Path) -> list[str]:
        """The official clip ids of ``split`` when no ``ROOT/splits/<split>.txt`` exists.

        Raises:
            NoSplit: the preset has no built-in list for ``split`` (the default).
        """
        raise self.no_split(split, root, self.split_source or "the prepared layout lists its splits there")

    def no_split(self, split: str, root: Path, why: str) -> NoSplit:
        """The "split list missing" error."""
        return NoSplit(
            f"{Path(root) / 'splits' / (split + '.txt')}: not found; preset '{self.name}' needs it for the {split} "
            f"split ({why}). Write one clip id (file stem) per line"
        )

    def pair_clip_key(self, parts: tuple[str, ...]) -> str:
        """The folder naming the clip in a frame path of a pair list (``.../<video>/<frame>.png``)."""
        return parts[-2]

    def dataset_name(self, root: Path, meta: dict[str, Any], prepared: bool) -> str:
        """``spec.dataset``: the preset's name; for a prepared root, the dataset recorded in meta.json.

        Raises:
            DataError: a named preset reading a root prepared from another dataset.
        """
        recorded = str(meta.get("dataset") or "") if prepared else ""
        if self.generic:
            return recorded or self.name
        if recorded and recorded != self.name:
            raise DataError(
                f"{Path(root) / 'meta.json'}: was prepared from dataset '{recorded}', not '{self.name}'; read it "
                f"with preset '{recorded}' (or 'prepared')"
            )
        return self.name

    # ------------------------------------------------------------------ prepare
    def raw_clips(self, src: Path) -> list[ClipRecord]:
        """The clips of a raw release folder to crop (default: the release-layout listing)."""
        self.check(src, prepared=False)
        return self.list_clips(src)

    def prepare_split(self, clips: list[ClipRecord], src: Path) -> dict[str, list[str]] | None:
        """The split written by ``prepare``: ``src/splits/<split>.txt`` where present, else the
        built-in split; ``None`` when there is neither (the hash protocol of
        :func:`~talkzoo.data.prepare_video.prepare_videos` decides)."""
        by_id = {c.clip_id: c for c in clips}
        out: dict[str, list[str]] = {}
        for split in SPLITS:
            path = Path(src) / "splits" / f"{split}.txt"
            if path.is_file():
                out[split] = read_split_file(path)
                continue
            try:
                out[split] = self.builtin_split(split, by_id, Path(src))
            except NoSplit:
                continue
        return out or None

    #: split rule when neither ``src/splits`` nor a built-in split exists ("clip" | "speaker" | "voxceleb1").
    prepare_protocol: ClassVar[str] = "clip"

    def prepare(self, src: Path, out: Path, args: argparse.Namespace) -> str:
        """Crop the raw release in ``src`` into the prepared layout at ``out`` (meta.json records this
        preset's name; the split is :meth:`prepare_split`'s). Options from ``talkzoo data prepare``."""
        from talkzoo.data.prepare_video import make_landmarker, prepare_videos

        protocol = getattr(args, "protocol", None)
        clips = self.raw_clips(src)
        splits = None if protocol else self.prepare_split(clips, src)
        landmarker = getattr(args, "landmarker_object", None) or make_landmarker(
            getattr(args, "landmarker", "facemesh"), getattr(args, "landmarker_weights", None)
        )
        done = prepare_videos(
            src, out, landmarker=landmarker, detector=getattr(args, "detector", "auto"),
            size=getattr(args, "size", 256), increase_area=getattr(args, "increase_area", 0.1),
            detect_every=getattr(args, "detect_every", 5), protocol=protocol or self.prepare_protocol,
            overwrite=bool(getattr(args, "overwrite", False)), clips=clips, splits=splits,
            dataset=None if self.generic else self.name, progress=getattr(args, "progress", True),
        )
        import json

        n = len(json.loads((done / "meta.json").read_text())["clips"])
        return f"{getattr(args, 'dataset', self.name)}: {n} clips prepared in {done}"

    def fixture_datamodule_args(self) -> dict[str, Any]:
        """Fixtures are 32-pixel synthetic clips."""
        return {"image_size": 32}
