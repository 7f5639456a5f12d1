"""Row conversion of the Parquet export: native events, recorded frames and Redis wire entries to
table rows (bpbfx.export.rows, .frames, .wire_rows), without files or sockets."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any

from bpbfx.backpack.decode import decode as bp_decode
from bpbfx.bitfinex.channels import parse_stream
from bpbfx.bitfinex.decode import decode_channel
from bpbfx.export.frames import FrameEvents
from bpbfx.export.report import Problems
from bpbfx.export.rows import EventRows, RecentIds, number
from bpbfx.export.tables import BOOK_DELTAS, BOOK_SNAPSHOTS, COLUMNS, TICKERS, TRADES
from bpbfx.export.wire_rows import WireRows
from bpbfx.sinks import wire
from bpbfx.sinks.reading import Source

RT = 1_767_225_600_000_000  # 2026-01-01 00:00:00 UTC in microseconds


class Rows:
    """An ``emit`` callback keeping rows as dicts by table."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.symbols: list[str] = []

    def __call__(self, table: str, symbol: str, rt: int, rows: list[tuple[Any, ...]]) -> None:
        names = [name for name, _ in COLUMNS[table]]
        for row in rows:
            assert len(row) == len(names)
            self.tables.setdefault(table, []).append(dict(zip(names, row, strict=True)))
            self.symbols.append(symbol)

    def of(self, table: str) -> list[dict[str, Any]]:
        return self.tables.get(table, [])


def bp_event(stream: str, data: dict[str, Any]) -> Any:
    return bp_decode(json.dumps({"stream": stream, "data": data}))


def bf_event(stream: str, msg_type: str | None, payload: Any, first: bool = False, **kw: Any) -> Any:
    return decode_channel(parse_stream(stream), msg_type, payload, first=first, **kw)


# ------------------------------------------------------------------------------------ numbers
def test_number_keeps_the_digits_and_writes_plain_notation() -> None:
    """Decimal text keeps trailing zeros; exponents become plain notation with the same value."""
    assert number(Decimal("149.70")) == "149.70"
    assert number(Decimal("0.00")) == "0.00"
    assert number(Decimal("1E-8")) == "0.00000001"
    assert number(Decimal("0E-8")) == "0.00000000"
    assert number(Decimal("1.5E+3")) == "1500"
    assert number(None) is None


def test_recent_ids_forget_beyond_their_window() -> None:
    """An id is a repeat within the window of the same stream only."""
    recent = RecentIds(size=2)
    assert not recent.seen("a", 1) and recent.seen("a", 1) and not recent.seen("b", 1)
    assert not recent.seen("a", 2) and not recent.seen("a", 3)
    assert not recent.seen("a", 1)  # pushed out of the window


# ------------------------------------------------------------------------------------ Backpack
def test_backpack_trade_row() -> None:
    """A Backpack trade: taker sold when the buyer is the maker; engine time; the exchange's text."""
    out = Rows()
    rows = EventRows("backpack", out)
    data = {"e": "trade", "E": 1790134357267289, "T": 1790134357267074, "s": "SOL_USDC", "p": "149.70",
            "q": "1.600", "t": 42, "m": True, "b": "1", "a": "2"}
    rows.event(bp_event("trade.SOL_USDC", data), RT)
    (row,) = out.of(TRADES)
    assert row == {"stream": "trade.SOL_USDC", "trade_id": 42, "price": "149.70", "amount": "1.600", "side": "sell",
                   "exchange_time": 1790134357267074, "receive_time": RT, "backfill": False, "snapshot": False}
    assert out.symbols == ["SOL_USDC"]


def test_backpack_depth_rows_carry_update_ids() -> None:
    """A Backpack depth delta: one row per level, seq u, prev_seq U - 1, zero sizes as sent."""
    out = Rows()
    rows = EventRows("backpack", out)
    data = {"e": "depth", "E": 2, "T": 1, "s": "SOL_USDC", "U": 11, "u": 13, "b": [["149.1", "0.00"]],
            "a": [["149.5", "2.5"], ["149.6", "1"]]}
    rows.event(bp_event("depth.SOL_USDC", data), RT)
    deltas = out.of(BOOK_DELTAS)
    assert [(r["side"], r["price"], r["amount"]) for r in deltas] == [("bid", "149.1", "0.00"), ("ask", "149.5", "2.5"),
                                                                      ("ask", "149.6", "1")]
    assert {(r["seq"], r["prev_seq"], r["snapshot_id"], r["count"], r["exchange_time"]) for r in deltas} == {
        (13, 10, None, None, 1)}


