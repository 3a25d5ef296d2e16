"""Speech → 3D mesh sequences in the layout the field shares (FaceFormer / CodeTalker).

Layout read by :class:`MeshSequenceDataModule`::

    root/
      wav/<subject>_<seq>.wav            speech, any rate/channels libsndfile reads (resampled to
                                         ``sample_rate``, mixed to mono)
      vertices_npy/<subject>_<seq>.npy   (N, 3V) float vertex positions per captured frame
                                         ((N, V, 3) is accepted too), at ``source_fps``
      templates.pkl                      {subject: (V, 3) float neutral face}, read with the
                                         restricted unpickler (never plain :mod:`pickle`)
      split.json                         demo corpus only: its own split (see below)
      regions/*.txt, faces.npy           demo corpus only: lip / upper-face sets, triangles

This is the layout of FaceFormer (``EvelynFan/FaceFormer``: ``vocaset/process_voca_data.py``,
``data_loader.py``), which CodeTalker, SelfTalk, FaceDiffuser and DiffSpeaker copy.

File names
----------
The stem ``<subject>_<seq>`` is split at its **last** underscore: the subject is everything
before it (VOCASET subjects contain underscores: ``FaceTalk_170725_00137_TA_sentence01``), the
sequence token after it. The sentence number is the token's trailing digits: ``sentence01`` →
1 (VOCASET), ``e01`` → 1 (CodeTalker's BIWI ``F2_e01``), ``01`` → 1 (FaceDiffuser's BIWI and
Multiface ``2_01``). A stem without an underscore or a token without trailing digits raises
:class:`~talkzoo.errors.DataError` naming the file.

Presets (official splits) and their sources
-------------------------------------------
Each dataset is one module under ``talkzoo/data/presets/mesh/`` (registry:
:mod:`talkzoo.data.presets`) holding its split, frame rates, units, sources, licence and fixture
names: ``vocaset`` (FaceFormer's split of VOCA; 60 → 30 fps), ``biwi`` (FaceFormer/CodeTalker's
protocol, ``test_set`` A or B), ``multiface`` (FaceDiffuser's sentence split; subject lists
required), ``demo`` (``ROOT/split.json`` of the talkzoo demo corpus) and ``custom`` (your subject
lists and fps). ``spec.dataset`` is the preset's name (``custom``: the ``dataset.json`` a
preparation step wrote, e.g. ``vocaset``).

Frame rates
-----------
Vertex files hold ``source_fps`` frames per second; batches hold ``fps``. When
``source_fps / fps`` is an integer ``r`` the motion is decimated by taking every ``r``-th frame
(``[::r]``, frame ``k`` = source frame ``k*r``, ``ceil(N / r)`` frames), exactly FaceFormer's
``[::2]`` for VOCASET. Otherwise target frame ``k`` (time ``k / fps`` s) is linearly
interpolated between the two source frames around time ``k / fps``
(``floor((N-1) * fps / source_fps) + 1`` frames, none extrapolated).

Audio / motion length
---------------------
At ``setup`` each sequence's audio duration (``frames / rate`` from the wav header) and motion
duration (``N / source_fps``) are compared: a difference larger than
``max(max_length_mismatch, 10 % of the motion duration)`` seconds raises
:class:`~talkzoo.errors.DataError` naming both files and both durations. Smaller differences
are trimmed when a sample is read: both streams are cut to the shorter one (motion to
``round(S / sample_rate * fps)`` frames, audio to ``round(T / fps * sample_rate)`` samples), so
``T == round(S / sample_rate * fps)`` holds for every sample, the convention of
:meth:`talkzoo.tasks.mesh.AudioToMeshTask.frames_for_audio`.

Memory
------
Nothing is preloaded: ``setup`` reads only file headers (``np.load(mmap_mode="r")`` shapes,
``soundfile.info``); a sample opens its vertex file memory-mapped and copies only the frames it
needs (a training crop of ``max_seconds``, or every ``r``-th frame), so BIWI-sized data never sits
in RAM (the FaceFormer loader preloads everything, FaceFormer issue #66).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from talkzoo.data.base import SPLITS, TalkzooDataModule
from talkzoo.data.batch import MeshBatch, MeshSample, collate_mesh_batch
from talkzoo.data.presets import get_preset, presets
from talkzoo.data.presets.mesh.base import MeshPreset
from talkzoo.data.presets.mesh.biwi import BIWI_TEST_B, BIWI_TRAIN
from talkzoo.data.presets.mesh.vocaset import VOCASET_TEST, VOCASET_TRAIN, VOCASET_VAL
from talkzoo.errors import ConfigError, DataError
from talkzoo.data.spec import FAMILY_MESH, MeshDataSpec
from talkzoo.fileio import require_finite

__all__ = [
    "BIWI_TEST_B",
    "BIWI_TRAIN",
    "MESH_PRESETS",
    "MeshPreset",
    "MeshSample",
    "MeshSequenceDataModule",
    "MeshSequenceDataset",
    "SequenceRecord",
    "collate_mesh_batch",
    "parse_sequence_name",
    "read_templates",
    "VOCASET_TEST",
    "VOCASET_TRAIN",
    "VOCASET_VAL",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# presets (one module each under talkzoo/data/presets/mesh/; re-exported for compatibility)
# --------------------------------------------------------------------------------------------
def mesh_presets() -> dict[str, MeshPreset]:
    """``{name: preset}`` of every registered 3D preset (:mod:`talkzoo.data.presets`)."""
    return {p.name: p for p in presets("mesh")}  # type: ignore[misc]


#: Every 3D preset by name (compatibility view of the registry).
MESH_PRESETS: dict[str, MeshPreset] = mesh_presets()


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
_SEQ_DIGITS = re.compile(r"(\d+)$")


def parse_sequence_name(path: str | Path) -> tuple[str, str, int]:
    """Split a ``<subject>_<seq>`` file name into subject, sequence token and sentence number.

    Args:
        path: a file path or stem, e.g. ``"FaceTalk_170725_00137_TA_sentence01.npy"``,
            ``"F2_e01.wav"``, ``"2_01.npy"``.

    Returns:
        ``(subject, token, sentence)``, e.g. ``("FaceTalk_170725_00137_TA", "sentence01", 1)``,
        ``("F2", "e01", 1)``.

    Raises:
        DataError: no underscore in the stem, an empty subject, or no trailing digits in the
            sequence token; the message names the file and the expected pattern.
    """
    p = Path(path)
    stem = p.stem if p.suffix in (".npy", ".wav") else p.name
    subject, sep, token = stem.rpartition("_")
    match = _SEQ_DIGITS.search(token)
    if not sep or not subject or match is None:
        raise DataError(
            f"{path}: cannot parse the file name; expected '<subject>_<seq>' whose <seq> ends in the "
            "sentence number (e.g. FaceTalk_170725_00137_TA_sentence01.npy, F2_e01.npy, 2_01.npy)"
        )
    return subject, token, int(match.group(1))


def read_templates(path: str | Path) -> dict[str, np.ndarray]:
    """Read ``templates.pkl`` ({subject: (V, 3) neutral face}) with the restricted unpickler.

    Args:
        path: the pickle file.

    Returns:
        ``{subject: (V, 3) float32 array}`` (a flat ``(3V,)`` entry is reshaped).

    Raises:
        DataError: missing/unreadable/not-a-dict pickle, a forbidden global in the pickle (a
            malicious file is refused before anything in it runs), or an entry that is not a
            ``(V, 3)`` / ``(3V,)`` numeric array. The message names the file.
    """
    from talkzoo.fileio import safe_load_pickle

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: templates file not found; expected a pickle {{subject: (V, 3) array}}")
    obj = safe_load_pickle(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict {{subject: (V, 3) array}}, got {type(obj).__name__}")
    out: dict[str, np.ndarray] = {}
    for key, value in obj.items():
        name = key.decode("latin1") if isinstance(key, bytes) else str(key)
        try:
            arr = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise DataError(f"{path}: template of '{name}' is not a numeric array") from None
        if arr.ndim == 1 and arr.size % 3 == 0:
            arr = arr.reshape(-1, 3)
        if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
            raise DataError(f"{path}: template of '{name}' has shape {arr.shape}; expected (V, 3)")
        require_finite(arr, f"{path}[{name}]", "template")
        out[name] = arr
    if not out:
        raise DataError(f"{path}: holds no templates; expected {{subject: (V, 3) array}}")
    return out


def _target_frames(n_source: int, source_fps: float, fps: float) -> int:
    """Number of frames at ``fps`` derived from ``n_source`` frames at ``source_fps``."""
    if n_source <= 0:
        return 0
    stride = _stride(source_fps, fps)
    if stride is not None:
        return -(-n_source // stride)
    return int(math.floor((n_source - 1) * fps / source_fps + 1e-9)) + 1


def _stride(source_fps: float, fps: float) -> int | None:
    """The integer decimation factor ``source_fps / fps``, or None when it is not an integer."""
    ratio = source_fps / fps
    r = round(ratio)
    return int(r) if r >= 1 and abs(ratio - r) < 1e-6 else None


def _read_frames(
    mm: np.ndarray, start: int, count: int, source_fps: float, fps: float, num_vertices: int
) -> np.ndarray:
    """Copy target frames ``[start, start+count)`` at ``fps`` out of a memory-mapped source array.

    Args:
        mm: ``(N, 3V)`` or ``(N, V, 3)`` memory-mapped vertex array at ``source_fps``.
        start: first target frame index.
        count: number of target frames.

    Returns:
        ``(count, V, 3)`` float32 array (a copy; only the needed source rows are read).
    """
    n = mm.shape[0]
    stride = _stride(source_fps, fps)
    if stride is not None:
        rows = np.array(mm[start * stride : (start + count) * stride : stride], dtype=np.float32)
    else:
        pos = (np.arange(start, start + count, dtype=np.float64)) * (source_fps / fps)
        lo = np.clip(np.floor(pos + 1e-9).astype(np.int64), 0, n - 1)
        hi = np.minimum(lo + 1, n - 1)
        w = (pos - lo).clip(0.0, 1.0).astype(np.float32)
        a, b = int(lo.min()), int(hi.max()) + 1
        block = np.array(mm[a:b], dtype=np.float32)
        block = block.reshape(block.shape[0], -1)
        rows = block[lo - a] * (1.0 - w)[:, None] + block[hi - a] * w[:, None]
    return np.ascontiguousarray(rows.reshape(count, num_vertices, 3), dtype=np.float32)


def _open_vertices(path: Path) -> np.ndarray:
    """Open a vertex file memory-mapped (``np.load(mmap_mode="r")``, no pickles)."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npy vertex array ({exc})") from exc


