"""Entries of published Redis streams (:mod:`bpbfx.sinks.wire`) in, table rows out; no I/O.

- ``snapshot`` entries become ``book_snapshots`` rows (the book a client kept, every level) and
  ``delta`` entries ``book_deltas`` rows (the new size of every changed level, ``0`` removes);
  ``seq`` and ``prev_seq`` are the entry's ``seq`` and ``prev`` update ids.  These books are
  the clients' managed books, which only know price and size: ``count`` and ``order_id`` are
  null.
- Event entries (``trade``, ``trade_update``, ``trades_snapshot``, ``ticker``,
  ``trading_ticker``, and raw book events of clients without managed books) are decoded from
  their ``data`` (the exchange payload) with the exchange's own decoder and go through the same
  rules as recordings (:class:`~bpbfx.export.rows.EventRows`).  ``trade_update`` entries do not
  say ``te`` from ``tu``; the second one of a trade is counted as a duplicate by its id.
- ``gap`` entries become warnings, and the deltas after one no longer name the snapshot before
  it.
- ``backfill``: an entry field ``backfill`` (``1``/``true``) marks its trades, when present.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..backpack.decode import FrameDecoder
from ..bitfinex import channels
from ..bitfinex.decode import decode_channel
from ..events import Event
from ..exceptions import BpbfxError
from ..sinks import wire
from ..sinks.reading import Source, gap_entry_error, id_tuple
from .report import Problems
from .rows import Emit, EventRows, number
from .tables import BOOK_DELTAS, BOOK_SNAPSHOTS

__all__ = ["WireRows", "receive_time_us"]

_TRUE = (b"1", b"true", "1", "true")


def receive_time_us(entry: wire.WireEntry) -> int:
    """The entry's receive time (``rt``), or the time in its id when it has none."""
    if entry.receive_time_us is not None:
        return entry.receive_time_us
    return id_tuple(entry.id)[0] * 1000


class WireRows:
    """Rows from the entries of published streams of one exchange.

    Args:
        exchange: ``"backpack"`` or ``"bitfinex"``.
        emit: where rows go (see :data:`~bpbfx.export.rows.Emit`).
        problems: where gap entries and undecodable entries are counted.

    Not thread-safe: one thread reads the entries.
    """

    def __init__(self, exchange: str, emit: Emit, problems: Problems) -> None:
        self.exchange = exchange
        self.emit = emit
        self.problems = problems
        self.events = EventRows(exchange, emit)
        self._backpack = FrameDecoder()
        self._subs: dict[str, channels.Subscription | None] = {}

    def entry(self, src: Source, entry: wire.WireEntry, fields: Mapping[Any, Any]) -> None:
        """Rows of one entry of ``src`` (already checked for continuity by the caller)."""
        kind = entry.kind
        rt = receive_time_us(entry)
        if kind == wire.SNAPSHOT or kind == wire.DELTA:
            self._book(src, entry, rt)
        elif kind == wire.GAP:
            self.problems.warn(f"{src.key} {entry.id}: {gap_entry_error(src, entry).message}")
            self.events.forget_snapshots([src.stream])
        else:
            backfill = fields.get(b"backfill", fields.get("backfill")) in _TRUE
            try:
                event = self._decode(src, entry)
            except (BpbfxError, ValueError, TypeError) as exc:
                self.problems.skip("malformed entry", f"{src.key} {entry.id}: {kind} entry does not decode: {exc}")
                return
            if event is not None:
                self.events.event(event, rt, backfill)

    def hole(self, src: Source) -> None:
        """Entries of ``src`` are missing: the deltas that follow do not build on the snapshot
        before the hole."""
        self.events.forget_snapshots([src.stream])

    def _book(self, src: Source, entry: wire.WireEntry, rt: int) -> None:
        try:
            bids, asks = wire.decode_levels(entry.data)
        except BpbfxError as exc:
            self.problems.skip("malformed entry", f"{src.key} {entry.id}: {exc}")
            return
        stream, seq, et = src.stream, entry.seq, entry.exchange_time_us
        symbol = src.symbol or entry.symbol or stream
        rows: list[tuple[Any, ...]]
        if entry.kind == wire.SNAPSHOT:
            snap = self.events.start_snapshot(stream, rt)
            rows = [(stream, snap, "bid", number(p), number(s), None, None, seq, et, rt) for p, s in bids]
            rows.extend((stream, snap, "ask", number(p), number(s), None, None, seq, et, rt) for p, s in asks)
            table = BOOK_SNAPSHOTS
        else:
            snap_id = self.events.snapshot_id(stream)
            prev = entry.prev
            rows = [(stream, snap_id, "bid", number(p), number(s), None, None, seq, prev, et, rt) for p, s in bids]
            rows.extend((stream, snap_id, "ask", number(p), number(s), None, None, seq, prev, et, rt)
                        for p, s in asks)
            table = BOOK_DELTAS
        if rows:
            self.emit(table, symbol, rt, rows)

    def _decode(self, src: Source, entry: wire.WireEntry) -> Event | None:
        """The native event an event entry was published from (None for kinds of streams this
        bpbfx does not know).

        Raises:
            BpbfxError: the payload does not decode (MalformedFrameError).
        """
        if self.exchange == "backpack":
            return self._backpack.decode_data(src.stream, entry.data)
        if src.stream in self._subs:
            sub = self._subs[src.stream]
        else:
            try:
                sub = channels.parse_stream(src.stream)
            except BpbfxError:
                sub = None
            self._subs[src.stream] = sub
        if sub is None:
            self.events.unknown += 1
            return None
        kind = entry.kind
        et = entry.exchange_time_us
        msg_type = "te" if kind == "trade_update" else ("fte" if kind == "funding_trade_update" else None)
        return decode_channel(sub, msg_type, entry.data, first=kind.endswith("_snapshot"), seq=entry.seq,
                              ts_ms=None if et is None else et // 1000)
