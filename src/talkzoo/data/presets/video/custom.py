"""Your own videos: ``ROOT/videos/<clip_id>.<ext>`` (any container FFmpeg reads, or frame
folders) and ``ROOT/splits/*.txt``; ``image_size`` is required; the speaker is taken from
``meta.json`` when there is one, else the clip id up to its last ``_``.

Licence: that of your data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talkzoo.data.presets.base import register_preset
from talkzoo.data.presets.video.base import VideoPreset


@register_preset
class CustomVideo(VideoPreset):
    """Clips in ``ROOT/videos/``, split lists in ``ROOT/splits/``."""

    name = "custom"
    title = "your own face-cropped videos"
    source = "ROOT/splits/*.txt"
    licence = "yours"
    layout = "ROOT/videos/<clip_id>.<mp4|mpg|avi|mov|mkv> or frame folders, ROOT/splits/{train,val,test}.txt"
    split_source = "ROOT/splits/*.txt"
    get_data = "put your clips (face-cropped, square, constant frame rate) in ROOT/videos/ and list them in ROOT/splits/"
    prepared_layout = True
    generic = True

    def check_prepared(self, root: Path) -> None:
        """Only ``ROOT/videos/`` is required (meta.json is optional)."""
        if not (root / "videos").is_dir():
            raise self.missing(root, root / "videos")

    def speaker_fallback(self, clip_id: str) -> str:
        """The clip id up to its last ``_`` (``alice_0`` → ``alice``)."""
        return clip_id.rsplit("_", 1)[0]

    def write_fixture(self, root: Path, size: int = 32, frames: int = 30, **options: Any) -> Path:
        """``videos/{alice,bob}_{0,1}.mp4`` and ``splits/*.txt`` (alice trains, bob validates/tests)."""
        from talkzoo.testing.video_fixtures import write_synthetic_clip, write_text

        root = Path(root)
        ids = [f"{s}_{i}" for s in ("alice", "bob") for i in range(2)]
        for i, c in enumerate(ids):
            write_synthetic_clip(root / "videos" / f"{c}.mp4", frames, size, i)
        write_text(root / "splits" / "train.txt", "\n".join(ids[:2]) + "\n")
        write_text(root / "splits" / "val.txt", ids[2] + "\n")
        write_text(root / "splits" / "test.txt", ids[3] + "\n")
        return root
