"""Input builders: validated channel-0 inputs ``[0, KIND, null, {...}]`` ready to send.

:func:`new_order`, :func:`update_order`, :func:`cancel_order`, :func:`cancel_orders`,
:func:`calc`, :func:`new_funding_offer` and :func:`cancel_funding_offer` check their arguments
against the exchange's rules (:mod:`bpbfx.bitfinex.orders.rules`) and return an
:class:`OrderInput`; invalid input raises :class:`~bpbfx.exceptions.InvalidOrderError` at once,
naming the field and what is valid.  Frames follow
https://docs.bitfinex.com/reference/ws-auth-input-order-new, ws-auth-input-order-update,
ws-auth-input-order-cancel, ws-auth-input-order-cancel-multi, ws-auth-input-calc,
ws-auth-input-offer-new and ws-auth-input-offer-cancel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from ..._json import make_dumps
from ...exceptions import InvalidOrderError
from . import validate as v
from .rules import (
    CALC_ITEM,
    DECIMALS,
    FUNDING_SYMBOL,
    IMMEDIATE_TYPES,
    MARKET_TYPES,
    MAX_CALC_ITEMS,
    OCO,
    OFFER_FLAG_MASK,
    OFFER_PERIOD,
    OFFER_TYPES,
    ORDER_FLAG_MASK,
    ORDER_TYPES,
    POSTONLY,
    STOP_LIMIT_TYPES,
    TRAILING_TYPES,
)

__all__ = [
    "InputKind",
    "OrderInput",
    "calc",
    "cancel_funding_offer",
    "cancel_order",
    "cancel_orders",
    "new_funding_offer",
    "new_order",
    "update_order",
]

_dumps = make_dumps()  # the compact JSON text of a frame

InputKind = Literal["on", "ou", "oc", "oc_multi", "ox_multi", "calc", "fon", "foc"]


@dataclass(frozen=True, slots=True)
class OrderInput:
    """One validated channel-0 input; :meth:`frame` is ``[0, kind, null, payload]``.

    ``payload`` is the JSON object (a list for ``calc``) with every amount and price as an
    exact decimal string.  Build inputs with :func:`new_order`, :func:`update_order`,
    :func:`cancel_order`, :func:`cancel_orders`, :func:`calc`, :func:`new_funding_offer` and
    :func:`cancel_funding_offer`; :meth:`OrderCore.submit` fills in a ``cid`` when a new order
    has none.  ``tif_ms`` is the time-in-force as epoch milliseconds, when given.
    """

    kind: InputKind
    payload: Any
    tif_ms: int | None = None

    def frame(self) -> str:
        """The frame to send, as compact JSON text."""
        return _dumps([0, self.kind, None, self.payload])

    @property
    def cid(self) -> int | None:
        """The client order id of an ``on`` (or of an ``oc`` by cid)."""
        return self.payload.get("cid") if isinstance(self.payload, dict) else None

    @property
    def order_id(self) -> int | None:
        """The order (or offer) id of an ``ou``, ``oc`` or ``foc``."""
        return self.payload.get("id") if isinstance(self.payload, dict) else None


def _add_options(payload: dict[str, Any], tif: object, lev: object, symbol: str | None, meta: object) -> int | None:
    """Add the ``tif``, ``lev`` and ``meta`` given (in that order) to an ``on``/``ou`` payload;
    returns the time-in-force as epoch milliseconds, if given.  ``symbol`` checks ``lev``
    (derivative pairs only; ``None`` when unknown)."""
    tif_ms = None
    if tif is not None:
        payload["tif"], tif_ms = v.tif(tif)
    if lev is not None:
        payload["lev"] = v.leverage(lev, symbol)
    if meta is not None:
        payload["meta"] = v.meta(meta)
    return tif_ms


def new_order(
    symbol: str,
    amount: Decimal | str | int,
    price: Decimal | str | int | None = None,
    *,
    type: str = "EXCHANGE LIMIT",
    cid: int | None = None,
    gid: int | None = None,
    flags: int = 0,
    price_trailing: Decimal | str | int | None = None,
    price_aux_limit: Decimal | str | int | None = None,
    price_oco_stop: Decimal | str | int | None = None,
    tif: datetime | str | None = None,
    lev: int | None = None,
    meta: Mapping[str, Any] | None = None,
) -> OrderInput:
    """A new order, ``[0, "on", null, {...}]`` (ws-auth-input-order-new).

    ``amount`` > 0 buys, < 0 sells.  ``price`` is required by every type but MARKET and
    TRAILING STOP (for STOP it is the stop price; STOP LIMIT also needs ``price_aux_limit``,
    the limit); TRAILING STOP needs ``price_trailing``; the OCO flag needs ``price_oco_stop``.

    Raises:
        InvalidOrderError: an argument the exchange would refuse (the message says what is valid).
    """
    symbol = v.trading_symbol(symbol)
    if type not in ORDER_TYPES:
        raise InvalidOrderError(f"unknown order type {type!r}; valid types: {', '.join(ORDER_TYPES)}", field="type")
    payload: dict[str, Any] = {}
    if gid is not None:
        payload["gid"] = v.gid(gid)
    if cid is not None:
        payload["cid"] = v.cid(cid)
    payload["type"] = type
    payload["symbol"] = symbol
    payload["amount"] = v.amount("amount", amount)
    if type in MARKET_TYPES:
        if price is not None:
            raise InvalidOrderError(
                f"price given for a {type} order; market orders take no price (use a LIMIT type to set one)",
                field="price",
            )
    elif type in TRAILING_TYPES:
        if price is not None:
            raise InvalidOrderError(
                f"price given for a {type} order; trailing stops take price_trailing (the distance) only",
                field="price",
            )
        if price_trailing is None:
            raise InvalidOrderError(
                f"a {type} order needs price_trailing (the trailing distance)", field="price_trailing"
            )
    elif price is None:
        raise InvalidOrderError(f"a {type} order needs a price", field="price")
    if price is not None:
        payload["price"] = v.price("price", price)
    if price_trailing is not None:
        if type not in TRAILING_TYPES:
            raise InvalidOrderError(
                f"price_trailing applies to TRAILING STOP orders only, not {type}", field="price_trailing"
            )
        payload["price_trailing"] = v.price("price_trailing", price_trailing)
    if type in STOP_LIMIT_TYPES and price_aux_limit is None:
        raise InvalidOrderError(f"a {type} order needs price_aux_limit (the limit price)", field="price_aux_limit")
    if price_aux_limit is not None:
        if type not in STOP_LIMIT_TYPES:
            raise InvalidOrderError(
                f"price_aux_limit applies to STOP LIMIT orders only, not {type}", field="price_aux_limit"
            )
        payload["price_aux_limit"] = v.price("price_aux_limit", price_aux_limit)
    flags = v.flags(flags, ORDER_FLAG_MASK, v.FLAG_TEXT)
    if bool(flags & OCO) != (price_oco_stop is not None):
        raise InvalidOrderError(
            "the OCO flag (16384) and price_oco_stop go together: give both or neither", field="price_oco_stop"
        )
    if price_oco_stop is not None:
        payload["price_oco_stop"] = v.price("price_oco_stop", price_oco_stop)
    if flags & POSTONLY and (type in MARKET_TYPES or type in IMMEDIATE_TYPES):
        raise InvalidOrderError(f"POSTONLY (4096) contradicts a {type} order, which takes liquidity", field="flags")
    payload["flags"] = flags
    tif_ms = _add_options(payload, tif, lev, symbol, meta)
    return OrderInput("on", payload, tif_ms)


def update_order(
    id: int,
    *,
    amount: Decimal | str | int | None = None,
    price: Decimal | str | int | None = None,
    delta: Decimal | str | int | None = None,
    price_aux_limit: Decimal | str | int | None = None,
    price_trailing: Decimal | str | int | None = None,
    gid: int | None = None,
    flags: int | None = None,
    tif: datetime | str | None = None,
    lev: int | None = None,
    meta: Mapping[str, Any] | None = None,
) -> OrderInput:
    """Change an open order, ``[0, "ou", null, {"id": ID, ...}]`` (ws-auth-input-order-update).

    ``amount`` sets the remaining amount, ``delta`` adds to it (give one or neither).

    Raises:
        InvalidOrderError: no change asked for, or an invalid field.
    """
    payload: dict[str, Any] = {"id": v.order_id("id", id)}
    if amount is not None and delta is not None:
        raise InvalidOrderError(
            "give amount (the new remaining amount) or delta (added to it), not both", field="delta"
        )
    if amount is not None:
        payload["amount"] = v.amount("amount", amount)
    if delta is not None:
        payload["delta"] = v.amount("delta", delta)
    if price is not None:
        payload["price"] = v.price("price", price)
    if price_aux_limit is not None:
        payload["price_aux_limit"] = v.price("price_aux_limit", price_aux_limit)
    if price_trailing is not None:
        payload["price_trailing"] = v.price("price_trailing", price_trailing)
    if gid is not None:
        payload["gid"] = v.gid(gid)
    if flags is not None:
        payload["flags"] = v.flags(flags, ORDER_FLAG_MASK, v.FLAG_TEXT)
    tif_ms = _add_options(payload, tif, lev, None, meta)
    if len(payload) == 1:
        raise InvalidOrderError(
            "update_order needs at least one change: amount, delta, price, price_aux_limit, price_trailing, "
            "gid, flags, tif, lev or meta",
            field="id",
        )
    return OrderInput("ou", payload, tif_ms)


def cancel_order(
    id: int | None = None, *, cid: int | None = None, cid_date: date | datetime | str | None = None
) -> OrderInput:
    """Cancel one order by ``id``, or by ``cid`` and ``cid_date`` (its UTC creation day),
    ``[0, "oc", null, {...}]`` (ws-auth-input-order-cancel).  Without ``cid_date``,
    :meth:`OrderCore.submit` uses the day it submitted that cid (else today, UTC).

    Raises:
        InvalidOrderError: neither or both of ``id`` and ``cid``.
    """
    if (id is None) == (cid is None):
        raise InvalidOrderError("cancel_order takes either id or cid (with cid_date), not both or neither", field="id")
    if id is not None:
        if cid_date is not None:
            raise InvalidOrderError("cid_date goes with cid, not with id", field="cid_date")
        return OrderInput("oc", {"id": v.order_id("id", id)})
    payload: dict[str, Any] = {"cid": v.cid(cid)}
    if cid_date is not None:
        payload["cid_date"] = v.cid_date_of(cid_date)
    return OrderInput("oc", payload)


def cancel_orders(
    ids: Iterable[int] | None = None,
    cids: Iterable[tuple[int, date | datetime | str]] | None = None,
    gids: Iterable[int] | None = None,
    all: bool = False,
) -> OrderInput:
    """Cancel several orders, ``[0, "oc_multi", null, {...}]``: by order ids, by
    ``(cid, cid_date)`` pairs, by group ids, or ``all=True`` for every order (trading and
    derivatives alike, rest-auth-order-cancel-multi).

    Raises:
        InvalidOrderError: nothing selected, ``all`` combined with a selector, or a bad id.
    """
    payload: dict[str, Any] = {}
    if ids is not None:
        payload["id"] = [v.order_id("ids", i) for i in ids]
    if cids is not None:
        pairs = []
        for pair in cids:
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise InvalidOrderError(
                    "cids must be (cid, cid_date) pairs, e.g. [(12345, '2026-12-01')]", field="cids"
                )
            pairs.append([v.cid(pair[0]), v.cid_date_of(pair[1], "cids")])
        payload["cid"] = pairs
    if gids is not None:
        payload["gid"] = [v.gid(g) for g in gids]
    if any(not v for v in payload.values()):
        raise InvalidOrderError("ids, cids and gids must not be empty lists when given", field="ids")
    if all:
        if payload:
            raise InvalidOrderError(
                "all=True cancels every order; do not combine it with ids, cids or gids", field="all"
            )
        payload["all"] = 1
    if not payload:
        raise InvalidOrderError("cancel_orders needs ids, cids, gids or all=True", field="ids")
    return OrderInput("oc_multi", payload)


def calc(items: Sequence[str]) -> OrderInput:
    """Ask for recalculations, ``[0, "calc", null, [["margin_base"], ...]]`` (ws-auth-input-calc).

    Items: ``margin_base``, ``balance``, ``margin_sym_<tSYMBOL>``, ``funding_sym_<fSYMBOL>``,
    ``position_<tSYMBOL>``, ``wallet_<exchange|margin|funding>_<CURRENCY>``; 1 to 30 of them.
    The answers arrive as ``miu``/``fiu``/``pu``/``wu``/``bu`` account events, not as a reply.

    Raises:
        InvalidOrderError: no items, more than 30, or an unknown item.
    """
    if isinstance(items, str):
        items = [items]
    items = list(items)
    if not 1 <= len(items) <= MAX_CALC_ITEMS:
        raise InvalidOrderError(f"calc takes 1 to {MAX_CALC_ITEMS} items per request, got {len(items)}", field="items")
    for item in items:
        if not isinstance(item, str) or not CALC_ITEM.fullmatch(item):
            raise InvalidOrderError(
                f"unknown calc item {item!r}; valid: margin_base, balance, margin_sym_tBTCUSD, funding_sym_fUSD, "
                "position_tBTCUSD, wallet_exchange_BTC / wallet_margin_BTC / wallet_funding_USD",
                field="items",
            )
    return OrderInput("calc", [[item] for item in items])


def new_funding_offer(
    symbol: str,
    amount: Decimal | str | int,
    rate: Decimal | str | int,
    period: int,
    *,
    type: str = "LIMIT",
    flags: int = 0,
) -> OrderInput:
    """A funding offer, ``[0, "fon", null, {...}]`` (ws-auth-input-offer-new).

    ``amount`` > 0 lends, < 0 borrows; ``rate`` is per day (0.0002 = 0.02%); for FRRDELTAVAR
    and FRRDELTAFIX it is the offset from the FRR (FRRDELTAVAR: 0 or more); ``period`` 2 to 120
    days; ``flags`` 0 or HIDDEN (64).

    Raises:
        InvalidOrderError: an argument the exchange would refuse.
    """
    if not isinstance(symbol, str) or not FUNDING_SYMBOL.fullmatch(symbol):
        raise InvalidOrderError(f"symbol {symbol!r} is not a funding symbol such as 'fUSD' or 'fBTC'", field="symbol")
    if type not in OFFER_TYPES:
        raise InvalidOrderError(
            f"unknown funding offer type {type!r}; valid types: {', '.join(OFFER_TYPES)}", field="type"
        )
    number = v.to_decimal("rate", rate)
    if v.decimals(number) > DECIMALS:
        raise InvalidOrderError(f"rate {v.plain(number)} has more than {DECIMALS} decimals", field="rate")
    if type == "LIMIT" and number <= 0:
        raise InvalidOrderError("a LIMIT offer needs a rate greater than zero (per day, 0.0002 = 0.02%)", field="rate")
    if type == "FRRDELTAVAR" and number < 0:
        raise InvalidOrderError("a FRRDELTAVAR offset must be 0 or more (0 = the FRR)", field="rate")
    low, high = OFFER_PERIOD
    payload = {
        "type": type,
        "symbol": symbol,
        "amount": v.amount("amount", amount),
        "rate": v.plain(number),
        "period": v.bounded_int("period", period, low, high, f"a number of days from {low} to {high}"),
        "flags": v.flags(flags, OFFER_FLAG_MASK, "HIDDEN 64 (the only offer flag)"),
    }
    return OrderInput("fon", payload)


def cancel_funding_offer(id: int) -> OrderInput:
    """Cancel a funding offer, ``[0, "foc", null, {"id": ID}]`` (ws-auth-input-offer-cancel).

    Raises:
        InvalidOrderError: not a positive id.
    """
    return OrderInput("foc", {"id": v.order_id("id", id)})
