"""``bpbfx export``: recordings or published Redis streams to a partitioned Parquet dataset (see
:mod:`bpbfx.export`; the guide is ``bpbfx/docs/export.md``)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

from ..exceptions import ConfigurationError, RecordingError, RedisUnavailableError
from .errors import EXIT_OK, CommandError, UsageError

__all__ = ["add_export_parser", "cmd_export"]

SHOWN = 20
"""Messages about skips and warnings printed as they happen (the rest are counted)."""


def add_export_parser(sub: Any) -> None:
    """Register ``export`` on a ``bpbfx`` sub-command parser."""
    p = sub.add_parser("export", help="recordings or Redis streams to a Parquet dataset (trades, books, tickers)",
                       description="Export bpbfx recordings (bpbfx record; bpbfx collect without --redis) or streams "
                       "published into Redis to Parquet tables trades, book_snapshots, book_deltas and tickers, "
                       "partitioned exchange=/symbol=/date=.  Prices and sizes keep the exchange's digits.",
                       epilog="Needs pyarrow: pip install 'bpbfx[parquet]'.  Guide: bpbfx/docs/export.md.")
    p.add_argument("files", nargs="*", metavar="FILE", help="recordings (plain or .gz; rotated parts in any order)")
    p.add_argument("--redis", nargs="+", metavar=("URL", "STREAM"),
                   help="read streams from Redis instead: URL then EXCHANGE:STREAM names or keys "
                   "(--redis redis://127.0.0.1:6379/0 bitfinex:trades:tBTCUSD backpack:depth.SOL_USDC)")
    p.add_argument("--to", choices=("parquet",), default="parquet", help="output format (parquet)")
    p.add_argument("-o", "--output-dir", required=True, metavar="DIR", help="the dataset's directory (created)")
    p.add_argument("--decimals", choices=("string", "decimal128"), default="string",
                   help="prices and sizes as the exchange's text (string, the default) or decimal128(38,18), which "
                   "stops at a value that does not fit")
    p.add_argument("--strict", action="store_true", help="stop at the first bad line instead of counting it")
    p.add_argument("--progress", action="store_true", help="draw the progress bar even when stderr is not a terminal")
    p.add_argument("--start", default="-", metavar="ID", help="with --redis: read after this entry id (default: all)")
    p.add_argument("--cluster", action="store_true", help="with --redis: the URL is a Redis Cluster node")
    p.set_defaults(func=cmd_export)


class _Output:
    """The command's stderr: the progress bar (when wanted) and the first messages."""

    def __init__(self, err: TextIO, bar: bool, unit: str) -> None:
        self.err = err
        self.shown = 0
        self.more = 0
        self.bar: Any = None
        if bar:
            from ..export.progress import ProgressBar

            self.bar = ProgressBar(err, unit=unit)

    def progress(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(done, total)

    def message(self, text: str) -> None:
        if self.shown >= SHOWN:
            self.more += 1
            return
        self.shown += 1
        line = f"bpbfx export: {text}"
        if self.bar is not None:
            self.bar.message(line)
        else:
            self.err.write(line + "\n")
            self.err.flush()

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.finish()


def _check(args: argparse.Namespace) -> None:
    if args.redis is not None:
        if args.files:
            raise UsageError("give recordings (FILE...) or --redis URL STREAM..., not both")
        if len(args.redis) < 2:
            raise UsageError("--redis needs a URL and at least one stream: --redis redis://127.0.0.1:6379/0 "
                             "bitfinex:trades:tBTCUSD")
        ms, sep, seq = args.start.partition("-")
        if args.start != "-" and not (ms.isdigit() and (not sep or seq.isdigit())):
            raise UsageError(f"--start must be an entry id like 1700000000000-0, got {args.start!r}")
        return
    if not args.files:
        raise UsageError("nothing to export: give recordings (FILE...) or --redis URL STREAM...")
    for path in args.files:
        if not os.path.isfile(path):
            raise UsageError(f"no such file: {path} (FILE: a recording written by bpbfx record or bpbfx collect)")
    if args.start != "-" or args.cluster:
        raise UsageError("--start and --cluster go with --redis")


def cmd_export(args: argparse.Namespace) -> int:
    """``bpbfx export``: write the dataset, with a progress bar on a terminal (main thread).

    Raises:
        UsageError: bad files or options.
        CommandError: pyarrow (or redis) missing, a file that is not a recording, a value that
            does not fit decimal128, Redis unreachable, or the output cannot be written.
    """
    _check(args)
    try:
        from ..export import export_parquet, export_redis_parquet
    except ImportError as exc:
        raise CommandError(f"bpbfx export needs pyarrow: pip install 'bpbfx[parquet]' ({exc})") from None
    err = sys.stderr
    out = _Output(err, args.progress or err.isatty(), "entries" if args.redis else "MB")
    options: dict[str, Any] = {"decimals": args.decimals, "strict": args.strict, "progress": out.progress,
                               "on_message": out.message}
    try:
        if args.redis:
            result = export_redis_parquet(args.redis[0], args.redis[1:], args.output_dir, start=args.start,
                                          cluster=True if args.cluster else None, **options)
        else:
            result = export_parquet(args.files, args.output_dir, **options)
    except ImportError as exc:
        raise CommandError(f"--redis needs the 'redis' package: pip install 'bpbfx[redis]' ({exc})") from None
    except ConfigurationError as exc:
        raise UsageError(exc.message) from None
    except RecordingError as exc:
        hint = " (--decimals string)" if "does not fit decimal128" in exc.message else ""
        raise CommandError(exc.message + hint) from None
    except RedisUnavailableError as exc:
        raise CommandError(exc.message) from None
    except OSError as exc:
        raise CommandError(f"{exc.filename or args.output_dir}: {exc.strerror or exc}") from None
    finally:
        out.finish()
    if out.more:
        err.write(f"bpbfx export: {out.more} more messages not shown\n")
    for line in result.summary().splitlines():
        err.write(f"bpbfx export: {line}\n")
    err.write(f"bpbfx export: dataset in {args.output_dir}\n")
    err.flush()
    return EXIT_OK
