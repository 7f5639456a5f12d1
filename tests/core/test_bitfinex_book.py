"""Tests for Bitfinex book state and checksums (bpbfx.bitfinex.book, bpbfx.bitfinex.checksum)."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest

from bpbfx.bitfinex.book import BitfinexBook, BookEntry
from bpbfx.bitfinex.checksum import book_checksum, checksum_of_texts, js_number_text, signed_crc32, wire_text
from bpbfx.book import ZERO, BookSide, Level, LevelChange
from bpbfx.exceptions import ChecksumMismatchError, ConfigurationError, MalformedFrameError
from tests.support import DATA as RECORDED

DATA = RECORDED / "bitfinex"
D = Decimal
decode = json.JSONDecoder(parse_float=str).decode


# -- helpers -----------------------------------------------------------------------------------------


class RefTradingBook:
    """An independent P-book model: plain dicts of raw tokens, sorted only when a checksum is asked."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, tuple[Any, Any, Any]] = {}
        self.asks: dict[Decimal, tuple[Any, Any, Any]] = {}

    def snapshot(self, entries: Sequence[Sequence[Any]]) -> None:
        self.bids.clear()
        self.asks.clear()
        for entry in entries:
            self.update(entry)

    def update(self, entry: Sequence[Any]) -> None:
        price, count, amount = entry[0], entry[1], entry[2]
        key = D(str(price))
        side = self.bids if D(str(amount)) > 0 else self.asks
        if count == 0:
            side.pop(key, None)
        else:
            side[key] = (price, count, amount)

    def levels(self) -> tuple[list[Level], list[Level]]:
        bids = [Level(k, abs(D(str(v[2])))) for k, v in sorted(self.bids.items(), reverse=True)]
        asks = [Level(k, abs(D(str(v[2])))) for k, v in sorted(self.asks.items())]
        return bids, asks

    def checksum(self) -> int:
        bids = [(v[0], v[2]) for _, v in sorted(self.bids.items(), reverse=True)]
        asks = [(v[0], v[2]) for _, v in sorted(self.asks.items())]
        return book_checksum(bids, asks)


def vectors() -> list[dict[str, Any]]:
    return list(json.loads((DATA / "checksum_vectors.json").read_text())["vectors"])


_RECEIVED = re.compile(r"^(?:\S+ -> )?\d+(?:\.\d+)?: (.*)$")


def cryptofeed_frames() -> Iterator[str]:
    """Received frame texts of the SEQ_ALL recording, with the URL/time prefix removed."""
    for line in (DATA / "cryptofeed_ws_seq_all.txt").read_text().splitlines():
        if " <- " in line or " <-> " in line:
            continue  # frames we sent
        match = _RECEIVED.match(line)
        if match:
            yield match.group(1)


def book_channels(frames: Sequence[Any]) -> dict[int, dict[str, Any]]:
    return {
        msg["chanId"]: msg
        for msg in frames
        if isinstance(msg, dict) and msg.get("event") == "subscribed" and msg.get("channel") == "book"
    }


def assert_sane(book: BitfinexBook, length: int) -> None:
    view = book.book
    assert not view.is_crossed()
    bids, asks = view.bids(), view.asks()
    assert len(bids) <= length and len(asks) <= length
    assert all(lv.size > 0 for lv in bids + asks)
    assert all(lv.price > 0 for lv in bids + asks)


# -- checksum vectors --------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", vectors(), ids=lambda v: str(v["symbol"]))
def test_checksum_vectors_reproduced_from_frames(vector: dict[str, Any]) -> None:
    """Feeding the vector's frames through BitfinexBook gives exactly the recorded cs value."""
    book = BitfinexBook(vector["symbol"])
    checked = 0
    for text in vector["frames"]:
        msg = decode(text)
        assert msg[0] == vector["chanId"]
        body = msg[1]
        if body == "cs":
            assert book.checksum() == msg[2] == vector["checksum"]
            book.verify(msg[2])
            checked += 1
        elif isinstance(body[0], list):
            book.apply_snapshot(body)
        else:
            book.apply_update(body)
    assert checked == 1
    assert book.valid


