"""Bookkeeping of the Backpack simulator's fault controls.

The controls themselves are methods of :class:`~bpbfx.sim.backpack.BackpackSimulator`; what
they arm is kept here and read by the market feeds (:mod:`~bpbfx.sim.backpack.feeds`), the
REST endpoints (:mod:`~bpbfx.sim.backpack.rest`, :mod:`~bpbfx.sim.backpack.trading`) and the
account events (:mod:`~bpbfx.sim.backpack.events`, which keeps its own).  No I/O; used under
the simulator's lock.
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


@dataclass
class Countdown:
    """A fault acting on the next ``left`` occasions (``None``: every one until disarmed),
    answering with HTTP ``status`` where it answers."""

    left: int | None = 0
    status: int = 503

    def take(self) -> bool:
        """Whether the fault acts now (counted off)."""
        if self.left is None:
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        return True


@dataclass
class OrderRejection:
    """Refuse the next ``left`` orders (of ``key``, or of any account) with this answer."""

    left: int
    status: int
    code: str
    message: str
    key: str | None


@dataclass
class ReplyDelay:
    """Answer the next ``left`` requests matching ``method`` / ``path`` (``None``: any)
    ``seconds`` late (``left`` ``None``: every one until disarmed)."""

    seconds: float
    left: Countdown
    method: str | None
    path: str | None


@dataclass
class TradingFaults:
    """What is armed on the trading endpoints.

    Attributes:
        drop_replies: order entries accepted whose answer is never sent (``drop_order_replies``).
        fail_after_accept: order entries accepted and answered 503 (``fail_after_accept``).
        delays: replies to delay (``delay_replies``), first match wins.
        cancels_202: cancels answered 202 without a body (``answer_cancels_202``) ...
        confirm_after: ... whose order is cancelled this many seconds later.
        rejections: orders to refuse (``reject_next_orders``).
        rate_limited: signed requests to answer 429 (``force_rate_limit``).
        history_failures: public trade-history requests to refuse (``fail_trade_history``).
    """

    drop_replies: Countdown = field(default_factory=Countdown)
    fail_after_accept: Countdown = field(default_factory=Countdown)
    delays: list[ReplyDelay] = field(default_factory=list)
    cancels_202: Countdown = field(default_factory=Countdown)
    confirm_after: float = 0.0
    rejections: list[OrderRejection] = field(default_factory=list)
    rate_limited: Countdown = field(default_factory=Countdown)
    history_failures: Countdown = field(default_factory=Countdown)

    def take_rejection(self, key: str) -> OrderRejection | None:
        """The refusal of the next order of ``key``, counted off, or ``None``."""
        for r in self.rejections:
            if r.left > 0 and r.key in (None, key):
                r.left -= 1
                return r
        return None

    def take_delay(self, method: str, path: str) -> float:
        """Seconds to delay the reply to this request (counted off), 0 for none."""
        for d in self.delays:
            if d.method in (None, method) and d.path in (None, path) and d.left.take():
                return d.seconds
        return 0.0


class Faults:
    """The armed faults of every market, and REST failures to come."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self.markets = {symbol: MarketFaults() for symbol in symbols}
        self.rest_failures: tuple[int, int] = (0, 503)  # (answers left, HTTP status)
        self.trading = TradingFaults()

    def of(self, symbol: str) -> MarketFaults:
        """The faults of a simulated market."""
        return self.markets[symbol]

    def add(self, symbol: str) -> None:
        """Room for the faults of a market listed while running."""
        self.markets.setdefault(symbol, MarketFaults())

    def take_rest_failure(self) -> int | None:
        """The HTTP status of the next REST failure (``fail_rest``), counted off, or ``None``."""
        left, status = self.rest_failures
        if left <= 0:
            return None
        self.rest_failures = (left - 1, status)
        return status
