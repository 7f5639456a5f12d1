"""What every exchange client shares: lifecycle, readiness, the transport's listener, replay.

A client is composed of small parts, each in its own module:

- :class:`~bpbfx.delivery.Delivery`: hands events, book updates and errors to the user's hooks
  and the attached sinks, each call guarded (the one place user code runs);
- :mod:`bpbfx.routing`: the router sink that ``unified=``, ``dispatch=`` and the typed unified
  hooks ask for (absent otherwise, so the native path stays as it is);
- :class:`~bpbfx.transport.Connection`: one reconnecting WebSocket per socket; the client is its
  :class:`~bpbfx.transport.ConnectionListener`;
- the exchange's sans-I/O protocol core, owned by the exchange client.

Threading contract (the same for both exchanges):

- Each WebSocket connection has a **reader thread** (named ``<client>-reader``) that runs
  ``on_open``, ``on_message``, ``on_ping``, ``on_close``, ``on_reconnect``, ``on_book`` and most
  ``on_error`` calls for that connection, one at a time and in arrival order.  A slow callback
  delays reading (and the pong to a server ping), so hand heavy work to your own thread.
- A **watchdog thread** per connection detects silence.  A silent stream or channel is
  reported to ``on_error`` from that thread; a silent connection is replaced, and its
  :class:`~bpbfx.WatchdogTimeout` reaches ``on_error`` from the reader thread as the
  connection ends.
- Methods you call (``subscribe``, ``close``, ...) may be called from any thread, including from
  inside a callback.
- An exception raised by your callback is caught, wrapped in :class:`CallbackError` (the
  original is ``__cause__``) and passed to ``on_error``; the connection carries on.  An exception
  raised by ``on_error`` itself is logged on the ``bpbfx`` logger and dropped.
- Without an ``on_error`` hook, errors are logged on the ``bpbfx`` logger at WARNING level.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from .backoff import Backoff
from .delivery import Delivery
from .dispatch import Dispatch
from .exceptions import (
    BpbfxError,
    ClientClosedError,
    ConfigurationError,
    ConnectionLostError,
    MalformedFrameError,
)
from .live import LiveBook, OrderBookUpdate
from .options import (
    ClientOptions,
    CloseHook,
    ErrorHook,
    MessageHook,
    OpenHook,
    PingHook,
    RawHook,
    ReconnectHook,
    UnifiedHook,
)
from .proxy import Proxy, ProxyOption, proxy_for
from .pull import EventStream
from .readiness import FAILED, READY, WAITING, Readiness
from .routing import make_router
from .sink import Sink
from .stats import ClientStats, StreamCounter, StreamStats
from .transport import Connection, RateLimiter
from .unified.convert import HOOK_NAMES

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .backfill import Tapes

__all__ = [
    "BaseClient",
    "ClientStats",
    "CloseHook",
    "ErrorHook",
    "MessageHook",
    "OpenHook",
    "PingHook",
    "RawHook",
    "ReconnectHook",
    "Sink",
    "StreamStats",
    "UnifiedHook",
    "unique",
]

log = logging.getLogger("bpbfx")

C = TypeVar("C", bound="BaseClient")

_READY_POLL = 0.05
"""Seconds between readiness checks in :meth:`BaseClient.wait_ready` (some transitions, such as
the first frame of a Backpack stream, are not signalled)."""

_StreamCounter = StreamCounter  # the name this module used before StreamCounter moved to bpbfx.stats


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


def _dispatch_option(options: ClientOptions) -> Dispatch:
    """The ``dispatch`` option as a :class:`Dispatch`, folding in the deprecated
    ``dispatch_maxsize`` / ``dispatch_overflow`` keywords (with a DeprecationWarning)."""
    value = options.get("dispatch", "inline")
    dispatch = Dispatch.of(value)
    maxsize = options.get("dispatch_maxsize")
    overflow = options.get("dispatch_overflow")
    if maxsize is not None or overflow is not None:
        warnings.warn(
            "dispatch_maxsize= and dispatch_overflow= are deprecated; pass "
            "dispatch=bpbfx.Dispatch('thread', maxsize=..., overflow=...)",
            DeprecationWarning,
            stacklevel=4,
        )
        dispatch = Dispatch(
            dispatch.mode,
            maxsize=dispatch.maxsize if maxsize is None else maxsize,
            overflow=dispatch.overflow if overflow is None else overflow,  # type: ignore[arg-type]
        )
    return dispatch


class BaseClient:
    """Lifecycle, readiness and delivery shared by :class:`~bpbfx.BackpackClient` and
    :class:`~bpbfx.BitfinexClient`; not used directly.

    Options (every key of :class:`~bpbfx.options.ClientOptions`): the hooks ``on_message``,
    ``on_error``, ``on_ping``, ``on_open``, ``on_close``, ``on_reconnect``; ``backoff``; ``name``;
    ``unified=True`` hands unified events (:mod:`bpbfx.unified`) to ``on_message`` instead of
    native ones; ``on_trade``/``on_quote``/``on_ticker``/``on_candle``/``on_book_change``/
    ``on_funding_rate``/``on_mark_price`` receive the unified events of their type;
    ``dispatch="thread"`` (or a :class:`~bpbfx.Dispatch`) runs ``on_message``, ``on_book`` and
    those hooks on a ``<name>-dispatch`` thread from a bounded queue; ``ssl_context``.  With none
    of ``unified``, ``dispatch`` or the typed hooks the native inline path is unchanged.

    Hooks are plain attributes and may also be assigned after construction.  Each receives the
    client as its first argument: ``on_message(client, event)``, ``on_error(client, exc)``,
    ``on_ping(client, payload)``, ``on_open(client)``, ``on_close(client, code, reason)``,
    ``on_reconnect(client, attempt)``, and ``on_raw(client, frame_bytes, socket_index)`` which
    sees every frame exactly as received, before decoding (for recorders).  :meth:`events` gives
    a bounded pull queue.

    Raises:
        ConfigurationError: an unknown option value (``dispatch``, queue size, overflow policy,
            unified hook name).
        TypeError: ``backoff`` is not a :class:`~bpbfx.Backoff`, or a hook is not callable.
    """

    exchange: ClassVar[str] = ""
    rate_limited_default: ClassVar[float] = 10.0
    """Seconds to wait after an HTTP 429 on the handshake unless ``Backoff.rate_limited`` says."""

    def __init__(self, **options: Unpack[ClientOptions]) -> None:
        known = set(ClientOptions.__annotations__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(unknown)}; options: {', '.join(sorted(known))}")
        self.on_message: MessageHook | None = options.get("on_message")
        self.on_error: ErrorHook | None = options.get("on_error")
        self.on_ping: PingHook | None = options.get("on_ping")
        self.on_open: OpenHook | None = options.get("on_open")
        self.on_close: CloseHook | None = options.get("on_close")
        self.on_reconnect: ReconnectHook | None = options.get("on_reconnect")
        self.on_raw: RawHook | None = None
        self.on_book: Callable[[Any, OrderBookUpdate], None] | None = None
        """``on_book(client, OrderBookUpdate)`` after every change to a managed book (set by the
        exchange clients' ``on_book=`` option)."""
        backoff = options.get("backoff")
        if backoff is not None and not isinstance(backoff, Backoff):
            raise TypeError(f"backoff must be a bpbfx.Backoff, got {type(backoff).__name__}")
        backoff = backoff or Backoff()
        if backoff.rate_limited is None:
            backoff = dataclasses.replace(backoff, rate_limited=self.rate_limited_default)
        self.backoff = backoff
        self.name = options.get("name") or self.exchange
        self.ssl_context = options.get("ssl_context")
        """TLS settings for ``wss://`` (and Backpack's ``https://`` REST); ``None``: the system's
        default verification (``ssl.create_default_context()``)."""
        proxy = options.get("proxy")
        if isinstance(proxy, str):
            proxy = Proxy.parse(proxy)  # a bad URL is refused here, without its credentials
        self.proxy: ProxyOption = proxy
        """The ``proxy`` option (see :mod:`bpbfx.proxy`): applied per URL by :meth:`_proxy_for`."""
        self._lock = threading.RLock()  # protocol state; user callbacks run outside it
        self._ready_cond = threading.Condition(self._lock)
        self._refusals: dict[str, BpbfxError] = {}  # what the exchange refused, by what it was
        self._connections: list[Connection] = []
        self._closed = threading.Event()
        self._started = False
        self._streams: dict[str, StreamCounter] = {}
        # Books rebuilt (two counters, each only ever grows: stats() adds them up).
        self._resyncs = 0  # after a problem found on the stream (a gap, a checksum, a silent channel...)
        self._resyncs_lost = 0  # because their socket was lost
        self._book_checks = 0  # checksums verified (Bitfinex) / contiguous deltas applied (Backpack)
        self._backfill: Tapes[Any] | None = None  # the trade backfill core (backfill_trades=True)
        self._close_done = threading.Event()
        delivery = self._delivery = Delivery(self, self._lock)
        # The client's own shortcuts into its delivery (bound methods: no extra layer per call).
        self._deliver = delivery.event
        self._emit_book = delivery.book
        self._report = delivery.report
        self._call_hook = delivery.call_hook
        self.unified = bool(options.get("unified", False))
        dispatch = _dispatch_option(options)
        # unified=True / dispatch="thread": the router sink calls on_message (and on_book) instead.
        delivery.inline_message = not (self.unified or dispatch.threaded)
        delivery.inline_book = not dispatch.threaded
        hooks: dict[str, UnifiedHook | None] = {
            name: options.get(name) for name in HOOK_NAMES.values()  # type: ignore[misc]
        }
        self._router = make_router(self, unified=self.unified, dispatch=dispatch, hooks=hooks)
        if self._router is not None:
            delivery.attach(self._router)

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
        """Block until the client is usable (True), a refusal stands in the way (False, at once:
        the refusal was reported to ``on_error``), or ``timeout`` seconds pass (False).

        Usable means: connected, every subscription confirmed, authenticated when keys are
        used, and every managed order book valid (see :meth:`readiness` for what is missing).
        Any thread except the client's own (a callback waiting here would hold up the very
        frames it waits for).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready_cond:
            while True:
                state = self._readiness_now().state
                if state != WAITING:
                    return state == READY
                wait = _READY_POLL
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    wait = min(wait, remaining)
                self._ready_cond.wait(wait)

    def readiness(self) -> Readiness:
        """Whether the client is usable now and, if not, what is missing or what was refused
        (see :class:`~bpbfx.Readiness`).  Any thread."""
        with self._lock:
            return self._readiness_now()

    @property
    def ready(self) -> bool:
        """True while the client is usable (see :meth:`wait_ready`)."""
        return self.readiness().ready

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
                self._ready_cond.notify_all()
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
            self._delivery.detach_all()
            self._delivery.silence()
            self._close_done.set()
        elif not own:
            self._close_done.wait(max(0.0, deadline - time.monotonic()))

    def __enter__(self: C) -> C:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    # ------------------------------------------------------------------ readiness
    def _readiness_now(self) -> Readiness:
        """:meth:`readiness` under the lock."""
        if self._closed.is_set():
            return Readiness(FAILED, errors=(ClientClosedError(f"{self.name} client is closed"),))
        if self._refusals:
            return Readiness(FAILED, errors=tuple(self._refusals.values()))
        if not self._started:
            return Readiness(WAITING, ("start()",))
        missing = self._missing()
        return Readiness(WAITING, tuple(missing)) if missing else Readiness(READY)

    def _readiness_changed(self) -> None:
        """Wake :meth:`wait_ready` callers to look again (any thread)."""
        with self._ready_cond:
            self._ready_cond.notify_all()

    def _refuse(self, key: str, error: BpbfxError) -> None:
        """Record that the exchange refused ``key`` (a subscription, the keys): the client is
        not ready until :meth:`_accept` clears it (under the lock or not)."""
        with self._ready_cond:
            self._refusals[key] = error
            self._ready_cond.notify_all()

    def _accept(self, *keys: str) -> None:
        """Forget refusals of ``keys`` (the user changed the request, or it succeeded since)."""
        with self._ready_cond:
            for key in keys:
                self._refusals.pop(key, None)
            self._ready_cond.notify_all()

    def _missing(self) -> list[str]:
        """What keeps the client from being ready, in words (under the lock; exchange clients
        override this)."""
        return [] if any(c.is_open for c in self._connections) else ["connection"]

    # ------------------------------------------------------------------ sinks
    def add_sink(self, sink: Sink) -> None:
        """Attach ``sink`` (see :class:`~bpbfx.Sink`): from now on it sees every event, book
        update and error.  Any thread; attaching the same sink twice does nothing.

        Raises:
            TypeError: ``sink`` is not a :class:`~bpbfx.Sink`.
            ClientClosedError: the client is closed.
        """
        if not isinstance(sink, Sink):
            raise TypeError(f"add_sink() takes a bpbfx Sink, got {type(sink).__name__}")
        with self._lock:
            if self._closed.is_set():
                raise ClientClosedError(f"{self.name} client is closed")
            self._delivery.attach(sink)

    def remove_sink(self, sink: Sink) -> bool:
        """Detach ``sink`` and call its ``on_detach``; False if it was not attached.  Any thread."""
        return self._delivery.detach(sink)

    @property
    def books(self) -> dict[str, LiveBook]:
        """Every managed order book by stream name (none here; the exchange clients have them)."""
        return {}

    @property
    def sinks(self) -> tuple[Sink, ...]:
        """The attached sinks."""
        return self._delivery.sinks

    def backfilled(self, stream: str) -> bool:
        """True when the client fetches what ``stream`` misses across a reconnect (a trade
        stream with ``backfill_trades``; see :class:`~bpbfx.sink.SinkHost`).  Any thread."""
        core = self._backfill
        return core is not None and stream in core.tapes

    def report_error(self, error: BaseException) -> None:
        """Deliver ``error`` to ``on_error`` and the sinks as the client's own report (for sinks
        and extensions; see :class:`~bpbfx.sink.SinkHost`).  Calling thread; never raises."""
        self._delivery.report(error)

    def call_hook(self, name: str, hook: Callable[..., Any] | None, *args: Any) -> None:
        """Run ``hook(client, *args)`` with the client's guard: an exception becomes a
        :class:`~bpbfx.CallbackError` on ``on_error``; nothing runs after :meth:`close`.
        Calling thread; never raises."""
        self._delivery.call_hook(name, hook, *args)

    @property
    def _wants_books(self) -> bool:
        """True when someone consumes book updates (an ``on_book`` hook or a sink)."""
        return self._delivery.wants_books

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
        return EventStream(
            self, maxsize=maxsize, overflow=overflow, books=books, unified=self.unified if unified is None else unified
        )

    def wait_dispatched(self, timeout: float | None = None) -> bool:
        """With ``dispatch="thread"``: block until every queued callback has run (True) or
        ``timeout`` passes (False); True at once otherwise.  Any thread but the dispatch thread."""
        return self._router.wait_idle(timeout) if self._router is not None else True

    # ------------------------------------------------------------------ stats
    def stats(self) -> ClientStats:
        """A consistent snapshot of the counters (any thread); with ``backfill_trades``,
        ``trades_backfilled`` and ``trade_gaps`` count the trade backfill's work."""
        now = time.monotonic()
        conns = list(self._connections)
        last = max((c.last_frame_at for c in conns), default=0.0)
        integrity, lost = self._resyncs, self._resyncs_lost
        with self._lock:
            streams = {
                name: StreamStats(c.count, (now - c.last) if c.count else None) for name, c in self._streams.items()
            }
            backfill = self._backfill
            backfilled, gaps = (backfill.backfilled, backfill.gaps) if backfill is not None else (0, 0)
        return ClientStats(
            messages=sum(c.frames_received for c in conns),
            bytes=sum(c.bytes_received for c in conns),
            reconnects=sum(c.reconnects for c in conns),
            resyncs=integrity + lost,
            book_checks=self._count_book_checks(),
            watchdog_trips=sum(c.watchdog_trips for c in conns),
            errors=self._delivery.errors,
            connections=len(conns),
            open_connections=sum(1 for c in conns if c.is_open),
            last_message_age=(now - last) if last else None,
            streams=MappingProxyType(streams),
            dropped_events=self._delivery.dropped_events(),
            errors_by_type=MappingProxyType(dict(self._delivery.errors_by_type)),
            resyncs_by_reason=MappingProxyType({"connection_lost": lost, "integrity": integrity}),
            trades_backfilled=backfilled,
            trade_gaps=gaps,
        )

    # ------------------------------------------------------------------ deprecated
    @property
    def rate_limit_backoff(self) -> float:
        """Deprecated: ``client.backoff.rate_limited`` (set it with ``Backoff(rate_limited=...)``)."""
        warnings.warn(
            "rate_limit_backoff is deprecated; use Backoff(rate_limited=...)", DeprecationWarning, stacklevel=2
        )
        return self.backoff.rate_limited or self.rate_limited_default

    @rate_limit_backoff.setter
    def rate_limit_backoff(self, seconds: float) -> None:
        warnings.warn(
            "rate_limit_backoff is deprecated; use Backoff(rate_limited=...)", DeprecationWarning, stacklevel=2
        )
        self.backoff = dataclasses.replace(self.backoff, rate_limited=seconds)
        for conn in list(self._connections):
            conn.backoff = self.backoff

    # ------------------------------------------------------------------ for subclasses
    def _count_book_checks(self) -> int:
        return self._book_checks

    def _on_start(self) -> None:
        """Create the initial connections (called under the lock by :meth:`start`)."""

    def _on_stop(self) -> None:
        """Abort exchange-layer work at once (close() has begun; must not block)."""

    def _on_closed(self) -> None:
        """Release exchange resources after every connection closed."""

    def _extra_threads(self) -> list[threading.Thread]:
        """Threads of the exchange layer besides the connections' (e.g. a snapshot fetcher)."""
        return []

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
            proxy=self._proxy_for(url),
        )
        self._connections.append(conn)
        return conn

    def _proxy_for(self, url: str) -> Proxy | None:
        """The proxy a connection to ``url`` goes through (``None``: direct).

        Raises:
            ConfigurationError: the environment's proxy variable for it is not a valid URL.
        """
        return proxy_for(self.proxy, url)

    def _stream_counter(self, stream: str) -> StreamCounter:
        counter = self._streams.get(stream)
        if counter is None:
            counter = self._streams[stream] = StreamCounter(time.monotonic())
        return counter

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
        self._readiness_changed()
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

    def on_connection_ping(self, conn: Connection, payload: bytes) -> None:
        """Transport callback (reader thread): report the server's protocol ping."""
        self._call_hook("on_ping", self.on_ping, payload)

    def on_connection_closed(self, conn: Connection, error: BpbfxError) -> None:
        """Transport callback (reader thread): reset state, report, ``on_close``."""
        try:
            self._handle_closed(conn, error)
        except Exception as exc:  # noqa: BLE001 - reported, never raised into the transport
            self._report(BpbfxError(f"{conn.name}: could not reset after the connection ended ({exc})"))
        self._readiness_changed()
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

    # ------------------------------------------------------------------ replay
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


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without duplicates."""
    return list(dict.fromkeys(items))
