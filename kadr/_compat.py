"""Deprecated spellings kept for one release (see ``docs/glossary.md``).

:func:`renamed_kwarg` lets a function take an old keyword name; :func:`deprecated_alias`
keeps an old function name callable. Both warn with :class:`kadr.errors.KadrDeprecationWarning`.
The CLI counterpart for flags is :func:`kadr.cli._common.rename_flags`.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, TypeVar

from kadr.errors import InputError, KadrDeprecationWarning

F = TypeVar("F", bound=Callable[..., Any])


def warn_renamed(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new``."""
    warnings.warn(f"{old} is deprecated, use {new} ({old} will be removed in the next release)",
                  KadrDeprecationWarning, stacklevel=stacklevel)


def renamed_kwarg(**renames: str) -> Callable[[F], F]:
    """Decorator: accept old keyword names, e.g. ``@renamed_kwarg(topk="k")``.

    A call with the old name warns and is passed on under the new one; giving both is an error.
    """
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise InputError(f"{fn.__qualname__}() got both {old}= and its new name {new}=; "
                                         f"give {new}= only")
                    warn_renamed(f"{old}=", f"{new}=")
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)
        return inner  # type: ignore[return-value]
    return wrap


def deprecated_alias(fn: F, old_name: str) -> F:
    """``fn`` under its old name: same behaviour, plus a deprecation warning per call."""
    @functools.wraps(fn)
    def alias(*args: Any, **kwargs: Any) -> Any:
        warn_renamed(old_name, fn.__name__)
        return fn(*args, **kwargs)
    alias.__name__ = alias.__qualname__ = old_name
    alias.__doc__ = f"Deprecated spelling of :func:`{fn.__name__}` (kept for one release)."
    return alias  # type: ignore[return-value]
