"""The Sink extension point: attached sinks see events, book updates and errors."""

from __future__ import annotations

from typing import Any

import pytest

from bpbfx import BitfinexClient, CallbackError, Event, MalformedFrameError, Sink
from bpbfx.live import OrderBookUpdate
from tests.support import Recorder


class Collect(Sink):
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.books: list[OrderBookUpdate] = []
        self.errors: list[BaseException] = []
        self.detached = 0

    def on_event(self, client: Any, event: Event) -> None:
        self.events.append(event)

    def on_book(self, client: Any, update: OrderBookUpdate) -> None:
        self.books.append(update)

    def on_error(self, client: Any, error: BaseException) -> None:
        self.errors.append(error)

    def on_detach(self, client: Any) -> None:
        self.detached += 1


def _subscribed(chan_id: int) -> str:
    return (
        f'{{"event":"subscribed","channel":"book","chanId":{chan_id},"symbol":"tBTCUSD","prec":"P0",'
        '"freq":"F0","len":"25","subId":"book:tBTCUSD:P0:F0:25","pair":"BTCUSD"}'
    )


def test_sink_sees_events_books_and_errors_without_on_book_hook() -> None:
    """A sink gets events, book updates (even with no on_book hook) and errors; close detaches it."""
    client = BitfinexClient("ws://127.0.0.1:9", auth=False, flags=0)
    client.subscribe("book", symbol="tBTCUSD")
    sink = Collect()
    client.add_sink(sink)
    client.add_sink(sink)  # idempotent
    assert client.sinks == (sink,)
    client.feed(_subscribed(5))
    client.feed('[5,[["100.0",1,"2.0"],["101.0",1,"-1.5"]]]')
    client.feed('[5,["100.0",2,"3.0"]]')
    client.feed("not json")
    assert [type(e).__name__ for e in sink.events][-2:] == ["BookSnapshot", "BookUpdate"]
    assert [u.snapshot for u in sink.books] == [True, False]
    assert any(isinstance(e, MalformedFrameError) for e in sink.errors)
    client.close()
    assert sink.detached == 1 and client.sinks == ()


def test_raising_sink_is_reported_and_client_carries_on() -> None:
    """A sink that raises is reported as CallbackError; other consumers still get the event."""

    class Bad(Sink):
        def on_event(self, client: Any, event: Event) -> None:
            raise RuntimeError("boom")

    errors, events = Recorder(), Recorder()
    client = BitfinexClient("ws://127.0.0.1:9", auth=False, flags=0, on_error=errors, on_message=events)
    client.add_sink(Bad())
    good = Collect()
    client.add_sink(good)
    client.feed('{"event":"pong","ts":1,"cid":3}')
    assert len(good.events) == 1 and len(events.items) == 1
    assert isinstance(errors.items[0], CallbackError) and "Bad.on_event" in str(errors.items[0])
    assert client.remove_sink(good) and good.detached == 1
    assert not client.remove_sink(good)
    with pytest.raises(TypeError):
        client.add_sink(object())  # type: ignore[arg-type]
    client.close()
