"""Soak tests (issue 16): an hour of generated video time piped into ``kadr watch -`` and
``kadr shots - --json-lines`` faster than real time. Goals: resident memory grows by at most
10 MB from the first fifth of the stream to its end (bounded state), and the first event is
printed while the stream is still running (events stream as they happen).

Run by ``make soak`` (KADR_SOAK=1), a separate CI step with its own time budget; each run
takes about 1-3 minutes on 2 cores. ``benchmarks/soak.py`` records the RSS curves.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.soak import ROOT, run_soak, save_reference

pytestmark = pytest.mark.soak

#: One hour of 25 fps video (90,000 frames of 96x54).
STREAM_S = 3600.0
#: Allowed RSS growth from the first fifth of the stream to its end (issue 16).
MAX_GROWTH_MB = 10.0


def _has_flag(command: str, flag: str) -> bool:
    out = subprocess.run([sys.executable, "-m", "kadr", command, "--help"], capture_output=True, text=True,
                         cwd=ROOT).stdout
    return flag in out


def _check(run) -> None:
    print(f"\n{' '.join(run.command[2:5])}...: wall {run.wall_s:.0f} s, RSS growth {run.rss_growth_mb():+.1f} MB "
          f"(first fifth -> end), first event at {run.first_event_wall} s, stream fed by {run.feed_done_wall:.1f} s, "
          f"{run.events} events")
    assert run.returncode == 0, run.stderr
    assert run.events > 0, "no event in an hour of stream"
    assert run.first_event_while_streaming(), (
        f"first event at {run.first_event_wall} s, the stream ended at {run.feed_done_wall} s: events are not "
        "printed as they happen")
    assert run.rss_growth_mb() <= MAX_GROWTH_MB, (
        f"RSS grew {run.rss_growth_mb():.1f} MB from the first fifth of the stream to its end (limit "
        f"{MAX_GROWTH_MB} MB): {[round(m) for _, _, m in run.samples[::max(1, len(run.samples) // 12)]]}")


def test_watch_an_hour_of_stream_in_bounded_memory(tmp_path):
    ref = save_reference(tmp_path / "ref.png")
    # hsv-hist has no fitted watch calibration (issue 17): the event threshold is given
    run = run_soak(["watch", "-", "--query", str(ref), "--json-lines", "--encoder", "hsv-hist", "--min-cosine", "0.9",
                    "--rate", "1",
                    "--no-realtime"], stream_s=STREAM_S)
    _check(run)


def test_shots_an_hour_of_stream_in_bounded_memory():
    if not _has_flag("shots", "--json-lines"):
        pytest.fail("`kadr shots --json-lines` does not exist yet (issue 11)")
    run = run_soak(["shots", "-", "--json-lines"], stream_s=STREAM_S)
    _check(run)
