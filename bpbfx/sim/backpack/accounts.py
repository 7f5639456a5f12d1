"""Backpack accounts: what the private streams report.

An account exists for each verifying key that subscribes to a private stream.  A *synthetic*
account opens with a long and a short position on the first two perpetual markets, then
lives on the ``account`` cadence (orders accepted, filled, cancelled, expired, modified,
triggers placed and failed, positions opened, adjusted and closed, occasional
``rfqActive``), all queued to the account's private streams.  A *trading* account (one that
trades over REST, see :mod:`~bpbfx.sim.backpack.engine`) has no invented activity: only its
own orders move it, and its perpetual positions are kept here.  No I/O; used under the
simulator's lock.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bpbfx.sim.backpack.market import _Market
from bpbfx.sim.backpack.subscriptions import Subscriptions
from bpbfx.sim.backpack.wire import Stamper, _data_text, _Stream

__all__: list[str] = []


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
    trading: bool = False


#: Where a trading account's events go: ``(key, kind, symbol, data)``.
Emit = Callable[[str, str, str, dict[str, Any]], None]


class Accounts:
    """The simulated accounts, by verifying key, and the events of their private streams."""

    def __init__(self, seed: int, markets: Mapping[str, _Market], subs: Subscriptions, stamp: Stamper) -> None:
        self.seed = seed
        self.markets = markets
        self.subs = subs
        self.stamp = stamp
        self.accounts: dict[str, _Account] = {}
        self.trading_emit: Emit | None = None

    def is_trading(self, key: str) -> bool:
        """``key`` is a trading account (no invented activity)."""
        account = self.accounts.get(key)
        return account is not None and account.trading

    def open_trading(self, key: str) -> _Account:
        """Make ``key`` a trading account: its invented orders and positions, if it had any,
        are forgotten and no invented activity follows."""
        account = self.accounts.get(key)
        if account is None:
            account = self.accounts[key] = _Account(key, random.Random(f"{self.seed}:account:{key}"))
        if not account.trading:
            account.trading = True
            account.positions.clear()
            account.orders.clear()
        return account

    def get(self, key: str) -> _Account:
        """The account of a verifying key, created on first use."""
        account = self.accounts.get(key)
        if account is None:
            account = _Account(key, random.Random(f"{self.seed}:account:{key}"))
            account.next_trade_id = account.rng.randint(1_000_000, 9_000_000)
            # Open positions on the first two perpetual markets: one long, one short.
            for n, m in enumerate([m for m in self.markets.values() if m.spec.perp][:2]):
                lots = m.typical_lots // 4 if n == 0 else -max(1, m.typical_lots // 8)
                account.positions[m.symbol] = _Position(account.rng.randint(10**9, 10**10), lots, m.price(m.open_price))
            self.accounts[key] = account
        return account

    def _emit(self, account: _Account, kind: str, symbol: str, data: dict[str, Any]) -> None:
        if account.trading and self.trading_emit is not None:
            self.trading_emit(account.key, kind, symbol, data)
        else:
            self.subs.publish_private(account.key, kind, symbol, data)

    def send_positions(self, cid: int, st: _Stream, account: _Account, now_us: int) -> None:
        """Queue an account's open positions to a new ``positionUpdate`` subscriber."""
        # Backpack: on subscription the open positions are sent, without an "e" field.
        for symbol in sorted(account.positions):
            if st.symbol is None or st.symbol == symbol:
                data = self._position_data(account, symbol, None, now_us)
                self.subs.enqueue(cid, _data_text(st.name, data))

    def _position_data(self, account: _Account, symbol: str, event: str | None, now_us: int) -> dict[str, Any]:
        m = self.markets[symbol]
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
        return self.stamp(data, now_us, pos.id)

    def _order_data(self, o: _Order, event: str, status: str, now_us: int, **extra: Any) -> dict[str, Any]:
        m = self.markets[o.symbol]
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
        return self.stamp(data, now_us, int(o.id) % 1000)

    def step(self, account: _Account, now_us: int) -> None:
        """One step of an account's life: an order placed, filled, cancelled, ..."""
        rng = account.rng
        account.steps += 1
        if account.steps % 5 == 0:
            spot = [m for m in self.markets.values() if not m.spec.perp] or list(self.markets.values())
            m = rng.choice(spot)
            symbol = m.symbol.split("_")[0] + "_USDC_RFQ"
            now_ms = now_us // 1000
            data = {"e": "rfqActive", "R": rng.randint(10**17, 10**18), "s": symbol, "q": m.qty(m.typical_lots),
                    "w": now_ms + 30_000, "W": now_ms + 60_000, "X": "New"}
            self._emit(account, "rfqUpdate", symbol, self.stamp(data, now_us, account.steps))
        if not account.orders or (len(account.orders) < 8 and rng.random() < 0.45):
            self._new_order(account, now_us)
            return
        o = account.orders[rng.choice(sorted(account.orders))]
        if o.trigger:
            if rng.random() < 0.5:
                del account.orders[o.id]
                self._emit(account, "orderUpdate", o.symbol,
                                   self._order_data(o, "triggerFailed", "TriggerFailed", now_us))
            else:
                o.trigger = False
                data = self._order_data(o, "orderAccepted", "New", now_us)
                self._emit(account, "orderUpdate", o.symbol, data)
            return
        r = rng.random()
        if r < 0.5:
            self._fill(account, o, now_us)
        elif r < 0.8 or o.lots - o.filled < 2:
            del account.orders[o.id]
            data = self._order_data(o, "orderCancelled", "Cancelled", now_us)
            self._emit(account, "orderUpdate", o.symbol, data)
        elif r < 0.9:
            del account.orders[o.id]
            self._emit(account, "orderUpdate", o.symbol,
                               self._order_data(o, "orderExpired", "Expired", now_us, R="PRICE_BAND"))
        else:
            o.lots -= rng.randint(1, o.lots - o.filled - 1)
            status = "PartiallyFilled" if o.filled else "New"
            self._emit(account, "orderUpdate", o.symbol, self._order_data(o, "orderModified", status, now_us))

    def _new_order(self, account: _Account, now_us: int) -> None:
        rng = account.rng
        m = self.markets[rng.choice(sorted(self.markets))]
        side = "Bid" if rng.random() < 0.5 else "Ask"
        lots = max(1, int(m.typical_lots * rng.expovariate(4.0)))
        best_bid, best_ask = m.bids.best(True), m.asks.best(False)
        kind = rng.random()
        order_id = str(rng.randint(10**15, 10**16))
        client_id = rng.randint(1, 2**31) if rng.random() < 0.5 else None
        if kind < 0.15:
            o = _Order(order_id, m.symbol, side, "MARKET", best_ask if side == "Bid" else best_bid, lots, client_id)
            account.orders[o.id] = o
            self._emit(account, "orderUpdate", o.symbol, self._order_data(o, "orderAccepted", "New", now_us))
            self._fill(account, o, now_us, whole=True)
            return
        price = best_bid - rng.randint(0, 5) if side == "Bid" else best_ask + rng.randint(0, 5)
        o = _Order(order_id, m.symbol, side, "LIMIT", max(1, price), lots, client_id)
        account.orders[o.id] = o
        if kind < 0.25:
            o.trigger = True
            self._emit(account, "orderUpdate", o.symbol,
                               self._order_data(o, "triggerPlaced", "TriggerPending", now_us))
        else:
            self._emit(account, "orderUpdate", o.symbol, self._order_data(o, "orderAccepted", "New", now_us))

    def _fill(self, account: _Account, o: _Order, now_us: int, whole: bool = False) -> None:
        rng = account.rng
        m = self.markets[o.symbol]
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
        self._emit(account, "orderUpdate", o.symbol,
                           self._order_data(o, "orderFill", "Filled" if done else "PartiallyFilled", now_us, **fill))
        if m.spec.perp:
            self.move_position(account, m, lots if o.side == "Bid" else -lots, price, now_us)

    def move_position(self, account: _Account, m: _Market, delta: int, price: Decimal, now_us: int) -> Decimal:
        """Move the account's position on perpetual ``m`` by ``delta`` lots traded at ``price``
        and publish it (positionOpened / positionAdjusted / positionClosed); returns the
        profit realized by the part that reduced the position."""
        realized = Decimal(0)
        pos = account.positions.get(m.symbol)
        if pos is None:
            pos = account.positions[m.symbol] = _Position(account.rng.randint(10**9, 10**10), delta, price)
            event = "positionOpened"
        else:
            old = pos.lots
            new = old + delta
            if old * delta < 0:  # reducing: realize the closed part
                closed = min(abs(delta), abs(old)) * (1 if old > 0 else -1)
                realized = (price - pos.entry) * m.size(closed)
                pos.realized += realized
                if new * old < 0:
                    pos.entry = price
            else:
                pos.entry = (pos.entry * abs(old) + price * abs(delta)) / abs(new)
            pos.lots = new
            event = "positionClosed" if new == 0 else "positionAdjusted"
        self._emit(account, "positionUpdate", m.symbol, self._position_data(account, m.symbol, event, now_us))
        if pos.lots == 0:
            del account.positions[m.symbol]
        return realized
