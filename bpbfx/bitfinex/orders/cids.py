"""Client order ids (``cid``): unique within each UTC day, always below 2**45.

Bitfinex: ``cid`` is an int45 that "should be unique in the day (UTC)", and an order is cancelled
by ``cid`` together with ``cid_date``, its UTC creation day
(https://docs.bitfinex.com/reference/ws-auth-input-order-new,
https://docs.bitfinex.com/reference/ws-auth-input-order-cancel).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

__all__ = ["CidSource", "utc_day"]


_DAY_TEXT: dict[int, str] = {}  # day number -> its text, for the days seen (a few per run)


def utc_day(epoch: float) -> str:
    """The UTC day of ``epoch`` seconds as ``YYYY-MM-DD`` (the form ``cid_date`` takes)."""
    number = int(epoch // 86_400)
    text = _DAY_TEXT.get(number)
    if text is None:
        text = datetime.fromtimestamp(number * 86_400, timezone.utc).strftime("%Y-%m-%d")
        if len(_DAY_TEXT) > 64:
            _DAY_TEXT.clear()
        _DAY_TEXT[number] = text
    return text


class CidSource:
    """Client order ids unique within each UTC day, always below 2**45.

    ``cid = milliseconds since UTC midnight * 1000 + counter``, strictly increasing within a
    day (at most 86_399_999_999 < 2**45): 1,000 ids per millisecond before borrowing from the
    next one.  A new process on the same key starts above the ids an earlier one used unless
    that one ran ahead of the clock.  Not thread-safe (the core is called under a lock).
    """

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._day: str | None = None
        self._last = 0

    def next(self) -> tuple[int, str]:
        """The next ``(cid, cid_date)``."""
        now = self._wall()
        day = utc_day(now)
        if day != self._day:
            self._day = day
            self._last = 0
        ms_of_day = int(now * 1000) % 86_400_000
        cid = max(self._last + 1, ms_of_day * 1000)
        self._last = cid
        return cid, day
