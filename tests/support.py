"""Helpers the tests share: the recorded data, a thread-safe callback recorder, fast backoff.

Fixtures live in ``conftest.py``; plain helpers live here so that test modules import them by
name (``from tests.support import Recorder``).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bpbfx import Backoff

__all__ = ["DATA", "FAST", "Recorder", "Scrape", "holes", "keep_out", "trade_until"]

DATA = Path(__file__).resolve().parent / "data"
"""Recorded exchange traffic kept in the repository (see ``tests/data/SOURCES.md``)."""

FAST = Backoff(initial=0.05, factor=2.0, cap=0.2, jitter=0.0)
"""Reconnect quickly and predictably in loopback tests."""


class Recorder:
    """Collects callback arguments from client threads and lets tests wait on a condition."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._cond = threading.Condition()

    def __call__(self, client: Any, *args: Any) -> None:
        with self._cond:
            self.items.append(args[0] if len(args) == 1 else args)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate(items)`` is true; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.items), timeout)

    def wait_count(self, n: int, timeout: float = 10.0, kind: type | tuple[type, ...] | None = None) -> bool:
        """Block until at least ``n`` items (of ``kind``) were recorded."""
        return self.wait_for(lambda items: sum(1 for i in items if kind is None or isinstance(i, kind)) >= n, timeout)

    def of(self, kind: type | tuple[type, ...]) -> list[Any]:
        with self._cond:
            return [i for i in self.items if isinstance(i, kind)]

    def clear(self) -> None:
        with self._cond:
            self.items.clear()


class Scrape:
    """One scrape of a Prometheus ``/metrics`` endpoint over HTTP, parsed with
    ``prometheus_client``'s own parser."""

    def __init__(self, url: str) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        with urllib.request.urlopen(url, timeout=10) as answer:
            self.text: str = answer.read().decode()
        self.families = {f.name: f for f in text_string_to_metric_families(self.text)}
        self.samples = [s for f in self.families.values() for s in f.samples]

    def series(self, name: str, **labels: str) -> list[Any]:
        """The samples called ``name`` whose labels include ``labels``."""
        return [s for s in self.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels: str) -> float | None:
        """The sum of :meth:`series` (None when there is none)."""
        found = self.series(name, **labels)
        return sum(s.value for s in found) if found else None


def trade_until(sim: Any, events: Recorder, count: int) -> None:
    """Step a Backpack simulator made with ``tick_interval=None`` until ``events`` holds
    ``count`` more :class:`~bpbfx.backpack.events.Trade` events than it did."""
    from bpbfx.backpack.events import Trade

    want = len(events.of(Trade)) + count
    for _ in range(200):
        sim.step(5)
        if events.wait_for(lambda items: sum(isinstance(i, Trade) for i in items) >= want, 0.2):
            return
    raise AssertionError(f"the simulator printed fewer than {count} trades")


def keep_out(sim: Any, steps: int) -> None:
    """Drop every client of ``sim`` and refuse them while the simulator runs ``steps`` ticks
    (the tape goes on without them), then let them back and wait for a new connection."""
    sim.refuse_connections(503)
    sim.drop_connections()
    sim.step(steps)
    opened = sim.total_connections
    sim.refuse_connections(None)
    assert sim.wait_for_connections(opened + 1, 10)


def holes(ids: Iterable[int]) -> list[tuple[int, int]]:
    """The ranges (first, last) missing from a set of sequential ids, lowest first."""
    got = sorted(ids)
    return [(a + 1, b - 1) for a, b in itertools.pairwise(got) if b > a + 1]


def interrupt_when(argv: list[str], ready: Callable[[str], bool], timeout: float = 30.0) -> tuple[int, str]:
    """Run ``argv`` in a new session, read its stderr until a line satisfies ``ready``, then send SIGINT
    to its process group (what Ctrl-C in a terminal does); ``(exit status, all of stderr)``."""
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stderr is not None
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if ready(line):
                break
        os.killpg(proc.pid, signal.SIGINT)
        rest = proc.communicate(timeout=timeout)[1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, "".join(seen) + rest
