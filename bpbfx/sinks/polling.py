"""One reader thread of a :class:`~bpbfx.sinks.RedisStreamReader`: the Redis calls and the callbacks.

A :class:`Poller` follows a group of streams that one ``XREAD`` can read (all of them on a
single Redis; one hash slot on Redis Cluster).  It positions each stream (``start``), catches up
with ``XRANGE``, then follows with ``XREAD BLOCK``; or, in consumer-group mode, reads with
``XREADGROUP``, acknowledges with ``XACK`` and claims what other consumers left pending with
``XAUTOCLAIM``.  Every entry goes through the reading rules of :mod:`bpbfx.sinks.reading`, in
stream order, and the callbacks run on this thread.  Redis trouble is reported as
:class:`~bpbfx.RedisUnavailableError` and retried with the reader's :class:`~bpbfx.Backoff`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..backoff import Backoff
from ..book import LevelChange
from ..exceptions import CallbackError, MalformedFrameError
from ..live import OrderBookUpdate
from . import reading, wire
from .connection import unavailable
from .hooks import report
from .reading import Source, StreamEntry, text

__all__ = ["Counters", "Poller", "ReaderOwner"]


class ReaderOwner(Protocol):
    """What a poller reads of its reader (public attributes, read when used): the hooks, which
    get the reader as their first argument, and the reading options."""

    name: str
    on_message: Callable[[Any, StreamEntry], None] | None
    on_book: Callable[[Any, OrderBookUpdate], None] | None
    on_error: Callable[[Any, BaseException], None] | None
    start_at: str
    group: str | None
    consumer: str | None
    group_start: str
    claim_idle: float
    claim_interval: float
    count: int
    block: float
    backoff: Backoff


class Counters:
    """A reader's counters, shared by its threads (see :class:`~bpbfx.sinks.ReaderStats`)."""

    __slots__ = ("acked", "claimed", "entries", "errors", "gaps", "resyncs", "stale", "trimmed")

    def __init__(self) -> None:
        self.entries = 0
        self.gaps = 0
        self.resyncs = 0
        self.trimmed = 0
        self.stale = 0
        self.acked = 0
        self.claimed = 0
        self.errors = 0


class _Resync(Exception):
    """Internal: stop processing this batch of a source; it was repositioned."""


