"""Bitfinex v2 subscriptions (bpbfx.bitfinex.channels): validation, stream names, requests, matching."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bpbfx.bitfinex.channels import Subscription, from_message, parse_stream, subscription
from bpbfx.exceptions import ConfigurationError, InvalidStreamError
from tests.support import DATA as RECORDED

DATA = RECORDED / "bitfinex"


@pytest.mark.parametrize(
    ("channel", "params", "stream"),
    [
        ("ticker", {"symbol": "tBTCUSD"}, "ticker:tBTCUSD"),
        ("ticker", {"symbol": "fUSD"}, "ticker:fUSD"),
        ("trades", {"symbol": "tTESTBTC:TESTUSD"}, "trades:tTESTBTC:TESTUSD"),
        ("book", {"symbol": "tBTCUSD"}, "book:tBTCUSD:P0:F0:25"),
        ("book", {"symbol": "tBTCUSD", "prec": "P2", "freq": "F1", "len": 100}, "book:tBTCUSD:P2:F1:100"),
        ("book", {"symbol": "tBTCUSD", "prec": "R0"}, "book:tBTCUSD:R0:25"),
        ("book", {"symbol": "fUSD", "prec": "R0", "length": "250"}, "book:fUSD:R0:250"),
        ("candles", {"key": "trade:1m:tBTCUSD"}, "candles:trade:1m:tBTCUSD"),
        ("candles", {"symbol": "tETHUSD", "timeframe": "1D"}, "candles:trade:1D:tETHUSD"),
        ("candles", {"key": "trade:1m:fUSD:p30"}, "candles:trade:1m:fUSD:p30"),
        ("candles", {"key": "trade:1h:fUSD:a30:p2:p30"}, "candles:trade:1h:fUSD:a30:p2:p30"),
        ("status", {"key": "liq:global"}, "status:liq:global"),
        ("status", {"key": "deriv:tBTCF0:USTF0"}, "status:deriv:tBTCF0:USTF0"),
    ],
)
def test_canonical_stream_and_round_trip(channel: str, params: dict[str, Any], stream: str) -> None:
    """Each valid subscription has its canonical stream name, and parse_stream reads it back equal."""
    sub = subscription(channel, **params)
    assert sub.stream == stream
    assert parse_stream(sub.stream) == sub
    assert hash(parse_stream(sub.stream)) == hash(sub)


def test_book_defaults_make_equal_subscriptions() -> None:
    """Omitted book parameters take the server's defaults, so explicit and implicit requests are equal."""
    implicit = subscription("book", symbol="tBTCUSD")
    explicit = subscription("book", symbol="tBTCUSD", prec="P0", freq="F0", len="25")
    assert implicit == explicit
    assert (implicit.prec, implicit.freq, implicit.length) == ("P0", "F0", 25)
    assert subscription("book", symbol="tBTCUSD", prec="R0", freq="F0").freq is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ticker:tBTCUSD", Subscription("ticker", symbol="tBTCUSD")),
        ("trades:tBTCUSD", Subscription("trades", symbol="tBTCUSD")),
        ("book:tBTCUSD", Subscription("book", symbol="tBTCUSD", prec="P0", freq="F0", length=25)),
        ("book:tBTCUSD:P0:25", Subscription("book", symbol="tBTCUSD", prec="P0", freq="F0", length=25)),
        ("book:tBTCUSD:P1:F1:100", Subscription("book", symbol="tBTCUSD", prec="P1", freq="F1", length=100)),
        ("book:tBTCUSD:R0", Subscription("book", symbol="tBTCUSD", prec="R0", length=25)),
        ("book:tBTCUSD:p3", Subscription("book", symbol="tBTCUSD", prec="P3", freq="F0", length=25)),
        (
            "book:tTESTBTC:TESTUSD:P0:F0:1",
            Subscription("book", symbol="tTESTBTC:TESTUSD", prec="P0", freq="F0", length=1),
        ),
        ("candles:trade:1m:tBTCUSD", Subscription("candles", key="trade:1m:tBTCUSD")),
        ("status:liq:global", Subscription("status", key="liq:global")),
    ],
)
def test_parse_stream_forms(text: str, expected: Subscription) -> None:
    """The command-line forms parse to the expected subscription."""
    assert parse_stream(text) == expected


