"""Speech audio: file I/O and resampling (:mod:`talkzoo.audio.io`) and speech front-ends
(:mod:`talkzoo.audio.encoders`: wav2vec 2.0, HuBERT, log-mel/MFCC) that turn 16 kHz waveforms
into features at the mesh/video frame rate.

transformers is imported only when a wav2vec 2.0 / HuBERT encoder is built.
"""

from talkzoo.audio.encoders import (
    AudioEncoder,
    HubertEncoder,
    MelSpectrogramEncoder,
    PretrainedSpeechEncoder,
    Wav2Vec2Encoder,
    interpolate_to_frames,
    mel_filterbank,
)
from talkzoo.audio.io import load_audio, resample, save_audio

__all__ = [
    "AudioEncoder",
    "HubertEncoder",
    "MelSpectrogramEncoder",
    "PretrainedSpeechEncoder",
    "Wav2Vec2Encoder",
    "interpolate_to_frames",
    "load_audio",
    "mel_filterbank",
    "resample",
    "save_audio",
]
