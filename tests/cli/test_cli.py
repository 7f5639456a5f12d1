"""The ``bpbfx`` command, run as a subprocess against the built-in simulators (never the internet)."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from bpbfx.cli import event_json
from bpbfx.recording import iter_records, read_recording

pytest.importorskip("websockets")

TIMEOUT = 40


def clean_env() -> dict[str, str]:
    """The environment without any exchange keys (private streams must find none)."""
    drop = ("BACKPACK_", "BITFINEX_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k not in ("PUBLIC_KEY", "SECRET_KEY")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def bpbfx(*args: str, cwd: Path, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bpbfx ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "bpbfx", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=clean_env(),
    )


def spawn(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """Start ``python -m bpbfx ARGS`` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "bpbfx", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=clean_env(),
    )


def first_line(proc: subprocess.Popen[str], timeout: float = 15) -> str:
    """The first stdout line of a running process (empty on timeout)."""
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM a background process and return its exit status and stderr."""
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# ---------------------------------------------------------------------------------------- usage
def test_help_lists_every_command(tmp_path: Path) -> None:
    """--help exits 0 and names each sub-command."""
    result = bpbfx("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("demo", "stream", "record", "replay", "sim", "bench"):
        assert command in result.stdout


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    """Running without a command exits 2 with one line."""
    result = bpbfx(cwd=tmp_path)
    assert result.returncode == 2
    assert "command is required" in one_error_line(result)


def test_unknown_exchange_exits_2_with_one_line(tmp_path: Path) -> None:
    """An unknown exchange is a usage error: exit 2, one line naming the valid ones."""
    result = bpbfx("stream", "kraken", "trade.BTC_USD", "--sim", cwd=tmp_path)
    assert result.returncode == 2
    line = one_error_line(result)
    assert "kraken" in line and "backpack" in line and "bitfinex" in line


def test_bad_backpack_stream_exits_2_with_one_line(tmp_path: Path) -> None:
    """A misspelt stream is refused before connecting, with a hint."""
    result = bpbfx("stream", "backpack", "Trade.SOL_USDC", "--sim", cwd=tmp_path)
    assert result.returncode == 2
    assert "did you mean trade.SOL_USDC" in one_error_line(result)


def test_private_stream_without_keys_exits_2_with_one_line(tmp_path: Path) -> None:
    """account.* without keys and without --sim: exit 2, one line naming the variables and --sim."""
    result = bpbfx("stream", "backpack", "account.orderUpdate", "--url", "ws://127.0.0.1:9", cwd=tmp_path)
    assert result.returncode == 2
    assert one_error_line(result) == (
        "bpbfx stream: error: the backpack stream 'account.orderUpdate' needs API keys: set BACKPACK_PUBLIC_KEY "
        "and BACKPACK_SECRET_KEY (or PUBLIC_KEY and SECRET_KEY) in the environment or a .env file, or add --sim "
        "to run against the built-in simulator with a generated test account"
    )


def test_unreachable_host_exits_1_with_one_line(tmp_path: Path) -> None:
    """Nothing listening: one line after the connect timeout, exit 1, no retry noise."""
    url = f"ws://127.0.0.1:{free_port()}"
    result = bpbfx("stream", "backpack", "trade.SOL_USDC", "--url", url, "--connect-timeout", "1", cwd=tmp_path)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "could not connect" in line and url in line


def test_missing_websockets_is_one_clear_line(tmp_path: Path) -> None:
    """Without the websockets package, sim commands say how to install it."""
    code = (
        "import sys; sys.modules['websockets'] = None; "
        "from bpbfx.cli import main; sys.exit(main(['sim', 'backpack']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path, env=clean_env()
    )
    assert result.returncode == 1
    assert "pip install 'bpbfx[sim]'" in one_error_line(result)


# ---------------------------------------------------------------------------------------- stream
def test_stream_backpack_sim_prints_json_lines(tmp_path: Path) -> None:
    """stream --sim --max-events 20 prints exactly 20 JSON events of the streams asked for."""
    streams = ("depth.SOL_USDC", "trade.SOL_USDC")
    result = bpbfx("stream", "backpack", *streams, "--sim", "--max-events", "20", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert len(events) == 20
    for e in events:
        assert e["stream"] in ("depth.SOL_USDC", "trade.SOL_USDC") and e["symbol"] == "SOL_USDC"
        assert e["event"] in ("Depth", "Trade")
    depth = next(e for e in events if e["event"] == "Depth")
    assert isinstance(depth["first_update_id"], int)
    assert all(isinstance(p, str) and isinstance(q, str) for p, q in depth["bids"] + depth["asks"])


def test_stream_bitfinex_sim_prints_json_lines(tmp_path: Path) -> None:
    """stream bitfinex --sim prints trade and book events as JSON lines."""
    pytest.importorskip("bpbfx.sim.bitfinex")
    result = bpbfx(
        "stream", "bitfinex", "trades:tBTCUSD", "book:tBTCUSD:P0:25", "--sim", "--max-events", "40", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert len(events) == 40
    streams = {e["stream"] for e in events}
    assert any(s.startswith("trades:tBTCUSD") for s in streams)
    assert any(s.startswith("book:tBTCUSD") for s in streams)


# ---------------------------------------------------------------------------------------- record / replay
def test_record_then_replay_reproduces_the_events(tmp_path: Path) -> None:
    """record --max-frames N writes a header and N frames; replay prints one event per frame,
    the same as feeding those frames to a client."""
    from bpbfx import BackpackClient

    result = bpbfx(
        "record", "backpack", "depth.SOL_USDC", "trade.SOL_USDC", "--sim", "--max-frames", "60", "-o", "rec.jsonl",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    recording = read_recording(tmp_path / "rec.jsonl")
    assert recording.header is not None and recording.header["exchange"] == "backpack"
    assert recording.streams == ("depth.SOL_USDC", "trade.SOL_USDC")
    assert recording.frames == 60
    assert recording.records[0].kind == "open"

    replayed = bpbfx("replay", "rec.jsonl", cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr

    expected: list[str] = []
    client = BackpackClient("ws://127.0.0.1:9", books=False, on_message=lambda c, e: expected.append(event_json(e)))
    for r in recording.records:
        if r.kind == "frame" and r.data is not None:
            client.feed(r.data, connection=r.conn or 0)
    assert replayed.stdout.splitlines() == expected
    assert len(expected) == 60


class LiveCapture:
    """Hooks of a live client: its events as ``event_json`` lines, and how often it opened."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.opens = 0
        self.cond = threading.Condition()

    def on_message(self, client: Any, event: Any) -> None:
        with self.cond:
            self.lines.append(event_json(event))
            self.cond.notify_all()

    def on_open(self, client: Any) -> None:
        with self.cond:
            self.opens += 1
            self.cond.notify_all()

    def wait(self, predicate: Any, timeout: float = 10) -> None:
        with self.cond:
            assert self.cond.wait_for(predicate, timeout)

    def step_until(self, sim: Any, count: int) -> None:
        """Step a simulator without a ticker until ``count`` events were captured."""
        for _ in range(200):
            sim.step(5)
            with self.cond:
                if self.cond.wait_for(lambda: len(self.lines) >= count, 0.2):
                    return
        raise AssertionError(f"fewer than {count} events")

    def through_a_reconnect(self, fault: Any) -> None:
        """Wait for data, inject ``fault``, wait for the reconnect and more data."""
        self.wait(lambda: len(self.lines) >= 30)
        fault()
        self.wait(lambda: self.opens >= 2)
        seen = len(self.lines)
        self.wait(lambda: len(self.lines) >= seen + 30)


