"""Bitfinex order entry over the authenticated WebSocket (channel 0), without I/O.

Two parts, neither of which touches a socket or reads a clock of its own:

- **Input builders** (:func:`new_order`, :func:`update_order`, :func:`cancel_order`,
  :func:`cancel_orders`, :func:`calc`, :func:`new_funding_offer`, :func:`cancel_funding_offer`)
  validate their arguments against the exchange's rules and return an :class:`OrderInput`,
  the JSON frame ``[0, KIND, null, {...}]`` ready to send.  Invalid input raises
  :class:`~bpbfx.exceptions.InvalidOrderError` at once, naming the field and what is valid.
- **The order core** (:class:`OrderCore`) turns inputs into request handles
  (:class:`Request`, a :class:`concurrent.futures.Future`), matches the exchange's replies to
  them, keeps the live view of open orders and wallets, and reconciles requests left in doubt
  by a dropped socket from the snapshot sent after re-authentication.  Frames to send,
  futures to complete and order changes to report are queued and taken by the owner (the
  client), which carries them out outside its lock.

Rules implemented (docs.bitfinex.com, "ws-auth-input-*", "flag-values", "ws-auth-orders"):

- Order types: LIMIT, EXCHANGE LIMIT, MARKET, EXCHANGE MARKET, STOP, EXCHANGE STOP, STOP LIMIT,
  EXCHANGE STOP LIMIT, TRAILING STOP, EXCHANGE TRAILING STOP, FOK, EXCHANGE FOK, IOC, EXCHANGE
  IOC (rest-auth-submit-order).  Flags: HIDDEN 64, CLOSE 512, REDUCE_ONLY 1024, POSTONLY 4096,
  OCO 16384, NO_VAR_RATES 524288; offers take HIDDEN only (flag-values).
- Prices carry at most 5 significant digits (the API truncates more: docs "Price
  Precision"); amounts at most 8 decimals (the smallest amount is 0.00000001: order status
  RSN_DUST).  Numbers travel as exact decimal strings.
- ``cid`` is an int45 that "should be unique in the day (UTC)"; an order is cancelled by
  ``cid`` with ``cid_date`` (``YYYY-MM-DD``, the UTC day it was created).  ``gid`` is an int32.
- ``ox_multi`` takes at most 75 operations (ws-auth-input-order-multi-op); ``calc`` at most 30
  calculations per request and the server performs at most 8 per second (ws-auth-input-calc).
- Order creation is limited to 1,000 orders per 5 minutes per user, shared by all of the
  account's connections (bitfinex-api-node README, "Order Creation Limits").
- ``on-req``/``ou-req`` notifications carry the order row; ``oc-req`` says "Submitted for
  cancellation; waiting for confirmation" and the ``oc`` order frame confirms it; an order
  that fills at once may show up first as ``oc`` (bitfinex-api-node README, "'on' Packet
  Guarantees").  Rejections put ``null`` where the order id would be.

Matching (never by arrival order): ``on`` by ``cid`` (generated when not given, unique per UTC
day: milliseconds of the day times 1000 plus a counter, always below 2**45); ``ou``/``oc``/
``foc`` by the order (offer) id in the reply's row, a cancel by cid also by that cid;
``fon`` by its amount, rate and period (the reply has no client id); a refusal whose row names
no order goes to the single request of its kind in flight, if there is one.  An input whose reply
could not be told apart from another one in flight is refused before sending
(:class:`~bpbfx.exceptions.OrderNotSentError`): one ``oc_multi`` and one ``ox_multi`` at a
time, one ``ou`` and one ``oc`` per order, one ``fon`` per (amount, rate, period).

Exactly once: an input is sent once and never replayed.  A request whose socket drops before
its outcome arrives is *in doubt*; after re-authentication the ``os`` (``fos`` for offers)
snapshot decides it, see ``OrderCore._reconcile_orders`` and the README "Trading" section.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, TypeVar

from ..events import Event
from ..exceptions import (
    BpbfxError,
    InvalidOrderError,
    MalformedFrameError,
    OrderNotSentError,
    OrderRateLimitError,
    OrderRejectedError,
    OrderStatusUnknownError,
)
from .decode import decode_account
from .events import (
    AccountTradeUpdate,
    FundingOffer,
    FundingOffersSnapshot,
    FundingOfferUpdate,
    Notification,
    Order,
    OrdersSnapshot,
    OrderUpdate,
    Wallet,
    WalletsSnapshot,
    WalletUpdate,
)

__all__ = [
    "CALC_RATE_LIMIT",
    "CLOSE",
    "HIDDEN",
    "MAX_BATCH_OPS",
    "MAX_CALC_ITEMS",
    "MAX_CID",
    "NO_VAR_RATES",
    "OCO",
    "OFFER_TYPES",
    "ORDER_FLAGS",
    "ORDER_RATE_LIMIT",
    "ORDER_TYPES",
    "POSTONLY",
    "REDUCE_ONLY",
    "BatchRequest",
    "CidSource",
    "OrderChange",
    "OrderCore",
    "OrderInput",
    "Request",
    "calc",
    "cancel_funding_offer",
    "cid_date_of",
    "complete",
    "cancel_order",
    "cancel_orders",
    "new_funding_offer",
    "new_order",
    "to_decimal",
    "update_order",
]

_T = TypeVar("_T")

# --------------------------------------------------------------------------------------------
# Exchange rules
# --------------------------------------------------------------------------------------------

#: Order types (rest-auth-submit-order, "Available order types").
ORDER_TYPES: Final[tuple[str, ...]] = (
    "LIMIT",
    "EXCHANGE LIMIT",
    "MARKET",
    "EXCHANGE MARKET",
    "STOP",
    "EXCHANGE STOP",
    "STOP LIMIT",
    "EXCHANGE STOP LIMIT",
    "TRAILING STOP",
    "EXCHANGE TRAILING STOP",
    "FOK",
    "EXCHANGE FOK",
    "IOC",
    "EXCHANGE IOC",
)
_MARKET_TYPES: Final = frozenset({"MARKET", "EXCHANGE MARKET"})
_TRAILING_TYPES: Final = frozenset({"TRAILING STOP", "EXCHANGE TRAILING STOP"})
_STOP_LIMIT_TYPES: Final = frozenset({"STOP LIMIT", "EXCHANGE STOP LIMIT"})
_IMMEDIATE_TYPES: Final = frozenset({"FOK", "EXCHANGE FOK", "IOC", "EXCHANGE IOC"})

# Flag values (docs.bitfinex.com/docs/flag-values).
HIDDEN: Final = 64
CLOSE: Final = 512
REDUCE_ONLY: Final = 1024
POSTONLY: Final = 4096
OCO: Final = 16384
NO_VAR_RATES: Final = 524288
#: Order flags by name; a ``flags`` value is a sum of these.
ORDER_FLAGS: Final[Mapping[str, int]] = {
    "HIDDEN": HIDDEN,
    "CLOSE": CLOSE,
    "REDUCE_ONLY": REDUCE_ONLY,
    "POSTONLY": POSTONLY,
    "OCO": OCO,
    "NO_VAR_RATES": NO_VAR_RATES,
}
_ORDER_FLAG_MASK: Final = sum(ORDER_FLAGS.values())
_OFFER_FLAG_MASK: Final = HIDDEN  # offers take only HIDDEN (flag-values, "Offer Flags")

#: Funding offer types (rest-auth-submit-funding-offer).
OFFER_TYPES: Final[tuple[str, ...]] = ("LIMIT", "FRRDELTAVAR", "FRRDELTAFIX")

#: At most this many operations in one ``ox_multi`` (ws-auth-input-order-multi-op).
MAX_BATCH_OPS: Final = 75
#: At most this many calculations in one ``calc`` (ws-auth-input-calc).
MAX_CALC_ITEMS: Final = 30
#: ``cid`` is an int45 (ws-auth-input-order-new): 1 <= cid < MAX_CID.
MAX_CID: Final = 2**45
_MAX_GID: Final = 2**31 - 1  # gid is an int32
_PRICE_DIGITS: Final = 5  # significant digits of a price (docs "Price Precision")
_DECIMALS: Final = 8  # smallest amount 0.00000001 (order status RSN_DUST)
_MAX_LEVERAGE: Final = 100  # lev: 1..100, derivative pairs only (rest-auth-submit-order)
_OFFER_PERIOD: Final = (2, 120)  # days (rest-auth-submit-funding-offer)

#: Default order-creation limit: 1,000 orders per 300 s per user (bitfinex-api-node README).
ORDER_RATE_LIMIT: Final = (1000, 300.0)
#: Default calc limit: 8 calculations per second per client (ws-auth-input-calc).
CALC_RATE_LIMIT: Final = (8, 1.0)

_TRADING_SYMBOL: Final = re.compile(r"t[A-Z0-9]{2,}(?::[A-Z0-9]{2,})?")
_FUNDING_SYMBOL: Final = re.compile(r"f[A-Z0-9]{2,}")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME: Final = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_CALC_ITEM: Final = re.compile(
    r"margin_base|balance|margin_sym_t[A-Z0-9:]{2,}|funding_sym_f[A-Z0-9]{2,}|position_t[A-Z0-9:]{2,}"
    r"|wallet_(?:exchange|margin|funding)_[A-Z0-9]{2,}"
)
# Notification CODE is "work in progress" (null) on the wire, so a rate-limit refusal can only
# be recognised by its text ("ratelimit: error", "Reached Maximum number of orders per ...").
_RATE_LIMIT_TEXT: Final = re.compile(r"rate.?limit|maximum number of orders", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------


def to_decimal(name: str, value: object) -> Decimal:
    """``value`` (Decimal, str or int) as an exact :class:`~decimal.Decimal`.

    A ``float`` is accepted only when its exact binary value is a decimal with at most 8
    places (``2.0``, ``0.5``, ``0.25``): ``0.1`` is really 0.1000000000000000055..., so it is
    refused with a message asking for ``"0.1"`` or ``Decimal("0.1")``.

    Raises:
        InvalidOrderError: not a finite number of an accepted type.
    """
    if isinstance(value, bool):
        raise InvalidOrderError(f"{name} must be a number (Decimal, str or int), got a bool", field=name)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if text != value or not text:
            raise InvalidOrderError(f"{name} {value!r} is not a plain decimal number such as '0.25'", field=name)
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise InvalidOrderError(f"{name} {value!r} is not a decimal number such as '0.25'", field=name) from None
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidOrderError(f"{name} must be a finite number, got {value!r}", field=name)
        number = Decimal(value)  # exact binary value
        if _decimals(number) > _DECIMALS:
            raise InvalidOrderError(
                f"{name} {value!r} is a float whose exact value is {number} (binary floats cannot hold most "
                f"decimals); pass the string {repr(value)!r} or Decimal({repr(value)!r}) instead",
                field=name,
            )
    else:
        raise InvalidOrderError(f"{name} must be a Decimal, str or int, got {type(value).__name__}", field=name)
    if not number.is_finite():
        raise InvalidOrderError(f"{name} must be a finite number, got {value!r}", field=name)
    return number


def _plain(number: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros: ``Decimal("3E+4")`` -> ``"30000"``."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def _decimals(number: Decimal) -> int:
    text = _plain(number)
    return len(text) - text.index(".") - 1 if "." in text else 0


def _significant(number: Decimal) -> int:
    digits = _plain(abs(number)).replace(".", "").strip("0")
    return len(digits)


def _amount(name: str, value: object, *, allow_zero: bool = False) -> str:
    number = to_decimal(name, value)
    if not number and not allow_zero:
        raise InvalidOrderError(f"{name} must not be zero (positive buys, negative sells)", field=name)
    if _decimals(number) > _DECIMALS:
        raise InvalidOrderError(
            f"{name} {_plain(number)} has {_decimals(number)} decimals; Bitfinex takes at most {_DECIMALS} "
            f"(smallest amount 0.00000001)",
            field=name,
        )
    return _plain(number)


def _price(name: str, value: object) -> str:
    number = to_decimal(name, value)
    if number <= 0:
        raise InvalidOrderError(f"{name} must be greater than zero, got {_plain(number)}", field=name)
    digits = _significant(number)
    if digits > _PRICE_DIGITS or _decimals(number) > _DECIMALS:
        raise InvalidOrderError(
            f"{name} {_plain(number)} has {digits} significant digits; Bitfinex prices carry at most "
            f"{_PRICE_DIGITS} significant digits and {_DECIMALS} decimals (e.g. 12345, 1234.5, 0.012345) "
            "and the exchange would truncate the rest: round it first",
            field=name,
        )
    return _plain(number)


# --------------------------------------------------------------------------------------------
# Field checks
# --------------------------------------------------------------------------------------------


def _int(name: str, value: object, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOrderError(f"{name} must be an int ({what}), got {type(value).__name__}", field=name)
    if not low <= value <= high:
        raise InvalidOrderError(f"{name} must be {what}, got {value}", field=name)
    return value


def _order_id(name: str, value: object) -> int:
    return _int(name, value, 1, 2**63 - 1, "a positive order id")


def _cid(value: object) -> int:
    return _int(
        "cid", value, 1, MAX_CID - 1, f"a client order id from 1 to 2**45-1 ({MAX_CID - 1}), unique per UTC day"
    )


def _gid(value: object) -> int:
    return _int("gid", value, 1, _MAX_GID, f"a group id from 1 to {_MAX_GID} (int32)")


def _trading_symbol(symbol: object) -> str:
    if not isinstance(symbol, str) or not _TRADING_SYMBOL.fullmatch(symbol):
        raise InvalidOrderError(
            f"symbol {symbol!r} is not a Bitfinex trading symbol: orders need a 't' symbol such as "
            "'tBTCUSD', 'tDUSK:USD' or 'tBTCF0:USTF0' (funding 'f' symbols take funding offers)",
            field="symbol",
        )
    return symbol


def _flags(value: object, mask: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidOrderError(f"flags must be a non-negative int (a sum of {what}), got {value!r}", field="flags")
    unknown = value & ~mask
    if unknown:
        raise InvalidOrderError(
            f"flags {value} has bits Bitfinex does not define ({unknown}); valid flags are {what}", field="flags"
        )
    return value


_FLAG_TEXT: Final = ", ".join(f"{name} {bit}" for name, bit in ORDER_FLAGS.items())


def cid_date_of(value: date | datetime | str, name: str = "cid_date") -> str:
    """A UTC day as ``YYYY-MM-DD`` (the form ``cid_date`` takes).

    Raises:
        InvalidOrderError: not a date, aware datetime or ``YYYY-MM-DD`` text.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidOrderError(f"{name} datetime must be timezone-aware (the day is the UTC day)", field=name)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            pass
        else:
            return value
    raise InvalidOrderError(f"{name} must be the order's UTC creation day as 'YYYY-MM-DD', got {value!r}", field=name)


