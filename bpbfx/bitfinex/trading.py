"""Order entry for :class:`~bpbfx.bitfinex.client.BitfinexClient`: the I/O around the order core.

:class:`Trader` owns what the sans-I/O :class:`~bpbfx.bitfinex.orders.OrderCore` cannot: it
sends the core's frames on the trading socket (under the client's lock, so they leave in the
order they were queued), feeds it the trading socket's channel-0 events and state, carries out
its outputs outside the lock (``on_order``, futures, reports), and hands its history reads to a
:class:`~bpbfx.bitfinex.rest.HistoryReader` (the ``<client>-history`` thread), whose answers it
feeds back.  Every public method is documented on the client.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..exceptions import BpbfxError, ClientClosedError
from ..unified.orders import order_hook_argument
from . import orders as orders_mod
from .auth import nonce_source_for
from .events import ACCOUNT_STREAM
from .orders import BatchRequest, HistoryLookup, OrderChange, OrderCore, OrderInput, Request
from .outputs import Authenticated, Output, PauseWatchdog
from .rest import HistoryReader

if TYPE_CHECKING:
    import threading

    from .client import BitfinexClient

__all__ = ["Outputs", "Trader"]

R = TypeVar("R", bound=Request[Any])

Outputs = tuple[list[orders_mod.Completion], list[OrderChange], list[BpbfxError], list[HistoryLookup]]
"""What the core decided: completions, order changes, errors to report, history reads to make."""


class Trader:
    """Order entry of one Bitfinex client (see the module docstring).

    Args:
        client: the owning client (its lock, trading socket, hooks and reports).
        core: the order core.
        reader: reads the order history (``None``: the core does not ask for reads).
    """

    def __init__(self, client: BitfinexClient, core: OrderCore, reader: HistoryReader | None) -> None:
        self._client = client
        self.core = core
        self.reader = reader

    # ------------------------------------------------------------------ inputs (any thread)
    def submit(self, inp: OrderInput) -> Request[Any]:
        """Register ``inp`` and send its frame (calling thread).

        Raises:
            ClientClosedError: the client is closed.
        """
        return self._send(lambda: self.core.submit(inp))

    def submit_batch(self, ops: Sequence[OrderInput]) -> BatchRequest:
        """Register an ``ox_multi`` and send it (calling thread).

        Raises:
            ClientClosedError: the client is closed.
        """
        return self._send(lambda: self.core.submit_batch(ops))

    def _send(self, register: Callable[[], R]) -> R:
        with self._client._lock:
            if self._client.closed:
                raise ClientClosedError("BitfinexClient is closed; create a new one")
            req = register()
            out = self.take()
        self.run(out)
        return req

    # ------------------------------------------------------------------ the core's outputs
    def take(self) -> Outputs:
        """Send queued inputs on the trading socket and take the core's outputs (under the
        client's lock, like every send: frames leave in the order they were queued)."""
        core = self.core
        frames = core.take_frames()
        if frames:
            shard = self._client._trading_shard
            conn = shard.conn if shard is not None else None
            for text, reqs in frames:
                ok = conn.send(text) if conn is not None else False
                core.sent(reqs, ok)
        return core.take_completions(), core.take_changes(), core.take_errors(), core.take_lookups()

    def run(self, out: Outputs) -> None:
        """Run ``on_order``, complete futures, report problems and queue history reads
        (outside the lock)."""
        completions, changes, errors, lookups = out
        client = self._client
        for change in changes:
            client.call_hook("on_order", client.on_order, order_hook_argument(client, change))
        if completions:
            orders_mod.complete(completions)
        for error in errors:
            client.report_error(error)
        reader = self.reader
        if reader is not None:
            for lookup in lookups:
                reader.submit(lookup)

    def on_socket(self, outputs: list[Output], event: Any) -> Outputs | None:
        """The trading socket's channel-0 event and state changes (under the lock); ``None``
        when the core has nothing to carry out."""
        core = self.core
        for out in outputs:
            if isinstance(out, Authenticated):
                core.authenticated_now()
                self._client._refusals.pop("authentication", None)
            elif isinstance(out, PauseWatchdog):
                core.set_paused(out.paused)
        if event is not None and event.stream == ACCOUNT_STREAM:
            core.feed(event)
        if not core.has_output:
            return None
        return self.take()

    def check(self) -> None:
        """Timers: overdue replies, requests in doubt, history reads due (any client thread)."""
        with self._client._lock:
            self.core.check()
            out = self.take()
        self.run(out)

    def close(self) -> None:
        """The client closed: every undecided request fails."""
        with self._client._lock:
            self.core.close()
            out = self.take()
        self.run(out)

    def stop(self) -> None:
        """Abort the history read in progress (close() has begun; returns at once)."""
        if self.reader is not None:
            self.reader.stop()

    @property
    def threads(self) -> list[threading.Thread]:
        """The history thread, once started."""
        thread = self.reader.thread if self.reader is not None else None
        return [thread] if thread is not None else []

    # ------------------------------------------------------------------ the history thread
    def nonce(self) -> int | None:
        """The next nonce of the key for a REST request (history thread).

        Drawn under the client's lock while no authentication of the trading socket is on its
        way: the WebSocket's auth nonce is drawn and sent under the same lock, so a REST nonce
        never overtakes one the exchange has not seen yet (which would get the socket's auth
        refused with 10114).  ``None`` when the client closes or an authentication stays
        pending longer than the client's ``connect_timeout``."""
        client = self._client
        credentials = client.credentials
        if credentials is None:
            return None
        deadline = time.monotonic() + client.connect_timeout
        with client._ready_cond:
            while not client.closed:
                shard = client._trading_shard
                if shard is None or not shard.proto.auth_pending:
                    return nonce_source_for(credentials.api_key).next()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                client._ready_cond.wait(min(0.05, remaining))
        return None

    def answer(self, lookup: HistoryLookup, status: int | None, body: bytes, failure: str | None) -> None:
        """A history read's answer (history thread)."""
        with self._client._lock:
            self.core.looked_up(lookup, status, body, failure)
            out = self.take()
        self.run(out)
