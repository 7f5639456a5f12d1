"""Prometheus metrics of bpbfx clients, Redis sinks and readers, recordings and ``bpbfx
collect`` runs, read from the stats they already keep each time they are scraped (nothing is
counted on the path of a message).

::

    from bpbfx.metrics import serve_metrics

    server = serve_metrics(9100, clients=[client], sinks=[sink], readers=[reader])
    print(server.url)          # http://127.0.0.1:9100/metrics
    ...
    server.close()

or, on a ``prometheus_client`` registry of your own::

    from prometheus_client import REGISTRY
    from bpbfx.metrics import BpbfxCollector

    REGISTRY.register(BpbfxCollector(clients=[client]))

Needs ``prometheus-client``: ``pip install 'bpbfx[metrics]'``.  Every metric, its labels and
where it comes from: ``bpbfx/docs/metrics.md``.

Modules: :mod:`~bpbfx.metrics.catalogue` (names, types, labels), :mod:`~bpbfx.metrics.samples`
(stats -> samples, no ``prometheus_client``), :mod:`~bpbfx.metrics.collector` (the custom
collector), :mod:`~bpbfx.metrics.server` (the HTTP endpoint), :mod:`~bpbfx.metrics.workers`
(the workers of a collect run).
"""

from __future__ import annotations

try:
    import prometheus_client  # noqa: F401 - checked here, used by the modules below
except ImportError as exc:  # pragma: no cover - the metrics extra is not installed
    raise ImportError("bpbfx.metrics needs prometheus-client: pip install 'bpbfx[metrics]'") from exc

from .catalogue import METRICS, MetricInfo
from .collector import BpbfxCollector, SampleSource, families
from .samples import Sample
from .server import MetricsServer, serve_metrics

__all__ = [
    "METRICS",
    "BpbfxCollector",
    "MetricInfo",
    "MetricsServer",
    "Sample",
    "SampleSource",
    "families",
    "serve_metrics",
]
