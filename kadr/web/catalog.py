"""What ``kadr serve`` may show: the files the index lists and the analyses ``kadr analyse`` wrote.

The web app never takes a file path from a request. Every file it serves is looked up by
a key (``file_key``: a hash of its resolved path) in this catalog, which holds only

* the sources and videos of the index table's rows, and
* each analysis found under ``--videos DIR`` (a folder with the ``shots.json`` written by
  ``kadr analyse -o``): its video and the keyframe images it lists, which must lie inside
  the analysis folder.

A listed path that has become a symlink to somewhere else is refused unless its target is
itself listed (:func:`safe_file`), so a symlink cannot widen what is served.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kadr.errors import InputError, KadrError


class NotListedError(KadrError):
    """A file or video that neither the index nor an analysis lists (HTTP 404)."""

    exit_code = 2


def file_key(path: str | os.PathLike) -> str:
    """Stable 16-hex-digit key of a resolved path (what URLs carry instead of the path)."""
    return hashlib.blake2b(str(path).encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives
        return False


@dataclass
class Analysis:
    """One ``kadr analyse`` output folder: ``dir`` (resolved), the parsed ``shots.json``,
    and the resolved video it describes (None when the video file cannot be found)."""

    dir: Path
    data: dict[str, Any]
    video: Path | None

    def keyframe_file(self, frame: int) -> Path | None:
        """The keyframe image of ``frame`` written by analyse (inside ``dir``), else None."""
        root = os.path.realpath(self.dir)
        for s in self.data.get("shots", []):
            for k in s.get("keyframes", []):
                if int(k.get("frame", -1)) == int(frame) and k.get("path"):
                    p = os.path.realpath(self.dir / str(k["path"]))
                    if _inside(p, root) and os.path.isfile(p):
                        return Path(p)
        return None


@dataclass
class VideoEntry:
    key: str
    path: Path
    analysis: Analysis | None = None
    indexed: bool = False

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class _Snapshot:
    files: dict[str, Path] = field(default_factory=dict)      # key -> listed path
    real: set[str] = field(default_factory=set)               # the listed (resolved) paths
    videos: dict[str, VideoEntry] = field(default_factory=dict)
    version: Any = None


def load_analysis(shots_json: Path, search_roots: list[Path]) -> Analysis | None:
    """Parse one analysis folder; None when ``shots_json`` is not an analyse output."""
    try:
        data = json.loads(shots_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("shots"), list) or not data.get("video"):
        return None
    d = shots_json.parent.resolve()
    v = Path(str(data["video"]))
    cands = [v] if v.is_absolute() else [d / v, d.parent / v, Path.cwd() / v]
    cands += [d.parent / v.name] + [r / v.name for r in search_roots]
    video = next((c.resolve() for c in cands if c.is_file()), None)
    return Analysis(d, data, video)


class Catalog:
    """The allow-list of files and the videos (indexed and/or analysed) of one ``kadr serve``.

    Rebuilt when the index table's version changes (checked at most every ``refresh_s``)."""

    def __init__(self, index: Any | None, video_dirs: list[str | os.PathLike] = (), *, refresh_s: float = 5.0):
        self.index = index
        self.video_dirs = [Path(d).expanduser().resolve() for d in video_dirs]
        for d in self.video_dirs:
            if not d.is_dir():
                raise InputError(f"--videos {str(d)!r} is not a folder; give the folder holding the outputs of "
                                 "`kadr analyse -o OUTDIR`")
        self.refresh_s = float(refresh_s)
        self._lock = threading.Lock()
        self._checked = 0.0
        self._snap = _Snapshot()
        self.analyses = self._scan_analyses()
        self.refresh(force=True)

    # ---- building ------------------------------------------------------------------------
    def _scan_analyses(self) -> list[Analysis]:
        out = []
        for root in self.video_dirs:
            for sj in sorted(root.rglob("shots.json")):
                a = load_analysis(sj, self.video_dirs)
                if a is not None:
                    out.append(a)
        return out

    def _table_version(self) -> Any:
        if self.index is None:
            return None
        try:
            return int(self.index.store.table(self.index.encoder_name).version)
        except (KadrError, OSError, ValueError, RuntimeError):
            return None

    def refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.refresh_s:
            return
        with self._lock:
            self._checked = now
            version = self._table_version()
            if not force and version == self._snap.version:
                return
            snap = _Snapshot(version=version)
            if self.index is not None:
                at = self.index.store.rows(self.index.encoder_name, columns=["source", "video"])
                for col in ("source", "video"):
                    for p in set(at.column(col).to_pylist()):
                        if p:
                            snap.files[file_key(p)] = Path(p)
                for v in {v for v in at.column("video").to_pylist() if v}:
                    snap.videos[file_key(v)] = VideoEntry(file_key(v), Path(v), indexed=True)
            for a in self.analyses:
                if a.video is None:
                    continue
                k = file_key(a.video)
                snap.files[k] = a.video
                e = snap.videos.get(k) or VideoEntry(k, a.video)
                e.analysis = a
                snap.videos[k] = e
            # listed paths are stored resolved (index rows, analyses): a legit file's real path is itself
            snap.real = {str(p) for p in snap.files.values()}
            self._snap = snap

    # ---- lookups -------------------------------------------------------------------------
    def file(self, key: str) -> Path:
        """The listed file of ``key``, checked by :func:`safe_file` (NotListedError otherwise)."""
        self.refresh()
        p = self._snap.files.get(str(key))
        if p is None:
            raise NotListedError("no such file in the index or the analyses")
        return safe_file(p, self._snap.real)

    def videos(self) -> list[VideoEntry]:
        self.refresh()
        return sorted(self._snap.videos.values(), key=lambda e: str(e.path))

    def video(self, key: str) -> VideoEntry:
        self.refresh()
        e = self._snap.videos.get(str(key))
        if e is None:
            raise NotListedError("no such video in the index or the analyses")
        return e

    def analysis_of(self, video: str | os.PathLike | None) -> Analysis | None:
        if not video:
            return None
        e = self._snap.videos.get(file_key(video))
        return e.analysis if e else None

    def resolve_video(self, name: str) -> Path:
        """A listed video from what a user typed: its full path, or a file name that only one
        listed video has. InputError listing a few known names otherwise."""
        self.refresh()
        vids = list(self._snap.videos.values())
        s = str(name).strip()
        for e in vids:
            if str(e.path) == s:
                return e.path
        try:
            r = str(Path(s).expanduser().resolve())
        except (OSError, RuntimeError):
            r = s
        for e in vids:
            if str(e.path) == r:
                return e.path
        by_name = [e for e in vids if e.path.name == Path(s).name]
        if len(by_name) == 1:
            return by_name[0].path
        if len(by_name) > 1:
            raise InputError(f"{s!r} names {len(by_name)} videos; give the full path")
        known = ", ".join(sorted({e.path.name for e in vids})[:8]) or "none"
        raise InputError(f"{s!r} is not a video of the index or the analyses (known: {known})")

    def short_name(self, path: str | os.PathLike) -> str:
        """The file name of a listed video when no other listed video shares it, else its path."""
        p = Path(path)
        n = sum(1 for e in self._snap.videos.values() if e.path.name == p.name)
        return p.name if n <= 1 else str(p)


def safe_file(path: str | os.PathLike, listed_real: set[str]) -> Path:
    """``path`` if it is a regular file whose real path (symlinks followed) is itself listed.

    A listed path that is (or sits under) a symlink pointing elsewhere is refused unless the
    target is also a listed file: that is how a swapped-in symlink would otherwise escape."""
    real = os.path.realpath(path)
    if real not in listed_real:
        raise NotListedError("the file points outside what the index and the analyses list")
    if not os.path.isfile(real):
        raise NotListedError("the file is listed but no longer exists")
    return Path(real)
