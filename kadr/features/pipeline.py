"""Embedding many images or video frames with decoding overlapped with inference.

:func:`iter_media` walks paths (image files, video files, folders of both) and yields
``(MediaItem, image)`` lazily; :func:`embed_media` runs it in a loader thread that also
does the encoder's per-image :meth:`~kadr.features.base.Encoder.prepare` step (resize and
crop for the neural encoders), while the calling thread runs the network on full batches.
PyAV, PIL and both inference runtimes release the GIL, so the two overlap; memory is
bounded by the queue (``prefetch`` batches). Files that cannot be decoded are skipped,
reported in ``skipped`` and with a :class:`~kadr.errors.KadrWarning`, and the walk goes on.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from kadr._compat import renamed_kwarg
from kadr.errors import DecodeError, InputError, KadrWarning
from kadr.features.base import Encoder, batched, l2_normalise
from kadr.io.files import MEDIA_EXTENSIONS, VIDEO_EXTENSIONS, is_video, walk_files
from kadr.io.images import SkippedFile, load_image


@dataclass(frozen=True)
class MediaItem:
    """Where an embedded image came from: a file, and for video the frame index and time (s)."""

    source: str
    frame: int | None = None
    time: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "frame": self.frame, "time": self.time}


def media_files(paths: Iterable[str | os.PathLike], *, recursive: bool = True) -> Iterator[Path]:
    """Files to embed: files given directly, folders walked (sorted) for image and video files."""
    return walk_files(paths, MEDIA_EXTENSIONS, recursive=recursive)


#: Images larger than twice this (px, longest side) are decoded at reduced size for embedding;
#: at least this many pixels remain, above every encoder's input (224-518 px).
IMAGE_MAX_SIDE = 1024


def iter_media(paths: Iterable[str | os.PathLike], *, fps: float | None = None, recursive: bool = True,
               skipped: list[SkippedFile] | None = None) -> Iterator[tuple[MediaItem, np.ndarray]]:
    """Yield (item, RGB image) for every image file and every sampled video frame.

    Videos are sampled at ``fps`` frames per second of presentation time (every frame when
    None). Undecodable files are skipped (appended to ``skipped``, warned) and the walk continues.
    """
    from kadr.io.video import Sampling, VideoReader

    for path in media_files(paths, recursive=recursive):
        try:
            if is_video(path):
                sampling = Sampling(fps=fps) if fps else None
                with VideoReader(path, sampling=sampling) as reader:
                    for f in reader:
                        yield MediaItem(str(path), int(f.index), round(float(f.time), 6)), f.image
            else:
                # encoders take <= 518 px (dinov2); a huge photo is decoded at reduced size
                yield MediaItem(str(path)), load_image(path, max_side=IMAGE_MAX_SIDE)
        except (DecodeError, InputError) as exc:
            if skipped is not None:
                skipped.append(SkippedFile(str(path), str(exc)))
            warnings.warn(f"skipped {path}: {exc}", KadrWarning, stacklevel=2)


_DONE = object()
#: How long closing a prefetch iterator waits for its producer thread (a live source may block longer;
#: the daemon thread then ends with its next item).
STOP_WAIT_S = 5.0


def prefetch(items: Iterable[Any], depth: int, fn: Callable[[Any], Any] | None = None) -> Iterator[Any]:
    """Iterate ``items`` in a background thread (mapping ``fn`` over them), ``depth`` ahead.
    Exceptions of the producer are re-raised in the consumer. Stopping early stops the thread."""
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        try:
            for it in items:
                if stop.is_set():
                    return
                q.put(fn(it) if fn else it)
            q.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    t = threading.Thread(target=produce, name="kadr-prefetch", daemon=True)
    t.start()
    try:
        while True:
            got = q.get()
            if got is _DONE:
                return
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        stop.set()
        deadline = time.monotonic() + STOP_WAIT_S
        while t.is_alive() and time.monotonic() < deadline:  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.05)


def embed_media(encoder: Encoder, items: Iterable[tuple[Any, np.ndarray]], *, batch_size: int | None = None,
                prefetch_batches: int = 2) -> Iterator[tuple[list[Any], np.ndarray]]:
    """Yield (keys, embeddings (n, dim)) per batch for an iterable of (key, image) pairs,
    decoding and :meth:`Encoder.prepare` running in a loader thread."""
    bs = encoder.default_batch_size if batch_size is None else batch_size
    if bs < 1:
        raise InputError(f"batch_size must be >= 1, got {bs}")

    def prepare(pair: tuple[Any, np.ndarray]) -> tuple[Any, np.ndarray]:
        return pair[0], encoder.prepare(pair[1])

    prepared = prefetch(items, depth=bs * max(1, prefetch_batches), fn=prepare)
    for batch in batched(prepared, bs):
        keys = [k for k, _ in batch]
        yield keys, l2_normalise(encoder._encode_batch([im for _, im in batch]))


def embed_paths(encoder: Encoder, paths: Iterable[str | os.PathLike], *, fps: float | None = None,
                batch_size: int | None = None, skipped: list[SkippedFile] | None = None
                ) -> tuple[list[MediaItem], np.ndarray]:
    """Embed every image and sampled video frame under ``paths``: (items, (N, dim) float32)."""
    keys: list[MediaItem] = []
    blocks: list[np.ndarray] = []
    for k, e in embed_media(encoder, iter_media(paths, fps=fps, skipped=skipped), batch_size=batch_size):
        keys.extend(k)
        blocks.append(e)
    emb = np.concatenate(blocks) if blocks else np.zeros((0, encoder.dim), np.float32)
    return keys, emb


@renamed_kwarg(model="encoder")
def write_embeddings(path: str | os.PathLike, items: list[MediaItem], embeddings: np.ndarray, *,
                     encoder: str) -> list[Path]:
    """Save embeddings: ``.parquet`` (columns source, frame, time, embedding; the encoder name
    and dim in the schema metadata, ``kadr.encoder``) or ``.npy`` (the (N, D) float32 array)
    plus a ``.json`` file of the same stem listing the items (``encoder``, ``dim``, ``items``).
    The metadata also carries the name under its deprecated key ``model`` for one release.
    Returns the written paths."""
    import json

    from kadr.errors import OutputError

    out = Path(path).expanduser()
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".npy"):
        raise InputError(f"output must end in .parquet or .npy, got {str(out)!r}")
    if len(items) != len(embeddings):
        raise InputError(f"{len(items)} items but {len(embeddings)} embeddings")
    emb = np.ascontiguousarray(embeddings, np.float32)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".npy":
            np.save(out, emb)
            side = out.with_suffix(".json")
            side.write_text(json.dumps({"encoder": encoder, "model": encoder, "dim": int(emb.shape[1]),
                                        "items": [it.to_dict() for it in items]}, indent=1))
            return [out, side]
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            from kadr.errors import missing_backend

            raise missing_backend("pyarrow") from None
        dim = int(emb.shape[1])
        table = pa.table({
            "source": pa.array([it.source for it in items], pa.string()),
            "frame": pa.array([it.frame for it in items], pa.int64()),
            "time": pa.array([it.time for it in items], pa.float64()),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel(), pa.float32()), dim),
        }).replace_schema_metadata({"kadr.encoder": encoder, "kadr.model": encoder, "kadr.dim": str(dim)})
        pq.write_table(table, out)
        return [out]
    except OSError as exc:
        raise OutputError(f"cannot write {str(out)!r}: {exc}") from None


__all__ = ["MediaItem", "VIDEO_EXTENSIONS", "media_files", "iter_media", "prefetch", "embed_media", "embed_paths",
           "write_embeddings"]
