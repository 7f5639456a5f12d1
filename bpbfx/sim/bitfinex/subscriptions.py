"""Bitfinex subscriptions: the connected sockets, ``subscribe`` / ``unsubscribe`` with their
replies and error frames, channel ids, who reads which topic, and heartbeats.

Replies and errors as seen on the wire: errors repeat the request's fields, then ``event``,
``msg``, ``code``.  10300 ``channel: unknown`` / ``symbol: invalid`` / ``length: invalid`` /
``precision: invalid`` / ``freq: invalid`` / ``key: invalid``, 10301 ``subscribe: dup``,
10305 ``subscribe: limit``, 10400 ``unsubscribe: invalid``, 10401 ``unsubscribe: not
subscribed`` (the simulator's own text).  Used under the simulator's lock on its loop thread.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from bpbfx.sim.bitfinex.clients import _Channel, _Client
from bpbfx.sim.bitfinex.faults import Faults
from bpbfx.sim.bitfinex.market import _CHANNELS, _FREQS, _LENGTHS, _PRECISIONS, CANDLE_TIMEFRAMES, _Market, _View

__all__: list[str] = []

#: A book view's key: symbol, precision, frequency, length.
ViewKey = tuple[str, str, str, int]


class Subscriptions:
    """The connected sockets and their channels.

    ``rng`` draws the channel ids; ``mono`` is the monotonic clock of heartbeats; ``counters``
    (the simulator's) counts ``subscribed``, ``unsubscribed``, ``errors_sent``, ``unanswered``
    and ``heartbeats_sent``.
    """

    def __init__(
        self,
        markets: Mapping[str, _Market],
        faults: Faults,
        rng: random.Random,
        mono: Callable[[], float],
        counters: dict[str, int],
    ) -> None:
        self.markets = markets
        self.faults = faults
        self.rng = rng
        self.mono = mono
        self.counters = counters
        self.clients: dict[int, _Client] = {}
        self.views: dict[ViewKey, _View] = {}  # book views, shared by their subscribers
        self.topic_subs: dict[tuple[str, ...], set[tuple[int, int]]] = {}  # topic -> (conn id, chanId)
        self._next_chan = rng.randrange(10_000, 200_000)

    # ------------------------------------------------------------------ sockets
    def add(self, client: _Client) -> None:
        """Register a new socket."""
        self.clients[client.conn.id] = client

    def remove(self, cid: int) -> _Client | None:
        """Forget a socket and its channels; the socket, or ``None`` if unknown."""
        client = self.clients.pop(cid, None)
        if client is not None:
            for ch in list(client.channels.values()):
                self._drop_channel(client, ch)
        return client

    def targets(self, conn_id: int | None) -> list[_Client]:
        """Every socket (``None``), or the one ``conn_id``, oldest first.

        Raises:
            ValueError: no such connection.
        """
        if conn_id is not None and conn_id not in self.clients:
            raise ValueError(f"no connection {conn_id!r}; connected: {sorted(self.clients)}")
        return [c for cid, c in sorted(self.clients.items()) if conn_id is None or cid == conn_id]

    # ------------------------------------------------------------------ sending
    def error(
        self, client: _Client, req: Mapping[str, Any], code: int, msg: str, extra: Mapping[str, Any] | None = None
    ) -> None:
        """Queue an error event answering ``req``."""
        # Bitfinex: the request's fields come first, then event, msg, code.
        out: dict[str, Any] = {k: v for k, v in req.items() if k not in ("event", "msg", "code")}
        out["event"] = "error"
        out["msg"] = msg
        out["code"] = code
        if extra:
            for k, v in extra.items():
                out.setdefault(k, v)
        self.counters["errors_sent"] += 1
        client.event(out)

    def push(self, client: _Client, ch: _Channel, body: str, now_ms: int, data: bool = True) -> bool:
        """Send on a public channel unless it is silenced (or in maintenance, for data)."""
        if ch.silenced or (data and self.faults.maintenance):
            return False
        client.array(ch.chan_id, body, now_ms)
        return True

    def channels_of(self, topic: tuple[str, ...]) -> list[tuple[_Client, _Channel]]:
        """The channels subscribed to ``topic``, oldest socket first."""
        out: list[tuple[_Client, _Channel]] = []
        for cid, chan_id in sorted(self.topic_subs.get(topic, ())):
            client = self.clients.get(cid)
            if client is not None:
                ch = client.channels.get(chan_id)
                if ch is not None:
                    out.append((client, ch))
        return out

    def match_channels(
        self,
        chan_id: int | None,
        channel: str | None,
        symbol: str | None,
        conn_id: int | None,
    ) -> list[_Channel]:
        """The channels matching every criterion given (``symbol``: a symbol or a candles /
        status key), on every socket or on ``conn_id``.

        Raises:
            ValueError: no such connection.
        """
        out: list[_Channel] = []
        for client in self.targets(conn_id):
            for ch in client.channels.values():
                if chan_id is not None and ch.chan_id != chan_id:
                    continue
                if channel is not None and ch.topic[0] != channel:
                    continue
                if symbol is not None and symbol not in (ch.symbol, ch.key):
                    continue
                out.append(ch)
        return out

    # ------------------------------------------------------------------ requests
    def normalize_symbol(self, req: Mapping[str, Any]) -> str | None:
        """The simulated symbol a request names (``symbol``, or ``pair``), or ``None``."""
        symbol = req.get("symbol")
        if symbol is None and isinstance(req.get("pair"), str):
            symbol = "t" + str(req["pair"])
        if not isinstance(symbol, str):
            return None
        if symbol in self.markets:
            return symbol
        # Bitfinex accepts a trading symbol without its "t" and acks it with the prefix.
        if "t" + symbol in self.markets:
            return "t" + symbol
        return None

    def subscribe(self, client: _Client, req: dict[str, Any], max_channels: int) -> _Channel | None:
        """Subscribe a socket to what ``req`` asks and queue the ``subscribed`` event (the
        snapshot is the caller's); the new channel, or ``None`` when ``req`` was refused
        (``max_channels``: how many one socket may hold)."""
        channel = req.get("channel")
        if channel not in _CHANNELS:
            self.error(client, req, 10300, "channel: unknown")
            return None
        symbol: str | None = None
        key: str | None = None
        extra: dict[str, Any] = {}
        echo: dict[str, Any] = {}
        if channel in ("ticker", "trades", "book"):
            symbol = self.normalize_symbol(req)
            raw = req.get("symbol", req.get("pair"))
            if symbol is None:
                name = str(raw) if raw is not None else ""
                label = "currency" if name.startswith("f") else "pair"
                self.error(client, req, 10300, "symbol: invalid", {label: name[1:] if name[:1] in "tf" else name})
                return None
            extra = {"currency" if symbol.startswith("f") else "pair": symbol[1:]}
            echo["symbol"] = symbol
            topic: tuple[str, ...] = (channel, symbol)
            if channel == "book":
                prec = req.get("prec", "P0")
                freq = req.get("freq", "F0")
                length = str(req.get("len", "25"))
                if prec not in _PRECISIONS:
                    self.error(client, req, 10300, "precision: invalid", extra)
                    return None
                if freq not in _FREQS:
                    self.error(client, req, 10300, "freq: invalid", extra)
                    return None
                if length not in _LENGTHS:
                    self.error(client, req, 10300, "length: invalid", extra)
                    return None
                echo.update(prec=prec, freq=freq, len=length)
                topic = (channel, symbol, str(prec), str(freq), length)
        elif channel == "candles":
            key = req.get("key") if isinstance(req.get("key"), str) else None
            parts = key.split(":", 2) if key else []
            if (
                len(parts) != 3
                or parts[0] != "trade"
                or parts[1] not in CANDLE_TIMEFRAMES
                or parts[2] not in self.markets
                or parts[2].startswith("f")
            ):
                self.error(client, req, 10300, "key: invalid")
                return None
            assert key is not None
            symbol = parts[2]
            echo["key"] = key
            topic = (channel, key)
        else:  # status
            key = req.get("key") if isinstance(req.get("key"), str) else None
            if key != "liq:global":
                target = key[6:] if key and key.startswith("deriv:") else None
                if target is None or target not in self.markets or not self.markets[target].spec.perpetual:
                    if key and key.startswith("deriv:"):
                        # Bitfinex: a status subscription to an unknown contract gets no reply.
                        self.counters["unanswered"] += 1
                        return None
                    self.error(client, req, 10300, "key: invalid")
                    return None
                symbol = target
            assert key is not None
            echo["key"] = key
            topic = (channel, key)
        existing = client.topics.get(topic)
        if existing is not None:
            self.error(client, req, 10301, "subscribe: dup", {"chanId": existing, **extra})
            return None
        if len(client.channels) >= max_channels:
            self.error(client, req, 10305, "subscribe: limit", extra)
            return None
        self._next_chan += self.rng.randrange(1, 4)
        chan_id = self._next_chan
        # Bitfinex: event, channel, chanId, symbol / key, prec, freq, len, subId, pair / currency.
        echo = {"event": "subscribed", "channel": channel, "chanId": chan_id, **echo}
        if "subId" in req:
            echo["subId"] = req["subId"]
        echo.update(extra)
        ch = _Channel(chan_id, topic, dict(req), symbol, key, self.mono())
        client.channels[chan_id] = ch
        client.topics[topic] = chan_id
        self.topic_subs.setdefault(topic, set()).add((client.conn.id, chan_id))
        self.counters["subscribed"] += 1
        client.event(echo)
        return ch

    def view(self, topic: tuple[str, ...]) -> _View:
        """The book view of a ``book`` topic, created on first use."""
        vkey = (topic[1], topic[2], topic[3], int(topic[4]))
        view = self.views.get(vkey)
        if view is None:
            view = self.views[vkey] = _View(self.markets[topic[1]], topic[2], topic[3], int(topic[4]))
        return view

    def _drop_channel(self, client: _Client, ch: _Channel) -> None:
        client.channels.pop(ch.chan_id, None)
        client.topics.pop(ch.topic, None)
        subs = self.topic_subs.get(ch.topic)
        if subs is not None:
            subs.discard((client.conn.id, ch.chan_id))
            if not subs:
                del self.topic_subs[ch.topic]
        if ch.topic[0] == "book":
            vkey = (ch.topic[1], ch.topic[2], ch.topic[3], int(ch.topic[4]))
            view = self.views.get(vkey)
            if view is not None:
                view.channels.discard((client.conn.id, ch.chan_id))
                if not view.channels:
                    del self.views[vkey]

    def unsubscribe(self, client: _Client, req: dict[str, Any]) -> None:
        """Drop the channel ``req`` names and queue the ``unsubscribed`` event, or an error."""
        chan_id = req.get("chanId")
        ch = client.channels.get(chan_id) if isinstance(chan_id, int) else None
        if ch is None:
            if isinstance(chan_id, int) and chan_id in client.closed_ids:
                self.error(client, req, 10401, "unsubscribe: not subscribed")
            else:
                self.error(client, req, 10400, "unsubscribe: invalid")
            return
        self._drop_channel(client, ch)
        client.closed_ids.add(ch.chan_id)
        self.counters["unsubscribed"] += 1
        client.event({"event": "unsubscribed", "status": "OK", "chanId": ch.chan_id})

    # ------------------------------------------------------------------ liveness
    def heartbeats(self, now_ms: int, hb_interval: float, idle_timeout: float | None) -> None:
        """``[CHAN,"hb"]`` on every channel and ``[0,"hb"]`` on every authenticated socket
        ``hb_interval`` seconds after the last; sockets with neither a channel nor
        authentication for ``idle_timeout`` seconds are dropped without a close frame."""
        now = self.mono()
        for client in list(self.clients.values()):
            for ch in client.channels.values():
                if now - ch.last_hb >= hb_interval:
                    ch.last_hb = now
                    if self.push(client, ch, '"hb"', now_ms, data=False):
                        self.counters["heartbeats_sent"] += 1
            if client.account is not None and now - client.last_hb0 >= hb_interval:
                client.last_hb0 = now
                client.heartbeat0(now_ms)
                self.counters["heartbeats_sent"] += 1
            if client.channels or client.account is not None:
                client.idle_since = now
            if (
                idle_timeout is not None
                and not client.channels
                and client.account is None
                and now - client.idle_since >= idle_timeout
            ):
                client.conn.abort()
