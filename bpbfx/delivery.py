"""Handing a client's events, book updates and errors to its hooks and sinks.

:class:`Delivery` is the one place where user code is called: it wraps every hook in the same
guard (an exception becomes a :class:`~bpbfx.CallbackError` on ``on_error``; a ``SystemExit`` or a
stray ``KeyboardInterrupt`` on a client thread cannot kill the thread), keeps the attached sinks
(copy-on-write: read without a lock on the hot path) and counts the errors it reported.  After
:meth:`Delivery.silence` (the end of ``close()``) nothing is called any more.

It runs on whichever thread hands it something: the reader thread for frames, the watchdog
thread for silence reports, the snapshot thread for a Backpack resync, the dispatch thread for
``dispatch="thread"``, the caller's thread for ``close()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .exceptions import CallbackError
from .sink import Sink

if TYPE_CHECKING:
    from .events import Event
    from .live import OrderBookUpdate

__all__ = ["Delivery"]

log = logging.getLogger("bpbfx")


class Delivery:
    """The hooks and sinks of one client (``host``): see the module docstring.

    ``host`` is the client: it is passed as the first argument of every hook and sink method,
    and its ``on_message``, ``on_book`` and ``on_error`` attributes are read when each call is
    made, so hooks assigned after construction are honoured.

    Attributes:
        inline_message: ``on_message`` is called here (False when a router sink calls it
            instead: ``unified=True`` or ``dispatch="thread"``).
        inline_book: ``on_book`` is called here (False with ``dispatch="thread"``).
        errors: reports delivered so far.
        errors_by_type: ``errors`` by the class name of the error reported.
    """

    __slots__ = ("_detached_drops", "_host", "_lock", "_sinks", "errors", "errors_by_type", "inline_book",
                 "inline_message", "silenced")

    def __init__(self, host: Any, lock: threading.RLock) -> None:
        self._host = host
        self._lock = lock
        self._sinks: tuple[Sink, ...] = ()
        self.inline_message = True
        self.inline_book = True
        self.errors = 0
        self.errors_by_type: dict[str, int] = {}
        self.silenced = False
        self._detached_drops = 0  # events lost by queues since detached (counts never go back)

    # ------------------------------------------------------------------ sinks
    @property
    def sinks(self) -> tuple[Sink, ...]:
        """The attached sinks, in attachment order."""
        return self._sinks

    def attach(self, sink: Sink) -> None:
        """Attach ``sink`` (idempotent; under the client lock)."""
        with self._lock:
            if sink not in self._sinks:
                self._sinks = (*self._sinks, sink)

    def detach(self, sink: Sink) -> bool:
        """Detach ``sink`` and call its ``on_detach``; False if it was not attached."""
        with self._lock:
            if sink not in self._sinks:
                return False
            self._sinks = tuple(s for s in self._sinks if s is not sink)
        self.sink_call(sink, "on_detach")
        self._detached_drops += int(getattr(sink, "dropped", 0) or 0)
        return True

    def dropped_events(self) -> int:
        """Events lost by the bounded queues of this client's sinks, attached now or before."""
        return self._detached_drops + sum(int(getattr(s, "dropped", 0) or 0) for s in self._sinks)

    def detach_all(self) -> None:
        """Detach every sink, calling each one's ``on_detach``."""
        with self._lock:
            sinks, self._sinks = self._sinks, ()
        for sink in sinks:
            self.sink_call(sink, "on_detach")

    def sink_call(self, sink: Sink, method: str, *args: Any) -> None:
        """``sink.<method>(host, *args)``, guarded like a hook."""
        try:
            getattr(sink, method)(self._host, *args)
        except Exception as exc:
            if method != "on_error":
                self.callback_failed(f"{type(sink).__name__}.{method}", exc)
            else:
                log.exception("%s: sink %r raised in on_error", self._host.name, sink)

    @property
    def wants_books(self) -> bool:
        """True when someone consumes book updates (an ``on_book`` hook or a sink)."""
        return self._host.on_book is not None or bool(self._sinks)

    # ------------------------------------------------------------------ delivery
    def event(self, event: Event) -> None:
        """Hand one event to ``on_message`` and the sinks: the hot path."""
        host = self._host
        hook = host.on_message
        if hook is not None and self.inline_message:
            try:
                hook(host, event)
            except Exception as exc:  # noqa: BLE001 - user code must never kill the connection
                self.callback_failed("on_message", exc)
            except BaseException as exc:  # noqa: BLE001 - SystemExit in a callback must not kill a thread
                self.callback_aborted("on_message", exc)
        sinks = self._sinks
        if sinks:
            for sink in sinks:
                self.sink_call(sink, "on_event", event)

    def book(self, update: OrderBookUpdate) -> None:
        """Hand a book update to ``on_book`` and the sinks."""
        hook = self._host.on_book if self.inline_book else None
        if hook is not None:
            self.call_hook("on_book", hook, update)
        for sink in self._sinks:
            self.sink_call(sink, "on_book", update)

    def call_hook(self, name: str, hook: Callable[..., Any] | None, *args: Any) -> None:
        """Run ``hook(host, *args)``; whatever it raises goes to ``on_error`` as a
        :class:`~bpbfx.CallbackError`.  Nothing runs once silenced."""
        if hook is None or self.silenced:
            return
        try:
            hook(self._host, *args)
        except Exception as exc:  # noqa: BLE001 - user code must never kill the connection
            self.callback_failed(name, exc)
        except BaseException as exc:  # noqa: BLE001 - SystemExit in a callback must not kill a thread
            self.callback_aborted(name, exc)

    def callback_aborted(self, name: str, exc: BaseException) -> None:
        """A callback raised a BaseException (SystemExit, a KeyboardInterrupt raised by hand on
        a client thread, ...).  It cannot stop the client: that would leave a dead connection
        behind.  It is reported as a :class:`CallbackError` and the client carries on; only a
        KeyboardInterrupt on the main thread (``feed()``) propagates, as Ctrl-C must."""
        if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
            raise exc
        err = CallbackError(
            f"{name} callback raised {type(exc).__name__}: {exc}; a callback cannot stop the client, "
            "call client.close() instead",
            hook=name,
            original=exc,
        )
        err.__cause__ = exc
        self.report(err)

    def callback_failed(self, name: str, exc: Exception) -> None:
        """Report an exception a callback raised, as a :class:`CallbackError`."""
        err = CallbackError(f"{name} callback raised {type(exc).__name__}: {exc}", hook=name, original=exc)
        err.__cause__ = exc
        self.report(err)

    def report(self, exc: BaseException) -> None:
        """Deliver an error to the sinks and ``on_error`` (or the ``bpbfx`` logger at WARNING
        when there is no hook); never raises (but a main-thread Ctrl-C inside ``on_error``)."""
        if self.silenced:
            return
        self.errors += 1
        by_type = self.errors_by_type
        kind = type(exc).__name__
        by_type[kind] = by_type.get(kind, 0) + 1
        host = self._host
        for sink in self._sinks:
            self.sink_call(sink, "on_error", exc)
        hook = host.on_error
        if hook is None:
            name = host.name
            text = str(exc)
            if text.startswith(name) and text[len(name) : len(name) + 1] in (":", "-"):
                log.warning("%s", text)  # the message names the connection already
            else:
                log.warning("%s: %s", name, text)
            return
        try:
            hook(host, exc)
        except Exception:
            log.exception("%s: on_error callback raised while handling %r", host.name, exc)
        except BaseException as aborted:
            if isinstance(aborted, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
                raise
            log.exception("%s: on_error callback raised %s while handling %r", host.name, type(aborted).__name__, exc)

    def silence(self) -> None:
        """No hook or sink is called from now on (the end of ``close()``)."""
        self.silenced = True
