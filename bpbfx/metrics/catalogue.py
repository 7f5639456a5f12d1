"""Every metric bpbfx exposes: its name, Prometheus type, labels and meaning (no I/O, no
``prometheus_client``).  ``bpbfx/docs/metrics.md`` lists the same metrics with their sources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["GAP_REASONS", "METRICS", "RESYNC_REASONS", "MetricInfo"]


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """One metric family.

    Attributes:
        name: the sample name (counters end in ``_total``).
        type: ``"counter"`` (only ever grows, but resets when its process restarts) or
            ``"gauge"``.
        labels: the label names, in order (a collect run adds ``worker`` in front).
        help: what it counts, one line.
        merge: how two series with the same labels are combined (two clients given the same
            ``name``): ``"sum"``, or ``"max"`` for ages and lags.
    """

    name: str
    type: Literal["counter", "gauge"]
    labels: tuple[str, ...]
    help: str
    merge: Literal["sum", "max"] = "sum"


_CLIENT = ("client", "exchange")
_SINK = ("sink",)
_READER = ("reader",)

_ALL = (
    # A client's counters (bpbfx.stats.ClientStats, from client.stats()).
    MetricInfo("bpbfx_messages_total", "counter", _CLIENT, "WebSocket frames received."),
    MetricInfo("bpbfx_received_bytes_total", "counter", _CLIENT, "Bytes of the WebSocket frames received."),
    MetricInfo("bpbfx_events_total", "counter", (*_CLIENT, "stream", "kind"),
               "Messages delivered on each subscribed stream (kind: the stream's type)."),
    MetricInfo("bpbfx_stream_last_message_age_seconds", "gauge", (*_CLIENT, "stream"),
               "Seconds since the stream's last message (absent before the first).", "max"),
    MetricInfo("bpbfx_last_message_age_seconds", "gauge", _CLIENT,
               "Seconds since the client's last frame on any socket (absent before the first).", "max"),
    MetricInfo("bpbfx_reconnects_total", "counter", _CLIENT, "Reconnect attempts."),
    MetricInfo("bpbfx_watchdog_trips_total", "counter", _CLIENT, "Sockets replaced because they fell silent."),
    MetricInfo("bpbfx_book_resyncs_total", "counter", (*_CLIENT, "reason"),
               "Managed order books rebuilt from a fresh snapshot (reason: connection_lost or integrity)."),
    MetricInfo("bpbfx_book_checks_total", "counter", _CLIENT,
               "Book integrity checks passed (Bitfinex checksums, Backpack contiguous update ids)."),
    MetricInfo("bpbfx_errors_total", "counter", (*_CLIENT, "error"),
               "Errors reported to on_error, by exception class."),
    MetricInfo("bpbfx_dropped_events_total", "counter", _CLIENT,
               "Events lost by the bounded queues attached to the client (events() streams, dispatch=thread)."),
    MetricInfo("bpbfx_sockets", "gauge", _CLIENT, "WebSocket connections the client owns."),
    MetricInfo("bpbfx_connected_sockets", "gauge", _CLIENT, "WebSocket connections open now."),
    MetricInfo("bpbfx_books", "gauge", _CLIENT, "Managed order books."),
    MetricInfo("bpbfx_books_valid", "gauge", _CLIENT, "Managed order books synchronised and verified now."),
    # A Redis sink (bpbfx.sinks.SinkStats, from sink.stats()).
    MetricInfo("bpbfx_sink_queued_items", "gauge", _SINK, "Items waiting in the sink's queue."),
    MetricInfo("bpbfx_sink_queue_capacity_items", "gauge", _SINK, "Items the sink's queue holds (queue_size)."),
    MetricInfo("bpbfx_sink_lag_seconds", "gauge", _SINK,
               "Seconds the oldest queued item has waited (0 with an empty queue).", "max"),
    MetricInfo("bpbfx_sink_connected", "gauge", _SINK, "1 while the sink's writer has a working Redis connection."),
    MetricInfo("bpbfx_sink_entries_written_total", "counter", _SINK, "Entries written into Redis."),
    MetricInfo("bpbfx_sink_snapshots_written_total", "counter", _SINK, "Book snapshot entries written."),
    MetricInfo("bpbfx_sink_gaps_total", "counter", (*_SINK, "reason"), "Gap entries written, by reason."),
    MetricInfo("bpbfx_sink_dropped_items_total", "counter", _SINK, "Items dropped because the queue was full."),
    MetricInfo("bpbfx_sink_lost_entries_total", "counter", _SINK, "Entries of rounds Redis did not confirm."),
    MetricInfo("bpbfx_sink_discarded_deltas_total", "counter", _SINK,
               "Book deltas thrown away while their book waited for a fresh snapshot."),
    MetricInfo("bpbfx_sink_batches_total", "counter", _SINK, "Pipelined rounds sent to Redis."),
    MetricInfo("bpbfx_sink_reconnects_total", "counter", _SINK, "Connections to Redis after the first."),
    MetricInfo("bpbfx_sink_errors_total", "counter", _SINK, "Problems the sink reported (Redis trouble, drops)."),
    # A Redis reader (bpbfx.sinks.ReaderStats, from reader.stats()).
    MetricInfo("bpbfx_reader_entries_total", "counter", _READER, "Entries delivered to on_message."),
    MetricInfo("bpbfx_reader_gaps_total", "counter", _READER, "Gaps reported (gap entries and holes found)."),
    MetricInfo("bpbfx_reader_resyncs_total", "counter", _READER, "Jumps to a stream's latest snapshot."),
    MetricInfo("bpbfx_reader_trimmed_total", "counter", _READER,
               "Cursors that fell behind the trimmed start of their stream."),
    MetricInfo("bpbfx_reader_stale_entries_total", "counter", _READER, "Entries already seen, skipped."),
    MetricInfo("bpbfx_reader_acked_total", "counter", _READER, "Entries acknowledged (consumer-group mode)."),
    MetricInfo("bpbfx_reader_claimed_total", "counter", _READER,
               "Entries claimed from other consumers (consumer-group mode)."),
    MetricInfo("bpbfx_reader_errors_total", "counter", _READER, "Errors reported to on_error."),
    MetricInfo("bpbfx_reader_last_entry_age_seconds", "gauge", (*_READER, "stream"),
               "Seconds since Redis stored the last entry the reader took: its lag while the stream is "
               "busy (grows on an idle stream).", "max"),
    # A JSONL recorder (bpbfx.recording.Recorder).
    MetricInfo("bpbfx_recorder_frames_total", "counter", ("recorder", "exchange"), "Frames written to the recording."),
    # The workers of a bpbfx collect run (the supervisor's view).
    MetricInfo("bpbfx_worker_up", "gauge", ("worker",), "1 while the worker process is alive."),
    MetricInfo("bpbfx_worker_restarts_total", "counter", ("worker",), "Times the supervisor restarted the worker."),
    MetricInfo("bpbfx_worker_last_report_age_seconds", "gauge", ("worker",),
               "Seconds since the worker's last report to the supervisor (it reports twice a second).", "max"),
)

METRICS: Final[dict[str, MetricInfo]] = {m.name: m for m in _ALL}
"""Every metric by name."""

RESYNC_REASONS: Final = ("connection_lost", "integrity")
"""The ``reason`` values of ``bpbfx_book_resyncs_total`` (see :class:`~bpbfx.stats.ClientStats`)."""

GAP_REASONS: Final = ("writer_restart", "overflow", "redis", "reconnect", "checksum", "sequence", "stale", "invalid",
                      "rebuild")
"""The ``reason`` values of ``bpbfx_sink_gaps_total`` (see :class:`~bpbfx.sinks.SinkStats`): each is
exposed from the start, at 0, so that ``increase()`` sees the first gap."""
