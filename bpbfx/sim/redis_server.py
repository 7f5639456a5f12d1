"""A throwaway ``redis-server`` on 127.0.0.1, for offline runs, samples and tests.

The Redis sinks and readers are tested and demonstrated against a real Redis, never a mock.
:func:`start_redis` starts the ``redis-server`` installed on this machine on a free port with
persistence off (``--save "" --appendonly no``) in a directory of its own, and returns once it
answers ``PING``; :meth:`RedisServer.stop` ends it.  On Linux the server also ends when the
process that started it dies, so no stray server outlives a killed test run.

``redis-server`` is not a Python package: install it with the system's package manager
(Debian/Ubuntu: ``apt-get install -y redis-server``; macOS: ``brew install redis``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["INSTALL_HINT", "RedisServer", "find_redis_server", "free_port", "start_redis"]

INSTALL_HINT = (
    "redis-server was not found on PATH; install it (Debian/Ubuntu: apt-get install -y redis-server; "
    "macOS: brew install redis)"
)


def find_redis_server() -> str | None:
    """Path of the ``redis-server`` executable on PATH, or ``None``."""
    return shutil.which("redis-server")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (and whose +10000 cluster bus port
    is too)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
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
    """A running ``redis-server`` process started by :func:`start_redis`.

    Attributes:
        port: its TCP port on 127.0.0.1.
        process: the process.
        directory: its working directory (log file inside).
        log: its log file.
    """

    port: int
    process: subprocess.Popen[bytes]
    directory: Path
    log: Path
    stopped: bool = field(default=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def pause(self) -> None:
        """SIGSTOP the server: it keeps accepting TCP connections but answers nothing."""
        os.kill(self.process.pid, signal.SIGSTOP)
        self.stopped = True

    def resume(self) -> None:
        """SIGCONT a paused server."""
        os.kill(self.process.pid, signal.SIGCONT)
        self.stopped = False

    def stop(self) -> None:
        """End the server (idempotent) and remove its directory if :func:`start_redis` made it."""
        if self.stopped:
            self.resume()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_ping(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
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
    tail = log.read_text()[-800:] if log.exists() else ""
    raise RuntimeError(f"redis-server on port {port} did not answer PING within {timeout:g}s: {tail}")


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the process that started it dies, even if killed."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_redis(
    directory: str | os.PathLike[str] | None = None, *extra: str, port: int | None = None, timeout: float = 10.0
) -> RedisServer:
    """Start ``redis-server`` on 127.0.0.1 and return once it answers ``PING``.

    Args:
        directory: its working directory; a temporary one (removed by :meth:`RedisServer.stop`)
            when ``None``.
        extra: further ``redis-server`` arguments (e.g. ``"--cluster-enabled", "yes"``).
        port: the port; a free one when ``None``.
        timeout: seconds to wait for the first ``PONG``.

    Raises:
        FileNotFoundError: ``redis-server`` is not installed (the message says how to install it).
        RuntimeError: it exited or did not answer in time (the message has its log's tail).
    """
    exe = find_redis_server()
    if exe is None:
        raise FileNotFoundError(INSTALL_HINT)
    tmp = tempfile.TemporaryDirectory(prefix="bpbfx-redis-") if directory is None else None
    where = Path(tmp.name if tmp is not None else directory)  # type: ignore[arg-type]
    where.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = where / f"redis-{port}.log"
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(where), "--logfile", str(log), *extra]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    try:
        _wait_ping(port, process, log, timeout)
    except BaseException:
        process.kill()
        process.wait()
        if tmp is not None:
            tmp.cleanup()
        raise
    return RedisServer(port, process, where, log, _tmp=tmp)
