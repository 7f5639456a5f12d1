"""Loopback tests of the Bitfinex simulator, driven with websocket-client.

Books, checksums and sequence numbers are checked with code written here from the protocol
rules (wire-text books, zlib CRC32), not with the simulator's own helpers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from bpbfx.sim.bitfinex import (
    BULK_UPDATES,
    INFO_MESSAGES,
    OB_CHECKSUM,
    SEQ_ALL,
    TIMESTAMP,
    BitfinexSimulator,
    book_checksum,
    js_number,
)

KEY, SECRET = "sim-key-1", "sim-secret-1"
OTHER_KEY, OTHER_SECRET = "sim-key-2", "sim-secret-2"

Connect = Callable[..., websocket.WebSocket]
_cids = itertools.count(1_000_000)


# -------------------------------------------------------------------------------------- helpers
class Num(str):
    """A number token, kept as its wire text."""


def tokens(text: str) -> Any:
    """Decode keeping every number as its wire text (a :class:`Num`)."""
    return json.loads(text, parse_float=Num, parse_int=Num)


def text_of(ws: websocket.WebSocket) -> str:
    """The next frame's text."""
    data = ws.recv()
    return data if isinstance(data, str) else data.decode()


def send(ws: websocket.WebSocket, obj: Any) -> None:
    ws.send(json.dumps(obj))


def recv(ws: websocket.WebSocket) -> Any:
    return json.loads(text_of(ws))


def collect(ws: websocket.WebSocket) -> list[str]:
    """Every frame queued so far: a ping's pong marks the end (one queue per socket)."""
    cid = next(_cids)
    send(ws, {"event": "ping", "cid": cid})
    out: list[str] = []
    while True:
        text = text_of(ws)
        if text.startswith('{"event":"pong"') and json.loads(text).get("cid") == cid:
            return out
        out.append(text)


def signed(crc: int) -> int:
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def auth_frame(key: str, secret: str, nonce: int, **extra: Any) -> dict[str, Any]:
    payload = f"AUTH{nonce}"
    sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha384).hexdigest()
    return {"event": "auth", "apiKey": key, "authSig": sig, "authPayload": payload, "authNonce": nonce, **extra}


class RefBook:
    """A client-side book of one channel built from wire texts, following the Bitfinex rules."""

    def __init__(self, funding: bool, raw: bool) -> None:
        self.funding = funding
        self.raw = raw
        self.bids: dict[tuple[str, ...], list[str]] = {}
        self.asks: dict[tuple[str, ...], list[str]] = {}

    def _is_bid(self, amount: str) -> bool:
        # Trading books: AMOUNT > 0 is a bid; funding books: AMOUNT < 0 is a bid.
        return amount.startswith("-") == self.funding

    def apply(self, e: list[str]) -> None:
        amount = e[-1]
        side = self.bids if self._is_bid(amount) else self.asks
        if self.raw:
            key: tuple[str, ...] = (e[0],)
            price = e[2] if self.funding else e[1]
            if price == "0":  # raw books: PRICE (RATE) 0 deletes the order
                assert amount in ("1", "-1"), e
                del side[key]
            else:
                side[key] = e
            return
        key = (e[0], e[1]) if self.funding else (e[0],)  # funding levels: (rate, period)
        count = e[2] if self.funding else e[1]
        if count == "0":  # COUNT 0 deletes the level, AMOUNT 1 / -1 says the side
            assert amount in ("1", "-1"), e
            del side[key]
        else:
            side[key] = e

    def sorted_sides(self) -> tuple[list[list[str]], list[list[str]]]:
        if self.raw:
            pi = 2 if self.funding else 1
            bids = sorted(self.bids.values(), key=lambda e: (-float(e[pi]), int(e[0])))
            asks = sorted(self.asks.values(), key=lambda e: (float(e[pi]), int(e[0])))
        elif self.funding:
            bids = sorted(self.bids.values(), key=lambda e: (-float(e[0]), int(e[1])))
            asks = sorted(self.asks.values(), key=lambda e: (float(e[0]), int(e[1])))
        else:
            bids = sorted(self.bids.values(), key=lambda e: -float(e[0]))
            asks = sorted(self.asks.values(), key=lambda e: float(e[0]))
        return bids, asks

    def checksum(self) -> int:
        bids, asks = self.sorted_sides()
        parts: list[str] = []
        for i in range(25):
            for side in (bids, asks):
                if i < len(side):
                    parts += [side[i][0], side[i][-1]]
        return signed(zlib.crc32(":".join(parts).encode()))

    def crossed(self) -> bool:
        bids, asks = self.sorted_sides()
        if not bids or not asks:
            return False
        pi = (2 if self.funding else 1) if self.raw else 0
        return float(bids[0][pi]) >= float(asks[0][pi])


