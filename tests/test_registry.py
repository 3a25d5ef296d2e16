"""Tests driven by the plugin registry: every model ``talkzoo list`` shows runs the conformance suite.

For each installed model, :func:`talkzoo.testing.conformance.conformance_suite` builds a test class
from the model's metadata alone (``tiny_args``, ``tiny_datamodule_args``, ``recipes``), named after
the model (``TestConformance_dualtalker::test_loss_falls``), so a plugin that ships no conformance
test of its own is still checked, and every recipe its metadata names must exist under
``recipes/`` and parse. A model without ``tiny_args`` gets one failing test saying so.
"""

from __future__ import annotations

from pathlib import Path

from talkzoo.plugins import discover_plugins, list_models
from talkzoo.testing.conformance import conformance_suite

REPO = Path(__file__).resolve().parents[1]

_MODELS = list_models()
for _record, _info in _MODELS:
    _suite = conformance_suite(_info, recipe_root=REPO)
    globals()[_suite.__name__] = _suite


def test_the_registry_lists_the_bundled_mesh_models():
    """The two 3D plugins of this repository are installed, so the suites above include them."""
    names = {info.name for _, info in _MODELS}
    assert {"dualtalker", "ottalk"} <= names, sorted(names)
    assert all(record.ok for record, _ in _MODELS)


def test_every_model_has_a_suite_named_after_it():
    for _, info in _MODELS:
        suite = globals()["TestConformance_" + "".join(c if c.isalnum() else "_" for c in info.name)]
        assert info.name in (suite.__doc__ or "") or hasattr(suite, "test_declares_a_tiny_configuration")


def test_discovery_is_cached_and_stable():
    assert [r.name for r in discover_plugins()] == [r.name for r in discover_plugins()]


def test_a_model_without_tiny_args_or_importable_class_fails_loudly():
    import pytest

    from talkzoo.plugins import ModelInfo

    missing = conformance_suite(ModelInfo(name="no-tiny", class_path="x.Y", family="audio-to-mesh"))
    assert missing.__name__ == "TestConformance_no_tiny"
    with pytest.raises(AssertionError, match="declares no tiny_args"):
        missing().test_declares_a_tiny_configuration()
    broken = conformance_suite(ModelInfo(name="gone", class_path="talkzoo_not_installed.model.M", family="audio-to-mesh",
                                         tiny_args={}))  # fmt: skip
    with pytest.raises(AssertionError, match="does not import"):
        broken().test_declares_a_tiny_configuration()


def test_tiny_args_must_be_plain_values():
    import pytest

    from talkzoo.errors import PluginError
    from talkzoo.plugins import ModelInfo, PluginInfo, _validate

    ok = ModelInfo(name="m", class_path="a.B", family="audio-to-mesh",
                   tiny_args={"encoder": {"class_path": "a.C", "init_args": {"n": [1, 2.0, None, True]}}})  # fmt: skip
    _validate(PluginInfo(api_version=1, models=(ok,)), "ep")
    bad = ModelInfo(name="m", class_path="a.B", family="audio-to-mesh", tiny_args={"optimizer": object()})
    with pytest.raises(PluginError, match="tiny_args must be a dict of plain values"):
        _validate(PluginInfo(api_version=1, models=(bad,)), "ep")


def test_resolve_init_args_builds_modules_and_optimizer_callables():
    import functools

    import torch

    from talkzoo.audio.encoders import MelSpectrogramEncoder
    from talkzoo.testing.conformance import resolve_init_args

    args = resolve_init_args({
        "audio_encoder": {"class_path": "talkzoo.audio.encoders.MelSpectrogramEncoder", "init_args": {"n_mels": 8}},
        "optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.5}},
        "d_model": 16,
    })  # fmt: skip
    assert isinstance(args["audio_encoder"], MelSpectrogramEncoder) and args["audio_encoder"].output_dim > 0
    assert isinstance(args["optimizer"], functools.partial) and args["d_model"] == 16
    opt = args["optimizer"]([torch.nn.Parameter(torch.zeros(1))])
    assert isinstance(opt, torch.optim.Adam) and opt.defaults["lr"] == 0.5
