"""An authenticated Bitfinex connection: wallets, orders and positions on channel 0, with keys
from a .env file (BITFINEX_API_KEY / BITFINEX_API_SECRET).

    cp samples/.env.example .env      # then put your keys in .env
    python samples/bitfinex_authenticated.py [--sim] [--seconds N]

With --sim the built-in simulator is started with a made-up account, so no real keys are needed.
Keys never appear in the output.
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from bpbfx import BitfinexClient, Event
from bpbfx.bitfinex.events import AuthResult

SIM_KEY, SIM_SECRET = "sim-api-key", "sim-api-secret"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", action="store_true", help="use the built-in simulator on 127.0.0.1")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        kwargs: dict[str, object] = {"auth": True}  # keys from the environment / .env
        if args.sim:
            from bpbfx.sim import BitfinexSimulator

            sim = stack.enter_context(BitfinexSimulator(accounts={SIM_KEY: SIM_SECRET}))
            kwargs = {"url": sim.url, "api_key": SIM_KEY, "api_secret": SIM_SECRET}

        def on_message(client: BitfinexClient, event: Event) -> None:
            if isinstance(event, AuthResult):
                print(f"auth {'OK' if event.ok else 'FAILED'} user={event.user_id}")
            elif event.stream == "account":
                print(f"{type(event).__name__}: {event.data}")

        client = BitfinexClient(
            on_message=on_message,
            on_error=lambda c, e: print(f"error: {e}"),
            on_reconnect=lambda c, n: print(f"reconnect attempt {n} (re-authenticating)"),
            **kwargs,  # type: ignore[arg-type]
        )
        if args.seconds:
            threading.Timer(args.seconds, client.close).start()
        client.run_forever()


if __name__ == "__main__":
    main()
