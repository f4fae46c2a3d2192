"""Resumability: a real indexing process is killed with SIGKILL mid-way and the same command
is re-run; the result must hold every file exactly once (no duplicates, nothing lost)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image

from kadr.index import Index

ROOT = Path(__file__).resolve().parents[2]

# The child indexes with commit_every=2 and a slowed-down encoder, printing one line per
# commit so the parent can kill it while work is in flight.
CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from tests.index.conftest import ThumbEncoder
    from kadr.index import Index
    from kadr.index.store import Store

    class Slow(ThumbEncoder):
        def _encode_batch(self, images):
            time.sleep(0.05)
            return super()._encode_batch(images)

    orig = Store.replace_sources
    def noisy(self, *a, **k):
        orig(self, *a, **k)
        print("commit", flush=True)
    Store.replace_sources = noisy
    Index(sys.argv[1], Slow()).add([sys.argv[2]], commit_every=2, progress=False)
    print("done", flush=True)
""")


def _run_until(db: Path, folder: Path, commits: int | None) -> str:
    """Run the child; SIGKILL it after ``commits`` commit lines (None: let it finish)."""
    code = CHILD.format(root=str(ROOT))
    p = subprocess.Popen([sys.executable, "-c", code, str(db), str(folder)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env={**os.environ, "KADR_NO_PROGRESS": "1"})
    seen = 0
    for line in p.stdout:
        if line.startswith("commit"):
            seen += 1
            if commits is not None and seen >= commits:
                p.send_signal(signal.SIGKILL)
                p.wait()
                return "killed"
        if line.startswith("done"):
            break
    p.wait()
    return "finished" if p.returncode == 0 else f"exit {p.returncode}"


def test_sigkill_midway_then_rerun_gives_each_file_once(tmp_path, thumb_encoder):
    from kadr.io.synthetic import sample_photo

    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(1)
    base = sample_photo("astronaut")[::4, ::4]
    n = 40
    for i in range(n):  # distinct pictures: shifted, tinted variants
        img = np.roll(base, 3 * i, axis=1).astype(np.int16) + rng.integers(-40, 40, size=3)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"img{i:03d}.png")
    db = tmp_path / "db"
    assert _run_until(db, folder, commits=3) == "killed"
    after_kill = Index(db, thumb_encoder).store.count(thumb_encoder.name)
    assert 0 < after_kill < n  # really stopped mid-way
    assert _run_until(db, folder, commits=None) == "finished"

    idx = Index(db, thumb_encoder)
    rows = idx.store.rows(thumb_encoder.name, columns=["id", "source", "vector"])
    sources = rows.column("source").to_pylist()
    assert rows.num_rows == n and len(set(sources)) == n and len(set(rows.column("id").to_pylist())) == n
    assert sorted(Path(s).name for s in sources) == sorted(p.name for p in folder.iterdir())
    # every stored vector is the one of its file (nothing half-written)
    vec = np.asarray(rows.column("vector").to_pylist(), np.float32)
    from kadr.io.images import load_image

    fresh = thumb_encoder.encode_images([load_image(s) for s in sources])
    np.testing.assert_allclose(vec, fresh, atol=1e-5)
    # and a further run has nothing to do
    rep = idx.add(folder)
    assert rep.unchanged == n and rep.rows_written == 0
