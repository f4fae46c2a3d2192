"""Synthetic media with exact ground truth: shots from still photos with camera moves
and noise, joined by cuts, dissolves and fades; written with PyAV.

The ground truth follows the conventions of ``../shared/data/video/ground_truth.json``:
0-based decoded frame index; a cut is the index of the first frame of the new shot; a
gradual transition is the inclusive interval [first changed frame, first settled frame].
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from kadr.errors import InputError, OutputError

#: scikit-image sample photos shipped inside the package (no download needed).
SAMPLE_PHOTOS: tuple[str, ...] = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
                                  "hubble_deep_field", "colorwheel", "camera", "coins", "brick")


def sample_photo(name: str) -> np.ndarray:
    """A scikit-image sample image as RGB uint8 (greyscale replicated, alpha dropped)."""
    import skimage.data

    if name not in SAMPLE_PHOTOS:
        raise InputError(f"unknown sample photo {name!r}; choose from {', '.join(SAMPLE_PHOTOS)}")
    img = np.asarray(getattr(skimage.data, name)())
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3].astype(np.uint8))


@dataclass
class Event:
    """A hard negative inside a shot — something that is *not* a shot boundary.

    ``kind``: ``flash`` (frames blended towards white, decaying: a photo flash or strobe),
    ``whip`` (a whip pan: the camera crop centre moves by ``amount`` (dx, dy) of the free
    room within ``length`` frames, with motion blur, and stays there), ``zoom`` (a fast zoom:
    the zoom is multiplied by ``amount[0]`` within ``length`` frames and stays). ``at`` is
    the shot's own frame index where it starts."""

    kind: str
    at: int
    length: int = 3
    amount: tuple[float, float] = (0.6, 0.0)


@dataclass
class ShotSpec:
    """One shot: a photo seen through a moving virtual camera.

    ``zoom`` goes from ``zoom[0]`` to ``zoom[1]`` (1 = the largest crop of the frame's
    aspect), ``pan`` moves the crop centre by that fraction of the free room, ``noise``
    is the sigma of Gaussian sensor noise in grey levels."""

    photo: str | np.ndarray
    frames: int
    zoom: tuple[float, float] = (1.0, 1.15)
    pan: tuple[float, float] = (0.3, -0.2)
    noise: float = 2.0
    events: list[Event] = field(default_factory=list)


@dataclass
class Join:
    """How a shot is joined to the next: ``cut``, ``dissolve``, or ``fade`` (to/from a
    colour, ``black`` frames of that colour in between); ``length`` in frames."""

    kind: str = "cut"
    length: int = 0
    black: int = 0
    colour: int = 0


@dataclass
class ClipTruth:
    frames: int
    fps: float
    size: tuple[int, int]
    hard: list[int] = field(default_factory=list)
    gradual: list[list[int]] = field(default_factory=list)
    types: list[tuple[str, int, int]] = field(default_factory=list)  # (type, start, end)
    negatives: list[tuple[str, int, int]] = field(default_factory=list)  # hard negatives (kind, start, end)
    #: spliced clips: (source, first source frame, frames taken, first output frame) per stretch
    pieces: list[tuple[str, int, int, int]] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = {"frames": self.frames, "fps": self.fps, "size": list(self.size), "hard": self.hard,
             "gradual": self.gradual, "transitions": [list(t) for t in self.types]}
        if self.negatives:
            d["negatives"] = [list(t) for t in self.negatives]
        if self.pieces:
            d["pieces"] = [list(t) for t in self.pieces]
        return d


