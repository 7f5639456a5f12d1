"""One order API for both exchanges: unified orders in, exchange orders out, unified results back.

:func:`submit_order` places an order on either client from unified values (``"SOL/USDC"``,
``"buy"``, an amount, an optional price) and returns a :class:`UnifiedRequest`, a
:class:`concurrent.futures.Future` whose result is a unified :class:`~bpbfx.unified.Order`; the
native handle (``handle.native``) and its guarantees stay the same: validated before sending,
sent once, decided from the exchange's own records when the answer is lost, the same error
classes.  :func:`unified_order` turns a native order (Bitfinex or Backpack) into a unified one.

Mapping (also in ``docs/trading.md``, "One order API"):

==============  =========================================  =========================================
unified         Bitfinex (channel-0 order row)             Backpack (REST order / orderUpdate)
==============  =========================================  =========================================
side            ``amount_orig`` > 0: buy, < 0: sell        ``Bid``: buy, ``Ask``: sell
type            ``EXCHANGE LIMIT``/``LIMIT``: limit,       ``Limit``: limit, ``Market``: market
                ``EXCHANGE MARKET``/``MARKET``: market
status          ``ACTIVE``/``PARTIALLY FILLED``: open;     ``New``/``PartiallyFilled``/
                ``EXECUTED``: closed; ``CANCELED`` and     ``TriggerPending``: open; ``Filled``:
                every other refusal: canceled              closed; ``Cancelled``/``Expired``/
                                                           ``TriggerFailed``: canceled
amount          ``abs(amount_orig)``                       ``quantity``
filled          ``abs(amount_orig) - abs(amount)``         ``executedQuantity``
average         ``price_avg`` once filled                  ``executedQuoteQuantity / executedQuantity``
client_id       ``cid``                                    ``clientId``
==============  =========================================  =========================================
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError, InvalidOrderError, SymbolMappingError
from .events import Order
from .symbols import to_native, to_unified

if TYPE_CHECKING:
    from ..backpack.orders import Order as BackpackOrder
    from ..bitfinex.events import Order as BitfinexOrder

__all__ = ["UnifiedRequest", "cancel_order", "order_hook_argument", "submit_order", "unified_order"]

_ZERO = Decimal(0)


class UnifiedRequest(Future[Order]):
    """The handle of a unified order input: completed with the unified :class:`Order` when the
    native handle (:attr:`native`) completes, or with the native handle's error (the same error
    classes).  Done-callbacks run on the thread that completes the native handle."""

    def __init__(self, exchange: str, native: Future[Any]) -> None:
        super().__init__()
        self.set_running_or_notify_cancel()
        self.exchange = exchange
        self.native = native
        native.add_done_callback(self._native_done)

    @property
    def client_id(self) -> int | None:
        """The order's client id (Bitfinex ``cid``, Backpack ``clientId``)."""
        native = self.native
        return getattr(native, "client_id", None) if self.exchange == "backpack" else getattr(native, "cid", None)

    def _native_done(self, native: Future[Any]) -> None:
        error = native.exception()
        if error is not None:
            self.set_exception(error)
            return
        try:
            self.set_result(unified_order(self.exchange, native.result(), stream="rest"))
        except Exception as exc:  # noqa: BLE001 - handed to the waiter, never lost
            self.set_exception(exc)


def _unified_symbol(exchange: str, native: str | None) -> str:
    if not native:
        return ""
    try:
        return to_unified(exchange, native)
    except SymbolMappingError:
        return native


def unified_order(exchange: str, order: Any, *, stream: str = "account") -> Order:
    """The unified :class:`Order` of a native order (a Bitfinex channel-0 ``Order`` row or a
    Backpack ``Order``).

    Raises:
        ConfigurationError: unknown exchange.
    """
    now_us = time.time_ns() // 1000
    if exchange == "bitfinex":
        return _from_bitfinex(order, stream, now_us)
    if exchange == "backpack":
        return _from_backpack(order, stream, now_us)
    raise ConfigurationError(f"unknown exchange {exchange!r}; choose backpack or bitfinex")


def _from_bitfinex(o: BitfinexOrder, stream: str, now_us: int) -> Order:
    orig = o.amount_orig if o.amount_orig is not None else (o.amount or _ZERO)
    left = o.amount if o.amount is not None else orig
    amount = abs(orig)
    filled = amount - abs(left)
    native_type = (o.type or "").upper().removeprefix("EXCHANGE ")
    kind = {"LIMIT": "limit", "MARKET": "market"}.get(native_type, (o.type or "").lower())
    status_text = (o.status or "").upper()
    if status_text.startswith(("ACTIVE", "PARTIALLY FILLED")):
        status = "open"
    elif status_text.startswith("EXECUTED"):
        status = "closed"
    else:
        status = "canceled"
    symbol = o.symbol or ""
    return Order(
        stream=stream,
        symbol=_unified_symbol("bitfinex", symbol),
        data=o,
        exchange="bitfinex",
        native_symbol=symbol,
        exchange_time_us=o.mts_update * 1000 if o.mts_update else None,
        receive_time_us=now_us,
        id=str(o.id),
        client_id=o.cid,
        side="buy" if orig > 0 else "sell",
        type=kind,
        status=status,  # type: ignore[arg-type]
        price=o.price if kind != "market" else None,
        amount=amount,
        filled=filled,
        remaining=abs(left),
        average=o.price_avg if filled and o.price_avg else None,
        created_ms=o.mts_create,
        updated_ms=o.mts_update,
        native_status=o.status or "",
    )


