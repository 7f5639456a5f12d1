"""A local Bitfinex WebSocket API v2 server on 127.0.0.1.

:class:`BitfinexSimulator` speaks the Bitfinex v2 protocol closely enough for an SDK to be
tested against it without the internet:

* On connect ``{"event":"info","version":2,"serverId":"<uuid>","platform":{"status":1}}``.
* ``conf`` flags (``{"event":"conf","status":"OK","flags":N}``), per socket: ``TIMESTAMP``
  (32768: ms time appended last to every array frame), ``SEQ_ALL`` (65536: a per-socket sequence
  number from 1 on every array frame, ``hb`` and ``cs`` included, before the timestamp; channel
  0 frames carry ``PUB_SEQ, AUTH_SEQ``, ``[0,"hb",PUB_SEQ]`` only the first and ``n``
  notifications only ``AUTH_SEQ``), ``OB_CHECKSUM`` (131072: ``[CHAN,"cs",CRC]`` after each
  tick's book updates) and ``BULK_UPDATES`` (536870912: a tick's book updates in one frame, a
  list of entries shaped like a snapshot).
* ``subscribe`` / ``unsubscribe`` / ``ping`` / ``auth`` / ``unauth`` events, with the replies
  and error frames seen on the wire: errors repeat the request's fields, then ``event``,
  ``msg``, ``code`` (``{"channel":"book","symbol":"tFOO","event":"error","msg":"symbol:
  invalid","code":10300,"pair":"FOO"}``).  10300 ``channel: unknown`` / ``symbol: invalid`` /
  ``length: invalid`` / ``precision: invalid`` / ``freq: invalid`` / ``key: invalid``, 10301
  ``subscribe: dup`` (with the existing ``chanId``), 10305 ``subscribe: limit`` (more than
  ``max_channels`` on one socket), 10400 ``unsubscribe: invalid`` (unknown ``chanId``), 10401
  ``unsubscribe: not subscribed`` (a ``chanId`` this socket already unsubscribed: the
  simulator's own text), 10000 ``event: invalid (<name>)``.  A frame that is not JSON gets no
  reply, and so does a ``status`` subscription to an unknown ``deriv:`` key (both as on the
  wire).
* Data for every channel of a list of markets (:data:`DEFAULT_MARKETS`: 22 trading pairs
  including two perpetuals, and 5 funding currencies): trading and funding tickers, trades
  (snapshot of 30, newest first, then ``te`` and, one tick later, ``tu``; funding
  ``fte``/``ftu``), books ``P0``-``P4`` with ``len`` 1/25/100/250 and ``freq`` F0 (every tick)
  or F1 (every 2 s), raw books ``R0`` (trading ``[ORDER_ID,PRICE,AMOUNT]``, funding
  ``[OFFER_ID,PERIOD,RATE,AMOUNT]``), candles ``trade:<tf>:<symbol>`` (240 candles newest
  first, then the current candle on each trade), status ``deriv:<perp>`` and ``liq:global``.
* One order book per market: individual orders (raw books) aggregated into price levels
  (``P0`` keeps 5 significant figures, ``P4`` one), never crossed.  Each subscription sees
  exactly ``len`` levels per side: a level leaving the window arrives as a delete, so the
  client's book always equals :meth:`BitfinexSimulator.book`.  Deletes come first in a tick
  (``COUNT 0`` with ``AMOUNT`` 1 for a bid and -1 for an ask on trading books, -1 / 1 on
  funding books where a bid has a negative amount; ``PRICE 0`` / ``RATE 0`` on raw books).
* Numbers are JSON numbers written the way Bitfinex's JavaScript servers write them
  (``118940``, ``0.00002503``, ``7e-7``, see :func:`js_number`); each level keeps its wire text,
  which the ``cs`` checksum is computed from (:func:`book_checksum`).  Funding books order
  levels of one rate by period (ascending) for the checksum; at ``P0`` every rate has a single
  period, so there are no ties.
* ``[CHAN,"hb"]`` every ``hb_interval`` seconds on every subscribed channel, busy or quiet (as
  measured on the wire), and ``[0,"hb"]`` on an authenticated socket.
* Authentication: ``{"event":"auth","apiKey":K,"authSig":S,"authPayload":"AUTH<nonce>",
  "authNonce":N,"filter":[...],"dms":4}`` with ``authSig`` the hex HMAC-SHA384 of the payload
  keyed with the account's secret; the nonce must be strictly greater than every nonce
  accepted before for the key, on any socket.  Refusals: 10100 ``apikey: invalid`` (unknown
  key), 10100 ``apikey: digest invalid`` (bad signature), 10114 ``nonce: small``, 10100
  ``auth: dup`` (already authenticated), 10111 ``auth: payload invalid`` (payload not
  ``AUTH<digits>``: the simulator's own text).  Then channel 0: snapshots ``ps ws os fos fcs
  fls`` and account events (``n on``, ``te oc tu wu bu``, ``ou``, ``n oc``, ``pu``, ``wu``)
  shaped like the recorded session, honouring ``filter``.  Channel 0 inputs ``on``, ``ou``,
  ``oc`` are answered with an ``n`` notification and the order event.
* Faults (see the methods): info 20051 / 20060 / 20061 (maintenance: between 20060 and 20061
  no data or account events, snapshots included, while heartbeats go on), a silenced channel,
  a wrong ``cs``, a withheld book update, a ``SEQ_ALL`` gap, a paused market, a silenced
  socket, frames queued verbatim, and the base class's drops, closes and refused handshakes.

Time: exchange cadences (ticker 1 s, status 1 s, F1 books 2 s, account events 0.5 s,
liquidations 2 s) are ``period * time_scale`` seconds counted in ticks of ``tick_interval``;
heartbeats use wall-clock seconds (``hb_interval``).  With ``tick_interval=None`` nothing moves
on its own: :meth:`BitfinexSimulator.step` advances whole ticks, which makes tests
deterministic.  Given ``seed``, books, trades and account events are the same on every run
(only timestamps differ).

Threads: the server runs on its own loop thread; every public method may be called from any
other thread.  State is guarded by one lock that is never held while waiting for the loop, so
introspection methods are safe inside :meth:`SimServer.wait_for` predicates.  Frames go through
a per-connection queue (sequence numbers are assigned in queue order); a client that falls
``max_queued_frames`` behind is closed with code 1008.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import hmac
import json
import math
import random
import re
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from bpbfx.sim._server import SimConnection, SimServer

__all__ = [
    "BULK_UPDATES",
    "CANDLE_TIMEFRAMES",
    "DEFAULT_MARKETS",
    "INFO_MESSAGES",
    "OB_CHECKSUM",
    "SEQ_ALL",
    "TIMESTAMP",
    "AuthAttempt",
    "BitfinexSimulator",
    "BookView",
    "MarketSpec",
    "book_checksum",
    "js_number",
]

T = TypeVar("T")

# --------------------------------------------------------------------------- protocol constants
#: ``conf`` flag: append the server time (ms) as the last element of every array frame.
TIMESTAMP = 32768
#: ``conf`` flag: per-socket sequence numbers on every array frame.
SEQ_ALL = 65536
#: ``conf`` flag: ``[CHAN,"cs",CHECKSUM]`` after book updates.
OB_CHECKSUM = 131072
#: ``conf`` flag: book updates batched into one frame (a list of entries).
BULK_UPDATES = 536870912

#: Info codes the simulator can send, with the text Bitfinex sends with them.
INFO_MESSAGES: Mapping[int, str] = {
    20051: "Stopping. Please try to reconnect",
    20060: (
        "Entering in Maintenance mode. Please pause any activity and resume after receiving "
        "the info message 20061 (it should take 120 seconds at most)."
    ),
    20061: (
        "Maintenance ended. You can resume normal activity. It is advised to "
        "unsubscribe/subscribe again all channels."
    ),
}

#: Candle timeframes accepted in ``trade:<tf>:<symbol>`` keys, with their length in ms
#: (``1M`` is taken as 30 days).
CANDLE_TIMEFRAMES: Mapping[str, int] = {
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
_CHECKSUM_DEPTH = 25
_TRADES_SNAPSHOT = 30
_CANDLES_SNAPSHOT = 240
_AMOUNT_EXP = -8  # amounts are integers of 1e-8
_FUNDING_PERIODS = (2, 3, 4, 5, 7, 10, 14, 30, 60, 90, 120)
_SNAPSHOT_TYPES = frozenset({"ps", "ws", "os", "fos", "fcs", "fls"})
_RE_PAYLOAD = re.compile(r"AUTH(\d{1,20})")

# Exchange cadences in (unscaled) seconds, counted in ticks.
_PERIODS: dict[str, float] = {
    "ticker": 1.0,
    "status": 1.0,
    "book.F1": 2.0,
    "account": 0.5,
    "liquidation": 2.0,
}

_CAPS: dict[str, dict[str, int]] = {
    "bfxpay": {"read": 0, "write": 0},
    "orders": {"read": 1, "write": 1},
    "account": {"read": 1, "write": 0},
    "funding": {"read": 1, "write": 1},
    "history": {"read": 1, "write": 0},
    "wallets": {"read": 1, "write": 0},
    "settings": {"read": 1, "write": 0},
    "withdraw": {"read": 0, "write": 0},
    "positions": {"read": 1, "write": 1},
    "ui_withdraw": {"read": 0, "write": 0},
}

# Channel-0 message types by auth filter (Bitfinex "Channel Filters").
_FILTER_TYPES: dict[str, frozenset[str]] = {
    "trading": frozenset({"os", "on", "ou", "oc", "te", "tu", "ps", "pn", "pu", "pc"}),
    "funding": frozenset({"fos", "fon", "fou", "foc", "fcs", "fcn", "fcu", "fcc", "fls", "fln", "flu", "flc",
                          "fte", "ftu"}),
    "wallet": frozenset({"ws", "wu"}),
    "balance": frozenset({"bu"}),
    "notify": frozenset({"n"}),
}


# --------------------------------------------------------------------------- number text
def _js_layout(digits: str, n: int, negative: bool) -> str:
    """Lay out ``0.<digits> * 10**n`` per ECMAScript Number::toString (``digits`` has no
    leading or trailing zeros)."""
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return "-" + text if negative else text


def js_number(x: float | int) -> str:
    """The text JavaScript's ``String(Number)`` gives for ``x`` (what Bitfinex writes on the wire).

    Shortest round-trip digits, plain notation for ``1e-7 <= |x| < 1e21`` (``118940``,
    ``0.00002503``, ``0.000001``), exponent notation otherwise (``7e-7``, ``-5.2128e-8``,
    ``1e+21``).  Pure; any thread.

    Raises:
        ValueError: ``x`` is NaN or infinite (JSON has no such numbers).
        TypeError: ``x`` is a bool.
    """
    if isinstance(x, bool):
        raise TypeError("js_number() takes a number, not a bool")
    if isinstance(x, int) and abs(x) < 10**21:
        return str(x)
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{x!r} cannot be written as a JSON number")
    if x == 0:
        return "0"
    mantissa, _, exp_text = repr(abs(x)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    n = len(int_part) + (int(exp_text) if exp_text else 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    return _js_layout(stripped.rstrip("0"), n, x < 0)


def _dec_text(units: int, exp: int) -> str:
    """JavaScript text of the exact decimal ``units * 10**exp`` (at most 15 significant digits,
    so the double nearest to it prints as this decimal)."""
    if units == 0:
        return "0"
    s = str(abs(units))
    return _js_layout(s.rstrip("0"), len(s) + exp, units < 0)


def _js(obj: Any) -> str:
    """JSON text of ``obj`` with numbers written as JavaScript writes them."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, _Raw):
        return str(obj)
    if isinstance(obj, (int, float)):
        return js_number(obj)
    if isinstance(obj, str):
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(_js(v) for v in obj) + "]"
    if isinstance(obj, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + _js(v) for k, v in obj.items()) + "}"
    raise TypeError(f"cannot encode {type(obj).__name__}")


