"""Query banks: each reference embedded as several views, scored by its best view."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from kadr.errors import InputError
from kadr.features.base import Encoder


def query_crops(image: np.ndarray, aspect: float = 16 / 9) -> list[np.ndarray]:
    """The multi-crop views of a reference image (RGB HxWx3): the whole image; for the
    image's own aspect and for ``aspect`` (the stream's): the largest centred crop, and
    crops zoomed 1.4× (centre and shifted to 20 % / 80 % horizontally and vertically) and 2×
    (same five positions). 23 views for a non-square reference."""
    h, w = image.shape[:2]
    out = [image]
    for asp in dict.fromkeys((w / h, float(aspect))):
        base = min(w, h * asp)
        for zoom in (1.0, 1.4, 2.0):
            cw, ch = base / zoom, base / zoom / asp
            spots = ((0.5, 0.5),) if zoom == 1.0 else ((0.5, 0.5), (0.2, 0.5), (0.8, 0.5), (0.5, 0.2), (0.5, 0.8))
            for fx, fy in spots:
                x0, y0 = (w - cw) * fx, (h - ch) * fy
                crop = image[int(round(y0)):int(round(y0 + ch)), int(round(x0)):int(round(x0 + cw))]
                if crop.shape[0] >= 8 and crop.shape[1] >= 8:
                    out.append(crop)
    return out


class QueryBank:
    """Embedded references: (n_queries, n_crops, D) with a mask for unequal crop counts.
    :meth:`score` maps frame embeddings (N, D) to (N, n_queries) best-crop cosines."""

    def __init__(self, encoder: Encoder, images: Sequence[np.ndarray], names: Sequence[str] | None = None, *,
                 crops: str = "multi", aspect: float = 16 / 9, centre: str = "none"):
        from kadr.metrics.streaming import CentredSimilarity

        self.similarity = CentredSimilarity(centre)
        if not images:
            raise InputError("give at least one query image (--query IMG)")
        self.names = list(names) if names else [f"query{i}" for i in range(len(images))]
        views = [query_crops(im, aspect) if crops == "multi" else [im] for im in images]
        flat = encoder.encode_images([v for vs in views for v in vs])
        n_max = max(len(v) for v in views)
        self.bank = np.zeros((len(images), n_max, flat.shape[1]), np.float32)
        self.mask = np.zeros((len(images), n_max), bool)
        i = 0
        for q, vs in enumerate(views):
            self.bank[q, :len(vs)] = flat[i:i + len(vs)]
            self.mask[q, :len(vs)] = True
            i += len(vs)
        self._flat = self.bank.reshape(-1, flat.shape[1])

    def score(self, emb: np.ndarray) -> np.ndarray:
        """Feed the frames to the streaming similarity (moves a running/EMA centre) and return
        the (centred) cosine of each frame to each reference, best over its crops."""
        emb = np.atleast_2d(emb)
        self.similarity.update(emb)
        s = np.asarray(self.similarity.score(self._flat, emb)["centred"])  # (N, Q*C)
        s = s.reshape(s.shape[0], *self.mask.shape)
        s = np.where(self.mask[None], s, -np.inf)
        return s.max(axis=2)