def check_numbers(obj: Any) -> None:
    """Every number token is written the way JavaScript writes that number."""
    if isinstance(obj, list):
        for v in obj:
            check_numbers(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            check_numbers(v)
    elif isinstance(obj, Num):
        assert js_number(float(obj)) == obj, obj


# -------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def sim(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(seed=7, tick_interval=None, accounts={KEY: SECRET, OTHER_KEY: OTHER_SECRET})


@pytest.fixture
def connect() -> Iterator[Connect]:
    sockets: list[websocket.WebSocket] = []

    def go(server: BitfinexSimulator, flags: int | None = None) -> websocket.WebSocket:
        ws = websocket.create_connection(server.url, timeout=5)
        sockets.append(ws)
        assert recv(ws)["event"] == "info"
        if flags is not None:
            send(ws, {"event": "conf", "flags": flags})
            assert recv(ws) == {"event": "conf", "status": "OK", "flags": flags}
        return ws

    yield go
    for ws in sockets:
        ws.close(timeout=0.2)


def subscribe(ws: websocket.WebSocket, **req: Any) -> tuple[dict[str, Any], Any]:
    """Subscribe and return the ``subscribed`` event and the snapshot (decoded with wire texts)."""
    send(ws, {"event": "subscribe", **req})
    ack = recv(ws)
    assert ack["event"] == "subscribed", ack
    if req.get("key") == "liq:global":
        return ack, None
    return ack, tokens(text_of(ws))


# -------------------------------------------------------------------------------------- numbers
def test_js_number_writes_every_recorded_number_as_bitfinex_did(data_dir: Path) -> None:
    """js_number() reproduces the text of every number in the recorded Bitfinex frames."""
    seen = 0

    def walk(obj: Any) -> None:
        nonlocal seen
        if isinstance(obj, list):
            for v in obj:
                walk(v)
        elif isinstance(obj, dict):
            for v in obj.values():
                walk(v)
        elif isinstance(obj, Num):
            assert js_number(float(obj)) == obj
            seen += 1

    for name in ("bbgo_ws_public.jsonl", "bbgo_ws_private.jsonl"):
        for line in (data_dir / "bitfinex" / name).read_text().splitlines():
            walk(tokens(line))
    for line in (data_dir / "bitfinex" / "cryptofeed_ws_seq_all.txt").read_text().splitlines():
        if line and not line.startswith("wss://"):
            walk(tokens(line.split(": ", 1)[1]))
    assert seen > 25_000
    assert [js_number(x) for x in (7e-7, 1e-6, 1.5e-8, -5.2128e-8, 118940.0, 1e21, 0.00002503, -0.0)] == [
        "7e-7", "0.000001", "1.5e-8", "-5.2128e-8", "118940", "1e+21", "0.00002503", "0",
    ]


def test_book_checksum_matches_both_recorded_vectors(data_dir: Path) -> None:
    """book_checksum() and the reference book agree with the recorded cs of both vectors."""
    vectors = json.loads((data_dir / "bitfinex" / "checksum_vectors.json").read_text())["vectors"]
    assert len(vectors) == 2
    for vec in vectors:
        ref = RefBook(funding=False, raw=False)
        frames = [tokens(f) for f in vec["frames"]]
        for entry in frames[0][1]:
            ref.apply(entry)
        for frame in frames[1:-1]:
            ref.apply(frame[1])
        assert frames[-1][1] == "cs" and int(frames[-1][2]) == vec["checksum"]
        bids, asks = ref.sorted_sides()
        assert book_checksum([(e[0], e[2]) for e in bids], [(e[0], e[2]) for e in asks]) == vec["checksum"]
        assert ref.checksum() == vec["checksum"]


# -------------------------------------------------------------------------------------- connection
def test_info_on_connect(sim: BitfinexSimulator) -> None:
    """The first frame is info with version 2, a uuid serverId and platform status 1."""
    ws = websocket.create_connection(sim.url, timeout=5)
    try:
        info = recv(ws)
        assert list(info) == ["event", "version", "serverId", "platform"]
        assert info["event"] == "info" and info["version"] == 2 and info["platform"] == {"status": 1}
        uuid.UUID(info["serverId"])
    finally:
        ws.close()


def test_info_carries_the_configured_version_and_platform_status() -> None:
    """version and platform_status are what the constructor says (for clients to refuse)."""
    with BitfinexSimulator(seed=1, tick_interval=None, version=3, platform_status=0) as s:
        ws = websocket.create_connection(s.url, timeout=5)
        info = recv(ws)
        ws.close()
    assert info["version"] == 3 and info["platform"] == {"status": 0}


def test_conf_is_acknowledged_and_kept_per_socket(sim: BitfinexSimulator, connect: Connect) -> None:
    """conf flags are echoed with status OK and apply to that socket only."""
    ws = connect(sim, SEQ_ALL | OB_CHECKSUM)
    other = connect(sim)
    collect(other)
    ids = sim.connection_ids
    assert sim.flags(ids[0]) == SEQ_ALL | OB_CHECKSUM and sim.flags(ids[1]) == 0
    send(ws, {"event": "conf", "flags": "x"})
    assert recv(ws)["code"] == 10001


def test_ping_is_answered_with_pong(sim: BitfinexSimulator, connect: Connect) -> None:
    """{"event":"ping","cid":N} gets {"event":"pong","ts":<ms>,"cid":N}."""
    ws = connect(sim)
    before = int(time.time() * 1000)
    send(ws, {"event": "ping", "cid": 1234})
    pong = recv(ws)
    assert list(pong) == ["event", "ts", "cid"] and pong["cid"] == 1234
    assert before - 1000 <= pong["ts"] <= int(time.time() * 1000) + 1000


# -------------------------------------------------------------------------------------- subscriptions
BOOK_FIELDS = ["symbol", "prec", "freq", "len"]


def test_subscribed_echo_and_snapshot_shape_of_every_channel(sim: BitfinexSimulator, connect: Connect) -> None:
    """Each channel's subscribed event has the wire's fields in order and its snapshot the documented shape."""
    ws = connect(sim)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"channel": "ticker", "symbol": "tBTCUSD"}, ["symbol", "pair"]),
        ({"channel": "ticker", "symbol": "fUSD"}, ["symbol", "currency"]),
        ({"channel": "trades", "symbol": "tETHUSD", "subId": "t1"}, ["symbol", "subId", "pair"]),
        ({"channel": "trades", "symbol": "fUST"}, ["symbol", "currency"]),
        ({"channel": "book", "symbol": "tBTCUSD"}, ["symbol", "prec", "freq", "len", "pair"]),
        ({"channel": "book", "symbol": "fUSD", "prec": "P0", "len": 100}, [*BOOK_FIELDS, "currency"]),
        ({"channel": "book", "symbol": "tSOLUSD", "prec": "R0", "len": "25"}, [*BOOK_FIELDS, "pair"]),
        ({"channel": "book", "symbol": "fBTC", "prec": "R0"}, [*BOOK_FIELDS, "currency"]),
        ({"channel": "candles", "key": "trade:1m:tBTCUSD"}, ["key"]),
        ({"channel": "status", "key": "deriv:tBTCF0:USTF0"}, ["key"]),
        ({"channel": "status", "key": "liq:global"}, ["key"]),
    ]
    chan_ids = set()
    for req, fields in cases:
        ack, snap = subscribe(ws, **req)
        assert list(ack) == ["event", "channel", "chanId", *fields], ack
        assert ack["channel"] == req["channel"] and isinstance(ack["chanId"], int)
        chan_ids.add(ack["chanId"])
        if "symbol" in req:
            assert ack["symbol"] == req["symbol"]
            assert ack.get("pair", ack.get("currency")) == req["symbol"][1:]
        if req["channel"] == "book":
            assert (ack["prec"], ack["freq"], ack["len"]) == (req.get("prec", "P0"), "F0", str(req.get("len", "25")))
        if "subId" in req:
            assert ack["subId"] == req["subId"]
        if snap is None:
            continue
        check_numbers(snap)
        assert snap[0] == str(ack["chanId"])
        body = snap[1]
        channel, symbol = req["channel"], req.get("symbol", "")
        if channel == "ticker":
            assert len(body) == (16 if symbol.startswith("f") else 10)
            if symbol.startswith("t"):
                assert float(body[0]) < float(body[2])  # BID < ASK
        elif channel == "trades":
            assert len(body) == 30 and all(len(t) == (5 if symbol.startswith("f") else 4) for t in body)
            mts = [int(t[1]) for t in body]
            assert mts == sorted(mts, reverse=True)  # newest first
        elif channel == "book":
            width = 4 if symbol.startswith("f") else 3
            assert all(len(e) == width for e in body)
            length = int(req.get("len", 25))
            funding = symbol.startswith("f")
            bids = [e for e in body if e[-1].startswith("-") == funding]
            asks = [e for e in body if e[-1].startswith("-") != funding]
            assert body == bids + asks  # bids first
            assert len(bids) == len(asks) == length
        elif channel == "candles":
            assert len(body) == 240 and all(len(c) == 6 for c in body)
            for _mts, o, c, h, lo, _v in body:
                assert float(lo) <= min(float(o), float(c)) <= max(float(o), float(c)) <= float(h)
            assert [int(c[0]) for c in body] == sorted((int(c[0]) for c in body), reverse=True)
        elif channel == "status":
            assert len(body) == 23 and body[1] is None
    assert len(chan_ids) == len(cases)
    subs = sim.subscriptions()[sim.connection_ids[0]]
    assert sorted(subs) == sorted(chan_ids)
    assert {r["channel"] for r in subs.values()} == {"ticker", "trades", "book", "candles", "status"}


