"""Backpack frames in, typed events out (no I/O, no state but caches).

- Data frames ``{"stream": name, "data": {...}}``; times ``E``/``T`` in microseconds, seen both as
  numbers and as strings, so every integer field is parsed leniently.
- Error frames ``{"id": null, "error": {"code": N, "message": ...}}``: 4006 invalid stream, 4008
  invalid depth window, 4002 parse error; the socket stays open.
- Prices and quantities are :class:`~decimal.Decimal` from the exchange's own text.

(docs/protocols.md, "Backpack Exchange".)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .._json import make_loads
from ..events import Event, UnknownEvent, positional_factory
from ..exceptions import (
    AuthenticationError,
    ExchangeError,
    InvalidStreamError,
    MalformedFrameError,
    SubscriptionError,
)
from .events import (
    BookTicker,
    Depth,
    Kline,
    Liquidation,
    MarkPrice,
    OpenInterest,
    OrderUpdate,
    PositionUpdate,
    RfqUpdate,
    Ticker,
    Trade,
)
from .streams import DEPTH_WINDOWS, EXAMPLES, stream_symbol, stream_type, validate_stream

__all__ = [
    "CACHE_MAX",
    "PRICE_CACHE",
    "Decoder",
    "FrameDecoder",
    "decode",
    "error_from_frame",
    "excerpt",
    "parse_frame",
]

_ERROR_HINTS = {
    4006: f"the stream type is not one Backpack knows; {EXAMPLES}",
    4008: f"depth windows are realtime (depth.<symbol>) or {', '.join(DEPTH_WINDOWS)}",
    4002: "the server could not parse a request frame (bad JSON or unknown method)",
}


def error_from_frame(error: Any, request: dict[str, Any] | None = None) -> ExchangeError:
    """Exception for an ``{"id":null,"error":{...}}`` frame's ``error`` object."""
    code = error.get("code") if isinstance(error, dict) else None
    if type(code) is not int:
        code = None
    message = error.get("message", "") if isinstance(error, dict) else error
    if type(message) is not str:
        message = excerpt(message, 200)
    message = message[:300]
    hint = _ERROR_HINTS.get(code) if code is not None else None
    text = f"Backpack error {code}: {message}" + (f" ({hint})" if hint else "")
    if request is not None:
        text += f"; likely caused by {json.dumps(request)[:200]}"
    if code in (4006, 4008):
        return SubscriptionError(text, code=code, request=request, payload=error)
    lowered = message.lower()
    if "signature" in lowered or "auth" in lowered or "key" in lowered or "timestamp" in lowered:
        return AuthenticationError(text, code=code, request=request, payload=error)
    return ExchangeError(text, code=code, request=request, payload=error)


def _int(value: Any) -> int:
    """An id or time given as a JSON integer or as digit text (Backpack sends both)."""
    if type(value) is int:
        return value
    if type(value) is str and value.isdigit() and value.isascii():
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def _opt_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def _num(value: Any) -> Decimal:
    """A price, quantity or rate from the exchange's text (numbers are accepted too, floats via
    their shortest repr).  Anything that is not a finite number raises ValueError, so ``NaN`` or
    ``Infinity`` never reaches an event or a book."""
    cls = value.__class__
    if cls is str:
        number = Decimal(value)
    elif cls is int:
        number = Decimal(value)
    elif cls is float:
        number = Decimal(repr(value))
    else:
        raise TypeError(f"expected a number, got {value!r}")
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _dec(value: Any) -> Decimal | None:
    return None if value is None else _num(value)


# Parsed level numbers by their exact wire text.  A depth stream repeats the same price and
# quantity texts frame after frame, so most levels cost two dict look-ups instead of two
# ``Decimal(text)`` conversions, and the book's dict keys are the same (hash-cached) objects.
# Only texts that passed the checks below are kept; the caches are emptied when they reach
# _CACHE_MAX entries, so memory stays bounded whatever the stream sends.
_PRICES: dict[str, Decimal] = {}
_QTYS: dict[str, Decimal] = {}
_CACHE_MAX = 20_000
PRICE_CACHE = _PRICES
"""Parsed prices by their exact wire text, shared with the REST snapshot parser so that book
look-ups hit by identity (bounded: emptied at :data:`CACHE_MAX` entries)."""
CACHE_MAX = _CACHE_MAX


