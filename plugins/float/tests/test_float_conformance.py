"""talkzoo's plugin conformance suite on both FLOAT stages, with tiny sizes (metadata TINY_*_ARGS)."""

import functools

import torch

from talkzoo.audio.encoders import MelSpectrogramEncoder
from talkzoo.testing import ModelConformance
from talkzoo.testing.synthetic import SyntheticReenactmentDataModule
from talkzoo_float.metadata import TINY_AE_ARGS, TINY_FLOAT_ARGS
from talkzoo_float.model import FLOAT, FLOATMotionAutoEncoder


class TestFLOATConformance(ModelConformance):
    model_class = FLOAT
    init_args = {
        **TINY_FLOAT_ARGS,
        "audio_encoder": MelSpectrogramEncoder(n_mels=8, n_fft=256, win_length=256),
        "optimizer": functools.partial(torch.optim.Adam, lr=3e-3),
        "condition_dropout": 0.0,
        "prefix_dropout": 0.0,
    }
    datamodule_args = {"min_frames": 6, "max_frames": 6}
    recipes = ["recipes/float_*.yaml"]


class TestFLOATMotionAutoEncoderConformance(ModelConformance):
    model_class = FLOATMotionAutoEncoder
    init_args = {**TINY_AE_ARGS, "optimizer": functools.partial(torch.optim.Adam, lr=3e-3), "lambda_perceptual": 0.0}
    datamodule_args = {"image_size": 16}

    def make_datamodule(self):
        return SyntheticReenactmentDataModule(**self.datamodule_args)

    def test_loss_falls(self) -> None:
        """Generator loss falls under its own optimiser (stage 1 has two: generator, discriminators)."""
        torch.manual_seed(0)
        datamodule = self.make_datamodule()
        model = self.make_model(datamodule)
        batch = self._first_batch(datamodule)
        opt_g = model.configure_optimizers()[0]
        model.train()
        losses = []
        for _ in range(self.learning_steps):
            opt_g.zero_grad()
            loss = model.compute_losses(batch)["loss"]
            loss.backward()
            opt_g.step()
            losses.append(float(loss.detach()))
        assert losses[-1] < self.learning_ratio * losses[0], f"loss did not fall: {losses[0]:.4g} -> {losses[-1]:.4g}"
