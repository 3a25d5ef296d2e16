"""Typed batches, one per task family.

A batch is a dataclass of tensors with documented shapes, dtypes and units. Variable-length
sequences are right-padded with zeros and carry a boolean mask (``True`` = real data). Lightning
moves dataclass batches between devices on its own (``apply_to_collection`` walks dataclasses);
``.to()`` is provided for use outside a Trainer.

Shape letters: ``B`` batch, ``S`` audio samples, ``T`` frames, ``V`` vertices, ``H``/``W`` image
height/width in pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

from talkzoo.errors import DataError


class _BatchMixin:
    """Shared helpers: device moves and the batch size."""

    def to(self, device: torch.device | str) -> "_BatchMixin":
        """Return a copy with every tensor field moved to ``device`` (lists are kept as they are)."""
        updates = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Tensor):
                updates[f.name] = value.to(device)
        return replace(self, **updates)  # type: ignore[type-var]

    def __len__(self) -> int:
        return len(self.names)  # type: ignore[attr-defined]


@dataclass
class MeshBatch(_BatchMixin):
    """A batch of speech → 3D mesh sequences (VOCASET/BIWI layout).

    Attributes:
        audio: ``(B, S)`` float32 mono waveforms in [-1, 1] at ``spec.sample_rate`` Hz, zero-padded.
        audio_mask: ``(B, S)`` bool, ``True`` on real samples.
        vertices: ``(B, T, V, 3)`` float32 ground-truth vertex positions in metres (absolute, not
            displacements), zero-padded past each sequence's end.
        frame_mask: ``(B, T)`` bool, ``True`` on real frames. ``frame_mask[b].sum()`` is the length
            of sequence ``b`` at ``spec.fps``.
        template: ``(B, V, 3)`` float32 neutral template of each sequence's subject, metres.
        speaker: ``(B,)`` int64 index into ``spec.speakers``; ``-1`` for a subject that is not a
            training speaker (validation/test subjects of VOCASET and BIWI).
        names: ``B`` sequence names such as ``"FaceTalk_170725_00137_TA_sentence01"``.
        subjects: ``B`` subject names.
    """

    audio: Tensor
    audio_mask: Tensor
    vertices: Tensor
    frame_mask: Tensor
    template: Tensor
    speaker: Tensor
    names: list[str]
    subjects: list[str]

    @property
    def lengths(self) -> Tensor:
        """``(B,)`` int64 number of real frames per sequence."""
        return self.frame_mask.sum(dim=1)

    @property
    def displacements(self) -> Tensor:
        """``(B, T, V, 3)`` float32 ground-truth offsets from the template in metres (0 on padding)."""
        return (self.vertices - self.template[:, None]) * self.frame_mask[:, :, None, None]


@dataclass
class VideoBatch(_BatchMixin):
    """A batch of audio → talking-portrait video clips (HDTF, RAVDESS, LRW, GRID layout).

    Attributes:
        audio: ``(B, S)`` float32 mono waveforms in [-1, 1] at ``spec.sample_rate`` Hz aligned to
            the first frame of the clip, zero-padded.
        audio_mask: ``(B, S)`` bool, ``True`` on real samples.
        frames: ``(B, T, 3, H, W)`` float32 RGB in [0, 1] at ``spec.fps``, zero-padded.
        frame_mask: ``(B, T)`` bool, ``True`` on real frames.
        source: ``(B, 3, H, W)`` float32 RGB in [0, 1], the reference/source portrait (a frame of
            the same video, outside the clip where the layout allows).
        speaker: ``(B,)`` int64 index into ``spec.speakers`` or ``-1``.
        names: ``B`` clip names.
        subjects: ``B`` subject/identity names.
        landmarks: optional ``(B, T, 68, 2)`` float32 iBUG-68 landmarks of ``frames`` in pixels
            of the ``H x W`` frame (x right, y down; mouth = points 48..67), zero on padding;
            ``None`` when the data has none.
        source_landmarks: optional ``(B, 68, 2)`` float32 landmarks of ``source`` in pixels, or ``None``.
    """

    audio: Tensor
    audio_mask: Tensor
    frames: Tensor
    frame_mask: Tensor
    source: Tensor
    speaker: Tensor
    names: list[str]
    subjects: list[str]
    landmarks: Tensor | None = None
    source_landmarks: Tensor | None = None


@dataclass
class ReenactmentBatch(_BatchMixin):
    """A batch of video-driven reenactment samples (VoxCeleb1, CelebV layout).

    Attributes:
        source: ``(B, 3, H, W)`` float32 RGB in [0, 1], the identity to animate.
        driving: ``(B, T, 3, H, W)`` float32 RGB in [0, 1], the driving frames, zero-padded.
        frame_mask: ``(B, T)`` bool, ``True`` on real driving frames.
        names: ``B`` sample names.
        subjects: ``B`` identity names of the source.
        driving_landmarks: optional ``(B, T, 68, 2)`` float32 iBUG-68 landmarks of ``driving`` in
            pixels (x right, y down), zero on padding; ``None`` when the data has none.
        source_landmarks: optional ``(B, 68, 2)`` float32 landmarks of ``source`` in pixels, or ``None``.
    """

    source: Tensor
    driving: Tensor
    frame_mask: Tensor
    names: list[str]
    subjects: list[str]
    driving_landmarks: Tensor | None = None
    source_landmarks: Tensor | None = None


def lengths_to_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """Turn sequence lengths into a right-padding mask.

    Args:
        lengths: ``(B,)`` int tensor of lengths (>= 0).
        max_len: width of the mask; defaults to ``lengths.max()``.

    Returns:
        ``(B, max_len)`` bool tensor, ``mask[b, t] = t < lengths[b]``.

    Raises:
        ValueError: if a length exceeds ``max_len``.
    """
    lengths = torch.as_tensor(lengths)
    width = int(lengths.max().item()) if max_len is None else int(max_len)
    if lengths.numel() and int(lengths.max().item()) > width:
        raise ValueError(f"a length ({int(lengths.max())}) exceeds max_len={width}")
    return torch.arange(width, device=lengths.device)[None, :] < lengths[:, None]


def pad_sequences(items: Sequence[Tensor], width: int | None = None) -> tuple[Tensor, Tensor]:
    """Right-pad variable-length tensors with zeros and return the padding mask.

    The one pad-and-mask helper of talkzoo: every collate (mesh, video, reenactment, the synthetic
    datamodules) builds its padded fields with it.

    Args:
        items: ``B >= 1`` tensors of shapes ``(L_b, *rest)`` with the same ``rest`` and dtype.
        width: padded length; defaults to ``max L_b``.

    Returns:
        ``(padded, mask)``: ``padded`` ``(B, width, *rest)`` of the items' dtype, zero (``False``
        for bool) past each item's length; ``mask`` ``(B, width)`` bool, ``True`` on real steps.

    Raises:
        DataError: an empty list, items whose trailing shapes or dtypes differ, or an item longer
            than ``width``.
    """
    if not items:
        raise DataError("pad_sequences: got an empty list of tensors")
    rest, dtype = tuple(items[0].shape[1:]), items[0].dtype
    for x in items:
        if tuple(x.shape[1:]) != rest or x.dtype != dtype:
            raise DataError(
                f"pad_sequences: items have different trailing shapes/dtypes ({tuple(x.shape[1:])} {x.dtype} vs "
                f"{rest} {dtype}); expected one shape (L, *rest) per batch"
            )
    lengths = torch.tensor([x.shape[0] for x in items], dtype=torch.long)
    width = int(lengths.max()) if width is None else int(width)
    out = items[0].new_zeros((len(items), width, *rest))
    for b, x in enumerate(items):
        if x.shape[0] > width:
            raise DataError(f"pad_sequences: an item of length {x.shape[0]} exceeds width={width}")
        out[b, : x.shape[0]] = x
    return out, lengths_to_mask(lengths, width)


def frames_to_float(frames: Tensor) -> Tensor:
    """Video frames as float32 ``(..., 3, H, W)`` in [0, 1].

    Args:
        frames: uint8 ``(..., H, W, 3)`` RGB as decoded (divided by 255 and moved channel-first),
            or a float tensor already ``(..., 3, H, W)`` in [0, 1] (returned as float32).
    """
    if frames.dtype == torch.uint8:
        return frames.movedim(-1, -3).float().div_(255.0)
    return frames.float()


# --------------------------------------------------------------------------------------------
# typed items (one dataset index) and one collate per batch type
# --------------------------------------------------------------------------------------------
class _KeyAccess:
    """``sample["frames"]`` reads ``sample.frames`` (items were plain dicts before they were typed)."""

    def __getitem__(self, key: str) -> object:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None


@dataclass
class MeshSample(_KeyAccess):
    """One sequence of an audio → mesh dataset (before collation into a :class:`MeshBatch`).

    Attributes:
        audio: ``(S,)`` float32 mono waveform in [-1, 1] at ``sample_rate`` Hz.
        vertices: ``(T, V, 3)`` float32 vertex positions at ``fps`` (metres for VOCASET).
        template: ``(V, 3)`` float32 neutral face of the subject.
        speaker: index into ``spec.speakers`` or ``-1``.
        name: sequence name.
        subject: subject name.
    """

    audio: Tensor
    vertices: Tensor
    template: Tensor
    speaker: int
    name: str
    subject: str


@dataclass
class VideoSample(_KeyAccess):
    """One audio → video clip window (before collation into a :class:`VideoBatch`).

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB as decoded, or ``(T, 3, H, W)`` float32 in [0, 1].
        source: ``(H, W, 3)`` uint8 or ``(3, H, W)`` float32, the source portrait.
        audio: ``(S,)`` float32 mono waveform aligned with the first frame.
        audio_mask: ``(S,)`` bool, ``True`` on real samples.
        speaker: index into ``spec.speakers`` or ``-1``.
        name: clip (window) name; subject: identity name.
        landmarks: optional ``(T, 68, 2)`` float32 iBUG-68 pixels of ``frames``.
        source_landmarks: optional ``(68, 2)`` float32 pixels of ``source``.
    """

    frames: Tensor
    source: Tensor
    audio: Tensor
    audio_mask: Tensor
    speaker: int
    name: str
    subject: str
    landmarks: Tensor | None = None
    source_landmarks: Tensor | None = None


@dataclass
class ReenactmentSample(_KeyAccess):
    """One reenactment sample (before collation into a :class:`ReenactmentBatch`).

    Attributes:
        source: ``(H, W, 3)`` uint8 or ``(3, H, W)`` float32, the identity to animate.
        frames: ``(T, H, W, 3)`` uint8 or ``(T, 3, H, W)`` float32, the driving frames.
        name: sample name; subject: identity of the source.
        landmarks: optional ``(T, 68, 2)`` float32 pixels of the driving frames.
        source_landmarks: optional ``(68, 2)`` float32 pixels of ``source``.
        speaker: index into ``spec.speakers`` or ``-1`` (not batched; kept for symmetry).
    """

    source: Tensor
    frames: Tensor
    name: str
    subject: str
    landmarks: Tensor | None = None
    source_landmarks: Tensor | None = None
    speaker: int = -1


def _check_samples(samples: Sequence[object], who: str) -> None:
    if not samples:
        raise DataError(f"{who}: got an empty list of samples")


def _pad_landmarks(samples: Sequence[VideoSample | ReenactmentSample], width: int) -> tuple[Tensor | None, Tensor | None]:
    """Padded ``(B, T, 68, 2)`` and stacked ``(B, 68, 2)`` landmarks when every sample has both, else ``None``s."""
    if any(s.landmarks is None or s.source_landmarks is None for s in samples):
        return None, None
    lms, _ = pad_sequences([s.landmarks.float() for s in samples], width)  # type: ignore[union-attr]
    return lms, torch.stack([s.source_landmarks.float() for s in samples])  # type: ignore[union-attr]


def collate_mesh_batch(samples: Sequence[MeshSample]) -> MeshBatch:
    """Right-pad a list of :class:`MeshSample` into a :class:`MeshBatch`.

    Args:
        samples: ``B >= 1`` samples with equal ``V``.

    Returns:
        A batch with ``audio (B, S_max)`` float32 and ``audio_mask (B, S_max)`` bool,
        ``vertices (B, T_max, V, 3)`` float32 zero-padded and ``frame_mask (B, T_max)`` bool,
        ``template (B, V, 3)`` float32, ``speaker (B,)`` int64, ``names``/``subjects`` lists.

    Raises:
        DataError: an empty list, or samples with different vertex counts.
    """
    _check_samples(samples, "collate_mesh_batch")
    vcounts = {s.vertices.shape[1] for s in samples}
    if len(vcounts) != 1:
        raise DataError(
            f"collate_mesh_batch: samples have different vertex counts {sorted(vcounts)} "
            f"({[s.name for s in samples]}); expected one topology per batch"
        )
    audio, audio_mask = pad_sequences([s.audio.float() for s in samples])
    vertices, frame_mask = pad_sequences([s.vertices.float() for s in samples])
    return MeshBatch(
        audio=audio,
        audio_mask=audio_mask,
        vertices=vertices,
        frame_mask=frame_mask,
        template=torch.stack([s.template.float() for s in samples]),
        speaker=torch.tensor([s.speaker for s in samples], dtype=torch.long),
        names=[s.name for s in samples],
        subjects=[s.subject for s in samples],
    )


def collate_video_batch(samples: Sequence[VideoSample]) -> VideoBatch:
    """Right-pad audio → video samples into a :class:`VideoBatch`.

    Returns:
        ``audio (B, S)`` float32 / ``audio_mask (B, S)`` bool (each sample's own mask, padded with
        ``False``), ``frames (B, T, 3, H, W)`` float32 in [0, 1] / ``frame_mask (B, T)``,
        ``source (B, 3, H, W)``, ``speaker (B,)`` int64, ``landmarks (B, T, 68, 2)`` and
        ``source_landmarks (B, 68, 2)`` float32 pixels when every sample has them (else None),
        ``names``, ``subjects``.

    Raises:
        DataError: an empty list, or frames of different sizes.
    """
    _check_samples(samples, "collate_video_batch")
    frames, frame_mask = pad_sequences([frames_to_float(s.frames) for s in samples])
    audio, _ = pad_sequences([s.audio.float() for s in samples])
    audio_mask, _ = pad_sequences([s.audio_mask.bool() for s in samples])
    lms, src_lms = _pad_landmarks(samples, frames.shape[1])
    return VideoBatch(
        audio=audio,
        audio_mask=audio_mask,
        frames=frames,
        frame_mask=frame_mask,
        source=torch.stack([frames_to_float(s.source) for s in samples]),
        speaker=torch.tensor([s.speaker for s in samples], dtype=torch.long),
        names=[s.name for s in samples],
        subjects=[s.subject for s in samples],
        landmarks=lms,
        source_landmarks=src_lms,
    )


def collate_reenactment_batch(samples: Sequence[ReenactmentSample]) -> ReenactmentBatch:
    """Right-pad reenactment samples into a :class:`ReenactmentBatch`.

    Returns:
        ``source (B, 3, H, W)`` float32 in [0, 1], ``driving (B, T, 3, H, W)`` / ``frame_mask
        (B, T)``, ``driving_landmarks (B, T, 68, 2)`` / ``source_landmarks (B, 68, 2)`` when every
        sample has them (else None), ``names``, ``subjects`` (source identities).

    Raises:
        DataError: an empty list, or frames of different sizes.
    """
    _check_samples(samples, "collate_reenactment_batch")
    driving, mask = pad_sequences([frames_to_float(s.frames) for s in samples])
    lms, src_lms = _pad_landmarks(samples, driving.shape[1])
    return ReenactmentBatch(
        source=torch.stack([frames_to_float(s.source) for s in samples]),
        driving=driving,
        frame_mask=mask,
        names=[s.name for s in samples],
        subjects=[s.subject for s in samples],
        driving_landmarks=lms,
        source_landmarks=src_lms,
    )


#: The collate of each batch type (``BATCH_COLLATE[VideoBatch](samples)``).
BATCH_COLLATE = {MeshBatch: collate_mesh_batch, VideoBatch: collate_video_batch, ReenactmentBatch: collate_reenactment_batch}
