"""Tiny fake datasets in the exact official layouts, for talkzoo's tests and plugin tests.

Every function writes real files (``.npy``, ``.wav``, pickles) with the real dataset's names
(VOCASET ``FaceTalk_...`` subjects and ``sentenceNN`` sequences, BIWI ``F2_e01``, Multiface
``<n>_<NN>``), so the loaders are exercised exactly as on the real data, but with a few short
sequences, sine-tone speech and (by default) a small mesh. Nothing here is real data: the
geometry is a synthetic ellipsoid with a moving "jaw", and the audio a sine tone.

Use from a plugin test::

    from talkzoo.testing.fixtures import write_mesh_layout
    from talkzoo.data.mesh import MeshSequenceDataModule

    def test_fit(tmp_path):
        root = write_mesh_layout(tmp_path / "voca", preset="vocaset", num_vertices=32, regions=True)
        dm = MeshSequenceDataModule(str(root), preset="vocaset", batch_size=2,
                                    lip_region=str(root / "regions" / "lip.txt"))
        ...

Units: vertex coordinates in metres (a head about 0.2 m wide), fps and Hz as stated per layout.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from talkzoo.data.presets import get_preset, presets

__all__ = [
    "BIWI_SUBJECTS",
    "LAYOUT_DEFAULTS",
    "MULTIFACE_SUBJECTS",
    "VOCASET_SUBJECTS",
    "sine_tone",
    "synthetic_motion",
    "write_mesh_layout",
    "write_vocaset_release",
]

#: The 12 VOCASET subjects in FaceFormer's train (8), val (2), test (2) order.
VOCASET_SUBJECTS: tuple[str, ...] = get_preset("mesh", "vocaset").fixture_subjects  # type: ignore[attr-defined]
#: The 14 BIWI subjects (F1-F8, M1-M6).
BIWI_SUBJECTS: tuple[str, ...] = get_preset("mesh", "biwi").fixture_subjects  # type: ignore[attr-defined]
#: Multiface subjects as FaceDiffuser / the "Wild West" benchmark name them (1-13).
MULTIFACE_SUBJECTS: tuple[str, ...] = get_preset("mesh", "multiface").fixture_subjects  # type: ignore[attr-defined]


def _layout_defaults() -> dict[str, dict]:
    """Per 3D preset: fixture subjects, sentences (covering train/val/test), source fps, sequence token
    (each preset module declares its own; see :class:`talkzoo.data.presets.mesh.base.MeshPreset`)."""
    return {
        p.name: {
            "subjects": p.fixture_subjects,  # type: ignore[attr-defined]
            "sentences": p.fixture_sentences,  # type: ignore[attr-defined]
            "source_fps": p.fixture_source_fps,  # type: ignore[attr-defined]
            "token": p.fixture_token,  # type: ignore[attr-defined]
        }
        for p in presets("mesh")
    }


#: Per layout: subjects, default sentences (covering train/val/test), source fps, sequence token.
LAYOUT_DEFAULTS: dict[str, dict] = _layout_defaults()


def sine_tone(seconds: float, sample_rate: int, freq: float = 220.0, amplitude: float = 0.3) -> np.ndarray:
    """A ``(round(seconds * sample_rate),)`` float32 sine tone in [-amplitude, amplitude]."""
    n = int(round(seconds * sample_rate))
    t = np.arange(n, dtype=np.float64) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _template(num_vertices: int, rng: np.random.Generator, subject_index: int) -> np.ndarray:
    """``(V, 3)`` float32 points on an ellipsoid ~0.16 x 0.2 x 0.12 m, slightly per subject."""
    i = np.arange(num_vertices, dtype=np.float64) + 0.5
    phi = np.arccos(1 - 2 * i / num_vertices)
    theta = np.pi * (1 + 5**0.5) * i
    scale = np.array([0.08, 0.10, 0.06]) * (1.0 + 0.02 * subject_index)
    pts = np.stack([np.cos(theta) * np.sin(phi), np.cos(phi), np.sin(theta) * np.sin(phi)], axis=1) * scale
    pts += rng.normal(scale=1e-4, size=pts.shape)
    return pts.astype(np.float32)


def synthetic_motion(template: np.ndarray, frames: int, fps: float, seed: int = 0) -> np.ndarray:
    """``(frames, V, 3)`` float32 motion in metres: the lower half of ``template`` opens/closes.

    The "jaw" (vertices with ``y < 0``) moves down by up to 5 mm at ~3 Hz, the rest by 0.2 mm, so
    lip and upper-face metrics see different dynamics.
    """
    t = np.arange(frames, dtype=np.float64) / fps
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi)
    jaw = (template[:, 1] < 0).astype(np.float64)
    amp = 0.005 * jaw + 0.0002 * (1 - jaw)
    offset = np.zeros((frames,) + template.shape)
    offset[:, :, 1] = -amp[None, :] * (0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t + phase))[:, None]
    return (template[None].astype(np.float64) + offset).astype(np.float32)


def _write_wav(path: Path, wave: np.ndarray, sample_rate: int) -> None:
    import soundfile as sf

    sf.write(str(path), wave, int(sample_rate), subtype="PCM_16", format="WAV")


def _regions(root: Path, template: np.ndarray) -> None:
    """Write ``regions/lip.txt``, ``regions/upper_face.txt``, ``regions/face.txt`` and ``faces.npy``."""
    num_vertices = template.shape[0]
    y = template[:, 1]
    lip = np.flatnonzero((y < 0) & (y > np.quantile(y, 0.25)))
    if lip.size == 0:
        lip = np.arange(min(4, num_vertices))
    upper = np.flatnonzero(y > np.quantile(y, 0.6))
    if upper.size == 0:
        upper = np.arange(num_vertices - min(4, num_vertices), num_vertices)
    (root / "regions").mkdir(parents=True, exist_ok=True)
    header = "# synthetic test fixture region; written by talkzoo.testing.fixtures; Apache-2.0\n"
    (root / "regions" / "lip.txt").write_text(header + "\n".join(map(str, lip.tolist())) + "\n")
    (root / "regions" / "upper_face.txt").write_text(header + "\n".join(map(str, upper.tolist())) + "\n")
    (root / "regions" / "face.txt").write_text(header + "\n".join(map(str, range(num_vertices))) + "\n")
    idx = np.arange(max(num_vertices - 2, 0))
    faces = np.stack([idx, idx + 1, idx + 2], axis=1).astype(np.int64)  # a triangle strip
    np.save(root / "faces.npy", faces)


def write_mesh_layout(
    directory: str | Path,
    preset: str = "vocaset",
    *,
    num_vertices: int = 32,
    subjects: Sequence[str] | None = None,
    sentences: Sequence[int] | None = None,
    seconds: float = 0.6,
    vary_lengths: bool = True,
    source_fps: float | None = None,
    sample_rate: int = 16000,
    regions: bool = False,
    seed: int = 0,
) -> Path:
    """Write a tiny dataset in the FaceFormer/CodeTalker layout with a real dataset's names.

    Layout written (exactly what :class:`talkzoo.data.mesh.MeshSequenceDataModule` reads)::

        directory/wav/<subject>_<seq>.wav           sine tone, 16-bit PCM mono, sample_rate Hz
        directory/vertices_npy/<subject>_<seq>.npy  (N, 3V) float32 at source_fps, in the preset's
                                                    units (metres; Multiface: millimetres)
        directory/templates.pkl                     {subject: (V, 3) float32}
        directory/regions/{lip,upper_face,face}.txt, directory/faces.npy   (regions=True, or demo)
        directory/split.json                        (demo only)

    Names per ``preset``:

    * ``vocaset``: the 12 FaceTalk subjects, ``sentence01``/``sentence21``, 60 fps (so the
      datamodule's 60→30 decimation is exercised);
    * ``biwi``: F1-F8, M1-M6, ``e01``/``e33``/``e37`` (train/val/test), 25 fps;
    * ``multiface``: subjects ``1``-``13``, ``01``/``41``/``46``, 30 fps;
    * ``demo``: four ``DemoVoice_*`` subjects, sentences 1-3, 30 fps, with region files and a
      ``split.json`` in the demo corpus' structure (last subject test, the one before val, the
      rest train; train sentences all, val/test the second half);
    * ``custom``: subjects ``alice``, ``bob``, ``carol``, ``take01``/``take02``, 30 fps;
    * any other registered 3D preset: its ``fixture_*`` attributes (each preset module owns its
      names; a preset with default region files gets them written).

    Args:
        directory: folder to create (may exist).
        preset: a registered 3D preset name (``"vocaset"``, ``"biwi"``, ``"multiface"``, ``"demo"``,
            ``"custom"``).
        num_vertices: vertex count V (small by default; 5023 gives VOCASET's real size).
        subjects: subjects to write (default: all of the preset's, see above).
        sentences: sentence numbers to write per subject (default: one per split).
        seconds: duration of the first sequence; with ``vary_lengths`` sequence ``i`` lasts
            ``seconds * (1 + 0.25 * (i % 3))`` so batches need padding.
        vary_lengths: vary the sequence durations.
        source_fps: frame rate of the vertex files (default: the dataset's).
        sample_rate: wav sample rate in Hz.
        regions: also write region files and ``faces.npy``.
        seed: random seed (templates, motion phases).

    Returns:
        ``Path(directory)``.

    Raises:
        ValueError: unknown ``preset``.
    """
    defaults = _layout_defaults()
    if preset not in defaults:
        raise ValueError(f"unknown layout preset '{preset}'; expected one of {sorted(defaults)}")
    cfg = defaults[preset]
    root = Path(directory)
    subjects = tuple(subjects) if subjects is not None else cfg["subjects"]
    sentences = tuple(sentences) if sentences is not None else cfg["sentences"]
    fps = float(source_fps if source_fps is not None else cfg["source_fps"])
    rng = np.random.default_rng(seed)
    (root / "wav").mkdir(parents=True, exist_ok=True)
    (root / "vertices_npy").mkdir(parents=True, exist_ok=True)
    templates: dict[str, np.ndarray] = {}
    unit = 1.0 / float(get_preset("mesh", preset).metres_per_unit)  # type: ignore[attr-defined]  # stored units per metre
    k = 0
    for si, subject in enumerate(subjects):
        templates[subject] = _template(num_vertices, rng, si)
        for sentence in sentences:
            dur = seconds * (1.0 + 0.25 * (k % 3)) if vary_lengths else seconds
            frames = max(2, int(round(dur * fps)))
            name = f"{subject}_{cfg['token'].format(sentence)}"
            motion = synthetic_motion(templates[subject], frames, fps, seed=seed + k)
            np.save(root / "vertices_npy" / f"{name}.npy", (motion * unit).astype(np.float32).reshape(frames, -1))
            wave = sine_tone(frames / fps, sample_rate, freq=180.0 + 20.0 * si)
            _write_wav(root / "wav" / f"{name}.wav", wave, sample_rate)
            k += 1
    with open(root / "templates.pkl", "wb") as fh:
        pickle.dump({k: (v * unit).astype(np.float32) for k, v in templates.items()}, fh, protocol=2)
    preset_obj = get_preset("mesh", preset)
    if regions or preset_obj.region_defaults(root):  # type: ignore[attr-defined]
        _regions(root, templates[subjects[0]])
    preset_obj.finish_fixture(root, subjects, sentences)  # type: ignore[attr-defined]
    return root


def write_vocaset_release(
    directory: str | Path,
    *,
    subjects: Sequence[str] = VOCASET_SUBJECTS[:1] + VOCASET_SUBJECTS[8:9] + VOCASET_SUBJECTS[10:11],
    sentences: Sequence[int] = (1, 21),
    frames: int = 24,
    num_vertices: int = 5023,
    sample_rate: int = 22000,
    seed: int = 0,
) -> Path:
    """Write tiny fake VOCASET release files in the official structure.

    Files (as downloaded from https://voca.is.tue.mpg.de; pickles in protocol 2 like the
    Python-2-era originals):

    * ``data_verts.npy``: ``(N_total, V, 3)`` float32 metres at 60 fps, sequences concatenated;
    * ``raw_audio_fixed.pkl``: ``{subject: {"sentenceNN": {"audio": (S,) int16, "sample_rate":
      sample_rate}}}`` with ``S = round(frames_i / 60 * sample_rate)`` (the release uses 22000 Hz);
    * ``subj_seq_to_idx.pkl``: ``{subject: {"sentenceNN": {frame_index: row}}}``, frame indices
      from 0; rows of different sequences are interleaved in ``data_verts`` order so a converter
      must really follow the index;
    * ``templates.pkl``: ``{subject: (V, 3) float32}``.

    Sequence ``i`` has ``frames + 2 * (i % 3)`` frames (different lengths).

    Args:
        directory: folder to create (may exist).
        subjects: subject names (default: one train, one val, one test subject of FaceFormer's split).
        sentences: sentence numbers per subject (default 1 and 21: in every split).
        frames: frames of the first sequence at 60 fps.
        num_vertices: V (5023 as in VOCASET; smaller for speed).
        sample_rate: audio rate in Hz stored in the pickle.
        seed: random seed.

    Returns:
        ``Path(directory)``.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    templates: dict[str, np.ndarray] = {}
    chunks: list[np.ndarray] = []
    raw_audio: dict[str, dict] = {}
    seq_index: dict[str, dict] = {}
    k, row = 0, 0
    for si, subject in enumerate(subjects):
        templates[subject] = _template(num_vertices, rng, si)
        raw_audio[subject], seq_index[subject] = {}, {}
        for sentence in sentences:
            n = frames + 2 * (k % 3)
            seq = f"sentence{sentence:02d}"
            motion = synthetic_motion(templates[subject], n, 60.0, seed=seed + k)
            # store every sequence's frames reversed in data_verts: the index must be followed
            chunks.append(motion[::-1])
            seq_index[subject][seq] = {f: row + (n - 1 - f) for f in range(n)}
            wave = sine_tone(n / 60.0, sample_rate, freq=150.0 + 25.0 * si)
            raw_audio[subject][seq] = {"audio": (wave * 32767).astype(np.int16), "sample_rate": sample_rate}
            row += n
            k += 1
    np.save(root / "data_verts.npy", np.concatenate(chunks).astype(np.float32))
    pickles = {"raw_audio_fixed.pkl": raw_audio, "subj_seq_to_idx.pkl": seq_index, "templates.pkl": templates}
    for name, obj in pickles.items():
        with open(root / name, "wb") as fh:
            pickle.dump(obj, fh, protocol=2)
    return root
