"""``BackpackClient``: Backpack Exchange streams over one reconnecting WebSocket.

The shell around :class:`~bpbfx.backpack.protocol.BackpackProtocol`: it owns the socket (a
:class:`~bpbfx.transport.Connection`), the lock, the REST client and the thread that fetches
depth snapshots; every rule of the exchange lives in the protocol core.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._json import make_loads
from ..backfill import BackfillPolicy, backfill_policy
from ..base import BaseClient, unique
from ..exceptions import (
    AuthenticationError,
    BpbfxError,
    ClientClosedError,
    ConfigurationError,
    CredentialsError,
    ExchangeError,
    MalformedFrameError,
    StaleBookError,
)
from ..live import LiveBook, OrderBookUpdate
from ..options import ClientOptions
from ..rest import RequestAbortedError, RequestFailedError, RestClient
from ..transport import Connection
from . import streams as names
from .auth import DEFAULT_WINDOW_MS, MAX_WINDOW_MS, Signer, load_credentials
from .backfill import BackfillOutcome, FetchTrades, Tape, TradeBackfill
from .book import SyncAction, parse_depth_snapshot
from .events import Depth, OrderUpdate, Trade
from .orders import ClientIdSource, MarketRules, Number, Order, OrderChange, Request
from .orders.rules import RATE_LIMIT
from .protocol import OTHER_STREAMS, BackpackProtocol, BookResult, FetchSnapshot, ManagedBook
from .trading import Trader

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["OTHER_STREAMS", "BackpackClient"]

DEFAULT_URL = "wss://ws.backpack.exchange"
DEFAULT_REST_URL = "https://api.backpack.exchange"

BookHook = Callable[[Any, OrderBookUpdate], None]
OrderHook = Callable[[Any, OrderChange], None]
BackfillHook = Callable[[Any, str, str], None]
"""``on_backfill(client, stream, answer_text)``."""
CLOCK_REMEASURE = 3600.0
"""Seconds after which a (re)connect measures the exchange's clock again."""


