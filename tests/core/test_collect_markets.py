"""Every market for the collector, without sockets: market lists parsed, filters and stream
kinds, loads and sharding, the Bitfinex connect budget, config and what a refresh changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpbfx import ConfigurationError
from bpbfx.collect import CollectConfig, load_config, shard
from bpbfx.collect.budget import bitfinex_workers, connect_seconds, sockets_needed, split_connect_budget
from bpbfx.collect.discovery import MarketList
from bpbfx.collect.following import MarketWatch, change_words, diff_units, units_of
from bpbfx.collect.markets import (
    MarketSelection,
    backpack_loads,
    bitfinex_loads,
    parse_backpack_markets,
    parse_bitfinex_pairs,
    stream_kinds,
    weights,
)
from bpbfx.collect.shard import MarketUnit, assign
from bpbfx.transport import RateLimiter

# Typical answers, in the exchanges' shapes (GET /api/v1/markets, /api/v1/tickers on Backpack;
# /v2/conf/pub:list:pair:exchange and /v2/tickers?symbols=ALL on Bitfinex), cut short.
BACKPACK_MARKETS = [
    {"symbol": "SOL_USDC", "baseSymbol": "SOL", "quoteSymbol": "USDC", "marketType": "SPOT",
     "orderBookState": "Open", "filters": {"price": {"tickSize": "0.01"}}},
    {"symbol": "BTC_USDC_PERP", "baseSymbol": "BTC", "quoteSymbol": "USDC", "marketType": "PERP",
     "orderBookState": "Open"},
    {"symbol": "WEN_USDT", "baseSymbol": "WEN", "quoteSymbol": "USDT", "marketType": "SPOT",
     "orderBookState": "Open"},
    {"symbol": "OLD_USDC", "baseSymbol": "OLD", "quoteSymbol": "USDC", "marketType": "SPOT",
     "orderBookState": "Closed"},
]
BACKPACK_TICKERS = [
    {"symbol": "SOL_USDC", "lastPrice": "150.1", "quoteVolume": "90000000", "trades": "250000"},
    {"symbol": "BTC_USDC_PERP", "lastPrice": "86700", "quoteVolume": "300000000", "trades": "750000"},
    {"symbol": "WEN_USDT", "lastPrice": "0.0001", "quoteVolume": "1200", "trades": "12"},
]
BITFINEX_PAIRS = [["BTCUSD", "ETHBTC", "TESTBTC:TESTUSD", "BTCF0:USTF0", "DOGE:USD", "XYZEUR"]]
BITFINEX_TICKERS = [
    ["tBTCUSD", 118940, 1.2, 118950, 0.8, 100, 0.001, 118945, 1000, 119000, 118000],
    ["tETHBTC", 0.0365, 10, 0.0366, 12, 0, 0, 0.0365, 500, 0.037, 0.036],
    ["tDOGE:USD", 0.22, 1e5, 0.23, 1e5, 0, 0, 0.225, 2e6, 0.23, 0.21],
    ["fUSD", 0.0002, 0.0002, 30, 1e6, 0.0002, 2, 1e6, 0, 0, 0.0002, 1e8, 0, 0, None, None, 5e6],
]


def test_backpack_market_list_is_parsed_with_states_and_types() -> None:
    """Backpack's list gives symbol, base, quote, type and whether the book is open."""
    markets = parse_backpack_markets(BACKPACK_MARKETS)
    assert [(m.symbol, m.base, m.quote, m.kind, m.live) for m in markets] == [
        ("SOL_USDC", "SOL", "USDC", "spot", True), ("BTC_USDC_PERP", "BTC", "USDC", "perp", True),
        ("WEN_USDT", "WEN", "USDT", "spot", True), ("OLD_USDC", "OLD", "USDC", "spot", False)]
    with pytest.raises(ValueError, match="expected a list"):
        parse_backpack_markets({"error": "x"})