def test_properties() -> None:
    """market_symbol, is_funding, is_book and is_raw_book reflect the parameters, keys included."""
    candles = subscription("candles", key="trade:1m:tTESTBTC:TESTUSD")
    assert (candles.market_symbol, candles.symbol, candles.is_funding, candles.is_book) == (
        "tTESTBTC:TESTUSD",
        None,
        False,
        False,
    )
    assert subscription("candles", key="trade:1m:fUSD:p30").market_symbol == "fUSD"
    assert subscription("candles", key="trade:1m:fUSD:p30").is_funding
    assert subscription("status", key="deriv:tBTCF0:USTF0").market_symbol == "tBTCF0:USTF0"
    assert subscription("status", key="liq:global").market_symbol is None
    raw = subscription("book", symbol="fUSD", prec="R0")
    assert (raw.is_book, raw.is_raw_book, raw.is_funding) == (True, True, True)
    assert not subscription("book", symbol="tBTCUSD").is_raw_book


def test_request_frames() -> None:
    """Requests carry exactly the exchange's fields, len as a string, subId when given."""
    book = subscription("book", symbol="tBTCUSD", prec="P1", len=100)
    assert book.request("s1") == {
        "event": "subscribe",
        "channel": "book",
        "symbol": "tBTCUSD",
        "prec": "P1",
        "freq": "F0",
        "len": "100",
        "subId": "s1",
    }
    raw = subscription("book", symbol="tBTCUSD", prec="R0")
    assert raw.request() == {"event": "subscribe", "channel": "book", "symbol": "tBTCUSD", "prec": "R0", "len": "25"}
    assert subscription("candles", key="trade:1m:tBTCUSD").request() == {
        "event": "subscribe",
        "channel": "candles",
        "key": "trade:1m:tBTCUSD",
    }
    assert subscription("ticker", symbol="fUSD").request() == {
        "event": "subscribe",
        "channel": "ticker",
        "symbol": "fUSD",
    }


def recorded_subscribed() -> list[dict[str, Any]]:
    """`subscribed` replies from both recordings."""
    found = []
    with open(DATA / "bbgo_ws_public.jsonl", encoding="utf-8") as fh:
        found += [json.loads(line) for line in fh if '"subscribed"' in line]
    with open(DATA / "cryptofeed_ws_seq_all.txt", encoding="utf-8") as fh:
        found += [json.loads(line.split(": ", 1)[1]) for line in fh if '"event":"subscribed"' in line]
    return found


def test_recorded_replies_match_their_requests_only() -> None:
    """Each recorded `subscribed` reply matches the subscription it echoes and no other recorded one."""
    replies = recorded_subscribed()
    assert len(replies) >= 26
    subs = [from_message(reply) for reply in replies]
    assert len(set(subs)) == len(subs)
    for reply, sub in zip(replies, subs, strict=True):
        assert [other for other in subs if other.matches(reply)] == [sub]


def test_matches_applies_defaults_and_subid() -> None:
    """Replies omitting defaults still match; subId decides when both sides have one."""
    sub = subscription("book", symbol="tBTCUSD")
    assert sub.matches({"event": "subscribed", "channel": "book", "chanId": 1, "symbol": "tBTCUSD"})
    assert sub.matches({"event": "subscribed", "channel": "book", "chanId": 1, "pair": "BTCUSD", "len": 25})
    assert not sub.matches({"event": "subscribed", "channel": "book", "chanId": 1, "symbol": "tBTCUSD", "len": "100"})
    assert not sub.matches({"event": "subscribed", "channel": "book", "chanId": 1, "symbol": "tBTCUSD", "prec": "P1"})
    assert not sub.matches({"event": "subscribed", "channel": "trades", "chanId": 1, "symbol": "tBTCUSD"})
    echo = {"event": "subscribed", "channel": "book", "chanId": 1, "symbol": "tETHUSD", "subId": "mine"}
    assert sub.matches(echo, sub_id="mine")
    assert not sub.matches({**echo, "symbol": "tBTCUSD", "subId": "other"}, sub_id="mine")
    raw = subscription("book", symbol="tBTCUSD", prec="R0")
    assert raw.matches({"event": "subscribed", "channel": "book", "symbol": "tBTCUSD", "prec": "R0", "freq": "F0"})
    error = {
        "event": "error",
        "msg": "len: invalid",
        "code": 10300,
        "channel": "book",
        "symbol": "tBTCUSD",
        "prec": "P0",
        "freq": "F0",
        "len": "25",
    }
    assert sub.matches(error)


