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

With a database (``--db``) a shot detector (``kadr.video.shots``, ``classic``) runs on every
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

from kadr._checks import check_positive, check_range
from kadr._options import opt
from kadr.errors import InputError
from kadr.features.base import Encoder

#: Query bank modes: ``multi`` (crops of the reference) or ``single`` (the whole picture only).
CROP_MODES = ("multi", "single")
#: Centre modes of the streaming similarity (kadr.metrics.streaming.CentredSimilarity) offered
#: here; ``fixed`` needs a library mean and has no meaning for a handful of references.
CENTRE_MODES = ("none", "running", "ema")


@dataclass
class WatchOptions:
    """Defaults fixed on generated streams of the scikit-image sample photos with
    effnet-lite0 (not tuned on any test clip); see ``benchmarks/results/watch.md``."""

    rate: float = opt(5.0, "frames per second (stream time) embedded and scored")
    threshold: float = opt(0.62, "score (best cosine over the query crops) at which an event starts")
    release: float = opt(0.5, "an event ends when the score stays below this for --hold seconds")
    hold: float = opt(0.4, "seconds below --release before an event ends")
    crops: str = opt("multi", "query bank: 'multi' (zoomed/shifted crops of each reference) or 'single'",
                     choices=CROP_MODES)
    centre: str = opt("none", "centre of the streaming similarity: none (plain cosine), running or ema "
                              "(stream mean removed; measured to hurt, see benchmarks/results/watch.md)",
                      choices=CENTRE_MODES)
    size: int = opt(320, "longest side (px) frames are decoded at for analysis")
    max_lag: float = opt(2.0, "live sources: seconds behind the stream after which sampled frames are dropped")
    db_min_score: float = opt(0.5, "--db: cosine a shot keyframe's best database hit must reach to be reported "
                                   "(a zoomed view of a stored photo scored 0.58, unrelated shots <= 0.31)")

    def __post_init__(self) -> None:
        check_positive(self.rate, "rate")
        check_range(self.threshold, "threshold", -1.0, 1.0)
        check_range(self.release, "release", -1.0, 1.0)
        if self.release > self.threshold:
            raise InputError(f"release ({self.release}) must be <= threshold ({self.threshold})")
        check_positive(self.hold, "hold", allow_zero=True)
        check_positive(self.size, "size")
        check_positive(self.max_lag, "max_lag")
        check_range(self.db_min_score, "db_min_score", -1.0, 1.0)
        if self.centre not in CENTRE_MODES:
            raise InputError(f"centre must be one of {', '.join(CENTRE_MODES)}, got {self.centre!r}")
        if self.crops not in CROP_MODES:
            raise InputError(f"crops must be one of {', '.join(CROP_MODES)}, got {self.crops!r}")


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


def query_crops(image: np.ndarray, aspect: float = 16 / 9) -> list[np.ndarray]:
    """The multi-crop views of a reference image (RGB HxWx3): the whole image; for the
    image's own aspect and for ``aspect`` (the stream's): the largest centred crop, and
    crops zoomed 1.4× (centre and shifted to 20 % / 80 % horizontally and vertically) and 2×
    (same five positions). 23 views for a non-square reference."""
    h, w = image.shape[:2]
    out = [image]
    for asp in dict.fromkeys((w / h, float(aspect))):
        base = min(w, h * asp)
        for zoom in (1.0, 1.4, 2.0):
            cw, ch = base / zoom, base / zoom / asp
            spots = ((0.5, 0.5),) if zoom == 1.0 else ((0.5, 0.5), (0.2, 0.5), (0.8, 0.5), (0.5, 0.2), (0.5, 0.8))
            for fx, fy in spots:
                x0, y0 = (w - cw) * fx, (h - ch) * fy
                crop = image[int(round(y0)):int(round(y0 + ch)), int(round(x0)):int(round(x0 + cw))]
                if crop.shape[0] >= 8 and crop.shape[1] >= 8:
                    out.append(crop)
    return out


