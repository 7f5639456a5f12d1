"""A local Backpack Exchange: WebSocket streams and the REST depth snapshot on 127.0.0.1.

:class:`BackpackSimulator` speaks Backpack's protocol closely enough for an SDK to be tested
against it without the internet:

* ``{"method":"SUBSCRIBE","params":[...]}`` / ``UNSUBSCRIBE``, several streams per frame; a
  successful (un)subscribe gets **no reply**; data arrives as ``{"stream":..,"data":{..}}``.
* Error frames exactly as the exchange writes them: ``{"id":null,"error":{"code":4006,
  "message":"Invalid stream"}}`` (unknown stream type, empty name), 4008 "Invalid depth
  window" (``depth.100ms.X``), 4002 "Parse error" (not JSON, unknown method); the socket stays
  open.  A frame with one bad stream is refused as a whole (nothing in it is subscribed).
* A well-formed stream on an unknown symbol is accepted and stays silent forever, as on the
  real exchange.
* Public streams for every configured market: ``depth.<s>`` (one delta per tick),
  ``depth.200ms|600ms|1000ms.<s>`` (aggregated), ``trade``, ``ticker``, ``bookTicker``,
  ``kline.<interval>``, ``markPrice`` and ``openInterest`` (perpetual markets) and
  ``liquidation``.  Times ``E``/``T`` are microseconds; prices and quantities are strings.
* One evolving, never-crossed book per market with contiguous per-market update ids
  (``U``..``u``), absolute quantities and deletions written as ``"0"``, ``"0.00"`` or
  ``"0.00000"``; trades and ``bookTicker`` agree with the book.  WebSocket prices keep the
  tick's decimals (``"86700.0"``); the REST snapshot ``GET /api/v1/depth`` writes them
  without trailing zeros (``"86700"``), bids ascending with the best bid last.
* Private streams (``account.orderUpdate``, ``account.positionUpdate``, ``account.rfqUpdate``,
  each optionally ``.<symbol>``) need an ED25519 signature of
  ``instruction=subscribe&timestamp=<ms>&window=<ms>`` in the SUBSCRIBE frame
  (``"signature":[key_b64, sig_b64, "<ms>", "<window ms>"]``, all strings, window <= 60000,
  timestamp within the window of ``clock``).  Refusals use the simulator's own codes
  (:data:`ERR_SIGNATURE_MISSING` 4101, :data:`ERR_SIGNATURE_INVALID` 4102,
  :data:`ERR_UNKNOWN_KEY` 4103, :data:`ERR_SIGNATURE_EXPIRED` 4104, :data:`ERR_INVALID_WINDOW`
  4105) in the usual error envelope: Backpack documents none.  UNSUBSCRIBE needs no signature.
  A valid subscription first gets the open positions (a ``positionUpdate`` without ``e``),
  then order events (orderAccepted, orderFill, orderCancelled, orderExpired, orderModified,
  triggerPlaced, triggerFailed), position events and occasional ``rfqActive``.
* Other REST routes: ``/api/v1/markets`` (symbols, tick and step sizes) and ``/api/v1/time``.

Time: every exchange cadence (aggregated depth windows, the 1 s ticker and mark price, the
60 s open interest, ...) is ``period * time_scale`` seconds, counted in ticks of
``tick_interval`` (at least one tick), so tests can run a "second" in a few ticks.  With
``tick_interval=None`` nothing moves on its own: call :meth:`BackpackSimulator.step` to
advance the market by whole ticks, which makes tests deterministic.  Given ``seed`` the
books, trades and account events are the same on every run (only wall-clock timestamps
differ).

Threads: the server runs on its own loop thread.  Every public method may be called from any
other thread; state is guarded by one lock that is never held while waiting for the loop, so
introspection methods are safe inside :meth:`SimServer.wait_for` predicates.  Frames to each
client go through a per-connection queue, so a client that stops reading never stalls the
others; one that falls ``max_queued_frames`` behind is closed with code 1008.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import json
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http import HTTPStatus
from typing import Any, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bpbfx.sim._server import SimConnection, SimServer

__all__ = [
    "DEFAULT_MARKETS",
    "DEPTH_WINDOWS",
    "ERR_INVALID_DEPTH_WINDOW",
    "ERR_INVALID_STREAM",
    "ERR_INVALID_WINDOW",
    "ERR_PARSE",
    "ERR_SIGNATURE_EXPIRED",
    "ERR_SIGNATURE_INVALID",
    "ERR_SIGNATURE_MISSING",
    "ERR_UNKNOWN_KEY",
    "KLINE_INTERVALS",
    "BackpackSimulator",
    "BookState",
    "MarketSpec",
]

T = TypeVar("T")

# --------------------------------------------------------------------------- protocol constants
# Backpack error frames as recorded on the wire (tests/data/backpack/wire_frames.jsonl).
ERR_PARSE: tuple[int, str] = (4002, "Parse error")
ERR_INVALID_STREAM: tuple[int, str] = (4006, "Invalid stream")
ERR_INVALID_DEPTH_WINDOW: tuple[int, str] = (4008, "Invalid depth window")
# Backpack documents no error code or message for a refused private subscription (checked in
# the official API docs, their AsyncAPI description and the official/ccxt clients).  These
# codes are the simulator's own, kept apart from the recorded 40xx codes so that nobody
# mistakes them for the exchange's.
ERR_SIGNATURE_MISSING: tuple[int, str] = (4101, "Signature required")
ERR_SIGNATURE_INVALID: tuple[int, str] = (4102, "Invalid signature")
ERR_UNKNOWN_KEY: tuple[int, str] = (4103, "Unknown verifying key")
ERR_SIGNATURE_EXPIRED: tuple[int, str] = (4104, "Signature expired")
ERR_INVALID_WINDOW: tuple[int, str] = (4105, "Invalid window")

#: Aggregated depth windows the exchange accepts (``depth.<window>.<symbol>``).
DEPTH_WINDOWS: tuple[str, ...] = ("200ms", "600ms", "1000ms")
#: K-line intervals the exchange accepts (``kline.<interval>.<symbol>``).
KLINE_INTERVALS: tuple[str, ...] = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1month",
)
_INTERVAL_SECONDS: dict[str, int] = {
    "1s": 1, "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200,
    "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400, "3d": 259200, "1w": 604800,
}
_PUBLIC_TYPES = ("depth", "trade", "ticker", "bookTicker", "markPrice", "openInterest")
_PRIVATE_TYPES = ("orderUpdate", "positionUpdate", "rfqUpdate")
_RE_PRIVATE = re.compile(r"account\.(orderUpdate|positionUpdate|rfqUpdate)(?:\.(\S+))?")
_RE_DEPTH_WINDOW = re.compile(r"depth\.(\d+ms)\.(\S+)")
_RE_KLINE = re.compile(r"kline\.([^.\s]+)\.(\S+)")
_RE_SIMPLE = re.compile(r"(depth|trade|ticker|bookTicker|markPrice|openInterest)\.(\S+)")
#: Backpack: X-Window "default is 5000 and maximum is 60000" (ms).
_MAX_WINDOW_MS = 60_000

# Exchange cadences in (unscaled) seconds.  ticker / markPrice: "every second"; openInterest:
# "every 60 seconds"; the others are the simulator's choice.
_PERIODS: dict[str, float] = {
    "depth.200ms": 0.2,
    "depth.600ms": 0.6,
    "depth.1000ms": 1.0,
    "ticker": 1.0,
    "markPrice": 1.0,
    "kline": 1.0,
    "openInterest": 60.0,
    "liquidation": 5.0,
    "account": 0.5,
}

_MIN_LEVELS = 20
_MAX_LEVELS = 80
_INITIAL_LEVELS = 40
_TOP = 15

_JSON_SEPARATORS = (",", ":")


# --------------------------------------------------------------------------- public value types
@dataclass(frozen=True)
class MarketSpec:
    """One simulated market.

    Attributes:
        symbol: Backpack symbol, e.g. ``"SOL_USDC"`` or ``"BTC_USDC_PERP"``.
        price: initial mid price.
        tick_size: price increment; WebSocket prices are written with its decimals (at least one).
        step_size: quantity increment; WebSocket quantities are written with its decimals.
        typical_qty: the usual size of a book level.
        perp: perpetual future (gets ``markPrice``, ``openInterest``, positions).
    """

    symbol: str
    price: Decimal
    tick_size: Decimal
    step_size: Decimal
    typical_qty: Decimal
    perp: bool = False

    @classmethod
    def for_symbol(cls, symbol: str) -> MarketSpec:
        """The default spec of ``symbol``: the built-in one if any, else a generic market
        (price 100, tick and step 0.01; perpetual when the symbol ends with ``_PERP``)."""
        for spec in DEFAULT_MARKETS:
            if spec.symbol == symbol:
                return spec
        return cls(symbol, Decimal("100"), Decimal("0.01"), Decimal("0.01"), Decimal("10"), symbol.endswith("_PERP"))


DEFAULT_MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec("SOL_USDC", Decimal("150.00"), Decimal("0.01"), Decimal("0.01"), Decimal("20")),
    MarketSpec("BTC_USDC", Decimal("86700.0"), Decimal("0.1"), Decimal("0.00001"), Decimal("0.2")),
    MarketSpec("ETH_USDC", Decimal("2760.00"), Decimal("0.01"), Decimal("0.0001"), Decimal("3")),
    MarketSpec("SOL_USDC_PERP", Decimal("150.00"), Decimal("0.01"), Decimal("0.01"), Decimal("40"), True),
    MarketSpec("BTC_USDC_PERP", Decimal("86650.0"), Decimal("0.1"), Decimal("0.00001"), Decimal("0.3"), True),
    MarketSpec("ETH_USDC_PERP", Decimal("2760.00"), Decimal("0.01"), Decimal("0.0001"), Decimal("5"), True),
)


@dataclass(frozen=True)
class BookState:
    """A copy of one simulated book, to compare with a client's local book.

    Attributes:
        symbol: the market.
        last_update_id: the id of the last update applied to this state.
        bids: ``(price, quantity)`` best (highest) first.
        asks: ``(price, quantity)`` best (lowest) first.
    """

    symbol: str
    last_update_id: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]

    @property
    def best_bid(self) -> Decimal | None:
        """Highest bid price, ``None`` when the side is empty."""
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        """Lowest ask price, ``None`` when the side is empty."""
        return self.asks[0][0] if self.asks else None


# --------------------------------------------------------------------------- internals
def _decimals(d: Decimal) -> int:
    exponent = d.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _plain(d: Decimal) -> str:
    """REST number text: no trailing zeros (``86700``, ``218.6``)."""
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=_JSON_SEPARATORS)


def _error_text(err: tuple[int, str]) -> str:
    return _dumps({"id": None, "error": {"code": err[0], "message": err[1]}})


@dataclass(frozen=True)
class _Stream:
    name: str
    kind: str  # depth, trade, ..., kline, liquidation, orderUpdate, positionUpdate, rfqUpdate
    symbol: str | None
    window: str | None = None
    interval: str | None = None

    @property
    def private(self) -> bool:
        return self.kind in _PRIVATE_TYPES


def _parse_stream(name: object) -> _Stream | tuple[int, str]:
    """Classify a stream name, or return the error the exchange answers it with."""
    if not isinstance(name, str) or not name:
        return ERR_INVALID_STREAM
    if name == "liquidation":
        return _Stream(name, "liquidation", None)
    if name.startswith("account."):
        m = _RE_PRIVATE.fullmatch(name)
        return _Stream(name, m.group(1), m.group(2)) if m else ERR_INVALID_STREAM
    m = _RE_DEPTH_WINDOW.fullmatch(name)
    if m:
        # Backpack: only 200ms, 600ms and 1000ms windows exist; others get 4008.
        if m.group(1) not in DEPTH_WINDOWS:
            return ERR_INVALID_DEPTH_WINDOW
        return _Stream(name, "depth", m.group(2), window=m.group(1))
    if name.startswith("kline."):
        m = _RE_KLINE.fullmatch(name)
        if not m or m.group(1) not in KLINE_INTERVALS:
            return ERR_INVALID_STREAM
        return _Stream(name, "kline", m.group(2), interval=m.group(1))
    m = _RE_SIMPLE.fullmatch(name)
    if m:
        return _Stream(name, m.group(1), m.group(2))
    return ERR_INVALID_STREAM


class _Side:
    """Price levels of one side: ticks -> lots, plus the prices kept sorted ascending."""

    __slots__ = ("levels", "prices")

    def __init__(self) -> None:
        self.levels: dict[int, int] = {}
        self.prices: list[int] = []

    def set(self, price: int, lots: int) -> None:
        if lots <= 0:
            if self.levels.pop(price, None) is not None:
                del self.prices[bisect.bisect_left(self.prices, price)]
        else:
            if price not in self.levels:
                bisect.insort(self.prices, price)
            self.levels[price] = lots

    def top(self, n: int, bid: bool) -> list[int]:
        return self.prices[-n:][::-1] if bid else self.prices[:n]

    def best(self, bid: bool) -> int:
        return self.prices[-1] if bid else self.prices[0]

    def __len__(self) -> int:
        return len(self.prices)


@dataclass
class _Fill:
    trade_id: int
    price: int
    lots: int
    buyer_is_maker: bool
    buyer_order: str
    seller_order: str


@dataclass
class _Window:
    every: int
    pending: dict[tuple[str, int], int] = field(default_factory=dict)
    first: int | None = None
    last: int = 0

    def add(self, first: int, last: int, changes: dict[tuple[str, int], int]) -> None:
        if self.first is None:
            self.first = first
        self.last = last
        self.pending.update(changes)

    def reset(self) -> None:
        self.pending = {}
        self.first = None


@dataclass
class _Kline:
    start: datetime
    end: datetime
    open: int
    high: int
    low: int
    close: int
    lots: int = 0
    trades: int = 0


def _kline_bounds(interval: str, now: datetime) -> tuple[datetime, datetime]:
    if interval == "1month":
        start = datetime(now.year, now.month, 1, tzinfo=timezone.utc)
        end = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=timezone.utc)
        return start, end
    secs = _INTERVAL_SECONDS[interval]
    epoch = int(now.timestamp())
    if interval == "1w":  # weeks start on Monday (1970-01-01 was a Thursday)
        days = epoch // 86400
        start_s = (days - (days + 3) % 7) * 86400
    else:
        start_s = epoch - epoch % secs
    start = datetime.fromtimestamp(start_s, tz=timezone.utc)
    return start, start + timedelta(seconds=secs)


class _Market:
    """One market's book and statistics (touched only under the simulator lock)."""

    def __init__(self, spec: MarketSpec, seed: int, windows: dict[str, int], history: int) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.rng = random.Random(f"{seed}:book:{spec.symbol}")
        self.aux = random.Random(f"{seed}:aux:{spec.symbol}")
        self.price_decimals = max(1, _decimals(spec.tick_size))
        self.qty_decimals = _decimals(spec.step_size)
        self.typical_lots = max(1, int(spec.typical_qty / spec.step_size))
        zero_long = "0." + "0" * max(1, self.qty_decimals)
        self.zero_spellings = tuple(dict.fromkeys(("0", "0.00", zero_long)))
        self.bids = _Side()
        self.asks = _Side()
        self.last_id = self.rng.randint(1_000_000_000, 7_000_000_000)
        self.trade_id = self.rng.randint(1_000_000, 400_000_000)
        mid = max(4, int(spec.price / spec.tick_size))
        price = mid - 1
        for _ in range(_INITIAL_LEVELS):
            if price <= 0:
                break
            self.bids.set(price, self._lots())
            price -= self.rng.randint(1, 3)
        price = mid + self.rng.randint(0, 2)
        for _ in range(_INITIAL_LEVELS):
            self.asks.set(price, self._lots())
            price += self.rng.randint(1, 3)
        # statistics
        self.open_price = mid
        self.last_price = mid
        self.high = mid
        self.low = mid
        self.volume_lots = 0
        self.quote_volume = Decimal(0)
        self.trade_count = 0
        self.funding = Decimal("0.0000125")
        self.open_interest_lots = self.typical_lots * 500
        self.last_top: tuple[int, int, int, int] | None = None
        self.klines: dict[str, _Kline] = {}
        # stream state and faults
        self.windows = {w: _Window(every) for w, every in windows.items()}
        self.delivered_id = self.last_id
        self.held = False
        self.hold_left: int | None = None
        self.held_deltas: list[tuple[int, int, dict[tuple[str, int], int]]] = []
        self.pending_gap = 0
        self.stale_left = 0
        self.paused = False
        self.history: deque[tuple[int, dict[int, int], dict[int, int]]] = deque(maxlen=history)
        self.remember()

    # ---- formatting
    def px(self, ticks: int | Decimal) -> str:
        """WebSocket price text: the tick's decimals, at least one (``"86700.0"``)."""
        return f"{Decimal(ticks) * self.spec.tick_size:.{self.price_decimals}f}"

    def qty(self, lots: int | Decimal) -> str:
        return f"{Decimal(lots) * self.spec.step_size:.{self.qty_decimals}f}"

    def price(self, ticks: int) -> Decimal:
        return Decimal(ticks) * self.spec.tick_size

    def size(self, lots: int) -> Decimal:
        return Decimal(lots) * self.spec.step_size

    def zero(self, u: int, price: int) -> str:
        # Backpack writes deletions as "0", "0.00", "0.00000", ...: vary it deterministically.
        return self.zero_spellings[(u + price) % len(self.zero_spellings)]

    # ---- evolution
    def _lots(self) -> int:
        return max(1, int(self.typical_lots * self.rng.expovariate(1.0)))

    def remember(self) -> None:
        self.history.append((self.last_id, dict(self.bids.levels), dict(self.asks.levels)))

    def mid_ticks(self) -> Decimal:
        return Decimal(self.bids.best(True) + self.asks.best(False)) / 2

    def random_update(self) -> tuple[dict[tuple[str, int], int], _Fill | None]:
        """Apply one engine update (one update id); returns the levels it set and its trade."""
        self.last_id += 1
        rng = self.rng
        changes: dict[tuple[str, int], int] = {}
        fill: _Fill | None = None
        is_bid = rng.random() < 0.5
        side = self.bids if is_bid else self.asks
        key = "b" if is_bid else "a"
        r = rng.random()
        if r < 0.25:
            # A taker trades against the best level of this side (hits the bid / lifts the ask).
            price = side.best(is_bid)
            level = side.levels[price]
            lots = level if rng.random() < 0.3 else rng.randint(1, level)
            self._set(side, key, price, level - lots, changes)
            self.trade_id += 1
            fill = _Fill(
                self.trade_id, price, lots, buyer_is_maker=is_bid,
                buyer_order=str(rng.randint(10**14, 10**15)), seller_order=str(rng.randint(10**14, 10**15)),
            )
        elif r < 0.6 or (r >= 0.8 and len(side) <= _MIN_LEVELS):
            price = rng.choice(side.top(_TOP, is_bid))
            self._set(side, key, price, self._lots(), changes)
        elif r < 0.8:
            best_bid, best_ask = self.bids.best(True), self.asks.best(False)
            spread = best_ask - best_bid
            if spread > 1 and rng.random() < 0.5:
                # Improve inside the spread, never reaching the other side: the book must not cross.
                inside = rng.randint(1, spread - 1)
                price = best_bid + inside if is_bid else best_ask - inside
            else:
                price = max(1, best_bid - rng.randint(0, _TOP)) if is_bid else best_ask + rng.randint(0, _TOP)
            self._set(side, key, price, self._lots(), changes)
        else:
            price = rng.choice(side.top(_TOP, is_bid))
            self._set(side, key, price, 0, changes)
        self._maintain(changes)
        return changes, fill

    def _set(self, side: _Side, key: str, price: int, lots: int, changes: dict[tuple[str, int], int]) -> None:
        side.set(price, lots)
        changes[(key, price)] = max(0, lots)

    def _maintain(self, changes: dict[tuple[str, int], int]) -> None:
        rng = self.rng
        while len(self.bids) < _MIN_LEVELS:
            price = self.bids.prices[0] - rng.randint(1, 3)
            if price <= 0:
                break
            self._set(self.bids, "b", price, self._lots(), changes)
        while len(self.asks) < _MIN_LEVELS:
            self._set(self.asks, "a", self.asks.prices[-1] + rng.randint(1, 3), self._lots(), changes)
        while len(self.bids) > _MAX_LEVELS:
            self._set(self.bids, "b", self.bids.prices[0], 0, changes)
        while len(self.asks) > _MAX_LEVELS:
            self._set(self.asks, "a", self.asks.prices[-1], 0, changes)

    def record_fill(self, fill: _Fill) -> None:
        self.last_price = fill.price
        self.high = max(self.high, fill.price)
        self.low = min(self.low, fill.price)
        self.volume_lots += fill.lots
        self.quote_volume += self.price(fill.price) * self.size(fill.lots)
        self.trade_count += 1

    def state(self, last_id: int, bids: dict[int, int], asks: dict[int, int]) -> BookState:
        return BookState(
            self.symbol,
            last_id,
            tuple((self.price(p), self.size(bids[p])) for p in sorted(bids, reverse=True)),
            tuple((self.price(p), self.size(asks[p])) for p in sorted(asks)),
        )


