"""LightningCLI behind ``talkzoo fit | validate | test | predict``.

The CLI takes any :class:`~talkzoo.tasks.base.TalkingFaceTask` subclass as ``model`` and any
:class:`~talkzoo.data.base.TalkzooDataModule` subclass as ``data`` by ``class_path`` (subclass
mode), and links ``data.spec`` into ``model.init_args.spec`` at instantiation, so a recipe never
repeats the vertex count, fps or speaker list.

Before LightningCLI parses anything, :func:`preflight` reads the recipe files and turns the
common mistakes into one short :class:`~talkzoo.errors.ConfigError` each: a missing file, broken
YAML, an unknown top-level key, an unknown model or datamodule class (with the installed models
listed), a misspelt constructor or Trainer argument (with the closest valid names), and a model
paired with data of another task family. Every ``class_path``/``init_args`` block is checked at
any depth (a speech encoder inside the model, the optimizer, a callback, the logger), so a
misspelt nested key is named with its full path and the closest valid name. Values that
Lightning or torch reject (``max_epochs: -5``, a negative learning rate) become one line before
anything is written.

Checkpoints given with ``--ckpt_path`` (a file or a run folder) are read weights-only first
(:func:`talkzoo.checkpoints.read_checkpoint`; ``--trust-checkpoint`` opts out for a file you
trust), and one whose model class differs from the recipe's is refused. ``fit --ckpt_path RUN``
resumes from the run's ``last.ckpt`` in the same run folder (same logger version, same
best-tracking, every random state restored; see :mod:`talkzoo.checkpoints`).
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
    """`` Did you mean 'x'?`` for the closest valid names (spelling, or initials: learning_rate → lr)."""
    close = difflib.get_close_matches(word, choices, n=2, cutoff=0.6)
    if not close:
        initials = "".join(part[:1] for part in word.split("_") if part)
        close = [c for c in choices if len(initials) > 1 and c == initials]
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
        raise ConfigError(
            f"config file '{path}' is empty (or holds only comments); expected a mapping with "
            "model, data and trainer sections"
        )
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


def _check_arguments(
    cls: type, given: dict, where: str, path: str, skip: tuple[str, ...] = (), cli_keys: frozenset[str] = frozenset()
) -> None:
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n in params if n not in ("self", *skip)]
    for key in given:
        if key not in valid:
            origin = "command line" if f"{where}.{key}" in cli_keys else path
            raise ConfigError(
                f"{origin}: '{where}.{key}' is not an argument of {cls.__name__}.{_suggest(key, valid)} "
                f"Valid arguments: {', '.join(valid)}."
            )


def _try_import(class_path: str) -> type | None:
    """The class at ``class_path`` if it imports, else ``None`` (jsonargparse judges the rest)."""
    module_name, _, name = str(class_path).rpartition(".")
    if not module_name:
        return None
    try:
        cls = getattr(importlib.import_module(module_name), name, None)
    except Exception:  # noqa: BLE001 - a class that does not import is reported by the parser
        return None
    return cls if isinstance(cls, type) else None


def _walk_components(value: Any, where: str, path: str, cli_keys: frozenset[str]) -> None:
    """Check every ``{class_path, init_args}`` block inside ``value``, at any depth."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            _walk_components(item, f"{where}[{i}]", path, cli_keys)
        return
    if not isinstance(value, dict):
        return
    if "class_path" not in value:
        for key, item in value.items():
            _walk_components(item, f"{where}.{key}", path, cli_keys)
        return
    extra = [k for k in value if k not in ("class_path", "init_args", "dict_kwargs")]
    if extra:
        raise ConfigError(
            f"{path}: '{where}.{extra[0]}' is not allowed here; put constructor arguments under '{where}.init_args'"
        )
    init_args = value.get("init_args") or {}
    if not isinstance(init_args, dict):
        raise ConfigError(f"{path}: '{where}.init_args' must be a mapping")
    cls = _try_import(value["class_path"])
    if cls is not None:
        _check_arguments(cls, init_args, f"{where}.init_args", path, cli_keys=cli_keys)
    for key, item in init_args.items():
        _walk_components(item, f"{where}.init_args.{key}", path, cli_keys)


