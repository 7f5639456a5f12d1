"""Loopback tests of the Backpack simulator, driven with websocket-client and urllib."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import re
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import websocket
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bpbfx.sim.backpack import (
    ERR_INVALID_WINDOW,
    ERR_SIGNATURE_EXPIRED,
    ERR_SIGNATURE_INVALID,
    ERR_SIGNATURE_MISSING,
    ERR_UNKNOWN_KEY,
    BackpackSimulator,
)

# Error frames as recorded from the exchange (tests/data/backpack/wire_frames.jsonl).
WIRE_4006 = {"id": None, "error": {"code": 4006, "message": "Invalid stream"}}
WIRE_4008 = {"id": None, "error": {"code": 4008, "message": "Invalid depth window"}}
WIRE_4002 = {"id": None, "error": {"code": 4002, "message": "Parse error"}}

# Key pair from Backpack's official guide.
SECRET_B64 = "4odxgSUxFrC/zsKWZF4OQwYAgnNu9hnWH3NxWfLAPz4="
PUBLIC_B64 = "zDIJj9qneWIY0IYZ5aXoHcNMCm+XDhVcTssiT0HyY0A="

# A subscribe that always fails: its error frame marks "everything queued before has arrived".
SENTINEL = json.dumps({"method": "SUBSCRIBE", "params": ["trades.SENTINEL"]})

Connect = Callable[[BackpackSimulator], websocket.WebSocket]


@pytest.fixture
def sim(backpack_sim: Callable[..., BackpackSimulator]) -> BackpackSimulator:
    return backpack_sim(seed=7, tick_interval=None, time_scale=0.001)


@pytest.fixture
def connect() -> Iterator[Connect]:
    sockets: list[websocket.WebSocket] = []

    def go(server: BackpackSimulator) -> websocket.WebSocket:
        ws = websocket.create_connection(server.url, timeout=5)
        sockets.append(ws)
        return ws

    yield go
    for ws in sockets:
        ws.close(timeout=0.2)


def send(ws: websocket.WebSocket, method: str, *streams: str, **extra: Any) -> None:
    ws.send(json.dumps({"method": method, "params": list(streams), **extra}))


def subscribe(server: BackpackSimulator, ws: websocket.WebSocket, *streams: str, **extra: Any) -> None:
    send(ws, "SUBSCRIBE", *streams, **extra)
    assert server.wait_for(lambda: all(server.subscriber_count(s) for s in streams), 5)


def recv(ws: websocket.WebSocket) -> Any:
    return json.loads(ws.recv())


def until_sentinel(ws: websocket.WebSocket) -> list[dict[str, Any]]:
    """Every frame received before the sentinel's error frame."""
    ws.send(SENTINEL)
    frames = []
    while (frame := recv(ws)) != WIRE_4006:
        frames.append(frame)
    return frames


def rest(server: BackpackSimulator, path: str) -> Any:
    with urllib.request.urlopen(server.http_url + path, timeout=5) as resp:
        return json.loads(resp.read())


def signature(secret_b64: str, timestamp_ms: int, window: int = 5000, text: str | None = None) -> list[str]:
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret_b64))
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    message = text or f"instruction=subscribe&timestamp={timestamp_ms}&window={window}"
    signed = base64.b64encode(key.sign(message.encode())).decode()
    return [public, signed, str(timestamp_ms), str(window)]


