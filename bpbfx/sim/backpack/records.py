"""Orders and fills of the simulated trading accounts, and how Backpack writes them: the REST
order object, the ``account.orderUpdate`` event and the fill-history row.

Shapes (docs.backpack.exchange, the official Rust client ``bpx-api-client`` and its wire
samples):

* order object: ``id`` (text), ``clientId`` (only when set), ``symbol``, ``side`` (``Bid`` /
  ``Ask``), ``orderType`` (``Limit`` / ``Market``), ``timeInForce``, ``price`` (limit orders),
  ``quantity``, ``quoteQuantity`` (when known), ``executedQuantity``,
  ``executedQuoteQuantity``, ``status`` (``New``, ``PartiallyFilled``, ``Filled``,
  ``Cancelled``, ``Expired``), ``expiryReason`` (expired orders), ``selfTradePrevention``,
  ``postOnly`` (limit orders), ``reduceOnly``, ``createdAt`` (ms);
* order event (sample from the official client's tests): ``{"E":..,"O":"USER","Q":"3568.3445",
  "S":"Ask","T":..,"V":"RejectTaker","X":"New","Z":"0","e":"orderAccepted","f":"GTC",
  "i":"114575842681290753","o":"LIMIT","p":"178.15","q":"20.03","r":false,"s":"SOL_USDC",
  "t":null,"z":"0"}``: ``o`` upper-case, ``c`` only when a clientId was set, ``t`` null but on
  fills, which add ``l L m n N``; ``R`` is the expiry reason of ``orderExpired``;
* fill row: ``tradeId``, ``orderId``, ``clientId`` (text, only when set: the official client
  reads it as a string), ``symbol``, ``side``, ``price``, ``quantity``, ``fee``,
  ``feeSymbol``, ``isMaker``, ``timestamp`` (UTC date-time text with milliseconds, as the
  official client reads it).

Numbers are written without trailing zeros (``"0"``, ``"20.03"``).  No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bpbfx.sim.backpack.wire import _plain

if TYPE_CHECKING:
    from bpbfx.sim.backpack.market import _Market
    from bpbfx.sim.backpack.wire import Stamper

__all__: list[str] = []

# Order statuses and expiry reasons, as the exchange spells them.
NEW = "New"
PARTIALLY_FILLED = "PartiallyFilled"
FILLED = "Filled"
CANCELLED = "Cancelled"
EXPIRED = "Expired"
IMMEDIATE_OR_CANCEL = "ImmediateOrCancel"
FILL_OR_KILL = "FillOrKill"
SELF_TRADE_PREVENTION = "SelfTradePrevention"
INSUFFICIENT_LIQUIDITY = "InsufficientLiquidity"


@dataclass(eq=False)
class _Order:
    """One order of a trading account; prices in ticks, quantities in lots of the market."""

    id: str
    key: str  # the account's verifying key
    symbol: str
    side: str  # Bid / Ask
    order_type: str  # Limit / Market
    time_in_force: str
    price: int | None  # limit orders
    lots: int | None  # None: a market order by quote quantity
    quote: Decimal | None  # the quote quantity of a market order by quote quantity
    client_id: int | None
    stp: str
    post_only: bool
    reduce_only: bool
    created_ms: int
    seq: int  # time priority among resting orders
    filled: int = 0
    filled_quote: Decimal = Decimal(0)
    status: str = NEW
    expiry_reason: str | None = None
    locked: Decimal = Decimal(0)  # funds the order holds (quote for a bid, base for an ask)

    @property
    def bid(self) -> bool:
        return self.side == "Bid"

    @property
    def is_open(self) -> bool:
        return self.status in (NEW, PARTIALLY_FILLED)

    @property
    def left(self) -> int:
        """Lots still to fill (0 for a market order by quote quantity)."""
        return 0 if self.lots is None else self.lots - self.filled


@dataclass(frozen=True, slots=True)
class _AccountFill:
    """One execution of an account's order."""

    trade_id: int
    order_id: str
    client_id: int | None
    symbol: str
    side: str
    price: int
    lots: int
    fee: Decimal
    fee_symbol: str
    maker: bool
    ms: int


