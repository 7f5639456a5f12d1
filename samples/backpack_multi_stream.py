"""Several Backpack streams on one connection, routed by stream name.

    python samples/backpack_multi_stream.py [--sim] [--seconds N]

Each stream type gets its own handler; anything else falls through to a default one.
Reconnects are shown as they happen.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from bpbfx import BackpackClient, Event
from bpbfx.backpack.events import BookTicker, Depth, Ticker, Trade


def on_depth(event: Depth) -> None:
    print(f"[depth]  {event.symbol} ids {event.first_update_id}..{event.last_update_id} "
          f"{len(event.bids)} bids {len(event.asks)} asks")


def on_trade(event: Trade) -> None:
    print(f"[trade]  {event.symbol} {event.quantity} @ {event.price}")


def on_ticker(event: Ticker) -> None:
    print(f"[ticker] {event.symbol} last {event.close} 24h vol {event.volume}")


def on_book_ticker(event: BookTicker) -> None:
    print(f"[top]    {event.symbol} {event.bid_price} / {event.ask_price}")


ROUTES: dict[str, Callable[[Any], None]] = {
    "depth": on_depth,
    "trade": on_trade,
    "ticker": on_ticker,
    "bookTicker": on_book_ticker,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", action="store_true", help="use the built-in simulator on 127.0.0.1")
    parser.add_argument("--symbol", default="SOL_USDC")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    s = args.symbol
    streams = [f"depth.{s}", f"trade.{s}", f"ticker.{s}", f"bookTicker.{s}"]

    with contextlib.ExitStack() as stack:
        url, rest_url = "wss://ws.backpack.exchange", "https://api.backpack.exchange"
        if args.sim:
            from bpbfx.sim import BackpackSimulator

            sim = stack.enter_context(BackpackSimulator())
            url, rest_url = sim.url, sim.http_url  # depth books are seeded from the simulator's REST snapshot

        def on_message(client: BackpackClient, event: Event) -> None:
            # Route on the stream type, the part of the stream name before the first dot.
            handler = ROUTES.get(event.stream.split(".", 1)[0])
            if handler is not None:
                handler(event)
            else:
                print(f"[other]  {event.stream}: {event.data}")

        client = BackpackClient(
            url,
            rest_url=rest_url,
            streams=streams,
            on_message=on_message,
            on_error=lambda c, exc: print(f"[error]  {exc}"),
            on_reconnect=lambda c, attempt: print(f"[reconnect] attempt {attempt}"),
        )
        if args.seconds:
            threading.Timer(args.seconds, client.close).start()
        client.run_forever()


if __name__ == "__main__":
    main()
