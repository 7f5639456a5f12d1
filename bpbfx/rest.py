"""REST requests for the exchange clients: one keep-alive HTTP client per client, abortable.

Every REST call bpbfx makes (Backpack depth snapshots, market rules, the clock, orders and
their reconciliation, trade history; Bitfinex order history and public trade history) goes
through :class:`RestClient`, built on ``urllib3``'s connection pool, so that:

- connections are kept alive and reused (no TCP and TLS handshake per request);
- nothing is ever retried here: a request is sent at most once (callers decide what a failure
  means: an order in doubt is reconciled, never re-sent);
- a whole request, however slowly the answer trickles in, is bounded by a deadline, not by a
  per-read timeout;
- :meth:`RestClient.close` aborts every request in progress at once, from any thread: sockets
  are opened here with an abortable connect (polled every 50 ms) and shut down on close;
- failures say whether the request may have reached the server (``maybe_sent``), which is what
  an order's exactly-once rule needs to know.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ReadTimeoutError,
)

from .exceptions import ConfigurationError, ProxyError, RequestAbortedError, RequestFailedError
from .proxy import Proxy, proxy_headers, tunnel
from .transport import connect_tcp

__all__ = ["PendingRequest", "RequestAbortedError", "RequestFailedError", "RestClient", "RestResponse"]

MAX_BODY = 64 * 1024 * 1024
"""The largest answer read, bytes."""


@dataclass(frozen=True, slots=True)
class RestResponse:
    """One HTTP answer: ``status``, ``headers`` (lower-case names) and the raw ``body``."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body decoded as JSON (numbers kept as exact text by the caller's decoder where
        that matters; this one is for small control answers).

        Raises:
            ValueError: the body is not JSON.
        """
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """The body as text (invalid UTF-8 replaced)."""
        return self.body.decode("utf-8", "replace")


class _Sockets:
    """The sockets of one :class:`RestClient`'s connections, so that close() can shut them."""

    __slots__ = ("closed", "lock", "socks")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.socks: set[socket.socket] = set()
        self.closed = False

    def add(self, sock: socket.socket) -> None:
        with self.lock:
            if self.closed:
                sock.close()
                raise _Aborted
            self.socks.add(sock)

    def discard(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self.lock:
                self.socks.discard(sock)

    def abort(self) -> None:
        with self.lock:
            self.closed = True
            socks = list(self.socks)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked read at once, TLS included
            except OSError:
                pass


class _Aborted(Exception):
    """The client is closing."""


class _ProxyFailed(Exception):
    """Carries a :class:`ProxyError` through urllib3 (which wraps what a connection raises)."""

    def __init__(self, error: ProxyError) -> None:
        super().__init__(str(error))
        self.error = error


class _AbortableMixin:
    """Opens the TCP connection with :func:`~bpbfx.transport.connect_tcp` (abortable every
    50 ms) and registers its socket with the owning :class:`RestClient`."""

    _bpbfx_sockets: _Sockets
    _bpbfx_proxy: Proxy | None
    _dns_host: str
    port: int
    timeout: Any
    sock: socket.socket | None

    def _new_conn(self) -> socket.socket:
        sockets = self._bpbfx_sockets
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else 10.0
        deadline = time.monotonic() + timeout
        proxy = self._bpbfx_proxy
        host, port = (self._dns_host, self.port) if proxy is None else (proxy.host, proxy.port)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            if proxy is not None:
                failure = ProxyError(f"cannot resolve proxy {proxy.safe_url}: {exc}", proxy=proxy.safe_url)
                raise _ProxyFailed(failure) from None
            raise NewConnectionError(self, f"cannot resolve {host}: {exc}") from exc  # type: ignore[arg-type]
        error: OSError = OSError(f"no address for {host}")
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            sockets.add(sock)
            try:
                connect_tcp(sock, address, deadline, lambda: sockets.closed)
            except InterruptedError:
                sockets.discard(sock)
                sock.close()
                raise _Aborted from None
            except TimeoutError as exc:
                sockets.discard(sock)
                sock.close()
                raise ConnectTimeoutError(
                    self, f"no answer from {self._dns_host}:{self.port} within {timeout:g}s"
                ) from exc
            except OSError as exc:
                sockets.discard(sock)
                sock.close()
                error = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if proxy is not None:
                try:
                    tunnel(sock, proxy, self._dns_host, self.port, deadline)
                except ProxyError as exc:
                    sockets.discard(sock)
                    sock.close()
                    raise _ProxyFailed(exc) from None
                except OSError as exc:
                    sockets.discard(sock)
                    sock.close()
                    if sockets.closed:
                        raise _Aborted from None
                    raise _ProxyFailed(
                        ProxyError(f"proxy {proxy.safe_url}: tunnel to {self._dns_host}:{self.port} failed: {exc}",
                                   proxy=proxy.safe_url)
                    ) from None
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            return sock
        if proxy is not None:
            raise _ProxyFailed(ProxyError(f"could not reach proxy {proxy.safe_url}: {error}", proxy=proxy.safe_url))
        raise NewConnectionError(self, f"could not connect to {host}:{port}: {error}")  # type: ignore[arg-type]

    def close(self) -> None:
        sock = self.sock
        super().close()  # type: ignore[misc]
        self._bpbfx_sockets.discard(sock)


class _HTTPConnection(_AbortableMixin, HTTPConnection):
    def __init__(self, *args: Any, bpbfx_sockets: _Sockets, bpbfx_proxy: Proxy | None, **kwargs: Any) -> None:
        self._bpbfx_sockets = bpbfx_sockets
        self._bpbfx_proxy = bpbfx_proxy
        super().__init__(*args, **kwargs)


class _HTTPSConnection(_AbortableMixin, HTTPSConnection):
    def __init__(self, *args: Any, bpbfx_sockets: _Sockets, bpbfx_proxy: Proxy | None, **kwargs: Any) -> None:
        self._bpbfx_sockets = bpbfx_sockets
        self._bpbfx_proxy = bpbfx_proxy
        super().__init__(*args, **kwargs)


class RestClient:
    """Keep-alive HTTP requests to one base URL (``https://api.backpack.exchange``,
    ``http://127.0.0.1:PORT`` for a simulator).  Thread-safe: any thread may call
    :meth:`request` or :meth:`send`; up to ``maxsize`` idle connections are kept for reuse.

    :meth:`send` writes a request on the calling thread and returns a :class:`PendingRequest`
    whose :meth:`~PendingRequest.finish` reads the answer, possibly on another thread: an order
    leaves at once from the thread that decided it while the answer is awaited elsewhere.
    :meth:`request` does both.

    Args:
        base_url: scheme, host, port and an optional path prefix.
        timeout: default whole-request deadline, seconds.
        ssl_context: TLS settings for ``https://`` (default: the system's verification).
        maxsize: idle connections kept alive.
        user_agent: the ``User-Agent`` header.
        proxy: go through this proxy (see :mod:`bpbfx.proxy`): a ``CONNECT`` or SOCKS tunnel for
            ``https://``; for plain ``http://`` through an HTTP proxy, requests in absolute form.
        idle_timeout: an idle connection older than this is not reused (servers close idle
            keep-alive connections; a request sent on one they just closed is in doubt).

    Raises:
        ConfigurationError: ``base_url`` is not an ``http://`` or ``https://`` URL.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        maxsize: int = 4,
        user_agent: str = "bpbfx",
        proxy: Proxy | None = None,
        idle_timeout: float = 15.0,
    ) -> None:
        split = urllib.parse.urlsplit(base_url)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise ConfigurationError(f"REST URL must be http://host[:port] or https://host[:port], got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.maxsize = maxsize
        self.idle_timeout = idle_timeout
        self._prefix = split.path.rstrip("/")
        self._sockets = _Sockets()
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._secure = split.scheme == "https"
        self._host = split.hostname
        self._port = split.port or (443 if self._secure else 80)
        self._ssl_context = (ssl_context or ssl.create_default_context()) if self._secure else None
        self.proxy = proxy
        # Plain http:// through an HTTP proxy: absolute-form requests to the proxy itself.
        self._forward = proxy is not None and proxy.scheme == "http" and not self._secure
        self._origin = f"{split.scheme}://{split.netloc}"
        if proxy is not None and self._forward:
            self._headers.update(proxy_headers(proxy))
        self._idle: deque[tuple[float, HTTPConnection]] = deque()
        self._idle_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<RestClient {self.base_url}{' closed' if self.closed else ''}>"

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._sockets.closed

    # ------------------------------------------------------------------ connections
    def _new_connection(self, timeout: float) -> HTTPConnection:
        conn: HTTPConnection
        if self._forward:
            assert self.proxy is not None
            conn = _HTTPConnection(
                self.proxy.host, self.proxy.port, timeout=timeout, bpbfx_sockets=self._sockets, bpbfx_proxy=None
            )
        elif self._secure:
            conn = _HTTPSConnection(
                self._host, self._port, timeout=timeout, bpbfx_sockets=self._sockets, bpbfx_proxy=self.proxy,
                ssl_context=self._ssl_context,
            )
        else:
            conn = _HTTPConnection(
                self._host, self._port, timeout=timeout, bpbfx_sockets=self._sockets, bpbfx_proxy=self.proxy
            )
        return conn

    def _take(self, timeout: float) -> tuple[HTTPConnection, bool]:
        """An idle connection still connected (True) or a new one (False)."""
        now = time.monotonic()
        with self._idle_lock:
            while self._idle:
                since, conn = self._idle.pop()
                if now - since < self.idle_timeout and conn.is_connected:
                    conn.timeout = timeout
                    return conn, True
                conn.close()
        return self._new_connection(timeout), False

    def _give_back(self, conn: HTTPConnection) -> None:
        with self._idle_lock:
            if self._sockets.closed or len(self._idle) >= self.maxsize:
                conn.close()
                return
            self._idle.append((time.monotonic(), conn))

    # ------------------------------------------------------------------ requests
    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> PendingRequest:
        """Write one request on the calling thread (connecting first when no connection is
        idle) and return the pending answer.  Never retried.

        Raises:
            RequestFailedError: no connection (``maybe_sent`` False) or the write failed.
            RequestAbortedError: :meth:`close` was called before or during the request.
            ProxyError: the proxy refused or could not be reached.
        """
        url = f"{self._prefix}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        if self._forward:
            url = self._origin + url  # absolute form, for the HTTP proxy
        where = f"{self.base_url}{path}"
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        if self._sockets.closed:
            raise RequestAbortedError(f"{method} {where} not sent: the client is closed", maybe_sent=False)
        conn, reused = self._take(limit)
        try:
            if conn.sock is None:
                conn.connect()
            conn.request(
                method, url, body=body, headers={**self._headers, **(headers or {})}, preload_content=False
            )
        except Exception as exc:  # noqa: BLE001 - translated once, here at the edge
            conn.close()
            # Nothing can have arrived unless bytes were written on a live connection: a reused
            # one may have taken (part of) the request before failing.
            raise self._failure(exc, method, where, limit, maybe_sent=reused and conn.sock is not None) from None
        except BaseException:
            conn.close()
            raise
        return PendingRequest(self, conn, method, where, deadline, limit)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> RestResponse:
        """Send one request and read the whole answer (calling thread).  Never retried.

        Args:
            method: ``GET``, ``POST``, ``DELETE``...
            path: below the base URL (``/api/v1/depth``).
            params: query string parameters.
            body: request body (with its ``Content-Type`` in ``headers``).
            headers: extra headers.
            timeout: whole-request deadline, seconds (default: the client's).

        Raises:
            RequestFailedError: no connection, reset, timeout, or an answer too large.
            RequestAbortedError: :meth:`close` was called before or during the request.
            ProxyError: the proxy refused or could not be reached.
        """
        return self.send(method, path, params=params, body=body, headers=headers, timeout=timeout).finish()

    def _failure(self, exc: Exception, method: str, where: str, limit: float, *, maybe_sent: bool) -> Exception:
        if isinstance(exc, _ProxyFailed):
            return exc.error
        proxied = _find(exc, _ProxyFailed)
        if proxied is not None:
            return proxied.error
        if isinstance(exc, _Aborted) or _find_aborted(exc) or self._sockets.closed:
            return RequestAbortedError(f"{method} {where} aborted: the client is closing", maybe_sent=maybe_sent)
        if isinstance(exc, (RequestFailedError, RequestAbortedError)):
            return exc
        failure = RequestFailedError(
            f"{method} {where} failed: {_describe(exc, limit)}", url=where, maybe_sent=maybe_sent
        )
        failure.__cause__ = exc
        return failure

    def close(self) -> None:
        """Abort every request in progress and close every connection (idempotent, any thread,
        returns at once)."""
        self._sockets.abort()
        with self._idle_lock:
            idle = [conn for _, conn in self._idle]
            self._idle.clear()
        for conn in idle:
            conn.close()


class PendingRequest:
    """A request written by :meth:`RestClient.send`, its answer not read yet.  :meth:`finish`
    reads it once, on any thread."""

    __slots__ = ("_client", "_conn", "_deadline", "_limit", "_method", "_where", "sent_at")

    def __init__(
        self, client: RestClient, conn: HTTPConnection, method: str, where: str, deadline: float, limit: float
    ) -> None:
        self._client = client
        self._conn = conn
        self._method = method
        self._where = where
        self._deadline = deadline
        self._limit = limit
        self.sent_at = time.monotonic()
        """``time.monotonic()`` when the request had been written."""

    def finish(self) -> RestResponse:
        """Read the whole answer (whichever thread calls it).

        Raises:
            RequestFailedError: reset, timeout or an answer too large (``maybe_sent`` True).
            RequestAbortedError: the client is closing.
        """
        conn, client = self._conn, self._client
        method, where, limit = self._method, self._where, self._limit
        response: Any = None
        try:
            sock = conn.sock
            if sock is not None:
                sock.settimeout(max(0.001, self._deadline - time.monotonic()))
            response = conn.getresponse()
            chunks: list[bytes] = []
            size = 0
            while True:
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    raise RequestFailedError(
                        f"{method} {where}: answer not complete within {limit:g}s", url=where, maybe_sent=True
                    )
                sock = conn.sock
                if sock is not None and sock.fileno() != -1:  # closed once the answer ended
                    sock.settimeout(remaining)
                chunk = response.read1(65536) if hasattr(response, "read1") else response.read(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_BODY:
                    raise RequestFailedError(
                        f"{method} {where}: answer larger than {MAX_BODY} bytes", url=where, maybe_sent=True
                    )
                chunks.append(chunk)
            headers = {k.lower(): v for k, v in response.headers.items()}
            result = RestResponse(response.status, b"".join(chunks), headers)
        except Exception as exc:  # noqa: BLE001 - translated once, here at the edge
            conn.close()
            raise client._failure(exc, method, where, limit, maybe_sent=True) from None
        except BaseException:
            conn.close()
            raise
        keep = headers.get("connection", "").lower()
        sock = conn.sock
        if keep == "close" or (response.version == 10 and keep != "keep-alive") or sock is None or sock.fileno() == -1:
            conn.close()
        else:
            client._give_back(conn)
        return result


def _find(exc: BaseException, kind: type[_ProxyFailed]) -> _ProxyFailed | None:
    """``exc`` or the first of its causes/contexts that is a ``kind`` (urllib3 wraps errors)."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, kind):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, kind) else None


def _find_aborted(exc: BaseException) -> bool:
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            return False
        if isinstance(current, _Aborted):
            return True
        current = current.__cause__ or current.__context__
    return False


def _may_have_sent(exc: BaseException) -> bool:
    """False only when the connection itself never came up (nothing was written)."""
    return not isinstance(exc, (NewConnectionError, ConnectTimeoutError))


def _describe(exc: BaseException, limit: float) -> str:
    if isinstance(exc, (ReadTimeoutError, TimeoutError)):
        return f"no complete answer within {limit:g}s"
    if isinstance(exc, (NewConnectionError, ConnectTimeoutError)):
        return str(exc).split(": ", 1)[-1]
    return f"{type(exc).__name__}: {exc}"
