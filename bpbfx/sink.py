"""The contract between a client and what consumes its events.

A :class:`Sink` is attached to a client with ``client.add_sink(sink)`` and from then on sees every
event, book update and error the client delivers.  Pull queues (:class:`bpbfx.EventStream`),
thread dispatch, unified conversion, :class:`bpbfx.Feed` and the Redis publisher are all sinks.

What a sink may ask of the client it is attached to is :class:`SinkHost`: its name and exchange,
to report an error through the client's ``on_error`` (:meth:`SinkHost.report_error`), to run one
of the user's hooks with the client's exception guard (:meth:`SinkHost.call_hook`), to read its
managed books, and to attach or detach sinks.  Nothing else: a sink never reaches into a client's private state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .events import Event
    from .live import LiveBook, OrderBookUpdate

__all__ = ["Sink", "SinkHost"]


class SinkHost(Protocol):
    """What a sink may ask of the client it is attached to (every client implements it).

    Attributes:
        name: the client's name (thread names and messages).
        exchange: ``"backpack"`` or ``"bitfinex"``.
        on_message / on_book: the client's current hooks (read when an event arrives).
    """

    name: str
    on_message: Callable[[Any, Any], None] | None
    on_book: Callable[[Any, Any], None] | None

    @property
    def exchange(self) -> str:
        """``"backpack"`` or ``"bitfinex"``."""
        ...

    @property
    def closed(self) -> bool:
        """True once the client has been closed."""
        ...

    @property
    def books(self) -> dict[str, LiveBook]:
        """The client's managed order books by stream name (a copy of the mapping)."""
        ...

    def backfilled(self, stream: str) -> bool:
        """True when the client fetches what ``stream`` misses across a reconnect (a trade
        stream with ``backfill_trades``): a lost connection leaves no hole in it, and a hole
        that cannot be filled is reported as :class:`~bpbfx.TradeGapError`.  Any thread."""
        ...

    def report_error(self, error: BaseException) -> None:
        """Deliver ``error`` to the client's ``on_error`` (and its sinks' ``on_error``), or to the
        ``bpbfx`` logger when there is no hook.  Calling thread; never raises."""
        ...

    def call_hook(self, name: str, hook: Callable[..., Any] | None, *args: Any) -> None:
        """Run ``hook(client, *args)`` on the calling thread; whatever it raises is reported as a
        :class:`~bpbfx.CallbackError` naming ``name``.  Nothing runs after the client closed.
        Never raises."""
        ...

    def add_sink(self, sink: Sink) -> None:
        """Attach a sink (see :meth:`bpbfx.base.BaseClient.add_sink`)."""
        ...

    def remove_sink(self, sink: Sink) -> bool:
        """Detach a sink (see :meth:`bpbfx.base.BaseClient.remove_sink`)."""
        ...


class Sink:
    """A consumer attached to a client with ``client.add_sink(sink)``: it sees every event, book
    update and error the client delivers, after the user hooks, on the same thread (reader
    thread, watchdog thread for watchdog errors, the snapshot thread for a Backpack resync).
    Override what you need; every method does nothing by default.

    A sink must return quickly (hand work to its own thread) and should not raise: an exception
    is reported to ``on_error`` as a :class:`~bpbfx.CallbackError` and the client carries on.
    The first argument of every method is the client (a :class:`SinkHost`).
    """

    def on_event(self, client: SinkHost, event: Event) -> None:
        """An event handed to ``on_message``."""

    def on_book(self, client: SinkHost, update: OrderBookUpdate) -> None:
        """A managed order book changed (delta applied or rebuilt from a snapshot)."""

    def on_error(self, client: SinkHost, error: BaseException) -> None:
        """An error handed to ``on_error``."""

    def on_detach(self, client: SinkHost) -> None:
        """The sink was removed or the client closed; release resources here (calling thread)."""
