"""The server machinery shared by the exchange simulators.

A :class:`SimServer` runs a ``websockets`` asyncio server on 127.0.0.1 in a background thread,
so that synchronous tests, the demo and users' own programs can start it, point a client at
``server.url`` and drive faults from their own thread.  It owns the WebSocket and HTTP GET
handling on one port, the tick loop and :meth:`SimServer.step`, and the fault controls every
simulator has (drops, closes, silence, refused handshakes, injected frames).  One client and
its queue of frames are :mod:`bpbfx.sim._connection`'s; exchange behaviour lives in the
subclasses (:mod:`bpbfx.sim.backpack`, :mod:`bpbfx.sim.bitfinex`, :mod:`bpbfx.sim.replay`).

Every public method is thread-safe and may be called from any thread except the server's own
loop thread (they wait for the loop).  ``websockets`` is an optional dependency: install the
``sim`` extra (``pip install "bpbfx[sim]"``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

try:
    from websockets.asyncio.server import Server, ServerConnection, serve
    from websockets.datastructures import Headers
    from websockets.exceptions import ConnectionClosed
    from websockets.http11 import Request, Response
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "bpbfx.sim needs the 'websockets' package: pip install 'bpbfx[sim]'"
    ) from exc

from bpbfx.sim._connection import Outbox, SimConnection
from bpbfx.sim._http import HttpReply, HttpRequest, serve_http

__all__ = ["Outbox", "SimConnection", "SimServer"]

log = logging.getLogger("bpbfx.sim")

T = TypeVar("T")
S = TypeVar("S", bound="SimServer")


class SimServer:
    """Background-thread WebSocket (and tiny HTTP GET) server on 127.0.0.1.

    Args:
        host: interface to bind; only loopback addresses make sense for a simulator.
        port: TCP port, 0 for any free port (read it back from :attr:`port`).
        tick_interval: seconds between calls of :meth:`on_tick` (market data generation);
            ``None`` disables the ticker.
        ping_interval: seconds between protocol pings sent to every client, ``None`` for none.
        ssl_context: serve ``wss://`` (and ``https://``) with this server-side TLS context (e.g. a
            self-signed certificate for 127.0.0.1); subclasses that do not take the argument
            accept it as the :attr:`ssl_context` attribute, set before :meth:`start`.

    Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_interval: float | None = 0.05,
        ping_interval: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.ssl_context = ssl_context
        self._requested_port = port
        self.port = 0
        self.tick_interval = tick_interval
        self.ping_interval = ping_interval
        self.connections: dict[int, SimConnection] = {}
        self.total_connections = 0
        self.received: list[tuple[int, Any]] = []
        self.http_requests: list[tuple[str, dict[str, str]]] = []
        self.rest_requests: list[HttpRequest] = []
        """Every request the REST server (:attr:`http_url`) took, whole, in arrival order."""
        self.http_port = 0
        self._silent = False
        self._refuse_status: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._start_error: BaseException | None = None
        self._cond = threading.Condition()
        self._lock = threading.RLock()  # exchange state of the subclasses
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ lifecycle
    def start(self: S) -> S:
        """Bind the port and start serving in a background thread; returns ``self``.

        Raises:
            OSError: the port could not be bound.
            RuntimeError: the server is already running.
        """
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._thread = threading.Thread(target=self._run, name=f"{type(self).__name__}", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            self._thread.join()
            self._thread = None
            raise self._start_error
        return self

    def stop(self) -> None:
        """Close every connection and stop the server thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if thread is None or loop is None:
            return
        if thread.is_alive() and self._stopping is not None:
            loop.call_soon_threadsafe(self._stopping.set)
        thread.join(10)
        self._thread = None

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>`` (``wss://`` with :attr:`ssl_context`; the port is known
        once started)."""
        return f"{'wss' if self.ssl_context is not None else 'ws'}://{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:<port>`` (``https://`` with :attr:`ssl_context`) of the REST
        endpoints: an HTTP/1.1 keep-alive server on a port of its own (:attr:`http_port`).
        The WebSocket port also answers plain GETs, as it always did."""
        return f"{'https' if self.ssl_context is not None else 'http'}://{self.host}:{self.http_port}"

    # ------------------------------------------------------------------ controls (any thread)
    def step(self, ticks: int = 1) -> None:
        """Run ``ticks`` ticks (:meth:`on_tick`) now on the server loop; returns when done.

        Works with or without the automatic ticker: with ``tick_interval=None`` nothing moves
        but by this call, which makes tests deterministic.  Any thread but the loop's.

        Raises:
            RuntimeError: the simulator is not started.
            ValueError: ``ticks`` < 1.
        """
        if ticks < 1:
            raise ValueError(f"ticks must be >= 1, got {ticks!r}")

        async def go() -> None:
            for _ in range(ticks):
                await self.on_tick()

        self.call(go)

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]], timeout: float = 10.0) -> T:
        """Run the coroutine function ``fn()`` on the server loop and return its result."""
        if self._loop is None:
            raise RuntimeError("simulator not started")
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result(timeout)

    def drop_connections(self) -> int:
        """Abort every client's TCP connection without a close frame; returns how many."""

        async def go() -> int:
            conns = list(self.connections.values())
            for c in conns:
                c.abort()
            return len(conns)

        return self.call(go)

    def close_connections(self, code: int = 1001, reason: str = "going away") -> int:
        """Close every client connection with a close frame ``code``/``reason``."""

        async def go() -> int:
            # Start the closing handshakes without waiting for them: a client that never
            # answers would otherwise hold this call for websockets' close timeout.
            conns = list(self.connections.values())
            for c in conns:
                self.spawn(c.ws.close(code, reason))
            return len(conns)

        return self.call(go)

    def set_silent(self, silent: bool = True) -> None:
        """Stop (or resume) sending anything at all, pings included, on every connection."""
        self._silent = silent

    @property
    def silent(self) -> bool:
        """Nothing is sent on any connection (:meth:`set_silent`)."""
        return self._silent

    def silence_connection(self, conn_id: int, silent: bool = True) -> None:
        """Stop (or resume) sending anything, pings included, to one client.  Frames produced
        meanwhile are lost, as on a dead link (numbered frames keep their numbers, so the
        client sees a gap).  Any thread.

        Raises:
            ValueError: no such connection.
        """
        conn = self.connections.get(conn_id)
        if conn is None:
            raise ValueError(f"no connection {conn_id!r}; connected: {sorted(self.connections.copy())}")
        conn.silent = silent

    def refuse_connections(self, status: int | None = 429) -> None:
        """Answer new WebSocket handshakes with HTTP ``status`` (``None`` to accept again)."""
        self._refuse_status = status

    def inject(self, message: str | bytes) -> int:
        """Send a raw frame to every connected client (even while silent); returns how many."""

        async def go() -> int:
            conns = list(self.connections.values())
            for c in conns:
                await c.send_raw(message)
            return len(conns)

        return self.call(go)

    @property
    def connection_count(self) -> int:
        """Clients connected right now."""
        return len(self.connections)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate()`` is true (re-checked on every server event); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def wait_for_connections(self, n: int, timeout: float = 10.0) -> bool:
        """Block until at least ``n`` connections have ever been accepted."""
        return self.wait_for(lambda: self.total_connections >= n, timeout)

    def received_frames(self, conn_id: int | None = None) -> list[Any]:
        """Decoded frames the clients sent (optionally of one connection), oldest first."""
        with self._cond:
            return [f for cid, f in self.received if conn_id is None or cid == conn_id]

    # ------------------------------------------------------------------ subclass hooks
    async def on_connect(self, conn: SimConnection) -> None:
        """Called when a client connects (e.g. Bitfinex sends ``info``)."""

    async def on_message(self, conn: SimConnection, message: str | bytes) -> None:
        """Called for every frame a client sends."""

    async def on_disconnect(self, conn: SimConnection) -> None:
        """Called when a client has gone."""

    async def on_tick(self) -> None:
        """Called every ``tick_interval`` seconds to generate market data."""

    def http_get(self, path: str, params: dict[str, str]) -> tuple[int, Any] | None:
        """Answer a plain HTTP GET with ``(status, json_body)``, or ``None`` for 404."""
        return None

    def http_request(self, request: HttpRequest) -> HttpReply | None:
        """Answer one REST request on :attr:`http_url` (loop thread, under the state lock);
        ``None`` is a 404.  By default a GET is answered by :meth:`http_get`; simulators
        that take other methods (orders) override this."""
        if request.method != "GET":
            return HttpReply(405, {"code": "METHOD_NOT_ALLOWED", "message": f"{request.method} {request.path}"})
        answer = self.http_get(request.path, request.params)
        return None if answer is None else HttpReply(answer[0], answer[1])

    async def _http(self, request: HttpRequest) -> HttpReply | None:
        with self._cond:
            self.http_requests.append((request.path, request.params))
            self.rest_requests.append(request)
            self._cond.notify_all()
        with self._lock:
            reply = self.http_request(request)
        self.notify()
        return reply

    # ------------------------------------------------------------------ helpers for subclasses
    def _run_locked(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` under the state lock on the server loop (it may queue frames), or right
        here when the server is not running or this is the loop thread."""
        loop = self._loop
        if loop is None or not loop.is_running() or threading.current_thread() is self._thread:
            with self._lock:
                return fn()

        async def go() -> T:
            with self._lock:
                return fn()

        result = self.call(go)
        self.notify()
        return result

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` under the state lock on the server loop ``delay`` seconds from now, then
        wake up :meth:`wait_for` callers (loop thread)."""

        def run() -> None:
            with self._lock:
                fn()
            self.notify()

        asyncio.get_running_loop().call_later(delay, run)

    def notify(self) -> None:
        """Wake up :meth:`wait_for` callers after a state change."""
        with self._cond:
            self._cond.notify_all()

    def receive_json(self, conn: SimConnection, message: str | bytes) -> tuple[str, Any] | None:
        """Decode a client frame: ``(text, value)``, or ``None`` when it is not UTF-8 JSON.
        Either way the frame is remembered for :meth:`received_frames` (decoded when it is
        JSON, as received otherwise).  Loop thread."""
        try:
            text = message if isinstance(message, str) else message.decode("utf-8")
            frame = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            self.record(conn, message)
            return None
        self.record(conn, frame)
        return text, frame

    def record(self, conn: SimConnection, frame: Any) -> None:
        """Remember a decoded client frame for :meth:`received_frames`."""
        with self._cond:
            self.received.append((conn.id, frame))
            self._cond.notify_all()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start a task on the server loop that is cancelled when the server stops."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------ internals
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:
            if not self._started.is_set():
                self._start_error = exc
                self._started.set()
            else:
                log.exception("simulator crashed")
        finally:
            self._finish(loop)

    @staticmethod
    def _finish(loop: asyncio.AbstractEventLoop) -> None:
        """Cancel what still runs on ``loop`` (a handshake that arrived while the server was
        closing, say) and let it end, then close the loop: no task is left pending."""
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        server = await serve(
            self._handler,
            self.host,
            self._requested_port,
            process_request=self._process_request,
            ping_interval=None,
            compression=None,
            max_size=2**22,
            close_timeout=1.0,  # a client that never completes the closing handshake
            ssl=self.ssl_context,
        )
        self._server = server
        sock = next(iter(server.sockets))
        self.port = sock.getsockname()[1]
        http = await serve_http(self._http, self.host, ssl_context=self.ssl_context)
        self.http_port = next(iter(http.sockets)).getsockname()[1]
        ticker = self.spawn(self._ticker()) if self.tick_interval else None
        self._started.set()
        try:
            await self._stopping.wait()
        finally:
            if ticker is not None:
                ticker.cancel()
            server.close(close_connections=True)
            await server.wait_closed()
            http.close()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _ticker(self) -> None:
        assert self.tick_interval is not None
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                await self.on_tick()
            except Exception:
                log.exception("simulator tick failed")

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            parts = urlsplit(request.path)
            params = dict(parse_qsl(parts.query))
            with self._cond:
                self.http_requests.append((parts.path, params))
                self._cond.notify_all()
            answer = self.http_get(parts.path, params)
            if answer is None:
                status, body = 404, {"code": "NOT_FOUND", "message": f"no route {parts.path}"}
            else:
                status, body = answer
            data = json.dumps(body).encode()
            headers = Headers(
                [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Connection", "close")]
            )
            return Response(status, HTTPStatus(status).phrase, headers, data)
        if self._refuse_status is not None:
            return connection.respond(HTTPStatus(self._refuse_status), "refused by simulator\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        self.total_connections += 1
        conn = SimConnection(self, ws, self.total_connections)
        self.connections[conn.id] = conn
        self.notify()
        pinger = self.spawn(self._pinger(conn)) if self.ping_interval else None
        try:
            await self.on_connect(conn)
            async for message in ws:
                try:
                    await self.on_message(conn, message)
                except Exception:
                    log.exception("simulator failed to handle a message")
        except ConnectionClosed:
            pass
        finally:
            if pinger is not None:
                pinger.cancel()
            self.connections.pop(conn.id, None)
            try:
                await self.on_disconnect(conn)
            finally:
                self.notify()

    async def _pinger(self, conn: SimConnection) -> None:
        assert self.ping_interval is not None
        while True:
            await asyncio.sleep(self.ping_interval)
            if self._silent or conn.silent:
                continue
            try:
                await conn.ws.ping(b"sim")
            except ConnectionClosed:
                return
