"""Bitfinex WebSocket v2: client, protocol core, channels, events, books and auth.

Typed events are in :mod:`bpbfx.bitfinex.events`; the client is :class:`BitfinexClient`.
"""

from __future__ import annotations

from .client import BitfinexClient

__all__ = ["BitfinexClient"]
