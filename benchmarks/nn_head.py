"""Does a learned comparison head beat plain cosine on encoder embeddings? (issue 12, part 4c)

Data: the real clips in ../shared/data/video. Shots come from the hand-made ground truth
(testvideo.mp4, issue-236-split-copy.mkv, counter.mp4: the frames between boundaries, gradual
transitions and content-free frames left out) and from the single-shot clips (each clip is one
shot; the 20 ASL clips — same room, same framing, different signers and gestures — are the hard
negatives). Up to FRAMES frames per shot, each seen under two random augmentations (crop 60–100 %,
flip, brightness/contrast ±20 %, noise, JPEG 35–80), embedded with effnet-lite0.

Split by clip, fixed before any result was looked at: TUNING = even-numbered ASL clips,
testvideo.mp4, car-detection.mp4; HELD-OUT = odd-numbered ASL clips, issue-236-split-copy.mkv,
counter.mp4, bottle-detection.mp4, one-by-one-person-detection.mp4. Heads are trained on tuning
views only; the score is retrieval mAP (every view queries all other views; relevant = same
shot) and the ROC AUC of same-shot vs different-shot view pairs.

Run: ``.venv/bin/python benchmarks/nn_head.py [--save HEAD.pt]``. Writes benchmarks/results/nn_head.md;
``--save`` writes the best head on the tuning set (for ``kadr compare-shots --head``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from _common import SHARED_VIDEO, machine_line, markdown_table, write_result  # noqa: E402

FRAMES = 6
ENCODER = "effnet-lite0"


def shot_ranges(truth: dict, name: str) -> list[tuple[int, int]]:
    t = truth[name]
    cuts = [(c, c) for c in t.get("hard", [])] + [tuple(g) for g in t.get("gradual", [])]
    bounds, start = [], 0
    for a, b in sorted(cuts):
        bounds.append((start, a))  # [start, a) before the transition
        start = b + 1 if b > a else a
    bounds.append((start, t["frames"]))
    return [(a, b) for a, b in bounds if b - a >= 3]


def clip_lists():
    truth = json.loads((SHARED_VIDEO / "ground_truth.json").read_text())
    single = SHARED_VIDEO / "single-shot"
    asl = sorted((single / "asl_gestures").glob("*.mkv"))
    tuning = [("testvideo.mp4", shot_ranges(truth, "testvideo.mp4"))]
    tuning += [(str(p.relative_to(SHARED_VIDEO)), None) for p in asl[0::2]]
    tuning += [("single-shot/car-detection.mp4", None)]
    held = [(n, shot_ranges(truth, n)) for n in ("issue-236-split-copy.mkv", "counter.mp4")]
    held += [(str(p.relative_to(SHARED_VIDEO)), None) for p in asl[1::2]]
    held += [("single-shot/bottle-detection.mp4", None), ("single-shot/one-by-one-person-detection.mp4", None)]
    return tuning, held


def load_frames(name: str, ranges, per_shot: int) -> list[tuple[int, np.ndarray]]:
    """(shot number within the clip, RGB frame) pairs, up to per_shot evenly spaced frames per shot."""
    from kadr.io import VideoReader

    with VideoReader(str(SHARED_VIDEO / name), analysis_size=320) as reader:
        frames = [f.analysis_image for f in reader]
    if ranges is None:
        ranges = [(0, len(frames))]
    out = []
    for s, (a, b) in enumerate(ranges):
        b = min(b, len(frames))
        picks = np.unique(np.linspace(a, b - 1, per_shot).round().astype(int))
        for i in picks:
            img = frames[i]
            if float(img.std()) < 8:  # content-free (black or flat) frames say nothing about the shot
                continue
            out.append((s, img))
    return out


def augment(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    scale = rng.uniform(0.6, 1.0)
    ch, cw = int(h * scale), int(w * scale)
    y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    out = cv2.resize(img[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out = (out - 128) * rng.uniform(0.8, 1.2) + 128 + rng.uniform(-25, 25)
    out = out + rng.normal(0, 4, out.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 81))])
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])


def build(clips, enc, seed: int):
    rng = np.random.default_rng(seed)
    va, vb, groups, names = [], [], [], []
    gid = 0
    for name, ranges in clips:
        items = load_frames(name, ranges, FRAMES)
        if not items:
            continue
        shots = sorted({s for s, _ in items})
        base = {s: gid + i for i, s in enumerate(shots)}
        gid += len(shots)
        va += [augment(img, rng) for _, img in items]
        vb += [augment(img, rng) for _, img in items]
        groups += [base[s] for s, _ in items]
        names.append(f"{Path(name).name} ({len(shots)} shot{'s' if len(shots) > 1 else ''}, {len(items)} frames)")
    ea = enc.encode_images(va)
    eb = enc.encode_images(vb)
    return ea, eb, np.array(groups), names


def retrieval(ea: np.ndarray, eb: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """mAP of view retrieval and ROC AUC of same- vs different-shot pairs, all 2N views."""
    e = np.concatenate([ea, eb])
    g = np.concatenate([groups, groups])
    s = e @ e.T
    n = len(e)
    aps = []
    for i in range(n):
        mask = np.arange(n) != i
        sc, rel = s[i, mask], (g[mask] == g[i])
        if not rel.any():
            continue
        order = np.argsort(-sc, kind="stable")
        r = rel[order]
        hits = np.cumsum(r)
        aps.append(float((hits[r] / (np.nonzero(r)[0] + 1)).mean()))
    iu = np.triu_indices(n, 1)
    same = (g[:, None] == g[None, :])[iu]
    vals = s[iu]
    pos, neg = vals[same], vals[~same]
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]), kind="stable"), kind="stable") + 1
    auc = (ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))
    return float(np.mean(aps)), float(auc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--save", metavar="PATH", help="write the best head (on the tuning set) to PATH")
    ap.add_argument("--steps", type=int, default=400)
    args = ap.parse_args()
    import torch

    from kadr.features import get as get_encoder
    from kadr.nn import train_head

    torch.set_num_threads(2)
    if not (SHARED_VIDEO / "ground_truth.json").exists():
        sys.exit("../shared/data/video is absent")
    t0 = time.perf_counter()
    enc = get_encoder(ENCODER)
    tuning, held = clip_lists()
    ta, tb, tg, tnames = build(tuning, enc, seed=0)
    ha, hb, hg, hnames = build(held, enc, seed=1)
    t_build = time.perf_counter() - t0
    rows = [["plain cosine (no head)", "-", *map(lambda v: round(v, 4), retrieval(ta, tb, tg)),
             *map(lambda v: round(v, 4), retrieval(ha, hb, hg))]]
    heads = {}
    configs = [("linear", 32, 0.05), ("linear", 64, 0.1), ("kan", 16, 0.05)]
    for kind, rank, temp in configs:
        head = train_head(ta, tb, tg, rank=rank, kind=kind, temperature=temp, steps=args.steps,
                          batch_size=32, info={"encoder": ENCODER})
        t_scores = retrieval(head.transform(ta), head.transform(tb), tg)
        h_scores = retrieval(head.transform(ha), head.transform(hb), hg)
        name = f"head kind={kind} rank={rank} τ={temp}"
        heads[name] = (head, t_scores, h_scores)
        rows.append([name, args.steps, *map(lambda v: round(v, 4), t_scores), *map(lambda v: round(v, 4), h_scores)])
        print(rows[-1], flush=True)
    best = max(heads, key=lambda k: heads[k][1][0])  # chosen on the TUNING set only
    b_head, b_t, b_h = heads[best]
    plain_h = rows[0][4]
    verdict = ("wins" if b_h[0] > plain_h + 0.005 else "does not win")
    table = markdown_table(["method", "steps", "tuning mAP", "tuning AUC", "HELD-OUT mAP", "HELD-OUT AUC"], rows)
    text = "\n".join([
        "# Comparison head vs plain cosine (effnet-lite0 embeddings)", "",
        f"Machine: {machine_line()}; data building + encoding {t_build:.0f} s.", "",
        table, "",
        f"Head chosen on the tuning set: **{best}**; on held-out clips it {verdict} against plain cosine "
        f"(mAP {b_h[0]:.4f} vs {plain_h:.4f}; a win needs > +0.005).", "",
        f"Tuning clips ({len(set(tg))} shots, {len(tg)} frames × 2 views): " + "; ".join(tnames), "",
        f"Held-out clips ({len(set(hg))} shots, {len(hg)} frames × 2 views): " + "; ".join(hnames), "",
    ])
    write_result("nn_head", text)
    if args.save:
        b_head.info.update({"trained_on": "benchmarks/nn_head.py tuning clips", "held_out_map": b_h[0],
                            "plain_cosine_held_out_map": plain_h, "config": best})
        print("saved", b_head.save(args.save))


if __name__ == "__main__":
    main()
