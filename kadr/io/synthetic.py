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

    def to_dict(self) -> dict:
        return {"frames": self.frames, "fps": self.fps, "size": list(self.size), "hard": self.hard,
                "gradual": self.gradual, "transitions": [list(t) for t in self.types]}


def _camera(photo: np.ndarray, n: int, size: tuple[int, int], spec: ShotSpec, rng: np.random.Generator) -> Iterator[np.ndarray]:
    import cv2

    W, H = size
    ph, pw = photo.shape[:2]
    aspect = W / H
    base_w = min(pw, ph * aspect)
    for i in range(n):
        a = i / max(1, n - 1)
        z = spec.zoom[0] + (spec.zoom[1] - spec.zoom[0]) * a
        cw, ch = base_w / z, base_w / z / aspect
        fx = 0.5 + spec.pan[0] * (a - 0.5)
        fy = 0.5 + spec.pan[1] * (a - 0.5)
        cx = cw / 2 + (pw - cw) * fx
        cy = ch / 2 + (ph - ch) * fy
        m = np.array([[W / cw, 0, W / 2 - cx * W / cw], [0, H / ch, H / 2 - cy * H / ch]], np.float32)
        frame = cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
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
