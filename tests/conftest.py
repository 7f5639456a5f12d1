"""Fixtures every test may use: recorded data, callback recorders, simulator factories, real
Redis servers, and the layer markers.

Layers (one folder each, marked automatically so ``python -m pytest -m core`` runs the
socket-free tests alone):

- ``core``: sans-I/O cores, books, decoders and policies on recorded and built frames; no
  sockets (a socket opened by a ``core`` test fails it);
- ``transport``: the WebSocket connection wrapper, the fast receive path, shutdown, hostile frames;
- ``clients``: the exchange clients, pull API and unified events over loopback simulators;
- ``sim``: the simulators themselves, driven by raw WebSocket/HTTP clients;
- ``redis``: Redis Streams sink, reader and collector against real ``redis-server`` processes;
- ``cli``: the ``bpbfx`` command;
- ``samples``: every script in ``samples/`` run with ``--sim``.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from tests.redis_servers import own_redis, redis_cluster, redis_server, redis_url  # noqa: F401 - fixtures
from tests.support import DATA, Recorder

LAYERS = ("core", "transport", "clients", "sim", "redis", "cli", "samples")


def pytest_configure(config: pytest.Config) -> None:
    """Several tests stop a sample or a ``bpbfx`` command with SIGINT, as Ctrl-C does.  A run
    started with SIGINT ignored (a background job of a non-interactive shell, ``nohup``) would
    hand that on to every child, and a Python started with SIGINT ignored never installs its
    KeyboardInterrupt handler: give the children the default disposition back."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with the layer of the folder it lives in."""
    root = Path(__file__).resolve().parent
    for item in items:
        try:
            layer = Path(str(item.fspath)).resolve().relative_to(root).parts[0]
        except ValueError:
            continue
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(autouse=True)
def _core_tests_open_no_socket(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``core`` test that opens a socket fails: the layer promises no I/O."""
    if request.node.get_closest_marker("core") is None:
        return

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a core test opened a socket; move it to a loopback layer")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The read-only recordings in ``tests/data``."""
    return DATA


@pytest.fixture
def recorder() -> Callable[[], Recorder]:
    """Factory of :class:`~tests.support.Recorder` callbacks."""
    return Recorder


@pytest.fixture
def backpack_sim() -> Iterator[Callable[..., BackpackSimulator]]:
    """Factory: ``backpack_sim(**options)`` starts a :class:`BackpackSimulator` on 127.0.0.1
    that is closed when the test ends."""
    started: list[BackpackSimulator] = []

    def make(**options: Any) -> BackpackSimulator:
        sim = BackpackSimulator(**options)
        started.append(sim)
        return sim.__enter__()

    yield make
    for sim in reversed(started):
        sim.__exit__(None, None, None)


@pytest.fixture
def bitfinex_sim() -> Iterator[Callable[..., BitfinexSimulator]]:
    """Factory: ``bitfinex_sim(**options)`` starts a :class:`BitfinexSimulator` on 127.0.0.1
    that is closed when the test ends."""
    started: list[BitfinexSimulator] = []

    def make(**options: Any) -> BitfinexSimulator:
        sim = BitfinexSimulator(**options)
        started.append(sim)
        return sim.__enter__()

    yield make
    for sim in reversed(started):
        sim.__exit__(None, None, None)


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
