"""LightningCLI behind ``talkzoo fit | validate | test | predict``.

The CLI takes any :class:`~talkzoo.tasks.base.TalkingFaceTask` subclass as ``model`` and any
:class:`~talkzoo.data.base.TalkzooDataModule` subclass as ``data`` by ``class_path`` (subclass
mode), and links ``data.spec`` into ``model.init_args.spec`` at instantiation, so a recipe never
repeats the vertex count, fps or speaker list.

Before LightningCLI parses anything, :func:`preflight` reads the recipe files and turns the
common mistakes into one short :class:`~talkzoo.errors.ConfigError` each: a missing file, broken
YAML, an unknown top-level key, an unknown model or datamodule class (with the installed models
listed), a misspelt constructor or Trainer argument (with the closest valid names), and a model
paired with data of another task family.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import warnings
from pathlib import Path
from typing import Any

import yaml

from talkzoo.errors import ConfigError, FamilyMismatchError, TalkzooError

TOP_LEVEL_KEYS = (
    "seed_everything",
    "trainer",
    "model",
    "data",
    "ckpt_path",
    "return_predictions",
    "verbose",
)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=2, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _config_paths(argv: list[str]) -> list[str]:
    paths = []
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            paths.append(argv[i + 1])
        elif arg.startswith("--config="):
            paths.append(arg.split("=", 1)[1])
    return paths


def _read_yaml(path: str) -> dict:
    file = Path(path)
    if not file.is_file():
        hint = ""
        recipes = Path("recipes")
        if recipes.is_dir():
            names = sorted(p.name for p in recipes.glob("*.yaml"))
            hint = _suggest(file.name, names) or f" Recipes here: {', '.join(names)}."
        raise ConfigError(f"config file '{path}' not found.{hint}")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"config file '{path}' is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of keys, got {type(data).__name__}")
    return data


def _import_class(class_path: str, what: str, path: str, base: type) -> type:
    module_name, _, name = class_path.rpartition(".")
    cls = None
    if module_name:
        try:
            cls = getattr(importlib.import_module(module_name), name, None)
        except ModuleNotFoundError as exc:
            if not module_name.startswith(exc.name or "\0"):
                raise  # the class's module exists but one of its imports is missing: show it
    if cls is None:
        hint = ""
        if what == "model":
            from talkzoo.plugins import list_models

            models = list_models()
            by_name = {m.name.lower(): m.class_path for _, m in models}
            if class_path.lower() in by_name:
                hint = f" Write the full class path: class_path: {by_name[class_path.lower()]}."
            else:
                installed = ", ".join(f"{m.name} ({m.class_path})" for _, m in models) or "none"
                hint = _suggest(class_path, list(by_name.values())) + f" Installed models: {installed}."
        raise ConfigError(f"{path}: unknown {what} class '{class_path}'.{hint}")
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"{path}: {what} class '{class_path}' is not a subclass of {base.__module__}.{base.__name__}")
    return cls


def _check_arguments(cls: type, given: dict, where: str, path: str, skip: tuple[str, ...] = ()) -> None:
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n in params if n not in ("self", *skip)]
    for key in given:
        if key not in valid:
            raise ConfigError(
                f"{path}: '{where}.{key}' is not an argument of {cls.__name__}.{_suggest(key, valid)} "
                f"Valid arguments: {', '.join(valid)}."
            )


def _section(config: dict, key: str, path: str) -> dict:
    value = config.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: '{key}' must be a mapping, got {type(value).__name__}")
    return value


def preflight(argv: list[str]) -> None:
    """Check the recipe files named by ``--config`` before LightningCLI parses them.

    Args:
        argv: the command line after ``talkzoo`` (verb first).

    Raises:
        ConfigError: missing/invalid file, unknown key, unknown class, misspelt argument.
        FamilyMismatchError: model and datamodule of different task families.
    """
    from lightning.pytorch import Trainer

    from talkzoo.data.base import TalkzooDataModule
    from talkzoo.tasks.base import TalkingFaceTask

    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for path in _config_paths(argv):
        config = _read_yaml(path)
        for key in config:
            if key not in TOP_LEVEL_KEYS:
                raise ConfigError(
                    f"{path}: unknown top-level key '{key}'.{_suggest(key, list(TOP_LEVEL_KEYS))} "
                    f"Expected: {', '.join(TOP_LEVEL_KEYS)}."
                )
        for key, value in config.items():
            merged[key] = value
            origin[key] = path
    classes: dict[str, type] = {}
    for key, base in (("model", TalkingFaceTask), ("data", TalkzooDataModule)):
        if key not in merged:
            continue
        section = _section(merged, key, origin[key])
        class_path = section.get("class_path")
        if not class_path:
            raise ConfigError(f"{origin[key]}: '{key}' needs a 'class_path' (the full import path of the class)")
        cls = _import_class(str(class_path), key if key == "model" else "datamodule", origin[key], base)
        classes[key] = cls
        init_args = section.get("init_args") or {}
        if not isinstance(init_args, dict):
            raise ConfigError(f"{origin[key]}: '{key}.init_args' must be a mapping")
        extra = tuple(k for k in section if k not in ("class_path", "init_args", "dict_kwargs"))
        if extra:
            raise ConfigError(
                f"{origin[key]}: '{key}.{extra[0]}' is not allowed here; put constructor arguments under '{key}.init_args'"
            )
        _check_arguments(cls, init_args, f"{key}.init_args", origin[key], skip=("spec",) if key == "model" else ())
    if "trainer" in merged:
        _check_arguments(Trainer, _section(merged, "trainer", origin["trainer"]), "trainer", origin["trainer"])
    # Keys given on the command line: --model.init_args.X, --data.init_args.X, --trainer.X
    for arg in argv:
        if not arg.startswith("--") or arg.startswith("--config"):
            continue
        key = arg[2:].split("=", 1)[0]
        parts = key.split(".")
        if parts[0] in classes and len(parts) >= 3 and parts[1] == "init_args":
            skip = ("spec",) if parts[0] == "model" else ()
            _check_arguments(classes[parts[0]], {parts[2]: None}, f"{parts[0]}.init_args", "command line", skip)
        elif parts[0] == "trainer" and len(parts) == 2:
            _check_arguments(Trainer, {parts[1]: None}, "trainer", "command line")
    model_cls, data_cls = classes.get("model"), classes.get("data")
    if model_cls is not None and data_cls is not None:
        model_family = getattr(model_cls, "family", "")
        data_family = getattr(data_cls, "family", "")
        if model_family and data_family and model_family != data_family:
            raise FamilyMismatchError(
                f"model {model_cls.__name__} is an '{model_family}' model but datamodule {data_cls.__name__} "
                f"serves '{data_family}' data; pair the model with a datamodule of the '{model_family}' family"
            )


def _build_cli_class():
    from lightning.pytorch.cli import LightningCLI

    class TalkzooCLI(LightningCLI):
        """LightningCLI that links ``data.spec`` into ``model.init_args.spec``."""

        def add_arguments_to_parser(self, parser) -> None:  # noqa: D102
            parser.link_arguments("data", "model.init_args.spec", compute_fn=_spec_of, apply_on="instantiate")

    return TalkzooCLI


def _spec_of(datamodule: Any) -> Any:
    return datamodule.spec


def _short_parser_error(message: str) -> str:
    """Keep the informative lines of a jsonargparse error (it can run to dozens of lines)."""
    lines = [ln.strip(" -") for ln in str(message).splitlines() if ln.strip()]
    keep = [
        ln
        for ln in lines
        if ln.startswith("Parser key") or "not expected" in ln or "No action" in ln or "Expected" in ln or "does not" in ln.lower()
    ]
    return "; ".join(dict.fromkeys(keep or lines[:3]))


def _talkzoo_cause(exc: BaseException) -> TalkzooError | None:
    """The first talkzoo error in ``exc``'s cause/context chain (jsonargparse wraps them)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, TalkzooError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _raised_by_parser(exc: BaseException) -> bool:
    """Whether ``exc`` comes from jsonargparse validating a value (a config mistake)."""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last is not None and "jsonargparse" in last


