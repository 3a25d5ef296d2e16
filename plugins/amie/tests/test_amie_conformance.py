"""talkzoo's plugin conformance suite, run on AMIE with a tiny configuration."""

from talkzoo.testing import ModelConformance

from talkzoo_amie.metadata import TINY_ARGS
from talkzoo_amie.model import AMIE


class TestAMIEConformance(ModelConformance):
    model_class = AMIE
    init_args = dict(TINY_ARGS)
    datamodule_args = {"image_size": 32}
    recipes = ["recipes/amie_*.yaml"]
