"""Transport benchmark: messages per second, callback latency and memory of the clients.

Run ``python -m bpbfx.bench.throughput`` (or ``bpbfx bench``; ``--help`` for options).  A
benchmark, not a test: every figure is printed with how it was obtained.

Set-up.  A *blaster* (:mod:`bpbfx.bench.blaster`) runs in a separate process
(``multiprocessing``, spawn), so that it never competes for the client's GIL.  It is a minimal
WebSocket server on 127.0.0.1 written on plain sockets, with a plain and a TLS port: after the
handshake it writes pre-encoded, unmasked text frames straight into the TCP socket, in large
writes, so that the server is never the bottleneck.  What it sends is chosen by the URL path
(:mod:`bpbfx.bench.streams`).  Backpack frames have the recorded shape of ``trade.<symbol>``
data (``{"stream":"trade.SOL_USDC","data":{"e":"trade","E":..,"s":..,"p":..,"q":..,"b":..,
"a":..,"t":..,"T":..,"m":..}}``, 1,024 distinct frames cycled); Bitfinex frames are
``[CHAN,"te",[ID,MTS,AMOUNT,PRICE],SEQ]`` after an ``info``, ``conf`` and ``subscribed``
exchange and a trades snapshot.

Sections:

1. **throughput matrix** (:mod:`bpbfx.bench.matrix`, with a blaster of its own): trades and
   managed books of both exchanges, ws and wss, 1 and 4 sockets, against the bare
   ``WebSocketApp`` + ``json.loads`` loop with ``skip_utf8_validation=True`` in the same run,
   each figure with its target and the context switches per 1,000 messages;
2. **latency** at fixed rates (default 5,000 and 20,000 msg/s): the blaster writes
   ``time.monotonic_ns() // 1000`` into each frame's ``E`` just before sending it; the callback
   subtracts it from its own ``time.monotonic_ns() // 1000``.  CLOCK_MONOTONIC is one
   system-wide clock on Linux, so the two processes' readings are comparable (1 us resolution).
   The first 500 messages are discarded as warm-up.  bare, bpbfx on websocket-client's own
   reader, and bpbfx as shipped;
3. **memory**: resident set size (``VmRSS`` in ``/proc/self/status``) of this process before the
   client starts and every 100,000 messages while 1,000,000 messages go through
   ``BackpackClient``; "flat" means the growth from the first 100,000 messages to the end
   stays under 2 MiB.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .blaster import Blaster
from .harness import TIMEOUT, machine_line, stock_reader
from .matrix import run_matrix
from .streams import SYMBOL

__all__ = ["PROG", "main"]

PROG = "python -m bpbfx.bench.throughput"
"""The program name the usage line shows when the module runs as a script."""

_WARMUP = 500


# ================================================================================ measurements (this process)
def _latency_bpbfx(url: str, stock: bool = False) -> list[int]:
    from ..backpack.client import BackpackClient
    from ..backpack.events import Trade

    samples: list[int] = []
    clock = time.monotonic_ns
    done = threading.Event()
    expected = int(parse_qs(urlsplit(url).query)["n"][0])

    def on_message(client: Any, event: Any) -> None:
        if type(event) is Trade:
            samples.append(clock() // 1000 - event.event_time_us)
            if len(samples) >= expected:
                done.set()

    client = BackpackClient(url, streams=[f"trade.{SYMBOL}"], books=False, on_message=on_message)
    with stock_reader(stock):  # around start(): the client makes its connection there
        client.start()
    try:
        if not done.wait(TIMEOUT):
            raise RuntimeError(f"latency run: only {len(samples)} of {expected} messages")
    finally:
        client.close()
    return samples[_WARMUP:]


def _latency_bare(url: str) -> list[int]:
    import websocket

    samples: list[int] = []
    clock = time.monotonic_ns
    loads = json.loads
    done = threading.Event()
    expected = int(parse_qs(urlsplit(url).query)["n"][0])

    def on_message(ws: Any, message: Any) -> None:
        msg = loads(message)
        samples.append(clock() // 1000 - msg["data"]["E"])
        if len(samples) >= expected:
            done.set()
            ws.close()

    app = websocket.WebSocketApp(url, on_message=on_message)
    thread = threading.Thread(
        target=app.run_forever, kwargs={"skip_utf8_validation": True}, name="bare-latency", daemon=True
    )
    thread.start()
    try:
        if not done.wait(TIMEOUT):
            raise RuntimeError(f"bare latency run: only {len(samples)} of {expected} messages")
    finally:
        app.keep_running = False
        thread.join(10)
    return samples[_WARMUP:]


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _memory_run(url: str, n: int, every: int) -> tuple[int, list[tuple[int, int]]]:
    from ..backpack.client import BackpackClient
    from ..backpack.events import Trade

    before = _rss_kib()
    samples: list[tuple[int, int]] = []
    count = 0
    done = threading.Event()

    def on_message(client: Any, event: Any) -> None:
        nonlocal count
        if type(event) is Trade:
            count += 1
            if count % every == 0:
                samples.append((count, _rss_kib()))
                if count >= n:
                    done.set()

    client = BackpackClient(url, streams=[f"trade.{SYMBOL}"], books=False, on_message=on_message)
    client.start()
    try:
        if not done.wait(TIMEOUT * 3):
            raise RuntimeError(f"memory run: only {count} of {n} messages")
    finally:
        client.close()
    if not samples or samples[-1][0] != count:
        samples.append((count, _rss_kib()))
    return before, samples


# ================================================================================ report
def _percentile(sorted_values: Sequence[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def _versions() -> str:
    import websocket

    from .. import __version__, _json

    engine = _json.ENGINE
    if engine == "msgspec":
        import msgspec

        engine = f"msgspec {msgspec.__version__}"
    return (
        f"bpbfx {__version__}, Python {platform.python_version()} ({platform.python_implementation()}), "
        f"websocket-client {websocket.__version__}, JSON: {engine}"
    )


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the benchmark and print the report; returns the exit status (0, or 1 when a target
    is missed or a run could not complete).  ``prog``: the program name of the usage line
    (the ``bpbfx`` command passes ``"bpbfx bench"``).

    Raises:
        SystemExit: from argument parsing (``--help``, or an invalid option).
    """
    try:
        return _main(argv, prog)
    except (RuntimeError, OSError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1


def _main(argv: Sequence[str] | None, prog: str) -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Throughput matrix, latency and memory of bpbfx clients against a bare websocket-client loop.",
    )
    parser.add_argument(
        "--scale", type=float, default=0.6, help="multiplies every case's message count (1.0: 100,000 trades per run)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant (median reported)")
    parser.add_argument("--only", default="", metavar="TEXT", help="run only the matrix rows whose label contains TEXT")
    parser.add_argument("--rates", default="5000,20000", help="msg/s of the latency runs, comma-separated")
    parser.add_argument("--latency-seconds", type=float, default=3.0, help="length of each latency run")
    parser.add_argument("--latency-repeats", type=int, default=5, help="latency runs per variant (median reported)")
    parser.add_argument("--memory-messages", type=int, default=1_000_000, metavar="N", help="0 skips the memory run")
    args = parser.parse_args(argv)
    try:
        rates = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        parser.error(f"--rates must be numbers separated by commas, got {args.rates!r}")
    if args.scale <= 0 or args.repeats < 1 or args.latency_seconds <= 0 or any(r <= 0 for r in rates):
        parser.error("need --scale > 0, --repeats >= 1, --latency-seconds > 0 and rates > 0")

    def out(text: str = "") -> None:
        print(text, flush=True)

    out("bpbfx transport benchmark")
    out(f"  machine:  {machine_line()}")
    out(f"  software: {_versions()}")
    out("  method:   loopback 127.0.0.1; the server is a separate process (multiprocessing spawn) writing")
    out("            pre-encoded frames in large writes; wss: TLS on both sides with a self-signed certificate")
    out("            made for the run (ECDSA P-256, verified by the clients)")
    out("            bare  = WebSocketApp + run_forever(skip_utf8_validation=True) + json.loads in on_message")
    out("            stock reader = bpbfx reading through websocket-client's own reader (fast_receive=False)")
    out("            bpbfx = bpbfx as shipped (buffered receive); both bpbfx variants deliver typed events")
    out(f"            {args.repeats} runs per variant, interleaved bare/stock/bpbfx; median; rate = (N-1) / time")
    out("            from the 1st to the N-th counted frame; 4 sockets: sum over sockets, earliest 1st to latest")
    out("            N-th; books are managed (Bitfinex checksums verified on every cs frame); [ctx switches]:")
    out("            context switches of this process per 1,000 messages (getrusage), median of runs")
    out()
    started = time.monotonic()
    failures: list[str] = []
    out("Throughput (msg/s; ratio to bare in the same run)")
    rows = run_matrix(args.scale, args.repeats, out, only=args.only)
    for row in rows:
        if row.ratio < row.target():
            failures.append(f"{row.case.label} {'wss' if row.secure else 'ws'} {row.sockets} sock")
    out()
    with Blaster() as blaster:
        for rate in rates:
            count = int(rate * args.latency_seconds)
            out(
                f"Callback latency at {rate:,.0f} msg/s for {args.latency_seconds:g}s ({count:,} Backpack trades, "
                f"first {_WARMUP} dropped), sender's monotonic clock in the frame vs the callback's, 1 us resolution; "
                f"{args.latency_repeats} interleaved runs per variant, median p50/p99, max over all runs"
            )
            path = f"/bp/rate?n={count}&rate={rate:g}"
            variants: list[tuple[str, Callable[[str], list[int]]]] = [
                ("bare", _latency_bare),
                ("stock", lambda url: _latency_bpbfx(url, stock=True)),
                ("bpbfx", _latency_bpbfx),
            ]
            runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in variants}
            for _ in range(args.latency_repeats):
                for name, fn in variants:  # interleaved, like the throughput runs
                    lat = sorted(fn(blaster.url(path)))
                    worst = lat[-1] if lat else float("nan")
                    runs[name].append((_percentile(lat, 0.5), _percentile(lat, 0.99), worst))
            p99s: dict[str, float] = {}
            for name, _ in variants:
                p50 = statistics.median(r[0] for r in runs[name])
                p99s[name] = p99 = statistics.median(r[1] for r in runs[name])
                worst = max(r[2] for r in runs[name])
                each = ", ".join(f"{r[1]:.0f}" for r in runs[name])
                out(f"  {name:<6} p50 {p50:7.0f} us   p99 {p99:7.0f} us   max {worst:7.0f} us   (p99 per run: {each})")
            # Not worse than before: the median p99 within 10% of the stock reader's (run-to-run
            # scheduler noise on a shared machine is larger than that).
            met = p99s["bpbfx"] <= p99s["stock"] * 1.1
            out(f"  target p99 not worse than the stock reader's: {'met' if met else 'MISSED'}")
            if not met:
                failures.append(f"latency p99 at {rate:g} msg/s")
            out()

        if args.memory_messages > 0:
            m = args.memory_messages
            every = max(1, m // 10)
            out(f"Resident memory (VmRSS) of this process while {m:,} messages go through BackpackClient")
            before, samples = _memory_run(blaster.url(f"/bp/trade?n={m}"), m, every)
            out(f"  before start: {before / 1024:8.1f} MiB")
            for count_at, rss in samples:
                out(f"      after {count_at:>9,}: {rss / 1024:8.1f} MiB")
            growth = (samples[-1][1] - samples[0][1]) / 1024
            flat = growth < 2.0
            out(
                f"      growth from {samples[0][0]:,} to {samples[-1][0]:,} messages: {growth:+.2f} MiB   "
                f"target flat (< 2 MiB): {'met' if flat else 'MISSED'}"
            )
            if not flat:
                failures.append("memory")
            out()
    out(
        f"total time {time.monotonic() - started:.0f}s"
        + (f"; targets missed: {', '.join(failures)}" if failures else "; all targets met")
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
