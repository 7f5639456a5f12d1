"""Turn decoded Bitfinex WebSocket v2 frames into events; pure functions, no I/O.

Frames are expected to be decoded with ``json.JSONDecoder(parse_float=str)``: integers arrive as
``int`` and every other number as the ``str`` of its exact text (``"1.14244423"``, ``"7e-7"``),
which :class:`~decimal.Decimal` takes without rounding.  (A ``float`` is still accepted and goes
through its shortest ``repr``.)

The connection strips the envelope before calling in here:

- ``[CHAN_ID, DATA]`` -> ``decode_channel(sub, None, DATA, first=...)``
- ``[CHAN_ID, TYPE, DATA]`` (``te``, ``tu``, ``fte``, ``ftu``, ``cs``, ``hb``) ->
  ``decode_channel(sub, TYPE, DATA, first=...)``
- ``[0, TYPE, DATA]`` after ``auth`` -> ``decode_account(TYPE, DATA)``
- ``{"event": ...}`` -> :func:`decode_event`, and ``error`` events -> :func:`error_from_event`

with the ``SEQ_ALL`` sequence number(s) and the ``TIMESTAMP`` time already removed from the end
of the array and passed as ``seq`` / ``ts_ms``.

Frames of a known channel with a shape these functions cannot read raise
:class:`~bpbfx.exceptions.MalformedFrameError`; message types and events this version does not
know become :class:`bpbfx.events.UnknownEvent` (never dropped).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

from ..events import Event, UnknownEvent, positional_factory
from ..exceptions import (
    AuthenticationError,
    ExchangeError,
    InvalidStreamError,
    MalformedFrameError,
    RateLimitError,
    SubscriptionError,
)
from . import channels as ch
from .events import (
    ACCOUNT_STREAM,
    CONNECTION_STREAM,
    AccountFundingTrade,
    AccountFundingTradeUpdate,
    AccountTrade,
    AccountTradeUpdate,
    AuthResult,
    BalanceUpdate,
    BookEntry,
    BookSnapshot,
    BookUpdate,
    Candle,
    CandlesSnapshot,
    CandleUpdate,
    Checksum,
    Conf,
    DerivativesStatus,
    ErrorReply,
    FundingBookEntry,
    FundingBookSnapshot,
    FundingBookUpdate,
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
    FundingRawBookEntry,
    FundingRawBookSnapshot,
    FundingRawBookUpdate,
    FundingTicker,
    FundingTrade,
    FundingTradesSnapshot,
    FundingTradeUpdate,
    Heartbeat,
    Info,
    Liquidation,
    Liquidations,
    MarginBaseUpdate,
    MarginSymbolUpdate,
    Notification,
    Order,
    OrdersSnapshot,
    OrderUpdate,
    Pong,
    Position,
    PositionsSnapshot,
    PositionUpdate,
    RawBookEntry,
    RawBookSnapshot,
    RawBookUpdate,
    Subscribed,
    Trade,
    TradeKind,
    TradesSnapshot,
    TradeUpdate,
    TradingTicker,
    Unsubscribed,
    Wallet,
    WalletsSnapshot,
    WalletUpdate,
    new_book_entry,
)

__all__ = ["checksum", "decode_account", "decode_channel", "decode_event", "error_from_event", "heartbeat"]

_FRAME_PREFIX: Final = 200
# Exceptions a decoder raises on a payload of the wrong shape; they become MalformedFrameError.
_SHAPE_ERRORS: Final = (TypeError, ValueError, IndexError, KeyError, ArithmeticError, AttributeError)


# --------------------------------------------------------------------------------------------
# Number and row helpers.  Rows are padded once so that absent trailing fields read as None
# (Bitfinex ws-general: "New fields may be appended at the end of a message").
# --------------------------------------------------------------------------------------------


def _dec(value: Any) -> Decimal:
    """Required number -> Decimal (exact from int or number text); None raises TypeError.

    A value that is not a finite number (``"NaN"``, ``"Infinity"``, ``"sNaN"``) raises
    ValueError: it never reaches an event or a book as if it were a price."""
    if value.__class__ is float:
        number = Decimal(repr(value))
    elif value.__class__ is bool:
        raise TypeError("boolean where a number was expected")
    else:
        number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _odec(value: Any) -> Decimal | None:
    return None if value is None else _dec(value)


def _int(value: Any) -> int:
    """Required integer (id, time, count); integral number text is accepted, anything else raises."""
    if value.__class__ is int:
        return int(value)
    if value is None or value.__class__ is bool:
        raise TypeError(f"expected an integer, got {value!r}")
    number = _dec(value)
    if number != number.to_integral_value():
        raise ValueError(f"expected an integer, got {value!r}")
    return int(number)


def _oint(value: Any) -> int | None:
    return None if value is None else _int(value)


def _ostr(value: Any) -> str | None:
    if value is None or value.__class__ is str:
        return value
    raise TypeError(f"expected a string, got {value!r}")


def _obool(value: Any) -> bool | None:
    """0/1 flags (NOTIFY, HIDDEN, RENEW, ...) -> bool."""
    return None if value is None else bool(value)


def _maker(value: Any) -> bool | None:
    """MAKER: 1 maker, -1 (or 0) taker (ws-auth-trades)."""
    return None if value is None else value == 1


def _row(value: Any, size: int) -> list[Any]:
    """The array ``value`` padded with None to at least ``size`` fields."""
    if value.__class__ is not list:
        raise TypeError(f"expected a JSON array, got {type(value).__name__}")
    if len(value) < size:
        return [*value, *([None] * (size - len(value)))]
    return value


def _rows(value: Any) -> list[Any]:
    if value.__class__ is not list:
        raise TypeError(f"expected a JSON array of arrays, got {type(value).__name__}")
    return value


def _text(payload: Any) -> str:
    try:
        text = json.dumps(payload, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):
        text = f"<{type(payload).__name__}>"
    return text[:_FRAME_PREFIX]


def _malformed(stream: str, what: str, payload: Any, exc: BaseException) -> MalformedFrameError:
    frame = _text(payload)
    return MalformedFrameError(f"{stream}: cannot decode {what}: {exc}; payload: {frame}", frame=frame, stream=stream)


# --------------------------------------------------------------------------------------------
# Public channel rows.
# --------------------------------------------------------------------------------------------


_new_trade = positional_factory(Trade)  # Trade(...) without the frozen __setattr__ per field
_new_trade_update = positional_factory(TradeUpdate)


def _trade(raw: Any) -> Trade:
    r = _row(raw, 4)
    return _new_trade(_int(r[0]), _int(r[1]), _dec(r[2]), _dec(r[3]))


def _funding_trade(raw: Any) -> FundingTrade:
    r = _row(raw, 5)
    return FundingTrade(id=_int(r[0]), mts=_int(r[1]), amount=_dec(r[2]), rate=_dec(r[3]), period=_int(r[4]))


# Book numbers by their wire token (JSON integer or the raw text of a JSON number).  A book
# repeats the same prices and amounts frame after frame, so most entries cost dict look-ups
# instead of ``Decimal`` conversions.  Only tokens that passed _dec are kept, and the cache is
# emptied at _CACHE_MAX entries, so memory stays bounded whatever the stream sends.
_BOOK_NUMS: dict[Any, Decimal] = {}
_CACHE_MAX = 20_000


def _book_dec(value: Any) -> Decimal:
    """:func:`_dec`, cached for text and integer tokens (never for bool, which equals 0/1)."""
    cls = value.__class__
    if cls is str or cls is int:
        number = _BOOK_NUMS.get(value)
        if number is None:
            number = _dec(value)
            if len(_BOOK_NUMS) >= _CACHE_MAX:
                _BOOK_NUMS.clear()
            _BOOK_NUMS[value] = number
        return number
    return _dec(value)


def _book_entry(raw: Any) -> BookEntry:
    if raw.__class__ is list and len(raw) >= 3:
        count = raw[1]
        return new_book_entry(_book_dec(raw[0]), count if count.__class__ is int else _int(count), _book_dec(raw[2]))
    r = _row(raw, 3)
    return new_book_entry(_book_dec(r[0]), _int(r[1]), _book_dec(r[2]))


def _funding_book_entry(raw: Any) -> FundingBookEntry:
    r = _row(raw, 4)
    return FundingBookEntry(rate=_dec(r[0]), period=_int(r[1]), count=_int(r[2]), amount=_dec(r[3]))


def _raw_book_entry(raw: Any) -> RawBookEntry:
    r = _row(raw, 3)
    return RawBookEntry(order_id=_int(r[0]), price=_dec(r[1]), amount=_dec(r[2]))


def _funding_raw_book_entry(raw: Any) -> FundingRawBookEntry:
    r = _row(raw, 4)
    return FundingRawBookEntry(offer_id=_int(r[0]), period=_int(r[1]), rate=_dec(r[2]), amount=_dec(r[3]))


def _candle(raw: Any) -> Candle:
    # Bitfinex ws-public-candles: [MTS, OPEN, CLOSE, HIGH, LOW, VOLUME] -- CLOSE before HIGH.
    r = _row(raw, 6)
    return Candle(mts=_int(r[0]), open=_dec(r[1]), close=_dec(r[2]), high=_dec(r[3]), low=_dec(r[4]), volume=_dec(r[5]))


def _liquidation(raw: Any) -> Liquidation:
    # ["pos", POS_ID, MTS, _, SYMBOL, AMOUNT, BASE_PRICE, _, IS_MATCH, IS_MARKET_SOLD, _, PRICE_ACQUIRED]
    r = _row(raw, 12)
    return Liquidation(
        pos_id=_int(r[1]),
        mts=_oint(r[2]),
        symbol=_ostr(r[4]),
        amount=_odec(r[5]),
        base_price=_odec(r[6]),
        is_match=_obool(r[8]),
        is_market_sold=_obool(r[9]),
        price_acquired=_odec(r[11]),
    )


def heartbeat(stream: str, symbol: str | None, seq: int | None = None, ts_ms: int | None = None) -> Heartbeat:
    """The event for ``[CHAN_ID, "hb"]`` on ``stream`` (channel 0: stream ``"account"``).  Raises nothing."""
    return Heartbeat(stream=stream, symbol=symbol, data=None, seq=seq, ts_ms=ts_ms)


def checksum(
    stream: str, symbol: str | None, payload: Any, seq: int | None = None, ts_ms: int | None = None
) -> Checksum:
    """The event for ``[CHAN_ID, "cs", CHECKSUM]`` (OB_CHECKSUM flag; a signed 32-bit CRC32).

    Raises:
        MalformedFrameError: CHECKSUM is not an integer.
    """
    try:
        value = _int(payload)
    except _SHAPE_ERRORS as exc:
        raise _malformed(stream, "'cs' frame", payload, exc) from exc
    return Checksum(stream=stream, symbol=symbol, data=payload, checksum=value, seq=seq, ts_ms=ts_ms)


# --------------------------------------------------------------------------------------------
# Public channel decoders, one per Subscription kind: (sub, payload, first, seq, ts_ms) -> Event.
# --------------------------------------------------------------------------------------------

_Decoder = Callable[[ch.Subscription, Any, bool, int | None, int | None], Event]


def _is_list_of_lists(payload: list[Any]) -> bool:
    return bool(payload) and payload[0].__class__ is list


def _ticker(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    r = _row(payload, 10)
    return TradingTicker(
        stream=sub._stream,
        symbol=sub._market,
        data=payload,
        bid=_odec(r[0]),
        bid_size=_odec(r[1]),
        ask=_odec(r[2]),
        ask_size=_odec(r[3]),
        daily_change=_odec(r[4]),
        daily_change_relative=_odec(r[5]),
        last_price=_odec(r[6]),
        volume=_odec(r[7]),
        high=_odec(r[8]),
        low=_odec(r[9]),
        seq=seq,
        ts_ms=ts_ms,
    )


def _funding_ticker(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    r = _row(payload, 16)
    return FundingTicker(
        stream=sub._stream,
        symbol=sub._market,
        data=payload,
        frr=_odec(r[0]),
        bid=_odec(r[1]),
        bid_period=_oint(r[2]),
        bid_size=_odec(r[3]),
        ask=_odec(r[4]),
        ask_period=_oint(r[5]),
        ask_size=_odec(r[6]),
        daily_change=_odec(r[7]),
        daily_change_relative=_odec(r[8]),
        last_price=_odec(r[9]),
        volume=_odec(r[10]),
        high=_odec(r[11]),
        low=_odec(r[12]),
        frr_amount_available=_odec(r[15]),
        seq=seq,
        ts_ms=ts_ms,
    )


def _trades(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    # Bitfinex ws-public-trades: the snapshot is the only [CHAN, DATA] frame; updates are typed.
    return TradesSnapshot(
        stream=sub._stream,
        symbol=sub._market,
        data=payload,
        trades=tuple([_trade(t) for t in _rows(payload)]),
        seq=seq,
        ts_ms=ts_ms,
    )


def _funding_trades(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    return FundingTradesSnapshot(
        stream=sub._stream,
        symbol=sub._market,
        data=payload,
        trades=tuple([_funding_trade(t) for t in _rows(payload)]),
        seq=seq,
        ts_ms=ts_ms,
    )


def _book_decoder(
    entry: Callable[[Any], Any],
    snapshot_cls: Callable[..., Event],
    update_cls: Callable[..., Event],
) -> _Decoder:
    """Book decoder: the first frame is the snapshot; afterwards a single entry is an update and
    a list of entries (BULK_UPDATES) is a bulk update -- only the order of arrival tells them apart.
    """

    def decode(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
        if payload.__class__ is not list:
            raise TypeError(f"expected a JSON array, got {type(payload).__name__}")
        if payload and payload[0].__class__ is not list:
            return update_cls(
                stream=sub._stream,
                symbol=sub._market,
                data=payload,
                entries=(entry(payload),),
                seq=seq,
                ts_ms=ts_ms,
            )
        entries = tuple([entry(e) for e in payload])
        if first:
            return snapshot_cls(
                stream=sub._stream, symbol=sub._market, data=payload, entries=entries, seq=seq, ts_ms=ts_ms
            )
        return update_cls(
            stream=sub._stream, symbol=sub._market, data=payload, entries=entries, bulk=True, seq=seq, ts_ms=ts_ms
        )

    return decode


def _candles(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    # Bitfinex ws-public-candles: the snapshot is an array of candles, an update a single candle.
    if payload.__class__ is not list:
        raise TypeError(f"expected a JSON array, got {type(payload).__name__}")
    if _is_list_of_lists(payload) or (first and not payload):
        return CandlesSnapshot(
            stream=sub._stream,
            symbol=sub._market,
            data=payload,
            candles=tuple([_candle(c) for c in payload]),
            seq=seq,
            ts_ms=ts_ms,
        )
    return CandleUpdate(
        stream=sub._stream, symbol=sub._market, data=payload, candle=_candle(payload), seq=seq, ts_ms=ts_ms
    )


def _deriv_status(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    r = _row(payload, 23)
    return DerivativesStatus(
        stream=sub._stream,
        symbol=sub._market,
        data=payload,
        mts=_oint(r[0]),
        deriv_price=_odec(r[2]),
        spot_price=_odec(r[3]),
        insurance_fund_balance=_odec(r[5]),
        next_funding_evt_mts=_oint(r[7]),
        next_funding_accrued=_odec(r[8]),
        next_funding_step=_oint(r[9]),
        current_funding=_odec(r[11]),
        mark_price=_odec(r[14]),
        open_interest=_odec(r[17]),
        clamp_min=_odec(r[21]),
        clamp_max=_odec(r[22]),
        seq=seq,
        ts_ms=ts_ms,
    )


def _liq_status(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    rows = _rows(payload)
    # One entry may come unwrapped; entries start with the tag "pos".
    if rows and rows[0].__class__ is not list:
        rows = [rows]
    return Liquidations(
        stream=sub._stream,
        symbol=None,
        data=payload,
        entries=tuple([_liquidation(e) for e in rows]),
        seq=seq,
        ts_ms=ts_ms,
    )


# Indexed by Subscription._kind (see bpbfx.bitfinex.channels.KIND_*).
_DECODERS: Final[tuple[_Decoder, ...]] = (
    _ticker,  # KIND_TICKER
    _funding_ticker,  # KIND_FUNDING_TICKER
    _trades,  # KIND_TRADES
    _funding_trades,  # KIND_FUNDING_TRADES
    _book_decoder(_book_entry, BookSnapshot, BookUpdate),  # KIND_BOOK
    _book_decoder(_funding_book_entry, FundingBookSnapshot, FundingBookUpdate),  # KIND_FUNDING_BOOK
    _book_decoder(_raw_book_entry, RawBookSnapshot, RawBookUpdate),  # KIND_RAW_BOOK
    _book_decoder(_funding_raw_book_entry, FundingRawBookSnapshot, FundingRawBookUpdate),  # KIND_FUNDING_RAW_BOOK
    _candles,  # KIND_CANDLES
    _deriv_status,  # KIND_DERIV_STATUS
    _liq_status,  # KIND_LIQ_STATUS
)
assert len(_DECODERS) == ch.KIND_LIQ_STATUS + 1

_TRADE_KINDS: Final[dict[str, TradeKind]] = {"te": "executed", "tu": "update", "fte": "executed", "ftu": "update"}
_ACCOUNT_TRADE_KINDS: Final[dict[str, TradeKind]] = {"te": "executed", "tu": "update"}


def _typed(sub: ch.Subscription, msg_type: str, payload: Any, seq: int | None, ts_ms: int | None) -> Event:
    """``[CHAN_ID, TYPE, DATA]`` frames of a public channel."""
    if msg_type == "hb":
        return heartbeat(sub._stream, sub._market, seq, ts_ms)
    if msg_type == "cs":
        # OB_CHECKSUM: [CHAN_ID, "cs", CHECKSUM] (signed 32-bit CRC32).
        return checksum(sub._stream, sub._market, payload, seq, ts_ms)
    kind = sub._kind
    if msg_type == "te" or msg_type == "tu":
        if kind == ch.KIND_TRADES:
            # TradeUpdate fields in order: stream, symbol, data, trade, kind, seq, ts_ms.
            trade = _trade(payload)
            return _new_trade_update(sub._stream, sub._market, payload, trade, _TRADE_KINDS[msg_type], seq, ts_ms)
        if kind == ch.KIND_FUNDING_TRADES:
            # Older servers sent funding trades as te/tu; the row shape tells.
            return FundingTradeUpdate(
                stream=sub._stream,
                symbol=sub._market,
                data=payload,
                trade=_funding_trade(payload),
                kind=_TRADE_KINDS[msg_type],
                seq=seq,
                ts_ms=ts_ms,
            )
    elif (msg_type == "fte" or msg_type == "ftu") and kind == ch.KIND_FUNDING_TRADES:
        return FundingTradeUpdate(
            stream=sub._stream,
            symbol=sub._market,
            data=payload,
            trade=_funding_trade(payload),
            kind=_TRADE_KINDS[msg_type],
            seq=seq,
            ts_ms=ts_ms,
        )
    return UnknownEvent(stream=sub._stream, symbol=sub._market, data=[msg_type, payload])


def decode_channel(
    sub: ch.Subscription,
    msg_type: str | None,
    payload: Any,
    *,
    first: bool,
    seq: int | None = None,
    ts_ms: int | None = None,
) -> Event:
    """Decode one frame of a subscribed public channel.

    Args:
        sub: the subscription the frame's channel id maps to.
        msg_type: position 1 of ``[CHAN_ID, TYPE, DATA]`` frames (``"te"``, ``"tu"``, ``"fte"``,
            ``"ftu"``, ``"cs"``, ``"hb"``), or ``None`` for ``[CHAN_ID, DATA]`` frames.
        payload: DATA as decoded from JSON (``None`` for ``hb``).
        first: True for the first data frame after ``subscribed`` (the snapshot).  A later
            array of arrays on a book channel is a BULK_UPDATES batch.
        seq: the SEQ_ALL sequence number, if the connection enabled it.
        ts_ms: the TIMESTAMP time, if the connection enabled it.

    Returns the event; unknown message types give :class:`~bpbfx.events.UnknownEvent`.  Runs on
    the caller's thread, keeps no state.

    Raises:
        MalformedFrameError: the payload does not have the shape of this channel's data (the
            error carries the stream and a prefix of the payload text).
    """
    try:
        if msg_type is None:
            return _DECODERS[sub._kind](sub, payload, first, seq, ts_ms)
        return _typed(sub, msg_type, payload, seq, ts_ms)
    except _SHAPE_ERRORS as exc:
        raise _malformed(sub.stream, f"{msg_type or 'data'} frame", payload, exc) from exc


# --------------------------------------------------------------------------------------------
# Account (channel 0) rows, field orders from bitfinex-api-py bfxapi/types/serializers.py.
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


def _credit_fields(r: list[Any]) -> dict[str, Any]:
    return {
        "id": _int(r[0]),
        "symbol": _ostr(r[1]),
        "side": _oint(r[2]),
        "mts_create": _oint(r[3]),
        "mts_update": _oint(r[4]),
        "amount": _odec(r[5]),
        "flags": _oint(r[6]),
        "status": _ostr(r[7]),
        "rate_type": _ostr(r[8]),
        "rate": _odec(r[11]),
        "period": _oint(r[12]),
        "mts_opening": _oint(r[13]),
        "mts_last_payout": _oint(r[14]),
        "notify": _obool(r[15]),
        "hidden": _obool(r[16]),
        "renew": _obool(r[18]),
        "no_close": _obool(r[20]),
    }


def _funding_credit(raw: Any) -> FundingCredit:
    r = _row(raw, 22)
    return FundingCredit(**_credit_fields(r), position_pair=_ostr(r[21]))


def _funding_loan(raw: Any) -> FundingLoan:
    return FundingLoan(**_credit_fields(_row(raw, 21)))


# --------------------------------------------------------------------------------------------
# Account decoders: (msg_type, payload, seq, auth_seq, ts_ms) -> Event.
# --------------------------------------------------------------------------------------------

_AccountDecoder = Callable[[str, Any, int | None, int | None, int | None], Event]


def _snapshot_decoder(row: Callable[[Any], Any], cls: Callable[..., Event], attr: str) -> _AccountDecoder:
    def decode(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
        items = tuple([row(item) for item in _rows(payload)])
        fields: dict[str, Any] = {attr: items}
        return cls(stream=ACCOUNT_STREAM, symbol=None, data=payload, seq=seq, auth_seq=auth_seq, ts_ms=ts_ms, **fields)

    return decode


def _update_decoder(
    row: Callable[[Any], Any], cls: Callable[..., Event], attr: str, kinds: Mapping[str, str] | None
) -> _AccountDecoder:
    def decode(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
        item = row(payload)
        fields: dict[str, Any] = {attr: item}
        if kinds is not None:
            fields["kind"] = kinds[msg_type]
        symbol = getattr(item, "symbol", None)
        return cls(
            stream=ACCOUNT_STREAM, symbol=symbol, data=payload, seq=seq, auth_seq=auth_seq, ts_ms=ts_ms, **fields
        )

    return decode


def _balance(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
    r = _row(payload, 2)
    return BalanceUpdate(
        stream=ACCOUNT_STREAM,
        symbol=None,
        data=payload,
        aum=_odec(r[0]),
        aum_net=_odec(r[1]),
        seq=seq,
        auth_seq=auth_seq,
        ts_ms=ts_ms,
    )


def _margin_info(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
    # ws-auth-margin-info: ["base", [USER_PL, USER_SWAPS, MARGIN_BALANCE, MARGIN_NET, MARGIN_MIN]]
    # or ["sym", SYMBOL, [TRADABLE_BALANCE, GROSS_BALANCE, BUY, SELL, ...]].
    r = _row(payload, 3)
    if r[0] == "base":
        v = _row(r[1], 5)
        return MarginBaseUpdate(
            stream=ACCOUNT_STREAM,
            symbol=None,
            data=payload,
            user_pl=_odec(v[0]),
            user_swaps=_odec(v[1]),
            margin_balance=_odec(v[2]),
            margin_net=_odec(v[3]),
            margin_min=_odec(v[4]),
            seq=seq,
            auth_seq=auth_seq,
            ts_ms=ts_ms,
        )
    if r[0] == "sym":
        v = _row(r[2], 4)
        return MarginSymbolUpdate(
            stream=ACCOUNT_STREAM,
            symbol=_ostr(r[1]),
            data=payload,
            tradable_balance=_odec(v[0]),
            gross_balance=_odec(v[1]),
            buy=_odec(v[2]),
            sell=_odec(v[3]),
            seq=seq,
            auth_seq=auth_seq,
            ts_ms=ts_ms,
        )
    return UnknownEvent(stream=ACCOUNT_STREAM, symbol=None, data=[msg_type, payload])


def _funding_info(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
    # ws-auth-funding-info: ["sym", SYMBOL, [YIELD_LOAN, YIELD_LEND, DURATION_LOAN, DURATION_LEND]].
    r = _row(payload, 3)
    v = _row(r[2], 4)
    return FundingInfoUpdate(
        stream=ACCOUNT_STREAM,
        symbol=_ostr(r[1]),
        data=payload,
        yield_loan=_odec(v[0]),
        yield_lend=_odec(v[1]),
        duration_loan=_odec(v[2]),
        duration_lend=_odec(v[3]),
        seq=seq,
        auth_seq=auth_seq,
        ts_ms=ts_ms,
    )


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
    return Notification(
        stream=ACCOUNT_STREAM,
        symbol=symbol,
        data=payload,
        mts=_oint(r[0]),
        type=ntype,
        message_id=_oint(r[2]),
        code=_oint(r[5]),
        status=_ostr(r[6]),
        text=_ostr(r[7]),
        info=info,
        order=order,
        funding_offer=offer,
        seq=seq,
        auth_seq=auth_seq,
        ts_ms=ts_ms,
    )


def _account_heartbeat(msg_type: str, payload: Any, seq: int | None, auth_seq: int | None, ts_ms: int | None) -> Event:
    return heartbeat(ACCOUNT_STREAM, None, seq, ts_ms)


_ORDER_KINDS: Final = {"on": "new", "ou": "update", "oc": "cancel"}
_POSITION_KINDS: Final = {"pn": "new", "pu": "update", "pc": "close"}
_OFFER_KINDS: Final = {"fon": "new", "fou": "update", "foc": "cancel"}
_CREDIT_KINDS: Final = {"fcn": "new", "fcu": "update", "fcc": "close"}
_LOAN_KINDS: Final = {"fln": "new", "flu": "update", "flc": "close"}


def _account_table() -> dict[str, _AccountDecoder]:
    table: dict[str, _AccountDecoder] = {
        "os": _snapshot_decoder(_order, OrdersSnapshot, "orders"),
        "ps": _snapshot_decoder(_position, PositionsSnapshot, "positions"),
        "ws": _snapshot_decoder(_wallet, WalletsSnapshot, "wallets"),
        "fos": _snapshot_decoder(_funding_offer, FundingOffersSnapshot, "offers"),
        "fcs": _snapshot_decoder(_funding_credit, FundingCreditsSnapshot, "credits"),
        "fls": _snapshot_decoder(_funding_loan, FundingLoansSnapshot, "loans"),
        "wu": _update_decoder(_wallet, WalletUpdate, "wallet", None),
        "bu": _balance,
        "miu": _margin_info,
        "fiu": _funding_info,
        "n": _notification,
        "hb": _account_heartbeat,
    }
    for kinds, row, cls, attr in (
        (_ORDER_KINDS, _order, OrderUpdate, "order"),
        (_POSITION_KINDS, _position, PositionUpdate, "position"),
        (_OFFER_KINDS, _funding_offer, FundingOfferUpdate, "offer"),
        (_CREDIT_KINDS, _funding_credit, FundingCreditUpdate, "credit"),
        (_LOAN_KINDS, _funding_loan, FundingLoanUpdate, "loan"),
        (_ACCOUNT_TRADE_KINDS, _account_trade, AccountTradeUpdate, "trade"),
    ):
        decoder = _update_decoder(row, cls, attr, kinds)
        for msg_type in kinds:
            table[msg_type] = decoder
    # Funding trades on channel 0 use their own row layout.
    funding_trades = _update_decoder(_account_funding_trade, AccountFundingTradeUpdate, "trade", _TRADE_KINDS)
    table["fte"] = table["ftu"] = funding_trades
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


# --------------------------------------------------------------------------------------------
# Event (dict) frames.
# --------------------------------------------------------------------------------------------


def _subscribed_stream(msg: Mapping[str, Any]) -> tuple[str, str | None]:
    """(canonical stream, market symbol) a ``subscribed`` reply names."""
    try:
        sub = ch.from_message(msg)
    except InvalidStreamError:
        channel = msg.get("channel")
        target = msg.get("key") or msg.get("symbol")
        return (f"{channel}:{target}" if target is not None else str(channel)), _ostr(msg.get("symbol"))
    return sub.stream, sub.market_symbol


def decode_event(msg: Mapping[str, Any]) -> Event:
    """Decode a dict frame: ``info``, ``conf``, ``subscribed``, ``unsubscribed``, ``pong``,
    ``auth`` and ``error`` (as :class:`~bpbfx.bitfinex.events.ErrorReply`).

    Other events give :class:`~bpbfx.events.UnknownEvent`.  Runs on the caller's thread.

    Raises:
        MalformedFrameError: a known event lacks a required field (``chanId`` of ``subscribed``
            / ``unsubscribed``) or has one of the wrong type.
    """
    event = msg.get("event")
    try:
        if event == "info":
            platform = msg.get("platform")
            status = platform.get("status") if isinstance(platform, Mapping) else None
            return Info(
                stream=CONNECTION_STREAM,
                symbol=None,
                data=msg,
                version=_oint(msg.get("version")),
                server_id=_ostr(msg.get("serverId")),
                platform_status=_oint(status),
                code=_oint(msg.get("code")),
                msg=_ostr(msg.get("msg")),
            )
        if event == "subscribed":
            length = msg.get("len")
            sub_id = msg.get("subId")
            stream, market = _subscribed_stream(msg)
            return Subscribed(
                stream=stream,
                symbol=market,
                data=msg,
                channel=str(msg.get("channel")),
                chan_id=_int(msg.get("chanId")),
                sub_id=None if sub_id is None else str(sub_id),
                key=_ostr(msg.get("key")),
                prec=_ostr(msg.get("prec")),
                freq=_ostr(msg.get("freq")),
                length=None if length is None else _int(length),
                pair=_ostr(msg.get("pair")),
                currency=_ostr(msg.get("currency")),
            )
        if event == "unsubscribed":
            return Unsubscribed(
                stream=CONNECTION_STREAM,
                symbol=None,
                data=msg,
                chan_id=_int(msg.get("chanId")),
                ok=msg.get("status") == "OK",
            )
        if event == "conf":
            return Conf(
                stream=CONNECTION_STREAM,
                symbol=None,
                data=msg,
                flags=_oint(msg.get("flags")),
                ok=msg.get("status") == "OK",
            )
        if event == "pong":
            return Pong(
                stream=CONNECTION_STREAM, symbol=None, data=msg, cid=_oint(msg.get("cid")), ts_ms=_oint(msg.get("ts"))
            )
        if event == "auth":
            auth_id = msg.get("auth_id")
            return AuthResult(
                stream=ACCOUNT_STREAM,
                symbol=None,
                data=msg,
                ok=msg.get("status") == "OK",
                user_id=_oint(msg.get("userId")),
                auth_id=None if auth_id is None else str(auth_id),
                caps=msg.get("caps"),
                code=_oint(msg.get("code")),
                msg=_ostr(msg.get("msg")),
            )
        if event == "error":
            return ErrorReply(
                stream=CONNECTION_STREAM,
                symbol=_ostr(msg.get("symbol")),
                data=msg,
                code=_oint(msg.get("code")),
                msg=_ostr(msg.get("msg")),
                channel=_ostr(msg.get("channel")),
            )
    except _SHAPE_ERRORS as exc:
        raise _malformed(CONNECTION_STREAM, f"{event!r} event", dict(msg), exc) from exc
    return UnknownEvent(stream=CONNECTION_STREAM, symbol=None, data=msg)


# --------------------------------------------------------------------------------------------
# Errors.
# --------------------------------------------------------------------------------------------

_AUTH_CODES: Final = frozenset({10100, 10111, 10112, 10113, 10114})
_SUBSCRIPTION_CODES: Final = frozenset({10300, 10301, 10302, 10400, 10401})
_SENSITIVE: Final = ("authSig",)


def _safe_request(request: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {name: value for name, value in request.items() if name not in _SENSITIVE}


def _error_stream(msg: Mapping[str, Any], request: Mapping[str, Any] | None) -> str | None:
    for source in (request, msg):
        if source is None or not isinstance(source.get("channel"), str):
            continue
        try:
            return ch.from_message(source).stream
        except InvalidStreamError:
            target = source.get("key") or source.get("symbol")
            return f"{source['channel']}:{target}" if target is not None else str(source["channel"])
    if request is not None and request.get("event") == "auth":
        return ACCOUNT_STREAM
    return None


def _explain(code: int | None, text: str, stream: str | None) -> str:
    """What went wrong and what would be valid, per Bitfinex ws-general error codes."""
    where = f" to {stream}" if stream else ""
    if code == 10301:
        return f"already subscribed{where} on this connection (10301); unsubscribe first or reuse the channel"
    if code == 10305:
        return (
            f"channel limit reached on this connection (10305, {text}): at most 25 channels per "
            f"connection; subscribe{where} on another connection"
        )
    if code == 10302:
        return f"unknown channel (10302, {text}); valid channels: {', '.join(ch.CHANNELS)}"
    if code == 10300:
        hint = ""
        lowered = text.lower()
        if "symbol" in lowered:
            hint = (
                "; symbols are 'tBTCUSD' (trading) or 'fUSD' (funding), uppercase; "
                "the list is at https://api-pub.bitfinex.com/v2/conf/pub:list:pair:exchange"
            )
        elif "len" in lowered:
            hint = f"; valid len: {', '.join(map(str, ch.BOOK_LENGTHS))}"
        elif "prec" in lowered:
            hint = f"; valid prec: {', '.join(ch.BOOK_PRECISIONS)}"
        elif "freq" in lowered:
            hint = "; valid freq: F0, F1"
        elif "channel" in lowered:
            hint = f"; valid channels: {', '.join(ch.CHANNELS)}"
        elif "key" in lowered:
            hint = "; candles keys look like 'trade:1m:tBTCUSD', status keys 'deriv:tBTCF0:USTF0' or 'liq:global'"
        return f"subscription{where} refused (10300, {text}){hint}"
    if code == 10400:
        return f"unsubscribe failed (10400, {text})"
    if code == 10401:
        return f"not subscribed (10401, {text}): the channel id is not open on this connection"
    if code == 10114:
        return (
            f"authentication refused: nonce too small (10114, {text}); nonces must keep increasing for "
            "this API key across every connection and process using it: another program using the same "
            "key, or a clock set back since the key was last used, sends smaller ones"
        )
    if code in _AUTH_CODES:
        return f"authentication refused ({code}, {text}); check the API key, secret and the key's permissions"
    if code == 10000:
        return f"unknown event (10000, {text}); valid events: subscribe, unsubscribe, conf, ping, auth"
    return f"exchange error ({code}, {text})" if code is not None else f"exchange error ({text})"


def error_from_event(msg: Mapping[str, Any], request: Mapping[str, Any] | None) -> ExchangeError:
    """Build the exception for an ``{"event":"error"}`` frame (or a failed ``auth`` reply).

    Codes map to classes (Bitfinex ws-general): 10100 and 10111-10114 ->
    :class:`~bpbfx.exceptions.AuthenticationError`; 10305 -> :class:`~bpbfx.exceptions.RateLimitError`;
    10300, 10301, 10302, 10400, 10401 -> :class:`~bpbfx.exceptions.SubscriptionError`; anything
    else -> :class:`~bpbfx.exceptions.ExchangeError`.  The error carries ``code``, ``stream``,
    ``payload`` (the frame) and ``request`` (with ``authSig`` removed), and its message says what
    would be valid where that is known.  Raises nothing.
    """
    raw_code = msg.get("code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    text = str(msg.get("msg") or "no message")
    stream = _error_stream(msg, request)
    message = _explain(code, text, stream)
    cls: type[ExchangeError]
    if code in _AUTH_CODES or (code is None and msg.get("event") == "auth"):
        cls = AuthenticationError
    elif code == 10305:
        cls = RateLimitError
    elif code in _SUBSCRIPTION_CODES:
        cls = SubscriptionError
    else:
        cls = ExchangeError
    return cls(message, code=code, stream=stream, request=_safe_request(request), payload=dict(msg))
