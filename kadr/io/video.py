"""Video decoding on PyAV: one reader for files, pipes, network streams and webcams.

``VideoReader`` yields :class:`Frame` objects in presentation order with

* ``index`` — 0-based position among decoded frames (the convention of kadr's ground truth),
* ``pts`` — the presentation timestamp in stream time-base units,
* ``time`` — seconds from the stream start computed **from the PTS** (correct on VFR),
* ``image`` — RGB ``uint8`` HxWx3, display rotation applied (converted lazily),
* ``analysis_image`` — the same frame scaled down by swscale for fast analysis.

Broken packets are skipped and counted (``reader.stats``); a truncated file is decoded
as far as it goes and a :class:`~kadr.errors.KadrWarning` states how many frames were lost.
"""

from __future__ import annotations

import bisect
import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterator

import numpy as np

from kadr._checks import check_positive
from kadr._options import opt
from kadr.errors import DecodeError, InputError, KadrWarning, NoVideoStreamError, UnsupportedSourceError
from kadr.io.sources import Source, resolve_source

#: Longest side (px) of the downscaled frames kadr analyses by default (``--analysis-size``):
#: keyframe comparison, labels, per-frame statistics. 256 px keeps the scene content the
#: encoders see (EfficientNet-Lite0 takes 224 px) while swscale stays cheap (~2 ms/frame at 720p).
DEFAULT_ANALYSIS_SIZE = 256
#: Frame rate assumed when a stream states none (raw pipes, some webcams): 25 fps, the PAL
#: video rate, which is also FFmpeg's own fallback for rawvideo/mjpeg inputs.
FALLBACK_FPS = 25.0


