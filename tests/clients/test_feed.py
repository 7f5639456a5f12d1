"""Feed: one client per exchange behind one set of unified hooks, on both simulators."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest

from bpbfx import ConfigurationError, Feed, SymbolMappingError
from bpbfx.feed import native_stream
from bpbfx.sim.backpack import BackpackSimulator, MarketSpec
from bpbfx.sim.bitfinex import BitfinexSimulator
from bpbfx.unified import Quote, Trade
from tests.support import Recorder

# The same market on both venues: BTC/USDT (Backpack BTC_USDT, Bitfinex tBTCUST).
BTC_USDT = MarketSpec("BTC_USDT", Decimal("118950.0"), Decimal("0.1"), Decimal("0.00001"), Decimal("0.3"))


@pytest.fixture
def sims() -> Iterator[tuple[BackpackSimulator, BitfinexSimulator]]:
    with BackpackSimulator(seed=4, tick_interval=0.01, time_scale=0.01, markets=[BTC_USDT]) as bp, \
            BitfinexSimulator(seed=4, tick_interval=0.01, time_scale=0.01) as bf:
        yield bp, bf


def options(bp: BackpackSimulator, bf: BitfinexSimulator) -> dict[str, object]:
    return {"urls": {"backpack": bp.url, "bitfinex": bf.url}, "rest_url": bp.http_url}


def test_native_stream_names_from_unified_symbols() -> None:
    """Each kind maps a unified symbol to the stream that carries it on each exchange."""
    assert native_stream("trades", "SOL/USDC", "backpack") == "backpack:trade.SOL_USDC"
    assert native_stream("trades", "SOL/USDT", "bitfinex") == "bitfinex:trades:tSOLUST"
    assert native_stream("quotes", "BTC/USDT", "bitfinex") == "bitfinex:book:tBTCUST:P0:F0:25"
    assert native_stream("candles", "BTC/USD", "bitfinex", "1d") == "bitfinex:candles:trade:1D:tBTCUSD"
    assert native_stream("funding", "BTC/USDT:USDT", "bitfinex") == "bitfinex:status:deriv:tBTCF0:USTF0"
    assert native_stream("funding", "BTC/USDC:USDC", "backpack") == "backpack:markPrice.BTC_USDC_PERP"
    with pytest.raises(ConfigurationError, match="unknown kind"):
        native_stream("orders", "BTC/USD", "bitfinex")
    with pytest.raises(SymbolMappingError):
        native_stream("trades", "BTC-USD", "backpack")
    with pytest.raises(ConfigurationError, match="need an interval"):
        native_stream("candles", "BTC/USD", "bitfinex")


def test_bad_stream_names_are_refused() -> None:
    """A stream without a known exchange prefix is refused before any client starts."""
    with pytest.raises(ConfigurationError, match="'<exchange>:<stream>'"):
        Feed(["trade.SOL_USDC"])
    with pytest.raises(ConfigurationError, match="at least one stream"):
        Feed([])


def test_trades_by_unified_symbol_from_both_exchanges(sims: tuple[BackpackSimulator, BitfinexSimulator]) -> None:
    """Feed.trades("BTC/USDT") delivers Trades of both venues to one hook, same unified symbol."""
    bp, bf = sims
    trades = Recorder()
    feed = Feed.trades("BTC/USDT", on_trade=trades, **options(bp, bf))
    assert feed.subscriptions == ["backpack:trade.BTC_USDT", "bitfinex:trades:tBTCUST"]
    with feed:
        assert feed.wait_ready(10)
        assert trades.wait_for(lambda items: {t.exchange for t in items if not t.snapshot} == {"backpack",
                                                                                             "bitfinex"}, 15)
    assert {t.symbol for t in trades.items} == {"BTC/USDT"}
    assert {t.native_symbol for t in trades.items} == {"BTC_USDT", "tBTCUST"}
    assert all(type(t) is Trade and t.size > 0 for t in trades.items)


def test_quotes_and_books_give_a_cross_exchange_spread(sims: tuple[BackpackSimulator, BitfinexSimulator]) -> None:
    """Books of both venues: top-of-book Quotes per exchange and live books by unified symbol."""
    bp, bf = sims
    quotes, errors = Recorder(), Recorder()
    feed = Feed.books("BTC/USDT", on_quote=quotes, on_error=errors, **options(bp, bf))
    with feed:
        assert quotes.wait_for(lambda items: {q.exchange for q in items} == {"backpack", "bitfinex"}, 15)
        best = {}
        for q in quotes.items:
            best[q.exchange] = q
        bp_book, bf_book = feed.book("backpack", "BTC/USDT"), feed.book("bitfinex", "BTC/USDT")
        assert bp_book.valid and bf_book.valid
    assert all(type(q) is Quote and q.bid is not None and q.ask is not None for q in best.values())
    # The spread between venues is plain Decimal arithmetic on unified quotes.
    cross = best["bitfinex"].bid - best["backpack"].ask  # type: ignore[operator]
    assert isinstance(cross, Decimal)
    assert not errors.items


def test_feed_events_pull_unified_events_from_every_client(sims: tuple[BackpackSimulator, BitfinexSimulator]) -> None:
    """feed.events() merges both clients into one bounded queue read on the caller's thread."""
    bp, bf = sims
    feed = Feed(["backpack:trade.BTC_USDT", "bitfinex:trades:tBTCUST", "bitfinex:book:tBTCUST"], **options(bp, bf))
    seen: set[str] = set()
    with feed:
        stream = feed.events(maxsize=5000, books=True)
        for event in stream:
            assert threading.current_thread() is threading.main_thread()
            seen.add(f"{event.exchange}:{type(event).__name__}")
            if {"backpack:Trade", "bitfinex:Trade", "bitfinex:BookChange"} <= seen:
                break
    assert stream.closed
    assert {"backpack:Trade", "bitfinex:Trade", "bitfinex:BookChange"} <= seen


def test_hooks_see_the_client_and_close_from_a_hook(sims: tuple[BackpackSimulator, BitfinexSimulator]) -> None:
    """A hook gets the client that received the data and may close the whole feed."""
    bp, bf = sims
    done = threading.Event()
    clients: set[str] = set()

    def on_trade(client: object, trade: Trade) -> None:
        clients.add(getattr(client, "exchange", ""))
        if trade.exchange == "backpack":
            feed.close()
            done.set()

    feed = Feed.trades("BTC/USDT", exchanges=["backpack"], on_trade=on_trade, **options(bp, bf))
    feed.start()
    assert done.wait(15)
    assert all(c.closed for c in feed.clients.values()) and clients == {"backpack"}
