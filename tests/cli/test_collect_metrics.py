"""`bpbfx collect --metrics-port`: the supervisor serves the metrics of every worker over HTTP."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.test_cli import clean_env
from tests.support import Scrape

pytest.importorskip("websockets")

BOOK = "book:tBTCUSD:P0:F0:25"


def collect(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """``python -m bpbfx collect ARGS`` in a process group of its own (Ctrl-C goes to the group)."""
    return subprocess.Popen([sys.executable, "-m", "bpbfx", "collect", *args], stderr=subprocess.PIPE, text=True,
                            cwd=cwd, env=clean_env(), start_new_session=True)


def stderr_lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's stderr lines, read by a thread as they come."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    stream = proc.stderr
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def scrape_until(url: str, ready: Callable[[Scrape], bool], timeout: float = 30.0) -> Scrape:
    """Scrape until ``ready(scrape)``: a /metrics endpoint can only be watched by scraping it."""
    deadline = time.monotonic() + timeout
    while True:
        scrape = Scrape(url)
        if ready(scrape) or time.monotonic() > deadline:
            return scrape
        time.sleep(0.2)


def test_collect_serves_every_workers_metrics_labelled_worker(redis_url: str, tmp_path: Path) -> None:
    """Two workers into Redis: both up, their client, sink and event counters grow between two
    scrapes, each series labelled with its worker; Ctrl-C still exits 0."""
    proc = collect("--sim", "--redis", redis_url, "--backpack", "depth.SOL_USDC", "trade.SOL_USDC", "--bitfinex",
                   BOOK, "trades:tBTCUSD", "--workers", "2", "--stats-interval", "60", "--metrics-port", "0",
                   cwd=tmp_path)
    lines = stderr_lines(proc)
    seen: list[str] = []
    try:
        url = None
        while url is None:
            seen.append(lines.get(timeout=30))
            m = re.match(r"collect: metrics at (http://\S+)", seen[-1])
            url = m.group(1) if m else None

        def flowing(s: Scrape) -> bool:
            return all((s.value("bpbfx_sink_entries_written_total", worker=w) or 0) > 0 for w in ("0", "1"))

        first = scrape_until(url, flowing)
        assert flowing(first), first.text
        second = scrape_until(url, lambda s: all(
            (s.value(name, worker=w) or 0) > (first.value(name, worker=w) or 0)
            for name in ("bpbfx_events_total", "bpbfx_sink_entries_written_total", "bpbfx_messages_total")
            for w in ("0", "1")))
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    while not lines.empty():
        seen.append(lines.get())
    err = "".join(seen)
    assert proc.returncode == 0, err
    for name in ("bpbfx_events_total", "bpbfx_sink_entries_written_total", "bpbfx_messages_total"):
        for w in ("0", "1"):
            assert (second.value(name, worker=w) or 0) > (first.value(name, worker=w) or 0), (name, w, second.text)
    assert second.families["bpbfx_events"].type == "counter"
    assert second.families["bpbfx_worker_up"].type == "gauge"
    assert second.value("bpbfx_worker_up", worker="0") == 1 and second.value("bpbfx_worker_up", worker="1") == 1
    assert second.value("bpbfx_worker_restarts_total") == 0
    # Round-robin: worker 0 has depth.SOL_USDC and the Bitfinex book, worker 1 the two trade streams.
    assert (second.value("bpbfx_events_total", worker="0", client="w0-backpack", stream="depth.SOL_USDC") or 0) > 0
    assert second.value("bpbfx_events_total", worker="1", stream=BOOK) is None
    assert second.value("bpbfx_sink_connected", worker="0", sink="collect-w0") == 1
    assert second.value("bpbfx_books_valid", worker="0") == 2
    assert all(0 <= s.value < 10 for s in second.series("bpbfx_worker_last_report_age_seconds"))


def test_a_metrics_port_in_use_is_one_error_line(tmp_path: Path) -> None:
    """--metrics-port on a port in use: exit 1 with one line naming it, before any worker starts."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = collect("--sim", "--backpack", "trade.SOL_USDC", "--metrics-port", str(port), "--duration", "5",
                       cwd=tmp_path)
        _, err = proc.communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1, err
    assert f"cannot serve metrics on 127.0.0.1:{port}" in lines[0] and "Traceback" not in err
