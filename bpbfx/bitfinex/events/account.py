"""Account (channel 0) events, sent after ``auth``: snapshots, updates, fills and notifications.

Each has stream ``"account"`` and carries ``seq`` (the public sequence number), ``auth_seq`` (the
authenticated one) and ``ts_ms`` after its own fields
(:class:`~bpbfx.bitfinex.events.base.AccountEvent`; ``SEQ_ALL``: ``[0, TYPE, DATA, PUB_SEQ,
AUTH_SEQ]``, docs.bitfinex.com/docs/ws-auth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .account_rows import (
    AccountFundingTrade,
    AccountTrade,
    FundingCredit,
    FundingLoan,
    FundingOffer,
    Order,
    Position,
    Wallet,
)
from .base import AccountEvent, AccountSnapshot, AccountUpdate, CloseKind, OrderKind, TradeKind

__all__ = [
    "AccountFundingTradeUpdate",
    "AccountTradeUpdate",
    "BalanceUpdate",
    "FundingCreditUpdate",
    "FundingCreditsSnapshot",
    "FundingInfoUpdate",
    "FundingLoanUpdate",
    "FundingLoansSnapshot",
    "FundingOfferUpdate",
    "FundingOffersSnapshot",
    "MarginBaseUpdate",
    "MarginSymbolUpdate",
    "Notification",
    "OrderUpdate",
    "OrdersSnapshot",
    "PositionUpdate",
    "PositionsSnapshot",
    "WalletUpdate",
    "WalletsSnapshot",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrdersSnapshot(AccountSnapshot):
    """``os``: the open orders right after authentication."""

    orders: tuple[Order, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate(AccountUpdate):
    """``on`` (``kind="new"``), ``ou`` (``"update"``), ``oc`` (``"cancel"``: cancelled or fully
    executed, see ``order.status``).
    """

    order: Order
    kind: OrderKind


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionsSnapshot(AccountSnapshot):
    """``ps``: the open positions right after authentication."""

    positions: tuple[Position, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionUpdate(AccountUpdate):
    """``pn`` (``kind="new"``), ``pu`` (``"update"``), ``pc`` (``"close"``)."""

    position: Position
    kind: CloseKind


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletsSnapshot(AccountSnapshot):
    """``ws``: every wallet right after authentication."""

    wallets: tuple[Wallet, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletUpdate(AccountUpdate):
    """``wu``: one wallet changed."""

    wallet: Wallet


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceUpdate(AccountEvent):
    """``bu``: ``[AUM, AUM_NET]``, total and net assets under management (ws-auth-balance;
    bfx-api-node-models ``BalanceInfo``).
    """

    aum: Decimal | None
    aum_net: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountTradeUpdate(AccountEvent):
    """Channel-0 ``te`` (``kind="executed"``) and ``tu`` (``"update"``, with the fee)."""

    trade: AccountTrade
    kind: TradeKind

    @property
    def executed(self) -> bool:
        """True for ``te`` frames."""
        return self.kind == "executed"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountFundingTradeUpdate(AccountEvent):
    """Channel-0 ``fte`` (``kind="executed"``) and ``ftu`` (``"update"``)."""

    trade: AccountFundingTrade
    kind: TradeKind

    @property
    def executed(self) -> bool:
        """True for ``fte`` frames."""
        return self.kind == "executed"


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingOffersSnapshot(AccountSnapshot):
    """``fos``: the active funding offers right after authentication."""

    offers: tuple[FundingOffer, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingOfferUpdate(AccountUpdate):
    """``fon`` (``kind="new"``), ``fou`` (``"update"``), ``foc`` (``"cancel"``)."""

    offer: FundingOffer
    kind: OrderKind


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingCreditsSnapshot(AccountSnapshot):
    """``fcs``: the active funding credits right after authentication."""

    credits: tuple[FundingCredit, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingCreditUpdate(AccountUpdate):
    """``fcn`` (``kind="new"``), ``fcu`` (``"update"``), ``fcc`` (``"close"``)."""

    credit: FundingCredit
    kind: CloseKind


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingLoansSnapshot(AccountSnapshot):
    """``fls``: the active funding loans right after authentication."""

    loans: tuple[FundingLoan, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingLoanUpdate(AccountUpdate):
    """``fln`` (``kind="new"``), ``flu`` (``"update"``), ``flc`` (``"close"``)."""

    loan: FundingLoan
    kind: CloseKind


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginBaseUpdate(AccountEvent):
    """``miu`` of type ``"base"``: ``[USER_PL, USER_SWAPS, MARGIN_BALANCE, MARGIN_NET, MARGIN_MIN]``
    (ws-auth-margin-info).
    """

    user_pl: Decimal | None
    user_swaps: Decimal | None
    margin_balance: Decimal | None
    margin_net: Decimal | None
    margin_min: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginSymbolUpdate(AccountEvent):
    """``miu`` of type ``"sym"``: ``symbol`` and ``[TRADABLE_BALANCE, GROSS_BALANCE, BUY, SELL]``
    (ws-auth-margin-info).
    """

    tradable_balance: Decimal | None
    gross_balance: Decimal | None
    buy: Decimal | None
    sell: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingInfoUpdate(AccountEvent):
    """``fiu``: ``["sym", SYMBOL, [YIELD_LOAN, YIELD_LEND, DURATION_LOAN, DURATION_LEND]]``
    (ws-auth-funding-info; bfx-api-node-models ``FundingInfo``).
    """

    yield_loan: Decimal | None
    yield_lend: Decimal | None
    duration_loan: Decimal | None
    duration_lend: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification(AccountEvent):
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

    @property
    def ok(self) -> bool:
        """True when ``status`` is ``"SUCCESS"``."""
        return self.status == "SUCCESS"
