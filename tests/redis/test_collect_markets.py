"""The collector of every market against the simulators' whole markets: JSONL through the command,
Redis in-process, and listings and delistings followed while running."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bpbfx.collect import CollectConfig, Collector
from bpbfx.collect.markets import MarketSelection
from bpbfx.recording import read_recording
from bpbfx.sim._server import SimConnection
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.backpack import whole_market as backpack_whole
from bpbfx.sim.bitfinex import BitfinexSimulator
from bpbfx.sim.bitfinex import MarketSpec as BitfinexSpec
from bpbfx.sim.bitfinex import whole_market as bitfinex_whole
from tests.support import interrupt_when


def streams_with_data(out: Path) -> dict[str, set[str]]:
    """The streams each exchange's recordings hold data of (Backpack ``stream``; Bitfinex channels mapped
    through their ``subscribed`` events)."""
    seen: dict[str, set[str]] = {"backpack": set(), "bitfinex": set()}
    for path in sorted(out.glob("collect-w*-*.jsonl")):
        exchange = "backpack" if "backpack" in path.name else "bitfinex"
        channels: dict[tuple[int, int], str] = {}
        for line in path.read_text().splitlines():
            record = json.loads(line)
            raw = record.get("data") if record.get("kind", "frame") == "frame" else None
            if raw is None:
                continue
            frame = json.loads(raw) if isinstance(raw, str) else raw
            if exchange == "backpack" and isinstance(frame, dict) and "stream" in frame:
                seen[exchange].add(frame["stream"])
            elif isinstance(frame, dict) and frame.get("event") == "subscribed":
                channels[(record.get("conn"), frame["chanId"])] = frame.get("symbol") or frame.get("key")
            elif isinstance(frame, list) and frame and frame[0] != 0 and frame[1] != "hb":
                symbol = channels.get((record.get("conn"), frame[0]))
                if symbol:
                    seen[exchange].add(symbol)
    return seen


def test_all_markets_command_records_every_simulated_market_in_jsonl(tmp_path: Path) -> None:
    """`bpbfx collect --all-markets --sim` on 2 workers: every market of both whole markets delivers data,
    no gaps, no errors, and the summary counts the markets."""
    out = tmp_path / "out"
    status, err = interrupt_when(
        [sys.executable, "-m", "bpbfx", "collect", "--all-markets", "--sim", "--workers", "2", "--stats-interval",
         "0.5", "--output-dir", str(out)], lambda line: "streams live 728/728" in line, timeout=60)
    assert status == 0, err
    summary = err.splitlines()[-1]
    assert "markets backpack 64 + bitfinex 300, streams live 728/728" in summary, err
    assert "gaps 0" in summary and "errors 0" in summary and "Traceback" not in err
    seen = streams_with_data(out)
    assert len(seen["backpack"]) == 128  # trade and depth of 64 markets
    assert len(seen["bitfinex"]) == 300  # every pair's channels
    rec = read_recording(sorted(out.glob("collect-w0-bitfinex*.jsonl"))[0])
    assert rec.exchange == "bitfinex" and not rec.truncated


@pytest.fixture
def sims() -> Iterator[tuple[BackpackSimulator, BitfinexSimulator]]:
    bp = BackpackSimulator(markets=backpack_whole(12), seed=1).start()
    bf = BitfinexSimulator(markets=bitfinex_whole(40), seed=1).start()
    try:
        yield bp, bf
    finally:
        bp.stop()
        bf.stop()


def run_collector(config: CollectConfig, until: Callable[[Collector], bool],
                  on_report: Callable[[str], None] | None = None, timeout: float = 60.0) -> Collector:
    collector = Collector(config, on_report=on_report)
    thread = threading.Thread(target=collector.run, daemon=True)
    thread.start()
    done = threading.Event()
    try:
        for _ in range(int(timeout / 0.1)):
            if until(collector):
                done.set()
                break
            done.wait(0.1)
    finally:
        collector.stop()
        thread.join(30)
    assert done.is_set(), collector.status_line()
    return collector


def all_live(c: Collector) -> bool:
    s = c.stats()
    return s.streams > 0 and s.live == s.streams


def test_all_markets_into_redis_every_stream_gets_entries(redis_url: str,
                                                          sims: tuple[BackpackSimulator, BitfinexSimulator]) -> None:
    """Into Redis: every market's streams get entries, no gap entries, nothing dropped."""
    import redis

    bp, bf = sims
    config = CollectConfig(
        all_markets={"backpack": MarketSelection("backpack"), "bitfinex": MarketSelection("bitfinex")}, workers=2,
        redis=redis_url, urls={"backpack": bp.url, "bitfinex": bf.url},
        rest_urls={"backpack": bp.http_url, "bitfinex": bf.http_url}, proxy="none", stats_interval=60,
        connect_limit=(20, 60.0),
    )
    collector = run_collector(config, lambda c: all_live(c) and c.stats().written > 500)
    s = collector.stats()
    assert s.streams == 2 * 12 + 2 * 40 and s.data_gaps == 0 and s.dropped == 0 and s.lost == 0
    keys = {k.decode() for k in redis.Redis.from_url(redis_url).keys("*")}
    for symbol in bp.markets:
        assert any(symbol in k and "depth" in k for k in keys), symbol
    for symbol in bf.markets:
        if not symbol.startswith("f"):
            assert any(symbol in k and "book" in k for k in keys), symbol


