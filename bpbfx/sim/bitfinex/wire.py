"""Bitfinex wire encoding: ``conf`` flags, info texts, numbers as JavaScript writes them,
book checksums and the texts the exchange uses in order statuses.

Everything here is pure and may be called from any thread.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

__all__ = [
    "BULK_UPDATES",
    "INFO_MESSAGES",
    "OB_CHECKSUM",
    "SEQ_ALL",
    "TIMESTAMP",
    "book_checksum",
    "js_decimal",
    "js_number",
    "status_number",
    "truncate_significant",
]

# --------------------------------------------------------------------------- protocol constants
#: ``conf`` flag: append the server time (ms) as the last element of every array frame.
TIMESTAMP = 32768
#: ``conf`` flag: per-socket sequence numbers on every array frame.
SEQ_ALL = 65536
#: ``conf`` flag: ``[CHAN,"cs",CHECKSUM]`` after book updates.
OB_CHECKSUM = 131072
#: ``conf`` flag: book updates batched into one frame (a list of entries).
BULK_UPDATES = 536870912

#: Info codes the simulator can send, with the text Bitfinex sends with them.
INFO_MESSAGES: Mapping[int, str] = {
    20051: "Stopping. Please try to reconnect",
    20060: (
        "Entering in Maintenance mode. Please pause any activity and resume after receiving "
        "the info message 20061 (it should take 120 seconds at most)."
    ),
    20061: (
        "Maintenance ended. You can resume normal activity. It is advised to "
        "unsubscribe/subscribe again all channels."
    ),
}

_CHECKSUM_DEPTH = 25


# --------------------------------------------------------------------------- number text
def _js_layout(digits: str, n: int, negative: bool) -> str:
    """Lay out ``0.<digits> * 10**n`` per ECMAScript Number::toString (``digits`` has no
    leading or trailing zeros)."""
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        text = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return "-" + text if negative else text


def js_number(x: float | int) -> str:
    """The text JavaScript's ``String(Number)`` gives for ``x`` (what Bitfinex writes on the wire).

    Shortest round-trip digits, plain notation for ``1e-7 <= |x| < 1e21`` (``118940``,
    ``0.00002503``, ``0.000001``), exponent notation otherwise (``7e-7``, ``-5.2128e-8``,
    ``1e+21``).  Pure; any thread.

    Raises:
        ValueError: ``x`` is NaN or infinite (JSON has no such numbers).
        TypeError: ``x`` is a bool.
    """
    if isinstance(x, bool):
        raise TypeError("js_number() takes a number, not a bool")
    if isinstance(x, int) and abs(x) < 10**21:
        return str(x)
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{x!r} cannot be written as a JSON number")
    if x == 0:
        return "0"
    mantissa, _, exp_text = repr(abs(x)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    n = len(int_part) + (int(exp_text) if exp_text else 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    return _js_layout(stripped.rstrip("0"), n, x < 0)


def _dec_text(units: int, exp: int) -> str:
    """JavaScript text of the exact decimal ``units * 10**exp`` (at most 15 significant digits,
    so the double nearest to it prints as this decimal)."""
    if units == 0:
        return "0"
    s = str(abs(units))
    return _js_layout(s.rstrip("0"), len(s) + exp, units < 0)


def _js(obj: Any) -> str:
    """JSON text of ``obj`` with numbers written as JavaScript writes them."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, _Raw):
        return str(obj)
    if isinstance(obj, (int, float)):
        return js_number(obj)
    if isinstance(obj, Decimal):
        return js_decimal(obj)
    if isinstance(obj, str):
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(_js(v) for v in obj) + "]"
    if isinstance(obj, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + _js(v) for k, v in obj.items()) + "}"
    raise TypeError(f"cannot encode {type(obj).__name__}")


class _Raw(str):
    """Text already in wire form (a number or a whole JSON value), written as is by :func:`_js`."""

    __slots__ = ()


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _signed32(crc: int) -> int:
    return crc - 0x1_0000_0000 if crc & 0x8000_0000 else crc


def book_checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """Bitfinex book checksum from wire texts.

    ``bids`` and ``asks`` are ``(price, amount)`` texts best first (raw books: ``(order_id,
    amount)`` ordered by price then id; funding books: ``(rate, amount)``).  The top 25 of each
    side are interleaved ``bid:amount:ask:amount:...`` (a short side contributes what it has)
    and the CRC32 of that text is returned as a signed 32-bit integer.  Pure; any thread.
    """
    parts: list[str] = []
    for i in range(_CHECKSUM_DEPTH):
        if i < len(bids):
            parts.extend(bids[i])
        if i < len(asks):
            parts.extend(asks[i])
    return _signed32(zlib.crc32(":".join(parts).encode()))


def js_decimal(x: Decimal | int) -> str:
    """The text JavaScript's ``String(Number)`` gives for the exact decimal ``x`` (at most 15
    significant digits, so the nearest double prints as this decimal): ``Decimal("0.10")`` ->
    ``0.1``, ``Decimal("1E+2")`` -> ``100``, ``Decimal("7E-7")`` -> ``7e-7``.  Pure; any thread.

    Raises:
        ValueError: ``x`` is NaN or infinite.
    """
    if isinstance(x, int):
        return js_number(x)
    if not x.is_finite():
        raise ValueError(f"{x!r} cannot be written as a JSON number")
    if x == 0:
        return "0"
    sign, digits, exp = x.as_tuple()
    assert isinstance(exp, int)
    text = "".join(map(str, digits)).lstrip("0")
    stripped = text.rstrip("0")
    exp += len(text) - len(stripped)
    return _js_layout(stripped, len(stripped) + exp, bool(sign))


def status_number(x: Decimal) -> str:
    """A number as Bitfinex writes it inside order status texts and notification texts:
    ``EXECUTED @ 107.6(-0.2)``, ``EXECUTED @ 100.0(0.1)`` (docs.bitfinex.com, order status;
    integral values keep one decimal).  Pure; any thread."""
    x = x.normalize()
    if x == x.to_integral_value():
        return f"{int(x)}.0"
    return format(x, "f")


def truncate_significant(x: Decimal, digits: int = 5) -> Decimal:
    """``x`` truncated (towards zero) to ``digits`` significant digits.

    Bitfinex: "For all pairs on Bitfinex we use 5 significant digits ... API will truncate
    price with precision > 5" (docs.bitfinex.com, v2 readme, Price Precision).  Pure.
    """
    if x == 0 or not x.is_finite():
        return x
    shift = x.adjusted() - digits + 1
    quantum = Decimal(1).scaleb(shift)
    return x.quantize(quantum, rounding="ROUND_DOWN").normalize()
