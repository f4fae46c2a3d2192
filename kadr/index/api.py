"""``kadr.Index``: the Python face of the store — add, remove, stats, search, dedup."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from kadr.errors import InputError
from kadr.features.base import Encoder, l2_normalise
from kadr.features import DEFAULT as DEFAULT_ENCODER, resolve_encoder
from kadr.index.indexing import AddReport, add_files
from kadr.index.schema import source_text
from kadr.index.store import Hit, Store, StoreOptions
from kadr.io.video import load_frame_ref

#: How several query vectors (images, text, frames) are combined into one.
COMBINE_MODES = ("mean", "max")


class Index:
    """An image/keyframe database in a folder (embedded LanceDB, nothing to start).

    >>> idx = Index("photos.db")                       # encoder: the table's, else effnet-lite0
    >>> idx.add(["photos/", "clips/"])                 # resumable and idempotent
    >>> idx.search(image="query.jpg", k=5, where="kind = 'image'", min_score=0.5)
    """

    def __init__(self, path: str | os.PathLike, encoder: str | Encoder | None = None, *,
                 options: StoreOptions | None = None, create: bool = True):
        self.store = Store(path, options=options, create=create)
        self._encoder: Encoder | None = encoder if isinstance(encoder, Encoder) else None
        if encoder is None:
            known = self.store.encoders()
            self.encoder_name = self.store.default_encoder() if known else DEFAULT_ENCODER
        else:
            self.encoder_name = encoder.name if isinstance(encoder, Encoder) else str(encoder)

    @property
    def path(self) -> Path:
        return self.store.path

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = resolve_encoder(self.encoder_name)
            self.encoder_name = self._encoder.name
        return self._encoder

    def _check_table(self) -> None:
        """Fail fast (before loading a model) when the table of this encoder does not exist."""
        self.store.table(self.encoder_name)

    # ---- writing ---------------------------------------------------------------------------
    def add(self, paths: str | os.PathLike | Iterable[str | os.PathLike], *, video_mode: str = "keyframes",
            commit_every: int = 64, progress: bool | None = None, ray: str | None = None,
            ray_options: Any = None, wait: float | None = None, semantic: bool = True,
            describer: str | None = None) -> AddReport:
        """Index image/video files and folders. Unchanged files are skipped, changed ones
        replaced, unreadable ones listed in ``report.failed``. One writer at a time: another
        one's run is waited for (``wait`` seconds at most; ``None`` = as long as it takes).
        With ``semantic`` each row also gets its text columns (semantic vector, description:
        :mod:`kadr.index.text`); ``describer`` is ``"measured"`` (default) or ``"caption:/model/folder"``.

        ``ray``: run on a Ray cluster instead (its address ``HOST:PORT``, ``auto``, or
        ``local`` for a Ray started here; :mod:`kadr.index.ray_indexing`, options in
        :class:`~kadr.index.ray_indexing.RayOptions`). Same rows (text columns with the measured
        description), same resumability."""
        from kadr.index.text import open_describer

        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        if ray is not None:
            from kadr.index.ray_indexing import add_files_ray

            with self.store.writing(timeout=wait):
                return add_files_ray(self.store, self.encoder, list(paths), address=ray, video_mode=video_mode,
                                     options=ray_options, progress=progress)
        desc = open_describer(describer) if semantic else None
        return add_files(self.store, self.encoder, list(paths), video_mode=video_mode,
                         commit_every=commit_every, progress=progress, wait=wait, semantic=semantic, describer=desc)

    def backfill(self, *, describer: str | None = None, progress: bool | None = None,
                 commit_every: int = 64, wait: float | None = None) -> dict[str, Any]:
        """Fill the text columns of rows that lack them (tables indexed before text search, or with
        ``semantic=False``): re-reads each file (an image, or the row's video frame). Files that are
        gone or changed since indexing are listed in ``failed`` (re-index them with ``add``).
        Holds the folder's write lock like ``add`` (``wait`` seconds at most)."""
        from kadr.index.backfill import backfill

        self._check_table()
        with self.store.writing(timeout=wait):
            return backfill(self.store, self.encoder, describer=describer, progress=progress,
                            commit_every=commit_every)

    def remove(self, paths: str | os.PathLike | Iterable[str | os.PathLike], *,
               wait: float | None = None) -> dict[str, Any]:
        """Delete the rows of files, or of every file under folders (the files need not exist)."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        self._check_table()
        with self.store.writing(timeout=wait):
            return self._remove_locked(paths)

    def _remove_locked(self, paths) -> dict[str, Any]:
        sources = self.store.file_states(self.encoder_name)
        doomed: list[str] = []
        unmatched: list[str] = []
        for raw in paths:
            p = source_text(Path(raw).expanduser().resolve())
            hit = [s for s in sources if s == p or s.startswith(p.rstrip(os.sep) + os.sep)]
            (doomed.extend(hit) if hit else unmatched.append(str(raw)))
        rows = self.store.delete_sources(self.encoder_name, doomed) if doomed else 0
        if rows:
            self.store.maintain(self.encoder_name)
        return {"files_removed": len(set(doomed)), "rows_removed": rows, "not_in_index": unmatched}

    # ---- reading ---------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Per encoder table: rows, files, rows per kind, videos, dim, ANN index state, disk size."""
        out: dict[str, Any] = {"db": str(self.path), "tables": []}
        for enc, info in sorted(self.store.encoders().items()):
            t = self.store.table(enc)
            at = self.store.rows(enc, columns=["source", "kind", "video"])
            kinds: dict[str, int] = {}
            for k in at.column("kind").to_pylist():
                kinds[k] = kinds.get(k, 0) + 1
            ann = None
            for ix in t.list_indices():
                if "vector" in ix.columns:
                    st = t.index_stats(ix.name)
                    ann = {"type": str(getattr(ix, "index_type", "")), "indexed_rows": int(st.num_indexed_rows),
                           "unindexed_rows": int(st.num_unindexed_rows), **self.store.ann_params(at.num_rows, int(info["dim"]))}
            side = self.store.sidecar_info(enc)
            out["tables"].append({
                "encoder": enc, "table": info["table"], "dim": int(info["dim"]), "rows": at.num_rows,
                "files": len(set(at.column("source").to_pylist())),
                "videos": len({v for v in at.column("video").to_pylist() if v}), "kinds": kinds,
                "search": ("ann (IVF-SQ, FAISS sidecar)" if side else "ann (IVF-SQ)") if ann else "exact",
                "ann_index": ann, "faiss_sidecar": side, "version": int(t.version),
            })
        out["disk_bytes"] = sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())
        return out

    def embed_queries(self, images: Sequence[Any] = (), *, texts: Sequence[str] = (),
                      frames: Sequence[str] = ()) -> np.ndarray:
        """(n, D) query vectors from images (paths/arrays), texts and ``clip.mp4@12s`` frame refs,
        in the space of the table's ``vector`` column (text needs an encoder with a text tower)."""
        from kadr.features.base import check_texts

        self._check_table()
        parts = []
        if texts:
            texts = check_texts(list(texts))
            if not self.encoder.supports_text:
                raise InputError(f"encoder {self.encoder_name!r} of this index has no text tower; text queries go "
                                 "through the semantic columns: Index.search(text=...)")
            parts.append(np.asarray(self.encoder.encode_text(list(texts)), np.float32))
        pics = [_load_query_image(x) for x in images] + [load_frame_ref(r) for r in frames]
        if pics:
            parts.append(self.encoder.encode_images(pics))
        if not parts:
            raise InputError("give a query: an image, a text or a frame (clip.mp4@12s)")
        return l2_normalise(np.concatenate(parts, axis=0))

    def search(self, image: Any = None, *, images: Sequence[Any] = (), text: str | Sequence[str] | None = None,
               frame: str | Sequence[str] | None = None, vector: np.ndarray | None = None, k: int = 10,
               where: str | None = None, min_score: float | None = None, combine: str = "mean",
               fulltext: str | None = None, text_options: Any = None) -> list[Hit]:
        """Ranked hits (cosine similarity) for one or several queries combined.

        ``combine="mean"`` searches with the normalised mean of the query vectors;
        ``"max"`` searches each and ranks rows by their best score over the queries.

        ``text`` on a table whose encoder has a text tower (CLIP/SigLIP) is embedded by that tower
        into the ``vector`` space. On other tables (effnet-lite0, the default) it is embedded by
        MiniLM and scores rows by their text columns (:mod:`kadr.index.text`); with images or
        frames as well, a row's score is the mean (or max) of its image score and its text score.
        ``fulltext`` ranks by LanceDB full-text search (BM25) of the description column; with
        other queries it keeps only the rows whose description matches it."""
        if combine not in COMBINE_MODES:
            raise InputError(f"combine must be one of {', '.join(COMBINE_MODES)}, got {combine!r}")
        if min_score is not None and not -1.0 <= float(min_score) <= 1.0:
            raise InputError(f"min_score is a cosine similarity in [-1, 1], got {min_score}")
        if int(k) < 1:
            raise InputError(f"k must be >= 1, got {k}")
        imgs = ([image] if image is not None else []) + list(images)
        texts = [text] if isinstance(text, str) else list(text or [])
        frames = [frame] if isinstance(frame, str) else list(frame or [])
        if fulltext is not None:
            return self._fulltext_search(fulltext, imgs, texts, frames, vector, k=k, where=where,
                                         min_score=min_score, combine=combine, text_options=text_options)
        if texts and vector is None:
            from kadr.features.base import check_texts

            texts = check_texts(texts)
            self._check_table()
            if not self.encoder.supports_text:
                from kadr.index.text import semantic_search

                return semantic_search(self, texts, imgs, frames, k=k, where=where, min_score=min_score,
                                       combine=combine, options=text_options)
        if vector is not None:
            self._check_table()
            q = np.atleast_2d(np.asarray(vector, np.float32))
            if not np.isfinite(q).all() or not np.any(q, axis=-1).all():
                raise InputError("the query vector holds NaN/inf or is all zeros; give a finite, non-zero vector")
            q = l2_normalise(q)
        else:
            q = self.embed_queries(imgs, texts=texts, frames=frames)
        if combine == "mean" or len(q) == 1:
            v = l2_normalise(q.mean(axis=0, keepdims=True))[0]
            return self.store.search(self.encoder_name, v, k=k, where=where, min_score=min_score)
        best: dict[str, Hit] = {}
        for row in q:
            for h in self.store.search(self.encoder_name, row, k=k, where=where, min_score=min_score):
                if h.id not in best or h.score > best[h.id].score:
                    best[h.id] = h
        ranked = sorted(best.values(), key=lambda h: -h.score)[:k]
        for i, h in enumerate(ranked):
            h.rank = i + 1
        return ranked

    def _fulltext_search(self, fulltext: str, imgs: list, texts: list, frames: list, vector: Any, *, k: int,
                         where: str | None, min_score: float | None, combine: str, text_options: Any) -> list[Hit]:
        from kadr.features.base import check_texts
        from kadr.index.store import sql_quote

        (words,) = check_texts([fulltext], name="full-text query")
        self._check_table()
        if not (imgs or texts or frames or vector is not None):
            return self.store.fulltext(self.encoder_name, words, k=k, where=where)
        matched = self.store.fulltext(self.encoder_name, words, k=10_000, where=where)
        if not matched:
            return []
        ids = "id IN (" + ", ".join(sql_quote(h.id) for h in matched) + ")"
        return self.search(images=imgs, text=texts or None, frame=frames or None, vector=vector, k=k,
                           where=f"({where}) AND {ids}" if where else ids, min_score=min_score, combine=combine,
                           text_options=text_options)

    def dedup(self, **kwargs: Any):
        """Duplicate and near-duplicate groups; see :func:`kadr.index.dedup.find_duplicates`."""
        from kadr.index.dedup import find_duplicates

        self._check_table()
        return find_duplicates(self.store, self.encoder_name, **kwargs)


def _load_query_image(x: Any) -> np.ndarray:
    from kadr.io.images import load_image

    return load_image(x)


