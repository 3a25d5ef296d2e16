"""Turn official dataset release files into the layout talkzoo's datamodules read.

``prepare_vocaset`` is what ``talkzoo data prepare vocaset --src DIR --out ROOT`` runs. It does
the job of FaceFormer's ``vocaset/process_voca_data.py`` (reimplemented from its documented
behaviour, not copied) with three differences: the pickles are read with talkzoo's restricted
unpickler, the audio is resampled once to 16 kHz (soxr), and the output appears atomically.

The VOCASET release (https://voca.is.tue.mpg.de, licence-gated) holds:

* ``data_verts.npy``: ``(N_total, 5023, 3)`` float32 vertex positions in metres of every
  captured frame of every sequence, at 60 fps (memory-mapped here, never loaded whole);
* ``raw_audio_fixed.pkl``: ``{subject: {sequence: {"audio": (S,) int16 (or float) array,
  "sample_rate": 22000}}}`` (a Python-2 pickle, read with ``latin1``);
* ``subj_seq_to_idx.pkl``: ``{subject: {sequence: {frame_index: row of data_verts}}}``;
* ``templates.pkl``: ``{subject: (5023, 3) float array}``, the neutral faces.

Sequence names are ``sentence01`` … ``sentence40``; subjects ``FaceTalk_170725_00137_TA`` etc.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from talkzoo.errors import DataError

__all__ = ["prepare_vocaset"]

log = logging.getLogger(__name__)

VOCASET_FILES = ("data_verts.npy", "raw_audio_fixed.pkl", "subj_seq_to_idx.pkl", "templates.pkl")


def _load_release_pickle(path: Path) -> dict:
    from talkzoo.fileio import safe_load_pickle

    obj = safe_load_pickle(path)
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict keyed by subject, got {type(obj).__name__}")
    return obj


def _name(key: Any) -> str:
    return key.decode("latin1") if isinstance(key, bytes) else str(key)


def _audio_to_float(audio: Any, where: str) -> np.ndarray:
    """Release audio (int16 PCM or float) → ``(S,)`` float32 mono in [-1, 1]."""
    if not isinstance(audio, np.ndarray) or audio.size == 0:
        raise DataError(f"{where}: expected a non-empty numpy audio array, got {type(audio).__name__}")
    if audio.ndim not in (1, 2):
        raise DataError(f"{where}: expected 1-D audio, got shape {audio.shape}")
    if np.issubdtype(audio.dtype, np.integer):
        out = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max + 1)
    elif np.issubdtype(audio.dtype, np.floating):
        out = audio.astype(np.float32)
        if float(np.abs(out).max()) > 1.0 + 1e-3:  # float array holding int16-range values
            out = out / 32768.0
    else:
        raise DataError(f"{where}: expected integer or float audio samples, got dtype {audio.dtype}")
    if out.ndim == 2:  # (S, C) or (C, S): mix the channels (the short axis) to mono
        out = out.mean(axis=1 if out.shape[1] <= out.shape[0] else 0)
    if not np.isfinite(out).all():
        raise DataError(f"{where}: audio holds NaN or infinite samples")
    return np.clip(out, -1.0, 1.0)


def prepare_vocaset(
    src: Path,
    out: Path,
    *,
    overwrite: bool = False,
    progress: bool = True,
    sample_rate: int = 16000,
) -> Path:
    """Convert the official VOCASET release into the FaceFormer layout, atomically.

    Writes ``out/wav/<subject>_<sequence>.wav`` (16-bit PCM mono, resampled from the release's
    22 kHz to ``sample_rate`` Hz with soxr), ``out/vertices_npy/<subject>_<sequence>.npy``
    (``(T, 15069)`` float32 metres at the **original 60 fps**, frames in increasing frame-index
    order; :class:`talkzoo.data.mesh.MeshSequenceDataModule` takes every second frame, as FaceFormer
    does), ``out/dataset.json`` (``{"dataset": "vocaset", ...}``: ``spec.dataset`` of any preset reading
    it) and ``out/templates.pkl`` (``{subject: (5023, 3) float32}``, plain dict of numpy arrays).
    Only sequences present in both ``raw_audio_fixed.pkl`` and ``subj_seq_to_idx.pkl`` are written
    (others are logged and skipped).

    The output is built in a temporary folder beside ``out`` and renamed into place at the end, so
    an error or an interrupt never leaves a half-written ``out`` (the temporary folder is removed).

    Args:
        src: folder with ``data_verts.npy``, ``raw_audio_fixed.pkl``, ``subj_seq_to_idx.pkl`` and
            ``templates.pkl`` from https://voca.is.tue.mpg.de.
        out: dataset root to create.
        overwrite: replace an existing non-empty ``out``.
        progress: show a tqdm progress bar.
        sample_rate: audio rate of the written wavs in Hz.

    Returns:
        ``out``.

    Raises:
        DataError: a release file is missing or malformed (wrong structure, shape, a row index out of
            range, a forbidden global in a pickle), or ``out`` is non-empty and ``overwrite`` is
            false. Messages name the file and what was expected.
    """
    from tqdm.auto import tqdm

    from talkzoo.audio.io import resample, save_audio
    from talkzoo.data.mesh import read_templates

    src, out = Path(src).expanduser(), Path(out).expanduser()
    missing = [name for name in VOCASET_FILES if not (src / name).is_file()]
    if missing:
        raise DataError(
            f"{src}: missing VOCASET release file(s) {missing}; expected {list(VOCASET_FILES)} as "
            "downloaded from https://voca.is.tue.mpg.de (licence-gated)"
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise DataError(f"{out}: exists and is not empty; pass overwrite=True (--overwrite) to replace it")

    verts_path = src / "data_verts.npy"
    try:
        verts = np.load(verts_path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{verts_path}: not a readable .npy array ({exc})") from exc
    if verts.ndim != 3 or verts.shape[2] != 3:
        raise DataError(f"{verts_path}: has shape {verts.shape}; expected (frames, vertices, 3)")
    num_rows, num_vertices = int(verts.shape[0]), int(verts.shape[1])
    templates = read_templates(src / "templates.pkl")
    raw_audio = _load_release_pickle(src / "raw_audio_fixed.pkl")
    index = _load_release_pickle(src / "subj_seq_to_idx.pkl")

    jobs: list[tuple[str, str, Any, Any]] = []
    for subj_key, seqs in index.items():
        subject = _name(subj_key)
        if not isinstance(seqs, dict):
            raise DataError(f"{src / 'subj_seq_to_idx.pkl'}: entry '{subject}' is not a dict of sequences")
        audio_seqs = raw_audio.get(subj_key, raw_audio.get(subject, {}))
        for seq_key, frames in seqs.items():
            seq = _name(seq_key)
            audio_entry = audio_seqs.get(seq_key, audio_seqs.get(seq)) if isinstance(audio_seqs, dict) else None
            if audio_entry is None:
                log.warning("VOCASET %s %s: no audio in raw_audio_fixed.pkl; skipped", subject, seq)
                continue
            jobs.append((subject, seq, frames, audio_entry))
    if not jobs:
        raise DataError(f"{src}: found no sequence with both vertices (subj_seq_to_idx.pkl) and audio")
    for subject in {j[0] for j in jobs}:
        if subject not in templates:
            raise DataError(f"{src / 'templates.pkl'}: has no template for subject '{subject}'")
        if templates[subject].shape[0] != num_vertices:
            raise DataError(
                f"{src / 'templates.pkl'}: template of '{subject}' has {templates[subject].shape[0]} vertices, "
                f"data_verts.npy has {num_vertices}"
            )

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.preparing-", dir=out.parent))
    try:
        (tmp / "wav").mkdir()
        (tmp / "vertices_npy").mkdir()
        for subject, seq, frames, audio_entry in tqdm(jobs, desc="VOCASET", unit="seq", disable=not progress):
            where = f"{src / 'subj_seq_to_idx.pkl'}[{subject}][{seq}]"
            if not isinstance(frames, dict) or not frames:
                raise DataError(f"{where}: expected a non-empty dict frame_index -> data_verts row")
            try:
                order = sorted(frames, key=lambda k: int(k))
                rows = np.asarray([int(frames[k]) for k in order], dtype=np.int64)
            except (TypeError, ValueError):
                raise DataError(f"{where}: frame indices and rows must be integers") from None
            if rows.min() < 0 or rows.max() >= num_rows:
                raise DataError(f"{where}: row {int(rows.max())} is outside data_verts.npy's {num_rows} frames")
            motion = np.asarray(verts[rows], dtype=np.float32).reshape(len(rows), num_vertices * 3)
            np.save(tmp / "vertices_npy" / f"{subject}_{seq}.npy", motion)

            awhere = f"{src / 'raw_audio_fixed.pkl'}[{subject}][{seq}]"
            if not isinstance(audio_entry, dict) or "audio" not in audio_entry or "sample_rate" not in audio_entry:
                raise DataError(f"{awhere}: expected a dict with 'audio' and 'sample_rate'")
            try:
                rate = int(audio_entry["sample_rate"])
            except (TypeError, ValueError):
                raise DataError(f"{awhere}: 'sample_rate' is not an integer") from None
            if rate <= 0:
                raise DataError(f"{awhere}: 'sample_rate' must be positive, got {rate}")
            wave = _audio_to_float(audio_entry["audio"], awhere)
            save_audio(tmp / "wav" / f"{subject}_{seq}.wav", resample(wave, rate, sample_rate), sample_rate)
        # the dataset's name, read back as spec.dataset wherever the folder is used (preset "custom" too)
        (tmp / "dataset.json").write_text(
            json.dumps({"dataset": "vocaset", "prepared_by": "talkzoo data prepare vocaset", "fps": 60}, indent=1) + "\n"
        )
        with open(tmp / "templates.pkl", "wb") as fh:
            pickle.dump({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in templates.items()}, fh, protocol=2)
        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, trash / out.name)
            os.replace(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("VOCASET prepared: %d sequences in %s", len(jobs), out)
    return out
