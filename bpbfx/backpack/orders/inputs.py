"""Order inputs: validated arguments turned into the REST request to send.

Each builder checks its arguments before anything is sent and raises
:class:`~bpbfx.exceptions.InvalidOrderError` naming the field and what would be valid: sides
``Bid``/``Ask`` (``buy``/``sell`` accepted), types ``Limit``/``Market``, a limit price, exactly
one of ``quantity``/``quoteQuantity`` for a market order, time in force ``GTC``/``IOC``/``FOK``,
post-only only for resting limit orders, a ``clientId`` that fits 32 bits, and (with the market's
rules) prices and quantities on the market's grid.  Amounts must be exact: ``Decimal``, ``int``
or decimal text; a ``float`` is refused (it cannot say which decimal it means).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ...exceptions import InvalidOrderError
from .markets import MarketRules
from .model import normal_side, normal_type
from .rules import (
    CANCEL_ALL_PATH,
    MAX_BATCH,
    MAX_CLIENT_ID,
    ORDER_PATH,
    ORDERS_PATH,
    SELF_TRADE_PREVENTION,
    TIME_IN_FORCE,
)

__all__ = ["Number", "OrderInput", "cancel_all_orders", "cancel_order", "new_order", "new_orders", "plain"]

Number = Decimal | int | str
"""An exact amount: a ``Decimal``, an ``int`` or decimal text (never a ``float``)."""

InputKind = Literal["execute", "batch", "cancel", "cancel_all"]
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$")


@dataclass(frozen=True, slots=True)
class OrderInput:
    """One REST request of order entry, validated and ready to sign and send.

    Attributes:
        kind: ``"execute"``, ``"batch"``, ``"cancel"`` or ``"cancel_all"``.
        instruction: the signing instruction (``orderExecute``...).
        method / path: the HTTP request.
        body: the JSON body (a list of bodies for a batch).
        symbol: the market.
        client_id: the ``clientId`` of a new order or of a cancel by client id.
        order_id: the order id of a cancel by order id.
        client_ids: the ``clientId`` of every order of a batch, in order.
    """

    kind: InputKind
    instruction: str
    method: str
    path: str
    body: Any
    symbol: str
    client_id: int | None = None
    order_id: str | None = None
    client_ids: tuple[int, ...] = field(default=())

    def encoded(self) -> bytes:
        """The body as compact JSON."""
        return json.dumps(self.body, separators=(",", ":")).encode()


def plain(number: Decimal) -> str:
    """A decimal as the exchange writes it: no exponent, no trailing zeros."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _number(name: str, value: object, *, positive: bool = True) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float):
        kind = "a float" if isinstance(value, float) else "a boolean"
        raise InvalidOrderError(
            f"{name} must be exact: a Decimal, an int or decimal text like '0.01', not {kind} ({value!r})", field=name
        )
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidOrderError(f"{name} must be a number like '0.01', got {value!r}", field=name) from None
    if not number.is_finite():
        raise InvalidOrderError(f"{name} must be a finite number, got {value!r}", field=name)
    if positive and number <= 0:
        raise InvalidOrderError(f"{name} must be > 0, got {plain(number)}", field=name)
    return number


def _symbol(value: object) -> str:
    if not isinstance(value, str) or not _SYMBOL.match(value):
        hint = f" (did you mean {value.upper()}?)" if isinstance(value, str) and _SYMBOL.match(value.upper()) else ""
        raise InvalidOrderError(
            f"symbol must be a Backpack market like SOL_USDC or BTC_USDC_PERP, got {value!r}{hint}", field="symbol"
        )
    return value


def _client_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CLIENT_ID:
        raise InvalidOrderError(
            f"client_id must be an integer from 0 to {MAX_CLIENT_ID} (Backpack clientId is 32-bit), got {value!r}",
            field="client_id",
        )
    return value


def new_order(
    symbol: str,
    side: str,
    quantity: Number | None = None,
    price: Number | None = None,
    *,
    client_id: int,
    order_type: str = "Limit",
    time_in_force: str | None = None,
    post_only: bool = False,
    reduce_only: bool = False,
    quote_quantity: Number | None = None,
    self_trade_prevention: str | None = None,
    rules: MarketRules | None = None,
) -> OrderInput:
    """The ``POST /api/v1/order`` of one new order.

    Raises:
        InvalidOrderError: an argument would be refused (the message names it and says what
            is valid).
    """
    return OrderInput(
        "execute",
        "orderExecute",
        "POST",
        ORDER_PATH,
        order_body(
            symbol, side, quantity, price, client_id=client_id, order_type=order_type, time_in_force=time_in_force,
            post_only=post_only, reduce_only=reduce_only, quote_quantity=quote_quantity,
            self_trade_prevention=self_trade_prevention, rules=rules,
        ),
        symbol,
        client_id=client_id,
    )


