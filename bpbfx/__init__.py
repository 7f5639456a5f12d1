"""bpbfx: synchronous, callback-based WebSocket streams for Backpack Exchange and Bitfinex.

Public names::

    from bpbfx import BackpackClient, BitfinexClient, Backoff, BpbfxError
"""

from __future__ import annotations

import logging

from .backoff import Backoff
from .backpack.client import BackpackClient
from .bitfinex.client import BitfinexClient
from .book import FrozenBook, Level
from .dispatch import Dispatch
from .events import Event, UnknownEvent
from .exceptions import (
    AuthenticationError,
    BookError,
    BpbfxError,
    CallbackError,
    ChecksumMismatchError,
    ClientClosedError,
    ClockSkewError,
    ConfigurationError,
    ConnectionLostError,
    CredentialsError,
    EventsDroppedError,
    ExchangeError,
    HandshakeError,
    InvalidOrderError,
    InvalidStreamError,
    InvalidSymbolError,
    MalformedFrameError,
    MarketListError,
    OrderError,
    OrderNotSentError,
    OrderRateLimitError,
    OrderRejectedError,
    OrdersCancelledError,
    OrderStatusUnknownError,
    ProxyAuthenticationError,
    ProxyError,
    RateLimitError,
    RecordingError,
    RedisError,
    RedisUnavailableError,
    RemoteProtocolError,
    RequestAbortedError,
    RequestFailedError,
    SequenceGapError,
    StaleBookError,
    StreamGapError,
    StreamSilentError,
    StreamTrimmedError,
    SubscriptionError,
    SymbolMappingError,
    TradeGapError,
    TransportError,
    UnsupportedVersionError,
    WatchdogTimeout,
)
from .feed import Feed
from .live import LiveBook, OrderBookUpdate
from .proxy import Proxy
from .pull import EventStream
from .readiness import Readiness
from .sink import Sink, SinkHost
from .stats import ClientStats, StreamStats

__version__ = "0.1.0"

logging.getLogger("bpbfx").addHandler(logging.NullHandler())

__all__ = [
    "AuthenticationError",
    "Backoff",
    "BackpackClient",
    "BitfinexClient",
    "BookError",
    "FrozenBook",
    "BpbfxError",
    "CallbackError",
    "ChecksumMismatchError",
    "ClientClosedError",
    "ClockSkewError",
    "ClientStats",
    "ConfigurationError",
    "ConnectionLostError",
    "CredentialsError",
    "Dispatch",
    "Event",
    "EventStream",
    "EventsDroppedError",
    "ExchangeError",
    "Feed",
    "HandshakeError",
    "InvalidOrderError",
    "InvalidStreamError",
    "InvalidSymbolError",
    "Level",
    "LiveBook",
    "OrderBookUpdate",
    "MalformedFrameError",
    "MarketListError",
    "OrderError",
    "OrderNotSentError",
    "OrderRateLimitError",
    "OrderRejectedError",
    "OrderStatusUnknownError",
    "OrdersCancelledError",
    "Proxy",
    "ProxyAuthenticationError",
    "ProxyError",
    "RateLimitError",
    "Readiness",
    "RecordingError",
    "RedisError",
    "RedisUnavailableError",
    "RemoteProtocolError",
    "RequestAbortedError",
    "RequestFailedError",
    "Sink",
    "SinkHost",
    "SequenceGapError",
    "StaleBookError",
    "StreamGapError",
    "StreamSilentError",
    "StreamStats",
    "StreamTrimmedError",
    "SubscriptionError",
    "SymbolMappingError",
    "TradeGapError",
    "TransportError",
    "UnknownEvent",
    "UnsupportedVersionError",
    "WatchdogTimeout",
    "__version__",
]


def __getattr__(name: str) -> object:
    if name == "BookSnapshot":  # an earlier name of FrozenBook (also a Bitfinex event's name)
        import warnings

        warnings.warn("bpbfx.BookSnapshot is now bpbfx.FrozenBook", DeprecationWarning, stacklevel=2)
        return FrozenBook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
