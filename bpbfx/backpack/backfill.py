"""Backpack trades across reconnects and skipped ids, without I/O: :class:`TradeBackfill`.

Backpack numbers the public trades of each market one after another (``t`` of
``trade.<symbol>``, ``id`` of the REST history; docs/protocols.md), so a hole in a trade stream
is a range of ids.  Per trades stream the core keeps a :class:`Tape` of what was delivered: a
low watermark (every id up to it was delivered, or given up) and the ids delivered above it.

- **Live trades**: while nothing is missing, the shell compares each trade's id with
  :attr:`Tape.next_id` and counts on (one integer compare; no lock).  Any other id goes to
  :meth:`TradeBackfill.live` (under the client's lock): a jump opens a hole, an id delivered
  before (a backfill got it first) is dropped.
- **Reconnects**: :meth:`TradeBackfill.connection_lost` marks every tape; once the socket is
  back (:meth:`TradeBackfill.connection_made`) the most recent trades are asked for at once
  (``GET /api/v1/trades``, up to 1000, oldest first): a quiet market may not trade again soon.
- **Holes** are filled from ``GET /api/v1/trades/history`` (``offset`` counts back from the
  newest trade, 1000 per page), highest ids first; each answer tells how far the exchange's
  tape has moved, so the next offset is exact.
- **Answers** (:meth:`TradeBackfill.answered`) give the rows never delivered, sorted by id, as
  :class:`~bpbfx.backpack.events.Trade` events with ``backfill=True``.
- **Giving up** (:class:`~bpbfx.TradeGapError` with the id range): the history does not reach
  back far enough, requests keep failing (:attr:`BackfillPolicy.attempts`), or the hole is
  larger than :attr:`BackfillPolicy.max_missing`.  The tape goes on after the hole.

Requests come out as :class:`FetchTrades` values (with the delay the rate limit and retries
ask for); the shell runs them off the reader thread and hands back the rows or the failure.
Time comes in as ``now`` (monotonic seconds).  Not thread-safe: called under the client's lock,
but for the shell's read and increment of :attr:`Tape.next_id` on the reader thread (the core
changes ``next_id`` only while it is :data:`DISARMED`, so the two never race).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..backfill import BackfillPolicy, Tapes
from ..exceptions import TradeGapError
from .decode import _int, _num
from .events import Trade

__all__ = [
    "DISARMED",
    "HISTORY",
    "PAGE",
    "RECENT",
    "BackfillOutcome",
    "BackfillPolicy",
    "FetchTrades",
    "Tape",
    "TradeBackfill",
    "parse_rows",
]

RECENT = "/api/v1/trades"
"""The most recent public trades of a market, oldest first (``symbol``, ``limit`` <= 1000)."""
HISTORY = "/api/v1/trades/history"
"""Older public trades: ``limit`` (<= 1000) rows ending ``offset`` trades before the newest."""
PAGE = 1000
"""Rows per request: Backpack's maximum for both endpoints."""
DISARMED = -1
""":attr:`Tape.next_id` while something is missing or being fetched: no id matches it."""


@dataclass(frozen=True, slots=True, eq=False)
class FetchTrades:
    """Ask for the public trades of ``symbol`` for the tape of ``stream``: ``GET path`` with
    :attr:`params`, after waiting ``delay`` seconds.  Hand the answer's rows to
    :meth:`TradeBackfill.answered`, or the failure to :meth:`TradeBackfill.failed`.

    Attributes:
        top: the highest missing id this page is for (history pages), else ``None``.
    """

    stream: str
    symbol: str
    path: str
    limit: int
    offset: int | None
    delay: float
    top: int | None = None

    @property
    def params(self) -> dict[str, str]:
        """The query string's parameters."""
        params = {"symbol": self.symbol, "limit": str(self.limit)}
        if self.offset is not None:
            params["offset"] = str(self.offset)
        return params


@dataclass(slots=True)
class BackfillOutcome:
    """What one input did: whether the live trade goes on to the user (``deliver``), the
    backfilled trades to deliver (``events``, by id), the holes given up (``errors``, to
    report) and the next request (``fetch``)."""

    deliver: bool = True
    events: list[Trade] = field(default_factory=list)
    errors: list[TradeGapError] = field(default_factory=list)
    fetch: FetchTrades | None = None


