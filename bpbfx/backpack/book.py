"""Backpack ``depth.*`` book synchronisation as a sans-I/O state machine (no I/O, no threads).

Backpack's depth stream carries only deltas (absolute quantity per level, ``U`` first and ``u``
last update id, no snapshot, no checksum), so the book is seeded from the REST depth snapshot
and aligned by update id.  Backpack rule (API docs / wire behaviour):

1. buffer deltas from the moment of subscription;
2. fetch ``GET /api/v1/depth`` and take ``L = lastUpdateId``;
3. drop buffered deltas with ``u <= L``; the first kept must satisfy ``U <= L + 1 <= u``
   (the REST snapshot can be *ahead* of the socket: then keep buffering and align on the first
   delta with ``u > L``);
4. afterwards apply a delta only if ``U == last_u + 1``; otherwise the book is invalid and the
   symbol must be resynchronised (buffer again while a new snapshot is fetched).

:class:`BackpackBookSync` implements exactly that.  It never fetches anything: each call returns
a :class:`SyncResult` whose :class:`SyncAction` tells the caller what happened and whether it
must fetch a snapshot.  Ids are per market.

Not thread-safe: the client calls it under its lock; users read ``book.snapshot()``.
"""

from __future__ import annotations

import json
from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from .._json import make_loads
from ..book import ZERO, LevelChange, OrderBook, SideLevels
from ..events import positional_factory
from ..exceptions import BookError, MalformedFrameError, SequenceGapError, StaleBookError
from .decode import CACHE_MAX as _CACHE_MAX
from .decode import PRICE_CACHE as _STREAM_PRICES

__all__ = [
    "BackpackBookSync",
    "DepthSnapshot",
    "SyncAction",
    "SyncReason",
    "SyncResult",
    "SyncState",
    "parse_depth_snapshot",
    "parse_levels",
    "parse_update_id",
]

_loads = make_loads()

Levels = Sequence[tuple[Decimal, Decimal]]
"""Price levels as ``(price, quantity)`` pairs; quantity zero deletes."""


class SyncState(str, Enum):
    """Where a :class:`BackpackBookSync` stands."""

    WAITING_SNAPSHOT = "waiting_snapshot"
    """No usable snapshot: deltas are buffered; the caller must fetch one."""
    WAITING_DELTA = "waiting_delta"
    """A snapshot ahead of the socket is held; waiting for the first delta with ``u > L``."""
    SYNCED = "synced"
    """The book is aligned and valid; deltas are applied as they come."""


class SyncAction(str, Enum):
    """What one call did; the caller acts on it."""

    APPLIED = "applied"
    """A delta was applied to a synced book (``changes`` lists what changed)."""
    BUFFERED = "buffered"
    """Held for later: a delta before alignment, or a snapshot ahead of the socket."""
    IGNORED = "ignored"
    """Nothing to do: a delta already covered by the book or snapshot, or a late snapshot."""
    NEED_SNAPSHOT = "need_snapshot"
    """The book cannot be (or is no longer) aligned: fetch a new REST snapshot (see ``reason``)."""
    SYNCED = "synced"
    """A snapshot was aligned with the stream: the whole book is fresh and valid."""


class SyncReason(str, Enum):
    """Why a result is not a plain APPLIED / SYNCED."""

    NOT_SYNCED = "not_synced"
    """A delta arrived before any snapshot (BUFFERED)."""
    SNAPSHOT_AHEAD = "snapshot_ahead"
    """The REST snapshot is newer than every delta seen so far (BUFFERED)."""
    OLD_DELTA = "old_delta"
    """The delta is entirely covered by the snapshot or the book (IGNORED: duplicate / old)."""
    ALREADY_SYNCED = "already_synced"
    """A snapshot arrived while the book was synced (IGNORED)."""
    SNAPSHOT_STALE = "snapshot_stale"
    """The snapshot is older than the oldest buffered delta: ``U > L + 1`` (NEED_SNAPSHOT)."""
    SEQUENCE_GAP = "sequence_gap"
    """A delta did not continue the previous one: ``U != last_u + 1`` (NEED_SNAPSHOT)."""


