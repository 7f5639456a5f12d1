"""The order engine of the simulated Backpack trading accounts.

Orders meet the simulator's own books.  A new order takes what it crosses, best price first:
the synthetic book's levels (the liquidity the depth stream shows, which it consumes: the
next depth delta and the public trades show it) and the resting orders of every trading
account (which are not shown in the public depth; at one price they trade before the
synthetic level).  Then:

* ``GTC`` limit orders rest with what is left; ``IOC`` expires the rest (``Expired``,
  ``ImmediateOrCancel``); ``FOK`` trades all at once or expires untouched (``FillOrKill``);
* market orders trade by ``quantity`` or spend up to ``quoteQuantity``; what the book cannot
  give expires (``InsufficientLiquidity``);
* ``postOnly`` orders that would take are refused (400 INVALID_ORDER "Order would immediately
  match and take"); a ``clientId`` the account ever used is refused (400
  INVALID_CLIENT_REQUEST "Order with client ID already exists");
* self-trade prevention, when the taker meets a resting order of its own account, follows the
  taker's setting: ``RejectTaker`` expires the taker, ``RejectMaker`` the resting order,
  ``RejectBoth`` both (``SelfTradePrevention``), ``Allow`` lets them trade.

Resting orders fill as makers, at their own price, when the moving synthetic book crosses
them (checked every tick) or when :meth:`OrderEngine.fill` says so.  Every order and fill is
kept for the history endpoints.  The events of each order go to the account's streams in the
exchange's order: ``orderAccepted``, each ``orderFill``, then ``orderCancelled`` or
``orderExpired`` when it ends without filling (and ``positionUpdate`` after fills on
perpetuals).  No I/O; used under the simulator's lock.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bpbfx.sim.backpack.accounts import Accounts
from bpbfx.sim.backpack.events import AccountEvents
from bpbfx.sim.backpack.ledger import Ledger, fee_rate
from bpbfx.sim.backpack.market import _Fill, _Market
from bpbfx.sim.backpack.records import (
    CANCELLED,
    EXPIRED,
    FILL_OR_KILL,
    FILLED,
    IMMEDIATE_OR_CANCEL,
    INSUFFICIENT_LIQUIDITY,
    PARTIALLY_FILLED,
    SELF_TRADE_PREVENTION,
    _AccountFill,
    _Order,
    order_event,
)
from bpbfx.sim.backpack.requests import NOT_FOUND, OrderRequest, Refusal
from bpbfx.sim.backpack.wire import Stamper

__all__: list[str] = []

#: Publishes what changed in a market: ``(market, first update id, changes, trades, now_us)``.
Publish = Callable[[_Market, int, dict[tuple[str, int], int], list[_Fill], int], None]

#: Orders never take the last levels of a synthetic side (the book stays two-sided).
_KEEP_LEVELS = 3


@dataclass
class _Step:
    """One match of a plan: ``lots`` at ``price`` with a resting order (``maker``) or the
    synthetic book (``maker`` None); ``expire``: self-trade prevention expires ``maker``."""

    price: int
    lots: int
    maker: _Order | None
    expire: bool = False


@dataclass
class _Plan:
    """What an order would do against the book now, changing nothing."""

    steps: list[_Step] = field(default_factory=list)
    lots: int = 0
    cost: Decimal = Decimal(0)
    complete: bool = False  # the order would be done: filled, or its quote quantity spent
    stp_stop: bool = False  # self-trade prevention stops the taker


class OrderEngine:
    """The trading accounts' orders and fills, and the matching.

    ``publish`` queues a market's changes (the simulator's feeds); ``counters`` (the
    simulator's) counts ``orders_accepted``, ``orders_refused``, ``fills``.
    """

    def __init__(
        self,
        markets: Mapping[str, _Market],
        ledger: Ledger,
        accounts: Accounts,
        events: AccountEvents,
        stamp: Stamper,
        publish: Publish,
        seed: int,
        counters: dict[str, int],
    ) -> None:
        self.markets = markets
        self.ledger = ledger
        self.accounts = accounts
        self.events = events
        self.stamp = stamp
        self.publish = publish
        self.counters = counters
        self.rng = random.Random(f"{seed}:orders")
        self.next_id = self.rng.randint(10**17, 2 * 10**17)
        self.seq = 0
        self.orders: dict[str, _Order] = {}
        self.by_key: dict[str, list[_Order]] = {}  # every order of an account, oldest first
        self.fills: dict[str, list[_AccountFill]] = {}  # every fill of an account, oldest first
        # Resting orders per market (a market listed while running starts with none).
        self.resting: dict[str, list[_Order]] = defaultdict(list)
        self.client_ids: dict[str, set[int]] = {}  # every clientId an account used

    # ------------------------------------------------------------------ requests
    def submit(self, key: str, req: OrderRequest, now_us: int) -> _Order | Refusal:
        """Place an order for account ``key``: the order as it stands after matching, or why
        it was refused (then nothing happened)."""
        m = self.markets[req.symbol]
        used = self.client_ids.setdefault(key, set())
        if req.client_id is not None and req.client_id in used:
            # Backpack: a clientId is never reusable, even after its order closed.
            return self._refuse(400, "INVALID_CLIENT_REQUEST", "Order with client ID already exists")
        o = _Order("", key, req.symbol, req.side, req.order_type, req.time_in_force, req.price, req.lots,
                   req.quote, req.client_id, req.stp, req.post_only, req.reduce_only, now_us // 1000, 0)
        if req.reduce_only and not self._reduces(o, m):
            return self._refuse(400, "INVALID_ORDER", "Reduce only order not reduced")  # simulator's own
        if req.post_only and self._would_take(o, m):
            return self._refuse(400, "INVALID_ORDER", "Order would immediately match and take")
        plan = self._plan(o, m)
        if not m.spec.perp and not self._hold_funds(o, m, plan):
            return self._refuse(400, "INSUFFICIENT_FUNDS", "Insufficient funds")
        self.next_id += self.rng.randint(1, 4096)
        self.seq += 1
        o.id, o.seq = str(self.next_id), self.seq
        self.orders[o.id] = o
        self.by_key.setdefault(key, []).append(o)
        if o.client_id is not None:
            used.add(o.client_id)
        self.counters["orders_accepted"] += 1
        self._event(o, m, "orderAccepted", now_us)
        if o.time_in_force == "FOK" and not plan.complete:
            self._close(o, m, EXPIRED, FILL_OR_KILL, now_us)
            return o
        first = m.last_id + 1
        changes: dict[tuple[str, int], int] = {}
        fills: list[_Fill] = []
        self._execute(o, m, plan, now_us, changes, fills)
        if o.is_open:
            if plan.stp_stop:
                self._close(o, m, EXPIRED, SELF_TRADE_PREVENTION, now_us)
            elif o.order_type == "Market":
                self._close(o, m, EXPIRED, INSUFFICIENT_LIQUIDITY, now_us)
            elif o.time_in_force != "GTC":
                self._close(o, m, EXPIRED, IMMEDIATE_OR_CANCEL, now_us)
            else:
                self.resting[o.symbol].append(o)
        if changes or fills:
            self.publish(m, first, changes, fills, now_us)
        return o

    def cancel(self, key: str, symbol: str, order_id: str | None, client_id: int | None, now_us: int) -> (
        _Order | Refusal
    ):
        """Cancel a resting order of ``key`` (by id or clientId): the cancelled order, or 404."""
        o = self.find_open(key, symbol, order_id, client_id)
        if o is None:
            return NOT_FOUND
        self._close(o, self.markets[symbol], CANCELLED, None, now_us)
        return o

    def cancel_all(self, key: str, symbol: str, now_us: int) -> list[_Order]:
        """Cancel every resting order of ``key`` on ``symbol``; the cancelled orders, oldest first."""
        m = self.markets[symbol]
        mine = [o for o in self.resting[symbol] if o.key == key]
        for o in mine:
            self._close(o, m, CANCELLED, None, now_us)
        return mine

    def find_open(self, key: str, symbol: str, order_id: str | None, client_id: int | None) -> _Order | None:
        """The resting order of ``key`` on ``symbol`` with that id (or clientId), if any."""
        for o in self.resting[symbol]:
            if o.key == key and (o.id == order_id if order_id is not None else o.client_id == client_id):
                return o
        return None

    def open_orders(self, key: str, symbol: str | None = None) -> list[_Order]:
        """The resting orders of ``key`` (on ``symbol``), oldest first."""
        symbols = [symbol] if symbol is not None else list(self.resting)
        return sorted((o for s in symbols for o in self.resting[s] if o.key == key), key=lambda o: o.seq)

    # ------------------------------------------------------------------ the market moves
    def match_resting(self, m: _Market, changes: dict[tuple[str, int], int], fills: list[_Fill], now_us: int) -> None:
        """Fill the resting orders the moved synthetic book of ``m`` now crosses, as makers at
        their own price, taking the crossing liquidity out of the book (a tick's matcher)."""
        took = False
        for o in list(self.resting[m.symbol]):
            synth = m.asks if o.bid else m.bids
            assert o.price is not None
            while o.is_open and len(synth) > _KEEP_LEVELS:
                best = synth.best(not o.bid)
                if (best > o.price) if o.bid else (best < o.price):
                    break
                lots = min(synth.levels[best], o.left)
                m.take(not o.bid, best, lots, changes)
                took = True
                fills.append(self._trade(o, None, m, o.price, lots, now_us, maker_filled=True))
        if took:
            m.last_id += 1

    def fill(self, order_id: str, lots: int | None, now_us: int) -> _Order:
        """Fill ``lots`` (all that is left by default) of a resting order as maker at its price,
        as if a taker had crossed it; the order.

        Raises:
            KeyError: no such resting order.
        """
        o = self.orders.get(order_id)
        if o is None or not o.is_open or o not in self.resting[o.symbol]:
            raise KeyError(f"no resting order {order_id!r}")
        m = self.markets[o.symbol]
        size = o.left if lots is None else min(lots, o.left)
        if size > 0:
            assert o.price is not None
            trade = self._trade(o, None, m, o.price, size, now_us, maker_filled=True)
            self.publish(m, m.last_id + 1, {}, [trade], now_us)
        return o

    # ------------------------------------------------------------------ matching
    def _would_take(self, o: _Order, m: _Market) -> bool:
        assert o.price is not None
        synth = m.asks if o.bid else m.bids
        if synth.prices:
            best = synth.best(not o.bid)
            if (best <= o.price) if o.bid else (best >= o.price):
                return True
        return any(r.bid != o.bid and ((r.price or 0) <= o.price if o.bid else (r.price or 0) >= o.price)
                   for r in self.resting[m.symbol])

    def _reduces(self, o: _Order, m: _Market) -> bool:
        account = self.accounts.open_trading(o.key)
        pos = account.positions.get(m.symbol)
        if pos is None or pos.lots == 0 or (pos.lots > 0) == o.bid:
            return False
        return o.lots is not None and o.lots <= abs(pos.lots)

    def _plan(self, o: _Order, m: _Market) -> _Plan:
        """What ``o`` would take now, best price first (resting orders before the synthetic
        level at one price), changing nothing."""
        plan = _Plan()
        bid = o.bid
        synth = m.asks if bid else m.bids
        prices = synth.prices if bid else synth.prices[::-1]
        makers = sorted((r for r in self.resting[m.symbol] if r.bid != bid),
                        key=lambda r: ((r.price or 0) if bid else -(r.price or 0), r.seq))
        left = o.left if o.lots is not None else None
        budget = o.quote - o.filled_quote if o.quote is not None else None
        i = j = 0
        levels = len(synth)
        while left is None or left > 0:
            if budget is not None and budget <= 0:
                plan.complete = True
                break
            level = prices[i] if i < len(prices) and levels > _KEEP_LEVELS else None
            maker = makers[j] if j < len(makers) else None
            if maker is not None and maker.price is not None and (
                level is None or (maker.price <= level if bid else maker.price >= level)
            ):
                price, available = maker.price, maker.left
            elif level is not None:
                price, available, maker = level, synth.levels[level], None
            else:
                break
            if o.price is not None and (price > o.price if bid else price < o.price):
                break
            if maker is not None and maker.key == o.key and o.stp != "Allow":
                if o.stp == "RejectTaker":
                    plan.stp_stop = True
                    break
                plan.steps.append(_Step(price, 0, maker, expire=True))
                j += 1
                if o.stp == "RejectBoth":
                    plan.stp_stop = True
                    break
                continue
            lots = available if left is None else min(available, left)
            if budget is not None:
                lots = min(lots, int(budget / (m.price(price) * m.spec.step_size)))
                if lots <= 0:
                    plan.complete = True
                    break
            notional = m.price(price) * m.size(lots)
            plan.steps.append(_Step(price, lots, maker))
            plan.lots += lots
            plan.cost += notional
            if left is not None:
                left -= lots
            if budget is not None:
                budget -= notional
            if lots == available:
                if maker is None:
                    i += 1
                    levels -= 1
                else:
                    j += 1
        if left == 0:
            plan.complete = True
        return plan

    def _hold_funds(self, o: _Order, m: _Market, plan: _Plan) -> bool:
        """Check (and for a limit order hold) the funds a spot order needs."""
        base, quote = m.base_asset, m.quote_asset
        if o.order_type == "Limit":
            assert o.price is not None and o.lots is not None
            asset, amount = (quote, m.price(o.price) * m.size(o.lots)) if o.bid else (base, m.size(o.lots))
            if not self.ledger.lock(o.key, asset, amount):
                return False
            o.locked = amount
            return True
        if o.bid:
            need = plan.cost if o.lots is not None else (o.quote or Decimal(0))
            return self.ledger.available(o.key, quote) >= need
        need = m.size(o.lots if o.lots is not None else plan.lots)
        return self.ledger.available(o.key, base) >= need

    def _execute(
        self, o: _Order, m: _Market, plan: _Plan, now_us: int, changes: dict[tuple[str, int], int], fills: list[_Fill]
    ) -> None:
        last = max((k for k, st in enumerate(plan.steps) if not st.expire), default=-1)
        took = False
        for k, st in enumerate(plan.steps):
            if st.expire:
                assert st.maker is not None
                self._close(st.maker, m, EXPIRED, SELF_TRADE_PREVENTION, now_us)
                continue
            if st.maker is None:
                m.take(not o.bid, st.price, st.lots, changes)
                took = True
            fills.append(self._trade(o, st.maker, m, st.price, st.lots, now_us,
                                     taker_done=k == last and plan.complete))
        if took:
            m.last_id += 1

    def _trade(
        self,
        o: _Order,
        maker: _Order | None,
        m: _Market,
        price: int,
        lots: int,
        now_us: int,
        taker_done: bool = False,
        maker_filled: bool = False,
    ) -> _Fill:
        """One public trade: ``o`` takes from ``maker`` (or the synthetic book); with
        ``maker_filled`` ``o`` is itself the maker and a synthetic order took from it."""
        trade_id = m.next_trade_id()
        if maker_filled:
            self._settle(o, m, price, lots, True, trade_id, now_us, False)
            buyer_is_maker = o.bid
        else:
            self._settle(o, m, price, lots, False, trade_id, now_us, taker_done)
            if maker is not None:
                self._settle(maker, m, price, lots, True, trade_id, now_us, False)
            buyer_is_maker = not o.bid
        other = maker.id if maker is not None else str(self.rng.randint(10**14, 10**15))
        buyer, seller = (o.id, other) if o.bid else (other, o.id)
        return _Fill(trade_id, price, lots, buyer_is_maker, buyer, seller)

    def _settle(
        self, o: _Order, m: _Market, price: int, lots: int, maker: bool, trade_id: int, now_us: int, done: bool
    ) -> None:
        """Book one execution of ``o``: its fill, the balances, the fee, its events."""
        px, size = m.price(price), m.size(lots)
        notional = px * size
        o.filled += lots
        o.filled_quote += notional
        key, base, quote = o.key, m.base_asset, m.quote_asset
        rate = fee_rate(m.spec.perp, maker)
        ledger = self.ledger
        if m.spec.perp:
            fee, fee_symbol = notional * rate, quote
            ledger.credit(key, quote, -fee)
        elif o.bid:
            fee, fee_symbol = size * rate, base
            if o.order_type == "Limit":
                assert o.price is not None
                held = m.price(o.price) * size
                ledger.spend_locked(key, quote, held)
                o.locked -= held
                ledger.credit(key, quote, held - notional)  # a better price gives the difference back
            else:
                ledger.credit(key, quote, -notional)
            ledger.credit(key, base, size - fee)
        else:
            fee, fee_symbol = notional * rate, quote
            if o.order_type == "Limit":
                ledger.spend_locked(key, base, size)
                o.locked -= size
            else:
                ledger.credit(key, base, -size)
            ledger.credit(key, quote, notional - fee)
        finished = done or (o.lots is not None and o.filled >= o.lots)
        o.status = FILLED if finished else PARTIALLY_FILLED
        f = _AccountFill(trade_id, o.id, o.client_id, o.symbol, o.side, price, lots, fee, fee_symbol, maker,
                         now_us // 1000)
        self.fills.setdefault(key, []).append(f)
        self.counters["fills"] += 1
        self._event(o, m, "orderFill", now_us, f)
        if m.spec.perp:
            account = self.accounts.open_trading(key)
            ledger.credit(key, quote, self.accounts.move_position(account, m, lots if o.bid else -lots, px, now_us))
        if finished:
            self._retire(o, m)

    def _close(self, o: _Order, m: _Market, status: str, reason: str | None, now_us: int) -> None:
        """End ``o`` as ``Cancelled`` or ``Expired`` (with ``reason``) and tell its account."""
        o.status = status
        o.expiry_reason = reason
        self._retire(o, m)
        self._event(o, m, "orderCancelled" if status == CANCELLED else "orderExpired", now_us)

    def _retire(self, o: _Order, m: _Market) -> None:
        """Take ``o`` off the book and give back the funds it still holds."""
        resting = self.resting[o.symbol]
        if o in resting:
            resting.remove(o)
        if o.locked:
            self.ledger.release(o.key, m.quote_asset if o.bid else m.base_asset, o.locked)
            o.locked = Decimal(0)

    def _event(self, o: _Order, m: _Market, event: str, now_us: int, fill: _AccountFill | None = None) -> None:
        self.events.emit(o.key, "orderUpdate", o.symbol, order_event(o, m, event, self.stamp, now_us, fill))

    def _refuse(self, status: int, code: str, message: str) -> Refusal:
        self.counters["orders_refused"] += 1
        return Refusal(status, code, message)
