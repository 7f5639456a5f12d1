"""What ``bpbfx collect`` runs: :class:`CollectConfig`, from a TOML file (:func:`load_config`)
and/or flags (see :mod:`bpbfx.collect` for the file format)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Final

from ..backoff import Backoff
from ..exceptions import ConfigurationError
from ..factory import EXCHANGES
from ..proxy import proxy_option
from .markets import MarketSelection

__all__ = ["SINK_KEYS", "CollectConfig", "load_config"]

#: The keys a ``[sink]`` table may hold (:class:`~bpbfx.sinks.RedisStreamSink` options).
SINK_KEYS: Final = ("maxlen", "snapshot_every", "snapshot_interval", "queue_size", "batch_size", "socket_timeout",
                    "prefix")
_TOP_KEYS: Final = ("workers", "redis", "cluster", "output_dir", "sim", "stats_interval", "duration", "proxy",
                    "metrics_port", "metrics_addr", "markets_refresh", "connect_limit")
_EXCHANGE_KEYS: Final = ("streams", "url", "rest_url", "markets", "quote", "market_type", "market_streams")
_SELECTION_KEYS: Final = ("quote", "market_type", "market_streams")


@dataclass(frozen=True)
class CollectConfig:
    """What ``bpbfx collect`` runs (from a TOML file and/or flags).

    Attributes:
        backpack / bitfinex: stream names per exchange.
        workers: worker processes.
        redis: output URL (``redis://``, ``redis+cluster://``); None writes JSONL recordings.
        cluster: the Redis is a cluster (None: ask the server).
        output_dir: directory of the JSONL recordings.
        sim: run against the built-in simulators.
        urls: exchange -> WebSocket URL overrides; rest_urls: exchange -> REST URL overrides.
        proxy: the proxy of every connection (``http://[user:pass@]host:port``, ``socks5://``,
            ``socks5h://``), ``"none"`` for none; ``None``: the environment's (``https_proxy``...).
        stats_interval: seconds between stats lines.
        duration: stop after this many seconds (None: until Ctrl-C / SIGTERM).
        sink: keyword arguments for :class:`~bpbfx.sinks.RedisStreamSink` (``maxlen``,
            ``snapshot_every``, ``queue_size``, ...).
        restart_backoff: delays before restarting a dead worker.
        metrics_port: serve Prometheus metrics of the supervisor and every worker on this port
            (0: any free port; None: no metrics; needs ``pip install 'bpbfx[metrics]'``).
        metrics_addr: the address the metrics endpoint listens on (``0.0.0.0``: every one).
        all_markets: exchange -> :class:`~bpbfx.collect.markets.MarketSelection`: record every
            market of that exchange (filtered), discovered from its market list and followed
            while running.
        markets_refresh: seconds between two readings of the market lists (listings and
            delistings are followed at that pace).
        connect_limit: the Bitfinex connection budget ``(connects, seconds)`` shared by every
            worker (one IP); ``None``: Bitfinex's 20 per 60 s, except on the built-in
            simulator, which limits nothing.

    Raises:
        ConfigurationError: a value out of range, or no streams at all.
    """

    backpack: tuple[str, ...] = ()
    bitfinex: tuple[str, ...] = ()
    workers: int = 1
    redis: str | None = None
    cluster: bool | None = None
    output_dir: str = "."
    sim: bool = False
    urls: dict[str, str] = field(default_factory=dict)
    rest_urls: dict[str, str] = field(default_factory=dict)
    proxy: str | None = None
    stats_interval: float = 5.0
    duration: float | None = None
    sink: dict[str, Any] = field(default_factory=dict)
    restart_backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.5, cap=30.0, jitter=0.2))
    metrics_port: int | None = None
    metrics_addr: str = "127.0.0.1"
    all_markets: dict[str, MarketSelection] = field(default_factory=dict)
    markets_refresh: float = 300.0
    connect_limit: tuple[int, float] | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigurationError(f"workers must be >= 1, got {self.workers}")
        if not self.backpack and not self.bitfinex and not self.all_markets:
            raise ConfigurationError("nothing to collect: give Backpack and/or Bitfinex streams")
        if set(self.all_markets) - set(EXCHANGES):
            raise ConfigurationError(f"all_markets: unknown exchanges {sorted(set(self.all_markets) - set(EXCHANGES))}")
        refresh = self.markets_refresh
        if isinstance(refresh, bool) or not isinstance(refresh, (int, float)) or not refresh > 0:
            raise ConfigurationError(f"markets_refresh must be > 0 seconds, got {refresh!r}")
        if self.connect_limit is not None:
            object.__setattr__(self, "connect_limit", _connect_limit(self.connect_limit))
        if self.stats_interval <= 0:
            raise ConfigurationError("stats_interval must be > 0 seconds")
        if self.duration is not None and self.duration <= 0:
            raise ConfigurationError("duration must be > 0 seconds")
        port = self.metrics_port
        if port is not None and (type(port) is not int or not 0 <= port <= 65535):
            raise ConfigurationError(f"metrics_port must be a port number 0..65535, got {port!r}")
        proxy_option(self.proxy)  # a bad proxy URL is refused here, without its credentials

    def exchanges(self) -> tuple[str, ...]:
        """The exchanges with streams or every market to collect."""
        return tuple(e for e in EXCHANGES if self.streams_of(e) or e in self.all_markets)

    def streams(self) -> list[tuple[str, str]]:
        """Every ``(exchange, stream)`` in order."""
        return [("backpack", s) for s in self.backpack] + [("bitfinex", s) for s in self.bitfinex]

    def streams_of(self, exchange: str) -> tuple[str, ...]:
        """The streams of one exchange."""
        return self.backpack if exchange == "backpack" else self.bitfinex


def _connect_limit(value: Any) -> tuple[int, float]:
    """``(connects, seconds)`` from a pair, or ``"N/S"`` text."""
    if isinstance(value, str):
        value = value.split("/", 1)
    try:
        connects, seconds = value
        if isinstance(connects, bool) or float(connects) != int(connects):
            raise ValueError
        pair = (int(connects), float(seconds))
    except (TypeError, ValueError):
        pair = (0, 0.0)
    if pair[0] < 1 or not pair[1] > 0:
        raise ConfigurationError(f"connect_limit must be [connects >= 1, seconds > 0] (e.g. [20, 60]), got {value!r}")
    return pair


def selection(exchange: str, section: dict[str, Any], where: str = "") -> MarketSelection:
    """The :class:`MarketSelection` of a ``[backpack]`` / ``[bitfinex]`` table holding
    ``markets = "all"`` (``quote``, ``market_type``, ``market_streams``).

    Raises:
        ConfigurationError: a bad value (the message names the key).
    """
    quote = section.get("quote", [])
    if isinstance(quote, str):
        quote = [quote]
    if not isinstance(quote, list) or not all(isinstance(q, str) and q for q in quote):
        raise ConfigurationError(f"{where}[{exchange}] quote must be a list of currencies, e.g. [\"USDC\"]")
    kinds = section.get("market_streams", [])
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        raise ConfigurationError(f"{where}[{exchange}] market_streams must be a list of stream kinds")
    market_type = section.get("market_type", "all")
    try:
        return MarketSelection(exchange, tuple(quote), str(market_type).lower(), tuple(kinds))
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}[{exchange}] {exc.message}") from None


def _toml() -> Any:
    import importlib

    try:
        return importlib.import_module("tomllib")  # Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            return importlib.import_module("tomli")
        except ModuleNotFoundError:
            raise ConfigurationError("reading a TOML config needs Python 3.11+ or: pip install tomli") from None


def load_config(path: str | os.PathLike[str], **overrides: Any) -> CollectConfig:
    """Read a TOML config (see :mod:`bpbfx.collect`); ``overrides`` (not None) win, except that
    ``backpack``/``bitfinex`` streams are added to the file's.  Calling thread.

    Raises:
        ConfigurationError: unreadable file, bad TOML, unknown keys or bad values.
    """
    tomllib = _toml()
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None
    known = {*_TOP_KEYS, *EXCHANGES, "sink"}
    unknown = set(doc) - known
    if unknown:
        raise ConfigurationError(f"{path}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    values: dict[str, Any] = {k: doc[k] for k in _TOP_KEYS if k in doc}
    urls: dict[str, str] = {}
    rest: dict[str, str] = {}
    all_markets: dict[str, MarketSelection] = {}
    for exchange in EXCHANGES:
        section = doc.get(exchange) or {}
        if not isinstance(section, dict):
            raise ConfigurationError(f"{path}: [{exchange}] must be a table with streams = [...]")
        bad = set(section) - set(_EXCHANGE_KEYS)
        if bad:
            raise ConfigurationError(f"{path}: unknown keys in [{exchange}]: {sorted(bad)} "
                                     f"({', '.join(_EXCHANGE_KEYS)})")
        if "markets" in section:
            if section["markets"] != "all":
                raise ConfigurationError(f'{path}: [{exchange}] markets must be "all" (every market of the exchange; '
                                         f'list single streams with streams = [...]), got {section["markets"]!r}')
            all_markets[exchange] = selection(exchange, section, f"{path}: ")
        elif set(section) & set(_SELECTION_KEYS):
            raise ConfigurationError(f'{path}: [{exchange}] {sorted(set(section) & set(_SELECTION_KEYS))} filter '
                                     'every market: add markets = "all"')
        streams = section.get("streams") or []
        if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
            raise ConfigurationError(f"{path}: [{exchange}] streams must be a list of names")
        values[exchange] = tuple(streams)
        if "url" in section:
            urls[exchange] = str(section["url"])
        if "rest_url" in section:
            rest[exchange] = str(section["rest_url"])
    sink = doc.get("sink") or {}
    bad = set(sink) - set(SINK_KEYS)
    if bad:
        raise ConfigurationError(f"{path}: unknown keys in [sink]: {sorted(bad)}; known: {list(SINK_KEYS)}")
    values.update(urls=urls, rest_urls=rest, sink=dict(sink), all_markets=all_markets)
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("urls", "rest_urls", "sink", "all_markets"):
            values[key] = {**values.get(key, {}), **value}
        elif key in EXCHANGES:
            values[key] = tuple(values.get(key, ())) + tuple(value)
        else:
            values[key] = value
    try:
        return CollectConfig(**values)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc.message}") from None
    except TypeError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
