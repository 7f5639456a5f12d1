"""BitfinexClient trading against the Bitfinex simulator's order engine over loopback sockets:
every input confirmed and refused, fills in orders() and wallets(), exactly-once across a
dropped socket, dms=4, rate limits, fail-fast."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import (
    BitfinexClient,
    InvalidOrderError,
    OrderNotSentError,
    OrderRateLimitError,
    OrderRejectedError,
    OrderStatusUnknownError,
)
from bpbfx.bitfinex import orders as o
from bpbfx.bitfinex.events import Info, MarginBaseUpdate, Order
from bpbfx.bitfinex.orders import OrderChange
from bpbfx.bitfinex.protocol import SEQ_ALL
from bpbfx.sim.bitfinex import DEFAULT_MARKETS, BitfinexSimulator
from tests.support import FAST, Recorder

KEY, SECRET = "trading-key-0123456789", "trading-secret-abcdefgh"
BALANCES = {"exchange": {"USD": "100000", "BTC": "1"}, "margin": {"USTF0": "5000"}, "funding": {"USD": "3000"}}
MARKETS = [m for m in DEFAULT_MARKETS if m.symbol in ("tBTCUSD", "tETHUSD", "fUSD")]
WAIT = 5.0
D = Decimal


@pytest.fixture
def sim(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(
        seed=11,
        tick_interval=None,
        hb_interval=0.5,
        markets=MARKETS,
        accounts={KEY: SECRET},
        account_balances={KEY: BALANCES},
    )


class Trader:
    """A started, authenticated client with recorders for events, errors and order changes."""

    def __init__(self, sim: BitfinexSimulator, **kwargs: Any) -> None:
        self.events, self.errors, self.changes = Recorder(), Recorder(), Recorder()
        kwargs.setdefault("backoff", FAST)
        kwargs.setdefault("heartbeat_timeout", 2.0)
        self.client = BitfinexClient(
            sim.url,
            api_key=KEY,
            api_secret=SECRET,
            on_message=self.events,
            on_error=self.errors,
            on_order=self.changes,
            **kwargs,
        )
        self.client.start()
        assert self.client.wait_ready(WAIT)
        assert self.wait(lambda: ("exchange", "USD") in self.client.wallets())

    def wait(self, predicate: Any) -> bool:
        return self.events.wait_for(lambda _items: predicate(), WAIT)

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def trader(sim: BitfinexSimulator) -> Iterator[Trader]:
    t = Trader(sim)
    yield t
    t.close()


def far_price(sim: BitfinexSimulator, symbol: str = "tBTCUSD") -> str:
    """A buy price about half the best bid, a multiple of 10 (5 significant digits)."""
    bid = D(sim.book(symbol).bids[0][0])
    return str(int(bid / 2) // 10 * 10)


def test_order_round_trip(sim: BitfinexSimulator, trader: Trader) -> None:
    """A limit order far from the market is confirmed, amended and cancelled, each by its own reply."""
    client = trader.client
    req = client.submit_order("tBTCUSD", "0.01", far_price(sim))
    order = req.result(WAIT)
    assert isinstance(order, Order) and order.status == "ACTIVE" and order.cid == req.cid
    assert trader.wait(lambda: order.id in client.orders())
    assert [s.id for s in sim.orders(KEY)] == [order.id]
    usd = ("exchange", "USD")
    assert trader.wait(lambda: (client.wallets()[usd].available_balance or 0) < D("100000"))  # funds held
    new_price = str(D(far_price(sim)) - 10)
    updated = client.update_order(order.id, price=new_price).result(WAIT)
    assert updated.id == order.id and updated.price == D(new_price)
    cancelled = client.cancel_order(order.id).result(WAIT)
    assert cancelled.status is not None and cancelled.status.startswith("CANCELED")
    assert trader.wait(lambda: order.id not in client.orders()) and sim.orders(KEY) == []
    kinds = [(c.kind, c.source) for c in trader.changes.of(OrderChange)]
    assert kinds[0] == ("new", "on") and kinds[-1] == ("closed", "oc")


def test_rejections_carry_the_exchange_text(sim: BitfinexSimulator, trader: Trader) -> None:
    """Balance, unknown order and injected FAILURE refusals fail the futures with status and text."""
    client = trader.client
    with pytest.raises(OrderRejectedError, match="not enough exchange balance") as err:
        client.submit_order("tBTCUSD", "30", far_price(sim)).result(WAIT)
    assert err.value.status == "ERROR" and err.value.kind == "on" and err.value.cid is not None
    with pytest.raises(OrderRejectedError, match="Order not found"):
        client.update_order(123456789, price="1000").result(WAIT)
    with pytest.raises(OrderRejectedError, match="Order not found"):
        client.cancel_order(123456789).result(WAIT)
    with pytest.raises(OrderRejectedError, match="Order not found"):
        client.cancel_orders(ids=[123456789]).result(WAIT)
    sim.reject_next_orders("Invalid order: market closed", status="FAILURE")
    with pytest.raises(OrderRejectedError, match="market closed") as err:
        client.submit_order("tBTCUSD", "0.01", far_price(sim)).result(WAIT)
    assert err.value.status == "FAILURE"
    assert client.orders() == {} and sim.orders(KEY) == []


def test_cancel_orders_and_batch(sim: BitfinexSimulator, trader: Trader) -> None:
    """oc_multi gives the orders cancelled; ox_multi operations are confirmed one by one."""
    client = trader.client
    price = far_price(sim)
    batch = client.order_batch([o.new_order("tBTCUSD", "0.01", price, gid=7) for _ in range(3)])
    placed = batch.result(WAIT)
    assert len(placed) == 3 and len({x.id for x in placed}) == 3 and all(r.done() for r in batch.requests)
    mixed = client.order_batch([o.new_order("tBTCUSD", "0.02", price), o.cancel_order(placed[0].id)])
    new, gone = mixed.result(WAIT)
    assert gone.id == placed[0].id and new.amount == D("0.02")
    cancelled = client.cancel_orders(gids=[7]).result(WAIT)
    assert {x.id for x in cancelled} == {placed[1].id, placed[2].id}
    assert trader.wait(lambda: set(client.orders()) == {new.id})
    with pytest.raises(InvalidOrderError, match="1 to 75"):
        client.order_batch([o.cancel_order(i) for i in range(1, 77)])
    partly = client.order_batch([o.new_order("tBTCUSD", "30", price), o.new_order("tBTCUSD", "0.03", price)])
    with pytest.raises(OrderRejectedError, match="not enough exchange balance"):
        partly.result(WAIT)
    refused, placed_too = partly.requests
    assert isinstance(refused.exception(), OrderRejectedError) and placed_too.result(0).amount == D("0.03")


def test_calc_and_funding_offers(sim: BitfinexSimulator, trader: Trader) -> None:
    """calc completes when sent and its answer arrives as an event; fon/foc are confirmed or refused."""
    client = trader.client
    assert client.calc(["margin_base"]).result(WAIT) is None
    assert trader.events.wait_count(1, WAIT, MarginBaseUpdate)
    offer = client.submit_funding_offer("fUSD", "150", "0.0002", 2).result(WAIT)
    assert offer.id > 0 and offer.rate == D("0.0002")
    assert trader.wait(lambda: offer.id in client.funding_offers())
    assert client.cancel_funding_offer(offer.id).result(WAIT).id == offer.id
    assert trader.wait(lambda: offer.id not in client.funding_offers()) and sim.offers(KEY) == []
    with pytest.raises(OrderRejectedError, match="not enough balance"):
        client.submit_funding_offer("fUSD", "999999", "0.0002", 2).result(WAIT)
    with pytest.raises(OrderRejectedError, match="Offer not found"):
        client.cancel_funding_offer(42).result(WAIT)


def test_partial_and_full_fills(sim: BitfinexSimulator, trader: Trader) -> None:
    """Fills show in orders() (remaining amount, then gone as EXECUTED) and in the wallets."""
    client = trader.client
    order = client.submit_order("tBTCUSD", "0.1", far_price(sim)).result(WAIT)
    btc_before = client.wallets()[("exchange", "BTC")].balance
    assert btc_before == D("1")
    sim.fill_order(order.id, "0.04")
    assert trader.wait(
        lambda: client.orders().get(order.id) is not None and client.orders()[order.id].amount == D("0.06")
    )
    btc = ("exchange", "BTC")
    assert trader.wait(lambda: D("1.039") < (client.wallets()[btc].balance or 0) <= D("1.04"))  # less the fee
    sim.fill_order(order.id)
    assert trader.wait(lambda: order.id not in client.orders())
    closed = [c for c in trader.changes.of(OrderChange) if c.kind == "closed"]
    assert closed[-1].order.status is not None and closed[-1].order.status.startswith("EXECUTED")
    assert trader.wait(lambda: D("1.099") < (client.wallets()[btc].balance or 0) <= D("1.1"))


def test_drop_between_send_and_confirmation_is_reconciled(sim: BitfinexSimulator, trader: Trader) -> None:
    """The socket dies after the order is accepted, before its reply: the os after re-auth completes it, once."""
    client = trader.client
    sim.drop_before_notification()
    req = client.submit_order("tBTCUSD", "0.01", far_price(sim))
    order = req.result(WAIT)
    assert req.reconciled and order.cid == req.cid
    assert [s.id for s in sim.orders(KEY)] == [order.id]  # placed exactly once
    assert sim.counters()["orders"] == 1
    assert client.orders().keys() == {order.id}


def test_dms_cancels_on_disconnect(sim: BitfinexSimulator) -> None:
    """With dms=4 a dropped socket cancels every order; the os after reconnect reports them closed."""
    trader = Trader(sim, dms=4)
    try:
        client = trader.client
        order = client.submit_order("tBTCUSD", "0.01", far_price(sim)).result(WAIT)
        assert trader.wait(lambda: order.id in client.orders())
        sim.drop_connections()
        assert sim.wait_for(lambda: sim.orders(KEY) == [], WAIT)
        assert trader.changes.wait_for(
            lambda items: any(c.kind == "closed" and c.source == "os" and c.order.id == order.id for c in items), WAIT
        )
        assert client.orders() == {} and sim.counters()["dms_cancels"] >= 1
    finally:
        trader.close()


def test_in_doubt_order_cancelled_by_dms_is_unknown_not_open(sim: BitfinexSimulator) -> None:
    """Accepted, then the socket dies and dms=4 cancels it: the future fails unknown with open=False."""
    trader = Trader(sim, dms=4, reconcile_grace=0.2)
    try:
        sim.drop_before_notification()
        req = trader.client.submit_order("tBTCUSD", "0.01", far_price(sim))
        with pytest.raises(OrderStatusUnknownError, match="dms=4") as err:
            req.result(WAIT)
        assert err.value.open is False and err.value.cid == req.cid
        assert sim.orders(KEY) == [] and sim.counters()["orders"] == 1
    finally:
        trader.close()


def test_rate_limits_local_and_exchange(sim: BitfinexSimulator) -> None:
    """The local window refuses without sending; the exchange's `ratelimit: error` is its own error."""
    trader = Trader(sim, order_rate_limit=(2, 60.0))
    try:
        client = trader.client
        price = far_price(sim)
        for _ in range(2):
            client.submit_order("tBTCUSD", "0.01", price).result(WAIT)
        with pytest.raises(OrderRateLimitError) as err:
            client.submit_order("tBTCUSD", "0.01", price).result(0)
        assert err.value.local is True and err.value.retry_after is not None and len(sim.orders(KEY)) == 2
    finally:
        trader.close()
    with BitfinexSimulator(
        tick_interval=None,
        markets=MARKETS,
        accounts={KEY: SECRET},
        account_balances={KEY: BALANCES},
        order_rate_limit=(1, 60.0),
    ) as strict:
        trader = Trader(strict)
        try:
            trader.client.submit_order("tBTCUSD", "0.01", far_price(strict)).result(WAIT)
            with pytest.raises(OrderRateLimitError, match="ratelimit") as err:
                trader.client.submit_order("tBTCUSD", "0.01", far_price(strict)).result(WAIT)
            assert err.value.local is False and strict.counters()["rate_limited"] == 1
        finally:
            trader.close()


