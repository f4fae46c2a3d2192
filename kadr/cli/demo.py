"""kadr demo: generate a clip and run the main job on it."""

from __future__ import annotations

COMMAND = "demo"
HELP = "generate a short clip (shots, a dissolve, a fade) and run kadr's main job on it"
DESCRIPTION = """Writes demo.mp4 (5 shots of scikit-image sample photos with camera moves,
joined by a cut, a dissolve, a fade through black and a cut) plus its exact ground truth
into OUTDIR, takes a first look at it (probe, per-frame statistics) and then runs the main
job, `kadr analyse`, on it: OUTDIR/analysis/report.html and shots.json.

example:
  kadr demo -o demo-out
"""


def add_arguments(parser) -> None:
    from kadr.cli._common import add_output_argument

    add_output_argument(parser, default="demo-out", metavar="DIR", help="output folder (default: demo-out)")


def run(args):
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
    return {"clip": str(clip), "ground_truth": truth.to_dict(), "probe": probed, "stats": stats,
            "analysis": analysis}


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
