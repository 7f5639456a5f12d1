"""The buffered receive (bpbfx._wsfast) over real sockets, ws and wss: data frames cut out of the
buffer arrive in order with everything websocket-client parses itself (pings, fragments, close,
large, masked and reserved-bit frames), however the bytes are split across reads."""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from bpbfx import _wsfast
from bpbfx.backoff import Backoff
from bpbfx.bench.harness import LoopbackTLS, loopback_tls
from bpbfx.exceptions import BpbfxError, ConnectionLostError, RemoteProtocolError
from bpbfx.transport import Connection

NO_RETRY = Backoff(initial=30.0, factor=1.0, cap=30.0, jitter=0.0)
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(payload: bytes, opcode: int = 1, fin: bool = True, rsv1: bool = False, mask: bytes | None = None) -> bytes:
    """One server frame with any header bits (RFC 6455 5.2)."""
    head = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        out = bytes([head, bit | n])
    elif n < 65536:
        out = struct.pack("!BBH", head, bit | 126, n)
    else:
        out = struct.pack("!BBQ", head, bit | 127, n)
    if mask:
        payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        out += mask
    return out + payload


def read_frame(sock: Any) -> tuple[int, bytes] | None:
    """One (masked) client frame, or None at end of stream."""

    def exact(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    try:
        head = exact(2)
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", exact(8))[0]
        key = exact(4) if head[1] & 0x80 else b"\0\0\0\0"
        body = exact(n)
    except (EOFError, OSError):
        return None
    return head[0] & 0x0F, bytes(b ^ key[i & 3] for i, b in enumerate(body))


class Server:
    """One-connection WebSocket server on 127.0.0.1 (TLS when given a context) that runs
    ``script(conn)`` after the upgrade and records the client frames it reads."""

    def __init__(self, script: Callable[[Server, Any], None], tls: ssl.SSLContext | None) -> None:
        self.script = script
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.client_frames: list[tuple[int, bytes]] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.conn: Any = None
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/"

    def _serve(self) -> None:
        try:
            raw, _ = self.listener.accept()
        except OSError:
            return
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn: Any = self.tls.wrap_socket(raw, server_side=True) if self.tls else raw
        self.conn = conn
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                return
            request += chunk
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        try:
            self.script(self, conn)
        except OSError:
            pass

    def read_client(self, conn: Any, until: Callable[[list[tuple[int, bytes]]], bool]) -> None:
        """Read client frames until ``until(frames)`` or end of stream."""
        while True:
            got = read_frame(conn)
            if got is None:
                return
            with self.cond:
                self.client_frames.append(got)
                self.cond.notify_all()
                done = until(self.client_frames)
            if got[0] == 8:  # answer the closing handshake (RFC 6455 5.5.1)
                conn.sendall(frame(got[1][:2], opcode=8))
                return
            if done:
                return

    def wait_client(self, predicate: Callable[[list[tuple[int, bytes]]], bool], timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.client_frames), timeout)

    def close(self) -> None:
        self.listener.close()
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.thread.join(5)


