"""One public Backpack stream: print every trade of SOL_USDC.

    python samples/backpack_public_stream.py            # the real exchange
    python samples/backpack_public_stream.py --sim      # the built-in simulator, offline

Stop with Ctrl-C (or --seconds N).
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from bpbfx import BackpackClient
from bpbfx.backpack.events import Trade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", action="store_true", help="use the built-in simulator on 127.0.0.1")
    parser.add_argument("--symbol", default="SOL_USDC")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        url = "wss://ws.backpack.exchange"
        if args.sim:
            from bpbfx.sim import BackpackSimulator

            url = stack.enter_context(BackpackSimulator()).url

        def on_message(client: BackpackClient, event: object) -> None:
            if isinstance(event, Trade):
                side = "buy " if event.buyer_is_maker is False else "sell"
                print(f"{event.symbol} {side} {event.quantity} @ {event.price}  (id {event.trade_id})")

        def on_error(client: BackpackClient, exc: BaseException) -> None:
            print(f"error: {exc}")

        client = BackpackClient(url, streams=[f"trade.{args.symbol}"], on_message=on_message, on_error=on_error)
        if args.seconds:
            threading.Timer(args.seconds, client.close).start()
        client.run_forever()  # blocks until close() or Ctrl-C


if __name__ == "__main__":
    main()
