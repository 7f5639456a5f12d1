"""``bpbfx collect``: streams of both exchanges sharded over worker processes, published into
Redis Streams (or, with no server, written as JSONL recordings), under a supervisor; and
``bpbfx tail``: what a reader of those streams sees.

Processes and threads:

- The **supervisor** (the command's main thread) validates the streams, shards them
  round-robin over ``workers`` processes (started with ``multiprocessing``'s *spawn* method,
  so each owns fresh clients), restarts a worker that dies (with the :class:`~bpbfx.Backoff`
  policy, reported on the terminal), prints aggregated stats every ``stats_interval`` seconds
  and, on Ctrl-C / SIGTERM, asks every worker to stop, waits for them to flush and reaps them.
  With ``sim`` it also runs the built-in simulators, in its own threads.
- Each **worker** runs one client per exchange (Bitfinex channels are still spread over
  sockets by the client), a :class:`~bpbfx.sinks.RedisStreamSink` (or a
  :class:`~bpbfx.recording.Recorder` per exchange) and sends its counters to the supervisor
  twice a second.  A worker ignores SIGINT (the supervisor decides) and stops on SIGTERM.

A config file (TOML) may hold everything the flags do::

    workers = 2
    redis = "redis://127.0.0.1:6379/0"     # leave out: JSONL files in output_dir
    output_dir = "collected"
    stats_interval = 5

    [backpack]
    streams = ["depth.SOL_USDC", "trade.SOL_USDC"]
    # url = "wss://ws.backpack.exchange"; rest_url = "https://api.backpack.exchange"

    [bitfinex]
    streams = ["book:tBTCUSD:P0:F0:25", "trades:tBTCUSD"]

    [sink]
    maxlen = 100000
    snapshot_every = 1000
    queue_size = 100000
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .backoff import Backoff
from .exceptions import ConfigurationError

__all__ = [
    "CollectConfig",
    "Collector",
    "WorkerSpec",
    "cmd_collect",
    "cmd_tail",
    "load_config",
    "shard",
    "worker_main",
]

EXCHANGES = ("backpack", "bitfinex")


# ============================================================================== configuration
@dataclass(frozen=True)
class CollectConfig:
    """What ``bpbfx collect`` runs (from a TOML file and/or flags).

    Attributes:
        backpack / bitfinex: stream names per exchange.
        workers: worker processes.
        redis: output URL (``redis://``, ``redis+cluster://``); None writes JSONL recordings.
        cluster: the Redis is a cluster (None: ask the server).
        output_dir: directory of the JSONL recordings.
        sim: run against the built-in simulators.
        urls: exchange -> WebSocket URL overrides; rest_urls: exchange -> REST URL overrides.
        stats_interval: seconds between stats lines.
        duration: stop after this many seconds (None: until Ctrl-C / SIGTERM).
        sink: keyword arguments for :class:`~bpbfx.sinks.RedisStreamSink` (``maxlen``,
            ``snapshot_every``, ``queue_size``, ...).
        restart_backoff: delays before restarting a dead worker.
    """

    backpack: tuple[str, ...] = ()
    bitfinex: tuple[str, ...] = ()
    workers: int = 1
    redis: str | None = None
    cluster: bool | None = None
    output_dir: str = "."
    sim: bool = False
    urls: dict[str, str] = field(default_factory=dict)
    rest_urls: dict[str, str] = field(default_factory=dict)
    stats_interval: float = 5.0
    duration: float | None = None
    sink: dict[str, Any] = field(default_factory=dict)
    restart_backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.5, cap=30.0, jitter=0.2))

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigurationError(f"workers must be >= 1, got {self.workers}")
        if not self.backpack and not self.bitfinex:
            raise ConfigurationError("nothing to collect: give Backpack and/or Bitfinex streams")
        if self.stats_interval <= 0:
            raise ConfigurationError("stats_interval must be > 0 seconds")
        if self.duration is not None and self.duration <= 0:
            raise ConfigurationError("duration must be > 0 seconds")

    def streams(self) -> list[tuple[str, str]]:
        """Every ``(exchange, stream)`` in order."""
        return [("backpack", s) for s in self.backpack] + [("bitfinex", s) for s in self.bitfinex]


_SINK_KEYS = ("maxlen", "snapshot_every", "snapshot_interval", "queue_size", "batch_size", "socket_timeout", "prefix")


def load_config(path: str | os.PathLike[str], **overrides: Any) -> CollectConfig:
    """Read a TOML config (see the module docstring); ``overrides`` (not None) win.

    Raises:
        ConfigurationError: unreadable file, bad TOML, unknown keys or bad values.
    """
    import importlib

    try:
        tomllib: Any = importlib.import_module("tomllib")  # Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            tomllib = importlib.import_module("tomli")
        except ModuleNotFoundError:
            raise ConfigurationError("reading a TOML config needs Python 3.11+ or: pip install tomli") from None
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None
    known = {"workers", "redis", "cluster", "output_dir", "sim", "stats_interval", "duration", "backpack", "bitfinex",
             "sink"}
    unknown = set(doc) - known
    if unknown:
        raise ConfigurationError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    values: dict[str, Any] = {k: doc[k] for k in ("workers", "redis", "cluster", "output_dir", "sim", "stats_interval",
                                                  "duration") if k in doc}
    urls: dict[str, str] = {}
    rest: dict[str, str] = {}
    for exchange in EXCHANGES:
        section = doc.get(exchange) or {}
        if not isinstance(section, dict):
            raise ConfigurationError(f"{path}: [{exchange}] must be a table with streams = [...]")
        bad = set(section) - {"streams", "url", "rest_url"}
        if bad:
            raise ConfigurationError(f"{path}: unknown keys in [{exchange}]: {sorted(bad)} (streams, url, rest_url)")
        streams = section.get("streams") or []
        if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
            raise ConfigurationError(f"{path}: [{exchange}] streams must be a list of names")
        values[exchange] = tuple(streams)
        if "url" in section:
            urls[exchange] = str(section["url"])
        if "rest_url" in section:
            rest[exchange] = str(section["rest_url"])
    sink = doc.get("sink") or {}
    bad = set(sink) - set(_SINK_KEYS)
    if bad:
        raise ConfigurationError(f"{path}: unknown keys in [sink]: {sorted(bad)}; known: {list(_SINK_KEYS)}")
    values.update(urls=urls, rest_urls=rest, sink=dict(sink))
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("urls", "rest_urls", "sink"):
            values[key] = {**values.get(key, {}), **value}
        elif key in EXCHANGES:
            values[key] = tuple(values.get(key, ())) + tuple(value)
        else:
            values[key] = value
    try:
        return CollectConfig(**values)
    except TypeError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class WorkerSpec:
    """What one worker process runs (picklable: it crosses the spawn boundary)."""

    index: int
    streams: tuple[tuple[str, str], ...]
    urls: dict[str, str]
    rest_urls: dict[str, str]
    redis: str | None
    cluster: bool | None
    output_dir: str
    sink: dict[str, Any]
    generation: int = 0

    def recording_path(self, exchange: str) -> Path:
        """The JSONL file of ``exchange`` for this worker (a restarted worker starts a new one)."""
        suffix = f".restart{self.generation}" if self.generation else ""
        return Path(self.output_dir) / f"collect-w{self.index}-{exchange}{suffix}.jsonl"


def shard(config: CollectConfig, urls: dict[str, str] | None = None,
          rest_urls: dict[str, str] | None = None) -> list[WorkerSpec]:
    """Spread the streams round-robin over the workers (never more workers than streams)."""
    streams = config.streams()
    n = min(config.workers, len(streams))
    parts: list[list[tuple[str, str]]] = [[] for _ in range(n)]
    for i, item in enumerate(streams):
        parts[i % n].append(item)
    return [
        WorkerSpec(i, tuple(p), dict(urls or config.urls), dict(rest_urls or config.rest_urls), config.redis,
                   config.cluster, config.output_dir, dict(config.sink))
        for i, p in enumerate(parts)
    ]


# ============================================================================== the worker process
class _Counter:
    """A sink that counts what a worker's clients deliver (the client's threads)."""

    def __init__(self) -> None:
        from .base import Sink

        class Counting(Sink):
            def __init__(self, owner: _Counter) -> None:
                self.owner = owner

            def on_event(self, client: Any, event: Any) -> None:
                self.owner.events += 1

            def on_book(self, client: Any, update: Any) -> None:
                self.owner.books += 1

            def on_error(self, client: Any, error: BaseException) -> None:
                self.owner.errors += 1
                self.owner.last_error = f"{client.name}: {type(error).__name__}: {error}"

        self.events = 0
        self.books = 0
        self.errors = 0
        self.last_error = ""
        self.sink = Counting(self)


def worker_main(spec: WorkerSpec, reports: Any) -> None:
    """Entry point of a worker process: run the clients until SIGTERM; send counters twice a
    second through ``reports`` (the worker's own end of a one-way pipe: nothing is shared with
    other workers, so a worker killed mid-write cannot wedge the others).  Runs on the
    worker's main thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the supervisor decides
    halt = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: halt.set())
    from .cli import _make_client

    counter = _Counter()
    clients: list[Any] = []
    recorders: list[Any] = []
    sink: Any = None
    problems: list[str] = []
    if spec.redis is not None:
        from .sinks import RedisStreamSink

        sink = RedisStreamSink(spec.redis, cluster=spec.cluster, name=f"collect-w{spec.index}",
                               on_report=lambda s, exc: problems.append(f"{type(exc).__name__}: {exc}"), **spec.sink)
    by_exchange: dict[str, list[str]] = {}
    for exchange, stream in spec.streams:
        by_exchange.setdefault(exchange, []).append(stream)
    for exchange, streams in by_exchange.items():
        client = _make_client(exchange, streams, url=spec.urls.get(exchange), rest_url=spec.rest_urls.get(exchange),
                              books=True, hooks={"on_error": lambda c, e: None})
        client.name = f"w{spec.index}-{exchange}"
        client.add_sink(counter.sink)
        if sink is not None:
            client.add_sink(sink)
        else:
            from .recording import Recorder

            path = spec.recording_path(exchange)
            path.parent.mkdir(parents=True, exist_ok=True)
            recorder = Recorder(path, exchange, client.subscriptions, meta={"worker": spec.index})  # type: ignore[attr-defined]
            recorder.attach(client)
            recorders.append(recorder)
        clients.append(client)

    def report(final: bool = False) -> None:
        s = sink.stats() if sink is not None else None
        data = {
            "worker": spec.index,
            "pid": os.getpid(),
            "events": counter.events,
            "books": counter.books,
            "errors": counter.errors,
            "written": s.written if s else sum(r.frames for r in recorders),
            "dropped": s.dropped if s else 0,
            "lost": s.lost if s else 0,
            "gaps": s.gaps if s else 0,
            "queued": s.queued if s else 0,
            "connected": s.connected if s else True,
            "reconnects": sum(c.stats().reconnects for c in clients),
            "messages": sum(c.stats().messages for c in clients),
            "problems": problems[-3:],
            "last_error": counter.last_error,
            "final": final,
        }
        problems.clear()
        with contextlib.suppress(OSError, ValueError):
            reports.send(data)

    try:
        for client in clients:
            client.start()
        while not halt.wait(0.5):
            report()
            for recorder in recorders:
                recorder.flush()
    finally:
        for client in clients:
            client.close()
        if sink is not None:
            sink.close(5.0)
        for recorder in recorders:
            recorder.close()
        report(final=True)
        reports.close()