class Tape:
    """What one trades stream delivered (see the module docstring).

    Attributes:
        next_id: the id the next live trade must have for the shell's fast path
            (:data:`DISARMED` while a hole is open, a request is out or a reconnect is being
            recovered; the first trade of the stream arms it).
        low: every id up to this one was delivered or given up (``None`` before the first).
        newest: the highest id delivered.
        above: the ids above ``low`` delivered while the ones below them were missing.
    """

    __slots__ = ("above", "failures", "inflight", "low", "newest", "next_id", "open_hole", "reason", "recover",
                 "server_newest", "stream", "symbol")

    def __init__(self, stream: str, symbol: str) -> None:
        self.stream = stream
        self.symbol = symbol
        self.next_id = DISARMED
        self.low: int | None = None
        self.newest = 0
        self.above: set[int] = set()
        self.recover = False  # the socket came back: the recent trades are to be fetched
        self.inflight: FetchTrades | None = None
        self.failures = 0  # requests in a row that failed or brought nothing
        self.reason = ""  # why the last one failed
        self.server_newest = 0  # the newest id the exchange was known to have
        self.open_hole = False  # a hole counted in TradeBackfill.gaps is still open

    def __repr__(self) -> str:
        return f"<Tape {self.stream} low={self.low} newest={self.newest} above={len(self.above)}>"


def parse_rows(stream: str, symbol: str, body: str | bytes) -> list[Trade]:
    """The rows of a REST trades answer's JSON text (``id``, ``price``, ``quantity``,
    ``timestamp`` in ms, ``isBuyerMaker``) as backfilled :class:`Trade` events, sorted by id.
    Their ``data`` is the row in the stream's shape (``e``, ``E``, ``s``, ``p``, ``q``, ``t``,
    ``T``, ``m``), so whoever reads ``data`` reads one shape; both times are the row's
    ``timestamp``.

    Raises:
        ValueError: not JSON, or not a list of such rows.
    """
    rows = json.loads(body)
    if not isinstance(rows, list):
        raise ValueError(f"expected a list of trades, got {type(rows).__name__}")
    events: list[Trade] = []
    for row in rows:
        try:
            trade_id = _int(row["id"])
            price, quantity = row["price"], row["quantity"]
            us = _int(row["timestamp"]) * 1000
            maker = row.get("isBuyerMaker")
            if maker is not None and maker.__class__ is not bool:
                raise ValueError(f"isBuyerMaker must be true or false, got {maker!r}")
            data = {"e": "trade", "E": us, "s": symbol, "p": price, "q": quantity, "t": trade_id, "T": us, "m": maker}
            events.append(
                Trade(stream=stream, symbol=symbol, data=data, trade_id=trade_id, price=_num(price),
                      quantity=_num(quantity), buyer_is_maker=maker, buy_order_id=None, sell_order_id=None,
                      event_time_us=us, engine_time_us=us, backfill=True)
            )
        except (KeyError, TypeError, AttributeError, ArithmeticError) as exc:
            raise ValueError(f"not a trade row ({type(exc).__name__}: {exc}): {row!r:.120}") from None
    events.sort(key=lambda e: e.trade_id)
    return events


