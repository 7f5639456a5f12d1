"""Counters a client keeps, and the plain snapshot :meth:`~bpbfx.base.BaseClient.stats` returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ClientStats", "StreamCounter", "StreamStats"]


@dataclass(frozen=True, slots=True)
class StreamStats:
    """Counters of one stream: messages delivered and seconds since the last one (``None`` if
    it never delivered)."""

    messages: int
    last_message_age: float | None


@dataclass(frozen=True, slots=True)
class ClientStats:
    """A plain snapshot of a client's counters (see :meth:`bpbfx.base.BaseClient.stats`).

    ``messages``/``bytes``: frames received; ``reconnects``: reconnect attempts;
    ``resyncs``: managed order books rebuilt from a fresh snapshot after a detected problem (a
    sequence gap, a checksum mismatch, a bad delta, a lost socket), one per book, counted the
    same way on both exchanges; ``book_checks``: book integrity checks passed (Bitfinex checksums,
    Backpack contiguous update ids); ``watchdog_trips``: sockets replaced for silence;
    ``errors``: reports to ``on_error``; ``connections``/``open_connections``: sockets owned /
    currently open; ``last_message_age``: seconds since the last frame; ``streams``: per-stream
    counters; ``dropped_events``: events lost by the bounded queues attached to the client
    (``events()`` streams, ``dispatch="thread"``), each loss also reported as
    :class:`~bpbfx.EventsDroppedError`; ``errors_by_type``: ``errors`` by the class name of
    the error reported (``"ChecksumMismatchError"``, ...); ``resyncs_by_reason``: ``resyncs``
    split into ``"connection_lost"`` (books rebuilt because their socket was lost) and
    ``"integrity"`` (a problem found on the stream itself: a sequence gap, a checksum
    mismatch, a delta or frame the book cannot take, a silent channel, the end of exchange
    maintenance); ``trades_backfilled``: trades the public trade streams
    missed and that were fetched from the exchange's trade history instead
    (``backfill_trades=True``); ``trade_gaps``: holes found in those streams (a reconnect that
    missed trades, a jump in Backpack's trade ids), filled or not (a hole that could not be
    filled completely is also reported as :class:`~bpbfx.TradeGapError`).
    """

    messages: int
    bytes: int
    reconnects: int
    resyncs: int
    book_checks: int
    watchdog_trips: int
    errors: int
    connections: int
    open_connections: int
    last_message_age: float | None
    streams: Mapping[str, StreamStats] = field(default_factory=dict)
    dropped_events: int = 0
    errors_by_type: Mapping[str, int] = field(default_factory=dict)
    resyncs_by_reason: Mapping[str, int] = field(default_factory=dict)
    trades_backfilled: int = 0
    trade_gaps: int = 0


class StreamCounter:
    """Mutable per-stream counter kept by the reader thread (no lock: a single writer).

    Attributes:
        count: frames delivered.
        last: ``time.monotonic()`` of the last frame (0.0 before the first).
        since: when the subscription was (re)sent: a frame counts as confirming the
            subscription when ``last >= since``.
    """

    __slots__ = ("count", "last", "since")

    def __init__(self, since: float) -> None:
        self.count = 0
        self.last = 0.0
        self.since = since

    @property
    def confirmed(self) -> bool:
        """True once a frame arrived since the subscription was last (re)sent."""
        return self.last >= self.since and self.count > 0
