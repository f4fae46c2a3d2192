"""Match events and the hysteresis that turns per-sample scores into them.

Per sample and reference: the best-view cosine ``s`` → the calibrated score ``p``
(:mod:`kadr.stream.calibration`) → a moving mean over the last ``smooth`` samples. An event
opens at the first sample whose score reaches ``threshold`` — only for the reference that
scores best at that sample ("the best reference wins", so a look-alike does not fire too) —
and closes when the score has stayed below ``release`` for ``hold`` seconds. State per
reference is one open event and a ``smooth``-long ring: bounded, whatever the stream length.

With shot boundaries given (:meth:`EventTracker.note_cut`, a shot detector running alongside),
an event that opened on the first sample after a boundary starts at the boundary, and one
whose last matching sample is followed by a boundary within one sampling period ends at it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from kadr.stream.calibration import Calibration
from kadr.stream.options import WatchOptions


@dataclass
class MatchEvent:
    """One appearance: times in seconds of stream time (from PTS). ``peak_score``: the best
    cosine; ``peak_probability``: its calibrated score (0..1)."""

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
    peak_probability: float | None = None

    def __post_init__(self) -> None:
        for k in ("start", "end", "peak_time", "detected_at", "peak_score", "peak_probability"):
            if getattr(self, k) is not None:
                setattr(self, k, round(float(getattr(self, k)), 4))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Open:
    start: float
    detected_at: float
    peak: float
    peak_p: float
    peak_time: float
    last_above: float
    behind: bool


class EventTracker:
    """Hysteresis over per-sample best-view cosines (one value per reference) → :class:`MatchEvent`.

    ``calibration`` maps cosines to calibrated scores; ``frames`` gives the bank size of each
    reference (1 = a single picture). Newly opened events are listed in ``opened`` after each
    :meth:`update` (for streaming "started" notices)."""

    def __init__(self, names: Sequence[str], options: WatchOptions, calibration: Calibration,
                 frames: Sequence[int] | None = None):
        self.names = list(names)
        self.o = options
        self.cal = calibration
        self.frames = np.asarray(frames if frames is not None else [1] * len(self.names))
        self.open: dict[int, _Open] = {}
        self.opened: list[tuple[int, _Open]] = []
        self._ring: deque[np.ndarray] = deque(maxlen=int(options.smooth))
        self._cuts: deque[float] = deque(maxlen=8)  # recent shot boundaries (s)
        self._period = 1.0 / float(options.rate)

    def note_cut(self, t: float) -> None:
        """A shot boundary at stream time ``t`` (detectors report it a few frames late)."""
        self._cuts.append(float(t))
        for ev in self.open.values():
            if ev.start == ev.detected_at and 0 <= ev.detected_at - t <= self._period + 1e-6:
                ev.start = float(t)

    def update(self, t: float, cosines: np.ndarray, *, behind: bool = False) -> list[MatchEvent]:
        """Feed one sample (stream time ``t``, cosines (Q,), −inf = not scored, e.g. a
        content-free frame). Returns the events that closed."""
        o = self.o
        cos = np.asarray(cosines, np.float64)
        p = np.where(np.isfinite(cos), self.cal.probability(np.where(np.isfinite(cos), cos, 0.0), self.frames), 0.0)
        self._ring.append(p)
        ps = np.mean(self._ring, axis=0) if len(self._ring) > 1 else p
        done, self.opened = [], []
        best = int(np.argmax(ps))
        for q in range(len(self.names)):
            s, pq = float(cos[q]), float(ps[q])
            ev = self.open.get(q)
            if ev is None:
                if pq >= o.threshold and q == best:
                    cut = [c for c in self._cuts if 0 <= t - c <= self._period + 1e-6]
                    ev = self.open[q] = _Open(max(cut) if cut else t, t, s, pq, t, t, behind)
                    self.opened.append((q, ev))
                continue
            if pq >= o.release:
                ev.last_above = t
            if pq > ev.peak_p:
                ev.peak, ev.peak_p, ev.peak_time = s, pq, t
            ev.behind |= behind
            if pq < o.release and t - ev.last_above >= o.hold:
                done.append(self._close(q, ev))
        return done

    def _close(self, q: int, ev: _Open) -> MatchEvent:
        del self.open[q]
        after = [c for c in self._cuts if 0 < c - ev.last_above <= self._period + 1e-6]
        end = min(after) if after else ev.last_above
        return MatchEvent("query", q, self.names[q], ev.start, end, ev.peak, ev.peak_time, ev.detected_at,
                          ev.behind, peak_probability=ev.peak_p)

    def started(self, q: int, ev: _Open) -> dict[str, Any]:
        """The notice of an event that has just opened (for ``--json-lines``)."""
        return {"started": self.names[q], "query": q, "start": round(ev.start, 4), "detected_at": round(ev.detected_at, 4),
                "score": round(ev.peak, 4), "probability": round(ev.peak_p, 4)}

    def flush(self) -> list[MatchEvent]:
        return [self._close(q, ev) for q, ev in sorted(self.open.items())]