def now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------- public streams
def test_public_streams_have_the_documented_shapes(sim: BackpackSimulator, connect: Connect) -> None:
    """Every public stream type arrives in its envelope with the documented fields and types."""
    ws = connect(sim)
    expected = {
        "depth.BTC_USDC": {"e", "E", "s", "a", "b", "U", "u", "T"},
        "depth.200ms.BTC_USDC": {"e", "E", "s", "a", "b", "U", "u", "T"},
        "trade.BTC_USDC": {"e", "E", "s", "p", "q", "b", "a", "t", "T", "m"},
        "ticker.BTC_USDC": {"e", "E", "s", "o", "c", "h", "l", "v", "V", "n"},
        "bookTicker.BTC_USDC": {"e", "E", "s", "a", "A", "b", "B", "u", "T"},
        "kline.1m.BTC_USDC": {"e", "E", "s", "t", "T", "o", "c", "h", "l", "v", "n", "X"},
        "markPrice.BTC_USDC_PERP": {"e", "E", "s", "p", "f", "i", "n", "T"},
        "openInterest.BTC_USDC_PERP": {"e", "E", "s", "o"},
        "liquidation": {"e", "E", "q", "p", "S", "s", "T"},
    }
    subscribe(sim, ws, *expected)
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(30):
        sim.step(5)
        for frame in until_sentinel(ws):
            assert set(frame) == {"stream", "data"}
            seen.setdefault(frame["stream"], frame["data"])
        if len(seen) == len(expected):
            break
    assert set(seen) == set(expected)
    for stream, fields in expected.items():
        data = seen[stream]
        assert set(data) == fields, stream
        assert isinstance(data["E"], int) and data["E"] > 10**15, stream  # microseconds
        assert data["e"] == stream.split(".")[0]
    depth = seen["depth.BTC_USDC"]
    assert isinstance(depth["U"], int) and depth["U"] <= depth["u"]
    for price, qty in depth["a"] + depth["b"]:
        assert re.fullmatch(r"\d+\.\d", price), price  # WS keeps the tick's decimal: "86700.0"
        assert re.fullmatch(r"\d+(\.\d+)?", qty), qty
    book_ticker = seen["bookTicker.BTC_USDC"]
    assert Decimal(book_ticker["b"]) < Decimal(book_ticker["a"])
    trade = seen["trade.BTC_USDC"]
    assert isinstance(trade["t"], int) and isinstance(trade["m"], bool) and Decimal(trade["q"]) > 0
    kline = seen["kline.1m.BTC_USDC"]
    start = datetime.strptime(kline["t"], "%Y-%m-%dT%H:%M:%S")
    assert (datetime.strptime(kline["T"], "%Y-%m-%dT%H:%M:%S") - start).total_seconds() == 60
    assert seen["ticker.BTC_USDC"]["o"] == "86700.0"  # whole prices keep ".0" on the socket
    mark = seen["markPrice.BTC_USDC_PERP"]
    assert 0 < mark["n"] - mark["E"] // 1000 <= 3_600_000  # next funding, in ms
    assert seen["liquidation"]["S"] in ("Bid", "Ask")


def test_several_streams_on_one_connection_without_reply(sim: BackpackSimulator, connect: Connect) -> None:
    """One SUBSCRIBE frame with several streams gets no reply and then delivers all of them."""
    ws = connect(sim)
    streams = ("depth.SOL_USDC", "depth.ETH_USDC", "bookTicker.SOL_USDC")
    subscribe(sim, ws, *streams)
    assert until_sentinel(ws) == []  # no acknowledgement of any kind
    sim.step(3)
    assert {f["stream"] for f in until_sentinel(ws)} == set(streams)


def test_unsubscribe_stops_a_stream(sim: BackpackSimulator, connect: Connect) -> None:
    """After UNSUBSCRIBE the stream stops while the others on the connection continue."""
    ws = connect(sim)
    subscribe(sim, ws, "depth.SOL_USDC", "trade.SOL_USDC", "depth.ETH_USDC")
    sim.step(2)
    assert "depth.SOL_USDC" in {f["stream"] for f in until_sentinel(ws)}
    send(ws, "UNSUBSCRIBE", "depth.SOL_USDC")
    assert sim.wait_for(lambda: sim.subscriber_count("depth.SOL_USDC") == 0, 5)
    assert "depth.SOL_USDC" not in next(iter(sim.subscriptions().values()))
    sim.step(3)
    streams = {f["stream"] for f in until_sentinel(ws)}
    assert "depth.ETH_USDC" in streams and "depth.SOL_USDC" not in streams


