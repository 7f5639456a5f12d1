"""Tests for the generic price-level book (bpbfx.book)."""

from __future__ import annotations

import dataclasses
import random
import threading
from decimal import Decimal

import pytest

from bpbfx.book import ZERO, BookSide, FrozenBook, Level, LevelChange, OrderBook
from bpbfx.exceptions import ConfigurationError

D = Decimal


def make_book() -> OrderBook:
    book = OrderBook("BTC_USDC", stream="depth.BTC_USDC")
    for price, size in (("100", "1"), ("99.5", "2"), ("98", "3")):
        book.set_level("bid", price, size)
    for price, size in (("101", "4"), ("102.25", "5"), ("103", "6")):
        book.set_level(BookSide.ASK, price, size)
    return book


def test_sides_are_sorted_best_first() -> None:
    """bids() is highest price first and asks() lowest first, whatever the insertion order."""
    book = OrderBook("X")
    prices = [D(p) for p in range(1, 60)]
    random.Random(7).shuffle(prices)
    for p in prices:
        book.set_level("bid", p, "1")
        book.set_level("ask", p + 100, "1")
    assert [lv.price for lv in book.bids()] == sorted(prices, reverse=True)
    assert [lv.price for lv in book.asks()] == sorted(p + 100 for p in prices)
    assert [lv.price for lv in book.bids(3)] == [D(59), D(58), D(57)]
    assert [lv.price for lv in book.asks(2)] == [D(101), D(102)]
    assert book.bids(0) == []
    assert len(book) == 118


def test_best_spread_mid_depth() -> None:
    """best_bid/best_ask/spread/mid/depth follow the sorted levels."""
    book = make_book()
    assert book.best_bid() == Level(D("100"), D("1"))
    assert book.best_ask() == Level(D("101"), D("4"))
    assert book.spread() == D("1")
    assert book.mid() == D("100.5")
    assert book.depth("bid") == D("6")
    assert book.depth("ask", 2) == D("9")
    assert book.depth(BookSide.BID, 1) == D("1")


def test_empty_book_has_no_best_levels() -> None:
    """An empty book reports None for best prices, spread and mid, and zero depth."""
    book = OrderBook("X")
    assert book.best_bid() is None and book.best_ask() is None
    assert book.spread() is None and book.mid() is None
    assert book.depth("ask") == ZERO
    assert not book.is_crossed()
    assert len(book) == 0
    assert book.valid is False and book.update_id is None


def test_zero_in_any_spelling_deletes() -> None:
    """Sizes "0", "0.00", "0.00000", 0 and Decimal("0E-8") all delete the level."""
    book = OrderBook("X")
    for zero in ("0", "0.00", "0.00000", 0, D("0E-8"), "-0"):
        book.set_level("bid", "10", "1")
        change = book.set_level("bid", "10", zero)
        assert change == LevelChange(BookSide.BID, D("10"), D("1"), ZERO)
        assert book.bids() == []


def test_deleting_absent_level_returns_none() -> None:
    """Deleting a price that is not in the book changes nothing and returns None."""
    book = make_book()
    assert book.set_level("ask", "150", "0") is None
    assert len(book) == 6


def test_levels_are_keyed_by_number_not_text() -> None:
    """REST "86700" and WS "86700.0" are the same level."""
    book = OrderBook("BTC_USDC_PERP")
    book.set_level("ask", "86700", "1.5")
    change = book.set_level("ask", "86700.0", "2.25")
    assert change is not None and change.old_size == D("1.5")
    assert len(book) == 1
    assert book.size_at("ask", "86700.00") == D("2.25")
    book.set_level("ask", "86700.000", "0.00")
    assert len(book) == 0


def test_book_change_records_old_and_new_size() -> None:
    """set_level reports ZERO as old size for a new level and the previous size otherwise."""
    book = OrderBook("X")
    assert book.set_level("bid", "5", "1") == LevelChange(BookSide.BID, D(5), ZERO, D(1))
    assert book.set_level("bid", "5", "3") == LevelChange(BookSide.BID, D(5), D(1), D(3))


def test_crossed_detection() -> None:
    """is_crossed() is True when the best bid reaches the best ask (locked counts)."""
    book = make_book()
    assert not book.is_crossed()
    book.set_level("bid", "101", "1")
    assert book.is_crossed()
    assert book.snapshot().is_crossed()