@pytest.mark.parametrize("vector", vectors(), ids=lambda v: str(v["symbol"]))
def test_checksum_vectors_with_float_decoding(vector: dict[str, Any]) -> None:
    """Frames decoded with floats give the same checksum through JavaScript number formatting."""
    book = BitfinexBook(vector["symbol"])
    for text in vector["frames"]:
        msg = json.loads(text)
        if msg[1] == "cs":
            assert book.checksum() == msg[2]
        elif isinstance(msg[1][0], list):
            book.apply_snapshot(msg[1])
        else:
            book.apply_update(msg[1])


@pytest.mark.parametrize("vector", vectors(), ids=lambda v: str(v["symbol"]))
def test_book_checksum_function_matches_vectors(vector: dict[str, Any]) -> None:
    """book_checksum over an independently maintained book reproduces each vector."""
    ref = RefTradingBook()
    for text in vector["frames"][:-1]:
        body = decode(text)[1]
        if isinstance(body[0], list):
            ref.snapshot(body)
        else:
            ref.update(body)
    assert ref.checksum() == vector["checksum"]


def test_checksum_needs_exact_wire_text() -> None:
    """Writing 7e-7 as 0.0000007 changes the checksum: the server's text matters."""
    assert book_checksum([("7e-7", 1)], [("8e-7", -1)]) != book_checksum([("0.0000007", 1)], [("0.0000008", -1)])
    assert book_checksum([(7e-7, 1)], [(8e-7, -1)]) == book_checksum([("7e-7", 1)], [("8e-7", -1)])


def test_checksum_interleaves_and_short_side_contributes_what_it_has() -> None:
    """The checksummed text is bid0:ask0:bid1:ask1... then the rest of the longer side, top 25 only."""
    bids = [(100 - i, 1) for i in range(30)]
    asks = [(200 + i, "-0.5") for i in range(2)]
    text = "100:1:200:-0.5:99:1:201:-0.5:" + ":".join(f"{100 - i}:1" for i in range(2, 25))
    assert book_checksum(bids, asks) == signed_crc32(text.encode())
    assert book_checksum(asks[:1], []) == signed_crc32(b"200:-0.5")
    assert book_checksum([], []) == 0
    assert checksum_of_texts(["1:2"], ["3:-4", "5:-6"]) == signed_crc32(b"1:2:3:-4:5:-6")


