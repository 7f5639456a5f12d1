"""Bitfinex authentication: credentials, nonces, the WebSocket ``auth`` frame and the headers
of an authenticated REST request.

Bitfinex ws-auth: the client sends::

    {"event": "auth", "apiKey": K, "authSig": S, "authPayload": "AUTH<nonce>", "authNonce": nonce}

where ``S`` is the hex HMAC-SHA384 of ``"AUTH<nonce>"`` keyed with the API secret, and the nonce
is an integer that must keep increasing for the API key, across reconnects, threads and every
connection using the key, and stay below 2**53 (it travels as a JSON number).  A nonce that is
not larger than the last one the server saw is refused with code 10114 ("nonce: small").

Authenticated REST requests (https://docs.bitfinex.com/docs/rest-auth) carry ``bfx-nonce``,
``bfx-apikey`` and ``bfx-signature``, the hex HMAC-SHA384 of ``"/api" + path + nonce + body``
(``/api/v2/auth/r/orders/hist1700000000000000{"limit":25}``), keyed with the same secret; the
nonce comes from the same per-key source as the WebSocket's, since the exchange checks one
increasing nonce per key across both.

Nothing here does I/O except :meth:`Credentials.from_env`, which reads the environment and an
optional ``.env`` file.  The secret never appears in a ``repr``, ``str`` or exception message.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from ..exceptions import ConfigurationError, CredentialsError

__all__ = [
    "API_KEY_ENV",
    "API_SECRET_ENV",
    "MAX_NONCE",
    "Credentials",
    "NonceSource",
    "auth_request",
    "nonce_source_for",
    "redact",
    "rest_headers",
    "rest_signature_payload",
]

#: Environment variable holding the API key.
API_KEY_ENV: Final = "BITFINEX_API_KEY"
#: Environment variable holding the API secret.
API_SECRET_ENV: Final = "BITFINEX_API_SECRET"
#: Nonces stay below this bound (the largest integer a JSON number carries exactly is 2**53 - 1).
MAX_NONCE: Final = 2**53

# Bitfinex ws-auth: `dms: 4` cancels every order of the account when the socket closes.
_DMS_CANCEL_ON_DISCONNECT: Final = 4


def _mask_key(api_key: str) -> str:
    """A fingerprint that tells keys apart without showing any character of the value: keys
    and secrets are easily swapped by mistake, so no part of either is ever shown."""
    return "key#" + hashlib.sha256(api_key.encode()).hexdigest()[:8]


def _check(name: str, value: object) -> str:
    """Validate one credential value; the message never contains the value of a secret."""
    if not isinstance(value, str):
        raise CredentialsError(f"{name} must be a string, got {type(value).__name__}")
    if not value:
        raise CredentialsError(f"{name} is empty")
    if not value.isascii():
        raise CredentialsError(f"{name} contains non-ASCII characters (copied with smart quotes or spaces?)")
    if any(c.isspace() for c in value):
        raise CredentialsError(f"{name} contains whitespace (a stray space, tab or newline when copying it?)")
    if not value.isprintable():
        raise CredentialsError(f"{name} contains control characters")
    return value


class Credentials:
    """A Bitfinex API key and secret.

    ``repr`` / ``str`` show only the start of the key and never the secret.  Instances are
    immutable and compare equal when key and secret are equal.

    Raises:
        CredentialsError: either value is not a non-empty ASCII string without whitespace
            (the message names the value but does not show it).
    """

    __slots__ = ("_api_key", "_api_secret")

    _api_key: str
    _api_secret: str

    def __init__(self, api_key: str, api_secret: str) -> None:
        object.__setattr__(self, "_api_key", _check("api_key", api_key))
        object.__setattr__(self, "_api_secret", _check("api_secret", api_secret))

    @property
    def api_key(self) -> str:
        """The API key (sent in the clear as ``apiKey``)."""
        return self._api_key

    @property
    def api_secret(self) -> str:
        """The API secret; only ever used as the HMAC key."""
        return self._api_secret

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"Credentials(api_key={_mask_key(self._api_key)!r}, api_secret='***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return hmac.compare_digest(self._api_key, other._api_key) and hmac.compare_digest(
            self._api_secret, other._api_secret
        )

    def __hash__(self) -> int:
        return hash(self._api_key)

    def __reduce__(self) -> tuple[type[Credentials], tuple[str, str]]:
        return (type(self), (self._api_key, self._api_secret))

    @classmethod
    def from_env(
        cls,
        dotenv: bool = True,
        *,
        environ: Mapping[str, str] | None = None,
        dotenv_path: str | os.PathLike[str] | None = None,
    ) -> Credentials | None:
        """Read ``BITFINEX_API_KEY`` / ``BITFINEX_API_SECRET``.

        The environment wins; with ``dotenv`` the values missing there are taken from a ``.env``
        file (``dotenv_path``, else the nearest ``.env`` from the current directory up), which is
        read without changing the environment.  ``environ`` replaces ``os.environ`` (tests).

        Returns ``None`` when neither value is set anywhere.  Runs on the caller's thread.

        Raises:
            CredentialsError: only one of the two is set, or a value is malformed (empty,
                whitespace, non-ASCII); the secret is never shown.
        """
        env = os.environ if environ is None else environ
        key = env.get(API_KEY_ENV)
        secret = env.get(API_SECRET_ENV)
        source = "environment"
        if dotenv and (key is None or secret is None):
            values = _read_dotenv(dotenv_path)
            if key is None and values.get(API_KEY_ENV) is not None:
                key, source = values[API_KEY_ENV], ".env file"
            if secret is None and values.get(API_SECRET_ENV) is not None:
                secret, source = values[API_SECRET_ENV], ".env file"
        if key is None and secret is None:
            return None
        if key is None or secret is None:
            missing = API_KEY_ENV if key is None else API_SECRET_ENV
            present = API_SECRET_ENV if key is None else API_KEY_ENV
            raise CredentialsError(f"{present} is set but {missing} is not; set both or neither")
        try:
            return cls(key, secret)
        except CredentialsError as exc:
            message = exc.message.replace("api_key", API_KEY_ENV).replace("api_secret", API_SECRET_ENV)
            raise CredentialsError(f"{message} (read from the {source})") from None


def _read_dotenv(path: str | os.PathLike[str] | None) -> dict[str, str | None]:
    """Values of a ``.env`` file, without touching ``os.environ`` ({} when there is none)."""
    import dotenv as _dotenv  # python-dotenv; imported lazily, only needed here

    target: str | os.PathLike[str] = path if path is not None else _dotenv.find_dotenv(usecwd=True)
    if not target or not os.path.isfile(target):
        return {}
    return dict(_dotenv.dotenv_values(target))


def _default_clock() -> int:
    """Microseconds since the epoch."""
    return time.time_ns() // 1_000


class NonceSource:
    """Strictly increasing integer nonces for one API key; thread-safe.

    Each nonce is the clock in microseconds since the epoch, or the previous nonce + 1 when the
    clock has not moved or went back, so the sequence never repeats or decreases in this
    process.  Share one source between every connection of a key (see
    :func:`nonce_source_for`).

    Args:
        clock: returns the current time as integer microseconds since the epoch (injectable
            for tests).
    """

    __slots__ = ("_clock", "_last", "_lock")

    def __init__(self, clock: Callable[[], int] = _default_clock) -> None:
        self._clock = clock
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        """Return a nonce larger than every one returned before.  Safe from any thread.

        Raises:
            OverflowError: the nonce would reach 2**53 (a clock far in the future).
        """
        with self._lock:
            now = int(self._clock())
            nonce = now if now > self._last else self._last + 1
            if nonce >= MAX_NONCE:
                raise OverflowError(f"nonce {nonce} would not fit a JSON number exactly (limit 2**53)")
            self._last = nonce
            return nonce

    def advance_past(self, value: int) -> None:
        """Make every later nonce larger than ``value`` (e.g. one another process used).  Thread-safe."""
        with self._lock:
            if value > self._last:
                self._last = int(value)

    @property
    def last(self) -> int:
        """The last nonce returned (0 before the first)."""
        return self._last

    def __repr__(self) -> str:
        return f"NonceSource(last={self._last})"


_registry: dict[str, NonceSource] = {}
_registry_lock = threading.Lock()


def nonce_source_for(api_key: str) -> NonceSource:
    """The process-wide :class:`NonceSource` of ``api_key`` (created on first use).

    Every connection authenticating with the same key must draw from the same source, or two
    sockets could send nonces out of order and one would be refused (10114).  Thread-safe.
    """
    # Keyed by a digest so the registry does not hold the keys themselves.
    digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest()
    with _registry_lock:
        source = _registry.get(digest)
        if source is None:
            source = _registry[digest] = NonceSource()
        return source


def auth_request(
    credentials: Credentials,
    nonce: int,
    *,
    filter: Sequence[str] | None = None,
    dms: int | None = None,
) -> dict[str, Any]:
    """Build the ``auth`` frame for ``nonce``.

    ``authPayload`` is ``"AUTH" + str(nonce)`` and ``authSig`` its hex HMAC-SHA384 with the API
    secret (Bitfinex ws-auth).  ``filter`` limits the account messages the server sends
    (``"trading"``, ``"trading-tBTCUSD"``, ``"funding"``, ``"funding-fUSD"``, ``"wallet"``,
    ``"wallet-exchange-BTC"``, ``"algo"``, ``"balance"``, ``"notify"``); ``dms=4`` cancels every
    order of the account when this socket closes.  Raises nothing else; pure.

    Raises:
        ConfigurationError: the nonce is not an integer in 1 .. 2**53 - 1, ``filter`` is a single
            string or contains anything but non-empty strings, or ``dms`` is not 4.
    """
    if not isinstance(nonce, int) or isinstance(nonce, bool) or not 0 < nonce < MAX_NONCE:
        raise ConfigurationError(f"auth nonce must be an integer between 1 and 2**53 - 1, got {nonce!r}")
    payload = f"AUTH{nonce}"
    signature = hmac.new(credentials.api_secret.encode("ascii"), payload.encode("ascii"), hashlib.sha384).hexdigest()
    request: dict[str, Any] = {
        "event": "auth",
        "apiKey": credentials.api_key,
        "authSig": signature,
        "authPayload": payload,
        "authNonce": nonce,
    }
    if filter is not None:
        if isinstance(filter, str):
            raise ConfigurationError(f"auth filter must be a list of strings, e.g. [{filter!r}], not a string")
        names = list(filter)
        for name in names:
            if not isinstance(name, str) or not name or any(c.isspace() for c in name):
                raise ConfigurationError(
                    f"invalid auth filter {name!r}; valid: trading, trading-<tSYMBOL>, funding, funding-<fSYMBOL>, "
                    "wallet, wallet-<type>-<CURRENCY>, algo, balance, notify"
                )
        request["filter"] = names
    if dms is not None:
        if dms != _DMS_CANCEL_ON_DISCONNECT or isinstance(dms, bool):
            raise ConfigurationError(f"dms must be 4 (cancel all orders when the socket closes) or None, got {dms!r}")
        request["dms"] = dms
    return request


def redact(request: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``request`` fit for logs and error reports: ``authSig`` removed, ``apiKey`` masked.

    Raises nothing.
    """
    safe = {name: value for name, value in request.items() if name != "authSig"}
    key = safe.get("apiKey")
    if isinstance(key, str):
        safe["apiKey"] = _mask_key(key)
    return safe


