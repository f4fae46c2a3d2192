"""Helpers shared by the benchmark scripts: timing, peak memory, Markdown tables."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import resource
import time
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED_VIDEO = ROOT.parent / "shared" / "data" / "video"
#: 1-minute load average when the benchmark script started (see :func:`machine_line`)
_LOAD_AT_START = os.getloadavg()[0]


def best_of(fn: Callable[[], object], repeats: int = 3) -> tuple[float, object]:
    """Run ``fn`` ``repeats`` times; return (best wall seconds, last result)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_line() -> str:
    """The machine's load, measured: 1-minute load average when the script started and now
    (1, 5, 15 minutes), against the number of cores."""
    now = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"load average {_LOAD_AT_START:.1f} at the start, {now} (1/5/15 min) at the end, on {os.cpu_count()} cores"


def machine_line() -> str:
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {_dt.date.today().isoformat()}, {load_line()} (measured)")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def write_result(name: str, text: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    p = RESULTS / f"{name}.md"
    p.write_text(text)
    print(text)
    print(f"\nwritten to {p}")
    return p
