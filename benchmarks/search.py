"""Vector search: kadr's LanceDB store (as configured) vs exact numpy vs FAISS, plus indexing
throughput of a folder against the encoder alone.

Run: ``.venv/bin/python benchmarks/search.py [--sizes 100000,1000000] [--queries 100]``.
Writes benchmarks/results/search.md.

Data: clustered synthetic 512-d vectors (``CLUSTERS`` Gaussian clusters, unit norm), a
``kind`` column with 5 % ``keyframe`` rows (the selective filter ``kind = 'keyframe'``).
Queries: data points with noise. Ground truth: exact cosine top-10 by numpy. Every engine
answers the same queries in the same run; latency = per single query (p50 / p95, ms).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from _common import machine_line, markdown_table, write_result  # noqa: E402

DIM = 512
CLUSTERS = 1000
K = 10
KEYFRAME_SHARE = 0.05


def make_data(n: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLUSTERS, DIM)).astype(np.float32)
    x = np.empty((n, DIM), np.float32)
    step = 100_000
    for a in range(0, n, step):
        b = min(n, a + step)
        x[a:b] = centres[rng.integers(0, CLUSTERS, b - a)] + 0.6 * rng.normal(size=(b - a, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    keyframe = rng.random(n) < KEYFRAME_SHARE
    q = x[rng.integers(0, n, n_queries)] + 0.02 * rng.normal(size=(n_queries, DIM)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, keyframe, q


def exact_topk(x: np.ndarray, q: np.ndarray, ids: np.ndarray | None = None) -> list[np.ndarray]:
    out = []
    for v in q:
        base = x if ids is None else x[ids]
        s = base @ v
        top = np.argpartition(-s, K)[:K]
        top = top[np.argsort(-s[top])]
        out.append(top if ids is None else ids[top])
    return out


def recall(got: list, truth: list) -> float:
    return float(np.mean([len(set(map(int, g)) & set(map(int, t))) / K for g, t in zip(got, truth)]))


def timed(fn, queries) -> tuple[list, float, float]:
    res, lat = [], []
    for v in queries:
        t0 = time.perf_counter()
        res.append(fn(v))
        lat.append((time.perf_counter() - t0) * 1000)
    return res, float(np.percentile(lat, 50)), float(np.percentile(lat, 95))


def build_lance(x: np.ndarray, keyframe: np.ndarray, folder: Path):
    import pyarrow as pa

    from kadr.index.schema import arrow_schema
    from kadr.index.store import Store

    st = Store(folder)
    schema = arrow_schema(DIM)
    t = st.table("bench", DIM, create=True)
    n = len(x)
    t0 = time.perf_counter()
    for a in range(0, n, 100_000):
        b = min(n, a + 100_000)
        cols = {f.name: pa.nulls(b - a, f.type) for f in schema}
        cols["id"] = pa.array([str(i) for i in range(a, b)])
        cols["source"] = pa.array([f"/bench/{i}" for i in range(a, b)])
        cols["kind"] = pa.array(np.where(keyframe[a:b], "keyframe", "image"))
        cols["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(x[a:b].reshape(-1)), DIM)
        t.add(pa.table(cols, schema=schema))
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    action = st.maintain("bench")
    return st, write_s, time.perf_counter() - t0, action


def build_faiss(x: np.ndarray):
    import faiss

    n = len(x)
    nlist = max(1, round(n / 4096))
    quant = faiss.IndexFlatIP(DIM)
    ivf = faiss.IndexIVFScalarQuantizer(quant, DIM, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    idx = faiss.IndexRefineFlat(ivf)
    t0 = time.perf_counter()
    rng = np.random.default_rng(1)
    idx.train(x[rng.choice(n, min(n, max(256 * nlist, 20_000)), replace=False)])
    idx.add(x)
    return idx, ivf, time.perf_counter() - t0


def bench_size(n: int, n_queries: int, workdir: Path) -> tuple[list, list, dict]:
    import faiss

    from kadr.index.store import StoreOptions

    x, keyframe, q = make_data(n, n_queries)
    kf_ids = np.flatnonzero(keyframe)
    truth = exact_topk(x, q)
    truth_f = exact_topk(x, q, kf_ids)
    rows, sweep = [], []
    info: dict = {}

    # exact numpy (brute force, BLAS)
    res, p50, p95 = timed(lambda v: exact_topk(x, v[None])[0], q)
    rows.append([n, "numpy exact", "-", recall(res, truth), p50, p95])
    res, p50, p95 = timed(lambda v: exact_topk(x, v[None], kf_ids)[0], q)
    rows.append([n, "numpy exact", "kind = keyframe", recall(res, truth_f), p50, p95])

    # FAISS IVF-SQ8 + exact refine, same partitions / quantiser / nprobe / refine as kadr
    fidx, ivf, fbuild = build_faiss(x)
    o = StoreOptions()
    ivf.nprobe = o.nprobes
    params = faiss.SearchParametersIVF(nprobe=o.nprobes)
    rparams = faiss.IndexRefineSearchParameters(k_factor=o.refine_factor, base_index_params=params)
    res, p50, p95 = timed(lambda v: fidx.search(v[None], K, params=rparams)[1][0], q)
    rows.append([n, f"FAISS IVF{ivf.nlist},SQ8 + refine", "-", recall(res, truth), p50, p95])
    sel = faiss.IDSelectorBatch(kf_ids.astype(np.int64))
    fparams = faiss.IndexRefineSearchParameters(k_factor=o.refine_factor,
                                                base_index_params=faiss.SearchParametersIVF(nprobe=o.nprobes, sel=sel))
    res, p50, p95 = timed(lambda v: fidx.search(v[None], K, params=fparams)[1][0], q)
    rows.append([n, f"FAISS IVF{ivf.nlist},SQ8 + refine", "kind = keyframe", recall(res, truth_f), p50, p95])
    info["faiss_build_s"] = fbuild
    del fidx

    # kadr / LanceDB as configured
    folder = workdir / f"lance{n}"
    st, write_s, build_s, action = build_lance(x, keyframe, folder)
    info.update(lance_write_s=write_s, lance_index_s=build_s, lance_action=action)
    ids = lambda hits: [int(h.id) for h in hits]  # noqa: E731
    mode = "IVF-SQ" if st.has_ann("bench") else "exact"
    res, p50, p95 = timed(lambda v: ids(st.search("bench", v, k=K)), q)
    rows.append([n, f"kadr (LanceDB {mode})", "-", recall(res, truth), p50, p95])
    res, p50, p95 = timed(lambda v: ids(st.search("bench", v, k=K, where="kind = 'keyframe'")), q)
    path = "exact on filtered" if len(kf_ids) <= st.options.exact_max_rows else "IVF-SQ prefilter"
    rows.append([n, f"kadr (LanceDB, {path})", "kind = keyframe", recall(res, truth_f), p50, p95])
    if mode == "IVF-SQ":  # the recall/latency trade-off of the two query knobs
        for nprobes in (10, 20, 32, 64):
            for refine in (1, 5, 10):
                st.options.nprobes, st.options.refine_factor = nprobes, refine
                res, p50, p95 = timed(lambda v: ids(st.search("bench", v, k=K)), q[: max(20, len(q) // 2)])
                sweep.append([n, nprobes, refine, recall(res, truth[: len(res)]), p50, p95])
        st.options = StoreOptions()
        # the filtered subset through the ANN index instead of the exact path
        st.options.exact_max_rows = 0
        res, p50, p95 = timed(lambda v: ids(st.search("bench", v, k=K, where="kind = 'keyframe'")), q)
        rows.append([n, "kadr (LanceDB, IVF-SQ prefilter, for comparison)", "kind = keyframe",
                     recall(res, truth_f), p50, p95])
        st.options = StoreOptions()
    shutil.rmtree(folder, ignore_errors=True)
    return rows, sweep, info


def bench_indexing(workdir: Path, n_images: int = 200) -> list:
    """Indexing a folder of JPEGs (kadr Index.add: decode, hash, pHash, encode, write) vs the
    encoder alone on the same decoded images (decode included). The store is opened before the
    clock starts (importing lancedb costs seconds once per process)."""
    from PIL import Image

    from kadr.features import get
    from kadr.index import Index
    from kadr.io.images import load_image
    from kadr.io.synthetic import SAMPLE_PHOTOS, sample_photo

    folder = workdir / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    photos = [sample_photo(n) for n in SAMPLE_PHOTOS]
    for i in range(n_images):
        a = photos[i % len(photos)]
        h, w = a.shape[:2]
        y, x0 = rng.integers(0, h // 4), rng.integers(0, w // 4)
        Image.fromarray(a[y: y + 3 * h // 4, x0: x0 + 3 * w // 4]).resize((640, 480)).save(folder / f"{i:03d}.jpg")
    enc = get("effnet-lite0")
    enc.encode_images([photos[0]])  # warm-up
    files = sorted(folder.iterdir())
    t0 = time.perf_counter()
    enc.encode_images([load_image(f) for f in files])
    enc_s = time.perf_counter() - t0
    index = Index(workdir / "idx", enc)  # imports lancedb once per process
    t0 = time.perf_counter()
    rep = index.add(folder, progress=False)
    add_s = time.perf_counter() - t0
    assert rep.rows_written == n_images
    return [[n_images, "effnet-lite0 encode only (decode + encode)", n_images / enc_s, 1.0],
            [n_images, "kadr index add (decode, hash, pHash, encode, LanceDB write)", n_images / add_s,
             (n_images / add_s) / (n_images / enc_s)]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--skip-indexing", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kadr-search-bench-"))
    rows, sweep, infos = [], [], {}
    try:
        for n in [int(s) for s in args.sizes.split(",")]:
            t0 = time.perf_counter()
            r, s, info = bench_size(n, args.queries, work)
            rows += r
            sweep += s
            infos[n] = info
            print(f"{n}: done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        idx_rows = [] if args.skip_indexing else bench_indexing(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    from kadr.index.store import Store, StoreOptions

    o = StoreOptions()
    text = [f"# Vector search: kadr (LanceDB) vs exact numpy vs FAISS\n\n{machine_line()}; shared machine, "
            "other jobs running: compare rows of one run only.\n",
            f"Data: clustered synthetic {DIM}-d unit vectors ({CLUSTERS} clusters), {args.queries} queries "
            f"(data points + noise); filter `kind = 'keyframe'` keeps {KEYFRAME_SHARE:.0%} of the rows. "
            "Recall@10 against exact numpy top-10 (of the filtered rows for the filtered queries); "
            "latency per single query in ms.\n",
            f"kadr configuration (StoreOptions defaults): exact search up to {o.exact_max_rows:,} rows "
            "(and on filtered subsets up to that size), else IVF-SQ "
            f"{Store.ann_params(1_000_000, DIM)} at 1M rows, nprobes={o.nprobes}, refine_factor={o.refine_factor}. "
            "FAISS gets the same partitions, 8-bit scalar quantiser, nprobe and refine factor.\n",
            markdown_table(["rows", "engine", "filter", "recall@10", "p50 ms", "p95 ms"], rows), ""]
    for n, info in infos.items():
        text.append(f"- {n:,} rows: LanceDB write {info['lance_write_s']:.1f} s, index {info['lance_action']} in "
                    f"{info['lance_index_s']:.1f} s; FAISS train+add {info['faiss_build_s']:.1f} s")
    if sweep:
        text += ["", "## IVF-SQ query knobs (unfiltered)", "",
                 markdown_table(["rows", "nprobes", "refine_factor", "recall@10", "p50 ms", "p95 ms"], sweep)]
    if idx_rows:
        text += ["", "## Indexing throughput (640×480 JPEGs)", "",
                 markdown_table(["images", "pipeline", "images/s", "ratio to encoder only"], idx_rows)]
    write_result("search", "\n".join(text) + "\n")


if __name__ == "__main__":
    main()