def test_snapshot_is_an_immutable_copy() -> None:
    """A snapshot keeps its content while the book changes and cannot be modified."""
    book = make_book()
    book.valid = True
    book.update_id = 42
    snap = book.snapshot()
    book.set_level("bid", "100", "0")
    book.set_level("ask", "100.5", "7")
    book.valid = False
    assert snap.bids[0] == Level(D("100"), D("1"))
    assert snap.asks[0] == Level(D("101"), D("4"))
    assert snap.valid is True and snap.update_id == 42
    assert snap.symbol == "BTC_USDC" and snap.stream == "depth.BTC_USDC"
    assert isinstance(snap.bids, tuple) and isinstance(snap.asks, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.valid = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        snap.bids[0] = Level(D(1), D(1))  # type: ignore[index]


def test_snapshot_depth_limit_and_helpers() -> None:
    """snapshot(n) keeps the best n levels per side and offers best/spread/mid."""
    snap = make_book().snapshot(2)
    assert isinstance(snap, FrozenBook)
    assert [lv.price for lv in snap.bids] == [D("100"), D("99.5")]
    assert [lv.price for lv in snap.asks] == [D("101"), D("102.25")]
    assert snap.best_bid() == Level(D("100"), D("1"))
    assert snap.best_ask() == Level(D("101"), D("4"))
    assert snap.spread() == D(1)
    assert snap.mid() == D("100.5")
    empty = OrderBook("X").snapshot()
    assert empty.best_bid() is None and empty.spread() is None and empty.mid() is None


def test_snapshot_readable_from_another_thread_while_updating() -> None:
    """Snapshots taken under a lock stay internally consistent while another thread keeps updating."""
    book = OrderBook("X")
    lock = threading.Lock()
    stop = threading.Event()
    problems: list[str] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            with lock:
                price = D(1000 + i % 50)
                book.set_level("bid", price, D(i % 7))
                book.set_level("ask", price + 100, D(i % 5))
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        snaps = []
        for _ in range(300):
            with lock:
                snaps.append(book.snapshot())
        for snap in snaps:
            prices = [lv.price for lv in snap.bids]
            if prices != sorted(prices, reverse=True) or any(lv.size <= 0 for lv in snap.bids + snap.asks):
                problems.append(repr(snap))
    finally:
        stop.set()
        thread.join()
    assert problems == []


def test_replace_loads_unsorted_snapshot_and_skips_zeros() -> None:
    """replace() accepts any order (REST bids best last), skips zero sizes and keeps valid untouched."""
    book = OrderBook("X")
    book.replace(
        [(D("1"), D("1")), (D("3"), D("0.00")), (D("2"), D("2"))],
        [(D("5"), D("1")), (D("4"), D("2"))],
        update_id=9,
    )
    assert book.bids() == [Level(D(2), D(2)), Level(D(1), D(1))]
    assert book.asks() == [Level(D(4), D(2)), Level(D(5), D(1))]
    assert book.update_id == 9
    assert book.valid is False


def test_clear_empties_and_invalidates() -> None:
    """clear() removes all levels and marks the book invalid with no update id."""
    book = make_book()
    book.valid = True
    book.update_id = 5
    book.clear()
    assert len(book) == 0 and book.valid is False and book.update_id is None


@pytest.mark.parametrize(
    ("side", "price", "size"),
    [
        ("buy", "1", "1"),
        ("bid", 1.5, "1"),
        ("bid", "abc", "1"),
        ("bid", "1", "-1"),
        ("bid", "NaN", "1"),
        ("ask", "1", "Infinity"),
        ("ask", True, "1"),
    ],
)
def test_bad_input_raises_configuration_error(side: str, price: object, size: object) -> None:
    """Invalid side, float or non-numeric price and negative or non-finite size raise at once."""
    book = OrderBook("X")
    with pytest.raises(ConfigurationError):
        book.set_level(side, price, size)  # type: ignore[arg-type]
    assert len(book) == 0


def test_many_updates_keep_sides_sorted_and_consistent() -> None:
    """Random sets and deletes leave each side sorted with exactly the expected levels."""
    rng = random.Random(3)
    book = OrderBook("X")
    model: dict[str, dict[Decimal, Decimal]] = {"bid": {}, "ask": {}}
    for _ in range(5000):
        side = rng.choice(["bid", "ask"])
        price = D(rng.randrange(1, 300)) / 4
        size = D(rng.choice([0, 0, 1, 2, 3])) / 8
        book.set_level(side, price, size)
        if size:
            model[side][price] = size
        else:
            model[side].pop(price, None)
    assert book.bids() == [Level(p, model["bid"][p]) for p in sorted(model["bid"], reverse=True)]
    assert book.asks() == [Level(p, model["ask"][p]) for p in sorted(model["ask"])]
