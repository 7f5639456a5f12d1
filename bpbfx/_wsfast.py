"""Buffered receive under ``websocket.WebSocketApp``: the one place that touches websocket-client
internals.

websocket-client reads every frame with two or three small ``recv`` calls (header, extended
length, payload) after a ``select()``, and runs its frame object, validation and app loop in
Python for each one.  :class:`FastDispatcher` is handed to ``run_forever(dispatcher=...)`` (a
supported parameter) and replaces only the *reading*:

- one ``recv`` of up to :data:`BUFFER_SIZE` bytes fills a userspace buffer; no ``select()`` at
  all (the socket is blocking; :class:`~bpbfx.transport.Connection` ends a connection by
  shutting the socket down, which wakes a blocked ``recv`` at once, TLS included);
- complete, unfragmented, unmasked text or binary frames with no reserved bits (first byte
  ``0x81``/``0x82``, second byte below 127: payload under 64 KiB) already in the buffer are cut
  out and handed to ``on_frame`` directly;
- anything else (ping, pong, close, a fragment, a continuation, reserved bits or opcodes, a masked
  frame, a 64-bit length, and every frame while a fragmented message is open) goes to
  websocket-client's own parser (``read_callback``), which reads from the same buffer first and
  then from the socket, so frames keep their order and RFC 6455 violations raise exactly as they
  do without the fast path; pings are answered (pong) and reported (``on_ping``) by
  websocket-client as before.

websocket-client keeps the handshake, every send, the close handshake and teardown.

Internals used (verified on websocket-client 1.9.2; :func:`supported` checks them at run time and
:class:`~bpbfx.transport.Connection` falls back to the stock reader when they differ):

- ``WebSocketApp.sock``: the ``websocket.WebSocket`` of the running attempt;
- ``WebSocket.frame_buffer.recv``: the function its frame parser reads bytes through (its own
  ``_recv``, which translates socket errors and end of stream into websocket-client
  exceptions); it is replaced by one that serves the buffer first.  Its parser asks for exactly
  the bytes it still needs (``recv_strict``), so it never reads past the frame it parses;
- ``WebSocket.frame_buffer.recv_buffer`` / ``.header``: empty between frames;
- ``WebSocket.cont_frame.recving_frames``: set while a fragmented message is open;
- the ``WrappedDispatcher`` protocol: ``signal(sig, handler)``, ``read(sock, read_callback)``,
  ``buffwrite(sock, data, send, on_disconnect)`` and ``timeout(seconds, callback, *args)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import websocket

__all__ = ["BUFFER_SIZE", "VERIFIED", "FastDispatcher", "supported"]

VERIFIED = ">=1.9.2,<1.10"
"""The websocket-client versions whose internals this module was verified against."""

BUFFER_SIZE = 16384
"""Bytes asked of the socket per ``recv``: one TLS record's worth.  A frame longer than this is
gathered over several reads.  ``bpbfx bench`` measured no throughput gain from 64 KiB reads,
and a longer callback-latency tail at 20,000 msg/s."""

_supported: bool | None = None


def _version_ok(version: str) -> bool:
    parts = version.split(".")
    try:
        major, minor, patch = int(parts[0]), int(parts[1]), int(parts[2].split("rc")[0] if len(parts) > 2 else 0)
    except (ValueError, IndexError):
        return False
    return (major, minor) == (1, 9) and patch >= 2


def supported() -> bool:
    """True when the installed websocket-client has the version and internals listed in the
    module docstring (checked once; any thread)."""
    global _supported
    if _supported is None:
        ok = _version_ok(getattr(websocket, "__version__", ""))
        if ok:
            try:
                probe = websocket.WebSocket(skip_utf8_validation=True)
                fb, cont = probe.frame_buffer, probe.cont_frame
                ok = (
                    callable(fb.recv)
                    and fb.recv_buffer == []
                    and fb.header is None
                    and hasattr(cont, "recving_frames")
                    and hasattr(websocket._app, "WrappedDispatcher")
                )
            except Exception:  # noqa: BLE001 - any surprise means: do not use the fast path
                ok = False
        _supported = ok
    return _supported


class FastDispatcher:
    """``dispatcher=`` for one ``WebSocketApp.run_forever`` call (one connection attempt).

    Args:
        app: the ``WebSocketApp`` that will run with this dispatcher.
        on_frame: called with the payload (bytes) of every data frame the fast path cuts out,
            on the reader thread, in arrival order with the frames websocket-client parses.  It
            must not raise (an exception ends the connection as an error, reported through
            ``on_error``).
        bufsize: bytes per ``recv``.

    All methods run on the thread that runs ``run_forever`` except :meth:`buffwrite`, which runs
    on whichever thread sends (websocket-client holds its send lock around it).
    """

    def __init__(
        self, app: websocket.WebSocketApp, on_frame: Callable[[bytes], None], bufsize: int = BUFFER_SIZE
    ) -> None:
        self._app = app
        self._on_frame = on_frame
        self._bufsize = bufsize
        self._buf = b""
        self._pos = 0
        self._fill: Callable[[int], bytes] | None = None
        self.fast_frames = 0
        """Frames cut out by the fast path (the rest went to websocket-client's parser)."""
        self.parsed_frames = 0
        """Times websocket-client's parser was called (control frames, fragments, ...)."""
        self.failure: BaseException | None = None
        """What ended the connection when the socket itself failed (reset, end of stream, a
        timeout) while it was meant to keep running; ``None`` when it ended by
        ``keep_running`` being cleared (close or reconnect) or by websocket-client's parser."""

    # ------------------------------------------------------------ WrappedDispatcher protocol
    def signal(self, sig: int, handler: Callable[..., Any]) -> None:
        """Called by websocket-client to install a SIGINT handler: not done here (a library
        must not take over the process's signals)."""

    def abort(self) -> None:
        """The handler websocket-client would install for SIGINT; nothing to do."""

    def timeout(self, seconds: float, callback: Callable[..., Any], *args: Any) -> None:
        """Only used by websocket-client for ``ping_timeout`` and ``reconnect``, neither of which
        bpbfx uses: run the callback now."""
        callback(*args)

    def buffwrite(
        self, sock: Any, data: bytes, send: Callable[[Any, bytes], int], on_disconnect: Callable[..., Any]
    ) -> None:
        """Write all of ``data`` with websocket-client's ``send`` (blocking socket).

        Raises:
            websocket.WebSocketConnectionClosedException: the socket took nothing.
            OSError: from the socket.
        """
        while data:
            sent = send(sock, data)
            if not sent:
                raise websocket.WebSocketConnectionClosedException("socket is already closed.")
            data = data[sent:]

    def _serve(self, bufsize: int) -> bytes:
        """websocket-client's parser reads through this: the buffer first, then the socket."""
        buf, pos = self._buf, self._pos
        if pos < len(buf):
            chunk = buf[pos : pos + bufsize]
            self._pos = pos + len(chunk)
            return chunk
        fill = self._fill
        assert fill is not None
        return fill(bufsize)

    def read(self, sock: Any, read_callback: Callable[[], bool]) -> None:
        """The read loop, until ``app.keep_running`` is cleared, websocket-client's parser says
        the connection ended (close frame, error), or the socket fails.

        A socket failure never propagates into ``run_forever``: there websocket-client would log
        it at ERROR level ("... - goodbye") on its ``websocket`` logger, also for the shutdown
        that :class:`~bpbfx.transport.Connection` itself causes on ``close()``.  Instead the
        failure is kept in :attr:`failure` (unless ``keep_running`` was cleared first: then it
        is the expected end of an aborted socket) and the connection is torn down through
        websocket-client's own path for a cleared ``keep_running`` (socket closed,
        ``on_close`` called).

        Raises:
            websocket.WebSocketException, OSError: from websocket-client's parser (an RFC 6455
                violation, a bad close frame...), which ``run_forever`` reports itself.
        """
        try:
            self._read(read_callback)
        except (websocket.WebSocketConnectionClosedException, websocket.WebSocketTimeoutException, OSError) as exc:
            app = self._app
            if app.keep_running:
                self.failure = exc
                app.keep_running = False
            read_callback()  # keep_running is cleared: websocket-client tears down quietly

    def _read(self, read_callback: Callable[[], bool]) -> None:
        """:meth:`read` without the translation of socket failures."""
        app = self._app
        ws = app.sock
        if ws is None:
            return
        fb = ws.frame_buffer
        cont = ws.cont_frame
        fill: Callable[[int], bytes] = fb.recv  # websocket-client's own _recv
        self._fill = fill
        fb.recv = self._serve
        on_frame = self._on_frame
        size = self._bufsize
        buf = b""
        pos = 0
        fast = 0
        mid_message = False  # websocket-client holds part of a fragmented message
        handed = False  # True while websocket-client's parser owns self._buf/_pos
        try:
            while app.keep_running:
                end = len(buf)
                # Cut out every complete fast-path frame (RFC 6455 5.2: FIN=1, RSV=0, opcode
                # 1 or 2, MASK=0 as a server must send, 7- or 16-bit length).
                while not mid_message and end - pos >= 2:
                    b0 = buf[pos]
                    if b0 != 0x81 and b0 != 0x82:
                        break
                    n = buf[pos + 1]
                    if n < 126:
                        start = pos + 2
                    elif n == 126:
                        if end - pos < 4:
                            break
                        n = (buf[pos + 2] << 8) | buf[pos + 3]
                        start = pos + 4
                    else:  # 127 (64-bit length) or the MASK bit: websocket-client's parser
                        break
                    stop = start + n
                    if stop > end:
                        break
                    pos = stop
                    fast += 1
                    on_frame(buf[start:stop])
                if not app.keep_running:
                    break
                avail = end - pos
                if mid_message or (avail >= 2 and not _fast_head(buf[pos], buf[pos + 1])):
                    # Not for the fast path: websocket-client parses it from the same buffer.
                    self._buf, self._pos = buf, pos
                    handed = True
                    self.parsed_frames += 1
                    more = read_callback()
                    buf, pos = self._buf, self._pos
                    handed = False
                    mid_message = bool(cont.recving_frames)
                    if not more:
                        return
                    continue
                # The frame at pos is incomplete (or the buffer is empty): read more.
                chunk = fill(size)
                if avail:
                    buf = buf[pos:] + chunk
                else:
                    buf = chunk
                pos = 0
            # keep_running was cleared (close or reconnect): websocket-client's read tears down.
            self._buf, self._pos = buf, pos
            handed = True
            read_callback()
        finally:
            self.fast_frames += fast
            if not handed:  # websocket-client's teardown may still read the rest of the buffer
                self._buf, self._pos = buf, pos


def _fast_head(b0: int, b1: int) -> bool:
    """True when a frame starting with these two bytes is one the fast path cuts out."""
    return (b0 == 0x81 or b0 == 0x82) and b1 < 127
