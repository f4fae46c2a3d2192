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


#: smallest side (px) a reference may have: below it the crops fall under 8 px
MIN_REFERENCE_SIDE = 16
#: aspect ratio (long / short side) beyond which a reference only partly fits any frame
MAX_REFERENCE_ASPECT = 4.0


def check_reference(image: np.ndarray, name: str) -> str | None:
    """Raise on a reference that cannot be used; return a one-line warning for one that can
    only match poorly (content-free, extreme aspect ratio), else None."""
    from kadr.features.content import DESCRIPTIONS, content_free

    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"reference {name}: expected an RGB image (H, W, 3), got shape {img.shape}")
    h, w = img.shape[:2]
    if min(h, w) < MIN_REFERENCE_SIDE:
        raise InputError(f"reference {name} is {w}x{h} px: too small to recognise (at least "
                         f"{MIN_REFERENCE_SIDE} px a side); give a larger picture")
    why = content_free(img)
    if why:
        return (f"reference {name} is a {DESCRIPTIONS[why]}: it can only match {DESCRIPTIONS[why]}s, "
                "which the watcher never scores; give a picture that shows something")
    if max(h, w) / min(h, w) > MAX_REFERENCE_ASPECT:
        return (f"reference {name} is {w}x{h} px (aspect {max(h, w) / min(h, w):.1f}:1): a frame can show "
                "only part of it; matches will be weak")
    return None


class QueryBank:
    """Embedded references. A reference is one picture or several (frames of the same thing:
    a *multi-frame* bank); each picture is embedded as its crop views (:func:`query_crops`,
    ``crops="multi"``) or whole. ``bank``: (n_references, n_views, D) with a mask for unequal
    view counts; ``frames``: (n_references,) pictures per reference. :meth:`score` maps frame
    embeddings (N, D) to (N, n_references) best-view cosines. References may differ in size
    and aspect ratio: each is cropped for its own shape and the stream's."""

    def __init__(self, encoder: Encoder, references: Sequence[np.ndarray | Sequence[np.ndarray]],
                 names: Sequence[str] | None = None, *, crops: str = "multi", aspect: float = 16 / 9,
                 centre: str = "none"):
        from kadr.metrics.streaming import CentredSimilarity

        self.similarity = CentredSimilarity(centre)
        if not len(references):
            raise InputError("give at least one query image (--query IMG)")
        refs = [[r] if isinstance(r, np.ndarray) else list(r) for r in references]
        if any(not r for r in refs):
            raise InputError("a reference has no picture; give at least one image per --query")
        self.names = list(names) if names else [f"query{i}" for i in range(len(refs))]
        if len(self.names) != len(refs):
            raise InputError(f"{len(self.names)} names for {len(refs)} references")
        self.frames = np.array([len(r) for r in refs])
        views = []
        for r in refs:
            v: list[np.ndarray] = []
            for im in r:
                v += query_crops(im, aspect) if crops == "multi" else [im]
            views.append(v)
        flat = encoder.encode_images([v for vs in views for v in vs])
        n_max = max(len(v) for v in views)
        self.bank = np.zeros((len(refs), n_max, flat.shape[1]), np.float32)
        self.mask = np.zeros((len(refs), n_max), bool)
        i = 0
        for q, vs in enumerate(views):
            self.bank[q, :len(vs)] = flat[i:i + len(vs)]
            self.mask[q, :len(vs)] = True
            i += len(vs)
        self._flat = self.bank.reshape(-1, flat.shape[1])

    def score(self, emb: np.ndarray) -> np.ndarray:
        """Feed the frames to the streaming similarity (moves a running/EMA centre) and return
        the (centred) cosine of each frame to each reference, best over its views."""
        emb = np.atleast_2d(emb)
        self.similarity.update(emb)
        s = np.asarray(self.similarity.score(self._flat, emb)["centred"])  # (N, Q*C)
        s = s.reshape(s.shape[0], *self.mask.shape)
        s = np.where(self.mask[None], s, -np.inf)
        return s.max(axis=2)
