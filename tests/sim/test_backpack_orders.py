"""Loopback tests of the simulated Backpack trading: the order engine behind the signed REST
endpoints, balances, fees, and the account.orderUpdate events, driven with bpbfx's RestClient
and Signer and raw WebSocket clients."""

from __future__ import annotations

import base64
import json
import re
import select
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import websocket
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bpbfx.backpack.auth import Signer
from bpbfx.rest import RestClient, RestResponse
from bpbfx.sim.backpack import BackpackSimulator

# Key pair from Backpack's official guide, and a second account.
SECRET = "4odxgSUxFrC/zsKWZF4OQwYAgnNu9hnWH3NxWfLAPz4="
KEY = "zDIJj9qneWIY0IYZ5aXoHcNMCm+XDhVcTssiT0HyY0A="
OTHER_SECRET = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
OTHER_KEY = Signer(OTHER_SECRET).verifying_key

BALANCES = {"USDC": "100000", "SOL": "100", "BTC": "1"}

# A subscribe that always fails: its error frame marks "everything queued before has arrived".
SENTINEL = json.dumps({"method": "SUBSCRIBE", "params": ["trades.SENTINEL"]})
WIRE_4006 = {"id": None, "error": {"code": 4006, "message": "Invalid stream"}}


class Trader:
    """Signed REST requests of one account, over one keep-alive client."""

    def __init__(self, sim: BackpackSimulator, secret: str) -> None:
        self.signer = Signer(secret)
        self.key = self.signer.verifying_key
        self.rest = RestClient(sim.http_url, timeout=5)

    def request(
        self,
        method: str,
        path: str,
        instruction: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestResponse:
        signed = body if body is not None else (params or {})
        sent = self.signer.request_headers(instruction, signed)
        if body is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        data = None if body is None else json.dumps(body).encode()
        return self.rest.request(method, path, params=params, body=data, headers=sent)

    def order(self, **fields: Any) -> RestResponse:
        return self.request("POST", "/api/v1/order", "orderExecute", fields)

    def batch(self, *orders: dict[str, Any]) -> RestResponse:
        return self.request("POST", "/api/v1/orders", "orderExecute", list(orders))

    def cancel(self, **fields: Any) -> RestResponse:
        return self.request("DELETE", "/api/v1/order", "orderCancel", fields)

    def cancel_all(self, symbol: str) -> RestResponse:
        return self.request("DELETE", "/api/v1/orders", "orderCancelAll", {"symbol": symbol})

    def get(self, path: str, instruction: str, **params: Any) -> RestResponse:
        return self.request("GET", path, instruction, params={k: str(v) for k, v in params.items()})

    def close(self) -> None:
        self.rest.close()


class Streams:
    """Raw sockets subscribed to (signed) streams of one simulator, closed together."""

    def __init__(self, sim: BackpackSimulator) -> None:
        self.sim = sim
        self.sockets: list[websocket.WebSocket] = []

    def open(self, *names: str, secret: str = SECRET) -> websocket.WebSocket:
        sim = self.sim
        ws = websocket.create_connection(sim.url, timeout=5)
        self.sockets.append(ws)
        before = {n: sim.subscriber_count(n) for n in names}
        frame: dict[str, Any] = {"method": "SUBSCRIBE", "params": list(names)}
        if any(n.startswith("account.") for n in names):
            frame["signature"] = Signer(secret).subscribe_signature()
        ws.send(json.dumps(frame))
        assert sim.wait_for(lambda: all(sim.subscriber_count(n) > before[n] for n in names), 5)
        return ws

    def close(self) -> None:
        for ws in self.sockets:
            ws.close(timeout=0.2)


def until_sentinel(ws: websocket.WebSocket) -> list[dict[str, Any]]:
    """Every frame received before the sentinel's error frame."""
    ws.send(SENTINEL)
    frames = []
    while (frame := json.loads(ws.recv())) != WIRE_4006:
        frames.append(frame)
    return frames


def events(ws: websocket.WebSocket, stream: str = "account.orderUpdate") -> list[dict[str, Any]]:
    """The data of the frames of ``stream`` queued so far."""
    return [f["data"] for f in until_sentinel(ws) if f["stream"] == stream]


def below(sim: BackpackSimulator, symbol: str = "SOL_USDC", ticks: int = 100) -> str:
    """A bid price ``ticks`` ticks under the best bid: it rests."""
    best = sim.book(symbol).best_bid
    assert best is not None
    return str(best - ticks * Decimal("0.01"))


def last_price(sim: BackpackSimulator, symbol: str = "SOL_USDC") -> tuple[Decimal, Decimal]:
    """The best bid and best ask of ``symbol``."""
    book = sim.book(symbol)
    assert book.best_bid is not None and book.best_ask is not None
    return book.best_bid, book.best_ask


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture
def sim(backpack_sim: Callable[..., BackpackSimulator]) -> BackpackSimulator:
    """A stepped simulator with two funded trading accounts."""
    return backpack_sim(seed=7, tick_interval=None, accounts=[KEY, OTHER_KEY],
                        account_balances={KEY: BALANCES, OTHER_KEY: BALANCES})


@pytest.fixture
def trader(sim: BackpackSimulator) -> Iterator[Trader]:
    t = Trader(sim, SECRET)
    yield t
    t.close()


@pytest.fixture
def other(sim: BackpackSimulator) -> Iterator[Trader]:
    t = Trader(sim, OTHER_SECRET)
    yield t
    t.close()


@pytest.fixture
def streams(sim: BackpackSimulator) -> Iterator[Streams]:
    s = Streams(sim)
    yield s
    s.close()


def order_keys(*extra: str) -> set[str]:
    return {"id", "symbol", "side", "orderType", "timeInForce", "executedQuantity", "executedQuoteQuantity",
            "status", "selfTradePrevention", "reduceOnly", "createdAt", *extra}


# ---------------------------------------------------------------------------- order entry
def test_a_resting_limit_order_is_answered_held_and_queryable(sim: BackpackSimulator, trader: Trader) -> None:
    """A limit order below the market rests: 200 with the order object, its funds held, found by id and clientId."""
    price = below(sim)
    r = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=price, quantity="2.50", clientId=11)
    assert r.status == 200
    o = r.json()
    assert set(o) == order_keys("clientId", "price", "quantity", "quoteQuantity", "postOnly")
    assert o["id"].isdigit() and o["clientId"] == 11 and o["status"] == "New"
    assert (o["side"], o["orderType"], o["timeInForce"], o["selfTradePrevention"]) == ("Bid", "Limit", "GTC",
                                                                                        "RejectTaker")
    assert Decimal(o["price"]) == Decimal(price) and Decimal(o["quantity"]) == Decimal("2.5")
    assert Decimal(o["quoteQuantity"]) == Decimal(price) * Decimal("2.5")
    assert (o["executedQuantity"], o["executedQuoteQuantity"]) == ("0", "0")
    assert o["postOnly"] is False and o["reduceOnly"] is False
    assert abs(o["createdAt"] - time.time() * 1000) < 60_000
    held = Decimal(price) * Decimal("2.5")
    assert sim.balances(KEY)["USDC"] == {"available": Decimal(100000) - held, "locked": held}
    for params in ({"clientId": 11}, {"orderId": o["id"]}):
        found = trader.get("/api/v1/order", "orderQuery", symbol="SOL_USDC", **params)
        assert (found.status, found.json()) == (200, o)
    assert trader.get("/api/v1/orders", "orderQueryAll").json() == [o]
    assert trader.get("/api/v1/orders", "orderQueryAll", symbol="BTC_USDC").json() == []
    assert sim.open_orders(KEY) == [o]


