"""The Bitfinex REST endpoints the simulator answers on its HTTP port (``sim.http_url``).

Public (docs.bitfinex.com rest-public-trades, rest-public-conf):

* ``GET /v2/trades/{symbol}/hist?start=&end=&limit=&sort=``: the market's trades from the same
  tape the ``trades`` channel publishes, rows ``[ID, MTS, AMOUNT, PRICE]`` (funding: ``[ID, MTS,
  AMOUNT, RATE, PERIOD]``); ``limit`` 1 to 10,000 (default 125), ``sort`` -1 newest first
  (default) or 1 oldest first; ``start``/``end`` in ms, inclusive.
* ``GET /v2/conf/pub:list:pair:exchange``: ``[["BTCUSD","ETHUSD",...]]``, the trading pairs
  listed now (a delisted market leaves the list).
* ``GET /v2/tickers?symbols=ALL`` (or ``symbols=tBTCUSD,fUSD``): one row per market, its
  symbol then the fields of the ``ticker`` channel (docs.bitfinex.com rest-public-tickers).

Authenticated (``POST``, headers ``bfx-apikey``/``bfx-nonce``/``bfx-signature``, JSON body;
docs.bitfinex.com rest-auth, rest-auth-orders-history, rest-auth-trades):

* ``/v2/auth/r/orders/hist`` and ``/v2/auth/r/orders/{symbol}/hist``: the account's closed
  orders, newest first, rows as on the WebSocket; body ``start``, ``end`` (ms, on MTS_UPDATE),
  ``limit`` (1 to 2,500, default 25), ``id`` (a list of order ids).
* ``/v2/auth/r/trades/hist`` and ``/v2/auth/r/trades/{symbol}/hist``: the account's fills, rows
  ``[ID, PAIR, MTS_CREATE, ORDER_ID, EXEC_AMOUNT, EXEC_PRICE, ORDER_TYPE, ORDER_PRICE, MAKER,
  FEE, FEE_CURRENCY, CID]``; body ``start``, ``end``, ``limit`` (1 to 2,500, default 25),
  ``sort`` (-1 newest first, the default; 1 oldest first).

Errors are HTTP 500 with ``["error", CODE, TEXT]``, as Bitfinex answers: the authentication
refusals of :meth:`~bpbfx.sim.bitfinex.auth.Auth.rest`, 10020 for a bad parameter (``limit:
invalid`` as seen on the wire; ``symbol: invalid``, ``start: invalid``... the simulator's own
texts).  Armed refusals (:meth:`~bpbfx.sim.bitfinex.BitfinexSimulator.refuse_rest`) act first.
Used under the simulator's lock on its loop thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bpbfx.sim._http import HttpReply, HttpRequest
from bpbfx.sim.bitfinex.auth import Auth
from bpbfx.sim.bitfinex.channel0 import Channel0
from bpbfx.sim.bitfinex.market import _Market

__all__: list[str] = []

_PUBLIC_TRADES = re.compile(r"/v2/trades/([tf][A-Z0-9:]+)/hist")
_AUTH_HISTORY = re.compile(r"/v2/auth/r/(orders|trades)(?:/([tf][A-Z0-9:]+))?/hist")
_JSON = {"Content-Type": "application/json"}


@dataclass(slots=True)
class _Refusal:
    """An armed refusal of the requests whose path starts with ``prefix``."""

    prefix: str
    status: int
    body: Any
    drop: bool
    left: int | None  # requests still to refuse; None: until disarmed


class _BadRequest(Exception):
    """A parameter the exchange refuses (10020)."""


def _error(code: int, text: str, status: int = 500) -> HttpReply:
    return HttpReply(status, ["error", code, text])


def _rows(texts: list[str]) -> HttpReply:
    """A 200 whose body is the rows' wire texts as they are (exact numbers)."""
    return HttpReply(200, ("[" + ",".join(texts) + "]").encode(), headers=_JSON)


