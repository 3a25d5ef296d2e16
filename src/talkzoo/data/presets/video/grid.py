"""GRID (Cooke et al., "An audio-visual corpus for speech perception and automatic speech
recognition", JASA 2006), on which AMIE (IJCAI 2020, Table 2) evaluates cross-dataset after
training on LRW: 256x256 face crops, 25 fps.

Release layout ``ROOT/s<N>/<utterance>.mpg`` (``.mp4`` accepted; a sidecar ``<utterance>.wav`` is
used when the video has no audio track; ``ROOT/align/`` is ignored). Clip ids are
``s<N>_<utterance>``. The test split is every speaker found (AMIE's cross-dataset protocol);
train/val need ``ROOT/splits/*.txt`` (AMIE publishes none). The release is 720x576:
``talkzoo data prepare grid`` face-crops it.

Licence: CC BY 4.0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talkzoo.data.presets.base import register_preset
from talkzoo.data.presets.video.base import VIDEO_SUFFIXES, ClipRecord, VideoPreset


@register_preset
class Grid(VideoPreset):
    """GRID speakers ``s<N>``; test = every clip (cross-dataset), train/val from split lists."""

    name = "grid"
    title = "GRID audio-visual corpus (Cooke et al., JASA 2006)"
    source = "AMIE (IJCAI 2020) Table 2: cross-dataset test on GRID"
    licence = "CC BY 4.0"
    url = "https://spandh.dcs.shef.ac.uk/gridcorpus/"
    image_size = 256
    layout = "ROOT/s<N>/<utterance>.mpg (or .mp4; sidecar <utterance>.wav allowed), face-cropped to 256x256"
    split_source = "AMIE Table 2: cross-dataset test on GRID (every speaker); train/val need ROOT/splits/*.txt"
    get_data = (
        "download the GRID corpus from https://spandh.dcs.shef.ac.uk/gridcorpus/ (CC BY 4.0; s<N>.mpg_vcd.zip), "
        "then `talkzoo data prepare grid --src DIR --out ROOT` (face crop to 256x256)"
    )
    prepare_help = "grid: the release s<N>/<utterance>.mpg (720x576)"

    def check_root(self, root: Path) -> None:
        """At least one ``s<N>`` folder."""
        if not any(p.is_dir() for p in root.glob("s[0-9]*")):
            raise self.missing(root, root / "s1")

    def list_clips(self, root: Path) -> list[ClipRecord]:
        """Videos under each ``s<N>/``; id ``s<N>_<utt>``; sidecar ``<utt>.wav`` when present."""
        out = []
        for spk in sorted(d for d in root.glob("s[0-9]*") if d.is_dir()):
            for p in sorted(spk.iterdir()):
                if p.suffix.lower() in VIDEO_SUFFIXES:
                    wav = p.with_suffix(".wav")
                    out.append(ClipRecord(f"{spk.name}_{p.stem}", p, spk.name,
                                          audio_path=wav if wav.is_file() else None, src_fps=self.fps))
        return out

    def builtin_split(self, split: str, clips: dict[str, ClipRecord], root: Path) -> list[str]:
        """Test: every clip. Train/val: none built in."""
        if split == "test":
            return list(clips)
        raise self.no_split(split, root, "AMIE evaluates GRID cross-dataset only and publishes no training split")

    def write_fixture(self, root: Path, size: int = 32, frames: int = 30, **options: Any) -> Path:
        """``s1/``, ``s2/`` with two ``.mpg`` (MPEG-1 + MP2, GRID's format) each and
        ``align/<utt>.align`` word timings."""
        from talkzoo.testing.video_fixtures import write_mpeg_ps, write_text

        root = Path(root)
        words = {"bbaf2n": "bin blue at f two now", "lgaz8p": "lay green at z eight please"}
        for s, spk in enumerate(("s1", "s2")):
            for utt, text in words.items():
                write_mpeg_ps(root / spk / f"{utt}.mpg", frames, size, s)
                step = 1000 * frames // (len(text.split()) + 2)  # .align times are in 1/25000 s
                lines, t = [f"0 {step} sil"], step
                for word in text.split():
                    lines.append(f"{t} {t + step} {word}")
                    t += step
                lines.append(f"{t} {t + step} sil")
                write_text(root / "align" / f"{utt}.align", "\n".join(lines) + "\n")
        return root

    def write_raw_fixture(self, src: Path, **options: Any) -> Path:
        """The release layout is what :meth:`write_fixture` writes."""
        return self.write_fixture(src, **options)
