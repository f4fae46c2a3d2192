"""A FAISS IVF-SQ index kept beside a LanceDB table: the fast search path above ~20k rows.

LanceDB stays the source of truth; this sidecar is a cache of its vectors, keyed by the
table version, that FAISS searches with the *same* parameters as the LanceDB index would
use (``Store.ann_params``: one partition per ~4096 rows, 8-bit scalar quantiser, cosine =
inner product of unit vectors; ``StoreOptions.nprobes`` probes; the ``k × refine_factor``
best candidates re-ranked on the full float32 vectors). Why: at 1M rows LanceDB's own
query path costs 17–24 ms per query on 2 cores against FAISS's 6–12 ms for the same
partitions, quantiser, probes and refine (``benchmarks/results/search.md``).

Files, in ``<db>/kadr_faiss/<table>/``:

* ``ivf.faiss`` — the ``IndexIVFScalarQuantizer`` (QT_8bit, METRIC_INNER_PRODUCT) whose ids
  are dense *slots* 0..N-1 over the stored vectors, mapped to LanceDB row ids (``_rowid``:
  fragment id << 32 | offset, never reused by a table) by the segments' id files;
* ``seg-NNN.npy`` + ``seg-NNN.ids.npy`` — the float32 vectors (memory-mapped, for the refine
  step and exact search of small filtered subsets) and their row ids, appended per update;
* ``meta.json`` — table version, row count, partitions, rows at training, dead rows.

Keeping it current (:meth:`FaissSidecar.sync`): when the table version moves, the current
row ids are read (one column scan) and compared with the sidecar's. Deleted rows leave the
IVF lists (``remove_ids``); new rows are read by row id and added as a new segment. When the
table has grown ``retrain_growth``× since training, or more than ``max_dead_share`` of the
stored vectors belong to deleted rows (compaction rewrites every row id), it is rebuilt and
retrained from a scan. The writer (``Store.maintain``) persists; a reader that finds the
table ahead of the files updates its in-memory copy only.

Filters: ``where`` is evaluated by LanceDB (the row ids of the matching rows, cached per
table version and filter text). A filter that keeps at most ``exact_max_rows`` rows is
searched exactly on those rows' vectors (no recall loss, cost linear in the kept rows, no
cliff); larger ones go through the IVF lists with an ``IDSelectorBitmap`` over the slots
(one bit per row: cheaper per probed vector than FAISS's hashed ``IDSelectorBatch``).

Memory: D bytes per row in RAM (the SQ8 codes) plus the memory-mapped float32 vectors
(4·D bytes per row on disk, paged in as the refine step touches them).
"""

from __future__ import annotations

import json
import os
import shutil
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kadr._options import opt
from kadr.errors import InputError, missing_backend

#: Folder (inside the database folder) holding one sidecar per table.
SIDECAR_DIR = "kadr_faiss"


@dataclass
class SidecarOptions:
    """When the sidecar is updated in place vs rebuilt, and how much it caches."""

    max_dead_share: float = opt(0.25, "rebuild when more than this share of the stored vectors belong to deleted rows")
    filter_cache: int = opt(16, "evaluated --where filters kept per table version (row ids + exact-path vectors)")
    read_batch: int = opt(65_536, "rows read from LanceDB per batch when (re)building")
    train_per_partition: int = opt(256, "training sample per IVF partition (FAISS's own guideline is >= 39)")
    meta_cache_max_rows: int = opt(5_000_000, "tables up to this many rows keep the hit columns (no vectors) in "
                                              "memory per version (~100 bytes a row) instead of one LanceDB take "
                                              "per query (~1 ms here)")


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _faiss():
    try:
        import faiss
    except ImportError:
        raise missing_backend("faiss") from None
    return faiss


def _row_ids(table: Any, where: str | None = None, column: str = "dim") -> np.ndarray:
    """Sorted int64 LanceDB row ids of the rows matching ``where`` (all rows without it)."""
    q = table.search().with_row_id(True).select([column])
    if where:
        q = q.where(where)
    at = q.limit(None).to_arrow()
    ids = at.column("_rowid").to_numpy().astype(np.int64, copy=False)
    return np.sort(ids)


