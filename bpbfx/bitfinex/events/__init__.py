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

Modules: :mod:`~bpbfx.bitfinex.events.base` (the stream names and the bases that carry ``seq``,
``auth_seq``, ``ts_ms`` and ``snapshot``), :mod:`~bpbfx.bitfinex.events.rows` and
:mod:`~bpbfx.bitfinex.events.account_rows` (the values inside events: trades, book entries,
orders, wallets, ...), :mod:`~bpbfx.bitfinex.events.public` (public channel events),
:mod:`~bpbfx.bitfinex.events.account` (channel-0 events) and
:mod:`~bpbfx.bitfinex.events.control` (heartbeats, checksums, replies and notices).
"""

from __future__ import annotations

from .account import (
    AccountFundingTradeUpdate,
    AccountTradeUpdate,
    BalanceUpdate,
    FundingCreditsSnapshot,
    FundingCreditUpdate,
    FundingInfoUpdate,
    FundingLoansSnapshot,
    FundingLoanUpdate,
    FundingOffersSnapshot,
    FundingOfferUpdate,
    MarginBaseUpdate,
    MarginSymbolUpdate,
    Notification,
    OrdersSnapshot,
    OrderUpdate,
    PositionsSnapshot,
    PositionUpdate,
    WalletsSnapshot,
    WalletUpdate,
)
from .account_rows import (
    AccountFundingTrade,
    AccountTrade,
    FundingContract,
    FundingCredit,
    FundingLoan,
    FundingOffer,
    Order,
    Position,
    Wallet,
)
from .base import (
    ACCOUNT_STREAM,
    CONNECTION_STREAM,
    AccountEvent,
    AccountSnapshot,
    AccountUpdate,
    ChannelEvent,
    ChannelSnapshot,
    ChannelUpdate,
)
from .base import (
    CloseKind as CloseKind,
)
from .base import (
    EntrySide as EntrySide,
)
from .base import (
    OrderKind as OrderKind,
)
from .base import (
    TradeKind as TradeKind,
)
from .control import (
    AuthResult,
    Checksum,
    Conf,
    ErrorReply,
    Heartbeat,
    Info,
    Pong,
    Subscribed,
    Unsubscribed,
)
from .public import (
    BookSnapshot,
    BookUpdate,
    CandlesSnapshot,
    CandleUpdate,
    DerivativesStatus,
    FundingBookSnapshot,
    FundingBookUpdate,
    FundingRawBookSnapshot,
    FundingRawBookUpdate,
    FundingTicker,
    FundingTradesSnapshot,
    FundingTradeUpdate,
    Liquidations,
    RawBookSnapshot,
    RawBookUpdate,
    TradesSnapshot,
    TradeUpdate,
    TradingTicker,
)
from .rows import (
    BookEntry,
    Candle,
    FundingBookEntry,
    FundingRawBookEntry,
    FundingTrade,
    Liquidation,
    RawBookEntry,
    TradeEntry,
    new_book_entry,
)
from .rows import (
    _slot_setter as _slot_setter,
)

__all__ = [
    "ACCOUNT_STREAM",
    "CONNECTION_STREAM",
    "AccountEvent",
    "AccountFundingTrade",
    "AccountFundingTradeUpdate",
    "AccountSnapshot",
    "AccountTrade",
    "AccountTradeUpdate",
    "AccountUpdate",
    "AuthResult",
    "BalanceUpdate",
    "BookEntry",
    "BookSnapshot",
    "BookUpdate",
    "Candle",
    "CandleUpdate",
    "CandlesSnapshot",
    "ChannelEvent",
    "ChannelSnapshot",
    "ChannelUpdate",
    "Checksum",
    "Conf",
    "DerivativesStatus",
    "ErrorReply",
    "FundingBookEntry",
    "FundingBookSnapshot",
    "FundingBookUpdate",
    "FundingContract",
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
    "TradeEntry",
    "TradeUpdate",
    "TradesSnapshot",
    "TradingTicker",
    "Unsubscribed",
    "Wallet",
    "WalletUpdate",
    "WalletsSnapshot",
    "new_book_entry",
]

# Names of earlier releases, each of which said two things in the package.
_RENAMED = {"Trade": "TradeEntry", "Side": "EntrySide"}


def __getattr__(name: str) -> object:
    new = _RENAMED.get(name)
    if new is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import warnings

    warnings.warn(f"{__name__}.{name} is now {__name__}.{new}", DeprecationWarning, stacklevel=2)
    return globals()[new]
