"""``bpbfx demo``: both exchanges on local simulators, an order round trip, injected faults and
their recovery, shown live.  :mod:`.scenario` is what runs, :mod:`.state` what the hooks
count, :mod:`.screen` how it looks, :mod:`.app` the loop."""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError
from .app import DemoApp

__all__ = ["DemoApp", "cmd_demo"]


def cmd_demo(args: argparse.Namespace) -> int:
    """``bpbfx demo``: the main job, on simulators, with a visible recovery (main thread).

    Raises:
        UsageError: ``--duration`` not above 0.
        CommandError: a simulator could not start.
    """
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be > 0 seconds")
    return DemoApp(args.duration, sys.stdout).run()
