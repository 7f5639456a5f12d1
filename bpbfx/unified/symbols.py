"""Unified market symbols and candle intervals, both ways, in the ccxt convention.

Traders already know ccxt's names, so bpbfx uses them: ``BASE/QUOTE`` for spot markets and
``BASE/QUOTE:SETTLE`` for perpetual swaps, with each exchange's own currency codes replaced by
the common ones (Bitfinex ``UST`` is ``USDT``).

======================  ===========================  ===================================
exchange                native                       unified
======================  ===========================  ===================================
Backpack spot           ``SOL_USDC``                 ``SOL/USDC``
Backpack perpetual      ``BTC_USDC_PERP``            ``BTC/USDC:USDC`` (settled in quote)
Bitfinex spot           ``tBTCUSD``, ``tBTCUST``     ``BTC/USD``, ``BTC/USDT``
Bitfinex spot (long)    ``tDOGE:USD``                ``DOGE/USD``
Bitfinex perpetual      ``tBTCF0:USTF0``             ``BTC/USDT:USDT``
======================  ===========================  ===================================

Rules implemented (sources: ccxt ``bitfinex2``/``bitfinex`` ``fetchMarkets`` and
``commonCurrencies``; Bitfinex ws-general "Trading pairs are prepended by a 't'"):

- Bitfinex pairs are two 3-letter codes (``tBTCUSD``) or, when a code is longer, two codes joined
  by a colon (``tDOGE:USD``, ``tTESTBTC:TESTUSD``).  A pair containing ``F0`` is a perpetual:
  both codes carry the ``F0`` suffix and the swap settles in the quote currency.
- Bitfinex currency codes that differ from the common ones are translated with the table
  :data:`BITFINEX_CURRENCIES` (``UST``/``USTF0`` -> ``USDT``, ``UDC`` -> ``USDC``, ...).
- Backpack markets are ``BASE_QUOTE`` and perpetuals ``BASE_QUOTE_PERP`` (settled in the quote
  currency).  Backpack's codes are the common ones already.
- ``f``-prefixed Bitfinex symbols are funding currencies, not markets: they have no market
  symbol (see :func:`unified_currency`).

Every function here is pure and thread-safe; each raises
:class:`~bpbfx.exceptions.InvalidSymbolError` (a ``SymbolMappingError`` and a
``ConfigurationError``) with a message that says what would be valid.
"""

from __future__ import annotations

import re
from typing import Final

from ..exceptions import InvalidSymbolError

__all__ = [
    "BACKPACK_INTERVALS",
    "BITFINEX_CURRENCIES",
    "BITFINEX_INTERVALS",
    "EXCHANGES",
    "INTERVALS",
    "native_currency",
    "native_interval",
    "to_native",
    "to_unified",
    "unified_currency",
    "unified_interval",
]

EXCHANGES: Final = ("backpack", "bitfinex")

#: Bitfinex currency code -> common code (ccxt ``bitfinex2.commonCurrencies``, without its two
#: entries that name a different asset on other venues: ``ORS`` and ``YGG``).
BITFINEX_CURRENCIES: Final[dict[str, str]] = {
    "UST": "USDT",
    "USTF0": "USDT",
    "EUTF0": "EURT",
    "UDC": "USDC",
    "ALG": "ALGO",
    "AMP": "AMPL",
    "ATO": "ATOM",
    "BCHABC": "XEC",
    "BCHN": "BCH",
    "DAT": "DATA",
    "DOG": "MDOGE",
    "DSH": "DASH",
    "EDO": "PNT",
    "EUS": "EURS",
    "EUT": "EURT",
    "IDX": "ID",
    "IOT": "IOTA",
    "IQX": "IQ",
    "LUNA": "LUNC",
    "LUNA2": "LUNA",
    "MNA": "MANA",
    "PAS": "PASS",
    "QSH": "QASH",
    "QTM": "QTUM",
    "RBT": "RBTC",
    "SNG": "SNGLS",
    "STJ": "STORJ",
    "TERRAUST": "USTC",
    "TSD": "TUSD",
    "VSY": "VSYS",
    "WAX": "WAXP",
    "XCH": "XCHF",
    "YYW": "YOYOW",
    "ZBT": "ZB",
}
# Reverse table for spot codes; the F0 forms are rebuilt from the spot code ("USDT" -> "UST" ->
# "USTF0"), except EURT whose derivative code is EUTF0 (= "EUT" + "F0" as well).
_BITFINEX_NATIVE: Final[dict[str, str]] = {
    common: native for native, common in BITFINEX_CURRENCIES.items() if not native.endswith("F0")
}

#: The unified candle intervals (ccxt timeframes).
INTERVALS: Final = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "3h", "4h", "6h", "8h", "12h", "1d", "3d",
                    "1w", "2w", "1M")
