"""Plugin discovery through the ``talkzoo.plugins`` entry-point group. Imports no torch.

A plugin is an installed distribution that declares, in its ``pyproject.toml``::

    [project.entry-points."talkzoo.plugins"]
    myplugin = "talkzoo_myplugin.metadata:PLUGIN"

where ``PLUGIN`` is a :class:`PluginInfo`. The module holding it must import nothing heavy
(no torch), so that ``talkzoo list`` and ``talkzoo info`` stay instant. Model classes themselves
are *not* registered here: the ``talkzoo`` command resolves them by their import path
(``class_path`` in a recipe), exactly like any third-party class, and :class:`ModelInfo` only
records that path.

Discovery isolates failures: a plugin whose entry point raises on import, or whose metadata is
malformed or of an unsupported API version, is reported with its error and the others keep
working. Set ``TALKZOO_NO_PLUGIN_AUTOLOAD=1`` to skip entry-point discovery entirely.
"""

from __future__ import annotations

import difflib
import os
import traceback
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from talkzoo.errors import ConfigError, PluginError

#: version of the plugin metadata API that this core understands.
PLUGIN_API_VERSION = 1
#: entry-point group of plugins.
ENTRY_POINT_GROUP = "talkzoo.plugins"
#: environment variable that turns entry-point discovery off when set to 1/true/yes.
DISABLE_ENV = "TALKZOO_NO_PLUGIN_AUTOLOAD"

_FAMILIES = ("audio-to-mesh", "audio-to-video", "video-to-video")


@dataclass(frozen=True)
class WeightsInfo:
    """Pretrained weights a model needs (never bundled; the user supplies them).

    Attributes:
        name: identifier, e.g. a hub id ``"facebook/wav2vec2-base-960h"`` or a file name.
        description: what the weights are for.
        source: where a user obtains them (URL or instructions).
        licence: their licence, e.g. ``"Apache-2.0"`` or ``"CC BY-NC 4.0"``.
    """

    name: str
    description: str = ""
    source: str = ""
    licence: str = ""


@dataclass(frozen=True)
class ReportedResult:
    """One number a paper reports, shown verbatim beside ours by the leaderboard.

    The value is kept exactly as printed, in the paper's own unit and scale; talkzoo never
    converts it, because the papers' unit headers are often ambiguous (``10^-4 mm`` for a squared
    error). The leaderboard shows it next to our value of the same metric on the same dataset.

    Attributes:
        dataset: dataset key, as :attr:`talkzoo.data.spec.DataSpec.dataset` (``vocaset``, ``biwi``,
            ``multiface``).
        split: the paper's name of the evaluation split (``BIWI-Test-A``).
        metric: talkzoo metric abbreviation it corresponds to, the part of a metric's ``log_name``
            before ``@`` (``LVE``, ``FDD``, ``LipMax``, ``LipMean``, ``FaceMean``, ``HeadMean``).
        value: the number as printed.
        unit: the unit as printed in the paper's table header (``×10^-4 mm``).
        source: where in the paper (``Table I``).
        note: caveats (a lost header, an inferred column order).
    """

    dataset: str
    split: str
    metric: str
    value: float
    unit: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """Metadata of one model of a plugin.

    Attributes:
        name: model id, unique across installed plugins (``talkzoo info NAME``).
        class_path: import path of the LightningModule, used as ``model.class_path`` in recipes.
        family: task family, one of ``audio-to-mesh``, ``audio-to-video``, ``video-to-video``.
        paper: paper title.
        arxiv: arXiv id (``"2505.01932"``) or ``None``.
        licence: licence of the implementation (and a note on the official code's licence).
        recipes: recipe names (files ``recipes/<name>.yaml``).
        weights: pretrained weights the model's paper configuration needs.
        parameters: parameter counts by configuration name, e.g. ``{"vocaset": 93_000_000}``.
        description: one line on what the model does.
        reported: the paper's own results (:class:`ReportedResult`), for the leaderboard.
        tiny_args: constructor arguments of a tiny configuration (CPU, seconds) with which
            talkzoo's tests run the conformance suite (:mod:`talkzoo.testing.conformance`) on the
            model, besides ``spec``. Plain values only (str, numbers, bool, ``None``, lists and
            dicts of them), so the metadata imports no torch; a module or optimizer argument is
            written as in a recipe, ``{"class_path": "torch.optim.Adam", "init_args": {"lr": 3e-3}}``.
            ``None`` = not declared (the registry test fails and asks for it).
        tiny_datamodule_args: arguments of the family's synthetic datamodule
            (:mod:`talkzoo.testing.synthetic`) for that run, e.g. ``{"num_vertices": 16}``.
    """

    name: str
    class_path: str
    family: str
    paper: str = ""
    arxiv: str | None = None
    licence: str = ""
    recipes: tuple[str, ...] = ()
    weights: tuple[WeightsInfo, ...] = ()
    parameters: dict[str, int] | None = None
    description: str = ""
    reported: tuple[ReportedResult, ...] = ()
    tiny_args: dict[str, Any] | None = None
    tiny_datamodule_args: dict[str, Any] = field(default_factory=dict)