class Listener:
    """A ConnectionListener that records everything, in order, and lets tests wait."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []
        self.cond = threading.Condition()
        self.conn: Connection | None = None

    def _add(self, kind: str, value: Any) -> None:
        with self.cond:
            self.items.append((kind, value))
            self.cond.notify_all()

    def on_connection_open(self, conn: Connection) -> None:
        self._add("open", None)

    def on_connection_frame(self, conn: Connection, data: bytes) -> None:
        self._add("frame", bytes(data))

    def on_connection_ping(self, conn: Connection, payload: bytes) -> None:
        self._add("ping", bytes(payload))

    def on_connection_closed(self, conn: Connection, error: BpbfxError) -> None:
        self._add("closed", error)

    def on_connection_retry(self, conn: Connection, attempt: int, delay: float) -> None:
        pass

    def on_timer(self, conn: Connection, now: float) -> None:
        pass

    def wait(self, predicate: Callable[[list[tuple[str, Any]]], bool], timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.items), timeout)

    def frames(self) -> list[bytes]:
        with self.cond:
            return [v for k, v in self.items if k == "frame"]

    def kinds(self) -> list[str]:
        with self.cond:
            return [k for k, _ in self.items]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTLS:
    return loopback_tls(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture(params=["ws", "wss"])
def run(request: pytest.FixtureRequest, tls: LoopbackTLS) -> Iterator[Callable[..., tuple[Server, Listener]]]:
    """Start a Server with ``script`` and a Connection to it (TLS for the wss variant)."""
    started: list[tuple[Server, Connection]] = []
    secure = request.param == "wss"

    def start(script: Callable[[Server, Any], None], *, fast: bool = True) -> tuple[Server, Listener]:
        server = Server(script, tls.server_context() if secure else None)
        listener = Listener()
        conn = Connection(
            server.url,
            listener,
            name="fastpath",
            backoff=NO_RETRY,
            ssl_context=tls.client_context() if secure else None,
        )
        conn.fast_receive = fast
        listener.conn = conn
        started.append((server, conn))
        conn.start()
        return server, listener

    yield start
    for server, conn in started:
        assert conn.close(5)
        server.close()


def numbered(i: int) -> bytes:
    return b'{"n":%d,"pad":"%s"}' % (i, b"x" * (i % 37))


def test_fast_path_is_used_on_the_verified_version(monkeypatch: pytest.MonkeyPatch, run: Any) -> None:
    """On the verified websocket-client the connection reads through FastDispatcher and data
    frames are cut out of the buffer, not parsed by websocket-client."""
    assert _wsfast.supported()
    made: list[_wsfast.FastDispatcher] = []
    real = _wsfast.FastDispatcher

    def spy(*args: Any, **kwargs: Any) -> _wsfast.FastDispatcher:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(_wsfast, "FastDispatcher", spy)

    def script(server: Server, conn: Any) -> None:
        conn.sendall(b"".join(frame(numbered(i)) for i in range(500)))
        server.read_client(conn, lambda frames: False)

    _, listener = run(script)
    assert listener.wait(lambda items: len([k for k, _ in items if k == "frame"]) == 500)
    assert listener.frames() == [numbered(i) for i in range(500)]
    assert len(made) == 1 and made[0].parsed_frames == 0


def test_ping_between_data_frames_is_answered_and_reported_in_order(run: Any) -> None:
    """A ping between data frames in one buffer gets its pong and on_ping, in order."""

    def script(server: Server, conn: Any) -> None:
        conn.sendall(frame(b"a") + frame(b"b") + frame(b"hello", opcode=9) + frame(b"c") + frame(b"d", opcode=2))
        server.read_client(conn, lambda frames: any(op == 10 for op, _ in frames))

    server, listener = run(script)
    assert server.wait_client(lambda frames: (10, b"hello") in frames)
    assert listener.wait(lambda items: len(items) >= 6)
    assert listener.items[:6] == [
        ("open", None),
        ("frame", b"a"),
        ("frame", b"b"),
        ("ping", b"hello"),
        ("frame", b"c"),
        ("frame", b"d"),
    ]


def test_fragmented_message_with_a_ping_inside_is_joined_in_order(run: Any) -> None:
    """A fragmented message (with a ping between its fragments) arrives as one frame, between
    the unfragmented frames around it."""

    def script(server: Server, conn: Any) -> None:
        conn.sendall(
            frame(b"first")
            + frame(b'{"par', fin=False)
            + frame(b"p1", opcode=9)
            + frame(b't":', opcode=0, fin=False)
            + frame(b"1}", opcode=0)
            + frame(b"last")
        )
        server.read_client(conn, lambda frames: False)

    server, listener = run(script)
    assert listener.wait(lambda items: len(items) >= 5)
    assert listener.items[1:5] == [("frame", b"first"), ("ping", b"p1"), ("frame", b'{"part":1}'), ("frame", b"last")]
    assert server.wait_client(lambda frames: (10, b"p1") in frames)


def test_close_frame_in_the_middle_of_a_buffer_ends_delivery(run: Any) -> None:
    """Frames before a close frame are delivered, those after it never are, and the close
    code is reported."""

    def script(server: Server, conn: Any) -> None:
        close = frame(struct.pack("!H", 4001) + b"bye", opcode=8)
        conn.sendall(b"".join(frame(numbered(i)) for i in range(20)) + close + frame(b"after"))
        server.read_client(conn, lambda frames: any(op == 8 for op, _ in frames))

    server, listener = run(script)
    assert listener.wait(lambda items: "closed" in [k for k, _ in items])
    assert listener.frames() == [numbered(i) for i in range(20)]
    error = next(v for k, v in listener.items if k == "closed")
    assert isinstance(error, ConnectionLostError) and error.close_code == 4001
    assert server.wait_client(lambda frames: any(op == 8 for op, _ in frames))  # close answered


def test_frames_larger_than_the_buffer_arrive_intact_and_in_order(run: Any) -> None:
    """Frames larger than the receive buffer (16- and 64-bit lengths) arrive intact, in order."""
    big = bytes(range(256)) * 1200  # 307,200 bytes: 64-bit length, several reads
    near = b"y" * 65535  # the largest 16-bit length

    def script(server: Server, conn: Any) -> None:
        conn.sendall(frame(b"1") + frame(big, opcode=2) + frame(b"2") + frame(near) + frame(b"3"))
        server.read_client(conn, lambda frames: False)

    _, listener = run(script)
    assert listener.wait(lambda items: len(items) >= 6)
    assert listener.frames() == [b"1", big, b"2", near, b"3"]


def test_frames_split_byte_by_byte_across_reads(run: Any) -> None:
    """Frames written one byte per send (one TLS record per byte over wss) arrive intact."""
    payloads = [b"x", numbered(3), b"z" * 300]
    wire = frame(payloads[0]) + frame(b"pp", opcode=9) + frame(payloads[1]) + frame(payloads[2])

    def script(server: Server, conn: Any) -> None:
        for i in range(len(wire)):
            conn.sendall(wire[i : i + 1])
            time.sleep(0.0005)  # pace the server so the client sees separate reads
        server.read_client(conn, lambda frames: False)

    server, listener = run(script)
    assert listener.wait(lambda items: len(items) >= 5, 20)
    assert listener.items[1:5] == [
        ("frame", payloads[0]),
        ("ping", b"pp"),
        ("frame", payloads[1]),
        ("frame", payloads[2]),
    ]
    assert server.wait_client(lambda frames: (10, b"pp") in frames)


def test_masked_frame_goes_to_websocket_client_parser(run: Any) -> None:
    """A masked server frame is unmasked by websocket-client's parser and delivered in order."""

    def script(server: Server, conn: Any) -> None:
        conn.sendall(frame(b"a") + frame(b'{"masked":true}', mask=b"\x01\x02\x03\x04") + frame(b"b"))
        server.read_client(conn, lambda frames: False)

    _, listener = run(script)
    assert listener.wait(lambda items: len(items) >= 4)
    assert listener.frames() == [b"a", b'{"masked":true}', b"b"]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "stock"])
