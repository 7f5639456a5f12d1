"""Market rules for validating orders before sending: tick size, step size, bounds.

From ``GET /api/v1/markets`` (https://docs.backpack.exchange/#tag/Markets): each market's
``filters.price`` (``tickSize``, ``minPrice``, ``maxPrice``) and ``filters.quantity``
(``stepSize``, ``minQuantity``, ``maxQuantity``).  A price or quantity off the grid, or out of
bounds, is refused here with :class:`~bpbfx.exceptions.InvalidOrderError` naming the field and
what would be valid, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ...exceptions import InvalidOrderError

__all__ = ["MarketRules", "parse_markets"]


def _opt(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number > 0 else None


def _plain(d: Decimal) -> str:
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True, slots=True)
class MarketRules:
    """The order rules of one market (``None``: no rule of that kind was published)."""

    symbol: str
    tick_size: Decimal | None = None
    step_size: Decimal | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    min_quantity: Decimal | None = None
    max_quantity: Decimal | None = None
    market_type: str | None = None
    state: str | None = None

    def check_price(self, price: Decimal, field: str = "price") -> None:
        """Raises :class:`InvalidOrderError` for a price off the tick grid or out of bounds."""
        if self.tick_size is not None and price % self.tick_size != 0:
            below = price - price % self.tick_size
            raise InvalidOrderError(
                f"{self.symbol}: {field} {_plain(price)} is not a multiple of the tick size {_plain(self.tick_size)} "
                f"(nearest valid: {_plain(below)} or {_plain(below + self.tick_size)})",
                field=field,
            )
        if self.min_price is not None and price < self.min_price:
            raise InvalidOrderError(
                f"{self.symbol}: {field} {_plain(price)} is below the minimum {_plain(self.min_price)}", field=field
            )
        if self.max_price is not None and price > self.max_price:
            raise InvalidOrderError(
                f"{self.symbol}: {field} {_plain(price)} is above the maximum {_plain(self.max_price)}", field=field
            )

    def check_quantity(self, quantity: Decimal, field: str = "quantity") -> None:
        """Raises :class:`InvalidOrderError` for a quantity off the step grid or out of bounds."""
        if self.step_size is not None and quantity % self.step_size != 0:
            below = quantity - quantity % self.step_size
            raise InvalidOrderError(
                f"{self.symbol}: {field} {_plain(quantity)} is not a multiple of the step size "
                f"{_plain(self.step_size)} (nearest valid: {_plain(below)} or {_plain(below + self.step_size)})",
                field=field,
            )
        if self.min_quantity is not None and quantity < self.min_quantity:
            raise InvalidOrderError(
                f"{self.symbol}: {field} {_plain(quantity)} is below the minimum {_plain(self.min_quantity)}",
                field=field,
            )
        if self.max_quantity is not None and quantity > self.max_quantity:
            raise InvalidOrderError(
                f"{self.symbol}: {field} {_plain(quantity)} is above the maximum {_plain(self.max_quantity)}",
                field=field,
            )

    @classmethod
    def from_market(cls, market: Mapping[str, Any]) -> MarketRules:
        """From one object of ``GET /api/v1/markets``.

        Raises:
            KeyError, TypeError: no ``symbol``.
        """
        filters = market.get("filters") or {}
        price = filters.get("price") or {} if isinstance(filters, Mapping) else {}
        quantity = filters.get("quantity") or {} if isinstance(filters, Mapping) else {}
        return cls(
            symbol=str(market["symbol"]),
            tick_size=_opt(price.get("tickSize")),
            step_size=_opt(quantity.get("stepSize")),
            min_price=_opt(price.get("minPrice")),
            max_price=_opt(price.get("maxPrice")),
            min_quantity=_opt(quantity.get("minQuantity")),
            max_quantity=_opt(quantity.get("maxQuantity")),
            market_type=market.get("marketType"),
            state=market.get("orderBookState"),
        )


def parse_markets(markets: Iterable[Any]) -> dict[str, MarketRules]:
    """Rules by symbol from the ``GET /api/v1/markets`` answer (objects without a symbol are
    skipped)."""
    out: dict[str, MarketRules] = {}
    for market in markets:
        if isinstance(market, Mapping) and isinstance(market.get("symbol"), str):
            rules = MarketRules.from_market(market)
            out[rules.symbol] = rules
    return out