def _command_line_values(argv: list[str]) -> dict[str, Any]:
    """``--model.x.y VALUE`` / ``--trainer.x=VALUE`` pairs of the command line (YAML-parsed values)."""
    out: dict[str, Any] = {}
    i = 1
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("--") or arg.startswith("--config") or "+=" in arg:
            continue
        key, eq, text = arg[2:].partition("=")
        if not eq:
            if i < len(argv) and not argv[i].startswith("--"):
                text = argv[i]
                i += 1
            else:
                continue
        if key.split(".")[0] not in ("model", "data", "trainer") or "." not in key:
            continue
        try:
            out[key] = yaml.safe_load(text)
        except yaml.YAMLError:
            out[key] = text
    return out


def _apply(merged: dict[str, Any], key: str, value: Any) -> None:
    """Set dotted ``key`` in ``merged`` (new mappings as needed; a path through a non-mapping is skipped)."""
    parts = key.split(".")
    node = merged
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            return
    node[parts[-1]] = value


def _section(config: dict, key: str, path: str) -> dict:
    value = config.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: '{key}' must be a mapping, got {type(value).__name__}")
    return value


def preflight(argv: list[str]) -> dict[str, type]:
    """Check the recipe files named by ``--config`` (and the command line's overrides) before
    LightningCLI parses them.

    Args:
        argv: the command line after ``talkzoo`` (verb first).

    Returns:
        ``{"model": class, "data": class}`` for the sections the recipe names.

    Raises:
        ConfigError: missing/empty/invalid file, unknown key, unknown class, misspelt argument at
            any depth (named with its full path and the closest valid name).
        FamilyMismatchError: model and datamodule of different task families.
    """
    import copy

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
    overrides = _command_line_values(argv)
    cli_keys = frozenset(overrides)
    merged = copy.deepcopy(merged)
    for key, value in overrides.items():
        top = key.split(".")[0]
        if top not in merged or isinstance(merged.get(top), dict):
            origin.setdefault(top, "command line")
            _apply(merged, key, value)
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
        skip = ("spec",) if key == "model" else ()
        _check_arguments(cls, init_args, f"{key}.init_args", origin[key], skip, cli_keys)
        for name, value in init_args.items():
            _walk_components(value, f"{key}.init_args.{name}", origin[key], cli_keys)
    if "trainer" in merged:
        trainer = _section(merged, "trainer", origin["trainer"])
        _check_arguments(Trainer, trainer, "trainer", origin["trainer"], cli_keys=cli_keys)
        for name, value in trainer.items():
            _walk_components(value, f"trainer.{name}", origin["trainer"], cli_keys)
    # Keys given on the command line whose section the recipes do not have.
    for key in overrides:
        parts = key.split(".")
        if parts[0] in classes and len(parts) >= 3 and parts[1] == "init_args":
            skip = ("spec",) if parts[0] == "model" else ()
            _check_arguments(classes[parts[0]], {parts[2]: None}, f"{parts[0]}.init_args", "command line", skip, cli_keys)
        elif parts[0] == "trainer" and len(parts) == 2:
            _check_arguments(Trainer, {parts[1]: None}, "trainer", "command line", cli_keys=cli_keys)
    model_cls, data_cls = classes.get("model"), classes.get("data")
    if model_cls is not None and data_cls is not None:
        model_family = getattr(model_cls, "family", "")
        data_family = getattr(data_cls, "family", "")
        if model_family and data_family and model_family != data_family:
            raise FamilyMismatchError(
                f"model {model_cls.__name__} is an '{model_family}' model but datamodule {data_cls.__name__} "
                f"serves '{data_family}' data; pair the model with a datamodule of the '{model_family}' family"
            )
    return classes