def _from_backpack(o: BackpackOrder, stream: str, now_us: int) -> Order:
    if o.status in ("New", "PartiallyFilled", "TriggerPending"):
        status = "open"
    elif o.status == "Filled":
        status = "closed"
    else:
        status = "canceled"
    remaining = o.quantity - o.executed_quantity if o.quantity is not None else None
    return Order(
        stream=stream,
        symbol=_unified_symbol("backpack", o.symbol),
        data=o,
        exchange="backpack",
        native_symbol=o.symbol,
        exchange_time_us=o.created_at_ms * 1000 if o.created_at_ms else None,
        receive_time_us=now_us,
        id=o.id,
        client_id=o.client_id,
        side="buy" if o.side == "Bid" else "sell",
        type=o.order_type.lower(),
        status=status,  # type: ignore[arg-type]
        price=o.price,
        amount=o.quantity,
        filled=o.executed_quantity,
        remaining=remaining,
        average=o.average_price,
        created_ms=o.created_at_ms,
        native_status=o.status,
    )


def order_hook_argument(client: Any, change: Any) -> Any:
    """What a client hands to ``on_order``: the native order change, or, for a client made with
    ``unified=True``, the unified :class:`Order` of the changed order (its ``stream`` says what
    told: ``"stream"``, ``"rest"``, ``"snapshot"``...)."""
    if not client.unified:
        return change
    return unified_order(client.exchange, change.order, stream=str(getattr(change, "source", "account")))


def _side(side: str) -> str:
    lowered = str(side).lower()
    if lowered not in ("buy", "sell"):
        raise InvalidOrderError(f"side must be 'buy' or 'sell', got {side!r}", field="side")
    return lowered


def _amount(amount: object) -> Decimal:
    if isinstance(amount, (float, bool)):
        raise InvalidOrderError(
            f"amount must be exact: a Decimal, an int or decimal text, not {type(amount).__name__} ({amount!r})",
            field="amount",
        )
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except ArithmeticError:
        raise InvalidOrderError(f"amount must be a number like '0.01', got {amount!r}", field="amount") from None
    if not value.is_finite() or value <= 0:
        raise InvalidOrderError(f"amount must be > 0 (the side says buy or sell), got {amount!r}", field="amount")
    return value


def submit_order(
    client: Any,
    symbol: str,
    side: str,
    amount: Decimal | int | str,
    price: Decimal | int | str | None = None,
    *,
    type: str = "limit",
    post_only: bool = False,
    client_id: int | None = None,
) -> UnifiedRequest:
    """Place an order on ``client`` (a Bitfinex or Backpack client) from unified values.

    ``symbol`` is unified (``"SOL/USDC"``, ``"BTC/USD"``, ``"BTC/USDT:USDT"``); ``side`` ``"buy"``
    or ``"sell"``; ``amount`` > 0 in the base currency; ``type`` ``"limit"`` (needs ``price``)
    or ``"market"``.  Spot markets are traded on Bitfinex's exchange wallet (``EXCHANGE LIMIT``,
    ``EXCHANGE MARKET``), perpetuals on margin (``LIMIT``, ``MARKET``).

    Raises:
        InvalidOrderError: a value the exchange would refuse (the field is named), also a market
            Backpack does not list (a market Bitfinex does not have fails the handle with the
            exchange's refusal, :class:`~bpbfx.OrderRejectedError`).
        InvalidSymbolError: ``symbol`` is not a unified symbol.
        CredentialsError / ClientClosedError: as the client's own ``submit_order``.
    """
    exchange = client.exchange
    native = to_native(exchange, symbol)
    buy = _side(side) == "buy"
    size = _amount(amount)
    kind = str(type).lower()
    if kind not in ("limit", "market"):
        raise InvalidOrderError(f"type must be 'limit' or 'market', got {type!r}", field="type")
    if kind == "limit" and price is None:
        raise InvalidOrderError("a limit order needs a price", field="price")
    if kind == "market" and price is not None:
        raise InvalidOrderError("a market order takes no price", field="price")
    if exchange == "backpack":
        handle = client.submit_order(
            native, "Bid" if buy else "Ask", size, price, order_type="Limit" if kind == "limit" else "Market",
            post_only=post_only, client_id=client_id,
        )
    elif exchange == "bitfinex":
        from ..bitfinex.orders import POSTONLY

        spot = ":" not in symbol
        native_type = ("EXCHANGE " if spot else "") + kind.upper()
        handle = client.submit_order(
            native, size if buy else -size, price, type=native_type, cid=client_id,
            flags=POSTONLY if post_only else 0,
        )
    else:
        raise ConfigurationError(f"unknown exchange {exchange!r}")
    return UnifiedRequest(exchange, handle)


def cancel_order(
    client: Any, symbol: str, order_id: str | None = None, *, client_id: int | None = None
) -> UnifiedRequest:
    """Cancel an order on ``client`` by its id (text, as in :attr:`Order.id`) or client id; the
    result is the unified cancelled order.

    Raises:
        InvalidOrderError: neither or both ids, or an id the exchange cannot take.
        InvalidSymbolError: ``symbol`` is not a unified symbol.
    """
    exchange = client.exchange
    native = to_native(exchange, symbol)
    if (order_id is None) == (client_id is None):
        raise InvalidOrderError("cancel_order takes exactly one of order_id or client_id", field="order_id")
    if exchange == "backpack":
        handle = client.cancel_order(native, order_id, client_id=client_id)
    else:
        if order_id is not None:
            if not str(order_id).isdigit():
                raise InvalidOrderError(f"a Bitfinex order id is a number, got {order_id!r}", field="order_id")
            handle = client.cancel_order(int(order_id))
        else:
            raise InvalidOrderError(
                "on Bitfinex cancel by order_id (a cid also needs its date: use client.cancel_order(cid=, cid_date=))",
                field="client_id",
            )
    return UnifiedRequest(exchange, handle)
