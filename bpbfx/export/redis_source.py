"""Published Redis streams read for export: each stream from its start (or ``start``) up to its
last entry at the time it is read, page by page, on the calling thread.

:class:`~bpbfx.sinks.RedisStreamReader` follows live streams on threads of its own and, on a
hole, jumps to the latest snapshot; an export wants the opposite: a bounded read that ends,
every entry that is there, holes reported and nothing jumped over.  So this module drives the
reader's own rules (:class:`bpbfx.sinks.reading.Source`: the market from ``:meta``, decoding,
the ``epoch``/``n`` continuity check) with a plain ``XRANGE`` loop.  Needs the ``redis``
package.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..exceptions import ConfigurationError, MalformedFrameError
from ..sinks import wire
from ..sinks.connection import REDIS_ERRORS, connect, unavailable
from ..sinks.reading import Source, hole_error, looks_like_id, text
from .report import Problems

Entries = Iterator[tuple[wire.WireEntry, Mapping[Any, Any], bool]]

__all__ = ["RedisEntries"]


class RedisEntries:
    """The entries of published streams, read to their end.

    Args:
        redis: URL (``redis://...``, ``redis+cluster://...``) or a redis-py client (not closed here).
        streams: ``exchange:stream`` names or keys (see :func:`bpbfx.sinks.wire.parse_key`).
        start: ``"-"`` (every entry kept) or an entry id: read from the entry after it.
        count: entries per ``XRANGE`` page (bounds memory).
        cluster / prefix: as for :class:`~bpbfx.sinks.RedisStreamReader`.

    One thread.  Use as a context manager, or call :meth:`close`.

    Raises:
        ConfigurationError: no streams, a bad stream name, ``start`` or ``count``.
    """

    def __init__(self, redis: Any, streams: Iterable[str], *, start: str = "-", count: int = 1000,
                 cluster: bool | None = None, prefix: str = "bpbfx") -> None:
        names = list(dict.fromkeys(streams))
        if not names:
            raise ConfigurationError("a Redis export needs at least one stream (EXCHANGE:STREAM or a key)")
        if start != "-" and not looks_like_id(start):
            raise ConfigurationError(f"start must be '-' or an entry id like 1700000000000-0, got {start!r}")
        if count < 1:
            raise ConfigurationError(f"count must be >= 1, got {count}")
        self.sources: list[Source] = []
        for name in names:
            key, exchange, stream = wire.parse_key(name, prefix)
            self.sources.append(Source(key, exchange, stream, threading.RLock()))
        self.start = start
        self.count = count
        self._url = redis if isinstance(redis, str) else ""
        self._cluster = cluster
        self._redis: Any = None if isinstance(redis, str) else redis
        self.position = 0
        """Entries read so far."""

    def __enter__(self) -> RedisEntries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _client(self) -> Any:
        if self._redis is None:
            self._redis = connect(self._url, cluster=self._cluster, socket_timeout=30.0)
        return self._redis

    def close(self) -> None:
        """Close the connection made from a URL (idempotent)."""
        if self._url and self._redis is not None:
            client, self._redis = self._redis, None
            try:
                client.close()
            except REDIS_ERRORS:
                pass

    def total(self) -> int:
        """Entries the streams hold now (``XLEN``), for progress.

        Raises:
            RedisUnavailableError: Redis cannot be reached.
        """
        try:
            r = self._client()
            return sum(int(r.xlen(src.key)) for src in self.sources)
        except REDIS_ERRORS as exc:
            raise unavailable(exc, self._url) from exc

    def span(self, src: Source) -> tuple[str, str] | None:
        """``(first, last)`` entry ids :meth:`entries` will read from ``src`` now; None when
        there is none.  Also takes the stream's market from its ``:meta`` hash.

        Raises:
            RedisUnavailableError: Redis cannot be reached.
        """
        try:
            r = self._client()
            src.take_meta(r.hgetall(wire.meta_key(src.key)) or {})
            last = r.xrevrange(src.key, "+", "-", count=1)
            first = r.xrange(src.key, self._lower(), "+", count=1)
        except REDIS_ERRORS as exc:
            raise unavailable(exc, self._url) from exc
        if not last or not first:
            return None
        return text(first[0][0]), text(last[0][0])

    def _lower(self) -> str:
        return self.start if self.start == "-" else f"({self.start}"

    def entries(self, src: Source, end: str, problems: Problems) -> Entries:
        """``(entry, raw fields, hole)`` of ``src`` in order, up to the entry ``end`` (from
        :meth:`span`); ``hole`` is True for an entry with entries missing before it.

        An entry that does not decode is counted in ``problems`` and left out; a hole in the
        numbering (entries trimmed or lost) is a warning, and the entries after it are still
        given.  Calling thread.

        Raises:
            RedisUnavailableError: Redis cannot be reached.
        """
        try:
            yield from self._entries(src, end, problems)
        except REDIS_ERRORS as exc:
            raise unavailable(exc, self._url) from exc

    def _entries(self, src: Source, end: str, problems: Problems) -> Entries:
        r = self._client()
        lower = self._lower()
        while True:
            found = r.xrange(src.key, lower, end, count=self.count)
            if not found:
                return
            for raw_id, fields in found:
                entry_id = text(raw_id)
                previous = src.cursor
                src.cursor = entry_id
                self.position += 1
                try:
                    entry = src.decode(entry_id, fields)
                except MalformedFrameError as exc:
                    problems.skip("malformed entry", f"{src.key} {entry_id}: {exc}")
                    continue
                check = src.check(entry)
                if check.verdict is wire.Verdict.STALE:
                    problems.skip("stale entry", f"{src.key} {entry_id}: {check.reason}")
                    continue
                hole = check.verdict is wire.Verdict.GAP
                if hole:
                    error, _ = hole_error(src, entry, check, previous, False, None)
                    problems.warn(f"{src.key}: {error.message}")
                yield entry, fields, hole
            if len(found) < self.count or src.cursor == end:
                return
            lower = f"({src.cursor}"
