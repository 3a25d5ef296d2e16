"""The portrait of the 2D demo corpus: image, its 468 FaceMesh landmarks, the warp mesh.

The portrait is scikit-image's ``astronaut()`` (NASA photograph of Eileen Collins, public
domain). ``talkzoo/assets/portrait`` (see its PROVENANCE.md) holds the 468 MediaPipe FaceMesh
landmarks found on it and the similarity ``template_to_image`` that maps a point of the 3D demo
face (``talkzoo/assets/face/template.npy``, metres) to image pixels, exactly (< 1e-5 px for
every vertex the 3D asset did not edit), so the 3D viseme rig of :mod:`talkzoo.data.demo3d`
drives the photograph directly.

Pixel convention used throughout the 2D demo code: ``(x, y)`` with x to the right and y down,
``(0, 0)`` the CENTRE of the top-left pixel (numpy indexing: pixel ``img[r, c]`` is at
``x = c, y = r``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from talkzoo.errors import ConfigError, DataError
from talkzoo.landmarks.ibug68 import IBUG68_FROM_FACEMESH

__all__ = ["IBUG68_FROM_MEDIAPIPE", "IDENTITIES", "Portrait", "WarpMesh", "build_warp_mesh", "load_portrait"]

#: The demo corpus's identities: the astronaut (scikit-image, NASA, public domain) and Grace Hopper
#: (matplotlib's sample data, US Navy, public domain); assets in ``talkzoo/assets/portrait[/hopper]``.
IDENTITIES = ("astronaut", "hopper")

#: MediaPipe FaceMesh vertex for each iBUG-300W 68-point landmark (index = iBUG point 0..67):
#: the project's one correspondence table, :data:`talkzoo.landmarks.ibug68.IBUG68_FROM_FACEMESH`
#: (its module docstring gives the method). The demo corpus's stored landmarks and the FaceMesh
#: landmarker that LMD/AKD and ``talkzoo data prepare`` use therefore name the same points.
IBUG68_FROM_MEDIAPIPE: tuple[int, ...] = IBUG68_FROM_FACEMESH


@dataclass(frozen=True)
class Portrait:
    """The demo portrait and its landmarks.

    Attributes:
        image: (H, W, 3) uint8 RGB photograph (512 x 512).
        landmarks: (468, 2) float64 FaceMesh landmarks in image pixels (pixel-centre convention).
        depth: (468,) float64 FaceMesh depth towards the viewer, in the x pixel scale.
        template_to_image: ``(A, b)``, A (3, 3) and b (3,) float64: a template point ``p``
            (metres, the 3D demo face's frame) lies at image ``(A @ p + b)[:2]`` (edge
            convention: subtract 0.5 for pixel centres) with depth ``(A @ p + b)[2]``.
        face_box: (4,) float64 ``x0, y0, x1, y1`` of the landmarks (pixel centres).
    """

    image: np.ndarray
    landmarks: np.ndarray
    depth: np.ndarray
    template_to_image: tuple[np.ndarray, np.ndarray]
    face_box: np.ndarray

    def project(self, points: np.ndarray) -> np.ndarray:
        """Template-frame points (..., 3) in metres -> image pixels (..., 2), pixel-centre convention."""
        a, b = self.template_to_image
        q = np.asarray(points, dtype=np.float64) @ a[:2].T + b[:2]
        return q - 0.5

    def unproject(self, xy: np.ndarray, depth: float) -> np.ndarray:
        """Image pixels (..., 2) (pixel centres) at image depth ``depth`` -> template-frame points (..., 3), metres."""
        a, b = self.template_to_image
        xy = np.asarray(xy, dtype=np.float64) + 0.5
        q = np.concatenate([xy, np.full(xy.shape[:-1] + (1,), float(depth))], -1)
        return (q - b) @ np.linalg.inv(a).T


def _identity_image(identity: str) -> np.ndarray:
    if identity == "hopper":
        import matplotlib
        from PIL import Image

        path = matplotlib.get_data_path() + "/sample_data/grace_hopper.jpg"
        try:
            with Image.open(path) as img:
                return np.ascontiguousarray(np.asarray(img.convert("RGB")))
        except OSError as exc:
            raise DataError(f"Grace Hopper's portrait {path} (matplotlib sample data) is missing or unreadable: {exc}") from exc
    try:
        from skimage.data import astronaut
    except ImportError as exc:
        raise ConfigError("the 2D demo corpus needs scikit-image for its portrait: pip install scikit-image") from exc
    return np.ascontiguousarray(astronaut())


@functools.lru_cache(maxsize=2)
def load_portrait(identity: str = "astronaut") -> Portrait:
    """Load a demo portrait and its committed asset.

    ``"astronaut"``: scikit-image's ``astronaut()`` with ``talkzoo/assets/portrait``;
    ``"hopper"``: matplotlib's ``sample_data/grace_hopper.jpg`` with
    ``talkzoo/assets/portrait/hopper`` (made by ``scripts/make_hopper_portrait_asset.py``).

    Returns:
        :class:`Portrait` (cached; do not modify its arrays).

    Raises:
        ConfigError: scikit-image is not installed (``pip install scikit-image``).
        DataError: the asset is missing, or scikit-image's ``astronaut()`` is not the image the
            landmarks were computed on (SHA-256 mismatch).
    """
    if identity not in IDENTITIES:
        raise ConfigError(f"unknown demo identity {identity!r}; expected one of {list(IDENTITIES)}")
    root = resources.files("talkzoo") / "assets" / "portrait"
    if identity != "astronaut":
        root = root / identity
    try:
        with (root / "landmarks.npy").open("rb") as f:
            lm = np.load(f).astype(np.float64)
        pose = json.loads((root / "pose.json").read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"the portrait asset in talkzoo/assets/portrait is missing or unreadable: {exc}") from exc
    image = _identity_image(identity)
    digest = hashlib.sha256(image.tobytes()).hexdigest()
    if list(image.shape) != pose["image_shape"] or digest != pose["image_sha256"]:
        raise DataError(f"the {identity} portrait has shape {image.shape} and SHA-256 {digest}, not the image the "
                        f"portrait landmarks were made on ({pose['image_shape']}, {pose['image_sha256']})")
    if lm.shape != (468, 3):
        raise DataError(f"the {identity} portrait asset landmarks.npy has shape {lm.shape}; expected (468, 3)")
    a = np.asarray(pose["template_to_image"]["A"], dtype=np.float64)
    b = np.asarray(pose["template_to_image"]["b"], dtype=np.float64)
    xy = lm[:, :2] - 0.5
    box = np.concatenate([xy.min(0), xy.max(0)])
    return Portrait(image=image, landmarks=xy, depth=lm[:, 2], template_to_image=(a, b), face_box=box)


@dataclass(frozen=True)
class WarpMesh:
    """A triangulation of the whole output frame anchored on the face mesh.

    Points ``0..467`` are the FaceMesh vertices; then come ``ring_inner`` and ``ring_outer``
    (hair/neck/background anchors around the face oval) and ``border`` (a rectangle beyond the
    output frame). Triangles are listed by drawing priority (later ones win where they overlap):
    background, then the fills of the eye and mouth holes, then the 852 face triangles.

    Attributes:
        source: (N, 2) float64 point positions in the portrait, pixels (pixel centres).
        triangles: (F, 3) int64 point indices.
        ring_inner, ring_outer, border: (k,) int64 indices into the points.
    """

    source: np.ndarray
    triangles: np.ndarray
    ring_inner: np.ndarray
    ring_outer: np.ndarray
    border: np.ndarray


def _inside(poly: np.ndarray, pts: np.ndarray) -> np.ndarray:
    from matplotlib.path import Path as MplPath

    return MplPath(poly).contains_points(pts)


def _fill(points: np.ndarray, contour: list[int]) -> list[tuple[int, int, int]]:
    """Triangles (Delaunay of the contour's points) inside the closed contour polygon."""
    from scipy.spatial import Delaunay

    idx = np.asarray(contour)
    tri = Delaunay(points[idx]).simplices
    cent = points[idx][tri].mean(1)
    keep = _inside(points[idx], cent)
    return [tuple(int(i) for i in idx[t]) for t in tri[keep]]


def build_warp_mesh(portrait: Portrait, face_faces: np.ndarray, landmarks: dict,
                    crop_box: tuple[float, float, float]) -> WarpMesh:
    """Triangulate the portrait around the face mesh for piecewise-affine warping.

    Args:
        portrait: the :class:`Portrait`.
        face_faces: (852, 3) int64 FaceMesh triangles (``FaceAsset.faces``).
        landmarks: the face asset's named landmarks (lip/eyelid contours, ``face_oval``).
        crop_box: ``(x0, y0, side)``: the square ``[x0, x0 + side] x [y0, y0 + side]`` of the
            portrait (pixels) that becomes the output frame; the border anchors lie 12 % of
            ``side`` beyond it.

    Returns:
        :class:`WarpMesh`.

    Raises:
        DataError: the background triangulation does not follow the face oval (asset broken).
    """
    from scipy.spatial import Delaunay

    lm = portrait.landmarks
    oval_ids = _oval_order(landmarks["face_oval"], lm)
    oval = lm[oval_ids]
    centre = oval.mean(0)
    ring_in = centre + 1.35 * (oval[::2] - centre)
    ring_out = centre + 1.9 * (oval[::3] - centre)
    x0, y0, side = crop_box
    m = 0.12 * side
    t = np.linspace(0.0, 1.0, 9)[:-1]
    lo, hi = np.array([x0 - m, y0 - m]), np.array([x0 + side + m, y0 + side + m])
    corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    border = np.concatenate([corners[i] + t[:, None] * (corners[(i + 1) % 4] - corners[i]) for i in range(4)])

    def within(p: np.ndarray) -> np.ndarray:
        return p[np.all((p > lo + 0.5 * m) & (p < hi - 0.5 * m), 1)]

    ring_in, ring_out = within(ring_in), within(ring_out)
    n = len(lm)
    src = np.concatenate([lm, ring_in, ring_out, border])
    i_in = np.arange(n, n + len(ring_in))
    i_out = np.arange(n + len(ring_in), n + len(ring_in) + len(ring_out))
    i_border = np.arange(n + len(ring_in) + len(ring_out), len(src))

    # background: Delaunay over oval + rings + border, outside the oval polygon
    bg_ids = np.concatenate([np.asarray(oval_ids), i_in, i_out, i_border])
    tri = bg_ids[Delaunay(src[bg_ids]).simplices]
    keep = ~_inside(oval, src[tri].mean(1))
    background = tri[keep]
    # every oval edge must be a background edge, or the background and the face would overlap
    edges = {tuple(sorted(e)) for t_ in background for e in ((t_[0], t_[1]), (t_[1], t_[2]), (t_[0], t_[2]))}
    for a, b in zip(oval_ids, np.roll(oval_ids, -1), strict=True):
        if tuple(sorted((int(a), int(b)))) not in edges:
            raise DataError(f"portrait warp mesh: face-oval edge ({a}, {b}) is not in the background triangulation")

    fills: list[tuple[int, int, int]] = []
    mouth = landmarks["lip_inner_upper"] + landmarks["lip_inner_lower"][-2:0:-1]
    fills += _fill(lm, mouth)
    for up, lo_key in (("lid_upper_right", "lid_lower_right"), ("lid_upper_left", "lid_lower_left")):
        fills += _fill(lm, landmarks[up] + landmarks[lo_key][-2:0:-1])
    triangles = np.concatenate([background, np.asarray(fills, dtype=np.int64).reshape(-1, 3),
                                np.asarray(face_faces, dtype=np.int64)])
    return WarpMesh(source=src, triangles=triangles.astype(np.int64), ring_inner=i_in, ring_outer=i_out,
                    border=i_border)


def _oval_order(oval: list[int], lm: np.ndarray) -> list[int]:
    """The face-oval vertices as a closed polygon, ordered by angle around their mean."""
    ids = np.asarray(sorted(oval))
    c = lm[ids].mean(0)
    ang = np.arctan2(lm[ids, 1] - c[1], lm[ids, 0] - c[0])
    return [int(i) for i in ids[np.argsort(ang, kind="stable")]]
