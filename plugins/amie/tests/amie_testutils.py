"""Shared helpers of the AMIE plugin tests: tiny specs, batches and models (CPU, seconds)."""

from __future__ import annotations

import os

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from talkzoo.data.batch import VideoBatch  # noqa: E402
from talkzoo.data.spec import VideoDataSpec  # noqa: E402

from talkzoo_amie.metadata import TINY_ARGS  # noqa: E402
from talkzoo_amie.model import AMIE  # noqa: E402

RATE, FPS, SIZE = 16000, 25.0, 32


def tiny_spec(size: int = SIZE) -> VideoDataSpec:
    """A 32 px, 25 fps, 16 kHz video spec."""
    return VideoDataSpec(dataset="tiny", sample_rate=RATE, fps=FPS, image_size=size, speakers=("a",))


def tiny_model(**kwargs) -> AMIE:
    """An AMIE small enough for unit tests (:data:`talkzoo_amie.metadata.TINY_ARGS`)."""
    args = dict(TINY_ARGS)
    args.update(kwargs)
    spec = args.pop("spec", tiny_spec())
    torch.manual_seed(0)
    return AMIE(spec=spec, **args)


def make_batch(lengths: list[int], size: int = SIZE, seed: int = 0, landmarks: bool = False) -> VideoBatch:
    """Right-padded clips: a grey face with a dark mouth whose height follows a 3 Hz tone envelope."""
    gen = torch.Generator().manual_seed(seed)
    b, t = len(lengths), max(lengths)
    per = int(RATE / FPS)
    audio = torch.zeros(b, t * per)
    amask = torch.zeros(b, t * per, dtype=torch.bool)
    frames = torch.zeros(b, t, 3, size, size)
    fmask = torch.zeros(b, t, dtype=torch.bool)
    lms = torch.zeros(b, t, 68, 2)
    for i, n in enumerate(lengths):
        s = torch.arange(n * per) / RATE
        env = 0.5 * (1 - torch.cos(2 * torch.pi * 3 * s))
        audio[i, : n * per] = 0.3 * env * torch.sin(2 * torch.pi * (200 + 50 * i) * s) + 0.01 * torch.randn(n * per, generator=gen)
        amask[i, : n * per] = True
        fmask[i, :n] = True
        for k in range(n):
            img = torch.full((3, size, size), 0.6)
            open_ = float(env[min(k * per + per // 2, n * per - 1)])
            h = max(1, int(round(size * (0.03 + 0.12 * open_))))
            y0 = int(size * 0.7)
            img[:, y0 : y0 + h, size // 3 : 2 * size // 3] = 0.1
            frames[i, k] = img + 0.02 * torch.randn(3, size, size, generator=gen)
            lms[i, k, 48:68, 0] = torch.linspace(size / 3, 2 * size / 3, 20)
            lms[i, k, 48:68, 1] = torch.linspace(y0, y0 + h, 20)
    return VideoBatch(
        audio=audio, audio_mask=amask, frames=frames.clamp(0, 1), frame_mask=fmask, source=frames[:, 0].clamp(0, 1),
        speaker=torch.zeros(b, dtype=torch.long), names=[f"c{i}" for i in range(b)], subjects=["a"] * b,
        landmarks=lms if landmarks else None, source_landmarks=lms[:, 0] if landmarks else None,
    )
