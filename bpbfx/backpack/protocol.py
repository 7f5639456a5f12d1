"""Backpack's WebSocket protocol without I/O: subscriptions, request frames, silence alarms,
refusals and the managed books' synchronisation, as one state machine.

:class:`BackpackProtocol` holds the state of one client's connection.  Frames and times go in
(``receive(data, now)``, ``check(now)``); events, errors, frames to send and snapshot requests
come out as return values.  It never touches a socket, a thread, a lock or a clock, so it is
tested by feeding it frames; :class:`~bpbfx.backpack.client.BackpackClient` is the shell that
owns the socket, the lock and the REST snapshot thread.

Rules implemented here (docs/protocols.md, "Backpack Exchange"):

- ``{"method":"SUBSCRIBE","params":[...]}`` / ``UNSUBSCRIBE``; several streams per frame; no
  reply on success; an unknown symbol is silent forever, so a stream that publishes regularly
  and stays silent is reported (:class:`~bpbfx.StreamSilentError`).
- ``account.*`` streams are signed per SUBSCRIBE frame, with a fresh timestamp on every
  (re)subscribe (see :mod:`.auth`).
- An error frame carries no request id: it is attributed to the last request sent; a refused
  subscription (4006, 4008, a signature refusal) stands until the streams are unsubscribed or
  the next connection resubscribes.
- Depth books are seeded from the REST snapshot and aligned by update id
  (:class:`~bpbfx.backpack.book.BackpackBookSync`); every gap, bad delta or lost socket asks for
  a new snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..events import Event
from ..exceptions import (
    AuthenticationError,
    BpbfxError,
    CredentialsError,
    ExchangeError,
    MalformedFrameError,
    StreamSilentError,
    SubscriptionError,
)
from ..stats import StreamCounter
from .auth import Signer
from .book import BackpackBookSync, DepthSnapshot, SyncAction, SyncResult
from .decode import (
    CACHE_MAX,
    PRICE_CACHE,
    Decoder,
    FrameDecoder,
    decode,
    error_from_frame,
    excerpt,
    parse_frame,
)
from .events import Depth
from .streams import (
    DEPTH_WINDOWS,
    KLINE_INTERVALS,
    PRIVATE_TYPES,
    PUBLIC_TYPES,
    REGULAR_TYPES,
    is_private,
    stream_symbol,
    stream_type,
    validate_stream,
)

__all__ = [
    "CACHE_MAX",
    "DEPTH_WINDOWS",
    "KLINE_INTERVALS",
    "OTHER_STREAMS",
    "PRICE_CACHE",
    "PRIVATE_TYPES",
    "PUBLIC_TYPES",
    "REGULAR_TYPES",
    "BackpackProtocol",
    "BookResult",
    "Decoder",
    "FetchSnapshot",
    "FrameDecoder",
    "ManagedBook",
    "decode",
    "encode",
    "error_from_frame",
    "excerpt",
    "is_private",
    "parse_frame",
    "stream_symbol",
    "stream_type",
    "subscribe_frames",
    "unsubscribe_frame",
    "validate_stream",
]

OTHER_STREAMS = "<other>"
"""``stats().streams`` key counting frames of streams that are not subscribed."""
MAX_UNSUBSCRIBED = 1000
"""Recently unsubscribed stream names remembered (their in-flight frames are dropped)."""
MAX_SNAPSHOT_BACKOFF = 16
"""Failed snapshot fetches after which the retry delay stops growing."""


# ---------------------------------------------------------------------- request frames
def subscribe_frames(streams: Iterable[str], signer: Signer | None) -> list[dict[str, Any]]:
    """SUBSCRIBE frames for ``streams``: the public ones in one frame, the private ones in a
    second frame signed now (a fresh timestamp every time: re-sign on every resubscribe).

    Raises:
        CredentialsError: a private stream without a signer.
    """
    public = [s for s in streams if not is_private(s)]
    private = [s for s in streams if is_private(s)]
    frames: list[dict[str, Any]] = []
    if public:
        frames.append({"method": "SUBSCRIBE", "params": public})
    if private:
        if signer is None:
            raise CredentialsError(
                f"{', '.join(private)} needs API keys: pass api_key/api_secret or set "
                "BACKPACK_PUBLIC_KEY/BACKPACK_SECRET_KEY (or PUBLIC_KEY/SECRET_KEY) in the environment or .env"
            )
        frames.append({"method": "SUBSCRIBE", "params": private, "signature": signer.subscribe_signature()})
    return frames


def unsubscribe_frame(streams: Iterable[str]) -> dict[str, Any]:
    """One UNSUBSCRIBE frame."""
    return {"method": "UNSUBSCRIBE", "params": list(streams)}


def encode(frame: dict[str, Any]) -> str:
    """Compact JSON text of a request frame."""
    return json.dumps(frame, separators=(",", ":"))


# ---------------------------------------------------------------------- outputs
@dataclass(frozen=True, slots=True)
class FetchSnapshot:
    """Fetch the REST depth snapshot of ``symbol`` for the book of ``stream``, after waiting
    ``delay`` seconds (a growing backoff after failures), and hand it to
    :meth:`BackpackProtocol.snapshot_received` (or the failure to
    :meth:`BackpackProtocol.snapshot_failed`)."""

    stream: str
    symbol: str
    delay: float


@dataclass(frozen=True, slots=True)
class BookResult:
    """What one book input did: the sync ``result``, whether a resync began (``resync``), an
    error to report, and a snapshot to fetch."""

    result: SyncResult | None
    resync: bool = False
    error: BpbfxError | None = None
    fetch: FetchSnapshot | None = None


class ManagedBook:
    """A depth stream's book, its synchroniser and the state of its snapshot fetch."""

    __slots__ = ("failures", "fetching", "stream", "symbol", "sync")

    def __init__(self, stream: str, symbol: str) -> None:
        self.stream = stream
        self.symbol = symbol
        self.sync = BackpackBookSync(symbol, stream=stream)
        self.fetching = False
        self.failures = 0


