"""One entry on its way into Redis: made on a producer thread, numbered and encoded by the writer."""

from __future__ import annotations

from typing import Any

__all__ = ["Item"]


class Item:
    """One thing to publish, made on a producer thread, numbered and encoded by the writer.

    Attributes:
        key / exchange / stream / symbol: where it goes.
        kind: ``snapshot``, ``delta``, ``gap`` or the event kind (``trade``, ...).
        payload: a :class:`~bpbfx.book.FrozenBook` (snapshot), the book's changes (delta),
            the gap's fields (gap) or the event's ``data``.
        rt / et: receive and exchange time in microseconds (``et`` None when unknown).
        seq / prev: the entry's ``seq`` and ``prev`` fields, when known.
        ev: the event class name (events only).
        rebuild: a snapshot after a rebuild of the book (it starts a new epoch), not a
            periodic one.
        backfill: an event of trades recovered after they were missed (written as the
            entry's ``backfill`` field).
        after: a periodic snapshot taken right after this delta (queued with it).
    """

    __slots__ = ("after", "backfill", "et", "ev", "exchange", "key", "kind", "payload", "prev", "rebuild", "rt",
                 "seq", "stream", "symbol")

    def __init__(self, key: str, exchange: str, stream: str, symbol: str | None, kind: str, payload: Any,
                 rt: int, seq: int | None = None, prev: int | None = None, et: int | None = None,
                 ev: str = "", rebuild: bool = False, backfill: bool = False) -> None:
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
        self.backfill = backfill
        self.after: Item | None = None

    def __repr__(self) -> str:
        return f"<Item {self.key} {self.kind} seq={self.seq}>"
