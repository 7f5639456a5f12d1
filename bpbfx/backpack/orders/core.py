"""Backpack order entry without I/O: requests, their outcomes, reconciliation, the open orders.

:class:`OrderCore` never sends or reads anything and reads no clock of its own: the client
registers each input before sending it, then feeds the core what happened (the HTTP answer or
the failure, the ``account.orderUpdate`` events, the answers of the lookups it asked for) with
the current monotonic time.  The core queues what the client must do: futures to complete,
changes of the open-orders view to report, errors to report, lookups to make.

**Exactly once.**  An input is sent once and never replayed.  An input whose answer is lost (a
timeout or reset after the request may have left, a 5xx such as 503 "Unknown error") is *in
doubt* and is decided from the exchange's own records, in this order:

1. the stream: an ``account.orderUpdate`` event carrying the order's ``clientId`` (events may
   even come before the REST answer) decides it at once;
2. ``GET /api/v1/order?clientId=``: a resting order is found (404 otherwise);
3. ``GET /wapi/v1/history/orders``: the order, with its final status, among the market's
   newest orders (rows carry ``clientId``);
4. ``GET /wapi/v1/history/fills``: a fill carrying the ``clientId``;
5. the history once more after a short wait (it may lag the engine).

Only when none of them knows the order does the request fail with
:class:`~bpbfx.exceptions.OrderStatusUnknownError` (``open=False``: no record of it, almost
certainly never placed).  A cancel answered ``202 Accepted`` is done when the stream's
``orderCancelled`` arrives, else it is decided the same way.
"""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from ...exceptions import (
    BpbfxError,
    OrderNotSentError,
    OrderRateLimitError,
    OrderRejectedError,
    OrderStatusUnknownError,
    RequestAbortedError,
)
from ..events import OrderUpdate
from .handles import BATCH_DONE, BatchRequest, Completion, Request
from .inputs import OrderInput
from .model import Order, OrderChange, order_from_event, order_from_rest
from .rules import CLOSED_CODES, IN_DOUBT_STATUSES

__all__ = ["Lookup", "OrderCore", "parse_error"]

LookupKind = Literal["query", "history", "fills", "orders"]
_CLOSED_KEPT = 10_000
_EVIDENCE_KEPT = 10_000
# The records read, in order, for a request in doubt (the history twice: it may lag the engine).
_STEPS: dict[str, tuple[LookupKind, ...]] = {
    "execute": ("query", "history", "fills", "history"),
    "cancel": ("query", "history", "history"),
    "cancel_all": ("orders",),
}


@dataclass(frozen=True, slots=True)
class Lookup:
    """A record to read for a request in doubt: ``kind`` ``"query"`` (``GET /api/v1/order``),
    ``"history"`` (``GET /wapi/v1/history/orders``), ``"fills"`` (``GET
    /wapi/v1/history/fills``) or ``"orders"`` (``GET /api/v1/orders``), for ``symbol`` and the
    order's ``client_id`` or ``order_id``.  Hand the answer to :meth:`OrderCore.looked_up`."""

    request: Request[Any]
    kind: LookupKind
    symbol: str
    client_id: int | None = None
    order_id: str | None = None


