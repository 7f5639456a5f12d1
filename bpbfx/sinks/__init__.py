"""Publish bpbfx streams into Redis Streams and read them back with the same guarantees.

::

    from bpbfx.sinks import RedisStreamSink, RedisStreamReader

    sink = RedisStreamSink("redis://127.0.0.1:6379/0")
    client.add_sink(sink)                      # every event, book update and error
    ...
    reader = RedisStreamReader("redis://127.0.0.1:6379/0", ["bitfinex:book:tBTCUSD:P0:F0:25"],
                               on_book=lambda r, u: print(u.book.best_bid()))
    reader.start()

The wire format (keys, entry fields, epochs) is documented in :mod:`bpbfx.sinks.wire`.  Needs
the ``redis`` package: ``pip install 'bpbfx[redis]'``.
"""

from __future__ import annotations

from .redis_reader import ReaderStats, RedisStreamReader, StreamEntry
from .redis_sink import DEFAULT_MAXLEN, RedisStreamSink, SinkStats
from .wire import VERSION, meta_key, parse_key, stream_key

__all__ = [
    "DEFAULT_MAXLEN",
    "VERSION",
    "ReaderStats",
    "RedisStreamReader",
    "RedisStreamSink",
    "SinkStats",
    "StreamEntry",
    "meta_key",
    "parse_key",
    "stream_key",
]
