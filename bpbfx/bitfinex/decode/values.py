"""Numbers, texts and rows as the decoders read them; the error a frame of the wrong shape gives.

Frames are decoded with ``json.JSONDecoder(parse_float=str)``: integers arrive as ``int`` and
every other number as the ``str`` of its exact text, which :class:`~decimal.Decimal` takes
without rounding.  Rows are padded once so that absent trailing fields read as ``None``
(docs.bitfinex.com/docs/ws-general: "New fields may be appended at the end of a message").
Every helper raises ``TypeError`` or ``ValueError`` on a value of the wrong kind; the decoders
turn those into :class:`~bpbfx.exceptions.MalformedFrameError` with :func:`_malformed`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Final

from ...exceptions import MalformedFrameError

_FRAME_PREFIX: Final = 200
# Exceptions a decoder raises on a payload of the wrong shape; they become MalformedFrameError.
_SHAPE_ERRORS: Final = (TypeError, ValueError, IndexError, KeyError, ArithmeticError, AttributeError)


def _dec(value: Any) -> Decimal:
    """Required number -> Decimal (exact from int or number text); None raises TypeError.

    A value that is not a finite number (``"NaN"``, ``"Infinity"``, ``"sNaN"``) raises
    ValueError: it never reaches an event or a book as if it were a price."""
    if value.__class__ is float:
        number = Decimal(repr(value))
    elif value.__class__ is bool:
        raise TypeError("boolean where a number was expected")
    else:
        number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _odec(value: Any) -> Decimal | None:
    return None if value is None else _dec(value)


def _int(value: Any) -> int:
    """Required integer (id, time, count); integral number text is accepted, anything else raises."""
    if value.__class__ is int:
        return int(value)
    if value is None or value.__class__ is bool:
        raise TypeError(f"expected an integer, got {value!r}")
    number = _dec(value)
    if number != number.to_integral_value():
        raise ValueError(f"expected an integer, got {value!r}")
    return int(number)


def _oint(value: Any) -> int | None:
    return None if value is None else _int(value)


def _ostr(value: Any) -> str | None:
    if value is None or value.__class__ is str:
        return value
    raise TypeError(f"expected a string, got {value!r}")


def _obool(value: Any) -> bool | None:
    """0/1 flags (NOTIFY, HIDDEN, RENEW, ...) -> bool."""
    return None if value is None else bool(value)


def _maker(value: Any) -> bool | None:
    """MAKER: 1 maker, -1 (or 0) taker (ws-auth-trades)."""
    return None if value is None else value == 1


def _row(value: Any, size: int) -> list[Any]:
    """The array ``value`` padded with None to at least ``size`` fields."""
    if value.__class__ is not list:
        raise TypeError(f"expected a JSON array, got {type(value).__name__}")
    if len(value) < size:
        return [*value, *([None] * (size - len(value)))]
    return value


def _rows(value: Any) -> list[Any]:
    if value.__class__ is not list:
        raise TypeError(f"expected a JSON array of arrays, got {type(value).__name__}")
    return value


def _text(payload: Any) -> str:
    try:
        text = json.dumps(payload, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):
        text = f"<{type(payload).__name__}>"
    return text[:_FRAME_PREFIX]


def _malformed(stream: str, what: str, payload: Any, exc: BaseException) -> MalformedFrameError:
    frame = _text(payload)
    return MalformedFrameError(f"{stream}: cannot decode {what}: {exc}; payload: {frame}", frame=frame, stream=stream)
