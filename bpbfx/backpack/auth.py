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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..exceptions import ConfigurationError, CredentialsError

__all__ = ["MAX_WINDOW_MS", "Signer", "clock_offset_ms", "load_credentials", "signing_text"]

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

    __slots__ = ("_clock", "_key", "offset_ms", "verifying_key", "window_ms")

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
        self.offset_ms = 0
        """Milliseconds added to the local clock when signing: the exchange's clock minus this
        machine's, as measured with ``GET /api/v1/time`` (see :func:`clock_offset_ms`)."""

    def __repr__(self) -> str:
        return f"Signer(api_key={_short(self.verifying_key)!r}, window_ms={self.window_ms})"

    def sign(self, message: str) -> str:
        """Base64 ED25519 signature of ``message`` (UTF-8)."""
        return base64.b64encode(self._key.sign(message.encode())).decode()

    def now_ms(self) -> int:
        """The time to sign with: this machine's clock corrected by :attr:`offset_ms`."""
        return int(self._clock() * 1000) + self.offset_ms

    def subscribe_signature(self, timestamp_ms: int | None = None) -> list[str]:
        """The ``signature`` array for a SUBSCRIBE frame, signed now (or at ``timestamp_ms``)."""
        ts = self.now_ms() if timestamp_ms is None else timestamp_ms
        # The exact text Backpack verifies; "&timestamp" (a web tutorial shows it mangled by HTML).
        text = f"instruction=subscribe&timestamp={ts}&window={self.window_ms}"
        return [self.verifying_key, self.sign(text), str(ts), str(self.window_ms)]


    def request_headers(
        self, instruction: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]], timestamp_ms: int | None = None
    ) -> dict[str, str]:
        """The ``X-API-Key``, ``X-Signature``, ``X-Timestamp`` and ``X-Window`` headers of a REST
        request: ``params`` is the JSON body (POST/DELETE) or the query (GET); a list of bodies
        is a batch, each signed as its own ``instruction=...`` part (see :func:`signing_text`)."""
        ts = self.now_ms() if timestamp_ms is None else timestamp_ms
        text = signing_text(instruction, params, ts, self.window_ms)
        return {
            "X-API-Key": self.verifying_key,
            "X-Signature": self.sign(text),
            "X-Timestamp": str(ts),
            "X-Window": str(self.window_ms),
        }


def _value(value: Any) -> str:
    """A parameter as it is written in the signed text: booleans ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _part(instruction: str, params: Mapping[str, Any]) -> str:
    fields = "&".join(f"{k}={_value(v)}" for k, v in sorted(params.items()) if v is not None)
    return f"instruction={instruction}" + (f"&{fields}" if fields else "")


def signing_text(
    instruction: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]], timestamp_ms: int, window_ms: int
) -> str:
    """The exact text Backpack verifies for a REST request (https://docs.backpack.exchange,
    "Signing requests"): ``instruction=<name>&<parameters sorted by key, key=value joined by &>``
    then ``&timestamp=<ms>&window=<ms>``; booleans are ``true``/``false``.  For a batch (a list
    of bodies), each body gives its own ``instruction=...&...`` part, the parts joined by ``&``
    and the timestamp and window written once at the end."""
    if isinstance(params, Mapping):
        head = _part(instruction, params)
    else:
        head = "&".join(_part(instruction, p) for p in params)
    return f"{head}&timestamp={timestamp_ms}&window={window_ms}"


def clock_offset_ms(server_ms: int, sent: float, received: float) -> int:
    """The exchange's clock minus this machine's, in milliseconds, from a ``GET /api/v1/time``
    answer ``server_ms`` and the local wall-clock times (seconds) the request was sent and its
    answer received: the server's reading is taken to be from the middle of the round trip."""
    return int(server_ms - (sent + received) * 500)


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
