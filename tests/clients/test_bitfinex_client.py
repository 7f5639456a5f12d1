"""BitfinexClient against the Bitfinex simulator over real loopback sockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import (
    AuthenticationError,
    BitfinexClient,
    CallbackError,
    ChecksumMismatchError,
    ConnectionLostError,
    CredentialsError,
    InvalidStreamError,
    SequenceGapError,
    StreamSilentError,
    SubscriptionError,
    UnsupportedVersionError,
)
from bpbfx.bitfinex.events import (
    AuthResult,
    BookSnapshot,
    BookUpdate,
    CandlesSnapshot,
    CandleUpdate,
    Checksum,
    DerivativesStatus,
    FundingBookSnapshot,
    FundingTicker,
    Heartbeat,
    Info,
    Pong,
    RawBookSnapshot,
    Subscribed,
    TradesSnapshot,
    TradeUpdate,
    TradingTicker,
    WalletsSnapshot,
)
from bpbfx.bitfinex.protocol import OB_CHECKSUM, SEQ_ALL, TIMESTAMP
from bpbfx.live import OrderBookUpdate
from bpbfx.sim.bitfinex import BitfinexSimulator
from tests.support import FAST, Recorder

KEY, SECRET = "sim-key-0123456789", "sim-secret-abcdefghij"


@pytest.fixture
def sim(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(
        seed=5, tick_interval=0.01, hb_interval=0.2, time_scale=0.01, accounts={KEY: SECRET}
    )


def make_client(sim: BitfinexSimulator, **kwargs: Any) -> tuple[BitfinexClient, Recorder, Recorder]:
    events, errors = Recorder(), Recorder()
    kwargs.setdefault("backoff", FAST)
    kwargs.setdefault("heartbeat_timeout", 1.0)
    kwargs.setdefault("auth", False)
    client = BitfinexClient(sim.url, on_message=events, on_error=errors, **kwargs)
    return client, events, errors


def threads_of(client: BitfinexClient) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(client.name)]


def test_every_channel_decoded(sim: BitfinexSimulator) -> None:
    """Tickers, trades, P/R/funding books, candles and status arrive as typed events."""
    client, events, errors = make_client(sim)
    client.subscribe("ticker", symbol="tBTCUSD")
    client.subscribe("ticker", symbol="fUSD")
    client.subscribe("trades", symbol="tETHUSD")
    client.subscribe("book", symbol="tBTCUSD", prec="P0", freq="F0", len=25)
    client.subscribe("book", symbol="tETHUSD", prec="R0")
    client.subscribe("book", symbol="fUSD", prec="P0")
    client.subscribe("candles", key="trade:1m:tBTCUSD")
    client.subscribe("status", key="deriv:tBTCF0:USTF0")
    kinds = (
        TradingTicker, FundingTicker, TradesSnapshot, TradeUpdate, BookSnapshot, BookUpdate,
        RawBookSnapshot, FundingBookSnapshot, CandlesSnapshot, CandleUpdate, DerivativesStatus, Checksum,
    )
    with client:
        assert client.wait_ready(10)
        assert events.wait_for(lambda items: all(any(isinstance(i, k) for i in items) for k in kinds), 15), [
            k.__name__ for k in kinds if not events.of(k)
        ]
        ticker = events.of(TradingTicker)[0]
        assert ticker.stream == "ticker:tBTCUSD" and isinstance(ticker.bid, Decimal)
        subscribed = {e.stream for e in events.of(Subscribed)}
        assert subscribed == set(client.subscriptions)
        assert sim.total_connections == 1 and events.of(Info)[0].version == 2
    assert not errors.items


def test_invalid_parameters_raise_before_sending(sim: BitfinexSimulator) -> None:
    """Unknown channels and bad book parameters raise with the valid values; nothing is sent."""
    client, _, _ = make_client(sim)
    with pytest.raises(InvalidStreamError, match="P0"):
        client.subscribe("book", symbol="tBTCUSD", prec="P9")
    with pytest.raises(InvalidStreamError, match="250"):
        client.subscribe("book", symbol="tBTCUSD", len=50)
    with pytest.raises(InvalidStreamError, match="ticker"):
        client.subscribe("tickers", symbol="tBTCUSD")
    with pytest.raises(InvalidStreamError):
        client.subscribe("trades", symbol="BTCUSD")
    assert client.subscriptions == () and sim.total_connections == 0


def test_more_than_25_channels_are_sharded(sim: BitfinexSimulator) -> None:
    """30 channels are spread over two sockets, none holding more than 25."""
    client, events, errors = make_client(sim)
    symbols = ["tBTCUSD", "tETHUSD", "tSOLUSD", "tXRPUSD", "tLTCUSD", "tADAUSD", "tDOTUSD", "tUNIUSD",
               "tXLMUSD", "tTRXUSD", "tXMRUSD", "tEOSUSD", "tETHBTC", "tBTCUST", "tETHUST"]
    for s in symbols:
        client.subscribe("ticker", symbol=s)
        client.subscribe("trades", symbol=s)
    with client:
        assert client.wait_ready(15)
        assert client.connection_count == 2 and sim.connection_count == 2
        counts = sorted(sim.channel_count(cid) for cid in sim.connection_ids)
        assert counts == [5, 25]
        tickers = lambda items: {e.symbol for e in items if isinstance(e, TradingTicker)}  # noqa: E731
        assert events.wait_for(lambda items: tickers(items) == set(symbols), 10)
    assert not errors.items


def test_channel_limit_error_moves_channel_to_new_socket() -> None:
    """A server with a lower limit than the client answers 10305; the channel moves to another socket."""
    with BitfinexSimulator(seed=1, tick_interval=0.01, hb_interval=0.2, time_scale=0.01, max_channels=3) as sim:
        client, events, errors = make_client(sim)
        for s in ("tBTCUSD", "tETHUSD", "tSOLUSD", "tXRPUSD"):
            client.subscribe("ticker", symbol=s)
        with client:
            assert client.wait_ready(10)
            assert errors.wait_count(1, 10)
            assert errors.of(SubscriptionError) == [] and errors.items[0].code == 10305
            assert client.connection_count == 2
            symbols = lambda items: {e.symbol for e in items if isinstance(e, TradingTicker)}  # noqa: E731
            assert events.wait_for(lambda items: len(symbols(items)) == 4, 10)


def test_20051_reconnects_and_reauthenticates(sim: BitfinexSimulator) -> None:
    """Info 20051 makes the client reconnect, resubscribe and authenticate again with a larger nonce."""
    client, events, errors = make_client(sim, api_key=KEY, api_secret=SECRET, auth=None)
    client.subscribe("trades", symbol="tBTCUSD")
    with client:
        assert client.wait_ready(10)
        assert events.wait_count(1, 10, AuthResult) and events.of(AuthResult)[0].ok
        assert sim.total_connections == 2  # the trading socket and the public one
        sim.send_info(20051)
        assert sim.wait_for(lambda: sim.total_connections >= 4, 10)
        assert client.wait_ready(10)
        assert events.wait_count(2, 10, AuthResult) and events.wait_count(2, 10, WalletsSnapshot)
        attempts = [a for a in sim.auth_attempts() if a.ok]
        assert len(attempts) == 2 and attempts[1].nonce > attempts[0].nonce
        events.clear()
        assert events.wait_count(1, 10, TradeUpdate)
    assert any(isinstance(e, ConnectionLostError) and "20051" in str(e) for e in errors.items)


def test_maintenance_pauses_and_resumes(sim: BitfinexSimulator) -> None:
    """20060 pauses without a watchdog alarm; 20061 resubscribes and data flows again."""
    client, events, errors = make_client(sim, heartbeat_timeout=0.5)
    client.subscribe("ticker", symbol="tBTCUSD")
    with client:
        assert client.wait_ready(10)
        sim.set_maintenance(True)
        assert events.wait_for(lambda items: any(isinstance(e, Info) and e.code == 20060 for e in items), 10)
        sim.set_silent(True)  # nothing at all during maintenance, not even heartbeats
        assert not errors.wait_count(1, 1.2)  # longer than the heartbeat timeout: no alarm
        sim.set_silent(False)
        sim.set_maintenance(False)
        assert events.wait_for(lambda items: any(isinstance(e, Info) and e.code == 20061 for e in items), 10)
        # The resubscription may answer before this thread looks: search after the 20061 event.
        def after_resume(items: list[Any]) -> list[Any]:
            at = next(i for i, e in enumerate(items) if isinstance(e, Info) and e.code == 20061)
            return items[at:]

        assert events.wait_for(
            lambda items: any(isinstance(e, Subscribed) for e in after_resume(items))
            and any(isinstance(e, TradingTicker) for e in after_resume(items)),
            10,
        )
        assert sim.total_connections == 1


def test_silent_channel_detected_and_resubscribed(sim: BitfinexSimulator) -> None:
    """A channel with no data or heartbeat past the timeout is reported and resubscribed; others flow."""
    client, events, errors = make_client(sim, heartbeat_timeout=0.6)
    client.subscribe("ticker", symbol="tBTCUSD")
    client.subscribe("ticker", symbol="tETHUSD")
    with client:
        assert client.wait_ready(10)
        sim.silence_channel(channel="ticker", symbol="tBTCUSD")
        assert errors.wait_count(1, 10, StreamSilentError)
        err = errors.of(StreamSilentError)[0]
        assert err.stream == "ticker:tBTCUSD" and 0.6 <= err.silence < 3.0
        sim.silence_channel(channel="ticker", symbol="tBTCUSD", silent=False)
        events.clear()
        symbols = lambda items: {e.symbol for e in items if isinstance(e, TradingTicker)}  # noqa: E731
        assert events.wait_for(lambda items: symbols(items) >= {"tBTCUSD", "tETHUSD"}, 10)
        assert sim.total_connections == 1


def test_silent_socket_is_replaced(sim: BitfinexSimulator) -> None:
    """A whole socket going quiet trips the connection watchdog and is replaced."""
    client, _, _ = make_client(sim, heartbeat_timeout=0.6)
    client.subscribe("trades", symbol="tBTCUSD")
    with client:
        assert client.wait_ready(10)
        sim.set_silent(True)
        assert sim.wait_for(lambda: sim.total_connections >= 2, 10)
        sim.set_silent(False)
        assert client.wait_ready(10)
        assert client.stats().watchdog_trips >= 1


def test_sequence_gap_resyncs_the_connection(sim: BitfinexSimulator) -> None:
    """With SEQ_ALL, a skipped sequence number is reported and the socket is resynchronised."""
    client, events, errors = make_client(sim, flags=SEQ_ALL | OB_CHECKSUM | TIMESTAMP)
    client.subscribe("book", symbol="tBTCUSD")
    with client:
        assert client.wait_ready(10)
        assert events.wait_count(1, 10, BookUpdate)
        assert events.of(BookUpdate)[0].seq is not None and events.of(BookUpdate)[0].ts_ms is not None
        sim.skip_sequence()
        assert errors.wait_count(1, 10, SequenceGapError)
        assert sim.wait_for(lambda: sim.total_connections >= 2, 10)
        assert client.wait_ready(10)
        assert events.wait_for(lambda items: sum(1 for e in items if isinstance(e, BookSnapshot)) >= 2, 10)


def test_auth_ok_and_account_events(sim: BitfinexSimulator) -> None:
    """Authentication succeeds and channel-0 snapshots arrive as typed account events."""
    client, events, errors = make_client(sim, api_key=KEY, api_secret=SECRET, auth=None, dms=4)
    with client:
        assert client.wait_ready(10)
        assert events.wait_count(1, 10, WalletsSnapshot)
        assert any(e.stream == "account" for e in events.items)
        request = next(f for f in sim.received_frames() if f.get("event") == "auth")
        assert request["dms"] == 4 and request["authPayload"] == f"AUTH{request['authNonce']}"
    assert not errors.items
    assert SECRET not in repr(client)


def test_auth_failure_reported_not_retried_in_a_loop(sim: BitfinexSimulator) -> None:
    """A refused key reaches on_error as AuthenticationError once; the public channels keep flowing
    on their own socket (the trading socket carries none), and neither socket is replaced."""
    client, events, errors = make_client(sim, api_key=KEY, api_secret="wrong-secret-value", auth=None)
    client.subscribe("ticker", symbol="tBTCUSD")
    with client:
        assert errors.wait_count(1, 10, AuthenticationError)
        err = errors.of(AuthenticationError)[0]
        assert err.code == 10100 and "wrong-secret-value" not in str(err) + repr(err.request)
        events.clear()
        assert events.wait_count(3, 10, TradingTicker)
        assert len(sim.auth_attempts()) == 1 and sim.total_connections == 2 and client.stats().connections == 2


def test_keys_from_environment(sim: BitfinexSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """BITFINEX_API_KEY / BITFINEX_API_SECRET from the environment authenticate the client."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BITFINEX_API_KEY", KEY)
    monkeypatch.setenv("BITFINEX_API_SECRET", SECRET)
    client, events, _ = make_client(sim, auth=True)
    with client:
        assert events.wait_for(lambda items: any(isinstance(e, AuthResult) and e.ok for e in items), 10)
    monkeypatch.delenv("BITFINEX_API_KEY")
    with pytest.raises(CredentialsError):
        BitfinexClient(sim.url, auth=True)


