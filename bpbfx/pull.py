"""Pull API: events on your own thread from a bounded queue the reader thread fills.

::

    with EventStream(client, maxsize=10_000, overflow="drop_oldest") as events:
        for event in events:            # blocks; ends when the client (or the stream) closes
            handle(event)

    event = events.get(timeout=0.5)     # or poll: None when nothing came in time

The reader thread never blocks on a full queue.  ``overflow`` says what is lost:

- ``"drop_oldest"``: the oldest queued event makes room for the new one (freshest data wins);
- ``"drop_newest"``: the new event is dropped (the queue keeps the earliest backlog);
- ``"error"``: the new event is dropped and, once the consumer has taken every event queued
  before the loss, ``get()``/iteration raises :class:`~bpbfx.EventsDroppedError` at that very
  place (``dropped`` = how many are missing there); the next call carries on after the gap.

Every loss is counted in :meth:`EventStream.stats` and reported to the client's ``on_error`` as
an :class:`~bpbfx.EventsDroppedError` naming how many events were lost: once when a run of
losses ends (the next event fits again), at most every ``report_interval`` seconds while it lasts,
and when the stream closes, so the ``dropped`` figures of the reports add up to the total.
Order books are maintained on the reader thread regardless, so ``client.book()`` stays exact
however slow the consumer is.

:class:`ThreadDispatcher` uses the same bounded queue to run callbacks on a thread of their own
(``dispatch="thread"``), for applications whose callbacks are slow; :class:`ThreadedHooks` is the
sink that hands a client's ``on_message``/``on_book`` to it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

from .base import BaseClient, Sink
from .events import Event
from .exceptions import ClientClosedError, ConfigurationError, EventsDroppedError
from .live import OrderBookUpdate

__all__ = [
    "DISPATCH_MODES",
    "OVERFLOW_POLICIES",
    "BoundedBuffer",
    "BufferStats",
    "EventStream",
    "HookRouter",
    "Overflow",
    "ThreadDispatcher",
    "ThreadedHooks",
    "check_queue_args",
    "make_router",
]

Overflow = Literal["drop_oldest", "drop_newest", "error"]
#: The accepted ``overflow`` policies.
OVERFLOW_POLICIES: Final = ("drop_oldest", "drop_newest", "error")
DEFAULT_MAXSIZE: Final = 10_000


@dataclass(frozen=True, slots=True)
class BufferStats:
    """Counters of a bounded queue (a consistent snapshot).

    Attributes:
        maxsize / policy: the queue's bound and overflow policy.
        queued: items waiting now; ``high_water``: the most ever waiting.
        received: items offered by the producer; ``delivered``: items handed to the consumer.
        dropped: items lost to overflow (``received == delivered + queued + dropped``, plus
            items left behind by :meth:`BoundedBuffer.clear`).
        overflows: runs of consecutive losses; ``reports``: loss reports produced.
    """

    maxsize: int
    policy: str
    queued: int
    high_water: int
    received: int
    delivered: int
    dropped: int
    overflows: int
    reports: int


class _Gap:
    """Where events are missing in an ``overflow="error"`` queue (never counted in the size)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 1


def check_queue_args(maxsize: int, overflow: str) -> None:
    """Validate ``maxsize`` and ``overflow``.

    Raises:
        ConfigurationError: ``maxsize`` is not a whole number >= 1 or ``overflow`` is not one of
            :data:`OVERFLOW_POLICIES`.
    """
    if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 1:
        raise ConfigurationError(f"maxsize must be a whole number >= 1, got {maxsize!r}")
    if overflow not in OVERFLOW_POLICIES:
        raise ConfigurationError(f"overflow must be one of {', '.join(OVERFLOW_POLICIES)}, got {overflow!r}")


