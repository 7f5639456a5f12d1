"""``BitfinexClient``: Bitfinex v2 channels over one or more reconnecting WebSockets."""

from __future__ import annotations

import itertools
import logging
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from ..backfill import BackfillPolicy, backfill_policy
from ..base import BaseClient
from ..exceptions import (
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    CredentialsError,
)
from ..live import LiveBook, OrderBookUpdate
from ..options import ClientOptions
from ..transport import Connection, RateLimiter
from . import orders as orders_mod
from . import protocol as proto_mod
from .auth import Credentials, nonce_source_for
from .backfill import FetchHistory, TradeBackfill
from .backfiller import Backfiller
from .book import BitfinexBook
from .channels import Subscription, parse_stream, subscription
from .events import FundingOffer, Heartbeat, Order, TradesSnapshot, TradeUpdate, Wallet
from .orders import BatchRequest, OrderChange, OrderCore, OrderInput, Request
from .outputs import (
    Deliver,
    DropChannel,
    Fatal,
    MoveChannel,
    Output,
    PauseWatchdog,
    Reconnect,
    Report,
    Resynced,
    Send,
)
from .protocol import OB_CHECKSUM, SEQ_ALL, BitfinexProtocol
from .public_rest import TradeHistoryReader
from .rest import HistoryReader, public_rest_endpoint, rest_endpoint
from .trading import Trader

if TYPE_CHECKING:
    import threading

    from typing_extensions import Unpack

__all__ = ["BitfinexClient"]

log = logging.getLogger("bpbfx")

PUBLIC_URL = "wss://api-pub.bitfinex.com/ws/2"
AUTH_URL = "wss://api.bitfinex.com/ws/2"

HeartbeatHook = Callable[[Any, Heartbeat], None]
BookHook = Callable[[Any, OrderBookUpdate], None]
OrderHook = Callable[[Any, OrderChange], None]
BackfillHook = Callable[[Any, str, str], None]
"""``on_backfill(client, stream, answer_text)``."""
Number = Decimal | str | int
_NO_OUTPUTS: list[Output] = []  # never appended to: the protocol queues on its own list
_MAX_FED_SOCKETS = 64  # sockets feed() opens on demand at most (a replay)


class _Shard:
    """One socket of the client: the trading socket (channel 0 only) or a public one and the
    channels placed on it."""

    __slots__ = ("index", "conn", "proto", "trading")

    def __init__(self, index: int, conn: Connection, proto: BitfinexProtocol, trading: bool) -> None:
        self.index = index
        self.conn = conn
        self.proto = proto
        self.trading = trading


