"""Benchmark of ``bpbfx collect --all-markets``: the whole simulated market of both exchanges
recorded on 1 and 2 workers, into Redis and into JSONL, and how the cost grows with the number
of streams.

Run ``python -m bpbfx.bench.collect`` (``--help`` for the knobs).  How it measures:

- The two simulators run **in their own processes** (one each, spawned), listing
  ``whole_market(n)`` markets, so that their ticking never shares the supervisor's GIL; every
  market records its default streams (Backpack ``trade`` + ``depth``, Bitfinex ``trades`` +
  ``book:P0:F0:25``).  ``redis-server`` (from PATH) runs on 127.0.0.1 with ``--save ""
  --appendonly no`` and is FLUSHALLed before each run; JSONL goes to a temporary directory.
- The collector is the real one (:class:`~bpbfx.collect.Collector`: discovery over REST,
  spawned workers, real WebSocket clients) pointed at the simulators' URLs, on this process's
  main thread pool; the Bitfinex connect budget is lifted (the simulator limits nothing)
  unless ``--budget`` asks for Bitfinex's real 20 connects per minute.
- **time to live**: seconds from the start of :meth:`Collector.run` (market lists read,
  workers spawned, every socket connected and subscribed) until every stream delivered data.
- Then a **window** of ``--window`` seconds: **events/s** (events the workers' clients
  delivered), **CPU ms per 1,000 events** (process CPU time of every worker, from their
  reports, plus this supervisor process's, over the window), **RSS per worker** (resident set
  at the end of the window, from ``/proc/self/statm``), and **gaps** (gap entries, dropped
  and lost entries and client errors over the whole run: 0 expected).

The simulators set the pace (a tick every 50 ms, a Zipf-like spread of activity), so events/s
is what the market produced; CPU per 1,000 events and RSS are the collector's costs.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..collect.budget import BITFINEX_CONNECT_LIMIT, NO_LIMIT
from ..collect.config import CollectConfig
from ..collect.markets import MarketSelection
from ..collect.supervisor import Collector
from .harness import machine_line

__all__ = ["Result", "main", "run_once", "sizes"]

PROG = "python -m bpbfx.bench.collect"


def sizes(streams: int) -> tuple[int, int]:
    """``(backpack markets, bitfinex pairs)`` for about ``streams`` streams (two per market):
    Backpack's share first (at most its 64), the rest Bitfinex pairs (at most 300)."""
    markets = max(2, streams // 2)
    backpack = min(64, max(1, markets // 5 * 2))
    return backpack, min(300, markets - backpack)


def _serve(exchange: str, count: int, conn: Any) -> None:
    """A simulator process: start, send the URLs, run until told, send its CPU seconds."""
    if exchange == "backpack":
        from ..sim.backpack import BackpackSimulator
        from ..sim.backpack import whole_market as backpack_market

        server: Any = BackpackSimulator(markets=backpack_market(count)).start()
    else:
        from ..sim.bitfinex import BitfinexSimulator
        from ..sim.bitfinex import whole_market as bitfinex_market

        server = BitfinexSimulator(markets=bitfinex_market(count)).start()
    conn.send((server.url, server.http_url))
    with contextlib.suppress(EOFError, OSError):
        conn.recv()
    server.stop()
    times = os.times()
    with contextlib.suppress(OSError):
        conn.send(times.user + times.system)


@contextlib.contextmanager
def simulators(backpack: int, bitfinex: int) -> Iterator[dict[str, tuple[str, str]]]:
    """Both simulators, each in its own process: ``{exchange: (ws url, http url)}``."""
    ctx = multiprocessing.get_context("spawn")
    running = []
    try:
        urls: dict[str, tuple[str, str]] = {}
        for exchange, count in (("backpack", backpack), ("bitfinex", bitfinex)):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(exchange, count, theirs), daemon=True)
            proc.start()
            running.append((proc, mine))
            urls[exchange] = mine.recv()
        yield urls
    finally:
        for proc, conn in running:
            with contextlib.suppress(OSError):
                conn.send("stop")
            proc.join(10)
            if proc.is_alive():
                proc.kill()


@dataclass(frozen=True)
class Result:
    """One run's figures (see the module docstring)."""

    streams: int
    markets: str
    workers: int
    sink: str
    live_seconds: float
    events_per_s: float
    cpu_ms_per_1k: float
    supervisor_share: float
    rss_mib_per_worker: float
    gaps: int


def run_once(urls: dict[str, tuple[str, str]], workers: int, redis_url: str | None, window: float,
             budget: bool = False, timeout: float = 300.0) -> Result:
    """One collector run against running simulators (see the module docstring).

    Raises:
        RuntimeError: not every stream went live within ``timeout`` seconds.
    """
    out = tempfile.mkdtemp(prefix="bpbfx-bench-collect-")
    config = CollectConfig(
        all_markets={e: MarketSelection(e) for e in ("backpack", "bitfinex")}, workers=workers, redis=redis_url,
        output_dir=out, urls={e: u[0] for e, u in urls.items()}, rest_urls={e: u[1] for e, u in urls.items()},
        proxy="none", stats_interval=3600, connect_limit=BITFINEX_CONNECT_LIMIT if budget else NO_LIMIT,
    )
    collector = Collector(config, out=open(os.devnull, "w"))  # closed below
    thread = threading.Thread(target=collector.run, name="bench-collector", daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        while True:
            s = collector.stats()
            if s.streams and s.live == s.streams and s.alive == s.workers:
                break
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"not every stream live after {timeout:.0f}s: {collector.status_line()}")
            time.sleep(0.05)  # polling the supervisor's aggregated reports (twice a second per worker)
        live = time.monotonic() - started
        first, cpu0 = collector.stats(), time.process_time()
        time.sleep(window)
        last, cpu1 = collector.stats(), time.process_time()
    finally:
        collector.stop()
        thread.join(60)
        collector.out.close()
        shutil.rmtree(out, ignore_errors=True)
    events = last.events - first.events
    cpu = (last.cpu - first.cpu) + (cpu1 - cpu0)
    markets = " + ".join(f"{n} {e}" for e, n in last.markets)
    return Result(
        streams=last.streams, markets=markets, workers=workers, sink="redis" if redis_url else "jsonl",
        live_seconds=live, events_per_s=events / window, cpu_ms_per_1k=1e6 * cpu / events if events else float("nan"),
        supervisor_share=(cpu1 - cpu0) / cpu if cpu > 0 else 0.0,
        rss_mib_per_worker=last.rss / workers / 2**20, gaps=last.data_gaps + last.dropped + last.lost + last.errors,
    )


def _flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushall()
    client.close()


def _row(r: Result) -> str:
    return (f"  {r.streams:>7} {r.markets:>22} {r.workers:>7} {r.sink:>5} {r.live_seconds:>8.1f} "
            f"{r.events_per_s:>9.0f} {r.cpu_ms_per_1k:>9.1f} {r.supervisor_share:>5.0%} {r.rss_mib_per_worker:>10.1f} "
            f"{r.gaps:>4}")


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the benchmark and print the table with how it was measured.

    Raises:
        SystemExit: from argument parsing (``--help``, or an invalid option).
    """
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--streams", type=int, nargs="*", default=[100, 300, 600],
                        help="stream counts of the growth runs (1 worker, Redis); default 100 300 600")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="workers of the full-market runs")
    parser.add_argument("--sinks", nargs="*", default=["redis", "jsonl"], choices=("redis", "jsonl"))
    parser.add_argument("--window", type=float, default=15.0, help="seconds measured per run (default 15)")
    parser.add_argument("--budget", action="store_true",
                        help="also one full-market run under Bitfinex's real connect budget (20 per 60 s)")
    args = parser.parse_args(argv)
    redis_server: Any = None
    if "redis" in args.sinks or args.streams:
        from ..sim.redis_server import start_redis

        redis_server = start_redis()
    print("bpbfx collect benchmark: every market of both simulated exchanges")
    print(f"  machine: {machine_line()}; Python {platform.python_version()}")
    print(f"  command: {prog} {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(f"  load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("  simulators in their own processes (50 ms ticks); streams: trade+depth / trades+book per market;")
    print(f"  window {args.window:g} s after every stream went live; CPU = workers + supervisor process "
          "((sup): the supervisor's share)")
    print()
    print(f"  {'streams':>7} {'markets (bp + bfx)':>22} {'workers':>7} {'sink':>5} {'live (s)':>8} "
          f"{'events/s':>9} {'CPU ms/1k':>9} {'(sup)':>5} {'RSS MiB/w':>10} {'gaps':>4}")
    try:
        plan: list[tuple[tuple[int, int], int, str, bool]] = []
        for streams in args.streams:
            plan.append((sizes(streams), 1, "redis", False))
        for workers in args.workers:
            for sink in args.sinks:
                plan.append(((64, 300), workers, sink, False))
        if args.budget:
            plan.append(((64, 300), max(args.workers or [1]), "redis", True))
        current: tuple[int, int] | None = None
        stack = contextlib.ExitStack()
        urls: dict[str, tuple[str, str]] = {}
        with stack:
            for size, workers, sink, budget in plan:
                if size != current:
                    stack.close()
                    urls = stack.enter_context(simulators(*size))
                    current = size
                url = redis_server.url if sink == "redis" else None
                if url is not None:
                    _flush(url)
                result = run_once(urls, workers, url, args.window, budget=budget)
                print(_row(result) + ("  (20 connects / 60 s)" if budget else ""), flush=True)
        print(f"  load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if redis_server is not None:
            redis_server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
