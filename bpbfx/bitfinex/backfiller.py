"""Trade backfill for :class:`~bpbfx.bitfinex.client.BitfinexClient`: the I/O around the core.

:class:`Backfiller` owns what the sans-I/O :class:`~bpbfx.bitfinex.backfill.TradeBackfill`
cannot: which channels it tracks (the trades channels of trading pairs, added and removed with
the subscriptions), the history reads (a :class:`~bpbfx.bitfinex.public_rest.TradeHistoryReader`,
the ``<client>-backfill`` thread), and carrying out the core's outcomes outside the client's
lock: ``on_backfill`` (recorders) with the answer's text, then the backfilled trades through the
client's normal delivery, the spans given up reported as :class:`~bpbfx.TradeGapError`, and the
retries.  The reader thread's part (``live()`` for every trade, ``snapshot()`` for a trades
snapshot) is called by the client's frame handler on the core directly.  Every public method
of the feature is documented on the client.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..exceptions import BpbfxError, ClientClosedError
from .backfill import BackfillOutcome, FetchHistory, TradeBackfill
from .channels import Subscription
from .public_rest import TradeHistoryReader

if TYPE_CHECKING:
    import threading

    from .client import BitfinexClient

__all__ = ["NO_ENDPOINT", "Backfiller"]

NO_ENDPOINT = (
    "no REST endpoint to read the trade history from: the client's url is not Bitfinex's and no rest_url "
    "was given (give rest_url=, e.g. a simulator's http_url)"
)
"""Why every span is given up by a client that has nowhere to read the history from."""


class Backfiller:
    """The trade backfill of one Bitfinex client (see the module docstring).

    Args:
        client: the owning client (its lock, delivery, hooks and reports).
        core: the backfill core.
        reader: reads the trade history (``None``: there is no endpoint; every span is given up).
    """

    def __init__(self, client: BitfinexClient, core: TradeBackfill, reader: TradeHistoryReader | None) -> None:
        self._client = client
        self.core = core
        self.reader = reader

    # ------------------------------------------------------------------ channels (under the lock)
    def track(self, sub: Subscription) -> None:
        """Track ``sub`` when it is the trades channel of a trading pair (not ``trades:f*``)."""
        symbol = sub.symbol
        if sub.channel == "trades" and symbol is not None and symbol.startswith("t"):
            self.core.add(sub.stream, symbol)

    def untrack(self, stream: str) -> None:
        """Stop tracking ``stream`` (unsubscribed or refused)."""
        self.core.remove(stream)

    # ------------------------------------------------------------------ requests (outside the lock)
    def request(self, fetch: FetchHistory) -> None:
        """Make ``fetch`` (any client thread).  A client never started (a replay) leaves it
        pending, for :meth:`replay` to answer; a closed one drops it."""
        client = self._client
        if not client._started or client.closed:
            return
        reader = self.reader
        if reader is None:
            with client._lock:
                outcome = self.core.failed(fetch, NO_ENDPOINT, time.monotonic(), retry=False)
            self.carry_out(fetch.stream, outcome)
        else:
            reader.submit(fetch)  # False: the client is closing

    def answer(self, fetch: FetchHistory, status: int | None, body: bytes, failure: str | None) -> None:
        """A history read's answer (backfill thread).  An unexpected failure while taking it is
        reported and counts as a failed request."""
        try:
            self._answer(fetch, status, body, failure)
        except Exception as exc:  # noqa: BLE001 - the thread and the channel go on; reported
            error = BpbfxError(f"{fetch.stream}: trade backfill failed ({type(exc).__name__}: {exc})",
                               stream=fetch.stream)
            error.__cause__ = exc
            self._client.report_error(error)
            with self._client._lock:
                outcome = self.core.failed(fetch, f"{type(exc).__name__}: {exc}", time.monotonic())
            self.carry_out(fetch.stream, outcome)

    def _answer(self, fetch: FetchHistory, status: int | None, body: bytes, failure: str | None) -> None:
        core = self.core
        text = ""
        with self._client._lock:
            now = time.monotonic()
            if status == 200:
                outcome = core.answered(fetch, body, now)
            else:
                if failure is None:
                    excerpt = "rate limited" if status == 429 else body[:120].decode("utf-8", "replace").strip()
                    where = f"GET {self.reader.base_url if self.reader is not None else ''}{fetch.path}"
                    failure = f"HTTP {status} from {where}" + (f": {excerpt}" if excerpt else "")
                outcome = core.failed(fetch, failure, now)
        if outcome.events:
            text = body.decode("utf-8", "replace")
        self.carry_out(fetch.stream, outcome, text)

    def replay(self, stream: str, data: str | bytes) -> None:
        """A recorded answer of ``stream`` (calling thread).

        Raises:
            ClientClosedError: the client is closed.
            ValueError: ``data`` is not a list of trades.
        """
        client = self._client
        if client.closed:
            raise ClientClosedError("BitfinexClient is closed")
        with client._lock:
            outcome = self.core.replayed(stream, data, time.monotonic())
        self.carry_out(stream, outcome, data if isinstance(data, str) else data.decode("utf-8", "replace"))

    def carry_out(self, stream: str, outcome: BackfillOutcome, text: str = "") -> None:
        """Hand ``text`` (the answer the trades came from) to ``on_backfill``, deliver the
        trades, report what was given up, make the next request (outside the lock)."""
        client = self._client
        if outcome.events:
            hook = client.on_backfill
            if hook is not None:
                client.call_hook("on_backfill", hook, stream, text)
            deliver = client._deliver
            for event in outcome.events:
                deliver(event)
        for error in outcome.errors:
            client.report_error(error)
        if outcome.fetch is not None:
            self.request(outcome.fetch)

    # ------------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        """Abort the read in progress (close() has begun; returns at once)."""
        if self.reader is not None:
            self.reader.stop()

    @property
    def threads(self) -> list[threading.Thread]:
        """The backfill thread, once started."""
        return self.reader.threads if self.reader is not None else []
