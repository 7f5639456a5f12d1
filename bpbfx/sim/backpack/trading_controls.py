"""The public controls of the simulated Backpack trading: the accounts' balances, orders and
fills, the fault controls of the trading endpoints and account events, the server-side
counters that prove an order was sent exactly once, and the simulator's clock offset.

:class:`TradingControls` is mixed into :class:`~bpbfx.sim.backpack.BackpackSimulator`; every
method may be called from any thread (not the simulator's own).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from bpbfx.sim.backpack.engine import OrderEngine
from bpbfx.sim.backpack.events import AccountEvents, EventFault
from bpbfx.sim.backpack.faults import Countdown, Faults, OrderRejection, ReplyDelay
from bpbfx.sim.backpack.ledger import Ledger
from bpbfx.sim.backpack.market import _Market
from bpbfx.sim.backpack.records import fill_row, order_object
from bpbfx.sim.backpack.trading import TradingApi

if TYPE_CHECKING:
    from bpbfx.sim._http import HttpRequest

__all__: list[str] = []

T = TypeVar("T")


def _count(count: int | None, what: str = "count") -> None:
    if count is not None and count < 0:
        raise ValueError(f"{what} must be >= 0 or None, got {count!r}")


def _error_status(status: int) -> None:
    if not 400 <= status <= 599:
        raise ValueError(f"status must be a 4xx or 5xx HTTP status, got {status!r}")


class TradingControls:
    """Controls of the trading accounts and their faults (a mixin of the simulator)."""

    _lock: threading.RLock
    _cond: threading.Condition
    _engine: OrderEngine
    _ledger: Ledger
    _trading: TradingApi
    _events: AccountEvents
    _faults: Faults
    _markets: dict[str, _Market]
    _clock_offset: float
    rest_requests: list[HttpRequest]

    if TYPE_CHECKING:

        def _run_locked(self, fn: Callable[[], T]) -> T: ...

        def _now(self) -> float: ...

    # ------------------------------------------------------------------ the clock
    @property
    def clock_offset(self) -> float:
        """Seconds the simulator's clock runs ahead of ``clock`` (negative: behind)."""
        return self._clock_offset

    def set_clock_offset(self, seconds: float) -> None:
        """Shift the simulator's clock by ``seconds`` from ``clock``: event times,
        ``/api/v1/time`` and the signature windows of REST requests and private subscriptions
        follow it at once.  Any thread."""
        with self._lock:
            self._clock_offset = float(seconds)

    # ------------------------------------------------------------------ accounts
    def balances(self, api_key: str) -> dict[str, dict[str, Decimal]]:
        """``{asset: {"available": .., "locked": ..}}`` of a trading account (empty when the key
        has not traded and is not listed in ``account_balances``).  Any thread."""
        with self._lock:
            return self._ledger.balances(api_key)

    def set_balance(self, api_key: str, asset: str, amount: str | Decimal) -> None:
        """Set what is available of ``asset`` (what resting orders hold stays held); makes
        ``api_key`` a trading account.  Any thread."""
        with self._lock:
            self._trading.open_account(api_key)
            self._ledger.set(api_key, asset, Decimal(amount))

    def open_orders(self, api_key: str, symbol: str | None = None) -> list[dict[str, Any]]:
        """The resting orders of an account (on ``symbol``), as ``GET /api/v1/orders`` writes
        them, oldest first.  Any thread."""
        with self._lock:
            return [order_object(o, self._markets[o.symbol]) for o in self._engine.open_orders(api_key, symbol)]

    def order_history(self, api_key: str) -> list[dict[str, Any]]:
        """Every order of an account, open or closed, as the REST history writes them, oldest
        first.  Any thread."""
        with self._lock:
            return [order_object(o, self._markets[o.symbol]) for o in self._engine.by_key.get(api_key, [])]

    def fills(self, api_key: str) -> list[dict[str, Any]]:
        """Every fill of an account, as ``GET /wapi/v1/history/fills`` writes them, oldest
        first.  Any thread."""
        with self._lock:
            return [fill_row(f, self._markets[f.symbol]) for f in self._engine.fills.get(api_key, [])]

    def fill_order(self, order_id: str, quantity: str | Decimal | None = None) -> dict[str, Any]:
        """The market crosses a resting order: ``quantity`` (all that is left by default)
        trades as maker at the order's price, with its ``orderFill`` event and a public trade.
        Returns the order object.  Any thread.

        Raises:
            KeyError: no resting order ``order_id``.
            ValueError: ``quantity`` is not a positive multiple of the market's step size.
        """

        def go() -> dict[str, Any]:
            o = self._engine.orders.get(order_id)
            if o is None:
                raise KeyError(f"no resting order {order_id!r}")
            m = self._markets[o.symbol]
            lots = None
            if quantity is not None:
                units = Decimal(quantity) / m.spec.step_size
                if units <= 0 or units != units.to_integral_value():
                    raise ValueError(f"quantity must be a positive multiple of {m.spec.step_size}, got {quantity!r}")
                lots = int(units)
            return order_object(self._engine.fill(order_id, lots, int(self._now() * 1_000_000)), m)

        return self._run_locked(go)

    # ------------------------------------------------------------------ exactly-once counters
    def orders_received(self, client_id: int, api_key: str | None = None) -> int:
        """How many order POSTs (``/api/v1/order`` and each order of ``/api/v1/orders``) carried
        ``client_id``, whatever became of them (refused, dropped, ...); from ``api_key`` (its
        ``X-API-Key`` header) or from anyone.  Any thread."""
        with self._lock:
            return self._trading.orders_received(client_id, api_key)

    def request_count(self, method: str | None = None, path: str | None = None) -> int:
        """How many REST requests the server took with this ``method`` and ``path`` (``None``:
        any).  Any thread."""
        with self._cond:
            return sum(1 for r in self.rest_requests if method in (None, r.method) and path in (None, r.path))

    # ------------------------------------------------------------------ faults of the trading endpoints
    def drop_order_replies(self, count: int = 1) -> None:
        """The next ``count`` order entries (``POST /api/v1/order`` or ``/api/v1/orders``) are
        accepted and executed, then their connection is aborted without an answer: the order
        exists, the client does not know.  Any thread.

        Raises:
            ValueError: ``count`` < 0.
        """
        _count(count)
        with self._lock:
            self._faults.trading.drop_replies = Countdown(count)

    def fail_after_accept(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` order entries are accepted and executed, then answered ``status``
        with ``{"code": "SERVICE_UNAVAILABLE", "message": "Unknown error, please check your
        request or try again later."}``.  Any thread.

        Raises:
            ValueError: ``count`` < 0 or ``status`` not an HTTP error status.
        """
        _count(count)
        _error_status(status)
        with self._lock:
            self._faults.trading.fail_after_accept = Countdown(count, status)

    def delay_replies(
        self, seconds: float, count: int | None = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Answer the next ``count`` trading requests (``None``: every one) matching ``method``
        and ``path`` (``None``: any) ``seconds`` late; what they do happens at once.
        ``delay_replies(0)`` disarms every delay.  Any thread.

        Raises:
            ValueError: ``seconds`` < 0 or ``count`` < 0.
        """
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        _count(count)
        with self._lock:
            if seconds == 0:
                self._faults.trading.delays.clear()
            else:
                upper = method.upper() if method is not None else None
                self._faults.trading.delays.append(ReplyDelay(seconds, Countdown(count), upper, path))

    def answer_cancels_202(self, count: int | None = 1, *, confirm_after: float = 0.0) -> None:
        """Answer the next ``count`` cancels (``DELETE /api/v1/order``; ``None``: every one, 0:
        none) with 202 and no body, as Backpack may; the order is cancelled at once, or
        ``confirm_after`` seconds later, and the stream's ``orderCancelled`` confirms it.  Any
        thread.

        Raises:
            ValueError: ``count`` < 0 or ``confirm_after`` < 0.
        """
        _count(count)
        if confirm_after < 0:
            raise ValueError(f"confirm_after must be >= 0, got {confirm_after!r}")
        with self._lock:
            self._faults.trading.cancels_202 = Countdown(count)
            self._faults.trading.confirm_after = confirm_after

    def reject_next_orders(
        self, code: str, message: str, count: int = 1, *, status: int = 400, api_key: str | None = None
    ) -> None:
        """Refuse the next ``count`` orders (of ``api_key``, or of any account; each order of a
        batch counts) with HTTP ``status`` and ``{"code": code, "message": message}``
        (``"MAINTENANCE"``, ``"TRADING_PAUSED"``, ...); nothing is created.  Any thread.

        Raises:
            ValueError: ``count`` < 1 or ``status`` not an HTTP error status.
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        _error_status(status)
        with self._lock:
            self._faults.trading.rejections.append(OrderRejection(count, status, code, message, api_key))

    def force_rate_limit(self, count: int | None = 1) -> None:
        """Answer the next ``count`` signed requests (``None``: every one, 0: none) 429
        ``TOO_MANY_REQUESTS``, whatever the rate.  Any thread.

        Raises:
            ValueError: ``count`` < 0.
        """
        _count(count)
        with self._lock:
            self._faults.trading.rate_limited = Countdown(count)

    def fail_trade_history(self, count: int | None = 1, status: int = 503) -> None:
        """Refuse the next ``count`` public trade-history requests (``/api/v1/trades`` and
        ``/api/v1/trades/history``; ``None``: every one, 0: none) with ``status`` (503, 429, ...)
        and a Backpack-style error body.  Any thread.

        Raises:
            ValueError: ``count`` < 0 or ``status`` not an HTTP error status.
        """
        _count(count)
        _error_status(status)
        with self._lock:
            self._faults.trading.history_failures = Countdown(count, status)

    # ------------------------------------------------------------------ faults of the account events
    def delay_account_events(
        self, seconds: float, count: int | None = 1, *, during: float | None = None, api_key: str | None = None
    ) -> None:
        """The next ``count`` events of the trading accounts' streams (``orderUpdate``,
        ``positionUpdate``; of ``api_key`` or of every account; ``None``: every one), or with
        ``during`` every event for that many seconds, reach the streams ``seconds`` late, in
        order, the later events waiting behind them; with it the REST answer comes before the
        events.  ``delay_account_events(0)`` disarms it.  One event fault per account at a
        time: this replaces :meth:`suppress_account_events`.  Any thread.

        Raises:
            ValueError: ``seconds`` < 0, ``count`` < 0 or ``during`` <= 0.
        """
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        self._arm_events(seconds, count, during, api_key, disarm=seconds == 0)

    def suppress_account_events(
        self, count: int | None = 1, *, during: float | None = None, api_key: str | None = None
    ) -> None:
        """Lose the next ``count`` events of the trading accounts' streams (of ``api_key`` or of
        every account; ``None``: every one), or with ``during`` every event for that many
        seconds: they happen (REST and the history show them) but are never sent.
        ``suppress_account_events(0)`` disarms it.  One event fault per account at a time.
        Any thread.

        Raises:
            ValueError: ``count`` < 0 or ``during`` <= 0.
        """
        self._arm_events(0.0, count, during, api_key, disarm=count == 0 and during is None)

    def _arm_events(
        self, delay: float, count: int | None, during: float | None, api_key: str | None, disarm: bool
    ) -> None:
        _count(count)
        if during is not None and during <= 0:
            raise ValueError(f"during must be > 0 or None, got {during!r}")
        with self._lock:
            if disarm:
                self._events.faults.pop(api_key, None)
            else:
                until = time.monotonic() + during if during is not None else None
                self._events.faults[api_key] = EventFault(delay, None if during is not None else count, until)
