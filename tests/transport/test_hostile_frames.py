"""Hostile frames over real sockets: every bad frame is reported once, nothing escapes into
websocket-client, the other streams keep flowing, books never hold an impossible value and
memory stays bounded.  Frames are injected into the simulators' live streams."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from bpbfx import (
    BackpackClient,
    BitfinexClient,
    BpbfxError,
    MalformedFrameError,
    UnknownEvent,
)
from bpbfx.backpack.events import BookTicker, Trade
from bpbfx.bitfinex.events import Subscribed, TradingTicker
from bpbfx.bitfinex.protocol import OB_CHECKSUM
from bpbfx.live import LiveBook
from bpbfx.sim.backpack import BackpackSimulator
from bpbfx.sim.bitfinex import BitfinexSimulator
from tests.support import FAST, Recorder

DEEP = "[" * 100_000 + "]" * 100_000


class Escapes(logging.Handler):
    """Collects websocket-client's reports of an exception that escaped one of our callbacks
    ("error from callback ..."; its "goodbye" lines on a normal close are not escapes)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "error from callback" in record.getMessage():
            self.records.append(record)


@pytest.fixture(params=["msgspec", "stdlib"])
def json_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Clients built in the test decode with this JSON engine (both refuse the same frames)."""
    import bpbfx._json

    monkeypatch.setattr(bpbfx._json, "ENGINE", request.param)
    return str(request.param)


@pytest.fixture
def escapes() -> Iterator[Escapes]:
    handler = Escapes()
    logger = logging.getLogger("websocket")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def assert_sane(book: LiveBook) -> None:
    """A valid book holds only finite positive prices and sizes and is not crossed."""
    snap = book.snapshot()
    for level in (*snap.bids, *snap.asks):
        assert level.price.is_finite() and level.price > 0
        assert level.size.is_finite() and level.size > 0
    if snap.valid and snap.bids and snap.asks:
        assert snap.bids[0].price < snap.asks[0].price


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value with the hostile choices the fuzz needs."""
    kinds = ["int", "bigint", "float", "nan", "inf", "str", "null", "bool"]
    if depth < 3:
        kinds += ["list", "dict"]
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.randint(-5, 5)
    if kind == "bigint":
        return rng.choice([2**64, -(2**70), 10**30])
    if kind == "float":
        return rng.choice([1.5, -0.0, 1e-300, 3.14])
    if kind == "nan":
        return rng.choice(["NaN", "-nan", "sNaN"])
    if kind == "inf":
        return rng.choice(["Infinity", "-Infinity", "inf"])
    if kind == "str":
        return rng.choice(["", "x", "0", "-5", "1e400", "\u00b2", "depth", "hb"])
    if kind == "null":
        return None
    if kind == "bool":
        return rng.choice([True, False])
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["a", "e", "p", "q", "U", "u", "b"]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


# --------------------------------------------------------------------------------------- Backpack


@pytest.fixture
def bp_sim(backpack_sim: Callable[..., BackpackSimulator]) -> BackpackSimulator:
    return backpack_sim(seed=5, tick_interval=0.01, time_scale=0.01)


