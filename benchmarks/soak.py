"""Soak: resident memory (RSS) over an hour of live stream, kadr's stream commands and a peer.

Run: ``flock /work/notes/bench.lock .venv/bin/python benchmarks/soak.py [--hours 1]``.
Writes benchmarks/results/soak.md.

Stream (``tests/soak.py``): 96x54 H.264 in MPEG-TS at 25 fps on stdin, piped as fast as the
command reads it; shots panning slowly across sample photos, a cut every 10 s, the
reference photo shown every 5 min. Commands: ``kadr watch -`` (hsv-hist and effnet-lite0
encoders, one sample a second), ``kadr shots -`` (``--json-lines`` when it exists), and as
peer ffmpeg's scene-change detector (``select='gt(scene,0.4)'``, the usual ffmpeg recipe) on
the same stream. Growth = RSS at the end minus RSS once the first fifth was fed (the issue-16
goal is <= 10 MB per hour).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine_line, markdown_table, write_result  # noqa: E402
from tests.soak import run_soak, save_reference  # noqa: E402


def _has_flag(command: str, flag: str) -> bool:
    out = subprocess.run([sys.executable, "-m", "kadr", command, "--help"], capture_output=True, text=True).stdout
    return flag in out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=1.0)
    a = ap.parse_args()
    secs = a.hours * 3600
    tmp = Path(tempfile.mkdtemp(prefix="kadr-soak-"))
    ref = str(save_reference(tmp / "ref.png"))
    shots_args = ["shots", "-", "--json-lines"] if _has_flag("shots", "--json-lines") else ["shots", "-"]
    runs = [
        ("kadr watch - (hsv-hist, --rate 1)", ["watch", "-", "--query", ref, "--json-lines", "--encoder", "hsv-hist",
                                               "--min-cosine", "0.9", "--rate", "1", "--no-realtime"], None),
        ("kadr watch - (effnet-lite0, --rate 1)", ["watch", "-", "--query", ref, "--json-lines", "--rate", "1",
                                                   "--no-realtime"], None),
        ("kadr " + " ".join(shots_args), shots_args, None),
    ]
    if shutil.which("ffmpeg"):
        runs.append(("peer: ffmpeg select='gt(scene,0.4)'",
                     ["-hide_banner", "-loglevel", "info", "-i", "pipe:0", "-vf",
                      "select='gt(scene,0.4)',showinfo", "-f", "null", "-"], ["ffmpeg"]))
    rows, curves = [], []
    for name, args, program in runs:
        r = run_soak(args, stream_s=secs, program=program, timeout=1800, count_stderr="pts_time" if program else None)
        if program:  # ffmpeg's showinfo prints one line per selected frame on stderr
            r.events = r.stderr_hits
            r.first_event_wall = None  # (stderr is read at the end here; not comparable)
        fifth = [m for _, s, m in r.samples if s >= secs / 5]
        growth = r.rss_growth_mb()
        first = "-" if program else f"{r.first_event_wall:.1f}" if r.first_event_wall is not None else "at exit"
        rows.append([name, r.returncode, f"{r.wall_s:.0f}", f"{secs / r.wall_s:.0f}x",
                     f"{fifth[0]:.0f}" if fifth else "-", f"{r.rss_end_mb():.0f}", f"{growth:+.1f}",
                     f"{growth / a.hours:+.1f}", first, f"{r.feed_done_wall:.1f}", r.events])
        marks = []
        for q in range(0, 11):
            at = [m for _, s, m in r.samples if s >= secs * q / 10]
            marks.append(f"{at[0]:.0f}" if at else f"{r.samples[-1][2]:.0f}")
        curves.append([name, *marks])
        print(rows[-1], flush=True)
    load = os.getloadavg()
    text = (f"# Soak: RSS over {a.hours:g} h of live stream\n\n{machine_line()}; load average during the run "
            f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)\n\n"
            "96x54 H.264 MPEG-TS on stdin, 25 fps, piped as fast as read; a cut every 10 s, the reference every "
            "5 min. RSS in MB (psutil, every 0.5 s). Growth: end minus first fifth (goal <= 10 MB per hour). "
            "'first output' and 'stream end' are wall seconds since start: output before the stream ended is "
            "streamed. 'lines out': JSON lines (events) or table lines on stdout; for ffmpeg the frames its filter "
            "selected.\n\n"
            + markdown_table(["command", "rc", "wall s", "speed", "RSS @1/5", "RSS end", "growth MB", "MB/h",
                              "first output s", "stream end s", "lines out"], rows)
            + "\n\n## RSS (MB) at each tenth of the stream\n\n"
            + markdown_table(["command"] + [f"{q * 10}%" for q in range(11)], curves) + "\n")
    print(write_result("soak", text))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
