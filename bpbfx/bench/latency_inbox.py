"""What the tick-to-order benchmark server reads: bytes stamped with when they were read, cut
into WebSocket client frames and HTTP/1.1 requests.

The stamp of a message is the stamp of the read that brought its first byte (and its last
byte's): a message may span reads, and a read may carry several messages.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["Inbox", "Request", "next_http_request", "next_ws_frame"]


class Inbox:
    """The bytes read from one socket, each read stamped with the loop's wake-up time."""

    __slots__ = ("_base", "_chunks", "data")

    def __init__(self) -> None:
        self.data = bytearray()
        self._base = 0  # stream offset of data[0]
        self._chunks: deque[tuple[int, int]] = deque()  # (stream offset after the read, stamp)

    def feed(self, chunk: bytes, stamp: int) -> None:
        """Append one read."""
        self.data += chunk
        self._chunks.append((self._base + len(self.data), stamp))

    def arrival(self, offset: int) -> int:
        """When the byte at ``offset`` (from the start of :attr:`data`) was read."""
        position = self._base + offset
        for end, stamp in self._chunks:
            if end > position:
                return stamp
        return self._chunks[-1][1]

    def take(self, n: int) -> bytes:
        """Remove and return the first ``n`` bytes."""
        out = bytes(self.data[:n])
        del self.data[:n]
        self._base += n
        while self._chunks and self._chunks[0][0] <= self._base:
            self._chunks.popleft()
        return out


def next_ws_frame(inbox: Inbox) -> tuple[int, bytes, int, int] | None:
    """``(opcode, payload, first byte's stamp, last byte's stamp)`` of the next complete client
    frame (unmasked), or ``None`` until one is complete."""
    d = inbox.data
    if len(d) < 2:
        return None
    n = d[1] & 0x7F
    pos = 2
    if n == 126:
        if len(d) < 4:
            return None
        n, pos = int.from_bytes(d[2:4], "big"), 4
    elif n == 127:
        if len(d) < 10:
            return None
        n, pos = int.from_bytes(d[2:10], "big"), 10
    masked = bool(d[1] & 0x80)
    start = pos + (4 if masked else 0)
    end = start + n
    if len(d) < end:
        return None
    first, last = inbox.arrival(0), inbox.arrival(end - 1)
    raw = inbox.take(end)
    payload = raw[start:]
    if masked and n:
        mask = (raw[pos:start] * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")
    return raw[0] & 0x0F, payload, first, last


@dataclass
class Request:
    """One HTTP request read from an :class:`Inbox`."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    first: int
    last: int


def next_http_request(inbox: Inbox) -> Request | None:
    """The next complete HTTP request (head and ``Content-Length`` body), or ``None``."""
    d = inbox.data
    head_end = d.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    lines = bytes(d[:head_end]).decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    end = head_end + 4 + int(headers.get("content-length", "0") or 0)
    if len(d) < end:
        return None
    first, last = inbox.arrival(0), inbox.arrival(end - 1)
    raw = inbox.take(end)
    method, target = [*lines[0].split(" "), "", ""][:2]
    return Request(method, target.split("?", 1)[0], headers, raw[head_end + 4 :], first, last)