def test_book_lengths_are_respected(sim: BitfinexSimulator, connect: Connect) -> None:
    """len 1/25/100/250 gives that many levels per side (a coarse P2 book has what exists)."""
    ws = connect(sim)
    for length, prec in [(1, "P0"), (25, "P1"), (100, "P0"), (250, "P0"), (250, "R0"), (25, "P2")]:
        _, snap = subscribe(ws, channel="book", symbol="tBTCUSD", prec=prec, len=str(length))
        bids = [e for e in snap[1] if not e[2].startswith("-")]
        asks = [e for e in snap[1] if e[2].startswith("-")]
        if prec == "P2":  # 1000 USD buckets: fewer levels than asked for
            assert 5 <= len(bids) < length and 5 <= len(asks) < length
            assert all(e[0].endswith("000") for e in bids + asks)
        else:
            assert len(bids) == len(asks) == length, (prec, length)
        if prec != "R0":
            assert [float(e[0]) for e in bids] == sorted((float(e[0]) for e in bids), reverse=True)
            assert [float(e[0]) for e in asks] == sorted(float(e[0]) for e in asks)


def test_symbol_without_prefix_is_acked_with_it(sim: BitfinexSimulator, connect: Connect) -> None:
    """A trading symbol sent without its "t" is acknowledged as tSYMBOL (as on the wire)."""
    ws = connect(sim)
    ack, _ = subscribe(ws, channel="ticker", symbol="BTCF0:USTF0")
    assert ack["symbol"] == "tBTCF0:USTF0" and ack["pair"] == "BTCF0:USTF0"


