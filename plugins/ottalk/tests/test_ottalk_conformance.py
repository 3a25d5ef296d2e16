"""talkzoo's plugin conformance suite on OT-Talk (synthetic data; a triangle strip as topology)."""

from __future__ import annotations

from ottalk_testutils import TINY, save_faces, strip_faces, tiny_encoder
from talkzoo.testing import ModelConformance
from talkzoo_ottalk.model import OTTalk

_FACES = save_faces(strip_faces(16), "synthetic_strip16")


class TestOTTalkConformance(ModelConformance):
    model_class = OTTalk
    init_args = dict(TINY, audio_encoder=tiny_encoder(), mesh_faces=_FACES, swd_projections=8)
    datamodule_args = {"num_vertices": 16}
    learning_steps = 25
