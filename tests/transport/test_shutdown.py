"""close() is exact, callbacks cannot kill a connection, and any-thread methods are safe under
storms: loopback tests against the simulators and small hand-written servers."""

from __future__ import annotations

import base64
import gc
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bpbfx import (
    Backoff,
    BackpackClient,
    BitfinexClient,
    CallbackError,
    CredentialsError,
    HandshakeError,
    RemoteProtocolError,
    StaleBookError,
)
from bpbfx.backpack.events import Trade
from bpbfx.bitfinex.auth import Credentials
from bpbfx.bitfinex.events import TradingTicker
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from tests.support import FAST, Recorder

ROOT = Path(__file__).resolve().parents[1]


def client_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(name + "-") and t.is_alive()]


def open_sockets() -> int:
    """Open TCP sockets of this process (file descriptors that are sockets)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


@pytest.fixture
def bp_sim(backpack_sim: Callable[..., BackpackSimulator]) -> BackpackSimulator:
    return backpack_sim(seed=7, tick_interval=0.01, time_scale=0.01)


@pytest.fixture
def bf_sim(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(seed=4, tick_interval=0.01)


class Server:
    """A TCP server on 127.0.0.1 whose connection handler is a plain function (thread per
    connection); for handshakes and frames no simulator would send."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def accept_key(request: bytes) -> str:
    import hashlib

    lines = request.split(b"\r\n")
    key = next(line.split(b":", 1)[1].strip() for line in lines if line.lower().startswith(b"sec-websocket-key"))
    digest = hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest).decode()


def upgrade(conn: socket.socket, accept: str | None = None) -> None:
    request = read_request(conn)
    conn.sendall(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept or accept_key(request)}\r\n\r\n"
        ).encode()
    )


def frame(payload: bytes, opcode: int = 1, fin: bool = True, rsv1: bool = False) -> bytes:
    head = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    assert len(payload) < 126
    return bytes([head, len(payload)]) + payload


# ------------------------------------------------------------------------------ close() cycles


def test_200_start_close_cycles_leave_nothing_behind(bp_sim: BackpackSimulator) -> None:
    """200 start(); close() pairs at random moments of the handshake: after each close no
    client thread is alive, no socket stays open and no callback runs again."""
    gc.collect()
    baseline = open_sockets()
    late: list[str] = []
    for i in range(200):
        closed = threading.Event()

        def on_message(client: Any, event: Any, closed: threading.Event = closed) -> None:
            if closed.is_set():
                late.append(event.stream)

        name = f"cycle{i}"
        client = BackpackClient(
            bp_sim.url, rest_url=bp_sim.http_url, streams=["trade.SOL_USDC"], on_message=on_message, name=name
        )
        client.start()
        if i % 4 == 1:
            client.wait_ready(2)
        elif i % 4 == 2:
            time.sleep(0.0005 * (i % 7))  # land the close inside the TCP connect / handshake
        client.close()
        closed.set()
        assert client_threads(name) == [], f"cycle {i}: threads left"
    assert open_sockets() <= baseline + 2  # the simulator may still be closing its side
    assert late == []


