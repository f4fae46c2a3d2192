"""Find reference images — or the items of a source of references — in a live video stream.

Pipeline per sampled frame (``WatchOptions.rate`` frames per second of stream time):

1. decode at ``size`` (longest side, swscale; frames between samples are decoded but never
   converted to pixels); a **content-free** sample (solid, black, near-uniform, title card:
   :func:`kadr.features.content.content_free`) is not embedded and counts as no match;
2. embed with the encoder (one forward pass, whatever the number of references);
3. score against the **query bank** (:class:`kadr.stream.bank.QueryBank`): each reference is
   one picture or several (multi-frame), each embedded as several crops; a frame's score for
   a reference is its best cosine over all of them;
4. **calibrate** that cosine per encoder (:mod:`kadr.stream.calibration`) and turn the
   calibrated scores into **events** (:class:`kadr.stream.events.EventTracker`: hysteresis,
   the best reference wins, optional moving mean); with ``shots`` on, a shot detector runs on
   every decoded frame and event starts/ends snap to its boundaries.

With a source of references (:class:`kadr.stream.references.ReferenceSource`, e.g. a database
through ``kadr.index.watch.IndexReferences``) the shot detector runs on every frame and each
new shot's first sample is looked up (one event per shot whose best hit reaches ``db_min_score``).

Real time: live sources (pipes, URLs, webcams) are processed as they come; the watcher
measures how far it lags behind the stream clock (wall time since the first frame minus
stream time) and, beyond ``max_lag`` seconds, drops sampled frames until it has caught up.
Events found while behind are flagged ``behind`` and ``stats`` reports the drops. Decoding
runs in a thread feeding a small queue when a stall ``timeout`` applies (always for live
sources): no decodable frame for that long ends the watch with one clear error.

State is bounded: one open event and a ``smooth``-long ring per reference, a few recent shot
boundaries, the shot detector's own ring buffers, and at most 4 decoded frames in the queue.
"""

from __future__ import annotations

import queue
import threading
import time as _time
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from kadr.errors import DecodeError, InputError, KadrWarning
from kadr.features.base import Encoder
from kadr.stream.bank import QueryBank, check_reference
from kadr.stream.calibration import calibration_for
from kadr.stream.events import EventTracker, MatchEvent
from kadr.stream.options import WatchOptions
from kadr.stream.references import ReferenceSource, ShotLookup


class StreamStalledError(DecodeError):
    """No decodable frame arrived for longer than the stall timeout."""


@dataclass
class WatchStats:
    frames: int = 0
    sampled: int = 0
    dropped: int = 0
    max_lag: float = 0.0
    seconds: float = 0.0
    stream_seconds: float = 0.0
    live: bool = False
    behind: bool = False
    corrupt_packets: int = 0
    content_free: int = 0  # sampled frames not scored (solid, near-uniform, title cards)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sampled_fps"] = round(self.sampled / self.seconds, 2) if self.seconds else None
        d["realtime_factor"] = round(self.stream_seconds / self.seconds, 2) if self.seconds else None
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}


