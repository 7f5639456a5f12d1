"""One client of a simulator: its connection and the queue of frames written to it.

Used on the simulator's loop thread only (an :class:`Outbox` under the simulator's lock).
Import these names from :mod:`bpbfx.sim._server`, which says which extra to install when
``websockets`` is missing.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

if TYPE_CHECKING:
    from bpbfx.sim._server import SimServer

__all__ = ["Outbox", "SimConnection"]


class SimConnection:
    """One client connected to a simulator (used from the simulator's loop thread).

    Attributes:
        id: sequence number of the connection on its server, from 1.
        ws: the underlying ``websockets`` connection.
        state: free-form per-connection protocol state for the exchange subclass.
    """

    def __init__(self, server: SimServer, ws: ServerConnection, conn_id: int) -> None:
        self.server = server
        self.ws = ws
        self.id = conn_id
        self.state: dict[str, Any] = {}
        self.silent = False
        self.frames_sent = 0

    async def send(self, message: str | dict[str, Any] | list[Any]) -> None:
        """Send one frame (dicts and lists are JSON-encoded) unless the server or this
        connection has been made silent.  A connection that closed meanwhile is ignored."""
        if self.silent or self.server.silent:
            return
        text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            return
        self.frames_sent += 1

    async def send_raw(self, message: str | bytes) -> None:
        """Send a frame exactly as given, even while silent (fault injection)."""
        try:
            await self.ws.send(message)
        except ConnectionClosed:
            return

    def abort(self) -> None:
        """Drop the TCP connection at once, without a close frame."""
        transport = self.ws.transport
        if transport is not None:
            transport.abort()


class Outbox:
    """The frames queued for one client, written in order by a task on the server loop.

    Everything the exchange simulators send to a client goes through it, so that a client
    that stops reading never stalls the others: one that falls ``limit`` frames behind is
    closed with code 1008 (``slow consumer``) and gets nothing more.  ``counters`` (the
    simulator's) counts ``frames_queued`` and ``slow_consumers``.  Loop thread, under the
    simulator's lock.
    """

    def __init__(self, conn: SimConnection, limit: int, counters: dict[str, int]) -> None:
        self.conn = conn
        self.limit = limit
        self.counters = counters
        self.overflowed = False
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()  # None: abort the connection
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the writer task (loop thread)."""
        self._writer = self.conn.server.spawn(self._write())

    def stop(self) -> None:
        """Stop the writer; frames still queued are lost (loop thread)."""
        if self._writer is not None:
            self._writer.cancel()

    def put(self, text: str) -> None:
        """Queue one frame, or close a client that is ``limit`` frames behind."""
        if self.overflowed:
            return
        if self._queue.qsize() >= self.limit:
            self.overflowed = True
            self.counters["slow_consumers"] += 1
            self.conn.server.spawn(self.conn.ws.close(1008, "slow consumer"))
            return
        self._queue.put_nowait(text)
        self.counters["frames_queued"] += 1

    def abort_after(self) -> None:
        """Drop the connection without a close frame once the frames queued before are sent."""
        self._queue.put_nowait(None)

    def __len__(self) -> int:
        """Frames queued and not yet taken by the writer."""
        return self._queue.qsize()

    async def _write(self) -> None:
        while True:
            text = await self._queue.get()
            if text is None:
                self.conn.abort()
                return
            await self.conn.send(text)
