"""A collector worker process: one client per exchange, a Redis sink (or a JSONL recorder per
exchange), counters sent to the supervisor twice a second (see :mod:`bpbfx.collect`)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any

from ..base import BaseClient, Sink
from ..factory import make_client
from ..proxy import proxy_option
from .shard import WorkerSpec

__all__ = ["worker_main"]


class _Counting(Sink):
    """A sink that counts what a worker's clients deliver (the clients' threads)."""

    def __init__(self) -> None:
        self.events = 0
        self.books = 0
        self.errors = 0
        self.last_error = ""

    def on_event(self, client: Any, event: Any) -> None:
        self.events += 1

    def on_book(self, client: Any, update: Any) -> None:
        self.books += 1

    def on_error(self, client: Any, error: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{client.name}: {type(error).__name__}: {error}"


def worker_main(spec: WorkerSpec, reports: Any) -> None:
    """Entry point of a worker process: run the clients until SIGTERM; send counters twice a
    second through ``reports`` (the worker's own end of a one-way pipe: nothing is shared with
    other workers, so a worker killed mid-write cannot wedge the others).  Runs on the
    worker's main thread.

    The counters include ``writer_restarts``: the gap entries the sink wrote because the worker
    took over a stream an earlier writer left in Redis (an earlier run, or the worker's previous
    generation), counted by the sink itself (``SinkStats.gaps_by_reason``); and the trade
    backfill's ``trades_backfilled`` and ``trade_gaps`` (every client with a Backpack ``trade.*``
    or Bitfinex ``trades:t*`` stream fetches the trades a reconnect made it miss).  With
    ``spec.metrics`` a report also holds the metric ``samples`` of the worker's clients, sink
    and recorders (:mod:`bpbfx.metrics.samples`), read from their stats.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the supervisor decides
    halt = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: halt.set())

    counter = _Counting()
    clients: list[BaseClient] = []
    recorders: list[Any] = []
    sink: Any = None
    problems: list[str] = []
    for exchange, streams in spec.by_exchange().items():
        # Trades missed across reconnects are fetched again (Backpack trade.*, Bitfinex trades:t*).
        backfill = any(s.startswith(("trade.", "trades:t")) for s in streams)
        client = make_client(exchange, streams, url=spec.urls.get(exchange), rest_url=spec.rest_urls.get(exchange),
                             keys=spec.keys.get(exchange), on_error=lambda c, e: None,
                             name=f"w{spec.index}-{exchange}", proxy=proxy_option(spec.proxy), backfill_trades=backfill)
        client.add_sink(counter)
        clients.append(client)
    if spec.redis is not None:
        from ..sinks import RedisStreamSink

        sink = RedisStreamSink(spec.redis, cluster=spec.cluster, name=f"collect-w{spec.index}",
                               on_report=lambda s, exc: problems.append(f"{type(exc).__name__}: {exc}"), **spec.sink)
        for client in clients:
            client.add_sink(sink)
    else:
        from ..recording import Recorder

        for client in clients:
            path = spec.recording_path(client.exchange)
            path.parent.mkdir(parents=True, exist_ok=True)
            recorder = Recorder(path, client.exchange, client.subscriptions,  # type: ignore[attr-defined]
                                meta={"worker": spec.index})
            recorder.attach(client)
            recorders.append(recorder)

    def report(final: bool = False) -> None:
        s = sink.stats() if sink is not None else None
        gaps = s.gaps if s else 0
        data = {
            "worker": spec.index,
            "pid": os.getpid(),
            "events": counter.events,
            "books": counter.books,
            "errors": counter.errors,
            "written": s.written if s else sum(r.frames for r in recorders),
            "dropped": s.dropped if s else 0,
            "lost": s.lost if s else 0,
            "gaps": gaps,
            "writer_restarts": s.gaps_by_reason.get("writer_restart", 0) if s else 0,
            "queued": s.queued if s else 0,
            "connected": s.connected if s else True,
            "reconnects": sum(c.stats().reconnects for c in clients),
            "messages": sum(c.stats().messages for c in clients),
            "trades_backfilled": sum(c.stats().trades_backfilled for c in clients),
            "trade_gaps": sum(c.stats().trade_gaps for c in clients),
            "problems": problems[-3:],
            "last_error": counter.last_error,
            "final": final,
        }
        if spec.metrics:
            from ..metrics.samples import samples_of

            data["samples"] = samples_of(clients, [sink] if sink is not None else [], recorders=recorders)
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
