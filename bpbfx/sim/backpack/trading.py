"""The Backpack trading endpoints the simulator answers on its REST server: signed requests in,
the order engine's answers out, through the faults armed on them.

=======  ==========================  ====================  =====================================
method   path                        instruction           answer
=======  ==========================  ====================  =====================================
POST     /api/v1/order               orderExecute          the order object
POST     /api/v1/orders              orderExecute (batch)  a list: order objects or errors
DELETE   /api/v1/order               orderCancel           the cancelled order (or 202, no body)
DELETE   /api/v1/orders              orderCancelAll        the cancelled orders
GET      /api/v1/order               orderQuery            a resting order, else 404
GET      /api/v1/orders              orderQueryAll         the resting orders
GET      /wapi/v1/history/orders     orderHistoryQueryAll  every order, newest first
GET      /wapi/v1/history/fills      fillHistoryQueryAll   every fill, newest first
=======  ==========================  ====================  =====================================

A request goes: the body decoded (400 plain text when it is not JSON), the signature checked
(:func:`~bpbfx.sim.backpack.auth.verify_request`), the rate limit (429), then the endpoint.
Order entries and cancels are answered one turn of the server loop after their stream events
were queued, so the events leave first, as on the exchange.  Used under the simulator's lock
on its loop thread.
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bpbfx.sim._http import HttpReply, HttpRequest
from bpbfx.sim.backpack.accounts import Accounts
from bpbfx.sim.backpack.auth import AuthError, verify_request
from bpbfx.sim.backpack.engine import OrderEngine
from bpbfx.sim.backpack.events import Later
from bpbfx.sim.backpack.faults import Faults
from bpbfx.sim.backpack.ledger import Ledger, default_balances
from bpbfx.sim.backpack.market import _Market
from bpbfx.sim.backpack.records import _Order, fill_row, order_object
from bpbfx.sim.backpack.requests import (
    NOT_FOUND,
    OrderRequest,
    Refusal,
    parse_error,
    parse_order,
    parse_order_id,
    parse_page,
    parse_symbol,
)
from bpbfx.sim.backpack.rest import failure_body

__all__: list[str] = []

ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/order"): "orderExecute",
    ("POST", "/api/v1/orders"): "orderExecute",
    ("DELETE", "/api/v1/order"): "orderCancel",
    ("DELETE", "/api/v1/orders"): "orderCancelAll",
    ("GET", "/api/v1/order"): "orderQuery",
    ("GET", "/api/v1/orders"): "orderQueryAll",
    ("GET", "/wapi/v1/history/orders"): "orderHistoryQueryAll",
    ("GET", "/wapi/v1/history/fills"): "fillHistoryQueryAll",
}
PATHS = frozenset(path for _, path in ROUTES)

#: The answer of an order whose outcome the exchange does not know (Backpack's 503 text).
UNKNOWN_ERROR = "Unknown error, please check your request or try again later."

#: The pause before answering an order entry or a cancel: one turn of the server loop, in which
#: the stream events already queued are written first (Backpack sends them before the answer).
EVENTS_FIRST = 1e-6


def _reply(refusal: Refusal | AuthError, delay: float = 0.0) -> HttpReply:
    if isinstance(refusal, AuthError):
        return HttpReply(refusal.status, {"code": refusal.code, "message": refusal.message}, delay=delay)
    return HttpReply(refusal.status, refusal.body(), delay=delay)


class TradingApi:
    """Answers the signed trading requests.

    ``balances``: the opening balances of listed accounts (others open with
    :func:`~bpbfx.sim.backpack.ledger.default_balances`); ``allowed``: the verifying keys that
    exist (``None``: any); ``rate_limit``: at most that many signed requests per account in any
    window of that many seconds (``None``: no limit); ``later`` runs a function on the server
    loop later.  ``counters`` (the simulator's) counts ``auth_refused``, ``rate_limited``,
    ``orders_refused_by_fault``, ``replies_dropped``, ``replies_failed``, ``cancels_202``.
    """

    def __init__(
        self,
        engine: OrderEngine,
        markets: Mapping[str, _Market],
        faults: Faults,
        ledger: Ledger,
        accounts: Accounts,
        balances: Mapping[str, Mapping[str, Decimal]],
        allowed: frozenset[str] | None,
        rate_limit: tuple[int, float] | None,
        later: Later,
        counters: dict[str, int],
    ) -> None:
        self.engine = engine
        self.markets = markets
        self.faults = faults
        self.ledger = ledger
        self.accounts = accounts
        self.balances = balances
        self.allowed = allowed
        self.rate_limit = rate_limit
        self.later = later
        self.counters = counters
        self.received: Counter[tuple[str, int]] = Counter()  # (X-API-Key, clientId) -> POSTs
        self._recent: dict[str, deque[float]] = {}
        self._defaults = default_balances(
            [(m.quote_asset, True) for m in markets.values()]
            + [(m.base_asset, False) for m in markets.values() if not m.spec.perp]
        )
        for key in balances:
            self.open_account(key)

    def open_account(self, key: str) -> None:
        """Make ``key`` a trading account with its opening balances (nothing if it is one)."""
        if key not in self.ledger:
            given = self.balances.get(key)
            self.ledger.open(key, {a: Decimal(v) for a, v in given.items()} if given is not None else self._defaults)
        self.accounts.open_trading(key)

    # ------------------------------------------------------------------ requests
    def handle(self, request: HttpRequest, now_us: int) -> HttpReply:
        """Answer one request to a trading path."""
        method, path = request.method, request.path
        instruction = ROUTES.get((method, path))
        if instruction is None:
            return HttpReply(405, {"code": "INVALID_CLIENT_REQUEST", "message": f"{method} {path} is not allowed"})
        if method == "POST":
            self._count_client_ids(request)
        status = self.faults.take_rest_failure()
        if status is not None:
            return HttpReply(status, failure_body(status))
        params = self._params(request)
        if isinstance(params, Refusal):
            return _reply(params)
        verdict = verify_request(request.headers, instruction, params, self.allowed, now_us // 1000)
        if isinstance(verdict, AuthError):
            self.counters["auth_refused"] += 1
            return _reply(verdict)
        key = verdict
        if self._limited(key):
            self.counters["rate_limited"] += 1
            return HttpReply(429, {"code": "TOO_MANY_REQUESTS", "message": "Too many requests"})
        if method != "GET":
            # Placing or cancelling makes a trading account; reading (the open orders a client
            # asks for when it connects, histories) leaves a synthetic account's activity going.
            self.open_account(key)
        reply = self._dispatch(method, path, key, params, now_us)
        delay = self.faults.trading.take_delay(method, path)
        if delay:
            reply = HttpReply(reply.status, reply.body, reply.headers, drop=reply.drop, delay=reply.delay + delay)
        return reply

    def _dispatch(self, method: str, path: str, key: str, params: Any, now_us: int) -> HttpReply:
        if method == "POST":
            return self._order_entry(key, params, now_us, batch=path.endswith("orders"))
        if method == "DELETE":
            if path.endswith("orders"):
                return self._cancel_all(key, params, now_us)
            return self._cancel(key, params, now_us)
        if path == "/api/v1/order":
            found = parse_order_id(params, self.markets, query=True)
            if isinstance(found, Refusal):
                return _reply(found)
            o = self.engine.find_open(key, *found)
            return _reply(NOT_FOUND) if o is None else HttpReply(200, self._object(o))
        symbol = parse_symbol(params, self.markets, required=False)
        if isinstance(symbol, Refusal):
            return _reply(symbol)
        if path == "/api/v1/orders":
            return HttpReply(200, [self._object(o) for o in self.engine.open_orders(key, symbol)])
        page = parse_page(params)
        if isinstance(page, Refusal):
            return _reply(page)
        if path == "/wapi/v1/history/orders":
            return HttpReply(200, self._order_history(key, symbol, params.get("orderId"), *page))
        return self._fill_history(key, symbol, params, *page)

    def _params(self, request: HttpRequest) -> Any:
        """The signed parameters: the query of a GET, the JSON body of a POST / DELETE."""
        if request.method == "GET":
            return dict(request.params)
        try:
            body = json.loads(request.body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            return parse_error(str(exc))
        batch = request.method == "POST" and request.path == "/api/v1/orders"
        if batch and not isinstance(body, list):
            return parse_error("invalid type: map, expected a sequence")
        if not batch and not isinstance(body, dict):
            return parse_error("invalid type: sequence, expected a map")
        return body

    def _count_client_ids(self, request: HttpRequest) -> None:
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return
        key = request.headers.get("x-api-key", "")
        for item in body if isinstance(body, list) else [body]:
            if isinstance(item, dict) and isinstance(item.get("clientId"), int):
                self.received[(key, item["clientId"])] += 1

    def _limited(self, key: str) -> bool:
        if self.faults.trading.rate_limited.take():
            return True
        if self.rate_limit is None:
            return False
        limit, window = self.rate_limit
        now = time.monotonic()
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - window:
            recent.popleft()
        if len(recent) >= limit:
            return True
        recent.append(now)
        return False

    # ------------------------------------------------------------------ endpoints
    def _object(self, o: _Order) -> dict[str, Any]:
        return order_object(o, self.markets[o.symbol])

    def _submit(self, key: str, req: OrderRequest, now_us: int) -> _Order | Refusal:
        rejection = self.faults.trading.take_rejection(key)
        if rejection is not None:
            self.counters["orders_refused_by_fault"] += 1
            return Refusal(rejection.status, rejection.code, rejection.message)
        return self.engine.submit(key, req, now_us)

    def _order_entry(self, key: str, params: Any, now_us: int, batch: bool) -> HttpReply:
        if batch:
            requests = [parse_order(item, self.markets) for item in params]
            undecodable = next((r for r in requests if isinstance(r, Refusal) and r.code is None), None)
            if undecodable is not None:  # the whole body fails to decode
                return _reply(undecodable)
            answers: list[Any] = []
            for req in requests:
                result = req if isinstance(req, Refusal) else self._submit(key, req, now_us)
                if isinstance(result, Refusal):
                    # The official client reads batch errors as {"code", "message", "operation"}.
                    answers.append({"code": result.code, "message": result.message, "operation": "orderExecute"})
                else:
                    answers.append(self._object(result))
            return self._entry_reply(HttpReply(200, answers, delay=EVENTS_FIRST))
        req = parse_order(params, self.markets)
        result = req if isinstance(req, Refusal) else self._submit(key, req, now_us)
        if isinstance(result, Refusal):
            return _reply(result)
        return self._entry_reply(HttpReply(200, self._object(result), delay=EVENTS_FIRST))

    def _entry_reply(self, reply: HttpReply) -> HttpReply:
        """The answer of an accepted order entry, unless a fault loses or replaces it."""
        trading = self.faults.trading
        if trading.drop_replies.take():
            self.counters["replies_dropped"] += 1
            return HttpReply(drop=True, delay=EVENTS_FIRST)
        if trading.fail_after_accept.take():
            self.counters["replies_failed"] += 1
            return HttpReply(trading.fail_after_accept.status,
                             {"code": "SERVICE_UNAVAILABLE", "message": UNKNOWN_ERROR}, delay=EVENTS_FIRST)
        return reply

    def _cancel(self, key: str, params: Any, now_us: int) -> HttpReply:
        found = parse_order_id(params, self.markets, query=False)
        if isinstance(found, Refusal):
            return _reply(found)
        trading = self.faults.trading
        if trading.cancels_202.take():
            # Backpack may accept a cancel without answering it: 202, no body; the stream's
            # orderCancelled confirms it.
            if self.engine.find_open(key, *found) is None:
                return _reply(NOT_FOUND)
            self.counters["cancels_202"] += 1
            if trading.confirm_after > 0:
                self.later(trading.confirm_after, lambda: self._cancel_later(key, found))
            else:
                self.engine.cancel(key, *found, now_us)
            return HttpReply(202, None, delay=EVENTS_FIRST)
        result = self.engine.cancel(key, *found, now_us)
        if isinstance(result, Refusal):
            return _reply(result)
        return HttpReply(200, self._object(result), delay=EVENTS_FIRST)

    def _cancel_later(self, key: str, found: tuple[str, str | None, int | None]) -> None:
        self.engine.cancel(key, *found, self.engine.stamp.now_us())

    def _cancel_all(self, key: str, params: Any, now_us: int) -> HttpReply:
        symbol = parse_symbol(params, self.markets, required=True)
        if isinstance(symbol, Refusal):
            return _reply(symbol)
        assert symbol is not None
        cancelled = self.engine.cancel_all(key, symbol, now_us)
        return HttpReply(200, [self._object(o) for o in cancelled], delay=EVENTS_FIRST)

    def _order_history(self, key: str, symbol: str | None, order_id: str | None, limit: int, offset: int) -> (
        list[dict[str, Any]]
    ):
        rows = [o for o in reversed(self.engine.by_key.get(key, []))
                if (symbol is None or o.symbol == symbol) and (order_id is None or o.id == order_id)]
        return [self._object(o) for o in rows[offset:offset + limit]]

    def _fill_history(
        self, key: str, symbol: str | None, params: Mapping[str, str], limit: int, offset: int
    ) -> HttpReply:
        try:
            since = int(params["from"]) if "from" in params else None
            until = int(params["to"]) if "to" in params else None
        except ValueError:
            return _reply(Refusal(400, "INVALID_CLIENT_REQUEST", "Invalid from or to"))
        order_id = params.get("orderId")
        rows = [f for f in reversed(self.engine.fills.get(key, []))
                if (symbol is None or f.symbol == symbol) and (order_id is None or f.order_id == order_id)
                and (since is None or f.ms >= since) and (until is None or f.ms <= until)]
        return HttpReply(200, [fill_row(f, self.markets[f.symbol]) for f in rows[offset:offset + limit]])

    def orders_received(self, client_id: int, key: str | None = None) -> int:
        """How many POSTs carried ``client_id`` (from ``key``, or from anyone)."""
        return sum(n for (k, cid), n in self.received.items() if cid == client_id and key in (None, k))

