"""The blaster: the benchmark server, in a process of its own.

A separate process (``multiprocessing`` spawn) so that it never competes for the measuring
process's GIL.  It listens on 127.0.0.1 twice, plain TCP and TLS (a self-signed ECDSA P-256
certificate made for the run by :func:`bpbfx.bench.harness.loopback_tls`; the clients verify
the server against that certificate only), serves each connection on its own thread, and
after the WebSocket handshake writes the stream the URL path names (:mod:`bpbfx.bench.streams`)
straight into the socket, so that the server is never the bottleneck:

========================================  ====================================================
``/bp/trade?n=N``                         Backpack trades, full speed
``/bp/rate?n=N&rate=R``                   Backpack trades, R per second, sender's clock in ``E``
``/bp/depth?n=N&levels=L``                Backpack depth deltas, L levels per side
``/bf/trades?n=N``                        Bitfinex ``te`` after the handshake
``/bf/book?n=N&entries=E``                Bitfinex P0 book updates of E entries + ``cs``
========================================  ====================================================

A plain HTTP request (no upgrade) is answered with the Backpack REST depth snapshot of the
``symbol`` it names (``L<levels>_USDC``).
"""

from __future__ import annotations

import multiprocessing
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

from .harness import accept_upgrade, drain, loopback_tls, read_request
from .streams import (
    depth_rest,
    write_bitfinex_book,
    write_bitfinex_trades,
    write_depth,
    write_trades,
    write_trades_at_rate,
)

__all__ = ["Blaster", "serve"]


def _handle(conn: Any) -> None:
    try:
        rfile = conn.makefile("rb")
        request = read_request(conn)
        if request is None:
            return
        path, params, key = request
        if key is None:  # REST: the depth snapshot
            levels = int(params.get("symbol", "L50_USDC")[1:].split("_")[0])
            body = depth_rest(levels)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            return
        accept_upgrade(conn, key)
        n = int(params.get("n", "100000"))
        if path == "/bp/trade":
            write_trades(conn, n)
        elif path == "/bp/rate":
            write_trades_at_rate(conn, n, float(params.get("rate", "5000")))
        elif path == "/bp/depth":
            write_depth(conn, n, int(params.get("levels", "50")))
        elif path == "/bf/trades":
            write_bitfinex_trades(conn, rfile, n)
        elif path == "/bf/book":
            write_bitfinex_book(conn, rfile, n, int(params.get("entries", "50")))
        drain(conn, rfile)
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def _accept_loop(listener: socket.socket, context: ssl.SSLContext | None) -> None:
    while True:
        raw, _ = listener.accept()
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def run(raw: socket.socket = raw) -> None:
            try:
                conn: Any = context.wrap_socket(raw, server_side=True) if context is not None else raw
            except (OSError, ssl.SSLError):
                raw.close()
                return
            _handle(conn)

        threading.Thread(target=run, daemon=True).start()


def serve(ready: Any, cert_file: str, key_file: str) -> None:
    """Blaster process entry point: a plain and a TLS listener on 127.0.0.1; both ports go on
    ``ready``; each connection is served on its own thread until the process is terminated."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    plain = socket.create_server(("127.0.0.1", 0), backlog=64)
    secure = socket.create_server(("127.0.0.1", 0), backlog=64)
    threading.Thread(target=_accept_loop, args=(secure, context), daemon=True).start()
    ready.put((plain.getsockname()[1], secure.getsockname()[1]))
    _accept_loop(plain, None)


class Blaster:
    """The blaster process with its certificate (context manager; used from one thread).

    Raises:
        queue.Empty: on enter, when the process did not report its ports within 30 seconds.
    """

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="bpbfx-bench-")
        self.tls = loopback_tls(Path(self._dir.name))
        ctx = multiprocessing.get_context("spawn")
        self._ready: Any = ctx.Queue()
        self._proc = ctx.Process(
            target=serve,
            args=(self._ready, str(self.tls.cert_file), str(self.tls.key_file)),
            name="bpbfx-blaster",
            daemon=True,
        )
        self.ports = (0, 0)

    def __enter__(self) -> Blaster:
        self._proc.start()
        self.ports = self._ready.get(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        self._proc.join(10)
        self._dir.cleanup()

    def url(self, path: str, secure: bool = False) -> str:
        """``ws://`` or ``wss://127.0.0.1:<port><path>``."""
        return f"{'wss' if secure else 'ws'}://127.0.0.1:{self.ports[1 if secure else 0]}{path}"

    def rest_url(self) -> str:
        """The plain port answers the Backpack REST snapshot."""
        return f"http://127.0.0.1:{self.ports[0]}"
