"""The reading rules of a :class:`~bpbfx.sinks.RedisStreamReader`; no I/O, no threads.

A :class:`Source` is one stream a reader follows: its cursor, the numbering it has seen
(:class:`~bpbfx.sinks.wire.Continuity`) and the book it rebuilt from the entries.  The rules:

- **Continuity**: every entry is checked (:meth:`Source.check`): ``STALE`` entries (already
  seen, an older epoch) are skipped; a ``GAP`` verdict (a hole in ``n``, an epoch that ended
  without its gap entry, a delta whose ``prev`` is not the book's update id) is a hole.
- **Holes** (:func:`hole_error`): the book is invalidated and the hole reported as a
  :class:`~bpbfx.StreamGapError`, or a :class:`~bpbfx.StreamTrimmedError` when the stream's
  first entry is newer than the reader's position (``MAXLEN`` trimmed what the reader had not
  read: :func:`was_trimmed`).  A book jumps to the latest snapshot when there is a newer one
  than the entry (:func:`wants_snapshot` says when to ask for its id).
- **Gap entries** the writer wrote invalidate the book and are reported with their reason
  (:func:`gap_entry_error`).
- **Books**: a snapshot replaces the book and makes it valid (a periodic snapshot of a book
  that was kept up to date must equal it exactly: :meth:`Source.apply_snapshot` says when it
  does not); a delta is applied only to a valid book (:meth:`Source.apply_delta`).

The reader's thread (:mod:`bpbfx.sinks.polling`) does the Redis calls, runs the callbacks and
calls these rules in stream order.  Book changes happen under the lock the reader shares with
its :class:`~bpbfx.live.LiveBook`\\ s.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..book import BookSide, LevelChange, OrderBook
from ..events import Event
from ..exceptions import StreamGapError, StreamTrimmedError
from ..live import LiveBook, OrderBookUpdate
from . import wire

__all__ = [
    "BOOK_ENTRY_KINDS",
    "Source",
    "StreamEntry",
    "entry_kind",
    "gap_entry_error",
    "hole_error",
    "id_tuple",
    "looks_like_id",
    "previous_id",
    "rows",
    "text",
    "wants_snapshot",
    "was_trimmed",
]

BOOK_ENTRY_KINDS = frozenset({wire.SNAPSHOT, wire.DELTA, wire.GAP})
"""Entry kinds of a book stream."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamEntry(Event):
    """One entry of a published stream, as handed to ``on_message``.

    Attributes (besides ``stream``, ``symbol`` and ``data``, the decoded ``data`` field: for
    events the exchange payload, for books ``{"b": [...], "a": [...]}``, for gaps the reason):
        id: the Redis entry id.
        key: the Redis key.
        exchange: ``backpack`` or ``bitfinex``.
        kind: ``snapshot``, ``delta``, ``gap`` or the event kind (``trade``, ...).
        epoch / n: the entry's place in the stream (see :mod:`bpbfx.sinks.wire`).
        seq / prev: exchange update ids (books) or sequence, when known.
        exchange_time_us / receive_time_us: microseconds since the epoch, when known.
        event: the bpbfx event class name for events.
        backfill: the entry's ``backfill`` field: trades missed while the publishing client
            was away and recovered afterwards.
    """

    id: str
    key: str
    exchange: str
    kind: str
    epoch: int
    n: int
    seq: int | None
    prev: int | None
    exchange_time_us: int | None
    receive_time_us: int | None
    event: str | None
    backfill: bool = False


# ------------------------------------------------------------------------------------ ids and replies
def text(value: Any) -> str:
    """``value`` as text (redis-py gives bytes)."""
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


