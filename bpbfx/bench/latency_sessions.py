"""The server side of the tick-to-order benchmark's WebSocket sessions, one class per venue.

:class:`BitfinexSession` and :class:`BackpackSession` answer what a trading client sends and
build the frames its :class:`~bpbfx.bench.latency_run.Run` asks for (background, triggers,
heartbeats); what they say comes from :mod:`bpbfx.bench.latency_wire`.  Used on the server's one
thread; writes are blocking ``sendall`` calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from typing import TYPE_CHECKING, Any

from .harness import ws_frame
from .latency_bare import signing_text
from .latency_inbox import Request
from .latency_wire import (
    BF_BOOK_CHAN,
    BF_TRADES_CHAN,
    BP_DEPTH,
    BP_TRADE,
    SEQ_ALL,
    BitfinexBook,
    bf_auth_ok,
    bf_info,
    bf_order_reply,
    bf_te,
    bf_trades_snapshot,
    bf_trigger,
    bf_trigger_index,
    bp_depth,
    bp_trade,
    bp_trigger,
)

if TYPE_CHECKING:
    from .latency_run import Run

__all__ = ["BackpackSession", "BitfinexSession", "WsSession", "verify_backpack"]

_HEARTBEAT_NS = 15 * 10**9  # Bitfinex: a quiet channel gets [CHAN,"hb"] every 15 s


class WsSession:
    """The server side of one WebSocket connection of a venue."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.run: Run | None = None

    def write(self, data: bytes) -> None:
        """Write now (blocking)."""
        self.sock.sendall(data)

    def message(self, text: bytes, first: int, last: int) -> None:
        """One text frame from the client."""
        raise NotImplementedError

    def background(self, i: int) -> bytes:
        """Background frame ``i``."""
        raise NotImplementedError

    def trigger(self, k: int) -> bytes:
        """The frame of trigger ``k``."""
        raise NotImplementedError

    def next_heartbeat(self) -> int:
        """When a heartbeat is due next (ns)."""
        return 2**62

    def heartbeats(self, now: int) -> None:
        """Send the heartbeats due."""


