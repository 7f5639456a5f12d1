"""The baselines of the tick-to-order benchmark: the fastest bots a user can write without bpbfx.

Nothing here imports bpbfx: only the standard library, websocket-client and ``cryptography``.

- :class:`BareBitfinex`: ``websocket.create_connection(url, skip_utf8_validation=True)``, the
  ``conf``, the HMAC-SHA384 ``auth`` request and the two subscriptions written by hand, then a
  loop of ``ws.recv()`` + ``json.loads``; on the trigger trade it writes
  ``ws.send(json.dumps([0, "on", None, {...}]))`` at once.
- :class:`BareBackpack`: the same loop on ``trade``/``depth`` frames; on the trigger a signed
  ``POST /api/v1/order`` over an ``http.client.HTTPConnection`` kept open (keep-alive, with
  ``TCP_NODELAY``; the request head and body leave in one write), ED25519-signed per request
  over the signing text built here (:func:`signing_text`, Backpack's rules), then the answer is
  read before the next frame.

Each runs its loop on a thread of its own, like a bpbfx client's reader thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = ["BareBackpack", "BareBitfinex", "Health", "signing_text"]

_SETTLE_TIMEOUT = 10.0


def signing_text(instruction: str, params: Mapping[str, Any], timestamp_ms: int, window_ms: int) -> str:
    """Backpack's signing text of a REST request: ``instruction=<name>``, the parameters sorted
    by key as ``key=value`` (booleans ``true``/``false``), then ``timestamp`` and ``window``,
    all joined by ``&``."""
    parts = [f"instruction={instruction}"]
    for key, value in sorted(params.items()):
        if value is not None:
            parts.append(f"{key}={str(value).lower() if isinstance(value, bool) else value}")
    parts.append(f"timestamp={timestamp_ms}&window={window_ms}")
    return "&".join(parts)


class Health:
    """What a client under test saw: orders sent, answered and confirmed, problems.  Counted
    on the bot's threads after each order has left; read once the bot has settled."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.sent = 0
        self.answered = 0
        self.confirmed = 0
        self.errors: list[str] = []

    def order_sent(self) -> None:
        """One order has been written (any thread)."""
        with self._cond:
            self.sent += 1

    def order_answered(self, ok: bool) -> None:
        """One order's answer arrived: confirmed (``ok``) or not (any thread)."""
        with self._cond:
            self.answered += 1
            self.confirmed += ok
            self._cond.notify_all()

    def settle(self, orders: int, timeout: float) -> None:
        """Wait until ``orders`` orders were counted as sent and every one answered (the
        server received them, so their bookkeeping is at most a few steps behind)."""
        with self._cond:
            self._cond.wait_for(lambda: self.sent >= orders and self.answered >= self.sent, timeout)


