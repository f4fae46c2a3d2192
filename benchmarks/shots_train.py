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
from kadr.video.shots.verified import CUES, WEIGHTS, Decision, VerifiedDetector, fit_decision  # noqa: E402


def keep_all() -> Decision:
    z = np.zeros(len(CUES))
    return Decision(CUES, z, np.ones(len(CUES)), z, 0.0, {})


def candidates(path: Path, truth) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Cue vectors and labels of every candidate of one clip, + (true boundaries, found by candidates)."""
    det = VerifiedDetector(decision=keep_all(), threshold=0.0)
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
    x = np.vstack([r[1] for rows in groups.values() for r in rows])
    y = np.concatenate([r[2] for rows in groups.values() for r in rows])
    if args.dump:
        gid = np.concatenate([np.full(len(r[2]), k) for k, rows in enumerate(groups.values()) for r in rows])
        np.savez(args.dump, x=x, y=y, group=gid)
    # leave-one-group-out: how well the rule carries to a kind of clip it was not fitted on
    logo = {}
    for g in groups:
        tr = np.concatenate([np.full(len(r[2]), k != g) for k, rows in groups.items() for r in rows])
        if y[tr].min() == y[tr].max():
            continue
        d = fit_decision(x[tr], y[tr], l2=args.l2)
        pred = d.probability(x[~tr]) >= 0.5
        yt = y[~tr] > 0
        logo[g] = {"accuracy": round(float((pred == yt).mean()), 4),
                   "kept_true": int((pred & yt).sum()), "true": int(yt.sum()),
                   "kept_false": int((pred & ~yt).sum()), "false": int((~yt).sum())}
    meta = {"trained_on": summary, "leave_one_group_out": logo, "l2": args.l2,
            "note": "benchmarks/shots_train.py; tuning data only (benchmarks/_shots_data.py)"}
    d = fit_decision(x, y, l2=args.l2, meta=meta)
    p = d.probability(x) >= 0.5
    meta["training_accuracy"] = round(float((p == (y > 0)).mean()), 4)
    meta["training_kept_true"] = [int((p & (y > 0)).sum()), int((y > 0).sum())]
    meta["training_kept_false"] = [int((p & (y == 0)).sum()), int((y == 0).sum())]
    d = Decision(d.cues, d.mean, d.scale, d.coef, d.bias, meta)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(d.to_dict(), indent=1) + "\n")
    print(json.dumps({k: v for k, v in meta.items() if k != "trained_on"}, indent=1))
    print("weights:", dict(zip(CUES, np.round(d.coef, 3).tolist())), "bias", round(d.bias, 3))
    print(f"wrote {args.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
