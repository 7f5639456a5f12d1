"""Simulated Bitfinex accounts: wallets, positions, funding offers and open orders, by API key.

A trading account (``account_balances``) starts with the given wallets and changes only
through its inputs (:mod:`~bpbfx.sim.bitfinex.orders`), fault controls and the market
crossing its resting orders; a synthetic one gets random wallets, two resting orders, a
position and an offer, and invented activity.  The order values and rows live in
:mod:`~bpbfx.sim.bitfinex.records` (re-exported here).  No I/O; used under the simulator's lock.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import bpbfx.sim.bitfinex.execution as execution
import bpbfx.sim.bitfinex.orders as orders
from bpbfx.sim.bitfinex.history import AccountHistory
from bpbfx.sim.bitfinex.market import _Market
from bpbfx.sim.bitfinex.records import (
    _TAKER_FEE,
    FLAG_CLOSE,
    FLAG_HIDDEN,
    FLAG_OCO,
    FLAG_POSTONLY,
    FLAG_REDUCE_ONLY,
    MAX_MULTI_OPS,
    ORDER_TYPES,
    Out,
    SimOffer,
    SimOrder,
    SimPosition,
    _dec,
    _LiveOrder,
    _notification,
    _Offer,
    _Position,
    _q,
    split_pair,
)
from bpbfx.sim.bitfinex.wire import truncate_significant

__all__ = [
    "FLAG_CLOSE",
    "FLAG_HIDDEN",
    "FLAG_OCO",
    "FLAG_POSTONLY",
    "FLAG_REDUCE_ONLY",
    "MAX_MULTI_OPS",
    "ORDER_TYPES",
    "SimOffer",
    "SimOrder",
    "SimPosition",
]


# --------------------------------------------------------------------------- the account
class _Account:
    """One simulated account (used under the simulator lock); its inputs are answered by
    :mod:`~bpbfx.sim.bitfinex.orders`.

    Args:
        key: the API key.
        seed: makes ids and synthetic activity reproducible.
        markets: the simulator's markets (shared, books are traded against).
        balances: ``{wallet: {currency: amount}}``; ``None`` gives a synthetic account with
            random wallets, two resting orders, a position and an offer, whose activity the
            simulator invents on the ``account`` cadence.
        min_sizes: minimum order size per trading symbol.
    """

    def __init__(
        self,
        key: str,
        seed: int,
        markets: Mapping[str, _Market],
        balances: Mapping[str, Mapping[str, Any]] | None,
        min_sizes: Mapping[str, Decimal],
    ) -> None:
        self.key = key
        self.rng = random.Random(f"{seed}:account:{key}")
        self.markets = markets
        self.min_sizes = min_sizes
        self.user_id = self.rng.randrange(1_000_000, 9_999_999)
        self.next_order = self.rng.randrange(10**11, 2 * 10**11)
        self.next_trade = self.rng.randrange(10**8, 2 * 10**8)
        self.next_pos = self.rng.randrange(10**8, 2 * 10**8)
        self.next_cid = 1_755_000_000_000
        self.synthetic = balances is None
        self.wallets: dict[tuple[str, str], Decimal] = {}
        if balances is None:
            for (w, c), lo, hi in (
                (("exchange", "USD"), 500, 5000),
                (("exchange", "BTC"), 0.01, 0.5),
                (("exchange", "UST"), 200, 2000),
                (("margin", "USTF0"), 100, 1000),
                (("funding", "USD"), 100, 1500),
            ):
                self.wallets[(w, c)] = _q(Decimal(str(round(self.rng.uniform(lo, hi), 8))))
        else:
            for wallet, currencies in balances.items():
                for ccy, amount in currencies.items():
                    self.wallets[(str(wallet), str(ccy))] = _q(_dec(amount))
        self.orders: dict[int, _LiveOrder] = {}
        self.positions: dict[str, _Position] = {}
        self.offers: dict[int, _Offer] = {}
        self.steps = 0
        self.last_accepted: _LiveOrder | None = None  # the order the last "on" created
        self.history = AccountHistory()  # closed orders and fills, for the REST history

    # ------------------------------------------------------------------ ids and helpers
    def new_order_id(self) -> int:
        """The next order (and offer) id."""
        self.next_order += self.rng.randrange(1, 1000)
        return self.next_order

    def new_trade_id(self) -> int:
        """The next trade id."""
        self.next_trade += self.rng.randrange(1, 10)
        return self.next_trade

    def trading_market(self, symbol: str) -> _Market | None:
        """The trading (not funding) market ``symbol``, or ``None``."""
        m = self.markets.get(symbol)
        return m if m is not None and not m.funding else None

    def usd_value(self, ccy: str) -> Decimal | None:
        if ccy in ("USD", "UST", "USTF0"):
            return Decimal(1)
        for sym in (f"t{ccy}USD", f"t{ccy}:USD"):
            m = self.markets.get(sym)
            if m is not None:
                return m.tick_price(m.last)
        return None

    def reserved(self, wallet: tuple[str, str]) -> Decimal:
        """What open exchange orders hold of ``wallet`` (buys: quote with the taker fee;
        sells: base)."""
        if wallet[0] != "exchange":
            return Decimal(0)
        total = Decimal(0)
        for o in self.orders.values():
            if not o.exchange or o.synthetic:
                continue
            base, quote = split_pair(o.symbol)
            if o.amount > 0 and quote == wallet[1] and o.price:
                total += o.amount * o.price * (1 + _TAKER_FEE)
            elif o.amount < 0 and base == wallet[1]:
                total += -o.amount
        return total

    def available(self, wallet: tuple[str, str]) -> Decimal:
        return _q(self.wallets.get(wallet, Decimal(0)) - self.reserved(wallet))

    def wallet_row(self, wallet: tuple[str, str], desc: str | None = None, meta: Any = None) -> list[Any]:
        # ws-auth-wallets: [WALLET_TYPE, CURRENCY, BALANCE, UNSETTLED_INTEREST, BALANCE_AVAILABLE,
        # DESCRIPTION, META]
        return [wallet[0], wallet[1], self.wallets.get(wallet, Decimal(0)), 0, self.available(wallet), desc, meta]

    def balance_row(self) -> list[Any]:
        # ws-auth-balance: [AUM, AUM_NET]
        aum = Decimal(0)
        for (_, ccy), bal in self.wallets.items():
            price = self.usd_value(ccy)
            if price is not None:
                aum += bal * price
        aum = _q(aum)
        return [aum, aum]

    def position_row(self, pos: _Position) -> list[Any]:
        m = self.markets.get(pos.symbol)
        return pos.row(m.tick_price(m.last) if m is not None else None)

    def snapshots(self) -> list[tuple[str, Any]]:
        """Channel-0 snapshots after auth, in the exchange's order: ps ws os fos fcs fls."""
        return [
            ("ps", [self.position_row(p) for p in self.positions.values() if p.status == "ACTIVE"]),
            ("ws", [self.wallet_row(w) for w in self.wallets]),
            ("os", [o.row() for o in self.orders.values()]),
            ("fos", [o.row() for o in self.offers.values()]),
            ("fcs", []),
            ("fls", []),
        ]

    # ------------------------------------------------------------------ synthetic activity
    def seed_synthetic(self, now_ms: int) -> None:
        """Two resting orders, a position and an offer, as a used account has."""
        for _ in range(2):
            self._synthetic_order(now_ms)
        m = self.markets.get("tBTCF0:USTF0") or next(iter(self.markets.values()))
        self.next_pos += self.rng.randrange(1, 100)
        amount = Decimal(str(round(self.rng.uniform(0.001, 0.05), 8)))
        self.positions[m.symbol] = _Position(self.next_pos, m.symbol, amount, m.tick_price(m.last), now_ms)
        f = self.markets.get("fUSD") or next(iter(self.markets.values()))
        amount = Decimal(str(round(self.rng.uniform(150, 1500), 8)))
        offer = _Offer(self.new_order_id(), f.symbol, amount, "LIMIT", f.tick_price(f.last), 2, now_ms)
        self.offers[offer.id] = offer

    def _synthetic_order(self, now_ms: int) -> _LiveOrder:
        rng = self.rng
        m = self.markets.get("tBTCUSD") or next(iter(self.markets.values()))
        amount = Decimal(str(round(rng.choice((1, -1)) * rng.uniform(0.0001, 0.01), 8)))
        price = m.tick_price(m.last + (-1 if amount > 0 else 1) * rng.randrange(5, 200))
        o = _LiveOrder(self.new_order_id(), m.symbol, amount, "EXCHANGE LIMIT", price, now_ms)
        self.next_cid += 1
        o.cid = self.next_cid
        o.synthetic = True
        assert o.id is not None
        self.orders[o.id] = o
        return o

    def synthetic_step(self, now_ms: int) -> list[Out]:
        """One step of invented activity (orders placed, filled, amended, cancelled from the
        web, the position and wallets moving); it never touches orders sent over the API."""
        rng = self.rng
        self.steps += 1
        mine = sorted(oid for oid, o in self.orders.items() if o.synthetic)
        choice = rng.random()
        if choice < 0.3 or not mine:
            o = self._synthetic_order(now_ms)
            return [("n", _notification("on-req", o.row(), "SUCCESS", orders.submitting_text(o), now_ms), True),
                    ("on", o.row(), False)]  # fmt: skip
        o = self.orders[rng.choice(mine)]
        if choice < 0.55:
            return execution.fill(self, o, None, now_ms)
        if choice < 0.7:
            o.price = truncate_significant(o.price * (1 + Decimal(str(round(rng.uniform(-0.001, 0.001), 6)))))
            o.mts_update = now_ms
            return [("ou", o.row(), False)]
        if choice < 0.8:
            text = f"Submitted for cancellation; waiting for confirmation (ID: {o.id})."
            return [("n", _notification("oc-req", o.row(), "SUCCESS", text, now_ms), True),
                    *execution.close(self, o, "CANCELED", now_ms)]  # fmt: skip
        active = [p for p in self.positions.values() if p.status == "ACTIVE"]
        if choice < 0.9 and active:
            active[0].mts_update = now_ms
            return [("pu", self.position_row(active[0]), False)]
        w = rng.choice(sorted(self.wallets))
        self.wallets[w] = _q(self.wallets[w] + Decimal(str(round(rng.uniform(-1, 1), 8))))
        return [("wu", self.wallet_row(w), False)]

    # ------------------------------------------------------------------ inspection
    def set_balance(self, wallet: str, currency: str, amount: Decimal) -> list[Out]:
        w = (wallet, currency)
        self.wallets[w] = _q(amount)
        return [("wu", self.wallet_row(w), False), ("bu", self.balance_row(), False)]
