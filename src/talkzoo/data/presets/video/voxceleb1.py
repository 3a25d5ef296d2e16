"""VoxCeleb1 (Nagrani et al., "VoxCeleb: a large-scale speaker identification dataset",
Interspeech 2017) as DaGAN (Hong et al., CVPR 2022) uses it, in the layout FOMM's
``video-preprocessing`` writes: 256x256, frames at 25 fps, no audio (reenactment only).

Release layout ``ROOT/{train,test}/<id>#<youtube>#<start>#<end>.mp4``, each either an mp4 file or
a folder of ``0000000.png`` frames. Identity = the part before the first ``#``; val = test
(FOMM/DaGAN have no validation split). Evaluation pairs: ``ROOT/pairs/test_pairs.csv``, else
DaGAN's ``ROOT/vox_evaluation.csv`` (header ``source,driving,frame``, rows of frame paths
``.../test/<video>/0000013.png``) when present, else self-reenactment of every test video.

Prepare: ``talkzoo data prepare voxceleb1 --src DIR --out ROOT`` (alias ``voxceleb``) crops raw
VoxCeleb1 videos ``DIR/<id>/<youtube>/<NNNNN>.mp4`` (with audio) into the prepared layout; test =
the official test identities id10270-id10309, val = 5 % of the other identities (by hash).

Licence: CC BY 4.0 (the annotations; the videos are YouTube's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talkzoo.data.presets.base import register_preset
from talkzoo.data.presets.video.base import VIDEO_SUFFIXES, ClipRecord, VideoPreset
from talkzoo.data.spec import FAMILY_REENACT


@register_preset
class VoxCeleb1(VideoPreset):
    """VoxCeleb1 in FOMM's layout; train/test folders; DaGAN's evaluation pairs."""

    name = "voxceleb1"
    aliases = ("voxceleb",)
    title = "VoxCeleb1 (Nagrani et al., Interspeech 2017)"
    source = "FOMM/DaGAN's VoxCeleb1 train/test split (val = test); DaGAN's evaluation pairs data/vox_evaluation.csv"
    licence = "CC BY 4.0 (annotations; videos from YouTube)"
    url = "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html"
    image_size = 256
    families = (FAMILY_REENACT,)
    layout = (
        "ROOT/{train,test}/<id>#<youtube>#<start>#<end>.mp4 (an mp4 file or a folder of 0000000.png frames, "
        "256x256, as FOMM's video-preprocessing writes them); pairs ROOT/pairs/test_pairs.csv or ROOT/vox_evaluation.csv"
    )
    split_source = "FOMM/DaGAN's VoxCeleb1 train/test split (val = test); DaGAN's evaluation pairs data/vox_evaluation.csv"
    get_data = (
        "request VoxCeleb1 (https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html) and crop it with "
        "https://github.com/AliaksandrSiarohin/video-preprocessing (`python load_videos.py --format .png "
        "--image_shape 256,256`); copy DaGAN's data/vox_evaluation.csv into ROOT for its evaluation pairs; "
        "or crop raw videos with `talkzoo data prepare voxceleb1 --src DIR --out ROOT`"
    )
    prepare_help = "voxceleb1 (alias voxceleb): raw VoxCeleb1 videos <id>/<youtube>/<NNNNN>.mp4 with audio"
    pair_files = ("vox_evaluation.csv",)
    prepare_protocol = "voxceleb1"

    def check_root(self, root: Path) -> None:
        """``ROOT/train`` or ``ROOT/test`` exists."""
        if not any((root / s).is_dir() for s in ("train", "test")):
            raise self.missing(root, root / "test")

    def list_clips(self, root: Path) -> list[ClipRecord]:
        """Videos and frame folders of ``train/`` and ``test/``; identity = the part before ``#``."""
        out = []
        for part in ("train", "test"):
            d = root / part
            if d.is_dir():
                for p in sorted(d.iterdir()):
                    if p.is_dir() or p.suffix.lower() in VIDEO_SUFFIXES:
                        cid = p.name[:-4] if p.name.endswith(".mp4") else p.stem
                        out.append(ClipRecord(cid, p, cid.split("#", 1)[0], src_fps=self.fps))
        return out

    def builtin_split(self, split: str, clips: dict[str, ClipRecord], root: Path) -> list[str]:
        """``train/`` for train; ``test/`` for val and test."""
        part = "train" if split == "train" else "test"
        return [c for c, r in clips.items() if r.path.parent.name == part]

    # ------------------------------------------------------------------ prepare (raw videos)
    def raw_clips(self, src: Path) -> list[ClipRecord]:
        """Raw VoxCeleb1 videos ``<id>/<youtube>/<NNNNN>.mp4``: clip id ``<id>_<youtube>_<NNNNN>``."""
        from talkzoo.data.prepare_video import _clip_name

        src = Path(src)
        files = sorted(p for p in src.glob("id*/*/*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if not files:
            raise self.missing(src, src / "id10001" / "<youtube id>" / "00001.mp4",
                               "raw VoxCeleb1 videos DIR/<id>/<youtube id>/<NNNNN>.mp4 with audio")
        return [ClipRecord(_clip_name(p.relative_to(src)), p, p.relative_to(src).parts[0]) for p in files]

    def prepare_split(self, clips: list[ClipRecord], src: Path) -> dict[str, list[str]] | None:
        """None: the ``voxceleb1`` protocol of :func:`~talkzoo.data.prepare_video.prepare_videos`."""
        return None

    def write_fixture(self, root: Path, size: int = 32, frames: int = 30, **options: Any) -> Path:
        """FOMM's ``train/`` and ``test/`` with ``<id>#<yt>#<start>#<end>.mp4`` as PNG frame folders
        and as mp4 files (no audio), and DaGAN's ``vox_evaluation.csv`` (frame-path pairs under a
        foreign absolute prefix)."""
        from talkzoo.testing.video_fixtures import write_synthetic_clip, write_frame_folder, write_text

        root = Path(root)
        vids = {
            "train": ["id10001#7w0IBEWc9Qw#000993#001143", "id10002#6WxS8rpNjmk#000047#000223"],
            "test": ["id10280#NXjT3732Ekg#001093#001192", "id10283#vaK4t1-WD4M#014574#014658",
                     "id10292#57KbI2UvGss#009063#009162"],
        }
        for split, names in vids.items():
            for i, n in enumerate(names):
                ident = int(n[2:7]) % 97
                if i % 2 == 0:
                    write_frame_folder(root / split / f"{n}.mp4", frames, size, ident)
                else:
                    write_synthetic_clip(root / split / f"{n}.mp4", frames, size, ident, sample_rate=None)
        prefix = "/data/fhongac/origDataset/vox1_frames/test"
        t = vids["test"]
        rows = [f"{prefix}/{t[0]}.mp4/0000013.png,{prefix}/{t[0]}.mp4/0000020.png",
                f"{prefix}/{t[2]}.mp4/0000005.png,{prefix}/{t[2]}.mp4/0000002.png"]
        write_text(root / "vox_evaluation.csv", "source,driving,frame\n" + "\n".join(rows) + "\n")
        return root

    def write_raw_fixture(self, src: Path, size: int = 32, frames: int = 30, **options: Any) -> Path:
        """Raw videos with audio: ``id10001/7w0IBEWc9Qw/00001.mp4``, ``id10002/6WxS8rpNjmk/00001.mp4``
        (dev identities) and ``id10280/NXjT3732Ekg/00001.mp4`` (an official test identity)."""
        from talkzoo.testing.video_fixtures import write_synthetic_clip

        src = Path(src)
        for i, rel in enumerate(("id10001/7w0IBEWc9Qw/00001.mp4", "id10002/6WxS8rpNjmk/00001.mp4",
                                 "id10280/NXjT3732Ekg/00001.mp4")):
            write_synthetic_clip(src / rel, frames, size, i)
        return src