@pytest.mark.parametrize(
    "bad",
    [
        frame(b"{}", rsv1=True),
        frame(b"", opcode=3),
        frame(b"x", opcode=0),
        frame(b"{}", opcode=1, fin=False) + frame(b"{}"),
        frame(b"{}", opcode=1, fin=False) + frame(b"p", opcode=9) + frame(b"{}"),
    ],
    ids=[
        "rsv1",
        "reserved-opcode",
        "stray-continuation",
        "data-inside-fragmented",
        "data-after-ping-inside-fragmented",
    ],
)
def test_rfc6455_violations_behind_good_frames_are_remote_protocol_errors(run: Any, fast: bool, bad: bytes) -> None:
    """A frame breaking RFC 6455 in the middle of a buffer ends the connection as a
    RemoteProtocolError after the good frames before it; nothing after it is delivered."""

    def script(server: Server, conn: Any) -> None:
        conn.sendall(frame(b"ok1") + frame(b"ok2") + bad + frame(b"never"))
        server.read_client(conn, lambda frames: False)

    _, listener = run(script, fast=fast)
    assert listener.wait(lambda items: "closed" in [k for k, _ in items])
    assert listener.frames() == [b"ok1", b"ok2"]
    error = next(v for k, v in listener.items if k == "closed")
    assert isinstance(error, RemoteProtocolError), error


