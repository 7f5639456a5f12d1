"""``bpbfx stream``: one line per event on stdout until stopped."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from .errors import EXIT_OK, Terminated, interrupted_status
from .format import stats_json
from .printers import ErrorPrinter, EventPrinter
from .session import open_source, wait_loop

__all__ = ["cmd_stream"]


def cmd_stream(args: argparse.Namespace) -> int:
    """``bpbfx stream``: print one line per event until stopped (main thread).

    Raises:
        UsageError: invalid streams or missing keys.
        CommandError: nothing connected, or the client gave up.
    """
    exchange: str = args.exchange
    output = EventPrinter(sys.stdout, pretty=args.pretty, limit=args.max_events)
    errors = ErrorPrinter(f"bpbfx stream {exchange}")
    bounded = args.duration is not None or args.max_events is not None
    hooks: dict[str, Any] = {"on_message": output.event, "on_error": errors, "on_open": errors.on_open}
    if args.book:
        hooks["on_book"] = output.book
    if args.unified:
        hooks["unified"] = True  # on_message gets bpbfx.unified events (books give BookChange)
    with contextlib.ExitStack() as stack:
        source = open_source(
            stack, args, hooks, books=args.book or args.unified or exchange == "bitfinex", rest_url=args.rest_url,
            notes=errors,
        )
        client = source.client
        try:
            client.start()
            wait_loop(
                client=client,
                output=output,
                errors=errors,
                url=source.target,
                duration=args.duration,
                connect_timeout=args.connect_timeout,
                stats_every=args.stats_interval if args.stats else None,
            )
        except (KeyboardInterrupt, Terminated) as exc:
            status = interrupted_status(exc, bounded)
        else:
            status = EXIT_OK
        if args.stats:
            errors.print("stats " + stats_json(client.stats()))
        output.flush()
    return status
