"""Build the deterministic 2D demo corpus in talkzoo's prepared-video layout."""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkzoo.errors import ConfigError, DataError

from ..demo3d.corpus import DEMO_SPEAKERS, SAMPLE_RATE, _replace_dir, _rng, _to_16k
from ..demo3d.rig import FaceRig, SpeakerStyle, load_face_asset, speech_tracks, upper_face_tracks, vary_template
from ..demo3d.sentences import HARVARD_SENTENCES
from ..demo3d.speech import synthesize
from ..demo3d.corpus import DemoSpeaker
from .portrait import IBUG68_FROM_MEDIAPIPE, Portrait, WarpMesh, build_warp_mesh, load_portrait
from .warp import piecewise_affine_warp

__all__ = ["FPS", "HELDOUT_IDENTITY_DIR", "LAYOUT_FORMAT", "build_video_demo_corpus", "clip_id", "demo2d_speakers",
           "video_demo_split"]

#: sub-folder holding the held-out-identity view of the corpus (a prepared layout of its own whose
#: ``videos``/``landmarks`` are links to the corpus's): train/val as the main split, test = the
#: held-out identity (Grace Hopper), evaluation pairs = the cross-identity pairs.
HELDOUT_IDENTITY_DIR = "heldout_identity"


def demo2d_speakers(num_speakers: int = 4, hopper_speakers: int = 0) -> list[tuple[DemoSpeaker, str]]:
    """The corpus's speakers as ``(DemoSpeaker, identity)``: the first ``num_speakers`` eSpeak voices
    on the astronaut (names ``DemoSpeaker_<tag>``, as ever), then the next ``hopper_speakers`` voices
    on Grace Hopper's portrait (names ``DemoSpeaker_hopper_<tag>``): a held-out identity with
    held-out voices.

    Raises:
        ConfigError: more than 8 voices in all, or a negative count.
    """
    if int(hopper_speakers) < 0 or int(num_speakers) + int(hopper_speakers) > len(DEMO_SPEAKERS):
        raise ConfigError(f"num_speakers + hopper_speakers must be at most {len(DEMO_SPEAKERS)} (one eSpeak voice each), "
                          f"got {num_speakers} + {hopper_speakers}")
    out = [(s, "astronaut") for s in DEMO_SPEAKERS[:num_speakers]]
    for s in DEMO_SPEAKERS[num_speakers:num_speakers + hopper_speakers]:
        out.append((DemoSpeaker("DemoSpeaker_hopper_" + s.name.removeprefix("DemoSpeaker_"), s.voice, s.rate, s.pitch,
                                s.pitch_range), "hopper"))
    return out

#: Frame rate of every clip (frames per second).
FPS = 25
#: Value of ``meta.json["format"]``.
LAYOUT_FORMAT = "talkzoo-video/1"
_SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 640


def clip_id(speaker_name: str, sentence: int) -> str:
    """Clip id of ``speaker_name`` speaking Harvard sentence ``sentence`` (1-based).

    ``DemoSpeaker_en_m1``, 7 -> ``demo_en_m1_s07``.
    """
    return f"demo_{speaker_name.removeprefix('DemoSpeaker_')}_s{sentence:02d}"


