"""``probe``: what is in a media file (codec, size, rotation, rates, VFR, counts)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from kadr.io.video import VideoReader


@dataclass
class ProbeResult:
    path: str
    container: str
    codec: str
    pix_fmt: str | None
    width: int           # display width (rotation applied)
    height: int
    coded_width: int
    coded_height: int
    rotation: int        # degrees counter-clockwise
    avg_fps: float | None
    real_fps: float | None   # the codec's base rate (r_frame_rate)
    vfr: bool
    frame_count: int | None  # counted from packets (exact) unless header_only
    header_frame_count: int | None
    duration: float | None   # seconds
    bit_rate: int | None
    has_audio: bool
    audio_codec: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_vfr(pts: list[int]) -> bool:
    """VFR if frame durations vary by more than 10 % of the median (ignoring the last)."""
    if len(pts) < 3:
        return False
    d = np.diff(np.asarray(pts, dtype=np.float64))
    d = d[d > 0]
    if d.size < 2:
        return False
    med = float(np.median(d))
    return bool(np.any(np.abs(d - med) > 0.1 * med + 1))


def probe(path: str, *, header_only: bool = False) -> ProbeResult:
    """Describe a video. By default counts frames exactly with a demux-only pass (fast,
    no decoding); ``header_only=True`` trusts the container header instead."""
    with VideoReader(path) as r:
        s = r.stream
        ctx = s.codec_context
        audio = r._container.streams.audio
        table = None if (header_only or r.is_live) else r.pts_table()
        base = s.base_rate or s.guessed_rate
        return ProbeResult(
            path=r.name,
            container=r._container.format.name,
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt,
            width=r.width,
            height=r.height,
            coded_width=ctx.width,
            coded_height=ctx.height,
            rotation=r.rotation,
            avg_fps=round(r.fps, 4) if r.fps else None,
            real_fps=round(float(base), 4) if base else None,
            vfr=_is_vfr(table) if table is not None else False,
            frame_count=len(table) if table is not None else r.frame_count,
            header_frame_count=r.frame_count,
            duration=round(r.duration, 4) if r.duration else None,
            bit_rate=int(r._container.bit_rate) if r._container.bit_rate else None,
            has_audio=bool(audio),
            audio_codec=audio[0].codec_context.name if audio else None,
        )
