"""The price-level order book users read, shared by both exchanges (no I/O, no threads).

An :class:`OrderBook` keeps two sides of price levels, each as a ``dict`` (price -> size) plus a
list of prices kept sorted with :mod:`bisect`: an update costs one dict operation and, for a new
or removed level, one insertion into (or deletion from) a short list.  Nothing is ever re-sorted
per update.

Prices and sizes are :class:`decimal.Decimal` built from the exchange's own text.  Levels are
keyed by *number*, never by the raw string: Backpack's REST snapshot writes ``"86700"`` where its
WebSocket writes ``"86700.0"``, and both land on the same level.  A size of zero in any spelling
(``"0"``, ``"0.00"``, ``"0.00000"``) deletes the level.

Threading: the live book is not locked.  The client mutates it only under its own protocol lock,
and users read it through :meth:`OrderBook.snapshot` (an immutable :class:`FrozenBook`) or the
copying accessors (:meth:`OrderBook.bids`, ...) taken under that same lock; a snapshot can then be
read from any thread while updates continue.

Exchange-specific bookkeeping (alignment of Backpack update ids, Bitfinex checksums) lives in
:mod:`bpbfx.backpack.book` and :mod:`bpbfx.bitfinex.book`, which drive this structure.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import NamedTuple

from .exceptions import ConfigurationError

__all__ = ["ZERO", "BookSide", "FrozenBook", "Level", "LevelChange", "OrderBook"]

ZERO = Decimal(0)
"""The size of an absent level (``LevelChange.old_size`` of a new level, ``new_size`` of a removed one)."""

_TWO = Decimal(2)


class BookSide(str, Enum):
    """A side of the book; compares equal to its value (``BookSide.BID == "bid"``)."""

    BID = "bid"
    ASK = "ask"

    def __str__(self) -> str:
        return self.value


BID = BookSide.BID
ASK = BookSide.ASK


class Level(NamedTuple):
    """One price level: ``size`` is the total quantity at ``price`` (always > 0)."""

    price: Decimal
    size: Decimal


class LevelChange(NamedTuple):
    """What one update did to one price level, as handed to an ``on_book`` hook.

    ``old_size`` is :data:`ZERO` when the level is new; ``new_size`` is :data:`ZERO` when the
    level was removed.  Both may be equal when only exchange-side detail changed (for example a
    Bitfinex order count).
    """

    side: BookSide
    price: Decimal
    old_size: Decimal
    new_size: Decimal


@dataclass(frozen=True, slots=True)
class FrozenBook:
    """An immutable copy of a book, safe to keep and to read from any thread.

    Attributes:
        symbol: the market.
        bids: bid levels, best (highest price) first.
        asks: ask levels, best (lowest price) first.
        valid: ``False`` when the book was known to be wrong (or not yet synchronised) at the time
            of the copy: do not trade on it.
        update_id: the exchange update id / sequence the book reflected (Backpack ``u``,
            Bitfinex sequence), or ``None`` when unknown.
        stream: the stream the book came from, if known.
    """

    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    valid: bool
    update_id: int | None = None
    stream: str | None = None

    def best_bid(self) -> Level | None:
        """The highest bid, or ``None`` if there is none."""
        return self.bids[0] if self.bids else None

    def best_ask(self) -> Level | None:
        """The lowest ask, or ``None`` if there is none."""
        return self.asks[0] if self.asks else None

    def spread(self) -> Decimal | None:
        """Best ask minus best bid, or ``None`` if a side is empty."""
        if not self.bids or not self.asks:
            return None
        return self.asks[0].price - self.bids[0].price

    def mid(self) -> Decimal | None:
        """Midpoint of best bid and best ask, or ``None`` if a side is empty."""
        if not self.bids or not self.asks:
            return None
        return (self.asks[0].price + self.bids[0].price) / _TWO

    def is_crossed(self) -> bool:
        """``True`` when the best bid is at or above the best ask."""
        return bool(self.bids and self.asks and self.bids[0].price >= self.asks[0].price)


class SideLevels:
    """One side of a book: ``sizes`` (price -> size) and ``prices`` sorted ascending.

    A building block for :class:`OrderBook` and the exchange books of this package, which keep
    their own per-level data aligned with ``prices``; not part of the public API.  For bids the
    best level is the *last* price, for asks the first.  Not thread-safe.
    """

    __slots__ = ("prices", "side", "sizes")

    def __init__(self, side: BookSide) -> None:
        self.side = side
        self.prices: list[Decimal] = []
        self.sizes: dict[Decimal, Decimal] = {}

    def set(self, price: Decimal, size: Decimal) -> LevelChange:
        """Set ``price`` to ``size`` (must be > 0) and return the change."""
        sizes = self.sizes
        old = sizes.get(price)
        sizes[price] = size
        if old is None:
            prices = self.prices
            prices.insert(bisect_left(prices, price), price)
            old = ZERO
        return LevelChange(self.side, price, old, size)

    def remove(self, price: Decimal) -> LevelChange | None:
        """Remove ``price``; return the change, or ``None`` if there was no such level."""
        old = self.sizes.pop(price, None)
        if old is None:
            return None
        prices = self.prices
        del prices[bisect_left(prices, price)]
        return LevelChange(self.side, price, old, ZERO)

    def load(self, sizes: dict[Decimal, Decimal]) -> None:
        """Replace the whole side with ``sizes`` (sizes must be > 0); sorts once."""
        self.sizes = sizes
        self.prices = sorted(sizes)

    def clear(self) -> None:
        """Remove every level."""
        self.sizes = {}
        self.prices = []

    def best_first(self, n: int | None) -> list[Decimal]:
        """Up to ``n`` prices (all if ``None``), best first."""
        prices = self.prices
        if n is not None and n <= 0:
            return []
        if self.side is BID:
            return prices[::-1] if n is None else prices[: -n - 1 : -1]
        return prices[:] if n is None else prices[:n]

    def best(self) -> Decimal | None:
        """The best price, or ``None`` when the side is empty."""
        prices = self.prices
        if not prices:
            return None
        return prices[-1] if self.side is BID else prices[0]


def _to_decimal(value: Decimal | str | int, what: str) -> Decimal:
    """Convert a caller-supplied number; raise ConfigurationError for floats and junk."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            result = Decimal(value)
        except (InvalidOperation, ValueError) as exc:
            raise ConfigurationError(f"{what} must be a decimal number, got {value!r}") from exc
    else:
        raise ConfigurationError(
            f"{what} must be a Decimal, str or int (floats lose precision), got {type(value).__name__}"
        )
    if not result.is_finite():
        raise ConfigurationError(f"{what} must be finite, got {value!r}")
    return result


