"""``bpbfx sim``: a simulator on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import time

from .errors import Terminated, interrupted_status
from .session import start_sim

__all__ = ["cmd_sim"]


def cmd_sim(args: argparse.Namespace) -> int:
    """``bpbfx sim``: run a simulator and print its URL until Ctrl-C / SIGTERM (main thread).

    Raises:
        CommandError: the ``websockets`` package is missing, or the port is taken.
    """
    sim = start_sim(args.exchange, port=args.port)
    try:
        rest = getattr(sim, "http_url", None) if args.exchange == "backpack" else None
        print(f"{args.exchange} simulator: {sim.url}" + (f"  REST: {rest}" if rest else ""), flush=True)
        print("Ctrl-C to stop", file=sys.stderr, flush=True)
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, Terminated) as exc:
        return interrupted_status(exc, False)
    finally:
        sim.stop()