def _take_vectors(table: Any, row_ids: np.ndarray, dim: int, batch: int = 8192) -> np.ndarray:
    """float32 (len(row_ids), dim) vectors of the given (sorted) row ids, in that order."""
    out = np.empty((len(row_ids), dim), np.float32)
    for a in range(0, len(row_ids), batch):
        part = row_ids[a:a + batch]
        at = table.take_row_ids([int(r) for r in part]).with_row_id().select(["vector"]).to_arrow()
        got = at.column("_rowid").to_numpy().astype(np.int64)
        vec = at.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
        order = np.searchsorted(got, part)
        out[a:a + len(part)] = vec[order]
    return out


def _dot(vectors: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(n,) inner products, without BLAS: after FAISS's OpenMP threads ran, a BLAS mat-vec on
    2 busy cores waits on its own spinning threads (13 ms instead of 0.1 ms for 3000×512,
    measured here); einsum runs in the calling thread."""
    return np.einsum("ij,j->i", vectors, q)


class FaissSidecar:
    """The FAISS IVF-SQ copy of one table's vectors. See the module doc."""

    def __init__(self, folder: str | os.PathLike, dim: int, *, options: SidecarOptions | None = None):
        self.folder = Path(folder)
        self.dim = int(dim)
        self.options = options or SidecarOptions()
        self.meta: dict[str, Any] = {}
        self.ivf = None
        self._segments: list[tuple[np.ndarray, np.ndarray]] = []  # (vectors memmap, row ids)
        self._slot_rowid = np.zeros(0, np.int64)  # IVF id (slot) -> LanceDB row id
        self._seg_start = np.zeros(1, np.int64)  # first slot of each segment
        self._lookup_ids = np.zeros(0, np.int64)  # sorted row ids of every stored vector
        self._lookup_pos = np.zeros(0, np.int64)  # ... and their slots
        self._filters: OrderedDict[str, tuple[np.ndarray, Any, np.ndarray | None]] = OrderedDict()

    # ---- state ---------------------------------------------------------------------------
    @property
    def version(self) -> int | None:
        return self.meta.get("table_version")

    @property
    def rows(self) -> int:
        return int(self.meta.get("rows", 0))

    def load(self) -> bool:
        """Read the persisted sidecar (False when there is none or it is unreadable)."""
        p = self.folder / "meta.json"
        if not p.exists():
            return False
        try:
            meta = json.loads(p.read_text())
            if int(meta.get("dim", -1)) != self.dim:
                return False
            ivf = _faiss().read_index(str(self.folder / "ivf.faiss"))
            segs = [(np.load(self.folder / f"{s}.npy", mmap_mode="r"), np.load(self.folder / f"{s}.ids.npy"))
                    for s in meta["segments"]]
        except (OSError, ValueError, KeyError, RuntimeError):
            return False
        self.meta, self.ivf, self._segments = meta, ivf, segs
        self._rebuild_lookup()
        self._filters.clear()
        return True

    def _rebuild_lookup(self) -> None:
        """Slots: the IVF ids are dense positions 0..N-1 over the stored vectors (segment after
        segment), so a filter is a bitmap; ``_slot_rowid`` maps them back to LanceDB row ids."""
        ids = [s[1] for s in self._segments]
        if not ids:
            self._slot_rowid = np.zeros(0, np.int64)
            self._seg_start = np.zeros(1, np.int64)
            self._lookup_ids = np.zeros(0, np.int64)
            self._lookup_pos = np.zeros(0, np.int64)
            return
        self._slot_rowid = np.concatenate(ids).astype(np.int64, copy=False)
        self._seg_start = np.concatenate([[0], np.cumsum([len(x) for x in ids])]).astype(np.int64)
        order = np.argsort(self._slot_rowid, kind="stable")
        self._lookup_ids, self._lookup_pos = self._slot_rowid[order], order.astype(np.int64)

    def slots(self, row_ids: np.ndarray) -> np.ndarray:
        """Slots (IVF ids) of LanceDB ``row_ids`` (each must be in the sidecar)."""
        row_ids = np.asarray(row_ids, np.int64)
        if not len(row_ids):
            return np.zeros(0, np.int64)
        at = np.minimum(np.searchsorted(self._lookup_ids, row_ids), len(self._lookup_ids) - 1)
        if not np.array_equal(self._lookup_ids[at], row_ids):
            raise InputError("the FAISS sidecar does not hold some rows of the table; rebuild it with "
                             "`kadr index add` (or Store.maintain)")
        return self._lookup_pos[at]

    def slot_vectors(self, slots: np.ndarray) -> np.ndarray:
        """float32 (n, D) stored vectors of ``slots``."""
        slots = np.asarray(slots, np.int64)
        if len(self._segments) == 1:
            return np.asarray(self._segments[0][0][slots], np.float32)
        seg = np.searchsorted(self._seg_start, slots, side="right") - 1
        out = np.empty((len(slots), self.dim), np.float32)
        for k in np.unique(seg):
            m = seg == k
            out[m] = self._segments[int(k)][0][slots[m] - self._seg_start[k]]
        return out

    def vectors(self, row_ids: np.ndarray) -> np.ndarray:
        """float32 (n, D) stored vectors of LanceDB ``row_ids``."""
        return self.slot_vectors(self.slots(row_ids))

    # ---- build / update ------------------------------------------------------------------
    def sync(self, table: Any, *, nlist: int, retrain_growth: float, persist: bool) -> str:
        """Bring the sidecar to ``table.version``. Returns ``ok`` (already current), ``updated``
        (rows added/removed in place), ``refilled`` (same training, filled again from a scan:
        the row ids changed) or ``built`` (trained and filled from a scan)."""
        version = int(table.version)
        if self.ivf is None:
            self.load()
        if self.ivf is not None and self.version == version:
            return "ok"
        n_now = int(table.count_rows())
        trained = int(self.meta.get("trained_rows", 0))
        if self.ivf is None or n_now >= retrain_growth * max(1, trained) or n_now == 0:
            self.build(table, nlist=nlist, persist=persist)
            return "built"
        current = _row_ids(table)
        stored_alive = self._alive_ids()
        gone = np.setdiff1d(stored_alive, current, assume_unique=True)
        new = np.setdiff1d(current, stored_alive, assume_unique=True)
        dead = int(self.meta.get("dead", 0)) + len(gone)
        stored = len(self._lookup_ids) + len(new)
        if dead > self.options.max_dead_share * max(1, stored):
            # mostly new row ids (compaction rewrites them all): refill, keep the training
            self.build(table, nlist=nlist, persist=persist, keep_training=True)
            return "refilled"
        faiss = _faiss()
        if len(gone):
            self.ivf.remove_ids(faiss.IDSelectorBatch(self.slots(gone)))
        name = None
        if len(new):
            vecs = _take_vectors(table, new, self.dim)
            first = int(self._seg_start[-1])
            if persist:
                name = f"seg-{len(self.meta['segments']):03d}"
                np.save(self.folder / f"{name}.npy", vecs)
                np.save(self.folder / f"{name}.ids.npy", new)
                self._segments.append((np.load(self.folder / f"{name}.npy", mmap_mode="r"), new))
            else:
                self._segments.append((vecs, new))
            self.ivf.add_with_ids(vecs, np.arange(first, first + len(new), dtype=np.int64))
            self._rebuild_lookup()
        self.meta.update(table_version=version, rows=len(current), dead=dead)
        if name:
            self.meta["segments"] = [*self.meta["segments"], name]
        self._alive = current
        self._filters.clear()
        if persist:
            self._save_index_and_meta()
        return "updated"

    def _alive_ids(self) -> np.ndarray:
        alive = getattr(self, "_alive", None)
        if alive is not None and len(alive) == self.rows:
            return alive
        # after a load: every stored id minus the dead ones is not recorded; the IVF lists
        # hold exactly the alive ids, so read them from there
        faiss = _faiss()
        inv = self.ivf.invlists
        parts = []
        for li in range(self.ivf.nlist):
            sz = inv.list_size(li)
            if sz:
                parts.append(faiss.rev_swig_ptr(inv.get_ids(li), sz).copy())
        slots = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        self._alive = np.sort(self._slot_rowid[slots])
        return self._alive

    def build(self, table: Any, *, nlist: int, persist: bool, keep_training: bool = False) -> None:
        """Train on a sample and fill from a scan of the table (memory: one read batch plus the
        SQ8 codes; the vectors go straight into a memory-mapped file). ``keep_training``:
        reuse the current centroids and quantiser ranges (same vectors under new row ids)."""
        faiss = _faiss()
        o = self.options
        n = int(table.count_rows())
        tmp = self.folder.with_name(self.folder.name + ".building")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        vec_path = tmp / "seg-000.npy"
        mm = np.lib.format.open_memmap(vec_path, mode="w+", dtype=np.float32, shape=(n, self.dim))
        ids = np.empty(n, np.int64)
        at = 0
        reader = table.search().with_row_id(True).select(["vector"]).limit(None).to_batches(o.read_batch)
        for b in reader:
            m = b.num_rows
            if at + m > n:
                raise InputError("the table changed while the FAISS sidecar was being built; run it again")
            mm[at:at + m] = b.column("vector").flatten().to_numpy(zero_copy_only=False).reshape(m, self.dim)
            ids[at:at + m] = b.column("_rowid").to_numpy().astype(np.int64)
            at += m
        mm.flush()
        del mm
        if at != n:
            raise InputError("the table changed while the FAISS sidecar was being built; run it again")
        vecs = np.load(vec_path, mmap_mode="r")
        trained_rows = n
        if keep_training and self.ivf is not None:
            ivf = self.ivf
            ivf.reset()
            nlist = int(ivf.nlist)
            trained_rows = int(self.meta.get("trained_rows", n))
        else:
            nlist = int(max(1, min(nlist, n)))
            quant = faiss.IndexFlatIP(self.dim)
            ivf = faiss.IndexIVFScalarQuantizer(quant, self.dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                                faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            sample = np.sort(rng.choice(n, min(n, max(o.train_per_partition * nlist, 20_000)), replace=False))
            ivf.train(np.ascontiguousarray(vecs[sample]))
        for a in range(0, n, o.read_batch):
            ivf.add_with_ids(np.ascontiguousarray(vecs[a:a + o.read_batch]),
                             np.arange(a, min(n, a + o.read_batch), dtype=np.int64))
        np.save(tmp / "seg-000.ids.npy", ids)
        order = np.argsort(ids)
        self.ivf = ivf
        self.meta = {"table_version": int(table.version), "rows": n, "trained_rows": trained_rows, "nlist": nlist,
                     "dim": self.dim, "dead": 0, "segments": ["seg-000"], "metric": "cosine", "quantizer": "SQ8"}
        self._alive = ids[order]
        self._filters.clear()
        if persist:
            faiss.write_index(ivf, str(tmp / "ivf.faiss"))
            (tmp / "meta.json").write_text(json.dumps(self.meta, indent=1))
            old = self.folder.with_name(self.folder.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if self.folder.exists():
                os.replace(self.folder, old)
            os.replace(tmp, self.folder)
            shutil.rmtree(old, ignore_errors=True)
            self._segments = [(np.load(self.folder / "seg-000.npy", mmap_mode="r"), ids)]
        else:
            self._segments = [(np.load(vec_path, mmap_mode="r"), ids)]
            # the memory map keeps the data readable after the folder goes
            shutil.rmtree(tmp, ignore_errors=True)
        self._rebuild_lookup()

    def _save_index_and_meta(self) -> None:
        faiss = _faiss()
        tmp = self.folder / "ivf.faiss.tmp"
        faiss.write_index(self.ivf, str(tmp))
        os.replace(tmp, self.folder / "ivf.faiss")
        mt = self.folder / "meta.json.tmp"
        mt.write_text(json.dumps(self.meta, indent=1))
        os.replace(mt, self.folder / "meta.json")

    # ---- hit metadata ------------------------------------------------------------------------
    def hit_rows(self, table: Any, row_ids: np.ndarray, columns: list[str]) -> list[dict[str, Any]]:
        """The ``columns`` of ``row_ids`` (in that order; None for a row not found) as dicts: from an
        in-memory copy of those columns kept for this table version, else one LanceDB take."""
        if not len(row_ids):
            return []
        if self.rows <= self.options.meta_cache_max_rows:
            cache = getattr(self, "_meta_cache", None)
            if cache is None or cache[0] != self.version or cache[1] != columns:
                at = table.search().with_row_id(True).select(list(columns)).limit(None).to_arrow()
                rid = at.column("_rowid").to_numpy().astype(np.int64)
                order = np.argsort(rid)
                cache = (self.version, list(columns), at.take(order), rid[order])
                self._meta_cache = cache
            _, _, at, rid = cache
            pos = np.searchsorted(rid, row_ids)
            pos = np.minimum(pos, len(rid) - 1)
            ok = rid[pos] == row_ids
            import pyarrow as pa

            return [r if good else None for r, good in zip(at.take(pa.array(pos)).to_pylist(), ok)]
        at = table.take_row_ids([int(i) for i in row_ids]).with_row_id().select(list(columns)).to_arrow()
        by_id = {int(r["_rowid"]): r for r in at.to_pylist()}
        return [by_id.get(int(i)) for i in row_ids]

    # ---- search --------------------------------------------------------------------------
    def _filter(self, table: Any, where: str, exact_max_rows: int) -> tuple[np.ndarray, Any, np.ndarray | None]:
        """(slots, IDSelector or None, vectors for the exact path or None) of ``where``."""
        hit = self._filters.get(where)
        if hit is not None:
            self._filters.move_to_end(where)
            return hit
        slots = np.sort(self.slots(_row_ids(table, where)))
        if len(slots) <= exact_max_rows:
            entry = (slots, None, self.slot_vectors(slots))
        else:  # one bit per slot (FAISS reads bit i & 7 of byte i >> 3)
            mask = np.zeros(len(self._slot_rowid), bool)
            mask[slots] = True
            bits = np.packbits(mask, bitorder="little")
            sel = _faiss().IDSelectorBitmap(len(mask), _faiss().swig_ptr(bits))
            sel._kadr_bits = bits  # FAISS keeps a pointer: the array must live as long as the selector
            entry = (slots, sel, None)
        self._filters[where] = entry
        while len(self._filters) > self.options.filter_cache:
            self._filters.popitem(last=False)
        return entry

    def search(self, table: Any, query: np.ndarray, k: int, *, nprobes: int, refine_factor: int,
               where: str | None = None, exact_max_rows: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
        """(LanceDB row ids, cosine scores) of the top ``k``, best first. ``query``: unit (D,) float32."""
        faiss = _faiss()
        q = np.ascontiguousarray(np.asarray(query, np.float32).reshape(1, -1))
        sel = None
        if where:
            slots, sel, exact_vecs = self._filter(table, where, exact_max_rows)
            if exact_vecs is not None:  # small subset: exact on its vectors
                s = _dot(exact_vecs, q[0])
                top = np.argsort(-s)[:k] if len(s) <= k else np.argpartition(-s, k)[:k]
                top = top[np.argsort(-s[top], kind="stable")]
                return self._slot_rowid[slots[top]], s[top]
        kk = int(k) * max(1, int(refine_factor))
        params = faiss.SearchParametersIVF(nprobe=int(nprobes), sel=sel) if sel is not None \
            else faiss.SearchParametersIVF(nprobe=int(nprobes))
        _, cand = self.ivf.search(q, kk, params=params)
        cand = cand[0][cand[0] >= 0]
        if not len(cand):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        s = _dot(self.slot_vectors(cand), q[0])  # the refine step: exact cosine of the candidates
        top = np.argsort(-s, kind="stable")[:k]
        return self._slot_rowid[cand[top]], s[top]