def test_end_of_stream_mid_frame_is_a_lost_connection(run: Any) -> None:
    """The server vanishing in the middle of a frame is a ConnectionLostError after the
    complete frames."""

    def script(server: Server, conn: Any) -> None:
        conn.sendall(frame(b"whole") + frame(b"cut off here")[:6])
        conn.close()

    _, listener = run(script)
    assert listener.wait(lambda items: "closed" in [k for k, _ in items])
    assert listener.frames() == [b"whole"]
    error = next(v for k, v in listener.items if k == "closed")
    assert isinstance(error, ConnectionLostError), error


def test_sends_from_other_threads_while_the_reader_blocks(run: Any) -> None:
    """Sends from two other threads go out whole while the reader blocks in recv."""

    def script(server: Server, conn: Any) -> None:
        conn.sendall(frame(b"hi"))
        server.read_client(conn, lambda frames: len(frames) >= 200)
        conn.sendall(frame(b"got them"))
        server.read_client(conn, lambda frames: False)

    server, listener = run(script)
    assert listener.wait(lambda items: ("frame", b"hi") in items)
    assert listener.conn is not None
    texts = [f'{{"t":{t},"i":{i},"pad":"{"p" * (i * 13 % 700)}"}}' for t in range(2) for i in range(100)]

    def sender(t: int) -> None:
        for text in texts[t * 100 : (t + 1) * 100]:
            assert listener.conn is not None and listener.conn.send(text)

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert listener.wait(lambda items: ("frame", b"got them") in items)
    assert sorted(body.decode() for op, body in server.client_frames[:200]) == sorted(texts)


def test_supported_rejects_other_versions() -> None:
    """Only the verified websocket-client range enables the fast path."""
    assert _wsfast._version_ok("1.9.2") and _wsfast._version_ok("1.9.7")
    assert not _wsfast._version_ok("1.9.1") and not _wsfast._version_ok("1.10.0") and not _wsfast._version_ok("2.0")
    assert _wsfast.supported() is _wsfast._version_ok(websocket.__version__)


def test_clients_stream_from_the_simulators_over_wss(tls: LoopbackTLS) -> None:
    """Both simulators serve wss (and Backpack https REST) with an ssl_context; the clients verify
    the certificate through their ssl_context and receive typed events and valid managed books
    (Backpack's seeded from the https snapshot) through the fast path."""
    from bpbfx import BackpackClient, BitfinexClient
    from bpbfx.backpack.events import Depth
    from bpbfx.bitfinex.events import BookUpdate
    from bpbfx.sim.backpack import BackpackSimulator
    from bpbfx.sim.bitfinex import BitfinexSimulator

    bp_sim, bf_sim = BackpackSimulator(), BitfinexSimulator()
    bp_sim.ssl_context = tls.server_context()
    bf_sim.ssl_context = tls.server_context()
    with bp_sim, bf_sim:
        assert bp_sim.url.startswith("wss://") and bf_sim.url.startswith("wss://")
        got = Listener()
        bp = BackpackClient(
            bp_sim.url,
            rest_url=bp_sim.http_url,
            streams=["depth.SOL_USDC"],
            ssl_context=tls.client_context(),
            on_message=lambda client, event: got._add("bp", event),
        )
        bf = BitfinexClient(
            bf_sim.url,
            auth=False,
            ssl_context=tls.client_context(),
            on_message=lambda client, event: got._add("bf", event),
        )
        stream = bf.subscribe("book", symbol="tBTCUSD", prec="P0", len=25)
        with bp, bf:
            assert got.wait(
                lambda items: (
                    sum(isinstance(v, Depth) for _, v in items) >= 5
                    and sum(isinstance(v, BookUpdate) for _, v in items) >= 5
                ),
                15,
            )
            assert bf.book(stream).valid
            assert got.wait(lambda items: bp.book("SOL_USDC").valid, 15)
            assert bp.stats().errors == 0 and bf.stats().errors == 0
