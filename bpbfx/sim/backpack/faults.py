"""Bookkeeping of the Backpack simulator's fault controls.

The controls themselves are methods of :class:`~bpbfx.sim.backpack.BackpackSimulator`; what
they arm is kept here and read by the market feeds (:mod:`~bpbfx.sim.backpack.feeds`) and
the REST endpoints (:mod:`~bpbfx.sim.backpack.rest`).  No I/O; used under the simulator's lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__: list[str] = []

#: A depth delta held back: first update id, last update id, ``(side, price) -> lots``.
HeldDelta = tuple[int, int, dict[tuple[str, int], int]]


@dataclass
class MarketFaults:
    """What is armed on one market.

    Attributes:
        gap: updates to apply on the next tick and never deliver (``inject_gap``).
        held: depth deltas are held back (``hold_depth``) ...
        hold_left: ... for this many more ticks (``None``: until ``release_depth``).
        held_deltas: the realtime deltas held back, oldest first.
        stale_left: REST depth answers still to give from a past book (``stale_snapshots``).
        paused: the market is frozen (``set_market_paused``).
    """

    gap: int = 0
    held: bool = False
    hold_left: int | None = None
    held_deltas: list[HeldDelta] = field(default_factory=list)
    stale_left: int = 0
    paused: bool = False


class Faults:
    """The armed faults of every market, and REST failures to come."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self.markets = {symbol: MarketFaults() for symbol in symbols}
        self.rest_failures: tuple[int, int] = (0, 503)  # (answers left, HTTP status)

    def of(self, symbol: str) -> MarketFaults:
        """The faults of a simulated market."""
        return self.markets[symbol]

    def take_rest_failure(self) -> int | None:
        """The HTTP status of the next REST failure (``fail_rest``), counted off, or ``None``."""
        left, status = self.rest_failures
        if left <= 0:
            return None
        self.rest_failures = (left - 1, status)
        return status
