"""Every error bpbfx raises or reports through ``on_error``.

One root, so ``except BpbfxError`` catches everything the SDK produces.  The tree says how each
error reaches you: **raised** by a call you made (before anything is sent, or when the call
itself fails), **reported** to ``on_error`` (and to sinks) while the client carries on, or both::

    BpbfxError
    ├── ConfigurationError (also ValueError)    raised: you asked for something invalid, nothing was sent
    │   ├── InvalidStreamError                  raised: bad stream name / channel parameters
    │   ├── InvalidOrderError                   raised: an order input that would be refused (field)
    │   ├── CredentialsError                    raised: missing or malformed API keys
    │   └── InvalidSymbolError                  raised: a symbol with no unified (or native) form
    │                                           (also a SymbolMappingError)
    ├── ClientClosedError                       raised: the client was closed; it cannot be restarted
    │   └── RequestAbortedError                 raised: close() aborted a REST request (maybe_sent)
    ├── TransportError                          the connection to the exchange itself
    │   ├── ConnectionLostError                 reported: socket closed or reset (code, reason); reconnecting
    │   ├── HandshakeError                      reported: the upgrade was refused (status, e.g. 429); backing off
    │   ├── WatchdogTimeout                     reported: nothing arrived for too long (silence); reconnecting
    │   ├── ProxyError                          reported: the proxy refused or could not be reached (proxy, status)
    │   │   └── ProxyAuthenticationError        reported: the proxy wants (other) credentials (407, SOCKS auth)
    │   └── RequestFailedError                  raised by bpbfx.rest.RestClient: a REST request failed (url,
    │                                           maybe_sent); the clients turn it into what it means
    ├── RemoteProtocolError                     reported: the peer sent something we cannot understand
    │   ├── MalformedFrameError                 reported: not JSON / unexpected shape (keeps the frame)
    │   └── UnsupportedVersionError             reported: a Bitfinex server that is not API version 2
    ├── ExchangeError                           the exchange answered with an error
    │   ├── SubscriptionError                   reported: subscribe/unsubscribe refused (wait_ready is False)
    │   ├── AuthenticationError                 reported: signature, key or nonce refused (wait_ready is False)
    │   ├── RateLimitError                      reported: channel or connection limit reached; backing off
    │   └── OrderError                          on an order handle: the input failed (kind, cid, order_id)
    │       ├── OrderRejectedError              the exchange refused it (status, text)
    │       │   └── OrderRateLimitError         input rate limit (also a RateLimitError)
    │       ├── OrderNotSentError               not sent: not authenticated, maintenance, offline
    │       ├── OrderStatusUnknownError         sent, outcome not confirmed by any record (open, order)
    │       └── OrdersCancelledError            reported: open orders cancelled by cancel_on_disconnect (orders)
    ├── StreamSilentError                       reported: a subscribed stream never delivered / went quiet
    ├── TradeGapError                           reported: trades missed while away could not be fetched (ids or
    │                                           time span, reason); the tape goes on after the hole
    ├── ClockSkewError                          reported once: this machine's clock is off the exchange's (offset_ms)
    ├── EventsDroppedError                      reported (and raised by a pull queue with overflow="error")
    ├── StreamGapError                          reported: entries of a published stream are missing
    │   └── StreamTrimmedError                  reported: a reader fell behind the start of a trimmed stream
    ├── BookError                               reported: a local order book is known to be wrong; resyncing
    │   ├── ChecksumMismatchError               Bitfinex ``cs`` differs from the local book
    │   ├── SequenceGapError                    a sequence / update id was skipped
    │   └── StaleBookError                      the book could not be (re)synchronised yet
    ├── SymbolMappingError (also ValueError)    reported: the exchange sent a symbol with no unified form
    ├── RedisError                              Redis Streams sinks and readers (never the exchange connection)
    │   └── RedisUnavailableError               reported: Redis refused, timed out or went away; retrying
    ├── RecordingError                          raised: a recording could not be written or read (path, line)
    ├── MarketListError                         raised (collector start) / reported (refresh): an exchange's
    │                                           market list could not be read (exchange, url)
    └── CallbackError                           reported: a callback of yours raised (original in __cause__)

Order errors complete an order's handle (``handle.result()`` raises them); they are not also
reported to ``on_error``.  Every error carries structured fields (``code``, ``stream``, ...)
besides its message, so programs can branch on them without parsing text.  No error message
ever contains an API secret or a proxy password.
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
    "ClockSkewError",
    "ConfigurationError",
    "ConnectionLostError",
    "CredentialsError",
    "EventsDroppedError",
    "ExchangeError",
    "HandshakeError",
    "InvalidOrderError",
    "InvalidStreamError",
    "InvalidSymbolError",
    "MalformedFrameError",
    "MarketListError",
    "OrderError",
    "OrderNotSentError",
    "OrderRateLimitError",
    "OrderRejectedError",
    "OrderStatusUnknownError",
    "OrdersCancelledError",
    "ProxyAuthenticationError",
    "ProxyError",
    "RateLimitError",
    "RecordingError",
    "RedisError",
    "RedisUnavailableError",
    "RemoteProtocolError",
    "RequestAbortedError",
    "RequestFailedError",
    "SequenceGapError",
    "StaleBookError",
    "StreamGapError",
    "StreamSilentError",
    "StreamTrimmedError",
    "SubscriptionError",
    "SymbolMappingError",
    "TradeGapError",
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


class RequestAbortedError(ClientClosedError):
    """A REST request was aborted because its client is closing (``maybe_sent`` as for
    :class:`RequestFailedError`)."""

    def __init__(self, message: str, *, maybe_sent: bool) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


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


class ProxyError(TransportError):
    """The proxy refused the connection or could not be reached; a reconnect with the normal
    backoff follows.

    Attributes:
        proxy: the proxy's URL without credentials.
        status: the HTTP status or SOCKS reply code, where there is one.
    """

    def __init__(self, message: str, *, proxy: str, status: int | None = None) -> None:
        super().__init__(message, code=status)
        self.proxy = proxy
        self.status = status


class ProxyAuthenticationError(ProxyError):
    """The proxy wants credentials, or refused the ones given (HTTP 407, SOCKS authentication)."""


class RequestFailedError(TransportError):
    """An HTTP request could not be completed: no connection, reset, timeout, or an answer too
    large or cut short.

    Attributes:
        url: the request's URL (without query string).
        maybe_sent: False when nothing can have reached the server (the connection never came
            up); True when the request may have been received and acted upon (an order sent so
            is in doubt, never re-sent).
    """

    def __init__(self, message: str, *, url: str, maybe_sent: bool) -> None:
        super().__init__(message)
        self.url = url
        self.maybe_sent = maybe_sent


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
    """An order input did not get the outcome asked for; see the subclasses.  Bitfinex inputs
    go over channel 0 (``on``, ``ou``, ``oc``, ``oc_multi``, ``ox_multi``, ``calc``, ``fon``,
    ``foc``); Backpack's over REST (``execute``, ``batch``, ``cancel``, ``cancel_all``).

    Attributes:
        kind: the input type (``"on"``, ``"oc"``, ``"execute"``, ``"cancel"``...).
        cid / cid_date: client order id (Bitfinex ``cid``, Backpack ``clientId``) and, on
            Bitfinex, its UTC day (``"YYYY-MM-DD"``), where known.
        order_id: the exchange's order (or funding offer) id, where known (Backpack order ids
            are text).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str | None = None,
        cid: int | None = None,
        cid_date: str | None = None,
        order_id: int | str | None = None,
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


