"""The embedded LanceDB store: one table per encoder in a folder on disk.

Search strategy (measured in ``benchmarks/results/search.md``):

* up to :attr:`StoreOptions.exact_max_rows` rows a table has no ANN index and every search
  is exact (a flat cosine scan inside LanceDB);
* above it an **IVF-SQ** index is trained (one partition per ~4096 rows, 8-bit scalar
  quantisation, cosine; why not PQ: :meth:`Store.ann_params`) and searched with ``nprobes``
  partitions and a ``refine_factor`` re-rank of the candidates on the full vectors;
* with a ``where`` filter the rows are filtered *before* the vector search (prefilter; a
  bitmap index on ``kind`` keeps kind filters cheap); when the filter keeps at most
  ``exact_max_rows`` rows the search is exact on them instead (see the benchmark);
* rows added after training are searched exactly until :meth:`Store.maintain` folds them into
  the index (``optimize``); when the table has grown ``retrain_growth``× since training the
  index is trained again (the partition centroids no longer fit the data: drift).
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from kadr._options import opt
from kadr.errors import (IndexDamagedError, InputError, KadrError, KadrWarning, OutputError, SourceNotFoundError,
                         missing_backend)
from kadr.index.schema import (DESCRIPTION_COLUMN, META_COLUMNS, TEXT_COLUMNS, TEXT_DIM, arrow_schema, table_name,
                               text_fields)

#: Side file in the database folder: encoder name, dim and index training facts per table.
META_FILE = "kadr_index.json"


#: ANN engines of :class:`StoreOptions` (``engine``).
ENGINES = ("auto", "faiss", "lance")


@dataclass
class StoreOptions:
    """How a table is searched and when its ANN index is (re)built."""

    exact_max_rows: int = opt(20_000, "tables (or filtered subsets) up to this many rows are searched exactly, without ANN index")
    nprobes: int = opt(32, "IVF partitions probed per ANN query")
    refine_factor: int = opt(10, "ANN candidates re-ranked on full vectors: k × this")
    retrain_growth: float = opt(2.0, "retrain the ANN index when the table has grown this many times since training")
    engine: str = opt("auto", "ANN engine above exact_max_rows: 'faiss' (a FAISS IVF-SQ sidecar beside the table, "
                              "kadr/index/faiss_sidecar.py), 'lance' (LanceDB's own IVF-SQ index), 'auto' (faiss when "
                              "faiss-cpu is installed, else lance); both use the same partitions, probes and refine")

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise InputError(f"unknown search engine {self.engine!r}; choose one of {', '.join(ENGINES)}")


@dataclass
class Hit:
    """One search result. ``score`` is the cosine similarity in [-1, 1] (higher is closer)."""

    rank: int
    score: float
    metric: str
    id: str
    source: str
    kind: str
    video: str | None = None
    frame_index: int | None = None
    time: float | None = None
    shot_index: int | None = None
    width: int | None = None
    height: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lancedb():
    try:
        import lancedb
    except ImportError:
        raise missing_backend("lancedb") from None
    return lancedb


def _bad_filter(where: str, exc: Exception) -> InputError:
    if any(d in str(exc) for d in _DAMAGE[:6]):
        raise exc  # the files are damaged, not the filter: _guarded reports it
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(f"malformed --where {where!r}: {msg}. Use SQL like "
                      "\"kind = 'keyframe' AND video LIKE '%clip%'\" on the columns "
                      f"{', '.join(META_COLUMNS)}")


#: Row columns copied into a :class:`Hit`.
HIT_COLUMNS = ("id", "source", "kind", "video", "frame_index", "time", "shot_index", "width", "height")


def _run_query(builder: Any, where: str | None) -> list[dict[str, Any]]:
    """Rows of a LanceDB query; a failing ``where`` becomes the one-line filter error."""
    try:
        return builder.to_arrow().to_pylist()
    except (ValueError, RuntimeError) as exc:
        if where:
            raise _bad_filter(where, exc) from None
        raise


def _versions_stamp(db: Path, table: Any) -> int | None:
    """mtime (ns) of the table's ``_versions`` folder, or None when it is not a local folder."""
    try:
        return os.stat(db / f"{table.name}.lance" / "_versions").st_mtime_ns
    except (OSError, AttributeError, TypeError):
        return None


