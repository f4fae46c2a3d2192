"""Per-frame statistics of a video at analysis size (a cheap first look at a clip).

For each frame: mean luma Y (BT.601, 0..255), luma standard deviation (contrast),
and the change from the previous frame: mean absolute luma difference (0..255) and the
L1 distance between normalised 16-bin luma histograms (0..2). Black frames have a low
mean and deviation; cuts show as spikes of both change signals; fades as ramps of luma.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from kadr.io.images import luma
from kadr.io.video import Frame


@dataclass
class FrameStat:
    index: int
    time: float
    luma_mean: float
    luma_std: float
    diff_prev: float
    hist_l1_prev: float



def frame_stats(frames: Iterable[Frame]) -> Iterator[FrameStat]:
    """Stream :class:`FrameStat` for each frame (uses ``frame.analysis_image``)."""
    prev_y = prev_h = None
    for f in frames:
        y = luma(f.analysis_image)
        h = np.histogram(y, bins=16, range=(0, 256))[0].astype(np.float64)
        h /= max(h.sum(), 1.0)
        d = float(np.abs(y - prev_y).mean()) if prev_y is not None and prev_y.shape == y.shape else 0.0
        hd = float(np.abs(h - prev_h).sum()) if prev_h is not None else 0.0
        yield FrameStat(f.index, round(f.time, 6), float(y.mean()), float(y.std()), d, hd)
        prev_y, prev_h = y, h


def sparkline(values: Iterable[float], width: int = 60) -> str:
    """A one-line unicode chart of ``values`` (max-pooled to ``width`` characters)."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        return ""
    bins = np.array_split(v, min(width, v.size))
    pooled = np.array([b.max() for b in bins])
    lo, hi = float(pooled.min()), float(pooled.max())
    blocks = "▁▂▃▄▅▆▇█"
    if hi - lo < 1e-12:
        return blocks[0] * len(pooled)
    idx = ((pooled - lo) / (hi - lo) * (len(blocks) - 1)).round().astype(int)
    return "".join(blocks[i] for i in idx)
