"""The database as a source of references for stream watching (:mod:`kadr.stream`).

``Watcher(encoder, references=IndexReferences(index))`` looks each new shot's keyframe up in
the index. Stream watching itself lives in :mod:`kadr.stream`; the names this module used to
define are still importable from here for old code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kadr.stream import (EventTracker, MatchEvent, QueryBank, ReferenceSource, Watcher, WatchOptions, WatchStats,
                         query_crops, watch)


class IndexReferences(ReferenceSource):
    """The items of a :class:`kadr.index.Index` as references: the best hit of an embedding."""

    def __init__(self, index: Any):
        self.index = index

    def best(self, vector: np.ndarray, min_score: float) -> "tuple[str, float, dict[str, Any]] | None":
        hits = self.index.search(vector=vector, k=1, min_score=min_score)
        if not hits:
            return None
        h = hits[0]
        return h.source, float(h.score), h.to_dict()


__all__ = ["IndexReferences", "WatchOptions", "MatchEvent", "WatchStats", "QueryBank", "EventTracker", "Watcher",
           "query_crops", "watch"]
