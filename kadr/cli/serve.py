"""kadr serve: a local web app for searching a database and browsing analysed videos."""

from __future__ import annotations

COMMAND = "serve"
HELP = "local web app: search a database by image/frame/text, browse analysed videos, duplicates, live events"
DESCRIPTION = """Starts a small web server (default http://127.0.0.1:8750/) with pages for

  /search      query by image (file picker, drag and drop, paste), by a video frame
               (clip.mp4@12.5s), by text (tables with text vectors), combined; k, min score
               and filters live in the URL
  /videos      every indexed or analysed video; /video/ID: the analysis of `kadr analyse`
               (shot timeline, boundary score, keyframes with labels), a player that starts
               at a shot or hit, "find similar", the keyframe similarity heat map
  /duplicates  `kadr dedup` groups: duplicates apart from merely similar items
  /live        `kadr watch` events as they happen (--events, or --watch SOURCE)

and a JSON API used by those pages (schema: /api/openapi.json), e.g.
  curl -F image=@query.jpg -F k=5 http://127.0.0.1:8750/api/search
  curl 'http://127.0.0.1:8750/api/search?frame=clip.mp4@12.5s&k=5'

Only files the index or an analysis lists are served. The server listens on 127.0.0.1;
any other --host needs --allow-remote (and then --token is strongly advised).

examples:
  kadr serve --db photos.db
  kadr serve --db clips.db --videos analyses/ --port 9000
  kadr watch - --db clips.db --json-lines < stream.ts | kadr serve --db clips.db --events -
  kadr serve --db clips.db --watch rtsp://cam/stream
"""

DEFAULT_PORT = 8750


def add_arguments(parser) -> None:
    from kadr._options import add_options
    from kadr.web.service import ServeOptions

    from kadr.cli._common import add_encoder_flag

    parser.add_argument("--db", default=None, metavar="DIR", help="database folder (built by `kadr index add`)")
    add_encoder_flag(parser, default=None, help="encoder table to search (default: the database's only one)")
    parser.add_argument("--videos", action="append", default=[], metavar="DIR",
                        help="folder with outputs of `kadr analyse -o` (shots.json); searched recursively; repeatable")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a --host other than 127.0.0.1/localhost (others on the network can then connect)")
    parser.add_argument("--token", default=None, metavar="SECRET",
                        help="require this token on every request (?token=SECRET once in the browser, or "
                             "'Authorization: Bearer SECRET')")
    parser.add_argument("--events", default=None, metavar="FILE",
                        help="live events for /live: '-' reads `kadr watch --json-lines` from stdin, a FILE is followed")
    parser.add_argument("--watch", default=None, metavar="SOURCE",
                        help="watch a file, '-', URL or webcam for the database's items inside the server "
                             "(as `kadr watch SOURCE --db DB`); its events go to /live")
    parser.add_argument("--cache", default=None, metavar="DIR",
                        help="thumbnail cache folder (default: ~/.cache/kadr/serve/<db hash>)")
    add_options(parser, ServeOptions)


def run(args):
    import sys

    from kadr._options import options_from_args
    from kadr.cli._output import log, print_json_line
    from kadr.errors import InputError
    from kadr.web.service import ServeOptions, check_port_free

    local = args.host in ("127.0.0.1", "localhost", "::1")
    if not local and not args.allow_remote:
        raise InputError(f"--host {args.host} lets other machines connect; add --allow-remote if you mean it "
                         "(and consider --token)")
    if not 0 < args.port < 65536:
        raise InputError(f"--port must be 1..65535, got {args.port}")
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        from kadr.errors import missing_backend

        raise missing_backend("fastapi", "web") from None
    opts = options_from_args(ServeOptions, args)
    check_port_free(args.host, args.port)
    from kadr.web import open_library
    from kadr.web.app import LOCAL_HOSTS, configure_logging, create_app
    from kadr.web.events import EventHub, start_pump

    lib = open_library(args.db, args.videos, encoder=args.encoder, cache=args.cache, options=opts)
    if args.events and args.watch:
        raise InputError("give --events (a pipe or file of `kadr watch --json-lines`) or --watch SOURCE, not both")
    if args.watch and lib.index is None:
        raise InputError("--watch looks for the database's items in a stream; it needs --db DIR")
    hub = None
    if args.events:
        hub = EventHub(enrich=lib.enrich_event)
        start_pump(args.events, hub)
    elif args.watch:
        from kadr.web.events import start_watch

        hub = EventHub(enrich=lib.enrich_event)
        start_watch(str(lib.index.path), lib.index.encoder_name, args.watch, hub)
    app = create_app(lib, events=hub, token=args.token, allowed_hosts=LOCAL_HOSTS if local else None)
    configure_logging()
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}/" + (f"?token={args.token}" if args.token else "")
    h = lib.health()
    if not local:
        log(f"kadr: warning: serving on {args.host}: anyone who can reach this machine on port {args.port} can "
            "search the database and see its files" + ("" if args.token else "; no --token is set"))
    if args.json:
        print_json_line({"url": url, **h})
    else:
        log(f"kadr serve: {url}  (db {h['db'] or 'none'}, {h['rows']} rows, {h['videos']} videos, "
            f"{h['analyses']} analyses; Ctrl-C stops)")
    import threading

    # the encoder loads while the pages are already served; the first search waits for it
    threading.Thread(target=lib.warm_up, daemon=True, name="kadr-serve-warm-up").start()
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                            lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    server.run()
    if getattr(server, "started", True) is False:
        raise InputError(f"the server could not start on {args.host}:{args.port}")
    sys.stderr.flush()
    return None