@dataclass(frozen=True, slots=True)
class SyncResult:
    """The outcome of one :class:`BackpackBookSync` call.

    Attributes:
        action: what happened (see :class:`SyncAction`).
        changes: for APPLIED, the level changes of the delta (maybe empty).
        reason: why, for BUFFERED / IGNORED / NEED_SNAPSHOT.
        error: for NEED_SNAPSHOT, the error to report (:class:`SequenceGapError` or
            :class:`StaleBookError`), else ``None``.
        update_id: the book's update id after the call (``u`` of the last applied delta), if
            the book is synced.
    """

    action: SyncAction
    changes: tuple[LevelChange, ...] = ()
    reason: SyncReason | None = None
    error: BookError | None = None
    update_id: int | None = None

    @property
    def need_snapshot(self) -> bool:
        """``True`` when the caller must fetch a REST snapshot."""
        return self.action is SyncAction.NEED_SNAPSHOT


_BUFFERED = SyncResult(SyncAction.BUFFERED, reason=SyncReason.NOT_SYNCED)
_AHEAD = SyncResult(SyncAction.BUFFERED, reason=SyncReason.SNAPSHOT_AHEAD)
_OLD = SyncResult(SyncAction.IGNORED, reason=SyncReason.OLD_DELTA)
_LATE = SyncResult(SyncAction.IGNORED, reason=SyncReason.ALREADY_SYNCED)
_APPLIED = SyncAction.APPLIED
_new_result = positional_factory(SyncResult)  # (action, changes, reason, error, update_id)


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """A parsed Backpack REST depth body.

    Attributes:
        last_update_id: ``lastUpdateId`` as an int.
        bids: ``(price, quantity)`` pairs as listed (REST lists bids ascending: best LAST).
        asks: ``(price, quantity)`` pairs, ascending.
        timestamp_us: ``timestamp`` in microseconds, if present.
    """

    last_update_id: int
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]
    timestamp_us: int | None = None


