"""talkzoo's plugin conformance suite on OT-Talk (synthetic data; a triangle strip as topology)."""

from __future__ import annotations

import torch

from ottalk_testutils import TINY, save_faces, strip_faces, tiny_encoder
from talkzoo.testing import ModelConformance
from talkzoo_ottalk.model import OTTalk

_FACES = save_faces(strip_faces(16), "synthetic_strip16")


class TestOTTalkConformance(ModelConformance):
    model_class = OTTalk
    # lr 1e-3: the suite's synthetic strip moves by up to 0.17 m, and the displacement heads output
    # millimetres (motion_unit), so the default lr 1e-4 needs far more than 25 steps on it.
    init_args = dict(TINY, audio_encoder=tiny_encoder(), mesh_faces=_FACES, swd_projections=8,
                     optimizer=lambda params: torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-2))  # fmt: skip
    datamodule_args = {"num_vertices": 16}
    learning_steps = 25

    def make_model(self, datamodule):
        """The model with its PCA layer initialised from the training data, as ``on_fit_start`` does
        in every fit (the suite's loops call ``compute_losses`` directly, without that hook)."""
        model = super().make_model(datamodule)
        datamodule.setup("fit")
        model.initialize_pca(datamodule.train_dataloader())
        return model
