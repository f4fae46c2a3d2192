"""kadr search: query an image/keyframe database by image, text or video frame."""

from __future__ import annotations

COMMAND = "search"
HELP = "search a database by image(s), text or a video frame; ranked hits with cosine scores"
DESCRIPTION = """Ranked hits (cosine similarity of L2-normalised embeddings, higher = closer)
from a database built with `kadr index add`. Several queries (images, texts, frames) are
combined: by default the mean of their vectors (--combine mean), or each row's best score
over the queries (--combine max). Text needs a text-capable encoder (CLIP/SigLIP).

--where is SQL on the columns id, source, kind, video, frame_index, time, shot_index,
width, height, file_size, content_hash, phash, encoder, dim.

examples:
  kadr search --db photos.db --image query.jpg --k 5
  kadr search --db photos.db --frame clip.mp4@12s --where "kind = 'keyframe' AND video LIKE '%news%'"
  kadr search --db photos.db --image a.jpg --image b.jpg --min-score 0.6 --json
"""


def add_arguments(parser) -> None:
    from kadr.cli.index import add_db_arguments

    add_db_arguments(parser, encoder_help="encoder of the table to search (default: the database's only one)")
    q = parser.add_argument_group("queries (at least one; several are combined)")
    q.add_argument("--image", action="append", default=[], metavar="IMG", help="query image (repeatable)")
    q.add_argument("--text", action="append", default=[], metavar="TEXT", help="text query (text-capable encoders only)")
    q.add_argument("--frame", action="append", default=[], metavar="VIDEO@TIME",
                   help="a video frame: clip.mp4@12s (time) or clip.mp4@#300 (frame index)")
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

    if not (args.image or args.text or args.frame):
        raise InputError("give a query: --image IMG, --text \"...\" or --frame clip.mp4@12s")
    idx = open_index(args)
    hits = idx.search(images=args.image, text=args.text, frame=args.frame, k=args.k, where=args.where,
                      min_score=args.min_score, combine=args.combine)
    return {"db": str(idx.path), "encoder": idx.encoder_name, "metric": "cosine", "k": args.k,
            "queries": {"images": args.image, "texts": args.text, "frames": args.frame}, "hits": hits}


def render(result, args) -> None:
    hits = result["hits"]
    print(f"{len(hits)} hits ({result['metric']} similarity, encoder {result['encoder']})")
    for h in hits:
        where = ""
        if h.kind != "image":
            where = f" @ {h.time:.2f}s (frame {h.frame_index}" + (f", shot {h.shot_index})" if h.shot_index is not None else ")")
        print(f"  {h.rank:>3}  {h.score:.4f}  {h.kind:<8} {h.source}{where}")