def test_order_query_needs_exactly_one_id_and_answers_404_for_closed_orders(
    sim: BackpackSimulator, trader: Trader
) -> None:
    """GET /api/v1/order takes one of orderId / clientId and finds resting orders only."""
    o = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=below(sim), quantity="1",
                     clientId=3).json()
    neither = trader.get("/api/v1/order", "orderQuery", symbol="SOL_USDC")
    both = trader.get("/api/v1/order", "orderQuery", symbol="SOL_USDC", orderId=o["id"], clientId=3)
    assert neither.status == both.status == 400
    assert neither.json()["code"] == "INVALID_CLIENT_REQUEST"
    assert trader.cancel(symbol="SOL_USDC", orderId=o["id"]).status == 200
    gone = trader.get("/api/v1/order", "orderQuery", symbol="SOL_USDC", clientId=3)
    assert (gone.status, gone.json()["code"]) == (404, "RESOURCE_NOT_FOUND")


def test_a_crossing_limit_order_walks_the_book_and_rests_the_rest(
    sim: BackpackSimulator, trader: Trader, streams: Streams
) -> None:
    """A marketable limit order takes the book level by level (trades and depth show it) and rests the rest."""
    public = streams.open("depth.SOL_USDC", "trade.SOL_USDC")
    private = streams.open("account.orderUpdate")
    asks = sim.book("SOL_USDC").asks
    (p0, q0), (p1, q1), (p2, _) = asks[:3]
    quantity = q0 + q1 + Decimal("1.25")
    r = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=str(p1), quantity=str(quantity))
    o = r.json()
    assert o["status"] == "PartiallyFilled"
    assert Decimal(o["executedQuantity"]) == q0 + q1
    assert Decimal(o["executedQuoteQuantity"]) == p0 * q0 + p1 * q1
    after = sim.book("SOL_USDC")
    assert after.best_ask == p2 and after.best_bid is not None and after.best_bid < p2  # both levels taken
    fills = trader.get("/wapi/v1/history/fills", "fillHistoryQueryAll", symbol="SOL_USDC").json()
    assert [(Decimal(f["price"]), Decimal(f["quantity"])) for f in fills] == [(p1, q1), (p0, q0)]  # newest first
    assert all(f["isMaker"] is False and f["feeSymbol"] == "SOL" for f in fills)
    assert [Decimal(f["fee"]) for f in fills] == [q1 * Decimal("0.001"), q0 * Decimal("0.001")]
    frames = until_sentinel(public)
    trades = [f["data"] for f in frames if f["stream"] == "trade.SOL_USDC"]
    assert [t["t"] for t in trades] == [f["tradeId"] for f in reversed(fills)]
    assert all(t["m"] is False for t in trades)  # the buyer took
    (delta,) = [f["data"] for f in frames if f["stream"] == "depth.SOL_USDC"]
    assert delta["U"] == delta["u"] == sim.last_update_id("SOL_USDC")
    assert {Decimal(p): Decimal(q) for p, q in delta["a"]} == {p0: 0, p1: 0}
    kinds = [(e["e"], e["X"]) for e in events(private)]
    assert kinds == [("orderAccepted", "New"), ("orderFill", "PartiallyFilled"), ("orderFill", "PartiallyFilled")]
    (resting,) = sim.open_orders(KEY)
    assert resting["id"] == o["id"] and Decimal(resting["executedQuantity"]) == q0 + q1
    fee = (q0 + q1) * Decimal("0.001")
    balances = sim.balances(KEY)
    assert balances["SOL"]["available"] == Decimal(100) + q0 + q1 - fee
    assert balances["USDC"]["locked"] == p1 * Decimal("1.25")
    assert balances["USDC"]["available"] == Decimal(100000) - p0 * q0 - p1 * q1 - p1 * Decimal("1.25")


