"""`index add --ray`: a local Ray cluster gives the same rows and vectors as the local path;
a killed run resumes; bad addresses and dying workers give clear results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from kadr.index import Index
from kadr.index.ray_indexing import RayOptions, RayUnavailableError, check_reachable

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("ray")
pytest.importorskip("lance_ray")

COLS = ["id", "source", "kind", "video", "frame_index", "time", "shot_index", "width", "height", "file_size",
        "file_mtime_ns", "content_hash", "phash", "encoder", "dim"]


def _by_id(idx: Index) -> dict:
    at = idx.store.rows(idx.encoder_name)
    rows = {r["id"]: r for r in at.to_pylist()}
    assert len(rows) == at.num_rows  # no duplicates
    return rows


def _register(ray):
    """Ship the test encoder to the workers by value (it lives in the tests package)."""
    import ray.cloudpickle as cp

    from tests.index import conftest

    cp.register_pickle_by_value(conftest)


@pytest.fixture(scope="module")
def media(tmp_path_factory, photo_dir):
    import shutil

    from kadr.io.synthetic import demo_clip

    d = tmp_path_factory.mktemp("media")
    shutil.copytree(photo_dir, d / "photos")
    demo_clip(d / "clip.mp4", size=(160, 90))
    (d / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    return d


def test_same_rows_and_vectors_as_the_local_path(ray_cluster, media, tmp_path, thumb_encoder):
    ray, address, _ = ray_cluster
    _register(ray)
    local = Index(tmp_path / "local", thumb_encoder)
    rl = local.add(media, progress=False)
    dist = Index(tmp_path / "ray", thumb_encoder)
    rd = dist.add(media, ray=address, progress=False, ray_options=RayOptions(files_per_batch=2, round_files=5))
    assert rd.rows_written == rl.rows_written > 9  # 8 photos + keyframes of the clip
    assert sorted(rd.added) == sorted(rl.added)
    assert [f["path"] for f in rd.failed] == [f["path"] for f in rl.failed] == [str(media / "photos" / "broken.jpg")]
    a, b = _by_id(local), _by_id(dist)
    assert a.keys() == b.keys()
    assert {r["kind"] for r in b.values()} == {"image", "keyframe"}
    for k in a:
        assert {c: a[k][c] for c in COLS} == {c: b[k][c] for c in COLS}
        np.testing.assert_allclose(a[k]["vector"], b[k]["vector"], atol=1e-6)
    # idempotent: nothing to do on a re-run; a changed file is replaced, not duplicated
    again = dist.add(media, ray=address, progress=False)
    assert again.rows_written == 0 and again.unchanged == rl.files - 1
    from PIL import Image

    p = media / "photos" / "coffee.png" if (media / "photos" / "coffee.png").exists() else next(
        (media / "photos").glob("*.png"))
    Image.open(p).rotate(90).save(p)
    rep = dist.add(media, ray=address, progress=False)
    assert rep.replaced == [str(p)] and rep.rows_written == 1
    assert len(_by_id(dist)) == len(a)
    assert dist.search(image=p, k=1)[0].source == str(p)


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    import ray.cloudpickle as cp
    from tests.index import conftest
    cp.register_pickle_by_value(conftest)
    from tests.index.conftest import ThumbEncoder
    from kadr.index import Index
    from kadr.index.ray_indexing import RayOptions
    from kadr.index.store import Store

    orig = Store.replace_sources
    def noisy(self, *a, **k):
        orig(self, *a, **k)
        print("commit", flush=True)
        time.sleep(0.5)
    Store.replace_sources = noisy
    Index(sys.argv[1], ThumbEncoder()).add([sys.argv[2]], ray=sys.argv[3], progress=False,
                                          ray_options=RayOptions(round_files=3, files_per_batch=1))
    print("done", flush=True)
""")


def test_killed_run_resumes_without_duplicates(ray_cluster, tmp_path, thumb_encoder):
    from PIL import Image

    from kadr.io.synthetic import sample_photo

    ray, address, env = ray_cluster
    folder = tmp_path / "imgs"
    folder.mkdir()
    base = sample_photo("astronaut")
    for i in range(12):
        Image.fromarray(np.roll(base, 17 * i, axis=1)[::2, ::2]).save(folder / f"{i:02d}.png")
    db = tmp_path / "db"
    p = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT)), str(db), str(folder), address],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
                         env={**os.environ, **env, "KADR_NO_PROGRESS": "1"})
    commits = 0
    for line in p.stdout:
        if line.startswith("commit"):
            commits += 1
            if commits == 2:  # mid-way: between the delete and the append of round 2
                p.send_signal(signal.SIGKILL)
                break
    p.wait()
    assert commits == 2
    idx = Index(db, thumb_encoder)
    partial = len(_by_id(idx))
    assert 0 < partial < 12
    _register(ray)
    rep = idx.add(folder, ray=address, progress=False)
    rows = _by_id(idx)
    assert len(rows) == 12 and rep.unchanged == partial
    assert sorted({r["source"] for r in rows.values()}) == sorted(str(f) for f in folder.iterdir())


def test_unreachable_address_fails_fast(tmp_path, thumb_encoder):
    t0 = time.perf_counter()
    with pytest.raises(RayUnavailableError, match="no Ray cluster answers at 127.0.0.1:9"):
        check_reachable("127.0.0.1:9", 2.0)
    with pytest.raises(Exception, match="bad --ray address"):
        check_reachable("nohost", 2.0)
    assert time.perf_counter() - t0 < 5


