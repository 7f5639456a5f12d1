"""What the Backpack trading endpoints accept: order, cancel and query parameters checked the
way the exchange checks them, and the refusals it answers with.

Two kinds of refusal (docs.backpack.exchange and the exchange's answers):

* a body that is not JSON, misses a required field or has a value of the wrong type or an
  unknown variant is answered 400 with **plain text** ``parse request payload error: ...``
  (the exchange's JSON decoder speaks; the details imitate it: ``missing field `side```,
  ``unknown variant `Buy`, expected `Bid` or `Ask```);
* anything else is JSON ``{"code": "<UPPER_CASE>", "message": "..."}``: INVALID_CLIENT_REQUEST,
  INVALID_ORDER, INVALID_PRICE, INVALID_QUANTITY, INSUFFICIENT_FUNDS, RESOURCE_NOT_FOUND, ...

Messages marked "simulator's own" have no capture to copy.  Pure; any thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bpbfx.sim.backpack.market import _Market

__all__: list[str] = []

SIDES = ("Bid", "Ask")
ORDER_TYPES = ("Limit", "Market")
TIMES_IN_FORCE = ("GTC", "IOC", "FOK")
SELF_TRADE_PREVENTION = ("RejectTaker", "RejectMaker", "RejectBoth", "Allow")
_UINT32 = 2**32 - 1


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request refused: HTTP ``status``, and a JSON ``{"code","message"}`` body, or the
    plain-text ``message`` when ``code`` is ``None``."""

    status: int
    code: str | None
    message: str

    def body(self) -> Any:
        return self.message if self.code is None else {"code": self.code, "message": self.message}


def parse_error(detail: str) -> Refusal:
    """400 with the plain text the exchange answers a body it cannot decode with."""
    return Refusal(400, None, f"parse request payload error: {detail}")


def client_error(message: str) -> Refusal:
    return Refusal(400, "INVALID_CLIENT_REQUEST", message)


NOT_FOUND = Refusal(404, "RESOURCE_NOT_FOUND", "Order not found")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An ``orderExecute`` body that passed the checks; prices in ticks, quantities in lots."""

    symbol: str
    side: str
    order_type: str
    time_in_force: str
    price: int | None
    lots: int | None
    quote: Decimal | None
    client_id: int | None
    stp: str
    post_only: bool
    reduce_only: bool


# --------------------------------------------------------------------------- field decoding
class _Bad(Exception):
    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, (int, Decimal)):
        return f"number `{value}`"
    if value is None:
        return "null"
    return "a sequence" if isinstance(value, list) else "a map"


def _variant(body: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = body.get(name)
    if value is None:
        if default is None:
            raise _Bad(parse_error(f"missing field `{name}`"))
        return default
    if not isinstance(value, str):
        raise _Bad(parse_error(f"invalid type: {_describe(value)}, expected a string for `{name}`"))
    if value not in allowed:
        names = ", ".join(f"`{a}`" for a in allowed[:-1]) + f" or `{allowed[-1]}`"
        raise _Bad(parse_error(f"unknown variant `{value}`, expected {names}"))
    return value


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _Bad(parse_error(f"invalid type: {_describe(value)}, expected a boolean for `{name}`"))
    return value


def _decimal(body: Mapping[str, Any], name: str) -> Decimal | None:
    """A decimal field, written as a string (``"150.25"``) or a number."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise _Bad(parse_error(f"invalid type: {_describe(value)}, expected a decimal for `{name}`"))
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _Bad(parse_error(f"invalid decimal `{value}` for `{name}`")) from None
    if not number.is_finite():
        raise _Bad(parse_error(f"invalid decimal `{value}` for `{name}`"))
    return number