def order_body(
    symbol: str,
    side: str,
    quantity: Number | None,
    price: Number | None,
    *,
    client_id: int,
    order_type: str = "Limit",
    time_in_force: str | None = None,
    post_only: bool = False,
    reduce_only: bool = False,
    quote_quantity: Number | None = None,
    self_trade_prevention: str | None = None,
    rules: MarketRules | None = None,
) -> dict[str, Any]:
    """The JSON body of one new order (see :func:`new_order`).

    Raises:
        InvalidOrderError: an argument would be refused.
    """
    symbol = _symbol(symbol)
    try:
        side_text = normal_side(side)
    except ValueError:
        raise InvalidOrderError(f"side must be Bid or Ask (or buy / sell), got {side!r}", field="side") from None
    try:
        kind = normal_type(order_type)
    except ValueError:
        raise InvalidOrderError(f"order_type must be Limit or Market, got {order_type!r}", field="order_type") from None
    body: dict[str, Any] = {"symbol": symbol, "side": side_text, "orderType": kind, "clientId": _client_id(client_id)}
    if kind == "Limit":
        if price is None:
            raise InvalidOrderError("a Limit order needs a price", field="price")
        if quantity is None:
            raise InvalidOrderError("a Limit order needs a quantity", field="quantity")
        if quote_quantity is not None:
            raise InvalidOrderError(
                "quote_quantity is for Market orders; a Limit order takes quantity", field="quote_quantity"
            )
        p, q = _number("price", price), _number("quantity", quantity)
        if rules is not None:
            rules.check_price(p)
            rules.check_quantity(q)
        body["price"], body["quantity"] = plain(p), plain(q)
    else:
        if price is not None:
            raise InvalidOrderError("a Market order takes no price; use order_type='Limit' to set one", field="price")
        if post_only:
            raise InvalidOrderError("post_only is for Limit orders (a Market order always takes)", field="post_only")
        if (quantity is None) == (quote_quantity is None):
            raise InvalidOrderError(
                "a Market order takes exactly one of quantity (base) or quote_quantity (quote)", field="quantity"
            )
        if quantity is not None:
            q = _number("quantity", quantity)
            if rules is not None:
                rules.check_quantity(q)
            body["quantity"] = plain(q)
        else:
            body["quoteQuantity"] = plain(_number("quote_quantity", quote_quantity))
    if time_in_force is not None:
        tif = str(time_in_force).upper()
        if tif not in TIME_IN_FORCE:
            raise InvalidOrderError(
                f"time_in_force must be one of {', '.join(TIME_IN_FORCE)}, got {time_in_force!r}", field="time_in_force"
            )
        if post_only and tif != "GTC":
            raise InvalidOrderError(f"post_only needs time_in_force GTC (it rests), got {tif}", field="post_only")
        body["timeInForce"] = tif
    if post_only:
        body["postOnly"] = True
    if reduce_only:
        body["reduceOnly"] = True
    if self_trade_prevention is not None:
        if self_trade_prevention not in SELF_TRADE_PREVENTION:
            raise InvalidOrderError(
                f"self_trade_prevention must be one of {', '.join(SELF_TRADE_PREVENTION)}, "
                f"got {self_trade_prevention!r}",
                field="self_trade_prevention",
            )
        body["selfTradePrevention"] = self_trade_prevention
    return body


def new_orders(bodies: list[dict[str, Any]]) -> OrderInput:
    """The ``POST /api/v1/orders`` of several new orders (bodies from :func:`order_body`).

    Raises:
        InvalidOrderError: no order, too many, or two with the same client id.
    """
    if not bodies:
        raise InvalidOrderError("a batch needs at least one order", field="orders")
    if len(bodies) > MAX_BATCH:
        raise InvalidOrderError(f"a batch takes at most {MAX_BATCH} orders, got {len(bodies)}", field="orders")
    ids = tuple(int(b["clientId"]) for b in bodies)
    if len(set(ids)) != len(ids):
        raise InvalidOrderError("two orders of the batch have the same client_id", field="client_id")
    symbols = {b["symbol"] for b in bodies}
    symbol = next(iter(symbols)) if len(symbols) == 1 else ",".join(sorted(symbols))
    return OrderInput("batch", "orderExecute", "POST", ORDERS_PATH, list(bodies), symbol, client_ids=ids)


def cancel_order(symbol: str, order_id: str | None = None, *, client_id: int | None = None) -> OrderInput:
    """The ``DELETE /api/v1/order`` of one cancel, by order id or client id (exactly one).

    Raises:
        InvalidOrderError: neither or both ids, or a bad symbol or client id.
    """
    symbol = _symbol(symbol)
    if (order_id is None) == (client_id is None):
        raise InvalidOrderError("cancel_order takes exactly one of order_id or client_id", field="order_id")
    body: dict[str, Any] = {"symbol": symbol}
    if order_id is not None:
        if not isinstance(order_id, str) or not order_id:
            raise InvalidOrderError(
                f"order_id must be the exchange's order id text, got {order_id!r}", field="order_id"
            )
        body["orderId"] = order_id
    else:
        body["clientId"] = _client_id(client_id)
    return OrderInput(
        "cancel", "orderCancel", "DELETE", ORDER_PATH, body, symbol, client_id=client_id, order_id=order_id
    )


def cancel_all_orders(symbol: str) -> OrderInput:
    """The ``DELETE /api/v1/orders`` of every open order of ``symbol``.

    Raises:
        InvalidOrderError: a bad symbol.
    """
    symbol = _symbol(symbol)
    return OrderInput("cancel_all", "orderCancelAll", "DELETE", CANCEL_ALL_PATH, {"symbol": symbol}, symbol)


def signed_params(inp: OrderInput) -> Mapping[str, Any] | list[Mapping[str, Any]]:
    """What the signature covers: the body (each order of a batch)."""
    return inp.body  # type: ignore[no-any-return]