def _camera(photo: np.ndarray, n: int, size: tuple[int, int], spec: ShotSpec, rng: np.random.Generator) -> Iterator[np.ndarray]:
    import cv2

    W, H = size
    ph, pw = photo.shape[:2]
    aspect = W / H
    base_w = min(pw, ph * aspect)
    def render(i: float) -> np.ndarray:
        a = i / max(1, n - 1)
        z = spec.zoom[0] + (spec.zoom[1] - spec.zoom[0]) * a
        fx = 0.5 + spec.pan[0] * (a - 0.5)
        fy = 0.5 + spec.pan[1] * (a - 0.5)
        for ev in spec.events:
            p = min(1.0, max(0.0, (i - ev.at + 1) / max(1, ev.length)))
            p = p * p * (3 - 2 * p)  # ease in and out, like a hand-held whip or zoom
            if ev.kind == "whip":
                fx, fy = fx + ev.amount[0] * p, fy + ev.amount[1] * p
            elif ev.kind == "zoom":
                z *= 1 + (ev.amount[0] - 1) * p
        cw, ch = base_w / z, base_w / z / aspect
        cx = cw / 2 + (pw - cw) * fx
        cy = ch / 2 + (ph - ch) * fy
        m = np.array([[W / cw, 0, W / 2 - cx * W / cw], [0, H / ch, H / 2 - cy * H / ch]], np.float32)
        return cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    for i in range(n):
        moving = [ev for ev in spec.events if ev.kind in ("whip", "zoom") and ev.at <= i < ev.at + ev.length]
        if moving:  # motion blur: the shutter is open while the camera moves
            frame = np.mean([render(i - 1 + k / 6) for k in range(1, 7)], axis=0).round().astype(np.uint8)
        else:
            frame = render(i)
        for ev in spec.events:
            if ev.kind == "flash" and ev.at <= i < ev.at + ev.length:
                w = 0.85 * 0.5 ** (i - ev.at)  # a strobe: bright, then decaying
                frame = (frame * (1 - w) + 255 * w).round().astype(np.uint8)
        if spec.noise > 0:
            frame = np.clip(frame + rng.normal(0, spec.noise, frame.shape), 0, 255).astype(np.uint8)
        yield frame


def render_clip(shots: Sequence[ShotSpec], joins: Sequence[Join], *, size: tuple[int, int] = (320, 180),
                seed: int = 0) -> tuple[list[np.ndarray], ClipTruth]:
    """Render frames (list of RGB uint8) and their exact ground truth.

    ``joins[i]`` joins ``shots[i]`` and ``shots[i+1]``. A dissolve/fade of length L
    replaces no frames: it is inserted between the shots (dissolve: L mixed frames
    between the last frame of one shot and the first of the next, both cameras moving)."""
    if len(joins) != max(0, len(shots) - 1):
        raise InputError(f"{len(shots)} shots need {max(0, len(shots) - 1)} joins, got {len(joins)}")
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    truth = ClipTruth(frames=0, fps=0.0, size=size)
    pending: Join | None = None
    for si, spec in enumerate(shots):
        photo = sample_photo(spec.photo) if isinstance(spec.photo, str) else spec.photo
        extra = pending.length if pending is not None and pending.kind == "dissolve" else 0
        frames = list(_camera(photo, spec.frames + extra, size, spec, rng))
        if pending is not None:
            start = len(out)
            if pending.kind == "cut":
                truth.hard.append(start)
                truth.types.append(("cut", start, start))
            elif pending.kind == "dissolve":
                L = pending.length
                prev = out[-L:]
                del out[-L:]
                start = len(out)
                for k in range(L):
                    a = (k + 1) / (L + 1)
                    out.append((prev[k] * (1 - a) + frames[k] * a).round().astype(np.uint8))
                frames = frames[L:]
                truth.gradual.append([start, start + L])
                truth.types.append(("dissolve", start, start + L))
            elif pending.kind == "fade":
                L, B, c = pending.length, pending.black, pending.colour
                # fade-out: last L frames of the previous shot go to colour c
                tail = out[-L:]
                del out[-L:]
                s0 = len(out)
                for k in range(L):
                    a = (k + 1) / (L + 1)
                    out.append((tail[k] * (1 - a) + c * a).round().astype(np.uint8))
                for _ in range(B):
                    out.append(np.full_like(tail[0], c))
                truth.gradual.append([s0, s0 + L])
                truth.types.append(("fade_out", s0, s0 + L))
                s1 = len(out)
                for k in range(L):
                    a = (k + 1) / (L + 1)
                    frames[k] = (c * (1 - a) + frames[k] * a).round().astype(np.uint8)
                truth.gradual.append([s1, s1 + L])
                truth.types.append(("fade_in", s1, s1 + L))
            else:
                raise InputError(f"unknown join kind {pending.kind!r}; use cut, dissolve or fade")
        first = len(out) - extra  # output index of the shot's camera frame 0 (a dissolve mixed `extra`)
        for ev in spec.events:
            if ev.kind not in ("flash", "whip", "zoom"):
                raise InputError(f"unknown event kind {ev.kind!r}; use flash, whip or zoom")
            truth.negatives.append((ev.kind, first + ev.at, first + ev.at + ev.length - 1))
        out.extend(frames)
        pending = joins[si] if si < len(joins) else None
    truth.frames = len(out)
    return out, truth


