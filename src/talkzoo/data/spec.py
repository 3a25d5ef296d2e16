"""Plain-value data specs that the ``talkzoo`` command links from a datamodule into a model.

A spec says what a model needs to know about the data it is built for (frame rate, audio sample
rate, vertex count or image size, training speakers) so that a recipe never repeats ``5023`` or
``30`` fps by hand. Specs hold only plain Python values: they are cheap to build, compare, print
and save in a checkpoint's hyper-parameters, and they import no torch.

Every family has its own spec class; a model checks the class it is given, so a mesh model paired
with video data fails at construction with a message that names both families
(:class:`talkzoo.errors.FamilyMismatchError`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Task-family identifiers used in specs, plugin metadata and error messages.
FAMILY_MESH = "audio-to-mesh"
FAMILY_VIDEO = "audio-to-video"
FAMILY_REENACT = "video-to-video"
FAMILIES = (FAMILY_MESH, FAMILY_VIDEO, FAMILY_REENACT)


@dataclass(frozen=True)
class DataSpec:
    """Base of all data specs.

    Attributes:
        dataset: dataset name, e.g. ``"vocaset"``, ``"biwi"``, ``"demo"`` (free text, used in logs).
        sample_rate: audio sample rate in Hz of the waveforms in a batch (``0`` when the family
            carries no audio, as in video-driven reenactment).
        fps: frame rate of the target sequence in frames per second.
        speakers: the *training* speaker (subject) names in the order of their integer ids; a
            model with a style/speaker embedding sizes it from ``len(speakers)``.
    """

    dataset: str = "unnamed"
    sample_rate: int = 16000
    fps: float = 30.0
    speakers: tuple[str, ...] = ()

    family: str = field(default="", init=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as a plain ``dict`` (for logging and checkpoint hyper-parameters)."""
        return asdict(self)

    @property
    def num_speakers(self) -> int:
        """Number of training speakers (``len(speakers)``)."""
        return len(self.speakers)


@dataclass(frozen=True)
class MeshDataSpec(DataSpec):
    """Spec of an audio → 3D mesh dataset (VOCASET, BIWI, Multiface, the demo corpus).

    Attributes:
        num_vertices: vertex count ``V`` of the mesh topology (5023 VOCASET/FLAME, 23370 BIWI).
        lip_region: path of the lip vertex-index file used by LVE-type metrics, or ``None``.
        upper_face_region: path of the upper-face vertex-index file used by FDD, or ``None``.
        face_region: path of the face-region vertex-index file (OT-Talk's face error), or ``None``.
        faces_file: path of a ``.npy`` ``(F, 3)`` int triangle array of the topology, or ``None``
            (needed by rendering and by losses on surfaces).
        templates_file: path of the dataset's ``templates.pkl``, or ``None`` (lets
            ``talkzoo animate --subject S`` find a subject's template from a checkpoint alone).
        templates_scale: metres per stored unit of ``templates_file`` (the datamodule's
            ``vertex_scale``; 1e-3 for Multiface's millimetres), so a template read from it is
            brought to the metres the model was trained in.
    """

    num_vertices: int = 0
    lip_region: str | None = None
    upper_face_region: str | None = None
    face_region: str | None = None
    faces_file: str | None = None
    templates_file: str | None = None
    templates_scale: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "family", FAMILY_MESH)


@dataclass(frozen=True)
class VideoDataSpec(DataSpec):
    """Spec of an audio → video dataset (HDTF, RAVDESS, LRW, GRID, the 2D demo corpus).

    Attributes:
        image_size: frame height and width in pixels (frames are square), e.g. 256 or 512.
    """

    fps: float = 25.0
    image_size: int = 256

    def __post_init__(self) -> None:
        object.__setattr__(self, "family", FAMILY_VIDEO)


@dataclass(frozen=True)
class ReenactmentDataSpec(DataSpec):
    """Spec of a video-driven reenactment dataset (VoxCeleb1, CelebV, the 2D demo corpus).

    Attributes:
        image_size: frame height and width in pixels (frames are square).
    """

    sample_rate: int = 0
    fps: float = 25.0
    image_size: int = 256

    def __post_init__(self) -> None:
        object.__setattr__(self, "family", FAMILY_REENACT)