def test_error_frames_match_the_wire_and_the_socket_keeps_serving(sim: BackpackSimulator, connect: Connect) -> None:
    """Bad streams, windows, methods and non-JSON get the recorded error frames; the socket stays open."""
    ws = connect(sim)
    cases: list[tuple[str | bytes, dict[str, Any]]] = [
        (json.dumps({"method": "SUBSCRIBE", "params": ["trades.SOL_USDC"]}), WIRE_4006),
        (json.dumps({"method": "SUBSCRIBE", "params": [""]}), WIRE_4006),
        (json.dumps({"method": "SUBSCRIBE", "params": ["kline.2m.SOL_USDC"]}), WIRE_4006),
        (json.dumps({"method": "SUBSCRIBE", "params": ["account.balanceUpdate"]}), WIRE_4006),
        (json.dumps({"method": "SUBSCRIBE", "params": ["depth.100ms.SOL_USDC"]}), WIRE_4008),
        ("this is not json", WIRE_4002),
        (json.dumps({"method": "SUBSCRIB", "params": ["depth.SOL_USDC"]}), WIRE_4002),
        (json.dumps(["SUBSCRIBE", "depth.SOL_USDC"]), WIRE_4002),
        (json.dumps({"method": "SUBSCRIBE", "params": "depth.SOL_USDC", "id": 3}), WIRE_4002),
        (b"\xff\xfe", WIRE_4002),
        # One bad stream refuses the whole frame.
        (json.dumps({"method": "SUBSCRIBE", "params": ["depth.SOL_USDC", "trades.SOL_USDC"]}), WIRE_4006),
    ]
    for message, expected in cases:
        if isinstance(message, bytes):
            ws.send_binary(message)
        else:
            ws.send(message)
        assert recv(ws) == expected, message
    assert sim.subscriber_count("depth.SOL_USDC") == 0
    assert sim.counters()["errors_sent"] == len(cases)
    subscribe(sim, ws, "bookTicker.SOL_USDC")
    sim.step(1)
    assert recv(ws)["stream"] == "bookTicker.SOL_USDC"


def test_unknown_symbol_is_accepted_and_silent(sim: BackpackSimulator, connect: Connect) -> None:
    """A well-formed stream on an unknown symbol gets neither an error nor any data."""
    ws = connect(sim)
    subscribe(sim, ws, "depth.NOPE_USDC", "trade.sol_usdc", "depth.200ms.NOPE_USDC", "markPrice.SOL_USDC")
    sim.step(10)
    assert until_sentinel(ws) == []


# ---------------------------------------------------------------------------- book, ids, REST
def apply(book: dict[Decimal, Decimal], levels: list[list[str]]) -> None:
    for price, qty in levels:
        if Decimal(qty) == 0:
            book.pop(Decimal(price), None)
        else:
            book[Decimal(price)] = Decimal(qty)


def assert_chained(deltas: list[dict[str, Any]]) -> None:
    for prev, cur in itertools.pairwise(deltas):
        assert cur["U"] == prev["u"] + 1, (prev["u"], cur["U"])


