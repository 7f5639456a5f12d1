"""``bpbfx sim``: a simulator on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from .errors import Terminated, interrupted_status
from .session import start_sim

__all__ = ["cmd_sim", "serve_until_stopped"]


def serve_until_stopped(announce: str, stop: Callable[[], None]) -> int:
    """Print ``announce`` (a server's URL) on stdout, then wait for Ctrl-C / SIGTERM and call
    ``stop``; exit status 0 (running until stopped is the command's job).  Main thread."""
    try:
        print(announce, flush=True)
        print("Ctrl-C to stop", file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, Terminated) as exc:
        return interrupted_status(exc, False)
    finally:
        stop()


def cmd_sim(args: argparse.Namespace) -> int:
    """``bpbfx sim``: run a simulator and print its URL until Ctrl-C / SIGTERM (main thread).

    Raises:
        CommandError: the ``websockets`` package is missing, or the port is taken.
    """
    sim = start_sim(args.exchange, port=args.port)
    rest = getattr(sim, "http_url", None) if args.exchange == "backpack" else None
    return serve_until_stopped(f"{args.exchange} simulator: {sim.url}" + (f"  REST: {rest}" if rest else ""),
                               sim.stop)
