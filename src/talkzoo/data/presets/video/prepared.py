"""The talkzoo prepared layout (``talkzoo-video/1``), what ``talkzoo data prepare`` writes::

    ROOT/meta.json                 {"format": "talkzoo-video/1", "dataset": "<name>", "fps": 25,
                                    "sample_rate": 16000, "size": 256, "speakers": [...],
                                    "clips": {id: {"speaker": .., "frames": T, "source": ..}}}
    ROOT/videos/<clip_id>.mp4      H.264, constant 25 fps, size x size, AAC mono 16 kHz
    ROOT/landmarks/<clip_id>.npy   (T, 68, 2) float32 pixels, iBUG-68 order (optional)
    ROOT/splits/<split>.txt        one clip id per line, '#' comments; train/val/test and any
                                   extra split (e.g. a held-out-identity test), chosen with the
                                   datamodule's test_split / predict_split
    ROOT/pairs/<split>_pairs.csv   "source,driving" clip ids (reenactment evaluation of <split>);
                                   other pair lists are chosen with pairs_file (relative to ROOT)

``spec.dataset`` is the ``"dataset"`` recorded in meta.json (``hdtf`` for data prepared from
HDTF), else ``prepared``. ``talkzoo data prepare video --src DIR --out ROOT`` prepares any folder
of raw talking-head videos (clip id = relative path, speaker = first folder or the stem without
a trailing number; hash split by ``--protocol``).

Licence: that of the dataset the clips were prepared from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from talkzoo.data.presets.base import register_preset
from talkzoo.data.presets.video.base import PREPARED_LAYOUT, ClipRecord, VideoPreset


@register_preset
class Prepared(VideoPreset):
    """Any root in the prepared layout; also ``talkzoo data prepare video`` for raw video folders."""

    name = "prepared"
    aliases = ("video",)
    title = "a dataset prepared by `talkzoo data prepare`"
    source = "ROOT/splits/*.txt written by `talkzoo data prepare`"
    licence = "that of the source dataset"
    layout = PREPARED_LAYOUT
    split_source = "ROOT/splits/*.txt"
    get_data = "prepare a dataset with `talkzoo data prepare <dataset> --src DIR --out ROOT`"
    prepare_help = "video (or prepared): any folder of raw talking-head videos (hash split, see --protocol)"
    prepared_layout = True
    generic = True

    def raw_clips(self, src: Path) -> list[ClipRecord] | None:  # type: ignore[override]
        """None: :func:`~talkzoo.data.prepare_video.prepare_videos` finds every video under ``src``."""
        return None

    def prepare_split(self, clips: Any, src: Path) -> dict[str, list[str]] | None:
        """None: the hash protocol (``--protocol``) decides."""
        return None

    def write_fixture(self, root: Path, size: int = 32, frames: int = 30, **options: Any) -> Path:
        """:func:`talkzoo.testing.video_fixtures.write_prepared_video_layout`."""
        from talkzoo.testing.video_fixtures import write_prepared_video_layout

        return write_prepared_video_layout(root, frames=frames, size=size, **options)

    def write_raw_fixture(self, src: Path, size: int = 32, frames: int = 30, **options: Any) -> Path:
        """Two speakers' raw clips in nested folders: ``alice/take_000.mp4``, ``bob/take_000.mp4``."""
        from talkzoo.testing.video_fixtures import write_synthetic_clip

        src = Path(src)
        for i, spk in enumerate(("alice", "bob")):
            write_synthetic_clip(src / spk / "take_000.mp4", frames, size, i)
        return src
