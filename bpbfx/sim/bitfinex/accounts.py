"""Simulated Bitfinex accounts: wallets, the order engine, positions and funding offers.

An :class:`_Account` answers the channel-0 inputs of an authenticated socket the way the
exchange does and returns the channel-0 messages to send as ``(TYPE, DATA, REPLY)`` tuples
(``REPLY``: a notification answering a request, which Bitfinex numbers differently under
``SEQ_ALL``).  Money is exact: amounts, prices and balances are :class:`~decimal.Decimal`
values parsed from the request text; the order book of a market keeps integer units of 1e-8.

Sources of the rules (cited again where implemented):

* order array, notification array, order types, statuses (``ACTIVE``, ``EXECUTED @
  PRICE(AMOUNT)``, ``PARTIALLY FILLED @ ...``, ``CANCELED was: PARTIALLY FILLED @ ...``,
  ``POSTONLY CANCELED``, ``FILLORKILL CANCELED``, ``IOC CANCELED``, ``RSN_POS_NOTFOUND``,
  ``RSN_POS_REDUCE_INCR``, ``RSN_POS_REDUCE_FLIP``): docs.bitfinex.com (ws-auth-orders,
  rest-auth-order-multi, abbreviations-glossary);
* ``Submitting exchange limit sell order for 500.0 TRX.`` and the full on-req / on frames:
  bitfinexcom/bitfinex-api-node issues #141, #392, #519 (wire captures);
* ``Invalid order: not enough exchange balance for 0.00235071 BTCUSD at 9122.2``
  (bitfinex-api-node #537, #539), ``... not enough tradable balance for 50.0 XRPUSD at
  0.76735`` (#262), ``Invalid order: minimum size for WAX/BTC is 80.0`` (ccxt #3152);
* prices: 5 significant digits, longer prices are truncated (docs.bitfinex.com v2 readme);
* flags HIDDEN 64, CLOSE 512, REDUCE_ONLY 1024, POSTONLY 4096, OCO 16384 (docs flag-values);
* ``ox_multi``: at most 75 operations per request (docs ws-auth-input-order-multi-op).

Texts marked "simulator's own" below have no capture to copy; they follow the exchange's
``field: invalid`` style.  Used under the simulator's lock; no I/O.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from bpbfx.sim.bitfinex.market import _Market
from bpbfx.sim.bitfinex.wire import status_number, truncate_significant

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

#: Order types Bitfinex accepts (docs.bitfinex.com, ws-auth-input-order-new).
ORDER_TYPES: frozenset[str] = frozenset(
    {
        "LIMIT", "EXCHANGE LIMIT", "MARKET", "EXCHANGE MARKET", "STOP", "EXCHANGE STOP",
        "STOP LIMIT", "EXCHANGE STOP LIMIT", "TRAILING STOP", "EXCHANGE TRAILING STOP",
        "FOK", "EXCHANGE FOK", "IOC", "EXCHANGE IOC",
    }
)  # fmt: skip
#: Order flags (docs.bitfinex.com, flag-values).
FLAG_HIDDEN = 64
FLAG_CLOSE = 512
FLAG_REDUCE_ONLY = 1024
FLAG_POSTONLY = 4096
FLAG_OCO = 16384
#: Operations one ``ox_multi`` input may carry (docs: "Max 75 operations per request").
MAX_MULTI_OPS = 75
_FUNDING_TYPES = frozenset({"LIMIT", "FRRDELTAVAR", "FRRDELTAFIX"})
_TRIGGERED = frozenset({"STOP", "STOP LIMIT", "TRAILING STOP"})  # rest, never triggered here
_EIGHT = Decimal("1e-8")
_MAKER_FEE = Decimal("0.001")  # Bitfinex base fees: maker 0.1 %, taker 0.2 %
_TAKER_FEE = Decimal("0.002")

#: One channel-0 message: (TYPE, DATA, answers a request).
Out = tuple[str, Any, bool]


def _q(x: Decimal) -> Decimal:
    """Round to the exchange's 8 decimals."""
    return x.quantize(_EIGHT).normalize() if x else Decimal(0)


def _bad_amount(x: Decimal) -> bool:
    """Zero, more than 8 decimals, or more than 10**12 (beyond any market)."""
    return x == 0 or abs(x) >= Decimal(10) ** 12 or x != x.quantize(_EIGHT)


def _units(x: Decimal) -> int:
    return int(x.scaleb(8))


def _amount_of(units: int) -> Decimal:
    return Decimal(units).scaleb(-8).normalize() if units else Decimal(0)


def split_pair(symbol: str) -> tuple[str, str]:
    """``tBTCUSD`` -> ``("BTC", "USD")``, ``tAVAX:USD`` -> ``("AVAX", "USD")``."""
    pair = symbol[1:]
    if ":" in pair:
        base, _, quote = pair.partition(":")
        return base, quote
    return pair[:3], pair[3:]


def _dec(value: Any) -> Decimal:
    """A number from a request: JSON text, a string or an int; never a bool or NaN."""
    if isinstance(value, bool) or value is None:
        raise ValueError("not a number")
    try:
        d = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not d.is_finite():
        raise ValueError("not a number")
    return d


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer")
    return value


def _date(mts: int) -> str:
    return datetime.fromtimestamp(mts / 1000, timezone.utc).strftime("%Y-%m-%d")


# --------------------------------------------------------------------------- public snapshots
@dataclass(frozen=True)
class SimOrder:
    """An order of a simulated account as the exchange holds it (a copy).

    ``amount`` is what is left (signed, > 0 buy), ``amount_orig`` what was ordered; ``status``
    is the exchange's text (``"ACTIVE"``, ``"PARTIALLY FILLED @ 100.0(0.05)"``...).
    """

    id: int
    gid: int | None
    cid: int | None
    symbol: str
    mts_create: int
    mts_update: int
    amount: Decimal
    amount_orig: Decimal
    type: str
    flags: int
    status: str
    price: Decimal
    price_avg: Decimal
    price_aux_limit: Decimal
    price_trailing: Decimal
    meta: Any