# --------------------------------------------------------------------------------------------
# dataset
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SequenceRecord:
    """One sequence of a split, as found by ``setup`` (header values only; no data loaded).

    Attributes:
        name: sequence name, the file stem ``<subject>_<seq>``.
        subject: subject name.
        sentence: sentence number parsed from the stem.
        wav: path of the speech file.
        vertices: path of the ``(N, 3V)`` vertex file.
        num_source_frames: ``N``, frames in the vertex file (at ``source_fps``).
        audio_seconds: duration of the wav file in seconds.
        speaker: index into ``spec.speakers``, or ``-1`` when the subject is not a training speaker.
    """

    name: str
    subject: str
    sentence: int
    wav: Path
    vertices: Path
    num_source_frames: int
    audio_seconds: float
    speaker: int


class MeshSequenceDataset(Dataset):
    """Lazily read speech/mesh pairs of one split (memory-mapped vertex files).

    Args:
        records: the split's sequences (from :meth:`MeshSequenceDataModule.records`).
        templates: ``{subject: (V, 3) float32}`` neutral faces.
        source_fps: frame rate of the vertex files (frames/s).
        fps: frame rate of the returned motion (frames/s); see the module docstring for the
            decimation/interpolation rule.
        sample_rate: audio rate of the returned waveform in Hz.
        vertex_scale: factor applied to the stored vertices (metres per stored unit), the same
            as the datamodule applies to ``templates``.
        max_seconds: if set, each sample is a random window of at most this many seconds
            (training); ``None`` returns whole sequences (validation/test/predict). Windows
            are drawn with torch's global RNG (seeded per worker by Lightning's
            ``seed_everything(workers=True)``).

    Each item is a :class:`MeshSample`; the vertex file is opened with
    ``np.load(mmap_mode="r")`` and only the needed frames are copied.

    Raises (when an item is read):
        DataError: unreadable/empty/corrupt wav (from :func:`talkzoo.audio.io.load_audio`) or
            vertex file; the message names the file.
    """

    def __init__(
        self,
        records: Sequence[SequenceRecord],
        templates: dict[str, np.ndarray],
        *,
        source_fps: float,
        fps: float,
        sample_rate: int = 16000,
        max_seconds: float | None = None,
        vertex_scale: float = 1.0,
    ) -> None:
        self.records = list(records)
        self.vertex_scale = float(vertex_scale)
        self.templates = templates
        self.source_fps = float(source_fps)
        self.fps = float(fps)
        self.sample_rate = int(sample_rate)
        self.max_seconds = max_seconds

    def __len__(self) -> int:
        return len(self.records)

    def open_vertices(self, index: int) -> np.ndarray:
        """The vertex file of item ``index``, memory-mapped read-only (an ``np.memmap``)."""
        return _open_vertices(self.records[index].vertices)

    def __getitem__(self, index: int) -> MeshSample:
        from talkzoo.audio.io import load_audio

        rec = self.records[index]
        template = self.templates[rec.subject]
        num_vertices = template.shape[0]
        audio = load_audio(rec.wav, sample_rate=self.sample_rate)
        mm = self.open_vertices(index)
        total = _target_frames(mm.shape[0], self.source_fps, self.fps)
        # trim both streams to the shorter one
        audio_frames = int(round(audio.shape[0] / self.sample_rate * self.fps))
        frames = max(1, min(total, audio_frames))
        samples = min(audio.shape[0], int(round(frames / self.fps * self.sample_rate)))
        start = 0
        if self.max_seconds is not None:
            window = max(1, int(math.floor(self.max_seconds * self.fps)))
            if frames > window:
                start = int(torch.randint(0, frames - window + 1, ()).item())
                frames = window
        a0 = int(round(start / self.fps * self.sample_rate))
        a1 = min(samples, int(round((start + frames) / self.fps * self.sample_rate)))
        verts = require_finite(_read_frames(mm, start, frames, self.source_fps, self.fps, num_vertices), rec.vertices, "vertex file")
        if self.vertex_scale != 1.0:
            verts = (verts * self.vertex_scale).astype(np.float32)
        del mm
        return MeshSample(
            audio=audio[a0:a1].contiguous(),
            vertices=torch.from_numpy(verts),
            template=torch.from_numpy(np.ascontiguousarray(template, dtype=np.float32)),
            speaker=rec.speaker,
            name=rec.name,
            subject=rec.subject,
        )