def test_backpack_ticker_row_holds_what_backpack_sends() -> None:
    """A Backpack ticker fills last/open/high/low/volumes/trades and leaves Bitfinex fields null."""
    out = Rows()
    data = {"e": "ticker", "E": 5, "s": "SOL_USDC", "o": "150.00", "c": "149.93", "h": "150.01", "l": "149.90",
            "v": "84.96", "V": "12741.0307", "n": 13}
    EventRows("backpack", out).event(bp_event("ticker.SOL_USDC", data), RT)
    (row,) = out.of(TICKERS)
    assert (row["last"], row["open"], row["high"], row["low"], row["volume"], row["quote_volume"], row["trades"]) == (
        "149.93", "150.00", "150.01", "149.90", "84.96", "12741.0307", 13)
    assert row["bid"] is None and row["change"] is None and row["exchange_time"] == 5


def test_events_without_a_table_are_counted_by_kind() -> None:
    """bookTicker, markPrice and control events make no rows and are counted."""
    out = Rows()
    rows = EventRows("backpack", out)
    rows.event(bp_event("markPrice.SOL_USDC", {"e": "markPrice", "E": 1, "s": "SOL_USDC", "p": "1", "f": "0.1",
                                               "i": "1", "n": 1}), RT)
    assert out.tables == {} and rows.not_exported == {"MarkPrice": 1}


# ------------------------------------------------------------------------------------ Bitfinex
def test_bitfinex_trades_are_written_once() -> None:
    """te then tu of one trade make one row; a later trades snapshot adds only trades not seen,
    oldest first, flagged snapshot."""
    out = Rows()
    rows = EventRows("bitfinex", out)
    stream = "trades:tBTCUSD"
    rows.event(bf_event(stream, "te", [5, 1755235069543, "-0.00014761", 118950]), RT)
    rows.event(bf_event(stream, "tu", [5, 1755235069543, "-0.00014761", 118950]), RT + 1)
    rows.event(bf_event(stream, None, [[7, 1002, "0.5", 118960], [6, 1001, "0.25", "118955.5"],
                                       [5, 1755235069543, "-0.00014761", 118950]], first=True), RT + 2)
    trades = out.of(TRADES)
    assert [(r["trade_id"], r["price"], r["amount"], r["side"], r["snapshot"]) for r in trades] == [
        (5, "118950", "0.00014761", "sell", False),
        (6, "118955.5", "0.25", "buy", True),
        (7, "118960", "0.5", "buy", True),
    ]
    assert trades[0]["exchange_time"] == 1755235069543000
    assert rows.duplicates == 2


def test_bitfinex_book_snapshot_and_updates() -> None:
    """Sides from the sign, count kept, a deleted level written with amount 0, deltas naming the
    snapshot by its receive time."""
    out = Rows()
    rows = EventRows("bitfinex", out)
    stream = "book:tBTCUSD:P0:F0:25"
    rows.event(bf_event(stream, None, [[118930, 25, "5.63884607"], [118950, 30, "-11.89369917"]], first=True, seq=1),
               RT)
    rows.event(bf_event(stream, None, [118930, 0, 1], seq=2), RT + 10)
    rows.event(bf_event(stream, None, [118960, 2, "-0.5"], seq=3, ts_ms=1700000000123), RT + 20)
    snaps = out.of(BOOK_SNAPSHOTS)
    assert [(r["side"], r["price"], r["amount"], r["count"], r["snapshot_id"], r["seq"]) for r in snaps] == [
        ("bid", "118930", "5.63884607", 25, RT, 1), ("ask", "118950", "11.89369917", 30, RT, 1)]
    deltas = out.of(BOOK_DELTAS)
    assert [(r["side"], r["price"], r["amount"], r["count"], r["snapshot_id"], r["seq"], r["prev_seq"])
            for r in deltas] == [("bid", "118930", "0", 0, RT, 2, None), ("ask", "118960", "0.5", 2, RT, 3, None)]
    assert deltas[1]["exchange_time"] == 1700000000123000
    rows.forget_snapshots([stream])
    rows.event(bf_event(stream, None, [118970, 1, "-1"], seq=4), RT + 30)
    assert out.of(BOOK_DELTAS)[-1]["snapshot_id"] is None


