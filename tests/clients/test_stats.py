"""stats() counts alike on both exchanges: a dropped socket resyncs every book it fed, once each."""

from __future__ import annotations

from collections.abc import Callable

from bpbfx import BackpackClient, BitfinexClient
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from tests.support import FAST, Recorder


def test_backpack_drop_resyncs_each_book_once(backpack_sim: Callable[..., BackpackSimulator]) -> None:
    """Two synced Backpack books and a dropped socket: stats().resyncs == 2, both books valid again."""
    sim = backpack_sim(tick_interval=0.01, time_scale=0.01)
    opens = Recorder()
    client = BackpackClient(
        sim.url, rest_url=sim.http_url, streams=["depth.SOL_USDC", "depth.BTC_USDC"], backoff=FAST,
        on_open=opens, on_error=lambda c, e: None,
    )
    with client:
        assert client.wait_ready(10) and client.stats().resyncs == 0
        sim.drop_connections()
        assert opens.wait_count(2)
        assert client.wait_ready(10)
        assert client.stats().resyncs == 2


def test_bitfinex_drop_resyncs_each_book_once(bitfinex_sim: Callable[..., BitfinexSimulator]) -> None:
    """Two synced Bitfinex books and a dropped socket: stats().resyncs == 2, both books valid again."""
    sim = bitfinex_sim(tick_interval=0.01)
    opens = Recorder()
    client = BitfinexClient(sim.url, auth=False, backoff=FAST, on_open=opens, on_error=lambda c, e: None)
    client.subscribe("book", symbol="tBTCUSD")
    client.subscribe("book", symbol="tETHUSD")
    with client:
        assert client.wait_ready(10) and client.stats().resyncs == 0
        sim.drop_connections()
        assert opens.wait_count(2)
        assert client.wait_ready(10)
        assert client.stats().resyncs == 2
