"""LightningModule bases, one per task family (see :mod:`talkzoo.tasks.base`)."""

from talkzoo.tasks.base import TalkingFaceTask
from talkzoo.tasks.mesh import AudioToMeshTask, MeshPrediction
from talkzoo.tasks.video import AudioToVideoTask, ReenactmentTask, VideoPrediction

__all__ = [
    "TalkingFaceTask",
    "AudioToMeshTask",
    "MeshPrediction",
    "AudioToVideoTask",
    "ReenactmentTask",
    "VideoPrediction",
]
