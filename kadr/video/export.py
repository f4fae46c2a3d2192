"""Exports of a shot list the way editors and pipelines use it: CSV, CMX3600 EDL,
OpenTimelineIO (.otio), one file per shot with ffmpeg, and a thumbnail per shot.

Timecodes are frame-exact and VFR-correct: a shot boundary's timecode is its PTS time
times the stream's frame rate, rounded to a frame (on constant-frame-rate video that is
the frame index itself); 29.97 and 59.94 fps use drop-frame timecode. The timecode
arithmetic lives in :mod:`kadr.io.timecode`.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kadr._checks import check_file, check_positive
from kadr.errors import ExternalToolError, InputError, OutputError
from kadr.io.timecode import is_drop_frame_rate, time_to_frames, timecode
from kadr.video.types import Shot, Transition

#: what --split does: "copy" (fast, lossless, boundaries snap to key frames) or "reencode" (frame-exact)
SPLIT_MODES = ("copy", "reencode")


# ---- the shot list --------------------------------------------------------------------

@dataclass
class ShotList:
    """What the exports need: the video, its rate and frame count, shots and transitions."""

    video: str
    fps: float
    frames: int
    shots: list[Shot]
    transitions: list[Transition]
    detector: str = ""
    #: frame rate of the timecodes (CSV/EDL/OTIO); None = ``fps``. For variable-frame-rate video
    #: give the codec's base rate (``probe(...).real_fps``, e.g. 25): an editor conforms the file
    #: to a standard constant rate, and a boundary's timecode is its PTS time at that rate.
    timecode_fps: float | None = None

    @property
    def rate(self) -> float:
        """The rate timecodes are counted at."""
        return float(self.timecode_fps or self.fps)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ShotList":
        """From the JSON of ``kadr shots --json`` (or ``ShotDetection.to_dict()``)."""
        from kadr.video.types import Keyframe

        try:
            shots = [Shot(s["index"], s["start_frame"], s["end_frame"], s["start_time"], s["end_time"],
                          [Keyframe(**k) for k in s.get("keyframes", [])]) for s in d["shots"]]
            trans = [Transition(**t) for t in d.get("transitions", [])]
            return cls(str(d["video"]), float(d["fps"]), int(d["frames"]), shots, trans, str(d.get("detector", "")),
                       d.get("timecode_fps"))
        except (KeyError, TypeError) as exc:
            raise InputError(f"not a kadr shot list ({exc}); give the JSON written by `kadr shots --json`") from None

    @classmethod
    def from_detection(cls, det: Any) -> "ShotList":
        """From a ``ShotDetection`` object (anything with ``to_dict()`` in the shots JSON format)."""
        d = det.to_dict() if hasattr(det, "to_dict") else det
        sl = cls.from_dict(d)
        if hasattr(det, "shots"):
            sl.shots = list(det.shots)  # keep the same objects so filled keyframes show everywhere
        return sl

    def to_dict(self) -> dict[str, Any]:
        d = {"video": self.video, "fps": self.fps, "frames": self.frames, "detector": self.detector,
             "transitions": [t.to_dict() for t in self.transitions], "shots": [s.to_dict() for s in self.shots]}
        if self.timecode_fps:
            d["timecode_fps"] = self.timecode_fps
        return d

    def check(self) -> None:
        if not self.fps or self.fps <= 0:
            raise InputError(f"the shot list of {self.video} has no frame rate; exports need one")


def _shot_frames(shot: Shot, fps: float) -> tuple[int, int]:
    """Timecode frames (in, out exclusive) of a shot, from its PTS times; never empty."""
    a = time_to_frames(shot.start_time, fps)
    b = max(a + 1, time_to_frames(shot.end_time, fps))
    return a, b


def to_csv(sl: ShotList, *, drop_frame: bool | None = None) -> str:
    """One row per shot: index, frames (end exclusive), times (s), timecodes, keyframe frames."""
    sl.check()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["shot", "start_frame", "end_frame", "frames", "start_time", "end_time", "duration",
                "start_timecode", "end_timecode", "keyframes"])
    for s in sl.shots:
        a, b = _shot_frames(s, sl.rate)
        w.writerow([s.index, s.start_frame, s.end_frame, s.frames, f"{s.start_time:.6f}", f"{s.end_time:.6f}",
                    f"{s.end_time - s.start_time:.6f}", timecode(a, sl.rate, drop_frame=drop_frame),
                    timecode(b, sl.rate, drop_frame=drop_frame), ";".join(str(k.frame) for k in s.keyframes)])
    return buf.getvalue()


def to_edl(sl: ShotList, *, title: str | None = None, reel: str = "AX", drop_frame: bool | None = None) -> str:
    """CMX3600 EDL: one cut event per shot, source = record timecodes (the shots in order),
    each followed by ``* FROM CLIP NAME:`` and ``* FROM FILE:`` comments."""
    sl.check()
    if drop_frame is None:
        drop_frame = is_drop_frame_rate(sl.rate)
    name = Path(sl.video).name
    reel = (reel or "AX")[:8]
    lines = [f"TITLE: {title or Path(sl.video).stem}", f"FCM: {'DROP FRAME' if drop_frame else 'NON-DROP FRAME'}", ""]
    for n, s in enumerate(sl.shots, start=1):
        a, b = _shot_frames(s, sl.rate)
        tin, tout = timecode(a, sl.rate, drop_frame=drop_frame), timecode(b, sl.rate, drop_frame=drop_frame)
        lines.append(f"{n:03d}  {reel:<8} V     C        {tin} {tout} {tin} {tout}")
        lines.append(f"* FROM CLIP NAME: {name}")
        lines.append(f"* FROM FILE: {os.path.abspath(sl.video)}")
        lines.append("")
    return "\n".join(lines)


def to_otio(sl: ShotList, *, name: str | None = None) -> Any:
    """An ``opentimelineio.schema.Timeline``: one video track, one clip per shot (source range
    in frames at the video's rate, media = the video file), transitions as track markers,
    keyframes and detector scores in ``metadata["kadr"]``."""
    try:
        import opentimelineio as otio
    except ImportError:
        from kadr.errors import missing_backend

        raise missing_backend("opentimelineio") from None
    sl.check()
    rate = sl.rate
    url = Path(sl.video).resolve().as_uri() if not str(sl.video).startswith(("-", "rtsp:", "http")) else str(sl.video)
    rt = otio.opentime.RationalTime
    tr = otio.opentime.TimeRange
    end = max([_shot_frames(s, rate)[1] for s in sl.shots] + [sl.frames])
    timeline = otio.schema.Timeline(name=name or Path(sl.video).stem)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    pos = 0
    for s in sl.shots:
        a, b = _shot_frames(s, rate)
        if a > pos:
            track.append(otio.schema.Gap(source_range=tr(rt(0, rate), rt(a - pos, rate))))
        ref = otio.schema.ExternalReference(target_url=url, available_range=tr(rt(0, rate), rt(end, rate)))
        clip = otio.schema.Clip(name=f"shot {s.index}", media_reference=ref,
                                source_range=tr(rt(a, rate), rt(b - a, rate)))
        clip.metadata["kadr"] = {"shot": s.index, "start_frame": s.start_frame, "end_frame": s.end_frame,
                                 "keyframes": [k.to_dict() for k in s.keyframes]}
        track.append(clip)
        pos = b
    for t in sl.transitions:
        a = time_to_frames(t.start_time, rate)
        b = time_to_frames(t.end_time, rate)
        m = otio.schema.Marker(name=t.type, marked_range=tr(rt(a, rate), rt(max(0, b - a), rate)),
                               color=otio.schema.MarkerColor.RED if t.type == "cut" else otio.schema.MarkerColor.YELLOW)
        m.metadata["kadr"] = t.to_dict()
        track.markers.append(m)
    return timeline


def otio_json(sl: ShotList, **kw: Any) -> str:
    import opentimelineio as otio

    return otio.adapters.write_to_string(to_otio(sl, **kw), "otio_json")


def write_text(text: str, path: str | os.PathLike) -> Path:
    """UTF-8 ``text`` to ``path``, atomically (temp file, then rename); OutputError on failure."""
    from kadr._checks import write_text_atomic

    return write_text_atomic(text, path)


# ---- splitting with ffmpeg -----------------------------------------------------------

def find_ffmpeg(ffmpeg: str | None = None) -> str:
    """Path of the ffmpeg program or an ExternalToolError that says how to get it."""
    exe = shutil.which(ffmpeg or "ffmpeg")
    if exe is None:
        where = f"{ffmpeg!r} was not found" if ffmpeg else "the ffmpeg program is not on PATH"
        raise ExternalToolError(f"splitting needs ffmpeg, but {where}; install it (Debian/Ubuntu: "
                                "`sudo apt-get install ffmpeg`, macOS: `brew install ffmpeg`, Windows: "
                                "`winget install ffmpeg`) or pass its path with --ffmpeg")
    return exe


def split_commands(sl: ShotList, out_dir: str | os.PathLike, *, mode: str = "copy", ffmpeg: str = "ffmpeg",
                   crf: int = 18) -> list[tuple[Path, list[str]]]:
    """The ffmpeg command line for every shot → ``shot0001.<ext>`` in ``out_dir``.

    ``copy``: input seek + stream copy (fast, lossless; each piece starts at the key frame
    at or before the boundary, so it may begin a little early). ``reencode``: input seek
    (frame-accurate: ffmpeg decodes from the previous key frame and drops frames before the
    start) + exactly the shot's number of frames, H.264 CRF ``crf`` and AAC audio."""
    if mode not in SPLIT_MODES:
        raise InputError(f"split mode must be one of {', '.join(SPLIT_MODES)}; got {mode!r}")
    sl.check()
    ext = Path(sl.video).suffix or ".mp4"
    if mode == "reencode" and ext.lower() not in (".mp4", ".mov", ".mkv", ".m4v"):
        ext = ".mp4"
    half = 0.25 / sl.fps  # seek a quarter frame early: float rounding never drops the first frame
    cmds = []
    for s in sl.shots:
        out = Path(out_dir) / f"shot{s.index:04d}{ext}"
        ss = max(0.0, s.start_time - half)
        dur = max(s.end_time - s.start_time, 1.0 / sl.fps)
        cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-ss", f"{ss:.6f}", "-i", sl.video]
        if mode == "copy":
            cmd += ["-t", f"{dur:.6f}", "-map", "0:v:0", "-map", "0:a?", "-c", "copy", "-avoid_negative_ts", "make_zero"]
        else:
            cmd += ["-frames:v", str(max(1, s.frames)), "-t", f"{dur + half:.6f}", "-map", "0:v:0", "-map", "0:a?",
                    "-c:v", "libx264", "-crf", str(crf), "-preset", "veryfast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac"]
        cmds.append((out, cmd + [str(out)]))
    return cmds


def key_frame_times(video: str) -> list[float]:
    """Times (s from the stream start, like kadr's frame times) of the codec key frames,
    from a demux-only pass (no decoding)."""
    import av

    with av.open(video) as c:
        st = c.streams.video[0]
        tb = float(st.time_base)
        pts = sorted(p.pts for p in c.demux(st) if p.pts is not None and p.is_keyframe)
    start = st.start_time if st.start_time is not None else (pts[0] if pts else 0)
    return [(p - start) * tb for p in pts]


def _warn_off_keyframe(sl: ShotList) -> None:
    """Stream copy can only start a piece at a key frame: say how far off the boundaries are."""
    import bisect
    import warnings

    from kadr.errors import KadrWarning

    import av

    try:
        keys = key_frame_times(sl.video)
    except (av.error.FFmpegError, OSError, IndexError) as exc:  # no key frame table: say so, split anyway
        warnings.warn(f"cannot list the key frames of {sl.video} ({type(exc).__name__}: {exc}); stream copy "
                      "may start pieces before their boundaries", KadrWarning, stacklevel=3)
        return
    tol = 0.5 / sl.fps
    early = []
    for s in sl.shots[1:]:
        i = bisect.bisect_right(keys, s.start_time + tol) - 1
        if i < 0 or s.start_time - keys[i] > tol:
            early.append(s.start_time - (keys[i] if i >= 0 else 0.0))
    if early:
        warnings.warn(f"{len(early)} of {len(sl.shots) - 1} shot boundaries are not on key frames: with stream "
                      f"copy those pieces start up to {max(early):.2f} s early (at the previous key frame); "
                      "use --split-mode reencode for frame-exact pieces", KadrWarning, stacklevel=2)


def split_video(sl: ShotList, out_dir: str | os.PathLike, *, mode: str = "copy", ffmpeg: str | None = None,
                crf: int = 18) -> list[Path]:
    """Write one file per shot with ffmpeg (see :func:`split_commands`). Returns the paths."""
    from kadr.video.keyframes import prepare_dir

    exe = find_ffmpeg(ffmpeg)
    check_file(sl.video, what="video")
    out = prepare_dir(out_dir)
    if mode == "copy":
        _warn_off_keyframe(sl)
    paths = []
    for path, cmd in split_commands(sl, out, mode=mode, ffmpeg=exe, crf=crf):
        try:
            res = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as exc:
            raise ExternalToolError(f"cannot run {exe}: {exc}; check the ffmpeg installation") from None
        if res.returncode != 0:
            msg = (res.stderr or "").strip().splitlines()
            raise ExternalToolError(f"ffmpeg failed on {path.name} (exit {res.returncode}): "
                                    f"{msg[-1] if msg else 'no message'}; try --split-mode reencode")
        paths.append(path)
    return paths


# ---- thumbnails ------------------------------------------------------------------------

def write_thumbnails(sl: ShotList, out_dir: str | os.PathLike, *, size: int = 320, encoder: Any = None,
                     options: Any = None) -> list[Path]:
    """One image per shot — its most representative frame (see :mod:`kadr.video.keyframes`,
    one keyframe per shot) — scaled to ``size`` px on the longest side, as
    ``shot0003_f000123.jpg`` in ``out_dir``. Fills the shots' keyframes. Returns the paths."""
    import dataclasses

    from kadr.video.keyframes import KeyframeOptions, pick_keyframes

    check_positive(size, "thumbnail size")
    opts = dataclasses.replace(options or KeyframeOptions(), max_per_shot=1)
    res = pick_keyframes(sl.video, sl.shots, transitions=sl.transitions, encoder=encoder, options=opts,
                         out_dir=out_dir, max_side=int(size))
    return [Path(k.path) for r in res for k in r.keyframes if k.path]


def write_exports(sl: ShotList, *, csv_path: str | None = None, edl_path: str | None = None,
                  otio_path: str | None = None) -> dict[str, str]:
    """Write the requested text exports; returns {format: path}."""
    done = {}
    for fmt, path, fn in (("csv", csv_path, to_csv), ("edl", edl_path, to_edl), ("otio", otio_path, otio_json)):
        if path:
            done[fmt] = str(write_text(fn(sl), path))
    return done


__all__ = ["ShotList", "timecode", "time_to_frames", "is_drop_frame_rate", "to_csv", "to_edl", "to_otio",
           "otio_json", "split_commands", "split_video", "find_ffmpeg", "write_thumbnails", "write_exports",
           "SPLIT_MODES"]