def test_ioc_expires_what_it_cannot_take(sim: BackpackSimulator, trader: Trader, streams: Streams) -> None:
    """IOC takes what crosses and expires the rest: status Expired, expiryReason ImmediateOrCancel."""
    private = streams.open("account.orderUpdate")
    p0, q0 = sim.book("SOL_USDC").asks[0]
    o = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=str(p0), quantity=str(q0 + 1),
                     timeInForce="IOC").json()
    assert (o["status"], o["expiryReason"], Decimal(o["executedQuantity"])) == ("Expired", "ImmediateOrCancel", q0)
    expired = events(private)[-1]
    assert (expired["e"], expired["X"], expired["R"]) == ("orderExpired", "Expired", "ImmediateOrCancel")
    assert sim.open_orders(KEY) == [] and sim.balances(KEY)["USDC"]["locked"] == 0


def test_fok_trades_all_or_nothing(sim: BackpackSimulator, trader: Trader) -> None:
    """FOK that cannot fill whole expires untouched (FillOrKill); one that can is Filled."""
    before = sim.book("SOL_USDC")
    p0, q0 = before.asks[0]
    o = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=str(p0), quantity=str(q0 + 1),
                     timeInForce="FOK").json()
    assert (o["status"], o["expiryReason"], o["executedQuantity"]) == ("Expired", "FillOrKill", "0")
    assert sim.book("SOL_USDC") == before and sim.fills(KEY) == []
    o = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=str(p0), quantity=str(q0),
                     timeInForce="FOK").json()
    assert (o["status"], Decimal(o["executedQuantity"])) == ("Filled", q0)