def test_error_codes_surface_and_others_keep_serving(sim: BitfinexSimulator) -> None:
    """A bad symbol (10300) is reported with the request, makes wait_ready False at once until the channel is
    unsubscribed; the other channel keeps delivering."""
    client, events, errors = make_client(sim)
    client.subscribe("ticker", symbol="tBTCUSD")
    client.subscribe("ticker", symbol="tNOSUCHPAIR")
    with client:
        assert errors.wait_count(1, 10, SubscriptionError)
        err = errors.of(SubscriptionError)[0]
        assert err.code == 10300 and err.request is not None and err.request["symbol"] == "tNOSUCHPAIR"
        # The refused channel is dropped and stands in the way of readiness until the user
        # takes it back; the rest keeps delivering.
        started = time.monotonic()
        assert not client.wait_ready(10) and time.monotonic() - started < 5
        readiness = client.readiness()
        assert readiness.failed and readiness.errors == (err,)
        assert client.subscriptions == ("ticker:tBTCUSD",)
        events.clear()
        assert events.wait_count(3, 10, TradingTicker)
        assert client.unsubscribe("ticker", symbol="tNOSUCHPAIR") is False  # not held, but the refusal is cleared
        assert client.wait_ready(10)


def test_app_ping_pong(sim: BitfinexSimulator) -> None:
    """ping() sends an app-level ping; the pong carries the same cid."""
    client, events, _ = make_client(sim)
    with client:
        assert client.wait_ready(10)
        cid = client.ping()
        assert events.wait_for(lambda items: any(isinstance(e, Pong) and e.cid == cid for e in items), 10)


