"""Requests in doubt decided from the order history (bpbfx.bitfinex.orders.history): the reads the
core asks for and what it decides from their answers.  Pure tests: no sockets, time injected.

Row layouts: docs.bitfinex.com/reference/rest-auth-orders-history (the ws-auth-orders array) and
rest-auth-trades (``[ID, PAIR, MTS_CREATE, ORDER_ID, EXEC_AMOUNT, EXEC_PRICE, ORDER_TYPE,
ORDER_PRICE, MAKER, FEE, FEE_CURRENCY, CID]``).  Errors: ``["error", 10100, "apikey: invalid"]``
with HTTP 500 (bitfinexcom/bitfinex-api-node #116), ``["error", 10114, "nonce: small"]``
(bitfinexcom/bitfinex-api-py #120).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import ConfigurationError, OrderStatusUnknownError
from bpbfx.bitfinex import orders as o
from bpbfx.bitfinex.orders.history import HistoryLookup, parse_answer
from bpbfx.bitfinex.rest import rest_endpoint
from tests.core.test_bitfinex_orders import (
    T0,
    Clock,
    drop_and_return,
    feed,
    make_core,
    order_row,
    sent_frames,
    settle,
)

D = Decimal
T0_MS = int(T0 * 1000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def trade_row(tid: int, oid: int, cid: int, amount: str, price: str, *, mts: int = T0_MS) -> list[Any]:
    """A trade row in the rest-auth-trades layout (a maker fill, fee paid in BTC)."""
    return [tid, "tBTCUSD", mts, oid, amount, price, "EXCHANGE LIMIT", price, 1, "-0.0005", "BTC", cid]


def in_doubt_order(clock: Clock, **kw: Any) -> tuple[o.OrderCore, o.Request[Any]]:
    """A new order sent, its socket dropped, the os after re-auth without it, the grace over."""
    kw.setdefault("history", True)
    kw.setdefault("reconcile_grace", 1.0)
    core = make_core(clock, **kw)
    req = core.submit(o.new_order("tBTCUSD", "0.5", "1000"))
    sent_frames(core)
    drop_and_return(core)
    feed(core, [0, "os", []])
    clock.advance(1.0)
    core.check()
    return core, req


def answer(core: o.OrderCore, lookup: HistoryLookup, rows: Any, status: int = 200) -> None:
    core.looked_up(lookup, status, json.dumps(rows).encode())
    settle(core)


def test_an_order_absent_from_the_snapshot_is_looked_up_in_the_order_history(clock: Clock) -> None:
    """After the grace the core asks for the market's orders closed since the order was sent."""
    core, req = in_doubt_order(clock)
    [lookup] = core.take_lookups()
    assert req.state == "history" and not req.done()
    assert lookup.request is req and lookup.kind == "orders" and lookup.symbol == "tBTCUSD"
    assert lookup.path == "/v2/auth/r/orders/tBTCUSD/hist"
    assert lookup.body() == {"start": T0_MS - 60_000, "limit": 2500}
    assert "POST /v2/auth/r/orders/tBTCUSD/hist (since 2026-12-01 11:59:00 UTC)" == lookup.describe()


def test_an_order_executed_while_down_resolves_to_it_with_its_fills(clock: Clock) -> None:
    """Found EXECUTED in the order history, its fills are read by order id: the result is the order."""
    core, req = in_doubt_order(clock)
    [orders] = core.take_lookups()
    executed = order_row(77, req.cid, status="EXECUTED @ 1000.0(0.5)")
    executed[6] = "0"  # nothing left
    answer(core, orders, [order_row(76, 1, amount="2"), executed])
    assert not req.done()
    [trades] = core.take_lookups()
    assert trades.kind == "trades" and trades.path == "/v2/auth/r/trades/tBTCUSD/hist"
    assert trades.body() == {"start": T0_MS - 60_000, "limit": 2500}
    answer(core, trades, [trade_row(3, 77, req.cid, "0.2", "1000"), trade_row(2, 70, 9, "1", "900"),
                          trade_row(1, 77, req.cid, "0.3", "1000", mts=T0_MS - 5)])
    order = req.result(0)
    assert order.id == 77 and order.status == "EXECUTED @ 1000.0(0.5)" and req.order_id == 77
    assert req.from_history and req.reconciled and req.state == "done"
    assert req.fills is not None and [(f.id, f.exec_amount) for f in req.fills] == [(1, D("0.3")), (3, D("0.2"))]
    assert req.fills[0].fee == D("-0.0005") and req.fills[0].cid == req.cid
    assert core.take_lookups() == [] and core.take_frames() == []


def test_an_order_cancelled_while_down_resolves_to_the_cancelled_order(clock: Clock) -> None:
    """Found CANCELED without a fill: the result is the cancelled order, no fills read."""
    core, req = in_doubt_order(clock, dms=4)
    [orders] = core.take_lookups()
    answer(core, orders, [order_row(78, req.cid, status="CANCELED")])
    assert req.result(0).status == "CANCELED" and req.fills == () and req.from_history
    assert core.take_lookups() == []