# --------------------------------------------------------------------------------------------
# datamodule
# --------------------------------------------------------------------------------------------
@dataclass
class _Resolved:
    """Resolved split configuration (after presets, overrides and split.json)."""

    subjects: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sentences: dict[str, tuple[int, ...] | None] = field(default_factory=dict)
    source_fps: float = 30.0
    fps: float = 30.0


class MeshSequenceDataModule(TalkzooDataModule):
    """Speech → 3D mesh datamodule for the FaceFormer/CodeTalker layout (VOCASET, BIWI, Multiface, demo).

    See the module docstring for the layout, the presets with their sources, frame-rate handling,
    the audio/motion length rule and memory use.

    Args:
        root: dataset folder holding ``wav/``, ``vertices_npy/`` and ``templates.pkl``.
        preset: ``"vocaset"`` | ``"biwi"`` | ``"multiface"`` | ``"demo"`` | ``"custom"``.
        train_subjects: override the preset's training subjects; their order fixes the speaker
            ids (``spec.speakers``).
        val_subjects: override the validation subjects.
        test_subjects: override the test subjects.
        train_sentences: override the training sentence numbers (``None``: preset's; for
            ``custom``: all).
        val_sentences: override the validation sentence numbers.
        test_sentences: override the test sentence numbers.
        source_fps: frame rate of the vertex files, frames/s (default: preset's; VOCASET 60).
        fps: frame rate of the batches, frames/s (default: preset's; VOCASET 30, BIWI 25).
        num_vertices: expected vertex count ``V``; checked against ``templates.pkl`` (default:
            taken from it).
        sample_rate: audio rate of the batches in Hz (16000 for wav2vec 2.0 / HuBERT).
        batch_size: sequences per batch (right-padded, with masks).
        num_workers: DataLoader worker processes.
        max_seconds: crop training sequences to random windows of at most this many seconds
            (bounds memory); validation/test/predict use whole sequences. ``None``: no crop.
        lip_region: lip vertex-index file for LVE (demo: ``root/regions/lip.txt``).
        upper_face_region: upper-face vertex-index file for FDD (demo:
            ``root/regions/upper_face.txt``).
        face_region: face-region index file (demo: ``root/regions/face.txt`` if present).
        faces_file: ``(F, 3)`` int ``.npy`` triangles (demo: ``root/faces.npy``).
        vertex_scale: metres per stored coordinate unit; templates and vertices are multiplied
            by it so batches are in metres (``None``: the preset's ``metres_per_unit``, e.g.
            1e-3 for Multiface's millimetres, 1 elsewhere).
        test_set: BIWI only: ``"A"`` (seen subjects F2 F3 F4 M3 M4 M5, sentences 37-40) or
            ``"B"`` (unseen F1 F5 F6 F7 F8 M1 M2 M6, sentences 37-40).
        demo_protocol: demo preset only: ``"speakers"`` (VOCASET-like: held-out speakers, the
            corpus' ``"sentences"`` table) or ``"sentences"`` (BIWI Test-A-like: the training
            speakers, held-out sentences, the corpus' ``"heldout_sentences"`` table).
        predict_split: split served by ``predict_dataloader`` (``train``/``val``/``test``).
        max_length_mismatch: audio/motion duration difference (seconds) above which a sequence
            is rejected; the tolerance is ``max(max_length_mismatch, 10 % of the motion)``.
        pin_memory: DataLoader ``pin_memory``.
        seed: seed of the training shuffle order.

    Raises:
        ConfigError: at construction, for an unknown preset/split/test_set, non-positive rates,
            a ``multiface``/``custom`` preset without subject lists, or ``custom`` without fps.
        DataError: from :attr:`spec` and :meth:`setup`, for a missing root (the message says
            where to get the data and which ``talkzoo data`` command prepares it), a missing or
            malicious ``templates.pkl``, a subject missing from it, a vertex file whose width is
            not ``3V``, an empty/corrupt wav, an audio/motion length mismatch, a file name that
            cannot be parsed, or a split without sequences (the message lists what was expected).
    """

    family = FAMILY_MESH

    def __init__(
        self,
        root: str,
        preset: str = "vocaset",
        train_subjects: list[str] | None = None,
        val_subjects: list[str] | None = None,
        test_subjects: list[str] | None = None,
        train_sentences: list[int] | None = None,
        val_sentences: list[int] | None = None,
        test_sentences: list[int] | None = None,
        source_fps: float | None = None,
        fps: float | None = None,
        num_vertices: int | None = None,
        sample_rate: int = 16000,
        batch_size: int = 4,
        num_workers: int = 0,
        max_seconds: float | None = None,
        lip_region: str | None = None,
        upper_face_region: str | None = None,
        face_region: str | None = None,
        faces_file: str | None = None,
        vertex_scale: float | None = None,
        test_set: str = "A",
        demo_protocol: str = "speakers",
        predict_split: str = "test",
        max_length_mismatch: float = 0.5,
        pin_memory: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        preset_obj: MeshPreset = get_preset("mesh", preset)  # type: ignore[assignment]
        if test_set not in ("A", "B"):
            raise ConfigError(f"test_set '{test_set}' is unknown; expected 'A' or 'B' (BIWI Test-A/Test-B)")
        if predict_split not in SPLITS:
            raise ConfigError(f"predict_split '{predict_split}' is unknown; expected one of {list(SPLITS)}")
        for label, value in (("sample_rate", sample_rate), ("batch_size", batch_size)):
            if int(value) <= 0:
                raise ConfigError(f"{label} must be a positive integer, got {value}")
        for label, value in (("fps", fps), ("source_fps", source_fps), ("max_seconds", max_seconds), ("vertex_scale", vertex_scale)):
            if value is not None and not float(value) > 0:
                raise ConfigError(f"{label} must be positive, got {value}")
        if num_workers < 0:
            raise ConfigError(f"num_workers must be >= 0, got {num_workers}")
        self.root = Path(root).expanduser()
        self.preset = preset_obj
        self.overrides_subjects = {"train": train_subjects, "val": val_subjects, "test": test_subjects}
        self.overrides_sentences = {"train": train_sentences, "val": val_sentences, "test": test_sentences}
        self.source_fps_arg = source_fps
        self.fps_arg = fps
        self.num_vertices_arg = num_vertices
        self.sample_rate = int(sample_rate)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.max_seconds = max_seconds
        self.vertex_scale_arg = vertex_scale
        self.vertex_scale = float(vertex_scale) if vertex_scale is not None else float(preset_obj.metres_per_unit)
        self.region_args = {
            "lip_region": lip_region,
            "upper_face_region": upper_face_region,
            "face_region": face_region,
            "faces_file": faces_file,
        }
        self.test_set = test_set
        if demo_protocol not in ("speakers", "sentences"):
            raise ConfigError(f"demo_protocol must be 'speakers' or 'sentences', got {demo_protocol!r}")
        self.demo_protocol = demo_protocol
        self.predict_split = predict_split
        self.max_length_mismatch = float(max_length_mismatch)
        self.pin_memory = pin_memory
        self.seed = int(seed)
        self._resolved: _Resolved | None = None
        self._templates: dict[str, np.ndarray] | None = None
        self._spec: MeshDataSpec | None = None
        self.preset.check_args(self)

    # ------------------------------------------------------------------ configuration
    def _missing_root_message(self) -> str:
        return (
            f"dataset root {self.root} not found (or lacks wav/, vertices_npy/ or templates.pkl) "
            f"for preset '{self.preset.name}': {self.preset.get_data}"
        )

    def _check_root(self) -> None:
        for part in ("wav", "vertices_npy"):
            if not (self.root / part).is_dir():
                raise DataError(self._missing_root_message() + f" [missing: {self.root / part}]")
        if not (self.root / "templates.pkl").is_file():
            raise DataError(self._missing_root_message() + f" [missing: {self.root / 'templates.pkl'}]")

    def _resolve(self) -> _Resolved:
        """Merge the preset's split (:meth:`MeshPreset.resolve`) and the constructor overrides."""
        if self._resolved is not None:
            return self._resolved
        subjects, sentences, source_fps, fps = self.preset.resolve(self)
        for split in SPLITS:
            if self.overrides_subjects[split] is not None:
                subjects[split] = tuple(str(s) for s in self.overrides_subjects[split])  # type: ignore[union-attr]
            if self.overrides_sentences[split] is not None:
                sentences[split] = tuple(int(s) for s in self.overrides_sentences[split])  # type: ignore[union-attr]
        if self.fps_arg is not None:
            fps = float(self.fps_arg)
        if self.source_fps_arg is not None:
            source_fps = float(self.source_fps_arg)
        if source_fps is None:
            source_fps = fps
        if fps is None:
            fps = source_fps
        assert fps is not None and source_fps is not None
        self._resolved = _Resolved(
            subjects={k: tuple(v) if v is not None else () for k, v in subjects.items()},
            sentences=sentences,
            source_fps=float(source_fps),
            fps=float(fps),
        )
        return self._resolved

    @property
    def speakers(self) -> tuple[str, ...]:
        """Training subjects in the order that defines speaker ids (preset order or as given)."""
        return self._resolve().subjects["train"]

    def templates(self) -> dict[str, np.ndarray]:
        """``{subject: (V, 3) float32}`` from ``root/templates.pkl`` (read once, restricted unpickler)."""
        if self._templates is None:
            self._check_root()
            stored = read_templates(self.root / "templates.pkl")
            self.preset.check_units(stored, self.root / "templates.pkl", self.vertex_scale_arg is not None)
            self._templates = (
                stored if self.vertex_scale == 1.0
                else {k: (np.asarray(v) * self.vertex_scale).astype(np.float32) for k, v in stored.items()}
            )  # fmt: skip
        return self._templates

    def _region_paths(self) -> dict[str, str | None]:
        out = dict(self.region_args)
        for key, path in self.preset.region_defaults(self.root).items():
            if out[key] is None and (key != "face_region" or path.is_file()):  # face.txt is optional
                out[key] = str(path)
        for key, value in out.items():
            if value is None:
                continue
            if key == "faces_file":
                if not Path(value).expanduser().is_file():
                    raise DataError(f"{value}: faces_file not found; expected a (F, 3) int .npy triangle array")
            elif not Path(value.split("#", 1)[0]).expanduser().is_file():  # "<path>#<key>" picks a pickle entry
                where = f"; {self.preset.region_sources}" if self.preset.region_sources else ""
                raise DataError(f"{value}: {key} file not found; expected a vertex-index file (.txt, .npy or .pkl){where}")
            # Absolute, so a checkpoint's spec still finds them from another working directory.
            file, sep, entry = value.partition("#")
            out[key] = str(Path(file).expanduser().resolve()) + sep + entry
        return out

    @property
    def spec(self) -> MeshDataSpec:
        """Plain values linked into the model: dataset name, fps, sample rate, speakers, V, regions.

        Reads only ``templates.pkl`` (restricted unpickler) and, for ``demo``, ``split.json``.

        Raises:
            DataError: root/templates missing or unreadable, a training subject missing from
                ``templates.pkl``, templates of different vertex counts, ``num_vertices`` not
                matching the templates, or a region file that does not exist.
        """
        if self._spec is None:
            res = self._resolve()
            templates = self.templates()
            tpl_path = self.root / "templates.pkl"
            if not res.subjects["train"]:
                raise DataError(
                    f"{self.preset.split_file(self.root) or self.root}: no training "
                    "subjects; pass train_subjects"
                )
            for s in res.subjects["train"]:
                if s not in templates:
                    raise DataError(
                        f"{tpl_path}: has no template for training subject '{s}'; "
                        f"it holds {sorted(templates)}"
                    )
            counts = {templates[s].shape[0] for s in res.subjects["train"]}
            if len(counts) != 1:
                raise DataError(
                    f"{tpl_path}: training subjects have templates of different vertex counts {sorted(counts)}"
                )
            num_vertices = counts.pop()
            if self.num_vertices_arg is not None and int(self.num_vertices_arg) != num_vertices:
                raise DataError(
                    f"{tpl_path}: templates have {num_vertices} vertices, expected num_vertices={self.num_vertices_arg}"
                )
            regions = self._region_paths()
            self._spec = MeshDataSpec(
                dataset=self.preset.dataset_name(self.root),
                sample_rate=self.sample_rate,
                fps=res.fps,
                speakers=tuple(res.subjects["train"]),
                num_vertices=num_vertices,
                lip_region=regions["lip_region"],
                upper_face_region=regions["upper_face_region"],
                face_region=regions["face_region"],
                faces_file=regions["faces_file"],
                templates_file=str((self.root / "templates.pkl").resolve()),
                templates_scale=self.vertex_scale,
            )
        return self._spec

    # ------------------------------------------------------------------ discovery and checks
    def records(self, split: str) -> list[SequenceRecord]:
        """Find and check the sequences of ``split`` (``train``/``val``/``test``) from file headers.

        Cheap: lists the folders, reads each needed vertex file's ``.npy`` header
        (``np.load(mmap_mode="r")``) and each wav header (``soundfile.info``).

        Returns:
            The split's :class:`SequenceRecord` list, sorted by name.

        Raises:
            ConfigError: unknown split.
            DataError: see the class docstring (each message names the file and what was expected).
        """
        import soundfile as sf

        if split not in SPLITS:
            raise ConfigError(f"split '{split}' is unknown; expected one of {list(SPLITS)}")
        spec = self.spec
        res = self._resolve()
        templates = self.templates()
        subjects = res.subjects[split]
        if not subjects:
            split_file = self.preset.split_file(self.root)
            where = f"{split_file} lists" if split_file is not None else "there are"
            raise DataError(
                f"{where} no {split} subjects for preset '{self.preset.name}'; pass {split}_subjects "
                "(a demo corpus needs >= 3 speakers to have val and test subjects)"
            )
        wanted_sentences = res.sentences.get(split)
        wav_dir, vert_dir = self.root / "wav", self.root / "vertices_npy"
        npys = {p.stem: p for p in vert_dir.glob("*.npy")}
        wavs = {p.stem: p for p in wav_dir.glob("*.wav")}
        subject_set = set(subjects)
        found: list[SequenceRecord] = []
        per_subject: dict[str, int] = {s: 0 for s in subjects}
        for stem in sorted(set(npys) | set(wavs)):
            subject, token, sentence = parse_sequence_name(npys.get(stem) or wavs[stem])
            if subject not in subject_set:
                continue
            self.preset.check_sequence(npys.get(stem) or wavs[stem], token)
            if wanted_sentences is not None and sentence not in wanted_sentences:
                continue
            if stem not in npys or stem not in wavs:
                if stem in npys:
                    have, lack = npys[stem], wav_dir / f"{stem}.wav"
                else:
                    have, lack = wavs[stem], vert_dir / f"{stem}.npy"
                log.warning("%s: skipped, its partner %s is missing", have, lack)
                continue
            if subject not in templates:
                raise DataError(
                    f"{self.root / 'templates.pkl'}: has no template for subject '{subject}' "
                    f"(needed by {npys[stem]}); it holds {sorted(templates)}"
                )
            num_vertices = templates[subject].shape[0]
            if num_vertices != spec.num_vertices:
                raise DataError(
                    f"{self.root / 'templates.pkl'}: template of '{subject}' has {num_vertices} vertices, "
                    f"expected {spec.num_vertices} like the training subjects"
                )
            mm = _open_vertices(npys[stem])
            shape = tuple(mm.shape)
            del mm
            ok = (len(shape) == 2 and shape[1] == 3 * num_vertices) or (
                len(shape) == 3 and shape[1:] == (num_vertices, 3)
            )
            if not ok:
                raise DataError(
                    f"{npys[stem]}: vertex array has shape {shape}; expected (frames, {3 * num_vertices}) "
                    f"= (frames, 3 x {num_vertices} vertices of '{subject}' in templates.pkl)"
                )
            if shape[0] == 0:
                raise DataError(f"{npys[stem]}: holds no frames; expected (frames >= 1, {3 * num_vertices})")
            try:
                info = sf.info(str(wavs[stem]))
            except Exception as exc:  # libsndfile raises several kinds
                raise DataError(
                    f"{wavs[stem]}: cannot read the audio file ({exc}); expected a WAV file libsndfile reads"
                ) from exc
            if info.frames <= 0 or info.samplerate <= 0:
                raise DataError(f"{wavs[stem]}: holds no audio samples (empty wav); expected speech")
            audio_s = info.frames / info.samplerate
            motion_s = shape[0] / res.source_fps
            tol = max(self.max_length_mismatch, 0.1 * motion_s)
            if abs(audio_s - motion_s) > tol:
                raise DataError(
                    f"{wavs[stem]} lasts {audio_s:.3f} s but {npys[stem]} lasts {motion_s:.3f} s "
                    f"({shape[0]} frames at {res.source_fps:g} fps); they differ by more than {tol:.3f} s. "
                    "Check source_fps and that the files belong together"
                )
            speaker = spec.speakers.index(subject) if subject in spec.speakers else -1
            found.append(
                SequenceRecord(
                    name=stem,
                    subject=subject,
                    sentence=sentence,
                    wav=wavs[stem],
                    vertices=npys[stem],
                    num_source_frames=int(shape[0]),
                    audio_seconds=float(audio_s),
                    speaker=speaker,
                )
            )
            per_subject[subject] += 1
        sent_desc = "all sentences" if wanted_sentences is None else f"sentences {_ranges(wanted_sentences)}"
        if not found:
            raise DataError(
                f"no sequences found for the {split} split of preset '{self.preset.name}' in {vert_dir} "
                f"and {wav_dir}: expected files <subject>_<seq>.npy/.wav for subjects {list(subjects)}, "
                f"{sent_desc}"
            )
        empty = [s for s, n in per_subject.items() if n == 0]
        if empty:
            raise DataError(
                f"no sequences found in {vert_dir} for {split} subject(s) {empty} of preset "
                f"'{self.preset.name}' ({sent_desc}); expected files like {empty[0]}_<seq>.npy and .wav"
            )
        return found

    # ------------------------------------------------------------------ Lightning hooks
    def build_dataset(self, split: str) -> MeshSequenceDataset:
        """Discover and check ``split`` (headers only; errors before training) and wrap it in a dataset
        (training crops of ``max_seconds`` on the train split)."""
        res = self._resolve()
        return MeshSequenceDataset(
            self.records(split),
            self.templates(),
            source_fps=res.source_fps,
            fps=res.fps,
            sample_rate=self.sample_rate,
            max_seconds=self.max_seconds if split == "train" else None,
            vertex_scale=self.vertex_scale,
        )

    def dataset_for(self, split: str, stage: str) -> MeshSequenceDataset:
        """The split's dataset; ``predict`` always reads whole sequences (no training crop)."""
        dataset: MeshSequenceDataset = super().dataset_for(split, stage)  # type: ignore[assignment]
        if stage == "predict" and dataset.max_seconds is not None:
            res = self._resolve()
            dataset = MeshSequenceDataset(
                dataset.records, dataset.templates, source_fps=res.source_fps, fps=res.fps,
                sample_rate=self.sample_rate, max_seconds=None, vertex_scale=self.vertex_scale,
            )
        return dataset

    def collate(self, samples: list[MeshSample]) -> MeshBatch:
        """:func:`~talkzoo.data.batch.collate_mesh_batch`."""
        return collate_mesh_batch(samples)


def _ranges(values: Iterable[int]) -> str:
    """Compact text of an int set: ``[1, 2, 3, 7]`` → ``"1-3, 7"``."""
    vals = sorted(set(values))
    parts: list[str] = []
    i = 0
    while i < len(vals):
        j = i
        while j + 1 < len(vals) and vals[j + 1] == vals[j] + 1:
            j += 1
        parts.append(str(vals[i]) if i == j else f"{vals[i]}-{vals[j]}")
        i = j + 1
    return ", ".join(parts)
