"""Media files on disk: the extensions kadr recognises and the one folder walker.

Every command that takes "files or folders" (classify, embed, index add, compare on folders)
walks them with :func:`walk_files`: files given directly are kept whatever their suffix,
folders are walked in sorted order for the given extensions, hidden files and folders
(a path part starting with ``.``) are skipped, and a missing path is an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from kadr.errors import SourceNotFoundError

#: Extensions (lower case) of the images picked up when a folder is walked.
IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm",
    ".jp2", ".avif", ".heic",
)
#: Extensions (lower case) of the videos picked up when a folder is walked.
VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".mts", ".wmv",
    ".flv", ".3gp", ".ogv", ".y4m",
)
MEDIA_EXTENSIONS: tuple[str, ...] = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS


def is_video(path: str | os.PathLike) -> bool:
    """True when the file's suffix is a video extension (:data:`VIDEO_EXTENSIONS`)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def walk_files(paths: Iterable[str | os.PathLike] | str | os.PathLike, extensions: Iterable[str], *,
               recursive: bool = True) -> Iterator[Path]:
    """Yield the files of ``paths``: files as given (any suffix), folders walked in sorted
    order for files whose lower-case suffix is in ``extensions``, hidden parts skipped.
    Raises :class:`~kadr.errors.SourceNotFoundError` for a path that does not exist."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    exts = {e.lower() for e in extensions}
    for p in (Path(x).expanduser() for x in paths):
        if p.is_dir():
            for f in sorted(p.rglob("*") if recursive else p.glob("*")):
                if f.is_file() and f.suffix.lower() in exts and \
                        not any(part.startswith(".") for part in f.relative_to(p).parts):
                    yield f
        elif p.exists():
            yield p
        else:
            raise SourceNotFoundError(f"not found: {str(p)!r}; check the path")