def test_fail_fast(sim: BitfinexSimulator, trader: Trader) -> None:
    """No keys, not started, or maintenance (20060): the future fails at once and nothing is sent."""
    public = BitfinexClient(sim.url, auth=False)
    try:
        with pytest.raises(OrderNotSentError, match="no API keys"):
            public.submit_order("tBTCUSD", "0.01", "1000").result(0)
    finally:
        public.close()
    idle = BitfinexClient(sim.url, api_key=KEY, api_secret=SECRET)
    try:
        with pytest.raises(OrderNotSentError, match="not connected"):
            idle.cancel_order(1).result(0)
    finally:
        idle.close()
    client = trader.client
    sim.set_maintenance(True)
    assert trader.events.wait_for(lambda items: any(isinstance(i, Info) and i.code == 20060 for i in items), WAIT)
    with pytest.raises(OrderNotSentError, match="maintenance"):
        client.submit_order("tBTCUSD", "0.01", far_price(sim)).result(0)
    sim.set_maintenance(False)
    assert trader.events.wait_for(lambda items: any(isinstance(i, Info) and i.code == 20061 for i in items), WAIT)
    assert client.submit_order("tBTCUSD", "0.01", far_price(sim)).result(WAIT).status == "ACTIVE"
    assert sim.counters()["orders"] == 1


