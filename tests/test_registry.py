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
