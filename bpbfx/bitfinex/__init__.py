"""Bitfinex WebSocket v2: client, protocol core, channels, events, books and auth.

Typed events are in :mod:`bpbfx.bitfinex.events`; the client is :class:`BitfinexClient`.

The client is loaded on first use (``from bpbfx.bitfinex import BitfinexClient``), so that importing the
exchange's events or protocol core (as :mod:`bpbfx.unified` does) never pulls in the client
and the layers above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import BitfinexClient

__all__ = ["BitfinexClient"]


def __getattr__(name: str) -> Any:
    if name == "BitfinexClient":
        from .client import BitfinexClient

        return BitfinexClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
