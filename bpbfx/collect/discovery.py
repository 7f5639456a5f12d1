"""Reading the exchanges' market lists over REST for ``bpbfx collect --all-markets``
(:func:`fetch_markets`), through :class:`~bpbfx.rest.RestClient` and the collector's proxy.

Backpack: ``GET /api/v1/markets`` and ``GET /api/v1/tickers`` on ``https://api.backpack.exchange``;
Bitfinex: ``GET /v2/conf/pub:list:pair:exchange`` and ``GET /v2/tickers?symbols=ALL`` on
``https://api-pub.bitfinex.com`` (or the simulators' ``http_url``).  The tickers only weigh
the markets (:mod:`bpbfx.collect.markets`); when they cannot be read every market weighs the
same.  The calling thread does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ..exceptions import BpbfxError, MarketListError
from ..factory import check_exchange
from ..proxy import proxy_for, proxy_option
from ..rest import RestClient
from .markets import Market, backpack_loads, bitfinex_loads, parse_backpack_markets, parse_bitfinex_pairs

__all__ = ["DEFAULT_REST_URLS", "MarketList", "fetch_markets"]

#: Where the market lists are read when no REST URL is given.
DEFAULT_REST_URLS: Final = {"backpack": "https://api.backpack.exchange", "bitfinex": "https://api-pub.bitfinex.com"}

_PATHS: Final = {
    "backpack": (("/api/v1/markets", None), ("/api/v1/tickers", None)),
    "bitfinex": (("/v2/conf/pub:list:pair:exchange", None), ("/v2/tickers", {"symbols": "ALL"})),
}


@dataclass(frozen=True)
class MarketList:
    """One exchange's markets as read: every listed market (live or not) and the expected load
    per symbol (empty when the tickers could not be read)."""

    exchange: str
    markets: tuple[Market, ...]
    loads: dict[str, float] = field(default_factory=dict)


def fetch_markets(exchange: str, rest_url: str | None = None, *, proxy: str | None = None,
                  timeout: float = 10.0) -> MarketList:
    """Read ``exchange``'s market list (and tickers, for the loads) from ``rest_url``
    (default :data:`DEFAULT_REST_URLS`), through ``proxy`` (the collector's option: a URL,
    ``"none"``, or ``None`` for the environment's).  Calling thread; at most two requests of
    ``timeout`` seconds each.

    Raises:
        MarketListError: the list could not be read or understood.
        ConfigurationError: a bad exchange, URL or proxy.
    """
    exchange = check_exchange(exchange)
    base = rest_url or DEFAULT_REST_URLS[exchange]
    client = RestClient(base, timeout=timeout, proxy=proxy_for(proxy_option(proxy), base))
    try:
        (list_path, list_params), (tickers_path, tickers_params) = _PATHS[exchange]
        where = base + list_path
        try:
            reply = client.request("GET", list_path, params=list_params)
            if reply.status != 200:
                raise MarketListError(f"{exchange} market list: HTTP {reply.status} from {where}: {reply.text[:200]}",
                                      exchange=exchange, url=where)
            doc = reply.json()
            markets = parse_backpack_markets(doc) if exchange == "backpack" else parse_bitfinex_pairs(doc)
        except MarketListError:
            raise
        except (BpbfxError, ValueError) as exc:
            raise MarketListError(f"{exchange} market list from {where}: {exc}", exchange=exchange,
                                  url=where) from exc
        loads: dict[str, float] = {}
        try:
            reply = client.request("GET", tickers_path, params=tickers_params)
            if reply.status == 200:
                tickers = reply.json()
                loads = backpack_loads(tickers) if exchange == "backpack" else bitfinex_loads(tickers)
        except (BpbfxError, ValueError):
            pass  # the loads only weigh the markets: without them every market weighs the same
        return MarketList(exchange, tuple(markets), loads)
    finally:
        client.close()
