"""The live view of the account: open orders, active funding offers and wallets, as channel 0
describes them, with the changes to open orders reported in order.

Bitfinex sends a snapshot after authentication (``os``, ``fos``, ``ws``) and updates after it
(``on``/``ou``/``oc``, ``fon``/``fou``/``foc``, ``wu``); ``oc`` means the order left the book,
cancelled or fully executed (``status`` says which; https://docs.bitfinex.com/reference/ws-auth-orders).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from ..events import FundingOffer, Order, Wallet
from .handles import OrderChange

__all__ = ["AccountView"]


class AccountView:
    """Open orders and funding offers by id, wallets by ``(wallet_type, currency)``; no I/O,
    called under the owner's lock."""

    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}
        self.offers: dict[int, FundingOffer] = {}
        self.wallets: dict[tuple[str | None, str | None], Wallet] = {}
        self.changes: list[OrderChange] = []

    def take_changes(self) -> list[OrderChange]:
        """Changes to the open orders since the last call, in order."""
        changes, self.changes = self.changes, []
        return changes

    def order_frame(self, order: Order, kind: str) -> None:
        """``on`` (``kind="new"``), ``ou`` (``"update"``) or ``oc`` (``"cancel"``)."""
        previous = self.orders.get(order.id)
        if kind == "cancel":
            self.orders.pop(order.id, None)
            self.changes.append(OrderChange(kind="closed", order=order, source="oc", previous=previous))
        else:
            self.orders[order.id] = order
            change: Literal["new", "update"] = "new" if previous is None and kind == "new" else "update"
            self.changes.append(
                OrderChange(kind=change, order=order, source="on" if kind == "new" else "ou", previous=previous)
            )

    def orders_snapshot(self, orders: Sequence[Order]) -> None:
        """``os``: replace the open orders, reporting what changed while the socket was away."""
        fresh = {o.id: o for o in orders}
        old = self.orders
        for oid, order in fresh.items():
            before = old.get(oid)
            if before is None:
                self.changes.append(OrderChange(kind="new", order=order, source="os"))
            elif before != order:
                self.changes.append(OrderChange(kind="update", order=order, source="os", previous=before))
        for oid, before in old.items():
            if oid not in fresh:
                self.changes.append(OrderChange(kind="closed", order=before, source="os", previous=before))
        self.orders = fresh

    def offer_frame(self, offer: FundingOffer, kind: str) -> None:
        """``fon`` (``kind="new"``), ``fou`` (``"update"``) or ``foc`` (``"cancel"``)."""
        if kind == "cancel":
            self.offers.pop(offer.id, None)
        else:
            self.offers[offer.id] = offer

    def offers_snapshot(self, offers: Iterable[FundingOffer]) -> None:
        """``fos``: replace the active funding offers."""
        self.offers = {o.id: o for o in offers}

    def wallets_snapshot(self, wallets: Iterable[Wallet]) -> None:
        """``ws``: replace the wallets."""
        self.wallets = {(w.wallet_type, w.currency): w for w in wallets}

    def wallet_update(self, wallet: Wallet) -> None:
        """``wu``: one wallet changed."""
        self.wallets[(wallet.wallet_type, wallet.currency)] = wallet
