"""Resumable, idempotent indexing of image and video files into a :class:`~kadr.index.store.Store`.

How a re-run knows what to do, per file (absolute path = ``source``):

1. size and mtime equal to the stored ones → **unchanged**, skipped without reading it;
2. else the content hash (blake2b-128) equal to the stored one → unchanged (touched only);
3. else the file is decoded and embedded, and its old rows (if any) are **replaced**.

Rows are written per batch of files as ``delete(source IN batch)`` followed by one ``add``;
each is an atomic LanceDB commit. A process killed at any point leaves every file either
fully indexed with its current content or absent, so re-running the same command finishes
the job with no duplicates and nothing lost (``tests/index/test_resume.py`` kills a real
indexing process with SIGKILL to check exactly this). Unreadable files are skipped and listed.
"""

from __future__ import annotations

import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from kadr.errors import DecodeError, InputError, KadrError, KadrWarning
from kadr.index.schema import content_hash, file_facts, phash64, row_id, source_text
from kadr.io.files import MEDIA_EXTENSIONS, is_video, walk_files

#: Longest side (px) of video frames (and, at least, of images) handed to the encoder (encoders
#: resize to their input anyway).
VIDEO_FRAME_SIZE = 448


@dataclass
class AddReport:
    """What one ``add`` did."""

    files: int = 0
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    rows_written: int = 0
    seconds: float = 0.0
    ann_index: str = "none"
    encoder: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"files": self.files, "added": len(self.added), "replaced": len(self.replaced),
                "unchanged": self.unchanged, "failed": self.failed, "rows_written": self.rows_written,
                "seconds": round(self.seconds, 3), "ann_index": self.ann_index, "encoder": self.encoder,
                "added_files": self.added, "replaced_files": self.replaced}


def parse_video_mode(mode: str) -> tuple[str, float | None]:
    """``"keyframes"`` → ("keyframes", None); ``"fps:2"`` → ("fps", 2.0)."""
    m = str(mode).strip().lower()
    if m == "keyframes":
        return "keyframes", None
    if m.startswith("fps:"):
        try:
            v = float(m[4:])
        except ValueError:
            v = -1.0
        if v > 0 and np.isfinite(v):
            return "fps", v
    raise InputError(f"bad --video-mode {mode!r}; use 'keyframes' or 'fps:N' (e.g. fps:1 for one frame a second)")


def collect_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Absolute, de-duplicated files: given files as they are, folders walked recursively
    (sorted) for image and video extensions; hidden files and folders skipped."""
    out: dict[str, Path] = {}
    for f in walk_files(paths, MEDIA_EXTENSIONS):
        out.setdefault(str(f.resolve()), f.resolve())
    return list(out.values())


@dataclass
class _Item:
    """One embeddable picture of a file."""

    kind: str
    image: np.ndarray
    width: int
    height: int
    frame_index: int | None = None
    time: float | None = None
    shot_index: int | None = None
    shot_seconds: float | None = None


@dataclass
class _Prepared:
    path: Path
    facts: dict[str, Any]
    hash: str | None = None
    items: list[_Item] | None = None
    error: str | None = None
    unchanged: bool = False


def video_items(path: Path, mode: str, fps: float | None) -> list[_Item]:
    """Frames of a video to embed: shot keyframes (``keyframes``) or uniform samples (``fps``)."""
    from kadr.io.video import Sampling, VideoReader

    if mode == "keyframes":
        from kadr.index._video import keyframe_items

        return keyframe_items(path, _Item, VIDEO_FRAME_SIZE)
    items = []
    with VideoReader(path, analysis_size=VIDEO_FRAME_SIZE, sampling=Sampling(fps=fps)) as r:
        for f in r:
            items.append(_Item("frame", f.analysis_image, r.width, r.height, f.index, float(f.time)))
    if not items:
        raise DecodeError(f"{path} has no decodable frames")
    return items


def _decoder_errors() -> tuple[type[BaseException], ...]:
    """What FFmpeg (PyAV) and the image libraries raise on a damaged or hostile file."""
    import av

    return (OSError, av.error.FFmpegError, EOFError, MemoryError)


def prepare(path: Path, states: dict[str, tuple[int, int, str]], video_mode: tuple[str, float | None]) -> _Prepared:
    """Stat, hash and decode one file (runs in a worker thread, ahead of the encoder)."""
    src = source_text(path)
    try:
        facts = file_facts(path)
    except OSError as exc:
        return _Prepared(path, {}, error=f"cannot stat: {exc}")
    old = states.get(src)
    if old is not None and (old[0], old[1]) == (facts["file_size"], facts["file_mtime_ns"]):
        return _Prepared(path, facts, unchanged=True)
    try:
        h = content_hash(path)
    except OSError as exc:
        return _Prepared(path, facts, error=f"cannot read: {exc}")
    if old is not None and old[2] == h:
        return _Prepared(path, facts, hash=h, unchanged=True)
    try:
        if is_video(path):
            items = video_items(path, *video_mode)
        else:
            from kadr.io.images import read_image

            # the encoder sees at most VIDEO_FRAME_SIZE px: a 12000² photo decodes at reduced size
            img, info = read_image(path, max_side=VIDEO_FRAME_SIZE)
            width, height = info.original_size or (img.shape[1], img.shape[0])
            items = [_Item("image", img, width, height)]
    except KadrError as exc:
        return _Prepared(path, facts, hash=h, error=str(exc))
    except _decoder_errors() as exc:  # a decoder library failing on a hostile file: skip it, list it
        return _Prepared(path, facts, hash=h, error=f"{type(exc).__name__}: {exc}")
    # anything else is a bug of kadr's and propagates: it must not be reported as a bad file
    return _Prepared(path, facts, hash=h, items=items)


def _prefetch(fn, items: list, depth: int) -> Iterator:
    """``map(fn, items)`` computed ``depth`` items ahead in one worker thread, in order."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: list = []
        it = iter(items)
        for x in it:
            pending.append(pool.submit(fn, x))
            if len(pending) > depth:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()


