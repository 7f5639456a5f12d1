"""Bitfinex trades across resubscribes, without I/O: :class:`TradeBackfill`.

Bitfinex trade ids grow but are not contiguous per market, so a hole cannot be seen from the
ids alone; what tells is the channel coming back.  After every (re)subscribe the trades channel
sends a snapshot of the latest trades (``[CHAN_ID, [[ID, MTS, AMOUNT, PRICE], ...]]``, newest
first; docs/protocols.md), which overlaps what was delivered before the socket went down.  Per
trades channel the core remembers the last trade delivered (id and time) and:

- **Live trades** (``te``): :meth:`TradeBackfill.live` moves the mark on (one compare while the
  ids grow) and drops a ``te`` of a trade the latest snapshot delivered already.
- **A resubscribe snapshot** (:meth:`TradeBackfill.snapshot`): its rows already delivered
  (id <= the last id) are removed; the others were missed and are delivered with
  ``backfill=True``.  When the snapshot does not reach back to the last delivered trade, the
  trades in between are asked for: ``GET /v2/trades/{symbol}/hist?start=<last mts>&end=<oldest
  snapshot mts>&limit=10000&sort=1`` (:class:`FetchHistory`; rows ``[ID, MTS, AMOUNT, PRICE]``,
  oldest first).
- **The answer** (:meth:`TradeBackfill.answered`): rows newer than the last delivered trade
  and older than the snapshot, as :class:`~bpbfx.bitfinex.events.TradeUpdate` events
  (``kind="executed"``, ``trade.backfill=True``), oldest first.
- **Giving up** (:class:`~bpbfx.TradeGapError` with the time span ``start_ms``..``end_ms``):
  a full answer (10,000 rows) that still does not reach the snapshot (its rows are delivered,
  the rest of the span is reported), or requests that keep failing
  (:attr:`~bpbfx.backfill.BackfillPolicy.attempts`).

The first snapshot of a channel is history from before the client came, delivered as it is.
Time comes in as ``now`` (monotonic seconds).  Not thread-safe: called under the client's
lock, except :meth:`TradeBackfill.live`, which the reader thread may call without it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from ..backfill import Tapes
from ..exceptions import TradeGapError
from .decode.values import _dec, _int
from .events import TradeEntry, TradesSnapshot, TradeUpdate

__all__ = ["HIST_LIMIT", "BackfillOutcome", "FetchHistory", "Tape", "TradeBackfill", "parse_history"]

HIST_LIMIT = 10_000
"""Rows per ``/v2/trades/{symbol}/hist`` request: Bitfinex's maximum."""


@dataclass(frozen=True, slots=True, eq=False)
class FetchHistory:
    """Ask for the public trades of ``symbol`` from ``start_ms`` to ``end_ms`` (both
    included), oldest first: ``GET`` :attr:`path` with :attr:`params`, after waiting ``delay``
    seconds.  Hand the answer's text to :meth:`TradeBackfill.answered`, or the failure to
    :meth:`TradeBackfill.failed`.

    Attributes:
        after_id: the last trade delivered before the hole: only newer ones are delivered.
        before_id: the oldest trade of the resubscribe snapshot: only older ones are delivered.
    """

    stream: str
    symbol: str
    start_ms: int
    end_ms: int
    after_id: int
    before_id: int
    delay: float
    limit: int = HIST_LIMIT

    @property
    def path(self) -> str:
        """``/v2/trades/{symbol}/hist``."""
        return f"/v2/trades/{self.symbol}/hist"

    @property
    def params(self) -> dict[str, str]:
        """The query string's parameters (``sort=1``: oldest first)."""
        return {"start": str(self.start_ms), "end": str(self.end_ms), "limit": str(self.limit), "sort": "1"}


@dataclass(slots=True)
class BackfillOutcome:
    """What one input did: the snapshot to deliver in place of the one received (``event``:
    only the rows never delivered), the backfilled trades to deliver (``events``, oldest
    first), the spans given up (``errors``, to report) and the request to make (``fetch``)."""

    event: TradesSnapshot | None = None
    events: list[TradeUpdate] = field(default_factory=list)
    errors: list[TradeGapError] = field(default_factory=list)
    fetch: FetchHistory | None = None


