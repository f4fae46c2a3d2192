"""kadr index add|stats|remove: build and maintain an image/keyframe database."""

from __future__ import annotations

import argparse

COMMAND = "index"
HELP = "build and maintain an image/keyframe database (add, stats, remove)"
DESCRIPTION = """An embedded LanceDB database in a folder (nothing to start): one table per
encoder with path, kind (image | keyframe | frame), video, frame index, time, shot, size,
file size + mtime + content hash, perceptual hash and the embedding.

`add` is resumable and idempotent: unchanged files are skipped, changed ones replaced; a
run killed half-way is finished by running it again. Unreadable files are skipped and listed.

examples:
  kadr index add photos/ clips/ --db photos.db
  kadr index add clips/ --db photos.db --video-mode fps:1 --encoder effnet-lite0
  kadr index stats --db photos.db
  kadr index remove photos/old/ --db photos.db
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
    _common_flags(p)


def open_index(args: argparse.Namespace, *, create: bool = False):
    from kadr.index import Index

    return Index(args.db, getattr(args, "encoder", None), create=create)


def run(args):
    if args.index_command == "add":
        idx = open_index(args, create=True)
        rep = idx.add(args.paths, video_mode=args.video_mode, commit_every=args.commit_every)
        return {"command": "add", "db": str(idx.path), **rep.to_dict()}
    if args.index_command == "stats":
        return {"command": "stats", **open_index(args).stats()}
    idx = open_index(args)
    return {"command": "remove", "db": str(idx.path), **idx.remove(args.paths)}


def render(result, args) -> None:
    cmd = result["command"]
    if cmd == "add":
        print(f"{result['db']} [{result['encoder']}]: {result['files']} files — {result['added']} added, "
              f"{result['replaced']} replaced, {result['unchanged']} unchanged, {len(result['failed'])} failed; "
              f"{result['rows_written']} rows in {result['seconds']:.1f} s; ANN index: {result['ann_index']}")
        for f in result["failed"]:
            print(f"  failed: {f['path']}: {f['error']}")
    elif cmd == "stats":
        print(f"{result['db']} ({result['disk_bytes'] / 1e6:.1f} MB)")
        if not result["tables"]:
            print("  empty")
        for t in result["tables"]:
            kinds = ", ".join(f"{v} {k}" for k, v in sorted(t["kinds"].items())) or "no rows"
            print(f"  {t['encoder']} ({t['dim']}-d): {t['rows']} rows from {t['files']} files ({kinds}); "
                  f"{t['videos']} videos; search: {t['search']}")
    else:
        print(f"{result['db']}: removed {result['files_removed']} files ({result['rows_removed']} rows)")
        for p in result["not_in_index"]:
            print(f"  not in the index: {p}")
