"""File safety shared by data, metrics, checkpoints and ``talkzoo animate``: one module.

* :func:`safe_load_pickle` — talkzoo's one restricted unpickler: pickles from the field
  (``templates.pkl``, ``FLAME_masks.pkl``) may hold only dicts, lists, strings, numbers and numpy
  arrays; anything that would import a class or call a function is refused before it runs.
* :func:`require_finite` / :func:`load_npy` — arrays enter talkzoo only when every value is finite
  (no NaN, no ±inf); the error names the file (and the entry) so a bad file is found at once.
* :func:`write_file_set` — write several output files as a set: each is written to a hidden
  temporary name next to its target, and only when every one of them is complete are they moved
  into place (existing files are replaced only then, and put back if a move fails). On any error
  the temporary files are removed and folders created for the outputs are removed again, so a
  failed command leaves nothing half-written and loses nothing that existed.
* :func:`check_output_folder` — the checks an output folder must pass *before* expensive work
  starts (not a file, writable, outputs absent unless overwriting).

Every error is a :class:`~talkzoo.errors.DataError` or :class:`~talkzoo.errors.ConfigError` with
one line that names the file and what was expected.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from talkzoo.errors import ConfigError, DataError

__all__ = [
    "check_output_folder",
    "load_npy",
    "require_finite",
    "safe_load_pickle",
    "write_file_set",
]

# (module, name) pairs the restricted unpickler may import. Plain dicts, lists, tuples, str,
# bytes, ints, floats, bools and None need no import at all (they are pickle opcodes); these
# are the globals a pickled numpy array, dtype or scalar refers to, in numpy 1.x and 2.x spelling,
# plus ``_codecs.encode`` that Python 3 uses for bytes in protocol-2 pickles.
_ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
        ("builtins", "dict"),
        ("builtins", "list"),
        ("builtins", "str"),
        ("__builtin__", "dict"),  # Python 2 spelling, mapped by fix_imports
        ("__builtin__", "list"),
        ("__builtin__", "str"),
    }
)
# numpy dtype classes (numpy.dtypes.Int64DType, ...) appear in some numpy>=1.25 pickles.
_DTYPE_CLASS = re.compile(r"^[A-Za-z0-9]+DType$")


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose ``find_class`` admits only :data:`_ALLOWED_GLOBALS`."""

    def __init__(self, file: io.BufferedIOBase, source: Path) -> None:
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 - see class docstring
        allowed = (module, name) in _ALLOWED_GLOBALS or (
            module in ("numpy.dtypes",) and _DTYPE_CLASS.match(name) is not None
        )
        if not allowed:
            raise DataError(
                f"{self._source}: refusing to unpickle forbidden global {module}.{name}; "
                "talkzoo reads pickles that hold only dicts, lists, strings and numpy arrays"
            )
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        raise DataError(f"{self._source}: refusing a pickle with persistent ids ({pid!r})")


def safe_load_pickle(path: str | Path) -> Any:
    """Read a pickle that may hold only plain data: dicts, lists, tuples, str, numbers, numpy arrays.

    This is talkzoo's one restricted unpickler; every module that reads a ``.pkl`` from the
    field (``templates.pkl``, ``FLAME_masks.pkl``) goes through it. It never imports a class or
    calls a function other than numpy's array/dtype/scalar reconstructors, so a malicious pickle
    (one whose ``__reduce__`` names ``os.system``) is refused before anything runs. Python-2
    pickles are read with ``encoding="latin1"`` as the FaceFormer/VOCASET files need.

    Args:
        path: the pickle file.

    Returns:
        The unpickled object (typically ``dict[str, np.ndarray]``).

    Raises:
        DataError: the file is missing or unreadable, is not a valid pickle, or refers to any
            global outside the allowed numpy/builtin set (the message names the file and the
            forbidden ``module.name``).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read pickle file ({exc.strerror or exc})") from exc
    try:
        return _RestrictedUnpickler(io.BytesIO(raw), path).load()
    except DataError:
        raise
    except Exception as exc:  # truncated/corrupt data raises many kinds of errors
        raise DataError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from exc


# ---------------------------------------------------------------------------- finiteness
def require_finite(array: Any, source: str | os.PathLike[str], what: str = "array") -> Any:
    """Raise unless every value of ``array`` is finite (no NaN, no ±inf); return it unchanged.

    Args:
        array: a numpy array, torch tensor or anything ``np.asarray`` takes (any shape; integer
            and boolean arrays are finite by construction and pass at once).
        source: the file (or ``"file[entry]"``) the values came from, named in the error.
        what: what the values are (``"vertex file"``, ``"template"``), named in the error.

    Returns:
        ``array`` itself.

    Raises:
        DataError: ``"<source>: <what> holds N NaN and M infinite value(s) (first at index ...);
            expected finite numbers"``.
    """
    try:
        import torch

        if isinstance(array, torch.Tensor):
            if not array.is_floating_point() and not array.is_complex():
                return array
            if bool(torch.isfinite(array).all()):
                return array
            values = array.detach().float().cpu().numpy()
        else:
            values = np.asarray(array)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        values = np.asarray(array)
    if values.dtype.kind not in "fc":
        return array
    finite = np.isfinite(values)
    if finite.all():
        return array
    nan = int(np.isnan(values).sum())
    inf = int(values.size - finite.sum()) - nan
    first = tuple(int(i) for i in np.argwhere(~finite)[0]) if values.ndim else ()
    raise DataError(
        f"{source}: {what} holds {nan} NaN and {inf} infinite value(s) (first at index {first}); "
        "expected finite numbers"
    )


def load_npy(
    path: str | os.PathLike[str],
    what: str = "array",
    *,
    mmap: bool = False,
    check_finite: bool = True,
) -> np.ndarray:
    """Read a ``.npy`` file without pickles and, by default, refuse non-finite values.

    Args:
        path: the ``.npy`` file.
        what: what the file holds, named in errors (``"vertex file"``, ``"template"``).
        mmap: memory-map the file read-only (``np.load(mmap_mode="r")``) instead of reading it;
            with ``check_finite`` the whole file is still scanned once.
        check_finite: raise :class:`DataError` if a float value is NaN or infinite.

    Returns:
        The array (an ``np.memmap`` when ``mmap``).

    Raises:
        DataError: missing/unreadable file, a pickled (object) array, or non-finite values; the
            message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} not found; expected a .npy file")
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy {what} ({exc})") from None
    if check_finite:
        require_finite(array, path, what)
    return array