def check_where(where: str | None) -> str | None:
    """``where`` unchanged, or InputError when it holds a ``;`` outside a string literal: LanceDB
    silently ignored everything after one (``"kind = 'image'; DROP ..."`` searched all kinds)."""
    if where is None:
        return None
    if ";" in re.sub(r"'(?:[^']|'')*'", "''", str(where)):
        raise InputError(f"--where {where!r} contains ';': give one SQL condition (combine several with AND / OR), "
                         "not several statements")
    return where


#: Lance error texts that mean the files on disk are damaged, not that the query is wrong.
_DAMAGE = ("LanceError(IO)", "Not found:", "not found", "failed to fill", "does not have sufficient data",
           "Corrupt", "corrupt", "manifest", "No such file")


def _damaged(path: Path, exc: BaseException) -> IndexDamagedError:
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    msg = re.sub(r",\s*/\S+\.rs:\d+:\d+", "", msg).replace("lance error: ", "")
    return IndexDamagedError(f"the index at {str(path)!r} is damaged ({msg[:200]}); run `kadr index check --db {path}` "
                             "to see what is wrong and `kadr index check --repair --db ...` to fix it")


def _is_damage(exc: BaseException) -> bool:
    return isinstance(exc, (RuntimeError, OSError)) or any(d in str(exc) for d in _DAMAGE)


