"""The public Backpack REST endpoints the simulator answers (on its REST server, and as plain
GETs on its WebSocket port).

``GET /api/v1/depth`` (the book snapshot: prices without trailing zeros, bids ascending with
the best bid last, ``lastUpdateId`` as text), ``/api/v1/markets`` (symbols, tick and step
sizes, price and quantity bounds, ``orderBookState`` ``Open`` or, once delisted, ``Closed``),
``/api/v1/tickers`` (the 24 h figures of every open market), ``/api/v1/time`` and the public trade history
``/api/v1/trades`` (the most recent) and ``/api/v1/trades/history`` (``offset`` counts back
from the newest), served from the tape the ``trade.<symbol>`` stream publishes; errors are
``{"code": "<UPPER_CASE>", "message": "..."}``.  Armed faults (``fail_rest``,
``stale_snapshots``, ``fail_trade_history``) act here.  Used under the simulator's lock on its
loop thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from bpbfx.sim.backpack.faults import Faults
from bpbfx.sim.backpack.market import _Market
from bpbfx.sim.backpack.subscriptions import Subscriptions
from bpbfx.sim.backpack.wire import Stamper, _plain

__all__: list[str] = []


def failure_body(status: int) -> dict[str, str]:
    """The Backpack-style body of a REST request refused by a fault (``fail_rest`` ...)."""
    code = {429: "TOO_MANY_REQUESTS", 503: "SERVICE_UNAVAILABLE"}.get(status, "INTERNAL_SERVER_ERROR")
    return {"code": code, "message": HTTPStatus(status).phrase}


class Rest:
    """Answers REST GETs from the markets' state; ``counters`` (the simulator's) counts
    ``rest_depth_requests``."""

    def __init__(
        self,
        markets: Mapping[str, _Market],
        subs: Subscriptions,
        faults: Faults,
        stamp: Stamper,
        counters: dict[str, int],
    ) -> None:
        self.markets = markets
        self.subs = subs
        self.faults = faults
        self.stamp = stamp
        self.counters = counters

    def get(self, path: str, params: dict[str, str]) -> tuple[int, Any] | None:
        """``(status, json_body)`` for a GET of ``path``, or ``None`` for an unknown route."""
        if path.startswith("/api/"):
            status = self.faults.take_rest_failure()
            if status is not None:
                return status, failure_body(status)
        if path == "/api/v1/depth":
            return self._depth(params)
        if path == "/api/v1/time":
            return 200, int(self.stamp.clock() * 1000)
        if path == "/api/v1/markets":
            return 200, [self._market_info(m) for m in self.markets.values()]
        if path == "/api/v1/tickers":
            return 200, [self._ticker(m) for m in self.markets.values() if m.book_state == "Open"]
        if path in ("/api/v1/trades", "/api/v1/trades/history"):
            refused = self.faults.trading.history_failures
            if refused.take():
                return refused.status, failure_body(refused.status)
            return self._trades(params, history=path.endswith("history"))
        return None

    def _trades(self, params: dict[str, str], history: bool) -> tuple[int, Any]:
        """The public trades of a market, oldest first: the newest ``limit`` (default 100, at
        most 1000), or with ``offset`` (history only) that many newer trades skipped."""
        m = self.markets.get(params.get("symbol", ""))
        if m is None:
            return 400, {"code": "INVALID_CLIENT_REQUEST", "message": "Market not found"}
        try:
            limit = int(params.get("limit", "100"))
            offset = int(params.get("offset", "0")) if history else 0
        except ValueError:
            limit = offset = -1
        if not 0 < limit <= 1000 or offset < 0:
            return 400, {"code": "INVALID_CLIENT_REQUEST", "message": "Invalid limit or offset"}
        tape = m.tape
        end = max(0, len(tape) - offset)
        rows = [tape[i] for i in range(max(0, end - limit), end)]
        return 200, [
            {"id": t.trade_id, "price": _plain(m.price(t.price)), "quantity": _plain(m.size(t.lots)),
             "quoteQuantity": _plain(m.price(t.price) * m.size(t.lots)), "timestamp": t.ms,
             "isBuyerMaker": t.buyer_is_maker}
            for t in rows
        ]

    def _market_info(self, m: _Market) -> dict[str, Any]:
        return {
            "symbol": m.symbol,
            "baseSymbol": m.base_asset,
            "quoteSymbol": m.quote_asset,
            "marketType": "PERP" if m.spec.perp else "SPOT",
            "filters": {
                "price": {"minPrice": _plain(m.min_price), "maxPrice": _plain(m.max_price),
                          "tickSize": _plain(m.spec.tick_size)},
                "quantity": {"minQuantity": _plain(m.min_quantity), "maxQuantity": _plain(m.max_quantity),
                             "stepSize": _plain(m.spec.step_size)},
            },
            "orderBookState": m.book_state,
        }

    def _ticker(self, m: _Market) -> dict[str, Any]:
        """A market's 24 h figures as ``GET /api/v1/tickers`` writes them (numbers as text)."""
        change = m.price(m.last_price) - m.price(m.open_price)
        percent = change / m.price(m.open_price) * 100 if m.open_price else 0
        return {
            "symbol": m.symbol, "firstPrice": _plain(m.price(m.open_price)), "lastPrice": _plain(m.price(m.last_price)),
            "priceChange": _plain(change), "priceChangePercent": f"{percent:.4f}", "high": _plain(m.price(m.high)),
            "low": _plain(m.price(m.low)), "volume": _plain(m.size(m.volume_lots)),
            "quoteVolume": _plain(m.quote_volume), "trades": str(m.trade_count),
        }

    def _depth(self, params: dict[str, str]) -> tuple[int, Any]:
        symbol = params.get("symbol")
        if not symbol:
            return 400, {"code": "INVALID_CLIENT_REQUEST", "message": "Missing symbol"}
        m = self.markets.get(symbol)
        if m is None:
            # Backpack REST errors are {"code": "<UPPER_CASE>", "message": "..."}.
            return 400, {"code": "INVALID_CLIENT_REQUEST", "message": "Market not found"}
        try:
            limit = int(params.get("limit", "1000"))
        except ValueError:
            limit = 0
        if not 0 < limit <= 1000:
            return 400, {"code": "INVALID_CLIENT_REQUEST", "message": "Invalid limit"}
        self.counters["rest_depth_requests"] += 1
        faults = self.faults.of(m.symbol)
        if faults.stale_left > 0:
            faults.stale_left -= 1
            last_id, bids, asks = self._stale_state(m)
        else:
            last_id, bids, asks = m.last_id, m.bids.levels, m.asks.levels
        bid_prices = sorted(bids, reverse=True)[:limit][::-1]  # Backpack REST: bids ascending, best LAST
        ask_prices = sorted(asks)[:limit]
        return 200, {
            "asks": [[_plain(m.price(p)), _plain(m.size(asks[p]))] for p in ask_prices],
            "bids": [[_plain(m.price(p)), _plain(m.size(bids[p]))] for p in bid_prices],
            "lastUpdateId": str(last_id),
            "timestamp": self.stamp.now_us(),
        }

    def _stale_state(self, m: _Market) -> tuple[int, dict[int, int], dict[int, int]]:
        """A past book older than the first delta any current depth subscriber received."""
        firsts = self.subs.first_deltas(m.symbol)
        target = min(firsts) if firsts else m.last_id + 1
        for last_id, bids, asks in reversed(m.history):
            if last_id + 1 < target:
                return last_id, bids, asks
        last_id, bids, asks = m.history[0]  # history too short: claim an id that is behind anyway
        return min(last_id, target - 2), bids, asks
