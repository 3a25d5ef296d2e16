"""VOCASET (Cudeiro et al., "Capture, Learning, and Synthesis of 3D Speaking Styles", CVPR 2019).

Split: FaceFormer's (Fan et al., CVPR 2022; README and ``data_loader.py``), itself VOCA's
(``TimoBolkart/voca`` ``config_parser.py``): 8 train / 2 val / 2 test subjects; sentences
1-40 / 21-40 / 21-40. The training-subject order fixes the speaker ids and matches FaceFormer's
released ``vocaset.pth`` one-hot order. 5023 FLAME vertices in metres, captured at 60 fps and
served at 30 fps (every second frame, as FaceFormer's loader does).

Licence: VOCASET's own licence (non-commercial research; registration at voca.is.tue.mpg.de).
Prepare: ``talkzoo data prepare vocaset --src DIR --out ROOT`` converts the release files
(:func:`talkzoo.data.prepare.prepare_vocaset`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, ClassVar

from talkzoo.data.presets.base import register_preset
from talkzoo.data.presets.mesh.base import MeshPreset, SplitTable, sentence_range

VOCASET_TRAIN = (
    "FaceTalk_170728_03272_TA",
    "FaceTalk_170904_00128_TA",
    "FaceTalk_170725_00137_TA",
    "FaceTalk_170915_00223_TA",
    "FaceTalk_170811_03274_TA",
    "FaceTalk_170913_03279_TA",
    "FaceTalk_170904_03276_TA",
    "FaceTalk_170912_03278_TA",
)
VOCASET_VAL = ("FaceTalk_170811_03275_TA", "FaceTalk_170908_03277_TA")
VOCASET_TEST = ("FaceTalk_170809_00138_TA", "FaceTalk_170731_00024_TA")


@register_preset
class Vocaset(MeshPreset):
    """VOCASET with FaceFormer's split (see the module docstring)."""

    name = "vocaset"
    title = "VOCASET (Cudeiro et al., CVPR 2019)"
    source = (
        "FaceFormer (Fan et al., CVPR 2022) README and data_loader.py, following VOCA "
        "(Cudeiro et al., CVPR 2019) config_parser.py"
    )
    licence = "VOCASET licence: non-commercial scientific research only (registration required)"
    url = "https://voca.is.tue.mpg.de"
    get_data = (
        "request VOCASET at https://voca.is.tue.mpg.de (licence-gated; files "
        "data_verts.npy, raw_audio_fixed.pkl, subj_seq_to_idx.pkl, templates.pkl), then run "
        "`talkzoo data prepare vocaset --src DIR --out ROOT`"
    )
    prepare_help = "vocaset: the official release (data_verts.npy, raw_audio_fixed.pkl, subj_seq_to_idx.pkl, templates.pkl)"
    source_fps = 60.0
    fps = 30.0
    num_vertices = 5023
    subjects: ClassVar[SplitTable] = {"train": VOCASET_TRAIN, "val": VOCASET_VAL, "test": VOCASET_TEST}
    sentences: ClassVar[SplitTable] = {
        "train": sentence_range(1, 40), "val": sentence_range(21, 40), "test": sentence_range(21, 40),
    }
    units = "metres"
    region_sources = (
        "VOCASET's regions come from FLAME_masks.pkl (flame.is.tue.mpg.de, 'FLAME Vertex Masks'): "
        "FLAME_masks.pkl#lips for LVE, FLAME_masks.pkl#forehead+eye_region for FDD, #face for OT-Talk's face error"
    )
    fixture_subjects = VOCASET_TRAIN + VOCASET_VAL + VOCASET_TEST
    fixture_sentences = (1, 21)
    fixture_source_fps = 60.0
    fixture_token = "sentence{:02d}"

    def prepare(self, src: Path, out: Path, args: argparse.Namespace) -> str:
        """Convert the release with :func:`talkzoo.data.prepare.prepare_vocaset`."""
        from talkzoo.data.prepare import prepare_vocaset

        prepare_vocaset(src, out, overwrite=bool(getattr(args, "overwrite", False)))
        return f"VOCASET prepared in {out}"

    def write_raw_fixture(self, src: Path, **options: Any) -> Path:
        """Fake release files of all 12 subjects, sentences 1 and 21
        (:func:`talkzoo.testing.fixtures.write_vocaset_release`; ``options`` override)."""
        from talkzoo.testing.fixtures import write_vocaset_release

        return write_vocaset_release(src, **{"subjects": self.fixture_subjects, **options})