def test_subscription_errors_echo_the_request(sim: BitfinexSimulator, connect: Connect) -> None:
    """Bad subscriptions get the wire's error frames (request fields first) and the socket stays usable."""
    ws = connect(sim)
    expected = [
        ({"channel": "wallet"}, 10300, "channel: unknown", {}),
        ({"channel": "trades", "symbol": "tFAKEPAIRXYZ"}, 10300, "symbol: invalid", {"pair": "FAKEPAIRXYZ"}),
        ({"channel": "ticker", "symbol": "fNOPE"}, 10300, "symbol: invalid", {"currency": "NOPE"}),
        ({"channel": "book", "symbol": "tBTCUSD", "len": "7"}, 10300, "length: invalid", {"pair": "BTCUSD"}),
        ({"channel": "book", "symbol": "tBTCUSD", "prec": "P9"}, 10300, "precision: invalid", {"pair": "BTCUSD"}),
        ({"channel": "book", "symbol": "tBTCUSD", "freq": "F7"}, 10300, "freq: invalid", {"pair": "BTCUSD"}),
        ({"channel": "candles", "key": "trade:7m:tBTCUSD"}, 10300, "key: invalid", {}),
    ]
    for req, code, msg, extra in expected:
        send(ws, {"event": "subscribe", **req})
        err = recv(ws)
        assert err == {**req, "event": "error", "msg": msg, "code": code, **extra}
        assert list(err)[: len(req)] == list(req)  # the request's fields come first
    ack, _ = subscribe(ws, channel="book", symbol="tETHUSD", prec="P0", len="25")
    send(ws, {"event": "subscribe", "channel": "book", "symbol": "tETHUSD", "prec": "P0", "len": "25"})
    dup = recv(ws)
    assert (dup["code"], dup["msg"], dup["chanId"], dup["pair"]) == (10301, "subscribe: dup", ack["chanId"], "ETHUSD")
    send(ws, {"event": "nope", "x": 1})
    assert recv(ws) == {"x": 1, "event": "error", "msg": "event: invalid (nope)", "code": 10000}
    assert sim.counters()["errors_sent"] == len(expected) + 2


def test_unknown_deriv_status_and_non_json_get_no_reply(sim: BitfinexSimulator, connect: Connect) -> None:
    """A status subscription to an unknown contract and text that is not JSON are not answered."""
    ws = connect(sim)
    send(ws, {"event": "subscribe", "channel": "status", "key": "deriv:tNOPEF0:USTF0"})
    ws.send("this is not json")
    assert collect(ws) == []
    assert sim.counters()["unanswered"] == 1
    assert "this is not json" in sim.received_frames()


def test_unsubscribe_and_its_errors(sim: BitfinexSimulator, connect: Connect) -> None:
    """unsubscribe stops the channel; an unknown chanId gets 10400, an already closed one 10401."""
    ws = connect(sim)
    ack, _ = subscribe(ws, channel="book", symbol="tBTCUSD")
    send(ws, {"event": "unsubscribe", "chanId": ack["chanId"]})
    assert recv(ws) == {"event": "unsubscribed", "status": "OK", "chanId": ack["chanId"]}
    sim.step(20)
    assert collect(ws) == []
    send(ws, {"event": "unsubscribe", "chanId": 42})
    assert recv(ws) == {"chanId": 42, "event": "error", "msg": "unsubscribe: invalid", "code": 10400}
    send(ws, {"event": "unsubscribe", "chanId": ack["chanId"]})
    err = recv(ws)
    assert err["code"] == 10401 and err["chanId"] == ack["chanId"]
    assert sim.channel_count() == 0


def test_channel_limit_is_per_connection(connect: Connect) -> None:
    """The subscription past max_channels gets 10305 subscribe: limit; another socket is not affected."""
    with BitfinexSimulator(seed=2, tick_interval=None) as s:
        ws = connect(s)
        symbols = [m for m in s.markets]
        reqs = [{"channel": c, "symbol": sym} for sym in symbols for c in ("ticker", "trades")]
        for req in reqs[:25]:
            subscribe(ws, **req)
        send(ws, {"event": "subscribe", **reqs[25]})
        err = recv(ws)
        assert (err["code"], err["msg"], err["channel"], err["symbol"]) == (
            10305, "subscribe: limit", reqs[25]["channel"], reqs[25]["symbol"],
        )
        other = connect(s)
        subscribe(other, **reqs[25])
        assert s.channel_count(s.connection_ids[0]) == 25
        ws.close()
        other.close()  # before the server stops: it would wait for their close handshake
    with BitfinexSimulator(seed=2, tick_interval=None, max_channels=40) as s:
        ws = connect(s)
        for req in reqs[:40]:
            subscribe(ws, **req)
        assert s.channel_count() == 40
        ws.close()


# -------------------------------------------------------------------------------------- books
BOOKS = [
    ("tBTCUSD", "P0", "25"),
    ("tETHUSD", "P1", "100"),
    ("tETHUSD", "P3", "25"),
    ("tXRPUSD", "R0", "100"),
    ("tVETBTC", "P0", "250"),
    ("fUSD", "P0", "25"),
    ("fUST", "R0", "25"),
]


