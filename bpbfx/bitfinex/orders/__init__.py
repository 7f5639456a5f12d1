"""Bitfinex order entry over the authenticated WebSocket (channel 0), without I/O.

Two parts, neither of which touches a socket or reads a clock of its own:

- **Input builders** (:func:`new_order`, :func:`update_order`, :func:`cancel_order`,
  :func:`cancel_orders`, :func:`calc`, :func:`new_funding_offer`, :func:`cancel_funding_offer`)
  validate their arguments against the exchange's rules and return an :class:`OrderInput`,
  the JSON frame ``[0, KIND, null, {...}]`` ready to send.  Invalid input raises
  :class:`~bpbfx.exceptions.InvalidOrderError` at once, naming the field and what is valid.
- **The order core** (:class:`OrderCore`) turns inputs into request handles
  (:class:`Request`, a :class:`concurrent.futures.Future`), matches the exchange's replies to
  them, keeps the live view of open orders and wallets, and reconciles requests left in doubt
  by a dropped socket from the snapshot sent after re-authentication.  Frames to send,
  futures to complete and order changes to report are queued and taken by the owner (the
  client), which carries them out outside its lock.

Modules, one concern each:

- :mod:`~bpbfx.bitfinex.orders.rules`: the exchange's order rules (types, flags, limits,
  precision), with the documentation they come from.
- :mod:`~bpbfx.bitfinex.orders.validate` and :mod:`~bpbfx.bitfinex.orders.inputs`: checking
  values and building the inputs.
- :mod:`~bpbfx.bitfinex.orders.cids`: client order ids unique per UTC day.
- :mod:`~bpbfx.bitfinex.orders.handles`: request handles and the order changes reported.
- :mod:`~bpbfx.bitfinex.orders.ratelimit`: the local input-rate window.
- :mod:`~bpbfx.bitfinex.orders.core`: :class:`OrderCore`, which drives the collaborators below.
- :mod:`~bpbfx.bitfinex.orders.ledger`: the requests in flight and their outcomes;
  :mod:`~bpbfx.bitfinex.orders.outcomes`: the errors they fail with.
- :mod:`~bpbfx.bitfinex.orders.replies`: matching notifications and order frames to requests.
- :mod:`~bpbfx.bitfinex.orders.views`: open orders, funding offers and wallets.
- :mod:`~bpbfx.bitfinex.orders.reconcile`: deciding requests left in doubt after a reconnect;
  :mod:`~bpbfx.bitfinex.orders.history`: deciding those the snapshot cannot (the order left
  the book meanwhile) from the account's order and trade history, read by the owner over
  authenticated REST (:class:`HistoryLookup`).

Exactly once: an input is sent once and never replayed.  A request whose socket drops before
its outcome arrives is *in doubt*; after re-authentication the ``os`` (``fos`` for offers)
snapshot decides it, see :mod:`~bpbfx.bitfinex.orders.reconcile` and ``bpbfx/docs/trading.md``
("Exactly once; reconciliation after a dropped socket").
"""

from __future__ import annotations

from .cids import CidSource
from .core import OrderCore
from .handles import BatchRequest, Completion, OrderChange, Request, RequestState, complete
from .history import HISTORY_RATE_LIMIT, HistoryLookup
from .inputs import (
    InputKind,
    OrderInput,
    calc,
    cancel_funding_offer,
    cancel_order,
    cancel_orders,
    new_funding_offer,
    new_order,
    update_order,
)
from .rules import (
    CALC_RATE_LIMIT,
    CLOSE,
    HIDDEN,
    MAX_BATCH_OPS,
    MAX_CALC_ITEMS,
    MAX_CID,
    NO_VAR_RATES,
    OCO,
    OFFER_TYPES,
    ORDER_FLAGS,
    ORDER_RATE_LIMIT,
    ORDER_TYPES,
    POSTONLY,
    REDUCE_ONLY,
)
from .validate import cid_date_of, to_decimal

__all__ = [
    "CALC_RATE_LIMIT",
    "CLOSE",
    "HIDDEN",
    "HISTORY_RATE_LIMIT",
    "MAX_BATCH_OPS",
    "MAX_CALC_ITEMS",
    "MAX_CID",
    "NO_VAR_RATES",
    "OCO",
    "OFFER_TYPES",
    "ORDER_FLAGS",
    "ORDER_RATE_LIMIT",
    "ORDER_TYPES",
    "POSTONLY",
    "REDUCE_ONLY",
    "BatchRequest",
    "CidSource",
    "Completion",
    "HistoryLookup",
    "InputKind",
    "OrderChange",
    "OrderCore",
    "OrderInput",
    "Request",
    "RequestState",
    "calc",
    "cancel_funding_offer",
    "cancel_order",
    "cancel_orders",
    "cid_date_of",
    "complete",
    "new_funding_offer",
    "new_order",
    "to_decimal",
    "update_order",
]