def _tif(value: object) -> tuple[str, int]:
    """``tif`` as the exchange's text (``YYYY-MM-DD HH:MM:SS`` UTC, or ``YYYY-MM-DD``) and its
    epoch milliseconds (Bitfinex changelog 2018-06-08: datetime format)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidOrderError("tif datetime must be timezone-aware (Bitfinex reads tif as UTC)", field="tif")
        utc = value.astimezone(timezone.utc).replace(microsecond=0)
        return utc.strftime("%Y-%m-%d %H:%M:%S"), int(utc.timestamp() * 1000)
    if isinstance(value, str):
        for pattern, fmt in ((_DATETIME, "%Y-%m-%d %H:%M:%S"), (_DATE, "%Y-%m-%d")):
            if pattern.fullmatch(value):
                try:
                    moment = datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
                except ValueError:
                    break
                return value, int(moment.timestamp() * 1000)
    raise InvalidOrderError(
        f"tif must be an aware datetime or UTC text 'YYYY-MM-DD HH:MM:SS' (or 'YYYY-MM-DD'), got {value!r}",
        field="tif",
    )


def _leverage(value: object, symbol: str | None) -> int:
    lev = _int("lev", value, 1, _MAX_LEVERAGE, f"from 1 to {_MAX_LEVERAGE}")
    if symbol is not None and "F0:" not in symbol:
        raise InvalidOrderError(
            f"lev applies to derivative pairs only (such as 'tBTCF0:USTF0'), not {symbol!r}", field="lev"
        )
    return lev


def _meta(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidOrderError(
            "meta must be a dict with str keys (e.g. {'aff_code': 'CODE'} or {'protect_selfmatch': 1})", field="meta"
        )
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise InvalidOrderError(f"meta must be JSON-serialisable: {exc}", field="meta") from None
    return dict(value)


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------

InputKind = Literal["on", "ou", "oc", "oc_multi", "ox_multi", "calc", "fon", "foc"]


@dataclass(frozen=True, slots=True)
class OrderInput:
    """One validated channel-0 input; :meth:`frame` is ``[0, kind, null, payload]``.

    ``payload`` is the JSON object (a list for ``calc``) with every amount and price as an
    exact decimal string.  Build inputs with :func:`new_order`, :func:`update_order`,
    :func:`cancel_order`, :func:`cancel_orders`, :func:`calc`, :func:`new_funding_offer` and
    :func:`cancel_funding_offer`; :meth:`OrderCore.submit` fills in a ``cid`` when a new order
    has none.  ``tif_ms`` is the time-in-force as epoch milliseconds, when given.
    """

    kind: InputKind
    payload: Any
    tif_ms: int | None = None

    def frame(self) -> str:
        """The frame to send, as compact JSON text."""
        return json.dumps([0, self.kind, None, self.payload], separators=(",", ":"))

    @property
    def cid(self) -> int | None:
        """The client order id of an ``on`` (or of an ``oc`` by cid)."""
        return self.payload.get("cid") if isinstance(self.payload, dict) else None

    @property
    def order_id(self) -> int | None:
        """The order (or offer) id of an ``ou``, ``oc`` or ``foc``."""
        return self.payload.get("id") if isinstance(self.payload, dict) else None


def new_order(
    symbol: str,
    amount: Decimal | str | int,
    price: Decimal | str | int | None = None,
    *,
    type: str = "EXCHANGE LIMIT",
    cid: int | None = None,
    gid: int | None = None,
    flags: int = 0,
    price_trailing: Decimal | str | int | None = None,
    price_aux_limit: Decimal | str | int | None = None,
    price_oco_stop: Decimal | str | int | None = None,
    tif: datetime | str | None = None,
    lev: int | None = None,
    meta: Mapping[str, Any] | None = None,
) -> OrderInput:
    """A new order, ``[0, "on", null, {...}]`` (ws-auth-input-order-new).

    ``amount`` > 0 buys, < 0 sells.  ``price`` is required by every type but MARKET and
    TRAILING STOP (for STOP it is the stop price; STOP LIMIT also needs ``price_aux_limit``,
    the limit); TRAILING STOP needs ``price_trailing``; the OCO flag needs ``price_oco_stop``.

    Raises:
        InvalidOrderError: an argument the exchange would refuse (the message says what is valid).
    """
    symbol = _trading_symbol(symbol)
    if type not in ORDER_TYPES:
        raise InvalidOrderError(f"unknown order type {type!r}; valid types: {', '.join(ORDER_TYPES)}", field="type")
    payload: dict[str, Any] = {}
    if gid is not None:
        payload["gid"] = _gid(gid)
    if cid is not None:
        payload["cid"] = _cid(cid)
    payload["type"] = type
    payload["symbol"] = symbol
    payload["amount"] = _amount("amount", amount)
    if type in _MARKET_TYPES:
        if price is not None:
            raise InvalidOrderError(
                f"price given for a {type} order; market orders take no price (use a LIMIT type to set one)",
                field="price",
            )
    elif type in _TRAILING_TYPES:
        if price is not None:
            raise InvalidOrderError(
                f"price given for a {type} order; trailing stops take price_trailing (the distance) only",
                field="price",
            )
        if price_trailing is None:
            raise InvalidOrderError(
                f"a {type} order needs price_trailing (the trailing distance)", field="price_trailing"
            )
    elif price is None:
        raise InvalidOrderError(f"a {type} order needs a price", field="price")
    if price is not None:
        payload["price"] = _price("price", price)
    if price_trailing is not None:
        if type not in _TRAILING_TYPES:
            raise InvalidOrderError(
                f"price_trailing applies to TRAILING STOP orders only, not {type}", field="price_trailing"
            )
        payload["price_trailing"] = _price("price_trailing", price_trailing)
    if type in _STOP_LIMIT_TYPES and price_aux_limit is None:
        raise InvalidOrderError(f"a {type} order needs price_aux_limit (the limit price)", field="price_aux_limit")
    if price_aux_limit is not None:
        if type not in _STOP_LIMIT_TYPES:
            raise InvalidOrderError(
                f"price_aux_limit applies to STOP LIMIT orders only, not {type}", field="price_aux_limit"
            )
        payload["price_aux_limit"] = _price("price_aux_limit", price_aux_limit)
    flags = _flags(flags, _ORDER_FLAG_MASK, _FLAG_TEXT)
    if bool(flags & OCO) != (price_oco_stop is not None):
        raise InvalidOrderError(
            "the OCO flag (16384) and price_oco_stop go together: give both or neither", field="price_oco_stop"
        )
    if price_oco_stop is not None:
        payload["price_oco_stop"] = _price("price_oco_stop", price_oco_stop)
    if flags & POSTONLY and (type in _MARKET_TYPES or type in _IMMEDIATE_TYPES):
        raise InvalidOrderError(f"POSTONLY (4096) contradicts a {type} order, which takes liquidity", field="flags")
    payload["flags"] = flags
    tif_ms = None
    if tif is not None:
        payload["tif"], tif_ms = _tif(tif)
    if lev is not None:
        payload["lev"] = _leverage(lev, symbol)
    if meta is not None:
        payload["meta"] = _meta(meta)
    return OrderInput("on", payload, tif_ms)


def update_order(
    id: int,
    *,
    amount: Decimal | str | int | None = None,
    price: Decimal | str | int | None = None,
    delta: Decimal | str | int | None = None,
    price_aux_limit: Decimal | str | int | None = None,
    price_trailing: Decimal | str | int | None = None,
    gid: int | None = None,
    flags: int | None = None,
    tif: datetime | str | None = None,
    lev: int | None = None,
    meta: Mapping[str, Any] | None = None,
) -> OrderInput:
    """Change an open order, ``[0, "ou", null, {"id": ID, ...}]`` (ws-auth-input-order-update).

    ``amount`` sets the remaining amount, ``delta`` adds to it (give one or neither).

    Raises:
        InvalidOrderError: no change asked for, or an invalid field.
    """
    payload: dict[str, Any] = {"id": _order_id("id", id)}
    if amount is not None and delta is not None:
        raise InvalidOrderError(
            "give amount (the new remaining amount) or delta (added to it), not both", field="delta"
        )
    if amount is not None:
        payload["amount"] = _amount("amount", amount)
    if delta is not None:
        payload["delta"] = _amount("delta", delta)
    if price is not None:
        payload["price"] = _price("price", price)
    if price_aux_limit is not None:
        payload["price_aux_limit"] = _price("price_aux_limit", price_aux_limit)
    if price_trailing is not None:
        payload["price_trailing"] = _price("price_trailing", price_trailing)
    if gid is not None:
        payload["gid"] = _gid(gid)
    if flags is not None:
        payload["flags"] = _flags(flags, _ORDER_FLAG_MASK, _FLAG_TEXT)
    tif_ms = None
    if tif is not None:
        payload["tif"], tif_ms = _tif(tif)
    if lev is not None:
        payload["lev"] = _leverage(lev, None)
    if meta is not None:
        payload["meta"] = _meta(meta)
    if len(payload) == 1:
        raise InvalidOrderError(
            "update_order needs at least one change: amount, delta, price, price_aux_limit, price_trailing, "
            "gid, flags, tif, lev or meta",
            field="id",
        )
    return OrderInput("ou", payload, tif_ms)


def cancel_order(
    id: int | None = None, *, cid: int | None = None, cid_date: date | datetime | str | None = None
) -> OrderInput:
    """Cancel one order by ``id``, or by ``cid`` and ``cid_date`` (its UTC creation day),
    ``[0, "oc", null, {...}]`` (ws-auth-input-order-cancel).  Without ``cid_date``,
    :meth:`OrderCore.submit` uses the day it submitted that cid (else today, UTC).

    Raises:
        InvalidOrderError: neither or both of ``id`` and ``cid``.
    """
    if (id is None) == (cid is None):
        raise InvalidOrderError("cancel_order takes either id or cid (with cid_date), not both or neither", field="id")
    if id is not None:
        if cid_date is not None:
            raise InvalidOrderError("cid_date goes with cid, not with id", field="cid_date")
        return OrderInput("oc", {"id": _order_id("id", id)})
    payload: dict[str, Any] = {"cid": _cid(cid)}
    if cid_date is not None:
        payload["cid_date"] = cid_date_of(cid_date)
    return OrderInput("oc", payload)


def cancel_orders(
    ids: Iterable[int] | None = None,
    cids: Iterable[tuple[int, date | datetime | str]] | None = None,
    gids: Iterable[int] | None = None,
    all: bool = False,
) -> OrderInput:
    """Cancel several orders, ``[0, "oc_multi", null, {...}]``: by order ids, by
    ``(cid, cid_date)`` pairs, by group ids, or ``all=True`` for every order (trading and
    derivatives alike, rest-auth-order-cancel-multi).

    Raises:
        InvalidOrderError: nothing selected, ``all`` combined with a selector, or a bad id.
    """
    payload: dict[str, Any] = {}
    if ids is not None:
        payload["id"] = [_order_id("ids", i) for i in ids]
    if cids is not None:
        pairs = []
        for pair in cids:
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise InvalidOrderError(
                    "cids must be (cid, cid_date) pairs, e.g. [(12345, '2026-12-01')]", field="cids"
                )
            pairs.append([_cid(pair[0]), cid_date_of(pair[1], "cids")])
        payload["cid"] = pairs
    if gids is not None:
        payload["gid"] = [_gid(g) for g in gids]
    if any(not v for v in payload.values()):
        raise InvalidOrderError("ids, cids and gids must not be empty lists when given", field="ids")
    if all:
        if payload:
            raise InvalidOrderError(
                "all=True cancels every order; do not combine it with ids, cids or gids", field="all"
            )
        payload["all"] = 1
    if not payload:
        raise InvalidOrderError("cancel_orders needs ids, cids, gids or all=True", field="ids")
    return OrderInput("oc_multi", payload)


def calc(items: Sequence[str]) -> OrderInput:
    """Ask for recalculations, ``[0, "calc", null, [["margin_base"], ...]]`` (ws-auth-input-calc).

    Items: ``margin_base``, ``balance``, ``margin_sym_<tSYMBOL>``, ``funding_sym_<fSYMBOL>``,
    ``position_<tSYMBOL>``, ``wallet_<exchange|margin|funding>_<CURRENCY>``; 1 to 30 of them.
    The answers arrive as ``miu``/``fiu``/``pu``/``wu``/``bu`` account events, not as a reply.

    Raises:
        InvalidOrderError: no items, more than 30, or an unknown item.
    """
    if isinstance(items, str):
        items = [items]
    items = list(items)
    if not 1 <= len(items) <= MAX_CALC_ITEMS:
        raise InvalidOrderError(f"calc takes 1 to {MAX_CALC_ITEMS} items per request, got {len(items)}", field="items")
    for item in items:
        if not isinstance(item, str) or not _CALC_ITEM.fullmatch(item):
            raise InvalidOrderError(
                f"unknown calc item {item!r}; valid: margin_base, balance, margin_sym_tBTCUSD, funding_sym_fUSD, "
                "position_tBTCUSD, wallet_exchange_BTC / wallet_margin_BTC / wallet_funding_USD",
                field="items",
            )
    return OrderInput("calc", [[item] for item in items])


def new_funding_offer(
    symbol: str,
    amount: Decimal | str | int,
    rate: Decimal | str | int,
    period: int,
    *,
    type: str = "LIMIT",
    flags: int = 0,
) -> OrderInput:
    """A funding offer, ``[0, "fon", null, {...}]`` (ws-auth-input-offer-new).

    ``amount`` > 0 lends, < 0 borrows; ``rate`` is per day (0.0002 = 0.02%); for FRRDELTAVAR
    and FRRDELTAFIX it is the offset from the FRR (FRRDELTAVAR: 0 or more); ``period`` 2 to 120
    days; ``flags`` 0 or HIDDEN (64).

    Raises:
        InvalidOrderError: an argument the exchange would refuse.
    """
    if not isinstance(symbol, str) or not _FUNDING_SYMBOL.fullmatch(symbol):
        raise InvalidOrderError(f"symbol {symbol!r} is not a funding symbol such as 'fUSD' or 'fBTC'", field="symbol")
    if type not in OFFER_TYPES:
        raise InvalidOrderError(
            f"unknown funding offer type {type!r}; valid types: {', '.join(OFFER_TYPES)}", field="type"
        )
    number = to_decimal("rate", rate)
    if _decimals(number) > _DECIMALS:
        raise InvalidOrderError(f"rate {_plain(number)} has more than {_DECIMALS} decimals", field="rate")
    if type == "LIMIT" and number <= 0:
        raise InvalidOrderError("a LIMIT offer needs a rate greater than zero (per day, 0.0002 = 0.02%)", field="rate")
    if type == "FRRDELTAVAR" and number < 0:
        raise InvalidOrderError("a FRRDELTAVAR offset must be 0 or more (0 = the FRR)", field="rate")
    low, high = _OFFER_PERIOD
    payload = {
        "type": type,
        "symbol": symbol,
        "amount": _amount("amount", amount),
        "rate": _plain(number),
        "period": _int("period", period, low, high, f"a number of days from {low} to {high}"),
        "flags": _flags(flags, _OFFER_FLAG_MASK, "HIDDEN 64 (the only offer flag)"),
    }
    return OrderInput("fon", payload)


def cancel_funding_offer(id: int) -> OrderInput:
    """Cancel a funding offer, ``[0, "foc", null, {"id": ID}]`` (ws-auth-input-offer-cancel).

    Raises:
        InvalidOrderError: not a positive id.
    """
    return OrderInput("foc", {"id": _order_id("id", id)})


# --------------------------------------------------------------------------------------------
# Client order ids
# --------------------------------------------------------------------------------------------


def _utc_day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d")


class CidSource:
    """Client order ids unique within each UTC day, always below 2**45.

    ``cid = milliseconds since UTC midnight * 1000 + counter``, strictly increasing within a
    day (at most 86_399_999_999 < 2**45): 1,000 ids per millisecond before borrowing from the
    next one.  A new process on the same key starts above the ids an earlier one used unless
    that one ran ahead of the clock.  Not thread-safe (the core is called under a lock).
    """

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._day: str | None = None
        self._last = 0

    def next(self) -> tuple[int, str]:
        """The next ``(cid, cid_date)``."""
        now = self._wall()
        day = _utc_day(now)
        if day != self._day:
            self._day = day
            self._last = 0
        ms_of_day = int(now * 1000) % 86_400_000
        cid = max(self._last + 1, ms_of_day * 1000)
        self._last = cid
        return cid, day


# --------------------------------------------------------------------------------------------
# Request handles
# --------------------------------------------------------------------------------------------

RequestState = Literal["sent", "acknowledged", "in_doubt", "reconciling", "done"]


class Request(Future[_T]):
    """The handle of one input: a :class:`concurrent.futures.Future` that the client
    completes on its reader thread.

    :meth:`result` returns the :class:`~bpbfx.bitfinex.events.Order` (``on``, ``ou``, ``oc``),
    a tuple of orders (``oc_multi``), a :class:`~bpbfx.bitfinex.events.FundingOffer` (``fon``,
    ``foc``) or ``None`` (``calc``, which has no reply).  It raises
    :class:`~bpbfx.exceptions.OrderRejectedError` when the exchange refused the input,
    :class:`~bpbfx.exceptions.OrderNotSentError` when it was not sent,
    :class:`~bpbfx.exceptions.OrderStatusUnknownError` when its outcome could not be confirmed.
    Works with :func:`concurrent.futures.wait`, :func:`~concurrent.futures.as_completed` and
    :meth:`add_done_callback` (callbacks run on the reader thread, or at once on the calling
    thread when already done).  :meth:`cancel` always returns False: a sent input cannot be
    withdrawn; cancel the order with ``cancel_order`` instead.

    Attributes:
        input: the :class:`OrderInput` sent.
        state: ``"sent"``, ``"acknowledged"`` (cancel accepted, confirmation pending),
            ``"in_doubt"`` (socket dropped before the outcome), ``"reconciling"`` (waiting a
            moment after the snapshot), ``"done"``.
        cid / cid_date: of a new order (generated when not given) or of a cancel by cid.
        order_id: the order (offer) id, once known.
        notification: the exchange's ``n`` reply, once received.
        reconciled: True when the outcome came from the snapshot after a reconnect.
    """

    def __init__(self, inp: OrderInput) -> None:
        super().__init__()
        self.set_running_or_notify_cancel()  # a sent input cannot be withdrawn
        self.input = inp
        self.kind = inp.kind
        self.state: RequestState = "sent"
        self.cid: int | None = inp.cid
        self.cid_date: str | None = inp.payload.get("cid_date") if isinstance(inp.payload, dict) else None
        self.order_id: int | None = inp.order_id
        self.notification: Notification | None = None
        self.reconciled = False
        self.sent_at = 0.0  # monotonic
        self.lost_at: float | None = None  # monotonic time the socket dropped while in flight
        self.deadline: float | None = None  # reconciling: give up at this monotonic time
        self.batch: BatchRequest | None = None
        self.outcome: tuple[Any, BaseException | None] | None = None  # decided, not yet applied
        self.evidence: int | None = None  # order id seen in a trade for this cid

    def __repr__(self) -> str:
        ident = f" cid={self.cid}" if self.cid is not None else ""
        ident += f" id={self.order_id}" if self.order_id is not None else ""
        return f"<Request {self.kind}{ident} {self.state}>"


class BatchRequest(Request[list[Any]]):
    """Handle of an ``ox_multi``: :attr:`requests` holds one :class:`Request` per operation,
    in order, each completed by its own reply.  :meth:`result` gives the list of their
    results once all are done, or raises the first operation's error (in operation order);
    inspect :attr:`requests` to see which operations succeeded."""

    def __init__(self, inp: OrderInput, requests: Sequence[Request[Any]]) -> None:
        super().__init__(inp)
        self.requests: tuple[Request[Any], ...] = tuple(requests)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderChange:
    """A change to the live view of open orders, handed to ``on_order``.

    ``kind`` is ``"new"`` (now open), ``"update"`` (changed: filled in part, amended) or
    ``"closed"`` (no longer open: ``order.status`` says EXECUTED or CANCELED; a ``"closed"``
    from a snapshot (``source == "os"``) means the order left while the socket was down and
    ``order`` is its last state seen).  ``source`` is the frame type: ``os``, ``on``, ``ou``,
    ``oc``.  ``previous`` is the state before, when it was open.
    """

    kind: Literal["new", "update", "closed"]
    order: Order
    source: str
    previous: Order | None = None


@dataclass(slots=True)
class _Window:
    """Sliding-window budget of ``limit`` units per ``period`` seconds (injected time)."""

    limit: int
    period: float
    stamps: list[float] = field(default_factory=list)

    def take(self, units: int, now: float) -> float:
        """Take ``units`` and return 0.0, or take nothing and return the seconds to wait
        (``inf`` when ``units`` exceeds the limit)."""
        cutoff = now - self.period
        if self.stamps and self.stamps[0] <= cutoff:
            self.stamps = [t for t in self.stamps if t > cutoff]
        if units > self.limit:
            return float("inf")
        room = self.limit - len(self.stamps)
        if units <= room:
            self.stamps.extend([now] * units)
            return 0.0
        return self.stamps[units - room - 1] - cutoff


# --------------------------------------------------------------------------------------------
# The core
# --------------------------------------------------------------------------------------------

Completion = tuple[Request[Any], Any, "BaseException | None"]


def _row(info: Any) -> list[Any] | None:
    """The single order/offer row of a notification's INFO (sometimes wrapped once more)."""
    if type(info) is not list or not info:
        return None
    if len(info) == 1 and type(info[0]) is list:
        return info[0]
    return info


