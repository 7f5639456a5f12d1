"""Publish a Bitfinex book into Redis and mirror it from there, checking both agree.

    python samples/redis_book_mirror.py --sim --seconds 10      # offline: the simulator and a
                                                                # throwaway redis-server
    python samples/redis_book_mirror.py --redis redis://127.0.0.1:6379/0   # the real exchange

With ``--sim`` and no ``--redis``, a throwaway ``redis-server`` is started on a free port (it
must be installed: Debian/Ubuntu ``apt-get install redis-server``, macOS ``brew install redis``)
and removed at the end.

The publisher (a BitfinexClient with a RedisStreamSink) and the reader (a RedisStreamReader)
would normally run on different machines; here they share a process so the sample can compare
the two books at the same update id.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from typing import Any

from bpbfx import BitfinexClient, StreamGapError
from bpbfx.live import OrderBookUpdate
from bpbfx.sinks import RedisStreamReader, RedisStreamSink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default=None,
                        help="Redis URL, redis+cluster:// too (default: a throwaway server with --sim, "
                             "else redis://127.0.0.1:6379/0)")
    parser.add_argument("--sim", action="store_true", help="use the built-in Bitfinex simulator on 127.0.0.1")
    parser.add_argument("--symbol", default="tBTCUSD")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()

    live: dict[int | None, Any] = {}  # update id -> the client's book at that id (kept short)
    lock = threading.Lock()
    counts = {"compared": 0, "different": 0}

    def on_client_book(client: BitfinexClient, update: OrderBookUpdate) -> None:
        with lock:
            live[update.update_id] = update.book.snapshot()
            while len(live) > 5000:
                live.pop(next(iter(live)))

    def on_reader_book(reader: RedisStreamReader, update: OrderBookUpdate) -> None:
        if not update.valid:
            print(f"{update.stream}: invalid until the next snapshot")
            return
        mine = update.book.snapshot()
        with lock:
            theirs = live.get(update.update_id)
        if theirs is not None:
            counts["compared"] += 1
            if (mine.bids, mine.asks) != (theirs.bids, theirs.asks):
                counts["different"] += 1
        if counts["compared"] % 50 == 1:
            print(f"update {update.update_id}: bid {mine.best_bid()} ask {mine.best_ask()}  "
                  f"(compared {counts['compared']}, different {counts['different']})")

    def on_reader_error(reader: RedisStreamReader, exc: BaseException) -> None:
        kind = "GAP" if isinstance(exc, StreamGapError) else "error"
        print(f"reader {kind}: {exc}")

    with contextlib.ExitStack() as stack:
        url = None
        redis_url = args.redis or "redis://127.0.0.1:6379/0"
        if args.sim:
            from bpbfx.sim import BitfinexSimulator
            from bpbfx.sim.redis_server import start_redis

            url = stack.enter_context(BitfinexSimulator()).url
            if args.redis is None:
                try:
                    redis_url = stack.enter_context(start_redis()).url
                except FileNotFoundError as exc:
                    raise SystemExit(f"--sim needs a local Redis: {exc}") from None
                print(f"a throwaway redis-server listens on {redis_url}")
        client = BitfinexClient(url, auth=False, on_book=on_client_book, on_error=lambda c, e: print(f"client: {e}"))
        stream = client.subscribe("book", symbol=args.symbol)
        sink = stack.enter_context(RedisStreamSink(redis_url, on_report=lambda s, e: print(f"sink: {e}")))
        sink.attach(client)
        reader = RedisStreamReader(redis_url, [f"bitfinex:{stream}"], on_book=on_reader_book,
                                   on_error=on_reader_error)
        stack.enter_context(reader)
        if args.seconds:
            threading.Timer(args.seconds, client.close).start()
        client.run_forever()
        sink.flush(5)
    print(f"compared {counts['compared']} book states, {counts['different']} different; sink {sink.stats()}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted")
