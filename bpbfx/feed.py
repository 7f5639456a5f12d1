"""``Feed``: one client per exchange behind one set of unified hooks.

::

    feed = Feed(["backpack:trade.SOL_USDC", "bitfinex:trades:tSOLUST"], on_trade=print)
    feed = Feed.trades("BTC/USDT", exchanges=["backpack", "bitfinex"], on_trade=print)
    with feed:
        for event in feed.events(maxsize=10_000):     # or pull unified events on your thread
            ...

Streams are named ``"<exchange>:<native stream>"`` or built from a unified symbol by the class
methods (:meth:`Feed.trades`, :meth:`Feed.quotes`, :meth:`Feed.books`, :meth:`Feed.tickers`,
:meth:`Feed.candles`, :meth:`Feed.funding`); :func:`native_stream` shows the mapping.  Every
hook receives ``(client, unified_event)`` on that client's reader thread; ``on_error`` receives
``(client, exc)`` from every client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from .backoff import Backoff
from .base import BaseClient, ClientStats
from .exceptions import ConfigurationError
from .factory import make_client
from .live import LiveBook
from .options import UnifiedHookOptions
from .pull import DEFAULT_MAXSIZE, EventStream, Overflow
from .unified.convert import UnifiedHook, UnifiedSink
from .unified.events import Order, Quote
from .unified.orders import UnifiedRequest, unified_order
from .unified.orders import cancel_order as cancel_unified
from .unified.orders import submit_order as submit_unified
from .unified.symbols import EXCHANGES, native_interval, to_native

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["KINDS", "BestQuotes", "Feed", "native_stream"]

#: What the class methods subscribe to, per kind and exchange (``{s}`` the native symbol,
#: ``{i}`` the native candle interval).
KINDS: Final[dict[str, dict[str, str]]] = {
    "trades": {"backpack": "trade.{s}", "bitfinex": "trades:{s}"},
    # Backpack publishes its best bid/ask itself; Bitfinex quotes come from the top of the book.
    "quotes": {"backpack": "bookTicker.{s}", "bitfinex": "book:{s}:P0:F0:25"},
    "books": {"backpack": "depth.{s}", "bitfinex": "book:{s}:P0:F0:25"},
    "tickers": {"backpack": "ticker.{s}", "bitfinex": "ticker:{s}"},
    "candles": {"backpack": "kline.{i}.{s}", "bitfinex": "candles:trade:{i}:{s}"},
    "funding": {"backpack": "markPrice.{s}", "bitfinex": "status:deriv:{s}"},
}


def native_stream(kind: str, symbol: str, exchange: str, interval: str | None = None) -> str:
    """The ``"<exchange>:<stream>"`` name that carries ``kind`` for a unified ``symbol``:
    ``native_stream("trades", "BTC/USDT", "bitfinex") == "bitfinex:trades:tBTCUST"``.

    Raises:
        ConfigurationError: unknown kind, a symbol or interval the exchange cannot express
            (:class:`~bpbfx.SymbolMappingError`), or ``candles`` without ``interval``.
    """
    table = KINDS.get(kind)
    if table is None:
        raise ConfigurationError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if exchange not in table:
        raise ConfigurationError(f"unknown exchange {exchange!r}; choose one of {', '.join(EXCHANGES)}")
    native = to_native(exchange, symbol)
    native_iv = ""
    if kind == "candles":
        if interval is None:
            raise ConfigurationError("candles need an interval, e.g. interval='1m'")
        native_iv = native_interval(exchange, interval)
    return f"{exchange}:" + table[exchange].format(s=native, i=native_iv)


class Feed:
    """Runs one client per exchange and delivers unified events to one set of hooks; places and
    cancels orders on either exchange with unified values.

    Args:
        streams: ``"<exchange>:<native stream>"`` names (``"backpack:depth.SOL_USDC"``,
            ``"bitfinex:book:tBTCUSD:P0:F0:25"``).
        on_event: every unified event ``(client, event)``.
        on_order: ``(client, unified Order)`` after every change to an order of the account on
            either exchange (needs keys in ``client_options``; the thread is the client's: its
            reader thread, or Backpack's orders thread for REST answers).
        on_error: ``(client, exc)`` for every problem of every client.
        urls: WebSocket endpoint per exchange (default: the real exchanges; ``sim.url`` in tests).
        rest_url: REST base: a URL for Backpack (book snapshots, orders), or a mapping per
            exchange (``{"backpack": bp.http_url, "bitfinex": bf.http_url}``: Bitfinex reads
            the order history of orders in doubt there); default the exchanges' own.
        backoff: reconnect policy for every client.
        client_options: extra keyword arguments per exchange for its client constructor; an
            exchange given ``api_key``/``api_secret`` here gets a client even without streams,
            for trading.
        hooks: the typed unified hooks (``on_trade``, ``on_quote``, ``on_ticker``,
            ``on_candle``, ``on_book_change``, ``on_funding_rate``, ``on_mark_price``): unified
            events of that type.

    Hooks run on the reader thread of the client that received the data (Backpack resyncs: its
    snapshot thread); keep them quick or pull with :meth:`events`.

    Raises:
        ConfigurationError / InvalidStreamError: a malformed stream name or unknown exchange.
        TypeError: an unknown hook name.
    """

    def __init__(
        self,
        streams: Iterable[str] = (),
        *,
        on_event: UnifiedHook | None = None,
        on_order: UnifiedHook | None = None,
        on_error: Callable[[Any, BaseException], None] | None = None,
        urls: Mapping[str, str] | None = None,
        rest_url: str | Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
        client_options: Mapping[str, Mapping[str, Any]] | None = None,
        **hooks: Unpack[UnifiedHookOptions],
    ) -> None:
        per_exchange: dict[str, list[str]] = {}
        for spec in streams:
            exchange, sep, stream = str(spec).partition(":")
            if not sep or not stream or exchange not in EXCHANGES:
                raise ConfigurationError(
                    f"stream {spec!r} must be '<exchange>:<stream>' with exchange {' or '.join(EXCHANGES)}, "
                    "e.g. 'backpack:trade.SOL_USDC' or 'bitfinex:trades:tBTCUSD'"
                )
            per_exchange.setdefault(exchange, []).append(stream)
        options = {k: dict(v) for k, v in (client_options or {}).items()}
        rests = dict(rest_url) if isinstance(rest_url, Mapping) else {"backpack": rest_url} if rest_url else {}
        unknown = sorted((set(urls or {}) | set(options) | set(rests)) - set(EXCHANGES))
        if unknown:
            raise ConfigurationError(f"urls, rest_url or client_options for unknown exchange(s) {', '.join(unknown)}")
        for exchange, extra in options.items():
            if extra.get("api_key") is not None or extra.get("api_secret") is not None:
                per_exchange.setdefault(exchange, [])  # trading: a client even without streams
        if not per_exchange:
            raise ConfigurationError("Feed needs at least one stream (or keys in client_options, for trading)")
        self.sink = UnifiedSink(on_event, **hooks)
        self.on_order = on_order
        self.clients: dict[str, BaseClient] = {}
        urls = dict(urls or {})
        try:
            for exchange, names in per_exchange.items():
                extra = options.get(exchange, {})
                client = make_client(exchange, names, url=urls.get(exchange), rest_url=rests.get(exchange),
                                     books=extra.pop("books", True), backoff=backoff, on_error=on_error, **extra)
                client.add_sink(self.sink)
                client.on_order = self._order_changed  # type: ignore[attr-defined]
                self.clients[exchange] = client
        except BaseException:
            self.close()
            raise

    def _order_changed(self, client: Any, change: Any) -> None:
        """A client's ``on_order``: the change as a unified Order, to the feed's hook."""
        hook = self.on_order
        if hook is not None:
            hook(client, unified_order(client.exchange, change.order, stream=str(getattr(change, "source", ""))))

    # ------------------------------------------------------------------ orders
    def submit_order(
        self,
        exchange: str,
        symbol: str,
        side: str,
        amount: Decimal | int | str,
        price: Decimal | int | str | None = None,
        *,
        type: str = "limit",
        post_only: bool = False,
        client_id: int | None = None,
    ) -> UnifiedRequest:
        """Place an order with unified values (``"SOL/USDC"``, ``"buy"``, an amount in the base
        currency, a price for ``type="limit"``); returns at once a handle whose result is the
        unified :class:`~bpbfx.unified.Order` (``handle.native`` is the exchange's own handle,
        ``handle.client_id`` the client order id).  The exchange's guarantees hold: validated
        before sending, sent once, decided from the exchange's records when the answer is lost.
        Any thread.

        Raises:
            KeyError: the feed has no client on ``exchange``.
            InvalidOrderError / InvalidSymbolError / CredentialsError / ClientClosedError: see
                :func:`bpbfx.unified.orders.submit_order`.
        """
        return submit_unified(
            self.client(exchange), symbol, side, amount, price, type=type, post_only=post_only, client_id=client_id
        )

    def cancel_order(
        self, exchange: str, symbol: str, order_id: str | None = None, *, client_id: int | None = None
    ) -> UnifiedRequest:
        """Cancel an order by its id (:attr:`~bpbfx.unified.Order.id`) or client id; the result
        is the unified cancelled order.  Any thread.

        Raises:
            KeyError: no client on ``exchange``.
            InvalidOrderError / InvalidSymbolError: see :func:`bpbfx.unified.orders.cancel_order`.
        """
        return cancel_unified(self.client(exchange), symbol, order_id, client_id=client_id)

    def orders(self) -> list[Order]:
        """The account's open orders on every exchange of the feed, unified (any thread)."""
        out: list[Order] = []
        for name, client in self.clients.items():
            view = getattr(client, "orders", None)
            if callable(view):
                out.extend(unified_order(name, o, stream="view") for o in view().values())
        return out

    # ------------------------------------------------------------------ by unified symbol
    @classmethod
    def of(
        cls,
        kind: str,
        symbols: str | Sequence[str],
        *,
        exchanges: Sequence[str] = EXCHANGES,
        interval: str | None = None,
        **options: Any,
    ) -> Feed:
        """A feed of ``kind`` (``"trades"``, ``"quotes"``, ``"books"``, ``"tickers"``,
        ``"candles"``, ``"funding"``) for unified ``symbols`` on ``exchanges``; ``options`` go to
        :class:`Feed`.

        Raises:
            ConfigurationError: see :func:`native_stream`.
        """
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        return cls([native_stream(kind, s, e, interval) for e in exchanges for s in names], **options)

    @classmethod
    def trades(cls, symbols: str | Sequence[str], *, exchanges: Sequence[str] = EXCHANGES, **options: Any) -> Feed:
        """Trades of unified ``symbols`` (``Feed.trades("SOL/USDC", exchanges=["backpack"])``)."""
        return cls.of("trades", symbols, exchanges=exchanges, **options)

    @classmethod
    def quotes(cls, symbols: str | Sequence[str], *, exchanges: Sequence[str] = EXCHANGES, **options: Any) -> Feed:
        """Best bid/ask: Backpack ``bookTicker``, Bitfinex top of the P0 book."""
        return cls.of("quotes", symbols, exchanges=exchanges, **options)

    @classmethod
    def books(cls, symbols: str | Sequence[str], *, exchanges: Sequence[str] = EXCHANGES, **options: Any) -> Feed:
        """Managed order books (BookChange and top-of-book Quote events)."""
        return cls.of("books", symbols, exchanges=exchanges, **options)

    @classmethod
    def tickers(cls, symbols: str | Sequence[str], *, exchanges: Sequence[str] = EXCHANGES, **options: Any) -> Feed:
        """24-hour tickers (Bitfinex tickers also give Quotes)."""
        return cls.of("tickers", symbols, exchanges=exchanges, **options)

    @classmethod
    def candles(
        cls, symbols: str | Sequence[str], interval: str, *, exchanges: Sequence[str] = EXCHANGES, **options: Any
    ) -> Feed:
        """Candles of the unified ``interval`` (``"1m"``, ``"1h"``, ``"1d"``, ...)."""
        return cls.of("candles", symbols, exchanges=exchanges, interval=interval, **options)

    @classmethod
    def funding(cls, symbols: str | Sequence[str], *, exchanges: Sequence[str] = EXCHANGES, **options: Any) -> Feed:
        """Mark price and funding rate of perpetuals (``"BTC/USDT:USDT"``)."""
        return cls.of("funding", symbols, exchanges=exchanges, **options)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Feed:
        """Start every client (returns at once; idempotent).  Raises ClientClosedError after close."""
        for client in self.clients.values():
            client.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every client is connected and subscribed (True) or ``timeout`` seconds
        pass in all (False).  Any thread except the reader threads."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        for client in self.clients.values():
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not client.wait_ready(left):
                return False
        return True

    def close(self) -> None:
        """Close every client (idempotent, any thread, also from a hook)."""
        for client in self.clients.values():
            client.close()

    def run_forever(self) -> None:
        """Start and block until :meth:`close` (or any client closing) or Ctrl-C; every client is
        closed on return.  Main thread."""
        import time

        self.start()
        try:
            while not any(client.closed for client in self.clients.values()):
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def __enter__(self) -> Feed:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ data
    def events(
        self, maxsize: int = DEFAULT_MAXSIZE, overflow: Overflow | str = "drop_oldest", *, books: bool = False
    ) -> EventStream:
        """Unified events of every client in one bounded queue for your thread (see
        :class:`~bpbfx.EventStream`); ``books=True`` includes BookChange events.

        Raises:
            ConfigurationError: invalid ``maxsize`` / ``overflow``.
            ClientClosedError: the feed is closed.
        """
        return EventStream(*self.clients.values(), maxsize=maxsize, overflow=overflow, books=books, unified=True)

    def client(self, exchange: str) -> BaseClient:
        """The client of ``exchange``.

        Raises:
            KeyError: the feed has no stream on that exchange.
        """
        try:
            return self.clients[exchange]
        except KeyError:
            raise KeyError(f"this feed has no {exchange} streams; it has {', '.join(self.clients)}") from None

    def book(self, exchange: str, symbol: str) -> LiveBook:
        """The live book of unified ``symbol`` on ``exchange`` (a depth / book stream must be
        part of the feed).  Any thread.

        Raises:
            KeyError: no such book; SymbolMappingError: the symbol has no native form.
        """
        client = self.client(exchange)
        book: Callable[[str], LiveBook] = client.book  # type: ignore[attr-defined]
        return book(to_native(exchange, symbol))

    def stats(self) -> dict[str, ClientStats]:
        """Each client's stats by exchange (any thread)."""
        return {name: client.stats() for name, client in self.clients.items()}

    @property
    def subscriptions(self) -> list[str]:
        """Every stream as ``"<exchange>:<stream>"``."""
        out: list[str] = []
        for name, client in self.clients.items():
            subs: tuple[str, ...] = client.subscriptions  # type: ignore[attr-defined]
            out.extend(f"{name}:{s}" for s in subs)
        return out

    def __repr__(self) -> str:
        return f"<Feed {', '.join(self.subscriptions)}>"


class BestQuotes:
    """The latest :class:`~bpbfx.unified.Quote` of one unified symbol per exchange, and the
    spreads between venues; pass :meth:`on_quote` as a feed's ``on_quote`` hook.

    Thread-safe: the hook runs on the clients' reader threads, the readers on any thread.
    """

    def __init__(self, symbol: str) -> None:
        import threading

        self.symbol = symbol
        self._lock = threading.Lock()
        self._quotes: dict[str, Quote] = {}

    def on_quote(self, client: Any, quote: Quote) -> None:
        """Hook: keep ``quote`` if it is of this symbol and has both sides (reader thread)."""
        if quote.symbol == self.symbol and quote.bid is not None and quote.ask is not None:
            with self._lock:
                self._quotes[quote.exchange] = quote

    def quote(self, exchange: str) -> Quote | None:
        """The latest two-sided quote of ``exchange``, or ``None``."""
        with self._lock:
            return self._quotes.get(exchange)

    def cross(self, buy: str = "backpack", sell: str = "bitfinex") -> Decimal | None:
        """What buying at ``buy``'s ask and selling at ``sell``'s bid would earn per unit
        (``sell.bid - buy.ask``; negative when the venues do not cross), or ``None``."""
        with self._lock:
            a, b = self._quotes.get(buy), self._quotes.get(sell)
        if a is None or b is None or a.ask is None or b.bid is None:
            return None
        return b.bid - a.ask

    def line(self, exchanges: Sequence[str] = EXCHANGES) -> str:
        """One line: best bid/ask per venue, the mid difference and both cross spreads."""
        parts = [self.symbol]
        mids: list[Decimal] = []
        for name in exchanges:
            q = self.quote(name)
            if q is None:
                parts.append(f"{name} -")
                continue
            parts.append(f"{name} {q.bid} / {q.ask} (spread {q.spread()})")
            mid = q.mid()
            if mid is not None:
                mids.append(mid)
        if len(exchanges) == 2 and len(mids) == 2:
            first, second = exchanges
            parts.append(f"mid {second}-{first} {(mids[1] - mids[0]).normalize():f}")
            parts.append(f"buy {first}/sell {second} {self.cross(first, second)}")
            parts.append(f"buy {second}/sell {first} {self.cross(second, first)}")
        return "  ".join(parts)
