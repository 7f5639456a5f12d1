"""Loopback tests of the Bitfinex simulator's trading accounts, driven with websocket-client.

Every channel-0 frame a test receives is decoded with bpbfx.bitfinex.decode.decode_account and
must give a known event; amounts are read exactly (Decimal) from the frame text.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import websocket

from bpbfx.bitfinex.decode import decode_account
from bpbfx.events import UnknownEvent
from bpbfx.sim.bitfinex import DEFAULT_MARKETS, FLAG_POSTONLY, FLAG_REDUCE_ONLY, SEQ_ALL, BitfinexSimulator

KEY, SECRET = "trader-key", "trader-secret"
BALANCES = {
    "exchange": {"USD": "1000000", "BTC": "2", "ETH": "10"},
    "margin": {"USTF0": "5000"},
    "funding": {"USD": "3000"},
}
MARKETS = [m for m in DEFAULT_MARKETS if m.symbol in ("tBTCUSD", "tETHUSD", "tBTCF0:USTF0", "fUSD")]
_cids = itertools.count(1_000)
_nonces = itertools.count(int(time.time() * 1_000_000))


# -------------------------------------------------------------------------------------- helpers
class Socket:
    """An authenticated test socket that decodes and keeps every channel-0 frame."""

    def __init__(self, sim: BitfinexSimulator, *, flags: int = 0, dms: int | None = None, key: str = KEY) -> None:
        self.ws = websocket.create_connection(sim.url, timeout=5)
        self.frames: list[list[Any]] = []
        assert self._recv()["event"] == "info"
        if flags:
            self.send({"event": "conf", "flags": flags})
            assert self._recv()["status"] == "OK"
        nonce = next(_nonces)
        payload = f"AUTH{nonce}"
        sig = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha384).hexdigest()
        auth: dict[str, Any] = {"event": "auth", "apiKey": key, "authSig": sig, "authPayload": payload,
                                "authNonce": nonce}
        if dms is not None:
            auth["dms"] = dms
        self.send(auth)
        assert self._recv()["status"] == "OK"
        self.snapshots = {f[1]: f[2] for f in self.drain()}

    def _recv(self) -> Any:
        data = self.ws.recv()
        return json.loads(data, parse_float=Decimal)

    def send(self, obj: Any) -> None:
        self.ws.send(json.dumps(obj, default=str))

    def drain(self) -> list[list[Any]]:
        """Every frame queued so far (a ping's pong marks the end), each decoded."""
        cid = next(_cids)
        self.send({"event": "ping", "cid": cid})
        out: list[list[Any]] = []
        while True:
            frame = self._recv()
            if isinstance(frame, dict):
                if frame.get("event") == "pong" and frame.get("cid") == cid:
                    self.frames.extend(out)
                    return out
                continue
            assert frame[0] == 0, frame
            if frame[1] != "hb":
                event = decode_account(frame[1], frame[2])
                assert not isinstance(event, UnknownEvent), frame
            out.append(frame)

    def input(self, kind: str, body: Any) -> list[list[Any]]:
        """Send a channel-0 input and return what it caused."""
        self.send([0, kind, None, body])
        return self.drain()

    def close(self) -> None:
        self.ws.close(timeout=0.2)


def kinds(frames: list[list[Any]]) -> list[str]:
    return [f[1] for f in frames]


def notes(frames: list[list[Any]]) -> list[list[Any]]:
    """The notifications' payloads."""
    return [f[2] for f in frames if f[1] == "n"]


def of(frames: list[list[Any]], kind: str) -> list[Any]:
    return [f[2] for f in frames if f[1] == kind]


def order(symbol: str = "tBTCUSD", amount: str = "0.1", price: str | None = "100", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "EXCHANGE LIMIT", "symbol": symbol, "amount": amount, "cid": next(_cids)}
    if price is not None:
        body["price"] = price
    body.update(extra)
    return body


def asks(sim: BitfinexSimulator, symbol: str = "tBTCUSD") -> list[tuple[Decimal, Decimal]]:
    """The raw book's asks (price, amount), best first."""
    view = sim.book(symbol, "R0", 250)
    return [(Decimal(e[1]), -Decimal(e[2])) for e in view.asks]


@pytest.fixture(autouse=True)
def _no_simulator_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test also checks that the simulator logged no failure while handling frames."""
    caplog.set_level(logging.ERROR, logger="bpbfx.sim")
    yield
    assert [r.getMessage() for r in caplog.records if r.name.startswith("bpbfx.sim")] == []


@pytest.fixture
def sim(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(
        seed=21, tick_interval=None, accounts={KEY: SECRET}, account_balances={KEY: BALANCES}, markets=MARKETS
    )


@pytest.fixture
def connect() -> Iterator[Callable[..., Socket]]:
    sockets: list[Socket] = []

    def go(sim: BitfinexSimulator, **kw: Any) -> Socket:
        s = Socket(sim, **kw)
        sockets.append(s)
        return s

    yield go
    for s in sockets:
        s.close()


Connect = Callable[..., Socket]


# -------------------------------------------------------------------------------------- new orders
def test_trading_account_starts_with_its_wallets_and_nothing_else(sim: BitfinexSimulator, connect: Connect) -> None:
    """A trading account's snapshots are its balances, no orders, positions or offers; no invented activity."""
    s = connect(sim)
    assert s.snapshots["os"] == [] and s.snapshots["ps"] == [] and s.snapshots["fos"] == []
    ws = {(w[0], w[1]): w[2] for w in s.snapshots["ws"]}
    assert ws[("exchange", "USD")] == 1000000 and ws[("exchange", "BTC")] == 2
    sim.step(sim.cadence_ticks("account") * 20)
    assert [f for f in s.drain() if f[1] != "hb"] == []


def test_limit_order_far_from_the_market_is_confirmed_and_rests(sim: BitfinexSimulator, connect: Connect) -> None:
    """on -> n on-req SUCCESS with the exchange's text, on (32 fields, ACTIVE), wu of the held wallet."""
    s = connect(sim)
    body = order(amount="0.1", price="100")
    frames = s.input("on", body)
    assert kinds(frames) == ["n", "on", "wu"]
    n = notes(frames)[0]
    assert n[1] == "on-req" and n[6] == "SUCCESS" and n[7] == "Submitting exchange limit buy order for 0.1 BTC."
    row = of(frames, "on")[0]
    assert len(row) == 32 and row[2] == body["cid"] and row[3] == "tBTCUSD" and row[13] == "ACTIVE"
    assert row[6] == row[7] == Decimal("0.1") and row[16] == 100 and row[28] == "API>BFX"
    wu = of(frames, "wu")[0]
    assert wu[:3] == ["exchange", "USD", 1000000] and wu[4] == Decimal("999989.98")  # 0.1 x 100 + 0.2 % fee held
    [held] = sim.orders(KEY)
    assert held.id == row[0] and held.status == "ACTIVE" and held.amount == Decimal("0.1")
    assert sim.available_balance(KEY, "exchange", "USD") == Decimal("999989.98")


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (order(amount="30", price="100000"), "Invalid order: not enough exchange balance for 30.0 BTCUSD at 100000.0"),
        (order(amount="-3", price="900000"), "Invalid order: not enough exchange balance for 3.0 BTCUSD at 900000.0"),
        (order(amount="0.00001"), "Invalid order: minimum size for BTC/USD is 0.0001"),
        (order(symbol="tNOPE"), "symbol: invalid"),
        (order(symbol="fUSD"), "symbol: invalid"),
        (order(amount="0"), "amount: invalid"),
        (order(amount="0.123456789"), "amount: invalid"),
        (order(type="EXCHANGE MOON"), "type: invalid"),
        (order(price=None), "price: invalid"),
        (order(price="-5"), "price: invalid"),
        (order(flags="64"), "flags: invalid"),
    ],
)
def test_bad_new_orders_get_an_error_notification_and_no_order(
    sim: BitfinexSimulator, connect: Connect, body: dict[str, Any], text: str
) -> None:
    """Insufficient balance, min size, unknown symbol, zero amount, bad type/price/flags: n ERROR, no order."""
    s = connect(sim)
    frames = s.input("on", body)
    assert kinds(frames) == ["n"]
    n = notes(frames)[0]
    assert (n[1], n[6], n[7]) == ("on-req", "ERROR", text)
    assert n[4][0] is None and n[4][2] == body["cid"]  # the request echoed: no id, the client's cid
    assert sim.orders(KEY) == []