# ---------------------------------------------------------------------- the state machine
class BackpackProtocol:
    """The state of one Backpack connection (see the module docstring).  Not thread-safe: the
    client calls it under its lock, except :meth:`receive`, whose only writes are the stream
    counters (one writer: the reader thread).

    Args:
        books: keep a managed book for every ``depth.*`` stream.
        backoff_delay: ``backoff_delay(n)`` is the wait before retry ``n`` of a failed snapshot
            fetch (the client passes its :class:`~bpbfx.Backoff`'s ``delay``).
        loads: the JSON decoder.
    """

    def __init__(self, *, books: bool = True, backoff_delay: Callable[[int], float], loads: Callable[..., Any]) -> None:
        self.books_enabled = books
        self.signer: Signer | None = None
        self.subscriptions: dict[str, None] = {}
        """Active streams, in subscription order (an ordered set)."""
        self.counters: dict[str, StreamCounter] = {OTHER_STREAMS: StreamCounter(0.0)}
        """Per-stream counters: subscribed streams, and one bucket for every other name."""
        self.books: dict[str, ManagedBook] = {}
        self.refusals: dict[str, BpbfxError] = {}
        """Refused requests by key (``"subscribe <streams>"``): the client is not ready."""
        self.open = False
        """True once the current connection has been sent every subscription."""
        self.private_pending = False
        """The private streams wait for :meth:`subscribe_private` on this connection."""
        self._unsubscribed: dict[str, None] = {}
        self._alerted: set[str] = set()
        self._last_request: dict[str, Any] | None = None
        self._decoder = FrameDecoder()
        self._loads = loads
        self._backoff_delay = backoff_delay

    # ------------------------------------------------------------------ requests
    def subscribe(self, names: list[str], now: float) -> list[str]:
        """Add the streams of ``names`` not yet active (validated by the caller) and return the
        frames to send now when connected.

        Raises:
            CredentialsError: a private stream and no signer.
        """
        new = [s for s in names if s not in self.subscriptions]
        if any(is_private(s) for s in new) and self.signer is None:
            subscribe_frames(new, None)  # raises the CredentialsError with its message
        for s in new:
            self.subscriptions[s] = None
            self._unsubscribed.pop(s, None)
            counter = self.counters.get(s)
            if counter is None:
                counter = self.counters[s] = StreamCounter(now)
            counter.since = now
            self._alerted.discard(s)
            if self.books_enabled and s.startswith("depth."):
                symbol = stream_symbol(s)
                assert symbol is not None
                self.books[s] = ManagedBook(s, symbol)
        return self._subscribe_frames(new) if new and self.open else []

    def unsubscribe(self, names: list[str]) -> list[str]:
        """Remove the active streams of ``names``; the UNSUBSCRIBE frame to send when
        connected.  Refusals that named them are forgotten."""
        gone = [s for s in names if s in self.subscriptions]
        for s in gone:
            del self.subscriptions[s]
            self.counters.pop(s, None)
            self._unsubscribed[s] = None
            while len(self._unsubscribed) > MAX_UNSUBSCRIBED:
                del self._unsubscribed[next(iter(self._unsubscribed))]
            managed = self.books.pop(s, None)
            if managed is not None:
                managed.sync.reset()
        if gone:
            for key in [k for k, e in self.refusals.items() if _names(e) & set(gone)]:
                del self.refusals[key]
        return [encode(unsubscribe_frame(gone))] if gone and self.open else []

    def _subscribe_frames(self, streams: list[str]) -> list[str]:
        frames = []
        for frame in subscribe_frames(streams, self.signer):
            # Kept (without its signature) to explain a later error frame.
            self._last_request = {k: v for k, v in frame.items() if k != "signature"}
            frames.append(encode(frame))
        return frames

    # ------------------------------------------------------------------ connection
    def connection_made(self, now: float, *, private: bool = True) -> list[str]:
        """The socket is up: every subscription is sent again (private ones re-signed with a
        fresh timestamp: the signature window is checked per SUBSCRIBE).  Refusals are
        forgotten: the new requests are judged afresh.  With ``private=False`` the private
        streams wait for :meth:`subscribe_private` (the shell measures the exchange's clock
        first, without holding up the public streams)."""
        streams = list(self.subscriptions)
        for s in streams:
            counter = self.counters.get(s)
            if counter is not None:
                counter.since = now
        self.refusals.clear()
        self.open = True
        self.private_pending = not private
        if not private:
            streams = [s for s in streams if not is_private(s)]
        return self._subscribe_frames(streams) if streams else []

    def subscribe_private(self) -> list[str]:
        """The private streams held back by ``connection_made(private=False)``, signed now;
        nothing when they went out already or the socket is gone."""
        if not (self.open and self.private_pending):
            return []
        self.private_pending = False
        streams = [s for s in self.subscriptions if is_private(s)]
        return self._subscribe_frames(streams) if streams else []

    def connection_lost(self) -> int:
        """The socket ended: deltas were lost with it, so every book must be rebuilt after the
        reconnect.  Returns how many books were synced (and now begin a resync)."""
        self.open = False
        lost = 0
        for managed in self.books.values():
            if managed.sync.book.valid:
                lost += 1
            managed.sync.reset()
            managed.fetching = False
        return lost

    def resubscribe_refused(self) -> list[str]:
        """The frames subscribing again every stream of a refused request (private ones signed
        anew, e.g. after the clock was corrected); the refusals are forgotten: the new requests
        are judged afresh."""
        streams: list[str] = []
        for error in self.refusals.values():
            streams.extend(s for s in sorted(_names(error)) if s in self.subscriptions and s not in streams)
        self.refusals.clear()
        return self._subscribe_frames(streams) if streams and self.open else []

    # ------------------------------------------------------------------ frames (reader thread)
    def receive(self, data: bytes | str, now: float) -> Event | None:
        """One frame in: the typed event to deliver, or ``None`` (a frame of a stream
        unsubscribed while it was in flight).  The hot path: lock-free, only the stream counters
        change.

        Raises:
            ExchangeError: the frame is an error frame (pass it to :meth:`refused` under the
                lock, then report it).
            MalformedFrameError: the frame cannot be decoded (its ``stream`` is set when it
                belongs to a known stream: a book of that stream must be rebuilt).
        """
        stream, payload = parse_frame(data, self._loads)
        if stream is None:
            raise error_from_frame(payload, self._last_request)
        # Counters exist only for subscribed streams (created by subscribe() under the lock);
        # every other name shares one bucket, so a server inventing names cannot grow memory.
        counters = self.counters
        counter = counters.get(stream) or counters[OTHER_STREAMS]
        counter.count += 1
        counter.last = now
        if stream in self._unsubscribed:
            return None  # in flight when UNSUBSCRIBE was sent: the user asked not to get it any more
        return self._decoder.decode_data(stream, payload)

    def refused(self, error: ExchangeError) -> bool:
        """An error frame arrived: if it refuses the last subscription (an unknown stream or
        depth window, a signature refusal), remember it as standing in the way of readiness.
        Returns True when it did."""
        request = self._last_request
        if request is None or request.get("method") != "SUBSCRIBE":
            return False
        if not isinstance(error, (SubscriptionError, AuthenticationError)):
            return False
        streams = [s for s in request.get("params", ()) if s in self.subscriptions]
        if not streams:
            return False
        self.refusals["subscribe " + ",".join(streams)] = error
        return True

    # ------------------------------------------------------------------ books (under the lock)
    def apply_depth(self, managed: ManagedBook, event: Depth, quiet: bool) -> BookResult:
        """Feed one delta to its book.  With ``quiet`` the applied changes are not listed
        (nobody reads them)."""
        if self.books.get(managed.stream) is not managed:
            return BookResult(None)
        try:
            # The event's levels are Decimal pairs (decode._levels): the quiet path may skip checks.
            result = managed.sync.apply_delta(
                event.first_update_id, event.last_update_id, event.bids, event.asks, quiet
            )
        except Exception as exc:  # noqa: BLE001 - a delta the book cannot take invalidates it
            error = exc if isinstance(exc, MalformedFrameError) else MalformedFrameError(
                f"{managed.stream}: depth delta not applicable ({type(exc).__name__}: {exc})",
                stream=managed.stream,
            )
            managed.sync.reset()
            return BookResult(None, resync=True, error=error, fetch=self._fetch(managed))
        if result.action is SyncAction.APPLIED:
            return BookResult(result)
        if result.need_snapshot:
            return BookResult(result, resync=True, error=result.error, fetch=self._fetch(managed))
        if managed.sync.needs_snapshot and not managed.fetching:
            return BookResult(result, fetch=self._fetch(managed))
        return BookResult(result)

    def invalidate(self, stream: str) -> BookResult:
        """A frame of this book's stream could not be decoded: the book is rebuilt from a new
        snapshot (the error itself is reported by the caller)."""
        managed = self.books.get(stream)
        if managed is None:
            return BookResult(None)
        managed.sync.reset()
        return BookResult(None, resync=True, fetch=self._fetch(managed))

    def snapshot_received(self, stream: str, snapshot: DepthSnapshot) -> BookResult:
        """A fetched REST snapshot for the book of ``stream``."""
        managed = self.books.get(stream)
        if managed is None:
            return BookResult(None)
        managed.fetching = False
        result = managed.sync.on_snapshot(snapshot.last_update_id, snapshot.bids, snapshot.asks)
        if result.need_snapshot:
            managed.failures += 1
            return BookResult(result, resync=True, error=result.error, fetch=self._fetch(managed))
        managed.failures = 0
        return BookResult(result)

    def snapshot_failed(self, stream: str) -> FetchSnapshot | None:
        """The REST snapshot for ``stream`` could not be fetched: the retry to schedule."""
        managed = self.books.get(stream)
        if managed is None:
            return None
        managed.fetching = False
        managed.failures += 1
        return self._fetch(managed)

    def _fetch(self, managed: ManagedBook) -> FetchSnapshot | None:
        if managed.fetching:
            return None
        managed.fetching = True
        failures = min(managed.failures, MAX_SNAPSHOT_BACKOFF)
        return FetchSnapshot(managed.stream, managed.symbol, self._backoff_delay(failures) if failures else 0.0)

    # ------------------------------------------------------------------ timers and readiness
    def check(self, now: float, limit: float | None) -> list[StreamSilentError]:
        """Silence alarms: a regularly publishing stream (depth, bookTicker, ticker, markPrice)
        silent for more than ``limit`` seconds is reported once, and again only after it
        delivered since."""
        if not limit:
            return []
        alarms = []
        for stream in self.subscriptions:
            counter = self.counters.get(stream)
            if counter is None or stream_type(stream) not in REGULAR_TYPES:
                continue
            silence = now - max(counter.last, counter.since)
            if stream in self._alerted:
                if silence < limit:
                    self._alerted.discard(stream)  # delivering again: re-arm the alarm
            elif silence > limit:
                self._alerted.add(stream)
                never = counter.last < counter.since
                what = "has not delivered anything" if never else "has been silent"
                alarms.append(
                    StreamSilentError(
                        f"{stream} {what} for {silence:.0f}s (limit {limit:g}s). Backpack sends no error for an "
                        "unknown or closed symbol: check the symbol against GET /api/v1/markets. "
                        "Other streams are unaffected.",
                        stream=stream,
                        silence=silence,
                    )
                )
        return alarms

    def missing(self) -> list[str]:
        """What keeps the connection from being usable: not connected, a regularly publishing
        stream with no frame since it was (re)subscribed, a book not valid yet.  Streams that
        may stay quiet (trades, klines, account streams) count as confirmed once sent: Backpack
        acknowledges nothing, and refuses with an error frame."""
        if not self.open:
            return ["connection"]
        out = []
        for s in self.subscriptions:
            if stream_type(s) in REGULAR_TYPES:
                counter = self.counters.get(s)
                if counter is None or not counter.confirmed:
                    out.append(f"first frame of {s}")
        out.extend(f"book {s}" for s, m in self.books.items() if not m.sync.book.valid)
        if self.private_pending:
            out.append("private streams (signed once the exchange's clock is measured)")
        return out


def _names(error: BpbfxError) -> set[str]:
    """Stream names of the request an error refused."""
    request = getattr(error, "request", None)
    params = request.get("params", ()) if isinstance(request, dict) else ()
    return {p for p in params if isinstance(p, str)}
