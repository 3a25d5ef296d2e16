"""HDTF (Zhang et al., "Flow-guided One-shot Talking Face Generation with a High-resolution
Audio-visual Dataset", CVPR 2021) as FLOAT (Ki et al., 2024, §5.1) uses it: 512x512, 25 fps, 16 kHz.

Release layout: clips named as the HDTF release names them, ``ROOT/{RD,WDA,WRA}_<Name>_<NNN>.mp4``
(identity = the name without the clip number), face-cropped to 512x512. FLOAT did not publish
its lists (train 240 videos / 230 identities, test 78 identities x 15 s, identities disjoint), so
this preset reads ``ROOT/splits/{train,val,test}.txt`` and stops with a message saying so when
they are missing.

Prepare: ``talkzoo data prepare hdtf --src DIR --out ROOT`` crops the downloaded clips (any
resolution) to the prepared layout; its split is ``DIR/splits/*.txt`` when given, else a
speaker-disjoint hash split (FLOAT's identities are disjoint; its lists are unpublished).

Licence: HDTF lists YouTube videos; the clips stay under their uploaders' terms (research use).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from talkzoo.data.presets.base import register_preset
from talkzoo.data.presets.video.base import ClipRecord, VideoPreset


@register_preset
class Hdtf(VideoPreset):
    """HDTF clips; splits from ``ROOT/splits/*.txt`` (FLOAT's lists are unpublished)."""

    name = "hdtf"
    title = "HDTF (Zhang et al., CVPR 2021)"
    source = "FLOAT (Ki et al., 2024) §5.1"
    licence = "YouTube videos listed by HDTF (uploaders' terms; research use)"
    url = "https://github.com/MRzzm/HDTF"
    image_size = 512
    layout = (
        "ROOT/{RD,WDA,WRA}_<Name>_<NNN>.mp4 (512x512 face crops, 25 fps, with audio) and "
        "ROOT/splits/{train,val,test}.txt"
    )
    split_source = (
        "FLOAT (Ki et al., 2024) §5.1; its HDTF lists are unpublished (train 240 videos / 230 identities, "
        "test 78 identities x 15 s, disjoint identities): supply ROOT/splits/*.txt"
    )
    get_data = (
        "download HDTF (https://github.com/MRzzm/HDTF: YouTube ids and crop/time annotations), cut the "
        "clips, then `talkzoo data prepare hdtf --src DIR --out ROOT` (face crop, 25 fps, 16 kHz)"
    )
    prepare_help = "hdtf: cut HDTF clips {RD,WDA,WRA}_<Name>_<NNN>.mp4 (optional DIR/splits/*.txt)"
    prepare_protocol = "speaker"

    def check_root(self, root: Path) -> None:
        """At least one ``*.mp4`` in ROOT."""
        if not any(root.glob("*.mp4")):
            raise self.missing(root, root / "WDA_<Name>_000.mp4")

    def list_clips(self, root: Path) -> list[ClipRecord]:
        """``ROOT/*.mp4``; identity = the stem without its ``_<NNN>`` clip number."""
        return [ClipRecord(p.stem, p, re.sub(r"_\d+$", "", p.stem), src_fps=self.fps) for p in sorted(root.glob("*.mp4"))]

    def write_fixture(self, root: Path, size: int = 32, frames: int = 30, **options: Any) -> Path:
        """Five clips of four identities and ``splits/{train,val,test}.txt`` (3/1/1 clips)."""
        from talkzoo.testing.video_fixtures import write_text

        root = self._write_clips(Path(root), size, frames)
        names = ["WDA_BarackObama_000", "WDA_BarackObama_001", "WRA_MarcoRubio_000", "RD_Radio1_000", "WDA_JoeBiden_000"]
        write_text(root / "splits" / "train.txt", "\n".join(names[:3]) + "\n")
        write_text(root / "splits" / "val.txt", names[3] + "\n")
        write_text(root / "splits" / "test.txt", names[4] + "\n")
        return root

    def write_raw_fixture(self, src: Path, size: int = 32, frames: int = 30, **options: Any) -> Path:
        """Five clips (``WDA_BarackObama_000/001``, ``WRA_MarcoRubio_000``, ``RD_Radio1_000``,
        ``WDA_JoeBiden_000``), synthetic frames with a sine-tone voice, and the user's split lists
        (FLOAT's are unpublished), as :meth:`write_fixture`."""
        return self.write_fixture(src, size=size, frames=frames)

    def _write_clips(self, src: Path, size: int, frames: int) -> Path:
        from talkzoo.testing.video_fixtures import write_synthetic_clip

        src = Path(src)
        names = ["WDA_BarackObama_000", "WDA_BarackObama_001", "WRA_MarcoRubio_000", "RD_Radio1_000", "WDA_JoeBiden_000"]
        for i, n in enumerate(names):
            write_synthetic_clip(src / f"{n}.mp4", frames, size, i)
        return src