def _levels(rows: Any, side: str) -> tuple[tuple[Decimal, Decimal], ...]:
    """Depth levels ``[[price, quantity], ...]``.  Backpack depth: quantities are absolute and
    zero deletes, so a price must be > 0 and a quantity >= 0 (both finite)."""
    prices, qtys = _PRICES, _QTYS
    if rows.__class__ is list and _LISTS.issuperset(map(type, rows)):
        try:
            # Every text seen before: two look-ups per level, no conversion, no check (only
            # texts that passed the checks are cached; a non-text key misses or raises).
            return tuple([(prices[p], qtys[q]) for p, q in rows])
        except (KeyError, TypeError, ValueError):
            pass
    return _levels_checked(rows, side)


_LISTS = frozenset((list,))


def _levels_checked(rows: Any, side: str) -> tuple[tuple[Decimal, Decimal], ...]:
    """:func:`_levels` for rows with texts not cached yet (or not texts, or not pairs)."""
    if rows.__class__ is not list:
        raise ValueError(f"{side}s must be a list of [price, quantity], got {type(rows).__name__}")
    out: list[tuple[Decimal, Decimal]] = []
    append = out.append
    prices, qtys = _PRICES, _QTYS
    for row in rows:
        if row.__class__ is not list or len(row) != 2:
            raise ValueError(f"a {side} level must be [price, quantity], got {row!r:.80}")
        p, q = row
        price = prices.get(p) if p.__class__ is str else None
        if price is None:
            price = _num(p)
            if price <= 0:
                raise ValueError(f"{side} price must be > 0, got {p!r}")
            if p.__class__ is str:
                if len(prices) >= _CACHE_MAX:
                    prices.clear()
                prices[p] = price
        qty = qtys.get(q) if q.__class__ is str else None
        if qty is None:
            qty = _num(q)
            if qty < 0:
                raise ValueError(f"{side} quantity must be >= 0, got {q!r}")
            if q.__class__ is str:
                if len(qtys) >= _CACHE_MAX:
                    qtys.clear()
                qtys[q] = qty
        append((price, qty))
    return tuple(out)


_new_depth = positional_factory(Depth)  # Depth(...) without the frozen __setattr__ per field
_new_trade = positional_factory(Trade)


def _depth(stream: str, symbol: str | None, d: dict[str, Any]) -> Depth:
    # Positional, in Depth's field order: stream, symbol, data, first_update_id,
    # last_update_id, bids, asks, event_time_us, engine_time_us.
    first, last, event_us, engine_us = d["U"], d["u"], d["E"], d.get("T")
    # _int inlined for the usual JSON integers.
    return _new_depth(
        stream,
        symbol,
        d,
        first if first.__class__ is int else _int(first),
        last if last.__class__ is int else _int(last),
        _levels(d["b"], "bid"),
        _levels(d["a"], "ask"),
        event_us if event_us.__class__ is int else _int(event_us),
        engine_us if engine_us.__class__ is int or engine_us is None else _int(engine_us),
    )


def _trade(stream: str, symbol: str | None, d: dict[str, Any]) -> Trade:
    b, a = d.get("b"), d.get("a")
    # Positional, in Trade's field order (stream, symbol, data, trade_id, price, quantity,
    # buyer_is_maker, buy_order_id, sell_order_id, event_time_us, engine_time_us).
    return _new_trade(
        stream,
        symbol,
        d,
        _int(d["t"]),
        _num(d["p"]),
        _num(d["q"]),
        d.get("m"),
        None if b is None else str(b),
        None if a is None else str(a),
        _int(d["E"]),
        _opt_int(d.get("T")),
    )


