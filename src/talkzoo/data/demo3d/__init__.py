"""A deterministic 3D demo corpus in the VOCASET / FaceFormer layout (no VOCASET needed).

Real synthesised speech (eSpeak NG, several voices = several subjects) with exact phoneme
timings drives a viseme rig (jaw rotation, lip rounding/spreading/closure, coarticulation) on
a real face topology (MediaPipe FaceMesh, 468 vertices), with seeded blinks and brow raises.

Public API:

* :func:`build_demo_corpus` — write the corpus (``wav/``, ``vertices_npy/``, ``templates.pkl``,
  ``faces.npy``, ``regions/``, ``split.json``, ``README.md``).
* :data:`DEMO_SPLIT` / :func:`demo_split` — the subject and sentence splits.
* :data:`DEMO_SPEAKERS` — subject names and their voices.
* :data:`HARVARD_SENTENCES`, :func:`load_face_asset`, :func:`synthesize` — the pieces.
"""

from __future__ import annotations

from .corpus import (
    DEMO_SPEAKERS,
    DEMO_SPLIT,
    SAMPLE_RATE,
    DemoSpeaker,
    build_demo_corpus,
    demo_split,
    num_frames_for,
)
from .rig import FaceAsset, load_face_asset
from .sentences import HARVARD_SENTENCES
from .speech import Utterance, synthesize

#: Vertex count of the demo face (MediaPipe FaceMesh).
NUM_VERTICES = 468
#: Default frame rate of the demo corpus (frames per second), as VOCASET is used.
DEFAULT_FPS = 30.0

__all__ = [
    "DEFAULT_FPS",
    "DEMO_SPEAKERS",
    "DEMO_SPLIT",
    "HARVARD_SENTENCES",
    "NUM_VERTICES",
    "SAMPLE_RATE",
    "DemoSpeaker",
    "FaceAsset",
    "Utterance",
    "build_demo_corpus",
    "demo_split",
    "load_face_asset",
    "num_frames_for",
    "synthesize",
]
