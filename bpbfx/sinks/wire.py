"""The wire format of bpbfx streams published into Redis (version 1); no I/O.

One Redis stream per bpbfx stream, keyed ``bpbfx:{<exchange>:<stream>}`` (the braces are a Redis
Cluster hash tag: the stream and its ``:meta`` hash live in the same slot), e.g.
``bpbfx:{bitfinex:book:tBTCUSD:P0:F0:25}`` and ``bpbfx:{backpack:trade.SOL_USDC}``.  Every
entry is a flat map of text fields:

============  ===============================================================================
field         meaning
============  ===============================================================================
``v``         format version, ``1``
``kind``      ``snapshot``, ``delta``, ``gap`` for books; for other streams the event kind in
              snake case (``trade``, ``ticker``, ``book_ticker``, ``trade_update``, ...)
``epoch``     incremented on every book rebuild and after every ``gap`` entry (also for
              streams without a book); a new epoch starts at ``n`` = 0 (books: with a snapshot)
``n``         entry number within the epoch: 0, 1, 2, ... without holes
``seq``       books: the update id the book reflects after this entry (Backpack ``u``, Bitfinex
              sequence); events: the exchange's sequence / last update id, when it has one
``prev``      deltas: the update id the delta applies on top of (the previous entry's ``seq``)
``et``        exchange time, microseconds since the epoch, when the exchange sends one
``rt``        receive time at the publishing client, microseconds since the epoch
``backfill``  ``1`` on the entry of a trade (or trades snapshot) missed while the client was
              away and recovered afterwards (``backfill_trades=True``); absent otherwise
``data``      JSON text.  Events: the exchange payload exactly as decoded (numbers that carry
              prices and sizes are the exchange's own text).  ``snapshot``/``delta``:
              ``{"b": [[price, size], ...], "a": [...]}`` (best first for a snapshot; size
              ``"0"`` removes a level in a delta).  ``gap``: ``{"reason", "expected", "got",
              "dropped", "message"}``, and for reason ``trades_missing`` the missing range:
              ``first_id``/``last_id`` (Backpack) or ``start_ms``/``end_ms`` (Bitfinex).
============  ===============================================================================

``backfill`` and the range keys were added to version 1 without a version bump: a reader that
does not know them ignores them and reads the entries as before.

A field that is absent or empty means "not known".  What is the same for every entry of a
stream is kept once, in the ``:meta`` hash (below), not in each entry: fewer fields make every
entry cheaper to write and, above all, to parse for readers.

Prices and sizes are written with ``str(Decimal)`` of the value the client built from the
exchange's text, which reads back as the very same ``Decimal`` (digits and exponent kept:
``"86700.0"`` stays ``"86700.0"``); never through ``float``.

The ``:meta`` hash beside each stream holds ``v``, ``ex`` (exchange), ``stream`` (the bpbfx
stream name), ``sym`` (the market, empty when the stream has none), ``epoch`` (the writer's
current epoch), ``snapshot`` (the entry id of the latest snapshot, so a late joiner starts
there) and ``snapshot_epoch``.  An event entry's bpbfx class is its ``kind`` in camel case
(``trade_update`` -> ``TradeUpdate``).

:class:`Continuity` is the reader's check of ``epoch``/``n``/``prev``; it is pure and tested
without Redis.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from ..book import BookSide, FrozenBook, Level, LevelChange
from ..exceptions import ConfigurationError, MalformedFrameError

__all__ = [
    "BOOK_KINDS",
    "VERSION",
    "Check",
    "Continuity",
    "Verdict",
    "WireEntry",
    "decode_entry",
    "decode_levels",
    "encode_changes",
    "encode_snapshot",
    "event_class_name",
    "event_kind",
    "meta_key",
    "parse_key",
    "stream_key",
]

VERSION = 1
"""Wire format version written in every entry's ``v``."""

SNAPSHOT = "snapshot"
DELTA = "delta"
GAP = "gap"
BOOK_KINDS = frozenset({SNAPSHOT, DELTA})
"""Entry kinds that carry book levels."""

_KEY = re.compile(r"^(?P<prefix>[^{}]+):\{(?P<exchange>[a-z]+):(?P<stream>[^{}]+)\}$")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def stream_key(exchange: str, stream: str, prefix: str = "bpbfx") -> str:
    """The Redis key of a bpbfx stream: ``bpbfx:{exchange:stream}``.

    Raises:
        ConfigurationError: an empty part, or braces in the stream name.
    """
    if not exchange or not stream:
        raise ConfigurationError("stream_key needs an exchange and a stream name")
    if "{" in stream or "}" in stream or "{" in prefix or "}" in prefix:
        raise ConfigurationError(f"stream names may not contain braces (a Redis Cluster hash tag): {stream!r}")
    return f"{prefix}:{{{exchange}:{stream}}}"


