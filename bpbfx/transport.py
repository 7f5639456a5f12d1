"""The one thread-backed WebSocket connection used by every exchange client.

:class:`Connection` wraps ``websocket.WebSocketApp`` and owns

- a **reader thread** that runs the reconnect loop: connect, read until the socket ends, wait
  the :class:`~bpbfx.backoff.Backoff` delay, connect again, until :meth:`Connection.close`;
- a **watchdog thread** that replaces a connection on which nothing has arrived for
  ``silence_timeout`` seconds, aborts a handshake that takes longer than ``connect_timeout``,
  and calls :meth:`ConnectionListener.on_timer` about every ``timer_interval`` seconds so that the
  exchange layer can run its own per-stream checks;
- a send lock.

It knows nothing of any exchange: frames go to a :class:`ConnectionListener` as bytes (the
socket is read with ``skip_utf8_validation=True``; the JSON decoder validates anyway), and the
listener decides what to send on open.  websocket-client's own ``reconnect=`` is not used: it
has a fixed delay with no jitter and a different callback on reconnect.

Teardown follows what was measured on websocket-client 1.9.2: ``WebSocketApp.close()`` from
another thread reads the socket itself for up to 3 s while the reader thread does the same, so
a connection is ended by clearing ``keep_running`` and shutting the TCP socket down, which wakes
the reader's ``select()`` at once (docs/protocols.md, "websocket-client: closing from another thread").

The TCP (and TLS) connection is opened here, not by websocket-client, and handed to it with
``WebSocketApp(socket=...)`` (a supported parameter): the socket exists before
``run_forever`` starts, so an abort can never be lost (``run_forever`` resets ``keep_running``
to True when it starts, which used to swallow a close landing just before it), a connect that
gets no answer is abandoned within 50 ms of :meth:`Connection.close`, and every socket is closed
explicitly when its attempt ends rather than left to the garbage collector.
"""

from __future__ import annotations

import errno
import logging
import random
import selectors
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, Protocol

import websocket

from . import _wsfast
from .backoff import Backoff
from .exceptions import (
    BpbfxError,
    ConfigurationError,
    ConnectionLostError,
    HandshakeError,
    ProxyError,
    RemoteProtocolError,
    WatchdogTimeout,
)
from .proxy import Proxy, tunnel

__all__ = ["Connection", "ConnectionListener", "RateLimiter", "connect_tcp"]

log = logging.getLogger("bpbfx")

# Connection states.
IDLE, CONNECTING, OPEN, CLOSED = "idle", "connecting", "open", "closed"

_ABORT_POLL = 0.05  # seconds between abort checks while a TCP connect is pending
DEFAULT_RATE_LIMITED = 10.0
"""Seconds to wait after an HTTP 429 on the handshake when ``Backoff.rate_limited`` is ``None``."""


class _Aborted(Exception):
    """The attempt was aborted (close() or reconnect()) before the socket was up."""


class ConnectionListener(Protocol):
    """What a :class:`Connection` reports to; implemented by the exchange clients.

    Every method except :meth:`on_timer` runs on the connection's reader thread; ``on_timer``
    and watchdog reports run on its watchdog thread.  Implementations must not raise.
    """

    def on_connection_open(self, conn: Connection) -> None:
        """The WebSocket handshake completed; send subscriptions / auth from here."""

    def on_connection_frame(self, conn: Connection, data: bytes) -> None:
        """One text or binary frame arrived (the hot path)."""

    def on_connection_ping(self, conn: Connection, payload: bytes) -> None:
        """The server sent a protocol ping (the pong has been sent by websocket-client)."""

    def on_connection_closed(self, conn: Connection, error: BpbfxError) -> None:
        """The connection ended (``error`` says how: a :class:`TransportError` such as
        :class:`WatchdogTimeout` when the watchdog replaced it, or a
        :class:`RemoteProtocolError` when the server broke RFC 6455); a reconnect follows.
        Not called after :meth:`Connection.close`."""

    def on_connection_retry(self, conn: Connection, attempt: int, delay: float) -> None:
        """Reconnect attempt ``attempt`` starts after ``delay`` seconds."""

    def on_timer(self, conn: Connection, now: float) -> None:
        """Periodic tick (``now`` is ``time.monotonic()``) for exchange-level watchdogs."""


