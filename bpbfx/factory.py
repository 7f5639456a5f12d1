"""Building exchange clients from stream names: the one place the ``bpbfx`` command, the
collector and :class:`~bpbfx.Feed` turn ``(exchange, streams, endpoint, keys)`` into a client.

::

    from bpbfx.factory import make_client, start_simulator, validate_streams

    validate_streams("bitfinex", ["book:tBTCUSD:P0:F0:25", "account"])   # raises at once
    sim = start_simulator("bitfinex", keys=generate_test_keys("bitfinex"))
    client = make_client("bitfinex", ["trades:tBTCUSD", "account"], url=sim.url, keys=...)

Stream names are the exchanges' own (``depth.SOL_USDC``, ``trades:tBTCUSD``, ...), plus, for
Bitfinex, ``account`` (or ``auth``): the authenticated account data of channel 0.  Backpack's
``account.*`` streams and Bitfinex ``account`` are *private*: they need API keys
(:func:`keys_from_env`, or :func:`generate_test_keys` for a simulator, which
:func:`start_simulator` admits).

Every function runs on the caller's thread and does no network I/O except
:func:`start_simulator`, which binds a port on 127.0.0.1.
"""

from __future__ import annotations

import base64
import importlib
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .backfill import BackfillPolicy
from .backoff import Backoff
from .base import BaseClient
from .exceptions import ConfigurationError

__all__ = [
    "ENV_KEYS",
    "EXCHANGES",
    "TEST_BALANCES",
    "ApiKeys",
    "admit_keys",
    "check_exchange",
    "generate_test_keys",
    "keys_from_env",
    "make_client",
    "private_streams",
    "resolve_keys",
    "simulator_class",
    "split_bitfinex",
    "start_simulator",
    "validate_streams",
]

EXCHANGES: Final = ("backpack", "bitfinex")

#: The environment variables (also read from a ``.env`` file) that hold each exchange's keys,
#: as ``(key variable, secret variable)`` pairs in the order they are looked up.
ENV_KEYS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "backpack": (("BACKPACK_PUBLIC_KEY", "BACKPACK_SECRET_KEY"), ("PUBLIC_KEY", "SECRET_KEY")),
    "bitfinex": (("BITFINEX_API_KEY", "BITFINEX_API_SECRET"),),
}

#: Wallets of the Bitfinex test account :func:`start_simulator` creates for generated keys.
TEST_BALANCES: Final[dict[str, dict[str, str]]] = {"exchange": {"USD": "100000", "BTC": "1", "ETH": "10"}}

_BITFINEX_ACCOUNT = ("account", "auth")


@dataclass(frozen=True)
class ApiKeys:
    """An API key and secret (the secret never appears in ``repr``)."""

    api_key: str
    api_secret: str = field(repr=False)
    generated: bool = False  # made by generate_test_keys (valid only on a simulator)
    source: str = ""  # where they were read, e.g. "BITFINEX_API_KEY/BITFINEX_API_SECRET"


def check_exchange(name: str) -> str:
    """``name`` in lower case if it is a known exchange.

    Raises:
        ConfigurationError: anything else (the message names the valid ones).
    """
    lowered = str(name).lower()
    if lowered not in EXCHANGES:
        raise ConfigurationError(f"unknown exchange {name!r}; choose backpack or bitfinex")
    return lowered


def split_bitfinex(streams: Iterable[str]) -> tuple[list[str], bool]:
    """Bitfinex stream specs split into channels and whether ``account`` (or ``auth``) was asked."""
    names = list(streams)
    channels = [s for s in names if s not in _BITFINEX_ACCOUNT]
    return channels, len(channels) != len(names)


def private_streams(exchange: str, streams: Iterable[str]) -> list[str]:
    """The streams that need API keys: Backpack ``account.*``, Bitfinex ``account``/``auth``."""
    if exchange == "backpack":
        return [s for s in streams if s.startswith("account.")]
    return [s for s in streams if s in _BITFINEX_ACCOUNT]


def validate_streams(exchange: str, streams: Iterable[str]) -> None:
    """Check every stream name before anything starts.

    Raises:
        ConfigurationError: unknown exchange.
        InvalidStreamError: a name is invalid (the message says what would be valid).
    """
    exchange = check_exchange(exchange)
    if exchange == "backpack":
        from .backpack.protocol import validate_stream

        for stream in streams:
            validate_stream(stream)
        return
    from .bitfinex.channels import parse_stream

    for stream in split_bitfinex(streams)[0]:
        parse_stream(stream)


