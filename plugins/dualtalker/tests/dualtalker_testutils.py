"""Shared helpers of the DualTalker plugin tests: tiny specs, batches and models (CPU, seconds)."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from talkzoo.audio.encoders import MelSpectrogramEncoder  # noqa: E402
from talkzoo.data.batch import MeshBatch  # noqa: E402
from talkzoo.data.spec import MeshDataSpec  # noqa: E402

from talkzoo_dualtalker.model import DualTalker  # noqa: E402

FPS = 30.0
RATE = 16000
VERTS = 7


def tiny_spec(num_vertices: int = VERTS, fps: float = FPS) -> MeshDataSpec:
    """A mesh spec with two training speakers."""
    return MeshDataSpec(dataset="tiny", fps=fps, sample_rate=RATE, num_vertices=num_vertices, speakers=("a", "b"))


def tiny_model(**kwargs) -> DualTalker:
    """A DualTalker small enough for unit tests (mel front-end, d=16, FF 32, no dropout)."""
    spec = kwargs.pop("spec", tiny_spec())
    options = dict(
        audio_encoder=MelSpectrogramEncoder(n_mels=12, n_fft=256, win_length=256, hop_length=160),
        d_model=16,
        feedforward_dim=32,
        dropout=0.0,
        zero_init_motion_decoder=False,
        ccrl_sigma=None,
    )
    options.update(kwargs)
    torch.manual_seed(0)
    return DualTalker(spec=spec, **options)


def make_batch(
    lengths: list[int], num_vertices: int = VERTS, seed: int = 0, speakers=None, amplitude: float = 0.01
) -> MeshBatch:
    """A right-padded batch of random sequences, ``lengths[b]`` frames each, audio of matching length.

    Displacements are sines of ``amplitude`` metres (plus 20 % noise) around a random template.
    """
    gen = torch.Generator().manual_seed(seed)
    bsz, total = len(lengths), max(lengths)
    samples = [int(round(n / FPS * RATE)) for n in lengths]
    audio = torch.zeros(bsz, max(samples))
    audio_mask = torch.zeros(bsz, max(samples), dtype=torch.bool)
    frame_mask = torch.zeros(bsz, total, dtype=torch.bool)
    template = torch.randn(bsz, num_vertices, 3, generator=gen) * 0.1
    vertices = torch.zeros(bsz, total, num_vertices, 3)
    for b, (n, s) in enumerate(zip(lengths, samples)):
        t = torch.arange(s) / RATE
        audio[b, :s] = 0.3 * torch.sin(2 * torch.pi * (150 + 40 * b) * t) * torch.sin(2 * torch.pi * 3 * t) + 0.01 * torch.randn(
            s, generator=gen
        )
        audio_mask[b, :s] = True
        frame_mask[b, :n] = True
        phase = torch.linspace(0, 3, n)[:, None, None]
        vertices[b, :n] = template[b] + amplitude * torch.sin(phase * (1 + torch.arange(num_vertices)[None, :, None]) + b)
        vertices[b, :n] += 0.2 * amplitude * torch.randn(n, num_vertices, 3, generator=gen)
    speaker = torch.tensor(speakers if speakers is not None else [b % 2 for b in range(bsz)], dtype=torch.long)
    return MeshBatch(
        audio=audio,
        audio_mask=audio_mask,
        vertices=vertices,
        frame_mask=frame_mask,
        template=template,
        speaker=speaker,
        names=[f"seq{b}" for b in range(bsz)],
        subjects=[f"subj{b}" for b in range(bsz)],
    )


def select(batch: MeshBatch, b: int) -> MeshBatch:
    """Sequence ``b`` of a batch as a batch of one, cropped to its real frames and samples."""
    n = int(batch.frame_mask[b].sum())
    s = int(batch.audio_mask[b].sum())
    return MeshBatch(
        audio=batch.audio[b : b + 1, :s],
        audio_mask=batch.audio_mask[b : b + 1, :s],
        vertices=batch.vertices[b : b + 1, :n],
        frame_mask=batch.frame_mask[b : b + 1, :n],
        template=batch.template[b : b + 1],
        speaker=batch.speaker[b : b + 1],
        names=[batch.names[b]],
        subjects=[batch.subjects[b]],
    )


@pytest.fixture
def one_thread():
    """Run single-threaded: hundreds of tiny per-frame ops are dominated by thread hand-offs otherwise."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
