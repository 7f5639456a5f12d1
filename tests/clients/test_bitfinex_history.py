"""Bitfinex requests in doubt decided from the order history, read over authenticated REST from
the simulator (``rest_url=sim.http_url``): executed or cancelled while the socket was down, never
placed, history refused or unreachable; each input received exactly once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import BitfinexClient, OrderStatusUnknownError
from bpbfx.bitfinex.events import Order
from bpbfx.sim.bitfinex import DEFAULT_MARKETS, BitfinexSimulator
from tests.support import FAST, Recorder

KEY, SECRET = "history-key-0123456789", "history-secret-abcdefgh"
BALANCES = {"exchange": {"USD": "100000", "BTC": "1"}}
MARKETS = [m for m in DEFAULT_MARKETS if m.symbol in ("tBTCUSD", "tETHUSD")]
WAIT = 15.0
D = Decimal


@pytest.fixture
def sim(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(
        seed=17,
        tick_interval=None,
        hb_interval=0.5,
        markets=MARKETS,
        accounts={KEY: SECRET},
        account_balances={KEY: BALANCES},
    )


@pytest.fixture
def client(sim: BitfinexSimulator) -> Iterator[BitfinexClient]:
    errors = Recorder()
    c = BitfinexClient(
        sim.url,
        api_key=KEY,
        api_secret=SECRET,
        rest_url=sim.http_url,
        backoff=FAST,
        heartbeat_timeout=2.0,
        reconcile_grace=0.3,
        on_error=errors,
    )
    c.start()
    assert c.wait_ready(WAIT), c.readiness()
    yield c
    c.close()


def far_price(sim: BitfinexSimulator) -> str:
    """A buy price about half the best bid: the order rests."""
    bid = D(sim.book("tBTCUSD").bids[0][0])
    return str(int(bid / 2) // 10 * 10)


def test_an_order_executed_while_down_resolves_to_the_executed_order_with_its_fills(
    sim: BitfinexSimulator, client: BitfinexClient
) -> None:
    """Placed, its socket dropped before the reply, filled while down: result() is the EXECUTED
    order from the order history, with its fills from the trade history; sent exactly once."""
    sim.drop_before_notification(then="fill")
    req = client.submit_order("tBTCUSD", "0.01", far_price(sim))
    order = req.result(WAIT)
    assert isinstance(order, Order) and order.cid == req.cid and order.status.startswith("EXECUTED @")
    assert req.from_history and req.reconciled and req.order_id == order.id
    assert req.fills is not None and req.fills and all(f.order_id == order.id for f in req.fills)
    assert sum(f.exec_amount for f in req.fills if f.exec_amount is not None) == D("0.01")
    assert req.fills[0].fee is not None and req.fills[0].fee < 0
    assert sim.order_inputs(req.cid) == 1 and sim.counters()["orders"] == 1
    assert sim.orders(KEY) == [] and order.id not in client.orders()
    assert sim.counters()["rest_auth_ok"] == 2  # the order history, then its fills


def test_an_order_cancelled_while_down_resolves_to_the_cancelled_order(
    sim: BitfinexSimulator, client: BitfinexClient
) -> None:
    """Placed, its socket dropped, cancelled while down: result() is the CANCELED order (placed, now closed)."""
    sim.drop_before_notification(then="cancel")
    req = client.submit_order("tBTCUSD", "0.01", far_price(sim))
    order = req.result(WAIT)
    assert order.status == "CANCELED" and order.cid == req.cid and req.from_history and req.fills == ()
    assert sim.order_inputs(req.cid) == 1 and sim.orders(KEY) == []


def test_an_order_never_placed_is_unknown_after_checking_the_history(
    sim: BitfinexSimulator, client: BitfinexClient
) -> None:
    """The input is lost with its socket: not in the snapshot nor, read twice, in the history:
    OrderStatusUnknownError(open=False) saying what was read."""
    sim.lose_next_orders()
    req = client.submit_order("tBTCUSD", "0.01", far_price(sim))
    with pytest.raises(OrderStatusUnknownError) as err:
        req.result(WAIT)
    text = str(err.value)
    assert err.value.open is False and f"the order history has no order with cid {req.cid}" in text
    assert "POST /v2/auth/r/orders/tBTCUSD/hist" in text and "read twice" in text
    assert sim.order_inputs(req.cid) == 1 and sim.counters()["orders"] == 0 and sim.orders(KEY) == []
    assert sim.counters()["rest_auth_ok"] == 2


@pytest.mark.parametrize(
    ("refusal", "why"),
    [
        ({"status": 500, "body": ["error", 10100, "apikey: invalid"]}, "HTTP 500, error 10100: apikey: invalid"),
        ({"drop": True}, "failed: POST"),
    ],
)
def test_a_refused_or_unreachable_history_leaves_the_order_unknown_naming_why(
    sim: BitfinexSimulator, client: BitfinexClient, refusal: dict[str, Any], why: str
) -> None:
    """History refused (or the connection lost): OrderStatusUnknownError naming the read and why."""
    sim.refuse_rest("/v2/auth/r/", **refusal)
    sim.drop_before_notification(then="fill")
    req = client.submit_order("tBTCUSD", "0.01", far_price(sim))
    with pytest.raises(OrderStatusUnknownError) as err:
        req.result(WAIT)
    text = str(err.value)
    assert err.value.open is False and "the order history could not tell" in text and why in text
    assert sim.order_inputs(req.cid) == 1 and sim.counters()["rest_refused"] == 1


def test_a_cancel_in_doubt_whose_order_history_shows_cancelled_is_done(
    sim: BitfinexSimulator, client: BitfinexClient
) -> None:
    """The cancel is carried out while its socket's frames are lost, then the socket drops: the
    order history shows the order CANCELED, and the cancel's handle completes with it."""
    order = client.submit_order("tBTCUSD", "0.01", far_price(sim)).result(WAIT)
    [trading] = sim.connections_of(KEY)
    sim.silence_connection(trading)
    req = client.cancel_order(order.id)
    assert sim.wait_for(lambda: sim.orders(KEY) == [], WAIT)
    sim.drop_account_sockets(KEY)
    cancelled = req.result(WAIT)
    assert cancelled.id == order.id and cancelled.status == "CANCELED" and req.from_history


def test_without_rest_url_a_simulator_client_never_reads_history(sim: BitfinexSimulator) -> None:
    """A client on a simulator's url without rest_url reads no history (it never signs requests
    for the real exchange) and says so in the unknown outcome."""
    c = BitfinexClient(sim.url, api_key=KEY, api_secret=SECRET, backoff=FAST, reconcile_grace=0.2)
    with c:
        assert c.rest_url is None and c.wait_ready(WAIT)
        sim.drop_before_notification(then="fill")
        req = c.submit_order("tBTCUSD", "0.01", far_price(sim))
        with pytest.raises(OrderStatusUnknownError, match="order history was not read: this client has no rest_url"):
            req.result(WAIT)
    assert sim.counters()["rest_requests"] == 0
