"""How a :class:`~bpbfx.sinks.RedisStreamSink`'s writer numbers and writes what was published; no I/O.

:class:`Planner` is the writer half of the sink's sans-I/O core.  It turns batches of
:class:`~bpbfx.sinks.publish.Item`\\ s into Redis commands (``XADD key MAXLEN ~ N * field value
...`` and the ``HSET`` of each stream's ``:meta`` hash), keeps each stream's numbering (see
:mod:`bpbfx.sinks.wire`) and learns from the replies:

- **Numbering**: ``epoch`` and ``n`` per stream.  A ``gap`` entry ends its epoch (``n`` goes on
  within it); the next entry starts epoch + 1 at ``n`` = 0, and so does a snapshot after a
  rebuild of the book.
- **Owed gaps**: a stream a previous writer numbered (its ``:meta`` hash holds an epoch) goes
  on with a ``writer_restart`` gap and epoch + 1; a round Redis did not confirm owes a
  ``redis`` gap (with the number lost) to each of its streams.  An owed gap is written before
  the stream's next entry, or merged into the next gap item.
- **Books after a gap** wait for a fresh snapshot of a rebuild: deltas and periodic snapshots
  in between are discarded (counted), so a reader never applies a delta to the wrong book.
- **MAXLEN** per entry kind (``"default"`` for the rest; None: no trimming).
- **Counters** of what Redis confirmed: entries written, gap entries by reason, snapshots
  recorded, rounds.

One round of the writer thread::

    reads = planner.epoch_reads(batch)               # HGET <key>:meta epoch, for new streams
    if reads:
        planner.stored_epochs(reads, execute(reads))
    plan = planner.plan(batch)                       # the XADD and HSET commands
    if plan.commands:
        confirmed = planner.confirm(plan, execute(plan.commands))
        if confirmed.commands:
            execute(confirmed.commands)              # HSET <key>:meta snapshot <id>
        planner.recorded(confirmed)
    # on a connection error instead: planner.failed(batch, exc)

Not thread-safe: one writer thread owns it; the counters may be read from any thread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..book import FrozenBook
from . import wire
from .item import Item

__all__ = ["Command", "Confirmed", "Plan", "Planner"]

Command = tuple[str, list[bytes]]
"""``(key, arguments)``: one Redis command and the key that places it on a cluster node."""

_Entry = tuple[str, list[bytes], str, int, bool, Item]
"""(key, XADD arguments, kind, epoch, first of its epoch, item): one entry ready to send."""


class _Key:
    """Writer-side numbering of one Redis stream (touched only by the writer thread)."""

    __slots__ = ("book", "closed", "epoch", "gap", "meta", "n", "need_snapshot")

    def __init__(self) -> None:
        self.epoch = 0
        self.n: int | None = None
        self.closed = False
        self.gap: dict[str, Any] | None = None  # a gap entry owed before the next entry
        self.need_snapshot = False
        self.meta = False  # the stored epoch was read
        self.book = False


@dataclass(slots=True)
class Plan:
    """The commands of one batch: its ``XADD``\\ s (one per entry, in order) followed by the
    ``HSET``\\ s of the ``:meta`` hash of each stream that starts an epoch in it."""

    commands: list[Command]
    entries: list[_Entry] = field(repr=False)

    @property
    def xadds(self) -> list[list[bytes]]:
        """The ``XADD`` arguments of the batch's entries, in order."""
        return [args for _, args, _, _, _, _ in self.entries]


@dataclass(frozen=True, slots=True)
class Confirmed:
    """What the replies to a :class:`Plan` said: the ``HSET``\\ s recording the id of each
    stream's latest snapshot (``commands``), and the first error reply (``error``, None when
    every entry was written)."""

    commands: list[Command]
    error: Exception | None


