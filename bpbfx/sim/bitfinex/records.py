"""Orders, positions and funding offers of a simulated Bitfinex account: the values the
simulator hands out (:class:`SimOrder`, :class:`SimPosition`, :class:`SimOffer`), the live
records behind them with the arrays Bitfinex writes for them, and the exact-number helpers.

Money is exact: amounts, prices and balances are :class:`~decimal.Decimal` values parsed from
the request text.  No I/O; used under the simulator's lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

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
