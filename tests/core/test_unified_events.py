"""Unified events from recorded exchange frames, through the native decoders and converters."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bpbfx import BackpackClient, BitfinexClient, CallbackError, SymbolMappingError
from bpbfx.bitfinex import events as bf
from bpbfx.unified import (
    BookChange,
    Converter,
    FundingRate,
    MarkPrice,
    Quote,
    Ticker,
    Trade,
    UnifiedSink,
)
from tests.support import Recorder


def bitfinex_recording(data_dir: Path) -> tuple[BitfinexClient, Recorder, Recorder]:
    """The bbgo public recording fed through a BitfinexClient with a UnifiedSink attached."""
    unified, native = Recorder(), Recorder()
    client = BitfinexClient("ws://127.0.0.1:9", auth=False, flags=0, on_message=native)
    for stream in ("ticker:tBTCUSD", "trades:tBTCUSD", "book:tBTCUSD", "ticker:fUST", "book:fUST"):
        client.subscribe(stream)
    client.add_sink(UnifiedSink(unified))
    for line in (data_dir / "bitfinex" / "bbgo_ws_public.jsonl").read_text().splitlines():
        client.feed(line)
    client.close()
    return client, unified, native


def test_bitfinex_recorded_trades(data_dir: Path) -> None:
    """te frames become Trades (negative amount = taker sold, size > 0); tu repeats are skipped."""
    _, unified, native = bitfinex_recording(data_dir)
    live = [t for t in unified.of(Trade) if not t.snapshot]
    te = [e for e in native.of(bf.TradeUpdate) if e.executed]
    assert len(live) == len(te) == 8  # 8 te and 8 tu frames in the recording
    first = live[0]
    # [179584,"te",[1795583311,1755235069543,0.00014761,118950]]
    assert (first.trade_id, first.price, first.size, first.side) == (1795583311, Decimal("118950"),
                                                                      Decimal("0.00014761"), "buy")
    assert first.exchange_time_us == 1755235069543000 and first.symbol == "BTC/USD"
    assert first.native_symbol == "tBTCUSD" and first.exchange == "bitfinex" and first.stream == "trades:tBTCUSD"
    sell = next(t for t in live if t.trade_id == 1795583314)  # [...,-0.001,118960]
    assert (sell.side, sell.size, sell.price) == ("sell", Decimal("0.001"), Decimal("118960"))
    assert all(t.size > 0 for t in unified.of(Trade))


def test_bitfinex_recorded_trade_snapshot_is_history_oldest_first(data_dir: Path) -> None:
    """The 30-trade snapshot becomes snapshot=True Trades in time order."""
    _, unified, _ = bitfinex_recording(data_dir)
    history = [t for t in unified.of(Trade) if t.snapshot]
    assert len(history) == 30
    times = [t.exchange_time_us for t in history]
    assert times == sorted(times)
    # [1795583271,1755234898428,-0.002,118840] is a taker sell of 0.002
    row = next(t for t in history if t.trade_id == 1795583271)
    assert (row.side, row.size, row.price) == ("sell", Decimal("0.002"), Decimal("118840"))


def test_bitfinex_recorded_ticker_is_a_quote_and_a_ticker(data_dir: Path) -> None:
    """A trading ticker gives a Quote (bid/ask sizes) and a Ticker (open = last - change)."""
    _, unified, _ = bitfinex_recording(data_dir)
    # [204778,[118940,43.23174788,118950,44.36048532,-3710,-0.03025608,118910,372.10417038,122620,117190]]
    quote = next(q for q in unified.of(Quote) if q.stream == "ticker:tBTCUSD")
    assert (quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (
        Decimal("118940"), Decimal("43.23174788"), Decimal("118950"), Decimal("44.36048532"))
    assert quote.spread() == Decimal("10") and quote.exchange_time_us is None  # no TIMESTAMP flag
    ticker = unified.of(Ticker)[0]
    assert (ticker.last, ticker.change, ticker.change_ratio, ticker.volume) == (
        Decimal("118910"), Decimal("-3710"), Decimal("-0.03025608"), Decimal("372.10417038"))
    assert (ticker.high, ticker.low, ticker.open) == (Decimal("122620"), Decimal("117190"), Decimal("122620"))
    assert ticker.quote_volume is None and ticker.trades is None


def test_bitfinex_recorded_book_gives_book_changes_and_top_quotes(data_dir: Path) -> None:
    """Every managed book update becomes a BookChange; each change of the top a book Quote."""
    _, unified, _ = bitfinex_recording(data_dir)
    changes = unified.of(BookChange)
    assert changes[0].snapshot and changes[0].symbol == "BTC/USD" and changes[0].stream == "book:tBTCUSD:P0:F0:25"
    assert len(changes) > 300 and all(c.valid for c in changes)
    book_quotes = [q for q in unified.of(Quote) if q.stream.startswith("book:")]
    first = book_quotes[0]  # snapshot: best bid 118940 (1.14244423), best ask 118950 (0.00114761)
    assert (first.bid, first.bid_size, first.ask, first.ask_size) == (
        Decimal("118940"), Decimal("1.14244423"), Decimal("118950"), Decimal("0.00114761"))
    tops = [(q.bid, q.bid_size, q.ask, q.ask_size) for q in book_quotes]
    assert all(a != b for a, b in itertools.pairwise(tops))  # only emitted when the top moves
    final = changes[-1].book.snapshot(1)
    assert tops[-1] == (final.bids[0].price, final.bids[0].size, final.asks[0].price, final.asks[0].size)


def test_funding_currencies_have_no_unified_events(data_dir: Path) -> None:
    """fUST ticker and book frames convert to nothing, and fUST is reported once as unmappable."""
    errors = Recorder()
    client = BitfinexClient("ws://127.0.0.1:9", auth=False, flags=0, on_error=errors)
    client.subscribe("ticker:fUST")
    unified = Recorder()
    client.add_sink(UnifiedSink(unified))
    client.feed('{"event":"subscribed","channel":"ticker","chanId":7,"symbol":"fUST","currency":"UST"}')
    client.feed("[7,[0.0002,0.0003,120,2074,0.000189,2,3116,0.00003,0.17,0.0002,4427,0.0002,7.1e-7,null,null,2197]]")
    client.close()
    assert unified.items == [] and errors.items == []  # a funding ticker has no unified form at all


def test_backpack_recorded_book_ticker_and_mark_price(data_dir: Path) -> None:
    """bookTicker becomes a Quote, markPrice a MarkPrice and a FundingRate, with exact values."""
    unified = Recorder()
    client = BackpackClient("ws://127.0.0.1:9", books=False)
    client.add_sink(UnifiedSink(unified))
    for line in (data_dir / "backpack" / "wire_frames.jsonl").read_text().splitlines():
        if json.loads(line).get("stream"):
            client.feed(line)
    client.close()
    quote = unified.of(Quote)[0]
    # {"A":"2.01178","B":"1.94230","E":...285,"T":1790134357267074,"a":"86656.0","b":"86655.9","s":"BTC_USDC_PERP"}
    assert (quote.symbol, quote.native_symbol) == ("BTC/USDC:USDC", "BTC_USDC_PERP")
    assert (quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (
        Decimal("86655.9"), Decimal("1.94230"), Decimal("86656.0"), Decimal("2.01178"))
    assert quote.exchange_time_us == 1790134357267074 and quote.receive_time_us > 1_700_000_000_000_000
    mark, funding = unified.of(MarkPrice)[0], unified.of(FundingRate)[0]
    # {"f":"0.00000625","i":"340.52","n":1790136000000,"p":"340.43","s":"AAPL.US_USDC_PERP","T":1790134357846930}
    assert mark.symbol == "AAPL.US/USDC:USDC" and (mark.mark_price, mark.index_price) == (
        Decimal("340.43"), Decimal("340.52"))
    assert funding.rate == Decimal("0.00000625") and funding.next_funding_time_us == 1790136000000 * 1000
    assert mark.exchange_time_us == funding.exchange_time_us == 1790134357846930
    # Depth deltas are book data: without managed books they produce no unified event.
    assert {type(e) for e in unified.items} == {Quote, MarkPrice, FundingRate}


def _trade_frame(m: bool) -> str:
    data = {"e": "trade", "E": 1700000000000100, "s": "SOL_USDC", "p": "150.01", "q": "2.5", "b": "1", "a": "2",
            "t": 77, "T": 1700000000000050, "m": m}
    return json.dumps({"stream": "trade.SOL_USDC", "data": data})


def test_backpack_trade_side_from_buyer_is_maker() -> None:
    """Backpack m=true (buyer is maker) is a taker sell; m=false a taker buy."""
    unified = Recorder()
    client = BackpackClient("ws://127.0.0.1:9", books=False)
    client.add_sink(UnifiedSink(on_trade=unified))
    client.feed(_trade_frame(True))
    client.feed(_trade_frame(False))
    client.close()
    sell, buy = unified.items
    assert (sell.side, buy.side) == ("sell", "buy")
    assert (sell.price, sell.size, sell.trade_id, sell.exchange_time_us) == (
        Decimal("150.01"), Decimal("2.5"), 77, 1700000000000050)


def test_bitfinex_candles_close_when_the_next_one_starts() -> None:
    """Candle CLOSE-before-HIGH is mapped; a later MTS repeats the previous candle with closed=True."""
    conv = Converter("bitfinex")
    sub = dict(stream="candles:trade:1m:tBTCUSD", symbol="tBTCUSD", data=None)
    snap = bf.CandlesSnapshot(**sub, candles=(
        bf.Candle(mts=120_000, open=Decimal(2), close=Decimal(3), high=Decimal(4), low=Decimal(1), volume=Decimal(5)),
        bf.Candle(mts=60_000, open=Decimal(1), close=Decimal(2), high=Decimal(3), low=Decimal(1), volume=Decimal(1)),
    ))
    history = conv.convert(snap)
    assert [(c.open_time_us, c.closed, c.snapshot) for c in history] == [(60_000_000, True, True),
                                                                       (120_000_000, False, True)]
    assert history[1].close == Decimal(3) and history[1].high == Decimal(4) and history[1].interval == "1m"
    update = bf.CandleUpdate(**sub, candle=bf.Candle(mts=120_000, open=Decimal(2), close=Decimal("3.5"),
                                                      high=Decimal(4), low=Decimal(1), volume=Decimal(6)))
    (same,) = conv.convert(update)
    assert (same.closed, same.close) == (False, Decimal("3.5"))
    nxt = bf.CandleUpdate(**sub, candle=bf.Candle(mts=180_000, open=Decimal("3.5"), close=Decimal("3.6"),
                                                   high=Decimal("3.6"), low=Decimal("3.5"), volume=Decimal(1)))
    final, opened = conv.convert(nxt)
    assert (final.open_time_us, final.closed, final.close, final.volume) == (120_000_000, True, Decimal("3.5"),
                                                                           Decimal(6))
    assert (opened.open_time_us, opened.closed) == (180_000_000, False)


def test_unmappable_symbol_reported_once_and_hook_errors_contained() -> None:
    """A market symbol with no unified form is reported once; a raising hook becomes CallbackError."""
    errors = Recorder()
    client = BackpackClient("ws://127.0.0.1:9", books=False, on_error=errors)

    def boom(client: Any, event: Any) -> None:
        raise ValueError("hook failed")

    client.add_sink(UnifiedSink(on_trade=boom))
    bad = json.dumps({"stream": "trade.SOLUSDC", "data": {"e": "trade", "E": 1, "s": "SOLUSDC", "p": "1", "q": "1",
                                                         "t": 1, "m": True}})
    client.feed(bad)
    client.feed(bad)
    client.feed(_trade_frame(True))
    client.close()
    mapping = errors.of(SymbolMappingError)
    assert len(mapping) == 1 and mapping[0].symbol == "SOLUSDC"
    assert [e.hook for e in errors.of(CallbackError)] == ["on_trade"]


def test_hooks_must_be_callable() -> None:
    """A non-callable hook is refused at once."""
    with pytest.raises(TypeError, match="on_quote must be callable"):
        UnifiedSink(on_quote="print")  # type: ignore[arg-type]
