"""What an order is on Backpack, as the client reports it: :class:`Order` and :class:`OrderChange`.

An :class:`Order` is built from either of the exchange's two views of it: a REST order object
(``POST``/``GET /api/v1/order``, ``GET /api/v1/orders``, the order history) or an
``account.orderUpdate`` stream event.  The two spell some values differently (the stream writes
``o`` upper-case, ``LIMIT``, where REST writes ``Limit``; times may be integers or text), so
every value is normalised here.  Prices and quantities are exact ``Decimal``\\s from the
exchange's own text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ..events import OrderUpdate
from .rules import OPEN_STATUSES

__all__ = ["Order", "OrderChange", "order_from_event", "order_from_rest"]

_TYPES = {"limit": "Limit", "market": "Market"}
_SIDES = {"bid": "Bid", "ask": "Ask", "buy": "Bid", "sell": "Ask"}
# Stream statuses and events, to the REST spelling of the status.
_STATUSES = {
    "new": "New",
    "partiallyfilled": "PartiallyFilled",
    "filled": "Filled",
    "cancelled": "Cancelled",
    "canceled": "Cancelled",
    "expired": "Expired",
    "triggerpending": "TriggerPending",
    "triggerfailed": "TriggerFailed",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """One Backpack order (a frozen value).

    Attributes:
        id: the exchange's order id (opaque text).
        client_id: the ``clientId`` it was placed with, or ``None``.
        symbol / side (``"Bid"``/``"Ask"``) / order_type (``"Limit"``/``"Market"``).
        status: ``New``, ``PartiallyFilled``, ``Filled``, ``Cancelled``, ``Expired``,
            ``TriggerPending`` or ``TriggerFailed``.
        price / quantity / quote_quantity / trigger_price: as placed (``None`` when absent).
        executed_quantity / executed_quote_quantity: filled so far.
        time_in_force / post_only / reduce_only / self_trade_prevention: as placed, when known.
        created_at_ms: creation time, milliseconds, when known.
        data: the exchange's object as received (REST body or stream ``data``).
    """

    id: str
    client_id: int | None
    symbol: str
    side: str
    order_type: str
    status: str
    price: Decimal | None = None
    quantity: Decimal | None = None
    quote_quantity: Decimal | None = None
    trigger_price: Decimal | None = None
    executed_quantity: Decimal = Decimal(0)
    executed_quote_quantity: Decimal = Decimal(0)
    time_in_force: str | None = None
    post_only: bool | None = None
    reduce_only: bool | None = None
    self_trade_prevention: str | None = None
    created_at_ms: int | None = None
    data: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def is_open(self) -> bool:
        """True while the order rests on the book (or waits for its trigger)."""
        return self.status in OPEN_STATUSES

    @property
    def average_price(self) -> Decimal | None:
        """Average fill price (executed quote / executed quantity), or ``None`` before a fill."""
        if not self.executed_quantity:
            return None
        return self.executed_quote_quantity / self.executed_quantity


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderChange:
    """A change to the live view of open orders, handed to ``on_order(client, change)``.

    ``kind`` is ``"new"`` (now open), ``"update"`` (filled in part, modified) or ``"closed"``
    (no longer open: ``order.status`` says Filled, Cancelled, Expired...).  ``source`` is what
    told: ``"stream"`` (an ``account.orderUpdate`` event), ``"rest"`` (a REST answer) or
    ``"snapshot"`` (``GET /api/v1/orders`` after a reconnect).  ``previous`` is the state
    before, when the order was open.
    """

    kind: Literal["new", "update", "closed"]
    order: Order
    source: str
    previous: Order | None = None


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(value) if isinstance(value, str) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ValueError(f"expected a number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def _bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"expected a boolean, got {value!r}")


def normal_side(value: Any) -> str:
    """``"Bid"`` or ``"Ask"`` from any of the spellings the exchange (or a user) writes."""
    side = _SIDES.get(str(value).lower())
    if side is None:
        raise ValueError(f"unknown side {value!r}")
    return side


def normal_type(value: Any) -> str:
    """``"Limit"`` or ``"Market"`` from REST (``Limit``) or stream (``LIMIT``) spelling."""
    kind = _TYPES.get(str(value).lower())
    if kind is None:
        raise ValueError(f"unknown order type {value!r}")
    return kind


def normal_status(value: Any) -> str:
    """The REST spelling of an order status (``New``, ``PartiallyFilled``, ...)."""
    status = _STATUSES.get(str(value).replace("_", "").lower())
    if status is None:
        raise ValueError(f"unknown order status {value!r}")
    return status


def order_from_rest(row: Mapping[str, Any]) -> Order:
    """An :class:`Order` from a REST order object.

    Raises:
        ValueError, KeyError, TypeError: a field is missing or not what it should be.
    """
    client_id = _int(row.get("clientId"))
    return Order(
        id=str(row["id"]),
        client_id=client_id,
        symbol=str(row["symbol"]),
        side=normal_side(row["side"]),
        order_type=normal_type(row["orderType"]),
        status=normal_status(row["status"]),
        price=_dec(row.get("price")),
        quantity=_dec(row.get("quantity")),
        quote_quantity=_dec(row.get("quoteQuantity")),
        trigger_price=_dec(row.get("triggerPrice")),
        executed_quantity=_dec(row.get("executedQuantity")) or Decimal(0),
        executed_quote_quantity=_dec(row.get("executedQuoteQuantity")) or Decimal(0),
        time_in_force=row.get("timeInForce"),
        post_only=_bool(row.get("postOnly")),
        reduce_only=_bool(row.get("reduceOnly")),
        self_trade_prevention=row.get("selfTradePrevention"),
        created_at_ms=_int(row.get("createdAt")),
        data=row,
    )


def order_from_event(event: OrderUpdate, before: Order | None = None) -> Order:
    """An :class:`Order` from an ``account.orderUpdate`` event, on top of what was known before
    (the stream sends what changed and some constants, not every field).

    Raises:
        ValueError, KeyError, TypeError: a field is missing or not what it should be.
    """
    d = event.data if isinstance(event.data, Mapping) else {}
    status = event.status or (before.status if before is not None else None)
    if status is None:
        raise ValueError("order event without a status")
    executed_quote = _dec(d.get("Z"))
    return Order(
        id=str(event.order_id),
        client_id=event.client_id if event.client_id is not None else (before.client_id if before else None),
        symbol=str(event.symbol if event.symbol is not None else before.symbol if before else ""),
        side=normal_side(event.side) if event.side is not None else (before.side if before else "Bid"),
        order_type=normal_type(event.order_type) if event.order_type else (before.order_type if before else "Limit"),
        status=normal_status(status),
        price=event.price if event.price is not None else (before.price if before else None),
        quantity=event.quantity if event.quantity is not None else (before.quantity if before else None),
        quote_quantity=_dec(d.get("Q")) if d.get("Q") is not None else (before.quote_quantity if before else None),
        trigger_price=_dec(d.get("P")) if d.get("P") is not None else (before.trigger_price if before else None),
        executed_quantity=(
            event.executed_quantity if event.executed_quantity is not None
            else (before.executed_quantity if before else Decimal(0))
        ),
        executed_quote_quantity=(
            executed_quote if executed_quote is not None else (before.executed_quote_quantity if before else Decimal(0))
        ),
        time_in_force=d.get("f") if d.get("f") is not None else (before.time_in_force if before else None),
        post_only=before.post_only if before else None,
        reduce_only=_bool(d.get("r")) if d.get("r") is not None else (before.reduce_only if before else None),
        self_trade_prevention=(
            d.get("V") if d.get("V") is not None else (before.self_trade_prevention if before else None)
        ),
        created_at_ms=before.created_at_ms if before else None,
        data=d,
    )
