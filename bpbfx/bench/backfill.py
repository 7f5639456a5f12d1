"""Trades lost across one outage, with and without trade backfill, on both simulated exchanges.

Run ``python -m bpbfx.bench.backfill`` (``--help`` for options).  A measurement, not a test:
it prints how it measured next to every figure.

For each exchange, backfill setting and seed: a simulator prints trades every ``--tick``
seconds on one market (Backpack ``SOL_USDC``, Bitfinex ``tBTCUSD``); a client subscribed to its
trades runs ``--before`` seconds, then the simulator drops every socket and refuses new ones
(HTTP 503) for ``--outage`` seconds while its tape goes on, then lets the client back and the
run goes on ``--after`` seconds.  The simulator's own trade history (the REST endpoint the
backfill reads, which holds every trade it printed) is the tape; a trade of the tape from the
first one the client received on, not delivered to ``on_message``, is lost; one delivered
twice is a duplicate.  Backfilled trades are the client's ``stats().trades_backfilled``.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..backoff import Backoff
from ..rest import RestClient

_FAST = Backoff(initial=0.05, factor=2.0, cap=0.2, jitter=0.0)


class _Tape:
    """The trade ids a client delivered (its reader thread; read after the run)."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.lock = threading.Lock()

    def add(self, *ids: int) -> None:
        with self.lock:
            self.ids.extend(ids)


def _backpack(seed: int, backfill: bool, args: argparse.Namespace) -> tuple[list[int], list[int], int]:
    from ..backpack import BackpackClient
    from ..backpack.events import Trade
    from ..sim.backpack import BackpackSimulator

    tape = _Tape()

    def on_message(client: Any, event: Any) -> None:
        if isinstance(event, Trade):
            tape.add(int(event.trade_id))

    with BackpackSimulator(tick_interval=args.tick, seed=seed) as sim:
        client = BackpackClient(sim.url, rest_url=sim.http_url, streams=["trade.SOL_USDC"], backoff=_FAST,
                                on_message=on_message, on_error=lambda c, e: None, backfill_trades=backfill)
        with client:
            _outage(client, sim, args)
            rows = _history(sim.http_url, "/api/v1/trades/history", {"symbol": "SOL_USDC", "limit": 1000})
            printed = sorted(int(row["id"]) for row in rows)
            backfilled = client.stats().trades_backfilled
    return printed, list(tape.ids), backfilled


def _bitfinex(seed: int, backfill: bool, args: argparse.Namespace) -> tuple[list[int], list[int], int]:
    from ..bitfinex import BitfinexClient
    from ..bitfinex.events import TradesSnapshot, TradeUpdate
    from ..sim.bitfinex import DEFAULT_MARKETS, BitfinexSimulator

    tape = _Tape()

    def on_message(client: Any, event: Any) -> None:
        if isinstance(event, TradesSnapshot):
            tape.add(*(row.id for row in event.trades))
        elif isinstance(event, TradeUpdate) and event.executed:
            tape.add(event.trade.id)

    markets = [m for m in DEFAULT_MARKETS if m.symbol == "tBTCUSD"]
    with BitfinexSimulator(tick_interval=args.tick, seed=seed, markets=markets) as sim:
        client = BitfinexClient(sim.url, rest_url=sim.http_url, auth=False, backoff=_FAST, on_message=on_message,
                                on_error=lambda c, e: None, backfill_trades=backfill)
        client.subscribe("trades:tBTCUSD")
        with client:
            _outage(client, sim, args)
            rows = _history(sim.http_url, "/v2/trades/tBTCUSD/hist", {"limit": 10000, "sort": 1})
            printed = sorted(int(row[0]) for row in rows)
            backfilled = client.stats().trades_backfilled
    return printed, list(tape.ids), backfilled


def _outage(client: Any, sim: Any, args: argparse.Namespace) -> None:
    """Run, drop and refuse the client for ``args.outage`` seconds, let it back, run on.

    Raises:
        RuntimeError: the client was not ready in time.
    """
    if not client.wait_ready(10):
        raise RuntimeError(f"{type(client).__name__} not ready: {client.readiness()}")
    time.sleep(args.before)
    sim.refuse_connections(503)
    sim.drop_connections()
    time.sleep(args.outage)  # the tape goes on without the client
    sim.refuse_connections(None)
    if not client.wait_ready(10):
        raise RuntimeError(f"{type(client).__name__} not ready after the outage: {client.readiness()}")
    time.sleep(args.after)


def _history(base: str, path: str, params: dict[str, Any]) -> Any:
    rest = RestClient(base)
    try:
        return rest.request("GET", path, params=params).json()
    finally:
        rest.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Print trades lost of the tape, backfill off and on, per exchange and seed."""
    parser = argparse.ArgumentParser(prog="python -m bpbfx.bench.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2,3", help="simulator seeds, comma-separated (default 1,2,3)")
    parser.add_argument("--tick", type=float, default=0.015, help="seconds between simulator ticks (default 0.015)")
    parser.add_argument("--before", type=float, default=1.0, help="seconds of trading before the outage (default 1)")
    parser.add_argument("--outage", type=float, default=1.0, help="seconds the client is kept out (default 1)")
    parser.add_argument("--after", type=float, default=1.0, help="seconds of trading after it is back (default 1)")
    parser.add_argument("--exchange", choices=("both", "backpack", "bitfinex"), default="both")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    print("bpbfx trade backfill: trades lost across one outage (simulators on 127.0.0.1)")
    print(f"  method: {args.before:g} s of trades, then every socket dropped and reconnects refused (503) for "
          f"{args.outage:g} s while the tape goes on, then {args.after:g} s more; simulator tick {args.tick:g} s;")
    print("          tape = the simulator's own trade history from the first trade the client received;")
    print("          lost = tape trades never delivered to on_message; dup = trades delivered twice")
    exchanges = ("backpack", "bitfinex") if args.exchange == "both" else (args.exchange,)
    runners = {"backpack": _backpack, "bitfinex": _bitfinex}
    failed = False
    for exchange in exchanges:
        for backfill in (False, True):
            cells = []
            for seed in seeds:
                printed, delivered, backfilled = runners[exchange](seed, backfill, args)
                if not delivered:
                    cells.append(f"seed {seed}: nothing delivered")
                    failed = True
                    continue
                start = min(delivered)
                owed = [t for t in printed if t >= start]
                have = set(delivered)
                lost = sum(1 for t in owed if t not in have)
                dup = len(delivered) - len(have)
                cells.append(f"{lost} of {len(owed)} lost, {dup} dup, {backfilled} backfilled")
            print(f"  {exchange:8} backfill_trades={backfill!s:5}  " + "; ".join(cells))
            sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
