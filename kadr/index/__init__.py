"""Image and keyframe database search (embedded LanceDB).

* :class:`Index` — ``Index(path).add(paths)``, ``.search(image=..., text=..., frame=...)``,
  ``.remove(paths)``, ``.stats()``, ``.dedup()``;
* :mod:`kadr.index.store` — the LanceDB folder, one table per encoder, exact / IVF-SQ search;
* :mod:`kadr.index.indexing` — resumable, idempotent indexing of images and videos;
* :mod:`kadr.index.dedup` — duplicate vs merely similar groups;
* :mod:`kadr.index.watch` — the index as a source of references for stream watching
  (:mod:`kadr.stream`).

lancedb is imported only inside the functions that use it.
"""

from kadr.index.api import Index
from kadr.index.dedup import DedupOptions
from kadr.index.indexing import AddReport
from kadr.index.store import Hit, Store, StoreOptions

__all__ = ["Index", "AddReport", "DedupOptions", "Hit", "Store", "StoreOptions"]