def test_depth_ids_are_contiguous_and_the_rest_snapshot_aligns(sim: BackpackSimulator, connect: Connect) -> None:
    """Deltas chain U == previous u + 1, a REST snapshot aligns with them and yields the server's book."""
    ws = connect(sim)
    subscribe(sim, ws, "depth.BTC_USDC")
    sim.step(3)
    snapshot = rest(sim, "/api/v1/depth?symbol=BTC_USDC&limit=1000")
    sim.step(30)
    deltas = [f["data"] for f in until_sentinel(ws)]
    assert len(deltas) == 33
    assert_chained(deltas)
    ws_prices = [p for d in deltas for p, _ in d["a"] + d["b"]]
    assert all(re.fullmatch(r"\d+\.\d", p) for p in ws_prices)  # BTC tick 0.1: "86700.0", never "86700"
    assert any(p.endswith(".0") for p in ws_prices)
    # REST format: prices without a trailing ".0", both sides ascending (best bid last).
    assert all(not re.search(r"\.\d*0$", p) for p, _ in snapshot["asks"] + snapshot["bids"])
    for side in ("asks", "bids"):
        prices = [Decimal(p) for p, _ in snapshot[side]]
        assert prices == sorted(prices)
    assert isinstance(snapshot["lastUpdateId"], str) and isinstance(snapshot["timestamp"], int)
    last = int(snapshot["lastUpdateId"])
    kept = [d for d in deltas if d["u"] > last]
    assert kept[0]["U"] <= last + 1 <= kept[0]["u"]
    bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
    asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
    zeros = set()
    for d in kept:
        apply(bids, d["b"])
        apply(asks, d["a"])
        zeros |= {q for _, q in d["a"] + d["b"] if Decimal(q) == 0}
        assert max(bids) < min(asks)  # never crossed
    state = sim.book("BTC_USDC")
    assert state.last_update_id == deltas[-1]["u"]
    assert dict(state.bids) == bids and dict(state.asks) == asks
    assert len(zeros) >= 2  # deletions written in several spellings ("0", "0.00", "0.00000")


def test_local_book_tracks_the_server_under_the_automatic_ticker() -> None:
    """With the ticker running, a REST-seeded local book equals the server's book at each delta's u."""
    with BackpackSimulator(seed=9, tick_interval=0.005) as server:
        ws = websocket.create_connection(server.url, timeout=5)
        try:
            subscribe(server, ws, "depth.SOL_USDC_PERP")
            first = recv(ws)["data"]
            snapshot = rest(server, "/api/v1/depth?symbol=SOL_USDC_PERP")
            last = int(snapshot["lastUpdateId"])
            assert last + 1 >= first["U"]  # a snapshot taken after subscribing is never stale
            bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
            asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
            deltas = [first] + [recv(ws)["data"] for _ in range(40)]
        finally:
            ws.close(timeout=0.2)
        assert_chained(deltas)
        kept = [d for d in deltas if d["u"] > last]
        assert kept[0]["U"] <= last + 1 <= kept[0]["u"]
        for d in kept:
            apply(bids, d["b"])
            apply(asks, d["a"])
            state = server.book("SOL_USDC_PERP", at_update_id=d["u"])
            assert dict(state.bids) == bids and dict(state.asks) == asks


def test_rest_depth_limit_and_errors(sim: BackpackSimulator) -> None:
    """REST depth honours limit; an unknown symbol or a bad limit is a 400 with a JSON error body."""
    top = rest(sim, "/api/v1/depth?symbol=SOL_USDC&limit=5")
    assert len(top["asks"]) == 5 and len(top["bids"]) == 5
    full = rest(sim, "/api/v1/depth?symbol=SOL_USDC")
    assert top["bids"] == full["bids"][-5:] and top["asks"] == full["asks"][:5]
    for query in ("symbol=NOPE_USDC", "symbol=SOL_USDC&limit=0", ""):
        with pytest.raises(urllib.error.HTTPError) as info:
            rest(sim, f"/api/v1/depth?{query}")
        assert info.value.code == 400
        body = json.loads(info.value.read())
        info.value.close()
        assert body["code"] == "INVALID_CLIENT_REQUEST" and body["message"]


def test_fail_rest_answers_errors_then_recovers(sim: BackpackSimulator) -> None:
    """fail_rest makes the next REST requests fail with the given status, then serves again."""
    sim.fail_rest(count=1, status=503)
    with pytest.raises(urllib.error.HTTPError) as info:
        rest(sim, "/api/v1/depth?symbol=SOL_USDC")
    info.value.close()
    assert info.value.code == 503
    assert rest(sim, "/api/v1/depth?symbol=SOL_USDC")["lastUpdateId"]