def _ticker(stream: str, symbol: str | None, d: dict[str, Any]) -> Ticker:
    return Ticker(
        stream=stream,
        symbol=symbol,
        data=d,
        open=_num(d["o"]),
        close=_num(d["c"]),
        high=_num(d["h"]),
        low=_num(d["l"]),
        volume=_num(d["v"]),
        quote_volume=_num(d["V"]),
        trades=_int(d.get("n", 0)),
        event_time_us=_int(d["E"]),
    )


def _book_ticker(stream: str, symbol: str | None, d: dict[str, Any]) -> BookTicker:
    return BookTicker(
        stream=stream,
        symbol=symbol,
        data=d,
        bid_price=_dec(d.get("b")),
        bid_quantity=_dec(d.get("B")),
        ask_price=_dec(d.get("a")),
        ask_quantity=_dec(d.get("A")),
        update_id=_opt_int(d.get("u")),
        event_time_us=_int(d["E"]),
        engine_time_us=_opt_int(d.get("T")),
    )


def _kline(stream: str, symbol: str | None, d: dict[str, Any]) -> Kline:
    return Kline(
        stream=stream,
        symbol=symbol,
        data=d,
        interval=stream.split(".", 2)[1],
        start=str(d["t"]),
        end=str(d["T"]),
        open=_num(d["o"]),
        close=_num(d["c"]),
        high=_num(d["h"]),
        low=_num(d["l"]),
        volume=_num(d["v"]),
        trades=_int(d.get("n", 0)),
        closed=bool(d.get("X", False)),
        event_time_us=_int(d["E"]),
    )


def _mark_price(stream: str, symbol: str | None, d: dict[str, Any]) -> MarkPrice:
    return MarkPrice(
        stream=stream,
        symbol=symbol,
        data=d,
        mark_price=_num(d["p"]),
        index_price=_dec(d.get("i")),
        funding_rate=_dec(d.get("f")),
        next_funding_time_ms=_opt_int(d.get("n")),
        event_time_us=_int(d["E"]),
        engine_time_us=_opt_int(d.get("T")),
    )


def _open_interest(stream: str, symbol: str | None, d: dict[str, Any]) -> OpenInterest:
    return OpenInterest(
        stream=stream, symbol=symbol, data=d, open_interest=_num(d["o"]), event_time_us=_int(d["E"])
    )


def _liquidation(stream: str, symbol: str | None, d: dict[str, Any]) -> Liquidation:
    return Liquidation(
        stream=stream,
        symbol=d.get("s", symbol),
        data=d,
        price=_num(d["p"]),
        quantity=_num(d["q"]),
        side=d.get("S"),
        event_time_us=_int(d["E"]),
        engine_time_us=_opt_int(d.get("T")),
    )


def _order_update(stream: str, symbol: str | None, d: dict[str, Any]) -> OrderUpdate:
    i, c = d.get("i"), d.get("c")
    return OrderUpdate(
        stream=stream,
        symbol=d.get("s", symbol),
        data=d,
        event_type=d.get("e"),
        order_id=None if i is None else str(i),
        client_id=_opt_int(c),
        side=d.get("S"),
        order_type=d.get("o"),
        status=d.get("X"),
        price=_dec(d.get("p")),
        quantity=_dec(d.get("q")),
        executed_quantity=_dec(d.get("z")),
        fill_price=_dec(d.get("L")),
        fill_quantity=_dec(d.get("l")),
        trade_id=_opt_int(d.get("t")),
        fee=_dec(d.get("n")),
        fee_symbol=d.get("N"),
        is_maker=d.get("m"),
        event_time_us=_opt_int(d.get("E")),
        engine_time_us=_opt_int(d.get("T")),
    )


def _position_update(stream: str, symbol: str | None, d: dict[str, Any]) -> PositionUpdate:
    return PositionUpdate(
        stream=stream,
        symbol=d.get("s", symbol),
        data=d,
        event_type=d.get("e"),
        net_quantity=_dec(d.get("q")),
        entry_price=_dec(d.get("B")),
        mark_price=_dec(d.get("M")),
        pnl_realized=_dec(d.get("p")),
        pnl_unrealized=_dec(d.get("P")),
        event_time_us=_opt_int(d.get("E")),
    )


