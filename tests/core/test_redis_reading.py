"""The Redis reader's rules (continuity, holes, trims, gap entries, rebuilt books), without Redis."""

from __future__ import annotations

import threading
from decimal import Decimal

from bpbfx import StreamGapError, StreamTrimmedError
from bpbfx.book import Level
from bpbfx.sinks import wire
from bpbfx.sinks.reading import (
    Source,
    StreamEntry,
    entry_kind,
    gap_entry_error,
    hole_error,
    looks_like_id,
    previous_id,
    rows,
    wants_snapshot,
    was_trimmed,
)
from bpbfx.sinks.wire import Verdict, WireEntry

KEY = wire.stream_key("backpack", "depth.SOL_USDC")


def source() -> Source:
    src = Source(KEY, "backpack", "depth.SOL_USDC", threading.RLock())
    src.take_meta({b"sym": b"SOL_USDC", b"epoch": b"1"})
    return src


def entry(src: Source, entry_id: str, kind: str, n: int, data: str, *, epoch: int = 1, seq: int | None = None,
          prev: int | None = None) -> WireEntry:
    fields = {"v": "1", "kind": kind, "epoch": str(epoch), "n": str(n), "rt": "7", "data": data}
    if seq is not None:
        fields["seq"] = str(seq)
    if prev is not None:
        fields["prev"] = str(prev)
    return src.decode(entry_id, fields)


def rebuilt(src: Source) -> Source:
    """``src`` with a valid book: snapshot at update 10, then a delta to 11."""
    snap = entry(src, "1-0", "snapshot", 0, '{"b":[["100.0","1"]],"a":[["101.0","2"]]}', seq=10)
    assert src.check(snap).verdict is Verdict.OK and src.apply_snapshot(snap) is None
    delta = entry(src, "1-1", "delta", 1, '{"b":[["100.0","3"]],"a":[["101.0","0"]]}', seq=11, prev=10)
    assert src.check(delta).verdict is Verdict.OK
    assert src.apply_delta(delta) is not None
    return src


def test_a_book_is_rebuilt_from_a_snapshot_and_its_deltas() -> None:
    """A snapshot makes a valid book named after the market in :meta; deltas change its levels
    and update id; the on_book update says so."""
    src = rebuilt(source())
    assert src.live is not None and src.live.symbol == "SOL_USDC" and src.live.valid
    assert src.live.bids() == [Level(Decimal("100.0"), Decimal("3"))] and src.live.asks() == []
    update = src.book_update((), False)
    assert update is not None and (update.update_id, update.valid, update.snapshot) == (11, True, False)
    assert src.name == "backpack:depth.SOL_USDC"


def test_a_delta_that_does_not_follow_the_book_is_a_sequence_hole() -> None:
    """A delta whose prev is not the book's update id is a GAP (sequence, expected, got)."""
    src = rebuilt(source())
    check = src.check(entry(src, "1-2", "delta", 2, '{"b":[],"a":[]}', seq=14, prev=13))
    assert (check.verdict, check.reason, check.expected, check.got) == (Verdict.GAP, "sequence", 11, 13)


def test_a_periodic_snapshot_that_differs_is_reported_and_wins() -> None:
    """A periodic snapshot at the book's update id must equal the book; when it does not, the
    difference is reported (reason mismatch) and the snapshot replaces the book."""
    src = rebuilt(source())
    same = entry(src, "1-2", "snapshot", 2, '{"b":[["100.0","3"]],"a":[]}', seq=11)
    assert src.apply_snapshot(same) is None
    other = entry(src, "1-3", "snapshot", 3, '{"b":[["100.0","4"]],"a":[]}', seq=11)
    error = src.apply_snapshot(other)
    assert isinstance(error, StreamGapError) and error.reason == "mismatch" and "1-3" in error.message
    assert src.live is not None and src.live.bids() == [Level(Decimal("100.0"), Decimal("4"))]


def test_an_invalid_book_takes_no_delta_until_a_snapshot() -> None:
    """invalidate() reports a change once; deltas are not applied to an invalid book; the next
    snapshot makes it valid again."""
    src = rebuilt(source())
    assert src.invalidate() and not src.invalidate()
    assert src.apply_delta(entry(src, "1-2", "delta", 2, '{"b":[["99.0","1"]],"a":[]}', seq=12, prev=11)) is None
    assert src.live is not None and not src.live.valid and src.live.update_id == 11
    assert src.apply_snapshot(entry(src, "1-3", "snapshot", 3, '{"b":[],"a":[]}', seq=12)) is None
    assert src.live.valid


def test_a_hole_jumps_to_a_newer_snapshot() -> None:
    """A hole in n before a delta, with a newer snapshot in :meta, is reported as missing
    entries and the source reads on from that snapshot with its numbering forgotten."""
    src = rebuilt(source())
    later = entry(src, "1-5", "delta", 3, '{"b":[],"a":[]}', seq=13, prev=12)
    check = src.check(later)
    assert (check.verdict, check.reason, check.expected, check.got) == (Verdict.GAP, "missing", 2, 3)
    assert wants_snapshot(src, later, trimmed=False)
    error, resync = hole_error(src, later, check, "1-1", trimmed=False, snapshot="1-9")
    assert resync and type(error) is StreamGapError
    assert (error.reason, error.expected, error.got, error.epoch) == ("missing", 2, 3, 1)
    assert "entries are missing" in error.message and "resynchronising from the latest snapshot 1-9" in error.message
    src.resync_from("1-9")
    assert src.cursor == "1-8" and src.cont.epoch is None