def backpack_bad_frames() -> list[str]:
    """Hand-made bad frames for every Backpack message kind; each must give one on_error."""
    depth_ok = {"e": "depth", "E": 1, "s": "SOL_USDC", "U": 1, "u": 1, "T": 1}
    bad_depths = [
        {**depth_ok, "b": [["NaN", "1"]], "a": []},
        {**depth_ok, "b": [["100", "Infinity"]], "a": []},
        {**depth_ok, "b": [], "a": [["100", "-5"]]},
        {**depth_ok, "b": [["0", "1"]], "a": []},
        {**depth_ok, "b": [["100"]], "a": []},
        {**depth_ok, "b": "x", "a": []},
        {**depth_ok, "U": [1], "b": [], "a": []},
        {**depth_ok, "u": "1.5", "b": [], "a": []},
    ]
    frames = [json.dumps({"stream": "depth.SOL_USDC", "data": d}) for d in bad_depths]
    trade = {"e": "trade", "E": 1, "s": "SOL_USDC", "t": 1, "T": 1, "m": True}
    frames += [
        json.dumps({"stream": "trade.SOL_USDC", "data": {**trade, "p": "NaN", "q": "1"}}),
        json.dumps({"stream": "trade.SOL_USDC", "data": {**trade, "p": "1", "q": "Infinity"}}),
        json.dumps({"stream": "trade.SOL_USDC", "data": {**trade, "p": [1], "q": "1"}}),
        json.dumps({"stream": "bookTicker.SOL_USDC", "data": {"e": "bookTicker", "E": 1, "b": "sNaN"}}),
        json.dumps({"stream": "ticker.SOL_USDC", "data": {"e": "ticker", "E": 1, "o": "1"}}),
        json.dumps({"stream": "kline.1m.SOL_USDC", "data": {"e": "kline", "E": "x"}}),
        json.dumps({"stream": "markPrice.SOL_USDC", "data": {"e": "markPrice", "E": 1, "p": "-Infinity"}}),
        json.dumps({"stream": ["depth.SOL_USDC"], "data": {}}),
        json.dumps({"stream": {"a": 1}, "data": {}}),
        json.dumps({"stream": 5, "data": {}}),
        json.dumps({"id": None, "error": {"code": [1], "message": {"x": "y"}}}),
        json.dumps({"id": None, "error": {"code": 4006, "message": "Invalid stream"}}),
        '{"stream":"trade.SOL_USDC","data":{"p":NaN}}',
        '{"stream":"trade.SOL_USDC","data":{"p":Infinity}}',
        DEEP,
        "not json",
        "[1,2,3]",
        '"text"',
        "null",
        "{}",
    ]
    return frames


def test_backpack_fuzz(bp_sim: BackpackSimulator, escapes: Escapes, json_engine: str) -> None:
    """Every hand-made bad Backpack frame gives exactly one on_error, random ones at most one;
    nothing escapes, trades and bookTicker keep flowing, the book stays sane and resyncs."""
    events, errors = Recorder(), Recorder()
    streams = ["depth.SOL_USDC", "trade.SOL_USDC", "bookTicker.SOL_USDC"]
    client = BackpackClient(
        bp_sim.url, rest_url=bp_sim.http_url, streams=streams, on_message=events, on_error=errors, backoff=FAST
    )
    with client:
        assert client.wait_ready(10)
        book = client.book("SOL_USDC")
        assert events.wait_for(lambda _: book.valid, 10)
        conn_id = None  # the only connection
        bad = backpack_bad_frames()
        for n, frame in enumerate(bad, 1):
            assert bp_sim.send_malformed(conn_id, frame) == 1
            assert errors.wait_count(n, 10), f"no error for frame {n}: {frame[:80]}"
            assert_sane(book)
        assert not errors.wait_count(len(bad) + 1, 0.3), errors.items[len(bad) :]
        assert all(isinstance(e, BpbfxError) for e in errors.items)
        assert sum(isinstance(e, MalformedFrameError) for e in errors.items) >= len(bad) - 2

        rng = random.Random(1234)
        unknown_before = len(events.of(UnknownEvent))
        errors_before = len(errors.items)
        sent = 0
        for _ in range(300):
            envelope: Any = rng.choice(
                [
                    {"stream": rng.choice(streams), "data": random_value(rng)},
                    {"stream": f"zz{rng.randint(0, 10**9)}.X", "data": random_value(rng)},
                    random_value(rng),
                ]
            )
            bp_sim.send_malformed(conn_id, json.dumps(envelope))
            sent += 1
        # Each random frame is either reported once or delivered (unknown stream names are
        # delivered as UnknownEvent): never both, never neither.
        assert events.wait_for(
            lambda _: (len(errors.items) - errors_before) + (len(events.of(UnknownEvent)) - unknown_before) >= sent, 15
        )
        assert (len(errors.items) - errors_before) + (len(events.of(UnknownEvent)) - unknown_before) == sent
        trades_now = len(events.of(Trade))
        tickers_now = len(events.of(BookTicker))
        assert events.wait_for(
            lambda _: len(events.of(Trade)) > trades_now and len(events.of(BookTicker)) > tickers_now, 10
        )
        assert events.wait_for(lambda _: book.valid, 10)
        assert_sane(book)
        stats = client.stats()
        assert stats.open_connections == 1
        assert set(stats.streams) == {*streams, "<other>"}  # 300 invented names: one bucket
    assert escapes.records == []


