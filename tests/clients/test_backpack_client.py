"""BackpackClient against the Backpack simulator over real loopback sockets."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import (
    BackpackClient,
    BitfinexClient,
    CallbackError,
    ClientClosedError,
    ConnectionLostError,
    CredentialsError,
    HandshakeError,
    InvalidStreamError,
    MalformedFrameError,
    SequenceGapError,
    StaleBookError,
    StreamSilentError,
    SubscriptionError,
    WatchdogTimeout,
)
from bpbfx.backpack.events import BookTicker, Depth, Kline, MarkPrice, OrderUpdate, PositionUpdate, Ticker, Trade
from bpbfx.live import OrderBookUpdate
from bpbfx.sim.backpack import BackpackSimulator
from tests.support import FAST, Recorder

GUIDE_SECRET = "4odxgSUxFrC/zsKWZF4OQwYAgnNu9hnWH3NxWfLAPz4="
GUIDE_PUBLIC = "zDIJj9qneWIY0IYZ5aXoHcNMCm+XDhVcTssiT0HyY0A="


@pytest.fixture
def sim(backpack_sim: Callable[..., BackpackSimulator]) -> BackpackSimulator:
    return backpack_sim(seed=11, tick_interval=0.01, time_scale=0.01)


def make_client(sim: BackpackSimulator, **kwargs: Any) -> tuple[BackpackClient, Recorder, Recorder]:
    events, errors = Recorder(), Recorder()
    kwargs.setdefault("backoff", FAST)
    client = BackpackClient(sim.url, rest_url=sim.http_url, on_message=events, on_error=errors, **kwargs)
    return client, events, errors


def client_threads(client: BackpackClient) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(client.name + "-")]


def test_public_streams_decoded_on_one_connection(sim: BackpackSimulator) -> None:
    """Trade, depth, ticker, bookTicker, kline and markPrice arrive typed on one socket."""
    streams = [
        "trade.SOL_USDC",
        "depth.SOL_USDC",
        "ticker.SOL_USDC",
        "bookTicker.SOL_USDC",
        "kline.1m.SOL_USDC",
        "markPrice.SOL_USDC_PERP",
    ]
    client, events, errors = make_client(sim, streams=streams)
    with client:
        kinds = (Trade, Depth, Ticker, BookTicker, Kline, MarkPrice)
        assert events.wait_for(lambda items: all(any(isinstance(i, k) for i in items) for k in kinds), 10)
        assert sim.total_connections == 1
        trade = events.of(Trade)[0]
        assert trade.stream == "trade.SOL_USDC" and trade.symbol == "SOL_USDC"
        assert isinstance(trade.price, Decimal) and trade.price > 0 and trade.event_time_us > 10**15
        depth = events.of(Depth)[0]
        assert depth.first_update_id <= depth.last_update_id
        assert client.stats().streams["trade.SOL_USDC"].messages >= 1
    assert not errors.items


def test_subscribe_and_unsubscribe_after_start(sim: BackpackSimulator) -> None:
    """Streams can be added and removed on a running connection."""
    client, events, _ = make_client(sim)
    with client:
        assert client.wait_ready(5)
        client.subscribe("trade.BTC_USDC")
        assert events.wait_count(1, 10, Trade)
        client.unsubscribe("trade.BTC_USDC")
        assert sim.wait_for(lambda: not any(sim.subscriptions().values()), 5)
        assert client.subscriptions == ()


def test_private_subscription_signed_and_resigned_after_reconnect(sim: BackpackSimulator) -> None:
    """account.* streams are signed; after a dropped socket they are re-signed and delivered again."""
    client, events, errors = make_client(sim, api_key=GUIDE_PUBLIC, api_secret=GUIDE_SECRET)
    client.subscribe("account.orderUpdate", "account.positionUpdate")
    with client:
        assert events.wait_count(1, 10, PositionUpdate)
        assert events.of(PositionUpdate)[0].event_type is None  # the open positions come first
        assert events.wait_count(1, 10, OrderUpdate)
        assert sim.counters()["signatures_verified"] == 1
        first = [f for f in sim.received_frames() if f.get("signature")]
        sim.drop_connections()
        assert sim.wait_for(lambda: sim.counters()["signatures_verified"] == 2, 10)
        events.clear()
        assert events.wait_count(1, 10, OrderUpdate)
        second = [f for f in sim.received_frames() if f.get("signature")]
        assert len(second) == 2 and second[1]["signature"][1] != first[0]["signature"][1]
    assert any(isinstance(e, ConnectionLostError) for e in errors.items)
    assert not any(isinstance(e, SubscriptionError) for e in errors.items)


def test_keys_from_environment(sim: BackpackSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Keys are read from BACKPACK_* variables when the first private stream is subscribed."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("BACKPACK_PUBLIC_KEY", GUIDE_PUBLIC)
    monkeypatch.setenv("BACKPACK_SECRET_KEY", GUIDE_SECRET)
    client, events, _ = make_client(sim, streams=["account.orderUpdate"])
    with client:
        assert events.wait_count(1, 10, OrderUpdate)
    assert GUIDE_SECRET not in repr(client)


def test_private_stream_without_keys_fails_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Asking for an account stream with no keys anywhere raises CredentialsError at once."""
    monkeypatch.chdir(tmp_path)
    for name in ("BACKPACK_PUBLIC_KEY", "BACKPACK_SECRET_KEY", "PUBLIC_KEY", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    client = BackpackClient("ws://127.0.0.1:9")
    with pytest.raises(CredentialsError, match="BACKPACK_SECRET_KEY"):
        client.subscribe("account.orderUpdate")
    with pytest.raises(CredentialsError) as info:
        BackpackClient("ws://127.0.0.1:9", api_key=GUIDE_PUBLIC, api_secret="AAAA")
    assert "32-byte" in str(info.value)
    assert os.environ.get("BACKPACK_SECRET_KEY") is None


def test_bad_input_raises_before_sending(sim: BackpackSimulator) -> None:
    """Invalid streams and windows raise with what is valid, and nothing reaches the server."""
    client, _, _ = make_client(sim)
    with client:
        assert client.wait_ready(5)
        with pytest.raises(InvalidStreamError, match=r"did you mean trade\.SOL_USDC"):
            client.subscribe("trades.SOL_USDC")
        with pytest.raises(InvalidStreamError, match="200ms"):
            client.subscribe("depth.100ms.SOL_USDC")
        with pytest.raises(InvalidStreamError, match="empty"):
            client.subscribe("")
    with pytest.raises(ValueError, match="60000"):
        BackpackClient(sim.url, window_ms=60001)
    assert sim.received_frames() == []


def test_dropped_connection_recovers_and_resubscribes(sim: BackpackSimulator) -> None:
    """After the server drops the socket the client reconnects, resubscribes and data flows again."""
    reconnects = Recorder()
    client, events, errors = make_client(sim, streams=["trade.SOL_USDC", "depth.BTC_USDC"])
    client.on_reconnect = reconnects
    with client:
        assert events.wait_count(3, 10, Trade)
        sim.drop_connections()
        assert reconnects.wait_count(1, 10)
        assert sim.wait_for(lambda: sim.total_connections >= 2, 10)
        events.clear()
        assert events.wait_count(3, 10, Trade) and events.wait_count(1, 10, Depth)
        frames = [f["params"] for f in sim.received_frames() if f.get("method") == "SUBSCRIBE"]
        assert frames == [["trade.SOL_USDC", "depth.BTC_USDC"]] * 2
        assert client.stats().reconnects >= 1
    assert isinstance(errors.of(ConnectionLostError)[0], ConnectionLostError)


def test_server_close_code_reaches_on_close(sim: BackpackSimulator) -> None:
    """A close frame's code and reason are passed to on_close, then the client reconnects."""
    closes = Recorder()
    client, events, _ = make_client(sim, streams=["trade.SOL_USDC"])
    client.on_close = closes
    with client:
        assert events.wait_count(1, 10)
        sim.close_connections(code=1012, reason="service restart")
        assert closes.wait_count(1, 10)
        assert closes.items[0][0] == 1012 and "service restart" in closes.items[0][1]
        assert sim.wait_for(lambda: sim.total_connections >= 2, 10)


def test_silent_connection_replaced_by_watchdog(sim: BackpackSimulator) -> None:
    """A socket that stops delivering anything is declared dead and replaced."""
    client, events, errors = make_client(sim, streams=["trade.SOL_USDC"], silence_timeout=0.5)
    with client:
        assert events.wait_count(1, 10)
        sim.set_silent(True)
        assert errors.wait_count(1, 10, WatchdogTimeout)
        sim.set_silent(False)
        assert sim.wait_for(lambda: sim.total_connections >= 2, 10)
        events.clear()
        assert events.wait_count(1, 10, Trade)
        err = errors.of(WatchdogTimeout)[0]
        assert err.timeout == 0.5 and err.silence >= 0.5
        assert client.stats().watchdog_trips >= 1


def test_unknown_symbol_reported_while_others_flow(sim: BackpackSimulator) -> None:
    """A stream on an unknown symbol (silent on Backpack) is reported; the other streams keep going."""
    client, events, errors = make_client(sim, streams=["depth.NOPE_USDC", "trade.SOL_USDC"], stream_timeout=0.4)
    with client:
        assert errors.wait_count(1, 10, StreamSilentError)
        err = errors.of(StreamSilentError)[0]
        assert err.stream == "depth.NOPE_USDC" and "unknown or closed symbol" in str(err)
        events.clear()
        assert events.wait_count(2, 10, Trade)
        assert len(errors.of(StreamSilentError)) == 1  # reported once, not every tick
        assert sim.total_connections == 1


def test_error_frame_reaches_on_error(sim: BackpackSimulator) -> None:
    """An exchange error frame becomes an exception with its code; the stream keeps serving."""
    client, events, errors = make_client(sim, streams=["trade.SOL_USDC"])
    with client:
        assert events.wait_count(1, 10)
        sim.inject_error(4006, "Invalid stream")
        assert errors.wait_count(1, 10, SubscriptionError)
        assert errors.of(SubscriptionError)[0].code == 4006
        events.clear()
        assert events.wait_count(2, 10, Trade)


def test_malformed_frame_reported_and_skipped(sim: BackpackSimulator) -> None:
    """A frame that is not JSON is reported with its text; the connection carries on."""
    client, events, errors = make_client(sim, streams=["trade.SOL_USDC"])
    with client:
        assert events.wait_count(1, 10)
        sim.send_malformed(text="{not json")
        assert errors.wait_count(1, 10, MalformedFrameError)
        assert b"not json" in errors.of(MalformedFrameError)[0].frame
        events.clear()
        assert events.wait_count(2, 10, Trade)
        assert sim.total_connections == 1


def test_raising_callback_does_not_kill_the_stream(sim: BackpackSimulator) -> None:
    """An exception in on_message goes to on_error as CallbackError and delivery continues."""
    seen = Recorder()

    def on_message(client: BackpackClient, event: Any) -> None:
        seen(client, event)
        raise RuntimeError("user bug")

    client, _, errors = make_client(sim, streams=["trade.SOL_USDC"])
    client.on_message = on_message
    with client:
        assert seen.wait_count(5, 10)
        assert errors.wait_count(5, 10, CallbackError)
        err = errors.of(CallbackError)[0]
        assert err.hook == "on_message" and isinstance(err.__cause__, RuntimeError)
        assert sim.total_connections == 1


def test_close_from_inside_callback_leaves_no_thread(sim: BackpackSimulator) -> None:
    """close() called from on_message returns, stops delivery and every client thread ends."""
    done = threading.Event()
    count = [0]

    def on_message(client: BackpackClient, event: Any) -> None:
        count[0] += 1
        client.close()
        done.set()

    client, _, errors = make_client(sim, streams=["trade.SOL_USDC"])
    client.on_message = on_message
    client.start()
    assert done.wait(10)
    for thread in client_threads(client):
        thread.join(5)
    assert client_threads(client) == []
    assert client.closed and count[0] == 1
    with pytest.raises(ClientClosedError):
        client.start()
    assert not errors.of(CallbackError)


def test_close_is_idempotent_and_joins_threads(sim: BackpackSimulator) -> None:
    """close() from the main thread joins the reader and watchdog; a second close is a no-op."""
    closes = Recorder()
    client, events, _ = make_client(sim, streams=["depth.SOL_USDC"])
    client.on_close = closes
    client.start()
    assert events.wait_count(1, 10)
    client.close()
    client.close()
    assert client_threads(client) == []
    assert closes.items == [(1000, "closed by client")]


def test_run_forever_returns_after_close_from_another_thread(sim: BackpackSimulator) -> None:
    """run_forever() blocks until close() is called elsewhere, then returns with no thread left."""
    client, events, _ = make_client(sim, streams=["trade.SOL_USDC"])
    closer = threading.Thread(target=lambda: (events.wait_count(2, 10), client.close()))
    closer.start()
    client.run_forever()
    closer.join()
    assert client.closed and client_threads(client) == []


def test_handshake_refused_backs_off_and_recovers(sim: BackpackSimulator) -> None:
    """An HTTP 429 on the handshake is reported and the next attempt waits Backoff.rate_limited."""
    sim.refuse_connections(429)
    stamps: list[float] = []
    backoff = dataclasses.replace(FAST, rate_limited=0.5)
    client, events, errors = make_client(sim, streams=["trade.SOL_USDC"], backoff=backoff)
    client.on_error = lambda c, exc: (stamps.append(time.monotonic()), errors(c, exc))
    with client:
        assert errors.wait_count(2, 10, HandshakeError)
        assert errors.of(HandshakeError)[0].status == 429
        assert stamps[1] - stamps[0] >= 0.5  # not the 0.05 s of the backoff policy
        sim.refuse_connections(None)
        assert events.wait_count(1, 10, Trade)


def test_deprecated_rate_limit_backoff_still_sets_the_wait() -> None:
    """client.rate_limit_backoff reads and sets Backoff.rate_limited, with a DeprecationWarning."""
    client = BackpackClient("ws://127.0.0.1:9")
    assert client.backoff.rate_limited == 10.0
    with pytest.warns(DeprecationWarning, match="rate_limited"):
        client.rate_limit_backoff = 0.5
    assert client.backoff.rate_limited == 0.5
    with pytest.warns(DeprecationWarning):
        assert client.rate_limit_backoff == 0.5
    assert BitfinexClient("ws://127.0.0.1:9", auth=False).backoff.rate_limited == 60.0


# ---------------------------------------------------------------------------- order books


def books_match(client: BackpackClient, sim: BackpackSimulator, symbol: str) -> bool:
    """The client's book equals the simulator's book at the same update id."""
    snap = client.book(symbol).snapshot()
    if not snap.valid or snap.update_id is None:
        return False
    truth = sim.book(symbol, at_update_id=snap.update_id)
    return tuple(snap.bids) == truth.bids and tuple(snap.asks) == truth.asks


def test_book_built_and_verified(sim: BackpackSimulator) -> None:
    """A depth stream yields a valid book equal to the exchange's, with on_book updates."""
    books = Recorder()
    client, _, errors = make_client(sim, streams=["depth.SOL_USDC", "depth.BTC_USDC"], on_book=books)
    with client:
        assert books.wait_for(lambda items: sum(1 for u in items if u.snapshot) >= 2, 10)
        assert books.wait_count(20, 10)
        for symbol in ("SOL_USDC", "BTC_USDC"):
            book = client.book(symbol)
            assert book.valid and not book.snapshot().is_crossed()
            assert book.best_bid() is not None and book.spread() is not None
            assert sim.wait_for(lambda s=symbol: books_match(client, sim, s), 5)
        update = books.items[-1]
        assert isinstance(update, OrderBookUpdate) and update.book is client.book(update.symbol)
        assert client.stats().book_checks > 0
    assert not errors.items


def test_book_gap_detected_and_resynced(sim: BackpackSimulator) -> None:
    """An id gap marks the book invalid, is reported, and a fresh snapshot restores it; other books flow."""
    books = Recorder()
    client, _, errors = make_client(sim, streams=["depth.SOL_USDC", "depth.ETH_USDC"], on_book=books)
    with client:
        assert books.wait_for(lambda items: {u.symbol for u in items if u.snapshot} == {"SOL_USDC", "ETH_USDC"}, 10)
        books.clear()
        sim.inject_gap("SOL_USDC", skip=3)
        assert errors.wait_count(1, 10, SequenceGapError)
        gap = errors.of(SequenceGapError)[0]
        assert gap.symbol == "SOL_USDC" and gap.got == gap.expected + 3
        assert books.wait_for(lambda items: any(u.snapshot and u.symbol == "SOL_USDC" for u in items), 10)
        assert any(u.symbol == "ETH_USDC" for u in books.items)
        assert sim.wait_for(lambda: books_match(client, sim, "SOL_USDC"), 5)
        assert client.stats().resyncs >= 1


def test_book_with_rest_snapshot_ahead_of_socket(sim: BackpackSimulator) -> None:
    """When REST is ahead of the socket the client keeps buffering and aligns once deltas catch up."""
    sim.hold_depth("SOL_USDC", n_ticks=30)
    books = Recorder()
    client, _, errors = make_client(sim, streams=["depth.SOL_USDC"], on_book=books)
    with client:
        assert books.wait_for(lambda items: any(u.snapshot for u in items), 10)
        assert sim.wait_for(lambda: books_match(client, sim, "SOL_USDC"), 5)
    assert not errors.of(SequenceGapError)


def test_book_with_stale_rest_snapshot_refetches(sim: BackpackSimulator) -> None:
    """A REST snapshot older than the buffered deltas is reported and fetched again."""
    books = Recorder()
    client, _, errors = make_client(sim, on_book=books)
    with client:
        assert client.wait_ready(5)
        sim.stale_snapshots("SOL_USDC", count=1)
        client.subscribe("depth.SOL_USDC")
        assert books.wait_for(lambda items: any(u.snapshot for u in items), 10)
        assert sim.wait_for(lambda: books_match(client, sim, "SOL_USDC"), 5)
        assert client.stats().resyncs >= 1
        assert [p for p, _ in sim.http_requests].count("/api/v1/depth") >= 2
    assert errors.of(StaleBookError)


def test_book_rebuilt_after_reconnect(sim: BackpackSimulator) -> None:
    """A reconnect invalidates the book and rebuilds it from a new snapshot."""
    books = Recorder()
    client, _, _ = make_client(sim, streams=["depth.SOL_USDC"], on_book=books)
    with client:
        assert books.wait_for(lambda items: any(u.snapshot for u in items), 10)
        books.clear()
        sim.drop_connections()
        assert books.wait_for(lambda items: any(u.snapshot for u in items), 10)
        assert sim.wait_for(lambda: books_match(client, sim, "SOL_USDC"), 5)


def test_rest_failure_reported_and_retried(sim: BackpackSimulator) -> None:
    """A failing REST snapshot endpoint is reported as StaleBookError and retried until it works."""
    sim.fail_rest(count=2, status=503)
    books = Recorder()
    client, _, errors = make_client(sim, streams=["depth.SOL_USDC"], on_book=books)
    with client:
        assert books.wait_for(lambda items: any(u.snapshot for u in items), 10)
    assert len(errors.of(StaleBookError)) >= 2


def test_book_lookup_errors(sim: BackpackSimulator) -> None:
    """Asking for a book that is not managed names the books there are."""
    client, _, _ = make_client(sim, streams=["depth.SOL_USDC"])
    with pytest.raises(KeyError, match=r"depth\.SOL_USDC"):
        client.book("BTC_USDC")
    assert client.book("SOL_USDC") is client.book("depth.SOL_USDC")


def test_feed_runs_recorded_frames_through_the_decode_path(data_dir: Any) -> None:
    """feed() decodes recorded frames and calls the hooks without any socket."""
    events, errors = Recorder(), Recorder()
    client = BackpackClient("ws://127.0.0.1:9", on_message=events, on_error=errors, books=False)
    for line in (data_dir / "backpack" / "wire_frames.jsonl").read_text().splitlines():
        client.feed(line)
    assert [type(e).__name__ for e in events.items].count("Depth") == 5
    assert [e.code for e in errors.items] == [4006, 4008, 4002]
    assert json.loads(json.dumps(events.items[0].data))["e"] == "depth"


def test_server_pings_answered_and_reported() -> None:
    """Protocol pings from the server reach on_ping (websocket-client has already sent the pong)."""
    with BackpackSimulator(seed=3, tick_interval=0.05, ping_interval=0.1) as sim:
        pings = Recorder()
        client, _, errors = make_client(sim, on_ping=None)
        client.on_ping = pings
        with client:
            assert pings.wait_count(2, 10)
            assert pings.items[0] == b"sim"
        assert not errors.items
