"""Native events in, table rows out (:mod:`bpbfx.export.tables`); no I/O, no pyarrow.

:class:`EventRows` turns the typed events of one exchange, decoded from a recording or from a
published Redis stream, into rows of the four tables and hands them to a callback together with
their partition (symbol and receive time).  Prices and sizes go out as the text of the
``Decimal`` the decoder built from the exchange's own number text (:func:`number`), so nothing
passes through ``float``.

The rules it implements (``bpbfx/docs/export.md`` has the table per exchange):

- Backpack ``trade``: the taker sold when the buyer is the maker (``m``); ``exchange_time`` is
  the engine time ``T`` (the event time ``E`` when ``T`` is absent), as for every Backpack row.
- Backpack ``depth``: absolute sizes of changed levels, ``0`` deletes; ``seq`` is ``u`` and
  ``prev_seq`` is ``U - 1``, so a delta follows the previous one when its ``prev_seq`` equals the
  previous ``seq``.  Backpack books start from a REST snapshot that recordings do not hold.
- Bitfinex trades ``[ID, MTS, AMOUNT, PRICE]``: AMOUNT < 0 the taker sold; ``amount`` is the
  absolute AMOUNT, ``exchange_time`` is MTS.  Each trade comes as ``te`` and again as ``tu``,
  and a trades snapshot after every (re)subscribe repeats recent trades: a trade whose id was
  exported lately on the same stream is counted as a duplicate, not written again; snapshot
  trades not seen before are written with ``snapshot`` true.
- Bitfinex books ``[PRICE, COUNT, AMOUNT]`` (P0-P4): AMOUNT > 0 bid, < 0 ask; COUNT 0 deletes the
  level (written with ``amount`` 0).  Raw books ``[ORDER_ID, PRICE, AMOUNT]`` (R0): PRICE 0
  deletes the order (written with ``price`` and ``amount`` 0 and its ``order_id``).  The first
  frame of a channel is its snapshot.
- Deltas carry the ``snapshot_id`` of the latest snapshot of their stream (the snapshot's
  receive time in microseconds), so a book is rebuilt from one snapshot and the deltas that
  name it.
- Tickers: only the fields the exchange sends (Backpack ``ticker``: last, open, high, low,
  volume, quote volume, trades; Bitfinex: bid, ask and sizes, change, change ratio, last,
  volume, high, low).

Events with no table (candles, funding data, account streams...) are counted by class in
:attr:`EventRows.not_exported`; connection control events (heartbeats, checksums, subscribe
replies) in :attr:`EventRows.control`.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Final

from ..backpack import events as bp
from ..bitfinex import events as bf
from ..events import Event, UnknownEvent
from .tables import BOOK_DELTAS, BOOK_SNAPSHOTS, TICKERS, TRADES

__all__ = ["CONTROL_EVENTS", "EventRows", "Emit", "RecentIds", "number"]

Emit = Callable[[str, str, int, list[tuple[Any, ...]]], None]
"""``emit(table, symbol, receive_time_us, rows)``: where :class:`EventRows` sends its rows."""

CONTROL_EVENTS: Final = frozenset({"Heartbeat", "Checksum", "Info", "Conf", "Subscribed", "Unsubscribed", "Pong",
                                   "AuthResult", "ErrorReply"})
"""Events of the connection itself (no market data): counted, never exported."""

_ZERO: Final = "0"


def number(value: Decimal | None) -> str | None:
    """The text of a price or size: ``str(value)``, in plain notation when that has an exponent
    (``1E-8`` -> ``0.00000001``, ``0E-8`` -> ``0.00000000``), so that every reader can parse it;
    the digits are the exchange's."""
    if value is None:
        return None
    text = str(value)
    return format(value, "f") if "E" in text else text


def _magnitude(value: Decimal) -> str:
    """The text of ``abs(value)``."""
    text = number(value)
    assert text is not None
    return text[1:] if text[:1] == "-" else text


class RecentIds:
    """The last ``size`` ids seen per stream (a bounded window): tells repeats apart."""

    __slots__ = ("_ids", "_order", "size")

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: dict[str, set[int]] = {}
        self._order: dict[str, collections.deque[int]] = {}

    def seen(self, stream: str, ident: int) -> bool:
        """True when ``ident`` was seen on ``stream`` lately; else remember it and say False."""
        ids = self._ids.get(stream)
        if ids is None:
            ids = self._ids[stream] = set()
            self._order[stream] = collections.deque()
        if ident in ids:
            return True
        ids.add(ident)
        order = self._order[stream]
        order.append(ident)
        if len(order) > self.size:
            ids.discard(order.popleft())
        return False


