"""Backfilled trades through RedisStreamSink into a real redis-server: the ``backfill`` field on
their entries (given back by the reader), and a ``trades_missing`` gap with the id range
(Backpack) or the time span (Bitfinex) when a hole could not be filled."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from bpbfx import BackpackClient, BitfinexClient, TradeGapError
from bpbfx.backfill import BackfillPolicy
from bpbfx.backpack.events import Trade
from bpbfx.bitfinex.events import TradesSnapshot, TradeUpdate
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import DEFAULT_MARKETS as BF_MARKETS
from bpbfx.sim.bitfinex import BitfinexSimulator
from bpbfx.sinks import RedisStreamReader, RedisStreamSink, StreamEntry, stream_key
from tests.support import FAST, Recorder, holes, keep_out, trade_until

STREAM = "trade.SOL_USDC"
BF_STREAM = "trades:tBTCUSD"


@pytest.fixture
def sim(backpack_sim: Callable[..., BackpackSimulator]) -> BackpackSimulator:
    return backpack_sim(seed=8, tick_interval=None)


def test_backfilled_trades_carry_the_field_and_a_lost_hole_is_a_gap(redis_url: str, sim: BackpackSimulator) -> None:
    """Entries of backfilled trades have backfill=1 (the reader's StreamEntry.backfill), live
    ones none; a hole the history refused is a gap entry with reason trades_missing naming the
    first and last id, counted in the sink's gaps_by_reason."""
    events, errors, entries = Recorder(), Recorder(), Recorder()
    sink = RedisStreamSink(redis_url)
    client = BackpackClient(sim.url, rest_url=sim.http_url, streams=[STREAM], backoff=FAST, on_message=events,
                            on_error=errors, backfill_trades=BackfillPolicy(retry_delay=0.05, rate=50))
    sink.attach(client)
    reader = RedisStreamReader(redis_url, [f"backpack:{STREAM}"], on_message=entries, block=0.2)
    with reader, client:
        assert client.wait_ready(5)
        trade_until(sim, events, 3)
        keep_out(sim, 30)
        assert events.wait_for(lambda items: any(getattr(i, "backfill", False) for i in items), 10)
        trade_until(sim, events, 3)
        backfilled = {e.trade_id for e in events.of(Trade) if e.backfill}
        sim.fail_trade_history(None, 503)
        keep_out(sim, 30)
        trade_until(sim, events, 3)
        assert errors.wait_for(lambda items: any(isinstance(i, TradeGapError) for i in items), 10)
        [lost] = errors.of(TradeGapError)
        assert holes(e.trade_id for e in events.of(Trade)) == [(lost.first_id, lost.last_id)]
        assert sink.flush(5)
        assert entries.wait_for(lambda items: any(e.kind == "gap" and e.data["reason"] == "trades_missing"
                                                  for e in items), 10)
    sink.close()
    trades = [e for e in entries.of(StreamEntry) if e.kind == "trade"]
    assert {e.data["t"] for e in trades if e.backfill} == backfilled
    assert all(e.backfill == (e.data["t"] in backfilled) for e in trades)
    [gap] = [e for e in entries.of(StreamEntry) if e.kind == "gap" and e.data["reason"] == "trades_missing"]
    assert (gap.data["first_id"], gap.data["last_id"]) == (lost.first_id, lost.last_id)
    assert (gap.data["expected"], gap.data["got"], gap.data["dropped"]) == (
        lost.first_id, (lost.last_id or 0) + 1, lost.missing)
    raw = redis.Redis.from_url(redis_url).xrange(stream_key("backpack", STREAM))
    flags = [f.get(b"backfill") for _, f in raw if f[b"kind"] == b"trade"]
    assert set(flags) == {None, b"1"} and flags.count(b"1") == len(backfilled)
    assert sink.stats().gaps_by_reason.get("trades_missing") == 1


def test_bitfinex_backfilled_trades_carry_the_field_and_a_lost_span_is_a_gap(
    redis_url: str, bitfinex_sim: Callable[..., BitfinexSimulator]
) -> None:
    """A Bitfinex trades channel: the cut resubscribe snapshot and the trades read from the
    history have backfill=1, live trades none; a span the history refused is a trades_missing
    gap entry naming start_ms and end_ms."""
    sim = bitfinex_sim(seed=8, tick_interval=None, markets=[m for m in BF_MARKETS if m.symbol == "tBTCUSD"])
    events, errors, entries = Recorder(), Recorder(), Recorder()
    sink = RedisStreamSink(redis_url)
    client = BitfinexClient(sim.url, rest_url=sim.http_url, auth=False, backoff=FAST, on_message=events,
                            on_error=errors, backfill_trades=BackfillPolicy(retry_delay=0.05, rate=50))
    client.subscribe(BF_STREAM)
    sink.attach(client)

    def backfilled() -> set[int]:
        rows = [r for e in events.of(TradesSnapshot) for r in e.trades] + [e.trade for e in events.of(TradeUpdate)]
        return {r.id for r in rows if r.backfill}

    reader = RedisStreamReader(redis_url, [f"bitfinex:{BF_STREAM}"], on_message=entries, block=0.2)
    with reader, client:
        assert client.wait_ready(5)
        sim.step(10)
        assert events.wait_count(3, 10, TradeUpdate)
        keep_out(sim, 100)
        assert events.wait_for(lambda items: any(isinstance(i, TradeUpdate) and i.backfill for i in items), 10)
        sim.refuse_rest("/v2/trades/")
        keep_out(sim, 100)
        assert errors.wait_for(lambda items: any(isinstance(i, TradeGapError) for i in items), 10)
        [lost] = errors.of(TradeGapError)
        assert sink.flush(5)
        assert entries.wait_for(lambda items: any(e.kind == "gap" and e.data["reason"] == "trades_missing"
                                                  for e in items), 10)
    sink.close()
    marked: set[int] = set()
    for entry in entries.of(StreamEntry):
        if entry.kind == "trade_update":
            assert entry.backfill == (entry.data[0] in backfilled())
            if entry.backfill:
                marked.add(entry.data[0])
        elif entry.kind == "trades_snapshot" and entry.backfill:
            marked.update(row[0] for row in entry.data)
    assert marked == backfilled() and len(marked) > 30
    [gap] = [e for e in entries.of(StreamEntry) if e.kind == "gap" and e.data["reason"] == "trades_missing"]
    assert (gap.data["start_ms"], gap.data["end_ms"]) == (lost.start_ms, lost.end_ms)
