"""What the trade backfills of both exchanges share, without I/O: how hard they try and how
fast they ask.

A trade backfill (``backfill_trades=True``) fetches from the exchange's REST trade history the
public trades a stream missed while its socket was down.  The exchange cores
(:mod:`bpbfx.backpack.backfill`, :mod:`bpbfx.bitfinex.backfill`) decide what to ask and what to
deliver; this module holds the policy they follow (:class:`BackfillPolicy`: attempts, retry
delays, the request rate) and the request pacing (:class:`Pacer`).  Time comes in as an
argument; nothing here sleeps.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Generic, TypeVar

from .exceptions import ConfigurationError

__all__ = ["BackfillPolicy", "Pacer", "Tapes", "backfill_policy"]

TapeT = TypeVar("TapeT")


@dataclass(frozen=True, slots=True)
class BackfillPolicy:
    """How hard a trade backfill tries, and how fast it may ask.

    Attributes:
        attempts: requests in a row that may fail (refused, rate limited, unreadable, or
            bringing nothing new) before the hole they were for is given up and reported.
        retry_delay: seconds before the first retry; doubled for each further one.
        max_retry_delay: the longest wait before a retry.
        rate / per: at most ``rate`` requests in any ``per`` seconds, per client (public REST
            is rate limited per IP address by both exchanges).
        max_missing: Backpack: a hole of more trade ids than this is not fetched (its older
            part is given up at once): a bound on the requests one hole can cost.
    """

    attempts: int = 3
    retry_delay: float = 0.5
    max_retry_delay: float = 8.0
    rate: int = 5
    per: float = 1.0
    max_missing: int = 100_000

    def retry_in(self, failures: int) -> float:
        """Seconds to wait before the request that follows ``failures`` failures in a row."""
        if failures <= 0:
            return 0.0
        return min(self.max_retry_delay, self.retry_delay * 2.0 ** (failures - 1))


def backfill_policy(option: bool | BackfillPolicy) -> BackfillPolicy | None:
    """The policy a client's ``backfill_trades`` option asks for: ``None`` for False, the
    defaults for True, the policy given.  Pure.

    Raises:
        ConfigurationError: ``option`` is neither a bool nor a :class:`BackfillPolicy`.
    """
    if isinstance(option, BackfillPolicy):
        return option
    if not isinstance(option, bool):
        raise ConfigurationError(f"backfill_trades must be True, False or a BackfillPolicy, got {option!r}")
    return BackfillPolicy() if option else None


class Pacer:
    """Spaces a client's backfill requests: at most ``rate`` in any ``per`` seconds.

    Not thread-safe (the exchange cores are called under their client's lock).
    """

    __slots__ = ("_per", "_times")

    def __init__(self, rate: int, per: float) -> None:
        self._per = per
        self._times: collections.deque[float] = collections.deque(maxlen=max(1, rate))

    def slot(self, now: float, earliest: float = 0.0) -> float:
        """The time (same clock as ``now``) at which the next request may go, no sooner than
        ``earliest``; that slot is taken."""
        times = self._times
        at = max(now, earliest)
        if times:
            at = max(at, times[-1])  # slots in order: they are used one after another
            if len(times) == times.maxlen:
                at = max(at, times[0] + self._per)
        times.append(at)
        return at


class Tapes(Generic[TapeT]):
    """What an exchange's backfill core keeps per client: its policy, a tape per tracked trade
    stream, the counters and the request pacing.  Subclasses say what a tape is (:meth:`_tape`).

    Attributes:
        tapes: the tape of every tracked trade stream, by stream name.
        backfilled: trades delivered that the stream had missed.
        gaps: holes found (filled or not).
    """

    def __init__(self, policy: BackfillPolicy | None = None) -> None:
        self.policy = policy or BackfillPolicy()
        self.tapes: dict[str, TapeT] = {}
        self.backfilled = 0
        self.gaps = 0
        self._pacer = Pacer(self.policy.rate, self.policy.per)

    def add(self, stream: str, symbol: str) -> None:
        """Track the trade stream ``stream`` of market ``symbol`` (just subscribed; nothing
        happens when it is tracked already)."""
        if stream not in self.tapes:
            self.tapes[stream] = self._tape(stream, symbol)

    def remove(self, stream: str) -> None:
        """Stop tracking ``stream`` (unsubscribed); answers still out for it are ignored."""
        self.tapes.pop(stream, None)

    def _tape(self, stream: str, symbol: str) -> TapeT:
        raise NotImplementedError
