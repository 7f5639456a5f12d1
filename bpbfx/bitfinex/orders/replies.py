"""Match the exchange's replies to the requests in flight, by content, never by arrival order.

Bitfinex answers an input with a notification ``[0, "n", [MTS, "on-req", ..., INFO, CODE, STATUS,
TEXT]]`` and then the frames of the order itself (https://docs.bitfinex.com/docs/ws-auth,
https://docs.bitfinex.com/reference/ws-auth-orders):

- ``on-req``/``ou-req`` carry the order row; a rejection puts ``null`` where the order id would be.
- ``oc-req`` says "Submitted for cancellation; waiting for confirmation" and the ``oc`` order frame
  confirms the cancel; ``foc-req`` and the ``foc`` frame likewise for funding offers.
- An order that fills at once may show up first as ``oc`` (bitfinexcom/bitfinex-api-node README,
  "'on' Packet Guarantees"): a new order is accepted once any frame of it arrives.
- ``fon-req`` has no client id: it is matched on amount, rate and period.
- A refusal whose row names no order goes to the single request of its kind in flight, if there
  is exactly one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from ...exceptions import BpbfxError, MalformedFrameError
from ..decode import decode_account
from ..events import AccountTrade, FundingOffer, FundingOfferUpdate, Notification, Order, OrderUpdate
from .cids import utc_day
from .handles import Request
from .ledger import Ledger
from .outcomes import rejected

__all__ = ["ReplyMatcher", "day_ok", "decode_order", "decode_row", "same_number"]


def _row(info: Any) -> list[Any] | None:
    """The single order/offer row of a notification's INFO (sometimes wrapped once more)."""
    if type(info) is not list or not info:
        return None
    if len(info) == 1 and type(info[0]) is list:
        return info[0]
    return info


def _rows(info: Any) -> list[list[Any]]:
    """The order rows of an ``oc_multi-req`` INFO."""
    if type(info) is not list:
        return []
    if info and type(info[0]) is not list:
        return [info]
    return [row for row in info if type(row) is list]


def _field(row: list[Any] | None, index: int) -> Any:
    return row[index] if row is not None and len(row) > index else None


def same_number(a: Any, b: Any) -> bool:
    """Two numbers equal as decimals (replies carry floats or number text)."""
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except (InvalidOperation, ValueError, TypeError):
        return False


