"""The Bitfinex connection budget of a collector: Bitfinex allows 20 new public connections per
minute per IP, and every worker of a collector connects from the same IP, so the supervisor
splits that budget between its workers (:func:`split_connect_budget`).

Each worker's client gets ``(connects, period)``: a sliding window of its own.  The shares
add up to the budget, so however the workers' windows fall, the connects of all of them in
any ``period`` seconds never exceed it.  A worker's share is proportional to the sockets it
needs (``ceil(channels / 25)``, :func:`sockets_needed`), at least one, so every worker is
done connecting at about the same time, the soonest a static split allows:
``period * (ceil(sockets / connects) - 1)`` seconds after start (:func:`connect_seconds`).
With more Bitfinex workers than connects per period no static split fits, so the collector
puts Bitfinex markets on at most ``connects`` workers (:func:`bitfinex_workers`).

Pure; any thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

__all__ = [
    "BITFINEX_CONNECT_LIMIT",
    "NO_LIMIT",
    "bitfinex_workers",
    "connect_seconds",
    "sockets_needed",
    "split_connect_budget",
]

#: Bitfinex: at most 20 public connects per minute per IP (exceeding it blocks the IP ~60 s).
BITFINEX_CONNECT_LIMIT: Final = (20, 60.0)

#: A budget that limits nothing in practice (the built-in simulator limits no connects).
NO_LIMIT: Final = (1_000_000, 1.0)


def sockets_needed(channels: int, max_channels: int = 25) -> int:
    """Sockets a client needs for ``channels`` channels, ``max_channels`` per socket."""
    return math.ceil(channels / max_channels) if channels > 0 else 0


def bitfinex_workers(workers: int, limit: tuple[int, float] | None) -> int:
    """How many workers may carry Bitfinex channels: every one, but never more than the
    budget's connects per period (each needs at least one)."""
    return workers if limit is None else max(1, min(workers, limit[0]))


def split_connect_budget(needs: Sequence[int], limit: tuple[int, float] = BITFINEX_CONNECT_LIMIT) -> list[
        tuple[int, float] | None]:
    """Each worker's ``(connects, period)`` from the sockets it needs (``needs``; 0: no
    Bitfinex channels, ``None``): shares proportional to the needs (largest remainders), at
    least one each, adding up to ``limit[0]``.

    Raises:
        ValueError: more workers need sockets than ``limit`` has connects (see
            :func:`bitfinex_workers`), or a negative need.
    """
    connects, period = limit
    if any(n < 0 for n in needs):
        raise ValueError(f"needs must be >= 0, got {list(needs)}")
    active = [i for i, n in enumerate(needs) if n > 0]
    if len(active) > connects:
        raise ValueError(f"{len(active)} workers cannot share {connects} connects per {period:g} s")
    out: list[tuple[int, float] | None] = [None] * len(needs)
    if not active:
        return out
    total = sum(needs[i] for i in active)
    spare = connects - len(active)
    exact = {i: spare * needs[i] / total for i in active}
    shares = {i: 1 + int(exact[i]) for i in active}
    left = connects - sum(shares.values())
    for i in sorted(active, key=lambda i: (-(exact[i] - int(exact[i])), i))[:left]:
        shares[i] += 1
    for i in active:
        out[i] = (shares[i], period)
    return out


def connect_seconds(sockets: int, limit: tuple[int, float] | None) -> float:
    """Seconds until a client with ``limit`` has opened ``sockets`` sockets (0 when the first
    window holds them all or there is no limit)."""
    if limit is None or sockets <= 0:
        return 0.0
    return limit[1] * (math.ceil(sockets / limit[0]) - 1)