class OrdersCancelledError(OrderError):
    """Open orders were cancelled by the client's own safety rule (Backpack
    ``cancel_on_disconnect=``: the private stream stayed down that long); ``orders`` lists the
    orders the exchange confirmed cancelled."""

    def __init__(self, message: str, *, orders: Any = (), **fields: Any) -> None:
        super().__init__(message, **fields)
        self.orders = orders


class ClockSkewError(BpbfxError):
    """This machine's clock differs from the exchange's by ``offset_ms`` milliseconds (the
    exchange's minus this machine's).  Requests are signed with the corrected time, so nothing
    fails; reported once so that the machine's clock can be fixed (NTP)."""

    def __init__(self, message: str, *, offset_ms: int) -> None:
        super().__init__(message)
        self.offset_ms = offset_ms


class StreamSilentError(BpbfxError):
    """A subscribed stream has not delivered anything for ``silence`` seconds.

    On Backpack an unknown or closed symbol is silent forever (no error frame), so this is how
    a typo in a symbol is reported.
    """

    def __init__(self, message: str, *, stream: str, silence: float) -> None:
        super().__init__(message, stream=stream)
        self.silence = silence


class TradeGapError(BpbfxError):
    """Trades of a public trade stream are missing for good: they printed while the socket was
    down (or the stream skipped them) and could not be fetched from the exchange's REST trade
    history (``backfill_trades=True``).  Reported, never raised; the stream goes on after the
    hole, and a Redis sink writes a ``gap`` entry with reason ``trades_missing``.

    Attributes:
        exchange: ``"backpack"`` or ``"bitfinex"``.
        symbol: the market.
        stream: the trade stream (``"trade.SOL_USDC"``, ``"trades:tBTCUSD"``).
        first_id / last_id: Backpack, whose trade ids are sequential: the missing ids, both
            included (``None`` on Bitfinex).
        start_ms / end_ms: Bitfinex, whose trade ids are not: the time span, in milliseconds
            since the epoch, whose trades could not all be fetched (``None`` on Backpack).
        reason: why, in words (``"HTTP 503 from GET /api/v1/trades/history"``, ``"the
            exchange's history does not reach back to id 1234"``, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        exchange: str,
        symbol: str,
        stream: str,
        reason: str,
        first_id: int | None = None,
        last_id: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> None:
        super().__init__(message, stream=stream)
        self.exchange = exchange
        self.symbol = symbol
        self.reason = reason
        self.first_id = first_id
        self.last_id = last_id
        self.start_ms = start_ms
        self.end_ms = end_ms

    @property
    def missing(self) -> int | None:
        """How many trades are missing (Backpack; ``None`` when only a time span is known)."""
        if self.first_id is None or self.last_id is None:
            return None
        return self.last_id - self.first_id + 1


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


class SymbolMappingError(BpbfxError, ValueError):
    """A symbol has no unified form (or a unified symbol no native form) on ``exchange``.

    Reported to ``on_error`` (once per symbol) when the exchange sends one; the events of that
    symbol are skipped by the unified converters.  A symbol you pass is refused with the
    subclass :class:`InvalidSymbolError`, also a :class:`ConfigurationError`.

    Attributes:
        exchange: ``"backpack"`` or ``"bitfinex"``.
        symbol: the symbol that could not be mapped, as given.
    """

    def __init__(self, message: str, *, exchange: str, symbol: str) -> None:
        super().__init__(message)
        self.exchange = exchange
        self.symbol = symbol


class InvalidSymbolError(SymbolMappingError, ConfigurationError):
    """A symbol you passed has no unified (or native) form; raised at once with what is valid."""


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


class RedisError(BpbfxError):
    """A problem of the Redis Streams sinks and readers (never the exchange connection)."""


class RedisUnavailableError(RedisError):
    """Redis refused a connection, timed out or dropped it (``url`` has no password); the sink
    or reader retries with its backoff."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class MarketListError(BpbfxError):
    """An exchange's list of markets could not be read or understood (``exchange`` and
    ``url`` say which); the collector of every market refuses to start on it, and keeps its
    markets when a refresh fails."""

    def __init__(self, message: str, *, exchange: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.exchange = exchange
        self.url = url


class RecordingError(BpbfxError):
    """A recording could not be written or read (``path`` and ``line`` say where)."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
