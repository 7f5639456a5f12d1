"""`bpbfx demo` in a pseudo-terminal of a given size: every frame fits, and the timeline keeps
the order round trip and each injected fault with its recovery to the end."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.cli.test_cli import clean_env

pytest.importorskip("websockets")
pytest.importorskip("bpbfx.sim.bitfinex")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_pty(rows: int, columns: int, duration: float, cwd: Path) -> tuple[int, str]:
    """Run ``python -m bpbfx demo --duration D`` on a pseudo-terminal of ``rows`` x ``columns``;
    its exit status and everything it wrote."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = clean_env()
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    env["TERM"] = "xterm"
    proc = subprocess.Popen([sys.executable, "-m", "bpbfx", "demo", "--duration", str(duration)], stdin=slave,
                            stdout=slave, stderr=slave, cwd=cwd, env=env, close_fds=True, start_new_session=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + duration + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child side is closed
                break
            if not data:
                break
            chunks.append(data)
        status = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return status, b"".join(chunks).decode("utf-8", "replace")


def frames(output: str) -> list[list[str]]:
    """The frames drawn (each starts with cursor-home), as plain lines."""
    out = []
    for raw in output.split("\x1b[H")[1:]:
        lines = ANSI.sub("", raw).replace("\r", "").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        out.append(lines)
    return out


def test_demo_fits_120x40_and_keeps_its_timeline(tmp_path: Path) -> None:
    """At 120x40 no line is wider than 120 and no frame taller than 40; the last frame shows the
    order round trip and both injected faults with their recovery; exit 0, no traceback."""
    status, output = run_in_pty(40, 120, 8, tmp_path)
    assert status == 0, output[-3000:]
    assert "Traceback" not in output
    drawn = frames(output)
    assert len(drawn) > 10
    for lines in drawn:
        assert len(lines) <= 40, "\n".join(lines)
        assert all(len(line) <= 120 for line in lines), "\n".join(lines)
    last = "\n".join(drawn[-1])
    assert re.search(r"bitfinex  order round trip( \(buy 0\.001 tBTCUSD @ \S+\))?: placed, acknowledged in \d+ ms, "
                     r"moved, cancelled in \d+ ms", last), last
    assert re.search(r"backpack  order round trip( \(bid 0\.5 SOL_USDC @ \S+\))?: placed, answered in \d+ ms, "
                     r"cancelled in \d+ ms", last), last
    assert re.search(r"backpack  injected: socket dropped -> recovered in \d+\.\d s, 2 books resynced", last), last
    assert re.search(r"bitfinex  injected: info 20051 \(server restarting\) -> recovered in \d+\.\d s, "
                     r"2 books resynced", last), last
    assert re.search(r"BACKPACK .* resyncs 2 .*errors 0", last) and re.search(r"BITFINEX .* resyncs 2 .*errors 0",
                                                                              last), last
    summary = " ".join(line.strip() for line in last[last.index("bpbfx demo: OK"):].splitlines())
    assert summary.count("2 book resyncs, 0 errors") == 2, summary
    assert "injected faults: backpack socket dropped -> recovered in" in summary, summary


def test_demo_degrades_in_a_small_terminal(tmp_path: Path) -> None:
    """At 60x15 every frame still fits and the timeline is still on the last one."""
    status, output = run_in_pty(15, 60, 4, tmp_path)
    assert status == 0, output[-3000:]
    assert "Traceback" not in output
    drawn = frames(output)
    assert drawn
    for lines in drawn:
        assert len(lines) <= 15 and all(len(line) <= 60 for line in lines), "\n".join(lines)
    last = "\n".join(drawn[-1])
    assert last.count("order round trip") == 2 and last.count("injected:") == 2, last
