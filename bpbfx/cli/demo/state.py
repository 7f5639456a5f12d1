"""What the demo knows while it runs: the scrolling panel of incidental events
(:class:`Notices`), the timeline of what it shows on purpose (:class:`Timeline`: the order
round trip, each injected fault and its recovery) and, per exchange, the hooks that count
(:class:`ExchangePanel`).  Hooks run on the clients' threads; readers on the main thread."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ...base import BaseClient, ClientStats
from ...events import Event
from ...exceptions import TransportError
from ..errors import describe

if TYPE_CHECKING:
    from ...live import OrderBookUpdate

__all__ = ["ExchangePanel", "Milestone", "Notices", "Timeline", "trade_row"]

PENDING, DONE, FAILED = "pending", "done", "failed"


class Notices:
    """Timestamped lines of incidental events (thread-safe)."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.items: list[tuple[float, str, str, bool]] = []
        self.printed = 0
        self._lock = threading.Lock()

    def add(self, exchange: str, text: str, warn: bool = False) -> None:
        """One line (any thread); ``warn`` shows it highlighted."""
        with self._lock:
            self.items.append((time.monotonic() - self.started, exchange, text, warn))

    def new(self) -> list[tuple[float, str, str, bool]]:
        """The lines added since the last call."""
        with self._lock:
            items = self.items[self.printed :]
            self.printed = len(self.items)
        return items

    def recent(self, n: int) -> list[tuple[float, str, str, bool]]:
        """The last ``n`` lines."""
        if n <= 0:
            return []
        with self._lock:
            return self.items[-n:]


@dataclass
class Milestone:
    """One thing the demo shows on purpose: ``what`` happened at ``at`` seconds (``detail``:
    particulars a narrow screen leaves out), and its ``outcome`` once known (``state``:
    pending, done or failed)."""

    at: float
    exchange: str
    what: str
    detail: str = ""
    sep: str = ": "
    outcome: str = ""
    state: str = PENDING

    def text(self, detail: bool = True) -> str:
        """``what (detail)<sep>outcome`` (``...`` while pending)."""
        head = f"{self.what} ({self.detail})" if detail and self.detail else self.what
        if self.state == PENDING:
            return f"{head} ..."
        return f"{head}{self.sep}{self.outcome}" if self.outcome else head


class Timeline:
    """The demo's milestones in order (thread-safe); entries stay for the whole run."""

    def __init__(self, started: float) -> None:
        self.started = started
        self._items: list[Milestone] = []
        self._lock = threading.Lock()

    def add(self, exchange: str, what: str, detail: str = "", *, sep: str = ": ", at: float | None = None) -> Milestone:
        """A new pending milestone (any thread); ``at`` is a ``time.monotonic()`` value."""
        when = (time.monotonic() if at is None else at) - self.started
        item = Milestone(when, exchange, what, detail, sep)
        with self._lock:
            self._items.append(item)
            self._items.sort(key=lambda m: m.at)
        return item

    def finish(self, item: Milestone, outcome: str, ok: bool = True) -> None:
        """Record how ``item`` ended (any thread)."""
        with self._lock:
            item.outcome = outcome
            item.state = DONE if ok else FAILED

    def items(self) -> list[Milestone]:
        """A copy of every milestone, by time."""
        with self._lock:
            return [dataclasses.replace(m) for m in self._items]


def trade_row(event: Event) -> tuple[str, str, Decimal, Decimal] | None:
    """``(symbol, side, price, size)`` of one public trade event, else None."""
    from ...backpack.events import Trade as BackpackTrade

    if type(event) is BackpackTrade:
        # Backpack: m = buyer is the maker, so the taker sold.
        side = "sell" if event.buyer_is_maker else ("buy" if event.buyer_is_maker is False else "?")
        return event.symbol or "", side, event.price, event.quantity
    if type(event).__name__ == "TradeUpdate" and getattr(event, "kind", None) == "executed":
        # Bitfinex: `te` and `tu` describe the same trade; count `te`.  AMOUNT < 0 is a sell.
        trade = getattr(event, "trade", None)
        amount = getattr(trade, "amount", None)
        price = getattr(trade, "price", None)
        if isinstance(amount, Decimal) and isinstance(price, Decimal):
            return event.symbol or "", "sell" if amount < 0 else "buy", price, abs(amount)
    return None


@dataclass
class _Fault:
    """An injected fault until the client reconnected and every book resynced."""

    started: float
    milestone: Milestone
    books: set[str]
    reopened: bool = False
    resynced: int = 0