class BackpackBookSync:
    """Aligns one Backpack ``depth.<symbol>`` stream with REST snapshots into an :class:`OrderBook`.

    Typical use by a client (under its lock)::

        sync = BackpackBookSync("SOL_USDC")          # at subscribe; start fetching a snapshot
        result = sync.on_delta(U, u, bids, asks)     # for each depth frame
        result = sync.on_snapshot(L, bids, asks)     # when the REST answer arrives
        if result.need_snapshot: ...                 # fetch again (report result.error)

    Args:
        symbol: the market.
        stream: stream name for errors and snapshots.
        max_buffer: deltas kept while waiting for a snapshot; the oldest are dropped beyond it
            (a snapshot older than the oldest kept delta is then reported stale).

    All methods run on the caller's thread and are not thread-safe.
    """

    __slots__ = ("_asks", "_bids", "_book", "_buffer", "_last_id", "_max_buffer", "_snapshot_id", "_state")

    def __init__(self, symbol: str, *, stream: str | None = None, max_buffer: int = 10_000) -> None:
        self._book = OrderBook(symbol, stream=stream)
        self._bids: SideLevels = self._book._bids
        self._asks: SideLevels = self._book._asks
        self._max_buffer = max(1, max_buffer)
        self._buffer: list[tuple[int, int, Levels, Levels]] = []
        self._state = SyncState.WAITING_SNAPSHOT
        self._snapshot_id = -1
        self._last_id = -1

    def __repr__(self) -> str:
        return f"BackpackBookSync({self._book.symbol!r}, state={self._state.value}, buffered={len(self._buffer)})"

    @property
    def book(self) -> OrderBook:
        """The book users read (``valid`` only while SYNCED)."""
        return self._book

    @property
    def state(self) -> SyncState:
        """The current :class:`SyncState`."""
        return self._state

    @property
    def needs_snapshot(self) -> bool:
        """``True`` while no snapshot is held (a fetch should be running)."""
        return self._state is SyncState.WAITING_SNAPSHOT

    @property
    def buffered(self) -> int:
        """Number of deltas waiting for a snapshot."""
        return len(self._buffer)

    def reset(self) -> None:
        """Forget everything (after a reconnect): empty invalid book, empty buffer, WAITING_SNAPSHOT."""
        self._book.clear()
        self._buffer = []
        self._state = SyncState.WAITING_SNAPSHOT
        self._snapshot_id = -1
        self._last_id = -1

    def on_delta(self, first_id: int, last_id: int, bids: Levels, asks: Levels) -> SyncResult:
        """Feed one depth delta (``U``, ``u``, ``b``, ``a``); quantities are absolute, zero deletes.

        ``bids``/``asks`` are ``(price, quantity)`` pairs as :func:`parse_levels` returns them
        (text is converted, but validation is :func:`parse_levels`' job).

        Returns APPLIED (synced book updated), BUFFERED (waiting for a snapshot), IGNORED (an old
        or duplicate delta), SYNCED (this delta completed the alignment of a held snapshot) or
        NEED_SNAPSHOT (gap or stale snapshot: the book is marked invalid, the delta is kept for
        the next alignment, ``error`` says why).

        Raises:
            MalformedFrameError: ``first_id > last_id``.
            TypeError, decimal.InvalidOperation: a level that is neither Decimal nor numeric text
                (only when the delta is applied).
        """
        return self.apply_delta(first_id, last_id, bids, asks, False)

    def apply_delta(self, first_id: int, last_id: int, bids: Levels, asks: Levels, quiet: bool) -> SyncResult:
        """:meth:`on_delta`; with ``quiet``, for levels known to be ``Decimal`` pairs (the
        client's parsed events) when nobody reads the changes: a synced book applies them
        without checks and the APPLIED result lists no ``changes``."""
        if first_id > last_id:
            raise MalformedFrameError(
                f"{self._book.symbol} depth delta with U={first_id} > u={last_id}", stream=self._book.stream
            )
        state = self._state
        if state is SyncState.SYNCED:
            book = self._book
            last = self._last_id
            if last_id <= last:
                return _OLD
            if first_id != last + 1:
                # Backpack: after alignment apply only if U == last_u + 1, else resync.
                return self._lost(
                    SyncReason.SEQUENCE_GAP, self._gap(last + 1, first_id, ""), [(first_id, last_id, bids, asks)]
                )
            if quiet:
                self._apply_quiet(bids, asks)
                applied: tuple[LevelChange, ...] = ()
            else:
                applied = self._apply(bids, asks)
            book.update_id = self._last_id = last_id
            return _new_result(_APPLIED, applied, None, None, last_id)
        if state is SyncState.WAITING_DELTA:
            snapshot_id = self._snapshot_id
            if last_id <= snapshot_id:
                # Backpack: drop deltas with u <= lastUpdateId.
                return _OLD
            if first_id > snapshot_id + 1:
                # Backpack: the first kept delta must satisfy U <= L + 1 <= u.
                return self._stale(snapshot_id, first_id, [(first_id, last_id, bids, asks)])
            self._apply(bids, asks)
            return self._synced(last_id)
        buffer = self._buffer
        buffer.append((first_id, last_id, bids, asks))
        if len(buffer) > self._max_buffer:
            del buffer[0]
        return _BUFFERED

    def on_snapshot(self, last_update_id: int, bids: Levels, asks: Levels) -> SyncResult:
        """Feed a REST depth snapshot (``lastUpdateId``, bids, asks in any order).

        Returns SYNCED (aligned with the buffered deltas: the book is fresh and valid), BUFFERED
        (the snapshot is ahead of every delta seen: it is held until the first delta with
        ``u > L``), NEED_SNAPSHOT (stale snapshot, or a gap among the buffered deltas) or
        IGNORED (the book is already synced).

        Raises:
            ConfigurationError: a price or quantity is not a finite non-negative decimal.
        """
        if self._state is SyncState.SYNCED:
            return _LATE
        book = self._book
        snapshot_id = last_update_id
        # Backpack: drop buffered deltas with u <= lastUpdateId.
        pending = [d for d in self._buffer if d[1] > snapshot_id]
        self._buffer = []
        if pending and pending[0][0] > snapshot_id + 1:
            # Backpack: the first kept delta must satisfy U <= L + 1 <= u; here U > L + 1.
            return self._stale(snapshot_id, pending[0][0], pending)
        book.replace(bids, asks, update_id=snapshot_id)
        book.valid = False
        if not pending:
            # Backpack: REST can be ahead of the socket; keep the snapshot, align on the first
            # delta with u > L.
            self._state = SyncState.WAITING_DELTA
            self._snapshot_id = snapshot_id
            return _AHEAD
        last = snapshot_id
        for index, (first_id, last_id, d_bids, d_asks) in enumerate(pending):
            if last_id <= last:
                continue  # duplicate delivered twice while buffering
            if index and first_id != last + 1:
                # Backpack: apply only if U == last_u + 1.
                return self._lost(
                    SyncReason.SEQUENCE_GAP, self._gap(last + 1, first_id, " while aligning"), pending[index:]
                )
            self._apply(d_bids, d_asks)
            last = last_id
        return self._synced(last)

    # -- internals -------------------------------------------------------------------------------

    def _apply(self, bids: Levels, asks: Levels) -> tuple[LevelChange, ...]:
        # SideLevels.set/remove inlined: one frame often carries dozens of levels per side.
        changes: list[LevelChange] = []
        append = changes.append
        make = tuple.__new__  # LevelChange without its Python-level __new__
        for levels, rows in ((self._bids, bids), (self._asks, asks)):
            sizes, prices, side = levels.sizes, levels.prices, levels.side
            for price, qty in rows:
                if type(qty) is not Decimal or type(price) is not Decimal:
                    price, qty = _decimal(price), _decimal(qty)  # tolerate unparsed text
                # Backpack depth: absolute quantity per level; zero (any spelling) deletes.
                if qty:
                    old = sizes.get(price)
                    sizes[price] = qty
                    if old is None:
                        insort(prices, price)
                        old = ZERO
                    append(make(LevelChange, (side, price, old, qty)))
                else:
                    old = sizes.pop(price, None)
                    if old is not None:
                        del prices[bisect_left(prices, price)]
                        append(make(LevelChange, (side, price, old, ZERO)))
        return tuple(changes)

    def _apply_quiet(self, bids: Levels, asks: Levels) -> None:
        # _apply for Decimal levels, without building the changes.
        for levels, rows in ((self._bids, bids), (self._asks, asks)):
            sizes, prices = levels.sizes, levels.prices
            for price, qty in rows:
                # Backpack depth: absolute quantity per level; zero (any spelling) deletes.
                if qty:
                    if price not in sizes:
                        insort(prices, price)
                    sizes[price] = qty
                elif sizes.pop(price, None) is not None:
                    del prices[bisect_left(prices, price)]

    def _synced(self, last_id: int) -> SyncResult:
        book = self._book
        book.update_id = self._last_id = last_id
        book.valid = True
        self._state = SyncState.SYNCED
        self._snapshot_id = -1
        return SyncResult(SyncAction.SYNCED, update_id=last_id)

    def _stale(self, snapshot_id: int, first_id: int, keep: list[tuple[int, int, Levels, Levels]]) -> SyncResult:
        book = self._book
        return self._lost(
            SyncReason.SNAPSHOT_STALE,
            StaleBookError(
                f"{book.symbol} depth snapshot {snapshot_id} is older than the stream (first buffered U={first_id})",
                symbol=book.symbol,
                stream=book.stream,
            ),
            keep,
        )

    def _gap(self, expected: int, got: int, where: str) -> SequenceGapError:
        book = self._book
        return SequenceGapError(
            f"{book.symbol} depth gap{where}: expected U={expected}, got U={got}",
            symbol=book.symbol,
            expected=expected,
            got=got,
            stream=book.stream,
        )

    def _lost(self, reason: SyncReason, error: BookError, keep: list[tuple[int, int, Levels, Levels]]) -> SyncResult:
        self._book.valid = False
        self._state = SyncState.WAITING_SNAPSHOT
        self._snapshot_id = -1
        self._buffer = keep[-self._max_buffer :]
        return SyncResult(SyncAction.NEED_SNAPSHOT, reason=reason, error=error)


