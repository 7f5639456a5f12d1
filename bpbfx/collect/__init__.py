"""The collector behind ``bpbfx collect``: streams of both exchanges sharded over worker
processes, published into Redis Streams (or, with no server, written as JSONL recordings),
under a supervisor.  The command itself (and ``bpbfx tail``) is in :mod:`bpbfx.cli.collect`;
the user's guide is ``bpbfx/docs/cli.md``.

Processes and threads:

- The **supervisor** (:class:`Collector`, on the caller's thread) shards the streams
  round-robin over ``workers`` processes (:func:`shard`; started with ``multiprocessing``'s
  *spawn* method, so each owns fresh clients), and with ``all_markets`` every market of the
  exchanges' lists (:mod:`~bpbfx.collect.discovery`) balanced by expected load, with the
  Bitfinex connect budget split between the workers (:mod:`~bpbfx.collect.budget`); it
  follows listings and delistings (:mod:`~bpbfx.collect.following`, a reading thread every
  ``markets_refresh`` seconds), restarts a worker that dies (with the
  :class:`~bpbfx.Backoff` policy, reported on the terminal), prints aggregated stats every
  ``stats_interval`` seconds and, on Ctrl-C / SIGTERM, asks every worker to stop, waits for
  them to flush and reaps them.  With ``sim`` it also runs the built-in simulators, in its own
  threads.
- Each **worker** (:func:`worker_main`) runs one client per exchange (Bitfinex channels are
  still spread over sockets by the client), a :class:`~bpbfx.sinks.RedisStreamSink` (or a
  :class:`~bpbfx.recording.Recorder` per exchange) and sends its counters to the supervisor
  twice a second; it reads the supervisor's messages (markets to subscribe or unsubscribe)
  from a pipe of its own.  A worker ignores SIGINT (the supervisor decides) and stops on
  SIGTERM.

A config file (TOML, :func:`load_config`) may hold everything the flags do::

    workers = 2
    redis = "redis://127.0.0.1:6379/0"     # leave out: JSONL files in output_dir
    output_dir = "collected"
    stats_interval = 5
    metrics_port = 9100                    # leave out: no Prometheus metrics

    markets_refresh = 300                  # with markets = "all": seconds between list readings
    # connect_limit = [20, 60]             # the Bitfinex connect budget every worker shares

    [backpack]
    streams = ["depth.SOL_USDC", "trade.SOL_USDC"]
    # url = "wss://ws.backpack.exchange"; rest_url = "https://api.backpack.exchange"

    [bitfinex]
    markets = "all"                        # every market (or streams = [...])
    # quote = ["USD"]; market_type = "spot"; market_streams = ["trades", "book"]

    [sink]
    maxlen = 100000
    snapshot_every = 1000
    queue_size = 100000
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from ..factory import EXCHANGES
from .config import SINK_KEYS, CollectConfig, load_config
from .markets import Market, MarketSelection
from .shard import MarketUnit, WorkerSpec, shard
from .supervisor import Collector, CollectorStats, gap_words
from .worker import worker_main

__all__ = [
    "EXCHANGES",
    "SINK_KEYS",
    "CollectConfig",
    "Collector",
    "CollectorStats",
    "Market",
    "MarketSelection",
    "MarketUnit",
    "WorkerSpec",
    "gap_words",
    "load_config",
    "shard",
    "worker_main",
]

# The commands moved to the command-line package; the old names still work, with a warning.
_MOVED = {
    "cmd_collect": ("bpbfx.cli.collect", "cmd_collect"),
    "cmd_tail": ("bpbfx.cli.collect", "cmd_tail"),
    "add_parsers": ("bpbfx.cli.parser", "add_collect_parsers"),
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        module, attr = _MOVED[name]
        warnings.warn(f"bpbfx.collect.{name} moved to {module}.{attr}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