def write_video(frames: Sequence[np.ndarray] | Iterator[np.ndarray], path: str | os.PathLike, *, fps: float = 25.0,
                codec: str = "libx264", crf: int = 18, gop: int | None = None) -> Path:
    """Encode RGB uint8 frames to ``path`` with PyAV (H.264 yuv420p by default)."""
    import av
    from fractions import Fraction

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(path), mode="w")
    except (OSError, av.error.FFmpegError) as exc:
        raise OutputError(f"cannot write {path}: {exc}") from None
    with container:
        rate = Fraction(fps).limit_denominator(1001)
        stream = None
        for img in frames:
            if stream is None:
                stream = container.add_stream(codec, rate=rate)
                stream.width, stream.height = img.shape[1], img.shape[0]
                stream.pix_fmt = "yuv420p"
                if codec == "libx264":
                    stream.options = {"crf": str(crf), "preset": "veryfast"}
                if gop:
                    stream.codec_context.gop_size = gop
            for pkt in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(pkt)
        if stream is not None:
            for pkt in stream.encode():
                container.mux(pkt)
    return path


def demo_clip(path: str | os.PathLike, *, size: tuple[int, int] = (320, 180), fps: float = 25.0,
              seed: int = 0) -> ClipTruth:
    """The demo clip: 5 shots joined by a cut, a dissolve, a fade through black and a cut
    (about 7 s at 25 fps). Returns its exact ground truth."""
    shots = [
        ShotSpec("astronaut", 40, zoom=(1.0, 1.2), pan=(0.4, 0.0)),
        ShotSpec("coffee", 35, zoom=(1.1, 1.0), pan=(-0.3, 0.2)),
        ShotSpec("chelsea", 40, zoom=(1.0, 1.3), pan=(0.0, 0.3)),
        ShotSpec("rocket", 35, zoom=(1.2, 1.0), pan=(0.5, -0.2)),
        ShotSpec("immunohistochemistry", 30, zoom=(1.0, 1.1), pan=(-0.2, -0.2)),
    ]
    joins = [Join("cut"), Join("dissolve", 12), Join("fade", 10, black=5), Join("cut")]
    frames, truth = render_clip(shots, joins, size=size, seed=seed)
    truth.fps = fps
    write_video(frames, path, fps=fps)
    return truth


def hard_clip(path: str | os.PathLike | None = None, *, size: tuple[int, int] = (320, 180), fps: float = 25.0,
              seed: int = 0, variant: int = 0) -> tuple[list[np.ndarray], ClipTruth]:
    """A clip that mixes every boundary kind with hard negatives (about 14 s at 25 fps):
    cuts, a dissolve, a fade through black, a long dissolve, plus camera flashes, a whip
    pan and a fast zoom inside shots (``truth.negatives``). ``variant`` rotates the photos
    and lengths for a second, different clip. Written to ``path`` when given."""
    names = [p for p in SAMPLE_PHOTOS if p not in ("colorwheel", "hubble_deep_field")]
    r = variant % len(names)
    ph = names[r:] + names[:r]
    k = 2 * (variant % 3)
    shots = [
        ShotSpec(ph[0], 45 + k, zoom=(1.6, 1.7), pan=(0.2, 0.1), events=[Event("whip", 18, 5, (0.5, 0.3))]),
        ShotSpec(ph[1], 40, zoom=(1.1, 1.0), pan=(-0.3, 0.2), events=[Event("flash", 10, 2), Event("flash", 20, 1)]),
        ShotSpec(ph[2], 45, zoom=(1.0, 1.2), pan=(0.3, 0.0), events=[Event("zoom", 20, 4, (2.2, 0.0))]),
        ShotSpec(ph[3], 40 + k, zoom=(1.2, 1.0), pan=(0.4, -0.2)),
        ShotSpec(ph[4], 40, zoom=(1.5, 1.5), pan=(-0.2, 0.1), events=[Event("whip", 18, 4, (-0.5, 0.0)), Event("flash", 30, 2)]),
        ShotSpec(ph[5], 45, zoom=(1.0, 1.1), pan=(-0.2, -0.2)),
        ShotSpec(ph[6], 40, zoom=(1.3, 1.0), pan=(0.1, 0.3), events=[Event("zoom", 32, 3, (0.5, 0.0))]),
        ShotSpec(ph[7], 40, zoom=(1.0, 1.2), pan=(0.2, 0.2)),
    ]
    joins = [Join("cut"), Join("dissolve", 12 + k), Join("cut"), Join("fade", 10, black=8), Join("cut"),
             Join("dissolve", 24), Join("cut")]
    frames, truth = render_clip(shots, joins, size=size, seed=seed + variant)
    truth.fps = fps
    if path is not None:
        write_video(frames, path, fps=fps)
    return frames, truth


