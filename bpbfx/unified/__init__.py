"""One model for both exchanges: unified symbols, unified events and their converters.

::

    from bpbfx.unified import to_unified, to_native, Trade, Quote, UnifiedSink

    to_unified("bitfinex", "tBTCF0:USTF0")   # 'BTC/USDT:USDT'
    to_native("backpack", "SOL/USDC")        # 'SOL_USDC'

    client.add_sink(UnifiedSink(on_trade=lambda client, trade: print(trade.symbol, trade.side)))

See :mod:`bpbfx.unified.symbols` (symbols and candle intervals), :mod:`bpbfx.unified.events`
(the event types), :mod:`bpbfx.unified.convert` (native -> unified) and
:mod:`bpbfx.unified.orders` (orders placed and read with unified values on either exchange).
"""

from __future__ import annotations

from .convert import HOOK_NAMES, Converter, UnifiedHook, UnifiedSink
from .events import (
    BookChange,
    Candle,
    FundingRate,
    MarkPrice,
    Order,
    OrderStatus,
    Quote,
    Ticker,
    Trade,
    TradeSide,
    UnifiedEvent,
)
from .orders import UnifiedRequest, cancel_order, submit_order, unified_order
from .symbols import (
    INTERVALS,
    native_currency,
    native_interval,
    to_native,
    to_unified,
    unified_currency,
    unified_interval,
)

__all__ = [
    "HOOK_NAMES",
    "INTERVALS",
    "BookChange",
    "Candle",
    "Converter",
    "FundingRate",
    "MarkPrice",
    "Order",
    "OrderStatus",
    "Quote",
    "TradeSide",
    "Ticker",
    "Trade",
    "UnifiedEvent",
    "UnifiedHook",
    "UnifiedRequest",
    "UnifiedSink",
    "cancel_order",
    "native_currency",
    "native_interval",
    "submit_order",
    "to_native",
    "to_unified",
    "unified_currency",
    "unified_interval",
    "unified_order",
]

# Names of earlier releases, each of which said two things in the package.
_RENAMED = {"Side": "TradeSide"}


def __getattr__(name: str) -> object:
    new = _RENAMED.get(name)
    if new is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import warnings

    warnings.warn(f"{__name__}.{name} is now {__name__}.{new}", DeprecationWarning, stacklevel=2)
    return globals()[new]