class TradeBackfill(Tapes[Tape]):
    """The trade tapes of one Backpack client (see the module docstring).

    Args:
        policy: attempts, retry delays, request rate and the largest hole fetched.

    Attributes:
        tapes: the :class:`Tape` of every tracked ``trade.<symbol>`` stream (the shell reads
            it on the hot path without the lock: one ``dict.get``); a tape starts with the
            stream's first trade.
        backfilled: trades delivered from REST answers.
        gaps: holes found (filled or not).
    """

    def _tape(self, stream: str, symbol: str) -> Tape:
        return Tape(stream, symbol)

    # ------------------------------------------------------------------ the connection
    def connection_lost(self) -> None:
        """The socket ended: what prints until it is back is missed.  Every tape that has
        started waits for :meth:`connection_made` to ask for the recent trades."""
        for tape in self.tapes.values():
            self._sync(tape)
            if tape.low is not None:
                tape.recover = True

    def connection_made(self, now: float) -> list[FetchTrades]:
        """The socket is back and subscribed again: the requests for the recent trades of
        every tape that missed some."""
        fetches = []
        for tape in self.tapes.values():
            if tape.recover:
                fetch = self._settle(tape, now, BackfillOutcome()).fetch
                if fetch is not None:
                    fetches.append(fetch)
        return fetches

    # ------------------------------------------------------------------ live trades
    def live(self, event: Trade, now: float) -> BackfillOutcome:
        """A live trade whose id is not :attr:`Tape.next_id`: deliver it or not
        (``deliver``), and what follows (a hole opens: a request; a hole too large: errors)."""
        out = BackfillOutcome()
        tape = self.tapes.get(event.stream)
        if tape is None:
            return out
        self._sync(tape)
        t = event.trade_id
        low = tape.low
        if low is None:
            tape.low = tape.newest = t  # the stream's first trade: the tape starts here
        elif t <= low or t in tape.above:
            if low - t <= self.policy.max_missing:
                out.deliver = False  # delivered already (a backfill got it first)
                return self._settle(tape, now, out)
            self._restart(tape, t)  # ids far below the tape's: the market's numbering restarted
        else:
            if t > tape.newest + 1:
                self._hole(tape)
            tape.newest = max(tape.newest, t)
            self._take(tape, t)
        return self._settle(tape, now, out)

    # ------------------------------------------------------------------ answers
    def answered(self, fetch: FetchTrades, body: str | bytes, now: float) -> BackfillOutcome:
        """The answer to ``fetch`` (its JSON text): the trades never delivered, what was given
        up, and the next request.  An answer for a tape that is gone is ignored."""
        out = BackfillOutcome()
        tape = self.tapes.get(fetch.stream)
        if tape is None or tape.inflight is not fetch:
            return out
        tape.inflight = None
        try:
            events = parse_rows(tape.stream, tape.symbol, body)
        except ValueError as exc:
            return self._failure(tape, f"unreadable answer from GET {fetch.path}: {exc}", now, out)
        before = tape.low
        if fetch.path == RECENT:
            tape.recover = False
            if events:
                tape.server_newest = max(tape.server_newest, events[-1].trade_id)
                if events[-1].trade_id > tape.newest:
                    # Trades printed while the socket was down (or since it came back).
                    self._hole(tape)
                    tape.newest = events[-1].trade_id
        elif events:
            tape.server_newest = max(tape.server_newest, events[-1].trade_id + (fetch.offset or 0))
        delivered = self._deliver(tape, events, out)
        gave_up = False
        if len(events) < fetch.limit and tape.low is not None and tape.low < tape.newest:
            # The exchange has nothing older than this answer: what is missing below is gone.
            floor = events[0].trade_id - 1 if events else (fetch.top if fetch.top is not None else tape.newest)
            if floor > tape.low:
                first = events[0].trade_id if events else None
                why = (f"the exchange's trade history starts at id {first}" if first is not None
                       else "the exchange's trade history has nothing there")
                out.errors.extend(self._give_up(tape, floor, why))
                gave_up = True
        if fetch.path == HISTORY and not delivered and not gave_up and tape.low == before:
            tape.failures += 1
            tape.reason = f"GET {fetch.path} (offset {fetch.offset}) brought none of the missing trades"
        else:
            tape.failures = 0
        return self._settle(tape, now, out)

    def failed(self, fetch: FetchTrades, reason: str, now: float) -> BackfillOutcome:
        """``fetch`` could not be answered (``reason``: the HTTP status, a timeout...): a
        retry after a growing delay, or the holes given up after
        :attr:`BackfillPolicy.attempts` failures in a row."""
        tape = self.tapes.get(fetch.stream)
        if tape is None or tape.inflight is not fetch:
            return BackfillOutcome()
        tape.inflight = None
        return self._failure(tape, reason, now, BackfillOutcome())

    def dropped(self, fetch: FetchTrades) -> None:
        """``fetch`` will not be made (the client is replaying a recording, or closing): the
        tape stops waiting for it."""
        tape = self.tapes.get(fetch.stream)
        if tape is not None and tape.inflight is fetch:
            tape.inflight = None
            tape.recover = False

    def replayed(self, stream: str, body: str | bytes, now: float) -> BackfillOutcome:
        """A recorded answer of ``stream`` (the text of a ``backfill`` record): the trades never
        delivered, as live.

        Raises:
            ValueError: the text is not a list of trades.
        """
        out = BackfillOutcome()
        tape = self.tapes.get(stream)
        if tape is None:
            return out
        events = parse_rows(tape.stream, tape.symbol, body)
        self._sync(tape)
        tape.recover = False
        if tape.low is not None:
            if events and events[-1].trade_id > tape.newest:
                self._hole(tape)
                tape.newest = events[-1].trade_id
            self._deliver(tape, events, out)
        return self._settle(tape, now, out)

    # ------------------------------------------------------------------ internals
    def _sync(self, tape: Tape) -> None:
        """Take the shell's count back (:attr:`Tape.next_id`) and disarm the fast path."""
        if tape.next_id != DISARMED:
            tape.low = tape.newest = tape.next_id - 1
            tape.next_id = DISARMED

    def _take(self, tape: Tape, t: int) -> None:
        """Count id ``t`` (above ``low``, never delivered) as delivered."""
        low = tape.low
        assert low is not None
        if t == low + 1:
            tape.low = t
            if tape.above:
                self._absorb(tape)
        else:
            tape.above.add(t)

    def _absorb(self, tape: Tape) -> None:
        """Move ``low`` up over the ids delivered right above it."""
        low = tape.low
        assert low is not None
        above = tape.above
        while low + 1 in above:
            low += 1
            above.discard(low)
        tape.low = low

    def _hole(self, tape: Tape) -> None:
        if not tape.open_hole:
            tape.open_hole = True
            self.gaps += 1

    def _restart(self, tape: Tape, t: int) -> None:
        tape.low = tape.newest = t
        tape.above.clear()
        tape.recover = False

    def _deliver(self, tape: Tape, events: Iterable[Trade], out: BackfillOutcome) -> int:
        """Append the events never delivered and within the tape to ``out``; returns how many."""
        low = tape.low
        if low is None:
            return 0
        above, newest = tape.above, tape.newest
        count = 0
        for event in events:
            t = event.trade_id
            if t <= low or t in above or t > newest:
                continue
            out.events.append(event)
            self._take(tape, t)
            low = tape.low
            assert low is not None
            count += 1
        self.backfilled += count
        return count

    def _missing(self, tape: Tape) -> list[tuple[int, int]]:
        """The missing id ranges (both ends included), lowest first."""
        low = tape.low
        if low is None:
            return []
        ranges = []
        start = low + 1
        for t in sorted(tape.above):
            if t > start:
                ranges.append((start, t - 1))
            start = t + 1
        if start <= tape.newest:
            ranges.append((start, tape.newest))
        return ranges

    def _give_up(self, tape: Tape, upto: int, reason: str) -> list[TradeGapError]:
        """Give up every missing id up to ``upto``: the errors naming each range."""
        errors = []
        for first, last in self._missing(tape):
            if first > upto:
                break
            last = min(last, upto)
            count = last - first + 1
            what = f"trade {first}" if count == 1 else f"{count} trades, ids {first} to {last}"
            errors.append(TradeGapError(
                f"{tape.stream}: {what} could not be fetched ({reason}); the stream goes on without them",
                exchange="backpack", symbol=tape.symbol, stream=tape.stream, reason=reason, first_id=first,
                last_id=last,
            ))
        low = tape.low
        assert low is not None
        if upto > low:
            tape.above = {t for t in tape.above if t > upto}
            tape.low = upto
            self._absorb(tape)
            tape.newest = max(tape.newest, upto)
        return errors

    def _failure(self, tape: Tape, reason: str, now: float, out: BackfillOutcome) -> BackfillOutcome:
        tape.failures += 1
        tape.reason = reason
        return self._settle(tape, now, out)

    def _settle(self, tape: Tape, now: float, out: BackfillOutcome) -> BackfillOutcome:
        """After every input: give up what cannot be had, then plan the next request, or arm
        the fast path when nothing is missing."""
        low = tape.low
        if low is None:
            return out
        policy = self.policy
        if tape.newest - low - 1 > policy.max_missing:
            out.errors.extend(self._give_up(
                tape, tape.newest - 1 - policy.max_missing,
                f"a hole of more than {policy.max_missing} trades is not fetched",
            ))
        if tape.failures >= policy.attempts:
            out.errors.extend(self._give_up(tape, tape.newest, tape.reason))
            tape.recover = False
            tape.failures = 0
        missing = tape.low is not None and tape.newest > tape.low
        if tape.inflight is not None:
            return out
        if not missing and not tape.recover:
            tape.failures = 0
            tape.open_hole = False
            tape.next_id = tape.newest + 1  # armed: low == newest, nothing above
            return out
        earliest = now + policy.retry_in(tape.failures)
        delay = self._pacer.slot(now, earliest) - now
        if tape.recover:
            fetch = FetchTrades(tape.stream, tape.symbol, RECENT, PAGE, None, delay)
        else:
            top = self._missing(tape)[-1][1]
            offset = max(0, max(tape.newest, tape.server_newest) - top)
            fetch = FetchTrades(tape.stream, tape.symbol, HISTORY, PAGE, offset, delay, top)
        tape.inflight = out.fetch = fetch
        return out