def test_heartbeats_go_to_their_own_hook(sim: BitfinexSimulator) -> None:
    """hb frames reach on_heartbeat, not on_message."""
    beats = Recorder()
    client, events, _ = make_client(sim, on_heartbeat=beats)
    client.subscribe("status", key="liq:global")
    with client:
        assert beats.wait_count(2, 10, Heartbeat)
        assert beats.items[0].stream == "status:liq:global"
    assert not events.of(Heartbeat)


def test_version_other_than_2_refused() -> None:
    """A server announcing another API version is refused with UnsupportedVersionError and the client closes."""
    with BitfinexSimulator(seed=2, tick_interval=0.05, version=3) as sim:
        client, _, errors = make_client(sim)
        client.start()
        assert errors.wait_count(1, 10, UnsupportedVersionError)
        assert client._closed.wait(10)
        assert "version 2" in str(errors.of(UnsupportedVersionError)[0])


def test_raising_callback_does_not_kill_the_socket(sim: BitfinexSimulator) -> None:
    """An exception in on_message reaches on_error; the connection keeps delivering."""
    seen = Recorder()

    def on_message(client: BitfinexClient, event: Any) -> None:
        seen(client, event)
        raise ValueError("boom")

    client, _, errors = make_client(sim)
    client.on_message = on_message
    client.subscribe("ticker", symbol="tBTCUSD")
    with client:
        assert seen.wait_count(6, 10) and errors.wait_count(5, 10, CallbackError)
    assert sim.total_connections == 1


