"""Bitfinex's authenticated REST for the order core: the history reads, on a thread of their own.

The order core (:mod:`bpbfx.bitfinex.orders.history`) decides what it can of the requests left
in doubt and hands out :class:`~bpbfx.bitfinex.orders.HistoryLookup` values for the rest.
:class:`HistoryReader` carries them out: one **history thread** (``<client>-history``) signs
each read (:func:`~bpbfx.bitfinex.auth.rest_headers`, with a nonce from the key's shared source),
posts it through one keep-alive :class:`~bpbfx.rest.RestClient` (the client's proxy and TLS
settings), and hands the answer back.  It never runs on a reader thread and never holds the
client's lock while a request is out; every request is bounded by ``timeout`` and aborted by
:meth:`HistoryReader.stop`.  Nothing is retried here (the core decides what a failure means).
"""

from __future__ import annotations

import json
import queue
import ssl
import threading
import urllib.parse
from collections.abc import Callable

from ..exceptions import BpbfxError, ClientClosedError, ConfigurationError, ProxyError
from ..proxy import Proxy
from ..rest import RequestAbortedError, RequestFailedError, RestClient
from .auth import Credentials, rest_headers
from .orders import HistoryLookup

__all__ = ["REST_URL", "HistoryReader", "rest_endpoint"]

REST_URL = "https://api.bitfinex.com"
"""Bitfinex's authenticated REST endpoint (https://docs.bitfinex.com/docs/rest-auth)."""


def rest_endpoint(ws_url: str | None, rest_url: str | None) -> str | None:
    """The REST endpoint of a client on ``ws_url``: ``rest_url`` when given, Bitfinex's own
    when ``ws_url`` is Bitfinex's (or not given), else ``None`` (a client pointed elsewhere, a
    simulator, never signs requests for the real exchange by itself).  Pure.

    Raises:
        ConfigurationError: ``rest_url`` is not an ``http(s)://host[:port]`` URL.
    """
    if rest_url is None:
        if ws_url is None:
            return REST_URL
        host = urllib.parse.urlsplit(ws_url).hostname or ""
        return REST_URL if host == "bitfinex.com" or host.endswith(".bitfinex.com") else None
    split = urllib.parse.urlsplit(rest_url)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise ConfigurationError(f"rest_url must be http(s)://host[:port], got {rest_url!r}")
    return rest_url.rstrip("/")

#: ``(lookup, status, body, failure)``: the answer of a read (``status`` None: it failed, for ``failure``).
Answer = Callable[[HistoryLookup, "int | None", bytes, "str | None"], None]


class HistoryReader:
    """Carries out history reads for one client (see the module docstring).

    Args:
        name: the client's name (the thread is ``<name>-history``).
        base_url: the REST endpoint (``https://api.bitfinex.com``; ``sim.http_url`` in tests).
        credentials: the API key and secret.
        nonce: returns the next nonce of the key, or ``None`` when none may be drawn now (it
            waits while the trading socket's authentication is on its way, so that a REST
            nonce never overtakes it); called on the history thread.
        answer: takes each answer (history thread).
        report: reports a problem of the thread itself.
        timeout: seconds one request may take, connect included.
        proxy / ssl_context: the client's.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        credentials: Credentials,
        *,
        nonce: Callable[[], int | None],
        answer: Answer,
        report: Callable[[BaseException], None],
        timeout: float = 10.0,
        proxy: Proxy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self._credentials = credentials
        self._nonce = nonce
        self._answer = answer
        self._report = report
        self.timeout = timeout
        self._proxy = proxy
        self._ssl_context = ssl_context
        self._rest: RestClient | None = None
        self._tasks: queue.Queue[HistoryLookup | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self.requests = 0
        """Requests sent so far."""

    @property
    def thread(self) -> threading.Thread | None:
        """The history thread, once started."""
        return self._thread

    def submit(self, lookup: HistoryLookup) -> None:
        """Queue a read (any thread; starts the thread on first use).  After :meth:`stop` the
        read is answered at once as not sent."""
        with self._lock:
            if self._stopped.is_set():
                stopped = True
            else:
                stopped = False
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=f"{self.name}-history", daemon=True)
                    self._thread.start()
                self._tasks.put(lookup)
        if stopped:
            self._answer(lookup, None, b"", "not sent: the client is closing")

    def stop(self) -> None:
        """Abort the request in progress and end the thread (idempotent, any thread, returns
        at once)."""
        with self._lock:
            self._stopped.set()
            rest = self._rest
        self._tasks.put(None)
        if rest is not None:
            rest.close()

    def _client(self) -> RestClient:
        with self._lock:
            if self._stopped.is_set():
                raise RequestAbortedError("the client is closing", maybe_sent=False)
            if self._rest is None:
                self._rest = RestClient(
                    self.base_url, timeout=self.timeout, ssl_context=self._ssl_context, proxy=self._proxy
                )
            return self._rest

    def _run(self) -> None:
        while True:
            lookup = self._tasks.get()
            if lookup is None or self._stopped.is_set():
                return
            try:
                status, body, failure = self._read(lookup)
                self._answer(lookup, status, body, failure)
            except Exception as exc:  # noqa: BLE001 - the thread must go on; the error is reported
                self._report(BpbfxError(f"{self.name}: history read failed: {type(exc).__name__}: {exc}"))

    def _read(self, lookup: HistoryLookup) -> tuple[int | None, bytes, str | None]:
        """One signed POST; ``(status, body, None)`` or ``(None, b"", why it failed)``."""
        where = f"POST {self.base_url}{lookup.path}"
        nonce = self._nonce()
        if nonce is None:
            why = "no nonce could be drawn (the client is closing or its authentication stayed pending)"
            return None, b"", f"{where} not sent: {why}"
        body = json.dumps(lookup.body(), separators=(",", ":"))
        try:
            headers = rest_headers(self._credentials, nonce, lookup.path, body)
            self.requests += 1
            response = self._client().request(
                "POST", lookup.path, body=body.encode(), headers=headers, timeout=self.timeout
            )
        except (RequestFailedError, RequestAbortedError, ProxyError, ClientClosedError, ConfigurationError) as exc:
            return None, b"", f"{where}: {exc}"
        return response.status, response.body, None
