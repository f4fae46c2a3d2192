"""Real-footage streams for the watch benchmark, spliced from ``../shared/data/video``.

Sources ("shots"): the 20 ASL clips of ``single-shot/asl_gestures`` (five people in one room;
clips of one person form one *group*), ``bottle-detection``, ``car-detection``,
``one-by-one-person-detection``, the four photo shots of ``testvideo.mp4`` (the two leaf shots
form one group) and the two shots of ``issue-236-split-copy.mkv``. Content-free material
(the black copyright cards of ``testvideo.mp4``, ``counter.mp4``, ``fades.mp4``) appears only
as distractor stretches.

A stream (seed ``s``): 7 query sources from 7 different groups, each spliced in once or
twice (stretches of 1.0–2.0 s), plus 4 distractor stretches (sources of groups that are not
queried, content-free ones included), in random order, joined by cuts, 0.4 s dissolves and
0.6 s fades through black; 640×360, 25 fps, H.264 crf 23. Each query is *another* frame of its
source (≥ 0.3 s from every stretch used, where the source is long enough), an 85 % crop at a
random place, re-encoded as JPEG quality 60.

Tuning and held-out streams are kept apart: seeds < 100 use the even-numbered ASL clips of
each person, the first half of the long clips and shot set A of the films; seeds ≥ 100 the
odd-numbered clips, the second halves and set B. An appearance starts at the first frame at
least half of which shows the source (the middle of a dissolve or fade-in) and ends at the
middle of the transition out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"
SIZE = (640, 360)
FPS = 25.0


@dataclass
class Source:
    name: str
    path: Path
    group: str
    start: int  # first frame of the usable range (decoded index)
    end: int    # exclusive
    fps: float
    content_free: bool = False


def _asl_people() -> dict[str, list[str]]:
    # who signs in which clip (read off a contact sheet of the clips; same person = same group)
    return {"skull": ["again", "brother", "help", "no", "student", "yes"],
            "grey": ["bird", "milk", "please", "sorry", "thanks"],
            "yellow": ["book", "learn", "school", "walk"],
            "striped": ["eat", "night", "sister"],
            "plaid": ["hungry", "want"]}


def _count(path: Path) -> tuple[int, float]:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for p in c.demux(s) if p.size)
        return n, float(s.average_rate or s.guessed_rate)


def sources(split: str) -> tuple[list[Source], list[Source]]:
    """(query-able sources, content-free distractors) of ``split`` ('tuning' | 'heldout')."""
    k = 0 if split == "tuning" else 1
    out: list[Source] = []
    asl = VIDEO / "single-shot" / "asl_gestures"
    for person, words in _asl_people().items():
        for i, w in enumerate(words):
            if i % 2 == k or len(words) == 1:
                p = asl / f"{w}.mkv"
                n, fps = _count(p)
                out.append(Source(f"asl-{w}", p, f"asl-{person}", 0, n, fps))
    for clip in ("bottle-detection", "car-detection", "one-by-one-person-detection"):
        p = VIDEO / "single-shot" / f"{clip}.mp4"
        n, fps = _count(p)
        half = n // 2
        out.append(Source(clip, p, clip, 0 if k == 0 else half, half if k == 0 else n, fps))
    tv = VIDEO / "testvideo.mp4"
    # ground_truth.json: photo shots 30-180 (leaf), 240-331 (deer), 423-529 (leaf, closer), 558-664 (metal)
    films = {0: [("tv-leaf-a", 30, 180, "tv-leaf"), ("tv-deer", 240, 331, "tv-deer"), ("anime-1", 19, 48, "anime-1")],
             1: [("tv-leaf-b", 423, 529, "tv-leaf"), ("tv-metal", 558, 664, "tv-metal"), ("anime-0", 0, 19, "anime-0")]}
    for name, a, b, g in films[k]:
        p = VIDEO / "issue-236-split-copy.mkv" if name.startswith("anime") else tv
        out.append(Source(name, p, g, a, b, _count(p)[1]))
    free = [Source("tv-card", tv, "card", 0, 30, _count(tv)[1], True),
            Source("tv-card-2", tv, "card", 360, 394, _count(tv)[1], True),
            Source("counter", VIDEO / "counter.mp4", "counter", 0, 30, 10.0, True),
            Source("fades", VIDEO / "fades.mp4", "fades", 0, 78, 25.0, True)]
    return out, free


@dataclass
class Appearance:
    name: str
    start: float  # seconds, first frame at least half showing the source
    end: float    # exclusive


@dataclass
class Stream:
    path: Path
    seed: int
    split: str
    queries: dict[str, np.ndarray]
    banks: dict[str, list[np.ndarray]]  # multi-frame queries: the query plus other frames of its source
    appearances: list[Appearance]
    duration: float
    joins: list[str]


def _cover(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    w, h = size
    ih, iw = img.shape[:2]
    s = max(w / iw, h / ih)
    r = cv2.resize(img, (max(w, round(iw * s)), max(h, round(ih * s))), interpolation=cv2.INTER_AREA)
    y0, x0 = (r.shape[0] - h) // 2, (r.shape[1] - w) // 2
    return r[y0:y0 + h, x0:x0 + w]


def _frames(src: Source, wanted: set[int], size: tuple[int, int] | None) -> dict[int, np.ndarray]:
    from kadr.io.video import VideoReader

    out = {}
    with VideoReader(src.path) as r:
        for f in r:
            if f.index in wanted:
                out[f.index] = _cover(f.image, size) if size else f.image
            if f.index >= max(wanted):
                break
    return out


def _jpeg_crop(img: np.ndarray, rng: np.random.Generator, frac: float = 0.85, quality: int = 60) -> np.ndarray:
    from PIL import Image

    h, w = img.shape[:2]
    ch, cw = int(h * frac), int(w * frac)
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    buf = io.BytesIO()
    Image.fromarray(img[y0:y0 + ch, x0:x0 + cw]).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def make_stream(path: Path, seed: int, *, n_queries: int = 7, n_distractors: int = 4, write: bool = True,
                bank_frames: int = 3) -> Stream:
    """Write one spliced stream to ``path``; return its queries and appearances. ``banks``: per
    query ``bank_frames`` pictures — the query and other frames of its source, as far from the
    stretches used as the source allows, each cropped and re-encoded the same way."""
    from kadr.io.synthetic import write_video

    split = "tuning" if seed < 100 else "heldout"
    rng = np.random.default_rng(seed)
    srcs, free = sources(split)
    groups = sorted({s.group for s in srcs})
    qgroups = list(rng.choice(groups, size=n_queries, replace=False))
    qsrc = [srcs[i] for i in (rng.choice([j for j, s in enumerate(srcs) if s.group == g]) for g in qgroups)]
    others = [s for s in srcs if s.group not in qgroups]
    dsrc = [others[i] for i in rng.choice(len(others), size=min(len(others), n_distractors - 1), replace=False)]
    dsrc.append(free[int(rng.integers(len(free)))])
    # stretches: (source, first source frame, n stream frames)
    plan: list[tuple[Source, int, int]] = []
    query_frame: dict[str, int] = {}
    for s in qsrc:
        n_src = s.end - s.start
        dur_src = n_src / s.fps
        reps = 2 if dur_src >= 4.5 and rng.random() < 0.6 else 1
        length = float(rng.uniform(1.0, 2.0))
        length = min(length, max(0.6, (dur_src - 0.4) / reps - 0.3)) if dur_src < 3 * length else length
        need = int(round(length * s.fps))
        # query frame: away from the stretches (they are laid out after it, or before it)
        q = s.start + int(rng.integers(0, n_src))
        taken: list[tuple[int, int]] = []
        for _ in range(reps):
            for _try in range(50):
                a = s.start + int(rng.integers(0, max(1, n_src - need)))
                gap = int(0.3 * s.fps)
                if all(a + need + gap <= x or a >= y + gap for x, y in taken) and not (a - gap <= q < a + need + gap):
                    break
            taken.append((a, a + need))
            plan.append((s, a, int(round(length * FPS))))
        if any(a - int(0.3 * s.fps) <= q < b + int(0.3 * s.fps) for a, b in taken):
            # short clip: take the frame farthest from every stretch
            cand = np.arange(s.start, s.end)
            dist = np.min([np.minimum(np.abs(cand - a), np.abs(cand - (b - 1))) * ((cand < a) | (cand >= b))
                           for a, b in taken], axis=0)
            q = int(cand[int(np.argmax(dist))])
        query_frame[s.name] = q
    for s in dsrc:
        n_src = s.end - s.start
        length = min(float(rng.uniform(1.0, 2.0)), n_src / s.fps)
        a = s.start + int(rng.integers(0, max(1, n_src - int(length * s.fps))))
        plan.append((s, a, int(round(length * FPS))))
    order = rng.permutation(len(plan))
    plan = [plan[i] for i in order]
    joins = [str(rng.choice(["cut", "cut", "dissolve", "fade"])) for _ in range(len(plan) - 1)]
    # source frames needed
    wanted: dict[str, set[int]] = {}
    for s, a, n in plan:
        for k in range(n):
            wanted.setdefault(s.name, set()).add(min(s.end - 1, a + int(k / FPS * s.fps)))
    by_name = {s.name: s for s in qsrc + dsrc}
    pix = {name: _frames(by_name[name], ws, SIZE) for name, ws in wanted.items()}
    queries = {}
    for s in qsrc:
        full = _frames(s, {query_frame[s.name]}, None)[query_frame[s.name]]
        queries[s.name] = _jpeg_crop(full, rng)
    # extra bank frames from their own generator: the stream and the single queries stay the same
    rng2 = np.random.default_rng(seed + 10_000)
    banks = {}
    for s in qsrc:
        used = [(a, a + int(round(n / FPS * s.fps))) for src, a, n in plan if src.name == s.name]
        cand = np.arange(s.start, s.end)
        dist = np.min([np.where((cand >= a) & (cand < b), 0, np.minimum(np.abs(cand - a), np.abs(cand - b)))
                       for a, b in used], axis=0)
        far = cand[dist >= max(1, int(0.3 * s.fps))]
        far = far[np.abs(far - query_frame[s.name]) >= max(1, int(0.2 * s.fps))]
        picks = sorted(int(x) for x in rng2.choice(far, size=min(len(far), bank_frames - 1), replace=False)) \
            if len(far) else []
        got = _frames(s, set(picks), None) if picks else {}
        banks[s.name] = [queries[s.name]] + [_jpeg_crop(got[p], rng2) for p in picks]

    def clip_frames(i: int) -> list[np.ndarray]:
        s, a, n = plan[i]
        return [pix[s.name][min(s.end - 1, a + int(k / FPS * s.fps))] for k in range(n)]

    # lay out: dissolves overlap 10 frames; fades take 8 frames out + 7 in (through black)
    apps: list[Appearance] = []
    frames_out: list[np.ndarray] = []
    t = 0
    cur = clip_frames(0)
    starts, ends = [0.0], []
    for i in range(len(plan)):
        nxt = clip_frames(i + 1) if i + 1 < len(plan) else None
        j = joins[i] if i < len(joins) else None
        if j == "dissolve":
            d = max(1, min(10, len(cur) // 2, len(nxt) // 2))
            body, tail = cur[:-d], cur[-d:]
            frames_out += body
            mix = [(tail[k].astype(np.float32) * (1 - (k + 1) / (d + 1)) + nxt[k].astype(np.float32) * ((k + 1) / (d + 1)))
                   .round().astype(np.uint8) for k in range(d)]
            frames_out += mix
            starts.append(len(frames_out) - d + d // 2)
            ends.append(starts[-1])
            cur = nxt[d:]
        elif j == "fade":
            fo, fi = max(1, min(8, len(cur) // 2)), max(1, min(7, len(nxt) // 2))
            body, tail = cur[:-fo], cur[-fo:]
            frames_out += body
            ends.append(len(frames_out) + fo // 2)  # the middle of the fade-out
            frames_out += [(tail[k].astype(np.float32) * (1 - (k + 1) / fo)).round().astype(np.uint8) for k in range(fo)]
            head = [(nxt[k].astype(np.float32) * ((k + 1) / (fi + 1))).round().astype(np.uint8) for k in range(fi)]
            frames_out += head
            starts.append(len(frames_out) - fi + fi // 2)
            cur = nxt[fi:]
        else:
            frames_out += cur
            ends.append(len(frames_out))
            if nxt is not None:
                starts.append(len(frames_out))
                cur = nxt
    for i, (s, _, _) in enumerate(plan):
        if s.name in queries:
            apps.append(Appearance(s.name, starts[i] / FPS, ends[i] / FPS))
    if write:
        write_video(frames_out, path, fps=FPS, crf=23)
    t = len(frames_out) / FPS
    return Stream(path, seed, split, queries, banks, apps, t, joins)


def score_events(events: list[dict], apps: list[Appearance], tol: float = 0.25) -> dict:
    """found (appearances with an event of their query overlapping them, ``tol`` s slack),
    false events (events overlapping no appearance of their query), extra events (more than
    one event for one appearance), time to detect (first ``detected_at`` − appearance start,
    clamped at 0)."""
    def hit(e: dict, a: Appearance) -> bool:
        return e["name"] == a.name and e["start"] < a.end + tol and e["end"] >= a.start - tol

    false = sum(1 for e in events if not any(hit(e, a) for a in apps))
    found, ttd, extra, missed = 0, [], 0, []
    for a in apps:
        hs = [e for e in events if hit(e, a)]
        if hs:
            found += 1
            extra += len(hs) - 1
            ttd.append(max(0.0, min(e.get("detected_at", e["start"]) for e in hs) - a.start))
        else:
            missed.append(a.name)
    return {"found": found, "appearances": len(apps), "false": false, "extra": extra,
            "ttd_mean": float(np.mean(ttd)) if ttd else float("nan"),
            "ttd_max": float(np.max(ttd)) if ttd else float("nan"), "missed": missed}
