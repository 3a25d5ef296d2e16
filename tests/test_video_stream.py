"""The streaming ``generate_stream`` contract of the 2D family bases (used by ``talkzoo animate``)."""

from __future__ import annotations

import pytest
import torch

from talkzoo.data.spec import ReenactmentDataSpec, VideoDataSpec
from talkzoo.errors import ConfigError
from talkzoo.testing.models import TinyAudioToVideo, TinyReenactment


def _a2v() -> TinyAudioToVideo:
    torch.manual_seed(0)
    model = TinyAudioToVideo(spec=VideoDataSpec(image_size=32, fps=25.0, sample_rate=16000), scale=2)
    torch.nn.init.normal_(model.body.out.weight, std=0.1)  # not the identity: outputs depend on audio
    return model.eval()


def test_audio_stream_concatenates_to_generate_for_a_frame_local_model():
    model = _a2v()
    frames = 23
    audio = torch.randn(2, frames * 640)  # 640 samples per frame at 16 kHz / 25 fps
    source = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        whole = model.generate(audio, source, num_frames=frames)
        chunks = list(model.generate_stream(audio, source, window_frames=5))
    assert [c.shape[1] for c in chunks] == [5, 5, 5, 5, 3]
    assert all(c.shape[0] == 2 and c.shape[2:] == (3, 32, 32) for c in chunks)
    torch.testing.assert_close(torch.cat(chunks, 1), whole)


def test_audio_stream_default_length_and_bad_window():
    model = _a2v()
    audio = torch.randn(1, 16000)  # 1 s -> 25 frames
    with torch.no_grad():
        assert sum(c.shape[1] for c in model.generate_stream(audio, torch.rand(1, 3, 32, 32))) == 25
    with pytest.raises(ConfigError, match="window_frames"):
        next(model.generate_stream(audio, torch.rand(1, 3, 32, 32), window_frames=0))


def test_reenactment_stream_yields_one_chunk_per_driving_chunk():
    torch.manual_seed(0)
    model = TinyReenactment(spec=ReenactmentDataSpec(image_size=32), scale=2).eval()
    torch.nn.init.normal_(model.body.out.weight, std=0.1)
    source, driving = torch.rand(1, 3, 32, 32), torch.rand(1, 7, 3, 32, 32)
    with torch.no_grad():
        whole = model.generate(source, driving)
        chunks = list(model.generate_stream(source, (driving[:, :4], driving[:, 4:])))
    assert [c.shape[1] for c in chunks] == [4, 3]
    torch.testing.assert_close(torch.cat(chunks, 1), whole)