#: Backpack ``kline.<interval>`` names -> unified (Backpack writes a month ``1month``).
BACKPACK_INTERVALS: Final[dict[str, str]] = {
    **{iv: iv for iv in ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w")},
    "1month": "1M",
}
#: Bitfinex candle timeframes -> unified (Bitfinex writes days and weeks in capitals, two weeks
#: ``14D``; ccxt maps ``1w`` to ``7D``, which Bitfinex also accepts).
BITFINEX_INTERVALS: Final[dict[str, str]] = {
    **{iv: iv for iv in ("1m", "5m", "15m", "30m", "1h", "3h", "6h", "12h")},
    "1D": "1d",
    "1W": "1w",
    "7D": "1w",
    "14D": "2w",
    "1M": "1M",
}
_BITFINEX_NATIVE_INTERVAL: Final[dict[str, str]] = {
    unified: native for native, unified in BITFINEX_INTERVALS.items() if native != "7D"
}
_BACKPACK_NATIVE_INTERVAL: Final[dict[str, str]] = {unified: native for native, unified in BACKPACK_INTERVALS.items()}

_CODE = re.compile(r"[A-Z0-9][A-Z0-9.]*")
_BACKPACK_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.]*")
_UNIFIED = re.compile(r"(?P<base>[^/:\s]+)/(?P<quote>[^/:\s]+)(?::(?P<settle>[^/:\s]+))?")

# Parsed symbols repeat on every event: cache the answers (bounded by the markets one sees).
_to_unified_cache: dict[tuple[str, str], str] = {}
_CACHE_LIMIT: Final = 4096


def _check_exchange(exchange: str) -> None:
    if exchange not in EXCHANGES:
        raise InvalidSymbolError(
            f"unknown exchange {exchange!r}; choose one of {', '.join(EXCHANGES)}", exchange=str(exchange), symbol=""
        )


def unified_currency(exchange: str, code: str) -> str:
    """The common code of an exchange currency code (Bitfinex ``UST`` -> ``USDT``; Backpack codes
    and unknown codes are returned unchanged).  A Bitfinex funding symbol (``fUST``) gives its
    currency.

    Raises:
        InvalidSymbolError: unknown exchange.
    """
    _check_exchange(exchange)
    if exchange == "bitfinex":
        if code.startswith("f") and _CODE.fullmatch(code[1:]):
            code = code[1:]
        return BITFINEX_CURRENCIES.get(code, code)
    return code


def native_currency(exchange: str, code: str) -> str:
    """The exchange's code for a common currency code (``USDT`` -> Bitfinex ``UST``).

    Raises:
        InvalidSymbolError: unknown exchange.
    """
    _check_exchange(exchange)
    if exchange == "bitfinex":
        return _BITFINEX_NATIVE.get(code, code)
    return code


def to_unified(exchange: str, native: str) -> str:
    """The unified symbol of a native market symbol.

    ``to_unified("bitfinex", "tBTCF0:USTF0") == "BTC/USDT:USDT"``,
    ``to_unified("backpack", "SOL_USDC") == "SOL/USDC"``.

    Raises:
        InvalidSymbolError: unknown exchange, a Bitfinex funding currency (``fUSD``), or text
            that is not a market symbol of that exchange.
    """
    if not isinstance(native, str):
        raise InvalidSymbolError(
            f"{exchange} symbol must be a string, got {type(native).__name__}",
            exchange=str(exchange),
            symbol=repr(native),
        )
    key = (exchange, native)
    cached = _to_unified_cache.get(key)
    if cached is not None:
        return cached
    _check_exchange(exchange)
    unified = _bitfinex_to_unified(native) if exchange == "bitfinex" else _backpack_to_unified(native)
    if len(_to_unified_cache) < _CACHE_LIMIT:
        _to_unified_cache[key] = unified
    return unified


def _bitfinex_to_unified(native: str) -> str:
    if native.startswith("f") and _CODE.fullmatch(native[1:]):
        raise InvalidSymbolError(
            f"{native!r} is a Bitfinex funding currency ({unified_currency('bitfinex', native)}), not a market; "
            "unified symbols name markets like 'BTC/USD' (use unified_currency() for the currency)",
            exchange="bitfinex",
            symbol=native,
        )
    pair = native[1:] if native.startswith("t") else ""
    if ":" in pair:
        base_id, _, quote_id = pair.partition(":")
    elif len(pair) == 6:
        base_id, quote_id = pair[:3], pair[3:]
    else:
        base_id = quote_id = ""
    if not (_CODE.fullmatch(base_id) and _CODE.fullmatch(quote_id)):
        raise InvalidSymbolError(
            f"{native!r} is not a Bitfinex trading pair; expected 't' + two 3-letter codes ('tBTCUSD'), "
            "two codes joined by ':' ('tDOGE:USD'), or a perpetual ('tBTCF0:USTF0')",
            exchange="bitfinex",
            symbol=native,
        )
    # ccxt bitfinex2.fetchMarkets: a pair containing F0 is a perpetual swap settled in its quote.
    perpetual = "F0" in pair
    base = _strip_f0(BITFINEX_CURRENCIES.get(base_id, base_id))
    quote = _strip_f0(BITFINEX_CURRENCIES.get(quote_id, quote_id))
    if perpetual:
        return f"{base}/{quote}:{quote}"
    return f"{base}/{quote}"