def test_close_leaves_no_thread(sim: BitfinexSimulator) -> None:
    """close() on a sharded client stops every socket's threads."""
    client, _, _ = make_client(sim, max_channels=2)
    for s in ("tBTCUSD", "tETHUSD", "tSOLUSD"):
        client.subscribe("ticker", symbol=s)
    client.start()
    assert client.wait_ready(10) and client.connection_count == 2
    client.close()
    assert threads_of(client) == []


# ---------------------------------------------------------------------------- books


def book_matches(client: BitfinexClient, sim: BitfinexSimulator, symbol: str) -> bool:
    """The client's top-of-book equals the simulator's authoritative book."""
    snap = client.book(symbol).snapshot()
    truth = sim.book(symbol)
    if not snap.valid or not snap.bids or not truth.bids:
        return False
    return str(snap.bids[0].price) == truth.bids[0][0] and str(snap.asks[0].price) == truth.asks[0][0]


def test_book_verified_against_checksums(sim: BitfinexSimulator) -> None:
    """The managed book passes every cs checksum and matches the exchange's book."""
    books = Recorder()
    client, _, errors = make_client(sim, on_book=books)
    client.subscribe("book", symbol="tBTCUSD", prec="P0", freq="F0", len=25)
    with client:
        assert books.wait_count(30, 10)
        assert sim.wait_for(lambda: client.stats().book_checks >= 20, 10)
        book = client.book("tBTCUSD")
        assert book.valid and not book.snapshot().is_crossed() and len(book.bids()) == 25
        assert sim.wait_for(lambda: book_matches(client, sim, "tBTCUSD"), 5)
        assert isinstance(books.items[0], OrderBookUpdate) and books.items[0].snapshot
    assert not errors.items


