"""``bpbfx bench``: the transport benchmark (:mod:`bpbfx.bench.throughput`), its own options;
``bpbfx bench latency``: the tick-to-order latency benchmark (:mod:`bpbfx.bench.latency`)."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import EXIT_INTERRUPTED

__all__ = ["run_bench"]


def run_bench(argv: Sequence[str]) -> int:
    """Run ``bpbfx bench`` with ``ARGV``: the transport benchmark, or with ``latency`` first the
    tick-to-order latency benchmark; returns the exit status (main thread)."""
    args = list(argv)
    try:
        if args[:1] == ["latency"]:
            from ..bench.latency import main as latency_main

            return latency_main(args[1:], prog="bpbfx bench latency")
        from ..bench.throughput import main as bench_main

        return bench_main(args, prog="bpbfx bench")
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
