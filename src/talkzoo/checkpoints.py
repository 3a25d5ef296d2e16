"""Finding, reading and loading talkzoo checkpoints — weights only.

A talkzoo checkpoint is a Lightning checkpoint that records the model's import path
(``_talkzoo_class_path``) and, in its hyper-parameters, plain values only (numbers, strings, lists,
dicts: its data spec as a dict, injected modules as the config that rebuilds them), so
:func:`load_model` rebuilds the model from the file alone.

**Checkpoints cannot run code.** Every place talkzoo reads a checkpoint (``talkzoo animate``,
``talkzoo fit|validate|test|predict --ckpt_path``, :func:`load_model`, the run-folder lookup of
the best checkpoint) reads it with PyTorch's weights-only unpickler (``torch.load(...,
weights_only=True)``): tensors, numbers, strings and containers load; a file that refers to any
other Python object (a class, a function such as ``exec`` or ``os.system``) is refused with one
line naming the file and the object, and nothing in it runs. For a file you trust that needs
more (a checkpoint written by another tool that pickles its own objects) the opt-in is explicit:
``talkzoo animate --trust-checkpoint``, ``talkzoo fit|validate|test|predict --trust-checkpoint``,
``TALKZOO_TRUST_CHECKPOINTS=1`` in the environment, or ``trust=True`` here. It loads that file
with full unpickling, which can run arbitrary code: only for files from a source you trust.

**Run folders.** ``--ckpt_path runs/dualtalker_demo`` names a run folder: its most recently
written ``last.ckpt`` (to resume) or the best checkpoint its ModelCheckpoint recorded (to
evaluate or animate). The recorded best is looked up *by name inside the folder that holds that
``last.ckpt``*, never against the current directory, so a run folder resolves only to
checkpoints inside it.
"""

from __future__ import annotations

import importlib
import os
import re
import warnings
from pathlib import Path
from typing import Any

from talkzoo.errors import ConfigError, DataError

__all__ = [
    "TRUST_ENV",
    "checkpoint_class_path",
    "load_model",
    "read_checkpoint",
    "resolve_checkpoint",
    "run_folder_of",
    "trust_requested",
]

#: Environment variable that, set to ``1``/``true``/``yes``, trusts every checkpoint (full unpickling).
TRUST_ENV = "TALKZOO_TRUST_CHECKPOINTS"

_TRUST_HINT = f"if you trust this file, pass --trust-checkpoint (or set {TRUST_ENV}=1)"