class Watcher:
    """Watch one source for references (pictures, or lists of pictures of one thing) and/or the
    items of a :class:`ReferenceSource` (e.g. an index).

    Iterate :meth:`events` (a generator: events come out as they are decided, so a live
    stream can be watched forever); ``on_start(notice)`` is called when an event opens;
    ``stats`` holds the counters afterwards."""

    def __init__(self, encoder: Encoder, *, queries: Sequence[np.ndarray | Sequence[np.ndarray]] = (),
                 names: Sequence[str] | None = None, references: ReferenceSource | None = None,
                 options: WatchOptions | None = None, on_start: Callable[[dict[str, Any]], None] | None = None):
        self.encoder = encoder
        self.o = options or WatchOptions()
        if not len(queries) and references is None:
            raise InputError("watch needs --query IMG (one or more) or --db DIR")
        self.queries = [[q] if isinstance(q, np.ndarray) else list(q) for q in queries]
        self.names = list(names) if names else [f"query{i}" for i in range(len(self.queries))]
        if len(self.names) != len(self.queries):
            raise InputError(f"{len(self.names)} names for {len(self.queries)} references")
        self.calibration = calibration_for(encoder.name, self.o.min_cosine) if self.queries else None
        self.warnings: list[str] = []
        for name, pics in zip(self.names, self.queries):
            for k, im in enumerate(pics):
                msg = check_reference(im, name if len(pics) == 1 else f"{name} (picture {k + 1})")
                if msg:
                    self.warnings.append(msg)
                    warnings.warn(msg, KadrWarning, stacklevel=2)
        self.bank: QueryBank | None = None
        self._bank_aspect: float | None = None
        self.references = references
        self.on_start = on_start
        self.stats = WatchStats()

    def _make_bank(self, aspect: float) -> None:
        """Embed the query crops for the stream's aspect ratio (once per aspect)."""
        if self.queries and (self.bank is None or abs(aspect - (self._bank_aspect or 0)) > 1e-3):
            self.bank = QueryBank(self.encoder, self.queries, self.names, crops=self.o.crops, aspect=aspect,
                                  centre=self.o.centre)
            self._bank_aspect = aspect

    def events(self, source: Any, *, realtime: bool | None = None, threads: int = 0) -> Iterator[MatchEvent]:
        """Events of ``source`` (path, ``-``, URL, webcam or an open VideoReader).

        ``realtime``: pace-check against the wall clock (default: only for live sources)."""
        from kadr.features.content import content_free
        from kadr.io.video import VideoReader

        own = not isinstance(source, VideoReader)
        if own:
            from kadr.io.sources import resolve_source

            src = resolve_source(source)
            reader = _open_with_timeout(lambda: VideoReader(source, analysis_size=int(self.o.size), threads=threads),
                                        self.o.live_timeout(src.is_live), src.name)
        else:
            reader = source
        st = self.stats
        st.live = reader.is_live if realtime is None else bool(realtime)
        self._make_bank(reader.width / max(1, reader.height))
        tracker = EventTracker(self.bank.names, self.o, self.calibration, self.bank.frames) \
            if self.bank is not None else None
        detector = None
        if self.o.shots or self.references is not None:
            from kadr.video.shots import get

            detector = get("classic")
            detector.reset(None)
        lookup = ShotLookup(self.references, self.o) if self.references is not None else None
        period = 1.0 / float(self.o.rate)
        next_t = None
        t_wall0 = None
        t_stream0 = 0.0
        t0 = _time.perf_counter()
        last_t = 0.0
        frames = _frames(reader, self.o.live_timeout(reader.is_live))
        try:
            for f in frames:
                st.frames += 1
                last_t = f.time
                if t_wall0 is None:
                    t_wall0, t_stream0 = _time.perf_counter(), f.time
                    next_t = f.time
                if detector is not None:
                    for tr in detector.update(f):
                        if tracker is not None:
                            tracker.note_cut(tr.end_time)
                        if lookup is not None:
                            lookup.note_cut(tr.end_time)
                if f.time + 1e-9 < next_t:
                    continue
                next_t = max(next_t + period, f.time + period * 0.5)
                lag = (_time.perf_counter() - t_wall0) - (f.time - t_stream0) if st.live else 0.0
                st.max_lag = max(st.max_lag, lag)
                behind = lag > self.o.max_lag
                if behind:
                    st.dropped += 1
                    st.behind = True
                    continue
                if tracker is None and not lookup.wants_sample(f.time):
                    continue  # --db only: embed just the keyframe of each new shot
                img = f.analysis_image
                if content_free(img) is not None:
                    st.content_free += 1
                    if tracker is not None:
                        yield from tracker.update(f.time, np.full(len(self.bank.names), -np.inf), behind=st.behind)
                    continue
                emb = self.encoder.encode_images([img])
                st.sampled += 1
                if tracker is not None:
                    closed = tracker.update(f.time, self.bank.score(emb)[0], behind=st.behind)
                    if self.on_start is not None:
                        for q, ev in tracker.opened:
                            self.on_start(tracker.started(q, ev))
                    yield from closed
                if lookup is not None:
                    yield from lookup.sample(f.time, emb[0], behind=st.behind)
            if tracker is not None:
                yield from tracker.flush()
            if lookup is not None:
                yield from lookup.flush(last_t)
        finally:
            frames.close()
            st.seconds = _time.perf_counter() - t0
            st.stream_seconds = max(0.0, last_t - t_stream0)
            st.corrupt_packets = reader.stats.corrupt_packets
            if own:
                reader.close()


def _open_with_timeout(open_: Callable[[], Any], timeout: float | None, name: str) -> Any:
    """``open_()``, or :class:`StreamStalledError` when it has not returned after ``timeout``
    seconds (FFmpeg probes a pipe until it has seen enough data)."""
    if timeout is None:
        return open_()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["reader"] = open_()
        except BaseException as exc:  # raised in the caller
            box["error"] = exc

    th = threading.Thread(target=run, name="kadr-watch-open", daemon=True)
    th.start()
    th.join(timeout)
    if th.is_alive():
        raise StreamStalledError(f"{name}: no decodable video after {timeout:g} s (stalled, empty or not a "
                                 "video stream); check the source, or raise --timeout")
    if "error" in box:
        raise box["error"]
    return box["reader"]


def _frames(reader: Any, timeout: float | None) -> Iterator[Any]:
    """The reader's frames; with a ``timeout``, decoded in a thread feeding a 4-frame queue,
    and :class:`StreamStalledError` when no frame arrives for ``timeout`` seconds."""
    if timeout is None:
        yield from reader
        return
    q: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()
    done = object()

    def pump() -> None:
        try:
            for f in reader:
                while not stop.is_set():
                    try:
                        q.put(f, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)

    th = threading.Thread(target=pump, name="kadr-watch-decode", daemon=True)
    th.start()
    try:
        while True:
            try:
                item = q.get(timeout=timeout)
            except queue.Empty:
                raise StreamStalledError(
                    f"{reader.name}: no decodable frame for {timeout:g} s (stalled or broken stream); "
                    "check the source, or raise --timeout") from None
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def watch(source: Any, encoder: Encoder, *, queries: Sequence[np.ndarray | Sequence[np.ndarray]] = (),
          names: Sequence[str] | None = None, references: ReferenceSource | None = None,
          options: WatchOptions | None = None, realtime: bool | None = None) -> dict[str, Any]:
    """Batch form: all events of a finite source plus the counters."""
    w = Watcher(encoder, queries=queries, names=names, references=references, options=options)
    events = list(w.events(source, realtime=realtime))
    return {"events": events, "stats": w.stats.to_dict()}
