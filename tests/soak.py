"""Soak runs: a long generated stream piped into a kadr command faster than real time, with
the command's resident memory (RSS) sampled as the stream goes. Used by ``tests/test_soak.py``
(the pass/fail goals) and ``benchmarks/soak.py`` (RSS over time, written to
``benchmarks/results/soak.md``).

The stream: small frames (96x54, 25 fps, H.264 in MPEG-TS on the command's stdin), shots
panning slowly across sample photos, cut every ``shot_s`` seconds; every
``reference_every_s`` seconds a shot shows the reference photo instead (what ``kadr watch
--query`` looks for), so both ``kadr shots`` (cuts) and ``kadr watch`` (appearances) have
events all along the stream.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIZE = (96, 54)
FPS = 25


def reference_image(size: tuple[int, int] = SIZE) -> np.ndarray:
    import cv2

    from kadr.io.synthetic import sample_photo

    return cv2.resize(sample_photo("astronaut"), size, interpolation=cv2.INTER_AREA)


#: Photos of the ordinary shots (the reference "astronaut" is not among them).
PHOTOS = ("coffee", "rocket", "chelsea", "coins", "hubble_deep_field", "immunohistochemistry", "brick", "camera")


def stream_frames(n: int, *, shot_s: float = 10.0, reference_every_s: float = 300.0):
    """``n`` RGB frames (H, W, 3) of the soak stream (see the module doc): each shot a slow
    pan across one of :data:`PHOTOS` (at twice the frame size), a cut every ``shot_s`` s,
    every ``reference_every_s`` s a shot of the reference photo instead."""
    import cv2

    from kadr.io.synthetic import sample_photo

    w, h = SIZE
    big = [cv2.resize(sample_photo(p), (2 * w, 2 * h), interpolation=cv2.INTER_AREA) for p in PHOTOS]
    big = [b if b.ndim == 3 else np.repeat(b[..., None], 3, 2) for b in big]
    ref = reference_image()
    shot = int(shot_s * FPS)
    every = max(1, int(reference_every_s / shot_s))
    for i in range(n):
        k, j = divmod(i, shot)
        if k % every == every - 1:
            yield ref
            continue
        photo = big[k % len(big)]
        x = (j // 4) % w  # one pixel every 4 frames, wrapping within the photo
        yield photo[h // 2: h // 2 + h, x: x + w]


@dataclass
class SoakRun:
    """What one soak run measured. ``samples``: (wall s, stream s fed, RSS MB)."""

    command: list[str]
    stream_s: float
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    first_event_wall: float | None = None
    feed_done_wall: float | None = None
    wall_s: float = 0.0
    returncode: int | None = None
    events: int = 0
    stderr: str = ""
    stderr_hits: int = 0

    def rss_growth_mb(self) -> float:
        """RSS at the end minus the RSS once the first fifth of the stream was fed (MB)."""
        fifth = [m for _, s, m in self.samples if s >= self.stream_s / 5]
        return (self.samples[-1][2] - fifth[0]) if fifth else float("nan")

    def first_event_while_streaming(self) -> bool:
        return self.first_event_wall is not None and self.feed_done_wall is not None \
            and self.first_event_wall < self.feed_done_wall


def run_soak(args: list[str], *, stream_s: float = 3600.0, sample_s: float = 0.5, timeout: float = 900.0,
             program: list[str] | None = None, count_stderr: str | None = None, **stream_kw) -> SoakRun:
    """Run ``python -m kadr ARGS`` (its source being ``-``) on a generated stream of
    ``stream_s`` seconds of video, sampling its RSS every ``sample_s`` seconds. ``program``
    replaces ``python -m kadr`` (a peer tool reading the same stream on stdin);
    ``count_stderr``: count the lines of its stderr holding this text (a peer's events)."""
    import psutil

    n = int(stream_s * FPS)
    cmd = [*(program or [sys.executable, "-m", "kadr"]), *args]
    env = {**os.environ, "KADR_NO_PROGRESS": "1", "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=ROOT, env=env)
    run = SoakRun(cmd, stream_s)
    fed = {"frames": 0}

    def feed() -> None:
        try:
            def counted():
                for i, f in enumerate(stream_frames(n, **stream_kw)):
                    fed["frames"] = i + 1
                    yield f
            _write_frames(p.stdin, counted())
        except (BrokenPipeError, ValueError):
            pass
        finally:
            run.feed_done_wall = time.perf_counter() - t0
            try:
                p.stdin.close()
            except OSError:
                pass

    def read() -> None:
        for line in p.stdout:
            if line.strip():
                run.events += 1
                if run.first_event_wall is None:
                    run.first_event_wall = time.perf_counter() - t0

    err: list[bytes] = []
    threads = [threading.Thread(target=feed, daemon=True), threading.Thread(target=read, daemon=True),
               threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True)]
    for t in threads:
        t.start()
    proc = psutil.Process(p.pid)
    while p.poll() is None:
        now = time.perf_counter() - t0
        if now > timeout:
            p.kill()
            break
        try:
            run.samples.append((now, fed["frames"] / FPS, proc.memory_info().rss / 2 ** 20))
        except psutil.Error:
            break
        time.sleep(sample_s)
    p.wait()
    for t in threads:
        t.join(timeout=10)
    run.wall_s = time.perf_counter() - t0
    run.returncode = p.returncode
    full = b"".join(err).decode("utf-8", "replace")
    run.stderr_hits = full.count(count_stderr) if count_stderr else 0
    run.stderr = full[-2000:]
    return run


def _write_frames(out, frames) -> None:
    import av

    c = av.open(out, "w", format="mpegts")
    s = c.add_stream("libx264", rate=FPS)
    s.width, s.height, s.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
    s.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(FPS * 10)}
    for f in frames:
        for pkt in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
            c.mux(pkt)
    for pkt in s.encode():
        c.mux(pkt)
    c.close()


def save_reference(path: Path) -> Path:
    from PIL import Image

    Image.fromarray(reference_image()).save(path)
    return path
