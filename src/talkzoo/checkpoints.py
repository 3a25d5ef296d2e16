"""Finding and loading talkzoo checkpoints.

A talkzoo checkpoint is a Lightning checkpoint that records the model's import path
(``_talkzoo_class_path``) and, in its hyper-parameters, its data spec as a dict, so :func:`load_model` rebuilds the
model from the file alone. Checkpoints are pickles: load only files you trust (your own runs or a
source you trust), as with any PyTorch checkpoint.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from talkzoo.errors import ConfigError, DataError


def _best_of(last: Path) -> Path | None:
    """The ``best_model_path`` a ModelCheckpoint recorded in ``last``, if it still exists."""
    import torch

    try:
        state = torch.load(last, map_location="cpu", weights_only=False).get("callbacks", {})
    except Exception:  # noqa: BLE001 - an unreadable file simply has no recorded best
        return None
    for key, value in state.items():
        best = value.get("best_model_path") if isinstance(value, dict) and "ModelCheckpoint" in str(key) else None
        if best:
            candidate = Path(best)
            if not candidate.is_absolute() and not candidate.exists():
                candidate = last.parent / candidate.name
            if candidate.is_file():
                return candidate
    return None


def resolve_checkpoint(path: str | Path, prefer: str = "last") -> Path:
    """Return a checkpoint file for ``path``.

    Args:
        path: a ``.ckpt`` file, or a run folder (e.g. ``runs/dualtalker_demo``): then, in the
            most recently written run below it, its ``last.ckpt`` (``prefer="last"``, to resume
            training) or the best checkpoint its ModelCheckpoint recorded (``prefer="best"``, to
            evaluate or animate; ``last.ckpt`` when none was recorded).
        prefer: ``"last"`` or ``"best"``.

    Raises:
        DataError: if the path does not exist or holds no checkpoint.
    """
    target = Path(path)
    if target.is_file():
        return target
    if target.is_dir():
        found = sorted(target.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime) or sorted(
            target.rglob("*.ckpt"), key=lambda p: p.stat().st_mtime
        )
        if found:
            if prefer == "best" and found[-1].name == "last.ckpt":
                return _best_of(found[-1]) or found[-1]
            return found[-1]
        raise DataError(f"no checkpoint (*.ckpt) found under '{target}'; train first with `talkzoo fit --config ...`")
    raise DataError(f"checkpoint '{target}' does not exist; expected a .ckpt file or a run folder")


def load_model(path: str | Path, map_location: str = "cpu", prefer: str = "best"):
    """Load a talkzoo model from a checkpoint file or run folder.

    Args:
        path: see :func:`resolve_checkpoint`.
        prefer: for a run folder, ``"best"`` (default) or ``"last"`` checkpoint.
        map_location: device for the weights (``"cpu"`` by default).

    Returns:
        The :class:`~talkzoo.tasks.base.TalkingFaceTask` subclass instance, in eval mode.

    Raises:
        DataError: missing file, or a file that is not a talkzoo checkpoint.
        ConfigError: the model's class cannot be imported (its plugin is not installed).
    """
    import torch

    from talkzoo.tasks.base import CLASS_PATH_KEY

    file = resolve_checkpoint(path, prefer=prefer)
    try:
        checkpoint = torch.load(file, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a data error for the user
        raise DataError(f"'{file}' is not a readable checkpoint: {type(exc).__name__}: {exc}") from None
    if not isinstance(checkpoint, dict) or CLASS_PATH_KEY not in checkpoint:
        raise DataError(f"'{file}' is not a talkzoo checkpoint (it records no '{CLASS_PATH_KEY}')")
    class_path = checkpoint[CLASS_PATH_KEY]
    module_name, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        raise ConfigError(
            f"checkpoint '{file}' needs model class {class_path}, which is not importable; install its plugin"
        ) from None
    model = cls.load_from_checkpoint(file, map_location=map_location, weights_only=False)
    return model.eval()
