"""Reconnect delays: a small immutable policy value.

Computing a delay is separate from sleeping, so the numbers are tested without waiting::

    >>> policy = Backoff(initial=1.0, factor=2.0, cap=8.0, jitter=0.0)
    >>> [policy.delay(n) for n in range(1, 6)]
    [1.0, 2.0, 4.0, 8.0, 8.0]
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .exceptions import ConfigurationError

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter and a cap, reset after a healthy connection.

    The delay before reconnect attempt ``n`` (1-based) is
    ``min(cap, initial * factor ** (n - 1))`` scaled by a random factor in
    ``[1 - jitter, 1]`` so that many clients restarting together spread out.

    Attributes:
        initial: delay before the first reconnect attempt, seconds.
        factor: growth per failed attempt.
        cap: largest delay, seconds.
        jitter: fraction of the delay that is randomised (0 = none, 1 = full jitter).
        reset_after: a connection that stayed up this many seconds counts as healthy: the next
            failure starts again from ``initial``.
        rate_limited: the least wait, seconds, before reconnecting after the server refused the
            handshake with HTTP 429 (too many requests): hammering would only extend the block.
            ``None``: the exchange's own figure (Backpack 10 s; Bitfinex 60 s, the time it
            blocks an IP that connected too often).
    """

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.5
    reset_after: float = 30.0
    rate_limited: float | None = None

    def __post_init__(self) -> None:
        if min(self.initial, self.cap, self.reset_after, self.rate_limited or 0.0) < 0:
            raise ConfigurationError("Backoff: initial, cap, reset_after and rate_limited must be >= 0 seconds")
        if self.factor < 1:
            raise ConfigurationError(f"Backoff: factor must be >= 1, got {self.factor!r}")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"Backoff: jitter must be between 0 and 1, got {self.jitter!r}")

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before reconnect attempt ``attempt`` (1 for the first retry).

        Raises:
            ConfigurationError: ``attempt`` is below 1.
        """
        if attempt < 1:
            raise ConfigurationError(f"attempt must be >= 1, got {attempt}")
        # Avoid float overflow for very long outages: past the cap the exponent no longer matters.
        base = self.initial * self.factor ** min(attempt - 1, 64)
        base = min(self.cap, base)
        if self.jitter:
            base *= 1.0 - self.jitter * rand()
        return base

    def delays(self, rand: Callable[[], float] = random.random) -> Iterator[float]:
        """Endless iterator of the delays for attempts 1, 2, 3, ..."""
        attempt = 1
        while True:
            yield self.delay(attempt, rand)
            attempt += 1