def test_listings_and_delistings_are_followed_while_running(tmp_path: Path,
                                                             sims: tuple[BackpackSimulator, BitfinexSimulator]) -> None:
    """A market listed on each exchange is subscribed without restarting a worker, delisted ones are
    unsubscribed, and the supervisor says so."""
    bp, bf = sims
    reports: list[str] = []
    config = CollectConfig(
        all_markets={"backpack": MarketSelection("backpack"), "bitfinex": MarketSelection("bitfinex")}, workers=2,
        output_dir=str(tmp_path), urls={"backpack": bp.url, "bitfinex": bf.url},
        rest_urls={"backpack": bp.http_url, "bitfinex": bf.http_url}, proxy="none", stats_interval=60,
        markets_refresh=0.3,
    )
    state = {"changed": False}

    def until(c: Collector) -> bool:
        if not state["changed"]:
            if all_live(c):
                bp.list_market("NEW_USDC")
                bp.delist_market("BTC_USDC")
                bf.list_market(BitfinexSpec("tNEWUSD", Decimal("1.2345"), Decimal("100"), 2.0))
                bf.delist_market("tETHUSD")
                state["changed"] = True
            return False
        changes = " | ".join(r for r in reports if r[:1] in "+-")
        followed = all(name in changes for name in ("NEW_USDC", "tNEWUSD", "BTC_USDC", "tETHUSD"))
        return followed and all_live(c) and c.stats().streams == 2 * 12 + 2 * 40

    collector = run_collector(config, until, on_report=reports.append)
    added = " | ".join(r for r in reports if r.startswith("+"))
    removed = " | ".join(r[r.index("-"):] for r in reports if r[:1] in "+-" and "-" in r)
    assert "backpack: NEW_USDC" in added and "bitfinex: tNEWUSD" in added, reports
    assert "backpack: BTC_USDC" in removed and "bitfinex: tETHUSD" in removed, reports
    assert dict(collector.stats().markets) == {"backpack": 12, "bitfinex": 40}
    assert collector.stats().restarts == 0
    seen = streams_with_data(tmp_path)
    assert {"trade.NEW_USDC", "depth.NEW_USDC"} <= seen["backpack"] and "tNEWUSD" in seen["bitfinex"]
    records = [json.loads(line) for path in tmp_path.glob("*.jsonl") for line in path.read_text().splitlines()]
    unsubscribed = {s for r in records if r.get("kind") == "unsubscribe" for s in r["streams"]}
    assert {"depth.BTC_USDC", "trade.BTC_USDC", "trades:tETHUSD", "book:tETHUSD:P0:F0:25"} <= unsubscribed


class _CountingConnects(BitfinexSimulator):
    """The Bitfinex simulator noting when each connection arrives."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.connected_at: list[float] = []

    async def on_connect(self, conn: SimConnection) -> None:
        self.connected_at.append(time.monotonic())
        await super().on_connect(conn)


def test_workers_share_one_connect_budget_on_loopback(tmp_path: Path) -> None:
    """Two workers with a budget of 3 connects per 2 s open 4 sockets: never more than 3 in any 2 s."""
    bf = _CountingConnects(markets=bitfinex_whole(40), seed=2).start()
    try:
        config = CollectConfig(all_markets={"bitfinex": MarketSelection("bitfinex")}, workers=2,
                               output_dir=str(tmp_path), urls={"bitfinex": bf.url},
                               rest_urls={"bitfinex": bf.http_url}, proxy="none", stats_interval=60,
                               connect_limit=(3, 2.0))
        run_collector(config, all_live)
        stamps = sorted(bf.connected_at)
    finally:
        bf.stop()
    assert len(stamps) == 4  # 80 channels: 2 sockets of 25 channels or fewer per worker
    assert max(sum(1 for t in stamps if s <= t < s + 2.0) for s in stamps) <= 3
    assert stamps[-1] - stamps[0] >= 1.9  # the fourth waited for its worker's window
