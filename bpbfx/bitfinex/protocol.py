"""Bitfinex WebSocket v2 connection state machine, without I/O.

One :class:`BitfinexProtocol` per socket.  Frames go in through :meth:`~BitfinexProtocol.receive`
(with the current monotonic time); typed events come out, and what the transport must carry out
(frames to send, events to deliver, errors to report, reconnect, pause, move or drop a channel)
is queued as typed outputs (:mod:`bpbfx.bitfinex.outputs`) that the client takes with
:meth:`~BitfinexProtocol.take_outputs`.  Nothing here touches a socket or a clock, so the whole
protocol is tested by feeding recorded frames.

Rules implemented (docs/protocols.md, "Bitfinex"):

- ``info`` on connect: version must be 2; platform status 0 means maintenance.
- ``info`` codes: 20051 reconnect; 20060 pause (send nothing, expect silence); 20061
  unsubscribe/resubscribe everything.  Act on ``code``, never on ``msg``.
- ``conf`` flags are sent first on every connect; SEQ_ALL puts a per-socket sequence number
  after the payload (before the TIMESTAMP one); on channel 0 ``[0,TYPE,DATA,PUB_SEQ,AUTH_SEQ]``
  and ``n`` notifications carry no public sequence.
- ``[CHAN,"hb"]`` every 15 s per channel: any frame on a channel resets its watchdog.
- ``subscribed`` is matched to its request by ``subId`` (we send the stream name), falling back
  to the echoed parameters.
- Errors (``{"event":"error"}``) keep the socket open; a refused subscription is dropped (it
  would fail again), 10305 (channel limit) is handed back for another connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .._json import make_loads
from ..events import Event, UnknownEvent, positional_factory
from ..exceptions import (
    AuthenticationError,
    BpbfxError,
    ChecksumMismatchError,
    ConnectionLostError,
    ExchangeError,
    MalformedFrameError,
    RateLimitError,
    RemoteProtocolError,
    SequenceGapError,
    StreamSilentError,
    UnsupportedVersionError,
)
from . import decode as dec
from .auth import Credentials, NonceSource, auth_request, redact
from .book import BitfinexBook
from .channels import Subscription, from_message
from .events import AuthResult, BookUpdate
from .outputs import (
    Authenticated,
    Deliver,
    DropChannel,
    Fatal,
    MoveChannel,
    Output,
    PauseWatchdog,
    Reconnect,
    Report,
    Resynced,
    Send,
)

_new_book_update = positional_factory(BookUpdate)  # (stream, symbol, data, entries, bulk, seq, ts_ms)

__all__ = [
    "BULK_UPDATES",
    "OB_CHECKSUM",
    "SEQ_ALL",
    "TIMESTAMP",
    "BitfinexProtocol",
    "Channel",
]

TIMESTAMP = 32768
SEQ_ALL = 65536
OB_CHECKSUM = 131072
BULK_UPDATES = 536870912

ACCOUNT_STREAM = "account"
_MAX_UNSUBSCRIBING = 1000
_CRC_MIN, _CRC_MAX = -(2**31), 2**31 - 1
_TS_MIN = 10**12  # a millisecond epoch time; sequence numbers never get this large


def _excerpt(value: Any, limit: int = 500) -> str:
    """Short JSON text of a decoded value for error messages (never raises)."""
    try:
        text = json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return text[:limit]


class Channel:
    """A subscribed channel on this socket (reader thread state)."""

    __slots__ = ("chan_id", "sub", "stream", "symbol", "first", "last", "book")

    def __init__(self, chan_id: int, sub: Subscription, now: float, book: BitfinexBook | None = None) -> None:
        self.chan_id = chan_id
        self.book = book
        self.sub = sub
        self.stream = sub.stream
        self.symbol = sub.market_symbol
        self.first = True  # the next data frame is the snapshot
        self.last = now


class BitfinexProtocol:
    """State of one Bitfinex socket.

    Args:
        flags: ``conf`` flags to request (sum of TIMESTAMP, SEQ_ALL, OB_CHECKSUM, BULK_UPDATES).
        credentials: authenticate this socket (channel 0) when given.
        nonce_source: strictly increasing nonces shared by every socket of the same key.
        auth_filter / dms: optional ``filter`` and ``dms`` of the auth request.
        heartbeat_timeout: seconds a channel may go without any frame (Bitfinex sends ``hb``
            every 15 s) before it is reported and resubscribed.
        books: managed books by stream name (shared with the client, which owns them); a
            subscribed book channel whose stream is in it is applied to it and verified against
            every ``cs`` checksum.  After each applied frame :attr:`book_change` holds
            ``(channel, changes, is_snapshot)`` until the next frame.
        adopt_unrequested: accept ``subscribed`` replies that answer no request of this socket
            as channels (for replaying recordings into a bare protocol).  Otherwise such a reply
            is reported and its channel unsubscribed: a live socket only ever holds the channels
            asked for.

    Not thread-safe: the owning client serialises calls (reader thread + a lock for timers).
    """

    def __init__(
        self,
        *,
        flags: int = SEQ_ALL | OB_CHECKSUM,
        credentials: Credentials | None = None,
        nonce_source: NonceSource | None = None,
        auth_filter: Iterable[str] | None = None,
        dms: int | None = None,
        heartbeat_timeout: float = 20.0,
        books: dict[str, BitfinexBook] | None = None,
        adopt_unrequested: bool = False,
    ) -> None:
        self.flags = flags
        self.books: dict[str, BitfinexBook] = books if books is not None else {}
        self.book_change: tuple[Channel, tuple[Any, ...] | list[Any], bool] | None = None
        self.book_changes = True
        """Whether :attr:`book_change` lists the changes of BULK frames; the client clears it
        while nobody reads them (no ``on_book`` hook, no sink), which saves building them."""
        self.checks_passed = 0
        self.credentials = credentials
        self.nonce_source = nonce_source
        self.auth_filter = list(auth_filter) if auth_filter is not None else None
        self.dms = dms
        self.heartbeat_timeout = heartbeat_timeout
        self.subs: dict[Subscription, None] = {}  # desired channels on this socket (ordered)
        self.channels: dict[int, Channel] = {}
        self.pending: dict[str, Subscription] = {}  # subId -> request awaiting `subscribed`
        # subId -> request still in flight whose channel nobody wants any more (unsubscribed
        # before its reply): the reply's channel is dropped server-side as soon as it arrives.
        self.cancelled: dict[str, Subscription] = {}
        self.adopt_unrequested = adopt_unrequested
        self._pending_seen: dict[str, float] = {}  # subId -> first timer tick that saw it pending
        self.unsubscribing: dict[int, None] = {}  # chanIds being dropped (ordered set, bounded)
        self.outbox: list[Output] = []
        """Outputs not taken yet (read it to test for any; :meth:`take_outputs` takes them)."""
        self.open = False
        self.paused = False
        self.authenticated = False
        self.auth_pending = False
        self.info: Any = None
        self.conf_ok: bool | None = None
        self.seq: int | None = None
        self.auth_seq: int | None = None
        # Floats keep their exact text: checksums need it, and Decimal(text) is exact.
        self._loads = make_loads(parse_float=str)
        self._use_seq = bool(flags & SEQ_ALL)
        self._use_ts = bool(flags & TIMESTAMP)
        self._bulk = bool(flags & BULK_UPDATES)

    def take_outputs(self) -> list[Output]:
        """The outputs queued so far, in order; the queue starts empty again.  Call it under the
        same lock as every other method."""
        outputs = self.outbox
        if outputs:
            self.outbox = []
        return outputs

    # ------------------------------------------------------------------ requests
    @property
    def channel_count(self) -> int:
        """Channels this socket holds or has asked for."""
        return len(self.subs)

    @property
    def ready(self) -> bool:
        """Open, every wanted channel subscribed, authenticated if it should be."""
        return (
            self.open
            and not self.pending
            and len(self.channels) >= len(self.subs)
            and (self.credentials is None or self.authenticated)
        )

    def connection_made(self) -> None:
        """Reset per-socket state and queue conf, auth and every subscription."""
        self.open = True
        self.paused = False
        self.channels.clear()
        self.pending.clear()
        self.cancelled.clear()
        self.unsubscribing.clear()
        self.authenticated = False
        self.auth_pending = False
        self.seq = None
        self.auth_seq = None
        self.info = None
        if self.flags:
            self._send({"event": "conf", "flags": self.flags})
        if self.credentials is not None:
            self._authenticate()
        for sub in self.subs:
            self._request(sub)

    def connection_lost(self) -> int:
        """The socket ended: forget server-side state (channels are re-created on connect).
        Books of this socket's channels are emptied and marked invalid until new snapshots.
        Returns how many valid books were lost (each one is rebuilt: a resync)."""
        self.open = False
        self._pending_seen.clear()
        lost = 0
        for chan in self.channels.values():
            if chan.book is not None:
                lost += chan.book.valid
                chan.book.clear()
        self.channels.clear()
        self.pending.clear()
        self.cancelled.clear()
        self.unsubscribing.clear()
        self.authenticated = False
        self.auth_pending = False
        return lost

    def add(self, sub: Subscription) -> None:
        """Want ``sub`` on this socket; the request is queued when open."""
        if sub in self.subs:
            return
        self.subs[sub] = None
        cancelled = self.cancelled.pop(sub.stream, None)
        if cancelled is not None:
            # Its first request is still in flight: wait for that reply instead of sending a
            # second one (which Bitfinex would refuse with 10301 "already subscribed").
            self.pending[sub.stream] = cancelled
            return
        if self.open and not self.paused:
            self._request(sub)

    def remove(self, sub: Subscription) -> bool:
        """Stop wanting ``sub``; queues an unsubscribe if it is live. False if unknown."""
        if sub not in self.subs:
            return False
        del self.subs[sub]
        in_flight = self.pending.pop(sub.stream, None)
        if in_flight is not None:
            # The `subscribed` reply may still come: its channel is dropped when it does.
            self.cancelled[sub.stream] = in_flight
        for chan in list(self.channels.values()):
            if chan.sub == sub:
                self._drop_channel(chan.chan_id)
                del self.channels[chan.chan_id]
        return True

    def _drop_channel(self, chan_id: int) -> None:
        """Unsubscribe a channel server-side; its in-flight frames are ignored meanwhile."""
        unsubscribing = self.unsubscribing
        unsubscribing[chan_id] = None
        while len(unsubscribing) > _MAX_UNSUBSCRIBING:
            del unsubscribing[next(iter(unsubscribing))]
        if self.open:
            self._send({"event": "unsubscribe", "chanId": chan_id})

    def resubscribe(self, chan: Channel) -> None:
        """Drop a channel server-side and ask for it again (a fresh snapshot follows)."""
        if self.channels.pop(chan.chan_id, None) is None:
            return
        if chan.book is not None:
            chan.book.clear()
        if self.open and not self.paused:
            self._drop_channel(chan.chan_id)
            self._request(chan.sub)
        else:
            self.unsubscribing[chan.chan_id] = None

    def resubscribe_all(self) -> None:
        """Unsubscribe and subscribe every channel again (Bitfinex 20061)."""
        for chan in list(self.channels.values()):
            self.resubscribe(chan)
        for sub in self.subs:
            if sub.stream not in self.pending and not any(c.sub == sub for c in self.channels.values()):
                self._request(sub)

    def ping(self, cid: int) -> None:
        """Queue an application-level ping (answered by ``pong`` with the same cid)."""
        self._send({"event": "ping", "cid": cid})

    def _request(self, sub: Subscription) -> None:
        self.pending[sub.stream] = sub
        self._send(sub.request(sub.stream))

    def _authenticate(self) -> None:
        assert self.credentials is not None and self.nonce_source is not None
        self.auth_pending = True
        self._send(
            auth_request(self.credentials, self.nonce_source.next(), filter=self.auth_filter, dms=self.dms)
        )

    def _send(self, frame: dict[str, Any]) -> None:
        self.outbox.append(Send(json.dumps(frame, separators=(",", ":"))))

    # ------------------------------------------------------------------ timers
    def check(self, now: float) -> None:
        """Heartbeat watchdog: report and resubscribe channels silent for too long; replace
        the socket when a subscribe request got no answer at all (a reply lost on the way
        would otherwise leave the channel missing forever)."""
        if self.paused or not self.open:
            self._pending_seen.clear()
            return
        limit = self.heartbeat_timeout
        seen = self._pending_seen
        for sub_id in list(seen):
            if sub_id not in self.pending:
                del seen[sub_id]
        for sub_id in self.pending:
            since = seen.setdefault(sub_id, now)
            if now - since > limit:
                seen.clear()
                self.outbox.append(
                    Reconnect(
                        StreamSilentError(
                            f"{sub_id}: no reply to the subscribe request within {limit:g}s; reconnecting",
                            stream=sub_id,
                            silence=now - since,
                        ),
                    )
                )
                return
        for chan in list(self.channels.values()):
            silence = now - chan.last
            if silence > limit:
                chan.last = now
                self.outbox.append(
                    Report(
                        StreamSilentError(
                            f"{chan.stream}: no data or heartbeat for {silence:.1f}s (Bitfinex sends a heartbeat "
                            f"every 15s; limit {limit:g}s); resubscribing the channel",
                            stream=chan.stream,
                            silence=silence,
                        ),
                    )
                )
                self.outbox.append(Resynced(chan))
                self.resubscribe(chan)

    # ------------------------------------------------------------------ frames
    def receive(self, data: bytes | str, now: float) -> Event | None:
        """Decode one frame.  Returns the data event to deliver (or ``None``); control
        results are queued as outputs (:meth:`take_outputs`).

        Raises:
            MalformedFrameError: not JSON or an unexpected shape.
        """
        self.book_change = None
        try:
            msg = self._loads(data)
        except ValueError as exc:
            raise MalformedFrameError(f"frame is not JSON ({exc}): {data[:200]!r}", frame=data[:500]) from exc
        if type(msg) is list:
            return self._array(msg, now)
        if type(msg) is dict:
            self._event(msg, now)
            return None
        raise MalformedFrameError(f"unexpected frame: {data[:200]!r}", frame=data[:500])

    def _array(self, msg: list[Any], now: float) -> Event | None:
        n = len(msg)
        if n < 2:
            raise MalformedFrameError(f"array frame too short: {_excerpt(msg)}", frame=_excerpt(msg))
        chan_id = msg[0]
        if chan_id.__class__ is not int:
            raise MalformedFrameError(
                f"channel id must be an integer, got {_excerpt(chan_id, 60)}: {_excerpt(msg, 200)}", frame=_excerpt(msg)
            )
        second = msg[1]
        if type(second) is str:
            msg_type: str | None = second
            if second == "hb":
                payload: Any = None
                rest = 2
            else:
                payload = msg[2] if n > 2 else None
                rest = 3
        else:
            msg_type = None
            payload = second
            rest = 2
        ts_ms: int | None = None
        seq: int | None = None
        auth_seq: int | None = None
        if rest == n - 1 and chan_id != 0 and self._use_seq and not self._use_ts:
            # The usual public frame with SEQ_ALL: one trailing sequence number.
            seq = msg[rest]
            if seq.__class__ is not int:
                raise MalformedFrameError(
                    f"sequence number must be an integer, got {_excerpt(seq, 60)}: {_excerpt(msg, 200)}",
                    frame=_excerpt(msg),
                )
            self._check_seq(seq)
        elif rest < n:
            tail = msg[rest:]
            last = tail[-1]
            if self._use_ts and type(last) is int and last > _TS_MIN:
                ts_ms = last
                tail = tail[:-1]
            if self._use_seq and tail:
                for number in tail[:2]:
                    if number.__class__ is not int:
                        raise MalformedFrameError(
                            f"sequence number must be an integer, got {_excerpt(number, 60)}: {_excerpt(msg, 200)}",
                            frame=_excerpt(msg),
                        )
                if chan_id != 0 or msg_type == "hb":
                    seq = tail[0]
                    self._check_seq(seq)
                elif len(tail) >= 2:
                    # Bitfinex SEQ_ALL on channel 0: [0,TYPE,DATA,PUB_SEQ,AUTH_SEQ].
                    seq, auth_seq = tail[0], tail[1]
                    self._check_seq(seq)
                    if msg_type != "n":
                        # Notifications' auth numbers do not advance, so they are left out of
                        # the audit (bitfinex-api-node PR #429 "Ignore Notification Auth Seq
                        # Numbers"); a false gap here would replace the trading socket.
                        self._check_auth_seq(auth_seq)
                else:
                    # Notifications answering a request carry one number; versions of the official
                    # clients disagree on which counter it is (docs/protocols.md, "Bitfinex:
                    # sequence numbers"), so it is matched against both and never reported as a
                    # gap by itself.
                    single = tail[0]
                    if self.seq is not None and single == self.seq + 1:
                        seq = self.seq = single
                    elif self.auth_seq is None or single == self.auth_seq + 1:
                        auth_seq = self.auth_seq = single
        if chan_id == 0:
            if msg_type == "hb":
                return dec.heartbeat(ACCOUNT_STREAM, None, seq, ts_ms)
            if msg_type is None:
                raise MalformedFrameError(f"channel 0 frame without a type: {_excerpt(msg, 200)}", frame=_excerpt(msg))
            return dec.decode_account(msg_type, payload, seq=seq, ts_ms=ts_ms, auth_seq=auth_seq)
        chan = self.channels.get(chan_id)
        if chan is None:
            if chan_id in self.unsubscribing:
                return None  # in-flight data of a channel being dropped
            if msg_type == "hb":
                # Seen on the wire (cryptofeed recording): heartbeats of a channel can arrive
                # seconds before its `subscribed` event.
                return dec.heartbeat(f"chanId:{chan_id}", None, seq, ts_ms)
            return UnknownEvent(stream=f"chanId:{chan_id}", symbol=None, data=msg)
        chan.last = now
        if msg_type == "hb":
            return dec.heartbeat(chan.stream, chan.symbol, seq, ts_ms)
        if msg_type == "cs":
            if chan.book is not None:
                self._verify(chan, payload)
            return dec.checksum(chan.stream, chan.symbol, payload, seq, ts_ms)
        first = chan.first
        chan.first = False
        book = chan.book
        if book is None:
            return dec.decode_channel(chan.sub, msg_type, payload, first=first, seq=seq, ts_ms=ts_ms)
        try:
            if (
                msg_type is None
                and not first
                and payload.__class__ is list
                and payload
                and payload[0].__class__ is list
                and not (book.is_raw or book.is_funding)
            ):
                # A BULK_UPDATES frame of a trading P book: decoded and applied in one pass.
                entries, changes = book.decode_apply_bulk(payload, seq=seq, changes=self.book_changes)
                self.book_change = (chan, changes, False)
                return _new_book_update(chan.stream, chan.symbol, payload, entries, True, seq, ts_ms)
            event = dec.decode_channel(chan.sub, msg_type, payload, first=first, seq=seq, ts_ms=ts_ms)
            if msg_type is None:
                self._apply_book(chan, book, payload, first, seq)
        except Exception as exc:
            # A book frame that cannot be decoded or applied leaves the book unknown: it is
            # invalidated and rebuilt from a fresh snapshot; the frame is reported once.
            self.outbox.append(Resynced(chan))
            self.resubscribe(chan)
            if isinstance(exc, MalformedFrameError):
                raise
            raise MalformedFrameError(
                f"{chan.stream}: book frame not applicable ({type(exc).__name__}: {exc}); resubscribing",
                frame=_excerpt(msg),
                stream=chan.stream,
            ) from exc
        return event

    def _apply_book(self, chan: Channel, book: BitfinexBook, payload: Any, first: bool, seq: int | None) -> None:
        """Apply a book frame to its managed book (Bitfinex: first frame is the snapshot; with
        BULK_UPDATES a later list of entries is a batch of updates).

        Raises:
            MalformedFrameError: an entry is not valid (the book is left invalid).
        """
        if first:
            book.apply_snapshot(payload, seq=seq)
            self.book_change = (chan, (), True)
        elif payload and type(payload[0]) is list:
            self.book_change = (chan, book.apply_bulk(payload, seq=seq), False)
        else:
            if seq is None:
                book.book.update_id = (book.book.update_id or 0) + 1
            self.book_change = (chan, book.apply_update(payload, seq=seq), False)

    def _verify(self, chan: Channel, payload: Any) -> None:
        """Check a ``[CHAN,"cs",CHECKSUM]`` frame against the local book; on a mismatch
        report it and resubscribe the channel to rebuild the book from a new snapshot.

        Raises:
            MalformedFrameError: the checksum is not a signed 32-bit integer; the book cannot be
                verified, so it is resubscribed too.
        """
        book = chan.book
        assert book is not None
        if payload.__class__ is not int or not _CRC_MIN <= payload <= _CRC_MAX:
            self.outbox.append(Resynced(chan))
            self.resubscribe(chan)
            raise MalformedFrameError(
                f"{chan.stream}: checksum must be a signed 32-bit integer, got {_excerpt(payload, 60)}; "
                "resubscribing",
                frame=_excerpt(payload),
                stream=chan.stream,
            )
        if not book.valid:
            return  # already being rebuilt
        try:
            book.verify(payload)
        except ChecksumMismatchError as exc:
            exc.message = f"{exc.message}; resubscribing {chan.stream} for a fresh snapshot"
            exc.args = (exc.message,)
            self.outbox.append(Report(exc))
            self.outbox.append(Resynced(chan))
            self.resubscribe(chan)
        else:
            self.checks_passed += 1

    def _check_seq(self, seq: int) -> None:
        last = self.seq
        self.seq = seq
        if last is not None and seq != last + 1:
            err = SequenceGapError(
                f"sequence gap on this connection: expected {last + 1}, got {seq}; resynchronising the connection",
                symbol="*",
                expected=last + 1,
                got=seq,
            )
            self.outbox.append(Reconnect(err))

    def _check_auth_seq(self, auth_seq: int) -> None:
        """The account channel's own counter: a gap means account updates were lost, so the
        socket is replaced and re-authenticated (fresh ``os``/``ws``/``ps`` snapshots follow)."""
        last = self.auth_seq
        self.auth_seq = auth_seq
        if last is not None and auth_seq != last + 1:
            err = SequenceGapError(
                f"account (auth) sequence gap: expected {last + 1}, got {auth_seq}; re-authenticating the connection",
                symbol="*",
                expected=last + 1,
                got=auth_seq,
                stream=ACCOUNT_STREAM,
            )
            self.outbox.append(Reconnect(err))

    def _event(self, msg: dict[str, Any], now: float) -> None:
        kind = msg.get("event")
        if kind == "info":
            self._info(msg)
        elif kind == "subscribed":
            self._subscribed(msg, now)
        elif kind == "unsubscribed":
            event = dec.decode_event(msg)  # raises MalformedFrameError for a chanId that is not an integer
            self.unsubscribing.pop(msg["chanId"], None)
            self.outbox.append(Deliver(event))
        elif kind == "error":
            self._error(msg)
        elif kind == "auth":
            self._auth(msg)
        elif kind == "conf":
            self.conf_ok = msg.get("status") == "OK"
            if not self.conf_ok:
                self.outbox.append(
                    Report(ExchangeError(f"Bitfinex refused conf flags {self.flags}: {msg}", payload=msg))
                )
            self.outbox.append(Deliver(dec.decode_event(msg)))
        elif kind == "pong":
            self.outbox.append(Deliver(dec.decode_event(msg)))
        else:
            self.outbox.append(Deliver(UnknownEvent(stream="events", symbol=None, data=msg)))

    def _info(self, msg: dict[str, Any]) -> None:
        code = msg.get("code")
        event = dec.decode_event(msg)
        if code is None and "version" in msg:
            self.info = msg
            version = msg.get("version")
            self.outbox.append(Deliver(event))
            if version != 2:
                self.outbox.append(
                    Fatal(
                        UnsupportedVersionError(
                            f"server speaks Bitfinex WebSocket API version {version!r}; this client supports "
                            "version 2 only (wss://api-pub.bitfinex.com/ws/2)",
                            version=version,
                        ),
                    )
                )
                return
            platform = msg.get("platform")
            status = platform.get("status") if type(platform) is dict else None
            if status == 0:
                self.paused = True
                self.outbox.append(PauseWatchdog(True))
                self.outbox.append(
                    Report(ExchangeError("Bitfinex platform is in maintenance (status 0)", payload=msg))
                )
            return
        self.outbox.append(Deliver(event))
        if code == 20051:  # server restarting: reconnect
            self.outbox.append(
                Reconnect(ConnectionLostError("Bitfinex asked to reconnect (20051: server restarting)"))
            )
        elif code == 20060:  # maintenance start: stop sending, expect silence
            self.paused = True
            self.outbox.append(PauseWatchdog(True))
        elif code == 20061:  # maintenance end: unsubscribe/resubscribe everything
            self.paused = False
            self.outbox.append(PauseWatchdog(False))
            for chan in list(self.channels.values()):
                self.outbox.append(Resynced(chan))
            self.resubscribe_all()

    def _subscribed(self, msg: dict[str, Any], now: float) -> None:
        chan_id = msg.get("chanId")
        if chan_id.__class__ is not int:
            raise MalformedFrameError(f"subscribed event without an integer chanId: {_excerpt(msg, 200)}")
        sub_id = msg.get("subId")
        sub = self._match(self.pending, sub_id, msg)
        if sub is None:
            cancelled = self._match(self.cancelled, sub_id, msg)
            if cancelled is not None:
                # Unsubscribed while the request was in flight: drop the new channel at once.
                self._drop_channel(chan_id)
                return
            sub = self._unrequested(msg, chan_id)
            if sub is None:
                return
        book = self.books.get(sub.stream)
        if book is not None:
            book.clear()  # invalid until this channel's snapshot arrives
        self.channels[chan_id] = Channel(chan_id, sub, now, book)
        self.outbox.append(Deliver(dec.decode_event(msg)))

    @staticmethod
    def _match(requests: dict[str, Subscription], sub_id: Any, msg: dict[str, Any]) -> Subscription | None:
        """Pop the request a reply answers: by ``subId`` (we send the stream name), else by the
        echoed parameters."""
        if type(sub_id) is str:
            sub = requests.pop(sub_id, None)
            if sub is not None:
                return sub
        for key, candidate in requests.items():
            if candidate.matches(msg):
                return requests.pop(key)
        return None

    def _unrequested(self, msg: dict[str, Any], chan_id: int) -> Subscription | None:
        """A ``subscribed`` reply that answers no request of this socket.

        It becomes a channel only if it is one this socket wants but holds no channel for (a
        replayed recording, or ``adopt_unrequested``); otherwise it is reported and the channel
        it created server-side is unsubscribed, so it never turns into a subscription."""
        try:
            sub = from_message(msg)
        except BpbfxError:
            sub = None
        if sub is not None:
            held = {c.sub for c in self.channels.values()}
            if (sub in self.subs and sub not in held) or (self.adopt_unrequested and sub not in held):
                return sub
        self._drop_channel(chan_id)
        self.outbox.append(
            Report(
                RemoteProtocolError(
                    f"subscribed reply for chanId {chan_id} answers no request of this connection "
                    f"({_excerpt(msg, 160)}); unsubscribing it",
                    stream=sub.stream if sub is not None else None,
                ),
            )
        )
        return None

    def _error(self, msg: dict[str, Any]) -> None:
        sub_id = msg.get("subId")
        sub = None
        if type(sub_id) is str or msg.get("channel") is not None:
            sub = self._match(self.pending, sub_id, msg)
            if sub is None:
                self._match(self.cancelled, sub_id, msg)  # refused after it was cancelled: nothing to undo
        request = sub.request(sub.stream) if sub is not None else None
        err = dec.error_from_event(msg, request)
        self.outbox.append(Report(err))  # reported before the client acts on it
        if sub is not None:
            if isinstance(err, RateLimitError):
                # 10305: this socket is full; the client places the channel on another one.
                self.subs.pop(sub, None)
                self.outbox.append(MoveChannel(sub))
            elif err.code == 10301:
                pass  # already subscribed server-side: keep wanting it
            else:
                self.subs.pop(sub, None)  # it would fail again on every reconnect
                self.outbox.append(DropChannel(sub, err))

    def _auth(self, msg: dict[str, Any]) -> None:
        self.auth_pending = False
        event = dec.decode_event(msg)
        if msg.get("status") == "OK":
            self.authenticated = True
            if isinstance(event, AuthResult):
                self.outbox.append(Authenticated(event))
            self.outbox.append(Deliver(event))
            return
        code = msg.get("code")
        text = msg.get("msg", "")
        hint = {
            10114: (
                "nonce too small: Bitfinex has already seen a larger nonce for this API key, from another "
                "program or process using the same key, or from before this machine's clock was set back "
                "(this client's nonces only ever increase); give each program its own API key"
            ),
            10100: "API key or signature refused: check BITFINEX_API_KEY / BITFINEX_API_SECRET",
            10111: "invalid auth payload",
            10112: "invalid signature",
            10113: "invalid auth payload",
        }.get(code if isinstance(code, int) else -1, "")
        err = AuthenticationError(
            f"Bitfinex authentication failed ({code}: {text})" + (f": {hint}" if hint else ""),
            code=code if isinstance(code, int) else None,
            request=redact(self._last_auth_request()) if self.credentials is not None else None,
            payload=msg,
        )
        self.outbox.append(Deliver(event))
        self.outbox.append(Report(err))

    def _last_auth_request(self) -> dict[str, Any]:
        assert self.credentials is not None
        return {"event": "auth", "apiKey": self.credentials.api_key}