class _Raw(str):
    """Text already in wire form (a number or a whole JSON value), written as is by :func:`_js`."""

    __slots__ = ()


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _signed32(crc: int) -> int:
    return crc - 0x1_0000_0000 if crc & 0x8000_0000 else crc


def book_checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """Bitfinex book checksum from wire texts.

    ``bids`` and ``asks`` are ``(price, amount)`` texts best first (raw books: ``(order_id,
    amount)`` ordered by price then id; funding books: ``(rate, amount)``).  The top 25 of each
    side are interleaved ``bid:amount:ask:amount:...`` (a short side contributes what it has)
    and the CRC32 of that text is returned as a signed 32-bit integer.  Pure; any thread.
    """
    parts: list[str] = []
    for i in range(_CHECKSUM_DEPTH):
        if i < len(bids):
            parts.extend(bids[i])
        if i < len(asks):
            parts.extend(asks[i])
    return _signed32(zlib.crc32(":".join(parts).encode()))


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
        activity: average book events per tick (orders added, cancelled, amended, trades).
    """

    symbol: str
    price: Decimal
    size: Decimal
    activity: float = 1.5

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


@dataclass(frozen=True)
class AuthAttempt:
    """One ``auth`` event received.

    Attributes:
        conn_id: the connection.
        api_key: the key sent (``None`` when absent).
        nonce: the nonce read from the payload (``None`` when unreadable).
        ok: accepted.
        code: the error code of a refusal, else ``None``.
        msg: the error text of a refusal, else ``None``.
        filter: the ``filter`` list sent.
        dms: the ``dms`` value sent.
    """

    conn_id: int
    api_key: str | None
    nonce: int | None
    ok: bool
    code: int | None = None
    msg: str | None = None
    filter: tuple[str, ...] = ()
    dms: Any = None


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
        self.trades: deque[_Trade] = deque(maxlen=_TRADES_SNAPSHOT)
        self.pending_tu: list[_Trade] = []
        self.new_trades: list[_Trade] = []
        self.changed = False
        self.paused = False
        self.target = 640 if self.funding else 700
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
    def evolve(self, now_ms: int) -> None:
        """One tick of market activity; fills :attr:`new_trades`."""
        self.new_trades = []
        rng = self.rng
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


# --------------------------------------------------------------------------- connections
@dataclass(eq=False)
class _Channel:
    chan_id: int
    topic: tuple[str, ...]
    request: dict[str, Any]
    symbol: str | None
    key: str | None
    last_hb: float
    silenced: bool = False
    drop_pending: int = 0
    corrupt_pending: int = 0


@dataclass(eq=False)
class _Client:
    conn: SimConnection
    outbox: asyncio.Queue[str]
    connected_at: float
    writer: asyncio.Task[None] | None = None
    flags: int = 0
    pub_seq: int = 0
    auth_seq: int = 0
    channels: dict[int, _Channel] = field(default_factory=dict)
    topics: dict[tuple[str, ...], int] = field(default_factory=dict)
    closed_ids: set[int] = field(default_factory=set)
    account: str | None = None
    filters: frozenset[str] | None = None
    last_hb0: float = 0.0
    heard: bool = False
    overflowed: bool = False


# --------------------------------------------------------------------------- accounts
class _Account:
    """A simulated account: wallets, orders, a position and funding offers."""

    def __init__(self, key: str, seed: int) -> None:
        self.key = key
        self.rng = random.Random(f"{seed}:account:{key}")
        self.user_id = self.rng.randrange(1_000_000, 9_999_999)
        self.next_order = self.rng.randrange(10**11, 2 * 10**11)
        self.next_trade = self.rng.randrange(10**8, 2 * 10**8)
        self.next_cid = 1_755_000_000_000
        self.wallets: dict[tuple[str, str], float] = {
            ("exchange", "USD"): round(self.rng.uniform(500, 5000), 8),
            ("exchange", "BTC"): round(self.rng.uniform(0.01, 0.5), 8),
            ("exchange", "UST"): round(self.rng.uniform(200, 2000), 8),
            ("margin", "USTF0"): round(self.rng.uniform(100, 1000), 8),
            ("funding", "USD"): round(self.rng.uniform(100, 1500), 8),
        }
        self.orders: dict[int, list[Any]] = {}
        self.position: list[Any] | None = None
        self.offers: list[list[Any]] = []
        self.steps = 0


# --------------------------------------------------------------------------- the simulator
class BitfinexSimulator(SimServer):
    """A Bitfinex WebSocket API v2 server on 127.0.0.1 (see the module docstring).

    Args:
        host: interface to bind (loopback).
        port: TCP port, 0 for any free port (read back :attr:`port` / :attr:`url`).
        tick_interval: seconds between market ticks; ``None`` to advance only with :meth:`step`.
        hb_interval: seconds between two ``[CHAN,"hb"]`` of a channel (Bitfinex: 15).
        max_channels: channels one socket may subscribe to; the next gets 10305.
        seed: makes books, trades and account events reproducible; ``None`` picks one (kept
            in :attr:`seed`).
        version: the ``version`` written in ``info`` (clients must refuse anything but 2).
        platform_status: ``platform.status`` in ``info`` (1 operative, 0 maintenance).
        accounts: API key -> secret of the accounts that may authenticate.
        markets: :class:`MarketSpec` values (default :data:`DEFAULT_MARKETS`).
        time_scale: multiplies every exchange cadence (0.01: a "second" lasts 10 ms); a
            cadence is never shorter than one tick.
        clock: wall clock in seconds, for the times written in frames.
        idle_timeout: seconds after which a socket that never subscribed, authenticated or
            sent anything is dropped without a close frame (Bitfinex: about 60); ``None`` never.
        max_queued_frames: a client this many frames behind is closed with code 1008.

    Raises:
        ValueError: an argument is out of range or a market is listed twice.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_interval: float | None = 0.05,
        hb_interval: float = 15.0,
        max_channels: int = 25,
        seed: int | None = None,
        version: int = 2,
        platform_status: int = 1,
        accounts: Mapping[str, str] | None = None,
        markets: Sequence[MarketSpec] = DEFAULT_MARKETS,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
        idle_timeout: float | None = None,
        max_queued_frames: int = 100_000,
    ) -> None:
        super().__init__(host=host, port=port, tick_interval=tick_interval, ping_interval=None)
        if tick_interval is not None and tick_interval <= 0:
            raise ValueError(f"tick_interval must be > 0 or None, got {tick_interval!r}")
        if hb_interval <= 0:
            raise ValueError(f"hb_interval must be > 0, got {hb_interval!r}")
        if max_channels < 1:
            raise ValueError(f"max_channels must be >= 1, got {max_channels!r}")
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be > 0 or None, got {idle_timeout!r}")
        if max_queued_frames < 1:
            raise ValueError(f"max_queued_frames must be >= 1, got {max_queued_frames!r}")
        symbols = [m.symbol for m in markets]
        if not symbols:
            raise ValueError("markets must not be empty")
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"markets listed twice in {symbols}")
        for m in markets:
            if m.symbol[:1] not in ("t", "f") or len(m.symbol) < 2 or m.price <= 0 or m.size <= 0:
                raise ValueError(f"bad market {m!r}: symbol t<PAIR> or f<CCY>, price and size > 0")
        self.seed: int = seed if seed is not None else random.SystemRandom().randrange(2**63)
        self.hb_interval = hb_interval
        self.max_channels = max_channels
        self.version = version
        self.time_scale = time_scale
        self.idle_timeout = idle_timeout
        self._nominal_tick = tick_interval if tick_interval is not None else 0.05
        self._clock = clock
        self._mono = time.monotonic
        self._max_queued = max_queued_frames
        self._rng = random.Random(f"{self.seed}:server")  # chanIds only
        self._aux = random.Random(f"{self.seed}:aux")  # server ids, status rows, liquidations
        self._platform_status = platform_status
        self._accounts_secrets: dict[str, str] = dict(accounts or {})
        now_ms = self._now_ms()
        self._markets: dict[str, _Market] = {m.symbol: _Market(m, self.seed, now_ms) for m in markets}
        self._clients: dict[int, _Client] = {}
        self._views: dict[tuple[str, str, str, int], _View] = {}
        self._topic_subs: dict[tuple[str, ...], set[tuple[int, int]]] = {}
        self._accounts: dict[str, _Account] = {}
        self._nonces: dict[str, int] = {}
        self._auth_attempts: list[AuthAttempt] = []
        self._next_chan = self._rng.randrange(10_000, 200_000)
        self._next_pos = self._aux.randrange(10**8, 2 * 10**8)
        self._maintenance = False
        self._ticks = 0
        self._counters: dict[str, int] = {
            "ticks": 0,
            "subscribed": 0,
            "unsubscribed": 0,
            "errors_sent": 0,
            "book_updates": 0,
            "checksums_sent": 0,
            "heartbeats_sent": 0,
            "trades": 0,
            "auth_ok": 0,
            "auth_failed": 0,
            "info_sent": 0,
            "updates_dropped": 0,
            "checksums_corrupted": 0,
            "frames_queued": 0,
            "slow_consumers": 0,
            "unanswered": 0,
            "inputs": 0,
        }

    # ------------------------------------------------------------------ helpers
    def cadence_ticks(self, name: str) -> int:
        """Ticks between two events of cadence ``name`` (``"ticker"``, ``"status"``,
        ``"book.F1"``, ``"account"``, ``"liquidation"``) after ``time_scale``; any thread.

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
        """The simulated symbols (trading and funding)."""
        return tuple(self._markets)

    def _market(self, symbol: str) -> _Market:
        try:
            return self._markets[symbol]
        except KeyError:
            raise ValueError(f"unknown market {symbol!r}; simulated: {list(self._markets)}") from None

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _new_chan_id(self) -> int:
        self._next_chan += self._rng.randrange(1, 4)
        return self._next_chan

    # ------------------------------------------------------------------ sending (under the lock)
    def _enqueue(self, client: _Client, text: str) -> None:
        if client.overflowed:
            return
        if client.outbox.qsize() >= self._max_queued:
            client.overflowed = True
            self._counters["slow_consumers"] += 1
            self.spawn(client.conn.ws.close(1008, "slow consumer"))
            return
        client.outbox.put_nowait(text)
        self._counters["frames_queued"] += 1

    def _event(self, client: _Client, obj: Mapping[str, Any]) -> None:
        self._enqueue(client, _dumps(obj))

    def _array(self, client: _Client, chan_id: int, body: str, now_ms: int) -> None:
        """Queue ``[chan_id,<body>]`` with the socket's sequence number and time as configured."""
        text = f"[{chan_id},{body}"
        if client.flags & SEQ_ALL:
            client.pub_seq += 1
            text += f",{client.pub_seq}"
        if client.flags & TIMESTAMP:
            text += f",{now_ms}"
        self._enqueue(client, text + "]")

    def _push(self, client: _Client, ch: _Channel, body: str, now_ms: int, data: bool = True) -> bool:
        """Send on a public channel unless it is silenced (or in maintenance, for data)."""
        if ch.silenced or (data and self._maintenance):
            return False
        self._array(client, ch.chan_id, body, now_ms)
        return True

    def _push0(self, client: _Client, kind: str, data: str, now_ms: int) -> None:
        """Channel 0: ``[0,TYPE,DATA,PUB_SEQ,AUTH_SEQ]`` (``n``: ``AUTH_SEQ`` only)."""
        text = f'[0,"{kind}",{data}'
        if client.flags & SEQ_ALL:
            client.auth_seq += 1
            if kind != "n":
                client.pub_seq += 1
                text += f",{client.pub_seq}"
            text += f",{client.auth_seq}"
        if client.flags & TIMESTAMP:
            text += f",{now_ms}"
        self._enqueue(client, text + "]")

    def _error(
        self, client: _Client, req: Mapping[str, Any], code: int, msg: str, extra: Mapping[str, Any] | None = None
    ) -> None:
        # Bitfinex: the request's fields come first, then event, msg, code.
        out: dict[str, Any] = {k: v for k, v in req.items() if k not in ("event", "msg", "code")}
        out["event"] = "error"
        out["msg"] = msg
        out["code"] = code
        if extra:
            for k, v in extra.items():
                out.setdefault(k, v)
        self._counters["errors_sent"] += 1
        self._event(client, out)

    def _info(self) -> dict[str, Any]:
        server_id = uuid.UUID(int=self._aux.getrandbits(128), version=4)
        return {
            "event": "info",
            "version": self.version,
            "serverId": str(server_id),
            "platform": {"status": self._platform_status},
        }

    # ------------------------------------------------------------------ connection hooks
    async def on_connect(self, conn: SimConnection) -> None:
        """Register the client, start its writer and send ``info`` (loop thread)."""
        client = _Client(conn, asyncio.Queue(), self._mono())
        with self._lock:
            self._clients[conn.id] = client
            self._event(client, self._info())
        client.writer = self.spawn(self._writer(client))

    async def on_disconnect(self, conn: SimConnection) -> None:
        """Forget the client's channels and stop its writer (loop thread)."""
        with self._lock:
            client = self._clients.pop(conn.id, None)
            if client is None:
                return
            for ch in list(client.channels.values()):
                self._drop_channel(client, ch)
        if client.writer is not None:
            client.writer.cancel()

    async def _writer(self, client: _Client) -> None:
        while True:
            text = await client.outbox.get()
            await client.conn.send(text)

    async def on_message(self, conn: SimConnection, message: str | bytes) -> None:
        """Handle one client frame (loop thread): events, and channel-0 inputs when
        authenticated.  Text that is not JSON is recorded and not answered (as on the wire)."""
        try:
            text = message if isinstance(message, str) else message.decode("utf-8")
            frame = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            self.record(conn, message)
            return
        self.record(conn, frame)
        with self._lock:
            client = self._clients.get(conn.id)
            if client is not None:
                client.heard = True
                if isinstance(frame, dict):
                    self._handle_event(client, frame)
                elif isinstance(frame, list):
                    self._handle_input(client, frame)
        self.notify()

    # ------------------------------------------------------------------ events
    def _handle_event(self, client: _Client, req: dict[str, Any]) -> None:
        event = req.get("event")
        if event == "subscribe":
            self._subscribe(client, req)
        elif event == "unsubscribe":
            self._unsubscribe(client, req)
        elif event == "conf":
            flags = req.get("flags")
            if not isinstance(flags, int) or isinstance(flags, bool) or flags < 0:
                self._error(client, req, 10001, "conf: invalid")
                return
            client.flags = flags
            self._event(client, {"event": "conf", "status": "OK", "flags": flags})
        elif event == "ping":
            pong: dict[str, Any] = {"event": "pong", "ts": self._now_ms()}
            if "cid" in req:
                pong["cid"] = req["cid"]
            self._event(client, pong)
        elif event == "auth":
            self._auth(client, req)
        elif event == "unauth":
            client.account = None
            client.filters = None
            self._event(client, {"event": "unauth", "status": "OK", "chanId": 0})
        else:
            name = event if isinstance(event, str) else "undefined"
            self._error(client, req, 10000, f"event: invalid ({name})")

    def _normalize_symbol(self, req: Mapping[str, Any]) -> str | None:
        symbol = req.get("symbol")
        if symbol is None and isinstance(req.get("pair"), str):
            symbol = "t" + str(req["pair"])
        if not isinstance(symbol, str):
            return None
        if symbol in self._markets:
            return symbol
        # Bitfinex accepts a trading symbol without its "t" and acks it with the prefix.
        if "t" + symbol in self._markets:
            return "t" + symbol
        return None

    def _subscribe(self, client: _Client, req: dict[str, Any]) -> None:
        channel = req.get("channel")
        if channel not in _CHANNELS:
            self._error(client, req, 10300, "channel: unknown")
            return
        symbol: str | None = None
        key: str | None = None
        extra: dict[str, Any] = {}
        echo: dict[str, Any] = {}
        if channel in ("ticker", "trades", "book"):
            symbol = self._normalize_symbol(req)
            raw = req.get("symbol", req.get("pair"))
            if symbol is None:
                name = str(raw) if raw is not None else ""
                label = "currency" if name.startswith("f") else "pair"
                self._error(client, req, 10300, "symbol: invalid", {label: name[1:] if name[:1] in "tf" else name})
                return
            extra = {"currency" if symbol.startswith("f") else "pair": symbol[1:]}
            echo["symbol"] = symbol
            topic: tuple[str, ...] = (channel, symbol)
            if channel == "book":
                prec = req.get("prec", "P0")
                freq = req.get("freq", "F0")
                length = str(req.get("len", "25"))
                if prec not in _PRECISIONS:
                    self._error(client, req, 10300, "precision: invalid", extra)
                    return
                if freq not in _FREQS:
                    self._error(client, req, 10300, "freq: invalid", extra)
                    return
                if length not in _LENGTHS:
                    self._error(client, req, 10300, "length: invalid", extra)
                    return
                echo.update(prec=prec, freq=freq, len=length)
                topic = (channel, symbol, str(prec), str(freq), length)
        elif channel == "candles":
            key = req.get("key") if isinstance(req.get("key"), str) else None
            parts = key.split(":", 2) if key else []
            if (
                len(parts) != 3
                or parts[0] != "trade"
                or parts[1] not in CANDLE_TIMEFRAMES
                or parts[2] not in self._markets
                or parts[2].startswith("f")
            ):
                self._error(client, req, 10300, "key: invalid")
                return
            assert key is not None
            symbol = parts[2]
            echo["key"] = key
            topic = (channel, key)
        else:  # status
            key = req.get("key") if isinstance(req.get("key"), str) else None
            if key != "liq:global":
                target = key[6:] if key and key.startswith("deriv:") else None
                if target is None or target not in self._markets or not self._markets[target].spec.perpetual:
                    if key and key.startswith("deriv:"):
                        # Bitfinex: a status subscription to an unknown contract gets no reply.
                        self._counters["unanswered"] += 1
                        return
                    self._error(client, req, 10300, "key: invalid")
                    return
                symbol = target
            assert key is not None
            echo["key"] = key
            topic = (channel, key)
        existing = client.topics.get(topic)
        if existing is not None:
            self._error(client, req, 10301, "subscribe: dup", {"chanId": existing, **extra})
            return
        if len(client.channels) >= self.max_channels:
            self._error(client, req, 10305, "subscribe: limit", extra)
            return
        chan_id = self._new_chan_id()
        # Bitfinex: event, channel, chanId, symbol / key, prec, freq, len, subId, pair / currency.
        echo = {"event": "subscribed", "channel": channel, "chanId": chan_id, **echo}
        if "subId" in req:
            echo["subId"] = req["subId"]
        echo.update(extra)
        ch = _Channel(chan_id, topic, dict(req), symbol, key, self._mono())
        client.channels[chan_id] = ch
        client.topics[topic] = chan_id
        self._topic_subs.setdefault(topic, set()).add((client.conn.id, chan_id))
        self._counters["subscribed"] += 1
        self._event(client, echo)
        self._send_snapshot(client, ch, topic)

    def _send_snapshot(self, client: _Client, ch: _Channel, topic: tuple[str, ...]) -> None:
        now_ms = self._now_ms()
        channel = topic[0]
        if channel == "ticker":
            self._push(client, ch, self._markets[topic[1]].ticker_text(), now_ms)
        elif channel == "trades":
            m = self._markets[topic[1]]
            body = "[" + ",".join(m.trade_text(t) for t in reversed(m.trades)) + "]"
            self._push(client, ch, body, now_ms)
        elif channel == "book":
            view = self._view(topic)
            view.channels.add((client.conn.id, ch.chan_id))
            self._push(client, ch, view.snapshot_text(), now_ms)
        elif channel == "candles":
            _, tf, symbol = topic[1].split(":", 2)
            m = self._markets[symbol]
            c = m.candles_for(tf, now_ms)
            body = "[" + ",".join(m.candle_text(r) for r in reversed(c.rows)) + "]"
            self._push(client, ch, body, now_ms)
        elif channel == "status" and topic[1] != "liq:global":
            self._push(client, ch, self._status_text(self._markets[topic[1][6:]], now_ms), now_ms)

    def _view(self, topic: tuple[str, ...]) -> _View:
        vkey = (topic[1], topic[2], topic[3], int(topic[4]))
        view = self._views.get(vkey)
        if view is None:
            view = self._views[vkey] = _View(self._markets[topic[1]], topic[2], topic[3], int(topic[4]))
        return view

    def _drop_channel(self, client: _Client, ch: _Channel) -> None:
        client.channels.pop(ch.chan_id, None)
        client.topics.pop(ch.topic, None)
        subs = self._topic_subs.get(ch.topic)
        if subs is not None:
            subs.discard((client.conn.id, ch.chan_id))
            if not subs:
                del self._topic_subs[ch.topic]
        if ch.topic[0] == "book":
            vkey = (ch.topic[1], ch.topic[2], ch.topic[3], int(ch.topic[4]))
            view = self._views.get(vkey)
            if view is not None:
                view.channels.discard((client.conn.id, ch.chan_id))
                if not view.channels:
                    del self._views[vkey]

    def _unsubscribe(self, client: _Client, req: dict[str, Any]) -> None:
        chan_id = req.get("chanId")
        ch = client.channels.get(chan_id) if isinstance(chan_id, int) else None
        if ch is None:
            if isinstance(chan_id, int) and chan_id in client.closed_ids:
                self._error(client, req, 10401, "unsubscribe: not subscribed")
            else:
                self._error(client, req, 10400, "unsubscribe: invalid")
            return
        self._drop_channel(client, ch)
        client.closed_ids.add(ch.chan_id)
        self._counters["unsubscribed"] += 1
        self._event(client, {"event": "unsubscribed", "status": "OK", "chanId": ch.chan_id})

    # ------------------------------------------------------------------ auth
    def _auth(self, client: _Client, req: dict[str, Any]) -> None:
        key = req.get("apiKey") if isinstance(req.get("apiKey"), str) else None
        payload = req.get("authPayload")
        sig = req.get("authSig")
        flt = req.get("filter")
        filters = tuple(str(f) for f in flt) if isinstance(flt, list) else ()
        match = _RE_PAYLOAD.fullmatch(payload) if isinstance(payload, str) else None
        nonce = int(match.group(1)) if match else None

        def fail(code: int, msg: str) -> None:
            attempt = AuthAttempt(client.conn.id, key, nonce, False, code, msg, filters, req.get("dms"))
            self._auth_attempts.append(attempt)
            self._counters["auth_failed"] += 1
            self._event(client, {"event": "auth", "status": "FAILED", "chanId": 0, "code": code, "msg": msg})

        if client.account is not None:
            fail(10100, "auth: dup")
            return
        secret = self._accounts_secrets.get(key) if key is not None else None
        if key is None or secret is None:
            fail(10100, "apikey: invalid")
            return
        if not isinstance(payload, str) or not isinstance(sig, str):
            fail(10100, "apikey: digest invalid")
            return
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha384).hexdigest()
        if not hmac.compare_digest(expected, sig.lower()):
            fail(10100, "apikey: digest invalid")
            return
        if nonce is None:
            fail(10111, "auth: payload invalid")
            return
        # Bitfinex: the nonce must grow for the key, across every connection.
        if nonce <= self._nonces.get(key, -1):
            fail(10114, "nonce: small")
            return
        self._nonces[key] = nonce
        self._auth_attempts.append(AuthAttempt(client.conn.id, key, nonce, True, None, None, filters, req.get("dms")))
        self._counters["auth_ok"] += 1
        account = self._account(key)
        client.account = key
        client.filters = frozenset(filters) if filters else None
        client.last_hb0 = self._mono()
        auth_id = uuid.UUID(int=account.rng.getrandbits(128), version=4)
        self._event(
            client,
            {"event": "auth", "status": "OK", "chanId": 0, "userId": account.user_id, "auth_id": str(auth_id),
             "caps": _CAPS},
        )
        now_ms = self._now_ms()
        for kind, data in self._account_snapshots(account, now_ms):
            if self._wants(client, kind, data):
                self._push0(client, kind, _js(data), now_ms)

    def _account(self, key: str) -> _Account:
        account = self._accounts.get(key)
        if account is None:
            account = self._accounts[key] = _Account(key, self.seed)
            now_ms = self._now_ms()
            for _ in range(2):
                self._new_order(account, now_ms, symbol="tBTCUSD")
            self._open_position(account, now_ms)
            account.offers.append(self._offer(account, now_ms))
        return account

    def _wants(self, client: _Client, kind: str, data: Any) -> bool:
        """Bitfinex auth filters: ``trading``, ``trading-tBTCUSD``, ``funding``, ``funding-fUSD``,
        ``wallet``, ``wallet-exchange-BTC``, ``balance``, ``notify`` (no filter: everything)."""
        filters = client.filters
        if filters is None:
            return True
        for f in filters:
            base, _, detail = f.partition("-")
            types = _FILTER_TYPES.get(base)
            if types is None or kind not in types:
                continue
            if not detail or kind in _SNAPSHOT_TYPES:
                return True
            if base in ("trading", "funding") and self._mentions(data, detail):
                return True
            if base == "wallet" and self._mentions(data, detail.replace("-", "")):
                return True
        return False

    @staticmethod
    def _mentions(data: Any, what: str) -> bool:
        rows = data if isinstance(data, list) and data and isinstance(data[0], list) else [data]
        for row in rows:
            if isinstance(row, list):
                if what in (str(v) for v in row[:4]):
                    return True
                if len(row) > 1 and f"{row[0]}{row[1]}" == what:
                    return True
        return False

    # ------------------------------------------------------------------ account events
    def _order_row(
        self, account: _Account, oid: int, symbol: str, amount: float, price: float, now_ms: int
    ) -> list[Any]:
        account.next_cid += 1
        return [oid, None, account.next_cid, symbol, now_ms, now_ms, amount, amount, "EXCHANGE LIMIT", None, None,
                None, 0, "ACTIVE", None, None, price, 0, 0, 0, None, None, None, 0, 0, None, None, None, "API>BFX",
                None, None, {"source": "api"}]

    def _new_order(self, account: _Account, now_ms: int, symbol: str | None = None) -> list[Any]:
        rng = account.rng
        m = self._markets.get(symbol or "tBTCUSD") or next(iter(self._markets.values()))
        account.next_order += rng.randrange(1, 1000)
        amount = round(rng.choice((1, -1)) * rng.uniform(0.0001, 0.01), 8)
        price = float(m.price_text(m.last + (-1 if amount > 0 else 1) * rng.randrange(5, 200)))
        row = self._order_row(account, account.next_order, m.symbol, amount, price, now_ms)
        account.orders[row[0]] = row
        return row

    def _open_position(self, account: _Account, now_ms: int) -> None:
        rng = account.rng
        m = self._markets.get("tBTCF0:USTF0") or next(iter(self._markets.values()))
        self._next_pos += rng.randrange(1, 100)
        base = float(m.price_text(m.last))
        amount = round(rng.uniform(0.001, 0.05), 8)
        account.position = [m.symbol, "ACTIVE", amount, base, 0, 0, 0.0, 0.0, round(base * 0.6, 2), 2.5, None,
                            self._next_pos, now_ms, now_ms, None, 1, None, round(amount * base / 2.5, 8),
                            round(amount * base / 5, 8), {"reason": "TRADE"}]

    def _offer(self, account: _Account, now_ms: int) -> list[Any]:
        rng = account.rng
        m = self._markets.get("fUSD") or next(iter(self._markets.values()))
        account.next_order += rng.randrange(1, 1000)
        amount = round(rng.uniform(150, 1500), 8)
        rate = float(m.price_text(m.last))
        return [account.next_order, m.symbol, now_ms, now_ms, amount, amount, "LIMIT", None, None, 0, "ACTIVE", None,
                None, None, rate, 2, 0, 0, None, 0, None]

    def _wallet_rows(self, account: _Account) -> list[list[Any]]:
        return [[t, c, bal, 0, None, None, None] for (t, c), bal in account.wallets.items()]

    def _account_snapshots(self, account: _Account, now_ms: int) -> list[tuple[str, Any]]:
        return [
            ("ps", [account.position] if account.position is not None else []),
            ("ws", self._wallet_rows(account)),
            ("os", list(account.orders.values())),
            ("fos", list(account.offers)),
            ("fcs", []),
            ("fls", []),
        ]

    def _notification(self, kind: str, row: Any, status: str, text: str, now_ms: int) -> list[Any]:
        return [now_ms, kind, None, None, row, None, status, text]

    def _account_events(self, account: _Account, now_ms: int) -> list[tuple[str, Any]]:
        """One step of account activity, as channel-0 messages."""
        rng = account.rng
        account.steps += 1
        events: list[tuple[str, Any]] = []
        choice = rng.random()
        if choice < 0.3 or not account.orders:
            row = self._new_order(account, now_ms)
            side = "buy" if row[6] > 0 else "sell"
            text = f"Submitting exchange limit {side} order for {js_number(abs(row[6]))} {row[3][1:4]}."
            events.append(("n", self._notification("on-req", row, "SUCCESS", text, now_ms)))
            events.append(("on", row))
        elif choice < 0.55:
            oid = rng.choice(sorted(account.orders))
            row = account.orders.pop(oid)
            events.extend(self._fill_events(account, row, now_ms))
        elif choice < 0.7:
            oid = rng.choice(sorted(account.orders))
            row = account.orders[oid]
            row[16] = float(f"{row[16] * (1 + rng.uniform(-0.001, 0.001)):.5g}")  # 5 significant figures
            row[5] = now_ms
            events.append(("ou", list(row)))
        elif choice < 0.8:
            oid = rng.choice(sorted(account.orders))
            row = account.orders.pop(oid)
            row[5] = now_ms
            row[13] = "CANCELED"
            text = f"Submitted for cancellation; waiting for confirmation (ID: {oid})."
            events.append(("n", self._notification("oc-req", list(row), "SUCCESS", text, now_ms)))
            events.append(("oc", row))
        elif choice < 0.9 and account.position is not None:
            pos = account.position
            m = self._markets.get(pos[0])
            mark = float(m.price_text(m.last)) if m is not None else pos[3]
            pos[6] = round((mark - pos[3]) * pos[2], 8)
            pos[7] = round((mark / pos[3] - 1) * 100, 4)
            pos[13] = now_ms
            events.append(("pu", list(pos)))
        else:
            wkey = rng.choice(sorted(account.wallets))
            account.wallets[wkey] = round(account.wallets[wkey] + rng.uniform(-1, 1), 8)
            bal = account.wallets[wkey]
            events.append(("wu", [wkey[0], wkey[1], bal, 0, bal, None, None]))
        return events

    def _fill_events(self, account: _Account, row: list[Any], now_ms: int) -> list[tuple[str, Any]]:
        rng = account.rng
        symbol, amount, price = row[3], row[6], row[16]
        account.next_trade += rng.randrange(1, 10)
        tid = account.next_trade
        base, quote = symbol[1:4], symbol[-3:]
        fee = round(-abs(amount) * 0.002, 12) if amount > 0 else round(-abs(amount) * price * 0.002, 8)
        fee_ccy = base if amount > 0 else quote
        te = [tid, symbol, now_ms, row[0], amount, price, row[8], price, 1, None, None, row[2]]
        tu = [tid, symbol, now_ms, row[0], amount, price, row[8], price, 1, fee, fee_ccy, row[2]]
        row[5] = now_ms
        row[6] = 0
        row[13] = f"EXECUTED @ {price}({js_number(amount)})"
        row[17] = price
        events: list[tuple[str, Any]] = []
        desc = f"Exchange {js_number(abs(amount))} {base} for {quote} @ {price}"
        meta = {"reason": "TRADE", "order_id": row[0], "order_id_oppo": row[0] + rng.randrange(1, 10**6),
                "trade_price": str(price), "trade_amount": js_number(amount), "order_cid": row[2], "order_gid": None}
        for ccy, delta in ((base, amount), (quote, -amount * price)):
            wkey = ("exchange", ccy)
            account.wallets[wkey] = round(account.wallets.get(wkey, 0.0) + delta, 8)
            events.append(("wu", ["exchange", ccy, account.wallets[wkey], 0, None, desc, meta]))
        events.append(("te", te))
        events.append(("oc", row))
        fee_wallet = ("exchange", fee_ccy)
        account.wallets[fee_wallet] = round(account.wallets.get(fee_wallet, 0.0) + fee, 8)
        fee_text = f"Trading fees for {js_number(abs(amount))} {base} ({base}{quote}) @ {price} on BFX (0.2%)"
        events.append(("wu", ["exchange", fee_ccy, account.wallets[fee_wallet], 0, None, fee_text, None]))
        events.append(("tu", tu))
        aum = round(sum(v for (_, c), v in account.wallets.items() if c in ("USD", "UST")), 8)
        events.append(("bu", [aum, aum]))
        return events

    def _handle_input(self, client: _Client, frame: list[Any]) -> None:
        """Channel-0 inputs ``[0,"on"|"ou"|"oc",null,{...}]`` of an authenticated socket."""
        self._counters["inputs"] += 1
        if client.account is None or len(frame) < 4 or frame[0] != 0 or not isinstance(frame[3], dict):
            return
        account = self._account(client.account)
        kind, body = frame[1], frame[3]
        now_ms = self._now_ms()
        events: list[tuple[str, Any]] = []
        if kind == "on":
            try:
                symbol = str(body["symbol"])
                amount = float(body["amount"])
                price = float(body.get("price", 0) or 0)
                order_type = str(body.get("type", "EXCHANGE LIMIT"))
            except (KeyError, TypeError, ValueError):
                events.append(("n", self._notification("on-req", None, "ERROR", "Invalid order: fields", now_ms)))
            else:
                if symbol not in self._markets or symbol.startswith("f") or amount == 0:
                    events.append(("n", self._notification("on-req", None, "ERROR", "Invalid order", now_ms)))
                else:
                    account.next_order += account.rng.randrange(1, 1000)
                    row = self._order_row(account, account.next_order, symbol, amount, price, now_ms)
                    row[8] = order_type
                    if isinstance(body.get("cid"), int):
                        row[2] = body["cid"]
                    account.orders[row[0]] = row
                    side = "buy" if amount > 0 else "sell"
                    text = f"Submitting {order_type.lower()} {side} order for {js_number(abs(amount))} {symbol[1:4]}."
                    events.append(("n", self._notification("on-req", list(row), "SUCCESS", text, now_ms)))
                    events.append(("on", row))
        elif kind in ("oc", "ou"):
            oid = body.get("id")
            found = account.orders.get(oid) if isinstance(oid, int) else None
            req_kind = f"{kind}-req"
            if found is None:
                events.append(("n", self._notification(req_kind, None, "ERROR", "Order not found.", now_ms)))
            elif kind == "oc":
                del account.orders[found[0]]
                found[5] = now_ms
                found[13] = "CANCELED"
                text = f"Submitted for cancellation; waiting for confirmation (ID: {found[0]})."
                events.append(("n", self._notification(req_kind, list(found), "SUCCESS", text, now_ms)))
                events.append(("oc", found))
            else:
                try:
                    if "price" in body:
                        found[16] = float(body["price"])
                    if "amount" in body:
                        found[6] = float(body["amount"])
                except (TypeError, ValueError):
                    events.append(("n", self._notification(req_kind, None, "ERROR", "Invalid update", now_ms)))
                else:
                    found[5] = now_ms
                    text = f"Submitting update to exchange limit order (ID: {found[0]})."
                    events.append(("n", self._notification(req_kind, list(found), "SUCCESS", text, now_ms)))
                    events.append(("ou", list(found)))
        else:
            return
        self._broadcast_account(account.key, events, now_ms)

    def _broadcast_account(self, key: str, events: list[tuple[str, Any]], now_ms: int) -> None:
        if self._maintenance:
            return
        for client in self._clients.values():
            if client.account != key:
                continue
            for kind, data in events:
                if self._wants(client, kind, data):
                    self._push0(client, kind, _js(data), now_ms)

    # ------------------------------------------------------------------ ticks
    async def on_tick(self) -> None:
        """Advance every market by one tick and queue the resulting frames (loop thread)."""
        with self._lock:
            self._tick()
        self.notify()

    def _channels_of(self, topic: tuple[str, ...]) -> list[tuple[_Client, _Channel]]:
        out: list[tuple[_Client, _Channel]] = []
        for cid, chan_id in sorted(self._topic_subs.get(topic, ())):
            client = self._clients.get(cid)
            if client is not None:
                ch = client.channels.get(chan_id)
                if ch is not None:
                    out.append((client, ch))
        return out

    def _tick(self) -> None:
        self._ticks += 1
        self._counters["ticks"] = self._ticks
        now_ms = self._now_ms()
        for m in self._markets.values():
            if m.paused:
                m.new_trades = []
                continue
            m.evolve(now_ms)
            self._counters["trades"] += len(m.new_trades)
            self._emit_trades(m, now_ms)
        self._emit_books(now_ms)
        if self._ticks % self.cadence_ticks("ticker") == 0:
            for m in self._markets.values():
                if not m.paused:
                    text = m.ticker_text()
                    for client, ch in self._channels_of(("ticker", m.symbol)):
                        self._push(client, ch, text, now_ms)
        if self._ticks % self.cadence_ticks("status") == 0:
            for topic in [t for t in self._topic_subs if t[0] == "status" and t[1] != "liq:global"]:
                text = self._status_text(self._markets[topic[1][6:]], now_ms)
                for client, ch in self._channels_of(topic):
                    self._push(client, ch, text, now_ms)
        if self._ticks % self.cadence_ticks("liquidation") == 0:
            self._liquidation(now_ms)
        if self._ticks % self.cadence_ticks("account") == 0:
            active = sorted({c.account for c in self._clients.values() if c.account is not None})
            for key in active:
                account = self._account(key)
                self._broadcast_account(key, self._account_events(account, now_ms), now_ms)
        self._heartbeats(now_ms)

    def _emit_trades(self, m: _Market, now_ms: int) -> None:
        pending, m.pending_tu = m.pending_tu, list(m.new_trades)
        topic = ("trades", m.symbol)
        subs = self._channels_of(topic) if topic in self._topic_subs else []
        te, tu = ("fte", "ftu") if m.funding else ("te", "tu")
        for client, ch in subs:
            # Bitfinex: "te" at execution, "tu" for the same trade a little later.
            for t in pending:
                self._push(client, ch, f'"{tu}",{m.trade_text(t)}', now_ms)
            for t in m.new_trades:
                self._push(client, ch, f'"{te}",{m.trade_text(t)}', now_ms)
        if m.new_trades and not m.funding:
            for tf, candles in m.candles.items():
                key = f"trade:{tf}:{m.symbol}"
                for t in m.new_trades:
                    self._candle_trade(m, candles, t)
                text = m.candle_text(candles.rows[-1])
                for client, ch in self._channels_of(("candles", key)):
                    self._push(client, ch, text, now_ms)

    @staticmethod
    def _candle_trade(m: _Market, candles: _Candles, t: _Trade) -> None:
        start = t.mts // candles.tf * candles.tf
        row = candles.rows[-1]
        if start > row[0]:
            candles.rows.append([start, t.tick, t.tick, t.tick, t.tick, 0.0])
            row = candles.rows[-1]
        row[2] = t.tick
        row[3] = max(row[3], t.tick)
        row[4] = min(row[4], t.tick)
        row[5] = round(row[5] + abs(t.units) / 1e8, 8)

    def _emit_books(self, now_ms: int) -> None:
        f1 = self._ticks % self.cadence_ticks("book.F1") == 0
        for view in list(self._views.values()):
            if view.freq == "F1" and not f1:
                continue
            if not view.market.changed and view.freq == "F0":
                continue
            updates = view.refresh()
            if not updates:
                continue
            self._counters["book_updates"] += len(updates)
            for cid, chan_id in sorted(view.channels):
                client = self._clients.get(cid)
                ch = client.channels.get(chan_id) if client is not None else None
                if client is None or ch is None:
                    continue
                self._send_book_updates(client, ch, view, updates, now_ms)
        for m in self._markets.values():
            m.changed = False

    def _send_book_updates(
        self, client: _Client, ch: _Channel, view: _View, updates: list[tuple[str, bool]], now_ms: int
    ) -> None:
        if ch.silenced or self._maintenance:
            return
        texts = [u[0] for u in updates]
        if ch.drop_pending:
            # Drop one update the checksum covers: the client's top 25 can no longer match.
            for i, (_, top) in enumerate(updates):
                if top:
                    del texts[i]
                    ch.drop_pending -= 1
                    self._counters["updates_dropped"] += 1
                    break
        if client.flags & BULK_UPDATES:
            if texts:
                self._push(client, ch, "[" + ",".join(f"[{t}]" for t in texts) + "]", now_ms)
        else:
            for t in texts:
                self._push(client, ch, f"[{t}]", now_ms)
        if client.flags & OB_CHECKSUM:
            cs = view.checksum
            if ch.corrupt_pending:
                ch.corrupt_pending -= 1
                cs = _signed32((cs & 0xFFFFFFFF) ^ 0x5A5A5A5A)
                self._counters["checksums_corrupted"] += 1
            if self._push(client, ch, f'"cs",{cs}', now_ms):
                self._counters["checksums_sent"] += 1

    def _status_text(self, m: _Market, now_ms: int) -> str:
        spot = self._markets.get("t" + m.symbol[1:4] + "USD")
        deriv = m.price_text(m.last)
        spot_text = spot.price_text(spot.last) if spot is not None else deriv
        next_funding = (now_ms // 28_800_000 + 1) * 28_800_000
        rng = self._aux
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
        if topic not in self._topic_subs:
            return
        perps = [m for m in self._markets.values() if m.spec.perpetual]
        rng = self._aux
        if not perps or rng.random() < 0.3:
            return
        m = rng.choice(perps)
        self._next_pos += rng.randrange(1, 1000)
        amount = round(rng.choice((1, -1)) * rng.uniform(0.001, 2.0), 8)
        base = round(float(m.price_text(m.last)) * rng.uniform(0.97, 1.03), 6)
        acquired = float(m.price_text(m.last))
        row = _js([["pos", self._next_pos, now_ms, None, m.symbol, amount, base, None, 1, 1, None, acquired]])
        for client, ch in self._channels_of(topic):
            self._push(client, ch, row, now_ms)

    def _heartbeats(self, now_ms: int) -> None:
        now = self._mono()
        for client in list(self._clients.values()):
            for ch in client.channels.values():
                if now - ch.last_hb >= self.hb_interval:
                    ch.last_hb = now
                    if self._push(client, ch, '"hb"', now_ms, data=False):
                        self._counters["heartbeats_sent"] += 1
            if client.account is not None and now - client.last_hb0 >= self.hb_interval:
                client.last_hb0 = now
                text = '[0,"hb"'
                if client.flags & SEQ_ALL:
                    client.pub_seq += 1
                    text += f",{client.pub_seq}"
                if client.flags & TIMESTAMP:
                    text += f",{now_ms}"
                self._enqueue(client, text + "]")
                self._counters["heartbeats_sent"] += 1
            if (
                self.idle_timeout is not None
                and not client.heard
                and not client.channels
                and client.account is None
                and now - client.connected_at >= self.idle_timeout
            ):
                transport = client.conn.ws.transport
                if transport is not None:
                    transport.abort()

    # ------------------------------------------------------------------ controls
    def step(self, ticks: int = 1) -> None:
        """Advance the markets by ``ticks`` ticks now and queue their frames; returns when done.

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

    def _targets(self, conn_id: int | None) -> list[_Client]:
        if conn_id is not None and conn_id not in self._clients:
            raise ValueError(f"no connection {conn_id!r}; connected: {sorted(self._clients)}")
        return [c for cid, c in sorted(self._clients.items()) if conn_id is None or cid == conn_id]

    def send_info(self, code: int, *, msg: str | None = None, conn_id: int | None = None) -> int:
        """Send ``{"event":"info","code":code,"msg":...}`` to every client (or ``conn_id``), in
        order with its data; returns how many got it.  Any thread.

        20060 also enters maintenance, for the whole server (public data and account events
        stop, heartbeats go on, new sockets see ``platform.status`` 0) and 20061 leaves it;
        20051 only announces the restart (close the sockets with :meth:`close_connections` or
        :meth:`drop_connections`).

        Raises:
            ValueError: ``code`` is not 20051, 20060 or 20061 and no ``msg`` is given, or no
                such connection.
        """
        if msg is None:
            if code not in INFO_MESSAGES:
                raise ValueError(f"no standard text for info code {code}; known: {sorted(INFO_MESSAGES)}")
            msg = INFO_MESSAGES[code]
        text = msg

        def go() -> int:
            targets = self._targets(conn_id)
            if code == 20060:
                self._maintenance = True
                self._platform_status = 0
            elif code == 20061:
                self._maintenance = False
                self._platform_status = 1
            for client in targets:
                self._event(client, {"event": "info", "code": code, "msg": text})
            self._counters["info_sent"] += len(targets)
            return len(targets)

        return self._run_locked(go)

    def set_maintenance(self, on: bool = True) -> int:
        """Enter (20060) or leave (20061) maintenance, announcing it to every client; returns
        how many got the info frame.  Any thread."""
        return self.send_info(20060 if on else 20061)

    @property
    def maintenance(self) -> bool:
        """In maintenance (between 20060 and 20061)."""
        with self._lock:
            return self._maintenance

    def set_platform_status(self, status: int) -> None:
        """``platform.status`` written in the ``info`` frame of new connections (1 operative,
        0 maintenance).  Any thread."""
        with self._lock:
            self._platform_status = status

    def _match_channels(
        self,
        chan_id: int | None,
        channel: str | None,
        symbol: str | None,
        conn_id: int | None,
        books_only: bool = False,
    ) -> list[_Channel]:
        out: list[_Channel] = []
        for client in self._targets(conn_id):
            for ch in client.channels.values():
                if chan_id is not None and ch.chan_id != chan_id:
                    continue
                if channel is not None and ch.topic[0] != channel:
                    continue
                if symbol is not None and symbol not in (ch.symbol, ch.key):
                    continue
                if books_only and ch.topic[0] != "book":
                    continue
                out.append(ch)
        return out

    def silence_channel(
        self,
        chan_id: int | None = None,
        *,
        channel: str | None = None,
        symbol: str | None = None,
        conn_id: int | None = None,
        silent: bool = True,
    ) -> int:
        """Stop (or resume) every frame of matching channels, heartbeats and checksums
        included, while the others go on; returns how many channels matched.  Any thread.

        Match by ``chan_id``, or by ``channel`` (``"book"``...) and/or ``symbol`` (a symbol or a
        candles/status key), optionally on one connection.  The market keeps moving, so a book
        that resumes is stale (its next checksum fails).  Silenced frames take no sequence number.

        Raises:
            ValueError: nothing to match on, or no such connection.
        """
        if chan_id is None and channel is None and symbol is None:
            raise ValueError("give chan_id, channel or symbol")
        with self._lock:
            matched = self._match_channels(chan_id, channel, symbol, conn_id)
            for ch in matched:
                ch.silenced = silent
            return len(matched)

    def corrupt_checksum(self, symbol: str, count: int = 1, *, conn_id: int | None = None) -> int:
        """Make the next ``count`` ``cs`` frames of every book channel of ``symbol`` (or those of
        ``conn_id``) wrong; returns how many channels were armed.  Any thread.

        Raises:
            ValueError: unknown symbol, ``count`` < 1 or no such connection.
        """
        self._market(symbol)
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        with self._lock:
            matched = self._match_channels(None, "book", symbol, conn_id)
            for ch in matched:
                ch.corrupt_pending += count
            return len(matched)

    def drop_update(self, symbol: str, count: int = 1, *, conn_id: int | None = None) -> int:
        """Do not send the next ``count`` book updates of ``symbol`` (on every book channel, or
        those of ``conn_id``) while the book changes as usual; each dropped update is one the
        checksum covers, so the next ``cs`` no longer matches the client's book.  Returns how
        many channels were armed.  Any thread.

        Raises:
            ValueError: unknown symbol, ``count`` < 1 or no such connection.
        """
        self._market(symbol)
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        with self._lock:
            matched = self._match_channels(None, "book", symbol, conn_id)
            for ch in matched:
                ch.drop_pending += count
            return len(matched)

    def skip_sequence(self, n: int = 1, *, conn_id: int | None = None, auth: bool = False) -> int:
        """Skip ``n`` numbers of the ``SEQ_ALL`` public sequence (``auth``: the channel-0 auth
        sequence) on every connection (or ``conn_id``): the next numbered frame shows a gap.
        Returns how many connections.  Any thread.

        Raises:
            ValueError: ``n`` < 1 or no such connection.
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n!r}")
        with self._lock:
            targets = self._targets(conn_id)
            for client in targets:
                if auth:
                    client.auth_seq += n
                else:
                    client.pub_seq += n
            return len(targets)

    def pause_market(self, symbol: str, paused: bool = True) -> None:
        """Freeze (or resume) ``symbol``: no book changes, trades or tickers, only heartbeats —
        a quiet market on a healthy connection.  Any thread.

        Raises:
            ValueError: unknown symbol.
        """
        with self._lock:
            self._market(symbol).paused = paused

    def silence_connection(self, conn_id: int, silent: bool = True) -> None:
        """Stop (or resume) sending anything to one client.  Frames produced meanwhile are lost
        as on a dead link (they keep their sequence numbers, so a gap shows).  Any thread.

        Raises:
            ValueError: no such connection.
        """
        with self._lock:
            self._targets(conn_id)[0].conn.silent = silent

    def send_raw(self, text: str, *, conn_id: int | None = None) -> int:
        """Queue ``text`` as is to every client (or ``conn_id``), in order with its data (unlike
        :meth:`inject`, which jumps the queue); returns how many got it.  Any thread.

        Raises:
            ValueError: no such connection.
        """

        def go() -> int:
            targets = self._targets(conn_id)
            for client in targets:
                self._enqueue(client, text)
            return len(targets)

        return self._run_locked(go)

    def add_account(self, api_key: str, api_secret: str) -> None:
        """Accept ``api_key`` / ``api_secret`` for authentication from now on.  Any thread."""
        with self._lock:
            self._accounts_secrets[api_key] = api_secret

    # ------------------------------------------------------------------ introspection
    def subscriptions(self, conn_id: int | None = None) -> dict[int, dict[int, dict[str, Any]]]:
        """connection id -> chanId -> the subscribe request as received, for every connected
        client (or just ``conn_id``).  Any thread."""
        with self._lock:
            return {
                cid: {chan: dict(ch.request) for chan, ch in c.channels.items()}
                for cid, c in self._clients.items()
                if conn_id is None or cid == conn_id
            }

    def channel_count(self, conn_id: int | None = None) -> int:
        """Channels subscribed right now on every connection (or ``conn_id``).  Any thread."""
        with self._lock:
            return sum(len(c.channels) for cid, c in self._clients.items() if conn_id is None or cid == conn_id)

    def chan_id(self, conn_id: int, channel: str, symbol: str) -> int | None:
        """The chanId of ``channel`` on ``symbol`` (or candles/status key) of a connection, the
        first if there are several books; ``None`` if not subscribed.  Any thread."""
        with self._lock:
            client = self._clients.get(conn_id)
            if client is None:
                return None
            for ch in client.channels.values():
                if ch.topic[0] == channel and symbol in (ch.symbol, ch.key):
                    return ch.chan_id
            return None

    @property
    def connection_ids(self) -> list[int]:
        """Ids of the clients connected right now, oldest first."""
        with self._lock:
            return sorted(self._clients)

    def book(self, symbol: str, prec: str = "P0", length: int = 25) -> BookView:
        """The authoritative ``symbol`` book now, as a subscriber of ``prec`` / ``length`` (F0)
        has it after the last tick.  Any thread.

        Raises:
            ValueError: unknown symbol, precision or length.
        """
        if prec not in _PRECISIONS:
            raise ValueError(f"prec must be one of {_PRECISIONS}, got {prec!r}")
        if str(length) not in _LENGTHS:
            raise ValueError(f"length must be one of {_LENGTHS}, got {length!r}")
        with self._lock:
            m = self._market(symbol)
            sides = m.view_entries(prec, length)

        def texts(entries: list[_Entry]) -> tuple[tuple[str, ...], ...]:
            return tuple(tuple(e[1].split(",")) for e in entries)

        cs = book_checksum([(e[3], e[4]) for e in sides[0][:25]], [(e[3], e[4]) for e in sides[1][:25]])
        return BookView(symbol, prec, length, texts(sides[0]), texts(sides[1]), cs)

    def nonces(self) -> dict[str, int]:
        """The last nonce accepted per API key.  Any thread."""
        with self._lock:
            return dict(self._nonces)

    def auth_attempts(self) -> list[AuthAttempt]:
        """Every ``auth`` event received, oldest first.  Any thread."""
        with self._lock:
            return list(self._auth_attempts)

    def authenticated(self, conn_id: int) -> str | None:
        """The API key a connection is authenticated with, or ``None``.  Any thread."""
        with self._lock:
            client = self._clients.get(conn_id)
            return client.account if client is not None else None

    def flags(self, conn_id: int) -> int:
        """The ``conf`` flags of a connection (0 before any ``conf``).  Any thread.

        Raises:
            ValueError: no such connection.
        """
        with self._lock:
            return self._targets(conn_id)[0].flags

    def counters(self) -> dict[str, int]:
        """A copy of the counters: ``ticks``, ``subscribed``, ``unsubscribed``, ``errors_sent``,
        ``book_updates``, ``checksums_sent``, ``heartbeats_sent``, ``trades``, ``auth_ok``,
        ``auth_failed``, ``info_sent``, ``updates_dropped``, ``checksums_corrupted``,
        ``frames_queued``, ``slow_consumers``, ``unanswered``, ``inputs``.  Any thread."""
        with self._lock:
            return dict(self._counters)

    def queued_frames(self) -> int:
        """Frames queued for clients and not yet taken by their writers (approximate).  Any thread."""
        with self._lock:
            return sum(c.outbox.qsize() for c in self._clients.values())

