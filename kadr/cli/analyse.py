"""kadr analyse: the main job — probe, shots, keyframes, labels → report.html + shots.json."""

from __future__ import annotations

from kadr.cli.shots import add_detector_arguments

COMMAND = "analyse"
#: old spellings of the command, still accepted for one release (with a deprecation warning)
DEPRECATED_ALIASES = ("analyze",)
HELP = "the main job: shots, keyframes and their labels of a video → OUTDIR/report.html + shots.json"
DESCRIPTION = """Runs the whole analysis of one video:
  probe -> shot detection -> keyframes per shot -> classification of each keyframe
and writes into OUTDIR:
  shots.json      the shots JSON (as `kadr shots --json`) with keyframes, their labels and
                  paths, plus probe facts, timings and the per-frame boundary score
  keyframes/      the keyframe images (shot0003_f000123.jpg)
  report.html     one self-contained page: timeline of the shots, per-frame boundary score
                  with the transitions marked, every shot's keyframes with their labels

examples:
  kadr analyse clip.mp4 -o clip-report/
  kadr analyse clip.mp4 -o out/ --detector transnetv2 --label-encoder none
"""


def add_arguments(parser) -> None:
    from kadr import features
    from kadr._options import add_options
    from kadr.cli._common import add_analysis_size, add_k_argument, add_output_argument, rename_flags
    from kadr.video.keyframes import KeyframeOptions, LabelOptions

    parser.add_argument("video", help="video file")
    add_output_argument(parser, required=True, metavar="OUTDIR", help="output folder (created if needed)")
    parser.add_argument("--label-encoder", default=features.DEFAULT, metavar="NAME",
                        help="encoder that labels the keyframes (ImageNet classes), or 'none' (default: %(default)s)")
    rename_flags(parser, {"--classifier": "--label-encoder"})
    add_k_argument(parser, default=3, what="labels per keyframe")
    add_analysis_size(parser, "the frames used for keyframes and labels")
    add_detector_arguments(parser)
    add_options(parser, KeyframeOptions)
    add_options(parser, LabelOptions)


def _relative(path: str | None, root) -> str | None:
    import os

    return None if path is None else os.path.relpath(path, root)


def run(args):
    # a failed or interrupted run removes the output folder it created (never an existing one)
    from kadr._checks import output_folder

    with output_folder(args.output):
        return _run(args)


def _run(args):
    import json
    import time

    from kadr import features
    from kadr._checks import check_file
    from kadr._options import options_from_args
    from kadr.cli._output import log, to_jsonable
    from kadr.errors import InputError
    from kadr.io.probe import probe
    from kadr.report import render_analysis, write_html
    from kadr.video.export import ShotList, write_text
    from kadr.video.keyframes import (KeyframeOptions, LabelOptions, detect_shots_and_keyframes, label_images,
                                      prepare_dir)

    if args.k < 1:
        raise InputError(f"--k must be >= 1, got {args.k}")
    lopts = options_from_args(LabelOptions, args)
    kopts = options_from_args(KeyframeOptions, args)
    check_file(args.video, what="video")
    out = prepare_dir(args.output)
    kf_dir = prepare_dir(out / "keyframes")
    classifier = None if args.label_encoder.lower() == "none" else features.get(args.label_encoder)
    timings = {}
    t0 = time.perf_counter()
    info = probe(args.video).to_dict()
    timings["probe"] = time.perf_counter() - t0
    log(f"{args.video}: {info.get('width')}x{info.get('height')}, {info.get('frame_count')} frames; "
        "detecting shots and picking keyframes ...")
    t0 = time.perf_counter()
    det, res, passes = detect_shots_and_keyframes(args.video, detector=args.detector, options=kopts, out_dir=kf_dir,
                                                  analysis_size=args.analysis_size,
                                                  decode_threads=args.decode_threads)
    timings["shots_and_keyframes"] = time.perf_counter() - t0
    sl = ShotList.from_detection(det)
    log(f"{len(sl.shots)} shots, {len(sl.transitions)} transitions, {sum(len(r.keyframes) for r in res)} keyframes "
        f"({passes.passes} decode pass{'es' if passes.passes > 1 else ''}: {passes.frames_decoded} frames)"
        + (f"; second pass because {passes.second_pass_reason}" if passes.second_pass_reason else ""))
    images = [img for r in res for img in r.thumbnails]
    # content-free keyframes (solid, title cards) are not classified; unsure labels are dropped
    t0 = time.perf_counter()
    labelled = label_images(images, classifier, k=args.k, options=lopts)
    if classifier is not None:
        timings["labels"] = time.perf_counter() - t0
    label_encoder = classifier.name if classifier is not None else None
    result = {**sl.to_dict(), "probe": info, "encoder": kopts.encoder, "label_encoder": label_encoder,
              # deprecated keys (the same values), kept for one release: see docs/glossary.md
              "keyframe_encoder": kopts.encoder, "classifier": label_encoder}
    it = iter(labelled)
    for s in result["shots"]:
        for k in s["keyframes"]:
            k["path"] = _relative(k["path"], out)
            lab = next(it)
            k["labels"] = lab["labels"] if classifier is not None or lab["content"] else None
            k["content"] = lab["content"]
            if lab["text"] and k["labels"] is not None:
                k["label_note"] = lab["text"]
    result["timings"] = {k: round(v, 3) for k, v in timings.items()}
    result["decode"] = {"corrupt_packets": det.decode.corrupt_packets if det.decode is not None else 0,
                        "lost": det.decode.lost if det.decode is not None else 0, **passes.to_dict()}
    # the per-frame boundary score (the report's plot; `kadr serve` draws it from here)
    result["boundary_scores"] = [round(float(v), 4) for v in (det.scores if det.scores is not None else [])]
    result = to_jsonable(result)
    write_text(json.dumps(result, indent=1), out / "shots.json")
    thumbs = {k.frame: img for r in res for k, img in zip(r.keyframes, r.thumbnails)}
    report = write_html(render_analysis(result, thumbnails=thumbs, scores=det.scores), out / "report.html")
    return {"video": result["video"], "output": str(out), "out": str(out), "report": str(report), "shots_json": str(out / "shots.json"),
            "frames": result["frames"], "fps": result["fps"], "detector": result["detector"],
            "shots": len(result["shots"]), "transitions": [(t["type"], t["start_frame"], t["end_frame"])
                                                           for t in result["transitions"]],
            "keyframes": sum(len(s["keyframes"]) for s in result["shots"]), "timings": result["timings"],
            "decode": result.get("decode")}


def render(result, args) -> None:
    print(f"{result['video']}: {result['frames']} frames at {result['fps']:.3f} fps -> {result['shots']} shots, "
          f"{result['keyframes']} keyframes (detector {result['detector']})")
    if result["transitions"]:
        print("  transitions: " + ", ".join(f"{t} {s}-{e}" for t, s, e in result["transitions"]))
    dec = result.get("decode") or {}
    if dec.get("corrupt_packets") or dec.get("lost"):
        print(f"  decoding: {dec['corrupt_packets']} corrupt packets skipped, {dec['lost']} frames lost")
    if dec.get("passes"):
        print(f"  decoded {dec['frames_decoded']} frames in {dec['passes']} pass{'es' if dec['passes'] > 1 else ''}")
    print("  time: " + ", ".join(f"{k} {v:.2f}s" for k, v in result["timings"].items()))
    print(f"  report: {result['report']}")
    print(f"  shots:  {result['shots_json']}")
