"""The row schema of a kadr index table, and the small pure helpers that fill a row.

One LanceDB table per encoder (``emb_<encoder>``). Columns:

=============  ==========================  ===============================================
column         type                        meaning
=============  ==========================  ===============================================
id             string                      stable row id: blake2b(source, kind, frame)
source         string                      absolute path of the indexed file
kind           string                      ``image`` | ``keyframe`` | ``frame``
video          string (null for images)    the video path (= source) for keyframe/frame
frame_index    int64 (null for images)     0-based decoded frame index
time           float64 (null for images)   seconds from PTS
shot_index     int32 (null unless keyframe) shot number of the keyframe
width, height  int32                       pixels of the image / video frame
file_size      int64                       bytes, for change detection
file_mtime_ns  int64                       modification time (ns), for change detection
content_hash   string                      blake2b-128 of the file bytes (hex)
phash          int64                       64-bit DCT perceptual hash (imagehash.phash bits)
vector         fixed_size_list<float32>[D] L2-normalised embedding
encoder        string                      encoder name
dim            int32                       D
added_at       timestamp[us, UTC]          when the row was written
semantic       fixed_size_list<float32>    the picture in the MiniLM text space (semantic
               [384] (nullable)            bridge, :mod:`kadr.features.semantic`)
description    string (nullable)           a caption, or kadr's measured description
description_   fixed_size_list<float32>    MiniLM embedding of ``description``
vector         [384] (nullable)
=============  ==========================  ===============================================

The last three are the text columns (issue 13): ``kadr search --text`` ranks by them on tables
whose encoder has no text tower. Tables written before they existed get them (null) on the next
write and are filled by ``kadr index backfill``.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

#: Kinds of rows.
KINDS = ("image", "keyframe", "frame")

#: Columns returned with search hits (everything except the vectors).
META_COLUMNS = ("id", "source", "kind", "video", "frame_index", "time", "shot_index", "width", "height",
                "file_size", "file_mtime_ns", "content_hash", "phash", "encoder", "dim", "added_at")

#: Dimension of the text-space columns (MiniLM, the semantic bridge's space).
TEXT_DIM = 384
#: The vector columns searchable by text (besides ``vector`` itself for CLIP/SigLIP tables).
SEMANTIC_COLUMN, DESCRIPTION_COLUMN, DESCRIPTION_VECTOR_COLUMN = "semantic", "description", "description_vector"
TEXT_COLUMNS = (SEMANTIC_COLUMN, DESCRIPTION_COLUMN, DESCRIPTION_VECTOR_COLUMN)


def text_fields():
    """The pyarrow fields of the text columns (all nullable)."""
    import pyarrow as pa

    return [pa.field(SEMANTIC_COLUMN, pa.list_(pa.float32(), TEXT_DIM)),
            pa.field(DESCRIPTION_COLUMN, pa.string()),
            pa.field(DESCRIPTION_VECTOR_COLUMN, pa.list_(pa.float32(), TEXT_DIM))]


def arrow_schema(dim: int):
    """The pyarrow schema of a table holding ``dim``-dimensional embeddings."""
    import pyarrow as pa

    return pa.schema([
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("video", pa.string()),
        pa.field("frame_index", pa.int64()),
        pa.field("time", pa.float64()),
        pa.field("shot_index", pa.int32()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("file_size", pa.int64()),
        pa.field("file_mtime_ns", pa.int64()),
        pa.field("content_hash", pa.string()),
        pa.field("phash", pa.int64()),
        pa.field("vector", pa.list_(pa.float32(), int(dim))),
        pa.field("encoder", pa.string()),
        pa.field("dim", pa.int32()),
        pa.field("added_at", pa.timestamp("us", tz="UTC")),
        *text_fields(),
    ])


def table_name(encoder_name: str) -> str:
    """Table name for an encoder: ``emb_`` + the name with unsafe characters replaced; a
    short hash is appended when replacing changed the name (``clip:/a`` vs ``clip:/b``)."""
    safe = re.sub(r"[^A-Za-z0-9_]", "_", encoder_name)
    if safe != encoder_name:
        safe += "_" + hashlib.blake2b(encoder_name.encode(), digest_size=4).hexdigest()
    return "emb_" + safe


def row_id(source: str | os.PathLike, kind: str, frame_index: int | None) -> str:
    """blake2b-96 of the file name's bytes (``os.fsencode``: any name the OS allows, UTF-8 or
    not), kind and frame index. For UTF-8 names the bytes are those of the string, so ids of
    existing tables do not change."""
    key = os.fsencode(source) + f"\x00{kind}\x00{'' if frame_index is None else frame_index}".encode()
    return hashlib.blake2b(key, digest_size=12).hexdigest()


_ESCAPED_BYTE = re.compile(rb"\\x([0-9a-f]{2})")


def source_text(path: str | os.PathLike) -> str:
    """The ``source`` column value of a file path. Arrow strings must be UTF-8, so a name that is
    not (``b'caf\\xe9.jpg'`` from a Latin-1 camera, read by Python as ``'caf\\udce9.jpg'``) keeps
    its valid parts and writes each undecodable byte as the four characters ``\\xNN``.
    Valid UTF-8 names are stored unchanged. :func:`source_path` reverses it."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def source_path(text: str) -> str:
    """The file-system path of a ``source`` value (inverse of :func:`source_text`): ``\\xNN``
    sequences become the bytes they stand for, unless a file of the literal name exists."""
    if "\\x" not in text or os.path.exists(text):
        return text
    return os.fsdecode(_ESCAPED_BYTE.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8")))


def content_hash(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """blake2b-128 hex digest of the file bytes."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def phash64(image: np.ndarray) -> int:
    """64-bit perceptual hash (DCT, 32×32 → 8×8 low frequencies > median), computed by
    ``imagehash.phash`` (Zauner 2010, "Implementation and benchmarking of perceptual image
    hash functions"), packed row-major MSB-first into a signed int64."""
    import imagehash
    from PIL import Image

    img = image if image.dtype == np.uint8 else (image >> 8).astype(np.uint8)
    bits = imagehash.phash(Image.fromarray(img)).hash.reshape(-1)
    value = 0
    for b in bits:
        value = (value << 1) | int(b)
    return int(np.array([value], np.uint64).view(np.int64)[0])


def hamming64(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """Bitwise Hamming distance between int64 hashes (broadcasting)."""
    x = np.bitwise_xor(np.asarray(a, np.int64), np.asarray(b, np.int64)).view(np.uint64)
    # popcount of uint64 through 8 byte lookups
    bytes_ = x[..., None].view(np.uint8).reshape(*x.shape, 8)
    return _POPCOUNT8[bytes_].sum(axis=-1)


_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], np.int64)


def file_facts(path: Path) -> dict[str, Any]:
    """Size and mtime of a file (the fast change test); the hash is computed only when needed."""
    st = path.stat()
    return {"file_size": int(st.st_size), "file_mtime_ns": int(st.st_mtime_ns)}
