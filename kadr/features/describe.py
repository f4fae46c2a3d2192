"""Measured descriptions: a short text built from what kadr measured on a picture — not a caption.

The offline default of ``kadr describe`` and of the index's ``description`` column when no
captioning model is given. Fields (each one a measurement, never a guess):

* ``labels`` — the top ImageNet classes of an effnet-lite classifier (first synonym), with
  their probabilities;
* ``colours`` — named colours covering at least :data:`COLOUR_MIN_SHARE` of the pixels
  (picture shrunk to 64 px, HSV rules below), largest share first;
* ``brightness`` — mean luma (BT.601, in [0, 1]): dark < 0.25 <= medium <= 0.7 < bright;
* ``greyscale`` — mean HSV saturation < 0.06 (a black-and-white picture);
* ``uniform`` — luma standard deviation < 0.04 (a flat frame: a colour card, a black frame);
* for video keyframes the caller adds ``shot_seconds`` and ``motion`` (camera / object motion
  measured by the shot's analysis).

Colour names (hue H in degrees, saturation S and value V in [0, 1]): V < 0.18 black;
S < 0.18: white when V > 0.82, else grey; else by hue: red [345, 15), orange [15, 40),
yellow [40, 70), green [70, 165), cyan [165, 195), blue [195, 255), purple [255, 290),
pink [290, 345); red/orange/yellow darker than V 0.6 (S > 0.3) are brown. The bounds are the
usual hue-circle sectors (the 11 basic colour terms of Berlin & Kay 1969, less the ones
hue cannot separate) — set by definition, not tuned on any benchmark picture.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from kadr.errors import InputError

#: Smallest pixel share (fraction) for a colour to be named.
COLOUR_MIN_SHARE = 0.12
#: At most this many colours are named.
MAX_COLOURS = 3
#: What a measured description calls itself (so nobody mistakes it for a caption).
KIND = "measured"


@dataclass
class MeasuredDescription:
    """The fields of a measured description and their text (see the module docstring)."""

    labels: list[tuple[str, float]] = field(default_factory=list)
    colours: list[tuple[str, float]] = field(default_factory=list)
    brightness: str = "medium"
    luma: float = 0.5
    greyscale: bool = False
    uniform: bool = False
    shot_seconds: float | None = None
    motion: str | None = None
    kind: str = KIND

    def text(self) -> str:
        """One line, e.g. ``tabby cat, tiger cat or Egyptian cat; brown and grey; medium brightness``."""
        parts = []
        if self.labels and not self.uniform:
            names = [n for n, _ in self.labels]
            parts.append(names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1])
        if self.uniform:
            parts.append(f"a flat {self.colours[0][0] if self.colours else ''} frame".replace("  ", " "))
        elif self.colours:
            names = [n for n, _ in self.colours]
            parts.append(names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])
        tone = f"{self.brightness} brightness"
        if self.greyscale and not self.uniform:
            tone = "black and white, " + tone
        parts.append(tone)
        if self.shot_seconds is not None:
            parts.append(f"shot of {self.shot_seconds:.1f} s")
        if self.motion:
            parts.append(self.motion)
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"] = [{"label": n, "score": round(float(s), 4)} for n, s in self.labels]
        d["colours"] = [{"colour": n, "share": round(float(s), 4)} for n, s in self.colours]
        d["text"] = self.text()
        return d


def colour_names(image: np.ndarray, *, size: int = 64) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per pixel of the picture shrunk to ``size`` px its colour name index; returns
    (names array (h, w) of str, channel maps {"s", "v", "luma"})."""
    import cv2

    from kadr.features.preprocess import as_rgb_uint8, shrink_to

    small = shrink_to(as_rgb_uint8(image), size)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    h = hsv[..., 0] * (360.0 / 256.0)
    s = hsv[..., 1] / 255.0
    v = hsv[..., 2] / 255.0
    luma = (small.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) / 255.0
    names = np.full(h.shape, "grey", dtype=object)
    hue_names = np.select(
        [(h >= 345) | (h < 15), h < 40, h < 70, h < 165, h < 195, h < 255, h < 290],
        ["red", "orange", "yellow", "green", "cyan", "blue", "purple"], default="pink").astype(object)
    chroma = s >= 0.18
    names[chroma] = hue_names[chroma]
    brown = chroma & (v < 0.6) & (s > 0.3) & (((h >= 345) | (h < 70)))
    names[brown] = "brown"
    names[~chroma & (v > 0.82)] = "white"
    names[v < 0.18] = "black"
    return names, {"s": s, "v": v, "luma": luma}


def measure(image: np.ndarray, labels: Sequence[tuple[str, float]] = ()) -> MeasuredDescription:
    """The measured description of one RGB picture, with its classifier ``labels`` [(name, p)]."""
    names, maps = colour_names(image)
    values, counts = np.unique(names.astype(str), return_counts=True)
    share = counts / counts.sum()
    order = np.argsort(-share, kind="stable")
    colours = [(str(values[i]), float(share[i])) for i in order if share[i] >= COLOUR_MIN_SHARE][:MAX_COLOURS]
    luma = float(maps["luma"].mean())
    bright = "dark" if luma < 0.25 else "bright" if luma > 0.7 else "medium"
    return MeasuredDescription(labels=[(str(n), float(p)) for n, p in labels], colours=colours, brightness=bright,
                               luma=round(luma, 4), greyscale=bool(maps["s"].mean() < 0.06),
                               uniform=bool(maps["luma"].std() < 0.04))


def describe_images(images: Sequence[np.ndarray], classifier: Any = None, *, k: int = 3,
                    min_score: float = 0.05) -> list[MeasuredDescription]:
    """Measured descriptions of pictures; labels are the classifier's top ``k`` ImageNet
    classes with probability >= ``min_score`` (at least the best one)."""
    from kadr import features
    from kadr.features.imagenet import short_label

    if not isinstance(images, (list, tuple)):
        raise InputError("images must be a list of RGB arrays")
    enc = classifier or features.get(features.DEFAULT)
    preds = enc.classify(list(images), k=k) if images else []
    out = []
    for im, ps in zip(images, preds):
        kept = [(short_label(p.label), p.score) for i, p in enumerate(ps) if i == 0 or p.score >= min_score]
        out.append(measure(im, kept))
    return out
