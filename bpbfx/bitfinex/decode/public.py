"""Decode the frames of the public channels: tickers, trades, books, candles and status.

Layouts (docs.bitfinex.com/reference/ws-public-ticker, ws-public-trades, ws-public-books,
ws-public-raw-books, ws-public-candles, ws-public-status):

- The first ``[CHAN_ID, DATA]`` frame after ``subscribed`` is the snapshot.  On a book channel a
  later array of entries is a ``BULK_UPDATES`` batch and a single entry an update: only the
  order of arrival tells a snapshot from a batch (docs.bitfinex.com/docs/ws-general, "Configuration").
- Live trades come as ``[CHAN_ID, "te", TRADE]`` (sent first) and ``[CHAN_ID, "tu", TRADE]``
  (the same trade once recorded); funding trades as ``fte``/``ftu`` (older servers sent
  ``te``/``tu``, told apart by the row shape).
- Candles: ``[MTS, OPEN, CLOSE, HIGH, LOW, VOLUME]``, CLOSE before HIGH.

Events are built with :func:`bpbfx.events.positional_factory` in field order: the class's own
fields, then ``bulk`` where the class has it, then ``seq`` and ``ts_ms``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from ...events import Event, UnknownEvent, positional_factory
from .. import channels as ch
from ..events import (
    BookEntry,
    BookSnapshot,
    BookUpdate,
    Candle,
    CandlesSnapshot,
    CandleUpdate,
    DerivativesStatus,
    FundingBookEntry,
    FundingBookSnapshot,
    FundingBookUpdate,
    FundingRawBookEntry,
    FundingRawBookSnapshot,
    FundingRawBookUpdate,
    FundingTicker,
    FundingTrade,
    FundingTradesSnapshot,
    FundingTradeUpdate,
    Liquidation,
    Liquidations,
    RawBookEntry,
    RawBookSnapshot,
    RawBookUpdate,
    TradeEntry,
    TradeKind,
    TradesSnapshot,
    TradeUpdate,
    TradingTicker,
    new_book_entry,
)
from .control import checksum, heartbeat
from .values import _SHAPE_ERRORS, _dec, _int, _malformed, _obool, _odec, _oint, _ostr, _row, _rows

__all__ = ["book_entry", "decode_channel"]

# Constructors taking the fields positionally, in field order (see the module docstring).
_new_trade = positional_factory(TradeEntry)
_new_funding_trade = positional_factory(FundingTrade)
_new_funding_book_entry = positional_factory(FundingBookEntry)
_new_raw_book_entry = positional_factory(RawBookEntry)
_new_funding_raw_book_entry = positional_factory(FundingRawBookEntry)
_new_candle = positional_factory(Candle)
_new_liquidation = positional_factory(Liquidation)
_new_trading_ticker = positional_factory(TradingTicker)
_new_funding_ticker = positional_factory(FundingTicker)
_new_trades_snapshot = positional_factory(TradesSnapshot)
_new_trade_update = positional_factory(TradeUpdate)
_new_funding_trades_snapshot = positional_factory(FundingTradesSnapshot)
_new_funding_trade_update = positional_factory(FundingTradeUpdate)
_new_candles_snapshot = positional_factory(CandlesSnapshot)
_new_candle_update = positional_factory(CandleUpdate)
_new_deriv_status = positional_factory(DerivativesStatus)
_new_liquidations = positional_factory(Liquidations)

# --------------------------------------------------------------------------------------------
# Rows.
# --------------------------------------------------------------------------------------------


def _trade(raw: Any) -> TradeEntry:
    r = _row(raw, 4)  # [ID, MTS, AMOUNT, PRICE]
    return _new_trade(_int(r[0]), _int(r[1]), _dec(r[2]), _dec(r[3]))


def _funding_trade(raw: Any) -> FundingTrade:
    r = _row(raw, 5)  # [ID, MTS, AMOUNT, RATE, PERIOD]
    return _new_funding_trade(_int(r[0]), _int(r[1]), _dec(r[2]), _dec(r[3]), _int(r[4]))


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


def book_entry(raw: Any) -> BookEntry:
    """One ``[PRICE, COUNT, AMOUNT]`` entry of a trading P0-P4 book as a
    :class:`~bpbfx.bitfinex.events.BookEntry`.  Any thread.

    Raises:
        TypeError, ValueError: the entry is not an array of a number, an integer and a number
            (the decoders turn these into MalformedFrameError).
    """
    if raw.__class__ is list and len(raw) >= 3:
        count = raw[1]
        return new_book_entry(_book_dec(raw[0]), count if count.__class__ is int else _int(count), _book_dec(raw[2]))
    r = _row(raw, 3)
    return new_book_entry(_book_dec(r[0]), _int(r[1]), _book_dec(r[2]))


def _funding_book_entry(raw: Any) -> FundingBookEntry:
    r = _row(raw, 4)  # [RATE, PERIOD, COUNT, AMOUNT]
    return _new_funding_book_entry(_dec(r[0]), _int(r[1]), _int(r[2]), _dec(r[3]))


def _raw_book_entry(raw: Any) -> RawBookEntry:
    r = _row(raw, 3)  # [ORDER_ID, PRICE, AMOUNT]
    return _new_raw_book_entry(_int(r[0]), _dec(r[1]), _dec(r[2]))


def _funding_raw_book_entry(raw: Any) -> FundingRawBookEntry:
    r = _row(raw, 4)  # [OFFER_ID, PERIOD, RATE, AMOUNT]
    return _new_funding_raw_book_entry(_int(r[0]), _int(r[1]), _dec(r[2]), _dec(r[3]))


def _candle(raw: Any) -> Candle:
    r = _row(raw, 6)  # [MTS, OPEN, CLOSE, HIGH, LOW, VOLUME]: CLOSE before HIGH
    return _new_candle(_int(r[0]), _dec(r[1]), _dec(r[2]), _dec(r[3]), _dec(r[4]), _dec(r[5]))


def _liquidation(raw: Any) -> Liquidation:
    # ["pos", POS_ID, MTS, _, SYMBOL, AMOUNT, BASE_PRICE, _, IS_MATCH, IS_MARKET_SOLD, _, PRICE_ACQUIRED]
    r = _row(raw, 12)
    return _new_liquidation(
        _int(r[1]), _oint(r[2]), _ostr(r[4]), _odec(r[5]), _odec(r[6]), _obool(r[8]), _obool(r[9]), _odec(r[11])
    )


# --------------------------------------------------------------------------------------------
# Decoders, one per Subscription kind: (sub, payload, first, seq, ts_ms) -> Event.
# --------------------------------------------------------------------------------------------

_Decoder = Callable[[ch.Subscription, Any, bool, int | None, int | None], Event]


def _ticker(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    # [BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST_PRICE, VOLUME, HIGH, LOW]
    r = _row(payload, 10)
    fields = [_odec(value) for value in r[:10]]
    return _new_trading_ticker(sub._stream, sub._market, payload, *fields, seq, ts_ms)


def _funding_ticker(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    # [FRR, BID, BID_PERIOD, BID_SIZE, ASK, ASK_PERIOD, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE,
    #  LAST_PRICE, VOLUME, HIGH, LOW, _, _, FRR_AMOUNT_AVAILABLE]
    r = _row(payload, 16)
    return _new_funding_ticker(
        sub._stream,
        sub._market,
        payload,
        _odec(r[0]),
        _odec(r[1]),
        _oint(r[2]),
        _odec(r[3]),
        _odec(r[4]),
        _oint(r[5]),
        _odec(r[6]),
        _odec(r[7]),
        _odec(r[8]),
        _odec(r[9]),
        _odec(r[10]),
        _odec(r[11]),
        _odec(r[12]),
        _odec(r[15]),
        seq,
        ts_ms,
    )


def _trades(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    # The snapshot is the only [CHAN_ID, DATA] frame of a trades channel; updates are typed.
    trades = tuple([_trade(t) for t in _rows(payload)])
    return _new_trades_snapshot(sub._stream, sub._market, payload, trades, seq, ts_ms)


def _funding_trades(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    trades = tuple([_funding_trade(t) for t in _rows(payload)])
    return _new_funding_trades_snapshot(sub._stream, sub._market, payload, trades, seq, ts_ms)


def _book_decoder(entry: Callable[[Any], Any], snapshot_cls: type[Event], update_cls: type[Event]) -> _Decoder:
    """Book decoder: the first frame is the snapshot; afterwards a single entry is an update and
    a list of entries (BULK_UPDATES) is a bulk update -- only the order of arrival tells them apart.
    """
    new_snapshot = positional_factory(snapshot_cls)  # (stream, symbol, data, entries, seq, ts_ms)
    new_update = positional_factory(update_cls)  # (stream, symbol, data, entries, bulk, seq, ts_ms)

    def decode(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
        if payload.__class__ is not list:
            raise TypeError(f"expected a JSON array, got {type(payload).__name__}")
        if payload and payload[0].__class__ is not list:
            return new_update(sub._stream, sub._market, payload, (entry(payload),), False, seq, ts_ms)
        entries = tuple([entry(e) for e in payload])
        if first:
            return new_snapshot(sub._stream, sub._market, payload, entries, seq, ts_ms)
        return new_update(sub._stream, sub._market, payload, entries, True, seq, ts_ms)

    return decode


def _candles(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    # The snapshot is an array of candles, an update a single candle.
    if payload.__class__ is not list:
        raise TypeError(f"expected a JSON array, got {type(payload).__name__}")
    if (payload and payload[0].__class__ is list) or (first and not payload):
        candles = tuple([_candle(c) for c in payload])
        return _new_candles_snapshot(sub._stream, sub._market, payload, candles, seq, ts_ms)
    return _new_candle_update(sub._stream, sub._market, payload, _candle(payload), seq, ts_ms)


def _deriv_status(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    # [MTS, _, DERIV_PRICE, SPOT_PRICE, _, INSURANCE_FUND_BALANCE, _, NEXT_FUNDING_EVT_MTS,
    #  NEXT_FUNDING_ACCRUED, NEXT_FUNDING_STEP, _, CURRENT_FUNDING, _, _, MARK_PRICE, _, _,
    #  OPEN_INTEREST, _, _, _, CLAMP_MIN, CLAMP_MAX]
    r = _row(payload, 23)
    return _new_deriv_status(
        sub._stream,
        sub._market,
        payload,
        _oint(r[0]),
        _odec(r[2]),
        _odec(r[3]),
        _odec(r[5]),
        _oint(r[7]),
        _odec(r[8]),
        _oint(r[9]),
        _odec(r[11]),
        _odec(r[14]),
        _odec(r[17]),
        _odec(r[21]),
        _odec(r[22]),
        seq,
        ts_ms,
    )


def _liq_status(sub: ch.Subscription, payload: Any, first: bool, seq: int | None, ts_ms: int | None) -> Event:
    rows = _rows(payload)
    # One entry may come unwrapped; entries start with the tag "pos".
    if rows and rows[0].__class__ is not list:
        rows = [rows]
    return _new_liquidations(sub._stream, None, payload, tuple([_liquidation(e) for e in rows]), seq, ts_ms)


# Indexed by Subscription._kind (see bpbfx.bitfinex.channels.KIND_*).
_DECODERS: Final[tuple[_Decoder, ...]] = (
    _ticker,  # KIND_TICKER
    _funding_ticker,  # KIND_FUNDING_TICKER
    _trades,  # KIND_TRADES
    _funding_trades,  # KIND_FUNDING_TRADES
    _book_decoder(book_entry, BookSnapshot, BookUpdate),  # KIND_BOOK
    _book_decoder(_funding_book_entry, FundingBookSnapshot, FundingBookUpdate),  # KIND_FUNDING_BOOK
    _book_decoder(_raw_book_entry, RawBookSnapshot, RawBookUpdate),  # KIND_RAW_BOOK
    _book_decoder(_funding_raw_book_entry, FundingRawBookSnapshot, FundingRawBookUpdate),  # KIND_FUNDING_RAW_BOOK
    _candles,  # KIND_CANDLES
    _deriv_status,  # KIND_DERIV_STATUS
    _liq_status,  # KIND_LIQ_STATUS
)
assert len(_DECODERS) == ch.KIND_LIQ_STATUS + 1

_TRADE_KINDS: Final[dict[str, TradeKind]] = {"te": "executed", "tu": "update", "fte": "executed", "ftu": "update"}


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
            trade = _trade(payload)
            return _new_trade_update(sub._stream, sub._market, payload, trade, _TRADE_KINDS[msg_type], seq, ts_ms)
        if kind == ch.KIND_FUNDING_TRADES:
            # Older servers sent funding trades as te/tu; the row shape tells.
            return _funding_trade_update(sub, msg_type, payload, seq, ts_ms)
    elif (msg_type == "fte" or msg_type == "ftu") and kind == ch.KIND_FUNDING_TRADES:
        return _funding_trade_update(sub, msg_type, payload, seq, ts_ms)
    return UnknownEvent(stream=sub._stream, symbol=sub._market, data=[msg_type, payload])


def _funding_trade_update(
    sub: ch.Subscription, msg_type: str, payload: Any, seq: int | None, ts_ms: int | None
) -> FundingTradeUpdate:
    trade = _funding_trade(payload)
    return _new_funding_trade_update(sub._stream, sub._market, payload, trade, _TRADE_KINDS[msg_type], seq, ts_ms)


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