class BitfinexClient(BaseClient):
    """Bitfinex WebSocket v2 channels delivered as typed events to your callbacks.

    Channels are spread over as many sockets as needed: at most ``max_channels`` (25) per
    socket, new sockets opened no faster than Bitfinex allows (20 public connects per minute,
    5 authenticated per 15 s), each with its own reconnect loop and watchdogs.  With API keys
    the account (channel 0: orders, wallets, positions) has a socket of its own, the *trading
    socket*, which carries no public channel: a sequence gap, checksum resync, silent channel or
    resubscription of a public channel never replaces or re-authenticates it; only its own
    faults do (its silence, a gap in its own sequence, its close).  Public channels then go on
    sockets 1..n.  Without keys socket 0 carries public channels.

    Args:
        url: endpoint of every socket; default: the trading socket on
            ``wss://api.bitfinex.com/ws/2`` and the public ones on
            ``wss://api-pub.bitfinex.com/ws/2`` (the simulator's ``sim.url`` in tests).
        on_heartbeat: ``(client, Heartbeat)`` for ``hb`` frames (reader thread); heartbeats
            do not go to ``on_message``.
        api_key / api_secret: authenticate (channel 0 account data).  When omitted and
            ``auth`` is not False, ``BITFINEX_API_KEY``/``BITFINEX_API_SECRET`` are read from
            the environment or a ``.env`` file.
        auth: ``False`` never authenticates even when keys are in the environment.
        auth_filter / dms: ``filter`` and ``dms`` of the auth request (``dms=4`` cancels orders
            on disconnect).
        flags: ``conf`` flags sent on every connect (default SEQ_ALL | OB_CHECKSUM).
        heartbeat_timeout: seconds a channel may go without data or heartbeat (Bitfinex sends
            ``hb`` every 15 s) before it is reported and resubscribed; a socket silent that
            long is replaced.
        max_channels: channels per socket (Bitfinex: 25).
        connect_limit: ``(connects, seconds)`` allowed for new sockets, all of them together;
            default: 5 per 15 s for the trading socket (Bitfinex's authenticated limit) and 20
            per minute for the public ones (shared with the trading socket when ``url`` puts
            every socket on one endpoint).
        connect_timeout: seconds a handshake may take.
        books: keep a self-verifying local order book for every ``book`` channel (see
            :meth:`book`); raw book frames still reach ``on_message``.
        on_book: ``(client, OrderBookUpdate)`` after every change to a managed book (reader thread).
        on_order: ``(client, OrderChange)`` after every change to the open-orders view (with
            ``unified=True``: the unified :class:`~bpbfx.unified.Order` instead)
            (:meth:`orders`), reader thread; see "Trading" below.
        order_rate_limit: ``(orders, seconds)`` of new orders this client sends before it
            refuses more locally (default 1000 per 300 s, Bitfinex's base limit per user, shared
            by all of the account's connections).
        calc_rate_limit: ``(calculations, seconds)`` for :meth:`calc` (default 8 per second).
        confirm_timeout: seconds an input may wait for its reply on a live socket (default 60)
            before its handle fails with OrderStatusUnknownError.
        reconcile_timeout: seconds an input in doubt (its socket dropped before the reply) may
            wait for the socket and the snapshot that decides it (default 120).
        reconcile_grace: seconds to wait after that snapshot for a late frame of an order not in
            it (default 2); also the wait before the order history is read a second time.
        rest_url: Bitfinex's authenticated REST endpoint, where the order history of requests
            in doubt is read (default ``https://api.bitfinex.com`` when ``url`` is Bitfinex's own
            or not given; with another ``url``, such as a simulator's, the history is read only
            when ``rest_url`` is given: ``sim.http_url``).  With ``backfill_trades`` the public
            trade history is read there too (default ``https://api-pub.bitfinex.com`` when
            ``url`` is Bitfinex's own or not given).
        backfill_trades: recover the public trades a ``trades:t*`` channel missed while it was
            down: after every resubscribe its snapshot is cut to the trades never delivered
            (marked ``backfill``), and when it does not reach back to the last trade delivered
            the trades in between are read from the REST trade history (``GET
            /v2/trades/{symbol}/hist``, on the ``<name>-backfill`` thread) and delivered through
            ``on_message`` and the sinks, each once, with ``TradeEntry.backfill`` True, from that
            thread.  What cannot be fetched is reported as :class:`~bpbfx.TradeGapError` with
            the time span.  A :class:`~bpbfx.backfill.BackfillPolicy` turns it on with other
            attempts, retry delays or request rate.  Default False (see docs/reliability.md,
            "Trades across reconnects").
        options: every client option (:class:`~bpbfx.options.ClientOptions`): ``on_message``
            ``(client, event)`` for every data and control event (reader thread), ``on_error``
            ``(client, exc)`` for every problem (reader or watchdog thread), ``on_ping``,
            ``on_open`` / ``on_close`` / ``on_reconnect``, ``backoff`` (its ``rate_limited``
            defaults to 60 s here), ``name``, ``ssl_context``, ``unified``, ``dispatch`` and the
            unified hooks (see :class:`~bpbfx.base.BaseClient`).

    Trading (with API keys): :meth:`submit_order`, :meth:`update_order`, :meth:`cancel_order`,
    :meth:`cancel_orders`, :meth:`order_batch`, :meth:`calc`, :meth:`submit_funding_offer` and
    :meth:`cancel_funding_offer` validate their arguments, send one channel-0 input on the
    authenticated socket and return at once a :class:`~bpbfx.bitfinex.orders.Request`, a
    :class:`concurrent.futures.Future` completed (on the reader thread) when the exchange's
    reply arrives.  Inputs are sent exactly once, never replayed after a reconnect; one left in
    doubt by a dropped socket is decided from the snapshot sent after re-authentication, or,
    when its order left the book meanwhile, from the account's order and trade history read
    over authenticated REST on the ``<name>-history`` thread (:mod:`bpbfx.bitfinex.orders`;
    those handles complete on that thread).  :meth:`orders`, :meth:`wallets` and
    :meth:`funding_offers` are live views of the account.

    Raises:
        CredentialsError: malformed keys (never echoing the secret).
        ConfigurationError: invalid arguments.
    """

    exchange = "bitfinex"
    rate_limited_default: ClassVar[float] = 60.0
    """Bitfinex: exceeding the connection limit blocks the IP for about 60 s."""

    def __init__(
        self,
        url: str | None = None,
        *,
        on_heartbeat: HeartbeatHook | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        auth: bool | None = None,
        auth_filter: Iterable[str] | None = None,
        dms: int | None = None,
        flags: int = SEQ_ALL | OB_CHECKSUM,
        heartbeat_timeout: float = 20.0,
        max_channels: int = 25,
        connect_limit: tuple[int, float] | None = None,
        connect_timeout: float = 10.0,
        books: bool = True,
        on_book: BookHook | None = None,
        on_order: OrderHook | None = None,
        order_rate_limit: tuple[int, float] = orders_mod.ORDER_RATE_LIMIT,
        calc_rate_limit: tuple[int, float] = orders_mod.CALC_RATE_LIMIT,
        confirm_timeout: float = 60.0,
        reconcile_timeout: float = 120.0,
        reconcile_grace: float = 2.0,
        rest_url: str | None = None,
        backfill_trades: bool | BackfillPolicy = False,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(**options)
        policy = backfill_policy(backfill_trades)
        if not 1 <= max_channels <= 30:
            raise ConfigurationError(f"max_channels must be between 1 and 30 (Bitfinex allows 25), got {max_channels}")
        if heartbeat_timeout <= 0:
            raise ConfigurationError("heartbeat_timeout must be > 0 seconds (Bitfinex heartbeats every 15 s)")
        self.on_heartbeat = on_heartbeat
        self.on_book = on_book
        self.books_enabled = books
        self._books: dict[str, BitfinexBook] = {}  # shared with every socket's protocol
        self._live: dict[str, LiveBook] = {}
        self.credentials: Credentials | None = None
        if api_key is not None or api_secret is not None:
            if auth is False:
                raise ConfigurationError("auth=False contradicts the api_key/api_secret given")
            if not api_key or not api_secret:
                raise CredentialsError("Bitfinex needs both api_key and api_secret")
            self.credentials = Credentials(api_key, api_secret)
        elif auth is not False:
            self.credentials = Credentials.from_env()
            if auth and self.credentials is None:
                raise CredentialsError(
                    "auth=True but no keys: pass api_key/api_secret or set BITFINEX_API_KEY and "
                    "BITFINEX_API_SECRET in the environment or a .env file"
                )
        self.url = url or (AUTH_URL if self.credentials else PUBLIC_URL)
        """The endpoint of the trading socket (of every socket without keys)."""
        self.public_url = url or PUBLIC_URL
        """The endpoint of the public sockets."""
        for endpoint in {self.url, self.public_url}:
            self._proxy_for(endpoint)  # a bad proxy URL (given or from the environment) is refused here
        self.flags = flags
        self.auth_filter = list(auth_filter) if auth_filter is not None else None
        # The open orders (`os`) follow authentication unless a filter leaves trading out.
        self._expects_os = self.auth_filter is None or any(
            f == "trading" or f.startswith("trading-") for f in self.auth_filter
        )
        self.dms = dms
        self.heartbeat_timeout = heartbeat_timeout
        self.max_channels = max_channels
        self.connect_timeout = connect_timeout
        # Bitfinex: 20 public connects per minute per IP; 5 authenticated per 15 s.
        if connect_limit is not None:
            self._limiter = self._trading_limiter = RateLimiter(*connect_limit)
        elif self.credentials is None:
            self._limiter = self._trading_limiter = RateLimiter(20, 60.0)
        else:
            self._trading_limiter = RateLimiter(5, 15.0)
            self._limiter = self._trading_limiter if self.public_url == self.url else RateLimiter(20, 60.0)
        self._shards: list[_Shard] = []
        self._trading_shard: _Shard | None = None
        self._by_conn: dict[Connection, _Shard] = {}
        self._wanted: dict[Subscription, None] = {}
        self._cids = itertools.count(1)
        self.on_order = on_order
        for what, (count, period) in (("order_rate_limit", order_rate_limit), ("calc_rate_limit", calc_rate_limit)):
            if count < 1 or period <= 0:
                raise ConfigurationError(f"{what} must be (count >= 1, seconds > 0), got {(count, period)!r}")
        if min(confirm_timeout, reconcile_timeout) <= 0 or reconcile_grace < 0:
            raise ConfigurationError("confirm_timeout and reconcile_timeout must be > 0, reconcile_grace >= 0 seconds")
        self.rest_url = rest_endpoint(url, rest_url)
        """Where the order history is read (authenticated REST); ``None``: it is not read."""
        reader = None
        if self.credentials is not None and self.rest_url is not None:
            reader = HistoryReader(
                self.name,
                self.rest_url,
                self.credentials,
                nonce=lambda: self._trader.nonce(),
                answer=lambda *answer: self._trader.answer(*answer),
                report=self._report,
                timeout=connect_timeout,
                proxy=self._proxy_for(self.rest_url),
                ssl_context=self.ssl_context,
            )
        core = OrderCore(
            order_rate_limit=order_rate_limit,
            calc_rate_limit=calc_rate_limit,
            confirm_timeout=confirm_timeout,
            reconcile_timeout=reconcile_timeout,
            reconcile_grace=reconcile_grace,
            dms=dms,
            history=reader is not None,
            history_grace=reconcile_grace,
            history_timeout=3 * connect_timeout,
        )
        if self.credentials is None:
            core.refusal = (
                "this client has no API keys (pass api_key/api_secret or set BITFINEX_API_KEY and BITFINEX_API_SECRET)"
            )
        elif reader is None:
            core.history_note = (
                "the order history was not read: this client has no rest_url (give rest_url=, e.g. a simulator's "
                "http_url)"
            )
        self._trader = Trader(self, core, reader)
        self.on_backfill: BackfillHook | None = None
        """``on_backfill(client, stream, text)`` with the text of every REST answer a trade
        backfill delivered trades from, before they are delivered (``<name>-backfill`` thread;
        set by :meth:`bpbfx.recording.Recorder.attach` to record them)."""
        # The backfill core, read on the hot path (None without backfill_trades).
        self._backfill: TradeBackfill | None = None
        self._backfiller: Backfiller | None = None
        if policy is not None:
            self._backfill = TradeBackfill(policy)
            public = public_rest_endpoint(url, rest_url)
            trades_reader = None
            if public is not None:
                trades_reader = TradeHistoryReader(
                    self.name,
                    public,
                    answer=lambda *answer: self._backfiller.answer(*answer),  # type: ignore[union-attr]
                    report=self._report,
                    timeout=connect_timeout,
                    proxy=self._proxy_for(public),
                    ssl_context=self.ssl_context,
                )
            self._backfiller = Backfiller(self, self._backfill, trades_reader)

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("ready" if self.ready else "not ready")
        return (
            f"<BitfinexClient {self.url} channels={len(self._wanted)} sockets={len(self._shards)} "
            f"auth={'yes' if self.credentials else 'no'} {state}>"
        )

    # ------------------------------------------------------------------ public API
    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Stream names of every wanted channel, in subscription order."""
        return tuple(s.stream for s in self._wanted)

    @property
    def connection_count(self) -> int:
        """How many connections (WebSocket sockets) the client holds: with keys, the trading
        socket (the account's channel 0 only) and the public sockets its channels are spread
        over, up to ``max_channels`` each."""
        return len(self._shards)

    @property
    def socket_count(self) -> int:
        """Deprecated name of :attr:`connection_count`."""
        warnings.warn("BitfinexClient.socket_count is now connection_count", DeprecationWarning, stacklevel=2)
        return len(self._shards)

    def subscribe(self, channel: str, **params: Any) -> str:
        """Subscribe to a channel; returns its stream name (e.g. ``"book:tBTCUSD:P0:F0:25"``).

        Examples: ``subscribe("trades", symbol="tBTCUSD")``,
        ``subscribe("book", symbol="tBTCUSD", prec="P0", freq="F0", len=25)``,
        ``subscribe("candles", key="trade:1m:tBTCUSD")``, ``subscribe("status", key="liq:global")``,
        or a stream name alone: ``subscribe("trades:tBTCUSD")``.

        Works before or after :meth:`start`, from any thread.  Parameters are validated
        before anything is sent.

        Raises:
            InvalidStreamError: unknown channel or invalid parameters (message says what is valid).
            ClientClosedError: the client is closed.
        """
        sub = self._parse(channel, params)
        with self._lock:
            if self.closed:
                raise ClientClosedError("BitfinexClient is closed; create a new one")
            self._refusals.pop(f"subscription {sub.stream}", None)  # asked again: judged afresh
            if sub not in self._wanted:
                self._wanted[sub] = None
                self._stream_counter(sub.stream)
                if self.books_enabled and sub.is_book and sub.stream not in self._books:
                    assert sub.symbol is not None
                    book = BitfinexBook(sub.symbol, sub.prec or "P0", sub.length or 25, stream=sub.stream)
                    self._books[sub.stream] = book
                    self._live[sub.stream] = LiveBook(book.book, self._lock)
                if self._backfiller is not None:
                    self._backfiller.track(sub)
                self._place(sub)
        self._flush_all()
        return sub.stream

    def unsubscribe(self, channel: str, **params: Any) -> bool:
        """Unsubscribe a channel given like :meth:`subscribe`; False if it was not subscribed.
        A refusal of that channel no longer stands in the way of :meth:`wait_ready`.

        Raises:
            InvalidStreamError: invalid parameters.
        """
        sub = self._parse(channel, params)
        with self._lock:
            refused = self._refusals.pop(f"subscription {sub.stream}", None) is not None
            if sub not in self._wanted:
                if refused:
                    self._ready_cond.notify_all()
                return False
            del self._wanted[sub]
            self._streams.pop(sub.stream, None)
            for shard in self._shards:
                shard.proto.remove(sub)
            book = self._books.pop(sub.stream, None)
            self._live.pop(sub.stream, None)
            if book is not None:
                book.clear()
            if self._backfiller is not None:
                self._backfiller.untrack(sub.stream)
        self._flush_all()
        return True

    def book(self, symbol_or_stream: str, prec: str | None = None) -> LiveBook:
        """The live, checksum-verified book of a subscribed ``book`` channel.

        Pass a stream name (``"book:tBTCUSD:P0:F0:25"``) or a symbol (``"tBTCUSD"``, optionally
        with ``prec``; the first matching book otherwise).  After a checksum mismatch, sequence
        gap or reconnect the book is rebuilt from a fresh snapshot; meanwhile ``valid`` is
        False.  Any thread.

        Raises:
            KeyError: no managed book matches (the message lists the ones there are).
        """
        with self._lock:
            live = self._live.get(symbol_or_stream)
            if live is None:
                for stream, book in self._books.items():
                    if book.symbol == symbol_or_stream and (prec is None or book.prec == prec):
                        live = self._live[stream]
                        break
            if live is None:
                known = ", ".join(self._books) or "none"
                raise KeyError(
                    f"no order book for {symbol_or_stream!r}; subscribe a book channel first. Books: {known}"
                )
            return live

    @property
    def books(self) -> dict[str, LiveBook]:
        """Every managed book by stream name."""
        with self._lock:
            return dict(self._live)

    def _count_book_checks(self) -> int:
        return sum(s.proto.checks_passed for s in self._shards)

    def ping(self) -> int:
        """Send an application-level ping on every open socket; returns its ``cid`` (the
        ``Pong`` event carries it back).  Any thread."""
        cid = next(self._cids)
        with self._lock:
            for shard in self._shards:
                if shard.proto.open:
                    shard.proto.ping(cid)
        self._flush_all()
        return cid

    # ------------------------------------------------------------------ trading
    def submit_order(
        self,
        symbol: str,
        amount: Number,
        price: Number | None = None,
        *,
        type: str = "EXCHANGE LIMIT",
        cid: int | None = None,
        gid: int | None = None,
        flags: int = 0,
        price_trailing: Number | None = None,
        price_aux_limit: Number | None = None,
        price_oco_stop: Number | None = None,
        tif: datetime | str | None = None,
        lev: int | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Request[Order]:
        """Place an order (``on``); ``amount`` > 0 buys, < 0 sells.  Returns at once.

        ``.result()`` gives the :class:`~bpbfx.bitfinex.events.Order` once Bitfinex confirms it
        (``on-req`` SUCCESS), matched on ``cid`` (generated when not given; ``handle.cid``).
        When the socket dropped before the reply and the order executed or was cancelled
        meanwhile, it gives the order as the order history shows it (``handle.from_history``;
        its ``status`` says ``EXECUTED @ ...`` or ``CANCELED ...``; ``handle.fills`` holds its
        fills).  Any thread.

        Raises:
            InvalidOrderError: an argument the exchange would refuse (nothing sent).
            ClientClosedError: the client is closed.

        The handle fails with OrderRejectedError (the exchange's status and text),
        OrderRateLimitError, OrderNotSentError (not authenticated, offline, maintenance) or
        OrderStatusUnknownError (sent, outcome not confirmed; see ``.open``).
        """
        return self._submit(
            orders_mod.new_order(
                symbol,
                amount,
                price,
                type=type,
                cid=cid,
                gid=gid,
                flags=flags,
                price_trailing=price_trailing,
                price_aux_limit=price_aux_limit,
                price_oco_stop=price_oco_stop,
                tif=tif,
                lev=lev,
                meta=meta,
            )
        )

    def update_order(
        self,
        id: int,
        *,
        amount: Number | None = None,
        price: Number | None = None,
        delta: Number | None = None,
        price_aux_limit: Number | None = None,
        price_trailing: Number | None = None,
        gid: int | None = None,
        flags: int | None = None,
        tif: datetime | str | None = None,
        lev: int | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> Request[Order]:
        """Change an open order (``ou``): ``amount`` sets the remaining amount, ``delta`` adds to
        it.  ``.result()`` gives the updated order (matched on its id).  One update per order
        in flight.  Any thread.

        Raises:
            InvalidOrderError: no change, or an invalid field (nothing sent).
            ClientClosedError: the client is closed.
        """
        return self._submit(
            orders_mod.update_order(
                id,
                amount=amount,
                price=price,
                delta=delta,
                price_aux_limit=price_aux_limit,
                price_trailing=price_trailing,
                gid=gid,
                flags=flags,
                tif=tif,
                lev=lev,
                meta=meta,
            )
        )

    def cancel_order(
        self, id: int | None = None, *, cid: int | None = None, cid_date: date | datetime | str | None = None
    ) -> Request[Order]:
        """Cancel an order (``oc``) by ``id``, or by ``cid`` and ``cid_date`` (UTC creation day;
        default: the day this client submitted that cid, else today).  ``.result()`` gives the
        order as the ``oc`` frame reports it (CANCELED, or EXECUTED if it filled first).
        Any thread.

        Raises:
            InvalidOrderError: neither or both of id and cid.
            ClientClosedError: the client is closed.
        """
        return self._submit(orders_mod.cancel_order(id, cid=cid, cid_date=cid_date))

    def cancel_orders(
        self,
        ids: Iterable[int] | None = None,
        cids: Iterable[tuple[int, date | datetime | str]] | None = None,
        gids: Iterable[int] | None = None,
        all: bool = False,
    ) -> Request[tuple[Order, ...]]:
        """Cancel several orders (``oc_multi``) by ids, ``(cid, cid_date)`` pairs, group ids, or
        ``all=True`` (every trading and derivatives order).  ``.result()`` gives the orders the
        exchange is cancelling; their ``oc`` frames follow in :meth:`orders`.  One at a time.
        Any thread.

        Raises:
            InvalidOrderError: nothing selected, or ``all`` combined with a selector.
            ClientClosedError: the client is closed.
        """
        return self._submit(orders_mod.cancel_orders(ids, cids, gids, all))

    def order_batch(self, ops: Sequence[OrderInput]) -> BatchRequest:
        """Send up to 75 order operations in one ``ox_multi``: values from
        :func:`bpbfx.bitfinex.orders.new_order`, ``update_order``, ``cancel_order`` and
        ``cancel_orders``.  ``handle.requests`` holds one handle per operation;
        ``.result()`` gives their results in order or raises the first failure.  Any thread.

        Raises:
            InvalidOrderError: no operations, more than 75, or an operation a batch cannot carry.
            ClientClosedError: the client is closed.
        """
        return self._trader.submit_batch(ops)

    def calc(self, items: Sequence[str]) -> Request[None]:
        """Ask Bitfinex to recalculate (``calc``): ``margin_base``, ``balance``,
        ``margin_sym_tBTCUSD``, ``funding_sym_fUSD``, ``position_tBTCUSD``,
        ``wallet_exchange_BTC``...; up to 30 per call, 8 per second.  There is no reply: the
        handle completes once sent and the values arrive as ``miu``/``fiu``/``pu``/``wu``/``bu``
        account events.  Any thread.

        Raises:
            InvalidOrderError: no items, more than 30, or an unknown item.
            ClientClosedError: the client is closed.
        """
        return self._submit(orders_mod.calc(items))

    def submit_funding_offer(
        self, symbol: str, amount: Number, rate: Number, period: int, *, type: str = "LIMIT", flags: int = 0
    ) -> Request[FundingOffer]:
        """Offer funding (``fon``): ``amount`` > 0 lends, < 0 borrows; ``rate`` per day;
        ``period`` 2 to 120 days.  ``.result()`` gives the
        :class:`~bpbfx.bitfinex.events.FundingOffer` (matched on amount, rate and period).
        Any thread.

        Raises:
            InvalidOrderError: an argument the exchange would refuse.
            ClientClosedError: the client is closed.
        """
        return self._submit(orders_mod.new_funding_offer(symbol, amount, rate, period, type=type, flags=flags))

    def cancel_funding_offer(self, id: int) -> Request[FundingOffer]:
        """Cancel a funding offer (``foc``); ``.result()`` gives it as the ``foc`` frame reports
        it.  Any thread.

        Raises:
            InvalidOrderError: not a positive id.
            ClientClosedError: the client is closed.
        """
        return self._submit(orders_mod.cancel_funding_offer(id))

    def orders(self) -> dict[int, Order]:
        """The account's open orders by id (a copy), kept from ``os``/``on``/``ou``/``oc`` on
        channel 0; after a reconnect replaced by the new ``os``.  Any thread."""
        with self._lock:
            return self._trader.core.orders

    def wallets(self) -> dict[tuple[str | None, str | None], Wallet]:
        """The account's wallets by ``(wallet_type, currency)`` (a copy), kept from ``ws``/``wu``.
        Any thread."""
        with self._lock:
            return self._trader.core.wallets

    def funding_offers(self) -> dict[int, FundingOffer]:
        """The account's active funding offers by id (a copy), from ``fos``/``fon``/``fou``/``foc``.
        Any thread."""
        with self._lock:
            return self._trader.core.funding_offers

    def _submit(self, inp: OrderInput) -> Request[Any]:
        return self._trader.submit(inp)

    def on_connection_retry(self, conn: Connection, attempt: int, delay: float) -> None:
        """Transport callback (reader thread): also times out inputs in doubt while the
        socket stays down (the timer runs only on open sockets)."""
        super().on_connection_retry(conn, attempt, delay)
        self._trader.check()

    def _on_stop(self) -> None:
        super()._on_stop()
        self._trader.stop()
        if self._backfiller is not None:
            self._backfiller.stop()

    def _on_closed(self) -> None:
        super()._on_closed()
        self._trader.close()

    def _extra_threads(self) -> list[threading.Thread]:
        threads = super()._extra_threads() + self._trader.threads
        return threads + self._backfiller.threads if self._backfiller is not None else threads

    # ------------------------------------------------------------------ trade backfill
    def feed_backfill(self, stream: str, data: str | bytes) -> bool:
        """Replay a recorded trade backfill answer (a ``backfill`` record's ``stream`` and
        ``data``): it answers the history request of that channel it covers, which a client
        never started leaves pending, and its trades the channel never delivered go through
        the same path as live, marked ``backfill``.  Returns False, doing nothing, without
        ``backfill_trades``.  Calling thread.

        Raises:
            ClientClosedError: the client is closed.
            ValueError: ``data`` is not a list of trades.
        """
        if self.closed:
            raise ClientClosedError("BitfinexClient is closed")
        if self._backfiller is None:
            return False
        self._backfiller.replay(stream, data)
        return True

    # ------------------------------------------------------------------ placement
    @staticmethod
    def _parse(channel: str, params: dict[str, Any]) -> Subscription:
        if not params and ":" in channel:
            return parse_stream(channel)
        return subscription(channel, **params)

    def _new_shard(self, trading: bool = False, adopt: bool = False) -> _Shard:
        """Open the trading socket (channel 0 only) or another public socket (under the lock);
        ``adopt``: one that takes whatever channels fed frames subscribe (replays)."""
        index = len(self._shards)
        credentials = self.credentials if trading else None
        proto = BitfinexProtocol(
            flags=self.flags,
            credentials=credentials,
            nonce_source=nonce_source_for(credentials.api_key) if credentials is not None else None,
            auth_filter=self.auth_filter,
            dms=self.dms,
            heartbeat_timeout=self.heartbeat_timeout,
            books=self._books,
            adopt_unrequested=adopt,
        )
        conn = self._new_connection(
            self.url if trading else self.public_url,
            silence_timeout=self.heartbeat_timeout,
            connect_timeout=self.connect_timeout,
            timer_interval=min(1.0, self.heartbeat_timeout / 4),
            rate_limiter=self._trading_limiter if trading else self._limiter,
            suffix=f"-{index}" if index else "",
        )
        shard = _Shard(index, conn, proto, trading)
        self._shards.append(shard)
        self._by_conn[conn] = shard
        if trading:
            self._trading_shard = shard
        if self._started and not self.closed:
            conn.start()
        return shard

    def _place(self, sub: Subscription, avoid: _Shard | None = None) -> None:
        """Put ``sub`` on the first public socket with room, opening a new socket if all are
        full; the trading socket (socket 0 with keys) never takes one (called under the lock)."""
        self._ensure_trading_shard()
        for shard in self._shards:
            if shard is not avoid and not shard.trading and shard.proto.channel_count < self.max_channels:
                shard.proto.add(sub)
                return
        self._new_shard().proto.add(sub)

    def _ensure_trading_shard(self) -> None:
        """With keys, socket 0 is the trading socket: created before any public one."""
        if self.credentials is not None and self._trading_shard is None:
            self._new_shard(trading=True)

    def _on_start(self) -> None:
        self._ensure_trading_shard()
        if not self._shards:
            self._new_shard()

    def _socket(self, index: int) -> Connection:
        """Socket ``index`` for :meth:`feed`.  A client never started that is fed frames of a
        socket it does not have (a recording made with another layout: with keys the public
        channels were on sockets 1..n) gets public sockets, never started, that take the
        channels those frames subscribe."""
        try:
            return super()._socket(index)
        except IndexError:
            if self._started or not 0 < index <= _MAX_FED_SOCKETS:
                raise
        with self._lock:
            while len(self._shards) <= index:
                self._new_shard(adopt=True)
            return self._shards[index].conn

    # ------------------------------------------------------------------ ConnectionListener hooks
    def _handle_open(self, conn: Connection) -> None:
        shard = self._by_conn[conn]
        with self._lock:
            shard.proto.connection_made()
            if shard.trading:
                self._trader.core.set_paused(False)  # a new socket starts out of maintenance
            outputs = self._take_outputs(shard)
        self._run(shard, outputs)

    def _handle_closed(self, conn: Connection, error: Any) -> None:
        shard = self._by_conn[conn]
        with self._lock:
            self._resyncs_lost += shard.proto.connection_lost()  # every book that was valid is rebuilt
            shard.proto.take_outputs()  # nothing queued for a socket that is gone can be carried out
            if shard.trading:
                self._trader.core.connection_lost()  # inputs awaiting replies are now in doubt

    def _handle_frame(self, conn: Connection, data: bytes) -> None:
        shard = self._by_conn[conn]
        proto = shard.proto
        failure: Exception | None = None
        wants_books = self._wants_books if self._books else False
        with self._lock:
            proto.book_changes = wants_books  # BULK changes are built only for a reader
            try:
                event = proto.receive(data, conn.last_frame_at)
            except Exception as exc:  # noqa: BLE001 - raised again below, once the outputs are carried out
                event = None
                failure = exc
            # Usually nothing is queued (taken whole: callbacks may queue on the protocol anew).
            outputs = self._take_outputs(shard) if proto.outbox else _NO_OUTPUTS
            change = proto.book_change if failure is None else None
            trading = self._trader.on_socket(outputs, event) if shard.trading else None
            backfill = self._backfill
            if backfill is not None and event is not None:
                cls = event.__class__
                if cls is TradeUpdate:
                    if not backfill.live(event):  # type: ignore[arg-type]
                        event = None  # a trade the snapshot delivered already
                elif cls is TradesSnapshot:
                    filled = backfill.snapshot(event, time.monotonic())  # type: ignore[arg-type]
                    event = filled.event  # only the trades never delivered
                    if filled.fetch is not None:
                        outputs = [*outputs, filled.fetch]  # made once the snapshot is delivered
        if failure is not None:
            self._run(shard, outputs)
            raise failure  # reported once, by the frame guard (BaseClient.on_connection_frame)
        if change is not None and wants_books:
            self._book_update(*change)
        if event is not None:
            if type(event) is Heartbeat:
                self._call_hook("on_heartbeat", self.on_heartbeat, event)
            else:
                counter = self._streams.get(event.stream)
                if counter is not None:
                    counter.count += 1
                    counter.last = conn.last_frame_at
                self._deliver(event)
        if trading is not None:
            self._trader.run(trading)
        if outputs:
            self._run(shard, outputs)

    def _handle_timer(self, conn: Connection, now: float) -> None:
        shard = self._by_conn[conn]
        with self._lock:
            shard.proto.check(now)
            # Keep a quiet socket (no channels, or all quiet) provably alive with an app ping.
            if shard.proto.open and not shard.proto.paused and now - conn.last_frame_at > self.heartbeat_timeout / 2:
                shard.proto.ping(next(self._cids))
            outputs = self._take_outputs(shard)
            trader = self._trader
            trader.core.check()
            trading = trader.take()
        trader.run(trading)
        self._run(shard, outputs)

    def _book_update(self, chan: proto_mod.Channel, changes: Any, snapshot: bool) -> None:
        book = chan.book
        live = self._live.get(chan.stream)
        if book is None or live is None:
            return
        update = OrderBookUpdate(
            stream=chan.stream,
            symbol=chan.symbol,
            data=None,
            book=live,
            changes=changes if type(changes) is tuple else tuple(changes),
            snapshot=snapshot,
            update_id=book.book.update_id,
            valid=book.valid,
        )
        self._emit_book(update)

    # ------------------------------------------------------------------ protocol outputs
    def _flush_all(self) -> None:
        for shard in list(self._shards):
            self._flush(shard)

    def _flush(self, shard: _Shard) -> None:
        with self._lock:
            outputs = self._take_outputs(shard)
        self._run(shard, outputs)

    def _take_outputs(self, shard: _Shard) -> list[Output]:
        """Take a socket's queued outputs and send its frames now (under the lock); the rest is
        for :meth:`_run`, outside the lock.

        Frames go out in the order the protocol queued them, whichever thread queued them:
        a subscribe and an unsubscribe of the same channel from two threads reach the server in
        the order the client's state changed, so client and server always agree.  Refusals are
        recorded here, under the lock, before anything is reported: a :meth:`wait_ready` caller
        never sees the client ready while a refusal is on its way to ``on_error``."""
        outputs = shard.proto.take_outputs()
        if not outputs:
            return outputs
        send = shard.conn.send
        rest = []
        for out in outputs:
            cls = out.__class__
            if cls is Send:
                send(out.text)  # type: ignore[union-attr]
                continue
            if cls is DropChannel:
                self._refusals[f"subscription {out.sub.stream}"] = out.error  # type: ignore[union-attr]
                self._ready_cond.notify_all()
            elif cls is Report and isinstance(out.error, AuthenticationError):  # type: ignore[union-attr]
                self._refusals["authentication"] = out.error  # type: ignore[union-attr]
                self._ready_cond.notify_all()
            rest.append(out)
        return rest

    def _run(self, shard: _Shard, outputs: list[Output]) -> None:
        """Carry out a socket's outputs other than sends (outside the lock; user callbacks may
        run)."""
        if not outputs:
            return
        conn = shard.conn
        for out in outputs:
            if isinstance(out, Deliver):
                self._deliver(out.event)
            elif isinstance(out, Report):
                self._report(out.error)
            elif isinstance(out, Reconnect):
                conn.reconnect(out.reason)  # its books are counted as they are lost
            elif isinstance(out, PauseWatchdog):
                conn.pause_watchdog(out.paused)
            elif isinstance(out, MoveChannel):
                with self._lock:
                    if out.sub in self._wanted:
                        self._place(out.sub, avoid=shard)
                self._flush_all()
            elif isinstance(out, DropChannel):
                with self._lock:
                    self._wanted.pop(out.sub, None)
                    self._live.pop(out.sub.stream, None)
                    book = self._books.pop(out.sub.stream, None)
                    if book is not None:
                        book.clear()
                    if self._backfiller is not None:
                        self._backfiller.untrack(out.sub.stream)
            elif isinstance(out, Resynced):
                if out.chan.book is not None:
                    self._resyncs += 1
            elif isinstance(out, Fatal):
                self._report(out.error)
                self.close()  # safe from the reader thread: it ends once this callback returns
            elif isinstance(out, FetchHistory) and self._backfiller is not None:
                self._backfiller.request(out)  # the snapshot that found the hole is delivered
        self._update_ready()

    def _update_ready(self) -> None:
        self._readiness_changed()

    def _missing(self) -> list[str]:
        if not self._shards:
            return ["connection"]
        out: list[str] = []
        for shard in self._shards:
            proto = shard.proto
            if not proto.open:
                out.append(f"connection {shard.conn.name}")
                continue
            if proto.credentials is not None:
                if not proto.authenticated:
                    out.append("authentication")
                elif self._expects_os and not self._trader.core.snapshot_seen and not self._trader.core.paused:
                    out.append("orders snapshot")
            held = {chan.stream for chan in proto.channels.values()}
            out.extend(f"subscription {sub.stream}" for sub in proto.subs if sub.stream not in held)
        for stream, book in self._books.items():
            if not book.valid:
                out.append(f"book {stream}")
        return out