def test_corrupted_checksum_detected_and_resynced(sim: BitfinexSimulator) -> None:
    """A wrong cs is reported; the book goes invalid, is resubscribed and announced fresh."""
    books = Recorder()
    client, _, errors = make_client(sim, on_book=books)
    client.subscribe("book", symbol="tBTCUSD")
    client.subscribe("book", symbol="tETHUSD")
    with client:
        assert books.wait_for(lambda items: {u.symbol for u in items if u.snapshot} == {"tBTCUSD", "tETHUSD"}, 10)
        books.clear()
        sim.corrupt_checksum("tBTCUSD")
        assert errors.wait_count(1, 10, ChecksumMismatchError)
        assert errors.of(ChecksumMismatchError)[0].symbol == "tBTCUSD"
        assert books.wait_for(lambda items: any(u.snapshot and u.symbol == "tBTCUSD" for u in items), 10)
        assert books.wait_for(lambda items: any(u.symbol == "tETHUSD" for u in items), 10)  # the other book flows
        assert sim.wait_for(lambda: book_matches(client, sim, "tBTCUSD"), 5)
        assert client.stats().resyncs >= 1


def test_dropped_update_caught_by_next_checksum(sim: BitfinexSimulator) -> None:
    """An update lost on the way makes the next checksum fail and the book is rebuilt."""
    client, _, errors = make_client(sim)
    client.subscribe("book", symbol="tSOLUSD")
    with client:
        assert client.wait_ready(10)
        assert sim.wait_for(lambda: client.stats().book_checks >= 3, 10)
        sim.drop_update("tSOLUSD")
        assert errors.wait_count(1, 10, ChecksumMismatchError)
        assert sim.wait_for(lambda: book_matches(client, sim, "tSOLUSD"), 10)


def test_raw_and_funding_books_managed(sim: BitfinexSimulator) -> None:
    """R0 and funding books are kept and verified too."""
    client, _, errors = make_client(sim)
    raw = client.subscribe("book", symbol="tETHUSD", prec="R0")
    funding = client.subscribe("book", symbol="fUSD", prec="P0")
    with client:
        assert sim.wait_for(lambda: client.book(raw).valid and client.book(funding).valid, 10)
        assert sim.wait_for(lambda: client.stats().book_checks >= 10, 10)
        assert client.book(raw).best_bid() is not None
    assert not errors.of(ChecksumMismatchError)


def test_book_rebuilt_after_drop(sim: BitfinexSimulator) -> None:
    """After a dropped socket the book is invalid until the new snapshot, then verified again."""
    books = Recorder()
    client, _, _ = make_client(sim, on_book=books)
    client.subscribe("book", symbol="tBTCUSD")
    with client:
        assert books.wait_for(lambda items: any(u.snapshot for u in items), 10)
        books.clear()
        sim.drop_connections()
        assert books.wait_for(lambda items: any(u.snapshot for u in items), 10)
        assert sim.wait_for(lambda: book_matches(client, sim, "tBTCUSD"), 5)


def test_feed_replays_recording_through_client(data_dir: Any) -> None:
    """feed() takes recorded frames through the client's decode and book path without a socket."""
    books = Recorder()
    events, errors = Recorder(), Recorder()
    client = BitfinexClient("ws://127.0.0.1:9", auth=False, on_message=events, on_error=errors, on_book=books, flags=0)
    client.subscribe("book", symbol="tBTCUSD", prec="P0", freq="F0", len=25)
    for channel, symbol in (("ticker", "tBTCUSD"), ("ticker", "fUST"), ("trades", "tBTCUSD"), ("book", "fUST")):
        client.subscribe(channel, symbol=symbol)  # every channel of the recording is one the client wants
    for line in (data_dir / "bitfinex" / "bbgo_ws_public.jsonl").read_text().splitlines():
        client.feed(line)
    assert not errors.items
    book = client.book("tBTCUSD")
    assert book.valid and not book.snapshot().is_crossed()
    assert len(books.items) > 100
    assert isinstance(events.items[0], Info) and events.items[0].version == 2


