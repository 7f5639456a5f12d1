"""bpbfx: synchronous, callback-based WebSocket streams for Backpack Exchange and Bitfinex."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
