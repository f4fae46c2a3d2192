"""Ctrl-C (SIGINT) during long commands (issue 16): exit status 130, one line
``kadr: interrupted``, no traceback; index add resumable; a created output folder removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.soak import ROOT, _write_frames, save_reference, stream_frames

N_IMAGES = 40
ENV = {**os.environ, "KADR_NO_PROGRESS": "1", "PYTHONUNBUFFERED": "1"}


class _Counted:
    """A binary pipe that counts what was written into it."""

    def __init__(self, f):
        self.f, self.n = f, 0

    def write(self, b) -> int:
        self.f.write(b)
        self.n += len(b)
        return len(b)

    def flush(self) -> None:
        self.f.flush()


def _interrupt(args: list[str], *, feed_stream: bool = False, ready: str | None = None,
               ready_when=None) -> tuple[int, str]:
    """Start ``kadr ARGS``, wait until it is at work — ``ready`` seen on stderr, ``ready_when()``
    true, or (a stream) the command has read 1 MB of it, far more than a pipe buffers — then
    send SIGINT; (return code, stderr). No fixed delays: a loaded machine only makes it slower."""
    p = subprocess.Popen([sys.executable, "-m", "kadr", *args], stdin=subprocess.PIPE if feed_stream else None,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=ENV)
    pipe = _Counted(p.stdin) if feed_stream else None
    if feed_stream:  # an endless live stream on stdin
        def feed():
            try:
                _write_frames(pipe, stream_frames(10 ** 9))
            except (BrokenPipeError, ValueError, OSError):
                pass
        threading.Thread(target=feed, daemon=True).start()
        ready_when = ready_when or (lambda: pipe.n > (1 << 20))
    err: list[str] = []
    seen = threading.Event()

    def read():
        for line in p.stderr:
            err.append(line.decode("utf-8", "replace"))
            if ready and ready in err[-1]:
                seen.set()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 300 and not (seen.is_set() if ready else ready_when()):
        if p.poll() is not None:
            break
        time.sleep(0.1)
    assert p.poll() is None, f"finished before the interrupt: {''.join(err)}"
    time.sleep(1.0 if ready else 0)
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=60)
    reader.join(timeout=10)
    return rc, "".join(err)


def _clean(rc: int, err: str) -> None:
    assert rc == 130, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert err.strip().splitlines()[-1] == "kadr: interrupted"


def test_sigint_shots_on_a_live_stream():
    _clean(*_interrupt(["shots", "-"], feed_stream=True))


def test_sigint_watch_on_a_live_stream(tmp_path):
    ref = save_reference(tmp_path / "ref.png")
    _clean(*_interrupt(["watch", "-", "--query", str(ref), "--encoder", "hsv-hist", "--min-cosine", "0.9",
                        "--json-lines"],
                       feed_stream=True))


def test_sigint_index_add_then_rerun_finishes(tmp_path):
    from PIL import Image

    from kadr.index import Index

    src = tmp_path / "many"
    src.mkdir()
    import numpy as np

    from kadr.io.synthetic import write_video

    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        Image.fromarray(rng.integers(0, 256, (18, 32, 3), dtype=np.uint8)).resize((128, 72)).save(src / f"{i:04d}.png")
    # a long video among them keeps the run busy for seconds: the interrupt lands mid-run
    write_video(list(stream_frames(25 * 600)), src / "long.mp4", fps=25)
    db = tmp_path / "db"
    # interrupted once the first images are committed, while the long video is being read;
    # --no-semantic: this test is about SIGINT and resumption, not the text columns (issue 13),
    # which would add two model loads before the interrupt lands
    rc, err = _interrupt(["index", "add", str(src), "--db", str(db), "--encoder", "hog", "--commit-every", "4",
                          "--no-semantic"],
                         ready_when=lambda: any(db.glob("*.lance/_versions/*.manifest")))
    _clean(rc, err)
    r = subprocess.run([sys.executable, "-m", "kadr", "index", "add", str(src), "--db", str(db), "--encoder", "hog",
                        "--no-semantic", "--json"], capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr
    idx = Index(db)
    at = idx.store.rows("hog", columns=["id", "source"])
    ids = at.column("id").to_pylist()
    assert len(ids) == len(set(ids)) and len(set(at.column("source").to_pylist())) == N_IMAGES + 1


def test_sigint_analyse_removes_the_output_folder_it_created(tmp_path):
    from kadr.io.synthetic import write_video

    clip = tmp_path / "long.mp4"
    write_video(list(stream_frames(25 * 240)), clip, fps=25)
    out = tmp_path / "analysis"
    rc, err = _interrupt(["analyse", str(clip), "-o", str(out), "--label-encoder", "none"], ready="detecting shots")
    _clean(rc, err)
    assert not out.exists()
