"""``bpbfx bench``: the transport benchmark (:mod:`bpbfx.bench.throughput`), its own options."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import EXIT_INTERRUPTED

__all__ = ["run_bench"]


def run_bench(argv: Sequence[str]) -> int:
    """Run the transport benchmark with ``ARGV`` as ``bpbfx bench``; returns the exit status (main thread)."""
    from ..bench.throughput import main as bench_main

    try:
        return bench_main(list(argv), prog="bpbfx bench")
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
