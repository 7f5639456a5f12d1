"""Every error bpbfx raises or reports through ``on_error``.

One root, so ``except BpbfxError`` catches everything the SDK produces::

    BpbfxError
    ├── ConfigurationError (also ValueError)    you asked for something invalid; raised at once
    │   ├── InvalidStreamError                  bad stream name / channel parameters
    │   ├── InvalidOrderError                   an order input that would be refused (field)
    │   ├── CredentialsError                    missing or malformed API keys
    │   └── SymbolMappingError                  a symbol with no unified (or native) form (exchange, symbol)
    ├── ClientClosedError                       the client was closed; it cannot be restarted
    ├── TransportError                          the connection itself
    │   ├── ConnectionLostError                 socket closed or reset (code, reason)
    │   ├── HandshakeError                      the HTTP upgrade was refused (status, e.g. 429)
    │   ├── WatchdogTimeout                     nothing arrived for too long (silence seconds)
    │   └── RedisUnavailableError               Redis refused, timed out or went away (sinks/readers)
    ├── RemoteProtocolError                     the peer sent something we cannot understand
    │   ├── MalformedFrameError                 not JSON / unexpected shape (keeps the frame)
    │   └── UnsupportedVersionError             Bitfinex server that is not API version 2
    ├── ExchangeError                           the exchange answered with an error code
    │   ├── SubscriptionError                   subscribe/unsubscribe refused
    │   ├── AuthenticationError                 signature, key or nonce refused
    │   ├── RateLimitError                      channel or connection limit reached
    │   └── OrderError                          an order input failed (kind, cid, order_id)
    │       ├── OrderRejectedError              the exchange refused it (status, text)
    │       │   └── OrderRateLimitError         input rate limit (also a RateLimitError)
    │       ├── OrderNotSentError               not sent: not authenticated, maintenance, offline
    │       └── OrderStatusUnknownError         sent, outcome not confirmed (open, order)
    ├── StreamSilentError                       a subscribed stream never delivered / went quiet
    ├── EventsDroppedError                      a bounded event queue overflowed (dropped, policy)
    ├── StreamGapError                          entries of a published stream are missing (reason, expected, got)
    │   └── StreamTrimmedError                  a reader fell behind the start of a trimmed stream
    ├── BookError                               a local order book is known to be wrong
    │   ├── ChecksumMismatchError               Bitfinex ``cs`` differs from the local book
    │   ├── SequenceGapError                    a sequence / update id was skipped
    │   └── StaleBookError                      the book could not be (re)synchronised
    └── CallbackError                           a user callback raised (original in __cause__)

Every error carries structured fields (``code``, ``stream``, ...) besides its message, so
programs can branch on them without parsing text.  No error message ever contains an API
secret.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BookError",
    "BpbfxError",
    "CallbackError",
    "ChecksumMismatchError",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectionLostError",
    "CredentialsError",
    "EventsDroppedError",
    "ExchangeError",
    "HandshakeError",
    "InvalidOrderError",
    "InvalidStreamError",
    "MalformedFrameError",
    "OrderError",
    "OrderNotSentError",
    "OrderRateLimitError",
    "OrderRejectedError",
    "OrderStatusUnknownError",
    "RateLimitError",
    "RedisUnavailableError",
    "RemoteProtocolError",
    "SequenceGapError",
    "StaleBookError",
    "StreamGapError",
    "StreamSilentError",
    "StreamTrimmedError",
    "SubscriptionError",
    "SymbolMappingError",
    "TransportError",
    "UnsupportedVersionError",
    "WatchdogTimeout",
]


class BpbfxError(Exception):
    """Root of every bpbfx error.

    Attributes:
        message: human readable text (also ``str(exc)``).
        code: exchange error code where there is one, else ``None``.
        stream: the stream / channel concerned, where there is one, else ``None``.
    """

    def __init__(self, message: str, *, code: int | None = None, stream: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.stream = stream

    def __repr__(self) -> str:
        parts = [repr(self.message)]
        if self.code is not None:
            parts.append(f"code={self.code!r}")
        if self.stream is not None:
            parts.append(f"stream={self.stream!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class ConfigurationError(BpbfxError, ValueError):
    """Invalid arguments from the caller; raised at once, before anything is sent."""


class InvalidStreamError(ConfigurationError):
    """A stream name or channel parameter is not valid; the message lists what is."""


class CredentialsError(ConfigurationError):
    """API keys are missing or malformed (the message never contains the secret)."""


class InvalidOrderError(ConfigurationError):
    """An order input is not valid (raised before anything is sent); ``field`` names the
    offending argument and the message says what is valid."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ClientClosedError(BpbfxError):
    """The client has been closed and cannot be used again."""