def test_market_orders_by_quantity_and_by_quote_quantity(sim: BackpackSimulator, trader: Trader) -> None:
    """Market orders trade a quantity, or spend up to a quote quantity, at the book's prices."""
    bid = sim.book("SOL_USDC").bids[0]
    o = trader.order(symbol="SOL_USDC", side="Ask", orderType="Market", quantity="0.5").json()
    assert (o["orderType"], o["status"], o["executedQuantity"]) == ("Market", "Filled", "0.5")
    assert "price" not in o and "postOnly" not in o
    assert Decimal(o["executedQuoteQuantity"]) == bid[0] * Decimal("0.5")
    (fill,) = sim.fills(KEY)
    assert (fill["feeSymbol"], Decimal(fill["fee"])) == ("USDC", bid[0] * Decimal("0.5") * Decimal("0.001"))
    ask = sim.book("SOL_USDC").asks[0][0]
    o = trader.order(symbol="SOL_USDC", side="Bid", orderType="Market", quoteQuantity="100").json()
    assert o["status"] == "Filled" and o["quoteQuantity"] == "100" and "quantity" not in o
    spent = Decimal(o["executedQuoteQuantity"])
    assert Decimal(100) - ask * Decimal("0.01") < spent <= Decimal(100)


def test_post_only_orders_that_would_take_are_refused(sim: BackpackSimulator, trader: Trader) -> None:
    """A post-only order crossing the book is refused and creates nothing; one that rests is accepted."""
    ask = sim.book("SOL_USDC").asks[0][0]
    r = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=str(ask), quantity="1",
                     postOnly=True, clientId=21)
    assert (r.status, r.json()) == (400, {"code": "INVALID_ORDER", "message": "Order would immediately match and take"})
    assert sim.order_history(KEY) == []
    o = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=below(sim), quantity="1",
                     postOnly=True, clientId=21).json()
    assert (o["status"], o["postOnly"], o["clientId"]) == ("New", True, 21)


def test_a_client_id_is_never_reusable(sim: BackpackSimulator, trader: Trader, other: Trader) -> None:
    """A clientId the account used is refused again, even after its order was cancelled; other accounts may use it."""
    fields = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": below(sim), "quantity": "1",
              "clientId": 4_294_967_295}
    first = trader.order(**fields).json()
    assert trader.cancel(symbol="SOL_USDC", clientId=4_294_967_295).json()["status"] == "Cancelled"
    again = trader.order(**fields)
    assert (again.status, again.json()) == (
        400, {"code": "INVALID_CLIENT_REQUEST", "message": "Order with client ID already exists"})
    assert other.order(**fields).status == 200
    assert [o["id"] for o in sim.order_history(KEY)] == [first["id"]]


def test_insufficient_funds_are_refused(sim: BackpackSimulator, trader: Trader) -> None:
    """Orders the balances cannot pay for are refused with INSUFFICIENT_FUNDS."""
    sim.set_balance(KEY, "USDC", "10")
    for fields in ({"orderType": "Limit", "side": "Bid", "price": below(sim), "quantity": "1"},
                   {"orderType": "Limit", "side": "Ask", "price": "500", "quantity": "100.01"},
                   {"orderType": "Market", "side": "Bid", "quantity": "1"},
                   {"orderType": "Market", "side": "Bid", "quoteQuantity": "10.01"}):
        r = trader.order(symbol="SOL_USDC", **fields)
        assert (r.status, r.json()["code"]) == (400, "INSUFFICIENT_FUNDS"), fields
    assert sim.order_history(KEY) == [] and sim.counters()["orders_refused"] == 4


