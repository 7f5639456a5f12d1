"""How the ``bpbfx`` command writes events and stats: one compact JSON line per event
(:func:`event_json`, Decimals as strings), the same for ``stream`` and ``replay`` so that a
replayed recording can be compared line by line with what was seen live, or a human-readable
line (:func:`event_pretty`)."""

from __future__ import annotations

import dataclasses
import json
import time
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from ..base import ClientStats
from ..events import Event, UnknownEvent

if TYPE_CHECKING:
    from ..live import OrderBookUpdate

__all__ = ["book_json", "book_pretty", "event_dict", "event_json", "event_pretty", "stats_dict", "stats_json"]

_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in ("stream", "symbol") and (f.repr or (f.name == "data" and issubclass(cls, UnknownEvent)))
        )
        _FIELDS[cls] = names
    return names


def event_dict(event: Event) -> dict[str, Any]:
    """A plain dict of an event: ``event`` (class name), ``stream``, ``symbol``, then every
    field shown by its ``repr`` (the raw ``data`` only for :class:`UnknownEvent`).  Values are
    left as they are (see :func:`event_json` for the JSON text)."""
    out: dict[str, Any] = {"event": type(event).__name__, "stream": event.stream, "symbol": event.symbol}
    for name in _field_names(type(event)):
        out[name] = getattr(event, name)
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Event):
        return {name: getattr(obj, name) for name in _field_names(type(obj))}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.repr}
    if isinstance(obj, (bytes, bytearray)):
        return obj.decode("utf-8", "replace")
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    if hasattr(obj, "items"):
        return dict(obj.items())
    return str(obj)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=_json_default, separators=(",", ":"))


def event_json(event: Event) -> str:
    """One line of compact JSON for an event (Decimals as strings), as ``bpbfx stream`` prints."""
    return _dumps(event_dict(event))


def _pretty_value(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, Decimal) for v in value):
        return f"{value[0]}x{value[1]}"  # a (price, size) level
    if isinstance(value, (tuple, list)):
        if value and all(isinstance(v, (tuple, list)) and len(v) == 2 for v in value):
            return "[" + " ".join(f"{_pretty_value(p)}x{_pretty_value(q)}" for p, q in value) + "]"
        return "[" + " ".join(_pretty_value(v) for v in value) + "]"
    if isinstance(value, Enum):
        return str(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return "{" + " ".join(f"{k}={_pretty_value(v)}" for k, v in _json_default(value).items()) + "}"
    return str(value)


def event_pretty(event: Event, name: str | None = None) -> str:
    """A human-readable line for an event: local time, class (or ``name``), stream,
    ``field=value``..."""
    d = event_dict(event)
    kind = d.pop("event")
    head = f"{time.strftime('%H:%M:%S')} {name or kind:<14} {d.pop('stream')}"
    d.pop("symbol", None)
    return head + "  " + " ".join(f"{k}={_pretty_value(v)}" for k, v in d.items())


def book_json(update: OrderBookUpdate) -> str:
    """A managed book update as one JSON line: ``"event": "on_book"`` (the client's book, not
    an exchange frame), the update's fields and the book's best levels."""
    d = event_dict(update)
    d["event"] = "on_book"
    d["best_bid"] = update.book.best_bid()
    d["best_ask"] = update.book.best_ask()
    return _dumps(d)


def book_pretty(update: OrderBookUpdate) -> str:
    """A managed book update as a human-readable line with the book's best levels."""
    bid, ask = update.book.best_bid(), update.book.best_ask()
    return event_pretty(update, "on_book") + f" best_bid={_pretty_value(bid)} best_ask={_pretty_value(ask)}"


def _age(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def stats_dict(stats: ClientStats) -> dict[str, Any]:
    """A client's stats snapshot as plain JSON-ready data (ages rounded to milliseconds)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(stats):
        value = getattr(stats, f.name)
        if f.name == "streams":
            value = {
                name: {"messages": s.messages, "last_message_age": _age(s.last_message_age)}
                for name, s in value.items()
            }
        elif f.name == "last_message_age":
            value = _age(value)
        out[f.name] = value
    return out


def stats_json(stats: ClientStats) -> str:
    """:func:`stats_dict` as one compact JSON line."""
    return json.dumps(stats_dict(stats), separators=(",", ":"))