def test_signed_crc32_is_signed() -> None:
    """CRC32 values with the top bit set come back negative, as Bitfinex sends them."""
    assert zlib.crc32(b"a") > 0x7FFF_FFFF
    assert signed_crc32(b"a") == zlib.crc32(b"a") - 2**32
    assert signed_crc32(b"abc") == zlib.crc32(b"abc")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (7e-7, "7e-7"),
        (1e-8, "1e-8"),
        (6.6e-7, "6.6e-7"),
        (0.000001, "0.000001"),
        (0.0000886, "0.0000886"),
        (118940.0, "118940"),
        (-0.00114761, "-0.00114761"),
        (1e21, "1e+21"),
        (1.5e22, "1.5e+22"),
        (123456789012345680000.0, "123456789012345680000"),
        (19203.444049780002, "19203.444049780002"),
        (-0.0, "0"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_js_number_text(value: float, text: str) -> None:
    """Floats are written the way JavaScript's String(Number) writes them."""
    assert js_number_text(value) == text


def test_wire_text_tokens() -> None:
    """wire_text keeps str tokens, prints ints and formats floats like JavaScript; junk raises."""
    assert wire_text("1.14244423") == "1.14244423"
    assert wire_text(-1) == "-1"
    assert wire_text(1e-8) == "1e-8"
    with pytest.raises(TypeError):
        wire_text(None)
    with pytest.raises(TypeError):
        wire_text(True)


def test_verify_mismatch_raises_and_invalidates_until_new_snapshot() -> None:
    """A wrong cs raises ChecksumMismatchError(expected, got) and the book stays invalid until a snapshot."""
    vector = vectors()[0]
    frames = [decode(t) for t in vector["frames"]]
    book = BitfinexBook(vector["symbol"], stream="book:tXRPBTC")
    book.apply_snapshot(frames[0][1])
    assert book.valid and book.book.snapshot().valid
    local = book.checksum()
    with pytest.raises(ChecksumMismatchError) as info:
        book.verify(local + 1)
    err = info.value
    assert (err.expected, err.got, err.symbol, err.stream) == (local + 1, local, "tXRPBTC", "book:tXRPBTC")
    assert not book.valid
    assert book.book.snapshot().valid is False
    book.apply_update(frames[1][1])
    assert not book.valid
    book.apply_snapshot(frames[0][1])
    assert book.valid


# -- recorded traffic --------------------------------------------------------------------------------


def test_recorded_btcusd_p0_book_replays_sane_and_matches_reference() -> None:
    """The recorded tBTCUSD P0 len 25 book never crosses, keeps sane sizes and matches a reference model."""
    frames = [decode(line) for line in (DATA / "bbgo_ws_public.jsonl").read_text().splitlines() if line.strip()]
    (chan_id, sub), *_ = [(c, s) for c, s in book_channels(frames).items() if s["symbol"] == "tBTCUSD"]
    assert sub["prec"] == "P0" and sub["len"] == "25"
    book = BitfinexBook("tBTCUSD", sub["prec"], sub["len"])
    ref = RefTradingBook()
    updates = 0
    for msg in frames:
        if not isinstance(msg, list) or msg[0] != chan_id or not isinstance(msg[1], list):
            continue
        if isinstance(msg[1][0], list):
            book.apply_snapshot(msg[1])
            ref.snapshot(msg[1])
        else:
            book.apply_update(msg[1])
            ref.update(msg[1])
            updates += 1
        assert_sane(book, 25)
        assert all(lv.size < 1000 for lv in book.book.bids() + book.book.asks())
        assert book.checksum() == ref.checksum()
    assert updates > 3000
    assert (book.book.bids(), book.book.asks()) == ref.levels()
    assert len(book.book.bids()) == len(book.book.asks()) == 25
    assert D(100_000) < book.book.mid() < D(130_000)  # type: ignore[operator]
    assert all(e.order_count and e.order_count > 0 for e in book.entries("bid") + book.entries("ask"))


def test_recorded_seq_all_len100_books_replay_sane() -> None:
    """The SEQ_ALL recording's P0 len 100 books (sequence stripped) replay uncrossed and match a reference."""
    frames = [decode(text) for text in cryptofeed_frames()]
    arrays = [msg for msg in frames if isinstance(msg, list)]
    seqs = [msg[-1] for msg in arrays]
    assert seqs == list(range(1, len(arrays) + 1))  # SEQ_ALL: every array frame, from 1
    channels = book_channels(frames)
    assert len(channels) >= 5
    books = {c: BitfinexBook(s["symbol"], s["prec"], s["len"]) for c, s in channels.items()}
    refs = {c: RefTradingBook() for c in channels}
    updates = 0
    for msg in arrays:
        chan_id, body, seq = msg[0], msg[1], msg[-1]
        if chan_id not in books or not isinstance(body, list):
            continue
        book, ref = books[chan_id], refs[chan_id]
        if body and isinstance(body[0], list):
            book.apply_snapshot(body, seq=seq)
            ref.snapshot(body)
        else:
            book.apply_update(body, seq=seq)
            ref.update(body)
            updates += 1
        assert book.book.update_id == seq
        assert_sane(book, 100)
        assert book.checksum() == ref.checksum()
    assert updates > 1000
    for chan_id, book in books.items():
        assert book.valid
        assert (book.book.bids(), book.book.asks()) == refs[chan_id].levels()
    assert max(len(b.book.bids()) for b in books.values()) == 100


def test_recorded_funding_book_replays_and_aggregates_by_rate() -> None:
    """The recorded fUST P0 book keys entries by (rate, period) and shows per-rate totals."""
    frames = [decode(line) for line in (DATA / "bbgo_ws_public.jsonl").read_text().splitlines() if line.strip()]
    (chan_id, sub), *_ = [(c, s) for c, s in book_channels(frames).items() if s["symbol"] == "fUST"]
    book = BitfinexBook(sub["symbol"], sub["prec"], sub["len"])
    assert book.is_funding
    ref: dict[tuple[Decimal, int], Any] = {}
    for msg in frames:
        if not isinstance(msg, list) or msg[0] != chan_id or not isinstance(msg[1], list):
            continue
        entries = msg[1] if isinstance(msg[1][0], list) else [msg[1]]
        if entries is msg[1]:
            book.apply_snapshot(entries)
            ref.clear()
        else:
            book.apply_update(entries[0])
        for rate, period, count, amount in entries:
            if count == 0:
                ref.pop((D(rate), period), None)
            else:
                ref[(D(rate), period)] = (rate, amount)
        totals: dict[tuple[bool, Decimal], Decimal] = {}
        for (rate_d, _), (_, amount) in ref.items():
            key = (D(str(amount)) < 0, rate_d)  # funding: AMOUNT < 0 is a bid
            totals[key] = totals.get(key, ZERO) + abs(D(str(amount)))
        assert {(True, lv.price): lv.size for lv in book.book.bids()} | {
            (False, lv.price): lv.size for lv in book.book.asks()
        } == totals
        bids = sorted(((k, v) for k, v in ref.items() if D(str(v[1])) < 0), reverse=True)
        asks = sorted((k, v) for k, v in ref.items() if D(str(v[1])) > 0)
        assert book.checksum() == book_checksum([v for _, v in bids], [v for _, v in asks])
    assert book.valid
    top = book.entries("bid", 2)
    assert top[0].period is not None and top[0].amount < 0 and top[0].order_count


# -- constructed frames: funding and raw books -------------------------------------------------------


def test_funding_p_book_keys_by_rate_and_period() -> None:
    """Funding entries at one rate but different periods are separate entries, summed per rate."""
    book = BitfinexBook("fUSD", "P0", 25)
    book.apply_snapshot(
        decode("[[0.0002,30,1,-100],[0.0002,2,2,-50.5],[0.00019,120,1,-10],[0.00021,2,1,300],[0.00022,7,3,1e-8]]")
    )
    assert book.book.bids() == [Level(D("0.0002"), D("150.5")), Level(D("0.00019"), D("10"))]
    assert book.book.asks() == [Level(D("0.00021"), D("300")), Level(D("0.00022"), D("1E-8"))]
    expected = book_checksum(
        [("0.0002", -100), ("0.0002", "-50.5"), ("0.00019", -10)], [("0.00021", 300), ("0.00022", "1e-8")]
    )
    assert book.checksum() == expected
    changes = book.apply_update(decode("[0.0002,30,0,-1]"))  # COUNT == 0 deletes (rate, period)
    assert changes == (LevelChange(BookSide.BID, D("0.0002"), D("150.5"), D("50.5")),)
    assert book.entries("bid") == [
        BookEntry(D("0.0002"), D("-50.5"), 2, 2, None),
        BookEntry(D("0.00019"), D("-10"), 1, 120, None),
    ]
    book.apply_update(decode("[0.0002,2,0,-1]"))
    assert book.book.best_bid() == Level(D("0.00019"), D("10"))
    assert book.apply_update(decode("[0.0005,2,0,1]")) == ()


def test_raw_trading_book_orders_aggregate_per_price() -> None:
    """R0 orders sum per price, move and delete by id (PRICE == 0), and checksum by id in price-then-id order."""
    book = BitfinexBook("tBTCUSD", "R0", 25)
    book.apply_snapshot(decode("[[11,100,0.5],[10,100,0.25],[12,99.5,1],[20,101,-0.3],[21,101,-0.2],[22,102,-1]]"))
    assert book.is_raw and book.valid
    assert book.book.bids() == [Level(D("100"), D("0.75")), Level(D("99.5"), D("1"))]
    assert book.book.asks() == [Level(D("101"), D("0.5")), Level(D("102"), D("1"))]
    # bids: price desc, then id asc; asks: price asc, then id asc
    assert book.checksum() == book_checksum(
        [(10, "0.25"), (11, "0.5"), (12, 1)], [(20, "-0.3"), (21, "-0.2"), (22, -1)]
    )
    assert book.apply_update(decode("[11,100,0.1]")) == (LevelChange(BookSide.BID, D(100), D("0.75"), D("0.35")),)
    moved = book.apply_update(decode("[10,99.5,0.25]"))
    assert moved == (
        LevelChange(BookSide.BID, D(100), D("0.35"), D("0.1")),
        LevelChange(BookSide.BID, D("99.5"), D(1), D("1.25")),
    )
    assert book.order(10) == BookEntry(D("99.5"), D("0.25"), None, None, 10)
    deleted = book.apply_update(decode("[20,0,-0.3]"))
    assert deleted == (LevelChange(BookSide.ASK, D(101), D("0.5"), D("0.2")),)
    assert book.order(20) is None
    assert book.apply_update(decode("[20,0,-0.3]")) == ()
    assert book.checksum() == book_checksum([(11, "0.1"), (10, "0.25"), (12, 1)], [(21, "-0.2"), (22, -1)])
    book.apply_update(decode("[11,0,1]"))
    assert book.book.bids() == [Level(D("99.5"), D("1.25"))]
    assert not book.book.is_crossed()
    assert [e.order_id for e in book.entries("bid")] == [10, 12]


def test_raw_funding_book_offers() -> None:
    """Funding R0 offers ([ID,PERIOD,RATE,AMOUNT]) aggregate per rate; RATE == 0 deletes; AMOUNT < 0 bids."""
    book = BitfinexBook("fUSD", "R0", 25)
    book.apply_snapshot(decode("[[5,30,0.0003,-100],[6,2,0.0003,-50],[7,2,0.0001,200],[8,7,0.00011,25.5]]"))
    assert book.book.bids() == [Level(D("0.0003"), D("150"))]
    assert book.book.asks() == [Level(D("0.0001"), D("200")), Level(D("0.00011"), D("25.5"))]
    assert book.checksum() == book_checksum([(5, -100), (6, -50)], [(7, 200), (8, "25.5")])
    assert book.order(6) == BookEntry(D("0.0003"), D(-50), None, 2, 6)
    book.apply_update(decode("[5,30,0,-100]"))
    assert book.book.bids() == [Level(D("0.0003"), D("50"))]
    assert book.checksum() == book_checksum([(6, -50)], [(7, 200), (8, "25.5")])


# -- updates, bulk, limits, errors -------------------------------------------------------------------


def test_p_book_update_changes_and_deletes() -> None:
    """COUNT > 0 sets a level (AMOUNT sign picks the side); COUNT == 0 deletes (AMOUNT 1 bid, -1 ask)."""
    book = BitfinexBook("tBTCUSD")
    book.apply_snapshot(decode("[[100,1,2],[99,2,3],[101,1,-4],[102,3,-5]]"), seq=7)
    assert book.book.update_id == 7
    assert book.apply_update(decode("[100,2,2.5]"), seq=8) == (LevelChange(BookSide.BID, D(100), D(2), D("2.5")),)
    assert book.book.update_id == 8
    assert book.apply_update(decode("[101,0,-1]")) == (LevelChange(BookSide.ASK, D(101), D(4), ZERO),)
    assert book.apply_update(decode("[99,0,-1]")) == ()  # -1 names the ask side: no such ask
    assert book.apply_update(decode("[99,0,1]")) == (LevelChange(BookSide.BID, D(99), D(3), ZERO),)
    assert book.entries("ask") == [BookEntry(D(102), D(-5), 3)]


def test_bulk_update_equals_one_by_one() -> None:
    """apply_bulk gives the same book, checksum and changes as applying the entries in order."""
    snapshot = decode("[[100,1,2],[99,2,3],[101,1,-4],[102,3,-5]]")
    batch = decode("[[100,0,1],[98,1,7],[101,2,-4.5],[103,1,-1e-8]]")
    one, bulk = BitfinexBook("tX"), BitfinexBook("tX")
    one.apply_snapshot(snapshot)
    bulk.apply_snapshot(snapshot)
    singles = [change for entry in batch for change in one.apply_update(entry)]
    assert bulk.apply_bulk(batch, seq=3) == singles
    assert bulk.checksum() == one.checksum()
    assert bulk.book.snapshot().bids == one.book.snapshot().bids
    assert bulk.book.update_id == 3


def test_level_moving_sides_never_crosses() -> None:
    """A price that reappears on the other side leaves its old side (a P level has one side)."""
    book = BitfinexBook("tX")
    book.apply_snapshot(decode("[[100,1,2],[101,1,-4],[102,1,-1]]"))
    changes = book.apply_update(decode("[101,1,0.5]"))
    assert LevelChange(BookSide.ASK, D(101), D(4), ZERO) in changes
    assert not book.book.is_crossed()
    assert book.book.best_bid() == Level(D(101), D("0.5"))
    assert book.checksum() == book_checksum([(101, "0.5"), (100, 2)], [(102, -1)])


def test_side_is_trimmed_to_subscribed_length() -> None:
    """An insert beyond len drops the worst level; the server's later delete of it is a no-op."""
    book = BitfinexBook("tX", "P1", 1)
    book.apply_snapshot(decode("[[10,1,1],[11,1,-1]]"))
    changes = book.apply_update(decode("[10.5,1,2]"))
    assert changes == (LevelChange(BookSide.BID, D("10.5"), ZERO, D(2)), LevelChange(BookSide.BID, D(10), D(1), ZERO))
    assert book.book.bids() == [Level(D("10.5"), D(2))]
    assert book.apply_update(decode("[10,0,1]")) == ()
    assert book.checksum() == book_checksum([("10.5", 2)], [(11, -1)])


@pytest.mark.parametrize("entry", ['["x",1,1]', "[100]", "[100,null,1]", '[100,1,"abc"]', "[100,-1,1]"])
def test_malformed_entry_raises_and_invalidates(entry: str) -> None:
    """An entry that cannot be understood raises MalformedFrameError and marks the book invalid."""
    book = BitfinexBook("tX")
    book.apply_snapshot(decode("[[100,1,2],[101,1,-4]]"))
    with pytest.raises(MalformedFrameError):
        book.apply_update(decode(entry))
    assert not book.valid


def test_malformed_snapshot_leaves_empty_invalid_book() -> None:
    """A snapshot with a broken entry raises MalformedFrameError and leaves the book empty and invalid."""
    book = BitfinexBook("tX")
    with pytest.raises(MalformedFrameError):
        book.apply_snapshot(decode('[[100,1,2],["?",1,-4]]'))
    assert not book.valid and len(book.book) == 0


@pytest.mark.parametrize(("prec", "length"), [("P5", 25), ("F0", 25), ("P0", 50), ("R0", "x"), ("P0", True)])
def test_bad_subscription_parameters_raise(prec: str, length: Any) -> None:
    """Unknown precision or length raises ConfigurationError naming the valid values."""
    with pytest.raises(ConfigurationError):
        BitfinexBook("tBTCUSD", prec, length)


def test_clear_resets_everything() -> None:
    """clear() empties every structure, so the checksum is that of an empty book."""
    book = BitfinexBook("tX", "R0")
    book.apply_snapshot(decode("[[1,100,1],[2,101,-1]]"))
    book.clear()
    assert not book.valid and len(book.book) == 0 and book.checksum() == 0 and book.order(1) is None
