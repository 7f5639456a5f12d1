"""The market model of the Bitfinex simulator: markets, their evolving order books (individual
orders aggregated into price levels), trades, candles and the per-subscription book views.

Used under the simulator's lock; nothing here does I/O.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bpbfx.sim.bitfinex.history import select
from bpbfx.sim.bitfinex.wire import _CHECKSUM_DEPTH, _dec_text, book_checksum, js_number

__all__ = ["CANDLE_TIMEFRAMES", "DEFAULT_MARKETS", "BookView", "MarketSpec"]

#: Candle timeframes accepted in ``trade:<tf>:<symbol>`` keys, with their length in ms
#: (``1M`` is taken as 30 days).
CANDLE_TIMEFRAMES: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "3h": 10_800_000,
    "6h": 21_600_000,
    "12h": 43_200_000,
    "1D": 86_400_000,
    "1W": 604_800_000,
    "14D": 1_209_600_000,
    "1M": 2_592_000_000,
}

_PRECISIONS = ("P0", "P1", "P2", "P3", "P4", "R0")
_FREQS = ("F0", "F1")
_LENGTHS = ("1", "25", "100", "250")
_CHANNELS = ("ticker", "trades", "book", "candles", "status")
_TRADES_SNAPSHOT = 30
_TAPE_KEPT = 10_000  # trades kept for REST (Bitfinex: trades hist answers up to 10,000 rows)
_CANDLES_SNAPSHOT = 240
_AMOUNT_EXP = -8  # amounts are integers of 1e-8
_FUNDING_PERIODS = (2, 3, 4, 5, 7, 10, 14, 30, 60, 90, 120)
#: Below this activity a market is *sparse*: it sleeps through the ticks without an event
#: (drawn ahead, as a geometric number of ticks) and costs nearly nothing meanwhile.
SPARSE_ACTIVITY = 0.5


# --------------------------------------------------------------------------- public value types
@dataclass(frozen=True)
class MarketSpec:
    """One simulated market.

    Attributes:
        symbol: Bitfinex symbol: ``t<PAIR>`` for trading (``"tBTCUSD"``, ``"tDOGE:USD"``,
            ``"tBTCF0:USTF0"``), ``f<CCY>`` for funding (``"fUSD"``).
        price: initial mid price (funding: daily rate).  The price keeps 5 significant figures,
            so its decade fixes the tick; it is kept within that decade.
        size: typical order size (base currency; funding: amount lent).
        activity: how busy the market is: each tick it has ``floor(X)`` book events (orders
            added, cancelled, amended, trades) with ``X`` exponential of mean ``activity``, so
            on average ``1 / (exp(1 / activity) - 1)`` events (1.05 for 1.5; 0.02 for 0.25).
        orders: resting orders kept per side (default 700, funding 640); a quiet market of a
            whole-market simulator keeps fewer, which makes it cheaper to create.
    """

    symbol: str
    price: Decimal
    size: Decimal
    activity: float = 1.5
    orders: int | None = None

    @property
    def funding(self) -> bool:
        """A funding currency (``f`` prefix)."""
        return self.symbol.startswith("f")

    @property
    def pair(self) -> str:
        """The symbol without its prefix (``pair`` / ``currency`` in ``subscribed`` frames)."""
        return self.symbol[1:]

    @property
    def perpetual(self) -> bool:
        """A perpetual contract (``F0:`` in the symbol): it has a ``deriv:`` status."""
        return "F0:" in self.symbol


def _spec(symbol: str, price: str, size: str, activity: float = 1.5) -> MarketSpec:
    return MarketSpec(symbol, Decimal(price), Decimal(size), activity)


DEFAULT_MARKETS: tuple[MarketSpec, ...] = (
    _spec("tBTCUSD", "118940", "0.4", 2.5),
    _spec("tETHUSD", "4312.5", "6", 2.0),
    _spec("tSOLUSD", "187.42", "60"),
    _spec("tXRPUSD", "2.9871", "4000"),
    _spec("tLTCUSD", "117.83", "40"),
    _spec("tADAUSD", "0.87321", "9000"),
    _spec("tDOTUSD", "4.1234", "1500"),
    _spec("tAVAX:USD", "24.567", "200"),
    _spec("tLINK:USD", "23.456", "250"),
    _spec("tDOGE:USD", "0.22345", "40000"),
    _spec("tUNIUSD", "11.234", "500"),
    _spec("tXLMUSD", "0.41234", "20000"),
    _spec("tTRXUSD", "0.34512", "30000"),
    _spec("tXMRUSD", "267.89", "20"),
    _spec("tEOSUSD", "0.57123", "10000"),
    _spec("tETHBTC", "0.036512", "5"),
    _spec("tBTCUST", "118950", "0.3"),
    _spec("tETHUST", "4313.1", "5"),
    _spec("tBTCEUR", "101230", "0.2"),
    _spec("tVETBTC", "4.1234e-7", "200000", 1.0),
    _spec("tBTCF0:USTF0", "118900", "0.5", 2.0),
    _spec("tETHF0:USTF0", "4310.2", "8"),
    _spec("fUSD", "0.00021345", "5000"),
    _spec("fUST", "0.00025123", "8000"),
    _spec("fBTC", "0.000012345", "0.5", 1.0),
    _spec("fETH", "0.000018234", "10", 1.0),
    _spec("fEUR", "0.00015432", "3000", 1.0),
)


@dataclass(frozen=True)
class BookView:
    """A copy of one simulated book as a subscriber of ``(symbol, prec, length)`` has it.

    Attributes:
        symbol: the market.
        prec: ``"P0"``..``"P4"`` or ``"R0"``.
        length: levels (raw books: orders) per side.
        bids: wire texts of the bid entries, best first, exactly as the frames write them
            (``("118940", "11", "1.14244423")``; funding ``(rate, period, count, amount)``; raw
            ``(id, price, amount)`` / ``(id, period, rate, amount)``).
        asks: the same for asks.
        checksum: the ``cs`` value of this book.
    """

    symbol: str
    prec: str
    length: int
    bids: tuple[tuple[str, ...], ...]
    asks: tuple[tuple[str, ...], ...]
    checksum: int

    def numbers(self) -> tuple[list[list[float]], list[list[float]]]:
        """The entries as numbers: ``(bids, asks)``."""
        return [[float(v) for v in e] for e in self.bids], [[float(v) for v in e] for e in self.asks]


# --------------------------------------------------------------------------- the book engine
class _Order:
    __slots__ = ("bid", "id", "period", "tick", "units")

    def __init__(self, oid: int, bid: bool, tick: int, units: int, period: int) -> None:
        self.id = oid
        self.bid = bid
        self.tick = tick
        self.units = units
        self.period = period


# A level entry of a view: (sort key, entry text, delete text, checksum first text, amount text).
_Entry = tuple[tuple[int, int], str, str, str, str]


class _Book:
    """Individual orders, their price levels (``P0``) and both kept sorted.

    Side 0 is bids, side 1 asks.  Level keys are ``(tick, period)`` (period 0 on trading books);
    sort keys make "best first" ascending: bids ``(-tick, period)``, asks ``(tick, period)``;
    raw sort keys ``(-tick, id)`` / ``(tick, id)``.
    """

    def __init__(self, funding: bool) -> None:
        self.funding = funding
        self.orders: dict[int, _Order] = {}
        self.ids: list[int] = []
        self.id_pos: dict[int, int] = {}
        self.levels: tuple[dict[tuple[int, int], list[int]], dict[tuple[int, int], list[int]]] = ({}, {})
        self.lkeys: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
        self.rkeys: tuple[list[tuple[int, int]], list[tuple[int, int]]] = ([], [])
        self.counts = [0, 0]

    def best(self, side: int) -> int | None:
        keys = self.lkeys[side]
        if not keys:
            return None
        return -keys[0][0] if side == 0 else keys[0][0]

    def _level(self, o: _Order, d_count: int, d_units: int) -> None:
        side = 0 if o.bid else 1
        key = (o.tick, o.period)
        levels = self.levels[side]
        lv = levels.get(key)
        if lv is None:
            lv = levels[key] = [0, 0]
            bisect.insort(self.lkeys[side], (-o.tick if o.bid else o.tick, o.period))
        lv[0] += d_count
        lv[1] += d_units
        if lv[0] == 0:
            del levels[key]
            keys = self.lkeys[side]
            del keys[bisect.bisect_left(keys, (-o.tick if o.bid else o.tick, o.period))]

    def add(self, oid: int, bid: bool, tick: int, units: int, period: int) -> _Order:
        o = _Order(oid, bid, tick, units, period)
        self.orders[oid] = o
        self.id_pos[oid] = len(self.ids)
        self.ids.append(oid)
        side = 0 if bid else 1
        self.counts[side] += 1
        bisect.insort(self.rkeys[side], (-tick if bid else tick, oid))
        self._level(o, 1, units)
        return o

    def remove(self, oid: int) -> None:
        o = self.orders.pop(oid)
        pos = self.id_pos.pop(oid)
        last = self.ids.pop()
        if last != oid:
            self.ids[pos] = last
            self.id_pos[last] = pos
        side = 0 if o.bid else 1
        self.counts[side] -= 1
        keys = self.rkeys[side]
        del keys[bisect.bisect_left(keys, (-o.tick if o.bid else o.tick, oid))]
        self._level(o, -1, -o.units)

    def set_units(self, oid: int, units: int) -> None:
        o = self.orders[oid]
        self._level(o, 0, units - o.units)
        o.units = units

    def order_at(self, side: int, index: int) -> _Order:
        return self.orders[self.rkeys[side][index][1]]

    def top_orders(self, side: int, n: int) -> list[_Order]:
        return [self.orders[k[1]] for k in self.rkeys[side][:n]]

    def top_levels(self, side: int, power: int, n: int) -> list[tuple[int, int, int, int]]:
        """The best ``n`` levels ``(tick, period, count, units)`` grouped to ``10**power`` ticks
        (bids round down, asks up, so a grouped book is never crossed)."""
        keys = self.lkeys[side]
        levels = self.levels[side]
        if power == 0:
            out = []
            for sk in keys[:n]:
                tick = -sk[0] if side == 0 else sk[0]
                lv = levels[(tick, sk[1])]
                out.append((tick, sk[1], lv[0], lv[1]))
            return out
        g = 10**power
        groups: dict[tuple[int, int], list[int]] = {}
        current: int | None = None
        for sk in keys:
            tick = -sk[0] if side == 0 else sk[0]
            gt = tick // g if side == 0 else -((-tick) // g)
            if gt != current and len(groups) >= n:
                break
            current = gt
            lv = levels[(tick, sk[1])]
            acc = groups.setdefault((gt, sk[1]), [0, 0])
            acc[0] += lv[0]
            acc[1] += lv[1]
        ordered = sorted(groups.items(), key=lambda kv: ((-kv[0][0] if side == 0 else kv[0][0]), kv[0][1]))
        return [(k[0], k[1], v[0], v[1]) for k, v in ordered[:n]]


@dataclass
class _Trade:
    id: int
    mts: int
    units: int  # signed: > 0 taker bought (took an ask)
    tick: int
    period: int


class _Candles:
    """Candles of one ``trade:<tf>:<symbol>`` key, oldest first."""

    def __init__(self, tf_ms: int) -> None:
        self.tf = tf_ms
        self.rows: deque[list[Any]] = deque(maxlen=_CANDLES_SNAPSHOT)  # [mts, o, c, h, l, vol]

    def add_trade(self, t: _Trade) -> None:
        """Count a trade in its candle (a new candle when it starts a new period)."""
        start = t.mts // self.tf * self.tf
        row = self.rows[-1]
        if start > row[0]:
            self.rows.append([start, t.tick, t.tick, t.tick, t.tick, 0.0])
            row = self.rows[-1]
        row[2] = t.tick
        row[3] = max(row[3], t.tick)
        row[4] = min(row[4], t.tick)
        row[5] = round(row[5] + abs(t.units) / 1e8, 8)


class _Market:
    """One market: its book, trades, daily figures and candles (used under the simulator lock)."""

    def __init__(self, spec: MarketSpec, seed: int, now_ms: int) -> None:
        self.spec = spec
        self.symbol = spec.symbol
        self.funding = spec.funding
        self.seed = seed
        self.rng = random.Random(f"{seed}:{spec.symbol}")
        price = spec.price
        self.exp = math.floor(math.log10(price)) - 4  # Bitfinex P0: 5 significant figures
        self.center = int(price.scaleb(-self.exp))
        self.fair = float(self.center)
        self.lo, self.hi = 10_500, 99_000
        self.size_units = int(spec.size.scaleb(8))
        self.mean_dist = 240.0 if self.funding else 330.0
        self.near_dist = 12.0
        self.book = _Book(self.funding)
        self.next_id = self.rng.randrange(10**10, 10**11)
        self.next_trade = self.rng.randrange(10**8, 2 * 10**9)
        self.trades: deque[_Trade] = deque(maxlen=_TAPE_KEPT)  # oldest first
        self.pending_tu: list[_Trade] = []
        self.new_trades: list[_Trade] = []
        self.changed = False
        self.paused = False
        self.sparse = 0 < spec.activity < SPARSE_ACTIVITY
        self.skip = 0  # ticks a sparse market still sleeps
        self.slept = 0  # ... and has slept since its last event
        # Trades of simulated accounts between two ticks, published with the next tick's trades.
        self.extra_trades: list[_Trade] = []
        self.target = spec.orders or (640 if self.funding else 700)
        for _ in range(self.target):
            self._add_passive(True)
            self._add_passive(False)
        # Daily figures.
        open_tick = self.center + int(self.rng.gauss(0, self.center * 0.02))
        self.open24 = open_tick
        self.last = self.center
        self.high = max(open_tick, self.center) + self.rng.randrange(1, max(2, self.center // 40))
        self.low = min(open_tick, self.center) - self.rng.randrange(1, max(2, self.center // 40))
        self.volume = float(spec.size) * self.rng.uniform(500, 3000)
        self.frr = float(price) * self.rng.uniform(0.9, 1.1)
        self.candles: dict[str, _Candles] = {}
        # History of trades for the snapshot.
        times = sorted(now_ms - self.rng.randrange(0, 120_000) for _ in range(_TRADES_SNAPSHOT))
        for mts in times:
            bid = self.rng.random() < 0.5
            tick = self.center + (-1 if bid else 1) * self.rng.randrange(1, 30)
            units = self._units() // 3 + 1
            self.trades.append(self._trade(mts, units if not bid else -units, tick, self._period(tick)))
        self.last = self.trades[-1].tick
        self.changed = False
        if self.sparse:
            self._draw_sleep()

    # -- helpers
    def price_text(self, tick: int, power: int = 0) -> str:
        return _dec_text(tick, self.exp + power)

    def _units(self) -> int:
        u = int(self.size_units * self.rng.lognormvariate(-0.5, 0.9))
        # Round to a random number of decimals, as real orders are.
        q = 10 ** self.rng.choice((0, 2, 3, 4, 5, 6))
        u = max(q, u // q * q)
        return min(u, 10**14 // 4)

    def _period(self, tick: int) -> int:
        if not self.funding:
            return 0
        return _FUNDING_PERIODS[(tick * 7919) % len(_FUNDING_PERIODS)]

    def _distance(self) -> int:
        """Ticks from the fair price for a new order: half near the touch, half deep."""
        mean = self.near_dist if self.rng.random() < 0.5 else self.mean_dist
        return int(self.rng.expovariate(1.0 / mean))

    def _oid(self) -> int:
        self.next_id += self.rng.randrange(1, 50)
        return self.next_id

    def _trade(self, mts: int, units: int, tick: int, period: int) -> _Trade:
        self.next_trade += self.rng.randrange(1, 4)
        return _Trade(self.next_trade, mts, units, tick, period)

    def _add_passive(self, bid: bool) -> None:
        book = self.book
        d = self._distance()
        if bid:
            tick = math.floor(self.fair) - 1 - d
            ask = book.best(1)
            if ask is not None:
                tick = min(tick, ask - 1)
        else:
            tick = math.ceil(self.fair) + 1 + d
            bid_best = book.best(0)
            if bid_best is not None:
                tick = max(tick, bid_best + 1)
        if tick < 1:
            return
        book.add(self._oid(), bid, tick, self._units(), self._period(tick))
        self.changed = True

    # -- evolution
    def asleep(self) -> bool:
        """A sparse market between two events with nothing left to publish: this tick is
        skipped (counted off)."""
        if self.skip > 0 and not self.pending_tu and not self.extra_trades:
            self.skip -= 1
            self.slept += 1
            return True
        return False

    def evolve(self, now_ms: int) -> None:
        """One tick of market activity; fills :attr:`new_trades` (account trades since the last
        tick first)."""
        self.new_trades, self.extra_trades = self.extra_trades, []
        rng = self.rng
        if self.sparse:
            n = self._sparse_events()
        else:
            # Mean-reverting random walk of the fair price, kept inside the tick's decade.
            self.fair += rng.gauss(0, self.center * 0.0004) + (self.center - self.fair) * 0.01
            self.fair = min(max(self.fair, self.lo), self.hi)
            n = int(rng.expovariate(1.0 / self.spec.activity)) if self.spec.activity > 0 else 0
        for _ in range(n):
            r = rng.random()
            if r < 0.42:
                self._add_limit(now_ms)
            elif r < 0.74:
                self._cancel()
            elif r < 0.86:
                self._amend()
            else:
                self._take(rng.random() < 0.5, self._units(), None, now_ms)
        self._maintain()

    def _sparse_events(self) -> int:
        """A sparse market's events this tick, and the ticks it sleeps after: the same
        distribution as a tick-by-tick draw (events per tick ``floor(X)``, ``X`` exponential),
        drawn once per event instead of once per tick."""
        rng = self.rng
        ticks = self.slept + 1
        self.slept = 0
        # The fair price's walk over the ticks slept, at once: reversion and spread compounded.
        keep = 0.99**ticks
        spread = self.center * 0.0004 * math.sqrt((1 - keep * keep) / (1 - 0.99**2))
        self.fair = self.center + (self.fair - self.center) * keep + rng.gauss(0, spread)
        self.fair = min(max(self.fair, self.lo), self.hi)
        # X given X >= 1 is 1 + X' (memoryless), so an event tick has 1 + floor(X') events.
        n = 1 + int(rng.expovariate(1.0 / self.spec.activity))
        self._draw_sleep()
        return n

    def _draw_sleep(self) -> None:
        """Ticks without an event before the next one: geometric, P(event) = P(X >= 1)."""
        p_event = math.exp(-1.0 / self.spec.activity)
        self.skip = int(math.log(1.0 - self.rng.random()) / math.log1p(-p_event))

    def _add_limit(self, now_ms: int) -> None:
        bid = self.rng.random() < 0.5
        book = self.book
        d = self._distance()
        tick = math.floor(self.fair) - 1 - d if bid else math.ceil(self.fair) + 1 + d
        if self.rng.random() < 0.08:  # an aggressive order that crosses the spread
            other = book.best(1 if bid else 0)
            if other is not None:
                tick = other + (1 if bid else -1) * self.rng.randrange(0, 3)
        if tick < 1:
            return
        units = self._units()
        other = book.best(1 if bid else 0)
        if other is not None and ((bid and tick >= other) or (not bid and tick <= other)):
            units = self._take(bid, units, tick, now_ms)
            other = book.best(1 if bid else 0)
            # Never cross: what could not be filled is not posted through the other side.
            if units <= 0 or (other is not None and ((bid and tick >= other) or (not bid and tick <= other))):
                return
        book.add(self._oid(), bid, tick, units, self._period(tick))
        self.changed = True

    def _take(self, buy: bool, units: int, limit: int | None, now_ms: int) -> int:
        """A taker order against the other side (buy takes asks); returns the units left.
        A market order (``limit`` None) never takes more than three levels."""
        book = self.book
        side = 1 if buy else 0
        levels_taken = 0
        last_tick: int | None = None
        while units > 0 and book.counts[side] > 3:
            o = book.order_at(side, 0)
            if limit is not None and ((buy and o.tick > limit) or (not buy and o.tick < limit)):
                break
            if o.tick != last_tick:
                levels_taken += 1
                last_tick = o.tick
                if limit is None and levels_taken > 3:
                    break
            fill = min(units, o.units)
            units -= fill
            if fill == o.units:
                book.remove(o.id)
            else:
                book.set_units(o.id, o.units - fill)
            t = self._trade(now_ms, fill if buy else -fill, o.tick, o.period)
            self.trades.append(t)
            self.new_trades.append(t)
            self.last = o.tick
            self.high = max(self.high, o.tick)
            self.low = min(self.low, o.tick)
            self.volume += fill / 1e8
            self.changed = True
        return units

    # -- trading by simulated accounts
    def tick_price(self, tick: int) -> Decimal:
        """The exact price of a tick."""
        return Decimal(tick).scaleb(self.exp)

    def price_tick(self, price: Decimal) -> int | None:
        """The tick of ``price`` when it lies on this market's grid, else ``None``."""
        t = price.scaleb(-self.exp)
        return int(t) if t == t.to_integral_value() and t > 0 else None

    def walk(self, buy: bool, units: int, limit: Decimal | None) -> list[tuple[_Order, int]]:
        """The resting orders a taker order of ``units`` would fill, best first, and how much of
        each (``limit``: worst acceptable price, ``None`` for a market order); changes nothing.
        The book keeps at least three orders per side, as with market activity."""
        book = self.book
        side = 1 if buy else 0
        out: list[tuple[_Order, int]] = []
        keys = book.rkeys[side]
        i = 0
        while units > 0 and book.counts[side] - i > 3 and i < len(keys):
            o = book.orders[keys[i][1]]
            price = self.tick_price(o.tick)
            if limit is not None and ((buy and price > limit) or (not buy and price < limit)):
                break
            fill = min(units, o.units)
            out.append((o, fill))
            units -= fill
            i += 1
        return out

    def execute(
        self, buy: bool, fills: list[tuple[_Order, int]], now_ms: int, tick: int | None = None
    ) -> list[_Trade]:
        """Take ``fills`` (from :meth:`walk`) out of the book and publish them as trades with the
        next tick (``buy``: the taker bought; at ``tick`` when given: a resting account order
        was the maker).  Returns the trades, one per filled book order."""
        book = self.book
        out: list[_Trade] = []
        for o, fill in fills:
            if fill == o.units:
                book.remove(o.id)
            else:
                book.set_units(o.id, o.units - fill)
            out.append(self.record_trade(buy, fill, o.tick if tick is None else tick, o.period, now_ms))
        return out

    def record_trade(self, buy: bool, units: int, tick: int, period: int, now_ms: int) -> _Trade:
        """Publish a trade of an account order with the next tick (``buy``: the taker bought)."""
        t = self._trade(now_ms, units if buy else -units, tick, period)
        self.trades.append(t)
        self.extra_trades.append(t)
        self.last = tick
        self.high = max(self.high, tick)
        self.low = min(self.low, tick)
        self.volume += units / 1e8
        self.changed = True
        return t

    def _cancel(self) -> None:
        book = self.book
        if not book.ids:
            return
        oid = book.ids[self.rng.randrange(len(book.ids))]
        o = book.orders[oid]
        if book.counts[0 if o.bid else 1] <= 5:
            return
        book.remove(oid)
        self.changed = True

    def _amend(self) -> None:
        book = self.book
        if not book.ids:
            return
        oid = book.ids[self.rng.randrange(len(book.ids))]
        book.set_units(oid, self._units())
        self.changed = True

    def _maintain(self) -> None:
        book = self.book
        for side in (0, 1):
            while book.counts[side] < self.target - 40:
                self._add_passive(side == 0)
            while book.counts[side] > self.target + 40:
                book.remove(book.order_at(side, -1).id)
                self.changed = True

    def recent_trades(self) -> list[_Trade]:
        """The trades a ``trades`` snapshot holds: the newest 30, newest first."""
        return list(itertools.islice(reversed(self.trades), _TRADES_SNAPSHOT))

    def tape(self, start: int | None, end: int | None, limit: int, oldest_first: bool) -> list[str]:
        """The trades published on this market with ``start <= MTS <= end`` (ms), the newest
        ``limit`` of them (the oldest with ``oldest_first``), as rows' wire texts."""
        return [self.trade_text(t) for t in select(self.trades, start, end, limit, oldest_first=oldest_first)]

    # -- wire texts
    def trade_text(self, t: _Trade) -> str:
        amount = _dec_text(t.units, _AMOUNT_EXP)
        if self.funding:
            return f"[{t.id},{t.mts},{amount},{self.price_text(t.tick)},{t.period}]"
        return f"[{t.id},{t.mts},{amount},{self.price_text(t.tick)}]"

    def ticker_text(self) -> str:
        book = self.book
        bids = book.top_levels(0, 0, _CHECKSUM_DEPTH)
        asks = book.top_levels(1, 0, _CHECKSUM_DEPTH)
        bid = bids[0][0] if bids else 0
        ask = asks[0][0] if asks else 0
        bid_size = _dec_text(sum(lv[3] for lv in bids), _AMOUNT_EXP)
        ask_size = _dec_text(sum(lv[3] for lv in asks), _AMOUNT_EXP)
        change = _dec_text(self.last - self.open24, self.exp)
        rel = js_number(round((self.last - self.open24) / self.open24, 8 if not self.funding else 4))
        last, high, low = self.price_text(self.last), self.price_text(self.high), self.price_text(self.low)
        volume = js_number(round(self.volume, 8))
        if self.funding:
            frr = js_number(self.frr)
            bid_p = bids[0][1] if bids else 0
            ask_p = asks[0][1] if asks else 0
            available = js_number(round(float(self.spec.size) * 4000.123, 8))
            return (
                f"[{frr},{self.price_text(bid)},{bid_p},{bid_size},{self.price_text(ask)},{ask_p},{ask_size},"
                f"{change},{rel},{last},{volume},{high},{low},null,null,{available}]"
            )
        return (
            f"[{self.price_text(bid)},{bid_size},{self.price_text(ask)},{ask_size},{change},{rel},{last},{volume},"
            f"{high},{low}]"
        )

    def view_entries(self, prec: str, length: int) -> tuple[list[_Entry], list[_Entry]]:
        """The top ``length`` entries per side of a ``prec`` book, with their texts."""
        book = self.book
        out: tuple[list[_Entry], list[_Entry]] = ([], [])
        funding = self.funding
        for side in (0, 1):
            # Bitfinex: trading bids have AMOUNT > 0, funding bids AMOUNT < 0.
            sign = (1 if side == 0 else -1) * (-1 if funding else 1)
            dsign = "1" if sign > 0 else "-1"
            entries = out[side]
            if prec == "R0":
                for o in book.top_orders(side, length):
                    price = self.price_text(o.tick)
                    amount = _dec_text(sign * o.units, _AMOUNT_EXP)
                    oid = str(o.id)
                    if funding:
                        text = f"{oid},{o.period},{price},{amount}"
                        delete = f"{oid},{o.period},0,{dsign}"
                    else:
                        text = f"{oid},{price},{amount}"
                        delete = f"{oid},0,{dsign}"
                    sk = (-o.tick if side == 0 else o.tick, o.id)
                    entries.append((sk, text, delete, oid, amount))
            else:
                power = int(prec[1])
                for tick, period, count, units in book.top_levels(side, power, length):
                    price = self.price_text(tick, power)
                    amount = _dec_text(sign * units, _AMOUNT_EXP)
                    if funding:
                        text = f"{price},{period},{count},{amount}"
                        delete = f"{price},{period},0,{dsign}"
                    else:
                        text = f"{price},{count},{amount}"
                        delete = f"{price},0,{dsign}"
                    sk = (-tick if side == 0 else tick, period)
                    entries.append((sk, text, delete, price, amount))
        return out

    def candles_for(self, tf: str, now_ms: int) -> _Candles:
        c = self.candles.get(tf)
        if c is not None:
            return c
        tf_ms = CANDLE_TIMEFRAMES[tf]
        c = _Candles(tf_ms)
        rng = random.Random(f"{self.seed}:{self.spec.symbol}:{tf}")
        start = now_ms // tf_ms * tf_ms
        close = self.last
        rows: list[list[Any]] = []
        scale = max(1.0, self.center * 0.001 * math.sqrt(tf_ms / 60_000))
        for i in range(_CANDLES_SNAPSHOT):
            mts = start - i * tf_ms
            open_ = int(min(max(close + rng.gauss(0, scale), self.lo), self.hi))
            high = max(open_, close) + int(abs(rng.gauss(0, scale / 2)))
            low = max(1, min(open_, close) - int(abs(rng.gauss(0, scale / 2))))
            vol = round(float(self.spec.size) * rng.uniform(1, 40) * math.sqrt(tf_ms / 60_000), 8)
            rows.append([mts, open_, close, high, low, vol])
            close = open_
        for row in reversed(rows):
            c.rows.append(row)
        self.candles[tf] = c
        return c

    def candle_text(self, row: list[Any]) -> str:
        mts, o, cl, h, lo, v = row
        p = self.price_text
        return f"[{mts},{p(o)},{p(cl)},{p(h)},{p(lo)},{js_number(v)}]"


