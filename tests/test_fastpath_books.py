"""The cheaper event and book construction: exact Decimals from the wire text, the same frozen
events as the plain constructors, validation unchanged, and bounded number caches."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from bpbfx.backpack import protocol as bp_protocol
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
    from bpbfx.bitfinex.events import Trade as BfTrade
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
