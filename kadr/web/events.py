"""Live events of ``kadr serve --events``: JSON lines (``kadr watch --json-lines``) read from a
pipe or followed in a file, kept in a bounded history and pushed to the live page by
server-sent events.

``kadr watch SOURCE --db DB --json-lines | kadr serve --db DB --events -`` shows each match
on ``/live`` as soon as watch prints it; ``kadr serve --db DB --watch SOURCE`` runs the same
watch inside the server (:func:`start_watch`).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from typing import IO, Any, Callable


class EventHub:
    """Numbered events (``seq`` from 1), the last ``history`` kept; thread-safe publish,
    asyncio wait. Bounded state: a stream can run for days."""

    def __init__(self, history: int = 500, *, enrich: Callable[[dict], dict] | None = None):
        self._items: deque[tuple[int, dict]] = deque(maxlen=int(history))
        self._seq = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.enrich = enrich
        self.source: str | None = None
        self.ended = False
        self.bad_lines = 0

    @property
    def seq(self) -> int:
        return self._seq

    def publish(self, event: dict) -> int:
        if self.enrich is not None:
            event = self.enrich(event)
        with self._lock:
            self._seq += 1
            self._items.append((self._seq, event))
            waiters = list(self._waiters)
        for loop, ev in waiters:
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # that loop is closed
                pass
        return self._seq

    def since(self, seq: int) -> list[tuple[int, dict]]:
        with self._lock:
            return [(s, e) for s, e in self._items if s > seq]

    async def wait(self, seq: int, timeout: float) -> list[tuple[int, dict]]:
        """Events after ``seq``; waits up to ``timeout`` s for one (empty list on timeout)."""
        new = self.since(seq)
        if new:
            return new
        ev = asyncio.Event()
        item = (asyncio.get_running_loop(), ev)
        with self._lock:
            self._waiters.add(item)
        try:
            if self.since(seq):
                return self.since(seq)
            try:
                await asyncio.wait_for(ev.wait(), timeout)
            except asyncio.TimeoutError:
                return []
            return self.since(seq)
        finally:
            with self._lock:
                self._waiters.discard(item)


def parse_line(line: str) -> dict | None:
    """One JSON object from a line of ``kadr watch --json-lines``; None for blank/other lines."""
    line = line.strip()
    if not line:
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def pump(stream: IO[str], hub: EventHub, *, follow: bool = False, stop: threading.Event | None = None,
         poll_s: float = 0.25) -> None:
    """Publish every JSON line of ``stream``. ``follow``: at end of file wait for more (tail -f)
    instead of ending; without it the hub is marked ended at EOF."""
    stop = stop or threading.Event()
    while not stop.is_set():
        line = stream.readline()
        if not line:
            if not follow:
                break
            time.sleep(poll_s)
            continue
        obj = parse_line(line)
        if obj is None:
            if line.strip():
                hub.bad_lines += 1
            continue
        hub.publish(obj)
    hub.ended = not follow
    if hub.ended:
        hub.publish({"type": "end", "message": "the event stream ended"})


def start_pump(source: str | IO[str], hub: EventHub) -> threading.Thread:
    """Read ``source`` (``-`` = stdin, a file path followed like ``tail -f``, or an open text
    stream) in a daemon thread."""
    import sys

    if isinstance(source, str):
        hub.source = source
        if source == "-":
            stream, follow = sys.stdin, False
        else:
            stream, follow = open(source, encoding="utf-8", errors="replace"), True  # noqa: SIM115
    else:
        hub.source = getattr(source, "name", "stream")
        stream, follow = source, False
    t = threading.Thread(target=pump, args=(stream, hub), kwargs={"follow": follow}, daemon=True,
                         name="kadr-serve-events")
    t.start()
    return t


def start_watch(db: str, encoder: str, source: str, hub: EventHub) -> threading.Thread:
    """Watch ``source`` (file, ``-``, URL, webcam) for the items of the database ``db`` in a daemon
    thread, as ``kadr watch SOURCE --db DB`` would, publishing each event as it is decided and the
    counters at the end. The watcher has its own Index and encoder (no lock shared with searches)."""

    def run() -> None:
        from kadr.cli._output import to_jsonable
        from kadr.errors import KadrError
        from kadr.index import Index
        from kadr.index.watch import IndexReferences
        from kadr.stream import Watcher

        try:
            index = Index(db, encoder, create=False)
            w = Watcher(index.encoder, references=IndexReferences(index))
            for ev in w.events(source):
                hub.publish(to_jsonable(ev))
            hub.publish({"stats": w.stats.to_dict()})
        except KadrError as exc:
            hub.publish({"type": "error", "message": f"watching {source} failed: {exc}"})
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the server; it is reported
            import logging

            logging.getLogger("kadr.serve").exception("watch of %s failed", source)
            hub.publish({"type": "error", "message": f"watching {source} failed: {type(exc).__name__}"})
        hub.ended = True
        hub.publish({"type": "end", "message": "the watched stream ended"})

    hub.source = f"kadr watch {source}"
    t = threading.Thread(target=run, daemon=True, name="kadr-serve-watch")
    t.start()
    return t


def sse_format(seq: int, event: dict[str, Any]) -> str:
    """One server-sent event: ``id`` = seq, ``data`` = the JSON (a single line)."""
    return f"id: {seq}\ndata: {json.dumps(event, ensure_ascii=False, separators=(',', ':'))}\n\n"
