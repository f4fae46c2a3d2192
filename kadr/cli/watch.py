"""kadr watch: find reference images (or database items) in a live video stream."""

from __future__ import annotations

COMMAND = "watch"
HELP = "watch a file, pipe, URL or webcam for reference images (--query) or database items (--db)"
DESCRIPTION = """Frames are sampled at --rate per second of stream time, embedded, and scored
against each reference as the best cosine over a bank of zoomed/shifted crops of it; an
event starts when the score reaches --threshold (only the best reference may start one) and
ends when it stays below --release for --hold seconds. With --db, a shot detector runs on
every frame and each new shot's keyframe is looked up in the database.

Live sources (pipe, URL, webcam) are checked against the wall clock: if the watcher falls
more than --max-lag seconds behind, sampled frames are dropped, events are flagged
"behind" and a warning is printed. Events are printed as soon as they end.

examples:
  kadr watch match.mp4 --query poster.jpg
  ffmpeg -i rtsp://cam/stream -c copy -f mpegts - | kadr watch - --query a.jpg --query b.jpg --json-lines
  kadr watch rtsp://cam/stream --db photos.db
  kadr watch webcam:0 --query face.png --threshold 0.7
"""


def add_arguments(parser) -> None:
    from kadr import features
    from kadr._options import add_options
    from kadr.cli._common import add_encoder_flag
    from kadr.stream import WatchOptions

    parser.add_argument("source", help="video file, '-' (encoded video on stdin), rtsp:// / http(s):// URL, "
                                       "/dev/videoN or webcam:N")
    parser.add_argument("--query", action="append", default=[], metavar="IMG", help="reference image (repeatable)")
    parser.add_argument("--db", default=None, metavar="DIR", help="database whose items are looked up at each new shot")
    add_encoder_flag(parser, default=None,
                     help=f"encoder (default: the database's with --db, else {features.DEFAULT})")
    parser.add_argument("--json-lines", action="store_true", help="one JSON object per event on stdout as it is found")
    parser.add_argument("--realtime", action=__import__("argparse").BooleanOptionalAction, default=None,
                        help="check the pace against the wall clock (default: on for live sources, off for files)")
    add_options(parser, WatchOptions)


def run(args):
    import sys
    import warnings
    from pathlib import Path

    from kadr._options import options_from_args
    from kadr.cli._output import print_json_line, to_jsonable
    from kadr.errors import InputError, KadrWarning
    from kadr import features
    from kadr.features import resolve_encoder
    from kadr.stream import Watcher, WatchOptions
    from kadr.io.images import load_image

    if not args.query and not args.db:
        raise InputError("give what to look for: --query IMG (repeatable) and/or --db DIR")
    opts = options_from_args(WatchOptions, args)
    queries = [load_image(q) for q in args.query]  # unreadable queries fail before the model loads
    references = None
    if args.db:
        from kadr.index import Index
        from kadr.index.watch import IndexReferences

        index = Index(args.db, args.encoder, create=False)
        index._check_table()
        encoder = index.encoder
        references = IndexReferences(index)
    else:
        encoder = resolve_encoder(args.encoder or features.DEFAULT)
    w = Watcher(encoder, queries=queries, names=[Path(q).name for q in args.query], references=references, options=opts)
    events = []
    warned = False
    for ev in w.events(args.source, realtime=args.realtime):
        if w.stats.behind and not warned:
            warnings.warn(f"falling behind the stream by more than {opts.max_lag:g} s: sampled frames are being "
                          "dropped; lower --rate or --size", KadrWarning, stacklevel=1)
            warned = True
        if args.json_lines:
            print_json_line(ev)
        elif not args.json:
            _print_event(ev)
            sys.stdout.flush()
        events.append(ev)
    result = {"source": args.source, "encoder": encoder.name, "options": to_jsonable(opts),
              "events": events, "stats": w.stats.to_dict()}
    if args.json_lines:
        print_json_line({"stats": result["stats"]})
        return None
    return result


def _print_event(ev) -> None:
    flag = "  [behind]" if ev.behind else ""
    what = ev.name
    if ev.kind == "db":
        it = ev.item or {}
        at = f" @ {it['time']:.2f}s (shot {it['shot_index']})" if it.get("time") is not None else ""
        what = f"db: {ev.name}{at}"
    print(f"{ev.start:9.2f}s – {ev.end:9.2f}s  peak {ev.peak_score:.3f} at {ev.peak_time:.2f}s  {what}{flag}")


def render(result, args) -> None:
    s = result["stats"]
    print(f"{len(result['events'])} events; {s['frames']} frames decoded, {s['sampled']} embedded"
          f" ({s['sampled_fps']} /s), {s['dropped']} dropped, {s['realtime_factor']}× real time")
