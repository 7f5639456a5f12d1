"""The balances of the simulated trading accounts: per asset what is available and what resting
orders hold (``locked``), as Backpack's capital endpoint reports them; and the fees.

Spot orders hold their funds while they rest: a bid holds price x quantity of the quote asset,
an ask its quantity of the base asset.  Fees are Backpack's base rates (spot 0.08 % maker,
0.10 % taker; perpetuals 0.02 % / 0.05 %), taken from what the fill brings in: the base asset
of a spot buy, the quote asset of a spot sell, the quote asset (USDC) of a perpetual fill.
Perpetuals are kept simple: no margin is held or checked and nothing is liquidated; a fill
moves the position, and fees and realized profit settle in the quote asset.

No I/O; used under the simulator's lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

__all__: list[str] = []

SPOT_FEES = (Decimal("0.0008"), Decimal("0.001"))  # maker, taker
PERP_FEES = (Decimal("0.0002"), Decimal("0.0005"))

#: Balances of an account that trades without being listed in ``account_balances``.
DEFAULT_QUOTE_BALANCE = Decimal(1_000_000)
DEFAULT_BASE_BALANCE = Decimal(1_000)


def fee_rate(perp: bool, maker: bool) -> Decimal:
    """The fee rate of a fill."""
    maker_rate, taker_rate = PERP_FEES if perp else SPOT_FEES
    return maker_rate if maker else taker_rate


def default_balances(assets: Iterable[tuple[str, bool]]) -> dict[str, Decimal]:
    """The opening balances of an unlisted account: ``assets`` is ``(asset, is_quote)``."""
    return {asset: DEFAULT_QUOTE_BALANCE if quote else DEFAULT_BASE_BALANCE for asset, quote in assets}


class Ledger:
    """Available and locked amounts per account (verifying key) and asset."""

    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, list[Decimal]]] = {}

    def open(self, key: str, balances: Mapping[str, Decimal]) -> None:
        """Open an account with these available balances (nothing if it exists)."""
        if key not in self.accounts:
            self.accounts[key] = {asset: [Decimal(amount), Decimal(0)] for asset, amount in balances.items()}

    def __contains__(self, key: object) -> bool:
        return key in self.accounts

    def _entry(self, key: str, asset: str) -> list[Decimal]:
        return self.accounts[key].setdefault(asset, [Decimal(0), Decimal(0)])

    def available(self, key: str, asset: str) -> Decimal:
        return self._entry(key, asset)[0]

    def lock(self, key: str, asset: str, amount: Decimal) -> bool:
        """Hold ``amount`` of what is available; ``False`` (nothing held) when there is not enough."""
        entry = self._entry(key, asset)
        if amount > entry[0]:
            return False
        entry[0] -= amount
        entry[1] += amount
        return True

    def release(self, key: str, asset: str, amount: Decimal) -> None:
        """Give back ``amount`` of what is held."""
        entry = self._entry(key, asset)
        entry[1] -= amount
        entry[0] += amount

    def spend_locked(self, key: str, asset: str, amount: Decimal) -> None:
        """Pay ``amount`` out of what is held."""
        self._entry(key, asset)[1] -= amount

    def credit(self, key: str, asset: str, amount: Decimal) -> None:
        """Add ``amount`` (negative: take it) to what is available."""
        self._entry(key, asset)[0] += amount

    def set(self, key: str, asset: str, amount: Decimal) -> None:
        """Set what is available (what is held stays)."""
        self._entry(key, asset)[0] = amount

    def balances(self, key: str) -> dict[str, dict[str, Decimal]]:
        """``{asset: {"available": .., "locked": ..}}`` of an account."""
        return {asset: {"available": a, "locked": h} for asset, (a, h) in sorted(self.accounts.get(key, {}).items())}
