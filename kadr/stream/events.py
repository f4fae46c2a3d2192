"""Match events and the hysteresis that turns per-sample scores into them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from kadr.stream.options import WatchOptions


@dataclass
class MatchEvent:
    """One appearance: times in seconds of stream time (from PTS)."""

    kind: str  # "query" | "db"
    query: int | None
    name: str
    start: float
    end: float
    peak_score: float
    peak_time: float
    detected_at: float  # stream time of the sample that opened the event
    behind: bool = False
    item: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        for k in ("start", "end", "peak_time", "detected_at", "peak_score"):
            setattr(self, k, round(float(getattr(self, k)), 4))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Open:
    start: float
    detected_at: float
    peak: float
    peak_time: float
    last_above: float
    behind: bool


class EventTracker:
    """Hysteresis over per-sample scores (N samples × Q queries) → :class:`MatchEvent`."""

    def __init__(self, names: Sequence[str], options: WatchOptions):
        self.names = list(names)
        self.o = options
        self.open: dict[int, _Open] = {}

    def update(self, t: float, scores: np.ndarray, *, behind: bool = False) -> list[MatchEvent]:
        o = self.o
        done = []
        best = int(np.argmax(scores))
        for q, s in enumerate(scores.tolist()):
            ev = self.open.get(q)
            if ev is None:
                if s >= o.threshold and q == best:
                    self.open[q] = _Open(t, t, s, t, t, behind)
                continue
            if s >= o.release:
                ev.last_above = t
            if s > ev.peak:
                ev.peak, ev.peak_time = s, t
            ev.behind |= behind
            if s < o.release and t - ev.last_above >= o.hold:
                done.append(self._close(q, ev))
        return done

    def _close(self, q: int, ev: _Open) -> MatchEvent:
        del self.open[q]
        return MatchEvent("query", q, self.names[q], ev.start, ev.last_above, ev.peak, ev.peak_time, ev.detected_at,
                          ev.behind)

    def flush(self) -> list[MatchEvent]:
        return [self._close(q, ev) for q, ev in sorted(self.open.items())]
