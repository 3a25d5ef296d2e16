"""LRW (Chung & Zisserman, "Lip Reading in the Wild", ACCV 2016) as AMIE (IJCAI 2020) uses it:
256x256, 25 fps, the official split (488,766 / 25,000 / 25,000 clips of 29 frames).

Release layout ``ROOT/lipread_mp4/<WORD>/{train,val,test}/<WORD>_<NNNNN>.mp4`` (ROOT may also be
the ``lipread_mp4`` folder itself). File names repeat across splits, so clip ids are the relative
paths ``<WORD>/<split>/<WORD>_<NNNNN>`` (as LRW file lists write them). LRW names no speakers:
``speaker`` is -1 and ``spec.speakers`` is empty; ``subjects`` holds the word. The release is
already 256x256 face-centred at 25 fps: it is read as downloaded (no ``talkzoo data prepare``).

Licence: BBC research licence (agreement with the BBC; non-commercial research).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talkzoo.data.presets.base import register_preset
from talkzoo.data.presets.video.base import ClipRecord, VideoPreset


@register_preset
class Lrw(VideoPreset):
    """LRW read as released; the official split is the folder a clip lies in."""

    name = "lrw"
    title = "LRW (Chung & Zisserman, ACCV 2016)"
    source = "the official LRW split, as AMIE (IJCAI 2020) uses it"
    licence = "BBC research licence (non-commercial research; agreement required)"
    url = "https://www.robots.ox.ac.uk/~vgg/data/lip_reading/lrw1.html"
    image_size = 256
    layout = "ROOT/lipread_mp4/<WORD>/{train,val,test}/<WORD>_<NNNNN>.mp4 (256x256, 25 fps, 29 frames)"
    split_source = "the official LRW split (Chung & Zisserman, ACCV 2016), as AMIE (IJCAI 2020) uses it"
    get_data = (
        "request LRW from https://www.robots.ox.ac.uk/~vgg/data/lip_reading/lrw1.html (BBC licence) and unpack "
        "lrw-v1 so that ROOT/lipread_mp4/ABOUT/train/ABOUT_00001.mp4 exists"
    )

    @staticmethod
    def lrw_root(root: Path) -> Path | None:
        """``ROOT/lipread_mp4`` or ROOT itself, whichever holds ``<WORD>/train`` (or ``test``)."""
        for cand in (root / "lipread_mp4", root):
            if cand.is_dir() and (any(cand.glob("*/train")) or any(cand.glob("*/test"))):
                return cand
        return None

    def check_root(self, root: Path) -> None:
        """``lipread_mp4/<WORD>/train`` (or ``test``) exists."""
        if self.lrw_root(root) is None:
            raise self.missing(root, root / "lipread_mp4" / "<WORD>" / "train")

    def list_clips(self, root: Path) -> list[ClipRecord]:
        """Every ``<WORD>/<split>/<WORD>_<NNNNN>.mp4``; id = that path without suffix; subject = the word."""
        lrw = self.lrw_root(root)
        assert lrw is not None
        return [
            ClipRecord(f"{p.parent.parent.name}/{p.parent.name}/{p.stem}", p, "", subject=p.parent.parent.name,
                       src_fps=self.fps)
            for p in sorted(lrw.glob("*/*/*.mp4"))
        ]

    def builtin_split(self, split: str, clips: dict[str, ClipRecord], root: Path) -> list[str]:
        """The clips in ``<WORD>/<split>/``."""
        return [c for c, r in clips.items() if r.path.parent.name == split]

    def write_fixture(self, root: Path, size: int = 32, frames: int = 30, **options: Any) -> Path:
        """``lipread_mp4/{ABOUT,WORLD}/{train,val,test}/<WORD>_0000N.mp4`` (29 frames) with LRW's
        ``.txt`` metadata next to each."""
        from talkzoo.testing.video_fixtures import write_synthetic_clip, write_text

        root = Path(root)
        for w, word in enumerate(("ABOUT", "WORLD")):
            for split in ("train", "val", "test"):
                for i in (1, 2):
                    base = root / "lipread_mp4" / word / split / f"{word}_{i:05d}"
                    write_synthetic_clip(base.with_suffix(".mp4"), 29, size, w)
                    write_text(base.with_suffix(".txt"), f"Text:  {word}\nConf:  1\n\nDuration: 0.31 seconds\n")
        return root