def test_price_is_truncated_to_five_significant_digits(sim: BitfinexSimulator, connect: Connect) -> None:
    """Bitfinex truncates a price with more than 5 significant digits."""
    s = connect(sim)
    frames = s.input("on", order(price="123.456789"))
    assert of(frames, "on")[0][16] == Decimal("123.45")


def test_post_only_that_would_take_is_cancelled(sim: BitfinexSimulator, connect: Connect) -> None:
    """POSTONLY (4096) crossing the book: n SUCCESS carrying POSTONLY CANCELED, then oc; nothing rests."""
    s = connect(sim)
    best_ask = asks(sim)[0][0]
    frames = s.input("on", order(amount="0.01", price=str(best_ask), flags=FLAG_POSTONLY))
    assert kinds(frames) == ["n", "oc"]
    n = notes(frames)[0]
    assert n[6] == "SUCCESS" and n[4][13] == "POSTONLY CANCELED"
    assert of(frames, "oc")[0][13] == "POSTONLY CANCELED" and sim.orders(KEY) == []


def test_reduce_only_without_a_position_is_cancelled(sim: BitfinexSimulator, connect: Connect) -> None:
    """REDUCE_ONLY (1024) with no position: accepted, then oc RSN_POS_NOTFOUND."""
    s = connect(sim)
    frames = s.input("on", order(symbol="tBTCF0:USTF0", type="LIMIT", amount="-0.01", price="200000",
                                 flags=FLAG_REDUCE_ONLY))
    assert kinds(frames) == ["n", "oc"] and of(frames, "oc")[0][13] == "RSN_POS_NOTFOUND"