def add_files(store, encoder, paths: Iterable[str | os.PathLike], *, video_mode: str = "keyframes",
              commit_every: int = 64, progress: bool | None = None, maintain: bool = True,
              wait: float | None = None, semantic: bool = True, describer: Any = None) -> AddReport:
    """Index ``paths`` (files and folders) into ``store`` with ``encoder``. See the module doc.

    With ``semantic`` (default) every row also gets its text columns (semantic vector,
    description, description vector: :mod:`kadr.index.text`); ``describer`` is ``"measured"``
    (default) or a captioner (:func:`kadr.index.text.open_describer`).

    The folder's write lock is held throughout: a concurrent writer waits, or after ``wait``
    seconds (``None``: as long as it takes) fails with :class:`~kadr.errors.IndexBusyError`."""
    t0 = time.perf_counter()
    mode = parse_video_mode(video_mode)
    if int(commit_every) < 1:
        raise InputError(f"commit_every must be >= 1, got {commit_every}")
    files = collect_files(paths)
    with store.writing(timeout=wait):
        return _add_locked(store, encoder, files, mode, int(commit_every), progress, maintain, t0,
                           semantic=semantic, describer=describer)


def _add_locked(store, encoder, files: list[Path], mode, commit_every: int, progress, maintain: bool,
                t0: float, *, semantic: bool = True, describer: Any = None) -> AddReport:
    from kadr._progress import track

    rep = AddReport(files=len(files), encoder=encoder.name)
    try:
        states = store.file_states(encoder.name) if encoder.name in store.encoders() else {}
    except InputError:
        states = {}
    if encoder.name in store.encoders():
        store.table(encoder.name, encoder.dim)  # dim check before any work
    batch: list[_Prepared] = []
    n_items = 0

    def flush() -> None:
        nonlocal batch, n_items
        if not batch:
            return
        rows = _rows(batch, encoder, semantic=semantic, describer=describer)
        store.replace_sources(encoder.name, encoder.dim, [source_text(p.path) for p in batch], rows)
        for p in batch:
            src = source_text(p.path)
            (rep.replaced if src in states else rep.added).append(src)
        rep.rows_written += len(rows)
        batch, n_items = [], 0

    prepared = _prefetch(lambda f: prepare(f, states, mode), files, depth=8)
    for p in track(prepared, total=len(files), desc="indexing", unit="files", enabled=progress):
        if p.unchanged:
            rep.unchanged += 1
            continue
        if p.error is not None:
            rep.failed.append({"path": source_text(p.path), "error": p.error})
            warnings.warn(f"skipped {source_text(p.path)}: {p.error}", KadrWarning, stacklevel=2)
            continue
        batch.append(p)
        n_items += len(p.items or [])
        if len(batch) >= commit_every or n_items >= 4 * commit_every:
            flush()
    flush()
    return finish_add(store, encoder.name, rep, maintain=maintain, t0=t0)


def finish_add(store, encoder_name: str, rep: AddReport, *, maintain: bool, t0: float) -> AddReport:
    """The end of every ``add`` (local or Ray): ANN index upkeep, compaction, the run time."""
    if maintain and encoder_name in store.encoders():
        rep.ann_index = store.maintain(encoder_name)
        if rep.rows_written:
            store.compact(encoder_name)
    rep.seconds = time.perf_counter() - t0
    return rep


def _rows(batch: list[_Prepared], encoder, *, semantic: bool = True, describer: Any = None) -> list[dict[str, Any]]:
    items = [(p, it) for p in batch for it in (p.items or [])]
    images = [it.image for _, it in items]
    text = None
    if semantic and items:
        from kadr.index.text import bridge_for, text_columns, visual_and_logits

        bridge = bridge_for(encoder)
        vecs, logits = visual_and_logits(encoder, bridge, images)
        text = text_columns(images, logits, bridge, describer=describer,
                            shot_seconds=[it.shot_seconds for _, it in items])
    else:
        vecs = encoder.encode_images(images) if items else np.zeros((0, encoder.dim), np.float32)
    if vecs.shape != (len(items), encoder.dim):
        raise InputError(f"encoder {encoder.name!r} returned shape {vecs.shape}, expected ({len(items)}, {encoder.dim})")
    now = datetime.now(timezone.utc)
    rows = []
    for j, ((p, it), v) in enumerate(zip(items, vecs)):
        src = source_text(p.path)
        extra = {} if text is None else {
            "semantic": text.semantic[j].tolist(), "description": text.description[j],
            "description_vector": text.description_vector[j].tolist()}
        rows.append({**extra,
            "id": row_id(p.path, it.kind, it.frame_index), "source": src, "kind": it.kind,
            "video": src if it.kind != "image" else None, "frame_index": it.frame_index, "time": it.time,
            "shot_index": it.shot_index, "width": int(it.width), "height": int(it.height),
            "file_size": p.facts["file_size"], "file_mtime_ns": p.facts["file_mtime_ns"], "content_hash": p.hash,
            "phash": phash64(it.image), "vector": v.astype(np.float32).tolist(), "encoder": encoder.name,
            "dim": int(encoder.dim), "added_at": now,
        })
    return rows
