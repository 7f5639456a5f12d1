"""Backpack authentication: the ED25519 signature a private SUBSCRIBE carries, and the signed
headers of the REST trading requests.

Pure (the clock is passed in); any thread.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bpbfx.sim.backpack.wire import (
    ERR_INVALID_WINDOW,
    ERR_SIGNATURE_EXPIRED,
    ERR_SIGNATURE_INVALID,
    ERR_SIGNATURE_MISSING,
    ERR_UNKNOWN_KEY,
)

__all__: list[str] = []

#: Backpack: X-Window "default is 5000 and maximum is 60000" (ms).
_MAX_WINDOW_MS = 60_000


def verify_signature(
    signature: object, allowed: Collection[str] | None, clock: Callable[[], float]
) -> str | tuple[int, str]:
    """Check a private SUBSCRIBE's ``signature`` (``[key_b64, sig_b64, "<ms>", "<window ms>"]``);
    the verifying key, or the error to answer with.

    ``allowed``: the verifying keys accepted, ``None`` for any whose signature verifies;
    ``clock``: the wall clock in seconds the timestamp must be within the window of.
    """
    if signature is None:
        return ERR_SIGNATURE_MISSING
    if not (isinstance(signature, list) and len(signature) == 4 and all(isinstance(x, str) for x in signature)):
        return ERR_SIGNATURE_INVALID
    key_b64, sig_b64, ts_text, window_text = signature
    try:
        timestamp, window = int(ts_text), int(window_text)
    except ValueError:
        return ERR_SIGNATURE_INVALID
    if not 0 < window <= _MAX_WINDOW_MS:
        return ERR_INVALID_WINDOW
    if allowed is not None and key_b64 not in allowed:
        return ERR_UNKNOWN_KEY
    now_ms = int(clock() * 1000)
    if now_ms - timestamp > window or timestamp - now_ms > window:
        return ERR_SIGNATURE_EXPIRED
    # Backpack: sign the exact text "instruction=subscribe&timestamp=<ms>&window=<ms>".
    text = f"instruction=subscribe&timestamp={ts_text}&window={window_text}".encode()
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key_b64, validate=True))
        public.verify(base64.b64decode(sig_b64, validate=True), text)
    except (ValueError, InvalidSignature):  # binascii.Error is a ValueError
        return ERR_SIGNATURE_INVALID
    return str(key_b64)


# --------------------------------------------------------------------------- signed REST requests
#: Backpack: "If no X-Window header is passed the default value of 5000" is signed.
_DEFAULT_WINDOW_MS = 5_000


@dataclass(frozen=True, slots=True)
class AuthError:
    """A signed request refused: HTTP ``status``, error ``code`` and ``message``."""

    status: int
    code: str
    message: str


# The server rebuilds the signed text on its own, from the exchange's documentation, rather than
# with the client's bpbfx.backpack.auth.signing_text: a client whose text is wrong must fail here.
def _text(value: Any) -> str:
    """A parameter as the signing text writes it: booleans ``true``/``false``, numbers as
    they were written in the JSON, strings as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _part(instruction: str, params: Mapping[str, Any]) -> str:
    fields = "&".join(f"{k}={_text(v)}" for k, v in sorted(params.items()) if v is not None)
    return f"instruction={instruction}" + (f"&{fields}" if fields else "")


def request_text(instruction: str, params: Mapping[str, Any] | list[Any], timestamp: str, window: str) -> str:
    """The text a signed request signs (docs.backpack.exchange, "Signing requests"):
    ``instruction=<name>&<params sorted by key, key=value joined by &>&timestamp=<ms>&window=<ms>``
    (the JSON body's fields, or the query of a GET); a batch (a list of bodies) signs each body
    as its own ``instruction=...`` part, the parts joined by ``&``, timestamp and window once."""
    if isinstance(params, list):
        head = "&".join(_part(instruction, p if isinstance(p, Mapping) else {}) for p in params)
    else:
        head = _part(instruction, params)
    return f"{head}&timestamp={timestamp}&window={window}"


def verify_request(
    headers: Mapping[str, str],
    instruction: str,
    params: Mapping[str, Any] | list[Any],
    allowed: Collection[str] | None,
    now_ms: int,
) -> str | AuthError:
    """Check the ``X-API-Key``, ``X-Signature``, ``X-Timestamp`` and ``X-Window`` headers
    (lower-case names) of a request; the verifying key, or why it is refused.

    Refusals: 401 INVALID_CLIENT_REQUEST when a header is missing or the key is not one of
    ``allowed`` (simulator's own texts), 400 INVALID_CLIENT_REQUEST for a malformed timestamp
    or a window outside 1..60000, 401 "Request has expired" outside the window (either way)
    of ``now_ms``, 401 INVALID_SIGNATURE when the ED25519 signature does not verify.
    """
    key_b64 = headers.get("x-api-key")
    sig_b64 = headers.get("x-signature")
    ts_text = headers.get("x-timestamp")
    window_text = headers.get("x-window", str(_DEFAULT_WINDOW_MS))
    if not key_b64 or not sig_b64 or not ts_text:
        return AuthError(401, "INVALID_CLIENT_REQUEST", "Missing X-API-Key, X-Signature or X-Timestamp header")
    try:
        timestamp, window = int(ts_text), int(window_text)
    except ValueError:
        return AuthError(400, "INVALID_CLIENT_REQUEST", "Invalid X-Timestamp or X-Window header")
    if not 0 < window <= _MAX_WINDOW_MS:
        return AuthError(400, "INVALID_CLIENT_REQUEST", f"X-Window must be between 1 and {_MAX_WINDOW_MS}")
    if allowed is not None and key_b64 not in allowed:
        return AuthError(401, "INVALID_CLIENT_REQUEST", "Invalid API key")
    if now_ms - timestamp > window or timestamp - now_ms > window:
        return AuthError(401, "INVALID_CLIENT_REQUEST", "Request has expired")
    text = request_text(instruction, params, ts_text, window_text).encode()
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key_b64, validate=True))
        public.verify(base64.b64decode(sig_b64, validate=True), text)
    except (ValueError, InvalidSignature):
        return AuthError(401, "INVALID_SIGNATURE", "Invalid signature")
    return key_b64
