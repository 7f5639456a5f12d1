"""The Redis wire format and the reader's continuity rules, without a server."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bpbfx import ConfigurationError, MalformedFrameError
from bpbfx.book import ZERO, BookSide, FrozenBook, Level, LevelChange
from bpbfx.sinks import wire
from bpbfx.sinks.wire import Continuity, Verdict, WireEntry


def entry(kind: str, epoch: int, n: int, *, seq: int | None = None, prev: int | None = None) -> WireEntry:
    return WireEntry(id=f"1-{n}", v=1, kind=kind, exchange="bitfinex", stream="book:tBTCUSD:P0:F0:25",
                     symbol="tBTCUSD", epoch=epoch, n=n, seq=seq, prev=prev, exchange_time_us=None,
                     receive_time_us=None, event=None, data=None)


def test_keys_put_the_stream_in_a_hash_tag() -> None:
    """Keys carry exchange:stream in braces (one cluster slot with their meta hash) and parse back."""
    key = wire.stream_key("bitfinex", "book:tBTCUSD:P0:F0:25")
    assert key == "bpbfx:{bitfinex:book:tBTCUSD:P0:F0:25}"
    assert wire.meta_key(key) == key + ":meta"
    assert wire.parse_key(key) == (key, "bitfinex", "book:tBTCUSD:P0:F0:25")
    assert wire.parse_key("backpack:trade.SOL_USDC") == ("bpbfx:{backpack:trade.SOL_USDC}", "backpack",
                                                         "trade.SOL_USDC")
    with pytest.raises(ConfigurationError, match="EXCHANGE:STREAM"):
        wire.parse_key("kraken:trades")
    with pytest.raises(ConfigurationError, match="braces"):
        wire.stream_key("backpack", "x{y}")


def test_levels_keep_the_exchange_text_exactly() -> None:
    """Prices and sizes go out as str(Decimal) and come back as the very same Decimals (no float)."""
    snap = FrozenBook("tBTCUSD", bids=(Level(Decimal("86700.0"), Decimal("0.00000700")),),
                        asks=(Level(Decimal("7e-7"), Decimal("12")),), valid=True, update_id=5)
    data = json.loads(wire.encode_snapshot(snap))
    assert data == {"b": [["86700.0", "0.00000700"]], "a": [["7E-7", "12"]]}
    bids, asks = wire.decode_levels(data)
    assert bids == [Level(Decimal("86700.0"), Decimal("0.00000700"))]
    assert str(bids[0].price) == "86700.0" and asks[0].price.as_tuple() == Decimal("7e-7").as_tuple()
    changes = [LevelChange(BookSide.BID, Decimal("1.50"), Decimal("2"), ZERO),
               LevelChange(BookSide.ASK, Decimal("1.60"), ZERO, Decimal("3.000"))]
    assert json.loads(wire.encode_changes(changes)) == {"b": [["1.50", "0"]], "a": [["1.60", "3.000"]]}
    with pytest.raises(MalformedFrameError):
        wire.decode_levels({"b": [["x", "1"]]})


def test_entries_decode_from_bytes_and_refuse_newer_versions() -> None:
    """XREAD's bytes decode to a WireEntry; a missing field or a newer version is refused."""
    fields = {b"v": b"1", b"kind": b"trade_update", b"epoch": b"3", b"n": b"7", b"seq": b"", b"et": b"1700000000000001",
              b"rt": b"1700000000000009", b"data": b'{"p":"142.35","q":"0.10"}'}
    e = wire.decode_entry(b"1700000000000-1", fields, exchange="backpack", stream="trade.SOL_USDC", symbol="SOL_USDC")
    assert (e.id, e.kind, e.epoch, e.n, e.seq, e.exchange_time_us, e.event) == (
        "1700000000000-1", "trade_update", 3, 7, None, 1700000000000001, "TradeUpdate")
    assert e.data == {"p": "142.35", "q": "0.10"} and e.symbol == "SOL_USDC" and e.prev is None
    with pytest.raises(MalformedFrameError, match="v2"):
        wire.decode_entry("1-0", {**fields, b"v": b"2"})
    with pytest.raises(MalformedFrameError, match="not a bpbfx"):
        wire.decode_entry("1-0", {b"v": b"1", b"kind": b"trade"})


def test_event_kinds_are_snake_case() -> None:
    """Event classes name their entries in snake case, and the kind names the class back."""

    class BookTicker:
        pass

    assert wire.event_kind(BookTicker) == "book_ticker"
    assert wire.event_class_name("book_ticker") == "BookTicker" and wire.event_class_name("delta") is None


def test_continuity_accepts_a_contiguous_stream() -> None:
    """n + 1 in an epoch, then gap, then n = 0 of the next epoch, is all OK."""
    c = Continuity()
    assert c.check(entry("snapshot", 1, 0, seq=10)).verdict is Verdict.OK
    assert c.check(entry("delta", 1, 1, seq=11, prev=10), book_update_id=10).verdict is Verdict.OK
    assert c.check(entry("gap", 1, 2)).verdict is Verdict.OK
    assert c.check(entry("snapshot", 2, 0, seq=20)).verdict is Verdict.OK


def test_continuity_finds_holes_and_skips_repeats() -> None:
    """A skipped n, a new epoch without its gap entry and a wrong prev are gaps; repeats are stale."""
    c = Continuity()
    c.check(entry("delta", 4, 5))
    gap = c.check(entry("delta", 4, 8))
    assert (gap.verdict, gap.reason, gap.expected, gap.got) == (Verdict.GAP, "missing", 6, 8)
    assert c.check(entry("delta", 4, 8)).verdict is Verdict.STALE
    assert c.check(entry("delta", 3, 9)).verdict is Verdict.STALE
    assert c.check(entry("snapshot", 5, 0)).reason == "epoch"  # the gap entry of epoch 4 is missing
    wrong = c.check(entry("delta", 5, 1, seq=31, prev=29), book_update_id=30)
    assert (wrong.verdict, wrong.reason, wrong.expected, wrong.got) == (Verdict.GAP, "sequence", 30, 29)
    assert c.check(entry("delta", 6, 3)).reason == "missing"  # a new epoch must start at n = 0


def test_the_backfill_field_reads_back_and_older_entries_lack_it() -> None:
    """backfill=1 decodes to WireEntry.backfill True; an entry without the field is False."""
    base = {b"v": b"1", b"kind": b"trade", b"epoch": b"1", b"n": b"0", b"data": b"{}"}
    assert wire.decode_entry("1-0", {**base, b"backfill": b"1"}).backfill
    assert not wire.decode_entry("1-1", base).backfill
