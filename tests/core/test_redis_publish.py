"""The Redis sink's publishing rules (Publisher + Planner), without Redis, threads or a clock.

A small in-memory stand-in executes the commands the planner makes (``XADD``, ``HSET``,
``HGET``), so that the entries can be decoded with the wire format exactly as a reader would.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import ChecksumMismatchError, ConnectionLostError, RedisUnavailableError, SequenceGapError, StreamGapError
from bpbfx.backpack.events import Depth, Trade
from bpbfx.bitfinex.events import Heartbeat
from bpbfx.book import BookSide, LevelChange, OrderBook
from bpbfx.live import LiveBook, OrderBookUpdate
from bpbfx.sinks import wire
from bpbfx.sinks.connection import unavailable
from bpbfx.sinks.plan import Planner
from bpbfx.sinks.publish import Item, Publisher
from bpbfx.sinks.wire import WireEntry

BOOK = "depth.SOL_USDC"
TRADES = "trade.SOL_USDC"
BOOK_KEY = wire.stream_key("backpack", BOOK)
TRADE_KEY = wire.stream_key("backpack", TRADES)
LIMITS: dict[str, int | None] = {"default": 1000}


class Host:
    """The part of a client (a SinkHost) the publisher asks for: its exchange and book streams."""

    name = "test"
    exchange = "backpack"

    def __init__(self, books: tuple[str, ...] = (BOOK,), backfilled: tuple[str, ...] = ()) -> None:
        self.books = dict.fromkeys(books)
        self._backfilled = backfilled

    def backfilled(self, stream: str) -> bool:
        return stream in self._backfilled


class Store:
    """Executes the planner's commands in memory, as Redis would (ids ``1-0``, ``1-1``, ...)."""

    def __init__(self) -> None:
        self.streams: dict[str, list[tuple[str, dict[bytes, bytes]]]] = {}
        self.hashes: dict[str, dict[bytes, bytes]] = {}
        self.maxlen: dict[str, bytes | None] = {}
        self.next_id = 0

    def execute(self, commands: list[tuple[str, list[bytes]]]) -> list[Any]:
        replies: list[Any] = []
        for _, args in commands:
            name, key, rest = args[0], args[1].decode(), args[2:]
            if name == b"XADD":
                self.maxlen[key] = rest[2] if rest[0] == b"MAXLEN" else None
                rest = rest[rest.index(b"*") + 1:]
                entry_id = f"1-{self.next_id}"
                self.next_id += 1
                self.streams.setdefault(key, []).append((entry_id, dict(zip(rest[::2], rest[1::2], strict=True))))
                replies.append(entry_id.encode())
            elif name == b"HSET":
                self.hashes.setdefault(key, {}).update(zip(rest[::2], rest[1::2], strict=True))
                replies.append(len(rest) // 2)
            elif name == b"HGET":
                replies.append(self.hashes.get(key, {}).get(rest[0]))
            else:
                raise AssertionError(f"unexpected command {name!r}")
        return replies

    def entries(self, key: str) -> list[WireEntry]:
        return [wire.decode_entry(i, f) for i, f in self.streams.get(key, [])]

    def meta(self, key: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.hashes.get(wire.meta_key(key), {}).items()}


class Core:
    """A publisher and a planner wired as the sink's writer thread wires them, one round per
    :meth:`write`."""

    def __init__(self, store: Store | None = None, **options: Any) -> None:
        limits = options.pop("maxlen", LIMITS)
        self.reports: list[BaseException] = []
        self.woken = 0
        self.publisher = Publisher(wake=self._wake, report=self.reports.append, **options)
        self.planner = Planner(limits)
        self.store = store or Store()

    def _wake(self) -> None:
        self.woken += 1

    def write(self, limit: int = 10_000) -> list[Item]:
        publisher, planner, store = self.publisher, self.planner, self.store
        batch = publisher.take(limit)
        try:
            reads = planner.epoch_reads(batch)
            if reads:
                planner.stored_epochs(reads, store.execute(reads))
            plan = planner.plan(batch)
            if plan.commands:
                confirmed = planner.confirm(plan, store.execute(plan.commands))
                if confirmed.commands:
                    store.execute(confirmed.commands)
                planner.recorded(confirmed)
        finally:
            publisher.done()
        return batch


def trade(i: int, symbol: str = "SOL_USDC") -> Trade:
    return Trade(stream=f"trade.{symbol}", symbol=symbol, data={"t": i, "p": "142.35", "q": "0.10"}, trade_id=i,
                 price=Decimal("142.35"), quantity=Decimal("0.10"), buyer_is_maker=True, buy_order_id=None,
                 sell_order_id=None, event_time_us=1_700_000_000_000_000 + i, engine_time_us=None)


def depth(u: int) -> Depth:
    """The raw frame event a Backpack client delivers right after the book update of ``u``."""
    return Depth(stream=BOOK, symbol="SOL_USDC", data={}, first_update_id=u, last_update_id=u, bids=(), asks=(),
                 event_time_us=1_700_000_000_000_000 + u, engine_time_us=None)


class Book:
    """A client's managed book and the OrderBookUpdates it hands to its sinks."""

    def __init__(self) -> None:
        self.book = OrderBook("SOL_USDC", stream=BOOK)
        self.live = LiveBook(self.book, threading.RLock())

    def snapshot(self, uid: int, *, valid: bool = True) -> OrderBookUpdate:
        self.book.replace([(Decimal("100.0"), Decimal("1"))], [(Decimal("101.0"), Decimal("2"))], update_id=uid)
        self.book.valid = valid
        return self._update((), snapshot=True, uid=uid)

    def delta(self, uid: int, size: str = "3", *, valid: bool = True) -> OrderBookUpdate:
        change = self.book.set_level(BookSide.BID, Decimal("100.0"), Decimal(size))
        assert change is not None
        self.book.update_id = uid
        self.book.valid = valid
        return self._update((change,), snapshot=False, uid=uid)

    def _update(self, changes: tuple[LevelChange, ...], *, snapshot: bool, uid: int) -> OrderBookUpdate:
        return OrderBookUpdate(stream=BOOK, symbol="SOL_USDC", data=None, book=self.live, changes=changes,
                               snapshot=snapshot, update_id=uid, valid=self.book.valid)


def numbering(entries: list[WireEntry]) -> list[tuple[str, int, int]]:
    return [(e.kind, e.epoch, e.n) for e in entries]


def test_events_become_numbered_entries_with_their_times() -> None:
    """Each event is one entry: its kind, epoch 1 and n 0, 1, ..., the exchange time, the
    receive time given, the payload as decoded; the meta hash says what the stream is."""
    core, host = Core(), Host()
    core.publisher.event(host, trade(1), 111)
    core.publisher.event(host, trade(2), 222)
    assert core.woken == 2
    core.write()
    entries = core.store.entries(TRADE_KEY)
    assert numbering(entries) == [("trade", 1, 0), ("trade", 1, 1)]
    first = entries[0]
    assert (first.receive_time_us, first.exchange_time_us, first.event) == (111, 1_700_000_000_000_001, "Trade")
    assert first.data == {"t": 1, "p": "142.35", "q": "0.10"} and first.seq is None and first.prev is None
    assert core.store.meta(TRADE_KEY) == {"v": "1", "ex": "backpack", "stream": TRADES, "sym": "SOL_USDC",
                                          "epoch": "1"}
    assert (core.planner.written, core.planner.batches, core.planner.gaps) == (2, 1, 0)


def test_control_events_are_not_published() -> None:
    """Heartbeats and the like belong to the connection: nothing is queued for them."""
    core = Core()
    core.publisher.event(Host(), Heartbeat(stream="trades:tBTCUSD", symbol="tBTCUSD", data=None), 1)
    assert not core.publisher.queue and core.woken == 0


def test_book_snapshot_then_deltas_that_carry_their_frames_time() -> None:
    """A book starts with a snapshot; each delta waits for its frame's event, then carries its
    exchange time, its update id and the previous one."""
    core, host, book = Core(), Host(), Book()
    core.publisher.book(host, book.snapshot(10), 1, 0.0)
    core.publisher.event(host, depth(10), 1)
    core.publisher.book(host, book.delta(11), 2, 0.1)
    assert [i.kind for i in core.publisher.queue] == ["snapshot"]  # the delta waits for its event
    core.publisher.event(host, depth(11), 2)
    core.write()
    snapshot, delta = core.store.entries(BOOK_KEY)
    assert numbering([snapshot, delta]) == [("snapshot", 1, 0), ("delta", 1, 1)]
    assert snapshot.seq == 10 and snapshot.data == {"b": [["100.0", "1"]], "a": [["101.0", "2"]]}
    assert (delta.seq, delta.prev, delta.exchange_time_us) == (11, 10, 1_700_000_000_000_011)
    assert delta.data == {"b": [["100.0", "3"]], "a": []}
    assert core.store.meta(BOOK_KEY)["snapshot"] == snapshot.id
    assert core.planner.snapshots == 1


def test_periodic_snapshots_by_count_and_by_the_time_passed_in() -> None:
    """After snapshot_every deltas, and once snapshot_interval seconds passed, a snapshot
    follows the delta in the same epoch; the meta hash points at the latest one."""
    core, host, book = Core(snapshot_every=3, snapshot_interval=10.0), Host(), Book()
    core.publisher.book(host, book.snapshot(1), 1, 100.0)
    for uid, now in ((2, 101.0), (3, 102.0), (4, 103.0), (5, 104.0), (6, 113.5)):
        core.publisher.book(host, book.delta(uid, str(uid)), uid, now)
    core.publisher.release_all()
    core.write()
    entries = core.store.entries(BOOK_KEY)
    assert [(e.kind, e.seq) for e in entries] == [("snapshot", 1), ("delta", 2), ("delta", 3), ("delta", 4),
                                                  ("snapshot", 4), ("delta", 5), ("delta", 6), ("snapshot", 6)]
    assert {e.epoch for e in entries} == {1} and [e.n for e in entries] == list(range(8))
    assert core.store.meta(BOOK_KEY)["snapshot"] == entries[-1].id


def test_a_full_queue_drops_reports_once_then_a_gap_leads() -> None:
    """Items beyond queue_size are dropped and counted, the first drop of a stream is reported,
    and the stream's next entry follows an overflow gap (with the count) in a new epoch."""
    core, host = Core(queue_size=2), Host()
    for i in range(5):
        core.publisher.event(host, trade(i), i)
    assert core.publisher.dropped == 3 and len(core.publisher.queue) == 2
    assert len(core.reports) == 1 and isinstance(core.reports[0], StreamGapError)
    assert core.reports[0].reason == "overflow" and core.reports[0].stream == TRADES
    core.write()
    core.publisher.event(host, trade(5), 5)
    core.write()
    entries = core.store.entries(TRADE_KEY)
    assert numbering(entries) == [("trade", 1, 0), ("trade", 1, 1), ("gap", 1, 2), ("trade", 2, 0)]
    assert entries[2].data["reason"] == "overflow" and entries[2].data["dropped"] == 3
    assert core.planner.gaps_by_reason == {"overflow": 1}


def test_a_book_that_overflowed_starts_again_from_a_snapshot() -> None:
    """A book stream that lost updates to a full queue is published again from a fresh
    snapshot of its next update, after its overflow gap, in a new epoch."""
    core, host, book = Core(queue_size=2), Host(), Book()
    core.publisher.book(host, book.snapshot(1), 1, 0.0)
    core.publisher.book(host, book.delta(2), 2, 0.0)
    core.publisher.event(host, depth(2), 2)
    core.publisher.book(host, book.delta(3), 3, 0.0)
    core.publisher.event(host, depth(3), 3)  # this delta finds the queue full
    assert core.publisher.dropped == 1
    core.write()
    core.publisher.book(host, book.delta(4, "4"), 4, 0.0)
    core.write()
    entries = core.store.entries(BOOK_KEY)
    assert numbering(entries) == [("snapshot", 1, 0), ("delta", 1, 1), ("gap", 1, 2), ("snapshot", 2, 0)]
    assert entries[2].data["reason"] == "overflow" and entries[2].data["dropped"] == 1 and entries[3].seq == 4
    assert entries[3].data == {"b": [["100.0", "4"]], "a": [["101.0", "2"]]}


def test_book_errors_become_gaps_with_their_reason_one_per_hole() -> None:
    """A checksum mismatch is a checksum gap (expected, got) on its book only; a second error
    before anything new was published adds no second gap; then the next snapshot of a rebuild
    starts a new epoch."""
    core, host, book = Core(), Host(books=(BOOK, "depth.ETH_USDC")), Book()
    core.publisher.book(host, book.snapshot(1), 1, 0.0)
    error = ChecksumMismatchError("bad", symbol="SOL_USDC", expected=5, got=6, stream=BOOK)
    core.publisher.error(host, error, 7)
    core.publisher.error(host, SequenceGapError("gap", symbol="SOL_USDC", expected=2, got=4, stream=BOOK), 8)
    core.publisher.book(host, book.snapshot(9), 9, 0.0)
    core.write()
    entries = core.store.entries(BOOK_KEY)
    assert numbering(entries) == [("snapshot", 1, 0), ("gap", 1, 1), ("snapshot", 2, 0)]
    gap = entries[1]
    assert (gap.data["reason"], gap.data["expected"], gap.data["got"], gap.receive_time_us) == ("checksum", 5, 6, 7)
    assert core.planner.gaps_by_reason == {"checksum": 1}


def test_a_rebuild_and_an_invalid_book_are_gaps_too() -> None:
    """A fresh snapshot while the book was live is a rebuild gap; an update that leaves the
    book invalid is an invalid gap (one, however many invalid updates follow); the first valid
    update after it is published as a snapshot in a new epoch."""
    core, host, book = Core(), Host(), Book()
    core.publisher.book(host, book.snapshot(1), 1, 0.0)
    core.publisher.book(host, book.snapshot(5), 2, 0.0)
    core.publisher.book(host, book.delta(6, valid=False), 3, 0.0)
    core.publisher.book(host, book.delta(7, valid=False), 4, 0.0)
    core.publisher.book(host, book.delta(8), 5, 0.0)
    core.write()
    entries = core.store.entries(BOOK_KEY)
    assert numbering(entries) == [("snapshot", 1, 0), ("gap", 1, 1), ("snapshot", 2, 0), ("gap", 2, 1),
                                  ("snapshot", 3, 0)]
    assert [e.data["reason"] for e in entries if e.kind == "gap"] == ["rebuild", "invalid"]
    assert [e.seq for e in entries if e.kind == "snapshot"] == [1, 5, 8]


def test_a_lost_connection_is_a_reconnect_gap_on_every_stream_of_its_client() -> None:
    """ConnectionLostError puts a reconnect gap on the client's book and event streams alike,
    not on another client's."""
    core, host, other, book = Core(), Host(), Host(), Book()
    core.publisher.book(host, book.snapshot(1), 1, 0.0)
    core.publisher.event(host, trade(1), 1)
    core.publisher.event(other, trade(2, "ETH_USDC"), 2)
    core.publisher.error(host, ConnectionLostError("closed"), 3)
    core.write()
    for key in (BOOK_KEY, TRADE_KEY):
        gap = core.store.entries(key)[-1]
        assert (gap.kind, gap.data["reason"], gap.data["message"]) == ("gap", "reconnect", "closed")
    assert [e.kind for e in core.store.entries(wire.stream_key("backpack", "trade.ETH_USDC"))] == ["trade"]
    assert core.planner.gaps_by_reason == {"reconnect": 2}


def test_a_lost_connection_leaves_no_gap_on_a_trade_stream_the_client_backfills() -> None:
    """A client that backfills its trade stream fills the hole (or says which trades are
    missing, trades_missing): the reconnect gap goes on its book only."""
    core, host, book = Core(), Host(backfilled=("trade.SOL_USDC",)), Book()
    core.publisher.book(host, book.snapshot(1), 1, 0.0)
    core.publisher.event(host, trade(1), 1)
    core.publisher.error(host, ConnectionLostError("closed"), 3)
    core.write()
    assert core.store.entries(BOOK_KEY)[-1].kind == "gap"
    assert [e.kind for e in core.store.entries(TRADE_KEY)] == ["trade"]
    assert core.planner.gaps_by_reason == {"reconnect": 1}


def test_a_stream_an_earlier_writer_left_goes_on_after_a_writer_restart_gap() -> None:
    """A stream whose meta hash holds an epoch continues with a writer_restart gap in that
    epoch, then epoch + 1 from n 0; the sink counts it apart from the data gaps."""
    store = Store()
    store.hashes[wire.meta_key(TRADE_KEY)] = {b"epoch": b"7"}
    core = Core(store)
    core.publisher.event(Host(), trade(1), 1)
    core.write()
    gap, first = store.entries(TRADE_KEY)
    assert numbering([gap, first]) == [("gap", 7, 0), ("trade", 8, 0)]
    assert gap.data["reason"] == "writer_restart" and gap.data["dropped"] == 0
    assert store.meta(TRADE_KEY)["epoch"] == "8"
    assert core.planner.gaps == 1 and core.planner.gaps_by_reason == {"writer_restart": 1}


def test_an_unconfirmed_round_owes_a_redis_gap_and_its_books_a_rebuild() -> None:
    """A round Redis did not confirm counts its items as lost and owes each stream a redis gap
    (with the number lost); a book discards deltas until the publisher sends a fresh snapshot."""
    core, host, book = Core(), Host(), Book()
    core.publisher.book(host, book.snapshot(1), 1, 0.0)
    core.publisher.event(host, trade(1), 1)
    core.write()
    core.publisher.book(host, book.delta(2), 2, 0.0)
    core.publisher.event(host, depth(2), 2)  # releases the delta
    core.publisher.event(host, trade(2), 2)
    batch = core.publisher.take(100)
    core.publisher.done()
    resync = core.planner.failed(batch, ConnectionError("reset by peer"))
    assert resync == [BOOK_KEY] and core.planner.lost == 2
    core.publisher.republish(resync)
    core.publisher.book(host, book.delta(3), 3, 0.0)  # published as a snapshot of a rebuild
    core.publisher.event(host, trade(3), 3)
    core.write()
    books = core.store.entries(BOOK_KEY)
    assert numbering(books) == [("snapshot", 1, 0), ("gap", 1, 1), ("snapshot", 2, 0)]
    assert books[1].data["reason"] == "redis" and books[1].data["dropped"] == 1
    assert "reset by peer" in books[1].data["message"]
    trades = core.store.entries(TRADE_KEY)
    assert numbering(trades) == [("trade", 1, 0), ("gap", 1, 1), ("trade", 2, 0)]
    assert core.planner.gaps_by_reason == {"redis": 2}


def test_deltas_before_the_fresh_snapshot_are_discarded() -> None:
    """Deltas and periodic snapshots a book queued before the publisher learnt of a failed
    round are discarded (counted), so no reader applies a delta to the wrong book; the fresh
    snapshot of a rebuild follows the redis gap."""
    core, host, book = Core(snapshot_every=1), Host(), Book()
    core.publisher.book(host, book.snapshot(1), 1, 0.0)
    core.write()
    resync = core.planner.failed([Item(BOOK_KEY, "backpack", BOOK, "SOL_USDC", wire.DELTA, (), 1)], OSError("down"))
    core.publisher.book(host, book.delta(2), 2, 0.0)  # a delta and a periodic snapshot, queued meanwhile
    core.publisher.event(host, depth(2), 2)
    core.publisher.republish(resync)
    core.publisher.book(host, book.delta(3), 3, 0.0)
    core.write()
    entries = core.store.entries(BOOK_KEY)
    assert numbering(entries) == [("snapshot", 1, 0), ("gap", 1, 1), ("snapshot", 2, 0)]
    assert entries[2].seq == 3 and core.planner.discarded == 2


def test_an_error_reply_is_not_counted_as_written() -> None:
    """An error reply to one XADD leaves that entry uncounted (a gap not in gaps_by_reason)
    and is handed back as the round's error."""
    core, host = Core(), Host()
    core.publisher.event(host, trade(1), 1)
    core.publisher.error(host, ConnectionLostError("closed"), 2)
    batch = core.publisher.take(10)
    plan = core.planner.plan(batch)
    refused = RuntimeError("OOM command not allowed")
    replies = core.store.execute(plan.commands)
    replies[1] = refused
    confirmed = core.planner.confirm(plan, replies)
    assert confirmed.error is refused and confirmed.commands == []
    assert (core.planner.written, core.planner.gaps, core.planner.gaps_by_reason) == (1, 0, {})


@pytest.mark.parametrize(("maxlen", "want"), [
    ({"default": 1000}, {"trade": b"1000", "snapshot": b"1000"}),
    ({"default": 1000, "trade": 5}, {"trade": b"5", "snapshot": b"1000"}),
    ({"default": None, "snapshot": 50}, {"trade": None, "snapshot": b"50"}),
])
def test_maxlen_is_chosen_per_entry_kind(maxlen: dict[str, int | None], want: dict[str, bytes | None]) -> None:
    """Each XADD trims with MAXLEN ~ the limit of its kind (or the default); None: no MAXLEN."""
    core, host, book = Core(maxlen=maxlen), Host(), Book()
    core.publisher.event(host, trade(1), 1)
    core.publisher.book(host, book.snapshot(1), 1, 0.0)
    plan = core.planner.plan(core.publisher.take(10))
    got = {}
    for args in plan.xadds:
        kind = args[args.index(b"kind") + 1].decode()
        got[kind] = args[4] if args[2] == b"MAXLEN" else None
        assert args[2:4] == [b"MAXLEN", b"~"] or got[kind] is None
    assert got == want


def test_take_marks_the_consumer_busy_and_wakes_are_skipped_meanwhile() -> None:
    """take() hands out at most its limit, oldest first; while the consumer is busy queueing
    does not wake it; abandon() counts what was never written as dropped."""
    core, host = Core(), Host()
    for i in range(3):
        core.publisher.event(host, trade(i), i)
    batch = core.publisher.take(2)
    assert [i.payload["t"] for i in batch] == [0, 1] and core.publisher.busy
    woken = core.woken
    core.publisher.event(host, trade(3), 3)
    assert core.woken == woken
    core.publisher.done()
    assert not core.publisher.busy and core.publisher.abandon() == 2 and core.publisher.dropped == 2


def test_an_unavailable_error_is_not_wrapped_twice() -> None:
    """unavailable() translates a redis-py error once, without the password, and hands back a
    RedisUnavailableError (what connect() raises) as it is."""
    first = unavailable(ConnectionError("Error 111 connecting"), "redis://user:secret@127.0.0.1:1/0")
    assert isinstance(first, RedisUnavailableError) and "secret" not in str(first)
    assert str(first) == "Redis at redis://user:***@127.0.0.1:1/0 is unavailable: ConnectionError: Error 111 connecting"
    assert unavailable(first, "redis://127.0.0.1:1/0") is first


def test_backfilled_trades_carry_the_backfill_field() -> None:
    """An event with backfill=True is written with the field backfill=1 (read back as
    WireEntry.backfill); other entries have no such field."""
    from dataclasses import replace

    core, host = Core(), Host()
    core.publisher.event(host, trade(1), 1)
    core.publisher.event(host, replace(trade(2), backfill=True), 2)
    core.write()
    raw = [fields for _, fields in core.store.streams[TRADE_KEY]]
    assert [f.get(b"backfill") for f in raw] == [None, b"1"]
    assert [e.backfill for e in core.store.entries(TRADE_KEY)] == [False, True]


def test_trades_a_backfill_could_not_fetch_are_a_gap_with_their_range() -> None:
    """A TradeGapError is a trades_missing gap on its stream, even right after another gap:
    the id range (or time span), expected/got around it and the count missing."""
    from bpbfx import TradeGapError

    core, host = Core(), Host()
    core.publisher.event(host, trade(1), 1)
    core.publisher.error(host, ConnectionLostError("closed"), 2)
    core.publisher.error(host, TradeGapError("lost", exchange="backpack", symbol="SOL_USDC", stream=TRADES,
                                             reason="HTTP 503", first_id=2, last_id=9), 3)
    core.publisher.error(host, TradeGapError("lost", exchange="bitfinex", symbol="tBTCUSD", stream="trades:tBTCUSD",
                                             reason="full", start_ms=10, end_ms=20), 4)
    core.write()
    gaps = [e.data for e in core.store.entries(TRADE_KEY) if e.kind == "gap"]
    assert [g["reason"] for g in gaps] == ["reconnect", "trades_missing"]
    assert {k: gaps[1][k] for k in ("first_id", "last_id", "expected", "got", "dropped", "message")} == {
        "first_id": 2, "last_id": 9, "expected": 2, "got": 10, "dropped": 8, "message": "lost"}
    [span] = core.store.entries(wire.stream_key("backpack", "trades:tBTCUSD"))
    assert (span.data["start_ms"], span.data["end_ms"], span.data["expected"]) == (10, 20, None)
    assert core.planner.gaps_by_reason == {"reconnect": 1, "trades_missing": 2}
