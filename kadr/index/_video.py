"""Video → shot keyframes for indexing (kadr.video.shots + kadr.video.keyframes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kadr.errors import DecodeError
from kadr.video.keyframes import pick_keyframes
from kadr.video.shots import detect_shots


def keyframe_items(path: Path, item_cls: Any, size: int) -> list:
    """One item per keyframe of every shot (``kind="keyframe"``, with its shot index)."""
    from kadr.io.video import VideoReader

    det = detect_shots(str(path), progress=False)
    picked = pick_keyframes(str(path), det.shots, transitions=det.transitions, analysis_size=size, progress=False)
    with VideoReader(path) as r:
        w, h = r.width, r.height
    items = [item_cls("keyframe", img, w, h, int(kf.frame), float(kf.time), int(sk.shot.index),
                      float(sk.shot.end_time - sk.shot.start_time))
             for sk in picked for kf, img in zip(sk.keyframes, sk.thumbnails)]
    if not items:
        raise DecodeError(f"{path} has no decodable frames")
    return items