def test_concurrent_close_callers_all_wait_for_the_end(bp_sim: BackpackSimulator) -> None:
    """Two threads calling close() at once both return only when every thread has ended."""
    client = BackpackClient(bp_sim.url, rest_url=bp_sim.http_url, streams=["depth.SOL_USDC"], name="concurrent")
    client.start()
    assert client.wait_ready(10)
    barrier = threading.Barrier(2)
    alive_after: list[list[threading.Thread]] = []

    def closer() -> None:
        barrier.wait()
        client.close()
        alive_after.append(client_threads("concurrent"))

    threads = [threading.Thread(target=closer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert alive_after == [[], []]


def test_close_from_inside_a_callback_returns_and_ends_the_client(bp_sim: BackpackSimulator) -> None:
    """close() from on_message does not wait for itself; the client ends right after."""
    done = threading.Event()

    def on_message(client: Any, event: Any) -> None:
        client.close()
        done.set()

    client = BackpackClient(
        bp_sim.url, rest_url=bp_sim.http_url, streams=["trade.SOL_USDC"], on_message=on_message, name="inside"
    )
    client.start()
    assert done.wait(10)
    client.close()  # from the test thread: waits until the reader has really ended
    assert client_threads("inside") == []


def test_close_during_an_unanswered_tcp_connect_is_prompt(syn_blackhole: int) -> None:
    """close() while the TCP connect gets no answer returns at once and leaves no thread."""
    client = BitfinexClient(f"ws://127.0.0.1:{syn_blackhole}", auth=False, connect_timeout=30, name="synhole")
    client.subscribe("ticker", symbol="tBTCUSD")
    client.start()
    assert not client.wait_ready(0.3)  # the connect hangs
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 1.0
    assert client_threads("synhole") == []


def test_close_during_a_trickled_rest_snapshot_is_prompt(bp_sim: BackpackSimulator) -> None:
    """A REST snapshot answered one byte at a time is bounded by a deadline, and close()
    aborts it at once: the snapshot thread does not outlive the client."""

    def trickle(conn: socket.socket) -> None:
        read_request(conn)
        body = b'{"asks":[],"bids":[],"lastUpdateId":"1","timestamp":1}'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        for byte in body:
            conn.sendall(bytes([byte]))
            time.sleep(0.2)

    rest = Server(trickle)
    errors = Recorder()
    try:
        client = BackpackClient(
            bp_sim.url,
            rest_url=f"http://127.0.0.1:{rest.port}",
            streams=["depth.SOL_USDC"],
            connect_timeout=1.0,
            on_error=errors,
            name="trickle",
            backoff=Backoff(initial=5.0, jitter=0.0),
        )
        client.start()
        # The deadline ends the first fetch after ~1 s however slowly bytes arrive.
        assert errors.wait_for(lambda items: any(isinstance(e, StaleBookError) for e in items), 5)
        text = str(errors.of(StaleBookError)[0])
        assert "timed out" in text or "within 1s" in text
        started = time.monotonic()
        client.close()
        assert time.monotonic() - started < 1.0
        assert client_threads("trickle") == []
    finally:
        rest.close()


# ------------------------------------------------------------------------------ Ctrl-C


SCRIPT = textwrap.dedent(
    """
    import signal, sys, threading
    from bpbfx import BackpackClient

    # As in an interactive program (a background job of a non-interactive shell starts with
    # SIGINT ignored, and Python then leaves it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    class Client(BackpackClient):
        def start(self):
            print("go", flush=True)  # run_forever() has begun: the signal lands in its start-up
            return super().start()

    client = Client(sys.argv[1], rest_url=sys.argv[2], streams=["trade.SOL_USDC", "depth.SOL_USDC"])
    client.run_forever()
    alive = [t.name for t in threading.enumerate() if t.name.startswith("backpack-")]
    print("closed", client.closed, alive, flush=True)
    """
)


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.01, 0.05, 0.3])
def test_ctrl_c_at_any_moment_of_start_up_closes_cleanly(
    bp_sim: BackpackSimulator, tmp_path: Path, delay: float
) -> None:
    """SIGINT at several moments of run_forever's start-up: a clean close, no traceback."""
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(script), bp_sim.url, bp_sim.http_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "go"
    if delay:
        time.sleep(delay)  # the moment of start-up being tested, not a wait for an event
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "closed True []" in out


# ------------------------------------------------------------------------------ callbacks


def test_system_exit_in_a_callback_is_reported_and_the_connection_carries_on(bp_sim: BackpackSimulator) -> None:
    """SystemExit (a BaseException) from on_message becomes a CallbackError; the reader
    thread survives and keeps delivering."""
    errors, events = Recorder(), Recorder()
    raised = threading.Event()

    def on_message(client: Any, event: Any) -> None:
        events(client, event)
        if not raised.is_set():
            raised.set()
            raise SystemExit(3)

    client = BackpackClient(
        bp_sim.url, rest_url=bp_sim.http_url, streams=["trade.SOL_USDC"], on_message=on_message, on_error=errors
    )
    with client:
        assert errors.wait_for(lambda items: any(isinstance(e, CallbackError) for e in items), 10)
        err = errors.of(CallbackError)[0]
        assert isinstance(err.original, SystemExit) and "SystemExit" in str(err)
        n = len(events.items)
        assert events.wait_count(n + 3, 10, Trade)
        assert client.stats().open_connections == 1


# ------------------------------------------------------------------------------ handshake / RFC 6455