def test_connection_rate_limit_shared_by_sockets(sim: BitfinexSimulator) -> None:
    """New sockets wait for the client's connect budget instead of exceeding it."""
    client, events, _ = make_client(sim, max_channels=1, connect_limit=(2, 60.0))
    for s in ("tBTCUSD", "tETHUSD", "tSOLUSD"):
        client.subscribe("ticker", symbol=s)
    with client:
        assert events.wait_for(lambda items: len({e.symbol for e in items if isinstance(e, TradingTicker)}) == 2, 10)
        assert client.connection_count == 3
        assert not sim.wait_for(lambda: sim.total_connections >= 3, 1.0)  # the third waits for a slot
        assert not client.ready


@pytest.mark.parametrize("flags_name", ["bulk", "single"])
def test_book_changes_replay_to_the_book(sim: BitfinexSimulator, flags_name: str) -> None:
    """With an on_book hook every update lists its changes (BULK frames included): replaying
    them onto the last snapshot gives exactly the book the client holds, at every update."""
    from bpbfx.bitfinex.protocol import BULK_UPDATES

    flags = SEQ_ALL | OB_CHECKSUM | (BULK_UPDATES if flags_name == "bulk" else 0)
    mirror: dict[tuple[str, Decimal], Decimal] = {}
    changes_seen: list[int] = []
    mismatches: list[object] = []
    enough = threading.Event()

    def on_book(client: BitfinexClient, update: OrderBookUpdate) -> None:
        # Reader thread: the only writer of the book, so update.book does not move here.
        snap = update.book.snapshot()
        levels = {("bid", lv.price): lv.size for lv in snap.bids} | {("ask", lv.price): lv.size for lv in snap.asks}
        if update.snapshot:
            mirror.clear()
            mirror.update(levels)
            return
        for change in update.changes:
            key = (str(change.side), change.price)
            if change.new_size:
                mirror[key] = change.new_size
            else:
                mirror.pop(key, None)
        if mirror != levels:
            mismatches.append(update.update_id)
        changes_seen.append(len(update.changes))
        if len(changes_seen) >= 30:
            enough.set()

    client, events, errors = make_client(sim, flags=flags)
    client.on_book = on_book
    client.subscribe("book", symbol="tBTCUSD")
    with client:
        assert enough.wait(10), changes_seen
    assert not mismatches and not errors.items
    assert sum(changes_seen) > 0
    if flags_name == "bulk":
        assert any(isinstance(e, BookUpdate) and e.bulk for e in events.items)


def test_bulk_updates_book_verified(sim: BitfinexSimulator) -> None:
    """With BULK_UPDATES the batched book frames are applied and pass the checksums."""
    from bpbfx.bitfinex.protocol import BULK_UPDATES

    client, events, errors = make_client(sim, flags=SEQ_ALL | OB_CHECKSUM | BULK_UPDATES)
    client.subscribe("book", symbol="tBTCUSD")
    with client:
        assert events.wait_for(lambda items: any(isinstance(e, BookUpdate) and e.bulk for e in items), 10)
        assert sim.wait_for(lambda: client.stats().book_checks >= 10, 10)
        assert client.book("tBTCUSD").valid
    assert not errors.items


def test_reauthentication_survives_a_wall_clock_set_back(
    bitfinex_sim: Callable[..., BitfinexSimulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock behind the nonces jumps back an hour between two connections: the next auth still
    sends a larger nonce and the exchange (which refuses small ones, 10114) accepts it."""
    from bpbfx.bitfinex.auth import nonce_source_for

    sim = bitfinex_sim(tick_interval=0.01, accounts={"clock-key": "clock-secret"})
    source = nonce_source_for("clock-key")
    now = [1_800_000_000_000_000]
    monkeypatch.setattr(source, "_clock", lambda: now[0])
    opens, errors = Recorder(), Recorder()
    client = BitfinexClient(sim.url, api_key="clock-key", api_secret="clock-secret", backoff=FAST,
                            on_open=opens, on_error=errors)
    with client:
        assert client.wait_ready(10)
        first = source.last
        now[0] -= 3_600_000_000  # the wall clock is set back one hour
        sim.drop_connections()
        assert opens.wait_count(2)
        assert client.wait_ready(10), client.readiness()
        assert source.last > first
    assert not errors.of(AuthenticationError)
