"""talkzoo's plugin conformance suite, run on DualTalker with a tiny log-mel configuration."""

from talkzoo.audio.encoders import MelSpectrogramEncoder
from talkzoo.testing import ModelConformance
from talkzoo_dualtalker.model import DualTalker


class TestDualTalkerConformance(ModelConformance):
    model_class = DualTalker
    init_args = {
        "audio_encoder": MelSpectrogramEncoder(n_mels=8, n_fft=256, win_length=256),
        "d_model": 16,
        "feedforward_dim": 32,
        "dropout": 0.0,
        "optimizer": __import__("functools").partial(__import__("torch").optim.Adam, lr=3e-3),
    }
    recipes = ["recipes/dualtalker_*.yaml"]