def test_reduce_only_checks_the_position_of_a_derivative(sim: BitfinexSimulator, connect: Connect) -> None:
    """A filled LIMIT order on a perpetual opens a position (pn); reduce-only that grows or flips it is cancelled."""
    s = connect(sim)
    frames = s.input("on", order(symbol="tBTCF0:USTF0", type="MARKET", amount="0.01", price=None))
    [pn] = of(frames, "pn")
    assert pn[0] == "tBTCF0:USTF0" and pn[1] == "ACTIVE" and pn[2] == Decimal("0.01")
    [pos] = sim.positions(KEY)
    assert pos.amount == Decimal("0.01")
    perp = {"symbol": "tBTCF0:USTF0", "flags": FLAG_REDUCE_ONLY}
    grow = s.input("on", order(type="LIMIT", amount="0.01", price="1000", **perp))
    assert of(grow, "oc")[0][13] == "RSN_POS_REDUCE_INCR"
    flip = s.input("on", order(type="MARKET", amount="-0.02", price=None, **perp))
    assert of(flip, "oc")[0][13] == "RSN_POS_REDUCE_FLIP"
    close = s.input("on", order(type="MARKET", amount="-0.01", price=None, **perp))
    assert of(close, "pc")[0][1] == "CLOSED" and of(close, "oc")[0][13].startswith("EXECUTED @ ")


def test_synthetic_account_activity_decodes(connect: Connect) -> None:
    """An account without balances gets invented activity; every frame of it decodes and numbers are exact."""
    with BitfinexSimulator(seed=8, tick_interval=None, accounts={KEY: SECRET}, markets=MARKETS) as sim:
        s = connect(sim)
        assert len(s.snapshots["os"]) == 2 and len(s.snapshots["ps"]) == 1 and len(s.snapshots["fos"]) == 1
        sim.step(sim.cadence_ticks("account") * 60)
        frames = s.drain()  # each frame decoded by decode_account inside drain()
        assert {"n", "on", "oc", "te", "tu", "wu", "bu"} <= set(kinds(frames))
        order_id = of(s.input("on", order(amount="0.001", price="100")), "on")[0][0]
        sim.step(sim.cadence_ticks("account") * 60)
        s.drain()
        assert order_id in [o.id for o in sim.orders(KEY)]  # invented activity never touches API orders
        s.close()


