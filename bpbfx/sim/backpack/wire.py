"""Backpack wire text: error frames, stream names, JSON and number text, event times.

Everything here is pure (:class:`Stamper` keeps one counter) and used under the simulator's
lock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = [
    "DEPTH_WINDOWS",
    "ERR_INVALID_DEPTH_WINDOW",
    "ERR_INVALID_STREAM",
    "ERR_INVALID_WINDOW",
    "ERR_PARSE",
    "ERR_SIGNATURE_EXPIRED",
    "ERR_SIGNATURE_INVALID",
    "ERR_SIGNATURE_MISSING",
    "ERR_UNKNOWN_KEY",
    "KLINE_INTERVALS",
]

# --------------------------------------------------------------------------- error frames
# Backpack error frames as recorded on the wire (tests/data/backpack/wire_frames.jsonl).
ERR_PARSE: tuple[int, str] = (4002, "Parse error")
ERR_INVALID_STREAM: tuple[int, str] = (4006, "Invalid stream")
ERR_INVALID_DEPTH_WINDOW: tuple[int, str] = (4008, "Invalid depth window")
# Backpack documents no error code or message for a refused private subscription (checked in
# the official API docs, their AsyncAPI description and the official/ccxt clients).  These
# codes are the simulator's own, kept apart from the recorded 40xx codes so that nobody
# mistakes them for the exchange's.
ERR_SIGNATURE_MISSING: tuple[int, str] = (4101, "Signature required")
ERR_SIGNATURE_INVALID: tuple[int, str] = (4102, "Invalid signature")
ERR_UNKNOWN_KEY: tuple[int, str] = (4103, "Unknown verifying key")
ERR_SIGNATURE_EXPIRED: tuple[int, str] = (4104, "Signature expired")
ERR_INVALID_WINDOW: tuple[int, str] = (4105, "Invalid window")

# --------------------------------------------------------------------------- stream names
#: Aggregated depth windows the exchange accepts (``depth.<window>.<symbol>``).
DEPTH_WINDOWS: tuple[str, ...] = ("200ms", "600ms", "1000ms")
#: K-line intervals the exchange accepts (``kline.<interval>.<symbol>``).
KLINE_INTERVALS: tuple[str, ...] = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1month",
)
_PRIVATE_TYPES = ("orderUpdate", "positionUpdate", "rfqUpdate")
_RE_PRIVATE = re.compile(r"account\.(orderUpdate|positionUpdate|rfqUpdate)(?:\.(\S+))?")
_RE_DEPTH_WINDOW = re.compile(r"depth\.(\d+ms)\.(\S+)")
_RE_KLINE = re.compile(r"kline\.([^.\s]+)\.(\S+)")
_RE_SIMPLE = re.compile(r"(depth|trade|ticker|bookTicker|markPrice|openInterest)\.(\S+)")


@dataclass(frozen=True)
class _Stream:
    name: str
    kind: str  # depth, trade, ..., kline, liquidation, orderUpdate, positionUpdate, rfqUpdate
    symbol: str | None
    window: str | None = None
    interval: str | None = None

    @property
    def private(self) -> bool:
        return self.kind in _PRIVATE_TYPES


def _parse_stream(name: object) -> _Stream | tuple[int, str]:
    """Classify a stream name, or return the error the exchange answers it with."""
    if not isinstance(name, str) or not name:
        return ERR_INVALID_STREAM
    if name == "liquidation":
        return _Stream(name, "liquidation", None)
    if name.startswith("account."):
        m = _RE_PRIVATE.fullmatch(name)
        return _Stream(name, m.group(1), m.group(2)) if m else ERR_INVALID_STREAM
    m = _RE_DEPTH_WINDOW.fullmatch(name)
    if m:
        # Backpack: only 200ms, 600ms and 1000ms windows exist; others get 4008.
        if m.group(1) not in DEPTH_WINDOWS:
            return ERR_INVALID_DEPTH_WINDOW
        return _Stream(name, "depth", m.group(2), window=m.group(1))
    if name.startswith("kline."):
        m = _RE_KLINE.fullmatch(name)
        if not m or m.group(1) not in KLINE_INTERVALS:
            return ERR_INVALID_STREAM
        return _Stream(name, "kline", m.group(2), interval=m.group(1))
    m = _RE_SIMPLE.fullmatch(name)
    if m:
        return _Stream(name, m.group(1), m.group(2))
    return ERR_INVALID_STREAM


# --------------------------------------------------------------------------- text
_JSON_SEPARATORS = (",", ":")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=_JSON_SEPARATORS)


def _error_text(err: tuple[int, str]) -> str:
    return _dumps({"id": None, "error": {"code": err[0], "message": err[1]}})


def _data_text(stream: str, data: dict[str, Any]) -> str:
    """A data frame: ``{"stream":..,"data":{..}}``."""
    return _dumps({"stream": stream, "data": data})


def _decimals(d: Decimal) -> int:
    exponent = d.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _plain(d: Decimal) -> str:
    """REST number text: no trailing zeros (``86700``, ``218.6``)."""
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


class Stamper:
    """Writes event times into data frames: ``E`` and ``T``, in microseconds.

    Backpack has been seen writing them as strings: with ``string_times_every`` N > 0, every
    Nth data frame stamped writes them as strings (clients must parse leniently).
    """

    def __init__(self, clock: Callable[[], float], string_times_every: int) -> None:
        self.clock = clock
        self.string_times_every = string_times_every
        self.frames = 0

    def now_us(self) -> int:
        """The clock, in microseconds."""
        return int(self.clock() * 1_000_000)

    def __call__(self, data: dict[str, Any], now_us: int, salt: int, engine: bool = True) -> dict[str, Any]:
        """Set ``E`` (event time) and, with ``engine``, ``T`` (engine time, a little earlier);
        returns ``data``."""
        self.frames += 1
        as_text = bool(self.string_times_every) and self.frames % self.string_times_every == 0
        data["E"] = str(now_us) if as_text else now_us
        if engine:
            engine_us = now_us - 50 - salt % 400
            data["T"] = str(engine_us) if as_text else engine_us
        return data
