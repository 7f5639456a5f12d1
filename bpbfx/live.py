"""Thread-safe views of the order books a client maintains, and the ``on_book`` event.

A client keeps one :class:`~bpbfx.book.OrderBook` per book stream and mutates it on its reader
thread while holding its protocol lock.  :class:`LiveBook` is what ``client.book(symbol)``
returns: every read takes that same lock, so it sees a whole update or none of it, and
:meth:`LiveBook.snapshot` returns an immutable copy to keep or hand to another thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal

from .book import BookSide, FrozenBook, Level, LevelChange, OrderBook
from .events import Event

__all__ = ["LiveBook", "OrderBookUpdate"]


class LiveBook:
    """A live, self-verifying order book (read-only for users; any thread).

    Attributes are read under the client's lock; a book whose ``valid`` is False is known to be
    wrong or not yet synchronised (a resync is under way) and must not be traded on.
    """

    __slots__ = ("_book", "_lock")

    def __init__(self, book: OrderBook, lock: threading.RLock) -> None:
        self._book = book
        self._lock = lock

    def __repr__(self) -> str:
        with self._lock:
            return f"<LiveBook {self._book!r}>"

    @property
    def symbol(self) -> str:
        """The market."""
        return self._book.symbol

    @property
    def stream(self) -> str | None:
        """The stream the book is fed from."""
        return self._book.stream

    @property
    def valid(self) -> bool:
        """True while the book is synchronised and verified."""
        return self._book.valid

    @property
    def update_id(self) -> int | None:
        """Exchange update id / sequence the book reflects (Backpack ``u``; Bitfinex sequence
        number with SEQ_ALL, else the count of updates applied since the snapshot)."""
        return self._book.update_id

    def best_bid(self) -> Level | None:
        """Highest bid, or None."""
        with self._lock:
            return self._book.best_bid()

    def best_ask(self) -> Level | None:
        """Lowest ask, or None."""
        with self._lock:
            return self._book.best_ask()

    def spread(self) -> Decimal | None:
        """Best ask minus best bid, or None when a side is empty."""
        with self._lock:
            return self._book.spread()

    def mid(self) -> Decimal | None:
        """Midpoint of best bid and ask, or None."""
        with self._lock:
            return self._book.mid()

    def bids(self, n: int | None = None) -> list[Level]:
        """Copy of the best ``n`` bids (all if None), best first."""
        with self._lock:
            return self._book.bids(n)

    def asks(self, n: int | None = None) -> list[Level]:
        """Copy of the best ``n`` asks (all if None), best first."""
        with self._lock:
            return self._book.asks(n)

    def depth(self, side: BookSide | str, n: int | None = None) -> Decimal:
        """Total size of the best ``n`` levels of ``side`` ("bid" or "ask").

        Raises:
            ConfigurationError: bad side.
        """
        with self._lock:
            return self._book.depth(side, n)

    def snapshot(self, n: int | None = None) -> FrozenBook:
        """Immutable, consistent copy of the best ``n`` levels per side (all if None)."""
        with self._lock:
            return self._book.snapshot(n)

    def __len__(self) -> int:
        with self._lock:
            return len(self._book)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderBookUpdate(Event):
    """Handed to ``on_book(client, update)`` after each change to a managed book.

    Attributes:
        book: the live book (already updated).
        changes: the levels this update changed (empty for a snapshot).
        snapshot: True when the book was (re)built from a fresh snapshot: a resync finished.
        update_id: the update id / sequence the book now reflects.
        valid: whether the book is valid after this update.
    """

    book: LiveBook = field(repr=False, compare=False)
    changes: tuple[LevelChange, ...]
    snapshot: bool
    update_id: int | None
    valid: bool
