"""One public Bitfinex channel: the tBTCUSD ticker.

    python samples/bitfinex_public_ticker.py            # the real exchange
    python samples/bitfinex_public_ticker.py --sim      # the built-in simulator, offline
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from bpbfx import BitfinexClient, Event
from bpbfx.bitfinex.events import TradingTicker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", action="store_true", help="use the built-in simulator on 127.0.0.1")
    parser.add_argument("--symbol", default="tBTCUSD")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        url = None  # the public endpoint wss://api-pub.bitfinex.com/ws/2
        if args.sim:
            from bpbfx.sim import BitfinexSimulator

            url = stack.enter_context(BitfinexSimulator()).url

        def on_message(client: BitfinexClient, event: Event) -> None:
            if isinstance(event, TradingTicker):
                print(f"{event.symbol} bid {event.bid} ask {event.ask} last {event.last_price} vol {event.volume}")

        client = BitfinexClient(url, on_message=on_message, on_error=lambda c, e: print(f"error: {e}"), auth=False)
        client.subscribe("ticker", symbol=args.symbol)
        if args.seconds:
            threading.Timer(args.seconds, client.close).start()
        client.run_forever()


if __name__ == "__main__":
    main()
