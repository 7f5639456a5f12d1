"""Fixtures that run real Redis servers on 127.0.0.1 (through :mod:`bpbfx.sim.redis_server`): one
standalone server, and a 3-node Redis Cluster, each on free ports with persistence off.

``redis-server`` must be installed (CI installs it in ``.ci/run``; Debian/Ubuntu:
``apt-get install redis-server``).  Without it these fixtures fail with that message: nothing
is skipped silently.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bpbfx.sim.redis_server import RedisServer, find_redis_server, free_port
from bpbfx.sim.redis_server import start_redis as _start_redis

__all__ = ["RedisCluster", "RedisServer", "free_port", "own_redis", "redis_cluster", "redis_server", "redis_url",
           "start_redis"]

MISSING = (
    "redis-server was not found on PATH: the Redis sink tests run against a real server. "
    "Install it (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis); "
    "CI installs it in .ci/run"
)


def _require_redis_server() -> None:
    if find_redis_server() is None:
        pytest.fail(MISSING, pytrace=False)


def start_redis(directory: Path, *extra: str, port: int | None = None) -> RedisServer:
    """Start ``redis-server`` on 127.0.0.1 and a free port; returns once it answers PING."""
    _require_redis_server()
    return _start_redis(directory, *extra, port=port)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One standalone Redis for the session (tests flush it through ``redis_url``)."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's Redis, emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own (for tests that stop or kill it)."""
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


@dataclass
class RedisCluster:
    """A running 3-master Redis Cluster."""

    nodes: list[RedisServer]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}/0"

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """Three ``redis-server --cluster-enabled yes`` nodes joined by ``redis-cli --cluster create``."""
    _require_redis_server()
    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.fail("redis-cli was not found on PATH (it comes with redis-server: apt-get install -y redis-server)",
                    pytrace=False)
    base = tmp_path_factory.mktemp("redis-cluster")
    nodes: list[RedisServer] = []
    try:
        for i in range(3):
            port = free_port()
            nodes.append(start_redis(base / f"node{i}", "--cluster-enabled", "yes", "--cluster-config-file",
                                     str(base / f"node{i}" / "nodes.conf"), "--cluster-node-timeout", "2000",
                                     port=port))
        addresses = [f"127.0.0.1:{n.port}" for n in nodes]
        subprocess.run([cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, capture_output=True, timeout=30)
        deadline = time.monotonic() + 15
        while True:
            states = []
            for n in nodes:
                out = subprocess.run([cli, "-p", str(n.port), "cluster", "info"], capture_output=True, text=True,
                                     timeout=5).stdout
                states.append("cluster_state:ok" in out)
            if all(states):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok within 15s")
            time.sleep(0.1)  # cluster gossip converging: polled through redis-cli, nothing to wait on
        cluster = RedisCluster(nodes)
        yield cluster
    finally:
        for n in nodes:
            n.stop()
