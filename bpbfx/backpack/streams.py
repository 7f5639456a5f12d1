"""Backpack stream names: validation with a helpful message, types and symbols.

Names are ``<type>.<symbol>`` (``trade.SOL_USDC``), ``depth.<window>.<symbol>`` for aggregated
depth, ``kline.<interval>.<symbol>``, ``liquidation`` alone, and the private
``account.orderUpdate[.<symbol>]``, ``account.positionUpdate[.<symbol>]``,
``account.rfqUpdate[.<symbol>]`` (docs/protocols.md, "Backpack Exchange";
https://docs.backpack.exchange/#tag/Streams).
"""

from __future__ import annotations

import re

from ..exceptions import InvalidStreamError

__all__ = [
    "DEPTH_WINDOWS",
    "EXAMPLES",
    "KLINE_INTERVALS",
    "PRIVATE_TYPES",
    "PUBLIC_TYPES",
    "REGULAR_TYPES",
    "is_private",
    "stream_symbol",
    "stream_type",
    "validate_stream",
]

PUBLIC_TYPES = ("depth", "trade", "ticker", "bookTicker", "kline", "markPrice", "openInterest", "liquidation")
PRIVATE_TYPES = ("account.orderUpdate", "account.positionUpdate", "account.rfqUpdate")
DEPTH_WINDOWS = ("200ms", "600ms", "1000ms")
KLINE_INTERVALS = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1month",
)
# Streams that publish at least every few seconds on a live market; a long silence on one of
# these means an unknown or closed symbol (Backpack sends no error for those).
REGULAR_TYPES = frozenset({"depth", "bookTicker", "ticker", "markPrice"})

_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$")
_TYPO = {
    "trades": "trade",
    "book": "depth",
    "orderbook": "depth",
    "tickers": "ticker",
    "bookticker": "bookTicker",
    "klines": "kline",
    "candle": "kline",
    "markprice": "markPrice",
    "openinterest": "openInterest",
    "liquidations": "liquidation",
}
EXAMPLES = "e.g. depth.SOL_USDC, depth.200ms.SOL_USDC, trade.SOL_USDC, kline.1m.SOL_USDC, account.orderUpdate"


def _check_symbol(stream: str, symbol: str) -> None:
    if not _SYMBOL.match(symbol):
        hint = f" (did you mean {symbol.upper()}?)" if _SYMBOL.match(symbol.upper()) else ""
        raise InvalidStreamError(
            f"invalid symbol {symbol!r} in stream {stream!r}: Backpack symbols are upper case "
            f"like SOL_USDC or BTC_USDC_PERP{hint}",
            stream=stream,
        )


def validate_stream(stream: str) -> str:
    """Return ``stream`` if it is a valid Backpack stream name, else raise.

    Raises:
        InvalidStreamError: with a message saying what is valid (types, depth windows, kline
            intervals, symbol spelling).
    """
    if not isinstance(stream, str) or not stream.strip():
        raise InvalidStreamError(f"empty stream name; valid streams look like {EXAMPLES}")
    if stream != stream.strip():
        raise InvalidStreamError(f"stream name {stream!r} has surrounding spaces", stream=stream)
    for private in PRIVATE_TYPES:
        if stream == private:
            return stream
        if stream.startswith(private + "."):
            _check_symbol(stream, stream[len(private) + 1 :])
            return stream
    if stream.startswith("account."):
        raise InvalidStreamError(
            f"unknown private stream {stream!r}; valid: {', '.join(PRIVATE_TYPES)} (optionally .<symbol>)",
            stream=stream,
        )
    kind, _, rest = stream.partition(".")
    if kind not in PUBLIC_TYPES:
        fix = _TYPO.get(kind.lower()) or next((t for t in PUBLIC_TYPES if t.lower() == kind.lower()), None)
        hint = f" (did you mean {fix}.{rest}?)" if fix and rest else ""
        raise InvalidStreamError(
            f"unknown stream type {kind!r} in {stream!r}{hint}; valid types: {', '.join(PUBLIC_TYPES)}, "
            f"{', '.join(PRIVATE_TYPES)}",
            stream=stream,
        )
    if kind == "liquidation" and not rest:
        return stream
    if not rest:
        raise InvalidStreamError(f"stream {stream!r} needs a symbol, {EXAMPLES}", stream=stream)
    if kind == "depth":
        first, _, tail = rest.partition(".")
        if re.fullmatch(r"\d+ms", first):
            if first not in DEPTH_WINDOWS:
                raise InvalidStreamError(
                    f"invalid depth window {first!r} in {stream!r}; valid: realtime (depth.<symbol>) or "
                    f"{', '.join(DEPTH_WINDOWS)}",
                    stream=stream,
                    code=4008,
                )
            if not tail:
                raise InvalidStreamError(f"stream {stream!r} needs a symbol after the window", stream=stream)
            rest = tail
    elif kind == "kline":
        interval, _, tail = rest.partition(".")
        if interval not in KLINE_INTERVALS or not tail:
            raise InvalidStreamError(
                f"invalid kline stream {stream!r}; use kline.<interval>.<symbol> with interval one of "
                f"{', '.join(KLINE_INTERVALS)}",
                stream=stream,
            )
        rest = tail
    _check_symbol(stream, rest)
    return stream


def is_private(stream: str) -> bool:
    """True for ``account.*`` streams, which need a signature."""
    return stream.startswith("account.")


def stream_symbol(stream: str) -> str | None:
    """The market symbol of a (valid) stream name, or ``None`` for account-wide streams."""
    for private in PRIVATE_TYPES:
        if stream.startswith(private):
            return stream[len(private) + 1 :] or None
    kind, _, rest = stream.partition(".")
    if kind == "depth":
        first, _, tail = rest.partition(".")
        return tail if first in DEPTH_WINDOWS else rest
    if kind == "kline":
        return rest.partition(".")[2]
    return rest or None


def stream_type(stream: str) -> str:
    """``"depth"``, ``"trade"``, ..., or the private type (``"account.orderUpdate"``)."""
    for private in PRIVATE_TYPES:
        if stream.startswith(private):
            return private
    return stream.partition(".")[0]
