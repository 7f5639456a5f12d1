"""``RedisStreamReader``: read bpbfx streams back from Redis, with the live client's guarantees.

A reader rebuilds the same books the publishing client had (``book(symbol)`` returns a
:class:`~bpbfx.live.LiveBook`), checks the numbering of every entry (:class:`~bpbfx.sinks.wire.
Continuity`), and says so loudly when something is missing: a ``gap`` entry, a hole in the
numbering or a cursor that fell behind the trimmed start of a stream each reach ``on_error`` as
a :class:`~bpbfx.exceptions.StreamGapError` (:class:`~bpbfx.exceptions.StreamTrimmedError`), and
the book stays invalid until the next snapshot (the reader jumps to the latest one when it can).

Threads: one **reader thread** (named after ``name``: ``redis-reader``, ``redis-reader-1``, ...)
per group of streams that can be read with one ``XREAD`` (all of them on a single Redis; one
per hash slot on Redis Cluster).  It runs
``on_message``, ``on_book`` and ``on_error`` one at a time, in stream order; a slow callback
only delays this reader (Redis keeps the entries, up to the stream's ``MAXLEN``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..backoff import Backoff
from ..book import BookChange, OrderBook, Side
from ..events import Event
from ..exceptions import (
    CallbackError,
    ClientClosedError,
    ConfigurationError,
    MalformedFrameError,
    StreamGapError,
    StreamTrimmedError,
)
from ..live import LiveBook, OrderBookUpdate
from . import wire
from ._redis import REDIS_ERRORS, connect, is_cluster, report, safe_url, unavailable

__all__ = ["ReaderStats", "RedisStreamReader", "StreamEntry"]

log = logging.getLogger("bpbfx")

MessageHook = Callable[[Any, "StreamEntry"], None]
BookHook = Callable[[Any, OrderBookUpdate], None]
ErrorHook = Callable[[Any, BaseException], None]


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


@dataclass(frozen=True, slots=True)
class ReaderStats:
    """Counters of a :class:`RedisStreamReader`: ``entries`` delivered, ``gaps`` reported
    (gap entries and holes found), ``resyncs`` (jumps to the latest snapshot), ``trimmed``
    (cursors that fell behind the trimmed start), ``stale`` (entries already seen, skipped),
    ``acked`` / ``claimed`` (consumer-group mode), ``errors`` reported."""

    entries: int
    gaps: int
    resyncs: int
    trimmed: int
    stale: int
    acked: int
    claimed: int
    errors: int


class _Source:
    """One stream read by the reader (owned by its reader thread)."""

    __slots__ = ("book", "cont", "cursor", "exchange", "key", "live", "stream", "symbol")

    def __init__(self, key: str, exchange: str, stream: str) -> None:
        self.key = key
        self.exchange = exchange
        self.stream = stream
        self.cursor = "0-0"
        self.symbol: str | None = None
        self.cont = wire.Continuity()
        self.book: OrderBook | None = None
        self.live: LiveBook | None = None


class _Resync(Exception):
    """Internal: stop processing this batch of a source; it was repositioned."""


_BOOK_ENTRY_KINDS = frozenset({wire.SNAPSHOT, wire.DELTA, wire.GAP})


def _entry_kind(fields: Any) -> str:
    """The ``kind`` field of a raw entry (bytes or str keys), ``""`` when missing."""
    kind = fields.get(b"kind", fields.get("kind", b"")) if isinstance(fields, dict) else b""
    return _id(kind)


def _id(value: Any) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class RedisStreamReader:
    """Reads bpbfx streams from Redis and hands them to callbacks like a client does.

    Args:
        redis: URL (``redis://...``, ``redis+cluster://...``) or a redis-py client.
        streams: ``exchange:stream`` names (``bitfinex:book:tBTCUSD:P0:F0:25``,
            ``backpack:trade.SOL_USDC``) or keys (``bpbfx:{backpack:trade.SOL_USDC}``).
        on_message: ``(reader, StreamEntry)`` for every entry (reader thread).
        on_book: ``(reader, OrderBookUpdate)`` after every change to a rebuilt book (reader
            thread); ``valid=False`` after a gap.
        on_error: ``(reader, exc)``: gaps, trims, Redis trouble, callback failures.
        start: ``"latest"`` (books from their latest snapshot, other streams from now),
            ``"earliest"`` (everything kept) or an entry id.
        group / consumer: consumer-group mode (``XREADGROUP`` + ``XACK``, at-least-once): each
            entry goes to one consumer of the group and is acknowledged after ``on_message``
            returned without raising; entries another consumer left pending for ``claim_idle``
            seconds are claimed (``XAUTOCLAIM``).  Books are not rebuilt in this mode (each
            consumer sees a share of the entries).
        group_start: where a new group starts (``"0"``: everything kept, ``"$"``: new entries).
        claim_idle / claim_interval: seconds before a pending entry is claimed / between claims.
        count: entries per read.
        block: seconds one ``XREAD ... BLOCK`` waits (also bounds how long :meth:`close` waits).
        backoff: reconnect policy for Redis.
        cluster: for a URL: True for Redis Cluster, None to ask the server.
        name: thread name prefix.

    Raises:
        ConfigurationError: no streams, a bad stream name or option.
    """

    def __init__(
        self,
        redis: Any,
        streams: Iterable[str],
        *,
        on_message: MessageHook | None = None,
        on_book: BookHook | None = None,
        on_error: ErrorHook | None = None,
        start: str = "latest",
        group: str | None = None,
        consumer: str | None = None,
        group_start: str = "0",
        claim_idle: float = 30.0,
        claim_interval: float | None = None,
        count: int = 500,
        block: float = 0.5,
        backoff: Backoff | None = None,
        cluster: bool | None = None,
        prefix: str = "bpbfx",
        name: str = "redis-reader",
    ) -> None:
        names = list(dict.fromkeys(streams))
        if not names:
            raise ConfigurationError("RedisStreamReader needs at least one stream")
        if count < 1 or block <= 0 or claim_idle < 0:
            raise ConfigurationError("count must be >= 1, block > 0 and claim_idle >= 0")
        if consumer is not None and group is None:
            raise ConfigurationError("consumer= needs group=")
        if start not in ("latest", "earliest") and not _looks_like_id(start):
            raise ConfigurationError(
                f"start must be 'latest', 'earliest' or an entry id like 1700000000000-0, got {start!r}"
            )
        self._sources = []
        for text in names:
            key, exchange, stream = wire.parse_key(text, prefix)
            self._sources.append(_Source(key, exchange, stream))
        self._url = redis if isinstance(redis, str) else None
        self._redis: Any = None if self._url is not None else redis
        self._cluster = cluster
        self.on_message = on_message
        self.on_book = on_book
        self.on_error = on_error
        self.start_at = start
        self.group = group
        self.consumer = consumer or (f"{name}-{threading.get_native_id()}" if group else None)
        self.group_start = group_start
        self.claim_idle = claim_idle
        self.claim_interval = claim_interval if claim_interval is not None else max(0.1, min(claim_idle / 2, 5.0))
        self.count = count
        self.block = block
        self.backoff = backoff or Backoff()
        self.name = name
        self._lock = threading.RLock()  # books; user reads through LiveBook take it too
        self._closed = threading.Event()
        self._synced = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pending_groups = 0
        self._started = False
        self._entries = 0
        self._gaps = 0
        self._resyncs = 0
        self._trimmed = 0
        self._stale = 0
        self._acked = 0
        self._claimed = 0
        self._errors = 0

    def __repr__(self) -> str:
        where = safe_url(self._url) if self._url else type(self._redis).__name__
        return f"<RedisStreamReader {where} streams={len(self._sources)} entries={self._entries}>"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> RedisStreamReader:
        """Connect and start the reader thread(s); returns at once (idempotent).

        Raises:
            ClientClosedError: after :meth:`close`.
            RedisUnavailableError: a URL whose server could not be asked whether it is a
                cluster (pass ``cluster=``); later trouble goes to ``on_error``.
        """
        if self._closed.is_set():
            raise ClientClosedError(f"{self.name} is closed; create a new reader")
        if self._started:
            return self
        self._started = True
        if self._redis is None:
            assert self._url is not None
            socket_timeout = self.block + 5.0
            self._redis = connect(self._url, cluster=self._cluster, socket_timeout=socket_timeout)
        groups: dict[int, list[_Source]] = {}
        if is_cluster(self._redis):
            from redis.crc import key_slot

            for src in self._sources:
                groups.setdefault(key_slot(src.key.encode()), []).append(src)
        else:
            groups[0] = list(self._sources)
        self._pending_groups = len(groups)
        for i, sources in enumerate(groups.values()):
            suffix = f"-{i}" if len(groups) > 1 else ""
            t = threading.Thread(target=self._loop, args=(sources,), name=f"{self.name}{suffix}", daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def run_forever(self) -> None:
        """Start if needed and block until :meth:`close` (from a callback or another thread)
        or Ctrl-C; the reader is closed on return."""
        self.start()
        try:
            while not self._closed.wait(1.0):
                pass
        except KeyboardInterrupt:
            log.info("%s: interrupted, closing", self.name)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the reader threads (within ``block`` seconds) and close the connection the
        reader made.  Idempotent; any thread, including from inside a callback."""
        if self._closed.is_set():
            return
        self._closed.set()
        me = threading.current_thread()
        for t in self._threads:
            if t is not me:
                t.join(self.block + 6.0)
        if self._url is not None and self._redis is not None:
            try:
                self._redis.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail; nothing to do
                pass

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed.is_set()

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Block until every stream was read up to its end once (True) or ``timeout``
        passes (False).  Any thread except the reader's."""
        return self._synced.wait(timeout)

    def __enter__(self) -> RedisStreamReader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ books and stats
    def book(self, name: str) -> LiveBook:
        """The rebuilt book of a stream: ``exchange:stream``, the stream name alone, a key or a
        symbol.  Any thread.

        Raises:
            KeyError: no book (yet) for ``name`` (the message lists the ones there are).
            ConfigurationError: consumer-group mode (no books there).
        """
        if self.group is not None:
            raise ConfigurationError("a consumer-group reader rebuilds no books: each consumer sees a share")
        with self._lock:
            for src in self._sources:
                if src.live is not None and name in (src.stream, src.key, f"{src.exchange}:{src.stream}"):
                    return src.live
            for src in self._sources:
                if src.live is not None and src.book is not None and src.book.symbol == name:
                    return src.live
            known = ", ".join(f"{s.exchange}:{s.stream}" for s in self._sources if s.live is not None) or "none yet"
        raise KeyError(f"no book for {name!r}; books: {known}")

    @property
    def books(self) -> dict[str, LiveBook]:
        """Every rebuilt book by ``exchange:stream``."""
        with self._lock:
            return {f"{s.exchange}:{s.stream}": s.live for s in self._sources if s.live is not None}

    def stats(self) -> ReaderStats:
        """A snapshot of the counters (any thread)."""
        return ReaderStats(self._entries, self._gaps, self._resyncs, self._trimmed, self._stale, self._acked,
                           self._claimed, self._errors)

    # ------------------------------------------------------------------ reader thread
    def _loop(self, sources: list[_Source]) -> None:
        attempt = 0
        initialised = False
        next_claim = 0.0
        while not self._closed.is_set():
            try:
                if not initialised:
                    if self.group is None:
                        self._init(sources)
                    else:
                        self._init_group(sources)
                    initialised = True
                    self._group_synced()
                if self.group is None:
                    self._poll(sources)
                else:
                    now = time.monotonic()
                    if now >= next_claim:
                        self._claim(sources)
                        next_claim = now + self.claim_interval
                    self._poll_group(sources)
                attempt = 0
            except REDIS_ERRORS as exc:
                if self._closed.is_set():
                    break
                attempt += 1
                self._report(unavailable(exc, self._url or ""))
                self._closed.wait(self.backoff.delay(attempt))
            except Exception as exc:  # noqa: BLE001 - a Redis error reply must not end the reader silently
                if self._closed.is_set():
                    break
                attempt += 1
                self._report(unavailable(exc, self._url or ""))
                self._closed.wait(self.backoff.delay(attempt))

    def _group_synced(self) -> None:
        with self._lock:
            self._pending_groups -= 1
            if self._pending_groups <= 0:
                self._synced.set()

    def _init(self, sources: list[_Source]) -> None:
        r = self._redis
        for src in sources:
            meta = self._meta(src)
            start = self.start_at
            if start == "earliest":
                src.cursor = "0-0"
                self._catch_up(src, "-")
            elif start == "latest":
                snap = meta.get("snapshot")
                if snap is not None:
                    self._catch_up(src, _id(snap))
                else:
                    last = r.xrevrange(src.key, "+", "-", count=1)
                    if last and _entry_kind(last[0][1]) in _BOOK_ENTRY_KINDS:
                        # A book stream whose first snapshot is written but not yet recorded in
                        # :meta (the sink records it right after its XADD round): read the
                        # stream from its start, so that snapshot is not skipped.
                        self._catch_up(src, "-")
                    else:
                        src.cursor = _id(last[0][0]) if last else "0-0"
            else:
                self._catch_up(src, start)

    def _meta(self, src: _Source) -> dict[str, str]:
        """The stream's ``:meta`` hash (its market is taken from there)."""
        raw = self._redis.hgetall(wire.meta_key(src.key)) or {}
        meta = {_id(k): _id(v) for k, v in raw.items()}
        src.symbol = meta.get("sym") or src.symbol
        return meta

    def _catch_up(self, src: _Source, first: str) -> None:
        """``XRANGE`` from ``first`` (inclusive) to the end, in pages."""
        lower = first
        while not self._closed.is_set():
            rows = self._redis.xrange(src.key, lower, "+", count=self.count)
            if not rows:
                return
            try:
                for entry_id, fields in rows:
                    self._handle(src, _id(entry_id), fields)
            except _Resync:
                lower = f"({src.cursor}" if src.cursor != "0-0" else "-"
                continue
            if len(rows) < self.count:
                return
            lower = f"({src.cursor}"

    def _poll(self, sources: list[_Source]) -> None:
        reply = self._redis.xread({s.key: s.cursor for s in sources}, count=self.count,
                                  block=int(self.block * 1000))
        if not reply:
            return
        by_key = {s.key: s for s in sources}
        for key, rows in _rows(reply):
            src = by_key.get(key)
            if src is None:
                continue
            try:
                for entry_id, fields in rows:
                    self._handle(src, _id(entry_id), fields)
            except _Resync:
                self._catch_up(src, f"({src.cursor}")

    # ------------------------------------------------------------------ entries
    def _handle(self, src: _Source, entry_id: str, fields: Any) -> None:
        """Check, deliver and apply one entry (reader thread).

        Raises:
            _Resync: the source jumped to its latest snapshot; stop this batch.
        """
        previous = src.cursor
        src.cursor = entry_id
        try:
            entry = wire.decode_entry(entry_id, fields, exchange=src.exchange, stream=src.stream, symbol=src.symbol)
        except MalformedFrameError as exc:
            self._report(exc)
            return
        book = src.book
        check = src.cont.check(entry, book.update_id if book is not None and book.valid else None)
        if check.verdict is wire.Verdict.STALE:
            self._stale += 1
            return
        if check.verdict is wire.Verdict.GAP:
            self._hole(src, entry, check, previous)
        self._deliver(src, entry)
        kind = entry.kind
        if kind == wire.SNAPSHOT:
            self._apply_snapshot(src, entry)
        elif kind == wire.DELTA:
            self._apply_delta(src, entry)
        elif kind == wire.GAP:
            self._gap_entry(src, entry)

    def _hole(self, src: _Source, entry: wire.WireEntry, check: wire.Check, previous: str) -> None:
        """Entries are missing before ``entry``: report, invalidate the book, jump to the
        latest snapshot when there is a newer one."""
        self._gaps += 1
        r = self._redis
        first = r.xrange(src.key, "-", "+", count=1)
        trimmed = bool(first) and previous != "0-0" and _id_tuple(_id(first[0][0])) > _id_tuple(previous)
        what = {"missing": "entries are missing", "epoch": "an epoch ended without its gap entry",
                "sequence": "a delta does not follow the book's update id"}.get(check.reason, check.reason)
        cls = StreamTrimmedError if trimmed else StreamGapError
        if trimmed:
            self._trimmed += 1
        message = (
            f"{src.exchange}:{src.stream}: " + (
                f"the stream was trimmed past this reader's position {previous} (it was too slow for MAXLEN)"
                if trimmed
                else f"{what} (expected {check.expected}, got {check.got}) before {entry.kind} entry {entry.id}"
            )
        )
        self._invalidate(src)
        resync = False
        if src.book is not None and (trimmed or entry.kind != wire.SNAPSHOT):
            snap = r.hget(wire.meta_key(src.key), "snapshot")
            if snap is not None and _id_tuple(_id(snap)) > _id_tuple(entry.id):
                message += f"; resynchronising from the latest snapshot {_id(snap)}"
                resync = True
                src.cursor = _previous_id(_id(snap))
            else:
                message += "; the book stays invalid until the next snapshot"
        if resync:
            self._resyncs += 1
        self._report(cls(message, stream=src.stream, reason="trimmed" if trimmed else check.reason,
                         expected=check.expected, got=check.got, epoch=entry.epoch))
        if resync:
            src.cont.reset()
            raise _Resync

    def _invalidate(self, src: _Source) -> None:
        book = src.book
        if book is None or not book.valid:
            return
        with self._lock:
            book.valid = False
        self._emit_book(src, (), False)

    def _gap_entry(self, src: _Source, entry: wire.WireEntry) -> None:
        self._gaps += 1
        data = entry.data if isinstance(entry.data, dict) else {}
        reason = str(data.get("reason") or "unknown")
        detail = data.get("message") or ""
        dropped = data.get("dropped") or 0
        text = f"{src.exchange}:{src.stream}: the writer reported a gap ({reason}"
        if data.get("expected") is not None or data.get("got") is not None:
            text += f", expected {data.get('expected')}, got {data.get('got')}"
        if dropped:
            text += f", {dropped} entries lost"
        text += ")" + (f": {detail}" if detail else "") + "; waiting for the next snapshot" * (src.book is not None)
        self._invalidate(src)
        self._report(StreamGapError(text, stream=src.stream, reason=reason, expected=_int_or_none(data.get("expected")),
                                    got=_int_or_none(data.get("got")), epoch=entry.epoch))

    def _ensure_book(self, src: _Source, entry: wire.WireEntry) -> OrderBook:
        book = src.book
        if book is None:
            if src.symbol is None:
                self._meta(src)  # the stream did not exist yet when the reader started
            with self._lock:
                book = src.book = OrderBook(src.symbol or entry.symbol or src.stream, stream=src.stream)
                src.live = LiveBook(book, self._lock)
        return book

    def _apply_snapshot(self, src: _Source, entry: wire.WireEntry) -> None:
        if self.group is not None:
            return
        book = self._ensure_book(src, entry)
        bids, asks = wire.decode_levels(entry.data)
        mismatch = False
        with self._lock:
            if book.valid and book.update_id == entry.seq:
                # A periodic snapshot of a book we kept up to date: it must match exactly.
                mismatch = not (wire.levels_equal(book.bids(), bids) and wire.levels_equal(book.asks(), asks))
            book.replace(bids, asks, update_id=entry.seq)
            book.valid = True
        if mismatch:
            self._gaps += 1
            self._report(StreamGapError(f"{src.exchange}:{src.stream}: the book differs from the periodic snapshot "
                                        f"{entry.id}; replaced by it", stream=src.stream, reason="mismatch",
                                        epoch=entry.epoch))
        self._emit_book(src, (), True)

    def _apply_delta(self, src: _Source, entry: wire.WireEntry) -> None:
        if self.group is not None:
            return
        book = self._ensure_book(src, entry)
        if not book.valid:
            return
        bids, asks = wire.decode_levels(entry.data)
        changes: list[BookChange] = []
        with self._lock:
            for side, rows in ((Side.BID, bids), (Side.ASK, asks)):
                for price, size in rows:
                    change = book.set_level(side, price, size)
                    if change is not None:
                        changes.append(change)
            book.update_id = entry.seq
        self._emit_book(src, tuple(changes), False)

    # ------------------------------------------------------------------ consumer groups
    def _init_group(self, sources: list[_Source]) -> None:
        import redis

        r = self._redis
        for src in sources:
            self._meta(src)
            try:
                r.xgroup_create(src.key, self.group, id=self.group_start, mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            # Entries delivered to this consumer before (a restart) and never acknowledged.
            while not self._closed.is_set():
                reply = r.xreadgroup(self.group, self.consumer, {src.key: "0"}, count=self.count)
                rows = [row for _, rows in _rows(reply) for row in rows if row[1]]
                if not rows:
                    break
                self._deliver_group(src, rows)

    def _poll_group(self, sources: list[_Source]) -> None:
        reply = self._redis.xreadgroup(self.group, self.consumer, {s.key: ">" for s in sources}, count=self.count,
                                       block=int(self.block * 1000))
        if not reply:
            return
        by_key = {s.key: s for s in sources}
        for key, rows in _rows(reply):
            src = by_key.get(key)
            if src is not None and rows:
                self._deliver_group(src, rows)

    def _claim(self, sources: list[_Source]) -> None:
        """Take over entries other consumers left pending for ``claim_idle`` seconds."""
        r = self._redis
        idle_ms = int(self.claim_idle * 1000)
        for src in sources:
            start = "0-0"
            while not self._closed.is_set():
                reply = r.xautoclaim(src.key, self.group, self.consumer, idle_ms, start_id=start, count=self.count)
                start = _id(reply[0])
                rows = [row for row in reply[1] if row and row[1]]
                if rows:
                    self._claimed += len(rows)
                    self._deliver_group(src, rows)
                if start == "0-0":
                    break

    def _deliver_group(self, src: _Source, rows: list[Any]) -> None:
        done: list[str] = []
        for entry_id, fields in rows:
            eid = _id(entry_id)
            src.cursor = eid
            try:
                entry = wire.decode_entry(eid, fields, exchange=src.exchange, stream=src.stream, symbol=src.symbol)
            except MalformedFrameError as exc:
                self._report(exc)
                done.append(eid)  # it will never decode: do not hand it out again
                continue
            if self._deliver(src, entry):
                done.append(eid)
            if entry.kind == wire.GAP:
                self._gap_entry(src, entry)
        if done:
            self._acked += int(self._redis.xack(src.key, self.group, *done))

    # ------------------------------------------------------------------ callbacks
    def _deliver(self, src: _Source, entry: wire.WireEntry) -> bool:
        """``on_message``; False when it raised (the entry is then not acknowledged)."""
        self._entries += 1
        hook = self.on_message
        if hook is None:
            return True
        event = StreamEntry(
            stream=entry.stream or src.stream,
            symbol=entry.symbol,
            data=entry.data,
            id=entry.id,
            key=src.key,
            exchange=entry.exchange or src.exchange,
            kind=entry.kind,
            epoch=entry.epoch,
            n=entry.n,
            seq=entry.seq,
            prev=entry.prev,
            exchange_time_us=entry.exchange_time_us,
            receive_time_us=entry.receive_time_us,
            event=entry.event,
        )
        try:
            hook(self, event)
        except Exception as exc:  # noqa: BLE001 - user code must never end the reader
            self._callback_failed("on_message", exc)
            return False
        return True

    def _emit_book(self, src: _Source, changes: tuple[BookChange, ...], snapshot: bool) -> None:
        hook = self.on_book
        book, live = src.book, src.live
        if hook is None or book is None or live is None:
            return
        update = OrderBookUpdate(stream=src.stream, symbol=book.symbol, data=None, book=live, changes=changes,
                                 snapshot=snapshot, update_id=book.update_id, valid=book.valid)
        try:
            hook(self, update)
        except Exception as exc:  # noqa: BLE001 - user code must never end the reader
            self._callback_failed("on_book", exc)

    def _callback_failed(self, name: str, exc: Exception) -> None:
        err = CallbackError(f"{name} callback raised {type(exc).__name__}: {exc}", hook=name, original=exc)
        err.__cause__ = exc
        self._report(err)

    def _report(self, exc: BaseException) -> None:
        self._errors += 1
        report(self, self.on_error, "on_error", exc)


def _rows(reply: Any) -> list[tuple[str, list[Any]]]:
    """``[(key, [(id, fields), ...])]`` from an XREAD/XREADGROUP reply (RESP2 list or RESP3 dict)."""
    if isinstance(reply, dict):
        return [(_id(k), v[0] if v and isinstance(v[0], list) else v) for k, v in reply.items()]
    return [(_id(k), rows) for k, rows in reply]


def _previous_id(entry_id: str) -> str:
    """The id just before ``entry_id`` (so that an exclusive read starts at it)."""
    ms, seq = _id_tuple(entry_id)
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{2**64 - 1}" if ms > 0 else "0-0"


def _looks_like_id(text: str) -> bool:
    ms, sep, seq = text.partition("-")
    return ms.isdigit() and (not sep or seq.isdigit())


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
