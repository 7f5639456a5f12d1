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

import json
import multiprocessing
import select
import socket
import threading
import time
from typing import Any

from .harness import accept_upgrade, ws_frame
from .latency_inbox import Inbox, Request, next_http_request, next_ws_frame
from .latency_run import Run, RunResult, RunSpec
from .latency_sessions import BackpackSession, BitfinexSession, WsSession, verify_backpack
from .latency_wire import bp_order_answer, bp_rest, bp_trigger_index, http_answer

__all__ = ["LatencyServer", "RunResult", "RunSpec", "Server", "serve"]


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
                session = peer.session = cls(peer.sock)
                run = self.run
                venue = "bitfinex" if cls is BitfinexSession else "backpack"
                if run is not None and run.spec.venue == venue:
                    if venue == "backpack":
                        if run.session is None:
                            session.run = run
                            run.attach(session)
                    else:
                        # A Bitfinex bot may open several sockets (bpbfx trades on one of its
                        # own, which may open after the market-data one has subscribed): each
                        # joins the run, and the one that subscribes the channels takes the
                        # triggers.
                        session.run = run
                        run.join(session)
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
                          check=lambda: verify_backpack(request, body))
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
