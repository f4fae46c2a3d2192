"""kadr dedup: duplicate and near-duplicate groups of a database, apart from similar ones."""

from __future__ import annotations

COMMAND = "dedup"
HELP = "find duplicate / near-duplicate groups in a database, reported apart from merely similar ones"
DESCRIPTION = """Pairs of rows are duplicates when their cosine similarity is >= --near-cosine,
or >= --similar-cosine with a 64-bit pHash Hamming distance <= --max-hamming (re-encodes,
rescales); byte-identical files are flagged exact. Pairs with cosine >= --similar-cosine
that are not duplicates are similar. Groups are connected components of those pairs.
Frames of the same video are not paired unless --same-source.

examples:
  kadr dedup --db photos.db
  kadr dedup --db photos.db --where "kind = 'image'" --json
"""


def add_arguments(parser) -> None:
    from kadr._options import add_options
    from kadr.cli.index import add_db_arguments
    from kadr.index.dedup import DedupOptions

    add_db_arguments(parser, encoder_help="encoder of the table (default: the database's only one)")
    parser.add_argument("--where", default=None, metavar="SQL", help="only rows matching this filter")
    add_options(parser, DedupOptions)


def run(args):
    from kadr._options import options_from_args
    from kadr.cli.index import open_index
    from kadr.index.dedup import DedupOptions

    idx = open_index(args)
    res = idx.dedup(where=args.where, options=options_from_args(DedupOptions, args))
    return {"db": str(idx.path), **res}


def render(result, args) -> None:
    from pathlib import Path

    t = result["thresholds"]
    print(f"{result['rows']} rows ({result['encoder']}): {len(result['duplicates'])} duplicate groups "
          f"(cosine >= {t['near_cosine']}, or >= {t['similar_cosine']} with pHash distance <= {t['max_hamming']}), "
          f"{len(result['similar'])} similar groups (cosine >= {t['similar_cosine']})")
    for title, groups in (("duplicates", result["duplicates"]), ("similar", result["similar"])):
        for i, g in enumerate(groups):
            tag = "exact" if g.exact else f"min cosine {g.min_score:.3f}, max pHash distance {g.max_hamming}"
            print(f"  {title} #{i + 1} ({len(g.items)} items; {tag})")
            for it in g.items:
                at = f" @ {it['time']:.2f}s" if it.get("time") is not None else ""
                print(f"      {it['source']}{at}")
    free = result.get("content_free") or []
    if free:
        print(f"  {len(free)} content-free rows left out (solid, near-uniform or title-card frames): "
              + ", ".join(f"{Path(it['source']).name}" + (f" @ {it['time']:.2f}s" if it.get("time") is not None else "")
                          + f" {it['content']}" for it in free[:6]) + (" ..." if len(free) > 6 else ""))