def test_aggregated_depth_follows_its_window() -> None:
    """depth.1000ms sends one delta per window covering exactly the realtime deltas of that window."""
    with BackpackSimulator(seed=3, tick_interval=None, time_scale=0.25) as server:
        every = server.cadence_ticks("depth.1000ms")
        assert every == 5  # 1 s * 0.25 / 0.05 s ticks
        ws = websocket.create_connection(server.url, timeout=5)
        try:
            subscribe(server, ws, "depth.SOL_USDC", "depth.1000ms.SOL_USDC")
            server.step(4 * every)
            frames = until_sentinel(ws)
        finally:
            ws.close(timeout=0.2)
    realtime = [f["data"] for f in frames if f["stream"] == "depth.SOL_USDC"]
    windowed = [f["data"] for f in frames if f["stream"] == "depth.1000ms.SOL_USDC"]
    assert len(realtime) == 4 * every and len(windowed) == 4
    for i, delta in enumerate(windowed):
        assert delta["U"] == realtime[i * every]["U"]
        assert delta["u"] == realtime[i * every + every - 1]["u"]


# ---------------------------------------------------------------------------- book faults
def test_inject_gap_skips_update_ids(sim: BackpackSimulator, connect: Connect) -> None:
    """inject_gap makes the next delta's U jump past the skipped ids; REST includes them."""
    ws = connect(sim)
    subscribe(sim, ws, "depth.SOL_USDC")
    sim.step(1)
    first = recv(ws)["data"]
    sim.inject_gap("SOL_USDC", skip=4)
    sim.step(1)
    second = recv(ws)["data"]
    assert second["U"] == first["u"] + 5
    assert int(rest(sim, "/api/v1/depth?symbol=SOL_USDC")["lastUpdateId"]) == second["u"]


def test_hold_depth_puts_rest_ahead_then_releases_in_order(sim: BackpackSimulator, connect: Connect) -> None:
    """While depth is held REST is ahead of the socket; released deltas arrive in order and then align."""
    ws = connect(sim)
    subscribe(sim, ws, "depth.SOL_USDC")
    sim.step(1)
    first = recv(ws)["data"]
    send(ws, "SUBSCRIBE", "depth.200ms.SOL_USDC", "trade.SOL_USDC", "bookTicker.SOL_USDC")
    assert sim.wait_for(lambda: sim.subscriber_count("depth.200ms.SOL_USDC") == 1, 5)
    sim.hold_depth("SOL_USDC")
    sim.step(3)
    held = until_sentinel(ws)
    assert held and not any(f["stream"].startswith("depth.") for f in held)  # other streams still flow
    last = int(rest(sim, "/api/v1/depth?symbol=SOL_USDC")["lastUpdateId"])
    assert last > first["u"] == sim.delivered_update_id("SOL_USDC")
    assert sim.release_depth("SOL_USDC") == 3
    frames = until_sentinel(ws)
    released = [f["data"] for f in frames if f["stream"] == "depth.SOL_USDC"]
    assert released[0]["U"] == first["u"] + 1 and released[-1]["u"] == last
    assert_chained(released)
    windowed = [f["data"] for f in frames if f["stream"] == "depth.200ms.SOL_USDC"]
    assert len(windowed) == 1 and windowed[0]["u"] == last
    sim.step(1)
    after = [f["data"] for f in until_sentinel(ws) if f["stream"] == "depth.SOL_USDC"]
    assert after[0]["U"] == last + 1  # the delta that aligns with the early snapshot


