"""kadr stats: per-frame statistics of a video."""

from __future__ import annotations

from kadr.cli._common import add_reader_arguments, open_reader

COMMAND = "stats"
HELP = "per-frame luma and change statistics of a video (a first look for cuts and fades)"
DESCRIPTION = """Per-frame statistics at analysis size: mean luma (0..255), luma deviation, and
the change from the previous frame (mean absolute luma difference; L1 distance of 16-bin
luma histograms, 0..2). Cuts show as spikes of change, fades as ramps of luma.

example:
  kadr stats clip.mp4
  kadr stats clip.mp4 --json > stats.json
"""


def add_arguments(parser) -> None:
    parser.add_argument("video", help="video file, '-' for a pipe, or a stream URL")
    add_reader_arguments(parser)


def run(args):
    from kadr._progress import track
    from kadr.video.stats import frame_stats

    with open_reader(args, args.video) as reader:
        rows = list(frame_stats(track(reader, total=reader.frame_count, desc="stats", unit="frames")))
        return {"video": reader.name, "fps": reader.fps, "frames": len(rows),
                "decode": {"corrupt_packets": reader.stats.corrupt_packets, "lost": reader.stats.lost},
                "per_frame": rows}


def render(result, args) -> None:
    from kadr.video.stats import sparkline

    rows = result["per_frame"]
    print(f"{result['video']}: {result['frames']} frames at {result['fps'] or 0:.3f} fps")
    if not rows:
        return
    print(f"  mean luma    {sparkline(r.luma_mean for r in rows)}")
    print(f"  change       {sparkline(r.diff_prev for r in rows)}")
    print(f"  hist change  {sparkline(r.hist_l1_prev for r in rows)}")
    top = sorted(rows, key=lambda r: r.hist_l1_prev, reverse=True)[:5]
    print("  largest changes: " + ", ".join(f"#{r.index} ({r.time:.2f}s, {r.hist_l1_prev:.2f})" for r in sorted(top, key=lambda r: r.index)))
    dark = sum(r.luma_mean < 16 for r in rows)
    print(f"  dark frames (mean luma < 16): {dark}")
