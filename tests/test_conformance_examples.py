"""The conformance suite, run on the example third-party plugins of every task family."""

from talkzoo.testing import ModelConformance
from talkzoo_example_mesh.model import TinyMeshModel
from talkzoo_example_reenact.model import TinyReenactModel
from talkzoo_example_video.model import TinyVideoModel


class TestExampleMeshConformance(ModelConformance):
    model_class = TinyMeshModel
    init_args = {"hidden": 16}
    recipes = ["tests/plugins/example-mesh/recipe.yaml"]


class TestExampleVideoConformance(ModelConformance):
    model_class = TinyVideoModel
    recipes = ["tests/plugins/example-video/recipe.yaml"]


class TestExampleReenactConformance(ModelConformance):
    model_class = TinyReenactModel
    recipes = ["tests/plugins/example-reenact/recipe.yaml"]
