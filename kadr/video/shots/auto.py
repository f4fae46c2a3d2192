"""``auto``: the default detector — the best measured speed/accuracy trade-off.

On the benchmark (``benchmarks/results/shots.md``: the real clips of ``../shared/data/video``
and generated clips with hard negatives) ``classic`` scored F1 0.985 at 0 frames tolerance
at PySceneDetect-content speed on 720p (147 frames/s pooled over the clips), while
``transnetv2`` scored 0.895 at 13 frames/s on the same 2-core CPU; so ``auto`` builds a ``classic`` detector. The result records the
detector that actually ran.
"""

from __future__ import annotations

from typing import Any

from kadr.video.shots.base import ShotDetector


def AutoDetector(**options: Any) -> ShotDetector:  # noqa: N802 - a factory used like a class
    """A new instance of the detector ``auto`` stands for (currently ``classic``)."""
    from kadr.video.shots.classic import ClassicDetector

    return ClassicDetector(**options)
