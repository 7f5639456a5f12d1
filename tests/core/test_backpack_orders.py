"""Backpack order entry without sockets: inputs and validation, signing, client ids, and the order
core deciding every outcome from answers, stream events and records (time injected)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import (
    InvalidOrderError,
    OrderNotSentError,
    OrderRateLimitError,
    OrderRejectedError,
    OrderStatusUnknownError,
    RequestFailedError,
)
from bpbfx.backpack.auth import Signer, signing_text
from bpbfx.backpack.events import OrderUpdate
from bpbfx.backpack.orders import (
    ClientIdSource,
    Lookup,
    MarketRules,
    OrderCore,
    cancel_all_orders,
    cancel_order,
    complete,
    new_order,
    new_orders,
    order_body,
    parse_markets,
)
from bpbfx.backpack.orders.cids import EPOCH_S

SECRET = "4odxgSUxFrC/zsKWZF4OQwYAgnNu9hnWH3NxWfLAPz4="  # the key pair of the official guide
PUBLIC = "zDIJj9qneWIY0IYZ5aXoHcNMCm+XDhVcTssiT0HyY0A="
SOL = MarketRules("SOL_USDC", tick_size=Decimal("0.01"), step_size=Decimal("0.01"), min_quantity=Decimal("0.01"))


def order_json(status: str = "New", client_id: int = 7, order_id: str = "111", executed: str = "0") -> dict[str, Any]:
    return {
        "id": order_id, "clientId": client_id, "symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit",
        "timeInForce": "GTC", "price": "150.25", "quantity": "2", "executedQuantity": executed,
        "executedQuoteQuantity": "0", "status": status, "selfTradePrevention": "RejectTaker", "postOnly": False,
        "createdAt": 1_764_000_000_000,
    }


def event(e: str, status: str, client_id: int | None = 7, order_id: str = "111", z: str = "0") -> OrderUpdate:
    data: dict[str, Any] = {"e": e, "E": 1, "s": "SOL_USDC", "S": "Bid", "o": "LIMIT", "q": "2", "p": "150.25",
                            "X": status, "i": order_id, "z": z, "Z": "0", "f": "GTC"}
    if client_id is not None:
        data["c"] = client_id
    return OrderUpdate(
        stream="account.orderUpdate", symbol="SOL_USDC", data=data, event_type=e, order_id=order_id,
        client_id=client_id, side="Bid", order_type="LIMIT", status=status, price=Decimal("150.25"),
        quantity=Decimal("2"), executed_quantity=Decimal(z), fill_price=None, fill_quantity=None, trade_id=None,
        fee=None, fee_symbol=None, is_maker=None, event_time_us=1, engine_time_us=None,
    )


def settle(core: OrderCore) -> None:
    complete(core.take_completions())


def place(core: OrderCore, client_id: int = 7, now: float = 0.0) -> Any:
    req = core.register(new_order("SOL_USDC", "buy", "2", "150.25", client_id=client_id, rules=SOL), now)
    return req


def run_lookups(core: OrderCore, answers: dict[str, tuple[int | None, Any]], until: float = 30.0) -> list[str]:
    """Advance time, answering each lookup from ``answers`` by kind; returns the kinds asked."""
    asked: list[str] = []
    now = 0.0
    while now < until:
        core.check(now)
        for lookup in core.take_lookups():
            asked.append(lookup.kind)
            status, value = answers[lookup.kind]
            body = json.dumps(value).encode() if value is not None else b""
            core.looked_up(lookup, status, body, now)
        now += 0.25
    return asked


# ------------------------------------------------------------------------------------------ inputs
def test_limit_order_body_is_exact_text_and_normalised() -> None:
    """buy/sell become Bid/Ask; amounts go out as exact decimal text; flags only when set."""
    inp = new_order("SOL_USDC", "buy", Decimal("2.50"), "150.250", client_id=9, time_in_force="gtc", rules=SOL)
    assert inp.body == {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "clientId": 9,
                        "price": "150.25", "quantity": "2.5", "timeInForce": "GTC"}
    assert inp.method == "POST" and inp.path == "/api/v1/order" and inp.instruction == "orderExecute"


@pytest.mark.parametrize(
    ("kwargs", "field", "needle"),
    [
        ({"price": "150.255"}, "price", "tick size 0.01 (nearest valid: 150.25 or 150.26)"),
        ({"quantity": "0.005"}, "quantity", "step size 0.01"),
        ({"quantity": 2.5}, "quantity", "not a float"),
        ({"side": "long"}, "side", "Bid or Ask"),
        ({"order_type": "Stop"}, "order_type", "Limit or Market"),
        ({"price": None}, "price", "needs a price"),
        ({"time_in_force": "GTD"}, "time_in_force", "GTC, IOC, FOK"),
        ({"post_only": True, "time_in_force": "IOC"}, "post_only", "GTC"),
        ({"client_id": 2**32}, "client_id", "32-bit"),
        ({"symbol": "sol_usdc"}, "symbol", "did you mean SOL_USDC"),
        ({"self_trade_prevention": "Never"}, "self_trade_prevention", "RejectTaker"),
    ],
)
def test_bad_order_arguments_name_the_field(kwargs: dict[str, Any], field: str, needle: str) -> None:
    """Every invalid argument raises InvalidOrderError naming the field and what is valid."""
    args: dict[str, Any] = {"symbol": "SOL_USDC", "side": "Bid", "quantity": "2", "price": "150.25", "client_id": 1}
    args.update(kwargs)
    with pytest.raises(InvalidOrderError) as info:
        new_order(args.pop("symbol"), args.pop("side"), args.pop("quantity"), args.pop("price"), rules=SOL, **args)
    assert info.value.field == field and needle in str(info.value)


def test_market_orders_take_quantity_or_quote_quantity() -> None:
    """A market order has no price and exactly one of quantity / quote_quantity."""
    body = order_body("SOL_USDC", "Ask", None, None, client_id=1, order_type="Market", quote_quantity="100")
    assert body["quoteQuantity"] == "100" and "price" not in body and body["orderType"] == "Market"
    with pytest.raises(InvalidOrderError, match="exactly one"):
        order_body("SOL_USDC", "Ask", "1", None, client_id=1, order_type="Market", quote_quantity="100")
    with pytest.raises(InvalidOrderError, match="no price"):
        order_body("SOL_USDC", "Ask", "1", "100", client_id=1, order_type="Market")


def test_cancels_take_exactly_one_id() -> None:
    """cancel_order by id or client id, never both; cancel_all by symbol."""
    assert cancel_order("SOL_USDC", "111").body == {"symbol": "SOL_USDC", "orderId": "111"}
    assert cancel_order("SOL_USDC", client_id=5).body == {"symbol": "SOL_USDC", "clientId": 5}
    with pytest.raises(InvalidOrderError, match="exactly one"):
        cancel_order("SOL_USDC", "111", client_id=5)
    assert cancel_all_orders("SOL_USDC").method == "DELETE"


def test_markets_answer_gives_rules() -> None:
    """GET /api/v1/markets filters become rules; objects without a symbol are skipped."""
    rules = parse_markets([
        {"symbol": "SOL_USDC", "filters": {"price": {"tickSize": "0.01", "minPrice": "0.01"},
                                           "quantity": {"stepSize": "0.01", "minQuantity": "0.01"}}},
        {"no": "symbol"},
    ])
    assert list(rules) == ["SOL_USDC"] and rules["SOL_USDC"].min_quantity == Decimal("0.01")


# ------------------------------------------------------------------------------------------ signing
def test_signing_text_sorts_params_writes_booleans_and_joins_batches() -> None:
    """instruction first, params sorted, booleans true/false, timestamp and window last; a batch
    signs each order as its own instruction part."""
    one = signing_text("orderExecute", {"symbol": "SOL_USDC", "side": "Bid", "postOnly": True}, 1000, 5000)
    assert one == "instruction=orderExecute&postOnly=true&side=Bid&symbol=SOL_USDC&timestamp=1000&window=5000"
    batch = signing_text("orderExecute", [{"b": 1, "a": 2}, {"c": 3}], 5, 6)
    assert batch == "instruction=orderExecute&a=2&b=1&instruction=orderExecute&c=3&timestamp=5&window=6"


def test_request_headers_verify_with_the_public_key() -> None:
    """X-Signature verifies against X-API-Key over the signing text; the clock offset applies."""
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signer = Signer(SECRET, PUBLIC, clock=lambda: 100.0)
    signer.offset_ms = 2_500
    headers = signer.request_headers("orderCancel", {"symbol": "SOL_USDC", "orderId": "1"})
    assert headers["X-Timestamp"] == "102500" and headers["X-API-Key"] == PUBLIC and headers["X-Window"] == "5000"
    text = signing_text("orderCancel", {"symbol": "SOL_USDC", "orderId": "1"}, 102_500, 5000)
    Ed25519PublicKey.from_public_bytes(base64.b64decode(PUBLIC)).verify(
        base64.b64decode(headers["X-Signature"]), text.encode()
    )


# ------------------------------------------------------------------------------------------ client ids
def test_client_ids_increase_fit_32_bits_and_a_restart_starts_above() -> None:
    """Ids follow 50 ms steps of the clock, +1 when faster; a later program starts above."""
    now = [EPOCH_S + 1000.0]
    first = ClientIdSource(clock=lambda: now[0])
    ids = [first.next() for _ in range(5)]
    assert ids == list(range(20_000, 20_005)) and all(i < 2**32 for i in ids)
    now[0] += 1.0  # a restart one second later
    assert ClientIdSource(clock=lambda: now[0]).next() > ids[-1]


def test_client_id_shards_never_meet() -> None:
    """Two programs on one account, shards 0 and 1 of 2, draw disjoint ids."""
    clock = lambda: EPOCH_S + 50.0  # noqa: E731
    a, b = ClientIdSource(shard=0, shards=2, clock=clock), ClientIdSource(shard=1, shards=2, clock=clock)
    got_a, got_b = {a.next() for _ in range(100)}, {b.next() for _ in range(100)}
    assert not got_a & got_b and all(i % 2 == 0 for i in got_a) and all(i % 2 == 1 for i in got_b)


# ------------------------------------------------------------------------------------------ outcomes
def test_placed_order_completes_with_the_exchange_order_and_opens_the_view() -> None:
    """A 200 answer completes the handle with the order; the view has it open."""
    core = OrderCore()
    req = place(core)
    core.answered(req, 200, json.dumps(order_json()).encode(), 0.1)
    settle(core)
    order = req.result(0)
    assert order.id == "111" and order.price == Decimal("150.25") and order.status == "New"
    assert list(core.orders) == ["111"] and [c.kind for c in core.take_changes()] == ["new"]


@pytest.mark.parametrize(
    ("status", "body", "kind", "needle"),
    [
        (400, {"code": "INSUFFICIENT_FUNDS", "message": "Insufficient funds"}, OrderRejectedError,
         "INSUFFICIENT_FUNDS"),
        (400, "parse request payload error: missing field `side`", OrderRejectedError, "parse request payload"),
        (429, {"code": "TOO_MANY_REQUESTS", "message": "slow down"}, OrderRateLimitError, "2,000"),
        (401, {"code": "INVALID_CLIENT_REQUEST", "message": "Request has expired"}, OrderRejectedError, "clock"),
        (400, {"code": "INVALID_CLIENT_REQUEST", "message": "Order with client ID already exists"},
         OrderRejectedError, "never reusable"),
        (503, {"code": "MAINTENANCE", "message": "Exchange is in maintenance"}, OrderNotSentError,
         "safe to send again later"),
        (400, {"code": "TRADING_PAUSED", "message": "Trading is paused"}, OrderNotSentError, "takes no orders now"),
    ],
)
def test_refusals_in_json_or_text_reject_the_order(status: int, body: Any, kind: type, needle: str) -> None:
    """JSON and plain-text refusals fail the handle with a specific error that says nothing was placed."""
    core = OrderCore()
    req = place(core)
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    core.answered(req, status, raw, 0.1)
    settle(core)
    error = req.exception(0)
    assert type(error) is kind and needle in str(error) and error.cid == 7  # type: ignore[union-attr]
    assert "placed" in str(error)


def test_connection_refused_means_not_sent() -> None:
    """A request that never left fails with OrderNotSentError: safe to send again."""
    core = OrderCore()
    req = place(core)
    core.failed(req, RequestFailedError("no connection", url="u", maybe_sent=False), 0.1)
    settle(core)
    assert isinstance(req.exception(0), OrderNotSentError)


@pytest.mark.parametrize("loss", ["reset", "503"])
def test_in_doubt_decided_by_the_stream(loss: str) -> None:
    """After a lost answer (reset, 503) the stream's orderAccepted for the clientId decides it."""
    core = OrderCore()
    req = place(core)
    if loss == "reset":
        core.failed(req, RequestFailedError("reset", url="u", maybe_sent=True), 0.1)
    else:
        core.answered(req, 503, b"Unknown error, please check your request or try again later.", 0.1)
    settle(core)
    assert not req.done() and req.state == "in_doubt"
    core.on_event(event("orderAccepted", "New"), 0.2)
    settle(core)
    assert req.result(0).id == "111" and req.reconciled