class BoundedBuffer:
    """A bounded FIFO for one producer thread (or a few) and one consumer; ``put`` never blocks.

    Args:
        maxsize: most items held.
        overflow: ``"drop_oldest"``, ``"drop_newest"`` or ``"error"`` (see the module docstring).
        name: names the queue in loss reports.
        report_interval: seconds between loss reports while a run of losses lasts.
        clock: monotonic clock (injected in tests).

    Raises:
        ConfigurationError: invalid ``maxsize`` / ``overflow``.
    """

    def __init__(
        self,
        maxsize: int = DEFAULT_MAXSIZE,
        overflow: str = "drop_oldest",
        *,
        name: str = "events",
        report_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_queue_args(maxsize, overflow)
        self.maxsize = maxsize
        self.policy = overflow
        self.name = name
        self.report_interval = report_interval
        self._clock = clock
        self._items: deque[Any] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._size = 0
        self._high = 0
        self._received = 0
        self._delivered = 0
        self._dropped = 0
        self._unreported = 0
        self._overflows = 0
        self._reports = 0
        self._in_overflow = False
        self._last_report = 0.0
        self._unfinished = 0
        self._closed = False
        self._drop_oldest = overflow == "drop_oldest"
        self._mark_gaps = overflow == "error"

    def __repr__(self) -> str:
        return f"<BoundedBuffer {self.name} {self._size}/{self.maxsize} {self.policy} dropped={self._dropped}>"

    # ------------------------------------------------------------------ producer side
    def put(self, item: Any) -> EventsDroppedError | None:
        """Queue ``item`` without blocking (producer thread).  Returns a loss report to deliver
        (see the module docstring) or ``None``.  Items offered after :meth:`close` are ignored.
        Raises nothing."""
        with self._cond:
            if self._closed:
                return None
            self._received += 1
            items = self._items
            if self._size < self.maxsize:
                items.append(item)
                self._size += 1
                self._unfinished += 1
                if self._size > self._high:
                    self._high = self._size
                self._cond.notify()
                if self._in_overflow:
                    self._in_overflow = False
                    return self._report()
                return None
            # Full: lose one item, never block the producer (the reader thread).
            self._dropped += 1
            self._unreported += 1
            if self._drop_oldest:
                items.popleft()
                items.append(item)  # one unprocessed item out, one in: _unfinished unchanged
                self._cond.notify()
            elif self._mark_gaps:
                tail = items[-1] if items else None
                if type(tail) is _Gap:
                    tail.count += 1
                else:
                    items.append(_Gap())
            now = self._clock()
            if not self._in_overflow:
                self._in_overflow = True
                self._overflows += 1
                self._last_report = now
            elif now - self._last_report >= self.report_interval:
                return self._report()
            return None

    def _report(self) -> EventsDroppedError | None:
        """The report of the losses not yet reported (called under the lock)."""
        lost = self._unreported
        if not lost:
            return None
        self._unreported = 0
        self._reports += 1
        self._last_report = self._clock()
        where = {
            "drop_oldest": "the oldest queued events were dropped to make room",
            "drop_newest": "new events were dropped",
            "error": "new events were dropped; the consumer gets EventsDroppedError where they are missing",
        }[self.policy]
        return EventsDroppedError(
            f"{self.name}: queue full ({self.maxsize} events): {lost} event{'s' if lost != 1 else ''} lost "
            f"({self._dropped} in all); {where}. Consume faster, raise maxsize or filter streams.",
            dropped=lost,
            total_dropped=self._dropped,
            policy=self.policy,
            queue=self.name,
        )

    def flush_report(self) -> EventsDroppedError | None:
        """The report of any losses not yet reported, or ``None`` (any thread)."""
        with self._cond:
            self._in_overflow = False
            return self._report()

    # ------------------------------------------------------------------ consumer side
    def get(self, timeout: float | None = None) -> Any | None:
        """The next item, waiting up to ``timeout`` seconds (forever if ``None``); ``None`` when
        nothing came in time or the buffer is closed and empty.  Consumer thread.

        Raises:
            EventsDroppedError: ``overflow="error"`` and events are missing at this point
                (``dropped`` says how many); the next call returns the event after the gap.
        """
        with self._cond:
            items = self._items
            if not items:
                if self._closed:
                    return None
                if timeout is None:
                    while not items and not self._closed:
                        self._cond.wait()
                elif timeout > 0:
                    deadline = time.monotonic() + timeout
                    while not items and not self._closed:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
                if not items:
                    return None
            item = items.popleft()
            if type(item) is _Gap:
                raise EventsDroppedError(
                    f"{self.name}: {item.count} event{'s' if item.count != 1 else ''} missing here: the queue was full "
                    f"({self.maxsize}) while the consumer was behind ({self._dropped} lost in all)",
                    dropped=item.count,
                    total_dropped=self._dropped,
                    policy=self.policy,
                    queue=self.name,
                )
            self._size -= 1
            self._delivered += 1
            return item

    def task_done(self) -> None:
        """Mark one item taken with :meth:`get` as fully handled (for :meth:`wait_idle`)."""
        with self._cond:
            self._unfinished -= 1
            if self._unfinished <= 0:
                self._unfinished = 0
                self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued item was taken and marked done (True) or ``timeout`` passes
        (False).  Any thread but the consumer's."""
        with self._cond:
            return self._cond.wait_for(lambda: self._unfinished <= 0 or self._closed, timeout)

    def clear(self) -> int:
        """Discard every queued item; returns how many (not counted as dropped)."""
        with self._cond:
            n = self._size
            self._items.clear()
            self._size = 0
            self._unfinished = 0
            self._cond.notify_all()
            return n

    def close(self) -> None:
        """Stop accepting items and wake the consumer; queued items can still be taken.
        Idempotent, any thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def qsize(self) -> int:
        """Items waiting now."""
        return self._size

    def stats(self) -> BufferStats:
        """A consistent snapshot of the counters (any thread)."""
        with self._cond:
            return BufferStats(
                maxsize=self.maxsize,
                policy=self.policy,
                queued=self._size,
                high_water=self._high,
                received=self._received,
                delivered=self._delivered,
                dropped=self._dropped,
                overflows=self._overflows,
                reports=self._reports,
            )


class EventStream(Sink):
    """A bounded queue of a client's events for a consumer on another thread (see the module
    docstring): iterate it, or poll with :meth:`get`.

    Args:
        clients: the clients to attach to (``Feed`` passes one per exchange).
        maxsize / overflow: the queue bound and what to lose when it is full.
        books: also queue book updates (native :class:`~bpbfx.OrderBookUpdate`, or unified
            :class:`~bpbfx.unified.BookChange` with ``unified=True``).
        unified: queue unified events (:mod:`bpbfx.unified`) instead of native ones; native
            events with no unified counterpart are left out.
        name: names the stream in loss reports (default ``"<client> events"``).
        report_interval: seconds between loss reports while losses go on.

    The reader thread only appends to the queue (and converts, with ``unified=True``).  The
    stream ends (iteration stops once the queue is drained) when every client it is attached to
    closes or :meth:`close` is called.

    Raises:
        ConfigurationError: invalid ``maxsize`` / ``overflow`` or no client.
        ClientClosedError: a client is already closed.
    """

    def __init__(
        self,
        *clients: BaseClient,
        maxsize: int = DEFAULT_MAXSIZE,
        overflow: Overflow | str = "drop_oldest",
        books: bool = False,
        unified: bool = False,
        name: str | None = None,
        report_interval: float = 1.0,
    ) -> None:
        if not clients:
            raise ConfigurationError("EventStream needs at least one client")
        label = name or f"{'+'.join(c.name for c in clients)} events"
        self._buffer = BoundedBuffer(maxsize, overflow, name=label, report_interval=report_interval)
        self.books = books
        self.unified = unified
        self._converters: dict[int, Any] = {}
        self._attached: list[BaseClient] = []
        self._lock = threading.Lock()
        if unified:
            from .unified.convert import Converter

            for client in clients:
                self._converters[id(client)] = Converter(client.exchange)
        try:
            for client in clients:
                client.add_sink(self)
                with self._lock:
                    self._attached.append(client)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"<EventStream {self._buffer!r}>"

    # ------------------------------------------------------------------ Sink (reader thread)
    def on_event(self, client: BaseClient, event: Event) -> None:
        """Reader thread: queue the event (or its unified forms)."""
        if self.unified:
            conv = self._converters.get(id(client))
            if conv is None:
                return
            out = conv.convert(event)
            for item in out:
                self._put(client, item)
            if not out and conv.new_unmapped:
                from .unified.convert import report_unmapped

                report_unmapped(client, conv)
            return
        report = self._buffer.put(event)
        if report is not None:
            client._report(report)

    def on_book(self, client: BaseClient, update: OrderBookUpdate) -> None:
        """Reader (or snapshot) thread: queue a book update when asked to."""
        if self.unified:
            conv = self._converters.get(id(client))
            if conv is None:
                return
            for item in conv.convert_book(update):
                if self.books or type(item).__name__ != "BookChange":
                    self._put(client, item)
        elif self.books:
            self._put(client, update)

    def _put(self, client: BaseClient, item: Any) -> None:
        report = self._buffer.put(item)
        if report is not None:
            client._report(report)

    def on_detach(self, client: BaseClient) -> None:
        """The client closed or the stream was removed: report pending losses; the stream ends
        when no client is left."""
        report = self._buffer.flush_report()
        if report is not None:
            client._report(report)
        with self._lock:
            if client in self._attached:
                self._attached.remove(client)
            last = not self._attached
        if last:
            self._buffer.close()

    # ------------------------------------------------------------------ consumer API
    def get(self, timeout: float | None = None) -> Any | None:
        """The next event, waiting up to ``timeout`` seconds (forever if ``None``); ``None`` if
        none came in time or the stream has ended and is drained.  Consumer thread.

        Raises:
            EventsDroppedError: ``overflow="error"`` and events are missing at this point.
        """
        item = self._buffer.get(timeout)
        if item is not None:
            self._buffer.task_done()
        return item

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        item = self.get()
        if item is None:
            raise StopIteration
        return item

    def close(self) -> None:
        """Detach from every client and end the stream (queued events can still be read).
        Idempotent; any thread, including a callback."""
        with self._lock:
            clients = list(self._attached)
        for client in clients:
            if not client.remove_sink(self):
                self.on_detach(client)
        self._buffer.close()

    @property
    def closed(self) -> bool:
        """True once the stream has ended (no more events will be queued)."""
        return self._buffer.closed

    def qsize(self) -> int:
        """Events waiting now."""
        return self._buffer.qsize()

    def stats(self) -> BufferStats:
        """Queue counters: received, delivered, dropped, overflows, ... (any thread)."""
        return self._buffer.stats()

    @property
    def dropped(self) -> int:
        """Events lost to overflow so far."""
        return self._buffer.stats().dropped

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_STOP: Final = object()


class ThreadDispatcher:
    """Runs ``hook(client, arg)`` calls on one dispatch thread, fed by a bounded queue.

    ``submit`` never blocks the calling (reader) thread; when the queue is full ``overflow``
    decides what is lost, as for :class:`EventStream`.  Losses are reported to the client's
    ``on_error`` as :class:`~bpbfx.EventsDroppedError`; with ``overflow="error"`` the report
    is made by the dispatch thread at the place in the sequence where the calls are missing
    (instead of when they were lost), so ``on_error`` sees exactly where the gap is.

    A hook's exception is reported to ``on_error`` as a :class:`~bpbfx.CallbackError` from the
    dispatch thread (named ``<client>-dispatch``).

    Raises:
        ConfigurationError: invalid ``maxsize`` / ``overflow``.
    """

    def __init__(
        self,
        client: BaseClient,
        *,
        maxsize: int = DEFAULT_MAXSIZE,
        overflow: Overflow | str = "drop_oldest",
        report_interval: float = 1.0,
    ) -> None:
        self.client = client
        self._buffer = BoundedBuffer(maxsize, overflow, name=f"{client.name} dispatch", report_interval=report_interval)
        self._in_sequence = overflow == "error"
        self._thread = threading.Thread(target=self._run, name=f"{client.name}-dispatch", daemon=True)
        self._started = False
        self._start_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<ThreadDispatcher {self._buffer!r}>"

    def submit(self, name: str, hook: Callable[..., Any], arg: Any) -> None:
        """Queue ``hook(client, arg)`` (calling thread; never blocks).  Starts the dispatch
        thread on first use.  Raises nothing."""
        if not self._started:
            self._start()
        report = self._buffer.put((name, hook, arg))
        if report is not None and not self._in_sequence:
            self.client._report(report)

    def _start(self) -> None:
        with self._start_lock:
            if not self._started and not self._buffer.closed:
                self._thread.start()
                self._started = True  # only now: close() may join it from here on

    def _run(self) -> None:
        buffer, client = self._buffer, self.client
        while True:
            try:
                item = buffer.get()
            except EventsDroppedError as gap:
                client._report(gap)
                continue
            if item is None:
                return
            try:
                name, hook, arg = item
                client._call_hook(name, hook, arg)
            finally:
                buffer.task_done()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued call has run (True) or ``timeout`` passes (False).
        Any thread except the dispatch thread."""
        return self._buffer.wait_idle(timeout)

    def close(self, timeout: float = 1.0) -> None:
        """Stop the dispatch thread after the calls already queued (waiting up to ``timeout``
        seconds for it unless called from it); reports losses not yet reported.  Idempotent."""
        report = self._buffer.flush_report()
        if report is not None and not self._in_sequence:
            self.client._report(report)
        self._buffer.close()
        thread = self._thread
        if self._started and thread is not threading.current_thread():
            thread.join(timeout)

    def stop(self) -> None:
        """Discard the calls still queued and stop accepting new ones; the dispatch thread ends
        after the call it is running (for a client's close(); does not block).  Any thread."""
        self._buffer.clear()
        self._buffer.close()

    @property
    def thread(self) -> threading.Thread:
        """The dispatch thread."""
        return self._thread

    @property
    def started(self) -> bool:
        """True once the dispatch thread was started (by the first :meth:`submit`)."""
        return self._started

    def stats(self) -> BufferStats:
        """Queue counters (any thread)."""
        return self._buffer.stats()


