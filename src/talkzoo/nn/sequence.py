"""Frame counts of speech-driven sequences: how many output frames a waveform covers.

Every speech-driven model (mesh or video) animates ``T`` frames at ``fps`` from a waveform of
``S`` samples at ``sample_rate`` Hz. The convention of the FaceFormer-layout datasets (VOCASET,
BIWI, Multiface; FaceFormer's, CodeTalker's and DualTalker's data loaders), whose motion and audio
have equal durations, is ``T = round(S / sample_rate * fps)``. These helpers compute it once, for
one sequence or for a right-padded batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["frames_for_samples", "samples_per_sequence", "sequence_frame_counts"]


def frames_for_samples(num_samples: int | Tensor, sample_rate: float, fps: float) -> int | Tensor:
    """Number of frames at ``fps`` that cover ``num_samples`` audio samples: ``max(1, round(S / sr * fps))``.

    Args:
        num_samples: ``S``, an ``int`` or an integer tensor of any shape (e.g. ``(B,)``).
        sample_rate: audio rate in Hz (16000 for every talkzoo speech front-end).
        fps: frame rate in frames per second.

    Returns:
        an ``int`` for an ``int`` input, else an int64 tensor of the input's shape (computed in
        float64, so exact for any realistic length). At least 1.

    Source: the FaceFormer-layout datasets' convention (motion and audio of equal duration).
    """
    if isinstance(num_samples, Tensor):
        return torch.clamp(torch.round(num_samples.double() / sample_rate * fps).long(), min=1)
    return max(1, int(round(num_samples / sample_rate * fps)))


def samples_per_sequence(audio: Tensor, audio_mask: Tensor | None = None) -> Tensor:
    """Real samples of each waveform of a right-padded batch.

    Args:
        audio: ``(B, S)`` waveforms.
        audio_mask: ``(B, S)`` bool, ``True`` on real samples (real samples first), or ``None``
            when every sample is real.

    Returns:
        ``(B,)`` int64 counts on ``audio``'s device (``S`` for every sequence without a mask).
    """
    if audio_mask is None:
        return torch.full((audio.shape[0],), audio.shape[1], device=audio.device)
    return audio_mask.sum(1)


def sequence_frame_counts(
    samples: Tensor, sample_rate: float, fps: float, num_frames: int | None = None
) -> tuple[Tensor, int]:
    """Frames of each sequence of a padded batch and the batch's output width.

    Each sequence gets :func:`frames_for_samples` of its own real samples, at most the width
    ``T``; the longest sequences (most samples) span exactly ``T``, as a single unpadded sequence
    does when ``num_frames`` is given. So a short sequence of a padded batch is never stretched
    over the batch width.

    Args:
        samples: ``(B,)`` int real samples per sequence (:func:`samples_per_sequence`).
        sample_rate: audio rate in Hz.
        fps: frame rate in frames per second.
        num_frames: the output width ``T``; ``None`` = the longest sequence's frame count.

    Returns:
        ``(counts, total)``: ``(B,)`` int64 frames per sequence (``1 <= counts <= total``) and
        ``total = T``.
    """
    per_seq = frames_for_samples(samples, sample_rate, fps)
    total = int(num_frames) if num_frames is not None else int(per_seq.max())
    counts = torch.clamp(per_seq, max=total)
    counts = torch.where(samples == samples.max(), torch.full_like(counts, total), counts)
    return counts, total
