"""Simulator -> client -> RedisStreamSink -> real redis-server -> RedisStreamReader."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from bpbfx import (
    Backoff,
    BackpackClient,
    BitfinexClient,
    RedisUnavailableError,
    StreamGapError,
    StreamTrimmedError,
)
from bpbfx.book import FrozenBook
from bpbfx.live import OrderBookUpdate
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from bpbfx.sinks import RedisStreamReader, RedisStreamSink, StreamEntry, stream_key
from tests.redis_servers import RedisServer
from tests.support import Recorder

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.0)
BOOK = "book:tBTCUSD:P0:F0:25"


class BookLog:
    """``on_book`` hook keeping every valid book state by update id, per stream."""

    def __init__(self) -> None:
        self.states: dict[str, dict[int | None, FrozenBook]] = {}
        self.updates: list[OrderBookUpdate] = []
        self.cond = threading.Condition()

    def __call__(self, owner: Any, update: OrderBookUpdate) -> None:
        snap = update.book.snapshot()
        with self.cond:
            self.updates.append(update)
            if update.valid:
                self.states.setdefault(update.stream, {})[update.update_id] = snap
            self.cond.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self), timeout)

    def count(self, stream: str) -> int:
        with self.cond:
            return len(self.states.get(stream, {}))


def assert_books_equal(live: BookLog, reader: BookLog, stream: str, at_least: int) -> int:
    """Every book state the reader had equals the live client's at the same update id."""
    with reader.cond, live.cond:
        seen = reader.states.get(stream, {})
        mine = live.states.get(stream, {})
        compared = 0
        for uid, snap in seen.items():
            assert uid in mine, f"reader book at update {uid} of {stream} that the client never had"
            want = mine[uid]
            assert snap.bids == want.bids and snap.asks == want.asks, f"{stream} differs at update {uid}"
            compared += 1
    assert compared >= at_least, f"only {compared} states of {stream} compared"
    return compared


