"""Fixtures that run real Redis servers on 127.0.0.1: one standalone server, and a 3-node
Redis Cluster, each on free ports with persistence off (``--save "" --appendonly no``).

``redis-server`` must be installed (CI installs it in ``.ci/run``; Debian/Ubuntu:
``apt-get install redis-server``).  Without it these fixtures fail with that message: nothing
is skipped silently.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["RedisCluster", "RedisServer", "free_port", "own_redis", "redis_cluster", "redis_server", "redis_url",
           "start_redis"]

MISSING = (
    "redis-server was not found on PATH: the Redis sink tests run against a real server. "
    "Install it (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis); "
    "CI installs it in .ci/run"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (and whose +10000 bus port is too)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


@dataclass
class RedisServer:
    """A running ``redis-server`` process."""

    port: int
    process: subprocess.Popen[bytes]
    directory: Path
    log: Path
    stopped: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def pause(self) -> None:
        """SIGSTOP the server (it accepts TCP connections but answers nothing)."""
        os.kill(self.process.pid, signal.SIGSTOP)
        self.stopped = True

    def resume(self) -> None:
        """SIGCONT the server."""
        os.kill(self.process.pid, signal.SIGCONT)
        self.stopped = False

    def stop(self) -> None:
        if self.stopped:
            self.resume()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _redis_server() -> str:
    path = shutil.which("redis-server")
    if path is None:
        pytest.fail(MISSING, pytrace=False)
    return path


def _wait_ping(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-800:] if log.exists() else ""
            raise RuntimeError(f"redis-server on port {port} exited with {process.returncode}: {tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.02)  # a process starting up: nothing to wait on but its port
    raise RuntimeError(f"redis-server on port {port} did not answer PING within {timeout}s: {log.read_text()[-800:]}")


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the test process dies, even if killed (no strays)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_redis(directory: Path, *extra: str, port: int | None = None) -> RedisServer:
    """Start ``redis-server`` on 127.0.0.1 and a free port; returns once it answers PING."""
    exe = _redis_server()
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / f"redis-{port}.log"
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(directory), "--logfile", str(log), *extra]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    try:
        _wait_ping(port, process, log)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return RedisServer(port, process, directory, log)


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
    _redis_server()
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