def test_without_a_newer_snapshot_the_book_stays_invalid() -> None:
    """A snapshot in :meta that is not newer than the entry is no way out: the book waits."""
    src = rebuilt(source())
    later = entry(src, "1-5", "delta", 3, '{"b":[],"a":[]}', seq=13, prev=12)
    error, resync = hole_error(src, later, src.check(later), "1-1", trimmed=False, snapshot="1-0")
    assert not resync and error.message.endswith("the book stays invalid until the next snapshot")


def test_a_position_behind_the_first_entry_is_a_trim() -> None:
    """The hole is a trim when the stream's first entry is newer than the reader's position;
    it is reported as StreamTrimmedError (reason trimmed), and a snapshot is sought even when
    the entry itself is one."""
    assert was_trimmed("1-4", "1-9") and not was_trimmed("1-9", "1-9") and not was_trimmed("1-4", None)
    assert not was_trimmed("0-0", "1-9")  # no position yet: nothing was skipped
    src = rebuilt(source())
    snap = entry(src, "1-20", "snapshot", 9, '{"b":[],"a":[]}', seq=30)
    check = src.check(snap)
    assert not wants_snapshot(src, snap, trimmed=False) and wants_snapshot(src, snap, trimmed=True)
    error, resync = hole_error(src, snap, check, "1-4", trimmed=True, snapshot="1-30")
    assert isinstance(error, StreamTrimmedError) and error.reason == "trimmed" and resync
    assert "trimmed past this reader's position 1-4" in error.message


def test_a_stream_without_a_book_never_asks_for_a_snapshot() -> None:
    """Event streams have no book to resynchronise: holes are reported, nothing is sought."""
    src = Source(wire.stream_key("backpack", "trade.SOL_USDC"), "backpack", "trade.SOL_USDC", threading.RLock())
    first = entry(src, "1-0", "trade", 0, '{"p":"1"}')
    assert src.check(first).verdict is Verdict.OK
    later = entry(src, "1-3", "trade", 3, '{"p":"1"}')
    check = src.check(later)
    assert check.verdict is Verdict.GAP and not wants_snapshot(src, later, trimmed=True)
    error, resync = hole_error(src, later, check, "1-0", trimmed=False, snapshot="1-9")
    assert not resync and "resynchronising" not in error.message and "stays invalid" not in error.message


def test_a_gap_entry_is_reported_with_its_reason_and_loss() -> None:
    """A gap entry becomes a StreamGapError with the writer's reason, numbers and message."""
    src = rebuilt(source())
    gap = entry(src, "1-2", "gap", 2, '{"reason":"checksum","expected":5,"got":6,"dropped":3,"message":"bad cs"}')
    error = gap_entry_error(src, gap)
    assert (error.reason, error.expected, error.got, error.epoch) == ("checksum", 5, 6, 1)
    assert error.message == ("backpack:depth.SOL_USDC: the writer reported a gap (checksum, expected 5, got 6, "
                             "3 entries lost): bad cs; waiting for the next snapshot")
    odd = gap_entry_error(src, entry(src, "1-3", "gap", 3, '"not an object"'))
    assert odd.reason == "unknown" and odd.expected is None


def test_stream_entries_carry_the_entry_fields() -> None:
    """on_message gets a StreamEntry with the key, the numbering and the decoded data."""
    src = source()
    e = src.stream_entry(entry(src, "1-0", "trade_update", 0, '{"p":"1.5"}', seq=9))
    assert isinstance(e, StreamEntry)
    assert (e.id, e.key, e.exchange, e.stream, e.symbol, e.kind, e.event) == (
        "1-0", KEY, "backpack", "depth.SOL_USDC", "SOL_USDC", "trade_update", "TradeUpdate")
    assert (e.epoch, e.n, e.seq, e.receive_time_us, e.data) == (1, 0, 9, 7, {"p": "1.5"})


def test_ids_and_replies() -> None:
    """Entry ids step back exactly; XREAD replies read the same in RESP2 and RESP3; kind is
    read from raw fields."""
    assert previous_id("5-3") == "5-2" and previous_id("5-0") == f"4-{2**64 - 1}" and previous_id("0-0") == "0-0"
    assert looks_like_id("1700000000000-0") and looks_like_id("1700000000000") and not looks_like_id("latest")
    found = [(b"1-0", {b"kind": b"gap"})]
    assert rows([[b"k", found]]) == [("k", found)] == rows({b"k": [found]})
    assert entry_kind(found[0][1]) == "gap" and entry_kind({"kind": "delta"}) == "delta" and entry_kind(None) == ""
