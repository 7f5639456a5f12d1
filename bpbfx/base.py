"""What every exchange client shares: user hooks, lifecycle, error reporting and stats.

Threading contract (the same for both exchanges):

- Each WebSocket connection has a **reader thread** (named ``<client>-reader``) that runs
  ``on_open``, ``on_message``, ``on_ping``, ``on_close``, ``on_reconnect``, ``on_book`` and most
  ``on_error`` calls for that connection, one at a time and in arrival order.  A slow callback
  delays reading (and the pong to a server ping), so hand heavy work to your own thread.
- A **watchdog thread** per connection detects silence; its reports reach ``on_error`` from
  that thread.
- Methods you call (``subscribe``, ``close``, ...) may be called from any thread, including from
  inside a callback.
- An exception raised by your callback is caught, wrapped in :class:`CallbackError` (the
  original is ``__cause__``) and passed to ``on_error``; the connection carries on.  An exception
  raised by ``on_error`` itself is logged on the ``bpbfx`` logger and dropped.
- Without an ``on_error`` hook, errors are logged on the ``bpbfx`` logger at WARNING level.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from .backoff import Backoff
from .events import Event
from .exceptions import (
    BpbfxError,
    CallbackError,
    ClientClosedError,
    ConfigurationError,
    ConnectionLostError,
    HandshakeError,
    MalformedFrameError,
)
from .live import OrderBookUpdate
from .transport import Connection, RateLimiter

if TYPE_CHECKING:
    from .pull import EventStream

__all__ = ["BaseClient", "ClientStats", "Sink", "StreamStats"]

log = logging.getLogger("bpbfx")

C = TypeVar("C", bound="BaseClient")

MessageHook = Callable[[Any, Event], None]
ErrorHook = Callable[[Any, BaseException], None]
PingHook = Callable[[Any, bytes], None]
OpenHook = Callable[[Any], None]
CloseHook = Callable[[Any, "int | None", str], None]
ReconnectHook = Callable[[Any, int], None]
RawHook = Callable[[Any, bytes, int], None]
UnifiedHook = Callable[[Any, Any], None]
"""``hook(client, unified_event)`` (see :mod:`bpbfx.unified`)."""


@dataclass(frozen=True, slots=True)
class StreamStats:
    """Counters of one stream: messages delivered and seconds since the last one (``None``
    if it never delivered)."""

    messages: int
    last_message_age: float | None


@dataclass(frozen=True, slots=True)
class ClientStats:
    """A plain snapshot of a client's counters (see :meth:`BaseClient.stats`).

    ``messages``/``bytes``: frames received; ``reconnects``: reconnect attempts;
    ``resyncs``: order books or sockets resynchronised after a detected problem;
    ``book_checks``: book integrity checks passed (Bitfinex checksums, Backpack contiguous update
    ids); ``watchdog_trips``: sockets replaced for silence; ``errors``: reports to ``on_error``;
    ``connections``/``open_connections``: sockets owned / currently open;
    ``last_message_age``: seconds since the last frame; ``streams``: per-stream counters;
    ``dropped_events``: events lost by the bounded queues attached to the client (``events()``
    streams, ``dispatch="thread"``), each loss also reported as :class:`EventsDroppedError`.
    """

    messages: int
    bytes: int
    reconnects: int
    resyncs: int
    book_checks: int
    watchdog_trips: int
    errors: int
    connections: int
    open_connections: int
    last_message_age: float | None
    streams: Mapping[str, StreamStats] = field(default_factory=dict)
    dropped_events: int = 0


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """On the main thread, hold SIGINT back for the duration of the block; a Ctrl-C pressed
    meanwhile raises KeyboardInterrupt when the block ends.  Elsewhere (signals only reach the
    main thread) or without ``pthread_sigmask``, nothing is done."""
    old: set[int | signal.Signals] | None = None
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_sigmask"):
        try:
            old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        except (OSError, ValueError):
            old = None
    try:
        yield
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a pending Ctrl-C raises here


class Sink:
    """A consumer attached to a client with :meth:`BaseClient.add_sink`: it sees every event,
    book update and error the client delivers, after the user hooks, on the same thread
    (reader thread, watchdog thread for watchdog errors, the snapshot thread for a Backpack
    resync).  Override what you need; every method does nothing by default.

    A sink must return quickly (hand work to its own thread) and should not raise: an exception
    is reported to ``on_error`` as a :class:`CallbackError` and the client carries on.  Redis
    publishing (:mod:`bpbfx.sinks`) and pull queues are built on this.
    """

    def on_event(self, client: BaseClient, event: Event) -> None:
        """An event handed to ``on_message``."""

    def on_book(self, client: BaseClient, update: OrderBookUpdate) -> None:
        """A managed order book changed (delta applied or rebuilt from a snapshot)."""

    def on_error(self, client: BaseClient, error: BaseException) -> None:
        """An error handed to ``on_error``."""

    def on_detach(self, client: BaseClient) -> None:
        """The sink was removed or the client closed; release resources here (calling thread)."""


class _StreamCounter:
    """Mutable per-stream counter kept by the reader thread (no lock: single writer)."""

    __slots__ = ("count", "last", "since")

    def __init__(self, since: float) -> None:
        self.count = 0
        self.last = 0.0
        self.since = since  # when the subscription was (re)sent; for silence checks


class BaseClient:
    """Lifecycle and hooks shared by :class:`~bpbfx.BackpackClient` and
    :class:`~bpbfx.BitfinexClient`; not used directly.

    Hooks are plain attributes and may also be assigned after construction.  Each receives the
    client as its first argument: ``on_message(client, event)``, ``on_error(client, exc)``,
    ``on_ping(client, payload)``, ``on_open(client)``, ``on_close(client, code, reason)``,
    ``on_reconnect(client, attempt)``, and ``on_raw(client, frame_bytes, socket_index)`` which
    sees every frame exactly as received, before decoding (for recorders).

    Options every client takes (see :class:`bpbfx.pull.HookRouter`): ``unified=True`` hands
    unified events (:mod:`bpbfx.unified`) to ``on_message`` instead of native ones;
    ``on_trade``/``on_quote``/``on_ticker``/``on_candle``/``on_book_change``/
    ``on_funding_rate``/``on_mark_price`` receive the unified events of their type;
    ``dispatch="thread"`` runs ``on_message``, ``on_book`` and those hooks on a
    ``<name>-dispatch`` thread from a bounded queue of ``dispatch_maxsize`` calls, losing calls
    by ``dispatch_overflow`` when it is full (reported as :class:`EventsDroppedError`).  With
    none of them the native inline path is unchanged.  :meth:`events` gives a bounded pull
    queue.
    """

    exchange: ClassVar[str] = ""
    rate_limit_backoff: float = 10.0
    """Seconds to wait before reconnecting after an HTTP 429 on the handshake."""

    def __init__(
        self,
        *,
        on_message: MessageHook | None = None,
        on_error: ErrorHook | None = None,
        on_ping: PingHook | None = None,
        on_open: OpenHook | None = None,
        on_close: CloseHook | None = None,
        on_reconnect: ReconnectHook | None = None,
        backoff: Backoff | None = None,
        name: str | None = None,
        unified: bool = False,
        dispatch: str = "inline",
        dispatch_maxsize: int = 10_000,
        dispatch_overflow: str = "drop_oldest",
        on_trade: UnifiedHook | None = None,
        on_quote: UnifiedHook | None = None,
        on_ticker: UnifiedHook | None = None,
        on_candle: UnifiedHook | None = None,
        on_book_change: UnifiedHook | None = None,
        on_funding_rate: UnifiedHook | None = None,
        on_mark_price: UnifiedHook | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.on_message = on_message
        self.on_error = on_error
        self.on_ping = on_ping
        self.on_open = on_open
        self.on_close = on_close
        self.on_reconnect = on_reconnect
        self.on_raw: RawHook | None = None
        if backoff is not None and not isinstance(backoff, Backoff):
            raise TypeError(f"backoff must be a bpbfx.Backoff, got {type(backoff).__name__}")
        self.backoff = backoff or Backoff()
        self.name = name or self.exchange
        self.ssl_context = ssl_context
        """TLS settings for ``wss://`` (and Backpack's ``https://`` REST); ``None``: the system's
        default verification (``ssl.create_default_context()``)."""
        self._lock = threading.RLock()  # protocol state; user callbacks run outside it
        self._connections: list[Connection] = []
        self._ready = threading.Event()
        self._closed = threading.Event()
        self._started = False
        self._streams: dict[str, _StreamCounter] = {}
        self._errors = 0
        self._resyncs = 0
        self._book_checks = 0  # checksums verified (Bitfinex) / contiguous deltas applied (Backpack)
        self._sinks: tuple[Sink, ...] = ()  # replaced whole (copy-on-write): read without a lock
        self._close_done = threading.Event()
        self._silenced = False  # set once close() has finished: no callback runs after that
        from .pull import make_router  # bpbfx.pull builds on this module

        self.unified = unified
        # unified=True / dispatch="thread": the router sink calls on_message (and on_book) instead.
        self._inline_message = not (unified or dispatch == "thread")
        self._inline_book = dispatch != "thread"
        self._router = make_router(
            self,
            unified=unified,
            dispatch=dispatch,
            maxsize=dispatch_maxsize,
            overflow=dispatch_overflow,
            hooks={
                "on_trade": on_trade,
                "on_quote": on_quote,
                "on_ticker": on_ticker,
                "on_candle": on_candle,
                "on_book_change": on_book_change,
                "on_funding_rate": on_funding_rate,
                "on_mark_price": on_mark_price,
            },
        )
        if self._router is not None:
            self._sinks = (self._router,)

    # ------------------------------------------------------------------ lifecycle
    def start(self: C) -> C:
        """Connect in the background and return at once (idempotent); returns the client.

        Runs on the caller's thread.  Raises :class:`ClientClosedError` after :meth:`close`.
        """
        with self._lock:
            if self._closed.is_set():
                raise ClientClosedError(f"{self.name} client is closed; create a new one")
            if self._started:
                return self
            self._started = True
            self._on_start()
            conns = list(self._connections)
        for conn in conns:
            conn.start()
        return self

    def run_forever(self) -> None:
        """Start if needed and block until :meth:`close` is called (from a callback or another
        thread) or Ctrl-C is pressed; the client is closed on return.

        Ctrl-C at any moment, also during start-up, closes the client cleanly and returns
        normally: on the main thread SIGINT is held back while threads are being started and
        while closing, so it cannot leave either half done (it is acted on right after).

        Raises :class:`ClientClosedError` if the client was already closed.
        """
        try:
            with _sigint_held():
                self.start()
            while not self._closed.wait(1.0):
                pass
        except KeyboardInterrupt:
            log.info("%s: interrupted, closing", self.name)
        finally:
            try:
                with _sigint_held():
                    self.close()
            except KeyboardInterrupt:  # pressed while closing: the client is closed already
                log.info("%s: Ctrl-C while closing; closed", self.name)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until connected and every subscription is in place (True), or ``timeout``
        seconds pass (False).  Any thread except the client's own reader threads."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        """True while connected with every subscription in place."""
        return self._ready.is_set()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed.is_set()

    def close(self, timeout: float = 10.0) -> None:
        """Close every connection and stop every thread this client started.

        Idempotent and safe from any thread.  From any thread that is not one of the client's
        own, every caller (also a second one, concurrently) returns only once the client is
        fully closed: every thread of the client has ended, every socket is closed, and no
        callback runs any more.  From inside a callback (a client thread) it does not wait:
        the calling thread ends as soon as its callback returns, and no further callback runs.

        ``on_close`` runs once, on the first caller's thread, with code 1000.  ``timeout``
        bounds the wait for a thread stuck in a callback of yours; such a thread runs no
        further callback and ends when your callback returns.
        """
        with self._lock:
            first = not self._closed.is_set()
            if first:
                self._closed.set()
                self._ready.clear()
            conns = list(self._connections)
        if first:
            for conn in conns:
                conn.stop()  # all sockets abort at once; nothing is handed to callbacks any more
            self._on_stop()
            if self._router is not None:
                self._router.stop()  # queued dispatch calls are dropped; its thread ends
        deadline = time.monotonic() + timeout
        own = self._on_own_thread()
        if not own:
            for conn in conns:
                conn.join(max(0.0, deadline - time.monotonic()))
            for thread in self._extra_threads() + self._dispatch_threads():
                thread.join(max(0.0, deadline - time.monotonic()))
        if first:
            self._on_closed()
            self._call_hook("on_close", self.on_close, 1000, "closed by client")
            sinks, self._sinks = self._sinks, ()
            for sink in sinks:
                self._sink_call(sink, "on_detach")
            self._silenced = True
            self._close_done.set()
        elif not own:
            self._close_done.wait(max(0.0, deadline - time.monotonic()))

    def _threads(self) -> list[threading.Thread]:
        """Every thread the client started (readers, watchdogs, helpers)."""
        threads = [t for conn in list(self._connections) for t in conn.threads]
        return threads + self._extra_threads() + self._dispatch_threads()

    def _dispatch_threads(self) -> list[threading.Thread]:
        """The ``dispatch="thread"`` thread, once started."""
        return self._router.threads() if self._router is not None else []

    def _on_own_thread(self) -> bool:
        current = threading.current_thread()
        return any(t is current for t in self._threads())

    def _extra_threads(self) -> list[threading.Thread]:
        """Threads of the exchange layer besides the connections' (e.g. a snapshot fetcher)."""
        return []

    def _on_stop(self) -> None:
        """Abort exchange-layer work at once (close() has begun; must not block)."""

    # ------------------------------------------------------------------ sinks
    def add_sink(self, sink: Sink) -> None:
        """Attach ``sink`` (see :class:`Sink`): from now on it sees every event, book update
        and error.  Any thread; attaching the same sink twice does nothing.

        Raises:
            TypeError: ``sink`` is not a :class:`Sink`.
            ClientClosedError: the client is closed.
        """
        if not isinstance(sink, Sink):
            raise TypeError(f"add_sink() takes a bpbfx Sink, got {type(sink).__name__}")
        with self._lock:
            if self._closed.is_set():
                raise ClientClosedError(f"{self.name} client is closed")
            if sink not in self._sinks:
                self._sinks = (*self._sinks, sink)

    def remove_sink(self, sink: Sink) -> bool:
        """Detach ``sink`` and call its ``on_detach``; False if it was not attached.  Any thread."""
        with self._lock:
            if sink not in self._sinks:
                return False
            self._sinks = tuple(s for s in self._sinks if s is not sink)
        self._sink_call(sink, "on_detach")
        return True

    @property
    def sinks(self) -> tuple[Sink, ...]:
        """The attached sinks."""
        return self._sinks

    # ------------------------------------------------------------------ pull API
    def events(
        self, maxsize: int = 10_000, overflow: str = "drop_oldest", *, books: bool = False, unified: bool | None = None
    ) -> EventStream:
        """A bounded queue of this client's events for a consumer on another thread:
        ``for event in client.events(maxsize=10_000, overflow="drop_oldest"): ...`` or
        ``stream.get(timeout)``; see :class:`bpbfx.EventStream` for the overflow policies and
        loss reports.  Unified events when the client was made with ``unified=True`` (or when
        ``unified=True`` is passed here).  Any thread.

        Raises:
            ConfigurationError: invalid ``maxsize`` / ``overflow``.
            ClientClosedError: the client is closed.
        """
        from .pull import EventStream

        return EventStream(
            self, maxsize=maxsize, overflow=overflow, books=books, unified=self.unified if unified is None else unified
        )

    def wait_dispatched(self, timeout: float | None = None) -> bool:
        """With ``dispatch="thread"``: block until every queued callback has run (True) or
        ``timeout`` passes (False); True at once otherwise.  Any thread but the dispatch thread."""
        return self._router.wait_idle(timeout) if self._router is not None else True

    def _sink_call(self, sink: Sink, method: str, *args: Any) -> None:
        try:
            getattr(sink, method)(self, *args)
        except Exception as exc:
            if method != "on_error":
                self._callback_failed(f"{type(sink).__name__}.{method}", exc)
            else:
                log.exception("%s: sink %r raised in on_error", self.name, sink)

    def _emit_book(self, update: OrderBookUpdate) -> None:
        """Hand a book update to ``on_book`` and the sinks (outside the lock)."""
        hook = getattr(self, "on_book", None) if self._inline_book else None
        if hook is not None:
            self._call_hook("on_book", hook, update)
        for sink in self._sinks:
            self._sink_call(sink, "on_book", update)

    @property
    def _wants_books(self) -> bool:
        """True when someone consumes book updates (an ``on_book`` hook or a sink)."""
        return getattr(self, "on_book", None) is not None or bool(self._sinks)

    def __enter__(self: C) -> C:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ stats
    def stats(self) -> ClientStats:
        """A consistent snapshot of the counters (any thread)."""
        now = time.monotonic()
        conns = list(self._connections)
        last = max((c.last_frame_at for c in conns), default=0.0)
        with self._lock:
            streams = {
                name: StreamStats(c.count, (now - c.last) if c.count else None) for name, c in self._streams.items()
            }
        return ClientStats(
            messages=sum(c.frames_received for c in conns),
            bytes=sum(c.bytes_received for c in conns),
            reconnects=sum(c.reconnects for c in conns),
            resyncs=self._resyncs,
            book_checks=self._count_book_checks(),
            watchdog_trips=sum(c.watchdog_trips for c in conns),
            errors=self._errors,
            connections=len(conns),
            open_connections=sum(1 for c in conns if c.is_open),
            last_message_age=(now - last) if last else None,
            streams=MappingProxyType(streams),
            dropped_events=sum(getattr(sink, "dropped", 0) for sink in self._sinks),
        )

    # ------------------------------------------------------------------ for subclasses
    def _count_book_checks(self) -> int:
        return self._book_checks

    def _on_start(self) -> None:
        """Create the initial connections (called under the lock by :meth:`start`)."""

    def _on_closed(self) -> None:
        """Release exchange resources after every connection closed."""

    def _new_connection(
        self,
        url: str,
        *,
        silence_timeout: float | None,
        connect_timeout: float,
        timer_interval: float,
        rate_limiter: RateLimiter | None = None,
        suffix: str = "",
    ) -> Connection:
        conn = Connection(
            url,
            self,
            name=f"{self.name}{suffix}",
            backoff=self.backoff,
            silence_timeout=silence_timeout,
            connect_timeout=connect_timeout,
            timer_interval=timer_interval,
            rate_limiter=rate_limiter,
            ssl_context=self.ssl_context,
        )
        self._connections.append(conn)
        return conn

    def _stream_counter(self, stream: str) -> _StreamCounter:
        counter = self._streams.get(stream)
        if counter is None:
            counter = self._streams[stream] = _StreamCounter(time.monotonic())
        return counter

    def _call_hook(self, name: str, hook: Callable[..., Any] | None, *args: Any) -> None:
        """Run a user hook; whatever it raises goes to ``on_error`` as a :class:`CallbackError`."""
        if hook is None or self._silenced:
            return
        try:
            hook(self, *args)
        except Exception as exc:  # noqa: BLE001 - user code must never kill the connection
            self._callback_failed(name, exc)
        except BaseException as exc:  # noqa: BLE001 - SystemExit in a callback must not kill a thread
            self._callback_aborted(name, exc)

    def _callback_aborted(self, name: str, exc: BaseException) -> None:
        """A callback raised a BaseException (SystemExit, a KeyboardInterrupt raised by hand on
        a client thread, ...).  It cannot stop the client: that would leave a dead connection
        behind.  It is reported as a :class:`CallbackError` and the client carries on; only a
        KeyboardInterrupt on the main thread (``feed()``) propagates, as Ctrl-C must."""
        if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
            raise exc
        err = CallbackError(
            f"{name} callback raised {type(exc).__name__}: {exc}; a callback cannot stop the client, "
            "call client.close() instead",
            hook=name,
            original=exc,
        )
        err.__cause__ = exc
        self._report(err)

    def _callback_failed(self, name: str, exc: Exception) -> None:
        err = CallbackError(f"{name} callback raised {type(exc).__name__}: {exc}", hook=name, original=exc)
        err.__cause__ = exc
        self._report(err)

    def _report(self, exc: BaseException) -> None:
        """Deliver an error to ``on_error`` (or the log when there is none); never raises."""
        if self._silenced:
            return
        self._errors += 1
        for sink in self._sinks:
            self._sink_call(sink, "on_error", exc)
        hook = self.on_error
        if hook is None:
            text = str(exc)
            if text.startswith(self.name) and text[len(self.name) : len(self.name) + 1] in (":", "-"):
                log.warning("%s", text)  # the message names the connection already
            else:
                log.warning("%s: %s", self.name, text)
            return
        try:
            hook(self, exc)
        except Exception:
            log.exception("%s: on_error callback raised while handling %r", self.name, exc)
        except BaseException as aborted:
            if isinstance(aborted, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
                raise
            log.exception("%s: on_error callback raised %s while handling %r", self.name, type(aborted).__name__, exc)

    def _deliver(self, event: Event) -> None:
        """Hand one event to ``on_message`` (the hot path)."""
        hook = self.on_message
        if hook is not None and self._inline_message:
            try:
                hook(self, event)
            except Exception as exc:  # noqa: BLE001 - user code must never kill the connection
                self._callback_failed("on_message", exc)
            except BaseException as exc:  # noqa: BLE001 - SystemExit in a callback must not kill a thread
                self._callback_aborted("on_message", exc)
        sinks = self._sinks
        if sinks:
            for sink in sinks:
                self._sink_call(sink, "on_event", event)

    def _frame_failed(self, conn: Connection, data: bytes, exc: Exception) -> None:
        """The frame boundary guard: whatever handling one frame raised is reported once, with
        the frame cut short, and the connection keeps serving its other streams."""
        if isinstance(exc, BpbfxError):
            err: BpbfxError = exc
        else:
            err = MalformedFrameError(
                f"{conn.name}: could not handle a frame ({type(exc).__name__}: {exc}); it was skipped: {data[:200]!r}",
                frame=data[:500],
            )
            err.__cause__ = exc
        self._report(err)

    # ------------------------------------------------------------------ ConnectionListener
    # Every transport callback is guarded: no exception reaches websocket-client, every one
    # reaches on_error.
    def on_connection_open(self, conn: Connection) -> None:
        """Transport callback (reader thread): send subscriptions, then ``on_open``."""
        try:
            self._handle_open(conn)
        except Exception as exc:  # noqa: BLE001 - reported, never raised into the transport
            self._report(BpbfxError(f"{conn.name}: could not set the connection up ({type(exc).__name__}: {exc})"))
        self._call_hook("on_open", self.on_open)

    def on_connection_frame(self, conn: Connection, data: bytes) -> None:
        """Transport callback (reader thread)."""
        raw = self.on_raw
        if raw is not None:
            self._call_hook("on_raw", raw, data, self._connections.index(conn))
        try:
            self._handle_frame(conn, data)
        except Exception as exc:  # noqa: BLE001 - the one guard at the frame boundary
            self._frame_failed(conn, data, exc)

    def feed(self, data: bytes | str, connection: int = 0) -> None:
        """Run one raw frame through the exact decode, book and callback path, as if it had
        arrived on socket number ``connection`` (0 unless the client shards channels).

        For replaying recordings and for tests; the client need not be started.  Runs the
        callbacks on the calling thread.

        Raises:
            ClientClosedError: the client is closed.
            IndexError: no such socket.
        """
        conn = self._socket(connection)
        frame = data.encode() if isinstance(data, str) else data
        conn.last_frame_at = time.monotonic()
        self.on_connection_frame(conn, frame)

    def feed_lifecycle(
        self, kind: str, connection: int = 0, *, code: int | None = None, reason: str = "", attempt: int = 1
    ) -> None:
        """Replay a socket lifecycle step recorded beside the frames: ``"open"`` (resends
        subscriptions into the void and calls ``on_open``), ``"close"`` (resets protocol state,
        reports :class:`ConnectionLostError`, calls ``on_close``) or ``"reconnect"``
        (``on_reconnect``), as if socket ``connection`` had done it.  Calling thread.

        Raises:
            ClientClosedError: the client is closed.
            IndexError: no such socket.
            ConfigurationError: unknown ``kind``.
        """
        conn = self._socket(connection)
        if kind == "open":
            self.on_connection_open(conn)
        elif kind == "close":
            error = ConnectionLostError(reason or "connection closed", close_code=code, reason=reason)
            self.on_connection_closed(conn, error)
        elif kind == "reconnect":
            self.on_connection_retry(conn, attempt, 0.0)
        else:
            raise ConfigurationError(f"lifecycle kind must be 'open', 'close' or 'reconnect', got {kind!r}")

    def _socket(self, index: int) -> Connection:
        """Socket ``index``, creating (not starting) the initial sockets for feed()."""
        if self._closed.is_set():
            raise ClientClosedError(f"{self.name} client is closed")
        connections = self._connections
        if connections:
            return connections[index]  # the list only grows; no lock needed to read it
        with self._lock:
            if not self._connections:
                self._on_start()
            return self._connections[index]

    def on_connection_ping(self, conn: Connection, payload: bytes) -> None:
        """Transport callback (reader thread): report the server's protocol ping."""
        self._call_hook("on_ping", self.on_ping, payload)

    def on_connection_closed(self, conn: Connection, error: BpbfxError) -> None:
        """Transport callback (reader thread): report, reset state, ``on_close``."""
        self._ready.clear()
        if isinstance(error, HandshakeError) and error.status == 429:
            # Rate limited: hammering would only extend the block.
            conn.defer(self.rate_limit_backoff)
        try:
            self._handle_closed(conn, error)
        except Exception as exc:  # noqa: BLE001 - reported, never raised into the transport
            self._report(BpbfxError(f"{conn.name}: could not reset after the connection ended ({exc})"))
        self._report(error)
        self._call_hook("on_close", self.on_close, getattr(error, "close_code", None), error.message)

    def on_connection_retry(self, conn: Connection, attempt: int, delay: float) -> None:
        """Transport callback (reader thread): ``on_reconnect`` before each new attempt."""
        log.info("%s: reconnect attempt %d in %.2fs", conn.name, attempt, delay)
        self._call_hook("on_reconnect", self.on_reconnect, attempt)

    def on_timer(self, conn: Connection, now: float) -> None:
        """Transport callback (watchdog thread)."""
        try:
            self._handle_timer(conn, now)
        except Exception as exc:
            log.exception("%s: timer check failed", conn.name)
            self._report(BpbfxError(f"{conn.name}: internal timer check failed: {exc}"))

    def _handle_open(self, conn: Connection) -> None:
        raise NotImplementedError

    def _handle_frame(self, conn: Connection, data: bytes) -> None:
        raise NotImplementedError

    def _handle_closed(self, conn: Connection, error: BpbfxError) -> None:
        """Reset per-connection protocol state (reader thread)."""

    def _handle_timer(self, conn: Connection, now: float) -> None:
        """Exchange-level periodic checks (watchdog thread)."""


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without duplicates."""
    return list(dict.fromkeys(items))