def _fit_size(width: int, height: int, size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """Target (w, h): ``size`` int = longest side (aspect kept, even dims), tuple = exact."""
    if size is None:
        return None
    if isinstance(size, (tuple, list)):
        w, h = int(size[0]), int(size[1])
    else:
        s = int(size)
        scale = s / max(width, height)
        if scale >= 1:
            return None
        w, h = width * scale, height * scale
        w, h = max(2, int(round(w / 2)) * 2), max(2, int(round(h / 2)) * 2)
    if w <= 0 or h <= 0:
        raise InputError(f"analysis size must be positive, got {size!r}")
    return (w, h)


def _rotate(arr: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate by the display matrix angle (degrees counter-clockwise, as FFmpeg reports it)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(arr, k)) if k else arr


class _Scaler:
    """One swscale context per reader, reused for every frame (PyAV's ``frame.reformat``
    builds a new context per call, which cost more than the conversion itself: 700 vs 460
    frames/s at 720p → 256 px here). A lock makes it safe for frames converted in worker
    threads."""

    def __init__(self) -> None:
        import threading

        from av.video.reformatter import VideoReformatter

        self._reformatter = VideoReformatter()
        self._lock = threading.Lock()

    def convert(self, frame: Any, width: int | None = None, height: int | None = None) -> np.ndarray:
        """RGB uint8 array of ``frame``, scaled with the area filter when a size is given."""
        with self._lock:
            if width is None:
                out = self._reformatter.reformat(frame, format="rgb24")
            else:
                out = self._reformatter.reformat(frame, width=width, height=height, format="rgb24",
                                                 interpolation="AREA")
            return out.to_ndarray()


class Frame:
    """One decoded frame. Pixel conversion happens on first access of ``image`` /
    ``analysis_image``, so frames that are only counted or skipped cost no conversion."""

    __slots__ = ("index", "pts", "time", "key_frame", "rotation", "_av", "_analysis_size", "_scaler", "__dict__")

    def __init__(self, index: int, pts: int | None, time: float, *, av_frame: Any = None,
                 image: np.ndarray | None = None, rotation: int = 0, key_frame: bool = False,
                 analysis_size: tuple[int, int] | None = None, scaler: "_Scaler | None" = None):
        self.index = index
        self.pts = pts
        self.time = time
        self.key_frame = key_frame
        self.rotation = rotation
        self._av = av_frame
        self._analysis_size = analysis_size
        self._scaler = scaler
        if image is not None:
            self.__dict__["image"] = image

    @classmethod
    def from_array(cls, image: np.ndarray, index: int, time: float, *, pts: int | None = None,
                   analysis_size: int | tuple[int, int] | None = None) -> "Frame":
        """A frame from an RGB array (synthetic media, tests, other decoders)."""
        size = _fit_size(image.shape[1], image.shape[0], analysis_size)
        return cls(index, pts, time, image=image, analysis_size=size)

    @cached_property
    def image(self) -> np.ndarray:
        """Full-size RGB ``uint8`` (H, W, 3), rotation applied."""
        if self._scaler is not None:
            return _rotate(self._scaler.convert(self._av), self.rotation)
        return _rotate(self._av.to_ndarray(format="rgb24"), self.rotation)

    @cached_property
    def analysis_image(self) -> np.ndarray:
        """RGB ``uint8`` at the reader's analysis size (full size if none was set)."""
        if self._analysis_size is None:
            return self.image
        w, h = self._analysis_size
        if self._av is not None and "image" not in self.__dict__:
            scaler = self._scaler or _Scaler()
            return _rotate(scaler.convert(self._av, w, h), self.rotation)
        import cv2

        img = self.image
        if self.rotation % 180:
            w, h = h, w
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)

    @property
    def height(self) -> int:
        if self._av is not None:
            return self._av.width if self.rotation % 180 else self._av.height
        return self.image.shape[0]

    @property
    def width(self) -> int:
        if self._av is not None:
            return self._av.height if self.rotation % 180 else self._av.width
        return self.image.shape[1]

    @property
    def decoder_frame(self) -> Any:
        """The decoder's own picture (a PyAV ``VideoFrame``, coded orientation, decoder pixel
        format) for consumers that read its planes directly; None for frames made from arrays
        or after :meth:`release`."""
        return self._av

    def is_converted(self, what: str = "image") -> bool:
        """True when ``image`` (or ``analysis_image``) has been converted already, so using it
        costs nothing (public face of the lazy cache; detectors pick their cheapest input by it)."""
        if what not in ("image", "analysis_image"):
            raise InputError(f"what must be 'image' or 'analysis_image', got {what!r}")
        return what in self.__dict__

    def release(self) -> None:
        """Drop the decoder frame (keeps converted images)."""
        self._av = None

    def __repr__(self) -> str:
        return f"Frame(index={self.index}, time={self.time:.3f}, pts={self.pts})"


@dataclass
class Sampling:
    """Which frames to deliver. Only one of ``step`` > 1, ``fps``, ``keyframes_only`` at a time."""

    step: int = opt(1, "deliver every n-th decoded frame")
    fps: float | None = opt(None, "deliver frames at about this rate (by PTS time), e.g. 2")
    keyframes_only: bool = opt(False, "decode and deliver only the codec's key frames (fast skim)")
    start: float | None = opt(None, "start time in seconds")
    end: float | None = opt(None, "stop before this time in seconds")

    def __post_init__(self) -> None:
        if int(self.step) != self.step or self.step < 1:
            raise InputError(f"step must be an integer >= 1, got {self.step!r}")
        if self.fps is not None:
            check_positive(self.fps, "fps")
        modes = (self.step > 1) + (self.fps is not None) + bool(self.keyframes_only)
        if modes > 1:
            raise InputError("choose one sampling mode: step, fps or keyframes_only")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InputError(f"end ({self.end}) must be after start ({self.start})")


@dataclass
class DecodeStats:
    """Counters of one pass: frames decoded/delivered, bad packets skipped, frames lost."""

    decoded: int = 0
    delivered: int = 0
    corrupt_packets: int = 0
    corrupt_frames: int = 0
    expected: int | None = None
    truncated: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        if self.expected is None:
            return self.corrupt_packets
        return max(0, self.expected - self.decoded)


