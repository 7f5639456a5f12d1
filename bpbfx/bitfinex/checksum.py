"""Bitfinex order-book checksums (the ``[CHAN_ID, "cs", CHECKSUM]`` frames of ``OB_CHECKSUM``).

Bitfinex rule (WS v2 "WebSocket Checksum"): take the top 25 bids (highest price first) and the
top 25 asks (lowest price first), interleave them as
``bid0.price:bid0.amount:ask0.price:ask0.amount:bid1.price:...`` (a shorter side contributes only
the levels it has), take the CRC32 of that text and compare it as a *signed* 32-bit integer.
Raw books (``R0``) use the order id instead of the price and are ordered by price, then id.
Amounts keep their sign (asks are negative on trading books).

Every number must be written exactly as the server wrote it: ``7e-7``, never ``0.0000007``.
The client decodes frames with ``json.JSONDecoder(parse_float=str)``, so each number token is
either an ``int`` (written without ``.`` or exponent) or a ``str`` holding the exact wire text;
``str(token)`` gives the wire text in both cases.  For numbers decoded as ``float``,
:func:`js_number_text` reproduces the server's (JavaScript ``String(Number)``) formatting.

Everything here is pure and thread-safe.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

__all__ = ["CHECKSUM_DEPTH", "book_checksum", "checksum_of_texts", "js_number_text", "signed_crc32", "wire_text"]

CHECKSUM_DEPTH = 25
"""Levels per side covered by a Bitfinex book checksum."""

_crc32 = zlib.crc32


def signed_crc32(data: bytes) -> int:
    """CRC32 of ``data`` as a signed 32-bit integer (how Bitfinex sends it)."""
    crc = _crc32(data)
    return crc - 0x1_0000_0000 if crc & 0x8000_0000 else crc


def js_number_text(x: float) -> str:
    """Format ``x`` the way JavaScript's ``String(Number)`` does.

    Uses the shortest round-trip digits (as ``repr`` does) laid out per ECMAScript
    Number::toString: plain notation for ``1e-7 < |x| < 1e21`` (``0.000001``, ``118940``),
    exponent notation otherwise (``7e-7``, ``1.5e-8``, ``1e+21``); ``-0`` is ``"0"``.
    """
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    if x < 0:
        return "-" + js_number_text(-x)
    text = repr(float(x))
    mantissa, _, exp_text = text.partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    # value = 0.<digits> * 10**n before stripping zeros
    n = len(int_part) + (int(exp_text) if exp_text else 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    if k == 1:
        return f"{digits}e{sign}{abs(e)}"
    return f"{digits[0]}.{digits[1:]}e{sign}{abs(e)}"


def wire_text(token: Any) -> str:
    """The wire text of a decoded number token (``str`` as is, ``int`` via ``str``, ``float`` like JS).

    Raises:
        TypeError: ``token`` is not a str, int or float (e.g. ``None``).
    """
    kind = type(token)
    if kind is str or kind is int:
        return str(token)
    if kind is float:
        return js_number_text(token)
    if isinstance(token, bool):
        raise TypeError(f"not a number token: {token!r}")
    if isinstance(token, str):
        return str.__str__(token)
    if isinstance(token, int):
        return int.__repr__(token)
    if isinstance(token, float):
        return js_number_text(float(token))
    raise TypeError(f"not a number token: {token!r}")


def checksum_of_texts(bid_texts: Sequence[str], ask_texts: Sequence[str]) -> int:
    """The checksum of pre-joined ``"price:amount"`` texts, best first, at most 25 per side.

    This is the fast path used by :class:`bpbfx.bitfinex.book.BitfinexBook`, which caches one
    such text per level; callers must pass at most :data:`CHECKSUM_DEPTH` texts per side.
    """
    nb = len(bid_texts)
    na = len(ask_texts)
    if nb == na:
        parts: list[str] = [""] * (nb + na)
        parts[0::2] = bid_texts
        parts[1::2] = ask_texts
    elif nb > na:
        parts = [""] * (2 * na)
        parts[0::2] = bid_texts[:na]
        parts[1::2] = ask_texts
        parts += bid_texts[na:]
    else:
        parts = [""] * (2 * nb)
        parts[0::2] = bid_texts
        parts[1::2] = ask_texts[:nb]
        parts += ask_texts[nb:]
    return signed_crc32(":".join(parts).encode())


def book_checksum(bids: Sequence[Sequence[Any]], asks: Sequence[Sequence[Any]]) -> int:
    """The Bitfinex checksum of a book given as ``(price_or_id, amount)`` pairs, best first.

    ``bids`` highest price first, ``asks`` lowest price first; only the first 25 of each count.
    Amounts are signed as on the wire (asks negative on trading books).  For raw books pass the
    order / offer id instead of the price, ordered by price then id.  Each number is a decoded
    token (``int``, exact-text ``str`` or ``float``; see :func:`wire_text`).

    Raises:
        TypeError: a token is not a number token.
        IndexError: a pair has fewer than two items.
    """
    bid_texts = [f"{wire_text(b[0])}:{wire_text(b[1])}" for b in bids[:CHECKSUM_DEPTH]]
    ask_texts = [f"{wire_text(a[0])}:{wire_text(a[1])}" for a in asks[:CHECKSUM_DEPTH]]
    return checksum_of_texts(bid_texts, ask_texts)
