"""Backpack subscriptions: the connected clients, SUBSCRIBE / UNSUBSCRIBE, the index of who
reads which stream, and queuing frames to them.

Used under the simulator's lock on its loop thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bpbfx.sim._server import Outbox, SimConnection
from bpbfx.sim.backpack.wire import ERR_PARSE, _data_text, _error_text, _parse_stream, _Stream

__all__: list[str] = []

#: Checks a private SUBSCRIBE's ``signature``: the verifying key, or the error to answer.
Verify = Callable[[object], str | tuple[int, str]]


@dataclass(eq=False)
class _Client:
    conn: SimConnection
    outbox: Outbox
    streams: dict[str, _Stream] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # private stream -> verifying key
    first_u: dict[str, int] = field(default_factory=dict)  # depth stream -> first U sent


class Subscriptions:
    """The connected clients and their streams.

    ``counters`` (the simulator's) counts ``errors_sent``, ``signatures_verified`` and
    ``signatures_rejected``.
    """

    def __init__(self, counters: dict[str, int]) -> None:
        self.clients: dict[int, _Client] = {}
        self.index: dict[str, set[int]] = {}  # stream -> ids of its subscribers
        self.counters = counters

    # ------------------------------------------------------------------ clients
    def add(self, client: _Client) -> None:
        """Register a new client."""
        self.clients[client.conn.id] = client

    def remove(self, cid: int) -> _Client | None:
        """Forget a client and its subscriptions; the client, or ``None`` if unknown."""
        client = self.clients.pop(cid, None)
        if client is not None:
            for name in client.streams:
                self._unindex(name, cid)
        return client

    def _unindex(self, name: str, cid: int) -> None:
        subs = self.index.get(name)
        if subs is not None:
            subs.discard(cid)
            if not subs:
                del self.index[name]

    # ------------------------------------------------------------------ sending
    def enqueue(self, cid: int, text: str) -> None:
        """Queue a frame to one client (nothing if it has gone)."""
        client = self.clients.get(cid)
        if client is not None:
            client.outbox.put(text)

    def send_error(self, cid: int, err: tuple[int, str]) -> None:
        """Queue ``{"id":null,"error":{"code":..,"message":..}}`` to one client."""
        self.counters["errors_sent"] += 1
        self.enqueue(cid, _error_text(err))

    def has(self, stream: str) -> bool:
        """Someone reads ``stream``."""
        return bool(self.index.get(stream))

    def subscribers(self, stream: str) -> list[_Client]:
        """The clients reading ``stream``, oldest connection first."""
        subs = self.index.get(stream)
        if not subs:
            return []
        return [self.clients[cid] for cid in sorted(subs) if cid in self.clients]

    def publish(self, stream: str, data: dict[str, Any]) -> None:
        """Queue a data frame to every subscriber of ``stream``."""
        subs = self.index.get(stream)
        if not subs:
            return
        text = _data_text(stream, data)
        for cid in sorted(subs):
            self.enqueue(cid, text)

    def publish_private(self, key: str, kind: str, symbol: str, data: dict[str, Any]) -> None:
        """Queue an account event to every private stream of ``kind`` subscribed with ``key``
        (for every symbol, or this one)."""
        for cid in sorted(self.clients):
            client = self.clients[cid]
            for name, k in client.keys.items():
                st = client.streams.get(name)
                if k == key and st is not None and st.kind == kind and st.symbol in (None, symbol):
                    self.enqueue(cid, _data_text(name, data))

    def active_keys(self) -> set[str]:
        """Verifying keys some client reads private streams with."""
        return {key for c in self.clients.values() for key in c.keys.values()}

    def first_deltas(self, symbol: str) -> list[int]:
        """The first ``U`` each current subscriber of a depth stream of ``symbol`` received."""
        return [
            u for c in self.clients.values() for name, u in c.first_u.items()
            if name in c.streams and c.streams[name].symbol == symbol
        ]

    # ------------------------------------------------------------------ requests
    def handle(self, cid: int, frame: Any, verify: Verify) -> tuple[str | None, list[tuple[_Stream, bool]]]:
        """Apply a SUBSCRIBE / UNSUBSCRIBE frame; bad frames get an error frame.

        Returns the verifying key of a private SUBSCRIBE (``None`` otherwise) and the streams
        it subscribed, each with whether it is new to the client.
        """
        # Backpack: an unknown method (or a frame without a params list) is a 4002 Parse error.
        if (
            not isinstance(frame, dict)
            or frame.get("method") not in ("SUBSCRIBE", "UNSUBSCRIBE")
            or not isinstance(frame.get("params"), list)
        ):
            self.send_error(cid, ERR_PARSE)
            return None, []
        parsed: list[_Stream] = []
        for name in frame["params"]:
            result = _parse_stream(name)
            if isinstance(result, tuple):
                self.send_error(cid, result)  # the whole frame is refused
                return None, []
            parsed.append(result)
        client = self.clients.get(cid)
        if client is None:
            return None, []
        if frame["method"] == "UNSUBSCRIBE":
            for st in parsed:
                if client.streams.pop(st.name, None) is not None:
                    self._unindex(st.name, cid)
                client.keys.pop(st.name, None)
                client.first_u.pop(st.name, None)
            return None, []
        key: str | None = None
        if any(st.private for st in parsed):
            verdict = verify(frame.get("signature"))
            if isinstance(verdict, tuple):
                self.counters["signatures_rejected"] += 1
                self.send_error(cid, verdict)
                return None, []
            self.counters["signatures_verified"] += 1
            key = verdict
        added: list[tuple[_Stream, bool]] = []
        for st in parsed:
            added.append((st, st.name not in client.streams))
            client.streams[st.name] = st
            self.index.setdefault(st.name, set()).add(cid)
            if st.private and key is not None:
                client.keys[st.name] = key
        return key, added
