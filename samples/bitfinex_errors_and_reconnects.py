"""Error handling and reconnection, made visible: a bad symbol, a server restart notice (20051)
and a dropped socket.

    python samples/bitfinex_errors_and_reconnects.py --sim               # simulator, scripted faults
    python samples/bitfinex_errors_and_reconnects.py --seconds 60        # the real exchange: a refused
                                                                         # symbol, then whatever happens
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from bpbfx import Backoff, BitfinexClient, BpbfxError, Event, SubscriptionError
from bpbfx.bitfinex.events import Info, Subscribed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", action="store_true", help="use the built-in simulator and inject the faults")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to watch the real exchange")
    args = parser.parse_args()

    subscribed = threading.Event()
    opened = threading.Event()  # set on every (re)connect
    done = threading.Event()

    def on_open(client: BitfinexClient) -> None:
        print("socket open")
        opened.set()

    def on_message(client: BitfinexClient, event: Event) -> None:
        if isinstance(event, Subscribed):
            print(f"subscribed {event.stream} as channel {event.chan_id}")
            subscribed.set()
        elif isinstance(event, Info):
            print(f"info: version={event.version} code={event.code} msg={event.msg}")

    def on_error(client: BitfinexClient, exc: BaseException) -> None:
        kind = "subscription refused" if isinstance(exc, SubscriptionError) else type(exc).__name__
        code = exc.code if isinstance(exc, BpbfxError) else None
        print(f"on_error: {kind} (code {code}): {exc}")

    with contextlib.ExitStack() as stack:
        url = None
        sim = None
        if args.sim:
            from bpbfx.sim import BitfinexSimulator

            sim = stack.enter_context(BitfinexSimulator())
            url = sim.url
        client = BitfinexClient(
            url,
            auth=False,
            on_message=on_message,
            on_error=on_error,
            on_open=on_open,
            on_close=lambda c, code, reason: print(f"socket closed: {reason}"),
            on_reconnect=lambda c, n: print(f"reconnecting, attempt {n}"),
            backoff=Backoff(initial=0.5, cap=10.0),
        )
        with client:
            client.subscribe("trades", symbol="tBTCUSD")
            client.subscribe("ticker", symbol="tNOSUCHPAIR")  # refused by the exchange: 10300
            client.wait_ready(10)
            if sim is not None:
                print("-- the server announces a restart (20051)")
                opened.clear()
                sim.send_info(20051)
                opened.wait(10)
                client.wait_ready(10)
                print("-- the socket drops")
                opened.clear()
                sim.drop_connections()
                opened.wait(10)
                client.wait_ready(10)
                stats = client.stats()
                print(f"-- recovered: {stats.reconnects} reconnects, {stats.errors} errors reported")
            else:
                done.wait(args.seconds)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted")
