"""Unified events from both simulators over loopback sockets, checked against the native events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import BackpackClient, BitfinexClient
from bpbfx.backpack import events as bp
from bpbfx.bitfinex import events as bf
from bpbfx.bitfinex.protocol import OB_CHECKSUM, SEQ_ALL, TIMESTAMP
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from bpbfx.unified import BookChange, Candle, FundingRate, MarkPrice, Quote, Ticker, Trade, UnifiedSink
from tests.support import Recorder


@pytest.fixture
def bp_sim(backpack_sim: Callable[..., BackpackSimulator]) -> BackpackSimulator:
    return backpack_sim(seed=3, tick_interval=0.01, time_scale=0.01, markets=["SOL_USDC", "BTC_USDC_PERP"])


@pytest.fixture
def bf_sim(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(seed=3, tick_interval=0.01, time_scale=0.01)


def _has(*kinds: type) -> Any:
    return lambda items: all(any(type(i) is k for i in items) for k in kinds)


def test_backpack_streams_become_unified_events(bp_sim: BackpackSimulator) -> None:
    """Trades, bookTicker, ticker, kline, markPrice and the depth book map field by field."""
    unified, native = Recorder(), Recorder()
    client = BackpackClient(bp_sim.url, rest_url=bp_sim.http_url, on_message=native)
    client.subscribe("trade.SOL_USDC", "bookTicker.SOL_USDC", "ticker.SOL_USDC", "kline.1m.SOL_USDC",
                     "depth.SOL_USDC", "markPrice.BTC_USDC_PERP")
    client.add_sink(UnifiedSink(unified))
    with client:
        assert unified.wait_for(_has(Trade, Quote, Ticker, Candle, BookChange, MarkPrice, FundingRate), 15)
    items = list(unified.items)
    for trade in (t for t in items if type(t) is Trade):
        n = trade.data
        assert isinstance(n, bp.Trade) and trade.symbol == "SOL/USDC" and trade.native_symbol == "SOL_USDC"
        assert (trade.price, trade.size, trade.trade_id) == (n.price, n.quantity, n.trade_id)
        assert trade.side == ("sell" if n.buyer_is_maker else "buy")
        assert trade.exchange_time_us == (n.engine_time_us or n.event_time_us)
    quote = next(q for q in items if type(q) is Quote and q.stream == "bookTicker.SOL_USDC")
    n = quote.data
    assert (quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (n.bid_price, n.bid_quantity, n.ask_price,
                                                                      n.ask_quantity)
    ticker = next(t for t in items if type(t) is Ticker)
    n = ticker.data
    assert (ticker.last, ticker.open, ticker.volume, ticker.quote_volume) == (n.close, n.open, n.volume,
                                                                               n.quote_volume)
    assert ticker.change == n.close - n.open and ticker.trades == n.trades
    candle = next(c for c in items if type(c) is Candle)
    n = candle.data
    start = datetime.fromisoformat(n.start).replace(tzinfo=timezone.utc)
    assert candle.interval == "1m" and candle.open_time_us == int(start.timestamp()) * 1_000_000
    assert (candle.open, candle.high, candle.low, candle.close, candle.closed) == (n.open, n.high, n.low, n.close,
                                                                                   n.closed)
    mark = next(m for m in items if type(m) is MarkPrice)
    assert mark.symbol == "BTC/USDC:USDC" and mark.mark_price == mark.data.mark_price
    funding = next(f for f in items if type(f) is FundingRate)
    assert funding.rate == funding.data.funding_rate
    assert funding.next_funding_time_us == funding.data.next_funding_time_ms * 1000
    change = next(c for c in items if type(c) is BookChange)
    assert change.symbol == "SOL/USDC" and change.stream == "depth.SOL_USDC" and change.book is client.book("SOL_USDC")
    # A Quote follows the top of the managed book as well.
    assert any(type(q) is Quote and q.stream == "depth.SOL_USDC" for q in items)


def test_bitfinex_channels_become_unified_events(bf_sim: BitfinexSimulator) -> None:
    """Trades, ticker, book, candles and derivatives status map field by field."""
    unified = Recorder()
    client = BitfinexClient(bf_sim.url, auth=False, flags=SEQ_ALL | OB_CHECKSUM | TIMESTAMP)
    for stream in ("trades:tBTCUST", "ticker:tBTCUST", "book:tBTCUST", "candles:trade:1m:tBTCUST",
                   "status:deriv:tBTCF0:USTF0"):
        client.subscribe(stream)
    client.add_sink(UnifiedSink(unified))
    with client:
        assert unified.wait_for(_has(Trade, Quote, Ticker, Candle, BookChange, MarkPrice, FundingRate), 15)
        assert unified.wait_for(lambda items: any(type(t) is Trade and not t.snapshot for t in items), 15)
        assert unified.wait_for(lambda items: any(type(c) is Candle and not c.snapshot for c in items), 15)
    items = list(unified.items)
    for trade in (t for t in items if type(t) is Trade and not t.snapshot):
        n = trade.data
        assert isinstance(n, bf.TradeUpdate) and n.kind == "executed"
        assert trade.symbol == "BTC/USDT" and trade.native_symbol == "tBTCUST"
        assert trade.size == abs(n.trade.amount) and trade.side == ("sell" if n.trade.amount < 0 else "buy")
        assert trade.exchange_time_us == n.trade.mts * 1000
    ticker = next(t for t in items if type(t) is Ticker)
    n = ticker.data
    assert ticker.last == n.last_price and ticker.change == n.daily_change
    assert ticker.open == n.last_price - n.daily_change and ticker.change_ratio == n.daily_change_relative
    assert n.ts_ms is not None and ticker.exchange_time_us == n.ts_ms * 1000  # TIMESTAMP flag: ms time appended
    candle = next(c for c in items if type(c) is Candle and not c.snapshot)
    row = candle.data.candle
    assert candle.interval == "1m" and (candle.open, candle.close, candle.high, candle.low) == (
        row.open, row.close, row.high, row.low)
    mark = next(m for m in items if type(m) is MarkPrice)
    assert mark.symbol == "BTC/USDT:USDT" and mark.native_symbol == "tBTCF0:USTF0"
    assert (mark.mark_price, mark.index_price) == (mark.data.mark_price, mark.data.spot_price)
    funding = next(f for f in items if type(f) is FundingRate)
    assert funding.rate == funding.data.current_funding
    quote = next(q for q in items if type(q) is Quote and q.stream.startswith("book:"))
    assert quote.symbol == "BTC/USDT" and quote.bid is not None and quote.ask is not None and quote.bid < quote.ask
    assert all(type(e) is not Trade or e.size > Decimal(0) for e in items)
