"""Reconciliation: deciding the requests left in doubt by a dropped socket, exactly once.

An input is sent once and never replayed.  A request whose socket drops before its outcome
arrives is *in doubt*; after re-authentication Bitfinex sends the open orders (``os``) and the
active funding offers (``fos``) (https://docs.bitfinex.com/reference/ws-auth-orders,
https://docs.bitfinex.com/reference/ws-auth-offers), and the snapshot decides what it can:

- new order: its cid (created that UTC day) is in the snapshot -> done with that order; else
  wait ``reconcile_grace`` for a late frame, then OrderStatusUnknownError(open=False) (never
  placed, or executed, or cancelled: the snapshot cannot tell which).
- update: the order is in the snapshot showing every requested price/amount/gid -> done;
  otherwise (or after the grace) OrderStatusUnknownError with ``open``.
- cancel: the order is in the snapshot -> grace, then OrderStatusUnknownError(open=True); not
  in it -> OrderStatusUnknownError(open=False) (cancelled or executed).
- cancel_orders / order_batch operations: by the same rules, per order.
- funding offer: an active offer with its symbol, amount, rate and period -> done; else grace,
  then unknown (open=False); an offer cancel: grace, then unknown with whether it is still active.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..events import Order
from .handles import Request
from .ledger import Ledger
from .replies import day_ok, same_number
from .views import AccountView

__all__ = ["give_up", "reconcile_offers", "reconcile_orders"]


def reconcile_orders(ledger: Ledger, view: AccountView, deadline: float) -> None:
    """Decide the order requests in doubt from the ``os`` just applied to ``view``; the others
    wait for a late frame until ``deadline`` (monotonic seconds)."""
    by_cid = {o.cid: o for o in view.orders.values() if o.cid is not None}
    for req in list(ledger.live):
        if req.state != "in_doubt" or req.kind not in ("on", "ou", "oc", "oc_multi"):
            continue
        if req.kind == "on":
            order = by_cid.get(req.cid) if req.cid is not None else None
            if order is not None and day_ok(order.mts_create, req.cid_date):
                req.order_id = order.id
                req.reconciled = True
                ledger.decide(req, order, None)
                continue
        elif req.kind == "ou":
            order = view.orders.get(req.order_id) if req.order_id is not None else None
            if order is not None and _update_visible(req.input.payload, order):
                req.reconciled = True
                ledger.decide(req, order, None)
                continue
        req.state = "reconciling"
        req.deadline = deadline


# The fields of an update an open order's row shows (``id`` names the order).
_VISIBLE = frozenset({"id", "price", "amount", "price_aux_limit", "price_trailing", "gid"})


def _update_visible(payload: Mapping[str, Any], order: Order) -> bool:
    checks = {
        "price": order.price,
        "amount": order.amount,
        "price_aux_limit": order.price_aux_limit,
        "price_trailing": order.price_trailing,
    }
    for name, value in payload.items():
        if name == "id":
            continue
        if name in checks:
            if value is None or checks[name] is None or not same_number(value, checks[name]):
                return False
        elif name == "gid":
            if order.gid != value:
                return False
        else:
            return False  # delta, flags, tif, lev, meta: not visible in the row
    return True


def reconcile_offers(ledger: Ledger, view: AccountView, deadline: float) -> None:
    """Decide the funding offer requests in doubt from the ``fos`` just applied to ``view``; the
    others wait until ``deadline`` (monotonic seconds)."""
    for req in list(ledger.live):
        if req.state != "in_doubt" or req.kind not in ("fon", "foc"):
            continue
        if req.kind == "fon":
            p = req.input.payload
            for offer in view.offers.values():
                if (
                    offer.symbol == p["symbol"]
                    and offer.amount_orig is not None
                    and same_number(offer.amount_orig, p["amount"])
                    and offer.rate is not None
                    and same_number(offer.rate, p["rate"])
                    and offer.period == p["period"]
                ):
                    req.order_id = offer.id
                    req.reconciled = True
                    ledger.decide(req, offer, None)
                    break
            else:
                req.state = "reconciling"
                req.deadline = deadline
        else:
            req.state = "reconciling"
            req.deadline = deadline


def give_up(ledger: Ledger, view: AccountView, req: Request[Any], dms: int | None, note: str | None = None) -> None:
    """The grace after the snapshot is over: fail ``req`` saying what the account's view shows
    (``note``: why the order history, which could have told more, was not read)."""
    kind = req.kind
    extra = f"; {note}" if note else ""
    if kind == "on":
        accepted = f" (a trade of order {req.evidence} was seen: it was accepted)" if req.evidence else ""
        ledger.fail_unknown(
            req,
            "the socket dropped before the confirmation and the order is not among the open orders after "
            f"reconnecting{accepted}: it was never placed, or it was executed or cancelled; check the order "
            f"history before resubmitting{extra}",
            dms=dms,
            open=False,
        )
    elif kind in ("ou", "oc"):
        order = view.orders.get(req.order_id) if req.order_id is not None else None
        hidden = sorted(set(req.input.payload) - _VISIBLE) if kind == "ou" else []
        if order is not None and kind == "oc":
            ledger.fail_unknown(
                req,
                "the socket dropped before the confirmation; the order is still open (see .order): the "
                "cancel was lost or refused, and sending it again is safe",
                dms=dms,
                open=True,
                order=order,
            )
        elif order is not None and hidden:
            ledger.fail_unknown(
                req,
                "the socket dropped before the confirmation; the order is still open (see .order), but whether "
                f"the update was applied cannot be told from it ({', '.join(hidden)} not shown in an order): "
                "compare .order with what you expect before sending anything again (a delta sent twice is "
                "applied twice)",
                dms=dms,
                open=True,
                order=order,
            )
        elif order is not None:
            ledger.fail_unknown(
                req,
                "the socket dropped before the confirmation; the order is still open without the asked-for "
                "change (see .order): the update was lost or refused; send it again if still wanted",
                dms=dms,
                open=True,
                order=order,
            )
        else:
            ledger.fail_unknown(
                req,
                "the socket dropped before the confirmation; the order is no longer open (cancelled or executed: "
                f"check the order history){extra}",
                dms=dms,
                open=False,
            )
    elif kind == "oc_multi":
        still = [o.id for o in view.orders.values() if _selected(req.input.payload, o)]
        ledger.fail_unknown(
            req,
            "the socket dropped before the confirmation; "
            + (f"orders still open among those selected: {still}" if still else "none of the selected orders is open"),
            dms=dms,
            open=bool(still),
        )
    elif kind == "fon":
        ledger.fail_unknown(
            req,
            "the socket dropped before the confirmation and no matching offer is active after reconnecting: it "
            "was never placed, or it was taken or cancelled",
            dms=dms,
            open=False,
        )
    elif kind == "foc":
        offer = view.offers.get(req.order_id) if req.order_id is not None else None
        ledger.fail_unknown(
            req,
            "the socket dropped before the confirmation; the offer is "
            + ("still active" if offer is not None else "no longer active"),
            dms=dms,
            open=offer is not None,
            order=offer,
        )


def _selected(payload: Mapping[str, Any], order: Order) -> bool:
    """``order`` is among those a ``cancel_orders`` payload selects."""
    if payload.get("all"):
        return True
    if order.id in payload.get("id", ()):
        return True
    if order.gid is not None and order.gid in payload.get("gid", ()):
        return True
    return any(order.cid == cid for cid, _day in payload.get("cid", ()))
