"""kadr watch: find reference images (or database items) in a live video stream."""

from __future__ import annotations

COMMAND = "watch"
HELP = "watch a file, pipe, URL or webcam for reference images (--query) or database items (--db)"
DESCRIPTION = """Frames are sampled at --rate per second of stream time, embedded, and scored
against each reference as the best cosine over a bank of zoomed/shifted crops of its
picture(s). The cosine is calibrated per encoder into a score from 0 to 1 (0.5 = the
decision point fitted on real footage); an event starts when that score reaches
--threshold (only the best reference may start one) and ends when it stays below --release
for --hold seconds. Solid, black and title-card frames are never matched. --shots runs the
shot detector alongside so events start and end on shot boundaries. With --db, each new
shot's keyframe is looked up in the database.

Live sources (pipe, URL, webcam) are checked against the wall clock: if the watcher falls
more than --max-lag seconds behind, sampled frames are dropped, events are flagged
"behind" and a warning is printed; if no frame can be decoded for --timeout seconds
(default 30 for live sources) the watch stops with an error. Each event is printed when it
starts and again, complete, when it ends (--json-lines: a {"started": ...} line, then the
event).

examples:
  kadr watch match.mp4 --query poster.jpg
  kadr watch match.mp4 --query goal=frame1.jpg,frame2.jpg,frame3.jpg --shots
  ffmpeg -i rtsp://cam/stream -c copy -f mpegts - | kadr watch - --query a.jpg --query b.jpg --json-lines
  kadr watch rtsp://cam/stream --db photos.db --timeout 10
  kadr watch webcam:0 --query face.png --threshold 0.7
"""


def add_arguments(parser) -> None:
    from kadr import features
    from kadr._options import add_options
    from kadr.cli._common import add_encoder_flag
    from kadr.stream import WatchOptions

    parser.add_argument("source", help="video file, '-' (encoded video on stdin), rtsp:// / http(s):// URL, "
                                       "/dev/videoN or webcam:N")
    parser.add_argument("--query", action="append", default=[], metavar="[NAME=]IMG[,IMG...]",
                        help="reference picture(s), repeatable; several pictures of one thing (comma-separated, "
                             "or the same NAME= again) form one multi-frame reference; video frames as "
                             "clip.mp4@12.5s or clip.mp4@#300")
    parser.add_argument("--db", default=None, metavar="DIR", help="database whose items are looked up at each new shot")
    add_encoder_flag(parser, default=None,
                     help=f"encoder (default: the database's with --db, else {features.DEFAULT})")
    parser.add_argument("--json-lines", action="store_true", help="one JSON object per event on stdout as it is found")
    parser.add_argument("--realtime", action=__import__("argparse").BooleanOptionalAction, default=None,
                        help="check the pace against the wall clock (default: on for live sources, off for files)")
    add_options(parser, WatchOptions)


def parse_queries(values) -> "tuple[list[str], list[list[str]]]":
    """``--query [NAME=]IMG[,IMG...]`` values → (names, picture paths per reference). Values
    with the same NAME form one multi-frame reference; without NAME the first file's name is used."""
    from pathlib import Path

    from kadr.errors import InputError

    order: list[str] = []
    pics: dict[str, list[str]] = {}
    for v in values:
        name, files = "", [v]
        if not Path(v).exists():
            head, sep, rest = v.partition("=")
            if sep and head and "/" not in head:
                name, v = head, rest
            files = [x for x in v.split(",") if x]
        if not files:
            raise InputError(f"--query {v!r} names no picture; write --query IMG or --query NAME=IMG1,IMG2")
        name = name or Path(files[0]).name
        if name not in pics:
            order.append(name)
            pics[name] = []
        pics[name] += files
    return order, [pics[n] for n in order]


def run(args):
    import sys
    import warnings

    from kadr._options import options_from_args
    from kadr.cli._common import load_picture
    from kadr.cli._output import print_json_line, to_jsonable
    from kadr.errors import InputError, KadrWarning
    from kadr import features
    from kadr.features import resolve_encoder
    from kadr.stream import StreamStalledError, Watcher, WatchOptions

    if not args.query and not args.db:
        raise InputError("give what to look for: --query IMG (repeatable) and/or --db DIR")
    opts = options_from_args(WatchOptions, args)
    names, files = parse_queries(args.query)
    # unreadable queries fail before the model loads; clip.mp4@12.5s / @#300 frames work too
    queries = [[load_picture(f) for f in fs] for fs in files]
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

    def started(notice) -> None:
        if args.json_lines:
            print_json_line(notice)
        elif not args.json:
            print(f"{notice['start']:9.2f}s …           score {notice['score']:.3f}  {notice['started']} (started, "
                  f"detected at {notice['detected_at']:.2f}s)")
            sys.stdout.flush()

    w = Watcher(encoder, queries=queries, names=names, references=references, options=opts, on_start=started)
    try:
        return _watch(args, w, opts, encoder, started)
    except StreamStalledError as exc:
        # the decoding thread is stuck in a read that cannot be interrupted (a pipe, a socket):
        # report in the usual one line and leave without waiting for it at interpreter shutdown
        import os

        sys.stdout.flush()
        print(f"kadr: error: {exc}", file=sys.stderr, flush=True)
        os._exit(2)


def _watch(args, w, opts, encoder, started):
    import sys
    import warnings

    from kadr.cli._output import print_json_line, to_jsonable
    from kadr.errors import KadrWarning

    events = []  # kept only for --json (a finite answer); streams print and forget
    n_events = 0
    warned = False
    for ev in w.events(args.source, realtime=args.realtime):
        n_events += 1
        if w.stats.behind and not warned:
            warnings.warn(f"falling behind the stream by more than {opts.max_lag:g} s: sampled frames are being "
                          "dropped; lower --rate or --size", KadrWarning, stacklevel=1)
            warned = True
        if args.json_lines:
            print_json_line(ev)
        elif not args.json:
            _print_event(ev)
            sys.stdout.flush()
        else:
            events.append(ev)
    cal = w.calibration
    result = {"source": args.source, "encoder": encoder.name, "options": to_jsonable(opts),
              "calibration": to_jsonable(cal) if cal is not None else None, "warnings": w.warnings,
              "events": events, "event_count": n_events, "stats": w.stats.to_dict()}
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
    p = f" (p {ev.peak_probability:.2f})" if ev.peak_probability is not None else ""
    print(f"{ev.start:9.2f}s – {ev.end:9.2f}s  peak {ev.peak_score:.3f}{p} at {ev.peak_time:.2f}s  {what}{flag}")


def render(result, args) -> None:
    s = result["stats"]
    print(f"{result['event_count']} events; {s['frames']} frames decoded, {s['sampled']} embedded"
          f" ({s['sampled_fps']} /s), {s['dropped']} dropped, {s['realtime_factor']}× real time")