def test_replay_matches_what_a_live_backpack_client_saw_across_a_reconnect(tmp_path: Path) -> None:
    """A Backpack recording taken live across a dropped connection replays to exactly the live events."""
    from bpbfx import Backoff, BackpackClient
    from bpbfx.recording import Recorder
    from bpbfx.sim.backpack import BackpackSimulator

    capture = LiveCapture()
    path = tmp_path / "live.jsonl"
    with BackpackSimulator() as sim:
        client = BackpackClient(
            sim.url, books=False, on_message=capture.on_message, on_open=capture.on_open,
            backoff=Backoff(initial=0.05, cap=0.2),
        )
        client.subscribe("depth.SOL_USDC", "trade.SOL_USDC")
        with Recorder(path, "backpack", client.subscriptions) as recorder:
            recorder.attach(client)
            client.start()
            capture.through_a_reconnect(sim.drop_connections)
            client.close()
    kinds = [r.kind for r in iter_records(path)]
    assert "close" in kinds and "reconnect" in kinds and kinds.count("open") >= 2

    replayed = bpbfx("replay", str(path), cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.splitlines() == capture.lines
    assert "1 errors" in replayed.stderr  # the recorded connection loss, reported as live


def test_replay_gives_the_backfilled_trades_a_live_backpack_client_fetched(tmp_path: Path) -> None:
    """A recording of a client with backfill_trades, taken across an outage during which trades
    printed, replays to exactly the live events, the fetched trades marked backfill."""
    from bpbfx import Backoff, BackpackClient
    from bpbfx.recording import Recorder
    from bpbfx.sim.backpack import BackpackSimulator

    capture = LiveCapture()
    path = tmp_path / "live.jsonl"
    with BackpackSimulator(tick_interval=None, seed=3) as sim:
        client = BackpackClient(
            sim.url, rest_url=sim.http_url, on_message=capture.on_message, on_open=capture.on_open,
            backoff=Backoff(initial=0.05, cap=0.2), backfill_trades=True, streams=["trade.SOL_USDC"],
        )
        with Recorder(path, "backpack", client.subscriptions) as recorder:
            recorder.attach(client)
            client.start()
            capture.wait(lambda: capture.opens >= 1)
            capture.step_until(sim, 5)
            sim.refuse_connections(503)
            sim.drop_connections()
            sim.step(30)
            sim.refuse_connections(None)
            capture.wait(lambda: any('"backfill":true' in line for line in capture.lines))
            capture.step_until(sim, len(capture.lines) + 3)
            client.close()
    assert sum(1 for r in iter_records(path) if r.kind == "backfill") == 1

    replayed = bpbfx("replay", str(path), cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.splitlines() == capture.lines
    assert "1 trade backfill answers" in replayed.stderr


def test_replay_matches_what_a_live_bitfinex_client_saw_across_a_restart(tmp_path: Path) -> None:
    """A Bitfinex recording taken live across info 20051 replays to the same events and book checks."""
    pytest.importorskip("bpbfx.sim.bitfinex")
    from bpbfx import Backoff
    from bpbfx.bitfinex.client import BitfinexClient
    from bpbfx.recording import Recorder
    from bpbfx.sim.bitfinex import BitfinexSimulator

    capture = LiveCapture()
    path = tmp_path / "live.jsonl"
    with BitfinexSimulator() as sim:
        client = BitfinexClient(
            sim.url, auth=False, on_message=capture.on_message, on_open=capture.on_open, on_error=lambda c, e: None,
            backoff=Backoff(initial=0.05, cap=0.2),
        )
        client.subscribe("trades:tBTCUSD")
        client.subscribe("book:tBTCUSD:P0:F0:25")
        with Recorder(path, "bitfinex", client.subscriptions, meta={"flags": client.flags}) as recorder:
            recorder.attach(client)
            client.start()
            capture.through_a_reconnect(lambda: sim.send_info(20051))
            client.close()
        live_checks = client.stats().book_checks
    assert live_checks > 0

    replayed = bpbfx("replay", str(path), cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.splitlines() == capture.lines
    assert f"{live_checks} book checks" in replayed.stderr


def test_gzip_rotated_recording_replays_in_order(tmp_path: Path) -> None:
    """record -o x.gz --rotate-frames makes compressed parts that replay together in order."""
    result = bpbfx(
        "record", "backpack", "trade.SOL_USDC", "depth.SOL_USDC", "--sim", "--max-frames", "30",
        "--rotate-frames", "10", "-o", "rec.jsonl.gz", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    parts = ["rec.jsonl.gz", "rec.0001.jsonl.gz", "rec.0002.jsonl.gz"]
    assert all((tmp_path / p).read_bytes()[:2] == b"\x1f\x8b" for p in parts)
    replayed = bpbfx("replay", *parts, cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    events = json_lines(replayed.stdout)
    assert len(events) == 30
    depth_ids = [e["first_update_id"] for e in events if e["event"] == "Depth"]
    assert depth_ids == sorted(depth_ids)


def test_replay_reads_raw_bitfinex_frames_and_detects_the_exchange(tmp_path: Path, data_dir: Path) -> None:
    """A file of raw Bitfinex frames (no header) replays with the exchange detected."""
    pytest.importorskip("bpbfx.sim.replay")
    pytest.importorskip("bpbfx.bitfinex.events")
    result = bpbfx("replay", str(data_dir / "bitfinex" / "bbgo_ws_public.jsonl"), "--max-events", "50", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    assert len(events) == 50
    assert any(e["stream"] and e["stream"].startswith("trades:tBTCUSD") for e in events)


def test_replay_serve_prints_a_url_that_serves_the_frames(tmp_path: Path) -> None:
    """replay --serve serves the recording to any WebSocket client."""
    pytest.importorskip("bpbfx.sim.replay")
    import websocket

    rec = bpbfx("record", "backpack", "trade.SOL_USDC", "--sim", "--max-frames", "5", "-o", "r.jsonl", cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    proc = spawn("replay", "r.jsonl", "--serve", "--as-fast-as-possible", cwd=tmp_path)
    try:
        line = first_line(proc)
        match = re.search(r"ws://\S+", line)
        assert match, line
        ws = websocket.create_connection(match.group(0), timeout=10)
        try:
            assert "trade.SOL_USDC" in ws.recv()
        finally:
            ws.close()
    finally:
        status, err = stop(proc)
    assert status == 0, err


# ---------------------------------------------------------------------------------------- sim and demo
def test_sim_prints_a_url_that_serves_backpack(tmp_path: Path) -> None:
    """sim backpack --port 0 prints a ws:// URL that streams; SIGTERM stops it cleanly."""
    import websocket

    proc = spawn("sim", "backpack", "--port", "0", cwd=tmp_path)
    try:
        line = first_line(proc)
        match = re.search(r"ws://127\.0\.0\.1:\d+", line)
        assert match, line
        assert "REST: http://127.0.0.1:" in line
        ws = websocket.create_connection(match.group(0), timeout=10)
        try:
            ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["depth.SOL_USDC"]}))
            assert json.loads(ws.recv())["stream"] == "depth.SOL_USDC"
        finally:
            ws.close()
    finally:
        status, err = stop(proc)
    assert status == 0 and "Traceback" not in err


def test_demo_shows_both_exchanges_a_reconnect_and_book_checks(tmp_path: Path) -> None:
    """demo --duration 8 exits 0; its plain output shows both exchanges, the faults, reconnects,
    resynced books, the timeline of the order round trip and of each fault's recovery, and a
    summary with book checks and book resyncs for each exchange, the injected faults apart from
    errors (none)."""
    pytest.importorskip("bpbfx.sim.bitfinex")
    result = bpbfx("demo", "--duration", "8", cwd=tmp_path, timeout=45)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    out = result.stdout
    assert "\x1b[" not in out  # not a terminal: plain lines, no redrawing
    assert "backpack: fault: the simulator drops every connection" in out
    assert "bitfinex: fault: the simulator sends info 20051" in out
    assert re.search(r"backpack: reconnected", out) and re.search(r"bitfinex: reconnected", out)
    assert re.search(r"backpack: book depth\.SOL_USDC resynced", out)
    assert re.search(r"bitfinex: book book:tBTCUSD\S* resynced", out)
    assert re.search(r"bitfinex: order: buy 0\.001 tBTCUSD @ \S+ confirmed, id \d+", out)
    assert re.search(r"bitfinex: order: \d+ moved to \S+", out)
    assert re.search(r"bitfinex: order: \d+ cancelled \(CANCELED\); open orders: 0", out)
    assert re.search(r"backpack: order: bid 0\.5 SOL_USDC @ \S+ placed over REST, id \d+ \(clientId \d+\)", out)
    assert re.search(r"backpack: order: \d+ cancelled \(Cancelled\); open orders: 0", out)
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("bpbfx demo: OK")
    counts = re.findall(r"(backpack|bitfinex) (\d+) msgs, (\d+) reconnects, (\d+) book checks", summary)
    assert {name for name, *_ in counts} == {"backpack", "bitfinex"}
    for _, msgs, reconnects, checks in counts:
        assert int(msgs) > 0 and int(reconnects) >= 1 and int(checks) > 0
    resyncs = re.findall(r"(backpack|bitfinex) \d+ msgs, .*? (\d+) book resyncs, (\d+) errors", summary)
    assert {name for name, *_ in resyncs} == {"backpack", "bitfinex"}
    assert all(int(n) >= 1 and errors == "0" for _, n, errors in resyncs), summary  # counted alike, no errors
    assert "injected faults: backpack socket dropped -> recovered in" in summary
    timeline = out[out.index("timeline:") :]
    assert re.search(r"bitfinex  order round trip \(buy 0\.001 tBTCUSD @ \S+\): placed, acknowledged in \d+ ms",
                     timeline)
    assert re.search(r"backpack  order round trip \(bid 0\.5 SOL_USDC @ \S+\): placed, answered in \d+ ms, "
                     r"cancelled in \d+ ms", timeline)
    assert re.search(r"backpack  injected: socket dropped -> recovered in \S+ s, 2 books resynced", timeline)
    assert re.search(r"bitfinex  injected: info 20051 \(server restarting\) -> recovered in \S+ s", timeline)
