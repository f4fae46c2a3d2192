"""Find reference images — or the items of a database — in a live video stream.

Pipeline per sampled frame (``WatchOptions.rate`` frames per second of stream time):

1. decode at ``size`` (longest side, swscale; frames between samples are decoded but never
   converted to pixels);
2. embed with the encoder (one forward pass, whatever the number of queries);
3. score against a **multi-crop query bank**: each reference is embedded as several crops
   (the whole picture, the largest crops of the stream's aspect ratio, and 1.4× / 2× zooms
   at the centre and shifted towards the four sides) and a frame's score for a reference is
   its best cosine over those crops. A zoomed or panned view of the reference then meets a
   crop that shows the same part of it, while other pictures gain little;
4. **events** by hysteresis: an event starts at the first sample whose score reaches
   ``threshold`` (only the best-scoring reference may start one, so look-alikes do not both
   fire) and ends when the score has stayed below ``release`` for ``hold`` seconds. One event
   = start time, end time, peak score and its time, which reference.

Centring: the scores come from ``kadr.metrics.streaming.CentredSimilarity``, by default with
no centre (plain cosine; ``--centre running|ema`` are offered for comparison). Centring on the running mean of the
stream removes whatever is on screen for long — the reference itself while it is shown —
and the issue's measurements (23 vs 28 found) and ours (``benchmarks/results/watch.md``)
agree; see ``CENTRE_MODES``.

With a source of references (a database, ``--db``) a shot detector (``kadr.video.shots``, ``classic``) runs on every
decoded frame; at each new shot the next sampled frame is the shot's keyframe and is looked
up in the database (one event per shot whose best hit reaches ``db_min_score``).

Real time: live sources (pipes, URLs, webcams) are processed as they come; the watcher
measures how far it lags behind the stream clock (wall time since the first frame minus
stream time) and, beyond ``max_lag`` seconds, drops sampled frames until it has caught up.
Events found while behind are flagged ``behind`` and ``stats`` reports the drops.
"""

from __future__ import annotations

import time as _time
from dataclasses import asdict, dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from kadr.errors import InputError
from kadr.features.base import Encoder
from kadr.stream.bank import QueryBank
from kadr.stream.events import EventTracker, MatchEvent
from kadr.stream.options import WatchOptions
from kadr.stream.references import ReferenceSource, ShotLookup


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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sampled_fps"] = round(self.sampled / self.seconds, 2) if self.seconds else None
        d["realtime_factor"] = round(self.stream_seconds / self.seconds, 2) if self.seconds else None
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}


class Watcher:
    """Watch one source for the references of a :class:`QueryBank` and/or of a :class:`ReferenceSource`
    (e.g. the items of an index).

    Iterate :meth:`events` (a generator: events come out as they are decided, so a live
    stream can be watched forever); ``stats`` holds the counters afterwards."""

    def __init__(self, encoder: Encoder, *, queries: Sequence[np.ndarray] = (), names: Sequence[str] | None = None,
                 references: ReferenceSource | None = None, options: WatchOptions | None = None):
        self.encoder = encoder
        self.o = options or WatchOptions()
        if not len(queries) and references is None:
            raise InputError("watch needs --query IMG (one or more) or --db DIR")
        self.queries, self.names = list(queries), names
        self.bank: QueryBank | None = None
        self._bank_aspect: float | None = None
        self.references = references
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
        from kadr.io.video import VideoReader

        own = not isinstance(source, VideoReader)
        reader = VideoReader(source, analysis_size=int(self.o.size), threads=threads) if own else source
        st = self.stats
        st.live = reader.is_live if realtime is None else bool(realtime)
        self._make_bank(reader.width / max(1, reader.height))
        tracker = EventTracker(self.bank.names, self.o) if self.bank is not None else None
        shots = ShotLookup(self.references, self.o) if self.references is not None else None
        period = 1.0 / float(self.o.rate)
        next_t = None
        t_wall0 = None
        t_stream0 = 0.0
        t0 = _time.perf_counter()
        last_t = 0.0
        try:
            for f in reader:
                st.frames += 1
                last_t = f.time
                if t_wall0 is None:
                    t_wall0, t_stream0 = _time.perf_counter(), f.time
                    next_t = f.time
                if shots is not None:
                    shots.note_frame(f)
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
                if tracker is None and not shots.wants_sample(f.time):
                    continue  # --db only: embed just the keyframe of each new shot
                emb = self.encoder.encode_images([f.analysis_image])
                st.sampled += 1
                if tracker is not None:
                    yield from tracker.update(f.time, self.bank.score(emb)[0], behind=st.behind)
                if shots is not None:
                    yield from shots.sample(f.time, emb[0], behind=st.behind)
            if tracker is not None:
                yield from tracker.flush()
            if shots is not None:
                yield from shots.flush(last_t)
        finally:
            st.seconds = _time.perf_counter() - t0
            st.stream_seconds = max(0.0, last_t - t_stream0)
            st.corrupt_packets = reader.stats.corrupt_packets
            if own:
                reader.close()


def watch(source: Any, encoder: Encoder, *, queries: Sequence[np.ndarray] = (), names: Sequence[str] | None = None,
          references: ReferenceSource | None = None, options: WatchOptions | None = None, realtime: bool | None = None) -> dict[str, Any]:
    """Batch form: all events of a finite source plus the counters."""
    w = Watcher(encoder, queries=queries, names=names, references=references, options=options)
    events = list(w.events(source, realtime=realtime))
    return {"events": events, "stats": w.stats.to_dict()}
