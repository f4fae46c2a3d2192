"""``kadr index add --ray``: the same indexing as :mod:`kadr.index.indexing`, run on a Ray cluster.

Pipeline (one round per ``RayOptions.round_files`` files; ``docs/scale-out.md``)::

    driver:  collect_files(paths) → states = Store.file_states(encoder)
    round:   ray.data.from_items([{path, stored size/mtime/hash}])
             .map_batches(_IndexWorker, concurrency=actors, num_cpus=cpus_per_actor)
                 actor = one encoder; per file: prepare() (stat, hash, decode; videos: shot
                 detection + keyframes) then _rows() (embed, pHash) — the local path's code
             → one Arrow table per batch: the rows (arrow_schema) + one status row per file
             .materialize()
    commit:  delete(source IN indexed files of the round)      (one LanceDB commit)
             lance_ray.write_lance(rows, table uri, append)     (fragments written by Ray tasks,
                                                                 committed once by the driver)
    end:     Store.maintain(encoder) (ANN index + FAISS sidecar), compact

Resumable and idempotent exactly like the local path: a file is either fully committed with
its current content or absent (a kill between the delete and the append leaves the round's
changed files absent; the re-run indexes them again), unchanged files are skipped by the
same size/mtime/hash test, so a re-run after a kill finishes the job with no duplicates.

Facts this code relies on (Ray 2.60, lance-ray 0.5, pylance 14, Python 3.11): Ray's own
``Dataset.write_lance`` fails (``write_fragments() got an unexpected keyword argument
'storage_options_provider'``), ``lance_ray.write_lance`` works; actors holding whole CPUs on
a small machine starve Ray Data's other tasks and hang silently, hence fractional CPUs; a
worker process that dies is restarted and its batch retried once (``max_restarts``,
``max_task_retries``), a batch that fails again is skipped (``max_errored_blocks``) and its
files are listed as failed.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from kadr._options import opt
from kadr._checks import check_positive
from kadr.errors import BackendUnavailableError, InputError, KadrError, KadrWarning
from kadr.index.indexing import AddReport, _rows, collect_files, finish_add, parse_video_mode, prepare

#: Status values of the per-file rows the workers return next to the data rows.
STATUS_COLUMN, ERROR_COLUMN = "_kadr_status", "_kadr_error"


class RayUnavailableError(KadrError):
    """The Ray cluster cannot be reached (or Ray is not installed)."""


@dataclass
class RayOptions:
    """How ``index add --ray`` uses the cluster."""

    actors: int = opt(0, "encoder actors (each loads the model once; 0: one per 2 CPUs of the cluster)")
    cpus_per_actor: float = opt(0.5, "CPUs reserved per actor; fractional so Ray Data's own tasks are never starved")
    files_per_batch: int = opt(4, "files handed to an actor per call")
    round_files: int = opt(256, "files per commit round: a killed job redoes at most this many")
    connect_timeout_s: float = opt(5.0, "seconds to wait for the cluster's address to answer")

    def __post_init__(self) -> None:
        check_positive(int(self.actors), "actors", allow_zero=True)
        if not 0 < float(self.cpus_per_actor) <= 64:
            raise InputError(f"cpus_per_actor must be in (0, 64], got {self.cpus_per_actor}")
        for name in ("files_per_batch", "round_files"):
            check_positive(int(getattr(self, name)), name)


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise BackendUnavailableError("--ray needs Ray Data and lance-ray: pip install 'kadr[ray]'") from None
    return ray


def _lance_ray():
    try:
        import lance_ray
    except ImportError:
        raise BackendUnavailableError("--ray needs lance-ray to write the table: pip install 'kadr[ray]'") from None
    return lance_ray


def check_reachable(address: str, timeout: float) -> None:
    """Raise :class:`RayUnavailableError` within ``timeout`` seconds when nothing listens at
    ``host:port`` (``ray://host:port`` too). ``auto`` / ``local`` are not checked here."""
    if address in ("auto", "local", ""):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"bad --ray address {address!r}; use HOST:PORT of the head node (e.g. 10.0.0.5:6379), "
                         "ray://HOST:10001, or 'auto'")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise RayUnavailableError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
                                  f"`ray start --head --port {port}` on that machine, or drop the address to run "
                                  "a local Ray") from None


