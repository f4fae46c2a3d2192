"""Candidate pairs for dedup through an approximate nearest-neighbour index (FAISS).

The exact pass (:func:`kadr.index.dedup.candidate_pairs`) compares every row with every
other: O(n² D), fine to ~50k rows. Here each row asks an IVF index for its ``neighbours``
nearest rows instead, and only those candidates are scored exactly:

1. the vectors are projected to ``dims`` dimensions by PCA (``faiss.PCAMatrix``, trained on
   a sample) — the coarse search runs on 1/4 of the data at 512-d input;
2. an ``IndexIVFFlat`` (inner product, ``nlist ≈ rows / list_size`` partitions) answers a
   batch k-NN query for every row with ``nprobe`` partitions;
3. every candidate pair whose cosine in the reduced space is within ``margin`` of the
   threshold is scored exactly on the full vectors and kept when its cosine is ≥ ``min_cosine``;
4. rows whose ``neighbours`` candidates *all* passed may have more: they are asked again with
   4× the neighbours, until a round finds fewer (groups larger than k are not cut).

The result is the same (i, j, cosine) triple list as the exact pass, so the duplicate /
similar rules and the grouping downstream are unchanged. Defaults (in :class:`AnnDedupOptions`)
were chosen on synthetic 512-d data with planted near-duplicate groups (tuning, seed 0: at
30k rows pair recall 1.000 at PCA-128/16 probes, 0.999 at 128/8, 0.9993 at 64/8, 0.990 at
64/4; at 50k (``benchmarks/dedup.py``) 0.981 / 0.997 / 1.000 at 128 dims and 4 / 8 / 16 probes)
and checked on another seed (held out, seed 1): see ``benchmarks/results/dedup.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kadr._options import opt
from kadr._checks import check_positive


@dataclass
class AnnDedupOptions:
    """How the ANN candidate search of dedup is set up (see the module doc)."""

    dims: int = opt(128, "PCA dimensions of the coarse search (0: the full vectors)")
    list_size: int = opt(1024, "rows per IVF partition (partitions = rows / this)")
    nprobe: int = opt(8, "IVF partitions probed per row")
    neighbours: int = opt(32, "candidates asked per row in the first round (x4 per further round)")
    margin: float = opt(0.15, "candidates are scored exactly when their reduced-space cosine is >= threshold - margin")
    batch: int = opt(16_384, "rows queried per FAISS batch (bounds the memory of one batch)")
    train_rows: int = opt(100_000, "rows sampled to train the PCA and the partitions")

    def __post_init__(self) -> None:
        for name in ("list_size", "nprobe", "neighbours", "batch", "train_rows"):
            check_positive(int(getattr(self, name)), name)
        check_positive(int(self.dims), "dims", allow_zero=True)


def _dot_rows(v: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 1 << 14) -> np.ndarray:
    out = np.empty(len(i), np.float32)
    for a in range(0, len(i), chunk):
        out[a:a + chunk] = np.einsum("ij,ij->i", v[i[a:a + chunk]], v[j[a:a + chunk]])
    return out


def ann_candidate_pairs(vectors: np.ndarray, min_cosine: float, options: AnnDedupOptions | None = None,
                        progress: bool | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs i < j with cosine ≥ ``min_cosine`` found through an IVF index: (i, j, cosine).

    ``vectors``: (n, D) float32, L2-normalised rows. Approximate: a pair is missed when
    neither row finds the other among its probed partitions (pair recall measured in
    ``benchmarks/results/dedup.md``); every returned pair is exact (scored on the full vectors)."""
    from kadr.index.faiss_sidecar import _faiss

    faiss = _faiss()
    o = options or AnnDedupOptions()
    v = np.ascontiguousarray(np.asarray(vectors, np.float32))
    n, d = v.shape
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    if n < 2:
        return empty
    if n < 2 * int(o.list_size) or n <= int(o.dims):  # too few rows for partitions / a PCA: exact
        from kadr.index.dedup import candidate_pairs

        i, j, s = candidate_pairs(v, min_cosine)
        return i.astype(np.int64), j.astype(np.int64), s
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(n, min(n, int(o.train_rows)), replace=False))
    dims = int(o.dims) if 0 < int(o.dims) < d else d
    pca = None
    if dims < d:
        pca = faiss.PCAMatrix(d, dims)
        pca.train(v[sample])

    def project(x: np.ndarray) -> np.ndarray:
        if pca is None:
            return np.ascontiguousarray(x)
        y = pca.apply(np.ascontiguousarray(x))
        return y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)

    nlist = int(max(1, min(n // 39, round(n / int(o.list_size)))))
    quant = faiss.IndexFlatIP(dims)
    ivf = faiss.IndexIVFFlat(quant, dims, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.niter = 10
    ivf.train(project(v[sample]))
    for a in range(0, n, o.batch):
        ivf.add(project(v[a:a + o.batch]))
    ivf.nprobe = int(min(nlist, o.nprobe))

    from kadr._progress import track

    I_all, J_all, S_all = [], [], []
    todo = np.arange(n)
    k = int(min(n - 1, o.neighbours))
    while len(todo):
        full_rows = []
        batches = range(0, len(todo), o.batch)
        for a in track(batches, total=len(batches), desc=f"dedup candidates (k={k})", unit="batches",
                       enabled=progress):
            rows = todo[a:a + o.batch]
            approx, nb = ivf.search(project(v[rows]), k + 1)
            ii = np.repeat(rows, nb.shape[1])
            jj = nb.reshape(-1).astype(np.int64)
            # only candidates whose cosine in the reduced space is near the threshold are scored
            # on the full vectors (a projection keeps most of a close pair's cosine)
            ok = (jj >= 0) & (jj != ii) & (approx.reshape(-1) >= min_cosine - o.margin)
            s = np.full(len(ii), -2.0, np.float32)
            s[ok] = _dot_rows(v, ii[ok], jj[ok])
            passed = s >= min_cosine
            # every found neighbour passed: this row may have more than k of them
            cnt = passed.reshape(len(rows), -1).sum(axis=1)
            full_rows.append(rows[cnt >= k])
            ii, jj, s = ii[passed], jj[passed], s[passed]
            lo, hi = np.minimum(ii, jj), np.maximum(ii, jj)
            I_all.append(lo)
            J_all.append(hi)
            S_all.append(s)
        todo = np.concatenate(full_rows) if full_rows else np.zeros(0, np.int64)
        if k >= n - 1:
            break
        k = int(min(n - 1, 4 * k))
    if not I_all:
        return empty
    i, j, s = np.concatenate(I_all), np.concatenate(J_all), np.concatenate(S_all)
    key = i * n + j
    key, first = np.unique(key, return_index=True)
    return i[first], j[first], s[first]
