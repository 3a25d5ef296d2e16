"""Multiface (Wuu et al., "Multiface: A Dataset for Neural Face Rendering", arXiv:2207.11243).

Protocol: FaceDiffuser (Stan et al., MIG 2023; ``uuembodiedsocialai/FaceDiffuser``
``data_loader.py``) and the "Wild West" benchmark (``galib360/face-benchmark-project``) split the
50 Multiface sentences 1-40 / 41-45 / 46-50, at 30 fps, on FaceDiffuser's re-topologised mesh
(``vertice_dim`` 18516 = 6172 vertices). This preset's default sentence split is FaceDiffuser's;
OT-Talk's 30 / 10 / 10 sentences (partition unpublished) are given by its recipe through
``train_sentences``/``val_sentences``/``test_sentences`` (``recipes/ottalk_multiface.yaml``).

Units: the files must be in **millimetres** (Multiface's tracked meshes; OT-Talk reports mm). The
datamodule multiplies them by ``metres_per_unit = 1e-3`` so batches, losses and metrics are in
metres like every other preset. FaceDiffuser's preprocessing min-max normalises the coordinates
to [-1, 1], which destroys the unit: such templates (bounding-box diagonal under 20 units) are
refused with one line; pass ``vertex_scale`` (metres per stored unit) to load data in other
units on purpose. Subject ids
are *not* published in a reproducible form (those preprocessors number the subjects by
directory-listing order; the benchmark trains on ``2 3 6 7 9 10 11 12 13`` and tests on those
plus ``1 4 5 8``), so this preset requires ``train_subjects``, ``val_subjects`` and
``test_subjects``.

Licence: CC BY-NC 4.0. No ``talkzoo data prepare`` step: the topology conversion is
FaceDiffuser's ``data/multiface/{convert_topology,preprocess}.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from talkzoo.data.presets.base import register_preset
from talkzoo.data.presets.mesh.base import MeshPreset, SplitTable, sentence_range
from talkzoo.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from talkzoo.data.mesh import MeshSequenceDataModule


@register_preset
class Multiface(MeshPreset):
    """Multiface with FaceDiffuser's sentence split; subject lists are required."""

    name = "multiface"
    title = "Multiface (Wuu et al., arXiv:2207.11243), FaceDiffuser's re-topologised mesh"
    source = (
        "FaceDiffuser (Stan et al., MIG 2023) data_loader.py; 'Wild West' benchmark "
        "(galib360/face-benchmark-project) Multiface configs"
    )
    licence = "CC BY-NC 4.0"
    url = "https://github.com/facebookresearch/multiface"
    get_data = (
        "download Multiface (https://github.com/facebookresearch/multiface; mesh and "
        "audio only) and convert it as FaceDiffuser's data/multiface/{convert_topology,preprocess}.py "
        "do (vertices_npy/<subject>_<NN>.npy, wav/<subject>_<NN>.wav, templates.pkl)"
    )
    source_fps = 30.0
    fps = 30.0
    num_vertices = 6172
    sentences: ClassVar[SplitTable] = {
        "train": sentence_range(1, 40), "val": sentence_range(41, 45), "test": sentence_range(46, 50),
    }
    units = "millimetres (Multiface's tracked meshes, not FaceDiffuser's [-1, 1] normalisation)"
    metres_per_unit = 1e-3
    region_sources = "OT-Talk drew its Multiface lip and face masks by hand in MeshLab (not released): supply your own"
    #: smallest bounding-box diagonal (stored units) accepted for a template: a head is ~250 mm
    min_template_diagonal = 20.0
    subjects_required = (
        "Multiface subject ids are not published in a reproducible form (FaceDiffuser and the 'Wild West' "
        "benchmark number subjects by directory order; the benchmark trains on 2 3 6 7 9 10 11 12 13 and tests on "
        "those plus 1 4 5 8)"
    )
    fixture_subjects = tuple(str(i) for i in range(1, 14))
    fixture_sentences = (1, 41, 46)
    fixture_source_fps = 30.0
    fixture_token = "{:02d}"

    def check_units(self, templates: dict[str, Any], path: Path, explicit_scale: bool) -> None:
        """Refuse templates that are not in millimetres (FaceDiffuser's [-1, 1] or metres).

        Raises:
            DataError: a template whose bounding-box diagonal is under
                :attr:`min_template_diagonal` and no explicit ``vertex_scale``.
        """
        if explicit_scale:
            return
        for subject, template in templates.items():
            points = np.asarray(template, dtype=np.float64).reshape(-1, 3)
            diagonal = float(np.linalg.norm(points.max(axis=0) - points.min(axis=0)))
            if diagonal < self.min_template_diagonal:
                raise DataError(
                    f"{path}: template of '{subject}' spans {diagonal:.3g} units (bounding-box diagonal); preset "
                    "'multiface' expects millimetres (a head spans ~250 mm), e.g. not FaceDiffuser's [-1, 1] "
                    "normalised copy: convert the tracked meshes without normalising, or set vertex_scale to the "
                    "metres per stored unit (1.0 for metres)"
                )

    def fixture_datamodule_args(self) -> dict[str, Any]:
        """The benchmark's training subjects for train/val; unseen ``1`` and seen ``2`` for test."""
        train = ["2", "3", "6", "7", "9", "10", "11", "12", "13"]
        return {"train_subjects": train, "val_subjects": train, "test_subjects": ["1", "2"]}