def meta_key(key: str) -> str:
    """The hash beside a stream (same hash slot): ``<key>:meta``."""
    return f"{key}:meta"


def parse_key(text: str, prefix: str = "bpbfx") -> tuple[str, str, str]:
    """``(key, exchange, stream)`` from a key (``bpbfx:{bitfinex:trades:tBTCUSD}``) or an
    ``exchange:stream`` name (``bitfinex:trades:tBTCUSD``, ``backpack:depth.SOL_USDC``).

    Raises:
        ConfigurationError: neither form (the message shows both).
    """
    m = _KEY.match(text)
    if m is not None:
        return text, m["exchange"], m["stream"]
    exchange, sep, stream = text.partition(":")
    if sep and exchange in ("backpack", "bitfinex") and stream:
        return stream_key(exchange, stream, prefix), exchange, stream
    raise ConfigurationError(
        f"not a bpbfx stream: {text!r}; give EXCHANGE:STREAM (backpack:depth.SOL_USDC, "
        "bitfinex:book:tBTCUSD:P0:F0:25) or a key like bpbfx:{backpack:trade.SOL_USDC}"
    )


_KINDS: dict[type, str] = {}


def event_kind(cls: type) -> str:
    """Entry ``kind`` of an event class: its name in snake case (``BookTicker`` ->
    ``book_ticker``)."""
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _KINDS[cls] = _CAMEL.sub("_", cls.__name__).lower()
    return kind


def _num(value: Decimal) -> str:
    # str(Decimal) keeps the digits and exponent the exchange wrote; a zero size is "0".
    return "0" if not value else str(value)


def encode_snapshot(snapshot: FrozenBook) -> str:
    """``data`` of a ``snapshot`` entry: every level, best first."""
    return json.dumps(
        {
            "b": [[str(p), str(s)] for p, s in snapshot.bids],
            "a": [[str(p), str(s)] for p, s in snapshot.asks],
        },
        separators=(",", ":"),
    )


def encode_changes(changes: Iterable[LevelChange]) -> str:
    """``data`` of a ``delta`` entry: the new size of every changed level (``"0"`` removes)."""
    bids: list[list[str]] = []
    asks: list[list[str]] = []
    for change in changes:
        row = [str(change.price), _num(change.new_size)]
        (bids if change.side is BookSide.BID else asks).append(row)
    return json.dumps({"b": bids, "a": asks}, separators=(",", ":"))


def decode_levels(data: Any) -> tuple[list[Level], list[Level]]:
    """Bid and ask levels of a decoded ``snapshot``/``delta`` ``data`` (Decimals from text).

    Raises:
        MalformedFrameError: not the documented shape.
    """
    try:
        bids = [Level(Decimal(p), Decimal(s)) for p, s in data.get("b", ())]
        asks = [Level(Decimal(p), Decimal(s)) for p, s in data.get("a", ())]
    except (AttributeError, TypeError, ValueError, ArithmeticError) as exc:
        raise MalformedFrameError(f"book entry data is not {{b: [[p, s]], a: [...]}}: {data!r}"[:300]) from exc
    return bids, asks


@dataclass(frozen=True, slots=True)
class WireEntry:
    """One decoded stream entry (see the module docstring for the fields)."""

    id: str
    v: int
    kind: str
    exchange: str
    stream: str
    symbol: str | None
    epoch: int
    n: int
    seq: int | None
    prev: int | None
    exchange_time_us: int | None
    receive_time_us: int | None
    event: str | None
    data: Any
    backfill: bool = False


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


_CLASS_NAMES: dict[str, str | None] = {SNAPSHOT: None, DELTA: None, GAP: None}


def event_class_name(kind: str) -> str | None:
    """The bpbfx event class of an event entry's ``kind`` (``book_ticker`` -> ``BookTicker``);
    None for ``snapshot``/``delta``/``gap``."""
    name = _CLASS_NAMES.get(kind, "")
    if name == "":
        name = "".join(part[:1].upper() + part[1:] for part in kind.split("_"))
        if len(_CLASS_NAMES) < 256:  # kinds come from Redis: keep the cache bounded
            _CLASS_NAMES[kind] = name
    return name


