"""Events shared by both exchanges.

Every event a client hands to ``on_message`` is a frozen, slotted dataclass deriving from
:class:`Event`: it keeps the stream it came from (``stream``), its market (``symbol``, or
``None`` for account-wide or global streams) and the decoded payload exactly as received
(``data``).  Exchange-specific events live in :mod:`bpbfx.backpack.events` and
:mod:`bpbfx.bitfinex.events`.

Conventions: prices, sizes and rates are :class:`decimal.Decimal` built from the exchange's
own text (never through ``float``); times are integers whose unit is in the field name
(``_us`` microseconds, ``_ms`` milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "UnknownEvent"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event.

    Attributes:
        stream: the stream name as the client knows it (Backpack ``"trade.SOL_USDC"``,
            Bitfinex ``"trades:tBTCUSD"``).
        symbol: the market, or ``None`` where the stream has none.
        data: the payload as decoded from JSON, untouched.
    """

    stream: str
    symbol: str | None
    data: Any = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(Event):
    """A frame from a stream or of a type this version does not decode.

    It is delivered rather than dropped, so new exchange features reach users before bpbfx
    knows them.
    """
