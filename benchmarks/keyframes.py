"""Keyframes and exports: kadr vs PySceneDetect 0.7 (same run).

Run: ``.venv/bin/python benchmarks/keyframes.py`` → benchmarks/results/keyframes.md.

1. **Keyframe representativeness.** Shots = the hand-made ground truth of
   ``../shared/data/video`` (gradual transitions split at their middle frame, black holds
   their own shots) plus a generated clip whose 3 "shots" each hold 2–3 different photos
   (a stand-in for a pan or a person entering: the sub-scenes are known exactly). For
   every shot and method we measure, over all frames of the shot, the mean cosine distance
   of a frame to its nearest keyframe (lower = the keyframes represent the shot better),
   in two embedding spaces (effnet-lite0 and hsv-hist, so no method is judged only in its
   own space), the share of sub-scenes that got a keyframe, and the keyframes per shot.
   Frames inside gradual transitions are not scored (a keyframe should not stand for them).
   Methods: kadr (default, hsv-hist), kadr with effnet-lite0, kadr with one keyframe per
   shot, the middle frame, and PySceneDetect ``save-images`` (its own position code,
   3 images per scene, margin 1 frame).
2. **EDL / OTIO timecodes.** Boundaries every 997 frames over one hour at 23.976, 25 and
   29.97 fps, written by kadr and by PySceneDetect's ``write_scene_list_edl`` /
   ``write_scene_list_otio``, read back with the OpenTimelineIO CMX3600 reader / OTIO:
   share of events whose source-in frame equals the true frame.
3. **Splitting.** Every ground-truth shot of the short shared clips cut by kadr ``reencode``,
   kadr ``copy`` and PySceneDetect ``split_video_ffmpeg`` (default: libx264 re-encode):
   share of pieces with exactly the shot's frame count, and wall time.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _common import SHARED_VIDEO, machine_line, markdown_table, write_result  # noqa: E402
from kadr import features  # noqa: E402
from kadr.io.video import Frame, VideoReader  # noqa: E402
from kadr.video.export import ShotList, split_video, to_edl, otio_json  # noqa: E402
from kadr.video.keyframes import KeyframeOptions, pick_keyframes  # noqa: E402
from kadr.video.types import Shot, Transition  # noqa: E402

EVAL_STEP = 2  # every 2nd frame of a shot is scored


def gt_shots(info: dict, fps: float, frames: int) -> tuple[list[Shot], list[Transition], list[list[int]]]:
    """Shots from ground_truth.json (gradual transitions split at their middle frame)."""
    bounds = sorted({*info["hard"], *[(a + b + 1) // 2 for a, b in info["gradual"]]})
    edges = [0, *[b for b in bounds if 0 < b < frames], frames]
    shots = [Shot(i, a, b, a / fps, b / fps) for i, (a, b) in enumerate(zip(edges, edges[1:]))]
    trans = [Transition("dissolve", a, b, a / fps, b / fps, 1.0) for a, b in info["gradual"]]
    scenes = [[i] * s.frames for i, s in enumerate(shots)]  # one sub-scene per shot
    return shots, trans, scenes


def compound_clip() -> tuple[list[np.ndarray], float, list[Shot], list[Transition], list[list[int]]]:
    """3 shots of 2-3 photos each (joined by hard changes inside the 'shot')."""
    from kadr.io.synthetic import Join, ShotSpec, render_clip

    groups = [["astronaut", "coffee"], ["chelsea", "rocket", "hubble_deep_field"], ["camera", "coins"]]
    specs, scenes, shots, start = [], [], [], 0
    for gi, g in enumerate(groups):
        n = 36 if len(g) == 2 else 24  # frames per photo
        specs += [ShotSpec(p, n, zoom=(1.0, 1.1)) for p in g]
        scenes.append([j for j in range(len(g)) for _ in range(n)])
        shots.append(Shot(gi, start, start + n * len(g), start / 25, (start + n * len(g)) / 25))
        start += n * len(g)
    joins = [Join("cut")] * (len(specs) - 1)
    frames, _ = render_clip(specs, joins, size=(320, 180))
    return frames, 25.0, shots, [], scenes


def decode(path: Path) -> tuple[list[np.ndarray], float]:
    with VideoReader(path, analysis_size=256) as r:
        return [f.analysis_image for f in r], float(r.fps)


def pyscenedetect_positions(shots: list[Shot], fps: float) -> list[list[int]]:
    from scenedetect import FrameTimecode
    from scenedetect.output.image import _generate_timecode_list

    rate = Fraction(fps).limit_denominator(1001)
    sl = [(FrameTimecode(s.start_frame, rate), FrameTimecode(s.end_frame, rate)) for s in shots]
    return [sorted({min(s.end_frame - 1, tc.frame_num) for tc in tcs})
            for s, tcs in zip(shots, _generate_timecode_list(sl, 3, 1))]


def kadr_positions(images, fps, shots, trans, encoder, max_k=3) -> list[list[int]]:
    frames = [Frame.from_array(im, i, i / fps) for i, im in enumerate(images)]
    shots = [Shot(s.index, s.start_frame, s.end_frame, s.start_time, s.end_time) for s in shots]
    res = pick_keyframes(frames, shots, transitions=trans, encoder=encoder,
                         options=KeyframeOptions(max_per_shot=max_k))
    return [[k.frame for k in r.keyframes] for r in res]


def scored_frames(s: Shot, trans: list[Transition]) -> np.ndarray:
    """Every EVAL_STEP-th frame of the shot outside gradual transitions (their mixed frames
    are not content a keyframe should stand for); all of them if the shot is only transition."""
    idx = np.arange(s.start_frame, s.end_frame, EVAL_STEP)
    keep = [i for i in idx if not any(t.start_frame <= i < t.end_frame for t in trans)]
    return np.asarray(keep or idx)


def score(positions, shots, trans, scenes, embs) -> dict:
    """Mean distance frame → nearest keyframe (per space), sub-scene recall, keyframes/shot."""
    out = {name: [] for name in embs}
    recall = []
    for s, pos, sc in zip(shots, positions, scenes):
        idx = scored_frames(s, trans)
        for name, e in embs.items():
            d = 1 - e[idx] @ e[pos].T
            out[name].append(float(d.min(1).mean()))
        got = {sc[p - s.start_frame] for p in pos}
        recall.append(len(got) / len(set(sc)))
    return {**{k: float(np.mean(v)) for k, v in out.items()}, "recall": float(np.mean(recall)),
            "per_shot": float(np.mean([len(p) for p in positions]))}


def bench_keyframes(lines: list[str]) -> None:
    truth = json.loads((SHARED_VIDEO / "ground_truth.json").read_text()) if SHARED_VIDEO.exists() else {}
    eff, hsv = features.get("effnet-lite0"), features.get("hsv-hist")
    clips = []
    for name, info in truth.items():
        if name.startswith("_"):
            continue
        images, fps = decode(SHARED_VIDEO / name)
        shots, trans, scenes = gt_shots(info, fps, len(images))
        clips.append((name, images, fps, shots, trans, scenes))
    images, fps, shots, trans, scenes = compound_clip()
    clips.append(("generated: 3 shots x 2-3 scenes", images, fps, shots, trans, scenes))
    rows, tot = [], {}
    for name, images, fps, shots, trans, scenes in clips:
        methods = {}
        t0 = time.perf_counter()
        methods["kadr (hsv-hist, ≤3)"] = kadr_positions(images, fps, shots, trans, hsv)
        t_hsv = time.perf_counter() - t0
        methods["kadr (effnet-lite0, ≤3)"] = kadr_positions(images, fps, shots, trans, eff)
        t_eff = time.perf_counter() - t0 - t_hsv
        methods["kadr (hsv-hist, 1)"] = kadr_positions(images, fps, shots, trans, hsv, max_k=1)
        methods["middle frame"] = [[(s.start_frame + s.end_frame) // 2] for s in shots]
        methods["PySceneDetect save-images (3)"] = pyscenedetect_positions(shots, fps)
        # embed only the frames that are scored or chosen (effnet-lite0 on 2 shared cores is the slow part)
        need = sorted({int(i) for s in shots for i in scored_frames(s, trans)}
                      | {p for pos in methods.values() for ps in pos for p in ps})
        embs = {}
        for key, enc in (("effnet", eff), ("hsv", hsv)):
            e = np.zeros((len(images), enc.dim), np.float32)
            e[need] = enc.encode_images([images[i] for i in need])
            embs[key] = e
        for m, pos in methods.items():
            r = score(pos, shots, trans, scenes, embs)
            rows.append([name, m, r["effnet"], r["hsv"], r["recall"], r["per_shot"]])
            tot.setdefault(m, []).append(r)
        lines.append(f"- {name}: {len(images)} frames, {len(shots)} shots; kadr keyframe choice from decoded "
                     f"frames: {len(images) / t_hsv:,.0f} frames/s with hsv-hist, {len(images) / t_eff:,.0f} "
                     "frames/s with effnet-lite0")
    for m, rs in tot.items():
        rows.append(["**mean**", m, float(np.mean([r["effnet"] for r in rs])), float(np.mean([r["hsv"] for r in rs])),
                     float(np.mean([r["recall"] for r in rs])), float(np.mean([r["per_shot"] for r in rs]))])
    lines.insert(0, markdown_table(["clip", "method", "mean distance to nearest keyframe (effnet-lite0)",
                                    "… (hsv-hist)", "sub-scenes with a keyframe", "keyframes / shot"], rows))


def bench_timecodes() -> str:
    import opentimelineio as otio
    from scenedetect import FrameTimecode
    from scenedetect.output import write_scene_list_edl, write_scene_list_otio

    rows = []
    for fps in (Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001)):
        n = int(3600 * fps)
        bounds = list(range(0, n, 997)) + [n]
        pairs = list(zip(bounds, bounds[1:]))
        shots = [Shot(i, a, b, a / float(fps), b / float(fps)) for i, (a, b) in enumerate(pairs)]
        sl = ShotList("/tmp/x.mp4", float(fps), n, shots, [])
        psd = [(FrameTimecode(a, fps), FrameTimecode(b, fps)) for a, b in pairs]
        buf = io.StringIO()
        write_scene_list_edl(buf, psd)
        res = {}
        # PySceneDetect writes "* CREATED WITH PYSCENEDETECT" before TITLE:, which the OTIO CMX3600
        # reader rejects ("Unknown event type"); that line is dropped here so its timecodes can be read
        psd_text = "\n".join(ln for ln in buf.getvalue().splitlines() if not ln.startswith("* CREATED"))
        for who, text in (("kadr", to_edl(sl)), ("PySceneDetect", psd_text)):
            tl = otio.adapters.read_from_string(text, "cmx_3600", rate=float(fps), ignore_timecode_mismatch=True)
            got = [c.source_range.start_time.to_frames() for c in tl.tracks[0].find_clips()]
            res[who] = sum(g == a for g, (a, _) in zip(got, pairs)) / len(pairs)
        for who, text in (("kadr", otio_json(sl)), ("PySceneDetect", None)):
            if text is None:
                buf = io.StringIO()
                write_scene_list_otio(buf, psd, "/tmp/x.mp4", fps, audio=False)
                text = buf.getvalue()
            tl = otio.adapters.read_from_string(text, "otio_json")
            got = [round(c.source_range.start_time.to_seconds() * float(fps)) for c in tl.tracks[0].find_clips()]
            res[who + " otio"] = sum(g == a for g, (a, _) in zip(got, pairs)) / len(pairs)
        rows.append([f"{float(fps):.3f}", len(pairs), res["kadr"], res["PySceneDetect"], res["kadr otio"],
                     res["PySceneDetect otio"]])
    return markdown_table(["fps", "events", "kadr EDL exact", "PySceneDetect EDL exact", "kadr OTIO exact",
                           "PySceneDetect OTIO exact"], rows)


def count_frames(p: Path) -> int:
    with VideoReader(p) as r:
        return sum(1 for _ in r)


def bench_split() -> str:
    from scenedetect import FrameTimecode
    from scenedetect.output import split_video_ffmpeg

    truth = json.loads((SHARED_VIDEO / "ground_truth.json").read_text())
    rows = []
    for name, info in truth.items():
        if name.startswith("_"):
            continue
        path = SHARED_VIDEO / name
        if name == "testvideo.mp4":
            continue  # 720 frames of 720p re-encoded three times: minutes on the shared CPU
        with VideoReader(path) as r:
            fps, frames, rate = float(r.fps), len(r.pts_table()), r.stream.average_rate
        shots, trans, _ = gt_shots(info, fps, frames)
        sl = ShotList(str(path), fps, frames, shots, trans)
        with tempfile.TemporaryDirectory() as d:
            res = []
            for mode in ("reencode", "copy"):
                t0 = time.perf_counter()
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    outs = split_video(sl, Path(d) / mode, mode=mode)
                dt = time.perf_counter() - t0
                res.append((f"kadr {mode}", sum(count_frames(p) == s.frames for p, s in zip(outs, shots)), dt))
            psd = [(FrameTimecode(s.start_frame, rate), FrameTimecode(s.end_frame, rate)) for s in shots]
            t0 = time.perf_counter()
            split_video_ffmpeg(str(path), psd, output_dir=Path(d) / "psd", show_progress=False)
            dt = time.perf_counter() - t0
            outs = sorted((Path(d) / "psd").glob("*.mp4"))
            res.append(("PySceneDetect split_video_ffmpeg", sum(count_frames(p) == s.frames for p, s in zip(outs, shots)), dt))
        for who, exact, dt in res:
            rows.append([name, who, f"{exact}/{len(shots)}", dt])
    return markdown_table(["clip", "splitter", "pieces with the exact frame count", "seconds"], rows)


def main() -> None:
    lines: list[str] = []
    bench_keyframes(lines)
    tc = bench_timecodes()
    sp = bench_split()
    text = "\n".join([
        "# Keyframes and exports: kadr vs PySceneDetect", "", machine_line(), "",
        "Produced by `benchmarks/keyframes.py` (method in its docstring). Same run, same shots (ground truth).", "",
        "## Keyframe representativeness", "",
        "Lower distance = every frame of the shot is closer to some keyframe. Sub-scenes: the generated clip's "
        "shots each hold 2-3 photos; on the real clips every shot is one sub-scene.", "",
        lines[0], "", *lines[1:], "",
        "## Timecodes of EDL and OTIO exports (one hour, a boundary every 997 frames)", "", tc, "",
        "## Splitting into one file per shot (ffmpeg)", "", sp, ""])
    write_result("keyframes", text)


if __name__ == "__main__":
    main()
