"""Real proxies on 127.0.0.1 for the tests: an HTTP proxy (``CONNECT`` tunnels and absolute-form
forwarding) and a SOCKS5 proxy (RFC 1928, username/password per RFC 1929), each a threaded
server on a free port that records what it was asked and can refuse, or hold a handshake open."""

from __future__ import annotations

import base64
import selectors
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["HttpProxy", "Socks5Proxy", "relay"]


def relay(a: socket.socket, b: socket.socket, stop: threading.Event) -> None:
    """Copy bytes both ways until either side closes."""
    with selectors.DefaultSelector() as sel:
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        while not stop.is_set():
            for key, _ in sel.select(0.2):
                src: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = src.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    key.data.sendall(data)
                except OSError:
                    return


@dataclass
class _Server:
    """A threaded TCP server on 127.0.0.1 whose per-connection handler is ``handle``."""

    credentials: tuple[str, str] | None = None
    refuse: int | None = None
    hold: bool = False
    targets: list[str] = field(default_factory=list)
    auth_seen: list[str | None] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._accept, name="test-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._socks.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError:
            pass
        finally:
            conn.close()
            with self._lock:
                self._socks.discard(conn)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _seen(self, target: str, auth: str | None) -> None:
        with self._cond:
            self.targets.append(target)
            self.auth_seen.append(auth)
            self._cond.notify_all()

    def wait_targets(self, n: int, timeout: float = 10.0) -> bool:
        """Block until ``n`` connections were asked for."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.targets) >= n, timeout)

    def _open(self, host: str, port: int) -> socket.socket:
        return socket.create_connection((host, port), timeout=5)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HttpProxy(_Server):
    """HTTP proxy: ``CONNECT host:port`` tunnels, and absolute-form requests forwarded to the
    origin (one request per connection).  ``credentials`` demands Basic ``Proxy-Authorization``
    (407 otherwise); ``refuse`` answers every request with that status; ``hold`` reads the
    request and never answers."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        auth = headers.get("proxy-authorization")
        self._seen(target, auth)
        if self.hold:
            self._stop.wait()
            return
        if self.refuse is not None:
            conn.sendall(f"HTTP/1.1 {self.refuse} Refused\r\nContent-Length: 0\r\n\r\n".encode())
            return
        if self.credentials is not None:
            want = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
            if auth != want:
                conn.sendall(
                    b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="t"\r\n'
                    b"Content-Length: 0\r\n\r\n"
                )
                return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = self._open(host.strip("[]"), int(port))
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            conn.settimeout(None)
            with upstream:
                relay(conn, upstream, self._stop)
            return
        # Absolute form: http://host:port/path
        assert target.startswith("http://"), target
        hostport, _, path = target[len("http://") :].partition("/")
        host, _, port = hostport.partition(":")
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            rest += conn.recv(65536)
        forwarded = [f"{method} /{path} HTTP/1.1"] + [
            line for line in lines[1:] if not line.lower().startswith(("proxy-authorization:", "connection:"))
        ] + ["Connection: close"]
        with self._open(host, int(port or 80)) as upstream:
            upstream.sendall(("\r\n".join(forwarded) + "\r\n\r\n").encode("latin-1") + rest)
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                conn.sendall(chunk)


class Socks5Proxy(_Server):
    """SOCKS5 proxy: CONNECT to IPv4, IPv6 or a domain name; ``credentials`` demands
    username/password authentication; ``refuse`` answers CONNECT with that reply code (2: not
    allowed by ruleset); ``hold`` never answers the greeting (recorded as ``"<greeting>"``).  ``targets`` records each
    ``host:port`` asked for, with the domain as sent (socks5h) or the address (socks5)."""

    @property
    def url(self) -> str:
        return f"socks5://127.0.0.1:{self.port}"

    def url_with(self, user: str, password: str, scheme: str = "socks5") -> str:
        return f"{scheme}://{user}:{password}@127.0.0.1:{self.port}"

    def _read(self, conn: socket.socket, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = conn.recv(n - len(out))
            if not chunk:
                raise OSError("client went away")
            out += chunk
        return out

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        _version, count = self._read(conn, 2)
        methods = self._read(conn, count)
        if self.hold:
            self._seen("<greeting>", None)
            self._stop.wait()
            return
        auth: str | None = None
        if self.credentials is not None:
            if 2 not in methods:
                conn.sendall(b"\x05\xff")
                return
            conn.sendall(b"\x05\x02")
            _, ulen = self._read(conn, 2)
            user = self._read(conn, ulen).decode()
            (plen,) = self._read(conn, 1)
            password = self._read(conn, plen).decode()
            auth = f"{user}:{password}"
            if (user, password) != self.credentials:
                conn.sendall(b"\x01\x01")
                self._seen("<auth refused>", auth)
                return
            conn.sendall(b"\x01\x00")
        else:
            conn.sendall(b"\x05\x00")
        _, cmd, _, atyp = self._read(conn, 4)
        if atyp == 1:
            host = socket.inet_ntoa(self._read(conn, 4))
        elif atyp == 3:
            (length,) = self._read(conn, 1)
            host = self._read(conn, length).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, self._read(conn, 16))
        (port,) = struct.unpack("!H", self._read(conn, 2))
        self._seen(f"{host}:{port}", auth)
        if self.refuse is not None or cmd != 1:
            conn.sendall(bytes([5, self.refuse or 7, 0, 1, 0, 0, 0, 0, 0, 0]))
            return
        upstream = self._open(host, port)
        conn.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", 0))
        conn.settimeout(None)
        with upstream:
            relay(conn, upstream, self._stop)


@contextmanager
def env(**values: str) -> Iterator[None]:
    """Set environment variables for a block (both cases, as programs may read either)."""
    import os

    names = {k for name in values for k in (name.lower(), name.upper())}
    old = {k: os.environ.get(k) for k in names}
    try:
        for name, value in values.items():
            os.environ[name.lower()] = value
            os.environ[name.upper()] = value
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
