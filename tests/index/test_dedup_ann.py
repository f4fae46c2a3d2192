"""ANN dedup candidate pairs against the exact pairwise pass (the reference)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from kadr.index.dedup import DedupOptions, candidate_pairs, find_duplicates
from kadr.index.schema import arrow_schema
from kadr.index.store import Store

pytest.importorskip("faiss")
from kadr.index.dedup_ann import AnnDedupOptions, ann_candidate_pairs  # noqa: E402

D = 64


def _planted(n: int, seed: int) -> np.ndarray:
    """Background at cosine ~0.3 within 50 clusters + groups of 2-6 variants at 0.75-0.99."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, D))
    x = centres[rng.integers(0, 50, n)] + 1.5 * rng.normal(size=(n, D))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    at = 0
    while at < n // 4:
        m = int(rng.integers(1, 6))
        o = x[at]
        for _ in range(m):
            c = rng.uniform(0.75, 0.99)
            g = rng.normal(size=D)
            g -= (g @ o) * o
            at += 1
            x[at] = c * o + np.sqrt(1 - c * c) * g / np.linalg.norm(g)
        at += 1
    return x[rng.permutation(n)].astype(np.float32)


def _pairs(i, j, n):
    return set((np.minimum(i, j).astype(np.int64) * n + np.maximum(i, j)).tolist())


def test_pairs_match_the_exact_pass():
    n = 6000
    x = _planted(n, seed=3)
    truth = _pairs(*candidate_pairs(x, 0.7)[:2], n)
    assert len(truth) > 1000
    # 60 partitions, 6 probed: a real approximation, not a disguised full scan
    i, j, s = ann_candidate_pairs(x, 0.7, AnnDedupOptions(dims=32, list_size=100, nprobe=6, neighbours=8))
    got = _pairs(i, j, n)
    assert got <= truth  # every pair is scored on the full vectors
    assert len(got & truth) / len(truth) >= 0.99
    assert np.all(i < j)
    np.testing.assert_allclose(s, np.einsum("ij,ij->i", x[i], x[j]), atol=1e-5)


def test_groups_larger_than_the_neighbour_count_are_not_cut():
    rng = np.random.default_rng(0)
    base = rng.normal(size=D)
    x = np.concatenate([base + 0.05 * rng.normal(size=(40, D)), rng.normal(size=(500, D))])
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    i, j, _ = ann_candidate_pairs(x, 0.9, AnnDedupOptions(dims=0, list_size=50, nprobe=11, neighbours=4))
    assert _pairs(i, j, len(x)) == _pairs(*candidate_pairs(x, 0.9)[:2], len(x))
    assert len(i) == 40 * 39 // 2


def test_find_duplicates_ann_gives_the_exact_groups(tmp_path):
    n = 3000
    x = _planted(n, seed=5)
    st = Store(tmp_path / "db")
    schema = arrow_schema(D)
    cols = {f.name: pa.nulls(n, f.type) for f in schema}
    cols["id"] = pa.array([str(k) for k in range(n)])
    cols["source"] = pa.array([f"/p/{k}.jpg" for k in range(n)])
    cols["kind"] = pa.array(["image"] * n)
    # random pHashes: pairs under near_cosine stay "similar" (far apart in Hamming distance)
    cols["phash"] = pa.array(np.random.default_rng(1).integers(-2**62, 2**62, n), pa.int64())
    cols["vector"] = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), D)
    st.table("t", D, create=True).add(pa.table(cols, schema=schema))

    def groups(method):
        res = find_duplicates(st, "t", options=DedupOptions(method=method, similar_cosine=0.7, near_cosine=0.9))
        return {kind: sorted(tuple(sorted(it["id"] for it in g.items)) for g in res[kind])
                for kind in ("duplicates", "similar")}

    exact, ann = groups("exact"), groups("ann")
    assert exact["duplicates"] and exact["similar"]
    assert ann == exact


def test_tiny_tables_fall_back_to_the_exact_pass():
    # 10 rows of 1280-d (effnet-lite0): fewer rows than PCA dims or partitions
    x = _planted(10, seed=1)
    x = np.concatenate([x, x, x[:, :0]], axis=1)[:, :128]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    got = ann_candidate_pairs(x, 0.5)
    want = candidate_pairs(x, 0.5)
    assert _pairs(got[0], got[1], 10) == _pairs(want[0], want[1], 10)