def _guarded(fn):
    """Store methods: a LanceDB failure on damaged files becomes one IndexDamagedError line."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except KadrError:
            raise
        except (RuntimeError, OSError, ValueError) as exc:
            if isinstance(exc, ValueError) and not _is_damage(exc):
                raise
            raise _damaged(self.path, exc) from None

    return wrapper


def sql_quote(value: str) -> str:
    """A SQL string literal (single quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


class Store:
    """The LanceDB folder: open/create tables, write rows, delete by source, search vectors."""

    def __init__(self, path: str | os.PathLike, *, options: StoreOptions | None = None, create: bool = True):
        self.path = Path(path).expanduser()
        self.options = options or StoreOptions()
        if not self.path.exists():
            if not create:
                raise SourceNotFoundError(f"no index at {str(self.path)!r}; create one with `kadr index add PATHS --db {self.path}`")
            try:
                self.path.mkdir(parents=True)
            except OSError as exc:
                raise OutputError(f"cannot create the index folder {str(self.path)!r}: {exc}") from None
        elif not self.path.is_dir():
            raise InputError(f"{str(self.path)!r} is a file; --db needs a folder")
        self._db = _lancedb().connect(str(self.path))
        self._tables: dict[str, Any] = {}
        self._sidecars: dict[str, Any] = {}
        self._lock = None

    # ---- write lock ------------------------------------------------------------------
    @contextmanager
    def writing(self, timeout: float | None = None):
        """Hold the folder's write lock (:mod:`kadr.index._lock`) for the block: other writers
        wait. Table handles are reopened on entry, so the block sees every earlier commit."""
        from kadr.index._lock import WriteLock

        if self._lock is None:
            self._lock = WriteLock(self.path)
        self._lock.timeout = timeout
        first = not self._lock.held
        self._lock.acquire()
        try:
            if first:
                self._tables.clear()
            yield self
        finally:
            self._lock.release()

    # ---- metadata side file ----------------------------------------------------------
    def _meta(self, *, strict: bool = True) -> dict[str, Any]:
        """The side file; when it is missing or unreadable while the folder holds kadr tables,
        IndexDamagedError (``strict``) or ``{}``. ``kadr index check --repair`` rebuilds it."""
        p = self.path / META_FILE
        try:
            meta = json.loads(p.read_text()) if p.exists() else None
            if meta is not None and not isinstance(meta.get("tables", {}), dict):
                raise ValueError("no table list")
        except (OSError, ValueError, AttributeError):
            meta, what = None, "unreadable"
        else:
            what = "missing"
        if meta is None:
            if strict and any(n.startswith("emb_") for n in self._table_names()):
                raise IndexDamagedError(
                    f"the index at {str(self.path)!r} holds tables but its {META_FILE} is {what}; run "
                    f"`kadr index check --repair --db {self.path}` to rebuild it from the tables")
            return {}
        return meta

    def _write_meta(self, meta: dict[str, Any]) -> None:
        p = self.path / META_FILE
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, p)

    @_guarded
    def encoders(self) -> dict[str, dict[str, Any]]:
        """{encoder name: {"table", "dim", ...}} of the tables in this folder."""
        names = set(self._table_names())
        return {enc: info for enc, info in self._meta().get("tables", {}).items() if info.get("table") in names}

    @_guarded
    def _table_names(self) -> list[str]:
        out: list[str] = []
        token = None
        while True:
            resp = self._db.list_tables(page_token=token) if token else self._db.list_tables()
            out.extend(resp.tables)
            token = getattr(resp, "page_token", None)
            if not token:
                return out

    # ---- tables ----------------------------------------------------------------------
    @_guarded
    def table(self, encoder: str, dim: int | None = None, *, create: bool = False):
        """The table of ``encoder``; with ``create`` it is made (``dim`` required) if absent.
        A dim differing from the stored one is an error (same name, different model)."""
        if encoder in self._tables:
            return self._tables[encoder]
        known = self.encoders()
        if encoder in known:
            if dim is not None and int(known[encoder]["dim"]) != int(dim):
                raise InputError(f"the table of encoder {encoder!r} holds {known[encoder]['dim']}-d vectors but the "
                                 f"encoder gives {dim}-d ones; index into a new --db folder")
            t = self._db.open_table(known[encoder]["table"])
        elif create:
            if dim is None:
                raise InputError("creating a table needs the embedding dim")
            name = table_name(encoder)
            # the side file first: a reader never sees a table without its entry (an entry
            # without its table is ignored, see encoders())
            meta = self._meta()
            meta.setdefault("tables", {})[encoder] = {"table": name, "dim": int(dim), "trained_rows": 0}
            self._write_meta(meta)
            t = self._db.create_table(name, schema=arrow_schema(int(dim)), exist_ok=True)
        else:
            if not known:
                raise InputError(f"the index at {str(self.path)!r} is empty; add files with `kadr index add PATHS --db {self.path}`")
            raise InputError(f"the index at {str(self.path)!r} was built with encoder(s) {', '.join(sorted(known))}, "
                             f"not {encoder!r}; pass --encoder {sorted(known)[0]} (or index with --encoder {encoder})")
        self._tables[encoder] = t
        return t

    def default_encoder(self) -> str:
        """The only encoder of this folder (error when none or several)."""
        known = sorted(self.encoders())
        if not known:
            raise InputError(f"the index at {str(self.path)!r} is empty; add files with `kadr index add PATHS --db {self.path}`")
        if len(known) > 1:
            raise InputError(f"the index at {str(self.path)!r} has tables for {', '.join(known)}; choose one with --encoder")
        return known[0]

    # ---- reading -----------------------------------------------------------------------
    @_guarded
    def file_states(self, encoder: str) -> dict[str, tuple[int, int, str]]:
        """{source: (file_size, file_mtime_ns, content_hash)} of every indexed file."""
        at = self.rows(encoder, columns=["source", "file_size", "file_mtime_ns", "content_hash"])
        cols = [at.column(c).to_pylist() for c in ("source", "file_size", "file_mtime_ns", "content_hash")]
        return {s: (sz, mt, h) for s, sz, mt, h in zip(*cols)}

    @_guarded
    def rows(self, encoder: str, *, where: str | None = None, columns: Sequence[str] | None = None):
        """An Arrow table of the rows matching ``where`` (all columns by default)."""
        t = self.table(encoder)
        q = t.search()
        if check_where(where):
            q = q.where(where)
        if columns:
            q = q.select(list(columns))
        try:
            return q.limit(None).to_arrow()
        except (ValueError, RuntimeError, OSError) as exc:
            if where:
                raise _bad_filter(where, exc) from None
            raise

    @_guarded
    def count(self, encoder: str, where: str | None = None) -> int:
        check_where(where)
        t = self.table(encoder)
        try:
            return int(t.count_rows(where) if where else t.count_rows())
        except (ValueError, RuntimeError) as exc:
            raise _bad_filter(where or "", exc) from None

    # ---- writing -----------------------------------------------------------------------
    @_guarded
    def replace_sources(self, encoder: str, dim: int, sources: Iterable[str], rows: list[dict[str, Any]]) -> None:
        """Delete every row of ``sources`` then append ``rows`` (two LanceDB commits, each atomic).

        A kill between the two leaves those files absent, so a re-run indexes them again:
        never duplicated, never lost after the re-run."""
        import pyarrow as pa

        t = self.table(encoder, dim, create=True)
        self.ensure_text_columns(encoder)
        sources = list(dict.fromkeys(sources))
        for i in range(0, len(sources), 500):
            part = sources[i:i + 500]
            t.delete("source IN (" + ", ".join(sql_quote(s) for s in part) + ")")
        if rows:
            t.add(pa.Table.from_pylist(rows, schema=arrow_schema(dim)))

    @_guarded
    def delete_sources(self, encoder: str, sources: Iterable[str]) -> int:
        t = self.table(encoder)
        before = t.count_rows()
        sources = list(sources)
        for i in range(0, len(sources), 500):
            t.delete("source IN (" + ", ".join(sql_quote(s) for s in sources[i:i + 500]) + ")")
        return before - t.count_rows()

    @_guarded
    def delete_where(self, encoder: str, where: str) -> int:
        check_where(where)
        t = self.table(encoder)
        before = t.count_rows()
        try:
            t.delete(where)
        except (ValueError, RuntimeError) as exc:
            raise _bad_filter(where, exc) from None
        return before - t.count_rows()

    # ---- text columns (issue 13) ------------------------------------------------------
    def has_text_columns(self, encoder: str) -> bool:
        """True when the table has the semantic / description columns (tables made before them do not)."""
        names = set(self.table(encoder).schema.names)
        return all(c in names for c in TEXT_COLUMNS)

    def ensure_text_columns(self, encoder: str) -> bool:
        """Add the text columns (null) to a table made before they existed; True when added."""
        if self.has_text_columns(encoder):
            return False
        t = self.table(encoder)
        missing = [f for f in text_fields() if f.name not in set(t.schema.names)]
        t.add_columns(missing)
        return True

    def text_coverage(self, encoder: str, column: str) -> tuple[int, int]:
        """(rows with a value in ``column``, all rows); (0, n) when the column does not exist."""
        t = self.table(encoder)
        n = int(t.count_rows())
        if column not in set(t.schema.names):
            return 0, n
        return n - int(t.count_rows(f"{column} IS NULL")), n

    def fulltext(self, encoder: str, text: str, *, k: int = 10, where: str | None = None) -> list[Hit]:
        """Top-``k`` rows by LanceDB full-text search (BM25) of ``text`` in the description column."""
        t = self.table(encoder)
        if not self.has_text_columns(encoder):
            return []
        if not any(DESCRIPTION_COLUMN in getattr(ix, "columns", []) for ix in t.list_indices()):
            with self.writing():  # building the index is a write: take the folder's lock like every writer
                self.build_fts(encoder)
            t = self.table(encoder)
        cols = [c for c in META_COLUMNS if c not in ("added_at",)]
        q = t.search(text, query_type="fts", fts_columns=DESCRIPTION_COLUMN).select([*cols, "_score"]).limit(int(k))
        rows = _run_query(q.where(where, prefilter=True) if where else q, where)
        return [Hit(rank=i + 1, score=round(float(r.get("_score") or 0.0), 6), metric="bm25",
                    **{c: r[c] for c in HIT_COLUMNS}) for i, r in enumerate(rows)]

    def build_fts(self, encoder: str) -> None:
        """(Re)build the full-text index of the description column (LanceDB native FTS, stemmed)."""
        from lancedb.index import FTS

        t = self.table(encoder)
        if self.has_text_columns(encoder) and t.count_rows() > 0:
            t.create_index(DESCRIPTION_COLUMN, config=FTS(), replace=True)

    def vectors(self, encoder: str, ids: Sequence[str], columns: Sequence[str]) -> dict[str, dict[str, Any]]:
        """{id: {column: value}} for the rows ``ids`` (used to score candidates on other columns)."""
        out: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            at = self.rows(encoder, where="id IN (" + ", ".join(sql_quote(x) for x in part) + ")",
                           columns=["id", *columns])
            for r in at.to_pylist():
                out[r["id"]] = r
        return out

    # ---- ANN index maintenance -------------------------------------------------------
    @_guarded
    def has_ann(self, encoder: str) -> bool:
        t = self.table(encoder)
        return any("vector" in getattr(ix, "columns", []) for ix in t.list_indices())

    @_guarded
    def maintain(self, encoder: str, *, force: bool = False) -> str:
        """Create / refresh / retrain the ANN index as the size rules say. Returns what was done:
        ``none`` (small table), ``created``, ``retrained``, ``optimized`` or ``ok``."""
        o = self.options
        t = self.table(encoder)
        n = t.count_rows()
        meta = self._meta()
        info = meta.get("tables", {}).get(encoder, {})
        dim = int(info.get("dim", 0))
        has = self.has_ann(encoder)
        if n <= o.exact_max_rows and not force:
            if has:  # the table shrank: exact search is both faster and exact
                for ix in t.list_indices():
                    if "vector" in ix.columns:
                        t.drop_index(ix.name)
            action = "none"
        elif not has or n >= o.retrain_growth * max(1, int(info.get("trained_rows", 0))):
            self.build_ann(t, n, dim)
            info["trained_rows"] = n
            action = "retrained" if has else "created"
        else:
            unindexed = self._unindexed(t)
            if unindexed > 0:
                t.optimize()
                action = "optimized"
            else:
                action = "ok"
        if info:
            meta.setdefault("tables", {})[encoder] = info
            self._write_meta(meta)
        if self.has_text_columns(encoder) and self.text_coverage(encoder, DESCRIPTION_COLUMN)[0]:
            self.build_fts(encoder)  # small next to embedding; keeps full-text search complete
        self._sync_sidecar(encoder, persist=True)
        return action

    # ---- FAISS sidecar (kadr/index/faiss_sidecar.py) -----------------------------------
    def _use_faiss(self) -> bool:
        from kadr.index.faiss_sidecar import faiss_available

        if self.options.engine == "lance":
            return False
        if self.options.engine == "faiss" and not faiss_available():
            from kadr.errors import missing_backend

            raise missing_backend("faiss")
        return faiss_available()

    def _sync_sidecar(self, encoder: str, *, persist: bool):
        """The FAISS sidecar of ``encoder`` brought to the table version, or None when the
        table is small (exact search) or the engine is LanceDB's. ``persist``: write the files
        (the writer does); a reader only updates its in-memory copy."""
        from kadr.index.faiss_sidecar import SIDECAR_DIR, FaissSidecar

        t = self.table(encoder)
        sc = self._sidecars.get(encoder)
        if sc is not None and not persist:
            # the per-query path: a commit adds a manifest to <table>.lance/_versions, so an
            # unchanged folder stamp means an unchanged version (one stat instead of a call
            # into LanceDB's runtime thread, which costs milliseconds on a busy machine)
            stamp = _versions_stamp(self.path, t)
            # (a stamp younger than 50 ms is checked anyway: file times tick coarsely)
            if stamp is not None and stamp == getattr(sc, "_stamp", None) and time.time_ns() - stamp > 50_000_000:
                return sc
            if sc.version == t.version:
                sc._stamp = stamp
                return sc
        info = self.encoders()[encoder]
        folder = self.path / SIDECAR_DIR / info["table"]
        if not self._use_faiss() or t.count_rows() <= self.options.exact_max_rows:
            self._sidecars.pop(encoder, None)
            if persist and folder.exists():
                import shutil

                shutil.rmtree(folder, ignore_errors=True)
            return None
        if sc is None:
            sc = self._sidecars[encoder] = FaissSidecar(folder, int(info["dim"]))
        stamp = _versions_stamp(self.path, t)
        if sc.version != t.version or persist:
            p = self.ann_params(t.count_rows(), int(info["dim"]))
            sc.sync(t, nlist=p["num_partitions"], retrain_growth=self.options.retrain_growth, persist=persist)
        sc._stamp = stamp
        return sc

    def sidecar_info(self, encoder: str) -> dict[str, Any] | None:
        """The persisted FAISS sidecar's facts (table version, rows, partitions...) or None."""
        from kadr.index.faiss_sidecar import SIDECAR_DIR

        info = self.encoders().get(encoder)
        p = self.path / SIDECAR_DIR / info["table"] / "meta.json" if info else None
        if p is None or not p.exists():
            return None
        try:
            meta = json.loads(p.read_text())
        except (OSError, ValueError):
            return None
        return {k: meta.get(k) for k in ("table_version", "rows", "nlist", "trained_rows", "dead", "quantizer")}

    def _faiss_search(self, sc, encoder: str, q: np.ndarray, k: int, where: str | None) -> list[dict[str, Any]]:
        t = self.table(encoder)
        o = self.options
        try:
            ids, scores = sc.search(t, q, k, nprobes=o.nprobes, refine_factor=o.refine_factor, where=where,
                                    exact_max_rows=o.exact_max_rows)
        except (ValueError, RuntimeError, OSError) as exc:
            if where:
                raise _bad_filter(where, exc) from None
            raise
        if not len(ids):
            return []
        cols = ["id", "source", "kind", "video", "frame_index", "time", "shot_index", "width", "height"]
        rows = sc.hit_rows(t, ids, cols)
        return [{**r, "_distance": 1.0 - float(s)} for r, s in zip(rows, scores) if r is not None]

    @staticmethod
    def ann_params(n: int, dim: int) -> dict[str, Any]:
        """IVF-SQ parameters for ``n`` vectors of ``dim``: one partition per ~4096 rows (244 at
        1M), 8-bit scalar quantisation of each dimension, cosine.

        Why SQ and not PQ: on 100k clustered 512-d vectors (LanceDB 0.40, this machine) IVF-SQ
        trained in 8 s and gave recall@10 1.00 (refine 5 or 10, 32 probes, p50 12 ms), IVF-PQ
        with 64 sub-vectors needed 62 s at 10 k-means iterations (771 s at the default 50 under
        load) and 0.87 / 1.00 at refine 5 / 10. SQ costs D bytes per row (PQ: D/8)."""
        parts = int(max(1, round(n / 4096)))
        return {"index_type": "IVF_SQ", "distance_type": "cosine", "num_partitions": parts}

    def build_ann(self, table: Any, n: int, dim: int) -> None:
        from lancedb.index import Bitmap, IvfSq

        p = self.ann_params(n, dim)
        p.pop("index_type")
        table.create_index("vector", replace=True, config=IvfSq(**p))
        # a bitmap index on the low-cardinality kind column makes kind filters cheap prefilters
        table.create_index("kind", replace=True, config=Bitmap())

    @staticmethod
    def _unindexed(table: Any) -> int:
        for ix in table.list_indices():
            if "vector" in ix.columns:
                st = table.index_stats(ix.name)
                return int(getattr(st, "num_unindexed_rows", 0) or 0)
        return 0

    # ---- search ------------------------------------------------------------------------
    @_guarded
    def search(self, encoder: str, query: np.ndarray, *, k: int = 10, where: str | None = None,
               min_score: float | None = None, column: str = "vector") -> list[Hit]:
        """Top-``k`` rows by cosine similarity to the L2-normalised ``query`` (D,) in the vector
        ``column`` (``vector``, or a text-space column: ``semantic``, ``description_vector``)."""
        t = self.table(encoder)
        q = np.asarray(query, np.float32).reshape(-1)
        fast = None
        if column == "vector":
            fast = self._sync_sidecar(encoder, persist=False) if self._use_faiss() else None
            dim = fast.dim if fast is not None else int(self.encoders()[encoder]["dim"])
        elif column in TEXT_COLUMNS and column != DESCRIPTION_COLUMN:
            dim = TEXT_DIM
            if not self.has_text_columns(encoder):
                raise InputError(f"the table of {encoder!r} has no {column} column (made before text search "
                                 f"existed); fill it with `kadr index backfill --db {self.path}`")
            nulls = f"{column} IS NOT NULL"
            where = f"({where}) AND {nulls}" if where else nulls
        else:
            raise InputError(f"column must be vector, semantic or description_vector, got {column!r}")
        if q.shape[0] != dim:
            raise InputError(f"query has {q.shape[0]} dims but the table of {encoder!r} holds {dim}-d vectors")
        if int(k) < 1:
            raise InputError(f"k must be >= 1, got {k}")
        if not np.isfinite(q).all() or not np.any(q):
            raise InputError("the query vector holds NaN/inf or is all zeros; give a finite, non-zero vector")
        check_where(where)
        if fast is not None:
            return self._hits(self._faiss_search(fast, encoder, q, int(k), where), min_score)
        builder = t.search(q, vector_column_name=column).distance_type("cosine").limit(int(k))
        cols = [c for c in META_COLUMNS if c not in ("added_at",)] + ["_distance"]
        builder = builder.select(cols)
        exact = column != "vector" or not self.has_ann(encoder)
        if where:
            builder = builder.where(where, prefilter=True)
            if not exact and self.count(encoder, where) <= self.options.exact_max_rows:
                exact = True
        if exact:
            builder = builder.bypass_vector_index()
        else:
            builder = builder.nprobes(self.options.nprobes).refine_factor(self.options.refine_factor)
        try:
            res = builder.to_arrow()
        except (ValueError, RuntimeError) as exc:
            if where:
                raise _bad_filter(where, exc) from None
            raise
        return self._hits(res.to_pylist(), min_score)

    @staticmethod
    def _hits(rows: list[dict[str, Any]], min_score: float | None) -> list[Hit]:
        hits = []
        for i, r in enumerate(rows):
            score = 1.0 - float(r["_distance"])
            if min_score is not None and score < min_score:
                break
            hits.append(Hit(rank=i + 1, score=round(score, 6), metric="cosine", id=r["id"], source=r["source"],
                            kind=r["kind"], video=r["video"], frame_index=r["frame_index"], time=r["time"],
                            shot_index=r["shot_index"], width=r["width"], height=r["height"]))
        return hits

    def compact(self, encoder: str) -> None:
        """Merge small fragments left by many commits (keeps reads fast after long indexing)."""
        t = self.table(encoder)
        try:
            t.optimize()
        except Exception as exc:  # compaction is an optimisation only; the data is safe
            warnings.warn(f"compaction of {encoder!r} failed ({exc}); searches still work", KadrWarning, stacklevel=2)
        self._sync_sidecar(encoder, persist=True)  # compaction moved the version (and the row ids)
