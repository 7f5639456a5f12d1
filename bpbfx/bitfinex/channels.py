"""Bitfinex WebSocket v2 public channels: what can be subscribed, validated before sending.

A :class:`Subscription` is an immutable value naming one public channel (``ticker``, ``trades``,
``book``, ``candles`` or ``status``) with its parameters, the server's defaults applied, so two
requests for the same data compare equal.  It knows its canonical stream name, the subscribe
frame to send and whether a ``subscribed`` / ``error`` reply echoes it.

Build one with :func:`subscription` (keyword parameters, as the exchange names them) or
:func:`parse_stream` (the canonical text, for a command line)::

    >>> subscription("book", symbol="tBTCUSD").stream
    'book:tBTCUSD:P0:F0:25'
    >>> parse_stream("candles:trade:1m:tBTCUSD").market_symbol
    'tBTCUSD'

Both raise :class:`~bpbfx.exceptions.InvalidStreamError` with a message that lists what is
valid, before anything is sent.  Rules come from the Bitfinex WebSocket v2 reference
(docs.bitfinex.com/docs/ws-general, ws-public-books, ws-public-raw-books, ws-public-candles,
ws-public-status).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..exceptions import InvalidStreamError

__all__ = [
    "BOOK_FREQUENCIES",
    "BOOK_LENGTHS",
    "BOOK_PRECISIONS",
    "CANDLE_TIMEFRAMES",
    "CHANNELS",
    "Subscription",
    "from_message",
    "parse_stream",
    "subscription",
]

#: Public channels of the v2 API.
CHANNELS: Final = ("ticker", "trades", "book", "candles", "status")
#: Book precisions: P0 (most precise) to P4 aggregate price levels, R0 is the raw (per order) book.
BOOK_PRECISIONS: Final = ("P0", "P1", "P2", "P3", "P4", "R0")
#: Book update frequencies: F0 realtime, F1 every 2 seconds.
BOOK_FREQUENCIES: Final = ("F0", "F1")
#: Number of price levels (or orders) per side the server keeps for a book subscription.
BOOK_LENGTHS: Final = (1, 25, 100, 250)
#: Candle timeframes accepted in ``trade:<timeframe>:<symbol>`` keys.
CANDLE_TIMEFRAMES: Final = ("1m", "5m", "15m", "30m", "1h", "3h", "6h", "12h", "1D", "1W", "14D", "1M")

# Server defaults when a book request omits them (Bitfinex ws-public-books: prec "P0", freq "F0",
# len "25"); the `subscribed` reply echoes them, so they are part of a subscription's identity.
_DEFAULT_PREC: Final = "P0"
_DEFAULT_FREQ: Final = "F0"
_DEFAULT_LEN: Final = 25

# Bitfinex ws-general: "Trading pairs are prepended by a 't' ..., margin currencies by an 'f'";
# "All symbols are in uppercase".  Some pairs carry a colon (tTESTBTC:TESTUSD, tBTCF0:USTF0).
_TRADING_SYMBOL = re.compile(r"t[A-Z0-9]+(?::[A-Z0-9]+)?")
_FUNDING_SYMBOL = re.compile(r"f[A-Z0-9]+")
# Funding candles need a period, optionally with an aggregation (ws-public-candles:
# 'trade:TIMEFRAME:SYMBOL:aAGGR:pPER_START:pPER_END' or 'trade:1m:fUSD:p30').
_FUNDING_CANDLE_TAIL = re.compile(r"p[0-9]+|a[0-9]+:p[0-9]+:p[0-9]+")
_OPTION_TOKEN = re.compile(r"[PpRrFf][0-9]|[0-9]+")

_SYMBOL_HELP: Final = "a trading pair like 'tBTCUSD' or a funding currency like 'fUSD' (uppercase)"
_CANDLE_HELP: Final = (
    "'trade:<timeframe>:<symbol>' like 'trade:1m:tBTCUSD', or for funding "
    "'trade:<timeframe>:fUSD:p30' / 'trade:<timeframe>:fUSD:a30:p2:p30'; timeframes: " + ", ".join(CANDLE_TIMEFRAMES)
)
_STATUS_HELP: Final = "'deriv:<symbol>' like 'deriv:tBTCF0:USTF0', or 'liq:global'"
_STREAM_EXAMPLES: Final = (
    "ticker:tBTCUSD, trades:tBTCUSD, book:tBTCUSD, book:tBTCUSD:P0:25, book:tBTCUSD:P1:F1:100, "
    "book:tBTCUSD:R0, candles:trade:1m:tBTCUSD, status:deriv:tBTCF0:USTF0, status:liq:global"
)

# Decoder selector, precomputed per subscription so the hot path dispatches on a small int
# (read by bpbfx.bitfinex.decode; not part of the public API).
KIND_TICKER: Final = 0
KIND_FUNDING_TICKER: Final = 1
KIND_TRADES: Final = 2
KIND_FUNDING_TRADES: Final = 3
KIND_BOOK: Final = 4
KIND_FUNDING_BOOK: Final = 5
KIND_RAW_BOOK: Final = 6
KIND_FUNDING_RAW_BOOK: Final = 7
KIND_CANDLES: Final = 8
KIND_DERIV_STATUS: Final = 9
KIND_LIQ_STATUS: Final = 10

_ALLOWED_PARAMS: Final[dict[str, tuple[str, ...]]] = {
    "ticker": ("symbol",),
    "trades": ("symbol",),
    "book": ("symbol", "prec", "freq", "length"),
    "candles": ("key", "symbol", "timeframe"),
    "status": ("key",),
}


@dataclass(frozen=True, slots=True)
class Subscription:
    """One public channel with its parameters (server defaults applied).

    Build it with :func:`subscription` or :func:`parse_stream`, which validate; the constructor
    itself does not.

    Attributes:
        channel: ``"ticker"``, ``"trades"``, ``"book"``, ``"candles"`` or ``"status"``.
        symbol: ``"tBTCUSD"`` / ``"fUSD"`` for ticker, trades and book; ``None`` for candles and
            status (their market is in ``key``, see :attr:`market_symbol`).
        key: candles ``"trade:1m:tBTCUSD"`` or status ``"deriv:tBTCF0:USTF0"`` / ``"liq:global"``.
        prec: book precision ``"P0"``-``"P4"`` or ``"R0"`` (raw book).
        freq: book frequency ``"F0"`` / ``"F1"``; ``None`` for raw books.
        length: book length 1, 25, 100 or 250.
    """

    channel: str
    symbol: str | None = None
    key: str | None = None
    prec: str | None = None
    freq: str | None = None
    length: int | None = None
    _stream: str = field(init=False, repr=False, compare=False)
    _market: str | None = field(init=False, repr=False, compare=False)
    _kind: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        market = self.symbol
        channel = self.channel
        if channel == "book":
            if self.prec == "R0":
                stream = f"book:{self.symbol}:R0:{self.length}"
            else:
                stream = f"book:{self.symbol}:{self.prec}:{self.freq}:{self.length}"
        elif channel in ("candles", "status"):
            stream = f"{channel}:{self.key}"
            market = _market_from_key(channel, self.key)
        else:
            stream = f"{channel}:{self.symbol}"
        funding = market is not None and market.startswith("f")
        if channel == "ticker":
            kind = KIND_FUNDING_TICKER if funding else KIND_TICKER
        elif channel == "trades":
            kind = KIND_FUNDING_TRADES if funding else KIND_TRADES
        elif channel == "book":
            if self.prec == "R0":
                kind = KIND_FUNDING_RAW_BOOK if funding else KIND_RAW_BOOK
            else:
                kind = KIND_FUNDING_BOOK if funding else KIND_BOOK
        elif channel == "candles":
            kind = KIND_CANDLES
        elif channel == "status" and self.key is not None and self.key.startswith("liq:"):
            kind = KIND_LIQ_STATUS
        else:
            kind = KIND_DERIV_STATUS
        object.__setattr__(self, "_stream", stream)
        object.__setattr__(self, "_market", market)
        object.__setattr__(self, "_kind", kind)

    @property
    def stream(self) -> str:
        """Canonical stream name, e.g. ``"book:tBTCUSD:P0:F0:25"``; ``parse_stream`` reads it back."""
        return self._stream

    @property
    def market_symbol(self) -> str | None:
        """The market: ``symbol``, or the symbol inside a candles / ``deriv:`` key (``None`` for liq)."""
        return self._market

    @property
    def is_funding(self) -> bool:
        """True for funding (``f``-prefixed) markets, whose payloads carry rates and periods."""
        return self._market is not None and self._market.startswith("f")

    @property
    def is_book(self) -> bool:
        """True for order book channels (aggregated or raw)."""
        return self.channel == "book"

    @property
    def is_raw_book(self) -> bool:
        """True for raw (per order / per offer) books, precision ``R0``."""
        return self.prec == "R0"

    def request(self, sub_id: str | None = None) -> dict[str, Any]:
        """Return the subscribe frame (a dict to JSON-encode), with ``subId`` when given.

        ``len`` is sent as a string, the way the server echoes it.  Raises nothing.
        """
        req: dict[str, Any] = {"event": "subscribe", "channel": self.channel}
        if self.symbol is not None:
            req["symbol"] = self.symbol
        if self.key is not None:
            req["key"] = self.key
        if self.prec is not None:
            req["prec"] = self.prec
        if self.freq is not None:
            req["freq"] = self.freq
        if self.length is not None:
            req["len"] = str(self.length)
        if sub_id is not None:
            req["subId"] = sub_id
        return req

    def matches(self, msg: Mapping[str, Any], sub_id: str | None = None) -> bool:
        """Tell whether a ``subscribed`` or ``error`` reply echoes this subscription's request.

        When the reply carries a ``subId`` and ``sub_id`` (the one sent in :meth:`request`) is
        given, the subId alone decides.  Otherwise channel and parameters are compared, with the
        server's book defaults (P0, F0, "25") applied to what the reply omits; for raw books the
        frequency is ignored.  Raises nothing.
        """
        echoed_id = msg.get("subId")
        if echoed_id is not None and sub_id is not None:
            return bool(str(echoed_id) == sub_id)
        if msg.get("channel") != self.channel:
            return False
        if self.channel in ("candles", "status"):
            return bool(msg.get("key") == self.key)
        if _echoed_symbol(msg) != self.symbol:
            return False
        if self.channel != "book":
            return True
        if str(msg.get("prec") or _DEFAULT_PREC) != self.prec:
            return False
        if self.prec != "R0" and str(msg.get("freq") or _DEFAULT_FREQ) != self.freq:
            return False
        return str(msg.get("len") or _DEFAULT_LEN) == str(self.length)


def _echoed_symbol(msg: Mapping[str, Any]) -> Any:
    """The symbol a reply names: ``symbol``, else ``pair`` / ``currency`` with their prefix."""
    symbol = msg.get("symbol")
    if symbol is not None:
        return symbol
    pair = msg.get("pair")
    if pair is not None:
        return f"t{pair}"
    currency = msg.get("currency")
    if currency is not None:
        return f"f{currency}"
    return None


def _market_from_key(channel: str, key: str | None) -> str | None:
    """Market symbol inside a candles key (``trade:1m:tBTCUSD``) or status key (``deriv:X``)."""
    if key is None:
        return None
    if channel == "candles":
        # trade:TIMEFRAME:SYMBOL[:aAGGR:pSTART:pEND | :pPERIOD]
        parts = key.split(":")
        if len(parts) < 3:
            return None
        symbol = parts[2]
        # A trading pair with a colon (tTESTBTC:TESTUSD) spans two parts.
        if symbol.startswith("t") and len(parts) > 3:
            symbol = f"{symbol}:{parts[3]}"
        return symbol
    if key.startswith("deriv:"):
        return key[len("deriv:") :]
    return None


def _fail(message: str, stream: str | None = None) -> InvalidStreamError:
    return InvalidStreamError(message, stream=stream)


def _check_symbol(channel: str, symbol: Any, *, allow_funding: bool = True) -> str:
    if symbol is None:
        raise _fail(f"{channel}: symbol is required: {_SYMBOL_HELP}")
    if not isinstance(symbol, str):
        raise _fail(f"{channel}: symbol must be a string, got {type(symbol).__name__}: {_SYMBOL_HELP}")
    if _TRADING_SYMBOL.fullmatch(symbol) or (allow_funding and _FUNDING_SYMBOL.fullmatch(symbol)):
        return symbol
    hint = ""
    if symbol[:1] in ("t", "f") and symbol[1:].upper() != symbol[1:]:
        hint = f" (symbols are uppercase: did you mean {symbol[0] + symbol[1:].upper()!r}?)"
    elif symbol[:1] not in ("t", "f") and symbol.isalnum():
        upper = symbol.upper()
        # Pairs have six or more letters (BTCUSD); funding currencies are shorter (USD).
        guess = f"{'t' + upper!r}" if len(upper) >= 6 else f"{'t' + upper!r} or {'f' + upper!r}"
        hint = f" (did you mean {guess}?)"
    if not allow_funding and _FUNDING_SYMBOL.fullmatch(symbol):
        raise _fail(f"{channel}: {symbol!r} is a funding currency; expected a trading pair like 'tBTCUSD'")
    raise _fail(f"{channel}: invalid symbol {symbol!r}{hint}; expected {_SYMBOL_HELP}")


def _check_length(value: Any) -> int:
    if value is None:
        return _DEFAULT_LEN
    length: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        length = value
    elif isinstance(value, str) and value.isdigit():
        length = int(value)
    if length not in BOOK_LENGTHS:
        raise _fail(f"book: invalid len {value!r}; valid: {', '.join(map(str, BOOK_LENGTHS))} (default 25)")
    return length


def _check_candle_key(key: Any) -> str:
    if not isinstance(key, str):
        raise _fail(f"candles: key is required: {_CANDLE_HELP}")
    parts = key.split(":", 2)
    if len(parts) != 3 or parts[0] != "trade":
        raise _fail(f"candles: invalid key {key!r}; expected {_CANDLE_HELP}")
    timeframe, rest = parts[1], parts[2]
    if timeframe not in CANDLE_TIMEFRAMES:
        raise _fail(f"candles: invalid timeframe {timeframe!r} in key {key!r}; valid: {', '.join(CANDLE_TIMEFRAMES)}")
    if rest.startswith("f"):
        symbol, _, tail = rest.partition(":")
        if not _FUNDING_SYMBOL.fullmatch(symbol) or not _FUNDING_CANDLE_TAIL.fullmatch(tail):
            raise _fail(
                f"candles: invalid funding key {key!r}; expected 'trade:{timeframe}:fUSD:p30' "
                f"or 'trade:{timeframe}:fUSD:a30:p2:p30'"
            )
        return key
    if not _TRADING_SYMBOL.fullmatch(rest):
        raise _fail(f"candles: invalid symbol {rest!r} in key {key!r}; expected {_CANDLE_HELP}")
    return key


def _check_status_key(key: Any) -> str:
    if not isinstance(key, str):
        raise _fail(f"status: key is required: {_STATUS_HELP}")
    if key == "liq:global":
        return key
    if key.startswith("deriv:") and _TRADING_SYMBOL.fullmatch(key[len("deriv:") :]):
        return key
    raise _fail(f"status: invalid key {key!r}; expected {_STATUS_HELP}")


def subscription(channel: str, **params: Any) -> Subscription:
    """Validate a channel and its parameters and return the :class:`Subscription`.

    Parameters (as Bitfinex names them; ``None`` counts as absent):

    - ``ticker`` / ``trades``: ``symbol`` (``"tBTCUSD"`` or ``"fUSD"``).
    - ``book``: ``symbol``, ``prec`` (P0-P4, R0; default P0), ``freq`` (F0/F1; default F0, not
      used by R0), ``len`` or ``length`` (1, 25, 100, 250; default 25).
    - ``candles``: ``key`` (``"trade:1m:tBTCUSD"``, ``"trade:1m:fUSD:p30"``), or ``symbol`` with
      ``timeframe`` to build it.
    - ``status``: ``key`` (``"deriv:tBTCF0:USTF0"`` or ``"liq:global"``).

    Raises:
        InvalidStreamError: unknown channel, unknown or missing parameter, or an invalid value;
            the message lists what is valid.
    """
    if channel not in CHANNELS:
        raise _fail(f"unknown channel {channel!r}; valid channels: {', '.join(CHANNELS)}")
    if "len" in params:
        if params.get("length") is not None and params["len"] is not None:
            raise _fail(f"{channel}: give either len or length, not both")
        value = params.pop("len")
        if value is not None:
            params["length"] = value
    given = {name: value for name, value in params.items() if value is not None}
    allowed = _ALLOWED_PARAMS[channel]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        shown = ", ".join("len (or length)" if name == "length" else name for name in allowed)
        raise _fail(f"{channel}: unknown parameter(s) {', '.join(unknown)}; valid: {shown}")

    if channel in ("ticker", "trades"):
        return Subscription(channel, symbol=_check_symbol(channel, given.get("symbol")))
    if channel == "book":
        symbol = _check_symbol(channel, given.get("symbol"))
        prec = given.get("prec", _DEFAULT_PREC)
        if prec not in BOOK_PRECISIONS:
            raise _fail(f"book: invalid prec {prec!r}; valid: {', '.join(BOOK_PRECISIONS)} (default P0)")
        freq = given.get("freq")
        if prec == "R0":
            # Raw books stream every order change; only the realtime frequency exists for them.
            if freq not in (None, _DEFAULT_FREQ):
                raise _fail(f"book: freq {freq!r} does not apply to raw books (prec R0); omit it")
            freq = None
        else:
            freq = _DEFAULT_FREQ if freq is None else freq
            if freq not in BOOK_FREQUENCIES:
                raise _fail(f"book: invalid freq {freq!r}; valid: F0 (realtime), F1 (every 2 s)")
        return Subscription("book", symbol=symbol, prec=prec, freq=freq, length=_check_length(given.get("length")))
    if channel == "candles":
        key: Any = given.get("key")
        if key is None and ("symbol" in given or "timeframe" in given):
            candle_symbol = given.get("symbol")
            timeframe = given.get("timeframe")
            if candle_symbol is None or timeframe is None:
                raise _fail(f"candles: give key, or both symbol and timeframe: {_CANDLE_HELP}")
            key = f"trade:{timeframe}:{candle_symbol}"
        elif "symbol" in given or "timeframe" in given:
            raise _fail("candles: give key, or symbol with timeframe, not both")
        return Subscription("candles", key=_check_candle_key(key))
    return Subscription("status", key=_check_status_key(given.get("key")))


def parse_stream(text: str) -> Subscription:
    """Parse a stream name as printed by :attr:`Subscription.stream` or typed on a command line.

    Accepted forms: ``ticker:<symbol>``, ``trades:<symbol>``,
    ``book:<symbol>[:<prec>][:<freq>][:<len>]`` (prec P0-P4/R0, freq F0/F1),
    ``candles:<key>``, ``status:<key>``.  ``parse_stream(sub.stream) == sub``.

    Raises:
        InvalidStreamError: the text is not one of these forms or a value is invalid; the message
            gives examples.
    """
    if not isinstance(text, str):
        raise _fail(f"stream name must be a string, got {type(text).__name__}; examples: {_STREAM_EXAMPLES}")
    channel, sep, rest = text.strip().partition(":")
    if not sep or not rest:
        raise _fail(f"invalid stream {text!r}; examples: {_STREAM_EXAMPLES}", stream=text)
    try:
        if channel in ("ticker", "trades"):
            return subscription(channel, symbol=rest)
        if channel in ("candles", "status"):
            return subscription(channel, key=rest)
        if channel == "book":
            return _parse_book(rest)
    except InvalidStreamError as exc:
        raise _fail(f"invalid stream {text!r}: {exc.message}; examples: {_STREAM_EXAMPLES}", stream=text) from None
    raise _fail(
        f"unknown channel {channel!r} in {text!r}; valid channels: {', '.join(CHANNELS)}; examples: {_STREAM_EXAMPLES}",
        stream=text,
    )


def _parse_book(rest: str) -> Subscription:
    parts = rest.split(":")
    # The symbol may itself contain a colon; options start at the first option-looking token.
    cut = len(parts)
    for index in range(1, len(parts)):
        if _OPTION_TOKEN.fullmatch(parts[index]):
            cut = index
            break
    symbol = ":".join(parts[:cut])
    options = parts[cut:]
    params: dict[str, Any] = {}
    for token in options:
        head = token[:1].upper()
        if head in ("P", "R") and not params:
            params["prec"] = token.upper()
        elif head == "F" and "freq" not in params and "length" not in params:
            params["freq"] = token.upper()
        elif token.isdigit() and "length" not in params:
            params["length"] = int(token)
        else:
            raise _fail(f"unexpected book option {token!r}; the order is <prec>:<freq>:<len>, e.g. P1:F1:100")
    return subscription("book", symbol=symbol, **params)


def from_message(msg: Mapping[str, Any]) -> Subscription:
    """Rebuild the subscription a ``subscribe`` request or ``subscribed`` reply names.

    Server extras (``event``, ``chanId``, ``pair``, ``currency``, ``subId``) are ignored.

    Raises:
        InvalidStreamError: the message does not name a valid public channel.
    """
    channel = msg.get("channel")
    if not isinstance(channel, str):
        raise _fail(f"message names no channel; valid channels: {', '.join(CHANNELS)}")
    if channel in ("candles", "status"):
        return subscription(channel, key=msg.get("key"))
    symbol = _echoed_symbol(msg)
    if channel == "book":
        return subscription("book", symbol=symbol, prec=msg.get("prec"), freq=msg.get("freq"), len=msg.get("len"))
    return subscription(channel, symbol=symbol)
