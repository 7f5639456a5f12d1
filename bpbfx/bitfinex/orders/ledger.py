"""Bookkeeping of the requests in flight: indexed by what their replies are matched on, each
decided once.

Replies are matched by content, never by arrival order: ``on`` by ``cid``, ``ou``/``oc``/``foc``
by the order (offer) id, a cancel by cid also by that cid, ``fon`` by amount, rate and period (its
reply has no client id).  An input whose reply could not be told apart from one in flight is
refused before sending (:meth:`Ledger.conflict`): one ``oc_multi`` and one ``ox_multi`` at a
time, one ``ou`` and one ``oc`` per order, one ``fon`` per (amount, rate, period).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .handles import BatchRequest, Completion, Request, complete
from .outcomes import unknown

__all__ = ["Ledger"]


class Ledger:
    """The requests whose outcome is not decided yet, and the completions decided since the
    last :meth:`take_completions`.  No I/O; called under the owner's lock.

    Args:
        today: the current UTC day as ``YYYY-MM-DD`` (the ``cid_date`` of a new order).
    """

    def __init__(self, today: Callable[[], str]) -> None:
        self._today = today
        self.live: dict[Request[Any], None] = {}  # in flight, in order (a dict: removal is O(1))
        self.new: dict[int, Request[Any]] = {}  # cid -> on
        self.updates: dict[int, Request[Any]] = {}  # order id -> ou
        self.cancels: dict[int, Request[Any]] = {}  # order id -> oc
        self.cancels_by_cid: dict[int, Request[Any]] = {}  # cid -> oc by cid
        self.multi: Request[Any] | None = None  # oc_multi
        self.batch: BatchRequest | None = None  # ox_multi
        self.fon: list[Request[Any]] = []
        self.foc: dict[int, Request[Any]] = {}  # offer id -> foc
        self.cid_days: dict[int, str] = {}  # cids submitted here -> UTC day
        self.completions: list[Completion] = []

    def take_completions(self) -> list[Completion]:
        """``(request, result, error)`` decided since the last call, in order."""
        done, self.completions = self.completions, []
        return done

    @staticmethod
    def offer_signature(payload: Any) -> tuple[Decimal, Decimal, int]:
        """What a ``fon`` reply is matched on: (amount, rate, period)."""
        return (Decimal(payload["amount"]), Decimal(payload["rate"]), int(payload["period"]))

    def conflict(self, subs: list[Request[Any]], head: Request[Any]) -> str | None:
        """Why a reply to one of ``subs`` (the operations of the frame ``head``) could not be
        told apart from one in flight, or None."""
        if isinstance(head, BatchRequest) and self.batch is not None:
            return "another order_batch (ox_multi) is awaiting its outcome; one at a time"
        multis = sum(1 for r in subs if r.kind == "oc_multi")
        if multis and (self.multi is not None or multis > 1):
            return "another cancel_orders (oc_multi) is awaiting its outcome; one at a time"
        seen: set[tuple[str, Any]] = set()
        for req in subs:
            key: tuple[str, Any] | None = None
            if req.kind == "on":
                assert req.cid is not None
                if req.cid in self.new:
                    return f"a new order with cid {req.cid} is already awaiting its outcome"
                key = ("on", req.cid)
            elif req.kind == "ou":
                if req.order_id in self.updates:
                    return f"an update of order {req.order_id} is still awaiting its outcome; wait for it"
                key = ("ou", req.order_id)
            elif req.kind == "oc":
                if req.order_id is not None and req.order_id in self.cancels:
                    return f"a cancel of order {req.order_id} is already awaiting its outcome"
                if req.cid is not None and req.cid in self.cancels_by_cid:
                    return f"a cancel of cid {req.cid} is already awaiting its outcome"
                key = ("oc", req.order_id if req.order_id is not None else ("cid", req.cid))
            elif req.kind == "foc":
                if req.order_id in self.foc:
                    return f"a cancel of funding offer {req.order_id} is already awaiting its outcome"
            elif req.kind == "fon":
                sig = self.offer_signature(req.input.payload)
                if any(self.offer_signature(r.input.payload) == sig for r in self.fon):
                    return (
                        "a funding offer with the same amount, rate and period is awaiting its outcome; the "
                        "exchange's reply carries no client id to tell them apart"
                    )
            if key is not None:
                if key in seen:
                    return f"two operations of one batch target the same order ({key[1]})"
                seen.add(key)
        return None

    def register(self, req: Request[Any]) -> None:
        """Index a request just sent by what its reply will be matched on."""
        if isinstance(req, BatchRequest):
            self.batch = req
            self.live[req] = None
            return
        kind = req.kind
        if kind == "calc":
            self.live[req] = None  # decided when the frame is sent (no reply exists)
            return
        self.live[req] = None
        if kind == "on":
            assert req.cid is not None
            req.cid_date = self._today()
            self.cid_days[req.cid] = req.cid_date
            if len(self.cid_days) > 10_000:  # keep the memory of cids bounded
                for old in list(self.cid_days)[:5_000]:
                    del self.cid_days[old]
            self.new[req.cid] = req
        elif kind == "ou":
            assert req.order_id is not None
            self.updates[req.order_id] = req
        elif kind == "oc":
            if req.order_id is not None:
                self.cancels[req.order_id] = req
            elif req.cid is not None:
                self.cancels_by_cid[req.cid] = req
        elif kind == "oc_multi":
            self.multi = req
        elif kind == "fon":
            self.fon.append(req)
        elif kind == "foc":
            assert req.order_id is not None
            self.foc[req.order_id] = req

    def decide(self, req: Request[Any], result: Any, error: BaseException | None, *, now: bool = False) -> None:
        """Record the outcome of ``req`` and queue its completion (once).  With ``now`` (a
        handle being refused inside submit, before anyone could attach a callback) the future
        is completed at once instead.  A batch is decided once all its operations are."""
        if req.outcome is not None:
            return
        req.outcome = (result, error)
        req.state = "done"
        self._unregister(req)
        if now:
            complete([(req, result, error)])
        else:
            self.completions.append((req, result, error))
        batch = req.batch
        if batch is not None and batch.outcome is None and all(r.outcome is not None for r in batch.requests):
            first = next((r.outcome[1] for r in batch.requests if r.outcome and r.outcome[1] is not None), None)
            results = [r.outcome[0] if r.outcome else None for r in batch.requests]
            self.decide(batch, None if first is not None else results, first, now=now)

    def fail_unknown(
        self, req: Request[Any], why: str, *, dms: int | None, open: bool | None = None, order: Any = None
    ) -> None:
        """Decide ``req`` (unless decided) with OrderStatusUnknownError, for ``why``."""
        if req.outcome is not None:
            return
        self.decide(req, None, unknown(req, why, dms=dms, open=open, order=order))

    def _unregister(self, req: Request[Any]) -> None:
        self.live.pop(req, None)
        for table, key in (
            (self.new, req.cid if req.kind == "on" else None),
            (self.updates, req.order_id if req.kind == "ou" else None),
            (self.cancels, req.order_id if req.kind == "oc" else None),
            (self.cancels_by_cid, req.cid if req.kind == "oc" else None),
            (self.foc, req.order_id if req.kind == "foc" else None),
        ):
            if key is not None and table.get(key) is req:
                del table[key]
        if self.multi is req:
            self.multi = None
        if self.batch is req:
            self.batch = None
        if req in self.fon:
            self.fon.remove(req)