@pytest.mark.parametrize(
    "answer",
    [
        b"garbage that is not HTTP\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: d3Jvbmc=\r\n\r\n",
    ],
)
def test_garbage_handshake_is_a_handshake_error(answer: bytes) -> None:
    """A handshake answered with garbage or a wrong Sec-WebSocket-Accept is a HandshakeError."""

    def handler(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(answer)
        time.sleep(0.5)
        conn.close()

    server = Server(handler)
    errors = Recorder()
    client = BitfinexClient(f"ws://127.0.0.1:{server.port}", auth=False, on_error=errors, backoff=FAST)
    try:
        client.start()
        assert errors.wait_for(lambda items: bool(items), 10)
        assert isinstance(errors.items[0], HandshakeError), errors.items[0]
    finally:
        client.close()
        server.close()


@pytest.mark.parametrize(
    "bad",
    [
        frame(b"x", opcode=0),  # continuation frame with no message to continue
        frame(b"{}", rsv1=True),  # RSV1 without a negotiated extension
        frame(b"", opcode=3),  # reserved opcode
    ],
    ids=["stray-continuation", "rsv1", "reserved-opcode"],
)
def test_rfc6455_violations_are_remote_protocol_errors_then_reconnect(bad: bytes) -> None:
    """A frame that breaks RFC 6455 ends the connection as a RemoteProtocolError, and the
    normal reconnect follows."""
    connects = []

    def handler(conn: socket.socket) -> None:
        upgrade(conn)
        connects.append(conn)
        conn.sendall(frame(b'{"event":"info","version":2,"platform":{"status":1}}'))
        conn.sendall(bad)
        time.sleep(1)

    server = Server(handler)
    errors, opened = Recorder(), Recorder()
    client = BitfinexClient(f"ws://127.0.0.1:{server.port}", auth=False, on_error=errors, on_open=opened, backoff=FAST)
    try:
        client.start()
        assert errors.wait_for(lambda items: any(isinstance(e, RemoteProtocolError) for e in items), 10)
        assert opened.wait_count(2, 10)  # reconnected
    finally:
        client.close()
        server.close()


# ------------------------------------------------------------------------------ secrets


def test_swapped_keys_show_no_part_of_either() -> None:
    """Key and secret given the wrong way round: no character of either in messages or reprs."""
    secret = "4odxgSUxFrC/zsKWZF4OQwYAgnNu9hnWH3NxWfLAPz4="
    public = "zDIJj9qneWIY0IYZ5aXoHcNMCm+XDhVcTssiT0HyY0A="
    with pytest.raises(CredentialsError) as info:
        BackpackClient("ws://127.0.0.1:9", api_key=secret, api_secret=public)
    text = f"{info.value} {info.value!r}"
    for value in (secret, public):
        for i in range(len(value) - 3):
            assert value[i : i + 4] not in text
    key, bfx_secret = "Q7xZp2Lm9Wv4Kt8Rb3Nc6Hd1Fg5Js0Y", "uV8qT1wE6rY3zX9cB4nM7kP2jH5gF0d"
    creds = Credentials(bfx_secret, key)  # swapped
    text = repr(creds) + str(BitfinexClient("ws://127.0.0.1:9", api_key=bfx_secret, api_secret=key))
    for value in (key, bfx_secret):
        for i in range(len(value) - 3):
            assert value[i : i + 4] not in text


# ------------------------------------------------------------------------------ storms


def test_subscribe_then_unsubscribe_leaves_nothing_on_the_server(bf_sim: BitfinexSimulator) -> None:
    """subscribe() immediately followed by unsubscribe(): the late `subscribed` reply is matched
    to the cancelled request and unsubscribed; none of its events reach on_message."""
    events = Recorder()
    client = BitfinexClient(bf_sim.url, auth=False, on_message=events, backoff=FAST)
    client.subscribe("ticker", symbol="tBTCUSD")
    with client:
        assert client.wait_ready(10)
        conn_id = bf_sim.connection_ids[0]
        for _ in range(6):
            client.subscribe("ticker", symbol="tETHUSD")
            client.unsubscribe("ticker", symbol="tETHUSD")
        client.ping()
        assert bf_sim.wait_for(
            lambda: [c["symbol"] for c in bf_sim.subscriptions()[conn_id].values()] == ["tBTCUSD"], 5
        )
        n = len(events.of(TradingTicker))
        assert events.wait_count(n + 3, 10, TradingTicker)
        assert {e.symbol for e in events.of(TradingTicker)[n:]} == {"tBTCUSD"}


def test_thread_storm_client_and_server_agree(bf_sim: BitfinexSimulator) -> None:
    """8 threads subscribe/unsubscribe/book()/stats() while callbacks do the same: afterwards
    the channels the server holds are exactly the ones the client lists, and stats() never
    raised."""
    symbols = ["tBTCUSD", "tETHUSD", "tSOLUSD", "tXRPUSD"]
    failures: list[BaseException] = []

    def on_message(client: Any, event: Any) -> None:
        try:
            client.stats()
            if isinstance(event, TradingTicker):
                client.subscribe("ticker", symbol=symbols[hash(event.bid) % 4])
        except Exception as exc:  # noqa: BLE001 - collected and asserted on
            failures.append(exc)

    client = BitfinexClient(bf_sim.url, auth=False, on_message=on_message, backoff=FAST)
    client.subscribe("book", symbol="tBTCUSD")
    with client:
        assert client.wait_ready(10)
        stop = time.monotonic() + 2.0

        def storm(seed: int) -> None:
            import random

            rng = random.Random(seed)
            while time.monotonic() < stop:
                try:
                    symbol = rng.choice(symbols)
                    action = rng.random()
                    if action < 0.4:
                        client.subscribe("ticker", symbol=symbol)
                    elif action < 0.8:
                        client.unsubscribe("ticker", symbol=symbol)
                    elif action < 0.9:
                        client.stats()
                    else:
                        client.book("tBTCUSD").best_bid()
                except Exception as exc:  # noqa: BLE001 - collected and asserted on
                    failures.append(exc)

        threads = [threading.Thread(target=storm, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        client.on_message = None
        assert failures == []
        assert client.wait_ready(10)
        conn_id = bf_sim.connection_ids[0]

        def server_streams() -> set[str]:
            held = set()
            for c in bf_sim.subscriptions()[conn_id].values():
                held.add("book:tBTCUSD:P0:F0:25" if c["channel"] == "book" else f"ticker:{c['symbol']}")
            return held

        assert bf_sim.wait_for(lambda: server_streams() == set(client.subscriptions), 10), (
            server_streams(),
            client.subscriptions,
        )


def test_stats_from_many_threads_while_streams_appear(bp_sim: BackpackSimulator) -> None:
    """stats() from 8 threads while new streams are subscribed never raises."""
    client = BackpackClient(bp_sim.url, rest_url=bp_sim.http_url, streams=["trade.SOL_USDC"])
    failures: list[BaseException] = []
    with client:
        assert client.wait_ready(10)
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                try:
                    client.stats()
                except Exception as exc:  # noqa: BLE001 - collected and asserted on
                    failures.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(8)]
        for t in threads:
            t.start()
        for market in ("BTC_USDC", "ETH_USDC", "SOL_USDC_PERP", "BTC_USDC_PERP"):
            for kind in ("trade", "bookTicker", "ticker", "depth"):
                client.subscribe(f"{kind}.{market}")
        stop.set()
        for t in threads:
            t.join(10)
    assert failures == []


def test_backpack_storm_client_and_server_agree(bp_sim: BackpackSimulator) -> None:
    """8 threads subscribing and unsubscribing Backpack streams: afterwards the server holds
    exactly the streams the client lists."""
    import random

    names = [f"{kind}.{market}" for kind in ("trade", "bookTicker", "depth") for market in ("SOL_USDC", "BTC_USDC")]
    failures: list[BaseException] = []
    client = BackpackClient(bp_sim.url, rest_url=bp_sim.http_url, streams=["ticker.SOL_USDC"])
    with client:
        assert client.wait_ready(10)
        stop = time.monotonic() + 1.5

        def storm(seed: int) -> None:
            rng = random.Random(seed)
            while time.monotonic() < stop:
                try:
                    name = rng.choice(names)
                    if rng.random() < 0.5:
                        client.subscribe(name)
                    else:
                        client.unsubscribe(name)
                    client.stats()
                except Exception as exc:  # noqa: BLE001 - collected and asserted on
                    failures.append(exc)

        threads = [threading.Thread(target=storm, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert failures == []
        held = bp_sim.subscriptions()
        assert bp_sim.wait_for(
            lambda: set(next(iter(bp_sim.subscriptions().values()))) == set(client.subscriptions), 10
        ), (held, client.subscriptions)
