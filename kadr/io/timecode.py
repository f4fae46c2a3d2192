"""Time formatting and parsing: seconds ↔ ``HH:MM:SS.mmm`` / SMPTE ``HH:MM:SS:FF``; frame refs."""

from __future__ import annotations

import re

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


def format_smpte(frame: int, fps: float) -> str:
    """Non-drop-frame SMPTE timecode ``HH:MM:SS:FF`` of a 0-based frame index at ``fps``
    (rounded to the nominal integer rate, as EDL files expect)."""
    nominal = max(1, round(fps))
    ff = frame % nominal
    secs = frame // nominal
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{ff:02d}"


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