@pytest.mark.parametrize(
    ("mode", "taker_status", "maker_open"),
    [("RejectTaker", "Expired", True), ("RejectMaker", "Filled", False), ("RejectBoth", "Expired", False),
     ("Allow", "Filled", False)],
)
def test_self_trade_prevention(
    sim: BackpackSimulator, trader: Trader, streams: Streams, mode: str, taker_status: str, maker_open: bool
) -> None:
    """A taker meeting its own account's resting order follows its selfTradePrevention setting."""
    private = streams.open("account.orderUpdate")
    ask = sim.book("SOL_USDC").asks[0][0]
    maker = trader.order(symbol="SOL_USDC", side="Ask", orderType="Limit", price=str(ask), quantity="0.01").json()
    taker = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=str(ask), quantity="0.01",
                         timeInForce="IOC", selfTradePrevention=mode).json()
    assert taker["status"] == taker_status and taker["selfTradePrevention"] == mode
    if taker_status == "Expired":
        assert taker["expiryReason"] == "SelfTradePrevention"
    assert [o["id"] for o in sim.open_orders(KEY)] == ([maker["id"]] if maker_open else [])
    by_order = {}
    for e in events(private):
        by_order.setdefault(e["i"], []).append(e["e"])
    if mode == "Allow":  # the account traded with itself
        fills = sim.fills(KEY)
        assert {f["isMaker"] for f in fills} == {True, False} and len({f["tradeId"] for f in fills}) == 1
    elif mode in ("RejectMaker", "RejectBoth"):
        assert by_order[maker["id"]][-1] == "orderExpired"


def test_two_accounts_trade_with_each_other(sim: BackpackSimulator, trader: Trader, other: Trader) -> None:
    """A resting order of one account is the maker of another's taker: one trade id, maker and taker fees."""
    ask = sim.book("SOL_USDC").asks[0][0]
    resting = other.order(symbol="SOL_USDC", side="Ask", orderType="Limit", price=str(ask), quantity="2").json()
    taken = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=str(ask), quantity="0.5").json()
    assert taken["status"] == "Filled"
    (mine,), (theirs,) = sim.fills(KEY), sim.fills(OTHER_KEY)
    assert mine["tradeId"] == theirs["tradeId"] and theirs["orderId"] == resting["id"]
    assert (mine["isMaker"], mine["feeSymbol"], Decimal(mine["fee"])) == (False, "SOL", Decimal("0.0005"))
    assert (theirs["isMaker"], theirs["feeSymbol"]) == (True, "USDC")
    assert Decimal(theirs["fee"]) == ask * Decimal("0.5") * Decimal("0.0008")
    assert sim.open_orders(OTHER_KEY)[0]["status"] == "PartiallyFilled"
    assert sim.balances(OTHER_KEY)["SOL"] == {"available": Decimal(98), "locked": Decimal("1.5")}


def test_resting_orders_fill_when_the_market_moves_through_them(
    sim: BackpackSimulator, trader: Trader, streams: Streams
) -> None:
    """The moving book crosses a resting order: it fills as maker at its own price, with a public trade."""
    private = streams.open("account.orderUpdate")
    public = streams.open("trade.SOL_USDC")
    bid, ask = last_price(sim)
    price = max(bid, ask - Decimal("0.01"))
    o = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=str(price), quantity="0.01").json()
    for _ in range(2000):
        sim.step()
        if not sim.open_orders(KEY):
            break
    (fill,) = sim.fills(KEY)
    assert (fill["orderId"], fill["isMaker"], Decimal(fill["price"])) == (o["id"], True, price)
    filled = events(private)[-1]
    assert (filled["e"], filled["X"], filled["m"], Decimal(filled["L"])) == ("orderFill", "Filled", True, price)
    trade = next(f["data"] for f in until_sentinel(public) if f["data"]["t"] == fill["tradeId"])
    assert Decimal(trade["p"]) == price and trade["m"] is True  # the resting buyer was the maker


def test_fill_order_fills_a_resting_order_as_maker(sim: BackpackSimulator, trader: Trader) -> None:
    """sim.fill_order executes part, then the rest, of a resting order at its price."""
    price = below(sim)
    o = trader.order(symbol="SOL_USDC", side="Ask", orderType="Limit", price="200", quantity="2").json()
    assert sim.fill_order(o["id"], "0.5")["status"] == "PartiallyFilled"
    assert sim.fill_order(o["id"])["status"] == "Filled"
    assert [Decimal(f["quantity"]) for f in sim.fills(KEY)] == [Decimal("0.5"), Decimal("1.5")]
    assert sim.balances(KEY)["SOL"] == {"available": Decimal(98), "locked": Decimal(0)}
    trades = trader.rest.request("GET", "/api/v1/trades", params={"symbol": "SOL_USDC"}).json()
    assert [t["price"] for t in trades[-2:]] == ["200", "200"]
    with pytest.raises(KeyError):
        sim.fill_order(o["id"])
    with pytest.raises(ValueError):
        sim.fill_order(trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=price,
                                    quantity="1").json()["id"], "0.001")


