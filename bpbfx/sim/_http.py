"""The simulators' REST server: HTTP/1.1 with keep-alive, any method, JSON or text bodies.

Exchanges answer REST on keep-alive connections, and order entry is measured over one, so the
simulators serve REST from a small HTTP/1.1 server of their own (next to the WebSocket server,
on a port of its own: :attr:`~bpbfx.sim._server.SimServer.http_url`).  A subclass of the
simulator answers each request with an :class:`HttpReply`, which can also act out the faults an
order client must survive: a reply that is never sent (the connection dropped after the request
was taken), a late reply, a closed connection.

Requests are handled one at a time per connection, in order, on the simulator's loop thread.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["HttpReply", "HttpRequest", "serve_http"]

_MAX_HEAD = 65536
_MAX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request: ``method``, ``path`` (no query), ``params`` (query), lower-case
    ``headers``, raw ``body``."""

    method: str
    path: str
    params: dict[str, str]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON.

        Raises:
            ValueError: not JSON.
        """
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class HttpReply:
    """How to answer a request.

    Attributes:
        status: HTTP status.
        body: a JSON-encodable value (sent as ``application/json``), text (``text/plain``),
            bytes (as given), or ``None`` for an empty body.
        headers: extra headers.
        drop: send nothing and close the connection (the request was taken, its answer lost).
        delay: seconds to wait before answering (or dropping).
        close: close the connection after the answer.
    """

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0
    close: bool = False


Handler = Callable[[HttpRequest], HttpReply | None]
"""Answers one request; ``None`` is a 404."""


def _encode(reply: HttpReply) -> bytes:
    body = reply.body
    ctype = None
    if body is None:
        data = b""
    elif isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data, ctype = body.encode(), "text/plain; charset=utf-8"
    else:
        data, ctype = json.dumps(body, separators=(",", ":")).encode(), "application/json"
    phrase = HTTPStatus(reply.status).phrase if reply.status in HTTPStatus._value2member_map_ else "Status"
    lines = [f"HTTP/1.1 {reply.status} {phrase}"]
    if ctype is not None:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {len(data)}")
    lines.extend(f"{k}: {v}" for k, v in reply.headers.items())
    if reply.close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


async def _serve_one(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handle: Callable[[HttpRequest], Awaitable[HttpReply | None]],
) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, _version = lines[0].split(" ", 2)
            except ValueError:
                writer.write(_encode(HttpReply(400, "bad request line", close=True)))
                return
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            length = int(headers.get("content-length", "0") or 0)
            if length > _MAX_BODY:
                writer.write(_encode(HttpReply(413, "request too large", close=True)))
                return
            body = await reader.readexactly(length) if length else b""
            parts = urlsplit(target)
            request = HttpRequest(method.upper(), parts.path, dict(parse_qsl(parts.query)), headers, body)
            reply = await handle(request)
            if reply is None:
                reply = HttpReply(404, {"code": "NOT_FOUND", "message": f"no route {parts.path}"})
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.drop:
                writer.transport.abort()
                return
            writer.write(_encode(reply))
            await writer.drain()
            if reply.close or headers.get("connection", "").lower() == "close":
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    except asyncio.CancelledError:
        # The simulator is stopping with a keep-alive connection open.  The connection ends
        # here; the handler returns normally, as Python 3.11's stream callback logs an error for
        # a handler task that ends cancelled.
        return
    finally:
        writer.close()


async def serve_http(
    handle: Callable[[HttpRequest], Awaitable[HttpReply | None]],
    host: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> asyncio.Server:
    """Start the server on ``host`` and a free port (loop thread); its sockets tell the port."""
    return await asyncio.start_server(
        lambda r, w: _serve_one(r, w, handle), host, 0, ssl=ssl_context, limit=_MAX_HEAD
    )