class BitfinexSession(WsSession):
    """Bitfinex: info, conf, auth, subscribe, the trades and book channels, heartbeats, and
    the answers to ``on`` inputs; SEQ_ALL numbers when asked for."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.flags = 0
        self.seq = 0
        self.auth_seq = 0
        self.channels: dict[str, int] = {}
        self.book = BitfinexBook()
        self.last: dict[int, int] = {}
        self.order_id = 50_000_000
        self._checksum = ""  # the cs frame that follows the book update just sent
        self.write(ws_frame(bf_info()))

    def _array(self, chan: int, body: str) -> bytes:
        self.last[chan] = time.perf_counter_ns()
        if self.flags & SEQ_ALL:
            self.seq += 1
            return ws_frame(f"[{chan},{body},{self.seq}]".encode())
        return ws_frame(f"[{chan},{body}]".encode())

    def _channel0(self, kind: str, data: str, reply: bool = False) -> bytes:
        # Bitfinex SEQ_ALL on channel 0: [0,TYPE,DATA,PUB_SEQ,AUTH_SEQ]; a notification answering
        # a request carries only the (unchanged) AUTH_SEQ.
        text = f'[0,"{kind}",{data}'
        if self.flags & SEQ_ALL:
            if reply:
                text += f",{self.auth_seq}"
            else:
                self.seq += 1
                self.auth_seq += 1
                text += f",{self.seq},{self.auth_seq}"
        return ws_frame((text + "]").encode())

    def message(self, text: bytes, first: int, last: int) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if isinstance(msg, list):
            if len(msg) >= 4 and msg[0] == 0 and msg[1] == "on" and isinstance(msg[3], dict):
                self._order(msg[3], first, last)
            return
        if not isinstance(msg, dict):
            return
        event = msg.get("event")
        if event == "conf":
            self.flags = int(msg.get("flags") or 0)
            self.write(ws_frame(json.dumps({"event": "conf", "status": "OK", "flags": self.flags}).encode()))
        elif event == "auth":
            self._auth(msg)
        elif event == "subscribe":
            self._subscribe(msg)
        elif event == "ping":
            self.write(ws_frame(json.dumps({"event": "pong", "ts": time.time_ns() // 10**6, "cid": msg.get("cid")})
                                .encode()))

    def _auth(self, msg: dict[str, Any]) -> None:
        run = self.run
        secret = run.spec.api_secret if run is not None else ""
        payload = str(msg.get("authPayload", ""))
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha384).hexdigest()
        if not hmac.compare_digest(expected, str(msg.get("authSig", ""))) or not payload.startswith("AUTH"):
            self.write(ws_frame(b'{"event":"auth","status":"FAILED","chanId":0,"code":10100,"msg":"apikey: invalid"}'))
            return
        if run is not None:
            run.result.signature = "auth HMAC verified"
        self.write(ws_frame(bf_auth_ok()))
        for kind in ("ps", "ws", "os"):
            self.write(self._channel0(kind, "[]"))
        self.last.setdefault(0, time.perf_counter_ns())  # channel 0's heartbeats from now on

    def _subscribe(self, msg: dict[str, Any]) -> None:
        channel = msg.get("channel")
        chan = BF_TRADES_CHAN if channel == "trades" else BF_BOOK_CHAN
        reply: dict[str, Any] = {"event": "subscribed", "channel": channel, "chanId": chan,
                                 "symbol": msg.get("symbol", "tBTCUSD"), "pair": "BTCUSD"}
        if channel == "book":
            reply.update(prec=msg.get("prec", "P0"), freq=msg.get("freq", "F0"), len=str(msg.get("len", "25")))
        if "subId" in msg:
            reply["subId"] = msg["subId"]
        self.write(ws_frame(json.dumps(reply).encode()))
        mts = time.time_ns() // 10**6
        if chan == BF_TRADES_CHAN:
            self.write(self._array(chan, bf_trades_snapshot(mts)))
        else:
            self.write(self._array(chan, self.book.snapshot))
        self.channels[str(channel)] = chan
        run = self.run
        if len(self.channels) == 2 and run is not None:
            if run.session is None:
                run.attach(self)
            if run.session is self:
                run.streaming(time.perf_counter_ns())

    def _order(self, payload: dict[str, Any], first: int, last: int) -> None:
        if self.run is not None:
            self.run.order(bf_trigger_index(payload.get("price")), first, last)
        self.order_id += 1
        note, row = bf_order_reply(payload, self.order_id, time.time_ns() // 10**6)
        self.write(self._channel0("n", note, reply=True) + self._channel0("on", row))

    def background(self, i: int) -> bytes:
        kind = i % 3
        if kind == 0:
            return self._array(BF_TRADES_CHAN, bf_te(i, time.time_ns() // 10**6))
        if kind == 1:
            update, self._checksum = self.book.next_update()
            return self._array(BF_BOOK_CHAN, update)
        return self._array(BF_BOOK_CHAN, self._checksum)

    def trigger(self, k: int) -> bytes:
        return self._array(BF_TRADES_CHAN, bf_te(10**7 + k, time.time_ns() // 10**6, bf_trigger(k)))

    def next_heartbeat(self) -> int:
        return min(self.last.values(), default=2**62 - _HEARTBEAT_NS) + _HEARTBEAT_NS

    def heartbeats(self, now: int) -> None:
        for chan, at in list(self.last.items()):
            if now - at >= _HEARTBEAT_NS:
                self.write(self._array(chan, '"hb"'))


class BackpackSession(WsSession):
    """Backpack: SUBSCRIBE (public and signed), ``trade`` frames and ``depth`` deltas."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.streams: set[str] = set()
        self.depth = 0

    def message(self, text: bytes, first: int, last: int) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if not isinstance(msg, dict) or msg.get("method") != "SUBSCRIBE":
            return
        before = BP_DEPTH in self.streams
        self.streams.update(p for p in msg.get("params", ()) if isinstance(p, str))
        if BP_DEPTH in self.streams and not before:
            self.write(self._next_depth())  # the first delta: the client's book syncs from it
        if BP_TRADE in self.streams and BP_DEPTH in self.streams and self.run is not None:
            self.run.streaming(time.perf_counter_ns())

    def _next_depth(self) -> bytes:
        frame = ws_frame(bp_depth(self.depth, time.time_ns() // 1000))
        self.depth += 1
        return frame

    def background(self, i: int) -> bytes:
        if i % 2:
            return self._next_depth()
        return ws_frame(bp_trade(i, time.time_ns() // 1000))

    def trigger(self, k: int) -> bytes:
        return ws_frame(bp_trade(10**7 + k, time.time_ns() // 1000, bp_trigger(k)))


def verify_backpack(request: Request, body: dict[str, Any]) -> str | None:
    """Check a signed order request the way Backpack does (ED25519 over the signing text)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    h = request.headers
    try:
        text = signing_text("orderExecute", body, int(h["x-timestamp"]), int(h["x-window"]))
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(h["x-api-key"]))
        key.verify(base64.b64decode(h["x-signature"]), text.encode())
    except (KeyError, ValueError):
        return "signature headers missing or malformed"
    except InvalidSignature:
        return "signature INVALID"
    return None