@pytest.mark.parametrize(
    ("channel", "params", "expected"),
    [
        ("tickers", {"symbol": "tBTCUSD"}, "valid channels: ticker, trades, book, candles, status"),
        ("ticker", {}, "symbol is required"),
        ("ticker", {"symbol": "BTCUSD"}, "did you mean 'tBTCUSD'?"),
        ("ticker", {"symbol": "usd"}, "did you mean 'tUSD' or 'fUSD'?"),
        ("ticker", {"symbol": "tbtcusd"}, "did you mean 'tBTCUSD'"),
        ("ticker", {"symbol": 5}, "must be a string"),
        ("ticker", {"symbol": "tBTCUSD", "prec": "P0"}, "unknown parameter(s) prec; valid: symbol"),
        ("trades", {"symbol": "tBTCUSD", "depth": 5}, "unknown parameter(s) depth"),
        ("book", {"symbol": "tBTCUSD", "prec": "P5"}, "valid: P0, P1, P2, P3, P4, R0"),
        ("book", {"symbol": "tBTCUSD", "freq": "F2"}, "valid: F0 (realtime), F1"),
        ("book", {"symbol": "tBTCUSD", "len": 50}, "valid: 1, 25, 100, 250"),
        ("book", {"symbol": "tBTCUSD", "len": True}, "valid: 1, 25, 100, 250"),
        ("book", {"symbol": "tBTCUSD", "len": 25, "length": 25}, "either len or length"),
        ("book", {"symbol": "tBTCUSD", "prec": "R0", "freq": "F1"}, "does not apply to raw books"),
        ("candles", {}, "key is required"),
        ("candles", {"key": "trade:2m:tBTCUSD"}, "1m, 5m, 15m, 30m, 1h, 3h, 6h, 12h, 1D, 1W, 14D, 1M"),
        ("candles", {"key": "candle:1m:tBTCUSD"}, "'trade:<timeframe>:<symbol>'"),
        ("candles", {"key": "trade:1m:BTCUSD"}, "invalid symbol 'BTCUSD'"),
        ("candles", {"key": "trade:1m:fUSD"}, "'trade:1m:fUSD:p30'"),
        ("candles", {"symbol": "tBTCUSD"}, "both symbol and timeframe"),
        ("candles", {"key": "trade:1m:tBTCUSD", "symbol": "tBTCUSD"}, "not both"),
        ("status", {"key": "liq:local"}, "'deriv:<symbol>' like 'deriv:tBTCF0:USTF0', or 'liq:global'"),
        ("status", {"key": "deriv:BTCF0"}, "'liq:global'"),
        ("status", {"symbol": "tBTCF0:USTF0"}, "unknown parameter(s) symbol; valid: key"),
    ],
)
def test_validation_errors(channel: str, params: dict[str, Any], expected: str) -> None:
    """Invalid channels and parameters raise InvalidStreamError saying what is valid."""
    with pytest.raises(InvalidStreamError) as info:
        subscription(channel, **params)
    assert expected in str(info.value)
    assert isinstance(info.value, ConfigurationError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ticker",
        "ticker:",
        "tickers:tBTCUSD",
        "book:tBTCUSD:25:P0",
        "book:tBTCUSD:F1:P1",
        "book:tBTCUSD:P0:F0:25:7",
        "candles:1m:tBTCUSD",
        "status:liq",
    ],
)
def test_parse_stream_errors_give_examples(text: str) -> None:
    """Unparseable stream names raise InvalidStreamError listing example names."""
    with pytest.raises(InvalidStreamError) as info:
        parse_stream(text)
    assert "book:tBTCUSD:P1:F1:100" in str(info.value) and "status:liq:global" in str(info.value)


def test_from_message_ignores_server_extras() -> None:
    """from_message rebuilds a subscription from a reply, ignoring chanId, pair, currency and subId."""
    reply = {
        "event": "subscribed",
        "channel": "book",
        "chanId": 209641,
        "symbol": "fUST",
        "prec": "P0",
        "freq": "F0",
        "len": "25",
        "currency": "UST",
        "subId": "x",
    }
    assert from_message(reply) == subscription("book", symbol="fUST")
    with pytest.raises(InvalidStreamError):
        from_message({"event": "error", "channel": "wallet"})
