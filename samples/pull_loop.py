"""Pull events on your own thread from a bounded queue, with a deliberately slow consumer.

    python samples/pull_loop.py --sim                       # the Backpack simulator, offline
    python samples/pull_loop.py --sim --overflow error      # see the gap raised where it is
    python samples/pull_loop.py                              # the real exchange

The reader thread never waits for this loop: when the queue (``--maxsize``) is full it drops
events by the ``--overflow`` policy, counts them (``stream.stats()``) and reports each run of
losses to ``on_error`` as ``EventsDroppedError``.  The order book is still maintained on the
reader thread, so ``client.book()`` stays exact however slow the loop is.
"""

from __future__ import annotations

import argparse
import contextlib
import time

from bpbfx import BackpackClient, EventsDroppedError, EventStream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", action="store_true", help="use the built-in simulator on 127.0.0.1")
    parser.add_argument("--symbol", default="SOL_USDC")
    parser.add_argument("--maxsize", type=int, default=50)
    parser.add_argument("--overflow", default="drop_oldest", choices=["drop_oldest", "drop_newest", "error"])
    parser.add_argument("--work", type=float, default=0.05, help="seconds spent on each event (the slowness)")
    parser.add_argument("--seconds", type=float, default=10.0, help="stop after this many seconds")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        url, rest = "wss://ws.backpack.exchange", "https://api.backpack.exchange"
        if args.sim:
            from bpbfx.sim.backpack import BackpackSimulator

            sim = stack.enter_context(BackpackSimulator(tick_interval=0.01))
            url, rest = sim.url, sim.http_url

        def on_error(client: BackpackClient, exc: Exception) -> None:
            if isinstance(exc, EventsDroppedError):
                print(f"  on_error: {exc.dropped} events lost ({exc.total_dropped} in all, {exc.policy})")
            else:
                print(f"  on_error: {exc}")

        client = BackpackClient(url, rest_url=rest, on_error=on_error)
        client.subscribe(f"depth.{args.symbol}", f"trade.{args.symbol}")
        stack.enter_context(client)
        stream = stack.enter_context(EventStream(client, maxsize=args.maxsize, overflow=args.overflow))
        deadline = time.monotonic() + args.seconds
        handled = 0
        try:
            while time.monotonic() < deadline:
                try:
                    event = stream.get(timeout=0.5)
                except EventsDroppedError as gap:
                    print(f"gap: {gap.dropped} events missing here")
                    continue
                if event is None:
                    continue
                handled += 1
                time.sleep(args.work)  # the slow part of this consumer
                if handled % 20 == 0:
                    s = stream.stats()
                    book = client.book(args.symbol)
                    print(f"handled {handled}: received {s.received}, queued {s.queued}/{s.maxsize}, "
                          f"dropped {s.dropped}; book valid={book.valid} update {book.update_id} "
                          f"best {book.best_bid()} / {book.best_ask()}")
        except KeyboardInterrupt:
            print("interrupted")  # Ctrl-C: the with-block below closes the stream and the client
        s = stream.stats()
        print(f"done: handled {handled}, received {s.received}, dropped {s.dropped} ({s.policy}), "
              f"overflow runs {s.overflows}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted")
