"""``talkzoo animate`` for the 2D families: a portrait + speech, or a source + driving video → mp4.

    talkzoo animate --ckpt runs/tiny_audio2video_demo --image portrait.jpg --audio speech.wav --out outputs/
    talkzoo animate --ckpt runs/tiny_reenact_demo --source portrait.jpg --driving clip.mp4 --out outputs/

* **audio → video** (``--image`` + ``--audio``): any audio file soundfile reads (wav, flac, ogg,
  mp3), any rate, mono or stereo, any length; mixed to mono and resampled to the model's rate.
  Output ``<audio stem>.mp4``: H.264 frames at the model's fps (``round(seconds * fps)`` frames)
  and the speech as AAC (mono, at the model's sample rate).
* **reenactment** (``--source`` + ``--driving``): the driving video is read at 25 fps (sample and
  hold, as ``talkzoo data prepare`` does); output ``<driving stem>.mp4``, one frame per driving
  frame, with the driving clip's audio when it has one.

Faces are found and cropped the way ``talkzoo data prepare`` crops training data: the face
detector (``--detector auto``: OpenCV's Haar cascade when a 4.x OpenCV is installed, else
scikit-image's LBP cascade), the largest face, FOMM's square crop grown by ``increase_area``
(:func:`talkzoo.data.prepare_video.stabilised_box`), resized (Lanczos) to the checkpoint's image
size. For a driving video the crop is fixed for the whole clip from the faces found on every 5th
frame; frames where no face is found keep that crop (documented behaviour: nothing is dropped), and
a video where no sampled frame has a face is an error.

Frames stream to the encoder: the model's ``generate_stream`` yields one window at a time
(:meth:`talkzoo.tasks.video.AudioToVideoTask.generate_stream`), each frame is encoded as it comes,
so memory does not grow with the length (benchmarks/animate_video_memory.py). A progress bar
counts frames.

Rules shared with the mesh verb: inputs are checked before the model is loaded; an existing
output is an error unless ``--overwrite``; the mp4 is written to a temporary file and renamed when
complete, so a failure leaves nothing half-written. Bad input (missing or unreadable image, audio
or video, no face found) is one line naming the file. A face crop smaller than the model's image
size is upscaled, with a warning line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from talkzoo.errors import ConfigError, DataError

__all__ = ["animate_video", "crop_face", "main", "read_image"]

#: driving video: detect faces on every n-th frame (as ``talkzoo data prepare --detect-every``).
DETECT_EVERY = 5
#: frames per chunk decoded from a driving video and handed to ``generate_stream``.
DRIVING_CHUNK = 25


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB.

    Raises:
        DataError: missing, a folder, or not an image PIL can decode (one line naming the file).
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise DataError(f"image file not found: {p}")
    if not p.is_file():
        raise DataError(f"image path is not a file: {p}")
    try:
        with Image.open(p) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{p}: not a readable image ({type(exc).__name__}); expected a JPEG/PNG/... photo") from None


def _largest_face(detector, frame: np.ndarray) -> np.ndarray | None:
    found = np.asarray(detector(frame), dtype=np.float64).reshape(-1, 4)
    if not len(found):
        return None
    area = (found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1])
    return found[int(np.argmax(area))]


def crop_face(frame: np.ndarray, box: tuple[float, float, float], size: int) -> np.ndarray:
    """Crop the square ``box = (x0, y0, side)`` (pixels) of ``frame`` and resize it to ``size`` (Lanczos).

    Returns:
        ``(size, size, 3)`` uint8 RGB.
    """
    from PIL import Image

    x0, y0, side = box
    return np.asarray(Image.fromarray(frame).resize((size, size), Image.Resampling.LANCZOS,
                                                    box=(x0, y0, x0 + side, y0 + side)))


def _warn_small(what: str, side: float, size: int) -> None:
    if side < size:
        print(f"talkzoo animate: warning: the face crop of {what} is {side:.0f} px, smaller than the model's "
              f"{size} px; it is upscaled (expect a blurrier result)", file=sys.stderr)


def _portrait_box(path: str | Path, detector, increase_area: float) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Read a portrait file and find its face crop: ``(image (H, W, 3) uint8, (x0, y0, side))``.

    Raises:
        DataError: unreadable image, or no face found (one line naming the file).
    """
    from talkzoo.data.prepare_video import stabilised_box

    image = read_image(path)
    box = _largest_face(detector, image)
    if box is None:
        raise DataError(f"{path}: no face found in the image; use a photo with one clearly visible, roughly frontal face")
    return image, stabilised_box(box[None], image.shape[:2], increase_area)


def _driving_crop(path: Path, detector, increase_area: float) -> tuple[tuple[float, float, float], int]:
    """First pass over the driving video: the fixed crop and the frame count (at 25 fps)."""
    from talkzoo.data.prepare_video import _frames_at_25, stabilised_box

    boxes, n, hw = [], 0, None
    try:
        for i, rgb, _ in _frames_at_25(path):
            n, hw = i + 1, rgb.shape[:2]
            if i % DETECT_EVERY == 0:
                box = _largest_face(detector, rgb)
                if box is not None:
                    boxes.append(box)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds for a file that is not a video
        raise DataError(f"{path}: not a readable video ({type(exc).__name__}: {str(exc)[:120]})") from None
    if n == 0:
        raise DataError(f"{path}: the video has no frames")
    if not boxes:
        raise DataError(f"{path}: no face found in any of {len(range(0, n, DETECT_EVERY))} sampled frames")
    return stabilised_box(np.stack(boxes), hw, increase_area), n


