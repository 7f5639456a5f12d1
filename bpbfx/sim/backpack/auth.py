"""Backpack private streams: the ED25519 signature a private SUBSCRIBE carries.

Pure (the clock is passed in); any thread.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection

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