class VideoReader:
    """Read frames from a file, ``-`` (pipe), ``rtsp://``/``http(s)://`` URL or webcam.

    Parameters
    ----------
    source : path, URL, ``"-"``, ``/dev/videoN``/``webcam:N`` or a binary file object.
    analysis_size : int (longest side in pixels, aspect kept) or (w, h); the size of
        ``frame.analysis_image``. ``None`` → full size.
    threads : decoder threads, 0 = automatic (FFmpeg picks per core count).
    fast : skip the codec's in-loop deblocking filter (H.264/HEVC ``skip_loop_filter=all``):
        faster decoding for analysis, at the price of slightly blockier pixels than a
        standard decode. Off by default.
    sampling : a :class:`Sampling` (every n-th frame, target fps, key frames only, time range).

    Use as a context manager or call :meth:`close`. ``len(reader)`` is the frame count
    from the container header (``None`` for live sources / unknown).
    """

    def __init__(self, source: Any, *, analysis_size: int | tuple[int, int] | None = None,
                 threads: int = 0, sampling: Sampling | None = None, options: dict[str, str] | None = None,
                 fast: bool = False):
        import av

        self.source: Source = resolve_source(source)
        self.sampling = sampling or Sampling()
        self._threads = threads
        opts = {**self.source.options, **(options or {})}
        try:
            self._container = av.open(self.source.target, mode="r", format=self.source.format,
                                      options=opts, timeout=None if not self.source.is_live else 30.0)
        except av.error.InvalidDataError:
            raise DecodeError(
                f"{self.source.name} is not a video FFmpeg can read (unknown container, or a corrupt or truncated file)"
            ) from None
        except av.error.FileNotFoundError:
            raise DecodeError(f"cannot open {self.source.name}: not found") from None
        except av.error.ProtocolNotFoundError:
            raise UnsupportedSourceError(f"this FFmpeg build cannot open {self.source.name} (protocol missing)") from None
        except (av.error.FFmpegError, OSError) as exc:
            raise DecodeError(f"cannot open {self.source.name}: {exc}") from None
        if not self._container.streams.video:
            kinds = sorted({s.type for s in self._container.streams}) or ["no streams"]
            self._container.close()
            raise NoVideoStreamError(
                f"{self.source.name} has no video stream (found: {', '.join(kinds)}); give a video file"
            )
        self.stream = self._container.streams.video[0]
        ctx = self.stream.codec_context
        ctx.thread_type = "SLICE" if self.source.is_live else "AUTO"
        ctx.thread_count = threads
        if self.sampling.keyframes_only:
            ctx.skip_frame = "NONKEY"
        if fast:
            ctx.options = {**dict(ctx.options or {}), "skip_loop_filter": "all"}
        tb = self.stream.time_base
        self.time_base = float(tb) if tb else None
        self._start_pts = self.stream.start_time
        # Metadata is read once here: PyAV objects must not be touched after close().
        rate = self.stream.average_rate or self.stream.guessed_rate or self.stream.base_rate
        self._fps = float(rate) if rate else None
        self._coded_size = (ctx.width, ctx.height)
        self._header_frames = int(self.stream.frames) or None
        if self.stream.duration and self.time_base:
            self._duration = self.stream.duration * self.time_base
        elif self._container.duration:
            self._duration = self._container.duration / 1_000_000
        else:
            self._duration = None
        self._closed = False
        self._scaler = _Scaler()
        self._rotation: int | None = None
        self.analysis_size_arg = analysis_size
        self._pts_table: list[int] | None = None
        self._seek_target: tuple[str, float] | None = None
        self.stats = DecodeStats()
        #: errors of the side passes (rotation probe, PTS table) that were recovered from and warned
        self.probe_errors: list[str] = []

    # ---- metadata -------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.source.name

    @property
    def is_live(self) -> bool:
        return self.source.is_live

    @property
    def fps(self) -> float | None:
        """Average frame rate (frames / duration) from the container, else the codec rate."""
        return self._fps

    @property
    def width(self) -> int:
        w, h = self._coded_size
        return h if (self.rotation % 180) else w

    @property
    def height(self) -> int:
        w, h = self._coded_size
        return w if (self.rotation % 180) else h

    @property
    def rotation(self) -> int:
        """Display rotation in degrees counter-clockwise (0, 90, 180, 270)."""
        if self._rotation is None:
            self._rotation = self._probe_rotation()
        return self._rotation

    def _probe_rotation(self) -> int:
        if self.is_live:
            return 0
        import av

        try:
            with av.open(self.source.target) as c:
                f = next(c.decode(video=0), None)
                rot = int(round(getattr(f, "rotation", 0) or 0)) if f is not None else 0
        except av.error.FFmpegError as exc:  # the first frame does not decode: frames come as coded
            self.probe_errors.append(f"rotation: {exc}")
            warnings.warn(f"{self.name}: cannot read the display rotation ({exc}); frames are returned "
                          "as coded, unrotated", KadrWarning, stacklevel=3)
            rot = 0
        return rot % 360

    @property
    def analysis_size(self) -> tuple[int, int] | None:
        """(w, h) of the unrotated coded picture at analysis scale, or None."""
        cw, ch = self._coded_size
        if isinstance(self.analysis_size_arg, (tuple, list)) and self.rotation % 180:
            return _fit_size(cw, ch, (self.analysis_size_arg[1], self.analysis_size_arg[0]))
        return _fit_size(cw, ch, self.analysis_size_arg)

    def __len__(self) -> int:
        n = self.frame_count
        if n is None:
            raise TypeError("frame count unknown (live source)")
        return n

    @property
    def frame_count(self) -> int | None:
        """Frames announced by the container header (None if unknown / live)."""
        if self.is_live:
            return None
        return self._header_frames

    @property
    def duration(self) -> float | None:
        return self._duration

    # ---- pts table (exact frame index ↔ time, VFR-safe) -----------------------------
    def pts_table(self) -> list[int]:
        """Sorted PTS of every frame, from a demux-only pass (no decoding; fast).

        Frame index *i* has PTS ``pts_table()[i]``. Not available for live sources."""
        if self.is_live:
            raise UnsupportedSourceError("a live source has no frame table: it cannot seek")
        if self._pts_table is None:
            import av

            pts: list[int] = []
            with av.open(self.source.target) as c:
                s = c.streams.video[0]
                try:
                    for pkt in c.demux(s):
                        if pkt.size and pkt.pts is not None:
                            pts.append(pkt.pts)
                except av.error.FFmpegError as exc:  # a damaged tail: the table holds what came before it
                    self.probe_errors.append(f"pts table: {exc}")
                    warnings.warn(f"{self.name}: demuxing stopped after {len(pts)} frames ({exc}); frame "
                                  "indices and seeking beyond them are not exact", KadrWarning, stacklevel=3)
            pts.sort()
            self._pts_table = pts
        return self._pts_table

    def time_of(self, pts: int | None, fallback_index: int) -> float:
        if pts is None or self.time_base is None:
            fps = self.fps or FALLBACK_FPS
            return fallback_index / fps
        if self._start_pts is None:
            self._start_pts = pts
        return (pts - self._start_pts) * self.time_base

    # ---- seeking ------------------------------------------------------------------
    def seek(self, *, time: float | None = None, frame: int | None = None) -> "VideoReader":
        """Position the reader so that the next frame iterated is frame ``frame`` or the
        first frame whose time is >= ``time`` seconds. Exact (decodes from the previous key frame)."""
        if (time is None) == (frame is None):
            raise InputError("seek needs exactly one of time= or frame=")
        if self.is_live:
            raise UnsupportedSourceError(f"cannot seek in a live source ({self.name})")
        if frame is not None:
            if int(frame) != frame or frame < 0:
                raise InputError(f"frame must be an integer >= 0, got {frame!r}")
            self._seek_target = ("frame", int(frame))
        else:
            check_positive(time, "time", allow_zero=True)
            self._seek_target = ("time", float(time))
        return self

    def read(self, *, time: float | None = None, frame: int | None = None) -> Frame:
        """Return the single frame at ``frame`` index, or the frame **displayed** at ``time``
        seconds: the last frame whose presentation time is <= ``time`` (a frame stays on
        screen until the next one's PTS; correct on VFR). A time after the last frame's display
        interval (its PTS plus the median frame duration) has no frame."""
        self.seek(time=time, frame=frame)
        n = len(self.pts_table())
        past = (frame is not None and frame >= n) or (time is not None and (not n or time >= self._display_end()))
        if not past:
            if time is not None:
                self._seek_target = ("shown", float(time))
            for f in self._iter(Sampling()):
                return f
        self._seek_target = None
        where = f"frame {frame}" if frame is not None else f"{time} s"
        end = f", {self._display_end():.3f} s long" if n else ""
        raise InputError(f"{self.name} has no frame at {where} (it has {n} frames{end})")

    def _display_end(self) -> float:
        """Seconds at which the last frame leaves the screen: its time + the median frame step."""
        table = self.pts_table()
        step = float(np.median(np.diff(table))) if len(table) > 1 else (1 / (self.fps or 25.0)) / self.time_base
        start = self._start_pts if self._start_pts is not None else table[0]
        return (table[-1] + step - start) * self.time_base

    # ---- iteration ----------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        return self._iter(self.sampling)

    def frames(self, sampling: Sampling | None = None) -> Iterator[Frame]:
        """Iterate with another sampling than the reader's default."""
        return self._iter(sampling or self.sampling)

    def _start(self, sampling: Sampling) -> tuple[int | None, int]:
        """Seek for a pending target / sampling.start. Returns (min pts to keep, first index)."""
        target = self._seek_target
        self._seek_target = None
        if target is None and sampling.start:
            target = ("time", float(sampling.start))
        if target is None:
            return None, 0
        table = self.pts_table()
        if target[0] == "frame":
            if target[1] >= len(table):
                return (table[-1] + 1 if table else 0), len(table)
            idx = target[1]
        elif target[0] == "shown":  # the last frame with PTS <= t (the one on screen at t)
            start = self._start_pts if self._start_pts is not None else (table[0] if table else 0)
            want = start + target[1] / self.time_base
            idx = max(0, bisect.bisect_right(table, want + 1e-6 / self.time_base) - 1)
        else:
            start = self._start_pts or 0
            want = start + target[1] / self.time_base
            idx = bisect.bisect_left(table, math.floor(want - 1e-6 / self.time_base))
            if idx >= len(table):
                return (table[-1] + 1 if table else 0), len(table)
        target_pts = table[idx]
        self._container.seek(target_pts, stream=self.stream, backward=True, any_frame=False)
        self.stream.codec_context.flush_buffers()
        return target_pts, idx

    def _packets(self) -> Iterator[Any]:
        import av

        demux = self._container.demux(self.stream)
        while True:
            try:
                pkt = next(demux)
            except StopIteration:
                return
            except av.error.EOFError:
                return
            except av.error.FFmpegError as exc:
                self.stats.truncated = True
                self.stats.errors.append(f"demux: {exc}")
                return
            yield pkt

    def _decoded(self) -> Iterator[Any]:
        """av frames in presentation order, broken packets skipped and counted."""
        import av

        for pkt in self._packets():
            try:
                out = pkt.decode()
            except av.error.FFmpegError as exc:
                self.stats.corrupt_packets += 1
                if len(self.stats.errors) < 20:
                    self.stats.errors.append(f"packet pts={pkt.pts}: {exc}")
                continue
            for f in out:
                if getattr(f, "is_corrupt", False):
                    self.stats.corrupt_frames += 1
                yield f

    def _iter(self, sampling: Sampling) -> Iterator[Frame]:
        if self._closed:
            raise InputError(f"the reader of {self.name} is closed; open a new VideoReader")
        self.stats = DecodeStats(expected=None if sampling.keyframes_only or sampling.start or self._seek_target
                                 else self.frame_count)
        min_pts, index = self._start(sampling)
        table = self._pts_table if (min_pts is not None or sampling.keyframes_only) else None
        if sampling.keyframes_only and table is None and not self.is_live:
            table = self.pts_table()
        rotation = self.rotation
        asize = self.analysis_size
        next_time = None
        started = min_pts is None
        for avf in self._decoded():
            pts = avf.pts if avf.pts is not None else avf.dts
            if not started:
                if pts is not None and pts < min_pts:
                    continue
                started = True
            if table is not None and pts is not None:
                i = bisect.bisect_left(table, pts)
                index = i if i < len(table) and table[i] == pts else index
            t = self.time_of(pts, index)
            self.stats.decoded += 1
            cur = index
            index += 1
            if sampling.end is not None and t >= sampling.end:
                self.stats.expected = None  # stopped on purpose: nothing was lost
                break
            if sampling.step > 1 and cur % sampling.step:
                continue
            if sampling.fps is not None:
                if next_time is not None and t + 1e-9 < next_time:
                    continue
                next_time = (math.floor(t * sampling.fps + 1e-6) + 1) / sampling.fps
            self.stats.delivered += 1
            yield Frame(cur, pts, t, av_frame=avf, rotation=rotation, key_frame=avf.key_frame, analysis_size=asize,
                        scaler=self._scaler)
        self._report()

    def _report(self) -> None:
        st = self.stats
        lost = st.lost if st.expected is not None else 0
        if st.corrupt_packets or st.truncated or lost > max(2, 0.01 * (st.expected or 0)):
            parts = [f"{self.name}: decoded {st.decoded}"]
            if st.expected is not None:
                parts[0] += f" of {st.expected} frames ({lost} lost)"
            else:
                parts[0] += " frames"
            if st.corrupt_packets:
                parts.append(f"{st.corrupt_packets} corrupt packets skipped")
            if st.truncated:
                parts.append("the file ends early (truncated?)")
            warnings.warn("; ".join(parts), KadrWarning, stacklevel=3)

    # ---- lifecycle ----------------------------------------------------------------
    def close(self) -> None:
        import av

        self._closed = True
        try:
            self._container.close()
        except (av.error.FFmpegError, OSError):  # closing after a broken stream: nothing left to release
            pass

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VideoReader({self.name!r}, {self.width}x{self.height}, fps={self.fps})"


def load_frame_ref(ref: str) -> np.ndarray:
    """RGB ``uint8`` (H, W, 3) of one video frame: ``clip.mp4@#300`` (frame index, 0-based) or
    ``clip.mp4@12.5s`` (the frame shown at 12.5 s). The one loader of frame references."""
    from kadr._checks import check_file
    from kadr.io.timecode import split_frame_ref

    parts = split_frame_ref(ref)
    if parts is None:
        raise InputError(f"bad frame reference {ref!r}; use clip.mp4@12s (time) or clip.mp4@#300 (frame index)")
    path, what, value = parts
    check_file(path, what="video")
    with VideoReader(path) as r:
        return (r.read(time=value) if what == "time" else r.read(frame=int(value))).image


def load_picture(ref: str) -> np.ndarray:
    """RGB array of an image file, or of a video frame reference (see :func:`load_frame_ref`)
    when ``ref`` is not an existing file and has the ``@`` form."""
    from pathlib import Path

    from kadr.io.images import load_image
    from kadr.io.timecode import split_frame_ref

    if Path(ref).exists() or split_frame_ref(ref) is None:
        return load_image(ref)
    return load_frame_ref(ref)
