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


def make_data(n: int, n_queries: int, seed: int = 0, folder: Path | None = None):
    """(x, keyframe, q, frame_index): ``x`` (n, DIM) unit vectors written in chunks into a
    memory-mapped file under ``folder`` (so 1M rows cost page cache, not 2 GB of heap);
    ``frame_index`` a random permutation of 0..n-1 (``frame_index < m`` keeps m rows)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLUSTERS, DIM)).astype(np.float32)
    if folder is None:
        x = np.empty((n, DIM), np.float32)
    else:
        x = np.lib.format.open_memmap(folder / f"x{n}.npy", mode="w+", dtype=np.float32, shape=(n, DIM))
    step = 50_000
    for a in range(0, n, step):
        b = min(n, a + step)
        part = centres[rng.integers(0, CLUSTERS, b - a)] + 0.6 * rng.normal(size=(b - a, DIM)).astype(np.float32)
        x[a:b] = part / np.linalg.norm(part, axis=1, keepdims=True)
    keyframe = rng.random(n) < KEYFRAME_SHARE
    frame_index = rng.permutation(n)
    q = x[rng.integers(0, n, n_queries)] + 0.02 * rng.normal(size=(n_queries, DIM)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return x, keyframe, q, frame_index


def exact_topk_batch(x: np.ndarray, q: np.ndarray, chunk: int = 100_000) -> list[np.ndarray]:
    """Exact cosine top-K of every query in one pass over the rows (the ground truth)."""
    best_s = np.full((len(q), K), -np.inf, np.float32)
    best_i = np.zeros((len(q), K), np.int64)
    for a in range(0, len(x), chunk):
        s = q @ np.ascontiguousarray(x[a:a + chunk]).T  # (nq, chunk)
        cat_s = np.concatenate([best_s, s], axis=1)
        cat_i = np.concatenate([best_i, np.broadcast_to(np.arange(a, a + s.shape[1]), s.shape)], axis=1)
        top = np.argpartition(-cat_s, K, axis=1)[:, :K]
        best_s = np.take_along_axis(cat_s, top, 1)
        best_i = np.take_along_axis(cat_i, top, 1)
    order = np.argsort(-best_s, axis=1)
    return list(np.take_along_axis(best_i, order, 1))


def exact_topk(x: np.ndarray, q: np.ndarray, ids: np.ndarray | None = None) -> list[np.ndarray]:
    """Exact cosine top-K per query (chunked over the rows: bounded memory)."""
    out = []
    for v in q:
        if ids is None:
            s = np.concatenate([x[a:a + 200_000] @ v for a in range(0, len(x), 200_000)])
        else:
            s = x[ids] @ v
        top = np.argpartition(-s, K)[:K] if len(s) > K else np.arange(len(s))
        top = top[np.argsort(-s[top])]
        out.append(top if ids is None else ids[top])
    return out


def recall(got: list, truth: list) -> float:
    return float(np.mean([len(set(map(int, g)) & set(map(int, t))) / max(1, min(K, len(t)))
                          for g, t in zip(got, truth)]))


def timed(fn, queries) -> tuple[list, float, float]:
    res, lat = [], []
    for v in queries:
        t0 = time.perf_counter()
        res.append(fn(v))
        lat.append((time.perf_counter() - t0) * 1000)
    return res, float(np.percentile(lat, 50)), float(np.percentile(lat, 95))


def build_lance(x: np.ndarray, keyframe: np.ndarray, folder: Path, frame_index: np.ndarray | None = None):
    """The benchmark table in kadr's schema, then ``Store.maintain`` (LanceDB IVF-SQ index
    and, with faiss installed, the FAISS sidecar). Returns (store, write s, maintain s, action)."""
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
        if frame_index is not None:
            cols["frame_index"] = pa.array(frame_index[a:b].astype(np.int64))
        cols["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(x[a:b]).reshape(-1)), DIM)
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
    idx.train(np.ascontiguousarray(x[np.sort(rng.choice(n, min(n, max(256 * nlist, 20_000)), replace=False))]))
    for a in range(0, n, 100_000):
        idx.add(np.ascontiguousarray(x[a:a + 100_000]))
    return idx, ivf, time.perf_counter() - t0


#: Filter sizes of the selectivity sweep (rows kept by ``frame_index < m``).
SELECTIVITY = (100, 1_000, 10_000, 20_000, 50_000, 200_000)


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def timed_side_by_side(fns: dict, queries) -> dict:
    """{name: (results, p50, p95)}: every engine answers each query in turn (rotating who goes
    first), so all of them see the same machine load and the same cache state."""
    res = {k: [] for k in fns}
    lat = {k: [] for k in fns}
    names = list(fns)
    for i, v in enumerate(queries):
        for k in names[i % len(names):] + names[:i % len(names)]:
            t0 = time.perf_counter()
            res[k].append(fns[k](v))
            lat[k].append((time.perf_counter() - t0) * 1000)
    return {k: (res[k], float(np.percentile(lat[k], 50)), float(np.percentile(lat[k], 95))) for k in fns}


def bench_size(n: int, n_queries: int, workdir: Path) -> tuple[list, list, dict, list]:
    import faiss

    from kadr.index.faiss_sidecar import SIDECAR_DIR
    from kadr.index.store import Store, StoreOptions

    x, keyframe, q, frame_index = make_data(n, n_queries, folder=workdir)
    kf_ids = np.flatnonzero(keyframe)
    where_kf = "kind = 'keyframe'"
    truth = exact_topk_batch(x, q)
    truth_f = exact_topk(x, q, kf_ids)
    sizes = [m for m in SELECTIVITY if m < n // 2]
    sub_ids = {m: np.flatnonzero(frame_index < m) for m in sizes}
    sub_truth = {m: exact_topk(x, q[:20], sub_ids[m]) for m in sizes}
    rows, sweep, selectivity = [], [], []
    info: dict = {}
    o = StoreOptions()

    # kadr: Store.maintain builds LanceDB's IVF-SQ index and the FAISS sidecar
    folder = workdir / f"lance{n}"
    xpath = workdir / f"x{n}.npy"

    def remap():  # a fresh read-only map: pages touched so far leave this process's RSS
        return np.load(xpath, mmap_mode="r") if xpath.exists() else x

    x = remap()
    st, write_s, build_s, action = build_lance(x, keyframe, folder, frame_index)
    info.update(lance_write_s=write_s, maintain_s=build_s, lance_action=action)
    del st
    x = remap()
    rss0 = _rss_mib()
    t0 = time.perf_counter()
    st = Store(folder)  # a fresh process's view: loads the persisted sidecar
    st.search("bench", q[0], k=K)
    info["sidecar_load_s"] = time.perf_counter() - t0
    side = folder / SIDECAR_DIR
    info["sidecar_disk_mb"] = sum(f.stat().st_size for f in side.rglob("*") if f.is_file()) / 1e6 if side.exists() else 0
    t0 = time.perf_counter()
    st.search("bench", q[1], k=K, where=where_kf)
    info["cold_filter_ms"] = (time.perf_counter() - t0) * 1000
    info["kadr_rss_mib"] = _rss_mib() - rss0
    ln = Store(folder, options=StoreOptions(engine="lance"))
    engine = "FAISS sidecar" if st._sidecars.get("bench") is not None else ("LanceDB IVF-SQ" if st.has_ann("bench") else "exact")
    kname, lname = f"kadr ({engine})", "kadr, engine=lance (LanceDB IVF-SQ)"
    ids = lambda hits: [int(h.id) for h in hits]  # noqa: E731

    # FAISS IVF-SQ8 + exact refine, same partitions / quantiser / nprobe / refine as kadr
    fidx, ivf, fbuild = build_faiss(x)
    x = remap()
    info["faiss_build_s"] = fbuild
    fname = f"FAISS IVF{ivf.nlist},SQ8 + refine"

    def faiss_fn(sel):
        base = faiss.SearchParametersIVF(nprobe=o.nprobes, sel=sel) if sel is not None \
            else faiss.SearchParametersIVF(nprobe=o.nprobes)
        p = faiss.IndexRefineSearchParameters(k_factor=o.refine_factor, base_index_params=base)
        return lambda v: fidx.search(v[None], K, params=p)[1][0]

    for where, tr, sel_ids in ((None, truth, None), (where_kf, truth_f, kf_ids)):
        sel = faiss.IDSelectorBatch(sel_ids.astype(np.int64)) if sel_ids is not None else None
        out = timed_side_by_side({
            fname: faiss_fn(sel),
            kname: lambda v: ids(st.search("bench", v, k=K, where=where)),
            lname: lambda v: ids(ln.search("bench", v, k=K, where=where)),
        }, q)
        f50 = out[fname][1]
        for name, (res, p50, p95) in out.items():
            rows.append([n, name, where or "-", recall(res, tr), p50, p95, p50 / f50])
    for m in sizes:
        w = f"frame_index < {m}"
        st.search("bench", q[0], k=K, where=w)  # the filter's row ids are evaluated once per table version
        fns = {fname: faiss_fn(faiss.IDSelectorBatch(sub_ids[m].astype(np.int64))),
               kname: lambda v: ids(st.search("bench", v, k=K, where=w))}
        if m <= 1_000:  # LanceDB's exact path on a filter costs 100+ ms a query: a few sizes only
            fns[lname] = lambda v: ids(ln.search("bench", v, k=K, where=w))
        out = timed_side_by_side(fns, q[:20])
        f50 = out[fname][1]
        for name, (res, p50, p95) in out.items():
            selectivity.append([n, m, name, recall(res, sub_truth[m]), p50, p95, p50 / f50])
    info["faiss_rss_mib"] = _rss_mib()
    del fidx, ivf
    if engine == "FAISS sidecar":  # the recall/latency trade-off of the two query knobs
        for nprobes in (10, 32, 64):
            for refine in (1, 10):
                st.options.nprobes, st.options.refine_factor = nprobes, refine
                res, p50, p95 = timed(lambda v: ids(st.search("bench", v, k=K)), q[: max(20, len(q) // 2)])
                sweep.append([n, nprobes, refine, recall(res, truth[: len(res)]), p50, p95])
        st.options = StoreOptions()
    del st, ln

    # exact numpy (brute force, BLAS) last: its BLAS threads spin after each call
    res, p50, p95 = timed(lambda v: exact_topk(x, v[None])[0], q[:20])
    rows.append([n, "numpy exact", "-", recall(res, truth), p50, p95, "-"])
    res, p50, p95 = timed(lambda v: exact_topk(x, v[None], kf_ids)[0], q)
    rows.append([n, "numpy exact", "kind = keyframe", recall(res, truth_f), p50, p95, "-"])
    shutil.rmtree(folder, ignore_errors=True)
    del x
    (workdir / f"x{n}.npy").unlink(missing_ok=True)
    return rows, sweep, info, selectivity


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
    rows, sweep, infos, selectivity = [], [], {}, []
    load_before = machine_line()
    try:
        for n in [int(s) for s in args.sizes.split(",")]:
            t0 = time.perf_counter()
            r, s, info, sel = bench_size(n, args.queries, work)
            rows += r
            sweep += s
            selectivity += sel
            infos[n] = info
            print(f"{n}: done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        idx_rows = [] if args.skip_indexing else bench_indexing(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    from kadr.index.store import Store, StoreOptions

    o = StoreOptions()
    text = [f"# Vector search: kadr vs exact numpy vs FAISS\n\nStart: {load_before}. End: {machine_line()}; "
            "shared machine, other jobs running: compare rows of one run only.\n",
            f"Data: clustered synthetic {DIM}-d unit vectors ({CLUSTERS} clusters), {args.queries} queries "
            f"(data points + noise); filter `kind = 'keyframe'` keeps {KEYFRAME_SHARE:.0%} of the rows. "
            "Recall@10 against exact numpy top-10 (of the filtered rows for the filtered queries); "
            "latency per single query in ms (`Store.search`, hits with their metadata); "
            "ratio = p50 / FAISS p50 with the same filter in the same run.\n",
            f"kadr configuration (StoreOptions defaults): exact search up to {o.exact_max_rows:,} rows "
            "(and on filtered subsets up to that size), else IVF-SQ "
            f"{Store.ann_params(1_000_000, DIM)} at 1M rows, nprobes={o.nprobes}, refine_factor={o.refine_factor}, "
            f"engine={o.engine!r} (the FAISS sidecar of `kadr/index/faiss_sidecar.py` when faiss-cpu is installed). "
            "FAISS gets the same partitions, 8-bit scalar quantiser, nprobe and refine factor "
            "(`IndexRefineFlat`, filter through `IDSelectorBatch`).\n",
            markdown_table(["rows", "engine", "filter", "recall@10", "p50 ms", "p95 ms", "p50 / FAISS"], rows), ""]
    for n, info in infos.items():
        text.append(f"- {n:,} rows: LanceDB write {info['lance_write_s']:.1f} s; `Store.maintain` "
                    f"(LanceDB index {info['lance_action']} + FAISS sidecar) {info['maintain_s']:.1f} s; sidecar "
                    f"{info['sidecar_disk_mb']:.0f} MB on disk, loaded by a fresh Store in {info['sidecar_load_s']:.2f} s "
                    f"(first query included); first query with a new filter {info['cold_filter_ms']:.0f} ms "
                    f"(its row ids are then cached for the table version); kadr search RSS growth "
                    f"{info['kadr_rss_mib']:.0f} MiB; FAISS peer train+add {info['faiss_build_s']:.1f} s "
                    f"(process RSS then {info['faiss_rss_mib']:.0f} MiB)")
    if selectivity:
        text += ["", "## Filters that keep few rows (`frame_index < m`, 20 queries)", "",
                 "kadr searches a filtered subset of at most exact_max_rows rows exactly (its vectors "
                 "gathered once per table version and filter), larger ones through the IVF lists; FAISS "
                 "through its IVF lists with an `IDSelectorBatch` (fewer than 10 hits when the probed lists "
                 "hold fewer kept rows: the recall column shows it).", "",
                 markdown_table(["rows", "kept rows", "engine", "recall@10", "p50 ms", "p95 ms", "p50 / FAISS"], selectivity)]
    if sweep:
        text += ["", "## IVF-SQ query knobs of the sidecar (unfiltered)", "",
                 markdown_table(["rows", "nprobes", "refine_factor", "recall@10", "p50 ms", "p95 ms"], sweep)]
    if idx_rows:
        text += ["", "## Indexing throughput (640×480 JPEGs)", "",
                 markdown_table(["images", "pipeline", "images/s", "ratio to encoder only"], idx_rows)]
    write_result("search", "\n".join(text) + "\n")


if __name__ == "__main__":
    main()
