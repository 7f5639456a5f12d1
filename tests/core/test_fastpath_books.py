"""The cheaper event and book construction: exact Decimals from the wire text, the same frozen
events as the plain constructors, validation unchanged, and bounded number caches."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from bpbfx.backpack import decode as bp_protocol
from bpbfx.bitfinex import book as bf_book
from bpbfx.bitfinex import decode as bf_decode
from bpbfx.bitfinex.book import BitfinexBook
from bpbfx.bitfinex.events import BookEntry, new_book_entry
from bpbfx.exceptions import MalformedFrameError


def test_new_book_entry_equals_the_constructor_and_stays_frozen() -> None:
    """new_book_entry builds an entry equal (value, hash, repr) to BookEntry(...), still frozen."""
    fast = new_book_entry(Decimal("7e-7"), 3, Decimal("-0.5"))
    slow = BookEntry(price=Decimal("7e-7"), count=3, amount=Decimal("-0.5"))
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert fast.side == "ask" and not fast.is_delete
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.price = Decimal(1)  # type: ignore[misc]


def test_bitfinex_book_entries_keep_the_exact_text_value() -> None:
    """Decoded book entries hold Decimal(text) exactly, the same for repeated texts."""
    for _ in range(2):
        entry = bf_decode._book_entry(["0.00001234", 2, "-12.50"])
        assert entry.price == Decimal("0.00001234") and str(entry.price) == "0.00001234"
        assert str(entry.amount) == "-12.50" and entry.count == 2
    assert bf_decode._book_entry([118900, 1, 1]).price == Decimal(118900)


@pytest.mark.parametrize("bad", [["NaN", 1, "1"], ["1", 1, "Infinity"], ["1", True, "1"], [True, 1, "1"]])
def test_bitfinex_book_entry_validation_is_unchanged_after_caching(bad: list[object]) -> None:
    """Non-finite numbers and booleans are refused even after valid texts were cached."""
    bf_decode._book_entry(["1", 1, "1"])
    with pytest.raises((TypeError, ValueError)):
        bf_decode._book_entry(bad)


def test_backpack_levels_exact_and_validated_after_caching() -> None:
    """Backpack levels are exact Decimals; bad prices/quantities raise even when cached texts exist."""
    rows = [["86700.0", "0.00"], ["86700", "1.50000"]]
    for _ in range(2):
        levels = bp_protocol._levels(rows, "bid")
        assert levels == ((Decimal("86700.0"), Decimal(0)), (Decimal("86700"), Decimal("1.5")))
        assert str(levels[1][1]) == "1.50000"
    for bad in (["0", "1"], ["-1", "1"], ["NaN", "1"], ["1", "-0.1"], ["1", "Infinity"]):
        with pytest.raises(ValueError):
            bp_protocol._levels([bad], "ask")
    assert "0" not in bp_protocol._PRICES and "NaN" not in bp_protocol._PRICES and "-0.1" not in bp_protocol._QTYS


def test_number_caches_stay_bounded() -> None:
    """However many distinct texts arrive, the caches never exceed their limit."""
    book = BitfinexBook("tBTCUSD", "P0", 25)
    book.apply_snapshot([["1", 1, "1"], ["2", 1, "-1"]])
    for i in range(bp_protocol._CACHE_MAX + 500):
        text = f"{i + 1}.{i % 7}"
        bp_protocol._levels([[text, text]], "bid")
        bf_decode._book_entry([text, 1, text])
        book.apply_update([text, 0, "1"])
    assert len(bp_protocol._PRICES) <= bp_protocol._CACHE_MAX and len(bp_protocol._QTYS) <= bp_protocol._CACHE_MAX
    assert len(bf_decode._BOOK_NUMS) <= bf_decode._CACHE_MAX
    assert len(bf_book._PRICES) <= bf_book._CACHE_MAX and len(bf_book._SIZES) <= bf_book._CACHE_MAX


def test_bitfinex_book_refuses_bad_prices_after_caching() -> None:
    """A cached valid price does not let a non-finite or non-positive one through the book."""
    book = BitfinexBook("tBTCUSD", "P0", 25)
    book.apply_snapshot([["100", 1, "2"], ["101", 1, "-2"]])
    book.apply_update(["100", 2, "3"])
    for bad in (["NaN", 1, "1"], ["-5", 1, "1"], ["100", 1, "Infinity"]):
        fresh = BitfinexBook("tBTCUSD", "P0", 25)
        fresh.apply_snapshot([["100", 1, "2"], ["101", 1, "-2"]])
        with pytest.raises(MalformedFrameError):
            fresh.apply_update(bad)
        assert not fresh.valid


def test_positional_factory_builds_what_the_constructor_builds() -> None:
    """positional_factory(cls)(*fields) equals cls(**fields), init=False defaults included."""
    from bpbfx.bitfinex.events import TradeEntry as BfTrade
    from bpbfx.bitfinex.events import TradeUpdate
    from bpbfx.events import positional_factory

    trade = BfTrade(id=1, mts=2, amount=Decimal("-0.5"), price=Decimal("7e-7"))
    made = positional_factory(TradeUpdate)("trades:tBTCUSD", "tBTCUSD", [17, "te"], trade, "executed", 9, None)
    assert made == TradeUpdate(
        stream="trades:tBTCUSD", symbol="tBTCUSD", data=[17, "te"], trade=trade, kind="executed", seq=9
    )
    assert made.snapshot is False and made.data == [17, "te"] and made.executed
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.seq = 1  # type: ignore[misc]


def test_positional_factory_refuses_classes_it_cannot_build() -> None:
    """A class that is not a slotted dataclass (or has __post_init__) is refused."""
    from bpbfx.events import positional_factory

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (NoSlots, Checked, int):
        with pytest.raises(TypeError):
            positional_factory(cls)


def test_decoded_trades_match_the_keyword_constructors() -> None:
    """Backpack and Bitfinex trades decoded through the factories equal keyword-built events."""
    from bpbfx.backpack.events import Trade as BpTrade

    d = {
        "e": "trade",
        "E": 1700,
        "s": "SOL_USDC",
        "p": "150.10",
        "q": "0.020",
        "b": 5,
        "a": "6",
        "t": 77,
        "T": 1600,
        "m": True,
    }
    got = bp_protocol._trade("trade.SOL_USDC", "SOL_USDC", d)
    assert got == BpTrade(
        stream="trade.SOL_USDC",
        symbol="SOL_USDC",
        data=d,
        trade_id=77,
        price=Decimal("150.10"),
        quantity=Decimal("0.020"),
        buyer_is_maker=True,
        buy_order_id="5",
        sell_order_id="6",
        event_time_us=1700,
        engine_time_us=1600,
    )
    assert str(got.price) == "150.10" and got.data is d


# -- one-pass BULK frames (BitfinexBook.decode_apply_bulk) and quiet Backpack deltas -----------


def _bulk_frames(seed: int, frames: int) -> list[list[list[object]]]:
    """Seeded BULK batches over a small price grid: sets (int and text tokens, repeated so the
    token caches are hit), deletes of present and absent levels, side moves and inserts beyond
    ``len`` (the book is subscribed with len=25 and the grid has 40 prices per side)."""
    import random

    rng = random.Random(seed)
    out: list[list[list[object]]] = []
    for _ in range(frames):
        batch: list[list[object]] = []
        for _ in range(rng.randint(1, 50)):
            level = rng.randrange(80)
            price: object = 1000 + level if rng.random() < 0.5 else f"{1000 + level}.5"
            ask = level >= 40 if rng.random() < 0.9 else level < 40  # sometimes the other side
            if rng.random() < 0.2:
                batch.append([price, 0, -1 if ask else 1])
            else:
                amount = f"{rng.choice(['0.1', '0.25', '1.5', '3', '0.00001'])}"
                token: object = int(amount) if amount.isdigit() and rng.random() < 0.5 else amount
                signed = f"-{token}" if ask and isinstance(token, str) else (-token if ask else token)  # type: ignore[operator]
                batch.append([price, rng.randint(1, 4), signed])
        out.append(batch)
    return out


def test_decode_apply_bulk_equals_the_decoder_and_apply_bulk() -> None:
    """One pass gives the events' entries decode_channel builds and the book, checksum texts
    and changes apply_bulk gives; with changes=False the same book and no changes."""
    from bpbfx.bitfinex.channels import subscription

    sub = subscription("book", symbol="tBTCUSD", prec="P0", freq="F0", len=25)
    snapshot: list[object] = [[1000 + i, 1, "2"] for i in range(20)] + [[1040 + i, 1, "-2"] for i in range(20)]
    fused, reference, quiet = (BitfinexBook("tBTCUSD", "P0", 25) for _ in range(3))
    for book in (fused, reference, quiet):
        book.apply_snapshot(snapshot, seq=1)
    for seq, batch in enumerate(_bulk_frames(7, 400), start=2):
        entries, changes = fused.decode_apply_bulk(batch, seq=seq)
        event = bf_decode.decode_channel(sub, None, batch, first=False, seq=seq, ts_ms=None)
        assert entries == event.entries  # type: ignore[attr-defined]
        assert all(type(e) is BookEntry for e in entries)
        assert [str(e.amount) for e in entries] == [str(e.amount) for e in event.entries]  # type: ignore[attr-defined]
        assert changes == reference.apply_bulk(batch, seq=seq)
        assert quiet.decode_apply_bulk(batch, seq=seq, changes=False)[1] == []
        for book in (fused, quiet):
            assert book._bid_texts == reference._bid_texts and book._ask_texts == reference._ask_texts
            assert book.book.snapshot() == reference.book.snapshot()
            assert book.checksum() == reference.checksum() and book.book.update_id == seq
    assert fused.valid and quiet.valid


@pytest.mark.parametrize(
    "bad",
    [
        [True, 1, "0.25"],  # a boolean PRICE equals the integer price 1 (never cached for that reason)
        [1, True, "0.25"],
        [1, 1, True],
        [1, -1, "0.25"],
        [1, 1, "NaN"],
        ["NaN", 1, "0.25"],
        [-1, 1, "0.25"],
        [1, 1, "0"],
        [1, 1],
        "1,1",
        {"a": 1, "b": 1, "c": 1},
        None,
    ],
)
def test_decode_apply_bulk_refuses_bad_entries_after_caching(bad: object) -> None:
    """Entries the checked path refuses are refused in a BULK frame too, also after valid
    tokens are cached; the book is left invalid."""
    book = BitfinexBook("tX", "P0", 25)
    book.apply_snapshot([[1, 1, "0.25"], [2, 1, "-0.25"]])
    book.decode_apply_bulk([[1, 2, "0.25"], [1, 3, 1], [2, 1, "-0.25"]])  # caches 1, 2, "0.25", 1, "-0.25"
    with pytest.raises(MalformedFrameError):
        book.decode_apply_bulk([[2, 2, "-0.25"], bad])
    assert not book.valid


def test_decode_apply_bulk_ignores_appended_fields_and_refuses_other_books() -> None:
    """Fields Bitfinex may append to an entry are ignored (as in apply_update); raw and funding
    books are not decoded this way."""
    book = BitfinexBook("tX", "P0", 25)
    book.apply_snapshot([[1, 1, "0.25"], [2, 1, "-0.25"]])
    entries, _ = book.decode_apply_bulk([[1, 2, "0.5", 99]])
    assert entries == (BookEntry(price=Decimal(1), count=2, amount=Decimal("0.5")),)
    assert book.book.best_bid() is not None and book.book.best_bid().size == Decimal("0.5")  # type: ignore[union-attr]
    from bpbfx.exceptions import ConfigurationError

    for other in (BitfinexBook("tX", "R0", 25), BitfinexBook("fUSD", "P0", 25)):
        with pytest.raises(ConfigurationError):
            other.decode_apply_bulk([[1, 1, "1"]])


def test_bulk_token_caches_stay_bounded() -> None:
    """However many distinct tokens BULK frames carry, the token caches stay under their limit."""
    book = BitfinexBook("tX", "P0", 250)
    book.apply_snapshot([[1, 1, "1"], [2, 1, "-1"]])
    for i in range(0, bf_book._CACHE_MAX + 500, 50):
        book.decode_apply_bulk([[f"{i + j + 3}.5", 1, f"{i + j}.25"] for j in range(50)])
    assert len(bf_book._PRICE_TOKENS) <= bf_book._CACHE_MAX and len(bf_book._AMOUNT_TOKENS) <= bf_book._CACHE_MAX


@pytest.mark.parametrize("rows", [["12"], [{"1": 0, "2": 0}], "12", [["1", "2", "3"]], [["1"]], {"1": "2"}])
def test_backpack_levels_refuse_rows_that_are_not_pairs(rows: object) -> None:
    """A level must be a [price, quantity] list: strings or objects that would unpack into two
    cached texts are refused, not read as a level."""
    bp_protocol._levels([["1", "2"], ["2", "1"]], "bid")  # "1" and "2" are cached prices/quantities
    with pytest.raises(ValueError):
        bp_protocol._levels(rows, "bid")


def test_backpack_quiet_delta_equals_on_delta() -> None:
    """The client's delta path (Decimal levels, no changes built) leaves the same book as
    on_delta, over the benchmark's 50-level cycle with deletes."""
    from bpbfx.backpack.book import BackpackBookSync, SyncAction, parse_depth_snapshot
    from bpbfx.bench.streams import FIRST_ID as _FIRST_ID
    from bpbfx.bench.streams import depth_levels as _depth_levels
    from bpbfx.bench.streams import depth_rest as _depth_rest

    snap = parse_depth_snapshot(_depth_rest(50))
    quiet, reference = BackpackBookSync("L50_USDC"), BackpackBookSync("L50_USDC")
    for sync in (quiet, reference):
        sync.on_snapshot(snap.last_update_id, snap.bids, snap.asks)
    import json

    for k in range(60):
        b, a = (json.loads(text) for text in _depth_levels(50, k))
        bids, asks = bp_protocol._levels(b, "bid"), bp_protocol._levels(a, "ask")
        uid = _FIRST_ID + k
        got = quiet.apply_delta(uid, uid, bids, asks, True)
        want = reference.on_delta(uid, uid, bids, asks)
        assert got.action is want.action and got.update_id == want.update_id
        assert got.changes == () and (k == 0 or want.action is not SyncAction.APPLIED or want.changes)
        assert quiet.book.snapshot() == reference.book.snapshot()
    assert quiet.book.valid


def test_snapshot_and_delta_prices_are_the_same_objects() -> None:
    """A REST snapshot's prices and the later deltas' prices of the same text are one object
    (book look-ups then match by identity), on both exchanges; values stay exact."""
    from bpbfx.backpack.book import parse_levels

    snap = parse_levels([["86655.9", "1.5"], ["86656.10", "2"]])
    delta = bp_protocol._levels([["86655.9", "3"], ["86656.10", "0"]], "bid")
    assert snap[0][0] is delta[0][0] and snap[1][0] is delta[1][0] and str(delta[1][0]) == "86656.10"

    book = BitfinexBook("tX", "P0", 25)
    book.apply_snapshot([[118899, 1, "0.5"], ["118900.5", 1, "-0.5"]])
    key = next(iter(book.book._bids.sizes))
    book.decode_apply_bulk([[118899, 2, "0.75"], [118899, 3, "0.75"]])  # the second takes the cached path
    entries, _ = book.decode_apply_bulk([[118899, 4, "0.75"]])
    assert entries[0].price is key and next(iter(book.book._bids.sizes)) is key
