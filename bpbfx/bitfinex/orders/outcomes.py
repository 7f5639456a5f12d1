"""The errors a request fails with: not sent, refused by the exchange, or outcome unknown.

Each carries the request's ``kind``, ``cid``, ``cid_date``, ``order_id`` and ``request`` (its
kind and payload) and says what happened in words.  A refusal for the exchange's rate limit is
told by its text (:data:`bpbfx.bitfinex.orders.rules.RATE_LIMIT_TEXT`).
"""

from __future__ import annotations

from typing import Any, Final

from ...exceptions import (
    OrderNotSentError,
    OrderRateLimitError,
    OrderRejectedError,
    OrderStatusUnknownError,
)
from ..events import Notification
from .handles import Request
from .rules import RATE_LIMIT_TEXT

__all__ = ["error_fields", "label", "not_sent", "rate_limited", "rejected", "unknown"]

_NAMES: Final = {
    "on": "new order",
    "ou": "order update",
    "oc": "cancel",
    "oc_multi": "cancel_orders",
    "ox_multi": "order_batch",
    "calc": "calc",
    "fon": "funding offer",
    "foc": "funding offer cancel",
}


def label(req: Request[Any]) -> str:
    """What the request is, in words: ``"new order (cid 5)"``, ``"cancel (id 7)"``."""
    text = _NAMES.get(req.kind, req.kind)
    if req.cid is not None:
        text += f" (cid {req.cid})"
    elif req.order_id is not None:
        text += f" (id {req.order_id})"
    return text


def error_fields(req: Request[Any]) -> dict[str, Any]:
    """The fields every order error carries about its request."""
    return {
        "kind": req.kind,
        "cid": req.cid,
        "cid_date": req.cid_date,
        "order_id": req.order_id,
        "request": {"kind": req.kind, "payload": req.input.payload},
    }


def not_sent(req: Request[Any], reason: str) -> OrderNotSentError:
    """The request was not sent, for ``reason``."""
    return OrderNotSentError(f"{label(req)} not sent: {reason}", **error_fields(req))


def rate_limited(req: Request[Any], text: str, wait: float) -> OrderRateLimitError:
    """The local input-rate window refused the request (``wait``: seconds until room, ``inf``
    when it can never fit)."""
    retry_after = None if wait == float("inf") else wait
    return OrderRateLimitError(text, local=True, retry_after=retry_after, **error_fields(req))


def rejected(req: Request[Any], note: Notification) -> OrderRejectedError:
    """The exchange refused the request with the notification ``note``."""
    text = note.text or ""
    status = note.status
    fields = error_fields(req)
    fields["payload"] = note.data
    message = f"Bitfinex rejected the {label(req)} ({note.type} {status}): {text or 'no reason given'}"
    if RATE_LIMIT_TEXT.search(text):
        return OrderRateLimitError(
            message + " (exchange rate limit; slow down)", local=False, status=status, text=text, **fields
        )
    return OrderRejectedError(message, status=status, text=text, **fields)


def unknown(
    req: Request[Any], why: str, *, dms: int | None, open: bool | None = None, order: Any = None
) -> OrderStatusUnknownError:
    """The outcome could not be confirmed, for ``why``; ``open`` says whether the order is
    still open, when known (with the dead-man switch ``dms=4`` the exchange cancelled what was
    open when the socket closed)."""
    note = (
        "; with dms=4 the exchange cancelled any open remainder when the socket closed"
        if dms == 4 and open is False
        else ""
    )
    message = f"{label(req)}: outcome unknown: {why}{note}"
    return OrderStatusUnknownError(message, open=open, order=order, **error_fields(req))
