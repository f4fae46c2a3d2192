"""Real-footage part of the watch benchmark (streams from ``watch_footage``): found / false
events / time to detect on tuning and held-out seeds apart, speed with 1, 16 and 100
references on one core, and the calibration fit (``--calibrate``).

Scoring one stream: every sample's best-view cosines are computed once through the real
``QueryBank``; each configuration then replays them through the real ``EventTracker`` (the
code ``kadr watch`` runs), so configurations differ only in what they say they differ in.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from watch_footage import Stream, make_stream, score_events

TUNING = (0, 1, 2, 3, 4)
HELDOUT = (100, 101, 102, 103, 104)


def build(work: Path, seeds) -> list[Stream]:
    return [make_stream(work / f"real{s}.mp4", s) for s in seeds]


def sample_scores(stream: Stream, enc, *, multi_frame: bool, crops: str = "multi", rate: float = 10.0,
                  size: int = 320) -> dict:
    """Times, per-sample best-view cosines (N, Q) (−inf on content-free samples) and bank sizes."""
    from kadr.features.content import content_free
    from kadr.io.video import Sampling, VideoReader
    from kadr.stream import QueryBank

    names = list(stream.queries)
    refs = [stream.banks[n] if multi_frame else [stream.queries[n]] for n in names]
    T, S = [], []
    with VideoReader(stream.path, analysis_size=size, sampling=Sampling(fps=rate)) as r:
        bank = QueryBank(enc, refs, names, crops=crops, aspect=r.width / r.height)
        for f in r:
            img = f.analysis_image
            T.append(f.time)
            S.append(np.full(len(names), -np.inf) if content_free(img) else bank.score(enc.encode_images([img]))[0])
    return {"names": names, "T": np.array(T), "S": np.array(S), "frames": bank.frames}


def replay(sc: dict, options, calibration, cuts=()) -> list[dict]:
    from kadr.stream import EventTracker

    tr = EventTracker(sc["names"], options, calibration, sc["frames"])
    cuts = sorted(cuts)
    events, k = [], 0
    for t, s in zip(sc["T"], sc["S"]):
        while k < len(cuts) and cuts[k] <= t:
            tr.note_cut(cuts[k])
            k += 1
        events += tr.update(float(t), s)
    events += tr.flush()
    return [e.to_dict() for e in events]


def total(results: list[dict]) -> dict:
    found = sum(r["found"] for r in results)
    apps = sum(r["appearances"] for r in results)
    ttd = [r["ttd_mean"] for r in results if r["found"]]
    ttd_max = max((r["ttd_max"] for r in results if r["found"]), default=float("nan"))
    missed = [m for r in results for m in r["missed"]]
    return {"found": found, "apps": apps, "false": sum(r["false"] for r in results),
            "extra": sum(r["extra"] for r in results), "ttd": float(np.mean(ttd)) if ttd else float("nan"),
            "ttd_max": ttd_max, "missed": missed}


def shot_cuts(path: Path) -> list[float]:
    """Boundary times of the default shot detector (what ``--shots`` feeds the tracker)."""
    from kadr.video.shots import detect_shots

    det = detect_shots(str(path), detector="classic")
    return [float(t.end_time) for t in det.transitions]


def calibrate(streams: list[Stream], enc, per: dict | None = None) -> dict:
    """Fit ``a`` (class-balanced logistic slope of inside-appearance on the cosine), ``c`` (the
    single-frame decision cosine with the fewest misses + false events) and ``b`` (the rise of
    that cosine for the multi-frame banks per ln n) on ``streams`` (tuning only)."""
    from kadr.stream import Calibration, WatchOptions

    o = WatchOptions()
    X, Y = [], []
    per = per or {mf: [sample_scores(s, enc, multi_frame=mf) for s in streams] for mf in (False, True)}
    for mf in (False, True):
        for s, sc in zip(streams, per[mf]):
            for q, n in enumerate(sc["names"]):
                ins = np.zeros(len(sc["T"]), bool)
                near = np.zeros(len(sc["T"]), bool)
                for a in s.appearances:
                    if a.name == n:
                        ins |= (sc["T"] >= a.start) & (sc["T"] < a.end)
                        near |= (sc["T"] >= a.start - 0.3) & (sc["T"] < a.end + 0.3)
                keep = (ins | ~near) & np.isfinite(sc["S"][:, q])
                X += sc["S"][keep, q].tolist()
                Y += ins[keep].astype(float).tolist()
    x, y = np.array(X), np.array(Y)
    w = np.where(y > 0, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    th = np.zeros(2)
    for _ in range(20000):  # logistic regression by gradient descent (two parameters)
        p = 1 / (1 + np.exp(-(th[0] * x + th[1])))
        th -= 5.0 * np.array([np.sum((p - y) * w * x), np.sum((p - y) * w)]) / len(x)
    a = float(th[0])

    def best_c(mf: bool) -> tuple[float, dict]:
        best = None
        for c in np.arange(0.50, 0.85, 0.01):
            cal = Calibration(a=a, c=float(c))
            res = total([score_events(replay(sc, o, cal), s.appearances) for s, sc in zip(streams, per[mf])])
            key = (res["apps"] - res["found"] + res["false"], res["false"])
            if best is None or key < best[0]:
                best = (key, float(round(c, 2)), res)
        return best[1], best[2]

    c1, r1 = best_c(False)
    cm, rm = best_c(True)
    n_mean = float(np.mean([np.mean(sc["frames"]) for sc in per[True]]))
    b = max(0.0, (cm - c1) / np.log(max(n_mean, 1.0 + 1e-9)))
    return {"a": round(a, 1), "c": c1, "b": round(float(b), 3), "samples": len(x), "single": r1, "multi": rm,
            "multi_c": cm, "mean_bank_frames": round(n_mean, 2)}


def speed(stream: Stream, n_refs: int, *, seconds: float = 8.0) -> dict:
    """Frames/s of the real watch loop on one core (one encoder thread, this process pinned
    to one CPU) with ``n_refs`` references (the stream's queries, then crops of them)."""
    from kadr.features import get
    from kadr.io.video import Sampling, VideoReader
    from kadr.stream import Watcher

    enc = get("effnet-lite0", threads=1)
    pics = list(stream.queries.values())
    refs = []
    rng = np.random.default_rng(n_refs)
    while len(refs) < n_refs:
        im = pics[len(refs) % len(pics)]
        if len(refs) >= len(pics):
            h, w = im.shape[:2]
            y0, x0 = int(rng.integers(0, h // 5)), int(rng.integers(0, w // 5))
            im = im[y0:y0 + h * 4 // 5, x0:x0 + w * 4 // 5]
        refs.append(im)
    w = Watcher(enc, queries=refs, names=[f"r{i}" for i in range(n_refs)])
    t0 = time.perf_counter()
    with VideoReader(stream.path, analysis_size=w.o.size, sampling=Sampling(end=seconds)) as r:
        w._make_bank(r.width / r.height)
        bank_s = time.perf_counter() - t0
        list(w.events(r))
    st = w.stats.to_dict()
    return {"refs": n_refs, "bank_s": round(bank_s, 2), "decoded_fps": round(st["frames"] / st["seconds"], 1),
            "sampled_fps": st["sampled_fps"], "realtime": st["realtime_factor"]}


def pin_one_core() -> str:
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        return f"pinned to CPU {min(os.sched_getaffinity(0))}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"
