"""Executions of a simulated Bitfinex account: an order meets the book, as taker when it is
sent (or moved) across it, as maker when the moving book crosses it or a test says so
(``fill_order``); and what follows: ``te``, the order's ``ou`` / ``oc``, wallet or position
updates (``wu``, ``pn`` / ``pu`` / ``pc``), ``tu`` with the fee and ``bu``.

Fees are Bitfinex's base rates: 0.1 % maker, 0.2 % taker.  Each function takes the
:class:`~bpbfx.sim.bitfinex.accounts._Account` it acts on and returns the channel-0 messages
to send.  No I/O; used under the simulator's lock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from bpbfx.sim.bitfinex.market import _Market
from bpbfx.sim.bitfinex.records import (
    _EIGHT,
    _MAKER_FEE,
    _TAKER_FEE,
    _TRIGGERED,
    Out,
    _amount_of,
    _LiveOrder,
    _Position,
    _q,
    _units,
    split_pair,
)
from bpbfx.sim.bitfinex.wire import status_number, truncate_significant

if TYPE_CHECKING:
    from bpbfx.sim.bitfinex.accounts import _Account

__all__: list[str] = []


def take(acc: _Account, o: _LiveOrder, market: _Market, now_ms: int) -> list[Out]:
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
            out.extend(execute(acc, o, amount, market.tick_price(level.tick), False, now_ms, trade.id))
    if o.id in acc.orders and base_type in ("MARKET", "IOC", "FOK"):
        # What a market / IOC order could not fill is cancelled (docs: IOC CANCELED).
        label = "IOC CANCELED" if base_type == "IOC" else "CANCELED"
        out.extend(close(acc, o, label, now_ms))
    return out


def execute(
    acc: _Account, o: _LiveOrder, amount: Decimal, price: Decimal, maker: bool, now_ms: int, tid: int | None = None
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
    tid = acc.new_trade_id() if tid is None else tid
    # ws-auth-trades: [ID, SYMBOL, MTS_CREATE, ORDER_ID, EXEC_AMOUNT, EXEC_PRICE, ORDER_TYPE,
    # ORDER_PRICE, MAKER, FEE, FEE_CURRENCY, CID]; MAKER 1 maker, -1 taker; te has no fee.
    te = [tid, o.symbol, now_ms, o.id, amount, price, o.type, o.price, 1 if maker else -1, None, None, o.cid]
    out.append(("te", te, False))
    done = o.amount == 0
    if done:
        o.status = f"EXECUTED @ {o.fill_text()}"
        acc.orders.pop(o.id, None)
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
            acc.wallets[w] = _q(acc.wallets.get(w, Decimal(0)) + delta)
        touched = list(dict.fromkeys(("exchange", c) for c, _ in changes))
        out.extend(("wu", acc.wallet_row(w, desc), False) for w in touched)
    else:
        fee, fee_ccy = _q(abs(amount) * price * fee_rate), quote
        w = ("margin", quote)
        acc.wallets[w] = _q(acc.wallets.get(w, Decimal(0)) - fee)
        out.extend(_position_fill(acc, o.symbol, amount, price, now_ms))
        out.append(("wu", acc.wallet_row(w, desc), False))
    tu = [tid, o.symbol, now_ms, o.id, amount, price, o.type, o.price, 1 if maker else -1, -fee, fee_ccy, o.cid]
    out.append(("tu", tu, False))
    out.append(("bu", acc.balance_row(), False))
    return out


def _position_fill(acc: _Account, symbol: str, amount: Decimal, price: Decimal, now_ms: int) -> list[Out]:
    pos = acc.positions.get(symbol)
    if pos is None or pos.status != "ACTIVE":
        acc.next_pos += acc.rng.randrange(1, 100)
        pos = acc.positions[symbol] = _Position(acc.next_pos, symbol, amount, price, now_ms)
        return [("pn", acc.position_row(pos), False)]
    new = pos.amount + amount
    if new == 0:
        pos.amount = Decimal(0)
        pos.status = "CLOSED"
        pos.mts_update = now_ms
        return [("pc", acc.position_row(pos), False)]
    if (new > 0) == (pos.amount > 0) and abs(new) > abs(pos.amount):
        pos.base = truncate_significant((pos.base * pos.amount + price * amount) / new)
    elif (new > 0) != (pos.amount > 0):
        pos.base = price  # flipped
    pos.amount = new.normalize()
    pos.mts_update = now_ms
    return [("pu", acc.position_row(pos), False)]


def wallet_rows_for(acc: _Account, o: _LiveOrder) -> list[Out]:
    """wu for the wallet an exchange order holds funds of (its available balance moved)."""
    if not o.exchange or o.synthetic:
        return []
    base, quote = split_pair(o.symbol)
    w = ("exchange", quote if o.amount > 0 else base)
    return [("wu", acc.wallet_row(w), False)]


def close(acc: _Account, o: _LiveOrder, label: str, now_ms: int) -> list[Out]:
    """Cancel ``o``: ``CANCELED`` or ``CANCELED was: PARTIALLY FILLED @ P(A)`` (docs)."""
    assert o.id is not None
    acc.orders.pop(o.id, None)
    o.mts_update = now_ms
    o.status = f"{label} was: PARTIALLY FILLED @ {o.fill_text()}" if o.filled else label
    return [("oc", o.row(), False), *wallet_rows_for(acc, o)]


def match_resting(acc: _Account, now_ms: int) -> list[Out]:
    """Fill resting limit orders the market's book now crosses, as makers at their own
    price, taking the crossing liquidity out of the book."""
    out: list[Out] = []
    for o in list(acc.orders.values()):
        if o.base_type != "LIMIT" or o.synthetic or o.id not in acc.orders:
            continue
        market = acc.trading_market(o.symbol)
        if market is None or market.paused:
            continue
        fills = market.walk(o.buy, _units(abs(o.amount)), o.price)
        if not fills:
            continue
        # The crossing book orders were the takers: the public trades have their side.
        trades = market.execute(not o.buy, fills, now_ms, market.price_tick(o.price) or fills[0][0].tick)
        for (_, units), trade in zip(fills, trades, strict=True):
            amount = _amount_of(units) if o.buy else -_amount_of(units)
            out.extend(execute(acc, o, amount, o.price, True, now_ms, trade.id))
    return out


def fill(acc: _Account, o: _LiveOrder, amount: Decimal | None, now_ms: int) -> list[Out]:
    """Execute ``amount`` (unsigned; ``None``: all that is left) of a resting order as
    maker at its price, as if a taker had crossed it."""
    market = acc.trading_market(o.symbol)
    left = abs(o.amount)
    size = left if amount is None else min(abs(amount), left)
    size = size.quantize(_EIGHT)
    if size <= 0:
        return []
    tid = None
    if market is not None:
        tick = market.price_tick(o.price) or market.last
        tid = market.record_trade(not o.buy, _units(size), tick, 0, now_ms).id
    return execute(acc, o, size if o.buy else -size, o.price, True, now_ms, tid)
