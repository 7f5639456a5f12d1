"""Bookkeeping of the Bitfinex simulator's fault controls.

The controls themselves are methods of :class:`~bpbfx.sim.bitfinex.BitfinexSimulator`; what
they arm on the whole server or on accounts is kept here (what they arm on one channel is
kept on the channel, :class:`~bpbfx.sim.bitfinex.clients._Channel`) and read where frames
are made.  No I/O; used under the simulator's lock.
"""

from __future__ import annotations

from typing import TypeVar

__all__: list[str] = []

T = TypeVar("T")


class Faults:
    """What is armed, per API key where it concerns accounts (``None``: any account).

    Attributes:
        maintenance: between info 20060 and 20061: no data or account events.
        reject_next: ``(status, text)`` of the next ``on`` inputs to refuse.
        drop_next: the next accepted ``on`` inputs whose socket is dropped before the reply,
            each with what happens to the order then (``None``: nothing; ``"fill"``: it executes
            in full; ``"cancel"``: it is cancelled).
        notify_delay: seconds request notifications wait.
        lose_next: how many of the next ``on`` inputs are lost with their socket, unhandled.
    """

    def __init__(self) -> None:
        self.maintenance = False
        self.reject_next: dict[str | None, list[tuple[str, str]]] = {}
        self.drop_next: dict[str | None, list[str | None]] = {}
        self.notify_delay: dict[str | None, float] = {}
        self.lose_next: dict[str | None, int] = {}

    def take_reject(self, key: str) -> tuple[str, str] | None:
        """The refusal armed for the next order of ``key`` (or of any account), counted off."""
        return _pop(self.reject_next, key)

    def take_drop(self, key: str) -> tuple[bool, str | None]:
        """Whether a drop is armed for the next order of ``key`` (or of any account), counted
        off, and what then happens to the order."""
        for k in (key, None):
            queue = self.drop_next.get(k)
            if queue:
                then = queue.pop(0)
                if not queue:
                    del self.drop_next[k]
                return True, then
        return False, None

    def take_loss(self, key: str) -> bool:
        """The next order of ``key`` (or of any account) is to be lost; counted off."""
        for k in (key, None):
            left = self.lose_next.get(k, 0)
            if left:
                if left == 1:
                    del self.lose_next[k]
                else:
                    self.lose_next[k] = left - 1
                return True
        return False

    def delay(self, key: str) -> float:
        """Seconds the request notifications of ``key`` wait."""
        return self.notify_delay.get(key, self.notify_delay.get(None, 0.0))


def _pop(faults: dict[str | None, list[T]], key: str) -> T | None:
    for k in (key, None):
        queue = faults.get(k)
        if queue:
            item = queue.pop(0)
            if not queue:
                del faults[k]
            return item
    return None
