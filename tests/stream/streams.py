"""Generated streams for the watch tests and benchmark: shots of sample photos, the
reference photo seen once, zoomed and panned (so never pixel-identical to the query)."""

from __future__ import annotations

from pathlib import Path

from kadr.io.synthetic import Join, ShotSpec, render_clip, write_video

#: Photos of the other shots; "camera" (a portrait) is the look-alike of "astronaut".
DISTRACTORS = ("coffee", "rocket", "camera", "brick", "hubble_deep_field", "coins")


def watch_stream(path: str | Path, *, reference: str = "astronaut", size: tuple[int, int] = (640, 360),
                 fps: float = 25.0, shot_frames: int = 40, position: int = 2, seed: int = 0,
                 crf: int = 23) -> dict:
    """Write a clip of ``len(DISTRACTORS)`` + 1 shots joined by cuts, the reference shot at
    ``position`` (zoom 1.3→1.7, panned). Returns {"start", "end", "frames", "fps"} of the
    reference appearance (seconds, end exclusive)."""
    others = [d for d in DISTRACTORS if d != reference]
    shots = [ShotSpec(p, shot_frames, zoom=(1.0, 1.15), pan=(0.3, -0.2)) for p in others]
    shots.insert(position, ShotSpec(reference, shot_frames, zoom=(1.3, 1.7), pan=(0.7, -0.5)))
    frames, truth = render_clip(shots, [Join("cut")] * (len(shots) - 1), size=size, seed=seed)
    write_video(frames, path, fps=fps, crf=crf)
    start = position * shot_frames
    return {"start": start / fps, "end": (start + shot_frames) / fps, "frames": truth.frames, "fps": fps}
