"""Backpack markets: their specs, one evolving, never-crossed order book each, trades, k-lines
and the statistics the periodic streams report.

A :class:`_Market` holds prices as integer ticks and quantities as integer lots and writes
them as the exchange does (:meth:`_Market.px`, :meth:`_Market.qty`).  No I/O; used under the
simulator's lock.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from bpbfx.sim.backpack.wire import _decimals

__all__ = ["DEFAULT_MARKETS", "BookState", "MarketSpec"]

_INTERVAL_SECONDS: dict[str, int] = {
    "1s": 1, "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200,
    "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400, "3d": 259200, "1w": 604800,
}
_MIN_LEVELS = 20
_MAX_LEVELS = 80
_INITIAL_LEVELS = 40
_TOP = 15


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
        activity: book updates per tick on average; below 1 the market sleeps through the
            ticks between two updates (drawn ahead) and costs nearly nothing meanwhile.
            ``None``: one to three updates every tick (the default markets).
    """

    symbol: str
    price: Decimal
    tick_size: Decimal
    step_size: Decimal
    typical_qty: Decimal
    perp: bool = False
    activity: float | None = None

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


@dataclass(frozen=True, slots=True)
class _TapeTrade:
    """One public trade as the REST trade history gives it back."""

    trade_id: int
    price: int
    lots: int
    buyer_is_maker: bool
    ms: int


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

    def __init__(
        self, spec: MarketSpec, seed: int, windows: dict[str, int], history: int, tape: int = 20_000
    ) -> None:
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
        # what the depth streams have delivered
        self.windows = {w: _Window(every) for w, every in windows.items()}
        self.delivered_id = self.last_id
        self.history: deque[tuple[int, dict[int, int], dict[int, int]]] = deque(maxlen=history)
        self.remember()
        # the public trades the REST trade history serves, oldest first
        self.tape: deque[_TapeTrade] = deque(maxlen=tape)
        parts = spec.symbol.split("_")
        self.base_asset = parts[0]
        self.quote_asset = parts[1] if len(parts) > 1 and parts[1] != "PERP" else "USDC"
        #: ``orderBookState`` of ``/api/v1/markets``: ``"Open"`` while listed, ``"Closed"``
        #: once delisted (then nothing moves or is published).
        self.book_state = "Open"
        self.skip = 0  # ticks a quiet market (activity < 1) still sleeps
        if spec.activity is not None:
            # A day of trades before the simulator started (a quarter of the updates trade),
            # so that the tickers rank the markets as their activity does.
            self.trade_count = int(spec.activity * 0.25 * 86_400 / 0.05)
            self.volume_lots = self.trade_count * max(1, self.typical_lots // 4)
            self.quote_volume = self.price(mid) * self.size(self.volume_lots)
            self._draw_sleep()

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

    # ---- the market's order filters (GET /api/v1/markets), the simulator's own bounds
    @property
    def min_price(self) -> Decimal:
        return self.spec.tick_size

    @property
    def max_price(self) -> Decimal:
        return self.spec.price * 1000

    @property
    def min_quantity(self) -> Decimal:
        return self.spec.step_size

    @property
    def max_quantity(self) -> Decimal:
        return self.spec.typical_qty * 10_000

    def zero(self, u: int, price: int) -> str:
        # Backpack writes deletions as "0", "0.00", "0.00000", ...: vary it deterministically.
        return self.zero_spellings[(u + price) % len(self.zero_spellings)]

    # ---- evolution
    def _lots(self) -> int:
        return max(1, int(self.typical_lots * self.rng.expovariate(1.0)))

    def asleep(self) -> bool:
        """A quiet market between two updates: this tick is skipped (counted off)."""
        if self.skip > 0:
            self.skip -= 1
            return True
        return False

    def updates_due(self) -> int:
        """Book updates this tick: one to three without an ``activity``; else ``activity`` on
        average (its whole part, plus one with the probability of its fraction; a quiet
        market's update ticks are drawn ahead by :meth:`asleep`)."""
        activity = self.spec.activity
        if activity is None:
            return self.rng.randint(1, 3)
        if activity < 1:
            self._draw_sleep()
            return 1
        whole = int(activity)
        return whole + (1 if self.rng.random() < activity - whole else 0)

    def _draw_sleep(self) -> None:
        """Ticks before the next update of a quiet market: geometric, P(update) = activity."""
        activity = self.spec.activity
        if activity is not None and activity < 1:
            self.skip = int(math.log(1.0 - self.rng.random()) / math.log1p(-activity)) if activity > 0 else 2**62

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

    def next_trade_id(self) -> int:
        """The id of the next public trade (sequential per market, as on the exchange)."""
        self.trade_id += 1
        return self.trade_id

    def take(self, bid_side: bool, price: int, lots: int, changes: dict[tuple[str, int], int]) -> None:
        """Take ``lots`` out of the level at ``price`` of one side (an order traded with it)."""
        side = self.bids if bid_side else self.asks
        self._set(side, "b" if bid_side else "a", price, side.levels[price] - lots, changes)

    def record_fill(self, fill: _Fill, now_us: int) -> None:
        """Count a public trade in the statistics and keep it for the REST trade history."""
        self.tape.append(_TapeTrade(fill.trade_id, fill.price, fill.lots, fill.buyer_is_maker, now_us // 1000))
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