HOSTILE = [None, "x", 7, True, [], [1, 2], {"id": True}, {"id": "12"}, {"amount": "1e40", "price": "1e40"},
           {"symbol": "tBTCUSD", "type": "EXCHANGE LIMIT", "amount": "1e30", "price": "1"},
           {"symbol": "tBTCUSD", "type": "EXCHANGE LIMIT", "amount": "0.1", "price": "1e40"},
           {"symbol": "tBTCUSD", "type": "EXCHANGE LIMIT", "amount": "NaN", "price": "Infinity"},
           {"cid": [1], "cid_date": 5, "gid": {}, "all": "1"}, [["on"]], [["nope", {}]], [[1, 2, 3]]]


@pytest.mark.parametrize("kind", ["on", "ou", "oc", "oc_multi", "ox_multi", "calc", "fon", "foc"])
def test_malformed_inputs_never_break_the_account(sim: BitfinexSimulator, connect: Connect, kind: str) -> None:
    """Garbage bodies for every input kind get at most a refusal that decodes; nothing is created or logged."""
    s = connect(sim)
    for body in HOSTILE:
        for n in notes(s.input(kind, body)):
            assert n[6] == "ERROR", (kind, body, n)
    assert sim.orders(KEY) == [] and sim.offers(KEY) == []
    assert notes(s.input("on", order()))[0][6] == "SUCCESS"  # still trading (and nothing logged)


# -------------------------------------------------------------------------------------- executions
def test_marketable_limit_order_fills_level_by_level_then_rests(sim: BitfinexSimulator, connect: Connect) -> None:
    """A buy through two ask levels: te/tu per fill, ou PARTIALLY FILLED, wallets move exactly, the rest rests."""
    s = connect(sim)
    book = asks(sim)
    prices = sorted({p for p, _ in book})[:2]
    taken = [(p, a) for p, a in book if p in prices]
    filled = sum(a for _, a in taken)
    sim.set_balance(KEY, "exchange", "USD", "10000000")
    assert kinds(s.drain()) == ["wu", "bu"]
    usd_before, btc_before = sim.wallets(KEY)[("exchange", "USD")], sim.wallets(KEY)[("exchange", "BTC")]
    frames = s.input("on", order(amount=str(filled + Decimal("0.5")), price=str(prices[1])))
    assert kinds(frames)[:2] == ["n", "on"]
    te, tu = of(frames, "te"), of(frames, "tu")
    assert [(t[5], t[4]) for t in te] == taken
    assert [t[0] for t in tu] == [t[0] for t in te] and all(t[8] == -1 for t in te)  # taker
    eight = Decimal("1e-8")
    fees = [-t[9] for t in tu]
    assert fees == [(a * Decimal("0.002")).quantize(eight) for _, a in taken]  # 0.2 % taker, in BTC
    last = of(frames, "ou")[-1]
    avg = sum(p * a for p, a in taken) / filled
    assert last[6] == Decimal("0.5") and abs(last[17] - avg) < Decimal("0.01")  # PRICE_AVG, 8 digits
    assert last[13].startswith("PARTIALLY FILLED @ ") and last[13].endswith(f"({filled.normalize():f})")
    wallets = sim.wallets(KEY)
    assert wallets[("exchange", "BTC")] == btc_before + filled - sum(fees)
    assert wallets[("exchange", "USD")] == usd_before - sum((p * a).quantize(eight) for p, a in taken)
    assert of(frames, "bu") and [o.amount for o in sim.orders(KEY)] == [Decimal("0.5")]
    assert asks(sim)[0][0] > prices[1]  # the two levels are gone from the book


def test_market_order_executes_fully(sim: BitfinexSimulator, connect: Connect) -> None:
    """EXCHANGE MARKET sell: te, oc EXECUTED @ price(amount), wu of both currencies, tu with the fee in USD."""
    s = connect(sim)
    frames = s.input("on", order(type="EXCHANGE MARKET", amount="-0.001", price=None))
    oc = of(frames, "oc")[0]
    price = of(frames, "te")[0][5]
    assert oc[13] == f"EXECUTED @ {price}.0(-0.001)"  # an integral price keeps one decimal
    assert oc[6] == 0 and of(frames, "tu")[0][10] == "USD"
    assert {(w[0], w[1]) for w in of(frames, "wu")} == {("exchange", "BTC"), ("exchange", "USD")}
    assert sim.orders(KEY) == []