def _strip_f0(code: str) -> str:
    return code[:-2] if code.endswith("F0") and len(code) > 2 else code


def _backpack_to_unified(native: str) -> str:
    parts = native.split("_")
    if len(parts) == 3 and parts[2] == "PERP":
        base, quote = parts[0], parts[1]
        perpetual = True
    elif len(parts) == 2:
        base, quote = parts
        perpetual = False
    else:
        base = quote = ""
        perpetual = False
    if not (_BACKPACK_CODE.fullmatch(base) and _BACKPACK_CODE.fullmatch(quote)):
        raise InvalidSymbolError(
            f"{native!r} is not a Backpack market symbol; expected 'BASE_QUOTE' ('SOL_USDC') or "
            "'BASE_QUOTE_PERP' ('BTC_USDC_PERP')",
            exchange="backpack",
            symbol=native,
        )
    # Backpack perpetuals are margined and settled in the quote currency (USDC).
    return f"{base}/{quote}:{quote}" if perpetual else f"{base}/{quote}"


def to_native(exchange: str, unified: str) -> str:
    """The native market symbol of a unified symbol (the inverse of :func:`to_unified`).

    ``to_native("bitfinex", "BTC/USDT:USDT") == "tBTCF0:USTF0"``,
    ``to_native("backpack", "BTC/USDC:USDC") == "BTC_USDC_PERP"``.

    Raises:
        InvalidSymbolError: unknown exchange, text that is not ``BASE/QUOTE[:SETTLE]``, or a
            market shape the exchange does not have (a swap settled in another currency than
            its quote).
    """
    _check_exchange(exchange)
    match = _UNIFIED.fullmatch(unified) if isinstance(unified, str) else None
    if match is None:
        raise InvalidSymbolError(
            f"{unified!r} is not a unified symbol; expected 'BASE/QUOTE' for spot ('BTC/USDT') or "
            "'BASE/QUOTE:SETTLE' for a perpetual ('BTC/USDT:USDT')",
            exchange=exchange,
            symbol=str(unified),
        )
    base, quote, settle = match["base"], match["quote"], match["settle"]
    if settle is not None and settle != quote:
        raise InvalidSymbolError(
            f"{unified!r}: {exchange} perpetuals settle in their quote currency; "
            f"did you mean '{base}/{quote}:{quote}'?",
            exchange=exchange,
            symbol=unified,
        )
    if exchange == "backpack":
        return f"{base}_{quote}_PERP" if settle else f"{base}_{quote}"
    base_id, quote_id = native_currency("bitfinex", base), native_currency("bitfinex", quote)
    if not (_CODE.fullmatch(base_id) and _CODE.fullmatch(quote_id)):
        raise InvalidSymbolError(
            f"{unified!r}: Bitfinex currency codes are upper-case letters and digits",
            exchange="bitfinex",
            symbol=unified,
        )
    if settle:
        # Bitfinex derivatives: both codes carry F0 and are always joined by a colon.
        return f"t{base_id}F0:{quote_id}F0"
    if len(base_id) == 3 and len(quote_id) == 3:
        return f"t{base_id}{quote_id}"
    return f"t{base_id}:{quote_id}"


def unified_interval(exchange: str, native: str) -> str:
    """The unified candle interval of a native one (Backpack ``1month`` -> ``1M``, Bitfinex
    ``1D`` -> ``1d``, ``14D`` -> ``2w``).

    Raises:
        InvalidSymbolError: unknown exchange or interval (the message lists the valid ones).
    """
    _check_exchange(exchange)
    table = BACKPACK_INTERVALS if exchange == "backpack" else BITFINEX_INTERVALS
    unified = table.get(native)
    if unified is None:
        raise InvalidSymbolError(
            f"unknown {exchange} candle interval {native!r}; valid: {', '.join(table)}",
            exchange=exchange,
            symbol=str(native),
        )
    return unified


def native_interval(exchange: str, unified: str) -> str:
    """The exchange's name of a unified candle interval (``1d`` -> Bitfinex ``1D``).

    Raises:
        InvalidSymbolError: unknown exchange, or an interval the exchange does not offer (the
            message lists the ones it does).
    """
    _check_exchange(exchange)
    table = _BACKPACK_NATIVE_INTERVAL if exchange == "backpack" else _BITFINEX_NATIVE_INTERVAL
    native = table.get(unified)
    if native is None:
        raise InvalidSymbolError(
            f"{exchange} has no {unified!r} candles; unified intervals it offers: {', '.join(table)}",
            exchange=exchange,
            symbol=str(unified),
        )
    return native
