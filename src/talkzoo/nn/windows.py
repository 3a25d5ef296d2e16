"""Long-audio inference in overlapping windows: one planner, two blend modes.

Why: a model trained on sentences of a few seconds runs full self-attention over the frames
(transformers: memory and time ``O(T^2)``; 10 minutes at 30 fps is ``18000 x 18000`` per head and
layer), and a pretrained speech front-end (wav2vec 2.0, HuBERT) is quadratic in the audio length
too. Long audio is therefore processed in windows of a bounded length, and the windows' outputs
are blended back into one sequence. The papers of talkzoo's models are silent on long audio; the
plan below is ours.

Plan (:func:`plan_windows`): windows of ``W = min(window, n)`` frames start at
``a_k = round(k (n - W) / (K - 1))``, ``K = ceil((n - W) / (W - 2 O)) + 1`` (evenly spread, the
first at 0, the last ending at ``n``), so consecutive windows share at least ``2 O`` frames
(``O = min(overlap, (W - 1) // 2)``). Two blends:

* ``"crossfade"`` (OT-Talk's vertices): seam ``k`` is the middle ``c_k = (a_{k+1} + a_k + W) / 2``
  of the part windows ``k`` and ``k+1`` share; its fade ``r_k(t) = clip((t + 1/2 - c_k) / O + 1/2, 0, 1)``
  rises linearly over the ``O`` frames centred on ``c_k`` (a step at ``c_k`` when ``O = 0``). With
  ``s(t) = Σ_k r_k(t)``, window ``j`` weighs ``max(0, 1 - |s(t) - j|)``: a partition of unity, exactly
  1 wherever one window alone has weight (those frames are that window's output, bit for bit), and
  a linear cross-fade of the two neighbours across each seam. A frame with non-zero weight in
  window ``j`` has at least ``O / 2`` frames of window ``j`` on each side, except near the ends.
* ``"nearest"`` (DualTalker's speech features): each frame is taken from the one window whose
  centre ``a_j + W / 2`` is nearest to the frame centre ``t + 1/2`` (the earlier window on a
  tie): weights are 0 or 1. Each frame then has at least ``O`` frames of context in its window on
  both sides, except near the ends. Features of different windows are not averaged (a mean of two
  windows' features is not a feature either window produced).

Layouts (``layout=``): ``"spread"`` (above, the default: every window ``W`` frames long) or
``"once"``: the audio is covered once plus the context margins. With the same count ``K`` the
windows advance by ``s = ceil((n - 2 O) / K)`` (``<= W - 2 O``) from ``a_k = k s`` and are
``s + 2 O`` frames long, the last one cut at ``n``; window ``k`` owns frames
``[a_k + O, a_{k+1} + O)`` (the first from 0, the last to ``n``), i.e. the seams sit at the
middle of each overlap and every frame is encoded in exactly one owning window, with
``O`` frames of context on both sides (except at the ends). Frames encoded in total:
``n + 2 O (K - 1)`` (at most ``K`` more through rounding) instead of ``K W``: no window re-encodes
what its neighbours already own beyond the ``2 O`` context frames. Both blends apply unchanged
(seam ``k`` at ``a_{k+1} + O``). One window ``(0, n)`` when ``n <= W`` in both layouts (bit for
bit the whole-sequence result).

:func:`plan_audio_windows` maps a plan onto the samples of a waveform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from talkzoo.errors import ConfigError

__all__ = ["BLENDS", "LAYOUTS", "Window", "check_window_options", "plan_audio_windows", "plan_windows", "window_samples"]

Blend = Literal["crossfade", "nearest"]
#: the blend modes of :func:`plan_windows`.
BLENDS: tuple[str, ...] = ("crossfade", "nearest")
Layout = Literal["spread", "once"]
#: the window layouts of :func:`plan_windows`.
LAYOUTS: tuple[str, ...] = ("spread", "once")


@dataclass(frozen=True)
class Window:
    """One window of a plan.

    Attributes:
        start: first frame (inclusive).
        stop: frame after the last (exclusive).
        weight: ``(stop - start,)`` float64 blend weight of each of the window's frames.
        sample_start: first audio sample of the window (:func:`plan_audio_windows`; else 0).
        sample_stop: audio sample after its last (:func:`plan_audio_windows`; else 0).
    """

    start: int
    stop: int
    weight: Tensor
    sample_start: int = 0
    sample_stop: int = 0

    @property
    def support(self) -> tuple[int, int] | None:
        """``(first, stop)`` absolute frames where the weight is non-zero (contiguous), ``None`` if none."""
        nonzero = (self.weight > 0).nonzero().flatten()
        if nonzero.numel() == 0:
            return None
        return self.start + int(nonzero[0]), self.start + int(nonzero[-1]) + 1


def plan_windows(
    num_frames: int, window: int, overlap: int, blend: Blend = "crossfade", layout: Layout = "spread"
) -> list[Window]:
    """Overlapping windows covering ``num_frames`` frames, with their blend weights (see the module).

    Args:
        num_frames: ``n >= 1``, frames of the sequence.
        window: ``W >= 1``, frames per window (the longest window).
        overlap: ``O >= 0``, frames of one-sided context (and the cross-fade width).
        blend: ``"crossfade"`` or ``"nearest"``.
        layout: ``"spread"`` (windows of ``W`` frames evenly spread, the default) or ``"once"``
            (the frames covered once plus ``2 O`` context frames per seam; see the module).

    Returns:
        windows in order; one window ``(0, n)`` of weight 1 when ``n <= W``. The weights of every
        frame sum to 1 over the windows.

    Raises:
        ValueError: ``num_frames < 1``, ``window < 1``, ``overlap < 0``, an unknown blend or layout.
    """
    n, w, o = int(num_frames), int(window), int(overlap)
    if n < 1 or w < 1 or o < 0:
        raise ValueError(f"plan_windows needs num_frames >= 1, window >= 1, overlap >= 0; got {n}, {w}, {o}")
    if blend not in BLENDS:
        raise ValueError(f"unknown window blend {blend!r}; expected one of {BLENDS}")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown window layout {layout!r}; expected one of {LAYOUTS}")
    w = min(w, n)
    if w == n:
        return [Window(0, n, torch.ones(n, dtype=torch.float64))]
    o = min(o, (w - 1) // 2)
    stride = w - 2 * o
    count = -(-(n - w) // stride) + 1
    t = torch.arange(n, dtype=torch.float64) + 0.5
    if layout == "once":
        step = -(-(n - 2 * o) // count)  # <= stride, since count * stride + 2 o >= n
        starts = [k * step for k in range(count)]
        stops = [min(n, a + step + 2 * o) for a in starts]
        seams = [a + o for a in starts[1:]]  # window k owns [a_k + o, a_{k+1} + o)
    else:
        starts = [round(k * (n - w) / (count - 1)) for k in range(count)]
        stops = [a + w for a in starts]
        seams = [(starts[k + 1] + starts[k] + w) / 2.0 for k in range(count - 1)]
    if blend == "nearest":
        if layout == "once":
            owner = (t[:, None] > torch.tensor(seams, dtype=torch.float64)[None]).sum(dim=1)
        else:
            centres = torch.tensor([s + w / 2.0 for s in starts], dtype=torch.float64)
            owner = torch.argmin((t[:, None] - centres[None]).abs(), dim=1)
        return [Window(a, e, (owner[a:e] == j).double()) for j, (a, e) in enumerate(zip(starts, stops))]
    soft_index = torch.zeros(n, dtype=torch.float64)
    for centre in seams:
        soft_index += ((t - centre) / o + 0.5).clamp(0.0, 1.0) if o > 0 else (t >= centre).double()
    return [
        Window(a, e, (1.0 - (soft_index[a:e] - j).abs()).clamp_min(0.0))
        for j, (a, e) in enumerate(zip(starts, stops))
    ]


def window_samples(seconds: float | None, sample_rate: float) -> int | None:
    """Window length in samples, ``round(seconds * sample_rate)``; ``None`` (no windowing) for ``None``."""
    return None if seconds is None else int(round(seconds * sample_rate))


def plan_audio_windows(
    num_samples: int,
    num_frames: int,
    sample_rate: float,
    window_seconds: float,
    overlap_seconds: float,
    blend: Blend,
    layout: Layout = "spread",
) -> list[Window]:
    """:func:`plan_windows` for one waveform of ``S`` real samples animated over ``n`` frames.

    With ``p = S / n`` samples per frame, the window is ``W = max(1, floor(window_samples / p))``
    frames and the overlap ``O = floor(overlap_seconds * sample_rate / p)`` frames; window
    ``[a, e)`` reads samples ``[s0, s1)`` with ``s0 = min(S - 1, round(a p))`` and
    ``s1 = max(s0 + 1, min(S, round(e p)))``. Windows whose weights are all zero are left out.

    Args:
        num_samples: ``S >= 1`` real samples.
        num_frames: ``n >= 1`` frames.
        sample_rate: Hz.
        window_seconds: window length in seconds.
        overlap_seconds: one-sided overlap in seconds.
        blend: ``"crossfade"`` or ``"nearest"``.
        layout: ``"spread"`` or ``"once"`` (:func:`plan_windows`).

    Returns:
        the windows with ``sample_start`` / ``sample_stop`` set.

    Raises:
        ValueError: as :func:`plan_windows`, or ``num_samples < 1``.
    """
    length, frames = int(num_samples), int(num_frames)
    if length < 1:
        raise ValueError(f"plan_audio_windows needs num_samples >= 1, got {length}")
    per_frame = length / frames
    window = max(1, int(window_samples(window_seconds, sample_rate) / per_frame))
    overlap = int(overlap_seconds * sample_rate / per_frame)
    out = []
    for win in plan_windows(frames, window, overlap, blend, layout):
        if not bool((win.weight > 0).any()):
            continue
        s0 = min(length - 1, int(round(win.start * per_frame)))
        s1 = max(s0 + 1, min(length, int(round(win.stop * per_frame))))
        out.append(Window(win.start, win.stop, win.weight, s0, s1))
    return out


def check_window_options(window_seconds: float | None, overlap_seconds: float, window_name: str, overlap_name: str) -> None:
    """Check a model's long-audio options: ``overlap >= 0`` and ``window > 2 overlap`` (or no window).

    Args:
        window_seconds: window length in seconds, or ``None`` (no windowing).
        overlap_seconds: one-sided overlap in seconds.
        window_name: the model argument holding the window (named in the message).
        overlap_name: the model argument holding the overlap.

    Raises:
        ConfigError: naming the argument and what was expected.
    """
    if overlap_seconds < 0:
        raise ConfigError(f"{overlap_name} must be >= 0, got {overlap_seconds}")
    if window_seconds is not None and window_seconds <= 2 * overlap_seconds:
        raise ConfigError(
            f"{window_name} ({window_seconds}) must be None or exceed twice the overlap "
            f"{overlap_name} ({overlap_seconds} s on each side)"
        )
