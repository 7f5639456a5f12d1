"""Turn ``{"event":"error"}`` frames (and failed ``auth`` replies) into exceptions that say what
would be valid.

Codes (docs.bitfinex.com/docs/ws-general, "Error Codes"): 10000 unknown event, 10001 unknown
pair, 10100 and 10111-10114 authentication (10114: nonce too small), 10300 subscription failed,
10301 already subscribed, 10302 unknown channel, 10305 channel limit reached (25 channels per
connection, docs.bitfinex.com/docs/ws-public), 10400 unsubscription failed, 10401 not subscribed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ...exceptions import AuthenticationError, ExchangeError, InvalidStreamError, RateLimitError, SubscriptionError
from .. import channels as ch
from ..events import ACCOUNT_STREAM
from .control import unparsed_stream

__all__ = ["error_from_event"]

_AUTH_CODES: Final = frozenset({10100, 10111, 10112, 10113, 10114})
_SUBSCRIPTION_CODES: Final = frozenset({10300, 10301, 10302, 10400, 10401})
_SENSITIVE: Final = ("authSig",)


def _safe_request(request: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {name: value for name, value in request.items() if name not in _SENSITIVE}


def _error_stream(msg: Mapping[str, Any], request: Mapping[str, Any] | None) -> str | None:
    for source in (request, msg):
        if source is None or not isinstance(source.get("channel"), str):
            continue
        try:
            return ch.from_message(source).stream
        except InvalidStreamError:
            return unparsed_stream(source)
    if request is not None and request.get("event") == "auth":
        return ACCOUNT_STREAM
    return None


def _explain(code: int | None, text: str, stream: str | None) -> str:
    """What went wrong and what would be valid, per Bitfinex ws-general error codes."""
    where = f" to {stream}" if stream else ""
    if code == 10301:
        return f"already subscribed{where} on this connection (10301); unsubscribe first or reuse the channel"
    if code == 10305:
        return (
            f"channel limit reached on this connection (10305, {text}): at most 25 channels per "
            f"connection; subscribe{where} on another connection"
        )
    if code == 10302:
        return f"unknown channel (10302, {text}); valid channels: {', '.join(ch.CHANNELS)}"
    if code == 10300:
        hint = ""
        lowered = text.lower()
        if "symbol" in lowered:
            hint = (
                "; symbols are 'tBTCUSD' (trading) or 'fUSD' (funding), uppercase; "
                "the list is at https://api-pub.bitfinex.com/v2/conf/pub:list:pair:exchange"
            )
        elif "len" in lowered:
            hint = f"; valid len: {', '.join(map(str, ch.BOOK_LENGTHS))}"
        elif "prec" in lowered:
            hint = f"; valid prec: {', '.join(ch.BOOK_PRECISIONS)}"
        elif "freq" in lowered:
            hint = "; valid freq: F0, F1"
        elif "channel" in lowered:
            hint = f"; valid channels: {', '.join(ch.CHANNELS)}"
        elif "key" in lowered:
            hint = "; candles keys look like 'trade:1m:tBTCUSD', status keys 'deriv:tBTCF0:USTF0' or 'liq:global'"
        return f"subscription{where} refused (10300, {text}){hint}"
    if code == 10400:
        return f"unsubscribe failed (10400, {text})"
    if code == 10401:
        return f"not subscribed (10401, {text}): the channel id is not open on this connection"
    if code == 10114:
        return (
            f"authentication refused: nonce too small (10114, {text}); nonces must keep increasing for "
            "this API key across every connection and process using it: another program using the same "
            "key, or a clock set back since the key was last used, sends smaller ones"
        )
    if code in _AUTH_CODES:
        return f"authentication refused ({code}, {text}); check the API key, secret and the key's permissions"
    if code == 10000:
        return f"unknown event (10000, {text}); valid events: subscribe, unsubscribe, conf, ping, auth"
    return f"exchange error ({code}, {text})" if code is not None else f"exchange error ({text})"


def error_from_event(msg: Mapping[str, Any], request: Mapping[str, Any] | None) -> ExchangeError:
    """Build the exception for an ``{"event":"error"}`` frame (or a failed ``auth`` reply).

    Codes map to classes (Bitfinex ws-general): 10100 and 10111-10114 ->
    :class:`~bpbfx.exceptions.AuthenticationError`; 10305 -> :class:`~bpbfx.exceptions.RateLimitError`;
    10300, 10301, 10302, 10400, 10401 -> :class:`~bpbfx.exceptions.SubscriptionError`; anything
    else -> :class:`~bpbfx.exceptions.ExchangeError`.  The error carries ``code``, ``stream``,
    ``payload`` (the frame) and ``request`` (with ``authSig`` removed), and its message says what
    would be valid where that is known.  Raises nothing.
    """
    raw_code = msg.get("code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    text = str(msg.get("msg") or "no message")
    stream = _error_stream(msg, request)
    message = _explain(code, text, stream)
    cls: type[ExchangeError]
    if code in _AUTH_CODES or (code is None and msg.get("event") == "auth"):
        cls = AuthenticationError
    elif code == 10305:
        cls = RateLimitError
    elif code in _SUBSCRIPTION_CODES:
        cls = SubscriptionError
    else:
        cls = ExchangeError
    return cls(message, code=code, stream=stream, request=_safe_request(request), payload=dict(msg))