@dataclass
class _Position:
    id: int
    lots: int
    entry: Decimal
    realized: Decimal = Decimal(0)


@dataclass
class _Order:
    id: str
    symbol: str
    side: str
    type: str
    price: int
    lots: int
    client_id: int | None
    filled: int = 0
    quote: Decimal = Decimal(0)
    trigger: bool = False


@dataclass
class _Account:
    key: str
    rng: random.Random
    positions: dict[str, _Position] = field(default_factory=dict)
    orders: dict[str, _Order] = field(default_factory=dict)
    steps: int = 0
    next_trade_id: int = 0


@dataclass(eq=False)
class _Client:
    conn: SimConnection
    outbox: asyncio.Queue[str]
    writer: asyncio.Task[None] | None = None
    streams: dict[str, _Stream] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # private stream -> verifying key
    first_u: dict[str, int] = field(default_factory=dict)  # depth stream -> first U sent
    overflowed: bool = False


# --------------------------------------------------------------------------- the simulator
class BackpackSimulator(SimServer):
    """A Backpack Exchange WebSocket + REST server on 127.0.0.1 (see the module docstring).

    Args:
        host: interface to bind (loopback).
        port: TCP port, 0 for any free port (read back :attr:`port` / :attr:`url`).
        tick_interval: seconds between market ticks; ``None`` to advance only with :meth:`step`.
        ping_interval: seconds between protocol pings; default 60, as the exchange does
            (Backpack pings every 60 s and closes a socket with no Pong within 120 s); ``None``
            for none.
        seed: makes books, trades and account events reproducible; ``None`` picks one (kept in
            :attr:`seed`).
        markets: symbols (built-in or generic specs, see :meth:`MarketSpec.for_symbol`) or
            :class:`MarketSpec` values.
        accounts: verifying keys (base64) accepted for private streams; ``None`` accepts any
            key whose signature verifies.
        time_scale: multiplies every exchange cadence (1.0 = real time, 0.01 = a "second"
            lasts 10 ms); a cadence is never shorter than one tick.
        clock: wall clock in seconds (``time.time``) for timestamps and signature windows.
        history_ticks: how many past book states are kept (stale snapshots, :meth:`book`).
        max_queued_frames: a client this many frames behind is closed with code 1008.
        string_times_every: if N > 0, every Nth public data frame writes ``E``/``T`` as strings
            (seen on the wire); 0 never.

    Raises:
        ValueError: an argument is out of range or a market is listed twice.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_interval: float | None = 0.05,
        ping_interval: float | None = 60.0,
        seed: int | None = None,
        markets: Sequence[str | MarketSpec] = DEFAULT_MARKETS,
        accounts: Iterable[str] | None = None,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
        history_ticks: int = 256,
        max_queued_frames: int = 100_000,
        string_times_every: int = 0,
    ) -> None:
        super().__init__(host=host, port=port, tick_interval=tick_interval, ping_interval=ping_interval)
        if tick_interval is not None and tick_interval <= 0:
            raise ValueError(f"tick_interval must be > 0 or None, got {tick_interval!r}")
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
        if history_ticks < 2:
            raise ValueError(f"history_ticks must be >= 2, got {history_ticks!r}")
        if max_queued_frames < 1:
            raise ValueError(f"max_queued_frames must be >= 1, got {max_queued_frames!r}")
        if string_times_every < 0:
            raise ValueError(f"string_times_every must be >= 0, got {string_times_every!r}")
        specs = [m if isinstance(m, MarketSpec) else MarketSpec.for_symbol(m) for m in markets]
        if not specs:
            raise ValueError("markets must not be empty")
        symbols = [s.symbol for s in specs]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"markets listed twice in {symbols}")
        self.seed: int = seed if seed is not None else random.SystemRandom().randrange(2**63)
        self.time_scale = time_scale
        self._nominal_tick = tick_interval if tick_interval is not None else 0.05
        self._clock = clock
        self._accounts_allowed = frozenset(accounts) if accounts is not None else None
        self._max_queued = max_queued_frames
        self._string_times_every = string_times_every
        self._rng = random.Random(f"{self.seed}:global")
        windows = {w: self.cadence_ticks(f"depth.{w}") for w in DEPTH_WINDOWS}
        self._markets: dict[str, _Market] = {s.symbol: _Market(s, self.seed, windows, history_ticks) for s in specs}
        self._clients: dict[int, _Client] = {}
        self._subs: dict[str, set[int]] = {}
        self._accounts: dict[str, _Account] = {}
        self._ticks = 0
        self._data_frames = 0
        self._rest_failures: tuple[int, int] = (0, 503)
        self._counters: dict[str, int] = {
            "ticks": 0,
            "depth_deltas": 0,
            "rest_depth_requests": 0,
            "signatures_verified": 0,
            "signatures_rejected": 0,
            "errors_sent": 0,
            "frames_queued": 0,
            "slow_consumers": 0,
        }

    # ------------------------------------------------------------------ helpers
    def cadence_ticks(self, name: str) -> int:
        """Ticks between two events of cadence ``name`` (``"depth.200ms"``, ``"depth.600ms"``,
        ``"depth.1000ms"``, ``"ticker"``, ``"markPrice"``, ``"kline"``, ``"openInterest"``,
        ``"liquidation"``, ``"account"``), after ``time_scale``; any thread.

        Raises:
            ValueError: unknown cadence name.
        """
        try:
            period = _PERIODS[name]
        except KeyError:
            raise ValueError(f"unknown cadence {name!r}; known: {sorted(_PERIODS)}") from None
        return max(1, round(period * self.time_scale / self._nominal_tick))

    @property
    def markets(self) -> tuple[str, ...]:
        """The simulated symbols."""
        return tuple(self._markets)

    def _market(self, symbol: str) -> _Market:
        try:
            return self._markets[symbol]
        except KeyError:
            raise ValueError(f"unknown market {symbol!r}; simulated: {list(self._markets)}") from None

    def _now_us(self) -> int:
        return int(self._clock() * 1_000_000)

    def _stamp(self, data: dict[str, Any], now_us: int, salt: int, engine: bool = True) -> dict[str, Any]:
        """Set ``E`` (event time) and, with ``engine``, ``T`` (engine time, a little earlier),
        in microseconds."""
        self._data_frames += 1
        as_text = bool(self._string_times_every) and self._data_frames % self._string_times_every == 0
        # Backpack has been seen writing E/T as strings: clients must parse leniently.
        data["E"] = str(now_us) if as_text else now_us
        if engine:
            engine_us = now_us - 50 - salt % 400
            data["T"] = str(engine_us) if as_text else engine_us
        return data

    def _enqueue(self, cid: int, text: str) -> None:
        client = self._clients.get(cid)
        if client is None or client.overflowed:
            return
        if client.outbox.qsize() >= self._max_queued:
            client.overflowed = True
            self._counters["slow_consumers"] += 1
            self.spawn(client.conn.ws.close(1008, "slow consumer"))
            return
        client.outbox.put_nowait(text)
        self._counters["frames_queued"] += 1

    def _send_error(self, cid: int, err: tuple[int, str]) -> None:
        self._counters["errors_sent"] += 1
        self._enqueue(cid, _error_text(err))

    def _has_subs(self, stream: str) -> bool:
        return bool(self._subs.get(stream))

    def _publish(self, stream: str, data: dict[str, Any]) -> None:
        subs = self._subs.get(stream)
        if not subs:
            return
        text = _dumps({"stream": stream, "data": data})
        for cid in sorted(subs):
            self._enqueue(cid, text)

    # ------------------------------------------------------------------ connection hooks
    async def on_connect(self, conn: SimConnection) -> None:
        """Register the client and start its writer task (loop thread)."""
        client = _Client(conn, asyncio.Queue())
        with self._lock:
            self._clients[conn.id] = client
        client.writer = self.spawn(self._writer(client))

    async def on_disconnect(self, conn: SimConnection) -> None:
        """Forget the client's subscriptions and stop its writer (loop thread)."""
        with self._lock:
            client = self._clients.pop(conn.id, None)
            if client is None:
                return
            for name in client.streams:
                self._unindex(name, conn.id)
        if client.writer is not None:
            client.writer.cancel()

    async def _writer(self, client: _Client) -> None:
        while True:
            text = await client.outbox.get()
            await client.conn.send(text)

    def _unindex(self, name: str, cid: int) -> None:
        subs = self._subs.get(name)
        if subs is not None:
            subs.discard(cid)
            if not subs:
                del self._subs[name]

    async def on_message(self, conn: SimConnection, message: str | bytes) -> None:
        """Handle SUBSCRIBE / UNSUBSCRIBE (loop thread); bad frames get an error frame."""
        try:
            text = message if isinstance(message, str) else message.decode("utf-8")
            frame = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            self.record(conn, message)
            with self._lock:
                self._send_error(conn.id, ERR_PARSE)  # Backpack: not JSON -> 4002, socket stays open
            return
        self.record(conn, frame)
        with self._lock:
            self._handle_request(conn.id, frame)
        self.notify()

    def _handle_request(self, cid: int, frame: Any) -> None:
        # Backpack: an unknown method (or a frame without a params list) is a 4002 Parse error.
        if (
            not isinstance(frame, dict)
            or frame.get("method") not in ("SUBSCRIBE", "UNSUBSCRIBE")
            or not isinstance(frame.get("params"), list)
        ):
            self._send_error(cid, ERR_PARSE)
            return
        parsed: list[_Stream] = []
        for name in frame["params"]:
            result = _parse_stream(name)
            if isinstance(result, tuple):
                self._send_error(cid, result)  # the whole frame is refused
                return
            parsed.append(result)
        client = self._clients.get(cid)
        if client is None:
            return
        if frame["method"] == "UNSUBSCRIBE":
            for st in parsed:
                if client.streams.pop(st.name, None) is not None:
                    self._unindex(st.name, cid)
                client.keys.pop(st.name, None)
                client.first_u.pop(st.name, None)
            return
        key: str | None = None
        if any(st.private for st in parsed):
            verdict = self._verify(frame.get("signature"))
            if isinstance(verdict, tuple):
                self._counters["signatures_rejected"] += 1
                self._send_error(cid, verdict)
                return
            self._counters["signatures_verified"] += 1
            key = verdict
        now_us = self._now_us()
        for st in parsed:
            new = st.name not in client.streams
            client.streams[st.name] = st
            self._subs.setdefault(st.name, set()).add(cid)
            if st.kind == "kline" and st.symbol in self._markets and st.interval is not None:
                self._kline(self._markets[st.symbol], st.interval, now_us)
            if st.private and key is not None:
                client.keys[st.name] = key
                account = self._account(key)
                if new and st.kind == "positionUpdate":
                    # Backpack: on subscription the open positions are sent, without an "e" field.
                    for symbol in sorted(account.positions):
                        if st.symbol is None or st.symbol == symbol:
                            data = self._position_data(account, symbol, None, now_us)
                            self._enqueue(cid, _dumps({"stream": st.name, "data": data}))

    def _verify(self, signature: object) -> str | tuple[int, str]:
        """Check a private SUBSCRIBE's ``signature``; the verifying key or the error to send."""
        if signature is None:
            return ERR_SIGNATURE_MISSING
        if not (isinstance(signature, list) and len(signature) == 4 and all(isinstance(x, str) for x in signature)):
            return ERR_SIGNATURE_INVALID
        key_b64, sig_b64, ts_text, window_text = signature
        try:
            timestamp, window = int(ts_text), int(window_text)
        except ValueError:
            return ERR_SIGNATURE_INVALID
        if not 0 < window <= _MAX_WINDOW_MS:
            return ERR_INVALID_WINDOW
        if self._accounts_allowed is not None and key_b64 not in self._accounts_allowed:
            return ERR_UNKNOWN_KEY
        now_ms = int(self._clock() * 1000)
        if now_ms - timestamp > window or timestamp - now_ms > window:
            return ERR_SIGNATURE_EXPIRED
        # Backpack: sign the exact text "instruction=subscribe&timestamp=<ms>&window=<ms>".
        text = f"instruction=subscribe&timestamp={ts_text}&window={window_text}".encode()
        try:
            public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key_b64, validate=True))
            public.verify(base64.b64decode(sig_b64, validate=True), text)
        except (ValueError, InvalidSignature):  # binascii.Error is a ValueError
            return ERR_SIGNATURE_INVALID
        return str(key_b64)

    # ------------------------------------------------------------------ market generation
    async def on_tick(self) -> None:
        """Advance every market by one tick and queue the resulting frames (loop thread)."""
        with self._lock:
            self._tick()
        self.notify()

    def _tick(self) -> None:
        self._ticks += 1
        self._counters["ticks"] = self._ticks
        now_us = self._now_us()
        for m in self._markets.values():
            if not m.paused:
                self._tick_market(m, now_us)
        if self._ticks % self.cadence_ticks("liquidation") == 0:
            self._liquidation(now_us)
        if self._ticks % self.cadence_ticks("account") == 0:
            active = {key for c in self._clients.values() for key in c.keys.values()}
            for key in sorted(active):
                self._account_step(self._account(key), now_us)

    def _tick_market(self, m: _Market, now_us: int) -> None:
        if m.pending_gap:
            # Updates that happen but are never delivered: the next delta's U jumps past them.
            for _ in range(m.pending_gap):
                m.random_update()
            m.pending_gap = 0
            for w in m.windows.values():
                w.reset()
        first = m.last_id + 1
        changes: dict[tuple[str, int], int] = {}
        fills: list[_Fill] = []
        for _ in range(m.rng.randint(1, 3)):
            c, f = m.random_update()
            changes.update(c)
            if f is not None:
                fills.append(f)
        last = m.last_id
        m.remember()
        if m.held:
            m.held_deltas.append((first, last, changes))
        else:
            self._emit_depth(m, f"depth.{m.symbol}", first, last, changes, now_us)
            m.delivered_id = last
        for name, w in m.windows.items():
            w.add(first, last, changes)
            if not m.held and self._ticks % w.every == 0:
                self._flush_window(m, name, w, now_us)
        for fill in fills:
            m.record_fill(fill)
            self._emit_trade(m, fill, now_us)
            for interval in list(m.klines):
                self._kline(m, interval, now_us, fill)
        best_bid, best_ask = m.bids.best(True), m.asks.best(False)
        top = (best_bid, m.bids.levels[best_bid], best_ask, m.asks.levels[best_ask])
        if top != m.last_top:
            m.last_top = top
            stream = f"bookTicker.{m.symbol}"
            if self._has_subs(stream):
                data = {"e": "bookTicker", "s": m.symbol, "a": m.px(top[2]), "A": m.qty(top[3]),
                        "b": m.px(top[0]), "B": m.qty(top[1]), "u": last}
                self._publish(stream, self._stamp(data, now_us, last))
        self._periodic(m, now_us)
        if m.held and m.hold_left is not None:
            m.hold_left -= 1
            if m.hold_left <= 0:
                self._release(m, now_us)

    def _emit_depth(
        self, m: _Market, stream: str, first: int, last: int, changes: dict[tuple[str, int], int], now_us: int
    ) -> None:
        subs = self._subs.get(stream)
        if not subs or not changes:
            return

        def levels(side: str) -> list[list[str]]:
            prices = sorted(p for s, p in changes if s == side)
            return [[m.px(p), m.qty(changes[(side, p)]) if changes[(side, p)] else m.zero(last, p)] for p in prices]

        data = {"e": "depth", "s": m.symbol, "a": levels("a"), "b": levels("b"), "U": first, "u": last}
        text = _dumps({"stream": stream, "data": self._stamp(data, now_us, last)})
        self._counters["depth_deltas"] += 1
        for cid in sorted(subs):
            client = self._clients.get(cid)
            if client is not None:
                client.first_u.setdefault(stream, first)
                self._enqueue(cid, text)

    def _flush_window(self, m: _Market, name: str, w: _Window, now_us: int) -> None:
        if w.first is not None and w.pending:
            self._emit_depth(m, f"depth.{name}.{m.symbol}", w.first, w.last, w.pending, now_us)
        w.reset()

    def _release(self, m: _Market, now_us: int) -> None:
        m.held = False
        m.hold_left = None
        for first, last, changes in m.held_deltas:
            self._emit_depth(m, f"depth.{m.symbol}", first, last, changes, now_us)
            m.delivered_id = last
        m.held_deltas = []
        for name, w in m.windows.items():
            self._flush_window(m, name, w, now_us)

    def _emit_trade(self, m: _Market, fill: _Fill, now_us: int) -> None:
        stream = f"trade.{m.symbol}"
        if self._has_subs(stream):
            data = {"e": "trade", "s": m.symbol, "p": m.px(fill.price), "q": m.qty(fill.lots),
                    "b": fill.buyer_order, "a": fill.seller_order, "t": fill.trade_id, "m": fill.buyer_is_maker}
            self._publish(stream, self._stamp(data, now_us, fill.trade_id))

    def _periodic(self, m: _Market, now_us: int) -> None:
        sym = m.symbol
        if self._ticks % self.cadence_ticks("ticker") == 0 and self._has_subs(f"ticker.{sym}"):
            data = {"e": "ticker", "s": sym, "o": m.px(m.open_price), "c": m.px(m.last_price),
                    "h": m.px(m.high), "l": m.px(m.low), "v": m.qty(m.volume_lots),
                    "V": f"{m.quote_volume:.{m.price_decimals + m.qty_decimals}f}", "n": m.trade_count}
            self._publish(f"ticker.{sym}", self._stamp(data, now_us, m.trade_count, engine=False))
        if self._ticks % self.cadence_ticks("kline") == 0:
            for interval in list(m.klines):
                self._kline(m, interval, now_us, periodic=True)
        if not m.spec.perp:
            return
        if self._ticks % self.cadence_ticks("markPrice") == 0:
            funding = m.funding + Decimal(m.aux.randint(-25, 25)) / 10**8
            m.funding = funding.max(Decimal("-0.001")).min(Decimal("0.001"))
            index = m.mid_ticks() + m.aux.randint(-3, 3)
            if self._has_subs(f"markPrice.{sym}"):
                mark = m.mid_ticks().quantize(Decimal(1))
                next_funding_ms = (now_us // 3_600_000_000 + 1) * 3_600_000  # next whole hour, in ms
                data = {"e": "markPrice", "s": sym, "p": m.px(mark), "f": f"{m.funding:.8f}",
                        "i": m.px(index.quantize(Decimal(1))), "n": next_funding_ms}
                self._publish(f"markPrice.{sym}", self._stamp(data, now_us, m.last_id))
        if self._ticks % self.cadence_ticks("openInterest") == 0:
            drift = m.aux.randint(-m.typical_lots, m.typical_lots)
            m.open_interest_lots = max(m.typical_lots, m.open_interest_lots + drift)
            if self._has_subs(f"openInterest.{sym}"):
                data = {"e": "openInterest", "s": sym, "o": m.qty(m.open_interest_lots)}
                # Backpack: openInterest carries e, E, s, o only.
                self._publish(f"openInterest.{sym}", self._stamp(data, now_us, m.last_id, engine=False))

    def _kline(
        self, m: _Market, interval: str, now_us: int, fill: _Fill | None = None, periodic: bool = False
    ) -> None:
        """Roll and update the ``interval`` candle of ``m``; publish on close and on cadence."""
        now = datetime.fromtimestamp(now_us / 1_000_000, tz=timezone.utc)
        stream = f"kline.{interval}.{m.symbol}"
        k = m.klines.get(interval)
        if k is None or now >= k.end:
            if k is not None:
                self._publish_kline(m, stream, k, True, now_us)
            price = m.last_price
            start, end = _kline_bounds(interval, now)
            k = m.klines[interval] = _Kline(start, end, price, price, price, price)
        if fill is not None:
            k.high, k.low, k.close = max(k.high, fill.price), min(k.low, fill.price), fill.price
            k.lots += fill.lots
            k.trades += 1
        if periodic:
            self._publish_kline(m, stream, k, False, now_us)

    def _publish_kline(self, m: _Market, stream: str, k: _Kline, closed: bool, now_us: int) -> None:
        if self._has_subs(stream):
            data: dict[str, Any] = {"e": "kline", "s": m.symbol, "t": _iso(k.start), "T": _iso(k.end),
                                    "o": m.px(k.open), "c": m.px(k.close), "h": m.px(k.high), "l": m.px(k.low),
                                    "v": m.qty(k.lots), "n": k.trades, "X": closed}
            # kline T is the close time (ISO text), not an engine time.
            self._publish(stream, self._stamp(data, now_us, k.trades, engine=False))

    def _liquidation(self, now_us: int) -> None:
        perps = [m for m in self._markets.values() if m.spec.perp and not m.paused]
        if not perps:
            return
        m = self._rng.choice(perps)
        side = "Bid" if self._rng.random() < 0.5 else "Ask"
        price = m.mid_ticks().quantize(Decimal(1)) + self._rng.randint(-20, 20)
        lots = max(1, int(m.typical_lots * self._rng.expovariate(2.0)))
        if self._has_subs("liquidation"):
            data = {"e": "liquidation", "q": m.qty(lots), "p": m.px(price), "S": side, "s": m.symbol}
            self._publish("liquidation", self._stamp(data, now_us, lots))

    # ------------------------------------------------------------------ accounts
    def _account(self, key: str) -> _Account:
        account = self._accounts.get(key)
        if account is None:
            account = _Account(key, random.Random(f"{self.seed}:account:{key}"))
            account.next_trade_id = account.rng.randint(1_000_000, 9_000_000)
            # Open positions on the first two perpetual markets: one long, one short.
            for n, m in enumerate([m for m in self._markets.values() if m.spec.perp][:2]):
                lots = m.typical_lots // 4 if n == 0 else -max(1, m.typical_lots // 8)
                account.positions[m.symbol] = _Position(account.rng.randint(10**9, 10**10), lots, m.price(m.open_price))
            self._accounts[key] = account
        return account

    def _emit_private(self, account: _Account, kind: str, symbol: str, data: dict[str, Any]) -> None:
        for cid in sorted(self._clients):
            client = self._clients[cid]
            for name, key in client.keys.items():
                st = client.streams.get(name)
                if key == account.key and st is not None and st.kind == kind and st.symbol in (None, symbol):
                    self._enqueue(cid, _dumps({"stream": name, "data": data}))

    def _position_data(self, account: _Account, symbol: str, event: str | None, now_us: int) -> dict[str, Any]:
        m = self._markets[symbol]
        pos = account.positions[symbol]
        mark = m.mid_ticks() * m.spec.tick_size
        qty = m.size(abs(pos.lots))
        signed = m.size(pos.lots)
        unrealized = (mark - pos.entry) * signed
        liq = pos.entry * (Decimal("0.5") if pos.lots > 0 else Decimal("1.5")) if pos.lots else Decimal(0)
        places = m.price_decimals
        data: dict[str, Any] = {}
        if event is not None:
            data["e"] = event
        data.update({
            "s": symbol,
            "b": f"{pos.entry + pos.entry * Decimal('0.0005'):.{places}f}",
            "B": f"{pos.entry:.{places}f}",
            "l": f"{liq:.{places}f}",
            "f": "0.02",
            "M": f"{mark:.{places + 2}f}",
            "m": "0.0125",
            "q": f"{signed:.{m.qty_decimals}f}",
            "Q": f"{qty:.{m.qty_decimals}f}",
            "n": f"{mark * qty:.4f}",
            "i": pos.id,
            "p": f"{pos.realized:.6f}",
            "P": f"{unrealized:.6f}",
        })
        return self._stamp(data, now_us, pos.id)

    def _order_data(self, o: _Order, event: str, status: str, now_us: int, **extra: Any) -> dict[str, Any]:
        m = self._markets[o.symbol]
        data: dict[str, Any] = {"e": event, "s": o.symbol}
        if o.client_id is not None:
            data["c"] = o.client_id
        data.update({"S": o.side, "o": o.type, "f": "GTC" if o.type == "LIMIT" else "IOC", "q": m.qty(o.lots)})
        if o.type == "LIMIT":
            data["p"] = m.px(o.price)
        if o.trigger:
            data.update({"P": m.px(o.price), "B": "LastPrice", "Y": m.qty(o.lots)})
        quote = f"{o.quote:.{m.price_decimals + m.qty_decimals}f}"
        data.update({"X": status, "i": o.id, "z": m.qty(o.filled), "Z": quote,
                     "V": "RejectTaker", "r": False, "O": "USER"})
        data.update(extra)
        return self._stamp(data, now_us, int(o.id) % 1000)

    def _account_step(self, account: _Account, now_us: int) -> None:
        """One step of an account's life: an order placed, filled, cancelled, ..."""
        rng = account.rng
        account.steps += 1
        if account.steps % 5 == 0:
            spot = [m for m in self._markets.values() if not m.spec.perp] or list(self._markets.values())
            m = rng.choice(spot)
            symbol = m.symbol.split("_")[0] + "_USDC_RFQ"
            now_ms = now_us // 1000
            data = {"e": "rfqActive", "R": rng.randint(10**17, 10**18), "s": symbol, "q": m.qty(m.typical_lots),
                    "w": now_ms + 30_000, "W": now_ms + 60_000, "X": "New"}
            self._emit_private(account, "rfqUpdate", symbol, self._stamp(data, now_us, account.steps))
        if not account.orders or (len(account.orders) < 8 and rng.random() < 0.45):
            self._new_order(account, now_us)
            return
        o = account.orders[rng.choice(sorted(account.orders))]
        if o.trigger:
            if rng.random() < 0.5:
                del account.orders[o.id]
                self._emit_private(account, "orderUpdate", o.symbol,
                                   self._order_data(o, "triggerFailed", "TriggerFailed", now_us))
            else:
                o.trigger = False
                data = self._order_data(o, "orderAccepted", "New", now_us)
                self._emit_private(account, "orderUpdate", o.symbol, data)
            return
        r = rng.random()
        if r < 0.5:
            self._fill(account, o, now_us)
        elif r < 0.8 or o.lots - o.filled < 2:
            del account.orders[o.id]
            data = self._order_data(o, "orderCancelled", "Cancelled", now_us)
            self._emit_private(account, "orderUpdate", o.symbol, data)
        elif r < 0.9:
            del account.orders[o.id]
            self._emit_private(account, "orderUpdate", o.symbol,
                               self._order_data(o, "orderExpired", "Expired", now_us, R="PRICE_BAND"))
        else:
            o.lots -= rng.randint(1, o.lots - o.filled - 1)
            status = "PartiallyFilled" if o.filled else "New"
            self._emit_private(account, "orderUpdate", o.symbol, self._order_data(o, "orderModified", status, now_us))

    def _new_order(self, account: _Account, now_us: int) -> None:
        rng = account.rng
        m = self._markets[rng.choice(sorted(self._markets))]
        side = "Bid" if rng.random() < 0.5 else "Ask"
        lots = max(1, int(m.typical_lots * rng.expovariate(4.0)))
        best_bid, best_ask = m.bids.best(True), m.asks.best(False)
        kind = rng.random()
        order_id = str(rng.randint(10**15, 10**16))
        client_id = rng.randint(1, 2**31) if rng.random() < 0.5 else None
        if kind < 0.15:
            o = _Order(order_id, m.symbol, side, "MARKET", best_ask if side == "Bid" else best_bid, lots, client_id)
            account.orders[o.id] = o
            self._emit_private(account, "orderUpdate", o.symbol, self._order_data(o, "orderAccepted", "New", now_us))
            self._fill(account, o, now_us, whole=True)
            return
        price = best_bid - rng.randint(0, 5) if side == "Bid" else best_ask + rng.randint(0, 5)
        o = _Order(order_id, m.symbol, side, "LIMIT", max(1, price), lots, client_id)
        account.orders[o.id] = o
        if kind < 0.25:
            o.trigger = True
            self._emit_private(account, "orderUpdate", o.symbol,
                               self._order_data(o, "triggerPlaced", "TriggerPending", now_us))
        else:
            self._emit_private(account, "orderUpdate", o.symbol, self._order_data(o, "orderAccepted", "New", now_us))

    def _fill(self, account: _Account, o: _Order, now_us: int, whole: bool = False) -> None:
        rng = account.rng
        m = self._markets[o.symbol]
        remaining = o.lots - o.filled
        lots = remaining if whole or remaining == 1 or rng.random() < 0.5 else rng.randint(1, remaining - 1)
        o.filled += lots
        price = m.price(o.price)
        notional = price * m.size(lots)
        o.quote += notional
        maker = o.type == "LIMIT"
        fee = notional * (Decimal("0.0002") if maker else Decimal("0.0005"))
        account.next_trade_id += 1
        done = o.filled >= o.lots
        if done:
            del account.orders[o.id]
        fill = {"t": account.next_trade_id, "l": m.qty(lots), "L": m.px(o.price), "m": maker,
                "n": f"{fee:.6f}", "N": o.symbol.split("_")[1] if "_" in o.symbol else "USDC"}
        self._emit_private(account, "orderUpdate", o.symbol,
                           self._order_data(o, "orderFill", "Filled" if done else "PartiallyFilled", now_us, **fill))
        if m.spec.perp:
            self._move_position(account, m, lots if o.side == "Bid" else -lots, price, now_us)

    def _move_position(self, account: _Account, m: _Market, delta: int, price: Decimal, now_us: int) -> None:
        pos = account.positions.get(m.symbol)
        if pos is None:
            pos = account.positions[m.symbol] = _Position(account.rng.randint(10**9, 10**10), delta, price)
            event = "positionOpened"
        else:
            old = pos.lots
            new = old + delta
            if old * delta < 0:  # reducing: realize the closed part
                closed = min(abs(delta), abs(old)) * (1 if old > 0 else -1)
                pos.realized += (price - pos.entry) * m.size(closed)
                if new * old < 0:
                    pos.entry = price
            else:
                pos.entry = (pos.entry * abs(old) + price * abs(delta)) / abs(new)
            pos.lots = new
            event = "positionClosed" if new == 0 else "positionAdjusted"
        self._emit_private(account, "positionUpdate", m.symbol, self._position_data(account, m.symbol, event, now_us))
        if pos.lots == 0:
            del account.positions[m.symbol]

    # ------------------------------------------------------------------ REST
    def http_get(self, path: str, params: dict[str, str]) -> tuple[int, Any] | None:
        """Answer REST GETs (loop thread): ``/api/v1/depth``, ``/api/v1/markets``, ``/api/v1/time``."""
        with self._lock:
            left, status = self._rest_failures
            if left > 0 and path.startswith("/api/"):
                self._rest_failures = (left - 1, status)
                code = {429: "TOO_MANY_REQUESTS", 503: "SERVICE_UNAVAILABLE"}.get(status, "INTERNAL_SERVER_ERROR")
                return status, {"code": code, "message": HTTPStatus(status).phrase}
            if path == "/api/v1/depth":
                return self._rest_depth(params)
            if path == "/api/v1/time":
                return 200, int(self._clock() * 1000)
            if path == "/api/v1/markets":
                return 200, [self._market_info(m) for m in self._markets.values()]
        return None

    def _market_info(self, m: _Market) -> dict[str, Any]:
        base, _, quote = m.symbol.partition("_")
        return {
            "symbol": m.symbol,
            "baseSymbol": base,
            "quoteSymbol": quote.removesuffix("_PERP") or "USDC",
            "marketType": "PERP" if m.spec.perp else "SPOT",
            "filters": {"price": {"tickSize": _plain(m.spec.tick_size)},
                        "quantity": {"stepSize": _plain(m.spec.step_size)}},
            "orderBookState": "Open",
        }

    def _rest_depth(self, params: dict[str, str]) -> tuple[int, Any]:
        symbol = params.get("symbol")
        if not symbol:
            return 400, {"code": "INVALID_CLIENT_REQUEST", "message": "Missing symbol"}
        m = self._markets.get(symbol)
        if m is None:
            # Backpack REST errors are {"code": "<UPPER_CASE>", "message": "..."}.
            return 400, {"code": "INVALID_CLIENT_REQUEST", "message": "Market not found"}
        try:
            limit = int(params.get("limit", "1000"))
        except ValueError:
            limit = 0
        if not 0 < limit <= 1000:
            return 400, {"code": "INVALID_CLIENT_REQUEST", "message": "Invalid limit"}
        self._counters["rest_depth_requests"] += 1
        if m.stale_left > 0:
            m.stale_left -= 1
            last_id, bids, asks = self._stale_state(m)
        else:
            last_id, bids, asks = m.last_id, m.bids.levels, m.asks.levels
        bid_prices = sorted(bids, reverse=True)[:limit][::-1]  # Backpack REST: bids ascending, best LAST
        ask_prices = sorted(asks)[:limit]
        return 200, {
            "asks": [[_plain(m.price(p)), _plain(m.size(asks[p]))] for p in ask_prices],
            "bids": [[_plain(m.price(p)), _plain(m.size(bids[p]))] for p in bid_prices],
            "lastUpdateId": str(last_id),
            "timestamp": self._now_us(),
        }

    def _stale_state(self, m: _Market) -> tuple[int, dict[int, int], dict[int, int]]:
        """A past book older than the first delta any current depth subscriber received."""
        firsts = [
            u for c in self._clients.values() for name, u in c.first_u.items()
            if name in c.streams and c.streams[name].symbol == m.symbol
        ]
        target = min(firsts) if firsts else m.last_id + 1
        for last_id, bids, asks in reversed(m.history):
            if last_id + 1 < target:
                return last_id, bids, asks
        last_id, bids, asks = m.history[0]  # history too short: claim an id that is behind anyway
        return min(last_id, target - 2), bids, asks

    # ------------------------------------------------------------------ fault controls
    def step(self, ticks: int = 1) -> None:
        """Advance the market by ``ticks`` ticks now and queue their frames; returns when done.

        Runs on the server loop; call from any other thread.  Works with or without the
        automatic ticker (``tick_interval=None`` makes tests deterministic).

        Raises:
            RuntimeError: the simulator is not started.
            ValueError: ``ticks`` < 1.
        """
        if ticks < 1:
            raise ValueError(f"ticks must be >= 1, got {ticks!r}")

        async def go() -> None:
            for _ in range(ticks):
                await self.on_tick()

        self.call(go)

    def inject_gap(self, symbol: str, skip: int = 1) -> None:
        """On ``symbol``'s next tick, apply ``skip`` book updates that are never delivered.

        The realtime ``depth.<symbol>`` delta after it has ``U`` = previous ``u`` + 1 + ``skip``;
        aggregated streams also drop what they had pending, so their next ``U`` jumps at least
        as far.  REST and :meth:`book` include the skipped updates.  Any thread.

        Raises:
            ValueError: unknown symbol or ``skip`` < 1.
        """
        if skip < 1:
            raise ValueError(f"skip must be >= 1, got {skip!r}")
        with self._lock:
            self._market(symbol).pending_gap += skip

    def hold_depth(self, symbol: str, n_ticks: int | None = None) -> None:
        """Hold back ``symbol``'s depth deltas (all windows) for ``n_ticks`` ticks, or until
        :meth:`release_depth` when ``None``, then deliver them all at once, in order.

        Meanwhile the book keeps moving, so the REST snapshot is AHEAD of the socket (its
        ``lastUpdateId`` is beyond every delivered ``u``).  Trades and ``bookTicker`` keep
        flowing.  Any thread.

        Raises:
            ValueError: unknown symbol or ``n_ticks`` < 1.
        """
        if n_ticks is not None and n_ticks < 1:
            raise ValueError(f"n_ticks must be >= 1 or None, got {n_ticks!r}")
        with self._lock:
            m = self._market(symbol)
            m.held = True
            m.hold_left = n_ticks

    def release_depth(self, symbol: str) -> int:
        """Deliver ``symbol``'s held depth deltas now; returns how many realtime deltas were held.

        Any thread (runs on the server loop when it is running).

        Raises:
            ValueError: unknown symbol.
        """
        m = self._market(symbol)

        def go() -> int:
            held = len(m.held_deltas)
            if m.held:
                self._release(m, self._now_us())
            return held

        return self._run_locked(go)

    def stale_snapshots(self, symbol: str, count: int = 1) -> None:
        """Answer the next ``count`` REST depth requests for ``symbol`` with a STALE snapshot.

        Its ``lastUpdateId`` + 1 is below the first delta already sent to every current depth
        subscriber of ``symbol`` (or below the next delta when there is none), so a client that
        buffered from its subscription cannot align and must fetch again.  Any thread.

        Raises:
            ValueError: unknown symbol or ``count`` < 1.
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        with self._lock:
            self._market(symbol).stale_left = count

    def fail_rest(self, count: int = 1, status: int = 503) -> None:
        """Answer the next ``count`` REST requests with HTTP ``status`` and a Backpack-style
        error body.  Any thread.

        Raises:
            ValueError: ``count`` < 0 or ``status`` not an HTTP error status.
        """
        if count < 0 or not 400 <= status <= 599:
            raise ValueError(f"need count >= 0 and a 4xx/5xx status, got {count!r}, {status!r}")
        HTTPStatus(status)  # raises ValueError for an unknown status
        with self._lock:
            self._rest_failures = (count, status)

    def set_market_paused(self, symbol: str, paused: bool = True) -> None:
        """Freeze (or resume) ``symbol``: no updates, trades or periodic frames while paused —
        a quiet market on a healthy connection.  Any thread.

        Raises:
            ValueError: unknown symbol.
        """
        with self._lock:
            self._market(symbol).paused = paused

    def inject_error(self, code: int, message: str, conn_id: int | None = None) -> int:
        """Queue ``{"id":null,"error":{"code":code,"message":message}}`` to every client (or to
        ``conn_id``), in order with its data; returns how many got it.  Any thread."""

        def go() -> int:
            targets = [c for c in self._clients if conn_id is None or c == conn_id]
            for cid in targets:
                self._send_error(cid, (code, message))
            return len(targets)

        return self._run_locked(go)

    def send_malformed(self, conn_id: int | None = None, text: str | None = None) -> int:
        """Queue a frame that is not JSON (``text``, or a truncated depth frame) to every client
        (or to ``conn_id``), in order with its data; returns how many got it.  Any thread."""
        frame = text if text is not None else '{"stream":"depth.SOL_USDC","data":{"e":"depth","E":17'

        def go() -> int:
            targets = [c for c in self._clients if conn_id is None or c == conn_id]
            for cid in targets:
                self._enqueue(cid, frame)
            return len(targets)

        return self._run_locked(go)

    def silence_connection(self, conn_id: int, silent: bool = True) -> None:
        """Stop (or resume) sending anything, pings included, to one client.  Frames produced
        meanwhile are lost, as on a dead link.  Any thread.

        Raises:
            ValueError: no such connection.
        """
        with self._lock:
            client = self._clients.get(conn_id)
            if client is None:
                raise ValueError(f"no connection {conn_id!r}; connected: {sorted(self._clients)}")
            client.conn.silent = silent

    # ------------------------------------------------------------------ introspection
    def book(self, symbol: str, at_update_id: int | None = None) -> BookState:
        """A copy of ``symbol``'s book now, or as it was right after update ``at_update_id``
        (end of a tick still in the history).  Any thread.

        Raises:
            ValueError: unknown symbol.
            KeyError: ``at_update_id`` is not the end of a remembered tick.
        """
        with self._lock:
            m = self._market(symbol)
            if at_update_id is None:
                return m.state(m.last_id, m.bids.levels, m.asks.levels)
            for last_id, bids, asks in m.history:
                if last_id == at_update_id:
                    return m.state(last_id, bids, asks)
        raise KeyError(f"update id {at_update_id} of {symbol} is not in the history")

    def last_update_id(self, symbol: str) -> int:
        """The id of the last update applied to ``symbol``'s book (what REST reports).  Any thread.

        Raises:
            ValueError: unknown symbol.
        """
        with self._lock:
            return self._market(symbol).last_id

    def delivered_update_id(self, symbol: str) -> int:
        """The last ``u`` emitted on ``depth.<symbol>`` (behind :meth:`last_update_id` while
        held).  Any thread.

        Raises:
            ValueError: unknown symbol.
        """
        with self._lock:
            return self._market(symbol).delivered_id

    def subscriptions(self, conn_id: int | None = None) -> dict[int, frozenset[str]]:
        """Streams each connected client (or just ``conn_id``) is subscribed to.  Any thread."""
        with self._lock:
            return {cid: frozenset(c.streams) for cid, c in self._clients.items() if conn_id is None or cid == conn_id}

    def subscriber_count(self, stream: str) -> int:
        """How many connected clients are subscribed to ``stream``.  Any thread."""
        with self._lock:
            return len(self._subs.get(stream, ()))

    def queued_frames(self) -> int:
        """Frames queued for clients and not yet taken by their writers (approximate).  Any thread."""
        with self._lock:
            return sum(c.outbox.qsize() for c in self._clients.values())

    def counters(self) -> dict[str, int]:
        """A copy of the counters: ``ticks``, ``depth_deltas``, ``rest_depth_requests``,
        ``signatures_verified``, ``signatures_rejected``, ``errors_sent``, ``frames_queued``,
        ``slow_consumers``.  Any thread."""
        with self._lock:
            return dict(self._counters)

    @property
    def signatures_verified(self) -> int:
        """Private SUBSCRIBE frames whose signature was accepted."""
        with self._lock:
            return self._counters["signatures_verified"]

    @property
    def signatures_rejected(self) -> int:
        """Private SUBSCRIBE frames refused (missing, bad, expired signature, unknown key)."""
        with self._lock:
            return self._counters["signatures_rejected"]
