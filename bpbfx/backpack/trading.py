"""Backpack order entry for :class:`~bpbfx.backpack.client.BackpackClient`: the I/O around the
order core.

:class:`Trader` owns what the sans-I/O :class:`~bpbfx.backpack.orders.OrderCore` cannot: the
signer, the keep-alive REST client, the market rules, the client ids, the local rate limit, and
one **orders thread** (``<client>-orders``) that reads the answers, runs the lookups that decide
orders in doubt, fetches the open orders after every (re)connect of the private stream, and runs
the optional ``cancel_on_disconnect`` rule.

An order leaves from the thread that submits it: the request is signed and written on the
calling thread (a bot deciding on a trade in ``on_message`` adds no thread hop), and its answer
is read on the orders thread, which completes the handle.  Nothing is ever sent twice.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import (
    AuthenticationError,
    BpbfxError,
    ClientClosedError,
    ClockSkewError,
    ConfigurationError,
    InvalidOrderError,
    OrderRateLimitError,
    OrdersCancelledError,
    ProxyError,
    RequestAbortedError,
    RequestFailedError,
)
from ..rest import PendingRequest, RestClient
from ..unified.orders import order_hook_argument
from .auth import Signer, clock_offset_ms
from .events import OrderUpdate
from .orders import (
    ClientIdSource,
    Lookup,
    MarketRules,
    Number,
    Order,
    OrderChange,
    OrderCore,
    OrderInput,
    Request,
    cancel_all_orders,
    cancel_order,
    complete,
    new_order,
    new_orders,
    order_body,
    order_from_rest,
    parse_error,
    parse_markets,
)
from .orders.rules import FILLS_PATH, HISTORY_PATH, ORDER_PATH, ORDERS_PATH, RATE_LIMIT, TIME_PATH

if TYPE_CHECKING:
    from .client import BackpackClient

__all__ = ["CLOCK_SKEW_REPORTED_MS", "Trader"]

CLOCK_SKEW_REPORTED_MS = 1_000
"""A measured clock offset larger than this is reported once (:class:`ClockSkewError`)."""
_TICK = 0.1
_HISTORY_LIMIT = 200


class _Window:
    """Sliding-window count of requests (the local rate limit)."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self._stamps: deque[float] = deque()

    def take(self, now: float) -> float:
        """0.0 when a request may go now (and counts it), else seconds until one may.

        Runs on the thread that sends the order: only the stamps that left the window are
        dropped (oldest first), never the whole window copied."""
        cutoff = now - self.period
        stamps = self._stamps
        while stamps and stamps[0] <= cutoff:
            stamps.popleft()
        if len(stamps) < self.limit:
            stamps.append(now)
            return 0.0
        return stamps[0] - cutoff


CLOCK_TIMEOUT = 3.0
"""Seconds a clock measurement (``GET /api/v1/time``) may take."""


