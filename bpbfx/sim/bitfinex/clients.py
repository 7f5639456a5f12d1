"""One Bitfinex socket as the simulator sees it: its channels, its ``conf`` flags, its
authentication, and how every frame to it is numbered and stamped.

Bitfinex numbers what it sends on each socket: with ``SEQ_ALL`` every array frame carries a
public sequence number (channel-0 frames an auth sequence number too), with ``TIMESTAMP``
the server time last.  Used under the simulator's lock on its loop thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bpbfx.sim._server import Outbox, SimConnection
from bpbfx.sim.bitfinex.wire import SEQ_ALL, TIMESTAMP, _dumps

__all__: list[str] = []


@dataclass(eq=False)
class _Channel:
    """One subscribed channel of a socket, and the faults armed on it."""

    chan_id: int
    topic: tuple[str, ...]
    request: dict[str, Any]
    symbol: str | None
    key: str | None
    last_hb: float
    silenced: bool = False
    drop_pending: int = 0
    corrupt_pending: int = 0


@dataclass(eq=False)
class _Client:
    """One socket: its frames go through ``outbox``, numbered per its ``flags``."""

    conn: SimConnection
    outbox: Outbox
    connected_at: float
    flags: int = 0
    pub_seq: int = 0
    auth_seq: int = 0
    channels: dict[int, _Channel] = field(default_factory=dict)
    topics: dict[tuple[str, ...], int] = field(default_factory=dict)
    closed_ids: set[int] = field(default_factory=set)
    account: str | None = None
    filters: frozenset[str] | None = None
    last_hb0: float = 0.0
    dms: bool = False  # authenticated with dms 4: cancel the account's orders on disconnect
    idle_since: float = 0.0  # when it last had neither a subscription nor authentication

    def send_text(self, text: str) -> None:
        """Queue a frame exactly as given."""
        self.outbox.put(text)

    def event(self, obj: Mapping[str, Any]) -> None:
        """Queue an event (a JSON object; events are not numbered)."""
        self.outbox.put(_dumps(obj))

    def array(self, chan_id: int, body: str, now_ms: int) -> None:
        """Queue ``[chan_id,<body>]`` with the socket's sequence number and time as configured.

        While the whole server is silent (``set_silent``: nothing is sent at all, as during
        maintenance) no frame is made, so none takes a sequence number: the exchange numbers
        what it sends.  A connection silenced alone still numbers its frames and loses them, as
        a dead link would."""
        if not self.conn.server.silent:
            self._numbered(f"[{chan_id},{body}", now_ms)

    def channel0(self, kind: str, data: str, now_ms: int, *, reply: bool = False) -> None:
        """Channel 0 with ``SEQ_ALL``: ``[0,TYPE,DATA,PUB_SEQ,AUTH_SEQ]``, both advancing.

        Notifications do not advance the auth sequence: they carry the current AUTH_SEQ
        ("Notification sequence numbers no longer advance", Bitfinex, bitfinex-api-node PR
        #429; the official client's audit expects "no advancement" on ``n``).  A notification
        answering a request (``reply``: on-req, oc-req, ...) carries only that number and no
        PUB_SEQ ("*-req packets don't include public seq numbers", bitfinex-api-node
        lib/transports/ws2.js); other notifications (``wallet_transfer``, ``ucm-notify-ui``,
        seen in a live capture) carry both, taking the next PUB_SEQ.
        """
        if self.conn.server.silent:
            return  # nothing is sent, so nothing is numbered (see array)
        text = f'[0,"{kind}",{data}'
        if self.flags & SEQ_ALL:
            if kind == "n":
                if not reply:
                    self.pub_seq += 1
                    text += f",{self.pub_seq}"
            else:
                self.auth_seq += 1
                self.pub_seq += 1
                text += f",{self.pub_seq}"
            text += f",{self.auth_seq}"
        if self.flags & TIMESTAMP:
            text += f",{now_ms}"
        self.outbox.put(text + "]")

    def heartbeat0(self, now_ms: int) -> None:
        """Queue ``[0,"hb"]``: with ``SEQ_ALL`` it carries the next public number only."""
        self._numbered('[0,"hb"', now_ms)

    def _numbered(self, head: str, now_ms: int) -> None:
        """Queue ``head`` (an array frame without its closing bracket) with the next public
        sequence number and the time, as the socket's flags ask."""
        if self.flags & SEQ_ALL:
            self.pub_seq += 1
            head += f",{self.pub_seq}"
        if self.flags & TIMESTAMP:
            head += f",{now_ms}"
        self.outbox.put(head + "]")
