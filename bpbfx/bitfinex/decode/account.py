"""Decode channel-0 frames ``[0, TYPE, DATA]`` of an authenticated connection.

Types (docs.bitfinex.com/docs/ws-auth and the ws-auth-* reference pages): snapshots ``os``,
``ps``, ``ws``, ``fos``, ``fcs``, ``fls`` right after authentication; updates ``on``/``ou``/``oc``
(orders), ``pn``/``pu``/``pc`` (positions), ``wu`` (wallets), ``bu`` (balance), ``te``/``tu``
(fills), ``fte``/``ftu`` (funding trades), ``fon``/``fou``/``foc`` (funding offers),
``fcn``/``fcu``/``fcc`` (credits), ``fln``/``flu``/``flc`` (loans), ``miu`` (margin info), ``fiu``
(funding info), ``n`` (notifications) and ``hb``.  Row field orders follow the official Python
client's serializers (bitfinexcom/bitfinex-api-py ``bfxapi/types/serializers.py``).

Events are built with :func:`bpbfx.events.positional_factory` in field order: the class's own
fields, then ``seq``, ``auth_seq`` and ``ts_ms``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ...events import Event, UnknownEvent, positional_factory
from ..events import (
    ACCOUNT_STREAM,
    AccountFundingTrade,
    AccountFundingTradeUpdate,
    AccountTrade,
    AccountTradeUpdate,
    BalanceUpdate,
    FundingCredit,
    FundingCreditsSnapshot,
    FundingCreditUpdate,
    FundingInfoUpdate,
    FundingLoan,
    FundingLoansSnapshot,
    FundingLoanUpdate,
    FundingOffer,
    FundingOffersSnapshot,
    FundingOfferUpdate,
    MarginBaseUpdate,
    MarginSymbolUpdate,
    Notification,
    Order,
    OrdersSnapshot,
    OrderUpdate,
    Position,
    PositionsSnapshot,
    PositionUpdate,
    TradeKind,
    Wallet,
    WalletsSnapshot,
    WalletUpdate,
)
from .control import heartbeat
from .values import _SHAPE_ERRORS, _int, _maker, _malformed, _obool, _odec, _oint, _ostr, _row, _rows

__all__ = ["decode_account"]

_new_funding_credit = positional_factory(FundingCredit)
_new_funding_loan = positional_factory(FundingLoan)
_new_balance = positional_factory(BalanceUpdate)
_new_margin_base = positional_factory(MarginBaseUpdate)
_new_margin_symbol = positional_factory(MarginSymbolUpdate)
_new_funding_info = positional_factory(FundingInfoUpdate)
_new_notification = positional_factory(Notification)

# --------------------------------------------------------------------------------------------
# Rows.
# --------------------------------------------------------------------------------------------


def _order(raw: Any) -> Order:
    r = _row(raw, 32)
    return Order(
        id=_int(r[0]),
        gid=_oint(r[1]),
        cid=_oint(r[2]),
        symbol=_ostr(r[3]),
        mts_create=_oint(r[4]),
        mts_update=_oint(r[5]),
        amount=_odec(r[6]),
        amount_orig=_odec(r[7]),
        type=_ostr(r[8]),
        type_prev=_ostr(r[9]),
        mts_tif=_oint(r[10]),
        flags=_oint(r[12]),
        status=_ostr(r[13]),
        price=_odec(r[16]),
        price_avg=_odec(r[17]),
        price_trailing=_odec(r[18]),
        price_aux_limit=_odec(r[19]),
        notify=_obool(r[23]),
        hidden=_obool(r[24]),
        placed_id=_oint(r[25]),
        routing=_ostr(r[28]),
        meta=r[31],
    )


def _position(raw: Any) -> Position:
    r = _row(raw, 20)
    return Position(
        symbol=_ostr(r[0]),
        status=_ostr(r[1]),
        amount=_odec(r[2]),
        base_price=_odec(r[3]),
        margin_funding=_odec(r[4]),
        margin_funding_type=_oint(r[5]),
        pl=_odec(r[6]),
        pl_perc=_odec(r[7]),
        price_liq=_odec(r[8]),
        leverage=_odec(r[9]),
        position_id=_oint(r[11]),
        mts_create=_oint(r[12]),
        mts_update=_oint(r[13]),
        type=_oint(r[15]),
        collateral=_odec(r[17]),
        collateral_min=_odec(r[18]),
        meta=r[19],
    )


def _wallet(raw: Any) -> Wallet:
    r = _row(raw, 7)
    return Wallet(
        wallet_type=_ostr(r[0]),
        currency=_ostr(r[1]),
        balance=_odec(r[2]),
        unsettled_interest=_odec(r[3]),
        available_balance=_odec(r[4]),
        last_change=_ostr(r[5]),
        trade_details=r[6],
    )


def _account_trade(raw: Any) -> AccountTrade:
    r = _row(raw, 12)
    return AccountTrade(
        id=_int(r[0]),
        symbol=_ostr(r[1]),
        mts_create=_oint(r[2]),
        order_id=_oint(r[3]),
        exec_amount=_odec(r[4]),
        exec_price=_odec(r[5]),
        order_type=_ostr(r[6]),
        order_price=_odec(r[7]),
        maker=_maker(r[8]),
        fee=_odec(r[9]),
        fee_currency=_ostr(r[10]),
        cid=_oint(r[11]),
    )


def _account_funding_trade(raw: Any) -> AccountFundingTrade:
    r = _row(raw, 8)
    return AccountFundingTrade(
        id=_int(r[0]),
        symbol=_ostr(r[1]),
        mts_create=_oint(r[2]),
        offer_id=_oint(r[3]),
        amount=_odec(r[4]),
        rate=_odec(r[5]),
        period=_oint(r[6]),
        maker=_maker(r[7]),
    )


def _funding_offer(raw: Any) -> FundingOffer:
    r = _row(raw, 20)
    return FundingOffer(
        id=_int(r[0]),
        symbol=_ostr(r[1]),
        mts_create=_oint(r[2]),
        mts_update=_oint(r[3]),
        amount=_odec(r[4]),
        amount_orig=_odec(r[5]),
        type=_ostr(r[6]),
        flags=_oint(r[9]),
        status=_ostr(r[10]),
        rate=_odec(r[14]),
        period=_oint(r[15]),
        notify=_obool(r[16]),
        hidden=_obool(r[17]),
        renew=_obool(r[19]),
    )


def _contract_fields(r: list[Any]) -> list[Any]:
    """The :class:`~bpbfx.bitfinex.events.FundingContract` fields of a credit or loan row, in
    field order: ``[ID, SYMBOL, SIDE, MTS_CREATE, MTS_UPDATE, AMOUNT, FLAGS, STATUS, RATE_TYPE, _,
    _, RATE, PERIOD, MTS_OPENING, MTS_LAST_PAYOUT, NOTIFY, HIDDEN, _, RENEW, _, NO_CLOSE]``."""
    return [
        _int(r[0]),
        _ostr(r[1]),
        _oint(r[2]),
        _oint(r[3]),
        _oint(r[4]),
        _odec(r[5]),
        _oint(r[6]),
        _ostr(r[7]),
        _ostr(r[8]),
        _odec(r[11]),
        _oint(r[12]),
        _oint(r[13]),
        _oint(r[14]),
        _obool(r[15]),
        _obool(r[16]),
        _obool(r[18]),
        _obool(r[20]),
    ]


def _funding_credit(raw: Any) -> FundingCredit:
    r = _row(raw, 22)  # the contract fields, then POSITION_PAIR
    return _new_funding_credit(*_contract_fields(r), _ostr(r[21]))


def _funding_loan(raw: Any) -> FundingLoan:
    return _new_funding_loan(*_contract_fields(_row(raw, 21)))


# --------------------------------------------------------------------------------------------
# Decoders: (msg_type, payload, seq, auth_seq, ts_ms) -> Event.
# --------------------------------------------------------------------------------------------

_AccountDecoder = Callable[[str, Any, int | None, int | None, int | None], Event]


def _snapshot_decoder(row: Callable[[Any], Any], cls: type[Event]) -> _AccountDecoder:
    """``os``, ``ps``, ``ws``, ...: every row of DATA; the event's one field is their tuple."""
    new = positional_factory(cls)  # (stream, symbol, data, rows, seq, auth_seq, ts_ms)

    def decode(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
        return new(ACCOUNT_STREAM, None, payload, tuple([row(item) for item in _rows(payload)]), seq, auth_seq, ts_ms)

    return decode


def _update_decoder(row: Callable[[Any], Any], cls: type[Event], kinds: Mapping[str, str] | None) -> _AccountDecoder:
    """``on``, ``wu``, ``te``, ...: DATA is one row; ``kinds`` maps TYPE to the event's ``kind``
    (``None``: the class has no ``kind``).  The event's symbol is the row's, if it has one."""
    new = positional_factory(cls)  # (stream, symbol, data, row, [kind,] seq, auth_seq, ts_ms)

    def decode(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
        item = row(payload)
        symbol = getattr(item, "symbol", None)
        if kinds is None:
            return new(ACCOUNT_STREAM, symbol, payload, item, seq, auth_seq, ts_ms)
        return new(ACCOUNT_STREAM, symbol, payload, item, kinds[msg_type], seq, auth_seq, ts_ms)

    return decode


def _balance(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
    r = _row(payload, 2)  # [AUM, AUM_NET] (ws-auth-balance)
    return _new_balance(ACCOUNT_STREAM, None, payload, _odec(r[0]), _odec(r[1]), seq, auth_seq, ts_ms)


def _margin_info(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
    # ws-auth-margin-info: ["base", [USER_PL, USER_SWAPS, MARGIN_BALANCE, MARGIN_NET, MARGIN_MIN]]
    # or ["sym", SYMBOL, [TRADABLE_BALANCE, GROSS_BALANCE, BUY, SELL, ...]].
    r = _row(payload, 3)
    if r[0] == "base":
        v = _row(r[1], 5)
        values = [_odec(value) for value in v[:5]]
        return _new_margin_base(ACCOUNT_STREAM, None, payload, *values, seq, auth_seq, ts_ms)
    if r[0] == "sym":
        v = _row(r[2], 4)
        symbol = _ostr(r[1])
        values = [_odec(value) for value in v[:4]]
        return _new_margin_symbol(ACCOUNT_STREAM, symbol, payload, *values, seq, auth_seq, ts_ms)
    return UnknownEvent(stream=ACCOUNT_STREAM, symbol=None, data=[msg_type, payload])


def _funding_info(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
    # ws-auth-funding-info: ["sym", SYMBOL, [YIELD_LOAN, YIELD_LEND, DURATION_LOAN, DURATION_LEND]].
    r = _row(payload, 3)
    v = _row(r[2], 4)
    symbol = _ostr(r[1])
    values = [_odec(value) for value in v[:4]]
    return _new_funding_info(ACCOUNT_STREAM, symbol, payload, *values, seq, auth_seq, ts_ms)


_ORDER_REQUESTS: Final = frozenset({"on-req", "ou-req", "oc-req"})
_OFFER_REQUESTS: Final = frozenset({"fon-req", "foc-req"})


def _notification(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
    # [MTS, TYPE, MESSAGE_ID, _, INFO, CODE, STATUS, TEXT] (bitfinex-api-py _Notification).
    r = _row(payload, 8)
    ntype = _ostr(r[1])
    info = r[4]
    order = offer = None
    if info.__class__ is list and info:
        # The order / offer array, sometimes wrapped in one more array.
        target = info[0] if len(info) == 1 and info[0].__class__ is list else info
        if target and target[0].__class__ is int:
            if ntype in _ORDER_REQUESTS:
                order = _order(target)
            elif ntype in _OFFER_REQUESTS:
                offer = _funding_offer(target)
    symbol = order.symbol if order is not None else offer.symbol if offer is not None else None
    return _new_notification(
        ACCOUNT_STREAM,
        symbol,
        payload,
        _oint(r[0]),  # mts
        ntype,
        _oint(r[2]),  # message_id
        _oint(r[5]),  # code
        _ostr(r[6]),  # status
        _ostr(r[7]),  # text
        info,
        order,
        offer,
        seq,
        auth_seq,
        ts_ms,
    )


def _account_heartbeat(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
    return heartbeat(ACCOUNT_STREAM, None, seq, ts_ms)


_ORDER_KINDS: Final = {"on": "new", "ou": "update", "oc": "cancel"}
_POSITION_KINDS: Final = {"pn": "new", "pu": "update", "pc": "close"}
_OFFER_KINDS: Final = {"fon": "new", "fou": "update", "foc": "cancel"}
_CREDIT_KINDS: Final = {"fcn": "new", "fcu": "update", "fcc": "close"}
_LOAN_KINDS: Final = {"fln": "new", "flu": "update", "flc": "close"}
_TRADE_KINDS: Final[dict[str, TradeKind]] = {"te": "executed", "tu": "update"}
_FUNDING_TRADE_KINDS: Final[dict[str, TradeKind]] = {"fte": "executed", "ftu": "update"}


def _account_table() -> dict[str, _AccountDecoder]:
    table: dict[str, _AccountDecoder] = {
        "os": _snapshot_decoder(_order, OrdersSnapshot),
        "ps": _snapshot_decoder(_position, PositionsSnapshot),
        "ws": _snapshot_decoder(_wallet, WalletsSnapshot),
        "fos": _snapshot_decoder(_funding_offer, FundingOffersSnapshot),
        "fcs": _snapshot_decoder(_funding_credit, FundingCreditsSnapshot),
        "fls": _snapshot_decoder(_funding_loan, FundingLoansSnapshot),
        "wu": _update_decoder(_wallet, WalletUpdate, None),
        "bu": _balance,
        "miu": _margin_info,
        "fiu": _funding_info,
        "n": _notification,
        "hb": _account_heartbeat,
    }
    for kinds, row, cls in (
        (_ORDER_KINDS, _order, OrderUpdate),
        (_POSITION_KINDS, _position, PositionUpdate),
        (_OFFER_KINDS, _funding_offer, FundingOfferUpdate),
        (_CREDIT_KINDS, _funding_credit, FundingCreditUpdate),
        (_LOAN_KINDS, _funding_loan, FundingLoanUpdate),
        (_TRADE_KINDS, _account_trade, AccountTradeUpdate),
        # Funding trades on channel 0 use their own row layout.
        (_FUNDING_TRADE_KINDS, _account_funding_trade, AccountFundingTradeUpdate),
    ):
        decoder = _update_decoder(row, cls, kinds)
        for msg_type in kinds:
            table[msg_type] = decoder
    return table


_ACCOUNT_DECODERS: Final = _account_table()


def decode_account(
    msg_type: str,
    payload: Any,
    *,
    seq: int | None = None,
    ts_ms: int | None = None,
    auth_seq: int | None = None,
) -> Event:
    """Decode one channel-0 frame ``[0, TYPE, DATA]`` of an authenticated connection.

    Args:
        msg_type: TYPE (``"os"``, ``"on"``, ``"wu"``, ``"te"``, ``"n"``, ``"hb"``, ...).
        payload: DATA as decoded from JSON.
        seq: the public SEQ_ALL number (``PUB_SEQ``), when present.
        ts_ms: the TIMESTAMP time, when present.
        auth_seq: the authenticated sequence number (``AUTH_SEQ``), when present.

    Returns the event (stream ``"account"``); types this version does not know give
    :class:`~bpbfx.events.UnknownEvent`.  Runs on the caller's thread, keeps no state.

    Raises:
        MalformedFrameError: DATA does not have the shape documented for TYPE.
    """
    decoder = _ACCOUNT_DECODERS.get(msg_type)
    if decoder is None:
        return UnknownEvent(stream=ACCOUNT_STREAM, symbol=None, data=[msg_type, payload])
    try:
        return decoder(msg_type, payload, seq, auth_seq, ts_ms)
    except _SHAPE_ERRORS as exc:
        raise _malformed(ACCOUNT_STREAM, f"{msg_type!r} frame", payload, exc) from exc
