"""Every market of an exchange, as ``bpbfx collect --all-markets`` records it: the exchanges'
market lists parsed (:func:`parse_backpack_markets`, :func:`parse_bitfinex_pairs`), their
24 h figures turned into an expected load (:func:`backpack_loads`, :func:`bitfinex_loads`),
the user's filters and stream kinds (:class:`MarketSelection`) and the streams of each market.

The lists (fetched by :mod:`bpbfx.collect.discovery`):

- Backpack ``GET /api/v1/markets``: objects with ``symbol``, ``baseSymbol``, ``quoteSymbol``,
  ``marketType`` (``SPOT``, ``PERP``, ...) and ``orderBookState`` (only ``Open`` markets are
  live); ``GET /api/v1/tickers``: ``quoteVolume`` and ``trades`` of the last 24 h.
- Bitfinex ``GET /v2/conf/pub:list:pair:exchange``: ``[["BTCUSD", "ETHUSD",
  "TESTBTC:TESTUSD", ...]]``, the trading symbol being ``"t" + pair`` (a pair is written with
  a colon when a side is longer than three letters; ``F0`` marks perpetual contracts, e.g.
  ``BTCF0:USTF0``); ``GET /v2/tickers?symbols=ALL``: ``[SYMBOL, BID, BID_SIZE, ASK, ASK_SIZE,
  DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST_PRICE, VOLUME, HIGH, LOW]`` per market.

Pure: no I/O; any thread.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..bitfinex.channels import parse_stream
from ..exceptions import ConfigurationError, InvalidStreamError
from ..factory import EXCHANGES, check_exchange, validate_streams

__all__ = [
    "DEFAULT_MARKET_STREAMS",
    "MARKET_TYPES",
    "Market",
    "MarketSelection",
    "backpack_loads",
    "bitfinex_loads",
    "parse_backpack_markets",
    "parse_bitfinex_pairs",
    "stream_kinds",
    "weights",
]

#: The stream kinds recorded per market when none are given.
DEFAULT_MARKET_STREAMS: Final[dict[str, tuple[str, ...]]] = {
    "backpack": ("trade", "depth"),
    "bitfinex": ("trades", "book"),
}

#: The values of ``market_type``.
MARKET_TYPES: Final = ("spot", "perp", "all")

# Kinds that name the same thing on both exchanges, as each exchange spells it.
_ALIASES: Final[dict[str, dict[str, str]]] = {
    "backpack": {"trades": "trade", "book": "depth"},
    "bitfinex": {"trade": "trades", "depth": "book"},
}
_PERP_ONLY: Final = ("markPrice", "openInterest")  # Backpack: silent on spot markets
_BITFINEX_BOOK: Final = "book:P0:F0:25"
_SAMPLE: Final = {"backpack": "SOL_USDC", "bitfinex": "tBTCUSD"}


@dataclass(frozen=True, slots=True)
class Market:
    """One market of an exchange's list.

    Attributes:
        exchange: ``backpack`` or ``bitfinex``.
        symbol: the exchange's symbol (``SOL_USDC``, ``tBTCUSD``).
        base / quote: its currencies (``SOL`` / ``USDC``; Bitfinex perpetuals: ``BTC`` /
            ``UST`` for ``tBTCF0:USTF0``).
        kind: ``spot`` or ``perp`` (Backpack's other ``marketType`` values in lower case).
        live: the exchange trades it now (Backpack ``orderBookState`` ``Open``; every listed
            Bitfinex pair).
    """

    exchange: str
    symbol: str
    base: str
    quote: str
    kind: str = "spot"
    live: bool = True


def parse_backpack_markets(doc: Any) -> list[Market]:
    """The markets of a Backpack ``GET /api/v1/markets`` answer, in its order.

    Raises:
        ValueError: the answer is not a list of market objects with a ``symbol``.
    """
    if not isinstance(doc, list):
        raise ValueError(f"Backpack markets: expected a list, got {type(doc).__name__}")
    out = []
    for item in doc:
        if not isinstance(item, dict) or not isinstance(item.get("symbol"), str):
            raise ValueError(f"Backpack markets: expected objects with a symbol, got {item!r:.80}")
        symbol = item["symbol"]
        parts = symbol.split("_")
        base = str(item.get("baseSymbol") or parts[0])
        quote = str(item.get("quoteSymbol") or (parts[1] if len(parts) > 1 else ""))
        kind = str(item.get("marketType") or ("PERP" if symbol.endswith("_PERP") else "SPOT")).lower()
        live = str(item.get("orderBookState", "Open")) == "Open"
        out.append(Market("backpack", symbol, base, quote, kind, live))
    return out


def _bitfinex_sides(pair: str) -> tuple[str, str]:
    if ":" in pair:
        base, quote = pair.split(":", 1)
    else:
        base, quote = pair[:3], pair[3:]
    return base, quote


def parse_bitfinex_pairs(doc: Any) -> list[Market]:
    """The markets of a Bitfinex ``GET /v2/conf/pub:list:pair:exchange`` answer, in its order.

    Raises:
        ValueError: the answer is not ``[[PAIR, ...]]``.
    """
    if not (isinstance(doc, list) and doc and isinstance(doc[0], list)
            and all(isinstance(p, str) and p for p in doc[0])):
        raise ValueError(f"Bitfinex pair list: expected [[PAIR, ...]], got {doc!r:.80}")
    out = []
    for pair in doc[0]:
        base, quote = _bitfinex_sides(pair)
        perp = base.endswith("F0") and quote.endswith("F0")
        if perp:  # BTCF0:USTF0 is BTC against UST
            base, quote = base[:-2], quote[:-2]
        out.append(Market("bitfinex", "t" + pair, base, quote, "perp" if perp else "spot"))
    return out


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


def backpack_loads(doc: Any) -> dict[str, float]:
    """Expected load per symbol from a Backpack ``GET /api/v1/tickers`` answer: the number of
    trades of the last 24 h (``quoteVolume`` where ``trades`` is missing).  Entries that are
    not understood are left out."""
    out: dict[str, float] = {}
    for item in doc if isinstance(doc, list) else ():
        if isinstance(item, dict) and isinstance(item.get("symbol"), str):
            out[item["symbol"]] = _number(item.get("trades")) or _number(item.get("quoteVolume"))
    return out


def bitfinex_loads(doc: Any) -> dict[str, float]:
    """Expected load per symbol from a Bitfinex ``GET /v2/tickers?symbols=ALL`` answer: the
    24 h volume in USD (``VOLUME * LAST_PRICE``, converted through the ``t<QUOTE>USD`` ticker
    when the quote is not a dollar).  Funding tickers and rows not understood are left out."""
    rows = [r for r in doc if isinstance(r, list) and len(r) >= 9 and isinstance(r[0], str)] if isinstance(
        doc, list) else []
    last = {r[0]: _number(r[7]) for r in rows if r[0].startswith("t")}
    out: dict[str, float] = {}
    for r in rows:
        symbol = r[0]
        if not symbol.startswith("t"):
            continue
        _, quote = _bitfinex_sides(symbol[1:])
        quote = quote[:-2] if quote.endswith("F0") else quote
        rate = 1.0 if quote in ("USD", "UST", "USDT", "USDC") else (last.get(f"t{quote}USD") or
                                                                    last.get(f"t{quote}:USD") or 1.0)
        out[symbol] = _number(r[8]) * _number(r[7]) * rate
    return out


def _kind(exchange: str, kind: str) -> str | None:
    """``kind`` as ``exchange`` spells it, or ``None`` when it is not a per-market stream of
    that exchange."""
    kind = _ALIASES[exchange].get(kind, kind)
    if exchange == "bitfinex" and kind == "book":
        kind = _BITFINEX_BOOK
    if exchange == "backpack" and (kind.startswith("account") or kind == "liquidation"):
        return None
    if exchange == "bitfinex" and not kind.startswith(("trades", "ticker", "book", "candles:")):
        return None
    try:
        validate_streams(exchange, [_stream(exchange, kind, _SAMPLE[exchange])])
    except InvalidStreamError:
        return None
    return kind


def _stream(exchange: str, kind: str, symbol: str) -> str:
    if exchange == "backpack":
        return f"{kind}.{symbol}"
    channel, _, rest = kind.partition(":")
    if channel == "candles":  # candles:1m -> candles:trade:1m:tBTCUSD
        return f"candles:trade:{rest}:{symbol}"
    return f"{channel}:{symbol}" + (f":{rest}" if rest else "")


def stream_kinds(exchanges: Iterable[str], kinds: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Stream kinds per exchange from a mixed list: ``EXCHANGE:KIND`` for one exchange, or a
    plain kind for every exchange of ``exchanges`` that has it (``trades``/``trade``,
    ``book``/``depth`` and ``ticker`` are understood by both).  An exchange without kinds
    keeps :data:`DEFAULT_MARKET_STREAMS`.

    Raises:
        ConfigurationError: a kind none of the exchanges has (the message lists theirs).
    """
    chosen = [check_exchange(e) for e in exchanges]
    out: dict[str, list[str]] = {e: [] for e in chosen}
    for text in kinds:
        head, sep, tail = text.partition(":")
        targets = [head] if sep and head in EXCHANGES else chosen
        kind = tail if sep and head in EXCHANGES else text
        hits = 0
        for exchange in targets:
            spelled = _kind(exchange, kind) if exchange in out else None
            if spelled is not None:
                hits += 1
                if spelled not in out[exchange]:
                    out[exchange].append(spelled)
        if not hits:
            raise ConfigurationError(
                f"unknown market stream {text!r} for {' and '.join(targets) or 'no exchange'}: "
                "Backpack kinds are trade, depth, depth.200ms, bookTicker, ticker, kline.1m, markPrice, "
                "openInterest; Bitfinex kinds are trades, book (P0:F0:25), book:P1:F0:100, ticker, candles:1m; "
                "trades, book and ticker name both; EXCHANGE:KIND names one")
    return {e: tuple(v) or DEFAULT_MARKET_STREAMS[e] for e, v in out.items()}


@dataclass(frozen=True)
class MarketSelection:
    """Which markets of one exchange to record, and which streams of each.

    Attributes:
        exchange: ``backpack`` or ``bitfinex``.
        quote: quote currencies to keep (case-insensitive); empty: every one.
        market_type: ``spot``, ``perp`` or ``all``.
        streams: stream kinds per market, as the exchange spells them (Backpack ``trade``,
            ``depth``, ``bookTicker``...; Bitfinex ``trades``, ``book:P0:F0:25``, ``ticker``,
            ``candles:1m``); see :func:`stream_kinds`.

    Raises:
        ConfigurationError: an unknown exchange, market type or stream kind.
    """

    exchange: str
    quote: tuple[str, ...] = ()
    market_type: str = "all"
    streams: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        exchange = check_exchange(self.exchange)
        object.__setattr__(self, "exchange", exchange)
        if self.market_type not in MARKET_TYPES:
            raise ConfigurationError(f"market_type must be spot, perp or all, got {self.market_type!r}")
        object.__setattr__(self, "quote", tuple(q.upper() for q in self.quote))
        object.__setattr__(self, "streams", stream_kinds([exchange], self.streams)[exchange])

    def keeps(self, market: Market) -> bool:
        """The market is live and passes the filters."""
        if not market.live or market.exchange != self.exchange:
            return False
        if self.quote and market.quote.upper() not in self.quote:
            return False
        return self.market_type == "all" or market.kind == self.market_type

    def select(self, markets: Iterable[Market]) -> list[Market]:
        """The markets kept (:meth:`keeps`), in order."""
        return [m for m in markets if self.keeps(m)]

    def streams_of(self, market: Market) -> list[str]:
        """The streams recorded for ``market`` (Backpack ``markPrice``/``openInterest`` only
        on perpetuals), named as the client names them."""
        out = []
        for kind in self.streams:
            if self.exchange == "backpack" and kind in _PERP_ONLY and market.kind != "perp":
                continue
            stream = _stream(self.exchange, kind, market.symbol)
            if self.exchange == "bitfinex":
                stream = parse_stream(stream).stream  # the client's own spelling
            out.append(stream)
        return out


def weights(markets: Sequence[Market], loads: Mapping[str, float], *, floor: float = 0.2) -> dict[str, float]:
    """A weight per market for balancing workers: its share of the exchange's load times the
    number of markets (so the mean is 1), mixed with ``floor`` for every market (a quiet
    market still costs a subscription and its heartbeats).  Without loads every weight is 1."""
    total = sum(loads.get(m.symbol, 0.0) for m in markets)
    if total <= 0:
        return {m.symbol: 1.0 for m in markets}
    n = len(markets)
    return {m.symbol: floor + (1 - floor) * n * loads.get(m.symbol, 0.0) / total for m in markets}