# ---------------------------------------------------------------------------- cancels, batches, history
def test_cancel_and_cancel_all(sim: BackpackSimulator, trader: Trader, streams: Streams) -> None:
    """DELETE /api/v1/order answers the cancelled order; DELETE /api/v1/orders every one of the symbol."""
    private = streams.open("account.orderUpdate.SOL_USDC")
    ids = [trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=below(sim, ticks=100 + n),
                        quantity="1", clientId=n).json()["id"] for n in range(3)]
    btc = trader.order(symbol="BTC_USDC", side="Bid", orderType="Limit", price="50000", quantity="0.001").json()
    cancelled = trader.cancel(symbol="SOL_USDC", clientId=0)
    assert (cancelled.status, cancelled.json()["id"], cancelled.json()["status"]) == (200, ids[0], "Cancelled")
    missing = trader.cancel(symbol="SOL_USDC", orderId=ids[0])
    assert (missing.status, missing.json()["code"]) == (404, "RESOURCE_NOT_FOUND")
    rest = trader.cancel_all("SOL_USDC").json()
    assert [o["id"] for o in rest] == ids[1:] and {o["status"] for o in rest} == {"Cancelled"}
    assert [o["id"] for o in sim.open_orders(KEY)] == [btc["id"]]
    assert sim.balances(KEY)["USDC"]["locked"] == Decimal("50")
    seen = events(private, "account.orderUpdate.SOL_USDC")
    assert [(e["e"], e["i"]) for e in seen] == [("orderAccepted", i) for i in ids] + [
        ("orderCancelled", i) for i in ids]  # the BTC order is not on this stream


def test_batch_orders_answer_a_list_of_orders_and_errors(sim: BackpackSimulator, trader: Trader) -> None:
    """POST /api/v1/orders (each body signed as its own orderExecute part) answers item by item."""
    price = below(sim)
    r = trader.batch(
        {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": price, "quantity": "1", "clientId": 1},
        {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": price, "quantity": "1", "clientId": 1},
        {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "1.001", "quantity": "1"},
        {"symbol": "SOL_USDC", "side": "Ask", "orderType": "Market", "quantity": "1"},
    )
    assert r.status == 200
    first, duplicate, bad_price, market = r.json()
    assert first["status"] == "New" and first["clientId"] == 1
    assert duplicate == {"code": "INVALID_CLIENT_REQUEST", "message": "Order with client ID already exists",
                         "operation": "orderExecute"}
    assert bad_price["code"] == "INVALID_PRICE"
    assert market["status"] == "Filled"
    undecodable = trader.batch({"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit"}, {"side": "Bid"})
    assert undecodable.status == 400 and undecodable.text.startswith("parse request payload error:")
    assert len(sim.order_history(KEY)) == 2


def test_histories_keep_every_order_and_fill_newest_first(sim: BackpackSimulator, trader: Trader) -> None:
    """The order and fill histories hold every order (final statuses) and fill, paged with limit / offset."""
    resting = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=below(sim), quantity="1",
                           clientId=1).json()
    cancelled = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=below(sim), quantity="1",
                             clientId=2).json()
    trader.cancel(symbol="SOL_USDC", orderId=cancelled["id"])
    filled = trader.order(symbol="SOL_USDC", side="Ask", orderType="Market", quantity="0.1", clientId=3).json()
    btc = trader.order(symbol="BTC_USDC", side="Ask", orderType="Market", quantity="0.001").json()
    history = trader.get("/wapi/v1/history/orders", "orderHistoryQueryAll").json()
    assert [(o["id"], o["status"]) for o in history] == [
        (btc["id"], "Filled"), (filled["id"], "Filled"), (cancelled["id"], "Cancelled"), (resting["id"], "New")]
    assert [o.get("clientId") for o in history] == [None, 3, 2, 1]
    page = trader.get("/wapi/v1/history/orders", "orderHistoryQueryAll", symbol="SOL_USDC", limit=2, offset=1)
    assert [o["id"] for o in page.json()] == [cancelled["id"], resting["id"]]
    one = trader.get("/wapi/v1/history/orders", "orderHistoryQueryAll", orderId=filled["id"]).json()
    assert [o["id"] for o in one] == [filled["id"]]
    fills = trader.get("/wapi/v1/history/fills", "fillHistoryQueryAll").json()
    assert [f["orderId"] for f in fills] == [btc["id"], filled["id"]]
    assert "clientId" not in fills[0] and fills[1]["clientId"] == "3"  # text, as the official client reads it
    assert set(fills[1]) == {"tradeId", "orderId", "clientId", "symbol", "side", "price", "quantity", "fee",
                             "feeSymbol", "isMaker", "timestamp"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", fills[1]["timestamp"])
    by_symbol = trader.get("/wapi/v1/history/fills", "fillHistoryQueryAll", symbol="BTC_USDC").json()
    assert [f["orderId"] for f in by_symbol] == [btc["id"]]
    bad = trader.get("/wapi/v1/history/orders", "orderHistoryQueryAll", limit=1001)
    assert (bad.status, bad.json()["code"]) == (400, "INVALID_CLIENT_REQUEST")


def test_orders_closed_while_the_stream_was_down_are_in_the_history(
    sim: BackpackSimulator, trader: Trader, streams: Streams
) -> None:
    """Nothing depends on a subscription: what happened meanwhile is in the history and the next events follow."""
    o = trader.order(symbol="SOL_USDC", side="Ask", orderType="Limit", price="300", quantity="1", clientId=9).json()
    sim.fill_order(o["id"])
    statuses = {h["id"]: h["status"] for h in sim.order_history(KEY)}
    assert statuses == {o["id"]: "Filled"}
    private = streams.open("account.orderUpdate")
    trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=below(sim), quantity="1", clientId=10)
    assert [(e["e"], e["c"]) for e in events(private)] == [("orderAccepted", 10)]