def id_tuple(entry_id: str) -> tuple[int, int]:
    """An entry id as ``(milliseconds, sequence)``, for comparing ids."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def previous_id(entry_id: str) -> str:
    """The id just before ``entry_id`` (so that an exclusive read starts at it)."""
    ms, seq = id_tuple(entry_id)
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{2**64 - 1}" if ms > 0 else "0-0"


def looks_like_id(value: str) -> bool:
    """True for an entry id such as ``1700000000000-0`` or ``1700000000000``."""
    ms, sep, seq = value.partition("-")
    return ms.isdigit() and (not sep or seq.isdigit())


def entry_kind(fields: Any) -> str:
    """The ``kind`` field of a raw entry (bytes or str keys), ``""`` when missing."""
    kind = fields.get(b"kind", fields.get("kind", b"")) if isinstance(fields, dict) else b""
    return text(kind)


def rows(reply: Any) -> list[tuple[str, list[Any]]]:
    """``[(key, [(id, fields), ...])]`` from an XREAD/XREADGROUP reply (RESP2 list or RESP3 dict)."""
    if isinstance(reply, dict):
        return [(text(k), v[0] if v and isinstance(v[0], list) else v) for k, v in reply.items()]
    return [(text(k), found) for k, found in reply]


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ------------------------------------------------------------------------------------ one stream
class Source:
    """One stream a reader follows (owned by one reader thread; ``live`` is read by any
    thread under ``lock``).

    Attributes:
        key / exchange / stream: which stream.
        cursor: the id of the last entry taken (``0-0``: none).
        symbol: the market, from the stream's ``:meta`` hash.
        cont: the numbering seen so far.
        book / live: the rebuilt book and its thread-safe view (None until a book entry).
    """

    __slots__ = ("book", "cont", "cursor", "exchange", "key", "live", "lock", "stream", "symbol")

    def __init__(self, key: str, exchange: str, stream: str, lock: threading.RLock) -> None:
        self.key = key
        self.exchange = exchange
        self.stream = stream
        self.lock = lock
        self.cursor = "0-0"
        self.symbol: str | None = None
        self.cont = wire.Continuity()
        self.book: OrderBook | None = None
        self.live: LiveBook | None = None

    def __repr__(self) -> str:
        return f"<Source {self.exchange}:{self.stream} at {self.cursor}>"

    @property
    def name(self) -> str:
        """``exchange:stream``."""
        return f"{self.exchange}:{self.stream}"

    def take_meta(self, raw: Mapping[Any, Any]) -> dict[str, str]:
        """Take the stream's market from its ``:meta`` hash (as read); returns the hash as text."""
        meta = {text(k): text(v) for k, v in raw.items()}
        self.symbol = meta.get("sym") or self.symbol
        return meta

    def decode(self, entry_id: str, fields: Mapping[Any, Any]) -> wire.WireEntry:
        """Decode one entry of this stream.

        Raises:
            MalformedFrameError: not a bpbfx entry this version reads.
        """
        return wire.decode_entry(entry_id, fields, exchange=self.exchange, stream=self.stream, symbol=self.symbol)

    def check(self, entry: wire.WireEntry) -> wire.Check:
        """Judge ``entry`` against the numbering seen and the book's update id (and take it as
        the new position unless it is stale)."""
        book = self.book
        return self.cont.check(entry, book.update_id if book is not None and book.valid else None)

    def resync_from(self, snapshot_id: str) -> None:
        """Read on from the snapshot ``snapshot_id`` (included), forgetting the numbering."""
        self.cursor = previous_id(snapshot_id)
        self.cont.reset()

    def stream_entry(self, entry: wire.WireEntry) -> StreamEntry:
        """What ``on_message`` receives for ``entry``."""
        return StreamEntry(
            stream=entry.stream or self.stream,
            symbol=entry.symbol,
            data=entry.data,
            id=entry.id,
            key=self.key,
            exchange=entry.exchange or self.exchange,
            kind=entry.kind,
            epoch=entry.epoch,
            n=entry.n,
            seq=entry.seq,
            prev=entry.prev,
            exchange_time_us=entry.exchange_time_us,
            receive_time_us=entry.receive_time_us,
            event=entry.event,
            backfill=entry.backfill,
        )

    # ------------------------------------------------------------------ the rebuilt book
    def needs_meta(self) -> bool:
        """True when a book would be made without knowing its market: read ``:meta`` first
        (the stream did not exist yet when the reader started)."""
        return self.book is None and self.symbol is None

    def ensure_book(self, entry: wire.WireEntry) -> OrderBook:
        """The rebuilt book, made (empty, invalid) at the first book entry."""
        book = self.book
        if book is None:
            with self.lock:
                book = self.book = OrderBook(self.symbol or entry.symbol or self.stream, stream=self.stream)
                self.live = LiveBook(book, self.lock)
        return book

    def apply_snapshot(self, entry: wire.WireEntry) -> StreamGapError | None:
        """Replace the book with a ``snapshot`` entry; it is valid from now on.  Returns the
        error to report when a periodic snapshot of a book kept up to date differs from it
        (the snapshot wins).

        Raises:
            MalformedFrameError: the levels are not the documented shape.
        """
        book = self.ensure_book(entry)
        bids, asks = wire.decode_levels(entry.data)
        mismatch = False
        with self.lock:
            if book.valid and book.update_id == entry.seq:
                # A periodic snapshot of a book we kept up to date: it must match exactly.
                mismatch = not (wire.levels_equal(book.bids(), bids) and wire.levels_equal(book.asks(), asks))
            book.replace(bids, asks, update_id=entry.seq)
            book.valid = True
        if not mismatch:
            return None
        return StreamGapError(f"{self.name}: the book differs from the periodic snapshot {entry.id}; replaced by it",
                              stream=self.stream, reason="mismatch", epoch=entry.epoch)

    def apply_delta(self, entry: wire.WireEntry) -> tuple[LevelChange, ...] | None:
        """Apply a ``delta`` entry to a valid book; returns the levels it changed, or None when
        the book is not valid (the delta is not applied).

        Raises:
            MalformedFrameError: the levels are not the documented shape.
        """
        book = self.ensure_book(entry)
        if not book.valid:
            return None
        bids, asks = wire.decode_levels(entry.data)
        changes: list[LevelChange] = []
        with self.lock:
            for side, levels in ((BookSide.BID, bids), (BookSide.ASK, asks)):
                for price, size in levels:
                    change = book.set_level(side, price, size)
                    if change is not None:
                        changes.append(change)
            book.update_id = entry.seq
        return tuple(changes)

    def invalidate(self) -> bool:
        """Mark the book invalid; False when there was no valid book (nothing changed)."""
        book = self.book
        if book is None or not book.valid:
            return False
        with self.lock:
            book.valid = False
        return True

    def book_update(self, changes: tuple[LevelChange, ...], snapshot: bool) -> OrderBookUpdate | None:
        """What ``on_book`` receives after a change to the book (None before there is one)."""
        book, live = self.book, self.live
        if book is None or live is None:
            return None
        return OrderBookUpdate(stream=self.stream, symbol=book.symbol, data=None, book=live, changes=changes,
                               snapshot=snapshot, update_id=book.update_id, valid=book.valid)