def parse_error(status: int, body: bytes) -> tuple[str | None, str]:
    """``(code, message)`` of a refusal: JSON ``{"code", "message"}`` or plain text (some
    parse errors come as text: ``parse request payload error: ...``)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        value = json.loads(text) if text else None
    except ValueError:
        value = None
    if isinstance(value, Mapping):
        code = value.get("code")
        message = value.get("message")
        return (str(code) if code is not None else None, str(message) if message is not None else text[:300])
    return None, text[:300] or f"HTTP {status}"


class OrderCore:
    """See the module docstring.  Not thread-safe: the client calls it under its lock.

    Args:
        stream_grace: seconds an input in doubt waits for its stream event before its records
            are read.
        confirm_timeout: seconds a cancel answered 202 waits for ``orderCancelled``.
        history_grace: seconds before the order history is read a second time.
        lookup_tries: attempts of a lookup that fails (network) before giving up.
    """

    def __init__(
        self,
        *,
        stream_grace: float = 1.0,
        confirm_timeout: float = 10.0,
        history_grace: float = 2.0,
        lookup_tries: int = 3,
    ) -> None:
        self.stream_grace = stream_grace
        self.confirm_timeout = confirm_timeout
        self.history_grace = history_grace
        self.lookup_tries = lookup_tries
        self.orders: dict[str, Order] = {}
        """The open orders by order id: the live view."""
        self._pending: dict[int, Request[Any]] = {}  # id(request) -> request not done
        self._by_client: dict[int, Request[Any]] = {}  # clientId -> new-order request not done
        self._evidence: OrderedDict[int, Order] = OrderedDict()  # clientId -> last order seen for it
        self._closed: OrderedDict[str, Order] = OrderedDict()  # order id -> its closing state
        self._completions: list[Completion] = []
        self._changes: list[OrderChange] = []
        self._errors: list[BpbfxError] = []
        self._lookups: list[Lookup] = []
        self._looking: set[int] = set()  # id(request) with a lookup out

    # ------------------------------------------------------------------ outputs
    @property
    def has_output(self) -> bool:
        """True when something waits to be taken."""
        return bool(self._completions or self._changes or self._errors or self._lookups)

    def take_completions(self) -> list[Completion]:
        out, self._completions = self._completions, []
        return out

    def take_changes(self) -> list[OrderChange]:
        out, self._changes = self._changes, []
        return out

    def take_errors(self) -> list[BpbfxError]:
        out, self._errors = self._errors, []
        return out

    def take_lookups(self) -> list[Lookup]:
        out, self._lookups = self._lookups, []
        return out

    @property
    def pending(self) -> tuple[Request[Any], ...]:
        """Requests not done yet."""
        return tuple(self._pending.values())

    # ------------------------------------------------------------------ requests
    def register(self, inp: OrderInput, now: float) -> Request[Any]:
        """The handle of an input about to be sent (before the request leaves)."""
        if inp.kind == "batch":
            children = [Request[Any](inp, client_id=cid) for cid in inp.client_ids]
            batch = BatchRequest(inp, children)
            for child in children:
                child.batch = batch
                self._track(child, now)
            self._pending[id(batch)] = batch
            batch.sent_at = now
            batch.state = "sent"
            return batch
        req: Request[Any] = Request(inp)
        self._track(req, now)
        return req

    def _track(self, req: Request[Any], now: float) -> None:
        req.sent_at = now
        req.state = "sent"
        self._pending[id(req)] = req
        if req.kind == "execute" and req.client_id is not None:
            self._by_client[req.client_id] = req
            seen = self._evidence.get(req.client_id)
            if seen is not None:
                req.order_id = seen.id

    def answered(self, req: Request[Any], status: int, body: bytes, now: float) -> None:
        """The HTTP answer of ``req``."""
        req.http_status = status
        kind = req.kind
        if kind == "batch":
            self._answered_batch(req, status, body, now)
            return
        if status == 202 and kind == "cancel":
            req.state = "acknowledged"
            req.deadline = now + self.confirm_timeout
            self._check_cancel_evidence(req, now)
            return
        if 200 <= status < 300:
            try:
                value = json.loads(body) if body else None
                if kind == "cancel_all":
                    rows = value if isinstance(value, list) else []
                    orders = [order_from_rest(r) for r in rows if isinstance(r, Mapping)]
                    for order in orders:
                        self._apply(order, "rest")
                    self._decide(req, orders, None)
                    return
                if not isinstance(value, Mapping):
                    raise ValueError("not an order object")
                order = order_from_rest(value)
            except (ValueError, KeyError, TypeError) as exc:
                self._in_doubt(req, now, f"HTTP {status} with an answer not understood ({exc})")
                return
            req.order_id = order.id
            self._apply(order, "rest")
            self._decide(req, order, None)
            return
        if (status in IN_DOUBT_STATUSES or status >= 500) and not _closed_for_business(status, body):
            _code, message = parse_error(status, body)
            self._in_doubt(req, now, f"HTTP {status} {message}")
            return
        self._decide(req, None, self._refusal(req, status, body))

    def _answered_batch(self, batch: Request[Any], status: int, body: bytes, now: float) -> None:
        assert isinstance(batch, BatchRequest)
        children = batch.requests
        if 200 <= status < 300:
            try:
                rows = json.loads(body)
                if not isinstance(rows, list) or len(rows) != len(children):
                    got = len(rows) if isinstance(rows, list) else "no"
                    raise ValueError(f"{got} results for {len(children)} orders")
            except ValueError as exc:
                for child in children:
                    self._in_doubt(child, now, f"HTTP {status} with an answer not understood ({exc})")
                return
            for child, row in zip(children, rows, strict=True):
                child.http_status = status
                if isinstance(row, Mapping) and "id" in row:
                    try:
                        order = order_from_rest(row)
                    except (ValueError, KeyError, TypeError) as exc:
                        self._in_doubt(child, now, f"answer not understood ({exc})")
                        continue
                    child.order_id = order.id
                    self._apply(order, "rest")
                    self._decide(child, order, None)
                else:
                    raw = json.dumps(row).encode() if isinstance(row, Mapping) else str(row).encode()
                    self._decide(child, None, self._refusal(child, 400, raw))
            return
        for child in children:
            child.http_status = status
            if (status in IN_DOUBT_STATUSES or status >= 500) and not _closed_for_business(status, body):
                self._in_doubt(child, now, f"HTTP {status}")
            else:
                self._decide(child, None, self._refusal(child, status, body))

    def failed(self, req: Request[Any], error: BpbfxError, now: float) -> None:
        """The request failed before an answer: not sent (``maybe_sent`` False), or in doubt."""
        maybe_sent = getattr(error, "maybe_sent", True)
        targets = req.requests if isinstance(req, BatchRequest) else (req,)
        for target in targets:
            if not maybe_sent:
                reason = "the client is closing" if isinstance(error, RequestAbortedError) else str(error)
                self._decide(target, None, OrderNotSentError(
                    f"{_label(target)} was not sent ({reason}); nothing was placed, it is safe to send again",
                    **_fields(target),
                ))
            else:
                what = "the client closed" if isinstance(error, RequestAbortedError) else str(error)
                self._in_doubt(target, now, what)

    def refuse(self, inp: OrderInput, error: BpbfxError, now: float) -> Request[Any]:
        """A handle failed at once with ``error`` (an input refused before sending: a local rate
        limit, no connection); nothing was sent."""
        req = self.register(inp, now)
        targets = req.requests if isinstance(req, BatchRequest) else (req,)
        for target in targets:
            self._decide(target, None, error)
        return req

    # ------------------------------------------------------------------ the stream
    def on_event(self, event: OrderUpdate, now: float) -> None:
        """An ``account.orderUpdate`` event: the view changes; requests it decides are done."""
        if event.order_id is None:
            return
        before = self.orders.get(event.order_id)
        try:
            order = order_from_event(event, before)
        except (ValueError, KeyError, TypeError):
            return
        self._apply(order, "stream")
        if order.client_id is not None:
            self._evidence[order.client_id] = order
            self._evidence.move_to_end(order.client_id)
            while len(self._evidence) > _EVIDENCE_KEPT:
                self._evidence.popitem(last=False)
            req = self._by_client.get(order.client_id)
            if req is not None:
                req.order_id = order.id
                if req.state in ("in_doubt", "reconciling"):
                    req.reconciled = True
                    self._decide(req, order, None)
        for req in list(self._pending.values()):
            if req.kind == "cancel" and self._cancel_target(req, order):
                self._cancel_outcome(req, order)

    def _cancel_target(self, req: Request[Any], order: Order) -> bool:
        inp = req.input
        return (inp.order_id is not None and inp.order_id == order.id) or (
            inp.client_id is not None and inp.client_id == order.client_id
        )

    def _cancel_outcome(self, req: Request[Any], order: Order) -> None:
        """A cancel waiting for confirmation sees its order's state."""
        if req.state not in ("acknowledged", "in_doubt", "reconciling"):
            return
        req.order_id = order.id
        if order.status == "Cancelled":
            req.reconciled = req.state != "acknowledged"
            self._decide(req, order, None)
        elif not order.is_open:
            self._decide(req, None, OrderRejectedError(
                f"{_label(req)}: the order ended {order.status} before the cancel took effect",
                status=order.status, text=order.status, **_fields(req),
            ))

    def _check_cancel_evidence(self, req: Request[Any], now: float) -> None:
        for order in self._closed.values():
            if self._cancel_target(req, order):
                self._cancel_outcome(req, order)
                return

    def snapshot(self, orders: Iterable[Order]) -> None:
        """The open orders after a (re)connect of the private stream (``GET /api/v1/orders``):
        orders no longer there are closed, new ones open."""
        fresh = {o.id: o for o in orders}
        for order_id, old in list(self.orders.items()):
            if order_id not in fresh:
                del self.orders[order_id]
                self._remember_closed(old)
                self._changes.append(OrderChange(kind="closed", order=old, source="snapshot", previous=old))
        for order in fresh.values():
            self._apply(order, "snapshot")

    # ------------------------------------------------------------------ the view
    def _apply(self, order: Order, source: str) -> None:
        closed = self._closed.get(order.id)
        if closed is not None:
            return  # already closed: an older state arriving late changes nothing
        previous = self.orders.get(order.id)
        if previous is not None and order.executed_quantity < previous.executed_quantity:
            return  # an older state than the one held
        if previous is not None:
            order = _merged(previous, order)
        if order.is_open:
            self.orders[order.id] = order
            if previous is None:
                self._changes.append(OrderChange(kind="new", order=order, source=source))
            elif _state(previous) != _state(order):
                self._changes.append(OrderChange(kind="update", order=order, source=source, previous=previous))
        else:
            self.orders.pop(order.id, None)
            self._remember_closed(order)
            self._changes.append(OrderChange(kind="closed", order=order, source=source, previous=previous))

    def _remember_closed(self, order: Order) -> None:
        self._closed[order.id] = order
        while len(self._closed) > _CLOSED_KEPT:
            self._closed.popitem(last=False)

    # ------------------------------------------------------------------ doubt and reconciliation
    def _in_doubt(self, req: Request[Any], now: float, why: str) -> None:
        if req.state == "done":
            return
        req.state = "in_doubt"
        req.lost_at = now
        req.due = now + self.stream_grace
        req.reason = why
        if req.kind == "execute" and req.client_id is not None:
            seen = self._evidence.get(req.client_id)
            if seen is not None:
                req.reconciled = True
                self._decide(req, seen, None)
        elif req.kind == "cancel":
            self._check_cancel_evidence(req, now)

    def check(self, now: float) -> None:
        """Timers: start the lookups of requests in doubt whose stream grace has passed, and of
        202-acknowledged cancels whose confirmation is late."""
        for req in list(self._pending.values()):
            if isinstance(req, BatchRequest) or id(req) in self._looking:
                continue
            if req.state == "acknowledged" and req.deadline is not None and now >= req.deadline:
                req.state = "in_doubt"
                req.reason = f"no orderCancelled within {self.confirm_timeout:g}s of the 202 Accepted"
                req.due = now
            if req.state in ("in_doubt", "reconciling") and now >= req.due:
                self._next_step(req)

    def _next_step(self, req: Request[Any]) -> None:
        steps = _STEPS.get(req.kind, ())
        if req.steps_done >= len(steps):
            self._give_up(req)
            return
        req.state = "reconciling"
        kind = steps[req.steps_done]
        client_id = req.client_id if req.kind == "execute" else req.input.client_id
        self._looking.add(id(req))
        order_id = req.order_id or req.input.order_id
        self._lookups.append(Lookup(req, kind, req.symbol, client_id=client_id, order_id=order_id))

    def looked_up(self, lookup: Lookup, status: int | None, body: bytes, now: float) -> None:
        """The answer of a lookup (``status`` None: it failed on the way)."""
        req = lookup.request
        self._looking.discard(id(req))
        if req.state == "done":
            return
        if status is None or status == 429 or status >= 500:
            req.failures += 1
            if req.failures < self.lookup_tries:
                req.due = now + min(2.0, 0.25 * 2**req.failures)  # the same lookup again, later
                return
            self._give_up(req, unreadable=True)
            return
        req.failures = 0
        req.steps_done += 1
        try:
            value = json.loads(body) if body else None
        except ValueError:
            value = None
        kind = lookup.kind
        if kind == "query":
            order = None
            if status == 200 and isinstance(value, Mapping):
                try:
                    order = order_from_rest(value)
                except (ValueError, KeyError, TypeError):
                    order = None
            if order is not None:
                self._apply(order, "rest")
                req.reconciled = True
                if req.kind == "execute":
                    self._decide(req, order, None)
                elif order.is_open:
                    self._give_up(req, open_order=order)  # the cancel has not taken effect
                else:
                    self._cancel_outcome(req, order)
                return
            req.due = now  # 404: not resting; the history is next
            return
        if kind in ("history", "fills"):
            rows = value if isinstance(value, list) else []
            match = self._find(req, lookup, rows)
            if match is not None:
                req.reconciled = True
                self._apply(match, "rest")
                if req.kind == "execute":
                    self._decide(req, match, None)
                else:
                    self._cancel_outcome(req, match)
                return
            steps = _STEPS.get(req.kind, ())
            repeat = req.steps_done < len(steps) and steps[req.steps_done] == "history"
            req.due = now + (self.history_grace if repeat else 0.0)
            return
        # "orders": cancel_all in doubt; what is still open on that market decides it.
        rows = value if isinstance(value, list) else []
        still = [r for r in rows if isinstance(r, Mapping) and r.get("symbol") == req.symbol]
        if still:
            self._give_up(req)
            return
        req.reconciled = True
        self._decide(req, [o for o in self._closed.values() if o.symbol == req.symbol][-50:], None)

    def _find(self, req: Request[Any], lookup: Lookup, rows: list[Any]) -> Order | None:
        client_id = lookup.client_id
        order_id = lookup.order_id
        if lookup.kind == "history":
            for row in rows:
                if not isinstance(row, Mapping):
                    continue
                if (client_id is not None and _int_or_none(row.get("clientId")) == client_id) or (
                    order_id is not None and str(row.get("id")) == order_id
                ):
                    try:
                        return order_from_rest(row)
                    except (ValueError, KeyError, TypeError):
                        return None
            return None
        # Fills carrying the clientId: the order was placed and traded.
        fills = [
            r for r in rows
            if isinstance(r, Mapping) and client_id is not None and _int_or_none(r.get("clientId")) == client_id
        ]
        if not fills:
            return None
        qty = sum((Decimal(str(f.get("quantity", "0"))) for f in fills), Decimal(0))
        quote = sum(
            (Decimal(str(f.get("quantity", "0"))) * Decimal(str(f.get("price", "0"))) for f in fills), Decimal(0)
        )
        first = fills[0]
        body = req.input.body if isinstance(req.input.body, Mapping) else {}
        return Order(
            id=str(first.get("orderId")),
            client_id=client_id,
            symbol=str(first.get("symbol", req.symbol)),
            side=str(body.get("side", first.get("side", "Bid"))),
            order_type=str(body.get("orderType", "Limit")),
            status="Filled",
            price=Decimal(body["price"]) if "price" in body else None,
            quantity=Decimal(body["quantity"]) if "quantity" in body else None,
            executed_quantity=qty,
            executed_quote_quantity=quote,
            data={"fills": fills},
        )

    def _give_up(self, req: Request[Any], *, open_order: Order | None = None, unreadable: bool = False) -> None:
        why = req.reason or "no answer"
        if open_order is not None:
            error = OrderStatusUnknownError(
                f"{_label(req)}: {why}; the order still rests on the book (GET /api/v1/order), so the cancel "
                "has not taken effect; send another cancel if you still want it gone",
                open=True, order=open_order, **_fields(req),
            )
        elif unreadable:
            error = OrderStatusUnknownError(
                f"{_label(req)}: {why}; the exchange's records could not be read either, so whether it was "
                "placed is unknown: look at orders() and the history before sending it again",
                open=None, **_fields(req),
            )
        else:
            what = "placed" if req.kind == "execute" else "cancelled"
            error = OrderStatusUnknownError(
                f"{_label(req)}: {why}; neither the stream, GET /api/v1/order, the order history nor the fills "
                f"know it: almost certainly never {what}",
                open=False, **_fields(req),
            )
        self._decide(req, None, error)

    # ------------------------------------------------------------------ decisions
    def _refusal(self, req: Request[Any], status: int, body: bytes) -> OrderRejectedError | OrderNotSentError:
        code, message = parse_error(status, body)
        lowered = message.lower()
        where = f"{_label(req)} refused (HTTP {status}{', ' + code if code else ''}: {message})"
        if code in CLOSED_CODES:
            return OrderNotSentError(
                f"{where}; the exchange takes no orders now; nothing was placed, it is safe to send again later",
                **_fields(req),
            )
        if status == 429 or code == "TOO_MANY_REQUESTS":
            return OrderRateLimitError(
                f"{where}; Backpack allows about 2,000 requests a minute per account; nothing was placed",
                local=False, status=code, text=message, **_fields(req),
            )
        if status == 401 and ("expired" in lowered or "timestamp" in lowered or "window" in lowered):
            return OrderRejectedError(
                f"{where}; the request's time was outside its window: this machine's clock is measured again "
                "against the exchange's; nothing was placed, it is safe to send again",
                status=code or "EXPIRED", text=message, **_fields(req),
            )
        if "client id already exists" in lowered:
            return OrderRejectedError(
                f"{where}; a clientId is never reusable on Backpack; nothing was placed (leave client_id out to "
                "have one generated)",
                status=code, text=message, **_fields(req),
            )
        return OrderRejectedError(f"{where}; nothing was placed or changed", status=code, text=message, **_fields(req))

    def _decide(self, req: Request[Any], result: Any, error: BaseException | None) -> None:
        if req.state == "done":
            return
        req.state = "done"
        self._pending.pop(id(req), None)
        self._looking.discard(id(req))
        if req.kind == "execute" and req.client_id is not None and self._by_client.get(req.client_id) is req:
            del self._by_client[req.client_id]
        self._completions.append((req, result, error))
        batch = req.batch
        if batch is not None and all(child.state == "done" for child in batch.requests):
            self._pending.pop(id(batch), None)
            batch.state = "done"
            self._completions.append((batch, BATCH_DONE, None))