def test_bitfinex_pair_list_is_parsed_with_colons_and_perpetuals() -> None:
    """Bitfinex pairs become t-symbols; colon pairs split there; F0 pairs are perpetuals."""
    markets = parse_bitfinex_pairs(BITFINEX_PAIRS)
    assert [(m.symbol, m.base, m.quote, m.kind) for m in markets] == [
        ("tBTCUSD", "BTC", "USD", "spot"), ("tETHBTC", "ETH", "BTC", "spot"),
        ("tTESTBTC:TESTUSD", "TESTBTC", "TESTUSD", "spot"), ("tBTCF0:USTF0", "BTC", "UST", "perp"),
        ("tDOGE:USD", "DOGE", "USD", "spot"), ("tXYZEUR", "XYZ", "EUR", "spot")]
    with pytest.raises(ValueError, match=r"\[\[PAIR"):
        parse_bitfinex_pairs(["BTCUSD"])


def test_filters_keep_live_markets_of_the_quote_and_type() -> None:
    """quote and market_type filter; closed Backpack markets are never kept."""
    markets = parse_backpack_markets(BACKPACK_MARKETS)
    assert [m.symbol for m in MarketSelection("backpack").select(markets)] == ["SOL_USDC", "BTC_USDC_PERP", "WEN_USDT"]
    assert [m.symbol for m in MarketSelection("backpack", quote=("usdc",)).select(markets)] == [
        "SOL_USDC", "BTC_USDC_PERP"]
    assert [m.symbol for m in MarketSelection("backpack", market_type="perp").select(markets)] == ["BTC_USDC_PERP"]
    bitfinex = parse_bitfinex_pairs(BITFINEX_PAIRS)
    assert [m.symbol for m in MarketSelection("bitfinex", quote=("UST",)).select(bitfinex)] == ["tBTCF0:USTF0"]
    with pytest.raises(ConfigurationError, match="market_type must be spot, perp or all"):
        MarketSelection("backpack", market_type="futures")


def test_stream_kinds_are_spelled_per_exchange_and_bad_ones_refused() -> None:
    """Shared kinds map to each exchange's spelling; EXCHANGE:KIND targets one; unknown kinds are refused."""
    kinds = stream_kinds(["backpack", "bitfinex"], ["trades", "book", "bitfinex:candles:1m", "backpack:bookTicker"])
    assert kinds == {"backpack": ("trade", "depth", "bookTicker"),
                     "bitfinex": ("trades", "book:P0:F0:25", "candles:1m")}
    assert stream_kinds(["bitfinex"], []) == {"bitfinex": ("trades", "book")}
    assert stream_kinds(["backpack"], ["depth.200ms", "kline.1m"]) == {"backpack": ("depth.200ms", "kline.1m")}
    for bad in ("candels", "account.orderUpdate", "backpack:book:P0:F0:25", "depth.100ms"):
        with pytest.raises(ConfigurationError, match="unknown market stream"):
            stream_kinds(["backpack", "bitfinex"], [bad])


def test_streams_of_a_market_as_the_clients_name_them() -> None:
    """Each market gets its streams; Backpack perp-only kinds skip spot markets."""
    bp = MarketSelection("backpack", streams=("trade", "depth", "markPrice"))
    sol, perp = parse_backpack_markets(BACKPACK_MARKETS)[:2]
    assert bp.streams_of(sol) == ["trade.SOL_USDC", "depth.SOL_USDC"]
    assert bp.streams_of(perp) == ["trade.BTC_USDC_PERP", "depth.BTC_USDC_PERP", "markPrice.BTC_USDC_PERP"]
    bf = MarketSelection("bitfinex", streams=("trades", "book", "book:P1:F0:100", "candles:1m", "ticker"))
    btc = parse_bitfinex_pairs(BITFINEX_PAIRS)[0]
    assert bf.streams_of(btc) == ["trades:tBTCUSD", "book:tBTCUSD:P0:F0:25", "book:tBTCUSD:P1:F0:100",
                                  "candles:trade:1m:tBTCUSD", "ticker:tBTCUSD"]


