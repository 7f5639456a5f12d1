"""The Bitfinex order engine: the channel-0 inputs of an account (``on ou oc oc_multi
ox_multi calc fon foc``) answered the way the exchange answers them.

Each function takes the :class:`~bpbfx.sim.bitfinex.accounts._Account` it acts on and returns
the channel-0 messages to send as ``(TYPE, DATA, REPLY)`` tuples (``REPLY``: a notification
answering a request, which Bitfinex numbers differently under ``SEQ_ALL``).  Marketable
orders execute against the market's book (integer units of 1e-8), the rest rests.

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
``field: invalid`` style.  No I/O; used under the simulator's lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bpbfx.sim.bitfinex.execution import close, take, wallet_rows_for
from bpbfx.sim.bitfinex.market import _Market
from bpbfx.sim.bitfinex.records import (
    _FUNDING_TYPES,
    _TAKER_FEE,
    _TRIGGERED,
    FLAG_POSTONLY,
    FLAG_REDUCE_ONLY,
    MAX_MULTI_OPS,
    ORDER_TYPES,
    Out,
    _bad_amount,
    _date,
    _dec,
    _LiveOrder,
    _notification,
    _Offer,
    _q,
    _Rejected,
    _units,
    split_pair,
)
from bpbfx.sim.bitfinex.wire import status_number, truncate_significant

if TYPE_CHECKING:
    from bpbfx.sim.bitfinex.accounts import _Account

__all__: list[str] = []



# --------------------------------------------------------------------------- inputs
def handle(acc: _Account, kind: str, body: Any, now_ms: int) -> list[Out]:
    """Answer one channel-0 input (``on``, ``ou``, ``oc``, ``oc_multi``, ``ox_multi``,
    ``calc``, ``fon``, ``foc``); unknown kinds give no reply (as on the wire)."""
    if kind == "on":
        return submit(acc, body, now_ms)
    if kind == "ou":
        return update(acc, body, now_ms)
    if kind == "oc":
        return cancel(acc, body, now_ms)
    if kind == "oc_multi":
        return cancel_multi(acc, body, now_ms)
    if kind == "ox_multi":
        return multi(acc, body, now_ms)
    if kind == "calc":
        return calc(acc, body, now_ms)
    if kind == "fon":
        return offer_new(acc, body, now_ms)
    if kind == "foc":
        return offer_cancel(acc, body, now_ms)
    return []


def reject(acc: _Account, kind: str, body: Any, status: str, text: str, now_ms: int) -> list[Out]:
    """The notification refusing an input: the order row as requested (ID null, the
    CID, symbol, amount, type and price the client sent)."""
    info: Any = None
    if kind in ("on", "ou", "oc") and isinstance(body, dict):
        # The request as an order row: ID (null for a new order), CID, SYMBOL, AMOUNT...
        info = _request_row(acc, body, now_ms)
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


def _request_row(acc: _Account, body: Mapping[str, Any], now_ms: int) -> list[Any]:
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


# --------------------------------------------------------------------------- new order
def submit(acc: _Account, body: Any, now_ms: int) -> list[Out]:
    """``[0,"on",null,{...}]``: validate, accept (``n`` SUCCESS + ``on``), execute what is
    marketable, rest the rest.  A refusal is one ``n`` ERROR and no order."""
    if not isinstance(body, dict):
        return reject(acc, "on", body, "ERROR", "Invalid order: fields", now_ms)
    try:
        o, market = _validate_new(acc, body, now_ms)
    except _Rejected as exc:
        return reject(acc, "on", body, exc.status, exc.text, now_ms)
    return _accept(acc, o, market, now_ms)


def _validate_new(acc: _Account, body: Mapping[str, Any], now_ms: int) -> tuple[_LiveOrder, _Market]:
    otype = body.get("type")
    if not isinstance(otype, str) or otype not in ORDER_TYPES:
        raise _Rejected("type: invalid")  # simulator's own text
    symbol = body.get("symbol")
    market = acc.trading_market(symbol) if isinstance(symbol, str) else None
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
    minimum = acc.min_sizes.get(symbol)
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
    _check_balance(acc, o, market, o.amount)
    return o, market


def _estimate(acc: _Account, o: _LiveOrder, market: _Market, amount: Decimal) -> Decimal:
    """The price an order of ``amount`` is valued at for the balance check: its limit
    price, or for a market order the last level it would reach."""
    if o.price:
        return o.price
    fills = market.walk(amount > 0, _units(abs(amount)), None)
    if fills:
        return market.tick_price(fills[-1][0].tick)
    best = market.book.best(1 if amount > 0 else 0)
    return market.tick_price(best if best is not None else market.last)


def _check_balance(acc: _Account, o: _LiveOrder, market: _Market, amount: Decimal, extra: Decimal = Decimal(0)) -> None:
    base, quote = split_pair(o.symbol)
    price = _estimate(acc, o, market, amount)
    pair = o.symbol[1:]
    if o.exchange:
        # Bitfinex counts the trading fee in (bitfinex-api-node #539, maintainer's answer).
        if amount > 0:
            need, have = abs(amount) * price * (1 + _TAKER_FEE), acc.available(("exchange", quote)) + extra
        else:
            need, have = abs(amount), acc.available(("exchange", base)) + extra
        if need > have:
            raise _Rejected(
                f"Invalid order: not enough exchange balance for {status_number(abs(amount))} {pair} at "
                f"{status_number(price)}"
            )
    else:
        lev = Decimal(o.lev or 10)
        wallet = ("margin", quote)
        if abs(amount) * price / lev > acc.available(wallet) + extra:
            raise _Rejected(
                f"Invalid order: not enough tradable balance for {status_number(abs(amount))} {pair} at "
                f"{status_number(price)}"
            )


def submitting_text(o: _LiveOrder, update: bool = False) -> str:
    # Bitfinex: "Submitting exchange limit sell order for 500.0 TRX." (bitfinex-api-node #392).
    side = "buy" if o.buy else "sell"
    what = "update to " if update else ""
    base = split_pair(o.symbol)[0]
    return f"Submitting {what}{o.type.lower()} {side} order for {status_number(abs(o.amount))} {base}."


def _accept(acc: _Account, o: _LiveOrder, market: _Market, now_ms: int) -> list[Out]:
    o.id = acc.new_order_id()
    out: list[Out] = []
    killed = _pre_trade_cancel(acc, o, market)
    if killed is not None:
        # The exchange accepts the input and cancels the order at once: the notification
        # already carries the final status (bitfinex-api-py #111: SUCCESS with POSTONLY
        # CANCELED), then "oc".
        o.status = killed
        out.append(("n", _notification("on-req", o.row(), "SUCCESS", submitting_text(o), now_ms), True))
        out.append(("oc", o.row(), False))
        acc.last_accepted = o
        return out
    acc.orders[o.id] = o
    acc.last_accepted = o
    out.append(("n", _notification("on-req", o.row(), "SUCCESS", submitting_text(o), now_ms), True))
    out.append(("on", o.row(), False))
    out.extend(wallet_rows_for(acc, o))
    out.extend(take(acc, o, market, now_ms))
    return out


def _pre_trade_cancel(acc: _Account, o: _LiveOrder, market: _Market) -> str | None:
    """The status of an order the exchange cancels before it trades, else ``None``."""
    if o.flags & FLAG_REDUCE_ONLY:
        # Bitfinex order statuses RSN_POS_NOTFOUND / RSN_POS_REDUCE_INCR / RSN_POS_REDUCE_FLIP.
        pos = acc.positions.get(o.symbol) if not o.exchange else None
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


# --------------------------------------------------------------------------- update
def update(acc: _Account, body: Any, now_ms: int) -> list[Out]:
    """``[0,"ou",null,{"id":..,"amount"|"delta"|"price"|...}]``: ``n`` ou-req and ``ou``;
    a new price that crosses the book executes (taker)."""
    if not isinstance(body, dict):
        return reject(acc, "ou", body, "ERROR", "Invalid order: fields", now_ms)
    oid = body.get("id")
    o = acc.orders.get(oid) if isinstance(oid, int) and not isinstance(oid, bool) else None
    if o is None:
        return reject(acc, "ou", body, "ERROR", "Order not found.", now_ms)
    market = acc.trading_market(o.symbol)
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
        return reject(acc, "ou", body, "ERROR", "price: invalid", now_ms)
    except _Rejected as exc:
        return reject(acc, "ou", body, exc.status, exc.text, now_ms)
    # Balance: what the order holds now counts as available for its new size.
    held = _held(acc, o)
    trial = _LiveOrder(o.id, o.symbol, amount, o.type, price, now_ms)
    trial.lev = o.lev
    try:
        _check_balance(acc, trial, market, amount, held)
    except _Rejected as exc:
        return reject(acc, "ou", body, exc.status, exc.text, now_ms)
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
        ("n", _notification("ou-req", o.row(), "SUCCESS", submitting_text(o, True), now_ms), True)
    ]
    if flags & FLAG_POSTONLY and market.walk(o.buy, _units(abs(o.amount)), o.price):
        out.extend(close(acc, o, "POSTONLY CANCELED", now_ms))
        return out
    out.append(("ou", o.row(), False))
    out.extend(wallet_rows_for(acc, o))
    out.extend(take(acc, o, market, now_ms))
    return out


def _held(acc: _Account, o: _LiveOrder) -> Decimal:
    if not o.exchange:
        return Decimal(0)
    if o.amount > 0:
        return o.amount * o.price * (1 + _TAKER_FEE)
    return -o.amount


# --------------------------------------------------------------------------- cancel
def _find(acc: _Account, body: Mapping[str, Any]) -> _LiveOrder | None:
    oid = body.get("id")
    if isinstance(oid, int) and not isinstance(oid, bool):
        return acc.orders.get(oid)
    cid, cid_date = body.get("cid"), body.get("cid_date")
    if isinstance(cid, int) and isinstance(cid_date, str):
        # Bitfinex: a cid is unique per day, so cid + cid_date (YYYY-MM-DD, UTC) names one.
        for o in acc.orders.values():
            if o.cid == cid and _date(o.mts_create) == cid_date:
                return o
    return None


def cancel(acc: _Account, body: Any, now_ms: int) -> list[Out]:
    """``[0,"oc",null,{"id":..}]`` or ``{"cid":..,"cid_date":"YYYY-MM-DD"}``."""
    o = _find(acc, body) if isinstance(body, dict) else None
    if o is None:
        return reject(acc, "oc", body, "ERROR", "Order not found.", now_ms)
    text = f"Submitted for cancellation; waiting for confirmation (ID: {o.id})."
    out: list[Out] = [("n", _notification("oc-req", o.row(), "SUCCESS", text, now_ms), True)]
    out.extend(close(acc, o, "CANCELED", now_ms))
    return out


def cancel_multi(acc: _Account, body: Any, now_ms: int) -> list[Out]:
    """``[0,"oc_multi",null,{"id":[..]}|{"cid":[[cid,date],..]}|{"gid":[..]}|{"all":1}]``:
    one ``n`` oc_multi-req listing the orders, then an ``oc`` each."""
    targets: list[_LiveOrder] = []
    if isinstance(body, dict):
        if type(body.get("all")) is int and body["all"] == 1:
            targets = list(acc.orders.values())
        def items(name: str) -> list[Any]:
            value = body.get(name)
            return value if isinstance(value, list) else []

        for oid in items("id"):
            if isinstance(oid, int) and oid in acc.orders:
                targets.append(acc.orders[oid])
        for pair in items("cid"):
            if isinstance(pair, list) and len(pair) == 2:
                found = _find(acc, {"cid": pair[0], "cid_date": pair[1]})
                if found is not None:
                    targets.append(found)
        gids = {g for g in items("gid") if isinstance(g, int)}
        targets.extend(o for o in acc.orders.values() if o.gid is not None and o.gid in gids)
    unique = list({id(o): o for o in targets}.values())
    if not unique:
        return reject(acc, "oc_multi", body, "ERROR", "Order not found.", now_ms)
    text = f"Submitted for cancellation; waiting for confirmation (ID: {', '.join(str(o.id) for o in unique)})."
    out: list[Out] = [
        ("n", _notification("oc_multi-req", [o.row() for o in unique], "SUCCESS", text, now_ms), True)
    ]
    for o in unique:
        out.extend(close(acc, o, "CANCELED", now_ms))
    return out


def cancel_all(acc: _Account, now_ms: int) -> list[Out]:
    """Cancel every open order (``dms`` 4 when the socket closes: "cancel all account orders")."""
    out: list[Out] = []
    for o in list(acc.orders.values()):
        out.extend(close(acc, o, "CANCELED", now_ms))
    return out


# --------------------------------------------------------------------------- multi-op and calc
def multi(acc: _Account, body: Any, now_ms: int) -> list[Out]:
    """``[0,"ox_multi",null,[[OP,{...}],...]]``: each operation answered as if sent alone."""
    if not isinstance(body, list) or not all(isinstance(op, list) and len(op) == 2 for op in body):
        return reject(acc, "ox_multi", None, "ERROR", "ox_multi: invalid", now_ms)  # simulator's own text
    if len(body) > MAX_MULTI_OPS:
        return reject(acc, "ox_multi", None, "ERROR", f"ox_multi: max {MAX_MULTI_OPS} operations", now_ms)
    out: list[Out] = []
    for op, payload in body:
        if op in ("on", "oc", "oc_multi", "ou"):
            out.extend(handle(acc, op, payload, now_ms))
    return out


def calc(acc: _Account, body: Any, now_ms: int) -> list[Out]:
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
            margin = _q(sum((v for (w, _), v in acc.wallets.items() if w == "margin"), Decimal(0)))
            pl = _q(sum((Decimal(str(acc.position_row(p)[6])) for p in acc.positions.values()
                         if p.status == "ACTIVE"), Decimal(0)))  # fmt: skip
            out.append(("miu", ["base", [pl, 0, margin, _q(margin + pl), _q(margin / 10)]], False))
        elif name.startswith("margin_sym_"):
            symbol = name[11:]
            quote = split_pair(symbol)[1] if symbol.startswith("t") else "USD"
            tradable = acc.available(("margin", quote)) * 10
            out.append(("miu", ["sym", symbol, [tradable, tradable, tradable, tradable]], False))
        elif name.startswith("funding_sym_"):
            out.append(("fiu", ["sym", name[12:], [0, 0, 0, 0]], False))
        elif name.startswith("position_"):
            pos = acc.positions.get(name[9:])
            if pos is not None:
                out.append(("pu", acc.position_row(pos), False))
        elif name.startswith("wallet_"):
            _, wallet, ccy = [*name.split("_", 2), "", ""][:3]
            if (wallet, ccy) in acc.wallets:
                out.append(("wu", acc.wallet_row((wallet, ccy)), False))
    return out


# --------------------------------------------------------------------------- funding offers
def offer_new(acc: _Account, body: Any, now_ms: int) -> list[Out]:
    """``[0,"fon",null,{"type","symbol","amount","rate","period","flags"}]``: ``n`` fon-req
    and ``fon`` (amount > 0 lends, < 0 borrows).  Offers rest; they are not matched."""
    if not isinstance(body, dict):
        return reject(acc, "fon", body, "ERROR", "Invalid offer: fields", now_ms)
    symbol, otype, period = body.get("symbol"), body.get("type", "LIMIT"), body.get("period")
    m = acc.markets.get(symbol) if isinstance(symbol, str) else None
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
        if amount > 0 and amount > acc.available(("funding", ccy)) - _offered(acc, ccy):
            raise _Rejected(f"Invalid offer: not enough balance for {status_number(amount)} {ccy}")
    except _Rejected as exc:
        return reject(acc, "fon", body, exc.status, exc.text, now_ms)
    offer = _Offer(acc.new_order_id(), m.symbol, amount.normalize(), otype, rate.normalize(), period, now_ms)
    if isinstance(body.get("flags"), int):
        offer.flags = body["flags"]
    acc.offers[offer.id] = offer
    what = "offer" if amount > 0 else "bid"
    text = (f"Submitting funding {what} of {status_number(abs(amount))} {ccy} at {status_number(rate)} "
            f"for {period} days.")  # fmt: skip
    return [
        ("n", _notification("fon-req", offer.row(), "SUCCESS", text, now_ms), True),
        ("fon", offer.row(), False),
    ]


def _offered(acc: _Account, ccy: str) -> Decimal:
    return sum((o.amount for o in acc.offers.values() if o.symbol == "f" + ccy and o.amount > 0), Decimal(0))


def offer_cancel(acc: _Account, body: Any, now_ms: int) -> list[Out]:
    """``[0,"foc",null,{"id":..}]``: ``n`` foc-req and ``foc``."""
    oid = body.get("id") if isinstance(body, dict) else None
    offer = acc.offers.pop(oid, None) if isinstance(oid, int) else None
    if offer is None:
        return reject(acc, "foc", body, "ERROR", "Offer not found.", now_ms)  # simulator's own text
    offer.status = "CANCELED"
    offer.mts_update = now_ms
    text = f"Submitted for cancellation; waiting for confirmation (ID: {offer.id})."
    return [
        ("n", _notification("foc-req", offer.row(), "SUCCESS", text, now_ms), True),
        ("foc", offer.row(), False),
    ]
