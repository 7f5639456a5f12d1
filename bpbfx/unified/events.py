"""Unified events: one set of frozen, slotted, typed events for both exchanges.

Every unified event derives from :class:`UnifiedEvent` (itself a :class:`bpbfx.events.Event`):

- ``exchange``: ``"backpack"`` or ``"bitfinex"``;
- ``symbol``: the unified symbol (``"BTC/USDT:USDT"``, see :mod:`bpbfx.unified.symbols`) and
  ``native_symbol`` the exchange's own (``"tBTCF0:USTF0"``);
- ``stream``: the native stream it came from (``"trade.SOL_USDC"``, ``"book:tBTCUSD:P0:F0:25"``),
  which also tells where a :class:`Quote` was taken from;
- ``exchange_time_us``: the exchange's time of the event in microseconds (``None`` when the
  exchange sends none), ``receive_time_us``: wall-clock time (``time.time_ns() // 1000``) when
  bpbfx converted it, on the reader thread right after decoding the frame;
- ``data``: the native event it was converted from (not compared, not in ``repr``).

Prices, sizes and rates are :class:`~decimal.Decimal` taken unchanged from the native events,
which build them from the exchange's own text.  The field mapping per exchange is in
``bpbfx/docs/events.md``, "One model for both exchanges".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from ..book import LevelChange
from ..events import Event

if TYPE_CHECKING:
    from ..live import LiveBook

__all__ = [
    "BookChange",
    "Candle",
    "FundingRate",
    "MarkPrice",
    "Order",
    "OrderStatus",
    "OrderType",
    "Quote",
    "TradeSide",
    "Ticker",
    "Trade",
    "UnifiedEvent",
]

TradeSide = Literal["buy", "sell"]
OrderStatus = Literal["open", "closed", "canceled"]
OrderType = Literal["limit", "market"]
_TWO = Decimal(2)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnifiedEvent(Event):
    """Base of the unified events (see the module docstring for the shared fields)."""

    exchange: str
    native_symbol: str
    exchange_time_us: int | None
    receive_time_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade(UnifiedEvent):
    """One public trade.

    Attributes:
        price: trade price.
        size: traded quantity, always > 0.
        side: the taker's side, ``"buy"`` or ``"sell"`` (``None`` only if Backpack omitted ``m``).
        trade_id: the exchange's trade id.
        snapshot: True for the recent trades Bitfinex sends once after subscribing (history,
            oldest first), False for live trades.
        backfill: True for a trade missed while the connection was down (or skipped by the
            stream) and recovered afterwards (``backfill_trades=True``), copied from the
            native event.
    """

    price: Decimal
    size: Decimal
    side: TradeSide | None
    trade_id: int
    snapshot: bool = False
    backfill: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote(UnifiedEvent):
    """Best bid and ask with their sizes; a side is ``None`` when it is empty.

    Taken from Backpack ``bookTicker``, Bitfinex ``ticker``, or the top of a managed order book
    whenever it changes (``stream`` tells which).
    """

    bid: Decimal | None
    bid_size: Decimal | None
    ask: Decimal | None
    ask_size: Decimal | None

    def spread(self) -> Decimal | None:
        """Ask minus bid, or ``None`` when a side is empty."""
        if self.bid is None or self.ask is None:
            return None
        return self.ask - self.bid

    def mid(self) -> Decimal | None:
        """Midpoint of bid and ask, or ``None`` when a side is empty."""
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / _TWO


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticker(UnifiedEvent):
    """Rolling 24-hour statistics.

    Attributes:
        last: last trade price.
        open: price 24 hours ago (Bitfinex: ``last - change``, exact).
        high / low: 24-hour extremes.
        change: ``last - open``.
        change_ratio: ``change / open`` as a fraction (0.01 is 1 %).
        volume: 24-hour volume in the base currency.
        quote_volume: 24-hour volume in the quote currency (``None`` on Bitfinex).
        trades: number of trades in 24 hours (``None`` on Bitfinex).
    """

    last: Decimal | None
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    change: Decimal | None
    change_ratio: Decimal | None
    volume: Decimal | None
    quote_volume: Decimal | None
    trades: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Candle(UnifiedEvent):
    """One candle (OHLCV).

    Attributes:
        interval: unified interval (``"1m"``, ``"1h"``, ``"1d"``, ``"1w"``, ``"1M"``; see
            :data:`bpbfx.unified.symbols.INTERVALS`).
        open_time_us: start of the candle.
        open / high / low / close / volume: as named (volume in the base currency).
        closed: True once the candle is final.  Backpack says so itself (``X``); Bitfinex does
            not, so the candle is repeated with ``closed=True`` when the next one starts.
        snapshot: True for the history Bitfinex sends after subscribing (oldest first).
    """

    interval: str
    open_time_us: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    closed: bool
    snapshot: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BookChange(UnifiedEvent):
    """A managed order book changed: the :class:`~bpbfx.OrderBookUpdate` the client produced,
    with the unified symbol.

    Attributes:
        book: the live book (already updated; read it, or ``book.snapshot()`` to keep a copy).
        changes: the levels this update changed (:class:`bpbfx.book.LevelChange`; empty for a
            snapshot).
        snapshot: True when the book was (re)built from a snapshot.
        update_id: update id / sequence the book now reflects.
        valid: whether the book is valid after this update.
    """

    book: LiveBook = field(repr=False, compare=False)
    changes: tuple[LevelChange, ...]
    snapshot: bool
    update_id: int | None
    valid: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingRate(UnifiedEvent):
    """Funding of a perpetual swap.

    Attributes:
        rate: the current funding rate per funding interval, as a fraction (Backpack
            ``markPrice.f``; Bitfinex ``CURRENT_FUNDING`` of ``deriv:`` status).
        next_funding_time_us: when the next funding is applied, or ``None``.
    """

    rate: Decimal
    next_funding_time_us: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkPrice(UnifiedEvent):
    """Mark and index price of a perpetual swap.

    Attributes:
        mark_price: the exchange's mark price.
        index_price: the underlying index (Backpack ``i``; Bitfinex ``SPOT_PRICE``), or ``None``.
    """

    mark_price: Decimal
    index_price: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Order(UnifiedEvent):
    """One of the account's orders, the same on both exchanges (the mapping table is in
    ``docs/trading.md``, "One order API").

    Attributes:
        id: the exchange's order id, as text.
        client_id: the client order id (Bitfinex ``cid``, Backpack ``clientId``), or ``None``.
        side: ``"buy"`` or ``"sell"``.
        type: ``"limit"``, ``"market"``, or the exchange's own type in lower case for others
            (Bitfinex ``"exchange stop"``...).
        status: ``"open"`` (resting, maybe partly filled), ``"closed"`` (filled) or
            ``"canceled"`` (cancelled, expired, or refused by the matching engine after it was
            accepted).
        price: the limit price (``None`` for a market order).
        amount: the quantity ordered in the base currency (``None`` for a Backpack market
            order given in quote currency).
        filled: the quantity executed so far; ``remaining``: what is left (``None`` when
            ``amount`` is).
        average: the average fill price, or ``None`` before a fill.
        fee / fee_currency: fees, when the exchange reports them on the order (else ``None``).
        created_ms / updated_ms: creation and last-change times, milliseconds, when known.
        native_status: the exchange's own status text (``"EXECUTED @ 107.0(1.0)"``, ``"Filled"``).

    ``data`` is the native order (a Bitfinex or Backpack ``Order``).
    """

    id: str
    client_id: int | None
    side: TradeSide
    type: str
    status: OrderStatus
    price: Decimal | None
    amount: Decimal | None
    filled: Decimal
    remaining: Decimal | None
    average: Decimal | None
    fee: Decimal | None = None
    fee_currency: str | None = None
    created_ms: int | None = None
    updated_ms: int | None = None
    native_status: str = ""

# Names of earlier releases, each of which said two things in the package.
_RENAMED = {"Side": "TradeSide"}


def __getattr__(name: str) -> object:
    new = _RENAMED.get(name)
    if new is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import warnings

    warnings.warn(f"{__name__}.{name} is now {__name__}.{new}", DeprecationWarning, stacklevel=2)
    return globals()[new]
