"""Make the second identity of the 2D demo corpus (``src/talkzoo/assets/portrait/hopper/``).

One-off script, NOT run by tests or by ``talkzoo``; its output is committed with PROVENANCE.md.
Unlike ``make_portrait_asset.py`` it needs no MediaPipe wheel: it runs talkzoo's own FaceMesh
landmarker (the same ``face_landmark.tflite``, shipped in ``talkzoo/assets/facemesh``, through
LiteRT) in the project's environment::

    python scripts/make_hopper_portrait_asset.py [--out src/talkzoo/assets/portrait/hopper]

What it does:

1. Reads matplotlib's ``mpl-data/sample_data/grace_hopper.jpg`` (600 x 512, a public-domain US Navy
   portrait) and runs :class:`talkzoo.landmarks.FaceMeshLandmarker` (BlazeFace box, no tracking,
   3 refinement passes): 468 landmarks in image pixels, stored with MediaPipe's *edge* convention
   (pixel-centre + 0.5) and depth towards the viewer (``-z``, pixels), as the astronaut asset.
   (On the astronaut this path agrees with the MediaPipe-wheel asset to 0.8 px mean, depth
   correlation 0.999.)
2. Fits ``template_to_image`` = (A, b), A = s Q (Q orthogonal, reflection allowed: the image's y
   points down), by least squares (Umeyama) from the 3D demo face template
   (``assets/face/template.npy``, metres) to those landmarks, then refits on the 80 % best-fitting
   vertices (the template's closed lips and frontalised shape differ from the photograph).
   Unlike the astronaut (whose landmarks *made* the template), the fit is not exact: the residual
   (stored) is what the rig's warp changes of her face shape at rest.

Outputs: ``landmarks.npy`` (468, 3) float32; ``pose.json`` (the mapping, its residuals, the
image's SHA-256 and size, the FaceMesh face box).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np


def _similarity(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares ``q ≈ s Q p + b`` with Q orthogonal (det ±1); returns (A = s Q, b)."""
    mp, mq = p.mean(0), q.mean(0)
    pc, qc = p - mp, q - mq
    u, sig, vt = np.linalg.svd(qc.T @ pc)
    rot = u @ vt
    s = sig.sum() / (pc ** 2).sum()
    a = s * rot
    return a, mq - a @ mp


def main() -> None:
    import matplotlib
    from PIL import Image

    from talkzoo.landmarks import FaceMeshLandmarker

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="src/talkzoo/assets/portrait/hopper")
    args = parser.parse_args()
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))
    result = FaceMeshLandmarker(detect_faces=True, track=False, num_threads=1).detect(image[None])
    if not result.present[0]:
        raise SystemExit("FaceMesh found no face on grace_hopper.jpg")
    mesh = result.mesh[0].astype(np.float64)
    landmarks = np.concatenate([mesh[:, :2] + 0.5, -mesh[:, 2:3]], 1)
    template = np.load(Path(__file__).resolve().parents[1] / "src/talkzoo/assets/face/template.npy").astype(np.float64)
    a, b = _similarity(template, landmarks)
    res = np.linalg.norm(template @ a.T + b - landmarks, axis=1)
    keep = res <= np.quantile(res, 0.8)
    a, b = _similarity(template[keep], landmarks[keep])
    res = np.linalg.norm((template @ a.T + b - landmarks)[:, :2], axis=1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "landmarks.npy", landmarks.astype(np.float32))
    xy = landmarks[:, :2]
    pose = {
        "_source": "talkzoo FaceMeshLandmarker (face_landmark.tflite of mediapipe 0.10.21) on matplotlib "
                   "sample_data/grace_hopper.jpg; see PROVENANCE.md",
        "image": "matplotlib mpl-data/sample_data/grace_hopper.jpg",
        "image_shape": list(image.shape),
        "image_sha256": hashlib.sha256(image.tobytes()).hexdigest(),
        "template_to_image": {"A": np.round(a, 9).tolist(), "b": np.round(b, 9).tolist()},
        "fit_residual_px": {"mean": round(float(res.mean()), 3), "max": round(float(res.max()), 3)},
        "facemesh_box_xyxy": np.round(np.concatenate([xy.min(0), xy.max(0)]), 3).tolist(),
    }
    (out / "pose.json").write_text(json.dumps(pose, indent=1) + "\n")
    print(json.dumps(pose["fit_residual_px"]), pose["facemesh_box_xyxy"])


if __name__ == "__main__":
    main()
