"""Input validation: each value the user gives, checked against the exchange's rules
(:mod:`bpbfx.bitfinex.orders.rules`) and turned into the exact text or number the frame carries.

Every check raises :class:`~bpbfx.exceptions.InvalidOrderError` naming the field and saying what
would be valid.  Numbers become exact decimal text (``Decimal("3E+4")`` -> ``"30000"``), never
through ``float``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ...exceptions import InvalidOrderError
from .rules import (
    DATE,
    DATETIME,
    DECIMALS,
    MAX_CID,
    MAX_GID,
    MAX_LEVERAGE,
    ORDER_FLAGS,
    PRICE_DIGITS,
    TRADING_SYMBOL,
)

__all__ = [
    "FLAG_TEXT",
    "amount",
    "bounded_int",
    "cid",
    "cid_date_of",
    "decimals",
    "flags",
    "gid",
    "leverage",
    "meta",
    "order_id",
    "plain",
    "price",
    "significant_digits",
    "tif",
    "to_decimal",
    "trading_symbol",
]


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
        if decimals(number) > DECIMALS:
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


def plain(number: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros: ``Decimal("3E+4")`` -> ``"30000"``."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def decimals(number: Decimal) -> int:
    text = plain(number)
    return len(text) - text.index(".") - 1 if "." in text else 0


def significant_digits(number: Decimal) -> int:
    digits = plain(abs(number)).replace(".", "").strip("0")
    return len(digits)


def amount(name: str, value: object, *, allow_zero: bool = False) -> str:
    number = to_decimal(name, value)
    if not number and not allow_zero:
        raise InvalidOrderError(f"{name} must not be zero (positive buys, negative sells)", field=name)
    if decimals(number) > DECIMALS:
        raise InvalidOrderError(
            f"{name} {plain(number)} has {decimals(number)} decimals; Bitfinex takes at most {DECIMALS} "
            f"(smallest amount 0.00000001)",
            field=name,
        )
    return plain(number)


def price(name: str, value: object) -> str:
    number = to_decimal(name, value)
    if number <= 0:
        raise InvalidOrderError(f"{name} must be greater than zero, got {plain(number)}", field=name)
    digits = significant_digits(number)
    if digits > PRICE_DIGITS or decimals(number) > DECIMALS:
        raise InvalidOrderError(
            f"{name} {plain(number)} has {digits} significant digits; Bitfinex prices carry at most "
            f"{PRICE_DIGITS} significant digits and {DECIMALS} decimals (e.g. 12345, 1234.5, 0.012345) "
            "and the exchange would truncate the rest: round it first",
            field=name,
        )
    return plain(number)


def bounded_int(name: str, value: object, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOrderError(f"{name} must be an int ({what}), got {type(value).__name__}", field=name)
    if not low <= value <= high:
        raise InvalidOrderError(f"{name} must be {what}, got {value}", field=name)
    return value


def order_id(name: str, value: object) -> int:
    return bounded_int(name, value, 1, 2**63 - 1, "a positive order id")


def cid(value: object) -> int:
    return bounded_int(
        "cid", value, 1, MAX_CID - 1, f"a client order id from 1 to 2**45-1 ({MAX_CID - 1}), unique per UTC day"
    )


def gid(value: object) -> int:
    return bounded_int("gid", value, 1, MAX_GID, f"a group id from 1 to {MAX_GID} (int32)")


def trading_symbol(symbol: object) -> str:
    if not isinstance(symbol, str) or not TRADING_SYMBOL.fullmatch(symbol):
        raise InvalidOrderError(
            f"symbol {symbol!r} is not a Bitfinex trading symbol: orders need a 't' symbol such as "
            "'tBTCUSD', 'tDUSK:USD' or 'tBTCF0:USTF0' (funding 'f' symbols take funding offers)",
            field="symbol",
        )
    return symbol


def flags(value: object, mask: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidOrderError(f"flags must be a non-negative int (a sum of {what}), got {value!r}", field="flags")
    unknown = value & ~mask
    if unknown:
        raise InvalidOrderError(
            f"flags {value} has bits Bitfinex does not define ({unknown}); valid flags are {what}", field="flags"
        )
    return value


FLAG_TEXT: Final = ", ".join(f"{name} {bit}" for name, bit in ORDER_FLAGS.items())


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
    if isinstance(value, str) and DATE.fullmatch(value):
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            pass
        else:
            return value
    raise InvalidOrderError(f"{name} must be the order's UTC creation day as 'YYYY-MM-DD', got {value!r}", field=name)


def tif(value: object) -> tuple[str, int]:
    """``tif`` as the exchange's text (``YYYY-MM-DD HH:MM:SS`` UTC, or ``YYYY-MM-DD``) and its
    epoch milliseconds (Bitfinex changelog 2018-06-08: datetime format)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidOrderError("tif datetime must be timezone-aware (Bitfinex reads tif as UTC)", field="tif")
        utc = value.astimezone(timezone.utc).replace(microsecond=0)
        return utc.strftime("%Y-%m-%d %H:%M:%S"), int(utc.timestamp() * 1000)
    if isinstance(value, str):
        for pattern, fmt in ((DATETIME, "%Y-%m-%d %H:%M:%S"), (DATE, "%Y-%m-%d")):
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


def leverage(value: object, symbol: str | None) -> int:
    lev = bounded_int("lev", value, 1, MAX_LEVERAGE, f"from 1 to {MAX_LEVERAGE}")
    if symbol is not None and "F0:" not in symbol:
        raise InvalidOrderError(
            f"lev applies to derivative pairs only (such as 'tBTCF0:USTF0'), not {symbol!r}", field="lev"
        )
    return lev


def meta(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidOrderError(
            "meta must be a dict with str keys (e.g. {'aff_code': 'CODE'} or {'protect_selfmatch': 1})", field="meta"
        )
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise InvalidOrderError(f"meta must be JSON-serialisable: {exc}", field="meta") from None
    return dict(value)
