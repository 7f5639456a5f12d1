"""Events of the public channels: tickers, trades, books, candles and status.

Each names its stream as :attr:`bpbfx.bitfinex.channels.Subscription.stream` and carries ``seq``
and ``ts_ms`` after its own fields (:class:`~bpbfx.bitfinex.events.base.ChannelEvent`).
Snapshots come first after subscribing, updates after (docs.bitfinex.com/docs/ws-public).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .base import ChannelEvent, ChannelSnapshot, ChannelUpdate, TradeKind
from .rows import (
    BookEntry,
    Candle,
    FundingBookEntry,
    FundingRawBookEntry,
    FundingTrade,
    Liquidation,
    RawBookEntry,
    TradeEntry,
)

__all__ = [
    "BookSnapshot",
    "BookUpdate",
    "CandleUpdate",
    "CandlesSnapshot",
    "DerivativesStatus",
    "FundingBookSnapshot",
    "FundingBookUpdate",
    "FundingRawBookSnapshot",
    "FundingRawBookUpdate",
    "FundingTicker",
    "FundingTradeUpdate",
    "FundingTradesSnapshot",
    "Liquidations",
    "RawBookSnapshot",
    "RawBookUpdate",
    "TradeUpdate",
    "TradesSnapshot",
    "TradingTicker",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingTicker(ChannelEvent):
    """Ticker of a trading pair (ws-public-ticker).

    Layout ``[BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST_PRICE, VOLUME,
    HIGH, LOW]``.
    """

    bid: Decimal | None
    bid_size: Decimal | None
    ask: Decimal | None
    ask_size: Decimal | None
    daily_change: Decimal | None
    daily_change_relative: Decimal | None
    last_price: Decimal | None
    volume: Decimal | None
    high: Decimal | None
    low: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingTicker(ChannelEvent):
    """Ticker of a funding currency (ws-public-ticker).

    Layout ``[FRR, BID, BID_PERIOD, BID_SIZE, ASK, ASK_PERIOD, ASK_SIZE, DAILY_CHANGE,
    DAILY_CHANGE_RELATIVE, LAST_PRICE, VOLUME, HIGH, LOW, _, _, FRR_AMOUNT_AVAILABLE]``.
    """

    frr: Decimal | None
    bid: Decimal | None
    bid_period: int | None
    bid_size: Decimal | None
    ask: Decimal | None
    ask_period: int | None
    ask_size: Decimal | None
    daily_change: Decimal | None
    daily_change_relative: Decimal | None
    last_price: Decimal | None
    volume: Decimal | None
    high: Decimal | None
    low: Decimal | None
    frr_amount_available: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TradesSnapshot(ChannelSnapshot):
    """The recent trades sent once after subscribing (newest first, as the server sends them)."""

    trades: tuple[TradeEntry, ...]

    @property
    def backfill(self) -> bool:
        """True for the snapshot of a resubscribe holding only trades the channel missed while
        it was down (every row's ``backfill``)."""
        return bool(self.trades) and all(t.backfill for t in self.trades)


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeUpdate(ChannelUpdate):
    """A live trade: ``kind`` is ``"executed"`` for ``te`` (sent first, fastest) and ``"update"``
    for ``tu`` (the same trade once recorded).  Count a trade once: use one of the two kinds.
    """

    trade: TradeEntry
    kind: TradeKind

    @property
    def executed(self) -> bool:
        """True for ``te`` frames."""
        return self.kind == "executed"

    @property
    def backfill(self) -> bool:
        """True for a trade recovered after a reconnect (``trade.backfill``)."""
        return self.trade.backfill


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingTradesSnapshot(ChannelSnapshot):
    """The recent funding trades sent once after subscribing to an ``f`` symbol."""

    trades: tuple[FundingTrade, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingTradeUpdate(ChannelUpdate):
    """A live funding trade: ``fte`` (``kind="executed"``) then ``ftu`` (``kind="update"``)."""

    trade: FundingTrade
    kind: TradeKind

    @property
    def executed(self) -> bool:
        """True for ``fte`` frames."""
        return self.kind == "executed"


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSnapshot(ChannelSnapshot):
    """The book sent after subscribing: bids first (best first), then asks (ws-public-books)."""

    entries: tuple[BookEntry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BookUpdate(ChannelUpdate):
    """Book changes to apply in order.

    One entry per frame normally; with the ``BULK_UPDATES`` conf flag the server batches several
    changes in one frame (``bulk=True``), shaped like a snapshot.
    """

    entries: tuple[BookEntry, ...]
    bulk: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingBookSnapshot(ChannelSnapshot):
    """A funding book sent after subscribing (see :class:`FundingBookEntry` for sides)."""

    entries: tuple[FundingBookEntry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingBookUpdate(ChannelUpdate):
    """Funding book changes (``bulk`` as in :class:`BookUpdate`)."""

    entries: tuple[FundingBookEntry, ...]
    bulk: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RawBookSnapshot(ChannelSnapshot):
    """A raw (R0) trading book sent after subscribing: one entry per order."""

    entries: tuple[RawBookEntry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RawBookUpdate(ChannelUpdate):
    """Raw trading book changes (``bulk`` as in :class:`BookUpdate`)."""

    entries: tuple[RawBookEntry, ...]
    bulk: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingRawBookSnapshot(ChannelSnapshot):
    """A raw (R0) funding book sent after subscribing: one entry per offer."""

    entries: tuple[FundingRawBookEntry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingRawBookUpdate(ChannelUpdate):
    """Raw funding book changes (``bulk`` as in :class:`BookUpdate`)."""

    entries: tuple[FundingRawBookEntry, ...]
    bulk: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CandlesSnapshot(ChannelSnapshot):
    """Recent candles sent after subscribing (newest first, as the server sends them)."""

    candles: tuple[Candle, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CandleUpdate(ChannelUpdate):
    """The current (or a just closed) candle; the same ``mts`` repeats while the candle is open."""

    candle: Candle


@dataclass(frozen=True, slots=True, kw_only=True)
class DerivativesStatus(ChannelEvent):
    """Status of a derivatives pair (status ``deriv:<symbol>``, ws-public-status).

    Layout ``[MTS, _, DERIV_PRICE, SPOT_PRICE, _, INSURANCE_FUND_BALANCE, _, NEXT_FUNDING_EVT_MTS,
    NEXT_FUNDING_ACCRUED, NEXT_FUNDING_STEP, _, CURRENT_FUNDING, _, _, MARK_PRICE, _, _,
    OPEN_INTEREST, _, _, _, CLAMP_MIN, CLAMP_MAX]``.
    """

    mts: int | None
    deriv_price: Decimal | None
    spot_price: Decimal | None
    insurance_fund_balance: Decimal | None
    next_funding_evt_mts: int | None
    next_funding_accrued: Decimal | None
    next_funding_step: int | None
    current_funding: Decimal | None
    mark_price: Decimal | None
    open_interest: Decimal | None
    clamp_min: Decimal | None
    clamp_max: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Liquidations(ChannelEvent):
    """Entries of the liquidation feed (status ``liq:global``); ``symbol`` is ``None``."""

    entries: tuple[Liquidation, ...]