def test_hold_depth_for_n_ticks_releases_by_itself(sim: BackpackSimulator, connect: Connect) -> None:
    """hold_depth(symbol, n) delivers the held deltas together after n ticks."""
    ws = connect(sim)
    subscribe(sim, ws, "depth.ETH_USDC")
    sim.hold_depth("ETH_USDC", 2)
    sim.step(1)
    assert until_sentinel(ws) == []
    sim.step(1)
    released = until_sentinel(ws)
    assert len(released) == 2 and released[1]["data"]["U"] == released[0]["data"]["u"] + 1


def test_stale_snapshot_is_behind_the_first_buffered_delta(sim: BackpackSimulator, connect: Connect) -> None:
    """stale_snapshots serves a snapshot older than the first delta the client buffered, then a fresh one."""
    sim.step(5)
    ws = connect(sim)
    subscribe(sim, ws, "depth.SOL_USDC")
    sim.step(2)
    first = recv(ws)["data"]
    sim.stale_snapshots("SOL_USDC")
    stale = int(rest(sim, "/api/v1/depth?symbol=SOL_USDC")["lastUpdateId"])
    assert stale + 1 < first["U"]
    fresh = int(rest(sim, "/api/v1/depth?symbol=SOL_USDC")["lastUpdateId"])
    assert fresh == sim.last_update_id("SOL_USDC") >= first["U"]


def test_books_never_cross(sim: BackpackSimulator) -> None:
    """Over many ticks every market keeps best bid < best ask and both sides populated."""
    for _ in range(300):
        sim.step(1)
        for symbol in sim.markets:
            state = sim.book(symbol)
            assert state.best_bid is not None and state.best_ask is not None
            assert state.best_bid < state.best_ask, (symbol, state.last_update_id)


def test_same_seed_gives_the_same_market() -> None:
    """Two simulators with the same seed evolve identical books; another seed differs."""
    books = []
    for seed in (11, 11, 12):
        with BackpackSimulator(seed=seed, tick_interval=None) as server:
            server.step(30)
            books.append(server.book("ETH_USDC_PERP"))
    assert books[0] == books[1]
    assert books[0] != books[2]


# ---------------------------------------------------------------------------- private streams
@pytest.fixture
def private_sim(backpack_sim: Callable[..., BackpackSimulator]) -> BackpackSimulator:
    return backpack_sim(seed=5, tick_interval=None, time_scale=0.001, accounts={PUBLIC_B64})


def test_private_subscription_with_a_valid_signature(private_sim: BackpackSimulator, connect: Connect) -> None:
    """A correctly signed subscribe gets the open positions (no "e") and then order and position events."""
    sig = signature(SECRET_B64, now_ms())
    assert sig[0] == PUBLIC_B64  # the guide's key pair
    ws = connect(private_sim)
    subscribe(private_sim, ws, "account.orderUpdate", "account.positionUpdate", signature=sig)
    assert private_sim.signatures_verified == 1
    opening = [recv(ws), recv(ws)]
    for frame in opening:
        assert frame["stream"] == "account.positionUpdate"
        assert "e" not in frame["data"]
        assert {"s", "q", "B", "M", "i", "E", "T"} <= set(frame["data"])
    private_sim.step(40)
    events = until_sentinel(ws)
    orders = [f["data"] for f in events if f["stream"] == "account.orderUpdate"]
    kinds = {o["e"] for o in orders}
    assert {"orderAccepted", "orderFill"} <= kinds
    assert kinds <= {"orderAccepted", "orderCancelled", "orderExpired", "orderFill", "orderModified",
                     "triggerPlaced", "triggerFailed"}
    for order in orders:
        assert {"E", "s", "S", "o", "q", "X", "i", "T"} <= set(order)
    fill = next(o for o in orders if o["e"] == "orderFill")
    assert {"t", "l", "L", "m", "n", "N"} <= set(fill)
    positions = [f["data"] for f in events if f["stream"] == "account.positionUpdate"]
    assert all(p["e"] in ("positionOpened", "positionAdjusted", "positionClosed") for p in positions)


