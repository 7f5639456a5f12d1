"""Serving ``/metrics`` over HTTP: :func:`serve_metrics` and the :class:`MetricsServer` it
returns."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server

from .collector import BpbfxCollector, SampleSource

if TYPE_CHECKING:
    from ..base import BaseClient
    from ..recording import Recorder
    from ..sinks import RedisStreamReader, RedisStreamSink

__all__ = ["MetricsServer", "serve_metrics"]


class MetricsServer:
    """A running ``/metrics`` endpoint (made by :func:`serve_metrics`).

    Attributes:
        collector: the :class:`~bpbfx.metrics.BpbfxCollector` it serves (``add``/``remove``
            objects on it at any time).
        registry: the ``prometheus_client`` registry it serves.
        addr / port: where it listens (the port actually bound, also when 0 was asked).

    :meth:`close` (idempotent, any thread) stops it; it is also a context manager.
    """

    def __init__(self, server: Any, thread: threading.Thread, registry: CollectorRegistry,
                 collector: BpbfxCollector, addr: str, *, unregister: bool) -> None:
        self._server = server
        self._thread = thread
        self._unregister = unregister
        self._closed = False
        self._close_lock = threading.Lock()
        self.registry = registry
        self.collector = collector
        self.addr = addr
        self.port: int = server.server_port

    @property
    def url(self) -> str:
        """``http://HOST:PORT/metrics`` (``127.0.0.1`` when listening on every address)."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.addr, self.addr)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/metrics"

    def __repr__(self) -> str:
        return f"<MetricsServer {self.url}{' closed' if self._closed else ''}>"

    def close(self) -> None:
        """Stop serving and release the port (idempotent; any thread but a scrape's)."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)
        if self._unregister:
            self.registry.unregister(self.collector)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def serve_metrics(
    port: int = 0,
    *,
    clients: Iterable[BaseClient] = (),
    sinks: Iterable[RedisStreamSink] = (),
    readers: Iterable[RedisStreamReader] = (),
    recorders: Iterable[Recorder] = (),
    sources: Iterable[SampleSource] = (),
    addr: str = "127.0.0.1",
    registry: CollectorRegistry | None = None,
) -> MetricsServer:
    """Serve the Prometheus metrics of these clients, sinks, readers and recorders on
    ``http://addr:port/metrics``, from a daemon thread, until :meth:`MetricsServer.close`.

    Args:
        port: the TCP port; 0 picks a free one (read it from the returned ``port``).
        clients / sinks / readers / recorders / sources: what to expose (see
            :class:`~bpbfx.metrics.BpbfxCollector`; more can be added later through the
            returned ``collector``).
        addr: the address to listen on: ``127.0.0.1`` (this machine only) unless given,
            e.g. ``"0.0.0.0"`` for a Prometheus on another host.
        registry: serve this ``prometheus_client`` registry, with the bpbfx collector
            registered on it (and unregistered on close); e.g. ``prometheus_client.REGISTRY``
            to serve your own metrics too.  Default: a registry of its own holding the bpbfx
            metrics and the ``process_*`` metrics of this process.

    Calling thread; each scrape runs on a thread of the HTTP server.

    Raises:
        OSError: the address cannot be bound (e.g. the port is in use).
    """
    collector = BpbfxCollector(clients=clients, sinks=sinks, readers=readers, recorders=recorders, sources=sources)
    own = registry is None
    target = CollectorRegistry() if registry is None else registry
    if own:
        ProcessCollector(registry=target)
    target.register(collector)
    try:
        server, thread = start_http_server(port, addr=addr, registry=target)
    except BaseException:
        if not own:
            target.unregister(collector)
        raise
    thread.name = "bpbfx-metrics"
    return MetricsServer(server, thread, target, collector, addr, unregister=not own)
