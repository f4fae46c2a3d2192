"""Classify what the user typed as a video source: file, pipe, network URL or device."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kadr._checks import check_file
from kadr.errors import UnsupportedSourceError

#: URL schemes opened as live network streams, with the FFmpeg options kadr sets for each.
NETWORK_SCHEMES: dict[str, dict[str, str]] = {
    "rtsp": {"rtsp_transport": "tcp", "timeout": "10000000"},
    "rtsps": {"rtsp_transport": "tcp", "timeout": "10000000"},
    "rtmp": {},
    "http": {"reconnect": "1", "reconnect_streamed": "1", "rw_timeout": "10000000"},
    "https": {"reconnect": "1", "reconnect_streamed": "1", "rw_timeout": "10000000"},
    "udp": {"timeout": "10000000"},
    "tcp": {"timeout": "10000000"},
    "srt": {},
}

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*)://")


@dataclass(frozen=True)
class Source:
    """A resolved source. ``kind`` is ``file`` | ``pipe`` | ``url`` | ``device``."""

    kind: str
    target: Any  # path string, URL, or a binary file object for pipes
    name: str
    format: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def is_live(self) -> bool:
        """Live sources cannot seek and have no known length."""
        return self.kind != "file"


def resolve_source(src: Any, *, stdin: Any = None) -> Source:
    """Resolve ``src`` into a :class:`Source`.

    * ``"-"``: encoded video on standard input (a pipe), e.g. ``ffmpeg ... -f mpegts - | kadr watch -``.
    * ``rtsp://``, ``rtsps://``, ``rtmp://``, ``http(s)://``, ``udp://``, ``tcp://``, ``srt://``: network streams.
    * ``/dev/videoN`` or ``webcam:N``: a V4L2 webcam (Linux).
    * ``file://PATH`` or a plain path: a file (must exist and be non-empty).
    * A binary file object (``read()``): read as a pipe.
    """
    if hasattr(src, "read"):
        return Source("pipe", src, getattr(src, "name", "<stream>") if isinstance(getattr(src, "name", None), str) else "<stream>")
    s = os.fspath(src) if isinstance(src, os.PathLike) else src
    if not isinstance(s, str):
        raise UnsupportedSourceError(f"cannot open a video from {type(src).__name__}; give a path, URL, '-' or a device")
    if s == "-":
        return Source("pipe", stdin if stdin is not None else sys.stdin.buffer, "<stdin>")
    m = _SCHEME.match(s)
    if m:
        scheme = m.group(1).lower()
        if scheme == "file":
            s = s[len("file://"):]
        elif scheme in NETWORK_SCHEMES:
            return Source("url", s, s, None, dict(NETWORK_SCHEMES[scheme]))
        else:
            raise UnsupportedSourceError(
                f"unsupported URL scheme {scheme!r} in {s!r}; kadr opens files, '-' (stdin), "
                f"{', '.join(s2 + '://' for s2 in NETWORK_SCHEMES)}, /dev/videoN and webcam:N"
            )
    wm = re.fullmatch(r"webcam:(\d+)", s)
    if wm:
        s = f"/dev/video{wm.group(1)}"
    if re.fullmatch(r"/dev/video\d+", s):
        if not Path(s).exists():
            raise UnsupportedSourceError(f"webcam {s} does not exist; list devices with `ls /dev/video*`")
        return Source("device", s, s, "v4l2", {})
    path = check_file(s, what="video")
    return Source("file", str(path), str(path))
