"""RAVDESS (Livingstone & Russo, "The Ryerson Audio-Visual Database of Emotional Speech and Song",
PLoS ONE 2018) as FLOAT (Ki et al., 2024, §5.1) uses it: 512x512, 25 fps, 16 kHz.

Release layout ``ROOT/Actor_NN/MM-VV-EE-II-SS-RR-NN.mp4`` (modality-channel-emotion-intensity-
statement-repetition-actor). Only modality ``01`` (audio-video) is used; ``02`` (video-only)
files have no speech and are skipped (logged). FLOAT trains on 22 actors and tests on "the
remaining 2" without naming them; talkzoo's choice: test = actors 23 and 24 (one male, one
female: odd actor numbers are male in RAVDESS), val = the same two (FLOAT has no validation
set). RAVDESS is 1280x720 at 29.97 fps: ``talkzoo data prepare ravdess`` face-crops it; a
29.97 fps clip is converted to 25 fps on reading.

Licence: CC BY-NC-SA 4.0 (Zenodo record 1188976).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from talkzoo.data.presets.base import register_preset
from talkzoo.data.presets.video.base import ClipRecord, VideoPreset

log = logging.getLogger(__name__)

#: RAVDESS split by actor number (see the module docstring).
RAVDESS_ACTORS = {"train": tuple(range(1, 23)), "val": (23, 24), "test": (23, 24)}
_RAVDESS_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


@register_preset
class Ravdess(VideoPreset):
    """RAVDESS audio-video files; split by actor (23 and 24 held out)."""

    name = "ravdess"
    title = "RAVDESS (Livingstone & Russo, PLoS ONE 2018)"
    source = "FLOAT (Ki et al., 2024) §5.1: 22 training actors, 2 test actors (unnamed)"
    licence = "CC BY-NC-SA 4.0"
    url = "https://zenodo.org/records/1188976"
    image_size = 512
    layout = "ROOT/Actor_NN/01-VV-EE-II-SS-RR-NN.mp4 (the Video_Speech/Video_Song release, face-cropped to 512x512)"
    split_source = "FLOAT §5.1: 22 training actors, 2 test actors (unnamed; talkzoo uses actors 23 and 24, val = test)"
    get_data = (
        "download Video_Speech_Actor_NN.zip / Video_Song_Actor_NN.zip from https://zenodo.org/records/1188976 "
        "(CC BY-NC-SA 4.0), then `talkzoo data prepare ravdess --src DIR --out ROOT`"
    )
    prepare_help = "ravdess: the Zenodo release Actor_NN/01-VV-EE-II-SS-RR-NN.mp4 (1280x720, 29.97 fps)"

    def check_root(self, root: Path) -> None:
        """At least one ``Actor_NN`` folder."""
        if not any(root.glob("Actor_[0-9][0-9]")):
            raise self.missing(root, root / "Actor_01")

    def list_clips(self, root: Path) -> list[ClipRecord]:
        """Audio-video files (modality 01) of every actor; speaker ``Actor_NN``."""
        out, skipped = [], 0
        for p in sorted(root.glob("Actor_*/*.mp4")):
            m = _RAVDESS_NAME.match(p.stem)
            if m is None:
                log.warning("%s: skipped, not a RAVDESS file name (MM-VV-EE-II-SS-RR-AA.mp4)", p)
                continue
            if m.group(1) != "01":
                skipped += 1
                log.info("%s: skipped, modality %s is not audio-video (01)", p, m.group(1))
                continue
            out.append(ClipRecord(p.stem, p, f"Actor_{m.group(7)}", src_fps=self.fps))
        if skipped:
            log.info("RAVDESS: skipped %d video-only (modality 02) files without speech", skipped)
        return out

    def builtin_split(self, split: str, clips: dict[str, ClipRecord], root: Path) -> list[str]:
        """Actors 1-22 train, 23-24 val and test."""
        if split not in RAVDESS_ACTORS:
            return super().builtin_split(split, clips, root)
        actors = {f"Actor_{a:02d}" for a in RAVDESS_ACTORS[split]}
        return [c for c, r in clips.items() if r.speaker in actors]

    def write_fixture(self, root: Path, size: int = 32, frames: int = 30, **options: Any) -> Path:
        """Actors 01, 02 (train) and 23, 24 (test), two audio-video files each at 29.97 fps with 48 kHz
        audio as the release has, plus one video-only ``02-...`` file per actor."""
        from talkzoo.testing.video_fixtures import write_synthetic_clip

        root = Path(root)
        for actor in (1, 2, 23, 24):
            for emotion, statement in ((1, 1), (3, 2)):
                name = f"01-01-{emotion:02d}-01-{statement:02d}-01-{actor:02d}.mp4"
                n = int(round(frames * 30000 / 1001 / 25))
                write_synthetic_clip(root / f"Actor_{actor:02d}" / name, n, size, actor, fps=30000 / 1001, sample_rate=48000)
            write_synthetic_clip(root / f"Actor_{actor:02d}" / f"02-01-01-01-01-01-{actor:02d}.mp4", frames, size, actor, sample_rate=None)
        return root

    def write_raw_fixture(self, src: Path, **options: Any) -> Path:
        """The release layout is what :meth:`write_fixture` writes."""
        return self.write_fixture(src, **options)