def test_worker_death_lists_its_files_and_keeps_the_rest(ray_cluster, tmp_path):
    from PIL import Image

    from tests.index.conftest import ThumbEncoder

    class Crashing(ThumbEncoder):
        name = "test-crash"

        def _encode_batch(self, images):
            if any(img[..., 0].mean() > 200 and img[..., 1].mean() < 50 for img in images):
                os._exit(3)  # the worker process dies, as on a segfault or OOM kill
            return super()._encode_batch(images)

    ray, address, _ = ray_cluster
    _register(ray)
    import ray.cloudpickle as cp

    cp.register_pickle_by_value(sys.modules[__name__])
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(folder / f"ok{i}.png")
    red = np.zeros((40, 60, 3), np.uint8)
    red[..., 0] = 250
    Image.fromarray(red).save(folder / "red.png")
    idx = Index(tmp_path / "db", Crashing())
    with pytest.warns(Warning, match="red.png"):
        rep = idx.add(folder, ray=address, progress=False, ray_options=RayOptions(files_per_batch=1))
    assert [f["path"] for f in rep.failed] == [str(folder / "red.png")]
    assert "died" in rep.failed[0]["error"]
    assert sorted(rep.added) == sorted(str(folder / f"ok{i}.png") for i in range(4))


TWO_NODE_CHILD = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {root!r})
    import ray, ray.cloudpickle as cp
    from tests.index import conftest
    cp.register_pickle_by_value(conftest)
    from kadr.index import Index
    from kadr.index.ray_indexing import RayOptions, connect

    connect(sys.argv[3], RayOptions())
    deadline = time.time() + 90
    while len([n for n in ray.nodes() if n["Alive"]]) < 2 and time.time() < deadline:
        time.sleep(0.5)  # the worker node registers
    rep = Index(sys.argv[1], conftest.ThumbEncoder()).add(
        [sys.argv[2]], ray=sys.argv[3], progress=False,
        ray_options=RayOptions(actors=2, cpus_per_actor=1, files_per_batch=1))
    nodes = sorted(n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"])
    print(json.dumps({{"rows": rep.rows_written, "nodes": nodes}}), flush=True)
""")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("KADR_RAY_MULTINODE") != "1",
                    reason="two more Ray nodes cost ~1 min and ~2 GiB: set KADR_RAY_MULTINODE=1 to run")
def test_two_node_cluster_on_loopback(tmp_path, thumb_encoder):
    """The multi-node recipe of docs/scale-out.md on one machine: a head on 127.0.0.2 and a
    worker on 127.0.0.3 (Ray rewrites 127.0.0.1 to the outgoing address, other loopback
    addresses stay), one CPU each, so the two actors need both nodes."""
    import json
    import shutil
    import socket
    import tempfile

    from PIL import Image

    ray_bin = Path(sys.executable).with_name("ray")
    if not ray_bin.exists():
        pytest.skip("the ray command is not installed")
    home = tempfile.mkdtemp(prefix="kr2-")
    env = {**os.environ, "HOME": home, "RAY_USAGE_STATS_ENABLED": "0", "KADR_NO_PROGRESS": "1"}
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        port = s.getsockname()[1]
    procs = []

    def start(*args):
        log = open(os.path.join(home, f"start{len(procs)}.log"), "w")
        p = subprocess.Popen([str(ray_bin), "start", "--block", "--num-cpus=1", "--disable-usage-stats",
                              *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        procs.append(p)
        return p

    try:
        start("--head", "--include-dashboard=false", "--node-ip-address=127.0.0.2", f"--port={port}",
              f"--temp-dir={home}/h",
              "--object-store-memory=100000000")
        deadline = time.time() + 60
        while True:
            try:
                check_reachable(f"127.0.0.2:{port}", 1.0)
                break
            except RayUnavailableError:
                if time.time() > deadline:
                    pytest.fail("the head node did not come up in 60 s")
                time.sleep(0.5)
        start(f"--address=127.0.0.2:{port}", "--node-ip-address=127.0.0.3", "--object-store-memory=100000000")
        folder = tmp_path / "imgs"
        folder.mkdir()
        rng = np.random.default_rng(0)
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(folder / f"{i}.png")
        out = subprocess.run([sys.executable, "-c", TWO_NODE_CHILD.format(root=str(ROOT)), str(tmp_path / "db"),
                              str(folder), f"127.0.0.2:{port}"], env=env, cwd=ROOT, capture_output=True, text=True,
                             timeout=240)
        assert out.returncode == 0, out.stderr[-2000:]
        res = json.loads(out.stdout.strip().splitlines()[-1])
        logs = "".join(Path(home, f"start{i}.log").read_text()[-1500:] for i in range(len(procs)))
        assert res == {"rows": 6, "nodes": ["127.0.0.2", "127.0.0.3"]}, logs
        local = Index(tmp_path / "local", thumb_encoder)
        local.add(folder, progress=False)
        a, b = _by_id(local), _by_id(Index(tmp_path / "db", thumb_encoder))
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_allclose(a[k]["vector"], b[k]["vector"], atol=1e-6)
    finally:
        # teardown by PID (the process group each `ray start --block` leads), never `ray stop`
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        shutil.rmtree(home, ignore_errors=True)
