"""kadr demo: generate a clip and run the main job on it."""

from __future__ import annotations

COMMAND = "demo"
HELP = "generate a short clip (shots, a dissolve, a fade) and run kadr's main job on it"
DESCRIPTION = """Writes demo.mp4 (5 shots of scikit-image sample photos with camera moves,
joined by a cut, a dissolve, a fade through black and a cut) plus its exact ground truth
into OUTDIR, then runs the main job on it and prints the result.

example:
  kadr demo -o demo-out
"""


def add_arguments(parser) -> None:
    parser.add_argument("-o", "--out", default="demo-out", help="output folder (default: demo-out)")


def run(args):
    import json
    from argparse import Namespace
    from pathlib import Path

    from kadr.cli import probe as probe_cmd, stats as stats_cmd
    from kadr.cli._output import log
    from kadr.errors import OutputError
    from kadr.io.synthetic import demo_clip

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out}: {exc}") from None
    clip = out / "demo.mp4"
    log(f"writing {clip} ...")
    truth = demo_clip(clip)
    (out / "ground_truth.json").write_text(json.dumps({"demo.mp4": truth.to_dict()}, indent=1))
    probed = probe_cmd.run(Namespace(video=str(clip), header_only=False))
    stats = stats_cmd.run(Namespace(video=str(clip), analysis_size=128, threads=0, step=1, fps=None,
                                    keyframes_only=False, start=None, end=None))
    return {"clip": str(clip), "ground_truth": truth.to_dict(), "probe": probed, "stats": stats}


def render(result, args) -> None:
    from kadr.cli import probe as probe_cmd, stats as stats_cmd

    probe_cmd.render(result["probe"], args)
    print()
    stats_cmd.render(result["stats"], args)
    gt = result["ground_truth"]
    print()
    print("ground truth: " + ", ".join(f"{t} {s}-{e}" for t, s, e in gt["transitions"]))