def test_an_order_the_history_does_not_list_is_looked_for_twice_then_unknown(clock: Clock) -> None:
    """Not found, read again after history_grace, still not found: unknown, open=False, saying what was read."""
    core, req = in_doubt_order(clock, history_grace=2.0)
    [first] = core.take_lookups()
    answer(core, first, [order_row(5, req.cid, mts=T0_MS - 86_400_000 * 3)])  # same cid, another day
    core.check()
    assert core.take_lookups() == [] and not req.done()
    clock.advance(2.0)
    core.check()
    [second] = core.take_lookups()
    assert second.body() == first.body()
    answer(core, second, [])
    with pytest.raises(OrderStatusUnknownError) as err:
        req.result(0)
    text = str(err.value)
    assert err.value.open is False and f"no order with cid {req.cid} of 2026-12-01" in text
    assert "POST /v2/auth/r/orders/tBTCUSD/hist" in text and "read twice, 2s apart" in text


@pytest.mark.parametrize(
    ("status", "body", "why"),
    [
        (500, '["error",10100,"apikey: invalid"]', "error 10100: apikey: invalid (the API key or signature was"),
        (429, '{"error":"ERR_RATE_LIMIT"}', "ERR_RATE_LIMIT"),
        (502, "<html>bad gateway</html>", "HTTP 502: <html>bad gateway</html>"),
    ],
)
def test_a_refused_read_makes_the_order_unknown_naming_why(clock: Clock, status: int, body: str, why: str) -> None:
    """The exchange refusing the read: OrderStatusUnknownError(open=False) whose message says what was asked and why."""
    core, req = in_doubt_order(clock)
    [lookup] = core.take_lookups()
    core.looked_up(lookup, status, body.encode())
    settle(core)
    with pytest.raises(OrderStatusUnknownError) as err:
        req.result(0)
    assert err.value.open is False and why in str(err.value) and "could not tell" in str(err.value)
    assert "POST /v2/auth/r/orders/tBTCUSD/hist (since 2026-12-01 11:59:00 UTC) failed: HTTP" in str(err.value)


def test_an_unreachable_history_makes_the_order_unknown(clock: Clock) -> None:
    """A read that failed on the way (status None) ends the request with the failure's text."""
    core, req = in_doubt_order(clock)
    [lookup] = core.take_lookups()
    core.looked_up(lookup, None, b"", "POST https://api.bitfinex.com/... failed: connection refused")
    settle(core)
    with pytest.raises(OrderStatusUnknownError, match="connection refused"):
        req.result(0)


def test_nonce_too_small_is_asked_again_once(clock: Clock) -> None:
    """A 10114 answer is read again once (a read is idempotent); a second 10114 ends the request."""
    core, req = in_doubt_order(clock)
    [lookup] = core.take_lookups()
    core.looked_up(lookup, 500, b'["error",10114,"nonce: small"]')
    [again] = core.take_lookups()
    assert again == lookup and not req.done()
    core.looked_up(again, 500, b'["error",10114,"nonce: small"]')
    settle(core)
    with pytest.raises(OrderStatusUnknownError, match="10114"):
        req.result(0)


def test_an_unanswered_read_times_out(clock: Clock) -> None:
    """A read with no answer within history_timeout ends the request; a late answer changes nothing."""
    core, req = in_doubt_order(clock, history_timeout=5.0)
    [lookup] = core.take_lookups()
    clock.advance(5.5)
    core.check()
    settle(core)
    with pytest.raises(OrderStatusUnknownError, match="no answer within 5s"):
        req.result(0)
    core.looked_up(lookup, 200, json.dumps([order_row(1, req.cid)]).encode())
    assert core.take_completions() == [] and core.take_lookups() == []


def test_the_local_read_budget_is_never_exceeded(clock: Clock) -> None:
    """With the budget spent the request fails at once: no read is queued, nothing waits in a loop."""
    core, req = in_doubt_order(clock, history_rate_limit=(1, 60.0))
    [lookup] = core.take_lookups()
    answer(core, lookup, [])
    clock.advance(2.0)
    core.check()
    settle(core)
    assert core.take_lookups() == []
    with pytest.raises(OrderStatusUnknownError, match="budget of 1 history reads per 60s is spent"):
        req.result(0)


def test_fills_that_cannot_be_read_leave_the_order_decided(clock: Clock) -> None:
    """The order is found but its fills cannot be read: decided with the order, .fills None, an error reported."""
    core, req = in_doubt_order(clock)
    [orders] = core.take_lookups()
    answer(core, orders, [order_row(9, req.cid, status="PARTIALLY FILLED @ 1000.0(0.1)")])
    [trades] = core.take_lookups()
    core.looked_up(trades, 500, b'["error",10100,"apikey: invalid"]')
    settle(core)
    assert req.result(0).id == 9 and req.fills is None
    [error] = core.take_errors()
    assert "fills could not be read" in str(error)