def keys_from_env(exchange: str) -> ApiKeys | None:
    """The keys of ``exchange`` in the environment or a ``.env`` file (see :data:`ENV_KEYS`),
    or ``None`` when none are set.

    Raises:
        CredentialsError: only half of a pair is set, or a value is malformed.
    """
    exchange = check_exchange(exchange)
    if exchange == "backpack":
        from .backpack.auth import load_credentials

        found = load_credentials()  # also loads a .env file into the environment
        if found is None:
            return None
        pair = next((p for p in ENV_KEYS[exchange] if os.environ.get(p[1])), ENV_KEYS[exchange][0])
        return ApiKeys(found[0], found[1], source="/".join(pair))
    from .bitfinex.auth import Credentials

    creds = Credentials.from_env()
    if creds is None:
        return None
    return ApiKeys(creds.api_key, creds.api_secret, source="/".join(ENV_KEYS[exchange][0]))


def generate_test_keys(exchange: str) -> ApiKeys:
    """Fresh random keys for a test account on a simulator: Backpack an ED25519 key pair (any
    pair whose signatures verify is accepted), Bitfinex a random key and secret (admit them
    with :func:`admit_keys` or :func:`start_simulator`)."""
    if check_exchange(exchange) == "backpack":
        from .backpack.auth import Signer

        seed = base64.b64encode(os.urandom(32)).decode()
        return ApiKeys(Signer(seed).verifying_key, seed, generated=True)
    return ApiKeys(f"sim-{secrets.token_hex(8)}", secrets.token_hex(24), generated=True)


def resolve_keys(exchange: str, streams: Iterable[str], *, sim: bool = False) -> ApiKeys | None:
    """The keys to use for ``streams``: ``None`` when none of them is private; else the
    environment's (:func:`keys_from_env`); else, on a simulator (``sim``), fresh
    :func:`generate_test_keys`; else ``None`` (the private streams cannot be had).

    Raises:
        CredentialsError: malformed keys in the environment.
    """
    if not private_streams(exchange, streams):
        return None
    keys = keys_from_env(exchange)
    if keys is None and sim:
        keys = generate_test_keys(exchange)
    return keys


def simulator_class(exchange: str) -> Any:
    """The simulator class of ``exchange``.

    Raises:
        ImportError: the ``websockets`` package (``pip install 'bpbfx[sim]'``) is missing; the
            message says so.
    """
    exchange = check_exchange(exchange)
    try:
        if exchange == "backpack":
            from .sim.backpack import BackpackSimulator

            return BackpackSimulator
        from .sim.bitfinex import BitfinexSimulator

        return BitfinexSimulator
    except ImportError as exc:
        if "websockets" in str(exc):
            raise ImportError("the simulators need the 'websockets' package: pip install 'bpbfx[sim]'") from None
        raise ImportError(f"the {exchange} simulator is not available: {exc}") from None


