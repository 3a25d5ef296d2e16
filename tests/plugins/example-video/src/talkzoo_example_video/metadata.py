"""Plugin metadata (imports no torch)."""

from talkzoo.plugins import ModelInfo, PluginInfo

PLUGIN = PluginInfo(
    api_version=1,
    description="Example third-party plugin used by talkzoo's tests",
    models=(
        ModelInfo(
            name="example-video",
            class_path="talkzoo_example_video.model.TinyVideoModel",
            family="audio-to-video",
            paper="(example model, no paper)",
            licence="Apache-2.0",
            recipes=(),
            description="A tiny model that proves third-party plugins work without core changes",
            # the tiny CPU configuration talkzoo's registry-driven tests run the conformance suite with
            tiny_args={},
        ),
    ),
)
