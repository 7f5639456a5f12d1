"""A private Backpack stream (your order updates), with keys from a .env file.

    cp samples/.env.example .env      # then put your keys in .env
    python samples/backpack_private_stream.py [--sim] [--seconds N]

With --sim the built-in simulator is used together with the example key pair from Backpack's
official guide, so no real keys are needed.  Keys never appear in the output.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading

from bpbfx import BackpackClient, Event
from bpbfx.backpack.events import OrderUpdate, PositionUpdate

# Backpack's documented example key pair (works only against the simulator).
GUIDE_PUBLIC = "zDIJj9qneWIY0IYZ5aXoHcNMCm+XDhVcTssiT0HyY0A="
GUIDE_SECRET = "4odxgSUxFrC/zsKWZF4OQwYAgnNu9hnWH3NxWfLAPz4="


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", action="store_true", help="use the built-in simulator on 127.0.0.1")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        url, rest_url = "wss://ws.backpack.exchange", "https://api.backpack.exchange"
        if args.sim:
            from bpbfx.sim import BackpackSimulator

            sim = stack.enter_context(BackpackSimulator())
            url, rest_url = sim.url, sim.http_url  # the client reads the exchange's clock over REST
            os.environ.setdefault("BACKPACK_PUBLIC_KEY", GUIDE_PUBLIC)
            os.environ.setdefault("BACKPACK_SECRET_KEY", GUIDE_SECRET)

        def on_message(client: BackpackClient, event: Event) -> None:
            if isinstance(event, OrderUpdate):
                print(f"order {event.order_id} {event.event_type} {event.side} {event.quantity} @ {event.price} "
                      f"status={event.status}")
            elif isinstance(event, PositionUpdate):
                label = "open position" if event.event_type is None else event.event_type
                print(f"{label}: {event.symbol} qty={event.net_quantity} entry={event.entry_price}")

        # Keys are read from BACKPACK_PUBLIC_KEY / BACKPACK_SECRET_KEY (environment or .env)
        # when the first account.* stream is subscribed.
        client = BackpackClient(
            url,
            rest_url=rest_url,
            streams=["account.orderUpdate", "account.positionUpdate"],
            on_message=on_message,
            on_error=lambda c, exc: print(f"error: {exc}"),
        )
        if args.seconds:
            threading.Timer(args.seconds, client.close).start()
        client.run_forever()


if __name__ == "__main__":
    main()
