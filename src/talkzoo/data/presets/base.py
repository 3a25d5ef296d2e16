"""The base class of dataset presets and the registry every preset joins.

A preset is one dataset's protocol in one module: its layout check, its clip/sequence listing,
its official split, its evaluation pairs, its fixture writer for tests, its documentation
(source, licence, where to get it) and, when users download a raw release, its
``talkzoo data prepare <name>`` step. Presets are instances of subclasses of
:class:`DatasetPreset` (:class:`~talkzoo.data.presets.mesh.base.MeshPreset` for the 3D layout,
:class:`~talkzoo.data.presets.video.base.VideoPreset` for 2D video); a class joins the registry
with the :func:`register_preset` decorator. The registry feeds the datamodules
(``preset="..."``), the fixtures (:func:`talkzoo.testing.fixtures.write_mesh_layout`,
:func:`talkzoo.testing.video_fixtures.write_video_fixture`), ``talkzoo data prepare``'s choices
and the tests parametrised over every preset.

Adding a preset: write one module under ``talkzoo/data/presets/mesh/`` or ``.../video/`` whose
class is decorated with :func:`register_preset`; every module of those packages is imported when
the registry is first read, so nothing else is edited. A third-party package registers its
presets through the ``talkzoo.presets`` entry-point group (the entry point names a module,
imported for its decorators).

Nothing here imports torch: ``talkzoo data prepare --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from talkzoo.errors import ConfigError

__all__ = [
    "KINDS",
    "SPLITS",
    "DatasetPreset",
    "get_preset",
    "prepare_help",
    "prepare_presets",
    "presets",
    "register_preset",
    "run_prepare",
]

log = logging.getLogger(__name__)

#: Preset kinds: the layout family a preset's datamodule reads.
KINDS = ("mesh", "video")
#: The split names every dataset knows (a dataset may offer more, e.g. a held-out-identity test).
SPLITS = ("train", "val", "test")
ENTRY_POINT_GROUP = "talkzoo.presets"


class DatasetPreset:
    """One dataset's protocol (subclass per dataset; see the module docstring).

    Class attributes (documentation; every preset sets them):

    Attributes:
        name: preset id used in recipes (``preset: vocaset``) and in ``spec.dataset``.
        kind: ``"mesh"`` or ``"video"`` (which datamodules read it).
        title: the dataset's name and paper.
        source: where the split / protocol comes from (paper, section, official code file).
        licence: the data's licence.
        url: where to get the data.
        get_data: how to obtain and prepare the data (quoted in "root missing" messages).
        layout: the folder layout the preset reads (quoted in messages).
        aliases: extra names accepted by ``talkzoo data prepare``.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    title: ClassVar[str] = ""
    source: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    url: ClassVar[str] = ""
    get_data: ClassVar[str] = ""
    layout: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    #: one line for ``talkzoo data prepare --help``; ``None``: no raw release to convert.
    prepare_help: ClassVar[str | None] = None

    # ------------------------------------------------------------------ documentation
    def describe(self) -> str:
        """A few lines: title, source of the protocol, licence, where to get it, layout."""
        rows = [
            ("dataset", self.title or self.name),
            ("protocol", self.source),
            ("licence", self.licence),
            ("get it", self.get_data),
            ("layout", self.layout),
        ]
        return "\n".join(f"{k}: {v}" for k, v in rows if v)

    # ------------------------------------------------------------------ prepare
    @property
    def has_prepare(self) -> bool:
        """Whether ``talkzoo data prepare <name>`` converts this dataset's raw release."""
        return self.prepare_help is not None

    def add_prepare_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this preset's own ``talkzoo data prepare`` options (none by default)."""

    def prepare(self, src: Path, out: Path, args: argparse.Namespace) -> str:
        """Convert the raw release in ``src`` into a root at ``out`` that this preset reads.

        Returns:
            One line for the user (what was written).

        Raises:
            ConfigError: the preset has no prepare step.
        """
        raise ConfigError(f"dataset preset '{self.name}' has no `talkzoo data prepare` step; {self.get_data}")

    # ------------------------------------------------------------------ tests
    def write_fixture(self, root: Path, **options: Any) -> Path:
        """Write a tiny synthetic dataset in this preset's layout (for tests); returns ``root``."""
        raise NotImplementedError(f"preset '{self.name}' has no fixture writer")

    def fixture_datamodule_args(self) -> dict[str, Any]:
        """Constructor arguments (besides ``root``/``preset``) that read :meth:`write_fixture`'s output."""
        return {}

    def write_raw_fixture(self, src: Path, **options: Any) -> Path:
        """Write a tiny synthetic raw release that :meth:`prepare` converts (for tests)."""
        raise NotImplementedError(f"preset '{self.name}' has no raw-release fixture")

    def __repr__(self) -> str:
        return f"<{self.kind} preset {self.name!r}>"


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------
_REGISTRY: dict[tuple[str, str], DatasetPreset] = {}
_LOADED = False

