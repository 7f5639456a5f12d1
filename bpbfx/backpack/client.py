"""``BackpackClient``: Backpack Exchange streams over one reconnecting WebSocket."""

from __future__ import annotations

import http.client
import queue
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from .._json import make_loads
from ..backoff import Backoff
from ..base import BaseClient, CloseHook, ErrorHook, MessageHook, OpenHook, PingHook, ReconnectHook, UnifiedHook, unique
from ..exceptions import (
    ConfigurationError,
    CredentialsError,
    MalformedFrameError,
    StaleBookError,
    StreamSilentError,
)
from ..live import LiveBook, OrderBookUpdate
from ..transport import Connection, connect_tcp
from . import protocol
from .auth import DEFAULT_WINDOW_MS, MAX_WINDOW_MS, Signer, load_credentials
from .book import BackpackBookSync, SyncAction, SyncResult, parse_depth_snapshot
from .events import Depth

__all__ = ["BackpackClient"]

DEFAULT_URL = "wss://ws.backpack.exchange"
DEFAULT_REST_URL = "https://api.backpack.exchange"

BookHook = Callable[[Any, OrderBookUpdate], None]

_MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024


class _FetchAborted(Exception):
    """A REST snapshot fetch ended by close()."""


OTHER_STREAMS = "<other>"
"""``stats().streams`` key counting frames of streams that are not subscribed."""
MAX_UNSUBSCRIBED = 1000


class _ManagedBook:
    """A depth stream's book, its synchroniser and the state of its snapshot fetch."""

    __slots__ = ("failures", "fetching", "live", "stream", "symbol", "sync")

    def __init__(self, stream: str, symbol: str, lock: threading.RLock) -> None:
        self.stream = stream
        self.symbol = symbol
        self.sync = BackpackBookSync(symbol, stream=stream)
        self.live = LiveBook(self.sync.book, lock)
        self.fetching = False
        self.failures = 0