def follow_books(sim: BitfinexSimulator, ws: websocket.WebSocket, ticks: int, bulk: bool) -> dict[str, Any]:
    """Subscribe to BOOKS, step, apply every frame to reference books and check each cs."""
    refs: dict[str, tuple[RefBook, tuple[str, str, str]]] = {}
    for symbol, prec, length in BOOKS:
        ack, snap = subscribe(ws, channel="book", symbol=symbol, prec=prec, len=length)
        ref = RefBook(funding=symbol.startswith("f"), raw=prec == "R0")
        for e in snap[1]:
            ref.apply(e)
        refs[str(ack["chanId"])] = (ref, (symbol, prec, length))
    checks = updates = 0
    for _ in range(ticks):
        sim.step()
        for text in collect(ws):
            frame = tokens(text)
            check_numbers(frame)
            ref, _ = refs[frame[0]]
            if frame[1] == "cs":
                assert int(frame[2]) == ref.checksum()
                checks += 1
                continue
            if frame[1] == "hb":
                continue
            entries = frame[1] if isinstance(frame[1][0], list) else [frame[1]]
            assert isinstance(frame[1][0], list) == bulk
            for e in entries:
                ref.apply(e)
                updates += 1
            assert not ref.crossed()
    for ref, (symbol, prec, length) in refs.values():
        view = sim.book(symbol, prec, int(length))
        bids, asks = ref.sorted_sides()
        assert [tuple(e) for e in bids] == list(view.bids)
        assert [tuple(e) for e in asks] == list(view.asks)
        assert view.checksum == ref.checksum()
    return {"checks": checks, "updates": updates}


def test_book_updates_and_checksums_match_a_client_book(sim: BitfinexSimulator, connect: Connect) -> None:
    """Applying snapshot + updates gives the simulator's book, every cs matches it and books never cross."""
    ws = connect(sim, OB_CHECKSUM)
    stats = follow_books(sim, ws, 60, bulk=False)
    assert stats["checks"] > 100 and stats["updates"] > 200


def test_bulk_updates_batch_a_tick_into_one_frame(sim: BitfinexSimulator, connect: Connect) -> None:
    """With BULK_UPDATES a tick's book updates come as one list of entries and still add up."""
    ws = connect(sim, OB_CHECKSUM | BULK_UPDATES)
    stats = follow_books(sim, ws, 40, bulk=True)
    assert stats["checks"] > 50


def test_f1_book_updates_every_two_seconds() -> None:
    """A freq F1 book sends its changes once per 2 s cadence, and they still add up."""
    with BitfinexSimulator(seed=4, tick_interval=None, time_scale=0.05) as s:  # 2 s = 2 ticks
        ws = websocket.create_connection(s.url, timeout=5)
        recv(ws)
        _, snap = subscribe(ws, channel="book", symbol="tBTCUSD", freq="F1")
        ref = RefBook(False, False)
        for e in snap[1]:
            ref.apply(e)
        counts = []
        for _ in range(10):
            s.step()
            frames = collect(ws)
            counts.append(len(frames))
            for text in frames:
                ref.apply(tokens(text)[1])
        ws.close()
    assert counts[0::2] == [0] * 5 and sum(counts[1::2]) > 3
    assert [tuple(e) for e in ref.sorted_sides()[0]] == list(s.book("tBTCUSD").bids)


def test_trades_te_then_tu_and_candles_follow(sim: BitfinexSimulator, connect: Connect) -> None:
    """Each trade comes as te, then tu with the same data one tick later; candles move with trades."""
    ws = connect(sim)
    t_ack, _ = subscribe(ws, channel="trades", symbol="tBTCUSD")
    f_ack, _ = subscribe(ws, channel="trades", symbol="fUSD")
    c_ack, candles = subscribe(ws, channel="candles", key="trade:1m:tBTCUSD")
    te: dict[str, list[str]] = {}
    tu: dict[str, list[str]] = {}
    kinds = set()
    candle_updates = []
    for _ in range(30):
        sim.step()
        for text in collect(ws):
            frame = tokens(text)
            if frame[0] == str(c_ack["chanId"]):
                candle_updates.append(frame[1])
                continue
            kinds.add((frame[0], frame[1]))
            if frame[1] in ("te", "fte"):
                assert frame[2][0] not in tu
                te[frame[2][0]] = frame[2]
            elif frame[1] in ("tu", "ftu"):
                assert te.get(frame[2][0]) == frame[2]
                tu[frame[2][0]] = frame[2]
    assert kinds == {(str(t_ack["chanId"]), "te"), (str(t_ack["chanId"]), "tu"), (str(f_ack["chanId"]), "fte"),
                     (str(f_ack["chanId"]), "ftu")}
    assert len(tu) >= len(te) - 20 and len(tu) > 10
    assert candle_updates and all(len(c) == 6 for c in candle_updates)
    assert int(candle_updates[-1][0]) >= int(candles[1][0][0])


def test_ticker_status_and_liquidations_arrive_on_their_cadence() -> None:
    """Tickers, deriv status rows and liq:global entries come periodically with their shapes."""
    with BitfinexSimulator(seed=5, tick_interval=None, time_scale=0.1) as s:  # ticker and status: 2 ticks
        ws = websocket.create_connection(s.url, timeout=5)
        recv(ws)
        chans = {}
        for req in ({"channel": "ticker", "symbol": "tSOLUSD"}, {"channel": "status", "key": "deriv:tETHF0:USTF0"},
                    {"channel": "status", "key": "liq:global"}):
            ack, _ = subscribe(ws, **req)
            chans[str(ack["chanId"])] = req
        s.step(40)
        got: dict[str, list[Any]] = {}
        for text in collect(ws):
            frame = tokens(text)
            got.setdefault(frame[0], []).append(frame[1])
        ws.close()
    by_kind = {chans[c].get("key", chans[c]["channel"]): v for c, v in got.items()}
    assert len(by_kind["ticker"]) == 20 and all(len(t) == 10 for t in by_kind["ticker"])
    assert len(by_kind["deriv:tETHF0:USTF0"]) == 20 and all(len(r) == 23 for r in by_kind["deriv:tETHF0:USTF0"])
    liqs = [row for frame in by_kind["liq:global"] for row in frame]
    assert liqs and all(r[0] == "pos" and len(r) == 12 and r[4].startswith("t") for r in liqs)


