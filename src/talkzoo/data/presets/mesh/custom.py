"""Your own 3D data in the FaceFormer layout: give the three subject lists (sentences default to
all) and ``fps`` (``source_fps`` defaults to ``fps``). ``spec.dataset`` is ``custom``, or the
``"dataset"`` of ``ROOT/dataset.json`` when a preparation step wrote one.

Licence: that of your data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from talkzoo.data.presets.base import register_preset
from talkzoo.data.presets.mesh.base import MeshPreset, read_dataset_json
from talkzoo.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from talkzoo.data.mesh import MeshSequenceDataModule


@register_preset
class CustomMesh(MeshPreset):
    """User-supplied subject and sentence lists over the shared layout."""

    name = "custom"
    title = "your own data in the FaceFormer/CodeTalker layout"
    source = "user-supplied subject and sentence lists"
    licence = "yours"
    get_data = (
        "put your data in the FaceFormer layout (wav/<subject>_<seq>.wav, "
        "vertices_npy/<subject>_<seq>.npy of shape (frames, 3V), templates.pkl)"
    )
    units = "as stored"
    subjects_required = "the custom preset has no built-in split"
    fixture_subjects = ("alice", "bob", "carol")
    fixture_sentences = (1, 2)
    fixture_source_fps = 30.0
    fixture_token = "take{:02d}"

    def check_args(self, dm: MeshSequenceDataModule) -> None:
        """Refuse missing subject lists (:attr:`subjects_required`) or a missing frame rate."""
        super().check_args(dm)
        if dm.fps_arg is None and dm.source_fps_arg is None:
            raise ConfigError("preset 'custom' needs fps (and source_fps if the files are stored at another rate)")

    def dataset_name(self, root: Path) -> str:
        """``ROOT/dataset.json``'s ``"dataset"`` when present, else ``custom``."""
        return str(read_dataset_json(root).get("dataset") or self.name)

    def fixture_datamodule_args(self) -> dict[str, Any]:
        """alice trains, bob validates, carol tests; 30 fps."""
        return {"train_subjects": ["alice"], "val_subjects": ["bob"], "test_subjects": ["carol"], "fps": 30.0}