class Tape:
    """What one trades channel delivered.

    Attributes:
        last_id / last_mts: the newest trade delivered (``-1`` / ``0`` before the first).
        recent: ids the latest snapshot delivered (a ``te`` repeating one is dropped).
        pending: requests out for this channel, oldest first.
    """

    __slots__ = ("failures", "last_id", "last_mts", "pending", "reason", "recent", "stream", "symbol")

    def __init__(self, stream: str, symbol: str) -> None:
        self.stream = stream
        self.symbol = symbol
        self.last_id = -1
        self.last_mts = 0
        self.recent: frozenset[int] = frozenset()
        self.pending: list[FetchHistory] = []
        self.failures = 0
        self.reason = ""

    def __repr__(self) -> str:
        return f"<Tape {self.stream} last={self.last_id}@{self.last_mts} pending={len(self.pending)}>"


def parse_history(body: str | bytes) -> list[tuple[TradeEntry, list[object]]]:
    """The rows of a ``/v2/trades/{symbol}/hist`` answer's JSON text as ``(entry, row)``
    pairs, oldest first; numbers are read from their exact text, entries are marked
    ``backfill``.

    Raises:
        ValueError: not JSON, or not a list of ``[ID, MTS, AMOUNT, PRICE]`` rows.
    """
    rows = json.loads(body, parse_float=str)
    if not isinstance(rows, list):
        raise ValueError(f"expected a list of trades, got {type(rows).__name__}: {rows!r:.120}")
    out: list[tuple[TradeEntry, list[object]]] = []
    for row in rows:
        try:
            entry = TradeEntry(id=_int(row[0]), mts=_int(row[1]), amount=_dec(row[2]), price=_dec(row[3]),
                               backfill=True)
        except (TypeError, ValueError, IndexError, KeyError, ArithmeticError) as exc:
            raise ValueError(f"not a trade row [ID, MTS, AMOUNT, PRICE] ({exc}): {row!r:.120}") from None
        out.append((entry, row))
    out.sort(key=lambda pair: (pair[0].mts, pair[0].id))
    return out


