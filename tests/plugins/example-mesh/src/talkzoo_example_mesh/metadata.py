"""Plugin metadata (imports no torch)."""

from talkzoo.plugins import ModelInfo, PluginInfo

PLUGIN = PluginInfo(
    api_version=1,
    description="Example third-party plugin used by talkzoo's tests",
    models=(
        ModelInfo(
            name="example-mesh",
            class_path="talkzoo_example_mesh.model.TinyMeshModel",
            family="audio-to-mesh",
            paper="(example model, no paper)",
            licence="Apache-2.0",
            recipes=(),
            description="A tiny model that proves third-party plugins work without core changes",
            # the tiny CPU configuration talkzoo's registry-driven tests run the conformance suite with
            tiny_args={"hidden": 16},
        ),
    ),
)