def video_demo_split(num_speakers: int = 4, sentences_per_speaker: int = 12, hopper_speakers: int = 0) -> dict:
    """Clip ids of the train / val / test splits and the reenactment pairs (held-out sentences),
    and of the held-out identity.

    Every speaker speaks sentences 1..N. With N >= 3 the last ``max(1, N // 6)`` sentences are
    test, the ``max(1, N // 12)`` before them val, the rest train (N = 12: 1-9 / 10 / 11-12);
    N = 2: 1 / - / 2; N = 1: everything train. Pairs (``source, driving``): every test clip is
    driven once, with frame 0 of the same sentence by the next speaker (cyclically) as source;
    with one speaker, the same clip (self-reenactment). These splits and pairs hold only the
    astronaut's speakers (same identity).

    With ``hopper_speakers`` > 0, Grace Hopper's clips (all sentences) are the held-out identity
    (``"test_identity"``), never in train/val; ``"pairs_cross"`` are cross-identity reenactment
    pairs for each test sentence (the last sentence when there is no test split): every astronaut
    test clip is driven onto a Hopper source (frame 0 of the same sentence, speakers taken cyclically), and every
    Hopper clip of a test sentence drives an astronaut source.

    Args:
        num_speakers: 1..8; sentences_per_speaker: 1..50; hopper_speakers: 0..8 - num_speakers.

    Returns:
        ``{"train": [clip_id], "val": [...], "test": [...], "pairs": [(source, driving)],
        "test_identity": [...], "pairs_cross": [(source, driving)]}``.

    Raises:
        ConfigError: a size is out of range.
    """
    _check(num_speakers, sentences_per_speaker)
    n = sentences_per_speaker
    if n >= 3:
        n_test, n_val = max(1, n // 6), max(1, n // 12)
        test = list(range(n - n_test + 1, n + 1))
        val = list(range(n - n_test - n_val + 1, n - n_test + 1))
    elif n == 2:
        test, val = [2], []
    else:
        test, val = [], []
    names = [s.name for s in DEMO_SPEAKERS[:num_speakers]]
    split: dict = {"train": [], "val": [], "test": [], "pairs": []}
    for name in names:
        for k in range(1, n + 1):
            part = "test" if k in test else "val" if k in val else "train"
            split[part].append(clip_id(name, k))
    for k in test:
        for i, name in enumerate(names):
            split["pairs"].append((clip_id(names[(i + 1) % len(names)], k), clip_id(name, k)))
    hopper = [s.name for s, ident in demo2d_speakers(num_speakers, hopper_speakers) if ident == "hopper"]
    split["test_identity"] = [clip_id(h, k) for h in hopper for k in range(1, n + 1)]
    split["pairs_cross"] = []
    if hopper:
        for k in test or [n]:
            for i, name in enumerate(names):
                split["pairs_cross"].append((clip_id(hopper[i % len(hopper)], k), clip_id(name, k)))
            for j, h in enumerate(hopper):
                split["pairs_cross"].append((clip_id(names[j % len(names)], k), clip_id(h, k)))
    return split


def _check(num_speakers: int, sentences_per_speaker: int) -> None:
    if not 1 <= int(num_speakers) <= len(DEMO_SPEAKERS):
        raise ConfigError(f"num_speakers must be 1..{len(DEMO_SPEAKERS)} (one per eSpeak voice), got {num_speakers}")
    if not 1 <= int(sentences_per_speaker) <= len(HARVARD_SENTENCES):
        raise ConfigError(f"sentences_per_speaker must be 1..{len(HARVARD_SENTENCES)}, got {sentences_per_speaker}")


@dataclass
class _Scene:
    """Everything fixed for one speaker: rig, warp mesh, crop, head-motion pivot."""

    portrait: Portrait
    rig: FaceRig
    style: SpeakerStyle
    mesh: WarpMesh
    crop: tuple[float, float, float]  # x0, y0, side (continuous pixel coordinates)
    size: int
    pivot: np.ndarray  # (3,) metres, template frame
    ring_weight: np.ndarray  # (R,) fraction of the head motion each ring point follows
    ring_ids: np.ndarray  # (R,) point ids of the rings
    ring_template: np.ndarray  # (R, 3) ring points lifted into the template frame
    image: np.ndarray  # (H, W, 3) float32


@functools.lru_cache(maxsize=8)
def _scene(seed: int, speaker: str, size: int, identity: str = "astronaut") -> _Scene:
    portrait = load_portrait(identity)
    asset = load_face_asset()
    tmpl = vary_template(asset.template, asset.landmarks, _rng(seed, speaker, "template")).astype(np.float32)
    style = SpeakerStyle.sample(_rng(seed, speaker, "style"))
    rig = FaceRig(tmpl, asset.landmarks, style)
    x0, y0, x1, y1 = portrait.face_box
    r = _rng(seed, speaker, "camera").uniform(-1.0, 1.0, size=3)
    side = 2.0 * max(x1 - x0, y1 - y0) * (1.0 + 0.05 * r[0])
    cx = 0.5 * (x0 + x1) + 0.5 + 0.03 * side * r[1]
    cy = 0.5 * (y0 + y1) + 0.5 + 0.06 * side + 0.03 * side * r[2]
    h, w = portrait.image.shape[:2]
    cx = float(np.clip(cx, side / 2, w - side / 2))
    cy = float(np.clip(cy, side / 2, h - side / 2))
    crop = (cx - side / 2, cy - side / 2, side)
    mesh = build_warp_mesh(portrait, asset.faces, asset.landmarks, crop)
    p = rig.template
    pivot = np.array([0.0, p[asset.landmarks["chin"], 1] - 0.03, p[:, 2].min() - 0.05])
    ring_ids = np.concatenate([mesh.ring_inner, mesh.ring_outer])
    ring_xy = mesh.source[ring_ids]
    depth = float(np.mean(portrait.depth[asset.landmarks["face_oval"]]))
    ring_template = portrait.unproject(ring_xy, depth)
    # hair moves with the head, the neck and shoulders hardly; the outer ring follows less
    chin_y = portrait.landmarks[asset.landmarks["chin"], 1]
    above = 1.0 / (1.0 + np.exp(-(chin_y - 0.25 * (y1 - y0) - ring_xy[:, 1]) / (0.08 * (y1 - y0))))
    weight = (0.15 + 0.75 * above) * np.where(np.isin(ring_ids, mesh.ring_inner), 1.0, 0.4)
    return _Scene(portrait, rig, style, mesh, crop, size, pivot, weight, ring_ids, ring_template,
                  portrait.image.astype(np.float32))


def _rotation(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations R = Rz(roll) Ry(yaw) Rx(pitch), angles in radians."""
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    o, z = np.ones_like(yaw), np.zeros_like(yaw)
    rx = np.stack([np.stack([o, z, z], -1), np.stack([z, cp, -sp], -1), np.stack([z, sp, cp], -1)], -2)
    ry = np.stack([np.stack([cy, z, sy], -1), np.stack([z, o, z], -1), np.stack([-sy, z, cy], -1)], -2)
    rz = np.stack([np.stack([cr, -sr, z], -1), np.stack([sr, cr, z], -1), np.stack([z, z, o], -1)], -2)
    return rz @ ry @ rx


def head_motion(num_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Small smooth head rotations: (T, 3) yaw, pitch, roll in radians.

    Each angle is a sum of three sinusoids (0.1-0.6 Hz, random phases) scaled to a peak of
    about 2.5 deg (yaw), 1.5 deg (pitch) and 1.2 deg (roll), starting from a random pose.

    Args:
        num_frames: T; fps: frames per second; rng: numpy Generator.

    Returns:
        (T, 3) float64, radians.
    """
    t = np.arange(num_frames) / fps
    out = np.zeros((num_frames, 3))
    for j, peak in enumerate((2.5, 1.5, 1.2)):
        f = rng.uniform(0.1, 0.6, 3)
        ph = rng.uniform(0, 2 * np.pi, 3)
        a = rng.uniform(0.5, 1.0, 3)
        out[:, j] = (a[None] * np.sin(2 * np.pi * f[None] * t[:, None] + ph[None])).sum(1) / a.sum()
        out[:, j] *= peak * math.pi / 180.0
    return out


def _to_output(xy: np.ndarray, crop: tuple[float, float, float], size: int) -> np.ndarray:
    """Portrait pixels (pixel centres) -> output-frame pixels (pixel centres)."""
    x0, y0, side = crop
    return (xy + 0.5 - np.array([x0, y0])) * (size / side) - 0.5


def render_clip(scene: _Scene, speech: np.ndarray, blink: np.ndarray, brow: np.ndarray,
                head: np.ndarray):
    """Frames and landmarks of one clip.

    Args:
        scene: the speaker's scene; speech: (T, 6) rig tracks; blink, brow: (T,) tracks;
        head: (T, 3) yaw/pitch/roll, radians.

    Returns:
        ``(frames, landmarks)``: a generator of (size, size, 3) uint8 RGB frames, and the
        (T, 68, 2) float32 iBUG-68 landmarks in output pixels.
    """
    verts = scene.rig.animate(speech, blink, brow)  # (T, 468, 3) metres
    rot = _rotation(head[:, 0], head[:, 1], head[:, 2])
    verts = scene.pivot + np.einsum("tij,tvj->tvi", rot, verts - scene.pivot)
    face_xy = scene.portrait.project(verts)  # (T, 468, 2)
    ring_rest = scene.portrait.project(scene.ring_template)
    ring_moved = scene.portrait.project(scene.pivot + np.einsum("tij,vj->tvi", rot, scene.ring_template - scene.pivot))
    ring_xy = scene.mesh.source[scene.ring_ids] + scene.ring_weight[None, :, None] * (ring_moved - ring_rest[None])
    border = scene.mesh.source[scene.mesh.border]
    n_face = face_xy.shape[1]
    target = np.empty((len(head), len(scene.mesh.source), 2))
    target[:, :n_face] = face_xy
    target[:, scene.ring_ids] = ring_xy
    target[:, scene.mesh.border] = border[None]
    target = _to_output(target, scene.crop, scene.size)
    landmarks = target[:, list(IBUG68_FROM_MEDIAPIPE)].astype(np.float32)

    def frames():
        for t in range(len(target)):
            img = piecewise_affine_warp(scene.image, scene.mesh.source, target[t], scene.mesh.triangles,
                                        (scene.size, scene.size))
            yield np.clip(np.rint(img), 0, 255).astype(np.uint8)

    return frames(), landmarks


def _build_clip(job: tuple) -> tuple[str, int, str]:
    """Worker: synthesise, animate, render and write one clip. Returns (clip_id, frames, source)."""
    from talkzoo.render.video import write_video

    seed, spk, identity, k, size, root = job
    cid = clip_id(spk.name, k)
    scene = _scene(seed, spk.name, size, identity)
    utt = synthesize(HARVARD_SENTENCES[k - 1], spk.voice, rate=spk.rate, pitch=spk.pitch,
                     pitch_range=spk.pitch_range)
    wav = _to_16k(utt.samples, utt.sample_rate)
    duration = len(wav) / SAMPLE_RATE
    n_frames = max(1, math.ceil(len(wav) / _SAMPLES_PER_FRAME))
    # pad with silence to exactly n_frames / 25 s, so audio and video end together
    wav = np.concatenate([wav, np.zeros(n_frames * _SAMPLES_PER_FRAME - len(wav), dtype=wav.dtype)])
    speech = speech_tracks(utt.phonemes, duration, n_frames, FPS, scene.style)
    blink, brow = upper_face_tracks(duration, n_frames, FPS, scene.style, _rng(seed, spk.name, k, "upper"))
    head = head_motion(n_frames, FPS, _rng(seed, spk.name, k, "head"))
    frames, landmarks = render_clip(scene, speech, blink, brow, head)
    root = Path(root)
    np.save(root / "landmarks" / f"{cid}.npy", landmarks)
    write_video(root / "videos" / f"{cid}.mp4", frames, FPS, audio=wav.astype(np.float32) / 32768.0,
                sample_rate=SAMPLE_RATE, threads=1)  # fixed thread count: byte-identical on any machine
    portrait = ("skimage.data.astronaut() (NASA, public domain)" if identity == "astronaut"
                else "matplotlib sample_data/grace_hopper.jpg (US Navy, public domain)")
    source = (f"talkzoo demo2d (seed {seed}): eSpeak NG voice {spk.voice} speaking Harvard sentence {k}; "
              f"portrait {portrait} animated by the demo3d viseme rig")
    return cid, n_frames, source


def _readme(num_speakers: int, n_sent: int, size: int, seed: int, split: dict, hopper_speakers: int = 0) -> str:
    lines = [
        "# talkzoo 2D demo corpus",
        "",
        "A small synthetic talking-portrait corpus in talkzoo's prepared-video layout, generated by",
        "`talkzoo.data.demo2d.build_video_demo_corpus`. NOT captured video: one real photograph (the NASA",
        "astronaut portrait shipped by scikit-image, public domain) is animated by the phoneme-timed",
        "viseme rig of the 3D demo corpus (jaw, lips, blinks, brows, small head rotations) through its",
        "468 MediaPipe FaceMesh landmarks and a piecewise-affine warp; speech is eSpeak NG. Use it for",
        "smoke tests, tutorials and pipeline checks, never for reporting results.",
        "",
        "## Layout",
        "",
        f"- `videos/<clip_id>.mp4` — H.264 yuv420p, {FPS} fps, {size}x{size}, AAC mono {SAMPLE_RATE} Hz; the audio",
        f"  lasts exactly frames / {FPS} s (the speech padded with silence to the last frame).",
        "- `landmarks/<clip_id>.npy` — (T, 68, 2) float32 iBUG-68 points in output pixels (x right, y down,",
        "  (0, 0) = centre of the top-left pixel), mapped from FaceMesh (table in talkzoo.data.demo2d.portrait).",
        "- `meta.json`, `splits/{train,val,test}.txt`, `pairs/test_pairs.csv` (source,driving; same identity),",
        "  `pairs/cross_identity_pairs.csv` (source of one identity, driving video of the other).",
        f"- `{HELDOUT_IDENTITY_DIR}/`: the held-out-identity view, a prepared layout of its own (its `videos`",
        "  and `landmarks` link to the corpus's): train/val as above, test = every Grace Hopper clip,",
        "  `pairs/test_pairs.csv` = the cross-identity pairs. Point a datamodule's `root` at it.",
        "",
        "## Content",
        "",
        f"{num_speakers} voices on the astronaut x Harvard sentences 1-{n_sent}; held-out sentences: "
        f"{len(split['train'])} train, {len(split['val'])} val, {len(split['test'])} test clips, "
        f"{len(split['pairs'])} same-identity reenactment pairs across voices. Held-out identity: "
        f"{hopper_speakers} further voices on Grace Hopper's portrait, {len(split['test_identity'])} clips, "
        f"{len(split['pairs_cross'])} cross-identity pairs.",
        "",
        "| speaker | identity | eSpeak NG voice | rate (wpm) | pitch |",
        "|---|---|---|---|---|",
    ]
    for s, ident in demo2d_speakers(num_speakers, hopper_speakers):
        lines.append(f"| {s.name} | {ident} | {s.voice} | {s.rate} | {s.pitch} |")
    lines += [
        "",
        "## Provenance and licences",
        "",
        "- Portraits: skimage.data.astronaut(), NASA photograph of Eileen Collins (public domain); Grace Hopper,",
        "  US Navy photograph (public domain) shipped as matplotlib's sample_data/grace_hopper.jpg.",
        "- Landmarks and face topology: MediaPipe FaceMesh (Apache-2.0); see talkzoo/assets/portrait.",
        "- Text: Harvard sentences (IEEE 1969), public domain. Speech: eSpeak NG (GPL-3.0 program; the",
        "  audio is program output) through the `espeakng-loader` wheel.",
        f"- Generator: talkzoo demo2d, seed {seed}. Rebuilding with the same arguments on the same",
        "  platform and library versions gives byte-identical files.",
        "",
    ]
    return "\n".join(lines)


def build_video_demo_corpus(
    out_dir: str | Path,
    *,
    num_speakers: int = 4,
    sentences_per_speaker: int = 12,
    size: int = 256,
    seed: int = 0,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    hopper_speakers: int = 2,
) -> Path:
    """Generate the 2D demo corpus in the prepared-video layout (``talkzoo-video/1``).

    Each clip is one eSpeak NG voice (:data:`~talkzoo.data.demo3d.DEMO_SPEAKERS`, the first
    ``num_speakers``) speaking one Harvard sentence; the portrait's face is moved by the 3D demo
    rig (:mod:`talkzoo.data.demo3d.rig`: jaw, lips with coarticulation, blinks, brows, from
    eSpeak's exact phoneme timings) on a per-speaker face shape and articulation style, with
    small seeded head rotations, projected into the photograph and rendered with a
    piecewise-affine warp over the FaceMesh triangles (plus anchors on hair, neck and
    background). Writes::

        out_dir/meta.json                 format, fps 25, sample_rate 16000, size, "ibug68", speakers, clips
        out_dir/videos/<clip_id>.mp4      H.264 yuv420p size x size, 25 fps; AAC mono 16 kHz, frames/25 s long
        out_dir/landmarks/<clip_id>.npy   (T, 68, 2) float32, output pixels, iBUG-68 order
        out_dir/splits/{train,val,test}.txt, out_dir/pairs/test_pairs.csv, out_dir/README.md

    with ``clip_id = demo_<voice tag>_sNN`` (:func:`clip_id`) and the splits of
    :func:`video_demo_split`. Built in a temporary folder beside ``out_dir`` and renamed into
    place at the end (no half corpus on failure). Deterministic: the same arguments on the same
    machine and library versions give byte-identical files. The default build (4 x 12 at 256 px)
    takes about a minute on 2 cores.

    Args:
        out_dir: destination folder (must not exist, or be empty, unless ``overwrite``).
        num_speakers: 1..8 voices. sentences_per_speaker: 1..50.
        size: output frame side in pixels (even, 64..1024; 256 default, 512 the larger option).
        seed: integer seed of face shapes, styles, crops, blinks, brows and head motion.
        workers: processes rendering clips in parallel (default: min(2, CPU count)).
        overwrite: replace an existing non-empty ``out_dir``.
        progress: show a tqdm progress bar.
        hopper_speakers: further voices on Grace Hopper's portrait, the held-out identity
            (:func:`demo2d_speakers`; 0 = astronaut only). Their clips are in no train/val split;
            see :func:`video_demo_split` and :data:`HELDOUT_IDENTITY_DIR`.

    Returns:
        ``Path`` of the corpus (absolute).

    Raises:
        ConfigError: a size is out of range, or scikit-image (the portrait) is missing.
        DataError: ``out_dir`` is a file or a non-empty folder without ``overwrite``; eSpeak NG fails.
    """
    _check(num_speakers, sentences_per_speaker)
    speakers_all = demo2d_speakers(num_speakers, hopper_speakers)
    if isinstance(size, bool) or int(size) != size or not 64 <= size <= 1024 or size % 2:
        raise ConfigError(f"size must be an even number of pixels in 64..1024 (256 or 512), got {size!r}")
    out = Path(out_dir).expanduser().resolve()
    if out.exists():
        if not out.is_dir():
            raise DataError(f"cannot build the 2D demo corpus at {out}: it exists and is not a folder")
        if any(out.iterdir()) and not overwrite:
            raise DataError(f"cannot build the 2D demo corpus at {out}: the folder is not empty "
                            "(pass overwrite=True / --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    for ident in sorted({i for _, i in speakers_all}):
        load_portrait(ident)  # fail early (scikit-image missing, asset broken)

    from tqdm.auto import tqdm

    split = video_demo_split(num_speakers, sentences_per_speaker, hopper_speakers)
    jobs = []
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        for sub in ("videos", "landmarks", "splits", "pairs"):
            (tmp / sub).mkdir()
        jobs = [(int(seed), spk, ident, k, int(size), str(tmp)) for spk, ident in speakers_all
                for k in range(1, sentences_per_speaker + 1)]
        n_workers = max(1, min(workers or min(2, os.cpu_count() or 1), len(jobs)))
        bar = tqdm(total=len(jobs), desc="demo2d corpus", unit="clip", disable=not progress)
        results = []
        if n_workers == 1:
            for job in jobs:
                results.append(_build_clip(job))
                bar.update(1)
        else:
            import multiprocessing as mp

            with ProcessPoolExecutor(max_workers=n_workers, mp_context=mp.get_context("spawn")) as pool:
                for res in pool.map(_build_clip, jobs):
                    results.append(res)
                    bar.update(1)
        bar.close()
        speakers = [s.name for s, _ in speakers_all]
        meta = {
            "format": LAYOUT_FORMAT, "fps": FPS, "sample_rate": SAMPLE_RATE, "size": int(size),
            "landmarks": "ibug68", "speakers": speakers,
            "identities": {s.name: ident for s, ident in speakers_all},
            "clips": {cid: {"speaker": job[1].name, "frames": int(n), "source": src}
                      for job, (cid, n, src) in zip(jobs, results, strict=True)},
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        for part in ("train", "val", "test"):
            head = f"# talkzoo 2D demo corpus, {part} split (held-out sentences)\n"
            (tmp / "splits" / f"{part}.txt").write_text(head + "".join(f"{c}\n" for c in split[part]))
        pairs = "".join(f"{s},{d}\n" for s, d in split["pairs"])
        (tmp / "pairs" / "test_pairs.csv").write_text("source,driving\n" + pairs)
        if split["test_identity"]:
            cross = "source,driving\n" + "".join(f"{s},{d}\n" for s, d in split["pairs_cross"])
            (tmp / "pairs" / "cross_identity_pairs.csv").write_text(cross)
            view = tmp / HELDOUT_IDENTITY_DIR
            for sub in ("splits", "pairs"):
                (view / sub).mkdir(parents=True)
            for sub in ("videos", "landmarks"):
                os.symlink(os.path.join("..", sub), view / sub, target_is_directory=True)
            (view / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
            for part in ("train", "val"):
                (view / "splits" / f"{part}.txt").write_text((tmp / "splits" / f"{part}.txt").read_text())
            head = "# talkzoo 2D demo corpus, test split of the held-out identity (Grace Hopper)\n"
            (view / "splits" / "test.txt").write_text(head + "".join(f"{c}\n" for c in split["test_identity"]))
            (view / "pairs" / "test_pairs.csv").write_text(cross)
        (tmp / "README.md").write_text(_readme(num_speakers, sentences_per_speaker, size, seed, split, hopper_speakers))
        _replace_dir(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