def _build_cli_class():
    from lightning.pytorch.cli import LightningCLI

    class TalkzooCLI(LightningCLI):
        """LightningCLI that links ``data.spec`` into ``model.init_args.spec``, makes every run
        resumable (:func:`talkzoo.checkpoints.prepare_trainer`), reads ``--ckpt_path``
        weights-only, and checks optimizer values before anything is written."""

        #: set by :func:`run_lightning`: the run folder ``fit`` resumes in, and the trust opt-in.
        talkzoo_resume_run: Path | None = None
        talkzoo_trust: bool = False

        def add_arguments_to_parser(self, parser) -> None:  # noqa: D102
            parser.link_arguments("data", "model.init_args.spec", compute_fn=_spec_of, apply_on="instantiate")

        def _parse_ckpt_path(self) -> None:
            # LightningCLI merges the checkpoint's hyper-parameters into the config; read the file
            # through talkzoo's reader (weights-only unless trusted) instead of a second torch.load.
            from talkzoo.checkpoints import read_checkpoint

            if not self.config.get("subcommand"):
                return
            ckpt_path = self.config[self.config.subcommand].get("ckpt_path")
            if not ckpt_path or not Path(ckpt_path).is_file():
                return
            ckpt = read_checkpoint(ckpt_path, trust=self.talkzoo_trust)
            hparams = dict(ckpt.get("hyper_parameters", {}) or {}) if isinstance(ckpt, dict) else {}
            hparams.pop("_instantiator", None)
            if not hparams:
                return
            if "_class_path" in hparams:
                hparams = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams}
            self.config = self.parser.parse_object({self.config.subcommand: {"model": hparams}}, self.config)

        def instantiate_trainer(self, **kwargs: Any):  # noqa: D102
            from lightning.fabric.utilities.exceptions import MisconfigurationException

            from talkzoo.checkpoints import prepare_trainer

            try:
                trainer = super().instantiate_trainer(**kwargs)
            except (MisconfigurationException, ValueError, TypeError) as exc:
                if isinstance(exc, TalkzooError):
                    raise
                raise ConfigError(f"trainer: {_one_line(exc)}") from None
            prepare_trainer(trainer, resume_run=self.talkzoo_resume_run if self.subcommand == "fit" else None)
            return trainer

        def after_instantiate_classes(self) -> None:  # noqa: D102
            if self.subcommand == "fit":
                _probe_optimizer(self.model)

    return TalkzooCLI


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _probe_optimizer(model: Any) -> None:
    """Build the model's optimizer (and scheduler) on a dummy parameter, so a value torch rejects
    (a negative learning rate) is one line before training writes anything."""
    import torch

    factory = getattr(model, "optimizer_factory", None)
    if not callable(factory):
        return
    param = torch.nn.Parameter(torch.zeros(1))
    try:
        optimizer = factory([param])
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the model's optimizer rejects its settings: {_one_line(exc)}") from None
    scheduler = getattr(model, "lr_scheduler_factory", None)
    if callable(scheduler) and isinstance(optimizer, torch.optim.Optimizer):
        try:
            scheduler(optimizer)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"the model's lr_scheduler rejects its settings: {_one_line(exc)}") from None


def _spec_of(datamodule: Any) -> Any:
    return datamodule.spec


