"""What a :class:`~bpbfx.sinks.RedisStreamSink` publishes, decided on the client's threads; no I/O.

:class:`Publisher` is the producer half of the sink's sans-I/O core.  It turns a client's events,
book updates and errors into :class:`Item`\\ s on a bounded in-memory queue, and keeps what it
needs per published stream:

- **Events** become one item each (control and integrity events of the connection are skipped).
- **Books** become a ``snapshot`` item after every (re)build of the client's book, then
  ``delta`` items (the book's own changes) while the book is valid, and a periodic snapshot
  every ``snapshot_every`` deltas or ``snapshot_interval`` seconds.  A delta is held until the
  event of its frame has passed, so that it carries the frame's exchange time.
- **Errors** of the client become ``gap`` items: a book error on its book (``checksum``,
  ``sequence``, ``stale``, ``invalid``), a lost connection on every stream of that client
  (``reconnect``; not on a trade stream the client backfills: it fills the hole, or says
  which trades are missing).  One gap per hole: nothing is owed when nothing was published since the
  last one.  Trades a backfill could not fetch (:class:`~bpbfx.TradeGapError`) are a
  ``trades_missing`` gap on their stream, always written: it carries the missing range.
- **Backfilled trades** (``backfill`` True on the event) are marked on their item.
- **A full queue** drops the item, counts it, reports the first drop of a stream
  (:class:`~bpbfx.StreamGapError`, reason ``overflow``) and marks the stream; the next item of
  that stream is preceded by an ``overflow`` gap (with the number dropped) and a book starts
  again from a fresh snapshot.

The writer side (:mod:`bpbfx.sinks.plan`) numbers the items; a thread takes them with
:meth:`Publisher.take`.  Time is passed in: ``now_us`` (wall clock, microseconds since the epoch,
the entries' ``rt``) and ``now`` (monotonic seconds, for ``snapshot_interval``).

Threads: the event, book and error methods run on the client's threads (reader thread; the
snapshot thread of a Backpack resync; the watchdog thread for its errors); they never block.
Only the creation of a stream's state takes a lock.  :meth:`Publisher.take`,
:meth:`Publisher.done` and :meth:`Publisher.republish` run on the consumer's (writer) thread.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ..book import FrozenBook
from ..events import Event
from ..exceptions import (
    BookError,
    ChecksumMismatchError,
    ConnectionLostError,
    SequenceGapError,
    StaleBookError,
    StreamGapError,
    TradeGapError,
)
from ..live import LiveBook, OrderBookUpdate
from ..sink import SinkHost
from . import wire
from .item import Item

__all__ = ["SKIP", "Item", "Publisher", "event_seq", "exchange_time"]

SKIP = frozenset({"Heartbeat", "Checksum", "Info", "Conf", "Subscribed", "Unsubscribed", "Pong", "AuthResult",
                  "ErrorReply"})
"""Names of the control and integrity events that belong to the connection, not to a data stream."""

_TIME_GETTERS: dict[type, Callable[[Any], int | None]] = {}
_BACKFILLS: dict[type, bool] = {}  # event classes that say whether they were backfilled


def exchange_time(event: Event) -> int | None:
    """Exchange time of an event in microseconds (Backpack ``E``; Bitfinex ``ts_ms`` with the
    TIMESTAMP flag), or None."""
    cls = type(event)
    getter = _TIME_GETTERS.get(cls)
    if getter is None:
        names = {f for f in getattr(cls, "__dataclass_fields__", {})}
        if "event_time_us" in names:
            def getter(e: Any) -> int | None:
                value = e.event_time_us
                return value if type(value) is int else None
        elif "ts_ms" in names:
            def getter(e: Any) -> int | None:
                value = e.ts_ms
                return value * 1000 if type(value) is int else None
        else:
            def getter(e: Any) -> int | None:
                return None
        _TIME_GETTERS[cls] = getter
    return getter(event)


def event_seq(event: Event) -> tuple[int | None, int | None]:
    """(seq, prev) of a raw event: Backpack depth ``u`` / ``U - 1``; Bitfinex SEQ_ALL."""
    last = getattr(event, "last_update_id", None)
    if type(last) is int:
        first = getattr(event, "first_update_id", None)
        return last, (first - 1 if type(first) is int else None)
    seq = getattr(event, "seq", None)
    return (seq if type(seq) is int else None), None


class _Stream:
    """Producer-side state of one published stream (touched only by the client's threads)."""

    __slots__ = ("book", "client", "exchange", "key", "last_uid", "live", "lost", "pending", "since_snap",
                 "snap_at", "stream", "symbol")

    def __init__(self, key: str, exchange: str, stream: str, book: bool, client: int) -> None:
        self.key = key
        self.exchange = exchange
        self.stream = stream
        self.symbol: str | None = None
        self.book = book
        self.client = client
        self.live = False  # books: a snapshot was queued and deltas follow it without loss
        self.lost = 0  # items dropped since the last gap entry (queue full)
        self.pending: Item | None = None  # a delta waiting for its frame's event (exchange time)
        self.last_uid: int | None = None
        self.since_snap = 0
        self.snap_at = 0.0


def _nothing(*_: Any) -> None:
    return None


class Publisher:
    """The producer half of a Redis sink: inputs in, :class:`Item`\\ s on :attr:`queue` out.

    Args:
        queue_size: items the queue holds; beyond that items are dropped (counted, then a gap).
        snapshot_every: a periodic book snapshot after this many deltas.
        snapshot_interval: and at least every this many seconds of deltas (None: never).
        prefix: key prefix (``bpbfx``).
        wake: called (on the producer's thread) when an item was queued and the consumer is
            not in the middle of a batch; the writer passes its ``threading.Event.set``.
        report: called with the :class:`~bpbfx.StreamGapError` of a stream's first drop
            (producer's thread).

    Attributes:
        queue: the items waiting, oldest first.
        busy: the consumer took a batch (:meth:`take`) and has not finished it (:meth:`done`).
        dropped: items dropped because the queue was full (and, after :meth:`abandon`, items
            never written).
    """

    def __init__(
        self,
        *,
        queue_size: int = 100_000,
        snapshot_every: int = 1000,
        snapshot_interval: float | None = 60.0,
        prefix: str = "bpbfx",
        wake: Callable[[], object] = _nothing,
        report: Callable[[BaseException], object] = _nothing,
    ) -> None:
        self.queue_size = queue_size
        self.snapshot_every = snapshot_every
        self.snapshot_interval = snapshot_interval
        self.prefix = prefix
        self.wake = wake
        self.report = report
        self.queue: collections.deque[Item] = collections.deque()
        self.busy = False
        self.dropped = 0
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._lock = threading.Lock()  # creating stream state from several client threads
        self._resync: set[str] = set()  # keys whose book must be published again (set by the writer)

    # ------------------------------------------------------------------ inputs (client threads)
    def event(self, client: SinkHost, event: Event, now_us: int) -> None:
        """Queue an event received at ``now_us``; never blocks."""
        cls = type(event)
        if cls.__name__ in SKIP:
            return
        st = self._streams.get((client.exchange, event.stream))
        if st is None:
            st = self._new_stream(client, event.stream, None)
        if st.book:
            pending = st.pending
            if pending is not None:
                # The book entry of this frame was made in book() just before; now its time is known.
                st.pending = None
                pending.et = exchange_time(event)
                self._put(st, pending)
            return
        if st.symbol is None:
            st.symbol = event.symbol
        seq, prev = event_seq(event)
        marked = _BACKFILLS.get(cls)
        if marked is None:
            marked = _BACKFILLS[cls] = hasattr(cls, "backfill")
        backfill = marked and bool(getattr(event, "backfill"))  # noqa: B009 - only classes that have it
        item = Item(st.key, st.exchange, st.stream, event.symbol, wire.event_kind(cls), event.data, now_us,
                    seq, prev, exchange_time(event), cls.__name__, backfill=backfill)
        if st.lost:
            self._owe_gap(st, "overflow", now_us)
            if st.lost:
                return
        if self._put(st, item):
            st.live = True

    def book(self, client: SinkHost, update: OrderBookUpdate, now_us: int, now: float) -> None:
        """Queue the book entry of ``update`` (a snapshot after a rebuild or when the stream
        needs one; else a delta held until :meth:`event` sees its frame); ``now`` is monotonic
        seconds."""
        st = self._streams.get((client.exchange, update.stream))
        if st is None:
            st = self._new_stream(client, update.stream, True)
        if st.pending is not None:
            pending, st.pending = st.pending, None
            self._put(st, pending)
        st.symbol = update.symbol
        if self._resync and st.key in self._resync:
            self._resync.discard(st.key)
            st.live = False  # the writer lost entries of this book: publish it again
        if st.lost:
            self._owe_gap(st, "overflow", now_us)
            if st.lost:
                return
        if update.snapshot or not st.live:
            if not update.valid:
                return
            if update.snapshot and st.live:
                self._owe_gap(st, "rebuild", now_us, message="the client rebuilt the book from a new snapshot")
            item = self._snapshot_item(st, update.book, now_us, now, rebuild=True)
            if self._put(st, item):
                st.live = True
            return
        if not update.valid:
            self._owe_gap(st, "invalid", now_us, message="the client marked the book invalid")
            return
        item = Item(st.key, st.exchange, st.stream, st.symbol, wire.DELTA, update.changes, now_us,
                    update.update_id, st.last_uid)
        st.last_uid = update.update_id
        st.since_snap += 1
        if st.since_snap >= self.snapshot_every or (
            self.snapshot_interval is not None and now - st.snap_at >= self.snapshot_interval
        ):
            item.after = self._snapshot_item(st, update.book, now_us, now, rebuild=False)
        st.pending = item

    def error(self, client: SinkHost, error: BaseException, now_us: int) -> None:
        """Turn a client's book and connection errors into gap items (client threads)."""
        if isinstance(error, BookError):
            reason = (
                "checksum" if isinstance(error, ChecksumMismatchError)
                else "sequence" if isinstance(error, SequenceGapError)
                else "stale" if isinstance(error, StaleBookError)
                else "invalid"
            )
            expected = getattr(error, "expected", None)
            got = getattr(error, "got", None)
            for st in self._client_streams(client, books=True):
                if error.stream is None or st.stream == error.stream:
                    self._owe_gap(st, reason, now_us, expected, got, error.message)
        elif isinstance(error, ConnectionLostError):
            for st in self._client_streams(client, books=None):
                if not client.backfilled(st.stream):  # its trades come back; a hole left is trades_missing
                    self._owe_gap(st, "reconnect", now_us, message=error.message)
        elif isinstance(error, TradeGapError) and error.stream is not None:
            st = self._streams.get((client.exchange, error.stream)) or self._new_stream(client, error.stream, False)
            if st.symbol is None:
                st.symbol = error.symbol
            if error.first_id is not None and error.last_id is not None:
                # Backpack ids are sequential: "expected" the first missing, "got" the next one.
                extra: dict[str, int | None] = {"first_id": error.first_id, "last_id": error.last_id}
                expected, got, missing = error.first_id, error.last_id + 1, error.missing or 0
            else:
                extra = {"start_ms": error.start_ms, "end_ms": error.end_ms}
                expected = got = None
                missing = 0
            self._owe_gap(st, "trades_missing", now_us, expected, got, error.message, missing=missing, extra=extra,
                          always=True)

    def release_all(self) -> None:
        """Queue every delta still held for its frame's event (before a flush or a detach)."""
        for st in list(self._streams.values()):
            pending = st.pending
            if pending is not None:
                st.pending = None
                self._put(st, pending)

    # ------------------------------------------------------------------ the consumer (writer thread)
    def take(self, limit: int) -> list[Item]:
        """Up to ``limit`` items off the queue, oldest first; :attr:`busy` until :meth:`done`."""
        queue = self.queue
        if not queue:
            return []
        self.busy = True
        batch: list[Item] = []
        popleft = queue.popleft
        try:
            for _ in range(limit):
                batch.append(popleft())
        except IndexError:
            pass
        return batch

    def done(self) -> None:
        """The consumer finished the batch it took."""
        self.busy = False

    def republish(self, keys: Iterable[str]) -> None:
        """The writer lost entries of these book streams: publish each book again from a
        snapshot at its next update."""
        self._resync.update(keys)

    def abandon(self) -> int:
        """Count what is still queued as dropped (the writer stopped without writing it);
        returns that number."""
        left = len(self.queue)
        self.dropped += left
        return left

    # ------------------------------------------------------------------ internals
    def _new_stream(self, client: SinkHost, stream: str, book: bool | None) -> _Stream:
        with self._lock:
            st = self._streams.get((client.exchange, stream))
            if st is None:
                if book is None:
                    book = stream in client.books
                key = wire.stream_key(client.exchange, stream, self.prefix)
                st = self._streams[(client.exchange, stream)] = _Stream(key, client.exchange, stream, book, id(client))
            return st

    def _client_streams(self, client: SinkHost, *, books: bool | None) -> list[_Stream]:
        cid = id(client)
        return [s for s in list(self._streams.values()) if s.client == cid and (books is None or s.book == books)]

    def _snapshot_item(self, st: _Stream, book: LiveBook, now_us: int, now: float, *, rebuild: bool) -> Item:
        snap: FrozenBook = book.snapshot()
        st.since_snap = 0
        st.snap_at = now
        st.last_uid = snap.update_id
        return Item(st.key, st.exchange, st.stream, st.symbol, wire.SNAPSHOT, snap, now_us, snap.update_id,
                    rebuild=rebuild)

    def _put(self, st: _Stream, item: Item) -> bool:
        """Append to the queue; on a full queue drop, count and mark the stream."""
        queue = self.queue
        if len(queue) >= self.queue_size:
            self._drop(st)
            return False
        queue.append(item)
        after = item.after
        if after is not None:
            if len(queue) >= self.queue_size:
                self._drop(st)
            else:
                queue.append(after)
        if not self.busy:
            self.wake()
        return True

    def _drop(self, st: _Stream) -> None:
        first = st.lost == 0
        st.lost += 1
        st.live = False
        self.dropped += 1
        if first:
            self.report(StreamGapError(
                f"{st.key}: the sink's queue is full ({self.queue_size} items; Redis is slow or down): dropping "
                "entries; a gap entry and a fresh snapshot follow once it drains",
                stream=st.stream,
                reason="overflow",
            ))

    def _owe_gap(self, st: _Stream, reason: str, now_us: int, expected: int | None = None, got: int | None = None,
                 message: str = "", *, missing: int = 0, extra: dict[str, Any] | None = None,
                 always: bool = False) -> None:
        """Queue a gap item for ``st`` (and make a book wait for a new snapshot); ``missing``
        entries the client itself never had, ``extra`` fields for the gap's data, ``always``
        even when nothing was published since the last gap."""
        if not st.live and not st.lost and not always:
            return  # nothing was published since the last gap: one gap per hole
        pending = st.pending
        if pending is not None:
            st.pending = None
            self._put(st, pending)
        dropped = st.lost
        payload = {"reason": "overflow" if dropped else reason, "expected": expected, "got": got,
                   "dropped": dropped + missing,
                   "message": message or (f"{dropped} entries dropped: the sink's queue was full" if dropped else "")}
        if extra:
            payload.update(extra)
        item = Item(st.key, st.exchange, st.stream, st.symbol, wire.GAP, payload, now_us)
        st.live = False
        queue = self.queue
        if len(queue) >= self.queue_size:
            st.lost += 1
            self.dropped += 1
            return
        st.lost = 0
        queue.append(item)
        self.wake()