P = TypeVar("P", bound=type)


def register_preset(cls: P) -> P:
    """Class decorator: add one instance of ``cls`` to the registry under ``(cls.kind, cls.name)``.

    Raises:
        ConfigError: an empty name, an unknown kind, or a name already taken in that kind.
    """
    if not cls.name or cls.kind not in KINDS:
        raise ConfigError(f"{cls.__qualname__}: a preset needs a name and a kind in {list(KINDS)}")
    key = (cls.kind, cls.name)
    old = _REGISTRY.get(key)
    if old is not None and type(old).__qualname__ != cls.__qualname__:
        raise ConfigError(f"{cls.__qualname__}: {cls.kind} preset '{cls.name}' is already registered by {type(old)}")
    _REGISTRY[key] = cls()
    return cls


def _load() -> None:
    """Import every preset module of talkzoo (and of ``talkzoo.presets`` entry points) once."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for kind in KINDS:
        package = importlib.import_module(f"talkzoo.data.presets.{kind}")
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{info.name}")
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # one broken third-party preset must not break the others
            log.warning("talkzoo preset entry point %s (%s) failed to load: %s", ep.name, ep.value, exc)


def presets(kind: str | None = None) -> list[DatasetPreset]:
    """Every registered preset (of ``kind`` when given), sorted by kind then name."""
    _load()
    return [p for (k, _), p in sorted(_REGISTRY.items()) if kind is None or k == kind]


def get_preset(kind: str, name: str) -> DatasetPreset:
    """The ``kind`` preset called ``name``.

    Raises:
        ConfigError: no such preset (the message lists the known ones).
    """
    _load()
    try:
        return _REGISTRY[(kind, name)]
    except KeyError:
        known = sorted(n for k, n in _REGISTRY if k == kind)
        raise ConfigError(f"preset '{name}' is unknown; expected one of {known}") from None


def prepare_presets() -> dict[str, DatasetPreset]:
    """``{name or alias: preset}`` of every preset with a ``talkzoo data prepare`` step."""
    out: dict[str, DatasetPreset] = {}
    for p in presets():
        if p.has_prepare:
            for n in (p.name, *p.aliases):
                if n in out and out[n] is not p:
                    raise ConfigError(f"`talkzoo data prepare {n}` is claimed by {out[n]!r} and {p!r}")
                out[n] = p
    return out


def prepare_help() -> str:
    """The ``dataset`` help of ``talkzoo data prepare``: one line per preset with a raw release."""
    seen: list[DatasetPreset] = []
    for p in prepare_presets().values():
        if p not in seen:
            seen.append(p)
    return "; ".join(str(p.prepare_help) for p in seen)


def run_prepare(args: argparse.Namespace) -> str:
    """Run ``talkzoo data prepare``: the preset named ``args.dataset`` converts ``args.src`` into
    ``args.out`` (its own options are read from ``args``). Returns the line to print.

    Raises:
        ConfigError: no preset prepares ``args.dataset``.
    """
    choices = prepare_presets()
    if args.dataset not in choices:
        raise ConfigError(f"`talkzoo data prepare {args.dataset}` is unknown; expected one of {sorted(choices)}")
    return choices[args.dataset].prepare(Path(args.src).expanduser(), Path(args.out).expanduser(), args)