def test_account_trades_are_public_trades_with_the_same_id(sim: BitfinexSimulator, connect: Connect) -> None:
    """An execution shows on the trades channel with the next tick: same trade id, taker's side."""
    public = websocket.create_connection(sim.url, timeout=5)
    public.recv()
    public.send(json.dumps({"event": "subscribe", "channel": "trades", "symbol": "tBTCUSD"}))
    chan = json.loads(public.recv())["chanId"]
    public.recv()  # the snapshot
    s = connect(sim)
    [te] = of(s.input("on", order(type="EXCHANGE MARKET", amount="-0.001", price=None)), "te")
    sim.step()
    frame = json.loads(public.recv(), parse_float=Decimal)
    assert frame[0] == chan and frame[1] == "te"
    assert (frame[2][0], frame[2][2], frame[2][3]) == (te[0], Decimal("-0.001"), te[5])
    public.close()


def test_fill_order_crosses_a_resting_order_as_maker(sim: BitfinexSimulator, connect: Connect) -> None:
    """fill_order(): part then the rest of a resting order executes at its price, maker fee, EXECUTED status."""
    s = connect(sim)
    oid = of(s.input("on", order(amount="0.1", price="50000")), "on")[0][0]
    after = sim.fill_order(oid, "0.04")
    assert after.status == "PARTIALLY FILLED @ 50000.0(0.04)" and after.amount == Decimal("0.06")
    frames = s.drain()
    te = of(frames, "te")[0]
    assert te[4] == Decimal("0.04") and te[5] == 50000 and te[8] == 1
    assert of(frames, "tu")[0][9] == Decimal("-0.00004")  # maker 0.1 % of 0.04 BTC
    sim.fill_order(oid)
    frames = s.drain()
    assert of(frames, "oc")[0][13] == "EXECUTED @ 50000.0(0.1)" and sim.orders(KEY) == []


def test_resting_order_fills_when_the_moving_book_crosses_it(connect: Connect) -> None:
    """A bid placed just under the best ask fills (te maker, ou/oc) as the market moves into it."""
    with BitfinexSimulator(
        seed=5, tick_interval=None, accounts={KEY: SECRET}, account_balances={KEY: BALANCES}, markets=MARKETS
    ) as sim:
        s = connect(sim)
        best_ask, _ = asks(sim)[0]
        price = best_ask - Decimal(10)  # one tick (10 USD on this market) inside the spread
        s.input("on", order(amount="0.5", price=str(price)))
        for _ in range(400):
            sim.step()
            if not sim.orders(KEY) or sim.orders(KEY)[0].amount < Decimal("0.5"):
                break
        frames = s.drain()
        te = of(frames, "te")
        assert te and all(t[5] == price and t[8] == 1 for t in te)
        assert {"ou", "oc"} & set(kinds(frames))
        s.close()


# -------------------------------------------------------------------------------------- updates and cancels
def test_update_price_amount_and_delta(sim: BitfinexSimulator, connect: Connect) -> None:
    """ou changes price, amount and delta: n ou-req SUCCESS and ou; an unknown id gets ERROR Order not found."""
    s = connect(sim)
    oid = of(s.input("on", order(amount="0.1", price="100")), "on")[0][0]
    frames = s.input("ou", {"id": oid, "price": "101", "amount": "0.2"})
    n = notes(frames)[0]
    assert (n[1], n[6]) == ("ou-req", "SUCCESS")
    assert n[7] == "Submitting update to exchange limit buy order for 0.2 BTC."
    row = of(frames, "ou")[0]
    assert row[16] == 101 and row[6] == Decimal("0.2")
    assert of(s.input("ou", {"id": oid, "delta": "0.05"}), "ou")[0][6] == Decimal("0.25")
    frames = s.input("ou", {"id": 1, "price": "5"})
    assert notes(frames)[0][6:] == ["ERROR", "Order not found."]


