"""Rows of the account (channel 0): orders, positions, wallets, fills and funding.

Not events themselves: frozen, slotted, keyword-only dataclasses without ``stream``.  Field
orders follow the official reference pages (docs.bitfinex.com/reference/ws-auth-orders,
ws-auth-positions, ws-auth-wallets, ws-auth-trades, ws-auth-offers, ws-auth-credits,
ws-auth-loans) and the official Python client's serializers (bitfinexcom/bitfinex-api-py
``bfxapi/types/serializers.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "AccountFundingTrade",
    "AccountTrade",
    "FundingContract",
    "FundingCredit",
    "FundingLoan",
    "FundingOffer",
    "Order",
    "Position",
    "Wallet",
]


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
class FundingContract:
    """Base of :class:`FundingCredit` and :class:`FundingLoan`: funding the account took or gave.

    Layout ``[ID, SYMBOL, SIDE, MTS_CREATE, MTS_UPDATE, AMOUNT, FLAGS, STATUS, RATE_TYPE, _, _, RATE,
    PERIOD, MTS_OPENING, MTS_LAST_PAYOUT, NOTIFY, HIDDEN, _, RENEW, _, NO_CLOSE]`` (ws-auth-credits,
    ws-auth-loans; bitfinex-api-py ``FundingCredit``, ``FundingLoan``).  SIDE 1 lender, -1
    borrower, 0 both.
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


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingCredit(FundingContract):
    """Funding used in a position (``fcs``/``fcn``/``fcu``/``fcc``, ws-auth-credits): the
    :class:`FundingContract` layout followed by POSITION_PAIR (bitfinex-api-py ``FundingCredit``).
    """

    position_pair: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingLoan(FundingContract):
    """Funding not used in a position (``fls``/``fln``/``flu``/``flc``, ws-auth-loans): the
    :class:`FundingContract` layout (bitfinex-api-py ``FundingLoan``).
    """
