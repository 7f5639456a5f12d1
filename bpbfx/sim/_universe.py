"""What a whole-market simulator lists: coin names and a Zipf-like spread of activity (a few
busy markets, many quiet ones), shared by both exchanges' market lists.

Pure and deterministic; any thread.
"""

from __future__ import annotations

import itertools
import string

__all__ = ["coin_names", "zipf_rates"]

# Real coin tickers first (the busiest markets of a whole-market list), then made-up ones.
_KNOWN = (
    "BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT", "LTC", "TRX", "UNI", "XLM", "ATOM", "NEAR",
    "APT", "ARB", "OP", "SUI", "SEI", "INJ", "TIA", "JUP", "PYTH", "WIF", "BONK", "PEPE", "SHIB", "AAVE", "MKR",
    "CRV", "LDO", "RNDR", "FIL", "ETC", "BCH", "XMR", "EOS", "ALGO", "HBAR", "ICP", "VET", "SAND", "MANA", "AXS",
    "GRT", "SNX", "COMP", "YFI", "SUSHI", "ZEC", "DASH", "NEO", "IOTA", "XTZ", "EGLD", "FTM", "KAVA", "ZRX", "BAT",
    "ENJ", "CHZ", "GALA", "IMX", "FLOW", "MINA", "ROSE", "KSM", "QNT", "STX", "ORDI", "JTO", "W", "ENA", "ONDO",
    "TON", "TAO", "WLD", "STRK", "BLUR",
)


def coin_names(count: int, *, letters: int = 3) -> list[str]:
    """``count`` distinct upper-case coin names: the known tickers, then made-up names
    (``ZAA``, ``ZAB``, ...; ``letters`` long).  Deterministic."""
    names = list(_KNOWN[:count])
    taken = set(names)
    for tail in itertools.product(string.ascii_uppercase, repeat=letters - 1):
        if len(names) >= count:
            break
        name = "Z" + "".join(tail)
        if name not in taken:
            names.append(name)
    return names


def zipf_rates(count: int, busiest: float, quietest: float, exponent: float = 1.0) -> list[float]:
    """Event rates of ``count`` markets by rank, following Zipf's law (rank ``r`` gets
    ``busiest / r**exponent``) but never below ``quietest``."""
    return [max(quietest, busiest / (rank**exponent)) for rank in range(1, count + 1)]
