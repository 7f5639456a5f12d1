"""The ``bpbfx`` command (also ``python -m bpbfx``); the guide is ``bpbfx/docs/cli.md``.

Sub-commands::

    bpbfx demo    [--duration S]                         both exchanges, simulated, with a recovery shown live
    bpbfx stream  EXCHANGE STREAM... [--sim|--url URL]    one JSON line per event on stdout
    bpbfx record  EXCHANGE STREAM... -o FILE              every raw frame, with receive times, to a file
    bpbfx replay  FILE... [--speed X] [--serve]           a recording through the decode path, or served
    bpbfx sim     EXCHANGE [--port N]                     a simulator on 127.0.0.1 until Ctrl-C
    bpbfx collect [CONFIG.toml] [--workers N] [--redis URL] streams over worker processes into Redis or JSONL
    bpbfx tail    URL STREAM...                           what a reader of published Redis streams sees
    bpbfx export  FILE... -o DIR | --redis URL STREAM...  recordings or Redis streams to a Parquet dataset
    bpbfx bench   [--scale X] [--only TEXT]               the transport benchmark (bpbfx.bench.throughput)
    bpbfx bench latency [--venue V] [--quick]             tick-to-order latency (bpbfx.bench.latency)

Exit status: 0 success; 1 a runtime failure (unreachable host, an exchange that never delivered,
a missing optional package); 2 a usage error (unknown exchange, bad stream name, missing keys);
130 interrupted before the command's own end (Ctrl-C during a ``--duration``/``--max-*`` run;
143 for SIGTERM; a command that runs until Ctrl-C by design exits 0).  Expected errors print
one line on stderr, never a traceback.

Events are printed by :func:`event_json` (``{"event": <class>, "stream", "symbol", fields...}``,
Decimals as strings), the same for ``stream`` and ``replay``, so a replayed recording can be
compared line by line with what was seen live.

Layout: :mod:`.parser` (every option), one module per command (:mod:`.stream`, :mod:`.record`,
:mod:`.replay`, :mod:`.sim`, :mod:`.collect` with ``tail``, :mod:`.export`, :mod:`.bench`, :mod:`.demo`),
:mod:`.session` (source and wait loop shared by ``stream``/``record``), :mod:`.format` and
:mod:`.printers` (output), :mod:`.errors` (exit statuses).  Clients are built by
:mod:`bpbfx.factory`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..exceptions import BpbfxError
from ..factory import EXCHANGES
from .bench import run_bench
from .demo import cmd_demo
from .errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    Terminated,
    UsageError,
    describe,
    sigterm_raises,
)
from .format import event_dict, event_json, event_pretty, stats_dict
from .parser import build_parser
from .record import cmd_record
from .replay import cmd_replay
from .sim import cmd_sim
from .stream import cmd_stream

__all__ = [
    "EXCHANGES",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "UsageError",
    "build_parser",
    "cmd_demo",
    "cmd_record",
    "cmd_replay",
    "cmd_sim",
    "cmd_stream",
    "event_dict",
    "event_json",
    "event_pretty",
    "main",
    "stats_dict",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bpbfx`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit
    status.  Main thread (SIGTERM is turned into a clean stop)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["bench"]:
        return run_bench(args_list[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if not getattr(args, "func", None):
        print("bpbfx: a command is required: demo, stream, record, replay, sim, collect, tail, export or bench "
              "(see bpbfx --help)", file=sys.stderr)
        return EXIT_USAGE
    prog = f"bpbfx {args.command}"
    try:
        with sigterm_raises():
            status: int = args.func(args)
            return status
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except BpbfxError as exc:
        print(f"{prog}: error: {describe(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except (KeyboardInterrupt, Terminated):
        return EXIT_INTERRUPTED
