"""The tick-to-order benchmark server: a lean exchange of both venues that stamps what it sends
and what it receives with one clock.

It runs in a process of its own (``multiprocessing``, spawn: :class:`LatencyServer`), so that a
10,000 msg/s stream never competes with the client under test for its GIL (``in_process=True``
serves on a thread of the measuring process instead, to show the difference).  One listener on
127.0.0.1 takes WebSocket upgrades (``/bf``: Bitfinex, ``/bp``: Backpack) and plain HTTP/1.1
keep-alive requests (Backpack's REST), all served by one thread in one ``select`` loop:

- a *run* (:class:`RunSpec`) is armed by the measuring process, attaches to the next WebSocket
  session of its venue, streams background market data at a fixed rate once the client has
  subscribed, and, after ``go``, sends trigger trades spaced at random within ``spacing``;
- **the stamps**: ``time.perf_counter_ns()`` just before the write of each trigger frame, and
  when the loop wakes up with bytes of an order to read: the first byte's arrival (the wake-up
  whose read held it) and the last one's.  Both readings are taken by this one thread of this
  one process, so no clock is compared across processes; latency = arrival - sent;
- an order is matched to the trigger whose number its price carries
  (:mod:`bpbfx.bench.latency_wire`); it is answered as the exchange would (``on-req`` + ``on``,
  or the order object), so that the client's order core stays healthy over thousands of orders.

The writes are blocking ``sendall`` calls on sockets with ``TCP_NODELAY``; reads happen only on
sockets ``select`` reports readable, and every read is stamped before anything else is done.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import multiprocessing
import random
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .harness import accept_upgrade, ws_frame
from .latency_bare import signing_text
from .latency_wire import (
    BF_BOOK_CHAN,
    BF_TRADES_CHAN,
    BP_DEPTH,
    BP_TRADE,
    SEQ_ALL,
    BitfinexBook,
    bf_auth_ok,
    bf_info,
    bf_order_reply,
    bf_te,
    bf_trades_snapshot,
    bf_trigger,
    bf_trigger_index,
    bp_depth,
    bp_order_answer,
    bp_rest,
    bp_trade,
    bp_trigger,
    bp_trigger_index,
    http_answer,
)

__all__ = ["LatencyServer", "RunResult", "RunSpec", "serve"]

_HEARTBEAT_NS = 15 * 10**9  # Bitfinex: a quiet channel gets [CHAN,"hb"] every 15 s
_GRACE_NS = 2 * 10**9  # how long the last trigger's order may take before the run ends
_BEHIND_NS = 100 * 10**6  # background further behind than this is dropped, not burst


@dataclass(frozen=True)
class RunSpec:
    """One measured run: ``venue`` (``"bitfinex"``/``"backpack"``), background ``rate`` (msg/s,
    0: none), ``warmup`` + ``triggers`` trigger trades (the first ``warmup`` are not counted)
    spaced uniformly within ``spacing`` seconds (seeded by ``seed``), and the Bitfinex key the
    auth request is checked with."""

    venue: str
    rate: float
    triggers: int
    warmup: int
    spacing: tuple[float, float]
    seed: int
    api_key: str = ""
    api_secret: str = ""


@dataclass
class RunResult:
    """What the server measured: latencies in ns to the first and the last byte of each
    counted order, triggers left unanswered, orders that matched no trigger, background frames
    sent and over how long, and the signature check."""

    first_byte: list[int] = field(default_factory=list)
    last_byte: list[int] = field(default_factory=list)
    missing: int = 0
    unmatched: int = 0
    background: int = 0
    seconds: float = 0.0
    signature: str = "not checked"
    error: str | None = None


# ================================================================================ reading
class Inbox:
    """The bytes read from one socket, each read stamped with the loop's wake-up time."""

    __slots__ = ("_base", "_chunks", "data")

    def __init__(self) -> None:
        self.data = bytearray()
        self._base = 0  # stream offset of data[0]
        self._chunks: deque[tuple[int, int]] = deque()  # (stream offset after the read, stamp)

    def feed(self, chunk: bytes, stamp: int) -> None:
        """Append one read."""
        self.data += chunk
        self._chunks.append((self._base + len(self.data), stamp))

    def arrival(self, offset: int) -> int:
        """When the byte at ``offset`` (from the start of :attr:`data`) was read."""
        position = self._base + offset
        for end, stamp in self._chunks:
            if end > position:
                return stamp
        return self._chunks[-1][1]

    def take(self, n: int) -> bytes:
        """Remove and return the first ``n`` bytes."""
        out = bytes(self.data[:n])
        del self.data[:n]
        self._base += n
        while self._chunks and self._chunks[0][0] <= self._base:
            self._chunks.popleft()
        return out


