"""Deciding requests in doubt from the account's history, read over authenticated REST.

The open-orders snapshot after re-authentication (:mod:`~bpbfx.bitfinex.orders.reconcile`)
decides what is still open.  An order that left the book while the socket was down (it
executed, or it was cancelled: by ``dms=4``, by another program, by the web) is not in it; the
account's history tells what became of it.  The core asks its owner to read records
(:class:`HistoryLookup`: an authenticated REST request described, never sent here) and decides
from the answers (:meth:`History.looked_up`):

- **new order**: the orders of its market closed since it was sent (``POST
  /v2/auth/r/orders/{symbol}/hist`` with ``start``), matched by cid and cid date; found, the
  request is done with the order as history shows it (``EXECUTED @ ...``, ``CANCELED ...``),
  and when it traded its fills are read (``POST /v2/auth/r/trades/{symbol}/hist``, matched by
  order id) onto ``request.fills``;
- **cancel**: the order by id (``POST /v2/auth/r/orders/hist`` with ``id``), or by cid and cid
  date (every market, from the start of that day); found, the request is done with the order as
  history shows it (CANCELED, or EXECUTED if it filled first);
- **update**: the order by id; found, OrderStatusUnknownError(open=False, order=...) naming its
  final status (whether the update was applied before it closed cannot be told).

History may lag the matching engine: an order not found is looked for once more
``history_grace`` seconds later.  Only when history cannot tell (still not found, or the
request refused or unanswered) does the request fail with OrderStatusUnknownError, whose
message says what was read and what it said.  A ``10114`` (nonce too small: another request of
the same key got a larger nonce to the exchange first) is asked again once with a new nonce;
reads are idempotent.  Every read counts against a local budget (Bitfinex limits REST to 10-90
requests per minute per IP depending on the endpoint, https://docs.bitfinex.com/docs/requirements-and-limitations);
when it is spent the request fails at once rather than waits.

Rows are the WebSocket's arrays (https://docs.bitfinex.com/reference/rest-auth-orders-history,
https://docs.bitfinex.com/reference/rest-auth-trades), decoded as ``on`` and ``tu`` frames.
No I/O; time is injected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final, Literal

from ..._json import make_loads
from ...exceptions import BpbfxError
from ..events import AccountTrade, AccountTradeUpdate, Order
from .handles import Request
from .ledger import Ledger
from .ratelimit import Window
from .replies import day_ok, decode_order, decode_row

__all__ = ["HISTORY_RATE_LIMIT", "MAX_HISTORY_ROWS", "History", "HistoryLookup", "parse_answer"]

HISTORY_RATE_LIMIT: Final = (60, 60.0)
"""Default local budget of history reads: 60 per minute (Bitfinex allows 10 to 90 REST requests
per minute per IP depending on the endpoint)."""
MAX_HISTORY_ROWS: Final = 2500
"""Rows asked for per read (the history endpoints' maximum ``limit``)."""
_SLACK_MS: Final = 60_000  # a window starts this long before the request was sent (clock skew)
_NONCE_SMALL: Final = 10114

LookupKind = Literal["orders", "trades"]

_loads = make_loads(parse_float=str)  # numbers keep their exact text, as on the WebSocket


@dataclass(frozen=True, slots=True)
class HistoryLookup:
    """Records to read for a request in doubt: an authenticated ``POST`` whose answer goes to
    :meth:`~bpbfx.bitfinex.orders.OrderCore.looked_up`.

    Attributes:
        request: the request in doubt.
        kind: ``"orders"`` (closed orders) or ``"trades"`` (the account's fills).
        symbol: one market, or ``None`` for every market.
        ids: only these order ids (orders; body ``id``).
        start_ms / end_ms: the window, epoch milliseconds (body ``start`` / ``end``).
        limit: rows at most (body ``limit``).
    """

    request: Request[Any]
    kind: LookupKind
    symbol: str | None = None
    ids: tuple[int, ...] = ()
    start_ms: int | None = None
    end_ms: int | None = None
    limit: int = MAX_HISTORY_ROWS

    @property
    def path(self) -> str:
        """``/v2/auth/r/orders/tBTCUSD/hist``, ``/v2/auth/r/trades/hist``..."""
        market = f"/{self.symbol}" if self.symbol else ""
        return f"/v2/auth/r/{self.kind}{market}/hist"

    def body(self) -> dict[str, Any]:
        """The JSON body: ``start``, ``end``, ``limit`` and ``id`` as given."""
        body: dict[str, Any] = {}
        if self.start_ms is not None:
            body["start"] = self.start_ms
        if self.end_ms is not None:
            body["end"] = self.end_ms
        if self.ids:
            body["id"] = list(self.ids)
        body["limit"] = self.limit
        return body

    def describe(self) -> str:
        """What is read, in words: ``POST /v2/auth/r/orders/tBTCUSD/hist (since 12:00:01 UTC)``."""
        what = f"POST {self.path}"
        if self.ids:
            what += f" (id {', '.join(map(str, self.ids))})"
        elif self.start_ms is not None:
            what += f" (since {_utc(self.start_ms)})"
        return what


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def parse_answer(
    status: int | None, body: bytes | str, failure: str | None = None
) -> tuple[list[Any] | None, str, int | None]:
    """``(rows, why, code)`` of an answer: the rows of a 200 list, else ``None`` with why the
    records could not be read and the exchange's error code (``["error", CODE, TEXT]``, HTTP
    500 on Bitfinex; ``{"error": "ERR_RATE_LIMIT"}``) when it gave one.  ``status`` None: the
    request failed on the way, for ``failure``."""
    if status is None:
        return None, failure or "no answer", None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        value = _loads(text) if text else None
    except ValueError:
        value = None
    if status == 200 and isinstance(value, list) and not (value and value[0] == "error"):
        return [row for row in value if isinstance(row, list)], "", None
    code: int | None = None
    if isinstance(value, list) and len(value) >= 3 and value[0] == "error":
        code = value[1] if isinstance(value[1], int) else None
        why = f"HTTP {status}, error {value[1]}: {value[2]}"
        if code == 10100:
            why += " (the API key or signature was refused)"
        elif code == _NONCE_SMALL:
            why += " (a larger nonce of this key reached the exchange first)"
    elif isinstance(value, dict) and value.get("error") == "ERR_RATE_LIMIT":
        why = f"HTTP {status}: ERR_RATE_LIMIT (Bitfinex's REST rate limit; the IP is blocked for up to 60 s)"
    elif status == 200:
        why = f"unexpected answer {text[:120]!r}"
    else:
        why = f"HTTP {status}: {text[:200] or 'no body'}"
    return None, why, code


@dataclass(slots=True, eq=False)
class _Progress:
    """Where the reading for one request stands."""

    request: Request[Any]
    started: float  # monotonic
    reads: int = 0  # orders reads answered without a match
    due: float | None = None  # monotonic time of the next read
    out: HistoryLookup | None = None  # the read in flight
    since: float = 0.0  # monotonic time the read in flight was handed out
    retried: bool = False  # asked again after a 10114
    order: Order | None = None
    checked: list[str] = field(default_factory=list)


class History:
    """The reads of the requests in doubt that the snapshot could not decide; no I/O, called
    under the owner's lock (see the module docstring).

    Args:
        ledger: decides the requests.
        wall: epoch seconds (the windows read).
        grace: seconds before an order not found is looked for again.
        timeout: seconds a read may go unanswered before the request fails.
        rate_limit: ``(reads, seconds)`` allowed.
        dms: the dead-man switch of the auth request (used in messages).
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        wall: Callable[[], float],
        grace: float = 2.0,
        timeout: float = 60.0,
        rate_limit: tuple[int, float] = HISTORY_RATE_LIMIT,
        dms: int | None = None,
    ) -> None:
        self._ledger = ledger
        self._wall = wall
        self.grace = grace
        self.timeout = timeout
        self.dms = dms
        self._window = Window(*rate_limit)
        self._progress: dict[int, _Progress] = {}  # id(request) -> progress
        self._lookups: list[HistoryLookup] = []
        self.errors: list[BpbfxError] = []

    @property
    def has_output(self) -> bool:
        """Lookups or errors wait to be taken."""
        return bool(self._lookups or self.errors)

    def take_lookups(self) -> list[HistoryLookup]:
        """Reads to make since the last call."""
        lookups, self._lookups = self._lookups, []
        return lookups

    @staticmethod
    def wants(req: Request[Any], open_order: Order | None) -> bool:
        """History can decide ``req``: a new order not among the open ones, or a cancel or
        update whose order is no longer open."""
        if req.kind == "on":
            return req.cid is not None and req.input.payload.get("symbol") is not None
        if req.kind == "oc":
            return open_order is None and (req.order_id is not None or req.cid is not None)
        if req.kind == "ou":
            return open_order is None and req.order_id is not None
        return False

    def start(self, req: Request[Any], now: float) -> None:
        """Begin reading for ``req`` (its snapshot grace is over)."""
        req.state = "history"
        req.deadline = None
        progress = self._progress[id(req)] = _Progress(req, now)
        self._read(progress, self._orders_lookup(req), now)

    def _orders_lookup(self, req: Request[Any]) -> HistoryLookup:
        if req.kind == "on":
            sent = req.sent_ms if req.sent_ms is not None else int(self._wall() * 1000)
            return HistoryLookup(req, "orders", symbol=req.input.payload["symbol"], start_ms=sent - _SLACK_MS)
        if req.order_id is not None:
            return HistoryLookup(req, "orders", ids=(req.order_id,))
        # A cancel by cid: every market, from the start of its cid date.
        assert req.cid_date is not None
        day = datetime.strptime(req.cid_date, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        return HistoryLookup(req, "orders", start_ms=int(day.timestamp() * 1000))

    def _read(self, progress: _Progress, lookup: HistoryLookup, now: float) -> None:
        progress.due = None
        if self._window.take(1, now):
            window = self._window
            why = (
                f"{lookup.describe()} was not sent: the local budget of {window.limit} history reads per "
                f"{window.period:g}s is spent"
            )
            self._unreadable(progress, why)
            return
        progress.out = lookup
        progress.since = now
        self._lookups.append(lookup)

    def check(self, now: float) -> None:
        """Timers: reads due again after the grace, and reads unanswered for too long."""
        for key, progress in list(self._progress.items()):
            req = progress.request
            if req.outcome is not None:
                del self._progress[key]
            elif progress.out is not None:
                if now - progress.since > self.timeout:
                    lookup, progress.out = progress.out, None
                    self._unreadable(progress, f"{lookup.describe()} got no answer within {self.timeout:g}s")
            elif progress.due is not None and now >= progress.due:
                self._read(progress, self._orders_lookup(req), now)

    def close(self) -> None:
        """Forget every read (the requests are failed by the owner)."""
        self._progress.clear()
        self._lookups.clear()

    # ------------------------------------------------------------------ answers
    def looked_up(
        self, lookup: HistoryLookup, status: int | None, body: bytes | str, failure: str | None, now: float
    ) -> None:
        """The answer of ``lookup``: HTTP ``status`` and ``body``, or ``status`` None and why the
        request failed on the way (``failure``)."""
        progress = self._progress.get(id(lookup.request))
        if progress is None or progress.out is not lookup or progress.request.outcome is not None:
            return  # decided meanwhile (a frame, a timeout, close)
        progress.out = None
        rows, why, code = parse_answer(status, body, failure)
        if rows is None:
            if code == _NONCE_SMALL and not progress.retried:
                progress.retried = True
                self._read(progress, lookup, now)  # a read is idempotent: ask again with a new nonce
                return
            self._unreadable(progress, f"{lookup.describe()} failed: {why}")
            return
        if lookup.kind == "trades":
            assert progress.order is not None
            self._found(progress, progress.order, self._fills(progress.order, rows))
            return
        progress.checked.append(lookup.describe())
        order = self._match(progress.request, rows)
        if order is None:
            progress.reads += 1
            if progress.reads < 2:
                progress.due = now + self.grace  # history may lag the matching engine
            else:
                self._not_found(progress)
            return
        req = progress.request
        if req.kind == "on" and _filled(order):
            progress.order = order
            start = (order.mts_create or req.sent_ms or int(self._wall() * 1000)) - _SLACK_MS
            self._read(progress, HistoryLookup(req, "trades", symbol=order.symbol, start_ms=start), now)
            return
        self._found(progress, order, ())

    def _match(self, req: Request[Any], rows: list[Any]) -> Order | None:
        for row in rows:
            order = decode_order(row, self.errors)
            if order is None:
                continue
            if req.kind == "on" or (req.kind == "oc" and req.order_id is None):
                if order.cid == req.cid and day_ok(order.mts_create, req.cid_date):
                    return order
            elif order.id == req.order_id:
                return order
        return None

    def _fills(self, order: Order, rows: list[Any]) -> tuple[AccountTrade, ...]:
        fills: list[AccountTrade] = []
        for row in rows:
            if len(row) < 4 or row[3] != order.id:
                continue
            event = decode_row(row, "tu", self.errors)
            if isinstance(event, AccountTradeUpdate):
                fills.append(event.trade)
        fills.sort(key=lambda t: (t.mts_create or 0, t.id))
        return tuple(fills)

    # ------------------------------------------------------------------ outcomes
    def _found(self, progress: _Progress, order: Order, fills: tuple[AccountTrade, ...] | None) -> None:
        req = progress.request
        self._progress.pop(id(req), None)
        req.reconciled = True
        req.from_history = True
        req.fills = fills if req.kind == "on" else None
        if req.kind == "ou":
            self._ledger.fail_unknown(
                req,
                "the socket dropped before the confirmation; the order is no longer open: the order history shows "
                f"it {order.status} (see .order), so whether the update was applied before it closed cannot be "
                "told",
                dms=self.dms,
                open=False,
                order=order,
            )
            return
        req.order_id = order.id
        self._ledger.decide(req, order, None)

    def _unreadable(self, progress: _Progress, why: str) -> None:
        req = progress.request
        self._progress.pop(id(req), None)
        if progress.order is not None:
            # The order was found; only its fills could not be read.
            self.errors.append(
                BpbfxError(f"order {progress.order.id} (cid {req.cid}) was decided from the order history, but its "
                           f"fills could not be read ({why}); .fills is None")
            )
            self._found(progress, progress.order, None)
            return
        read = f" after reading {'; '.join(progress.checked)}" if progress.checked else ""
        self._ledger.fail_unknown(
            req, f"{_gone(req)}; the order history could not tell{read}: {why}{_advice(req)}", dms=self.dms, open=False
        )

    def _not_found(self, progress: _Progress) -> None:
        req = progress.request
        self._progress.pop(id(req), None)
        read = " and ".join(dict.fromkeys(progress.checked))
        times = f"twice, {self.grace:g}s apart" if len(progress.checked) > 1 else "once"
        if req.kind == "on":
            why = (
                f"{_gone(req)}, and the order history has no order with cid {req.cid} of {req.cid_date} ({read}, "
                f"read {times}): it was most likely never placed; check the account before resubmitting"
            )
        else:
            why = f"{_gone(req)}, and the order history does not list it either ({read}, read {times})"
        self._ledger.fail_unknown(req, why, dms=self.dms, open=False)


def _filled(order: Order) -> bool:
    """The order executed in part or in full (its row shows it; no need to read fills otherwise)."""
    if order.amount is not None and order.amount_orig is not None and order.amount != order.amount_orig:
        return True
    status = order.status or ""
    return "EXECUTED" in status or "PARTIALLY FILLED" in status


def _gone(req: Request[Any]) -> str:
    if req.kind == "on":
        return (
            "the socket dropped before the confirmation and the order is not among the open orders after reconnecting"
        )
    return "the socket dropped before the confirmation; the order is no longer open"


def _advice(req: Request[Any]) -> str:
    if req.kind == "on":
        return "; it was never placed, or it was executed or cancelled: check the order history before resubmitting"
    return " (cancelled or executed: check the order history)"
