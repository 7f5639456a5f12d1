"""The collector: config, sharding, worker restarts against a real Redis, JSONL output, tail."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bpbfx import Backoff, ConfigurationError
from bpbfx.collect import CollectConfig, Collector, load_config, shard
from bpbfx.recording import read_recording
from bpbfx.sinks import RedisStreamReader, StreamEntry
from tests.redis.test_sink import BOOK
from tests.support import Recorder, interrupt_when

FAST = Backoff(initial=0.1, factor=2.0, cap=1.0, jitter=0.0, reset_after=30.0)


def test_config_file_and_flags(tmp_path: Path) -> None:
    """A TOML config is read, flags add to it, unknown keys are refused with what is known."""
    path = tmp_path / "c.toml"
    path.write_text('workers = 3\nredis = "redis://127.0.0.1:1/0"\n[backpack]\nstreams = ["depth.SOL_USDC"]\n'
                    '[bitfinex]\nstreams = ["trades:tBTCUSD"]\nurl = "ws://127.0.0.1:9"\n[sink]\nmaxlen = 500\n')
    config = load_config(path, bitfinex=("ticker:tETHUSD",), workers=None)
    assert config.workers == 3 and config.redis == "redis://127.0.0.1:1/0" and config.sink == {"maxlen": 500}
    assert config.bitfinex == ("trades:tBTCUSD", "ticker:tETHUSD") and config.urls == {"bitfinex": "ws://127.0.0.1:9"}
    specs = shard(config)
    assert [s.streams for s in specs] == [(("backpack", "depth.SOL_USDC"),), (("bitfinex", "trades:tBTCUSD"),),
                                          (("bitfinex", "ticker:tETHUSD"),)]
    path.write_text("wokers = 2\n")
    with pytest.raises(ConfigurationError, match="unknown keys"):
        load_config(path)
    with pytest.raises(ConfigurationError, match="nothing to collect"):
        CollectConfig()


def test_killed_worker_is_restarted_and_its_stream_resumes(redis_url: str) -> None:
    """SIGKILL on a worker: the supervisor reports and restarts it; the stream goes on after a gap."""
    reports = Recorder()
    config = CollectConfig(bitfinex=(BOOK, "trades:tBTCUSD"), workers=2, redis=redis_url, sim=True,
                           stats_interval=60, restart_backoff=FAST)
    collector = Collector(config, out=io.StringIO(), on_report=lambda text: reports(None, text))
    runner = threading.Thread(target=collector.run, name="collector", daemon=True)
    entries = Recorder()
    reader = RedisStreamReader(redis_url, [f"bitfinex:{BOOK}"], on_message=entries, start="earliest", block=0.2)
    runner.start()
    try:
        with reader:
            assert entries.wait_for(lambda items: sum(1 for e in items if e.kind == "delta") >= 5, 20)
            victim = next(w for w in collector.workers if any(s == BOOK for _, s in w.spec.streams))
            pid = victim.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            assert reports.wait_for(lambda items: any(f"pid {pid}) was killed by signal 9" in t for t in items), 10)
            assert reports.wait_for(lambda items: any("restarted" in t for t in items), 10)
            assert entries.wait_for(lambda items: any(e.kind == "gap" for e in items), 20)
            gap = next(e for e in entries.of(StreamEntry) if e.kind == "gap")
            assert entries.wait_for(lambda items: sum(1 for e in items if e.kind == "delta" and e.epoch > gap.epoch)
                                    >= 5, 20)
    finally:
        collector.stop()
        runner.join(20)
    assert not runner.is_alive()
    assert gap.data["reason"] == "writer_restart"
    after = entries.of(StreamEntry)[entries.of(StreamEntry).index(gap) + 1]
    assert after.kind == "snapshot" and after.epoch == gap.epoch + 1
    stats = collector.stats()
    assert stats.restarts == 1 and stats.alive == 0 and stats.written > 0
    assert victim.pid != pid


def test_collect_command_writes_jsonl_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """`bpbfx collect --sim` with no --redis writes a recording per worker and exchange; Ctrl-C exits 0."""
    out = tmp_path / "out"

    def both_wrote(line: str) -> bool:  # the supervisor's stats lines, until both workers wrote frames
        m = re.search(r"workers 2/2 up.* frames written (\d+)", line)
        return m is not None and int(m.group(1)) >= 10

    status, err = interrupt_when(
        [sys.executable, "-m", "bpbfx", "collect", "--sim", "--backpack", "trade.SOL_USDC", "--bitfinex",
         "trades:tBTCUSD", "--workers", "2", "--stats-interval", "0.5", "--output-dir", str(out)], both_wrote)
    assert status == 0, err
    assert "Traceback" not in err and "collect: done" in err
    files = sorted(p.name for p in out.iterdir())
    assert files == ["collect-w0-backpack.jsonl", "collect-w1-bitfinex.jsonl"]
    rec = read_recording(out / "collect-w1-bitfinex.jsonl")
    assert rec.exchange == "bitfinex" and rec.frames > 0 and not rec.truncated


def test_tail_prints_books_and_events(redis_url: str) -> None:
    """`bpbfx tail` prints the rebuilt book's top and events as JSON lines."""
    from bpbfx.sim.bitfinex import BitfinexSimulator
    from bpbfx.sinks import RedisStreamSink

    with BitfinexSimulator(seed=8, tick_interval=0.01, time_scale=0.01) as sim:
        from bpbfx import BitfinexClient

        client = BitfinexClient(sim.url, auth=False)
        client.subscribe(BOOK)
        client.subscribe("trades:tBTCUSD")
        sink = RedisStreamSink(redis_url)
        sink.attach(client)
        with client:
            proc = subprocess.run(
                [sys.executable, "-m", "bpbfx", "tail", redis_url, f"bitfinex:{BOOK}", "bitfinex:trades:tBTCUSD",
                 "--max-events", "30", "--duration", "20"],
                capture_output=True, text=True, timeout=60,
            )
        sink.close()
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    books = [x for x in lines if x["kind"] == "book"]
    assert len(lines) == 30 and books and books[0]["snapshot"] and books[0]["valid"]
    assert isinstance(books[0]["bid"][0], str)
