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
    """Defaults chosen on the *tuning* real-footage streams of ``benchmarks/watch.py`` (seeds
    0-4) with effnet-lite0; the held-out seeds were not looked at while choosing. Scores are
    calibrated per encoder (:mod:`kadr.stream.calibration`): ``threshold`` and ``release`` are
    in 0..1, not cosines."""

    # 10/s: detection within 0.1-0.2 s of an appearance; 5/s lost two short appearances (tuning)
    rate: float = opt(10.0, "frames per second (stream time) embedded and scored")
    threshold: float = opt(0.5, "calibrated score (0..1) at which an event starts; 0.5 = the per-encoder "
                                "decision point fitted on the tuning streams")
    release: float = opt(0.15, "an event ends when the calibrated score stays below this for --hold seconds")
    hold: float = opt(0.3, "seconds below --release before an event ends")
    # 1: averaging 2-3 samples delayed detection and lost short appearances on the tuning streams
    smooth: int = opt(1, "samples averaged (a moving mean of the calibrated score) before the thresholds")
    min_cosine: float | None = opt(None, "use this best-crop cosine as the decision point instead of the "
                                         "encoder's calibration (needed for uncalibrated encoders)", metavar="S")
    crops: str = opt("multi", "query bank: 'multi' (zoomed/shifted crops of each reference) or 'single'",
                     choices=CROP_MODES)
    centre: str = opt("none", "centre of the streaming similarity: none (plain cosine), running or ema "
                              "(stream mean removed; measured to hurt, see benchmarks/results/watch.md)",
                      choices=CENTRE_MODES)
    size: int = opt(320, "longest side (px) frames are decoded at for analysis")
    max_lag: float = opt(2.0, "live sources: seconds behind the stream after which sampled frames are dropped")
    timeout: float | None = opt(None, "stop with an error when no frame could be decoded for this many seconds "
                                      "(default: 30 s for live sources, none for files)", metavar="S")
    shots: bool = opt(False, "run the shot detector alongside and align event starts/ends with shot boundaries")
    db_min_score: float = opt(0.5, "--db: cosine a shot keyframe's best database hit must reach to be reported "
                                   "(a zoomed view of a stored photo scored 0.58, unrelated shots <= 0.31)")

    def __post_init__(self) -> None:
        check_positive(self.rate, "rate")
        check_range(self.threshold, "threshold", 0.0, 1.0)
        check_range(self.release, "release", 0.0, 1.0)
        if self.release > self.threshold:
            raise InputError(f"release ({self.release}) must be <= threshold ({self.threshold})")
        check_positive(self.hold, "hold", allow_zero=True)
        if int(self.smooth) != self.smooth or self.smooth < 1:
            raise InputError(f"smooth must be an integer >= 1, got {self.smooth!r}")
        if self.min_cosine is not None:
            check_range(self.min_cosine, "min_cosine", -1.0, 1.0)
        check_positive(self.size, "size")
        check_positive(self.max_lag, "max_lag")
        if self.timeout is not None:
            check_positive(self.timeout, "timeout")
        check_range(self.db_min_score, "db_min_score", -1.0, 1.0)
        if self.centre not in CENTRE_MODES:
            raise InputError(f"centre must be one of {', '.join(CENTRE_MODES)}, got {self.centre!r}")
        if self.crops not in CROP_MODES:
            raise InputError(f"crops must be one of {', '.join(CROP_MODES)}, got {self.crops!r}")

    def live_timeout(self, live: bool) -> float | None:
        """The stall timeout that applies: ``timeout`` if set, else 30 s for live sources."""
        return self.timeout if self.timeout is not None else (30.0 if live else None)
