"""Time formatting and parsing: seconds ↔ ``HH:MM:SS.mmm``, frame counts → SMPTE timecode
``HH:MM:SS:FF`` (drop-frame ``HH:MM:SS;FF`` at 29.97/59.94 fps: SMPTE ST 12-1 skips frame
numbers 0 and 1 — 0..3 at 59.94 — at the start of every minute except minutes divisible by
ten), and frame references ``clip.mp4@#N`` / ``clip.mp4@12.5s``. The one timecode module."""

from __future__ import annotations

import re

from kadr._checks import check_positive
from kadr.errors import InputError


def format_time(seconds: float, *, precision: int = 3) -> str:
    """``3725.5`` → ``"01:02:05.500"``."""
    if seconds < 0:
        raise InputError(f"time must be >= 0, got {seconds}")
    ms_total = round(seconds * 10**precision)
    whole, frac = divmod(ms_total, 10**precision)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}" + (f".{frac:0{precision}d}" if precision else "")


def is_drop_frame_rate(fps: float) -> bool:
    """True for the NTSC rates 30000/1001 and 60000/1001 (where drop-frame timecode applies)."""
    return any(abs(fps - n * 1000 / 1001) < 0.005 for n in (30, 60))


def timecode(frames: int, fps: float, *, drop_frame: bool | None = None) -> str:
    """SMPTE timecode ``HH:MM:SS:FF`` (``HH:MM:SS;FF`` for drop-frame) of a frame count.

    Drop-frame (default on 29.97/59.94) drops ``d`` = 2 (4 at 59.94) frame numbers per
    minute except every tenth minute. With ``B = frames // F10`` (F10 = frames in ten
    minutes) and ``M = frames % F10``, the displayed count is
    ``frames + 9·d·B + d·((M − d) // (F1 − d))`` when ``M > d`` (F1 = nominal·60), then
    split like non-drop-frame timecode at the nominal integer rate."""
    if int(frames) != frames or frames < 0:
        raise InputError(f"frame count must be an integer >= 0, got {frames!r}")
    check_positive(fps, "fps")
    frames = int(frames)
    nominal = int(round(fps))
    if drop_frame is None:
        drop_frame = is_drop_frame_rate(fps)
    sep = ":"
    if drop_frame:
        if nominal not in (30, 60):
            raise InputError(f"drop-frame timecode exists only for 29.97 and 59.94 fps, not {fps:g}")
        d = nominal // 15                      # 2 at 29.97, 4 at 59.94
        per_min = nominal * 60 - d             # frames in a minute that drops
        per_10min = nominal * 600 - 9 * d      # frames in ten minutes
        blocks, rem = divmod(frames, per_10min)
        frames += 9 * d * blocks + (d * ((rem - d) // per_min) if rem > d else 0)
        sep = ";"
    ff = frames % nominal
    secs = frames // nominal
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    return f"{h % 24:02d}:{m:02d}:{s:02d}{sep}{ff:02d}"


def time_to_frames(seconds: float, fps: float) -> int:
    """PTS time → frame position at ``fps`` (rounded): the timecode frame of a VFR moment."""
    return int(round(float(seconds) * float(fps)))


def format_smpte(frame: int, fps: float) -> str:
    """Deprecated: :func:`timecode` with ``drop_frame=False`` (kept for one release)."""
    from kadr._compat import warn_renamed

    warn_renamed("format_smpte(frame, fps)", "timecode(frame, fps, drop_frame=False)")
    return timecode(frame, fps, drop_frame=False)


_HMS = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$")


def parse_time(text: str) -> float:
    """``"12.5"``, ``"12.5s"``, ``"01:02.5"``, ``"1:02:03.25"`` → seconds."""
    t = str(text).strip().lower()
    if t.endswith("s") and not t.endswith("ms"):
        t = t[:-1]
    try:
        v = float(t)
        if v < 0:
            raise ValueError
        return v
    except ValueError:
        pass
    m = _HMS.match(t)
    if not m:
        raise InputError(f"cannot read time {text!r}; use seconds (12.5) or HH:MM:SS.mmm")
    h, mi, s = m.groups()
    return int(h or 0) * 3600 + int(mi) * 60 + float(s)


def split_frame_ref(ref: str) -> tuple[str, str, float | int] | None:
    """``"clip.mp4@12.5s"`` → ``("clip.mp4", "time", 12.5)``; ``"clip.mp4@#300"`` →
    ``("clip.mp4", "frame", 300)``; anything without ``@`` → None."""
    if "@" not in ref:
        return None
    path, _, where = ref.rpartition("@")
    if not path:
        return None
    if where.startswith("#"):
        try:
            n = int(where[1:])
        except ValueError:
            raise InputError(f"bad frame reference {ref!r}; use clip.mp4@#300 for frame 300") from None
        if n < 0:
            raise InputError(f"frame index must be >= 0 in {ref!r}")
        return path, "frame", n
    return path, "time", parse_time(where)