class Planner:
    """The writer half of a Redis sink (see the module docstring).

    Args:
        maxlen: ``MAXLEN ~`` per entry kind, with the key ``"default"`` for the kinds not
            listed; a None value writes without trimming.

    Attributes:
        written: entries Redis confirmed.
        lost: items of rounds Redis did not confirm (:meth:`failed`).
        discarded: book items thrown away while a book waited for its fresh snapshot.
        gaps: gap entries written; ``gaps_by_reason`` splits them by reason.
        snapshots: snapshot ids recorded in ``:meta`` hashes.
        batches: rounds confirmed.
    """

    def __init__(self, maxlen: Mapping[str, int | None]) -> None:
        self.maxlen = dict(maxlen)
        self._keys: dict[str, _Key] = {}
        self.written = 0
        self.lost = 0
        self.discarded = 0
        self.gaps = 0
        self.gaps_by_reason: dict[str, int] = {}
        self.snapshots = 0
        self.batches = 0

    # ------------------------------------------------------------------ a previous writer's epoch
    def epoch_reads(self, batch: list[Item]) -> list[Command]:
        """``HGET <key>:meta epoch`` for each stream of ``batch`` this writer has not read yet."""
        new = [key for key in dict.fromkeys(item.key for item in batch) if not self._key(key).meta]
        return [(key, [b"HGET", wire.meta_key(key).encode(), b"epoch"]) for key in new]

    def stored_epochs(self, reads: list[Command], replies: list[Any]) -> None:
        """Take the replies to :meth:`epoch_reads`: a stream a previous writer numbered goes on
        from its epoch, after a ``writer_restart`` gap.

        Raises:
            Exception: the first error reply, as it is (the round counts as failed).
        """
        for (key, _), stored in zip(reads, replies, strict=True):
            if isinstance(stored, Exception):
                raise stored
            ks = self._keys[key]
            ks.meta = True
            if stored is not None:
                ks.epoch = max(ks.epoch, int(stored))
                if ks.gap is None:
                    ks.gap = {"reason": "writer_restart", "expected": None, "got": None, "dropped": 0,
                              "message": "a new writer took over this stream; what happened in between is unknown"}

    # ------------------------------------------------------------------ a round
    def plan(self, batch: list[Item]) -> Plan:
        """Number ``batch`` (and the gaps owed before its items) into commands."""
        entries: list[_Entry] = []
        for item in batch:
            self._plan(item, entries)
        commands: list[Command] = [(key, args) for key, args, _, _, _, _ in entries]
        epochs: dict[str, tuple[int, Item]] = {}
        for key, _, _, epoch, first, item in entries:
            if first:
                epochs[key] = (epoch, item)
        for key, (epoch, item) in epochs.items():
            commands.append((key, [b"HSET", wire.meta_key(key).encode(), b"v", b"1", b"ex", item.exchange.encode(),
                                   b"stream", item.stream.encode(), b"sym", (item.symbol or "").encode(), b"epoch",
                                   str(epoch).encode()]))
        return Plan(commands, entries)

    def confirm(self, plan: Plan, replies: list[Any]) -> Confirmed:
        """Count what the replies to ``plan.commands`` confirmed (an ``XADD`` reply is the new
        entry's id; an error reply is an exception value)."""
        entries = plan.entries
        snapshots: dict[str, tuple[str, int]] = {}
        failed: Exception | None = None
        by_reason = self.gaps_by_reason
        for (key, _, kind, epoch, _, item), reply in zip(entries, replies[: len(entries)], strict=True):
            if isinstance(reply, Exception):
                failed = failed or reply
                continue
            self.written += 1
            if kind == wire.SNAPSHOT:
                snapshots[key] = (reply.decode() if isinstance(reply, bytes) else str(reply), epoch)
            elif kind == wire.GAP:
                self.gaps += 1
                reason = str(item.payload.get("reason") or "unknown")
                by_reason[reason] = by_reason.get(reason, 0) + 1
        meta = [(key, [b"HSET", wire.meta_key(key).encode(), b"snapshot", entry_id.encode(), b"snapshot_epoch",
                       str(epoch).encode()]) for key, (entry_id, epoch) in snapshots.items()]
        return Confirmed(meta, failed)

    def recorded(self, confirmed: Confirmed) -> None:
        """The snapshot ids of ``confirmed`` were recorded: the round is complete."""
        self.snapshots += len(confirmed.commands)
        self.batches += 1

    def failed(self, batch: list[Item], exc: BaseException) -> list[str]:
        """A round was not confirmed (which of its commands ran is unknown): owe a ``redis``
        gap to each of its streams; books wait for a fresh snapshot.  Returns the book
        streams' keys, to publish again (:meth:`Publisher.republish
        <bpbfx.sinks.publish.Publisher.republish>`)."""
        counts: dict[str, int] = {}
        for item in batch:
            counts[item.key] = counts.get(item.key, 0) + 1
        self.lost += len(batch)
        books: list[str] = []
        for key, count in counts.items():
            ks = self._key(key)
            prior = ks.gap["dropped"] if ks.gap else 0
            ks.gap = {"reason": "redis", "expected": None, "got": None, "dropped": prior + count,
                      "message": f"Redis did not confirm {count} entries: {type(exc).__name__}: {exc}"}
            if ks.book:
                ks.need_snapshot = True
                books.append(key)
        return books

    # ------------------------------------------------------------------ internals
    def _key(self, key: str) -> _Key:
        ks = self._keys.get(key)
        if ks is None:
            ks = self._keys[key] = _Key()
        return ks

    def _plan(self, item: Item, out: list[_Entry]) -> None:
        """Number ``item`` (and an owed gap before it) and append the entries to write."""
        ks = self._key(item.key)
        kind = item.kind
        if kind in wire.BOOK_KINDS:
            ks.book = True
        if kind == wire.GAP:
            if ks.gap is not None:
                owed = ks.gap
                ks.gap = None
                messages = (owed.get("message"), item.payload.get("message"))
                item.payload = {**item.payload, **owed,
                                "dropped": owed.get("dropped", 0) + item.payload.get("dropped", 0),
                                "message": "; ".join(m for m in messages if m)}
            out.append(self._entry(item, ks))
            if ks.book:
                ks.need_snapshot = True
            return
        if ks.gap is not None:
            gap = Item(item.key, item.exchange, item.stream, item.symbol, wire.GAP, ks.gap, item.rt)
            ks.gap = None
            out.append(self._entry(gap, ks))
            if ks.book:
                ks.need_snapshot = True
        if ks.need_snapshot:
            if kind == wire.SNAPSHOT and item.rebuild:
                ks.need_snapshot = False
            elif kind in wire.BOOK_KINDS:
                self.discarded += 1
                return
        out.append(self._entry(item, ks))

    def _entry(self, item: Item, ks: _Key) -> _Entry:
        """The ``XADD`` arguments of ``item``, numbered (empty fields are left out)."""
        kind = item.kind
        if kind == wire.GAP:
            if ks.epoch == 0:
                ks.epoch = 1
            n = 0 if ks.n is None else ks.n + 1
            ks.n = n
            ks.closed = True
        elif ks.closed or ks.n is None or (kind == wire.SNAPSHOT and item.rebuild):
            ks.epoch += 1
            n = ks.n = 0
            ks.closed = False
        else:
            n = ks.n = ks.n + 1
        payload = item.payload
        if kind == wire.DELTA:
            data = wire.encode_changes(payload)
        elif kind == wire.SNAPSHOT:
            assert isinstance(payload, FrozenBook)
            data = wire.encode_snapshot(payload)
        else:
            data = json.dumps(payload, separators=(",", ":"), default=str)
        limit = self.maxlen.get(kind, self.maxlen["default"])
        args = [b"XADD", item.key.encode()]
        if limit is not None:
            args += [b"MAXLEN", b"~", str(limit).encode()]
        args += [b"*", b"v", b"1", b"kind", kind.encode(), b"epoch", str(ks.epoch).encode(), b"n", str(n).encode(),
                 b"rt", str(item.rt).encode()]
        if item.seq is not None:
            args += [b"seq", str(item.seq).encode()]
        if item.prev is not None:
            args += [b"prev", str(item.prev).encode()]
        if item.et is not None:
            args += [b"et", str(item.et).encode()]
        if item.backfill:
            args += [b"backfill", b"1"]
        args += [b"data", data.encode()]
        return item.key, args, kind, ks.epoch, n == 0 and kind != wire.GAP, item