class ThreadedHooks(Sink):
    """A sink that runs ``on_message`` / ``on_book`` hooks on a :class:`ThreadDispatcher`'s
    thread instead of the reader thread.

    Pass the hooks, or ``from_client=True`` to call the client's own ``on_message`` and
    ``on_book`` attributes (read at dispatch time), which is what ``dispatch="thread"`` does
    (the client then no longer calls them inline).  The dispatcher stops when the sink is
    detached or the client closes.

    Raises:
        ConfigurationError: invalid ``maxsize`` / ``overflow``.
        ClientClosedError: ``client`` is closed.
    """

    def __init__(
        self,
        client: BaseClient,
        on_message: Callable[[Any, Event], None] | None = None,
        on_book: Callable[[Any, OrderBookUpdate], None] | None = None,
        *,
        from_client: bool = False,
        maxsize: int = DEFAULT_MAXSIZE,
        overflow: Overflow | str = "drop_oldest",
        attach: bool = True,
    ) -> None:
        if client.closed:
            raise ClientClosedError(f"{client.name} client is closed")
        self.dispatcher = ThreadDispatcher(client, maxsize=maxsize, overflow=overflow)
        self._from_client = from_client
        self._on_message = on_message
        self._on_book = on_book
        if attach:
            client.add_sink(self)

    def on_event(self, client: BaseClient, event: Event) -> None:
        """Reader thread: queue the ``on_message`` call."""
        hook = client.on_message if self._from_client else self._on_message
        if hook is not None:
            self.dispatcher.submit("on_message", hook, event)

    def on_book(self, client: BaseClient, update: OrderBookUpdate) -> None:
        """Reader thread: queue the ``on_book`` call."""
        hook = getattr(client, "on_book", None) if self._from_client else self._on_book
        if hook is not None:
            self.dispatcher.submit("on_book", hook, update)

    def on_detach(self, client: BaseClient) -> None:
        """Stop the dispatch thread (after the calls already queued)."""
        self.dispatcher.close()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued call has run (True) or ``timeout`` passes (False)."""
        return self.dispatcher.wait_idle(timeout)

    @property
    def dropped(self) -> int:
        """Hook calls lost to a full dispatch queue."""
        return self.dispatcher.stats().dropped


DISPATCH_MODES: Final = ("inline", "thread")


class HookRouter(Sink):
    """What a client's ``unified=``, ``dispatch=`` and ``on_trade=``-style options ask for,
    as one sink the client attaches to itself (see :func:`make_router`).

    - ``unified=True``: ``on_message`` receives unified events (:mod:`bpbfx.unified`) instead of
      native ones (the client stops calling it inline); native events with no unified
      counterpart are not delivered.  ``on_book`` keeps receiving native book updates.
    - typed hooks (``on_trade``, ``on_quote``, ...): called with unified events of their type.
    - ``dispatch="thread"``: every hook above, and the native ``on_message``/``on_book``, runs
      on the ``<client>-dispatch`` thread from a bounded queue (``maxsize``/``overflow``).

    ``on_message`` / ``on_book`` are read from the client when each event arrives, so assigning
    them later works.  Hooks run on the reader thread when inline.
    """

    def __init__(
        self,
        client: BaseClient,
        *,
        unified: bool = False,
        dispatch: str = "inline",
        maxsize: int = DEFAULT_MAXSIZE,
        overflow: Overflow | str = "drop_oldest",
        hooks: dict[str, Callable[[Any, Any], None] | None] | None = None,
    ) -> None:
        from .unified.convert import HOOK_NAMES, Converter

        if dispatch not in DISPATCH_MODES:
            raise ConfigurationError(f"dispatch must be 'inline' or 'thread', got {dispatch!r}")
        given = {name: hook for name, hook in (hooks or {}).items() if hook is not None}
        unknown = sorted(set(given) - set(HOOK_NAMES.values()))
        if unknown:
            raise ConfigurationError(
                f"unknown hook(s) {', '.join(unknown)}; unified hooks: {', '.join(HOOK_NAMES.values())}"
            )
        for name, hook in given.items():
            if not callable(hook):
                raise TypeError(f"{name} must be callable, got {type(hook).__name__}")
        self.unified = unified
        self.threaded = dispatch == "thread"
        self._typed = {cls: (name, given[name]) for cls, name in HOOK_NAMES.items() if name in given}
        self._converter = Converter(client.exchange) if unified or self._typed else None
        self.dispatcher = ThreadDispatcher(client, maxsize=maxsize, overflow=overflow) if self.threaded else None

    @property
    def dropped(self) -> int:
        """Hook calls lost to a full dispatch queue (0 when inline)."""
        return self.dispatcher.stats().dropped if self.dispatcher is not None else 0

    def _call(self, client: BaseClient, name: str, hook: Callable[..., Any], arg: Any) -> None:
        dispatcher = self.dispatcher
        if dispatcher is not None:
            dispatcher.submit(name, hook, arg)
        else:
            client._call_hook(name, hook, arg)

    def _unified_out(self, client: BaseClient, out: tuple[Any, ...]) -> None:
        typed = self._typed
        message = client.on_message if self.unified else None
        for ev in out:
            entry = typed.get(type(ev))
            if entry is not None:
                self._call(client, entry[0], entry[1], ev)
            if message is not None:
                self._call(client, "on_message", message, ev)

    def on_event(self, client: BaseClient, event: Event) -> None:
        """Reader thread: route one native event."""
        conv = self._converter
        if conv is not None:
            out = conv.convert(event)
            if out:
                self._unified_out(client, out)
            elif conv.new_unmapped:
                from .unified.convert import report_unmapped

                report_unmapped(client, conv)
        if self.threaded and not self.unified:
            hook = client.on_message
            if hook is not None:
                self._call(client, "on_message", hook, event)

    def on_book(self, client: BaseClient, update: OrderBookUpdate) -> None:
        """Reader (or snapshot) thread: route one book update."""
        if self.threaded:
            hook = getattr(client, "on_book", None)
            if hook is not None:
                self._call(client, "on_book", hook, update)
        conv = self._converter
        if conv is not None:
            out = conv.convert_book(update)
            if out:
                self._unified_out(client, out)

    def on_detach(self, client: BaseClient) -> None:
        """Stop the dispatch thread, if any (after the calls already queued)."""
        if self.dispatcher is not None:
            self.dispatcher.close()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every dispatched call has run (True at once when inline)."""
        return self.dispatcher.wait_idle(timeout) if self.dispatcher is not None else True

    def stop(self) -> None:
        """The client is closing: drop queued calls, let the dispatch thread end (no blocking)."""
        if self.dispatcher is not None:
            self.dispatcher.stop()

    def threads(self) -> list[threading.Thread]:
        """The dispatch thread, once started (for the client's close() to join)."""
        d = self.dispatcher
        return [d.thread] if d is not None and d.started else []


def make_router(
    client: BaseClient,
    *,
    unified: bool = False,
    dispatch: str = "inline",
    maxsize: int = DEFAULT_MAXSIZE,
    overflow: Overflow | str = "drop_oldest",
    hooks: dict[str, Callable[[Any, Any], None] | None] | None = None,
) -> HookRouter | None:
    """The :class:`HookRouter` a client needs for these options, or ``None`` when the plain
    inline native path serves them (so that path stays exactly as fast).

    Raises:
        ConfigurationError: unknown ``dispatch``, hook name, ``maxsize`` or ``overflow``.
        TypeError: a hook is not callable.
    """
    if dispatch not in DISPATCH_MODES:
        raise ConfigurationError(f"dispatch must be 'inline' or 'thread', got {dispatch!r}")
    if dispatch == "thread":
        check_queue_args(maxsize, overflow)
    if not unified and dispatch == "inline" and not any(h is not None for h in (hooks or {}).values()):
        return None
    return HookRouter(client, unified=unified, dispatch=dispatch, maxsize=maxsize, overflow=overflow, hooks=hooks)
