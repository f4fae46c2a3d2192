"""Descriptions of a video's keyframes: shots → keyframes → a caption or a measured description each.

The measured description (:mod:`kadr.features.describe`) of a keyframe also carries its shot's
length and the motion measured inside the shot:

* camera motion — the global translation between consecutive samples of the shot
  (:data:`MOTION_SAMPLES` frames evenly spread, grey, 160 px wide), found by phase correlation
  (Kuglin & Hines 1975; ``cv2.phaseCorrelate``), summed over the shot and expressed as a
  fraction of the frame width per second: ``pans left/right``, ``tilts up/down`` when it is
  above :data:`PAN_MIN` (5 % of the frame per second), else ``static camera``;
* object motion — the mean absolute grey difference between consecutive samples after undoing
  that translation (0..1): ``moving subject`` above :data:`OBJECT_MIN`, else ``still subject``.

Both bounds are defined by what they mean (a twentieth of the frame per second is a slow
pan; a 3 % mean grey change is visible motion), not tuned on benchmark clips.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

#: Frames sampled per shot for the motion measures.
MOTION_SAMPLES = 8
#: Camera translation (fraction of frame width or height per second) below which the camera is "static".
PAN_MIN = 0.05
#: Mean absolute grey difference (0..1) after alignment above which the subject is "moving".
OBJECT_MIN = 0.03


def shot_motion(frames: list[np.ndarray], seconds: float) -> dict[str, Any]:
    """Camera and object motion of one shot from its evenly spaced grey samples (H, W) uint8."""
    import cv2

    if len(frames) < 2 or seconds <= 0:
        return {"camera": "static camera", "object": "still subject", "pan_x": 0.0, "pan_y": 0.0, "residual": 0.0}
    h, w = frames[0].shape
    dx = dy = 0.0
    residual = []
    win = cv2.createHanningWindow((w, h), cv2.CV_32F)
    for a, b in zip(frames, frames[1:]):
        fa, fb = a.astype(np.float32), b.astype(np.float32)
        (sx, sy), _ = cv2.phaseCorrelate(fa, fb, win)
        dx, dy = dx + sx, dy + sy
        m = np.float32([[1, 0, -sx], [0, 1, -sy]])
        back = cv2.warpAffine(fb, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        c = (slice(h // 10, h - h // 10), slice(w // 10, w - w // 10))
        residual.append(float(np.abs(back[c] - fa[c]).mean() / 255.0))
    px, py = dx / w / seconds, dy / h / seconds
    if max(abs(px), abs(py)) < PAN_MIN:
        cam = "static camera"
    elif abs(px) >= abs(py):
        # content moving right (dx > 0) means the camera turns left
        cam = "camera pans left" if px > 0 else "camera pans right"
    else:
        cam = "camera tilts up" if py > 0 else "camera tilts down"
    res = float(np.mean(residual))
    return {"camera": cam, "object": "moving subject" if res > OBJECT_MIN else "still subject",
            "pan_x": round(px, 4), "pan_y": round(py, 4), "residual": round(res, 4)}


def _samples(path: str | os.PathLike, shots: list) -> dict[int, list[np.ndarray]]:
    """Per shot index :data:`MOTION_SAMPLES` grey frames (160 px wide), in one decode pass."""
    import cv2

    from kadr.io.video import VideoReader

    want: dict[int, int] = {}
    for s in shots:
        n = max(1, s.end_frame - s.start_frame)
        for f in np.linspace(s.start_frame, s.start_frame + n - 1, min(MOTION_SAMPLES, n)).round().astype(int):
            want[int(f)] = s.index
    out: dict[int, list[np.ndarray]] = {s.index: [] for s in shots}
    last = max(want) if want else -1
    with VideoReader(path, analysis_size=160) as r:
        for fr in r:
            if fr.index in want:
                out[want[fr.index]].append(cv2.cvtColor(fr.analysis_image, cv2.COLOR_RGB2GRAY))
            if fr.index >= last:
                break
    return out


def describe_video(path: str | os.PathLike, *, describer: Any = None, classifier: Any = None,
                   progress: bool | None = None) -> list[dict[str, Any]]:
    """One entry per keyframe: source, frame, time, shot, kind ("measured" | "caption"), text,
    and for measured descriptions the fields (labels, colours, brightness, shot length, motion)."""
    from kadr import features
    from kadr.features.describe import describe_images
    from kadr.video.keyframes import pick_keyframes
    from kadr.video.shots import detect_shots

    det = detect_shots(str(path), progress=progress)
    picked = pick_keyframes(str(path), det.shots, transitions=det.transitions, analysis_size=448, progress=progress)
    items = [(sk.shot, kf, img) for sk in picked for kf, img in zip(sk.keyframes, sk.thumbnails)]
    images = [img for _, _, img in items]
    out: list[dict[str, Any]] = []
    if describer is not None and getattr(describer, "kind", None) == "caption":
        for (shot, kf, _), text in zip(items, describer.describe(images)):
            out.append({"source": str(path), "frame": int(kf.frame), "time": round(float(kf.time), 3),
                        "shot": int(shot.index), "kind": "caption", "text": text})
        return out
    samples = _samples(path, det.shots)
    motion = {s.index: shot_motion(samples.get(s.index, []), float(s.end_time - s.start_time)) for s in det.shots}
    descs = describe_images(images, classifier or features.get(features.DEFAULT))
    for (shot, kf, _), d in zip(items, descs):
        m = motion[shot.index]
        d.shot_seconds = float(shot.end_time - shot.start_time)
        d.motion = f"{m['camera']}, {m['object']}"
        out.append({"source": str(path), "frame": int(kf.frame), "time": round(float(kf.time), 3),
                    "shot": int(shot.index), "kind": d.kind, "text": d.text(), "fields": {**d.to_dict(), "motion": m}})
    return out
