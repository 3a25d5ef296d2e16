"""Make the committed face asset of the 3D demo corpus (``src/talkzoo/assets/face/``).

One-off script, NOT run by tests or by ``talkzoo``: its output is committed together with
``PROVENANCE.md``. It needs MediaPipe, which pins numpy 1.26 and pulls jax, so run it in a
throwaway virtual environment, never in the project's own::

    python3.11 -m venv /tmp/mpvenv
    /tmp/mpvenv/bin/pip install mediapipe==0.10.21 scikit-image
    /tmp/mpvenv/bin/python scripts/make_face_asset.py [--out src/talkzoo/assets/face]

What it does:

1. Runs MediaPipe FaceMesh (``face_landmark.tflite`` shipped in the mediapipe wheel, static
   image mode) on scikit-image's ``astronaut()`` portrait (NASA photograph of Eileen Collins,
   public domain) and keeps the 468 face-mesh landmarks (the 10 iris points are dropped).
2. Turns image coordinates into a right-handed frame (x: towards the subject's left, i.e.
   image right; y: up; z: towards the viewer), frontalises the face (x from landmark 234 to
   454, y from chin 152 to forehead 10), centres it on the vertex mean and scales it so the
   face is 0.15 m wide (landmark 234 to 454). Then closes the lips: the neutral template of a
   talking-head corpus has the mouth at rest, while the photograph smiles.
3. Recovers the triangles from MediaPipe's tessellation edge list (``FACEMESH_TESSELATION``) as
   the 3-cliques of its edge graph (854; the same 854 the MIT ``facemarks`` package lists), drops
   the 2 spurious ones at the nostrils (852 left) and orients each outwards.
4. Writes vertex index sets for lips (``FACEMESH_LIPS``), the upper face (every vertex at or
   above the lower eyelids: eyes, brows, forehead) and the named rig landmarks (lip contours,
   eyelids, brows, jaw) to ``rig_landmarks.json``.

Outputs: ``template.npy`` (468, 3) float32 metres; ``faces.npy`` (852, 3) int64;
``lip.txt``; ``upper_face.txt``; ``rig_landmarks.json``.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

import numpy as np

FACE_WIDTH_M = 0.15  # distance between landmarks 234 and 454 (cheek contour, left to right)


def _chain(edges: set[tuple[int, int]], start: int, end: int, via: int) -> list[int]:
    """The path from ``start`` to ``end`` in the contour graph ``edges`` that passes ``via``."""
    adj: dict[int, list[int]] = collections.defaultdict(list)
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    for first in adj[start]:
        path, prev, cur = [start], start, first
        while cur != end:
            path.append(cur)
            nxt = [n for n in adj[cur] if n != prev]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
        else:
            path.append(end)
            if via in path:
                return path
    raise RuntimeError(f"no contour path {start}->{end} via {via}")


def _triangles(tess: frozenset) -> np.ndarray:
    """Every 3-clique of the tessellation's edge graph, sorted, as (F, 3) int64."""
    edges = {tuple(sorted(e)) for e in tess}
    adj: dict[int, set[int]] = collections.defaultdict(set)
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    tris = set()
    for a, b in edges:
        for c in adj[a] & adj[b]:
            tris.add(tuple(sorted((a, b, c))))
    # a 3-clique whose three edges each border two other cliques is a spurious triangle
    # (it lies over two real ones; happens at the nostrils): drop it, which leaves a manifold
    # disk with three holes (eyes, mouth): V - E + F = 468 - 1322 + 852 = -2
    count = collections.Counter(e for t in tris for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])))
    real = [t for t in tris if not all(count[e] == 3 for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])))]
    return np.array(sorted(real), dtype=np.int64)


