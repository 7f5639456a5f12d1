"""What ``stream`` and ``record`` share: turning ``EXCHANGE STREAM... [--sim | --url URL]``
into a running client (keys, simulator, endpoint), with every problem said in command-line
words, and waiting on the main thread until the run ends."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..base import BaseClient
from ..exceptions import ConfigurationError, CredentialsError
from ..factory import (
    ENV_KEYS,
    ApiKeys,
    make_client,
    private_streams,
    resolve_keys,
    start_simulator,
    validate_streams,
)
from ..proxy import proxy_option
from .errors import CommandError, UsageError
from .format import stats_json
from .printers import ErrorPrinter, EventPrinter

__all__ = [
    "Source",
    "build_client",
    "check_streams",
    "keys_for",
    "missing_keys_message",
    "open_source",
    "rest_url_for",
    "start_sim",
    "wait_loop",
]


def check_streams(exchange: str, streams: Sequence[str]) -> None:
    """Check every stream name before anything starts.

    Raises:
        UsageError: a name is invalid (the message says what would be valid).
    """
    try:
        validate_streams(exchange, streams)
    except ConfigurationError as exc:
        extra = " (and account: the authenticated account data)" if "unknown channel" in exc.message else ""
        raise UsageError(exc.message + extra) from None


def _env_words(exchange: str) -> str:
    """``A and B (or C and D)``: the variables that hold ``exchange``'s keys."""
    pairs = [f"{key} and {secret}" for key, secret in ENV_KEYS[exchange]]
    return pairs[0] + "".join(f" (or {p})" for p in pairs[1:])


def missing_keys_message(exchange: str, private: Sequence[str], sim_option: str = "--sim") -> str:
    """What to say when private streams are asked without keys."""
    names = ", ".join(repr(s) for s in private)
    what = "stream" if len(private) == 1 else "streams"
    return (
        f"the {exchange} {what} {names} need{'s' if len(private) == 1 else ''} API keys: set {_env_words(exchange)} "
        f"in the environment or a .env file, or add {sim_option} to run against the built-in simulator "
        "with a generated test account"
    )


def keys_for(exchange: str, streams: Sequence[str], *, sim: bool, sim_option: str = "--sim") -> ApiKeys | None:
    """The keys for ``streams``: ``None`` when none is private; else the environment's, else,
    on a simulator, generated ones.

    Raises:
        UsageError: private streams and no keys (not on a simulator), or malformed keys in
            the environment.
    """
    try:
        keys = resolve_keys(exchange, streams, sim=sim)
    except CredentialsError as exc:
        raise UsageError(f"the {exchange} API keys are not usable: {exc.message}") from None
    private = private_streams(exchange, streams)
    if keys is None and private:
        raise UsageError(missing_keys_message(exchange, private, sim_option))
    return keys


def _key_words(keys: ApiKeys | None, message: str) -> str:
    """A client's message about its keys, with the argument names replaced by the variables
    the keys were read from."""
    if keys is None or not keys.source:
        return message
    key_var, secret_var = keys.source.split("/")
    message = message.replace("api_key=", key_var).replace("api_secret=", secret_var)
    return message.replace("api_key", key_var).replace("api_secret", secret_var)


def build_client(
    exchange: str,
    streams: Sequence[str],
    *,
    url: str | None,
    rest_url: str | None = None,
    keys: ApiKeys | None = None,
    books: bool = False,
    hooks: dict[str, Any] | None = None,
    flags: int | None = None,
    proxy: str | None = None,
) -> BaseClient:
    """A client of ``exchange`` subscribed to ``streams`` (see :func:`bpbfx.factory.make_client`),
    not started.

    Raises:
        UsageError: a stream is invalid, or keys are missing or malformed.
    """
    options: dict[str, Any] = dict(hooks or {})
    if flags is not None:
        options["flags"] = flags
    try:
        options["proxy"] = proxy_option(proxy)
        return make_client(exchange, streams, url=url, rest_url=rest_url, keys=keys, books=books, **options)
    except CredentialsError as exc:
        if keys is None:
            raise UsageError(missing_keys_message(exchange, private_streams(exchange, streams))) from None
        where = f" in {keys.source.replace('/', ' / ')}" if keys.source else ""
        raise UsageError(f"the {exchange} API keys{where} are not usable: {_key_words(keys, exc.message)}") from None
    except ConfigurationError as exc:
        raise UsageError(exc.message) from None