def admit_keys(sim: Any, keys: ApiKeys, balances: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Let simulator ``sim`` accept ``keys``.  The Bitfinex simulator learns the account (with
    ``balances``: a trading account holding exactly those wallets); the Backpack simulator
    accepts any key whose signature verifies, so there is nothing to do."""
    if hasattr(sim, "add_account"):
        sim.add_account(keys.api_key, keys.api_secret, balances=balances)


def start_simulator(
    exchange: str,
    streams: Sequence[str] = (),
    *,
    port: int = 0,
    extra_markets: Sequence[Any] = (),
    keys: ApiKeys | None = None,
    balances: Mapping[str, Mapping[str, str]] | None = None,
    whole_market: bool = False,
) -> Any:
    """Start the built-in simulator of ``exchange`` on 127.0.0.1 and return it (stop it with
    ``sim.stop()``).  Backpack: every market the streams name is added to the default ones, so
    any symbol is live; ``extra_markets`` are ``MarketSpec`` values to add.  ``keys`` are
    admitted (:func:`admit_keys`); generated keys get a test account holding ``balances``
    (default :data:`TEST_BALANCES`).  ``whole_market``: the simulator lists its whole market
    (its ``ALL_MARKETS``: dozens of Backpack markets, hundreds of Bitfinex pairs) instead of
    the default markets.

    Raises:
        ImportError: the simulators' dependency is missing (see :func:`simulator_class`).
        OSError: the port could not be bound.
    """
    exchange = check_exchange(exchange)
    cls = simulator_class(exchange)
    kwargs: dict[str, Any] = {"port": port}
    if whole_market:
        kwargs["markets"] = importlib.import_module(f"bpbfx.sim.{exchange}").ALL_MARKETS
    if exchange == "backpack" and (streams or extra_markets):
        from .backpack.protocol import stream_symbol
        from .sim.backpack import DEFAULT_MARKETS

        base = kwargs.get("markets") or DEFAULT_MARKETS
        markets: list[Any] = [*base, *extra_markets]
        known = {m.symbol for m in markets}
        for stream in streams:
            symbol = stream_symbol(stream)
            if symbol and symbol not in known and not stream.startswith("account."):
                known.add(symbol)
                markets.append(symbol)
        kwargs["markets"] = markets
    sim = cls(**kwargs).start()
    if keys is not None:
        if balances is None and keys.generated:
            balances = TEST_BALANCES
        admit_keys(sim, keys, balances)
    return sim


def make_client(
    exchange: str,
    streams: Sequence[str],
    *,
    url: str | None = None,
    rest_url: str | None = None,
    keys: ApiKeys | None = None,
    books: bool = True,
    backoff: Backoff | None = None,
    backfill_trades: bool | BackfillPolicy = False,
    **options: Any,
) -> BaseClient:
    """A client of ``exchange`` subscribed to ``streams`` (validated first), not started.

    Args:
        exchange: ``backpack`` or ``bitfinex``.
        streams: stream names (Bitfinex ``account`` turns authentication on).
        url: WebSocket endpoint (default: the real exchange).
        rest_url: REST base (default: the real exchange's): Backpack book snapshots, orders and
            the clock; Bitfinex the order history of orders in doubt (``sim.http_url``).
        keys: API keys; without them a Backpack client reads the environment on its first
            private stream, and a Bitfinex client authenticates only when ``account`` is asked
            (then from the environment) and never picks up keys otherwise.
        books: keep self-verifying books of the book streams.
        backoff: reconnect policy.
        backfill_trades: fetch the trades a stream missed across reconnects from the REST
            history: Backpack ``trade.*`` streams, Bitfinex ``trades:t*`` channels (see
            ``BackpackClient`` and ``BitfinexClient``); a ``BackfillPolicy`` sets its limits.
        options: further keyword arguments of the client's constructor (hooks, ``name``,
            ``flags``, ``unified``, ...).

    Raises:
        ConfigurationError / InvalidStreamError: an unknown exchange, an invalid stream,
            ``auth=False`` with ``account``.
        CredentialsError: a private stream and no keys anywhere, or malformed keys.
    """
    exchange = check_exchange(exchange)
    validate_streams(exchange, streams)
    if keys is not None:
        options.setdefault("api_key", keys.api_key)
        options.setdefault("api_secret", keys.api_secret)
    if exchange == "backpack":
        from .backpack.client import DEFAULT_REST_URL, DEFAULT_URL, BackpackClient

        if options.get("api_key") == "":
            options["api_key"] = None  # the secret alone is enough: the key is derived from it
        bp = BackpackClient(
            url or DEFAULT_URL, rest_url=rest_url or DEFAULT_REST_URL, books=books, backoff=backoff,
            backfill_trades=backfill_trades, **options
        )
        try:
            bp.subscribe(*streams)
        except BaseException:
            bp.close()
            raise
        return bp
    from .bitfinex.client import BitfinexClient

    channels, account = split_bitfinex(streams)
    if account:
        if options.get("auth") is False:
            raise ConfigurationError("the Bitfinex 'account' stream needs authentication, but auth=False was given")
        options.setdefault("auth", True)
    elif "api_key" not in options and "api_secret" not in options:
        options.setdefault("auth", False)  # market data: never pick up keys from the environment
    if rest_url is not None:
        options.setdefault("rest_url", rest_url)
    bf = BitfinexClient(url, books=books, backoff=backoff, backfill_trades=backfill_trades, **options)
    try:
        for spec in channels:
            bf.subscribe(spec)
    except BaseException:
        bf.close()
        raise
    return bf
