"""Request handles: the futures an input's outcome completes, and the order changes reported.

A :class:`Request` is a :class:`concurrent.futures.Future` completed on the client's reader
thread with :func:`complete`, outside the client's lock.  Its outcome comes from the exchange's
replies on channel 0 (notifications ``n`` and order frames, https://docs.bitfinex.com/docs/ws-auth)
or, after a dropped socket, from the snapshot sent on re-authentication.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from ..events import AccountTrade, Notification, Order
from .inputs import OrderInput

__all__ = ["BatchRequest", "Completion", "OrderChange", "Request", "RequestState", "complete"]

_T = TypeVar("_T")

RequestState = Literal["sent", "acknowledged", "in_doubt", "reconciling", "history", "done"]


class Request(Future[_T]):
    """The handle of one input: a :class:`concurrent.futures.Future` that the client
    completes on its reader thread.

    :meth:`result` returns the :class:`~bpbfx.bitfinex.events.Order` (``on``, ``ou``, ``oc``),
    a tuple of orders (``oc_multi``), a :class:`~bpbfx.bitfinex.events.FundingOffer` (``fon``,
    ``foc``) or ``None`` (``calc``, which has no reply).  It raises
    :class:`~bpbfx.exceptions.OrderRejectedError` when the exchange refused the input,
    :class:`~bpbfx.exceptions.OrderNotSentError` when it was not sent,
    :class:`~bpbfx.exceptions.OrderStatusUnknownError` when its outcome could not be confirmed.
    Works with :func:`concurrent.futures.wait`, :func:`~concurrent.futures.as_completed` and
    :meth:`add_done_callback` (callbacks run on the reader thread, or at once on the calling
    thread when already done).  :meth:`cancel` always returns False: a sent input cannot be
    withdrawn; cancel the order with ``cancel_order`` instead.

    Attributes:
        input: the :class:`OrderInput` sent.
        state: ``"sent"``, ``"acknowledged"`` (cancel accepted, confirmation pending),
            ``"in_doubt"`` (socket dropped before the outcome), ``"reconciling"`` (waiting a
            moment after the snapshot), ``"history"`` (reading the account's order history),
            ``"done"``.
        cid / cid_date: of a new order (generated when not given) or of a cancel by cid.
        order_id: the order (offer) id, once known.
        notification: the exchange's ``n`` reply, once received.
        reconciled: True when the outcome came from the snapshot or the order history after
            a reconnect.
        from_history: True when the outcome came from the order history (REST): the order
            left the book while the socket was down, and :meth:`result` gives it as history
            shows it (``status`` ``"EXECUTED @ ..."``, ``"CANCELED ..."``).
        fills: a new order decided from the order history: its fills
            (:class:`~bpbfx.bitfinex.events.AccountTrade`, oldest first, read from the trade
            history; ``()`` when it did not trade); ``None`` when they were not read (any other
            outcome: live fills arrive as ``te``/``tu`` account events).
    """

    def __init__(self, inp: OrderInput) -> None:
        super().__init__()
        self.set_running_or_notify_cancel()  # a sent input cannot be withdrawn
        self.input = inp
        self.kind = inp.kind
        self.state: RequestState = "sent"
        self.cid: int | None = inp.cid
        self.cid_date: str | None = inp.payload.get("cid_date") if isinstance(inp.payload, dict) else None
        self.order_id: int | None = inp.order_id
        self.notification: Notification | None = None
        self.reconciled = False
        self.sent_at = 0.0  # monotonic
        self.lost_at: float | None = None  # monotonic time the socket dropped while in flight
        self.deadline: float | None = None  # reconciling: give up at this monotonic time
        self.batch: BatchRequest | None = None
        self.outcome: tuple[Any, BaseException | None] | None = None  # decided, not yet applied
        self.evidence: int | None = None  # order id seen in a trade for this cid
        self.sent_ms: int | None = None  # wall-clock time it was sent, epoch ms
        self.from_history = False
        self.fills: tuple[AccountTrade, ...] | None = None

    def __repr__(self) -> str:
        ident = f" cid={self.cid}" if self.cid is not None else ""
        ident += f" id={self.order_id}" if self.order_id is not None else ""
        return f"<Request {self.kind}{ident} {self.state}>"


class BatchRequest(Request[list[Any]]):
    """Handle of an ``ox_multi``: :attr:`requests` holds one :class:`Request` per operation,
    in order, each completed by its own reply.  :meth:`result` gives the list of their
    results once all are done, or raises the first operation's error (in operation order);
    inspect :attr:`requests` to see which operations succeeded."""

    def __init__(self, inp: OrderInput, requests: Sequence[Request[Any]]) -> None:
        super().__init__(inp)
        self.requests: tuple[Request[Any], ...] = tuple(requests)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderChange:
    """A change to the live view of open orders, handed to ``on_order``.

    ``kind`` is ``"new"`` (now open), ``"update"`` (changed: filled in part, amended) or
    ``"closed"`` (no longer open: ``order.status`` says EXECUTED or CANCELED; a ``"closed"``
    from a snapshot (``source == "os"``) means the order left while the socket was down and
    ``order`` is its last state seen).  ``source`` is the frame type: ``os``, ``on``, ``ou``,
    ``oc``.  ``previous`` is the state before, when it was open.
    """

    kind: Literal["new", "update", "closed"]
    order: Order
    source: str
    previous: Order | None = None


Completion = tuple[Request[Any], Any, "BaseException | None"]


def complete(completions: Iterable[Completion]) -> None:
    """Apply ``(request, result, error)`` outcomes to their futures (runs done-callbacks;
    call outside any lock)."""
    for req, result, error in completions:
        if req.done():
            continue
        if error is not None:
            req.set_exception(error)
        else:
            req.set_result(result)