def _int(value: Any, name: str, low: int | None = None, high: int | None = None) -> int | None:
    """An optional integer parameter (a JSON number or digits), within ``low``..``high``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _BadRequest(f"{name}: invalid")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _BadRequest(f"{name}: invalid") from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise _BadRequest(f"{name}: invalid")
    return number


class Rest:
    """Answers the REST requests of the simulator (see the module docstring); ``counters``
    (the simulator's) counts ``rest_requests``, ``rest_refused`` and, in :class:`Auth`,
    ``rest_auth_ok`` / ``rest_auth_failed``."""

    def __init__(
        self,
        markets: Mapping[str, _Market],
        auth: Auth,
        channel0: Channel0,
        counters: dict[str, int],
        clock_ms: Callable[[], int],
    ) -> None:
        self.markets = markets
        self.auth = auth
        self.channel0 = channel0
        self.counters = counters
        self.clock_ms = clock_ms
        self.refusals: list[_Refusal] = []

    def refuse(self, prefix: str, status: int | None, body: Any, drop: bool, count: int | None) -> None:
        """Arm (or, ``status`` None and not ``drop``, disarm) the refusal of ``prefix``."""
        self.refusals = [r for r in self.refusals if r.prefix != prefix]
        if status is not None or drop:
            self.refusals.append(_Refusal(prefix, status or 500, body, drop, count))

    def handle(self, request: HttpRequest) -> HttpReply | None:
        """The reply to one request; ``None`` for an unknown route (404)."""
        self.counters["rest_requests"] += 1
        path = request.path
        for refusal in self.refusals:
            if path.startswith(refusal.prefix):
                if refusal.left is not None:
                    refusal.left -= 1
                    if refusal.left <= 0:
                        self.refusals.remove(refusal)
                self.counters["rest_refused"] += 1
                body = refusal.body if refusal.body is not None else ["error", 10001, "refused (simulator fault)"]
                return HttpReply(refusal.status, body, drop=refusal.drop)
        try:
            if path == "/v2/conf/pub:list:pair:exchange" and request.method == "GET":
                return HttpReply(200, [[m.symbol[1:] for m in self.markets.values() if not m.funding]])
            if path == "/v2/tickers" and request.method == "GET":
                return self._tickers(request.params.get("symbols", ""))
            match = _PUBLIC_TRADES.fullmatch(path)
            if match and request.method == "GET":
                return self._public_trades(match.group(1), request.params)
            match = _AUTH_HISTORY.fullmatch(path)
            if match:
                if request.method != "POST":
                    return _error(10020, "method: invalid")  # the simulator's own text
                return self._history(request, match.group(1), match.group(2))
        except _BadRequest as exc:
            return _error(10020, str(exc))
        return None

    def _tickers(self, symbols: str) -> HttpReply:
        if not symbols:
            raise _BadRequest("symbols: invalid")
        wanted = self.markets.values() if symbols == "ALL" else [
            self.markets[s] for s in symbols.split(",") if s in self.markets
        ]
        return _rows([f'["{m.symbol}",{m.ticker_text()[1:]}' for m in wanted])

    def _public_trades(self, symbol: str, params: Mapping[str, str]) -> HttpReply:
        market = self.markets.get(symbol)
        if market is None:
            raise _BadRequest("symbol: invalid")
        limit = _int(params.get("limit"), "limit", 1, 10_000) or 125
        sort = _int(params.get("sort"), "sort", -1, 1) or -1
        start, end = _int(params.get("start"), "start", 0), _int(params.get("end"), "end", 0)
        return _rows(market.tape(start, end, limit, oldest_first=sort == 1))

    def _history(self, request: HttpRequest, kind: str, symbol: str | None) -> HttpReply:
        key, refusal = self.auth.rest(request.headers, request.path, request.body)
        if refusal is not None:
            return _error(*refusal)
        assert key is not None
        try:
            body = json.loads(request.body) if request.body.strip() else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _BadRequest("body: invalid")
        if symbol is not None and symbol not in self.markets:
            raise _BadRequest("symbol: invalid")
        limit = _int(body.get("limit"), "limit", 1, 2500) or 25
        start, end = _int(body.get("start"), "start", 0), _int(body.get("end"), "end", 0)
        history = self.channel0.account(key).history
        if kind == "orders":
            ids = body.get("id")
            if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
                raise _BadRequest("id: invalid")
            return _rows(history.closed_orders(symbol, start, end, ids, limit))
        sort = _int(body.get("sort"), "sort", -1, 1) or -1
        return _rows(history.fills(symbol, start, end, limit, oldest_first=sort == 1))
