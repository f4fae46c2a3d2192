"""The one exception family of kadr.

Every error a user can cause derives from :class:`KadrError`.  Each subclass also
derives from the closest built-in exception (``ValueError``, ``FileNotFoundError``...)
so that generic ``except`` clauses in user code keep working.

The CLI turns any ``KadrError`` into one line ``kadr: error: <message>`` and exit
status 2; messages therefore say *what* is wrong and *how to fix it*.
"""

from __future__ import annotations

from typing import Iterable


class KadrError(Exception):
    """Base class of every error kadr raises on purpose."""

    exit_code = 2


class InputError(KadrError, ValueError):
    """An argument has the wrong type, shape, dtype, range or value."""


class ShapeError(InputError):
    """Arrays or tensors have shapes that do not fit together."""


class DataRangeError(InputError):
    """The value range of the data is ambiguous (e.g. floats without ``data_range``)."""


class SourceNotFoundError(KadrError, FileNotFoundError):
    """A path that should exist does not."""


class NotAFileError(KadrError, IsADirectoryError):
    """A directory was given where a file is expected."""


class DecodeError(KadrError):
    """A file exists but its content cannot be decoded as the expected media."""


class NoVideoStreamError(DecodeError):
    """A media file has no video stream (e.g. audio only)."""


class UnsupportedSourceError(KadrError, ValueError):
    """A source (URL scheme, device, format) kadr cannot open."""


class BackendUnavailableError(KadrError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""


class ModelLoadError(KadrError):
    """A model folder or weight file is missing or invalid."""


class OutputError(KadrError, OSError):
    """An output path cannot be written."""


class ExternalToolError(KadrError):
    """An external program (ffmpeg...) is missing or failed."""


class UnknownNameError(KadrError, KeyError):
    """A name looked up in a registry does not exist; the message lists valid names."""

    def __init__(self, kind: str, name: str, valid: Iterable[str]):
        self.kind = kind
        self.name = name
        self.valid = sorted(valid)
        super().__init__(
            f"unknown {kind} {name!r}; valid {kind}s: {', '.join(self.valid) or '(none installed)'}"
        )

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class IndexBusyError(KadrError):
    """Another process holds the write lock of an index folder and did not let go in time."""


class IndexDamagedError(KadrError):
    """An index folder's files are missing, truncated or unreadable; the message names the
    folder and ``kadr index check``."""


class KadrWarning(UserWarning):
    """Something was recovered from (skipped packet, skipped file...) and the user should know."""


class KadrDeprecationWarning(KadrWarning):
    """A flag, keyword or name that still works but has a new spelling (see docs/glossary.md).

    A :class:`KadrWarning` (so the CLI prints it as ``kadr: warning: ...`` and Python shows it by
    default, unlike ``DeprecationWarning``); old spellings are kept for one release.
    """


def missing_backend(package: str, extra: str = "all") -> BackendUnavailableError:
    """Error for an optional dependency that is not importable."""
    return BackendUnavailableError(
        f"this feature needs the optional package {package!r}; install it with "
        f"`pip install 'kadr[{extra}]'` (or `pip install {package}`)"
    )
