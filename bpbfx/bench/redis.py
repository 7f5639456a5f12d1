"""Benchmark of the Redis path: sink throughput, end-to-end latency, collector throughput, RSS.

Run ``python -m bpbfx.bench.redis`` (``--help`` for the knobs).  Without ``--redis`` it starts
its own ``redis-server`` (from PATH) on 127.0.0.1 and a free port with ``--save ""
--appendonly no``.  Every figure is printed with how it was obtained:

1. **sink throughput**: Backpack trade frames through ``BackpackClient.feed`` (the client's
   decode path) into an attached :class:`~bpbfx.sinks.RedisStreamSink`, as fast as the
   calling thread can; the clock stops when Redis has confirmed every entry (``flush``).
2. **end-to-end latency** at 1k and 10k events/s: the same frames fed at a steady pace (in
   bursts of one millisecond's worth, sleeping in between); a
   :class:`~bpbfx.sinks.RedisStreamReader` in *another process* records, per entry, its
   wall clock at ``on_message`` minus the entry's ``rt`` (the receive time the sink took on the
   client's reader thread).
3. **collector throughput** with 1 and 2 workers: ``bpbfx collect`` machinery (supervisor,
   spawned workers, real WebSocket clients) against local replay servers that loop Backpack
   trade frames as fast as possible (one server process and one stream per worker); entries confirmed
   by Redis per second, from the workers' reports, over a fixed window after a warm-up.
4. **worker RSS over 1M events**: one collector worker on the same looping replay, its
   resident set read from ``/proc/<pid>/status`` as it passes each 250k events.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .harness import cpu_model

__all__ = ["PROG", "main"]

PROG = "python -m bpbfx.bench.redis"
"""The program name the usage line shows when the module runs as a script."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def _redis_server() -> Iterator[str]:
    """A private ``redis-server`` for the benchmark; yields its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server not found on PATH (apt-get install redis-server), or pass --redis URL")
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                 "no", "--dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            import redis

            client = redis.Redis(port=port)
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)  # the server is starting: nothing else to wait on
            client.close()
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(10)


def _trade_frame(symbol: str, i: int, now_us: int) -> str:
    """A Backpack ``trade.<symbol>`` frame as the exchange writes it (strings for numbers)."""
    price = f"{142 + (i % 500) / 100:.2f}"
    data = {"e": "trade", "E": now_us, "s": symbol, "p": price, "q": f"{(i % 97 + 1) / 100:.2f}",
            "b": f"{i * 2}", "a": f"{i * 2 + 1}", "t": i, "T": now_us - 40, "m": i % 2 == 0}
    return json.dumps({"stream": f"trade.{symbol}", "data": data}, separators=(",", ":"))


def _flush_db(url: str) -> None:
    import redis

    r = redis.Redis.from_url(url)
    r.flushall()
    r.close()


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


# ------------------------------------------------------------------------------------ 1. throughput
def bench_sink(url: str, n: int) -> dict[str, float]:
    """Frames through client.feed into the sink until Redis confirmed them all."""
    from ..backpack.client import BackpackClient
    from ..sinks import RedisStreamSink

    _flush_db(url)
    now = time.time_ns() // 1000
    frames = [_trade_frame("SOL_USDC", i, now + i).encode() for i in range(n)]
    client = BackpackClient("ws://127.0.0.1:9", books=False)
    sink = RedisStreamSink(url, queue_size=n + 10, maxlen=n + 10)
    client.add_sink(sink)
    sink.flush(10)
    t0 = time.perf_counter()
    for frame in frames:
        client.feed(frame)
    fed = time.perf_counter() - t0
    assert sink.flush(300)
    total = time.perf_counter() - t0
    stats = sink.stats()
    client.close()
    sink.close()
    return {"events": n, "fed_per_s": n / fed, "through_per_s": n / total, "written": stats.written,
            "dropped": stats.dropped, "batches": stats.batches}


# ------------------------------------------------------------------------------------ 2. latency
def _latency_reader(url: str, stream: str, expected: int, conn: Any) -> None:
    """Spawned process: read ``expected`` entries and send back their latencies (µs)."""
    import threading

    from ..sinks import RedisStreamReader

    lat: list[int] = []
    done = threading.Event()

    def on_message(reader: Any, entry: Any) -> None:
        if entry.receive_time_us is not None:
            lat.append(time.time_ns() // 1000 - entry.receive_time_us)
        if len(lat) >= expected:
            done.set()

    reader = RedisStreamReader(url, [stream], on_message=on_message, start="earliest", block=0.05)
    reader.start()
    reader.wait_synced(10)
    conn.send("ready")
    done.wait(120)
    reader.close()
    conn.send(lat)
    conn.close()


def bench_latency(url: str, rate: int, seconds: float) -> dict[str, float]:
    """Paced frames through client.feed -> sink -> Redis -> reader in another process."""
    from ..backpack.client import BackpackClient
    from ..sinks import RedisStreamSink

    _flush_db(url)
    n = int(rate * seconds)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_latency_reader, args=(url, "backpack:trade.SOL_USDC", n, child), daemon=True)
    proc.start()
    if not parent.poll(30) or parent.recv() != "ready":
        raise RuntimeError("the latency reader did not start")
    client = BackpackClient("ws://127.0.0.1:9", books=False)
    sink = RedisStreamSink(url)
    client.add_sink(sink)
    burst = max(1, rate // 1000)  # events per millisecond: sleep between bursts, never spin
    t0 = time.perf_counter()
    for i in range(n):
        if i % burst == 0:
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        client.feed(_trade_frame("SOL_USDC", i, time.time_ns() // 1000).encode())
    sink.flush(30)
    if not parent.poll(60):
        raise RuntimeError("the latency reader did not finish")
    lat = sorted(parent.recv())
    proc.join(10)
    dropped = sink.stats().dropped
    client.close()
    sink.close()
    return {"rate": rate, "events": len(lat), "p50_ms": _percentile(lat, 0.5) / 1000,
            "p99_ms": _percentile(lat, 0.99) / 1000, "max_ms": (lat[-1] / 1000) if lat else float("nan"),
            "dropped": dropped}


# ------------------------------------------------------------------------------------ 3./4. collector
def _replay_proc(symbol: str, frames: int, conn: Any) -> None:
    """Spawned process: a replay server looping ``frames`` trade frames of ``symbol`` as fast
    as it can to each client, until told to stop."""
    from ..sim.replay import ReplayServer

    now = time.time_ns() // 1000
    server = ReplayServer([_trade_frame(symbol, i, now) for i in range(frames)], loop=True).start()
    conn.send(server.url)
    conn.recv()  # any message: stop
    server.stop()


@contextmanager
def _replays(workers: int, frames: int) -> Iterator[tuple[list[str], list[str]]]:
    """One replay server process per worker; yields (urls, streams)."""
    ctx = multiprocessing.get_context("spawn")
    procs, conns, urls, streams = [], [], [], []
    try:
        for w in range(workers):
            symbol = f"BENCH{chr(65 + w)}_USDC"
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_replay_proc, args=(symbol, frames, child), daemon=True)
            proc.start()
            procs.append(proc)
            conns.append(parent)
            if not parent.poll(30):
                raise RuntimeError("a replay server did not start")
            urls.append(parent.recv())
            streams.append(f"trade.{symbol}")
        yield urls, streams
    finally:
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.send("stop")
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


def _rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _run_collector(url: str, workers: int, until: Any, poll: float = 0.25) -> Any:
    """Run a Collector on looping replays until ``until(collector, elapsed)`` is true."""
    import threading

    from ..collect import CollectConfig, Collector

    _flush_db(url)
    with _replays(workers, 2000) as (servers, streams):
        config = CollectConfig(backpack=tuple(streams), workers=workers, redis=url, stats_interval=3600)
        collector = Collector(config, out=io.StringIO())
        original = collector._spawn

        def spawn(w: Any) -> None:  # one replay server (one stream) per worker
            import dataclasses

            w.spec = dataclasses.replace(w.spec, urls={"backpack": servers[w.spec.index]})
            original(w)

        collector._spawn = spawn  # type: ignore[method-assign]
        runner = threading.Thread(target=collector.run, daemon=True)
        t0 = time.monotonic()
        runner.start()
        result = None
        while runner.is_alive():
            time.sleep(poll)  # sampling the workers' reports at a fixed interval
            result = until(collector, time.monotonic() - t0)
            if result is not None:
                break
        collector.stop()
        runner.join(30)
        return result


def bench_collector(url: str, workers: int, warmup: float, window: float) -> dict[str, float]:
    """Entries written per second over ``window`` seconds after ``warmup``."""
    marks: dict[str, tuple[float, int, int]] = {}

    def until(collector: Any, elapsed: float) -> dict[str, float] | None:
        s = collector.stats()
        if "start" not in marks:
            if elapsed >= warmup and s.written > 0:
                marks["start"] = (elapsed, s.written, s.events)
            return None
        t, w, e = marks["start"]
        if elapsed - t >= window:
            return {"workers": workers, "written_per_s": (s.written - w) / (elapsed - t),
                    "events_per_s": (s.events - e) / (elapsed - t), "dropped": s.dropped, "window_s": elapsed - t}
        return None

    return _run_collector(url, workers, until) or {}


def bench_rss(url: str, events: int) -> dict[str, Any]:
    """RSS of one worker as it passes each quarter of ``events``."""
    samples: list[tuple[int, int]] = []
    peak = [0]
    t0 = [0.0]

    def until(collector: Any, elapsed: float) -> dict[str, Any] | None:
        w = collector.workers[0] if collector.workers else None
        pid = w.pid if w is not None else None
        if pid is None:
            return None
        rss = _rss_kb(pid)
        s = collector.stats()
        if rss is not None:
            peak[0] = max(peak[0], rss)
            step = events // 4
            while len(samples) < 5 and s.events >= len(samples) * step + (10_000 if not samples else 0):
                if not samples:
                    t0[0] = elapsed
                samples.append((s.events, rss))
        if len(samples) >= 5:
            return {"events": s.events, "samples": samples, "peak_kb": peak[0], "dropped": s.dropped,
                    "seconds": elapsed - t0[0]}
        if elapsed > 900:
            return {"events": s.events, "samples": samples, "peak_kb": peak[0], "dropped": s.dropped,
                    "seconds": elapsed - t0[0], "timeout": True}
        return None

    return _run_collector(url, 1, until, poll=0.2) or {}


# ------------------------------------------------------------------------------------ main
def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the benchmark and print the figures with how they were obtained.  ``prog``: the
    program name of the usage line and of the printed command.

    Raises:
        SystemExit: from argument parsing (``--help``, or an invalid option).
    """
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", metavar="URL",
                        help="a disposable Redis: it is FLUSHALLed between runs (default: start one)")
    parser.add_argument("--events", type=int, default=200_000, help="events for the sink throughput run")
    parser.add_argument("--latency-seconds", type=float, default=4.0, help="seconds per latency run")
    parser.add_argument("--window", type=float, default=8.0, help="seconds measured per collector run")
    parser.add_argument("--rss-events", type=int, default=1_000_000, help="events for the worker RSS run")
    parser.add_argument("--skip", nargs="*", default=(), choices=("sink", "latency", "collector", "rss"))
    args = parser.parse_args(argv)
    import redis as redis_py

    with _redis_server() if args.redis is None else _given(args.redis) as url:
        info = redis_py.Redis.from_url(url).info("server")
        print("bpbfx Redis benchmark")
        print(f"  machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
              f"redis-py {redis_py.__version__} ({_parser()} reply parser); redis-server {info.get('redis_version')} "
              "(--save '' --appendonly no)")
        print(f"  command: {prog} {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"  load average before: {load} (1/5/15 min; any other process shares the 2 cores)")
        if "sink" not in args.skip:
            r = bench_sink(url, args.events)
            print(f"\n1. sink throughput: {r['events']:,} Backpack trade frames via BackpackClient.feed -> "
                  "RedisStreamSink -> XADD pipelines (batches of 500), one thread feeding")
            print(f"   fed (decode + enqueue): {r['fed_per_s']:,.0f} events/s; through to Redis (until every entry "
                  f"was confirmed): {r['through_per_s']:,.0f} events/s; {r['batches']:,} batches, "
                  f"{r['dropped']} dropped")
        if "latency" not in args.skip:
            print(f"\n2. end-to-end latency: paced feed for {args.latency_seconds:g}s -> sink -> Redis -> "
                  "RedisStreamReader (XREAD BLOCK) in another process; on_message wall clock minus entry rt")
            for rate in (1_000, 10_000):
                r = bench_latency(url, rate, args.latency_seconds)
                print(f"   {rate:>6,} events/s: p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, max "
                      f"{r['max_ms']:.2f} ms over {r['events']:,} events ({r['dropped']} dropped)")
        if "collector" not in args.skip:
            print(f"\n3. collector throughput: supervisor + spawned workers, one Backpack trade stream per worker from "
                  f"a local replay server looping frames as fast as it can; {args.window:g}s window after 3s warm-up")
            for workers in (1, 2):
                r = bench_collector(url, workers, 3.0, args.window)
                print(f"   {workers} worker{'s' if workers > 1 else ' '}: {r.get('written_per_s', 0):,.0f} entries/s "
                      f"written ({r.get('events_per_s', 0):,.0f} events/s received, {r.get('dropped', 0)} dropped)")
            print("   (2 cores shared by the workers, the replay servers and redis-server)")
        if "rss" not in args.skip:
            rss = bench_rss(url, args.rss_events)
            print(f"\n4. worker RSS: one collector worker (BackpackClient + RedisStreamSink, MAXLEN ~100000) on a "
                  f"looping replay, /proc/<pid>/status VmRSS as it passed each quarter of {args.rss_events:,} events")
            row = ", ".join(f"{e:,}: {kb / 1024:.1f} MiB" for e, kb in rss.get("samples", []))
            late = " (TIMED OUT)" if rss.get("timeout") else ""
            print(f"   {row}; peak {rss.get('peak_kb', 0) / 1024:.1f} MiB; {rss.get('events', 0):,} events in "
                  f"{rss.get('seconds', 0):.0f}s, {rss.get('dropped', 0)} dropped{late}")
        print("\n  load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


def _parser() -> str:
    try:
        from redis.utils import HIREDIS_AVAILABLE
    except ImportError:  # pragma: no cover - other redis-py versions
        return "unknown"
    return "hiredis" if HIREDIS_AVAILABLE else "pure-Python"


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    sys.exit(main())