def trust_requested(trust: bool | None = None) -> bool:
    """Whether full (code-running) unpickling was opted into: ``trust`` or ``$TALKZOO_TRUST_CHECKPOINTS``."""
    if trust:
        return True
    return os.environ.get(TRUST_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _pickle_globals(file: Path) -> list[str] | None:
    """The ``module.name`` objects a plain pickle file refers to (read with :mod:`pickletools`,
    which executes nothing), or ``None`` if the file is not a well-formed pickle."""
    import pickletools
    import zipfile

    if zipfile.is_zipfile(file):
        return []
    names: list[str] = []
    strings: list[str] = []
    try:
        with open(file, "rb") as handle:
            for opcode, arg, _ in pickletools.genops(handle):
                if opcode.name in ("GLOBAL", "INST"):
                    names.append(str(arg).replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    names.append(f"{strings[-2]}.{strings[-1]}")
                elif isinstance(arg, str):
                    strings.append(arg)
    except Exception:  # noqa: BLE001 - any malformed stream
        return None
    return names


def _why_refused(exc: BaseException, file: Path) -> str | None:
    """Why the weights-only reader refused ``file``, or ``None`` if it is simply not a checkpoint."""
    text = str(exc)
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if found:
        return f"it refers to the Python object '{found.group(1)}', which a weights-only load does not import or run"
    names = _pickle_globals(file)
    if names is None:
        return None
    if names:
        shown = ", ".join(dict.fromkeys(names))
        return f"it refers to the Python object(s) {shown}, which a weights-only load does not import or run"
    found = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\n|$)", text, flags=re.S)
    detail = " ".join(found.group(1).split()) if found else type(exc).__name__
    return f"it needs more than weights to load ({detail})"


def read_checkpoint(path: str | Path, *, trust: bool | None = None, map_location: Any = "cpu") -> Any:
    """Read a checkpoint file weights-only (tensors, numbers, strings, containers).

    Args:
        path: the checkpoint file.
        trust: allow full unpickling for this file (can run code; see the module docstring);
            ``None`` reads ``$TALKZOO_TRUST_CHECKPOINTS``.
        map_location: where tensors go (``"cpu"`` by default).

    Returns:
        The unpickled object (a dict for Lightning checkpoints).

    Raises:
        DataError: one line naming the file: missing/unreadable file, or (without trust) a file
            that refers to a Python object beyond weights — nothing in it has run.
    """
    import pickle

    import torch

    file = Path(path)
    if not file.is_file():
        raise DataError(f"checkpoint '{file}' does not exist; expected a .ckpt file or a run folder")
    trusted = trust_requested(trust)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols of foreign files
            return torch.load(file, map_location=map_location, weights_only=not trusted)
    except pickle.UnpicklingError as exc:
        if trusted or "Weights only load failed" not in str(exc):
            raise DataError(f"'{file}' is not a readable checkpoint: {type(exc).__name__}: {exc}") from None
        why = _why_refused(exc, file)
        if why is None:
            raise DataError(f"'{file}' is not a readable checkpoint (not a PyTorch/pickle file)") from None
        raise DataError(f"refusing checkpoint '{file}': {why}; {_TRUST_HINT}") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a data error for the user
        message = " ".join(str(exc).split())[:300]
        raise DataError(f"'{file}' is not a readable checkpoint: {type(exc).__name__}: {message}") from None


def checkpoint_class_path(checkpoint: Any) -> str | None:
    """The model import path a checkpoint records (``_talkzoo_class_path``, else LightningCLI's
    ``hyper_parameters._class_path``), or ``None``."""
    from talkzoo.tasks.base import CLASS_PATH_KEY

    if not isinstance(checkpoint, dict):
        return None
    if checkpoint.get(CLASS_PATH_KEY):
        return str(checkpoint[CLASS_PATH_KEY])
    hparams = checkpoint.get("hyper_parameters")
    if isinstance(hparams, dict) and hparams.get("_class_path"):
        return str(hparams["_class_path"])
    return None


def _best_of(last: Path, trust: bool | None = None) -> Path | None:
    """The best checkpoint a ModelCheckpoint recorded in ``last``, looked up inside ``last``'s folder.

    The recorded ``best_model_path`` (absolute, or relative to wherever training ran) is used
    only for its file name: the candidate is ``last.parent / name``. Returns ``None`` when none
    is recorded or the file is gone.

    Raises:
        DataError: ``last`` is refused by :func:`read_checkpoint` (one line naming it).
    """
    checkpoint = read_checkpoint(last, trust=trust)
    state = checkpoint.get("callbacks", {}) if isinstance(checkpoint, dict) else {}
    for key, value in (state or {}).items():
        best = value.get("best_model_path") if isinstance(value, dict) and "ModelCheckpoint" in str(key) else None
        if best:
            candidate = last.parent / Path(str(best)).name
            if candidate.is_file():
                return candidate
    return None


def resolve_checkpoint(path: str | Path, prefer: str = "last", *, trust: bool | None = None) -> Path:
    """Return a checkpoint file for ``path``.

    Args:
        path: a ``.ckpt`` file, or a run folder (e.g. ``runs/dualtalker_demo``): then, in the
            most recently written run below it, its ``last.ckpt`` (``prefer="last"``, to resume
            training) or the best checkpoint its ModelCheckpoint recorded (``prefer="best"``, to
            evaluate or animate; ``last.ckpt`` when none was recorded). Only files inside the
            folder are ever returned.
        prefer: ``"last"`` or ``"best"``.
        trust: see :func:`read_checkpoint` (reading ``last.ckpt`` for its recorded best).

    Raises:
        DataError: if the path does not exist, holds no checkpoint, or its ``last.ckpt`` is refused.
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
                return _best_of(found[-1], trust=trust) or found[-1]
            return found[-1]
        raise DataError(f"no checkpoint (*.ckpt) found under '{target}'; train first with `talkzoo fit --config ...`")
    raise DataError(f"checkpoint '{target}' does not exist; expected a .ckpt file or a run folder")


def run_folder_of(checkpoint: str | Path) -> Path | None:
    """The run folder a checkpoint belongs to: ``<run>/checkpoints/<file>.ckpt`` gives ``<run>``
    (a logger's ``<save_dir>/<name>/<version>`` folder), else ``None``."""
    file = Path(checkpoint)
    return file.parent.parent if file.parent.name == "checkpoints" else None


def load_model(path: str | Path, map_location: str = "cpu", prefer: str = "best", *, trust: bool | None = None):
    """Load a talkzoo model from a checkpoint file or run folder, weights-only.

    Args:
        path: see :func:`resolve_checkpoint`.
        map_location: device for the weights (``"cpu"`` by default).
        prefer: for a run folder, ``"best"`` (default) or ``"last"`` checkpoint.
        trust: allow full unpickling (can run code); see :func:`read_checkpoint`.

    Returns:
        The :class:`~talkzoo.tasks.base.TalkingFaceTask` subclass instance, in eval mode.

    Raises:
        DataError: missing file, a file refused by the weights-only reader, or a file that is
            not a talkzoo checkpoint.
        ConfigError: the model's class cannot be imported (its plugin is not installed).
    """
    from talkzoo.tasks.base import CLASS_PATH_KEY

    file = resolve_checkpoint(path, prefer=prefer, trust=trust)
    checkpoint = read_checkpoint(file, trust=trust, map_location=map_location)
    if not isinstance(checkpoint, dict) or CLASS_PATH_KEY not in checkpoint:
        raise DataError(f"'{file}' is not a talkzoo checkpoint (it records no '{CLASS_PATH_KEY}')")
    class_path = checkpoint[CLASS_PATH_KEY]
    del checkpoint
    module_name, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        raise ConfigError(
            f"checkpoint '{file}' needs model class {class_path}, which is not importable; install its plugin"
        ) from None
    model = cls.load_from_checkpoint(file, map_location=map_location, weights_only=not trust_requested(trust))
    return model.eval()


# ---------------------------------------------------------------------------- training runs
# Lightning is imported here, not at the top, so resolving a path stays cheap.
from lightning.pytorch.callbacks import Callback, ModelCheckpoint  # noqa: E402


def _same_folder(a: str | os.PathLike[str] | None, b: str | os.PathLike[str] | None) -> bool:
    try:
        return a is not None and b is not None and os.path.samefile(a, b)
    except OSError:
        return False


class RunCheckpoint(ModelCheckpoint):
    """A :class:`~lightning.pytorch.callbacks.ModelCheckpoint` whose ``last.ckpt`` is always the last state.

    Same arguments as ``ModelCheckpoint``, with two differences that make a run resumable:

    * ``last.ckpt`` is (re)written at the end of **every** training epoch and at the end of
      training, whatever the monitored metric does (Lightning 2.6 rewrites it only when a top-k
      checkpoint was saved in the same step, so after a run whose best epoch is early it holds
      that early epoch). ``save_last`` defaults to ``True`` (``save_last=False`` turns it off;
      ``"link"`` is written as a real file, never through a link into the best checkpoint).
    * Best-tracking survives a resume in the same run folder: when the checkpoint being resumed
      lies in this callback's folder, the recorded best/top-k/last paths are taken by file name
      into that folder (also when training ran from another working directory, or the run folder
      was moved), so ``best_model_path`` keeps pointing at this run's best file.

    Its ``state_key`` is the one a plain ``ModelCheckpoint`` with the same monitor has, so runs
    written before resume with it. ``talkzoo fit`` turns every plain ``ModelCheckpoint`` of a
    recipe (and Lightning's default one) into a ``RunCheckpoint``; a recipe may also name
    ``talkzoo.checkpoints.RunCheckpoint`` directly.
    """

    _talkzoo_trainer: Any = None

    @property
    def state_key(self) -> str:  # noqa: D102 - see class docstring
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)

    def setup(self, trainer, pl_module, stage: str) -> None:  # noqa: D102 - Lightning hook
        if self.save_last is None:
            self.save_last = True
        self._talkzoo_trainer = trainer
        super().setup(trainer, pl_module, stage)

    def _write_last(self, trainer) -> None:
        if not self.save_last or trainer.fast_dev_run or trainer.sanity_checking or trainer.state.fn != "fit":
            return
        filepath = self.format_checkpoint_name(self._monitor_candidates(trainer), self.CHECKPOINT_NAME_LAST)
        if trainer.is_global_zero and os.path.islink(filepath):
            os.remove(filepath)  # never write through a link into the best checkpoint
        previous, self.last_model_path = self.last_model_path, filepath
        self._save_checkpoint(trainer, filepath)
        self._talkzoo_last_step = trainer.global_step
        if previous and previous != filepath and self._should_remove_checkpoint(trainer, previous, filepath):
            self._remove_checkpoint(trainer, previous)

    def on_train_epoch_end(self, trainer, pl_module) -> None:  # noqa: D102 - Lightning hook
        super().on_train_epoch_end(trainer, pl_module)
        self._write_last(trainer)

    def on_train_end(self, trainer, pl_module) -> None:  # noqa: D102 - Lightning hook
        super().on_train_end(trainer, pl_module)
        if getattr(self, "_talkzoo_last_step", None) != trainer.global_step:
            self._write_last(trainer)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # noqa: D102 - see class docstring
        trainer = self._talkzoo_trainer
        resumed = getattr(trainer, "ckpt_path", None) if trainer is not None else None
        saved = state_dict.get("dirpath")
        if self.dirpath and saved != self.dirpath and resumed and _same_folder(Path(resumed).parent, self.dirpath):
            here = str(self.dirpath)

            def local(p: Any) -> Any:
                return os.path.join(here, Path(str(p)).name) if p else p

            state_dict = dict(state_dict)
            for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
                if key in state_dict:
                    state_dict[key] = local(state_dict[key])
            if isinstance(state_dict.get("best_k_models"), dict):
                state_dict["best_k_models"] = {local(k): v for k, v in state_dict["best_k_models"].items()}
            state_dict["dirpath"] = self.dirpath
        super().load_state_dict(state_dict)


def _train_generators(trainer) -> list:
    """The ``torch.Generator`` objects the training dataloaders draw their order from (stable order)."""
    loader = getattr(trainer.fit_loop, "_combined_loader", None)
    loaders = list(getattr(loader, "flattened", []) or [])
    found: list = []
    for dl in loaders:
        sampler = getattr(dl, "sampler", None)
        batch_sampler = getattr(dl, "batch_sampler", None)
        for gen in (
            getattr(dl, "generator", None),
            getattr(sampler, "generator", None),
            getattr(getattr(batch_sampler, "sampler", None), "generator", None),
        ):
            if gen is not None and all(gen is not g for g in found):
                found.append(gen)
    return found


def collect_rng_state(trainer=None) -> dict[str, Any]:
    """Every random state training draws from, as plain tensors/lists (weights-only loadable).

    Args:
        trainer: when given, the states of its training dataloaders' generators are included.

    Returns:
        ``{"torch": ByteTensor, "numpy": {...}, "python": [...], "cuda": [ByteTensor, ...]
        (if CUDA is initialised), "loaders": [ByteTensor, ...]}``.
    """
    import random

    import numpy as np
    import torch

    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": [int(version), [int(v) for v in internal], py_gauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    if trainer is not None:
        state["loaders"] = [g.get_state() for g in _train_generators(trainer)]
    return state


def restore_rng_state(state: dict[str, Any], trainer=None) -> None:
    """Set the random states captured by :func:`collect_rng_state` (CPU tensors expected anywhere)."""
    import random

    import numpy as np
    import torch

    torch.set_rng_state(state["torch"].cpu())
    npy = state["numpy"]
    np.random.set_state((npy["kind"], npy["keys"].cpu().numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["gauss"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    if trainer is not None and state.get("loaders"):
        generators = _train_generators(trainer)
        if len(generators) == len(state["loaders"]):
            for gen, saved in zip(generators, state["loaders"]):
                gen.set_state(saved.cpu())
        else:
            warnings.warn(
                f"resume: the checkpoint records {len(state['loaders'])} training-data generator(s) but the "
                f"datamodule now has {len(generators)}; the data order after resuming will differ",
                stacklevel=2,
            )


class ResumeState(Callback):
    """Saves and restores every random state training draws from, so a resumed run is exact.

    At the end of each training epoch it takes a snapshot of the torch (CPU and CUDA), numpy and
    Python RNGs and of the training dataloaders' generators (data order; with ``num_workers=0``
    the crops drawn in the dataset too), which goes into every checkpoint written afterwards
    (``last.ckpt`` is written at that point by :class:`RunCheckpoint`). At the start of the next
    training epoch the snapshot is put back — in an uninterrupted run as well, so whatever ran
    between the two points (validation, sanity checks after a resume) cannot shift the random
    streams. After a resume the training iterator is created again from the restored generator,
    so data order, crops and dropout continue exactly as in an uninterrupted run, and on CPU a
    run killed with SIGKILL mid-epoch and resumed from ``last.ckpt`` ends with the same weights
    to the bit.

    Limits: a snapshot is taken at epoch ends only, so a checkpoint written mid-epoch
    (``every_n_train_steps``) resumes with the previous epoch's snapshot; dataloader worker
    processes that persist across epochs (``persistent_workers=True`` with ``num_workers>0``)
    keep random states of their own that are not saved; GPU kernels may be non-deterministic.
    ``talkzoo fit`` adds this callback to every run.
    """

    def __init__(self) -> None:
        self._snapshot: dict[str, Any] | None = None
        self._restart = False

    def on_train_epoch_end(self, trainer, pl_module) -> None:  # noqa: D102 - Lightning hook
        self._snapshot = collect_rng_state(trainer)

    def on_train_epoch_start(self, trainer, pl_module) -> None:  # noqa: D102 - Lightning hook
        if self._snapshot is None:
            return
        restore_rng_state(self._snapshot, trainer)
        if self._restart:
            self._restart = False
            fetcher = getattr(trainer.fit_loop, "_data_fetcher", None)
            if fetcher is not None:
                iter(fetcher)  # the iterator made before the restore drew from the old generator state

    def state_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"rng": self._snapshot} if self._snapshot is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # noqa: D102
        self._snapshot = state_dict.get("rng")
        self._restart = self._snapshot is not None


def prepare_trainer(trainer, resume_run: str | Path | None = None) -> None:
    """Make a Trainer's run resumable: every run keeps its last state, and random states.

    * each plain ``ModelCheckpoint`` becomes a :class:`RunCheckpoint` (``save_last`` on unless set
      to ``False``);
    * a :class:`ResumeState` callback is added;
    * ``resume_run`` (the run folder of the checkpoint ``fit`` resumes from): the logger
      (TensorBoard/CSV) writes into that folder again instead of a new ``version_N``, and
      checkpoint callbacks without an explicit ``dirpath`` write into its ``checkpoints/``.

    Args:
        trainer: a freshly built ``lightning.pytorch.Trainer``.
        resume_run: ``<save_dir>/<name>/<version>`` of the checkpoint being resumed, or ``None``.
    """
    for callback in trainer.callbacks:
        if type(callback) is ModelCheckpoint:
            callback.__class__ = RunCheckpoint
        if isinstance(callback, RunCheckpoint) and callback.save_last is None:
            callback.save_last = True
    if not any(isinstance(c, ResumeState) for c in trainer.callbacks):
        trainer.callbacks.insert(0, ResumeState())
    if resume_run is None:
        return
    run = Path(resume_run)
    for logger in trainer.loggers[:1]:
        if all(hasattr(logger, a) for a in ("_root_dir", "_name", "_version")):
            logger._root_dir = str(run.parent.parent)
            logger._name = run.parent.name
            logger._version = run.name
    for callback in trainer.callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath is None:
            callback.dirpath = os.path.realpath(run / "checkpoints")
