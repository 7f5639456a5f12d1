"""Throughput matrix: bpbfx clients against the bare websocket-client loop, ws and wss, 1 and 4
sockets, trades and books, both exchanges.

Part of ``bpbfx bench`` (``python -m bpbfx.bench.throughput``).  A benchmark, not a test: every
figure is printed with how it was obtained.

Set-up.  A *blaster* process (``multiprocessing`` spawn, so it never shares this process's GIL)
listens on 127.0.0.1 twice: plain TCP and TLS (a self-signed ECDSA P-256 certificate made for the
run by :mod:`bpbfx.bench._tls`; both sides verify nothing but that certificate).  After the
handshake it writes pre-encoded, unmasked frames straight into the socket in large writes, so
the server is never the bottleneck.  Streams (chosen by the URL path):

- Backpack ``trade.<s>`` frames (recorded field set), 1,024 distinct frames cycled;
- Backpack ``depth.<s>`` deltas with L levels per side (absolute quantities, consecutive
  ``U``/``u``), the REST snapshot the client fetches answered by the same blaster;
- Bitfinex ``[CHAN,"te",[ID,MTS,AMOUNT,PRICE],SEQ]`` (SEQ_ALL) after ``info``/``conf``/
  ``subscribed`` and a snapshot;
- Bitfinex P0 book: snapshot of 25+25 levels, then update frames of E entries (E > 1: a
  BULK_UPDATES batch) each followed by its ``[CHAN,"cs",CRC]`` (checksums computed in the
  blaster by an independent dict model), with SEQ_ALL.

Variants, run interleaved (bare, stock reader, bpbfx, bare, ...) ``repeats`` times, median reported:

- **bare**: ``websocket.WebSocketApp`` + ``run_forever(skip_utf8_validation=True)`` with
  ``json.loads`` in ``on_message`` and the counting callback: the fastest loop a user can write
  with websocket-client;
- **stock reader**: the bpbfx client reading through websocket-client's own reader
  (``Connection.fast_receive = False``: the transport as it was before the buffered receive,
  with today's event and book code);
- **bpbfx**: the bpbfx client as shipped (buffered receive).

bpbfx counts typed events (``Trade``/``TradeUpdate``/``Depth``/``BookUpdate``) in
``on_message``; books are managed (``books=True``, checksums verified for Bitfinex); the bare
loop counts the same frames after ``json.loads``.  Rate = (N - 1) / time from the first to the
N-th counted frame; with 4 sockets, the sum over sockets of (N - 1) over the time from the
earliest first to the latest last callback.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import socket
import ssl
import statistics
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .throughput import (
    _accept_upgrade,
    _backpack_trade,
    _Counter,
    _drain,
    _read_client_frame,
    _read_request,
    _ws_frame,
)

__all__ = ["CASES", "Case", "MatrixBlaster", "run_matrix"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CHAN = 17
_TIMEOUT = 120.0
_FIRST_ID = 1_000_000


# ================================================================================ blaster (child process)
def _send_all(conn: Any, frames: list[bytes]) -> None:
    """Write pre-encoded frames in 256 KiB writes (everything is encoded before the first write,
    so the blaster's own Python work never paces the stream)."""
    data = memoryview(b"".join(frames))
    for i in range(0, len(data), 256 * 1024):
        conn.sendall(data[i : i + 256 * 1024])


def _depth_symbol(levels: int) -> str:
    return f"L{levels}_USDC"


def _depth_levels(levels: int, k: int) -> tuple[str, str]:
    """JSON texts of the bid and ask arrays of delta ``k`` (absolute quantities; every 7th level
    of every 5th delta is deleted with ``"0.00"`` and comes back in the next)."""
    bids, asks = [], []
    for i in range(levels):
        qty = "0.00" if (k % 5 == 0 and i % 7 == 3) else f"{1 + (i * 31 + k * 17) % 997 / 100:.2f}"
        bids.append(f'["{1000 - 1 - i}.{i % 10}","{qty}"]')
        asks.append(f'["{1000 + 1 + i}.{i % 10}","{qty}"]')
    return "[" + ",".join(bids) + "]", "[" + ",".join(asks) + "]"


def _depth_rest(levels: int) -> bytes:
    """The REST snapshot (``GET /api/v1/depth``) that the first delta continues."""
    bids = [[f"{1000 - 1 - i}.{i % 10}", "5.00"] for i in range(levels)][::-1]  # REST bids ascending
    asks = [[f"{1000 + 1 + i}.{i % 10}", "5.00"] for i in range(levels)]
    return json.dumps(
        {"asks": asks, "bids": bids, "lastUpdateId": str(_FIRST_ID - 1), "timestamp": time.time_ns() // 1000}
    ).encode()


def _blast_depth(conn: Any, n: int, levels: int) -> None:
    symbol = _depth_symbol(levels)
    cycle = [_depth_levels(levels, k) for k in range(20)]
    now_us = time.time_ns() // 1000
    head = f'{{"stream":"depth.{symbol}","data":{{"e":"depth","E":{now_us},"s":"{symbol}","a":'
    frames = []
    for k in range(n):
        b, a = cycle[k % 20]
        uid = _FIRST_ID + k
        frames.append(_ws_frame(f'{head}{a},"b":{b},"U":{uid},"u":{uid},"T":{now_us}}}}}'.encode()))
    _send_all(conn, frames)


def _blast_trades(conn: Any, n: int) -> None:
    now_us = time.time_ns() // 1000
    cycle = b"".join(_ws_frame(_backpack_trade(i, now_us + i)) for i in range(1024))
    full, rest = divmod(n, 1024)
    for _ in range(full):
        conn.sendall(cycle)
    if rest:
        conn.sendall(b"".join(_ws_frame(_backpack_trade(i, now_us + i)) for i in range(rest)))


def _bf_handshake(conn: Any, rfile: Any, channel: str) -> tuple[bool, int]:
    """info, conf, subscribe -> subscribed; returns (SEQ_ALL requested, flags)."""
    conn.sendall(_ws_frame(b'{"event":"info","version":2,"serverId":"bench","platform":{"status":1}}'))
    flags = 0
    while True:
        frame = _read_client_frame(rfile)
        if frame is None or frame[0] == 0x8:
            raise OSError("client left before subscribing")
        try:
            msg = json.loads(frame[1])
        except ValueError:
            continue
        if msg.get("event") == "conf":
            flags = int(msg.get("flags") or 0)
            conn.sendall(_ws_frame(json.dumps({"event": "conf", "status": "OK", "flags": flags}).encode()))
        elif msg.get("event") == "subscribe":
            reply = {"event": "subscribed", "channel": channel, "chanId": _CHAN, "symbol": msg.get("symbol", "tBTCUSD")}
            if channel == "book":
                reply.update(prec=msg.get("prec", "P0"), freq=msg.get("freq", "F0"), len=str(msg.get("len", "25")))
            reply["pair"] = "BTCUSD"
            if "subId" in msg:
                reply["subId"] = msg["subId"]
            conn.sendall(_ws_frame(json.dumps(reply).encode()))
            return bool(flags & 65536), flags


def _bf_trades(conn: Any, rfile: Any, n: int) -> None:
    seq_all, _ = _bf_handshake(conn, rfile, "trades")
    mts = time.time_ns() // 1_000_000
    seq = 1
    snapshot = ",".join(f"[{1795583200 + k},{mts},0.001,118910]" for k in range(30))
    conn.sendall(_ws_frame(f"[{_CHAN},[{snapshot}]{f',{seq}' if seq_all else ''}]".encode()))
    frames = []
    for i in range(n):
        seq += 1
        amount = "0.00431" if i % 3 else "-0.0125"
        tail = f",{seq}]" if seq_all else "]"
        text = f'[{_CHAN},"te",[{1795583300 + i},{mts + i // 50},{amount},{118900 + i % 40}]{tail}'
        frames.append(_ws_frame(text.encode()))
    _send_all(conn, frames)


def _bf_book_cycle(entries: int, rounds: int = 20) -> tuple[str, list[tuple[str, int]]]:
    """Snapshot text and a cycle of (update entries text, checksum after it).  Step ``k`` sets
    ``entries`` of the 50 levels (``entries`` divides 50) to the amounts of version
    ``(round + 1) % rounds``; the last step of the cycle restores the snapshot amounts, so the
    cycle can be replayed forever with valid checksums."""
    prices = [f"{118900 - 1 - i}" for i in range(25)] + [f"{118900 + 1 + i}" for i in range(25)]

    def amount(level: int, version: int) -> str:
        text = f"{0.1 + ((level * 13 + version * 7) % 50) / 1000:.4f}".rstrip("0")
        return text if level < 25 else "-" + text  # Bitfinex: AMOUNT < 0 is an ask

    state = {level: amount(level, 0) for level in range(50)}
    snapshot = ",".join(f"[{prices[lv]},{1 + lv % 3},{state[lv]}]" for lv in range(50))
    steps = []
    for k in range(rounds * 50 // entries):
        version = ((k * entries) // 50 + 1) % rounds
        touched = [(k * entries + j) % 50 for j in range(entries)]
        for lv in touched:
            state[lv] = amount(lv, version)
        text = ",".join(f"[{prices[lv]},{1 + lv % 3},{state[lv]}]" for lv in touched)
        # Bitfinex checksum: bid0.price:bid0.amount:ask0.price:ask0.amount:... over the top 25
        # (bids price descending, asks ascending), CRC32 as a signed 32-bit int.
        bids = [f"{prices[lv]}:{state[lv]}" for lv in range(25)]
        asks = [f"{prices[lv]}:{state[lv]}" for lv in range(25, 50)]
        parts = [x for pair in zip(bids, asks, strict=True) for x in pair]
        crc = zlib.crc32(":".join(parts).encode())
        steps.append((text, crc - (1 << 32) if crc >= 1 << 31 else crc))
    return snapshot, steps


def _bf_book(conn: Any, rfile: Any, n: int, entries: int) -> None:
    seq_all, flags = _bf_handshake(conn, rfile, "book")
    bulk = bool(flags & 536870912)
    snapshot, steps = _bf_book_cycle(entries)
    seq = 1
    conn.sendall(_ws_frame(f"[{_CHAN},[{snapshot}]{f',{seq}' if seq_all else ''}]".encode()))
    frames = []
    for k in range(n):
        text, crc = steps[k % len(steps)]
        seq += 1
        tail = f",{seq}]" if seq_all else "]"
        body = f"[{_CHAN},[{text}]{tail}" if entries > 1 and bulk else f"[{_CHAN},{text}{tail}"
        seq += 1
        tail_cs = f",{seq}]" if seq_all else "]"
        frames.append(_ws_frame(body.encode()))
        frames.append(_ws_frame(f'[{_CHAN},"cs",{crc}{tail_cs}'.encode()))
    _send_all(conn, frames)


def _handle(conn: Any) -> None:
    try:
        rfile = conn.makefile("rb")
        request = _read_request(conn)
        if request is None:
            return
        path, params, key = request
        if key is None:  # REST: the depth snapshot
            levels = int(params.get("symbol", "L50_USDC")[1:].split("_")[0])
            body = _depth_rest(levels)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            return
        _accept_upgrade(conn, key)
        n = int(params.get("n", "100000"))
        if path == "/bp/trade":
            _blast_trades(conn, n)
        elif path == "/bp/depth":
            _blast_depth(conn, n, int(params.get("levels", "50")))
        elif path == "/bf/trades":
            _bf_trades(conn, rfile, n)
        elif path == "/bf/book":
            _bf_book(conn, rfile, n, int(params.get("entries", "50")))
        _drain(conn, rfile)
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def _accept_loop(listener: socket.socket, context: ssl.SSLContext | None) -> None:
    while True:
        raw, _ = listener.accept()
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def run(raw: socket.socket = raw) -> None:
            try:
                conn: Any = context.wrap_socket(raw, server_side=True) if context is not None else raw
            except (OSError, ssl.SSLError):
                raw.close()
                return
            _handle(conn)

        threading.Thread(target=run, daemon=True).start()


def serve(ready: Any, cert_file: str, key_file: str) -> None:
    """Blaster process entry point: a plain and a TLS listener on 127.0.0.1; both ports go on
    ``ready``; each connection is served on its own thread until the process is terminated."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    plain = socket.create_server(("127.0.0.1", 0), backlog=64)
    secure = socket.create_server(("127.0.0.1", 0), backlog=64)
    threading.Thread(target=_accept_loop, args=(secure, context), daemon=True).start()
    ready.put((plain.getsockname()[1], secure.getsockname()[1]))
    _accept_loop(plain, None)


class MatrixBlaster:
    """The blaster process with its certificate (context manager)."""

    def __init__(self) -> None:
        from ._tls import loopback_tls

        self._dir = tempfile.TemporaryDirectory(prefix="bpbfx-bench-")
        self.tls = loopback_tls(Path(self._dir.name))
        ctx = multiprocessing.get_context("spawn")
        self._ready: Any = ctx.Queue()
        self._proc = ctx.Process(
            target=serve,
            args=(self._ready, str(self.tls.cert_file), str(self.tls.key_file)),
            name="bpbfx-blaster",
            daemon=True,
        )
        self.ports = (0, 0)

    def __enter__(self) -> MatrixBlaster:
        self._proc.start()
        self.ports = self._ready.get(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        self._proc.join(10)
        self._dir.cleanup()

    def url(self, path: str, secure: bool) -> str:
        """``ws://`` or ``wss://127.0.0.1:<port><path>``."""
        return f"{'wss' if secure else 'ws'}://127.0.0.1:{self.ports[1 if secure else 0]}{path}"

    def rest_url(self) -> str:
        """The plain port answers the Backpack REST snapshot."""
        return f"http://127.0.0.1:{self.ports[0]}"


# ================================================================================ measurements (this process)
def _aggregate(counters: list[_Counter]) -> float:
    span = max(c.last for c in counters) - min(c.first for c in counters)
    return sum(c.target - 1 for c in counters) / span if span > 0 else 0.0


def _wait_all(counters: list[_Counter], what: str) -> None:
    deadline = time.monotonic() + _TIMEOUT
    for c in counters:
        if not c.done.wait(max(0.0, deadline - time.monotonic())):
            raise RuntimeError(f"{what}: only {c.count} of {c.target} messages within {_TIMEOUT:g}s")


def _context_switches() -> int:
    """Voluntary + involuntary context switches of this process so far (getrusage)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


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


@contextmanager
def _stock_reader(stock: bool) -> Iterator[None]:
    """Make new Connections read through websocket-client's own reader (``stock reader``)."""
    try:
        from .. import _wsfast
    except ImportError:  # a bpbfx without the buffered receive: it always reads the stock way
        yield
        return

    saved = _wsfast._supported
    if stock:
        _wsfast._supported = False
    try:
        yield
    finally:
        _wsfast._supported = saved


def _query(case: Case, n: int) -> str:
    extra = f"&levels={case.levels}" if case.exchange == "backpack" and case.kind == "book" else ""
    extra += f"&entries={case.levels}" if case.exchange == "bitfinex" and case.kind == "book" else ""
    return f"{case.path}?n={n}{extra}"


def run_bpbfx(blaster: MatrixBlaster, case: Case, secure: bool, sockets: int, n: int, stock: bool) -> float:
    """Aggregate msg/s of ``sockets`` bpbfx clients (each its own socket) on ``case``."""
    from ..backpack.client import BackpackClient
    from ..backpack.events import Depth, Trade
    from ..bitfinex.client import BitfinexClient
    from ..bitfinex.events import BookUpdate, TradeUpdate
    from ..bitfinex.protocol import BULK_UPDATES, OB_CHECKSUM, SEQ_ALL

    counters = [_Counter(n) for _ in range(sockets)]
    clients: list[Any] = []
    url = blaster.url(_query(case, n), secure)
    with _stock_reader(stock):
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
                symbol = _depth_symbol(case.levels) if case.kind == "book" else "SOL_USDC"
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
            _wait_all(counters, f"bpbfx {case.label}")
        finally:
            for client in clients:
                client.close()
    for client in clients:
        stats = client.stats()
        if stats.errors:
            raise RuntimeError(f"bpbfx {case.label}: the client reported {stats.errors} errors")
    return _aggregate(counters)


def run_bare(blaster: MatrixBlaster, case: Case, secure: bool, sockets: int, n: int) -> float:
    """Aggregate msg/s of ``sockets`` bare WebSocketApp loops (skip_utf8_validation=True)."""
    import websocket

    counters = [_Counter(n) for _ in range(sockets)]
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
        _wait_all(counters, f"bare {case.label}")
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
    return _aggregate(counters)


@dataclass
class Row:
    """Medians of one (case, scheme, sockets) row."""

    case: Case
    secure: bool
    sockets: int
    bare: float
    today: float
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
    with MatrixBlaster() as blaster:
        os.environ["SSL_CERT_FILE"] = str(blaster.tls.cert_file)  # bpbfx's default TLS context trusts it
        for case, secure, sockets in plan:
            n = max(1000, int(case.messages * scale / (2 if sockets > 1 else 1)))
            results: dict[str, list[float]] = {"bare": [], "today": [], "bpbfx": []}
            switches: dict[str, list[float]] = {"bare": [], "today": [], "bpbfx": []}
            for _ in range(repeats):
                for name in ("bare", "today", "bpbfx"):
                    before = _context_switches()
                    if name == "bare":
                        rate = run_bare(blaster, case, secure, sockets, n)
                    else:
                        rate = run_bpbfx(blaster, case, secure, sockets, n, stock=name == "today")
                    results[name].append(rate)
                    switches[name].append((_context_switches() - before) * 1000 / (n * sockets))
            med = {k: statistics.median(v) for k, v in results.items()}
            row = Row(case, secure, sockets, med["bare"], med["today"], med["bpbfx"])
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
