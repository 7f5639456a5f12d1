"""The local input-rate window: inputs over the exchange's limits are refused before sending.

Bitfinex allows 1,000 new orders per 5 minutes per user across all connections
(bitfinexcom/bitfinex-api-node README, "Order Creation Limits") and performs at most 8 ``calc``
calculations per second (https://docs.bitfinex.com/reference/ws-auth-input-calc); the defaults
are in :mod:`bpbfx.bitfinex.orders.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Window"]


@dataclass(slots=True)
class Window:
    """Sliding-window budget of ``limit`` units per ``period`` seconds (injected time)."""

    limit: int
    period: float
    stamps: list[float] = field(default_factory=list)

    def take(self, units: int, now: float) -> float:
        """Take ``units`` and return 0.0, or take nothing and return the seconds to wait
        (``inf`` when ``units`` exceeds the limit)."""
        cutoff = now - self.period
        if self.stamps and self.stamps[0] <= cutoff:
            self.stamps = [t for t in self.stamps if t > cutoff]
        if units > self.limit:
            return float("inf")
        room = self.limit - len(self.stamps)
        if units <= room:
            self.stamps.extend([now] * units)
            return 0.0
        return self.stamps[units - room - 1] - cutoff
