"""Typed batches, one per task family.

A batch is a dataclass of tensors with documented shapes, dtypes and units. Variable-length
sequences are right-padded with zeros and carry a boolean mask (``True`` = real data). Lightning
moves dataclass batches between devices on its own (``apply_to_collection`` walks dataclasses);
``.to()`` is provided for use outside a Trainer.

Shape letters: ``B`` batch, ``S`` audio samples, ``T`` frames, ``V`` vertices, ``H``/``W`` image
height/width in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor


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
