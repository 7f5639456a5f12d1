"""RedisStreamReader modes against real servers: consumer groups, Redis Cluster, Redis down at start."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis

from bpbfx import Backoff, BackpackClient, BitfinexClient, ConfigurationError, MalformedFrameError, StreamGapError
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from bpbfx.sinks import RedisStreamReader, RedisStreamSink, StreamEntry, stream_key
from tests.redis.test_sink import BOOK, BookLog, assert_books_equal
from tests.redis_servers import RedisCluster, free_port, start_redis
from tests.support import Recorder

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.0)
TRADES = "trades:tBTCUSD"


@pytest.fixture
def bfx(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(seed=33, tick_interval=0.01, hb_interval=0.2, time_scale=0.01)


def test_consumer_group_acks_and_a_second_consumer_claims_pending(redis_url: str, bfx: BitfinexSimulator) -> None:
    """Entries a failing consumer never acked are claimed by another consumer, delivered and acked."""
    sink = RedisStreamSink(redis_url)
    client = BitfinexClient(bfx.url, auth=False, backoff=FAST, heartbeat_timeout=2.0)
    client.subscribe(BOOK)
    sink.attach(client)
    key = stream_key("bitfinex", BOOK)
    r = redis.Redis.from_url(redis_url)
    tried, errors = Recorder(), Recorder()

    def crash(reader: Any, e: StreamEntry) -> None:
        tried(reader, e)
        raise RuntimeError("loader down")

    with client:
        a = RedisStreamReader(redis_url, [f"bitfinex:{BOOK}"], group="loader", consumer="a", on_message=crash,
                              on_error=errors, block=0.2, claim_idle=60)
        with a:
            assert tried.wait_count(10, 10)
        with pytest.raises(ConfigurationError):
            a.book(BOOK)
        pending = r.xpending(key, "loader")
        assert pending["pending"] >= 10 and {c["name"] for c in pending["consumers"]} == {b"a"}
        failed = {e.id for e in tried.of(StreamEntry)}
        got = Recorder()
        b = RedisStreamReader(redis_url, [f"bitfinex:{BOOK}"], group="loader", consumer="b", on_message=got,
                              block=0.2, claim_idle=0.2, claim_interval=0.1)
        with b:
            assert got.wait_for(lambda items: failed <= {e.id for e in items}, 10)
            assert got.wait_for(lambda items: len(items) >= len(failed) + 5, 10)  # and new entries too
        sink.close()
    assert b.stats().claimed >= len(failed) and b.stats().acked >= len(failed) + 5
    assert r.xpending(key, "loader")["pending"] == 0
    assert a.stats().acked == 0 and len(errors.items) >= 10  # every failure was reported, nothing acked


def test_cluster_books_equal(redis_cluster: RedisCluster, bfx: BitfinexSimulator) -> None:
    """Through a 3-node Redis Cluster the books still equal the live client's at the same update id."""
    from redis.crc import key_slot

    live, seen = BookLog(), BookLog()
    streams = [BOOK, "book:tETHUSD:P0:F0:25", TRADES]
    keys = [stream_key("bitfinex", s) for s in streams]
    assert len({key_slot(k.encode()) for k in keys}) == 3  # one reader thread per slot
    sink = RedisStreamSink(redis_cluster.url, snapshot_every=25)
    client = BitfinexClient(bfx.url, auth=False, backoff=FAST, heartbeat_timeout=2.0, on_book=live)
    for s in streams:
        client.subscribe(s)
    sink.attach(client)
    trades = Recorder()
    reader = RedisStreamReader(redis_cluster.url, [f"bitfinex:{s}" for s in streams], on_book=seen,
                               on_message=lambda rd, e: trades(rd, e) if e.kind.startswith("trade") else None,
                               block=0.2)
    with reader, client:
        assert seen.wait_for(lambda s: s.count(BOOK) >= 30 and s.count("book:tETHUSD:P0:F0:25") >= 30, 15)
        assert trades.wait_count(1, 10)
    sink.close()
    assert sink.stats().dropped == 0
    assert_books_equal(live, seen, BOOK, 30)
    assert_books_equal(live, seen, "book:tETHUSD:P0:F0:25", 30)


