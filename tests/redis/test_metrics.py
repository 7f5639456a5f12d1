"""Metrics of a Redis sink and reader against a real redis-server, scraped over HTTP."""

from __future__ import annotations

from collections.abc import Callable

from bpbfx.metrics import serve_metrics
from bpbfx.metrics.catalogue import GAP_REASONS
from bpbfx.sim.bitfinex import BitfinexSimulator
from bpbfx.sinks import RedisStreamReader, RedisStreamSink
from tests.redis.test_sink import BOOK, FAST, BookLog, bitfinex_client
from tests.redis_servers import RedisServer
from tests.support import Recorder, Scrape


def test_sink_and_reader_counters_grow_between_scrapes(redis_url: str,
                                                       bitfinex_sim: Callable[..., BitfinexSimulator]) -> None:
    """Entries written and read grow between two scrapes; the sink is connected, every gap reason
    is there at 0, and each stream read has the age of its last entry."""
    sim = bitfinex_sim(seed=3, tick_interval=0.01, time_scale=0.01)
    live = BookLog()
    client = bitfinex_client(sim, live, name="bf")
    sink = RedisStreamSink(redis_url, queue_size=5000, name="sink-a")
    sink.attach(client)
    entries = Recorder()
    reader = RedisStreamReader(redis_url, [f"bitfinex:{BOOK}", "bitfinex:trades:tBTCUSD"], on_message=entries,
                               start="earliest", block=0.2, name="reader-a")
    with client, reader, serve_metrics(0, clients=[client], sinks=[sink], readers=[reader]) as server:
        assert entries.wait_count(10, 15)
        first = Scrape(server.url)
        assert entries.wait_count(len(entries.items) + 20, 15)
        second = Scrape(server.url)
    sink.close()
    for name, labels in [("bpbfx_sink_entries_written_total", {"sink": "sink-a"}),
                         ("bpbfx_sink_batches_total", {"sink": "sink-a"}),
                         ("bpbfx_reader_entries_total", {"reader": "reader-a"}),
                         ("bpbfx_events_total", {"client": "bf", "stream": BOOK})]:
        before, after = first.value(name, **labels), second.value(name, **labels)
        assert before is not None and after is not None and after > before, name
    assert second.value("bpbfx_sink_connected", sink="sink-a") == 1
    assert second.value("bpbfx_sink_queue_capacity_items", sink="sink-a") == 5000
    assert (second.value("bpbfx_sink_snapshots_written_total", sink="sink-a") or 0) >= 1
    assert {s.labels["reason"]: s.value for s in second.series("bpbfx_sink_gaps_total", sink="sink-a")} == {
        reason: 0 for reason in GAP_REASONS}
    ages = {s.labels["stream"]: s.value for s in second.series("bpbfx_reader_last_entry_age_seconds")}
    assert set(ages) == {f"bitfinex:{BOOK}", "bitfinex:trades:tBTCUSD"}
    assert all(0 <= age < 60 for age in ages.values())
    assert second.value("bpbfx_reader_gaps_total", reader="reader-a") == 0


def test_sink_lag_grows_while_redis_is_stopped_and_is_zero_once_flushed(
        own_redis: RedisServer, bitfinex_sim: Callable[..., BitfinexSimulator]) -> None:
    """With Redis SIGSTOPped the queued items age (lag > 0); once Redis is back and the queue
    is written, the lag is 0 again."""
    sim = bitfinex_sim(seed=4, tick_interval=0.01, time_scale=0.01)
    live = BookLog()
    client = bitfinex_client(sim, live)
    sink = RedisStreamSink(own_redis.url, socket_timeout=0.5, backoff=FAST)
    sink.attach(client)
    with client:
        assert live.wait_for(lambda s: sink.stats().written > 0, 10)
        own_redis.pause()
        try:
            assert live.wait_for(lambda s: sink.stats().lag > 0.3, 10), sink.stats()
        finally:
            own_redis.resume()
        client.remove_sink(sink)
        assert sink.flush(15)
        assert sink.stats().lag == 0.0 and sink.stats().queued == 0
    sink.close()
