"""Backpack Exchange: client, protocol core, signer, events and books.

Typed events are in :mod:`bpbfx.backpack.events`; the client is :class:`BackpackClient`.
"""

from __future__ import annotations

from .client import BackpackClient

__all__ = ["BackpackClient"]
