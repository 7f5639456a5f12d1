"""Turning the stats bpbfx objects already keep into metric samples (no I/O, no
``prometheus_client``).

Every function reads a snapshot (``client.stats()``, ``sink.stats()``, ``reader.stats()``, a
recorder's counters) when it is called, on the calling thread: the metrics add nothing to the
path of a message.  A :class:`Sample` is a plain, picklable tuple, so a collect worker can send
its samples to the supervisor.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from ..backpack.streams import stream_type
from .catalogue import GAP_REASONS, RESYNC_REASONS

if TYPE_CHECKING:
    from ..base import BaseClient
    from ..recording import Recorder
    from ..sinks import RedisStreamReader, RedisStreamSink

__all__ = [
    "Labels",
    "Sample",
    "client_samples",
    "reader_samples",
    "recorder_samples",
    "samples_of",
    "sink_samples",
    "stream_kind",
]

Labels = tuple[tuple[str, str], ...]
"""``(("client", "w0-backpack"), ("exchange", "backpack"), ...)``: label names and values."""


class Sample(NamedTuple):
    """One value of one metric: ``name`` (see :data:`~bpbfx.metrics.catalogue.METRICS`), its
    labels and the value."""

    name: str
    labels: Labels
    value: float


def stream_kind(exchange: str, stream: str) -> str:
    """The type of a stream, the ``kind`` label: Backpack ``depth``, ``trade``,
    ``account.orderUpdate``...; Bitfinex ``book``, ``trades``, ``ticker``, ``candles``,
    ``account``..."""
    if exchange == "backpack":
        return stream_type(stream)
    return stream.partition(":")[0]


def client_samples(client: BaseClient) -> list[Sample]:
    """The samples of one client, from :meth:`~bpbfx.base.BaseClient.stats` and its books."""
    s = client.stats()
    exchange = client.exchange
    base: Labels = (("client", client.name), ("exchange", exchange))
    out = [
        Sample("bpbfx_messages_total", base, s.messages),
        Sample("bpbfx_received_bytes_total", base, s.bytes),
        Sample("bpbfx_reconnects_total", base, s.reconnects),
        Sample("bpbfx_watchdog_trips_total", base, s.watchdog_trips),
        Sample("bpbfx_book_checks_total", base, s.book_checks),
        Sample("bpbfx_dropped_events_total", base, s.dropped_events),
        Sample("bpbfx_sockets", base, s.connections),
        Sample("bpbfx_connected_sockets", base, s.open_connections),
    ]
    if s.last_message_age is not None:
        out.append(Sample("bpbfx_last_message_age_seconds", base, s.last_message_age))
    for stream, st in s.streams.items():
        labels = (*base, ("stream", stream))
        out.append(Sample("bpbfx_events_total", (*labels, ("kind", stream_kind(exchange, stream))), st.messages))
        if st.last_message_age is not None:
            out.append(Sample("bpbfx_stream_last_message_age_seconds", labels, st.last_message_age))
    resyncs = s.resyncs_by_reason
    for reason in (*RESYNC_REASONS, *(r for r in resyncs if r not in RESYNC_REASONS)):
        out.append(Sample("bpbfx_book_resyncs_total", (*base, ("reason", reason)), resyncs.get(reason, 0)))
    for error, count in s.errors_by_type.items():
        out.append(Sample("bpbfx_errors_total", (*base, ("error", error)), count))
    books = client.books
    out.append(Sample("bpbfx_books", base, len(books)))
    out.append(Sample("bpbfx_books_valid", base, sum(1 for book in books.values() if book.valid)))
    return out


def sink_samples(sink: RedisStreamSink) -> list[Sample]:
    """The samples of one Redis sink, from :meth:`~bpbfx.sinks.RedisStreamSink.stats`."""
    s = sink.stats()
    base: Labels = (("sink", sink.name),)
    out = [
        Sample("bpbfx_sink_queued_items", base, s.queued),
        Sample("bpbfx_sink_queue_capacity_items", base, sink.queue_size),
        Sample("bpbfx_sink_lag_seconds", base, s.lag),
        Sample("bpbfx_sink_connected", base, 1 if s.connected else 0),
        Sample("bpbfx_sink_entries_written_total", base, s.written),
        Sample("bpbfx_sink_snapshots_written_total", base, s.snapshots),
        Sample("bpbfx_sink_dropped_items_total", base, s.dropped),
        Sample("bpbfx_sink_lost_entries_total", base, s.lost),
        Sample("bpbfx_sink_discarded_deltas_total", base, s.discarded),
        Sample("bpbfx_sink_batches_total", base, s.batches),
        Sample("bpbfx_sink_reconnects_total", base, s.reconnects),
        Sample("bpbfx_sink_errors_total", base, s.errors),
    ]
    gaps = s.gaps_by_reason
    for reason in (*GAP_REASONS, *(r for r in gaps if r not in GAP_REASONS)):
        out.append(Sample("bpbfx_sink_gaps_total", (*base, ("reason", reason)), gaps.get(reason, 0)))
    return out


def reader_samples(reader: RedisStreamReader, now: float | None = None) -> list[Sample]:
    """The samples of one Redis reader, from :meth:`~bpbfx.sinks.RedisStreamReader.stats`;
    ``now``: wall-clock seconds (``time.time()``) for the entry ages."""
    s = reader.stats()
    base: Labels = (("reader", reader.name),)
    out = [
        Sample("bpbfx_reader_entries_total", base, s.entries),
        Sample("bpbfx_reader_gaps_total", base, s.gaps),
        Sample("bpbfx_reader_resyncs_total", base, s.resyncs),
        Sample("bpbfx_reader_trimmed_total", base, s.trimmed),
        Sample("bpbfx_reader_stale_entries_total", base, s.stale),
        Sample("bpbfx_reader_acked_total", base, s.acked),
        Sample("bpbfx_reader_claimed_total", base, s.claimed),
        Sample("bpbfx_reader_errors_total", base, s.errors),
    ]
    now = time.time() if now is None else now
    for stream, cursor in s.cursors.items():
        ms = cursor.partition("-")[0]
        if ms.isdigit() and ms != "0":  # an entry id is "<milliseconds>-<seq>"; "0-0": nothing taken yet
            out.append(Sample("bpbfx_reader_last_entry_age_seconds", (*base, ("stream", stream)),
                              max(0.0, now - int(ms) / 1000)))
    return out


def recorder_samples(recorder: Recorder) -> list[Sample]:
    """The samples of one JSONL recorder (labelled by its file name)."""
    return [Sample("bpbfx_recorder_frames_total", (("recorder", recorder.path.name), ("exchange", recorder.exchange)),
                   recorder.frames)]


def samples_of(clients: Iterable[BaseClient] = (), sinks: Iterable[RedisStreamSink] = (),
               readers: Iterable[RedisStreamReader] = (), recorders: Iterable[Recorder] = ()) -> list[Sample]:
    """The samples of everything given, in that order."""
    out: list[Sample] = []
    for client in clients:
        out += client_samples(client)
    for sink in sinks:
        out += sink_samples(sink)
    for reader in readers:
        out += reader_samples(reader)
    for recorder in recorders:
        out += recorder_samples(recorder)
    return out