def test_cancel_by_id_and_by_cid_and_date(sim: BitfinexSimulator, connect: Connect) -> None:
    """oc by id and by cid + cid_date: n oc-req SUCCESS, oc CANCELED; a second cancel gets ERROR."""
    s = connect(sim)
    a = of(s.input("on", order()), "on")[0]
    b = of(s.input("on", order()), "on")[0]
    frames = s.input("oc", {"id": a[0]})
    assert notes(frames)[0][7] == f"Submitted for cancellation; waiting for confirmation (ID: {a[0]})."
    assert of(frames, "oc")[0][13] == "CANCELED"
    date = time.strftime("%Y-%m-%d", time.gmtime(b[4] / 1000))
    frames = s.input("oc", {"cid": b[2], "cid_date": date})
    assert of(frames, "oc")[0][0] == b[0] and sim.orders(KEY) == []
    refused = notes(s.input("oc", {"id": a[0]}))[0]
    assert refused[6:] == ["ERROR", "Order not found."] and refused[4][0] == a[0]  # the id asked for


def test_cancel_after_a_partial_fill_says_so(sim: BitfinexSimulator, connect: Connect) -> None:
    """Cancelling a partly filled order gives CANCELED was: PARTIALLY FILLED @ P(A)."""
    s = connect(sim)
    oid = of(s.input("on", order(amount="0.1", price="50000")), "on")[0][0]
    sim.fill_order(oid, "0.03")
    frames = s.input("oc", {"id": oid})
    assert of(frames, "oc")[0][13] == "CANCELED was: PARTIALLY FILLED @ 50000.0(0.03)"


def test_oc_multi_by_gid_ids_and_all(sim: BitfinexSimulator, connect: Connect) -> None:
    """oc_multi cancels by gid, by ids and all: one n oc_multi-req then an oc per order."""
    s = connect(sim)
    ids = [of(s.input("on", order(gid=7 if i < 2 else None)), "on")[0][0] for i in range(4)]
    frames = s.input("oc_multi", {"gid": [7]})
    assert notes(frames)[0][1] == "oc_multi-req" and sorted(o[0] for o in of(frames, "oc")) == ids[:2]
    frames = s.input("oc_multi", {"id": [ids[2]]})
    assert [o[0] for o in of(frames, "oc")] == [ids[2]]
    frames = s.input("oc_multi", {"all": 1})
    assert [o[0] for o in of(frames, "oc")] == [ids[3]] and sim.orders(KEY) == []
    assert notes(s.input("oc_multi", {"all": 1}))[0][6] == "ERROR"


def test_ox_multi_runs_each_operation_and_refuses_more_than_75(sim: BitfinexSimulator, connect: Connect) -> None:
    """ox_multi: each op answered as if alone; 76 operations get one ERROR and do nothing."""
    s = connect(sim)
    frames = s.input("ox_multi", [["on", order()], ["on", order(price="101")], ["oc_multi", {"all": 1}]])
    assert [n[1] for n in notes(frames)] == ["on-req", "on-req", "oc_multi-req"]
    assert len(of(frames, "oc")) == 2 and sim.orders(KEY) == []
    frames = s.input("ox_multi", [["on", order()]] * 76)
    assert [(n[1], n[6]) for n in notes(frames)] == [("ox_multi-req", "ERROR")] and sim.orders(KEY) == []
    frames = s.input("ox_multi", [["on", order()]] * 75)
    assert len(sim.orders(KEY)) == 75


def test_calc_answers_with_margin_funding_position_and_wallet_updates(sim: BitfinexSimulator, connect: Connect) -> None:
    """calc triggers miu (base, sym), fiu and wu for the requested keys; no notification."""
    s = connect(sim)
    frames = s.input("calc", [["margin_base"], ["margin_sym_tBTCUSD"], ["funding_sym_fUSD"], ["wallet_exchange_USD"]])
    assert kinds(frames) == ["miu", "miu", "fiu", "wu"]
    assert frames[0][2][0] == "base" and frames[1][2][:2] == ["sym", "tBTCUSD"]