# -------------------------------------------------------------------------------------- sequence
def test_seq_all_numbers_every_array_frame_including_hb() -> None:
    """With SEQ_ALL|TIMESTAMP every array frame (data, cs, hb) ends in seq then ms time, seq from 1 without gaps."""
    with BitfinexSimulator(seed=6, tick_interval=0.01, hb_interval=0.1, time_scale=0.05) as s:
        s.pause_market("tLTCUSD")
        ws = websocket.create_connection(s.url, timeout=5)
        recv(ws)
        send(ws, {"event": "conf", "flags": SEQ_ALL | TIMESTAMP | OB_CHECKSUM})
        recv(ws)
        quiet, snap1 = subscribe(ws, channel="ticker", symbol="tLTCUSD")
        busy, snap2 = subscribe(ws, channel="book", symbol="tBTCUSD")
        frames: list[list[Any]] = [snap1, snap2]
        hbs: dict[int, int] = {quiet["chanId"]: 0, busy["chanId"]: 0}
        while min(hbs.values()) < 2:
            text = text_of(ws)
            if text.startswith("{"):
                continue
            frame = json.loads(text)
            frames.append(frame)
            if frame[1] == "hb":
                hbs[frame[0]] += 1
        ws.close()
    seqs = [int(f[-2]) for f in frames]
    assert seqs == list(range(1, len(frames) + 1))
    now_ms = time.time() * 1000
    assert all(now_ms - 60_000 < int(f[-1]) <= now_ms + 1000 for f in frames)
    hb = [f for f in frames if f[1] == "hb"]
    assert all(len(f) == 4 for f in hb)
    assert any(f[1] == "cs" and len(f) == 5 for f in frames)


def test_skip_sequence_leaves_a_gap(sim: BitfinexSimulator, connect: Connect) -> None:
    """skip_sequence(n) makes the next numbered frame jump by n + 1; numbering goes on from there."""
    ws = connect(sim, SEQ_ALL)
    subscribe(ws, channel="book", symbol="tBTCUSD")
    sim.step(3)
    before = [json.loads(t)[-1] for t in collect(ws)]
    assert sim.skip_sequence(3, conn_id=sim.connection_ids[0]) == 1
    sim.step(3)
    after = [json.loads(t)[-1] for t in collect(ws)]
    assert before == list(range(2, len(before) + 2))  # the snapshot was 1
    assert after[0] == before[-1] + 4
    assert after == list(range(after[0], after[0] + len(after)))


# -------------------------------------------------------------------------------------- faults
def test_corrupt_checksum_spoils_only_the_next_cs(sim: BitfinexSimulator, connect: Connect) -> None:
    """corrupt_checksum(symbol) makes the next cs of that book wrong, the following ones right."""
    ws = connect(sim, OB_CHECKSUM)
    _, snap = subscribe(ws, channel="book", symbol="tBTCUSD")
    ref = RefBook(False, False)
    for e in snap[1]:
        ref.apply(e)
    assert sim.corrupt_checksum("tBTCUSD") == 1
    verdicts = []
    for _ in range(20):
        sim.step()
        for text in collect(ws):
            frame = tokens(text)
            if frame[1] == "cs":
                verdicts.append(int(frame[2]) == ref.checksum())
            else:
                ref.apply(frame[1])
    assert verdicts[0] is False and all(verdicts[1:]) and len(verdicts) > 5
    assert sim.counters()["checksums_corrupted"] == 1


def test_drop_update_makes_the_next_checksum_fail(sim: BitfinexSimulator, connect: Connect) -> None:
    """drop_update(symbol) withholds one book update the checksum covers, so the client's cs check fails."""
    ws = connect(sim, OB_CHECKSUM)
    _, snap = subscribe(ws, channel="book", symbol="tETHUSD", len="100")
    ref = RefBook(False, False)
    for e in snap[1]:
        ref.apply(e)
    sim.drop_update("tETHUSD")
    verdicts = []
    for _ in range(10):
        sim.step()
        for text in collect(ws):
            frame = tokens(text)
            if frame[1] == "cs":
                verdicts.append(int(frame[2]) == ref.checksum())
            else:
                ref.apply(frame[1])
    assert verdicts and verdicts[0] is False
    assert sim.counters()["updates_dropped"] == 1


def test_silence_one_channel_while_others_continue(sim: BitfinexSimulator, connect: Connect) -> None:
    """silence_channel(channel=, symbol=) stops that channel (no data, no hb) while the others go on."""
    ws = connect(sim)
    book, _ = subscribe(ws, channel="book", symbol="tBTCUSD")
    other, _ = subscribe(ws, channel="book", symbol="tETHUSD")
    assert sim.silence_channel(channel="book", symbol="tBTCUSD") == 1
    sim.step(10)
    chans = {json.loads(t)[0] for t in collect(ws)}
    assert chans == {other["chanId"]}
    assert sim.silence_channel(book["chanId"], silent=False) == 1
    sim.step(10)
    assert book["chanId"] in {json.loads(t)[0] for t in collect(ws)}
    with pytest.raises(ValueError):
        sim.silence_channel()