class TransportError(BpbfxError):
    """A problem with the WebSocket connection itself."""


class ConnectionLostError(TransportError):
    """The connection closed or failed; the client reconnects on its own.

    Attributes:
        close_code: WebSocket close code if the peer sent one.
        reason: close reason or the underlying error text.
    """

    def __init__(self, message: str, *, close_code: int | None = None, reason: str = "") -> None:
        super().__init__(message, code=close_code)
        self.close_code = close_code
        self.reason = reason


class HandshakeError(TransportError):
    """The server refused the WebSocket upgrade (``status`` is the HTTP status, e.g. 429)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, code=status)
        self.status = status


class WatchdogTimeout(TransportError):
    """Nothing arrived on a connection for ``silence`` seconds (limit ``timeout``)."""

    def __init__(self, message: str, *, silence: float, timeout: float, stream: str | None = None) -> None:
        super().__init__(message, stream=stream)
        self.silence = silence
        self.timeout = timeout


class RedisUnavailableError(TransportError):
    """Redis refused a connection, timed out or dropped it (``url`` has no password)."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class RemoteProtocolError(BpbfxError):
    """The peer sent something that does not follow its protocol."""


class MalformedFrameError(RemoteProtocolError):
    """A frame could not be decoded; ``frame`` keeps (a prefix of) the raw text."""

    def __init__(self, message: str, *, frame: bytes | str = b"", stream: str | None = None) -> None:
        super().__init__(message, stream=stream)
        self.frame = frame


class UnsupportedVersionError(RemoteProtocolError):
    """The server speaks an API version this client does not support."""

    def __init__(self, message: str, *, version: Any) -> None:
        super().__init__(message)
        self.version = version


class ExchangeError(BpbfxError):
    """The exchange answered with an error.

    Attributes:
        request: the request that caused it, when known (a dict as sent, secrets removed).
        payload: the exchange's error frame as decoded JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        stream: str | None = None,
        request: dict[str, Any] | None = None,
        payload: Any = None,
    ) -> None:
        super().__init__(message, code=code, stream=stream)
        self.request = request
        self.payload = payload


class SubscriptionError(ExchangeError):
    """A subscribe or unsubscribe request was refused."""


class AuthenticationError(ExchangeError):
    """Authentication was refused (bad key, signature, nonce or timestamp window)."""


class RateLimitError(ExchangeError):
    """A channel or connection limit was reached; the client backs off."""


class OrderError(ExchangeError):
    """An order input (Bitfinex channel 0: ``on``, ``ou``, ``oc``, ``oc_multi``, ``ox_multi``,
    ``calc``, ``fon``, ``foc``) did not get the outcome asked for; see the subclasses.

    Attributes:
        kind: the input type (``"on"``, ``"oc"``, ...).
        cid / cid_date: client order id and its UTC day (``"YYYY-MM-DD"``), where known.
        order_id: the exchange's order (or funding offer) id, where known.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str | None = None,
        cid: int | None = None,
        cid_date: str | None = None,
        order_id: int | None = None,
        code: int | None = None,
        request: dict[str, Any] | None = None,
        payload: Any = None,
    ) -> None:
        super().__init__(message, code=code, request=request, payload=payload)
        self.kind = kind
        self.cid = cid
        self.cid_date = cid_date
        self.order_id = order_id


