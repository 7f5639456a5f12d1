"""The frames of a recording decoded to native events with the clients' own decoders; no I/O.

- Backpack frames decode one by one (:func:`bpbfx.backpack.decode.decode`): every data frame
  names its stream.
- Bitfinex data frames name only a channel id, given by the ``subscribed`` reply on the same
  socket, and the first frame of a channel is its snapshot; so each socket of the recording
  (``conn``) gets a :class:`~bpbfx.bitfinex.protocol.BitfinexProtocol` of its own, without
  managed books, that takes every channel it is told about (``adopt_unrequested``).  It reads
  the sequence number and time a ``conf`` flag appends to a frame whether or not the recording
  says which flags were asked for (a time is told from a sequence number by its size), and it
  is reset by the recording's ``close`` and ``open`` records, as the live socket was.  What it
  would have reported live (a sequence gap, a server restart notice) becomes a warning.
"""

from __future__ import annotations

from typing import Any

from ..backpack.backfill import parse_rows
from ..backpack.decode import FrameDecoder
from ..backpack.decode import decode as backpack_decode
from ..backpack.streams import stream_symbol
from ..bitfinex.backfill import parse_history
from ..bitfinex.events import TradeUpdate
from ..bitfinex.outputs import Fatal, Reconnect, Report
from ..bitfinex.protocol import SEQ_ALL, TIMESTAMP, BitfinexProtocol
from ..events import Event
from .report import Problems

__all__ = ["FrameEvents"]

_FLAGS = SEQ_ALL | TIMESTAMP


class FrameEvents:
    """Native events from the ``frame`` records of one recording (all its parts) of one exchange.

    Not thread-safe: one per recording, called from one thread.
    """

    def __init__(self, exchange: str, problems: Problems) -> None:
        self.exchange = exchange
        self.problems = problems
        self._backpack = FrameDecoder()
        self._sockets: dict[int, BitfinexProtocol] = {}

    def frame(self, text: str, conn: int, where: str) -> Event | None:
        """The data event of one frame (None for control frames and replies); ``where``
        (``path:line``) names it in warnings.

        Raises:
            MalformedFrameError: the frame does not decode.
        """
        if self.exchange == "backpack":
            decoded = backpack_decode(text, self._backpack)
            return decoded if isinstance(decoded, Event) else None
        proto = self._sockets.get(conn)
        if proto is None:
            proto = self._sockets[conn] = BitfinexProtocol(flags=_FLAGS, adopt_unrequested=True)
        event = proto.receive(text, 0.0)
        if proto.outbox:
            self._outputs(proto, conn, where)
        return event

    def backfill(self, stream: str, text: str) -> list[Event]:
        """The trades of a ``backfill`` record (a trade history answer the client delivered
        as backfilled trades), each marked ``backfill``; the exporter writes each trade id once.

        Raises:
            ValueError: the answer is not a list of trade rows.
        """
        if self.exchange == "backpack":
            return list(parse_rows(stream, stream_symbol(stream) or "", text))
        symbol = stream.split(":", 1)[1] if ":" in stream else stream
        return [TradeUpdate(stream=stream, symbol=symbol, data=row, trade=entry, kind="executed")
                for entry, row in parse_history(text)]

    def _outputs(self, proto: BitfinexProtocol, conn: int, where: str) -> None:
        for output in proto.take_outputs():
            error: Any = None
            if isinstance(output, Report):
                error = output.error
            elif isinstance(output, (Reconnect, Fatal)):
                error = output.reason if isinstance(output, Reconnect) else output.error
            if error is not None:
                self.problems.warn(f"{where}: socket {conn}: {error}")

    def lifecycle(self, kind: str, conn: int | None) -> list[str]:
        """Play an ``open``, ``close`` or ``reconnect`` record; returns the streams whose book
        state ended with the socket (their deltas no longer follow the last snapshot)."""
        if conn is None or self.exchange != "bitfinex":
            return []
        proto = self._sockets.get(conn)
        if proto is None:
            return []
        if kind == "close":
            streams = [chan.stream for chan in proto.channels.values()]
            proto.connection_lost()
            return streams
        if kind == "open":
            proto.connection_made()
            proto.take_outputs()  # the requests a live socket would send now
        return []
