"""Backpack Exchange: client, protocol core, signer, events and books.

Typed events are in :mod:`bpbfx.backpack.events`; the client is :class:`BackpackClient`.

The client is loaded on first use (``from bpbfx.backpack import BackpackClient``), so that importing the
exchange's events or protocol core (as :mod:`bpbfx.unified` does) never pulls in the client
and the layers above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import BackpackClient

__all__ = ["BackpackClient"]


def __getattr__(name: str) -> Any:
    if name == "BackpackClient":
        from .client import BackpackClient

        return BackpackClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
