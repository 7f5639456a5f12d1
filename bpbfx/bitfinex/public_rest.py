"""Bitfinex's public REST for the trade backfill: the trade history reads, on a thread of their own.

The backfill core (:mod:`bpbfx.bitfinex.backfill`) decides which spans of a trades channel to
ask for (:class:`~bpbfx.bitfinex.backfill.FetchHistory`).  :class:`TradeHistoryReader` carries
them out on one **backfill thread** (``<client>-backfill``, a sibling of the ``-history``
thread, :class:`~bpbfx.bitfinex.rest.RestWorker`): it waits each request's ``delay`` (the
core's pacing or retry delay), sends ``GET /v2/trades/{symbol}/hist`` through one keep-alive
:class:`~bpbfx.rest.RestClient` (the client's proxy and TLS settings) and hands the answer
back.  It never runs on a reader thread and never holds the client's lock; every request is
bounded by ``timeout``, and :meth:`TradeHistoryReader.stop` ends a wait or a request in
progress at once (that answer is never handed back).  Nothing is retried here (the core
decides what a failure means).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

from ..exceptions import ClientClosedError, ConfigurationError, ProxyError
from ..proxy import Proxy
from ..rest import RequestAbortedError, RequestFailedError
from .backfill import FetchHistory
from .rest import RestWorker

__all__ = ["TradeHistoryReader", "TradesAnswer"]

TradesAnswer = Callable[[FetchHistory, "int | None", bytes, "str | None"], None]
"""``(fetch, status, body, failure)``: the answer of a read (``status`` None: it failed, for
``failure``)."""


class TradeHistoryReader(RestWorker[FetchHistory]):
    """Carries out the trade backfill's history reads for one client (see the module docstring).

    Args:
        name: the client's name (the thread is ``<name>-backfill``).
        base_url: the public REST endpoint (``https://api-pub.bitfinex.com``; ``sim.http_url``
            in tests).
        answer: takes each answer (backfill thread).
        report: reports a problem of the thread itself.
        timeout: seconds one request may take, connect included.
        proxy / ssl_context: the client's.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        answer: TradesAnswer,
        report: Callable[[BaseException], None],
        timeout: float = 10.0,
        proxy: Proxy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(f"{name}-backfill", base_url, report=report, timeout=timeout, proxy=proxy,
                         ssl_context=ssl_context)
        self._answer = answer

    def submit(self, fetch: FetchHistory) -> bool:
        """Queue a read (any thread; starts the thread on first use); False, doing nothing,
        after :meth:`stop`."""
        return self._queue(fetch)

    def _carry_out(self, fetch: FetchHistory) -> None:
        if fetch.delay > 0 and self._stopped.wait(fetch.delay):
            return  # closing
        where = f"GET {self.base_url}{fetch.path}"
        try:
            rest = self._client()
            self.requests += 1
            response = rest.request("GET", fetch.path, params=fetch.params, timeout=self.timeout)
        except RequestAbortedError:
            return  # closing
        except (RequestFailedError, ProxyError, ClientClosedError, ConfigurationError) as exc:
            self._answer(fetch, None, b"", f"{where} failed: {exc}")
            return
        if self._stopped.is_set():
            return
        self._answer(fetch, response.status, response.body, None)

    def _failure_text(self, fetch: FetchHistory) -> str:
        return f"{fetch.stream}: trade backfill failed"
