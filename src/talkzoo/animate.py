"""``talkzoo animate``: a trained audio → mesh checkpoint plus speech → vertices (.npy) and an mp4.

    talkzoo animate --ckpt runs/dualtalker_demo --audio speech.wav --subject DemoSpeaker_ensc_f3 --out outputs/

Any audio file soundfile reads (wav, flac, ogg, mp3), any sample rate, mono or stereo: it is mixed
to mono and resampled to the model's rate. Any length: the model's ``generate()`` decides how it
covers long audio. Outputs, named after the audio file, go to ``--out``:

* ``<stem>.npy`` — ``(T, V, 3)`` float32 vertex positions in metres at the model's fps;
* ``<stem>.mp4`` — the rendered mesh with the audio track (H.264 + AAC), unless ``--no-render``.

Triangles for rendering come from ``--template`` when it is a mesh file, else the checkpoint's
``spec.faces_file``, else, for a 468-vertex model whose faces file has moved, the demo face
topology shipped in ``talkzoo/assets/face`` (the demo corpus's own topology).

Order of work: :func:`check_inputs` checks every input (audio readable, template readable and
finite, subject/template choice) and the output folder (not a file, writable, outputs absent
unless ``--overwrite``) *before* the model is loaded; the checkpoint is read weights-only
(``--trust-checkpoint`` for a file you trust that needs more, see :mod:`talkzoo.checkpoints`).
Outputs are written as a set with :func:`talkzoo.fileio.write_file_set`: both files are written
under temporary names and renamed into place only when both are complete, so existing outputs
are replaced only if all new ones were written, a failure leaves no half-written file and no
empty output folder, and a model that produces NaN/inf writes nothing.
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path

import numpy as np

from talkzoo.errors import ConfigError, DataError


def _load_template(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """A template from ``.npy`` ``(V, 3)`` (faces: none) or a mesh file read by trimesh; finite values only.

    Raises:
        DataError: missing/unreadable file, a shape other than ``(V, 3)``, or NaN/inf vertices.
    """
    from talkzoo.fileio import load_npy, require_finite

    if not path.is_file():
        raise DataError(f"template '{path}' does not exist")
    if path.suffix == ".npy":
        vertices = load_npy(path, "template")
        faces = None
    else:
        import trimesh

        try:
            mesh = trimesh.load(path, force="mesh", process=False)
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"template '{path}' is not a readable mesh: {exc}") from None
        vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    vertices = np.asarray(vertices, dtype=np.float32)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise DataError(f"template '{path}' must hold (V, 3) vertices, got shape {vertices.shape}")
    require_finite(vertices, path, "template")
    return vertices, faces


def _faces_for(spec, num_vertices: int, explicit: np.ndarray | None) -> np.ndarray | None:
    if explicit is not None:
        return explicit
    if spec.faces_file and Path(spec.faces_file).is_file():
        return np.load(spec.faces_file, allow_pickle=False)
    asset = Path(__file__).parent / "assets" / "face" / "faces.npy"
    if num_vertices == 468 and asset.is_file():
        return np.load(asset, allow_pickle=False)
    return None


def output_names(audio: str | Path, render: bool) -> dict[str, str]:
    """File names ``animate`` writes for ``audio``: ``{"vertices": "<stem>.npy", "video": "<stem>.mp4"}``."""
    stem = Path(audio).stem
    names = {"vertices": f"{stem}.npy"}
    if render:
        names["video"] = f"{stem}.mp4"
    return names


def check_inputs(
    audio: str | Path,
    out: str | Path,
    *,
    subject: str | None = None,
    template: str | Path | None = None,
    render: bool = True,
    overwrite: bool = False,
) -> tuple[dict[str, Path], tuple[np.ndarray, np.ndarray | None] | None]:
    """Everything ``animate`` can check before loading the model; creates and writes nothing.

    Args:
        audio: speech file; its header must be readable by libsndfile.
        out: output folder (need not exist).
        subject: subject of a ``templates.pkl`` (exclusive with ``template``).
        template: template mesh file (exclusive with ``subject``).
        render: whether the mp4 will be written.
        overwrite: whether existing outputs may be replaced.

    Returns:
        ``(targets, template)``: ``{"vertices": Path, "video": Path}`` output paths, and the loaded
        template ``(vertices (V, 3) float32 metres, faces or None)`` when ``template`` was given.

    Raises:
        ConfigError: neither or both of subject/template; ``out`` is a file or not writable.
        DataError: missing/unreadable audio or template, non-finite template, existing outputs
            without ``overwrite``.
    """
    import soundfile as sf

    from talkzoo.fileio import check_output_folder

    if (subject is None) == (template is None):
        raise ConfigError("give exactly one of --subject (a subject of templates.pkl) or --template (a mesh file)")
    audio = Path(audio)
    if not audio.is_file():
        raise DataError(f"audio file not found: {audio}" if not audio.exists() else f"audio path is not a file: {audio}")
    try:
        sf.info(str(audio))
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several kinds
        raise DataError(f"cannot read audio file {audio}: {' '.join(str(exc).split())}") from None
    loaded = _load_template(Path(template)) if template is not None else None
    names = output_names(audio, render)
    folder = check_output_folder(out, list(names.values()), overwrite=overwrite)
    return {kind: folder / name for kind, name in names.items()}, loaded


def animate(
    ckpt: str | Path,
    audio: str | Path,
    out: str | Path,
    subject: str | None = None,
    template: str | Path | None = None,
    templates_file: str | Path | None = None,
    speaker: str | None = None,
    render: bool = True,
    overwrite: bool = False,
    size: int = 512,
    trust: bool | None = None,
) -> dict[str, Path]:
    """Animate a template from speech with a trained audio → mesh model.

    Args:
        ckpt: checkpoint file or run folder (the best checkpoint its newest run recorded).
        audio: speech file (wav/flac/ogg/mp3, any rate, mono or stereo).
        out: output folder.
        subject: subject whose template is read from ``templates_file`` (default: the training
            dataset's ``templates.pkl`` recorded in the checkpoint's spec).
        template: a template mesh instead: ``.npy`` ``(V, 3)`` metres, or ``.obj``/``.ply``.
        templates_file: a ``templates.pkl`` to read ``subject`` from.
        speaker: training speaker whose style conditions the motion (default: the model's
            ``unseen_speaker``).
        render: also write the mp4.
        overwrite: replace existing outputs.
        size: rendered frame height/width in pixels.
        trust: load the checkpoint with full unpickling (can run code; only for a file you
            trust); ``None`` reads ``$TALKZOO_TRUST_CHECKPOINTS``.

    Returns:
        ``{"vertices": Path, "video": Path}`` (``video`` only when rendered).

    Raises:
        ConfigError: neither or both of subject/template; an unknown speaker; not a mesh model;
            ``out`` is a file or not writable.
        DataError: unreadable audio/template/checkpoint, a checkpoint refused by the weights-only
            reader; a template with the wrong vertex count or NaN/inf values; outputs exist and
            ``overwrite`` is not set; the model generated NaN/inf.
    """
    import torch

    from talkzoo.audio.io import load_audio
    from talkzoo.checkpoints import load_model
    from talkzoo.data.mesh import read_templates
    from talkzoo.fileio import require_finite, write_file_set
    from talkzoo.tasks.mesh import AudioToMeshTask

    targets, loaded = check_inputs(audio, out, subject=subject, template=template, render=render, overwrite=overwrite)
    model = load_model(ckpt, trust=trust)
    if not isinstance(model, AudioToMeshTask):
        raise ConfigError(f"checkpoint '{ckpt}' holds a {model.family} model; `talkzoo animate` needs an audio-to-mesh model")
    spec = model.mesh_spec
    faces = None
    if loaded is not None:
        vertices, faces = loaded
        source = str(template)
    else:
        table = templates_file or spec.templates_file
        if not table:
            raise ConfigError("the checkpoint records no templates.pkl; pass --templates PATH or --template MESH")
        templates = read_templates(table)
        if subject not in templates:
            raise DataError(f"subject '{subject}' is not in '{table}'; it holds: {', '.join(sorted(templates))}")
        scale = float(getattr(spec, "templates_scale", 1.0)) if table == spec.templates_file else 1.0
        vertices = (np.asarray(templates[subject], dtype=np.float64) * scale).astype(np.float32)
        source = f"{table}[{subject}]"
    if vertices.shape[0] != spec.num_vertices:
        raise DataError(
            f"template {source} has {vertices.shape[0]} vertices but the model was trained on {spec.num_vertices}"
        )
    speaker_id = -1
    if speaker is not None:
        if speaker not in spec.speakers:
            raise ConfigError(f"speaker '{speaker}' is not a training speaker; expected one of {list(spec.speakers)}")
        speaker_id = spec.speakers.index(speaker)
    if render:
        faces = _faces_for(spec, spec.num_vertices, faces)
        if faces is None:
            raise DataError(
                "no triangle list for rendering: the checkpoint's spec names no faces file; pass --template MESH.obj "
                "(its faces are used) or --no-render"
            )

    waveform = load_audio(audio, sample_rate=spec.sample_rate)
    stem = Path(audio).stem
    streams = "sink" in inspect.signature(model.generate).parameters  # blocks to the .npy as generated (#17)
    motion_np = None
    if not streams:
        with torch.no_grad():
            motion = model.generate(
                waveform[None],
                torch.from_numpy(vertices)[None],
                speaker=torch.tensor([speaker_id]),
            )[0]
        motion_np = motion.float().cpu().numpy()
        require_finite(motion_np, f"the model of '{ckpt}'", "the generated motion (check the checkpoint's weights)")
    with write_file_set(targets, overwrite=overwrite) as tmp:
        if streams:
            frames = int(model.frames_for_audio(int(waveform.shape[0])))
            _stream_to_npy(model, waveform, vertices, speaker_id, frames, tmp["vertices"], str(ckpt))
            motion_np = np.load(tmp["vertices"], mmap_mode="r")  # the renderer reads frame by frame
        else:
            np.save(tmp["vertices"], motion_np)
        if render:
            from talkzoo.render import render_mesh_sequence

            render_mesh_sequence(
                motion_np,
                faces,
                fps=spec.fps,
                audio=waveform.numpy(),
                sample_rate=spec.sample_rate,
                out_path=tmp["video"],
                size=size,
                title=f"{stem} ({model.__class__.__name__})",
            )
    return targets


def _stream_to_npy(model, waveform, template: np.ndarray, speaker_id: int, frames: int, path, ckpt: str) -> None:
    """Write ``model.generate(..., sink=...)``'s blocks into a ``(frames, V, 3)`` float32 .npy as they come.

    The file and its header are laid out by :func:`numpy.lib.format.open_memmap`; blocks are then
    written at their offsets with ordinary file writes, so resident memory holds one block (the
    page cache is not the process's), not the sequence. A non-finite block stops generation with
    the same one-line error as the in-memory path (nothing is kept: ``write_file_set``).
    """
    import torch

    from talkzoo.fileio import require_finite

    layout = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(frames, *template.shape))
    offset, frame_bytes = layout.offset, int(np.prod(template.shape)) * 4
    del layout
    with open(path, "r+b") as fh:

        def sink(start: int, block) -> None:
            block_np = np.ascontiguousarray(block[0].float().cpu().numpy())
            require_finite(block_np, f"the model of '{ckpt}'", "the generated motion (check the checkpoint's weights)")
            fh.seek(offset + start * frame_bytes)
            block_np.tofile(fh)

        with torch.no_grad():
            model.generate(
                waveform[None], torch.from_numpy(template)[None], speaker=torch.tensor([speaker_id]),
                num_frames=frames, sink=sink,
            )  # fmt: skip


def main(argv: list[str]) -> int:
    """Command-line front-end of :func:`animate` (``talkzoo animate --help``)."""
    parser = argparse.ArgumentParser(
        prog="talkzoo animate", description="Animate a face mesh from speech with a trained checkpoint."
    )
    parser.add_argument("--ckpt", required=True, help="checkpoint file or run folder")
    parser.add_argument("--audio", required=True, help="speech file (wav/flac/ogg/mp3; any rate; mono or stereo)")
    parser.add_argument("--out", required=True, help="output folder for <audio stem>.npy and .mp4")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--subject", help="subject of the training dataset's templates.pkl")
    who.add_argument("--template", help="template mesh (.npy (V,3) metres, .obj, .ply)")
    parser.add_argument("--templates", help="templates.pkl to read --subject from (default: the training data's)")
    parser.add_argument("--speaker", help="training speaker whose style to use")
    parser.add_argument("--size", type=int, default=512, help="video frame size in pixels")
    parser.add_argument("--no-render", action="store_true", help="write only the .npy")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="load a checkpoint that needs more than weights (full unpickling can run code; "
                             "only for a file you trust)")
    args = parser.parse_args(argv)
    targets = animate(
        args.ckpt,
        args.audio,
        args.out,
        subject=args.subject,
        template=args.template,
        templates_file=args.templates,
        speaker=args.speaker,
        render=not args.no_render,
        overwrite=args.overwrite,
        size=args.size,
        trust=args.trust_checkpoint or None,
    )
    for kind, path in targets.items():
        print(f"{kind}: {path}")
    return 0