def decode_entry(entry_id: Any, fields: Mapping[Any, Any], *, exchange: str = "", stream: str = "",
                 symbol: str | None = None) -> WireEntry:
    """Decode one entry as returned by ``XRANGE``/``XREAD`` (bytes or text); ``exchange``,
    ``stream`` and ``symbol`` come from the key and its ``:meta`` hash.

    Raises:
        MalformedFrameError: a field is missing or malformed, or ``v`` is newer than this
            version understands.
    """
    if fields and isinstance(next(iter(fields)), str):
        fields = {k.encode(): (v.encode() if isinstance(v, str) else v) for k, v in fields.items()}
    get = fields.get
    try:
        # int() and json.loads() take the bytes as they are: no per-field decoding (the hot path).
        v = int(fields[b"v"])
        if v > VERSION:
            raise MalformedFrameError(f"entry {_text(entry_id)} has wire format v{v}; this bpbfx reads v{VERSION}")
        kind = fields[b"kind"].decode()
        seq = get(b"seq")
        prev = get(b"prev")
        et = get(b"et")
        rt = get(b"rt")
        data = get(b"data")
        backfill = get(b"backfill")
        return WireEntry(
            id=_text(entry_id),
            v=v,
            kind=kind,
            exchange=exchange,
            stream=stream,
            symbol=symbol,
            epoch=int(fields[b"epoch"]),
            n=int(fields[b"n"]),
            seq=int(seq) if seq else None,
            prev=int(prev) if prev else None,
            exchange_time_us=int(et) if et else None,
            receive_time_us=int(rt) if rt else None,
            event=event_class_name(kind),
            data=json.loads(data) if data else None,
            backfill=backfill == b"1",
        )
    except (KeyError, ValueError, AttributeError) as exc:
        raise MalformedFrameError(f"entry {_text(entry_id)} is not a bpbfx v{VERSION} entry: {exc!r}") from exc


# ------------------------------------------------------------------------------------ continuity
class Verdict(str, Enum):
    """What :meth:`Continuity.check` found."""

    OK = "ok"
    """The entry follows the previous one."""
    STALE = "stale"
    """Already seen (same epoch, lower or equal ``n``) or from an older epoch: skip it."""
    GAP = "gap"
    """Entries are missing before this one (``reason``, ``expected``, ``got``)."""


@dataclass(frozen=True, slots=True)
class Check:
    """Result of :meth:`Continuity.check`."""

    verdict: Verdict
    reason: str = ""
    expected: int | None = None
    got: int | None = None


_OK = Check(Verdict.OK)


class Continuity:
    """A reader's view of one stream's numbering: ``epoch``, ``n`` and book update ids.

    Rules (version 1): within an epoch ``n`` increases by exactly one; a new epoch starts at
    ``n`` = 0 right after a ``gap`` entry; a ``delta``'s ``prev`` equals the ``seq`` of the
    book it applies to.  A ``gap`` entry itself is always accepted (it closes its epoch).  Not
    thread-safe (one per stream, owned by the reader thread).
    """

    __slots__ = ("closed", "epoch", "n")

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.n: int | None = None
        self.closed = False  # the last entry was a gap: the next one starts a new epoch

    def reset(self) -> None:
        """Forget everything (the next entry is accepted as a new start)."""
        self.epoch = None
        self.n = None
        self.closed = False

    def check(self, entry: WireEntry, book_update_id: int | None = None) -> Check:
        """Judge ``entry`` against what came before and, when it is OK (or a GAP that the
        caller accepts), take it as the new position.  ``book_update_id`` is the reader's
        book id for a ``delta`` (``None`` skips the ``prev`` check)."""
        epoch, n = self.epoch, self.n
        kind = entry.kind
        result = _OK
        if epoch is None or n is None:
            pass  # first entry seen: any start is fine
        elif kind == GAP:
            if entry.epoch < epoch:
                return Check(Verdict.STALE, "epoch went back")
        elif entry.epoch == epoch:
            if entry.n <= n:
                return Check(Verdict.STALE, "already seen")
            if entry.n != n + 1:
                result = Check(Verdict.GAP, "missing", n + 1, entry.n)
        elif entry.epoch < epoch:
            return Check(Verdict.STALE, "epoch went back")
        elif entry.n != 0:
            result = Check(Verdict.GAP, "missing", 0, entry.n)
        elif not self.closed:
            result = Check(Verdict.GAP, "epoch", epoch, entry.epoch)
        if (
            result is _OK
            and kind == DELTA
            and book_update_id is not None
            and entry.prev is not None
            and entry.prev != book_update_id
        ):
            result = Check(Verdict.GAP, "sequence", book_update_id, entry.prev)
        self.epoch = entry.epoch
        self.n = entry.n
        self.closed = kind == GAP
        return result


def levels_equal(a: Sequence[Level], b: Sequence[Level]) -> bool:
    """Two level lists with the same prices and sizes (by number)."""
    return len(a) == len(b) and all(x.price == y.price and x.size == y.size for x, y in zip(a, b, strict=True))
