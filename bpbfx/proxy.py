"""Reaching the exchanges through an HTTP or SOCKS proxy.

Every connection bpbfx opens (WebSockets and REST) may go through a proxy:

- ``http://host:port`` (credentials in the URL: ``http://user:pass@host:port``): an HTTP
  ``CONNECT`` tunnel for ``wss://``, ``ws://`` and ``https://``; plain ``http://`` REST requests
  are sent to the proxy in absolute form, as HTTP proxies expect.
- ``socks5://`` (names resolved here) and ``socks5h://`` (names resolved by the proxy): through
  ``python-socks`` (the library websocket-client uses for SOCKS), installed with the ``proxy``
  extra: ``pip install "bpbfx[proxy]"``.

Which proxy applies is decided per URL by :func:`proxy_for`: an explicit ``proxy=`` option, or,
with ``proxy=None`` (the default), the environment as urllib and websocket-client read it:
``http_proxy`` for ``ws://`` and ``http://``, ``https_proxy`` for ``wss://`` and ``https://``,
``all_proxy`` otherwise, ``no_proxy`` to exempt hosts (upper-case names too); without any
``no_proxy``, ``localhost``, ``127.0.0.1`` and ``::1`` are reached directly, as websocket-client
does.  ``proxy=False`` means no proxy, whatever the environment says.

Connecting stays abortable: the TCP connection to the proxy is opened with
:func:`~bpbfx.transport.connect_tcp` (checked every 50 ms) and the tunnel handshake runs on that
socket, which the caller can shut down from another thread at any moment.  Proxy credentials
never appear in a message, a log line or a repr (:attr:`Proxy.safe_url`).
"""

from __future__ import annotations

import base64
import ipaddress
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .exceptions import ConfigurationError, ProxyAuthenticationError, ProxyError

__all__ = ["PROXY_SCHEMES", "Proxy", "ProxyOption", "proxy_for", "proxy_headers", "proxy_option", "tunnel"]

PROXY_SCHEMES: Final = ("http", "socks5", "socks5h")
_DEFAULT_PORTS: Final = {"http": 8080, "socks5": 1080, "socks5h": 1080}
_MAX_REPLY = 16384
_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True)
class Proxy:
    """A proxy to go through, parsed from its URL (see :meth:`parse`).

    The credentials are kept for the handshake only: :func:`repr`, :func:`str` and
    :attr:`safe_url` never show them, not even in part.
    """

    scheme: Literal["http", "socks5", "socks5h"]
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> Proxy:
        """``http://[user:pass@]host[:port]``, ``socks5://...`` or ``socks5h://...``.

        Raises:
            ConfigurationError: another scheme, no host or a bad port (the message shows the
                URL without its credentials).
        """
        split = urllib.parse.urlsplit(url.strip())
        safe = _mask(url)
        scheme = split.scheme.lower()
        if scheme == "socks":
            scheme = "socks5"
        if scheme == "https":
            raise ConfigurationError(
                f"proxy {safe}: TLS to the proxy itself is not supported; use http://, socks5:// or socks5h://"
            )
        if scheme not in PROXY_SCHEMES or not split.hostname:
            raise ConfigurationError(
                f"proxy must be http://host:port, socks5://host:port or socks5h://host:port "
                f"(credentials as user:pass@), got {safe}"
            )
        try:
            port = split.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            raise ConfigurationError(f"proxy {safe}: the port is not a number from 1 to 65535") from None
        username = urllib.parse.unquote(split.username) if split.username is not None else None
        password = urllib.parse.unquote(split.password) if split.password is not None else None
        return cls(scheme, split.hostname, port, username, password)  # type: ignore[arg-type]

    @property
    def safe_url(self) -> str:
        """The URL without credentials (``***@`` where there are some)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        auth = "***@" if self.username is not None or self.password is not None else ""
        return f"{self.scheme}://{auth}{host}:{self.port}"

    def __repr__(self) -> str:
        return f"Proxy({self.safe_url!r})"

    def __str__(self) -> str:
        return self.safe_url


ProxyOption = Proxy | str | Literal[False] | None
"""What a client's ``proxy=`` option takes: a :class:`Proxy` or its URL, ``False`` for none, or
``None`` for the environment's (``http_proxy``, ``https_proxy``, ``all_proxy``, ``no_proxy``)."""