def next_ws_frame(inbox: Inbox) -> tuple[int, bytes, int, int] | None:
    """``(opcode, payload, first byte's stamp, last byte's stamp)`` of the next complete client
    frame (unmasked), or ``None`` until one is complete."""
    d = inbox.data
    if len(d) < 2:
        return None
    n = d[1] & 0x7F
    pos = 2
    if n == 126:
        if len(d) < 4:
            return None
        n, pos = int.from_bytes(d[2:4], "big"), 4
    elif n == 127:
        if len(d) < 10:
            return None
        n, pos = int.from_bytes(d[2:10], "big"), 10
    masked = bool(d[1] & 0x80)
    start = pos + (4 if masked else 0)
    end = start + n
    if len(d) < end:
        return None
    first, last = inbox.arrival(0), inbox.arrival(end - 1)
    raw = inbox.take(end)
    payload = raw[start:]
    if masked and n:
        mask = (raw[pos:start] * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")
    return raw[0] & 0x0F, payload, first, last


@dataclass
class Request:
    """One HTTP request read from an :class:`Inbox`."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    first: int
    last: int


def next_http_request(inbox: Inbox) -> Request | None:
    """The next complete HTTP request (head and ``Content-Length`` body), or ``None``."""
    d = inbox.data
    head_end = d.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    lines = bytes(d[:head_end]).decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    end = head_end + 4 + int(headers.get("content-length", "0") or 0)
    if len(d) < end:
        return None
    first, last = inbox.arrival(0), inbox.arrival(end - 1)
    raw = inbox.take(end)
    method, target = [*lines[0].split(" "), "", ""][:2]
    return Request(method, target.split("?", 1)[0], headers, raw[head_end + 4 :], first, last)


# ================================================================================ the run
class Run:
    """The measurement in progress: background pacing, the triggers and their orders."""

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self.session: WsSession | None = None
        self.result = RunResult()
        self._rng = random.Random(spec.seed)
        self._interval = int(1e9 / spec.rate) if spec.rate > 0 else 0
        self._next_bg = 0
        self._bg_started = 0
        self._go = False
        self._next_trigger = 0
        self._k = 0  # triggers sent
        self._total = spec.warmup + spec.triggers
        self._sent: dict[int, int] = {}  # trigger number (mod span) -> stamp
        self._answered: set[int] = set()
        self._last_sent = 0
        self._checked = False
        self.finished = False

    def attach(self, session: WsSession) -> None:
        """The run's WebSocket session opened."""
        self.session = session

    def streaming(self, now: int) -> None:
        """The session's client has subscribed: background data starts."""
        if self._bg_started == 0:
            self._bg_started = now
            self._next_bg = now

    def go(self, now: int) -> None:
        """The client is ready: triggers start after one spacing."""
        self._go = True
        self._next_trigger = now + self._gap()

    def _gap(self) -> int:
        lo, hi = self.spec.spacing
        return int(self._rng.uniform(lo, hi) * 1e9)

    def due(self) -> int | None:
        """The next time something must be sent (perf_counter ns), or ``None``."""
        times = []
        session = self.session
        if session is not None and self._bg_started:
            if self._interval:
                times.append(self._next_bg)
            times.append(session.next_heartbeat())
            if self._go and self._k < self._total:
                times.append(self._next_trigger)
        if self._k >= self._total and not self.finished:
            times.append(self._last_sent + _GRACE_NS)
        return min(times) if times else None

    def tick(self, now: int) -> None:
        """Send what is due (trigger first, then the background) and end the run when over."""
        session = self.session
        if session is None or self.finished or not self._bg_started:
            return
        if self._go and self._k < self._total and now >= self._next_trigger:
            k = self._k
            frame = session.trigger(k)
            stamp = time.perf_counter_ns()
            session.write(frame)
            self._sent[k % 10_000] = stamp
            self._k = k + 1
            self._last_sent = stamp
            self._next_trigger = stamp + self._gap()
        if self._interval:
            if now - self._next_bg > _BEHIND_NS:
                self._next_bg = now
            while self._next_bg <= now:
                session.write(session.background(self.result.background))
                self.result.background += 1
                self._next_bg += self._interval
        session.heartbeats(now)
        if self._k >= self._total and (
            len(self._answered) >= self._total or now - self._last_sent >= _GRACE_NS
        ):
            self.finish()

    def order(self, k: int | None, first: int, last: int, check: Any = None) -> None:
        """An order arrived (``k``: the trigger its price names); ``check`` verifies the
        first order's signature (returns a problem text or ``None``)."""
        sent = self._sent.get(k) if k is not None else None
        if k is None or sent is None or k in self._answered:
            self.result.unmatched += 1
            return
        self._answered.add(k)
        if k >= self.spec.warmup:
            self.result.first_byte.append(first - sent)
            self.result.last_byte.append(last - sent)
        if check is not None and not self._checked:
            self._checked = True
            problem = check()
            self.result.signature = "verified" if problem is None else problem

    def finish(self, error: str | None = None) -> None:
        """End the run (at most once)."""
        if self.finished:
            return
        self.finished = True
        r = self.result
        r.missing = self._total - len(self._answered)
        r.seconds = (time.perf_counter_ns() - self._bg_started) / 1e9 if self._bg_started else 0.0
        if error is not None:
            r.error = error


# ================================================================================ sessions
class WsSession:
    """The server side of one WebSocket connection of a venue."""

    def __init__(self, sock: socket.socket, server: Server) -> None:
        self.sock = sock
        self.server = server
        self.run: Run | None = None

    def write(self, data: bytes) -> None:
        """Write now (blocking)."""
        self.sock.sendall(data)

    def message(self, text: bytes, first: int, last: int) -> None:
        """One text frame from the client."""
        raise NotImplementedError

    def background(self, i: int) -> bytes:
        """Background frame ``i``."""
        raise NotImplementedError

    def trigger(self, k: int) -> bytes:
        """The frame of trigger ``k``."""
        raise NotImplementedError

    def next_heartbeat(self) -> int:
        """When a heartbeat is due next (ns)."""
        return 2**62

    def heartbeats(self, now: int) -> None:
        """Send the heartbeats due."""


class BitfinexSession(WsSession):
    """Bitfinex: info, conf, auth, subscribe, the trades and book channels, heartbeats, and
    the answers to ``on`` inputs; SEQ_ALL numbers when asked for."""

    def __init__(self, sock: socket.socket, server: Server) -> None:
        super().__init__(sock, server)
        self.flags = 0
        self.seq = 0
        self.auth_seq = 0
        self.channels: dict[str, int] = {}
        self.book = BitfinexBook()
        self.last: dict[int, int] = {}
        self.order_id = 50_000_000
        self._checksum = ""  # the cs frame that follows the book update just sent
        self.write(ws_frame(bf_info()))

    def _array(self, chan: int, body: str) -> bytes:
        self.last[chan] = time.perf_counter_ns()
        if self.flags & SEQ_ALL:
            self.seq += 1
            return ws_frame(f"[{chan},{body},{self.seq}]".encode())
        return ws_frame(f"[{chan},{body}]".encode())

    def _channel0(self, kind: str, data: str, reply: bool = False) -> bytes:
        # Bitfinex SEQ_ALL on channel 0: [0,TYPE,DATA,PUB_SEQ,AUTH_SEQ]; a notification answering
        # a request carries only the (unchanged) AUTH_SEQ.
        text = f'[0,"{kind}",{data}'
        if self.flags & SEQ_ALL:
            if reply:
                text += f",{self.auth_seq}"
            else:
                self.seq += 1
                self.auth_seq += 1
                text += f",{self.seq},{self.auth_seq}"
        return ws_frame((text + "]").encode())

    def message(self, text: bytes, first: int, last: int) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if isinstance(msg, list):
            if len(msg) >= 4 and msg[0] == 0 and msg[1] == "on" and isinstance(msg[3], dict):
                self._order(msg[3], first, last)
            return
        if not isinstance(msg, dict):
            return
        event = msg.get("event")
        if event == "conf":
            self.flags = int(msg.get("flags") or 0)
            self.write(ws_frame(json.dumps({"event": "conf", "status": "OK", "flags": self.flags}).encode()))
        elif event == "auth":
            self._auth(msg)
        elif event == "subscribe":
            self._subscribe(msg)
        elif event == "ping":
            self.write(ws_frame(json.dumps({"event": "pong", "ts": time.time_ns() // 10**6, "cid": msg.get("cid")})
                                .encode()))

    def _auth(self, msg: dict[str, Any]) -> None:
        run = self.run
        secret = run.spec.api_secret if run is not None else ""
        payload = str(msg.get("authPayload", ""))
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha384).hexdigest()
        if not hmac.compare_digest(expected, str(msg.get("authSig", ""))) or not payload.startswith("AUTH"):
            self.write(ws_frame(b'{"event":"auth","status":"FAILED","chanId":0,"code":10100,"msg":"apikey: invalid"}'))
            return
        if run is not None:
            run.result.signature = "auth HMAC verified"
        self.write(ws_frame(bf_auth_ok()))
        for kind in ("ps", "ws", "os"):
            self.write(self._channel0(kind, "[]"))

    def _subscribe(self, msg: dict[str, Any]) -> None:
        channel = msg.get("channel")
        chan = BF_TRADES_CHAN if channel == "trades" else BF_BOOK_CHAN
        reply: dict[str, Any] = {"event": "subscribed", "channel": channel, "chanId": chan,
                                 "symbol": msg.get("symbol", "tBTCUSD"), "pair": "BTCUSD"}
        if channel == "book":
            reply.update(prec=msg.get("prec", "P0"), freq=msg.get("freq", "F0"), len=str(msg.get("len", "25")))
        if "subId" in msg:
            reply["subId"] = msg["subId"]
        self.write(ws_frame(json.dumps(reply).encode()))
        mts = time.time_ns() // 10**6
        if chan == BF_TRADES_CHAN:
            self.write(self._array(chan, bf_trades_snapshot(mts)))
        else:
            self.write(self._array(chan, self.book.snapshot))
        self.channels[str(channel)] = chan
        if len(self.channels) == 2 and self.run is not None:
            self.run.streaming(time.perf_counter_ns())

    def _order(self, payload: dict[str, Any], first: int, last: int) -> None:
        if self.run is not None:
            self.run.order(bf_trigger_index(payload.get("price")), first, last)
        self.order_id += 1
        note, row = bf_order_reply(payload, self.order_id, time.time_ns() // 10**6)
        self.write(self._channel0("n", note, reply=True) + self._channel0("on", row))

    def background(self, i: int) -> bytes:
        kind = i % 3
        if kind == 0:
            return self._array(BF_TRADES_CHAN, bf_te(i, time.time_ns() // 10**6))
        if kind == 1:
            update, self._checksum = self.book.next_update()
            return self._array(BF_BOOK_CHAN, update)
        return self._array(BF_BOOK_CHAN, self._checksum)

    def trigger(self, k: int) -> bytes:
        return self._array(BF_TRADES_CHAN, bf_te(10**7 + k, time.time_ns() // 10**6, bf_trigger(k)))

    def next_heartbeat(self) -> int:
        return min(self.last.values(), default=2**62 - _HEARTBEAT_NS) + _HEARTBEAT_NS

    def heartbeats(self, now: int) -> None:
        for chan, at in list(self.last.items()):
            if now - at >= _HEARTBEAT_NS:
                self.write(self._array(chan, '"hb"'))


class BackpackSession(WsSession):
    """Backpack: SUBSCRIBE (public and signed), ``trade`` frames and ``depth`` deltas."""

    def __init__(self, sock: socket.socket, server: Server) -> None:
        super().__init__(sock, server)
        self.streams: set[str] = set()
        self.depth = 0

    def message(self, text: bytes, first: int, last: int) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if not isinstance(msg, dict) or msg.get("method") != "SUBSCRIBE":
            return
        before = BP_DEPTH in self.streams
        self.streams.update(p for p in msg.get("params", ()) if isinstance(p, str))
        if BP_DEPTH in self.streams and not before:
            self.write(self._next_depth())  # the first delta: the client's book syncs from it
        if BP_TRADE in self.streams and BP_DEPTH in self.streams and self.run is not None:
            self.run.streaming(time.perf_counter_ns())

    def _next_depth(self) -> bytes:
        frame = ws_frame(bp_depth(self.depth, time.time_ns() // 1000))
        self.depth += 1
        return frame

    def background(self, i: int) -> bytes:
        if i % 2:
            return self._next_depth()
        return ws_frame(bp_trade(i, time.time_ns() // 1000))

    def trigger(self, k: int) -> bytes:
        return ws_frame(bp_trade(10**7 + k, time.time_ns() // 1000, bp_trigger(k)))


def _verify_backpack(request: Request, body: dict[str, Any]) -> str | None:
    """Check a signed order request the way Backpack does (ED25519 over the signing text)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    h = request.headers
    try:
        text = signing_text("orderExecute", body, int(h["x-timestamp"]), int(h["x-window"]))
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(h["x-api-key"]))
        key.verify(base64.b64decode(h["x-signature"]), text.encode())
    except (KeyError, ValueError):
        return "signature headers missing or malformed"
    except InvalidSignature:
        return "signature INVALID"
    return None


# ================================================================================ the loop
class _Peer:
    __slots__ = ("inbox", "session", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbox = Inbox()
        self.session: WsSession | None = None


class Server:
    """The single-threaded ``select`` loop (see the module docstring)."""

    def __init__(self, listener: socket.socket, control: Any) -> None:
        self.listener = listener
        self.control = control
        self.peers: dict[socket.socket, _Peer] = {}
        self.run: Run | None = None
        self.orders = 0

    def loop(self) -> None:
        """Serve until the control pipe says stop or closes."""
        while True:
            run = self.run
            due = run.due() if run is not None else None
            timeout = None if due is None else max(0.0, (due - time.perf_counter_ns()) / 1e9)
            readable, _, _ = select.select([self.listener, self.control, *self.peers], [], [], timeout)
            stamp = time.perf_counter_ns()
            for sock in readable:
                if sock is self.listener:
                    self._accept()
                elif sock is self.control:
                    if not self._command():
                        return
                else:
                    self._read(self.peers[sock], stamp)
            run = self.run
            if run is not None:
                try:
                    run.tick(time.perf_counter_ns())
                except OSError as exc:
                    run.finish(f"writing to the client failed: {exc}")
                if run.finished:
                    self.run = None
                    self.control.send(("done", run.result))

    def _accept(self) -> None:
        sock, _ = self.listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.peers[sock] = _Peer(sock)

    def _command(self) -> bool:
        try:
            command, arg = self.control.recv()
        except EOFError:
            return False
        if command == "arm":
            self.run = Run(arg)
        elif command == "go" and self.run is not None:
            self.run.go(time.perf_counter_ns())
        elif command == "stop":
            return False
        return True

    def _close(self, peer: _Peer) -> None:
        self.peers.pop(peer.sock, None)
        try:
            peer.sock.close()
        except OSError:
            pass
        session = peer.session
        run = self.run
        if session is not None and run is not None and run.session is session:
            run.finish("the client closed its WebSocket before the run ended")

    def _read(self, peer: _Peer, stamp: int) -> None:
        try:
            chunk = peer.sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            self._close(peer)
            return
        peer.inbox.feed(chunk, stamp)
        try:
            if peer.session is not None:
                self._frames(peer)
            else:
                self._requests(peer)
        except OSError:
            self._close(peer)

    def _frames(self, peer: _Peer) -> None:
        session = peer.session
        assert session is not None
        while (frame := next_ws_frame(peer.inbox)) is not None:
            opcode, payload, first, last = frame
            if opcode == 0x8:
                session.write(ws_frame(payload[:2], 0x8))
                self._close(peer)
                return
            if opcode in (0x1, 0x2):
                session.message(payload, first, last)

    def _requests(self, peer: _Peer) -> None:
        while peer.session is None and (request := next_http_request(peer.inbox)) is not None:
            key = request.headers.get("sec-websocket-key")
            if key is not None:
                accept_upgrade(peer.sock, key.encode())
                cls = BitfinexSession if request.path.startswith("/bf") else BackpackSession
                session = peer.session = cls(peer.sock, self)
                run = self.run
                venue = "bitfinex" if cls is BitfinexSession else "backpack"
                if run is not None and run.session is None and run.spec.venue == venue:
                    session.run = run
                    run.attach(session)
                self._frames(peer)  # a frame sent right behind the upgrade
                return
            self._answer(peer, request)

    def _answer(self, peer: _Peer, request: Request) -> None:
        now_ms = time.time_ns() // 10**6
        if request.method == "POST" and request.path == "/api/v1/order":
            try:
                body = json.loads(request.body)
            except ValueError:
                body = {}
            run = self.run
            if run is not None:
                run.order(bp_trigger_index(body.get("price")), request.first, request.last,
                          check=lambda: _verify_backpack(request, body))
            self.orders += 1
            answer = http_answer(200, bp_order_answer(body, 70_000_000 + self.orders, now_ms))
        else:
            answer = http_answer(*bp_rest(request.method, request.path, now_ms))
        peer.sock.sendall(answer)


def serve(control: Any) -> None:
    """Process entry point: listen on 127.0.0.1 (any port), send ``("ready", port)`` on
    ``control`` and serve until told to stop."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    control.send(("ready", listener.getsockname()[1]))
    Server(listener, control).loop()


class LatencyServer:
    """The server process, driven from the measuring process (context manager; one thread).

    ``in_process``: serve on a thread of this process instead, sharing its GIL with the client
    under test (only to show what that does to the figures).

    Raises:
        RuntimeError: on enter, when the server did not start within 30 s.
    """

    def __init__(self, in_process: bool = False) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._control, child = ctx.Pipe()
        self._proc: Any = (
            threading.Thread(target=serve, args=(child,), name="bpbfx-latency-server", daemon=True)
            if in_process
            else ctx.Process(target=serve, args=(child,), name="bpbfx-latency-server", daemon=True)
        )
        self.port = 0

    def __enter__(self) -> LatencyServer:
        self._proc.start()
        if not self._control.poll(30):
            raise RuntimeError("the latency benchmark server did not start within 30 s")
        _, self.port = self._control.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._control.send(("stop", None))
        except OSError:
            pass
        self._proc.join(5)
        if self._proc.is_alive() and isinstance(self._proc, multiprocessing.process.BaseProcess):
            self._proc.terminate()
            self._proc.join(5)

    def url(self, venue: str) -> str:
        """The WebSocket URL of ``venue``."""
        return f"ws://127.0.0.1:{self.port}/{'bf' if venue == 'bitfinex' else 'bp'}"

    @property
    def rest_url(self) -> str:
        """The Backpack REST base URL."""
        return f"http://127.0.0.1:{self.port}"

    def arm(self, spec: RunSpec) -> None:
        """Prepare a run: it attaches to the next WebSocket session of its venue."""
        self._control.send(("arm", spec))

    def go(self) -> None:
        """The client is ready: start the triggers."""
        self._control.send(("go", None))

    def result(self, timeout: float) -> RunResult:
        """Wait for the armed run's result.

        Raises:
            RuntimeError: no result within ``timeout`` seconds.
        """
        if not self._control.poll(timeout):
            raise RuntimeError(f"the latency run did not end within {timeout:g} s")
        _, result = self._control.recv()
        assert isinstance(result, RunResult)
        return result
