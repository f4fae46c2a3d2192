"""Progress bars on a terminal only (stderr is a TTY); silent in pipes, CI and tests."""

from __future__ import annotations

import os
import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def progress_enabled() -> bool:
    if os.environ.get("KADR_NO_PROGRESS"):
        return False
    return sys.stderr.isatty()


def track(iterable: Iterable[T], *, total: int | None = None, desc: str = "working",
          enabled: bool | None = None, unit: str = "it") -> Iterator[T]:
    """Wrap ``iterable`` in a rich progress bar on stderr when enabled (default: on a TTY).
    ``unit`` names what is counted ("frames", "files") next to the done/total count."""
    if enabled is None:
        enabled = progress_enabled()
    if not enabled:
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    cols = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
            TimeRemainingColumn()]
    with Progress(*cols, console=Console(stderr=True), transient=True) as p:
        task = p.add_task(desc, total=total)
        for item in iterable:
            yield item
            p.advance(task)
