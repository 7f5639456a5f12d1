"""Client options unified=, on_trade=..., dispatch="thread" and client.events(), over loopback."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from bpbfx import BackpackClient, BitfinexClient, ConfigurationError, Dispatch, EventsDroppedError
from bpbfx.backpack.events import Trade as NativeTrade
from bpbfx.events import Event
from bpbfx.live import OrderBookUpdate
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from bpbfx.unified import BookChange, Quote, Trade, UnifiedEvent
from tests.support import Recorder


@pytest.fixture
def bp_sim(backpack_sim: Callable[..., BackpackSimulator]) -> BackpackSimulator:
    return backpack_sim(seed=8, tick_interval=0.01, time_scale=0.01, markets=["SOL_USDC"])


@pytest.fixture
def bf_sim(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(seed=8, tick_interval=0.01, time_scale=0.01)


def test_options_off_leave_the_native_path_untouched() -> None:
    """Without the new options no sink is attached and on_message is called inline."""
    client = BitfinexClient("ws://127.0.0.1:9", auth=False)
    assert client.sinks == () and client._router is None and client._delivery.inline_message
    client.close()


def test_unified_true_delivers_unified_events_to_on_message(bf_sim: BitfinexSimulator) -> None:
    """unified=True: on_message sees only unified events (trades, quotes, book changes)."""
    events = Recorder()
    client = BitfinexClient(bf_sim.url, auth=False, unified=True, on_message=events)
    client.subscribe("trades:tBTCUST")
    client.subscribe("book:tBTCUST")
    with client:
        assert events.wait_for(lambda items: {Trade, Quote, BookChange} <= {type(i) for i in items}, 15)
    assert all(isinstance(e, UnifiedEvent) for e in events.items)
    assert {e.symbol for e in events.items} == {"BTC/USDT"}


def test_typed_hooks_receive_their_type_beside_native_on_message(bp_sim: BackpackSimulator) -> None:
    """on_trade gets unified Trades while on_message keeps getting native events."""
    trades, native = Recorder(), Recorder()
    client = BackpackClient(bp_sim.url, rest_url=bp_sim.http_url, on_message=native, on_trade=trades)
    client.subscribe("trade.SOL_USDC")
    with client:
        assert trades.wait_count(3)
    assert all(type(t) is Trade and t.symbol == "SOL/USDC" for t in trades.items)
    assert native.of(NativeTrade) and not native.of(UnifiedEvent)
    by_id = {t.trade_id: t for t in native.of(NativeTrade)}
    assert all(by_id[t.trade_id].price == t.price for t in trades.items)


def test_dispatch_thread_runs_callbacks_off_the_reader_and_close_joins_it(bp_sim: BackpackSimulator) -> None:
    """dispatch="thread": on_message/on_book run on <name>-dispatch; close() ends that thread."""
    names: set[str] = set()
    books = threading.Event()

    def on_message(client: Any, event: Event) -> None:
        names.add(threading.current_thread().name)

    def on_book(client: Any, update: OrderBookUpdate) -> None:
        names.add(threading.current_thread().name)
        books.set()

    client = BackpackClient(bp_sim.url, rest_url=bp_sim.http_url, on_message=on_message, on_book=on_book,
                            dispatch="thread", name="bpd")
    client.subscribe("trade.SOL_USDC", "depth.SOL_USDC")
    with client:
        assert books.wait(15)
        assert client.wait_dispatched(5)
        dispatch = [t for t in threading.enumerate() if t.name == "bpd-dispatch"]
        assert len(dispatch) == 1
    assert names == {"bpd-dispatch"}
    assert not dispatch[0].is_alive()


def test_dispatch_overflow_is_counted_in_client_stats_and_reported(bp_sim: BackpackSimulator) -> None:
    """A blocked dispatched callback makes the bounded queue drop calls; stats and on_error say how many."""
    release = threading.Event()
    errors = Recorder()
    client = BackpackClient(bp_sim.url, rest_url=bp_sim.http_url, on_error=errors,
                            on_message=lambda c, e: release.wait(10),
                            dispatch=Dispatch("thread", maxsize=3, overflow="drop_oldest"))
    client.subscribe("trade.SOL_USDC", "depth.SOL_USDC")
    with client:
        # Loss reports arrive at least once a second while the queue overflows.
        assert errors.wait_for(lambda _: client.stats().dropped_events > 10, 15)
        release.set()
        assert client.wait_dispatched(5)
        assert client.stats().dropped_events > 10
        dispatcher = client._router.dispatcher
    reports = errors.of(EventsDroppedError)
    assert reports and all(r.policy == "drop_oldest" for r in reports)
    assert sum(r.dropped for r in reports) == dispatcher.stats().dropped


def test_client_events_pulls_unified_events_on_the_callers_thread(bf_sim: BitfinexSimulator) -> None:
    """client.events() on a unified client yields unified events on the caller's thread."""
    client = BitfinexClient(bf_sim.url, auth=False, unified=True)
    client.subscribe("trades:tETHUST")
    with client:
        stream = client.events(maxsize=1000, overflow="drop_newest")
        got = [stream.get(10) for _ in range(3)]
    assert all(type(e) is Trade and e.symbol == "ETH/USDT" for e in got)
    assert stream.closed


def test_bad_options_raise_at_construction() -> None:
    """Unknown dispatch mode or overflow policy is refused with the valid choices."""
    with pytest.raises(ConfigurationError, match="'inline', 'thread'"):
        BitfinexClient("ws://127.0.0.1:9", auth=False, dispatch="process")
    with pytest.raises(ConfigurationError, match="drop_oldest, drop_newest, error"):
        BackpackClient("ws://127.0.0.1:9", dispatch=Dispatch("thread", overflow="block"))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="maxsize"):
        Dispatch("thread", maxsize=0)


def test_deprecated_dispatch_keywords_still_work() -> None:
    """dispatch_maxsize=/dispatch_overflow= become a Dispatch value, with a DeprecationWarning."""
    with pytest.warns(DeprecationWarning, match="Dispatch"):
        client = BackpackClient(
            "ws://127.0.0.1:9", dispatch="thread", dispatch_maxsize=3, dispatch_overflow="drop_newest"
        )
    assert client._router is not None and client._router.dispatcher is not None
    assert client._router.dispatcher.stats().maxsize == 3 and client._router.dispatcher.stats().policy == "drop_newest"
    client.close()
    with pytest.warns(DeprecationWarning, match="Dispatch"), pytest.raises(ConfigurationError):
        BackpackClient("ws://127.0.0.1:9", dispatch="thread", dispatch_overflow="block")
