"""``BackpackClient``: Backpack Exchange streams over one reconnecting WebSocket."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from ..backoff import Backoff
from ..base import BaseClient, CloseHook, ErrorHook, MessageHook, OpenHook, PingHook, ReconnectHook, unique
from ..exceptions import CredentialsError, MalformedFrameError, StreamSilentError
from ..transport import Connection
from . import protocol
from .auth import DEFAULT_WINDOW_MS, MAX_WINDOW_MS, Signer, load_credentials

__all__ = ["BackpackClient"]

DEFAULT_URL = "wss://ws.backpack.exchange"
DEFAULT_REST_URL = "https://api.backpack.exchange"


class BackpackClient(BaseClient):
    """Streams from Backpack Exchange, delivered as typed events to your callbacks.

    Args:
        url: WebSocket endpoint (the simulator's ``sim.url`` in tests).
        streams: streams to subscribe on start (same as calling :meth:`subscribe`).
        on_message: ``(client, event)`` for every event (reader thread).
        on_error: ``(client, exc)`` for every problem (reader or watchdog thread).
        on_ping: ``(client, payload)`` when the server pings (every 60 s on Backpack).
        on_open / on_close / on_reconnect: connection lifecycle (reader thread).
        api_key / api_secret: base64 ED25519 verifying key and seed for ``account.*`` streams.
            When omitted they are read, on the first private subscription, from
            ``BACKPACK_PUBLIC_KEY``/``BACKPACK_SECRET_KEY`` (or ``PUBLIC_KEY``/``SECRET_KEY``)
            in the environment or a ``.env`` file.
        window_ms: signature validity window, 1..60000 ms.
        backoff: reconnect policy (:class:`~bpbfx.Backoff`).
        silence_timeout: seconds without any frame (data or the server's 60 s ping) before the
            connection is replaced.
        stream_timeout: seconds a regularly publishing stream (depth, bookTicker, ticker,
            markPrice) may stay silent before :class:`StreamSilentError` is reported once
            (Backpack is silent, with no error, for unknown symbols); ``None`` disables it.
        connect_timeout: seconds a handshake may take.
        rest_url: REST base URL used to fetch order book snapshots.

    Raises:
        CredentialsError: malformed keys (the message never contains the secret).
        ConfigurationError / InvalidStreamError: invalid arguments or stream names.
    """

    exchange = "backpack"

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        streams: Iterable[str] = (),
        on_message: MessageHook | None = None,
        on_error: ErrorHook | None = None,
        on_ping: PingHook | None = None,
        on_open: OpenHook | None = None,
        on_close: CloseHook | None = None,
        on_reconnect: ReconnectHook | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        window_ms: int = DEFAULT_WINDOW_MS,
        backoff: Backoff | None = None,
        silence_timeout: float | None = 90.0,
        stream_timeout: float | None = 60.0,
        connect_timeout: float = 10.0,
        rest_url: str = DEFAULT_REST_URL,
        name: str | None = None,
    ) -> None:
        super().__init__(
            on_message=on_message,
            on_error=on_error,
            on_ping=on_ping,
            on_open=on_open,
            on_close=on_close,
            on_reconnect=on_reconnect,
            backoff=backoff,
            name=name,
        )
        if not isinstance(window_ms, int) or not 0 < window_ms <= MAX_WINDOW_MS:
            from ..exceptions import ConfigurationError

            raise ConfigurationError(f"window_ms must be an integer from 1 to {MAX_WINDOW_MS}, got {window_ms!r}")
        self.url = url
        self.rest_url = rest_url.rstrip("/")
        self.window_ms = window_ms
        self.silence_timeout = silence_timeout
        self.stream_timeout = stream_timeout
        self.connect_timeout = connect_timeout
        self._signer: Signer | None = None
        if api_secret is not None or api_key is not None:
            if not api_secret:
                raise CredentialsError("api_key given without api_secret")
            self._signer = Signer(api_secret, api_key or None, window_ms=window_ms)
        self._subscriptions: dict[str, None] = {}  # ordered set of active streams
        self._alerted: set[str] = set()
        self._last_request: dict[str, Any] | None = None
        self._decoder = protocol.FrameDecoder()
        self._conn: Connection | None = None
        if streams:
            self.subscribe(*streams)

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("ready" if self.ready else "not ready")
        return f"<BackpackClient {self.url} streams={len(self._subscriptions)} {state}>"

    # ------------------------------------------------------------------ public API
    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Active stream names, in subscription order."""
        return tuple(self._subscriptions)

    def subscribe(self, *streams: str) -> None:
        """Subscribe to ``streams`` (before or after :meth:`start`; any thread).

        All names are validated before anything is sent; public streams go in one frame,
        ``account.*`` streams in one signed frame.  Already active streams are ignored.

        Raises:
            InvalidStreamError: a name is invalid (the message says what is valid).
            CredentialsError: an ``account.*`` stream without usable keys.
            ClientClosedError: the client is closed.
        """
        names = unique(protocol.validate_stream(s) for s in streams)
        if any(protocol.is_private(s) for s in names):
            self._ensure_signer()
        with self._lock:
            self._check_open()
            new = [s for s in names if s not in self._subscriptions]
            now = time.monotonic()
            for s in new:
                self._subscriptions[s] = None
                self._stream_counter(s).since = now
                self._alerted.discard(s)
            conn = self._conn
        if new and conn is not None:
            self._send_subscribe(conn, new)

    def unsubscribe(self, *streams: str) -> None:
        """Stop ``streams`` (any thread); unknown names are ignored.

        Raises:
            InvalidStreamError: a name is invalid.
        """
        names = unique(protocol.validate_stream(s) for s in streams)
        with self._lock:
            gone = [s for s in names if s in self._subscriptions]
            for s in gone:
                del self._subscriptions[s]
            conn = self._conn
        if gone and conn is not None:
            conn.send(protocol.encode(protocol.unsubscribe_frame(gone)))

    # ------------------------------------------------------------------ internals
    def _check_open(self) -> None:
        if self.closed:
            from ..exceptions import ClientClosedError

            raise ClientClosedError("BackpackClient is closed; create a new one")

    def _ensure_signer(self) -> Signer:
        if self._signer is None:
            creds = load_credentials()
            if creds is None:
                raise CredentialsError(
                    "account.* streams need API keys: pass api_key=/api_secret= or set BACKPACK_PUBLIC_KEY and "
                    "BACKPACK_SECRET_KEY (or PUBLIC_KEY and SECRET_KEY) in the environment or a .env file"
                )
            key, secret = creds
            try:
                self._signer = Signer(secret, key or None, window_ms=self.window_ms)
            except CredentialsError as exc:
                raise CredentialsError(f"{exc.message} (keys read from the environment / .env)") from None
        return self._signer

    def _send_subscribe(self, conn: Connection, streams: list[str]) -> None:
        for frame in protocol.subscribe_frames(streams, self._signer):
            # Keep the request (without its signature) to explain a later error frame.
            self._last_request = {k: v for k, v in frame.items() if k != "signature"}
            conn.send(protocol.encode(frame))

    def _on_start(self) -> None:
        self._conn = self._new_connection(
            self.url,
            silence_timeout=self.silence_timeout,
            connect_timeout=self.connect_timeout,
            timer_interval=min(1.0, (self.stream_timeout or 4.0) / 4),
        )

    def _handle_open(self, conn: Connection) -> None:
        with self._lock:
            streams = list(self._subscriptions)
            now = time.monotonic()
            for s in streams:
                self._stream_counter(s).since = now
        if streams:
            # Every (re)connect re-sends every subscription; private ones are re-signed with a
            # fresh timestamp (Backpack: the signature window is checked per SUBSCRIBE).
            self._send_subscribe(conn, streams)
        self._ready.set()

    def _handle_frame(self, conn: Connection, data: bytes) -> None:
        try:
            msg = json.loads(data)
        except ValueError as exc:
            self._report(MalformedFrameError(f"frame is not JSON ({exc}): {data[:200]!r}", frame=data[:500]))
            return
        if type(msg) is dict:
            stream = msg.get("stream")
            if stream is not None:
                counter = self._streams.get(stream) or self._stream_counter(stream)
                counter.count += 1
                counter.last = conn.last_frame_at
                try:
                    event = self._decoder.decode_data(stream, msg.get("data"))
                except MalformedFrameError as exc:
                    self._report(exc)
                    return
                self._deliver(event)
                return
            if "error" in msg:
                self._report(protocol.error_from_frame(msg["error"], self._last_request))
                return
        self._report(MalformedFrameError(f"unexpected frame (no stream, no error): {data[:200]!r}", frame=data[:500]))

    def _handle_timer(self, conn: Connection, now: float) -> None:
        limit = self.stream_timeout
        if not limit:
            return
        with self._lock:
            streams = list(self._subscriptions)
        for stream in streams:
            counter = self._streams.get(stream)
            if counter is None or protocol.stream_type(stream) not in protocol.REGULAR_TYPES:
                continue
            silence = now - max(counter.last, counter.since)
            if stream in self._alerted:
                if silence < limit:
                    self._alerted.discard(stream)  # delivering again: re-arm the alarm
            elif silence > limit:
                self._alerted.add(stream)
                never = counter.last < counter.since
                what = "has not delivered anything" if never else "has been silent"
                self._report(
                    StreamSilentError(
                        f"{stream} {what} for {silence:.0f}s (limit {limit:g}s). Backpack sends no error for an "
                        "unknown or closed symbol: check the symbol against GET /api/v1/markets. "
                        "Other streams are unaffected.",
                        stream=stream,
                        silence=silence,
                    )
                )