def _resolve_ckpt_path(argv: list[str]) -> list[str]:
    """Let ``--ckpt_path`` name a run folder: ``fit`` resumes from its newest ``last.ckpt``;
    ``validate``/``test``/``predict`` use the best checkpoint its ModelCheckpoint recorded."""
    from talkzoo.checkpoints import resolve_checkpoint

    prefer = "last" if argv[0] == "fit" else "best"
    keywords = ("best", "last", "hpc", "registry")  # Lightning's own ckpt_path values
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == "--ckpt_path" and i + 1 < len(out) and out[i + 1] not in keywords:
            out[i + 1] = str(resolve_checkpoint(out[i + 1], prefer=prefer))
        elif arg.startswith("--ckpt_path=") and arg.split("=", 1)[1] not in keywords:
            out[i] = f"--ckpt_path={resolve_checkpoint(arg.split('=', 1)[1], prefer=prefer)}"
    return out


def run_lightning(argv: list[str]) -> int:
    """Run ``talkzoo fit|validate|test|predict`` through LightningCLI.

    Args:
        argv: the command line after ``talkzoo``, verb first (e.g. ``["fit", "--config", "x.yaml"]``).

    Returns:
        0 on success.

    Raises:
        ConfigError: for recipe mistakes found by :func:`preflight` or reported by the parser.
    """
    from jsonargparse import ArgumentError
    from lightning.pytorch.cli import SaveConfigCallback

    from talkzoo.data.base import TalkzooDataModule
    from talkzoo.tasks.base import TalkingFaceTask

    if not any(a in ("-h", "--help", "--print_config") or a.startswith("--print_config") for a in argv):
        preflight(argv)
    argv = _resolve_ckpt_path(argv)
    cli_class = _build_cli_class()
    verb = argv[0]
    warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
    try:
        cli_class(
            TalkingFaceTask,
            TalkzooDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=argv,
            parser_kwargs={"exit_on_error": False, verb: {"exit_on_error": False}},
            # Only training runs save their resolved config (into the run's versioned folder).
            save_config_callback=SaveConfigCallback if verb == "fit" else None,
            save_config_kwargs={"overwrite": False},
            auto_configure_optimizers=False,
        )
    except ArgumentError as exc:
        raise ConfigError(_short_parser_error(str(exc))) from None
    except TalkzooError:
        raise
    except Exception as exc:
        found = _talkzoo_cause(exc)
        if found is not None:
            raise found from None
        if isinstance(exc, (ValueError, TypeError)) and _raised_by_parser(exc):
            raise ConfigError(_short_parser_error(str(exc))) from None
        if not isinstance(exc, RuntimeError):
            raise
        if "SaveConfigCallback expected" in str(exc):
            target = str(exc).split("expected ", 1)[1].split(" to NOT exist", 1)[0]
            raise ConfigError(
                f"{target} exists from an earlier run and talkzoo does not overwrite it; "
                "set --trainer.default_root_dir to a new folder, use a logger (versioned folders), or remove the file"
            ) from None
        raise
    return 0