def _plain(value: Any) -> bool:
    """Whether ``value`` is a plain (JSON-like) value: str, number, bool, None, or lists/dicts of them."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


@dataclass(frozen=True)
class PluginInfo:
    """What a plugin's entry point points at.

    Attributes:
        api_version: plugin API version the plugin was written for (:data:`PLUGIN_API_VERSION`).
        models: the plugin's models.
        homepage: project URL.
        description: one line on the plugin.
    """

    api_version: int
    models: tuple[ModelInfo, ...]
    homepage: str = ""
    description: str = ""


@dataclass
class PluginRecord:
    """One discovered plugin and its load status.

    Attributes:
        name: entry-point name (the plugin id).
        value: entry-point value (``module:attribute``).
        distribution: distribution name, or ``"?"``.
        version: distribution version, or ``"?"``.
        info: the loaded :class:`PluginInfo`, or ``None`` if loading failed.
        error: one-line error when loading failed, else ``None``.
        detail: the full traceback of the failure (for ``talkzoo list --verbose``).
    """

    name: str
    value: str
    distribution: str = "?"
    version: str = "?"
    info: PluginInfo | None = None
    error: str | None = None
    detail: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """``True`` when the plugin loaded and its metadata is valid."""
        return self.info is not None and self.error is None


def autoload_disabled() -> bool:
    """Whether ``TALKZOO_NO_PLUGIN_AUTOLOAD`` turns discovery off."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _validate(info: object, ep_name: str) -> PluginInfo:
    if not isinstance(info, PluginInfo):
        raise PluginError(
            f"entry point '{ep_name}' must point at a talkzoo.plugins.PluginInfo, got {type(info).__name__}"
        )
    if info.api_version != PLUGIN_API_VERSION:
        raise PluginError(
            f"plugin API version {info.api_version} is not supported (this talkzoo supports {PLUGIN_API_VERSION})"
        )
    for model in info.models:
        if not isinstance(model, ModelInfo):
            raise PluginError(f"models must be ModelInfo objects, got {type(model).__name__}")
        if model.family not in _FAMILIES:
            raise PluginError(f"model '{model.name}': unknown family '{model.family}', expected one of {_FAMILIES}")
        if "." not in model.class_path:
            raise PluginError(f"model '{model.name}': class_path '{model.class_path}' is not a dotted import path")
        for name in ("tiny_args", "tiny_datamodule_args"):
            value = getattr(model, name)
            if value is not None and not (isinstance(value, dict) and _plain(value)):
                raise PluginError(
                    f"model '{model.name}': {name} must be a dict of plain values (str, numbers, bool, None, lists, "
                    "dicts; a module as {'class_path': ..., 'init_args': {...}}), got "
                    f"{type(value).__name__ if not isinstance(value, dict) else 'a dict holding other objects'}"
                )
    return info


def _load(ep: EntryPoint) -> PluginRecord:
    dist = getattr(ep, "dist", None)
    record = PluginRecord(
        name=ep.name,
        value=ep.value,
        distribution=getattr(dist, "name", None) or "?",
        version=getattr(dist, "version", None) or "?",
    )
    try:
        record.info = _validate(ep.load(), ep.name)
    except Exception as exc:  # noqa: BLE001 - one broken plugin must not break the others
        record.info = None
        record.error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        record.detail = traceback.format_exc()
    return record


_CACHE: list[PluginRecord] | None = None


def discover_plugins(refresh: bool = False) -> list[PluginRecord]:
    """Load every ``talkzoo.plugins`` entry point.

    Args:
        refresh: re-read entry points instead of returning the cached result.

    Returns:
        One :class:`PluginRecord` per entry point, sorted by name; broken plugins are included
        with ``error`` set. Empty when :func:`autoload_disabled`.
    """
    global _CACHE
    if autoload_disabled():
        return []
    if _CACHE is None or refresh:
        eps = entry_points(group=ENTRY_POINT_GROUP)
        seen: dict[str, PluginRecord] = {}
        for ep in eps:
            if ep.name not in seen:  # a distribution installed twice shows once
                seen[ep.name] = _load(ep)
        _CACHE = sorted(seen.values(), key=lambda r: r.name)
    return list(_CACHE)


def list_models(family: str | None = None) -> list[tuple[PluginRecord, ModelInfo]]:
    """All models of all loaded plugins, optionally of one family, sorted by model name."""
    out = []
    for record in discover_plugins():
        if record.info is None:
            continue
        for model in record.info.models:
            if family is None or model.family == family:
                out.append((record, model))
    return sorted(out, key=lambda pair: pair[1].name)


def get_model(name: str) -> tuple[PluginRecord, ModelInfo]:
    """Find a model by id (case-insensitive) or by its class path.

    Raises:
        ConfigError: for an unknown name; the message lists the installed models and the
            closest matches.
    """
    models = list_models()
    for record, model in models:
        if name.lower() in (model.name.lower(), model.class_path.lower()):
            return record, model
    names = [m.name for _, m in models]
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    available = ", ".join(names) if names else "none (no talkzoo plugin is installed)"
    raise ConfigError(f"unknown model '{name}'.{hint} Installed models: {available}.")
