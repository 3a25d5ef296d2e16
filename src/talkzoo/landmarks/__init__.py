"""Face landmarks for the talking-video family: an offline FaceMesh landmarker and the iBUG-68 scheme.

* :class:`Landmarker` -- the interface (``(N, H, W, 3)`` uint8 RGB -> ``(N, 68, 2)`` float32
  iBUG-68 pixels, NaN rows where no face) taken by face preprocessing and the LMD metric;
* :class:`FaceMeshLandmarker` -- the default implementation: MediaPipe FaceMesh
  (``face_landmark.tflite``, bundled, Apache-2.0) run by LiteRT (``ai-edge-litert``, a talkzoo dependency);
* :class:`FaceDetector` -- MediaPipe BlazeFace short range (bundled), for uncropped frames;
* :data:`IBUG68_FROM_FACEMESH` -- the canonical FaceMesh-468 -> iBUG-68 correspondence.

``ai_edge_litert`` is imported only when a :class:`FaceMeshLandmarker` or :class:`FaceDetector` is built.
"""

from .base import Landmarker, check_frames, face_mask
from .detector import FaceDetection, FaceDetector
from .facemesh import FaceMeshLandmarker, FaceMeshResult, default_model_path
from .ibug68 import IBUG68_FROM_FACEMESH, IBUG68_GROUPS, MOUTH, facemesh_to_ibug68

__all__ = [
    "IBUG68_FROM_FACEMESH",
    "IBUG68_GROUPS",
    "MOUTH",
    "FaceDetection",
    "FaceDetector",
    "FaceMeshLandmarker",
    "FaceMeshResult",
    "Landmarker",
    "check_frames",
    "default_model_path",
    "face_mask",
    "facemesh_to_ibug68",
]
