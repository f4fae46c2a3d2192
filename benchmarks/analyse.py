"""One decode pass for `kadr analyse` and `kadr index add`: shots + keyframes, before / after.

Before (kadr up to issue 18): ``detect_shots`` (decoding with the deblocking filter skipped,
the classic detector's preference), then ``pick_keyframes`` decoding the video a second
time (and ``index add`` opening it a third time for its size). After:
``detect_shots_and_keyframes`` — keyframe candidates scored inside the shot pass (deblocking
on, so the saved keyframes are pristine). Same detector (auto = classic), same keyframe
options, same encoder (hsv-hist, the keyframe default). Both settings are timed: `analyse`
(keyframes saved at full size, 256 px analysis) and `index add` (no files, 448 px items).
Wall time is the best of ``--repeats`` runs; "frames decoded" counts every decoded frame.
Reproduce: `flock /work/notes/bench.lock .venv/bin/python benchmarks/analyse.py`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_VIDEO, best_of, machine_line, markdown_table, write_result  # noqa: E402

from kadr.io.video import VideoReader  # noqa: E402
from kadr.video.keyframes import detect_shots_and_keyframes, pick_keyframes  # noqa: E402
from kadr.video.shots import detect_shots  # noqa: E402

SETTINGS = {"analyse": {"size": 256, "save": True}, "index add": {"size": 448, "save": False}}


def before(path: str, size: int, out_dir: str | None):
    det = detect_shots(path, progress=False)
    with VideoReader(path, analysis_size=size) as r:
        res = pick_keyframes(r, det.shots, transitions=det.transitions, out_dir=out_dir, analysis_size=size)
        decoded = det.decode.decoded + r.stats.decoded
    if out_dir is None:  # index add opened the file once more for its size (header only)
        with VideoReader(path) as r:
            r.width
    return [[k.frame for k in s.keyframes] for s in res], decoded


def after(path: str, size: int, out_dir: str | None):
    _, res, rep = detect_shots_and_keyframes(path, analysis_size=size, out_dir=out_dir, progress=False)
    return [[k.frame for k in s.keyframes] for s in res], rep.frames_decoded


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    clips = sorted(p for p in SHARED_VIDEO.glob("*") if p.suffix in (".mp4", ".mkv"))
    rows, tot = [], {k: [0.0, 0.0, 0, 0] for k in SETTINGS}
    for clip in clips:
        for name, s in SETTINGS.items():
            with tempfile.TemporaryDirectory() as d:
                out = (lambda tag: str(Path(d) / tag)) if s["save"] else (lambda tag: None)
                tb, (kb, nb) = best_of(lambda: before(str(clip), s["size"], out("b")), args.repeats)
                ta, (ka, na) = best_of(lambda: after(str(clip), s["size"], out("a")), args.repeats)
            rows.append([clip.name, name, nb, na, tb, ta, f"{tb / ta:.2f}×", "yes" if ka == kb else "**no**"])
            for i, v in enumerate((tb, ta, nb, na)):
                tot[name][i] += v
    for name, (tb, ta, nb, na) in tot.items():
        rows.append([f"**all {len(clips)} clips**", name, nb, na, tb, ta, f"**{tb / ta:.2f}×**", ""])
    text = "\n".join([
        "# One decode pass: shots + keyframes (`kadr analyse`, `kadr index add`)", "",
        f"{machine_line()}. Clips: `../shared/data/video` (every .mp4/.mkv). Best of {args.repeats}.", "",
        markdown_table(["clip", "job", "frames decoded before", "after", "seconds before", "after", "speed-up",
                        "same keyframes"], rows), "",
        "Before = `detect_shots` + `pick_keyframes` (two decodes; index add also re-opened the file); "
        "after = `detect_shots_and_keyframes` (one decode). The one pass decodes with the deblocking "
        "filter on, the old shot pass skipped it (~1.3× cheaper decoding), so the speed-up is less than 2×.", "",
        "Reproduce: `flock /work/notes/bench.lock .venv/bin/python benchmarks/analyse.py`.", ""])
    write_result("analyse", text)


if __name__ == "__main__":
    main()
