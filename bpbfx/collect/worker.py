"""A collector worker process: one client per exchange, a Redis sink (or a JSONL recorder per
exchange), counters sent to the supervisor twice a second, and the supervisor's control
messages (markets listed or delisted while running) applied (see :mod:`bpbfx.collect`)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Any

from ..base import BaseClient, Sink
from ..factory import make_client
from ..proxy import proxy_option
from .budget import NO_LIMIT
from .shard import WorkerSpec

__all__ = ["worker_main"]

class _Counting(Sink):
    """A sink that counts what a worker's clients deliver, and which streams delivered (the
    clients' threads)."""

    def __init__(self) -> None:
        self.events = 0
        self.books = 0
        self.errors = 0
        self.last_error = ""
        self.seen: set[str] = set()

    def on_event(self, client: Any, event: Any) -> None:
        self.events += 1
        self.seen.add(event.stream)

    def on_book(self, client: Any, update: Any) -> None:
        self.books += 1

    def on_error(self, client: Any, error: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{client.name}: {type(error).__name__}: {error}"


def _rss() -> int:
    """This process's resident memory, bytes (0 where it cannot be read)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class _Run:
    """The clients, sink and recorders of one worker (its main thread, but the clients' own)."""

    def __init__(self, spec: WorkerSpec, problems: list[str]) -> None:
        self.spec = spec
        self.problems = problems
        self.counter = _Counting()
        self.clients: dict[str, BaseClient] = {}
        self.recorders: dict[str, Any] = {}
        self.sink: Any = None
        self.started = False
        self.pending_start: dict[str, float] = {}  # exchange -> monotonic time to start its client
        if spec.redis is not None:
            from ..sinks import RedisStreamSink

            self.sink = RedisStreamSink(spec.redis, cluster=spec.cluster, name=f"collect-w{spec.index}",
                                        on_report=lambda s, exc: problems.append(f"{type(exc).__name__}: {exc}"),
                                        **spec.sink)
        for exchange, streams in spec.by_exchange().items():
            self.add_client(exchange, streams)

    def add_client(self, exchange: str, streams: list[str]) -> BaseClient:
        """A new client of ``exchange`` wired to the counter and the sink or a recorder."""
        spec = self.spec
        # Trades missed across reconnects are fetched again, for every trade stream the client
        # has or is given later (Backpack trade.*, Bitfinex trades:t*).
        options: dict[str, Any] = {"backfill_trades": True}
        if exchange == "bitfinex":
            options["connect_limit"] = spec.connect_limit or NO_LIMIT  # None: the simulator, no budget
        client = make_client(exchange, streams, url=spec.urls.get(exchange), rest_url=spec.rest_urls.get(exchange),
                             keys=spec.keys.get(exchange), on_error=lambda c, e: None,
                             name=f"w{spec.index}-{exchange}", proxy=proxy_option(spec.proxy), **options)
        client.add_sink(self.counter)
        if self.sink is not None:
            client.add_sink(self.sink)
        else:
            from ..recording import Recorder

            path = spec.recording_path(exchange)
            path.parent.mkdir(parents=True, exist_ok=True)
            recorder = Recorder(path, exchange, client.subscriptions,  # type: ignore[attr-defined]
                                meta={"worker": spec.index})
            recorder.attach(client)
            self.recorders[exchange] = recorder
        self.clients[exchange] = client
        if self.started:
            client.start()
        return client

    def start(self) -> None:
        """Start every client (Bitfinex after ``connect_delay``)."""
        self.started = True
        for exchange, client in self.clients.items():
            if exchange == "bitfinex" and self.spec.connect_delay > 0:
                self.pending_start[exchange] = time.monotonic() + self.spec.connect_delay
            else:
                client.start()

    def tick(self) -> None:
        """Start the clients whose delay is over; flush the recorders."""
        now = time.monotonic()
        for exchange, at in list(self.pending_start.items()):
            if now >= at:
                del self.pending_start[exchange]
                self.clients[exchange].start()
        for recorder in self.recorders.values():
            recorder.flush()

    def control(self, message: dict[str, Any]) -> None:
        """Apply a supervisor message: ``{"op": "subscribe" | "unsubscribe", "exchange": ...,
        "streams": [...]}``.  A failure is reported, never raised."""
        op, exchange, streams = message.get("op"), str(message.get("exchange")), list(message.get("streams") or ())
        try:
            client = self.clients.get(exchange)
            if op == "subscribe":
                if client is None:
                    self.add_client(exchange, streams)
                else:
                    self._subscribe(client, streams)
            elif op == "unsubscribe" and client is not None:
                for stream in streams:
                    if hasattr(client, "unsubscribe"):
                        client.unsubscribe(stream)
            else:
                return
            recorder = self.recorders.get(exchange)
            if recorder is not None:
                recorder.write_event(op, None, streams=streams)
        except Exception as exc:  # noqa: BLE001 - a bad message must not stop the other streams
            self.problems.append(f"{op} {exchange} {streams[:3]}: {type(exc).__name__}: {exc}")

    @staticmethod
    def _subscribe(client: BaseClient, streams: list[str]) -> None:
        if client.exchange == "backpack":
            client.subscribe(*streams)  # type: ignore[attr-defined]
        else:
            for stream in streams:
                client.subscribe(stream)  # type: ignore[attr-defined]

    def report(self, final: bool = False) -> dict[str, Any]:
        """The counters the supervisor aggregates."""
        s = self.sink.stats() if self.sink is not None else None
        clients = list(self.clients.values())
        recorders = list(self.recorders.values())
        wanted = [stream for c in clients for stream in c.subscriptions]  # type: ignore[attr-defined]
        seen = self.counter.seen
        times = os.times()
        data = {
            "worker": self.spec.index,
            "pid": os.getpid(),
            "events": self.counter.events,
            "books": self.counter.books,
            "errors": self.counter.errors,
            "written": s.written if s else sum(r.frames for r in recorders),
            "dropped": s.dropped if s else 0,
            "lost": s.lost if s else 0,
            "gaps": s.gaps if s else 0,
            "writer_restarts": s.gaps_by_reason.get("writer_restart", 0) if s else 0,
            "queued": s.queued if s else 0,
            "connected": s.connected if s else True,
            "reconnects": sum(c.stats().reconnects for c in clients),
            "messages": sum(c.stats().messages for c in clients),
            "trades_backfilled": sum(c.stats().trades_backfilled for c in clients),
            "trade_gaps": sum(c.stats().trade_gaps for c in clients),
            "streams": len(wanted),
            "live": sum(1 for stream in wanted if stream in seen),
            "cpu": times.user + times.system,
            "rss": _rss(),
            "problems": self.problems[-3:],
            "last_error": self.counter.last_error,
            "final": final,
        }
        if self.spec.metrics:
            from ..metrics.samples import samples_of

            data["samples"] = samples_of(clients, [self.sink] if self.sink is not None else [], recorders=recorders)
        self.problems.clear()
        return data

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        if self.sink is not None:
            self.sink.close(5.0)
        for recorder in self.recorders.values():
            recorder.close()


def worker_main(spec: WorkerSpec, reports: Any, control: Any = None) -> None:
    """Entry point of a worker process: run the clients until SIGTERM; send counters twice a
    second through ``reports`` (the worker's own end of a one-way pipe: nothing is shared with
    other workers, so a worker killed mid-write cannot wedge the others) and apply the
    supervisor's messages read from ``control`` (the reading end of another one-way pipe, or
    ``None``): markets to subscribe or unsubscribe.  Runs on the worker's main thread.

    The counters include ``writer_restarts``: the gap entries the sink wrote because the worker
    took over a stream an earlier writer left in Redis (an earlier run, or the worker's previous
    generation), counted by the sink itself (``SinkStats.gaps_by_reason``); the trade
    backfill's ``trades_backfilled`` and ``trade_gaps`` (every client fetches the trades a
    reconnect made its trade streams miss); ``streams`` and
    ``live`` (how many of them delivered), ``cpu`` (process seconds) and ``rss`` (bytes).  With
    ``spec.metrics`` a report also holds the metric ``samples`` of the worker's clients, sink
    and recorders (:mod:`bpbfx.metrics.samples`), read from their stats.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the supervisor decides
    halt = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: halt.set())

    problems: list[str] = []
    run = _Run(spec, problems)

    def report(final: bool = False) -> None:
        data = run.report(final)
        with contextlib.suppress(OSError, ValueError):
            reports.send(data)

    try:
        run.start()
        next_report = time.monotonic() + 0.5
        while not halt.is_set():
            wait = max(0.0, next_report - time.monotonic())
            if control is not None and not control.closed:
                try:
                    if control.poll(wait):
                        run.control(control.recv())
                        continue
                except (EOFError, OSError):
                    control.close()  # the supervisor is gone: keep going until SIGTERM
            elif halt.wait(wait):
                break
            if time.monotonic() >= next_report:
                report()
                run.tick()
                next_report = time.monotonic() + 0.5
    finally:
        run.close()
        report(final=True)
        reports.close()
