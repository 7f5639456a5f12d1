"""Control events: heartbeats, checksums and the ``{"event": ...}`` replies and notices.

``Heartbeat`` and ``Checksum`` belong to a channel (``[CHAN_ID, "hb"]``, ``[CHAN_ID, "cs", N]``)
and carry ``seq``/``ts_ms``; the others belong to no channel (stream ``"connection"``, or
``"account"`` for the ``auth`` reply).  docs.bitfinex.com/docs/ws-general lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...events import Event
from .base import ChannelEvent

__all__ = ["AuthResult", "Checksum", "Conf", "ErrorReply", "Heartbeat", "Info", "Pong", "Subscribed", "Unsubscribed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat(ChannelEvent):
    """``[CHAN_ID, "hb"]``: the channel is alive (every 15 s per channel, also on channel 0)."""

    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Checksum(ChannelEvent):
    """``[CHAN_ID, "cs", CHECKSUM]`` (OB_CHECKSUM flag): CRC32 of the top of the book, signed 32-bit."""

    checksum: int
    seq: int | None = None
    ts_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Info(Event):
    """``{"event":"info"}``: the greeting (``version``, ``server_id``, ``platform_status``, 1 = up,
    0 = maintenance) or a notice with a ``code`` (20051 restart, 20060/20061 maintenance).
    """

    version: int | None = None
    server_id: str | None = None
    platform_status: int | None = None
    code: int | None = None
    msg: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Conf(Event):
    """Reply to ``{"event":"conf","flags":N}``; ``ok`` when ``status`` is ``"OK"``."""

    flags: int | None
    ok: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribed(Event):
    """Reply to a subscribe request: the server's ``chan_id`` for this stream on this connection.

    ``stream`` is the canonical stream name the reply echoes; ``length`` is the echoed ``len``.
    """

    channel: str
    chan_id: int
    sub_id: str | None = None
    key: str | None = None
    prec: str | None = None
    freq: str | None = None
    length: int | None = None
    pair: str | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribed(Event):
    """Reply to an unsubscribe request; the connection maps ``chan_id`` back to its stream."""

    chan_id: int
    ok: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong(Event):
    """Reply to ``{"event":"ping","cid":N}``; ``ts_ms`` is the server time."""

    cid: int | None
    ts_ms: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthResult(Event):
    """Reply to ``auth``: ``ok`` with ``user_id`` and ``caps`` (permissions), or ``code``/``msg``."""

    ok: bool
    user_id: int | None = None
    auth_id: str | None = None
    caps: Any = field(default=None, compare=False)
    code: int | None = None
    msg: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorReply(Event):
    """``{"event":"error"}`` as an event; :func:`bpbfx.bitfinex.decode.error_from_event` turns it
    into the matching exception.
    """

    code: int | None
    msg: str | None
    channel: str | None = None