def day_ok(mts: int | None, cid_date: str | None) -> bool:
    """An order created at ``mts`` can be the one submitted on ``cid_date`` (same UTC day, or
    the next one for an order sent just before midnight)."""
    if mts is None or cid_date is None:
        return True
    created = utc_day(mts / 1000)
    if created == cid_date:
        return True
    sent = datetime.strptime(cid_date, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    return created == utc_day(sent.timestamp() + 86_400)


def decode_row(row: Any, msg_type: str, errors: list[BpbfxError]) -> Any:
    """The event of an order (``on``), offer (``fon``) or fill (``tu``) row carried in a
    notification or a history answer, or ``None`` (a row that is not one; a malformed one is
    added to ``errors``)."""
    if type(row) is not list or not row or type(row[0]) is not int:
        return None
    try:
        return decode_account(msg_type, row)
    except MalformedFrameError as exc:
        errors.append(exc)
        return None


def decode_order(row: Any, errors: list[BpbfxError]) -> Order | None:
    """The :class:`Order` of an order row (see :func:`decode_row`)."""
    event = decode_row(row, "on", errors)
    return event.order if isinstance(event, OrderUpdate) else None


def _only(candidates: Iterable[Request[Any]]) -> Request[Any] | None:
    """A refusal whose row names no order: the single request of its kind in flight, if
    there is exactly one (matched by elimination, never by arrival order)."""
    found = list(candidates)
    return found[0] if len(found) == 1 else None


class ReplyMatcher:
    """Decides the requests of ``ledger`` from notifications, order and offer frames and fills;
    collects the replies it cannot read (:meth:`take_errors`).  No I/O; called under the
    owner's lock."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._errors: list[BpbfxError] = []
        self._by_type: dict[str, Callable[[Notification, bool], None]] = {
            "on-req": self._on_req,
            "ou-req": self._ou_req,
            "oc-req": self._oc_req,
            "oc_multi-req": self._oc_multi_req,
            "ox_multi-req": self._ox_multi_req,
            "fon-req": self._fon_req,
            "foc-req": self._foc_req,
        }

    @property
    def has_errors(self) -> bool:
        """Errors wait to be taken."""
        return bool(self._errors)

    def take_errors(self) -> list[BpbfxError]:
        """Replies that could not be read since the last call (malformed rows)."""
        errors, self._errors = self._errors, []
        return errors

    # ------------------------------------------------------------------ notifications
    def notification(self, note: Notification) -> None:
        """``n``: the outcome of a request (``on-req``, ``oc-req``, ...); others are ignored."""
        handler = self._by_type.get(note.type) if note.type is not None else None
        if handler is not None:
            handler(note, note.status == "SUCCESS")

    def _on_req(self, note: Notification, ok: bool) -> None:
        row = _row(note.info)
        cid = _field(row, 2)
        req = self._ledger.new.get(cid) if isinstance(cid, int) else None
        if req is None and cid is None:
            req = self._match_new_by_content(row)
        if req is None:
            return  # not ours (another session, or decided already)
        req.notification = note
        if ok:
            self._created(req, note, note.order or self._decode_order(row), "on-req", "order")
        else:
            self._reject(req, note)

    def _ou_req(self, note: Notification, ok: bool) -> None:
        row = _row(note.info)
        oid = _field(row, 0)
        req = self._ledger.updates.get(oid) if isinstance(oid, int) else None
        if req is None and oid is None and not ok:
            req = _only(self._ledger.updates.values())
        if req is None:
            return
        req.notification = note
        if not ok:
            self._reject(req, note)
        elif note.order is not None and note.order.symbol is not None:
            self._ledger.decide(req, note.order, None)
        else:
            req.state = "acknowledged"  # the `ou` frame follows with the order

    def _oc_req(self, note: Notification, ok: bool) -> None:
        ledger = self._ledger
        row = _row(note.info)
        oid, cid = _field(row, 0), _field(row, 2)
        req = ledger.cancels.get(oid) if isinstance(oid, int) else None
        if req is None and isinstance(cid, int):
            req = ledger.cancels_by_cid.get(cid)
        if req is None and oid is None and cid is None and not ok:
            req = _only([*ledger.cancels.values(), *ledger.cancels_by_cid.values()])
        if req is None:
            return
        req.notification = note
        if ok:
            if isinstance(oid, int):
                req.order_id = oid
            req.state = "acknowledged"  # "Submitted for cancellation": the `oc` frame confirms
        else:
            self._reject(req, note)

    def _oc_multi_req(self, note: Notification, ok: bool) -> None:
        req = self._ledger.multi
        if req is None:
            return
        req.notification = note
        if ok:
            orders = tuple(o for o in (self._decode_order(r) for r in _rows(note.info)) if o is not None)
            self._ledger.decide(req, orders, None)
        else:
            self._reject(req, note)

    def _ox_multi_req(self, note: Notification, ok: bool) -> None:
        batch = self._ledger.batch
        if batch is None:
            return
        batch.notification = note
        if ok:
            # Some servers answer each operation inside the ox_multi-req (REST style).
            for inner in note.info if type(note.info) is list else []:
                if type(inner) is list and len(inner) > 1 and isinstance(inner[1], str):
                    try:
                        decoded = decode_account("n", inner)
                    except MalformedFrameError as exc:
                        self._errors.append(exc)
                        continue
                    if isinstance(decoded, Notification):
                        self.notification(decoded)
        else:
            for sub in batch.requests:
                if sub.outcome is None:
                    self._reject(sub, note)

    def _fon_req(self, note: Notification, ok: bool) -> None:
        row = _row(note.info)
        req = self._match_offer(row)
        if req is None:
            return
        req.notification = note
        if ok:
            self._created(req, note, note.funding_offer or self._decode_offer(row), "fon-req", "offer")
        else:
            self._reject(req, note)

    def _foc_req(self, note: Notification, ok: bool) -> None:
        row = _row(note.info)
        oid = _field(row, 0)
        req = self._ledger.foc.get(oid) if isinstance(oid, int) else None
        if req is None and oid is None and not ok:
            req = _only(self._ledger.foc.values())
        if req is None:
            return
        req.notification = note
        if ok:
            req.state = "acknowledged"  # the `foc` frame confirms
        else:
            self._reject(req, note)

    def _created(
        self, req: Request[Any], note: Notification, item: Order | FundingOffer | None, ntype: str, noun: str
    ) -> None:
        """A SUCCESS that creates ``item`` (an order or offer): the request is done with it."""
        if item is None:
            self._errors.append(MalformedFrameError(f"{ntype} SUCCESS without an {noun} row: {note.data!r}"[:300]))
            return
        req.order_id = item.id
        self._ledger.decide(req, item, None)

    def _reject(self, req: Request[Any], note: Notification) -> None:
        self._ledger.decide(req, None, rejected(req, note))

    def _match_new_by_content(self, row: list[Any] | None) -> Request[Any] | None:
        """A rejection without a cid: the one pending new order with its symbol and amount."""
        symbol, amount = _field(row, 3), _field(row, 6)
        found = [
            r
            for r in self._ledger.new.values()
            if r.input.payload.get("symbol") == symbol and same_number(r.input.payload.get("amount"), amount)
        ]
        return found[0] if len(found) == 1 else None

    def _match_offer(self, row: list[Any] | None) -> Request[Any] | None:
        """A ``fon`` reply has no client id: match on amount, rate and period (and symbol when
        the reply names it); with a single offer in flight and no row, that one."""
        fon = self._ledger.fon
        if row is None:
            return fon[0] if len(fon) == 1 else None
        symbol, amount, rate, period = _field(row, 1), _field(row, 4), _field(row, 14), _field(row, 15)
        for req in fon:
            p = req.input.payload
            if symbol is not None and symbol != p["symbol"]:
                continue
            if amount is not None and not same_number(amount, p["amount"]):
                continue
            if rate is not None and not same_number(rate, p["rate"]):
                continue
            if period is not None and period != p["period"]:
                continue
            return req
        return None

    def _decode_order(self, row: Any) -> Order | None:
        return decode_order(row, self._errors)

    def _decode_offer(self, row: Any) -> FundingOffer | None:
        event = decode_row(row, "fon", self._errors)
        return event.offer if isinstance(event, FundingOfferUpdate) else None

    # ------------------------------------------------------------------ order and offer frames
    def order_frame(self, order: Order, kind: str) -> None:
        """``on``/``ou``/``oc``: settle the requests the frame proves."""
        ledger = self._ledger
        # A new order is accepted once any frame of it arrives (an order that fills at once may
        # show up first as `oc`: bitfinex-api-node README).
        if order.cid is not None:
            req = ledger.new.get(order.cid)
            if req is not None and day_ok(order.mts_create, req.cid_date):
                req.order_id = order.id
                req.reconciled = req.state in ("in_doubt", "reconciling")
                ledger.decide(req, order, None)
            creq = ledger.cancels_by_cid.get(order.cid)
            if creq is not None and kind == "cancel" and day_ok(order.mts_create, creq.cid_date):
                creq.order_id = order.id
                ledger.decide(creq, order, None)
        if kind == "cancel":
            req = ledger.cancels.get(order.id)
            if req is not None:
                ledger.decide(req, order, None)
        ureq = ledger.updates.get(order.id)
        if ureq is not None and ureq.state in ("acknowledged", "reconciling") and kind != "new":
            ledger.decide(ureq, order, None)

    def offer_frame(self, offer: FundingOffer, kind: str) -> None:
        """``fon``/``fou``/``foc``: settle the offer requests the frame proves."""
        if kind == "cancel":
            req = self._ledger.foc.get(offer.id)
            if req is not None:
                self._ledger.decide(req, offer, None)
        elif kind == "new":
            row: list[Any] = [offer.id, offer.symbol, None, None, offer.amount_orig, *([None] * 9)]
            match = self._match_offer([*row, offer.rate, offer.period])
            if match is not None:
                match.order_id = offer.id
                match.reconciled = match.state in ("in_doubt", "reconciling")
                self._ledger.decide(match, offer, None)

    def trade(self, trade: AccountTrade) -> None:
        """A fill (``te``/``tu``) of a new order in flight proves the order was accepted."""
        req = self._ledger.new.get(trade.cid) if trade.cid is not None else None
        if req is not None and trade.order_id is not None:
            req.evidence = trade.order_id
            req.order_id = trade.order_id