# ---------------------------------------------------------------------------- account events
def test_order_events_have_the_wire_shape(sim: BackpackSimulator, trader: Trader, streams: Streams) -> None:
    """Order events carry the exchange's fields: o upper-case, c only when set, t and l L m n N on fills."""
    private = streams.open("account.orderUpdate")
    p0, q0 = sim.book("SOL_USDC").asks[0]
    o = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=str(p0), quantity=str(q0 + 1),
                     timeInForce="IOC", clientId=77).json()
    plain = trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=below(sim), quantity="1").json()
    accepted, fill, expired, accepted_plain = events(private)
    common = {"e", "E", "s", "S", "o", "f", "q", "Q", "p", "X", "i", "z", "Z", "t", "V", "r", "O", "T"}
    assert set(accepted) == common | {"c"}
    assert (accepted["e"], accepted["c"], accepted["i"], accepted["o"], accepted["f"]) == (
        "orderAccepted", 77, o["id"], "LIMIT", "IOC")
    assert (accepted["X"], accepted["z"], accepted["Z"], accepted["t"]) == ("New", "0", "0", None)
    assert (accepted["S"], accepted["V"], accepted["r"], accepted["O"]) == ("Bid", "RejectTaker", False, "USER")
    assert Decimal(accepted["q"]) == q0 + 1 and Decimal(accepted["p"]) == p0
    assert Decimal(accepted["Q"]) == p0 * (q0 + 1)
    assert isinstance(accepted["E"], int) and isinstance(accepted["T"], int) and accepted["T"] <= accepted["E"]
    assert abs(accepted["E"] - time.time() * 1_000_000) < 60_000_000  # microseconds
    assert set(fill) == common | {"c", "l", "L", "m", "n", "N"}
    assert (fill["e"], fill["X"], fill["m"], fill["N"]) == ("orderFill", "PartiallyFilled", False, "SOL")
    assert (Decimal(fill["l"]), Decimal(fill["L"]), Decimal(fill["z"])) == (q0, p0, q0)
    assert fill["t"] == sim.fills(KEY)[0]["tradeId"]
    assert (expired["e"], expired["X"], expired["R"]) == ("orderExpired", "Expired", "ImmediateOrCancel")
    assert "c" not in accepted_plain and accepted_plain["i"] == plain["id"]