def test_private_subscription_for_one_symbol(private_sim: BackpackSimulator, connect: Connect) -> None:
    """account.positionUpdate.<symbol> only carries that market's position."""
    ws = connect(private_sim)
    subscribe(private_sim, ws, "account.positionUpdate.SOL_USDC_PERP", signature=signature(SECRET_B64, now_ms()))
    private_sim.step(40)
    frames = until_sentinel(ws)
    assert frames and all(f["data"]["s"] == "SOL_USDC_PERP" for f in frames)


def test_private_subscription_rejections(private_sim: BackpackSimulator, connect: Connect) -> None:
    """Missing, wrong, foreign-key, expired and out-of-window signatures are refused with an error frame."""
    ws = connect(private_sim)
    other_secret = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    stamp = now_ms()
    malformed = signature(SECRET_B64, stamp)
    cases: list[tuple[Any, tuple[int, str]]] = [
        (None, ERR_SIGNATURE_MISSING),
        (signature(SECRET_B64, stamp, text="instruction=subscribe&timestamp=1&window=5000"), ERR_SIGNATURE_INVALID),
        (signature(other_secret, stamp), ERR_UNKNOWN_KEY),
        (signature(SECRET_B64, stamp - 120_000), ERR_SIGNATURE_EXPIRED),
        (signature(SECRET_B64, stamp, window=70_000), ERR_INVALID_WINDOW),
        ([malformed[0], malformed[1], stamp, malformed[3]], ERR_SIGNATURE_INVALID),  # timestamp not a string
    ]
    for sig, (code, message) in cases:
        extra = {} if sig is None else {"signature": sig}
        send(ws, "SUBSCRIBE", "account.orderUpdate", "depth.SOL_USDC", **extra)
        assert recv(ws) == {"id": None, "error": {"code": code, "message": message}}, sig
    assert private_sim.subscriber_count("account.orderUpdate") == 0
    assert private_sim.subscriber_count("depth.SOL_USDC") == 0
    assert private_sim.signatures_verified == 0 and private_sim.signatures_rejected == len(cases)


def test_any_verifying_key_is_accepted_without_an_accounts_list(sim: BackpackSimulator, connect: Connect) -> None:
    """With accounts=None any key whose signature verifies may subscribe."""
    ws = connect(sim)
    secret = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    subscribe(sim, ws, "account.orderUpdate", signature=signature(secret, now_ms()))
    assert sim.signatures_verified == 1


# ---------------------------------------------------------------------------- connection faults
def test_drop_connections_aborts_without_close_frame(sim: BackpackSimulator, connect: Connect) -> None:
    """drop_connections resets the TCP connection: the client sees the socket die, no close code."""
    ws = connect(sim)
    assert sim.wait_for_connections(1, 5)
    assert sim.drop_connections() == 1
    with pytest.raises((websocket.WebSocketConnectionClosedException, OSError)):
        ws.recv()


def test_close_connections_sends_the_close_code(sim: BackpackSimulator, connect: Connect) -> None:
    """close_connections sends a close frame with the requested code."""
    ws = connect(sim)
    assert sim.wait_for_connections(1, 5)
    received: list[tuple[int, bytes]] = []

    def read_then_hang_up() -> None:
        # The server waits for the closing handshake and the TCP close: behave like a real client.
        received.append(ws.recv_data(control_frame=True))
        ws.shutdown()

    reader = threading.Thread(target=read_then_hang_up)
    reader.start()
    assert sim.close_connections(1001, "going away") == 1
    reader.join(5)
    opcode, payload = received[0]
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert struct.unpack("!H", payload[:2])[0] == 1001


def test_silence_swallows_frames_until_lifted(sim: BackpackSimulator, connect: Connect) -> None:
    """While silent nothing is delivered (frames are lost); afterwards data flows again."""
    ws = connect(sim)
    subscribe(sim, ws, "depth.SOL_USDC")
    sim.set_silent(True)
    sim.step(3)
    assert sim.wait_for(lambda: sim.queued_frames() == 0, 5)
    sim.inject('{"marker":1}')  # raw frames bypass silence
    assert recv(ws) == {"marker": 1}
    sim.set_silent(False)
    sim.step(1)
    assert recv(ws)["stream"] == "depth.SOL_USDC"


