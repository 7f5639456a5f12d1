"""Bases of the Bitfinex events: the fields every event of a channel carries, declared once.

Data frames end with what the connection's ``conf`` flags append (docs.bitfinex.com/docs/ws-general,
"Configuration"): ``SEQ_ALL`` adds a per-connection sequence number (``seq``), ``TIMESTAMP`` the
time in milliseconds (``ts_ms``); channel-0 frames with ``SEQ_ALL`` carry a second, authenticated
sequence number (``[0, TYPE, DATA, PUB_SEQ, AUTH_SEQ]``, ``auth_seq``).  Snapshots and updates of
the same data say which they are in ``snapshot``.

:class:`ChannelEvent` and its subclasses declare those fields here, once; every concrete event
gets them *after* its own fields, in the order ``snapshot``, ``seq``, ``auth_seq``, ``ts_ms``, so
``dataclasses.fields()``, the generated ``repr`` and :func:`bpbfx.events.positional_factory`
list an event's payload first (``BookUpdate(stream, symbol, data, entries, bulk, seq, ts_ms)``).
A plain dataclass base would put them before the payload instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

from ...events import Event

__all__ = [
    "ACCOUNT_STREAM",
    "CONNECTION_STREAM",
    "AccountEvent",
    "AccountSnapshot",
    "AccountUpdate",
    "ChannelEvent",
    "ChannelSnapshot",
    "ChannelUpdate",
    "CloseKind",
    "OrderKind",
    "EntrySide",
    "TradeKind",
]

#: ``stream`` of every channel-0 (authenticated account) event.
ACCOUNT_STREAM: Final = "account"
#: ``stream`` of events that belong to no channel (info, conf, pong, subscribe replies, errors).
CONNECTION_STREAM: Final = "connection"

TradeKind = Literal["executed", "update"]
OrderKind = Literal["new", "update", "cancel"]
CloseKind = Literal["new", "update", "close"]
EntrySide = Literal["bid", "ask"]

# A trailing field: (name, annotation text, a new default or dataclasses.field() for each class).
_Trailing = tuple[str, str, Callable[[], Any]]

_SNAPSHOT: Final[_Trailing] = ("snapshot", "bool", lambda: field(default=True, init=False))
_UPDATE: Final[_Trailing] = ("snapshot", "bool", lambda: field(default=False, init=False))
_SEQ: Final[_Trailing] = ("seq", "int | None", lambda: None)
_AUTH_SEQ: Final[_Trailing] = ("auth_seq", "int | None", lambda: None)
_TS_MS: Final[_Trailing] = ("ts_ms", "int | None", lambda: None)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelEvent(Event):
    """Base of the events of a channel: a subscribed public channel, or channel 0 (heartbeats,
    account events).

    Attributes:
        seq: the ``SEQ_ALL`` sequence number of the frame, ``None`` when the flag is off.
        ts_ms: the ``TIMESTAMP`` time of the frame (milliseconds), ``None`` when the flag is off.
    """

    # Declared for type checkers; at run time __init_subclass__ adds them to each subclass,
    # after its own fields (see the module docstring).
    if TYPE_CHECKING:
        seq: int | None = None
        ts_ms: int | None = None

    _trailing: ClassVar[tuple[_Trailing, ...]] = (_SEQ, _TS_MS)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Append the trailing fields of the nearest base to the subclass's own annotations,
        before ``@dataclass`` reads them.  A base (a class that sets ``_trailing``) gets none; the
        copy of a class that ``slots=True`` makes already has them."""
        super(ChannelEvent, cls).__init_subclass__(**kwargs)
        if "_trailing" in cls.__dict__:
            return
        own = cls.__annotations__  # the class's own annotations (an empty dict when it has none)
        for name, annotation, default in cls._trailing:
            if name not in own:
                own[name] = annotation
                setattr(cls, name, default())


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelSnapshot(ChannelEvent):
    """Base of the snapshots a public channel sends first after subscribing (``snapshot`` True)."""

    if TYPE_CHECKING:
        snapshot: bool = field(default=True, init=False)

    _trailing: ClassVar[tuple[_Trailing, ...]] = (_SNAPSHOT, _SEQ, _TS_MS)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelUpdate(ChannelEvent):
    """Base of the updates a public channel sends after its snapshot (``snapshot`` False)."""

    if TYPE_CHECKING:
        snapshot: bool = field(default=False, init=False)

    _trailing: ClassVar[tuple[_Trailing, ...]] = (_UPDATE, _SEQ, _TS_MS)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountEvent(ChannelEvent):
    """Base of the channel-0 (authenticated account) events; ``stream`` is ``"account"``.

    Attributes:
        seq: the public sequence number (``PUB_SEQ`` of ``[0, TYPE, DATA, PUB_SEQ, AUTH_SEQ]``).
        auth_seq: the authenticated sequence number (``AUTH_SEQ``), ``None`` when absent.
    """

    if TYPE_CHECKING:
        auth_seq: int | None = None

    _trailing: ClassVar[tuple[_Trailing, ...]] = (_SEQ, _AUTH_SEQ, _TS_MS)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSnapshot(AccountEvent):
    """Base of the channel-0 snapshots sent right after authentication (``snapshot`` True)."""

    if TYPE_CHECKING:
        snapshot: bool = field(default=True, init=False)

    _trailing: ClassVar[tuple[_Trailing, ...]] = (_SNAPSHOT, _SEQ, _AUTH_SEQ, _TS_MS)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountUpdate(AccountEvent):
    """Base of the channel-0 updates of what a snapshot listed (``snapshot`` False)."""

    if TYPE_CHECKING:
        snapshot: bool = field(default=False, init=False)

    _trailing: ClassVar[tuple[_Trailing, ...]] = (_UPDATE, _SEQ, _AUTH_SEQ, _TS_MS)