def rest_signature_payload(path: str, nonce: int, body: str) -> str:
    """The text a REST request's signature covers: ``"/api" + path + nonce + body``, where
    ``path`` starts with ``/v2/`` (``/api/v2/auth/r/orders/hist``) and ``body`` is the JSON text
    exactly as sent (rest-auth).  Pure.

    Raises:
        ConfigurationError: ``path`` does not start with ``/v2/``.
    """
    if not path.startswith("/v2/"):
        raise ConfigurationError(f"a Bitfinex REST path starts with /v2/, got {path!r}")
    return f"/api{path}{nonce}{body}"


def rest_headers(credentials: Credentials, nonce: int, path: str, body: str) -> dict[str, str]:
    """The headers of an authenticated REST request for ``path`` with the JSON ``body`` text
    (exactly as sent): ``bfx-nonce``, ``bfx-apikey``, ``bfx-signature`` (hex HMAC-SHA384 of
    :func:`rest_signature_payload` with the API secret) and ``Content-Type``.  Pure.

    Raises:
        ConfigurationError: the nonce is not an integer in 1 .. 2**53 - 1, or ``path`` does not
            start with ``/v2/``.
    """
    if not isinstance(nonce, int) or isinstance(nonce, bool) or not 0 < nonce < MAX_NONCE:
        raise ConfigurationError(f"REST nonce must be an integer between 1 and 2**53 - 1, got {nonce!r}")
    payload = rest_signature_payload(path, nonce, body)
    signature = hmac.new(credentials.api_secret.encode("ascii"), payload.encode("utf-8"), hashlib.sha384).hexdigest()
    return {
        "bfx-nonce": str(nonce),
        "bfx-apikey": credentials.api_key,
        "bfx-signature": signature,
        "Content-Type": "application/json",
    }
