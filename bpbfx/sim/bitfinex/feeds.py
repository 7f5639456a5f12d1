"""Bitfinex market data feeds: the snapshot a new channel gets, then what each tick
publishes on it.

Each tick every market (but paused ones) moves: trades go out at once (``te``, and the same
trade as ``tu`` one tick later; funding ``fte`` / ``ftu``) with the candles they touch, then
the book updates of every book view (F0 every tick, F1 on its cadence; deletes first, one
frame per update or one per tick with ``BULK_UPDATES``, then ``cs`` with ``OB_CHECKSUM``);
tickers, derivative status and liquidations follow their cadences (:data:`PERIODS`, counted
in ticks by :meth:`~bpbfx.sim.bitfinex.BitfinexSimulator.cadence_ticks`).  Armed faults
(maintenance, paused markets, silenced channels, withheld updates, wrong checksums) act
here.  No I/O but queuing; used under the simulator's lock on its loop thread.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from bpbfx.sim.bitfinex.clients import _Channel, _Client
from bpbfx.sim.bitfinex.faults import Faults
from bpbfx.sim.bitfinex.market import _Market, _View
from bpbfx.sim.bitfinex.subscriptions import Subscriptions
from bpbfx.sim.bitfinex.wire import BULK_UPDATES, OB_CHECKSUM, _js, _signed32, js_number

__all__: list[str] = []

# Exchange cadences in (unscaled) seconds, counted in ticks.
PERIODS: dict[str, float] = {
    "ticker": 1.0,
    "status": 1.0,
    "book.F1": 2.0,
    "account": 0.5,
    "liquidation": 2.0,
}


class MarketFeeds:
    """Advances the markets tick by tick and queues the resulting frames.

    ``cadence_ticks`` turns a cadence name into ticks; ``rng`` draws status rows and
    liquidations; ``counters`` (the simulator's) counts ``ticks``, ``trades``,
    ``book_updates``, ``checksums_sent``, ``updates_dropped`` and ``checksums_corrupted``.
    """

    def __init__(
        self,
        markets: Mapping[str, _Market],
        subs: Subscriptions,
        faults: Faults,
        cadence_ticks: Callable[[str], int],
        rng: random.Random,
        counters: dict[str, int],
    ) -> None:
        self.markets = markets
        self.subs = subs
        self.faults = faults
        self.cadence_ticks = cadence_ticks
        self.rng = rng
        self.counters = counters
        self.count = 0
        self._next_pos = rng.randrange(10**8, 2 * 10**8)  # liquidated position ids

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, client: _Client, ch: _Channel, now_ms: int) -> None:
        """Queue the snapshot a new channel starts with (none for ``liq:global``)."""
        topic = ch.topic
        channel = topic[0]
        if channel == "ticker":
            self.subs.push(client, ch, self.markets[topic[1]].ticker_text(), now_ms)
        elif channel == "trades":
            m = self.markets[topic[1]]
            body = "[" + ",".join(m.trade_text(t) for t in m.recent_trades()) + "]"
            self.subs.push(client, ch, body, now_ms)
        elif channel == "book":
            view = self.subs.view(topic)
            view.channels.add((client.conn.id, ch.chan_id))
            self.subs.push(client, ch, view.snapshot_text(), now_ms)
        elif channel == "candles":
            _, tf, symbol = topic[1].split(":", 2)
            m = self.markets[symbol]
            c = m.candles_for(tf, now_ms)
            body = "[" + ",".join(m.candle_text(r) for r in reversed(c.rows)) + "]"
            self.subs.push(client, ch, body, now_ms)
        elif channel == "status" and topic[1] != "liq:global":
            self.subs.push(client, ch, self._status_text(self.markets[topic[1][6:]], now_ms), now_ms)

    # ------------------------------------------------------------------ ticks
    def move(self, now_ms: int) -> int:
        """Advance every market (but paused ones) by one tick and queue its trades; returns
        the number of the tick, from 1."""
        self.count += 1
        self.counters["ticks"] = self.count
        for m in self.markets.values():
            if m.paused or (m.sparse and m.asleep()):
                m.new_trades = []
                continue
            m.evolve(now_ms)
            self.counters["trades"] += len(m.new_trades)
            self._emit_trades(m, now_ms)
        return self.count

    def publish(self, now_ms: int) -> None:
        """Queue the book updates, and the tickers, status rows and liquidations due."""
        self._emit_books(now_ms)
        if self.count % self.cadence_ticks("ticker") == 0:
            for m in self.markets.values():
                ticker = ("ticker", m.symbol)
                if not m.paused and ticker in self.subs.topic_subs:
                    text = m.ticker_text()
                    for client, ch in self.subs.channels_of(ticker):
                        self.subs.push(client, ch, text, now_ms)
        if self.count % self.cadence_ticks("status") == 0:
            for topic in [t for t in self.subs.topic_subs if t[0] == "status" and t[1] != "liq:global"]:
                market = self.markets.get(topic[1][6:])
                if market is None:
                    continue  # delisted: the channel only gets heartbeats
                text = self._status_text(market, now_ms)
                for client, ch in self.subs.channels_of(topic):
                    self.subs.push(client, ch, text, now_ms)
        if self.count % self.cadence_ticks("liquidation") == 0:
            self._liquidation(now_ms)

    def _emit_trades(self, m: _Market, now_ms: int) -> None:
        pending, m.pending_tu = m.pending_tu, list(m.new_trades)
        topic = ("trades", m.symbol)
        subs = self.subs.channels_of(topic) if topic in self.subs.topic_subs else []
        te, tu = ("fte", "ftu") if m.funding else ("te", "tu")
        for client, ch in subs:
            # Bitfinex: "te" at execution, "tu" for the same trade a little later.
            for t in pending:
                self.subs.push(client, ch, f'"{tu}",{m.trade_text(t)}', now_ms)
            for t in m.new_trades:
                self.subs.push(client, ch, f'"{te}",{m.trade_text(t)}', now_ms)
        if m.new_trades and not m.funding:
            for tf, candles in m.candles.items():
                key = f"trade:{tf}:{m.symbol}"
                for t in m.new_trades:
                    candles.add_trade(t)
                text = m.candle_text(candles.rows[-1])
                for client, ch in self.subs.channels_of(("candles", key)):
                    self.subs.push(client, ch, text, now_ms)

    def _emit_books(self, now_ms: int) -> None:
        f1 = self.count % self.cadence_ticks("book.F1") == 0
        for view in list(self.subs.views.values()):
            if view.freq == "F1" and not f1:
                continue
            if not view.market.changed and view.freq == "F0":
                continue
            updates = view.refresh()
            if not updates:
                continue
            self.counters["book_updates"] += len(updates)
            for cid, chan_id in sorted(view.channels):
                client = self.subs.clients.get(cid)
                ch = client.channels.get(chan_id) if client is not None else None
                if client is None or ch is None:
                    continue
                self._send_book_updates(client, ch, view, updates, now_ms)
        for m in self.markets.values():
            m.changed = False

    def _send_book_updates(
        self, client: _Client, ch: _Channel, view: _View, updates: list[tuple[str, bool]], now_ms: int
    ) -> None:
        if ch.silenced or self.faults.maintenance:
            return
        texts = [u[0] for u in updates]
        if ch.drop_pending:
            # Drop one update the checksum covers: the client's top 25 can no longer match.
            for i, (_, top) in enumerate(updates):
                if top:
                    del texts[i]
                    ch.drop_pending -= 1
                    self.counters["updates_dropped"] += 1
                    break
        if client.flags & BULK_UPDATES:
            if texts:
                self.subs.push(client, ch, "[" + ",".join(f"[{t}]" for t in texts) + "]", now_ms)
        else:
            for t in texts:
                self.subs.push(client, ch, f"[{t}]", now_ms)
        if client.flags & OB_CHECKSUM:
            cs = view.checksum
            if ch.corrupt_pending:
                ch.corrupt_pending -= 1
                cs = _signed32((cs & 0xFFFFFFFF) ^ 0x5A5A5A5A)
                self.counters["checksums_corrupted"] += 1
            if self.subs.push(client, ch, f'"cs",{cs}', now_ms):
                self.counters["checksums_sent"] += 1

    def _status_text(self, m: _Market, now_ms: int) -> str:
        spot = self.markets.get("t" + m.symbol[1:4] + "USD")
        deriv = m.price_text(m.last)
        spot_text = spot.price_text(spot.last) if spot is not None else deriv
        next_funding = (now_ms // 28_800_000 + 1) * 28_800_000
        rng = self.rng
        insurance = js_number(round(62_210_384.95685668 + rng.uniform(-50, 50), 8))
        accrued = js_number(round(rng.uniform(-0.0002, 0.0002), 8))
        current = js_number(round(rng.uniform(-0.0001, 0.0001), 8))
        mark = js_number(round(float(deriv) * 0.99995, 4))
        open_interest = js_number(round(rng.uniform(5000, 9000), 8))
        # [MTS,_,DERIV_PRICE,SPOT_PRICE,_,INSURANCE_FUND_BALANCE,_,NEXT_FUNDING_EVT_MTS,
        #  NEXT_FUNDING_ACCRUED,NEXT_FUNDING_STEP,_,CURRENT_FUNDING,_,_,MARK_PRICE,_,_,OPEN_INTEREST,
        #  _,_,_,CLAMP_MIN,CLAMP_MAX]
        return (
            f"[{now_ms},null,{deriv},{spot_text},null,{insurance},null,{next_funding},{accrued},"
            f"{rng.randrange(1, 5000)},null,{current},null,null,{mark},null,null,{open_interest},"
            "null,null,null,0.0005,0.0025]"
        )

    def _liquidation(self, now_ms: int) -> None:
        topic = ("status", "liq:global")
        if topic not in self.subs.topic_subs:
            return
        perps = [m for m in self.markets.values() if m.spec.perpetual]
        rng = self.rng
        if not perps or rng.random() < 0.3:
            return
        m = rng.choice(perps)
        self._next_pos += rng.randrange(1, 1000)
        amount = round(rng.choice((1, -1)) * rng.uniform(0.001, 2.0), 8)
        base = round(float(m.price_text(m.last)) * rng.uniform(0.97, 1.03), 6)
        acquired = float(m.price_text(m.last))
        row = _js([["pos", self._next_pos, now_ms, None, m.symbol, amount, base, None, 1, 1, None, acquired]])
        for client, ch in self.subs.channels_of(topic):
            self.subs.push(client, ch, row, now_ms)
