"""kadr index add|stats|remove: build and maintain an image/keyframe database."""

from __future__ import annotations

import argparse

COMMAND = "index"
HELP = "build and maintain an image/keyframe database (add, stats, remove, check, backfill)"
DESCRIPTION = """An embedded LanceDB database in a folder (nothing to start): one table per
encoder with path, kind (image | keyframe | frame), video, frame index, time, shot, size,
file size + mtime + content hash, perceptual hash and the embedding — plus the text
columns that make `kadr search --text` work offline: a semantic vector (the picture in the
MiniLM text space) and a description (kadr's measured description, or a caption from
--describer caption:/model/folder) with its embedding.

`add` is resumable and idempotent: unchanged files are skipped, changed ones replaced; a
run killed half-way is finished by running it again. Unreadable files are skipped and listed.
One writer at a time: a second `add`/`remove` on the same --db waits for the first (--wait S
gives up after S seconds). `check` finds duplicate rows, damaged tables and a lost
kadr_index.json; `check --repair` fixes them.

examples:
  kadr index add photos/ clips/ --db photos.db
  kadr index add clips/ --db photos.db --video-mode fps:1 --encoder effnet-lite0
  kadr index add /data/photos/ --db photos.db --ray=10.0.0.5:6379
  kadr index stats --db photos.db
  kadr index remove photos/old/ --db photos.db
  kadr index check --repair --db photos.db
  kadr index backfill --db old.db     # text columns for a database indexed before them
"""


def add_db_arguments(parser: argparse.ArgumentParser, *, encoder_help: str | None = None) -> None:
    """--db and --encoder, shared by index, search, dedup and watch."""
    from kadr import features
    from kadr.cli._common import add_encoder_flag

    parser.add_argument("--db", required=True, metavar="DIR", help="database folder (created by `kadr index add`)")
    add_encoder_flag(parser, default=None, help=encoder_help or "encoder (default: the one the database was built "
                                                               f"with, else {features.DEFAULT} for a new database)")


def _common_flags(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: `kadr index --json add ...` must not be reset by the sub-command's default
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable JSON on stdout")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="full traceback on errors")


def _wait_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", type=float, default=None, metavar="S",
                        help="while another process writes to --db, wait at most S seconds, then fail "
                             "(default: wait until it is done; 0: fail at once)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="index_command", metavar="SUBCOMMAND", required=True)
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("add", help="index images and videos (files or folders, recursively)", formatter_class=fmt,
                       description="Index images and videos. Re-running skips unchanged files.\n\n"
                                   "example:\n  kadr index add photos/ clips/ --db photos.db")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image/video files or folders")
    add_db_arguments(p)
    p.add_argument("--video-mode", default="keyframes", metavar="MODE",
                   help="videos: 'keyframes' (one per shot) or 'fps:N' (N frames per second) (default: keyframes)")
    p.add_argument("--commit-every", type=int, default=64, metavar="N",
                   help="files written per database commit; a killed run loses at most this much work (default: 64)")
    _wait_flag(p)
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="decode and embed on a Ray cluster (pip install 'kadr[ray]'): HOST:PORT of its head node, "
                        "'auto', or no value for a Ray started on this machine; write it as --ray=ADDRESS or "
                        "after the paths. Same rows, same resumability as without it")
    from kadr._options import add_options
    from kadr.index.ray_indexing import RayOptions

    add_options(p, RayOptions, prefix="ray-")
    _text_flags(p)
    p.add_argument("--no-semantic", dest="semantic", action="store_false",
                   help="skip the text columns (faster; `kadr index backfill` adds them later)")
    _common_flags(p)
    p = sub.add_parser("backfill", help="fill the text columns (semantic vector, description) of rows without them",
                       formatter_class=fmt,
                       description="Fill the semantic vectors and descriptions of rows indexed before they existed "
                                   "(or with --no-semantic); re-reads each file.\n\n"
                                   "example:\n  kadr index backfill --db photos.db")
    add_db_arguments(p)
    _text_flags(p)
    _wait_flag(p)
    _common_flags(p)
    p = sub.add_parser("stats", help="rows, files, kinds, index state and size of a database", formatter_class=fmt,
                       description="What a database holds.\n\nexample:\n  kadr index stats --db photos.db")
    p.add_argument("--db", required=True, metavar="DIR", help="database folder")
    _common_flags(p)
    p = sub.add_parser("remove", help="remove files (or everything under folders) from a database", formatter_class=fmt,
                       description="Delete the rows of files or folders (the files need not exist any more).\n\n"
                                   "example:\n  kadr index remove photos/old/ --db photos.db")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to remove")
    add_db_arguments(p)
    _wait_flag(p)
    _common_flags(p)
    p = sub.add_parser("check", help="find duplicate rows, damaged tables, a lost kadr_index.json; --repair fixes them",
                       formatter_class=fmt,
                       description="Check a database folder: kadr_index.json readable and in step with the tables,\n"
                                   "every row of every table readable, no row id twice. Exit status 1 when something\n"
                                   "is (left) wrong. --repair rebuilds kadr_index.json, restores the newest readable\n"
                                   "version of a damaged table (rerun `kadr index add` afterwards) and removes\n"
                                   "duplicate rows.\n\n"
                                   "example:\n  kadr index check --db photos.db\n  kadr index check --repair --db photos.db")
    p.add_argument("--db", required=True, metavar="DIR", help="database folder")
    p.add_argument("--repair", action="store_true", help="fix what can be fixed")
    _wait_flag(p)
    _common_flags(p)