def test_funding_offer_new_and_cancel(sim: BitfinexSimulator, connect: Connect) -> None:
    """fon -> n fon-req SUCCESS + fon; foc -> n foc-req + foc CANCELED; bad period and unknown id -> ERROR."""
    s = connect(sim)
    frames = s.input("fon", {"type": "LIMIT", "symbol": "fUSD", "amount": "150", "rate": "0.0002", "period": 2})
    n = notes(frames)[0]
    assert (n[1], n[6]) == ("fon-req", "SUCCESS")
    assert n[7] == "Submitting funding offer of 150.0 USD at 0.0002 for 2 days."
    offer = of(frames, "fon")[0]
    assert offer[1] == "fUSD" and offer[4] == 150 and offer[14] == Decimal("0.0002") and offer[15] == 2
    assert [o.id for o in sim.offers(KEY)] == [offer[0]]
    frames = s.input("foc", {"id": offer[0]})
    assert notes(frames)[0][1] == "foc-req" and of(frames, "foc")[0][10] == "CANCELED"
    bad = s.input("fon", {"type": "LIMIT", "symbol": "fUSD", "amount": "150", "rate": "0.0002", "period": 1})
    assert notes(bad)[0][6:] == ["ERROR", "period: invalid"]
    assert notes(s.input("foc", {"id": offer[0]}))[0][6] == "ERROR"


# -------------------------------------------------------------------------------------- connections
def test_dms_4_cancels_the_accounts_orders_when_that_socket_closes(sim: BitfinexSimulator, connect: Connect) -> None:
    """A socket authenticated with dms 4 closing cancels every order of the account; others are told."""
    watcher = connect(sim)
    trader = connect(sim, dms=4)
    trader.input("on", order())
    watcher.input("on", order(price="99"))
    trader.close()
    assert sim.wait_for(lambda: sim.orders(KEY) == [], 5)
    frames = watcher.drain()
    assert [o[13] for o in of(frames, "oc")] == ["CANCELED", "CANCELED"]
    assert sim.counters()["dms_cancels"] == 2


def test_orders_survive_a_reconnect_without_dms_and_appear_in_os(sim: BitfinexSimulator, connect: Connect) -> None:
    """Without dms an order outlives its socket; the next auth's os snapshot lists it."""
    s = connect(sim)
    row = of(s.input("on", order()), "on")[0]
    s.close()
    assert sim.wait_for(lambda: sim.connection_count == 0, 5)
    again = connect(sim)
    assert [(o[0], o[2], o[13]) for o in again.snapshots["os"]] == [(row[0], row[2], "ACTIVE")]


def test_drop_before_notification_leaves_the_order_and_no_reply(sim: BitfinexSimulator, connect: Connect) -> None:
    """The socket drops after the order is accepted and before n/on; the order is in os afterwards."""
    s = connect(sim)
    sim.drop_before_notification(api_key=KEY)
    body = order()
    s.send([0, "on", None, body])
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        while True:
            frame = s._recv()
            assert not (isinstance(frame, list) and frame[1] in ("n", "on")), frame
    [held] = sim.orders(KEY)
    assert held.cid == body["cid"] and sim.counters()["dropped_before_notification"] == 1
    again = connect(sim)
    assert [o[2] for o in again.snapshots["os"]] == [body["cid"]]
    assert kinds(again.input("on", order())) == ["n", "on", "wu"]  # armed once only


def test_reject_next_orders_with_a_given_text(sim: BitfinexSimulator, connect: Connect) -> None:
    """reject_next_orders(): the next order gets n with the given status and text; the one after is accepted."""
    s = connect(sim)
    sim.reject_next_orders("Invalid order: exchange is on fire", status="FAILURE")
    n = notes(s.input("on", order()))[0]
    assert n[6:] == ["FAILURE", "Invalid order: exchange is on fire"] and sim.orders(KEY) == []
    assert notes(s.input("on", order()))[0][6] == "SUCCESS"


def test_delayed_notification_arrives_after_the_order_frame(sim: BitfinexSimulator, connect: Connect) -> None:
    """delay_notifications(): on comes at once, its n some time later."""
    s = connect(sim)
    sim.delay_notifications(0.3, api_key=KEY)
    start = time.monotonic()
    assert kinds(s.input("on", order())) == ["on", "wu"]
    while not notes(s.frames):
        s.drain()
    assert time.monotonic() - start >= 0.25 and notes(s.frames)[0][1] == "on-req"


