"""Backpack protocol core: stream validation, signing and decoding of recorded frames."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bpbfx import CredentialsError, InvalidStreamError, MalformedFrameError, SubscriptionError, UnknownEvent
from bpbfx.backpack import protocol
from bpbfx.backpack.auth import Signer
from bpbfx.backpack.events import BookTicker, Depth, MarkPrice, OrderUpdate, PositionUpdate, Trade
from bpbfx.exceptions import ExchangeError

GUIDE_SECRET = "4odxgSUxFrC/zsKWZF4OQwYAgnNu9hnWH3NxWfLAPz4="
GUIDE_PUBLIC = "zDIJj9qneWIY0IYZ5aXoHcNMCm+XDhVcTssiT0HyY0A="


def frames(data_dir: Path) -> list[str]:
    return (data_dir / "backpack" / "wire_frames.jsonl").read_text().splitlines()


def test_recorded_frames_decode(data_dir: Path) -> None:
    """Every recorded frame decodes to its typed event or error, none unknown."""
    results = [protocol.decode(line) for line in frames(data_dir)]
    kinds = [type(r).__name__ for r in results]
    assert kinds == [
        *["Depth", "BookTicker", "Depth", "MarkPrice", "Depth", "Depth", "Depth"],
        *["SubscriptionError", "SubscriptionError", "ExchangeError"],
    ]
    assert not any(isinstance(r, UnknownEvent) for r in results)


def test_depth_fields_and_zero_spellings(data_dir: Path) -> None:
    """Depth keeps ids, microsecond times and Decimal levels; '0.0000' style quantities are zero."""
    d = protocol.decode(frames(data_dir)[2])
    assert isinstance(d, Depth)
    assert d.stream == "depth.200ms.ETH_USDC_PERP" and d.symbol == "ETH_USDC_PERP"
    assert (d.first_update_id, d.last_update_id) == (7501116422, 7501116464)
    assert d.bids[1] == (Decimal("2755.33"), Decimal("0"))
    assert d.event_time_us == 1790134357903774 and d.engine_time_us == 1790134357900446
    assert d.data["e"] == "depth"


def test_string_times_parsed_leniently(data_dir: Path) -> None:
    """The recorded frame whose E/T are strings still yields integer times."""
    d = protocol.decode(frames(data_dir)[5])
    assert isinstance(d, Depth)
    assert d.event_time_us == 1759338824897386 and d.engine_time_us == 1759338824895616
    assert d.bids == ((Decimal("117357.0"), Decimal("0")),)


def test_symbol_with_dot(data_dir: Path) -> None:
    """A symbol containing a dot (AAPL.US_USDC_PERP) is kept whole."""
    m = protocol.decode(frames(data_dir)[3])
    assert isinstance(m, MarkPrice)
    assert m.symbol == "AAPL.US_USDC_PERP" and m.mark_price == Decimal("340.43")
    assert m.next_funding_time_ms == 1790136000000


def test_book_ticker_and_null_sides() -> None:
    """bookTicker sides may be null when a side of the book is empty."""
    frame = {"stream": "bookTicker.X_USDC", "data": {"e": "bookTicker", "E": 1, "s": "X_USDC", "a": None,
             "A": None, "b": "1.5", "B": "2", "u": 9, "T": 1}}
    ev = protocol.decode(json.dumps(frame))
    assert isinstance(ev, BookTicker)
    assert ev.ask_price is None and ev.bid_price == Decimal("1.5") and ev.update_id == 9


def test_error_frames_have_codes_and_hints(data_dir: Path) -> None:
    """Error frames become exceptions with the code and a hint about what is valid."""
    errs = [protocol.decode(line) for line in frames(data_dir)[-3:]]
    assert [e.code for e in errs if isinstance(e, ExchangeError)] == [4006, 4008, 4002]
    assert isinstance(errs[1], SubscriptionError) and "200ms" in str(errs[1])


def test_unknown_stream_type_is_delivered_not_dropped() -> None:
    """A stream type this version does not know still yields an UnknownEvent with its data."""
    ev = protocol.decode('{"stream":"newThing.SOL_USDC","data":{"x":1}}')
    assert isinstance(ev, UnknownEvent) and ev.data == {"x": 1} and ev.stream == "newThing.SOL_USDC"


@pytest.mark.parametrize(
    "frame", [b"not json", b"[1,2]", b'{"foo":1}', b'{"stream":"trade.SOL_USDC","data":{"p":"x"}}']
)
def test_malformed_frames_raise(frame: bytes) -> None:
    """Garbage and frames missing fields raise MalformedFrameError keeping the frame."""
    with pytest.raises(MalformedFrameError) as info:
        protocol.decode(frame)
    assert info.value.frame


def test_trade_and_private_events() -> None:
    """Trade and account events decode with their fields; positions without `e` are allowed."""
    t = protocol.decode(json.dumps({"stream": "trade.SOL_USDC", "data": {"e": "trade", "E": 5, "s": "SOL_USDC",
                        "p": "150.1", "q": "2", "b": "11", "a": "12", "t": 77, "T": 4, "m": False}}))
    assert isinstance(t, Trade) and t.price == Decimal("150.1") and t.trade_id == 77 and t.buyer_is_maker is False
    o = protocol.decode(json.dumps({"stream": "account.orderUpdate", "data": {"e": "orderFill", "E": 1, "s": "SOL_USDC",
                        "i": "111", "S": "Bid", "X": "PartiallyFilled", "l": "0.5", "L": "150", "q": "1"}}))
    assert isinstance(o, OrderUpdate) and o.event_type == "orderFill" and o.fill_quantity == Decimal("0.5")
    assert o.symbol == "SOL_USDC"
    p = protocol.decode(json.dumps({"stream": "account.positionUpdate", "data": {"s": "SOL_USDC_PERP", "q": "3"}}))
    assert isinstance(p, PositionUpdate) and p.event_type is None and p.net_quantity == Decimal("3")


@pytest.mark.parametrize(
    "stream",
    [
        "depth.SOL_USDC",
        "depth.200ms.SOL_USDC",
        "depth.1000ms.BTC_USDC_PERP",
        "trade.AAPL.US_USDC_PERP",
        "kline.1m.SOL_USDC",
        "kline.1month.SOL_USDC",
        "bookTicker.SOL_USDC",
        "markPrice.SOL_USDC_PERP",
        "openInterest.SOL_USDC_PERP",
        "liquidation",
        "account.orderUpdate",
        "account.orderUpdate.SOL_USDC",
        "account.positionUpdate",
        "account.rfqUpdate",
    ],
)
def test_valid_streams(stream: str) -> None:
    """Every documented stream form validates."""
    assert protocol.validate_stream(stream) == stream


@pytest.mark.parametrize(
    ("stream", "fragment"),
    [
        ("", "empty stream name"),
        ("trades.SOL_USDC", "did you mean trade.SOL_USDC"),
        ("depth.100ms.SOL_USDC", "200ms, 600ms, 1000ms"),
        ("kline.2m.SOL_USDC", "interval one of"),
        ("depth.sol_usdc", "did you mean SOL_USDC"),
        ("trade", "needs a symbol"),
        ("account.balances", "account.orderUpdate"),
        (" trade.SOL_USDC", "spaces"),
    ],
)
def test_invalid_streams_explain_what_is_valid(stream: str, fragment: str) -> None:
    """Bad stream names raise at once with a message naming the valid choices."""
    with pytest.raises(InvalidStreamError) as info:
        protocol.validate_stream(stream)
    assert fragment in str(info.value)


def test_signer_matches_official_guide_key_pair() -> None:
    """The guide's secret derives the guide's public key; signatures verify with it."""
    signer = Signer(GUIDE_SECRET, GUIDE_PUBLIC, window_ms=5000, clock=lambda: 1_700_000_000.123)
    sig = signer.subscribe_signature()
    assert sig[0] == GUIDE_PUBLIC and sig[2:] == ["1700000000123", "5000"]
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(GUIDE_PUBLIC))
    key.verify(base64.b64decode(sig[1]), b"instruction=subscribe&timestamp=1700000000123&window=5000")


def test_signer_never_shows_secret() -> None:
    """Neither repr nor errors contain the secret."""
    signer = Signer(GUIDE_SECRET)
    assert GUIDE_SECRET not in repr(signer) and GUIDE_SECRET[:10] not in repr(signer)
    wrong = base64.b64encode(b"\x01" * 32).decode()
    with pytest.raises(CredentialsError) as info:
        Signer(GUIDE_SECRET, wrong)
    assert GUIDE_SECRET not in str(info.value) and "does not belong" in str(info.value)


@pytest.mark.parametrize("secret", ["", "not base64!!", base64.b64encode(b"short").decode()])
def test_malformed_secret_rejected(secret: str) -> None:
    """A malformed secret fails at construction with CredentialsError, secret not echoed."""
    with pytest.raises(CredentialsError) as info:
        Signer(secret)
    assert secret == "" or secret not in str(info.value)


def test_subscribe_frames_split_public_and_signed_private() -> None:
    """Public streams share one frame; private ones go in a signed frame; no keys -> error."""
    signer = Signer(GUIDE_SECRET, clock=lambda: 1.0)
    out = protocol.subscribe_frames(["trade.SOL_USDC", "account.orderUpdate", "depth.SOL_USDC"], signer)
    assert out[0] == {"method": "SUBSCRIBE", "params": ["trade.SOL_USDC", "depth.SOL_USDC"]}
    assert out[1]["params"] == ["account.orderUpdate"] and out[1]["signature"][2] == "1000"
    assert all(isinstance(x, str) for x in out[1]["signature"])
    with pytest.raises(CredentialsError):
        protocol.subscribe_frames(["account.orderUpdate"], None)


def test_private_streams_can_wait_for_the_clock_while_public_ones_go_out() -> None:
    """connection_made(private=False) sends the public subscriptions and holds the private ones
    (the client is not usable yet); subscribe_private sends them once, signed; a new connection
    judges afresh."""
    proto = protocol.BackpackProtocol(backoff_delay=lambda n: 0.1, loads=json.loads)
    proto.signer = Signer(GUIDE_SECRET, GUIDE_PUBLIC)
    proto.subscribe(["trade.SOL_USDC", "account.orderUpdate"], 0.0)
    frames = [json.loads(f) for f in proto.connection_made(1.0, private=False)]
    assert frames == [{"method": "SUBSCRIBE", "params": ["trade.SOL_USDC"]}]
    assert any("private streams" in m for m in proto.missing())
    held = [json.loads(f) for f in proto.subscribe_private()]
    assert [f["params"] for f in held] == [["account.orderUpdate"]] and "signature" in held[0]
    assert proto.subscribe_private() == []
    assert not any("private streams" in m for m in proto.missing())
    proto.connection_lost()
    assert proto.subscribe_private() == []  # nothing is sent on a socket that is gone
    everything = [json.loads(f)["params"] for f in proto.connection_made(2.0)]
    assert everything == [["trade.SOL_USDC"], ["account.orderUpdate"]]
