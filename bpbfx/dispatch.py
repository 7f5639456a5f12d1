"""Running a client's callbacks on a thread of their own, fed by a bounded queue.

``dispatch="thread"`` (or a :class:`Dispatch` value) moves ``on_message``, ``on_book`` and the
unified hooks off the reader thread, for applications whose callbacks are slow: the reader only
queues the call.  When the queue is full, its ``overflow`` policy decides what is lost, and the
losses are reported to ``on_error`` (see :mod:`bpbfx.buffer`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from .buffer import DEFAULT_MAXSIZE, BoundedBuffer, BufferStats, Overflow, check_queue_args
from .exceptions import ClientClosedError, ConfigurationError, EventsDroppedError
from .sink import Sink, SinkHost

if TYPE_CHECKING:
    from .events import Event
    from .live import OrderBookUpdate

__all__ = ["DISPATCH_MODES", "Dispatch", "ThreadDispatcher", "ThreadedHooks"]

#: The dispatch modes: ``"inline"`` runs callbacks on the thread that produced the event (the
#: reader thread), ``"thread"`` on the client's ``<name>-dispatch`` thread.
DISPATCH_MODES: Final = ("inline", "thread")


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Where a client runs its callbacks: a validated policy value.

    ``Dispatch()`` (or ``dispatch="inline"``) runs every callback on the thread that produced
    the event; ``Dispatch("thread", maxsize=10_000, overflow="drop_oldest")`` (or
    ``dispatch="thread"``) runs ``on_message``, ``on_book`` and the unified hooks on one
    ``<client>-dispatch`` thread fed by a bounded queue of ``maxsize`` calls, losing calls by
    ``overflow`` when it is full.

    Raises:
        ConfigurationError: unknown ``mode``, ``maxsize`` below 1 or unknown ``overflow``.
    """

    mode: Literal["inline", "thread"] = "inline"
    maxsize: int = DEFAULT_MAXSIZE
    overflow: Overflow = "drop_oldest"

    def __post_init__(self) -> None:
        if self.mode not in DISPATCH_MODES:
            raise ConfigurationError(f"dispatch must be 'inline' or 'thread', got {self.mode!r}")
        check_queue_args(self.maxsize, self.overflow)

    @property
    def threaded(self) -> bool:
        """True for ``"thread"``."""
        return self.mode == "thread"

    @classmethod
    def of(cls, value: Dispatch | str) -> Dispatch:
        """``value`` as a :class:`Dispatch` (``"inline"`` / ``"thread"`` with the defaults).

        Raises:
            ConfigurationError: not a Dispatch and not one of :data:`DISPATCH_MODES`.
        """
        if isinstance(value, Dispatch):
            return value
        if value not in DISPATCH_MODES:
            raise ConfigurationError(f"dispatch must be 'inline', 'thread' or a bpbfx.Dispatch, got {value!r}")
        return cls(value)  # type: ignore[arg-type]


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
        client: SinkHost,
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
            self.client.report_error(report)

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
                client.report_error(gap)
                continue
            if item is None:
                return
            try:
                name, hook, arg = item
                client.call_hook(name, hook, arg)
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
            self.client.report_error(report)
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
        client: SinkHost,
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

    def on_event(self, client: SinkHost, event: Event) -> None:
        """Reader thread: queue the ``on_message`` call."""
        hook = client.on_message if self._from_client else self._on_message
        if hook is not None:
            self.dispatcher.submit("on_message", hook, event)

    def on_book(self, client: SinkHost, update: OrderBookUpdate) -> None:
        """Reader thread: queue the ``on_book`` call."""
        hook = getattr(client, "on_book", None) if self._from_client else self._on_book
        if hook is not None:
            self.dispatcher.submit("on_book", hook, update)

    def on_detach(self, client: SinkHost) -> None:
        """Stop the dispatch thread (after the calls already queued)."""
        self.dispatcher.close()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued call has run (True) or ``timeout`` passes (False)."""
        return self.dispatcher.wait_idle(timeout)

    @property
    def dropped(self) -> int:
        """Hook calls lost to a full dispatch queue."""
        return self.dispatcher.stats().dropped
