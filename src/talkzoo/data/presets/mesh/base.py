"""Base class of the 3D presets read by :class:`talkzoo.data.mesh.MeshSequenceDataModule`.

A mesh preset is mostly data: the frame rates, the nominal vertex count, the subjects and
sentence numbers of each split and where they come from. Hooks let a preset refine that
(:meth:`MeshPreset.resolve`: BIWI's Test-B, the demo corpus' ``split.json``), demand constructor
arguments (:meth:`MeshPreset.check_args`: Multiface's subject lists) or supply default region
files (:meth:`MeshPreset.region_defaults`). :meth:`MeshPreset.write_fixture` writes a tiny
synthetic copy of the dataset with the real names (through
:func:`talkzoo.testing.fixtures.write_mesh_layout`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from talkzoo.data.presets.base import SPLITS, DatasetPreset
from talkzoo.errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover
    from talkzoo.data.mesh import MeshSequenceDataModule

__all__ = ["MeshPreset", "SplitTable", "sentence_range"]


#: ``{split: subjects}`` / ``{split: sentence numbers}`` (``None``: user-supplied / every one found).
SplitTable = dict[str, Any]


def sentence_range(a: int, b: int) -> tuple[int, ...]:
    """The sentence numbers ``a..b`` inclusive."""
    return tuple(range(a, b + 1))


class MeshPreset(DatasetPreset):
    """One 3D dataset's protocol in the shared layout (``wav/``, ``vertices_npy/``, ``templates.pkl``).

    Attributes:
        source_fps: frame rate of the vertex files, frames/s (``None``: from elsewhere).
        fps: frame rate served in batches, frames/s (``None``: ``source_fps``).
        num_vertices: the topology's nominal vertex count (informative; ``V`` is read from
            ``templates.pkl``).
        subjects: per split (``train``/``val``/``test``), the subject names, or ``None`` where
            the user must supply them.
        sentences: per split, the sentence numbers (``None`` = every sentence found).
        units: unit of the vertex coordinates (documentation).
        metres_per_unit: metres per coordinate unit of the files; the datamodule multiplies
            templates and vertices by it (its ``vertex_scale`` argument overrides it), so
            batches, losses and the mesh metrics are always in metres (1.0: already metres).
        test_sets: accepted values of the datamodule's ``test_set`` argument.
        fixture_subjects, fixture_sentences, fixture_source_fps, fixture_token: what
            :meth:`write_fixture` writes (subject names, sentence numbers covering every split,
            frame rate, sequence token format such as ``"sentence{:02d}"``).
    """

    kind: ClassVar[str] = "mesh"
    layout: ClassVar[str] = (
        "ROOT/wav/<subject>_<seq>.wav, ROOT/vertices_npy/<subject>_<seq>.npy (frames, 3V), ROOT/templates.pkl"
    )
    source_fps: ClassVar[float | None] = None
    fps: ClassVar[float | None] = None
    num_vertices: ClassVar[int | None] = None
    subjects: ClassVar[SplitTable] = {"train": None, "val": None, "test": None}
    sentences: ClassVar[SplitTable] = {"train": None, "val": None, "test": None}
    units: ClassVar[str] = "metres"
    metres_per_unit: ClassVar[float] = 1.0
    #: where the community region files come from (appended to a missing-region-file error)
    region_sources: ClassVar[str] = ""
    test_sets: ClassVar[tuple[str, ...]] = ("A",)
    fixture_subjects: ClassVar[tuple[str, ...]] = ()
    fixture_sentences: ClassVar[tuple[int, ...]] = (1, 2, 3)
    fixture_source_fps: ClassVar[float] = 30.0
    fixture_token: ClassVar[str] = "sentence{:02d}"

    # ------------------------------------------------------------------ datamodule hooks
    #: why ``train_subjects``/``val_subjects``/``test_subjects`` must be given (``None``: built in).
    subjects_required: ClassVar[str | None] = None

    def check_args(self, dm: MeshSequenceDataModule) -> None:
        """Refuse constructor arguments this preset cannot serve (at construction).

        Raises:
            ConfigError: a ``test_set`` the preset does not define, or a missing subject list where
                :attr:`subjects_required` says why it is needed.
        """
        missing = [f"{s}_subjects" for s in SPLITS if dm.overrides_subjects[s] is None]
        if self.subjects_required and missing:
            raise ConfigError(
                f"preset '{self.name}' needs {', '.join(missing)}: {self.subjects_required}; pass the subject names "
                "(file-name prefixes in root/vertices_npy) for train, val and test"
            )
        if dm.test_set not in self.test_sets:
            raise ConfigError(
                f"test_set='{dm.test_set}' does not apply to preset '{self.name}' (it has {list(self.test_sets)}; "
                "only 'biwi' has Test-B)"
            )

    def resolve(self, dm: MeshSequenceDataModule) -> tuple[SplitTable, SplitTable, float | None, float | None]:
        """The split before the constructor's overrides: ``(subjects, sentences, source_fps, fps)``."""
        return dict(self.subjects), dict(self.sentences), self.source_fps, self.fps

    def check_sequence(self, path: Path, token: str) -> None:
        """Refuse a sequence file the preset's protocol excludes (default: accept every one).

        Args:
            path: the vertex or wav file.
            token: its sequence token (``parse_sequence_name``), e.g. ``"e01"``.

        Raises:
            DataError: one line naming the file and what the protocol expects.
        """

    def check_units(self, templates: dict[str, Any], path: Path, explicit_scale: bool) -> None:
        """Refuse templates whose coordinates are not in :attr:`units` (default: accept).

        Args:
            templates: ``{subject: (V, 3) array}`` as stored (before ``metres_per_unit``).
            path: ``templates.pkl`` (for the message).
            explicit_scale: the user gave ``vertex_scale``, so the stored units are theirs.

        Raises:
            DataError: one line naming the file, the units found and the units expected.
        """

    def region_defaults(self, root: Path) -> dict[str, Path]:
        """Region files used when the constructor names none (``{argument: path}``; optional ones
        are used only if the file exists)."""
        return {}

    def split_file(self, root: Path) -> Path | None:
        """The file the split is read from, when it is not built in (for messages)."""
        return None

    def dataset_name(self, root: Path) -> str:
        """``spec.dataset``: the preset's name."""
        return self.name

    # ------------------------------------------------------------------ fixtures
    def write_fixture(self, root: Path, **options: Any) -> Path:
        """Tiny synthetic dataset with this preset's names (see
        :func:`talkzoo.testing.fixtures.write_mesh_layout` for ``options``)."""
        from talkzoo.testing.fixtures import write_mesh_layout

        return write_mesh_layout(root, preset=self.name, **options)

    def finish_fixture(self, root: Path, subjects: tuple[str, ...], sentences: tuple[int, ...]) -> None:
        """Write preset-specific fixture files after the sequences (e.g. the demo ``split.json``)."""


def read_dataset_json(root: Path) -> dict[str, Any]:
    """``ROOT/dataset.json`` written by ``talkzoo data prepare`` (``{"dataset": name, ...}``), or ``{}``.

    Raises:
        DataError: the file exists but is not a JSON object.
    """
    path = Path(root) / "dataset.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DataError(f'{path}: expected a JSON object {{"dataset": name}}')
    return data
