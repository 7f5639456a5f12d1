"""Tests for Backpack depth-book alignment (bpbfx.backpack.book)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from bpbfx.backpack.book import (
    BackpackBookSync,
    SyncAction,
    SyncReason,
    SyncResult,
    SyncState,
    parse_depth_snapshot,
    parse_levels,
    parse_update_id,
)
from bpbfx.book import ZERO, BookSide, Level, LevelChange
from bpbfx.exceptions import MalformedFrameError, SequenceGapError, StaleBookError
from tests.support import DATA as RECORDED

DATA = RECORDED / "backpack"
D = Decimal
SYMBOL = "BTC_USDC_PERP"


def frame(first: int | str, last: int | str, b: Sequence[Sequence[str]] = (), a: Sequence[Sequence[str]] = ()) -> str:
    """A depth frame shaped like the recorded wire frames."""
    data = {"E": 1790134357267289, "T": 1790134357267074, "U": first, "a": a, "b": b, "e": "depth", "s": SYMBOL}
    data["u"] = last
    return json.dumps({"data": data, "stream": f"depth.{SYMBOL}"})


def feed(sync: BackpackBookSync, text: str) -> SyncResult:
    """Decode a frame and hand it to the state machine, as the client does."""
    data = json.loads(text)["data"]
    return sync.on_delta(
        parse_update_id(data["U"]), parse_update_id(data["u"]), parse_levels(data["b"]), parse_levels(data["a"])
    )


def rest(last_update_id: Any, bids: Sequence[Sequence[str]], asks: Sequence[Sequence[str]]) -> str:
    """A REST depth body: bids ascending (best LAST), lastUpdateId a string."""
    return json.dumps({"asks": asks, "bids": bids, "lastUpdateId": last_update_id, "timestamp": 1790134357267289})


def snap(sync: BackpackBookSync, body: str) -> SyncResult:
    parsed = parse_depth_snapshot(body)
    return sync.on_snapshot(parsed.last_update_id, parsed.bids, parsed.asks)


REST_BODY = rest("1000", [["86690", "1"], ["86699.9", "3"]], [["86700", "1.5"], ["86701.5", "2"]])


def synced_sync() -> BackpackBookSync:
    sync = BackpackBookSync(SYMBOL, stream=f"depth.{SYMBOL}")
    feed(sync, frame(1001, 1001, b=[["86699.9", "4"]]))
    assert snap(sync, REST_BODY).action is SyncAction.SYNCED
    return sync


def test_deltas_before_snapshot_are_buffered() -> None:
    """Deltas before any snapshot are buffered and the book stays invalid and empty."""
    sync = BackpackBookSync(SYMBOL)
    assert sync.needs_snapshot and sync.state is SyncState.WAITING_SNAPSHOT
    result = feed(sync, frame(5, 6, b=[["1", "1"]]))
    assert result.action is SyncAction.BUFFERED and result.reason is SyncReason.NOT_SYNCED
    assert sync.buffered == 1 and len(sync.book) == 0 and not sync.book.valid


def test_normal_alignment_drops_old_deltas_and_applies_the_rest() -> None:
    """Buffered deltas with u <= L are dropped; the first kept has U <= L+1 <= u; the rest follow in order."""
    sync = BackpackBookSync(SYMBOL)
    feed(sync, frame(995, 999, b=[["86699.9", "99"]]))  # u <= L: dropped
    feed(sync, frame(1000, 1002, a=[["86700.0", "0.5"]]))  # U <= L+1 <= u: first applied
    feed(sync, frame(1003, 1003, b=[["86690.0", "0"]]))
    result = snap(sync, REST_BODY)
    assert result.action is SyncAction.SYNCED and result.update_id == 1003
    book = sync.book
    assert book.valid and book.update_id == 1003 and sync.state is SyncState.SYNCED
    assert book.bids() == [Level(D("86699.9"), D("3"))]
    assert book.asks() == [Level(D("86700"), D("0.5")), Level(D("86701.5"), D("2"))]
    applied = feed(sync, frame(1004, 1004, b=[["86699.9", "2.5"]]))
    assert applied.action is SyncAction.APPLIED and applied.update_id == 1004
    assert applied.changes == (LevelChange(BookSide.BID, D("86699.9"), D("3"), D("2.5")),)


def test_rest_numbers_and_ws_numbers_land_on_the_same_level() -> None:
    """REST "86700" and WS "86700.0" are one level: a WS update replaces, and a WS zero removes it."""
    sync = synced_sync()
    result = feed(sync, frame(1002, 1002, a=[["86700.0", "7"]]))
    assert result.changes == (LevelChange(BookSide.ASK, D("86700"), D("1.5"), D("7")),)
    assert len(sync.book.asks()) == 2
    feed(sync, frame(1003, 1003, a=[["86700.0", "0.00"]]))
    assert sync.book.best_ask() == Level(D("86701.5"), D("2"))


@pytest.mark.parametrize("zero", ["0", "0.00", "0.00000", "0.0000"])
def test_zero_quantity_in_any_spelling_deletes(zero: str) -> None:
    """A delta quantity of zero in any spelling removes the level."""
    sync = synced_sync()
    result = feed(sync, frame(1002, 1002, b=[["86690.0", zero]]))
    assert result.changes == (LevelChange(BookSide.BID, D("86690"), D("1"), ZERO),)
    assert sync.book.bids() == [Level(D("86699.9"), D("4"))]


def test_rest_snapshot_ahead_keeps_buffering_until_a_newer_delta() -> None:
    """A snapshot newer than every buffered delta is held; older deltas are ignored; the first u > L aligns."""
    sync = BackpackBookSync(SYMBOL)
    feed(sync, frame(990, 995, b=[["86699.9", "99"]]))
    result = snap(sync, REST_BODY)
    assert result.action is SyncAction.BUFFERED and result.reason is SyncReason.SNAPSHOT_AHEAD
    assert sync.state is SyncState.WAITING_DELTA and not sync.needs_snapshot and not sync.book.valid
    old = feed(sync, frame(996, 1000, b=[["86699.9", "98"]]))
    assert old.action is SyncAction.IGNORED and old.reason is SyncReason.OLD_DELTA
    aligned = feed(sync, frame(999, 1004, a=[["86701.5", "0"]]))
    assert aligned.action is SyncAction.SYNCED and aligned.update_id == 1004
    assert sync.book.valid and sync.book.asks() == [Level(D("86700"), D("1.5"))]
    assert sync.book.bids()[0] == Level(D("86699.9"), D("3"))
    assert feed(sync, frame(1005, 1005)).action is SyncAction.APPLIED


def test_rest_snapshot_ahead_of_an_empty_buffer() -> None:
    """With nothing buffered yet the snapshot is held and the next delta covering L+1 aligns it."""
    sync = BackpackBookSync(SYMBOL)
    assert snap(sync, REST_BODY).action is SyncAction.BUFFERED
    assert feed(sync, frame(1001, 1001)).action is SyncAction.SYNCED


def test_held_snapshot_then_skipping_delta_is_stale() -> None:
    """If the first delta after a held snapshot starts beyond L+1 the snapshot is stale."""
    sync = BackpackBookSync(SYMBOL)
    snap(sync, REST_BODY)
    result = feed(sync, frame(1003, 1004))
    assert result.action is SyncAction.NEED_SNAPSHOT and result.reason is SyncReason.SNAPSHOT_STALE
    assert isinstance(result.error, StaleBookError) and result.need_snapshot
    assert sync.needs_snapshot and sync.buffered == 1 and not sync.book.valid


def test_stale_snapshot_reports_need_snapshot_and_keeps_deltas() -> None:
    """A snapshot older than the first buffered delta (U > L+1) asks for a new one; the deltas stay buffered."""
    sync = BackpackBookSync(SYMBOL)
    feed(sync, frame(1005, 1006, b=[["86695", "1"]]))
    feed(sync, frame(1007, 1007, b=[["86696", "1"]]))
    result = snap(sync, REST_BODY)
    assert result.action is SyncAction.NEED_SNAPSHOT and result.reason is SyncReason.SNAPSHOT_STALE
    assert isinstance(result.error, StaleBookError) and result.error.symbol == SYMBOL
    assert sync.needs_snapshot and sync.buffered == 2 and not sync.book.valid
    fresh = rest(1005, [["86690", "1"]], [["86700", "1"]])
    result = snap(sync, fresh)
    assert result.action is SyncAction.SYNCED and result.update_id == 1007
    assert [lv.price for lv in sync.book.bids()] == [D("86696"), D("86695"), D("86690")]


def test_gap_after_sync_invalidates_and_rebuffers() -> None:
    """U != last_u + 1 reports SequenceGapError(expected, got), invalidates the book and buffers again."""
    sync = synced_sync()
    result = feed(sync, frame(1003, 1004, b=[["86698", "1"]]))
    assert result.action is SyncAction.NEED_SNAPSHOT and result.reason is SyncReason.SEQUENCE_GAP
    error = result.error
    assert isinstance(error, SequenceGapError)
    assert (error.expected, error.got, error.symbol, error.stream) == (1002, 1003, SYMBOL, f"depth.{SYMBOL}")
    assert not sync.book.valid and not sync.book.snapshot().valid
    assert sync.needs_snapshot and sync.buffered == 1
    assert feed(sync, frame(1005, 1005)).action is SyncAction.BUFFERED
    result = snap(sync, rest("1003", [["86690", "1"]], [["86700", "1"]]))
    assert result.action is SyncAction.SYNCED and result.update_id == 1005
    assert sync.book.valid and sync.book.best_bid() == Level(D("86698"), D("1"))


def test_gap_inside_the_buffer_during_alignment() -> None:
    """A hole between buffered deltas is found while aligning: NEED_SNAPSHOT with the later deltas kept."""
    sync = BackpackBookSync(SYMBOL)
    feed(sync, frame(1001, 1002))
    feed(sync, frame(1004, 1005))
    result = snap(sync, REST_BODY)
    assert result.action is SyncAction.NEED_SNAPSHOT
    assert isinstance(result.error, SequenceGapError) and (result.error.expected, result.error.got) == (1003, 1004)
    assert sync.buffered == 1 and not sync.book.valid


def test_duplicate_deltas_are_ignored() -> None:
    """A delta delivered twice (before or after alignment) is applied once and later copies are ignored."""
    sync = BackpackBookSync(SYMBOL)
    first = frame(1001, 1002, b=[["86699.9", "5"]])
    second = frame(1003, 1003, b=[["86699.9", "6"]])
    for text in (first, first, second, second):
        feed(sync, text)
    assert snap(sync, REST_BODY).update_id == 1003
    assert sync.book.best_bid() == Level(D("86699.9"), D("6"))
    for text in (first, second):
        again = feed(sync, text)
        assert again.action is SyncAction.IGNORED and again.reason is SyncReason.OLD_DELTA
    assert sync.book.best_bid() == Level(D("86699.9"), D("6")) and sync.book.valid


def test_overlapping_delta_after_sync_is_a_gap() -> None:
    """A delta that overlaps the applied ones (U <= last_u < u) breaks U == last_u + 1 and asks for a resync."""
    sync = synced_sync()
    result = feed(sync, frame(1001, 1003))
    assert result.action is SyncAction.NEED_SNAPSHOT and isinstance(result.error, SequenceGapError)
    assert (result.error.expected, result.error.got) == (1002, 1001)
    assert not sync.book.valid


def test_levels_given_as_text_are_converted() -> None:
    """Levels passed as text instead of Decimal still key by number, and "0.00" still deletes."""
    sync = synced_sync()
    result = sync.on_delta(1002, 1002, [("86690.0", "0.00")], [("86700.0", "3")])  # type: ignore[list-item]
    assert result.changes == (
        LevelChange(BookSide.BID, D("86690"), D("1"), ZERO),
        LevelChange(BookSide.ASK, D("86700"), D("1.5"), D("3")),
    )


def test_late_snapshot_while_synced_is_ignored() -> None:
    """A snapshot arriving for an already synced book changes nothing."""
    sync = synced_sync()
    before = sync.book.snapshot()
    result = snap(sync, rest("5000", [["1", "1"]], [["2", "1"]]))
    assert result.action is SyncAction.IGNORED and result.reason is SyncReason.ALREADY_SYNCED
    assert sync.book.snapshot() == before


def test_reset_forgets_everything() -> None:
    """reset() empties the book, marks it invalid and waits for a new snapshot."""
    sync = synced_sync()
    feed(sync, frame(1002, 1002))
    sync.reset()
    assert sync.needs_snapshot and sync.buffered == 0 and len(sync.book) == 0
    assert not sync.book.valid and sync.book.update_id is None
    assert feed(sync, frame(1, 1)).action is SyncAction.BUFFERED


def test_buffer_limit_drops_oldest_deltas() -> None:
    """Beyond max_buffer the oldest deltas go, so an old snapshot is then reported stale."""
    sync = BackpackBookSync(SYMBOL, max_buffer=3)
    for n in range(1001, 1006):
        feed(sync, frame(n, n))
    assert sync.buffered == 3
    assert snap(sync, REST_BODY).reason is SyncReason.SNAPSHOT_STALE
    assert snap(sync, rest(1002, [], [])).action is SyncAction.SYNCED


def test_recorded_wire_frames_align_and_delete() -> None:
    """The recorded ETH_USDC_PERP 200ms delta aligns with a snapshot at U-1 and its "0.0000" deletes a level."""
    lines = [json.loads(line) for line in (DATA / "wire_frames.jsonl").read_text().splitlines() if line.strip()]
    (data,) = [m["data"] for m in lines if m.get("stream") == "depth.200ms.ETH_USDC_PERP"]
    sync = BackpackBookSync("ETH_USDC_PERP")
    result = sync.on_delta(
        parse_update_id(data["U"]), parse_update_id(data["u"]), parse_levels(data["b"]), parse_levels(data["a"])
    )
    assert result.action is SyncAction.BUFFERED
    body = rest(str(data["U"] - 1), [["2755.33", "1.5"], ["2760", "2"]], [["2766.95", "1"], ["2767", "3"]])
    result = snap(sync, body)
    assert result.action is SyncAction.SYNCED and result.update_id == data["u"]
    assert sync.book.size_at("bid", "2755.33") == ZERO
    assert sync.book.best_bid() == Level(D("2763.10"), D("0.1579"))
    assert sync.book.best_ask() == Level(D("2766.95"), D("6.9498"))
    assert not sync.book.is_crossed()


def test_recorded_frames_with_string_ids_and_zero_spellings() -> None:
    """Recorded deletions written "0.00" and "0.00000" (one frame with string times) remove their levels."""
    lines = [json.loads(line) for line in (DATA / "wire_frames.jsonl").read_text().splitlines() if line.strip()]
    depth = [m["data"] for m in lines if m.get("stream", "").startswith("depth.")]
    deltas = [d for d in depth if d["s"] != "ETH_USDC_PERP"]
    zero_rows = [row for d in deltas for row in d["b"] + d["a"] if Decimal(row[1]) == 0]
    assert {row[1] for row in zero_rows} >= {"0.00", "0.00000"}
    for data in deltas:
        sync = BackpackBookSync(data["s"])
        first, last = parse_update_id(data["U"]), parse_update_id(data["u"])
        levels = [[row[0], "5"] for row in data["b"]]
        sync.on_snapshot(first - 1, parse_levels(levels), [])
        result = sync.on_delta(first, last, parse_levels(data["b"]), parse_levels(data["a"]))
        assert result.action is SyncAction.SYNCED
        for price, qty in data["b"]:
            assert sync.book.size_at("bid", price) == Decimal(qty)


def test_parse_depth_snapshot_tolerates_id_types() -> None:
    """lastUpdateId and timestamp may be strings or numbers; text, bytes and dicts are accepted."""
    body = {"asks": [["2", "1"]], "bids": [["1", "1"], ["1.5", "2"]], "lastUpdateId": "77", "timestamp": "123"}
    for given in (body, json.dumps(body), json.dumps(body).encode(), {**body, "lastUpdateId": 77, "timestamp": 123}):
        parsed = parse_depth_snapshot(given)
        assert parsed.last_update_id == 77 and parsed.timestamp_us == 123
        assert parsed.bids == [(D(1), D(1)), (D("1.5"), D(2))]
    assert parse_depth_snapshot({k: v for k, v in body.items() if k != "timestamp"}).timestamp_us is None


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"bids":[],"asks":[]}',
        '{"bids":[["1"]],"asks":[],"lastUpdateId":"1"}',
        '{"bids":[["x","1"]],"asks":[],"lastUpdateId":"1"}',
        '{"bids":[["1","-1"]],"asks":[],"lastUpdateId":"1"}',
        '{"bids":[],"asks":[],"lastUpdateId":"1.5"}',
    ],
)
def test_parse_depth_snapshot_rejects_malformed_bodies(body: str) -> None:
    """A body that is not a well-formed depth snapshot raises MalformedFrameError."""
    with pytest.raises(MalformedFrameError):
        parse_depth_snapshot(body)


def test_delta_with_first_id_after_last_id_is_malformed() -> None:
    """U > u cannot be a valid delta and raises MalformedFrameError."""
    with pytest.raises(MalformedFrameError):
        BackpackBookSync(SYMBOL).on_delta(5, 4, [], [])