def connect(address: str | None, options: RayOptions):
    """``ray.init`` to ``address`` (None / 'local': a Ray started for this process)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # the driver's C++ core worker logs each restartable Ray Data actor as an error on stderr
    # (https://github.com/ray-project/ray/issues/53727); kadr reports what failed itself
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    # keeps a single-node ray.init() on 127.0.0.1 (no multi-node mode on macOS/Windows)
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = _ray()
    import logging

    for name in ("ray", "ray.data"):  # Ray Data's INFO/WARNING lines would drown kadr's output
        logging.getLogger(name).setLevel(logging.ERROR)
    if ray.is_initialized():
        return ray
    address = (address or "local").strip()
    check_reachable(address, options.connect_timeout_s)
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        with warnings.catch_warnings():
            # ray.init forks its node processes; lancedb's at-fork hook (when imported) warns in
            # each forked child, which inherits this filter
            warnings.filterwarnings("ignore", message="lancedb fork support")
            if address == "local":
                ray.init(**kwargs)
            else:
                ray.init(address=address, **kwargs)
    except KadrError:
        raise
    except Exception as exc:  # ConnectionError, auth failures, version mismatch ...
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RayUnavailableError(f"cannot join the Ray cluster at {address}: {msg}. Token auth is on by default: "
                                  "the token of the cluster must be in $HOME/.ray (or RAY_AUTH_TOKEN)") from None
    return ray


class _IndexWorker:
    """A Ray Data actor: one encoder, turns a batch of file records into rows + statuses."""

    def __init__(self, encoder: Any, video_mode: str):
        from kadr.features import resolve_encoder

        self.encoder = resolve_encoder(encoder)
        self.mode = parse_video_mode(video_mode)

    def __call__(self, batch):
        import pyarrow as pa

        from kadr.index.schema import arrow_schema

        paths = [str(p) for p in batch["path"].to_pylist()]
        states = {}
        for p, sz, mt, h in zip(paths, batch["size"].to_pylist(), batch["mtime_ns"].to_pylist(),
                                batch["hash"].to_pylist()):
            if sz is not None:
                states[p] = (sz, mt, h)
        prepared = [prepare(Path(p), states, self.mode) for p in paths]
        ok = [p for p in prepared if not p.unchanged and p.error is None]
        rows = _rows(ok, self.encoder)
        schema = arrow_schema(self.encoder.dim)
        for r in rows:
            r[STATUS_COLUMN], r[ERROR_COLUMN] = "row", None
        for p in prepared:
            status = "unchanged" if p.unchanged else ("failed" if p.error is not None else "indexed")
            rows.append({"id": "", "source": str(p.path), "kind": "", STATUS_COLUMN: status,
                         ERROR_COLUMN: p.error, "encoder": self.encoder.name})
        full = schema.append(pa.field(STATUS_COLUMN, pa.string())).append(pa.field(ERROR_COLUMN, pa.string()))
        return pa.Table.from_pylist(rows, schema=full)


def _bound_worker(encoder: Any, video_mode: str) -> type:
    """An actor class with its arguments baked in (constructor arguments would go through the
    object store, which Ray warns about for restartable actors)."""

    class IndexWorker(_IndexWorker):
        def __init__(self):
            super().__init__(encoder, video_mode)

    return IndexWorker


def _only_rows(batch):
    import pyarrow.compute as pc

    t = batch.filter(pc.equal(batch[STATUS_COLUMN], "row"))
    return t.drop_columns([STATUS_COLUMN, ERROR_COLUMN])


def add_files_ray(store, encoder, paths: Iterable[str | os.PathLike], *, address: str | None = None,
                  video_mode: str = "keyframes", options: RayOptions | None = None, progress: bool | None = None,
                  maintain: bool = True) -> AddReport:
    """Index ``paths`` into ``store`` on a Ray cluster; same result as
    :func:`kadr.index.indexing.add_files` (see the module doc)."""
    from kadr._progress import track
    from kadr.features import resolve_encoder

    o = options or RayOptions()
    t0 = time.perf_counter()
    parse_video_mode(video_mode)
    enc = resolve_encoder(encoder)
    files = collect_files(paths)
    ray = connect(address, o)
    _lance_ray()
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.max_errored_blocks = -1  # a batch whose worker died twice is reported, not fatal
    rep = AddReport(files=len(files), encoder=enc.name)
    states = store.file_states(enc.name) if enc.name in store.encoders() else {}
    table = store.table(enc.name, enc.dim, create=True)
    actors = int(o.actors) or max(1, int(ray.cluster_resources().get("CPU", 2) // 2))
    # the encoder travels by name when it has a registry name the workers can resolve
    spec: Any = encoder if isinstance(encoder, str) else enc
    worker = _bound_worker(spec, video_mode)
    rounds = [files[a:a + o.round_files] for a in range(0, len(files), o.round_files)]
    bar = track(range(len(files)), total=len(files), desc="indexing (ray)", unit="files", enabled=progress)
    bar_it = iter(bar)
    for chunk in rounds:
        items = []
        for f in chunk:
            old = states.get(str(f))
            items.append({"path": str(f), "size": old[0] if old else None, "mtime_ns": old[1] if old else None,
                          "hash": old[2] if old else None})
        ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), len(items) // o.files_per_batch)))
        with warnings.catch_warnings():  # Ray 2.60 warns that max_restarts/max_task_retries will move
            warnings.simplefilter("ignore", DeprecationWarning)
            out = ds.map_batches(worker, batch_size=o.files_per_batch, batch_format="pyarrow",
                                 compute=ray.data.ActorPoolStrategy(
                                     size=min(actors, max(1, -(-len(items) // o.files_per_batch)))),
                                 num_cpus=float(o.cpus_per_actor), max_restarts=1, max_task_retries=1)
        out = out.materialize()
        status = out.select_columns(["source", STATUS_COLUMN, ERROR_COLUMN]).filter(
            expr=f"{STATUS_COLUMN} != 'row'").take_all()
        seen = {r["source"]: r for r in status}
        indexed = [s for s, r in seen.items() if r[STATUS_COLUMN] == "indexed"]
        rows_ds = out.map_batches(_only_rows, batch_format="pyarrow")
        n_rows = rows_ds.count()
        if indexed:
            store.replace_sources(enc.name, enc.dim, indexed, [])
            if n_rows:
                uri = str(getattr(table, "uri", None) or store.path / f"{store.encoders()[enc.name]['table']}.lance")
                _lance_ray().write_lance(rows_ds, uri, mode="append", schema=table.schema)
                table.checkout_latest()
        for f in chunk:
            next(bar_it, None)
            r = seen.get(str(f))
            if r is None:
                rep.failed.append({"path": str(f), "error": "the Ray worker processing it died twice"})
            elif r[STATUS_COLUMN] == "unchanged":
                rep.unchanged += 1
            elif r[STATUS_COLUMN] == "failed":
                rep.failed.append({"path": str(f), "error": r[ERROR_COLUMN] or "unknown error"})
            else:
                (rep.replaced if str(f) in states else rep.added).append(str(f))
        rep.rows_written += n_rows
    for _ in bar_it:
        pass
    for f in rep.failed:
        warnings.warn(f"skipped {f['path']}: {f['error']}", KadrWarning, stacklevel=2)
    return finish_add(store, enc.name, rep, maintain=maintain, t0=t0)