# --------------------------------------------------------------------------------------- Bitfinex


@pytest.fixture
def bf_sim(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(seed=3, tick_interval=0.01)


def test_bitfinex_fuzz(bf_sim: BitfinexSimulator, escapes: Escapes, json_engine: str) -> None:
    """Every hand-made bad Bitfinex frame gives exactly one on_error; random frames at most one
    each; nothing escapes, the ticker keeps flowing, the book stays sane and is rebuilt."""
    events, errors = Recorder(), Recorder()
    client = BitfinexClient(
        bf_sim.url, auth=False, flags=OB_CHECKSUM, on_message=events, on_error=errors, backoff=FAST
    )
    client.subscribe("book", symbol="tBTCUSD", prec="P0", freq="F0", len=25)
    client.subscribe("trades", symbol="tBTCUSD")
    client.subscribe("ticker", symbol="tETHUSD")
    with client:
        assert client.wait_ready(10)
        book = client.book("tBTCUSD")
        assert events.wait_for(lambda _: book.valid, 10)
        bad = [
            DEEP,
            "not json",
            "[]",
            "[5]",
            '"x"',
            '[{book},"cs",Infinity]',
            '[{book},"cs",NaN]',
            '[{book},"cs",1.5]',
            '[{book},"cs",99999999999]',
            '[{book},"cs","123"]',
            '[{book},["NaN",1,"1.0"]]',
            '[{book},[100,1,"Infinity"]]',
            "[{book},[100,-1,1]]",
            "[{book},[0,1,1]]",
            "[{book},[100,1,0]]",
            "[{book},[100,1.5,1]]",
            '[{book},[[100,1,1],["x",1,1]]]',
            "[{book},[100]]",
            '[{trades},"te",[1,1700000000000,"NaN",100]]',
            '[{trades},"te",[1,1700000000000,1,"Infinity"]]',
            '[{trades},"te",{{"a":1}}]',
            '[{ticker},[1,2,3,"NaN",5,6,7,8,9,10]]',
            '[[1],"hb"]',
            '[{{"a":1}},[1,2]]',
            "[null,[1]]",
            "[true,[1]]",
            "[1.5,[1]]",
            '{{"event":"unsubscribed","status":"OK","chanId":[1]}}',
            '{{"event":"unsubscribed","status":"OK","chanId":{{"a":1}}}}',
            '{{"event":"subscribed","channel":"trades","chanId":[5],"symbol":"tBTCUSD"}}',
            '{{"event":"error","code":10001,"msg":"x"}}',
            '{{"event":"auth","status":"FAILED","code":10100,"msg":"apikey: invalid"}}',
        ]
        for n, template in enumerate(bad, 1):
            # A bad book frame makes the client resubscribe: wait for the rebuilt book and take
            # the channel's new id from its latest `subscribed` reply.
            assert events.wait_for(lambda _: book.valid, 10)
            ids = {e.stream: e.chan_id for e in events.of(Subscribed)}
            frame = template if template is DEEP else template.format(
                book=ids["book:tBTCUSD:P0:F0:25"], trades=ids["trades:tBTCUSD"], ticker=ids["ticker:tETHUSD"]
            )
            assert bf_sim.send_raw(frame) >= 1
            assert errors.wait_count(n, 10), f"no error for frame {n}: {frame[:80]}"
            assert_sane(book)
        assert not errors.wait_count(len(bad) + 1, 0.3), errors.items[len(bad) :]
        assert all(isinstance(e, BpbfxError) for e in errors.items)

        rng = random.Random(99)
        before = len(errors.items)
        sent = 0
        for _ in range(300):
            frame: Any = rng.choice(
                [
                    random_value(rng),
                    [rng.randint(10**6, 10**7), random_value(rng)],
                    [rng.randint(10**6, 10**7), rng.choice(["hb", "te", "tu", "cs", "x"]), random_value(rng)],
                    {"event": rng.choice(["conf", "pong", "unsubscribed", "error", "zzz"]), "x": random_value(rng)},
                ]
            )
            bf_sim.send_raw(json.dumps(frame))
            sent += 1
        bf_sim.send_raw('{"event":"pong","ts":1,"cid":424242}')  # marks the end of the batch
        assert events.wait_for(lambda items: any(getattr(e, "cid", None) == 424242 for e in items), 15)
        assert len(errors.items) - before <= sent
        tickers = len(events.of(TradingTicker))
        assert events.wait_for(lambda _: len(events.of(TradingTicker)) > tickers, 10)
        assert events.wait_for(lambda _: book.valid, 10)
        assert_sane(book)
        stats = client.stats()
        assert stats.open_connections == 1
        assert set(stats.streams) == {"book:tBTCUSD:P0:F0:25", "trades:tBTCUSD", "ticker:tETHUSD"}
        assert sorted(c["channel"] for c in bf_sim.subscriptions()[bf_sim.connection_ids[0]].values()) == [
            "book",
            "ticker",
            "trades",
        ]
    assert escapes.records == []


def test_bitfinex_unrequested_subscribed_replies_never_become_channels(bf_sim: BitfinexSimulator) -> None:
    """Thousands of `subscribed` replies nobody asked for are reported and unsubscribed: the
    client's channels, its stats and what the server holds stay as requested."""
    events, errors = Recorder(), Recorder()
    client = BitfinexClient(bf_sim.url, auth=False, on_message=events, on_error=errors, backoff=FAST)
    client.subscribe("ticker", symbol="tBTCUSD")
    with client:
        assert client.wait_ready(10)
        conn_id = bf_sim.connection_ids[0]
        for i in range(2000):
            bf_sim.send_raw(
                json.dumps({"event": "subscribed", "channel": "trades", "chanId": 500_000 + i, "symbol": "tBTCUSD"}),
                conn_id=conn_id,
            )
        assert errors.wait_for(
            lambda items: sum("answers no request" in str(e) for e in items) >= 2000, 20
        )
        assert client.subscriptions == ("ticker:tBTCUSD",)
        assert set(client.stats().streams) == {"ticker:tBTCUSD"}
        assert [c["channel"] for c in bf_sim.subscriptions()[conn_id].values()] == ["ticker"]


def test_decimal_fields_are_exact_after_hostile_traffic(bf_sim: BitfinexSimulator) -> None:
    """After a burst of bad frames, prices still come as exact Decimals from the wire text."""
    events = Recorder()
    client = BitfinexClient(bf_sim.url, auth=False, on_message=events, backoff=FAST, on_error=lambda c, e: None)
    client.subscribe("ticker", symbol="tBTCUSD")
    with client:
        assert client.wait_ready(10)
        for frame in ("[1,[\"NaN\"]]", DEEP, "{"):
            bf_sim.send_raw(frame)
        assert events.wait_count(2, 10, TradingTicker)
        ticker = events.of(TradingTicker)[-1]
        assert isinstance(ticker.bid, Decimal) and ticker.bid.is_finite()
