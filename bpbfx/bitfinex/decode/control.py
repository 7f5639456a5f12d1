"""Decode control frames: heartbeats, checksums and the ``{"event": ...}`` dict frames.

``[CHAN_ID, "hb"]`` keeps a channel alive (every 15 s, channel 0 included) and
``[CHAN_ID, "cs", CHECKSUM]`` follows book updates when the ``OB_CHECKSUM`` flag is on; dict
frames are the server's greeting and notices (``info``) and the replies to ``conf``,
``subscribe``, ``unsubscribe``, ``ping`` and ``auth`` (docs.bitfinex.com/docs/ws-general,
docs.bitfinex.com/docs/ws-auth).  ``error`` dict frames become
:class:`~bpbfx.bitfinex.events.ErrorReply` here and exceptions in
:mod:`bpbfx.bitfinex.decode.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...events import Event, UnknownEvent, positional_factory
from ...exceptions import InvalidStreamError
from .. import channels as ch
from ..events import (
    ACCOUNT_STREAM,
    CONNECTION_STREAM,
    AuthResult,
    Checksum,
    Conf,
    ErrorReply,
    Heartbeat,
    Info,
    Pong,
    Subscribed,
    Unsubscribed,
)
from .values import _SHAPE_ERRORS, _int, _malformed, _oint, _ostr

__all__ = ["checksum", "decode_event", "heartbeat"]

_new_heartbeat = positional_factory(Heartbeat)  # (stream, symbol, data, seq, ts_ms)
_new_checksum = positional_factory(Checksum)  # (stream, symbol, data, checksum, seq, ts_ms)


def heartbeat(stream: str, symbol: str | None, seq: int | None = None, ts_ms: int | None = None) -> Heartbeat:
    """The event for ``[CHAN_ID, "hb"]`` on ``stream`` (channel 0: stream ``"account"``).  Raises nothing."""
    return _new_heartbeat(stream, symbol, None, seq, ts_ms)


def checksum(
    stream: str, symbol: str | None, payload: Any, seq: int | None = None, ts_ms: int | None = None
) -> Checksum:
    """The event for ``[CHAN_ID, "cs", CHECKSUM]`` (OB_CHECKSUM flag; a signed 32-bit CRC32).

    Raises:
        MalformedFrameError: CHECKSUM is not an integer.
    """
    try:
        value = _int(payload)
    except _SHAPE_ERRORS as exc:
        raise _malformed(stream, "'cs' frame", payload, exc) from exc
    return _new_checksum(stream, symbol, payload, value, seq, ts_ms)


def unparsed_stream(msg: Mapping[str, Any]) -> str:
    """The stream a message names when the channel table cannot read it: ``channel:key``,
    ``channel:symbol`` or the bare channel."""
    channel = msg.get("channel")
    target = msg.get("key") or msg.get("symbol")
    return f"{channel}:{target}" if target is not None else str(channel)


def _subscribed_stream(msg: Mapping[str, Any]) -> tuple[str, str | None]:
    """(canonical stream, market symbol) a ``subscribed`` reply names."""
    try:
        sub = ch.from_message(msg)
    except InvalidStreamError:
        return unparsed_stream(msg), _ostr(msg.get("symbol"))
    return sub.stream, sub.market_symbol


def decode_event(msg: Mapping[str, Any]) -> Event:
    """Decode a dict frame: ``info``, ``conf``, ``subscribed``, ``unsubscribed``, ``pong``,
    ``auth`` and ``error`` (as :class:`~bpbfx.bitfinex.events.ErrorReply`).

    Other events give :class:`~bpbfx.events.UnknownEvent`.  Runs on the caller's thread.

    Raises:
        MalformedFrameError: a known event lacks a required field (``chanId`` of ``subscribed``
            / ``unsubscribed``) or has one of the wrong type.
    """
    event = msg.get("event")
    try:
        if event == "info":
            platform = msg.get("platform")
            status = platform.get("status") if isinstance(platform, Mapping) else None
            return Info(
                stream=CONNECTION_STREAM,
                symbol=None,
                data=msg,
                version=_oint(msg.get("version")),
                server_id=_ostr(msg.get("serverId")),
                platform_status=_oint(status),
                code=_oint(msg.get("code")),
                msg=_ostr(msg.get("msg")),
            )
        if event == "subscribed":
            length = msg.get("len")
            sub_id = msg.get("subId")
            stream, market = _subscribed_stream(msg)
            return Subscribed(
                stream=stream,
                symbol=market,
                data=msg,
                channel=str(msg.get("channel")),
                chan_id=_int(msg.get("chanId")),
                sub_id=None if sub_id is None else str(sub_id),
                key=_ostr(msg.get("key")),
                prec=_ostr(msg.get("prec")),
                freq=_ostr(msg.get("freq")),
                length=None if length is None else _int(length),
                pair=_ostr(msg.get("pair")),
                currency=_ostr(msg.get("currency")),
            )
        if event == "unsubscribed":
            return Unsubscribed(
                stream=CONNECTION_STREAM,
                symbol=None,
                data=msg,
                chan_id=_int(msg.get("chanId")),
                ok=msg.get("status") == "OK",
            )
        if event == "conf":
            return Conf(
                stream=CONNECTION_STREAM,
                symbol=None,
                data=msg,
                flags=_oint(msg.get("flags")),
                ok=msg.get("status") == "OK",
            )
        if event == "pong":
            return Pong(
                stream=CONNECTION_STREAM, symbol=None, data=msg, cid=_oint(msg.get("cid")), ts_ms=_oint(msg.get("ts"))
            )
        if event == "auth":
            auth_id = msg.get("auth_id")
            return AuthResult(
                stream=ACCOUNT_STREAM,
                symbol=None,
                data=msg,
                ok=msg.get("status") == "OK",
                user_id=_oint(msg.get("userId")),
                auth_id=None if auth_id is None else str(auth_id),
                caps=msg.get("caps"),
                code=_oint(msg.get("code")),
                msg=_ostr(msg.get("msg")),
            )
        if event == "error":
            return ErrorReply(
                stream=CONNECTION_STREAM,
                symbol=_ostr(msg.get("symbol")),
                data=msg,
                code=_oint(msg.get("code")),
                msg=_ostr(msg.get("msg")),
                channel=_ostr(msg.get("channel")),
            )
    except _SHAPE_ERRORS as exc:
        raise _malformed(CONNECTION_STREAM, f"{event!r} event", dict(msg), exc) from exc
    return UnknownEvent(stream=CONNECTION_STREAM, symbol=None, data=msg)
