"""Per-frame cost of the clients' frame path without sockets: decode, route, ``on_message``.

Run ``python -m bpbfx.bench.frames`` (``--help`` for options).  A benchmark, not a test: every
figure is printed with how it was obtained.

Each run builds a client (a Bitfinex client subscribed to ``trades:tBTCUSD``; a Backpack client
subscribed to ``trade.SOL_USDC``), brings it to the subscribed state by feeding the exchange's
own handshake frames, then feeds ``--frames`` distinct trade frames (``bytes``, as read from a
socket) through :meth:`~bpbfx.base.BaseClient.feed`: the client's frame handler with its
guard, the decoder, the protocol core, delivery and a counting ``on_message``, on the calling
thread.  No socket, no other thread: what is left is the code a frame runs through, so two
versions of the package can be compared on one machine.  The figure per exchange is the best
run of ``--runs`` (the least disturbed by the rest of the machine) and the median.

To compare two checkouts, run this file from each one's root with that checkout first on the
path, alternating: ``PYTHONPATH=. python <this checkout>/bpbfx/bench/frames.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence


def _bitfinex(count: int) -> float:
    from bpbfx.bitfinex.client import BitfinexClient

    got = [0]

    def on_message(client: object, event: object) -> None:
        got[0] += 1

    client = BitfinexClient("ws://127.0.0.1:9", auth=False, on_message=on_message)
    client.subscribe("trades:tBTCUSD")
    client.feed('{"event":"info","version":2,"serverId":"x","platform":{"status":1}}')
    client.feed('{"event":"conf","status":"OK","flags":65536}')
    client.feed('{"event":"subscribed","channel":"trades","chanId":7,"symbol":"tBTCUSD","pair":"BTCUSD"}')
    client.feed('[7,[[1,1000,"0.1","100"]],1]')
    frames = [f'[7,"te",[{i},{1000 + i},0.01,{100 + i % 7}],{i}]'.encode() for i in range(2, count + 2)]
    return _run(client, frames, got)


def _backpack(count: int) -> float:
    from bpbfx.backpack.client import BackpackClient

    got = [0]

    def on_message(client: object, event: object) -> None:
        got[0] += 1

    client = BackpackClient("ws://127.0.0.1:9", on_message=on_message)
    client.subscribe("trade.SOL_USDC")
    frames = [
        (
            '{"data":{"E":1700000000000000,"T":1700000000000000,"a":"1","b":"2","e":"trade","m":true,'
            f'"p":"{100 + i % 7}.5","q":"0.01","s":"SOL_USDC","t":{i}}},"stream":"trade.SOL_USDC"}}'
        ).encode()
        for i in range(1, count + 1)
    ]
    return _run(client, frames, got)


def _run(client: object, frames: list[bytes], got: list[int]) -> float:
    """Seconds per frame of one pass of ``frames`` through ``client.feed``."""
    feed: Callable[[bytes], None] = client.feed  # type: ignore[attr-defined]
    started = time.perf_counter()
    for frame in frames:
        feed(frame)
    elapsed = time.perf_counter() - started
    client.close()  # type: ignore[attr-defined]
    if got[0] < len(frames):
        raise RuntimeError(f"only {got[0]} of {len(frames)} frames reached on_message")
    return elapsed / len(frames)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the per-frame cost of both clients' trade frames."""
    parser = argparse.ArgumentParser(prog="python -m bpbfx.bench.frames", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=30_000, help="frames per run (default 30,000)")
    parser.add_argument("--runs", type=int, default=9, help="runs per exchange (default 9)")
    args = parser.parse_args(argv)
    import bpbfx

    try:
        from bpbfx.bench.harness import machine_line

        machine = machine_line()
    except ImportError:  # an older checkout without the harness
        machine = sys.platform
    print("bpbfx frame path without sockets: client.feed(frame) -> decode -> route -> on_message")
    print(f"  machine: {machine}; Python {sys.version.split()[0]}")
    print(f"  package: {bpbfx.__file__}")
    print(f"  method:  {args.frames:,} distinct trade frames per run, {args.runs} runs per exchange, one thread;")
    print("           best run (least disturbed) and median, microseconds per frame")
    for name, bench in (("Bitfinex te", _bitfinex), ("Backpack trade", _backpack)):
        per_frame = [bench(args.frames) for _ in range(args.runs)]
        print(f"  {name:15} best {min(per_frame) * 1e6:6.2f} us   median {statistics.median(per_frame) * 1e6:6.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
