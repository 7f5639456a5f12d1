"""What a :class:`~bpbfx.bitfinex.protocol.BitfinexProtocol` asks its client to carry out.

The protocol core queues these typed outputs in the order its state changed; the client takes
them with :meth:`~bpbfx.bitfinex.protocol.BitfinexProtocol.take_outputs`, sends every
:class:`Send` at once under its lock (so requests leave in order whichever thread caused them) and
carries out the rest outside the lock, where user callbacks may run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..events import Event
from ..exceptions import BpbfxError
from .backfill import FetchHistory
from .channels import Subscription

if TYPE_CHECKING:
    from .events import AuthResult
    from .protocol import Channel

__all__ = [
    "Authenticated",
    "Deliver",
    "DropChannel",
    "Fatal",
    "MoveChannel",
    "Output",
    "PauseWatchdog",
    "Reconnect",
    "Report",
    "Resynced",
    "Send",
]


@dataclass(frozen=True, slots=True)
class Send:
    """Send this frame now (under the client's lock, in order)."""

    text: str


@dataclass(frozen=True, slots=True)
class Deliver:
    """Hand this control event (``info``, ``subscribed``, ``pong``, ``auth``...) to ``on_message``."""

    event: Event


@dataclass(frozen=True, slots=True)
class Report:
    """Report this error to ``on_error``."""

    error: BpbfxError


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Replace the socket (a sequence gap, a restart notice, an unanswered request), reporting
    ``reason``."""

    reason: BpbfxError


@dataclass(frozen=True, slots=True)
class PauseWatchdog:
    """Suspend (``True``) or resume the socket's silence watchdog: announced maintenance."""

    paused: bool


@dataclass(frozen=True, slots=True)
class Fatal:
    """Stop the client: nothing it can do makes this socket usable (an unsupported API version)."""

    error: BpbfxError


@dataclass(frozen=True, slots=True)
class MoveChannel:
    """This socket is full (10305): place the subscription on another socket."""

    sub: Subscription


@dataclass(frozen=True, slots=True)
class DropChannel:
    """The exchange refused the subscription for good (a bad symbol...): forget it; ``error``
    is the refusal (already reported by a :class:`Report` before this output)."""

    sub: Subscription
    error: BpbfxError


@dataclass(frozen=True, slots=True)
class Resynced:
    """The channel's data is being rebuilt (a new snapshot follows): counted in ``stats()``."""

    chan: Channel


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The socket authenticated (channel 0 is live; an order core may reconcile)."""

    event: AuthResult


Output = (
    Send | Deliver | Report | Reconnect | PauseWatchdog | Fatal | MoveChannel | DropChannel | Resynced | Authenticated
    | FetchHistory
)
"""Any output of the protocol core, or a trade backfill's history request
(:class:`~bpbfx.bitfinex.backfill.FetchHistory`, queued by the client after the snapshot that
found the hole, so that it is made once that snapshot is delivered)."""
