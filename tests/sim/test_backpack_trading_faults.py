"""Loopback tests of the simulated Backpack trading endpoints' edges: signatures, the clock,
refusals, the rate limit, the fault controls, the exactly-once counters and the public trade
history."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
import websocket

from bpbfx.exceptions import RequestFailedError
from bpbfx.rest import RestClient
from bpbfx.sim.backpack import BackpackSimulator
from tests.sim import test_backpack_orders as orders
from tests.sim.test_backpack_orders import (
    BALANCES,
    KEY,
    OTHER_SECRET,
    SECRET,
    Streams,
    Trader,
    below,
    events,
    until_sentinel,
)

# The fixtures of the order tests: two funded trading accounts, a trader, raw streams.
sim = orders.sim
trader = orders.trader
streams = orders.streams


@pytest.fixture
def public(sim: BackpackSimulator) -> Iterator[RestClient]:
    client = RestClient(sim.http_url, timeout=5)
    yield client
    client.close()


def resting(sim: BackpackSimulator, trader: Trader, client_id: int) -> dict[str, object]:
    """Place a bid that rests; its order object."""
    r = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=below(sim), quantity="1",
                     clientId=client_id)
    assert r.status == 200
    return r.json()  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- signatures and the clock
def test_bad_signatures_are_refused_with_401(sim: BackpackSimulator, trader: Trader) -> None:
    """A wrong signature is 401 INVALID_SIGNATURE; an unknown key and missing headers are 401 as well."""
    body = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": below(sim), "quantity": "1"}
    forged = trader.request("POST", "/api/v1/order", "orderExecute", body,
                            headers=trader.signer.request_headers("orderExecute", {**body, "quantity": "2"}))
    assert (forged.status, forged.json()["code"]) == (401, "INVALID_SIGNATURE")
    wrong_instruction = trader.request("POST", "/api/v1/order", "orderCancel", body)
    assert wrong_instruction.json()["code"] == "INVALID_SIGNATURE"
    outsider = Trader(sim, "6Gkc4fbVKqsRShYmUkv1gtxULXwbMOvrKcBVH1BwfjY=")
    try:
        assert outsider.order(**body).status == 401
    finally:
        outsider.close()
    bare = trader.rest.request("POST", "/api/v1/order", body=json.dumps(body).encode())
    assert bare.status == 401
    assert sim.order_history(KEY) == [] and sim.counters()["auth_refused"] == 4


def test_requests_outside_the_window_have_expired(sim: BackpackSimulator, trader: Trader) -> None:
    """A timestamp outside X-Window of the simulator's clock is refused: 401 "Request has expired"."""
    stale = trader.signer.request_headers("orderQueryAll", {}, timestamp_ms=int(time.time() * 1000) - 10_000)
    r = trader.request("GET", "/api/v1/orders", "orderQueryAll", headers=stale)
    assert r.status == 401 and "Request has expired" in r.json()["message"]
    wide = trader.signer.request_headers("orderQueryAll", {}, timestamp_ms=int(time.time() * 1000) + 70_000)
    wide["X-Window"] = "60000"
    assert trader.request("GET", "/api/v1/orders", "orderQueryAll", headers=wide).status == 401
    too_wide = dict(wide, **{"X-Window": "60001"})
    assert trader.request("GET", "/api/v1/orders", "orderQueryAll", headers=too_wide).status == 400


