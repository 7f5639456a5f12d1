"""What the transport benchmarks share: the server side of a WebSocket on plain sockets, the
loopback certificate, the counters, the stock-reader switch and the machine description.

The server side here is just enough RFC 6455 for a benchmark server: read the HTTP upgrade
request, answer it, write unmasked server frames, read (masked) client frames and answer the
client's close frame.  :mod:`bpbfx.bench.blaster` builds its streams on it; the throughput
matrix and the latency and memory runs measure with :class:`Counter`.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import platform
import resource
import ssl
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "CHUNK_BYTES",
    "TIMEOUT",
    "Counter",
    "LoopbackTLS",
    "accept_upgrade",
    "aggregate_rate",
    "context_switches",
    "cpu_model",
    "drain",
    "loopback_tls",
    "machine_line",
    "read_client_frame",
    "read_request",
    "send_all",
    "stock_reader",
    "wait_all",
    "ws_frame",
]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CHUNK_BYTES = 256 * 1024
"""Bytes per ``sendall`` of a pre-encoded stream."""

TIMEOUT = 120.0
"""Seconds a run may take before the benchmark gives up on it."""


# ================================================================================ server side of RFC 6455
def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked server-to-client frame (FIN set)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, n))
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


def send_all(conn: Any, frames: list[bytes]) -> None:
    """Write pre-encoded frames in :data:`CHUNK_BYTES` writes (everything is encoded before the
    first write, so the server's own Python work never paces the stream)."""
    data = memoryview(b"".join(frames))
    for i in range(0, len(data), CHUNK_BYTES):
        conn.sendall(data[i : i + CHUNK_BYTES])


def read_client_frame(rfile: Any) -> tuple[int, bytes] | None:
    """Read one (masked) client frame: ``(opcode, payload)``; None at end of stream."""
    head = rfile.read(2)
    if len(head) < 2:
        return None
    opcode = head[0] & 0x0F
    n = head[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", rfile.read(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", rfile.read(8))[0]
    mask = rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    payload = bytearray(rfile.read(n))
    for j in range(len(payload)):
        payload[j] ^= mask[j & 3]
    return opcode, bytes(payload)


def drain(conn: Any, rfile: Any) -> None:
    """Read client frames until the client leaves; answer its close frame."""
    while True:
        try:
            frame = read_client_frame(rfile)
        except OSError:
            return
        if frame is None:
            return
        if frame[0] == 0x8:
            try:
                conn.sendall(ws_frame(frame[1][:2], 0x8))
            except OSError:
                pass
            return


def read_request(conn: Any) -> tuple[str, dict[str, str], bytes | None] | None:
    """Read an HTTP request head: ``(path, query parameters, Sec-WebSocket-Key or None)``, or
    ``None`` when the peer closed first."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        request += chunk
    lines = request.split(b"\r\n")
    parts = urlsplit(lines[0].split(b" ")[1].decode())
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    keys = [line.split(b":", 1)[1].strip() for line in lines if line.lower().startswith(b"sec-websocket-key")]
    return parts.path, params, keys[0] if keys else None


def accept_upgrade(conn: Any, key: bytes) -> None:
    """Answer a WebSocket upgrade request (RFC 6455 4.2.2)."""
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


# ================================================================================ loopback TLS
@dataclass(frozen=True)
class LoopbackTLS:
    """Paths of a self-signed loopback certificate and contexts that use it."""

    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """Server-side context presenting the certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """Client-side context that verifies the peer against this certificate only (host name
        checked: connect to ``127.0.0.1`` or ``localhost``)."""
        return ssl.create_default_context(cafile=str(self.cert_file))


def loopback_tls(directory: Path) -> LoopbackTLS:
    """Write ``cert.pem`` and ``key.pem`` for 127.0.0.1 into ``directory`` (any thread).

    A throw-away self-signed certificate made with the ``cryptography`` package (a dependency):
    an ECDSA P-256 key and a certificate valid for one day for ``127.0.0.1`` and ``localhost``.
    Nothing is written anywhere but ``directory``, which the caller owns.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bpbfx loopback")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "cert.pem"
    key_file = directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return LoopbackTLS(cert_file, key_file)


# ================================================================================ counting (the measuring process)
@dataclass
class Counter:
    """The callback shared by every variant: counts calls and timestamps the first and the
    ``target``-th (``perf_counter``); ``done`` is set at the ``target``-th."""

    target: int
    count: int = 0
    first: float = 0.0
    last: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)

    def hit(self) -> None:
        """Count one message (on the thread that delivers it)."""
        n = self.count + 1
        self.count = n
        if n == 1:
            self.first = time.perf_counter()
        elif n == self.target:
            self.last = time.perf_counter()
            self.done.set()


def aggregate_rate(counters: Sequence[Counter]) -> float:
    """Messages per second over all counters: the sum of ``target - 1`` over the time from the
    earliest first to the latest last message (0.0 when that span is empty)."""
    span = max(c.last for c in counters) - min(c.first for c in counters)
    return sum(c.target - 1 for c in counters) / span if span > 0 else 0.0


def wait_all(counters: Sequence[Counter], what: str, timeout: float = TIMEOUT) -> None:
    """Wait until every counter reached its target.

    Raises:
        RuntimeError: one did not within ``timeout`` seconds in all (``what`` names the run).
    """
    deadline = time.monotonic() + timeout
    for c in counters:
        if not c.done.wait(max(0.0, deadline - time.monotonic())):
            raise RuntimeError(f"{what}: only {c.count} of {c.target} messages within {timeout:g}s")


def context_switches() -> int:
    """Voluntary + involuntary context switches of this process so far (getrusage)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


@contextmanager
def stock_reader(stock: bool) -> Iterator[None]:
    """While active with ``stock`` true, connections created (clients *started*) read through
    websocket-client's own reader instead of the buffered receive of :mod:`bpbfx._wsfast`.

    A :class:`~bpbfx.transport.Connection` takes its ``fast_receive`` default from
    ``_wsfast.supported()`` when it is created (in the client's ``start()``), so the switch
    answers ``False`` from that public function meanwhile.  Not thread-safe: the benchmarks
    start one variant at a time.
    """
    if not stock:
        yield
        return
    try:
        from .. import _wsfast
    except ImportError:  # a bpbfx without the buffered receive: it always reads the stock way
        yield
        return
    original = _wsfast.supported

    def never() -> bool:
        return False

    _wsfast.supported = never
    try:
        yield
    finally:
        _wsfast.supported = original


# ================================================================================ machine description
def cpu_model() -> str:
    """The CPU model name (``/proc/cpuinfo`` on Linux), or what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """``<cpu>, <n> cores (<m> usable), <system> <release>`` for a report's ``machine:`` line."""
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return f"{cpu_model()}, {cores} cores ({usable} usable), {platform.system()} {platform.release()}"
