"""kadr demo: generate a clip and run the main job on it."""

from __future__ import annotations

COMMAND = "demo"
HELP = "generate a short clip (shots, a dissolve, a fade) and run kadr's main job on it"
DESCRIPTION = """Writes demo.mp4 (5 shots of scikit-image sample photos with camera moves,
joined by a cut, a dissolve, a fade through black and a cut) plus its exact ground truth
into OUTDIR, takes a first look at it (probe, per-frame statistics) and then runs the main
job, `kadr analyse`, on it: OUTDIR/analysis/report.html and shots.json. Last it builds a
small database, OUTDIR/demo.db (the clip's keyframes plus photos/: the sample photos, a
re-encoded copy and a crop), and prints the `kadr serve` command that opens it.

example:
  kadr demo -o demo-out
"""


def add_arguments(parser) -> None:
    from kadr.cli._common import add_output_argument

    add_output_argument(parser, default="demo-out", metavar="DIR", help="output folder (default: demo-out)")


def run(args):
    # a failed or interrupted run removes the output folder it created (never an existing one)
    from kadr._checks import output_folder

    with output_folder(args.output):
        return _run(args)


def _run(args):
    import json
    from argparse import Namespace
    from pathlib import Path

    from kadr.cli import analyse as analyse_cmd, probe as probe_cmd, stats as stats_cmd
    from kadr.cli._output import log
    from kadr.cli.main import build_parser
    from kadr.errors import OutputError
    from kadr.io.synthetic import demo_clip

    out = Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out}: {exc}") from None
    clip = out / "demo.mp4"
    log(f"writing {clip} ...")
    truth = demo_clip(clip)
    (out / "ground_truth.json").write_text(json.dumps({"demo.mp4": truth.to_dict()}, indent=1))
    probed = probe_cmd.run(Namespace(video=str(clip), header_only=False))
    stats = stats_cmd.run(Namespace(video=str(clip), analysis_size=128, decode_threads=0, step=1, fps=None,
                                    keyframes_only=False, start=None, end=None))
    # the main job, with the defaults of `kadr analyse` (parsed, so they live in one place)
    analysis = analyse_cmd.run(build_parser().parse_args(["analyse", str(clip), "-o", str(out / "analysis")]))
    log(f"indexing {out / 'photos'} and {clip} into {out / 'demo.db'} ...")
    db = demo_database(out, clip)
    serve = f"kadr serve --db {out / 'demo.db'} --videos {out}"
    return {"clip": str(clip), "ground_truth": truth.to_dict(), "probe": probed, "stats": stats,
            "analysis": analysis, "db": db, "serve": serve}


def demo_photos(folder):
    """The sample photos as files, plus a re-encoded half-size copy of one (a duplicate) and a
    crop of another (similar, not a duplicate): what the duplicates page shows."""
    from pathlib import Path

    from PIL import Image

    from kadr.io.synthetic import SAMPLE_PHOTOS, sample_photo

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    for name in SAMPLE_PHOTOS:
        Image.fromarray(sample_photo(name)).save(d / f"{name}.jpg", quality=90)
    cat = Image.fromarray(sample_photo("chelsea"))
    cat.resize((cat.width // 2, cat.height // 2)).save(d / "chelsea_small_copy.jpg", quality=60)
    coffee = sample_photo("coffee")
    h, w = coffee.shape[:2]
    Image.fromarray(coffee[int(h * .1):int(h * .8), int(w * .25):int(w * .95)]).save(d / "coffee_crop.jpg", quality=90)
    return d


def demo_database(out, clip):
    """OUTDIR/demo.db: the photos and the clip's keyframes (effnet-lite0). Idempotent."""
    from kadr.index import Index

    idx = Index(out / "demo.db", create=True)
    rep = idx.add([demo_photos(out / "photos"), clip], progress=False)
    return {"db": str(idx.path), "rows": idx.store.count(idx.encoder_name), "encoder": idx.encoder_name,
            "added": len(rep.added), "failed": rep.failed}


def render(result, args) -> None:
    from kadr.cli import analyse as analyse_cmd
    from kadr.video.stats import sparkline

    p = result["probe"]
    print(f"{result['clip']}: {p['width']}x{p['height']} {p['codec']}, {p['frame_count']} frames at "
          f"{p['avg_fps']:g} fps, {p['duration']:.2f} s")
    rows = result["stats"]["per_frame"]
    print(f"  mean luma  {sparkline(r.luma_mean for r in rows)}")
    print(f"  change     {sparkline(r.hist_l1_prev for r in rows)}")
    gt = result["ground_truth"]
    print("ground truth: " + ", ".join(f"{t} {s}-{e}" for t, s, e in gt["transitions"]))
    print()
    print("kadr analyse:")
    analyse_cmd.render(result["analysis"], args)
    db = result["db"]
    print()
    print(f"database: {db['db']} ({db['rows']} rows, {db['encoder']}: the clip's keyframes and the photos)")
    print("browse it (search, the video page, duplicates) in a web browser:")
    print(f"  {result['serve']}")
