"""Build the deterministic 3D demo corpus in the VOCASET / FaceFormer layout."""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import shutil
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkzoo.errors import ConfigError, DataError

from .rig import FaceRig, SpeakerStyle, load_face_asset, speech_tracks, upper_face_tracks, vary_template
from .sentences import HARVARD_SENTENCES
from .speech import synthesize

__all__ = [
    "DEMO_SPEAKERS",
    "DEMO_SPLIT",
    "DemoSpeaker",
    "SAMPLE_RATE",
    "build_demo_corpus",
    "demo_split",
    "num_frames_for",
]

#: Sample rate of the written wav files (Hz): what wav2vec 2.0 / HuBERT encoders expect.
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class DemoSpeaker:
    """One demo subject: an eSpeak NG voice with its prosody settings.

    Attributes:
        name: subject name, VOCASET-like (``DemoSpeaker_<accent>_<variant>``).
        voice: eSpeak NG voice+variant, e.g. ``"en+m1"``.
        rate: words per minute; pitch: 0-100; pitch_range: 0-100 (eSpeak parameters).
    """

    name: str
    voice: str
    rate: int
    pitch: int
    pitch_range: int


#: The available subjects, in build order; ``build_demo_corpus(num_speakers=n)`` uses the first n.
DEMO_SPEAKERS: tuple[DemoSpeaker, ...] = (
    DemoSpeaker("DemoSpeaker_en_m1", "en+m1", 160, 42, 55),
    DemoSpeaker("DemoSpeaker_en_f2", "en+f2", 168, 58, 60),
    DemoSpeaker("DemoSpeaker_enus_m3", "en-us+m3", 155, 45, 45),
    DemoSpeaker("DemoSpeaker_enus_f4", "en-us+f4", 172, 62, 65),
    DemoSpeaker("DemoSpeaker_enrp_m7", "en-gb-x-rp+m7", 150, 40, 50),
    DemoSpeaker("DemoSpeaker_ensc_f3", "en-gb-scotland+f3", 165, 55, 55),
    DemoSpeaker("DemoSpeaker_en029_m2", "en-029+m2", 158, 48, 60),
    DemoSpeaker("DemoSpeaker_ennyc_f5", "en-us-nyc+f5", 170, 60, 50),
)


