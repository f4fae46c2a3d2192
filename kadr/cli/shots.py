"""kadr shots: shot boundaries of a video, exported as JSON, CSV, EDL or OTIO; split; thumbnails."""

from __future__ import annotations

COMMAND = "shots"
HELP = "find the shots and transitions (cuts, dissolves, fades) of a video; export, split, thumbnails"
DESCRIPTION = """Finds where shots change (hard cuts and gradual transitions: dissolve, fade_in,
fade_out) and prints the shot list. Frame indices are 0-based decoded frames, a shot's
end_frame is exclusive, times come from the PTS (right on variable-frame-rate video).

Output formats (stdout unless a FILE is given; pick one for stdout):
  --json          the shots JSON ({"video", "fps", "frames", "detector", "transitions", "shots"})
  --json-lines    one JSON transition per line as soon as it is found (for pipes and live
                  streams), then one summary line {"video", "fps", "frames", "detector", "shots"}
  --csv [FILE]    one row per shot with frames, times and SMPTE timecodes
  --edl [FILE]    CMX3600 edit decision list (drop-frame timecode at 29.97/59.94 fps)
  --otio [FILE]   OpenTimelineIO timeline (.otio JSON): one clip per shot, transitions as markers

examples:
  kadr shots clip.mp4
  kadr shots clip.mp4 --json > shots.json
  kadr shots clip.mp4 --edl clip.edl --otio clip.otio --thumbnails thumbs/
  kadr shots clip.mp4 --split shots/ --split-mode reencode
  ffmpeg -i rtsp://cam/stream -c copy -f mpegts - | kadr shots - --json-lines
"""


def add_detector_arguments(parser) -> None:
    """--detector and --decode-threads, shared by the commands that detect shots."""
    from kadr.cli._common import add_decode_threads
    from kadr.video.shots import names

    parser.add_argument("--detector", default="auto", choices=names(),
                        help="shot detector (default: auto = the best measured speed/accuracy trade-off)")
    add_decode_threads(parser)


def detect(args, video: str, on_transition=None):
    """Run the chosen detector on ``video`` → ShotDetection (errors for missing/bad files come from io).
    With ``on_transition`` the per-frame scores are not kept (bounded memory on streams)."""
    from kadr.video.shots import detect_shots

    return detect_shots(video, detector=args.detector, decode_threads=args.decode_threads,
                        on_transition=on_transition, record_scores=on_transition is None)


def add_arguments(parser) -> None:
    from kadr._options import add_options
    from kadr.video.export import SPLIT_MODES
    from kadr.video.keyframes import KeyframeOptions

    parser.add_argument("video", help="video file, '-' for a pipe, or a stream URL")
    add_detector_arguments(parser)
    parser.add_argument("--json-lines", action="store_true",
                        help="print each transition as one JSON line as soon as it is found, then a summary line")
    out = parser.add_argument_group("exports")
    for fmt in ("csv", "edl", "otio"):
        out.add_argument(f"--{fmt}", nargs="?", const="-", default=None, metavar="FILE",
                         help=f"write the shot list as {fmt.upper()} to FILE (no FILE: to stdout)")
    out.add_argument("--split", metavar="DIR", help="write one video file per shot into DIR with ffmpeg")
    out.add_argument("--split-mode", choices=SPLIT_MODES, default=SPLIT_MODES[0],
                     help="copy: stream copy (fast, lossless, cuts snap to the key frame before each boundary); "
                          "reencode: H.264, frame-exact (default: %(default)s)")
    out.add_argument("--ffmpeg", metavar="PATH", default=None, help="the ffmpeg program to use (default: from PATH)")
    out.add_argument("--thumbnails", metavar="DIR",
                     help="save one image per shot (its most representative frame) into DIR")
    out.add_argument("--thumb-size", type=int, default=320, metavar="PX",
                     help="longest side of the thumbnails (default: %(default)s)")
    add_options(parser, KeyframeOptions, exclude=("max_per_shot",))


