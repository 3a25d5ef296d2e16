"""Piecewise-affine image warping over a triangle mesh (numpy, vectorised).

Each output pixel centre is located in a triangle of the mesh at its TARGET positions; its
barycentric coordinates there give the matching point of the same triangle at its SOURCE
positions, where the source image is sampled bilinearly. Within a triangle the map is affine,
so this is the classic piecewise-affine warp (as in active appearance models, Cootes et al.
2001; same definition as ``skimage.transform.PiecewiseAffineTransform``), written here as a
rasteriser over triangle bounding boxes so a 256 x 256 frame over ~1100 triangles takes a few
milliseconds. Where triangles overlap (a fold), the one listed last wins.

Pixel convention: ``(x, y)``, x right, y down, ``(0, 0)`` the centre of the top-left pixel.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bilinear_sample", "piecewise_affine_warp"]


def bilinear_sample(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample ``image`` at real pixel positions with bilinear interpolation (edge-clamped).

    Args:
        image: (H, W, C) float32 image.
        x, y: (...) float arrays of positions, pixels (pixel-centre convention).

    Returns:
        (..., C) float32 values.
    """
    h, w = image.shape[:2]
    x = np.clip(x, 0.0, w - 1.0)
    y = np.clip(y, 0.0, h - 1.0)
    x0 = np.minimum(np.floor(x).astype(np.int64), w - 2)
    y0 = np.minimum(np.floor(y).astype(np.int64), h - 2)
    fx = (x - x0).astype(np.float32)[..., None]
    fy = (y - y0).astype(np.float32)[..., None]
    flat = image.reshape(h * w, -1)
    i00 = y0 * w + x0
    top = np.take(flat, i00, axis=0) * (1 - fx) + np.take(flat, i00 + 1, axis=0) * fx
    bot = np.take(flat, i00 + w, axis=0) * (1 - fx) + np.take(flat, i00 + w + 1, axis=0) * fx
    return top * (1 - fy) + bot * fy


def piecewise_affine_warp(image: np.ndarray, source: np.ndarray, target: np.ndarray, triangles: np.ndarray,
                          out_hw: tuple[int, int]) -> np.ndarray:
    """Warp ``image`` so that each mesh point moves from ``source`` to ``target``.

    Args:
        image: (H, W, 3) float32 source image (any value range).
        source: (N, 2) float point positions in ``image``, pixels.
        target: (N, 2) float point positions in the output frame, pixels.
        triangles: (F, 3) int point indices; later triangles are drawn over earlier ones.
        out_hw: ``(height, width)`` of the output frame in pixels.

    Returns:
        (height, width, 3) float32 warped image. Output pixels that no triangle covers take the
        source pixel at the same position (identity map).
    """
    oh, ow = out_hw
    tri = np.asarray(triangles, dtype=np.int64)
    tgt = np.asarray(target, dtype=np.float64)[tri]  # (F, 3, 2)
    src = np.asarray(source, dtype=np.float64)[tri]
    # barycentric matrix per triangle: [b0, b1, b2] = inv([[x0 x1 x2], [y0 y1 y2], [1 1 1]]) @ [x, y, 1]
    mat = np.concatenate([tgt.transpose(0, 2, 1), np.ones((len(tri), 1, 3))], 1)
    det = np.linalg.det(mat)
    ok = np.abs(det) > 1e-9
    inv = np.zeros_like(mat)
    inv[ok] = np.linalg.inv(mat[ok])
    # affine source map per triangle: (x_s, y_s) = src^T @ bary = (src^T @ inv) @ [x, y, 1]
    aff = np.einsum("fkc,fkj->fcj", src, inv)  # (F, 2, 3)
    xmin = np.clip(np.ceil(tgt[:, :, 0].min(1) - 1e-9), 0, ow).astype(np.int64)
    xmax = np.clip(np.floor(tgt[:, :, 0].max(1) + 1e-9), -1, ow - 1).astype(np.int64)
    ymin = np.clip(np.ceil(tgt[:, :, 1].min(1) - 1e-9), 0, oh).astype(np.int64)
    ymax = np.clip(np.floor(tgt[:, :, 1].max(1) + 1e-9), -1, oh - 1).astype(np.int64)
    bw = np.maximum(xmax - xmin + 1, 0)
    bh = np.maximum(ymax - ymin + 1, 0)
    count = np.where(ok, bw * bh, 0)
    total = int(count.sum())
    fid = np.repeat(np.arange(len(tri), dtype=np.int32), count)
    start = np.repeat((np.cumsum(count) - count).astype(np.int32), count)
    local = np.arange(total, dtype=np.int32) - start
    wf = bw.astype(np.int32)[fid]
    px = xmin.astype(np.int32)[fid] + local % wf
    py = ymin.astype(np.int32)[fid] + local // wf
    g = inv.reshape(len(tri), 9)[fid]  # (K, 9): barycentric rows of each candidate's triangle
    fx, fy = px.astype(np.float64), py.astype(np.float64)
    inside = np.ones(total, dtype=bool)
    for r in range(3):
        inside &= g[:, 3 * r] * fx + g[:, 3 * r + 1] * fy + g[:, 3 * r + 2] >= -1e-7
    fid, px, py = fid[inside], px[inside], py[inside]
    # which triangle owns each pixel: the last one listed (fancy assignment runs in order)
    owner = np.full(oh * ow, -1, dtype=np.int64)
    owner[py.astype(np.int64) * ow + px] = fid
    yy, xx = np.divmod(np.arange(oh * ow, dtype=np.float64), ow)
    sx, sy = xx.copy(), yy.copy()
    has = owner >= 0
    a = aff.reshape(len(tri), 6)[owner[has]]  # (P, 6): rows of the 2x3 source maps
    xh, yh = xx[has], yy[has]
    sx[has] = a[:, 0] * xh + a[:, 1] * yh + a[:, 2]
    sy[has] = a[:, 3] * xh + a[:, 4] * yh + a[:, 5]
    out = bilinear_sample(image, sx.reshape(oh, ow), sy.reshape(oh, ow))
    return out.astype(np.float32, copy=False)