# -- parsing helpers ---------------------------------------------------------------------------------


def parse_update_id(value: Any) -> int:
    """An update id given as a number or a string (Backpack sends both).

    Raises:
        MalformedFrameError: not an integer.
    """
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isdigit() and value.isascii():
        return int(value)
    raise MalformedFrameError(f"update id is not an integer: {value!r}", frame=repr(value)[:200])


def parse_levels(rows: Iterable[Sequence[Any]]) -> list[tuple[Decimal, Decimal]]:
    """``[[price, quantity], ...]`` (strings or numbers) -> ``[(Decimal, Decimal), ...]``.

    Raises:
        MalformedFrameError: a row is not a pair of finite numbers with price > 0 and
            quantity >= 0 (the message names the field).
    """
    rows = list(rows)
    try:
        out = [(_decimal(row[0]), _decimal(row[1])) for row in rows]
    except (TypeError, ValueError, IndexError, KeyError, InvalidOperation) as exc:
        raise MalformedFrameError(f"depth levels not understood: {exc}", frame=_excerpt(rows)) from exc
    for price, qty in out:
        if not price.is_finite() or price <= ZERO:
            raise MalformedFrameError(
                f"depth level price must be a finite number > 0, got {price}", frame=_excerpt(rows)
            )
        if not qty.is_finite() or qty < ZERO:
            raise MalformedFrameError(
                f"depth level quantity must be a finite number >= 0, got {qty} at price {price}", frame=_excerpt(rows)
            )
    # Prices as the depth stream's cached objects (the same text gives the same object), so
    # the deltas that follow find their levels by identity instead of comparing Decimals.
    cache = _STREAM_PRICES
    for i, row in enumerate(rows):
        text = row[0]
        if type(text) is str:
            known = cache.get(text)
            if known is None:
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[text] = out[i][0]
            else:
                out[i] = (known, out[i][1])
    return out


