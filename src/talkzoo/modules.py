"""Rebuildable sub-modules: components injected by config record how to rebuild themselves.

Models take components such as the speech encoder as constructor arguments (a recipe picks
``class_path: talkzoo.audio.encoders.Wav2Vec2Encoder``). A checkpoint must be able to rebuild
the model from its file alone, without storing the component object (which would duplicate its
weights). A class that inherits :class:`RecordsConfig` remembers its own constructor arguments
as ``{"class_path": ..., "init_args": {...}}``; :class:`~talkzoo.tasks.base.TalkingFaceTask` saves
that dict in the hyper-parameters instead of the module, and :func:`build_module` turns it back
into a module when the checkpoint is loaded.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any

from talkzoo.errors import ConfigError

CONFIG_ATTR = "_talkzoo_config"


class RecordsConfig:
    """Mixin: every instance records ``{"class_path", "init_args"}`` of its most-derived class.

    Put it before ``torch.nn.Module`` in the bases (``class Enc(RecordsConfig, nn.Module)``) or
    inherit from a class that has it. The arguments are recorded as given (after defaults are
    applied); nested values that are themselves recordable modules are recorded recursively.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            if type(self) is cls:
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                values = dict(bound.arguments)
                values.pop(next(iter(signature.parameters)))  # self
                for name, param in signature.parameters.items():
                    if param.kind is param.VAR_KEYWORD:
                        values.update(values.pop(name, {}))
                    elif param.kind is param.VAR_POSITIONAL:
                        values.pop(name, None)
                self.__dict__[CONFIG_ATTR] = {
                    "class_path": f"{cls.__module__}.{cls.__qualname__}",
                    "init_args": {k: _plain(v) for k, v in values.items()},
                }

        cls.__init__ = recording_init  # type: ignore[method-assign]


def _plain(value: Any) -> Any:
    recorded = module_config(value)
    if recorded is not None:
        return recorded
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def module_config(module: Any) -> dict | None:
    """The ``{"class_path", "init_args"}`` a :class:`RecordsConfig` instance recorded, else ``None``."""
    config = getattr(module, "__dict__", {}).get(CONFIG_ATTR)
    return None if config is None else {"class_path": config["class_path"], "init_args": dict(config["init_args"])}


def build_module(value: Any) -> Any:
    """Return ``value`` as a module: a module is returned as is; a ``{"class_path", "init_args"}``
    dict (from a checkpoint or a plain config) is instantiated; ``None`` stays ``None``.

    Raises:
        ConfigError: for a dict whose class cannot be imported or built.
    """
    if not isinstance(value, dict) or "class_path" not in value:
        return value
    module_name, _, name = str(value["class_path"]).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        raise ConfigError(f"cannot import component class '{value['class_path']}'") from None
    init_args = {k: build_module(v) for k, v in (value.get("init_args") or {}).items()}
    return cls(**init_args)
