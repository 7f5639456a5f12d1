"""Backpack's order rules, as the order entry code applies them.

Orders go over REST, signed with the account's ED25519 key; their life is reported on the
``account.orderUpdate`` stream (https://docs.backpack.exchange/#tag/Order).

- ``POST /api/v1/order`` (instruction ``orderExecute``): ``symbol``, ``side`` (``Bid``/``Ask``),
  ``orderType`` (``Limit``/``Market``), ``price`` (limit), ``quantity`` or, for a market order,
  ``quoteQuantity``, ``timeInForce`` (``GTC``/``IOC``/``FOK``), ``postOnly``, ``reduceOnly``,
  ``clientId`` (an unsigned 32-bit integer), ``selfTradePrevention``
  (``RejectTaker``/``RejectMaker``/``RejectBoth``/``Allow``), ``triggerPrice``.
  ``POST /api/v1/orders`` takes a list of such bodies (the same instruction).
- ``DELETE /api/v1/order`` (``orderCancel``): ``symbol`` and one of ``orderId``/``clientId``;
  it may answer ``202 Accepted`` with no body: the cancel is queued, the stream's
  ``orderCancelled`` confirms it.  ``DELETE /api/v1/orders`` (``orderCancelAll``): ``symbol``.
- ``GET /api/v1/order`` (``orderQuery``): ``symbol`` and exactly one of ``orderId``/``clientId``;
  resting orders only (404 otherwise).  ``GET /api/v1/orders`` (``orderQueryAll``): open orders.
  ``GET /wapi/v1/history/orders`` (``orderHistoryQueryAll``; rows carry ``clientId``, no filter
  by it) and ``GET /wapi/v1/history/fills`` (``fillHistoryQueryAll``).
- Errors are JSON ``{"code": "INSUFFICIENT_FUNDS", "message": ...}``; some parse errors are
  plain text (``parse request payload error: ...``).  401 "Request has expired" for a stale
  timestamp.  A 5xx (503 "Unknown error, please check your request or try again later.") leaves
  an order's outcome unknown.  A reused ``clientId`` is refused ("Order with client ID already
  exists"); the scope of that uniqueness is undocumented, so a client id is never reused here.
- Rate limit: about 2,000 requests per minute per account; 429 beyond.

Where sources disagree (the official docs and OpenAPI, the official Rust client
``bpx-api-client``, ccxt's ``backpack``), what the exchange does on the wire wins.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "CANCEL_ALL_PATH",
    "CLOSED_STATUSES",
    "DEFAULT_WINDOW_MS",
    "FILLS_PATH",
    "HISTORY_PATH",
    "CLOSED_CODES",
    "IN_DOUBT_STATUSES",
    "MAX_BATCH",
    "MAX_CLIENT_ID",
    "MAX_WINDOW_MS",
    "OPEN_STATUSES",
    "ORDERS_PATH",
    "ORDER_PATH",
    "ORDER_TYPES",
    "RATE_LIMIT",
    "SELF_TRADE_PREVENTION",
    "SIDES",
    "TIME_IN_FORCE",
    "TIME_PATH",
    "Instruction",
    "OrderType",
    "OrderSide",
]

OrderSide = Literal["Bid", "Ask"]
OrderType = Literal["Limit", "Market"]
Instruction = Literal[
    "orderExecute", "orderCancel", "orderCancelAll", "orderQuery", "orderQueryAll",
    "orderHistoryQueryAll", "fillHistoryQueryAll",
]

SIDES: Final = ("Bid", "Ask")
ORDER_TYPES: Final = ("Limit", "Market")
TIME_IN_FORCE: Final = ("GTC", "IOC", "FOK")
SELF_TRADE_PREVENTION: Final = ("RejectTaker", "RejectMaker", "RejectBoth", "Allow")
MAX_CLIENT_ID: Final = 2**32 - 1
"""``clientId`` is an unsigned 32-bit integer."""
MAX_BATCH: Final = 50
"""Orders per ``POST /api/v1/orders`` this client sends (a bound of its own)."""
DEFAULT_WINDOW_MS: Final = 5_000
MAX_WINDOW_MS: Final = 60_000
RATE_LIMIT: Final = (2_000, 60.0)
"""About 2,000 requests per minute per account."""

OPEN_STATUSES: Final = frozenset({"New", "PartiallyFilled", "TriggerPending"})
"""An order with one of these statuses rests on the book (or waits for its trigger)."""
CLOSED_STATUSES: Final = frozenset({"Filled", "Cancelled", "Expired", "TriggerFailed"})
IN_DOUBT_STATUSES: Final = frozenset({500, 502, 503, 504})
#: Error codes that refuse every order for certain, whatever the HTTP status (a 503 with one of
#: these placed nothing): the input is not sent, and sending it again later is safe.
CLOSED_CODES: Final = frozenset({"MAINTENANCE", "TRADING_PAUSED"})
"""HTTP statuses after which an order may or may not have been placed."""

TIME_PATH: Final = "/api/v1/time"
ORDER_PATH: Final = "/api/v1/order"
ORDERS_PATH: Final = "/api/v1/orders"
CANCEL_ALL_PATH: Final = "/api/v1/orders"
HISTORY_PATH: Final = "/wapi/v1/history/orders"
FILLS_PATH: Final = "/wapi/v1/history/fills"
