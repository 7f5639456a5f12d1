"""Local simulators of Backpack Exchange and Bitfinex, for tests, the demo and your own tests.

They are real WebSocket servers on 127.0.0.1 speaking each exchange's protocol, with fault
controls (drops, silence, gaps, bad checksums, error frames...).  They need the ``sim`` extra
(``pip install "bpbfx[sim]"``, which adds ``websockets``)::

    from bpbfx import BackpackClient
    from bpbfx.sim import BackpackSimulator

    with BackpackSimulator() as sim:
        client = BackpackClient(sim.url, rest_url=sim.http_url, streams=["trade.SOL_USDC"])
        ...

The guide, with every option and fault control: ``bpbfx/docs/simulators.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["BackpackSimulator", "BitfinexSimulator", "ReplayServer", "SimServer"]

if TYPE_CHECKING:
    from ._server import SimServer
    from .backpack import BackpackSimulator
    from .bitfinex import BitfinexSimulator
    from .replay import ReplayServer

_MODULES = {
    "SimServer": "._server",
    "BackpackSimulator": ".backpack",
    "BitfinexSimulator": ".bitfinex",
    "ReplayServer": ".replay",
}


def __getattr__(name: str) -> Any:
    # Import lazily so that `import bpbfx.sim.backpack` works while other simulators are absent
    # and the ImportError for a missing `websockets` names the extra to install.
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'bpbfx.sim' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module, __name__), name)