def test_redis_down_at_start_drops_then_gap_and_snapshot(tmp_path: Path) -> None:
    """With no server yet the sink drops and counts; once Redis is up a gap entry and a fresh snapshot lead."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    live, seen, entries, problems = BookLog(), BookLog(), Recorder(), Recorder()
    with BackpackSimulator(seed=4, tick_interval=0.01, time_scale=0.01) as bpx:
        sink = RedisStreamSink(url, queue_size=20, backoff=FAST, socket_timeout=0.5, on_report=problems)
        client = BackpackClient(bpx.url, rest_url=bpx.http_url, backoff=FAST, on_book=live,
                                streams=["depth.SOL_USDC"])
        sink.attach(client)
        with client:
            assert live.wait_for(lambda s: sink.stats().dropped >= 10, 10)
            assert any(isinstance(e, StreamGapError) and e.reason == "overflow" for e in problems.items)
            server = start_redis(tmp_path / "late", port=port)
            try:
                reader = RedisStreamReader(url, ["backpack:depth.SOL_USDC"], on_book=seen, on_message=entries,
                                           start="earliest", block=0.2)
                with reader:
                    assert entries.wait_for(lambda items: any(e.kind == "snapshot" and e.epoch >= 2 for e in items), 15)
                    count = seen.count("depth.SOL_USDC")
                    assert seen.wait_for(lambda s: s.count("depth.SOL_USDC") >= count + 10, 15)
                sink.close()
            finally:
                server.stop()
    first = [e for e in entries.of(StreamEntry)]
    gaps = [e for e in first if e.kind == "gap"]
    assert gaps and gaps[0].data["reason"] == "overflow" and gaps[0].data["dropped"] >= 10
    after = first[first.index(gaps[0]) + 1]
    assert after.kind == "snapshot" and after.epoch == gaps[0].epoch + 1 and after.n == 0
    assert_books_equal(live, seen, "depth.SOL_USDC", 10)


def _add(r: Any, key: str, kind: str, epoch: int, n: int, data: str, seq: int | None = None,
         prev: int | None = None) -> str:
    fields = {"v": "1", "kind": kind, "epoch": str(epoch), "n": str(n), "rt": "1", "data": data}
    if seq is not None:
        fields["seq"] = str(seq)
    if prev is not None:
        fields["prev"] = str(prev)
    entry_id = r.xadd(key, fields)
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def test_reader_finds_a_deleted_entry_and_a_wrong_book(redis_url: str) -> None:
    """A hole in n and a periodic snapshot that differs from the rebuilt book are both reported."""
    r = redis.Redis.from_url(redis_url)
    key = stream_key("backpack", "depth.SOL_USDC")
    r.hset(key + ":meta", mapping={"v": "1", "ex": "backpack", "stream": "depth.SOL_USDC", "sym": "SOL_USDC",
                                   "epoch": "1"})
    _add(r, key, "snapshot", 1, 0, '{"b":[["100.0","1"]],"a":[["101.0","2"]]}', seq=10)
    _add(r, key, "delta", 1, 1, '{"b":[["100.0","3"]],"a":[]}', seq=11, prev=10)
    lost = _add(r, key, "delta", 1, 2, '{"b":[],"a":[["101.0","0"]]}', seq=12, prev=11)
    _add(r, key, "delta", 1, 3, '{"b":[["99.5","4"]],"a":[]}', seq=13, prev=12)
    _add(r, key, "snapshot", 1, 4, '{"b":[["100.0","3"],["99.5","4"]],"a":[["101.5","1"]]}', seq=13)
    _add(r, key, "delta", 1, 5, '{"b":[],"a":[["101.5","2"]]}', seq=14, prev=13)
    _add(r, key, "snapshot", 1, 6, '{"b":[["100.0","3"],["99.5","4"]],"a":[["101.5","9"]]}', seq=14)
    r.xdel(key, lost)
    errors, books = Recorder(), Recorder()
    reader = RedisStreamReader(redis_url, ["backpack:depth.SOL_USDC"], start="earliest", on_error=errors,
                               on_book=books, block=0.2)
    with reader:
        assert errors.wait_count(2, 10, StreamGapError)
        assert books.wait_for(lambda items: len(items) >= 4 and items[-1].update_id == 14, 10)
        book = reader.book("SOL_USDC")
        assert book.valid and [tuple(x) for x in book.asks()] == [(Decimal("101.5"), Decimal("9"))]
    hole, mismatch = errors.of(StreamGapError)[:2]
    assert (hole.reason, hole.expected, hole.got) == ("missing", 2, 3)
    assert mismatch.reason == "mismatch"
    assert [u.valid for u in books.items][:3] == [True, True, False]  # snapshot, delta, then the hole


def test_latest_start_finds_a_snapshot_not_yet_recorded_in_meta(redis_url: str, bfx: BitfinexSimulator) -> None:
    """The sink records a snapshot's id in ``:meta`` one round after writing it; a reader
    starting in between (here: the id removed from ``:meta``) still starts from that snapshot
    instead of skipping it and waiting for the next one."""
    sink = RedisStreamSink(redis_url, snapshot_every=50_000)  # no periodic snapshot to rescue it
    client = BitfinexClient(bfx.url, auth=False, backoff=FAST, heartbeat_timeout=2.0)
    client.subscribe(BOOK)
    sink.attach(client)
    key = stream_key("bitfinex", BOOK)
    r = redis.Redis.from_url(redis_url)
    with client:
        assert bfx.wait_for(lambda: r.xlen(key) >= 20, 10)
        client.close()  # nothing more is written: the stream holds one snapshot, then deltas
    sink.close()
    assert r.hget(f"{key}:meta", "snapshot") is not None
    r.hdel(f"{key}:meta", "snapshot", "snapshot_epoch")  # the window between XADD and HSET
    seen = BookLog()
    reader = RedisStreamReader(redis_url, [f"bitfinex:{BOOK}"], on_book=seen, block=0.2)
    with reader:
        assert seen.wait_for(lambda s: s.count(BOOK) >= 10, 10), "the reader skipped the only snapshot"
        assert reader.book(BOOK).valid


def test_a_book_entry_whose_levels_cannot_be_read_is_reported_as_malformed(redis_url: str) -> None:
    """A snapshot with unreadable levels is reported as MalformedFrameError (not as Redis
    trouble); the book is invalid from there until the next good snapshot."""
    r = redis.Redis.from_url(redis_url)
    key = stream_key("backpack", "depth.SOL_USDC")
    r.hset(key + ":meta", mapping={"v": "1", "ex": "backpack", "stream": "depth.SOL_USDC", "sym": "SOL_USDC",
                                   "epoch": "1"})
    _add(r, key, "snapshot", 1, 0, '{"b":[["100.0","1"]],"a":[]}', seq=10)
    _add(r, key, "snapshot", 1, 1, '{"b":[["not a price","1"]],"a":[]}', seq=11)
    _add(r, key, "delta", 1, 2, '{"b":[["100.0","2"]],"a":[]}', seq=12, prev=11)
    _add(r, key, "snapshot", 1, 3, '{"b":[["100.0","5"]],"a":[]}', seq=13)
    errors, books = Recorder(), Recorder()
    reader = RedisStreamReader(redis_url, ["backpack:depth.SOL_USDC"], start="earliest", on_error=errors,
                               on_book=books, block=0.2)
    with reader:
        assert books.wait_for(lambda items: bool(items) and items[-1].update_id == 13, 10)
    assert [type(e) for e in errors.items] == [MalformedFrameError]
    assert [(u.update_id, u.valid) for u in books.items] == [(10, True), (10, False), (13, True)]
    assert reader.stats().errors == 1