def test_loads_come_from_the_tickers_and_weigh_markets_around_one() -> None:
    """Trades (Backpack) or USD volume (Bitfinex, via the quote's USD pair) weigh the markets; mean weight 1."""
    assert backpack_loads(BACKPACK_TICKERS) == {"SOL_USDC": 250000.0, "BTC_USDC_PERP": 750000.0, "WEN_USDT": 12.0}
    loads = bitfinex_loads(BITFINEX_TICKERS)
    assert set(loads) == {"tBTCUSD", "tETHBTC", "tDOGE:USD"}
    assert loads["tETHBTC"] == pytest.approx(500 * 0.0365 * 118945)  # BTC volume in USD through tBTCUSD
    markets = MarketSelection("backpack").select(parse_backpack_markets(BACKPACK_MARKETS))
    w = weights(markets, backpack_loads(BACKPACK_TICKERS))
    assert sum(w.values()) / len(w) == pytest.approx(1.0)
    assert w["BTC_USDC_PERP"] > w["SOL_USDC"] > w["WEN_USDT"] >= 0.2
    assert weights(markets, {}) == {m.symbol: 1.0 for m in markets}
    assert backpack_loads("garbage") == {} and bitfinex_loads(None) == {}


def test_busy_markets_land_on_different_workers() -> None:
    """Heaviest first onto the least loaded worker: the busy markets spread, quiet ones fill in."""
    units = [MarketUnit("backpack", f"M{i}", ("trade.x", "depth.x"), w)
             for i, w in enumerate([9.0, 8.0, 7.0] + [0.3] * 30)]
    loads = [0.0, 0.0, 0.0]
    workers = assign(units, loads, {})
    assert sorted(workers[:3]) == [0, 1, 2]
    assert max(loads) - min(loads) <= 2 * 0.3 * 2 + 1e-9
    # Bitfinex markets go only to the eligible workers.
    assert set(assign([MarketUnit("bitfinex", f"t{i}", ("trades:x",)) for i in range(9)], [0.0] * 3,
                      {"bitfinex": 2})) == {0, 1}