def test_sequence_numbers_with_trading(sim: BitfinexSimulator) -> None:
    """With SEQ_ALL, order replies and a two-number notification cause no gap report or reconnect."""
    trader = Trader(sim, flags=SEQ_ALL)
    try:
        client = trader.client
        order = client.submit_order("tBTCUSD", "0.01", far_price(sim)).result(WAIT)
        sim.send_notification("ucm-notify-ui", "hello")
        client.cancel_order(order.id).result(WAIT)
        assert client.submit_order("tBTCUSD", "0.01", far_price(sim)).result(WAIT).status == "ACTIVE"
        assert not [e for e in trader.errors.items if "gap" in str(e)]
        assert sim.counters()["orders"] == 2
    finally:
        trader.close()


def test_order_frame_before_late_notification_completes(sim: BitfinexSimulator, trader: Trader) -> None:
    """With notifications delayed, the `on` frame carrying the cid completes the order first."""
    sim.delay_notifications(3.0)
    req = trader.client.submit_order("tBTCUSD", "0.01", far_price(sim))
    order = req.result(2.0)
    assert order.cid == req.cid and req.notification is None


def test_close_fails_pending_handles(sim: BitfinexSimulator) -> None:
    """Closing the client fails an update still awaiting its reply with OrderStatusUnknownError."""
    trader = Trader(sim)
    order = trader.client.submit_order("tBTCUSD", "0.01", far_price(sim)).result(WAIT)
    sim.delay_notifications(10.0)
    req = trader.client.update_order(order.id, price=str(D(far_price(sim)) - 10))
    trader.close()
    with pytest.raises(OrderStatusUnknownError, match="closed"):
        req.result(WAIT)


def test_in_doubt_fails_while_the_socket_stays_down(sim: BitfinexSimulator) -> None:
    """An input in doubt fails unknown after reconcile_timeout even when no connection comes back."""
    trader = Trader(sim, reconcile_timeout=0.3)
    try:
        order = trader.client.submit_order("tBTCUSD", "0.01", far_price(sim)).result(WAIT)
        sim.delay_notifications(10.0)
        req = trader.client.update_order(order.id, price=str(D(far_price(sim)) - 10))
        sim.refuse_connections(503)
        sim.drop_connections()
        with pytest.raises(OrderStatusUnknownError, match=r"did not come back within 0\.3s") as err:
            req.result(WAIT)
        assert err.value.open is None
    finally:
        sim.refuse_connections(None)
        trader.close()