class Trader:
    """Order entry of one Backpack client (see the module docstring).  Created by the client;
    every public method is documented on :class:`~bpbfx.backpack.client.BackpackClient`.

    Args:
        client: the owning client (its lock, its hooks, its reports).
        rest: the REST client (shared with the client's snapshot fetches).
        signer: returns the client's signer (raises :class:`CredentialsError` without keys).
        client_ids: the source of generated ``clientId`` values.
        timeout: seconds an order request may take before it is in doubt.
        rate_limit: ``(requests, seconds)`` sent before more are refused locally.
        cancel_on_disconnect: seconds the private stream may stay down before every open order
            is cancelled through REST; ``None``: never.
        stream_grace / confirm_timeout / history_grace: see :class:`OrderCore`.
    """

    def __init__(
        self,
        client: BackpackClient,
        rest: Callable[[], RestClient],
        signer: Callable[[], Signer],
        *,
        client_ids: ClientIdSource | None = None,
        timeout: float = 10.0,
        rate_limit: tuple[int, float] = RATE_LIMIT,
        cancel_on_disconnect: float | None = None,
        stream_grace: float = 1.0,
        confirm_timeout: float = 10.0,
        history_grace: float = 2.0,
    ) -> None:
        if timeout <= 0 or min(stream_grace, confirm_timeout, history_grace) < 0:
            raise ConfigurationError("order timeouts must be > 0 seconds")
        if cancel_on_disconnect is not None and cancel_on_disconnect <= 0:
            raise ConfigurationError(f"cancel_on_disconnect must be > 0 seconds or None, got {cancel_on_disconnect!r}")
        count, period = rate_limit
        if count < 1 or period <= 0:
            raise ConfigurationError(f"order_rate_limit must be (count >= 1, seconds > 0), got {rate_limit!r}")
        self._client = client
        self._rest = rest
        self._signer = signer
        self.client_ids = client_ids or ClientIdSource()
        self.timeout = timeout
        self.cancel_on_disconnect = cancel_on_disconnect
        self.core = OrderCore(stream_grace=stream_grace, confirm_timeout=confirm_timeout, history_grace=history_grace)
        self._window = _Window(count, period)
        self._rules: dict[str, MarketRules] | None = None
        self._rules_lock = threading.Lock()
        self._tasks: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._skew_reported = False
        self.clock_measured_at = 0.0
        self.clock_offset_ms: int | None = None
        self._down_since: float | None = None
        self._cancelled_on_disconnect = False
        self.snapshot_done = False
        """True once the open orders were fetched since the private stream last connected."""
        self._snapshot_due: float | None = None
        self._snapshot_failures = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the orders thread (idempotent; under the client's lock or not)."""
        if self._thread is None and not self._stopped.is_set():
            self._thread = threading.Thread(target=self._run, name=f"{self._client.name}-orders", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the orders thread (it ends after its current task; returns at once).  Requests
        not decided yet fail as the REST client aborts them."""
        self._stopped.set()
        self._tasks.put(None)

    @property
    def thread(self) -> threading.Thread | None:
        """The orders thread, once started."""
        return self._thread

    # ------------------------------------------------------------------ orders
    def submit(
        self,
        symbol: str,
        side: str,
        quantity: Number | None,
        price: Number | None,
        *,
        order_type: str,
        time_in_force: str | None,
        post_only: bool,
        reduce_only: bool,
        client_id: int | None,
        quote_quantity: Number | None,
        self_trade_prevention: str | None,
    ) -> Request[Order]:
        rules = self.rules(symbol)
        inp = new_order(
            symbol, side, quantity, price, client_id=self.client_ids.next() if client_id is None else client_id,
            order_type=order_type, time_in_force=time_in_force, post_only=post_only, reduce_only=reduce_only,
            quote_quantity=quote_quantity, self_trade_prevention=self_trade_prevention, rules=rules,
        )
        return self._send(inp)

    def submit_batch(self, orders: Sequence[Mapping[str, Any]]) -> Request[list[Order]]:
        bodies = []
        for i, spec in enumerate(orders):
            options = dict(spec)
            try:
                symbol = options.pop("symbol")
                side = options.pop("side")
            except KeyError as exc:
                missing = str(exc.args[0])
                raise InvalidOrderError(f"order {i} of the batch has no {missing}", field=missing) from None
            client_id = options.pop("client_id", None)
            try:
                bodies.append(
                    order_body(
                        symbol, side, options.pop("quantity", None), options.pop("price", None),
                        client_id=self.client_ids.next() if client_id is None else client_id,
                        rules=self.rules(symbol), **options,
                    )
                )
            except TypeError as exc:
                raise InvalidOrderError(f"order {i} of the batch: {exc}", field="orders") from None
        return self._send(new_orders(bodies))

    def cancel(self, symbol: str, order_id: str | None, client_id: int | None) -> Request[Order]:
        return self._send(cancel_order(symbol, order_id, client_id=client_id))

    def cancel_all(self, symbol: str) -> Request[list[Order]]:
        return self._send(cancel_all_orders(symbol))

    def _send(self, inp: OrderInput) -> Request[Any]:
        """Sign and write one input on the calling thread; the orders thread reads its answer."""
        client = self._client
        if client.closed:
            raise ClientClosedError(f"{client.name} client is closed")
        signer = self._signer()
        self.start()
        now = time.monotonic()
        with client._lock:
            wait = self._window.take(now)
            if wait:
                req = self.core.refuse(
                    inp,
                    OrderRateLimitError(
                        f"{inp.kind} {inp.symbol} not sent: more than {self._window.limit} requests in "
                        f"{self._window.period:g}s (Backpack's limit is about 2,000 a minute); retry in {wait:.2f}s",
                        local=True, retry_after=wait, kind=inp.kind, cid=inp.client_id,
                    ),
                    now,
                )
                outputs = self._take()
            else:
                req = self.core.register(inp, now)
                outputs = None
        if outputs is not None:
            self._deliver(outputs)
            return req
        headers = signer.request_headers(inp.instruction, inp.body)
        headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            pending = self._rest().send(inp.method, inp.path, body=inp.encoded(), headers=headers, timeout=self.timeout)
        except (RequestFailedError, RequestAbortedError, ProxyError, ClientClosedError) as exc:
            with client._lock:
                self.core.failed(req, exc, time.monotonic())
                outputs = self._take()
            self._deliver(outputs)
            return req
        self._tasks.put(("answer", req, pending))
        return req

    # ------------------------------------------------------------------ market rules and clock
    def rules(self, symbol: str) -> MarketRules | None:
        """The rules of ``symbol`` (``GET /api/v1/markets``, read once, on the calling thread).

        Raises:
            InvalidOrderError: the exchange lists markets and ``symbol`` is not one of them.
        """
        with self._rules_lock:
            if self._rules is None:
                try:
                    response = self._rest().request("GET", "/api/v1/markets", timeout=self.timeout)
                    markets = json.loads(response.body) if response.status == 200 else None
                except (BpbfxError, ValueError):
                    markets = None
                if isinstance(markets, list):
                    self._rules = parse_markets(markets)
            rules = self._rules
        if not rules:
            return None  # the list could not be read: the exchange validates alone
        found = rules.get(symbol)
        if found is None:
            close = [s for s in rules if s.split("_")[0] == symbol.split("_")[0]][:8] or sorted(rules)[:8]
            raise InvalidOrderError(
                f"unknown market {symbol!r}; markets include {', '.join(close)} (GET /api/v1/markets)", field="symbol"
            )
        return found

    def measure_clock(self, signer: Signer) -> int | None:
        """Measure the exchange's clock (``GET /api/v1/time``) and sign with the correction from
        now on; a large offset is reported once as :class:`ClockSkewError`.  Calling thread.
        Returns the offset in ms, or ``None`` when the time could not be read."""
        rest = self._rest()
        sent = time.time()
        try:
            # Half the round trip is the measure's error: a slow answer is worth little.
            response = rest.request("GET", TIME_PATH, timeout=min(self.timeout, CLOCK_TIMEOUT))
            received = time.time()
            server_ms = int(json.loads(response.body)) if response.status == 200 else None
        except (BpbfxError, ValueError, TypeError):
            return None
        if server_ms is None:
            return None
        offset = clock_offset_ms(server_ms, sent, received)
        signer.offset_ms = offset
        self.clock_offset_ms = offset
        self.clock_measured_at = time.monotonic()
        if abs(offset) > CLOCK_SKEW_REPORTED_MS and not self._skew_reported:
            self._skew_reported = True
            ahead = "behind" if offset > 0 else "ahead of"
            self._client.report_error(
                ClockSkewError(
                    f"{self._client.name}: this machine's clock is {abs(offset) / 1000:.1f}s {ahead} Backpack's; "
                    "requests are signed with the corrected time, but fix the clock (NTP) all the same",
                    offset_ms=offset,
                )
            )
        return offset

    # ------------------------------------------------------------------ the stream
    def on_event(self, event: OrderUpdate) -> None:
        """An ``account.orderUpdate`` event (reader thread)."""
        client = self._client
        with client._lock:
            self.core.on_event(event, time.monotonic())
            outputs = self._take()
        self._deliver(outputs)

    def connected(self) -> None:
        """The private stream (re)connected: fetch the open orders (orders thread)."""
        self._down_since = None
        self._cancelled_on_disconnect = False
        self.snapshot_done = False
        self.start()
        self._tasks.put(("snapshot",))

    def disconnected(self) -> None:
        """The private stream dropped: start the ``cancel_on_disconnect`` clock."""
        if self._down_since is None:
            self._down_since = time.monotonic()
        self.snapshot_done = False

    # ------------------------------------------------------------------ the orders thread
    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                task = self._tasks.get(timeout=_TICK)
            except queue.Empty:
                task = ()
            if task is None or self._stopped.is_set():
                return
            try:
                if task:
                    self._do(task)
                self._tick()
            except Exception as exc:  # noqa: BLE001 - the thread must go on; the error is reported
                self._client.report_error(
                    BpbfxError(f"{self._client.name}: order task failed: {type(exc).__name__}: {exc}")
                )

    def measure_then(self, then: Callable[[], None]) -> None:
        """On the orders thread: measure the exchange's clock (:meth:`measure_clock`), then
        call ``then`` (also when the clock could not be read: signing goes on with the offset
        held).  Returns at once; starts the orders thread if needed."""
        self.start()
        self._tasks.put(("clock", then))

    def _do(self, task: tuple[Any, ...]) -> None:
        kind = task[0]
        if kind == "clock":
            try:
                self.measure_clock(self._signer())
            finally:
                task[1]()
        elif kind == "answer":
            _, req, pending = task
            self._finish(req, pending)
        elif kind == "lookup":
            self._lookup(task[1])
        elif kind == "snapshot":
            self._snapshot()

    def _finish(self, req: Request[Any], pending: PendingRequest) -> None:
        client = self._client
        try:
            response = pending.finish()
        except (RequestFailedError, RequestAbortedError, ProxyError, ClientClosedError) as exc:
            with client._lock:
                self.core.failed(req, exc, time.monotonic())
                outputs = self._take()
            self._deliver(outputs)
            return
        if response.status == 401:
            _code, message = parse_error(response.status, response.body)
            if any(w in message.lower() for w in ("expired", "timestamp", "window")):
                self.measure_clock(self._signer())
        with client._lock:
            self.core.answered(req, response.status, response.body, time.monotonic())
            outputs = self._take()
        self._deliver(outputs)

    def _signed_get(self, instruction: str, path: str, params: dict[str, Any]) -> tuple[int | None, bytes]:
        try:
            headers = self._signer().request_headers(instruction, params)
            response = self._rest().request("GET", path, params=params, headers=headers, timeout=self.timeout)
        except (BpbfxError, ValueError):
            return None, b""
        return response.status, response.body

    def _lookup(self, lookup: Lookup) -> None:
        if lookup.kind == "query":
            params: dict[str, Any] = {"symbol": lookup.symbol}
            if lookup.order_id is not None:
                params["orderId"] = lookup.order_id
            else:
                params["clientId"] = lookup.client_id
            status, body = self._signed_get("orderQuery", ORDER_PATH, params)
        elif lookup.kind == "history":
            status, body = self._signed_get(
                "orderHistoryQueryAll", HISTORY_PATH, {"symbol": lookup.symbol, "limit": _HISTORY_LIMIT}
            )
        elif lookup.kind == "fills":
            status, body = self._signed_get(
                "fillHistoryQueryAll", FILLS_PATH, {"symbol": lookup.symbol, "limit": _HISTORY_LIMIT}
            )
        else:
            status, body = self._signed_get("orderQueryAll", ORDERS_PATH, {"symbol": lookup.symbol})
        with self._client._lock:
            self.core.looked_up(lookup, status, body, time.monotonic())
            outputs = self._take()
        self._deliver(outputs)

    def _snapshot(self) -> None:
        client = self._client
        status, body = self._signed_get("orderQueryAll", ORDERS_PATH, {})
        if status == 401:
            _code, message = parse_error(status, body)
            client.keys_refused(
                AuthenticationError(
                    f"{client.name}: Backpack refused the API key for GET /api/v1/orders (HTTP 401: {message}); "
                    "check BACKPACK_PUBLIC_KEY / BACKPACK_SECRET_KEY and the key's permissions",
                    code=401,
                )
            )
            return
        if status != 200:
            # Read again after a pause (the stream keeps the view meanwhile).
            self._snapshot_failures += 1
            self._snapshot_due = time.monotonic() + client.backoff.delay(min(self._snapshot_failures, 8))
            return
        try:
            rows = json.loads(body)
            orders = [order_from_rest(r) for r in rows if isinstance(r, Mapping)] if isinstance(rows, list) else []
        except (ValueError, KeyError, TypeError):
            return
        with client._lock:
            self.core.snapshot(orders)
            self.snapshot_done = True
            self._snapshot_failures = 0
            self._snapshot_due = None
            outputs = self._take()
        client.keys_accepted()
        self._deliver(outputs)

    def _tick(self) -> None:
        client = self._client
        now = time.monotonic()
        with client._lock:
            self.core.check(now)  # may decide requests (a record's grace over) as well as ask for lookups
            outputs = self._take()
        self._deliver(outputs)
        due = self._snapshot_due
        if due is not None and now >= due and self._down_since is None:
            self._snapshot_due = None
            self._snapshot()
        limit = self.cancel_on_disconnect
        since = self._down_since
        if limit is not None and since is not None and not self._cancelled_on_disconnect and now - since >= limit:
            self._cancelled_on_disconnect = True
            self._cancel_everything(now - since)

    def _cancel_everything(self, down: float) -> None:
        """Cancel every open order of the view, market by market, and report once all the
        cancels are decided (their answers are read by this same thread: nothing waits here)."""
        client = self._client
        with client._lock:
            symbols = sorted({o.symbol for o in self.core.orders.values()})
        if not symbols:
            return
        requests = [(symbol, self.cancel_all(symbol)) for symbol in symbols]
        left = [len(requests)]
        lock = threading.Lock()

        def one_done(_done: object) -> None:
            with lock:
                left[0] -= 1
                if left[0]:
                    return
            cancelled: list[Order] = []
            failures: list[str] = []
            for symbol, req in requests:
                error = req.exception(0)
                if error is None:
                    cancelled.extend(req.result(0))
                else:
                    failures.append(f"{symbol}: {error}")
            note = f"; not confirmed for {'; '.join(failures)}" if failures else ""
            client.report_error(
                OrdersCancelledError(
                    f"{client.name}: the private stream was down for {down:.1f}s (cancel_on_disconnect="
                    f"{self.cancel_on_disconnect:g}): cancelled {len(cancelled)} open orders on "
                    f"{', '.join(symbols)}{note}",
                    orders=tuple(cancelled),
                    kind="cancel_all",
                )
            )

        for _symbol, req in requests:
            req.add_done_callback(one_done)

    # ------------------------------------------------------------------ outputs
    def _take(self) -> tuple[list[Any], list[OrderChange], list[BpbfxError], list[Lookup]]:
        core = self.core
        return core.take_completions(), core.take_changes(), core.take_errors(), core.take_lookups()

    def _deliver(self, outputs: tuple[list[Any], list[OrderChange], list[BpbfxError], list[Lookup]]) -> None:
        """Carry out the core's outputs outside the lock (user callbacks run here)."""
        completions, changes, errors, lookups = outputs
        for lookup in lookups:
            self._tasks.put(("lookup", lookup))
        client = self._client
        hook = client.on_order
        for change in changes:
            client.call_hook("on_order", hook, order_hook_argument(client, change))
        for error in errors:
            client.report_error(error)
        if completions:
            complete(completions)
