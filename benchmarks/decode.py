"""Decoding speed: kadr.io.VideoReader vs PyAV's plain loop vs cv2.VideoCapture.

Run: ``.venv/bin/python benchmarks/decode.py [VIDEO]`` (default: ../shared/data/video/testvideo.mp4).
Writes benchmarks/results/decode.md. Every reader delivers every frame as a numpy array
(RGB for kadr and PyAV, BGR for OpenCV — its native order) in the same run; best of 3.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import av  # noqa: E402
import cv2  # noqa: E402

from _common import SHARED_VIDEO, best_of, machine_line, markdown_table, write_result  # noqa: E402
from kadr.io import VideoReader  # noqa: E402

ANALYSIS = 256
ROUNDS = 5


def pyav_plain(path: str, threaded: bool) -> int:
    n = 0
    with av.open(path) as c:
        s = c.streams.video[0]
        if threaded:
            s.thread_type = "AUTO"
        for f in c.decode(s):
            f.to_ndarray(format="rgb24")
            n += 1
    return n


def pyav_plain_small(path: str, w: int, h: int) -> int:
    n = 0
    with av.open(path) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for f in c.decode(s):
            f.reformat(width=w, height=h, format="rgb24").to_ndarray()
            n += 1
    return n


def opencv(path: str, size: tuple[int, int] | None = None) -> int:
    """cv2.VideoCapture loop; with ``size``, each frame is also area-resized (the usual recipe)."""
    cap = cv2.VideoCapture(path)
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        if size is not None:
            cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        n += 1
    cap.release()
    return n


def kadr_loop(path: str, attr: str, **reader_kw) -> int:
    """Iterate a VideoReader touching ``frame.<attr>`` (image or analysis_image)."""
    n = 0
    with VideoReader(path, **reader_kw) as r:
        for f in r:
            getattr(f, attr)
            n += 1
    return n


def kadr_decode_only(path: str) -> int:
    with VideoReader(path) as r:
        return sum(1 for _ in r)


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else str(SHARED_VIDEO / "testvideo.mp4")
    if not Path(path).exists():
        sys.exit(f"benchmark video not found: {path}")
    with VideoReader(path, analysis_size=ANALYSIS) as r:
        W, H = r.width, r.height
        w, h = r.analysis_size
    cv2.setNumThreads(0)
    runs = [
        ("PyAV plain loop, threaded (rgb24)", "full", lambda: pyav_plain(path, True)),
        ("PyAV plain loop, single thread (rgb24)", "full", lambda: pyav_plain(path, False)),
        ("cv2.VideoCapture (bgr24)", "full", lambda: opencv(path)),
        ("**kadr VideoReader** `.image`", "full", lambda: kadr_loop(path, "image")),
        (f"PyAV threaded + swscale to {w}x{h}", "analysis", lambda: pyav_plain_small(path, w, h)),
        (f"cv2.VideoCapture + cv2.resize to {w}x{h}", "analysis", lambda: opencv(path, (w, h))),
        (f"**kadr VideoReader** `.analysis_image` ({w}x{h})", "analysis", lambda: kadr_loop(path, "analysis_image", analysis_size=ANALYSIS)),
        (f"**kadr VideoReader** `.analysis_image`, `fast=True` ({w}x{h})", "analysis", lambda: kadr_loop(path, "analysis_image", analysis_size=ANALYSIS, fast=True)),
        ("**kadr VideoReader**, decode only (no pixel conversion)", "none", lambda: kadr_decode_only(path)),
    ]
    # Round-robin repeats: every reader is timed once per round, best of ROUNDS kept, so
    # load changes on a shared machine hit all readers alike.
    for _, _, fn in runs:
        fn()  # warm-up (file cache, codec init)
    best = [float("inf")] * len(runs)
    counts = [0] * len(runs)
    for _ in range(ROUNDS):
        for i, (_, _, fn) in enumerate(runs):
            secs, counts[i] = best_of(fn, 1)
            best[i] = min(best[i], secs)
    results = [(name, size, counts[i], counts[i] / best[i]) for i, (name, size, _) in enumerate(runs)]
    for name, _, _, fps in results:
        print(f"{name}: {fps:.1f} fps", file=sys.stderr)
    fastest_full = max(fps for name, size, _, fps in results if size == "full" and "kadr" not in name)
    kadr_full_fps = next(fps for name, size, _, fps in results if size == "full" and "kadr" in name)
    # like with like: the peers decode with the deblocking filter on, so the headline compares
    # kadr's normal analysis path; `fast=True` (deblocking skipped: other pixels) is compared
    # only with kadr's own normal path
    kadr_small_fps = next(fps for name, size, _, fps in results
                          if size == "analysis" and "kadr" in name and "fast=True" not in name)
    kadr_fast_fps = next(fps for name, size, _, fps in results if size == "analysis" and "fast=True" in name)
    peer_small_fps = max(fps for name, size, _, fps in results if size == "analysis" and "kadr" not in name)
    decode_only_fps = next(fps for name, size, _, fps in results if size == "none")
    rows = [(name, size, n, round(fps, 1), f"{fps / fastest_full:.2f}×") for name, size, n, fps in results]
    text = (
        f"# Decoding speed\n\n`{Path(path).name}` ({W}x{H}, {results[0][2]} frames), {machine_line()}.\n"
        f"Best of {ROUNDS} round-robin rounds after a warm-up, all in one process. Ratio = frames/s ÷ the fastest plain "
        f"full-size loop of a peer.\n\n"
        + markdown_table(["reader", "output size", "frames", "frames/s", "ratio"], rows)
        + f"\n\nkadr full size vs the fastest plain loop: **{kadr_full_fps / fastest_full:.2f}×** (goal ≥ 0.95×). "
        f"kadr analysis size vs kadr full size: **{kadr_small_fps / kadr_full_fps:.2f}×**; vs the fastest peer "
        f"recipe for the same downscaled frames (all with deblocking): **{kadr_small_fps / peer_small_fps:.2f}×**. "
        f"`fast=True` skips the H.264 deblocking filter, so its frames are not the same frames: it is "
        f"**{kadr_fast_fps / kadr_small_fps:.2f}×** kadr's normal analysis path and is not compared with the peers.\n\n"
        f"Decoding itself bounds both paths: decode-only runs at {decode_only_fps:.0f} frames/s, so pixel conversion "
        f"is {1000 / kadr_full_fps - 1000 / decode_only_fps:.2f} ms/frame at full size and "
        f"{1000 / kadr_small_fps - 1000 / decode_only_fps:.2f} ms at analysis size. kadr reuses one swscale context "
        f"per reader (PyAV's `frame.reformat` and `to_ndarray` build one per frame, which costs more than the "
        f"conversion).\n"
        f"\nReproduce: `.venv/bin/python benchmarks/decode.py [VIDEO]`.\n"
    )
    write_result("decode", text)


if __name__ == "__main__":
    main()
