"""Benchmarks (run as modules, e.g. ``python -m bpbfx.bench.books``); not imported by the SDK."""
