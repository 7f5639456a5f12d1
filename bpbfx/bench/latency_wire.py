"""What the tick-to-order benchmark server says: the frames and answers of both venues.

Pure functions and constants, no I/O (:mod:`bpbfx.bench.latency_server` writes them).  Only
as much of each protocol as a trading client needs (``bpbfx/docs/protocols.md`` has the rules):

- Bitfinex: ``info``, the ``conf``/``auth``/``subscribed`` replies, the trades and book
  snapshots, ``te`` trades, P0 book updates each followed by its ``cs`` checksum, heartbeats,
  ``pong``, and the answer to an ``on`` input: the ``on-req`` notification and the ``on``
  order frame.  Every array frame carries the SEQ_ALL numbers when the client asked for them.
- Backpack: ``trade`` frames, ``depth`` deltas, and the REST answers a trading client reads:
  ``GET /api/v1/time``, ``/api/v1/markets``, ``/api/v1/orders``, ``/api/v1/depth`` and the
  order object answering ``POST /api/v1/order``.

The trigger.  The trade the client must act on is told apart from background trades by its
size (:data:`BF_TRIGGER_AMOUNT`, :data:`BP_TRIGGER_QUANTITY`; background trades are all
smaller), and its price encodes its number ``k``: the bot places a limit order at the trade's
price, and the server reads ``k`` back from the order's price (:func:`bf_trigger_index`,
:func:`bp_trigger_index`), so an order is matched to the trigger it answers, never to the one
before.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from .streams import FIRST_ID, bitfinex_book_cycle, depth_levels, depth_rest

__all__ = [
    "BF_BOOK",
    "BF_BOOK_CHAN",
    "BF_ORDER_AMOUNT",
    "BF_SYMBOL",
    "BF_TRADES",
    "BF_TRADES_CHAN",
    "BF_TRIGGER_AMOUNT",
    "BP_BOOK_LEVELS",
    "BP_DEPTH",
    "BP_ORDER_QUANTITY",
    "BP_SYMBOL",
    "BP_TRADE",
    "BP_TRIGGER_QUANTITY",
    "SEQ_ALL",
    "TRIGGER_SPAN",
    "BitfinexBook",
    "bf_auth_ok",
    "bf_info",
    "bf_order_reply",
    "bf_te",
    "bf_trades_snapshot",
    "bf_trigger",
    "bf_trigger_index",
    "bp_depth",
    "bp_order_answer",
    "bp_rest",
    "bp_trade",
    "bp_trigger",
    "bp_trigger_index",
    "http_answer",
]

TRIGGER_SPAN = 10_000
"""Trigger numbers are written into prices modulo this."""

SEQ_ALL = 65536
"""Bitfinex ``conf`` flag: a sequence number on every array frame."""

# ================================================================================ Bitfinex
BF_SYMBOL = "tBTCUSD"
BF_TRADES = f"trades:{BF_SYMBOL}"
BF_BOOK = f"book:{BF_SYMBOL}:P0:F0:25"
BF_TRADES_CHAN = 17
BF_BOOK_CHAN = 18
BF_TRIGGER_AMOUNT = Decimal("1.5")
"""The trigger trade's amount; background trades are 0.00431 and -0.0125."""
BF_ORDER_AMOUNT = "0.001"
"""The amount of the order the bot sends (a buy)."""

_CAPS = {"orders": {"read": 1, "write": 1}, "account": {"read": 1, "write": 0}, "wallets": {"read": 1, "write": 0}}


def bf_info() -> bytes:
    """The ``info`` event a Bitfinex server sends first."""
    return b'{"event":"info","version":2,"serverId":"latency-bench","platform":{"status":1}}'


def bf_auth_ok() -> bytes:
    """The ``auth`` reply of an accepted key."""
    return json.dumps(
        {"event": "auth", "status": "OK", "chanId": 0, "userId": 1, "auth_id": "bench", "caps": _CAPS},
        separators=(",", ":"),
    ).encode()


def bf_trigger(k: int) -> str:
    """Price text of trigger ``k``: 100000 + 10 * (k mod 10000), five significant digits at
    most (Bitfinex's price rule)."""
    return str(100_000 + 10 * (k % TRIGGER_SPAN))


