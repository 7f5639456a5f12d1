"""Simulated Bitfinex accounts: wallets, orders, positions and funding offers."""

from __future__ import annotations

import random
from typing import Any

__all__: list[str] = []


class _Account:
    """A simulated account: wallets, orders, a position and funding offers."""

    def __init__(self, key: str, seed: int) -> None:
        self.key = key
        self.rng = random.Random(f"{seed}:account:{key}")
        self.user_id = self.rng.randrange(1_000_000, 9_999_999)
        self.next_order = self.rng.randrange(10**11, 2 * 10**11)
        self.next_trade = self.rng.randrange(10**8, 2 * 10**8)
        self.next_cid = 1_755_000_000_000
        self.wallets: dict[tuple[str, str], float] = {
            ("exchange", "USD"): round(self.rng.uniform(500, 5000), 8),
            ("exchange", "BTC"): round(self.rng.uniform(0.01, 0.5), 8),
            ("exchange", "UST"): round(self.rng.uniform(200, 2000), 8),
            ("margin", "USTF0"): round(self.rng.uniform(100, 1000), 8),
            ("funding", "USD"): round(self.rng.uniform(100, 1500), 8),
        }
        self.orders: dict[int, list[Any]] = {}
        self.position: list[Any] | None = None
        self.offers: list[list[Any]] = []
        self.steps = 0

