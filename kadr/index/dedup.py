"""Duplicate groups in an index: true (near-exact) duplicates apart from merely similar items.

Rules (defaults in :class:`DedupOptions`, checked by ``tests/index/test_dedup.py``):

* a pair is a **duplicate** when its embedding cosine is ≥ ``near_cosine``, or when the
  cosine is ≥ ``similar_cosine`` and the 64-bit pHash Hamming distance is ≤ ``max_hamming``
  (re-encodes, rescales and light edits of one picture); byte-identical files (same content
  hash) are duplicates too and are flagged ``exact``;
* a pair is **similar** when its cosine is ≥ ``similar_cosine`` and it is not a duplicate
  (the same scene from another crop or moment, a look-alike);
* groups are the connected components of those pairs (union-find); a similar group never
  repeats a pair already inside one duplicate group;
* rows of the same source file (frames of one video) are not paired unless ``same_source``;
* content-free rows (:func:`kadr.features.content.content_free`: solid, black, near-uniform,
  title cards — every black frame is the "duplicate" of every other) are never grouped: the
  pixels of the rows that take part in a candidate pair are read back from their files and
  checked; those found content-free are listed under ``content_free`` instead.

pHash: Zauner 2010 via ``imagehash.phash``. Why these defaults (effnet-lite0, measured on five
scikit-image photos, cosine / pHash distance to the original): JPEG q85 0.98–1.00 / 0;
half size + JPEG q50 0.80–0.95 / 0; brightness +20 0.98–1.00 / 0; 80 % centre crop
0.85–0.95 / 18–24; 60 % crop 0.74–0.89 / 24–36; mirror 0.95–0.99 / 30–32; unrelated photos
≤ 0.31. The embedding alone cannot tell a re-encode (0.80) from a crop (0.95) — the hash
can (0 vs ≥ 16 bits), hence duplicates = similar **and** pHash ≤ 8 bits, or a cosine so high
(≥ 0.995) that only the same picture reaches it; similar = cosine ≥ 0.70.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kadr._checks import check_range
from kadr._options import opt
from kadr.index.schema import hamming64


@dataclass
class DedupOptions:
    near_cosine: float = opt(0.995, "cosine at or above which two items are duplicates whatever their hashes")
    similar_cosine: float = opt(0.70, "cosine at or above which two items are similar")
    max_hamming: int = opt(8, "pHash Hamming distance (of 64 bits) at or below which similar items are duplicates")
    same_source: bool = opt(False, "also pair rows of the same file (frames of one video)")
    skip_content_free: bool = opt(True, "leave solid, near-uniform and title-card frames out of the groups "
                                        "(their pixels are read back from the files)")
    method: str = opt("auto", "candidate pairs: 'exact' (every pair, O(n^2)), 'ann' (FAISS IVF on PCA-reduced "
                              "vectors, kadr/index/dedup_ann.py), 'auto' (exact up to exact_max_rows rows)",
                      choices=("auto", "exact", "ann"))
    exact_max_rows: int = opt(50_000, "auto: tables up to this many rows are compared pair by pair")

    def __post_init__(self) -> None:
        check_range(self.near_cosine, "near_cosine", -1.0, 1.0)
        check_range(self.similar_cosine, "similar_cosine", -1.0, 1.0)
        check_range(self.max_hamming, "max_hamming", 0, 64)
        if self.method not in ("auto", "exact", "ann"):
            from kadr.errors import InputError

            raise InputError(f"unknown dedup method {self.method!r}; choose auto, exact or ann")
        if self.similar_cosine > self.near_cosine:
            from kadr.errors import InputError

            raise InputError(f"similar_cosine ({self.similar_cosine}) must be <= near_cosine ({self.near_cosine})")


@dataclass
class Group:
    kind: str  # "duplicate" | "similar"
    items: list[dict[str, Any]]
    min_score: float
    max_hamming: int
    exact: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self, members: set[int]) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in sorted(members):
            out.setdefault(self.find(i), []).append(i)
        return [g for g in out.values() if len(g) > 1]


def candidate_pairs(vectors: np.ndarray, min_cosine: float, *, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs i < j with cosine ≥ ``min_cosine`` (exact, chunked matrix products):
    returns (i, j, cosine) arrays."""
    v = np.asarray(vectors, np.float32)
    I, J, S = [], [], []
    for a in range(0, len(v), chunk):
        s = v[a:a + chunk] @ v.T
        ii, jj = np.nonzero(s >= min_cosine)
        ii = ii + a
        keep = jj > ii
        I.append(ii[keep])
        J.append(jj[keep])
        S.append(s[ii[keep] - a, jj[keep]])
    if not I:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, np.float32)
    return np.concatenate(I), np.concatenate(J), np.concatenate(S)


