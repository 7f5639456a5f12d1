"""Exit statuses, the two command-line errors, and how Ctrl-C / SIGTERM end a command."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "Terminated",
    "UsageError",
    "describe",
    "interrupted_status",
    "sigterm_raises",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """The command line asks for something invalid (exit status 2).  The message says what
    happened and what would be valid, in command-line words (options, variables)."""


class CommandError(Exception):
    """The command could not do its job (exit status 1)."""


class Terminated(BaseException):
    """Raised on the main thread by the SIGTERM handler of :func:`sigterm_raises`."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` on the main thread while the command runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted_status(exc: BaseException, bounded: bool) -> int:
    """Exit status after Ctrl-C / SIGTERM: 0 for a command that runs until stopped by design,
    130 (Ctrl-C) or 143 (SIGTERM) when it was cut short."""
    if not bounded:
        return EXIT_OK
    return EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else 128 + signal.SIGTERM


def describe(exc: BaseException) -> str:
    """``ClassName: message`` of an exception, for one line on stderr."""
    text = str(exc).strip() or repr(exc)
    return f"{type(exc).__name__}: {text}"
