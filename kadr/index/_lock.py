"""The write lock of an index folder: one writer at a time, any number of readers.

Two ``kadr index add`` runs on one ``--db`` used to interleave ``delete(source IN batch)``
and ``add`` commits and left every file twice. A writer now holds an exclusive ``flock`` on
``<db>/kadr_index.lock`` for the whole run; a second writer waits for it (saying once on
stderr who it waits for) or, with a timeout, gives up with :class:`~kadr.errors.IndexBusyError`.
The OS drops the lock when the holder exits or is killed, so a crash never leaves the folder
locked. Readers (search, stats, dedup) take no lock: LanceDB commits are atomic versions.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

from kadr.errors import IndexBusyError, KadrWarning, OutputError

#: Lock file inside the database folder (holds the pid of the writer, for the message).
LOCK_FILE = "kadr_index.lock"

#: Seconds between two attempts while waiting for another writer.
POLL_S = 0.1

try:
    import fcntl
except ImportError:  # Windows: no flock; writers are not serialised there
    fcntl = None  # type: ignore[assignment]


class WriteLock:
    """Exclusive, process-wide lock of one folder; re-entrant within the process.

    ``timeout``: seconds to wait for another writer (``None`` = as long as it takes, 0 = fail
    at once)."""

    def __init__(self, folder: str | os.PathLike, timeout: float | None = None):
        self.path = Path(folder) / LOCK_FILE
        self.timeout = timeout
        self._fd: int | None = None
        self._depth = 0

    def _holder(self) -> str:
        try:
            pid = self.path.read_text().strip()
        except OSError:
            pid = ""
        return f"pid {pid}" if pid.isdigit() else "another process"

    def acquire(self) -> None:
        if self._depth:
            self._depth += 1
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot write to the index folder {str(self.path.parent)!r}: {exc.strerror}") from None
        if fcntl is not None:
            t0 = time.monotonic()
            told = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    waited = time.monotonic() - t0
                    if self.timeout is not None and waited >= self.timeout:
                        who = self._holder()
                        os.close(fd)
                        raise IndexBusyError(
                            f"the index at {str(self.path.parent)!r} is being written by {who}; wait for it to "
                            f"finish (or raise --wait, now {self.timeout:g} s)") from None
                    if not told and (self.timeout is None or self.timeout > 1):  # short waits: just the error
                        warnings.warn(f"the index at {str(self.path.parent)!r} is being written by {self._holder()}; "
                                      "waiting for it to finish", KadrWarning, stacklevel=3)
                        told = True
                    time.sleep(POLL_S)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        self._depth = 1

    def release(self) -> None:
        if not self._depth:
            return
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._depth > 0

    def __enter__(self) -> "WriteLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