def test_inject_error_and_malformed_frames(sim: BackpackSimulator, connect: Connect) -> None:
    """inject_error sends a Backpack error frame; send_malformed sends text that is not JSON."""
    ws = connect(sim)
    assert sim.wait_for_connections(1, 5)
    assert sim.inject_error(4006, "Invalid stream") == 1
    assert recv(ws) == WIRE_4006
    assert sim.send_malformed() == 1
    with pytest.raises(ValueError):
        json.loads(ws.recv())


def test_paused_market_and_silenced_connection_send_nothing(sim: BackpackSimulator, connect: Connect) -> None:
    """A paused market stays quiet on a live socket; a silenced connection gets nothing until resumed."""
    quiet, other = connect(sim), connect(sim)
    subscribe(sim, quiet, "depth.SOL_USDC", "trade.SOL_USDC", "bookTicker.SOL_USDC")
    subscribe(sim, other, "depth.ETH_USDC")
    sim.set_market_paused("SOL_USDC")
    sim.step(5)
    assert until_sentinel(quiet) == []
    assert len(until_sentinel(other)) == 5
    sim.set_market_paused("SOL_USDC", False)
    (other_id,) = [cid for cid, streams in sim.subscriptions().items() if "depth.ETH_USDC" in streams]
    sim.silence_connection(other_id)
    sim.step(1)
    assert recv(quiet)["stream"].endswith("SOL_USDC")
    assert sim.wait_for(lambda: sim.queued_frames() == 0, 5)
    sim.silence_connection(other_id, False)
    assert until_sentinel(other) == []  # the frames produced while silent were lost


def test_string_timestamps_quirk() -> None:
    """string_times_every writes E and T as strings on every Nth data frame, as seen on the wire."""
    with BackpackSimulator(seed=2, tick_interval=None, string_times_every=3) as server:
        ws = websocket.create_connection(server.url, timeout=5)
        try:
            subscribe(server, ws, "depth.SOL_USDC")
            server.step(6)
            frames = [f["data"] for f in until_sentinel(ws)]
        finally:
            ws.close(timeout=0.2)
    assert [isinstance(d["E"], str) for d in frames] == [False, False, True] * 2
    assert all(isinstance(d["T"], type(d["E"])) and int(d["T"]) <= int(d["E"]) for d in frames)


def test_protocol_pings_are_sent() -> None:
    """With ping_interval set the server sends protocol Ping frames."""
    with BackpackSimulator(tick_interval=None, ping_interval=0.05) as server:
        ws = websocket.create_connection(server.url, timeout=5)
        try:
            opcode, _ = ws.recv_data(control_frame=True)
        finally:
            ws.close(timeout=0.2)
    assert opcode == websocket.ABNF.OPCODE_PING


def test_controls_reject_unknown_markets(sim: BackpackSimulator) -> None:
    """Fault controls name the valid markets when given an unknown one."""
    with pytest.raises(ValueError, match="SOL_USDC"):
        sim.inject_gap("NOPE_USDC")
    with pytest.raises(ValueError):
        sim.hold_depth("SOL_USDC", 0)


def test_stopping_with_a_keep_alive_rest_connection_open_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A client still holding a keep-alive REST connection when the simulator stops: the
    connection ends, and nothing is logged at WARNING or above (no asyncio noise)."""
    from bpbfx.rest import RestClient

    sim = BackpackSimulator(tick_interval=None).start()
    rest = RestClient(sim.http_url)
    try:
        with caplog.at_level(logging.WARNING):
            assert rest.request("GET", "/api/v1/markets").status == 200
            sim.stop()
    finally:
        rest.close()
        sim.stop()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