@dataclass(frozen=True)
class SimPosition:
    """A position of a simulated account (a copy)."""

    id: int
    symbol: str
    status: str
    amount: Decimal
    base_price: Decimal
    leverage: Decimal


@dataclass(frozen=True)
class SimOffer:
    """A funding offer of a simulated account (a copy)."""

    id: int
    symbol: str
    amount: Decimal
    amount_orig: Decimal
    type: str
    rate: Decimal
    period: int
    flags: int
    status: str


# --------------------------------------------------------------------------- live state
class _LiveOrder:
    __slots__ = (
        "amount", "amount_orig", "cid", "filled_quote", "flags", "gid", "id", "lev", "meta",
        "mts_create", "mts_tif", "mts_update", "price", "price_aux_limit", "price_trailing",
        "status", "symbol", "synthetic", "type",
    )  # fmt: skip

    def __init__(self, oid: int | None, symbol: str, amount: Decimal, otype: str, price: Decimal, now_ms: int) -> None:
        self.id = oid
        self.gid: int | None = None
        self.cid: int | None = None
        self.symbol = symbol
        self.mts_create = now_ms
        self.mts_update = now_ms
        self.amount = amount
        self.amount_orig = amount
        self.type = otype
        self.mts_tif: int | None = None
        self.flags = 0
        self.status = "ACTIVE"
        self.price = price
        self.price_aux_limit = Decimal(0)
        self.price_trailing = Decimal(0)
        self.meta: Any = None
        self.lev: int | None = None
        self.filled_quote = Decimal(0)  # sum of |fill| * price, for PRICE_AVG
        self.synthetic = False

    @property
    def buy(self) -> bool:
        return self.amount_orig > 0

    @property
    def exchange(self) -> bool:
        return self.type.startswith("EXCHANGE")

    @property
    def base_type(self) -> str:
        return self.type[9:] if self.exchange else self.type

    @property
    def filled(self) -> Decimal:
        return self.amount_orig - self.amount

    @property
    def price_avg(self) -> Decimal:
        filled = abs(self.filled)
        return truncate_significant(self.filled_quote / filled, 8) if filled else Decimal(0)

    def fill_text(self) -> str:
        # Bitfinex: "PRICE(AMOUNT)" with the average price and the amount executed so far.
        return f"{status_number(self.price_avg)}({status_number(self.filled)})"

    def row(self) -> list[Any]:
        # ws-auth-orders: [ID, GID, CID, SYMBOL, MTS_CREATE, MTS_UPDATE, AMOUNT, AMOUNT_ORIG,
        # TYPE, TYPE_PREV, MTS_TIF, _, FLAGS, STATUS, _, _, PRICE, PRICE_AVG, PRICE_TRAILING,
        # PRICE_AUX_LIMIT, _, _, _, NOTIFY, HIDDEN, PLACED_ID, _, _, ROUTING, _, _, META]
        return [
            self.id, self.gid, self.cid, self.symbol, self.mts_create, self.mts_update, self.amount,
            self.amount_orig, self.type, None, self.mts_tif, None, self.flags, self.status, None, None,
            self.price, self.price_avg, self.price_trailing, self.price_aux_limit, None, None, None, 0,
            1 if self.flags & FLAG_HIDDEN else 0, None, None, None, "API>BFX", None, None, self.meta,
        ]  # fmt: skip

    def public(self) -> SimOrder:
        assert self.id is not None
        return SimOrder(
            self.id, self.gid, self.cid, self.symbol, self.mts_create, self.mts_update, self.amount,
            self.amount_orig, self.type, self.flags, self.status, self.price, self.price_avg,
            self.price_aux_limit, self.price_trailing, self.meta,
        )  # fmt: skip


class _Position:
    __slots__ = ("amount", "base", "id", "leverage", "mts_create", "mts_update", "status", "symbol")

    def __init__(self, pid: int, symbol: str, amount: Decimal, base: Decimal, now_ms: int) -> None:
        self.id = pid
        self.symbol = symbol
        self.status = "ACTIVE"
        self.amount = amount
        self.base = base
        self.leverage = Decimal("2.5")
        self.mts_create = now_ms
        self.mts_update = now_ms

    def row(self, mark: Decimal | None) -> list[Any]:
        # ws-auth-position: [SYMBOL, STATUS, AMOUNT, BASE_PRICE, MARGIN_FUNDING,
        # MARGIN_FUNDING_TYPE, PL, PL_PERC, PRICE_LIQ, LEVERAGE, _, POSITION_ID, MTS_CREATE,
        # MTS_UPDATE, _, TYPE, _, COLLATERAL, COLLATERAL_MIN, META]
        mark = self.base if mark is None else mark
        pl = _q((mark - self.base) * self.amount)
        pl_perc = (mark / self.base - 1).quantize(Decimal("1e-6")).normalize() * 100 if self.base else Decimal(0)
        notional = abs(self.amount) * self.base
        return [
            self.symbol, self.status, self.amount, self.base, 0, 0, pl, pl_perc,
            truncate_significant(self.base * Decimal("0.6")), self.leverage, None, self.id, self.mts_create,
            self.mts_update, None, 1, None, _q(notional / self.leverage), _q(notional / 5), {"reason": "TRADE"},
        ]  # fmt: skip

    def public(self) -> SimPosition:
        return SimPosition(self.id, self.symbol, self.status, self.amount, self.base, self.leverage)


