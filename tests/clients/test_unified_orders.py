"""One order API for both exchanges, over loopback: Feed.submit_order / cancel_order with unified
symbols and sides, unified Order results and on_order events, Feed.orders(), the same errors."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import Feed, InvalidOrderError, InvalidSymbolError, OrderRejectedError
from bpbfx.factory import generate_test_keys
from bpbfx.sim import BackpackSimulator, BitfinexSimulator
from bpbfx.unified import Order
from bpbfx.unified.orders import submit_order
from tests.support import FAST

WAIT = 15.0
BFX_KEY, BFX_SECRET = "unified-key", "unified-secret"


@pytest.fixture
def feed(backpack_sim: Callable[..., BackpackSimulator], bitfinex_sim: Callable[..., BitfinexSimulator]) -> Any:
    keys = generate_test_keys("backpack")
    bp = backpack_sim(account_balances={keys.api_key: {"USDC": "100000", "SOL": "100"}})
    bf = bitfinex_sim(accounts={BFX_KEY: BFX_SECRET},
                      account_balances={BFX_KEY: {"exchange": {"USD": "100000", "BTC": "1"}}})
    seen: list[Order] = []
    lock = threading.Lock()

    def on_order(client: Any, order: Order) -> None:
        with lock:
            seen.append(order)

    f = Feed(
        on_order=on_order,
        urls={"backpack": bp.url, "bitfinex": bf.url},
        rest_url={"backpack": bp.http_url, "bitfinex": bf.http_url},  # Bitfinex: its order history
        backoff=FAST,
        client_options={"backpack": {"api_key": keys.api_key, "api_secret": keys.api_secret},
                        "bitfinex": {"api_key": BFX_KEY, "api_secret": BFX_SECRET}},
    )
    f.start()
    assert f.wait_ready(WAIT)
    assert f.client("bitfinex").rest_url == bf.http_url  # type: ignore[attr-defined]
    yield f, bp, bf, seen
    f.close()


def test_limit_orders_on_both_exchanges_with_one_api(feed: Any) -> None:
    f, bp, _bf, seen = feed
    bp_price = bp.book("SOL_USDC").best_bid - 1
    bf_price = Decimal("20000")
    on_bp = f.submit_order("backpack", "SOL/USDC", "buy", "1.5", bp_price, post_only=True)
    on_bf = f.submit_order("bitfinex", "BTC/USD", "buy", "0.01", bf_price)
    a, b = on_bp.result(WAIT), on_bf.result(WAIT)
    for order, exchange, symbol, amount, price in ((a, "backpack", "SOL/USDC", "1.5", bp_price),
                                                   (b, "bitfinex", "BTC/USD", "0.01", bf_price)):
        assert isinstance(order, Order)
        assert (order.exchange, order.symbol, order.side, order.type, order.status) == (
            exchange, symbol, "buy", "limit", "open")
        assert order.amount == Decimal(amount) and order.price == price and order.filled == 0
        assert isinstance(order.price, Decimal) and order.client_id is not None
    assert on_bp.native.client_id == a.client_id and on_bf.native.cid == b.client_id
    both = sorted([("backpack", a.id), ("bitfinex", b.id)])  # the views follow the account streams
    assert bp.wait_for(lambda: sorted((o.exchange, o.id) for o in f.orders()) == both, WAIT)

    gone_a = f.cancel_order("backpack", "SOL/USDC", a.id).result(WAIT)
    gone_b = f.cancel_order("bitfinex", "BTC/USD", b.id).result(WAIT)
    assert (gone_a.status, gone_b.status) == ("canceled", "canceled")
    assert bp.wait_for(lambda: f.orders() == [], WAIT)
    # The unified hook saw both orders open and then cancelled, on both exchanges.
    assert bp.wait_for(lambda: {(o.exchange, o.status) for o in list(seen)} >= {
        ("backpack", "open"), ("backpack", "canceled"), ("bitfinex", "open"), ("bitfinex", "canceled")}, WAIT)


def test_a_market_sell_fills_on_both(feed: Any) -> None:
    """Backpack answers a market order after matching it; Bitfinex confirms it when accepted and
    reports the execution on the account stream: on_order sees it closed, filled in full."""
    f, bp, _bf, seen = feed
    a = f.submit_order("backpack", "SOL/USDC", "sell", "0.1", type="market").result(WAIT)
    b = f.submit_order("bitfinex", "BTC/USD", "sell", "0.01", type="market").result(WAIT)
    assert (a.side, a.type, a.status, a.filled) == ("sell", "market", "closed", Decimal("0.1"))
    assert (b.side, b.type) == ("sell", "market")

    def executed() -> Order | None:
        return next((o for o in list(seen) if o.id == b.id and o.status == "closed"), None)

    assert bp.wait_for(lambda: executed() is not None, WAIT)
    done = executed()
    assert done is not None and done.filled == Decimal("0.01") and done.remaining == 0
    assert done.average is not None and done.average > 0 and done.native_status.startswith("EXECUTED")


def test_the_same_errors_on_both(feed: Any) -> None:
    f, bp, _bf, _seen = feed
    for exchange, symbol in (("backpack", "SOL/USDC"), ("bitfinex", "BTC/USD")):
        with pytest.raises(InvalidOrderError, match="side must be 'buy' or 'sell'") as err:
            f.submit_order(exchange, symbol, "long", "1", "10")
        assert err.value.field == "side"
        with pytest.raises(InvalidOrderError, match="amount must be exact"):
            f.submit_order(exchange, symbol, "buy", 0.1, "10")
        with pytest.raises(InvalidOrderError, match="needs a price"):
            f.submit_order(exchange, symbol, "buy", "1")
        with pytest.raises(InvalidSymbolError, match="not a unified symbol"):
            f.submit_order(exchange, "BTCUSD", "buy", "1", "10")
    with pytest.raises(InvalidOrderError, match="unknown market 'NOPE_NADA'") as err:  # Backpack lists its markets
        f.submit_order("backpack", "NOPE/NADA", "buy", "1", "10")
    assert err.value.field == "symbol"
    with pytest.raises(OrderRejectedError):  # Bitfinex refuses it
        f.submit_order("bitfinex", "NOPE/NADA", "buy", "1", "10").result(WAIT)
    ask = bp.book("SOL_USDC").best_ask + Decimal("1")  # crosses however the book moves
    with pytest.raises(OrderRejectedError, match="would immediately match"):
        f.submit_order("backpack", "SOL/USDC", "buy", "1", ask, post_only=True).result(WAIT)


def test_the_function_form_takes_any_client(feed: Any) -> None:
    """bpbfx.unified.orders.submit_order works on a client of its own, as Feed does."""
    f, bp, _bf, _seen = feed
    order = submit_order(f.client("backpack"), "SOL/USDC", "buy", "1", bp.book("SOL_USDC").best_bid - 2).result(WAIT)
    assert order.status == "open" and order.exchange == "backpack"
