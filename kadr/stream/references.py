"""Sources of references other than query images: anything that can name the best match of
an embedding (a database is one: :class:`kadr.index.watch.IndexReferences`). With such a
source a shot detector runs on every frame and each new shot's keyframe is looked up."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from kadr.stream.events import MatchEvent
from kadr.stream.options import WatchOptions


class ReferenceSource(ABC):
    """Looks up the best reference of one embedding."""

    @abstractmethod
    def best(self, vector: np.ndarray, min_score: float) -> "tuple[str, float, dict[str, Any]] | None":
        """(name, cosine, details) of the best reference with cosine >= ``min_score``, else None.
        ``vector``: (D,) float32, L2-normalised, from the watcher's encoder."""


class ShotLookup:
    """--db mode: fed the boundaries of a shot detector running on every frame
    (:meth:`note_cut`), it looks the first sample of each new shot up in the references; one
    event per shot (start = shot start, end = next shot)."""

    def __init__(self, references: ReferenceSource, options: WatchOptions):
        self.references = references
        self.o = options
        self.shot_start = 0.0
        self.pending = True  # the first shot starts with the stream
        self.current: MatchEvent | None = None

    def note_cut(self, t: float) -> None:
        """A new shot starts at stream time ``t``."""
        self.shot_start = t
        self.pending = True

    def wants_sample(self, t: float) -> bool:
        return self.pending and t >= self.shot_start

    def sample(self, t: float, emb: np.ndarray, *, behind: bool) -> list[MatchEvent]:
        if not self.wants_sample(t):
            return []
        self.pending = False
        out = []
        if self.current is not None:
            self.current.end = self.shot_start
            out.append(self.current)
            self.current = None
        hit = self.references.best(emb, self.o.db_min_score)
        if hit is not None:
            name, score, item = hit
            self.current = MatchEvent("db", None, name, self.shot_start, t, score, t, t, behind, item)
        return out

    def flush(self, end: float) -> list[MatchEvent]:
        if self.current is not None:
            self.current.end = end
            return [self.current]
        return []
