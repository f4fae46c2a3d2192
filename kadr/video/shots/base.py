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
from typing import Iterable

from kadr.io.video import FALLBACK_FPS, Frame
from kadr.video.types import Transition


class FrameClock:
    """Index → time (s) of the frames seen so far; extrapolates past the end at ``fps``.

    Stores one float per frame (8 bytes), so hours of video cost a few MiB."""

    def __init__(self, fps: float | None = None):
        self.fps = fps
        self._times: list[float] = []

    def note(self, frame: Frame) -> None:
        idx = frame.index
        while len(self._times) < idx:  # a gap (dropped frames): fill by the nominal rate
            self._times.append(self._extrapolate(len(self._times)))
        if idx == len(self._times):
            self._times.append(float(frame.time))
        else:
            self._times[idx] = float(frame.time)

    def _extrapolate(self, index: int) -> float:
        if not self._times:
            return index / (self.fps or FALLBACK_FPS)
        step = 1.0 / self.fps if self.fps else (
            (self._times[-1] - self._times[0]) / (len(self._times) - 1) if len(self._times) > 1 else 1 / FALLBACK_FPS)
        return self._times[-1] + (index - len(self._times) + 1) * step

    def time(self, index: int) -> float:
        if 0 <= index < len(self._times):
            return self._times[index]
        return self._extrapolate(index)

    def __len__(self) -> int:
        return len(self._times)


class ShotDetector(abc.ABC):
    """Streaming shot-boundary detector.

    Subclasses implement :meth:`_update` and :meth:`_flush`; the base class keeps the
    frame clock (for PTS times), the per-frame boundary score (``scores``, one float in
    [0, 1] per frame, for plots) and builds :class:`Transition` records.
    """

    #: registry name users type
    name: str = "detector"
    #: longest side (int) or exact (w, h) of ``frame.analysis_image`` this detector works at
    analysis_size: int | tuple[int, int] = 64
    #: whether detect_shots may skip the codec's deblocking filter for this detector
    fast_decode: bool = False

    def __init__(self) -> None:
        self.reset()

    def reset(self, fps: float | None = None) -> None:
        """Forget everything seen; ready for a new stream (``fps`` only extrapolates times)."""
        self.clock = FrameClock(fps)
        self.scores: list[float] = []
        self._reset()

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
        while len(self.scores) <= index:
            self.scores.append(0.0)
        self.scores[index] = float(value)

    def transition(self, kind: str, start: int, end: int, score: float) -> Transition:
        """A :class:`Transition` with times read from the frame clock."""
        return Transition(kind, int(start), int(end), round(self.clock.time(start), 6),
                          round(self.clock.time(end), 6), round(float(score), 4))
