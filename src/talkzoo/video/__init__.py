"""Video and audio I/O for the 2D families: reading with decord (frames, random access, the audio
track), frame folders as FOMM's preprocessing writes them, explicit frame-rate conversion and
sample-exact audio slices. Writing reuses :func:`talkzoo.render.video.write_video` (PyAV, H.264 +
AAC, atomic)."""

from talkzoo.render.video import read_video_info, write_video
from talkzoo.video import io as _io
from talkzoo.video.io import *  # noqa: F403 - the public names of talkzoo.video.io (its __all__)

__all__ = [*_io.__all__, "read_video_info", "write_video"]