def connect_tcp(sock: socket.socket, address: Any, deadline: float, aborted: Callable[[], bool]) -> None:
    """Connect ``sock`` to ``address`` by ``deadline`` (``time.monotonic()``), checking
    ``aborted()`` every 50 ms so that another thread can end a connect that gets no answer.
    The socket is left in blocking mode.

    Raises:
        InterruptedError: ``aborted()`` became true.
        TimeoutError: no answer by the deadline.
        OSError: the connect failed (refused, unreachable...).
    """
    sock.setblocking(False)
    code = sock.connect_ex(address)
    if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
        raise OSError(code, f"connect to {address!r} failed: {errno.errorcode.get(code, code)}")
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        while code != 0:
            if aborted():
                raise InterruptedError("connect aborted")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer to the TCP connect in time")
            if selector.select(min(_ABORT_POLL, remaining)):
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, f"connect to {address!r} failed: {errno.errorcode.get(code, code)}")
                break
    sock.setblocking(True)


class RateLimiter:
    """Sliding-window limit on how many connections may be opened per ``period`` seconds.

    Shared by all connections of a client (Bitfinex: at most 20 public connects per minute).
    ``acquire`` blocks until a slot is free or ``stop`` is set; it is thread-safe.

    The exchange counts a connection when it accepts it, which may be well after the attempt
    began (a slow TCP, TLS or proxy handshake).  So a slot is stamped when it is taken and
    stamped again, later, when the attempt's handshake ended (:meth:`settle`): the window
    then never lets the next attempt start before ``period`` has passed since the exchange
    could have counted the earlier one, however long handshakes take.
    """

    def __init__(self, limit: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.period = period
        self._clock = clock
        self._stamps: list[float] = []
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a slot if one is free and return 0.0, else return the seconds until one is."""
        return self._take()[0]

    def _take(self) -> tuple[float, float]:
        """``(0.0, the slot's stamp)`` when a slot was taken, else ``(seconds to wait, 0.0)``."""
        with self._lock:
            now = self._clock()
            cutoff = now - self.period
            self._stamps = [t for t in self._stamps if t > cutoff]
            if len(self._stamps) < self.limit:
                self._stamps.append(now)
                return 0.0, now
            return min(self._stamps) - cutoff, 0.0

    def acquire(self, stop: threading.Event) -> bool:
        """Block until a slot is taken (True) or ``stop`` is set (False)."""
        return self.acquire_slot(stop) is not None

    def acquire_slot(self, stop: threading.Event) -> float | None:
        """Block until a slot is taken (its stamp, for :meth:`settle`) or ``stop`` is set
        (``None``)."""
        while True:
            wait, stamp = self._take()
            if wait <= 0:
                return stamp
            if stop.wait(wait):
                return None

    def settle(self, stamp: float) -> None:
        """The attempt whose slot has ``stamp`` ended its handshake (opened or failed): the
        slot counts from now."""
        with self._lock:
            try:
                i = self._stamps.index(stamp)
            except ValueError:
                return  # already out of the window
            self._stamps[i] = max(stamp, self._clock())


class Connection:
    """One WebSocket connection that reconnects by itself until closed.

    Args:
        url: ``ws://`` or ``wss://`` URL.
        listener: receives frames and lifecycle reports (see :class:`ConnectionListener`).
        name: label used in thread names and messages.
        backoff: reconnect delay policy (also the least wait after an HTTP 429 on the
            handshake: ``Backoff.rate_limited``).
        silence_timeout: seconds without any frame (data, heartbeat or ping) after which the
            connection is declared dead and replaced; ``None`` disables the watchdog.
        connect_timeout: seconds a handshake may take before it is aborted.
        timer_interval: how often :meth:`ConnectionListener.on_timer` runs, seconds.
        rate_limiter: optional shared limit on connection attempts.
        header: extra HTTP headers for the handshake.
        ssl_context: TLS settings for ``wss://`` (default: ``ssl.create_default_context()``,
            which verifies the certificate and host name).
        proxy: go through this HTTP (``CONNECT``) or SOCKS5 proxy (see :mod:`bpbfx.proxy`);
            TLS runs end to end through the tunnel.
        rand: random source for the backoff jitter (tests pass a fixed one).

    Thread-safety: :meth:`send`, :meth:`reconnect`, :meth:`close` may be called from any thread,
    including from inside listener callbacks.
    """

    def __init__(
        self,
        url: str,
        listener: ConnectionListener,
        *,
        name: str = "bpbfx",
        backoff: Backoff | None = None,
        silence_timeout: float | None = None,
        connect_timeout: float = 10.0,
        timer_interval: float = 1.0,
        rate_limiter: RateLimiter | None = None,
        header: list[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.url = url
        self.name = name
        self._listener = listener
        self.backoff = backoff or Backoff()
        self.silence_timeout = silence_timeout
        self.connect_timeout = connect_timeout
        self.timer_interval = timer_interval
        self._rate_limiter = rate_limiter
        self._header = header or []
        self._ssl_context = ssl_context
        self.proxy = proxy
        """The proxy every attempt goes through (``None``: direct)."""
        self._rand = rand
        self.fast_receive = _wsfast.supported()
        """Read through the buffered receive of :mod:`bpbfx._wsfast` (default: when the installed
        websocket-client is a verified version); False uses websocket-client's own reader."""
        split = urllib.parse.urlsplit(url)
        if split.scheme not in ("ws", "wss") or not split.hostname:
            raise ConfigurationError(f"URL must be ws://host[:port]/path or wss://host[:port]/path, got {url!r}")
        self._secure = split.scheme == "wss"
        self._host = split.hostname
        self._port = split.port or (443 if self._secure else 80)

        self._lock = threading.Lock()
        self._stop = threading.Event()  # set once by close()
        self._app: websocket.WebSocketApp | None = None
        self._sock: socket.socket | None = None  # this attempt's socket, from before the TCP connect
        self._aborted = False  # set by _abort_socket for the current attempt
        self._closing = False  # plain flag read per frame: set once close() begins
        self._reader: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._state = IDLE
        self._pending_error: BpbfxError | None = None
        self._min_delay = 0.0
        self._watchdog_paused = False

        # Counters, read by stats; written by the reader thread only.
        self.frames_received = 0
        self.bytes_received = 0
        self.connects = 0
        self.reconnects = 0
        self.watchdog_trips = 0
        self.last_frame_at = 0.0
        self.opened_at = 0.0
        self._attempt_started = 0.0

    def __repr__(self) -> str:
        return f"<Connection {self.name} {self.url} {self._state}>"

    # ------------------------------------------------------------------ public API
    @property
    def state(self) -> str:
        """``"idle"``, ``"connecting"``, ``"open"`` or ``"closed"``."""
        return self._state

    @property
    def is_open(self) -> bool:
        """True while the WebSocket is connected."""
        return self._state == OPEN

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._stop.is_set()

    def start(self) -> None:
        """Start the reader and watchdog threads; returns at once (idempotent)."""
        with self._lock:  # started under the lock: a concurrent close() sees both or neither
            if self._reader is not None or self._stop.is_set():
                return
            self._reader = threading.Thread(target=self._run, name=f"{self.name}-reader", daemon=True)
            self._watchdog = threading.Thread(target=self._watch, name=f"{self.name}-watchdog", daemon=True)
            self._reader.start()
            self._watchdog.start()

    def send(self, text: str) -> bool:
        """Send one text frame if the connection is open.

        Returns False (and sends nothing) when not connected: state that must survive a
        reconnect is re-sent from ``on_connection_open``.  Never raises for a closed socket.
        """
        app = self._app
        if app is None or self._state != OPEN:
            return False
        sock = app.sock
        if sock is None:
            return False
        try:
            sock.send(text)  # websocket-client serialises senders with its own lock
        except (websocket.WebSocketException, OSError):
            return False
        return True

    def reconnect(self, error: BpbfxError | None = None, *, min_delay: float = 0.0) -> None:
        """Drop the current connection (if any) and connect again.

        Args:
            error: reported through ``on_connection_closed`` as the reason.
            min_delay: wait at least this long before the next attempt (rate limits).
        """
        with self._lock:
            self._min_delay = max(self._min_delay, min_delay)
            if self._app is None and self._sock is None:
                # Between attempts: nothing to drop; the next attempt is already coming.
                return
            self._pending_error = error
        self._abort_socket()

    def defer(self, seconds: float) -> None:
        """Make the next reconnect attempt wait at least ``seconds`` (e.g. after HTTP 429)."""
        with self._lock:
            self._min_delay = max(self._min_delay, seconds)

    def pause_watchdog(self, paused: bool) -> None:
        """Suspend (or resume) the silence watchdog, e.g. during announced maintenance."""
        self._watchdog_paused = paused
        self.last_frame_at = time.monotonic()

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """The reader and watchdog threads that were started (empty before :meth:`start`)."""
        return tuple(t for t in (self._reader, self._watchdog) if t is not None and t.ident is not None)

    def stop(self) -> None:
        """Begin closing without waiting (idempotent, any thread): no frame is handed to the
        listener from now on, a normal close frame is sent when connected, and the socket (or a
        pending connect) is aborted.  :meth:`join` waits for the threads."""
        self._closing = True
        with self._lock:
            self._stop.set()
            app = self._app
        if app is not None and app.sock is not None and self._state == OPEN:
            try:
                app.sock.send_close()
            except (websocket.WebSocketException, OSError):
                pass
        self._abort_socket()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until both threads have ended (True), or ``timeout`` seconds pass (False).
        A thread never waits for itself: from a listener callback the wait skips the calling
        thread, which ends as soon as the callback returns."""
        deadline = None if timeout is None else time.monotonic() + timeout
        current = threading.current_thread()
        for thread in self.threads:
            if thread is current:
                continue
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        done = not any(t.is_alive() for t in self.threads if t is not current)
        if done:
            self._state = CLOSED
        return done

    def close(self, timeout: float = 5.0) -> bool:
        """:meth:`stop`, then :meth:`join` (idempotent, any thread; see :meth:`join` for a
        call from a callback).  Returns True when both threads have ended."""
        self.stop()
        return self.join(timeout)

    # ------------------------------------------------------------------ internals
    def _abort_socket(self) -> None:
        with self._lock:
            self._aborted = True
            app = self._app
            sock = self._sock
        if app is not None:
            app.keep_running = False
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv/select at once
            except OSError:
                pass  # not connected yet: the connect loop sees _aborted within _ABORT_POLL

    def _run(self) -> None:
        # ``level`` drives the backoff: it grows with every attempt and falls back to 1 only
        # after a connection stayed up ``reset_after`` seconds, so a server that accepts and
        # then drops at once is not hammered.  ``attempt`` is what listeners are told: attempts
        # since the last connection that opened, so the first retry after a drop is always 1.
        level = attempt = 0
        while not self._stop.is_set():
            if level:
                delay = max(self.backoff.delay(level, self._rand), self._min_delay)
                self._min_delay = 0.0
                self._listener.on_connection_retry(self, attempt, delay)
                if self._stop.wait(delay):
                    break
                self.reconnects += 1
            limiter = self._rate_limiter
            slot = None
            if limiter is not None:
                slot = limiter.acquire_slot(self._stop)
                if slot is None:
                    break
            self._connect_once(limiter, slot)
            if self._stop.is_set():
                break
            healthy = self.opened_at and time.monotonic() - self.opened_at >= self.backoff.reset_after
            level = 1 if healthy else level + 1
            attempt = 1 if self.opened_at else attempt + 1
        self._state = CLOSED

    def _connect_once(self, limiter: RateLimiter | None = None, slot: float | None = None) -> None:
        """One connection attempt, from TCP connect until the socket ends; ``slot``, taken from
        ``limiter``, is settled when the handshake ends (opened or failed)."""
        outcome: dict[str, Any] = {}

        def settle() -> None:
            nonlocal slot
            if limiter is not None and slot is not None:
                limiter.settle(slot)
                slot = None

        def on_open(app: websocket.WebSocketApp) -> None:
            settle()
            self.connects += 1
            self.opened_at = self.last_frame_at = time.monotonic()
            self._state = OPEN
            if not self._closing:
                self._listener.on_connection_open(self)

        frame_cb = self._listener.on_connection_frame
        clock = time.monotonic

        def on_message(app: websocket.WebSocketApp, data: bytes) -> None:
            # Hot path: a flag, two counters, a clock read, one call.
            if self._closing:
                return
            self.frames_received += 1
            self.bytes_received += len(data)
            self.last_frame_at = clock()
            frame_cb(self, data)

        def on_fast_frame(data: bytes) -> None:
            # The same hot path for frames cut out by the buffered receive (bpbfx._wsfast).
            if self._closing:
                return
            self.frames_received += 1
            self.bytes_received += len(data)
            self.last_frame_at = clock()
            frame_cb(self, data)

        def on_ping(app: websocket.WebSocketApp, payload: bytes) -> None:
            self.last_frame_at = clock()
            if not self._closing:
                self._listener.on_connection_ping(self, payload)

        def on_error(app: websocket.WebSocketApp, exc: BaseException) -> None:
            outcome.setdefault("error", exc)

        def on_close(app: websocket.WebSocketApp, code: int | None, reason: str | None) -> None:
            outcome["code"] = code
            outcome["reason"] = reason or ""

        with self._lock:
            if self._stop.is_set():
                return
            self._aborted = False
            self._state = CONNECTING
            self.opened_at = 0.0
            self._attempt_started = time.monotonic()
        sock: socket.socket | None = None
        try:
            sock = self._open_socket()
            outcome["tcp"] = True
            app = websocket.WebSocketApp(
                self.url,
                header=self._header,
                on_open=on_open,
                on_message=on_message,
                on_ping=on_ping,
                on_error=on_error,
                on_close=on_close,
                socket=sock,
            )
            with self._lock:
                if self._stop.is_set() or self._aborted:
                    raise _Aborted
                self._app = app
            # Buffered receive (bpbfx._wsfast) when the installed websocket-client is one it was
            # verified on; otherwise websocket-client's own reader.
            dispatcher = _wsfast.FastDispatcher(app, on_fast_frame) if self.fast_receive else None
            app.run_forever(skip_utf8_validation=True, reconnect=0, dispatcher=dispatcher)
            if dispatcher is not None and dispatcher.failure is not None:
                outcome.setdefault("error", dispatcher.failure)
        except _Aborted:
            pass
        except Exception as exc:  # noqa: BLE001 - any failure ends this attempt; we reconnect
            outcome.setdefault("error", exc)
        finally:
            settle()  # a handshake that failed: counted from its end too
            with self._lock:
                self._app = None
                self._sock = None
                self._state = CONNECTING if not self._stop.is_set() else CLOSED
                pending, self._pending_error = self._pending_error, None
            if sock is not None:
                sock.close()  # explicitly, never left to the garbage collector
        if self._stop.is_set():
            return
        error = pending or self._describe(outcome)
        if isinstance(error, HandshakeError) and error.status == 429:
            # Rate limited: hammering would only extend the block.
            wait = self.backoff.rate_limited
            self.defer(DEFAULT_RATE_LIMITED if wait is None else wait)
        self._listener.on_connection_closed(self, error)

    def _open_socket(self) -> socket.socket:
        """TCP connect (and TLS handshake for ``wss://``) within ``connect_timeout``, abortable
        at any moment by :meth:`_abort_socket` (reader thread).

        Raises:
            _Aborted: close() or reconnect() came first.
            OSError: no address answered (TimeoutError when none within the timeout).
        """
        deadline = time.monotonic() + self.connect_timeout
        proxy = self.proxy
        if proxy is None:
            infos = socket.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM)
        else:
            try:
                infos = socket.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise ProxyError(
                    f"{self.name}: cannot resolve proxy {proxy.safe_url}: {exc}", proxy=proxy.safe_url
                ) from None
        error: OSError = OSError(f"no address for {self._host}")
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            with self._lock:
                if self._stop.is_set() or self._aborted:
                    sock.close()
                    raise _Aborted
                self._sock = sock
            try:
                self._connect_tcp(sock, address, deadline)
            except OSError as exc:
                with self._lock:
                    self._sock = None
                sock.close()
                error = exc
                continue
            except BaseException:
                with self._lock:
                    self._sock = None
                sock.close()
                raise
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if proxy is not None:
                try:
                    tunnel(sock, proxy, self._host, self._port, deadline, label=self.name)
                except BaseException:
                    with self._lock:
                        self._sock = None
                        aborted = self._aborted or self._stop.is_set()
                    sock.close()
                    if aborted:
                        raise _Aborted from None
                    raise
            if not self._secure:
                return sock
            try:
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                context = self._ssl_context or ssl.create_default_context()
                secure = context.wrap_socket(sock, server_hostname=self._host)
                secure.settimeout(None)
            except BaseException:
                with self._lock:
                    self._sock = None
                sock.close()
                raise
            with self._lock:
                self._sock = secure
            return secure
        if proxy is not None:
            raise ProxyError(
                f"{self.name}: could not reach proxy {proxy.safe_url}: {error}", proxy=proxy.safe_url
            ) from error
        raise error

    def _connect_tcp(self, sock: socket.socket, address: Any, deadline: float) -> None:
        try:
            connect_tcp(sock, address, deadline, lambda: self._aborted or self._stop.is_set())
        except InterruptedError:
            raise _Aborted from None

    def _describe(self, outcome: dict[str, Any]) -> BpbfxError:
        """Translate websocket-client's way of ending into one of our errors."""
        exc = outcome.get("error")
        code = outcome.get("code")
        reason = outcome.get("reason", "")
        err: BpbfxError
        if isinstance(exc, ProxyError):
            return exc  # names the connection and the proxy already
        if isinstance(exc, websocket.WebSocketBadStatusException):
            status = exc.status_code
            err = HandshakeError(
                f"{self.name}: server refused the WebSocket handshake with HTTP {status}", status=status
            )
        elif isinstance(exc, (websocket.WebSocketProtocolException, websocket.WebSocketPayloadException)):
            # RFC 6455 broken by the peer (stray continuation, reserved bits or opcode, bad
            # payload): the connection cannot continue; a reconnect follows.
            err = RemoteProtocolError(f"{self.name}: server broke the WebSocket protocol ({exc}); reconnecting")
        elif code is not None:
            err = ConnectionLostError(
                f"{self.name}: server closed the connection (code {code}{': ' + reason if reason else ''})",
                close_code=code,
                reason=reason,
            )
        elif not outcome.get("tcp"):
            via = f" through proxy {self.proxy.safe_url}" if self.proxy is not None else ""
            if isinstance(exc, TimeoutError):
                text = f"could not connect to {self.url}{via} within {self.connect_timeout:g}s"
            else:
                text = f"could not connect to {self.url}{via}: {type(exc).__name__}: {exc}"
            err = ConnectionLostError(f"{self.name}: {text}", reason=str(exc))
        elif not self.opened_at and isinstance(exc, ssl.SSLError):
            err = HandshakeError(f"{self.name}: TLS handshake with {self.url} failed: {exc}")
        elif (
            not self.opened_at
            and isinstance(exc, websocket.WebSocketException)
            and not isinstance(exc, (websocket.WebSocketConnectionClosedException, websocket.WebSocketTimeoutException))
        ):
            # Connected, but the answer to the upgrade request was not a valid WebSocket
            # handshake (garbage, wrong Sec-WebSocket-Accept...): the server is not speaking
            # WebSocket properly.
            err = HandshakeError(f"{self.name}: invalid WebSocket handshake from {self.url}: {exc}")
        elif exc is not None and not self.opened_at:
            err = ConnectionLostError(
                f"{self.name}: connection to {self.url} lost during the handshake: {type(exc).__name__}: {exc}",
                reason=str(exc),
            )
        elif exc is not None:
            err = ConnectionLostError(f"{self.name}: connection lost: {type(exc).__name__}: {exc}", reason=str(exc))
        else:
            err = ConnectionLostError(f"{self.name}: connection ended")
        if exc is not None:
            err.__cause__ = exc
        return err

    def _watch(self) -> None:
        listener = self._listener
        while not self._stop.is_set():
            interval = self.timer_interval
            if self.silence_timeout:
                interval = min(interval, self.silence_timeout / 4)
            if self._stop.wait(interval):
                return
            now = time.monotonic()
            state = self._state
            if state == OPEN and self.silence_timeout and not self._watchdog_paused:
                silence = now - self.last_frame_at
                if silence > self.silence_timeout:
                    self.watchdog_trips += 1
                    err = WatchdogTimeout(
                        f"{self.name}: nothing received for {silence:.1f}s "
                        f"(limit {self.silence_timeout:g}s); replacing the connection",
                        silence=silence,
                        timeout=self.silence_timeout,
                    )
                    self.last_frame_at = now
                    self.reconnect(err)
                    continue
            elif state == CONNECTING and (self._app is not None or self._sock is not None) and self._attempt_started:
                if now - self._attempt_started > self.connect_timeout:
                    self._attempt_started = now
                    self.reconnect(
                        ConnectionLostError(
                            f"{self.name}: handshake took longer than {self.connect_timeout:g}s; retrying"
                        )
                    )
                    continue
            if state == OPEN:
                listener.on_timer(self, now)
