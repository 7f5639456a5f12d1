"""What "ready" means for a client, as a value: :meth:`~bpbfx.base.BaseClient.readiness`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["FAILED", "READY", "WAITING", "Readiness"]

READY: Final = "ready"
WAITING: Final = "waiting"
FAILED: Final = "failed"


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether a client is usable now, and if not, why.

    A client is **ready** when it is connected, every subscription is confirmed (the exchange
    acknowledged it, or, where the exchange acknowledges nothing, its stream delivered), it is
    authenticated if it should be, and every managed order book is valid.  It has **failed**
    when the exchange refused something the client cannot get past by itself (a subscription, the
    keys); the error was reported to ``on_error``.  Otherwise it is **waiting**.

    Attributes:
        state: ``"ready"``, ``"waiting"`` or ``"failed"``.
        waiting_for: what is still missing, in words (``"connection"``,
            ``"book depth.SOL_USDC"``, ``"subscription trades:tBTCUSD"``, ...).
        errors: the refusals that made it fail, as reported to ``on_error``.
    """

    state: Literal["ready", "waiting", "failed"]
    waiting_for: tuple[str, ...] = ()
    errors: tuple[BaseException, ...] = ()

    @property
    def ready(self) -> bool:
        """True when the client is usable."""
        return self.state == READY

    @property
    def failed(self) -> bool:
        """True when a refusal stands in the way (see :attr:`errors`)."""
        return self.state == FAILED

    def __str__(self) -> str:
        if self.state == READY:
            return "ready"
        if self.state == FAILED:
            return "failed: " + "; ".join(str(e) for e in self.errors)
        return "waiting for " + ", ".join(self.waiting_for)