class _View:
    """What the subscribers of one ``(symbol, prec, freq, len)`` book have: shared state, so
    every subscriber gets the same snapshot and updates."""

    def __init__(self, market: _Market, prec: str, freq: str, length: int) -> None:
        self.market = market
        self.prec = prec
        self.freq = freq
        self.length = length
        self.channels: set[tuple[int, int]] = set()
        self.sides = market.view_entries(prec, length)
        self.checksum = self._checksum()

    def _checksum(self) -> int:
        bids = [(e[3], e[4]) for e in self.sides[0][:_CHECKSUM_DEPTH]]
        asks = [(e[3], e[4]) for e in self.sides[1][:_CHECKSUM_DEPTH]]
        return book_checksum(bids, asks)

    def snapshot_text(self) -> str:
        return "[" + ",".join("[" + e[1] + "]" for side in self.sides for e in side) + "]"

    def refresh(self) -> list[tuple[str, bool]]:
        """Move to the market's current state; returns the updates as ``(entry text, touches
        the top 25)``, deletes first."""
        new = self.market.view_entries(self.prec, self.length)
        deletes: list[tuple[str, bool]] = []
        sets: list[tuple[str, bool]] = []
        for side in (0, 1):
            old_entries = self.sides[side]
            new_entries = new[side]
            old_map = {e[0]: e for e in old_entries}
            new_map = {e[0]: e for e in new_entries}
            old_top = {e[0] for e in old_entries[:_CHECKSUM_DEPTH]}
            new_top = {e[0] for e in new_entries[:_CHECKSUM_DEPTH]}
            for e in old_entries:
                if e[0] not in new_map:
                    deletes.append((e[2], e[0] in old_top))
            for e in new_entries:
                prev = old_map.get(e[0])
                if prev is None or prev[1] != e[1]:
                    sets.append((e[1], e[0] in new_top or e[0] in old_top))
        self.sides = new
        self.checksum = self._checksum()
        return deletes + sets
