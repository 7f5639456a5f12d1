"""``RedisStreamSink``: publish a client's events and books into Redis Streams.

Two sides, two threads:

- The **producer side** runs on the client's threads (reader thread; the snapshot thread of a
  Backpack resync; the watchdog thread for its errors).  It only decides what to publish and
  appends to a bounded in-memory queue; it never touches Redis and never blocks.  When the
  queue is full the item is dropped and counted, and the stream is marked: once the queue
  takes items again a ``gap`` entry goes first and every affected book is re-published from a
  fresh snapshot (a new epoch).
- The **writer thread** (``<name>-writer``) takes batches off the queue, numbers them
  (``epoch``/``n``, see :mod:`bpbfx.sinks.wire`), sends them as one pipelined round of
  ``XADD ... MAXLEN ~ N`` and records the latest snapshot id in each stream's ``:meta`` hash.
  When Redis is down or stops answering (``socket_timeout``) the batch in flight is counted as
  lost, a ``gap`` entry is owed to each of its streams, books wait for a fresh snapshot, and
  the writer reconnects with the :class:`~bpbfx.Backoff` policy.  Meanwhile the queue fills and
  then drops, as above: nothing pretends to be continuous when it is not.

Book streams publish ``snapshot`` entries (after every rebuild, and every ``snapshot_every``
deltas or ``snapshot_interval`` seconds), ``delta`` entries only while the client's book is
valid, and a ``gap`` entry (reason, expected, got) when the client reports a checksum mismatch,
sequence gap, stale snapshot or lost connection; the next snapshot starts a new epoch.  Raw
book frames are not published separately: the entries carry the book's own changes.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..backoff import Backoff
from ..base import BaseClient
from ..book import BookSnapshot
from ..events import Event
from ..exceptions import (
    BookError,
    ChecksumMismatchError,
    ConfigurationError,
    ConnectionLostError,
    RedisUnavailableError,
    SequenceGapError,
    StaleBookError,
    StreamGapError,
)
from ..live import LiveBook, OrderBookUpdate
from ..sink import Sink, SinkHost
from . import wire
from ._redis import REDIS_ERRORS, RawPipeline, connect, report, safe_url, unavailable

__all__ = ["DEFAULT_MAXLEN", "RedisStreamSink", "SinkStats", "check_options"]

log = logging.getLogger("bpbfx")

DEFAULT_MAXLEN = 100_000
"""Entries kept per stream (``MAXLEN ~``) unless ``maxlen`` says otherwise."""

# Control and integrity events that belong to the connection, not to a data stream.
_SKIP = frozenset({"Heartbeat", "Checksum", "Info", "Conf", "Subscribed", "Unsubscribed", "Pong", "AuthResult",
                   "ErrorReply"})

ErrorHook = Callable[["RedisStreamSink", BaseException], None]


def _now_us() -> int:
    return time.time_ns() // 1000


_TIME_GETTERS: dict[type, Callable[[Any], int | None]] = {}


def _exchange_time(event: Event) -> int | None:
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


def _event_seq(event: Event) -> tuple[int | None, int | None]:
    """(seq, prev) of a raw event: Backpack depth ``u`` / ``U - 1``; Bitfinex SEQ_ALL."""
    last = getattr(event, "last_update_id", None)
    if type(last) is int:
        first = getattr(event, "first_update_id", None)
        return last, (first - 1 if type(first) is int else None)
    seq = getattr(event, "seq", None)
    return (seq if type(seq) is int else None), None


class _Item:
    """One thing to publish, made on a producer thread, numbered and encoded by the writer."""

    __slots__ = ("after", "et", "ev", "exchange", "key", "kind", "payload", "prev", "rebuild", "rt", "seq",
                 "stream", "symbol")

    def __init__(self, key: str, exchange: str, stream: str, symbol: str | None, kind: str, payload: Any,
                 rt: int, seq: int | None = None, prev: int | None = None, et: int | None = None,
                 ev: str = "", rebuild: bool = False) -> None:
        self.key = key
        self.exchange = exchange
        self.stream = stream
        self.symbol = symbol
        self.kind = kind
        self.payload = payload
        self.rt = rt
        self.seq = seq
        self.prev = prev
        self.et = et
        self.ev = ev
        self.rebuild = rebuild
        self.after: _Item | None = None  # a periodic snapshot taken right after this delta


_Entry = tuple[str, list[bytes], str, int, bool, _Item]
"""(key, XADD arguments, kind, epoch, first of its epoch, item): one entry ready to send."""


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
        self.pending: _Item | None = None  # a delta waiting for its frame's event (exchange time)
        self.last_uid: int | None = None
        self.since_snap = 0
        self.snap_at = 0.0


class _Key:
    """Writer-side numbering of one Redis stream (touched only by the writer thread)."""

    __slots__ = ("book", "closed", "epoch", "gap", "meta", "n", "need_snapshot")

    def __init__(self) -> None:
        self.epoch = 0
        self.n: int | None = None
        self.closed = False
        self.gap: dict[str, Any] | None = None  # a gap entry owed before the next entry
        self.need_snapshot = False
        self.meta = False  # the stored epoch was read
        self.book = False


@dataclass(frozen=True, slots=True)
class SinkStats:
    """Counters of a :class:`RedisStreamSink` (see :meth:`RedisStreamSink.stats`).

    ``queued``: items waiting; ``written``: entries in Redis; ``dropped``: items dropped because
    the queue was full; ``lost``: entries of batches Redis did not confirm; ``discarded``: book
    deltas thrown away while a book waited for its fresh snapshot; ``gaps``/``snapshots``: such
    entries written; ``batches``: pipelined rounds; ``reconnects``: connections to Redis after
    the first; ``connected``: the writer has a working connection.
    """

    queued: int
    written: int
    dropped: int
    lost: int
    discarded: int
    gaps: int
    snapshots: int
    batches: int
    reconnects: int
    errors: int
    connected: bool


def check_options(
    redis: Any = None,
    *,
    queue_size: int = 100_000,
    batch_size: int = 500,
    maxlen: int | Mapping[str, int] | None = DEFAULT_MAXLEN,
    snapshot_every: int = 1000,
    snapshot_interval: float | None = 60.0,
    **_: Any,
) -> dict[str, int | None]:
    """Check :class:`RedisStreamSink` options without making one (the collector checks its
    config before starting workers); returns ``maxlen`` per kind.  Calling thread.

    Raises:
        ConfigurationError: what is wrong, and what would be valid.
    """
    if queue_size < 1 or batch_size < 1 or snapshot_every < 1:
        raise ConfigurationError("queue_size, batch_size and snapshot_every must be >= 1")
    if snapshot_interval is not None and snapshot_interval <= 0:
        raise ConfigurationError(f"snapshot_interval must be > 0 seconds or None, got {snapshot_interval!r}")
    if isinstance(maxlen, int):
        limits: dict[str, int | None] = {"default": maxlen}
    elif maxlen is None:
        limits = {"default": None}
    else:
        limits = {"default": DEFAULT_MAXLEN, **dict(maxlen)}
    if any(v is not None and v < 1 for v in limits.values()):
        raise ConfigurationError(f"maxlen values must be >= 1, got {maxlen!r}")
    book_len = min((v for k, v in limits.items() if k in ("snapshot", "delta", "default") and v), default=0)
    if book_len and snapshot_every >= book_len:
        raise ConfigurationError(
            f"snapshot_every ({snapshot_every}) must be below the book streams' maxlen ({book_len}), "
            "or late readers could find no snapshot"
        )
    if isinstance(redis, str) and redis.split(":", 1)[0] not in ("redis", "rediss", "unix", "redis+cluster"):
        raise ConfigurationError(f"not a Redis URL: {safe_url(redis)!r} (redis://host:port/db, redis+cluster://...)")
    return limits


class RedisStreamSink(Sink):
    """Publishes every event and book update of the clients it is attached to into Redis
    Streams, one stream per bpbfx stream (see :mod:`bpbfx.sinks.wire` for keys and fields).

    Args:
        redis: a URL (``redis://host:port/db``, ``redis+cluster://host:port``) or a redis-py
            ``Redis``/``RedisCluster`` client (then it should not retry commands itself).
        cluster: for a URL: True for Redis Cluster, None to ask the server.
        queue_size: items the in-memory queue holds; beyond that items are dropped (counted,
            then a gap entry).
        batch_size: entries per pipelined round.
        maxlen: ``MAXLEN ~`` per stream, an int or a mapping ``kind -> int`` (kinds: ``snapshot``,
            ``delta``, ``gap``, ``trade``, ...; key ``"default"`` for the rest); None: unbounded.
        snapshot_every: publish a book snapshot after this many deltas (keep it well below
            the book streams' maxlen, so a snapshot is always kept).
        snapshot_interval: and at least every this many seconds of deltas (None: never).
        backoff: reconnect policy for Redis (:class:`~bpbfx.Backoff`; default: the policy of
            the client given to :meth:`attach`, else ``Backoff()``).
        socket_timeout: seconds Redis may take to answer before it counts as down.
        prefix: key prefix (``bpbfx``).
        on_report: ``(sink, exc)`` for Redis trouble (:class:`~bpbfx.RedisUnavailableError`,
            writer thread) and the first drop of a stream (:class:`~bpbfx.StreamGapError`, the
            client's thread); without it they are logged at WARNING.
        name: thread name prefix.

    Attach with ``client.add_sink(sink)`` or :meth:`attach`.  The writer thread starts at
    once; :meth:`close` flushes and stops it.  One sink (one writer) per stream key: never
    let two sinks publish the same bpbfx stream into the same Redis.

    Raises:
        ConfigurationError: a bad size or URL.
    """

    def __init__(
        self,
        redis: Any,
        *,
        cluster: bool | None = None,
        queue_size: int = 100_000,
        batch_size: int = 500,
        maxlen: int | Mapping[str, int] | None = DEFAULT_MAXLEN,
        snapshot_every: int = 1000,
        snapshot_interval: float | None = 60.0,
        backoff: Backoff | None = None,
        socket_timeout: float = 2.0,
        prefix: str = "bpbfx",
        on_report: ErrorHook | None = None,
        name: str = "redis-sink",
    ) -> None:
        self._maxlen = check_options(redis, queue_size=queue_size, batch_size=batch_size, maxlen=maxlen,
                                     snapshot_every=snapshot_every, snapshot_interval=snapshot_interval)
        self._url = redis if isinstance(redis, str) else None
        self._redis: Any = None if self._url is not None else redis
        self._pipe: RawPipeline | None = None
        self._own_client = self._url is not None
        self._cluster = cluster
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.snapshot_every = snapshot_every
        self.snapshot_interval = snapshot_interval
        self.backoff = backoff or Backoff()
        self._backoff_given = backoff is not None
        self.socket_timeout = socket_timeout
        self.prefix = prefix
        self.on_report = on_report
        self.name = name
        # producer side
        self._queue: collections.deque[_Item] = collections.deque()
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._plock = threading.Lock()  # creating producer state; gap bookkeeping across threads
        self._resync: set[str] = set()  # keys whose book must be re-published (set by the writer)
        self._dropped = 0
        # writer side
        self._keys: dict[str, _Key] = {}
        self._written = 0
        self._lost = 0
        self._discarded = 0
        self._gaps = 0
        self._snapshots = 0
        self._batches = 0
        self._reconnects = 0
        self._errors = 0
        self._connected = False
        self._busy = False
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._closing = threading.Event()
        self._stopped = threading.Event()
        self._clients: dict[int, SinkHost] = {}
        self._writer = threading.Thread(target=self._run, name=f"{name}-writer", daemon=True)
        self._writer.start()

    def __repr__(self) -> str:
        where = safe_url(self._url) if self._url else type(self._redis).__name__
        return f"<RedisStreamSink {where} queued={len(self._queue)} written={self._written} dropped={self._dropped}>"

    # ------------------------------------------------------------------ public API
    def attach(self, client: BaseClient) -> None:
        """``client.add_sink(self)``, remembering the client so that :meth:`close` after the
        last attached client closed is automatic; without a ``backoff`` of its own the sink
        reconnects to Redis with the client's policy.  Any thread.

        Raises:
            ClientClosedError: the client is closed.
        """
        if not self._backoff_given:
            self.backoff = client.backoff
        self._clients[id(client)] = client
        client.add_sink(self)

    def stats(self) -> SinkStats:
        """A snapshot of the counters (any thread)."""
        return SinkStats(
            queued=len(self._queue),
            written=self._written,
            dropped=self._dropped,
            lost=self._lost,
            discarded=self._discarded,
            gaps=self._gaps,
            snapshots=self._snapshots,
            batches=self._batches,
            reconnects=self._reconnects,
            errors=self._errors,
            connected=self._connected,
        )

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Block until everything queued so far is written (True) or ``timeout`` passes
        (False, e.g. Redis is down).  Any thread but the writer's."""
        self._release_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue or self._busy:
            if self._stopped.is_set():
                return not self._queue
            self._wake.set()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._idle.clear()
            if not self._queue and not self._busy:
                break
            self._idle.wait(0.05 if remaining is None else min(0.05, remaining))
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (up to ``timeout`` seconds), stop the writer and close the
        connection it made.  Idempotent; any thread but the writer's."""
        if self._closing.is_set():
            return
        self.flush(timeout)
        self._closing.set()
        self._wake.set()
        if self._writer is not threading.current_thread():
            self._writer.join(timeout)
        left = len(self._queue)
        if left:
            self._dropped += left
            self._report(RedisUnavailableError(f"{self.name}: closed with {left} entries never written "
                                               "(Redis was unavailable)", url=safe_url(self._url or "")))
        if self._own_client and self._redis is not None:
            try:
                self._redis.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail; nothing to do
                pass

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closing.is_set()

    def __enter__(self) -> RedisStreamSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ Sink (client threads)
    def on_event(self, client: SinkHost, event: Event) -> None:
        """Queue an event (the client's reader thread); never blocks."""
        cls = type(event)
        if cls.__name__ in _SKIP:
            return
        st = self._streams.get((client.exchange, event.stream))
        if st is None:
            st = self._new_stream(client, event.stream, None)
        if st.book:
            pending = st.pending
            if pending is not None:
                # The book entry of this frame was made in on_book just before; now its time is known.
                st.pending = None
                pending.et = _exchange_time(event)
                self._put(st, pending)
            return
        if st.symbol is None:
            st.symbol = event.symbol
        seq, prev = _event_seq(event)
        item = _Item(st.key, st.exchange, st.stream, event.symbol, wire.event_kind(cls), event.data, _now_us(),
                     seq, prev, _exchange_time(event), cls.__name__)
        if st.lost:
            self._owe_gap(st, "overflow")
            if st.lost:
                return
        if self._put(st, item):
            st.live = True

    def on_book(self, client: SinkHost, update: OrderBookUpdate) -> None:
        """Queue a book entry for ``update`` (the client's reader or snapshot thread)."""
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
            self._owe_gap(st, "overflow")
            if st.lost:
                return
        now = _now_us()
        if update.snapshot or not st.live:
            if not update.valid:
                return
            if update.snapshot and st.live:
                self._owe_gap(st, "rebuild", message="the client rebuilt the book from a new snapshot")
            self._put_snapshot(st, update.book, now, rebuild=True)
            return
        if not update.valid:
            self._owe_gap(st, "invalid", message="the client marked the book invalid")
            return
        item = _Item(st.key, st.exchange, st.stream, st.symbol, wire.DELTA, update.changes, now,
                     update.update_id, st.last_uid)
        st.last_uid = update.update_id
        st.since_snap += 1
        if st.since_snap >= self.snapshot_every or (
            self.snapshot_interval is not None and time.monotonic() - st.snap_at >= self.snapshot_interval
        ):
            item.after = self._snapshot_item(st, update.book, now, rebuild=False)
        st.pending = item

    def on_error(self, client: SinkHost, error: BaseException) -> None:
        """Turn a client's book and connection errors into gap entries (client threads)."""
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
                    self._owe_gap(st, reason, expected, got, error.message)
        elif isinstance(error, ConnectionLostError):
            for st in self._client_streams(client, books=None):
                self._owe_gap(st, "reconnect", message=error.message)

    def on_detach(self, client: SinkHost) -> None:
        """Publish what is held back; close the sink once every client given to
        :meth:`attach` has detached (calling thread)."""
        self._release_all()
        if self._clients.pop(id(client), None) is not None and not self._clients:
            self.close()

    # ------------------------------------------------------------------ producer internals
    def _new_stream(self, client: SinkHost, stream: str, book: bool | None) -> _Stream:
        with self._plock:
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

    def _snapshot_item(self, st: _Stream, book: LiveBook, now: int, *, rebuild: bool) -> _Item:
        snap = book.snapshot()
        st.since_snap = 0
        st.snap_at = time.monotonic()
        st.last_uid = snap.update_id
        return _Item(st.key, st.exchange, st.stream, st.symbol, wire.SNAPSHOT, snap, now, snap.update_id,
                     rebuild=rebuild)

    def _put_snapshot(self, st: _Stream, book: LiveBook, now: int, *, rebuild: bool) -> None:
        item = self._snapshot_item(st, book, now, rebuild=rebuild)
        if self._put(st, item):
            st.live = True

    def _put(self, st: _Stream, item: _Item) -> bool:
        """Append to the queue; on a full queue drop, count and mark the stream."""
        queue = self._queue
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
        if not self._busy:
            self._wake.set()
        return True

    def _drop(self, st: _Stream) -> None:
        first = st.lost == 0
        st.lost += 1
        st.live = False
        self._dropped += 1
        if first:
            self._report(_queue_full(st, self.queue_size))

    def _owe_gap(self, st: _Stream, reason: str, expected: int | None = None, got: int | None = None,
                 message: str = "") -> None:
        """Queue a gap entry for ``st`` (and make a book wait for a new snapshot)."""
        if not st.live and not st.lost:
            return  # nothing was published since the last gap: one gap per hole
        pending = st.pending
        if pending is not None:
            st.pending = None
            self._put(st, pending)
        dropped = st.lost
        payload = {"reason": "overflow" if dropped else reason, "expected": expected, "got": got,
                   "dropped": dropped, "message": message or (f"{dropped} entries dropped: the sink's queue was full"
                                                              if dropped else "")}
        item = _Item(st.key, st.exchange, st.stream, st.symbol, wire.GAP, payload, _now_us())
        st.live = False
        queue = self._queue
        if len(queue) >= self.queue_size:
            st.lost += 1
            self._dropped += 1
            return
        st.lost = 0
        queue.append(item)
        self._wake.set()

    def _release_all(self) -> None:
        for st in list(self._streams.values()):
            pending = st.pending
            if pending is not None:
                st.pending = None
                self._put(st, pending)

    def _report(self, exc: BaseException) -> None:
        self._errors += 1
        report(self, self.on_report, "on_report", exc)

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        attempt = 0
        while True:
            if self._redis is None or not self._connected:
                if self._closing.is_set() and not self._queue:
                    break
                if not self._connect():
                    attempt += 1
                    if self._closing.wait(self.backoff.delay(attempt)):
                        break
                    continue
                attempt = 0
            batch = self._take()
            if not batch:
                if self._closing.is_set():
                    break
                self._idle.set()
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            try:
                self._write(batch)
            except REDIS_ERRORS as exc:
                self._failed(batch, exc)
            except Exception as exc:  # noqa: BLE001 - a Redis error reply must not kill the writer
                self._failed(batch, exc)
            finally:
                self._busy = False
        self._busy = False
        self._idle.set()
        self._stopped.set()

    def _take(self) -> list[_Item]:
        queue = self._queue
        if not queue:
            return []
        self._busy = True
        batch: list[_Item] = []
        popleft = queue.popleft
        try:
            for _ in range(self.batch_size):
                batch.append(popleft())
        except IndexError:
            pass
        return batch

    def _connect(self) -> bool:
        try:
            if self._url is not None:
                if self._redis is not None:
                    try:
                        self._redis.close()
                    except Exception:  # noqa: BLE001 - the old connection is dead anyway
                        pass
                self._redis = connect(self._url, cluster=self._cluster, socket_timeout=self.socket_timeout)
            self._redis.ping()
            self._pipe = RawPipeline(self._redis)
        except REDIS_ERRORS as exc:
            self._connected = False
            self._report(unavailable(exc, self._url or ""))
            return False
        except Exception as exc:  # noqa: BLE001 - e.g. a cluster that is not ready yet
            self._connected = False
            self._report(unavailable(exc, self._url or ""))
            return False
        if self._batches or self._reconnects:
            self._reconnects += 1
            log.info("%s: connected to Redis again", self.name)
        self._connected = True
        return True

    def _raw(self) -> RawPipeline:
        pipe = self._pipe
        if pipe is None:
            raise RedisUnavailableError("not connected to Redis yet")
        return pipe

    def _key(self, key: str) -> _Key:
        ks = self._keys.get(key)
        if ks is None:
            ks = self._keys[key] = _Key()
        return ks

    def _read_meta(self, batch: list[_Item]) -> None:
        """Read the stored epoch of streams this writer has not written yet: a previous
        writer's stream continues with a ``writer_restart`` gap and epoch + 1."""
        new = [key for key in dict.fromkeys(item.key for item in batch) if not self._key(key).meta]
        if not new:
            return
        replies = self._raw().execute([(key, [b"HGET", wire.meta_key(key).encode(), b"epoch"]) for key in new])
        for key, stored in zip(new, replies, strict=True):
            if isinstance(stored, Exception):
                raise stored
            ks = self._keys[key]
            ks.meta = True
            if stored is not None:
                ks.epoch = max(ks.epoch, int(stored))
                if ks.gap is None:
                    ks.gap = {"reason": "writer_restart", "expected": None, "got": None, "dropped": 0,
                              "message": "a new writer took over this stream; what happened in between is unknown"}

    def _write(self, batch: list[_Item]) -> None:
        self._read_meta(batch)
        entries: list[_Entry] = []
        for item in batch:
            self._plan(item, entries)
        if not entries:
            return
        commands: list[tuple[str, list[bytes]]] = [(key, args) for key, args, _, _, _, _ in entries]
        epochs: dict[str, tuple[int, _Item]] = {}
        for key, _, _, epoch, first, item in entries:
            if first:
                epochs[key] = (epoch, item)
        for key, (epoch, item) in epochs.items():
            commands.append((key, [b"HSET", wire.meta_key(key).encode(), b"v", b"1", b"ex", item.exchange.encode(),
                                   b"stream", item.stream.encode(), b"sym", (item.symbol or "").encode(), b"epoch",
                                   str(epoch).encode()]))
        results = self._raw().execute(commands)
        snapshots: dict[str, tuple[str, int]] = {}
        failed: Exception | None = None
        for (key, _, kind, epoch, _, _), reply in zip(entries, results[: len(entries)], strict=True):
            if isinstance(reply, Exception):
                failed = failed or reply
                continue
            self._written += 1
            if kind == wire.SNAPSHOT:
                snapshots[key] = (reply.decode() if isinstance(reply, bytes) else str(reply), epoch)
            elif kind == wire.GAP:
                self._gaps += 1
        if snapshots:
            meta = [(key, [b"HSET", wire.meta_key(key).encode(), b"snapshot", entry_id.encode(), b"snapshot_epoch",
                           str(epoch).encode()]) for key, (entry_id, epoch) in snapshots.items()]
            self._raw().execute(meta)
            self._snapshots += len(snapshots)
        self._batches += 1
        if failed is not None:
            self._report(unavailable(failed, self._url or ""))

    def _plan(self, item: _Item, out: list[_Entry]) -> None:
        """Number ``item`` (and an owed gap before it) and append the entries to write."""
        ks = self._key(item.key)
        kind = item.kind
        if kind in wire.BOOK_KINDS:
            ks.book = True
        if kind == wire.GAP:
            if ks.gap is not None:
                owed = ks.gap
                ks.gap = None
                messages = (owed.get("message"), item.payload.get("message"))
                item.payload = {**owed, "dropped": owed.get("dropped", 0) + item.payload.get("dropped", 0),
                                "message": "; ".join(m for m in messages if m)}
            out.append(self._entry(item, ks))
            if ks.book:
                ks.need_snapshot = True
            return
        if ks.gap is not None:
            gap = _Item(item.key, item.exchange, item.stream, item.symbol, wire.GAP, ks.gap, item.rt)
            ks.gap = None
            out.append(self._entry(gap, ks))
            if ks.book:
                ks.need_snapshot = True
        if ks.need_snapshot:
            if kind == wire.SNAPSHOT and item.rebuild:
                ks.need_snapshot = False
            elif kind in wire.BOOK_KINDS:
                self._discarded += 1
                return
        out.append(self._entry(item, ks))

    def _entry(self, item: _Item, ks: _Key) -> _Entry:
        """The ``XADD`` arguments of ``item``, numbered (empty fields are left out)."""
        kind = item.kind
        if kind == wire.GAP:
            if ks.epoch == 0:
                ks.epoch = 1
            n = 0 if ks.n is None else ks.n + 1
            ks.n = n
            ks.closed = True
        elif ks.closed or ks.n is None or (kind == wire.SNAPSHOT and item.rebuild):
            ks.epoch += 1
            n = ks.n = 0
            ks.closed = False
        else:
            n = ks.n = ks.n + 1
        payload = item.payload
        if kind == wire.DELTA:
            data = wire.encode_changes(payload)
        elif kind == wire.SNAPSHOT:
            assert isinstance(payload, BookSnapshot)
            data = wire.encode_snapshot(payload)
        else:
            data = json.dumps(payload, separators=(",", ":"), default=str)
        limit = self._maxlen.get(kind, self._maxlen["default"])
        args = [b"XADD", item.key.encode()]
        if limit is not None:
            args += [b"MAXLEN", b"~", str(limit).encode()]
        args += [b"*", b"v", b"1", b"kind", kind.encode(), b"epoch", str(ks.epoch).encode(), b"n", str(n).encode(),
                 b"rt", str(item.rt).encode()]
        if item.seq is not None:
            args += [b"seq", str(item.seq).encode()]
        if item.prev is not None:
            args += [b"prev", str(item.prev).encode()]
        if item.et is not None:
            args += [b"et", str(item.et).encode()]
        args += [b"data", data.encode()]
        return item.key, args, kind, ks.epoch, n == 0 and kind != wire.GAP, item

    def _failed(self, batch: list[_Item], exc: BaseException) -> None:
        """A round was not confirmed: owe a gap to each of its streams; books wait for a
        fresh snapshot; reconnect."""
        counts: dict[str, int] = {}
        for item in batch:
            counts[item.key] = counts.get(item.key, 0) + 1
        self._lost += len(batch)
        for key, count in counts.items():
            ks = self._key(key)
            prior = ks.gap["dropped"] if ks.gap else 0
            ks.gap = {"reason": "redis", "expected": None, "got": None, "dropped": prior + count,
                      "message": f"Redis did not confirm {count} entries: {type(exc).__name__}: {exc}"}
            if ks.book:
                ks.need_snapshot = True
                self._resync.add(key)
        self._connected = False
        err = exc if not isinstance(exc, REDIS_ERRORS) else unavailable(exc, self._url or "")
        self._report(err)


def _queue_full(st: _Stream, size: int) -> StreamGapError:
    """The report of the first drop on a stream since its last gap entry."""
    return StreamGapError(
        f"{st.key}: the sink's queue is full ({size} items; Redis is slow or down): dropping entries; "
        "a gap entry and a fresh snapshot follow once it drains",
        stream=st.stream,
        reason="overflow",
    )

