"""The shot-detector extension point: one small streaming ABC.

A detector sees decoded frames one at a time (:meth:`ShotDetector.update`) and returns
the :class:`~kadr.video.types.Transition` events it has become sure of; :meth:`flush`
returns the ones still pending at the end of the stream. A file is processed by the same
loop (:meth:`ShotDetector.detect`), so live streams and files share one implementation.

Conventions (those of ``../shared/data/video/ground_truth.json``): frame indices are the
0-based decoded order; a cut is reported at the first frame of the new shot
(``start_frame == end_frame``); a gradual transition spans [first changed frame, first
settled frame]. Times are seconds from each frame's PTS, so they are right on VFR video.
"""

from __future__ import annotations

import abc
from collections import deque
from typing import Any, Iterable

from kadr.errors import InputError
from kadr.io.video import FALLBACK_FPS, Frame
from kadr.video.types import Transition


class FrameClock:
    """Index → time (s) of the frames seen; bounded memory for endless streams.

    Keeps the PTS times of the last ``window`` frames (a ring) plus the frames that were
    :meth:`pin`-ned (transition ends, split points: a few per shot). Older, unpinned frames
    are timed by the nominal rate from the nearest known frame; frames past the end are
    extrapolated at ``fps`` (or the mean step seen)."""

    def __init__(self, fps: float | None = None, window: int = 8192):
        if int(window) < 2:
            raise InputError(f"FrameClock window must be >= 2 frames, got {window!r}")
        self.fps = fps
        self.window = int(window)
        self._times: deque[float] = deque(maxlen=self.window)
        self._n = 0  # frames noted (index of the next one)
        self._pinned: dict[int, float] = {}

    def note(self, frame: Frame) -> None:
        idx = int(frame.index)
        if idx < self._n - len(self._times):
            return  # older than the window: nothing to update
        while self._n < idx:  # a gap (dropped frames): fill by the nominal rate
            self._append(self._extrapolate(self._n))
        t = float(frame.time)
        if idx == self._n:
            self._append(t)
        else:
            self._times[idx - (self._n - len(self._times))] = t

    def _append(self, t: float) -> None:
        self._times.append(t)
        self._n += 1

    def _step(self) -> float:
        if self.fps:
            return 1.0 / self.fps
        if len(self._times) > 1:
            return (self._times[-1] - self._times[0]) / (len(self._times) - 1)
        return 1 / FALLBACK_FPS

    def _extrapolate(self, index: int) -> float:
        if not self._times:
            return index / (self.fps or FALLBACK_FPS)
        return self._times[-1] + (index - self._n + 1) * self._step()

    def pin(self, index: int) -> None:
        """Remember the time of frame ``index`` beyond the window (call while it is in it)."""
        if index not in self._pinned:
            self._pinned[int(index)] = self.time(index)

    def time(self, index: int) -> float:
        lo = self._n - len(self._times)
        if lo <= index < self._n:
            return self._times[index - lo]
        if index in self._pinned:
            return self._pinned[index]
        if 0 <= index < lo:  # fell out of the window: from the oldest known frame, at the nominal rate
            return self._times[0] - (lo - index) * self._step()
        return self._extrapolate(index)

    def __len__(self) -> int:
        return self._n


class Ring:
    """The last ``maxlen`` values of a per-frame series, indexed by absolute frame index
    (``ring[i]``, ``ring[a:b]``, ``len(ring)`` = values appended so far). Indices older than
    the window raise :class:`IndexError` (slices are clipped to the window), so a detector
    that forgets too early fails loudly instead of reading a wrong frame."""

    def __init__(self, maxlen: int, values: Iterable[Any] = ()):
        self._d: deque[Any] = deque(maxlen=int(maxlen))
        self._n = 0
        for v in values:
            self.append(v)

    def append(self, v: Any) -> None:
        self._d.append(v)
        self._n += 1

    def __len__(self) -> int:
        return self._n

    @property
    def start(self) -> int:
        """Absolute index of the oldest value still held."""
        return self._n - len(self._d)

    def __getitem__(self, i: int | slice) -> Any:
        lo = self.start
        if isinstance(i, slice):
            a, b, _ = i.indices(self._n)
            a = max(a, lo)
            return [self._d[k - lo] for k in range(a, max(a, b))]
        if i < 0:
            i += self._n
        if not lo <= i < self._n:
            raise IndexError(f"frame {i} is not in the window [{lo}, {self._n})")
        return self._d[i - lo]

    def __setitem__(self, i: int, v: Any) -> None:
        if i < 0:
            i += self._n
        lo = self.start
        if not lo <= i < self._n:
            raise IndexError(f"frame {i} is not in the window [{lo}, {self._n})")
        self._d[i - lo] = v


class ShotDetector(abc.ABC):
    """Streaming shot-boundary detector.

    Subclasses implement :meth:`_update` and :meth:`_flush`; the base class keeps the
    frame clock (for PTS times, bounded), optionally the per-frame boundary score
    (``scores``, one float in [0, 1] per frame, for plots: ``record_scores=True``, what
    :func:`~kadr.video.shots.detect_shots` asks for on files; off by default so a detector
    on an endless stream holds bounded state) and builds :class:`Transition` records.
    """

    #: registry name users type
    name: str = "detector"
    #: longest side (int) or exact (w, h) of ``frame.analysis_image`` this detector works at
    analysis_size: int | tuple[int, int] = 64
    #: whether detect_shots may skip the codec's deblocking filter for this detector
    fast_decode: bool = False

    #: keep one score per frame in ``scores`` (grows with the stream; off for live streams)
    record_scores: bool = False

    def __init__(self) -> None:
        self.reset()

    def reset(self, fps: float | None = None) -> None:
        """Forget everything seen; ready for a new stream (``fps`` only extrapolates times)."""
        self.clock = FrameClock(fps)
        self.scores: list[float] = []
        self._reset()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release worker threads/processes a detector may hold (safe to call twice)."""

    def __enter__(self) -> "ShotDetector":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _reset(self) -> None:  # noqa: B027 - optional hook
        """Subclass state reset (called by :meth:`reset`)."""

    def update(self, frame: Frame) -> list[Transition]:
        """Feed the next frame; return the transitions decided by now (possibly earlier ones)."""
        self.clock.note(frame)
        return self._update(frame)

    def flush(self) -> list[Transition]:
        """End of stream: return the transitions still pending."""
        return self._flush()

    def detect(self, frames: Iterable[Frame]) -> list[Transition]:
        """All transitions of a finite frame sequence (a loop over :meth:`update`)."""
        out: list[Transition] = []
        for f in frames:
            out.extend(self.update(f))
        out.extend(self.flush())
        return out

    @abc.abstractmethod
    def _update(self, frame: Frame) -> list[Transition]:
        ...

    @abc.abstractmethod
    def _flush(self) -> list[Transition]:
        ...

    def _set_score(self, index: int, value: float) -> None:
        if not self.record_scores:
            return
        while len(self.scores) <= index:
            self.scores.append(0.0)
        self.scores[index] = float(value)

    def transition(self, kind: str, start: int, end: int, score: float) -> Transition:
        """A :class:`Transition` with times read from the frame clock (its ends and middle
        frame are pinned there, so shot times stay exact after they leave the window)."""
        for i in {int(start), int(end), (int(start) + int(end) + 1) // 2}:
            self.clock.pin(i)
        return Transition(kind, int(start), int(end), round(self.clock.time(start), 6),
                          round(self.clock.time(end), 6), round(float(score), 4))