def _check_output(out: str | Path, stem: str, overwrite: bool) -> Path:
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"--out {out_dir} is a file; expected a folder")
    target = out_dir / f"{stem}.mp4"
    if target.exists() and not overwrite:
        raise DataError(f"{target} already exists; pass --overwrite to replace it, or choose another --out")
    return target


def _progress(total: int | None, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="frame", desc="talkzoo animate", disable=not progress, file=sys.stderr)


def _to_uint8(chunk) -> np.ndarray:
    """``(t, 3, H, W)`` float [0, 1] tensor → ``(t, H, W, 3)`` uint8 numpy."""
    from talkzoo.metrics.video import to_uint8_images

    return to_uint8_images(chunk)


def animate_video(
    ckpt: str | Path,
    out: str | Path,
    *,
    image: str | Path | None = None,
    audio: str | Path | None = None,
    source: str | Path | None = None,
    driving: str | Path | None = None,
    overwrite: bool = False,
    detector: str = "auto",
    increase_area: float = 0.1,
    window_frames: int | None = None,
    progress: bool = True,
    model_options: dict | None = None,
) -> Path:
    """Animate a portrait from speech (``image`` + ``audio``) or reenact it (``source`` + ``driving``).

    Args:
        ckpt: checkpoint file or run folder of an audio → video or reenactment model.
        out: output folder; the mp4 is named after the audio / driving file.
        image, audio: portrait image and speech file (audio → video).
        source, driving: source portrait and driving video (reenactment).
        overwrite: replace an existing output.
        detector: face detector name (``auto``, ``opencv``, ``skimage``), as ``talkzoo data prepare``.
        increase_area: crop growth around the face box (FOMM's ``--increase``; prepare's default 0.1).
        window_frames: frames per generation window (default: the model's ``stream_window_frames``).
        progress: show the progress bar.
        model_options: the model's own ``generate_stream`` keyword options (audio → video), e.g.
            FLOAT's ``emotion``, ``nfe``, ``cfg_audio``, ``pose_edit``; on the command line any
            ``--name value`` the verb does not know (value parsed as YAML). An option the model's
            ``generate_stream`` does not take is a ConfigError.

    Returns:
        Path of the written mp4 (H.264 + AAC).

    Raises:
        ConfigError: not exactly one of the two input pairs; the checkpoint's family does not
            match the inputs.
        DataError: a missing/unreadable input, no face found, an existing output without
            ``overwrite``.
    """
    import torch

    from talkzoo.audio.io import load_audio
    from talkzoo.checkpoints import load_model
    from talkzoo.data.prepare_video import make_detector
    from talkzoo.render.video import write_video
    from talkzoo.tasks.video import AudioToVideoTask, ReenactmentTask

    talking = image is not None or audio is not None
    reenact = source is not None or driving is not None
    if talking == reenact or (talking and (image is None or audio is None)) or (reenact and (source is None or driving is None)):
        raise ConfigError("give either --image and --audio (audio -> video) or --source and --driving (reenactment)")
    # ---- inputs checked before the model is loaded
    face_detector = make_detector(detector)
    portrait_image, portrait_crop = _portrait_box(image if talking else source, face_detector, increase_area)
    if talking:
        wave_probe = load_audio(audio, sample_rate=16000)  # readable, not empty (checked again at the model's rate)
        if float(wave_probe.abs().max()) < 1e-4:  # digital silence: nothing to animate (-80 dBFS peak)
            raise DataError(f"{audio}: the audio is silent (peak below -80 dBFS); expected speech")
        del wave_probe
        target = _check_output(out, Path(audio).stem, overwrite)
    else:
        driving = Path(driving)
        if not driving.is_file():
            raise DataError(f"driving video not found: {driving}")
        target = _check_output(out, driving.stem, overwrite)
        crop, n_frames = _driving_crop(driving, face_detector, increase_area)
    # ---- model
    model = load_model(ckpt)
    wanted = AudioToVideoTask if talking else ReenactmentTask
    if not isinstance(model, wanted):
        raise ConfigError(f"checkpoint '{ckpt}' holds a {model.family} model; --{'image/--audio' if talking else 'source/--driving'} "
                          f"needs a {wanted.family} model")
    model.eval()
    spec = model.require_spec()
    size = int(spec.image_size)
    _warn_small(str(image if talking else source), portrait_crop[2], size)
    portrait = crop_face(portrait_image, portrait_crop, size)
    src = torch.from_numpy(portrait.copy()).permute(2, 0, 1).float().div(255)[None]
    target.parent.mkdir(parents=True, exist_ok=True)

    options = dict(model_options or {})
    if options:
        import inspect

        accepted = set(inspect.signature(model.generate_stream).parameters) - {"audio", "source", "num_frames", "audio_mask", "window_frames"}
        unknown = sorted(set(options) - accepted) if talking else sorted(options)
        if unknown:
            raise ConfigError(f"{type(model).__name__} takes no option(s) {['--' + k.replace('_', '-') for k in unknown]}; "
                              f"its options: {['--' + k.replace('_', '-') for k in sorted(accepted)] if talking else 'none'}")
    if talking:
        wave = load_audio(audio, sample_rate=spec.sample_rate)
        total = model.num_frames_for(wave.shape[0])
        bar = _progress(total, progress)

        def frames() -> Iterator[np.ndarray]:
            with torch.no_grad():
                for chunk in model.generate_stream(wave[None], src, num_frames=total, window_frames=window_frames, **options):
                    for frame in _to_uint8(chunk[0]):
                        yield frame
                    bar.update(chunk.shape[1])

        try:
            write_video(target, frames(), spec.fps, audio=wave.numpy(), sample_rate=spec.sample_rate)
        finally:
            bar.close()
        return target

    from talkzoo.data.prepare_video import FPS, _frames_at_25, _read_audio

    _warn_small(str(driving), crop[2], size)
    track = _read_audio(driving)
    bar = _progress(n_frames, progress)

    def driving_chunks() -> Iterator[torch.Tensor]:
        buf = []
        for _, rgb, _ in _frames_at_25(driving):
            buf.append(crop_face(rgb, crop, size))
            if len(buf) == DRIVING_CHUNK:
                yield torch.from_numpy(np.stack(buf)).permute(0, 3, 1, 2).float().div(255)[None]
                buf = []
        if buf:
            yield torch.from_numpy(np.stack(buf)).permute(0, 3, 1, 2).float().div(255)[None]

    def frames() -> Iterator[np.ndarray]:
        with torch.no_grad():
            for chunk in model.generate_stream(src, driving_chunks()):
                for frame in _to_uint8(chunk[0]):
                    yield frame
                bar.update(chunk.shape[1])

    kwargs = {}
    if track is not None:
        wave, start = track
        kwargs = {"audio": wave, "sample_rate": 16000}
    try:
        write_video(target, frames(), float(FPS), **kwargs)
    finally:
        bar.close()
    return target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The 2D options of ``talkzoo animate`` (added to the mesh verb's parser by :mod:`talkzoo.animate`)."""
    group = parser.add_argument_group("2D families (audio -> video, reenactment)")
    group.add_argument("--image", help="portrait image (audio -> video; with --audio)")
    group.add_argument("--source", help="source portrait (reenactment; with --driving)")
    group.add_argument("--driving", help="driving video (reenactment)")
    group.add_argument("--detector", default="auto", choices=("auto", "opencv", "skimage"),
                       help="face detector for the crop (as talkzoo data prepare)")
    group.add_argument("--increase-area", type=float, default=0.1, help="crop growth around the face box (default 0.1)")
    group.add_argument("--window-frames", type=int, default=None, help="frames generated per window (default: the model's)")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")


def _model_options(extra: list[str], parser: argparse.ArgumentParser) -> dict:
    """``--name value`` / ``--name=value`` pairs the verb does not know → ``{name_with_underscores: YAML value}``."""
    import yaml

    options, i = {}, 0
    while i < len(extra):
        key, _, value = extra[i].partition("=")
        if not key.startswith("--") or len(key) < 3:
            parser.error(f"unrecognized argument: {extra[i]}")
        if not _:
            if i + 1 >= len(extra) or extra[i + 1].startswith("--"):
                parser.error(f"model option {key} needs a value")
            value, i = extra[i + 1], i + 1
        options[key[2:].replace("-", "_")] = yaml.safe_load(value)
        i += 1
    return options


def main(argv: list[str]) -> int:
    """``talkzoo animate --ckpt C (--image I --audio A | --source S --driving V) --out DIR [--overwrite]``."""
    parser = argparse.ArgumentParser(prog="talkzoo animate",
                                     description="Animate a portrait from speech, or reenact it from a driving video.")
    parser.add_argument("--ckpt", required=True, help="checkpoint file or run folder")
    parser.add_argument("--audio", help="speech file (wav/flac/ogg/mp3; any rate; mono or stereo)")
    parser.add_argument("--out", required=True, help="output folder for <audio or driving stem>.mp4")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_arguments(parser)
    args, extra = parser.parse_known_args(argv)
    options = _model_options(extra, parser)
    path = animate_video(args.ckpt, args.out, image=args.image, audio=args.audio, source=args.source,
                         driving=args.driving, overwrite=args.overwrite, detector=args.detector,
                         increase_area=args.increase_area, window_frames=args.window_frames,
                         progress=not args.no_progress, model_options=options)
    print(f"video: {path}")
    return 0


def wants_2d(argv: list[str]) -> bool:
    """Whether ``talkzoo animate`` arguments ask for a 2D family (``--image``, ``--source`` or ``--driving``)."""
    return any(a.split("=", 1)[0] in ("--image", "--source", "--driving") for a in argv)