class BackpackClient(BaseClient):
    """Streams from Backpack Exchange, delivered as typed events to your callbacks.

    Args:
        url: WebSocket endpoint (the simulator's ``sim.url`` in tests).
        streams: streams to subscribe on start (same as calling :meth:`subscribe`).
        on_message: ``(client, event)`` for every event (reader thread).
        on_error: ``(client, exc)`` for every problem (reader or watchdog thread).
        on_ping: ``(client, payload)`` when the server pings (every 60 s on Backpack).
        on_open / on_close / on_reconnect: connection lifecycle (reader thread).
        api_key / api_secret: base64 ED25519 verifying key and seed for ``account.*`` streams.
            When omitted they are read, on the first private subscription, from
            ``BACKPACK_PUBLIC_KEY``/``BACKPACK_SECRET_KEY`` (or ``PUBLIC_KEY``/``SECRET_KEY``)
            in the environment or a ``.env`` file.
        window_ms: signature validity window, 1..60000 ms.
        backoff: reconnect policy (:class:`~bpbfx.Backoff`).
        silence_timeout: seconds without any frame (data or the server's 60 s ping) before the
            connection is replaced.
        stream_timeout: seconds a regularly publishing stream (depth, bookTicker, ticker,
            markPrice) may stay silent before :class:`StreamSilentError` is reported once
            (Backpack is silent, with no error, for unknown symbols); ``None`` disables it.
        connect_timeout: seconds a handshake may take.
        rest_url: REST base URL used to fetch order book snapshots (``sim.http_url`` in tests).
        books: keep a self-verifying local order book for every ``depth.*`` stream (see
            :meth:`book`); the raw deltas still reach ``on_message``.
        ssl_context: TLS settings for ``wss://`` (and, Backpack, the ``https://`` REST
            snapshots), e.g. a context trusting a private CA; default: the system's verification.
        on_book: ``(client, OrderBookUpdate)`` after every change to a managed book (reader thread;
            when a resync completes from a REST snapshot, the snapshot thread).
        unified / on_trade / on_quote / on_ticker / on_candle / on_book_change /
            on_funding_rate / on_mark_price / dispatch / dispatch_maxsize / dispatch_overflow:
            unified events and thread dispatch, as for every client (see
            :class:`~bpbfx.base.BaseClient`).

    Raises:
        CredentialsError: malformed keys (the message never contains the secret).
        ConfigurationError / InvalidStreamError: invalid arguments or stream names.
    """

    exchange = "backpack"

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        streams: Iterable[str] = (),
        on_message: MessageHook | None = None,
        on_error: ErrorHook | None = None,
        on_ping: PingHook | None = None,
        on_open: OpenHook | None = None,
        on_close: CloseHook | None = None,
        on_reconnect: ReconnectHook | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        window_ms: int = DEFAULT_WINDOW_MS,
        backoff: Backoff | None = None,
        silence_timeout: float | None = 90.0,
        stream_timeout: float | None = 60.0,
        connect_timeout: float = 10.0,
        rest_url: str = DEFAULT_REST_URL,
        books: bool = True,
        on_book: BookHook | None = None,
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
        super().__init__(
            on_message=on_message,
            on_error=on_error,
            on_ping=on_ping,
            on_open=on_open,
            on_close=on_close,
            on_reconnect=on_reconnect,
            backoff=backoff,
            name=name,
            unified=unified,
            dispatch=dispatch,
            dispatch_maxsize=dispatch_maxsize,
            dispatch_overflow=dispatch_overflow,
            on_trade=on_trade,
            on_quote=on_quote,
            on_ticker=on_ticker,
            on_candle=on_candle,
            on_book_change=on_book_change,
            on_funding_rate=on_funding_rate,
            on_mark_price=on_mark_price,
            ssl_context=ssl_context,
        )
        if not isinstance(window_ms, int) or not 0 < window_ms <= MAX_WINDOW_MS:
            raise ConfigurationError(f"window_ms must be an integer from 1 to {MAX_WINDOW_MS}, got {window_ms!r}")
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.window_ms = window_ms
        self.silence_timeout = silence_timeout
        self.stream_timeout = stream_timeout
        self.connect_timeout = connect_timeout
        self._signer: Signer | None = None
        if api_secret is not None or api_key is not None:
            if not api_secret:
                raise CredentialsError("api_key given without api_secret")
            self._signer = Signer(api_secret, api_key or None, window_ms=window_ms)
        self._subscriptions: dict[str, None] = {}  # ordered set of active streams
        self._unsubscribed: dict[str, None] = {}  # recently unsubscribed streams (bounded)
        self._stream_counter(OTHER_STREAMS)
        self._alerted: set[str] = set()
        self._last_request: dict[str, Any] | None = None
        self._decoder = protocol.FrameDecoder()
        self._loads = make_loads()
        self._conn: Connection | None = None
        self.on_book = on_book
        self.books_enabled = books
        self._books: dict[str, _ManagedBook] = {}
        self._fetch_queue: queue.Queue[_ManagedBook | None] = queue.Queue()
        self._fetcher: threading.Thread | None = None
        self._fetch_conn: http.client.HTTPConnection | None = None
        if streams:
            self.subscribe(*streams)

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("ready" if self.ready else "not ready")
        return f"<BackpackClient {self.url} streams={len(self._subscriptions)} {state}>"

    # ------------------------------------------------------------------ public API
    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Active stream names, in subscription order."""
        return tuple(self._subscriptions)

    def subscribe(self, *streams: str) -> None:
        """Subscribe to ``streams`` (before or after :meth:`start`; any thread).

        All names are validated before anything is sent; public streams go in one frame,
        ``account.*`` streams in one signed frame.  Already active streams are ignored.

        Raises:
            InvalidStreamError: a name is invalid (the message says what is valid).
            CredentialsError: an ``account.*`` stream without usable keys.
            ClientClosedError: the client is closed.
        """
        names = unique(protocol.validate_stream(s) for s in streams)
        if any(protocol.is_private(s) for s in names):
            self._ensure_signer()
        with self._lock:
            self._check_open()
            new = [s for s in names if s not in self._subscriptions]
            now = time.monotonic()
            for s in new:
                self._subscriptions[s] = None
                self._unsubscribed.pop(s, None)
                self._stream_counter(s).since = now
                self._alerted.discard(s)
                if self.books_enabled and s.startswith("depth."):
                    symbol = protocol.stream_symbol(s)
                    assert symbol is not None
                    self._books[s] = _ManagedBook(s, symbol, self._lock)
            conn = self._conn
            if new and conn is not None:
                # Sent under the lock: requests leave in the order the state changed, so calls
                # from several threads leave the server holding exactly `subscriptions`.
                self._send_subscribe(conn, new)

    def unsubscribe(self, *streams: str) -> None:
        """Stop ``streams`` (any thread); unknown names are ignored.

        Raises:
            InvalidStreamError: a name is invalid.
        """
        names = unique(protocol.validate_stream(s) for s in streams)
        with self._lock:
            gone = [s for s in names if s in self._subscriptions]
            for s in gone:
                del self._subscriptions[s]
                self._streams.pop(s, None)
                self._unsubscribed[s] = None
                while len(self._unsubscribed) > MAX_UNSUBSCRIBED:
                    del self._unsubscribed[next(iter(self._unsubscribed))]
                managed = self._books.pop(s, None)
                if managed is not None:
                    managed.sync.reset()
            conn = self._conn
            if gone and conn is not None:
                conn.send(protocol.encode(protocol.unsubscribe_frame(gone)))  # under the lock, as subscribe

    def book(self, symbol_or_stream: str) -> LiveBook:
        """The live, self-verifying order book of a subscribed ``depth.*`` stream.

        Pass a stream name (``"depth.200ms.SOL_USDC"``) or a symbol (``"SOL_USDC"``: the
        realtime ``depth.SOL_USDC`` book if subscribed, else any depth book of that symbol).
        The book is rebuilt from the REST snapshot after every gap or reconnect; while that
        happens ``valid`` is False.  Any thread.

        Raises:
            KeyError: no managed book for that symbol/stream (with the ones there are).
        """
        with self._lock:
            managed = self._books.get(symbol_or_stream) or self._books.get(f"depth.{symbol_or_stream}")
            if managed is None:
                managed = next((m for m in self._books.values() if m.symbol == symbol_or_stream), None)
            if managed is None:
                known = ", ".join(self._books) or "none"
                hint = "" if self.books_enabled else " (books=False was given)"
                raise KeyError(
                    f"no order book for {symbol_or_stream!r}{hint}; subscribe depth.<symbol> first. Books: {known}"
                )
            return managed.live

    @property
    def books(self) -> dict[str, LiveBook]:
        """Every managed book by stream name."""
        with self._lock:
            return {s: m.live for s, m in self._books.items()}

    # ------------------------------------------------------------------ books
    def _on_depth(self, managed: _ManagedBook, event: Depth) -> None:
        """Reader thread: feed one delta to its book (under the lock), then report."""
        error: MalformedFrameError | None = None
        wants_books = self._wants_books
        with self._lock:
            try:
                # The event's levels are Decimal pairs (protocol._levels); the changes are only
                # built for a reader.
                result = managed.sync._delta(
                    event.first_update_id, event.last_update_id, event.bids, event.asks, not wants_books
                )
            except Exception as exc:  # noqa: BLE001 - a delta the book cannot take invalidates it
                error = exc if isinstance(exc, MalformedFrameError) else MalformedFrameError(
                    f"{managed.stream}: depth delta not applicable ({type(exc).__name__}: {exc})",
                    stream=managed.stream,
                )
                managed.sync.reset()
                self._resyncs += 1
                self._schedule_fetch(managed)
            else:
                if result.action is SyncAction.APPLIED:
                    self._book_checks += 1
                elif result.need_snapshot or (managed.sync.needs_snapshot and not managed.fetching):
                    self._schedule_fetch(managed)
        if error is not None:
            self._report(error)  # outside the lock, like every user callback
            return
        self._book_result(managed, result, wants_books)

    def _book_result(self, managed: _ManagedBook, result: SyncResult, wants_books: bool | None = None) -> None:
        """Report a sync result (outside the lock): errors, resyncs, ``on_book`` (when
        ``wants_books``, by default :attr:`_wants_books`)."""
        action = result.action
        if action is SyncAction.NEED_SNAPSHOT:
            self._resyncs += 1
            if result.error is not None:
                self._report(result.error)
            return
        if action is SyncAction.APPLIED or action is SyncAction.SYNCED:
            if self._wants_books if wants_books is None else wants_books:
                book = managed.sync.book
                update = OrderBookUpdate(
                    stream=managed.stream,
                    symbol=managed.symbol,
                    data=None,
                    book=managed.live,
                    changes=result.changes,
                    snapshot=action is SyncAction.SYNCED,
                    update_id=book.update_id,
                    valid=book.valid,
                )
                self._emit_book(update)

    def _invalidate(self, managed: _ManagedBook, error: BaseException) -> None:
        """A depth frame of this book could not be used: the book is marked invalid and rebuilt
        from a new REST snapshot (the error itself is reported by the caller)."""
        with self._lock:
            if self._books.get(managed.stream) is not managed:
                return
            managed.sync.reset()
            self._resyncs += 1
            self._schedule_fetch(managed)

    def _schedule_fetch(self, managed: _ManagedBook) -> None:
        """Queue a REST snapshot fetch (under the lock); starts the snapshot thread."""
        if managed.fetching or self.closed:
            return
        managed.fetching = True
        self._fetch_queue.put(managed)
        if self._fetcher is None:
            self._fetcher = threading.Thread(target=self._fetch_loop, name=f"{self.name}-snapshots", daemon=True)
            self._fetcher.start()

    def _fetch_loop(self) -> None:
        """Snapshot thread: fetch REST depth snapshots one at a time, off the reader thread."""
        while True:
            managed = self._fetch_queue.get()
            if managed is None or self.closed:
                return
            if managed.failures:
                # Back off on repeated failures, but stay responsive to close().
                delay = self.backoff.delay(min(managed.failures, 16))
                if self._closed.wait(delay):
                    return
            self._fetch_one(managed)

    def _fetch_one(self, managed: _ManagedBook) -> None:
        try:
            body = self._http_get("/api/v1/depth", {"symbol": managed.symbol, "limit": 1000})
            snapshot = parse_depth_snapshot(body)
        except _FetchAborted:
            return  # close() came first
        except (OSError, http.client.HTTPException, MalformedFrameError, ValueError) as exc:
            with self._lock:
                managed.fetching = False
                managed.failures += 1
                if self._books.get(managed.stream) is managed:
                    self._schedule_fetch(managed)
            self._report(
                StaleBookError(
                    f"{managed.stream}: could not fetch the REST depth snapshot ({exc}); retrying",
                    symbol=managed.symbol,
                    stream=managed.stream,
                )
            )
            return
        with self._lock:
            managed.fetching = False
            if self._books.get(managed.stream) is not managed:
                return
            result = managed.sync.on_snapshot(snapshot.last_update_id, snapshot.bids, snapshot.asks)
            if result.need_snapshot:
                managed.failures += 1
                self._schedule_fetch(managed)
            else:
                managed.failures = 0
        self._book_result(managed, result)

    # ------------------------------------------------------------------ internals
    def _check_open(self) -> None:
        if self.closed:
            from ..exceptions import ClientClosedError

            raise ClientClosedError("BackpackClient is closed; create a new one")

    def _ensure_signer(self) -> Signer:
        if self._signer is None:
            creds = load_credentials()
            if creds is None:
                raise CredentialsError(
                    "account.* streams need API keys: pass api_key=/api_secret= or set BACKPACK_PUBLIC_KEY and "
                    "BACKPACK_SECRET_KEY (or PUBLIC_KEY and SECRET_KEY) in the environment or a .env file"
                )
            key, secret = creds
            try:
                self._signer = Signer(secret, key or None, window_ms=self.window_ms)
            except CredentialsError as exc:
                raise CredentialsError(f"{exc.message} (keys read from the environment / .env)") from None
        return self._signer

    def _send_subscribe(self, conn: Connection, streams: list[str]) -> None:
        for frame in protocol.subscribe_frames(streams, self._signer):
            # Keep the request (without its signature) to explain a later error frame.
            self._last_request = {k: v for k, v in frame.items() if k != "signature"}
            conn.send(protocol.encode(frame))

    def _on_start(self) -> None:
        self._conn = self._new_connection(
            self.url,
            silence_timeout=self.silence_timeout,
            connect_timeout=self.connect_timeout,
            timer_interval=min(1.0, (self.stream_timeout or 4.0) / 4),
        )

    def _handle_closed(self, conn: Connection, error: Any) -> None:
        # Deltas were lost with the socket: every book is rebuilt after the reconnect.
        with self._lock:
            for managed in self._books.values():
                managed.sync.reset()

    def _http_get(self, path: str, query: dict[str, Any]) -> bytes:
        """GET ``rest_url + path`` on the snapshot thread.  The whole request, however slowly
        the server answers, is bounded by ``connect_timeout`` (a deadline, not a per-read
        timeout), and close() aborts it at once by shutting its socket down.

        Raises:
            _FetchAborted: the client is closing.
            OSError / http.client.HTTPException: network failure, timeout or non-200 answer.
        """
        split = urllib.parse.urlsplit(self.rest_url)
        secure = split.scheme == "https"
        host = split.hostname or "localhost"
        port = split.port or (443 if secure else 80)
        deadline = time.monotonic() + self.connect_timeout
        connection = http.client.HTTPConnection(split.netloc, timeout=self.connect_timeout)
        target = f"{split.path}{path}?{urllib.parse.urlencode(query)}"
        try:
            family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(family, kind, proto)
            connection.sock = sock
            with self._lock:
                if self.closed:
                    raise _FetchAborted
                self._fetch_conn = connection
            try:
                connect_tcp(sock, address, deadline, lambda: self.closed)
            except InterruptedError:
                raise _FetchAborted from None
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            if secure:
                context = self.ssl_context or ssl.create_default_context()
                connection.sock = context.wrap_socket(sock, server_hostname=host)
            connection.request("GET", target, headers={"Accept": "application/json"})
            response = connection.getresponse()
            if response.status != 200:
                raise http.client.HTTPException(f"HTTP {response.status} {response.reason} from {self.rest_url}{path}")
            chunks: list[bytes] = []
            size = 0
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"REST answer not complete within {self.connect_timeout:g}s")
                if connection.sock is not None:
                    connection.sock.settimeout(remaining)
                chunk = response.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > _MAX_SNAPSHOT_BYTES:
                    raise http.client.HTTPException(f"REST answer larger than {_MAX_SNAPSHOT_BYTES} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
        except OSError:
            if self.closed:
                raise _FetchAborted from None
            raise
        finally:
            with self._lock:
                self._fetch_conn = None
            connection.close()

    def _on_stop(self) -> None:
        with self._lock:
            connection = self._fetch_conn
        self._fetch_queue.put(None)
        sock = connection.sock if connection is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # ends a snapshot fetch in progress at once
            except OSError:
                pass

    def _extra_threads(self) -> list[threading.Thread]:
        fetcher = self._fetcher
        return [fetcher] if fetcher is not None else []

    def _handle_open(self, conn: Connection) -> None:
        with self._lock:
            streams = list(self._subscriptions)
            now = time.monotonic()
            for s in streams:
                self._stream_counter(s).since = now
            if streams:
                # Every (re)connect re-sends every subscription; private ones are re-signed with a
                # fresh timestamp (Backpack: the signature window is checked per SUBSCRIBE).
                self._send_subscribe(conn, streams)
        self._ready.set()

    def _handle_frame(self, conn: Connection, data: bytes) -> None:
        try:
            stream, payload = protocol.parse_frame(data, self._loads)
        except MalformedFrameError as exc:
            self._report(exc)
            return
        if stream is None:
            self._report(protocol.error_from_frame(payload, self._last_request))
            return
        # Counters exist only for subscribed streams (created by subscribe() under the lock);
        # every other name shares one bucket, so a server inventing names cannot grow memory.
        counter = self._streams.get(stream) or self._streams[OTHER_STREAMS]
        counter.count += 1
        counter.last = conn.last_frame_at
        if stream in self._unsubscribed:
            return  # in flight when UNSUBSCRIBE was sent: the user asked not to get it any more
        try:
            event = self._decoder.decode_data(stream, payload)
        except MalformedFrameError as exc:
            managed = self._books.get(stream)
            if managed is not None:
                self._invalidate(managed, exc)
            self._report(exc)
            return
        if self._books:
            managed = self._books.get(stream)
            if managed is not None and type(event) is Depth:
                self._on_depth(managed, event)
        self._deliver(event)

    def _handle_timer(self, conn: Connection, now: float) -> None:
        limit = self.stream_timeout
        if not limit:
            return
        with self._lock:
            streams = list(self._subscriptions)
        for stream in streams:
            counter = self._streams.get(stream)
            if counter is None or protocol.stream_type(stream) not in protocol.REGULAR_TYPES:
                continue
            silence = now - max(counter.last, counter.since)
            if stream in self._alerted:
                if silence < limit:
                    self._alerted.discard(stream)  # delivering again: re-arm the alarm
            elif silence > limit:
                self._alerted.add(stream)
                never = counter.last < counter.since
                what = "has not delivered anything" if never else "has been silent"
                self._report(
                    StreamSilentError(
                        f"{stream} {what} for {silence:.0f}s (limit {limit:g}s). Backpack sends no error for an "
                        "unknown or closed symbol: check the symbol against GET /api/v1/markets. "
                        "Other streams are unaffected.",
                        stream=stream,
                        silence=silence,
                    )
                )
