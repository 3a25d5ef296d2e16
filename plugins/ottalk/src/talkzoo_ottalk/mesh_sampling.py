"""Mesh checks and the CoMA-style mesh hierarchy (down- and up-sampling matrices) of OT-Talk.

OT-Talk §3.1 (after CoMA, Ranjan et al. ECCV 2018): the template mesh is decimated by quadric
error metrics (QEM, Garland & Heckbert 1997) into a hierarchy of coarser meshes; a down-sampling
matrix ``D_l`` (``n_{l+1} x n_l``) takes features from level ``l`` to ``l+1`` and an up-sampling
matrix ``U_l`` (``n_l x n_{l+1}``) brings them back: "For a vertex in mesh M, we locate the nearest
triangle in M_d and then calculate the barycentric coordinates ... The weights in U are assigned
as w_i, w_j, w_k, while 0 for all other entries". Each pooling keeps 1/4 of the vertices.

This module is numpy-only (no torch) and written for talkzoo from those descriptions:

* **Decimation**: ``fast_simplification`` (QEM edge collapses; ``return_collapses=True`` gives the
  collapse history ``[i0, i1]`` = vertex ``i1`` merged into ``i0``). The history is replayed with a
  union-find for exactly ``n_l - n_{l+1}`` collapses, so every level has exactly
  ``n_{l+1} = ceil(n_l / factor)`` vertices, each coarse vertex being one *original* vertex (the
  survivor of its collapses) that stands for a cluster of fine vertices. When QEM runs out of
  valid collapses before the target (tiny or strip-like meshes), the shortest remaining edge of
  the cluster graph is contracted (ours, not in the paper; logged in ``HierarchyInfo``).
* **Down-sampling** ``D_l``: ``"pick"`` (default, CoMA's selection matrix: coarse vertex = its
  surviving original vertex) or ``"average"`` (mean of its cluster).
* **Up-sampling** ``U_l``: barycentric coordinates of the closest point of the nearest coarse
  triangle (exact search: bounding-sphere pruning, then ``trimesh.triangles.closest_point``);
  a coarse level without triangles (only for tiny meshes) uses the nearest coarse vertex.
* **Graph**: the edges of level ``l+1`` are the fine edges mapped through the clusters (so a
  level keeps the connectivity of the mesh even after its triangles collapse).

The hierarchy is cached on disk per template (:func:`load_or_build_hierarchy`): key = SHA-256 of
the template vertices (float64), faces (int64), factors, down-sampling mode and the algorithm
version; files are written atomically (temporary file + ``os.replace``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from talkzoo.errors import DataError

__all__ = [
    "HIERARCHY_VERSION",
    "MeshHierarchy",
    "build_mesh_hierarchy",
    "default_cache_dir",
    "hierarchy_cache_key",
    "level_sizes",
    "load_or_build_hierarchy",
    "mesh_edges",
    "round_trip_error",
    "validate_faces",
    "validate_template",
]

log = logging.getLogger(__name__)

#: bump when the algorithm changes, so old cache files are not reused.
HIERARCHY_VERSION = 1

DownMode = Literal["pick", "average"]


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def validate_faces(faces: np.ndarray, num_vertices: int, source: str = "faces") -> np.ndarray:
    """Check that ``faces`` is a manifold triangle mesh over ``num_vertices`` vertices.

    Checks, in order: shape ``(F, 3)`` with ``F >= 1``, integer dtype, indices in
    ``[0, num_vertices)``, no triangle repeating a vertex, no duplicated triangle, every vertex
    used by a triangle, every edge shared by at most two triangles (edge-manifold), and the
    triangles around every vertex forming one fan (vertex-manifold, no "bow-tie"). Orientation
    consistency is *not* required (the losses compare two meshes of the same topology).

    Args:
        faces: ``(F, 3)`` integer triangle array.
        num_vertices: vertex count ``V`` of the topology.
        source: name of the array's origin (a file path) used in messages.

    Returns:
        ``(F, 3)`` int64 copy of ``faces``.

    Raises:
        talkzoo.errors.DataError: naming the first check that failed and an example.
    """
    arr = np.asarray(faces)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] < 1:
        raise DataError(f"{source}: expected a (F, 3) triangle array with F >= 1, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise DataError(f"{source}: triangle indices must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= num_vertices:
        raise DataError(
            f"{source}: vertex index {lo if lo < 0 else hi} is out of range for a mesh of {num_vertices} vertices "
            "(the faces do not belong to this template / vertex count)"
        )
    degenerate = (arr[:, 0] == arr[:, 1]) | (arr[:, 1] == arr[:, 2]) | (arr[:, 0] == arr[:, 2])
    if degenerate.any():
        i = int(np.flatnonzero(degenerate)[0])
        raise DataError(f"{source}: not a triangle mesh: triangle {i} {arr[i].tolist()} repeats a vertex")
    key = np.sort(arr, axis=1)
    _, first, counts = np.unique(key, axis=0, return_index=True, return_counts=True)
    if (counts > 1).any():
        i = int(first[np.flatnonzero(counts > 1)[0]])
        raise DataError(f"{source}: not a manifold triangle mesh: triangle {arr[i].tolist()} appears more than once")
    used = np.zeros(num_vertices, dtype=bool)
    used[arr.reshape(-1)] = True
    if not used.all():
        missing = np.flatnonzero(~used)
        raise DataError(
            f"{source}: {missing.size} of {num_vertices} vertices belong to no triangle "
            f"(e.g. {missing[:5].tolist()}); every template vertex must lie on the surface"
        )
    # edge-manifold: each undirected edge in at most two triangles
    nf = arr.shape[0]
    e = np.concatenate([arr[:, [0, 1]], arr[:, [1, 2]], arr[:, [2, 0]]], axis=0)
    e_face = np.tile(np.arange(nf), 3)
    e_sorted = np.sort(e, axis=1)
    uniq, inverse, counts = np.unique(e_sorted, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    if (counts > 2).any():
        j = int(np.flatnonzero(counts > 2)[0])
        raise DataError(
            f"{source}: not a manifold triangle mesh: edge {uniq[j].tolist()} is shared by {int(counts[j])} "
            "triangles (at most 2 allowed)"
        )
    # vertex-manifold: corners (face, vertex) joined across interior edges must give one fan per vertex
    # corners are indexed face * 3 + local position
    local = np.concatenate([np.stack([np.zeros(nf), np.ones(nf)], 1), np.stack([np.ones(nf), 2 * np.ones(nf)], 1),
                            np.stack([2 * np.ones(nf), np.zeros(nf)], 1)]).astype(np.int64)  # fmt: skip
    order = np.argsort(inverse, kind="stable")
    inv_sorted = inverse[order]
    pair_start = np.flatnonzero(np.r_[True, inv_sorted[1:] != inv_sorted[:-1]])
    pair_len = np.diff(np.r_[pair_start, inv_sorted.size])
    shared = pair_start[pair_len == 2]
    a_idx, b_idx = order[shared], order[shared + 1]
    rows, cols = [], []
    for end in (0, 1):
        va = e[a_idx, end]
        # corner of face a at vertex va, and corner of face b at the same vertex
        ca = e_face[a_idx] * 3 + local[a_idx, end]
        fb = e_face[b_idx]
        lb = np.where(arr[fb, 0] == va, 0, np.where(arr[fb, 1] == va, 1, 2))
        cb = fb * 3 + lb
        rows.append(ca)
        cols.append(cb)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows_a, cols_a = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(rows_a.size), (rows_a, cols_a)), shape=(3 * nf, 3 * nf))
    _, labels = connected_components(graph, directed=False)
    corner_vertex = arr.reshape(-1)
    pairs = np.unique(np.stack([corner_vertex, labels], 1), axis=0)
    fans = np.bincount(pairs[:, 0], minlength=num_vertices)
    if (fans > 1).any():
        v = int(np.flatnonzero(fans > 1)[0])
        raise DataError(
            f"{source}: not a manifold triangle mesh: the triangles around vertex {v} form {int(fans[v])} "
            "separate fans (a non-manifold 'bow-tie' vertex)"
        )
    return arr


def validate_template(
    vertices: np.ndarray, faces: np.ndarray, num_vertices: int | None = None, source: str = "template"
) -> tuple[np.ndarray, np.ndarray]:
    """Check a template mesh: finite ``(V, 3)`` vertices, ``V == num_vertices``, manifold faces.

    Args:
        vertices: ``(V, 3)`` float vertex positions (metres).
        faces: ``(F, 3)`` integer triangles.
        num_vertices: vertex count the data has (``spec.num_vertices``); ``None`` skips that check.
        source: name of the template's origin used in messages.

    Returns:
        ``(vertices as (V, 3) float64, faces as (F, 3) int64)``.

    Raises:
        talkzoo.errors.DataError: wrong shape, non-finite values, a vertex count that does not
            match the data, or faces that are not a manifold triangle mesh (see :func:`validate_faces`).
    """
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise DataError(f"{source}: expected (V, 3) vertex positions, got shape {v.shape}")
    if num_vertices is not None and v.shape[0] != num_vertices:
        raise DataError(
            f"{source}: has {v.shape[0]} vertices but the data has {num_vertices} (spec.num_vertices); "
            "the template must have the topology of the dataset"
        )
    if not np.all(np.isfinite(v)):
        raise DataError(f"{source}: vertex positions contain NaN or infinity")
    f = validate_faces(faces, v.shape[0], source=f"{source} faces")
    return v, f


# --------------------------------------------------------------------------------------------
# hierarchy
# --------------------------------------------------------------------------------------------


def level_sizes(num_vertices: int, factors: tuple[int, ...] | list[int]) -> list[int]:
    """Vertex counts of the hierarchy: ``n_0 = V``, ``n_{l+1} = ceil(n_l / factors[l])``.

    Example: VOCASET/FLAME ``5023 -> 1256 -> 314 -> 79`` with factors ``(4, 4, 4)`` (the CoMA
    series; OT-Talk's own sizes were lost from the text copy, so this is our inference).
    """
    sizes = [int(num_vertices)]
    for f in factors:
        if int(f) < 1:
            raise ValueError(f"pooling factors must be >= 1, got {list(factors)}")
        sizes.append(max(1, math.ceil(sizes[-1] / int(f))))
    return sizes


def mesh_edges(faces: np.ndarray) -> np.ndarray:
    """Unique undirected edges ``(E, 2)`` int64 (``u < v``) of a triangle array."""
    f = np.asarray(faces, dtype=np.int64)
    if f.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], axis=0)
    return np.unique(np.sort(e, axis=1), axis=0)


@dataclass
class MeshHierarchy:
    """Meshes and sampling matrices of every level (numpy, level 0 = the template).

    Attributes:
        sizes: ``[n_0, ..., n_L]`` vertex counts.
        vertices: per level ``(n_l, 3)`` float64 positions (level ``l+1`` = ``D_l @`` level ``l``).
        faces: per level ``(F_l, 3)`` int64 triangles (may be empty on tiny coarse levels).
        edges: per level ``(E_l, 2)`` int64 undirected graph edges ``u < v``.
        down: per pooling ``l`` the COO triple ``(rows, cols, vals)`` of ``D_l`` (``n_{l+1} x n_l``).
        up: per pooling ``l`` the COO triple of ``U_l`` (``n_l x n_{l+1}``).
        fallback_merges: per pooling, how many contractions QEM could not provide (0 normally).
    """

    sizes: list[int]
    vertices: list[np.ndarray]
    faces: list[np.ndarray]
    edges: list[np.ndarray]
    down: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    up: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    fallback_merges: list[int] = field(default_factory=list)

    @property
    def num_levels(self) -> int:
        """Number of pooling steps ``L``."""
        return len(self.sizes) - 1

    def downsample(self, x: np.ndarray, level: int) -> np.ndarray:
        """Apply ``D_level`` to ``(n_level, C)`` values → ``(n_{level+1}, C)``."""
        return _apply_coo(self.down[level], x, self.sizes[level + 1])

    def upsample(self, x: np.ndarray, level: int) -> np.ndarray:
        """Apply ``U_level`` to ``(n_{level+1}, C)`` values → ``(n_level, C)``."""
        return _apply_coo(self.up[level], x, self.sizes[level])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flatten into named arrays (for ``np.savez`` and checkpoint extra state)."""
        out: dict[str, np.ndarray] = {"sizes": np.asarray(self.sizes, dtype=np.int64),
                                      "fallback_merges": np.asarray(self.fallback_merges, dtype=np.int64)}  # fmt: skip
        for l in range(len(self.sizes)):
            out[f"vertices_{l}"] = self.vertices[l]
            out[f"faces_{l}"] = self.faces[l]
            out[f"edges_{l}"] = self.edges[l]
        for l in range(self.num_levels):
            for name, (r, c, v) in (("down", self.down[l]), ("up", self.up[l])):
                out[f"{name}_{l}_rows"], out[f"{name}_{l}_cols"], out[f"{name}_{l}_vals"] = r, c, v
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "MeshHierarchy":
        """Inverse of :meth:`to_arrays` (raises ``KeyError`` on a malformed dict)."""
        sizes = [int(s) for s in np.asarray(arrays["sizes"])]
        n = len(sizes)
        get = lambda k: np.asarray(arrays[k])  # noqa: E731
        return cls(
            sizes=sizes,
            vertices=[get(f"vertices_{l}").astype(np.float64) for l in range(n)],
            faces=[get(f"faces_{l}").astype(np.int64).reshape(-1, 3) for l in range(n)],
            edges=[get(f"edges_{l}").astype(np.int64).reshape(-1, 2) for l in range(n)],
            down=[tuple(get(f"down_{l}_{p}") for p in ("rows", "cols", "vals")) for l in range(n - 1)],  # type: ignore[misc]
            up=[tuple(get(f"up_{l}_{p}") for p in ("rows", "cols", "vals")) for l in range(n - 1)],  # type: ignore[misc]
            fallback_merges=[int(x) for x in np.asarray(arrays.get("fallback_merges", np.zeros(n - 1)))],
        )


def _apply_coo(coo: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray, n_out: int) -> np.ndarray:
    rows, cols, vals = coo
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros((n_out,) + x.shape[1:], dtype=np.float64)
    np.add.at(out, rows, x[cols] * vals.reshape((-1,) + (1,) * (x.ndim - 1)))
    return out


def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        parent[i], i = root, parent[i]
    return root


def _qem_collapses(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Full QEM collapse history ``(n, 2)`` of a mesh (``[i0, i1]``: ``i1`` merged into ``i0``)."""
    if faces.shape[0] == 0:
        return np.zeros((0, 2), dtype=np.int64)
    import fast_simplification

    try:
        _, _, collapses = fast_simplification.simplify(
            np.ascontiguousarray(points, dtype=np.float64),
            np.ascontiguousarray(faces, dtype=np.int64),
            target_reduction=1.0,
            return_collapses=True,
        )
    except Exception as exc:  # noqa: BLE001 - a library failure must not stop the hierarchy
        log.warning("QEM decimation failed (%s); falling back to shortest-edge contraction", exc)
        return np.zeros((0, 2), dtype=np.int64)
    return np.asarray(collapses, dtype=np.int64).reshape(-1, 2)


def _decimate(points: np.ndarray, faces: np.ndarray, edges: np.ndarray, n_target: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Contract ``points`` to exactly ``n_target`` clusters.

    Returns ``(cluster, survivor, n_fallback)``: ``cluster[i]`` = coarse index of fine vertex ``i``,
    ``survivor[c]`` = the fine vertex kept for coarse vertex ``c`` (sorted ascending), and the
    number of contractions that QEM could not supply.
    """
    n = points.shape[0]
    parent = np.arange(n)
    size = np.ones(n, dtype=np.int64)
    needed = n - n_target
    done = 0
    for i0, i1 in _qem_collapses(points, faces):
        if done >= needed:
            break
        if not (0 <= i0 < n and 0 <= i1 < n):
            continue
        r0, r1 = _find(parent, int(i0)), _find(parent, int(i1))
        if r0 == r1:
            continue
        parent[r1] = r0
        size[r0] += size[r1]
        done += 1
    n_fallback = 0
    while done < needed:  # QEM ran out of valid collapses: contract the shortest cluster edge
        roots = np.array([_find(parent, i) for i in range(n)])
        ce = roots[edges] if edges.size else np.zeros((0, 2), dtype=np.int64)
        ce = ce[ce[:, 0] != ce[:, 1]] if ce.size else ce
        if ce.size:
            lengths = np.linalg.norm(points[ce[:, 0]] - points[ce[:, 1]], axis=1)
            a, b = (int(x) for x in ce[int(np.argmin(lengths))])
        else:  # no edge left between clusters: merge the two closest survivors
            alive = np.unique(roots)
            d = np.linalg.norm(points[alive][:, None] - points[alive][None], axis=-1)
            d[np.diag_indices_from(d)] = np.inf
            i, j = np.unravel_index(int(np.argmin(d)), d.shape)
            a, b = int(alive[i]), int(alive[j])
        keep, drop = (a, b) if (size[a], -a) >= (size[b], -b) else (b, a)
        parent[drop] = keep
        size[keep] += size[drop]
        done += 1
        n_fallback += 1
    roots = np.array([_find(parent, i) for i in range(n)])
    survivor = np.unique(roots)
    cluster = np.searchsorted(survivor, roots)
    return cluster.astype(np.int64), survivor.astype(np.int64), n_fallback


def _closest_on_triangles(points: np.ndarray, tri_xyz: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest triangle of each point: ``(triangle index (P,), closest point (P, 3))``."""
    from trimesh.triangles import closest_point as tri_closest

    centre = tri_xyz.mean(axis=1)
    radius = np.linalg.norm(tri_xyz - centre[:, None], axis=-1).max(axis=1)
    best_tri = np.zeros(points.shape[0], dtype=np.int64)
    best_pt = np.zeros_like(points)
    for s in range(0, points.shape[0], chunk):
        p = points[s : s + chunk]
        dc = np.linalg.norm(p[:, None, :] - centre[None], axis=-1)  # (P, T)
        lower = dc - radius[None]
        upper = np.linalg.norm(p[:, None, None, :] - tri_xyz[None], axis=-1).min(axis=(1, 2))  # nearest corner
        pi, ti = np.nonzero(lower <= upper[:, None] + 1e-12)
        cp = tri_closest(tri_xyz[ti], p[pi])
        dist = np.linalg.norm(cp - p[pi], axis=1)
        order = np.lexsort((ti, dist, pi))  # per point: smallest distance, then lowest triangle id
        first = order[np.r_[True, pi[order][1:] != pi[order][:-1]]]
        best_tri[s + pi[first]] = ti[first]
        best_pt[s + pi[first]] = cp[first]
    return best_tri, best_pt


def _upsampling(fine: np.ndarray, coarse: np.ndarray, coarse_faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COO of ``U`` (fine x coarse): barycentric weights on the nearest coarse triangle."""
    n = fine.shape[0]
    if coarse_faces.shape[0] == 0:
        d = np.linalg.norm(fine[:, None] - coarse[None], axis=-1)
        return np.arange(n, dtype=np.int64), d.argmin(axis=1).astype(np.int64), np.ones(n)
    from trimesh.triangles import points_to_barycentric

    tri_xyz = coarse[coarse_faces]
    tri, closest = _closest_on_triangles(fine, tri_xyz)
    bary = points_to_barycentric(tri_xyz[tri], closest)
    bary = np.nan_to_num(bary, nan=1.0 / 3.0)
    bary = np.clip(bary, 0.0, None)
    bary /= np.clip(bary.sum(axis=1, keepdims=True), 1e-12, None)
    rows = np.repeat(np.arange(n, dtype=np.int64), 3)
    cols = coarse_faces[tri].reshape(-1)
    vals = bary.reshape(-1)
    keep = vals > 0
    return rows[keep], cols[keep], vals[keep]


def build_mesh_hierarchy(
    vertices: np.ndarray,
    faces: np.ndarray,
    factors: tuple[int, ...] | list[int] = (4, 4, 4),
    down_mode: DownMode = "pick",
) -> MeshHierarchy:
    """Build the QEM hierarchy and its sampling matrices from a template (no cache; see module doc).

    Args:
        vertices: ``(V, 3)`` float template positions (metres).
        faces: ``(F, 3)`` int triangles (validated by :func:`validate_template`).
        factors: vertex reduction per pooling (OT-Talk: 1/4 each, 3 poolings).
        down_mode: ``"pick"`` (CoMA selection matrix) or ``"average"`` (cluster mean).

    Returns:
        :class:`MeshHierarchy` with ``sizes == level_sizes(V, factors)``.

    Raises:
        talkzoo.errors.DataError: a bad template (see :func:`validate_template`).
        ValueError: a bad ``down_mode`` or factor.
    """
    if down_mode not in ("pick", "average"):
        raise ValueError(f"down_mode must be 'pick' or 'average', got {down_mode!r}")
    v, f = validate_template(vertices, faces)
    sizes = level_sizes(v.shape[0], factors)
    verts, facs, edgs, downs, ups, fallbacks = [v], [f], [mesh_edges(f)], [], [], []
    for l in range(len(factors)):
        p, fl, el = verts[-1], facs[-1], edgs[-1]
        cluster, survivor, n_fb = _decimate(p, fl, el, sizes[l + 1])
        nc = survivor.size
        if down_mode == "pick":
            down = (np.arange(nc, dtype=np.int64), survivor, np.ones(nc))
        else:
            counts = np.bincount(cluster, minlength=nc).astype(np.float64)
            down = (cluster, np.arange(p.shape[0], dtype=np.int64), 1.0 / counts[cluster])
        coarse = _apply_coo(down, p, nc)
        cf = cluster[fl] if fl.size else np.zeros((0, 3), dtype=np.int64)
        if cf.size:
            ok = (cf[:, 0] != cf[:, 1]) & (cf[:, 1] != cf[:, 2]) & (cf[:, 0] != cf[:, 2])
            cf = cf[ok]
            _, first = np.unique(np.sort(cf, axis=1), axis=0, return_index=True)
            cf = cf[np.sort(first)]
        ce = cluster[el] if el.size else np.zeros((0, 2), dtype=np.int64)
        ce = ce[ce[:, 0] != ce[:, 1]] if ce.size else ce
        ce = np.unique(np.sort(ce, axis=1), axis=0) if ce.size else np.zeros((0, 2), dtype=np.int64)
        ups.append(_upsampling(p, coarse, cf.reshape(-1, 3)))
        downs.append(down)
        verts.append(coarse)
        facs.append(cf.reshape(-1, 3).astype(np.int64))
        edgs.append(ce.astype(np.int64))
        fallbacks.append(n_fb)
        if n_fb:
            log.info("mesh hierarchy level %d: QEM gave %d of %d contractions; %d by shortest edge",
                     l + 1, p.shape[0] - sizes[l + 1] - n_fb, p.shape[0] - sizes[l + 1], n_fb)  # fmt: skip
    return MeshHierarchy(sizes=sizes, vertices=verts, faces=facs, edges=edgs, down=downs, up=ups, fallback_merges=fallbacks)


def round_trip_error(hierarchy: MeshHierarchy, vertices: np.ndarray | None = None) -> dict[str, float]:
    """Shape error of down- then up-sampling the template through the hierarchy.

    For every depth ``k`` the template goes down ``k`` levels and back up:
    ``U_0 ... U_{k-1} D_{k-1} ... D_0 x``. Reported per depth: the mean and max Euclidean vertex
    error and the RMS error, in the template's units (metres), and the same relative to the
    template's bounding-box diagonal.

    Args:
        hierarchy: the hierarchy.
        vertices: ``(V, 3)`` positions to round-trip (default: the hierarchy's level 0).

    Returns:
        ``{"mean_<k>": ..., "max_<k>": ..., "rms_<k>": ..., "rel_mean_<k>": ..., "rel_max_<k>": ...}``
        for ``k = 1..L``, plus ``"diag"`` (bounding-box diagonal).
    """
    x = hierarchy.vertices[0] if vertices is None else np.asarray(vertices, dtype=np.float64)
    diag = float(np.linalg.norm(x.max(0) - x.min(0))) or 1.0
    out: dict[str, float] = {"diag": diag}
    for k in range(1, hierarchy.num_levels + 1):
        y = x
        for l in range(k):
            y = hierarchy.downsample(y, l)
        for l in reversed(range(k)):
            y = hierarchy.upsample(y, l)
        err = np.linalg.norm(y - x, axis=1)
        out[f"mean_{k}"] = float(err.mean())
        out[f"max_{k}"] = float(err.max())
        out[f"rms_{k}"] = float(np.sqrt((err**2).mean()))
        out[f"rel_mean_{k}"] = out[f"mean_{k}"] / diag
        out[f"rel_max_{k}"] = out[f"max_{k}"] / diag
    return out


# --------------------------------------------------------------------------------------------
# disk cache
# --------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$TALKZOO_CACHE/mesh_hierarchy`` if set, else ``~/.cache/talkzoo/mesh_hierarchy``."""
    base = os.environ.get("TALKZOO_CACHE")
    return Path(base) / "mesh_hierarchy" if base else Path.home() / ".cache" / "talkzoo" / "mesh_hierarchy"


def hierarchy_cache_key(vertices: np.ndarray, faces: np.ndarray, factors: tuple[int, ...] | list[int], down_mode: str) -> str:
    """SHA-256 hex key of (algorithm version, vertices as float64, faces as int64, factors, mode)."""
    h = hashlib.sha256()
    h.update(f"ottalk-mesh-hierarchy-v{HIERARCHY_VERSION}|{tuple(int(f) for f in factors)}|{down_mode}|".encode())
    v = np.ascontiguousarray(np.asarray(vertices, dtype=np.float64))
    f = np.ascontiguousarray(np.asarray(faces, dtype=np.int64))
    h.update(str(v.shape).encode() + v.tobytes())
    h.update(str(f.shape).encode() + f.tobytes())
    return h.hexdigest()


def load_or_build_hierarchy(
    vertices: np.ndarray,
    faces: np.ndarray,
    factors: tuple[int, ...] | list[int] = (4, 4, 4),
    down_mode: DownMode = "pick",
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> MeshHierarchy:
    """:func:`build_mesh_hierarchy` with an on-disk cache keyed by :func:`hierarchy_cache_key`.

    A readable cache file is reused; an unreadable/corrupt one is rebuilt and replaced. The file
    ``<cache_dir>/<key>.npz`` is written to a temporary file in the same folder and moved into
    place with ``os.replace`` (atomic: concurrent processes never see a partial file). A cache
    folder that cannot be created or written only logs a warning.

    Args:
        vertices, faces, factors, down_mode: see :func:`build_mesh_hierarchy`.
        cache_dir: folder of the cache (default :func:`default_cache_dir`).
        use_cache: ``False`` always rebuilds and writes nothing.

    Raises:
        talkzoo.errors.DataError: a bad template.
    """
    v, f = validate_template(vertices, faces)
    if not use_cache:
        return build_mesh_hierarchy(v, f, factors, down_mode)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = folder / f"{hierarchy_cache_key(v, f, factors, down_mode)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                hier = MeshHierarchy.from_arrays({k: data[k] for k in data.files})
            if hier.sizes == level_sizes(v.shape[0], factors):
                return hier
        except Exception as exc:  # noqa: BLE001 - corrupt cache: rebuild
            log.warning("ignoring unreadable mesh-hierarchy cache %s (%s)", path, exc)
    hier = build_mesh_hierarchy(v, f, factors, down_mode)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=path.stem[:16] + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **hier.to_arrays())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        log.warning("could not write the mesh-hierarchy cache %s (%s)", path, exc)
    return hier
