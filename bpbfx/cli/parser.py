"""The argument parser of the ``bpbfx`` command: every sub-command and option in one place."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from .. import __version__
from ..factory import EXCHANGES
from .collect import cmd_collect, cmd_tail
from .demo import cmd_demo
from .errors import UsageError
from .export import add_export_parser
from .record import cmd_record
from .replay import cmd_replay
from .sim import cmd_sim
from .stream import cmd_stream

__all__ = ["add_collect_parsers", "build_parser"]

_N = TypeVar("_N", int, float)


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (raised as :class:`UsageError`)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def _positive_int(text: str) -> int:
    return _positive(text, int, "a whole number")


def _positive_float(text: str) -> float:
    return _positive(text, float, "a number")


def _positive(text: str, kind: Callable[[str], _N], what: str) -> _N:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be {'>= 1' if kind is int else '> 0'}, got {text}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {value}")
    return value


def _exchange(text: str) -> str:
    name = text.lower()
    if name not in EXCHANGES:
        raise argparse.ArgumentTypeError(f"unknown exchange {text!r}; choose backpack or bitfinex")
    return name


_KEYS_EPILOG = (
    "Keys for private streams (Backpack account.*, Bitfinex account) come from the environment or a .env file: "
    "BACKPACK_PUBLIC_KEY/BACKPACK_SECRET_KEY, BITFINEX_API_KEY/BITFINEX_API_SECRET; with --sim and no keys a test "
    "account is generated on the simulator."
)


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("exchange", type=_exchange, metavar="EXCHANGE", help="backpack or bitfinex")
    p.add_argument(
        "streams",
        nargs="+",
        metavar="STREAM",
        help="Backpack stream names (depth.SOL_USDC, trade.SOL_USDC, account.orderUpdate...) or Bitfinex "
        "stream specs (trades:tBTCUSD, book:tBTCUSD:P0:25, ticker:tETHUSD, candles:trade:1m:tBTCUSD, account)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--url", help="WebSocket endpoint (default: the real exchange)")
    where.add_argument("--sim", action="store_true",
                       help="start the built-in simulator on 127.0.0.1 and use it (private streams without keys: "
                       "a generated test account)")
    p.add_argument("--duration", type=_positive_float, metavar="S", help="stop after S seconds")
    p.add_argument(
        "--connect-timeout", type=_positive_float, default=15.0, metavar="S",
        help="give up when no connection opened within S seconds (default 15)",
    )
    p.add_argument("--proxy", metavar="URL", help=PROXY_HELP)


PROXY_HELP = (
    "proxy for every connection: http://[user:pass@]host:port, socks5://..., socks5h://... "
    "(SOCKS needs pip install 'bpbfx[proxy]'); 'none' ignores the environment "
    "(default: http_proxy / https_proxy / all_proxy / no_proxy)"
)


def add_collect_parsers(sub: Any, positive_int: Callable[[str], int] = _positive_int,
                        positive_float: Callable[[str], float] = _positive_float) -> None:
    """Register ``collect`` and ``tail`` on a ``bpbfx`` sub-command parser."""
    p = sub.add_parser("collect", help="streams of both exchanges over worker processes into Redis (or JSONL files)",
                       description="Shard streams over worker processes under a supervisor that restarts dead "
                       "workers; publish into Redis Streams with --redis, else write JSONL recordings.",
                       epilog=_KEYS_EPILOG)
    p.add_argument("config", nargs="?", metavar="CONFIG.toml", help="config file (see bpbfx/docs/cli.md)")
    p.add_argument("--backpack", nargs="+", metavar="STREAM", help="Backpack streams (depth.SOL_USDC, ...)")
    p.add_argument("--bitfinex", nargs="+", metavar="STREAM", help="Bitfinex streams (book:tBTCUSD:P0:F0:25, ...)")
    p.add_argument("--workers", type=positive_int, help="worker processes (default 1)")
    p.add_argument("--redis", metavar="URL", help="publish into Redis (redis://host:port/db, redis+cluster://...)")
    p.add_argument("--cluster", action="store_true", help="the Redis URL is a Redis Cluster node")
    p.add_argument("--output-dir", metavar="DIR", help="directory of the JSONL files without --redis (default .)")
    p.add_argument("--sim", action="store_true", help="run against the built-in simulators")
    p.add_argument("--proxy", metavar="URL", help=PROXY_HELP)
    p.add_argument("--duration", type=positive_float, metavar="S", help="stop after S seconds")
    p.add_argument("--stats-interval", type=positive_float, metavar="S", help="seconds between stats lines (5)")
    p.add_argument("--maxlen", type=positive_int, metavar="N", help="MAXLEN ~ N per Redis stream (100000)")
    p.add_argument("--snapshot-every", type=positive_int, metavar="N", help="book snapshot every N deltas (1000)")
    p.add_argument("--metrics-port", type=_port, metavar="PORT",
                   help="serve Prometheus metrics of the supervisor and every worker on http://ADDR:PORT/metrics "
                   "(0: any free port; needs pip install 'bpbfx[metrics]')")
    p.add_argument("--metrics-addr", metavar="ADDR", help="address of --metrics-port (default 127.0.0.1; 0.0.0.0: all)")
    every = p.add_argument_group("every market", "record every market of an exchange, read from its market list "
                                 "and followed while running (listings and delistings)")
    every.add_argument("--all-markets", nargs="*", type=_exchange, metavar="EXCHANGE",
                       help="every market of these exchanges (none named: both)")
    every.add_argument("--quote", nargs="+", metavar="CCY",
                       help="keep markets quoted in these currencies (USDC, USD...)")
    every.add_argument("--market-type", choices=("spot", "perp", "all"), help="spot, perp or all markets (default all)")
    every.add_argument("--market-streams", nargs="+", metavar="KIND",
                       help="streams per market: trades, book, ticker (both exchanges), Backpack kinds (trade, depth, "
                       "bookTicker, kline.1m, ...), Bitfinex kinds (book:P1:F0:100, candles:1m, ...), or "
                       "EXCHANGE:KIND for one (default: trade+depth / trades+book)")
    every.add_argument("--markets-refresh", type=positive_float, metavar="S",
                       help="seconds between two readings of the market lists (default 300)")
    every.add_argument("--connect-limit", metavar="N/S",
                       help="Bitfinex connects allowed per S seconds, shared by every worker (default 20/60; none on "
                       "the built-in simulator)")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("tail", help="print what a reader of published Redis streams sees",
                       description="Read bpbfx streams from Redis: events as JSON lines, books as their top, gaps "
                       "loudly on stderr.")
    p.add_argument("url", metavar="URL", help="redis://host:port/db or redis+cluster://host:port")
    p.add_argument("streams", nargs="+", metavar="STREAM",
                   help="EXCHANGE:STREAM (backpack:depth.SOL_USDC, bitfinex:trades:tBTCUSD) or a key")
    p.add_argument("--start", default="latest", help="latest (books from their snapshot), earliest, or an entry id")
    p.add_argument("--group", help="read as a consumer group (XREADGROUP + XACK)")
    p.add_argument("--consumer", help="consumer name in --group (default: derived from the process)")
    p.add_argument("--cluster", action="store_true", help="the URL is a Redis Cluster node")
    p.add_argument("--duration", type=positive_float, metavar="S", help="stop after S seconds")
    p.add_argument("--max-events", type=positive_int, metavar="N", help="stop after N lines")
    p.set_defaults(func=cmd_tail)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``bpbfx`` command (errors raise :class:`UsageError`)."""
    parser = _Parser(
        prog="bpbfx",
        description="Backpack Exchange and Bitfinex WebSocket streams: demo, stream, record, replay, simulate, "
        "collect, export.",
        epilog=_KEYS_EPILOG + " Guide: bpbfx/docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"bpbfx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("demo", help="both exchanges on local simulators, with a reconnect and resync shown live",
                       description="Start both simulators, stream trades and books from each through the normal "
                       "clients, place and cancel an order, drop connections part way through and watch the "
                       "recovery.  Fits a 120x40 terminal and adapts to smaller ones.")
    p.add_argument("--duration", type=_positive_float, metavar="SECONDS", help="stop after SECONDS (default: Ctrl-C)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("stream", help="print one JSON line per event",
                       description="Print one JSON line per event on stdout (errors on stderr).", epilog=_KEYS_EPILOG)
    _add_source(p)
    p.add_argument("--rest-url", metavar="URL",
                   help="Backpack REST base for book snapshots (default: the simulator's with --sim, the same host "
                   "and port for a --url on 127.0.0.1/localhost, else the real exchange)")
    p.add_argument("--pretty", action="store_true", help="human-readable lines instead of JSON")
    p.add_argument("--book", action="store_true", help="also print every managed order book update")
    p.add_argument("--unified", action="store_true",
                   help="print unified events (bpbfx.unified: Trade, Quote, Ticker, Candle, BookChange, ...) "
                   "with ccxt-style symbols instead of native ones")
    p.add_argument("--stats", action="store_true", help="print the client's stats to stderr periodically")
    p.add_argument("--stats-interval", type=_positive_float, default=5.0, metavar="S",
                   help="seconds between --stats lines (default 5)")
    p.add_argument("--max-events", type=_positive_int, metavar="N", help="stop after N lines")
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser("record", help="write every raw frame with its receive time to a file",
                       description="Record every raw frame received, with receive timestamps and connection "
                       "events, as JSON lines (see bpbfx.recording).", epilog=_KEYS_EPILOG)
    _add_source(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write (.gz: compressed)")
    p.add_argument("--gzip", action="store_true", help="compress even without a .gz suffix")
    p.add_argument("--max-frames", type=_positive_int, metavar="N", help="stop after N frames")
    p.add_argument("--rotate-frames", type=_positive_int, metavar="N", help="start a new file every N frames")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("replay", help="replay a recording through the decode path, or serve it",
                       description="Feed a recording (bpbfx, raw JSON lines or cryptofeed text) through a client's "
                       "decode path and print its events like `stream`, or serve it over WebSocket with --serve.")
    p.add_argument("files", nargs="+", metavar="FILE", help="recording(s); rotated parts in order")
    p.add_argument("--exchange", type=_exchange, help="exchange of a file without a header (default: detected)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=_positive_float, metavar="X",
                      help="X times the recorded pace (default: as fast as possible; 1.0 when serving)")
    pace.add_argument("--as-fast-as-possible", action="store_true", help="no pacing")
    p.add_argument("--serve", action="store_true", help="serve the recording on a local WebSocket server")
    p.add_argument("--port", type=_port, default=0, help="port for --serve (default: any free port)")
    p.add_argument("--pretty", action="store_true", help="human-readable lines instead of JSON")
    p.add_argument("--book", action="store_true", help="also print every order book update (Bitfinex)")
    p.add_argument("--max-events", type=_positive_int, metavar="N", help="stop after N lines")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("sim", help="run a simulator on 127.0.0.1 until Ctrl-C",
                       description="Run an exchange simulator standalone and print its URL.")
    p.add_argument("exchange", type=_exchange, metavar="EXCHANGE", help="backpack or bitfinex")
    p.add_argument("--port", type=_port, default=0, help="port (default: any free port)")
    p.set_defaults(func=cmd_sim)

    add_collect_parsers(sub)
    add_export_parser(sub)
    sub.add_parser("bench", help="transport benchmark (see bpbfx bench --help); bpbfx bench latency: tick-to-order "
                   "latency (see bpbfx bench latency --help)", add_help=False)
    return parser
