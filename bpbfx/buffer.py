"""A bounded queue that never blocks its producer, with overflow policies and loss reports.

The reader thread of a client must never wait for a slow consumer.  :class:`BoundedBuffer`
queues items for one consumer; when it is full, ``overflow`` says what is lost:

- ``"drop_oldest"``: the oldest queued item makes room for the new one (freshest data wins);
- ``"drop_newest"``: the new item is dropped (the queue keeps the earliest backlog);
- ``"error"``: the new item is dropped and, once the consumer has taken every item queued
  before the loss, :meth:`BoundedBuffer.get` raises :class:`~bpbfx.EventsDroppedError` at that
  very place (``dropped`` = how many are missing there); the next call carries on after the gap.

Every loss is counted (:meth:`BoundedBuffer.stats`) and turned into an
:class:`~bpbfx.EventsDroppedError` report for the producer to deliver: once when a run of losses
ends (the next item fits again), at most every ``report_interval`` seconds while it lasts, and on
:meth:`BoundedBuffer.flush_report`, so the ``dropped`` figures of the reports add up to the
total.  The pull API (:class:`bpbfx.EventStream`) and thread dispatch
(:class:`bpbfx.dispatch.ThreadDispatcher`) are built on it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from .exceptions import ConfigurationError, EventsDroppedError

__all__ = [
    "DEFAULT_MAXSIZE",
    "OVERFLOW_POLICIES",
    "BoundedBuffer",
    "BufferStats",
    "Overflow",
    "check_queue_args",
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