def test_info_codes_and_maintenance(sim: BitfinexSimulator, connect: Connect) -> None:
    """send_info sends 20051/20060/20061 with their text; between 20060 and 20061 data stops."""
    ws = connect(sim)
    subscribe(ws, channel="book", symbol="tBTCUSD")
    assert sim.send_info(20051) == 1
    assert recv(ws) == {"event": "info", "code": 20051, "msg": INFO_MESSAGES[20051]}
    sim.send_info(20060)
    assert recv(ws) == {"event": "info", "code": 20060, "msg": INFO_MESSAGES[20060]}
    assert sim.maintenance
    newcomer = websocket.create_connection(sim.url, timeout=5)
    assert recv(newcomer)["platform"] == {"status": 0}
    newcomer.close()
    sim.step(10)
    assert collect(ws) == []
    sim.set_maintenance(False)
    assert recv(ws)["code"] == 20061
    sim.step(5)
    assert collect(ws)
    with pytest.raises(ValueError):
        sim.send_info(12345)


def test_refused_handshake_gets_http_429(sim: BitfinexSimulator) -> None:
    """refuse_connections(429) answers the WebSocket handshake with HTTP 429."""
    sim.refuse_connections(429)
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(sim.url, timeout=5)
    assert info.value.status_code == 429
    sim.refuse_connections(None)
    websocket.create_connection(sim.url, timeout=5).close()


def test_same_seed_gives_the_same_market() -> None:
    """Two simulators with one seed produce the same books and trades."""
    views = []
    for _ in range(2):
        with BitfinexSimulator(seed=11, tick_interval=None) as s:
            s.step(25)
            views.append((s.book("tBTCUSD", "R0", 100), s.book("fUSD"), s.counters()["trades"]))
    assert views[0] == views[1]


# -------------------------------------------------------------------------------------- auth
def test_auth_ok_then_snapshots_and_account_events(sim: BitfinexSimulator, connect: Connect) -> None:
    """A good signature authenticates: OK with caps, then ps ws os fos fcs fls, then account events and hb."""
    ws = connect(sim)
    nonce = int(time.time() * 1_000_000)
    send(ws, auth_frame(KEY, SECRET, nonce, filter=[], dms=4))
    ok = recv(ws)
    assert (ok["event"], ok["status"], ok["chanId"]) == ("auth", "OK", 0)
    assert isinstance(ok["userId"], int) and ok["caps"]["orders"] == {"read": 1, "write": 1}
    snaps = [tokens(text_of(ws)) for _ in range(6)]
    assert [(f[0], f[1]) for f in snaps] == [("0", k) for k in ("ps", "ws", "os", "fos", "fcs", "fls")]
    assert all(len(o) == 32 for o in snaps[2][2]) and all(len(w) == 7 for w in snaps[1][2])
    sim.step(sim.cadence_ticks("account") * 40)
    frames = [tokens(t) for t in collect(ws)]
    shapes = {"on": 32, "ou": 32, "oc": 32, "te": 12, "tu": 12, "wu": 7, "bu": 2, "n": 8, "pu": 20}
    kinds = {f[1] for f in frames}
    assert {"n", "on", "oc", "te", "tu", "wu", "bu"} <= kinds <= set(shapes)
    for f in frames:
        check_numbers(f)
        assert f[0] == "0" and len(f[2]) == shapes[f[1]], f
    assert sim.nonces() == {KEY: nonce}
    assert sim.authenticated(sim.connection_ids[0]) == KEY
    attempt = sim.auth_attempts()[-1]
    assert attempt.ok and attempt.nonce == nonce and attempt.dms == 4


def test_auth_nonce_must_grow_across_connections(sim: BitfinexSimulator, connect: Connect) -> None:
    """A reused or smaller nonce is refused with 10114 nonce: small, even on another socket."""
    nonce = 1_700_000_000_000_000
    first = connect(sim)
    send(first, auth_frame(KEY, SECRET, nonce))
    assert recv(first)["status"] == "OK"
    for n in (nonce, nonce - 1):
        ws = connect(sim)
        send(ws, auth_frame(KEY, SECRET, n))
        assert recv(ws) == {"event": "auth", "status": "FAILED", "chanId": 0, "code": 10114, "msg": "nonce: small"}
    ws = connect(sim)
    send(ws, auth_frame(KEY, SECRET, nonce + 1))
    assert recv(ws)["status"] == "OK"
    collect(first)  # the channel-0 snapshots
    send(first, auth_frame(OTHER_KEY, OTHER_SECRET, 5))
    assert recv(first)["msg"] == "auth: dup"
    assert sim.nonces() == {KEY: nonce + 1}
    assert [a.ok for a in sim.auth_attempts()] == [True, False, False, True, False]


def test_auth_refuses_unknown_key_and_bad_signature(sim: BitfinexSimulator, connect: Connect) -> None:
    """An unknown key gets 10100 apikey: invalid, a wrong signature 10100 apikey: digest invalid."""
    ws = connect(sim)
    send(ws, auth_frame("nobody", SECRET, 10))
    failed = {"event": "auth", "status": "FAILED", "chanId": 0, "code": 10100}
    assert recv(ws) == {**failed, "msg": "apikey: invalid"}
    send(ws, auth_frame(KEY, "wrong secret", 11))
    assert recv(ws) == {**failed, "msg": "apikey: digest invalid"}
    assert sim.nonces() == {} and sim.counters()["auth_failed"] == 2
    send(ws, auth_frame(KEY, SECRET, 11))
    assert recv(ws)["status"] == "OK"


