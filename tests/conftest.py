"""Shared fixtures: the recorded exchange data (``tests/data``) and event-waiting helpers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.redis_servers import own_redis, redis_cluster, redis_server, redis_url  # noqa: F401 - fixtures

DATA = Path(__file__).resolve().parent / "data"
"""Recorded exchange traffic kept in the repository (see ``tests/data/SOURCES.md``)."""


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The read-only recordings in ``tests/data``."""
    return DATA


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


@pytest.fixture
def recorder() -> Callable[[], Recorder]:
    """Factory of :class:`Recorder` callbacks."""
    return Recorder


@pytest.fixture
def syn_blackhole() -> Iterator[int]:
    """A port on 127.0.0.1 whose accept queue is full: the kernel drops further SYNs, so a
    TCP connect to it gets no answer at all."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    try:
        yield port
    finally:
        for s in [*fillers, server]:
            s.close()
