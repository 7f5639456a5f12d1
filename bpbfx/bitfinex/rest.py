"""Bitfinex's REST for the order core: the history reads, on a thread of their own.

The order core (:mod:`bpbfx.bitfinex.orders.history`) decides what it can of the requests left
in doubt and hands out :class:`~bpbfx.bitfinex.orders.HistoryLookup` values for the rest.
:class:`HistoryReader` carries them out: one **history thread** (``<client>-history``) signs
each read (:func:`~bpbfx.bitfinex.auth.rest_headers`, with a nonce from the key's shared source),
posts it through one keep-alive :class:`~bpbfx.rest.RestClient` (the client's proxy and TLS
settings), and hands the answer back.  It never runs on a reader thread and never holds the
client's lock while a request is out; every request is bounded by ``timeout`` and aborted by
:meth:`HistoryReader.stop`.  Nothing is retried here (the core decides what a failure means).

:class:`RestWorker` is that thread without what a task is: the trade backfill's public reads
(:mod:`bpbfx.bitfinex.public_rest`) run on a sibling.  :func:`rest_endpoint` and
:func:`public_rest_endpoint` say where a client's requests go.
"""

from __future__ import annotations

import json
import queue
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from typing import Generic, TypeVar

from ..exceptions import BpbfxError, ClientClosedError, ConfigurationError, ProxyError
from ..proxy import Proxy
from ..rest import RequestAbortedError, RequestFailedError, RestClient
from .auth import Credentials, rest_headers
from .orders import HistoryLookup

__all__ = ["PUBLIC_REST_URL", "REST_URL", "HistoryReader", "RestWorker", "public_rest_endpoint", "rest_endpoint"]

T = TypeVar("T")

REST_URL = "https://api.bitfinex.com"
"""Bitfinex's authenticated REST endpoint (https://docs.bitfinex.com/docs/rest-auth)."""
PUBLIC_REST_URL = "https://api-pub.bitfinex.com"
"""Bitfinex's public REST endpoint (https://docs.bitfinex.com/docs/rest-public)."""


def rest_endpoint(ws_url: str | None, rest_url: str | None) -> str | None:
    """The REST endpoint of a client on ``ws_url``: ``rest_url`` when given, Bitfinex's own
    when ``ws_url`` is Bitfinex's (or not given), else ``None`` (a client pointed elsewhere, a
    simulator, never signs requests for the real exchange by itself).  Pure.

    Raises:
        ConfigurationError: ``rest_url`` is not an ``http(s)://host[:port]`` URL.
    """
    return _endpoint(ws_url, rest_url, REST_URL)


def public_rest_endpoint(ws_url: str | None, rest_url: str | None) -> str | None:
    """The public REST endpoint (the trade history) of a client on ``ws_url``: ``rest_url``
    when given (a simulator's ``http_url`` serves both), Bitfinex's public one
    (:data:`PUBLIC_REST_URL`) when ``ws_url`` is Bitfinex's (or not given), else ``None``.  Pure.

    Raises:
        ConfigurationError: ``rest_url`` is not an ``http(s)://host[:port]`` URL.
    """
    return _endpoint(ws_url, rest_url, PUBLIC_REST_URL)


def _endpoint(ws_url: str | None, rest_url: str | None, bitfinex: str) -> str | None:
    if rest_url is None:
        if ws_url is None:
            return bitfinex
        host = urllib.parse.urlsplit(ws_url).hostname or ""
        return bitfinex if host == "bitfinex.com" or host.endswith(".bitfinex.com") else None
    split = urllib.parse.urlsplit(rest_url)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise ConfigurationError(f"rest_url must be http(s)://host[:port], got {rest_url!r}")
    return rest_url.rstrip("/")


#: ``(lookup, status, body, failure)``: the answer of a read (``status`` None: it failed, for ``failure``).
Answer = Callable[[HistoryLookup, "int | None", bytes, "str | None"], None]


class RestWorker(Generic[T]):
    """One thread of a client that carries out REST tasks one at a time, through one keep-alive
    :class:`~bpbfx.rest.RestClient` with the client's proxy and TLS settings: never a reader
    thread, never under the client's lock.  Subclasses say what a task is (:meth:`_carry_out`).

    Args:
        thread_name: the thread's name (``<client>-history``, ``<client>-backfill``).
        base_url: the REST endpoint.
        report: reports a problem of the thread itself (an exception out of a task).
        timeout: seconds one request may take, connect included.
        proxy / ssl_context: the client's.
    """

    def __init__(
        self,
        thread_name: str,
        base_url: str,
        *,
        report: Callable[[BaseException], None],
        timeout: float = 10.0,
        proxy: Proxy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.thread_name = thread_name
        self.base_url = base_url
        self._report = report
        self.timeout = timeout
        self._proxy = proxy
        self._ssl_context = ssl_context
        self._rest: RestClient | None = None
        self._tasks: queue.Queue[T | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self.requests = 0
        """Requests sent so far."""

    @property
    def thread(self) -> threading.Thread | None:
        """The thread, once started."""
        return self._thread

    @property
    def threads(self) -> list[threading.Thread]:
        """The thread in a list, once started (empty before)."""
        thread = self._thread
        return [thread] if thread is not None else []

    def _queue(self, task: T) -> bool:
        """Queue ``task`` (any thread; starts the thread on first use); False, doing nothing,
        after :meth:`stop`."""
        with self._lock:
            if self._stopped.is_set():
                return False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
                self._thread.start()
            self._tasks.put(task)
            return True

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
        """The keep-alive REST client (made on first use).

        Raises:
            RequestAbortedError: :meth:`stop` was called.
        """
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
            task = self._tasks.get()
            if task is None or self._stopped.is_set():
                return
            try:
                self._carry_out(task)
            except Exception as exc:  # noqa: BLE001 - the thread must go on; the error is reported
                error = BpbfxError(f"{self._failure_text(task)}: {type(exc).__name__}: {exc}")
                error.__cause__ = exc
                self._report(error)

    def _carry_out(self, task: T) -> None:
        """Carry out one task (this thread)."""
        raise NotImplementedError

    def _failure_text(self, task: T) -> str:
        """What failed, for the report of an exception out of :meth:`_carry_out`."""
        return f"{self.thread_name}: REST request failed"


class HistoryReader(RestWorker[HistoryLookup]):
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
        super().__init__(f"{name}-history", base_url, report=report, timeout=timeout, proxy=proxy,
                         ssl_context=ssl_context)
        self.name = name
        self._credentials = credentials
        self._nonce = nonce
        self._answer = answer

    def submit(self, lookup: HistoryLookup) -> None:
        """Queue a read (any thread; starts the thread on first use).  After :meth:`stop` the
        read is answered at once as not sent."""
        if not self._queue(lookup):
            self._answer(lookup, None, b"", "not sent: the client is closing")

    def _carry_out(self, lookup: HistoryLookup) -> None:
        status, body, failure = self._read(lookup)
        self._answer(lookup, status, body, failure)

    def _failure_text(self, lookup: HistoryLookup) -> str:
        return f"{self.name}: history read failed"

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
