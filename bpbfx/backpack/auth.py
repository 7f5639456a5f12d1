"""ED25519 request signing for Backpack's private streams.

Backpack (docs/protocols.md, "Backpack: signing"): sign the exact text
``instruction=subscribe&timestamp=<ms>&window=<ms>`` with the ED25519 key whose 32-byte seed is
the base64 API secret, and send ``"signature": [verifying_key_b64, signature_b64, timestamp,
window]`` (all four strings) in the SUBSCRIBE frame.  The window is at most 60000 ms.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..exceptions import ConfigurationError, CredentialsError

__all__ = ["MAX_WINDOW_MS", "Signer", "load_credentials"]

MAX_WINDOW_MS = 60_000
DEFAULT_WINDOW_MS = 5_000

# Backpack's own variable names first, then the names the official Python guide uses.
_ENV_PAIRS = (("BACKPACK_PUBLIC_KEY", "BACKPACK_SECRET_KEY"), ("PUBLIC_KEY", "SECRET_KEY"))


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CredentialsError(f"Backpack {what} is not valid base64") from None


class Signer:
    """Signs Backpack SUBSCRIBE frames for ``account.*`` streams.

    Args:
        api_secret: base64 of the 32-byte ED25519 seed (Backpack's "secret key").
        api_key: base64 verifying key (Backpack's "public key"); optional, but when given it
            must match the secret.
        window_ms: validity window sent with each signature, 1..60000.
        clock: returns the current time in seconds (injectable for tests).

    Raises:
        CredentialsError: the secret is not base64 of 32 bytes, or the key does not match it.
            The message never contains the secret.
        ConfigurationError: ``window_ms`` is out of range.
    """

    __slots__ = ("_clock", "_key", "verifying_key", "window_ms")

    def __init__(
        self,
        api_secret: str,
        api_key: str | None = None,
        *,
        window_ms: int = DEFAULT_WINDOW_MS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(api_secret, str) or not api_secret.strip():
            raise CredentialsError("Backpack API secret is empty")
        seed = _b64decode(api_secret, "API secret")
        if len(seed) != 32:
            raise CredentialsError(
                f"Backpack API secret must be base64 of a 32-byte ED25519 seed, got {len(seed)} bytes"
            )
        if not isinstance(window_ms, int) or not 0 < window_ms <= MAX_WINDOW_MS:
            raise ConfigurationError(f"window_ms must be an integer from 1 to {MAX_WINDOW_MS}, got {window_ms!r}")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        derived = base64.b64encode(self._key.public_key().public_bytes_raw()).decode()
        if api_key is not None:
            given = _b64decode(api_key, "API key (public key)")
            if base64.b64encode(given).decode() != derived:
                # Neither value is shown, not even in part: key and secret are easily swapped.
                raise CredentialsError(
                    "Backpack API key (public key) does not belong to the given API secret; check that "
                    "api_key is the public key and api_secret the secret key, not the other way round"
                )
        self.verifying_key = derived
        self.window_ms = window_ms
        self._clock = clock

    def __repr__(self) -> str:
        return f"Signer(api_key={_short(self.verifying_key)!r}, window_ms={self.window_ms})"

    def sign(self, message: str) -> str:
        """Base64 ED25519 signature of ``message`` (UTF-8)."""
        return base64.b64encode(self._key.sign(message.encode())).decode()

    def subscribe_signature(self, timestamp_ms: int | None = None) -> list[str]:
        """The ``signature`` array for a SUBSCRIBE frame, signed now (or at ``timestamp_ms``)."""
        ts = int(self._clock() * 1000) if timestamp_ms is None else timestamp_ms
        # The exact text Backpack verifies; "&timestamp" (a web tutorial shows it mangled by HTML).
        text = f"instruction=subscribe&timestamp={ts}&window={self.window_ms}"
        return [self.verifying_key, self.sign(text), str(ts), str(self.window_ms)]


def _short(key: str) -> str:
    """A fingerprint of a key, never any character of it."""
    return "key#" + hashlib.sha256(key.strip().encode()).hexdigest()[:8]


def load_credentials(dotenv: bool = True) -> tuple[str, str] | None:
    """``(api_key, api_secret)`` from the environment (and a ``.env`` file found from the
    current directory upwards, without overriding the environment), or ``None``."""
    if dotenv:
        from dotenv import find_dotenv, load_dotenv

        path = find_dotenv(usecwd=True)
        if path:
            load_dotenv(path, override=False)
    for key_name, secret_name in _ENV_PAIRS:
        secret = os.environ.get(secret_name)
        if secret:
            return os.environ.get(key_name, ""), secret
    return None
