"""kadr eval-shots: precision/recall/F1 of predicted shot boundaries against ground truth."""

from __future__ import annotations

COMMAND = "eval-shots"
HELP = "score predicted shot boundaries against ground truth (P/R/F1: all, cuts, gradual)"
DESCRIPTION = """TRECVID-style one-to-one matching of predicted boundaries to ground truth: a
prediction matches a truth interval when it overlaps it (the truth widened by --tolerance frames);
a cut must be frame-exact at tolerance 0. Prints precision, recall and F1 for all
boundaries, cuts only and gradual only ("n/a": precision with nothing predicted, recall
with nothing to find), the mean overlap (IoU) of matched gradual intervals (does a
reported dissolve have the right extent?), the type accuracy of matched pairs (cut,
dissolve, fade_in, fade_out where the truth names them), the false positives and misses.

PRED is a `kadr shots --json` result (or a ground-truth entry); GT is a ground-truth entry
{"hard": [frames], "gradual": [[start, end], ...]}, a `kadr shots --json` result, or a file
of entries keyed by video name (like ../shared/data/video/ground_truth.json): the entry
matching PRED's video file name is used, or the one named by --video.

example:
  kadr shots clip.mp4 --json > pred.json
  kadr eval-shots pred.json ground_truth.json --tolerance 2
"""


def add_arguments(parser) -> None:
    parser.add_argument("pred", help="predictions: `kadr shots --json` output")
    parser.add_argument("gt", help="ground truth JSON (entry, shots JSON, or file of entries by video name)")
    parser.add_argument("--tolerance", type=int, default=0, metavar="N", help="frames of slack around each truth (default: 0)")
    parser.add_argument("--video", default=None, help="which entry of a multi-video ground-truth file (default: PRED's video)")


def run(args):
    from kadr.video.evaluate import evaluate_files

    scores, video = evaluate_files(args.pred, args.gt, tolerance=args.tolerance, video=args.video)
    return {"video": video, **scores.to_dict()}


def render(result, args) -> None:
    print(f"{result['video'] or args.pred}: tolerance {result['tolerance']} frames")
    print(f"  {'':8} {'P':>6} {'R':>6} {'F1':>6}  {'pred':>5} {'truth':>5}")
    def num(x) -> str:
        return "   n/a" if x is None else f"{x:6.3f}"

    for k in ("all", "cuts", "gradual"):
        r = result[k]
        print(f"  {k:8} {num(r['precision'])} {num(r['recall'])} {r['f1']:6.3f}  {r['predicted']:5d} {r['truth']:5d}")
    if result.get("gradual_matched"):
        print(f"  gradual IoU {result['gradual_iou']:.3f} (mean over {result['gradual_matched']} matched gradual truths)")
    if result.get("typed_matched"):
        print(f"  type accuracy {result['type_accuracy']:.3f} (over {result['typed_matched']} matched pairs)")
    for label, key in (("false positives", "false_positives"), ("missed", "missed")):
        if result[key]:
            print(f"  {label}: " + ", ".join(f"{b['type']} {b['start_frame']}-{b['end_frame']}" for b in result[key]))
