"""kadr keyframes: the representative frames of every shot, saved as images."""

from __future__ import annotations

from kadr.cli.shots import add_detector_arguments, detect

COMMAND = "keyframes"
HELP = "pick the representative frames of every shot by content and save them as images"
DESCRIPTION = """Detects the shots, then picks 1..N keyframes per shot by content: the candidate
frames of a shot are embedded with an encoder; the first keyframe is the medoid (the most
typical frame among those that are not blurred), more are added by farthest-point
selection while some part of the shot is still farther than --novelty from every keyframe
(a pan across two scenes gets one keyframe per scene; a static shot gets one). Frames
inside dissolves and fades and solid black/white frames are not picked. Writes
DIR/shot0003_f000123.jpg and DIR/keyframes.json (the shots JSON with keyframe paths, plus
per shot the sharpness and coverage).

examples:
  kadr keyframes clip.mp4 -o keyframes/
  kadr keyframes clip.mp4 -o kf/ --encoder effnet-lite0 --max-per-shot 5 --format png
  kadr keyframes clip.mp4 -o kf/ --shots shots.json      # reuse a saved `kadr shots --json`
"""


def add_arguments(parser) -> None:
    from kadr._options import add_options
    from kadr.video.keyframes import KeyframeOptions

    from kadr.cli._common import add_analysis_size, add_output_argument

    parser.add_argument("video", help="video file")
    add_output_argument(parser, required=True, metavar="DIR", help="folder for the keyframe images")
    parser.add_argument("--shots", metavar="JSON", help="use this shots JSON (from `kadr shots --json`) instead of detecting")
    parser.add_argument("--format", choices=("jpg", "png"), default="jpg", help="image format (default: %(default)s)")
    parser.add_argument("--max-side", type=int, default=None, metavar="PX",
                        help="downscale saved images to this longest side (default: full size)")
    add_analysis_size(parser, "the frames the encoder compares")
    add_detector_arguments(parser)
    add_options(parser, KeyframeOptions)


def load_shot_list(path: str):
    """A ShotList from a saved shots JSON (InputError with the fix when it is not one)."""
    import json

    from kadr._checks import check_file
    from kadr.errors import InputError
    from kadr.video.export import ShotList

    p = check_file(path, what="shots JSON")
    try:
        return ShotList.from_dict(json.loads(p.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path} is not JSON ({exc}); give the output of `kadr shots VIDEO --json`") from None


def run(args):
    # a failed or interrupted run removes the output folder it created (never an existing one)
    from kadr._checks import output_folder

    with output_folder(args.output):
        return _run(args)


def _run(args):
    from kadr._checks import check_file
    from kadr._options import options_from_args
    from kadr.errors import InputError
    from kadr.cli._output import log, to_jsonable
    from kadr.video.export import ShotList, write_text
    from kadr.video.keyframes import KeyframeOptions, pick_keyframes, prepare_dir

    if args.video == "-" or "://" in args.video:
        raise InputError("keyframes reads the video twice (shots, then keyframes), which a pipe or stream "
                         "cannot do; save it to a file first and pass the file")
    check_file(args.video, what="video")
    opts = options_from_args(KeyframeOptions, args)
    out = prepare_dir(args.output)
    sl = load_shot_list(args.shots) if args.shots else ShotList.from_detection(detect(args, args.video))
    res = pick_keyframes(args.video, sl.shots, transitions=sl.transitions, options=opts, out_dir=out,
                         analysis_size=args.analysis_size, image_format=args.format, max_side=args.max_side)
    result = sl.to_dict()
    result["encoder"] = opts.encoder
    result["keyframe_encoder"] = opts.encoder  # deprecated key (same value), kept for one release
    by_shot = {r.shot.index: r for r in res}
    for s in result["shots"]:
        r = by_shot.get(s["index"])
        if r is not None:
            s["sharpness"] = [round(v, 2) for v in r.sharpness]
            s["coverage"] = round(r.coverage, 4)
    import json

    write_text(json.dumps(to_jsonable(result), indent=1), out / "keyframes.json")
    log(f"wrote {sum(len(r.keyframes) for r in res)} keyframes of {len(res)} shots and keyframes.json to {out}")
    return result


def render(result, args) -> None:
    from kadr.io.timecode import format_time

    print(f"{result['video']}: {len(result['shots'])} shots, keyframes by {result['encoder']}")
    for s in result["shots"]:
        kfs = ", ".join(f"{k['frame']} ({format_time(k['time'])})" for k in s["keyframes"])
        print(f"  shot {s['index']:>3}  frames {s['start_frame']}-{s['end_frame'] - 1}: {kfs}")
    print(f"images and keyframes.json in {args.output}")