# ---- clips spliced from real footage ------------------------------------------------------
@dataclass
class SpliceSource:
    """Real footage to splice from: a video file and the frame ranges ``[start, end)`` that
    lie inside one shot (``None``: the whole file is one continuous shot)."""

    path: str | os.PathLike
    ranges: list[tuple[int, int]] | None = None


#: kinds of join :func:`splice_clip` draws from, with their default weights
SPLICE_JOINS: tuple[str, ...] = ("cut", "dissolve", "fade")


def letterbox(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``img`` (H, W, 3) scaled to fit inside ``size`` = (W, H) with its aspect ratio kept,
    centred on black bars (letterbox above/below, pillarbox left/right)."""
    import cv2

    W, H = size
    h, w = img.shape[:2]
    s = min(W / w, H / h)
    tw, th = max(1, min(W, round(w * s))), max(1, min(H, round(h * s)))
    small = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    if (tw, th) == (W, H):
        return np.ascontiguousarray(small)
    out = np.zeros((H, W, 3), np.uint8)
    y0, x0 = (H - th) // 2, (W - tw) // 2
    out[y0:y0 + th, x0:x0 + tw] = small
    return out


def _read_stretch(path: str | os.PathLike, start: int, count: int, size: tuple[int, int]) -> list[np.ndarray]:
    from kadr.io.video import VideoReader

    out: list[np.ndarray] = []
    with VideoReader(path) as r:
        for f in r:
            if f.index >= start + count:
                break
            if f.index >= start:
                out.append(letterbox(f.image, size))
    return out


def _frame_counts(sources: Sequence[SpliceSource]) -> list[list[tuple[int, int]]]:
    from kadr.io.video import VideoReader

    out = []
    for s in sources:
        if s.ranges is not None:
            out.append([(int(a), int(b)) for a, b in s.ranges if b > a])
            continue
        with VideoReader(s.path) as r:
            n = r.frame_count or sum(1 for _ in r)
        out.append([(0, int(n))])
    return out


def splice_clip(sources: Sequence[SpliceSource | str | os.PathLike], path: str | os.PathLike | None = None, *,
                shots: int = 6, size: tuple[int, int] = (320, 180), fps: float = 25.0, seed: int = 0,
                stretch: tuple[int, int] = (45, 110), gradual: tuple[int, int] = (8, 24),
                hold: tuple[int, int] = (6, 14), joins: Sequence[str] = SPLICE_JOINS,
                weights: Sequence[float] = (0.5, 0.3, 0.2), light_ramps: float = 0.0
                ) -> tuple[list[np.ndarray], ClipTruth]:
    """A clip of ``shots`` stretches of real footage in random order, with exact ground truth.

    Each stretch is ``stretch`` = (min, max) consecutive decoded frames from one range of a
    randomly chosen source (never the source of the stretch before it), letterboxed into
    ``size`` when its aspect ratio differs. Neighbouring stretches are joined by a join drawn
    from ``joins`` with probabilities ``weights``: ``cut``; ``dissolve`` of L frames (L drawn
    from ``gradual``, both stretches keep moving while they mix, as in :func:`render_clip`);
    ``fade`` through black: the last L frames of one stretch fade out, ``hold`` black frames,
    the first L frames of the next fade in. Frames are re-timed to ``fps``.

    Ground truth (``ClipTruth``, conventions of ``ground_truth.json``): a cut at the first
    frame of the new stretch; a dissolve [first mixed frame, first pure frame]; a fade-out
    [first darkened frame, first black frame]; a fade-in [first frame after the black,
    first pure frame]. ``truth.pieces`` lists (source, first source frame, frames, first
    output frame) of every stretch. Written to ``path`` (H.264) when given.

    ``light_ramps``: the probability that a stretch gets a lighting change inside it (a hard
    negative, recorded in ``truth.negatives`` as ``("light", first, last)``): from a frame in
    its middle the picture's gain ramps over 6–14 frames to 0.45–0.7 (a light dimmed) or
    1.3–1.6 (switched up), and stays there.
    """
    srcs = [s if isinstance(s, SpliceSource) else SpliceSource(s) for s in sources]
    if len(srcs) < 2:
        raise InputError(f"splice_clip needs at least 2 sources, got {len(srcs)}")
    if shots < 1:
        raise InputError(f"shots must be >= 1, got {shots}")
    if len(joins) != len(weights) or not joins or min(weights) < 0 or sum(weights) <= 0:
        raise InputError("joins and weights need the same non-zero length and weights >= 0 with a positive sum")
    for j in joins:
        if j not in SPLICE_JOINS:
            raise InputError(f"unknown join kind {j!r}; use {', '.join(SPLICE_JOINS)}")
    lo, hi = int(stretch[0]), int(stretch[1])
    glo, ghi = int(gradual[0]), int(gradual[1])
    if not 1 <= lo <= hi or not 1 <= glo <= ghi or 2 * glo + 4 > lo:
        raise InputError(f"need 1 <= stretch[0] <= stretch[1], 1 <= gradual[0] <= gradual[1] and "
                         f"2 * gradual[0] + 4 <= stretch[0] (got stretch {stretch}, gradual {gradual})")
    rng = np.random.default_rng(seed)
    ranges = _frame_counts(srcs)
    usable = [i for i, rs in enumerate(ranges) if any(b - a >= lo for a, b in rs)]
    if len(usable) < 2:
        raise InputError(f"fewer than 2 sources have a range of at least {lo} frames; lower stretch[0]")
    p = np.asarray(weights, np.float64) / float(np.sum(weights))
    truth = ClipTruth(frames=0, fps=float(fps), size=tuple(size))
    out: list[np.ndarray] = []
    prev_src = -1
    pending: str | None = None  # the kind of join between the last stretch and the next
    avail = 0  # frames at the end of `out` that belong to the last stretch and no join yet
    for k in range(shots):
        si = int(rng.choice([i for i in usable if i != prev_src]))
        a, b = max(((a, b) for a, b in ranges[si] if b - a >= lo), key=lambda r: rng.random())
        n = int(rng.integers(lo, min(hi, b - a) + 1))
        first = int(rng.integers(a, b - n + 1))
        frames = _read_stretch(srcs[si].path, first, n, size)
        if len(frames) < lo:  # the header frame count overstated the file: take what decodes
            raise InputError(f"{srcs[si].path}: could not decode frames {first}..{first + n - 1}")
        prev_src = si
        if light_ramps > 0 and rng.random() < light_ramps and len(frames) >= 3 * 14:
            g = float(rng.uniform(0.45, 0.7) if rng.random() < 0.6 else rng.uniform(1.3, 1.6))
            ramp = int(rng.integers(6, 15))
            at = int(rng.integers(len(frames) // 3, len(frames) - len(frames) // 3 - ramp + 1))
            for j in range(at, len(frames)):
                w = min(1.0, (j - at + 1) / ramp)
                frames[j] = np.clip(frames[j] * (1 + (g - 1) * w), 0, 255).round().astype(np.uint8)
            light = (at, at + ramp - 1)
        else:
            light = None
        start_out = len(out)
        faded_head = 0
        if pending is not None:
            kind = pending
            # a gradual join takes L frames from each side: leave 2 pure frames on both, else cut
            L = min(int(rng.integers(glo, ghi + 1)), avail - 2, len(frames) // 2 - 2)
            B = int(rng.integers(hold[0], hold[1] + 1))
            if L < glo:
                kind = "cut"
            if kind == "cut":
                truth.hard.append(len(out))
                truth.types.append(("cut", len(out), len(out)))
            elif kind == "dissolve":
                tail = out[-L:]
                del out[-L:]
                s = len(out)
                start_out = s
                for j in range(L):
                    w = (j + 1) / (L + 1)
                    out.append((tail[j] * (1 - w) + frames[j] * w).round().astype(np.uint8))
                frames = frames[L:]
                truth.gradual.append([s, s + L])
                truth.types.append(("dissolve", s, s + L))
            else:  # fade through black
                tail = out[-L:]
                del out[-L:]
                s0 = len(out)
                for j in range(L):
                    w = (j + 1) / (L + 1)
                    out.append((tail[j] * (1 - w)).round().astype(np.uint8))
                out.extend(np.zeros_like(frames[0]) for _ in range(B))
                truth.gradual.append([s0, s0 + L])
                truth.types.append(("fade_out", s0, s0 + L))
                s1 = len(out)
                start_out = s1
                frames = list(frames)
                faded_head = L
                for j in range(L):
                    w = (j + 1) / (L + 1)
                    frames[j] = (frames[j] * w).round().astype(np.uint8)
                truth.gradual.append([s1, s1 + L])
                truth.types.append(("fade_in", s1, s1 + L))
        truth.pieces.append((str(srcs[si].path), first, n, start_out))
        if light is not None:  # output index of stretch frame j: len(out) + j - (frames dropped by a dissolve)
            off = len(out) - (n - len(frames))
            truth.negatives.append(("light", off + light[0], off + light[1]))
        out.extend(frames)
        avail = len(frames) - faded_head
        pending = str(rng.choice(list(joins), p=p))
    truth.frames = len(out)
    if path is not None:
        write_video(out, path, fps=fps)
    return out, truth
