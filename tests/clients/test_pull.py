"""Pull API: bounded queues with overflow policies, EventStream and thread dispatch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from bpbfx import BackpackClient, BitfinexClient, CallbackError, ConfigurationError, EventsDroppedError
from bpbfx.backpack.events import Depth, Trade
from bpbfx.live import OrderBookUpdate
from bpbfx.pull import BoundedBuffer, EventStream, ThreadedHooks
from bpbfx.sim.backpack import BackpackSimulator
from tests.support import Recorder


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drain(buffer: BoundedBuffer) -> list[Any]:
    out = []
    while (item := buffer.get(0)) is not None:
        out.append(item)
    return out


# ---------------------------------------------------------------------------------- pure buffer
def test_drop_oldest_keeps_the_newest_and_reports_the_exact_loss() -> None:
    """drop_oldest: 10 into a 3-slot queue keeps 7, 8, 9; the report names the 7 lost events."""
    buf = BoundedBuffer(3, "drop_oldest", name="q", clock=FakeClock())
    reports = [r for i in range(10) if (r := buf.put(i)) is not None]
    assert reports == []  # the run of losses has not ended yet
    final = buf.flush_report()
    assert final is not None and final.dropped == 7 and final.total_dropped == 7 and final.policy == "drop_oldest"
    assert "7 events lost" in str(final)
    assert drain(buf) == [7, 8, 9]
    s = buf.stats()
    assert (s.received, s.delivered, s.dropped, s.queued, s.overflows, s.high_water) == (10, 3, 7, 0, 1, 3)


def test_drop_newest_keeps_the_backlog_and_reports_when_room_returns() -> None:
    """drop_newest: losses are reported by the first put that fits again, with their count."""
    buf = BoundedBuffer(2, "drop_newest", clock=FakeClock())
    assert [buf.put(i) for i in range(5)] == [None] * 5
    assert buf.get(0) == 0
    report = buf.put(5)  # fits: the run of 3 losses is over
    assert isinstance(report, EventsDroppedError) and report.dropped == 3
    assert drain(buf) == [1, 5]
    assert buf.stats().dropped == 3 and buf.flush_report() is None


def test_error_policy_raises_at_the_gap_then_carries_on() -> None:
    """error: the consumer gets the events before the loss, EventsDroppedError(dropped), then the rest."""
    buf = BoundedBuffer(2, "error", clock=FakeClock())
    for i in range(6):
        buf.put(i)  # 0, 1 fit; 2..5 are lost
    assert buf.get(0) == 0
    buf.put(6)  # fits after the gap
    assert buf.get(0) == 1
    with pytest.raises(EventsDroppedError) as info:
        buf.get(0)
    assert info.value.dropped == 4 and info.value.policy == "error"
    assert buf.get(0) == 6 and buf.get(0) is None


def test_reports_repeat_at_the_interval_and_add_up_to_the_total() -> None:
    """A long run of losses is reported every report_interval; the reports sum to stats().dropped."""
    clock = FakeClock()
    buf = BoundedBuffer(1, "drop_newest", report_interval=1.0, clock=clock)
    reports = []
    for i in range(30):
        clock.now = i * 0.25
        if (r := buf.put(i)) is not None:
            reports.append(r)
    if (r := buf.flush_report()) is not None:
        reports.append(r)
    assert len(reports) >= 7
    assert sum(r.dropped for r in reports) == buf.stats().dropped == 29
    assert reports[-1].total_dropped == 29


def test_invalid_queue_arguments_raise() -> None:
    """A bad maxsize or overflow policy is refused with the valid choices."""
    with pytest.raises(ConfigurationError, match="drop_oldest, drop_newest, error"):
        BoundedBuffer(10, "block")
    with pytest.raises(ConfigurationError, match="maxsize"):
        BoundedBuffer(0)


def test_get_times_out_with_none_and_closed_buffer_drains_then_ends() -> None:
    """get(timeout) returns None when empty; after close queued items remain readable."""
    buf = BoundedBuffer(4)
    assert buf.get(0.01) is None
    buf.put("a")
    buf.close()
    assert buf.put("b") is None
    assert buf.get() == "a" and buf.get() is None


# ---------------------------------------------------------------------------------- loopback
@pytest.fixture
def sim(backpack_sim: Callable[..., BackpackSimulator]) -> BackpackSimulator:
    return backpack_sim(seed=5, tick_interval=None, markets=["SOL_USDC"])


def _step_until(sim: BackpackSimulator, done: Any, limit: int = 400) -> None:
    """Advance the simulator one tick at a time until ``done()`` (waiting briefly on each tick)."""
    for _ in range(limit):
        if done():
            return
        sim.step(1)
    pytest.fail("the condition never came true")


def _subscribed(sim: BackpackSimulator, *streams: str) -> None:
    """Backpack acknowledges nothing: wait until the simulator has the subscriptions."""
    assert sim.wait_for(lambda: all(sim.subscriber_count(s) for s in streams), 5)


def _ready(sim: BackpackSimulator, client: BackpackClient) -> None:
    """Step the simulator until the client is usable (its depth book synced needs deltas)."""
    _subscribed(sim, *client.subscriptions)
    _step_until(sim, lambda: client.wait_ready(0.05))


def _settle(sim: BackpackSimulator, errors: Recorder, marker: int) -> None:
    """Wait until every frame queued so far reached the client: an error frame sent last."""
    sim.inject_error(marker, f"marker {marker}")
    assert errors.wait_for(lambda items: any(getattr(e, "code", None) == marker for e in items))


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest", "error"])
def test_slow_consumer_overflows_with_exact_counts_and_books_stay_valid(sim: BackpackSimulator, policy: str) -> None:
    """A consumer that reads nothing loses exactly received - maxsize events; books stay exact."""
    events, errors, books = Recorder(), Recorder(), Recorder()
    client = BackpackClient(sim.url, rest_url=sim.http_url, on_message=events, on_error=errors, on_book=books)
    client.subscribe("depth.SOL_USDC", "trade.SOL_USDC")
    with client:
        _ready(sim, client)
        book = client.book("SOL_USDC")
        # Aligned with the REST snapshot before the consumer starts lagging.
        _step_until(sim, lambda: books.wait_for(lambda items: any(u.valid for u in items), 0.05))
        _settle(sim, errors, 9000)
        events.clear()
        stream = client_stream = EventStream(client, maxsize=20, overflow=policy)
        sim.step(60)
        _settle(sim, errors, 9001)
        native = [e for e in events.of((Depth, Trade))]
        s = stream.stats()
        assert s.received == len(native) > 20
        assert s.dropped == s.received - 20 and s.queued == 20
        # Books were maintained on the reader thread throughout.
        state = sim.book("SOL_USDC")
        assert book.valid and book.update_id == state.last_update_id
        assert [tuple(lv) for lv in book.bids()] == list(state.bids)
        assert [tuple(lv) for lv in book.asks()] == list(state.asks)
        if policy == "drop_oldest":
            assert [stream.get(0) for _ in range(20)] == native[-20:]
        else:
            assert [stream.get(0) for _ in range(20)] == native[:20]
        if policy == "error":
            with pytest.raises(EventsDroppedError) as info:
                stream.get(0)
            assert info.value.dropped == s.dropped
        assert stream.get(0) is None
    # Closing reported what was still unreported; the reports add up to the loss.
    reports = errors.of(EventsDroppedError)
    assert sum(r.dropped for r in reports) == s.dropped
    assert reports[-1].total_dropped == s.dropped
    assert client_stream.closed


def test_iteration_on_the_callers_thread_ends_when_the_client_closes(sim: BackpackSimulator) -> None:
    """for event in stream yields on the caller's thread and stops once the client closes."""
    client = BackpackClient(sim.url, rest_url=sim.http_url)
    client.subscribe("trade.SOL_USDC")
    seen: list[tuple[str, Any]] = []
    with client:
        stream = EventStream(client, maxsize=1000)
        _ready(sim, client)

        def consume() -> None:
            for event in stream:
                seen.append((threading.current_thread().name, event))
                if len(seen) == 3:
                    client.close()

        worker = threading.Thread(target=consume, name="consumer")
        worker.start()
        while worker.is_alive():
            sim.step(5)
            worker.join(0.05)
    assert len(seen) >= 3 and {name for name, _ in seen} == {"consumer"}
    assert all(isinstance(e, Trade) for _, e in seen)
    assert stream.closed and stream.get(0) is None


