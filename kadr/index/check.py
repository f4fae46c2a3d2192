"""``kadr index check [--repair]``: find (and fix) what can go wrong in an index folder.

What is checked, per folder and per encoder table:

* ``kadr_index.json`` (encoder name, dim and ANN facts per table) is readable and lists every
  table, and every table it lists exists. Repair rebuilds it from the tables themselves (the
  ``encoder`` column of a row, the vector column's list size).
* every table opens and every row of every column reads (data files deleted or truncated,
  manifests damaged). Repair restores the newest table version that still reads in full
  (LanceDB keeps old versions) and says so: files indexed after that version are missing
  and the next ``kadr index add`` indexes them again. When no version reads (the ``_versions``
  folder is gone), the table folder is moved aside to ``<name>.damaged-<time>`` so that
  ``kadr index add`` can rebuild it.
* duplicate row ids (left by concurrent writers before the write lock existed). Repair
  rewrites the rows of each affected file once, keeping the newest copy of each id.

Repairs run under the folder's write lock (:mod:`kadr.index._lock`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kadr._checks import plural
from kadr.index.schema import arrow_schema
from kadr.index.store import META_FILE, Store, _damaged, sql_quote

#: Every problem kind a report can hold.
PROBLEMS = ("meta-missing", "meta-unreadable", "meta-stale", "table-unreadable", "duplicates")


def _read_meta(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    p = path / META_FILE
    if not p.exists():
        return None, "meta-missing"
    try:
        meta = json.loads(p.read_text())
        if not isinstance(meta, dict) or not isinstance(meta.get("tables", {}), dict):
            raise ValueError("not a table list")
        return meta, None
    except (OSError, ValueError) as exc:
        return None, "meta-unreadable" if exc else None


def _read_all(table) -> int:
    """Rows of a table after reading every column of every row (raises on damaged files)."""
    return table.search().limit(None).to_arrow().num_rows


def _encoder_of(table, name: str) -> tuple[str, int]:
    dim = int(table.schema.field("vector").type.list_size)
    at = table.search().select(["encoder"]).limit(1).to_arrow()
    enc = at.column("encoder").to_pylist()[0] if at.num_rows else None
    return enc or name, dim


def _restore_readable(table) -> int | None:
    """Restore the newest version of ``table`` that reads in full; its number, or None."""
    for v in sorted((int(x["version"]) for x in table.list_versions()), reverse=True):
        try:
            table.checkout(v)
            _read_all(table)
        except Exception:  # noqa: BLE001 - any failure means this version is damaged too
            continue
        table.restore()
        return v
    return None


def _duplicates(table) -> dict[str, int]:
    """{source: number of surplus rows} over ids that occur more than once."""
    at = table.search().select(["id", "source"]).limit(None).to_arrow()
    seen: set[str] = set()
    surplus: dict[str, int] = {}
    for i, s in zip(at.column("id").to_pylist(), at.column("source").to_pylist()):
        if i in seen:
            surplus[s] = surplus.get(s, 0) + 1
        seen.add(i)
    return surplus


def _dedup_sources(table, dim: int, sources: list[str]) -> int:
    """Rewrite the rows of ``sources`` keeping the newest row per id; rows removed."""
    import pyarrow as pa

    removed = 0
    for i in range(0, len(sources), 200):
        part = sources[i:i + 200]
        where = "source IN (" + ", ".join(sql_quote(s) for s in part) + ")"
        rows = table.search().where(where).limit(None).to_arrow().to_pylist()
        keep: dict[str, dict[str, Any]] = {}
        for r in sorted(rows, key=lambda r: (r.get("added_at") is not None, r.get("added_at"))):
            keep[r["id"]] = r  # the newest copy wins
        # delete then add, two atomic commits: a kill in between leaves these files absent,
        # and the next `kadr index add` indexes them again (never duplicated, never lost)
        table.delete(where)
        table.add(pa.Table.from_pylist(list(keep.values()), schema=arrow_schema(dim)))
        removed += len(rows) - len(keep)
    return removed


def check_index(path, *, repair: bool = False, wait: float | None = None) -> dict[str, Any]:
    """Check the index folder ``path``; with ``repair`` fix what can be fixed (see module doc).

    Returns ``{"db", "ok", "problems": [{"kind", "table", "detail", "repaired", "action"}],
    "tables": [{"encoder", "table", "dim", "rows"}]}``; ``ok`` is True when nothing is (left)
    wrong."""
    store = Store(path, create=False)
    if repair:
        with store.writing(timeout=wait):
            return _check(store, True)
    return _check(store, False)


def _check(store: Store, repair: bool) -> dict[str, Any]:
    db = store._db
    problems: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []

    def problem(kind: str, table: str | None, detail: str, action: str | None = None) -> None:
        problems.append({"kind": kind, "table": table, "detail": detail, "repaired": action is not None,
                         "action": action})

    meta, meta_problem = _read_meta(store.path)
    names = [n for n in store._table_names() if n.startswith("emb_")]
    listed = {info.get("table"): enc for enc, info in (meta or {}).get("tables", {}).items()
              if isinstance(info, dict)}
    new_meta: dict[str, Any] = dict(meta or {})
    new_meta["tables"] = {enc: info for enc, info in (meta or {}).get("tables", {}).items()
                          if isinstance(info, dict) and info.get("table") in names}
    meta_dirty = False
    if meta_problem and names:
        problem(meta_problem, None, f"{META_FILE} is {meta_problem.split('-')[1]} while the folder holds "
                                    f"{len(names)} table(s)", f"rebuilt {META_FILE} from the tables" if repair else None)
        meta_dirty = True
    for tname, enc in listed.items():
        if tname not in names:
            problem("meta-stale", tname, f"{META_FILE} lists table {tname!r} of encoder {enc!r}, which is not in the "
                                         "folder", "dropped the entry" if repair else None)
            meta_dirty = True

    for name in sorted(names):
        try:
            t = db.open_table(name)
            n = _read_all(t)
        except Exception as exc:  # noqa: BLE001 - every failure to read is the finding
            detail = str(_damaged(store.path, exc)).split(" (", 1)[1].split("); run", 1)[0]
            t, action = _repair_table(store, name) if repair else (None, None)
            problem("table-unreadable", name, detail, action)
            if not repair:
                continue
            if t is None:
                new_meta["tables"] = {e: i for e, i in new_meta["tables"].items() if i.get("table") != name}
                meta_dirty = True
                continue
            n = t.count_rows()
        enc, dim = _encoder_of(t, listed.get(name, name))
        if name not in {i.get("table") for i in new_meta["tables"].values()}:
            new_meta["tables"][enc] = {"table": name, "dim": dim, "trained_rows": 0}
            meta_dirty = True
        dups = _duplicates(t)
        if dups:
            extra = sum(dups.values())
            action = None
            if repair:
                removed = _dedup_sources(t, dim, sorted(dups))
                n = t.count_rows()
                action = f"removed {plural(removed, 'duplicate row')} of {plural(len(dups), 'file')}"
            problem("duplicates", name, f"{plural(extra, 'duplicate row')} of {plural(len(dups), 'file')} "
                                        f"(e.g. {sorted(dups)[0]})", action)
        tables.append({"encoder": enc, "table": name, "dim": dim, "rows": int(n)})

    if repair and meta_dirty:
        store._write_meta(new_meta)
    store._tables.clear()
    ok = all(p["repaired"] for p in problems)
    return {"db": str(store.path), "ok": ok, "repaired": repair, "problems": problems, "tables": tables}


def _repair_table(store: Store, name: str):
    """Restore the newest readable version, else move the table folder aside. (table, action)."""
    try:
        t = store._db.open_table(name)
        v = _restore_readable(t)
    except Exception:  # noqa: BLE001 - no manifest at all: nothing to restore from
        v, t = None, None
    if v is not None:
        return t, (f"restored version {v} ({t.count_rows()} rows); run `kadr index add` again to index the files "
                   "added after it")
    src = store.path / f"{name}.lance"
    dst = store.path / f"{name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
    if src.exists():
        src.rename(dst)
    return None, f"no readable version: moved the table aside to {dst.name}; `kadr index add` rebuilds it"