def _rows(info: Any) -> list[list[Any]]:
    """The order rows of an ``oc_multi-req`` INFO."""
    if type(info) is not list:
        return []
    if info and type(info[0]) is not list:
        return [info]
    return [row for row in info if type(row) is list]


def _field(row: list[Any] | None, index: int) -> Any:
    return row[index] if row is not None and len(row) > index else None


def _same(a: Any, b: Any) -> bool:
    """Two numbers equal as decimals (replies carry floats or number text)."""
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except (InvalidOperation, ValueError, TypeError):
        return False


def _day_ok(mts: int | None, cid_date: str | None) -> bool:
    """An order created at ``mts`` can be the one submitted on ``cid_date`` (same UTC day, or
    the next one for an order sent just before midnight)."""
    if mts is None or cid_date is None:
        return True
    created = _utc_day(mts / 1000)
    if created == cid_date:
        return True
    sent = datetime.strptime(cid_date, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    return created == _utc_day(sent.timestamp() + 86_400)


class OrderCore:
    """Order entry state of one authenticated socket; no I/O, time injected.

    Call it under the owner's lock; take the results with :meth:`take_frames`,
    :meth:`take_completions`, :meth:`take_changes` and :meth:`take_errors` and carry them out
    outside the lock (completing a future runs the user's done-callbacks).

    Args:
        wall: epoch seconds (cid days, tif checks).
        monotonic: seconds for timeouts and rate windows.
        order_rate_limit: ``(orders, seconds)`` of new orders allowed (default 1000 per 300 s,
            Bitfinex's base limit shared by all connections of the account).
        calc_rate_limit: ``(calculations, seconds)`` (default 8 per second).
        confirm_timeout: seconds a sent input may wait for its reply on a live socket before
            it fails with OrderStatusUnknownError.
        reconcile_timeout: seconds a request in doubt may wait for the socket to come back
            and the snapshot to arrive.
        reconcile_grace: seconds to wait after the snapshot for a late frame of an order not
            in it before giving up on it.
        dms: the auth request's dead-man switch (4 = the exchange cancels every order when
            the socket closes); used in messages.
    """

    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        order_rate_limit: tuple[int, float] = ORDER_RATE_LIMIT,
        calc_rate_limit: tuple[int, float] = CALC_RATE_LIMIT,
        confirm_timeout: float = 60.0,
        reconcile_timeout: float = 120.0,
        reconcile_grace: float = 2.0,
        dms: int | None = None,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self.cids = CidSource(wall)
        self._order_window = _Window(*order_rate_limit)
        self._calc_window = _Window(*calc_rate_limit)
        self.confirm_timeout = confirm_timeout
        self.reconcile_timeout = reconcile_timeout
        self.reconcile_grace = reconcile_grace
        self.dms = dms
        # Connection state, set by the owner.
        self.open = False
        self.authenticated = False
        self.paused = False
        self.closed = False
        #: When set, every input is refused with this reason (e.g. a client without API keys).
        self.refusal: str | None = None
        # Views.
        self._orders: dict[int, Order] = {}
        self._offers: dict[int, FundingOffer] = {}
        self._wallets: dict[tuple[str | None, str | None], Wallet] = {}
        # Requests in flight by the key their reply is matched on.
        self._live: list[Request[Any]] = []
        self._new: dict[int, Request[Any]] = {}  # cid -> on
        self._updates: dict[int, Request[Any]] = {}  # order id -> ou
        self._cancels: dict[int, Request[Any]] = {}  # order id -> oc
        self._cancels_by_cid: dict[int, Request[Any]] = {}  # cid -> oc by cid
        self._multi: Request[Any] | None = None  # oc_multi
        self._batch: BatchRequest | None = None  # ox_multi
        self._fon: list[Request[Any]] = []
        self._foc: dict[int, Request[Any]] = {}  # offer id -> foc
        self._cid_days: dict[int, str] = {}  # cids submitted by this core -> UTC day
        # Outputs.
        self._frames: list[tuple[str, tuple[Request[Any], ...]]] = []
        self._completions: list[Completion] = []
        self._changes: list[OrderChange] = []
        self._errors: list[BpbfxError] = []

    # ------------------------------------------------------------------ views
    @property
    def orders(self) -> dict[int, Order]:
        """Open orders by id (a copy), as of the last ``os``/``on``/``ou``/``oc``."""
        return dict(self._orders)

    @property
    def funding_offers(self) -> dict[int, FundingOffer]:
        """Active funding offers by id (a copy), as of the last ``fos``/``fon``/``fou``/``foc``."""
        return dict(self._offers)

    @property
    def wallets(self) -> dict[tuple[str | None, str | None], Wallet]:
        """Wallets by ``(wallet_type, currency)`` (a copy), as of the last ``ws``/``wu``."""
        return dict(self._wallets)

    @property
    def pending(self) -> tuple[Request[Any], ...]:
        """Requests whose outcome is not decided yet."""
        return tuple(self._live)

    # ------------------------------------------------------------------ outputs
    @property
    def has_output(self) -> bool:
        """Anything to take (frames, completions, changes or errors)."""
        return bool(self._frames or self._completions or self._changes or self._errors)

    def take_frames(self) -> list[tuple[str, tuple[Request[Any], ...]]]:
        """Frames to send on the authenticated socket, each with the requests it carries."""
        frames, self._frames = self._frames, []
        return frames

    def take_completions(self) -> list[Completion]:
        """``(request, result, error)`` to apply with :func:`complete` outside the lock."""
        done, self._completions = self._completions, []
        return done

    def take_changes(self) -> list[OrderChange]:
        """Changes to the open-orders view since the last call, in order."""
        changes, self._changes = self._changes, []
        return changes

    def take_errors(self) -> list[BpbfxError]:
        """Problems to report that belong to no request (unmatched or malformed replies)."""
        errors, self._errors = self._errors, []
        return errors

    # ------------------------------------------------------------------ connection state
    def authenticated_now(self) -> None:
        """The socket is (re)authenticated: inputs may be sent.  Requests in doubt wait for
        the ``os``/``fos`` snapshot that follows."""
        self.open = True
        self.authenticated = True

    def connection_lost(self) -> None:
        """The socket closed: requests still waiting for their outcome are in doubt; they are
        never resent (:meth:`authenticated_now`, then the snapshot, decides them)."""
        self.open = False
        self.authenticated = False
        now = self._monotonic()
        for req in self._live:
            if req.state in ("sent", "acknowledged", "reconciling"):
                req.state = "in_doubt"
                req.lost_at = now
                req.deadline = None

    def set_paused(self, paused: bool) -> None:
        """Bitfinex maintenance started (20060, True) or ended (20061, False)."""
        self.paused = paused

    def close(self) -> None:
        """The client is closing: every undecided request fails."""
        self.closed = True
        self.open = False
        self.authenticated = False
        for req in list(self._live):
            if not isinstance(req, BatchRequest):  # a batch is decided by its operations
                self._fail_unknown(req, "the client was closed before the outcome arrived")

    # ------------------------------------------------------------------ inputs
    def submit(self, inp: OrderInput) -> Request[Any]:
        """Register ``inp`` and queue its frame, or fail its handle at once.

        Returns the handle.  It fails at once (not sent) with OrderNotSentError when the
        socket is not authenticated, in maintenance, closed, or when an input whose reply
        could not be told apart from this one's is in flight; with OrderRateLimitError
        (``local=True``) when the rate limit has no room.

        Raises:
            InvalidOrderError: ``inp.kind`` cannot be submitted alone (never for the builders'
                inputs), or a ``tif`` in the past.
        """
        if not isinstance(inp, OrderInput) or inp.kind == "ox_multi":
            raise InvalidOrderError("submit takes one OrderInput; send several with submit_batch", field="input")
        inp = self._complete_input(inp)
        req: Request[Any] = Request(inp)
        self._admit([req], inp)
        return req

    def refuse(self, inp: OrderInput, reason: str) -> Request[Any]:
        """A handle for ``inp`` already failed with OrderNotSentError(``reason``); nothing is
        queued (e.g. a client without API keys)."""
        req: Request[Any] = Request(inp)
        self._decide(req, None, self._not_sent(req, reason), now=True)
        return req

    def submit_batch(self, inputs: Sequence[OrderInput]) -> BatchRequest:
        """Register an ``ox_multi`` of ``inputs`` (``on``, ``ou``, ``oc``, ``oc_multi``; 1 to 75)
        and queue its single frame, or fail it (and every operation) at once.

        Raises:
            InvalidOrderError: no operations, more than 75, or an input kind a batch cannot carry.
        """
        inputs = list(inputs)
        if not 1 <= len(inputs) <= MAX_BATCH_OPS:
            raise InvalidOrderError(
                f"order_batch takes 1 to {MAX_BATCH_OPS} operations (ox_multi limit), got {len(inputs)}", field="ops"
            )
        done: list[OrderInput] = []
        for inp in inputs:
            if not isinstance(inp, OrderInput) or inp.kind not in ("on", "ou", "oc", "oc_multi"):
                raise InvalidOrderError(
                    "order_batch operations are OrderInput values of kind on, ou, oc or oc_multi (from new_order, "
                    f"update_order, cancel_order, cancel_orders), got {inp!r}",
                    field="ops",
                )
            done.append(self._complete_input(inp))
        cids = [i.cid for i in done if i.kind == "on"]
        if len(set(cids)) != len(cids):
            raise InvalidOrderError("two new orders of one batch have the same cid", field="cid")
        subs: list[Request[Any]] = [Request(i) for i in done]
        batch_input = OrderInput("ox_multi", [[i.kind, i.payload] for i in done])
        batch = BatchRequest(batch_input, subs)
        for sub in subs:
            sub.batch = batch
        self._admit([batch, *subs], batch_input)
        return batch

    def _complete_input(self, inp: OrderInput) -> OrderInput:
        if not isinstance(inp, OrderInput):
            raise InvalidOrderError(f"expected an OrderInput, got {type(inp).__name__}", field="input")
        if inp.tif_ms is not None and inp.tif_ms <= self._wall() * 1000:
            raise InvalidOrderError(f"tif {inp.payload.get('tif')!r} is not in the future (UTC)", field="tif")
        if inp.kind == "on" and inp.payload.get("cid") is None:
            cid, _day = self.cids.next()
            return OrderInput("on", {"cid": cid, **inp.payload}, inp.tif_ms)
        if inp.kind == "oc" and "cid" in inp.payload and "cid_date" not in inp.payload:
            cid = inp.payload["cid"]
            day = self._cid_days.get(cid) or _utc_day(self._wall())
            return OrderInput("oc", {**inp.payload, "cid_date": day})
        return inp

    def _admit(self, reqs: list[Request[Any]], inp: OrderInput) -> None:
        """Fail-fast checks, rate limits and registration of one frame's requests."""
        head = reqs[0]
        subs = reqs[1:] if isinstance(head, BatchRequest) else reqs
        reason = self._blocked()
        if reason is None:
            reason = self._conflict(subs, head)
        if reason is not None:
            for req in reqs:
                self._decide(req, None, self._not_sent(req, reason), now=True)
            return
        now = self._monotonic()
        new_orders = sum(1 for r in subs if r.kind == "on")
        window, units, what = (
            (self._calc_window, len(inp.payload), "calculations")
            if inp.kind == "calc"
            else (self._order_window, new_orders, "new orders")
        )
        if units:
            wait = window.take(units, now)
            if wait:
                text = (
                    f"order input rate limit: {window.limit} {what} per {window.period:g}s"
                    + (f"; room again in {wait:.1f}s" if wait != float("inf") else f"; {units} never fit")
                    + " (refused locally, nothing sent)"
                )
                for req in reqs:
                    self._decide(
                        req,
                        None,
                        OrderRateLimitError(
                            text,
                            local=True,
                            retry_after=None if wait == float("inf") else wait,
                            kind=req.kind,
                            cid=req.cid,
                            cid_date=req.cid_date,
                            order_id=req.order_id,
                            request=self._request_dict(req),
                        ),
                        now=True,
                    )
                return
        for req in reqs:
            req.sent_at = now
            self._register(req)
        self._frames.append((inp.frame(), tuple(reqs)))

    def _blocked(self) -> str | None:
        if self.refusal is not None:
            return self.refusal
        if self.closed:
            return "the client is closed"
        if self.paused:
            return "Bitfinex is in maintenance (info 20060): inputs are paused until 20061 (maintenance end)"
        if not self.open:
            return "the authenticated socket is not connected (reconnecting); nothing was sent"
        if not self.authenticated:
            return "the socket is not authenticated yet (waiting for the auth reply); nothing was sent"
        return None

    def _conflict(self, subs: list[Request[Any]], head: Request[Any]) -> str | None:
        """Why a reply to one of ``subs`` could not be told apart from one in flight."""
        if isinstance(head, BatchRequest) and self._batch is not None:
            return "another order_batch (ox_multi) is awaiting its outcome; one at a time"
        multis = sum(1 for r in subs if r.kind == "oc_multi")
        if multis and (self._multi is not None or multis > 1):
            return "another cancel_orders (oc_multi) is awaiting its outcome; one at a time"
        seen: set[tuple[str, Any]] = set()
        for req in subs:
            key: tuple[str, Any] | None = None
            if req.kind == "on":
                assert req.cid is not None
                if req.cid in self._new:
                    return f"a new order with cid {req.cid} is already awaiting its outcome"
                key = ("on", req.cid)
            elif req.kind == "ou":
                if req.order_id in self._updates:
                    return f"an update of order {req.order_id} is still awaiting its outcome; wait for it"
                key = ("ou", req.order_id)
            elif req.kind == "oc":
                if req.order_id is not None and req.order_id in self._cancels:
                    return f"a cancel of order {req.order_id} is already awaiting its outcome"
                if req.cid is not None and req.cid in self._cancels_by_cid:
                    return f"a cancel of cid {req.cid} is already awaiting its outcome"
                key = ("oc", req.order_id if req.order_id is not None else ("cid", req.cid))
            elif req.kind == "foc":
                if req.order_id in self._foc:
                    return f"a cancel of funding offer {req.order_id} is already awaiting its outcome"
            elif req.kind == "fon":
                sig = self._offer_signature(req.input.payload)
                if any(self._offer_signature(r.input.payload) == sig for r in self._fon):
                    return (
                        "a funding offer with the same amount, rate and period is awaiting its outcome; the "
                        "exchange's reply carries no client id to tell them apart"
                    )
            if key is not None:
                if key in seen:
                    return f"two operations of one batch target the same order ({key[1]})"
                seen.add(key)
        return None

    def _register(self, req: Request[Any]) -> None:
        if isinstance(req, BatchRequest):
            self._batch = req
            self._live.append(req)
            return
        kind = req.kind
        if kind == "calc":
            self._live.append(req)  # decided when the frame is sent (no reply exists)
            return
        self._live.append(req)
        if kind == "on":
            assert req.cid is not None
            req.cid_date = _utc_day(self._wall())
            self._cid_days[req.cid] = req.cid_date
            if len(self._cid_days) > 10_000:  # keep the memory of cids bounded
                for old in list(self._cid_days)[:5_000]:
                    del self._cid_days[old]
            self._new[req.cid] = req
        elif kind == "ou":
            assert req.order_id is not None
            self._updates[req.order_id] = req
        elif kind == "oc":
            if req.order_id is not None:
                self._cancels[req.order_id] = req
            elif req.cid is not None:
                self._cancels_by_cid[req.cid] = req
        elif kind == "oc_multi":
            self._multi = req
        elif kind == "fon":
            self._fon.append(req)
        elif kind == "foc":
            assert req.order_id is not None
            self._foc[req.order_id] = req

    def sent(self, reqs: Iterable[Request[Any]], ok: bool) -> None:
        """The owner tried to send the frame carrying ``reqs``.  A ``calc`` is done once
        sent (it has no reply).  When the transport refused the frame (``ok`` False) the
        requests are in doubt: a frame may have left partly, so they are reconciled, never
        resent."""
        now = self._monotonic()
        for req in reqs:
            if req.state == "done":
                continue
            if req.kind == "calc":
                if ok:
                    self._decide(req, None, None)
                else:
                    self._decide(req, None, self._not_sent(req, "the socket closed before the calc was sent"))
            elif not ok:
                req.state = "in_doubt"
                req.lost_at = now

    # ------------------------------------------------------------------ outcomes
    def _request_dict(self, req: Request[Any]) -> dict[str, Any]:
        payload = req.input.payload
        return {"kind": req.kind, "payload": payload}

    def _fields(self, req: Request[Any]) -> dict[str, Any]:
        return {
            "kind": req.kind,
            "cid": req.cid,
            "cid_date": req.cid_date,
            "order_id": req.order_id,
            "request": self._request_dict(req),
        }

    def _not_sent(self, req: Request[Any], reason: str) -> OrderNotSentError:
        return OrderNotSentError(f"{self._label(req)} not sent: {reason}", **self._fields(req))

    @staticmethod
    def _label(req: Request[Any]) -> str:
        names = {
            "on": "new order",
            "ou": "order update",
            "oc": "cancel",
            "oc_multi": "cancel_orders",
            "ox_multi": "order_batch",
            "calc": "calc",
            "fon": "funding offer",
            "foc": "funding offer cancel",
        }
        text = names.get(req.kind, req.kind)
        if req.cid is not None:
            text += f" (cid {req.cid})"
        elif req.order_id is not None:
            text += f" (id {req.order_id})"
        return text

    def _decide(self, req: Request[Any], result: Any, error: BaseException | None, *, now: bool = False) -> None:
        """Record the outcome of ``req`` and queue its completion (once).  With ``now`` (a
        handle being refused inside submit, before anyone could attach a callback) the future
        is completed at once instead."""
        if req.outcome is not None:
            return
        req.outcome = (result, error)
        req.state = "done"
        self._unregister(req)
        if now:
            complete([(req, result, error)])
        else:
            self._completions.append((req, result, error))
        batch = req.batch
        if batch is not None and batch.outcome is None and all(r.outcome is not None for r in batch.requests):
            first = next((r.outcome[1] for r in batch.requests if r.outcome and r.outcome[1] is not None), None)
            results = [r.outcome[0] if r.outcome else None for r in batch.requests]
            self._decide(batch, None if first is not None else results, first, now=now)

    def _unregister(self, req: Request[Any]) -> None:
        if req in self._live:
            self._live.remove(req)
        for table, key in (
            (self._new, req.cid if req.kind == "on" else None),
            (self._updates, req.order_id if req.kind == "ou" else None),
            (self._cancels, req.order_id if req.kind == "oc" else None),
            (self._cancels_by_cid, req.cid if req.kind == "oc" else None),
            (self._foc, req.order_id if req.kind == "foc" else None),
        ):
            if key is not None and table.get(key) is req:
                del table[key]
        if self._multi is req:
            self._multi = None
        if self._batch is req:
            self._batch = None
        if req in self._fon:
            self._fon.remove(req)

    def _reject(self, req: Request[Any], note: Notification) -> None:
        text = note.text or ""
        status = note.status
        fields = self._fields(req)
        fields["payload"] = note.data
        message = f"Bitfinex rejected the {self._label(req)} ({note.type} {status}): {text or 'no reason given'}"
        error: OrderRejectedError
        if _RATE_LIMIT_TEXT.search(text):
            error = OrderRateLimitError(
                message + " (exchange rate limit; slow down)", local=False, status=status, text=text, **fields
            )
        else:
            error = OrderRejectedError(message, status=status, text=text, **fields)
        self._decide(req, None, error)

    def _fail_unknown(self, req: Request[Any], why: str, *, open: bool | None = None, order: Any = None) -> None:
        if req.outcome is not None:
            return
        dms = (
            "; with dms=4 the exchange cancelled any open remainder when the socket closed"
            if self.dms == 4 and open is False
            else ""
        )
        message = f"{self._label(req)}: outcome unknown: {why}{dms}"
        self._decide(req, None, OrderStatusUnknownError(message, open=open, order=order, **self._fields(req)))

    # ------------------------------------------------------------------ frames
    def feed(self, event: Event) -> None:
        """Take one decoded channel-0 event (others are ignored)."""
        if isinstance(event, Notification):
            self._notification(event)
        elif isinstance(event, OrderUpdate):
            self._order_frame(event.order, event.kind)
        elif isinstance(event, OrdersSnapshot):
            self._orders_snapshot_frame(event.orders)
        elif isinstance(event, AccountTradeUpdate):
            trade = event.trade
            req = self._new.get(trade.cid) if trade.cid is not None else None
            if req is not None and trade.order_id is not None:
                req.evidence = trade.order_id
                req.order_id = trade.order_id
        elif isinstance(event, FundingOffersSnapshot):
            self._offers = {o.id: o for o in event.offers}
            self._reconcile_offers()
        elif isinstance(event, FundingOfferUpdate):
            self._offer_frame(event.offer, event.kind)
        elif isinstance(event, WalletsSnapshot):
            self._wallets = {(w.wallet_type, w.currency): w for w in event.wallets}
        elif isinstance(event, WalletUpdate):
            w = event.wallet
            self._wallets[(w.wallet_type, w.currency)] = w

    def _notification(self, note: Notification) -> None:
        kind = note.type
        ok = note.status == "SUCCESS"
        if kind == "on-req":
            row = _row(note.info)
            cid = _field(row, 2)
            req = self._new.get(cid) if isinstance(cid, int) else None
            if req is None and cid is None:
                req = self._match_new_by_content(row)
            if req is None:
                return  # not ours (another session, or decided already)
            req.notification = note
            if ok:
                order = note.order or self._decode_order(row)
                if order is None:
                    self._errors.append(
                        MalformedFrameError(f"on-req SUCCESS without an order row: {note.data!r}"[:300])
                    )
                    return
                req.order_id = order.id
                self._decide(req, order, None)
            else:
                self._reject(req, note)
        elif kind == "ou-req":
            row = _row(note.info)
            oid = _field(row, 0)
            req = self._updates.get(oid) if isinstance(oid, int) else None
            if req is None and oid is None and not ok:
                req = self._only(self._updates.values())
            if req is None:
                return
            req.notification = note
            if not ok:
                self._reject(req, note)
            elif note.order is not None and note.order.symbol is not None:
                self._decide(req, note.order, None)
            else:
                req.state = "acknowledged"  # the `ou` frame follows with the order
        elif kind == "oc-req":
            row = _row(note.info)
            oid, cid = _field(row, 0), _field(row, 2)
            req = self._cancels.get(oid) if isinstance(oid, int) else None
            if req is None and isinstance(cid, int):
                req = self._cancels_by_cid.get(cid)
            if req is None and oid is None and cid is None and not ok:
                req = self._only([*self._cancels.values(), *self._cancels_by_cid.values()])
            if req is None:
                return
            req.notification = note
            if ok:
                if isinstance(oid, int):
                    req.order_id = oid
                req.state = "acknowledged"  # "Submitted for cancellation": the `oc` frame confirms
            else:
                self._reject(req, note)
        elif kind == "oc_multi-req":
            req = self._multi
            if req is None:
                return
            req.notification = note
            if ok:
                orders = tuple(o for o in (self._decode_order(r) for r in _rows(note.info)) if o is not None)
                self._decide(req, orders, None)
            else:
                self._reject(req, note)
        elif kind == "ox_multi-req":
            batch = self._batch
            if batch is None:
                return
            batch.notification = note
            if ok:
                # Some servers answer each operation inside the ox_multi-req (REST style).
                for inner in note.info if type(note.info) is list else []:
                    if type(inner) is list and len(inner) > 1 and isinstance(inner[1], str):
                        try:
                            decoded = decode_account("n", inner)
                        except MalformedFrameError as exc:
                            self._errors.append(exc)
                            continue
                        if isinstance(decoded, Notification):
                            self._notification(decoded)
            else:
                for sub in batch.requests:
                    if sub.outcome is None:
                        self._reject(sub, note)
        elif kind == "fon-req":
            row = _row(note.info)
            req = self._match_offer(row)
            if req is None:
                return
            req.notification = note
            if ok:
                offer = note.funding_offer or self._decode_offer(row)
                if offer is None:
                    self._errors.append(
                        MalformedFrameError(f"fon-req SUCCESS without an offer row: {note.data!r}"[:300])
                    )
                    return
                req.order_id = offer.id
                self._decide(req, offer, None)
            else:
                self._reject(req, note)
        elif kind == "foc-req":
            row = _row(note.info)
            oid = _field(row, 0)
            req = self._foc.get(oid) if isinstance(oid, int) else None
            if req is None and oid is None and not ok:
                req = self._only(self._foc.values())
            if req is None:
                return
            req.notification = note
            if ok:
                req.state = "acknowledged"  # the `foc` frame confirms
            else:
                self._reject(req, note)

    @staticmethod
    def _only(candidates: Iterable[Request[Any]]) -> Request[Any] | None:
        """A refusal whose row names no order: the single request of its kind in flight, if
        there is exactly one (matched by elimination, never by arrival order)."""
        found = list(candidates)
        return found[0] if len(found) == 1 else None

    def _match_new_by_content(self, row: list[Any] | None) -> Request[Any] | None:
        """A rejection without a cid: the one pending new order with its symbol and amount."""
        symbol, amount = _field(row, 3), _field(row, 6)
        found = [
            r
            for r in self._new.values()
            if r.input.payload.get("symbol") == symbol and _same(r.input.payload.get("amount"), amount)
        ]
        return found[0] if len(found) == 1 else None

    @staticmethod
    def _offer_signature(payload: Any) -> tuple[Decimal, Decimal, int]:
        return (Decimal(payload["amount"]), Decimal(payload["rate"]), int(payload["period"]))

    def _match_offer(self, row: list[Any] | None) -> Request[Any] | None:
        """A ``fon`` reply has no client id: match on amount, rate and period (and symbol when
        the reply names it); with a single offer in flight and no row, that one."""
        if row is None:
            return self._fon[0] if len(self._fon) == 1 else None
        symbol, amount, rate, period = _field(row, 1), _field(row, 4), _field(row, 14), _field(row, 15)
        for req in self._fon:
            p = req.input.payload
            if symbol is not None and symbol != p["symbol"]:
                continue
            if amount is not None and not _same(amount, p["amount"]):
                continue
            if rate is not None and not _same(rate, p["rate"]):
                continue
            if period is not None and period != p["period"]:
                continue
            return req
        return None

    def _decode_order(self, row: Any) -> Order | None:
        if type(row) is not list or not row or type(row[0]) is not int:
            return None
        try:
            event = decode_account("on", row)
        except MalformedFrameError as exc:
            self._errors.append(exc)
            return None
        return event.order if isinstance(event, OrderUpdate) else None

    def _decode_offer(self, row: Any) -> FundingOffer | None:
        if type(row) is not list or not row or type(row[0]) is not int:
            return None
        try:
            event = decode_account("fon", row)
        except MalformedFrameError as exc:
            self._errors.append(exc)
            return None
        return event.offer if isinstance(event, FundingOfferUpdate) else None

    def _order_frame(self, order: Order, kind: str) -> None:
        """``on``/``ou``/``oc``: update the view, then settle requests the frame proves."""
        previous = self._orders.get(order.id)
        if kind == "cancel":
            self._orders.pop(order.id, None)
            self._changes.append(OrderChange(kind="closed", order=order, source="oc", previous=previous))
        else:
            self._orders[order.id] = order
            change: Literal["new", "update"] = "new" if previous is None and kind == "new" else "update"
            self._changes.append(
                OrderChange(kind=change, order=order, source="on" if kind == "new" else "ou", previous=previous)
            )
        # A new order is accepted once any frame of it arrives (an order that fills at once may
        # show up first as `oc`: bitfinex-api-node README).
        if order.cid is not None:
            req = self._new.get(order.cid)
            if req is not None and _day_ok(order.mts_create, req.cid_date):
                req.order_id = order.id
                req.reconciled = req.state in ("in_doubt", "reconciling")
                self._decide(req, order, None)
            creq = self._cancels_by_cid.get(order.cid)
            if creq is not None and kind == "cancel" and _day_ok(order.mts_create, creq.cid_date):
                creq.order_id = order.id
                self._decide(creq, order, None)
        if kind == "cancel":
            req = self._cancels.get(order.id)
            if req is not None:
                self._decide(req, order, None)
        ureq = self._updates.get(order.id)
        if ureq is not None and ureq.state in ("acknowledged", "reconciling") and kind != "new":
            self._decide(ureq, order, None)

    def _orders_snapshot_frame(self, orders: Sequence[Order]) -> None:
        """``os``: replace the view (reporting what changed while away) and reconcile."""
        fresh = {o.id: o for o in orders}
        old = self._orders
        for oid, order in fresh.items():
            before = old.get(oid)
            if before is None:
                self._changes.append(OrderChange(kind="new", order=order, source="os"))
            elif before != order:
                self._changes.append(OrderChange(kind="update", order=order, source="os", previous=before))
        for oid, before in old.items():
            if oid not in fresh:
                self._changes.append(OrderChange(kind="closed", order=before, source="os", previous=before))
        self._orders = fresh
        self._reconcile_orders()

    def _offer_frame(self, offer: FundingOffer, kind: str) -> None:
        if kind == "cancel":
            self._offers.pop(offer.id, None)
            req = self._foc.get(offer.id)
            if req is not None:
                self._decide(req, offer, None)
        else:
            self._offers[offer.id] = offer
            if kind == "new":
                row: list[Any] = [offer.id, offer.symbol, None, None, offer.amount_orig, *([None] * 9)]
                match = self._match_offer([*row, offer.rate, offer.period])
                if match is not None:
                    match.order_id = offer.id
                    match.reconciled = match.state in ("in_doubt", "reconciling")
                    self._decide(match, offer, None)

    # ------------------------------------------------------------------ reconciliation
    def _reconcile_orders(self) -> None:
        """Decide order requests in doubt from the ``os`` just received.

        - new order: its cid (created that UTC day) is in the snapshot -> done with that order;
          else wait ``reconcile_grace`` for a late frame, then OrderStatusUnknownError(open=False)
          (never placed, or executed, or cancelled: the snapshot cannot tell which).
        - update: the order is in the snapshot showing every requested price/amount/gid -> done;
          otherwise (or after the grace) OrderStatusUnknownError with ``open``.
        - cancel: the order is in the snapshot -> grace, then OrderStatusUnknownError(open=True);
          not in it -> OrderStatusUnknownError(open=False) (cancelled or executed).
        - cancel_orders / order_batch operations: by the same rules, per order.
        """
        now = self._monotonic()
        by_cid = {o.cid: o for o in self._orders.values() if o.cid is not None}
        for req in list(self._live):
            if req.state != "in_doubt" or req.kind not in ("on", "ou", "oc", "oc_multi"):
                continue
            if req.kind == "on":
                order = by_cid.get(req.cid) if req.cid is not None else None
                if order is not None and _day_ok(order.mts_create, req.cid_date):
                    req.order_id = order.id
                    req.reconciled = True
                    self._decide(req, order, None)
                    continue
            elif req.kind == "ou":
                order = self._orders.get(req.order_id) if req.order_id is not None else None
                if order is not None and self._update_visible(req.input.payload, order):
                    req.reconciled = True
                    self._decide(req, order, None)
                    continue
            req.state = "reconciling"
            req.deadline = now + self.reconcile_grace

    @staticmethod
    def _update_visible(payload: Mapping[str, Any], order: Order) -> bool:
        checks = {
            "price": order.price,
            "amount": order.amount,
            "price_aux_limit": order.price_aux_limit,
            "price_trailing": order.price_trailing,
        }
        for name, value in payload.items():
            if name == "id":
                continue
            if name in checks:
                if value is None or checks[name] is None or not _same(value, checks[name]):
                    return False
            elif name == "gid":
                if order.gid != value:
                    return False
            else:
                return False  # delta, flags, tif, lev, meta: not visible in the row
        return True

    def _reconcile_offers(self) -> None:
        now = self._monotonic()
        for req in list(self._live):
            if req.state != "in_doubt" or req.kind not in ("fon", "foc"):
                continue
            if req.kind == "fon":
                p = req.input.payload
                for offer in self._offers.values():
                    if (
                        offer.symbol == p["symbol"]
                        and offer.amount_orig is not None
                        and _same(offer.amount_orig, p["amount"])
                        and offer.rate is not None
                        and _same(offer.rate, p["rate"])
                        and offer.period == p["period"]
                    ):
                        req.order_id = offer.id
                        req.reconciled = True
                        self._decide(req, offer, None)
                        break
                else:
                    req.state = "reconciling"
                    req.deadline = now + self.reconcile_grace
            else:
                req.state = "reconciling"
                req.deadline = now + self.reconcile_grace

    def _give_up(self, req: Request[Any]) -> None:
        """The grace after the snapshot is over: state what the exchange's view shows."""
        kind = req.kind
        if kind == "on":
            accepted = f" (a trade of order {req.evidence} was seen: it was accepted)" if req.evidence else ""
            self._fail_unknown(
                req,
                "the socket dropped before the confirmation and the order is not among the open orders after "
                f"reconnecting{accepted}: it was never placed, or it was executed or cancelled; check the order "
                "history before resubmitting",
                open=False,
            )
        elif kind in ("ou", "oc"):
            order = self._orders.get(req.order_id) if req.order_id is not None else None
            if order is not None:
                self._fail_unknown(
                    req,
                    "the socket dropped before the confirmation; the order is still open without the asked-for "
                    "change (see .order): the input was lost or refused, send it again if still wanted",
                    open=True,
                    order=order,
                )
            else:
                self._fail_unknown(
                    req,
                    "the socket dropped before the confirmation; the order is no longer open (cancelled or executed: "
                    "check the order history)",
                    open=False,
                )
        elif kind == "oc_multi":
            still = [o.id for o in self._orders.values() if self._selected(req.input.payload, o)]
            self._fail_unknown(
                req,
                "the socket dropped before the confirmation; "
                + (
                    f"orders still open among those selected: {still}"
                    if still
                    else "none of the selected orders is open"
                ),
                open=bool(still),
            )
        elif kind == "fon":
            self._fail_unknown(
                req,
                "the socket dropped before the confirmation and no matching offer is active after reconnecting: it "
                "was never placed, or it was taken or cancelled",
                open=False,
            )
        elif kind == "foc":
            offer = self._offers.get(req.order_id) if req.order_id is not None else None
            self._fail_unknown(
                req,
                "the socket dropped before the confirmation; the offer is "
                + ("still active" if offer is not None else "no longer active"),
                open=offer is not None,
                order=offer,
            )

    @staticmethod
    def _selected(payload: Mapping[str, Any], order: Order) -> bool:
        if payload.get("all"):
            return True
        if order.id in payload.get("id", ()):
            return True
        if order.gid is not None and order.gid in payload.get("gid", ()):
            return True
        return any(order.cid == cid for cid, _day in payload.get("cid", ()))

    def check(self) -> None:
        """Timers: fail requests whose reply is overdue, whose socket stayed down too long,
        and those left undecided by the snapshot once the grace is over."""
        now = self._monotonic()
        for req in list(self._live):
            if req.outcome is not None or isinstance(req, BatchRequest):
                continue  # a batch is decided by its operations
            if req.state == "reconciling" and req.deadline is not None and now >= req.deadline:
                self._give_up(req)
            elif req.state == "in_doubt" and req.lost_at is not None and now - req.lost_at > self.reconcile_timeout:
                why = (
                    "the socket dropped before the confirmation and "
                    + (
                        "no snapshot arrived after re-authenticating"
                        if self.authenticated
                        else "the socket did not come back"
                    )
                    + f" within {self.reconcile_timeout:g}s"
                )
                self._fail_unknown(req, why)
            elif req.state in ("sent", "acknowledged") and now - req.sent_at > self.confirm_timeout:
                self._fail_unknown(
                    req,
                    f"no confirmation within {self.confirm_timeout:g}s on a live socket; watch orders() / on_order for "
                    + (f"cid {req.cid}" if req.cid is not None else f"id {req.order_id}"),
                )


def complete(completions: Iterable[Completion]) -> None:
    """Apply ``(request, result, error)`` outcomes to their futures (runs done-callbacks;
    call outside any lock)."""
    for req, result, error in completions:
        if req.done():
            continue
        if error is not None:
            req.set_exception(error)
        else:
            req.set_result(result)
