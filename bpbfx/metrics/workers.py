"""The metrics of a ``bpbfx collect`` run: :class:`WorkersSource` turns what the supervisor
knows of its workers, and the samples each worker sends with its reports, into one set of
samples labelled ``worker``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .samples import Labels, Sample

if TYPE_CHECKING:
    from ..collect.supervisor import Collector

__all__ = ["WorkersSource"]


class WorkersSource:
    """A :class:`~bpbfx.metrics.SampleSource` over the workers of a collect supervisor.

    For every worker: ``bpbfx_worker_up``, ``bpbfx_worker_restarts_total``,
    ``bpbfx_worker_last_report_age_seconds`` and the samples of its last report (its clients,
    its sink or recorders), each with the label ``worker="N"`` in front.  A worker that is
    down has no samples of its own until its next generation reports; its counters start
    again from 0 then (``rate()`` and ``increase()`` take such a reset in their stride).
    """

    def __init__(self, supervisor: Collector) -> None:
        self.supervisor = supervisor

    def samples(self) -> Iterator[Sample]:
        """The samples now (the scraping thread)."""
        for w in self.supervisor.worker_status():
            worker: Labels = (("worker", str(w.index)),)
            yield Sample("bpbfx_worker_up", worker, 1 if w.alive else 0)
            yield Sample("bpbfx_worker_restarts_total", worker, w.restarts)
            if w.report_age is not None:
                yield Sample("bpbfx_worker_last_report_age_seconds", worker, w.report_age)
            for name, labels, value in w.report.get("samples") or ():
                yield Sample(name, (*worker, *labels), value)