def _uint32(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(parse_error(f"invalid type: {_describe(value)}, expected u32 for `{name}`"))
    if not 0 <= value <= _UINT32:
        raise _Bad(parse_error(f"invalid value: integer `{value}`, expected u32 for `{name}`"))
    return value


def _ticks(m: _Market, price: Decimal) -> int:
    """``price`` in ticks of ``m``; refused when off the grid or out of the market's bounds."""
    if not m.min_price <= price <= m.max_price:
        # simulator's own text
        raise _Bad(Refusal(400, "INVALID_PRICE", f"Price must be between {m.min_price} and {m.max_price}"))
    ticks = price / m.spec.tick_size
    if ticks != ticks.to_integral_value():
        raise _Bad(Refusal(400, "INVALID_PRICE", f"Price must be a multiple of the tick size {m.spec.tick_size}"))
    return int(ticks)


def _lots(m: _Market, quantity: Decimal) -> int:
    """``quantity`` in lots of ``m``; refused when off the step or out of the market's bounds."""
    if not m.min_quantity <= quantity <= m.max_quantity:
        # simulator's own text
        raise _Bad(Refusal(400, "INVALID_QUANTITY",
                           f"Quantity must be between {m.min_quantity} and {m.max_quantity}"))
    lots = quantity / m.spec.step_size
    if lots != lots.to_integral_value():
        raise _Bad(Refusal(400, "INVALID_QUANTITY",
                           f"Quantity must be a multiple of the step size {m.spec.step_size}"))
    return int(lots)


def _market(markets: Mapping[str, _Market], body: Mapping[str, Any]) -> _Market:
    symbol = body.get("symbol")
    if symbol is None:
        raise _Bad(parse_error("missing field `symbol`"))
    if not isinstance(symbol, str):
        raise _Bad(parse_error(f"invalid type: {_describe(symbol)}, expected a string for `symbol`"))
    m = markets.get(symbol)
    if m is None:
        raise _Bad(client_error("Market not found"))
    return m


# --------------------------------------------------------------------------- requests
def parse_order(body: Any, markets: Mapping[str, _Market]) -> OrderRequest | Refusal:
    """Check one ``orderExecute`` body (a JSON object, numbers decoded as ``Decimal``)."""
    if not isinstance(body, dict):
        return parse_error(f"invalid type: {_describe(body)}, expected an order")
    try:
        side = _variant(body, "side", SIDES)
        order_type = _variant(body, "orderType", ORDER_TYPES)
        tif = _variant(body, "timeInForce", TIMES_IN_FORCE, "GTC")
        stp = _variant(body, "selfTradePrevention", SELF_TRADE_PREVENTION, "RejectTaker")
        post_only = _flag(body, "postOnly")
        reduce_only = _flag(body, "reduceOnly")
        client_id = _uint32(body.get("clientId"), "clientId")
        price = _decimal(body, "price")
        quantity = _decimal(body, "quantity")
        quote = _decimal(body, "quoteQuantity")
        trigger = _decimal(body, "triggerPrice")
        m = _market(markets, body)
        if trigger is not None or body.get("triggerQuantity") is not None:
            # simulator's own: trigger (stop) orders are not simulated
            return Refusal(400, "INVALID_ORDER", "Trigger orders are not supported by the simulator")
        if reduce_only and not m.spec.perp:
            return Refusal(400, "INVALID_ORDER", "Reduce only orders are only supported on perpetual markets")
        if order_type == "Limit":
            if price is None:
                return Refusal(400, "INVALID_ORDER", "Limit orders require a price")
            if quantity is None:
                return Refusal(400, "INVALID_ORDER", "Limit orders require a quantity")
            if quote is not None:
                return Refusal(400, "INVALID_ORDER", "Limit orders take a quantity, not a quote quantity")
            if post_only and tif != "GTC":
                return Refusal(400, "INVALID_ORDER", "Post only orders must be GTC")
            return OrderRequest(m.symbol, side, order_type, tif, _ticks(m, price), _lots(m, quantity), None,
                                client_id, stp, post_only, reduce_only)
        if post_only:
            return Refusal(400, "INVALID_ORDER", "Market orders cannot be post only")
        if (quantity is None) == (quote is None):
            return Refusal(400, "INVALID_ORDER", "Market orders require exactly one of quantity and quoteQuantity")
        if quote is not None and quote <= 0:
            return Refusal(400, "INVALID_QUANTITY", "Quote quantity must be positive")
        if quote is not None and reduce_only:
            return Refusal(400, "INVALID_ORDER", "Reduce only market orders require a quantity")
        lots = _lots(m, quantity) if quantity is not None else None
        return OrderRequest(m.symbol, side, order_type, tif, None, lots, quote, client_id, stp, False, reduce_only)
    except _Bad as bad:
        return bad.refusal


def parse_order_id(source: Mapping[str, Any], markets: Mapping[str, _Market], *, query: bool) -> (
    tuple[str, str | None, int | None] | Refusal
):
    """``(symbol, orderId, clientId)`` of an ``orderCancel`` body or ``orderQuery`` query:
    the symbol and exactly one of the two ids."""
    try:
        m = _market(markets, source)
        order_id = source.get("orderId")
        raw_client = source.get("clientId")
        if query and isinstance(raw_client, str):
            try:
                raw_client = int(raw_client)
            except ValueError:
                raise _Bad(parse_error(f"invalid digit found in string `{raw_client}` for `clientId`")) from None
        client_id = _uint32(raw_client, "clientId")
        if order_id is not None and not isinstance(order_id, str):
            raise _Bad(parse_error(f"invalid type: {_describe(order_id)}, expected a string for `orderId`"))
    except _Bad as bad:
        return bad.refusal
    if (order_id is None) == (client_id is None):
        return client_error("Exactly one of orderId and clientId is required")
    return m.symbol, order_id, client_id


def parse_symbol(source: Mapping[str, Any], markets: Mapping[str, _Market], *, required: bool) -> (
    str | Refusal | None
):
    """The ``symbol`` of a request: required (``orderCancelAll``) or an optional filter."""
    if source.get("symbol") is None and not required:
        return None
    try:
        return _market(markets, source).symbol
    except _Bad as bad:
        return bad.refusal


def parse_page(params: Mapping[str, str]) -> tuple[int, int] | Refusal:
    """``limit`` (default 100, at most 1000) and ``offset`` (default 0) of a history query."""
    try:
        limit = int(params.get("limit", "100"))
        offset = int(params.get("offset", "0"))
    except ValueError:
        return client_error("Invalid limit or offset")
    if not 0 < limit <= 1000 or offset < 0:
        return client_error("Invalid limit or offset")
    return limit, offset