def _mask(url: str) -> str:
    """``url`` with anything before an ``@`` in its authority replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    return f"{scheme}{sep}{authority}{slash}{path}"


def proxy_option(text: str | None) -> ProxyOption:
    """A proxy setting written as text (command line, config file): ``None`` or ``""`` for the
    environment's, ``"none"`` (or ``"direct"``) for no proxy, else a proxy URL (checked).

    Raises:
        ConfigurationError: not a valid proxy URL (the message hides its credentials).
    """
    if text is None or not text.strip():
        return None
    if text.strip().lower() in ("none", "direct", "off"):
        return False
    return Proxy.parse(text)


def proxy_for(option: ProxyOption, url: str) -> Proxy | None:
    """The proxy a connection to ``url`` goes through, or ``None`` for a direct connection.

    Raises:
        ConfigurationError: ``option`` (or the environment variable that applies) is not a
            valid proxy URL.
    """
    if option is False:
        return None
    if isinstance(option, Proxy):
        return option
    if isinstance(option, str):
        return Proxy.parse(option)
    if option is not None:
        raise ConfigurationError(f"proxy must be a URL, a bpbfx.Proxy, False or None, got {type(option).__name__}")
    split = urllib.parse.urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(split.scheme, split.scheme)
    proxies = urllib.request.getproxies_environment()
    chosen = proxies.get(scheme) or proxies.get("all")
    if not chosen or not split.hostname:
        return None
    if "no" not in proxies and split.hostname.lower() in _LOOPBACK:
        return None  # as websocket-client does: loopback is direct unless no_proxy says otherwise
    if urllib.request.proxy_bypass_environment(split.hostname, proxies):  # type: ignore[attr-defined]
        return None
    if "://" not in chosen:
        chosen = "http://" + chosen
    try:
        return Proxy.parse(chosen)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{exc.message} (from the {scheme}_proxy/all_proxy environment variable)") from None


def tunnel(sock: socket.socket, proxy: Proxy, host: str, port: int, deadline: float, *, label: str = "") -> None:
    """Turn ``sock``, connected to ``proxy``, into a tunnel to ``host:port`` by ``deadline``
    (``time.monotonic()``).  Another thread may shut ``sock`` down to abort.

    Raises:
        ProxyAuthenticationError: the proxy wants (other) credentials (HTTP 407, SOCKS auth).
        ProxyError: the proxy refused (HTTP status, SOCKS reply) or answered garbage.
        TimeoutError: no complete answer by the deadline.
        OSError: the socket failed (or was shut down).
    """
    prefix = f"{label}: " if label else ""
    sock.settimeout(max(0.001, deadline - time.monotonic()))
    if proxy.scheme == "http":
        _http_connect(sock, proxy, host, port, deadline, prefix)
    else:
        _socks_connect(sock, proxy, host, port, deadline, prefix)
    sock.settimeout(None)


def _authority(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


def _basic(proxy: Proxy) -> str:
    token = f"{proxy.username or ''}:{proxy.password or ''}".encode()
    return "Basic " + base64.b64encode(token).decode()


def proxy_headers(proxy: Proxy) -> dict[str, str]:
    """``Proxy-Authorization`` for an HTTP proxy with credentials (absolute-form requests)."""
    if proxy.username is None and proxy.password is None:
        return {}
    return {"Proxy-Authorization": _basic(proxy)}


def _http_connect(sock: socket.socket, proxy: Proxy, host: str, port: int, deadline: float, prefix: str) -> None:
    target = _authority(host, port)
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    lines.extend(f"{k}: {v}" for k, v in proxy_headers(proxy).items())
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
    reply = b""
    while b"\r\n\r\n" not in reply:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{prefix}proxy {proxy.safe_url} did not answer CONNECT {target} in time")
        sock.settimeout(remaining)
        chunk = sock.recv(4096)
        if not chunk:
            raise ProxyError(
                f"{prefix}proxy {proxy.safe_url} closed the connection instead of answering CONNECT {target}",
                proxy=proxy.safe_url,
            )
        reply += chunk
        if len(reply) > _MAX_REPLY:
            raise ProxyError(
                f"{prefix}proxy {proxy.safe_url} sent an over-long answer to CONNECT", proxy=proxy.safe_url
            )
    head, _, extra = reply.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProxyError(
            f"{prefix}proxy {proxy.safe_url} answered CONNECT with {status_line[:80]!r}", proxy=proxy.safe_url
        )
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    if status == 407:
        given = "the credentials given were refused" if proxy.username is not None else "it needs credentials"
        raise ProxyAuthenticationError(
            f"{prefix}proxy {proxy.safe_url} refused CONNECT {target}: HTTP 407 {reason} ({given}: "
            "put them in the proxy URL, http://user:pass@host:port)",
            proxy=proxy.safe_url,
            status=status,
        )
    if not 200 <= status < 300:
        raise ProxyError(
            f"{prefix}proxy {proxy.safe_url} refused CONNECT {target}: HTTP {status} {reason}",
            proxy=proxy.safe_url,
            status=status,
        )
    if extra:
        raise ProxyError(
            f"{prefix}proxy {proxy.safe_url} sent data before the tunnel to {target} was used", proxy=proxy.safe_url
        )


class _Connected:
    """The ``forward`` hop handed to python-socks: the socket to the proxy is already connected
    (abortably, by us), so python-socks runs only the SOCKS handshake on it."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def connect(self, dest_host: str, dest_port: int, timeout: float | None = None, **kwargs: Any) -> socket.socket:
        return self._sock


def _socks_connect(sock: socket.socket, proxy: Proxy, host: str, port: int, deadline: float, prefix: str) -> None:
    try:
        from python_socks import ProxyError as SocksError
        from python_socks import ProxyTimeoutError as SocksTimeout
        from python_socks import ProxyType
        from python_socks.sync import Proxy as SocksProxy
    except ImportError:
        raise ProxyError(
            f"{prefix}proxy {proxy.safe_url} is a SOCKS proxy, which needs the python-socks package: "
            'pip install "bpbfx[proxy]"',
            proxy=proxy.safe_url,
        ) from None
    hop: Callable[..., Any] = _Connected(sock)  # type: ignore[assignment]
    socks = SocksProxy(
        ProxyType.SOCKS5, proxy.host, proxy.port, proxy.username, proxy.password,
        rdns=proxy.scheme == "socks5h", forward=hop,  # type: ignore[arg-type]
    )
    try:
        socks.connect(host, port, timeout=max(0.001, deadline - time.monotonic()))
    except SocksTimeout as exc:
        raise TimeoutError(f"{prefix}proxy {proxy.safe_url} did not complete the SOCKS handshake in time") from exc
    except SocksError as exc:
        text = str(exc)
        cls = ProxyAuthenticationError if "auth" in text.lower() else ProxyError
        raise cls(
            f"{prefix}proxy {proxy.safe_url} refused the connection to {_authority(host, port)}: SOCKS {text}",
            proxy=proxy.safe_url,
            status=getattr(exc, "error_code", None),
        ) from None
