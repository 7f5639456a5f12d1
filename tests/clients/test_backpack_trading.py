"""Backpack order entry over loopback against the simulator's order engine: placing, refusals in
JSON and plain text, orders in doubt (a dropped answer, a 503 after the order was taken, a
timeout) decided from the stream, the order query and the history, exactly once counted at the
simulator, 202 cancels, the live view across reconnects, cancel-on-disconnect, rate limits and
a skewed clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import (
    AuthenticationError,
    BackpackClient,
    ClockSkewError,
    InvalidOrderError,
    OrderNotSentError,
    OrderRateLimitError,
    OrderRejectedError,
    OrdersCancelledError,
    OrderStatusUnknownError,
)
from bpbfx.backpack.orders import OrderChange
from bpbfx.factory import generate_test_keys
from bpbfx.sim import BackpackSimulator
from bpbfx.sim._http import HttpReply, HttpRequest
from tests.support import FAST, Recorder

SYMBOL = "SOL_USDC"
BALANCES = {"USDC": "100000", "SOL": "100"}
WAIT = 15.0


@pytest.fixture
def keys() -> Any:
    return generate_test_keys("backpack")


@pytest.fixture
def sim(backpack_sim: Callable[..., BackpackSimulator], keys: Any) -> BackpackSimulator:
    return backpack_sim(account_balances={keys.api_key: BALANCES})


class Trading:
    """A started client with keys on ``sim``, its errors and its order changes."""

    def __init__(self, sim: BackpackSimulator, keys: Any, **options: Any) -> None:
        self.key = keys.api_key
        self.errors = Recorder()
        self.changes: list[OrderChange] = []
        self._lock = threading.Lock()
        options.setdefault("backoff", FAST)
        self.client = BackpackClient(
            sim.url, rest_url=sim.http_url, api_key=keys.api_key, api_secret=keys.api_secret,
            on_error=self.errors, on_order=self._on_order, **options,
        )

    def _on_order(self, client: BackpackClient, change: OrderChange) -> None:
        with self._lock:
            self.changes.append(change)

    def kinds(self, order_id: str) -> list[str]:
        with self._lock:
            return [c.kind for c in self.changes if c.order.id == order_id]


@pytest.fixture
def trading(sim: BackpackSimulator, keys: Any) -> Iterator[Callable[..., Trading]]:
    made: list[Trading] = []

    def make(**options: Any) -> Trading:
        t = Trading(sim, keys, **options)
        made.append(t)
        t.client.start()
        assert t.client.wait_ready(WAIT), t.client.readiness()
        return t

    yield make
    for t in made:
        t.client.close()


def below(sim: BackpackSimulator, ticks: int = 100) -> Decimal:
    """A bid price that rests: well under the best bid, on the tick grid."""
    bid = sim.book(SYMBOL).best_bid
    assert bid is not None
    return bid - Decimal(ticks) * Decimal("0.01")


def test_an_order_rests_is_seen_in_the_view_and_is_cancelled(sim: BackpackSimulator, trading: Any) -> None:
    """Placed once, its handle gives the exchange's order; orders() and on_order follow it; the
    cancel closes it."""
    t = trading()
    price = below(sim)
    req = t.client.submit_order(SYMBOL, "Bid", "1.5", price, post_only=True)
    order = req.result(WAIT)
    assert (order.status, order.client_id, order.side, order.order_type) == ("New", req.client_id, "Bid", "Limit")
    assert order.price == price and order.quantity == Decimal("1.5") and isinstance(order.price, Decimal)
    assert not req.reconciled and req.http_status == 200
    assert sim.orders_received(req.client_id) == 1
    assert list(t.client.orders()) == [order.id]
    assert [o["id"] for o in sim.open_orders(t.key)] == [order.id]

    cancelled = t.client.cancel_order(SYMBOL, order.id).result(WAIT)
    assert cancelled.status == "Cancelled" and cancelled.id == order.id
    assert sim.wait_for(lambda: t.client.orders() == {} and t.kinds(order.id)[-1:] == ["closed"], WAIT)
    assert t.kinds(order.id)[0] == "new"
    assert sim.open_orders(t.key) == []
    assert not t.errors.items


def test_an_order_that_takes_the_book_fills_at_once(sim: BackpackSimulator, trading: Any) -> None:
    t = trading()
    limit = sim.book(SYMBOL).best_ask + Decimal("1")  # above the ask however the book moves meanwhile
    order = t.client.submit_order(SYMBOL, "Bid", "0.1", limit, time_in_force="IOC").result(WAIT)
    assert order.status == "Filled" and order.executed_quantity == Decimal("0.1")
    assert t.client.orders() == {}


def test_arguments_off_the_market_grid_are_refused_before_sending(sim: BackpackSimulator, trading: Any) -> None:
    t = trading()
    with pytest.raises(InvalidOrderError, match="tick size") as err:
        t.client.submit_order(SYMBOL, "Bid", "1", below(sim) + Decimal("0.001"))
    assert err.value.field == "price"
    with pytest.raises(InvalidOrderError, match="step") as err:
        t.client.submit_order(SYMBOL, "Bid", "1.0001", below(sim))
    assert err.value.field == "quantity"
    with pytest.raises(InvalidOrderError, match="unknown market 'NOPE_USDC'"):
        t.client.submit_order("NOPE_USDC", "Bid", "1", "1")
    assert sim.request_count("POST", "/api/v1/order") == 0


def test_refusals_say_what_the_exchange_said(sim: BackpackSimulator, trading: Any) -> None:
    """A post-only order that would take, a reused clientId, maintenance: each fails its handle
    with a specific error, nothing is placed."""
    t = trading()
    ask = sim.book(SYMBOL).best_ask + Decimal("1")  # crosses however the book moves
    with pytest.raises(OrderRejectedError, match=r"INVALID_ORDER.*would immediately match") as err:
        t.client.submit_order(SYMBOL, "Bid", "1", ask, post_only=True).result(WAIT)
    assert err.value.status == "INVALID_ORDER"

    first = t.client.submit_order(SYMBOL, "Bid", "1", below(sim), client_id=4242).result(WAIT)
    with pytest.raises(OrderRejectedError, match="never reusable"):
        t.client.submit_order(SYMBOL, "Bid", "1", below(sim), client_id=4242).result(WAIT)
    assert list(t.client.orders()) == [first.id]

    sim.reject_next_orders("MAINTENANCE", "Exchange is in maintenance", status=503)
    with pytest.raises(OrderNotSentError, match="safe to send again later"):
        t.client.submit_order(SYMBOL, "Bid", "1", below(sim)).result(WAIT)
    assert len(sim.open_orders(t.key)) == 1
    assert not t.errors.items  # order errors belong to their handle


class PlainTextRefusals(BackpackSimulator):
    """Answers the next order entry with the plain-text parse error Backpack sends for some
    malformed bodies."""

    refuse = 1

    def http_request(self, request: HttpRequest) -> HttpReply | None:
        if request.method == "POST" and request.path == "/api/v1/order" and self.refuse:
            self.refuse -= 1
            return HttpReply(400, "parse request payload error: unknown variant `Bidd`, expected `Bid` or `Ask`")
        return super().http_request(request)


def test_a_plain_text_refusal_is_a_clear_rejection(keys: Any) -> None:
    with PlainTextRefusals(account_balances={keys.api_key: BALANCES}) as sim:
        t = Trading(sim, keys)
        with t.client:
            assert t.client.wait_ready(WAIT)
            with pytest.raises(OrderRejectedError, match="parse request payload error: unknown variant") as err:
                t.client.submit_order(SYMBOL, "Bid", "1", below(sim)).result(WAIT)
            assert "nothing was placed" in str(err.value) and err.value.cid is not None
            assert t.client.submit_order(SYMBOL, "Bid", "1", below(sim)).result(WAIT).status == "New"


def test_a_dropped_answer_is_decided_by_the_stream_and_never_resent(sim: BackpackSimulator, trading: Any) -> None:
    t = trading()
    sim.drop_order_replies()
    req = t.client.submit_order(SYMBOL, "Bid", "2", below(sim))
    order = req.result(WAIT)
    assert order.status == "New" and order.client_id == req.client_id and req.reconciled
    assert req.http_status is None
    assert sim.orders_received(req.client_id) == 1
    assert len(sim.open_orders(t.key)) == 1
    assert list(t.client.orders()) == [order.id]


def test_a_dropped_answer_with_the_events_lost_is_decided_by_the_order_query(
    sim: BackpackSimulator, trading: Any
) -> None:
    t = trading()
    sim.drop_order_replies()
    sim.suppress_account_events(count=1)
    req = t.client.submit_order(SYMBOL, "Bid", "2", below(sim))
    order = req.result(WAIT)
    assert order.status == "New" and req.reconciled
    assert sim.request_count("GET", "/api/v1/order") >= 1
    assert sim.orders_received(req.client_id) == 1


def test_a_503_after_the_order_filled_is_decided_by_the_history(sim: BackpackSimulator, trading: Any) -> None:
    """The order filled at once (so the query finds nothing resting) and its events were lost:
    the order history says Filled."""
    t = trading()
    sim.fail_after_accept()
    sim.suppress_account_events(count=3)
    req = t.client.submit_order(SYMBOL, "Bid", "0.1", sim.book(SYMBOL).best_ask + Decimal("1"), time_in_force="IOC")
    order = req.result(WAIT)
    assert order.status == "Filled" and order.executed_quantity == Decimal("0.1") and req.reconciled
    assert req.http_status == 503
    assert sim.request_count("GET", "/wapi/v1/history/orders") >= 1
    assert sim.orders_received(req.client_id) == 1
    assert t.client.orders() == {}


def test_a_timeout_is_in_doubt_and_decided_without_sending_again(sim: BackpackSimulator, trading: Any) -> None:
    t = trading(order_timeout=0.3)
    sim.delay_replies(1.5, method="POST", path="/api/v1/order")
    req = t.client.submit_order(SYMBOL, "Bid", "1", below(sim))
    order = req.result(WAIT)
    assert order.status == "New" and req.reconciled
    assert sim.orders_received(req.client_id) == 1
    assert sim.request_count("POST", "/api/v1/order") == 1


class SwallowedOrders(BackpackSimulator):
    """Loses the next order entry on the way in: the connection drops, nothing reaches the
    engine, so no record anywhere knows it."""

    swallow = 1

    def http_request(self, request: HttpRequest) -> HttpReply | None:
        if request.method == "POST" and request.path == "/api/v1/order" and self.swallow:
            self.swallow -= 1
            return HttpReply(200, "", drop=True)
        return super().http_request(request)


def test_an_order_no_record_knows_is_unknown_and_not_open(keys: Any) -> None:
    with SwallowedOrders(account_balances={keys.api_key: BALANCES}) as sim:
        t = Trading(sim, keys)
        with t.client:
            assert t.client.wait_ready(WAIT)
            req = t.client.submit_order(SYMBOL, "Bid", "1", below(sim))
            with pytest.raises(OrderStatusUnknownError) as err:
                req.result(WAIT + 10)
            assert err.value.open is False
            text = str(err.value)
            assert "history" in text and "fills" in text and str(req.client_id) in text
            assert sum(1 for r in sim.rest_requests if r.path == "/api/v1/order" and r.method == "POST") == 1
            assert sim.open_orders(t.key) == []


def test_a_cancel_answered_202_completes_when_the_stream_confirms(sim: BackpackSimulator, trading: Any) -> None:
    t = trading()
    order = t.client.submit_order(SYMBOL, "Bid", "1", below(sim)).result(WAIT)
    sim.answer_cancels_202(confirm_after=0.3)
    req = t.client.cancel_order(SYMBOL, client_id=order.client_id)
    cancelled = req.result(WAIT)
    assert req.http_status == 202 and cancelled.status == "Cancelled" and cancelled.id == order.id
    assert t.client.orders() == {}


def test_cancel_all_and_a_batch(sim: BackpackSimulator, trading: Any) -> None:
    """A batch answers each order on its own (one refused, one placed); cancel_all lists what it
    closed."""
    t = trading()
    ask = sim.book(SYMBOL).best_ask + Decimal("1")  # crosses however the book moves
    batch = t.client.submit_orders([
        {"symbol": SYMBOL, "side": "Bid", "quantity": "1", "price": below(sim)},
        {"symbol": SYMBOL, "side": "Bid", "quantity": "1", "price": ask, "post_only": True},
        {"symbol": SYMBOL, "side": "Bid", "quantity": "2", "price": below(sim, 200)},
    ])
    first, refused, third = batch.requests
    assert first.result(WAIT).status == "New" and third.result(WAIT).status == "New"
    with pytest.raises(OrderRejectedError, match="would immediately match"):
        refused.result(WAIT)
    placed = sorted([first.result().id, third.result().id])
    assert sorted(t.client.orders()) == placed
    with pytest.raises(OrderRejectedError):  # the batch's own result: its first error
        batch.result(WAIT)
    closed = t.client.cancel_all_orders(SYMBOL).result(WAIT)
    assert sorted(o.id for o in closed) == placed
    assert {o.status for o in closed} == {"Cancelled"}
    assert sim.wait_for(lambda: t.client.orders() == {}, WAIT)


def test_the_view_catches_up_after_a_reconnect(sim: BackpackSimulator, trading: Any) -> None:
    """An order filled while the socket was down and its events lost: the open-orders snapshot
    read after the reconnect closes it in the view."""
    t = trading()
    order = t.client.submit_order(SYMBOL, "Bid", "1", below(sim)).result(WAIT)
    sim.refuse_connections(503)
    sim.drop_connections()
    sim.suppress_account_events(count=None, during=1.0)
    sim.fill_order(order.id)
    sim.refuse_connections(None)
    assert sim.wait_for(lambda: t.client.orders() == {}, WAIT)
    closed = [c for c in t.changes if c.order.id == order.id and c.kind == "closed"]
    assert closed and closed[-1].source == "snapshot"


def test_cancel_on_disconnect_cancels_through_rest_and_says_so(sim: BackpackSimulator, trading: Any) -> None:
    t = trading(cancel_on_disconnect=0.5)
    t.client.submit_order(SYMBOL, "Bid", "1", below(sim)).result(WAIT)
    t.client.submit_order(SYMBOL, "Bid", "1", below(sim, 150)).result(WAIT)
    sim.refuse_connections(503)
    sim.drop_connections()
    assert t.errors.wait_for(lambda items: any(isinstance(e, OrdersCancelledError) for e in items), WAIT)
    assert sim.open_orders(t.key) == []
    error = next(e for e in t.errors.items if isinstance(e, OrdersCancelledError))
    assert "2" in str(error) and "0.5" in str(error)
    sim.refuse_connections(None)
    assert t.client.wait_ready(WAIT) and t.client.orders() == {}


def test_rate_limits_local_and_the_exchanges(sim: BackpackSimulator, trading: Any) -> None:
    t = trading(order_rate_limit=(2, 60.0))
    t.client.submit_order(SYMBOL, "Bid", "1", below(sim)).result(WAIT)
    t.client.submit_order(SYMBOL, "Bid", "1", below(sim)).result(WAIT)
    with pytest.raises(OrderRateLimitError) as err:
        t.client.submit_order(SYMBOL, "Bid", "1", below(sim)).result(0)
    assert err.value.local is True and err.value.retry_after is not None and err.value.retry_after > 0
    assert sim.request_count("POST", "/api/v1/order") == 2

    u = trading()
    sim.force_rate_limit()
    with pytest.raises(OrderRateLimitError, match="nothing was placed") as err:
        u.client.submit_order(SYMBOL, "Bid", "1", below(sim)).result(WAIT)
    assert err.value.local is False
    assert len(sim.open_orders(u.key)) == 2


def test_a_clock_30_seconds_behind_is_measured_and_signing_follows(
    backpack_sim: Callable[..., BackpackSimulator], keys: Any
) -> None:
    """The exchange's clock is 30 s ahead: the client measures the offset when it connects, the
    private stream and orders are signed with the exchange's time, and the skew is reported
    once as ClockSkewError."""
    sim = backpack_sim(account_balances={keys.api_key: BALANCES}, clock_offset=30.0)
    t = Trading(sim, keys)
    with t.client:
        assert t.client.wait_ready(WAIT), t.client.readiness()
        assert t.client.clock_offset_ms is not None and 29_000 <= t.client.clock_offset_ms <= 31_000
        order = t.client.submit_order(SYMBOL, "Bid", "1", below(sim)).result(WAIT)
        assert order.status == "New"
        assert sim.wait_for(lambda: t.kinds(order.id) != [], WAIT)
        skews = [e for e in t.errors.items if isinstance(e, ClockSkewError)]
        assert len(skews) == 1 and "30" in str(skews[0])
        assert [e for e in t.errors.items if not isinstance(e, ClockSkewError)] == []


def test_refused_keys_make_the_client_not_ready(backpack_sim: Callable[..., BackpackSimulator], keys: Any) -> None:
    other = generate_test_keys("backpack")
    sim = backpack_sim(accounts=[other.api_key])
    t = Trading(sim, keys)
    with t.client:
        assert not t.client.wait_ready(WAIT)
        assert t.errors.wait_for(lambda items: any(isinstance(e, AuthenticationError) for e in items), WAIT)
        assert keys.api_secret not in " ".join(str(e) for e in t.errors.items)