def test_stream_event_before_the_answer_is_evidence() -> None:
    """An event that arrives before the REST answer decides the request when the answer is lost."""
    core = OrderCore()
    req = place(core)
    core.on_event(event("orderAccepted", "New"), 0.05)
    core.failed(req, RequestFailedError("timeout", url="u", maybe_sent=True), 0.1)
    settle(core)
    assert req.result(0).id == "111"


def test_the_same_state_told_twice_is_one_change_and_the_view_keeps_every_field() -> None:
    """The stream's orderAccepted, then the REST answer for the same state: on_order sees one
    "new"; the view's order has the fields only the answer carries (createdAt, self-trade
    prevention); a fill afterwards is an "update"."""
    core = OrderCore()
    req = place(core)
    core.on_event(event("orderAccepted", "New"), 0.05)
    core.answered(req, 200, json.dumps(order_json()).encode(), 0.1)
    settle(core)
    assert [c.kind for c in core.take_changes()] == ["new"]
    held = core.orders["111"]
    assert held.created_at_ms == 1_764_000_000_000 and held.self_trade_prevention == "RejectTaker"
    core.on_event(event("orderFill", "PartiallyFilled", z="1"), 0.2)
    changes = core.take_changes()
    assert [c.kind for c in changes] == ["update"] and changes[0].order.executed_quantity == Decimal(1)
    assert core.orders["111"].created_at_ms == 1_764_000_000_000


