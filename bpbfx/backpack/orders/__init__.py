"""Backpack order entry (REST, ED25519-signed), without I/O.

- **Inputs** (:func:`new_order`, :func:`new_orders`, :func:`cancel_order`,
  :func:`cancel_all_orders`) validate their arguments against the exchange's rules and, with the
  market's :class:`MarketRules`, its tick and step sizes; invalid input raises
  :class:`~bpbfx.exceptions.InvalidOrderError` at once, naming the field and what is valid.
- **The order core** (:class:`OrderCore`) turns inputs into handles (:class:`Request`, a
  :class:`concurrent.futures.Future`), decides each from its REST answer, the
  ``account.orderUpdate`` stream or, when the answer was lost, the exchange's records, and keeps
  the live view of open orders (:class:`Order`, :class:`OrderChange`).
- **Client ids** (:class:`ClientIdSource`): 32-bit ``clientId`` values that never repeat, also
  across restarts.

Modules, one concern each: :mod:`.rules` (the exchange's order rules and endpoints),
:mod:`.markets` (tick and step sizes), :mod:`.model` (orders and changes), :mod:`.inputs`
(validated requests), :mod:`.cids`, :mod:`.handles`, :mod:`.core` (outcomes, reconciliation,
the view).  The client that sends and reads is :class:`bpbfx.backpack.trading.Trader`.
"""

from __future__ import annotations

from .cids import ClientIdSource
from .core import Lookup, OrderCore, parse_error
from .handles import BatchRequest, Completion, Request, RequestState, complete
from .inputs import Number, OrderInput, cancel_all_orders, cancel_order, new_order, new_orders, order_body, plain
from .markets import MarketRules, parse_markets
from .model import Order, OrderChange, order_from_event, order_from_rest

__all__ = [
    "BatchRequest",
    "ClientIdSource",
    "Completion",
    "Lookup",
    "MarketRules",
    "Number",
    "Order",
    "OrderChange",
    "OrderCore",
    "OrderInput",
    "Request",
    "RequestState",
    "cancel_all_orders",
    "cancel_order",
    "complete",
    "new_order",
    "new_orders",
    "order_body",
    "order_from_event",
    "order_from_rest",
    "parse_error",
    "parse_markets",
    "plain",
]