class OrderRejectedError(OrderError):
    """The exchange refused the input: ``status`` (``"ERROR"``, ``"FAILURE"``) and ``text`` as
    the exchange wrote them (e.g. ``"Invalid order: not enough exchange balance ..."``).
    Nothing was placed or changed by it."""

    def __init__(self, message: str, *, status: str | None = None, text: str | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.status = status
        self.text = text


class OrderRateLimitError(OrderRejectedError, RateLimitError):
    """The order input rate limit was reached: refused locally before sending (``local`` True,
    ``retry_after`` seconds until the window has room) or by the exchange (``local`` False)."""

    def __init__(self, message: str, *, local: bool, retry_after: float | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.local = local
        self.retry_after = retry_after


class OrderNotSentError(OrderError):
    """The input was not sent, so retrying cannot duplicate it: not authenticated, socket
    offline, Bitfinex maintenance (20060), or a conflicting input awaiting its confirmation."""


class OrderStatusUnknownError(OrderError):
    """The input was sent but its outcome was not confirmed (the socket dropped, or no
    confirmation came in time) and the exchange's state cannot tell.

    Attributes:
        open: whether the order is open on the exchange now: ``False`` when the snapshot after
            reconnecting does not hold it (never placed, or executed, or cancelled), ``True``
            when it does (the asked-for change is not visible), ``None`` when unknown.
        order: the order's last known state (a Bitfinex ``Order``), if any.
    """

    def __init__(self, message: str, *, open: bool | None = None, order: Any = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.open = open
        self.order = order


class StreamSilentError(BpbfxError):
    """A subscribed stream has not delivered anything for ``silence`` seconds.

    On Backpack an unknown or closed symbol is silent forever (no error frame), so this is how
    a typo in a symbol is reported.
    """

    def __init__(self, message: str, *, stream: str, silence: float) -> None:
        super().__init__(message, stream=stream)
        self.silence = silence


class StreamGapError(BpbfxError):
    """Entries of a published stream are missing: the writer dropped them (and said so with a
    ``gap`` entry) or the reader found a hole in the epoch / sequence numbering.

    Attributes:
        reason: ``overflow``, ``redis``, ``checksum``, ``sequence``, ``stale``, ``reconnect``,
            ``rebuild``, ``writer_restart``, ``invalid`` (writer side) or ``missing``,
            ``trimmed``, ``epoch`` (found by the reader).
        expected / got: the entry numbers or update ids around the hole, when known.
        epoch: the epoch the hole is in.
    """

    def __init__(
        self,
        message: str,
        *,
        stream: str,
        reason: str,
        expected: int | None = None,
        got: int | None = None,
        epoch: int | None = None,
    ) -> None:
        super().__init__(message, stream=stream)
        self.reason = reason
        self.expected = expected
        self.got = got
        self.epoch = epoch


class StreamTrimmedError(StreamGapError):
    """A reader's cursor fell behind the first entry still kept (``MAXLEN`` trimmed what it had
    not read yet); the reader resynchronises from the latest snapshot."""


class BookError(BpbfxError):
    """A local order book is known to be wrong; it is marked invalid and resynchronised."""

    def __init__(self, message: str, *, symbol: str, stream: str | None = None, code: int | None = None) -> None:
        super().__init__(message, code=code, stream=stream)
        self.symbol = symbol


class ChecksumMismatchError(BookError):
    """The exchange's book checksum differs from the local book's."""

    def __init__(self, message: str, *, symbol: str, expected: int, got: int, stream: str | None = None) -> None:
        super().__init__(message, symbol=symbol, stream=stream)
        self.expected = expected
        self.got = got


class SequenceGapError(BookError):
    """A sequence number or update id was skipped (``expected`` then ``got``)."""

    def __init__(self, message: str, *, symbol: str, expected: int, got: int, stream: str | None = None) -> None:
        super().__init__(message, symbol=symbol, stream=stream)
        self.expected = expected
        self.got = got


class StaleBookError(BookError):
    """A book could not be synchronised (e.g. the snapshot could not be fetched or aligned)."""


class CallbackError(BpbfxError):
    """A user callback raised; the original exception is ``__cause__`` and ``original``."""

    def __init__(self, message: str, *, hook: str, original: BaseException) -> None:
        super().__init__(message)
        self.hook = hook
        self.original = original


class SymbolMappingError(ConfigurationError):
    """A symbol has no unified form (or a unified symbol no native form) on ``exchange``.

    Attributes:
        exchange: ``"backpack"`` or ``"bitfinex"``.
        symbol: the symbol that could not be mapped, as given.
    """

    def __init__(self, message: str, *, exchange: str, symbol: str) -> None:
        super().__init__(message)
        self.exchange = exchange
        self.symbol = symbol


class EventsDroppedError(BpbfxError):
    """A bounded event queue was full and lost ``dropped`` events under ``policy``
    (``"drop_oldest"``, ``"drop_newest"`` or ``"error"``).

    Reported through ``on_error`` (``dropped`` counts the events lost since the previous report,
    ``total_dropped`` every event lost so far by that queue); with ``overflow="error"`` it is
    also raised to the consumer at the place in the sequence where the events are missing.
    """

    def __init__(self, message: str, *, dropped: int, total_dropped: int, policy: str, queue: str) -> None:
        super().__init__(message)
        self.dropped = dropped
        self.total_dropped = total_dropped
        self.policy = policy
        self.queue = queue