class BackpackClient(BaseClient):
    """Streams from Backpack Exchange, delivered as typed events to your callbacks.

    Args:
        url: WebSocket endpoint (the simulator's ``sim.url`` in tests).
        streams: streams to subscribe on start (same as calling :meth:`subscribe`).
        api_key / api_secret: base64 ED25519 verifying key and seed for ``account.*`` streams.
            When omitted they are read, on the first private subscription, from
            ``BACKPACK_PUBLIC_KEY``/``BACKPACK_SECRET_KEY`` (or ``PUBLIC_KEY``/``SECRET_KEY``)
            in the environment or a ``.env`` file.
        window_ms: signature validity window, 1..60000 ms.
        silence_timeout: seconds without any frame (data or the server's 60 s ping) before the
            connection is replaced.
        stream_timeout: seconds a regularly publishing stream (depth, bookTicker, ticker,
            markPrice) may stay silent before :class:`StreamSilentError` is reported once
            (Backpack is silent, with no error, for unknown symbols); ``None`` disables it.
        connect_timeout: seconds a handshake (and a REST snapshot request) may take.
        rest_url: REST base URL used to fetch order book snapshots (``sim.http_url`` in tests).
        books: keep a self-verifying local order book for every ``depth.*`` stream (see
            :meth:`book`); the raw deltas still reach ``on_message``.
        on_book: ``(client, OrderBookUpdate)`` after every change to a managed book (reader
            thread; when a resync completes from a REST snapshot, the snapshot thread).
        on_order: ``(client, OrderChange)`` after every change to :meth:`orders` (see "Trading";
            with ``unified=True``: the unified :class:`~bpbfx.unified.Order` instead).
        order_timeout: seconds an order request may take before it is in doubt (default 10).
        order_rate_limit: ``(requests, seconds)`` of order requests before more are refused
            locally (default about 2,000 a minute, Backpack's limit per account).
        cancel_on_disconnect: seconds the private stream may stay down before every open
            order is cancelled through REST and :class:`~bpbfx.OrdersCancelledError` is
            reported; ``None`` (default): never (Backpack has no dead-man switch of its own).
        client_ids: the source of generated ``clientId`` values
            (:class:`~bpbfx.backpack.orders.ClientIdSource`; give each program trading on one
            account its own ``shard``).
        backfill_trades: fetch the public trades a ``trade.*`` stream missed (printed while
            the socket was down, or skipped: Backpack's trade ids are sequential) from the REST
            trade history and deliver them through ``on_message`` and the sinks, each once,
            with ``Trade.backfill`` True, from the ``<name>-snapshots`` thread.  What cannot
            be fetched is reported as :class:`~bpbfx.TradeGapError`.  A
            :class:`~bpbfx.backfill.BackfillPolicy` turns it on with other attempts, retry
            delays or request rate.  Default False (see docs/reliability.md, "Trades across
            reconnects").
        options: every client option (:class:`~bpbfx.options.ClientOptions`): ``on_message``
            ``(client, event)`` for every event (reader thread), ``on_error`` ``(client, exc)``
            for every problem (reader, watchdog or snapshot thread), ``on_ping`` (the server
            pings every 60 s), ``on_open`` / ``on_close`` / ``on_reconnect``, ``backoff``,
            ``name``, ``ssl_context`` (also used for the ``https://`` REST snapshots),
            ``unified``, ``dispatch`` and the unified hooks (see :class:`~bpbfx.base.BaseClient`).

    Trading (with API keys): :meth:`submit_order`, :meth:`submit_orders`, :meth:`cancel_order`
    and :meth:`cancel_all_orders` validate their arguments (against the market's tick and step
    sizes), sign and send one REST request from the calling thread and return at once a
    :class:`~bpbfx.backpack.orders.Request`, a :class:`concurrent.futures.Future` completed on
    the ``<name>-orders`` thread.  An order is sent once and never replayed; one whose answer is
    lost is decided from the ``account.orderUpdate`` stream, then the exchange's records
    (:mod:`bpbfx.backpack.orders.core`).  :meth:`orders` is the live view of open orders.  With
    keys, the client subscribes to ``account.orderUpdate`` itself, fetches the open orders after
    every (re)connect, and measures the exchange's clock to sign with the corrected time.

    Raises:
        CredentialsError: malformed keys (the message never contains the secret).
        ConfigurationError / InvalidStreamError: invalid arguments or stream names.
    """

    exchange = "backpack"
    rate_limited_default: ClassVar[float] = 10.0
    """Seconds to wait after an HTTP 429 on the handshake unless ``Backoff.rate_limited`` says."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        streams: Iterable[str] = (),
        api_key: str | None = None,
        api_secret: str | None = None,
        window_ms: int = DEFAULT_WINDOW_MS,
        silence_timeout: float | None = 90.0,
        stream_timeout: float | None = 60.0,
        connect_timeout: float = 10.0,
        rest_url: str = DEFAULT_REST_URL,
        books: bool = True,
        on_book: BookHook | None = None,
        on_order: OrderHook | None = None,
        order_timeout: float = 10.0,
        order_rate_limit: tuple[int, float] = RATE_LIMIT,
        cancel_on_disconnect: float | None = None,
        client_ids: ClientIdSource | None = None,
        backfill_trades: bool | BackfillPolicy = False,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(**options)
        if not isinstance(window_ms, int) or not 0 < window_ms <= MAX_WINDOW_MS:
            raise ConfigurationError(f"window_ms must be an integer from 1 to {MAX_WINDOW_MS}, got {window_ms!r}")
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        # Resolved now, so that a bad proxy URL (given or from the environment) is refused here.
        self._proxy_for(url)
        self._rest_proxy = self._proxy_for(self.rest_url)
        self.window_ms = window_ms
        self.silence_timeout = silence_timeout
        self.stream_timeout = stream_timeout
        self.connect_timeout = connect_timeout
        self.on_book = on_book
        self.on_order: OrderHook | None = on_order
        """``on_order(client, OrderChange)`` after every change to :meth:`orders` (reader thread
        for stream events, the ``<name>-orders`` thread for REST answers and snapshots)."""
        self.books_enabled = books
        proto = self._proto = BackpackProtocol(books=books, backoff_delay=self.backoff.delay, loads=make_loads())
        if api_secret is not None or api_key is not None:
            if not api_secret:
                raise CredentialsError("api_key given without api_secret")
            proto.signer = Signer(api_secret, api_key or None, window_ms=window_ms)
        # The protocol's tables are the client's: stats() reads the counters, readiness the refusals.
        self._streams = proto.counters
        self._refusals = proto.refusals
        self._live: dict[str, LiveBook] = {}
        self._conn: Connection | None = None
        self._rest: RestClient | None = None
        self._fetch_queue: queue.Queue[FetchSnapshot | FetchTrades | None] = queue.Queue()
        self._fetcher: threading.Thread | None = None
        self._trader = Trader(
            self, self._rest_client, self._ensure_signer, client_ids=client_ids, timeout=order_timeout,
            rate_limit=order_rate_limit, cancel_on_disconnect=cancel_on_disconnect,
        )
        self._trading = False
        policy = backfill_policy(backfill_trades)
        self._backfill: TradeBackfill | None = TradeBackfill(policy) if policy is not None else None
        # The tapes by stream, read on the hot path without the lock (empty without backfill).
        self._tapes: dict[str, Tape] = self._backfill.tapes if self._backfill is not None else {}
        self.on_backfill: BackfillHook | None = None
        """``on_backfill(client, stream, text)`` with the text of every REST answer a trade
        backfill delivered trades from, before they are delivered (``<name>-snapshots`` thread;
        set by :meth:`bpbfx.recording.Recorder.attach` to record them)."""
        if proto.signer is not None:
            self._enable_trading()  # with keys, the client follows its orders itself
        if streams:
            self.subscribe(*streams)

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("ready" if self.ready else "not ready")
        return f"<BackpackClient {self.url} streams={len(self._proto.subscriptions)} {state}>"

    # ------------------------------------------------------------------ public API
    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Active stream names, in subscription order."""
        return tuple(self._proto.subscriptions)

    def subscribe(self, *streams: str) -> None:
        """Subscribe to ``streams`` (before or after :meth:`start`; any thread).

        All names are validated before anything is sent; public streams go in one frame,
        ``account.*`` streams in one signed frame.  Already active streams are ignored.

        Raises:
            InvalidStreamError: a name is invalid (the message says what is valid).
            CredentialsError: an ``account.*`` stream without usable keys.
            ClientClosedError: the client is closed.
        """
        wanted = unique(names.validate_stream(s) for s in streams)
        if any(names.is_private(s) for s in wanted):
            self._ensure_signer()
        with self._lock:
            if self.closed:
                raise ClientClosedError("BackpackClient is closed; create a new one")
            proto = self._proto
            new = [s for s in wanted if s not in proto.subscriptions]
            frames = proto.subscribe(wanted, time.monotonic())
            for s in new:
                managed = proto.books.get(s)
                if managed is not None:
                    self._live[s] = LiveBook(managed.sync.book, self._lock)
                if self._backfill is not None and names.stream_type(s) == "trade":
                    self._backfill.add(s, names.stream_symbol(s) or "")
            # Sent under the lock: requests leave in the order the state changed, so calls from
            # several threads leave the server holding exactly `subscriptions`.
            self._send(frames)
        self._readiness_changed()

    def unsubscribe(self, *streams: str) -> None:
        """Stop ``streams`` (any thread); unknown names are ignored.  A refusal of these streams
        no longer stands in the way of :meth:`wait_ready`.

        Raises:
            InvalidStreamError: a name is invalid.
        """
        wanted = unique(names.validate_stream(s) for s in streams)
        with self._lock:
            self._send(self._proto.unsubscribe(wanted))
            for s in wanted:
                self._live.pop(s, None)
                if self._backfill is not None:
                    self._backfill.remove(s)
        self._readiness_changed()

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
            live = self._live.get(symbol_or_stream)  # (an empty LiveBook is falsy: compare with None)
            if live is None:
                live = self._live.get(f"depth.{symbol_or_stream}")
            if live is None:
                live = next((b for b in self._live.values() if b.symbol == symbol_or_stream), None)
            if live is None:
                known = ", ".join(self._live) or "none"
                hint = "" if self.books_enabled else " (books=False was given)"
                raise KeyError(
                    f"no order book for {symbol_or_stream!r}{hint}; subscribe depth.<symbol> first. Books: {known}"
                )
            return live

    @property
    def books(self) -> dict[str, LiveBook]:
        """Every managed book by stream name."""
        with self._lock:
            return dict(self._live)

    # ------------------------------------------------------------------ trading
    def submit_order(
        self,
        symbol: str,
        side: str,
        quantity: Number | None = None,
        price: Number | None = None,
        *,
        order_type: str = "Limit",
        time_in_force: str | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        client_id: int | None = None,
        quote_quantity: Number | None = None,
        self_trade_prevention: str | None = None,
    ) -> Request[Order]:
        """Place one order (``POST /api/v1/order``); returns its handle at once.

        ``side`` is ``"Bid"``/``"Ask"`` (``"buy"``/``"sell"`` too); ``order_type`` ``"Limit"``
        (needs ``price`` and ``quantity``) or ``"Market"`` (``quantity`` or ``quote_quantity``);
        amounts are ``Decimal``, ``int`` or decimal text.  ``client_id`` (a 32-bit integer) is
        generated when not given and never reused (``handle.client_id``).  The request is signed
        and written on the calling thread; ``handle.result()`` is the
        :class:`~bpbfx.backpack.orders.Order` as the exchange placed it.

        Raises:
            InvalidOrderError: an argument would be refused (the field is named).
            CredentialsError: no usable API keys.
            ClientClosedError: the client is closed.
        """
        self._enable_trading()
        return self._trader.submit(
            symbol, side, quantity, price, order_type=order_type, time_in_force=time_in_force, post_only=post_only,
            reduce_only=reduce_only, client_id=client_id, quote_quantity=quote_quantity,
            self_trade_prevention=self_trade_prevention,
        )

    def submit_orders(self, orders: Sequence[Mapping[str, Any]]) -> Request[list[Order]]:
        """Place several orders in one request (``POST /api/v1/orders``): each a mapping of
        :meth:`submit_order`'s arguments (``symbol``, ``side``, ``quantity``, ``price``,
        ``order_type``...).  The handle's ``requests`` hold one handle per order.

        Raises:
            InvalidOrderError: an order would be refused (nothing is sent).
            CredentialsError / ClientClosedError: as for :meth:`submit_order`.
        """
        self._enable_trading()
        return self._trader.submit_batch(orders)

    def cancel_order(self, symbol: str, order_id: str | None = None, *, client_id: int | None = None) -> Request[Order]:
        """Cancel one order by its id or its client id (``DELETE /api/v1/order``).  The handle's
        result is the cancelled order; a cancel the exchange answers ``202 Accepted`` completes
        when the stream confirms it.

        Raises:
            InvalidOrderError: neither or both ids.
            CredentialsError / ClientClosedError: as for :meth:`submit_order`.
        """
        self._enable_trading()
        return self._trader.cancel(symbol, order_id, client_id)

    def cancel_all_orders(self, symbol: str) -> Request[list[Order]]:
        """Cancel every open order of ``symbol`` (``DELETE /api/v1/orders``); the result lists
        the cancelled orders.

        Raises:
            InvalidOrderError: a bad symbol.
            CredentialsError / ClientClosedError: as for :meth:`submit_order`.
        """
        self._enable_trading()
        return self._trader.cancel_all(symbol)

    @property
    def clock_offset_ms(self) -> int | None:
        """How far the exchange's clock is ahead of this machine's, in milliseconds, as last
        measured (``GET /api/v1/time`` when a client with keys connects, and again after a
        request refused as expired); signed requests use the corrected time.  ``None`` until
        measured."""
        return self._trader.clock_offset_ms

    def market_rules(self, symbol: str) -> MarketRules | None:
        """The trading rules of ``symbol`` (tick size, step size, minimum and maximum quantity
        and price) from ``GET /api/v1/markets``, read once and kept; ``None`` when the list
        could not be read (orders are then checked by the exchange alone).  Blocks the calling
        thread for the first read.  Needs no keys.

        Raises:
            InvalidOrderError: ``symbol`` is not a market the exchange lists (the message names
                close ones).
            ClientClosedError: the client is closed.
        """
        if self.closed:
            raise ClientClosedError("BackpackClient is closed; create a new one")
        return self._trader.rules(symbol)

    def orders(self) -> dict[str, Order]:
        """The open orders by order id: a copy of the live view (any thread)."""
        with self._lock:
            return dict(self._trader.core.orders)

    def keys_refused(self, error: AuthenticationError) -> None:
        """The exchange refused the API keys on a signed REST request: reported, and
        :meth:`wait_ready` is False until they are accepted (orders thread)."""
        self._refuse("keys", error)
        self._report(error)

    def keys_accepted(self) -> None:
        """A signed REST request succeeded: the keys are good (orders thread)."""
        self._accept("keys")

    def _enable_trading(self) -> None:
        """Follow the account's orders: keys, ``account.orderUpdate``, the orders thread."""
        if self._trading:
            return
        self._ensure_signer()
        self._trading = True
        self.subscribe("account.orderUpdate")
        if self._conn is not None and self._conn.is_open:
            self._trader.connected()

    # ------------------------------------------------------------------ internals
    def _ensure_signer(self) -> Signer:
        proto = self._proto
        if proto.signer is None:
            creds = load_credentials()
            if creds is None:
                raise CredentialsError(
                    "account.* streams need API keys: pass api_key=/api_secret= or set BACKPACK_PUBLIC_KEY and "
                    "BACKPACK_SECRET_KEY (or PUBLIC_KEY and SECRET_KEY) in the environment or a .env file"
                )
            key, secret = creds
            try:
                proto.signer = Signer(secret, key or None, window_ms=self.window_ms)
            except CredentialsError as exc:
                raise CredentialsError(f"{exc.message} (keys read from the environment / .env)") from None
        return proto.signer

    def _send(self, frames: list[str]) -> None:
        conn = self._conn
        if conn is not None:
            for frame in frames:
                conn.send(frame)

    def _missing(self) -> list[str]:
        conn = self._conn
        if conn is None or not conn.is_open:
            return ["connection"]
        missing = self._proto.missing()
        if self._trading and not self._trader.snapshot_done:
            missing.append("open orders (GET /api/v1/orders, which also proves the keys)")
        return missing

    # ------------------------------------------------------------------ books
    def _book_result(self, stream: str, outcome: BookResult, wants_books: bool | None = None) -> None:
        """Act on a book input's outcome, outside the lock: count and report a resync, queue a
        snapshot fetch, hand the change to ``on_book`` and the sinks."""
        if outcome.resync:
            self._resyncs += 1
        if outcome.fetch is not None:
            self._schedule_fetch(outcome.fetch)
        if outcome.error is not None:
            self._report(outcome.error)
        result = outcome.result
        if result is None:
            return
        action = result.action
        if action is SyncAction.APPLIED:
            self._book_checks += 1
        elif action is not SyncAction.SYNCED:
            return
        if action is SyncAction.SYNCED:
            self._readiness_changed()
        if self._wants_books if wants_books is None else wants_books:
            live = self._live.get(stream)
            if live is None:
                return
            self._emit_book(
                OrderBookUpdate(
                    stream=stream,
                    symbol=live.symbol,
                    data=None,
                    book=live,
                    changes=result.changes,
                    snapshot=action is SyncAction.SYNCED,
                    update_id=live.update_id,
                    valid=live.valid,
                )
            )

    def _on_depth(self, managed: ManagedBook, event: Depth) -> None:
        """Reader thread: feed one delta to its book (under the lock), then report."""
        wants_books = self._wants_books
        with self._lock:
            outcome = self._proto.apply_depth(managed, event, not wants_books)
        self._book_result(managed.stream, outcome, wants_books)

    def _schedule_fetch(self, fetch: FetchSnapshot | FetchTrades) -> None:
        """Queue a REST fetch (a depth snapshot, a page of trades); starts the snapshot thread."""
        with self._lock:
            if self.closed:
                return
            self._fetch_queue.put(fetch)
            if self._fetcher is None:
                self._fetcher = threading.Thread(target=self._fetch_loop, name=f"{self.name}-snapshots", daemon=True)
                self._fetcher.start()

    def _fetch_loop(self) -> None:
        """Snapshot thread: fetch REST depth snapshots and trade pages one at a time, off the
        reader thread."""
        while True:
            fetch = self._fetch_queue.get()
            if fetch is None or self.closed:
                return
            if fetch.delay and self._closed.wait(fetch.delay):  # backing off, responsive to close()
                return
            if isinstance(fetch, FetchTrades):
                try:
                    self._fetch_trades(fetch)
                except Exception as exc:  # noqa: BLE001 - this thread also keeps the books alive
                    self._backfill_failed(fetch, exc)
            else:
                self._fetch_one(fetch)

    def _fetch_one(self, fetch: FetchSnapshot) -> None:
        try:
            rest = self._rest_client()
            response = rest.request("GET", "/api/v1/depth", params={"symbol": fetch.symbol, "limit": 1000})
            if response.status != 200:
                raise RequestFailedError(
                    f"HTTP {response.status} from {rest.base_url}/api/v1/depth: {response.text[:200]}",
                    url=f"{rest.base_url}/api/v1/depth",
                    maybe_sent=True,
                )
            snapshot = parse_depth_snapshot(response.body)
        except (RequestAbortedError, ClientClosedError):
            return  # close() came first
        except (BpbfxError, ValueError) as exc:
            with self._lock:
                retry = self._proto.snapshot_failed(fetch.stream)
            if retry is None:
                return  # unsubscribed meanwhile
            self._schedule_fetch(retry)
            stale = StaleBookError(
                f"{fetch.stream}: could not fetch the REST depth snapshot ({exc}); retrying",
                symbol=fetch.symbol,
                stream=fetch.stream,
            )
            stale.__cause__ = exc
            self._report(stale)
            return
        with self._lock:
            outcome = self._proto.snapshot_received(fetch.stream, snapshot)
        self._book_result(fetch.stream, outcome)

    # ------------------------------------------------------------------ trade backfill
    def _live_trade(self, event: Trade) -> bool:
        """Reader thread: a live trade off the tape's count (a jump, a duplicate, a tape
        recovering): whether it is delivered."""
        backfill = self._backfill
        assert backfill is not None
        with self._lock:
            outcome = backfill.live(event, time.monotonic())
        self._backfill_result(outcome)
        return outcome.deliver

    def _backfill_result(self, outcome: BackfillOutcome) -> None:
        """Report what was given up and queue the next request, outside the lock.  A client
        that was never started (a replay) makes no request."""
        for error in outcome.errors:
            self._report(error)
        fetch = outcome.fetch
        if fetch is None:
            return
        if self._started and not self.closed:
            self._schedule_fetch(fetch)
        else:
            backfill = self._backfill
            assert backfill is not None
            with self._lock:
                backfill.dropped(fetch)

    def _fetch_trades(self, fetch: FetchTrades) -> None:
        """Snapshot thread: one page of public trades for a backfill; the trades never
        delivered go out through the normal delivery."""
        backfill = self._backfill
        assert backfill is not None
        url = f"{self.rest_url}{fetch.path}"
        try:
            rest = self._rest_client()
            response = rest.request("GET", fetch.path, params=fetch.params)
        except (RequestAbortedError, ClientClosedError):
            return  # close() came first
        except BpbfxError as exc:
            reason = f"GET {fetch.path} failed: {exc}"
            with self._lock:
                outcome = backfill.failed(fetch, reason, time.monotonic())
        else:
            if response.status != 200:
                what = "rate limited" if response.status == 429 else response.text[:120].strip()
                reason = f"HTTP {response.status} from GET {url}" + (f": {what}" if what else "")
                with self._lock:
                    outcome = backfill.failed(fetch, reason, time.monotonic())
            else:
                with self._lock:
                    outcome = backfill.answered(fetch, response.body, time.monotonic())
                if outcome.events:
                    self._deliver_backfill(fetch.stream, response.text, outcome)
        self._backfill_result(outcome)

    def _backfill_failed(self, fetch: FetchTrades, exc: Exception) -> None:
        """Something unexpected went wrong with a trade page: reported, and the tape stops
        waiting for it (what is still missing is asked for again at the stream's next trade)."""
        backfill = self._backfill
        assert backfill is not None
        with self._lock:
            backfill.dropped(fetch)
        error = BpbfxError(f"{fetch.stream}: trade backfill failed ({type(exc).__name__}: {exc})", stream=fetch.stream)
        error.__cause__ = exc
        self._report(error)

    def _deliver_backfill(self, stream: str, text: str, outcome: BackfillOutcome) -> None:
        """Hand the answer to ``on_backfill`` (recorders), then its trades to the user."""
        hook = self.on_backfill
        if hook is not None:
            self._call_hook("on_backfill", hook, stream, text)
        deliver = self._deliver
        for event in outcome.events:
            deliver(event)

    def feed_backfill(self, stream: str, data: str | bytes) -> bool:
        """Replay a recorded trade backfill answer (a ``backfill`` record's ``stream`` and
        ``data``): the trades of it this client has not delivered go through the same path as
        live, marked ``backfill``.  Returns False, doing nothing, without
        ``backfill_trades``.  Calling thread.

        Raises:
            ClientClosedError: the client is closed.
            ValueError: ``data`` is not a list of trades.
        """
        if self.closed:
            raise ClientClosedError("BackpackClient is closed")
        backfill = self._backfill
        if backfill is None:
            return False
        with self._lock:
            outcome = backfill.replayed(stream, data, time.monotonic())
        if outcome.events:
            self._deliver_backfill(stream, data if isinstance(data, str) else data.decode(), outcome)
        self._backfill_result(outcome)
        return True

    def _rest_client(self) -> RestClient:
        with self._lock:
            if self.closed:
                raise ClientClosedError("BackpackClient is closed")
            if self._rest is None:
                self._rest = RestClient(
                    self.rest_url, timeout=self.connect_timeout, ssl_context=self.ssl_context, proxy=self._rest_proxy
                )
            return self._rest

    # ------------------------------------------------------------------ lifecycle hooks
    def _on_start(self) -> None:
        self._conn = self._new_connection(
            self.url,
            silence_timeout=self.silence_timeout,
            connect_timeout=self.connect_timeout,
            timer_interval=min(1.0, (self.stream_timeout or 4.0) / 4),
        )

    def _on_stop(self) -> None:
        with self._lock:
            rest = self._rest
        self._trader.stop()
        self._fetch_queue.put(None)
        if rest is not None:
            rest.close()  # ends a snapshot fetch in progress at once

    def _extra_threads(self) -> list[threading.Thread]:
        return [t for t in (self._fetcher, self._trader.thread) if t is not None]

    # ------------------------------------------------------------------ ConnectionListener hooks
    def _handle_open(self, conn: Connection) -> None:
        signer = self._proto.signer
        # Signatures carry the time: the exchange's clock is measured now and then (one REST
        # round trip on the orders thread, never on this one); until it is, the private streams
        # wait and the public ones go out at once.
        measure = signer is not None and time.monotonic() - self._trader.clock_measured_at > CLOCK_REMEASURE
        with self._lock:
            # Every (re)connect re-sends every subscription; private ones are re-signed with a
            # fresh timestamp (Backpack: the signature window is checked per SUBSCRIBE).
            self._send(self._proto.connection_made(time.monotonic(), private=not measure))
            fetches = self._backfill.connection_made(time.monotonic()) if self._backfill is not None else []
        for fetch in fetches:
            self._backfill_result(BackfillOutcome(fetch=fetch))
        if measure:
            self._trader.measure_then(self._subscribe_private)
        if self._trading:
            self._trader.connected()

    def _resubscribe_refused(self) -> None:
        """Subscribe again what was refused for a stale signature, now the clock is measured
        again (orders thread)."""
        with self._lock:
            self._send(self._proto.resubscribe_refused())
        self._readiness_changed()

    def _subscribe_private(self) -> None:
        """Send the private subscriptions held back for the clock measurement (orders thread)."""
        with self._lock:
            self._send(self._proto.subscribe_private())

    def _handle_closed(self, conn: Connection, error: Any) -> None:
        # Deltas were lost with the socket: every book is rebuilt after the reconnect.
        with self._lock:
            lost = self._proto.connection_lost()
            if self._backfill is not None:
                self._backfill.connection_lost()  # trades print on while the socket is down
        self._resyncs_lost += lost
        if self._trading:
            self._trader.disconnected()

    def _handle_frame(self, conn: Connection, data: bytes) -> None:
        proto = self._proto
        try:
            event = proto.receive(data, conn.last_frame_at)
        except BpbfxError as exc:
            self._frame_error(exc)
            return
        if event is None:
            return
        cls = event.__class__
        if cls is Depth:
            managed = proto.books.get(event.stream)
            if managed is not None:
                self._on_depth(managed, event)  # type: ignore[arg-type]
        elif cls is Trade:
            tape = self._tapes.get(event.stream)
            if tape is not None:
                # Backpack trade ids are sequential per market: the next one is expected.
                trade_id = event.trade_id  # type: ignore[attr-defined]
                if trade_id == tape.next_id:
                    tape.next_id = trade_id + 1
                elif not self._live_trade(event):  # type: ignore[arg-type]
                    return  # a backfill delivered it already
        elif cls is OrderUpdate and self._trading:
            self._trader.on_event(event)  # type: ignore[arg-type]
        self._deliver(event)

    def _frame_error(self, error: BpbfxError) -> None:
        """An error frame or an undecodable frame (reader thread)."""
        if isinstance(error, ExchangeError):
            with self._lock:
                refused = self._proto.refused(error)
            if refused:
                self._readiness_changed()
            signer = self._proto.signer
            text = error.message.lower()
            if refused and signer is not None and any(w in text for w in ("expired", "timestamp", "window")):
                # A signature outside its window: the clocks disagree.  Measure the exchange's
                # and subscribe the private streams again, signed with the corrected time.
                self._report(error)
                self._trader.measure_then(self._resubscribe_refused)
                return
        elif isinstance(error, MalformedFrameError) and error.stream is not None:
            with self._lock:
                outcome = self._proto.invalidate(error.stream)
            self._book_result(error.stream, outcome)
        self._report(error)

    def _handle_timer(self, conn: Connection, now: float) -> None:
        with self._lock:
            alarms = self._proto.check(now, self.stream_timeout)
        for alarm in alarms:
            self._report(alarm)
