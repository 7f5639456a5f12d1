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

__all__ = ["SINK_KEYS", "CollectConfig", "load_config"]

#: The keys a ``[sink]`` table may hold (:class:`~bpbfx.sinks.RedisStreamSink` options).
SINK_KEYS: Final = ("maxlen", "snapshot_every", "snapshot_interval", "queue_size", "batch_size", "socket_timeout",
                    "prefix")
_TOP_KEYS: Final = ("workers", "redis", "cluster", "output_dir", "sim", "stats_interval", "duration", "proxy",
                    "metrics_port", "metrics_addr")


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

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigurationError(f"workers must be >= 1, got {self.workers}")
        if not self.backpack and not self.bitfinex:
            raise ConfigurationError("nothing to collect: give Backpack and/or Bitfinex streams")
        if self.stats_interval <= 0:
            raise ConfigurationError("stats_interval must be > 0 seconds")
        if self.duration is not None and self.duration <= 0:
            raise ConfigurationError("duration must be > 0 seconds")
        port = self.metrics_port
        if port is not None and (type(port) is not int or not 0 <= port <= 65535):
            raise ConfigurationError(f"metrics_port must be a port number 0..65535, got {port!r}")
        proxy_option(self.proxy)  # a bad proxy URL is refused here, without its credentials

    def streams(self) -> list[tuple[str, str]]:
        """Every ``(exchange, stream)`` in order."""
        return [("backpack", s) for s in self.backpack] + [("bitfinex", s) for s in self.bitfinex]

    def streams_of(self, exchange: str) -> tuple[str, ...]:
        """The streams of one exchange."""
        return self.backpack if exchange == "backpack" else self.bitfinex


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
    for exchange in EXCHANGES:
        section = doc.get(exchange) or {}
        if not isinstance(section, dict):
            raise ConfigurationError(f"{path}: [{exchange}] must be a table with streams = [...]")
        bad = set(section) - {"streams", "url", "rest_url"}
        if bad:
            raise ConfigurationError(f"{path}: unknown keys in [{exchange}]: {sorted(bad)} (streams, url, rest_url)")
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
    values.update(urls=urls, rest_urls=rest, sink=dict(sink))
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("urls", "rest_urls", "sink"):
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
