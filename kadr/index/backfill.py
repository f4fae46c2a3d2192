"""Fill the text columns (semantic vector, description) of rows indexed without them.

Tables written before text search existed (or with ``semantic=False``) get the columns as
nulls on their next write (:meth:`Store.ensure_text_columns`); this pass fills them. The
pictures are read again: an image row from its file, a keyframe/frame row from its video at
its frame index (shrunk like at indexing, :data:`kadr.index.indexing.VIDEO_FRAME_SIZE`). A file
whose size, mtime and hash no longer match the row is not filled (its vectors would describe
other content): it is listed in ``failed`` and ``kadr index add`` re-indexes it. Rows are
rewritten per batch of files with :meth:`Store.replace_sources` (atomic commits: a kill loses
at most one batch, and a re-run continues).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from kadr.errors import KadrError
from kadr.index.schema import DESCRIPTION_COLUMN, SEMANTIC_COLUMN, content_hash, file_facts


def _pictures(source: str, rows: list[dict[str, Any]]) -> list[np.ndarray]:
    from kadr.features.preprocess import shrink_to
    from kadr.index.indexing import VIDEO_FRAME_SIZE
    from kadr.io.images import load_image
    from kadr.io.video import VideoReader

    if all(r["kind"] == "image" for r in rows):
        img = load_image(source)
        return [img for _ in rows]
    out = []
    with VideoReader(source) as reader:
        for r in rows:
            out.append(shrink_to(reader.read(frame=int(r["frame_index"])).image, VIDEO_FRAME_SIZE))
    return out


def backfill(store: Any, encoder: Any, *, describer: Any = None, progress: bool | None = None,
             commit_every: int = 64) -> dict[str, Any]:
    """Fill the missing text columns of ``encoder``'s table in ``store``; see the module doc."""
    from kadr._progress import track
    from kadr.index.text import bridge_for, open_describer, text_columns

    t0 = time.perf_counter()
    name = encoder.name
    store.ensure_text_columns(name)
    todo = store.rows(name, where=f"{SEMANTIC_COLUMN} IS NULL OR {DESCRIPTION_COLUMN} IS NULL").to_pylist()
    by_source: dict[str, list[dict[str, Any]]] = {}
    for r in todo:
        by_source.setdefault(r["source"], []).append(r)
    bridge = bridge_for(encoder)
    desc = open_describer(describer)
    report: dict[str, Any] = {"encoder": name, "rows_missing": len(todo), "rows_filled": 0, "files": len(by_source),
                              "failed": []}
    pending: list[str] = []
    new_rows: list[dict[str, Any]] = []

    def flush() -> None:
        if pending:
            store.replace_sources(name, encoder.dim, pending, new_rows)
            report["rows_filled"] += sum(1 for r in new_rows if r.get(SEMANTIC_COLUMN) is not None)
            pending.clear()
            new_rows.clear()

    for source, rows in track(list(by_source.items()), desc="backfill", unit="files", enabled=progress):
        try:
            facts = file_facts(Path(source))
            same = (facts["file_size"], facts["file_mtime_ns"]) == (rows[0]["file_size"], rows[0]["file_mtime_ns"])
            if not same and content_hash(source) != rows[0]["content_hash"]:
                raise KadrError("the file changed since it was indexed; re-index it with `kadr index add`")
            pics = _pictures(source, rows)
            logits = bridge.classifier.logits(pics)
            cols = text_columns(pics, logits, bridge, describer=desc)
        except (KadrError, OSError) as exc:
            report["failed"].append({"path": source, "error": str(exc)})
            continue
        # all rows of the file are rewritten (replace_sources works per file): keep the filled ones
        everything = store.rows(name, where="source = " + _quote(source)).to_pylist()
        fill = {r["id"]: j for j, r in enumerate(rows)}
        for r in everything:
            j = fill.get(r["id"])
            if j is not None:
                r[SEMANTIC_COLUMN] = cols.semantic[j].tolist()
                r[DESCRIPTION_COLUMN] = cols.description[j]
                r["description_vector"] = cols.description_vector[j].tolist()
            new_rows.append(r)
        pending.append(source)
        if len(pending) >= commit_every:
            flush()
    flush()
    store.maintain(name)
    report["seconds"] = round(time.perf_counter() - t0, 3)
    return report


def _quote(value: str) -> str:
    from kadr.index.store import sql_quote

    return sql_quote(value)
