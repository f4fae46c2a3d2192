"""Shot-boundary evaluation: TRECVID-style one-to-one matching, P/R/F1 for all, cuts, gradual.

A boundary is an inclusive frame interval ``[start, end]``: a cut is ``[c, c]`` (the first
frame of the new shot), a gradual transition ``[first changed, first settled]`` — the
conventions of ``../shared/data/video/ground_truth.json``.

Matching (after the TRECVID shot-boundary task, Smeaton, Over & Doherty, "Video shot
boundary detection: seven years of TRECVid activity", CVIU 2010): a predicted boundary
*p* may match a ground-truth boundary *g* when the intervals overlap once *g* is widened by
the tolerance, ``p.start <= g.end + tol and g.start - tol <= p.end`` — so with 0 tolerance a
cut must be frame-exact and a prediction matches a gradual interval when it falls inside
it. Each boundary matches at most once; among all such one-to-one matchings the one with
the most pairs and then the smallest total distance between interval centres is taken
(Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``).

Scores: precision = matched predictions / predictions, recall = matched truths / truths,
F1 = 2PR / (P + R). ``cuts`` and ``gradual`` split both sides by kind (a truth is a cut when
start == end, a prediction when its type is ``cut``) and keep the overall matching: a
predicted cut that lands inside a true dissolve is a correct cut prediction but its truth
counts for the gradual recall. Precision is undefined (``None``, printed "n/a") when nothing
was predicted and recall when there is nothing to find; F1 is 1 when both sides are empty
and 0 when only one is.

Two scores judge matched pairs beyond "they overlap":

* **gradual IoU**: for every matched pair whose truth is a gradual interval, the overlap of
  the two inclusive frame intervals, ``|P ∩ G| / |P ∪ G|`` (a cut inside a 12-frame
  dissolve scores 1/12); reported as the mean over those pairs (``None`` without any).
* **type accuracy**: over the matched pairs whose truth names its type (``cut``,
  ``dissolve``, ``fade_in``, ``fade_out``; a plain ``gradual`` truth only tells cut from
  gradual), the fraction whose predicted type agrees.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from kadr._checks import check_file
from kadr.errors import InputError


@dataclass(frozen=True)
class Boundary:
    start: int
    end: int
    type: str = ""

    @property
    def is_cut(self) -> bool:
        return self.type == "cut" if self.type else self.start == self.end

    @property
    def centre(self) -> float:
        return (self.start + self.end) / 2


@dataclass
class Counts:
    """Matched and total counts on both sides; add Counts of several videos to pool them."""

    tp_pred: int = 0
    n_pred: int = 0
    tp_gt: int = 0
    n_gt: int = 0

    def __add__(self, o: "Counts") -> "Counts":
        return Counts(self.tp_pred + o.tp_pred, self.n_pred + o.n_pred, self.tp_gt + o.tp_gt, self.n_gt + o.n_gt)

    @property
    def precision(self) -> float | None:
        """matched / predicted; ``None`` when nothing was predicted (undefined, not 1)."""
        return self.tp_pred / self.n_pred if self.n_pred else None

    @property
    def recall(self) -> float | None:
        """matched / truths; ``None`` when there is nothing to find."""
        return self.tp_gt / self.n_gt if self.n_gt else None

    @property
    def f1(self) -> float:
        """2PR / (P + R); 1 when nothing is to be found and nothing was, 0 when one side is empty."""
        if not self.n_pred or not self.n_gt:
            return 1.0 if not self.n_pred and not self.n_gt else 0.0
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        def r4(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {"precision": r4(self.precision), "recall": r4(self.recall), "f1": round(self.f1, 4),
                "matched_pred": self.tp_pred, "predicted": self.n_pred, "matched_truth": self.tp_gt,
                "truth": self.n_gt}


@dataclass
class ShotScores:
    tolerance: int
    all: Counts
    cuts: Counts
    gradual: Counts
    matches: list[tuple[Boundary, Boundary]] = field(default_factory=list)
    false_positives: list[Boundary] = field(default_factory=list)
    missed: list[Boundary] = field(default_factory=list)

    def __add__(self, o: "ShotScores") -> "ShotScores":
        return ShotScores(self.tolerance, self.all + o.all, self.cuts + o.cuts, self.gradual + o.gradual,
                          self.matches + o.matches, self.false_positives + o.false_positives, self.missed + o.missed)

    @property
    def gradual_ious(self) -> list[float]:
        """IoU of every matched pair whose truth is gradual (see the module docstring)."""
        return [interval_iou(p, g) for p, g in self.matches if not g.is_cut]

    @property
    def gradual_iou(self) -> float | None:
        """Mean of :attr:`gradual_ious`; ``None`` when no gradual truth was matched."""
        v = self.gradual_ious
        return float(np.mean(v)) if v else None

    @property
    def typed_pairs(self) -> int:
        """Matched pairs whose truth names a type (the denominator of :attr:`type_accuracy`)."""
        return sum(1 for _, g in self.matches if g.type)

    @property
    def type_accuracy(self) -> float | None:
        """Fraction of typed matched pairs whose predicted type agrees; ``None`` without any."""
        n = self.typed_pairs
        return sum(type_agrees(p, g) for p, g in self.matches if g.type) / n if n else None

    def to_dict(self) -> dict[str, Any]:
        def b(x: Boundary) -> dict[str, Any]:
            return {"type": x.type or ("cut" if x.start == x.end else "gradual"), "start_frame": x.start, "end_frame": x.end}

        iou, acc = self.gradual_iou, self.type_accuracy
        return {"tolerance": self.tolerance, "all": self.all.to_dict(), "cuts": self.cuts.to_dict(),
                "gradual": self.gradual.to_dict(),
                "gradual_iou": None if iou is None else round(iou, 4), "gradual_matched": len(self.gradual_ious),
                "type_accuracy": None if acc is None else round(acc, 4), "typed_matched": self.typed_pairs,
                "false_positives": [b(x) for x in self.false_positives],
                "missed": [b(x) for x in self.missed]}


def interval_iou(a: Boundary, b: Boundary) -> float:
    """Intersection over union of two inclusive frame intervals, in [0, 1]."""
    inter = min(a.end, b.end) - max(a.start, b.start) + 1
    union = max(a.end, b.end) - min(a.start, b.start) + 1
    return max(0, inter) / union


def type_agrees(pred: Boundary, truth: Boundary) -> bool:
    """Whether a prediction's type agrees with a truth's: exact for named types; a plain
    ``gradual`` truth accepts every non-cut prediction."""
    if truth.type == "gradual":
        return not pred.is_cut
    if truth.type == "cut":
        return pred.is_cut
    return pred.type == truth.type


def match(pred: list[Boundary], truth: list[Boundary], tolerance: int = 0) -> list[tuple[int, int]]:
    """One-to-one (pred index, truth index) pairs: most pairs, then least centre distance."""
    if not pred or not truth:
        return []
    from scipy.optimize import linear_sum_assignment

    ps = np.array([p.start for p in pred])[:, None]
    pe = np.array([p.end for p in pred])[:, None]
    gs = np.array([g.start for g in truth])[None, :]
    ge = np.array([g.end for g in truth])[None, :]
    ok = (ps <= ge + tolerance) & (gs - tolerance <= pe)
    dist = np.abs(np.array([p.centre for p in pred])[:, None] - np.array([g.centre for g in truth])[None, :])
    big = float(dist.sum() + 1) * 10
    cost = np.where(ok, dist, big)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if ok[r, c]]


def _boundaries(items: Any, name: str) -> list[Boundary]:
    """``items`` as a list of Boundary (objects with int ``start``/``end``); InputError otherwise."""
    if isinstance(items, (dict, str, bytes)):
        raise InputError(f"{name} must be a list of Boundary(start, end, type) (e.g. boundaries_from(shots_json)[0]), "
                         f"got a {type(items).__name__}; for files use evaluate_files")
    out = list(items)
    for b in out:
        if not (hasattr(b, "start") and hasattr(b, "end")):
            raise InputError(f"{name} must hold Boundary(start, end, type) items, got {type(b).__name__} {b!r:.60}")
    return out


def evaluate(pred: Iterable[Boundary], truth: Iterable[Boundary], *, tolerance: int = 0) -> ShotScores:
    """Score predicted boundaries against the truth (see the module docstring)."""
    if int(tolerance) != tolerance or tolerance < 0:
        raise InputError(f"tolerance must be an integer number of frames >= 0, got {tolerance!r}")
    pred, truth = _boundaries(pred, "pred"), _boundaries(truth, "truth")
    pairs = match(pred, truth, int(tolerance))
    mp = {p for p, _ in pairs}
    mg = {g for _, g in pairs}

    def counts(pred_sel, truth_sel) -> Counts:
        pi = [i for i, p in enumerate(pred) if pred_sel(p)]
        gi = [i for i, g in enumerate(truth) if truth_sel(g)]
        return Counts(sum(i in mp for i in pi), len(pi), sum(i in mg for i in gi), len(gi))

    return ShotScores(
        int(tolerance), counts(lambda p: True, lambda g: True), counts(lambda p: p.is_cut, lambda g: g.is_cut),
        counts(lambda p: not p.is_cut, lambda g: not g.is_cut),
        [(pred[p], truth[g]) for p, g in pairs],
        [p for i, p in enumerate(pred) if i not in mp], [g for i, g in enumerate(truth) if i not in mg])


# ---- reading predictions and truths ---------------------------------------------------
def boundaries_from(obj: Any, *, video: str | None = None) -> tuple[list[Boundary], str | None]:
    """Boundaries from any of the JSON shapes kadr meets; returns (boundaries, video name).

    * a ``kadr shots --json`` result: ``{"video": ..., "transitions": [{"type", "start_frame", "end_frame"}...]}``
    * a ground-truth entry: ``{"hard": [frame...], "gradual": [[start, end]...]}``; when it also
      has ``"transitions": [[type, start, end]...]`` (what ``kadr.io.synthetic`` writes), those
      typed intervals are used
    * a ground-truth file mapping video names to entries (``ground_truth.json``): the entry
      named ``video`` (its file name is enough) is used.
    """
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object: a `kadr shots --json` result or a ground-truth entry/file")
    typed = obj.get("transitions")
    if ("hard" in obj or "gradual" in obj) and isinstance(typed, list) and all(isinstance(t, list) for t in typed):
        try:
            out = [Boundary(int(s), int(e), str(k)) for k, s, e in typed]
        except (TypeError, ValueError) as exc:
            raise InputError(f"typed truth needs 'transitions': [[type, start, end], ...] ({exc})") from None
        plain = boundaries_from({k: obj[k] for k in ("hard", "gradual") if k in obj}, video=video)[0]
        if sorted((b.start, b.end) for b in plain) != sorted((b.start, b.end) for b in out):
            raise InputError("a typed truth's 'transitions' disagree with its 'hard'/'gradual' lists")
        return sorted(out, key=lambda b: b.start), video
    if "hard" in obj or "gradual" in obj:
        try:
            out = [Boundary(int(c), int(c), "cut") for c in obj.get("hard", [])]
            out += [Boundary(int(s), int(e), "gradual") for s, e in obj.get("gradual", [])]
        except (TypeError, ValueError) as exc:
            raise InputError(f"ground truth needs 'hard': [frame, ...] and 'gradual': [[start, end], ...] ({exc})") from None
        for b in out:
            if b.end < b.start or b.start < 0:
                raise InputError(f"bad ground-truth interval [{b.start}, {b.end}]: need 0 <= start <= end")
        return sorted(out, key=lambda b: b.start), video
    if "transitions" in obj and all(isinstance(t, dict) for t in obj["transitions"]):
        try:
            out = [Boundary(int(t["start_frame"]), int(t["end_frame"]), str(t.get("type", ""))) for t in obj["transitions"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"a transition lacks start_frame/end_frame ({exc})") from None
        return sorted(out, key=lambda b: b.start), obj.get("video")
    entries = {k: v for k, v in obj.items() if isinstance(v, dict) and ("hard" in v or "gradual" in v or "transitions" in v)}
    if not entries:
        raise InputError("no transitions found: give a `kadr shots --json` result, a ground-truth entry "
                         "({'hard': [...], 'gradual': [...]}) or a file of such entries keyed by video name")
    if video is None and len(entries) == 1:
        video = next(iter(entries))
    key = None
    if video is not None:
        key = video if video in entries else next((k for k in entries if Path(k).name == Path(video).name), None)
    if key is None:
        raise InputError(f"the ground-truth file has entries for {', '.join(sorted(entries))}; "
                         f"choose one with --video NAME" + (f" ({video!r} is not among them)" if video else ""))
    return boundaries_from(entries[key], video=key)[0], key


def load_json(path: str | os.PathLike) -> Any:
    p = check_file(path, what="JSON file")
    try:
        return json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p} is not valid JSON ({exc})") from None


def evaluate_files(pred_path: str | os.PathLike, truth_path: str | os.PathLike, *, tolerance: int = 0,
                   video: str | None = None) -> tuple[ShotScores, str | None]:
    """Score a prediction file against a truth file; the video name picks the truth entry."""
    pred, pvideo = boundaries_from(load_json(pred_path), video=video)
    truth, tvideo = boundaries_from(load_json(truth_path), video=video or pvideo)
    return evaluate(pred, truth, tolerance=tolerance), tvideo or pvideo
