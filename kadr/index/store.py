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

import json
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from kadr._options import opt
from kadr.errors import InputError, KadrWarning, OutputError, SourceNotFoundError, missing_backend
from kadr.index.schema import META_COLUMNS, arrow_schema, table_name

#: Side file in the database folder: encoder name, dim and index training facts per table.
META_FILE = "kadr_index.json"


@dataclass
class StoreOptions:
    """How a table is searched and when its ANN index is (re)built."""

    exact_max_rows: int = opt(20_000, "tables (or filtered subsets) up to this many rows are searched exactly, without ANN index")
    nprobes: int = opt(32, "IVF partitions probed per ANN query")
    refine_factor: int = opt(10, "ANN candidates re-ranked on full vectors: k × this")
    retrain_growth: float = opt(2.0, "retrain the ANN index when the table has grown this many times since training")


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
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(f"malformed --where {where!r}: {msg}. Use SQL like "
                      "\"kind = 'keyframe' AND video LIKE '%clip%'\" on the columns "
                      f"{', '.join(META_COLUMNS)}")


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

    # ---- metadata side file ----------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        p = self.path / META_FILE
        if not p.exists():
            return {}
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return {}

    def _write_meta(self, meta: dict[str, Any]) -> None:
        p = self.path / META_FILE
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, p)

    def encoders(self) -> dict[str, dict[str, Any]]:
        """{encoder name: {"table", "dim", ...}} of the tables in this folder."""
        names = set(self._table_names())
        return {enc: info for enc, info in self._meta().get("tables", {}).items() if info.get("table") in names}

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
            t = self._db.create_table(name, schema=arrow_schema(int(dim)), exist_ok=True)
            meta = self._meta()
            meta.setdefault("tables", {})[encoder] = {"table": name, "dim": int(dim), "trained_rows": 0}
            self._write_meta(meta)
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
    def file_states(self, encoder: str) -> dict[str, tuple[int, int, str]]:
        """{source: (file_size, file_mtime_ns, content_hash)} of every indexed file."""
        at = self.rows(encoder, columns=["source", "file_size", "file_mtime_ns", "content_hash"])
        cols = [at.column(c).to_pylist() for c in ("source", "file_size", "file_mtime_ns", "content_hash")]
        return {s: (sz, mt, h) for s, sz, mt, h in zip(*cols)}

    def rows(self, encoder: str, *, where: str | None = None, columns: Sequence[str] | None = None):
        """An Arrow table of the rows matching ``where`` (all columns by default)."""
        t = self.table(encoder)
        q = t.search()
        if where:
            q = q.where(where)
        if columns:
            q = q.select(list(columns))
        try:
            return q.limit(None).to_arrow()
        except (ValueError, RuntimeError, OSError) as exc:
            if where:
                raise _bad_filter(where, exc) from None
            raise

    def count(self, encoder: str, where: str | None = None) -> int:
        t = self.table(encoder)
        try:
            return int(t.count_rows(where) if where else t.count_rows())
        except (ValueError, RuntimeError) as exc:
            raise _bad_filter(where or "", exc) from None

    # ---- writing -----------------------------------------------------------------------
    def replace_sources(self, encoder: str, dim: int, sources: Iterable[str], rows: list[dict[str, Any]]) -> None:
        """Delete every row of ``sources`` then append ``rows`` (two LanceDB commits, each atomic).

        A kill between the two leaves those files absent, so a re-run indexes them again:
        never duplicated, never lost after the re-run."""
        import pyarrow as pa

        t = self.table(encoder, dim, create=True)
        sources = list(dict.fromkeys(sources))
        for i in range(0, len(sources), 500):
            part = sources[i:i + 500]
            t.delete("source IN (" + ", ".join(sql_quote(s) for s in part) + ")")
        if rows:
            t.add(pa.Table.from_pylist(rows, schema=arrow_schema(dim)))

    def delete_sources(self, encoder: str, sources: Iterable[str]) -> int:
        t = self.table(encoder)
        before = t.count_rows()
        sources = list(sources)
        for i in range(0, len(sources), 500):
            t.delete("source IN (" + ", ".join(sql_quote(s) for s in sources[i:i + 500]) + ")")
        return before - t.count_rows()

    def delete_where(self, encoder: str, where: str) -> int:
        t = self.table(encoder)
        before = t.count_rows()
        try:
            t.delete(where)
        except (ValueError, RuntimeError) as exc:
            raise _bad_filter(where, exc) from None
        return before - t.count_rows()

    # ---- ANN index maintenance -------------------------------------------------------
    def has_ann(self, encoder: str) -> bool:
        t = self.table(encoder)
        return any("vector" in getattr(ix, "columns", []) for ix in t.list_indices())

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
        return action

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
    def search(self, encoder: str, query: np.ndarray, *, k: int = 10, where: str | None = None,
               min_score: float | None = None) -> list[Hit]:
        """Top-``k`` rows by cosine similarity to the L2-normalised ``query`` (D,)."""
        t = self.table(encoder)
        q = np.asarray(query, np.float32).reshape(-1)
        dim = int(self.encoders()[encoder]["dim"])
        if q.shape[0] != dim:
            raise InputError(f"query has {q.shape[0]} dims but the table of {encoder!r} holds {dim}-d vectors")
        if int(k) < 1:
            raise InputError(f"k must be >= 1, got {k}")
        builder = t.search(q, vector_column_name="vector").distance_type("cosine").limit(int(k))
        cols = [c for c in META_COLUMNS if c not in ("added_at",)] + ["_distance"]
        builder = builder.select(cols)
        exact = not self.has_ann(encoder)
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
        hits = []
        for i, r in enumerate(res.to_pylist()):
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
