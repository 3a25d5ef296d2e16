"""Rendering of model outputs to mp4 files with their audio track (headless, CPU only).

- :func:`write_video` / :func:`read_video_info` (:mod:`talkzoo.render.video`): stream RGB frames
  and a mono waveform into an H.264 + AAC mp4 atomically, and inspect such a file.
- :func:`render_mesh_sequence` (:mod:`talkzoo.render.mesh`): shade a ``(T, V, 3)`` vertex
  sequence (optionally beside its ground truth) frame by frame and write it with its audio.

Neither imports torch; PyAV and matplotlib are imported when first used.
"""

from __future__ import annotations

from .mesh import VIEWS, render_mesh_sequence
from .video import AAC_SAMPLE_RATES, read_video_info, write_video

__all__ = ["AAC_SAMPLE_RATES", "VIEWS", "read_video_info", "render_mesh_sequence", "write_video"]