# ---------------------------------------------------------------------------- outputs
def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def check_output_folder(
    folder: str | os.PathLike[str],
    names: list[str] | tuple[str, ...] = (),
    *,
    overwrite: bool = False,
    option: str = "--out",
) -> Path:
    """Check, before any work, that outputs can be written into ``folder``; create nothing.

    Args:
        folder: the output folder (it may not exist yet; it is created when the outputs are
            written by :func:`write_file_set`).
        names: file names that will be written into it.
        overwrite: whether existing files of those names may be replaced.
        option: the command-line option named in errors.

    Returns:
        ``Path(folder)``.

    Raises:
        ConfigError: ``folder`` (or a parent of it) is a file, or it (or its nearest existing
            parent) is not writable.
        DataError: an output exists and ``overwrite`` is false.
    """
    out = Path(folder)
    anchor = _nearest_existing(out)
    if anchor.exists() and not anchor.is_dir():
        where = "is a file" if anchor == out else f"cannot be created: '{anchor}' is a file"
        raise ConfigError(f"{option} '{out}' {where}; expected a folder")
    if not os.access(anchor, os.W_OK | os.X_OK) or not _can_create_in(anchor):
        raise ConfigError(f"{option} '{out}' is not writable (no permission to write in '{anchor}')")
    existing = [str(out / n) for n in names if (out / n).exists()]
    if existing and not overwrite:
        raise DataError(f"{', '.join(existing)} already exist(s); pass --overwrite to replace, or choose another {option}")
    for name in names:
        if (out / name).is_dir():
            raise ConfigError(f"{option}: '{out / name}' is a folder; cannot write a file there")
    return out


def _can_create_in(folder: Path) -> bool:
    """Whether a file can really be created in ``folder`` (``os.access`` is always true for root)."""
    try:
        fd = os.open(folder / f".talkzoo-probe-{secrets.token_hex(4)}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except OSError:
        return False
    os.close(fd)
    for probe in folder.glob(".talkzoo-probe-*"):
        probe.unlink(missing_ok=True)
    return True


@contextmanager
def write_file_set(targets: Mapping[str, str | os.PathLike[str]], *, overwrite: bool = False) -> Iterator[dict[str, Path]]:
    """Write several files as a set: all new files appear together, or none does.

    Use::

        with write_file_set({"vertices": out / "a.npy", "video": out / "a.mp4"}, overwrite=True) as tmp:
            np.save(tmp["vertices"], motion)          # write each output to its temporary path
            render(..., out_path=tmp["video"])

    Inside the block each key maps to a hidden temporary path in the target's folder (same
    suffix, so writers that look at it behave). When the block ends without an error and every
    temporary file exists, existing targets are moved aside, the new files are renamed into
    place, and the old ones are deleted; if a rename fails, the old files are put back. When the
    block raises, the temporaries are deleted, no target is touched, and folders that were
    created for the outputs are removed again (if still empty).

    Args:
        targets: ``{key: final path}``.
        overwrite: allow replacing existing targets (checked again at the start).

    Yields:
        ``{key: temporary path}``.

    Raises:
        DataError: a target exists and ``overwrite`` is false; or the block ended without writing
            one of the files (the key is named). Errors raised inside the block propagate unchanged.
    """
    final = {key: Path(p) for key, p in targets.items()}
    existing = [str(p) for p in final.values() if p.exists()]
    if existing and not overwrite:
        raise DataError(f"{', '.join(existing)} already exist(s); pass --overwrite to replace them")
    created: list[Path] = []
    for folder in dict.fromkeys(p.parent for p in final.values()):
        missing = []
        probe = folder
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        folder.mkdir(parents=True, exist_ok=True)
        created.extend(reversed(missing))  # parents first
    token = secrets.token_hex(4)
    temporary = {key: p.with_name(f".{p.stem}.part-{token}{p.suffix}") for key, p in final.items()}

    def _cleanup(paths: list[Path]) -> None:
        for p in paths:
            p.unlink(missing_ok=True)
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                pass

    try:
        yield dict(temporary)
        unwritten = [key for key, p in temporary.items() if not p.is_file()]
        if unwritten:
            raise DataError(f"output(s) {', '.join(unwritten)} were not written; nothing was replaced")
    except BaseException:
        _cleanup(list(temporary.values()))
        raise
    backups: dict[Path, Path] = {}
    moved: list[Path] = []
    try:
        for p in final.values():
            if p.exists():
                backup = p.with_name(f".{p.name}.old-{token}")
                os.replace(p, backup)
                backups[p] = backup
        for key, p in final.items():
            os.replace(temporary[key], p)
            moved.append(p)
    except BaseException:
        for p in moved:
            p.unlink(missing_ok=True)
        for p, backup in backups.items():
            os.replace(backup, p)
        _cleanup(list(temporary.values()))
        raise
    for backup in backups.values():
        backup.unlink(missing_ok=True)
