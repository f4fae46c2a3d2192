"""The shot-boundary data sets: what the verified detector is tuned/trained on, and what it
is judged on. Shared by ``benchmarks/shots.py`` (scores) and ``benchmarks/shots_train.py``
(the decision's training).

The rule (issue 11): thresholds and weights are decided on the TUNING set only; the
HELD-OUT set is scored at the end and never looked at while deciding.

Single-shot footage (``../shared/data/video/single-shot``, 23 continuous shots, CC BY 4.0)
is split into two fixed halves:

* the 20 ASL clips sorted by name, alternating: even positions tuning, odd held-out — so
  both halves have signers, distances and lighting of the same kind without hand-picking;
* the three other clips cannot be halved, so the kinds are split: the hand picking up
  bottles and the cars from above are tuning, the people walking into a room (the longest
  clip, 1394 frames) is held-out — people entering a room is motion the decision never saw.

Spliced clips (``kadr.io.synthetic.splice_clip``): tuning splices use only tuning footage
and seeds 100..; held-out splices use only held-out footage plus the inside-shot stretches
of the four shared real clips, with seeds 9000.. (never used while developing).
Generated clips (``hard_clip``): variants 2..7 with seed 100 for training; the benchmark's
generated set (demo clip and ``hard_clip`` variants 0 and 1, seed 0) is held out.
"""

from __future__ import annotations

import json
from pathlib import Path

from _common import SHARED_VIDEO

SINGLE = SHARED_VIDEO / "single-shot"
ASL = ["again", "bird", "book", "brother", "eat", "help", "hungry", "learn", "milk", "night", "no", "please",
       "school", "sister", "sorry", "student", "thanks", "walk", "want", "yes"]
TUNING_SINGLE = [f"asl_gestures/{n}.mkv" for n in ASL[0::2]] + ["bottle-detection.mp4", "car-detection.mp4"]
HELDOUT_SINGLE = [f"asl_gestures/{n}.mkv" for n in ASL[1::2]] + ["one-by-one-person-detection.mp4"]
TUNING_SEEDS = range(100, 116)     # 16 tuning splices
HELDOUT_SEEDS = range(9000, 9010)  # 10 held-out splices
TRAIN_HARD_VARIANTS = range(2, 8)
SPLICE = dict(shots=7, light_ramps=0.4)


def single_paths(names: list[str]) -> list[Path]:
    return [SINGLE / n for n in names if (SINGLE / n).exists()]


def shared_stretches() -> list:
    """The inside-shot frame ranges of the four shared real clips (from ground_truth.json)."""
    from kadr.io.synthetic import SpliceSource

    gt_path = SHARED_VIDEO / "ground_truth.json"
    if not gt_path.exists():
        return []
    gt = json.loads(gt_path.read_text())
    out = []
    for name, e in gt.items():
        if name.startswith("_"):
            continue
        edges = sorted([(c, c) for c in e["hard"]] + [tuple(g) for g in e["gradual"]])
        ranges, a = [], 0
        for s, t in edges:
            ranges.append((a, s))
            a = t + 1
        ranges.append((a, e["frames"]))
        out.append(SpliceSource(SHARED_VIDEO / name, [(x, y) for x, y in ranges if y - x >= 45]))
    return [s for s in out if s.ranges]


def splices(kind: str, tmp: Path) -> list[tuple[str, Path, object]]:
    """(name, path, ClipTruth) of the tuning or held-out spliced clips, written under ``tmp``."""
    from kadr.io.synthetic import splice_clip

    if kind == "tuning":
        sources, seeds = single_paths(TUNING_SINGLE), TUNING_SEEDS
    elif kind == "heldout":
        sources, seeds = single_paths(HELDOUT_SINGLE) + shared_stretches(), HELDOUT_SEEDS
    else:
        raise ValueError(kind)
    out = []
    for seed in seeds:
        p = tmp / f"splice-{kind}-{seed}.mp4"
        _, truth = splice_clip(sources, p, seed=seed, **SPLICE)
        out.append((f"splice {kind} {seed}", p, truth))
    return out


def generated(kind: str, tmp: Path) -> list[tuple[str, Path, object]]:
    """Generated clips: ``train`` (hard_clip variants 2..7, seed 100) or ``heldout``."""
    from kadr.io.synthetic import demo_clip, hard_clip

    out = []
    if kind == "train":
        for v in TRAIN_HARD_VARIANTS:
            p = tmp / f"hard-train{v}.mp4"
            _, t = hard_clip(p, variant=v, seed=100)
            out.append((f"generated: train hard{v}", p, t))
        return out
    t = demo_clip(tmp / "demo.mp4")
    out.append(("generated: demo", tmp / "demo.mp4", t))
    for v in (0, 1):
        _, t = hard_clip(tmp / f"hard{v}.mp4", variant=v)
        out.append((f"generated: hard{v}", tmp / f"hard{v}.mp4", t))
    return out
