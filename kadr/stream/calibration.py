"""Per-encoder calibration of the watch score: from a cosine to a probability-like score.

A frame's score for a reference is its best cosine ``s`` over the reference's bank (every
frame of the reference × every crop view, :mod:`kadr.stream.bank`). Cosines are not
comparable across encoders, and the best of more views is higher by chance, so the watcher
never thresholds ``s`` itself. It uses

    p = σ(a · (s − c − b · ln n)),   σ(x) = 1 / (1 + e^(−x)),

with ``n`` the number of frames in the reference's bank. ``p`` is in 0..1; ``p = 0.5`` is the
decision point (``WatchOptions.threshold``). Per encoder, on the *tuning* streams of
``benchmarks/watch.py`` (seeds 0–4, real footage; never the held-out seeds):

* ``a`` — the slope of a class-balanced logistic regression of "this sample lies inside an
  appearance of this reference" on ``s`` (samples of single- and multi-frame banks);
* ``c`` — the cosine at which single-frame queries gave the fewest misses + false events;
* ``b`` — how much that best cosine rose for 3-frame banks, per ``ln 3``.

``benchmarks/watch.py --calibrate ENCODER`` refits and prints a new entry. An encoder without
an entry needs ``WatchOptions.min_cosine`` (then ``c = min_cosine``, ``b = 0`` and the slope of
the nearest entry, effnet-lite0's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kadr.errors import InputError


@dataclass(frozen=True)
class Calibration:
    """``p = σ(a (s − c − b ln n))``; see the module docstring. ``source`` says where it came from."""

    a: float
    c: float
    b: float = 0.0
    source: str = ""

    def probability(self, cosine: np.ndarray | float, n_frames: np.ndarray | int = 1) -> np.ndarray:
        """Calibrated score(s) in 0..1 for cosine(s) ``s`` and bank sizes ``n`` (broadcast)."""
        s = np.asarray(cosine, np.float64)
        n = np.maximum(np.asarray(n_frames, np.float64), 1.0)
        return 1.0 / (1.0 + np.exp(-self.a * (s - self.c - self.b * np.log(n))))

    def cosine_at(self, p: float, n_frames: int = 1) -> float:
        """The cosine at which the calibrated score equals ``p`` (0 < p < 1)."""
        if not 0.0 < p < 1.0:
            raise InputError(f"p must be strictly between 0 and 1, got {p!r}")
        return self.c + self.b * math.log(max(1, n_frames)) + math.log(p / (1 - p)) / self.a


#: fitted by ``benchmarks/watch.py --calibrate`` on the tuning streams (seeds 0-4); see
#: ``benchmarks/results/watch.md`` for the fit and the held-out numbers.
CALIBRATIONS: dict[str, Calibration] = {
    # a: logistic slope 18.0 (class-balanced); c: single-frame queries, best cosine 0.65 (42/45
    # found, 3 false events on the tuning streams); b: 3-frame banks were best at 0.75, so
    # b = 0.10 / ln 3 = 0.091. A refit after the appearance ends were corrected (results/watch-
    # accuracy.md) gave a = 18.5, c = 0.70, b = 0.054: not yet adopted (decided after the deadline)
    "effnet-lite0": Calibration(a=18.0, c=0.65, b=0.091, source="benchmarks/watch.py tuning seeds 0-4"),
}


def calibration_for(encoder: str, min_cosine: float | None = None) -> Calibration:
    """The calibration of ``encoder`` (its name), or one centred on ``min_cosine`` when given."""
    if min_cosine is not None:
        base = CALIBRATIONS.get(encoder, CALIBRATIONS["effnet-lite0"])
        return Calibration(a=base.a, c=float(min_cosine), b=0.0, source=f"min_cosine={min_cosine:g}")
    if encoder not in CALIBRATIONS:
        raise InputError(f"no watch calibration for encoder {encoder!r} (calibrated: {', '.join(sorted(CALIBRATIONS))}); "
                         "pass --min-cosine S (the cosine at which an event starts) or fit one with "
                         "`python benchmarks/watch.py --calibrate " + encoder + "`")
    return CALIBRATIONS[encoder]


__all__ = ["Calibration", "CALIBRATIONS", "calibration_for"]