def test_in_doubt_decided_by_the_order_query() -> None:
    """No stream event: GET /api/v1/order?clientId= finds it resting."""
    core = OrderCore()
    req = place(core)
    core.failed(req, RequestFailedError("timeout", url="u", maybe_sent=True), 0.0)
    asked = run_lookups(core, {"query": (200, order_json())}, until=3)
    settle(core)
    assert asked == ["query"] and req.result(0).status == "New" and req.reconciled


def test_in_doubt_filled_while_away_is_found_in_the_history() -> None:
    """Not resting (404) but in the order history: the order executed; the handle says so."""
    core = OrderCore()
    req = place(core)
    core.answered(req, 503, b"", 0.0)
    history = [order_json("Filled", client_id=99, order_id="222"), order_json("Filled", executed="2")]
    asked = run_lookups(core, {"query": (404, {"code": "RESOURCE_NOT_FOUND"}), "history": (200, history)})
    settle(core)
    assert asked == ["query", "history"]
    assert req.result(0).status == "Filled" and req.result(0).executed_quantity == Decimal("2")


def test_in_doubt_found_only_in_the_fills() -> None:
    """History not showing it yet but a fill carries the clientId: placed and filled."""
    core = OrderCore()
    req = place(core)
    core.answered(req, 503, b"", 0.0)
    fills = [{"tradeId": 1, "orderId": "333", "clientId": 7, "symbol": "SOL_USDC", "side": "Bid",
              "price": "150.25", "quantity": "2", "fee": "0.1", "feeSymbol": "USDC", "isMaker": False}]
    asked = run_lookups(core, {"query": (404, None), "history": (200, []), "fills": (200, fills)})
    settle(core)
    assert asked == ["query", "history", "fills"]
    assert req.result(0).id == "333" and req.result(0).executed_quote_quantity == Decimal("300.50")


