"""``RedisStreamSink``: publish a client's events and books into Redis Streams.

Two sides, two threads, one sans-I/O core:

- The **producer side** runs on the client's threads (reader thread; the snapshot thread of a
  Backpack resync; the watchdog thread for its errors).  :class:`~bpbfx.sinks.publish.Publisher`
  decides what to publish and appends to a bounded in-memory queue; it never touches Redis and
  never blocks.  When the queue is full the item is dropped and counted, and the stream is
  marked: once the queue takes items again a ``gap`` entry goes first and every affected book
  is re-published from a fresh snapshot (a new epoch).
- The **writer thread** (:class:`~bpbfx.sinks.writer.Writer`, ``<name>-writer``) takes batches
  off the queue, has :class:`~bpbfx.sinks.plan.Planner` number them (``epoch``/``n``, see
  :mod:`bpbfx.sinks.wire`), sends them as one pipelined round of ``XADD ... MAXLEN ~ N`` and
  records the latest snapshot id in each stream's ``:meta`` hash.  When Redis is down or stops
  answering (``socket_timeout``) the batch in flight is counted as lost, a ``gap`` entry is
  owed to each of its streams, books wait for a fresh snapshot, and the writer reconnects with
  the :class:`~bpbfx.Backoff` policy.  Meanwhile the queue fills and then drops, as above:
  nothing pretends to be continuous when it is not.

Book streams publish ``snapshot`` entries (after every rebuild, and every ``snapshot_every``
deltas or ``snapshot_interval`` seconds), ``delta`` entries only while the client's book is
valid, and a ``gap`` entry (reason, expected, got) when the client reports a checksum mismatch,
sequence gap, stale snapshot or lost connection; the next snapshot starts a new epoch.  Raw
book frames are not published separately: the entries carry the book's own changes.  The
guide is ``bpbfx/docs/redis.md``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from ..backoff import Backoff
from ..base import BaseClient
from ..events import Event
from ..exceptions import ConfigurationError, RedisUnavailableError
from ..live import OrderBookUpdate
from ..sink import Sink, SinkHost
from .connection import safe_url
from .hooks import report
from .plan import Planner
from .publish import Publisher
from .writer import Writer

__all__ = ["DEFAULT_MAXLEN", "RedisStreamSink", "SinkStats", "check_options"]

DEFAULT_MAXLEN = 100_000
"""Entries kept per stream (``MAXLEN ~``) unless ``maxlen`` says otherwise."""

ErrorHook = Callable[["RedisStreamSink", BaseException], None]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SinkStats:
    """Counters of a :class:`RedisStreamSink` (see :meth:`RedisStreamSink.stats`).

    ``queued``: items waiting; ``written``: entries in Redis; ``dropped``: items dropped because
    the queue was full; ``lost``: entries of batches Redis did not confirm; ``discarded``: book
    deltas thrown away while a book waited for its fresh snapshot; ``gaps``/``snapshots``: such
    entries written; ``batches``: pipelined rounds; ``reconnects``: connections to Redis after
    the first; ``connected``: the writer has a working connection; ``gaps_by_reason``: the gap
    entries written by reason (``writer_restart``, ``overflow``, ``redis``, ``reconnect``,
    ``checksum``, ``sequence``, ``stale``, ``invalid``, ``rebuild``; a reason not there is 0),
    adding up to ``gaps``: a ``writer_restart`` gap marks a stream taken over from an earlier
    writer, the others mark entries that are missing; ``lag``: seconds the oldest queued item
    has waited (0.0 with an empty queue), how far the writer is behind the clients.
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
    gaps_by_reason: Mapping[str, int] = field(default_factory=dict, hash=False)
    lag: float = 0.0


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