def _state(order: Order) -> tuple[Any, ...]:
    """What a change to an order is: its status, what it asks for and what it got (the same
    order told by the stream and then by the REST answer is not a change)."""
    return (order.status, order.price, order.quantity, order.quote_quantity, order.trigger_price,
            order.executed_quantity, order.executed_quote_quantity)


def _merged(previous: Order, order: Order) -> Order:
    """``order`` with what only ``previous`` knew (a stream event lacks some of the REST
    answer's fields, and the other way round)."""
    missing = {
        f.name: getattr(previous, f.name)
        for f in dataclasses.fields(order)
        if getattr(order, f.name) is None and getattr(previous, f.name) is not None
    }
    return dataclasses.replace(order, **missing) if missing else order


def _closed_for_business(status: int, body: bytes) -> bool:
    """A 5xx that refuses for certain: the exchange says it is in maintenance or trading is
    paused, so nothing was placed (any other 5xx leaves the outcome unknown)."""
    return parse_error(status, body)[0] in CLOSED_CODES


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _label(req: Request[Any]) -> str:
    inp = req.input
    if req.kind == "execute":
        body = inp.body if isinstance(inp.body, Mapping) else {}
        what = f"{body.get('side', '')} {body.get('quantity', body.get('quoteQuantity', ''))} {inp.symbol}".strip()
        price = f" @ {body['price']}" if "price" in body else ""
        return f"order {what}{price} (clientId {req.client_id})"
    if req.kind == "cancel":
        ident = f"id {inp.order_id}" if inp.order_id is not None else f"clientId {inp.client_id}"
        return f"cancel of {inp.symbol} order {ident}"
    if req.kind == "cancel_all":
        return f"cancel of every {inp.symbol} order"
    return f"batch of {len(inp.client_ids)} orders"


def _fields(req: Request[Any]) -> dict[str, Any]:
    body = req.input.body if isinstance(req.input.body, Mapping) else None
    return {
        "kind": req.kind,
        "cid": req.client_id if req.client_id is not None else req.input.client_id,
        "order_id": req.order_id or req.input.order_id,
        "request": dict(body) if body is not None else None,
    }
