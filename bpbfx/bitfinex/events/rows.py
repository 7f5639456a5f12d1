"""Rows of the public channels: the values inside trade, book, candle and status events.

Not events themselves: frozen, slotted, keyword-only dataclasses without ``stream``.  Layouts
follow the official reference pages (docs.bitfinex.com/reference/ws-public-trades,
ws-public-books, ws-public-raw-books, ws-public-candles, ws-public-status).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from .base import EntrySide

__all__ = [
    "BookEntry",
    "Candle",
    "FundingBookEntry",
    "FundingRawBookEntry",
    "FundingTrade",
    "Liquidation",
    "RawBookEntry",
    "TradeEntry",
    "new_book_entry",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeEntry:
    """A public trade: ``[ID, MTS, AMOUNT, PRICE]`` (ws-public-trades).

    Bitfinex: AMOUNT > 0 the taker bought, AMOUNT < 0 the taker sold.  ``backfill`` is True
    for a trade missed while the channel was down and recovered after it came back (from the
    resubscribe snapshot or the REST trade history), never for a live one.
    """

    id: int
    mts: int
    amount: Decimal
    price: Decimal
    backfill: bool = False

    @property
    def side(self) -> Literal["buy", "sell"]:
        """Taker side: ``"sell"`` when the amount is negative."""
        return "sell" if self.amount < 0 else "buy"


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingTrade:
    """A public funding trade: ``[ID, MTS, AMOUNT, RATE, PERIOD]`` (ws-public-trades).

    AMOUNT > 0 the taker lent (offer taken), AMOUNT < 0 the taker borrowed.
    """

    id: int
    mts: int
    amount: Decimal
    rate: Decimal
    period: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BookEntry:
    """A price level of a P0-P4 trading book: ``[PRICE, COUNT, AMOUNT]`` (ws-public-books).

    Bitfinex: COUNT > 0 sets the level (AMOUNT > 0 bid, < 0 ask); COUNT == 0 deletes it
    (AMOUNT 1 on the bid side, -1 on the ask side).
    """

    price: Decimal
    count: int
    amount: Decimal

    @property
    def side(self) -> EntrySide:
        """``"bid"`` when the amount is positive, else ``"ask"``."""
        return "bid" if self.amount > 0 else "ask"

    @property
    def is_delete(self) -> bool:
        """True when the level is removed (COUNT == 0)."""
        return self.count == 0


def _slot_setter(cls: type, name: str) -> Any:
    """The slot descriptor's ``__set__`` of ``cls.name``: writes the field of a frozen, slotted
    dataclass instance without the frozen ``__setattr__`` check (construction only)."""
    return cls.__dict__[name].__set__


_set_entry_price = _slot_setter(BookEntry, "price")
_set_entry_count = _slot_setter(BookEntry, "count")
_set_entry_amount = _slot_setter(BookEntry, "amount")
_new_object = object.__new__


def new_book_entry(price: Decimal, count: int, amount: Decimal) -> BookEntry:
    """``BookEntry(price=price, count=count, amount=amount)`` at about half the cost (the
    decoder's hot path; the arguments must already be validated)."""
    entry: BookEntry = _new_object(BookEntry)
    _set_entry_price(entry, price)
    _set_entry_count(entry, count)
    _set_entry_amount(entry, amount)
    return entry


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingBookEntry:
    """A level of a P0-P4 funding book: ``[RATE, PERIOD, COUNT, AMOUNT]`` (ws-public-books).

    Bitfinex: AMOUNT < 0 is a bid (demand to borrow), > 0 an ask (offer to lend); COUNT == 0
    deletes the (rate, period) level (AMOUNT -1 bid, 1 ask).
    """

    rate: Decimal
    period: int
    count: int
    amount: Decimal

    @property
    def side(self) -> EntrySide:
        """``"bid"`` when the amount is negative, else ``"ask"`` (the reverse of trading books)."""
        return "bid" if self.amount < 0 else "ask"

    @property
    def is_delete(self) -> bool:
        """True when the level is removed (COUNT == 0)."""
        return self.count == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RawBookEntry:
    """An order of an R0 trading book: ``[ORDER_ID, PRICE, AMOUNT]`` (ws-public-raw-books).

    Bitfinex: PRICE == 0 deletes the order; AMOUNT > 0 bid, < 0 ask.
    """

    order_id: int
    price: Decimal
    amount: Decimal

    @property
    def side(self) -> EntrySide:
        """``"bid"`` when the amount is positive, else ``"ask"``."""
        return "bid" if self.amount > 0 else "ask"

    @property
    def is_delete(self) -> bool:
        """True when the order left the book (PRICE == 0)."""
        return not self.price


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingRawBookEntry:
    """An offer of an R0 funding book: ``[OFFER_ID, PERIOD, RATE, AMOUNT]`` (ws-public-raw-books).

    Bitfinex: RATE == 0 deletes the offer; AMOUNT < 0 bid, > 0 ask.
    """

    offer_id: int
    period: int
    rate: Decimal
    amount: Decimal

    @property
    def side(self) -> EntrySide:
        """``"bid"`` when the amount is negative, else ``"ask"``."""
        return "bid" if self.amount < 0 else "ask"

    @property
    def is_delete(self) -> bool:
        """True when the offer left the book (RATE == 0)."""
        return not self.rate


@dataclass(frozen=True, slots=True, kw_only=True)
class Candle:
    """A candle: ``[MTS, OPEN, CLOSE, HIGH, LOW, VOLUME]`` (ws-public-candles; CLOSE before HIGH)."""

    mts: int
    open: Decimal
    close: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Liquidation:
    """A liquidation-feed entry (status ``liq:global``).

    Layout ``["pos", POS_ID, MTS, _, SYMBOL, AMOUNT, BASE_PRICE, _, IS_MATCH, IS_MARKET_SOLD, _,
    PRICE_ACQUIRED]`` (ws-public-status; bitfinex-api-py ``Liquidation`` serializer).
    """

    pos_id: int
    mts: int | None
    symbol: str | None
    amount: Decimal | None
    base_price: Decimal | None
    is_match: bool | None
    is_market_sold: bool | None
    price_acquired: Decimal | None