def run(args):
    from kadr._options import options_from_args
    from kadr.cli._output import log
    from kadr.errors import InputError
    from kadr.video.export import ShotList, split_video, write_exports, write_thumbnails
    from kadr.video.keyframes import KeyframeOptions, prepare_dir

    to_stdout = [f for f in ("csv", "edl", "otio") if getattr(args, f) == "-"] + (["json"] if args.json else []) \
        + (["json-lines"] if args.json_lines else [])
    if len(to_stdout) > 1:
        raise InputError(f"only one format can go to stdout, got {', '.join('--' + f for f in to_stdout)}; "
                         "give a FILE to the others (e.g. --edl clip.edl)")
    if (args.split or args.thumbnails) and (args.video == "-" or "://" in args.video):
        raise InputError("--split and --thumbnails read the video a second time, which a pipe or stream "
                         "cannot do; save it to a file first (e.g. with ffmpeg) and pass the file")
    kopts = options_from_args(KeyframeOptions, args, max_per_shot=1)
    for d in (args.split, args.thumbnails):  # fail before the work, not after
        if d:
            prepare_dir(d)
    if args.json_lines:
        from kadr.cli._output import print_json_line

        det = detect(args, args.video, on_transition=lambda t: print_json_line(t.to_dict()))
    else:
        det = detect(args, args.video)
    sl = ShotList.from_detection(det)
    exporting = any(getattr(args, f) for f in ("csv", "edl", "otio"))
    if exporting and args.video != "-" and "://" not in args.video:
        from kadr.io.probe import probe

        info = probe(args.video)
        if info.vfr and info.real_fps:
            sl.timecode_fps = info.real_fps
            log(f"variable frame rate: timecodes count PTS time at the base rate {info.real_fps:g} fps")
    if args.thumbnails and sl.shots:
        paths = write_thumbnails(sl, args.thumbnails, size=args.thumb_size, options=kopts)
        log(f"wrote {len(paths)} thumbnails to {args.thumbnails}")
    files = write_exports(sl, **{f"{f}_path": getattr(args, f) for f in ("csv", "edl", "otio")
                                 if getattr(args, f) not in (None, "-")})
    for fmt, path in files.items():
        log(f"wrote {fmt.upper()} to {path}")
    if args.split and sl.shots:
        paths = split_video(sl, args.split, mode=args.split_mode, ffmpeg=args.ffmpeg)
        from kadr._checks import plural

        log(f"wrote {plural(len(paths), 'file')} to {args.split} ({args.split_mode})")
    result = sl.to_dict()
    if det.decode is not None and (det.decode.corrupt_packets or det.decode.lost):
        log(f"{det.decode.corrupt_packets} corrupt packets skipped, {det.decode.lost} frames lost")
    if args.json_lines:
        from kadr.cli._output import print_json_line

        print_json_line({k: result[k] for k in ("video", "fps", "frames", "detector")} | {"shots": len(result["shots"])})
        return None
    return result


def render(result, args) -> None:
    from kadr.io.timecode import format_time
    from kadr.video.export import ShotList, otio_json, to_csv, to_edl

    for fmt, fn in (("csv", to_csv), ("edl", to_edl), ("otio", otio_json)):
        if getattr(args, fmt, None) == "-":
            print(fn(ShotList.from_dict(result)), end="")
            return
    shots, trans = result["shots"], result["transitions"]
    kinds = {}
    for t in trans:
        kinds[t["type"]] = kinds.get(t["type"], 0) + 1
    print(f"{result['video']}: {result['frames']} frames at {result['fps']:.3f} fps, detector {result['detector']}: "
          f"{len(shots)} shots, " + (", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no transitions"))
    for s in shots:
        kf = (" keyframe " + ", ".join(str(k["frame"]) for k in s["keyframes"])) if s["keyframes"] else ""
        print(f"  shot {s['index']:>3}  frames {s['start_frame']:>6}-{s['end_frame'] - 1:<6} "
              f"{format_time(s['start_time'])} - {format_time(s['end_time'])}{kf}")
    for t in trans:
        print(f"  {t['type']:<9} frames {t['start_frame']}-{t['end_frame']}  "
              f"{format_time(t['start_time'])}  score {t['score']:.2f}")
