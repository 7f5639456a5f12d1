"""``RedisStreamReader``: read bpbfx streams back from Redis, with the live client's guarantees.

A reader rebuilds the same books the publishing client had (``book(symbol)`` returns a
:class:`~bpbfx.live.LiveBook`), checks the numbering of every entry (:class:`~bpbfx.sinks.wire.
Continuity`), and says so loudly when something is missing: a ``gap`` entry, a hole in the
numbering or a cursor that fell behind the trimmed start of a stream each reach ``on_error`` as
a :class:`~bpbfx.exceptions.StreamGapError` (:class:`~bpbfx.exceptions.StreamTrimmedError`), and
the book stays invalid until the next snapshot (the reader jumps to the latest one when it can).

Threads: one **reader thread** per group of streams that can be read with one ``XREAD`` (all
of them on a single Redis: ``redis-reader``; one per hash slot on Redis Cluster:
``redis-reader-0``, ``redis-reader-1``, ..., after ``name``).  It runs
``on_message``, ``on_book`` and ``on_error`` one at a time, in stream order; a slow callback
only delays this reader (Redis keeps the entries, up to the stream's ``MAXLEN``).

The reading rules are :mod:`bpbfx.sinks.reading` (no I/O); a thread's Redis calls and callbacks
are :mod:`bpbfx.sinks.polling`; this module is the public face.  The guide is
``bpbfx/docs/redis.md``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..backoff import Backoff
from ..exceptions import ClientClosedError, ConfigurationError
from ..live import LiveBook, OrderBookUpdate
from . import wire
from .connection import connect, is_cluster, safe_url
from .polling import Counters, Poller
from .reading import Source, StreamEntry, looks_like_id

__all__ = ["ReaderStats", "RedisStreamReader", "StreamEntry"]

log = logging.getLogger("bpbfx")

MessageHook = Callable[[Any, "StreamEntry"], None]
BookHook = Callable[[Any, OrderBookUpdate], None]
ErrorHook = Callable[[Any, BaseException], None]


@dataclass(frozen=True, slots=True)
class ReaderStats:
    """Counters of a :class:`RedisStreamReader`: ``entries`` delivered, ``gaps`` reported
    (gap entries and holes found), ``resyncs`` (jumps to the latest snapshot), ``trimmed``
    (cursors that fell behind the trimmed start), ``stale`` (entries already seen, skipped),
    ``acked`` / ``claimed`` (consumer-group mode), ``errors`` reported; ``cursors``: the id of
    the last entry taken per stream (``exchange:stream`` -> ``"1700000000000-0"``; ``"0-0"``:
    none yet)."""

    entries: int
    gaps: int
    resyncs: int
    trimmed: int
    stale: int
    acked: int
    claimed: int
    errors: int
    cursors: Mapping[str, str] = field(default_factory=dict)


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
        if start not in ("latest", "earliest") and not looks_like_id(start):
            raise ConfigurationError(
                f"start must be 'latest', 'earliest' or an entry id like 1700000000000-0, got {start!r}"
            )
        self._lock = threading.RLock()  # books; user reads through LiveBook take it too
        self._sources: list[Source] = []
        for text in names:
            key, exchange, stream = wire.parse_key(text, prefix)
            self._sources.append(Source(key, exchange, stream, self._lock))
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
        self._closed = threading.Event()
        self._synced = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pending_groups = 0
        self._started = False
        self._counters = Counters()

    def __repr__(self) -> str:
        where = safe_url(self._url) if self._url else type(self._redis).__name__
        return f"<RedisStreamReader {where} streams={len(self._sources)} entries={self._counters.entries}>"

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
        groups: dict[int, list[Source]] = {}
        if is_cluster(self._redis):
            from redis.crc import key_slot

            for src in self._sources:
                groups.setdefault(key_slot(src.key.encode()), []).append(src)
        else:
            groups[0] = list(self._sources)
        self._pending_groups = len(groups)
        for i, sources in enumerate(groups.values()):
            suffix = f"-{i}" if len(groups) > 1 else ""
            poller = Poller(self, sources, self._redis, url=self._url or "", counters=self._counters,
                            closed=self._closed, synced=self._group_synced)
            t = threading.Thread(target=poller.run, name=f"{self.name}{suffix}", daemon=True)
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

    def _group_synced(self) -> None:
        with self._lock:
            self._pending_groups -= 1
            if self._pending_groups <= 0:
                self._synced.set()

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
                if src.live is not None and name in (src.stream, src.key, src.name):
                    return src.live
            for src in self._sources:
                if src.live is not None and src.book is not None and src.book.symbol == name:
                    return src.live
            known = ", ".join(s.name for s in self._sources if s.live is not None) or "none yet"
        raise KeyError(f"no book for {name!r}; books: {known}")

    @property
    def books(self) -> dict[str, LiveBook]:
        """Every rebuilt book by ``exchange:stream``."""
        with self._lock:
            return {s.name: s.live for s in self._sources if s.live is not None}

    def stats(self) -> ReaderStats:
        """A snapshot of the counters (any thread)."""
        c = self._counters
        cursors = {s.name: s.cursor for s in self._sources}  # fixed list; each cursor is one str
        return ReaderStats(c.entries, c.gaps, c.resyncs, c.trimmed, c.stale, c.acked, c.claimed, c.errors, cursors)


# Names this module imported before its rules moved to .reading and .polling: still reachable
# here for code that took them from this module.
from ..book import BookSide, LevelChange, OrderBook  # noqa: E402, F401
from ..events import Event  # noqa: E402, F401
from ..exceptions import CallbackError, MalformedFrameError, StreamGapError, StreamTrimmedError  # noqa: E402, F401
from .connection import REDIS_ERRORS, unavailable  # noqa: E402, F401
from .hooks import report  # noqa: E402, F401
