"""kadr compare-shots: repeated and near-duplicate shots within and across videos."""

from __future__ import annotations

from kadr.cli.shots import add_detector_arguments

COMMAND = "compare-shots"
HELP = "find repeated / near-duplicate shots within one video or across videos (keyframe similarity)"
DESCRIPTION = """Detects the shots of each video, picks their keyframes with the chosen encoder and
compares every keyframe with every other (cosine similarity of the embeddings). Two shots
are as similar as their best keyframe pair; pairs at or above --threshold are reported as
repeats ("within" one video or "across" videos) and joined into groups. With -o DIR it
writes DIR/compare.json (matrices, pairs, groups) and DIR/contact_sheet.html (thumbnails,
repeat pairs side by side, the keyframe x keyframe matrix as a heat map).

examples:
  kadr compare-shots episode.mp4 -o cmp/
  kadr compare-shots a.mp4 b.mp4 --encoder hsv-hist --threshold 0.95 --json
  kadr compare-shots a.mp4 b.mp4 --head head.pt   (a head trained by benchmarks/nn_head.py --save)
"""


def add_arguments(parser) -> None:
    from kadr._options import add_options
    from kadr.video.compare_shots import CompareOptions
    from kadr.video.keyframes import KeyframeOptions

    from kadr.cli._common import add_analysis_size, add_output_argument

    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="one video (repeats within it) or several")
    add_output_argument(parser, metavar="DIR", help="write compare.json and contact_sheet.html here")
    add_analysis_size(parser, "the frames compared")
    add_detector_arguments(parser)
    add_options(parser, CompareOptions)
    add_options(parser, KeyframeOptions, exclude=("encoder",))


def run(args):
    # a failed or interrupted run removes the output folder it created (never an existing one)
    from kadr._checks import output_folder

    if not args.output:
        return _run(args)

    with output_folder(args.output):
        return _run(args)


def _run(args):
    import json

    from kadr._options import options_from_args
    from kadr.cli._output import log, to_jsonable
    from kadr.report import render_contact_sheet, write_html
    from kadr.video.compare_shots import CompareOptions, compare_videos
    from kadr.video.export import write_text
    from kadr.video.keyframes import KeyframeOptions, prepare_dir

    copts = options_from_args(CompareOptions, args)
    kopts = options_from_args(KeyframeOptions, args, encoder=copts.encoder)
    out = prepare_dir(args.output) if args.output else None
    cmp = compare_videos(args.videos, options=copts, keyframe_options=kopts, detector=args.detector,
                         analysis_size=args.analysis_size)
    result = to_jsonable(cmp.to_dict())
    if out is not None:
        write_text(json.dumps(result), out / "compare.json")
        thumbs = {(vi, k.frame): img for vi, v in enumerate(cmp.videos) for sk in v.shots
                  for k, img in zip(sk.keyframes, sk.thumbnails)}
        write_html(render_contact_sheet(result, thumbnails=thumbs), out / "contact_sheet.html")
        log(f"wrote {out / 'compare.json'} and {out / 'contact_sheet.html'}")
    return result


def render(result, args) -> None:
    from kadr.report.contact_sheet import video_letter

    for i, v in enumerate(result["videos"]):
        nk = sum(len(s["keyframes"]) for s in v["shots"])
        print(f"{video_letter(i)}: {v['video']}: {len(v['shots'])} shots, {nk} keyframes")
    pairs = result["pairs"]
    head = f", head {result['head']}" if result.get("head") else ""
    print(f"{len(pairs)} repeated shot pairs (cosine >= {result['threshold']:g}, encoder {result['encoder']}{head}):")
    for p in pairs:
        a, b = p["a"], p["b"]
        print(f"  {video_letter(a['video'])}{a['shot']} ~ {video_letter(b['video'])}{b['shot']}  "
              f"{p['similarity']:.3f}  {p['kind']}")
    for g in result["groups"]:
        print("  group: " + ", ".join(f"{video_letter(m['video'])}{m['shot']}" for m in g))
    free = result.get("content_free") or []
    if free:
        print(f"{len(free)} content-free shots not compared ("
              + ", ".join(f"{video_letter(m['video'])}{m['shot']} {m['content']}" for m in free) + ")")
