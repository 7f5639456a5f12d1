"""Client order ids (``clientId``, an unsigned 32-bit integer) that are never reused.

Backpack refuses an order whose ``clientId`` was used before ("Order with client ID already
exists") and does not document for how long one stays used, so the ids this client generates
must not repeat, not even across restarts of the program.  With only 32 bits, the scheme is:

- an id counts **50 ms steps since 2025-01-01 00:00 UTC**: a program starting later always
  starts above every id a predecessor drew at its natural pace (the space lasts until late 2031);
- each id is one more than the previous when orders come faster than one per 50 ms, so ids
  still never repeat within a run; a restarted program could only meet an id of its predecessor
  if that one placed more than 20 orders per second for longer than the restart took;
- several programs trading on the same account at once each take one of ``shards`` residues
  (``ClientIdSource(shard=i, shards=n)``), so their ids never meet.

An id passed by the user is used as given (and checked to fit 32 bits).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

from ...exceptions import ConfigurationError
from .rules import MAX_CLIENT_ID

__all__ = ["EPOCH_S", "STEP_S", "ClientIdSource"]

EPOCH_S: Final = 1_735_689_600  # 2025-01-01 00:00:00 UTC
STEP_S: Final = 0.05


class ClientIdSource:
    """Strictly increasing ``clientId`` values (see the module docstring); thread-safe.

    Args:
        shard / shards: this program's residue among ``shards`` programs sharing an account.
        clock: wall clock, seconds (injected in tests).

    Raises:
        ConfigurationError: ``shard`` not in ``range(shards)``.
    """

    def __init__(self, *, shard: int = 0, shards: int = 1, clock: Callable[[], float] = time.time) -> None:
        if shards < 1 or not 0 <= shard < shards:
            raise ConfigurationError(f"client id shard must be in 0..{shards - 1} of {shards} shards, got {shard}")
        self._shard = shard
        self._shards = shards
        self._clock = clock
        self._last = -1
        self._lock = threading.Lock()

    def next(self) -> int:
        """The next id (any thread).

        Raises:
            OverflowError: the 32-bit space is used up (late 2031 at the natural pace).
        """
        with self._lock:
            steps = int((self._clock() - EPOCH_S) / STEP_S)
            floor = max(steps * self._shards, self._last + 1)
            value = floor + (self._shard - floor) % self._shards
            if value > MAX_CLIENT_ID:
                raise OverflowError("the 32-bit clientId space is used up; use client_id= with ids of your own")
            self._last = value
            return value

    @property
    def last(self) -> int:
        """The last id drawn (-1 before the first)."""
        return self._last
