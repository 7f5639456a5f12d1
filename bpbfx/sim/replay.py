"""Serve a recorded WebSocket session to every client that connects, as if it were live.

:class:`ReplayServer` sends the frames of a recording, each exactly as recorded (the same
text, numbers included), to each client on its own schedule: as fast as possible
(``speed=None``), at the recorded pace (``speed=1.0``) or ``k`` times faster (``speed=k``),
starting when the client connects or when it sends its first frame (``start_on``).  What the
clients send is recorded (:meth:`SimServer.received_frames`) and otherwise ignored.

Recordings are text files (optionally gzip-compressed), read line by line; the format is
recognised per line, so files may even mix them:

1. one raw JSON frame per line (``{"event":"info",...}`` / ``[17082,[...]]``), no time;
2. the cryptofeed text format: ``wss://host/ws/2 -> 1618677545.57: <frame>`` (received: served),
   ``... <- <ts>: <frame>`` (sent by the client: skipped), ``... <-> <ts>`` (connect: skipped),
   and ``<ts>: <frame>`` (received, without the URL);
3. bpbfx recordings (:mod:`bpbfx.recording`): JSON objects ``{"ts":..,"kind":"frame",
   "data":"<frame text>",...}``; ``kind`` ``frame`` is served (``data``, or ``data_b64``
   decoded), ``header`` / ``open`` / ``close`` / ``reconnect`` are skipped.

Blank lines are skipped.  :func:`load_frames` reads any of them into ``(ts, text)`` pairs.

Threads: the server runs on its own loop thread; public methods and properties may be used from
any other thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from websockets.protocol import State

from bpbfx.sim._server import SimConnection, SimServer

__all__ = ["Frame", "ReplayServer", "load_frames", "parse_line"]

Frame = tuple[float | None, str]
"""A recorded frame: receive time in Unix seconds (``None`` when the recording has none) and
the frame text exactly as recorded."""

_RE_CRYPTOFEED = re.compile(r"(?:\S+ (?P<dir><->|<-|->) )?(?P<ts>\d+(?:\.\d*)?)(?:: (?P<frame>.*))?")
_RECORD_KINDS = frozenset({"header", "frame", "open", "close", "reconnect"})
_GZIP_MAGIC = b"\x1f\x8b"


def parse_line(line: str, number: int = 0) -> Frame | None:
    """The frame a recording line holds, or ``None`` for a line that holds none (blank, sent by
    the client, connection events, bpbfx headers).  Pure; any thread.

    Raises:
        ValueError: the line is in none of the three formats (the message gives ``number``).
    """
    text = line.rstrip("\r\n")
    stripped = text.strip()
    if not stripped:
        return None
    if stripped[0] in "{[":
        if stripped[0] == "{" and '"kind"' in stripped:
            record = _bpbfx_record(stripped, number)
            if record is not False:
                return record
        return None, text
    match = _RE_CRYPTOFEED.fullmatch(text)
    if match is not None:
        direction, frame = match.group("dir"), match.group("frame")
        if direction in ("<-", "<->"):
            return None
        if frame is not None:
            return float(match.group("ts")), frame
    raise ValueError(f"line {number}: not a JSON frame, a cryptofeed line or a bpbfx record: {text[:80]!r}")


def _bpbfx_record(text: str, number: int) -> Frame | Literal[False] | None:
    """The frame of a bpbfx record line, ``None`` for a record without one, ``False`` when the
    line is not a bpbfx record (a raw frame that mentions "kind")."""
    try:
        obj = json.loads(text)
    except ValueError:
        return False
    if not isinstance(obj, dict) or obj.get("kind") not in _RECORD_KINDS:
        return False
    kind = obj["kind"]
    if kind != "frame":
        return None if ("ts" in obj or kind == "header") else False
    ts = obj.get("ts")
    stamp = float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else None
    data = obj.get("data")
    if isinstance(data, str):
        return stamp, data
    b64 = obj.get("data_b64")
    if isinstance(b64, str):
        try:
            return stamp, base64.b64decode(b64).decode("utf-8", "replace")
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"line {number}: bad data_b64 in a frame record") from exc
    return False


def _lines(path: Path) -> Iterable[str]:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == _GZIP_MAGIC:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as gz:
            yield from gz
    else:
        with open(path, encoding="utf-8", newline="") as fh2:
            yield from fh2


def load_frames(source: str | os.PathLike[str] | Iterable[str]) -> list[Frame]:
    """Read the frames of a recording: a path (text or gzip), or an iterable of lines.

    Returns ``(ts, text)`` pairs in file order.  Any thread.

    Raises:
        OSError: the file cannot be read.
        ValueError: a line is in none of the formats (the message names the line).
    """
    lines = _lines(Path(source)) if isinstance(source, (str, os.PathLike)) else source
    frames: list[Frame] = []
    for number, line in enumerate(lines, 1):
        frame = parse_line(line, number)
        if frame is not None:
            frames.append(frame)
    return frames


class ReplayServer(SimServer):
    """Serve a recording to each client that connects (see the module docstring).

    Args:
        source: a recording's path, or the frames themselves: texts, or ``(ts, text)`` pairs.
        speed: ``None`` as fast as possible; ``1.0`` at the recorded pace; ``k`` ``k`` times
            faster (frames without a time are sent at once).
        start_on: ``"connect"`` or ``"first_message"`` (the first frame the client sends,
            e.g. its subscribe).
        loop: start over after the last frame, forever (the replay is then never ``done``).
        close_at_end: close each connection (1000) after its last frame.
        host: interface to bind (loopback).
        port: TCP port, 0 for any free port.
        ping_interval: seconds between protocol pings, ``None`` for none.

    Raises:
        OSError: the recording cannot be read.
        ValueError: a bad argument or an unreadable line.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | Iterable[str | Frame],
        *,
        speed: float | None = None,
        start_on: Literal["connect", "first_message"] = "connect",
        loop: bool = False,
        close_at_end: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        ping_interval: float | None = None,
    ) -> None:
        super().__init__(host=host, port=port, tick_interval=None, ping_interval=ping_interval)
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be > 0 or None, got {speed!r}")
        if start_on not in ("connect", "first_message"):
            raise ValueError(f"start_on must be 'connect' or 'first_message', got {start_on!r}")
        if isinstance(source, (str, os.PathLike)):
            self.frames: list[Frame] = load_frames(source)
        else:
            self.frames = [(None, f) if isinstance(f, str) else (f[0], f[1]) for f in source]
        self.speed = speed
        self.start_on = start_on
        self.loop = loop
        self.close_at_end = close_at_end
        self._sent: dict[int, int] = {}
        self._completed: list[int] = []
        self._started_events: dict[int, asyncio.Event] = {}

    # ------------------------------------------------------------------ hooks (loop thread)
    async def on_connect(self, conn: SimConnection) -> None:
        """Start playing to the new client (now, or on its first frame)."""
        event = asyncio.Event()
        with self._lock:
            self._sent[conn.id] = 0
            self._started_events[conn.id] = event
        if self.start_on == "connect":
            event.set()
        self.spawn(self._play(conn, event))

    async def on_message(self, conn: SimConnection, message: str | bytes) -> None:
        """Record the client's frame (decoded when it is JSON) and start a waiting replay."""
        try:
            self.record(conn, json.loads(message))
        except ValueError:
            self.record(conn, message)
        with self._lock:
            event = self._started_events.get(conn.id)
        if event is not None:
            event.set()

    async def on_disconnect(self, conn: SimConnection) -> None:
        """Forget the client's start trigger (its counters stay)."""
        with self._lock:
            self._started_events.pop(conn.id, None)

    async def _play(self, conn: SimConnection, started: asyncio.Event) -> None:
        await started.wait()
        loop = asyncio.get_running_loop()
        while True:
            origin: float | None = None
            t0 = loop.time()
            for i, (ts, text) in enumerate(self.frames):
                if conn.ws.state in (State.CLOSING, State.CLOSED):
                    return
                if self.speed is not None and ts is not None:
                    if origin is None:
                        origin = ts
                    delay = t0 + (ts - origin) / self.speed - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif i % 256 == 255:
                    await asyncio.sleep(0)  # let other clients and control calls in
                await conn.send(text)
                with self._lock:
                    self._sent[conn.id] = self._sent.get(conn.id, 0) + 1
            if not self.loop:
                break
            await asyncio.sleep(0)
        with self._lock:
            self._completed.append(conn.id)
        self.notify()
        if self.close_at_end:
            await conn.ws.close(1000, "end of recording")

    # ------------------------------------------------------------------ introspection (any thread)
    @property
    def frames_sent(self) -> int:
        """Frames sent so far, all clients together."""
        with self._lock:
            return sum(self._sent.values())

    def frames_sent_to(self, conn_id: int) -> int:
        """Frames sent so far to one client (0 for an unknown id)."""
        with self._lock:
            return self._sent.get(conn_id, 0)

    @property
    def completed(self) -> list[int]:
        """Ids of the clients that got the whole recording, in the order they finished."""
        with self._lock:
            return list(self._completed)

    @property
    def done(self) -> bool:
        """At least one client got the whole recording."""
        with self._lock:
            return bool(self._completed)

    def wait_done(self, timeout: float = 10.0, clients: int = 1) -> bool:
        """Block until ``clients`` clients got the whole recording; False on timeout."""
        return self.wait_for(lambda: len(self.completed) >= clients, timeout)

    def duration(self) -> float | None:
        """Seconds between the first and the last timed frame (``None`` without times)."""
        stamps = [ts for ts, _ in self.frames if ts is not None]
        return stamps[-1] - stamps[0] if stamps else None
