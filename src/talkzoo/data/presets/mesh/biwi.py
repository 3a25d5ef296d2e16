"""BIWI 3D Audiovisual Corpus of Affective Communication (B3D(AC)^2; Fanelli et al., IEEE TMM 2010).

Protocol: FaceFormer/CodeTalker's. Train subjects F2 F3 F4 M3 M4 M5 (in this order), sentences
1-32; val = the same six, sentences 33-36 (FaceFormer README: ``--val_subjects "F2 F3 F4 M3 M4
M5"``); test ``test_set="A"`` = the same six, sentences 37-40 (24 sequences; the set LVE is
reported on, CodeTalker #25), ``test_set="B"`` = unseen F1 F5 F6 F7 F8 M1 M2 M6, sentences
37-40 (FaceFormer/CodeTalker ``test_subjects``). Emotional recordings only (``<subject>_eNN``;
a neutral recording in the folder is refused, DualTalker §IV-A "using only the emotional
subset"). 23370 vertices, 25 fps, in BIWI's own
(CodeTalker-preprocessed) coordinates, not rescaled.

Licence: ETH's research licence (request form). No ``talkzoo data prepare`` step: the raw corpus
(binary ``.vl`` scans) is converted with CodeTalker's published scripts (``BIWI/README.md``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from talkzoo.data.presets.base import register_preset
from talkzoo.data.presets.mesh.base import MeshPreset, SplitTable, sentence_range
from talkzoo.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from talkzoo.data.mesh import MeshSequenceDataModule

BIWI_TRAIN = ("F2", "F3", "F4", "M3", "M4", "M5")
BIWI_TEST_B = ("F1", "F5", "F6", "F7", "F8", "M1", "M2", "M6")


@register_preset
class Biwi(MeshPreset):
    """BIWI with FaceFormer/CodeTalker's protocol; ``test_set`` A (seen) or B (unseen subjects)."""

    name = "biwi"
    title = "BIWI 3D Audiovisual Corpus (Fanelli et al., IEEE TMM 2010)"
    source = (
        "FaceFormer README/data_loader.py and CodeTalker config/BIWI/stage2.yaml "
        "(Test-A: seen subjects; Test-B: F1 F5 F6 F7 F8 M1 M2 M6)"
    )
    licence = "ETH Zurich research licence (request form)"
    url = "https://data.vision.ee.ethz.ch/cvl/datasets/b3dac2.en.html"
    get_data = (
        "request the ETH BIWI 3D Audiovisual Corpus (B3D(AC)^2) at "
        "https://data.vision.ee.ethz.ch/cvl/datasets/b3dac2.en.html (research licence) and "
        "convert it as FaceFormer/CodeTalker do (CodeTalker BIWI/README.md: vertices_npy/F2_e01.npy "
        "of shape (T, 70110), wav/F2_e01.wav, templates.pkl)"
    )
    source_fps = 25.0
    fps = 25.0
    num_vertices = 23370
    subjects: ClassVar[SplitTable] = {"train": BIWI_TRAIN, "val": BIWI_TRAIN, "test": BIWI_TRAIN}
    sentences: ClassVar[SplitTable] = {
        "train": sentence_range(1, 32), "val": sentence_range(33, 36), "test": sentence_range(37, 40),
    }
    units = "BIWI coordinates (as CodeTalker's preprocessing writes them)"
    test_sets = ("A", "B")
    region_sources = (
        "BIWI's lip (LVE) and upper-face (FDD) sets are CodeTalker's BIWI/regions/lve.txt and fdd.txt "
        "(github.com/Doubiiu/CodeTalker; identical copies in SelfTalk, FaceDiffuser, DiffSpeaker)"
    )
    fixture_subjects = tuple(f"F{i}" for i in range(1, 9)) + tuple(f"M{i}" for i in range(1, 7))
    fixture_sentences = (1, 33, 37)
    fixture_source_fps = 25.0
    fixture_token = "e{:02d}"

    def check_sequence(self, path: Path, token: str) -> None:
        """Only the emotional recordings (``e01``-``e40``): DualTalker §IV-A, FaceFormer and
        CodeTalker use "only the emotional subset"; a neutral recording in the folder is refused.

        Raises:
            DataError: a sequence token other than ``eNN``.
        """
        if not re.fullmatch(r"e\d{2}", token):
            raise DataError(
                f"{path}: sequence '{token}' is not from BIWI's emotional subset (tokens e01-e40, e.g. F2_e01); "
                f"the protocol uses only the emotional recordings: move the neutral ones out of {path.parent}"
            )

    def resolve(self, dm: MeshSequenceDataModule) -> tuple[SplitTable, SplitTable, float | None, float | None]:
        """Test-B swaps the test subjects for the eight unseen ones."""
        subjects, sentences, source_fps, fps = super().resolve(dm)
        if dm.test_set == "B":
            subjects["test"] = BIWI_TEST_B
        return subjects, sentences, source_fps, fps