def _short_parser_error(message: str) -> str:
    """Keep the informative lines of a jsonargparse error (it can run to dozens of lines)."""
    lines = [ln.strip(" -") for ln in str(message).splitlines() if ln.strip()]
    keep = [
        ln
        for ln in lines
        if ln.startswith(("Parser key", "Key '")) or "not expected" in ln or "No action" in ln or "Expected" in ln or "does not" in ln.lower()
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


TRUST_FLAG = "--trust-checkpoint"


def _ckpt_argument(argv: list[str]) -> tuple[int, str] | None:
    """Index and value of ``--ckpt_path`` in ``argv`` (index of the value / of the ``=`` form)."""
    for i, arg in enumerate(argv):
        if arg == "--ckpt_path" and i + 1 < len(argv):
            return i + 1, argv[i + 1]
        if arg.startswith("--ckpt_path="):
            return i, arg.split("=", 1)[1]
    return None


def _resolve_ckpt_path(argv: list[str], trust: bool = False) -> tuple[list[str], Path | None]:
    """Let ``--ckpt_path`` name a run folder: ``fit`` resumes from its newest ``last.ckpt``;
    ``validate``/``test``/``predict`` use the best checkpoint its ModelCheckpoint recorded
    (looked up inside the folder). Returns the new argv and the resolved file (or ``None``)."""
    from talkzoo.checkpoints import resolve_checkpoint

    prefer = "last" if argv[0] == "fit" else "best"
    keywords = ("best", "last", "hpc", "registry", "null", "None")  # Lightning's own ckpt_path values
    found = _ckpt_argument(argv)
    if found is None or found[1] in keywords:
        return list(argv), None
    index, value = found
    file = resolve_checkpoint(value, prefer=prefer, trust=trust)
    out = list(argv)
    out[index] = str(file) if out[index] == value else f"--ckpt_path={file}"
    return out, file


def _check_checkpoint(file: Path, model_cls: type | None, trust: bool) -> None:
    """Read ``file`` weights-only (one-line refusal) and refuse a model class other than the recipe's."""
    from talkzoo.checkpoints import checkpoint_class_path, read_checkpoint

    checkpoint = read_checkpoint(file, trust=trust)
    recorded = checkpoint_class_path(checkpoint)
    del checkpoint
    if recorded is None or model_cls is None:
        return
    expected = f"{model_cls.__module__}.{model_cls.__qualname__}"
    if recorded != expected and _try_import(recorded) is not model_cls:
        raise ConfigError(
            f"checkpoint '{file}' holds a {recorded} model but the recipe's model is {expected}; "
            "use the recipe the checkpoint was trained with, or a checkpoint of this model"
        )


def _resume_config_name(run: Path) -> str:
    """File name for the resolved config of a resumed run (``config.yaml`` is the first run's)."""
    if not (run / "config.yaml").exists():
        return "config.yaml"
    n = 1
    while (run / f"config.resume-{n}.yaml").exists():
        n += 1
    return f"config.resume-{n}.yaml"


def _route_default_root_dir(argv: list[str], classes_config: dict[str, Any]) -> list[str]:
    """``--trainer.default_root_dir D`` on the command line also moves the recipe's logger (its
    ``save_dir`` would otherwise silently win), unless the logger's save_dir is given too."""
    values = _command_line_values(argv)
    root = values.get("trainer.default_root_dir")
    if root is None or "trainer.logger.init_args.save_dir" in values or "trainer.logger" in values:
        return argv
    logger = (classes_config.get("trainer") or {}).get("logger") if isinstance(classes_config.get("trainer"), dict) else None
    if isinstance(logger, dict) and isinstance(logger.get("init_args"), dict) and "save_dir" in logger["init_args"]:
        return [*argv, "--trainer.logger.init_args.save_dir", str(root)]
    return argv


def _merged_configs(argv: list[str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in _config_paths(argv):
        try:
            merged.update(_read_yaml(path))
        except ConfigError:
            pass
    return merged


def _worker_message(exc: BaseException) -> str | None:
    """The original one-line message of a talkzoo error re-raised from a DataLoader worker."""
    text = str(exc)
    if "Original Traceback" not in text:
        return None
    for line in reversed(text.strip().splitlines()):
        for name in ("DataError: ", "ConfigError: ", "TalkzooError: "):
            if name in line:
                return line.split(name, 1)[1].strip()
    return None


def run_lightning(argv: list[str]) -> int:
    """Run ``talkzoo fit|validate|test|predict`` through LightningCLI.

    Args:
        argv: the command line after ``talkzoo``, verb first (e.g. ``["fit", "--config", "x.yaml"]``).
            ``--trust-checkpoint`` (talkzoo's own flag) loads ``--ckpt_path`` with full unpickling.

    Returns:
        0 on success.

    Raises:
        ConfigError: for recipe mistakes found by :func:`preflight` or reported by the parser, a
            value Lightning/torch reject, or a checkpoint of another model class.
        DataError: a checkpoint refused by the weights-only reader, or bad data.
    """
    from jsonargparse import ArgumentError
    from lightning.pytorch.cli import SaveConfigCallback

    from talkzoo.checkpoints import run_folder_of, trust_requested
    from talkzoo.data.base import TalkzooDataModule
    from talkzoo.tasks.base import TalkingFaceTask

    trust = trust_requested(TRUST_FLAG in argv)
    argv = [a for a in argv if a != TRUST_FLAG]
    helping = any(a in ("-h", "--help", "--print_config") or a.startswith("--print_config") for a in argv)
    classes = {} if helping else preflight(argv)
    argv, ckpt_file = _resolve_ckpt_path(argv, trust=trust)
    if ckpt_file is not None:
        _check_checkpoint(ckpt_file, classes.get("model"), trust)
        if trust:
            argv = [*argv, "--weights_only", "false"]
    if not helping:
        argv = _route_default_root_dir(argv, _merged_configs(argv))
    cli_class = _build_cli_class()
    cli_class.talkzoo_trust = trust
    verb = argv[0]
    resume_run = run_folder_of(ckpt_file) if verb == "fit" and ckpt_file is not None else None
    cli_class.talkzoo_resume_run = resume_run
    save_config_kwargs: dict[str, Any] = {"overwrite": False}
    if resume_run is not None:
        save_config_kwargs["config_filename"] = _resume_config_name(resume_run)
    warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
    warnings.filterwarnings("ignore", message=".*dirpath has changed from.*")
    warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
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
            save_config_kwargs=save_config_kwargs,
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
        worker = _worker_message(exc)
        if worker is not None:
            raise TalkzooError(worker) from None
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