def main() -> None:
    """Run FaceMesh on the astronaut portrait and write the face asset files."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "src/talkzoo/assets/face"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import mediapipe as mp
    from mediapipe.python.solutions import face_mesh_connections as fmc
    from skimage.data import astronaut

    img = astronaut()  # (512, 512, 3) uint8 RGB
    h, w = img.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as fm:
        res = fm.process(img)
    if not res.multi_face_landmarks:
        raise SystemExit("FaceMesh found no face in astronaut()")
    lm = res.multi_face_landmarks[0].landmark
    print(f"FaceMesh landmarks: {len(lm)}")
    # image pixels -> right-handed (x image-right, y up, z towards the viewer); z is in the x scale
    p = np.array([[q.x * w, -q.y * h, -q.z * w] for q in lm[:468]], dtype=np.float64)

    # frontalise
    ex = p[454] - p[234]
    ex /= np.linalg.norm(ex)
    ey = p[10] - p[152]
    ey -= ey.dot(ex) * ex
    ey /= np.linalg.norm(ey)
    ez = np.cross(ex, ey)
    p = (p - p.mean(0)) @ np.stack([ex, ey, ez], 1)
    p *= FACE_WIDTH_M / np.linalg.norm(p[454] - p[234])

    lips = {tuple(sorted(e)) for e in fmc.FACEMESH_LIPS}
    inner_upper = _chain(lips, 78, 308, via=13)
    inner_lower = _chain(lips, 78, 308, via=14)
    outer_upper = _chain(lips, 61, 291, via=0)
    outer_lower = _chain(lips, 61, 291, via=17)
    gap = p[13, 1] - p[14, 1]
    print(f"inner-lip gap in the photo: {gap * 1000:.2f} mm")
    # close the mouth: move the inner lower-lip contour (and, with a smooth falloff, the lower lip
    # and chin below it) up so each inner lower vertex meets the inner upper contour at its x
    iu = p[inner_upper]
    order = np.argsort(iu[:, 0])
    up_y = lambda x: np.interp(x, iu[order, 0], iu[order, 1])  # noqa: E731
    lower = np.array(sorted(set(inner_lower[1:-1])))
    lift = up_y(p[lower, 0]) - p[lower, 1] - 0.0005  # leave 0.5 mm between the lips
    lift = np.maximum(lift, 0.0)
    if lift.max() > 0:
        centre = p[lower].mean(0)
        d = p - centre
        below = p[:, 1] < up_y(np.clip(p[:, 0], iu[:, 0].min(), iu[:, 0].max()))
        wgt = np.exp(-(d[:, 0] ** 2) / (2 * 0.025**2)) * np.exp(-(d[:, 1] ** 2) / (2 * 0.03**2)) * below
        wgt[lower] = 1.0
        # interpolate the lift along x, apply with the weight
        lo = np.argsort(p[lower, 0])
        lift_x = np.interp(p[:, 0], p[lower][lo, 0], lift[lo])
        p[:, 1] += wgt * lift_x
    print(f"inner-lip gap after closing: {(p[13, 1] - p[14, 1]) * 1000:.2f} mm")

    faces = _triangles(fmc.FACEMESH_TESSELATION)
    centre_back = p.mean(0) - np.array([0.0, 0.0, 0.1])
    tri = p[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flip = np.einsum("ij,ij->i", n, tri.mean(1) - centre_back) < 0
    faces[flip] = faces[flip][:, [0, 2, 1]]

    lip_set = sorted({i for e in fmc.FACEMESH_LIPS for i in e})
    eye_r = sorted({i for e in fmc.FACEMESH_RIGHT_EYE for i in e})  # subject's right (image left)
    eye_l = sorted({i for e in fmc.FACEMESH_LEFT_EYE for i in e})
    brow_r = sorted({i for e in fmc.FACEMESH_RIGHT_EYEBROW for i in e})
    brow_l = sorted({i for e in fmc.FACEMESH_LEFT_EYEBROW for i in e})
    eye_edges_r = {tuple(sorted(e)) for e in fmc.FACEMESH_RIGHT_EYE}
    eye_edges_l = {tuple(sorted(e)) for e in fmc.FACEMESH_LEFT_EYE}
    lid_upper_r = _chain(eye_edges_r, 33, 133, via=159)
    lid_lower_r = _chain(eye_edges_r, 33, 133, via=145)
    lid_upper_l = _chain(eye_edges_l, 263, 362, via=386)
    lid_lower_l = _chain(eye_edges_l, 263, 362, via=374)
    eye_bottom = p[eye_r + eye_l, 1].min()
    upper_face = sorted(int(i) for i in np.nonzero(p[:, 1] >= eye_bottom)[0])
    print(f"lip vertices: {len(lip_set)}, upper-face vertices: {len(upper_face)}, triangles: {len(faces)}")

    np.save(out / "template.npy", p.astype(np.float32))
    np.save(out / "faces.npy", faces.astype(np.int64))
    header = "# source: MediaPipe FaceMesh 468-vertex topology (mediapipe 0.10.21, Apache-2.0); see PROVENANCE.md\n"
    (out / "lip.txt").write_text(
        header + "# lip region: every vertex of mediapipe FACEMESH_LIPS (outer and inner lip contours)\n"
        + "".join(f"{i}\n" for i in lip_set)
    )
    (out / "upper_face.txt").write_text(
        header + "# upper face: every vertex at or above the lowest eye-contour vertex (eyes, brows, forehead)\n"
        + "".join(f"{i}\n" for i in upper_face)
    )
    rig = {
        "_source": "MediaPipe FaceMesh landmark numbering (mediapipe 0.10.21 face_mesh_connections, Apache-2.0)",
        "lip_inner_upper": inner_upper, "lip_inner_lower": inner_lower,
        "lip_outer_upper": outer_upper, "lip_outer_lower": outer_lower,
        "mouth_corner_right": 61, "mouth_corner_left": 291,
        "lip_inner_upper_mid": 13, "lip_inner_lower_mid": 14,
        "lid_upper_right": lid_upper_r, "lid_lower_right": lid_lower_r,
        "lid_upper_left": lid_upper_l, "lid_lower_left": lid_lower_l,
        "brow_right": brow_r, "brow_left": brow_l,
        "chin": 152, "nose_tip": 1, "nose_bridge": 168, "forehead": 10,
        "cheek_right": 234, "cheek_left": 454,
        "face_oval": sorted({i for e in fmc.FACEMESH_FACE_OVAL for i in e}),
    }
    (out / "rig_landmarks.json").write_text(json.dumps(rig, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
