"""Tick-to-order latency: a trade frame arrives, the bot's callback submits an order, and the
time until the order's bytes reach the exchange is measured, for bpbfx and for the bare bot a
user would write without it, in the same run.

Run ``bpbfx bench latency`` (or ``python -m bpbfx.bench.latency``; ``--help`` for options).  A
benchmark, not a test: every figure is printed with how it was obtained.

Set-up.  A lean exchange (:mod:`bpbfx.bench.latency_server`: the loop and the process;
:mod:`~bpbfx.bench.latency_run`: pacing, triggers and matching; :mod:`~bpbfx.bench.latency_sessions`:
the venues' sessions; :mod:`~bpbfx.bench.latency_inbox`: reading; :mod:`~bpbfx.bench.latency_wire`:
what is said) runs in a separate process
(``multiprocessing``, spawn) so that it never competes with the client under test for a GIL;
the client under test runs in this process, one at a time.  The server streams background
market data at a fixed rate (Bitfinex: ``te`` trades and P0 book updates each followed by its
``cs`` checksum; Backpack: ``trade`` frames and ``depth`` deltas; none in the idle case), and
sends trigger trades spaced at random within ``--spacing``.  It stamps each trigger with
``time.perf_counter_ns()`` just before writing it, and each order when its loop wakes up with the
order's first byte to read: latency = arrival - sent, both readings taken by one thread of one
process (CLOCK_MONOTONIC on Linux), so no clock is compared across processes.

The bots (:mod:`bpbfx.bench.latency_bpbfx`, :mod:`bpbfx.bench.latency_bare`):

- Bitfinex, an order over the WebSocket (``[0,"on",null,{...}]`` on the authenticated socket):
  ``BitfinexClient`` with keys, ``on_message`` -> ``client.submit_order(...)``, against
  ``websocket.create_connection(..., skip_utf8_validation=True)`` + ``json.loads`` +
  ``ws.send(json.dumps(order))``;
- Backpack, an order over REST (a signed ``POST /api/v1/order`` on a keep-alive connection):
  ``BackpackClient`` with keys, ``on_message`` -> ``client.submit_order(...)``, against the
  same bare loop + an ED25519-signed request on a kept-open ``http.client.HTTPConnection``.

Each cell (venue, background rate) runs ``--rounds`` rounds, the two bots alternating (bare
first in even rounds), ``--samples`` / ``--rounds`` counted triggers per round after
``--warmup`` uncounted ones; the samples of a cell are pooled.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from .harness import machine_line
from .latency_bare import BareBackpack, BareBitfinex, Health
from .latency_bpbfx import BpbfxBackpack, BpbfxBitfinex
from .latency_run import RunResult, RunSpec
from .latency_server import LatencyServer
from .latency_wire import BF_ORDER_AMOUNT, BF_TRIGGER_AMOUNT, BP_ORDER_QUANTITY, BP_TRIGGER_QUANTITY

__all__ = ["PROG", "TARGET", "main"]

PROG = "python -m bpbfx.bench.latency"
"""The program name the usage line shows when the module runs as a script."""

TARGET = 1.2
"""bpbfx / bare at p50, p90 and p99, at most."""

VARIANTS = ("bare", "bpbfx")
_TITLES = {
    "bitfinex": 'Bitfinex: te trade -> on_message -> submit_order -> [0,"on",null,{...}] on the authenticated socket',
    "backpack": "Backpack: trade frame -> on_message -> submit_order -> signed POST /api/v1/order (keep-alive)",
}
_READY_TIMEOUT = 20.0


class Cell:
    """The rounds of one bot in one (venue, rate) cell: the server's result and the bot's health
    of each."""

    def __init__(self) -> None:
        self.rounds: list[tuple[RunResult, Health]] = []

    def add(self, result: RunResult, health: Health) -> None:
        """One more round."""
        self.rounds.append((result, health))

    def samples(self, last_byte: bool = False) -> list[float]:
        """The latencies of every round, in microseconds (to the first byte, or the last)."""
        return [ns / 1000 for r, _ in self.rounds for ns in (r.last_byte if last_byte else r.first_byte)]


def percentiles(values: Sequence[float]) -> tuple[float, float, float, float]:
    """p50, p90, p99 (linear interpolation between closest ranks) and the maximum."""
    if len(values) < 2:
        one = values[0] if values else float("nan")
        return one, one, one, one
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[89], cuts[98], max(values)


class _Keys:
    """Throw-away keys of one benchmark run (the server checks the Bitfinex HMAC and the
    Backpack ED25519 signatures made with them)."""

    def __init__(self) -> None:
        self.bf_key = secrets.token_hex(16)
        self.bf_secret = secrets.token_hex(32)
        self.bp_secret = base64.b64encode(os.urandom(32)).decode()


def _bot(variant: str, venue: str, server: LatencyServer, keys: _Keys, books: bool) -> Any:
    url = server.url(venue)
    if venue == "bitfinex":
        if variant == "bare":
            return BareBitfinex(url, keys.bf_key, keys.bf_secret, float(BF_TRIGGER_AMOUNT), BF_ORDER_AMOUNT)
        return BpbfxBitfinex(url, keys.bf_key, keys.bf_secret, books)
    if variant == "bare":
        return BareBackpack(url, server.rest_url, keys.bp_secret, float(BP_TRIGGER_QUANTITY), BP_ORDER_QUANTITY)
    return BpbfxBackpack(url, server.rest_url, keys.bp_secret, books)


def run_round(
    server: LatencyServer, spec: RunSpec, variant: str, keys: _Keys, books: bool = True
) -> tuple[RunResult, Health]:
    """One round of one bot: arm the server, start the bot, go, collect, stop.

    Raises:
        RuntimeError: the bot was not ready in time, or the run did not end in time.
    """
    server.arm(spec)
    bot = _bot(variant, spec.venue, server, keys, books)
    arrived = 0
    try:
        bot.start(_READY_TIMEOUT)
        server.go()
        result = server.result((spec.warmup + spec.triggers) * spec.spacing[1] + 30.0)
        arrived = spec.warmup + spec.triggers - result.missing + result.unmatched
    finally:
        health = bot.stop(arrived)
    return result, health


def _versions() -> str:
    import websocket

    from .. import __version__, _json

    return (
        f"bpbfx {__version__}, Python {platform.python_version()} ({platform.python_implementation()}), "
        f"websocket-client {websocket.__version__}, JSON: {_json.ENGINE}"
    )


def _load() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def _rate_label(rate: float) -> str:
    return "idle" if rate == 0 else f"{rate:,.0f} msg/s"


def _parse(argv: Sequence[str] | None, prog: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Tick-to-order latency of bpbfx against bare websocket-client bots, both venues, on a local "
        "exchange server in a separate process.",
    )
    parser.add_argument("--venue", choices=("both", "bitfinex", "backpack"), default="both", help="default both")
    parser.add_argument("--rates", help="background msg/s of the cells, comma-separated; 0 = idle "
                        "(default 0,1000,10000; with --quick 0,1000)")
    parser.add_argument("--samples", type=int, default=1000, help="counted orders per bot per cell (default 1000)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating bare/bpbfx rounds per cell (default 4)")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted triggers at the start of each round")
    parser.add_argument("--spacing", default="20-50", metavar="LO-HI",
                        help="milliseconds between triggers, drawn uniformly (default 20-50)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the trigger spacing")
    parser.add_argument("--no-books", action="store_true",
                        help="bpbfx bots without managed books (book frames still decoded and delivered): what the "
                        "verified book costs")
    parser.add_argument("--server-in-process", action="store_true",
                        help="serve on a thread of this process instead of a process of its own, sharing the GIL "
                        "with the bot under test (shows what that does to the figures; not the default)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in seconds: 10 samples, 1 round, 3 warm-up triggers, 5-10 ms spacing, "
                        "rates 0,1000 unless given; figures not judged")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.rounds, args.warmup, args.spacing = 10, 1, 3, "5-10"
    if args.rates is None:
        args.rates = "0,1000" if args.quick else "0,1000,10000"
    try:
        args.rate_list = [float(r) for r in args.rates.split(",") if r.strip()]
        lo, hi = (float(x) / 1000 for x in args.spacing.split("-"))
    except ValueError:
        parser.error(f"--rates takes numbers separated by commas and --spacing LO-HI milliseconds, got "
                     f"{args.rates!r} and {args.spacing!r}")
    args.spacing_s = (lo, hi)
    if (not args.rate_list or any(r < 0 for r in args.rate_list) or args.samples < 1 or args.rounds < 1
            or args.warmup < 0 or not 0 < lo <= hi):
        parser.error("need rates >= 0, --samples >= 1, --rounds >= 1, --warmup >= 0 and 0 < LO <= HI")
    return args


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the benchmark and print the report; returns the exit status (0; 1 when a run
    failed or, outside ``--quick``, a target was missed).  ``prog``: the program name of the
    usage line (``bpbfx bench latency`` passes its own).

    Raises:
        SystemExit: from argument parsing (``--help``, or an invalid option).
    """
    args = _parse(argv, prog)
    try:
        return _run(args)
    except (RuntimeError, OSError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    def out(text: str = "") -> None:
        print(text, flush=True)

    venues = ("bitfinex", "backpack") if args.venue == "both" else (args.venue,)
    per_round = [args.samples // args.rounds + (1 if i < args.samples % args.rounds else 0) for i in range(args.rounds)]
    lo, hi = args.spacing_s
    out("bpbfx tick-to-order latency benchmark")
    out(f"  machine:   {machine_line()}; load average {_load()} at the start")
    out(f"  software:  {_versions()}")
    where = ("on a thread of this process (--server-in-process: it shares the GIL with the bot)"
             if args.server_in_process else "in its own process (multiprocessing spawn)")
    out(f"  processes: the exchange server {where}, one select loop; the bot under test in this")
    out(f"             process (pid {os.getpid()}), one at a time; loopback 127.0.0.1, TCP_NODELAY")
    out("  measured:  server-side, one clock: perf_counter_ns() just before the trigger frame's write, and when")
    out("             the server's loop wakes up with the order's first byte to read; latency = arrival - sent")
    out(f"  samples:   {args.samples:,} counted orders per bot per cell, in {args.rounds} alternating round(s) "
        f"(bare first in even rounds), {args.warmup} uncounted warm-up trigger(s) per round; triggers every "
        f"{lo * 1000:g}-{hi * 1000:g} ms (uniform, seed {args.seed})")
    out("  bare:      websocket.create_connection(skip_utf8_validation=True) + json.loads per frame; Bitfinex:")
    out("             ws.send(json.dumps(order)); Backpack: ED25519-signed POST on a kept-open http.client connection")
    books = "books not managed (--no-books)" if args.no_books else "books managed"
    out(f"  bpbfx:     the client with keys, {books}, on_message -> client.submit_order(...)")
    out()
    keys = _Keys()
    missed: list[str] = []
    failed: list[str] = []
    started = time.monotonic()
    with LatencyServer(in_process=args.server_in_process) as server:
        for venue in venues:
            out(_TITLES[venue])
            out(f"  {'background':<14}| {'bare (us)  p50':>15} {'p90':>6} {'p99':>6} {'max':>7} "
                f"| {'bpbfx (us) p50':>15} {'p90':>6} {'p99':>6} {'max':>7} "
                f"| {'bpbfx/bare p50':>15} {'p90':>5} {'p99':>5} {'max':>5}")
            notes: list[str] = []
            for rate in args.rate_list:
                cells = {v: Cell() for v in VARIANTS}
                for r, count in enumerate(per_round):
                    order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]
                    for variant in order:
                        spec = RunSpec(venue, rate, count, args.warmup, (lo, hi), args.seed + r, keys.bf_key,
                                       keys.bf_secret)
                        result, health = run_round(server, spec, variant, keys, not args.no_books)
                        cells[variant].add(result, health)
                line, judged = _row(rate, cells)
                out(line)
                label = f"{venue} {_rate_label(rate)}"
                notes.extend(_health(label, cells, failed))
                if not judged:
                    missed.append(label)
            for note in notes:
                out(note)
            out()
    verdict = (
        "quick mode: figures not judged" if args.quick
        else (f"target bpbfx/bare <= {TARGET}x at p50, p90 and p99 missed: {', '.join(missed)}" if missed
              else f"target bpbfx/bare <= {TARGET}x at p50, p90 and p99: met in every cell")
    )
    out(f"total time {time.monotonic() - started:.0f}s; load average {_load()} at the end; {verdict}")
    if failed:
        out(f"runs with problems: {', '.join(failed)}")
    return 1 if failed or (missed and not args.quick) else 0


def _row(rate: float, cells: dict[str, Cell]) -> tuple[str, bool]:
    bare = percentiles(cells["bare"].samples())
    ours = percentiles(cells["bpbfx"].samples())
    ratios = [o / b if b > 0 else float("nan") for o, b in zip(ours, bare, strict=True)]

    def fmt(v: tuple[float, ...]) -> str:
        return f"{v[0]:>15,.0f} {v[1]:>6,.0f} {v[2]:>6,.0f} {v[3]:>7,.0f}"

    line = (
        f"  {_rate_label(rate):<14}| {fmt(bare)} | {fmt(ours)} "
        f"| {ratios[0]:>14.2f}x {ratios[1]:>4.2f}x {ratios[2]:>4.2f}x {ratios[3]:>4.2f}x"
    )
    return line, all(r <= TARGET for r in ratios[:3])


def _health(label: str, cells: dict[str, Cell], failed: list[str]) -> list[str]:
    notes = []
    for variant, cell in cells.items():
        results = [r for r, _ in cell.rounds]
        healths = [h for _, h in cell.rounds]
        sent, confirmed = sum(h.sent for h in healths), sum(h.confirmed for h in healths)
        missing, unmatched = sum(r.missing for r in results), sum(r.unmatched for r in results)
        seconds = sum(r.seconds for r in results)
        rate = sum(r.background for r in results) / seconds if seconds else 0.0
        errors = [e for h in healths for e in h.errors] + [r.error for r in results if r.error]
        signatures = sorted({r.signature for r in results})
        notes.append(
            f"    {label}, {variant}: {len(cell.samples()):,} samples; orders sent {sent:,}, confirmed {confirmed:,}; "
            f"triggers unanswered {missing}, orders unmatched {unmatched}; background {rate:,.0f} msg/s as sent; "
            f"signature: {', '.join(signatures)}"
            + (f"; last byte p50 {percentiles(cell.samples(True))[0]:,.0f} us" if label.startswith("backpack") else "")
            + (f"; errors: {'; '.join(errors[:3])}" if errors else "")
        )
        if missing or unmatched or errors or confirmed != sent or any(
            "INVALID" in s or "missing" in s for s in signatures
        ):
            failed.append(f"{label} {variant}")
    return notes


if __name__ == "__main__":
    sys.exit(main())
