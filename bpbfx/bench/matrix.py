"""Throughput matrix: bpbfx clients against the bare websocket-client loop, ws and wss, 1 and 4
sockets, trades and books, both exchanges.

Part of ``bpbfx bench`` (``python -m bpbfx.bench.throughput``).  A benchmark, not a test: every
figure is printed with how it was obtained.

Set-up: the blaster process (:mod:`bpbfx.bench.blaster`, streams in :mod:`bpbfx.bench.streams`)
on 127.0.0.1, plain TCP and TLS, writing pre-encoded frames in large writes, and answering the
Backpack REST depth snapshot the client fetches:

- Backpack ``trade.<s>`` frames (recorded field set), 1,024 distinct frames cycled;
- Backpack ``depth.<s>`` deltas with L levels per side (absolute quantities, consecutive
  ``U``/``u``);
- Bitfinex ``[CHAN,"te",[ID,MTS,AMOUNT,PRICE],SEQ]`` (SEQ_ALL) after ``info``/``conf``/
  ``subscribed`` and a snapshot;
- Bitfinex P0 book: snapshot of 25+25 levels, then update frames of E entries (E > 1: a
  BULK_UPDATES batch) each followed by its ``[CHAN,"cs",CRC]``, with SEQ_ALL.

Variants, run interleaved (bare, stock reader, bpbfx, bare, ...) ``repeats`` times, median reported:

- **bare**: ``websocket.WebSocketApp`` + ``run_forever(skip_utf8_validation=True)`` with
  ``json.loads`` in ``on_message`` and the counting callback: the fastest loop a user can write
  with websocket-client;
- **stock reader**: the bpbfx client reading through websocket-client's own reader
  (:func:`bpbfx.bench.harness.stock_reader`: connections made with ``fast_receive = False``,
  the transport as it was before the buffered receive, with today's event and book code);
- **bpbfx**: the bpbfx client as shipped (buffered receive).

bpbfx counts typed events (``Trade``/``TradeUpdate``/``Depth``/``BookUpdate``) in
``on_message``; books are managed (``books=True``, checksums verified for Bitfinex); the bare
loop counts the same frames after ``json.loads``.  Rate = (N - 1) / time from the first to the
N-th counted frame; with 4 sockets, the sum over sockets of (N - 1) over the time from the
earliest first to the latest last callback.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .blaster import Blaster
from .harness import Counter, aggregate_rate, context_switches, stock_reader, wait_all
from .streams import SYMBOL, depth_symbol

__all__ = ["CASES", "Case", "Row", "run_bare", "run_bpbfx", "run_matrix"]


def __getattr__(name: str) -> Any:
    if name == "MatrixBlaster":
        warnings.warn(
            "bpbfx.bench.matrix.MatrixBlaster is deprecated; use bpbfx.bench.blaster.Blaster",
            DeprecationWarning,
            stacklevel=2,
        )
        return Blaster
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Case:
    """One row of the matrix."""

    label: str
    exchange: str  # "backpack" or "bitfinex"
    path: str  # blaster path without n
    kind: str  # "trade" or "book"
    messages: int  # per socket
    levels: int = 0  # book levels per side (Backpack) or entries per frame (Bitfinex)
    target: float = 0.0  # bpbfx / bare

    def bare_matches(self) -> Callable[[Any], bool]:
        """Which decoded frames the bare loop counts (the same frames bpbfx turns into events)."""
        if self.exchange == "backpack":
            return lambda msg: type(msg) is dict and "data" in msg
        if self.kind == "trade":
            return lambda msg: type(msg) is list and len(msg) > 2 and msg[1] == "te"
        # Book update frames: a list body; SEQ_ALL 1 is the snapshot, not counted.
        return lambda msg: type(msg) is list and type(msg[1]) is list and msg[2] != 1


CASES: tuple[Case, ...] = (
    Case("Backpack trade", "backpack", "/bp/trade", "trade", 100_000, target=2.0),
    Case("Bitfinex te (SEQ_ALL)", "bitfinex", "/bf/trades", "trade", 100_000, target=2.0),
    Case("Backpack depth 50+50 levels, managed book", "backpack", "/bp/depth", "book", 20_000, levels=50, target=0.6),
    Case("Bitfinex BULK 50 entries + cs, managed book", "bitfinex", "/bf/book", "book", 20_000, levels=50, target=0.6),
    Case("Backpack depth 1+1 level, managed book", "backpack", "/bp/depth", "book", 80_000, levels=1, target=1.5),
    Case("Bitfinex 1 entry + cs, managed book", "bitfinex", "/bf/book", "book", 80_000, levels=1, target=1.5),
)


def _query(case: Case, n: int) -> str:
    extra = f"&levels={case.levels}" if case.exchange == "backpack" and case.kind == "book" else ""
    extra += f"&entries={case.levels}" if case.exchange == "bitfinex" and case.kind == "book" else ""
    return f"{case.path}?n={n}{extra}"


def run_bpbfx(blaster: Blaster, case: Case, secure: bool, sockets: int, n: int, stock: bool) -> float:
    """Aggregate msg/s of ``sockets`` bpbfx clients (each its own socket) on ``case``."""
    from ..backpack.client import BackpackClient
    from ..backpack.events import Depth, Trade
    from ..bitfinex.client import BitfinexClient
    from ..bitfinex.events import BookUpdate, TradeUpdate
    from ..bitfinex.protocol import BULK_UPDATES, OB_CHECKSUM, SEQ_ALL

    counters = [Counter(n) for _ in range(sockets)]
    clients: list[Any] = []
    url = blaster.url(_query(case, n), secure)
    with stock_reader(stock):
        for counter in counters:
            hit, done = counter.hit, counter.done
            want: type = {
                ("backpack", "trade"): Trade,
                ("backpack", "book"): Depth,
                ("bitfinex", "trade"): TradeUpdate,
                ("bitfinex", "book"): BookUpdate,
            }[(case.exchange, case.kind)]

            def on_message(client: Any, event: Any, hit: Callable[[], None] = hit, want: type = want) -> None:
                if type(event) is want:
                    hit()

            client: Any
            if case.exchange == "backpack":
                symbol = depth_symbol(case.levels) if case.kind == "book" else SYMBOL
                stream = f"depth.{symbol}" if case.kind == "book" else f"trade.{symbol}"
                client = BackpackClient(
                    url,
                    streams=[stream],
                    books=case.kind == "book",
                    rest_url=blaster.rest_url(),
                    on_message=on_message,
                )
            else:
                flags = SEQ_ALL | OB_CHECKSUM | (BULK_UPDATES if case.levels > 1 else 0)
                client = BitfinexClient(url, auth=False, books=case.kind == "book", flags=flags, on_message=on_message)
                if case.kind == "book":
                    client.subscribe("book", symbol="tBTCUSD", prec="P0", freq="F0", len=25)
                else:
                    client.subscribe("trades", symbol="tBTCUSD")
            clients.append(client)
            del done
        try:
            for client in clients:
                client.start()
            wait_all(counters, f"bpbfx {case.label}")
        finally:
            for client in clients:
                client.close()
    for client in clients:
        stats = client.stats()
        if stats.errors:
            raise RuntimeError(f"bpbfx {case.label}: the client reported {stats.errors} errors")
    return aggregate_rate(counters)


def run_bare(blaster: Blaster, case: Case, secure: bool, sockets: int, n: int) -> float:
    """Aggregate msg/s of ``sockets`` bare WebSocketApp loops (skip_utf8_validation=True)."""
    import websocket

    counters = [Counter(n) for _ in range(sockets)]
    url = blaster.url(_query(case, n), secure)
    loads = json.loads
    matches = case.bare_matches()
    apps: list[tuple[Any, threading.Thread]] = []
    for counter in counters:
        hit = counter.hit

        def on_message(ws: Any, message: Any, hit: Callable[[], None] = hit) -> None:
            if matches(loads(message)):
                hit()

        def on_open(ws: Any) -> None:
            if case.exchange == "bitfinex":
                book = case.kind == "book"
                flags = 65536 | 131072 | (536870912 if book and case.levels > 1 else 0)
                ws.send(json.dumps({"event": "conf", "flags": flags}))
                channel = "book" if book else "trades"
                sub: dict[str, Any] = {"event": "subscribe", "channel": channel, "symbol": "tBTCUSD"}
                if book:
                    sub.update(prec="P0", freq="F0", len="25")
                ws.send(json.dumps(sub))

        app = websocket.WebSocketApp(url, on_message=on_message, on_open=on_open)
        kwargs: dict[str, Any] = {"skip_utf8_validation": True}
        if secure:
            kwargs["sslopt"] = {"ca_certs": str(blaster.tls.cert_file)}
        apps.append((app, threading.Thread(target=app.run_forever, kwargs=kwargs, name="bare-loop", daemon=True)))
    for _, thread in apps:
        thread.start()
    try:
        wait_all(counters, f"bare {case.label}")
    finally:
        for app, _ in apps:
            app.keep_running = False
            sock = app.sock
            if sock is not None and sock.sock is not None:
                try:
                    sock.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for _, thread in apps:
            thread.join(10)
    return aggregate_rate(counters)


@dataclass
class Row:
    """Medians of one (case, scheme, sockets) row."""

    case: Case
    secure: bool
    sockets: int
    bare: float
    today: float  # the stock reader
    bpbfx: float
    switches: dict[str, float] = field(default_factory=dict)  # context switches per 1,000 messages

    @property
    def ratio(self) -> float:
        return self.bpbfx / self.bare if self.bare else float("nan")

    @property
    def today_ratio(self) -> float:
        return self.today / self.bare if self.bare else float("nan")

    def target(self) -> float:
        if self.case.kind == "trade":
            if self.sockets > 1:
                return 1.5
            return 1.5 if self.secure else self.case.target
        return self.case.target


def run_matrix(scale: float, repeats: int, out: Callable[[str], None], *, only: str = "") -> list[Row]:
    """Run every row (``only``: a substring of the labels to keep) and print the table."""
    rows: list[Row] = []
    plan: list[tuple[Case, bool, int]] = []
    for case in CASES:
        if only and only.lower() not in case.label.lower():
            continue
        for secure in (False, True):
            for sockets in (1, 4) if case.kind == "trade" else (1,):
                if case.kind == "book" and secure and case.levels == 1:
                    continue
                plan.append((case, secure, sockets))
    with Blaster() as blaster:
        os.environ["SSL_CERT_FILE"] = str(blaster.tls.cert_file)  # bpbfx's default TLS context trusts it
        for case, secure, sockets in plan:
            n = max(1000, int(case.messages * scale / (2 if sockets > 1 else 1)))
            results: dict[str, list[float]] = {"bare": [], "stock": [], "bpbfx": []}
            switches: dict[str, list[float]] = {"bare": [], "stock": [], "bpbfx": []}
            for _ in range(repeats):
                for name in ("bare", "stock", "bpbfx"):
                    before = context_switches()
                    if name == "bare":
                        rate = run_bare(blaster, case, secure, sockets, n)
                    else:
                        rate = run_bpbfx(blaster, case, secure, sockets, n, stock=name == "stock")
                    results[name].append(rate)
                    switches[name].append((context_switches() - before) * 1000 / (n * sockets))
            med = {k: statistics.median(v) for k, v in results.items()}
            row = Row(case, secure, sockets, med["bare"], med["stock"], med["bpbfx"])
            row.switches = {k: statistics.median(v) for k, v in switches.items()}
            rows.append(row)
            scheme = "wss" if secure else "ws"
            met = "met" if row.ratio >= row.target() else "MISSED"
            out(
                f"  {case.label:<44} {scheme:<3} {sockets} sock  N={n:>7,}  bare {row.bare:>9,.0f}  "
                f"stock reader {row.today:>9,.0f} ({row.today_ratio:4.2f}x)  bpbfx {row.bpbfx:>9,.0f} "
                f"({row.ratio:4.2f}x)  target >= {row.target():.1f}x {met}  "
                f"[ctx switches per 1k msg: bare {row.switches['bare']:.0f}, bpbfx {row.switches['bpbfx']:.0f}]"
            )
    return rows
