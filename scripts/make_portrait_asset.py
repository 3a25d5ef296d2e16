"""Make the committed portrait asset of the 2D demo corpus (``src/talkzoo/assets/portrait/``).

One-off script, NOT run by tests or by ``talkzoo``: its output is committed together with
``PROVENANCE.md``. It needs MediaPipe, which pins numpy 1.26 and pulls jax, so run it in a
throwaway virtual environment, never in the project's own::

    python3.11 -m venv /tmp/mpvenv
    /tmp/mpvenv/bin/pip install mediapipe==0.10.21 scikit-image==0.26.0
    /tmp/mpvenv/bin/python scripts/make_portrait_asset.py [--out src/talkzoo/assets/portrait]

What it does:

1. Runs MediaPipe FaceMesh (``face_landmark.tflite`` shipped in the mediapipe wheel, static image
   mode, ``refine_landmarks=True``: the very call of ``scripts/make_face_asset.py``) on
   scikit-image's ``astronaut()`` portrait and keeps the 468 face-mesh landmarks in IMAGE pixel
   coordinates: x right, y down, depth towards the viewer (MediaPipe's z, in the x pixel scale).
2. Recomputes the frontalising similarity of ``make_face_asset.py`` (rotation from landmarks
   234/454/152/10, centring on the vertex mean, scale to a 0.15 m face width) and stores its
   inverse as ``template_to_image`` (A, b): image = A @ template_point + b maps a point of the 3D
   face asset (``assets/face/template.npy``, metres) to image pixels (x, y) and depth.
3. Checks the mapping: every vertex of the committed template that the lip-closing step of
   ``make_face_asset.py`` did not move maps back onto its FaceMesh landmark to < 0.01 px.

Outputs: ``landmarks.npy`` (468, 3) float32 pixels; ``pose.json`` (the mapping, the image's
SHA-256 and size, the FaceMesh face box).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

FACE_WIDTH_M = 0.15  # as in make_face_asset.py: distance between landmarks 234 and 454


def main() -> None:
    """Run FaceMesh on the astronaut portrait and write the portrait asset files."""
    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(root / "src/talkzoo/assets/portrait"))
    ap.add_argument("--template", default=str(root / "src/talkzoo/assets/face/template.npy"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import mediapipe as mp
    from skimage.data import astronaut

    img = astronaut()  # (512, 512, 3) uint8 RGB
    h, w = img.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as fm:
        res = fm.process(img)
    if not res.multi_face_landmarks:
        raise SystemExit("FaceMesh found no face in astronaut()")
    lm = res.multi_face_landmarks[0].landmark
    # image pixels: x right, y down, depth towards the viewer (MediaPipe z is positive away from it)
    px = np.array([[q.x * w, q.y * h, -q.z * w] for q in lm[:468]], dtype=np.float64)

    # the frontalisation of make_face_asset.py, on the right-handed frame (x right, y up, z out)
    p = px * np.array([1.0, -1.0, 1.0])
    ex = p[454] - p[234]
    ex /= np.linalg.norm(ex)
    ey = p[10] - p[152]
    ey -= ey.dot(ex) * ex
    ey /= np.linalg.norm(ey)
    ez = np.cross(ex, ey)
    rot = np.stack([ex, ey, ez], 1)  # template = s * (p - mean) @ rot
    mean = p.mean(0)
    q = (p - mean) @ rot
    s = FACE_WIDTH_M / np.linalg.norm(q[454] - q[234])
    # inverse: p = template @ rot.T / s + mean; image = diag(1, -1, 1) p
    flip = np.diag([1.0, -1.0, 1.0])
    a = flip @ rot / s
    b = flip @ mean

    template = np.load(args.template).astype(np.float64)
    back = template @ a.T + b
    err = np.linalg.norm(back[:, :2] - px[:, :2], axis=1)
    moved = err > 0.01
    print(f"template -> image: {int((~moved).sum())} vertices within 0.01 px (max {err[~moved].max():.5f} px); "
          f"{int(moved.sum())} moved by the lip closing (max {err.max():.2f} px)")
    if (~moved).sum() < 300:
        raise SystemExit("the committed template does not match this FaceMesh run: re-check versions")

    x0, y0 = px[:, :2].min(0)
    x1, y1 = px[:, :2].max(0)
    np.save(out / "landmarks.npy", px.astype(np.float32))
    pose = {
        "_source": "MediaPipe FaceMesh 0.10.21 on skimage.data.astronaut(); see PROVENANCE.md",
        "image": "skimage.data.astronaut()",
        "image_shape": [int(h), int(w), 3],
        "image_sha256": hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest(),
        "template_to_image": {"A": a.round(12).tolist(), "b": b.round(9).tolist()},
        "facemesh_box_xyxy": [round(float(v), 3) for v in (x0, y0, x1, y1)],
        "lip_closing_moved_vertices": int(moved.sum()),
    }
    (out / "pose.json").write_text(json.dumps(pose, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