def test_clock_offset_moves_time_windows_and_stream_signatures(
    backpack_sim: Callable[..., BackpackSimulator],
) -> None:
    """clock_offset shifts /api/v1/time, signature windows (REST and private SUBSCRIBE) and event times."""
    sim = backpack_sim(seed=1, tick_interval=None, clock_offset=30.0, account_balances={KEY: BALANCES})
    trader = Trader(sim, SECRET)
    s = Streams(sim)
    try:
        server_ms = trader.rest.request("GET", "/api/v1/time").json()
        assert abs(server_ms - (time.time() + 30) * 1000) < 5_000
        assert trader.get("/api/v1/orders", "orderQueryAll").status == 401  # signed 30 s behind the exchange
        ws = websocket.create_connection(sim.url, timeout=5)
        try:
            ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["account.orderUpdate"],
                                "signature": trader.signer.subscribe_signature()}))
            assert json.loads(ws.recv())["error"]["code"] == 4104  # ERR_SIGNATURE_EXPIRED
        finally:
            ws.close(timeout=0.2)
        trader.signer.offset_ms = 30_000  # what a client measures with GET /api/v1/time
        assert trader.get("/api/v1/orders", "orderQueryAll").status == 200
        sim.set_clock_offset(0)
        assert sim.clock_offset == 0
        assert trader.get("/api/v1/orders", "orderQueryAll").status == 401
        trader.signer.offset_ms = 0
        private = s.open("account.orderUpdate")
        trader.order(symbol="SOL_USDC", side="Ask", orderType="Market", quantity="0.01")
        (accepted, _) = events(private)
        assert abs(accepted["E"] - time.time() * 1_000_000) < 5_000_000
    finally:
        trader.close()
        s.close()