@pytest.fixture
def bfx(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(seed=21, tick_interval=0.01, hb_interval=0.2, time_scale=0.01)


@pytest.fixture
def bpx(backpack_sim: Callable[..., BackpackSimulator]) -> BackpackSimulator:
    return backpack_sim(seed=12, tick_interval=0.01, time_scale=0.01)


def bitfinex_client(sim: BitfinexSimulator, on_book: Any, **kwargs: Any) -> BitfinexClient:
    client = BitfinexClient(sim.url, auth=False, backoff=FAST, heartbeat_timeout=2.0, on_book=on_book,
                            on_error=kwargs.pop("on_error", None), **kwargs)
    client.subscribe(BOOK)
    client.subscribe("trades:tBTCUSD")
    return client


def test_books_equal_at_the_same_update_id(redis_url: str, bfx: BitfinexSimulator, bpx: BackpackSimulator) -> None:
    """The reader's books equal the live clients' books at every update id; trades arrive as entries."""
    live, seen, entries, errors = BookLog(), BookLog(), Recorder(), Recorder()
    sink = RedisStreamSink(redis_url, snapshot_every=20)
    bf = bitfinex_client(bfx, live)
    bp = BackpackClient(bpx.url, rest_url=bpx.http_url, backoff=FAST, on_book=live,
                        streams=["depth.SOL_USDC", "trade.SOL_USDC"])
    sink.attach(bf)
    sink.attach(bp)
    reader = RedisStreamReader(redis_url, [f"bitfinex:{BOOK}", "bitfinex:trades:tBTCUSD", "backpack:depth.SOL_USDC",
                                           "backpack:trade.SOL_USDC"],
                               on_book=seen, on_message=entries, on_error=errors, block=0.2)
    with reader, bf, bp:
        assert seen.wait_for(lambda s: s.count(BOOK) >= 40 and s.count("depth.SOL_USDC") >= 40, 15)
        assert entries.wait_for(lambda items: {e.stream for e in items if e.kind == "trade"} == {"trade.SOL_USDC"}
                                and any(e.kind.startswith("trade") and e.exchange == "bitfinex" for e in items), 15)
    sink.close()
    assert sink.stats().dropped == 0 and sink.stats().written > 80
    assert_books_equal(live, seen, BOOK, 40)
    assert_books_equal(live, seen, "depth.SOL_USDC", 40)
    trade = next(e for e in entries.of(StreamEntry) if e.kind == "trade")
    assert isinstance(trade.data["p"], str) and trade.exchange_time_us and trade.receive_time_us
    assert not [e for e in errors.items if isinstance(e, StreamGapError)]


def test_late_reader_starts_from_latest_snapshot(redis_url: str, bfx: BitfinexSimulator) -> None:
    """A reader started later begins at the snapshot recorded under the meta key."""
    live, seen = BookLog(), BookLog()
    sink = RedisStreamSink(redis_url, snapshot_every=10)
    client = bitfinex_client(bfx, live)
    sink.attach(client)
    with client:
        assert live.wait_for(lambda s: s.count(BOOK) >= 35, 10)
        assert sink.flush(5)
        r = redis.Redis.from_url(redis_url)
        key = stream_key("bitfinex", BOOK)
        snap_id = r.hget(key + ":meta", "snapshot")
        assert snap_id is not None and r.xlen(key) > 30
        first: list[StreamEntry] = []
        reader = RedisStreamReader(redis_url, [f"bitfinex:{BOOK}"], on_book=seen, block=0.2,
                                   on_message=lambda rd, e: first.append(e))
        with reader:
            assert reader.wait_synced(5)
            assert seen.wait_for(lambda s: s.count(BOOK) >= 10, 10)
        assert first[0].id == snap_id.decode() and first[0].kind == "snapshot"
    sink.close()
    assert_books_equal(live, seen, BOOK, 10)


def test_checksum_mismatch_gives_gap_then_next_epoch(redis_url: str, bfx: BitfinexSimulator) -> None:
    """A corrupted checksum reaches the reader as a gap entry, then a snapshot of epoch + 1."""
    live, seen, entries, errors = BookLog(), BookLog(), Recorder(), Recorder()
    sink = RedisStreamSink(redis_url)
    client = bitfinex_client(bfx, live)
    sink.attach(client)
    reader = RedisStreamReader(redis_url, [f"bitfinex:{BOOK}"], on_book=seen, on_message=entries, on_error=errors,
                               block=0.2)
    with reader, client:
        assert seen.wait_for(lambda s: s.count(BOOK) >= 10, 10)
        bfx.corrupt_checksum("tBTCUSD")
        assert entries.wait_for(lambda items: any(e.kind == "gap" for e in items), 10)
        gap = next(e for e in entries.of(StreamEntry) if e.kind == "gap")
        assert entries.wait_for(lambda items: any(e.kind == "snapshot" and e.epoch == gap.epoch + 1 for e in items), 10)
        assert seen.wait_for(lambda s: s.updates[-1].valid and s.updates[-1].update_id is not None
                             and any(u.snapshot for u in s.updates[-20:]), 10)
    sink.close()
    assert gap.data["reason"] == "checksum" and gap.data["expected"] != gap.data["got"]
    reported = [e for e in errors.items if isinstance(e, StreamGapError)]
    assert reported and reported[0].reason == "checksum"
    assert any(not u.valid for u in seen.updates)  # the reader's book went invalid in between
    assert_books_equal(live, seen, BOOK, 10)


def test_backpack_id_gap_gives_gap_then_next_epoch(redis_url: str, bpx: BackpackSimulator) -> None:
    """A skipped Backpack update id is a sequence gap entry (expected/got), then epoch + 1."""
    live, seen, entries = BookLog(), BookLog(), Recorder()
    sink = RedisStreamSink(redis_url)
    client = BackpackClient(bpx.url, rest_url=bpx.http_url, backoff=FAST, on_book=live, streams=["depth.SOL_USDC"])
    sink.attach(client)
    reader = RedisStreamReader(redis_url, ["backpack:depth.SOL_USDC"], on_book=seen, on_message=entries, block=0.2)
    with reader, client:
        assert seen.wait_for(lambda s: s.count("depth.SOL_USDC") >= 5, 10)
        bpx.inject_gap("SOL_USDC", skip=3)
        assert entries.wait_for(lambda items: any(e.kind == "gap" for e in items), 10)
        gap = next(e for e in entries.of(StreamEntry) if e.kind == "gap")
        assert entries.wait_for(lambda items: any(e.kind == "snapshot" and e.epoch == gap.epoch + 1 for e in items), 10)
    sink.close()
    assert gap.data["reason"] == "sequence" and gap.data["got"] == gap.data["expected"] + 3
    assert_books_equal(live, seen, "depth.SOL_USDC", 5)


def test_redis_paused_does_not_stall_the_client_and_ends_in_a_gap(own_redis: RedisServer,
                                                                  bfx: BitfinexSimulator) -> None:
    """With Redis SIGSTOPped the client keeps reading; afterwards the reader sees a loud gap and a new epoch."""
    live, seen, entries, errors, problems = BookLog(), BookLog(), Recorder(), Recorder(), Recorder()
    sink = RedisStreamSink(own_redis.url, queue_size=50, socket_timeout=0.5, backoff=FAST, on_report=problems)
    client = bitfinex_client(bfx, live)
    sink.attach(client)
    reader = RedisStreamReader(own_redis.url, [f"bitfinex:{BOOK}"], on_book=seen, on_message=entries,
                               on_error=errors, block=0.2, backoff=FAST)
    with reader, client:
        assert seen.wait_for(lambda s: s.count(BOOK) >= 5, 10)
        own_redis.pause()
        try:
            before = len(live.updates)
            t0 = time.monotonic()
            # The WebSocket reader thread keeps applying updates while Redis answers nothing.
            assert live.wait_for(lambda s: len(s.updates) >= before + 150, 10), (
                f"the client stalled: {len(live.updates) - before} updates while Redis was stopped")
            assert problems.wait_for(lambda items: any(isinstance(e, RedisUnavailableError) for e in items), 5), (
                f"no RedisUnavailableError reported: {problems.items}")
            assert live.wait_for(lambda s: sink.stats().dropped > 0, 10), f"nothing dropped: {sink.stats()}"
            stalled_for = time.monotonic() - t0
        finally:
            own_redis.resume()
        assert entries.wait_for(lambda items: any(e.kind == "gap" for e in items), 15)
        gap = next(e for e in entries.of(StreamEntry) if e.kind == "gap")
        assert entries.wait_for(lambda items: any(e.kind == "snapshot" and e.epoch > gap.epoch for e in items), 10)
        count = len(seen.updates)
        assert seen.wait_for(lambda s: len(s.updates) >= count + 10, 10)
    sink.close()
    assert stalled_for < 10
    assert gap.data["reason"] in ("overflow", "redis") and gap.data["dropped"] > 0
    assert any(isinstance(e, StreamGapError) for e in errors.items)
    assert sink.stats().dropped > 0
    assert_books_equal(live, seen, BOOK, 10)


def test_trimmed_stream_under_a_slow_reader_resyncs(redis_url: str, bfx: BitfinexSimulator) -> None:
    """A reader whose position was trimmed away reports it and resyncs from the latest snapshot."""
    live, seen, errors = BookLog(), BookLog(), Recorder()
    sink = RedisStreamSink(redis_url, maxlen=150, snapshot_every=40)
    client = bitfinex_client(bfx, live)
    sink.attach(client)
    gate = threading.Event()
    blocked = threading.Event()

    def slow(reader: Any, update: OrderBookUpdate) -> None:
        seen(reader, update)
        if not gate.is_set():
            blocked.set()
            gate.wait(10)  # the reader falls behind while the sink keeps writing

    reader = RedisStreamReader(redis_url, [f"bitfinex:{BOOK}"], on_book=slow, on_error=errors, block=0.2, count=20)
    key = stream_key("bitfinex", BOOK)
    r = redis.Redis.from_url(redis_url)
    with reader, client:
        assert blocked.wait(10)
        start = sink.stats().written
        assert live.wait_for(lambda s: sink.stats().written > start + 600, 15)
        assert sink.flush(5)
        assert int(r.xlen(key)) < 400
        gate.set()
        assert errors.wait_for(lambda items: any(isinstance(e, StreamTrimmedError) for e in items), 10)
        resynced = reader.stats().resyncs
        count = len(seen.updates)
        assert seen.wait_for(lambda s: len(s.updates) >= count + 20 and s.updates[-1].valid, 10)
    sink.close()
    trimmed = next(e for e in errors.items if isinstance(e, StreamTrimmedError))
    assert resynced >= 1, trimmed.message
    assert trimmed.reason == "trimmed" and "resynchronising" in trimmed.message
    assert_books_equal(live, seen, BOOK, 20)


def test_reconnect_is_a_gap_on_every_stream(redis_url: str, bpx: BackpackSimulator) -> None:
    """A dropped connection is a reconnect gap on the book and the trade stream; the book returns in a new epoch."""
    live, seen, entries = BookLog(), BookLog(), Recorder()
    sink = RedisStreamSink(redis_url)
    client = BackpackClient(bpx.url, rest_url=bpx.http_url, backoff=FAST, on_book=live,
                            streams=["depth.SOL_USDC", "trade.SOL_USDC"])
    sink.attach(client)
    reader = RedisStreamReader(redis_url, ["backpack:depth.SOL_USDC", "backpack:trade.SOL_USDC"], on_book=seen,
                               on_message=entries, block=0.2)
    with reader, client:
        assert entries.wait_for(lambda items: {e.kind for e in items} >= {"snapshot", "delta", "trade"}, 10)
        bpx.drop_connections()
        assert entries.wait_for(lambda items: {e.stream for e in items if e.kind == "gap"}
                                == {"depth.SOL_USDC", "trade.SOL_USDC"}, 10)
        gap = next(e for e in entries.of(StreamEntry) if e.kind == "gap" and e.stream == "depth.SOL_USDC")
        assert entries.wait_for(lambda items: any(e.kind == "snapshot" and e.epoch == gap.epoch + 1 for e in items), 10)
        assert entries.wait_for(lambda items: any(e.kind == "trade" and e.n == 0 and e.epoch > 1 for e in items), 10)
    sink.close()
    assert all(e.data["reason"] == "reconnect" for e in entries.of(StreamEntry) if e.kind == "gap")
    assert_books_equal(live, seen, "depth.SOL_USDC", 3)


def _trade_frame(i: int) -> str:
    data = {"e": "trade", "E": 1_700_000_000_000_000 + i, "s": "SOL_USDC", "p": "142.35", "q": "0.10", "b": "1",
            "a": "2", "t": i, "T": 1_700_000_000_000_000, "m": True}
    return json.dumps({"stream": "trade.SOL_USDC", "data": data})


def test_stats_count_gap_entries_by_reason(redis_url: str) -> None:
    """stats().gaps_by_reason tells a stream taken over from an earlier writer (writer_restart)
    from entries lost to a dropped connection (reconnect); together they are stats().gaps."""
    first = RedisStreamSink(redis_url)
    client = BackpackClient("ws://127.0.0.1:9", books=False)
    client.add_sink(first)
    client.feed(_trade_frame(1))
    assert first.flush(5)
    client.remove_sink(first)
    first.close()
    assert first.stats().gaps == 0 and first.stats().gaps_by_reason == {}
    second = RedisStreamSink(redis_url)
    client.add_sink(second)
    client.feed(_trade_frame(2))
    client.feed_lifecycle("close", reason="test")
    client.feed(_trade_frame(3))
    assert second.flush(5)
    client.close()
    second.close()
    stats = second.stats()
    assert stats.gaps_by_reason == {"writer_restart": 1, "reconnect": 1} and stats.gaps == 2
    entries = redis.Redis.from_url(redis_url).xrange(stream_key("backpack", "trade.SOL_USDC"))
    assert [f[b"kind"] for _, f in entries] == [b"trade", b"gap", b"trade", b"gap", b"trade"]
