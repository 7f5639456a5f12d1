""":class:`BpbfxCollector`: a ``prometheus_client`` custom collector that reads the stats of
clients, sinks, readers and recorders each time it is scraped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .catalogue import METRICS
from .samples import Labels, Sample, client_samples, reader_samples, recorder_samples, sink_samples

if TYPE_CHECKING:
    from ..base import BaseClient
    from ..recording import Recorder
    from ..sinks import RedisStreamReader, RedisStreamSink

__all__ = ["BpbfxCollector", "SampleSource", "families"]

log = logging.getLogger("bpbfx")


class SampleSource(Protocol):
    """Anything that yields metric samples when scraped (e.g. the workers of a collect run)."""

    def samples(self) -> Iterable[Sample]:
        """The current samples (the scraping thread)."""
        ...


class _Watched:
    """One object the collector reads, with the function that turns it into samples."""

    __slots__ = ("read", "target")

    def __init__(self, target: Any, read: Callable[[Any], Iterable[Sample]]) -> None:
        self.target = target
        self.read = read


def _source_samples(source: SampleSource) -> Iterable[Sample]:
    return source.samples()


def families(samples: Iterable[Sample]) -> list[Metric]:
    """Group samples into metric families, typed and documented from the catalogue.  Series
    with the same name and labels are merged (summed; the largest for ages and lags); a name
    not in the catalogue becomes an undocumented gauge."""
    merged: dict[str, dict[Labels, float]] = {}
    for name, labels, value in samples:
        series = merged.setdefault(name, {})
        if labels in series:
            info = METRICS.get(name)
            value = max(series[labels], value) if info is not None and info.merge == "max" else series[labels] + value
        series[labels] = value
    out: list[Metric] = []
    for name, series in merged.items():
        info = METRICS.get(name)
        family: Metric
        if info is not None and info.type == "counter":
            family = CounterMetricFamily(name, info.help)
        else:
            family = GaugeMetricFamily(name, info.help if info is not None else "")
        for labels, value in series.items():
            family.add_sample(name, dict(labels), float(value))
        out.append(family)
    return out


class BpbfxCollector(Collector):
    """Prometheus metrics of bpbfx objects, read from their stats when scraped.

    Register it on a ``prometheus_client`` registry (or let :func:`~bpbfx.metrics.serve_metrics`
    do it)::

        from prometheus_client import REGISTRY
        from bpbfx.metrics import BpbfxCollector

        REGISTRY.register(BpbfxCollector(clients=[client], sinks=[sink]))

    Args:
        clients: exchange clients (label ``client``: their ``name``; give two clients of one
            exchange distinct names, or their series are added up).
        sinks: :class:`~bpbfx.sinks.RedisStreamSink` s (label ``sink``: their ``name``).
        readers: :class:`~bpbfx.sinks.RedisStreamReader` s (label ``reader``: their ``name``).
        recorders: :class:`~bpbfx.recording.Recorder` s (label ``recorder``: the file name).
        sources: other :class:`SampleSource` s.

    Nothing is counted on the path of a message: :meth:`collect` calls each object's
    ``stats()`` on the scraping thread (the HTTP server's request thread).  :meth:`add` and
    :meth:`remove` may be called from any thread.  The metrics are listed in
    ``bpbfx/docs/metrics.md``.
    """

    def __init__(
        self,
        *,
        clients: Iterable[BaseClient] = (),
        sinks: Iterable[RedisStreamSink] = (),
        readers: Iterable[RedisStreamReader] = (),
        recorders: Iterable[Recorder] = (),
        sources: Iterable[SampleSource] = (),
    ) -> None:
        self._lock = threading.Lock()
        self._watched: tuple[_Watched, ...] = ()
        self.add(clients=clients, sinks=sinks, readers=readers, recorders=recorders, sources=sources)

    def __repr__(self) -> str:
        return f"<BpbfxCollector watching {len(self._watched)}>"

    def add(
        self,
        *,
        clients: Iterable[BaseClient] = (),
        sinks: Iterable[RedisStreamSink] = (),
        readers: Iterable[RedisStreamReader] = (),
        recorders: Iterable[Recorder] = (),
        sources: Iterable[SampleSource] = (),
    ) -> None:
        """Read these too from the next scrape on (an object already read is not added twice).
        Any thread."""
        new = [
            *(_Watched(c, client_samples) for c in clients),
            *(_Watched(s, sink_samples) for s in sinks),
            *(_Watched(r, reader_samples) for r in readers),
            *(_Watched(r, recorder_samples) for r in recorders),
            *(_Watched(s, _source_samples) for s in sources),
        ]
        with self._lock:
            known = {id(w.target) for w in self._watched}
            for w in new:
                if id(w.target) not in known:
                    known.add(id(w.target))
                    self._watched = (*self._watched, w)

    def remove(self, obj: object) -> bool:
        """Stop reading ``obj`` (a client, sink, reader, recorder or source); False if it was
        not read.  Any thread."""
        with self._lock:
            kept = tuple(w for w in self._watched if w.target is not obj)
            found = len(kept) != len(self._watched)
            self._watched = kept
        return found

    def samples(self) -> list[Sample]:
        """Every sample now (the calling thread).  An object whose stats cannot be read is
        logged on the ``bpbfx`` logger and left out of this scrape."""
        out: list[Sample] = []
        for w in self._watched:
            try:
                out += w.read(w.target)
            except Exception:  # one broken source must not fail the whole scrape
                log.exception("metrics: reading %r failed", w.target)
        return out

    def collect(self) -> Iterator[Metric]:
        """The metric families now (``prometheus_client`` calls it on each scrape)."""
        yield from families(self.samples())