# ============================================================================== the supervisor
@dataclass
class _Worker:
    spec: WorkerSpec
    process: Any = None
    conn: Any = None  # the supervisor's end of the worker's report pipe
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0  # consecutive short lives, for the backoff
    restart_at: float | None = None
    last: dict[str, Any] = field(default_factory=dict)
    base: dict[str, int] = field(default_factory=dict)  # counters of earlier generations

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def total(self, name: str) -> int:
        return int(self.base.get(name, 0)) + int(self.last.get(name, 0) or 0)


_SUMMED = ("events", "books", "errors", "written", "dropped", "lost", "gaps", "reconnects", "messages")


@dataclass(frozen=True)
class CollectorStats:
    """Aggregated counters of every worker generation (see :meth:`Collector.stats`)."""

    workers: int
    alive: int
    restarts: int
    events: int
    books: int
    written: int
    dropped: int
    lost: int
    gaps: int
    errors: int
    reconnects: int
    elapsed: float


class Collector:
    """The supervisor of ``bpbfx collect`` (see the module docstring).

    Args:
        config: what to run.
        out: where stats and reports go (stderr).
        on_report: ``(text)`` for every supervisor report (worker died, restarted, ...), in
            addition to ``out``.

    Use :meth:`run` (blocks; the caller's thread) and :meth:`stop` (any thread).
    """

    def __init__(self, config: CollectConfig, *, out: IO[str] | None = None,
                 on_report: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.out = out if out is not None else sys.stderr
        self.on_report = on_report
        self._ctx = multiprocessing.get_context("spawn")
        self._stop = threading.Event()
        self._sims: list[Any] = []
        self.workers: list[_Worker] = []
        self._started = 0.0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ public
    def run(self) -> CollectorStats:
        """Start simulators (``sim``) and workers, supervise until :meth:`stop`, ``duration``
        or an interrupt, then stop everything; returns the final stats.  The caller's thread
        (the main thread for signals).  KeyboardInterrupt and other BaseExceptions propagate
        after the workers were stopped.

        Raises:
            CommandError: a simulator could not start.
        """
        self._started = time.monotonic()
        try:
            urls, rest = self._endpoints()
            self.workers = [_Worker(spec) for spec in shard(self.config, urls, rest)]
            for w in self.workers:
                self._spawn(w)
            where = self.config.redis or f"JSONL files in {self.config.output_dir}"
            self.report(f"{len(self.workers)} workers, {len(self.config.streams())} streams -> {where}")
            next_stats = time.monotonic() + self.config.stats_interval
            deadline = None if self.config.duration is None else self._started + self.config.duration
            while not self._stop.is_set():
                self._drain(0.2)
                now = time.monotonic()
                self._supervise(now)
                if now >= next_stats:
                    self.out.write(self.status_line() + "\n")
                    self.out.flush()
                    next_stats = now + self.config.stats_interval
                if deadline is not None and now >= deadline:
                    break
        finally:
            self._shutdown()
        return self.stats()

    def stop(self) -> None:
        """Ask :meth:`run` to stop (any thread)."""
        self._stop.set()

    def stats(self) -> CollectorStats:
        """Aggregated counters (any thread)."""
        with self._lock:
            totals = {name: sum(w.total(name) for w in self.workers) for name in _SUMMED}
            alive = sum(1 for w in self.workers if w.process is not None and w.process.is_alive())
            restarts = sum(w.restarts for w in self.workers)
        return CollectorStats(workers=len(self.workers), alive=alive, restarts=restarts, events=totals["events"],
                              books=totals["books"], written=totals["written"], dropped=totals["dropped"],
                              lost=totals["lost"], gaps=totals["gaps"], errors=totals["errors"],
                              reconnects=totals["reconnects"], elapsed=time.monotonic() - self._started)

    def status_line(self) -> str:
        """One line of aggregated stats."""
        s = self.stats()
        rate = s.written / s.elapsed if s.elapsed > 0 else 0.0
        what = "entries" if self.config.redis else "frames"
        return (f"collect [{s.elapsed:7.1f}s] workers {s.alive}/{s.workers} up, restarts {s.restarts}; "
                f"events {s.events}, book updates {s.books}, {what} written {s.written} ({rate:.0f}/s), "
                f"dropped {s.dropped}, lost {s.lost}, gaps {s.gaps}, reconnects {s.reconnects}, errors {s.errors}")

    def report(self, text: str) -> None:
        """A supervisor message on ``out`` (and ``on_report``)."""
        with contextlib.suppress(OSError, ValueError):
            self.out.write(f"collect: {text}\n")
            self.out.flush()
        if self.on_report is not None:
            self.on_report(text)

    # ------------------------------------------------------------------ internals
    def _endpoints(self) -> tuple[dict[str, str], dict[str, str]]:
        urls, rest = dict(self.config.urls), dict(self.config.rest_urls)
        if self.config.sim:
            from .cli import _start_sim

            for exchange in EXCHANGES:
                streams = self.config.backpack if exchange == "backpack" else self.config.bitfinex
                if streams and exchange not in urls:
                    sim = _start_sim(exchange, streams)
                    self._sims.append(sim)
                    urls[exchange] = sim.url
                    if getattr(sim, "http_url", None):
                        rest[exchange] = sim.http_url
                    self.report(f"{exchange} simulator at {sim.url}")
        return urls, rest

    def _spawn(self, w: _Worker) -> None:
        receiver, sender = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(target=worker_main, args=(w.spec, sender), name=f"bpbfx-collect-w{w.spec.index}",
                                    daemon=True)
        process.start()
        sender.close()  # the worker holds the only writing end: EOF here means it is gone
        with self._lock:
            w.process = process
            w.conn = receiver
            w.started_at = time.monotonic()
            w.restart_at = None

    def _drain(self, timeout: float) -> None:
        """Read every pending report; wait up to ``timeout`` for the first one or a death."""
        from multiprocessing.connection import wait

        conns = {w.conn: w for w in self.workers if w.conn is not None}
        sentinels = [w.process.sentinel for w in self.workers if w.process is not None and w.process.is_alive()]
        if not conns and not sentinels:
            time.sleep(timeout)  # every worker is waiting for its restart delay
            return
        ready_now: list[Any] = wait([*conns, *sentinels], timeout)
        for ready in ready_now:
            w = conns.get(ready)
            if w is None:
                continue
            try:
                while ready.poll():
                    self._take(ready.recv())
            except (EOFError, OSError):
                ready.close()
                w.conn = None

    def _take(self, data: dict[str, Any]) -> None:
        index = int(data.get("worker", -1))
        if not 0 <= index < len(self.workers):
            return
        w = self.workers[index]
        with self._lock:
            if w.pid != data.get("pid"):
                return  # a report of an earlier generation arriving late
            w.last = data
        for text in data.get("problems") or ():
            self.report(f"worker {index}: {text}")

    def _supervise(self, now: float) -> None:
        for w in self.workers:
            process = w.process
            if w.restart_at is not None:
                if now >= w.restart_at and not self._stop.is_set():
                    self._restart(w)
                continue
            if process is None or process.is_alive():
                continue
            lived = now - w.started_at
            code = process.exitcode
            with self._lock:
                for name in _SUMMED:
                    w.base[name] = w.total(name)
                w.last = {}
            w.failures = 1 if lived >= self.config.restart_backoff.reset_after else w.failures + 1
            delay = self.config.restart_backoff.delay(w.failures)
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
            self.report(f"worker {w.spec.index} (pid {process.pid}) {how} after {lived:.1f}s; "
                        f"restarting in {delay:.2f}s")
            w.restart_at = now + delay

    def _restart(self, w: _Worker) -> None:
        w.restarts += 1
        w.spec = dataclasses.replace(w.spec, generation=w.restarts)
        self._spawn(w)
        self.report(f"worker {w.spec.index} restarted (pid {w.pid}, restart {w.restarts})")

    def _shutdown(self) -> None:
        for w in self.workers:
            if w.process is not None and w.process.is_alive():
                w.process.terminate()  # SIGTERM: the worker closes its clients and flushes its sink
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and any(w.process is not None and w.process.is_alive()
                                                   for w in self.workers):
            self._drain(0.1)  # keep reading: a worker must never block on a full report pipe
        for w in self.workers:
            p = w.process
            if p is not None and p.is_alive():
                self.report(f"worker {w.spec.index} (pid {p.pid}) did not stop within 10s; terminating it")
                p.terminate()
                p.join(3.0)
                if p.is_alive():
                    p.kill()
                    p.join(3.0)
        self._drain(0.05)
        for w in self.workers:
            if w.conn is not None:
                w.conn.close()
                w.conn = None
        for sim in self._sims:
            with contextlib.suppress(Exception):
                sim.stop()
        self._sims.clear()


# ============================================================================== commands
def _config_from_args(args: argparse.Namespace) -> CollectConfig:
    from .cli import UsageError

    sink: dict[str, Any] = {}
    if args.maxlen is not None:
        sink["maxlen"] = args.maxlen
    if args.snapshot_every is not None:
        sink["snapshot_every"] = args.snapshot_every
    overrides: dict[str, Any] = {
        "workers": args.workers,
        "redis": args.redis,
        "cluster": True if args.cluster else None,
        "output_dir": args.output_dir,
        "sim": True if args.sim else None,
        "stats_interval": args.stats_interval,
        "duration": args.duration,
        "backpack": tuple(args.backpack or ()) or None,
        "bitfinex": tuple(args.bitfinex or ()) or None,
        "sink": sink or None,
    }
    try:
        if args.config:
            return load_config(args.config, **overrides)
        values = {k: v for k, v in overrides.items() if v is not None}
        return CollectConfig(**values)
    except ConfigurationError as exc:
        raise UsageError(exc.message) from None


def cmd_collect(args: argparse.Namespace) -> int:
    """``bpbfx collect``: run the collector until Ctrl-C / SIGTERM or ``--duration``."""
    from .cli import EXIT_FAILURE, EXIT_OK, _interrupted_status, _validate_streams

    config = _config_from_args(args)
    for exchange in EXCHANGES:
        streams = config.backpack if exchange == "backpack" else config.bitfinex
        if streams:
            _validate_streams(exchange, streams)
    if config.redis is not None:
        from .cli import CommandError, UsageError

        try:
            from .sinks.redis_sink import check_options  # fail now, not in every worker
        except ImportError as exc:
            raise CommandError(str(exc)) from None
        try:
            check_options(config.redis, **config.sink)
        except (ConfigurationError, TypeError) as exc:
            raise UsageError(f"{exc}") from None
    else:
        Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    collector = Collector(config)
    status = EXIT_OK
    try:
        stats = collector.run()
    except BaseException as exc:  # Ctrl-C / SIGTERM: the collector stopped cleanly
        if not isinstance(exc, (KeyboardInterrupt,)) and type(exc).__name__ != "_Terminated":
            raise
        stats = collector.stats()
        status = _interrupted_status(exc, config.duration is not None)
    print(collector.status_line().replace("collect [", "collect: done [", 1), file=sys.stderr)
    if stats.written == 0 and status == EXIT_OK:
        print("collect: nothing was written (see the reports above)", file=sys.stderr)
        return EXIT_FAILURE
    return status


class _TailPrinter:
    """Hooks of ``bpbfx tail``: one JSON line per entry (books: the top of the book)."""

    def __init__(self, out: IO[str], err: IO[str], limit: int | None) -> None:
        self.out = out
        self.err = err
        self.limit = limit
        self.count = 0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def _line(self, obj: dict[str, Any]) -> None:
        with self._lock:
            if self.done.is_set():
                return
            try:
                self.out.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")
                self.out.flush()
            except (BrokenPipeError, ValueError):
                self.done.set()
                return
            self.count += 1
            if self.limit is not None and self.count >= self.limit:
                self.done.set()

    def on_message(self, reader: Any, entry: Any) -> None:
        if entry.kind in ("snapshot", "delta"):
            return  # shown by on_book as the top of the rebuilt book
        obj: dict[str, Any] = {"id": entry.id, "exchange": entry.exchange, "stream": entry.stream,
                               "kind": entry.kind, "epoch": entry.epoch, "n": entry.n}
        if entry.seq is not None:
            obj["seq"] = entry.seq
        if entry.exchange_time_us is not None:
            obj["et"] = entry.exchange_time_us
        obj["data"] = entry.data
        self._line(obj)

    def on_book(self, reader: Any, update: Any) -> None:
        bid, ask = update.book.best_bid(), update.book.best_ask()
        self._line({"stream": update.stream, "kind": "book", "update_id": update.update_id, "valid": update.valid,
                    "snapshot": update.snapshot, "bid": list(bid) if bid else None, "ask": list(ask) if ask else None,
                    "levels": len(update.book)})

    def on_error(self, reader: Any, exc: BaseException) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.err.write(f"bpbfx tail: {type(exc).__name__}: {exc}\n")
            self.err.flush()


def cmd_tail(args: argparse.Namespace) -> int:
    """``bpbfx tail``: print what a reader of published streams sees."""
    from .cli import EXIT_OK, CommandError, UsageError, _interrupted_status

    try:
        from .sinks import RedisStreamReader
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    printer = _TailPrinter(sys.stdout, sys.stderr, args.max_events)
    try:
        reader = RedisStreamReader(args.url, args.streams, on_message=printer.on_message, on_book=printer.on_book,
                                   on_error=printer.on_error, start=args.start, group=args.group,
                                   consumer=args.consumer, cluster=True if args.cluster else None)
    except ConfigurationError as exc:
        raise UsageError(exc.message) from None
    bounded = args.duration is not None or args.max_events is not None
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        reader.start()
        while not printer.done.wait(0.1):
            if deadline is not None and time.monotonic() >= deadline:
                break
        return EXIT_OK
    except BaseException as exc:  # Ctrl-C / SIGTERM end the tail
        if not isinstance(exc, KeyboardInterrupt) and type(exc).__name__ != "_Terminated":
            raise
        return _interrupted_status(exc, bounded)
    finally:
        reader.close()


def add_parsers(sub: Any, positive_int: Callable[[str], int], positive_float: Callable[[str], float]) -> None:
    """Register ``collect`` and ``tail`` on the ``bpbfx`` sub-command parser."""
    p = sub.add_parser("collect", help="streams of both exchanges over worker processes into Redis (or JSONL files)",
                       description="Shard streams over worker processes under a supervisor that restarts dead "
                       "workers; publish into Redis Streams with --redis, else write JSONL recordings.")
    p.add_argument("config", nargs="?", metavar="CONFIG.toml", help="config file (see bpbfx.collect)")
    p.add_argument("--backpack", nargs="+", metavar="STREAM", help="Backpack streams (depth.SOL_USDC, ...)")
    p.add_argument("--bitfinex", nargs="+", metavar="STREAM", help="Bitfinex streams (book:tBTCUSD:P0:F0:25, ...)")
    p.add_argument("--workers", type=positive_int, help="worker processes (default 1)")
    p.add_argument("--redis", metavar="URL", help="publish into Redis (redis://host:port/db, redis+cluster://...)")
    p.add_argument("--cluster", action="store_true", help="the Redis URL is a Redis Cluster node")
    p.add_argument("--output-dir", metavar="DIR", help="directory of the JSONL files without --redis (default .)")
    p.add_argument("--sim", action="store_true", help="run against the built-in simulators")
    p.add_argument("--duration", type=positive_float, metavar="S", help="stop after S seconds")
    p.add_argument("--stats-interval", type=positive_float, metavar="S", help="seconds between stats lines (5)")
    p.add_argument("--maxlen", type=positive_int, metavar="N", help="MAXLEN ~ N per Redis stream (100000)")
    p.add_argument("--snapshot-every", type=positive_int, metavar="N", help="book snapshot every N deltas (1000)")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("tail", help="print what a reader of published Redis streams sees",
                       description="Read bpbfx streams from Redis: events as JSON lines, books as their top, gaps "
                       "loudly on stderr.")
    p.add_argument("url", metavar="URL", help="redis://host:port/db or redis+cluster://host:port")
    p.add_argument("streams", nargs="+", metavar="STREAM",
                   help="EXCHANGE:STREAM (backpack:depth.SOL_USDC, bitfinex:trades:tBTCUSD) or a key")
    p.add_argument("--start", default="latest", help="latest (books from their snapshot), earliest, or an entry id")
    p.add_argument("--group", help="read as a consumer group (XREADGROUP + XACK)")
    p.add_argument("--consumer", help="consumer name in --group (default: derived from the process)")
    p.add_argument("--cluster", action="store_true", help="the URL is a Redis Cluster node")
    p.add_argument("--duration", type=positive_float, metavar="S", help="stop after S seconds")
    p.add_argument("--max-events", type=positive_int, metavar="N", help="stop after N lines")
    p.set_defaults(func=cmd_tail)