# ---------------------------------------------------------------------------- refusals
def test_undecodable_bodies_are_refused_in_plain_text(sim: BackpackSimulator, trader: Trader) -> None:
    """Bodies that are not JSON, miss a field or have a wrong type or variant get 400 plain text."""
    not_json = trader.rest.request("POST", "/api/v1/order", body=b"{", headers={"Content-Type": "application/json"})
    cases = [
        ({"symbol": "SOL_USDC", "orderType": "Limit"}, "missing field `side`"),
        ({"symbol": "SOL_USDC", "side": "Buy", "orderType": "Limit"}, "unknown variant `Buy`, expected `Bid` or `Ask`"),
        ({"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "clientId": "7"}, "expected u32"),
        ({"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "clientId": 2**32}, "expected u32"),
        ({"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "postOnly": "yes"}, "expected a boolean"),
    ]
    for body, detail in [({}, ""), *cases]:
        r = trader.order(**body) if body else not_json
        assert r.status == 400 and r.headers["content-type"].startswith("text/plain")
        assert r.text.startswith("parse request payload error: ") and detail in r.text, r.text
    assert sim.counters()["orders_accepted"] == 0


def test_invalid_orders_are_refused_with_codes(sim: BackpackSimulator, trader: Trader) -> None:
    """Orders off the tick or step grid, out of bounds, on unknown markets or with triggers are refused."""
    base = {"side": "Bid", "orderType": "Limit", "symbol": "SOL_USDC", "quantity": "1", "price": below(sim)}
    cases = [
        ({"price": "150.001"}, "INVALID_PRICE"),
        ({"price": "0"}, "INVALID_PRICE"),
        ({"quantity": "0.001"}, "INVALID_QUANTITY"),
        ({"quantity": "1000000"}, "INVALID_QUANTITY"),
        ({"symbol": "NOPE_USDC"}, "INVALID_CLIENT_REQUEST"),
        ({"triggerPrice": "140"}, "INVALID_ORDER"),
        ({"price": None}, "INVALID_ORDER"),
        ({"postOnly": True, "timeInForce": "IOC"}, "INVALID_ORDER"),
        ({"reduceOnly": True}, "INVALID_ORDER"),  # spot
        ({"orderType": "Market", "quoteQuantity": "10"}, "INVALID_ORDER"),  # both quantities
    ]
    for change, code in cases:
        body = {k: v for k, v in {**base, **change}.items() if v is not None}
        r = trader.order(**body)
        assert (r.status, r.json()["code"]) == (400, code), change
    markets = {m["symbol"]: m for m in trader.rest.request("GET", "/api/v1/markets").json()}
    filters = markets["SOL_USDC"]["filters"]
    assert filters["price"] == {"minPrice": "0.01", "maxPrice": "150000", "tickSize": "0.01"}
    assert filters["quantity"] == {"minQuantity": "0.01", "maxQuantity": "200000", "stepSize": "0.01"}


def test_the_rate_limit_answers_429(backpack_sim: Callable[..., BackpackSimulator]) -> None:
    """Beyond rate_limit signed requests per account and window the answer is 429 TOO_MANY_REQUESTS."""
    sim = backpack_sim(seed=1, tick_interval=None, rate_limit=(3, 60.0), account_balances={KEY: BALANCES})
    trader, other = Trader(sim, SECRET), Trader(sim, OTHER_SECRET)
    try:
        statuses = [trader.get("/api/v1/orders", "orderQueryAll").status for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert other.get("/api/v1/orders", "orderQueryAll").status == 200  # per account
        assert sim.counters()["rate_limited"] == 1
    finally:
        trader.close()
        other.close()


# ---------------------------------------------------------------------------- fault controls
def test_drop_order_replies_leaves_an_order_in_doubt(sim: BackpackSimulator, trader: Trader) -> None:
    """The order is created but its connection is aborted unanswered; the server counts one POST."""
    sim.drop_order_replies()
    with pytest.raises(RequestFailedError) as caught:
        resting(sim, trader, 41)
    assert caught.value.maybe_sent
    (o,) = sim.open_orders(KEY)
    assert o["clientId"] == 41 and sim.orders_received(41) == 1 and sim.orders_received(41, KEY) == 1
    found = trader.get("/api/v1/order", "orderQuery", symbol="SOL_USDC", clientId=41)
    assert found.json() == o
    assert sim.counters()["replies_dropped"] == 1


def test_fail_after_accept_answers_503_for_an_accepted_order(sim: BackpackSimulator, trader: Trader) -> None:
    """The order is created and the answer is 503 "Unknown error ..."; the next order is answered normally."""
    sim.fail_after_accept()
    r = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=below(sim), quantity="1", clientId=42)
    assert r.status == 503
    assert r.json() == {"code": "SERVICE_UNAVAILABLE",
                        "message": "Unknown error, please check your request or try again later."}
    assert [o["clientId"] for o in sim.open_orders(KEY)] == [42]
    assert resting(sim, trader, 43)["status"] == "New"


def test_delay_replies_answers_late(sim: BackpackSimulator, trader: Trader, streams: Streams) -> None:
    """A delayed reply comes late while the order (and its events) happened at once."""
    private = streams.open("account.orderUpdate")
    sim.delay_replies(0.3, method="POST", path="/api/v1/order")
    pending = trader.rest.send("POST", "/api/v1/order", body=json.dumps(body := {
        "symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": below(sim), "quantity": "1",
        "clientId": 44}).encode(), headers={**trader.signer.request_headers("orderExecute", body),
                                            "Content-Type": "application/json"})
    started = time.monotonic()
    assert sim.wait_for(lambda: len(sim.open_orders(KEY)) == 1, 5)  # taken at once
    assert [e["c"] for e in events(private)] == [44]  # its event is there before the answer
    assert pending.finish().status == 200
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    assert trader.get("/api/v1/orders", "orderQueryAll").status == 200  # not matched: not delayed
    assert time.monotonic() - started < 0.25


def test_cancels_answered_202_are_confirmed_by_the_stream(
    sim: BackpackSimulator, trader: Trader, streams: Streams
) -> None:
    """answer_cancels_202: 202 without a body, the order cancelled (at once or later), orderCancelled on the stream."""
    private = streams.open("account.orderUpdate")
    first, second = resting(sim, trader, 51), resting(sim, trader, 52)
    sim.answer_cancels_202(count=2, confirm_after=0.3)
    r = trader.cancel(symbol="SOL_USDC", clientId=51)
    assert (r.status, r.body) == (202, b"")
    assert [o["id"] for o in sim.open_orders(KEY)] == [first["id"], second["id"]]  # not yet
    assert sim.wait_for(lambda: len(sim.open_orders(KEY)) == 1, 5)
    sim.answer_cancels_202(count=1)
    assert trader.cancel(symbol="SOL_USDC", clientId=52).status == 202
    assert sim.open_orders(KEY) == []
    assert [(e["e"], e["c"]) for e in events(private)][-2:] == [("orderCancelled", 51), ("orderCancelled", 52)]
    assert trader.cancel(symbol="SOL_USDC", clientId=51).status == 404
    assert sim.counters()["cancels_202"] == 2


def test_delayed_account_events_come_after_the_answer_in_order(
    sim: BackpackSimulator, trader: Trader, streams: Streams
) -> None:
    """delay_account_events holds the next events back; later events wait behind them; order is kept."""
    private = streams.open("account.orderUpdate")
    sim.delay_account_events(0.6, count=1, api_key=KEY)
    trader.order(symbol="SOL_USDC", side="Ask", orderType="Market", quantity="0.01", clientId=61)
    assert until_sentinel(private) == []  # answered, no event yet
    trader.order(symbol="SOL_USDC", side="Ask", orderType="Market", quantity="0.01", clientId=62)
    got = [(json.loads(private.recv())["data"]["c"]) for _ in range(4)]
    assert got == [61, 61, 62, 62]
    assert sim.counters()["account_events_delayed"] == 1
    sim.delay_account_events(0.6, during=30)
    trader.order(symbol="SOL_USDC", side="Ask", orderType="Market", quantity="0.01", clientId=63)
    assert until_sentinel(private) == []
    assert [json.loads(private.recv())["data"]["c"] for _ in range(2)] == [63, 63]
    sim.delay_account_events(0)
    trader.order(symbol="SOL_USDC", side="Ask", orderType="Market", quantity="0.01", clientId=64)
    assert [e["c"] for e in events(private)] == [64, 64]


def test_suppressed_account_events_are_lost_but_happened(
    sim: BackpackSimulator, trader: Trader, streams: Streams
) -> None:
    """suppress_account_events loses the next events; the order and fill are still in the histories."""
    private = streams.open("account.orderUpdate")
    sim.suppress_account_events(count=2)
    o = trader.order(symbol="SOL_USDC", side="Ask", orderType="Market", quantity="0.01", clientId=71).json()
    resting(sim, trader, 72)
    assert [e["c"] for e in events(private)] == [72]
    assert sim.order_history(KEY)[0]["id"] == o["id"] and len(sim.fills(KEY)) == 1
    sim.suppress_account_events(during=60)
    resting(sim, trader, 73)
    sim.suppress_account_events(0)
    resting(sim, trader, 74)
    assert [e["c"] for e in events(private)] == [74]
    assert sim.counters()["account_events_lost"] == 3


def test_reject_next_orders_refuses_with_the_given_answer(sim: BackpackSimulator, trader: Trader) -> None:
    """reject_next_orders answers the next orders with a chosen status and code; nothing is created."""
    sim.reject_next_orders("MAINTENANCE", "Exchange under maintenance", count=2, status=503)
    for n in (81, 82):
        r = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=below(sim), quantity="1", clientId=n)
        assert (r.status, r.json()) == (503, {"code": "MAINTENANCE", "message": "Exchange under maintenance"})
    assert sim.order_history(KEY) == []
    assert resting(sim, trader, 81)["clientId"] == 81  # a refused clientId is still free
    assert sim.orders_received(81) == 2 and sim.counters()["orders_refused_by_fault"] == 2


def test_force_rate_limit_and_fail_rest(sim: BackpackSimulator, trader: Trader) -> None:
    """force_rate_limit answers 429 to the next signed requests; fail_rest refuses any REST request."""
    sim.force_rate_limit(2)
    assert [trader.get("/api/v1/orders", "orderQueryAll").status for _ in range(3)] == [429, 429, 200]
    sim.fail_rest(count=1, status=503)
    r = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=below(sim), quantity="1", clientId=91)
    assert (r.status, r.json()["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert sim.order_history(KEY) == [] and sim.orders_received(91) == 1


def test_request_counts_per_endpoint(sim: BackpackSimulator, trader: Trader) -> None:
    """request_count counts what the server took, by method and path."""
    resting(sim, trader, 1)
    resting(sim, trader, 2)
    trader.cancel(symbol="SOL_USDC", clientId=1)
    assert sim.request_count("POST", "/api/v1/order") == 2
    assert sim.request_count("DELETE", "/api/v1/order") == 1
    assert sim.request_count(path="/api/v1/order") == 3
    assert sim.request_count() == len(sim.rest_requests)


# ---------------------------------------------------------------------------- public trade history
def test_public_trade_history_is_the_trade_stream_tape(
    sim: BackpackSimulator, streams: Streams, public: RestClient
) -> None:
    """/api/v1/trades and /api/v1/trades/history serve the trades the stream published, ids sequential."""
    stream = streams.open("trade.SOL_USDC")
    sim.step(400)
    published = [f["data"] for f in until_sentinel(stream)]
    assert len(published) > 20
    recent = public.request("GET", "/api/v1/trades", params={"symbol": "SOL_USDC", "limit": 10}).json()
    assert [t["id"] for t in recent] == [p["t"] for p in published[-10:]]
    assert all(set(t) == {"id", "price", "quantity", "quoteQuantity", "timestamp", "isBuyerMaker"} for t in recent)
    assert [(Decimal(t["price"]), Decimal(t["quantity"]), t["isBuyerMaker"]) for t in recent] == [
        (Decimal(p["p"]), Decimal(p["q"]), p["m"]) for p in published[-10:]]
    assert all(Decimal(t["quoteQuantity"]) == Decimal(t["price"]) * Decimal(t["quantity"]) for t in recent)
    ids = [t["id"] for t in public.request("GET", "/api/v1/trades", params={"symbol": "SOL_USDC",
                                                                              "limit": 1000}).json()]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # sequential per symbol
    older = public.request("GET", "/api/v1/trades/history",
                           params={"symbol": "SOL_USDC", "limit": 5, "offset": 10}).json()
    assert [t["id"] for t in older] == [p["t"] for p in published[-15:-10]]
    default = public.request("GET", "/api/v1/trades", params={"symbol": "SOL_USDC"}).json()
    assert len(default) == min(100, len(ids))
    bad = public.request("GET", "/api/v1/trades", params={"symbol": "SOL_USDC", "limit": 1001})
    assert bad.status == 400


def test_trade_history_is_bounded_and_can_be_refused(backpack_sim: Callable[..., BackpackSimulator]) -> None:
    """trade_history bounds what is kept; fail_trade_history refuses the next requests."""
    sim = backpack_sim(seed=2, tick_interval=None, trade_history=5)
    client = RestClient(sim.http_url, timeout=5)
    try:
        sim.step(200)
        trades = client.request("GET", "/api/v1/trades/history", params={"symbol": "SOL_USDC", "limit": 100}).json()
        assert len(trades) == 5
        sim.fail_trade_history(count=2, status=429)
        for path in ("/api/v1/trades", "/api/v1/trades/history"):
            r = client.request("GET", path, params={"symbol": "SOL_USDC"})
            assert (r.status, r.json()["code"]) == (429, "TOO_MANY_REQUESTS")
        assert client.request("GET", "/api/v1/trades", params={"symbol": "SOL_USDC"}).status == 200
    finally:
        client.close()


def test_fault_controls_check_their_arguments(sim: BackpackSimulator) -> None:
    """Fault controls refuse arguments out of range at once."""
    with pytest.raises(ValueError):
        sim.drop_order_replies(-1)
    with pytest.raises(ValueError):
        sim.fail_after_accept(status=200)
    with pytest.raises(ValueError):
        sim.delay_replies(-1)
    with pytest.raises(ValueError):
        sim.reject_next_orders("X", "y", count=0)
    with pytest.raises(ValueError):
        sim.suppress_account_events(during=0)
    with pytest.raises(ValueError):
        BackpackSimulator(rate_limit=(0, 1.0))
