"""What the pages and the JSON API of ``kadr serve`` do, without any web framework.

:class:`Library` wraps one read-only :class:`kadr.index.Index` (optional) and the
:class:`~kadr.web.catalog.Catalog` of analyses. Every method returns plain JSON-able dicts
that mirror the CLI's ``--json`` output (``kadr search``, ``kadr dedup``, ``kadr analyse``'s
shots.json) plus the URLs the page needs (``thumbnail_url``, ``video_url``, ``media_url``).
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote

import numpy as np

from kadr._options import opt
from kadr.errors import DecodeError, InputError, KadrError
from kadr.web.catalog import Catalog, NotListedError, file_key
from kadr.report.contact_sheet import MAX_HEATMAP_KEYFRAMES  # beyond it the heat map compares shots
from kadr.web.thumbs import ThumbnailCache


@dataclass
class ServeOptions:
    """Limits and sizes of ``kadr serve`` (the CLI's flags come from here)."""

    max_upload_mb: float = opt(20.0, "largest accepted upload (MB); bigger ones get HTTP 413")
    max_pixels: int = opt(50_000_000, "largest accepted uploaded picture (pixels); bigger ones are refused")
    max_k: int = opt(500, "most results one search may ask for")
    thumb_size: int = opt(320, "longest side (px) of the cached thumbnails")


#: search results per page when the URL gives no k
DEFAULT_K = 24

#: time-range filters apply to this column (seconds from PTS)
TIME_COLUMN = "time"


@dataclass
class SearchQuery:
    """One search as the URL or the form gives it. Several queries are combined."""

    text: list[str] = field(default_factory=list)
    frame: list[str] = field(default_factory=list)
    id: list[str] = field(default_factory=list)
    upload: list[str] = field(default_factory=list)
    images: list[bytes] = field(default_factory=list)
    k: int = DEFAULT_K
    min_score: float | None = None
    where: str | None = None
    kind: str | None = None
    video: str | None = None
    t0: float | None = None
    t1: float | None = None
    combine: str = "mean"


def _finite(x: float | None, name: str) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {x!r}") from None
    if not math.isfinite(v):
        raise InputError(f"{name} must be a finite number, got {x!r}")
    return v


class Library:
    """The engine behind ``kadr serve``. Thread-safe: requests run in a thread pool; the
    encoder (not re-entrant) runs under a lock."""

    def __init__(self, index: Any | None, catalog: Catalog, *, thumbs: ThumbnailCache,
                 options: ServeOptions | None = None):
        self.index = index
        self.catalog = catalog
        self.thumbs = thumbs
        self.options = options or ServeOptions()
        self._enc_lock = threading.Lock()
        self._uploads: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._dedup: OrderedDict[tuple, dict] = OrderedDict()
        self._sim: OrderedDict[tuple, dict] = OrderedDict()
        self.started = time.time()

    # ---- facts ---------------------------------------------------------------------------
    def _need_index(self) -> Any:
        if self.index is None:
            raise InputError("this server has no database; start it with `kadr serve --db DIR`")
        return self.index

    def text_available(self) -> bool:
        """True when the table can be searched by text (its encoder has a text tower, or
        the table carries text vectors)."""
        if self.index is None:
            return False
        st, enc = self.index.store, self.index.encoder_name
        try:
            cover = getattr(st, "text_coverage", None)  # issue 13: the table's semantic text columns
            if callable(cover) and cover(enc, "semantic")[0] > 0:
                return True
            return bool(self.index.encoder.supports_text)
        except KadrError:
            return False

    def warm_up(self) -> None:
        """Load the encoder now (the first search would otherwise pay for it)."""
        if self.index is not None:
            with self._enc_lock:
                _ = self.index.encoder

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "ok", "version": __import__("kadr").__version__, "db": None,
                               "encoder": None, "rows": 0, "text": False,
                               "videos": len(self.catalog.videos()), "analyses": len(self.catalog.analyses)}
        if self.index is not None:
            st = self.index.store
            out.update(db=str(self.index.path), encoder=self.index.encoder_name,
                       rows=st.count(self.index.encoder_name), text=self.text_available(),
                       dim=int(st.encoders()[self.index.encoder_name]["dim"]))
        return out

    # ---- urls ----------------------------------------------------------------------------
    @staticmethod
    def video_url(path: str | os.PathLike | None, t: float | None = None) -> str | None:
        if not path:
            return None
        return f"/video/{file_key(path)}" + (f"?t={float(t):.3f}" if t is not None else "")

    def _decorate(self, item: dict[str, Any]) -> dict[str, Any]:
        """Add the page's URLs and the API's short names to a row/hit dict."""
        src = item.get("source")
        out = dict(item)
        out["path"] = src
        out["name"] = Path(src).name if src else None
        if "shot_index" in item:
            out["shot"] = item["shot_index"]
        out["thumbnail_url"] = f"/thumb/{quote(str(item['id']))}" if item.get("id") else None
        out["media_url"] = f"/media/{file_key(src)}" if src else None
        out["video_url"] = self.video_url(item.get("video"), item.get("time"))
        out["similar_url"] = f"/search?id={quote(str(item['id']))}" if item.get("id") else None
        return out

    # ---- search --------------------------------------------------------------------------
    def build_where(self, q: SearchQuery) -> str | None:
        """The SQL filter of a query: ``kind``, ``video``, the time range and ``where``, ANDed."""
        from kadr.index.schema import KINDS
        from kadr.index.store import sql_quote

        parts = []
        if q.kind:
            if q.kind not in KINDS:
                raise InputError(f"kind must be one of {', '.join(KINDS)}, got {q.kind!r}")
            parts.append(f"kind = {sql_quote(q.kind)}")
        if q.video:
            parts.append(f"video = {sql_quote(str(self.catalog.resolve_video(q.video)))}")
        t0, t1 = _finite(q.t0, "t0"), _finite(q.t1, "t1")
        if t0 is not None:
            parts.append(f"{TIME_COLUMN} >= {t0!r}")
        if t1 is not None:
            parts.append(f"{TIME_COLUMN} <= {t1!r}")
        if t0 is not None and t1 is not None and t1 < t0:
            raise InputError(f"the time range is empty: t0 {t0} > t1 {t1}")
        if q.where and q.where.strip():
            parts.append(f"({q.where.strip()})")
        return " AND ".join(parts) if parts else None

    def decode_upload(self, data: bytes) -> np.ndarray:
        """An uploaded picture, checked by decoding it (not by its name or type)."""
        from PIL import Image

        from kadr.io.images import load_image

        if not data:
            raise InputError("the uploaded file is empty")
        if len(data) > self.options.max_upload_mb * 1e6:
            raise InputError(f"the upload is larger than {self.options.max_upload_mb:g} MB")
        import io

        try:
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
        except Exception:  # PIL raises many types for garbage
            raise DecodeError("the upload is not a picture kadr can decode (PNG, JPEG, WebP, ...)") from None
        if w * h > self.options.max_pixels:
            raise InputError(f"the uploaded picture has {w}x{h} pixels, more than the limit of "
                             f"{self.options.max_pixels}")
        try:
            return load_image(data)
        except KadrError:
            raise
        except Exception:
            raise DecodeError("the upload is not a picture kadr can decode (PNG, JPEG, WebP, ...)") from None

    def _row(self, row_id: str, columns: Sequence[str] | None = None) -> dict[str, Any]:
        from kadr.index.store import sql_quote

        idx = self._need_index()
        at = idx.store.rows(idx.encoder_name, where=f"id = {sql_quote(row_id)}", columns=columns)
        if at.num_rows == 0:
            raise NotListedError(f"no item with id {row_id!r} in the index")
        return at.slice(0, 1).to_pylist()[0]

    def item(self, row_id: str) -> dict[str, Any]:
        from kadr.index.schema import META_COLUMNS

        r = self._row(row_id, [c for c in META_COLUMNS if c != "added_at"])
        return self._decorate(r)

    def search(self, q: SearchQuery) -> dict[str, Any]:
        """Ranked hits of the combined queries → ``{"results": [...], ...}``."""
        idx = self._need_index()
        t_start = time.perf_counter()
        k = int(q.k)
        if not 1 <= k <= self.options.max_k:
            raise InputError(f"k must be between 1 and {self.options.max_k}, got {k}")
        min_score = _finite(q.min_score, "min_score")
        if min_score is not None and not -1.0 <= min_score <= 1.0:
            raise InputError(f"min_score is a cosine similarity in [-1, 1], got {min_score}")
        if q.combine not in ("mean", "max"):
            raise InputError(f"combine must be mean or max, got {q.combine!r}")
        texts = [t.strip() for t in q.text if t and t.strip()]
        if texts and not self.text_available():
            raise InputError(f"this table (encoder {idx.encoder_name}) has no text vectors, so it cannot be "
                             "searched by text; search by image or frame, or index with a text-capable encoder")
        where = self.build_where(q)
        vecs: list[np.ndarray] = []
        uploads = []
        for up in q.upload:
            with self._cache_lock:
                v = self._uploads.get(up)
            if v is None:
                raise InputError("that uploaded image is no longer cached by the server; upload it again")
            vecs.append(v)
            uploads.append(up)
        for rid in q.id:
            vecs.append(np.asarray(self._row(rid, ["vector"])["vector"], np.float32))
        pics = [self.decode_upload(b) for b in q.images]
        frames = [self._frame_ref(ref) for ref in q.frame if ref and ref.strip()]
        if texts and not self._encoder_has_text():
            # the table's own text columns (issue 13's semantic search): the index combines them
            if vecs:
                raise InputError("on this table a text query cannot be combined with an item id or an earlier "
                                 "upload; combine it with an uploaded image or a frame, or search without the text")
            with self._enc_lock:
                hits = idx.search(images=pics, text=texts, frame=frames, k=k, where=where, min_score=min_score,
                                  combine=q.combine)
                emb = idx.embed_queries(pics) if pics else np.zeros((0, 1), np.float32)
            for b, v in zip(q.images, emb):
                uploads.append(self._remember_upload(b, v))
        else:
            if pics or frames or texts:
                with self._enc_lock:
                    emb = idx.embed_queries(pics, texts=texts, frames=frames)  # rows: texts, then pictures
                for i, b in enumerate(q.images):  # remember uploads so a URL can point at them
                    uploads.append(self._remember_upload(b, emb[len(texts) + i]))
                vecs.extend(list(emb))
            if not vecs:
                raise InputError("give a query: an image (upload, drop or paste), a frame (clip.mp4@12.5s), "
                                 "a text, or an item id")
            hits = idx.search(vector=np.stack(vecs), k=k, where=where, min_score=min_score, combine=q.combine)
        results = [self._decorate(h.to_dict()) for h in hits]
        return {"results": results, "k": k, "encoder": idx.encoder_name, "metric": "cosine", "where": where,
                "min_score": min_score, "combine": q.combine,
                "queries": {"texts": texts, "frames": q.frame, "ids": q.id, "uploads": uploads,
                            "images": len(q.images)},
                "took_ms": round(1000 * (time.perf_counter() - t_start), 2)}

    def _remember_upload(self, data: bytes, v: np.ndarray) -> str:
        """Keep an upload's vector (bounded LRU) under a key a URL can carry; returns the key."""
        h = hashlib.blake2b(data, digest_size=10).hexdigest()
        with self._cache_lock:
            self._uploads[h] = np.asarray(v, np.float32)
            self._uploads.move_to_end(h)
            while len(self._uploads) > 256:
                self._uploads.popitem(last=False)
        return h

    def _encoder_has_text(self) -> bool:
        return bool(getattr(self._need_index().encoder, "supports_text", False))

    def _frame_ref(self, ref: str) -> str:
        """``clip.mp4@12.5s`` / ``clip.mp4@#300`` with the path resolved to a listed video
        (full path or a unique file name); anything else is refused."""
        from kadr.io.timecode import split_frame_ref

        parts = split_frame_ref(ref.strip())
        if parts is None:
            raise InputError(f"bad frame reference {ref!r}; use clip.mp4@12.5s (time) or clip.mp4@#300 (frame)")
        path, what, value = parts
        p = self.catalog.resolve_video(path)
        return f"{p}@#{int(value)}" if what == "frame" else f"{p}@{float(value)!r}"

    # ---- thumbnails and files --------------------------------------------------------------
    def thumbnail(self, row_id: str) -> bytes:
        """JPEG thumbnail of an indexed item (cached; made once)."""
        r = self._row(row_id, ["id", "source", "kind", "video", "frame_index", "content_hash"])
        key = f"{r['id']}-{(r['content_hash'] or 'x')[:12]}-{self.thumbs.max_side}"

        def make() -> np.ndarray:
            return self._picture(r)

        return self.thumbs.get(key, make)

    def _picture(self, r: dict[str, Any]) -> np.ndarray:
        from kadr.io.images import load_image

        src = self.catalog.file(file_key(r["source"]))
        if r["kind"] == "image" or r.get("frame_index") is None:
            return load_image(src)
        a = self.catalog.analysis_of(r.get("video") or r["source"])
        kf = a.keyframe_file(int(r["frame_index"])) if a is not None else None
        if kf is not None:
            return load_image(kf)
        from kadr.io.video import VideoReader

        with VideoReader(src, analysis_size=self.thumbs.max_side) as rd:
            return rd.read(frame=int(r["frame_index"])).analysis_image

    def keyframe_jpeg(self, video_key: str, frame: int) -> bytes:
        """Thumbnail of a keyframe an analysis wrote (cached)."""
        from kadr.io.images import load_image

        e = self.catalog.video(video_key)
        kf = e.analysis.keyframe_file(int(frame)) if e.analysis is not None else None
        if kf is None:
            raise NotListedError(f"the analysis of this video lists no keyframe at frame {int(frame)}")
        st = kf.stat()
        key = f"kf-{video_key}-{int(frame)}-{st.st_mtime_ns}-{self.thumbs.max_side}"
        return self.thumbs.get(key, lambda: load_image(kf))

    # ---- duplicates ------------------------------------------------------------------------
    def duplicates(self, *, where: str | None = None, near_cosine: float | None = None,
                   similar_cosine: float | None = None, max_hamming: int | None = None,
                   limit: int = 200) -> dict[str, Any]:
        """``kadr dedup --json`` with thumbnails; computed once per table version and options."""
        from dataclasses import asdict

        from kadr.index.dedup import DedupOptions

        idx = self._need_index()
        base = DedupOptions()
        o = DedupOptions(near_cosine=base.near_cosine if near_cosine is None else _finite(near_cosine, "near_cosine"),
                         similar_cosine=base.similar_cosine if similar_cosine is None
                         else _finite(similar_cosine, "similar_cosine"),
                         max_hamming=base.max_hamming if max_hamming is None else int(max_hamming))
        key = (self.catalog._table_version(), where, tuple(sorted(asdict(o).items())))
        with self._cache_lock:
            hit = self._dedup.get(key)
        if hit is None:
            res = idx.dedup(where=where or None, options=o)
            hit = {"db": str(idx.path), "rows": res["rows"], "encoder": res["encoder"], "metric": res["metric"],
                   "thresholds": res["thresholds"],
                   "duplicates": [self._group(g) for g in res["duplicates"]],
                   "similar": [self._group(g) for g in res["similar"]]}
            with self._cache_lock:
                self._dedup[key] = hit
                while len(self._dedup) > 8:
                    self._dedup.popitem(last=False)
        out = dict(hit)
        out["duplicate_groups"], out["similar_groups"] = len(hit["duplicates"]), len(hit["similar"])
        out["duplicates"], out["similar"] = hit["duplicates"][:limit], hit["similar"][:limit]
        return out

    def _group(self, g: Any) -> dict[str, Any]:
        d = g.to_dict() if hasattr(g, "to_dict") else dict(g)
        d["items"] = [self._decorate(it) for it in d["items"]]
        return d

    # ---- videos ----------------------------------------------------------------------------
    def videos(self) -> dict[str, Any]:
        out = []
        for e in self.catalog.videos():
            a = e.analysis
            out.append({"id": e.key, "path": str(e.path), "name": e.name, "indexed": e.indexed,
                        "analysed": a is not None, "url": f"/video/{e.key}",
                        "shots": len(a.data.get("shots", [])) if a else None,
                        "duration": (a.data.get("probe") or {}).get("duration") if a else None,
                        "thumbnail_url": self._first_thumb(e)})
        return {"videos": out}

    def _first_thumb(self, e: Any) -> str | None:
        if e.analysis is not None:
            for s in e.analysis.data.get("shots", []):
                for k in s.get("keyframes", []):
                    return f"/api/videos/{e.key}/keyframes/{int(k['frame'])}.jpg"
        return None

    def _indexed_keyframes(self, path: Path) -> list[dict[str, Any]]:
        from kadr.index.store import sql_quote

        if self.index is None:
            return []
        cols = ["id", "kind", "frame_index", "time", "shot_index"]
        try:  # issue 13's description column, where the table has it
            if "description" in self.index.store.table(self.index.encoder_name).schema.names:
                cols.append("description")
        except (KadrError, AttributeError):
            pass
        at = self.index.store.rows(self.index.encoder_name, where=f"video = {sql_quote(str(path))}", columns=cols)
        rows = sorted(at.to_pylist(), key=lambda r: (r["frame_index"] or 0))
        return rows

    def video(self, key: str) -> dict[str, Any]:
        """A video's analysis (shots.json of ``kadr analyse``) and its indexed keyframes."""
        e = self.catalog.video(key)
        rows = self._indexed_keyframes(e.path)
        by_frame = {int(r["frame_index"]): r for r in rows if r["frame_index"] is not None}
        out: dict[str, Any] = {"id": e.key, "path": str(e.path), "name": e.name, "indexed": e.indexed,
                               "media_url": f"/media/{e.key}", "analysis": None,
                               "frame_ref": self.catalog.short_name(e.path)}
        if e.analysis is not None:
            try:
                out["analysis"] = self._analysis_json(e, by_frame, out["frame_ref"])
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(f"the analysis in {str(e.analysis.dir)!r} is damaged ({type(exc).__name__}: {exc}); "
                                 "run `kadr analyse` again") from None
        out["keyframes"] = [self._decorate({**r, "source": str(e.path), "video": str(e.path)}) for r in rows]
        return out

    def _analysis_json(self, e: Any, by_frame: dict, frame_ref: str) -> dict[str, Any]:
        """The page's view of a shots.json (values coerced: the file may be damaged or hostile)."""
        d = e.analysis.data
        shots = []
        for s in d.get("shots", []):
            kfs = []
            for k in s.get("keyframes", []):
                fr = int(k["frame"])
                row = by_frame.get(fr)
                kfs.append({"frame": fr, "time": None if k.get("time") is None else float(k["time"]),
                            "labels": k.get("labels"),
                            "description": k.get("description") or (row or {}).get("description"),
                            "thumbnail_url": f"/api/videos/{e.key}/keyframes/{fr}.jpg",
                            "id": row["id"] if row else None,
                            "similar_url": (f"/search?id={quote(row['id'])}" if row else
                                            f"/search?frame={quote(frame_ref)}%40%23{fr}")})
            shots.append({"index": int(s["index"]), "start_frame": int(s["start_frame"]),
                          "end_frame": int(s["end_frame"]), "start_time": float(s["start_time"]),
                          "end_time": float(s["end_time"]), "keyframes": kfs})
        return {"dir": str(e.analysis.dir), "fps": d.get("fps"), "frames": d.get("frames"),
                "detector": d.get("detector"), "label_encoder": d.get("label_encoder", d.get("classifier")),
                "probe": d.get("probe"), "transitions": d.get("transitions", []), "shots": shots,
                "has_scores": bool(d.get("boundary_scores")), "report_url": f"/video/{e.key}/report"}

    def video_charts(self, key: str) -> dict[str, str]:
        """The report's SVG timeline and boundary-score plot of an analysed video (trusted,
        escaped markup made by :mod:`kadr.report.html`)."""
        from kadr.report.html import legend, score_plot_svg, timeline_svg

        e = self.catalog.video(key)
        if e.analysis is None:
            return {}
        d = e.analysis.data
        # shots.json is a file: every value the SVG takes is coerced to its type first
        try:
            trans = [{"type": str(t["type"]), "start_frame": int(t["start_frame"]), "end_frame": int(t["end_frame"]),
                      "start_time": float(t["start_time"]), "end_time": float(t["end_time"])}
                     for t in d.get("transitions", [])]
            shots = [{"index": int(x["index"]), "start_frame": int(x["start_frame"]), "end_frame": int(x["end_frame"])}
                     for x in d.get("shots", [])]
            fps = float(d.get("fps") or 0.0)
            frames = int(d.get("frames") or 0)
            duration = float((d.get("probe") or {}).get("duration") or (frames / fps if fps else 0.0))
            scores = [float(v) for v in d.get("boundary_scores") or []]
        except (KeyError, TypeError, ValueError):
            return {}  # a damaged shots.json: the page shows what it can without the charts
        out = {"legend": legend(sorted({t["type"] for t in trans}) or ["cut"]),
               "timeline": timeline_svg(shots, trans, frames, duration)}
        if scores:
            out["scores"] = score_plot_svg(scores, trans, fps=fps)
        return out

    def report_file(self, key: str) -> Path:
        e = self.catalog.video(key)
        if e.analysis is None:
            raise NotListedError("this video has no analysis")
        p = e.analysis.dir / "report.html"
        real = os.path.realpath(p)
        if not os.path.isfile(real) or os.path.dirname(real) != os.path.realpath(e.analysis.dir):
            raise NotListedError("the analysis folder has no report.html")
        return Path(real)

    def similarity(self, key: str) -> dict[str, Any]:
        """Keyframe × keyframe cosine similarity of a video (the heat map): index vectors
        where the keyframe is indexed, else the keyframe image embedded by the index's encoder."""
        e = self.catalog.video(key)
        version = self.catalog._table_version()
        ck = (key, version)
        with self._cache_lock:
            if ck in self._sim:
                return self._sim[ck]
        kfs: list[dict[str, Any]] = []
        if e.analysis is not None:
            for s in e.analysis.data.get("shots", []):
                for k in s.get("keyframes", []):
                    kfs.append({"frame": int(k["frame"]), "time": k.get("time"), "shot": s.get("index")})
        rows = self._indexed_keyframes(e.path)
        if not kfs:
            kfs = [{"frame": int(r["frame_index"]), "time": r["time"], "shot": r["shot_index"]}
                   for r in rows if r["frame_index"] is not None]
        out: dict[str, Any] = {"id": key, "keyframes": kfs, "matrix": [], "encoder": None}
        if len(kfs) and self.index is not None:
            idx = self.index
            from kadr.index.store import sql_quote

            at = idx.store.rows(idx.encoder_name, where=f"video = {sql_quote(str(e.path))}",
                                columns=["frame_index", "vector"])
            have = {int(f): np.asarray(v, np.float32) for f, v in
                    zip(at.column("frame_index").to_pylist(), at.column("vector").to_pylist()) if f is not None}
            missing = [k for k in kfs if k["frame"] not in have]
            if missing:
                pics = [self._keyframe_picture(e, k["frame"]) for k in missing]
                with self._enc_lock:
                    emb = idx.embed_queries(pics)
                for k, v in zip(missing, emb):
                    have[k["frame"]] = v
            V = np.stack([have[k["frame"]] for k in kfs])
            V = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
            M = V @ V.T
            out["granularity"] = "keyframe"
            if len(kfs) > MAX_HEATMAP_KEYFRAMES:  # as the contact sheet: shots, best keyframe pair each
                shots = sorted({k["shot"] for k in kfs}, key=lambda x: (x is None, x))
                groups = [[i for i, k in enumerate(kfs) if k["shot"] == sh] for sh in shots]
                M = np.array([[M[np.ix_(a, b)].max() for b in groups] for a in groups])
                kfs = [kfs[g[0]] for g in groups]
                out["keyframes"], out["granularity"] = kfs, "shot"
            out["matrix"] = np.round(M, 4).tolist()
            out["encoder"] = idx.encoder_name
            for k in kfs:
                k["thumbnail_url"] = (f"/api/videos/{key}/keyframes/{k['frame']}.jpg"
                                      if e.analysis is not None else None)
        with self._cache_lock:
            self._sim[ck] = out
            while len(self._sim) > 32:
                self._sim.popitem(last=False)
        return out

    def _keyframe_picture(self, e: Any, frame: int) -> np.ndarray:
        from kadr.io.images import load_image
        from kadr.io.video import VideoReader

        kf = e.analysis.keyframe_file(frame) if e.analysis is not None else None
        if kf is not None:
            return load_image(kf)
        with VideoReader(self.catalog.file(e.key)) as r:
            return r.read(frame=int(frame)).image

    # ---- events ----------------------------------------------------------------------------
    def enrich_event(self, ev: dict[str, Any]) -> dict[str, Any]:
        """Add thumbnail/video URLs to a ``kadr watch`` event whose item is an indexed row."""
        out = dict(ev)
        item = ev.get("item")
        if isinstance(item, dict) and item.get("id"):
            try:
                out["item"] = self._decorate(item)
            except (KadrError, TypeError, ValueError):
                pass
        return out


def check_port_free(host: str, port: int) -> None:
    """InputError when ``host:port`` cannot be bound (in use, or not an address of this machine)."""
    import socket

    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is not "in use"
    try:
        s.bind((host, int(port)))
    except OSError as exc:
        if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise InputError(f"port {port} on {host} is already in use; stop the other server or choose "
                             "another with --port") from None
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        s.close()