def bf_trigger_index(price: object) -> int | None:
    """The trigger number (mod 10000) an order's ``price`` text answers, or ``None``."""
    try:
        steps, rest = divmod(int(Decimal(str(price))) - 100_000, 10)
    except (InvalidOperation, ValueError):
        return None
    return steps if rest == 0 and 0 <= steps < TRIGGER_SPAN else None


def bf_te(i: int, mts: int, price: str | None = None) -> str:
    """The body (after ``[CHAN,``) of trade ``i``, ``"te",[ID,MTS,AMOUNT,PRICE]``: a background
    trade, or with ``price`` the trigger (amount :data:`BF_TRIGGER_AMOUNT`)."""
    if price is None:
        amount = "0.00431" if i % 3 else "-0.0125"
        price = str(118_900 + i % 40)
    else:
        amount = str(BF_TRIGGER_AMOUNT)
    return f'"te",[{1_795_583_300 + i},{mts},{amount},{price}]'


def bf_trades_snapshot(mts: int) -> str:
    """The body of the trades snapshot sent after ``subscribed`` (30 trades)."""
    return "[" + ",".join(f"[{1_795_583_200 + k},{mts},0.001,118910]" for k in range(30)) + "]"


class BitfinexBook:
    """The P0 book channel's frames: a 25+25 snapshot, then one-entry updates each followed by
    its checksum (the cycle of :func:`bpbfx.bench.streams.bitfinex_book_cycle`, checksums from
    an independent model)."""

    def __init__(self) -> None:
        snapshot, steps = bitfinex_book_cycle(1)
        self.snapshot = f"[{snapshot}]"
        self._updates = [text for text, _ in steps]
        self._sums = [f'"cs",{crc}' for _, crc in steps]
        self._step = 0

    def next_update(self) -> tuple[str, str]:
        """The bodies of the next update and of its ``cs`` frame."""
        k = self._step % len(self._updates)
        self._step += 1
        return self._updates[k], self._sums[k]


def bf_order_reply(payload: dict[str, Any], order_id: int, mts: int) -> tuple[str, str]:
    """The ``on-req`` notification body and the ``on`` order row answering an ``on`` input
    (ws-auth-orders: ``[ID, GID, CID, SYMBOL, MTS_CREATE, MTS_UPDATE, AMOUNT, AMOUNT_ORIG,
    TYPE, ...]``; notification ``[MTS, TYPE, MESSAGE_ID, _, INFO, CODE, STATUS, TEXT]``)."""
    amount = _number(payload.get("amount"))
    price = _number(payload.get("price"))
    row = (
        f'[{order_id},null,{int(payload.get("cid") or 0)},{json.dumps(str(payload.get("symbol")))},{mts},{mts},'
        f'{amount},{amount},{json.dumps(str(payload.get("type")))},null,null,null,0,"ACTIVE",null,null,'
        f'{price},0,0,0,null,null,null,0,0,null,null,null,"API>BFX",null,null,null]'
    )
    note = f'[{mts},"on-req",null,null,{row},null,"SUCCESS","Submitting exchange limit buy order for {amount} BTC."]'
    return note, row


def _number(text: object) -> str:
    """A decimal text written as a JSON number (``"0"`` when it is not one)."""
    try:
        number = Decimal(str(text))
    except InvalidOperation:
        return "0"
    return str(number) if number.is_finite() else "0"


# ================================================================================ Backpack
BP_SYMBOL = "SOL_USDC"
BP_TRADE = f"trade.{BP_SYMBOL}"
BP_DEPTH = f"depth.{BP_SYMBOL}"
BP_BOOK_LEVELS = 5
"""Levels per side of each depth delta (and of the REST snapshot)."""
BP_TRIGGER_QUANTITY = Decimal("250.00")
"""The trigger trade's quantity; background trades are 0.01 to 5.00."""
BP_ORDER_QUANTITY = "0.01"
"""The quantity of the order the bot sends (a bid)."""


def bp_trigger(k: int) -> str:
    """Price text of trigger ``k``: 100.00 + 0.01 * (k mod 10000), on SOL_USDC's 0.01 tick."""
    cents = 10_000 + k % TRIGGER_SPAN
    return f"{cents // 100}.{cents % 100:02d}"


