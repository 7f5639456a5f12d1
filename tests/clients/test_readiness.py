"""wait_ready() means usable: the Quick start pattern reads a valid book every time on both
exchanges; a refusal makes it return False at once; a clean run logs nothing at WARNING."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import pytest

from bpbfx import BackpackClient, BitfinexClient, SubscriptionError
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from tests.support import FAST, Recorder

ROUNDS = 5


class Collect(logging.Handler):
    """Every record at WARNING or above, from any logger."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def root_warnings() -> Iterator[Collect]:
    """A handler on the root logger that sees WARNING and above from every logger."""
    handler = Collect()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def test_quick_start_reads_a_valid_backpack_book_every_time(
    backpack_sim: Callable[..., BackpackSimulator], root_warnings: Collect
) -> None:
    """start(); wait_ready(); book().best_bid() is a level of a valid book, round after round."""
    sim = backpack_sim(tick_interval=0.01, time_scale=0.01)
    for _ in range(ROUNDS):
        client = BackpackClient(sim.url, rest_url=sim.http_url, streams=["trade.SOL_USDC", "depth.SOL_USDC"])
        client.start()
        try:
            assert client.wait_ready(10), client.readiness()
            book = client.book("SOL_USDC")
            assert book.valid and book.best_bid() is not None and book.best_ask() is not None
        finally:
            client.close()
    assert [r.getMessage() for r in root_warnings.records] == []


def test_quick_start_reads_a_valid_bitfinex_book_every_time(
    bitfinex_sim: Callable[..., BitfinexSimulator], root_warnings: Collect
) -> None:
    """subscribe(); start(); wait_ready(); book().best_bid() is a level of a valid book, every round."""
    sim = bitfinex_sim(tick_interval=0.01)
    for _ in range(ROUNDS):
        client = BitfinexClient(sim.url, auth=False)
        client.subscribe("ticker", symbol="tBTCUSD")
        client.subscribe("book", symbol="tBTCUSD", prec="P0", freq="F0", len=25)
        client.start()
        try:
            assert client.wait_ready(10), client.readiness()
            book = client.book("tBTCUSD")
            assert book.valid and book.best_bid() is not None and book.best_ask() is not None
        finally:
            client.close()
    assert [r.getMessage() for r in root_warnings.records] == []


def test_backpack_waits_for_a_silent_stream_and_says_what_it_waits_for(
    backpack_sim: Callable[..., BackpackSimulator],
) -> None:
    """A regularly publishing stream of an unknown symbol never confirms: wait_ready times out and
    readiness() names the stream (Backpack refuses nothing for an unknown symbol)."""
    sim = backpack_sim(tick_interval=0.01, time_scale=0.01)
    client = BackpackClient(sim.url, rest_url=sim.http_url, streams=["ticker.SOL_USDC", "ticker.NOPE_USDC"])
    with client:
        assert not client.wait_ready(1.0)
        readiness = client.readiness()
        assert not readiness.failed and readiness.waiting_for == ("first frame of ticker.NOPE_USDC",)
        client.unsubscribe("ticker.NOPE_USDC")
        assert client.wait_ready(10)


def test_bitfinex_refused_subscription_returns_false_at_once(bitfinex_sim: Callable[..., BitfinexSimulator]) -> None:
    """A refused channel makes a waiting wait_ready return False at once, not at its timeout."""
    sim = bitfinex_sim(tick_interval=0.01)
    errors = Recorder()
    client = BitfinexClient(sim.url, auth=False, on_error=errors, backoff=FAST)
    client.subscribe("trades", symbol="tBTCUSD")
    client.subscribe("ticker", symbol="tNOSUCHPAIR")
    with client:
        started = time.monotonic()
        assert client.wait_ready(30) is False
        assert time.monotonic() - started < 10
        assert errors.of(SubscriptionError) and client.readiness().failed


def test_bitfinex_refused_keys_make_wait_ready_false(bitfinex_sim: Callable[..., BitfinexSimulator]) -> None:
    """Keys the exchange refuses end wait_ready with False at once, the refusal on on_error."""
    sim = bitfinex_sim(tick_interval=0.01, accounts={"known-key": "known-secret"})
    errors = Recorder()
    client = BitfinexClient(sim.url, api_key="other-key", api_secret="other-secret", on_error=errors, backoff=FAST)
    with client:
        started = time.monotonic()
        assert client.wait_ready(30) is False
        assert time.monotonic() - started < 10
        readiness = client.readiness()
        assert readiness.failed and "authentication" in str(readiness).lower()


def test_bitfinex_refusal_never_lets_wait_ready_say_true(bitfinex_sim: Callable[..., BitfinexSimulator]) -> None:
    """Round after round, a refused channel makes wait_ready False: the refusal is recorded
    before it is reported, so no waiter sees the client ready in between."""
    sim = bitfinex_sim(tick_interval=0.01)
    for _ in range(12):
        errors = Recorder()
        client = BitfinexClient(sim.url, auth=False, on_error=errors, backoff=FAST)
        client.subscribe("ticker", symbol="tNOSUCHPAIR")
        with client:
            assert client.wait_ready(10) is False
            assert errors.of(SubscriptionError)
