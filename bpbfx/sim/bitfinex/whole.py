"""A whole Bitfinex market for the simulator: hundreds of trading pairs whose activity follows a
Zipf-like spread (a few busy pairs, many quiet ones), for recorders of every market.

    from bpbfx.sim.bitfinex import ALL_MARKETS, BitfinexSimulator, whole_market

    sim = BitfinexSimulator(markets=ALL_MARKETS).start()        # 300 pairs + 5 funding
    sim = BitfinexSimulator(markets=whole_market(100)).start()  # 100 pairs

Pure and deterministic; any thread.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

from bpbfx.sim._universe import coin_names, zipf_rates
from bpbfx.sim.bitfinex.market import DEFAULT_MARKETS, MarketSpec

__all__ = ["ALL_MARKETS", "whole_market"]

#: USD value of one unit of each quote currency (prices of generated pairs are written in it).
_QUOTES = {"USD": 1.0, "UST": 1.0, "BTC": 118_940.0, "EUR": 1.17}
_QUOTE_RANK = {"USD": 1.0, "UST": 2.5, "BTC": 4.0, "EUR": 6.0}
_BUSIEST = 2.0  # book events per tick of the busiest generated pair
_QUIETEST = 0.01  # ... and of the quietest (one event every 5 s at 50 ms ticks)
_QUIET_ORDERS = 150  # resting orders per side of a quiet pair (cheaper to create)


def _activity(rate: float) -> float:
    """The :attr:`MarketSpec.activity` whose mean number of events per tick is ``rate``."""
    return 1.0 / math.log1p(1.0 / rate)


def _pair(base: str, quote: str) -> str:
    # Bitfinex writes a pair with a colon when either side is longer than three letters.
    return f"t{base}{quote}" if len(base) == 3 and len(quote) == 3 else f"t{base}:{quote}"


def whole_market(pairs: int = 300, *, funding: bool = True) -> tuple[MarketSpec, ...]:
    """``pairs`` trading pairs (the default markets' first, they are the busiest; then pairs
    of known and made-up coins against USD, and for the busier coins also UST, BTC and EUR),
    plus the default funding currencies (``funding``).  Activity falls with rank as Zipf's
    law has it, from about 2 book events per tick to 0.01 (the default markets keep their
    own); quiet pairs keep fewer resting orders.  Deterministic.

    Raises:
        ValueError: ``pairs`` < 1.
    """
    if pairs < 1:
        raise ValueError(f"pairs must be >= 1, got {pairs!r}")
    defaults = [m for m in DEFAULT_MARKETS if not m.funding][:pairs]
    taken = {m.symbol for m in defaults}
    wanted = pairs - len(defaults)
    ranked: list[tuple[float, str, str, str]] = []
    for i, base in enumerate(coin_names(wanted + 64)):
        # The busier a coin (the lower its rank), the more quotes it trades against.
        quotes = ["USD"] + (["UST"] if i < 60 else []) + (["BTC"] if i < 30 else []) + (["EUR"] if i < 12 else [])
        for quote in quotes:
            symbol = _pair(base, quote)
            if symbol not in taken and base != quote:
                taken.add(symbol)
                # A coin's USD pair is its busiest, then UST, BTC and EUR.
                ranked.append(((i + 1) * _QUOTE_RANK[quote], symbol, base, quote))
    symbols = [r[1:] for r in sorted(ranked)[:wanted]]
    rates = zipf_rates(len(symbols), _BUSIEST, _QUIETEST, exponent=1.1)
    generated = []
    for rank, ((symbol, _base, quote), rate) in enumerate(zip(symbols, rates, strict=True)):
        rng = random.Random(f"bitfinex-whole:{symbol}")
        usd = 10 ** rng.uniform(-2.5, 3.5)
        price = Decimal(f"{usd / _QUOTES[quote]:.5g}")
        # Typical order worth about 2,000 USD on the busiest pair, falling with activity: a
        # pair's daily volume (ticker VOLUME x LAST) ranks the pairs as their activity does.
        size = Decimal(f"{max(2000 * rate / _BUSIEST, 5.0) / usd:.3g}")
        orders = None if rank < 20 else _QUIET_ORDERS
        generated.append(MarketSpec(symbol, price, size, _activity(rate), orders))
    funding_markets = [m for m in DEFAULT_MARKETS if m.funding] if funding else []
    return (*defaults, *generated, *funding_markets)


#: 300 trading pairs and the 5 default funding currencies (see :func:`whole_market`).
ALL_MARKETS: tuple[MarketSpec, ...] = whole_market()
