"""Tiny synthetic datamodules, one per task family, for tests and plugin conformance runs.

The data are random but *learnable*: the target is a fixed smooth function of the audio
envelope (mesh) or of the source image and a moving pattern (video), so a few optimisation
steps visibly reduce a model's loss. Everything is generated in memory from a seed; nothing is
read from disk, so these run anywhere in a fraction of a second.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset

from talkzoo.data.base import TalkzooDataModule
from talkzoo.data.batch import (
    MeshBatch,
    MeshSample,
    ReenactmentBatch,
    ReenactmentSample,
    VideoBatch,
    VideoSample,
    collate_mesh_batch,
    collate_reenactment_batch,
    collate_video_batch,
)
from talkzoo.data.spec import (
    FAMILY_MESH,
    FAMILY_REENACT,
    FAMILY_VIDEO,
    MeshDataSpec,
    ReenactmentDataSpec,
    VideoDataSpec,
)


class _ListDataset(Dataset):
    def __init__(self, items: list) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        return self.items[index]


class _SyntheticBase(TalkzooDataModule):
    """Shared split and loader logic of the synthetic datamodules."""

    def __init__(self, num_sequences: int, batch_size: int, seed: int) -> None:
        super().__init__()
        self.num_sequences = num_sequences
        self.batch_size = batch_size
        self.seed = seed
        self._items: list | None = None

    def _make_items(self, generator: torch.Generator) -> list:
        raise NotImplementedError

    def _ensure_items(self) -> list:
        if self._items is None:
            self._items = self._make_items(torch.Generator().manual_seed(self.seed))
        return self._items

    def build_dataset(self, split: str) -> Dataset:
        """The first three quarters of the items for ``train``, the last quarter (>= 1) otherwise."""
        n_eval = max(1, self.num_sequences // 4)
        part = slice(0, self.num_sequences - n_eval) if split == "train" else slice(self.num_sequences - n_eval, None)
        return _ListDataset(self._ensure_items()[part])


class SyntheticMeshDataModule(_SyntheticBase):
    """Random speech → mesh sequences whose motion follows the audio envelope.

    Each sequence: a sine-modulated noise waveform (16 kHz) of ``frames / fps`` seconds; the
    displacement of every vertex is ``envelope(t) * direction_v`` (metres) with fixed random
    directions, so a model that reads the audio can learn it.

    Args:
        num_vertices: ``V``.
        num_sequences: sequences in total (a quarter, at least one, is held out for val/test).
        min_frames: shortest sequence in frames.
        max_frames: longest sequence in frames (lengths vary, so batches are padded).
        fps: mesh frame rate, frames per second.
        sample_rate: audio sample rate in Hz.
        num_speakers: training speakers (``speaker`` ids cycle over them).
        batch_size: sequences per batch.
        seed: generator seed.
    """

    family = FAMILY_MESH

    def __init__(
        self,
        num_vertices: int = 16,
        num_sequences: int = 8,
        min_frames: int = 6,
        max_frames: int = 10,
        fps: float = 25.0,
        sample_rate: int = 16000,
        num_speakers: int = 2,
        batch_size: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__(num_sequences, batch_size, seed)
        self.num_vertices = num_vertices
        self.min_frames, self.max_frames = min_frames, max_frames
        self.fps, self.sample_rate = fps, sample_rate
        self.num_speakers = num_speakers

    @property
    def spec(self) -> MeshDataSpec:
        """Spec: ``V`` vertices, ``fps``, ``sample_rate``, speakers ``spk0..``; no region files."""
        return MeshDataSpec(
            dataset="synthetic",
            sample_rate=self.sample_rate,
            fps=self.fps,
            speakers=tuple(f"spk{i}" for i in range(self.num_speakers)),
            num_vertices=self.num_vertices,
        )

    def _make_items(self, generator: torch.Generator) -> list:
        directions = torch.randn(self.num_vertices, 3, generator=generator) * 0.005
        template = torch.randn(self.num_vertices, 3, generator=generator) * 0.05
        items = []
        for i in range(self.num_sequences):
            frames = int(torch.randint(self.min_frames, self.max_frames + 1, (1,), generator=generator))
            samples = int(round(frames / self.fps * self.sample_rate))
            t = torch.arange(samples) / self.sample_rate
            rate = 1.0 + 3.0 * torch.rand(1, generator=generator)
            envelope = 0.5 * (1 - torch.cos(2 * math.pi * rate * t))
            audio = 0.5 * envelope * torch.sin(2 * math.pi * 220.0 * t)
            frame_env = envelope[(torch.arange(frames) * self.sample_rate / self.fps).long().clamp(max=samples - 1)]
            vertices = template + frame_env[:, None, None] * directions
            items.append(MeshSample(audio=audio, vertices=vertices, template=template, speaker=i % self.num_speakers,
                                    name=f"seq{i:03d}", subject=f"spk{i % self.num_speakers}"))
        return items

    def collate(self, samples: list) -> MeshBatch:  # noqa: D102
        return collate_mesh_batch(samples)


def _moving_frames(source: torch.Tensor, frames: int, phase: float) -> torch.Tensor:
    """``(3, H, W)`` source → ``(T, 3, H, W)`` with a bright bar sliding over it (in [0, 1])."""
    _, h, w = source.shape
    out = source.expand(frames, -1, -1, -1).clone()
    for t in range(frames):
        row = int((phase + t / max(frames, 1)) * h) % h
        out[t, :, row : row + max(1, h // 8)] = 1.0
    return out


class SyntheticVideoDataModule(_SyntheticBase):
    """Random audio → video clips: a random source image with a bar moving at the audio's pace.

    Args:
        image_size: frame height and width in pixels.
        num_sequences: clips in total (a quarter held out).
        min_frames: shortest clip in frames.
        max_frames: longest clip in frames.
        fps: frame rate (25 in this family).
        sample_rate: audio sample rate in Hz.
        batch_size: clips per batch.
        seed: generator seed.
    """

    family = FAMILY_VIDEO

    def __init__(
        self,
        image_size: int = 16,
        num_sequences: int = 8,
        min_frames: int = 4,
        max_frames: int = 6,
        fps: float = 25.0,
        sample_rate: int = 16000,
        batch_size: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__(num_sequences, batch_size, seed)
        self.image_size = image_size
        self.min_frames, self.max_frames = min_frames, max_frames
        self.fps, self.sample_rate = fps, sample_rate

    @property
    def spec(self) -> VideoDataSpec:
        """Spec: ``image_size`` pixels, ``fps``, ``sample_rate``, one speaker."""
        return VideoDataSpec(
            dataset="synthetic", sample_rate=self.sample_rate, fps=self.fps, speakers=("spk0",), image_size=self.image_size
        )

    def _make_items(self, generator: torch.Generator) -> list:
        items = []
        for i in range(self.num_sequences):
            frames = int(torch.randint(self.min_frames, self.max_frames + 1, (1,), generator=generator))
            samples = int(round(frames / self.fps * self.sample_rate))
            source = torch.rand(3, self.image_size, self.image_size, generator=generator) * 0.5
            audio = 0.1 * torch.randn(samples, generator=generator)
            items.append(VideoSample(
                frames=_moving_frames(source, frames, i / self.num_sequences), source=source, audio=audio,
                audio_mask=torch.ones(samples, dtype=torch.bool), speaker=0, name=f"clip{i:03d}", subject="spk0",
            ))
        return items

    def collate(self, samples: list) -> VideoBatch:  # noqa: D102
        return collate_video_batch(samples)


class SyntheticReenactmentDataModule(_SyntheticBase):
    """Random reenactment samples: driving frames are the source with a moving bar.

    Args:
        image_size: frame height and width in pixels.
        num_sequences: samples in total (a quarter held out).
        min_frames: shortest driving clip in frames.
        max_frames: longest driving clip in frames.
        batch_size: samples per batch.
        seed: generator seed.
    """

    family = FAMILY_REENACT

    def __init__(
        self,
        image_size: int = 16,
        num_sequences: int = 8,
        min_frames: int = 4,
        max_frames: int = 6,
        batch_size: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__(num_sequences, batch_size, seed)
        self.image_size = image_size
        self.min_frames, self.max_frames = min_frames, max_frames

    @property
    def spec(self) -> ReenactmentDataSpec:
        """Spec: ``image_size`` pixels at 25 fps, no audio."""
        return ReenactmentDataSpec(dataset="synthetic", image_size=self.image_size)

    def _make_items(self, generator: torch.Generator) -> list:
        items = []
        for i in range(self.num_sequences):
            frames = int(torch.randint(self.min_frames, self.max_frames + 1, (1,), generator=generator))
            source = torch.rand(3, self.image_size, self.image_size, generator=generator) * 0.5
            items.append(ReenactmentSample(source=source, frames=_moving_frames(source, frames, i / self.num_sequences),
                                           name=f"pair{i:03d}", subject=f"pair{i:03d}"))
        return items

    def collate(self, samples: list) -> ReenactmentBatch:  # noqa: D102
        return collate_reenactment_batch(samples)
