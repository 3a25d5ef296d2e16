"""A deterministic 2D demo corpus in talkzoo's prepared-video layout (no HDTF/VoxCeleb needed).

Real photographs (scikit-image's public-domain NASA astronaut portrait; Grace Hopper's US Navy
portrait from matplotlib's sample data, the held-out identity) are animated by the
phoneme-timed viseme rig of the 3D demo corpus (:mod:`talkzoo.data.demo3d`) through its 468
MediaPipe FaceMesh landmarks: per frame, the rig's 3D face (jaw, lips, blinks, brows) with a
small head rotation is projected into the photograph and the image is warped piecewise-affinely
over the mesh triangles. Speech is eSpeak NG in several voices (one speaker per voice).

Public API:

* :func:`build_video_demo_corpus` — write the corpus (``talkzoo data demo --family video``).
* :func:`video_demo_split`, :func:`clip_id` — splits, reenactment pairs, clip naming.
* :data:`IBUG68_FROM_MEDIAPIPE` — the FaceMesh -> iBUG-68 landmark correspondence.
* :func:`load_portrait`, :func:`piecewise_affine_warp` — the pieces.
"""

from __future__ import annotations

from .corpus import (
    FPS,
    HELDOUT_IDENTITY_DIR,
    LAYOUT_FORMAT,
    build_video_demo_corpus,
    clip_id,
    demo2d_speakers,
    head_motion,
    video_demo_split,
)
from .portrait import IBUG68_FROM_MEDIAPIPE, IDENTITIES, Portrait, load_portrait
from .warp import bilinear_sample, piecewise_affine_warp

__all__ = [
    "FPS",
    "HELDOUT_IDENTITY_DIR",
    "IDENTITIES",
    "IBUG68_FROM_MEDIAPIPE",
    "LAYOUT_FORMAT",
    "Portrait",
    "bilinear_sample",
    "build_video_demo_corpus",
    "clip_id",
    "demo2d_speakers",
    "head_motion",
    "load_portrait",
    "piecewise_affine_warp",
    "video_demo_split",
]
