"""Content-free frames: solid, black, near-uniform and title-card pictures, told apart from
pictures that show something. The one rule every part of kadr uses (keyframe choice, fade
ends in the shot detector, repeated-shot matching, duplicate grouping, labels, stream watch).

The picture is reduced to ``size`` px on its longest side (area filter). With ``y`` the
BT.601 luma and ``c`` the median colour of the reduced picture:

* **solid** — ``std(y) < solid_std``: black, white or one flat colour (a fade's hold);
* **background fraction** ``b`` — the share of pixels whose colour is within ``bg_tolerance``
  grey levels of ``c`` in every channel (Chebyshev distance);
* ``b >= min_background`` and at least ``min_text`` of the pixels farther than
  ``text_contrast`` from ``c`` → **title card** (a flat background with a line of text or a
  logo; tested first, so a black card with small text is a title card, not solid) — provided
  those pixels sit in at most ``max_text_spread`` of the cells of a 4×4 grid: text is a line or
  a block, while a star field or a dimmed night scene has its few bright pixels everywhere
  (content); otherwise, with ``b >= min_background`` → **near-uniform**.

Everything else has content. Range of ``b``: 0..1. Measured (96 px): the black copyright
cards of ``testvideo.mp4`` 0.97–1.00, the flat-colour segments of ``counter.mp4`` (burned-in
counter) 0.96, ``fades.mp4`` holds 1.00; real shots 0.00–0.55, a grey road seen from above
(``car-detection.mp4``) 0.71, the first frames of a fade-in (10 % of the picture) 0.77. The
0.90 cut sits between 0.77 and 0.96; the unit tests check it on generated pictures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kadr._checks import check_positive, check_range
from kadr._options import opt
from kadr.errors import InputError
from kadr.io.images import luma as bt601_luma

#: the reasons :func:`content_free` gives, in the words users read ("solid frame", …)
REASONS = ("solid", "title card", "near-uniform")

#: the text shown instead of labels / matches for each reason
DESCRIPTIONS = {"solid": "solid frame", "title card": "title card", "near-uniform": "near-uniform frame"}


@dataclass(frozen=True)
class ContentOptions:
    """Thresholds of the content-free rule (grey levels of 8-bit pictures)."""

    # 6: the std of the black of a fade with sensor/encoder noise stays under 4, the flattest
    # real shot measured (a grey road) had 11
    solid_std: float = opt(6.0, "luma standard deviation below which a picture is solid")
    bg_tolerance: float = opt(12.0, "colour distance (grey levels) within which a pixel counts as background")
    # see the module docstring for the measurements behind 0.90
    min_background: float = opt(0.90, "background share at or above which a picture is content-free")
    text_contrast: float = opt(48.0, "colour distance from the background that marks text (title card)")
    # 0.0005 = 3 pixels of 5184 at 96x54: a line of small text; noise never reaches 48 levels
    min_text: float = opt(0.0005, "share of text-contrast pixels that makes a content-free picture a title card")
    # 0.5: a line of text fills 1-4 of the 16 cells; the galaxies of a dimmed deep-field photo all 16
    max_text_spread: float = opt(0.5, "a title card's text pixels occupy at most this share of a 4x4 grid")
    size: int = opt(96, "longest side (px) the picture is reduced to before measuring")

    def __post_init__(self) -> None:
        check_range(self.min_background, "min_background", 0.0, 1.0)
        for k in ("solid_std", "bg_tolerance", "text_contrast", "size"):
            check_positive(getattr(self, k), k)


@dataclass(frozen=True)
class ContentStats:
    """What :func:`content_stats` measured: luma mean/std (0..255), background share (0..1),
    share of text-contrast pixels (0..1), share of 4×4 grid cells holding such pixels (0..1)."""

    mean: float
    std: float
    background: float
    text: float
    text_spread: float


def _reduce(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4) or img.shape[0] < 1 or img.shape[1] < 1:
        raise InputError(f"expected an image (H, W, 3), got shape {img.shape}")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise InputError(f"expected uint8 or uint16 pixels, got {img.dtype}; kadr never guesses a value range")
    img = img[..., :3] if img.shape[2] >= 3 else np.repeat(img, 3, axis=2)
    h, w = img.shape[:2]
    s = size / max(h, w)
    if s < 1:
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return img.astype(np.float32)


def content_stats(image: np.ndarray, options: ContentOptions | None = None) -> ContentStats:
    """Measure ``image`` (RGB uint8/uint16 HxWx3 or greyscale HxW) for the content-free rule."""
    o = options or ContentOptions()
    px = _reduce(image, int(o.size))
    y = bt601_luma(px)
    centre = np.median(px.reshape(-1, 3), axis=0)
    dist = np.abs(px - centre).max(axis=2)
    text = dist > o.text_contrast
    h, w = text.shape
    ys, xs = np.linspace(0, h, 5).astype(int), np.linspace(0, w, 5).astype(int)
    cells = [text[ys[i]:ys[i + 1], xs[j]:xs[j + 1]].any() for i in range(4) for j in range(4)]
    return ContentStats(float(y.mean()), float(y.std()), float(np.mean(dist <= o.bg_tolerance)),
                        float(np.mean(text)), float(np.mean(cells)))


def content_free(image: np.ndarray, options: ContentOptions | None = None) -> str | None:
    """Why ``image`` shows nothing — ``"solid"``, ``"title card"`` or ``"near-uniform"`` — or
    ``None`` when it has content. See the module docstring for the rule."""
    o = options or ContentOptions()
    st = content_stats(image, o)
    if st.background >= o.min_background and st.text >= o.min_text:
        return "title card" if st.text_spread <= o.max_text_spread else None
    if st.std < o.solid_std:
        return "solid"
    if st.background >= o.min_background:
        return "near-uniform"
    return None


def is_content_free(image: np.ndarray, options: ContentOptions | None = None) -> bool:
    """``content_free(image) is not None``."""
    return content_free(image, options) is not None


def is_solid(image: np.ndarray | None = None, *, luma: np.ndarray | None = None, max_std: float | None = None) -> bool:
    """The solid part of the rule on full-resolution luma: ``std(y) < max_std`` (default
    ``ContentOptions.solid_std``). Pass ``luma`` when it is already computed."""
    if luma is None:
        if image is None:
            raise InputError("is_solid needs an image or its luma")
        img = np.asarray(image, np.float32)
        luma = bt601_luma(img) if img.ndim == 3 else img
    limit = ContentOptions().solid_std if max_std is None else float(max_std)
    return float(np.std(luma)) < limit


__all__ = ["ContentOptions", "ContentStats", "REASONS", "DESCRIPTIONS", "content_stats", "content_free",
           "is_content_free", "is_solid"]