class QueryBank:
    """Embedded references: (n_queries, n_crops, D) with a mask for unequal crop counts.
    :meth:`score` maps frame embeddings (N, D) to (N, n_queries) best-crop cosines."""

    def __init__(self, encoder: Encoder, images: Sequence[np.ndarray], names: Sequence[str] | None = None, *,
                 crops: str = "multi", aspect: float = 16 / 9, centre: str = "none"):
        from kadr.metrics.streaming import CentredSimilarity

        self.similarity = CentredSimilarity(centre)
        if not images:
            raise InputError("give at least one query image (--query IMG)")
        self.names = list(names) if names else [f"query{i}" for i in range(len(images))]
        views = [query_crops(im, aspect) if crops == "multi" else [im] for im in images]
        flat = encoder.encode_images([v for vs in views for v in vs])
        n_max = max(len(v) for v in views)
        self.bank = np.zeros((len(images), n_max, flat.shape[1]), np.float32)
        self.mask = np.zeros((len(images), n_max), bool)
        i = 0
        for q, vs in enumerate(views):
            self.bank[q, :len(vs)] = flat[i:i + len(vs)]
            self.mask[q, :len(vs)] = True
            i += len(vs)
        self._flat = self.bank.reshape(-1, flat.shape[1])

    def score(self, emb: np.ndarray) -> np.ndarray:
        """Feed the frames to the streaming similarity (moves a running/EMA centre) and return
        the (centred) cosine of each frame to each reference, best over its crops."""
        emb = np.atleast_2d(emb)
        self.similarity.update(emb)
        s = np.asarray(self.similarity.score(self._flat, emb)["centred"])  # (N, Q*C)
        s = s.reshape(s.shape[0], *self.mask.shape)
        s = np.where(self.mask[None], s, -np.inf)
        return s.max(axis=2)


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


class Watcher:
    """Watch one source for the references of a :class:`QueryBank` and/or the items of an index.

    Iterate :meth:`events` (a generator: events come out as they are decided, so a live
    stream can be watched forever); ``stats`` holds the counters afterwards."""

    def __init__(self, encoder: Encoder, *, queries: Sequence[np.ndarray] = (), names: Sequence[str] | None = None,
                 index: Any = None, options: WatchOptions | None = None):
        self.encoder = encoder
        self.o = options or WatchOptions()
        if not len(queries) and index is None:
            raise InputError("watch needs --query IMG (one or more) or --db DIR")
        self.queries, self.names = list(queries), names
        self.bank: QueryBank | None = None
        self._bank_aspect: float | None = None
        self.index = index
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
        shots = _ShotFollower(self.index, self.o) if self.index is not None else None
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


class _ShotFollower:
    """--db mode: a streaming shot detector on every frame; the first sample of each new shot
    is looked up in the index; one event per shot (start = shot start, end = next shot)."""

    def __init__(self, index: Any, options: WatchOptions):
        from kadr.video.shots import get

        self.index = index
        self.o = options
        self.detector = get("classic")
        self.detector.reset(None)
        self.shot_start = 0.0
        self.pending = True  # the first shot starts with the stream
        self.current: MatchEvent | None = None

    def note_frame(self, frame: Any) -> None:
        for tr in self.detector.update(frame):
            self.shot_start = tr.end_time
            self.pending = True

    def wants_sample(self, t: float) -> bool:
        return self.pending and t >= self.shot_start

    def sample(self, t: float, emb: np.ndarray, *, behind: bool) -> list[MatchEvent]:
        if not self.wants_sample(t):
            return []
        self.pending = False
        out = []
        if self.current is not None:
            self.current.end = self.shot_start
            out.append(self.current)
            self.current = None
        hits = self.index.search(vector=emb, k=1, min_score=self.o.db_min_score)
        if hits:
            h = hits[0]
            self.current = MatchEvent("db", None, h.source, self.shot_start, t, h.score, t, t, behind, h.to_dict())
        return out

    def flush(self, end: float) -> list[MatchEvent]:
        for tr in self.detector.flush():
            pass
        if self.current is not None:
            self.current.end = end
            return [self.current]
        return []


def watch(source: Any, encoder: Encoder, *, queries: Sequence[np.ndarray] = (), names: Sequence[str] | None = None,
          index: Any = None, options: WatchOptions | None = None, realtime: bool | None = None) -> dict[str, Any]:
    """Batch form: all events of a finite source plus the counters."""
    w = Watcher(encoder, queries=queries, names=names, index=index, options=options)
    events = list(w.events(source, realtime=realtime))
    return {"events": events, "stats": w.stats.to_dict()}


__all__ = ["WatchOptions", "MatchEvent", "WatchStats", "QueryBank", "EventTracker", "Watcher", "query_crops",
           "watch"]
