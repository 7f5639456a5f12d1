"""Settings both exchange simulators share: exchange time counted in ticks, the seed, the
checks of their common options and the look-up of a simulated market.

Pure; any thread.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import TypeVar

__all__ = ["Cadences", "check_options", "check_symbols", "lookup_market", "pick_seed"]

M = TypeVar("M")

#: Seconds a tick stands for when the simulator has no ticker (``tick_interval=None``).
NOMINAL_TICK = 0.05


class Cadences:
    """Exchange cadences (periods in real seconds, by name) counted in ticks.

    A cadence of ``period`` seconds lasts ``period * time_scale`` seconds, that is that many
    seconds divided by ``tick_interval`` ticks (:data:`NOMINAL_TICK` without a ticker), and
    never less than one tick.
    """

    def __init__(self, periods: Mapping[str, float], tick_interval: float | None) -> None:
        self.periods = dict(periods)
        self.nominal_tick = tick_interval if tick_interval is not None else NOMINAL_TICK

    def ticks(self, name: str, time_scale: float) -> int:
        """Ticks between two events of cadence ``name``.

        Raises:
            ValueError: unknown cadence name.
        """
        try:
            period = self.periods[name]
        except KeyError:
            raise ValueError(f"unknown cadence {name!r}; known: {sorted(self.periods)}") from None
        return max(1, round(period * time_scale / self.nominal_tick))


def check_options(tick_interval: float | None, time_scale: float, max_queued_frames: int) -> None:
    """Check the options every exchange simulator takes.

    Raises:
        ValueError: ``tick_interval`` <= 0, ``time_scale`` <= 0 or ``max_queued_frames`` < 1.
    """
    if tick_interval is not None and tick_interval <= 0:
        raise ValueError(f"tick_interval must be > 0 or None, got {tick_interval!r}")
    if time_scale <= 0:
        raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
    if max_queued_frames < 1:
        raise ValueError(f"max_queued_frames must be >= 1, got {max_queued_frames!r}")


def check_symbols(symbols: Iterable[str]) -> None:
    """Check a simulator's list of markets.

    Raises:
        ValueError: no market, or one listed twice.
    """
    listed = list(symbols)
    if not listed:
        raise ValueError("markets must not be empty")
    if len(set(listed)) != len(listed):
        raise ValueError(f"markets listed twice in {listed}")


def pick_seed(seed: int | None) -> int:
    """``seed``, or a random one when ``None`` (the simulator keeps it in its ``seed``)."""
    return seed if seed is not None else random.SystemRandom().randrange(2**63)


def lookup_market(markets: Mapping[str, M], symbol: str) -> M:
    """The simulated market ``symbol``.

    Raises:
        ValueError: ``symbol`` is not simulated.
    """
    try:
        return markets[symbol]
    except KeyError:
        raise ValueError(f"unknown market {symbol!r}; simulated: {list(markets)}") from None