def test_budget_shares_follow_the_sockets_needed_and_add_up() -> None:
    """Shares are proportional to the sockets each worker needs, at least one, summing to the budget."""
    assert sockets_needed(0) == 0 and sockets_needed(25) == 1 and sockets_needed(26) == 2
    assert split_connect_budget([10, 10]) == [(10, 60.0), (10, 60.0)]
    assert split_connect_budget([3, 0, 1], (20, 60.0)) == [(15, 60.0), None, (5, 60.0)]
    shares = split_connect_budget([48, 1, 1, 7], (20, 60.0))
    assert sum(s[0] for s in shares if s) == 20 and all(s and s[0] >= 1 for s in shares)
    with pytest.raises(ValueError, match="cannot share"):
        split_connect_budget([1] * 21)
    assert bitfinex_workers(30, (20, 60.0)) == 20 and bitfinex_workers(3, None) == 3
    assert connect_seconds(48, (20, 60.0)) == 120.0 and connect_seconds(20, (20, 60.0)) == 0.0


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_workers_never_connect_more_than_twenty_per_minute_together(workers: int) -> None:
    """Every worker's client limiter at its share, connecting as fast as allowed: any 60 s window holds <= 20."""
    needs = [48 // workers + (1 if i < 48 % workers else 0) for i in range(workers)]
    shares = [share for share in split_connect_budget(needs) if share]
    now = [0.0]
    limiters = [RateLimiter(*share, clock=lambda: now[0]) for share in shares]
    left = list(needs)
    stamps: list[float] = []
    while any(left) and now[0] < 1000:
        for i, limiter in enumerate(limiters):
            while left[i] and limiter.reserve() == 0.0:
                left[i] -= 1
                stamps.append(now[0])
        now[0] += 0.5
    assert not any(left)
    assert max(sum(1 for t in stamps if start <= t < start + 60.0) for start in stamps) <= 20
    # Done when the budget says: the last window of the slowest worker (0.5 s polling here).
    assert max(stamps) <= max(connect_seconds(n, share) for n, share in zip(needs, shares, strict=True)) + 0.5


def test_shard_gives_each_bitfinex_worker_its_share(tmp_path: Path) -> None:
    """shard() places markets by load and hands each Bitfinex worker its part of the connect budget."""
    config = CollectConfig(all_markets={"bitfinex": MarketSelection("bitfinex")}, workers=3)
    units = [MarketUnit("bitfinex", f"t{i}", (f"trades:t{i}", f"book:t{i}:P0:F0:25"), 1.0) for i in range(300)]
    specs = shard(config, markets=units, connect_limit=(20, 60.0))
    assert [len(s.streams) for s in specs] == [200, 200, 200]
    assert sum(s.connect_limit[0] for s in specs if s.connect_limit) == 20
    assert all(s.connect_limit is None for s in shard(config, markets=units))


def test_config_file_records_every_market_with_filters(tmp_path: Path) -> None:
    """markets = "all" with quote, market_type and market_streams; refresh and connect limit at the top."""
    path = tmp_path / "c.toml"
    path.write_text('markets_refresh = 60\nconnect_limit = [10, 60]\n[backpack]\nmarkets = "all"\nquote = ["USDC"]\n'
                    'market_type = "spot"\nmarket_streams = ["trade", "depth"]\n[bitfinex]\nmarkets = "all"\n'
                    'market_streams = ["trades", "book"]\n')
    config = load_config(path)
    assert config.markets_refresh == 60 and config.connect_limit == (10, 60.0)
    assert config.all_markets["backpack"] == MarketSelection("backpack", ("USDC",), "spot", ("trade", "depth"))
    assert config.all_markets["bitfinex"].streams == ("trades", "book:P0:F0:25")
    assert config.exchanges() == ("backpack", "bitfinex")
    for text, message in [('[backpack]\nmarkets = "some"\n', 'markets must be "all"'),
                          ('[backpack]\nquote = ["USDC"]\nstreams = ["trade.SOL_USDC"]\n', 'add markets = "all"'),
                          ('[bitfinex]\nmarkets = "all"\nmarket_streams = ["depht"]\n', "unknown market stream"),
                          ('[bitfinex]\nmarkets = "all"\nmarket_type = "option"\n', "market_type"),
                          ('connect_limit = [0, 60]\n[bitfinex]\nmarkets = "all"\n', "connect_limit"),
                          ('markets_refresh = -1\n[bitfinex]\nmarkets = "all"\n', "markets_refresh")]:
        path.write_text(text)
        with pytest.raises(ConfigurationError, match=message):
            load_config(path)


def test_a_refresh_places_new_markets_and_removes_delisted_ones() -> None:
    """A new reading adds listed markets (least loaded worker) and removes delisted ones, in words."""
    lists = {"backpack": MarketList("backpack", tuple(parse_backpack_markets(BACKPACK_MARKETS)))}
    watch = MarketWatch({"backpack": MarketSelection("backpack")}, fetch=lambda e: lists[e])
    units = watch.discover()
    assert [u.symbol for u in units] == ["SOL_USDC", "BTC_USDC_PERP", "WEN_USDT"]
    watch.place(units, {("backpack", u.streams[0]): i % 2 for i, u in enumerate(units)})
    assert watch.counts() == {"backpack": 3}
    changed = [*BACKPACK_MARKETS[:2], {"symbol": "FOO_USDC", "orderBookState": "Open"},
               {"symbol": "BAR_USDC", "orderBookState": "Open"}]
    lists["backpack"] = MarketList("backpack", tuple(parse_backpack_markets(changed)))
    watch.refresh_now()
    loads = [10.0, 2.0]
    changes, failures = watch.poll(loads, {})
    assert not failures
    assert [(w, u.symbol) for w, u in changes.removed] == [(0, "WEN_USDT")]
    assert sorted(u.symbol for _, u in changes.added) == ["BAR_USDC", "FOO_USDC"]
    assert {w for w, _ in changes.added} == {1}
    assert change_words(changes) == "+2 markets (backpack: FOO_USDC, BAR_USDC), -1 (backpack: WEN_USDT)"
    assert watch.counts() == {"backpack": 4}
    assert diff_units(["A"], units_of(MarketSelection("backpack"), lists["backpack"]))[1] == ["A"]
