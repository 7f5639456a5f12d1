"""The trading accounts' stream events on their way to the private streams, through the faults
armed on them: events held back for a while (delivered late, in order) or lost.

An event is stamped when it happens; a delay only moves when it is queued to the account's
``account.orderUpdate`` / ``account.positionUpdate`` subscriptions.  Once an event is held,
every later event of that account waits behind it, so the stream keeps the exchange's order.
Used under the simulator's lock on its loop thread.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bpbfx.sim.backpack.subscriptions import Subscriptions

__all__: list[str] = []

_SLACK = 0.001  # a timer may fire a hair early

#: Runs a function under the simulator's lock on its loop ``delay`` seconds from now.
Later = Callable[[float, Callable[[], None]], None]


@dataclass
class EventFault:
    """An armed fault: ``delay`` > 0 delays events by that many seconds, else they are lost;
    it acts on the next ``count`` events (``None``: any number) until ``until`` (monotonic
    seconds, ``None``: no end)."""

    delay: float
    count: int | None
    until: float | None

    def take(self, now: float) -> bool:
        """Whether the fault acts on one more event (counted off)."""
        if self.until is not None and now >= self.until:
            return False
        if self.count is not None:
            if self.count <= 0:
                return False
            self.count -= 1
        return True


class AccountEvents:
    """Queues account events to their subscribers, through ``faults`` (by verifying key;
    ``None`` for every account).  ``counters`` (the simulator's) counts
    ``account_events_delayed`` and ``account_events_lost``."""

    def __init__(self, subs: Subscriptions, later: Later, counters: dict[str, int]) -> None:
        self.subs = subs
        self.later = later
        self.counters = counters
        self.faults: dict[str | None, EventFault] = {}
        self.held: dict[str, deque[tuple[float, str, str, dict[str, Any]]]] = {}

    def emit(self, key: str, kind: str, symbol: str, data: dict[str, Any]) -> None:
        """Queue one event of ``kind`` (``orderUpdate``, ``positionUpdate``) to the account's
        subscriptions, or hold it back, or lose it: the account's own fault is asked first,
        then the one armed for every account."""
        now = time.monotonic()
        queue = self.held.get(key)
        fault = next((f for f in (self.faults.get(key), self.faults.get(None)) if f is not None and f.take(now)), None)
        if fault is not None:
            if fault.delay <= 0:
                self.counters["account_events_lost"] += 1
                return
            self.counters["account_events_delayed"] += 1
            release = now + fault.delay
            if queue:
                release = max(release, queue[-1][0])
            self._hold(key, (release, kind, symbol, data), release - now)
            return
        if queue:  # wait behind the events held back
            self._hold(key, (queue[-1][0], kind, symbol, data), None)
            return
        self.subs.publish_private(key, kind, symbol, data)

    def _hold(self, key: str, item: tuple[float, str, str, dict[str, Any]], after: float | None) -> None:
        self.held.setdefault(key, deque()).append(item)
        if after is not None:
            try:
                self.later(after, lambda: self.flush(key))
            except RuntimeError:  # no running loop (the simulator is stopped): deliver now
                self.flush(key, force=True)

    def flush(self, key: str, force: bool = False) -> None:
        """Queue the held events of ``key`` whose time has come (all with ``force``)."""
        queue = self.held.get(key)
        now = time.monotonic()
        while queue and (force or queue[0][0] <= now + _SLACK):
            _, kind, symbol, data = queue.popleft()
            self.subs.publish_private(key, kind, symbol, data)
        if not queue:
            self.held.pop(key, None)
