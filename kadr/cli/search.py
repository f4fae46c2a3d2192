"""kadr search: query an image/keyframe database by image, text or video frame."""

from __future__ import annotations

COMMAND = "search"
HELP = "search a database by image(s), text or a video frame; ranked hits with cosine scores"
DESCRIPTION = """Ranked hits (cosine similarity of L2-normalised embeddings, higher = closer)
from a database built with `kadr index add`. Several queries (images, texts, frames) are
combined: by default the mean of their vectors (--combine mean), or each row's best score
over the queries (--combine max).

--text works offline on the default encoder: every indexed picture carries a semantic
vector (its ImageNet class probabilities projected into the MiniLM text space) and a
description (kadr's measured description, or a caption), and a text query scores a row by
both (hit metric "fused-cosine"). With a CLIP/SigLIP database the model's own text tower is
used instead. --image/--frame and --text combine: a row's score is the mean (or max) of its
image and text scores. --fulltext ranks by LanceDB full-text search (BM25) of the
descriptions; with other queries it keeps only rows whose description matches.

--where is SQL on the columns id, source, kind, video, frame_index, time, shot_index,
width, height, file_size, content_hash, phash, encoder, dim.

examples:
  kadr search --db photos.db --text "a cat on a sofa" --k 5
  kadr search --db photos.db --image query.jpg --k 5
  kadr search --db photos.db --text "a red car" --image car.jpg
  kadr search --db photos.db --fulltext "red"
  kadr search --db photos.db --frame clip.mp4@12s --where "kind = 'keyframe' AND video LIKE '%news%'"
  kadr search --db photos.db --image a.jpg --image b.jpg --min-score 0.6 --json
  ls queries/*.jpg | kadr search --db photos.db --queries - --k 3

--queries FILE (or - for stdin) runs many searches with one start-up (the model and the
table are opened once): one query per line, an image path, a frame (clip.mp4@12s) or
`text: a red car`; or a JSON object {"image"|"text"|"frame": ..., "k": 5, "where": "..."}.
Blank lines and lines starting with # are skipped. Out: one JSON line per query, as soon as
it is answered: {"query": ..., "hits": [...]} or {"query": ..., "error": "..."} (the batch
goes on; the exit status is 1 if any query failed).
"""


def add_arguments(parser) -> None:
    from kadr.cli.index import add_db_arguments

    add_db_arguments(parser, encoder_help="encoder of the table to search (default: the database's only one)")
    q = parser.add_argument_group("queries (at least one; several are combined)")
    q.add_argument("--image", action="append", default=[], metavar="IMG", help="query image (repeatable)")
    q.add_argument("--text", action="append", default=[], metavar="TEXT",
                   help="text query, e.g. \"a rocket launch\" (repeatable; offline on the default encoder)")
    q.add_argument("--fulltext", default=None, metavar="WORDS",
                   help="full-text search (BM25) of the descriptions; with other queries: keep only matching rows")
    q.add_argument("--frame", action="append", default=[], metavar="VIDEO@TIME",
                   help="a video frame: clip.mp4@12s (time) or clip.mp4@#300 (frame index)")
    q.add_argument("--queries", default=None, metavar="FILE",
                   help="many queries, one per line (- = stdin); JSON lines out (see above)")
    from kadr.cli._common import add_k_argument

    add_k_argument(parser, default=10, what="number of hits")
    parser.add_argument("--where", default=None, metavar="SQL", help="filter, e.g. \"kind = 'keyframe'\"")
    parser.add_argument("--min-score", type=float, default=None, metavar="S",
                        help="drop hits whose cosine similarity is below S (default: keep all k)")
    parser.add_argument("--combine", choices=("mean", "max"), default="mean",
                        help="how several queries combine (default: mean)")


def run(args):
    from kadr.cli.index import open_index
    from kadr.errors import InputError

    if args.queries is not None:
        if args.image or args.text or args.frame or args.fulltext is not None:
            raise InputError("--queries replaces --image/--text/--frame/--fulltext; give one or the other")
        return _batch(args)
    if not (args.image or args.text or args.frame or args.fulltext is not None):
        raise InputError("give a query: --image IMG, --text \"...\", --frame clip.mp4@12s or --fulltext WORDS "
                         "(or --queries FILE)")
    idx = open_index(args)
    hits = idx.search(images=args.image, text=args.text, frame=args.frame, k=args.k, where=args.where,
                      min_score=args.min_score, combine=args.combine, fulltext=args.fulltext)
    metric = hits[0].metric if hits else "cosine"
    return {"db": str(idx.path), "encoder": idx.encoder_name, "metric": metric, "k": args.k,
            "queries": {"images": args.image, "texts": args.text, "frames": args.frame, "fulltext": args.fulltext},
            "hits": hits}


def parse_query(line: str) -> dict:
    """One ``--queries`` line → keyword arguments of :meth:`kadr.index.Index.search`."""
    import json

    from kadr.errors import InputError

    s = line.strip()
    if s.startswith("{"):
        try:
            q = json.loads(s)
        except ValueError as exc:
            raise InputError(f"bad JSON query: {exc}") from None
        unknown = set(q) - {"image", "text", "frame", "k", "where", "min_score", "combine"}
        if unknown or not isinstance(q, dict):
            raise InputError(f"unknown query keys {sorted(unknown)}; use image, text, frame, k, where, min_score, combine")
        if not any(q.get(key) for key in ("image", "text", "frame")):
            raise InputError("a JSON query needs image, text or frame")
        return q
    if s.lower().startswith("text:"):
        return {"text": s[5:].strip()}
    from pathlib import Path

    from kadr.io.timecode import split_frame_ref

    if not Path(s).exists() and split_frame_ref(s) is not None:
        return {"frame": s}
    return {"image": s}


def _batch(args):
    import sys

    from kadr.cli._output import print_json_line
    from kadr.cli.index import open_index
    from kadr.errors import KadrError

    stream = sys.stdin if args.queries == "-" else None
    if stream is None:
        from kadr._checks import check_file

        stream = open(check_file(args.queries, what="queries file"), encoding="utf-8", errors="surrogateescape")
    idx = open_index(args)
    failed = 0
    with stream:
        for line in stream:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            query = line.strip()
            try:
                q = parse_query(query)
                kw = {"k": args.k, "where": args.where, "min_score": args.min_score, "combine": args.combine, **q}
                hits = idx.search(**kw)
                print_json_line({"query": query, "hits": hits})
            except KadrError as exc:  # one bad query does not end the batch
                failed += 1
                print_json_line({"query": query, "error": str(exc)})
    args._exit_code = 1 if failed else 0
    return None


def render(result, args) -> None:
    hits = result["hits"]
    print(f"{len(hits)} hits ({result['metric']} score, encoder {result['encoder']})")
    for h in hits:
        where = ""
        if h.kind != "image":
            where = f" @ {h.time:.2f}s (frame {h.frame_index}" + (f", shot {h.shot_index})" if h.shot_index is not None else ")")
        print(f"  {h.rank:>3}  {h.score:.4f}  {h.kind:<8} {h.source}{where}")