def test_auth_channel_sequence_numbers(sim: BitfinexSimulator, connect: Connect) -> None:
    """With SEQ_ALL channel 0 carries PUB_SEQ, AUTH_SEQ; a request's n only the current AUTH_SEQ."""
    ws = connect(sim, SEQ_ALL)
    subscribe(ws, channel="ticker", symbol="tBTCUSD")  # the snapshot takes public seq 1
    send(ws, auth_frame(KEY, SECRET, 77))
    recv(ws)
    sim.step(sim.cadence_ticks("account") * 30)
    frames = [json.loads(t) for t in [*(text_of(ws) for _ in range(6)), *collect(ws)]]
    pub = [1]
    auth = []
    for f in frames:
        if f[0] == 0 and f[1] == "n":
            # Bitfinex: *-req notifications carry no PUB_SEQ and do not advance AUTH_SEQ.
            assert len(f) == 4 and f[2][1].endswith("-req")
            assert f[-1] == auth[-1]
        elif f[0] == 0:
            assert len(f) == 5
            pub.append(f[-2])
            auth.append(f[-1])
        else:
            pub.append(f[-1])
    assert pub == list(range(1, len(pub) + 1))
    assert auth == list(range(1, len(auth) + 1))
    assert any(f[1] == "n" for f in frames)


def test_auth_filter_limits_channel_zero(sim: BitfinexSimulator, connect: Connect) -> None:
    """filter ["wallet"] sends only wallet messages on channel 0."""
    ws = connect(sim)
    send(ws, auth_frame(KEY, SECRET, 99, filter=["wallet"]))
    assert recv(ws)["status"] == "OK"
    sim.step(sim.cadence_ticks("account") * 40)
    kinds = {tokens(t)[1] for t in collect(ws)}
    assert kinds == {"ws", "wu"}


def test_channel_zero_order_inputs_are_answered(sim: BitfinexSimulator, connect: Connect) -> None:
    """[0,"on",null,{..}] gets an on-req notification and on; oc of that id gets oc-req and oc."""
    ws = connect(sim)
    send(ws, auth_frame(KEY, SECRET, 1234))
    recv(ws)
    collect(ws)
    send(ws, [0, "on", None, {"type": "EXCHANGE LIMIT", "symbol": "tBTCUSD", "amount": "0.01", "price": "100",
                              "cid": 42}])
    n, on = recv(ws), recv(ws)
    assert n[1] == "n" and n[2][1] == "on-req" and n[2][6] == "SUCCESS"
    assert on[1] == "on" and on[2][2] == 42 and on[2][6] == 0.01 and on[2][16] == 100
    assert recv(ws)[1] == "wu"  # the USD wallet's available balance now excludes the order
    send(ws, [0, "oc", None, {"id": on[2][0]}])
    n, oc = recv(ws), recv(ws)
    assert n[2][1] == "oc-req" and oc[1] == "oc" and oc[2][13] == "CANCELED"
    assert recv(ws)[1] == "wu"
    send(ws, [0, "oc", None, {"id": on[2][0]}])
    assert recv(ws)[2][6] == "ERROR"


def test_heartbeats_on_channel_zero_and_public_channels() -> None:
    """Every subscribed channel and an authenticated channel 0 get hb every hb_interval."""
    with BitfinexSimulator(seed=8, tick_interval=0.01, hb_interval=0.05, accounts={KEY: SECRET}) as s:
        ws = websocket.create_connection(s.url, timeout=5)
        recv(ws)
        ack, _ = subscribe(ws, channel="trades", symbol="tEOSUSD")
        send(ws, auth_frame(KEY, SECRET, 5))
        seen: set[int] = set()
        while seen != {0, ack["chanId"]}:
            frame = json.loads(text_of(ws))
            if isinstance(frame, list) and frame[1] == "hb":
                assert frame == [frame[0], "hb"]
                seen.add(frame[0])
        ws.close()


def test_idle_socket_is_dropped_after_idle_timeout() -> None:
    """A socket that never subscribes nor sends is dropped after idle_timeout, without a close frame."""
    with BitfinexSimulator(seed=9, tick_interval=0.01, idle_timeout=0.1) as s:
        ws = websocket.create_connection(s.url, timeout=5)
        recv(ws)
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
            text_of(ws)
        assert s.wait_for(lambda: s.connection_count == 0, 5)


def test_unauth_send_raw_and_silenced_connection(sim: BitfinexSimulator, connect: Connect) -> None:
    """unauth stops channel 0; send_raw is queued in order with data; a silenced socket gets nothing."""
    ws = connect(sim)
    send(ws, auth_frame(KEY, SECRET, 3))
    assert recv(ws)["status"] == "OK"
    collect(ws)
    send(ws, {"event": "unauth"})
    assert recv(ws) == {"event": "unauth", "status": "OK", "chanId": 0}
    sim.step(sim.cadence_ticks("account") * 10)
    assert collect(ws) == []
    assert sim.send_raw('{"event":"info","code":99999}') == 1
    assert text_of(ws) == '{"event":"info","code":99999}'
    subscribe(ws, channel="book", symbol="tBTCUSD")
    sim.silence_connection(sim.connection_ids[0])
    sim.step(5)
    assert sim.wait_for(lambda: sim.queued_frames() == 0, 5)
    sim.call(lambda: asyncio.sleep(0.01))  # the writer has finished with the last frame
    sim.silence_connection(sim.connection_ids[0], silent=False)
    assert collect(ws) == []
