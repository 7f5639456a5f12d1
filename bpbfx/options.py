"""The options every client takes, declared once.

``BackpackClient(url, *, streams=..., ..., **options)`` and ``BitfinexClient(url, *, ...,
**options)`` both accept every key of :class:`ClientOptions` (type checkers and IDEs see them
through ``Unpack[ClientOptions]``).  Hooks receive the client as their first argument; which
thread runs each one is documented on :class:`bpbfx.base.BaseClient`.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict

from .backoff import Backoff
from .dispatch import Dispatch
from .proxy import ProxyOption

if TYPE_CHECKING:
    from .events import Event

__all__ = [
    "ClientOptions",
    "CloseHook",
    "ErrorHook",
    "MessageHook",
    "OpenHook",
    "PingHook",
    "RawHook",
    "ReconnectHook",
    "UnifiedHook",
    "UnifiedHookOptions",
]

MessageHook = Callable[[Any, "Event"], None]
"""``on_message(client, event)``."""
ErrorHook = Callable[[Any, BaseException], None]
"""``on_error(client, error)``."""
PingHook = Callable[[Any, bytes], None]
"""``on_ping(client, payload)``."""
OpenHook = Callable[[Any], None]
"""``on_open(client)``."""
CloseHook = Callable[[Any, "int | None", str], None]
"""``on_close(client, code, reason)``."""
ReconnectHook = Callable[[Any, int], None]
"""``on_reconnect(client, attempt)``."""
RawHook = Callable[[Any, bytes, int], None]
"""``on_raw(client, frame, socket_index)``."""
UnifiedHook = Callable[[Any, Any], None]
"""``hook(client, unified_event)`` (see :mod:`bpbfx.unified`)."""


class UnifiedHookOptions(TypedDict, total=False):
    """The typed unified hooks, one per unified event type (:data:`bpbfx.unified.HOOK_NAMES`
    maps each type to its hook; a test keeps the two in step)."""

    on_trade: UnifiedHook | None
    on_quote: UnifiedHook | None
    on_ticker: UnifiedHook | None
    on_candle: UnifiedHook | None
    on_book_change: UnifiedHook | None
    on_funding_rate: UnifiedHook | None
    on_mark_price: UnifiedHook | None


class ClientOptions(UnifiedHookOptions, total=False):
    """Keyword options every client takes.

    Attributes:
        on_message / on_error / on_ping / on_open / on_close / on_reconnect: the hooks.
        backoff: reconnect delays (:class:`~bpbfx.Backoff`), including the wait after an
            HTTP 429 on the handshake (``Backoff.rate_limited``).
        name: names the client's threads and messages (default: the exchange).
        unified: hand unified events (:mod:`bpbfx.unified`) to ``on_message`` instead of
            native ones.
        dispatch: where callbacks run: ``"inline"`` (the reader thread, the default),
            ``"thread"`` or a :class:`~bpbfx.Dispatch` value (queue size and overflow policy).
        dispatch_maxsize / dispatch_overflow: deprecated, use ``dispatch=Dispatch("thread",
            maxsize=..., overflow=...)``.
        ssl_context: TLS settings for ``wss://`` and ``https://`` (default: the system's
            certificate verification).
        proxy: the proxy for every connection of the client, WebSocket and REST: a URL
            (``http://[user:pass@]host:port``, ``socks5://``, ``socks5h://``) or a
            :class:`~bpbfx.Proxy`; ``None`` (the default) takes it from the environment
            (``http_proxy``/``https_proxy``/``all_proxy``, ``no_proxy``); ``False`` connects
            directly whatever the environment says.
        on_trade / on_quote / ... : unified hooks (:class:`UnifiedHookOptions`).
    """

    on_message: MessageHook | None
    on_error: ErrorHook | None
    on_ping: PingHook | None
    on_open: OpenHook | None
    on_close: CloseHook | None
    on_reconnect: ReconnectHook | None
    backoff: Backoff | None
    name: str | None
    unified: bool
    dispatch: Dispatch | str
    dispatch_maxsize: int
    dispatch_overflow: str
    ssl_context: ssl.SSLContext | None
    proxy: ProxyOption