class _Option(Generic[T]):
    """An option of the sink kept on the part that uses it (``_publisher`` or ``_writer``),
    read and written through."""

    def __init__(self, part: str, doc: str) -> None:
        self.part = part
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, sink: None, owner: type | None = None) -> _Option[T]: ...

    @overload
    def __get__(self, sink: object, owner: type | None = None) -> T: ...

    def __get__(self, sink: object | None, owner: type | None = None) -> T | _Option[T]:
        if sink is None:
            return self
        value: T = getattr(getattr(sink, self.part), self.name)
        return value

    def __set__(self, sink: object, value: T) -> None:
        setattr(getattr(sink, self.part), self.name, value)


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
        limits = check_options(redis, queue_size=queue_size, batch_size=batch_size, maxlen=maxlen,
                               snapshot_every=snapshot_every, snapshot_interval=snapshot_interval)
        self.on_report = on_report
        self.name = name
        self._errors = 0
        self._backoff_given = backoff is not None
        self._clients: dict[int, SinkHost] = {}
        wake = threading.Event()
        self._publisher = Publisher(queue_size=queue_size, snapshot_every=snapshot_every,
                                    snapshot_interval=snapshot_interval, prefix=prefix, wake=wake.set,
                                    report=self._report)
        self._planner = Planner(limits)
        self._writer = Writer(self._publisher, self._planner, wake, redis, cluster=cluster, batch_size=batch_size,
                              backoff=backoff, socket_timeout=socket_timeout, report=self._report, name=name)
        self._writer.start()

    def __repr__(self) -> str:
        return (f"<RedisStreamSink {self._writer.where} queued={len(self._publisher.queue)} "
                f"written={self._planner.written} dropped={self._publisher.dropped}>")

    # ------------------------------------------------------------------ options
    # Kept by the part that uses them, read when used: setting one takes effect from then on.
    backoff: _Option[Backoff] = _Option("_writer", "The reconnect policy for Redis (read at each retry).")
    queue_size: _Option[int] = _Option("_publisher", "Items the in-memory queue holds.")
    batch_size: _Option[int] = _Option("_writer", "Entries per pipelined round.")
    snapshot_every: _Option[int] = _Option("_publisher", "A periodic book snapshot after this many deltas.")
    snapshot_interval: _Option[float | None] = _Option("_publisher", "And every this many seconds (None: never).")
    socket_timeout: _Option[float] = _Option("_writer", "Seconds Redis may take to answer (next connection).")
    prefix: _Option[str] = _Option("_publisher", "The key prefix (streams not seen yet).")

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
        planner, writer, queue = self._planner, self._writer, self._publisher.queue
        try:
            oldest: int | None = queue[0].rt
        except IndexError:  # empty (the writer may take the last item while we look)
            oldest = None
        return SinkStats(
            queued=len(queue),
            written=planner.written,
            dropped=self._publisher.dropped,
            lost=planner.lost,
            discarded=planner.discarded,
            gaps=planner.gaps,
            snapshots=planner.snapshots,
            batches=planner.batches,
            reconnects=writer.reconnects,
            errors=self._errors,
            connected=writer.connected,
            gaps_by_reason=dict(planner.gaps_by_reason),
            lag=0.0 if oldest is None else max(0.0, time.time() - oldest / 1e6),
        )

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Block until everything queued so far is written (True) or ``timeout`` passes
        (False, e.g. Redis is down).  Any thread but the writer's."""
        self._publisher.release_all()
        return self._writer.flush(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (up to ``timeout`` seconds), stop the writer and close the
        connection it made.  Idempotent; any thread but the writer's."""
        if self._writer.closing:
            return
        self.flush(timeout)
        self._writer.close(timeout)
        left = self._publisher.abandon()
        if left:
            self._report(RedisUnavailableError(f"{self.name}: closed with {left} entries never written "
                                               "(Redis was unavailable)", url=self._writer.url))

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._writer.closing

    def __enter__(self) -> RedisStreamSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ Sink (client threads)
    def on_event(self, client: SinkHost, event: Event) -> None:
        """Queue an event (the client's reader thread); never blocks."""
        self._publisher.event(client, event, time.time_ns() // 1000)

    def on_book(self, client: SinkHost, update: OrderBookUpdate) -> None:
        """Queue a book entry for ``update`` (the client's reader or snapshot thread)."""
        self._publisher.book(client, update, time.time_ns() // 1000, time.monotonic())

    def on_error(self, client: SinkHost, error: BaseException) -> None:
        """Turn a client's book and connection errors into gap entries (client threads)."""
        self._publisher.error(client, error, time.time_ns() // 1000)

    def on_detach(self, client: SinkHost) -> None:
        """Publish what is held back; close the sink once every client given to
        :meth:`attach` has detached (calling thread)."""
        self._publisher.release_all()
        if self._clients.pop(id(client), None) is not None and not self._clients:
            self.close()

    def _report(self, exc: BaseException) -> None:
        self._errors += 1
        report(self, self.on_report, "on_report", exc)


# Names this module imported before its rules moved to .publish, .plan and .writer: still
# reachable here for code that took them from this module.
from ..book import FrozenBook  # noqa: E402, F401
from ..exceptions import (  # noqa: E402, F401
    BookError,
    ChecksumMismatchError,
    ConnectionLostError,
    SequenceGapError,
    StaleBookError,
    StreamGapError,
)
from ..live import LiveBook  # noqa: E402, F401
from . import wire  # noqa: E402, F401
from .connection import REDIS_ERRORS, connect, unavailable  # noqa: E402, F401
from .hooks import log  # noqa: E402, F401
from .pipeline import RawPipeline  # noqa: E402, F401
