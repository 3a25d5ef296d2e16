"""Shared helpers of the OT-Talk plugin tests: tiny meshes, specs, batches and models (CPU, seconds)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from talkzoo.audio.encoders import MelSpectrogramEncoder  # noqa: E402
from talkzoo.data.batch import MeshBatch, lengths_to_mask  # noqa: E402
from talkzoo.data.spec import MeshDataSpec  # noqa: E402

from talkzoo_ottalk.model import OTTalk  # noqa: E402

FPS = 25.0
RATE = 16000
#: session folder for faces files and the hierarchy cache (kept until the process ends).
WORK = Path(tempfile.mkdtemp(prefix="ottalk-tests-"))
FACE_ASSET = Path(__file__).resolve().parents[3] / "src" / "talkzoo" / "assets" / "face"


def icosphere(subdivisions: int = 1, radius: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """A closed manifold sphere mesh ``(V, 3)`` metres, ``(F, 3)`` int64 (trimesh)."""
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def strip_faces(num_vertices: int) -> np.ndarray:
    """A triangle strip ``(i, i+1, i+2)`` over ``num_vertices`` vertices (a manifold band)."""
    idx = np.arange(num_vertices - 2)
    return np.stack([idx, idx + 1, idx + 2], axis=1).astype(np.int64)


def save_faces(faces: np.ndarray, name: str) -> str:
    """Write ``faces`` to ``WORK/<name>.npy`` and return the path."""
    path = WORK / f"{name}.npy"
    np.save(path, faces)
    return str(path)


def tiny_encoder() -> MelSpectrogramEncoder:
    """A parameter-free 12-band log-mel front-end."""
    return MelSpectrogramEncoder(n_mels=12, n_fft=256, win_length=256, hop_length=160)


TINY = dict(K=2, channels=(4, 4, 8), latent_dim=8, d_model=16, num_layers=1, num_heads=2, ff_dim=32,
            dropout=0.0, n_components=6, swd_projections=16, cache_dir=str(WORK / "cache"))  # fmt: skip


def ico_spec(subdivisions: int = 1) -> tuple[MeshDataSpec, np.ndarray]:
    """Spec of an icosphere topology (42 vertices at subdivision 1) and its template."""
    v, f = icosphere(subdivisions)
    path = save_faces(f, f"ico{subdivisions}")
    spec = MeshDataSpec(dataset="ico", fps=FPS, sample_rate=RATE, num_vertices=v.shape[0], faces_file=path, speakers=("a", "b"))
    return spec, v


def tiny_model(spec: MeshDataSpec | None = None, **kwargs) -> OTTalk:
    """An OT-Talk small enough for unit tests."""
    if spec is None:
        spec, _ = ico_spec()
    options = dict(TINY, audio_encoder=tiny_encoder())
    options.update(kwargs)
    torch.manual_seed(0)
    return OTTalk(spec=spec, **options)


def make_batch(template: np.ndarray, lengths=(6, 4), amplitude: float = 0.004, seed: int = 0) -> MeshBatch:
    """A padded batch whose motion follows the audio envelope (learnable)."""
    g = torch.Generator().manual_seed(seed)
    tpl = torch.as_tensor(template, dtype=torch.float32)
    v = tpl.shape[0]
    direction = torch.randn(v, 3, generator=g) * amplitude
    audios, verts = [], []
    for i, frames in enumerate(lengths):
        samples = int(round(frames / FPS * RATE))
        t = torch.arange(samples) / RATE
        env = 0.5 * (1 - torch.cos(2 * np.pi * (1.5 + i) * t))
        audios.append(0.5 * env * torch.sin(2 * np.pi * 220.0 * t))
        fe = env[(torch.arange(frames) * RATE / FPS).long().clamp(max=samples - 1)]
        verts.append(tpl + fe[:, None, None] * direction)
    s_max, t_max = max(a.shape[0] for a in audios), max(lengths)
    audio = torch.zeros(len(lengths), s_max)
    vertices = torch.zeros(len(lengths), t_max, v, 3)
    for i, (a, x) in enumerate(zip(audios, verts)):
        audio[i, : a.shape[0]] = a
        vertices[i, : x.shape[0]] = x
    return MeshBatch(
        audio=audio,
        audio_mask=lengths_to_mask(torch.tensor([a.shape[0] for a in audios])),
        vertices=vertices,
        frame_mask=lengths_to_mask(torch.tensor(list(lengths))),
        template=tpl[None].expand(len(lengths), -1, -1).contiguous(),
        speaker=torch.zeros(len(lengths), dtype=torch.long),
        names=[f"s{i}" for i in range(len(lengths))],
        subjects=["a"] * len(lengths),
    )