def _text_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--describer", default="measured", metavar="NAME",
                        help="description of each row: 'measured' (kadr's measured description, offline) or "
                             "caption:/path/to/model-folder (a BLIP/GIT/Florence-2/SmolVLM folder) (default: measured)")


def open_index(args: argparse.Namespace, *, create: bool = False):
    from kadr.index import Index

    return Index(args.db, getattr(args, "encoder", None), create=create)


def run(args):
    if getattr(args, "wait", None) is not None and args.wait < 0:
        from kadr.errors import InputError

        raise InputError(f"--wait is seconds >= 0, got {args.wait}")
    if args.index_command == "add":
        ray_options = None
        if args.ray is not None:
            from kadr._options import options_from_args
            from kadr.index.ray_indexing import RayOptions, connect

            ray_options = options_from_args(RayOptions, args, prefix="ray-")
            connect(args.ray, ray_options)  # before anything is created (and before lancedb is imported)
        from pathlib import Path

        new = not Path(args.db).expanduser().exists()
        try:
            idx = open_index(args, create=True)
            rep = _add(idx, args, ray_options)
        except BaseException:
            if new:  # a first run that wrote no table leaves no empty --db folder behind
                _drop_if_no_tables(Path(args.db).expanduser())
            raise
        return {"command": "add", "db": str(idx.path), **rep.to_dict()}
    return _run_other(args)


def _drop_if_no_tables(path) -> None:
    import shutil

    if path.is_dir() and not any(p.suffix == ".lance" for p in path.iterdir()):
        shutil.rmtree(path, ignore_errors=True)


def _add(idx, args, ray_options):
    return idx.add(args.paths, video_mode=args.video_mode, commit_every=args.commit_every, ray=args.ray,
                   ray_options=ray_options, wait=args.wait, semantic=args.semantic, describer=args.describer)


def _run_other(args):
    if args.index_command == "backfill":
        idx = open_index(args)
        return {"command": "backfill", "db": str(idx.path), **idx.backfill(describer=args.describer, wait=args.wait)}
    if args.index_command == "stats":
        return {"command": "stats", **open_index(args).stats()}
    if args.index_command == "check":
        from kadr.index.check import check_index

        res = check_index(args.db, repair=args.repair, wait=args.wait)
        args._exit_code = 0 if res["ok"] else 1
        return {"command": "check", **res}
    idx = open_index(args)
    return {"command": "remove", "db": str(idx.path), **idx.remove(args.paths, wait=args.wait)}


def render(result, args) -> None:
    from kadr._checks import plural

    cmd = result["command"]
    if cmd == "add":
        print(f"{result['db']} [{result['encoder']}]: {plural(result['files'], 'file')} — {result['added']} added, "
              f"{result['replaced']} replaced, {result['unchanged']} unchanged, {len(result['failed'])} failed; "
              f"{plural(result['rows_written'], 'row')} in {result['seconds']:.1f} s; ANN index: {result['ann_index']}")
        for f in result["failed"]:
            print(f"  failed: {f['path']}: {f['error']}")
    elif cmd == "backfill":
        print(f"{result['db']} [{result['encoder']}]: {result['rows_filled']} of {result['rows_missing']} rows without "
              f"text columns filled ({result['files']} files, {len(result['failed'])} failed) in {result['seconds']:.1f} s")
        for f in result["failed"]:
            print(f"  failed: {f['path']}: {f['error']}")
    elif cmd == "stats":
        print(f"{result['db']} ({result['disk_bytes'] / 1e6:.1f} MB)")
        if not result["tables"]:
            print("  empty")
        for t in result["tables"]:
            kinds = ", ".join(plural(v, k) for k, v in sorted(t["kinds"].items())) or "no rows"
            print(f"  {t['encoder']} ({t['dim']}-d): {plural(t['rows'], 'row')} from {plural(t['files'], 'file')} "
                  f"({kinds}); {plural(t['videos'], 'video')}; search: {t['search']}")
    elif cmd == "check":
        rows = ", ".join(f"{t['encoder']} {plural(t['rows'], 'row')}" for t in result["tables"]) or "no tables"
        state = "ok" if not result["problems"] else ("repaired" if result["ok"] else "problems found")
        print(f"{result['db']}: {state} ({rows})")
        for p in result["problems"]:
            where = f" [{p['table']}]" if p["table"] else ""
            print(f"  {p['kind']}{where}: {p['detail']}" + (f" → {p['action']}" if p["action"] else ""))
        if not result["ok"] and not result["repaired"]:
            print(f"  fix with: kadr index check --repair --db {result['db']}")
    else:
        print(f"{result['db']}: removed {plural(result['files_removed'], 'file')} "
              f"({plural(result['rows_removed'], 'row')})")
        for p in result["not_in_index"]:
            print(f"  not in the index: {p}")
