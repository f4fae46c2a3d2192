"""Thumbnail cache of ``kadr serve``: JPEG bytes made once per item, kept on disk and in memory.

A thumbnail is keyed by the row id plus its content hash (a changed file gets a new one) and
made from, in order of cost: the keyframe JPEG an analysis wrote, the image file, or one
decoded video frame. Search results only carry ``thumbnail_url``; nothing is decoded while
searching.
"""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np


def jpeg_bytes(rgb: np.ndarray, max_side: int, quality: int = 82) -> bytes:
    """RGB uint8 (H, W, 3) → JPEG bytes with the longest side at most ``max_side`` px."""
    from PIL import Image

    img = rgb if rgb.dtype == np.uint8 else (rgb >> 8).astype(np.uint8)
    pil = Image.fromarray(np.ascontiguousarray(img))
    if max(pil.size) > max_side:
        pil.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


class ThumbnailCache:
    """Bounded in-memory LRU (``memory_items``) over an optional disk folder."""

    def __init__(self, folder: str | os.PathLike | None, *, max_side: int = 320, memory_items: int = 2048):
        self.folder = Path(folder) if folder else None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        self.max_side = int(max_side)
        self.memory_items = int(memory_items)
        self._mem: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.made = 0

    def get(self, key: str, make: Callable[[], np.ndarray]) -> bytes:
        """The JPEG of ``key``; ``make()`` returns the RGB picture when it is not cached."""
        with self._lock:
            if key in self._mem:
                self._mem.move_to_end(key)
                return self._mem[key]
        data = None
        disk = self.folder / f"{key}.jpg" if self.folder is not None else None
        if disk is not None and disk.is_file():
            try:
                data = disk.read_bytes()
            except OSError:
                data = None
        if data is None:
            data = jpeg_bytes(make(), self.max_side)
            self.made += 1
            if disk is not None:
                tmp = disk.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
                try:
                    tmp.write_bytes(data)
                    os.replace(tmp, disk)
                except OSError:
                    pass  # a read-only cache folder only costs speed
        with self._lock:
            self._mem[key] = data
            while len(self._mem) > self.memory_items:
                self._mem.popitem(last=False)
        return data
