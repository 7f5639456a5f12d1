"""Events decoded from Bitfinex WebSocket v2 frames.

Every class is a frozen, slotted, keyword-only dataclass deriving from
:class:`bpbfx.events.Event` (``stream``, ``symbol``, ``data``).  Prices, amounts and rates are
:class:`~decimal.Decimal` built from the server's own number text; ids and times are ``int``
(times in milliseconds, ``_ms``).  Data events carry ``seq`` (the per-connection sequence number
appended when the ``SEQ_ALL`` conf flag is on) and ``ts_ms`` (the time appended with the
``TIMESTAMP`` flag), both ``None`` otherwise.

Bitfinex appends fields to its arrays over time (docs.bitfinex.com/docs/ws-general: "Message
(JSON array) lengths should never be hardcoded"), so fields the server may omit are optional and
``None`` when absent.  Field orders follow the official reference pages and the official Python
client's serializers (bitfinexcom/bitfinex-api-py ``bfxapi/types/serializers.py``); each class
cites its array layout.

Public channel events name the stream as :attr:`bpbfx.bitfinex.channels.Subscription.stream`;
account events (channel 0, after ``auth``) use :data:`ACCOUNT_STREAM`; replies to requests and
server notices that belong to no channel use :data:`CONNECTION_STREAM`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

from ..events import Event

__all__ = [
    "ACCOUNT_STREAM",
    "CONNECTION_STREAM",
    "AccountFundingTrade",
    "AccountFundingTradeUpdate",
    "AccountTrade",
    "AccountTradeUpdate",
    "AuthResult",
    "BalanceUpdate",
    "BookEntry",
    "BookSnapshot",
    "BookUpdate",
    "Candle",
    "CandleUpdate",
    "CandlesSnapshot",
    "Checksum",
    "Conf",
    "DerivativesStatus",
    "ErrorReply",
    "FundingBookEntry",
    "FundingBookSnapshot",
    "FundingBookUpdate",
    "FundingCredit",
    "FundingCreditUpdate",
    "FundingCreditsSnapshot",
    "FundingInfoUpdate",
    "FundingLoan",
    "FundingLoanUpdate",
    "FundingLoansSnapshot",
    "FundingOffer",
    "FundingOfferUpdate",
    "FundingOffersSnapshot",
    "FundingRawBookEntry",
    "FundingRawBookSnapshot",
    "FundingRawBookUpdate",
    "FundingTicker",
    "FundingTrade",
    "FundingTradeUpdate",
    "FundingTradesSnapshot",
    "Heartbeat",
    "Info",
    "Liquidation",
    "Liquidations",
    "MarginBaseUpdate",
    "MarginSymbolUpdate",
    "Notification",
    "Order",
    "OrderUpdate",
    "OrdersSnapshot",
    "Pong",
    "Position",
    "PositionUpdate",
    "PositionsSnapshot",
    "RawBookEntry",
    "RawBookSnapshot",
    "RawBookUpdate",
    "Subscribed",
    "Trade",
    "TradeUpdate",
    "TradesSnapshot",
    "TradingTicker",
    "Unsubscribed",
    "Wallet",
    "WalletUpdate",
    "WalletsSnapshot",
]

#: ``stream`` of every channel-0 (authenticated account) event.
ACCOUNT_STREAM: Final = "account"
#: ``stream`` of events that belong to no channel (info, conf, pong, subscribe replies, errors).
CONNECTION_STREAM: Final = "connection"

TradeKind = Literal["executed", "update"]
OrderKind = Literal["new", "update", "cancel"]
CloseKind = Literal["new", "update", "close"]
Side = Literal["bid", "ask"]


# --------------------------------------------------------------------------------------------
# Value objects (not events): the rows of snapshots and updates.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade:
    """A public trade: ``[ID, MTS, AMOUNT, PRICE]`` (ws-public-trades).

    Bitfinex: AMOUNT > 0 the taker bought, AMOUNT < 0 the taker sold.
    """

    id: int
    mts: int
    amount: Decimal
    price: Decimal

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
    def side(self) -> Side:
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
    def side(self) -> Side:
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
    def side(self) -> Side:
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
    def side(self) -> Side:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """An order of the account (``os``/``on``/``ou``/``oc``, ws-auth-orders).

    Layout ``[ID, GID, CID, SYMBOL, MTS_CREATE, MTS_UPDATE, AMOUNT, AMOUNT_ORIG, TYPE, TYPE_PREV,
    MTS_TIF, _, FLAGS, STATUS, _, _, PRICE, PRICE_AVG, PRICE_TRAILING, PRICE_AUX_LIMIT, _, _, _,
    NOTIFY, HIDDEN, PLACED_ID, _, _, ROUTING, _, _, META]`` (bitfinex-api-py ``Order``).
    ``amount`` is what remains (positive buy, negative sell); ``status`` is text such as
    ``"ACTIVE"`` or ``"EXECUTED @ 113940.0(-0.00008865)"``.
    """

    id: int
    gid: int | None
    cid: int | None
    symbol: str | None
    mts_create: int | None
    mts_update: int | None
    amount: Decimal | None
    amount_orig: Decimal | None
    type: str | None
    type_prev: str | None
    mts_tif: int | None
    flags: int | None
    status: str | None
    price: Decimal | None
    price_avg: Decimal | None
    price_trailing: Decimal | None
    price_aux_limit: Decimal | None
    notify: bool | None
    hidden: bool | None
    placed_id: int | None
    routing: str | None
    meta: Any = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """A margin or derivatives position (``ps``/``pn``/``pu``/``pc``, ws-auth-positions).

    Layout ``[SYMBOL, STATUS, AMOUNT, BASE_PRICE, MARGIN_FUNDING, MARGIN_FUNDING_TYPE, PL, PL_PERC,
    PRICE_LIQ, LEVERAGE, _, POSITION_ID, MTS_CREATE, MTS_UPDATE, _, TYPE, _, COLLATERAL,
    COLLATERAL_MIN, META]`` (bitfinex-api-py ``Position``).
    """

    symbol: str | None
    status: str | None
    amount: Decimal | None
    base_price: Decimal | None
    margin_funding: Decimal | None
    margin_funding_type: int | None
    pl: Decimal | None
    pl_perc: Decimal | None
    price_liq: Decimal | None
    leverage: Decimal | None
    position_id: int | None
    mts_create: int | None
    mts_update: int | None
    type: int | None
    collateral: Decimal | None
    collateral_min: Decimal | None
    meta: Any = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Wallet:
    """A wallet balance (``ws``/``wu``, ws-auth-wallets).

    Layout ``[WALLET_TYPE, CURRENCY, BALANCE, UNSETTLED_INTEREST, AVAILABLE_BALANCE, LAST_CHANGE,
    TRADE_DETAILS]`` (bitfinex-api-py ``Wallet``).  ``available_balance`` is often ``None``: the
    server computes it lazily and sends it in a later ``wu``.
    """

    wallet_type: str | None
    currency: str | None
    balance: Decimal | None
    unsettled_interest: Decimal | None
    available_balance: Decimal | None
    last_change: str | None
    trade_details: Any = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountTrade:
    """A fill of one of the account's orders (channel-0 ``te``/``tu``, ws-auth-trades).

    Layout ``[ID, SYMBOL, MTS_CREATE, ORDER_ID, EXEC_AMOUNT, EXEC_PRICE, ORDER_TYPE, ORDER_PRICE,
    MAKER, FEE, FEE_CURRENCY, CID]`` (bitfinex-api-py ``Trade``).  MAKER is 1 for maker, -1 for
    taker; ``fee`` and ``fee_currency`` are ``None`` on ``te`` and filled on ``tu``.
    """

    id: int
    symbol: str | None
    mts_create: int | None
    order_id: int | None
    exec_amount: Decimal | None
    exec_price: Decimal | None
    order_type: str | None
    order_price: Decimal | None
    maker: bool | None
    fee: Decimal | None
    fee_currency: str | None
    cid: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountFundingTrade:
    """A funding trade of the account (channel-0 ``fte``/``ftu``, ws-auth-funding-trades).

    Layout ``[ID, SYMBOL, MTS_CREATE, OFFER_ID, AMOUNT, RATE, PERIOD, MAKER]`` (bfx-api-node-models
    ``FundingTrade``).
    """

    id: int
    symbol: str | None
    mts_create: int | None
    offer_id: int | None
    amount: Decimal | None
    rate: Decimal | None
    period: int | None
    maker: bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingOffer:
    """A funding offer (``fos``/``fon``/``fou``/``foc``, ws-auth-offers).

    Layout ``[ID, SYMBOL, MTS_CREATE, MTS_UPDATE, AMOUNT, AMOUNT_ORIG, TYPE, _, _, FLAGS, STATUS, _,
    _, _, RATE, PERIOD, NOTIFY, HIDDEN, _, RENEW, ...]`` (bitfinex-api-py ``FundingOffer``).
    """

    id: int
    symbol: str | None
    mts_create: int | None
    mts_update: int | None
    amount: Decimal | None
    amount_orig: Decimal | None
    type: str | None
    flags: int | None
    status: str | None
    rate: Decimal | None
    period: int | None
    notify: bool | None
    hidden: bool | None
    renew: bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingCredit:
    """Funding used in a position (``fcs``/``fcn``/``fcu``/``fcc``, ws-auth-credits).

    Layout ``[ID, SYMBOL, SIDE, MTS_CREATE, MTS_UPDATE, AMOUNT, FLAGS, STATUS, RATE_TYPE, _, _, RATE,
    PERIOD, MTS_OPENING, MTS_LAST_PAYOUT, NOTIFY, HIDDEN, _, RENEW, _, NO_CLOSE, POSITION_PAIR]``
    (bitfinex-api-py ``FundingCredit``).  SIDE 1 lender, -1 borrower, 0 both.
    """

    id: int
    symbol: str | None
    side: int | None
    mts_create: int | None
    mts_update: int | None
    amount: Decimal | None
    flags: int | None
    status: str | None
    rate_type: str | None
    rate: Decimal | None
    period: int | None
    mts_opening: int | None
    mts_last_payout: int | None
    notify: bool | None
    hidden: bool | None
    renew: bool | None
    no_close: bool | None
    position_pair: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingLoan:
    """Funding not used in a position (``fls``/``fln``/``flu``/``flc``, ws-auth-loans).

    Same layout as :class:`FundingCredit` without POSITION_PAIR (bitfinex-api-py ``FundingLoan``).
    """

    id: int
    symbol: str | None
    side: int | None
    mts_create: int | None
    mts_update: int | None
    amount: Decimal | None
    flags: int | None
    status: str | None
    rate_type: str | None
    rate: Decimal | None
    period: int | None
    mts_opening: int | None
    mts_last_payout: int | None
    notify: bool | None
    hidden: bool | None
    renew: bool | None
    no_close: bool | None


# --------------------------------------------------------------------------------------------
# Public channel events.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingTicker(Event):
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
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingTicker(Event):
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
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TradesSnapshot(Event):
    """The recent trades sent once after subscribing (newest first, as the server sends them)."""

    trades: tuple[Trade, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeUpdate(Event):
    """A live trade: ``kind`` is ``"executed"`` for ``te`` (sent first, fastest) and ``"update"``
    for ``tu`` (the same trade once recorded).  Count a trade once: use one of the two kinds.
    """

    trade: Trade
    kind: TradeKind
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    ts_ms: int | None = None

    @property
    def executed(self) -> bool:
        """True for ``te`` frames."""
        return self.kind == "executed"


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingTradesSnapshot(Event):
    """The recent funding trades sent once after subscribing to an ``f`` symbol."""

    trades: tuple[FundingTrade, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingTradeUpdate(Event):
    """A live funding trade: ``fte`` (``kind="executed"``) then ``ftu`` (``kind="update"``)."""

    trade: FundingTrade
    kind: TradeKind
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    ts_ms: int | None = None

    @property
    def executed(self) -> bool:
        """True for ``fte`` frames."""
        return self.kind == "executed"


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSnapshot(Event):
    """The book sent after subscribing: bids first (best first), then asks (ws-public-books)."""

    entries: tuple[BookEntry, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BookUpdate(Event):
    """Book changes to apply in order.

    One entry per frame normally; with the ``BULK_UPDATES`` conf flag the server batches several
    changes in one frame (``bulk=True``), shaped like a snapshot.
    """

    entries: tuple[BookEntry, ...]
    bulk: bool = False
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingBookSnapshot(Event):
    """A funding book sent after subscribing (see :class:`FundingBookEntry` for sides)."""

    entries: tuple[FundingBookEntry, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingBookUpdate(Event):
    """Funding book changes (``bulk`` as in :class:`BookUpdate`)."""

    entries: tuple[FundingBookEntry, ...]
    bulk: bool = False
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RawBookSnapshot(Event):
    """A raw (R0) trading book sent after subscribing: one entry per order."""

    entries: tuple[RawBookEntry, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RawBookUpdate(Event):
    """Raw trading book changes (``bulk`` as in :class:`BookUpdate`)."""

    entries: tuple[RawBookEntry, ...]
    bulk: bool = False
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingRawBookSnapshot(Event):
    """A raw (R0) funding book sent after subscribing: one entry per offer."""

    entries: tuple[FundingRawBookEntry, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingRawBookUpdate(Event):
    """Raw funding book changes (``bulk`` as in :class:`BookUpdate`)."""

    entries: tuple[FundingRawBookEntry, ...]
    bulk: bool = False
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CandlesSnapshot(Event):
    """Recent candles sent after subscribing (newest first, as the server sends them)."""

    candles: tuple[Candle, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CandleUpdate(Event):
    """The current (or a just closed) candle; the same ``mts`` repeats while the candle is open."""

    candle: Candle
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DerivativesStatus(Event):
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
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Liquidations(Event):
    """Entries of the liquidation feed (status ``liq:global``); ``symbol`` is ``None``."""

    entries: tuple[Liquidation, ...]
    seq: int | None = None
    ts_ms: int | None = None


# --------------------------------------------------------------------------------------------
# Control events.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat(Event):
    """``[CHAN_ID, "hb"]``: the channel is alive (every 15 s per channel, also on channel 0)."""

    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Checksum(Event):
    """``[CHAN_ID, "cs", CHECKSUM]`` (OB_CHECKSUM flag): CRC32 of the top of the book, signed 32-bit."""

    checksum: int
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Info(Event):
    """``{"event":"info"}``: the greeting (``version``, ``server_id``, ``platform_status``, 1 = up,
    0 = maintenance) or a notice with a ``code`` (20051 restart, 20060/20061 maintenance).
    """

    version: int | None = None
    server_id: str | None = None
    platform_status: int | None = None
    code: int | None = None
    msg: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Conf(Event):
    """Reply to ``{"event":"conf","flags":N}``; ``ok`` when ``status`` is ``"OK"``."""

    flags: int | None
    ok: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribed(Event):
    """Reply to a subscribe request: the server's ``chan_id`` for this stream on this connection.

    ``stream`` is the canonical stream name the reply echoes; ``length`` is the echoed ``len``.
    """

    channel: str
    chan_id: int
    sub_id: str | None = None
    key: str | None = None
    prec: str | None = None
    freq: str | None = None
    length: int | None = None
    pair: str | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribed(Event):
    """Reply to an unsubscribe request; the connection maps ``chan_id`` back to its stream."""

    chan_id: int
    ok: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong(Event):
    """Reply to ``{"event":"ping","cid":N}``; ``ts_ms`` is the server time."""

    cid: int | None
    ts_ms: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthResult(Event):
    """Reply to ``auth``: ``ok`` with ``user_id`` and ``caps`` (permissions), or ``code``/``msg``."""

    ok: bool
    user_id: int | None = None
    auth_id: str | None = None
    caps: Any = field(default=None, compare=False)
    code: int | None = None
    msg: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorReply(Event):
    """``{"event":"error"}`` as an event; :func:`bpbfx.bitfinex.decode.error_from_event` turns it
    into the matching exception.
    """

    code: int | None
    msg: str | None
    channel: str | None = None


# --------------------------------------------------------------------------------------------
# Account (channel 0) events.  ``seq`` is the public sequence number and ``auth_seq`` the
# authenticated one (SEQ_ALL: ``[0, TYPE, DATA, PUB_SEQ, AUTH_SEQ]``).
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OrdersSnapshot(Event):
    """``os``: the open orders right after authentication."""

    orders: tuple[Order, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate(Event):
    """``on`` (``kind="new"``), ``ou`` (``"update"``), ``oc`` (``"cancel"``: cancelled or fully
    executed, see ``order.status``).
    """

    order: Order
    kind: OrderKind
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionsSnapshot(Event):
    """``ps``: the open positions right after authentication."""

    positions: tuple[Position, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionUpdate(Event):
    """``pn`` (``kind="new"``), ``pu`` (``"update"``), ``pc`` (``"close"``)."""

    position: Position
    kind: CloseKind
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletsSnapshot(Event):
    """``ws``: every wallet right after authentication."""

    wallets: tuple[Wallet, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletUpdate(Event):
    """``wu``: one wallet changed."""

    wallet: Wallet
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceUpdate(Event):
    """``bu``: ``[AUM, AUM_NET]``, total and net assets under management (ws-auth-balance;
    bfx-api-node-models ``BalanceInfo``).
    """

    aum: Decimal | None
    aum_net: Decimal | None
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountTradeUpdate(Event):
    """Channel-0 ``te`` (``kind="executed"``) and ``tu`` (``"update"``, with the fee)."""

    trade: AccountTrade
    kind: TradeKind
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None

    @property
    def executed(self) -> bool:
        """True for ``te`` frames."""
        return self.kind == "executed"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountFundingTradeUpdate(Event):
    """Channel-0 ``fte`` (``kind="executed"``) and ``ftu`` (``"update"``)."""

    trade: AccountFundingTrade
    kind: TradeKind
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None

    @property
    def executed(self) -> bool:
        """True for ``fte`` frames."""
        return self.kind == "executed"


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingOffersSnapshot(Event):
    """``fos``: the active funding offers right after authentication."""

    offers: tuple[FundingOffer, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingOfferUpdate(Event):
    """``fon`` (``kind="new"``), ``fou`` (``"update"``), ``foc`` (``"cancel"``)."""

    offer: FundingOffer
    kind: OrderKind
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingCreditsSnapshot(Event):
    """``fcs``: the active funding credits right after authentication."""

    credits: tuple[FundingCredit, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingCreditUpdate(Event):
    """``fcn`` (``kind="new"``), ``fcu`` (``"update"``), ``fcc`` (``"close"``)."""

    credit: FundingCredit
    kind: CloseKind
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingLoansSnapshot(Event):
    """``fls``: the active funding loans right after authentication."""

    loans: tuple[FundingLoan, ...]
    snapshot: bool = field(default=True, init=False)
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingLoanUpdate(Event):
    """``fln`` (``kind="new"``), ``flu`` (``"update"``), ``flc`` (``"close"``)."""

    loan: FundingLoan
    kind: CloseKind
    snapshot: bool = field(default=False, init=False)
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginBaseUpdate(Event):
    """``miu`` of type ``"base"``: ``[USER_PL, USER_SWAPS, MARGIN_BALANCE, MARGIN_NET, MARGIN_MIN]``
    (ws-auth-margin-info).
    """

    user_pl: Decimal | None
    user_swaps: Decimal | None
    margin_balance: Decimal | None
    margin_net: Decimal | None
    margin_min: Decimal | None
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginSymbolUpdate(Event):
    """``miu`` of type ``"sym"``: ``symbol`` and ``[TRADABLE_BALANCE, GROSS_BALANCE, BUY, SELL]``
    (ws-auth-margin-info).
    """

    tradable_balance: Decimal | None
    gross_balance: Decimal | None
    buy: Decimal | None
    sell: Decimal | None
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingInfoUpdate(Event):
    """``fiu``: ``["sym", SYMBOL, [YIELD_LOAN, YIELD_LEND, DURATION_LOAN, DURATION_LEND]]``
    (ws-auth-funding-info; bfx-api-node-models ``FundingInfo``).
    """

    yield_loan: Decimal | None
    yield_lend: Decimal | None
    duration_loan: Decimal | None
    duration_lend: Decimal | None
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification(Event):
    """``n``: the outcome of a request (``"on-req"``, ``"oc-req"``, ``"fon-req"``, ...) or a notice.

    Layout ``[MTS, TYPE, MESSAGE_ID, _, INFO, CODE, STATUS, TEXT]`` (bitfinex-api-py
    ``_Notification``).  ``status`` is ``"SUCCESS"``, ``"ERROR"``, ``"FAILURE"`` or ``"INFO"``;
    ``info`` is the payload as received; ``order`` / ``funding_offer`` are decoded from it for
    ``on-req``/``ou-req``/``oc-req`` and ``fon-req``/``foc-req``.
    """

    mts: int | None
    type: str | None
    message_id: int | None
    code: int | None
    status: str | None
    text: str | None
    info: Any = field(default=None, compare=False)
    order: Order | None = None
    funding_offer: FundingOffer | None = None
    seq: int | None = None
    auth_seq: int | None = None
    ts_ms: int | None = None

    @property
    def ok(self) -> bool:
        """True when ``status`` is ``"SUCCESS"``."""
        return self.status == "SUCCESS"
