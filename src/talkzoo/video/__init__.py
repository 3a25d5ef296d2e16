"""Video and audio I/O for the 2D families: reading with decord (frames, random access, the audio
track), frame folders as FOMM's preprocessing writes them, explicit frame-rate conversion and
sample-exact audio slices. Writing reuses :func:`talkzoo.render.video.write_video` (PyAV, H.264 +
AAC, atomic)."""

from talkzoo.render.video import read_video_info, write_video
from talkzoo.video.io import (
    DEFAULT_FPS,
    IMAGE_SUFFIXES,
    VideoInfo,
    VideoSource,
    audio_span,
    check_constant_frame_rate,
    convert_frame_indices,
    open_video,
    probe_video,
    read_audio_track,
    read_frames,
    slice_audio_for_frames,
)

__all__ = [
    "DEFAULT_FPS",
    "IMAGE_SUFFIXES",
    "VideoInfo",
    "VideoSource",
    "audio_span",
    "check_constant_frame_rate",
    "convert_frame_indices",
    "open_video",
    "probe_video",
    "read_audio_track",
    "read_frames",
    "read_video_info",
    "slice_audio_for_frames",
    "write_video",
]