def test_no_record_anywhere_is_unknown_not_placed() -> None:
    """Query, history, fills and a second history know nothing: OrderStatusUnknownError(open=False)."""
    core = OrderCore()
    req = place(core)
    core.answered(req, 503, b"", 0.0)
    asked = run_lookups(core, {"query": (404, None), "history": (200, []), "fills": (200, [])})
    settle(core)
    error = req.exception(0)
    assert asked == ["query", "history", "fills", "history"]
    assert isinstance(error, OrderStatusUnknownError) and error.open is False and "never placed" in str(error)


def test_unreadable_records_end_unknown_with_open_none() -> None:
    """Lookups that keep failing (network) end as OrderStatusUnknownError(open=None)."""
    core = OrderCore()
    req = place(core)
    core.answered(req, 503, b"", 0.0)
    run_lookups(core, {"query": (None, None)})
    settle(core)
    error = req.exception(0)
    assert isinstance(error, OrderStatusUnknownError) and error.open is None


def test_cancel_answered_202_completes_with_the_streams_order_cancelled() -> None:
    """A 202 Accepted cancel waits; orderCancelled completes it with the cancelled order."""
    core = OrderCore()
    placed = place(core)
    core.answered(placed, 200, json.dumps(order_json()).encode(), 0.0)
    cancel = core.register(cancel_order("SOL_USDC", "111"), 0.1)
    core.answered(cancel, 202, b"", 0.2)
    settle(core)
    assert not cancel.done() and cancel.state == "acknowledged"
    core.on_event(event("orderCancelled", "Cancelled"), 0.3)
    settle(core)
    assert cancel.result(0).status == "Cancelled" and "111" not in core.orders