class TradeBackfill(Tapes[Tape]):
    """The trade tapes of one Bitfinex client (see the module docstring).

    Args:
        policy: attempts, retry delays and request rate (``max_missing`` is Backpack's).

    Attributes:
        tapes: the :class:`Tape` of every tracked ``trades:<symbol>`` channel of a trading
            pair (``add(stream, "tBTCUSD")``).
        backfilled: trades delivered that the channel had missed (snapshot rows after a
            resubscribe and history rows).
        gaps: resubscribes that found trades missed (filled or not).
    """

    def _tape(self, stream: str, symbol: str) -> Tape:
        return Tape(stream, symbol)

    # ------------------------------------------------------------------ live trades
    def live(self, event: TradeUpdate) -> bool:
        """A live trade: False when it must not be delivered (a ``te`` of a trade the
        latest snapshot delivered).  ``tu`` frames pass untouched.  Lock-free: the reader
        thread is the only writer of the mark."""
        tape = self.tapes.get(event.stream)
        if tape is None or event.kind != "executed":
            return True
        trade = event.trade
        if trade.id > tape.last_id:
            tape.last_id = trade.id
            tape.last_mts = trade.mts
            return True
        return trade.id not in tape.recent

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, event: TradesSnapshot, now: float) -> BackfillOutcome:
        """A trades snapshot (sent after every (re)subscribe): ``event`` is what to deliver in
        its place; ``fetch`` asks for the trades between the last one delivered and the
        snapshot when it does not reach back that far."""
        out = BackfillOutcome(event=event)
        tape = self.tapes.get(event.stream)
        if tape is None:
            return out
        rows = event.trades
        after, after_mts = tape.last_id, tape.last_mts
        if after < 0:
            # The channel's first snapshot: history from before the client came, as it is (a
            # ``te`` repeating one of its rows is dropped).
            if rows:
                newest = max(rows, key=lambda r: r.id)
                tape.last_id, tape.last_mts = newest.id, newest.mts
                tape.recent = frozenset(row.id for row in rows)
            return out
        keep = [i for i, row in enumerate(rows) if row.id > after]
        missed = tuple(dataclasses.replace(rows[i], backfill=True) for i in keep)
        data = event.data
        if isinstance(data, list) and len(data) == len(rows):
            data = [data[i] for i in keep]
        out.event = dataclasses.replace(event, trades=missed, data=data)
        tape.recent = frozenset(row.id for row in missed)
        if missed:
            self.gaps += 1
            self.backfilled += len(missed)
            newest = max(missed, key=lambda r: r.id)
            tape.last_id, tape.last_mts = newest.id, newest.mts
        if rows and all(row.id > after for row in rows):
            oldest = min(rows, key=lambda r: (r.mts, r.id))
            # Bitfinex: the snapshot does not reach back to the last trade delivered; ask
            # for the span in between (start and end are both included).
            at = self._pacer.slot(now)
            fetch = FetchHistory(tape.stream, tape.symbol, after_mts, oldest.mts, after, oldest.id, at - now)
            tape.pending.append(fetch)
            out.fetch = fetch
        return out

    # ------------------------------------------------------------------ answers
    def answered(self, fetch: FetchHistory, body: str | bytes, now: float) -> BackfillOutcome:
        """The answer to ``fetch`` (its JSON text): the trades between the last one delivered
        and the snapshot, and the span given up when the answer was full before reaching the
        snapshot.  An answer for a channel that is gone is ignored."""
        tape = self.tapes.get(fetch.stream)
        if tape is None or fetch not in tape.pending:
            return BackfillOutcome()
        try:
            rows = parse_history(body)
        except ValueError as exc:
            return self._failure(tape, fetch, f"unreadable answer from GET {fetch.path}: {exc}", now)
        return self._answer(tape, fetch, rows)

    def failed(self, fetch: FetchHistory, reason: str, now: float, *, retry: bool = True) -> BackfillOutcome:
        """``fetch`` could not be answered (``reason``): the same request again after a
        growing delay, or the span given up after :attr:`BackfillPolicy.attempts` failures
        (at once with ``retry=False``: the request cannot be made at all)."""
        tape = self.tapes.get(fetch.stream)
        if tape is None or fetch not in tape.pending:
            return BackfillOutcome()
        if not retry:
            tape.pending.remove(fetch)
            return BackfillOutcome(errors=[self._error(tape, fetch.start_ms, fetch.end_ms, reason)])
        return self._failure(tape, fetch, reason, now)

    def replayed(self, stream: str, body: str | bytes, now: float) -> BackfillOutcome:
        """A recorded answer of ``stream`` (the text of a ``backfill`` record), replayed: it
        answers the request of that channel whose span its trades fall in, which a replaying
        client leaves pending instead of making it (the spans of one channel's requests never
        overlap; a recorded answer always delivered trades).  Nothing happens when no pending
        request matches.

        Raises:
            ValueError: the text is not a list of trades.
        """
        tape = self.tapes.get(stream)
        if tape is None or not tape.pending:
            return BackfillOutcome()
        rows = parse_history(body)
        for fetch in tape.pending:
            if any(_wanted(fetch, entry) for entry, _ in rows):
                return self._answer(tape, fetch, rows)
        return BackfillOutcome()

    # ------------------------------------------------------------------ internals
    def _answer(self, tape: Tape, fetch: FetchHistory, rows: list[tuple[TradeEntry, list[object]]]) -> BackfillOutcome:
        tape.pending.remove(fetch)
        tape.failures = 0
        out = BackfillOutcome()
        for entry, row in rows:
            if _wanted(fetch, entry):
                out.events.append(TradeUpdate(stream=tape.stream, symbol=tape.symbol, data=row, trade=entry,
                                              kind="executed"))
        self.backfilled += len(out.events)
        if len(rows) >= fetch.limit:
            reached = rows[-1][0].mts
            if reached < fetch.end_ms:
                out.errors.append(self._error(
                    tape, reached, fetch.end_ms,
                    f"the history answer was full ({fetch.limit} trades) and ended at {reached}",
                ))
        return out

    def _failure(self, tape: Tape, fetch: FetchHistory, reason: str, now: float) -> BackfillOutcome:
        tape.pending.remove(fetch)
        tape.failures += 1
        tape.reason = reason
        policy = self.policy
        if tape.failures >= policy.attempts:
            tape.failures = 0
            return BackfillOutcome(errors=[self._error(tape, fetch.start_ms, fetch.end_ms, reason)])
        at = self._pacer.slot(now, now + policy.retry_in(tape.failures))
        again = dataclasses.replace(fetch, delay=at - now)
        tape.pending.append(again)
        return BackfillOutcome(fetch=again)

    def _error(self, tape: Tape, start_ms: int, end_ms: int, reason: str) -> TradeGapError:
        return TradeGapError(
            f"{tape.stream}: the trades from {start_ms} to {end_ms} (ms) could not all be fetched ({reason}); "
            "the channel goes on without them",
            exchange="bitfinex", symbol=tape.symbol, stream=tape.stream, reason=reason, start_ms=start_ms,
            end_ms=end_ms,
        )


def _wanted(fetch: FetchHistory, entry: TradeEntry) -> bool:
    """Whether a history row is one ``fetch`` asked for: newer than the last trade delivered,
    older than the snapshot, within the span."""
    return fetch.after_id < entry.id < fetch.before_id and entry.mts <= fetch.end_ms
