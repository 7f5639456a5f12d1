"""The Bitfinex simulator's REST endpoints, driven with urllib and raw WebSocket sockets: the
account's order and trade history (signature and nonce checks, exact row shapes, orders closed
while no socket was there), public trades and the pair list, and the refusal control.

Shapes: docs.bitfinex.com rest-auth (signature over ``/api`` + path + nonce + body),
rest-auth-orders-history, rest-auth-trades, rest-public-trades, rest-public-conf; errors are HTTP
500 with ``["error", CODE, TEXT]`` (bitfinex-api-node #116, bitfinex-api-py #120).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from bpbfx.sim.bitfinex import BitfinexSimulator
from tests.sim.test_bitfinex_orders import BALANCES, KEY, MARKETS, SECRET, Connect, Socket, of, order
from tests.sim.test_bitfinex_orders import connect as connect  # the fixture: raw authenticated sockets


@pytest.fixture
def sim(bitfinex_sim: Callable[..., BitfinexSimulator]) -> BitfinexSimulator:
    return bitfinex_sim(
        seed=23, tick_interval=None, accounts={KEY: SECRET}, account_balances={KEY: BALANCES}, markets=MARKETS
    )


def call(
    sim: BitfinexSimulator, path: str, body: Any = None, *, nonce: int | None = None, secret: str = SECRET,
    key: str = KEY, method: str = "POST",
) -> tuple[int, Any, str]:
    """One request; an authenticated POST is signed as the docs say.  ``(status, json, text)``."""
    data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
    headers = {"Content-Type": "application/json"}
    if method == "POST":
        nonce = nonce if nonce is not None else sim.nonces().get(key, 0) + 1000
        payload = f"/api{path}{nonce}".encode() + (data or b"")
        headers.update({"bfx-nonce": str(nonce), "bfx-apikey": key,
                        "bfx-signature": hmac.new(secret.encode(), payload, hashlib.sha384).hexdigest()})
    req = urllib.request.Request(sim.http_url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            text = resp.read().decode()
            return resp.status, json.loads(text, parse_float=Decimal), text
    except urllib.error.HTTPError as exc:
        text = exc.read().decode()
        return exc.code, json.loads(text) if text else None, text


def test_order_and_trade_history_rows(sim: BitfinexSimulator, connect: Connect) -> None:
    """Closed orders come back newest first as 32-field order rows, fills as 12-field trade rows
    with their fee, in the wire text of the WebSocket; limit, symbol, id and sort filter them."""
    s = connect(sim)
    first = order(amount="0.1", price="100")
    second = order(amount="0.2", price="100")
    placed = [of(s.input("on", body), "on")[0] for body in (first, second)]
    s.input("oc", {"id": placed[0][0]})
    sim.fill_order(placed[1][0])
    s.drain()
    status, rows, _ = call(sim, "/v2/auth/r/orders/tBTCUSD/hist", {"limit": 10})
    assert status == 200 and [r[0] for r in rows] == [placed[1][0], placed[0][0]]
    assert all(len(r) == 32 for r in rows) and rows[0][13] == "EXECUTED @ 100.0(0.2)" and rows[1][13] == "CANCELED"
    assert rows[0][2] == second["cid"] and rows[0][6] == 0 and rows[0][7] == Decimal("0.2")
    assert call(sim, "/v2/auth/r/orders/hist", {"id": [placed[0][0]]})[1] == [rows[1]]
    assert call(sim, "/v2/auth/r/orders/tBTCUSD/hist", {"limit": 1})[1] == [rows[0]]
    assert call(sim, "/v2/auth/r/orders/tETHUSD/hist")[1] == []
    assert call(sim, "/v2/auth/r/orders/hist", {"start": rows[0][5] + 1})[1] == []
    status, trades, _ = call(sim, "/v2/auth/r/trades/tBTCUSD/hist", {"sort": 1})
    assert status == 200 and len(trades) == 1 and len(trades[0]) == 12
    _tid, symbol, _mts, oid, amount, price, otype, oprice, maker, fee, fee_ccy, cid = trades[0]
    assert (symbol, oid, amount, price, otype, oprice, maker, cid) == (
        "tBTCUSD", placed[1][0], Decimal("0.2"), 100, "EXCHANGE LIMIT", 100, 1, second["cid"]
    )
    assert fee == Decimal("-0.0002") and fee_ccy == "BTC"
    assert call(sim, "/v2/auth/r/trades/hist")[1] == trades
    assert of(s.frames, "tu") == trades  # the same row the socket got


def test_orders_closed_while_no_socket_is_there_are_in_the_history(sim: BitfinexSimulator, connect: Connect) -> None:
    """With dms=4 a socket's close cancels its orders: nobody receives the oc, the history has it."""
    s = connect(sim, dms=4)
    row = of(s.input("on", order()), "on")[0]
    s.close()
    assert sim.wait_for(lambda: sim.orders(KEY) == [], 5)
    rows = call(sim, "/v2/auth/r/orders/hist")[1]
    assert [(r[0], r[13]) for r in rows] == [(row[0], "CANCELED")]