class EventRows:
    """Rows from the native events of one exchange.

    Args:
        exchange: ``"backpack"`` or ``"bitfinex"``.
        emit: receives ``(table, symbol, receive_time_us, rows)`` for every event that makes rows.

    Not thread-safe: one per exchange and source, called from one thread.

    Attributes:
        duplicates: Bitfinex trades not written again (``tu`` after ``te``, snapshot repeats).
        not_exported: events of kinds no table holds, by class name.
        control: connection control events seen (heartbeats, checksums, replies).
        unknown: events this bpbfx version does not decode (:class:`~bpbfx.events.UnknownEvent`).
    """

    def __init__(self, exchange: str, emit: Emit) -> None:
        self.exchange = exchange
        self.emit = emit
        self.duplicates = 0
        self.not_exported: collections.Counter[str] = collections.Counter()
        self.control = 0
        self.unknown = 0
        self._trades = RecentIds()
        self._snapshots: dict[str, int] = {}  # stream -> snapshot_id of its latest snapshot
        table: dict[type, Callable[[Any, int, bool], None]] = {
            bp.Trade: self._bp_trade,
            bp.Depth: self._bp_depth,
            bp.Ticker: self._bp_ticker,
            bf.TradeUpdate: self._bf_trade_update,
            bf.TradesSnapshot: self._bf_trades_snapshot,
            bf.BookSnapshot: self._bf_book,
            bf.BookUpdate: self._bf_book,
            bf.RawBookSnapshot: self._bf_book,
            bf.RawBookUpdate: self._bf_book,
            bf.TradingTicker: self._bf_ticker,
        }
        self._table = table

    def event(self, event: Event, receive_time_us: int, backfill: bool = False) -> None:
        """Rows of one event received at ``receive_time_us``; its trades are marked backfill
        when ``backfill`` says so (a Redis entry's field) or the event itself does."""
        handler = self._table.get(type(event))
        if handler is not None:
            if event.symbol is not None:
                handler(event, receive_time_us, backfill or getattr(event, "backfill", False))
            else:
                self.not_exported[type(event).__name__] += 1
            return
        name = type(event).__name__
        if name in CONTROL_EVENTS:
            self.control += 1
        elif isinstance(event, UnknownEvent):
            self.unknown += 1
        else:
            self.not_exported[name] += 1

    def forget_snapshots(self, streams: Iterable[str] | None = None) -> None:
        """Deltas that follow no longer build on the latest snapshot of these streams (all when
        None): a connection ended or entries are missing."""
        if streams is None:
            self._snapshots.clear()
        else:
            for stream in streams:
                self._snapshots.pop(stream, None)

    def snapshot_id(self, stream: str) -> int | None:
        """The ``snapshot_id`` deltas of ``stream`` get now (None before any snapshot)."""
        return self._snapshots.get(stream)

    def start_snapshot(self, stream: str, receive_time_us: int) -> int:
        """A snapshot of ``stream`` arrived at ``receive_time_us``: its id, named by the deltas
        that follow."""
        self._snapshots[stream] = receive_time_us
        return receive_time_us

    # ------------------------------------------------------------------ Backpack
    def _bp_trade(self, e: bp.Trade, rt: int, backfill: bool) -> None:
        # Backpack trade.m: "is the buyer the maker": then the taker sold.  A backfill answer
        # repeats trades the stream had delivered: each id is written once.
        if self._trades.seen(e.stream, e.trade_id):
            self.duplicates += 1
            return
        m = e.buyer_is_maker
        side = None if m is None else ("sell" if m else "buy")
        et = e.engine_time_us if e.engine_time_us is not None else e.event_time_us
        row = (e.stream, e.trade_id, number(e.price), number(e.quantity), side, et, rt, backfill, False)
        self.emit(TRADES, e.symbol or "", rt, [row])

    def _bp_depth(self, e: bp.Depth, rt: int, backfill: bool) -> None:
        # Backpack depth: absolute quantities of changed levels, 0 deletes; ids U..u.
        et = e.engine_time_us if e.engine_time_us is not None else e.event_time_us
        stream, seq, prev = e.stream, e.last_update_id, e.first_update_id - 1
        snap = self._snapshots.get(stream)
        rows: list[tuple[Any, ...]] = [
            (stream, snap, "bid", number(p), number(q), None, None, seq, prev, et, rt) for p, q in e.bids
        ]
        rows.extend((stream, snap, "ask", number(p), number(q), None, None, seq, prev, et, rt) for p, q in e.asks)
        if rows:
            self.emit(BOOK_DELTAS, e.symbol or "", rt, rows)

    def _bp_ticker(self, e: bp.Ticker, rt: int, backfill: bool) -> None:
        # Backpack ticker: o first price of the 24 h window, c last, v base volume, V quote volume.
        row = (e.stream, number(e.close), number(e.open), number(e.high), number(e.low), None, None,
               number(e.volume), number(e.quote_volume), e.trades, None, None, None, None, e.event_time_us, rt)
        self.emit(TICKERS, e.symbol or "", rt, [row])

    # ------------------------------------------------------------------ Bitfinex
    def _bf_trade_rows(self, e: Event, trades: Iterable[bf.TradeEntry], rt: int, backfill: bool,
                       snapshot: bool) -> list[tuple[Any, ...]]:
        # Bitfinex trades [ID, MTS, AMOUNT, PRICE]: AMOUNT < 0 the taker sold; MTS in ms.
        rows: list[tuple[Any, ...]] = []
        seen = self._trades.seen
        stream = e.stream
        for t in trades:
            if seen(stream, t.id):
                self.duplicates += 1
                continue
            side = "sell" if t.amount < 0 else "buy"
            rows.append((stream, t.id, number(t.price), _magnitude(t.amount), side, t.mts * 1000, rt, backfill,
                         snapshot))
        return rows

    def _bf_trade_update(self, e: bf.TradeUpdate, rt: int, backfill: bool) -> None:
        rows = self._bf_trade_rows(e, (e.trade,), rt, backfill, False)
        if rows:
            self.emit(TRADES, e.symbol or "", rt, rows)

    def _bf_trades_snapshot(self, e: bf.TradesSnapshot, rt: int, backfill: bool) -> None:
        # The snapshot lists the newest first: written oldest first, like live trades.
        ordered = sorted(e.trades, key=lambda t: (t.mts, t.id))
        rows = self._bf_trade_rows(e, ordered, rt, backfill, True)
        if rows:
            self.emit(TRADES, e.symbol or "", rt, rows)

    def _bf_book(self, e: Any, rt: int, backfill: bool) -> None:
        # Bitfinex books [PRICE, COUNT, AMOUNT]: AMOUNT > 0 bid, < 0 ask; COUNT == 0 deletes.
        # Raw books [ORDER_ID, PRICE, AMOUNT]: AMOUNT > 0 bid, < 0 ask; PRICE == 0 deletes.
        raw = isinstance(e, (bf.RawBookSnapshot, bf.RawBookUpdate))
        snapshot = isinstance(e, (bf.BookSnapshot, bf.RawBookSnapshot))
        stream, seq = e.stream, e.seq
        snap = self.start_snapshot(stream, rt) if snapshot else self._snapshots.get(stream)
        et = None if e.ts_ms is None else e.ts_ms * 1000
        # Deltas have a prev_seq column: null, Bitfinex sequence numbers count the socket's frames, not the book's.
        tail: tuple[Any, ...] = (et, rt) if snapshot else (None, et, rt)
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        for entry in e.entries:
            amount = entry.amount
            side = "bid" if amount > 0 else "ask"
            if raw:
                gone = not entry.price
                price = _ZERO if gone else number(entry.price)
                level = (stream, snap, side, price, _ZERO if gone else _magnitude(amount), None, entry.order_id, seq)
            else:
                size = _ZERO if entry.count == 0 else _magnitude(amount)
                level = (stream, snap, side, number(entry.price), size, entry.count, None, seq)
            append(level + tail)
        if rows:
            self.emit(BOOK_SNAPSHOTS if snapshot else BOOK_DELTAS, e.symbol or "", rt, rows)

    def _bf_ticker(self, e: bf.TradingTicker, rt: int, backfill: bool) -> None:
        # Bitfinex ticker [BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST,
        # VOLUME, HIGH, LOW]: sizes are positive on both sides.
        et = None if e.ts_ms is None else e.ts_ms * 1000
        row = (e.stream, number(e.last_price), None, number(e.high), number(e.low), number(e.daily_change),
               number(e.daily_change_relative), number(e.volume), None, None, number(e.bid), number(e.bid_size),
               number(e.ask), number(e.ask_size), et, rt)
        self.emit(TICKERS, e.symbol or "", rt, [row])
