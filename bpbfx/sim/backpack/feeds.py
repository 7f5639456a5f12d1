"""Backpack market data feeds: every market moves tick by tick, and what moved is published.

Each tick applies one to three book updates per market and queues the realtime
``depth.<s>`` delta, trades and ``bookTicker``; the aggregated depth windows, ``ticker``,
``kline``, ``markPrice``, ``openInterest`` and ``liquidation`` follow their cadences
(:data:`PERIODS`, counted in ticks by
:meth:`~bpbfx.sim.backpack.BackpackSimulator.cadence_ticks`).  Armed faults
(:mod:`~bpbfx.sim.backpack.faults`) act here.  No I/O but queuing; used under the
simulator's lock on its loop thread.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from bpbfx.sim.backpack.faults import Faults
from bpbfx.sim.backpack.market import _Fill, _Kline, _kline_bounds, _Market, _Window
from bpbfx.sim.backpack.subscriptions import Subscriptions
from bpbfx.sim.backpack.wire import Stamper, _data_text, _iso

__all__: list[str] = []

#: Called on each tick after the book moved and before it is published: it may trade resting
#: account orders against the moved book, adding to the changes and the trades.
Matcher = Callable[[_Market, dict[tuple[str, int], int], list[_Fill], int], None]

# Exchange cadences in (unscaled) seconds.  ticker / markPrice: "every second"; openInterest:
# "every 60 seconds"; the others are the simulator's choice.
PERIODS: dict[str, float] = {
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


class MarketFeeds:
    """Advances the markets tick by tick and queues the resulting frames.

    ``cadence_ticks`` turns a cadence name into ticks; ``rng`` picks liquidations;
    ``counters`` (the simulator's) counts ``ticks`` and ``depth_deltas``.
    """

    def __init__(
        self,
        markets: Mapping[str, _Market],
        subs: Subscriptions,
        faults: Faults,
        stamp: Stamper,
        cadence_ticks: Callable[[str], int],
        rng: random.Random,
        counters: dict[str, int],
    ) -> None:
        self.markets = markets
        self.subs = subs
        self.faults = faults
        self.stamp = stamp
        self.cadence_ticks = cadence_ticks
        self.rng = rng
        self.counters = counters
        self.count = 0
        self.matcher: Matcher | None = None

    def tick(self, now_us: int) -> int:
        """Advance every market (but paused ones) by one tick and queue the frames; returns
        the number of the tick, from 1."""
        self.count += 1
        self.counters["ticks"] = self.count
        for m in self.markets.values():
            if m.book_state == "Open" and not self.faults.of(m.symbol).paused:
                self._tick_market(m, now_us)
        if self.count % self.cadence_ticks("liquidation") == 0:
            self._liquidation(now_us)
        return self.count

    def _tick_market(self, m: _Market, now_us: int) -> None:
        faults = self.faults.of(m.symbol)
        if m.skip and not (faults.gap or faults.held) and m.asleep():
            # A quiet market between two updates: only what is due on a cadence.
            for name, w in m.windows.items():
                if w.first is not None and self.count % w.every == 0:
                    self._flush_window(m, name, w, now_us)
            self._periodic(m, now_us)
            return
        if faults.gap:
            # Updates that happen but are never delivered: the next delta's U jumps past them.
            for _ in range(faults.gap):
                m.random_update()
            faults.gap = 0
            for w in m.windows.values():
                w.reset()
        first = m.last_id + 1
        changes: dict[tuple[str, int], int] = {}
        fills: list[_Fill] = []
        for _ in range(m.updates_due()):
            c, f = m.random_update()
            changes.update(c)
            if f is not None:
                fills.append(f)
        if self.matcher is not None:
            self.matcher(m, changes, fills, now_us)
        self.publish(m, first, changes, fills, now_us, on_tick=True)
        self._periodic(m, now_us)
        if faults.held and faults.hold_left is not None:
            faults.hold_left -= 1
            if faults.hold_left <= 0:
                self.release(m, now_us)

    def publish(
        self,
        m: _Market,
        first: int,
        changes: dict[tuple[str, int], int],
        fills: list[_Fill],
        now_us: int,
        on_tick: bool = False,
    ) -> None:
        """Queue what changed in ``m`` since update ``first``: the depth delta ``first``..last
        (held back while ``hold_depth`` is armed), the trades and ``bookTicker``.  The
        aggregated depth windows gather the changes and flush on their cadence (``on_tick``)."""
        faults = self.faults.of(m.symbol)
        if changes:
            last = m.last_id
            m.remember()
            if faults.held:
                faults.held_deltas.append((first, last, changes))
            else:
                self._emit_depth(m, f"depth.{m.symbol}", first, last, changes, now_us)
                m.delivered_id = last
            for w in m.windows.values():
                w.add(first, last, changes)
        if on_tick and not faults.held:
            for name, w in m.windows.items():
                if self.count % w.every == 0:
                    self._flush_window(m, name, w, now_us)
        for fill in fills:
            m.record_fill(fill, now_us)
            self._emit_trade(m, fill, now_us)
            for interval in list(m.klines):
                self.kline(m, interval, now_us, fill)
        best_bid, best_ask = m.bids.best(True), m.asks.best(False)
        top = (best_bid, m.bids.levels[best_bid], best_ask, m.asks.levels[best_ask])
        if top != m.last_top:
            m.last_top = top
            stream = f"bookTicker.{m.symbol}"
            if self.subs.has(stream):
                data = {"e": "bookTicker", "s": m.symbol, "a": m.px(top[2]), "A": m.qty(top[3]),
                        "b": m.px(top[0]), "B": m.qty(top[1]), "u": m.last_id}
                self.subs.publish(stream, self.stamp(data, now_us, m.last_id))

    def _emit_depth(
        self, m: _Market, stream: str, first: int, last: int, changes: dict[tuple[str, int], int], now_us: int
    ) -> None:
        clients = self.subs.subscribers(stream)
        if not clients or not changes:
            return

        def levels(side: str) -> list[list[str]]:
            prices = sorted(p for s, p in changes if s == side)
            return [[m.px(p), m.qty(changes[(side, p)]) if changes[(side, p)] else m.zero(last, p)] for p in prices]

        data = {"e": "depth", "s": m.symbol, "a": levels("a"), "b": levels("b"), "U": first, "u": last}
        text = _data_text(stream, self.stamp(data, now_us, last))
        self.counters["depth_deltas"] += 1
        for client in clients:
            client.first_u.setdefault(stream, first)
            client.outbox.put(text)

    def _flush_window(self, m: _Market, name: str, w: _Window, now_us: int) -> None:
        if w.first is not None and w.pending:
            self._emit_depth(m, f"depth.{name}.{m.symbol}", w.first, w.last, w.pending, now_us)
        w.reset()

    def release(self, m: _Market, now_us: int) -> None:
        """Deliver the depth deltas of ``m`` held back (``hold_depth``), in order."""
        faults = self.faults.of(m.symbol)
        faults.held = False
        faults.hold_left = None
        for first, last, changes in faults.held_deltas:
            self._emit_depth(m, f"depth.{m.symbol}", first, last, changes, now_us)
            m.delivered_id = last
        faults.held_deltas = []
        for name, w in m.windows.items():
            self._flush_window(m, name, w, now_us)

    def _emit_trade(self, m: _Market, fill: _Fill, now_us: int) -> None:
        stream = f"trade.{m.symbol}"
        if self.subs.has(stream):
            data = {"e": "trade", "s": m.symbol, "p": m.px(fill.price), "q": m.qty(fill.lots),
                    "b": fill.buyer_order, "a": fill.seller_order, "t": fill.trade_id, "m": fill.buyer_is_maker}
            self.subs.publish(stream, self.stamp(data, now_us, fill.trade_id))

    def _periodic(self, m: _Market, now_us: int) -> None:
        sym = m.symbol
        if self.count % self.cadence_ticks("ticker") == 0 and self.subs.has(f"ticker.{sym}"):
            data = {"e": "ticker", "s": sym, "o": m.px(m.open_price), "c": m.px(m.last_price),
                    "h": m.px(m.high), "l": m.px(m.low), "v": m.qty(m.volume_lots),
                    "V": f"{m.quote_volume:.{m.price_decimals + m.qty_decimals}f}", "n": m.trade_count}
            self.subs.publish(f"ticker.{sym}", self.stamp(data, now_us, m.trade_count, engine=False))
        if self.count % self.cadence_ticks("kline") == 0:
            for interval in list(m.klines):
                self.kline(m, interval, now_us, periodic=True)
        if not m.spec.perp:
            return
        if self.count % self.cadence_ticks("markPrice") == 0:
            funding = m.funding + Decimal(m.aux.randint(-25, 25)) / 10**8
            m.funding = funding.max(Decimal("-0.001")).min(Decimal("0.001"))
            index = m.mid_ticks() + m.aux.randint(-3, 3)
            if self.subs.has(f"markPrice.{sym}"):
                mark = m.mid_ticks().quantize(Decimal(1))
                next_funding_ms = (now_us // 3_600_000_000 + 1) * 3_600_000  # next whole hour, in ms
                data = {"e": "markPrice", "s": sym, "p": m.px(mark), "f": f"{m.funding:.8f}",
                        "i": m.px(index.quantize(Decimal(1))), "n": next_funding_ms}
                self.subs.publish(f"markPrice.{sym}", self.stamp(data, now_us, m.last_id))
        if self.count % self.cadence_ticks("openInterest") == 0:
            drift = m.aux.randint(-m.typical_lots, m.typical_lots)
            m.open_interest_lots = max(m.typical_lots, m.open_interest_lots + drift)
            if self.subs.has(f"openInterest.{sym}"):
                data = {"e": "openInterest", "s": sym, "o": m.qty(m.open_interest_lots)}
                # Backpack: openInterest carries e, E, s, o only.
                self.subs.publish(f"openInterest.{sym}", self.stamp(data, now_us, m.last_id, engine=False))

    def kline(
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
        if self.subs.has(stream):
            data: dict[str, Any] = {"e": "kline", "s": m.symbol, "t": _iso(k.start), "T": _iso(k.end),
                                    "o": m.px(k.open), "c": m.px(k.close), "h": m.px(k.high), "l": m.px(k.low),
                                    "v": m.qty(k.lots), "n": k.trades, "X": closed}
            # kline T is the close time (ISO text), not an engine time.
            self.subs.publish(stream, self.stamp(data, now_us, k.trades, engine=False))

    def _liquidation(self, now_us: int) -> None:
        perps = [m for m in self.markets.values()
                 if m.spec.perp and m.book_state == "Open" and not self.faults.of(m.symbol).paused]
        if not perps:
            return
        m = self.rng.choice(perps)
        side = "Bid" if self.rng.random() < 0.5 else "Ask"
        price = m.mid_ticks().quantize(Decimal(1)) + self.rng.randint(-20, 20)
        lots = max(1, int(m.typical_lots * self.rng.expovariate(2.0)))
        if self.subs.has("liquidation"):
            data = {"e": "liquidation", "q": m.qty(lots), "p": m.px(price), "S": side, "s": m.symbol}
            self.subs.publish("liquidation", self.stamp(data, now_us, lots))
