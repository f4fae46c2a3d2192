"""Options dataclasses: defaults live in exactly one place; the CLI derives its flags.

Usage::

    @dataclass
    class ShotOptions:
        threshold: float = opt(0.4, "boundary score above which a cut is declared")
        detector: str = opt("auto", "which detector", choices=lambda: registry.names())

    add_options(parser, ShotOptions)          # --threshold, --detector with help & default
    options = options_from_args(ShotOptions, args)
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def opt(default: Any, help: str, *, choices: Any = None, flag: str | None = None,
        metavar: str | None = None, cli: bool = True) -> Any:
    """A dataclass field carrying its CLI help. ``choices`` may be a callable (registry)."""
    meta = {"help": help, "choices": choices, "flag": flag, "metavar": metavar, "cli": cli}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _base_type(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:  # Optional[X] and X | None
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return tp


def add_options(parser: argparse.ArgumentParser, cls: type, *, prefix: str = "",
                exclude: tuple[str, ...] = ()) -> None:
    """Add one ``--flag`` per field of the options dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(f"{cls.__name__} options")
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if not meta.get("cli", True) or f.name in exclude:
            continue
        flag = meta.get("flag") or "--" + prefix + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        tp = _base_type(hints[f.name])
        choices = meta.get("choices")
        if callable(choices):
            choices = choices()
        help_text = meta.get("help", "")
        kwargs: dict[str, Any] = {"dest": prefix.replace("-", "_") + f.name, "default": default}
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
            help_text += f" (default: {'on' if default else 'off'})"
        else:
            kwargs["type"] = tp if tp in (int, float, str) else str
            if choices:
                kwargs["choices"] = list(choices)
            if meta.get("metavar"):
                kwargs["metavar"] = meta["metavar"]
            help_text += f" (default: {default})"
        group.add_argument(flag, help=help_text, **kwargs)


def options_from_args(cls: Callable[..., T], args: argparse.Namespace, *, prefix: str = "", **overrides: Any) -> T:
    """Build the options dataclass from parsed args (fields absent from args keep their default)."""
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        key = prefix.replace("-", "_") + f.name
        if hasattr(args, key):
            values[f.name] = getattr(args, key)
    values.update(overrides)
    return cls(**values)