# ------------------------------------------------------------------------------------ holes and gaps
def was_trimmed(previous: str, first_id: str | None) -> bool:
    """A hole found after the reader's position ``previous`` is a trim when the stream's first
    entry (``first_id``) is already newer than that position."""
    return first_id is not None and previous != "0-0" and id_tuple(first_id) > id_tuple(previous)


def wants_snapshot(src: Source, entry: wire.WireEntry, trimmed: bool) -> bool:
    """Whether a hole before ``entry`` is worth a jump to the latest snapshot (a book, and
    not already at a snapshot unless the stream was trimmed): then ask for its id."""
    return src.book is not None and (trimmed or entry.kind != wire.SNAPSHOT)


_WHAT = {"missing": "entries are missing", "epoch": "an epoch ended without its gap entry",
         "sequence": "a delta does not follow the book's update id"}


def hole_error(src: Source, entry: wire.WireEntry, check: wire.Check, previous: str, trimmed: bool,
               snapshot: str | None) -> tuple[StreamGapError, bool]:
    """The error reporting a hole before ``entry`` (found by :meth:`Source.check`), and whether
    the reader jumps to the latest snapshot ``snapshot`` (its id from ``:meta``, None when
    unknown or not asked for: see :func:`wants_snapshot`): it does when that is newer than
    ``entry``."""
    what = _WHAT.get(check.reason, check.reason)
    message = f"{src.name}: " + (
        f"the stream was trimmed past this reader's position {previous} (it was too slow for MAXLEN)"
        if trimmed
        else f"{what} (expected {check.expected}, got {check.got}) before {entry.kind} entry {entry.id}"
    )
    resync = False
    if wants_snapshot(src, entry, trimmed):
        if snapshot is not None and id_tuple(snapshot) > id_tuple(entry.id):
            message += f"; resynchronising from the latest snapshot {snapshot}"
            resync = True
        else:
            message += "; the book stays invalid until the next snapshot"
    cls = StreamTrimmedError if trimmed else StreamGapError
    error = cls(message, stream=src.stream, reason="trimmed" if trimmed else check.reason, expected=check.expected,
                got=check.got, epoch=entry.epoch)
    return error, resync


def gap_entry_error(src: Source, entry: wire.WireEntry) -> StreamGapError:
    """The error reporting a ``gap`` entry the writer wrote (its reason, numbers and message)."""
    data = entry.data if isinstance(entry.data, dict) else {}
    reason = str(data.get("reason") or "unknown")
    detail = data.get("message") or ""
    dropped = data.get("dropped") or 0
    message = f"{src.name}: the writer reported a gap ({reason}"
    if data.get("expected") is not None or data.get("got") is not None:
        message += f", expected {data.get('expected')}, got {data.get('got')}"
    if dropped:
        message += f", {dropped} entries lost"
    message += ")" + (f": {detail}" if detail else "") + "; waiting for the next snapshot" * (src.book is not None)
    return StreamGapError(message, stream=src.stream, reason=reason, expected=_int_or_none(data.get("expected")),
                          got=_int_or_none(data.get("got")), epoch=entry.epoch)
