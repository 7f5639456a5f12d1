"""The supervisor of ``bpbfx collect``: :class:`Collector` starts the simulators (``sim``) and
the worker processes, restarts a worker that dies, aggregates the workers' counters
(:class:`CollectorStats`), serves their metrics (``metrics_port``) and stops everything on
request (see :mod:`bpbfx.collect`)."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from ..exceptions import CredentialsError
from ..factory import EXCHANGES, ApiKeys, private_streams, resolve_keys, start_simulator
from .budget import BITFINEX_CONNECT_LIMIT, bitfinex_workers
from .config import CollectConfig
from .following import MarketChanges, MarketWatch, change_words
from .shard import MarketUnit, WorkerSpec, shard
from .worker import worker_main

if TYPE_CHECKING:
    from ..metrics import MetricsServer

__all__ = ["Collector", "CollectorStats", "WorkerStatus", "gap_words"]


@dataclass
class _Worker:
    spec: WorkerSpec
    process: Any = None
    conn: Any = None  # the supervisor's end of the worker's report pipe
    control: Any = None  # the supervisor's end of the worker's control pipe
    lived: float = 0.0  # how long the last generation ran
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0  # consecutive short lives, for the backoff
    restart_at: float | None = None
    last: dict[str, Any] = field(default_factory=dict)
    base: dict[str, float] = field(default_factory=dict)  # counters of earlier generations
    reported_at: float | None = None  # monotonic time of the last report

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def total(self, name: str) -> int:
        return int(self.base.get(name, 0)) + int(self.last.get(name, 0) or 0)

    def cpu(self) -> float:
        return float(self.base.get("cpu", 0.0)) + float(self.last.get("cpu", 0.0) or 0.0)


_SUMMED = ("events", "books", "errors", "written", "dropped", "lost", "gaps", "reconnects", "messages", "resumed",
           "restart_gaps", "trades_backfilled", "trade_gaps")


@dataclass(frozen=True)
class CollectorStats:
    """Aggregated counters of every worker generation (see :meth:`Collector.stats`).

    ``gaps`` counts every gap entry written; of those, ``resumed`` mark streams taken over
    from an earlier run (a writer restart: nothing of this run is missing) and
    ``restart_gaps`` streams taken over from a worker of this run that died (what arrived
    while it was down is missing); :attr:`data_gaps` are the rest (queue overflow, Redis
    trouble, book rebuilds after a lost connection or a failed check).  ``trades_backfilled``
    and ``trade_gaps`` are the clients' trade backfill counters (``ClientStats``).

    ``streams``: streams the workers hold now, ``live``: how many of them delivered data;
    ``markets``: ``(exchange, count)`` of the markets recorded with ``all_markets``; ``cpu``:
    process seconds of every worker generation; ``rss``: resident bytes of the live workers.
    """

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
    resumed: int = 0
    restart_gaps: int = 0
    trades_backfilled: int = 0
    trade_gaps: int = 0
    streams: int = 0
    live: int = 0
    markets: tuple[tuple[str, int], ...] = ()
    cpu: float = 0.0
    rss: int = 0

    @property
    def data_gaps(self) -> int:
        """Gaps that mark data this run missed (not a stream resumed from an earlier run)."""
        return max(0, self.gaps - self.resumed - self.restart_gaps)


@dataclass(frozen=True)
class WorkerStatus:
    """One worker as the supervisor sees it (see :meth:`Collector.worker_status`).

    Attributes:
        index: the worker's number (``0``, ``1``, ...).
        pid: its process id (None before it started).
        alive: its process is running.
        restarts: times it was restarted.
        report_age: seconds since its last report (None before the first); a worker reports
            twice a second.
        report: its last report (empty while it is down): counters, and with ``metrics_port``
            its metric ``samples``.
    """

    index: int
    pid: int | None
    alive: bool
    restarts: int
    report_age: float | None
    report: Mapping[str, Any]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def gap_words(s: CollectorStats) -> str:
    """``gaps N (...)``: the gap count with what the gaps are, e.g. ``gaps 2 (2 writer
    restarts, no data lost)``."""
    if s.gaps == 0:
        return "gaps 0"
    parts = []
    if s.resumed:
        parts.append(_plural(s.resumed, "writer restart"))
    if s.restart_gaps:
        parts.append(f"{s.restart_gaps} after a worker restart")
    if s.data_gaps:
        parts.append(_plural(s.data_gaps, "data gap"))
    if not (s.restart_gaps or s.data_gaps or s.dropped or s.lost):
        parts.append("no data lost")
    return f"gaps {s.gaps} ({', '.join(parts)})"


class Collector:
    """The supervisor of ``bpbfx collect`` (see :mod:`bpbfx.collect`).

    Args:
        config: what to run.
        out: where stats and reports go (stderr).
        on_report: ``(text)`` for every supervisor report (worker died, restarted, ...), in
            addition to ``out``.
        keys: API keys per exchange for private streams (default: the environment's, or with
            ``sim`` generated test accounts, admitted to the simulators).

    Use :meth:`run` (blocks; the caller's thread) and :meth:`stop` (any thread).  With
    ``metrics_port`` in the config, :meth:`run` serves the metrics of the supervisor and every
    worker (:meth:`serve_metrics`).
    """

    def __init__(self, config: CollectConfig, *, out: IO[str] | None = None,
                 on_report: Callable[[str], None] | None = None, keys: Mapping[str, ApiKeys] | None = None) -> None:
        self.config = config
        self.out = out if out is not None else sys.stderr
        self.on_report = on_report
        self.keys = dict(keys or {})
        self._ctx = multiprocessing.get_context("spawn")
        self._stop = threading.Event()
        self._sims: list[Any] = []
        self.workers: list[_Worker] = []
        self._started = 0.0
        self._lock = threading.Lock()
        self.metrics: MetricsServer | None = None
        """The ``/metrics`` endpoint while :meth:`serve_metrics` serves it."""
        self.watch: MarketWatch | None = None
        """The markets of ``all_markets`` and where they are recorded (while :meth:`run` runs)."""
        self._loads: list[float] = []
        self._eligible: dict[str, int] = {}

    # ------------------------------------------------------------------ public
    def run(self) -> CollectorStats:
        """Start simulators (``sim``) and workers, supervise until :meth:`stop`, ``duration``
        or an interrupt, then stop everything; returns the final stats.  The caller's thread
        (the main thread for signals).  KeyboardInterrupt and other BaseExceptions propagate
        after the workers were stopped.

        With ``all_markets`` the market lists are read first (:class:`MarketWatch`), then every
        ``markets_refresh`` seconds: new markets are placed on the least loaded worker and
        delisted ones unsubscribed, reported as ``+2 markets (...), -1 (...)``.

        Raises:
            CredentialsError: private streams and no keys (nor ``sim``), or malformed keys.
            MarketListError: ``all_markets`` and a market list could not be read at start.
            ImportError: ``sim`` without the simulators' ``websockets`` package, or
                ``metrics_port`` without ``prometheus_client``.
            OSError: a simulator or the metrics endpoint could not bind its port.
        """
        self._started = time.monotonic()
        try:
            if self.config.metrics_port is not None:
                self.serve_metrics()
            keys = self._keys()
            urls, rest = self._endpoints(keys)
            units = self._discover(rest)
            limit = self.connect_limit()
            specs = shard(self.config, urls, rest, keys, markets=units, connect_limit=limit)
            self.workers = [_Worker(spec) for spec in specs]
            self._plan(specs, units, limit)
            for w in self.workers:
                self._spawn(w)
            where = self.config.redis or f"JSONL files in {self.config.output_dir}"
            streams = sum(len(spec.streams) for spec in specs)
            markets = f" of {self._market_words()}" if self.watch is not None else ""
            self.report(f"{len(self.workers)} workers, {streams} streams{markets} -> {where}")
            if self.watch is not None:
                self.watch.start(self.config.markets_refresh)
            next_stats = time.monotonic() + self.config.stats_interval
            deadline = None if self.config.duration is None else self._started + self.config.duration
            while not self._stop.is_set():
                self._drain(0.2)
                now = time.monotonic()
                self._supervise(now)
                if self.watch is not None:
                    self._follow_markets()
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
            streams = sum(len(w.spec.streams) for w in self.workers)
            live = sum(int(w.last.get("live", 0) or 0) for w in self.workers)
            cpu = sum(w.cpu() for w in self.workers)
            rss = sum(int(w.last.get("rss", 0) or 0) for w in self.workers)
            markets = tuple(self.watch.counts().items()) if self.watch is not None else ()
        return CollectorStats(workers=len(self.workers), alive=alive, restarts=restarts, events=totals["events"],
                              books=totals["books"], written=totals["written"], dropped=totals["dropped"],
                              lost=totals["lost"], gaps=totals["gaps"], errors=totals["errors"],
                              reconnects=totals["reconnects"], elapsed=time.monotonic() - self._started,
                              resumed=totals["resumed"], restart_gaps=totals["restart_gaps"],
                              trades_backfilled=totals["trades_backfilled"], trade_gaps=totals["trade_gaps"],
                              streams=streams, live=live, markets=markets, cpu=cpu, rss=rss)

    def worker_status(self) -> list[WorkerStatus]:
        """Every worker's state and last report (any thread)."""
        now = time.monotonic()
        with self._lock:
            return [
                WorkerStatus(index=w.spec.index, pid=w.pid, alive=w.process is not None and w.process.is_alive(),
                             restarts=w.restarts, report_age=None if w.reported_at is None else now - w.reported_at,
                             report=w.last)
                for w in self.workers
            ]

    def serve_metrics(self) -> MetricsServer:
        """Serve the Prometheus metrics of the supervisor and its workers on the config's
        ``metrics_addr``:``metrics_port`` (any free port when it is None; idempotent;
        :meth:`run` calls it, a caller may call it first to handle its errors; closed when
        :meth:`run` ends).  Calling thread; scrapes run on the HTTP server's threads.

        Raises:
            ImportError: ``prometheus_client`` is not installed (``pip install 'bpbfx[metrics]'``).
            OSError: the port cannot be bound.
        """
        if self.metrics is None:
            from ..metrics import serve_metrics
            from ..metrics.workers import WorkersSource

            self.metrics = serve_metrics(self.config.metrics_port or 0, addr=self.config.metrics_addr,
                                         sources=[WorkersSource(self)])
            self.report(f"metrics at {self.metrics.url}")
        return self.metrics

    def status_line(self) -> str:
        """One line of aggregated stats."""
        s = self.stats()
        rate = s.written / s.elapsed if s.elapsed > 0 else 0.0
        what = "entries" if self.config.redis else "frames"
        markets = ""
        if s.markets:
            markets = f"markets {' + '.join(f'{e} {n}' for e, n in s.markets)}, streams live {s.live}/{s.streams}; "
        return (f"collect [{s.elapsed:7.1f}s] workers {s.alive}/{s.workers} up, restarts {s.restarts}; {markets}"
                f"events {s.events}, book updates {s.books}, {what} written {s.written} ({rate:.0f}/s), "
                f"dropped {s.dropped}, lost {s.lost}, {gap_words(s)}, reconnects {s.reconnects}, errors {s.errors}")

    def report(self, text: str) -> None:
        """A supervisor message on ``out`` (and ``on_report``)."""
        with contextlib.suppress(OSError, ValueError):
            self.out.write(f"collect: {text}\n")
            self.out.flush()
        if self.on_report is not None:
            self.on_report(text)

    def connect_limit(self) -> tuple[int, float] | None:
        """The Bitfinex connection budget the workers share: the config's, else Bitfinex's
        20 per minute, except on the built-in simulator (which limits nothing): ``None``."""
        if self.config.connect_limit is not None:
            return self.config.connect_limit
        if self.config.sim and "bitfinex" not in self.config.urls:
            return None
        return BITFINEX_CONNECT_LIMIT

    # ------------------------------------------------------------------ markets
    def _discover(self, rest: dict[str, str]) -> list[MarketUnit]:
        if not self.config.all_markets:
            return []
        self.watch = MarketWatch(self.config.all_markets, rest_urls=rest, proxy=self.config.proxy)
        return self.watch.discover()

    def _plan(self, specs: list[WorkerSpec], units: list[MarketUnit], limit: tuple[int, float] | None) -> None:
        """Remember where the markets went and how loaded each worker is."""
        n = len(specs)
        self._eligible = {"bitfinex": bitfinex_workers(n, limit)}
        if self.watch is None:
            return
        worker_of = {item: spec.index for spec in specs for item in spec.streams}
        self.watch.place(units, worker_of)
        self._loads = [0.0] * n
        in_units = {(u.exchange, s) for u in units for s in u.streams}
        for spec in specs:
            self._loads[spec.index] = float(sum(1 for item in spec.streams if item not in in_units))
        for worker, unit in (v for placed in self.watch.placed.values() for v in placed.values()):
            self._loads[worker] += unit.weight * len(unit.streams)

    def _market_words(self) -> str:
        assert self.watch is not None
        return " + ".join(f"{n} {e} markets" for e, n in self.watch.counts().items())

    def _follow_markets(self) -> None:
        """Apply the market lists read since the last call: subscribe new markets on their
        worker, unsubscribe delisted ones (supervisor thread)."""
        assert self.watch is not None
        changes, failures = self.watch.poll(self._loads, self._eligible)
        for failure in failures:
            self.report(f"{failure.message}; keeping the markets recorded")
        if changes:
            self._apply(changes)
            self.report(change_words(changes))

    def _apply(self, changes: MarketChanges) -> None:
        messages: dict[int, list[dict[str, Any]]] = {}
        for op, pairs in (("unsubscribe", changes.removed), ("subscribe", changes.added)):
            for worker, unit in pairs:
                w = self.workers[worker]
                items = [(unit.exchange, s) for s in unit.streams]
                with self._lock:
                    if op == "subscribe":
                        streams = (*w.spec.streams, *items)
                    else:
                        streams = tuple(item for item in w.spec.streams if item not in items)
                    w.spec = dataclasses.replace(w.spec, streams=streams)
                messages.setdefault(worker, []).append({"op": op, "exchange": unit.exchange,
                                                        "streams": list(unit.streams)})
        for worker, batch in messages.items():
            w = self.workers[worker]
            if w.control is None:
                continue  # restarting: its next generation starts with the new streams
            try:
                for message in batch:
                    w.control.send(message)
            except (OSError, ValueError):
                pass  # it died meanwhile: its restart starts with the new streams

    # ------------------------------------------------------------------ internals
    def _keys(self) -> dict[str, ApiKeys]:
        """Keys per exchange for the private streams (given, environment, or generated)."""
        keys = dict(self.keys)
        for exchange in EXCHANGES:
            streams = self.config.streams_of(exchange)
            if exchange in keys or not private_streams(exchange, streams):
                continue
            found = resolve_keys(exchange, streams, sim=self.config.sim and exchange not in self.config.urls)
            if found is None:
                raise CredentialsError(f"the {exchange} streams {private_streams(exchange, streams)} need API keys")
            keys[exchange] = found
        return keys

    def _endpoints(self, keys: dict[str, ApiKeys]) -> tuple[dict[str, str], dict[str, str]]:
        urls, rest = dict(self.config.urls), dict(self.config.rest_urls)
        if self.config.sim:
            for exchange in EXCHANGES:
                streams = self.config.streams_of(exchange)
                whole = exchange in self.config.all_markets
                if (streams or whole) and exchange not in urls:
                    sim = start_simulator(exchange, streams, keys=keys.get(exchange), whole_market=whole)
                    self._sims.append(sim)
                    urls[exchange] = sim.url
                    if getattr(sim, "http_url", None):
                        rest[exchange] = sim.http_url
                    self.report(f"{exchange} simulator at {sim.url}")
        return urls, rest

    def _spawn(self, w: _Worker) -> None:
        receiver, sender = self._ctx.Pipe(duplex=False)
        orders, control = self._ctx.Pipe(duplex=False)  # supervisor -> worker: markets to (un)subscribe
        process = self._ctx.Process(target=worker_main, args=(w.spec, sender, orders),
                                    name=f"bpbfx-collect-w{w.spec.index}", daemon=True)
        process.start()
        sender.close()  # the worker holds the only writing end: EOF here means it is gone
        orders.close()
        if w.control is not None:
            w.control.close()
        with self._lock:
            w.process = process
            w.conn = receiver
            w.control = control
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
        restart_gaps = int(data.get("writer_restarts", 0) or 0)
        # A first-generation worker takes over what an earlier run left; a restarted one
        # what its dead predecessor left.
        data["resumed"], data["restart_gaps"] = (restart_gaps, 0) if w.spec.generation == 0 else (0, restart_gaps)
        with self._lock:
            if w.pid != data.get("pid"):
                return  # a report of an earlier generation arriving late
            w.last = data
            w.reported_at = time.monotonic()
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
            lived = w.lived = now - w.started_at
            code = process.exitcode
            with self._lock:
                for name in _SUMMED:
                    w.base[name] = w.total(name)
                w.base["cpu"] = w.cpu()
                w.last = {}
                w.reported_at = None
            w.failures = 1 if lived >= self.config.restart_backoff.reset_after else w.failures + 1
            delay = self.config.restart_backoff.delay(w.failures)
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
            self.report(f"worker {w.spec.index} (pid {process.pid}) {how} after {lived:.1f}s; "
                        f"restarting in {delay:.2f}s")
            w.restart_at = now + delay

    def _restart(self, w: _Worker) -> None:
        w.restarts += 1
        # The dead generation's connects still count against the worker's share for a period.
        limit = w.spec.connect_limit
        delay = max(0.0, limit[1] - w.lived) if limit is not None else 0.0
        w.spec = dataclasses.replace(w.spec, generation=w.restarts, connect_delay=delay)
        self._spawn(w)
        self.report(f"worker {w.spec.index} restarted (pid {w.pid}, restart {w.restarts})")

    def _shutdown(self) -> None:
        if self.watch is not None:
            self.watch.stop()
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
            if w.control is not None:
                w.control.close()
                w.control = None
        for sim in self._sims:
            with contextlib.suppress(Exception):
                sim.stop()
        self._sims.clear()
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None