def _to_side(side: BookSide | str) -> BookSide:
    if isinstance(side, BookSide):
        return side
    try:
        return BookSide(side)
    except ValueError:
        raise ConfigurationError(f"side must be 'bid' or 'ask', got {side!r}") from None


class OrderBook:
    """A two-sided book of price levels, kept sorted incrementally.

    Not thread-safe by design: the client that owns it mutates it only while holding its
    protocol lock, and users read it through :meth:`snapshot` (or the copying accessors) under
    that same lock; snapshots are immutable and can be read from any thread afterwards.

    Attributes:
        symbol: the market.
        stream: the stream the book is fed from, if known.
        valid: ``False`` until the book is synchronised and whenever it is known to be wrong
            (checksum mismatch, sequence gap); an invalid book must not be traded on.  Exchange
            books set it; :meth:`clear` resets it to ``False``.
        update_id: the exchange update id / sequence the book reflects (Backpack ``u``, Bitfinex
            sequence), or ``None``.
    """

    __slots__ = ("_asks", "_bids", "stream", "symbol", "update_id", "valid")

    def __init__(self, symbol: str, *, stream: str | None = None) -> None:
        self.symbol = symbol
        self.stream = stream
        self.valid = False
        self.update_id: int | None = None
        self._bids = SideLevels(BID)
        self._asks = SideLevels(ASK)

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.symbol!r}, bids={len(self._bids.prices)}, asks={len(self._asks.prices)}, "
            f"best_bid={self._bids.best()}, best_ask={self._asks.best()}, valid={self.valid}, "
            f"update_id={self.update_id})"
        )

    def __len__(self) -> int:
        """Number of price levels on both sides."""
        return len(self._bids.prices) + len(self._asks.prices)

    def _levels(self, side: BookSide | str) -> SideLevels:
        return self._bids if _to_side(side) is BID else self._asks

    # -- mutation (owner's thread, under the owner's lock) ---------------------------------------

    def set_level(
        self, side: BookSide | str, price: Decimal | str | int, size: Decimal | str | int
    ) -> LevelChange | None:
        """Set the absolute ``size`` at ``price``; a zero size (any spelling) deletes the level.

        Returns the change, or ``None`` when deleting a level that is not in the book.

        Raises:
            ConfigurationError: ``side`` is not ``"bid"``/``"ask"``, or ``price``/``size`` is not
                a finite decimal number (floats are refused: they lose precision), or ``size`` is
                negative.
        """
        levels = self._levels(side)
        key = _to_decimal(price, "price")
        qty = _to_decimal(size, "size")
        if qty > ZERO:
            return levels.set(key, qty)
        if qty < ZERO:
            raise ConfigurationError(f"size must not be negative, got {size!r}")
        return levels.remove(key)

    def replace(
        self,
        bids: Iterable[tuple[Decimal, Decimal]],
        asks: Iterable[tuple[Decimal, Decimal]],
        *,
        update_id: int | None = None,
    ) -> None:
        """Replace both sides at once (a snapshot); levels with zero size are skipped.

        ``bids`` and ``asks`` may come in any order (Backpack REST lists bids best *last*); a
        price given twice keeps its last size.  Sorts once.  ``valid`` is left unchanged: the
        caller decides when the book is synchronised.

        Raises:
            ConfigurationError: a price or size is not a finite decimal number, or a size is
                negative.
        """
        new_sides: list[dict[Decimal, Decimal]] = []
        for rows in (bids, asks):
            sizes: dict[Decimal, Decimal] = {}
            for price, size in rows:
                key = _to_decimal(price, "price")
                qty = _to_decimal(size, "size")
                if qty > ZERO:
                    sizes[key] = qty
                elif qty < ZERO:
                    raise ConfigurationError(f"size must not be negative, got {size!r}")
                else:
                    sizes.pop(key, None)
            new_sides.append(sizes)
        self._bids.load(new_sides[0])
        self._asks.load(new_sides[1])
        self.update_id = update_id

    def clear(self) -> None:
        """Remove every level, mark the book invalid and forget its update id."""
        self._bids.clear()
        self._asks.clear()
        self.valid = False
        self.update_id = None

    # -- reading (owner's thread / under the owner's lock) ---------------------------------------

    def best_bid(self) -> Level | None:
        """The highest bid level, or ``None``."""
        price = self._bids.best()
        return None if price is None else Level(price, self._bids.sizes[price])

    def best_ask(self) -> Level | None:
        """The lowest ask level, or ``None``."""
        price = self._asks.best()
        return None if price is None else Level(price, self._asks.sizes[price])

    def spread(self) -> Decimal | None:
        """Best ask minus best bid, or ``None`` if a side is empty."""
        bid = self._bids.best()
        ask = self._asks.best()
        return None if bid is None or ask is None else ask - bid

    def mid(self) -> Decimal | None:
        """Midpoint of the best bid and ask, or ``None`` if a side is empty."""
        bid = self._bids.best()
        ask = self._asks.best()
        return None if bid is None or ask is None else (bid + ask) / _TWO

    def size_at(self, side: BookSide | str, price: Decimal | str | int) -> Decimal:
        """The size at ``price`` on ``side`` (:data:`ZERO` if there is no level).

        Raises:
            ConfigurationError: bad ``side`` or ``price``.
        """
        return self._levels(side).sizes.get(_to_decimal(price, "price"), ZERO)

    def bids(self, n: int | None = None) -> list[Level]:
        """A copy of the best ``n`` bid levels (all if ``None``), highest price first."""
        sizes = self._bids.sizes
        return [Level(p, sizes[p]) for p in self._bids.best_first(n)]

    def asks(self, n: int | None = None) -> list[Level]:
        """A copy of the best ``n`` ask levels (all if ``None``), lowest price first."""
        sizes = self._asks.sizes
        return [Level(p, sizes[p]) for p in self._asks.best_first(n)]

    def depth(self, side: BookSide | str, n: int | None = None) -> Decimal:
        """Total size of the best ``n`` levels (all if ``None``) of ``side``.

        Raises:
            ConfigurationError: bad ``side``.
        """
        levels = self._levels(side)
        sizes = levels.sizes
        if n is None:
            return sum(sizes.values(), ZERO)
        return sum((sizes[p] for p in levels.best_first(n)), ZERO)

    def is_crossed(self) -> bool:
        """``True`` when the best bid is at or above the best ask (never so for a valid book)."""
        bid = self._bids.best()
        ask = self._asks.best()
        return bid is not None and ask is not None and bid >= ask

    def snapshot(self, n: int | None = None) -> FrozenBook:
        """An immutable copy of the best ``n`` levels per side (all if ``None``).

        The copy carries ``symbol``, ``valid`` and ``update_id`` as they are now; it does not
        change when the book does and may be handed to other threads.
        """
        bsz = self._bids.sizes
        asz = self._asks.sizes
        return FrozenBook(
            symbol=self.symbol,
            bids=tuple([Level(p, bsz[p]) for p in self._bids.best_first(n)]),
            asks=tuple([Level(p, asz[p]) for p in self._asks.best_first(n)]),
            valid=self.valid,
            update_id=self.update_id,
            stream=self.stream,
        )


# Names of earlier releases: each said two things in the package (``BookSnapshot`` is also a
# Bitfinex event, ``BookChange`` a unified event, ``Side`` three literal types).
_RENAMED = {"BookSnapshot": "FrozenBook", "BookChange": "LevelChange", "Side": "BookSide"}


def __getattr__(name: str) -> object:
    new = _RENAMED.get(name)
    if new is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import warnings

    warnings.warn(f"bpbfx.book.{name} is now bpbfx.book.{new}", DeprecationWarning, stacklevel=2)
    return globals()[new]
