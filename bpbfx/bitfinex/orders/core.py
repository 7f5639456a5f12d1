"""The order core of one authenticated socket: inputs in, frames and outcomes out, no I/O.

:class:`OrderCore` turns inputs into request handles, refuses at once what cannot be sent (not
authenticated, in maintenance, over the input-rate window, or a reply that could not be told
apart from one in flight), feeds channel-0 events to the reply matcher, the account view and
reconciliation, and fails requests whose outcome does not come in time.  It reads no clock of
its own (``wall`` and ``monotonic`` are injected) and touches no socket: frames to send,
futures to complete, order changes and errors are queued and taken by the owner (the client),
which carries them out outside its lock.

Exactly once: an input is sent once and never replayed; a request whose socket drops before its
outcome arrives is *in doubt* until the snapshot after re-authentication decides it
(:mod:`bpbfx.bitfinex.orders.reconcile`) or, when the order left the book meanwhile, the
account's order history read over REST (:mod:`bpbfx.bitfinex.orders.history`: the core hands
out :class:`~bpbfx.bitfinex.orders.history.HistoryLookup` values and takes the answers).
Bitfinex's maintenance notices pause inputs (``info`` codes 20060 and 20061,
https://docs.bitfinex.com/docs/ws-general).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ...events import Event
from ...exceptions import BpbfxError, InvalidOrderError
from ..events import (
    AccountTradeUpdate,
    FundingOffer,
    FundingOffersSnapshot,
    FundingOfferUpdate,
    Notification,
    Order,
    OrdersSnapshot,
    OrderUpdate,
    Wallet,
    WalletsSnapshot,
    WalletUpdate,
)
from .cids import CidSource, utc_day
from .handles import BatchRequest, Completion, OrderChange, Request
from .history import HISTORY_RATE_LIMIT, History, HistoryLookup
from .inputs import OrderInput
from .ledger import Ledger
from .outcomes import not_sent, rate_limited
from .ratelimit import Window
from .reconcile import give_up, reconcile_offers, reconcile_orders
from .replies import ReplyMatcher, day_ok
from .rules import CALC_RATE_LIMIT, MAX_BATCH_OPS, ORDER_RATE_LIMIT
from .views import AccountView

__all__ = ["OrderCore"]


class OrderCore:
    """Order entry state of one authenticated socket; no I/O, time injected.

    Call it under the owner's lock; take the results with :meth:`take_frames`,
    :meth:`take_completions`, :meth:`take_changes` and :meth:`take_errors` and carry them out
    outside the lock (completing a future runs the user's done-callbacks).

    Args:
        wall: epoch seconds (cid days, tif checks).
        monotonic: seconds for timeouts and rate windows.
        order_rate_limit: ``(orders, seconds)`` of new orders allowed (default 1000 per 300 s,
            Bitfinex's base limit shared by all connections of the account).
        calc_rate_limit: ``(calculations, seconds)`` (default 8 per second).
        confirm_timeout: seconds a sent input may wait for its reply on a live socket before
            it fails with OrderStatusUnknownError.
        reconcile_timeout: seconds a request in doubt may wait for the socket to come back
            and the snapshot to arrive.
        reconcile_grace: seconds to wait after the snapshot for a late frame of an order not
            in it before giving up on it.
        dms: the auth request's dead-man switch (4 = the exchange cancels every order when
            the socket closes); used in messages.
        history: read the order history for requests the snapshot cannot decide
            (:meth:`take_lookups`, :meth:`looked_up`); otherwise they fail as unknown.
        history_grace: seconds before an order the history does not list is looked for again.
        history_timeout: seconds a history read may go unanswered.
        history_rate_limit: ``(reads, seconds)`` of history reads allowed.
    """

    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        order_rate_limit: tuple[int, float] = ORDER_RATE_LIMIT,
        calc_rate_limit: tuple[int, float] = CALC_RATE_LIMIT,
        confirm_timeout: float = 60.0,
        reconcile_timeout: float = 120.0,
        reconcile_grace: float = 2.0,
        dms: int | None = None,
        history: bool = False,
        history_grace: float = 2.0,
        history_timeout: float = 60.0,
        history_rate_limit: tuple[int, float] = HISTORY_RATE_LIMIT,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self.cids = CidSource(wall)
        self._order_window = Window(*order_rate_limit)
        self._calc_window = Window(*calc_rate_limit)
        self.confirm_timeout = confirm_timeout
        self.reconcile_timeout = reconcile_timeout
        self.reconcile_grace = reconcile_grace
        self.dms = dms
        # Connection state, set by the owner.
        self.open = False
        self.authenticated = False
        self.paused = False
        self.closed = False
        self.snapshot_seen = False
        """The ``os`` snapshot arrived since the socket last authenticated (the open orders are known)."""
        #: When set, every input is refused with this reason (e.g. a client without API keys).
        self.refusal: str | None = None
        self._view = AccountView()
        self._ledger = Ledger(today=lambda: utc_day(self._wall()))
        self._replies = ReplyMatcher(self._ledger)
        self.history = history
        #: Why the order history is not read, added to the outcomes it could have decided.
        self.history_note: str | None = None
        self._history = History(
            self._ledger,
            wall=wall,
            grace=history_grace,
            timeout=history_timeout,
            rate_limit=history_rate_limit,
            dms=dms,
        )
        self._frames: list[tuple[str, tuple[Request[Any], ...]]] = []

    # ------------------------------------------------------------------ views
    @property
    def orders(self) -> dict[int, Order]:
        """Open orders by id (a copy), as of the last ``os``/``on``/``ou``/``oc``."""
        return dict(self._view.orders)

    @property
    def funding_offers(self) -> dict[int, FundingOffer]:
        """Active funding offers by id (a copy), as of the last ``fos``/``fon``/``fou``/``foc``."""
        return dict(self._view.offers)

    @property
    def wallets(self) -> dict[tuple[str | None, str | None], Wallet]:
        """Wallets by ``(wallet_type, currency)`` (a copy), as of the last ``ws``/``wu``."""
        return dict(self._view.wallets)

    @property
    def pending(self) -> tuple[Request[Any], ...]:
        """Requests whose outcome is not decided yet."""
        return tuple(self._ledger.live)

    # ------------------------------------------------------------------ outputs
    @property
    def has_output(self) -> bool:
        """Anything to take (frames, completions, changes or errors)."""
        return bool(
            self._frames
            or self._ledger.completions
            or self._view.changes
            or self._replies.has_errors
            or self._history.has_output
        )

    def take_frames(self) -> list[tuple[str, tuple[Request[Any], ...]]]:
        """Frames to send on the authenticated socket, each with the requests it carries."""
        frames, self._frames = self._frames, []
        return frames

    def take_completions(self) -> list[Completion]:
        """``(request, result, error)`` to apply with :func:`~bpbfx.bitfinex.orders.complete`
        outside the lock."""
        return self._ledger.take_completions()

    def take_changes(self) -> list[OrderChange]:
        """Changes to the open-orders view since the last call, in order."""
        return self._view.take_changes()

    def take_errors(self) -> list[BpbfxError]:
        """Problems to report that belong to no request (unmatched or malformed replies or
        history rows)."""
        errors = self._replies.take_errors()
        if self._history.errors:
            errors += self._history.errors
            self._history.errors = []
        return errors

    def take_lookups(self) -> list[HistoryLookup]:
        """History reads to make (outside the lock, on a thread that may wait for the answer);
        hand each answer to :meth:`looked_up`."""
        return self._history.take_lookups()

    def looked_up(
        self, lookup: HistoryLookup, status: int | None, body: bytes | str, failure: str | None = None
    ) -> None:
        """The answer of a history read: HTTP ``status`` and ``body``, or ``status`` None and
        ``failure`` (why the request failed on the way: unreachable, refused locally...)."""
        self._history.looked_up(lookup, status, body, failure, self._monotonic())

    # ------------------------------------------------------------------ connection state
    def authenticated_now(self) -> None:
        """The socket is (re)authenticated: inputs may be sent.  Requests in doubt wait for
        the ``os``/``fos`` snapshot that follows."""
        self.open = True
        self.authenticated = True
        self.snapshot_seen = False

    def connection_lost(self) -> None:
        """The socket closed: requests still waiting for their outcome are in doubt; they are
        never resent (:meth:`authenticated_now`, then the snapshot, decides them)."""
        self.open = False
        self.authenticated = False
        self.snapshot_seen = False
        now = self._monotonic()
        for req in self._ledger.live:
            if req.state in ("sent", "acknowledged", "reconciling"):
                req.state = "in_doubt"
                req.lost_at = now
                req.deadline = None

    def set_paused(self, paused: bool) -> None:
        """Bitfinex maintenance started (20060, True) or ended (20061, False)."""
        self.paused = paused

    def close(self) -> None:
        """The client is closing: every undecided request fails."""
        self.closed = True
        self.open = False
        self.authenticated = False
        self._history.close()
        for req in list(self._ledger.live):
            if not isinstance(req, BatchRequest):  # a batch is decided by its operations
                self._ledger.fail_unknown(req, "the client was closed before the outcome arrived", dms=self.dms)

    # ------------------------------------------------------------------ inputs
    def submit(self, inp: OrderInput) -> Request[Any]:
        """Register ``inp`` and queue its frame, or fail its handle at once.

        Returns the handle.  It fails at once (not sent) with OrderNotSentError when the
        socket is not authenticated, in maintenance, closed, or when an input whose reply
        could not be told apart from this one's is in flight; with OrderRateLimitError
        (``local=True``) when the rate limit has no room.

        Raises:
            InvalidOrderError: ``inp.kind`` cannot be submitted alone (never for the builders'
                inputs), or a ``tif`` in the past.
        """
        if not isinstance(inp, OrderInput) or inp.kind == "ox_multi":
            raise InvalidOrderError("submit takes one OrderInput; send several with submit_batch", field="input")
        inp = self._complete_input(inp)
        req: Request[Any] = Request(inp)
        self._admit([req], inp)
        return req

    def refuse(self, inp: OrderInput, reason: str) -> Request[Any]:
        """A handle for ``inp`` already failed with OrderNotSentError(``reason``); nothing is
        queued (e.g. a client without API keys)."""
        req: Request[Any] = Request(inp)
        self._ledger.decide(req, None, not_sent(req, reason), now=True)
        return req

    def submit_batch(self, inputs: Sequence[OrderInput]) -> BatchRequest:
        """Register an ``ox_multi`` of ``inputs`` (``on``, ``ou``, ``oc``, ``oc_multi``; 1 to 75)
        and queue its single frame, or fail it (and every operation) at once.

        Raises:
            InvalidOrderError: no operations, more than 75, or an input kind a batch cannot carry.
        """
        inputs = list(inputs)
        if not 1 <= len(inputs) <= MAX_BATCH_OPS:
            raise InvalidOrderError(
                f"order_batch takes 1 to {MAX_BATCH_OPS} operations (ox_multi limit), got {len(inputs)}", field="ops"
            )
        done: list[OrderInput] = []
        for inp in inputs:
            if not isinstance(inp, OrderInput) or inp.kind not in ("on", "ou", "oc", "oc_multi"):
                raise InvalidOrderError(
                    "order_batch operations are OrderInput values of kind on, ou, oc or oc_multi (from new_order, "
                    f"update_order, cancel_order, cancel_orders), got {inp!r}",
                    field="ops",
                )
            done.append(self._complete_input(inp))
        cids = [i.cid for i in done if i.kind == "on"]
        if len(set(cids)) != len(cids):
            raise InvalidOrderError("two new orders of one batch have the same cid", field="cid")
        subs: list[Request[Any]] = [Request(i) for i in done]
        batch_input = OrderInput("ox_multi", [[i.kind, i.payload] for i in done])
        batch = BatchRequest(batch_input, subs)
        for sub in subs:
            sub.batch = batch
        self._admit([batch, *subs], batch_input)
        return batch

    def _complete_input(self, inp: OrderInput) -> OrderInput:
        if not isinstance(inp, OrderInput):
            raise InvalidOrderError(f"expected an OrderInput, got {type(inp).__name__}", field="input")
        if inp.tif_ms is not None and inp.tif_ms <= self._wall() * 1000:
            raise InvalidOrderError(f"tif {inp.payload.get('tif')!r} is not in the future (UTC)", field="tif")
        if inp.kind == "on" and inp.payload.get("cid") is None:
            cid, _day = self.cids.next()
            return OrderInput("on", {"cid": cid, **inp.payload}, inp.tif_ms)
        if inp.kind == "oc" and "cid" in inp.payload and "cid_date" not in inp.payload:
            cid = inp.payload["cid"]
            day = self._ledger.cid_days.get(cid) or utc_day(self._wall())
            return OrderInput("oc", {**inp.payload, "cid_date": day})
        return inp

    def _admit(self, reqs: list[Request[Any]], inp: OrderInput) -> None:
        """Fail-fast checks, rate limits and registration of one frame's requests."""
        head = reqs[0]
        subs = reqs[1:] if isinstance(head, BatchRequest) else reqs
        reason = self._blocked()
        if reason is None:
            reason = self._ledger.conflict(subs, head)
        if reason is not None:
            for req in reqs:
                self._ledger.decide(req, None, not_sent(req, reason), now=True)
            return
        now = self._monotonic()
        new_orders = sum(1 for r in subs if r.kind == "on")
        window, units, what = (
            (self._calc_window, len(inp.payload), "calculations")
            if inp.kind == "calc"
            else (self._order_window, new_orders, "new orders")
        )
        if units:
            wait = window.take(units, now)
            if wait:
                text = (
                    f"order input rate limit: {window.limit} {what} per {window.period:g}s"
                    + (f"; room again in {wait:.1f}s" if wait != float("inf") else f"; {units} never fit")
                    + " (refused locally, nothing sent)"
                )
                for req in reqs:
                    self._ledger.decide(req, None, rate_limited(req, text, wait), now=True)
                return
        sent_ms = int(self._wall() * 1000)
        for req in reqs:
            req.sent_at = now
            req.sent_ms = sent_ms
            self._ledger.register(req)
        self._frames.append((inp.frame(), tuple(reqs)))

    def _blocked(self) -> str | None:
        if self.refusal is not None:
            return self.refusal
        if self.closed:
            return "the client is closed"
        if self.paused:
            return "Bitfinex is in maintenance (info 20060): inputs are paused until 20061 (maintenance end)"
        if not self.open:
            return "the authenticated socket is not connected (reconnecting); nothing was sent"
        if not self.authenticated:
            return "the socket is not authenticated yet (waiting for the auth reply); nothing was sent"
        return None

    def sent(self, reqs: Iterable[Request[Any]], ok: bool) -> None:
        """The owner tried to send the frame carrying ``reqs``.  A ``calc`` is done once
        sent (it has no reply).  When the transport refused the frame (``ok`` False) the
        requests are in doubt: a frame may have left partly, so they are reconciled, never
        resent."""
        now = self._monotonic()
        for req in reqs:
            if req.state == "done":
                continue
            if req.kind == "calc":
                if ok:
                    self._ledger.decide(req, None, None)
                else:
                    self._ledger.decide(req, None, not_sent(req, "the socket closed before the calc was sent"))
            elif not ok:
                req.state = "in_doubt"
                req.lost_at = now

    # ------------------------------------------------------------------ frames
    def feed(self, event: Event) -> None:
        """Take one decoded channel-0 event (others are ignored)."""
        view, replies = self._view, self._replies
        if isinstance(event, Notification):
            replies.notification(event)
        elif isinstance(event, OrderUpdate):
            view.order_frame(event.order, event.kind)
            replies.order_frame(event.order, event.kind)
        elif isinstance(event, OrdersSnapshot):
            self.snapshot_seen = True
            view.orders_snapshot(event.orders)
            reconcile_orders(self._ledger, view, self._monotonic() + self.reconcile_grace)
        elif isinstance(event, AccountTradeUpdate):
            replies.trade(event.trade)
        elif isinstance(event, FundingOffersSnapshot):
            view.offers_snapshot(event.offers)
            reconcile_offers(self._ledger, view, self._monotonic() + self.reconcile_grace)
        elif isinstance(event, FundingOfferUpdate):
            view.offer_frame(event.offer, event.kind)
            replies.offer_frame(event.offer, event.kind)
        elif isinstance(event, WalletsSnapshot):
            view.wallets_snapshot(event.wallets)
        elif isinstance(event, WalletUpdate):
            view.wallet_update(event.wallet)

    def _open_order(self, req: Request[Any]) -> Order | None:
        """The open order ``req`` acts on, by id or (a cancel by cid) by cid and cid date."""
        orders = self._view.orders
        if req.order_id is not None:
            return orders.get(req.order_id)
        if req.kind == "oc" and req.cid is not None:
            for order in orders.values():
                if order.cid == req.cid and day_ok(order.mts_create, req.cid_date):
                    req.order_id = order.id
                    return order
        return None

    # ------------------------------------------------------------------ timers
    def check(self) -> None:
        """Timers: fail requests whose reply is overdue, whose socket stayed down too long,
        and those left undecided by the snapshot once the grace is over."""
        now = self._monotonic()
        ledger = self._ledger
        for req in list(ledger.live):
            if req.outcome is not None or isinstance(req, BatchRequest):
                continue  # a batch is decided by its operations
            if req.state == "reconciling" and req.deadline is not None and now >= req.deadline:
                open_order = self._open_order(req)
                if History.wants(req, open_order):
                    if self.history:
                        self._history.start(req, now)
                        continue
                    give_up(ledger, self._view, req, self.dms, note=self.history_note)
                else:
                    give_up(ledger, self._view, req, self.dms)
            elif req.state == "in_doubt" and req.lost_at is not None and now - req.lost_at > self.reconcile_timeout:
                why = (
                    "the socket dropped before the confirmation and "
                    + (
                        "no snapshot arrived after re-authenticating"
                        if self.authenticated
                        else "the socket did not come back"
                    )
                    + f" within {self.reconcile_timeout:g}s"
                )
                ledger.fail_unknown(req, why, dms=self.dms)
            elif req.state in ("sent", "acknowledged") and now - req.sent_at > self.confirm_timeout:
                ledger.fail_unknown(
                    req,
                    f"no confirmation within {self.confirm_timeout:g}s on a live socket; watch orders() / on_order for "
                    + (f"cid {req.cid}" if req.cid is not None else f"id {req.order_id}"),
                    dms=self.dms,
                )
        self._history.check(now)
