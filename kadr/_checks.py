"""Shared input checks. Each raises a :mod:`kadr.errors` subclass with an actionable message.

Validation never uses ``assert`` (it disappears under ``python -O``).
"""

from __future__ import annotations

import math
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from kadr.errors import (
    DataRangeError,
    InputError,
    NotAFileError,
    OutputError,
    ShapeError,
    SourceNotFoundError,
)


def article(word: str) -> str:
    """"a" or "an" before ``word`` (by its first letter: "an image", "a video")."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 file"``, ``"3 files"``: a count with its noun in the right number."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def check_file(path: str | os.PathLike, *, what: str = "file") -> Path:
    """Return ``path`` as a Path if it is an existing, non-empty regular file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise SourceNotFoundError(f"{what} not found: {str(p)!r}; check the path")
    if p.is_dir():
        raise NotAFileError(f"{str(p)!r} is a directory; give {article(what)} {what} inside it")
    if p.stat().st_size == 0:
        from kadr.errors import DecodeError

        raise DecodeError(f"{str(p)!r} is empty (0 bytes); re-copy or re-export it")
    return p


def check_dir(path: str | os.PathLike, *, what: str = "folder") -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise SourceNotFoundError(f"{what} not found: {str(p)!r}")
    if not p.is_dir():
        raise InputError(f"{str(p)!r} is not a folder")
    return p


def _existing_ancestor(p: Path) -> Path:
    q = p.absolute()
    while not q.exists() and q != q.parent:
        q = q.parent
    return q


def check_output_file(path: str | os.PathLike, *, what: str = "output file") -> Path:
    """``path`` as a Path if a file can be written there; OutputError otherwise. Called before
    any work, so an unwritable ``-o`` fails in a second, not after the whole job. Missing parent
    folders are fine when the nearest existing one is writable (the writer creates them)."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise OutputError(f"{what} {str(p)!r} is a folder; give a file name inside it")
    if p.exists():
        if not os.access(p, os.W_OK):
            raise OutputError(f"{what} {str(p)!r} exists and is not writable; choose another path or fix its permissions")
        return p
    base = _existing_ancestor(p.parent)
    if not base.is_dir():
        raise OutputError(f"cannot write {what} {str(p)!r}: {str(base)!r} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {what} {str(p)!r}: the folder {str(base)!r} is not writable; "
                          "choose another path or fix its permissions")
    return p


def check_output_dir(path: str | os.PathLike, *, what: str = "output folder") -> Path:
    """``path`` as a Path if it is, or can be created as, a writable folder; OutputError otherwise."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise OutputError(f"{what} {str(p)!r} is a file; give a folder")
    base = p if p.exists() else _existing_ancestor(p)
    if not base.is_dir():
        raise OutputError(f"cannot create {what} {str(p)!r}: {str(base)!r} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {str(p)!r} is not writable ({str(base)!r}); choose another one or fix its permissions")
    return p


@contextmanager
def output_folder(path: str | os.PathLike, *, what: str = "output folder") -> Iterator[Path]:
    """Check, create and yield an output folder; if the block fails (an error, Ctrl-C) and the
    folder did not exist before, it is removed with what the failed run left in it, so a failed
    run leaves no empty or half-filled folder behind. An existing folder is never removed."""
    p = check_output_dir(path, what=what)
    created = None  # the highest folder this call creates (parents included)
    q = p.absolute()
    while not q.exists():
        created, q = q, q.parent
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {what} {str(p)!r}: {exc.strerror}; choose a writable place") from None
    try:
        yield p
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise


def text_safe(text: str) -> str:
    """``text`` with lone surrogates (file names that are not UTF-8, read by Python with
    ``surrogateescape``) written as ``\\xNN``, so it encodes as UTF-8."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, so writers that pick the format by
    extension still work); on success it is renamed onto ``path`` (atomic on one file system),
    on failure deleted. Readers never see a half-written or 0-byte output."""
    p = Path(path)
    tmp = p.with_name(f".{p.stem}.partial-{os.getpid()}{p.suffix}")
    try:
        yield tmp
        os.replace(tmp, p)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def write_text_atomic(text: str, path: str | os.PathLike) -> Path:
    """Write UTF-8 ``text`` to ``path`` through :func:`atomic_path`; OutputError on failure."""
    p = Path(path)
    try:
        if not p.parent.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(p) as tmp:
            tmp.write_bytes(text_safe(text).encode("utf-8"))
    except OSError as exc:
        raise OutputError(f"cannot write {str(p)!r}: {exc.strerror or exc}; choose a writable path") from None
    return p


def check_positive(value: Any, name: str, *, allow_zero: bool = False) -> Any:
    """Finite number > 0 (or >= 0 with ``allow_zero``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{name} must be a finite number {bound}, got {value!r}")
    return value


def check_range(value: Any, name: str, lo: float, hi: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in [{lo}, {hi}], got {value!r}") from None
    if not (lo <= v <= hi):
        raise InputError(f"{name} must be in [{lo}, {hi}], got {value!r}")
    return v


def check_choice(value: str, name: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_ndim(arr: Any, name: str, ndims: Sequence[int]) -> None:
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ShapeError(f"{name} must be {want}, got shape {tuple(arr.shape)}")


def check_same_shape(a: Any, b: Any, names: tuple[str, str] = ("a", "b"), *, hint: str = "") -> None:
    if tuple(a.shape) != tuple(b.shape):
        msg = f"{names[0]} and {names[1]} have different shapes {tuple(a.shape)} vs {tuple(b.shape)}"
        raise ShapeError(msg + (f"; {hint}" if hint else ""))


def check_finite(arr: Any, name: str) -> None:
    if isinstance(arr, np.ndarray):
        ok = bool(np.isfinite(arr).all()) if arr.dtype.kind == "f" else True
    else:  # torch
        ok = bool(arr.isfinite().all()) if arr.is_floating_point() else True
    if not ok:
        raise InputError(f"{name} contains NaN or infinite values")


def dtype_max(dtype: Any) -> float | None:
    """Maximum value of an integer/bool dtype (numpy or torch); ``None`` for floats."""
    name = str(dtype).replace("torch.", "")
    if name == "bool":
        return 1.0
    try:
        np_dtype = np.dtype(name)
    except TypeError:
        return None
    if np_dtype.kind in "ui":
        return float(np.iinfo(np_dtype).max)
    return None


def resolve_data_range(x: Any, data_range: float | None, name: str = "input") -> float:
    """``data_range`` from an integer dtype, or the explicit value for floats. Never guessed.

    Integer inputs: ``data_range`` defaults to the dtype's max (255 for uint8, 65535 for
    uint16). Floats: the caller must say (1.0 for [0,1] images, 255.0 for [0,255]...).
    """
    if data_range is not None:
        check_positive(data_range, "data_range")
        return float(data_range)
    dmax = dtype_max(x.dtype)
    if dmax is None:
        raise DataRangeError(
            f"{name} is floating point ({x.dtype}); pass data_range explicitly "
            "(e.g. data_range=1.0 for values in [0, 1], 255.0 for [0, 255]); kadr does not guess it"
        )
    return dmax
