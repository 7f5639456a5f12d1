"""What a client's ``unified=``, ``dispatch=`` and ``on_trade=``-style options ask for, as one
sink the client attaches to itself.

With none of those options no router exists and the native inline path is untouched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .dispatch import Dispatch, ThreadDispatcher
from .exceptions import ConfigurationError
from .sink import Sink, SinkHost
from .unified.convert import HOOK_NAMES, Converter, report_unmapped

if TYPE_CHECKING:
    from .events import Event
    from .live import OrderBookUpdate

__all__ = ["HookRouter", "make_router"]

_INLINE = Dispatch()


class HookRouter(Sink):
    """What a client's ``unified=``, ``dispatch=`` and ``on_trade=``-style options ask for,
    as one sink the client attaches to itself (see :func:`make_router`).

    - ``unified=True``: ``on_message`` receives unified events (:mod:`bpbfx.unified`) instead of
      native ones (the client stops calling it inline); native events with no unified
      counterpart are not delivered.  ``on_book`` keeps receiving native book updates.
    - typed hooks (``on_trade``, ``on_quote``, ...): called with unified events of their type.
    - ``dispatch="thread"``: every hook above, and the native ``on_message``/``on_book``, runs
      on the ``<client>-dispatch`` thread from a bounded queue (``maxsize``/``overflow``).

    ``on_message`` / ``on_book`` are read from the client when each event arrives, so assigning
    them later works.  Hooks run on the reader thread when inline.

    Raises:
        ConfigurationError: an unknown hook name.
        TypeError: a hook is not callable.
    """

    def __init__(
        self,
        client: SinkHost,
        *,
        unified: bool = False,
        dispatch: Dispatch = _INLINE,
        hooks: dict[str, Callable[[Any, Any], None] | None] | None = None,
    ) -> None:
        given = {name: hook for name, hook in (hooks or {}).items() if hook is not None}
        unknown = sorted(set(given) - set(HOOK_NAMES.values()))
        if unknown:
            raise ConfigurationError(
                f"unknown hook(s) {', '.join(unknown)}; unified hooks: {', '.join(HOOK_NAMES.values())}"
            )
        for name, hook in given.items():
            if not callable(hook):
                raise TypeError(f"{name} must be callable, got {type(hook).__name__}")
        self.unified = unified
        self.threaded = dispatch.threaded
        self._typed = {cls: (name, given[name]) for cls, name in HOOK_NAMES.items() if name in given}
        self._converter = Converter(client.exchange) if unified or self._typed else None
        self.dispatcher = (
            ThreadDispatcher(client, maxsize=dispatch.maxsize, overflow=dispatch.overflow) if self.threaded else None
        )

    @property
    def dropped(self) -> int:
        """Hook calls lost to a full dispatch queue (0 when inline)."""
        return self.dispatcher.stats().dropped if self.dispatcher is not None else 0

    def _call(self, client: SinkHost, name: str, hook: Callable[..., Any], arg: Any) -> None:
        dispatcher = self.dispatcher
        if dispatcher is not None:
            dispatcher.submit(name, hook, arg)
        else:
            client.call_hook(name, hook, arg)

    def _unified_out(self, client: SinkHost, out: tuple[Any, ...]) -> None:
        typed = self._typed
        message = client.on_message if self.unified else None
        for ev in out:
            entry = typed.get(type(ev))
            if entry is not None:
                self._call(client, entry[0], entry[1], ev)
            if message is not None:
                self._call(client, "on_message", message, ev)

    def on_event(self, client: SinkHost, event: Event) -> None:
        """Reader thread: route one native event."""
        conv = self._converter
        if conv is not None:
            out = conv.convert(event)
            if out:
                self._unified_out(client, out)
            elif conv.new_unmapped:
                report_unmapped(client, conv)
        if self.threaded and not self.unified:
            hook = client.on_message
            if hook is not None:
                self._call(client, "on_message", hook, event)

    def on_book(self, client: SinkHost, update: OrderBookUpdate) -> None:
        """Reader (or snapshot) thread: route one book update."""
        if self.threaded:
            hook = client.on_book
            if hook is not None:
                self._call(client, "on_book", hook, update)
        conv = self._converter
        if conv is not None:
            out = conv.convert_book(update)
            if out:
                self._unified_out(client, out)

    def on_detach(self, client: SinkHost) -> None:
        """Stop the dispatch thread, if any (after the calls already queued)."""
        if self.dispatcher is not None:
            self.dispatcher.close()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every dispatched call has run (True at once when inline)."""
        return self.dispatcher.wait_idle(timeout) if self.dispatcher is not None else True

    def stop(self) -> None:
        """The client is closing: drop queued calls, let the dispatch thread end (no blocking)."""
        if self.dispatcher is not None:
            self.dispatcher.stop()

    def threads(self) -> list[threading.Thread]:
        """The dispatch thread, once started (for the client's close() to join)."""
        d = self.dispatcher
        return [d.thread] if d is not None and d.started else []


def make_router(
    client: SinkHost,
    *,
    unified: bool = False,
    dispatch: Dispatch = _INLINE,
    hooks: dict[str, Callable[[Any, Any], None] | None] | None = None,
) -> HookRouter | None:
    """The :class:`HookRouter` a client needs for these options, or ``None`` when the plain
    inline native path serves them (so that path stays exactly as fast).

    Raises:
        ConfigurationError: an unknown hook name.
        TypeError: a hook is not callable.
    """
    if not unified and not dispatch.threaded and not any(h is not None for h in (hooks or {}).values()):
        return None
    return HookRouter(client, unified=unified, dispatch=dispatch, hooks=hooks)
