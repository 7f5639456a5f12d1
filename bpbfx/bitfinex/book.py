"""Bitfinex ``book`` channel state: P0-P4 and R0 books, trading and funding (no I/O, no threads).

A :class:`BitfinexBook` takes the decoded entries of one ``book`` subscription and maintains

* the :class:`~bpbfx.book.OrderBook` users read (levels by price, sizes always positive), and
* per side, the wire text ``"<price-or-id>:<amount>"`` of every entry, kept in checksum order,
  so that :meth:`BitfinexBook.checksum` is a slice, a join and one CRC32 (no re-formatting).

Entries are the lists of a decoded frame, their number tokens as produced by
``json.JSONDecoder(parse_float=str)``: ``int`` for numbers written without ``.``/exponent, ``str``
holding the exact text otherwise (``float`` tokens are accepted too and formatted like JavaScript).
Only the leading fields are read, so fields Bitfinex appends later are ignored.

Book kinds (Bitfinex WS v2 ``book`` channel):

==============  ============================  ===============================================
kind            entry                         rule
==============  ============================  ===============================================
trading P0-P4   ``[PRICE, COUNT, AMOUNT]``    COUNT > 0 sets the level, AMOUNT > 0 bid / < 0
                                              ask; COUNT == 0 deletes (AMOUNT 1 bid, -1 ask)
funding P0-P4   ``[RATE, PERIOD, COUNT,       keyed by (rate, period); AMOUNT < 0 is a bid;
                AMOUNT]``                     COUNT == 0 deletes
trading R0      ``[ORDER_ID, PRICE, AMOUNT]`` PRICE == 0 deletes the order
funding R0      ``[OFFER_ID, PERIOD, RATE,    RATE == 0 deletes the offer; AMOUNT < 0 is a
                AMOUNT]``                     bid
==============  ============================  ===============================================

The user-facing :class:`~bpbfx.book.OrderBook` shows ``abs(AMOUNT)`` per price; raw and funding
books aggregate their entries per price (rate), and :meth:`BitfinexBook.entries` /
:meth:`BitfinexBook.order` give the individual entries.  Funding books legitimately show bids
above asks (different periods do not match), so "crossed" means nothing for them.  The official
Node client reports funding-book checksums as unreliable; they are computed the same way
(rate instead of price).

Not thread-safe: the client applies frames under its lock and users read snapshots.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from ..book import ZERO, BookSide, LevelChange, OrderBook, SideLevels
from ..exceptions import ChecksumMismatchError, ConfigurationError, MalformedFrameError
from . import events as ev
from .checksum import CHECKSUM_DEPTH, checksum_of_texts, signed_crc32, wire_text
from .decode import _book_entry

__all__ = ["BOOK_LENGTHS", "PRECISIONS", "BitfinexBook", "BookEntry"]

PRECISIONS = ("P0", "P1", "P2", "P3", "P4", "R0")
"""Valid ``prec`` values of the ``book`` channel."""

BOOK_LENGTHS = (1, 25, 100, 250)
"""Valid ``len`` values of the ``book`` channel."""

BID = BookSide.BID
ASK = BookSide.ASK
_NO_CHANGE: tuple[LevelChange, ...] = ()
_DEPTH = CHECKSUM_DEPTH
_BID_SLICE = slice(None, -CHECKSUM_DEPTH - 1, -1)  # best 25 bids of an ascending list, best first
_MALFORMED = (TypeError, ValueError, IndexError, KeyError, ArithmeticError, AttributeError)

Entry = Sequence[Any]
"""One decoded book entry (a list of number tokens)."""



# Parsed PRICE and |AMOUNT| by their exact wire text (P books repeat the same texts frame
# after frame): a dict look-up instead of a ``Decimal`` conversion, and book keys that are the
# same hash-cached objects.  Only texts that passed the checks are kept; emptied at _CACHE_MAX
# entries so memory stays bounded.
_PRICES: dict[str, Decimal] = {}
_SIZES: dict[str, Decimal] = {}
_CACHE_MAX = 20_000

# For BULK frames (:meth:`BitfinexBook.decode_apply_bulk`), by wire token (``int`` or number
# text; never ``bool``, which equals 0/1): PRICE -> (price, text) and AMOUNT of an entry that
# set a level -> (signed amount, size, text, is_ask).  Filled only with tokens the checked path
# accepted; bounded like the caches above.
_PRICE_TOKENS: dict[Any, tuple[Decimal, str]] = {}
_AMOUNT_TOKENS: dict[Any, tuple[Decimal, Decimal, str, bool]] = {}
EventEntry = ev.BookEntry
_new_object = object.__new__
_set_price = ev._slot_setter(EventEntry, "price")
_set_count = ev._slot_setter(EventEntry, "count")
_set_amount = ev._slot_setter(EventEntry, "amount")


class BookEntry(NamedTuple):
    """One entry of a Bitfinex book as the server describes it.

    Attributes:
        price: price (trading) or rate (funding).
        amount: signed as on the wire (trading: > 0 bid; funding: < 0 bid).
        order_count: the entry's COUNT, orders at the level (P books); ``None`` for raw books.
        period: funding period in days, ``None`` for trading books.
        order_id: order / offer id (raw books), ``None`` for P books.
    """

    price: Decimal
    amount: Decimal
    order_count: int | None = None
    period: int | None = None
    order_id: int | None = None


class _Item(NamedTuple):
    """A funding or raw entry with its place in checksum order."""

    is_bid: bool
    order: tuple[Decimal, int]
    size: Decimal
    text: str
    entry: BookEntry


def _new_price(text: str) -> Decimal:
    """A PRICE text not in the cache yet: checked (finite, > 0), then cached.

    Raises:
        ValueError, decimal.InvalidOperation: not a finite number > 0.
    """
    price = Decimal(text)
    if not price.is_finite() or price <= ZERO:
        raise ValueError(f"PRICE must be a finite number > 0, got {text!r}")
    if len(_PRICES) >= _CACHE_MAX:
        _PRICES.clear()
    _PRICES[text] = price
    return price


def _text(token: Any) -> str:
    return token if type(token) is str else wire_text(token)


class BitfinexBook:
    """The state of one Bitfinex ``book`` subscription.

    Args:
        symbol: ``tBTCUSD`` style (trading) or ``fUSD`` style (funding; starts with ``f``).
        prec: ``"P0"`` ... ``"P4"`` (aggregated) or ``"R0"`` (raw).
        length: the subscription's ``len`` (1, 25, 100 or 250; ``"25"`` accepted).
        stream: stream name for errors and snapshots.

    Raises:
        ConfigurationError: bad ``prec`` or ``length``.

    The server sends at most ``length`` levels per side and deletes a level that an insert
    pushes out of range; a trading P book also trims itself to ``length`` levels per side, so it
    never holds more than the server does (the checksum covers the top 25 only anyway).

    All methods run on the caller's thread; the object is not thread-safe (see
    :class:`~bpbfx.book.OrderBook` for the reading contract).
    """

    __slots__ = (
        "_apply_one",
        "_ask_order",
        "_ask_texts",
        "_asks",
        "_bid_order",
        "_bid_texts",
        "_bids",
        "_book",
        "_counts",
        "_funding",
        "_items",
        "_length",
        "_members",
        "_prec",
        "_raw",
    )

    def __init__(self, symbol: str, prec: str = "P0", length: int | str = 25, *, stream: str | None = None) -> None:
        if prec not in PRECISIONS:
            raise ConfigurationError(f"prec must be one of {', '.join(PRECISIONS)}, got {prec!r}")
        try:
            length_value = int(length)
        except (TypeError, ValueError):
            length_value = -1
        if length_value not in BOOK_LENGTHS or isinstance(length, bool):
            raise ConfigurationError(f"length must be one of {BOOK_LENGTHS}, got {length!r}")
        self._prec = prec
        self._length = length_value
        self._funding = symbol.startswith("f")
        self._raw = prec == "R0"
        self._book = OrderBook(symbol, stream=stream)
        self._bids: SideLevels = self._book._bids
        self._asks: SideLevels = self._book._asks
        # Wire texts aligned with the checksum order of each side, ascending (bids: best last).
        self._bid_texts: list[str] = []
        self._ask_texts: list[str] = []
        # Trading P books: the order count per price (the sorted prices are the OrderBook's).
        self._counts: dict[Decimal, int] = {}
        # Funding and raw books: entries by key, their sort keys per side, entries per level.
        self._items: dict[Hashable, _Item] = {}
        self._bid_order: list[tuple[Decimal, int]] = []
        self._ask_order: list[tuple[Decimal, int]] = []
        self._members: dict[tuple[bool, Decimal], int] = {}
        apply_one: Callable[[Entry], tuple[LevelChange, ...]]
        if self._raw:
            apply_one = self._apply_funding_raw if self._funding else self._apply_trading_raw
        else:
            apply_one = self._apply_funding_p if self._funding else self._apply_trading_p
        self._apply_one = apply_one

    def __repr__(self) -> str:
        return f"BitfinexBook({self._book.symbol!r}, prec={self._prec!r}, length={self._length}, book={self._book!r})"

    # -- properties ------------------------------------------------------------------------------

    @property
    def book(self) -> OrderBook:
        """The price-level view users read (raw / funding entries aggregated per price).

        It is owned by this object, which keeps its checksum texts aligned with it: read it
        (``snapshot()``, ``bids()``, ...), never mutate it directly.
        """
        return self._book

    @property
    def symbol(self) -> str:
        """The subscribed symbol."""
        return self._book.symbol

    @property
    def prec(self) -> str:
        """The subscribed precision (``P0``-``P4`` or ``R0``)."""
        return self._prec

    @property
    def length(self) -> int:
        """The subscribed ``len``."""
        return self._length

    @property
    def is_funding(self) -> bool:
        """``True`` for funding books (symbols starting with ``f``)."""
        return self._funding

    @property
    def is_raw(self) -> bool:
        """``True`` for raw (``R0``) books."""
        return self._raw

    @property
    def valid(self) -> bool:
        """Whether the book is synchronised and not known to be wrong."""
        return self._book.valid

    # -- applying frames ---------------------------------------------------------------------------

    def apply_snapshot(self, entries: Sequence[Entry], *, seq: int | None = None) -> None:
        """Replace the book with a snapshot frame's entries and mark it valid.

        ``seq`` is the frame's sequence number (``SEQ_ALL``), recorded as ``book.update_id``.

        Raises:
            MalformedFrameError: an entry does not have the expected shape; the book is then
                left empty and invalid.
        """
        self.clear()
        try:
            if self._raw or self._funding:
                for entry in entries:
                    self._apply_one(entry)
            else:
                self._load_trading_p(entries)
        except _MALFORMED as exc:
            self.clear()
            raise self._malformed(entries, exc) from exc
        book = self._book
        book.update_id = seq
        book.valid = True

    def apply_update(self, entry: Entry, *, seq: int | None = None) -> tuple[LevelChange, ...]:
        """Apply one update entry; return the changes to the price-level view (maybe none).

        ``seq`` is the frame's sequence number (``SEQ_ALL``), recorded as ``book.update_id``.
        Deleting an entry that is not in the book changes nothing and returns ``()``.

        Raises:
            MalformedFrameError: the entry does not have the expected shape; the book is marked
                invalid (it may be half-updated).
        """
        try:
            changes = self._apply_one(entry)
        except _MALFORMED as exc:
            self._book.valid = False
            raise self._malformed(entry, exc) from exc
        if seq is not None:
            self._book.update_id = seq
        return changes

    def apply_bulk(self, entries: Sequence[Entry], *, seq: int | None = None) -> list[LevelChange]:
        """Apply a ``BULK_UPDATES`` frame (a list of update entries, in order); return all changes.

        Raises:
            MalformedFrameError: an entry does not have the expected shape; the book is marked
                invalid.
        """
        changes: list[LevelChange] = []
        apply_one = self._apply_one
        try:
            for entry in entries:
                changes += apply_one(entry)
        except _MALFORMED as exc:
            self._book.valid = False
            raise self._malformed(entries, exc) from exc
        if seq is not None:
            self._book.update_id = seq
        return changes

    def decode_apply_bulk(
        self, entries: list[Any], *, seq: int | None = None, changes: bool = True
    ) -> tuple[tuple[ev.BookEntry, ...], list[LevelChange]]:
        """Decode and apply a ``BULK_UPDATES`` frame of a trading P book in one pass: the
        event's entries (as :mod:`bpbfx.bitfinex.decode` builds them) and the changes to the
        price-level view (empty with ``changes=False``, for when nobody reads them).

        Entries whose PRICE and AMOUNT tokens were seen before in a level-setting entry take a
        path without conversions or checks; every other entry (deletes included) goes through
        the checked decoder and :meth:`apply_update`'s rules.

        Raises:
            MalformedFrameError: an entry does not have the expected shape or values; the book
                is marked invalid (it may be half-updated).
            ConfigurationError: not a trading P book.
        """
        if self._raw or self._funding:
            raise ConfigurationError("decode_apply_bulk takes trading P books only")
        out: list[ev.BookEntry] = []
        append = out.append
        changed: list[LevelChange] = []
        bids, asks = self._bids, self._asks
        counts = self._counts
        length = self._length
        ptokens, atokens = _PRICE_TOKENS, _AMOUNT_TOKENS
        new_object, set_price, set_count, set_amount = _new_object, _set_price, _set_count, _set_amount
        entry: Any = None
        try:
            for entry in entries:
                try:
                    # Not a list of three cannot take the fast path: a string or an object
                    # unpacks to string items, whose COUNT is not an int.
                    ptok, count, atok = entry
                except (TypeError, ValueError):
                    fast = False
                else:
                    pc = ptokens.get(ptok)
                    ac = atokens.get(atok)
                    # No bool check needed: tokens equal to 0 or 1 (as True/False are) are
                    # never cached (see _learn).
                    fast = pc is not None and ac is not None and count.__class__ is int and count > 0
                if not fast:
                    decoded = _book_entry(entry)
                    append(decoded)
                    applied = self._apply_trading_p(entry)
                    if changes:
                        changed += applied
                    count = decoded.count
                    if count > 0:
                        self._learn(entry[0], entry[2], decoded)
                    continue
                price, ptxt = pc  # type: ignore[misc]
                amount, size, atxt, is_ask = ac  # type: ignore[misc]
                decoded = new_object(EventEntry)  # ev.new_book_entry inlined
                set_price(decoded, price)
                set_count(decoded, count)
                set_amount(decoded, amount)
                append(decoded)
                # Bitfinex book: COUNT > 0 sets the level; AMOUNT > 0 is a bid, < 0 an ask.
                if is_ask:
                    levels, texts, other = asks, self._ask_texts, bids
                else:
                    levels, texts, other = bids, self._bid_texts, asks
                sizes = levels.sizes
                old = sizes.get(price)
                sizes[price] = size
                counts[price] = count
                prices = levels.prices
                i = bisect_left(prices, price)
                if old is not None:
                    texts[i] = ptxt + atxt
                    if changes:
                        changed.append(LevelChange(levels.side, price, old, size))
                    continue
                prices.insert(i, price)
                texts.insert(i, ptxt + atxt)
                change = LevelChange(levels.side, price, ZERO, size)
                if price not in other.sizes and len(prices) <= length:
                    if changes:
                        changed.append(change)
                else:
                    more = self._after_insert(levels, texts, other, price, change)
                    if changes:
                        changed += more
        except _MALFORMED as exc:
            self._book.valid = False
            raise self._malformed(entry if entry is not None else entries, exc) from exc
        if seq is not None:
            self._book.update_id = seq
        return tuple(out), changed

    @staticmethod
    def _learn(ptok: Any, atok: Any, decoded: ev.BookEntry) -> None:
        """Remember the tokens of an accepted level-setting entry for the unchecked path.
        Integer tokens 0 and 1 are not kept: ``True``/``False`` would find them (equal hash and
        value), so no boolean can ever take the unchecked path."""
        pcls, acls = ptok.__class__, atok.__class__
        keep_price = pcls is str or (pcls is int and ptok != 0 and ptok != 1)
        keep_amount = acls is str or (acls is int and atok != 0 and atok != 1)
        if keep_price and ptok not in _PRICE_TOKENS:
            if len(_PRICE_TOKENS) >= _CACHE_MAX:
                _PRICE_TOKENS.clear()
            text = ptok if pcls is str else str(ptok)
            # The book's own object for this text (keys then match by identity).
            _PRICE_TOKENS[ptok] = (_PRICES.get(text, decoded.price), text)
        if keep_amount and atok not in _AMOUNT_TOKENS:
            if len(_AMOUNT_TOKENS) >= _CACHE_MAX:
                _AMOUNT_TOKENS.clear()
            amount = decoded.amount
            text = atok if acls is str else str(atok)
            _AMOUNT_TOKENS[atok] = (amount, -amount if amount < 0 else amount, ":" + text, amount < 0)

    def clear(self) -> None:
        """Empty the book and mark it invalid (before a resubscribe)."""
        self._book.clear()
        self._bid_texts = []
        self._ask_texts = []
        self._counts = {}
        self._items = {}
        self._bid_order = []
        self._ask_order = []
        self._members = {}

    # -- checksums ---------------------------------------------------------------------------------

    def checksum(self) -> int:
        """The Bitfinex checksum (signed CRC32) of the current top 25 levels per side."""
        return checksum_of_texts(self._bid_texts[_BID_SLICE], self._ask_texts[:_DEPTH])

    def verify(self, cs: int) -> None:
        """Compare the book with a ``[CHAN_ID, "cs", CHECKSUM]`` value.

        Raises:
            ChecksumMismatchError: the local checksum differs (``expected=cs``, ``got=local``);
                the book is marked invalid and must be resubscribed.
        """
        bids = self._bid_texts[_BID_SLICE]
        asks = self._ask_texts[:_DEPTH]
        if len(bids) == len(asks):
            # The common case inlined: interleave bid0:ask0:bid1:ask1...
            parts = bids + asks
            parts[0::2] = bids
            parts[1::2] = asks
            got = signed_crc32(":".join(parts).encode())
        else:
            got = checksum_of_texts(bids, asks)
        if got != cs:
            book = self._book
            book.valid = False
            raise ChecksumMismatchError(
                f"{book.symbol} book checksum mismatch: exchange {cs}, local {got}",
                symbol=book.symbol,
                expected=cs,
                got=got,
                stream=book.stream,
            )

    # -- entry access ------------------------------------------------------------------------------

    def entries(self, side: BookSide | str, n: int | None = None) -> list[BookEntry]:
        """The best ``n`` entries of ``side`` (all if ``None``) in checksum order, best first.

        P books: one entry per level; raw books: one per order (price, then id); funding P
        books: one per (rate, period).

        Raises:
            ConfigurationError: ``side`` is not ``"bid"``/``"ask"``.
        """
        is_bid = _is_bid(side)
        if n is not None and n <= 0:
            return []
        if not (self._raw or self._funding):
            levels = self._bids if is_bid else self._asks
            sizes = levels.sizes
            counts = self._counts
            return [BookEntry(p, sizes[p] if is_bid else -sizes[p], counts[p]) for p in levels.best_first(n)]
        order = self._bid_order if is_bid else self._ask_order
        ranked = (order[::-1] if n is None else order[: -n - 1 : -1]) if is_bid else order[:n]
        items = self._items
        if self._raw:
            return [items[abs(o[1])].entry for o in ranked]
        return [items[o].entry for o in ranked]

    def order(self, order_id: int) -> BookEntry | None:
        """The raw-book entry of an order / offer id, or ``None`` (always ``None`` on P books)."""
        item = self._items.get(order_id) if self._raw else None
        return None if item is None else item.entry

    # -- trading P books (the hot path) -------------------------------------------------------------

    def _apply_trading_p(self, entry: Entry) -> tuple[LevelChange, ...]:
        ptok = entry[0]
        count = entry[1]
        atok = entry[2]
        ptype = type(ptok)
        ptxt = ptok if ptype is str else str(ptok) if ptype is int else wire_text(ptok)
        atype = type(atok)
        atxt = atok if atype is str else str(atok) if atype is int else wire_text(atok)
        price = _PRICES.get(ptxt)
        if price is None:
            price = _new_price(ptxt)
        if type(count) is not int:
            raise TypeError(f"COUNT must be an integer, got {count!r}")
        negative = atxt[0] == "-"
        if count > 0:
            # Bitfinex book: COUNT > 0 sets the level; AMOUNT > 0 is a bid, AMOUNT < 0 an ask.
            size = _SIZES.get(atxt)
            if size is None:
                size = Decimal(atxt[1:]) if negative else Decimal(atxt)
                if not size.is_finite() or size <= ZERO:
                    raise ValueError(f"AMOUNT must be a finite non-zero number when COUNT > 0, got {atxt!r}")
                if len(_SIZES) >= _CACHE_MAX:
                    _SIZES.clear()
                _SIZES[atxt] = size
            if negative:
                return self._set_trading_p(self._asks, self._ask_texts, self._bids, price, size, count, ptxt, atxt)
            return self._set_trading_p(self._bids, self._bid_texts, self._asks, price, size, count, ptxt, atxt)
        if count == 0:
            # Bitfinex book: COUNT == 0 deletes the level; AMOUNT 1 marks a bid, -1 an ask.
            if not Decimal(atxt).is_finite():
                raise ValueError(f"AMOUNT must be a finite number, got {atxt!r}")
            return self._delete_trading_p(self._asks if negative else self._bids, price)
        raise ValueError(f"COUNT must be >= 0, got {count!r}")

    def _set_trading_p(
        self,
        levels: SideLevels,
        texts: list[str],
        other: SideLevels,
        price: Decimal,
        size: Decimal,
        count: int,
        ptxt: str,
        atxt: str,
    ) -> tuple[LevelChange, ...]:
        sizes = levels.sizes
        old = sizes.get(price)
        sizes[price] = size
        self._counts[price] = count
        prices = levels.prices
        i = bisect_left(prices, price)
        if old is not None:
            texts[i] = f"{ptxt}:{atxt}"
            return (LevelChange(levels.side, price, old, size),)
        prices.insert(i, price)
        texts.insert(i, f"{ptxt}:{atxt}")
        change = LevelChange(levels.side, price, ZERO, size)
        if price not in other.sizes and len(prices) <= self._length:
            return (change,)
        return self._after_insert(levels, texts, other, price, change)

    def _after_insert(
        self, levels: SideLevels, texts: list[str], other: SideLevels, price: Decimal, change: LevelChange
    ) -> tuple[LevelChange, ...]:
        """Rare cases after an insert: the price moved sides, or the side outgrew ``length``."""
        changes = [change]
        if price in other.sizes:
            # A P-book price is on one side only: the level moved sides.
            other_texts = self._ask_texts if other is self._asks else self._bid_texts
            i = bisect_left(other.prices, price)
            del other.prices[i]
            del other_texts[i]
            changes.append(LevelChange(other.side, price, other.sizes.pop(price), ZERO))
        prices = levels.prices
        if len(prices) > self._length:
            # The server keeps `len` levels per side and deletes the one pushed out: keep as many.
            worst = 0 if levels.side is BID else -1
            gone = prices.pop(worst)
            del texts[worst]
            self._counts.pop(gone, None)
            changes.append(LevelChange(levels.side, gone, levels.sizes.pop(gone), ZERO))
        return tuple(changes)

    def _delete_trading_p(self, levels: SideLevels, price: Decimal) -> tuple[LevelChange, ...]:
        old = levels.sizes.pop(price, None)
        if old is None:
            return _NO_CHANGE
        prices = levels.prices
        i = bisect_left(prices, price)
        del prices[i]
        if levels.side is BID:
            del self._bid_texts[i]
        else:
            del self._ask_texts[i]
        self._counts.pop(price, None)
        return (LevelChange(levels.side, price, old, ZERO),)

    def _load_trading_p(self, entries: Sequence[Entry]) -> None:
        bid_sizes: dict[Decimal, Decimal] = {}
        ask_sizes: dict[Decimal, Decimal] = {}
        bid_texts: dict[Decimal, str] = {}
        ask_texts: dict[Decimal, str] = {}
        counts = self._counts
        for entry in entries:
            ptok = entry[0]
            count = entry[1]
            atok = entry[2]
            if type(count) is not int or count < 0:
                raise ValueError(f"COUNT must be an integer >= 0, got {count!r}")
            if count == 0:
                continue
            ptxt = _text(ptok)
            atxt = _text(atok)
            # The cached object, so that later updates find their level by identity.
            price = _PRICES.get(ptxt)
            if price is None:
                price = _new_price(ptxt)
            # Bitfinex book: AMOUNT > 0 is a bid, AMOUNT < 0 an ask (snapshot: bids first).
            if atxt[0] == "-":
                size = Decimal(atxt[1:])
                sizes, texts = ask_sizes, ask_texts
                bid_sizes.pop(price, None)
            else:
                size = Decimal(atxt)
                sizes, texts = bid_sizes, bid_texts
                ask_sizes.pop(price, None)
            if not size.is_finite() or size <= ZERO:
                raise ValueError(f"AMOUNT must be a finite non-zero number when COUNT > 0, got {atxt!r}")
            sizes[price] = size
            texts[price] = f"{ptxt}:{atxt}"
            counts[price] = count
        self._bids.load(bid_sizes)
        self._asks.load(ask_sizes)
        self._bid_texts = [bid_texts[p] for p in self._bids.prices]
        self._ask_texts = [ask_texts[p] for p in self._asks.prices]

    # -- funding and raw books ---------------------------------------------------------------------

    def _apply_funding_p(self, entry: Entry) -> tuple[LevelChange, ...]:
        rtxt = _text(entry[0])
        period = _as_int(entry[1])
        count = _as_int(entry[2])
        atxt = _text(entry[3])
        rate = _finite(rtxt, "RATE")
        key = (rate, period)
        amount = _finite(atxt, "AMOUNT")
        if count == 0:
            # Bitfinex funding book: COUNT == 0 deletes the (rate, period) level.
            return self._remove_item(key)
        if count < 0:
            raise ValueError(f"COUNT must be >= 0, got {count!r}")
        if rate <= ZERO or not amount:
            raise ValueError(f"RATE must be > 0 and AMOUNT non-zero when COUNT > 0, got {rtxt!r}, {atxt!r}")
        # Bitfinex funding book: AMOUNT < 0 is a bid; levels are keyed by (rate, period).
        item = _Item(amount < ZERO, key, abs(amount), f"{rtxt}:{atxt}", BookEntry(rate, amount, count, period))
        return self._put_item(key, item)

    def _apply_trading_raw(self, entry: Entry) -> tuple[LevelChange, ...]:
        oid = _as_int(entry[0])
        ptxt = _text(entry[1])
        atxt = _text(entry[2])
        price = _finite(ptxt, "PRICE")
        amount = _finite(atxt, "AMOUNT")
        if not price:
            # Bitfinex raw book: PRICE == 0 deletes the order.
            return self._remove_item(oid)
        if price < ZERO or not amount:
            raise ValueError(f"PRICE must be >= 0 and AMOUNT non-zero, got {ptxt!r}, {atxt!r}")
        # Bitfinex raw book: AMOUNT > 0 is a bid; the checksum orders by price, then order id.
        is_bid = amount > ZERO
        order = (price, -oid if is_bid else oid)
        item = _Item(is_bid, order, abs(amount), f"{oid}:{atxt}", BookEntry(price, amount, order_id=oid))
        return self._put_item(oid, item)

    def _apply_funding_raw(self, entry: Entry) -> tuple[LevelChange, ...]:
        oid = _as_int(entry[0])
        period = _as_int(entry[1])
        rtxt = _text(entry[2])
        atxt = _text(entry[3])
        rate = _finite(rtxt, "RATE")
        amount = _finite(atxt, "AMOUNT")
        if not rate:
            # Bitfinex raw funding book: RATE == 0 deletes the offer.
            return self._remove_item(oid)
        if rate < ZERO or not amount:
            raise ValueError(f"RATE must be >= 0 and AMOUNT non-zero, got {rtxt!r}, {atxt!r}")
        # Bitfinex funding book: AMOUNT < 0 is a bid; ordered by rate, then offer id.
        is_bid = amount < ZERO
        order = (rate, -oid if is_bid else oid)
        item = _Item(is_bid, order, abs(amount), f"{oid}:{atxt}", BookEntry(rate, amount, None, period, oid))
        return self._put_item(oid, item)

    def _put_item(self, key: Hashable, item: _Item) -> tuple[LevelChange, ...]:
        items = self._items
        old = items.get(key)
        items[key] = item
        if old is not None and old.is_bid is item.is_bid and old.order == item.order:
            order, texts = (self._bid_order, self._bid_texts) if item.is_bid else (self._ask_order, self._ask_texts)
            texts[bisect_left(order, item.order)] = item.text
            return (self._adjust(item.is_bid, item.entry.price, item.size - old.size, 0),)
        changes: list[LevelChange] = []
        if old is not None:
            self._unlink(old)
            changes.append(self._adjust(old.is_bid, old.entry.price, -old.size, -1))
        order, texts = (self._bid_order, self._bid_texts) if item.is_bid else (self._ask_order, self._ask_texts)
        i = bisect_left(order, item.order)
        order.insert(i, item.order)
        texts.insert(i, item.text)
        changes.append(self._adjust(item.is_bid, item.entry.price, item.size, 1))
        return tuple(changes)

    def _remove_item(self, key: Hashable) -> tuple[LevelChange, ...]:
        old = self._items.pop(key, None)
        if old is None:
            return _NO_CHANGE
        self._unlink(old)
        return (self._adjust(old.is_bid, old.entry.price, -old.size, -1),)

    def _unlink(self, item: _Item) -> None:
        order, texts = (self._bid_order, self._bid_texts) if item.is_bid else (self._ask_order, self._ask_texts)
        i = bisect_left(order, item.order)
        del order[i]
        del texts[i]

    def _adjust(self, is_bid: bool, price: Decimal, delta: Decimal, members: int) -> LevelChange:
        """Change the aggregated level ``price`` by ``delta`` and ``members`` entries."""
        levels = self._bids if is_bid else self._asks
        key = (is_bid, price)
        remaining = self._members.get(key, 0) + members
        if remaining <= 0:
            self._members.pop(key, None)
            change = levels.remove(price)
            return change if change is not None else LevelChange(levels.side, price, ZERO, ZERO)
        self._members[key] = remaining
        return levels.set(price, levels.sizes.get(price, ZERO) + delta)

    def _malformed(self, what: object, exc: BaseException) -> MalformedFrameError:
        book = self._book
        return MalformedFrameError(
            f"{book.symbol} {self._prec} book entry not understood: {exc}",
            frame=_excerpt(what),
            stream=book.stream,
        )


def _excerpt(value: object) -> str:
    try:
        return repr(value)[:500]
    except RecursionError:
        return f"<{type(value).__name__}>"


def _finite(text: str, field: str) -> Decimal:
    """A book number that must be finite (``NaN``/``Infinity`` never enter a book)."""
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(f"{field} must be a finite number, got {text!r}")
    return value


def _as_int(token: Any) -> int:
    """An integer field (count, period, id): ints as is, integral text accepted."""
    if type(token) is int:
        return token
    if isinstance(token, bool) or not isinstance(token, (str, int, float)):
        raise TypeError(f"expected an integer, got {token!r}")
    value = Decimal(token if isinstance(token, (str, int)) else wire_text(token))
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"expected an integer, got {token!r}")
    return int(value)


def _is_bid(side: BookSide | str) -> bool:
    if side is BID or side == "bid":
        return True
    if side is ASK or side == "ask":
        return False
    raise ConfigurationError(f"side must be 'bid' or 'ask', got {side!r}")