def test_a_cancel_in_doubt_resolves_from_the_order_history(clock: Clock) -> None:
    """A cancel whose order left the book: read by id, done with the order as history shows it."""
    core = make_core(clock, history=True, reconcile_grace=0.0)
    feed(core, [0, "on", order_row(5, 50)])
    req = core.submit(o.cancel_order(5))
    sent_frames(core)
    drop_and_return(core)
    feed(core, [0, "os", []])
    core.check()
    [lookup] = core.take_lookups()
    assert lookup.path == "/v2/auth/r/orders/hist" and lookup.body() == {"id": [5], "limit": 2500}
    answer(core, lookup, [order_row(5, 50, status="CANCELED")])
    assert req.result(0).status == "CANCELED" and req.from_history and req.fills is None


def test_a_cancel_by_cid_reads_every_market_from_its_day_and_spares_an_open_order(clock: Clock) -> None:
    """A cancel by cid reads all markets from the start of its cid date; one whose order is still open
    fails unknown with open=True (history is not read)."""
    core = make_core(clock, history=True, reconcile_grace=0.0)
    feed(core, [0, "on", order_row(6, 60)])
    gone = core.submit(o.cancel_order(cid=61, cid_date="2026-12-01"))
    still = core.submit(o.cancel_order(cid=60, cid_date="2026-12-01"))
    sent_frames(core)
    drop_and_return(core)
    feed(core, [0, "os", [order_row(6, 60)]])
    core.check()
    settle(core)
    with pytest.raises(OrderStatusUnknownError) as err:
        still.result(0)
    assert err.value.open is True and err.value.order.id == 6
    [lookup] = core.take_lookups()
    assert lookup.request is gone and lookup.body() == {"start": T0_MS - 12 * 3_600_000, "limit": 2500}
    answer(core, lookup, [order_row(8, 61, status="EXECUTED @ 1000.0(0.5)")])
    assert gone.result(0).id == 8


def test_an_update_whose_order_closed_names_its_final_status(clock: Clock) -> None:
    """An update in doubt whose order left the book: unknown(open=False) with the order from history."""
    core = make_core(clock, history=True, reconcile_grace=0.0)
    feed(core, [0, "on", order_row(7, 70)])
    req = core.submit(o.update_order(7, price="1100"))
    sent_frames(core)
    drop_and_return(core)
    feed(core, [0, "os", []])
    core.check()
    [lookup] = core.take_lookups()
    answer(core, lookup, [order_row(7, 70, status="EXECUTED @ 1000.0(0.5)")])
    with pytest.raises(OrderStatusUnknownError, match="shows it EXECUTED") as err:
        req.result(0)
    assert err.value.open is False and err.value.order.id == 7


def test_without_history_the_message_says_it_was_not_read(clock: Clock) -> None:
    """History off: the request fails after the grace as before, with the reason history was not read."""
    core = make_core(clock, reconcile_grace=0.0)
    core.history_note = "the order history is not read: no rest_url"
    req = core.submit(o.new_order("tBTCUSD", "0.5", "1000"))
    sent_frames(core)
    drop_and_return(core)
    feed(core, [0, "os", []])
    core.check()
    settle(core)
    assert core.take_lookups() == []
    with pytest.raises(OrderStatusUnknownError, match=r"resubmitting; the order history is not read: no rest_url"):
        req.result(0)


def test_a_frame_arriving_during_the_read_decides_and_the_answer_is_ignored(clock: Clock) -> None:
    """A late order frame settles the request while history is read; the answer then changes nothing."""
    core, req = in_doubt_order(clock)
    [lookup] = core.take_lookups()
    feed(core, [0, "oc", order_row(12, req.cid, status="CANCELED")])
    settle(core)
    assert req.result(0).id == 12 and not req.from_history
    answer(core, lookup, [order_row(13, req.cid)])
    assert req.result(0).id == 12 and core.take_lookups() == []


def test_parse_answer_reads_rows_and_errors() -> None:
    """Rows keep the exact number text; error arrays give their code."""
    assert parse_answer(200, b"[[1,2.50,\"x\"]]") == ([[1, "2.50", "x"]], "", None)
    rows, why, code = parse_answer(500, b'["error",10114,"nonce: small"]')
    assert rows is None and code == 10114 and "nonce: small" in why
    assert parse_answer(None, b"", "timed out") == (None, "timed out", None)
    assert parse_answer(200, b'{"x":1}')[0] is None


def test_the_rest_endpoint_is_bitfinex_only_for_bitfinex() -> None:
    """Bitfinex's REST for its own WebSocket hosts (or none given); nothing for any other host
    unless rest_url is given; a rest_url that is not http(s) is refused."""
    assert rest_endpoint(None, None) == "https://api.bitfinex.com"
    assert rest_endpoint("wss://api.bitfinex.com/ws/2", None) == "https://api.bitfinex.com"
    assert rest_endpoint("ws://127.0.0.1:8080", None) is None
    assert rest_endpoint("wss://bitfinex.com.example.org/ws/2", None) is None
    assert rest_endpoint("ws://127.0.0.1:8080", "http://127.0.0.1:8081/") == "http://127.0.0.1:8081"
    with pytest.raises(ConfigurationError, match="rest_url must be"):
        rest_endpoint(None, "ftp://api.bitfinex.com")
