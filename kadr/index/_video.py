"""Video → shot keyframes for indexing, in one decode pass (kadr.video.keyframes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kadr.errors import DecodeError
from kadr.video.keyframes import detect_shots_and_keyframes


def keyframe_items(path: Path, item_cls: Any, size: int) -> list:
    """One item per keyframe of every shot (``kind="keyframe"``, with its shot index)."""
    _, picked, passes = detect_shots_and_keyframes(str(path), analysis_size=size, progress=False)
    if passes.frame_size is None:
        raise DecodeError(f"{path} has no decodable frames")
    w, h = passes.frame_size
    items = [item_cls("keyframe", img, w, h, int(kf.frame), float(kf.time), int(sk.shot.index),
                      float(sk.shot.end_time - sk.shot.start_time))
             for sk in picked for kf, img in zip(sk.keyframes, sk.thumbnails)]
    if not items:
        raise DecodeError(f"{path} has no decodable frames")
    return items
