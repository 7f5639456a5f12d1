"""Every script in ``samples/`` runs offline with ``--sim`` and ends cleanly, by ``--seconds`` or
by Ctrl-C (SIGINT), with exit status 0 and no traceback.

All samples run at once, as subprocesses, in both modes; each test checks one outcome.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "samples").glob("*.py"))
RUN_SECONDS = "3"
DEADLINE = 90.0  # for every sample of both modes together; the machine may be busy


@dataclass
class Outcome:
    returncode: int | None
    output: str


def _spawn(path: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.Popen(
        [sys.executable, str(path), "--sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=path.parent,
    )


def _run_all() -> dict[tuple[str, str], Outcome]:
    """Start every sample twice (``--seconds`` and plain), SIGINT the plain ones once they have
    printed their first line, and collect exit statuses and output."""
    procs: dict[tuple[str, str], subprocess.Popen[str]] = {}
    for path in SAMPLES:
        procs[(path.name, "seconds")] = _spawn(path, "--seconds", RUN_SECONDS)
        procs[(path.name, "sigint")] = _spawn(path)
    output = {key: "" for key in procs}
    interrupted: set[tuple[str, str]] = set()
    selector = selectors.DefaultSelector()
    for key, proc in procs.items():
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        selector.register(proc.stdout, selectors.EVENT_READ, key)
    open_pipes = len(procs)
    deadline = time.monotonic() + DEADLINE
    while open_pipes and time.monotonic() < deadline:
        for selected, _ in selector.select(timeout=0.5):
            key = selected.data
            chunk = selected.fileobj.read()  # type: ignore[union-attr]
            if not chunk:
                selector.unregister(selected.fileobj)
                open_pipes -= 1
                continue
            output[key] += chunk
            if key[1] == "sigint" and key not in interrupted and "\n" in output[key]:
                # Running and printing: now press Ctrl-C.
                procs[key].send_signal(signal.SIGINT)
                interrupted.add(key)
    outcomes = {}
    for key, proc in procs.items():
        try:
            code: int | None = proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
        outcomes[key] = Outcome(code, output[key])
    selector.close()
    return outcomes


@pytest.fixture(scope="module")
def outcomes() -> Iterator[dict[tuple[str, str], Outcome]]:
    yield _run_all()


@pytest.mark.timeout(DEADLINE + 60)  # the first test also runs every sample (the module fixture)
@pytest.mark.parametrize("mode", ["seconds", "sigint"])
@pytest.mark.parametrize("sample", [p.name for p in SAMPLES])
def test_sample_runs_offline_and_ends_cleanly(outcomes: dict[tuple[str, str], Outcome], sample: str, mode: str) -> None:
    """The sample prints something and exits 0 without a traceback, after --seconds or on Ctrl-C."""
    outcome = outcomes[(sample, mode)]
    assert outcome.returncode == 0, f"{sample} ({mode}) exited with {outcome.returncode}:\n{outcome.output[-3000:]}"
    assert "Traceback" not in outcome.output, outcome.output[-3000:]
    assert outcome.output.strip(), f"{sample} ({mode}) printed nothing"


def test_every_sample_takes_sim_and_seconds() -> None:
    """Each sample's --help lists --sim and --seconds."""
    for path in SAMPLES:
        text = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True, timeout=60).stdout
        assert "--sim" in text and "--seconds" in text, path.name


@pytest.mark.parametrize("sample", ["backpack_trading.py", "bitfinex_trading.py"])
def test_trading_samples_complete_their_round_trip(outcomes: dict[tuple[str, str], Outcome], sample: str) -> None:
    """Against the simulator the order is placed, seen in the live view, cancelled, and the view
    ends empty; no error on the way."""
    output = outcomes[(sample, "seconds")].output
    assert "cancelled: " in output and "CANCEL" in output.split("cancelled: ")[-1].upper(), output[-3000:]
    assert output.rstrip().endswith("open orders now: []"), output[-3000:]
    assert "error:" not in output and "Error" not in output, output[-3000:]