class _Offer:
    __slots__ = ("amount", "amount_orig", "flags", "id", "mts_create", "mts_update", "period", "rate",
                 "status", "symbol", "type")  # fmt: skip

    def __init__(self, oid: int, symbol: str, amount: Decimal, otype: str, rate: Decimal, period: int, now_ms: int):
        self.id = oid
        self.symbol = symbol
        self.amount = amount
        self.amount_orig = amount
        self.type = otype
        self.rate = rate
        self.period = period
        self.flags = 0
        self.status = "ACTIVE"
        self.mts_create = now_ms
        self.mts_update = now_ms

    def row(self) -> list[Any]:
        # ws-auth-offers: [ID, SYMBOL, MTS_CREATE, MTS_UPDATED, AMOUNT, AMOUNT_ORIG, TYPE, _, _,
        # FLAGS, STATUS, _, _, _, RATE, PERIOD, NOTIFY, HIDDEN, _, RENEW, _]
        return [
            self.id, self.symbol, self.mts_create, self.mts_update, self.amount, self.amount_orig, self.type,
            None, None, self.flags, self.status, None, None, None, self.rate, self.period, 0, 0, None, 0, None,
        ]  # fmt: skip

    def public(self) -> SimOffer:
        return SimOffer(self.id, self.symbol, self.amount, self.amount_orig, self.type, self.rate, self.period,
                        self.flags, self.status)  # fmt: skip


class _Rejected(Exception):
    """An input the exchange refuses: becomes a notification with ``status`` and ``text``."""

    def __init__(self, text: str, status: str = "ERROR") -> None:
        super().__init__(text)
        self.text = text
        self.status = status


def _notification(kind: str, info: Any, status: str, text: str, now_ms: int) -> list[Any]:
    # Notification: [MTS, TYPE, MESSAGE_ID, _, NOTIFY_INFO, CODE, STATUS, TEXT].
    return [now_ms, kind, None, None, info, None, status, text]


