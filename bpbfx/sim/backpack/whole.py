"""A whole Backpack market for the simulator: dozens of spot and perpetual markets whose
activity follows a Zipf-like spread (a few busy markets, many quiet ones), for recorders of
every market.

    from bpbfx.sim.backpack import ALL_MARKETS, BackpackSimulator, whole_market

    sim = BackpackSimulator(markets=ALL_MARKETS).start()       # 64 markets
    sim = BackpackSimulator(markets=whole_market(20)).start()  # 20 markets

Pure and deterministic; any thread.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

from bpbfx.sim._universe import coin_names, zipf_rates
from bpbfx.sim.backpack.market import DEFAULT_MARKETS, MarketSpec

__all__ = ["ALL_MARKETS", "whole_market"]

_BUSIEST = 3.0  # book updates per tick of the busiest market
# ... and of the quietest: one update every 5 ticks (4 a second at 50 ms ticks, a trade
# about every second), quiet yet quick enough to show data within seconds.
_QUIETEST = 0.2


def _spec(symbol: str, price: float, perp: bool, activity: float) -> MarketSpec:
    # Tick: 5 significant figures of the price; step: about a thousandth of 20 USD of base.
    tick = Decimal(1).scaleb(math.floor(math.log10(price)) - 4)
    step = Decimal(1).scaleb(min(0, math.floor(math.log10(20 / price)) - 3))
    typical = (Decimal(str(round(400 / price, 12))) // step * step).max(step)
    return MarketSpec(symbol, Decimal(round(price / float(tick))) * tick, tick, step, typical, perp, activity)


def whole_market(count: int = 64) -> tuple[MarketSpec, ...]:
    """``count`` markets: the default ones first (with the busiest activity), then
    ``<COIN>_USDC`` spot markets of known and made-up coins, ``<COIN>_USDC_PERP`` perpetuals of
    the busier ones and a few ``<COIN>_USDT``.  Activity falls with rank as Zipf's law has it,
    from 3 book updates per tick to 0.2.  Deterministic.

    Raises:
        ValueError: ``count`` < 1.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count!r}")
    ranked: list[tuple[float, str, bool]] = [(i + 1.0, m.symbol, m.perp) for i, m in enumerate(DEFAULT_MARKETS)]
    taken = {m.symbol for m in DEFAULT_MARKETS}
    for i, coin in enumerate(coin_names(count)):
        # A coin's spot market is its busiest, then its perpetual, then USDT.
        for symbol, perp, weight in ((f"{coin}_USDC", False, 1.0), (f"{coin}_USDC_PERP", True, 1.5),
                                     (f"{coin}_USDT", False, 8.0)):
            if symbol not in taken and (not perp or i < 30) and (weight < 8 or i < 6):
                taken.add(symbol)
                ranked.append((len(DEFAULT_MARKETS) + (i + 1) * weight, symbol, perp))
    chosen = sorted(ranked)[:count]
    rates = zipf_rates(len(chosen), _BUSIEST, _QUIETEST, exponent=1.0)
    defaults = {m.symbol: m for m in DEFAULT_MARKETS}
    out = []
    for (_, symbol, perp), rate in zip(chosen, rates, strict=True):
        base = defaults.get(symbol)
        if base is not None:
            out.append(MarketSpec(base.symbol, base.price, base.tick_size, base.step_size, base.typical_qty,
                                  base.perp, rate))
            continue
        rng = random.Random(f"backpack-whole:{symbol.split('_')[0]}")
        out.append(_spec(symbol, 10 ** rng.uniform(-2.5, 3.5), perp, rate))
    return tuple(out)


#: 64 markets, spot and perpetual (see :func:`whole_market`).
ALL_MARKETS: tuple[MarketSpec, ...] = whole_market()
