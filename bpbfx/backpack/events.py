"""Typed events of Backpack's WebSocket streams.

Every event keeps ``stream`` (e.g. ``"depth.200ms.SOL_USDC"``), ``symbol`` and the raw ``data``
object.  Backpack times ``E`` (event) and ``T`` (engine) are **microseconds** (``*_us``);
``markPrice``'s next funding time is milliseconds.  Prices and quantities are ``Decimal``.
Fields the exchange may omit are ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..events import Event

__all__ = [
    "BookTicker",
    "Depth",
    "Kline",
    "Level",
    "Liquidation",
    "MarkPrice",
    "OpenInterest",
    "OrderUpdate",
    "PositionUpdate",
    "RfqUpdate",
    "Ticker",
    "Trade",
]

Level = tuple[Decimal, Decimal]
"""``(price, quantity)``; quantity 0 deletes the level."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Depth(Event):
    """``depth.<s>`` / ``depth.<window>.<s>``: absolute quantities for changed levels.

    Ids ``first_update_id`` (``U``) .. ``last_update_id`` (``u``) are contiguous across
    frames of one market; a zero quantity deletes the level.  No snapshot, no checksum.
    """

    first_update_id: int
    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    event_time_us: int
    engine_time_us: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade(Event):
    """``trade.<s>``: one public trade.

    ``backfill`` is True for a trade the stream did not deliver (it printed while the socket
    was down, or the ids jumped) and that was fetched from the REST trade history instead
    (``backfill_trades=True``; see docs/reliability.md).  Its ``data`` is the REST row written
    in the stream's shape (``e``, ``E``, ``s``, ``p``, ``q``, ``t``, ``T``, ``m``; the REST
    history has no order ids, so ``buy_order_id``/``sell_order_id`` are ``None``) and both
    times are the row's ``timestamp``.
    """

    trade_id: int
    price: Decimal
    quantity: Decimal
    buyer_is_maker: bool | None
    buy_order_id: str | None
    sell_order_id: str | None
    event_time_us: int
    engine_time_us: int | None
    backfill: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticker(Event):
    """``ticker.<s>``: 24h statistics, about once per second."""

    open: Decimal
    close: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int
    event_time_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BookTicker(Event):
    """``bookTicker.<s>``: best bid and ask (``None`` when a side is empty)."""

    bid_price: Decimal | None
    bid_quantity: Decimal | None
    ask_price: Decimal | None
    ask_quantity: Decimal | None
    update_id: int | None
    event_time_us: int
    engine_time_us: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Kline(Event):
    """``kline.<interval>.<s>``: one candle; ``start``/``end`` are the exchange's ISO strings."""

    interval: str
    start: str
    end: str
    open: Decimal
    close: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    trades: int
    closed: bool
    event_time_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkPrice(Event):
    """``markPrice.<s>``: mark and index price and funding rate, about once per second."""

    mark_price: Decimal
    index_price: Decimal | None
    funding_rate: Decimal | None
    next_funding_time_ms: int | None
    event_time_us: int
    engine_time_us: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenInterest(Event):
    """``openInterest.<s>``: open interest, every 60 s."""

    open_interest: Decimal
    event_time_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Liquidation(Event):
    """``liquidation``: one liquidation (``side`` as the exchange writes it)."""

    price: Decimal
    quantity: Decimal
    side: str | None
    event_time_us: int
    engine_time_us: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate(Event):
    """``account.orderUpdate[.<s>]``: one order event.

    ``event_type`` is ``orderAccepted``, ``orderCancelled``, ``orderExpired``, ``orderFill``,
    ``orderModified``, ``triggerPlaced`` or ``triggerFailed``.  Every other field of the frame is
    in ``data``.
    """

    event_type: str | None
    order_id: str | None
    client_id: int | None
    side: str | None
    order_type: str | None
    status: str | None
    price: Decimal | None
    quantity: Decimal | None
    executed_quantity: Decimal | None
    fill_price: Decimal | None
    fill_quantity: Decimal | None
    trade_id: int | None
    fee: Decimal | None
    fee_symbol: str | None
    is_maker: bool | None
    event_time_us: int | None
    engine_time_us: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionUpdate(Event):
    """``account.positionUpdate[.<s>]``: a position; the first frame after subscribing lists
    the open positions and has no ``e`` field (``event_type`` is then ``None``)."""

    event_type: str | None
    net_quantity: Decimal | None
    entry_price: Decimal | None
    mark_price: Decimal | None
    pnl_realized: Decimal | None
    pnl_unrealized: Decimal | None
    event_time_us: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RfqUpdate(Event):
    """``account.rfqUpdate[.<s>]``: a request-for-quote event; all fields are in ``data``."""

    event_type: str | None
    event_time_us: int | None