def test_bitfinex_raw_book_rows_carry_order_ids() -> None:
    """Raw books: one row per order with its id; price 0 deletes (written with price and amount 0)."""
    out = Rows()
    rows = EventRows("bitfinex", out)
    stream = "book:tBTCUSD:R0:F0:25"
    rows.event(bf_event(stream, None, [[101, 118930, "0.5"], [102, 118940, "-0.25"]], first=True), RT)
    rows.event(bf_event(stream, None, [101, 0, 1]), RT + 1)
    assert [(r["order_id"], r["side"], r["price"], r["amount"], r["count"]) for r in out.of(BOOK_SNAPSHOTS)] == [
        (101, "bid", "118930", "0.5", None), (102, "ask", "118940", "0.25", None)]
    assert [(r["order_id"], r["side"], r["price"], r["amount"]) for r in out.of(BOOK_DELTAS)] == [
        (101, "bid", "0", "0")]


def test_bitfinex_ticker_row_holds_what_bitfinex_sends() -> None:
    """A Bitfinex ticker fills bid/ask and sizes, change, ratio, last, volume, high, low (no open)."""
    out = Rows()
    payload = [118930, "1.7023900800000002", 118950, "2.25", 920, "0.00781383", 118940, "740.37444605", 119700, 114930]
    EventRows("bitfinex", out).event(bf_event("ticker:tBTCUSD", None, payload), RT)
    (row,) = out.of(TICKERS)
    assert (row["bid"], row["bid_size"], row["ask"], row["ask_size"], row["change"], row["change_ratio"], row["last"],
            row["volume"], row["high"], row["low"]) == ("118930", "1.7023900800000002", "118950", "2.25", "920",
                                                        "0.00781383", "118940", "740.37444605", "119700", "114930")
    assert row["open"] is None and row["trades"] is None and row["exchange_time"] is None


def test_backfill_flag_comes_from_the_caller_or_the_event() -> None:
    """backfill marks trades when the source says so; it defaults to False."""
    out = Rows()
    rows = EventRows("bitfinex", out)
    rows.event(bf_event("trades:tBTCUSD", "te", [1, 1, "1", 2]), RT, backfill=True)
    rows.event(bf_event("trades:tBTCUSD", "te", [2, 1, "1", 2]), RT)
    assert [r["backfill"] for r in out.of(TRADES)] == [True, False]


# ------------------------------------------------------------------------------------ recorded frames
def test_bitfinex_frames_follow_channels_per_socket_and_reconnects() -> None:
    """Channel ids map per socket; after close/open the new subscribe reply and snapshot apply;
    SEQ_ALL numbers are read without being told the flags; a sequence gap is a warning."""
    problems = Problems()
    frames = FrameEvents("bitfinex", problems)
    sub = json.dumps({"event": "subscribed", "channel": "book", "chanId": 7, "symbol": "tBTCUSD", "prec": "P0",
                      "freq": "F0", "len": "25"})
    assert frames.frame(sub, 0, "t:1") is None
    snapshot = frames.frame("[7,[[100,1,1.5],[101,1,-2]],1]", 0, "t:2")
    assert type(snapshot).__name__ == "BookSnapshot" and snapshot.seq == 1  # type: ignore[union-attr]
    update = frames.frame("[7,[100,0,1],2]", 0, "t:3")
    assert type(update).__name__ == "BookUpdate" and update.seq == 2  # type: ignore[union-attr]
    other = frames.frame("[7,[100,2,1]]", 1, "t:4")  # channel 7 is unknown on socket 1
    assert type(other).__name__ == "UnknownEvent"
    frames.frame("[7,[100,3,1],9]", 0, "t:5")
    assert problems.warnings == 1 and "t:5" in problems.messages[0]
    assert frames.lifecycle("close", 0) == ["book:tBTCUSD:P0:F0:25"]
    frames.lifecycle("open", 0)
    frames.frame(sub.replace('"chanId": 7', '"chanId": 8'), 0, "t:6")
    again = frames.frame("[8,[[100,1,1.5]],1]", 0, "t:7")
    assert type(again).__name__ == "BookSnapshot"