def _excerpt(value: Any) -> str:
    try:
        return json.dumps(value, default=str)[:500]
    except (TypeError, ValueError, RecursionError):
        return f"<{type(value).__name__}>"


def _decimal(token: Any) -> Decimal:
    if type(token) is str:
        return Decimal(token)
    if isinstance(token, bool) or not isinstance(token, (str, int, float)):
        raise TypeError(f"not a number: {token!r}")
    return Decimal(repr(token)) if isinstance(token, float) else Decimal(token)


def parse_depth_snapshot(body: Mapping[str, Any] | str | bytes) -> DepthSnapshot:
    """Parse the body of ``GET /api/v1/depth`` (decoded JSON or its text).

    ``{"asks":[[p,q]...],"bids":[[p,q]...],"lastUpdateId":"<string>","timestamp":<us>}``; the
    id and timestamp may be strings or numbers.

    Raises:
        MalformedFrameError: not JSON, or a field is missing or malformed.
    """
    data: Any = body
    if isinstance(body, (str, bytes)):
        try:
            data = _loads(body)
        except ValueError as exc:
            raise MalformedFrameError(f"depth snapshot is not JSON: {exc}", frame=body[:500]) from exc
    if not isinstance(data, Mapping):
        raise MalformedFrameError("depth snapshot is not a JSON object", frame=_excerpt(data))
    try:
        last_update_id = parse_update_id(data["lastUpdateId"])
        bids = parse_levels(data["bids"])
        asks = parse_levels(data["asks"])
    except KeyError as exc:
        raise MalformedFrameError(f"depth snapshot without {exc}", frame=_excerpt(data)) from exc
    timestamp = data.get("timestamp")
    return DepthSnapshot(
        last_update_id=last_update_id,
        bids=bids,
        asks=asks,
        timestamp_us=None if timestamp is None else parse_update_id(timestamp),
    )
