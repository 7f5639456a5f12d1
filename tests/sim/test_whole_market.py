"""Both simulators with the whole market: dozens / hundreds of markets spread from busy to quiet,
the market lists and tickers, and markets listed and delisted while running (raw sockets and
urllib)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import websocket

from bpbfx.sim.backpack import ALL_MARKETS as BACKPACK_ALL
from bpbfx.sim.backpack import BackpackSimulator, MarketSpec
from bpbfx.sim.backpack import whole_market as backpack_whole
from bpbfx.sim.bitfinex import ALL_MARKETS as BITFINEX_ALL
from bpbfx.sim.bitfinex import BitfinexSimulator
from bpbfx.sim.bitfinex import MarketSpec as BitfinexSpec
from bpbfx.sim.bitfinex import whole_market as bitfinex_whole
from tests.sim.test_bitfinex import collect, recv, send, subscribe


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_whole_markets_are_large_and_spread_from_busy_to_quiet() -> None:
    """ALL_MARKETS: 64 Backpack markets and 300 Bitfinex pairs, busiest first, activity falling with rank."""
    assert len(BACKPACK_ALL) == 64 and len({m.symbol for m in BACKPACK_ALL}) == 64
    assert {m.perp for m in BACKPACK_ALL} == {True, False}
    rates = [m.activity or 0 for m in BACKPACK_ALL]
    assert rates == sorted(rates, reverse=True) and rates[0] >= 10 * rates[-1]
    pairs = [m for m in BITFINEX_ALL if not m.funding]
    assert len(pairs) == 300 and len({m.symbol for m in pairs}) == 300
    assert all(m.symbol[1:4] != m.symbol[4:7] for m in pairs)
    assert max(m.activity for m in pairs) >= 8 * min(m.activity for m in pairs)
    assert len(backpack_whole(10)) == 10 and len([m for m in bitfinex_whole(50) if not m.funding]) == 50


def test_quiet_bitfinex_markets_sleep_between_events(bitfinex_sim: Callable[..., BitfinexSimulator]) -> None:
    """A quiet pair is evolved only on its rare event ticks, the busiest on every tick."""
    specs = bitfinex_whole(60)
    sim = bitfinex_sim(seed=5, tick_interval=None, markets=specs)
    calls = {"tBTCUSD": 0, specs[55].symbol: 0}
    for symbol in calls:
        market = sim._markets[symbol]
        evolve = market.evolve

        def counted(now_ms: int, symbol: str = symbol, evolve: Callable[[int], None] = evolve) -> None:
            calls[symbol] += 1
            evolve(now_ms)

        market.evolve = counted  # type: ignore[method-assign]
    sim.step(400)
    assert calls["tBTCUSD"] == 400
    assert 1 <= calls[specs[55].symbol] <= 40


def test_bitfinex_delisted_pair_leaves_the_lists_and_refuses_subscriptions(
        bitfinex_sim: Callable[..., BitfinexSimulator]) -> None:
    """Delisting: out of the pair list and tickers, 10300 on subscribe, the open channel gets no data; listing
    brings a pair in."""
    sim = bitfinex_sim(seed=7, tick_interval=None, markets=bitfinex_whole(30))
    assert "BTCUSD" in get(sim.http_url + "/v2/conf/pub:list:pair:exchange")[0]
    ws = websocket.create_connection(sim.url, timeout=5)
    try:
        recv(ws)  # info
        ack, _ = subscribe(ws, channel="trades", symbol="tBTCUSD")
        assert ack["event"] == "subscribed"
        sim.delist_market("tBTCUSD")
        sim.step(40)
        chan = ack["chanId"]
        assert [f for f in collect(ws) if f.startswith(f"[{chan},") and '"hb"' not in f] == []
        assert "BTCUSD" not in get(sim.http_url + "/v2/conf/pub:list:pair:exchange")[0]
        assert "tBTCUSD" not in [row[0] for row in get(sim.http_url + "/v2/tickers?symbols=ALL")]
        send(ws, {"event": "subscribe", "channel": "book", "symbol": "tBTCUSD"})
        error = recv(ws)
        assert error["event"] == "error" and error["code"] == 10300
        sim.list_market(BitfinexSpec("tNEWUSD", Decimal("1.2345"), Decimal("100")))
        assert "NEWUSD" in get(sim.http_url + "/v2/conf/pub:list:pair:exchange")[0]
        ack, snapshot = subscribe(ws, channel="book", symbol="tNEWUSD")
        assert ack["event"] == "subscribed" and len(snapshot[1]) > 0
    finally:
        ws.close()


def test_backpack_delisted_market_goes_silent_and_closed(backpack_sim: Callable[..., BackpackSimulator]) -> None:
    """Delisting: orderBookState Closed, out of the tickers, its streams stop; listing a new market opens it."""
    sim = backpack_sim(seed=3, tick_interval=None, markets=backpack_whole(12))
    ws = websocket.create_connection(sim.url, timeout=5)
    try:
        send(ws, {"method": "SUBSCRIBE", "params": ["depth.SOL_USDC"]})
        sim.step(3)
        assert sim.wait_for(lambda: sim.book("SOL_USDC").last_update_id > 0)
        sim.delist_market("SOL_USDC")
        states = {m["symbol"]: m["orderBookState"] for m in get(sim.http_url + "/api/v1/markets")}
        assert states["SOL_USDC"] == "Closed" and states["BTC_USDC"] == "Open"
        assert "SOL_USDC" not in [t["symbol"] for t in get(sim.http_url + "/api/v1/tickers")]
        before = sim.book("SOL_USDC").last_update_id
        sim.step(20)
        assert sim.book("SOL_USDC").last_update_id == before  # nothing moves, nothing is published
        sim.list_market(MarketSpec.for_symbol("NEW_USDC"))
        sim.step(5)
        assert sim.book("NEW_USDC").last_update_id > 0
        assert "NEW_USDC" in [t["symbol"] for t in get(sim.http_url + "/api/v1/tickers")]
    finally:
        ws.close()
