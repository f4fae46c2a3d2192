"""Options of stream watching: one dataclass, the defaults in one place."""

from __future__ import annotations

from dataclasses import dataclass

from kadr._checks import check_positive, check_range
from kadr._options import opt
from kadr.errors import InputError

#: Query bank modes: ``multi`` (crops of the reference) or ``single`` (the whole picture only).
CROP_MODES = ("multi", "single")
#: Centre modes of the streaming similarity (kadr.metrics.streaming.CentredSimilarity) offered
#: here; ``fixed`` needs a library mean and has no meaning for a handful of references.
CENTRE_MODES = ("none", "running", "ema")


@dataclass
class WatchOptions:
    """Defaults fixed on generated streams of the scikit-image sample photos with
    effnet-lite0 (not tuned on any test clip); see ``benchmarks/results/watch.md``."""

    rate: float = opt(5.0, "frames per second (stream time) embedded and scored")
    threshold: float = opt(0.62, "score (best cosine over the query crops) at which an event starts")
    release: float = opt(0.5, "an event ends when the score stays below this for --hold seconds")
    hold: float = opt(0.4, "seconds below --release before an event ends")
    crops: str = opt("multi", "query bank: 'multi' (zoomed/shifted crops of each reference) or 'single'",
                     choices=CROP_MODES)
    centre: str = opt("none", "centre of the streaming similarity: none (plain cosine), running or ema "
                              "(stream mean removed; measured to hurt, see benchmarks/results/watch.md)",
                      choices=CENTRE_MODES)
    size: int = opt(320, "longest side (px) frames are decoded at for analysis")
    max_lag: float = opt(2.0, "live sources: seconds behind the stream after which sampled frames are dropped")
    db_min_score: float = opt(0.5, "--db: cosine a shot keyframe's best database hit must reach to be reported "
                                   "(a zoomed view of a stored photo scored 0.58, unrelated shots <= 0.31)")

    def __post_init__(self) -> None:
        check_positive(self.rate, "rate")
        check_range(self.threshold, "threshold", -1.0, 1.0)
        check_range(self.release, "release", -1.0, 1.0)
        if self.release > self.threshold:
            raise InputError(f"release ({self.release}) must be <= threshold ({self.threshold})")
        check_positive(self.hold, "hold", allow_zero=True)
        check_positive(self.size, "size")
        check_positive(self.max_lag, "max_lag")
        check_range(self.db_min_score, "db_min_score", -1.0, 1.0)
        if self.centre not in CENTRE_MODES:
            raise InputError(f"centre must be one of {', '.join(CENTRE_MODES)}, got {self.centre!r}")
        if self.crops not in CROP_MODES:
            raise InputError(f"crops must be one of {', '.join(CROP_MODES)}, got {self.crops!r}")
