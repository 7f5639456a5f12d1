"""What the benchmarks print about the machine they ran on."""

from __future__ import annotations

import os
import platform

__all__ = ["cpu_model", "machine_line"]


def cpu_model() -> str:
    """The CPU model name (``/proc/cpuinfo`` on Linux), or what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """``<cpu>, <n> cores (<m> usable), <system> <release>`` for a report's ``machine:`` line."""
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return f"{cpu_model()}, {cores} cores ({usable} usable), {platform.system()} {platform.release()}"
