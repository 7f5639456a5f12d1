"""Thread-safe writers of the ``bpbfx`` command: event lines on stdout (:class:`EventPrinter`)
and one-line reports on stderr (:class:`ErrorPrinter`)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from ..events import Event
from ..exceptions import TransportError
from .errors import describe
from .format import book_json, book_pretty, event_json, event_pretty

if TYPE_CHECKING:
    from ..live import OrderBookUpdate

__all__ = ["ErrorPrinter", "EventPrinter"]


class EventPrinter:
    """Serialises event lines from the clients' reader threads onto ``stream``.

    Counts lines against ``limit`` (``done`` is set when reached; later events are dropped),
    flushes every line on a terminal and on :meth:`flush` otherwise, and treats a closed pipe
    (``bpbfx stream ... | head``) as the end of the run.
    """

    def __init__(self, stream: IO[str], *, pretty: bool = False, limit: int | None = None) -> None:
        self.stream = stream
        self.format: Callable[[Event], str] = event_pretty if pretty else event_json
        self.format_book: Callable[[OrderBookUpdate], str] = book_pretty if pretty else book_json
        self.limit = limit
        self.count = 0
        self.done = threading.Event()
        self.broken = False
        self._lock = threading.Lock()
        try:
            self._tty = stream.isatty()
        except (AttributeError, ValueError):
            self._tty = False

    def event(self, client: Any, event: Event) -> None:
        """``on_message`` hook (reader thread)."""
        self.line(self.format(event))

    def book(self, client: Any, update: OrderBookUpdate) -> None:
        """``on_book`` hook (reader thread): the update plus the book's best levels."""
        self.line(self.format_book(update))

    def line(self, text: str) -> None:
        """Write one line (any thread)."""
        with self._lock:
            if self.done.is_set():
                return
            try:
                self.stream.write(text + "\n")
                if self._tty:
                    self.stream.flush()
            except (BrokenPipeError, ValueError):
                self._broken()
                return
            self.count += 1
            if self.limit is not None and self.count >= self.limit:
                self.done.set()

    def flush(self) -> None:
        """Flush buffered lines (main thread, periodically)."""
        with self._lock:
            if self.broken:
                return
            try:
                self.stream.flush()
            except (BrokenPipeError, ValueError):
                self._broken()

    def _broken(self) -> None:
        self.broken = True
        self.done.set()
        # Later writes by the interpreter (at exit) must not fail again on the closed pipe.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)


class ErrorPrinter:
    """``on_error`` hook: one line per error on stderr, prefixed with ``label``.

    Until the first connection opens, transport errors are only remembered (an unreachable
    host is then reported once, by the command, instead of once per retry).
    """

    def __init__(self, label: str, stream: IO[str] | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.opened = threading.Event()
        self.last_transport_error: BaseException | None = None
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, client: Any, exc: BaseException) -> None:
        if isinstance(exc, TransportError) and not self.opened.is_set():
            self.last_transport_error = exc
            return
        self.print(describe(exc), error=True)

    def print(self, text: str, *, error: bool = False) -> None:
        """One line on stderr (any thread); ``error`` counts it as an error."""
        with self._lock:
            if error:
                self.count += 1
            with contextlib.suppress(OSError, ValueError):
                self.stream.write(f"{self.label}: {text}\n")
                self.stream.flush()

    def on_open(self, client: Any) -> None:
        """``on_open`` hook (reader thread)."""
        self.opened.set()