def test_account_streams_of_one_symbol_carry_that_symbol_only(
    sim: BackpackSimulator, trader: Trader, streams: Streams
) -> None:
    """account.orderUpdate.<symbol> gets that market's orders; account.orderUpdate gets all of them."""
    btc = streams.open("account.orderUpdate.BTC_USDC")
    every = streams.open("account.orderUpdate")
    trader.order(symbol="SOL_USDC", side="Bid", orderType="Limit", price=below(sim), quantity="1")
    trader.order(symbol="BTC_USDC", side="Bid", orderType="Limit", price="50000", quantity="0.001")
    assert [e["s"] for e in events(btc, "account.orderUpdate.BTC_USDC")] == ["BTC_USDC"]
    assert [e["s"] for e in events(every)] == ["SOL_USDC", "BTC_USDC"]


def test_events_leave_before_the_rest_answer(sim: BackpackSimulator, trader: Trader, streams: Streams) -> None:
    """By the time the order's answer is read, its stream events have already arrived (the exchange's order)."""
    private = streams.open("account.orderUpdate")
    for n in range(5):
        r = trader.order(symbol="SOL_USDC", side="Ask", orderType="Market", quantity="0.01", clientId=n)
        assert r.status == 200
        readable, _, _ = select.select([private.sock], [], [], 0)
        assert readable, n
        assert [e["c"] for e in events(private)] == [n, n]  # orderAccepted, orderFill


def test_order_events_may_carry_string_times(backpack_sim: Callable[..., BackpackSimulator]) -> None:
    """With string_times_every, account events too write E and T as strings now and then."""
    sim = backpack_sim(seed=3, tick_interval=None, string_times_every=2, account_balances={KEY: BALANCES})
    s = Streams(sim)
    t = Trader(sim, SECRET)
    try:
        private = s.open("account.orderUpdate")
        for _ in range(3):
            t.order(symbol="SOL_USDC", side="Ask", orderType="Market", quantity="0.01")
        got = events(private)
    finally:
        t.close()
        s.close()
    kinds = {type(e["E"]) for e in got}
    assert kinds == {int, str} and all(type(e["T"]) is type(e["E"]) for e in got)


def test_trading_accounts_have_no_invented_activity(sim: BackpackSimulator, streams: Streams) -> None:
    """A key listed in account_balances gets only its own events: nothing invented, no invented positions."""
    private = streams.open("account.orderUpdate", "account.positionUpdate", "account.rfqUpdate")
    sim.step(200)
    assert until_sentinel(private) == []


def test_perpetual_fills_move_the_position_and_pay_fees_in_usdc(
    sim: BackpackSimulator, trader: Trader, streams: Streams
) -> None:
    """On a perpetual market fills open, adjust and close the position (positionUpdate); reduceOnly must reduce."""
    private = streams.open("account.orderUpdate", "account.positionUpdate")
    refused = trader.order(symbol="SOL_USDC_PERP", side="Ask", orderType="Market", quantity="1", reduceOnly=True)
    assert (refused.status, refused.json()["code"]) == (400, "INVALID_ORDER")
    bought = trader.order(symbol="SOL_USDC_PERP", side="Bid", orderType="Market", quantity="2").json()
    assert bought["status"] == "Filled"
    too_much = trader.order(symbol="SOL_USDC_PERP", side="Ask", orderType="Market", quantity="3", reduceOnly=True)
    assert too_much.status == 400
    sold = trader.order(symbol="SOL_USDC_PERP", side="Ask", orderType="Market", quantity="2", reduceOnly=True)
    assert sold.json()["reduceOnly"] is True
    positions = events(private, "account.positionUpdate")
    assert [p["e"] for p in positions] == ["positionOpened", "positionClosed"]
    assert positions[0]["s"] == "SOL_USDC_PERP" and Decimal(positions[0]["q"]) == 2
    fills = sim.fills(KEY)
    assert {f["feeSymbol"] for f in fills} == {"USDC"}
    paid = sum(Decimal(f["fee"]) for f in fills)
    bought_at = Decimal(bought["executedQuoteQuantity"])
    sold_at = Decimal(sold.json()["executedQuoteQuantity"])
    assert paid == (bought_at + sold_at) * Decimal("0.0005")
    assert sim.balances(KEY)["USDC"]["available"] == Decimal(100000) - paid + sold_at - bought_at
    assert "SOL_USDC_PERP" not in sim.balances(KEY)
