"""``bpbfx collect`` (the collector of :mod:`bpbfx.collect`: streams over worker processes into
Redis or JSONL files) and ``bpbfx tail`` (what a reader of the published streams sees)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from ..collect.config import CollectConfig, load_config
from ..collect.markets import MarketSelection, stream_kinds
from ..collect.supervisor import Collector
from ..exceptions import ConfigurationError, MarketListError
from ..factory import EXCHANGES, ApiKeys
from .errors import EXIT_FAILURE, EXIT_OK, CommandError, Terminated, UsageError, interrupted_status
from .session import check_streams, keys_for

__all__ = ["TailPrinter", "cmd_collect", "cmd_tail"]

_NOTHING = ("nothing to collect: give streams with --backpack STREAM... and/or --bitfinex STREAM..., or "
            "--all-markets [EXCHANGE...], or a config file (CONFIG.toml) with streams = [...] or markets = \"all\" in "
            "[backpack] and/or [bitfinex]")


def _selections(args: argparse.Namespace) -> dict[str, MarketSelection] | None:
    """The ``--all-markets`` selections of the command line (None without the option).

    Raises:
        UsageError: a filter without --all-markets (and no config), or a bad filter.
    """
    filters = {"--quote": args.quote, "--market-type": args.market_type, "--market-streams": args.market_streams}
    given = [name for name, value in filters.items() if value is not None]
    if args.all_markets is None:
        if given and not args.config:
            raise UsageError(f"{', '.join(given)} filter every market: give --all-markets too")
        return None
    exchanges = list(dict.fromkeys(args.all_markets or EXCHANGES))
    try:
        kinds = stream_kinds(exchanges, args.market_streams or ())
        return {e: MarketSelection(e, tuple(args.quote or ()), args.market_type or "all", kinds[e]) for e in exchanges}
    except ConfigurationError as exc:
        raise UsageError(f"--market-streams: {exc.message}" if "stream" in exc.message else exc.message) from None


def _config_from_args(args: argparse.Namespace) -> CollectConfig:
    sink: dict[str, Any] = {}
    if args.maxlen is not None:
        sink["maxlen"] = args.maxlen
    if args.snapshot_every is not None:
        sink["snapshot_every"] = args.snapshot_every
    overrides: dict[str, Any] = {
        "workers": args.workers,
        "redis": args.redis,
        "cluster": True if args.cluster else None,
        "output_dir": args.output_dir,
        "sim": True if args.sim else None,
        "proxy": args.proxy,
        "stats_interval": args.stats_interval,
        "duration": args.duration,
        "backpack": tuple(args.backpack or ()) or None,
        "bitfinex": tuple(args.bitfinex or ()) or None,
        "sink": sink or None,
        "metrics_port": args.metrics_port,
        "metrics_addr": args.metrics_addr,
        "all_markets": _selections(args),
        "markets_refresh": args.markets_refresh,
        "connect_limit": args.connect_limit,
    }
    try:
        if args.config:
            config = load_config(args.config, **overrides)
            _check_filters(args, config)
            return config
        return CollectConfig(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigurationError as exc:
        if "nothing to collect" in exc.message:
            where = f"{args.config}: " if args.config else ""
            raise UsageError(where + _NOTHING) from None
        raise UsageError(exc.message) from None


def _check_filters(args: argparse.Namespace, config: CollectConfig) -> None:
    """Filters on the command line need every market somewhere (flag or file)."""
    if args.all_markets is None and not config.all_markets:
        given = [n for n, v in (("--quote", args.quote), ("--market-type", args.market_type),
                                ("--market-streams", args.market_streams)) if v is not None]
        if given:
            raise UsageError(f"{', '.join(given)} filter every market: give --all-markets too")


def _check_sink(config: CollectConfig) -> None:
    """Check the Redis output before any worker starts (each would fail on its own)."""
    if config.redis is None:
        return
    try:
        from ..sinks.redis_sink import check_options
    except ImportError:
        raise CommandError("--redis needs the 'redis' package: pip install 'bpbfx[redis]'") from None
    try:
        check_options(config.redis, **config.sink)
    except ConfigurationError as exc:
        if "Redis URL" in exc.message:
            raise UsageError(f"--redis: {exc.message}") from None
        raise UsageError(f"{exc.message} (set with --snapshot-every and --maxlen, or in the [sink] table of the "
                         "config file)") from None
    except TypeError as exc:
        raise UsageError(f"[sink] in the config file: {exc}") from None


def _serve_metrics(collector: Collector) -> None:
    """Start the metrics endpoint before any worker, so that a bad port fails at once."""
    config = collector.config
    try:
        collector.serve_metrics()
    except ImportError:
        raise CommandError("--metrics-port needs the 'prometheus-client' package: "
                           "pip install 'bpbfx[metrics]'") from None
    except OSError as exc:
        raise CommandError(f"cannot serve metrics on {config.metrics_addr}:{config.metrics_port}: "
                           f"{exc.strerror or exc}") from None


def cmd_collect(args: argparse.Namespace) -> int:
    """``bpbfx collect``: run the collector until Ctrl-C / SIGTERM or ``--duration`` (main
    thread).

    Raises:
        UsageError: a bad config, stream, key or Redis option.
        CommandError: a missing package, a simulator that could not start, or a metrics port
            that cannot be bound.
    """
    config = _config_from_args(args)
    keys: dict[str, ApiKeys] = {}
    for exchange in EXCHANGES:
        streams = config.streams_of(exchange)
        if not streams:
            continue
        check_streams(exchange, streams)
        found = keys_for(exchange, streams, sim=config.sim and exchange not in config.urls)
        if found is not None:
            keys[exchange] = found
            if found.generated:
                print(f"collect: no {exchange} keys in the environment: using a generated test account on the "
                      "simulator", file=sys.stderr)
    _check_sink(config)
    if config.redis is None:
        Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    collector = Collector(config, keys=keys)
    if config.metrics_port is not None:
        _serve_metrics(collector)
    status = EXIT_OK
    try:
        stats = collector.run()
    except (KeyboardInterrupt, Terminated) as exc:  # the collector stopped cleanly
        stats = collector.stats()
        status = interrupted_status(exc, config.duration is not None)
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    except MarketListError as exc:
        raise CommandError(f"cannot record every market: {exc.message}") from None
    except OSError as exc:
        raise CommandError(f"could not start a simulator: {exc.strerror or exc}") from None
    print(collector.status_line().replace("collect [", "collect: done [", 1), file=sys.stderr)
    if stats.written == 0 and status == EXIT_OK:
        print("collect: nothing was written (see the reports above)", file=sys.stderr)
        return EXIT_FAILURE
    return status


class TailPrinter:
    """Hooks of ``bpbfx tail``: one JSON line per entry (books: the top of the book); the
    reader's threads."""

    def __init__(self, out: IO[str], err: IO[str], limit: int | None) -> None:
        self.out = out
        self.err = err
        self.limit = limit
        self.count = 0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def _line(self, obj: dict[str, Any]) -> None:
        with self._lock:
            if self.done.is_set():
                return
            try:
                self.out.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")
                self.out.flush()
            except (BrokenPipeError, ValueError):
                self.done.set()
                return
            self.count += 1
            if self.limit is not None and self.count >= self.limit:
                self.done.set()

    def on_message(self, reader: Any, entry: Any) -> None:
        """Every entry but book snapshots and deltas (shown by :meth:`on_book`)."""
        if entry.kind in ("snapshot", "delta"):
            return
        obj: dict[str, Any] = {"id": entry.id, "exchange": entry.exchange, "stream": entry.stream,
                               "kind": entry.kind, "epoch": entry.epoch, "n": entry.n}
        if entry.seq is not None:
            obj["seq"] = entry.seq
        if entry.exchange_time_us is not None:
            obj["et"] = entry.exchange_time_us
        obj["data"] = entry.data
        self._line(obj)

    def on_book(self, reader: Any, update: Any) -> None:
        """The top of the rebuilt book after every change."""
        bid, ask = update.book.best_bid(), update.book.best_ask()
        self._line({"stream": update.stream, "kind": "book", "update_id": update.update_id, "valid": update.valid,
                    "snapshot": update.snapshot, "bid": list(bid) if bid else None, "ask": list(ask) if ask else None,
                    "levels": len(update.book)})

    def on_error(self, reader: Any, exc: BaseException) -> None:
        """Gaps and Redis trouble, one line on stderr."""
        with contextlib.suppress(OSError, ValueError):
            self.err.write(f"bpbfx tail: {type(exc).__name__}: {exc}\n")
            self.err.flush()