def find_pairs(vectors: np.ndarray, min_cosine: float, options: DedupOptions,
               progress: bool | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs by the configured method (exact pass or the ANN index)."""
    method = options.method
    if method == "auto":
        method = "exact" if len(vectors) <= options.exact_max_rows else "ann"
    if method == "exact":
        return candidate_pairs(vectors, min_cosine)
    from kadr.index.dedup_ann import ann_candidate_pairs

    return ann_candidate_pairs(vectors, min_cosine, progress=progress)


def classify_pairs(vectors: np.ndarray, phashes: np.ndarray, hashes: list[str | None], sources: list[str],
                   options: DedupOptions, progress: bool | None = None
                   ) -> tuple[list[tuple[int, int, float, int, bool]], list[tuple[int, int, float, int]]]:
    """(duplicate pairs (i, j, cos, hamming, exact), similar pairs (i, j, cos, hamming))."""
    o = options
    i, j, s = find_pairs(vectors, min(o.similar_cosine, o.near_cosine), o, progress)
    dups, sims = [], []
    by_hash: dict[str, list[int]] = {}
    for idx, h in enumerate(hashes):
        if h:
            by_hash.setdefault(h, []).append(idx)
    seen: set[tuple[int, int]] = set()
    for members in by_hash.values():  # byte-identical files, whatever the encoder says
        for b in members[1:]:
            if sources[members[0]] != sources[b] or o.same_source:
                dups.append((members[0], b, 1.0, 0, True))
                seen.add((members[0], b))
    ham = hamming64(phashes[i], phashes[j]) if len(i) else np.zeros(0, int)
    for a, b, c, h in zip(i.tolist(), j.tolist(), s.tolist(), ham.tolist()):
        if (a, b) in seen or (not o.same_source and sources[a] == sources[b]):
            continue
        if c >= o.near_cosine or (c >= o.similar_cosine and h <= o.max_hamming):
            dups.append((a, b, c, h, False))
        elif c >= o.similar_cosine:
            sims.append((a, b, c, h))
    return dups, sims


def content_free_rows(meta: list[dict[str, Any]], rows: list[int]) -> dict[int, str]:
    """{row: reason} for the ``rows`` of ``meta`` (dicts with source, kind, frame_index) whose
    pixels are content-free. Images are loaded, video frames decoded at 96 px (one pass per
    video, sequential when many of its frames are asked for); unreadable files count as content."""
    from kadr.errors import KadrError
    from kadr.features.content import content_free
    from kadr.io.images import load_image
    from kadr.io.video import VideoReader

    out: dict[int, str] = {}
    by_video: dict[str, list[tuple[int, int]]] = {}
    for i in rows:
        m = meta[i]
        if m.get("frame_index") is None:
            try:
                why = content_free(load_image(m["source"]))
            except (KadrError, OSError):
                continue
            if why:
                out[i] = why
        else:
            by_video.setdefault(m["source"], []).append((int(m["frame_index"]), i))
    for src, want in by_video.items():
        want.sort()
        try:
            with VideoReader(src, analysis_size=96) as r:
                if len(want) <= 8:
                    got = ((i, r.read(frame=fi).analysis_image) for fi, i in want)
                else:
                    idx = dict(want)
                    got = ((idx[f.index], f.analysis_image) for f in r if f.index in idx)
                for i, img in got:
                    why = content_free(img)
                    if why:
                        out[i] = why
        except (KadrError, OSError):
            continue
    return out


def find_duplicates(store, encoder: str, *, where: str | None = None, options: DedupOptions | None = None,
                    progress: bool | None = None) -> dict[str, Any]:
    """Duplicate and similar groups among the rows of ``encoder``'s table (matching ``where``).

    Memory: the vectors once as one (n, D) float32 array (read batch by batch), the small
    columns as Arrow; per-row dicts only for the rows that end up in a group."""
    o = options or DedupOptions()
    cols = ["id", "source", "kind", "frame_index", "time", "content_hash", "phash"]
    at = store.rows(encoder, where=where, columns=cols)
    n = at.num_rows
    out: dict[str, Any] = {"rows": n, "encoder": encoder, "metric": "cosine", "thresholds": asdict(o),
                           "duplicates": [], "similar": []}
    if n < 2:
        return out
    vec = _vectors(store, encoder, where, n)
    ph = np.asarray(at.column("phash").fill_null(0).to_numpy(), np.int64)
    sources = at.column("source").to_pylist()
    dups, sims = classify_pairs(vec, ph, at.column("content_hash").to_pylist(), sources, o, progress)
    del vec
    small = at.select(["id", "source", "kind", "frame_index", "time"])
    meta_cache: dict[int, dict[str, Any]] = {}

    class _Meta:
        def __getitem__(self, x: int) -> dict[str, Any]:
            if x not in meta_cache:
                meta_cache[x] = small.slice(x, 1).to_pylist()[0]
            return meta_cache[x]

    meta = _Meta()
    if o.skip_content_free:
        free = content_free_rows(meta, sorted({x for p in dups + sims for x in p[:2]}))
        dups = [p for p in dups if p[0] not in free and p[1] not in free]
        sims = [p for p in sims if p[0] not in free and p[1] not in free]
        out["content_free"] = [{**meta[i], "content": why} for i, why in sorted(free.items())]

    def build(kind: str, pairs: list) -> tuple[list[Group], _UnionFind]:
        uf = _UnionFind(n)
        members: set[int] = set()
        for p in pairs:
            uf.union(p[0], p[1])
            members.update(p[:2])
        by_root: dict[int, list] = {}
        for p in pairs:  # pairs of each group, in one pass (not one scan per group)
            by_root.setdefault(uf.find(p[0]), []).append(p)
        groups = []
        for g in uf.groups(members):
            inside = by_root[uf.find(g[0])]
            groups.append(Group(kind, [meta[x] for x in g], round(min(p[2] for p in inside), 6),
                                int(max(p[3] for p in inside)), exact=kind == "duplicate" and all(p[4] for p in inside)))
        return groups, uf

    dgroups, duf = build("duplicate", dups)
    sims = [p for p in sims if duf.find(p[0]) != duf.find(p[1])]
    sgroups, _ = build("similar", sims)
    out["duplicates"] = sorted(dgroups, key=lambda g: (-len(g.items), g.items[0]["source"]))
    out["similar"] = sorted(sgroups, key=lambda g: (-len(g.items), g.items[0]["source"]))
    return out


def _vectors(store, encoder: str, where: str | None, n: int) -> np.ndarray:
    """(n, D) float32 vectors of the rows matching ``where``, in the order of ``store.rows``."""
    t = store.table(encoder)
    q = t.search().select(["vector"])
    if where:
        q = q.where(where)
    out = None
    at = 0
    for b in q.limit(None).to_batches(65_536):
        m = b.num_rows
        flat = b.column("vector").flatten().to_numpy(zero_copy_only=False)
        if out is None:
            out = np.empty((n, len(flat) // max(1, m)), np.float32)
        out[at:at + m] = flat.reshape(m, -1)
        at += m
    if out is None or at != n:
        from kadr.errors import InputError

        raise InputError("the table changed while dedup read it; run it again")
    return out
