"""Train the decision of the ``verified`` shot detector (kadr/video/shots/data/verified.json).

Run: ``.venv/bin/python benchmarks/shots_train.py``. Data (see ``_shots_data.py``): generated
clips (``hard_clip`` variants 2..7, seed 100), the tuning spliced clips (tuning half of the
single-shot footage, seeds 100..115) and the tuning single-shot clips themselves (every
candidate there is a false one). Nothing of the held-out set is read.

Each clip goes through the candidate stage and the cue computation of the detector
(``VerifiedDetector`` with a decision that keeps everything); a candidate is a positive when
it matches a true boundary one-to-one within ±2 frames (``kadr.video.evaluate``). A logistic
regression (``fit_decision``) is fitted on all candidates; the numbers it reaches on its
own training data and by leave-one-clip-group-out are written into the JSON next to the
weights, so the shipped file says how it was made.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import _shots_data as data  # noqa: E402
from kadr.video.evaluate import boundaries_from, evaluate  # noqa: E402
from kadr.video.shots import detect_shots  # noqa: E402
from kadr.video.shots.verified import CUES, WEIGHTS, Decision, Decisions, VerifiedDetector, fit_decision  # noqa: E402


def keep_all() -> Decisions:
    z = np.zeros(len(CUES))
    d = Decision(CUES, z, np.ones(len(CUES)), z, 0.0, {})
    return Decisions(d, d, 0.0, {})


def fit_both(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[Decision, Decision]:
    cut = x[:, CUES.index("is_cut")] > 0.5
    return fit_decision(x[cut], y[cut], l2=l2), fit_decision(x[~cut], y[~cut], l2=l2)


def probabilities(cut_d: Decision, grad_d: Decision, x: np.ndarray) -> np.ndarray:
    cut = x[:, CUES.index("is_cut")] > 0.5
    p = np.empty(len(x))
    if cut.any():
        p[cut] = cut_d.probability(x[cut])
    if (~cut).any():
        p[~cut] = grad_d.probability(x[~cut])
    return p


def f1_at(p: np.ndarray, y: np.ndarray, n_truth: int, thr: float) -> float:
    keep = p >= thr
    tp, fp = int((keep & (y > 0)).sum()), int((keep & (y == 0)).sum())
    return 2 * tp / max(1, 2 * tp + fp + (n_truth - tp))


def candidates(path: Path, truth) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Cue vectors and labels of every candidate of one clip, + (true boundaries, found by candidates)."""
    det = VerifiedDetector(decision=keep_all())
    det.keep_log = True
    detect_shots(path, detector=det, record_scores=False)
    pred = [t for t, _, _, _ in det.log]
    tb = boundaries_from(truth.to_dict())[0] if truth is not None else []
    pb = boundaries_from({"transitions": [t.to_dict() for t in pred]})[0]
    # boundaries_from sorts by start: keep the log in the same order
    order = sorted(range(len(pred)), key=lambda i: pred[i].start_frame)
    x = np.array([det.log[i][1] for i in order]).reshape(-1, len(CUES))
    s = evaluate(pb, tb, tolerance=2)
    matched = {id(p) for p, _ in s.matches}
    y = np.array([1.0 if id(b) in matched else 0.0 for b in pb])
    if s.missed:
        print(f"  {path.name}: no candidate for " + ", ".join(f"{b.type} {b.start}-{b.end}" for b in s.missed), flush=True)
    return x, y, len(tb), s.all.tp_gt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(WEIGHTS), help="where to write the decision JSON (default: the shipped file)")
    ap.add_argument("--l2", type=float, default=1.0, help="L2 penalty on the standardised weights")
    ap.add_argument("--dump", default="", help="also save the cue matrix, labels and groups to this .npz")
    args = ap.parse_args()
    t0 = time.time()
    groups: dict[str, list] = {"generated": [], "tuning splices": [], "tuning single-shot": []}
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        for name, p, truth in data.generated("train", tmp):
            groups["generated"].append((name, *candidates(p, truth)))
        for name, p, truth in data.splices("tuning", tmp):
            groups["tuning splices"].append((name, *candidates(p, truth)))
        for p in data.single_paths(data.TUNING_SINGLE):
            groups["tuning single-shot"].append((p.name, *candidates(p, None)))
    summary = {}
    for g, rows in groups.items():
        n_true = sum(r[3] for r in rows)
        found = sum(r[4] for r in rows)
        pos = sum(int(r[2].sum()) for r in rows)
        neg = sum(len(r[2]) - int(r[2].sum()) for r in rows)
        summary[g] = {"clips": len(rows), "true_boundaries": n_true, "candidate_recall": round(found / n_true, 4) if n_true else None,
                      "positives": pos, "negatives": neg}
        print(f"{g:22s} clips {len(rows):3d}  truths {n_true:4d}  candidate recall "
              f"{found / max(n_true, 1):.3f}  candidates +{pos} -{neg}", flush=True)
    rows_all = [r for rows in groups.values() for r in rows]
    x = np.vstack([r[1] for r in rows_all])
    y = np.concatenate([r[2] for r in rows_all])
    clip = np.concatenate([np.full(len(r[2]), i) for i, r in enumerate(rows_all)])
    gid = np.concatenate([np.full(len(r[2]), k) for k, rows in enumerate(groups.values()) for r in rows])
    n_truth = sum(r[3] for r in rows_all)
    if args.dump:
        np.savez(args.dump, x=x, y=y, group=gid, clip=clip)
    # out-of-fold probabilities (5 folds by clip): the threshold is chosen on those, not in-sample
    fold = clip % 5
    oof = np.zeros(len(y))
    for k in range(5):
        te = fold == k
        if te.any():
            oof[te] = probabilities(*fit_both(x[~te], y[~te], args.l2), x[te])
    grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
    f1s = [f1_at(oof, y, n_truth, t) for t in grid]
    thr = float(grid[int(np.argmax(f1s))])
    # leave-one-group-out: how well the rule carries to a kind of clip it was not fitted on
    logo = {}
    for k, g in enumerate(groups):
        te = gid == k
        p = probabilities(*fit_both(x[~te], y[~te], args.l2), x[te]) >= thr
        yt = y[te] > 0
        logo[g] = {"kept_true": int((p & yt).sum()), "true": int(yt.sum()),
                   "kept_false": int((p & ~yt).sum()), "false": int((~yt).sum())}
    cut_d, grad_d = fit_both(x, y, args.l2)
    p = probabilities(cut_d, grad_d, x) >= thr
    meta = {"trained_on": summary, "threshold_choice": {"grid": grid.tolist(), "out_of_fold_f1": [round(f, 4) for f in f1s]},
            "out_of_fold_f1_at_threshold": round(max(f1s), 4), "leave_one_group_out": logo, "l2": args.l2,
            "training_kept_true": [int((p & (y > 0)).sum()), int((y > 0).sum())],
            "training_kept_false": [int((p & (y == 0)).sum()), int((y == 0).sum())],
            "training_f1_with_candidate_misses": round(f1_at(probabilities(cut_d, grad_d, x), y, n_truth, thr), 4),
            "note": "benchmarks/shots_train.py; tuning data only (benchmarks/_shots_data.py)"}
    d = Decisions(cut_d, grad_d, thr, meta)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(d.to_dict(), indent=1) + "\n")
    print(json.dumps({k: v for k, v in meta.items() if k not in ("trained_on", "threshold_choice")}))
    print("threshold", thr)
    for name, dd in (("cut", cut_d), ("gradual", grad_d)):
        print(name, "weights:", dict(zip(CUES, np.round(dd.coef, 3).tolist())), "bias", round(dd.bias, 3))
    print(f"wrote {args.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
