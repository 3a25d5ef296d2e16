"""talkzoo's plugin conformance suite, run on both DaGAN stages with tiny configurations."""

from talkzoo.testing import ModelConformance
from talkzoo_dagan.metadata import TINY_DAGAN_ARGS, TINY_DEPTH_ARGS
from talkzoo_dagan.model import DaGAN, FaceDepth


class TestDaGANConformance(ModelConformance):
    model_class = DaGAN
    init_args = dict(TINY_DAGAN_ARGS)
    datamodule_args = {"image_size": 16}
    recipes = ["recipes/dagan_*.yaml"]


class TestFaceDepthConformance(ModelConformance):
    model_class = FaceDepth
    init_args = dict(TINY_DEPTH_ARGS)
    datamodule_args = {"image_size": 16}