def test_cancel_too_late_is_rejected_with_the_fill() -> None:
    """The order filled before the cancel took effect: the cancel fails saying so."""
    core = OrderCore()
    placed = place(core)
    core.answered(placed, 200, json.dumps(order_json()).encode(), 0.0)
    cancel = core.register(cancel_order("SOL_USDC", "111"), 0.1)
    core.answered(cancel, 202, b"", 0.2)
    core.on_event(event("orderFill", "Filled", z="2"), 0.3)
    settle(core)
    error = cancel.exception(0)
    assert isinstance(error, OrderRejectedError) and "Filled" in str(error)


def test_batch_answers_each_order_on_its_own() -> None:
    """A batch's answer list completes each child; the batch raises the first child's error."""
    core = OrderCore()
    bodies = [order_body("SOL_USDC", "Bid", "1", "150", client_id=i) for i in (1, 2)]
    batch = core.register(new_orders(bodies), 0.0)
    answer = [order_json(client_id=1, order_id="a"), {"code": "INSUFFICIENT_FUNDS", "message": "no"}]
    core.answered(batch, 200, json.dumps(answer).encode(), 0.1)
    settle(core)
    first, second = batch.requests  # type: ignore[attr-defined]
    assert first.result(0).id == "a" and isinstance(second.exception(0), OrderRejectedError)
    assert isinstance(batch.exception(0), OrderRejectedError)


def test_snapshot_after_reconnect_closes_what_left_and_opens_what_came() -> None:
    """GET /api/v1/orders after a reconnect: orders gone are closed, new ones open."""
    from bpbfx.backpack.orders import order_from_rest

    core = OrderCore()
    core.snapshot([order_from_rest(order_json(order_id="1")), order_from_rest(order_json(order_id="2", client_id=8))])
    core.take_changes()
    core.snapshot([order_from_rest(order_json(order_id="2", client_id=8)), order_from_rest(order_json(order_id="3"))])
    changes = [(c.kind, c.order.id) for c in core.take_changes()]
    assert changes == [("closed", "1"), ("new", "3")] and sorted(core.orders) == ["2", "3"]


def test_a_late_older_state_never_reopens_a_closed_order() -> None:
    """After orderCancelled, a late REST answer saying New does not bring the order back."""
    core = OrderCore()
    req = place(core)
    core.on_event(event("orderAccepted", "New"), 0.0)
    core.on_event(event("orderCancelled", "Cancelled"), 0.1)
    core.answered(req, 200, json.dumps(order_json()).encode(), 0.2)
    settle(core)
    assert core.orders == {} and req.result(0).id == "111"


def test_lookups_name_the_order() -> None:
    """A query lookup carries the symbol and the clientId of the order in doubt."""
    core = OrderCore(stream_grace=0.5)
    req = place(core, client_id=42)
    core.failed(req, RequestFailedError("timeout", url="u", maybe_sent=True), 0.0)
    core.check(0.4)
    assert core.take_lookups() == []
    core.check(0.6)
    (lookup,) = core.take_lookups()
    assert isinstance(lookup, Lookup) and (lookup.kind, lookup.symbol, lookup.client_id) == ("query", "SOL_USDC", 42)