def _check_tail(args: argparse.Namespace) -> None:
    if args.consumer is not None and args.group is None:
        raise UsageError("--consumer names a member of a consumer group: give --group NAME too")
    start: str = args.start
    ms, sep, seq = start.partition("-")
    if start not in ("latest", "earliest") and not (ms.isdigit() and (not sep or seq.isdigit())):
        raise UsageError(f"--start must be latest, earliest or an entry id like 1700000000000-0, got {start!r}")


def cmd_tail(args: argparse.Namespace) -> int:
    """``bpbfx tail``: print what a reader of published streams sees (main thread).

    Raises:
        UsageError: a bad stream name or option.
        CommandError: the ``redis`` package is missing.
    """
    _check_tail(args)
    try:
        from ..sinks import RedisStreamReader
    except ImportError:
        raise CommandError("bpbfx tail needs the 'redis' package: pip install 'bpbfx[redis]'") from None
    printer = TailPrinter(sys.stdout, sys.stderr, args.max_events)
    try:
        reader = RedisStreamReader(args.url, args.streams, on_message=printer.on_message, on_book=printer.on_book,
                                   on_error=printer.on_error, start=args.start, group=args.group,
                                   consumer=args.consumer, cluster=True if args.cluster else None)
    except ConfigurationError as exc:
        raise UsageError(exc.message) from None
    bounded = args.duration is not None or args.max_events is not None
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        reader.start()
        while not printer.done.wait(0.1):
            if deadline is not None and time.monotonic() >= deadline:
                break
        return EXIT_OK
    except (KeyboardInterrupt, Terminated) as exc:  # Ctrl-C / SIGTERM end the tail
        return interrupted_status(exc, bounded)
    finally:
        reader.close()