def _rfq_update(stream: str, symbol: str | None, d: dict[str, Any]) -> RfqUpdate:
    return RfqUpdate(
        stream=stream, symbol=d.get("s", symbol), data=d, event_type=d.get("e"), event_time_us=_opt_int(d.get("E"))
    )


Decoder = Callable[[str, "str | None", Any], Event]

_DECODERS: dict[str, Decoder] = {
    "depth": _depth,
    "trade": _trade,
    "ticker": _ticker,
    "bookTicker": _book_ticker,
    "kline": _kline,
    "markPrice": _mark_price,
    "openInterest": _open_interest,
    "liquidation": _liquidation,
    "account.orderUpdate": _order_update,
    "account.positionUpdate": _position_update,
    "account.rfqUpdate": _rfq_update,
}


def _unknown(stream: str, symbol: str | None, d: Any) -> Event:
    return UnknownEvent(stream=stream, symbol=symbol, data=d)


class FrameDecoder:
    """Decodes data frames; caches the decoder and symbol of each stream name it has seen."""

    __slots__ = ("_routes",)

    def __init__(self) -> None:
        self._routes: dict[str, tuple[Decoder, str | None]] = {}

    def route(self, stream: str) -> tuple[Decoder, str | None]:
        """(decoder, symbol) for a stream name; unknown types decode to :class:`UnknownEvent`."""
        route = self._routes.get(stream)
        if route is None:
            try:
                validate_stream(stream)
                kind = stream_type(stream)
                route = (_DECODERS.get(kind, _unknown), stream_symbol(stream))
            except InvalidStreamError:
                route = (_unknown, None)
            if len(self._routes) < 10_000:
                self._routes[stream] = route
        return route

    def decode_data(self, stream: str, data: Any) -> Event:
        """Typed event for one ``data`` object of ``stream``.

        Raises:
            MalformedFrameError: a field is missing or not a number.
        """
        decoder, symbol = self.route(stream)
        try:
            return decoder(stream, symbol, data)
        except (KeyError, TypeError, ValueError, IndexError, ArithmeticError, AttributeError) as exc:
            text = excerpt(data)
            raise MalformedFrameError(
                f"malformed {stream} frame ({type(exc).__name__}: {exc}): {text[:200]}", frame=text, stream=stream
            ) from exc


_default = FrameDecoder()


_loads = make_loads()


def excerpt(value: Any, limit: int = 500) -> str:
    """Short JSON text of a decoded value for error messages (never raises)."""
    try:
        text = json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return text[:limit]


def parse_frame(frame: bytes | str, loads: Callable[[bytes | str], Any] = _loads) -> tuple[str | None, Any]:
    """Split a raw frame into ``(stream, data)`` for data frames or ``(None, error)`` for error
    frames.

    Raises:
        MalformedFrameError: not JSON, or neither ``{"stream": <str>, "data": ...}`` nor
            ``{"error": ...}``.
    """
    try:
        msg = loads(frame)
    except ValueError as exc:
        raise MalformedFrameError(f"frame is not JSON ({exc}): {frame[:200]!r}", frame=frame[:500]) from exc
    if type(msg) is dict:
        stream = msg.get("stream")
        if type(stream) is str:
            return stream, msg.get("data")
        if stream is None and "error" in msg:
            return None, msg["error"]
        if stream is not None:
            raise MalformedFrameError(
                f"frame with a stream name that is not a string ({type(stream).__name__}): {frame[:200]!r}",
                frame=frame[:500],
            )
    raise MalformedFrameError(f"unexpected frame (no stream, no error): {frame[:200]!r}", frame=frame[:500])


def decode(frame: bytes | str, decoder: FrameDecoder = _default) -> Event | ExchangeError:
    """Decode one raw frame into a typed event, or the :class:`ExchangeError` it reports.

    Raises:
        MalformedFrameError: not JSON, not a known envelope, or a malformed payload.
    """
    stream, payload = parse_frame(frame)
    if stream is None:
        return error_from_frame(payload)
    return decoder.decode_data(stream, payload)