class Poller:
    """The body of one reader thread (:meth:`run`).

    Args:
        owner: the reader (its hooks and options).
        sources: the streams this thread follows.
        redis: the reader's redis-py client.
        url: for messages (no password).
        counters: the reader's counters.
        closed: set when the reader closes; the thread ends within ``block`` seconds.
        synced: called once every stream of this thread was read up to its end.
    """

    def __init__(self, owner: ReaderOwner, sources: list[Source], redis: Any, *, url: str, counters: Counters,
                 closed: threading.Event, synced: Callable[[], None]) -> None:
        self.owner = owner
        self.sources = sources
        self.redis = redis
        self.url = url
        self.counters = counters
        self.closed = closed
        self.synced = synced

    def run(self) -> None:
        """Read until the reader closes; Redis trouble is reported and retried (reader thread)."""
        owner, closed = self.owner, self.closed
        attempt = 0
        initialised = False
        next_claim = 0.0
        while not closed.is_set():
            try:
                if not initialised:
                    if owner.group is None:
                        self._init()
                    else:
                        self._init_group()
                    initialised = True
                    self.synced()
                if owner.group is None:
                    self._poll()
                else:
                    now = time.monotonic()
                    if now >= next_claim:
                        self._claim()
                        next_claim = now + owner.claim_interval
                    self._poll_group()
                attempt = 0
            except Exception as exc:  # noqa: BLE001 - Redis down or an error reply must not end the reader silently
                if closed.is_set():
                    break
                attempt += 1
                self._report(unavailable(exc, self.url))
                closed.wait(owner.backoff.delay(attempt))

    # ------------------------------------------------------------------ positioning and reading
    def _init(self) -> None:
        r = self.redis
        for src in self.sources:
            meta = self._meta(src)
            start = self.owner.start_at
            if start == "earliest":
                src.cursor = "0-0"
                self._catch_up(src, "-")
            elif start == "latest":
                snap = meta.get("snapshot")
                if snap is not None:
                    self._catch_up(src, snap)
                else:
                    last = r.xrevrange(src.key, "+", "-", count=1)
                    if last and reading.entry_kind(last[0][1]) in reading.BOOK_ENTRY_KINDS:
                        # A book stream whose first snapshot is written but not yet recorded in
                        # :meta (the sink records it right after its XADD round): read the
                        # stream from its start, so that snapshot is not skipped.
                        self._catch_up(src, "-")
                    else:
                        src.cursor = text(last[0][0]) if last else "0-0"
            else:
                self._catch_up(src, start)

    def _meta(self, src: Source) -> dict[str, str]:
        """The stream's ``:meta`` hash (its market is taken from there)."""
        return src.take_meta(self.redis.hgetall(wire.meta_key(src.key)) or {})

    def _catch_up(self, src: Source, first: str) -> None:
        """``XRANGE`` from ``first`` (inclusive) to the end, in pages."""
        count = self.owner.count
        lower = first
        while not self.closed.is_set():
            found = self.redis.xrange(src.key, lower, "+", count=count)
            if not found:
                return
            try:
                for entry_id, fields in found:
                    self._handle(src, text(entry_id), fields)
            except _Resync:
                lower = f"({src.cursor}" if src.cursor != "0-0" else "-"
                continue
            if len(found) < count:
                return
            lower = f"({src.cursor}"

    def _poll(self) -> None:
        sources = self.sources
        reply = self.redis.xread({s.key: s.cursor for s in sources}, count=self.owner.count,
                                 block=int(self.owner.block * 1000))
        if not reply:
            return
        by_key = {s.key: s for s in sources}
        for key, found in reading.rows(reply):
            src = by_key.get(key)
            if src is None:
                continue
            try:
                for entry_id, fields in found:
                    self._handle(src, text(entry_id), fields)
            except _Resync:
                self._catch_up(src, f"({src.cursor}")

    # ------------------------------------------------------------------ entries
    def _handle(self, src: Source, entry_id: str, fields: Any) -> None:
        """Check, deliver and apply one entry.

        Raises:
            _Resync: the source jumped to its latest snapshot; stop this batch.
        """
        previous = src.cursor
        src.cursor = entry_id
        try:
            entry = src.decode(entry_id, fields)
        except MalformedFrameError as exc:
            self._report(exc)
            return
        check = src.check(entry)
        if check.verdict is wire.Verdict.STALE:
            self.counters.stale += 1
            return
        if check.verdict is wire.Verdict.GAP:
            self._hole(src, entry, check, previous)
        self._deliver(src, entry)
        kind = entry.kind
        if kind == wire.GAP:
            self._gap_entry(src, entry)
        elif kind in wire.BOOK_KINDS:
            if src.needs_meta():
                self._meta(src)
            try:
                self._apply(src, entry)
            except MalformedFrameError as exc:
                self._invalidate(src)  # the book missed this entry: wrong until the next snapshot
                self._report(exc)

    def _apply(self, src: Source, entry: wire.WireEntry) -> None:
        """Apply a ``snapshot`` or ``delta`` entry to the rebuilt book and tell ``on_book``.

        Raises:
            MalformedFrameError: the entry's levels are not the documented shape (nothing applied).
        """
        if entry.kind == wire.SNAPSHOT:
            mismatch = src.apply_snapshot(entry)
            if mismatch is not None:
                self.counters.gaps += 1
                self._report(mismatch)
            self._emit_book(src, (), True)
            return
        changes = src.apply_delta(entry)
        if changes is not None:
            self._emit_book(src, changes, False)

    def _hole(self, src: Source, entry: wire.WireEntry, check: wire.Check, previous: str) -> None:
        """Entries are missing before ``entry``: report, invalidate the book, jump to the
        latest snapshot when there is a newer one."""
        counters = self.counters
        counters.gaps += 1
        r = self.redis
        first = r.xrange(src.key, "-", "+", count=1)
        trimmed = reading.was_trimmed(previous, text(first[0][0]) if first else None)
        if trimmed:
            counters.trimmed += 1
        self._invalidate(src)
        snapshot = None
        if reading.wants_snapshot(src, entry, trimmed):
            stored = r.hget(wire.meta_key(src.key), "snapshot")
            snapshot = None if stored is None else text(stored)
        error, resync = reading.hole_error(src, entry, check, previous, trimmed, snapshot)
        if resync:
            counters.resyncs += 1
        self._report(error)
        if resync:
            assert snapshot is not None
            src.resync_from(snapshot)
            raise _Resync

    def _gap_entry(self, src: Source, entry: wire.WireEntry) -> None:
        self.counters.gaps += 1
        error = reading.gap_entry_error(src, entry)
        self._invalidate(src)
        self._report(error)

    def _invalidate(self, src: Source) -> None:
        if src.invalidate():
            self._emit_book(src, (), False)

    # ------------------------------------------------------------------ consumer groups
    def _init_group(self) -> None:
        import redis

        r, owner = self.redis, self.owner
        for src in self.sources:
            self._meta(src)
            try:
                r.xgroup_create(src.key, owner.group, id=owner.group_start, mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            # Entries delivered to this consumer before (a restart) and never acknowledged.
            while not self.closed.is_set():
                reply = r.xreadgroup(owner.group, owner.consumer, {src.key: "0"}, count=owner.count)
                pending = [row for _, found in reading.rows(reply) for row in found if row[1]]
                if not pending:
                    break
                self._deliver_group(src, pending)

    def _poll_group(self) -> None:
        owner, sources = self.owner, self.sources
        reply = self.redis.xreadgroup(owner.group, owner.consumer, {s.key: ">" for s in sources}, count=owner.count,
                                      block=int(owner.block * 1000))
        if not reply:
            return
        by_key = {s.key: s for s in sources}
        for key, found in reading.rows(reply):
            src = by_key.get(key)
            if src is not None and found:
                self._deliver_group(src, found)

    def _claim(self) -> None:
        """Take over entries other consumers left pending for ``claim_idle`` seconds."""
        r, owner = self.redis, self.owner
        idle_ms = int(owner.claim_idle * 1000)
        for src in self.sources:
            start = "0-0"
            while not self.closed.is_set():
                reply = r.xautoclaim(src.key, owner.group, owner.consumer, idle_ms, start_id=start, count=owner.count)
                start = text(reply[0])
                claimed = [row for row in reply[1] if row and row[1]]
                if claimed:
                    self.counters.claimed += len(claimed)
                    self._deliver_group(src, claimed)
                if start == "0-0":
                    break

    def _deliver_group(self, src: Source, found: list[Any]) -> None:
        done: list[str] = []
        for entry_id, fields in found:
            eid = text(entry_id)
            src.cursor = eid
            try:
                entry = src.decode(eid, fields)
            except MalformedFrameError as exc:
                self._report(exc)
                done.append(eid)  # it will never decode: do not hand it out again
                continue
            if self._deliver(src, entry):
                done.append(eid)
            if entry.kind == wire.GAP:
                self._gap_entry(src, entry)
        if done:
            self.counters.acked += int(self.redis.xack(src.key, self.owner.group, *done))

    # ------------------------------------------------------------------ callbacks
    def _deliver(self, src: Source, entry: wire.WireEntry) -> bool:
        """``on_message``; False when it raised (the entry is then not acknowledged)."""
        self.counters.entries += 1
        owner = self.owner
        hook = owner.on_message
        if hook is None:
            return True
        try:
            hook(owner, src.stream_entry(entry))
        except Exception as exc:  # noqa: BLE001 - user code must never end the reader
            self._callback_failed("on_message", exc)
            return False
        return True

    def _emit_book(self, src: Source, changes: tuple[LevelChange, ...], snapshot: bool) -> None:
        owner = self.owner
        hook = owner.on_book
        if hook is None:
            return
        update = src.book_update(changes, snapshot)
        if update is None:
            return
        try:
            hook(owner, update)
        except Exception as exc:  # noqa: BLE001 - user code must never end the reader
            self._callback_failed("on_book", exc)

    def _callback_failed(self, name: str, exc: Exception) -> None:
        err = CallbackError(f"{name} callback raised {type(exc).__name__}: {exc}", hook=name, original=exc)
        err.__cause__ = exc
        self._report(err)

    def _report(self, exc: BaseException) -> None:
        self.counters.errors += 1
        report(self.owner, self.owner.on_error, "on_error", exc)