def start_sim(
    exchange: str,
    streams: Sequence[str] = (),
    *,
    port: int = 0,
    keys: ApiKeys | None = None,
    extra_markets: Sequence[Any] = (),
    balances: Any = None,
) -> Any:
    """Start the built-in simulator of ``exchange`` (see :func:`bpbfx.factory.start_simulator`).

    Raises:
        CommandError: the ``websockets`` package is missing, or the port is taken.
    """
    try:
        return start_simulator(exchange, streams, port=port, keys=keys, extra_markets=extra_markets,
                               balances=balances)
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"could not start the {exchange} simulator on port {port}: {exc.strerror or exc}") from None


def rest_url_for(url: str) -> str | None:
    """REST base of a simulator-like WebSocket URL on a loopback host (``ws://127.0.0.1:N`` ->
    ``http://127.0.0.1:N``); ``None`` for any other URL."""
    parts = urlsplit(url)
    if parts.hostname in ("127.0.0.1", "localhost", "::1") and parts.scheme in ("ws", "wss"):
        scheme = "https" if parts.scheme == "wss" else "http"
        return f"{scheme}://{parts.netloc}"
    return None


@dataclass
class Source:
    """A client ready to start, the simulator it talks to (``--sim``) and where it connects."""

    client: BaseClient
    target: str
    sim: Any = None
    keys: ApiKeys | None = None


def open_source(
    stack: contextlib.ExitStack,
    args: Any,
    hooks: dict[str, Any],
    *,
    books: bool = False,
    rest_url: str | None = None,
    notes: ErrorPrinter | None = None,
) -> Source:
    """The client of ``args.exchange``/``args.streams`` on ``--sim`` or ``--url``; the
    simulator and the client are closed by ``stack``.  With ``--sim`` and private streams but
    no keys in the environment, a test account is generated on the simulator (said on
    ``notes``).

    Raises:
        UsageError: invalid streams, missing or malformed keys.
        CommandError: the simulator could not start.
    """
    exchange: str = args.exchange
    streams: list[str] = list(args.streams)
    check_streams(exchange, streams)
    keys = keys_for(exchange, streams, sim=bool(args.sim))
    url: str | None = args.url
    sim = None
    if args.sim:
        sim = start_sim(exchange, streams, keys=keys)
        stack.callback(sim.stop)
        url = sim.url
        rest_url = rest_url or getattr(sim, "http_url", None)
        if keys is not None and keys.generated and notes is not None:
            notes.print(f"no keys in {_env_words(exchange)}: using a generated test account on the simulator")
    elif url and not rest_url:
        rest_url = rest_url_for(url)
    client = build_client(
        exchange, streams, url=url, rest_url=rest_url, keys=keys, books=books, hooks=hooks,
        proxy=getattr(args, "proxy", None),
    )
    stack.callback(client.close)
    target = url or str(getattr(client, "url", ""))
    return Source(client, target, sim, keys)


def wait_loop(
    *,
    client: BaseClient,
    output: EventPrinter | None,
    errors: ErrorPrinter,
    url: str,
    duration: float | None,
    connect_timeout: float,
    stop: threading.Event | None = None,
    stats_every: float | None = None,
    tick: Callable[[], None] | None = None,
) -> None:
    """Wait on the main thread until the run ends: ``output.done`` or ``stop`` set, ``duration``
    elapsed, or the client closed itself.  Flushes output and prints stats meanwhile.

    Raises:
        CommandError: nothing connected within ``connect_timeout`` or the client gave up.
    """
    started = time.monotonic()
    deadline = started + duration if duration is not None else None
    next_stats = started + stats_every if stats_every else None
    done = output.done if output is not None else (stop or threading.Event())
    while not done.wait(0.1):
        if stop is not None and stop.is_set():
            break
        if output is not None:
            output.flush()
        if tick is not None:
            tick()
        now = time.monotonic()
        if client.closed:
            raise CommandError(f"{client.name}: the client stopped (see the error above)")
        if not errors.opened.is_set() and now - started > connect_timeout:
            last = errors.last_transport_error
            why = f": {last}" if last is not None else ""
            raise CommandError(f"could not connect to {url} within {connect_timeout:g}s (--connect-timeout){why}")
        if next_stats is not None and stats_every and now >= next_stats:
            next_stats = now + stats_every
            errors.print("stats " + stats_json(client.stats()))
        if deadline is not None and now >= deadline:
            break
    if output is not None:
        output.flush()