def _quote_text(o: _Order, m: _Market) -> str | None:
    """The order's quote quantity when it is known: price times quantity of a limit order, the
    requested amount of a market order by quote quantity."""
    if o.quote is not None:
        return _plain(o.quote)
    if o.price is not None and o.lots is not None:
        return _plain(m.price(o.price) * m.size(o.lots))
    return None


def order_object(o: _Order, m: _Market) -> dict[str, Any]:
    """The REST order object (``POST /api/v1/order``, ``GET /api/v1/orders``, the history)."""
    data: dict[str, Any] = {"id": o.id}
    if o.client_id is not None:
        data["clientId"] = o.client_id
    data.update({"symbol": o.symbol, "side": o.side, "orderType": o.order_type, "timeInForce": o.time_in_force})
    if o.price is not None:
        data["price"] = _plain(m.price(o.price))
    if o.lots is not None:
        data["quantity"] = _plain(m.size(o.lots))
    quote = _quote_text(o, m)
    if quote is not None:
        data["quoteQuantity"] = quote
    data.update({
        "executedQuantity": _plain(m.size(o.filled)),
        "executedQuoteQuantity": _plain(o.filled_quote),
        "status": o.status,
    })
    if o.expiry_reason is not None:
        data["expiryReason"] = o.expiry_reason
    data["selfTradePrevention"] = o.stp
    if o.order_type == "Limit":
        data["postOnly"] = o.post_only
    data.update({"reduceOnly": o.reduce_only, "createdAt": o.created_ms})
    return data


def order_event(
    o: _Order, m: _Market, event: str, stamp: Stamper, now_us: int, fill: _AccountFill | None = None
) -> dict[str, Any]:
    """The ``account.orderUpdate`` data of ``event`` (``orderAccepted``, ``orderFill``,
    ``orderCancelled``, ``orderExpired``), the order as it stands after it."""
    data: dict[str, Any] = {"e": event, "s": o.symbol}
    if o.client_id is not None:
        data["c"] = o.client_id
    # Backpack: "o" is upper-case on the stream ("LIMIT", "MARKET"), unlike REST's "Limit".
    data.update({"S": o.side, "o": o.order_type.upper(), "f": o.time_in_force,
                 "q": _plain(m.size(o.lots or 0))})
    quote = _quote_text(o, m)
    if quote is not None:
        data["Q"] = quote
    if o.price is not None:
        data["p"] = _plain(m.price(o.price))
    data["X"] = o.status
    if event == "orderExpired" and o.expiry_reason is not None:
        data["R"] = o.expiry_reason
    data.update({"i": o.id, "z": _plain(m.size(o.filled)), "Z": _plain(o.filled_quote)})
    if fill is None:
        data["t"] = None
    else:
        data.update({"t": fill.trade_id, "l": _plain(m.size(fill.lots)), "L": _plain(m.price(fill.price)),
                     "m": fill.maker, "n": _plain(fill.fee), "N": fill.fee_symbol})
    data.update({"V": o.stp, "r": o.reduce_only, "O": "USER"})
    return stamp(data, now_us, int(o.id) % 1000)


def fill_row(f: _AccountFill, m: _Market) -> dict[str, Any]:
    """A row of ``GET /wapi/v1/history/fills``."""
    data: dict[str, Any] = {"tradeId": f.trade_id, "orderId": f.order_id}
    if f.client_id is not None:
        data["clientId"] = str(f.client_id)
    when = datetime.fromtimestamp(f.ms / 1000, tz=timezone.utc)
    data.update({
        "symbol": f.symbol,
        "side": f.side,
        "price": _plain(m.price(f.price)),
        "quantity": _plain(m.size(f.lots)),
        "fee": _plain(f.fee),
        "feeSymbol": f.fee_symbol,
        "isMaker": f.maker,
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{f.ms % 1000:03d}",
    })
    return data