# --------------------------------------------------------------------------- the account
class _Account:
    """One simulated account and its order engine (used under the simulator lock).

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

    # ------------------------------------------------------------------ ids and helpers
    def _oid(self) -> int:
        self.next_order += self.rng.randrange(1, 1000)
        return self.next_order

    def _tid(self) -> int:
        self.next_trade += self.rng.randrange(1, 10)
        return self.next_trade

    def _market(self, symbol: str) -> _Market | None:
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

    # ------------------------------------------------------------------ inputs
    def handle(self, kind: str, body: Any, now_ms: int) -> list[Out]:
        """Answer one channel-0 input (``on``, ``ou``, ``oc``, ``oc_multi``, ``ox_multi``,
        ``calc``, ``fon``, ``foc``); unknown kinds give no reply (as on the wire)."""
        if kind == "on":
            return self.submit(body, now_ms)
        if kind == "ou":
            return self.update(body, now_ms)
        if kind == "oc":
            return self.cancel(body, now_ms)
        if kind == "oc_multi":
            return self.cancel_multi(body, now_ms)
        if kind == "ox_multi":
            return self.multi(body, now_ms)
        if kind == "calc":
            return self.calc(body, now_ms)
        if kind == "fon":
            return self.offer_new(body, now_ms)
        if kind == "foc":
            return self.offer_cancel(body, now_ms)
        return []

    def reject(self, kind: str, body: Any, status: str, text: str, now_ms: int) -> list[Out]:
        """The notification refusing an input: the order row as requested (ID null, the
        CID, symbol, amount, type and price the client sent)."""
        info: Any = None
        if kind in ("on", "ou", "oc") and isinstance(body, dict):
            # The request as an order row: ID (null for a new order), CID, SYMBOL, AMOUNT...
            info = self._request_row(body, now_ms)
        elif kind == "fon" and isinstance(body, dict):
            info = [
                None,
                body.get("symbol"),
                now_ms,
                now_ms,
                None,
                None,
                body.get("type"),
                None,
                None,
                body.get("flags"),
                None,
                None,
                None,
                None,
                None,
                body.get("period"),
                0,
                0,
                None,
                0,
                None,
            ]
        return [("n", _notification(f"{kind}-req", info, status, text, now_ms), True)]

    def _request_row(self, body: Mapping[str, Any], now_ms: int) -> list[Any]:
        def num(key: str) -> Decimal | None:
            try:
                return _dec(body[key]) if key in body else None
            except ValueError:
                return None

        o = _LiveOrder(
            body.get("id") if isinstance(body.get("id"), int) else None,
            str(body.get("symbol", "")) or "",
            num("amount") or Decimal(0),
            str(body.get("type", "")),
            num("price") or Decimal(0),
            now_ms,
        )
        o.cid = body.get("cid") if isinstance(body.get("cid"), int) else None
        o.gid = body.get("gid") if isinstance(body.get("gid"), int) else None
        flags = body.get("flags")
        o.flags = flags if isinstance(flags, int) else 0
        row = o.row()
        row[3] = body.get("symbol")
        row[13] = None
        return row

    # ------------------------------------------------------------------ new order
    def submit(self, body: Any, now_ms: int) -> list[Out]:
        """``[0,"on",null,{...}]``: validate, accept (``n`` SUCCESS + ``on``), execute what is
        marketable, rest the rest.  A refusal is one ``n`` ERROR and no order."""
        if not isinstance(body, dict):
            return self.reject("on", body, "ERROR", "Invalid order: fields", now_ms)
        try:
            o, market = self._validate_new(body, now_ms)
        except _Rejected as exc:
            return self.reject("on", body, exc.status, exc.text, now_ms)
        return self._accept(o, market, now_ms)

    def _validate_new(self, body: Mapping[str, Any], now_ms: int) -> tuple[_LiveOrder, _Market]:
        otype = body.get("type")
        if not isinstance(otype, str) or otype not in ORDER_TYPES:
            raise _Rejected("type: invalid")  # simulator's own text
        symbol = body.get("symbol")
        market = self._market(symbol) if isinstance(symbol, str) else None
        if market is None or not isinstance(symbol, str):
            raise _Rejected("symbol: invalid")  # simulator's own text
        try:
            amount = _dec(body.get("amount"))
        except ValueError:
            raise _Rejected("amount: invalid") from None  # simulator's own text
        if _bad_amount(amount):
            raise _Rejected("amount: invalid")  # zero, or more than 8 decimals
        amount = amount.normalize()
        limit_price = Decimal(0)
        base_type = otype[9:] if otype.startswith("EXCHANGE") else otype
        if base_type != "MARKET":
            try:
                limit_price = _dec(body.get("price"))
            except ValueError:
                raise _Rejected("price: invalid") from None  # simulator's own text
            if limit_price <= 0 or limit_price >= Decimal(10) ** 12:
                raise _Rejected("price: invalid")
            # Bitfinex: 5 significant digits; "API will truncate price with precision > 5".
            limit_price = truncate_significant(limit_price)
        flags = body.get("flags", 0)
        if isinstance(flags, bool) or not isinstance(flags, int) or flags < 0:
            raise _Rejected("flags: invalid")  # simulator's own text
        for key in ("cid", "gid"):
            if (
                key in body
                and body[key] is not None
                and (isinstance(body[key], bool) or not isinstance(body[key], int))
            ):
                raise _Rejected(f"{key}: invalid")  # simulator's own text
        base, quote = split_pair(symbol)
        minimum = self.min_sizes.get(symbol)
        if minimum is not None and abs(amount) < minimum:
            # Bitfinex: "Invalid order: minimum size for WAX/BTC is 80.0" (ccxt #3152).
            raise _Rejected(f"Invalid order: minimum size for {base}/{quote} is {status_number(minimum)}")
        o = _LiveOrder(None, symbol, amount, otype, limit_price, now_ms)
        o.cid = body.get("cid") if isinstance(body.get("cid"), int) else None
        o.gid = body.get("gid") if isinstance(body.get("gid"), int) else None
        o.flags = flags
        o.meta = body.get("meta")
        if isinstance(body.get("lev"), int):
            o.lev = body["lev"]
        for key, attr in (("price_aux_limit", "price_aux_limit"), ("price_trailing", "price_trailing")):
            if body.get(key) is not None:
                try:
                    setattr(o, attr, truncate_significant(_dec(body[key])))
                except ValueError:
                    raise _Rejected(f"{key}: invalid") from None
        self._check_balance(o, market, o.amount)
        return o, market

    def _estimate(self, o: _LiveOrder, market: _Market, amount: Decimal) -> Decimal:
        """The price an order of ``amount`` is valued at for the balance check: its limit
        price, or for a market order the last level it would reach."""
        if o.price:
            return o.price
        fills = market.walk(amount > 0, _units(abs(amount)), None)
        if fills:
            return market.tick_price(fills[-1][0].tick)
        best = market.book.best(1 if amount > 0 else 0)
        return market.tick_price(best if best is not None else market.last)

    def _check_balance(self, o: _LiveOrder, market: _Market, amount: Decimal, extra: Decimal = Decimal(0)) -> None:
        base, quote = split_pair(o.symbol)
        price = self._estimate(o, market, amount)
        pair = o.symbol[1:]
        if o.exchange:
            # Bitfinex counts the trading fee in (bitfinex-api-node #539, maintainer's answer).
            if amount > 0:
                need, have = abs(amount) * price * (1 + _TAKER_FEE), self.available(("exchange", quote)) + extra
            else:
                need, have = abs(amount), self.available(("exchange", base)) + extra
            if need > have:
                raise _Rejected(
                    f"Invalid order: not enough exchange balance for {status_number(abs(amount))} {pair} at "
                    f"{status_number(price)}"
                )
        else:
            lev = Decimal(o.lev or 10)
            wallet = ("margin", quote)
            if abs(amount) * price / lev > self.available(wallet) + extra:
                raise _Rejected(
                    f"Invalid order: not enough tradable balance for {status_number(abs(amount))} {pair} at "
                    f"{status_number(price)}"
                )

    def _submitting_text(self, o: _LiveOrder, update: bool = False) -> str:
        # Bitfinex: "Submitting exchange limit sell order for 500.0 TRX." (bitfinex-api-node #392).
        side = "buy" if o.buy else "sell"
        what = "update to " if update else ""
        base = split_pair(o.symbol)[0]
        return f"Submitting {what}{o.type.lower()} {side} order for {status_number(abs(o.amount))} {base}."

    def _accept(self, o: _LiveOrder, market: _Market, now_ms: int) -> list[Out]:
        o.id = self._oid()
        out: list[Out] = []
        killed = self._pre_trade_cancel(o, market)
        if killed is not None:
            # The exchange accepts the input and cancels the order at once: the notification
            # already carries the final status (bitfinex-api-py #111: SUCCESS with POSTONLY
            # CANCELED), then "oc".
            o.status = killed
            out.append(("n", _notification("on-req", o.row(), "SUCCESS", self._submitting_text(o), now_ms), True))
            out.append(("oc", o.row(), False))
            self.last_accepted = o
            return out
        self.orders[o.id] = o
        self.last_accepted = o
        out.append(("n", _notification("on-req", o.row(), "SUCCESS", self._submitting_text(o), now_ms), True))
        out.append(("on", o.row(), False))
        out.extend(self._wallet_rows_for(o))
        out.extend(self._take(o, market, now_ms))
        return out

    def _pre_trade_cancel(self, o: _LiveOrder, market: _Market) -> str | None:
        """The status of an order the exchange cancels before it trades, else ``None``."""
        if o.flags & FLAG_REDUCE_ONLY:
            # Bitfinex order statuses RSN_POS_NOTFOUND / RSN_POS_REDUCE_INCR / RSN_POS_REDUCE_FLIP.
            pos = self.positions.get(o.symbol) if not o.exchange else None
            if pos is None or pos.status != "ACTIVE" or pos.amount == 0:
                return "RSN_POS_NOTFOUND"
            if (pos.amount > 0) == (o.amount > 0):
                return "RSN_POS_REDUCE_INCR"
            if abs(o.amount) > abs(pos.amount):
                return "RSN_POS_REDUCE_FLIP"
        base_type = o.base_type
        if base_type in _TRIGGERED:
            return None
        limit = o.price if base_type != "MARKET" else None
        fills = market.walk(o.buy, _units(abs(o.amount)), limit)
        if o.flags & FLAG_POSTONLY and fills:
            return "POSTONLY CANCELED"  # docs: it would have matched an offer/bid in the book
        if base_type == "FOK" and sum(f for _, f in fills) < _units(abs(o.amount)):
            return "FILLORKILL CANCELED"
        return None

    def _take(self, o: _LiveOrder, market: _Market, now_ms: int) -> list[Out]:
        """Execute the marketable part of ``o`` against the market's book (taker)."""
        base_type = o.base_type
        if base_type in _TRIGGERED:
            return []
        limit = o.price if base_type != "MARKET" else None
        fills = market.walk(o.buy, _units(abs(o.amount)), limit)
        out: list[Out] = []
        if fills:
            trades = market.execute(o.buy, fills, now_ms)
            for (level, units), trade in zip(fills, trades, strict=True):
                amount = _amount_of(units) if o.buy else -_amount_of(units)
                out.extend(self._fill(o, amount, market.tick_price(level.tick), False, now_ms, trade.id))
        if o.id in self.orders and base_type in ("MARKET", "IOC", "FOK"):
            # What a market / IOC order could not fill is cancelled (docs: IOC CANCELED).
            label = "IOC CANCELED" if base_type == "IOC" else "CANCELED"
            out.extend(self._close(o, label, now_ms))
        return out

    def _fill(
        self, o: _LiveOrder, amount: Decimal, price: Decimal, maker: bool, now_ms: int, tid: int | None = None
    ) -> list[Out]:
        """One execution of ``amount`` (signed like the order) at ``price``: te, the order
        update (ou, or oc when done), wallet or position updates, tu with the fee, bu.  ``tid``
        is the public trade's id (the account trade has the same ID on Bitfinex)."""
        assert o.id is not None
        o.amount = (o.amount - amount).normalize()
        o.filled_quote += abs(amount) * price
        o.mts_update = now_ms
        base, quote = split_pair(o.symbol)
        fee_rate = _MAKER_FEE if maker else _TAKER_FEE
        out: list[Out] = []
        tid = self._tid() if tid is None else tid
        # ws-auth-trades: [ID, SYMBOL, MTS_CREATE, ORDER_ID, EXEC_AMOUNT, EXEC_PRICE, ORDER_TYPE,
        # ORDER_PRICE, MAKER, FEE, FEE_CURRENCY, CID]; MAKER 1 maker, -1 taker; te has no fee.
        te = [tid, o.symbol, now_ms, o.id, amount, price, o.type, o.price, 1 if maker else -1, None, None, o.cid]
        out.append(("te", te, False))
        done = o.amount == 0
        if done:
            o.status = f"EXECUTED @ {o.fill_text()}"
            self.orders.pop(o.id, None)
            out.append(("oc", o.row(), False))
        else:
            o.status = f"PARTIALLY FILLED @ {o.fill_text()}"
            out.append(("ou", o.row(), False))
        desc = f"Exchange {status_number(abs(amount))} {base} for {quote} @ {status_number(price)}"
        if o.exchange:
            if amount > 0:
                fee, fee_ccy = _q(amount * fee_rate), base
                changes = [(base, amount), (quote, -_q(amount * price)), (base, -fee)]
            else:
                fee, fee_ccy = _q(-amount * price * fee_rate), quote
                changes = [(base, amount), (quote, _q(-amount * price)), (quote, -fee)]
            for ccy, delta in changes:
                w = ("exchange", ccy)
                self.wallets[w] = _q(self.wallets.get(w, Decimal(0)) + delta)
            touched = list(dict.fromkeys(("exchange", c) for c, _ in changes))
            out.extend(("wu", self.wallet_row(w, desc), False) for w in touched)
        else:
            fee, fee_ccy = _q(abs(amount) * price * fee_rate), quote
            w = ("margin", quote)
            self.wallets[w] = _q(self.wallets.get(w, Decimal(0)) - fee)
            out.extend(self._position_fill(o.symbol, amount, price, now_ms))
            out.append(("wu", self.wallet_row(w, desc), False))
        tu = [tid, o.symbol, now_ms, o.id, amount, price, o.type, o.price, 1 if maker else -1, -fee, fee_ccy, o.cid]
        out.append(("tu", tu, False))
        out.append(("bu", self.balance_row(), False))
        return out

    def _position_fill(self, symbol: str, amount: Decimal, price: Decimal, now_ms: int) -> list[Out]:
        pos = self.positions.get(symbol)
        if pos is None or pos.status != "ACTIVE":
            self.next_pos += self.rng.randrange(1, 100)
            pos = self.positions[symbol] = _Position(self.next_pos, symbol, amount, price, now_ms)
            return [("pn", self.position_row(pos), False)]
        new = pos.amount + amount
        if new == 0:
            pos.amount = Decimal(0)
            pos.status = "CLOSED"
            pos.mts_update = now_ms
            return [("pc", self.position_row(pos), False)]
        if (new > 0) == (pos.amount > 0) and abs(new) > abs(pos.amount):
            pos.base = truncate_significant((pos.base * pos.amount + price * amount) / new)
        elif (new > 0) != (pos.amount > 0):
            pos.base = price  # flipped
        pos.amount = new.normalize()
        pos.mts_update = now_ms
        return [("pu", self.position_row(pos), False)]

    def _wallet_rows_for(self, o: _LiveOrder) -> list[Out]:
        """wu for the wallet an exchange order holds funds of (its available balance moved)."""
        if not o.exchange or o.synthetic:
            return []
        base, quote = split_pair(o.symbol)
        w = ("exchange", quote if o.amount > 0 else base)
        return [("wu", self.wallet_row(w), False)]

    def _close(self, o: _LiveOrder, label: str, now_ms: int) -> list[Out]:
        """Cancel ``o``: ``CANCELED`` or ``CANCELED was: PARTIALLY FILLED @ P(A)`` (docs)."""
        assert o.id is not None
        self.orders.pop(o.id, None)
        o.mts_update = now_ms
        o.status = f"{label} was: PARTIALLY FILLED @ {o.fill_text()}" if o.filled else label
        return [("oc", o.row(), False), *self._wallet_rows_for(o)]

    # ------------------------------------------------------------------ update
    def update(self, body: Any, now_ms: int) -> list[Out]:
        """``[0,"ou",null,{"id":..,"amount"|"delta"|"price"|...}]``: ``n`` ou-req and ``ou``;
        a new price that crosses the book executes (taker)."""
        if not isinstance(body, dict):
            return self.reject("ou", body, "ERROR", "Invalid order: fields", now_ms)
        oid = body.get("id")
        o = self.orders.get(oid) if isinstance(oid, int) and not isinstance(oid, bool) else None
        if o is None:
            return self.reject("ou", body, "ERROR", "Order not found.", now_ms)
        market = self._market(o.symbol)
        assert market is not None
        try:
            price = o.price
            if body.get("price") is not None:
                price = truncate_significant(_dec(body["price"]))
                if price <= 0 or price >= Decimal(10) ** 12:
                    raise ValueError
            amount = o.amount
            if body.get("amount") is not None:
                amount = _dec(body["amount"])
            if body.get("delta") is not None:
                # "delta: change of amount": grows (or shrinks) the order, on its own side.
                d = _dec(body["delta"])
                amount = amount + d if amount > 0 else amount - d
            if _bad_amount(amount) or (amount > 0) != (o.amount > 0):
                raise _Rejected("amount: invalid")  # simulator's own text
            flags = body.get("flags", o.flags)
            if isinstance(flags, bool) or not isinstance(flags, int):
                raise _Rejected("flags: invalid")
            aux = truncate_significant(_dec(body["price_aux_limit"])) if body.get("price_aux_limit") else None
            trailing = truncate_significant(_dec(body["price_trailing"])) if body.get("price_trailing") else None
        except ValueError:
            return self.reject("ou", body, "ERROR", "price: invalid", now_ms)
        except _Rejected as exc:
            return self.reject("ou", body, exc.status, exc.text, now_ms)
        # Balance: what the order holds now counts as available for its new size.
        held = self._held(o)
        trial = _LiveOrder(o.id, o.symbol, amount, o.type, price, now_ms)
        trial.lev = o.lev
        try:
            self._check_balance(trial, market, amount, held)
        except _Rejected as exc:
            return self.reject("ou", body, exc.status, exc.text, now_ms)
        o.price = price
        o.amount_orig = (o.amount_orig + (amount - o.amount)).normalize()
        o.amount = amount.normalize()
        o.flags = flags
        if aux is not None:
            o.price_aux_limit = aux
        if trailing is not None:
            o.price_trailing = trailing
        if "meta" in body:
            o.meta = body["meta"]
        o.mts_update = now_ms
        out: list[Out] = [
            ("n", _notification("ou-req", o.row(), "SUCCESS", self._submitting_text(o, True), now_ms), True)
        ]
        if flags & FLAG_POSTONLY and market.walk(o.buy, _units(abs(o.amount)), o.price):
            out.extend(self._close(o, "POSTONLY CANCELED", now_ms))
            return out
        out.append(("ou", o.row(), False))
        out.extend(self._wallet_rows_for(o))
        out.extend(self._take(o, market, now_ms))
        return out

    def _held(self, o: _LiveOrder) -> Decimal:
        if not o.exchange:
            return Decimal(0)
        if o.amount > 0:
            return o.amount * o.price * (1 + _TAKER_FEE)
        return -o.amount

    # ------------------------------------------------------------------ cancel
    def _find(self, body: Mapping[str, Any]) -> _LiveOrder | None:
        oid = body.get("id")
        if isinstance(oid, int) and not isinstance(oid, bool):
            return self.orders.get(oid)
        cid, cid_date = body.get("cid"), body.get("cid_date")
        if isinstance(cid, int) and isinstance(cid_date, str):
            # Bitfinex: a cid is unique per day, so cid + cid_date (YYYY-MM-DD, UTC) names one.
            for o in self.orders.values():
                if o.cid == cid and _date(o.mts_create) == cid_date:
                    return o
        return None

    def cancel(self, body: Any, now_ms: int) -> list[Out]:
        """``[0,"oc",null,{"id":..}]`` or ``{"cid":..,"cid_date":"YYYY-MM-DD"}``."""
        o = self._find(body) if isinstance(body, dict) else None
        if o is None:
            return self.reject("oc", body, "ERROR", "Order not found.", now_ms)
        text = f"Submitted for cancellation; waiting for confirmation (ID: {o.id})."
        out: list[Out] = [("n", _notification("oc-req", o.row(), "SUCCESS", text, now_ms), True)]
        out.extend(self._close(o, "CANCELED", now_ms))
        return out

    def cancel_multi(self, body: Any, now_ms: int) -> list[Out]:
        """``[0,"oc_multi",null,{"id":[..]}|{"cid":[[cid,date],..]}|{"gid":[..]}|{"all":1}]``:
        one ``n`` oc_multi-req listing the orders, then an ``oc`` each."""
        targets: list[_LiveOrder] = []
        if isinstance(body, dict):
            if type(body.get("all")) is int and body["all"] == 1:
                targets = list(self.orders.values())
            def items(name: str) -> list[Any]:
                value = body.get(name)
                return value if isinstance(value, list) else []

            for oid in items("id"):
                if isinstance(oid, int) and oid in self.orders:
                    targets.append(self.orders[oid])
            for pair in items("cid"):
                if isinstance(pair, list) and len(pair) == 2:
                    found = self._find({"cid": pair[0], "cid_date": pair[1]})
                    if found is not None:
                        targets.append(found)
            gids = {g for g in items("gid") if isinstance(g, int)}
            targets.extend(o for o in self.orders.values() if o.gid is not None and o.gid in gids)
        unique = list({id(o): o for o in targets}.values())
        if not unique:
            return self.reject("oc_multi", body, "ERROR", "Order not found.", now_ms)
        text = f"Submitted for cancellation; waiting for confirmation (ID: {', '.join(str(o.id) for o in unique)})."
        out: list[Out] = [
            ("n", _notification("oc_multi-req", [o.row() for o in unique], "SUCCESS", text, now_ms), True)
        ]
        for o in unique:
            out.extend(self._close(o, "CANCELED", now_ms))
        return out

    def cancel_all(self, now_ms: int) -> list[Out]:
        """Cancel every open order (``dms`` 4 when the socket closes: "cancel all account orders")."""
        out: list[Out] = []
        for o in list(self.orders.values()):
            out.extend(self._close(o, "CANCELED", now_ms))
        return out

    # ------------------------------------------------------------------ multi-op and calc
    def multi(self, body: Any, now_ms: int) -> list[Out]:
        """``[0,"ox_multi",null,[[OP,{...}],...]]``: each operation answered as if sent alone."""
        if not isinstance(body, list) or not all(isinstance(op, list) and len(op) == 2 for op in body):
            return self.reject("ox_multi", None, "ERROR", "ox_multi: invalid", now_ms)  # simulator's own text
        if len(body) > MAX_MULTI_OPS:
            return self.reject("ox_multi", None, "ERROR", f"ox_multi: max {MAX_MULTI_OPS} operations", now_ms)
        out: list[Out] = []
        for op, payload in body:
            if op in ("on", "oc", "oc_multi", "ou"):
                out.extend(self.handle(op, payload, now_ms))
        return out

    def calc(self, body: Any, now_ms: int) -> list[Out]:
        """``[0,"calc",null,[["margin_base"],["margin_sym_tBTCUSD"],["funding_sym_fUSD"],
        ["position_tBTCF0:USTF0"],["wallet_exchange_USD"]]]``: the docs say it triggers the
        calculations; the results come as ``miu``, ``fiu``, ``pu`` and ``wu`` (no
        notification)."""
        out: list[Out] = []
        if not isinstance(body, list):
            return out
        for item in body:
            name = item[0] if isinstance(item, list) and item and isinstance(item[0], str) else None
            if name is None:
                continue
            if name == "margin_base":
                margin = _q(sum((v for (w, _), v in self.wallets.items() if w == "margin"), Decimal(0)))
                pl = _q(sum((Decimal(str(self.position_row(p)[6])) for p in self.positions.values()
                             if p.status == "ACTIVE"), Decimal(0)))  # fmt: skip
                out.append(("miu", ["base", [pl, 0, margin, _q(margin + pl), _q(margin / 10)]], False))
            elif name.startswith("margin_sym_"):
                symbol = name[11:]
                quote = split_pair(symbol)[1] if symbol.startswith("t") else "USD"
                tradable = self.available(("margin", quote)) * 10
                out.append(("miu", ["sym", symbol, [tradable, tradable, tradable, tradable]], False))
            elif name.startswith("funding_sym_"):
                out.append(("fiu", ["sym", name[12:], [0, 0, 0, 0]], False))
            elif name.startswith("position_"):
                pos = self.positions.get(name[9:])
                if pos is not None:
                    out.append(("pu", self.position_row(pos), False))
            elif name.startswith("wallet_"):
                _, wallet, ccy = [*name.split("_", 2), "", ""][:3]
                if (wallet, ccy) in self.wallets:
                    out.append(("wu", self.wallet_row((wallet, ccy)), False))
        return out

    # ------------------------------------------------------------------ funding offers
    def offer_new(self, body: Any, now_ms: int) -> list[Out]:
        """``[0,"fon",null,{"type","symbol","amount","rate","period","flags"}]``: ``n`` fon-req
        and ``fon`` (amount > 0 lends, < 0 borrows).  Offers rest; they are not matched."""
        if not isinstance(body, dict):
            return self.reject("fon", body, "ERROR", "Invalid offer: fields", now_ms)
        symbol, otype, period = body.get("symbol"), body.get("type", "LIMIT"), body.get("period")
        m = self.markets.get(symbol) if isinstance(symbol, str) else None
        try:
            if m is None or not m.funding:
                raise _Rejected("symbol: invalid")
            if otype not in _FUNDING_TYPES:
                raise _Rejected("type: invalid")
            try:
                amount = _dec(body.get("amount"))
                rate = _dec(body.get("rate"))
            except ValueError:
                raise _Rejected("amount: invalid") from None
            if _bad_amount(amount):
                raise _Rejected("amount: invalid")
            if rate < 0:
                raise _Rejected("rate: invalid")
            # Bitfinex funding periods: 2 to 120 days.
            if isinstance(period, bool) or not isinstance(period, int) or not 2 <= period <= 120:
                raise _Rejected("period: invalid")
            ccy = m.symbol[1:]
            if amount > 0 and amount > self.available(("funding", ccy)) - self._offered(ccy):
                raise _Rejected(f"Invalid offer: not enough balance for {status_number(amount)} {ccy}")
        except _Rejected as exc:
            return self.reject("fon", body, exc.status, exc.text, now_ms)
        offer = _Offer(self._oid(), m.symbol, amount.normalize(), otype, rate.normalize(), period, now_ms)
        if isinstance(body.get("flags"), int):
            offer.flags = body["flags"]
        self.offers[offer.id] = offer
        what = "offer" if amount > 0 else "bid"
        text = (f"Submitting funding {what} of {status_number(abs(amount))} {ccy} at {status_number(rate)} "
                f"for {period} days.")  # fmt: skip
        return [
            ("n", _notification("fon-req", offer.row(), "SUCCESS", text, now_ms), True),
            ("fon", offer.row(), False),
        ]

    def _offered(self, ccy: str) -> Decimal:
        return sum((o.amount for o in self.offers.values() if o.symbol == "f" + ccy and o.amount > 0), Decimal(0))

    def offer_cancel(self, body: Any, now_ms: int) -> list[Out]:
        """``[0,"foc",null,{"id":..}]``: ``n`` foc-req and ``foc``."""
        oid = body.get("id") if isinstance(body, dict) else None
        offer = self.offers.pop(oid, None) if isinstance(oid, int) else None
        if offer is None:
            return self.reject("foc", body, "ERROR", "Offer not found.", now_ms)  # simulator's own text
        offer.status = "CANCELED"
        offer.mts_update = now_ms
        text = f"Submitted for cancellation; waiting for confirmation (ID: {offer.id})."
        return [
            ("n", _notification("foc-req", offer.row(), "SUCCESS", text, now_ms), True),
            ("foc", offer.row(), False),
        ]

    # ------------------------------------------------------------------ the market moves
    def match_resting(self, now_ms: int) -> list[Out]:
        """Fill resting limit orders the market's book now crosses, as makers at their own
        price, taking the crossing liquidity out of the book."""
        out: list[Out] = []
        for o in list(self.orders.values()):
            if o.base_type != "LIMIT" or o.synthetic or o.id not in self.orders:
                continue
            market = self._market(o.symbol)
            if market is None or market.paused:
                continue
            fills = market.walk(o.buy, _units(abs(o.amount)), o.price)
            if not fills:
                continue
            # The crossing book orders were the takers: the public trades have their side.
            trades = market.execute(not o.buy, fills, now_ms, market.price_tick(o.price) or fills[0][0].tick)
            for (_, units), trade in zip(fills, trades, strict=True):
                amount = _amount_of(units) if o.buy else -_amount_of(units)
                out.extend(self._fill(o, amount, o.price, True, now_ms, trade.id))
        return out

    def fill(self, o: _LiveOrder, amount: Decimal | None, now_ms: int) -> list[Out]:
        """Execute ``amount`` (unsigned; ``None``: all that is left) of a resting order as
        maker at its price, as if a taker had crossed it."""
        market = self._market(o.symbol)
        left = abs(o.amount)
        size = left if amount is None else min(abs(amount), left)
        size = size.quantize(_EIGHT)
        if size <= 0:
            return []
        tid = None
        if market is not None:
            tick = market.price_tick(o.price) or market.last
            tid = market.record_trade(not o.buy, _units(size), tick, 0, now_ms).id
        return self._fill(o, size if o.buy else -size, o.price, True, now_ms, tid)

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
        offer = _Offer(self._oid(), f.symbol, amount, "LIMIT", f.tick_price(f.last), 2, now_ms)
        self.offers[offer.id] = offer

    def _synthetic_order(self, now_ms: int) -> _LiveOrder:
        rng = self.rng
        m = self.markets.get("tBTCUSD") or next(iter(self.markets.values()))
        amount = Decimal(str(round(rng.choice((1, -1)) * rng.uniform(0.0001, 0.01), 8)))
        price = m.tick_price(m.last + (-1 if amount > 0 else 1) * rng.randrange(5, 200))
        o = _LiveOrder(self._oid(), m.symbol, amount, "EXCHANGE LIMIT", price, now_ms)
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
            return [("n", _notification("on-req", o.row(), "SUCCESS", self._submitting_text(o), now_ms), True),
                    ("on", o.row(), False)]  # fmt: skip
        o = self.orders[rng.choice(mine)]
        if choice < 0.55:
            return self.fill(o, None, now_ms)
        if choice < 0.7:
            o.price = truncate_significant(o.price * (1 + Decimal(str(round(rng.uniform(-0.001, 0.001), 6)))))
            o.mts_update = now_ms
            return [("ou", o.row(), False)]
        if choice < 0.8:
            text = f"Submitted for cancellation; waiting for confirmation (ID: {o.id})."
            return [("n", _notification("oc-req", o.row(), "SUCCESS", text, now_ms), True),
                    *self._close(o, "CANCELED", now_ms)]  # fmt: skip
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