def test_authentication_refusals_and_shared_nonces(sim: BitfinexSimulator, connect: Connect) -> None:
    """Unknown key, bad signature, a nonce not above the last one of the key (WebSocket auth
    included) are refused with HTTP 500 and Bitfinex's error arrays; nothing is answered then."""
    connect(sim)
    ws_nonce = sim.nonces()[KEY]
    path = "/v2/auth/r/orders/hist"
    assert call(sim, path, key="nobody")[:2] == (500, ["error", 10100, "apikey: invalid"])
    assert call(sim, path, secret="wrong")[:2] == (500, ["error", 10100, "apikey: digest invalid"])
    assert call(sim, path, nonce=ws_nonce)[:2] == (500, ["error", 10114, "nonce: small"])
    assert call(sim, path, nonce=ws_nonce + 1)[:2] == (200, [])
    assert call(sim, path, nonce=ws_nonce + 1)[:2] == (500, ["error", 10114, "nonce: small"])
    assert sim.nonces()[KEY] == ws_nonce + 1
    counters = sim.counters()
    assert counters["rest_auth_ok"] == 1 and counters["rest_auth_failed"] == 4
    with pytest.raises(AssertionError):
        Socket(sim)  # a WebSocket auth must now use a nonce above the REST one too...
    assert sim.auth_attempts()[-1].code == 10114  # ...and the test socket's counter is below it


def test_bad_parameters_and_methods(sim: BitfinexSimulator) -> None:
    """An out-of-range limit, an unknown symbol, a bad id list: 10020; GET on an auth path too."""
    assert call(sim, "/v2/auth/r/orders/hist", {"limit": 2501})[:2] == (500, ["error", 10020, "limit: invalid"])
    assert call(sim, "/v2/auth/r/trades/tNOPE/hist")[1] == ["error", 10020, "symbol: invalid"]
    assert call(sim, "/v2/auth/r/orders/hist", {"id": "7"})[1] == ["error", 10020, "id: invalid"]
    assert call(sim, "/v2/auth/r/orders/hist", method="GET")[1] == ["error", 10020, "method: invalid"]
    assert call(sim, "/v2/auth/r/nothing/hist")[0] == 404


def test_public_trades_come_from_the_trades_tape(sim: BitfinexSimulator, connect: Connect) -> None:
    """GET /v2/trades/{symbol}/hist: [ID, MTS, AMOUNT, PRICE] rows of the tape the trades channel
    publishes, newest first by default, oldest first with sort=1, bounded by limit and start/end."""
    status, rows, _ = call(sim, "/v2/trades/tBTCUSD/hist?limit=30", method="GET")
    assert status == 200 and len(rows) == 30 and all(len(r) == 4 for r in rows)
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)
    ws = connect(sim)
    ws.send({"event": "subscribe", "channel": "trades", "symbol": "tBTCUSD"})
    snapshot = None
    while snapshot is None:
        frame = json.loads(ws.ws.recv(), parse_float=Decimal)
        if isinstance(frame, list) and frame[1] != "hb" and isinstance(frame[1], list):
            snapshot = frame[1]
    assert snapshot == rows
    oldest = call(sim, "/v2/trades/tBTCUSD/hist?limit=5&sort=1", method="GET")[1]
    assert [r[1] for r in oldest] == sorted(r[1] for r in oldest) and oldest[0][1] <= rows[-1][1]
    start = rows[10][1]
    assert all(r[1] >= start for r in call(sim, f"/v2/trades/tBTCUSD/hist?start={start}", method="GET")[1])
    too_many = call(sim, "/v2/trades/tBTCUSD/hist?limit=10001", method="GET")
    assert too_many[:2] == (500, ["error", 10020, "limit: invalid"])


def test_public_trades_between_start_and_end_both_included(sim: BitfinexSimulator) -> None:
    """start and end select the trades whose MTS is within them, both ends included (trades
    sharing the end's millisecond too), oldest first with sort=1: what a trade backfill asks."""
    sim.step(40)
    tape = call(sim, "/v2/trades/tBTCUSD/hist?limit=10000&sort=1", method="GET")[1]
    assert len(tape) > 40
    start, end = tape[5][1], tape[-10][1]
    window = call(sim, f"/v2/trades/tBTCUSD/hist?start={start}&end={end}&limit=10000&sort=1", method="GET")[1]
    assert window == [r for r in tape if start <= r[1] <= end]
    assert window[0][1] == start and window[-1][1] == end
    first = call(sim, f"/v2/trades/tBTCUSD/hist?start={start}&end={end}&limit=3&sort=1", method="GET")[1]
    assert first == window[:3]


def test_pair_list(sim: BitfinexSimulator) -> None:
    """GET /v2/conf/pub:list:pair:exchange lists the trading pairs without their prefix."""
    status, value, _ = call(sim, "/v2/conf/pub:list:pair:exchange", method="GET")
    assert status == 200 and value == [["BTCUSD", "ETHUSD", "BTCF0:USTF0"]]


def test_refuse_rest_arms_and_disarms(sim: BitfinexSimulator) -> None:
    """refuse_rest answers matching paths with the armed status and body (count-limited or until
    disarmed); other paths are answered as usual."""
    sim.refuse_rest("/v2/auth/r/", 500, ["error", 10001, "maintenance"], count=1)
    assert call(sim, "/v2/auth/r/orders/hist")[:2] == (500, ["error", 10001, "maintenance"])
    assert call(sim, "/v2/auth/r/orders/hist")[:2] == (200, [])
    sim.refuse_rest("/v2/trades/", 429, {"error": "ERR_RATE_LIMIT"})
    assert call(sim, "/v2/trades/tBTCUSD/hist", method="GET")[:2] == (429, {"error": "ERR_RATE_LIMIT"})
    assert call(sim, "/v2/conf/pub:list:pair:exchange", method="GET")[0] == 200
    sim.refuse_rest("/v2/trades/", None)
    assert call(sim, "/v2/trades/tBTCUSD/hist", method="GET")[0] == 200
    sim.refuse_rest("/v2/", drop=True, count=1)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        call(sim, "/v2/conf/pub:list:pair:exchange", method="GET")
    assert sim.counters()["rest_refused"] == 3