class _Loop:
    """A ``websocket.create_connection`` socket read by a thread of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.health = Health()
        self._ws: Any = None
        self._thread: threading.Thread | None = None
        self._running = False

    def _connect(self) -> Any:
        import websocket

        self._ws = websocket.create_connection(self.url, skip_utf8_validation=True, timeout=10)
        return self._ws

    def _run(self, loop: Callable[[], None]) -> None:
        self._ws.settimeout(None)
        self._running = True
        self._thread = threading.Thread(target=self._guard, args=(loop,), name="bare-loop", daemon=True)
        self._thread.start()

    def _guard(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except Exception as exc:  # noqa: BLE001 - the socket closing ends the loop; anything else is reported
            if self._running:
                self.health.errors.append(f"{type(exc).__name__}: {exc}")

    def stop(self, orders: int = 0) -> Health:
        """Wait until ``orders`` orders are sent and answered (10 s at most), close the socket and
        end the loop (the calling thread waits for it)."""
        self.health.settle(orders, _SETTLE_TIMEOUT)
        self._running = False
        ws = self._ws
        if ws is not None and ws.sock is not None:
            try:
                ws.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked recv
            except OSError:
                pass
            ws.close()
        if self._thread is not None:
            self._thread.join(10)
        return self.health


class BareBitfinex(_Loop):
    """The bare Bitfinex bot (see the module docstring)."""

    def __init__(self, url: str, api_key: str, api_secret: str, trigger: float, amount: str) -> None:
        super().__init__(url)
        self._key = api_key
        self._secret = api_secret
        self._trigger = trigger
        self._amount = amount

    def start(self, timeout: float) -> None:
        """Connect, authenticate, subscribe and wait for the replies, then start the loop.

        Raises:
            RuntimeError: not authenticated and subscribed within ``timeout`` seconds.
        """
        ws = self._connect()
        nonce = int(time.time() * 1_000_000)
        payload = f"AUTH{nonce}"
        sig = hmac.new(self._secret.encode(), payload.encode(), hashlib.sha384).hexdigest()
        ws.send(json.dumps({"event": "conf", "flags": 65536 + 131072}))  # SEQ_ALL | OB_CHECKSUM, as bpbfx
        ws.send(json.dumps({"event": "auth", "apiKey": self._key, "authSig": sig, "authPayload": payload,
                            "authNonce": nonce}))
        ws.send(json.dumps({"event": "subscribe", "channel": "trades", "symbol": "tBTCUSD"}))
        ws.send(json.dumps({"event": "subscribe", "channel": "book", "symbol": "tBTCUSD", "prec": "P0",
                            "freq": "F0", "len": "25"}))
        deadline = time.monotonic() + timeout
        authed, chans = False, dict[str, int]()
        while not (authed and len(chans) == 2):
            if time.monotonic() > deadline:
                raise RuntimeError("bare Bitfinex: not authenticated and subscribed in time")
            msg = json.loads(ws.recv())
            if isinstance(msg, dict):
                if msg.get("event") == "auth":
                    if msg.get("status") != "OK":
                        raise RuntimeError(f"bare Bitfinex: auth refused: {msg}")
                    authed = True
                elif msg.get("event") == "subscribed":
                    chans[msg["channel"]] = msg["chanId"]
        self._run(lambda: self._loop(chans["trades"]))

    def _loop(self, trades: int) -> None:
        ws, health = self._ws, self.health
        loads, dumps, send = json.loads, json.dumps, ws.send
        trigger, amount = self._trigger, self._amount
        cids = itertools.count(int(time.time() * 1000))
        while True:
            msg = loads(ws.recv())
            if type(msg) is list:
                chan = msg[0]
                if chan == trades:
                    if msg[1] == "te" and msg[2][2] >= trigger:
                        order = {"cid": next(cids), "type": "EXCHANGE LIMIT", "symbol": "tBTCUSD",
                                 "amount": amount, "price": str(msg[2][3])}
                        send(dumps([0, "on", None, order], separators=(",", ":")))
                        health.order_sent()
                elif chan == 0 and msg[1] == "n" and msg[2][1] == "on-req":
                    health.order_answered(msg[2][6] == "SUCCESS")


class BareBackpack(_Loop):
    """The bare Backpack bot (see the module docstring)."""

    def __init__(self, url: str, rest_url: str, api_secret: str, trigger: float, quantity: str) -> None:
        super().__init__(url)
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self._signer = Ed25519PrivateKey.from_private_bytes(base64.b64decode(api_secret))
        self._api_key = base64.b64encode(self._signer.public_key().public_bytes_raw()).decode()
        split = urlsplit(rest_url)
        self._http = http.client.HTTPConnection(split.hostname or "127.0.0.1", split.port or 80, timeout=10)
        self._trigger = trigger
        self._quantity = quantity

    def start(self, timeout: float) -> None:
        """Open the keep-alive REST connection, connect and subscribe, then start the loop."""
        self._http.connect()
        assert self._http.sock is not None
        self._http.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ws = self._connect()
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["trade.SOL_USDC", "depth.SOL_USDC"], "id": 1}))
        self._run(self._loop)

    def _loop(self) -> None:
        ws, health, conn, sign = self._ws, self.health, self._http, self._signer.sign
        loads, dumps = json.loads, json.dumps
        trigger, quantity, api_key = self._trigger, self._quantity, self._api_key
        cids = itertools.count(int(time.time()) % 1_000_000 * 1000)
        while True:
            msg = loads(ws.recv())
            if msg["stream"] == "trade.SOL_USDC":
                data = msg["data"]
                if float(data["q"]) >= trigger:
                    body = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "quantity": quantity,
                            "price": data["p"], "clientId": next(cids) & 0xFFFFFFFF}
                    ts = int(time.time() * 1000)
                    signature = base64.b64encode(sign(signing_text("orderExecute", body, ts, 5000).encode()))
                    conn.request("POST", "/api/v1/order", body=dumps(body).encode(), headers={
                        "X-API-Key": api_key, "X-Signature": signature.decode(), "X-Timestamp": str(ts),
                        "X-Window": "5000", "Content-Type": "application/json; charset=utf-8",
                    })
                    health.order_sent()
                    answer = conn.getresponse()
                    answer.read()
                    health.order_answered(answer.status == 200)

    def stop(self, orders: int = 0) -> Health:
        health = super().stop(orders)
        self._http.close()
        return health