def demo_split(num_speakers: int = 6, sentences_per_speaker: int = 40) -> dict:
    """The split of a demo corpus built with these sizes (what ``split.json`` holds).

    Subjects: with n >= 3 speakers the last is ``test``, the one before ``val``, the rest
    ``train`` (6 -> 4/1/1); with 1-2 speakers all are ``train`` and val/test are empty.

    Two sentence protocols, both over the same files (every subject speaks every sentence):

    * ``"sentences"`` — VOCASET's: train subjects use sentences 1..N, val and test subjects
      use the second half N//2+1..N (N=40: 1-40 / 21-40 / 21-40). Held-out *speakers*.
    * ``"heldout_sentences"`` — BIWI-like, on the train subjects: the last 10 % of sentences
      (at least one) for test, the 10 % before for val, the rest for train
      (N=40: 1-32 / 33-36 / 37-40). Held-out *sentences* of seen speakers.

    Args:
        num_speakers: 1..len(DEMO_SPEAKERS); sentences_per_speaker: 1..len(HARVARD_SENTENCES).

    Returns:
        dict: ``{"train": [subject], "val": [...], "test": [...], "sentences": {"train": [int],
        "val": [...], "test": [...]}, "heldout_sentences": {"subjects": [...], "train": [int],
        "val": [...], "test": [...]}}`` (sentence numbers are 1-based, as in the file names).

    Raises:
        ConfigError: a size is out of range.
    """
    _check_sizes(num_speakers, sentences_per_speaker)
    names = [s.name for s in DEMO_SPEAKERS[:num_speakers]]
    if num_speakers >= 3:
        train, val, test = names[:-2], [names[-2]], [names[-1]]
    else:
        train, val, test = names, [], []
    n = sentences_per_speaker
    all_s = list(range(1, n + 1))
    second_half = list(range(n // 2 + 1, n + 1))
    n_hold = max(1, n // 10)
    if n >= 3:
        h_test = all_s[-n_hold:]
        h_val = all_s[-2 * n_hold : -n_hold]
        h_train = all_s[: -2 * n_hold]
    else:
        h_train, h_val, h_test = all_s[:1], [], all_s[1:]
    return {
        "train": train,
        "val": val,
        "test": test,
        "sentences": {"train": all_s, "val": second_half, "test": second_half},
        "heldout_sentences": {"subjects": train, "train": h_train, "val": h_val, "test": h_test},
    }


def _check_sizes(num_speakers: int, sentences_per_speaker: int) -> None:
    if not 1 <= int(num_speakers) <= len(DEMO_SPEAKERS):
        raise ConfigError(f"num_speakers must be 1..{len(DEMO_SPEAKERS)} (one per eSpeak voice), got {num_speakers}")
    if not 1 <= int(sentences_per_speaker) <= len(HARVARD_SENTENCES):
        raise ConfigError(f"sentences_per_speaker must be 1..{len(HARVARD_SENTENCES)} (Harvard lists 1-5), "
                          f"got {sentences_per_speaker}")


#: The split of the default build (6 speakers x 40 sentences), as written to ``split.json``.
DEMO_SPLIT: dict = demo_split(6, 40)


def num_frames_for(num_samples: int, fps: float, sample_rate: int = SAMPLE_RATE) -> int:
    """Frames of a sequence whose wav has ``num_samples`` samples: ``ceil(duration * fps)``.

    Frame ``f`` is the face at time ``f / fps`` seconds, so the frames cover the whole audio:
    ``(T - 1) / fps < duration <= T / fps``.

    Args:
        num_samples: wav length in samples (int); fps: frames per second; sample_rate: Hz.

    Returns:
        T (int >= 1).
    """
    return max(1, math.ceil(num_samples * fps / sample_rate - 1e-9))


def _rng(seed: int, *keys: str | int) -> np.random.Generator:
    """A Generator keyed by the seed and names (crc32, not Python's salted ``hash``)."""
    words = [int(seed) & 0xFFFFFFFF] + [zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng(words)


def _to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    x = samples.astype(np.float32) / 32768.0
    y = soxr.resample(x, rate, SAMPLE_RATE, quality="HQ")
    return np.clip(np.round(y * 32768.0), -32768, 32767).astype(np.int16)


def _readme(split: dict, speakers: list[DemoSpeaker], n_sent: int, fps: float, seed: int,
            n_verts: int, n_faces: int) -> str:
    def rng_text(xs: list[int]) -> str:
        return f"{xs[0]}-{xs[-1]}" if xs else "none"

    lines = [
        "# talkzoo 3D demo corpus",
        "",
        "A small synthetic corpus in exactly the VOCASET / FaceFormer layout, generated by",
        "`talkzoo.data.demo3d.build_demo_corpus` so the 3D loaders, models and metrics can be tried",
        "without VOCASET. It is NOT captured data: the speech is eSpeak NG synthesis and the motion a",
        "procedural viseme rig driven by eSpeak's exact phoneme timings. Use it for smoke tests,",
        "tutorials and pipeline checks, never for reporting results.",
        "",
        "## Layout",
        "",
        "- `wav/<subject>_sentenceNN.wav` — mono 16-bit PCM, 16 kHz (eSpeak's 22050 Hz resampled with soxr HQ).",
        f"- `vertices_npy/<subject>_sentenceNN.npy` — float32 (frames, {3 * n_verts}) = (frames, 3V), metres,",
        f"  {fps:g} fps; frame f is the face at t = f/fps; frames = ceil(wav duration x fps).",
        f"- `templates.pkl` — pickle of dict {{subject: (V, 3) float32 neutral face}}, V = {n_verts}.",
        f"- `faces.npy` — ({n_faces}, 3) int64 triangles (MediaPipe FaceMesh topology).",
        "- `regions/lip.txt`, `regions/upper_face.txt` — vertex index sets (one int per line, `#` comments;",
        "  first comment line states the provenance).",
        "- `split.json` — the splits below.",
        "",
        "## Subjects",
        "",
        "| subject | eSpeak NG voice | rate (wpm) | pitch | split |",
        "|---|---|---|---|---|",
    ]
    for s in speakers:
        part = "train" if s.name in split["train"] else "val" if s.name in split["val"] else "test"
        lines.append(f"| {s.name} | {s.voice} | {s.rate} | {s.pitch} | {part} |")
    hs = split["heldout_sentences"]
    lines += [
        "",
        f"Every subject speaks Harvard sentences 1-{n_sent} (`sentence01`..`sentence{n_sent:02d}`).",
        "",
        "## Splits (`split.json`)",
        "",
        "1. VOCASET protocol (held-out speakers): train subjects use sentences "
        f"{rng_text(split['sentences']['train'])}; val and test subjects use sentences "
        f"{rng_text(split['sentences']['val'])}.",
        "2. Held-out sentences (`heldout_sentences`, BIWI-like, train subjects only): train "
        f"{rng_text(hs['train'])}, val {rng_text(hs['val'])}, test {rng_text(hs['test'])}.",
        "",
        "## Provenance and licences",
        "",
        "- Text: Harvard sentences (IEEE 1969), public domain.",
        "- Speech: synthesised with eSpeak NG (GPL-3.0-or-later program; the generated audio is",
        "  program output) through the `espeakng-loader` wheel.",
        "- Face topology and template: MediaPipe FaceMesh (Apache-2.0), geometry estimated from the",
        "  public-domain NASA astronaut portrait in scikit-image; see talkzoo/assets/face/PROVENANCE.md.",
        f"- Generator: talkzoo demo3d, seed {seed}. Rebuilding with the same arguments on the same",
        "  platform and library versions gives byte-identical files.",
        "",
    ]
    return "\n".join(lines)


def build_demo_corpus(
    out_dir: str | Path,
    *,
    num_speakers: int = 6,
    sentences_per_speaker: int = 40,
    fps: float = 30.0,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Generate the 3D demo corpus in the VOCASET / FaceFormer layout.

    Each subject is an eSpeak NG voice (:data:`DEMO_SPEAKERS`) with its own neutral face (the
    MediaPipe FaceMesh template with small seeded shape changes) and articulation style; each
    sequence is one Harvard sentence spoken by that voice, with the face animated by the viseme
    rig of :mod:`.rig` from eSpeak's exact phoneme timings, plus seeded blinks and brow raises.

    Writes (``<stem>`` = ``<subject>_sentenceNN``, e.g. ``DemoSpeaker_en_m1_sentence01``)::

        out_dir/wav/<stem>.wav            mono PCM_16, 16 kHz
        out_dir/vertices_npy/<stem>.npy   float32 (T, 3V), metres, T = ceil(duration * fps)
        out_dir/templates.pkl             {subject: (V, 3) float32}, V = 468
        out_dir/faces.npy                 (852, 3) int64
        out_dir/regions/lip.txt, out_dir/regions/upper_face.txt
        out_dir/README.md, out_dir/split.json   (see :func:`demo_split`)

    Everything is written to a temporary folder beside ``out_dir`` and renamed into place at
    the end, so an interrupted build leaves no half corpus. Deterministic: the same arguments
    give byte-identical files (each utterance is synthesised in a fresh eSpeak process; all
    randomness comes from ``seed``). The default build (6 x 40) takes ~30 s on 2 cores.

    Args:
        out_dir: destination folder (must not exist, or be empty, unless ``overwrite``).
        num_speakers: 1..8 subjects (the first n of :data:`DEMO_SPEAKERS`).
        sentences_per_speaker: 1..50 Harvard sentences per subject.
        fps: frame rate of the vertex sequences (VOCASET is used at 30).
        seed: integer seed of templates, styles, blinks and brow raises.
        overwrite: replace an existing non-empty ``out_dir``.
        progress: show a tqdm progress bar.

    Returns:
        ``Path`` of the corpus folder (``out_dir``, absolute).

    Raises:
        DataError: ``out_dir`` exists and is a file, or is a non-empty folder and ``overwrite``
            is False; eSpeak NG is missing or fails.
        ConfigError: a size or ``fps`` is out of range.
    """
    _check_sizes(num_speakers, sentences_per_speaker)
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be a positive number, got {fps!r}")
    out = Path(out_dir).expanduser().resolve()
    if out.exists():
        if not out.is_dir():
            raise DataError(f"cannot build the demo corpus at {out}: it exists and is not a folder")
        if any(out.iterdir()) and not overwrite:
            raise DataError(f"cannot build the demo corpus at {out}: the folder is not empty "
                            "(pass overwrite=True to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)

    import soundfile as sf
    from tqdm.auto import tqdm

    asset = load_face_asset()
    speakers = list(DEMO_SPEAKERS[:num_speakers])
    split = demo_split(num_speakers, sentences_per_speaker)
    jobs = [(spk, k) for spk in speakers for k in range(1, sentences_per_speaker + 1)]

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        (tmp / "wav").mkdir()
        (tmp / "vertices_npy").mkdir()
        (tmp / "regions").mkdir()
        templates: dict[str, np.ndarray] = {}
        rigs: dict[str, tuple[FaceRig, SpeakerStyle]] = {}
        for spk in speakers:
            tmpl = vary_template(asset.template, asset.landmarks, _rng(seed, spk.name, "template"))
            style = SpeakerStyle.sample(_rng(seed, spk.name, "style"))
            templates[spk.name] = tmpl.astype(np.float32)
            # the rig works on the float32 template so motion is relative to what is saved
            rigs[spk.name] = (FaceRig(templates[spk.name], asset.landmarks, style), style)

        def synth(job: tuple[DemoSpeaker, int]):
            spk, k = job
            return synthesize(HARVARD_SENTENCES[k - 1], spk.voice, rate=spk.rate, pitch=spk.pitch,
                              pitch_range=spk.pitch_range)

        workers = max(1, min(2, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            bar = tqdm(total=len(jobs), desc="demo3d corpus", unit="seq", disable=not progress)
            for (spk, k), utt in zip(jobs, pool.map(synth, jobs), strict=True):
                stem = f"{spk.name}_sentence{k:02d}"
                wav = _to_16k(utt.samples, utt.sample_rate)
                sf.write(tmp / "wav" / f"{stem}.wav", wav, SAMPLE_RATE, subtype="PCM_16", format="WAV")
                duration = len(wav) / SAMPLE_RATE
                n_frames = num_frames_for(len(wav), fps)
                rig, style = rigs[spk.name]
                tracks = speech_tracks(utt.phonemes, duration, n_frames, fps, style)
                blink, brow = upper_face_tracks(duration, n_frames, fps, style, _rng(seed, spk.name, k, "upper"))
                verts = rig.animate(tracks, blink, brow).astype(np.float32).reshape(n_frames, -1)
                np.save(tmp / "vertices_npy" / f"{stem}.npy", verts)
                bar.update(1)
            bar.close()

        with open(tmp / "templates.pkl", "wb") as f:
            pickle.dump(templates, f, protocol=4)
        np.save(tmp / "faces.npy", asset.faces.astype(np.int64))
        (tmp / "regions" / "lip.txt").write_text(asset.lip_text)
        (tmp / "regions" / "upper_face.txt").write_text(asset.upper_face_text)
        (tmp / "split.json").write_text(json.dumps(split, indent=1) + "\n")
        (tmp / "README.md").write_text(_readme(split, speakers, sentences_per_speaker, fps, seed,
                                               len(asset.template), len(asset.faces)))
        _replace_dir(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _replace_dir(new: Path, out: Path, overwrite: bool) -> None:
    """Rename ``new`` to ``out``. An existing empty ``out`` is replaced; a non-empty one only with
    ``overwrite`` (moved aside first, deleted after the rename), else :class:`DataError` — checked
    again here because another process may have filled ``out`` during the build."""
    old = None
    if out.exists():
        if overwrite and out.is_dir() and any(out.iterdir()):
            old = out.with_name(f".{out.name}.old-{hashlib.sha1(str(new).encode()).hexdigest()[:8]}")
            os.replace(out, old)
        else:
            try:
                out.rmdir()
            except OSError as exc:
                raise DataError(f"cannot build the demo corpus at {out}: it was filled or replaced "
                                "by something else during the build") from exc
    try:
        os.replace(new, out)
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
