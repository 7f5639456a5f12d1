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

The queue is a :class:`~bpbfx.buffer.BoundedBuffer`; :mod:`bpbfx.dispatch` uses the same one to
run callbacks on a thread of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .buffer import DEFAULT_MAXSIZE, OVERFLOW_POLICIES, BoundedBuffer, BufferStats, Overflow, check_queue_args
from .dispatch import DISPATCH_MODES, ThreadDispatcher, ThreadedHooks
from .exceptions import ConfigurationError
from .routing import HookRouter, make_router
from .sink import Sink, SinkHost

if TYPE_CHECKING:
    from .events import Event
    from .live import OrderBookUpdate

__all__ = [
    "DEFAULT_MAXSIZE",
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
        *clients: SinkHost,
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
        self._attached: list[SinkHost] = []
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
    def on_event(self, client: SinkHost, event: Event) -> None:
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
            client.report_error(report)

    def on_book(self, client: SinkHost, update: OrderBookUpdate) -> None:
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

    def _put(self, client: SinkHost, item: Any) -> None:
        report = self._buffer.put(item)
        if report is not None:
            client.report_error(report)

    def on_detach(self, client: SinkHost) -> None:
        """The client closed or the stream was removed: report pending losses; the stream ends
        when no client is left."""
        report = self._buffer.flush_report()
        if report is not None:
            client.report_error(report)
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
