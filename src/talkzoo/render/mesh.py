"""Headless CPU rendering of mesh sequences (audio -> 3D mesh outputs) into mp4 with sound.

Each frame is drawn with matplotlib's Agg canvas (no display needed): the triangles are
projected orthographically, sorted back to front (painter's algorithm) and filled with a flat
Lambertian shade computed from their normals, as one ``PolyCollection`` per panel. One Figure
is reused for the whole sequence and read back through ``canvas.buffer_rgba()``; frames stream
straight into :func:`talkzoo.render.video.write_video`, so a long sequence is never held as
images in memory.

The camera framing is fixed for the whole sequence, computed from the first frame (the
template pose) with head-room for motion, so the face never jumps between frames. With
``ground_truth`` the prediction and the ground truth are drawn side by side with one shared
framing, labelled "prediction" and "ground truth".

Coordinates follow the FLAME / VOCASET / BIWI convention the mesh datasets share: metres,
``+y`` up, ``+z`` out of the face towards the viewer, ``+x`` towards the subject's left.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from talkzoo.errors import ConfigError, DataError

from .video import write_video

__all__ = ["render_mesh_sequence", "VIEWS"]

#: Camera placements: name -> (screen-right axis, screen-up axis, towards-camera axis) in
#: mesh coordinates. "left"/"right" are profiles seen from the subject's left (+x) / right (-x).
VIEWS: dict[str, np.ndarray] = {
    "front": np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
    "left": np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
    "right": np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]),
}

_LIGHT = np.array([0.35, 0.45, 1.0]) / np.linalg.norm([0.35, 0.45, 1.0])  # view space, from front-top-right
_AMBIENT = 0.22
_COLORS = {"prediction": (0.86, 0.80, 0.74), "ground truth": (0.74, 0.80, 0.88)}
_BACKGROUND = (1.0, 1.0, 1.0)
_MARGIN = 1.25  # framing head-room around the first frame's bounding box (motion, labels)


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _check_vertices(x: Any, name: str) -> np.ndarray:
    arr = _to_numpy(x)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        hint = ""
        if arr.ndim == 2 and arr.shape[-1] % 3 == 0:
            hint = "; a (T, 3V) array such as vertices_npy files reshapes with .reshape(T, -1, 3)"
        raise DataError(f"{name}: expected shape (T, V, 3) in metres, got {tuple(arr.shape)}{hint}")
    if arr.shape[0] < 1 or arr.shape[1] < 3:
        raise DataError(f"{name}: expected at least 1 frame and 3 vertices, got shape {tuple(arr.shape)}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise DataError(f"{name}: expected real-valued coordinates, got dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    finite = np.isfinite(arr).all(axis=(1, 2))
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise DataError(f"{name}: NaN or infinite coordinates in {bad.size} frame(s), first at frame {int(bad[0])}")
    return arr


def _check_faces(x: Any, num_vertices: int) -> np.ndarray:
    arr = _to_numpy(x)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] < 1:
        raise DataError(f"faces: expected shape (F, 3) of vertex indices, got {tuple(arr.shape)}")
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all() and (arr == np.round(arr)).all():
            arr = arr.astype(np.int64)
        else:
            raise DataError(f"faces: expected integer vertex indices, got dtype {arr.dtype}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= num_vertices:
        raise DataError(
            f"faces: vertex indices must lie in 0..{num_vertices - 1} (V = {num_vertices}), "
            f"found indices from {lo} to {hi}"
        )
    return arr.astype(np.int64, copy=False)


def _check_positive_number(value: Any, name: str) -> None:
    try:
        ok = float(value) > 0 and np.isfinite(float(value))
    except (TypeError, ValueError):
        ok = False
    if not ok or isinstance(value, bool):
        raise ConfigError(f"{name}: expected a positive number, got {value!r}")


class _MeshPanelRenderer:
    """Draw one or more mesh panels into a single reused Agg figure; returns RGB frames."""

    def __init__(
        self,
        faces: np.ndarray,
        first_frames: list[np.ndarray],
        labels: list[str] | None,
        rotation: np.ndarray,
        size: int,
        title: str | None,
    ) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import PolyCollection
        from matplotlib.figure import Figure
        from matplotlib.path import Path

        self.faces = faces
        self.rotation = rotation.T.astype(np.float32)  # mesh coords @ R.T -> (right, up, towards camera)
        n = len(first_frames)
        dpi = 100
        self.fig = Figure(figsize=(size * n / dpi, size / dpi), dpi=dpi, facecolor=_BACKGROUND)
        self.canvas = FigureCanvasAgg(self.fig)

        # One framing for all panels: the bounding square of the first frames, with head-room.
        view = np.concatenate([f @ self.rotation for f in first_frames], axis=0)
        lo, hi = view[:, :2].min(axis=0), view[:, :2].max(axis=0)
        center = (lo + hi) / 2
        half = max(float((hi - lo).max()) / 2 * _MARGIN, 1e-6)

        self.collections: list[PolyCollection] = []
        self.buffers: dict[int, np.ndarray | None] = {}
        self.base_colors: list[np.ndarray] = []
        for i in range(n):
            ax = self.fig.add_axes((i / n, 0.0, 1.0 / n, 1.0))
            ax.set_axis_off()
            ax.set_xlim(center[0] - half, center[0] + half)
            ax.set_ylim(center[1] - half, center[1] + half)
            # (F, 4, 2) closed triangles; one Path per face, each a view into this buffer.
            buf = np.zeros((len(faces), 4, 2), dtype=np.float64)
            # Aliased fill, no edges: anti-aliased triangles leave visible seams between
            # neighbours, and stroking edges to hide them doubles the drawing time.
            coll = PolyCollection([], closed=True, linewidths=0.0, edgecolors="none", antialiaseds=False)
            codes = np.array([Path.MOVETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY], dtype=Path.code_type)
            coll.set_verts_and_codes(buf, [codes] * len(faces))
            paths = coll.get_paths()
            if not (np.shares_memory(paths[0].vertices, buf) and np.shares_memory(paths[-1].vertices, buf)):
                buf = None  # a matplotlib that copies vertices: fall back to set_verts per frame
            self.buffers[id(coll)] = buf
            ax.add_collection(coll)
            self.collections.append(coll)
            label = labels[i] if labels else "prediction"
            self.base_colors.append(np.array(_COLORS.get(label, _COLORS["prediction"]), dtype=np.float32))
            if labels:
                ax.text(0.5, 0.97, label, transform=ax.transAxes, ha="center", va="top", fontsize=max(8, size // 32))
        if title:
            self.fig.text(0.5, 0.02, title, ha="center", va="bottom", fontsize=max(8, size // 36))

    def _update(self, coll: Any, base: np.ndarray, vertices: np.ndarray) -> None:
        v = vertices @ self.rotation  # (V, 3): screen x, screen y, depth (larger = nearer)
        tri = v[self.faces]  # (F, 3, 3)
        normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        norm = np.linalg.norm(normals, axis=1)
        np.divide(normals, norm[:, None], out=normals, where=norm[:, None] > 0)
        # Two-sided Lambert: open meshes (mouth, eyes, neck) show their inside faces too.
        shade = _AMBIENT + (1.0 - _AMBIENT) * np.abs(normals @ _LIGHT)
        order = np.argsort(tri[:, :, 2].sum(axis=1), kind="stable")  # far to near
        colors = np.empty((len(order), 4), dtype=np.float32)
        colors[:, :3] = shade[order, None] * base
        colors[:, 3] = 1.0
        # Write the sorted triangles into the buffer the collection's paths view (set up once);
        # far cheaper than set_verts, which builds F new Path objects every frame.
        buf = self.buffers[id(coll)]
        if buf is not None:
            buf[:, :3] = tri[order, :, :2]
            buf[:, 3] = buf[:, 0]
            coll.stale = True
        else:
            coll.set_verts(tri[order, :, :2])
        coll.set_facecolor(colors)

    def render(self, frames: list[np.ndarray]) -> np.ndarray:
        """Draw one time step (one (V, 3) array per panel); return an (H, W, 3) uint8 image."""
        for coll, base, verts in zip(self.collections, self.base_colors, frames):
            self._update(coll, base, verts)
        self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()

    def close(self) -> None:
        self.fig.clear()


def render_mesh_sequence(
    vertices: Any,
    faces: Any,
    *,
    fps: float,
    audio: Any = None,
    sample_rate: int | None = None,
    out_path: str | os.PathLike[str],
    ground_truth: Any = None,
    size: int = 512,
    view: str = "front",
    progress: bool = True,
    title: str | None = None,
) -> Path:
    """Render a vertex sequence (optionally beside its ground truth) to an mp4 with audio.

    Rendering is headless and CPU-only (matplotlib Agg): orthographic camera, flat Lambertian
    shading from face normals, painter's-algorithm depth order. The framing is fixed for the
    whole sequence from the first frame's bounding box (shared by both panels), so the face
    does not jump. Frames are streamed to :func:`~talkzoo.render.video.write_video`, which
    writes atomically (no partial file on failure).

    Args:
        vertices: predicted vertex positions, shape ``(T, V, 3)``, float, metres (numpy array or
            torch tensor on any device); ``+y`` up, ``+z`` towards the viewer (FLAME convention).
        faces: triangle vertex indices, shape ``(F, 3)``, integer, each in ``0..V-1``.
        fps: frame rate of the sequence in frames per second (e.g. 30 for VOCASET, 25 for BIWI).
        audio: optional mono waveform ``(N,)``, float in [-1, 1], muxed as the AAC audio track.
        sample_rate: sampling rate of ``audio`` in Hz; required when ``audio`` is given.
        out_path: the mp4 file to write (parent folders are created).
        ground_truth: optional reference sequence, same shape as ``vertices``; when given each
            video frame shows "prediction" (left) and "ground truth" (right), doubling the width.
        size: height and per-panel width of the video in pixels (>= 16). The video is
            ``size x size`` or, with ground truth, ``size x 2*size`` (H x W).
        view: camera: ``"front"``, ``"left"`` (profile from ``+x``, the subject's left) or
            ``"right"`` (profile from ``-x``).
        progress: show a tqdm progress bar (on stderr) while rendering.
        title: optional caption drawn at the bottom centre of every frame.

    Returns:
        ``Path`` of the written mp4 (``T`` frames at ``fps``, H.264 yuv420p, AAC audio if given).

    Raises:
        DataError: ``vertices`` is not ``(T, V, 3)`` or holds NaN/inf; ``faces`` is not ``(F, 3)``
            integer or indexes outside ``0..V-1``; ``ground_truth`` differs in shape from
            ``vertices`` or holds NaN/inf; the audio is invalid or lacks ``sample_rate``.
            Every message names the offending argument.
        ConfigError: ``fps`` not positive, ``size`` below 16, or an unknown ``view``.
    """
    verts = _check_vertices(vertices, "vertices")
    tris = _check_faces(faces, verts.shape[1])
    gt = None
    if ground_truth is not None:
        gt = _check_vertices(ground_truth, "ground_truth")
        if gt.shape != verts.shape:
            raise DataError(
                f"ground_truth: shape {tuple(gt.shape)} differs from vertices {tuple(verts.shape)}; "
                "trim both to the same number of frames first"
            )
    _check_positive_number(fps, "fps")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or int(size) < 16:
        raise ConfigError(f"size: expected an integer number of pixels >= 16, got {size!r}")
    if view not in VIEWS:
        raise ConfigError(f"view: expected one of {sorted(VIEWS)}, got {view!r}")

    seqs = [verts] if gt is None else [verts, gt]
    labels = None if gt is None else ["prediction", "ground truth"]
    num_frames = verts.shape[0]

    def frames() -> Iterator[np.ndarray]:
        from tqdm.auto import tqdm

        renderer = _MeshPanelRenderer(tris, [s[0] for s in seqs], labels, VIEWS[view], int(size), title)
        try:
            for t in tqdm(range(num_frames), total=num_frames, disable=not progress, desc="render", unit="frame"):
                yield renderer.render([s[t] for s in seqs])
        finally:
            renderer.close()

    return write_video(out_path, frames(), fps, audio=audio, sample_rate=sample_rate)
