"""The example third-party plugins under ``tests/plugins``.

They are installed for the test session (``tests/conftest.py``), so ``tests/test_registry.py`` runs
the conformance suite on each of them from its metadata (``tiny_args``) like on every other
installed model. Here: their own recipe files, which live next to them rather than under
``recipes/``, parse with ``talkzoo``'s parser, and the mesh example keeps the plugin layout.
"""

import pytest

from talkzoo.testing import ModelConformance


@pytest.mark.parametrize("name", ["example-mesh", "example-video", "example-reenact"])
def test_example_plugin_recipe_parses(name):
    suite = ModelConformance()
    suite.recipes = [f"tests/plugins/{name}/recipe.yaml"]
    suite.test_recipes_parse()


def test_mesh_example_follows_the_plugin_layout():
    import importlib

    from talkzoo_example_mesh.metadata import PLUGIN
    from talkzoo_example_mesh.model import TinyMeshModel
    from talkzoo_example_mesh.network import TinyMeshNetwork

    for module in ("metadata", "model", "network", "layers", "losses"):
        importlib.import_module(f"talkzoo_example_mesh.{module}")
    info = PLUGIN.models[0]
    assert info.class_path == f"{TinyMeshModel.__module__}.{TinyMeshModel.__qualname__}" and info.tiny_args == {"hidden": 16}
    from talkzoo.testing.synthetic import SyntheticMeshDataModule

    model = TinyMeshModel(spec=SyntheticMeshDataModule().spec, **info.tiny_args)
    assert isinstance(model.network, TinyMeshNetwork)
    assert {name.split(".", 1)[0] for name, _ in model.named_parameters()} == {"network"}
