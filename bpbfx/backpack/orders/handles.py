"""Request handles: the futures an order input's outcome completes.

A :class:`Request` is a :class:`concurrent.futures.Future` completed on the client's orders
thread, outside the client's lock, from the exchange's REST answer, its ``account.orderUpdate``
stream or, for an input left in doubt, its records (query, order history, fills).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from typing import Any, Final, Literal, TypeVar

from .inputs import OrderInput

__all__ = ["BATCH_DONE", "BatchRequest", "Completion", "Request", "RequestState", "batch_outcome", "complete"]

_T = TypeVar("_T")

RequestState = Literal["sending", "sent", "acknowledged", "in_doubt", "reconciling", "done"]


class Request(Future[_T]):
    """The handle of one Backpack order input: a :class:`concurrent.futures.Future`.

    :meth:`result` returns the :class:`~bpbfx.backpack.orders.Order` (a new order, a cancel) or a
    list of orders (``cancel_all_orders``).  It raises
    :class:`~bpbfx.exceptions.OrderRejectedError` when the exchange refused the input,
    :class:`~bpbfx.exceptions.OrderNotSentError` when it was not sent,
    :class:`~bpbfx.exceptions.OrderStatusUnknownError` when neither the answer, the stream nor
    the exchange's records could tell what became of it.  :meth:`cancel` always returns False: a
    sent input cannot be withdrawn; cancel the order instead.

    Attributes:
        input: the :class:`~bpbfx.backpack.orders.OrderInput` sent.
        client_id: the order's ``clientId`` (generated when not given).
        order_id: the exchange's order id, once known.
        symbol: the market.
        state: ``"sending"``, ``"sent"``, ``"acknowledged"`` (a cancel answered 202),
            ``"in_doubt"`` (no usable answer), ``"reconciling"`` (its records are being read),
            ``"done"``.
        reconciled: True when the outcome came from the stream or the records after the answer
            was lost.
        http_status: the HTTP status of the answer, when there was one.
    """

    def __init__(self, inp: OrderInput, client_id: int | None = None) -> None:
        super().__init__()
        self.set_running_or_notify_cancel()  # a sent input cannot be withdrawn
        self.input = inp
        self.kind = inp.kind
        self.client_id: int | None = client_id if client_id is not None else inp.client_id
        self.order_id: str | None = inp.order_id
        self.symbol = inp.symbol
        self.state: RequestState = "sending"
        self.reconciled = False
        self.http_status: int | None = None
        self.sent_at = 0.0
        self.lost_at: float | None = None
        self.deadline: float | None = None
        self.batch: BatchRequest | None = None
        self.reason = ""
        """Why the request is in doubt (kept for the final message)."""
        self.steps_done = 0  # reconciliation lookups completed
        self.failures = 0  # failed attempts of the current lookup
        self.due = 0.0  # monotonic time the next reconciliation step may start

    def __repr__(self) -> str:
        ident = f" clientId={self.client_id}" if self.client_id is not None else ""
        ident += f" id={self.order_id}" if self.order_id is not None else ""
        return f"<Request {self.kind} {self.symbol}{ident} {self.state}>"


class BatchRequest(Request[list[Any]]):
    """Handle of a batch of new orders: :attr:`requests` holds one :class:`Request` per order,
    each completed on its own.  :meth:`result` gives their orders once all are done, or raises
    the first order's error (in batch order); look at :attr:`requests` to see which succeeded."""

    def __init__(self, inp: OrderInput, requests: Sequence[Request[Any]]) -> None:
        super().__init__(inp)
        self.requests: tuple[Request[Any], ...] = tuple(requests)


Completion = tuple[Request[Any], Any, "BaseException | None"]

BATCH_DONE: Final = object()
"""The result a batch is completed with: its children's results (or first error) are taken."""


def batch_outcome(batch: BatchRequest) -> tuple[list[Any] | None, BaseException | None]:
    """A finished batch's outcome from its children: their results in order, or the first error."""
    results: list[Any] = []
    for child in batch.requests:
        error = child.exception(0)
        if error is not None:
            return None, error
        results.append(child.result(0))
    return results, None


def complete(completions: Iterable[Completion]) -> None:
    """Apply ``(request, result, error)`` outcomes to their futures, in order (runs
    done-callbacks; call outside any lock).  A batch comes after its children."""
    for req, result, error in completions:
        if req.done():
            continue
        if result is BATCH_DONE and isinstance(req, BatchRequest):
            result, error = batch_outcome(req)
        if error is not None:
            req.set_exception(error)
        else:
            req.set_result(result)