def bp_trigger_index(price: object) -> int | None:
    """The trigger number (mod 10000) an order's ``price`` text answers, or ``None``."""
    try:
        cents = Decimal(str(price)) * 100
    except InvalidOperation:
        return None
    if cents != cents.to_integral_value():
        return None
    k = int(cents) - 10_000
    return k if 0 <= k < TRIGGER_SPAN else None


def bp_trade(i: int, event_us: int, price: str | None = None) -> bytes:
    """A ``trade.SOL_USDC`` frame: background trade ``i``, or with ``price`` the trigger."""
    if price is None:
        price = f"{150 + (i % 200 - 100) / 100:.2f}"
        qty = f"{0.01 + (i * 7 % 500) / 100:.2f}"
    else:
        qty = str(BP_TRIGGER_QUANTITY)
    return (
        f'{{"stream":"{BP_TRADE}","data":{{"e":"trade","E":{event_us},"s":"{BP_SYMBOL}","p":"{price}","q":"{qty}",'
        f'"b":"{114318470581796864 + 2 * i}","a":"{114318470582386688 + 2 * i + 1}","t":{300_000_000 + i},'
        f'"T":{event_us - 213},"m":{"true" if i % 3 == 0 else "false"}}}}}'
    ).encode()


_DEPTH_CYCLE = tuple(depth_levels(BP_BOOK_LEVELS, k) for k in range(20))
"""Pre-formatted bid and ask texts of a cycle of 20 depth deltas."""


def bp_depth(n: int, event_us: int) -> bytes:
    """Depth delta ``n`` of ``depth.SOL_USDC`` (update id ``FIRST_ID + n``, the REST
    snapshot's ``lastUpdateId`` being ``FIRST_ID - 1``)."""
    bids, asks = _DEPTH_CYCLE[n % 20]
    uid = FIRST_ID + n
    return (
        f'{{"stream":"{BP_DEPTH}","data":{{"e":"depth","E":{event_us},"s":"{BP_SYMBOL}","a":{asks},"b":{bids},'
        f'"U":{uid},"u":{uid},"T":{event_us}}}}}'
    ).encode()


_MARKETS = json.dumps(
    [
        {
            "symbol": BP_SYMBOL, "baseSymbol": "SOL", "quoteSymbol": "USDC", "marketType": "SPOT",
            "orderBookState": "Open",
            "filters": {
                "price": {"tickSize": "0.01", "minPrice": "0.01", "maxPrice": "100000"},
                "quantity": {"stepSize": "0.01", "minQuantity": "0.01", "maxQuantity": "100000"},
            },
        }
    ]
).encode()


def bp_rest(method: str, path: str, now_ms: int) -> tuple[int, bytes]:
    """``(status, body)`` of the REST requests a trading client makes besides orders."""
    if method == "GET":
        if path == "/api/v1/time":
            return 200, str(now_ms).encode()
        if path == "/api/v1/markets":
            return 200, _MARKETS
        if path == "/api/v1/orders":
            return 200, b"[]"
        if path == "/api/v1/depth":
            return 200, depth_rest(BP_BOOK_LEVELS)
    return 404, b'{"code":"NOT_FOUND","message":"not served by the benchmark server"}'


def bp_order_answer(body: dict[str, Any], order_id: int, now_ms: int) -> bytes:
    """The order object answering ``POST /api/v1/order`` (the order rests: ``New``)."""
    return json.dumps(
        {
            "id": str(order_id), "clientId": body.get("clientId"), "symbol": body.get("symbol"),
            "side": body.get("side"), "orderType": body.get("orderType"), "status": "New",
            "price": body.get("price"), "quantity": body.get("quantity"), "executedQuantity": "0",
            "executedQuoteQuantity": "0", "timeInForce": "GTC", "postOnly": False,
            "selfTradePrevention": "RejectTaker", "createdAt": now_ms,
        },
        separators=(",", ":"),
    ).encode()


def http_answer(status: int, body: bytes) -> bytes:
    """An HTTP/1.1 keep-alive answer with a JSON body."""
    reason = {200: "OK", 404: "Not Found", 401: "Unauthorized"}.get(status, "Error")
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
