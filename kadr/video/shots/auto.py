"""``auto``: the default detector — ``verified`` (see ``benchmarks/results/shots.md``).

``verified`` proposes boundaries with the fast ``classic`` signals and keeps those whose
frames before and after really show different things (EfficientNet-Lite0 embeddings and
other cues, combined by a decision learned on tuning data only). It was chosen as the
default on the benchmark's held-out sets, where ``classic`` alone reports motion and light
changes as cuts and ``transnetv2`` is an order of magnitude slower. The result records the
detector that actually ran.
"""

from __future__ import annotations

from typing import Any

from kadr.video.shots.base import ShotDetector


def AutoDetector(**options: Any) -> ShotDetector:  # noqa: N802 - a factory used like a class
    """A new instance of the detector ``auto`` stands for (currently ``verified``)."""
    from kadr.video.shots.verified import VerifiedDetector

    return VerifiedDetector(**options)