def test_book_updates_are_queued_on_request() -> None:
    """books=True queues OrderBookUpdate items beside the events (fed frames, no socket)."""
    client = BitfinexClient("ws://127.0.0.1:9", auth=False, flags=0)
    client.subscribe("book", symbol="tBTCUSD")
    stream = EventStream(client, maxsize=10, books=True)
    client.feed('{"event":"subscribed","channel":"book","chanId":5,"symbol":"tBTCUSD","prec":"P0","freq":"F0",'
                '"len":"25","pair":"BTCUSD"}')
    client.feed('[5,[["100.0",1,"2.0"],["101.0",1,"-1.5"]]]')
    kinds = [type(stream.get(0)).__name__ for _ in range(3)]
    assert kinds == ["Subscribed", "OrderBookUpdate", "BookSnapshot"]
    client.close()
    assert stream.closed


def test_thread_dispatch_runs_hooks_off_the_reader_thread(sim: BackpackSimulator) -> None:
    """ThreadedHooks calls on_message/on_book on <client>-dispatch; a raising hook becomes CallbackError."""
    threads: set[str] = set()
    gate = threading.Event()
    calls: list[Any] = []

    def on_message(client: Any, event: Any) -> None:
        threads.add(threading.current_thread().name)
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("first event")

    def on_book(client: Any, update: OrderBookUpdate) -> None:
        threads.add(threading.current_thread().name)
        gate.set()

    errors = Recorder()
    client = BackpackClient(sim.url, rest_url=sim.http_url, on_error=errors, name="bp")
    client.subscribe("depth.SOL_USDC", "trade.SOL_USDC")
    with client:
        hooks = ThreadedHooks(client, on_message, on_book, maxsize=10_000)
        _ready(sim, client)
        _step_until(sim, lambda: gate.wait(0.05))
        sim.step(20)
        _settle(sim, errors, 9002)
        assert hooks.wait_idle(5)
        assert threads == {"bp-dispatch"}
        assert hooks.dispatcher.stats().dropped == 0
    assert any(isinstance(e, CallbackError) and e.hook == "on_message" for e in errors.items)
    assert len(calls) > 1  # the raising hook did not stop dispatch
    assert not hooks.dispatcher.thread.is_alive()


def test_slow_dispatched_hook_overflows_and_is_reported(sim: BackpackSimulator) -> None:
    """A dispatched hook that blocks makes the dispatch queue overflow; the loss reaches on_error."""
    release = threading.Event()
    errors = Recorder()
    client = BackpackClient(sim.url, rest_url=sim.http_url, on_error=errors)
    client.subscribe("trade.SOL_USDC", "depth.SOL_USDC")
    with client:
        hooks = ThreadedHooks(client, lambda c, e: release.wait(5), maxsize=5, overflow="drop_newest")
        _ready(sim, client)
        sim.step(40)
        _settle(sim, errors, 9003)
        stats = hooks.dispatcher.stats()
        assert stats.dropped > 0 and stats.dropped == stats.received - stats.queued - stats.delivered
        release.set()
        assert hooks.wait_idle(5)
    assert sum(r.dropped for r in errors.of(EventsDroppedError)) == hooks.dispatcher.stats().dropped