class ExchangePanel:
    """What the demo shows for one exchange, fed by the client's hooks (its threads).

    Book resyncs are counted here, the same way for both exchanges: every ``on_book`` update
    that rebuilt a book from a fresh snapshot, after that book's first one.  Connection errors
    while an injected fault is being recovered from are the fault's, not errors.
    """

    def __init__(self, name: str, url: str, notices: Notices, timeline: Timeline) -> None:
        self.name = name
        self.url = url
        self.notices = notices
        self.timeline = timeline
        self.client: BaseClient | None = None
        self.trades: deque[tuple[str, str, Decimal, Decimal]] = deque(maxlen=6)
        self.samples: deque[tuple[float, int]] = deque(maxlen=64)
        self.syncs: dict[str, int] = {}
        self.opens = 0
        self.errors = 0  # real errors
        self.injected_errors = 0  # connection errors caused by the injected faults
        self.last_error = ""
        self.faults: list[Milestone] = []
        self._fault: _Fault | None = None
        self._lock = threading.Lock()

    # hooks --------------------------------------------------------------------------------
    def on_message(self, client: Any, event: Event) -> None:
        """Trades for the panel; Bitfinex info messages as notices."""
        row = trade_row(event)
        if row is not None:
            self.trades.append(row)
            return
        code = getattr(event, "code", None)
        if type(event).__name__ == "Info" and code is not None:
            what = " (server restarting): the client reconnects" if code == 20051 else ""
            self.notices.add(self.name, f"server sent info {code}{what}")

    def on_error(self, client: Any, exc: BaseException) -> None:
        """Count the error: the injected fault's, or a real one."""
        text = describe(exc)
        with self._lock:
            injected = self._fault is not None and isinstance(exc, TransportError)
            if injected:
                self.injected_errors += 1
            else:
                self.errors += 1
                self.last_error = text
        self.notices.add(self.name, text + (" (the injected fault)" if injected else ""), warn=not injected)

    def on_open(self, client: Any) -> None:
        """A connection opened (first or after a reconnect)."""
        with self._lock:
            self.opens += 1
            opens = self.opens
            if self._fault is not None:
                self._fault.reopened = True
        self.notices.add(self.name, "connected" if opens == 1 else f"reconnected (connection #{opens})")
        self._check_recovered()

    def on_reconnect(self, client: Any, attempt: int) -> None:
        """A reconnect attempt starts."""
        self.notices.add(self.name, f"reconnect attempt {attempt}")

    def on_book(self, client: Any, update: OrderBookUpdate) -> None:
        """A book rebuilt from a snapshot counts as a sync (the first) or a resync."""
        if not update.snapshot:
            return
        with self._lock:
            n = self.syncs.get(update.stream, 0) + 1
            self.syncs[update.stream] = n
            fault = self._fault
            if fault is not None and update.stream in fault.books:
                fault.books.discard(update.stream)
                fault.resynced += 1
        what = "synced" if n == 1 else "resynced"
        self.notices.add(self.name, f"book {update.stream} {what} at update {update.update_id} (valid={update.valid})")
        self._check_recovered()

    # faults -------------------------------------------------------------------------------
    def begin_fault(self, what: str) -> None:
        """An injected fault starts now: it is recovered from once the client reconnected and
        every book it keeps was rebuilt from a fresh snapshot (main thread)."""
        books = set(self.client.books) if self.client is not None else set()
        item = self.timeline.add(self.name, f"injected: {what}", sep=" -> ")
        with self._lock:
            self.faults.append(item)
            self._fault = _Fault(time.monotonic(), item, books)

    def _check_recovered(self) -> None:
        with self._lock:
            fault = self._fault
            if fault is None or not fault.reopened or fault.books:
                return
            self._fault = None
        took = time.monotonic() - fault.started
        books = "book resynced" if fault.resynced == 1 else f"{fault.resynced} books resynced"
        self.timeline.finish(fault.milestone, f"recovered in {took:.1f} s, {books}")

    def unrecovered(self) -> tuple[Milestone, float] | None:
        """The fault still being recovered from and for how long, or None."""
        with self._lock:
            fault = self._fault
        return None if fault is None else (fault.milestone, time.monotonic() - fault.started)

    # figures ------------------------------------------------------------------------------
    @property
    def resyncs(self) -> int:
        """Books rebuilt from a fresh snapshot after their first sync, over all books."""
        with self._lock:
            return sum(n - 1 for n in self.syncs.values() if n > 1)

    def all_synced(self) -> bool:
        """Every book the client keeps was built from a snapshot at least once."""
        books = list(self.client.books) if self.client is not None else []
        with self._lock:
            return bool(books) and all(self.syncs.get(stream, 0) > 0 for stream in books)

    def book_syncs(self, stream: str) -> int:
        """How often the book of ``stream`` was built from a snapshot."""
        with self._lock:
            return self.syncs.get(stream, 0)

    def sample(self, now: float) -> ClientStats | None:
        """The client's stats, remembered for :meth:`rate` (main thread)."""
        client = self.client
        if client is None:
            return None
        stats = client.stats()
        self.samples.append((now, stats.messages))
        return stats

    def rate(self) -> float:
        """Messages per second over the last second or so."""
        if len(self.samples) < 2:
            return 0.0
        t1, m1 = self.samples[-1]
        t0, m0 = self.samples[0]
        for t, m in self.samples:
            if t1 - t <= 1.05:
                t0, m0 = t, m
                break
        return (m1 - m0) / (t1 - t0) if t1 > t0 else 0.0