def test_backpack_frames_decode_one_by_one() -> None:
    """Backpack frames need no state; error frames are no data."""
    frames = FrameEvents("backpack", Problems())
    data = {"e": "trade", "E": 1, "s": "SOL_USDC", "p": "1", "q": "2", "t": 1, "m": False}
    assert type(frames.frame(json.dumps({"stream": "trade.SOL_USDC", "data": data}), 0, "x")).__name__ == "Trade"
    assert frames.frame('{"id":null,"error":{"code":4006,"message":"Invalid stream"}}', 0, "x") is None


# ------------------------------------------------------------------------------------ Redis wire entries
def wire_entry(kind: str, data: Any, n: int, *, seq: int | None = None, prev: int | None = None,
               stream: str = "book:tBTCUSD:P0:F0:25", epoch: int = 0) -> wire.WireEntry:
    return wire.WireEntry(id=f"1700000000000-{n}", v=1, kind=kind, exchange="bitfinex", stream=stream,
                          symbol="tBTCUSD", epoch=epoch, n=n, seq=seq, prev=prev, exchange_time_us=None,
                          receive_time_us=RT + n, event=wire.event_class_name(kind), data=data)


def test_wire_book_entries_become_snapshot_and_delta_rows() -> None:
    """snapshot/delta entries: levels with seq/prev; deltas name the snapshot; a gap entry is a
    warning after which deltas name none."""
    out, problems = Rows(), Problems()
    rows = WireRows("bitfinex", out, problems)
    src = Source("bpbfx:{bitfinex:book:tBTCUSD:P0:F0:25}", "bitfinex", "book:tBTCUSD:P0:F0:25", threading.RLock())
    rows.entry(src, wire_entry("snapshot", {"b": [["100", "1.5"]], "a": [["101", "2"]]}, 0, seq=5), {})
    rows.entry(src, wire_entry("delta", {"b": [["100", "0"]], "a": []}, 1, seq=6, prev=5), {})
    rows.entry(src, wire_entry("gap", {"reason": "reconnect", "message": "connection lost"}, 2), {})
    rows.entry(src, wire_entry("delta", {"b": [], "a": [["102", "1"]]}, 0, seq=9, prev=8, epoch=1), {})
    assert [(r["side"], r["price"], r["amount"], r["seq"], r["snapshot_id"]) for r in out.of(BOOK_SNAPSHOTS)] == [
        ("bid", "100", "1.5", 5, RT), ("ask", "101", "2", 5, RT)]
    assert [(r["price"], r["amount"], r["seq"], r["prev_seq"], r["snapshot_id"]) for r in out.of(BOOK_DELTAS)] == [
        ("100", "0", 6, 5, RT), ("102", "1", 9, 8, None)]
    assert problems.warnings == 1 and "reconnect" in problems.messages[0]
    assert set(out.symbols) == {"tBTCUSD"}


def test_wire_event_entries_decode_like_frames() -> None:
    """Trade entries decode with the exchange's decoder; a second trade_update of a trade is a
    duplicate; a backfill field marks the trade."""
    out, problems = Rows(), Problems()
    rows = WireRows("bitfinex", out, problems)
    src = Source("bpbfx:{bitfinex:trades:tBTCUSD}", "bitfinex", "trades:tBTCUSD", threading.RLock())
    payload = [9, 1755235069543, "-0.5", "118950.5"]
    rows.entry(src, wire_entry("trade_update", payload, 0, stream="trades:tBTCUSD"), {b"backfill": b"1"})
    rows.entry(src, wire_entry("trade_update", payload, 1, stream="trades:tBTCUSD"), {})
    rows.entry(src, wire_entry("trade_update", "garbage", 2, stream="trades:tBTCUSD"), {})
    (trade,) = out.of(TRADES)
    assert (trade["trade_id"], trade["price"], trade["amount"], trade["side"], trade["backfill"]) == (
        9, "118950.5", "0.5", "sell", True)
    assert rows.events.duplicates == 1 and problems.skipped == {"malformed entry": 1}

    bp_rows = WireRows("backpack", out, problems)
    bp_src = Source("bpbfx:{backpack:trade.SOL_USDC}", "backpack", "trade.SOL_USDC", threading.RLock())
    data = {"e": "trade", "E": 1, "T": 1, "s": "SOL_USDC", "p": "149.70", "q": "2", "t": 3, "m": False}
    bp_rows.entry(bp_src, wire_entry("trade", data, 0, stream="trade.SOL_USDC"), {})
    assert out.of(TRADES)[-1]["price"] == "149.70" and out.of(TRADES)[-1]["side"] == "buy"