def test_input_rate_limit_answers_ratelimit_error(connect: Connect) -> None:
    """Past order_rate_limit inputs in the window get n ERROR ratelimit: error and no order."""
    with BitfinexSimulator(
        seed=3, tick_interval=None, accounts={KEY: SECRET}, account_balances={KEY: BALANCES}, order_rate_limit=(3, 60),
        markets=MARKETS,
    ) as sim:
        s = connect(sim)
        for _ in range(3):
            assert notes(s.input("on", order()))[0][6] == "SUCCESS"
        n = notes(s.input("on", order()))[0]
        assert n[6:] == ["ERROR", "ratelimit: error"] and len(sim.orders(KEY)) == 3
        assert sim.counters()["rate_limited"] == 1
        assert kinds(s.input("calc", [["margin_base"]])) == ["miu"]  # calc is not an order input
        s.close()


# -------------------------------------------------------------------------------------- sequence numbers
def test_seq_all_request_notifications_and_other_notifications(sim: BitfinexSimulator, connect: Connect) -> None:
    """on-req n carries only the current AUTH_SEQ; send_notification's n carries PUB_SEQ and AUTH_SEQ."""
    s = connect(sim, flags=SEQ_ALL)
    frames = s.input("on", order())
    n, on, wu = frames
    assert len(n) == 4 and len(on) == 5 and len(wu) == 5
    assert n[-1] == s.frames[5][-1]  # the AUTH_SEQ of the last snapshot: not advanced
    assert (on[-2], on[-1]) == (s.frames[5][-2] + 1, n[-1] + 1)
    assert sim.send_notification("ucm-notify-ui", "Maintenance soon", api_key=KEY, status="INFO") == 1
    [note] = s.drain()
    assert note[2][1] == "ucm-notify-ui" and note[2][7] == "Maintenance soon"
    assert len(note) == 5 and note[-2] == wu[-2] + 1 and note[-1] == wu[-1]
    after = s.input("oc", {"id": on[2][0]})
    assert after[1][-2] == note[-2] + 1 and after[1][-1] == note[-1] + 1  # oc follows both counters


# -------------------------------------------------------------------------------------- auth and idle
def test_auth_takes_the_nonce_from_authnonce_like_the_node_client(sim: BitfinexSimulator) -> None:
    """authPayload AUTH<nonce><nonce> with authNonce <nonce> authenticates; a payload not starting AUTH is refused."""
    ws = websocket.create_connection(sim.url, timeout=5)
    ws.recv()
    nonce = next(_nonces)
    for payload, status in ((f"AUTH{nonce}{nonce}", "OK"), (f"XAUTH{nonce + 1}", "FAILED")):
        sig = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha384).hexdigest()
        if status == "FAILED":
            ws.close()
            ws = websocket.create_connection(sim.url, timeout=5)
            ws.recv()
        ws.send(json.dumps({"event": "auth", "apiKey": KEY, "authSig": sig, "authPayload": payload,
                            "authNonce": nonce if status == "OK" else nonce + 1}))
        reply = json.loads(ws.recv())
        assert reply["status"] == status, reply
    assert reply["code"] == 10111
    assert sim.nonces() == {KEY: nonce}
    ws.close()


def test_a_socket_that_only_pings_is_closed_after_the_idle_timeout() -> None:
    """No subscription and no auth: closed after idle_timeout even while it pings (default 60 s, hb 15 s)."""
    defaults = BitfinexSimulator(markets=MARKETS)
    assert defaults.idle_timeout == 60.0 and defaults.hb_interval == 15.0
    with BitfinexSimulator(seed=9, tick_interval=0.01, idle_timeout=0.3, markets=MARKETS) as sim:
        ws = websocket.create_connection(sim.url, timeout=5)
        ws.recv()
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
            for i in range(100):
                ws.send(json.dumps({"event": "ping", "cid": i}))
                ws.recv()
                time.sleep(0.02)
        assert sim.wait_for(lambda: sim.connection_count == 0, 5)
