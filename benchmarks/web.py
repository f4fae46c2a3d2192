"""`kadr serve` speed: search API latency at 100k rows and first paint of the search page.

Run: ``flock /work/notes/bench.lock .venv/bin/python benchmarks/web.py [--rows 100000]``.
Writes benchmarks/results/web.md.

Data: an effnet-lite0 table (1280-d) of ``--rows`` rows: the ten scikit-image sample photos
(real files, real embeddings) plus clustered synthetic vectors (Gaussian clusters around
random centres, unit norm) whose rows point at those files; the ANN index (IVF-SQ) is built
as `kadr index add` would. The server is the real `kadr serve` in its own process; the
client keeps one HTTP connection open and times each request end to end. Thumbnails of the
results are fetched once before timing (cached), as a page does after its first search.

Side by side, from the same run: the same vector search straight on the store in this
process (no HTTP, no JSON) — the ratio is what the web layer costs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from _common import machine_line, markdown_table, write_result  # noqa: E402

ENCODER = "effnet-lite0"
CLUSTERS = 1000
K = 24  # the search page's default


def build(folder: Path, n: int, seed: int = 0) -> tuple[list[str], list[Path]]:
    """The table: 10 real photos + synthetic rows. Returns (all ids, the photo files)."""
    import pyarrow as pa
    from PIL import Image

    from kadr.features import get
    from kadr.index.schema import arrow_schema
    from kadr.index.store import Store
    from kadr.io.synthetic import SAMPLE_PHOTOS, sample_photo

    photos = folder / "photos"
    photos.mkdir()
    files = []
    for name in SAMPLE_PHOTOS:
        p = photos / f"{name}.jpg"
        Image.fromarray(sample_photo(name)).save(p, quality=90)
        files.append(p.resolve())
    enc = get(ENCODER)
    real = enc.encode_images([sample_photo(nm) for nm in SAMPLE_PHOTOS])
    dim = real.shape[1]
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLUSTERS, dim)).astype(np.float32)
    st = Store(folder / "bench.db")
    schema = arrow_schema(dim)
    t = st.table(ENCODER, dim, create=True)
    ids = []
    step = 20_000
    for a in range(0, n, step):
        b = min(n, a + step)
        x = centres[rng.integers(0, CLUSTERS, b - a)] + 0.6 * rng.normal(size=(b - a, dim)).astype(np.float32)
        if a == 0:
            x[:len(real)] = real
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        cols = {f.name: pa.nulls(b - a, f.type) for f in schema}
        rid = [f"r{i:07d}" for i in range(a, b)]
        ids += rid
        cols["id"] = pa.array(rid)
        cols["source"] = pa.array([str(files[i % len(files)]) for i in range(a, b)])
        cols["kind"] = pa.array(["image"] * (b - a))
        cols["encoder"] = pa.array([ENCODER] * (b - a))
        cols["dim"] = pa.array([dim] * (b - a), pa.int32())
        cols["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), dim)
        t.add(pa.table(cols, schema=schema))
    print(f"table: {n} rows; ANN: {st.maintain(ENCODER)}", file=sys.stderr)
    return ids, files


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q))


def first_paint(url: str, runs: int) -> tuple[list[float], list[float]]:
    """Chromium (fresh context each run): first-contentful-paint of /search, and the time
    until a shared search URL (?id=...) shows its result cards."""
    from playwright.sync_api import sync_playwright

    fcp, shown = [], []
    home = tempfile.mkdtemp(prefix="kadr-bench-home-")
    os.environ["HOME"] = home
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        for i in range(runs):
            ctx = b.new_context()
            pg = ctx.new_page()
            pg.goto(url + "/search")
            pg.wait_for_function("() => performance.getEntriesByType('paint').length > 0")
            v = pg.evaluate("() => performance.getEntriesByName('first-contentful-paint')[0].startTime")
            fcp.append(v / 1000)
            t0 = time.perf_counter()
            pg.goto(url + f"/search?id=r{(i * 7919) % 1000:07d}&k={K}")
            pg.wait_for_function("() => { const ims = [...document.querySelectorAll('#results .card img')];"
                                 " return ims.length > 0 && ims.every(i => i.complete && i.naturalWidth > 0); }",
                                 timeout=60_000)
            shown.append(time.perf_counter() - t0)
            ctx.close()
        b.close()
    shutil.rmtree(home, ignore_errors=True)
    return fcp, shown


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--paints", type=int, default=5)
    ap.add_argument("--port", type=int, default=8791)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kadr-bench-web-"))
    proc = None
    try:
        t0 = time.perf_counter()
        ids, files = build(work, a.rows)
        build_s = time.perf_counter() - t0
        proc = subprocess.Popen([sys.executable, "-m", "kadr", "serve", "--db", str(work / "bench.db"), "--port",
                                 str(a.port), "--cache", str(work / "cache")], stderr=subprocess.PIPE, text=True)
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=60)
        t0 = time.monotonic()
        while True:
            try:
                conn.request("GET", "/api/health")
                h = json.loads(conn.getresponse().read())
                break
            except OSError:
                conn.close()
                if time.monotonic() - t0 > 120:
                    raise
                time.sleep(0.3)

        def get(path: str) -> tuple[float, bytes]:
            s = time.perf_counter()
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, (path, r.status, body[:200])
            return time.perf_counter() - s, body

        rng = np.random.default_rng(1)
        qids = [ids[i] for i in rng.integers(0, len(ids), a.queries)]
        # thumbnails of every result cached first (as the page fetched them on the first search)
        for q in qids:
            for r in json.loads(get(f"/api/search?id={q}&k={K}")[1])["results"]:
                get(r["thumbnail_url"])
        by_id = [get(f"/api/search?id={q}&k={K}")[0] for q in qids]
        filt = [get(f"/api/search?id={q}&k={K}&kind=image&min_score=0.2")[0] for q in qids]
        thumbs = []
        for q in qids[:20]:
            res = json.loads(get(f"/api/search?id={q}&k={K}")[1])["results"]
            thumbs += [get(r["thumbnail_url"])[0] for r in res[:5]]
        # POST an image (decode + effnet-lite0 embedding + search)
        img = files[2].read_bytes()
        boundary = "kadrbench"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.jpg\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + img + (
                f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\n{K}\r\n--{boundary}--\r\n").encode()
        post = []
        for _ in range(max(10, a.queries // 3)):
            s = time.perf_counter()
            conn.request("POST", "/api/search", body=body,
                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
            r = conn.getresponse()
            out = json.loads(r.read())
            post.append(time.perf_counter() - s)
            assert r.status == 200 and out["results"][0]["path"] == str(files[2]), out.get("error")
        # the engine alone, same queries, this process
        from kadr.index import Index
        from kadr.index.store import sql_quote

        idx = Index(work / "bench.db", create=False)
        engine, lookup = [], []
        for q in qids:
            s = time.perf_counter()
            v = idx.store.rows(ENCODER, where=f"id = {sql_quote(q)}", columns=["vector"]).column("vector")[0].as_py()
            m = time.perf_counter()
            idx.search(vector=np.asarray(v, np.float32), k=K)
            e = time.perf_counter()
            lookup.append(m - s)
            engine.append(e - s)
        fcp, shown = first_paint(f"http://127.0.0.1:{a.port}", a.paints)
        load = machine_line()
        rows = [
            ["GET /api/search?id=…&k=24 (find similar)", pct(by_id, 50), pct(by_id, 95), pct(engine, 50),
             round(pct(by_id, 50) / pct(engine, 50), 2)],
            ["GET … &kind=image&min_score=0.2", pct(filt, 50), pct(filt, 95), "", ""],
            ["POST /api/search (JPEG upload, effnet-lite0)", pct(post, 50), pct(post, 95), "", ""],
            ["GET /thumb/ID (cached)", pct(thumbs, 50), pct(thumbs, 95), "", ""],
        ]
        text = "\n".join([
            "# kadr serve: speed",
            "",
            f"Machine: {load}. Table: {a.rows:,} rows × {h['dim']}-d ({ENCODER}), IVF-SQ ANN index; "
            f"built in {build_s:.0f} s. Server: `kadr serve` in its own process, one keep-alive HTTP "
            f"connection, {a.queries} queries (random rows), k = {K}; thumbnails cached before timing.",
            "",
            "Latency per request, end to end (ms). *engine alone*: the same id lookup + vector search on "
            "`kadr.index` in the benchmark's process (no HTTP, no JSON, no URLs); ratio = web / engine.",
            "",
            markdown_table(["request", "p50 ms", "p95 ms", "engine alone p50 ms", "ratio"], rows),
            "",
            f"Of the engine's time, the id → vector lookup (a filtered scan of the id column) takes p50 "
            f"{pct(lookup, 50):.1f} ms.",
            "",
            "Browser (Debian chromium, headless, a fresh context per run, server above):",
            "",
            markdown_table(["page", "median ms", "max ms", "runs"], [
                ["/search first contentful paint", float(np.median(fcp)) * 1000, max(fcp) * 1000, len(fcp)],
                [f"/search?id=… until {K} result thumbnails are shown", float(np.median(shown)) * 1000,
                 max(shown) * 1000, len(shown)],
            ]),
            "",
            f"Goals (issue 14): search API p50 ≤ 50 ms at 100k rows — {pct(by_id, 50):.1f} ms "
            f"({'met' if pct(by_id, 50) <= 50 else 'NOT met'}); first paint ≤ 1 s — "
            f"{float(np.median(fcp)) * 1000:.0f} ms ({'met' if np.median(fcp) <= 1 else 'NOT met'}). "
            f"An image upload adds the decode and one effnet-lite0 forward pass.",
            "",
        ])
        write_result("web", text)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
