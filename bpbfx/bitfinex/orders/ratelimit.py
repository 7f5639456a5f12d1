"""The local input-rate window: inputs over the exchange's limits are refused before sending.

Bitfinex allows 1,000 new orders per 5 minutes per user across all connections
(bitfinexcom/bitfinex-api-node README, "Order Creation Limits") and performs at most 8 ``calc``
calculations per second (https://docs.bitfinex.com/reference/ws-auth-input-calc); the defaults
are in :mod:`bpbfx.bitfinex.orders.rules`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["Window"]


@dataclass(slots=True)
class Window:
    """Sliding-window budget of ``limit`` units per ``period`` seconds (injected time)."""

    limit: int
    period: float
    stamps: deque[float] = field(default_factory=deque)

    def take(self, units: int, now: float) -> float:
        """Take ``units`` and return 0.0, or take nothing and return the seconds to wait
        (``inf`` when ``units`` exceeds the limit).  Only the stamps that left the window are
        dropped (the oldest first): a few operations per call however full the window."""
        cutoff = now - self.period
        stamps = self.stamps
        while stamps and stamps[0] <= cutoff:
            stamps.popleft()
        if units > self.limit:
            return float("inf")
        room = self.limit - len(stamps)
        if units <= room:
            stamps.extend([now] * units)
            return 0.0
        return stamps[units - room - 1] - cutoff
